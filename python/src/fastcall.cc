// Copyright 2026 The tenantry Authors.
//
// The hot calls, `Engine.check` and `Engine.consume`, as CPython fast-call
// (METH_FASTCALL) methods: the arguments arrive as a C array, with no tuple,
// no dict and none of pybind11's overload dispatch (about 4x the cost of the
// call itself, docs/rules.md section 12). They parse exactly as the pybind11 methods
// do (convert.h), so the two faces cannot drift apart.
#include "fastcall.h"

#include "absl/strings/str_cat.h"
#include "convert.h"

namespace tenantry::python {
namespace {

// Binds fast-call arguments to `names`: at most `positional` given by
// position, the rest by keyword; the first `required` must be given.
// Unset optional slots stay nullptr.
bool BindArgs(const char* function, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
              const char* const* names, int count, int required, int positional, PyObject** out) {
  if (nargs > positional) {
    PyErr_Format(PyExc_TypeError, "%s() takes %d positional arguments but %zd were given", function,
                 positional, nargs);
    return false;
  }
  for (int i = 0; i < count; ++i) out[i] = i < nargs ? args[i] : nullptr;
  const Py_ssize_t keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < keywords; ++k) {
    PyObject* keyword = PyTuple_GET_ITEM(kwnames, k);
    int slot = -1;
    for (int i = 0; i < count && slot < 0; ++i) {
      if (PyUnicode_CompareWithASCIIString(keyword, names[i]) == 0) slot = i;
    }
    if (slot < 0) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", function,
                   keyword);
      return false;
    }
    if (out[slot] != nullptr) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", function,
                   names[slot]);
      return false;
    }
    out[slot] = args[nargs + k];
  }
  for (int i = 0; i < required; ++i) {
    if (out[i] == nullptr) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", function, names[i]);
      return false;
    }
  }
  return true;
}

// R4: check(..., at_least=position): waits (without the GIL, up to the
// engine's wait_timeout_ms) until the replica has applied `position`, then
// answers. Only calls that pass at_least come here: the positional fast
// path never tests for it. A lease keeps the engine while the GIL is out.
PyObject* CheckAtLeast(PyObject* self, PyObject* const* bound) {
  EngineHandle* handle = HandleOf(self, /*type_checked=*/true);
  if (handle == nullptr) return nullptr;
  uint64_t user = 0, workspace = 0;
  int64_t position = 0;
  PermissionId permission = 0;
  if (!ParseIdFast(bound[0], "user", &user) || !ParseIdFast(bound[1], "workspace", &workspace) ||
      !ParseAmount(bound[3], "at_least", &position)) {
    return nullptr;
  }
  const EngineLease lease(*handle);
  const int64_t timeout_ms = handle->wait_timeout_ms;
  const absl::Status reached = WithoutGil([&] { return lease->wait_for(position, timeout_ms); });
  if (!reached.ok()) {
    SetError(reached);
    return nullptr;
  }
  // A permission name after the wait: the change waited for may have
  // registered it.
  if (!ParsePermissionFast(*handle, bound[2], &permission)) return nullptr;
  PyObject* answer = lease->check(user, workspace, permission) ? Py_True : Py_False;
  Py_INCREF(answer);
  return answer;
}

PyObject* CheckUnguarded(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                         PyObject* kwnames) {
  static const char* const kNames[] = {"user", "workspace", "permission", "at_least"};
  PyObject* bound[4];
  if (kwnames == nullptr && nargs == 3) {
    bound[0] = args[0], bound[1] = args[1], bound[2] = args[2];
  } else {
    if (!BindArgs("check", args, nargs, kwnames, kNames, 4, 3, 3, bound)) return nullptr;
    if (bound[3] != nullptr && bound[3] != Py_None) return CheckAtLeast(self, bound);
  }
  EngineHandle* handle = HandleOf(self, /*type_checked=*/true);
  if (handle == nullptr) return nullptr;
  uint64_t user = 0, workspace = 0;
  PermissionId permission = 0;
  if (!ParseIdFast(bound[0], "user", &user) || !ParseIdFast(bound[1], "workspace", &workspace) ||
      !ParsePermissionFast(*handle, bound[2], &permission)) {
    return nullptr;
  }
  // No lease: from here to the answer no Python code runs (check is
  // lock-free and never calls the clock) and the GIL stays held, so a
  // close cannot begin in between (EngineNow). Nor is there a reason to
  // release the GIL for the ~20 ns it takes.
  const Engine* engine = handle->EngineNow();
  if (engine == nullptr) {
    SetError(EngineClosed());
    return nullptr;
  }
  PyObject* answer = engine->check(user, workspace, permission) ? Py_True : Py_False;
  Py_INCREF(answer);
  return answer;
}

// The engine returns statuses; only out-of-memory throws. A C++ exception
// must not unwind into the interpreter's C frames.
template <typename Body>
PyObject* Guarded(Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  } catch (py::error_already_set& e) {
    e.restore();  // keeps the Python error it carries
    return nullptr;
  } catch (const StatusError& e) {  // a closed engine's lease
    SetError(e.status());
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
}

// The engine's part of consume. Unkeyed consumes never wait (a refusal may
// try_lock the writer lock, never block on it), so they keep the GIL. With
// a journal they wait for its lock, and a keyed retry may wait for its
// first attempt on another thread; either holder may need the GIL (a
// Python clock): the GIL is released then. `key` points into a str the
// caller's frame keeps alive. WithoutGil takes the GIL back even when the
// engine throws (out of memory).
absl::StatusOr<int64_t> ConsumeIn(Engine& engine, uint64_t workspace, int64_t amount, MeterId meter,
                                  absl::string_view key) {
  if (key.empty() && !engine.has_journal()) return engine.consume(workspace, amount, meter);
  return WithoutGil([&] { return engine.consume(workspace, amount, meter, key); });
}

