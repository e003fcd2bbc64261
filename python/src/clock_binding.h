// Copyright 2026 The tenantry Authors.
#ifndef TENANTRY_PYTHON_CLOCK_BINDING_H_
#define TENANTRY_PYTHON_CLOCK_BINDING_H_

#include <atomic>
#include <memory>

#include "convert.h"
#include "tenantry/clock.h"

namespace tenantry::python {

// Defines tenantry._core.ManualClock: the engine's ManualClock (I4), read
// by the engine without the GIL.
void BindClock(pybind11::module_& module);

// A Python callable as the engine's clock. The engine may call it from any
// thread, with or without the GIL, and while holding its writer lock (the
// bindings release the GIL around every call that may wait for that lock,
// so taking the GIL here cannot deadlock; a clock that calls back into a
// change is refused, see WithoutGil). A clock that raises or returns
// something other than an int64 is reported through sys.unraisablehook and
// the last good time is used: the engine cannot take an error from a clock.
class PythonClock final : public Clock {
 public:
  PythonClock(pybind11::object callable, int64_t first_ns);
  ~PythonClock() override;
  int64_t now_ns() const override;

  // The garbage collector's view (tp_traverse, tp_clear of the Engine).
  int Visit(visitproc visit, void* arg) const;
  // Drops the callable (the clock then keeps its last time). Needs the GIL.
  void Clear();

 private:
  pybind11::object callable_;
  mutable std::atomic<int64_t> last_ns_;
};

struct ClockChoice {
  std::shared_ptr<const Clock> clock;  // nullptr: the system clock
  PythonClock* python = nullptr;       // set when `clock` is a PythonClock
};

// The clock an Engine is built with: None (the system clock), a
// ManualClock, or any callable returning nanoseconds since the Unix epoch
// as an int (time.time_ns, for one): called once here, and what it raises
// propagates; TypeError for a non-callable or a non-int result,
// InvalidArgument for an int outside int64.
ClockChoice ClockArg(pybind11::handle clock);

}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_CLOCK_BINDING_H_
