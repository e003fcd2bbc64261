// Copyright 2026 The tenantry Authors.
#ifndef TENANTRY_PYTHON_CLOCK_BINDING_H_
#define TENANTRY_PYTHON_CLOCK_BINDING_H_

#include <memory>

#include "convert.h"
#include "tenantry/clock.h"

namespace tenantry::python {

// Defines tenantry._core.ManualClock: the engine's ManualClock (I4), read
// by the engine without the GIL.
void BindClock(pybind11::module_& module);

// The clock an Engine is built with: None (the system clock: nullptr), a
// ManualClock, or any callable returning nanoseconds since the Unix epoch
// as an int (time.time_ns, for one). TypeError otherwise.
std::shared_ptr<const Clock> ClockArg(pybind11::handle clock);

}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_CLOCK_BINDING_H_
