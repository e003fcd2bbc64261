// Copyright 2026 The tenantry Authors.
#ifndef TENANTRY_PYTHON_FASTCALL_H_
#define TENANTRY_PYTHON_FASTCALL_H_

#include "pybind11/pybind11.h"

namespace tenantry::python {

// Installs the fast-call methods `check`, `consume` and the benchmark floor
// `_noop_check` on the pybind11 class `engine_class` (tenantry._core.Engine),
// and the plain fast-call function `_noop` in `module`.
void AddFastCalls(pybind11::module_& module, pybind11::handle engine_class);

}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_FASTCALL_H_