PyObject* ConsumeUnguarded(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) {
  static const char* const kNames[] = {"workspace", "amount", "meter", "key"};
  PyObject* bound[4] = {nullptr, nullptr, nullptr, nullptr};
  if (kwnames == nullptr && nargs == 2) {
    bound[0] = args[0], bound[1] = args[1];
  } else if (!BindArgs("consume", args, nargs, kwnames, kNames, 4, 2, 2, bound)) {
    return nullptr;
  }
  EngineHandle* handle = HandleOf(self, /*type_checked=*/true);
  if (handle == nullptr) return nullptr;
  uint64_t workspace = 0;
  int64_t amount = 0;
  MeterId meter = kCredits;
  absl::string_view key;
  uint64_t small_amount = 0;
  if (!ParseIdFast(bound[0], "workspace", &workspace)) return nullptr;
  if (SmallNonNegative(bound[1], &small_amount)) {
    amount = static_cast<int64_t>(small_amount);  // below 2^60: fits
  } else if (!ParseAmount(bound[1], "amount", &amount)) {
    return nullptr;
  }
  if (bound[2] != nullptr && !ParseMeter(*handle, bound[2], &meter)) return nullptr;
  if (bound[3] != nullptr && bound[3] != Py_None && !ParseString(bound[3], "key", &key)) {
    return nullptr;
  }
  if (InsideClock()) {
    // The clock runs under the engine's writer lock, which a consume may try.
    RefuseInsideClock("consume");
    return nullptr;
  }
  Engine* engine = handle->EngineNow();
  if (engine == nullptr) {
    SetError(EngineClosed());
    return nullptr;
  }
  absl::StatusOr<int64_t> available;
  if (key.empty() && !engine->has_journal() && handle->python_clock == nullptr) {
    // The hot case runs no Python code and keeps the GIL from EngineNow to
    // the answer (a C++ clock, nothing released), so a close cannot begin
    // in between: no lease, as in check (a lease's two atomic counts cost
    // about a fifth of the call).
    available = engine->consume(workspace, amount, meter);
  } else {
    // A Python clock (on a refusal that releases expired holds) or a
    // released GIL lets another thread run: a lease keeps the engine.
    const EngineLease lease(*handle);
    available = ConsumeIn(*lease, workspace, amount, meter, key);
  }
  if (!available.ok()) {
    SetError(available.status());
    return nullptr;
  }
  return PyLong_FromLongLong(*available);
}

PyObject* Check(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&] { return CheckUnguarded(self, args, nargs, kwnames); });
}

PyObject* Consume(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&] { return ConsumeUnguarded(self, args, nargs, kwnames); });
}

// The floor docs/rules.md section 12 measures `check` against: a C method taking the
// same three arguments through the same fast-call convention, doing nothing.
PyObject* NoopCheck(PyObject* /*self*/, PyObject* const* /*args*/, Py_ssize_t nargs,
                    PyObject* kwnames) {
  if (nargs != 3 || kwnames != nullptr) {
    PyErr_SetString(PyExc_TypeError, "_noop_check() takes exactly 3 positional arguments");
    return nullptr;
  }
  Py_RETURN_FALSE;
}

PyMethodDef kMethods[] = {
    {"check", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Check)),
     METH_FASTCALL | METH_KEYWORDS,
     "check($self, user, workspace, permission, *, at_least=None)\n--\n\n"
     "True when the user holds the permission in the workspace (A1-A3).\n\n"
     "Lock-free; unknown ids deny. `permission` is a name or an interned id\n"
     "from Engine.permission(name); an unknown name raises NotFound.\n"
     "With at_least (R4), first waits until a replica has applied that\n"
     "position (DeadlineExceeded after the engine's wait_timeout_ms)."},
    {"consume", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Consume)),
     METH_FASTCALL | METH_KEYWORDS,
     "consume($self, workspace, amount, *, meter='credits', key=None)\n--\n\n"
     "Debits `amount`, regular bucket first, in one atomic step (C5) and\n"
     "returns what is available after. ResourceExhausted, nothing debited,\n"
     "when the buckets hold less. With `key`, a retry inside the idempotency\n"
     "window returns the first result without a second debit."},
    {"_noop_check", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(NoopCheck)),
     METH_FASTCALL | METH_KEYWORDS,
     "_noop_check($self, user, workspace, permission, /)\n--\n\n"
     "Does nothing: the benchmark's floor for a C method taking check's arguments."},
};

PyObject* NoopFunction(PyObject* /*module*/, PyObject* const* /*args*/, Py_ssize_t nargs) {
  if (nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "_noop() takes exactly 3 arguments");
    return nullptr;
  }
  Py_RETURN_FALSE;
}

PyMethodDef kNoopFunction = {
    "_noop", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(NoopFunction)),
    METH_FASTCALL,
    "_noop(a, b, c, /)\n--\n\nDoes nothing: a plain fast-call function, for the benchmark."};

}  // namespace

void AddFastCalls(py::module_& module, py::handle engine_class) {
  auto* type = reinterpret_cast<PyTypeObject*>(engine_class.ptr());
  for (PyMethodDef& method : kMethods) {
    py::object descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, &method));
    if (!descriptor) throw py::error_already_set();
    if (PyObject_SetAttrString(engine_class.ptr(), method.ml_name, descriptor.ptr()) != 0) {
      throw py::error_already_set();
    }
  }
  py::object noop = py::reinterpret_steal<py::object>(
      PyCFunction_NewEx(&kNoopFunction, nullptr, module.attr("__name__").ptr()));
  if (!noop) throw py::error_already_set();
  module.add_object("_noop", noop);
}

}  // namespace tenantry::python
