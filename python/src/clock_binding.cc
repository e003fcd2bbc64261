// Copyright 2026 The tenantry Authors.
#include "clock_binding.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tenantry/status.h"

namespace tenantry::python {

PythonClock::PythonClock(py::object callable, int64_t first_ns)
    : callable_(std::move(callable)), last_ns_(first_ns) {}

PythonClock::~PythonClock() {
  if (!Py_IsInitialized()) {
    callable_.release();  // the interpreter is gone; so is the object
    return;
  }
  PyGILState_STATE gil = PyGILState_Ensure();
  callable_ = py::object();
  PyGILState_Release(gil);
}

int64_t PythonClock::now_ns() const {
  PyGILState_STATE gil = PyGILState_Ensure();
  int64_t now = last_ns_.load(std::memory_order_relaxed);
  // A reference of its own for the call: while it runs, Python code (a
  // collection's tp_clear of the engine, for one) may drop callable_.
  py::object callable = callable_;
  if (callable) {
    const bool was_inside = InsideClock();
    SetInsideClock(true);
    PyObject* result = PyObject_CallNoArgs(callable.ptr());
    SetInsideClock(was_inside);
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
      PyErr_WriteUnraisable(callable.ptr());
    } else {
      last_ns_.store(now, std::memory_order_relaxed);
    }
  }
  callable = py::object();  // dropped with the GIL held
  PyGILState_Release(gil);
  return now;
}

int PythonClock::Visit(visitproc visit, void* arg) const {
  Py_VISIT(callable_.ptr());
  return 0;
}

void PythonClock::Clear() { callable_ = py::object(); }

namespace {

// ManualClock moves are checked: a time outside int64 is InvalidArgument,
// never a wrap (I4).
int64_t Moved(int64_t now_ns, int64_t delta_ns) {
  int64_t moved = 0;
  if (__builtin_add_overflow(now_ns, delta_ns, &moved)) {
    throw StatusError(Refusal(absl::StatusCode::kInvalidArgument, {"I4"},
                              absl::StrCat("ManualClock at ", now_ns, " ns cannot move by ",
                                           delta_ns, " ns: the time would leave int64")));
  }
  return moved;
}

int64_t Seconds(int64_t delta_s) {
  int64_t delta_ns = 0;
  if (__builtin_mul_overflow(delta_s, int64_t{1'000'000'000}, &delta_ns)) {
    throw StatusError(
        Refusal(absl::StatusCode::kInvalidArgument, {"I4"},
                absl::StrCat("ManualClock cannot move by ", delta_s, " s: past int64 ns")));
  }
  return delta_ns;
}

}  // namespace

void BindClock(py::module_& module) {
  py::class_<ManualClock, std::shared_ptr<ManualClock>>(
      module, "ManualClock",
      "A clock that moves only when told to (I4): for tests, simulations and demos.\n"
      "Time is in nanoseconds since the Unix epoch. Calling it returns the time, so\n"
      "it is also a callable clock. Thread-safe.")
      // Times are ints (never a bool or a float), with the errors of any
      // tenantry amount, naming the argument.
      .def(py::init([](AmountOf<"start_ns"> start_ns) {
             return std::make_shared<ManualClock>(start_ns.value);
           }),
           py::arg("start_ns") = int64_t{1'700'000'000'000'000'000})
      .def("now_ns", &ManualClock::now_ns, "The current time in ns.")
      .def("__call__", &ManualClock::now_ns, "The current time in ns.")
      .def(
          "set_ns",
          [](ManualClock& clock, AmountOf<"now_ns"> now_ns) { clock.set_ns(now_ns.value); },
          py::arg("now_ns"), "Sets the time.")
      .def(
          "advance_ns",
          [](ManualClock& clock, AmountOf<"delta_ns"> delta_ns) {
            clock.set_ns(Moved(clock.now_ns(), delta_ns.value));
          },
          py::arg("delta_ns"), "Moves the time forward (or back) by delta_ns.")
      .def(
          "advance_s",
          [](ManualClock& clock, AmountOf<"delta_s"> delta_s) {
            clock.set_ns(Moved(clock.now_ns(), Seconds(delta_s.value)));
          },
          py::arg("delta_s"), "Moves the time forward (or back) by delta_s seconds.")
      .def("__repr__", [](const ManualClock& clock) {
        return "ManualClock(start_ns=" + std::to_string(clock.now_ns()) + ")";
      });
}

ClockChoice ClockArg(py::handle clock) {
  if (clock.is_none()) return {};
  if (py::isinstance<ManualClock>(clock)) {
    return {clock.cast<std::shared_ptr<ManualClock>>(), nullptr};
  }
  if (!PyCallable_Check(clock.ptr())) {
    throw py::type_error("clock must be None, a tenantry.ManualClock or a callable returning ns");
  }
  py::object first = clock();
  if (!PyLong_Check(first.ptr()) || PyBool_Check(first.ptr())) {
    throw py::type_error("a tenantry clock must return an int of nanoseconds since the epoch");
  }
  int64_t first_ns = 0;
  if (!ParseAmount(first.ptr(), "the clock's time (ns)", &first_ns)) throw py::error_already_set();
  auto python = std::make_shared<PythonClock>(py::reinterpret_borrow<py::object>(clock), first_ns);
  PythonClock* raw = python.get();
  return {std::move(python), raw};
}

}  // namespace tenantry::python
