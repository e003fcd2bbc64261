// Copyright 2026 The tenantry Authors.
//
// tenantry._core: the compiled half of the Python package. Everything
// Pythonic (value types, defaults, documentation) lives in the package
// `tenantry`; this module converts types and raises the errors.
#include "clock_binding.h"
#include "convert.h"
#include "engine_binding.h"
#include "fastcall.h"

PYBIND11_MODULE(_core, module) {
  namespace python = tenantry::python;
  module.doc() = "tenantry's compiled core; import tenantry instead.";
  // The one place the exception hierarchy is created and mapped (docs/rules.md, section 10).
  python::RegisterErrors(module);
  module.attr("SYSTEM") = pybind11::int_(tenantry::kSystem);
  python::BindClock(module);
  pybind11::class_<python::EngineHandle> engine = python::BindEngine(module);
  python::AddFastCalls(module, engine);
  python::BindBatch(module);
  python::BindJournalRepair(module);
  // fork() while threads call the engine (docs/concurrency.md).
  python::RegisterForkHooks();
}
