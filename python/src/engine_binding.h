// Copyright 2026 The tenantry Authors.
#ifndef TENANTRY_PYTHON_ENGINE_BINDING_H_
#define TENANTRY_PYTHON_ENGINE_BINDING_H_

#include "convert.h"

namespace tenantry::python {

// Defines tenantry._core.Engine (every method but the fast-call ones) and
// returns the class, so that module init can add those.
pybind11::class_<EngineHandle> BindEngine(pybind11::module_& module);
// Defines tenantry._core.Batch (X2): the Engine's changes, queued.
void BindBatch(pybind11::module_& module);
// Defines tenantry._core._repair_journal (P3, docs/persistence.md).
void BindJournalRepair(pybind11::module_& module);

}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_ENGINE_BINDING_H_
