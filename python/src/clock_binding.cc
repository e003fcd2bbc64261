// Copyright 2026 The tenantry Authors.
#include "clock_binding.h"

#include <atomic>
#include <utility>

namespace tenantry::python {
namespace {

// A Python callable as the engine's clock. The engine may call it from any
// thread, with or without the GIL (and while holding its writer lock: the
// bindings release the GIL around every call that may wait for that lock,
// so taking the GIL here cannot deadlock). A clock that raises or returns
// something other than an int is reported through sys.unraisablehook and
// the last good time is used: the engine cannot take an error from a clock.
class PythonClock final : public Clock {
 public:
  PythonClock(py::object callable, int64_t first_ns)
      : callable_(std::move(callable)), last_ns_(first_ns) {}

  ~PythonClock() override {
    if (!Py_IsInitialized()) {
      callable_.release();  // the interpreter is gone; so is the object
      return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    callable_ = py::object();
    PyGILState_Release(gil);
  }

  int64_t now_ns() const override {
    PyGILState_STATE gil = PyGILState_Ensure();
    int64_t now = last_ns_.load(std::memory_order_relaxed);
    PyObject* result = PyObject_CallNoArgs(callable_.ptr());
    if (result != nullptr && PyLong_Check(result) && !PyBool_Check(result)) {
      const long long value = PyLong_AsLongLong(result);
      if (!(value == -1 && PyErr_Occurred())) now = value;
    } else if (result != nullptr) {
      PyErr_Format(PyExc_TypeError,
                   "a tenantry clock must return an int of nanoseconds, not %.100s",
                   Py_TYPE(result)->tp_name);
    }
    Py_XDECREF(result);
    if (PyErr_Occurred()) {
      PyErr_WriteUnraisable(callable_.ptr());
    } else {
      last_ns_.store(now, std::memory_order_relaxed);
    }
    PyGILState_Release(gil);
    return now;
  }

 private:
  py::object callable_;
  mutable std::atomic<int64_t> last_ns_;
};

}  // namespace

void BindClock(py::module_& module) {
  py::class_<ManualClock, std::shared_ptr<ManualClock>>(
      module, "ManualClock",
      "A clock that moves only when told to (I4): for tests, simulations and demos.\n"
      "Time is in nanoseconds since the Unix epoch. Calling it returns the time, so\n"
      "it is also a callable clock. Thread-safe.")
      .def(py::init<int64_t>(), py::arg("start_ns") = int64_t{1'700'000'000'000'000'000})
      .def("now_ns", &ManualClock::now_ns, "The current time in ns.")
      .def("__call__", &ManualClock::now_ns, "The current time in ns.")
      .def("set_ns", &ManualClock::set_ns, py::arg("now_ns"), "Sets the time.")
      .def("advance_ns", &ManualClock::advance_ns, py::arg("delta_ns"),
           "Moves the time forward (or back) by delta_ns.")
      .def("advance_s", &ManualClock::advance_s, py::arg("delta_s"),
           "Moves the time forward (or back) by delta_s seconds.")
      .def("__repr__", [](const ManualClock& clock) {
        return "ManualClock(start_ns=" + std::to_string(clock.now_ns()) + ")";
      });
}

std::shared_ptr<const Clock> ClockArg(py::handle clock) {
  if (clock.is_none()) return nullptr;
  if (py::isinstance<ManualClock>(clock)) return clock.cast<std::shared_ptr<ManualClock>>();
  if (!PyCallable_Check(clock.ptr())) {
    throw py::type_error("clock must be None, a tenantry.ManualClock or a callable returning ns");
  }
  py::object first = clock();
  if (!PyLong_Check(first.ptr()) || PyBool_Check(first.ptr())) {
    throw py::type_error("a tenantry clock must return an int of nanoseconds since the epoch");
  }
  return std::make_shared<PythonClock>(py::reinterpret_borrow<py::object>(clock),
                                       first.cast<int64_t>());
}

}  // namespace tenantry::python
