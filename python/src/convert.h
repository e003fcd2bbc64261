// Copyright 2026 The tenantry Authors.
//
// The conversions of the Python module `tenantry._core`: Python values to
// engine arguments, and absl::Status to Python exceptions. Every binding
// (the pybind11 methods and the fast-call entry points alike) goes through
// these, so an id, a permission or a status means the same everywhere.
//
// All functions here need the GIL.
#ifndef TENANTRY_PYTHON_CONVERT_H_
#define TENANTRY_PYTHON_CONVERT_H_

#include <Python.h>

#ifdef __GLIBCXX__
#include <cxxabi.h>
#endif

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine_handle.h"
#include "pybind11/pybind11.h"
#include "tenantry/engine.h"

namespace tenantry::python {

namespace py = pybind11;

// A failed engine call on its way to Python: thrown inside pybind11
// bindings, translated by the one translator `RegisterErrors` installs.
class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status) : status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return "tenantry status"; }

 private:
  absl::Status status_;
};

// Creates tenantry.Error and one subclass per status code (docs/rules.md, section
// 10) as attributes of `module`, and installs the translator from
// StatusError. Called once, from module init.
void RegisterErrors(py::module_& module);

// Sets the Python error for a failed status: the class of its code, the
// message, and the attributes `code` ("not_found"), `rules` (("C5", "C6"),
// from the status's payload: tenantry/status.h) and `rule` ("C5, C6" or None).
void SetError(const absl::Status& status);

inline void ThrowIfError(absl::Status status) {
  if (!status.ok()) throw StatusError(std::move(status));
}
template <typename T>
T ValueOrThrow(absl::StatusOr<T> result) {
  if (!result.ok()) throw StatusError(std::move(result).status());
  return *std::move(result);
}

// An id argument (user, workspace, account, team, invitation, reservation):
// a Python int in [0, 2^64). Not a bool. Sets TypeError for other types and
// tenantry.InvalidArgument for ints out of range; returns false then.
bool ParseId(PyObject* value, const char* what, uint64_t* out);
// The common case of an id or amount, inline: an exact, non-negative int of
// at most two 30-bit digits (below 2^60; on 3.12+ a compact int) read
// straight from the object, with no call into the interpreter (the
// fast-call `check` spends its budget on the engine). False, with no error
// set, for anything else.
inline bool SmallNonNegative(PyObject* value, uint64_t* out) {
#if PY_VERSION_HEX >= 0x030C0000
  if (PyLong_CheckExact(value) &&
      PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(value))) {
    const Py_ssize_t number = PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(value));
    if (number >= 0) {
      *out = static_cast<uint64_t>(number);
      return true;
    }
  }
#else
  if (PyLong_CheckExact(value)) {
    const digit* digits = reinterpret_cast<PyLongObject*>(value)->ob_digit;
    switch (Py_SIZE(value)) {
      case 0:
        *out = 0;
        return true;
      case 1:
        *out = digits[0];
        return true;
      case 2:
        *out = digits[0] | (uint64_t{digits[1]} << PyLong_SHIFT);
        return true;
      default:
        break;
    }
  }
#endif
  return false;
}

inline bool ParseIdFast(PyObject* value, const char* what, uint64_t* out) {
  return SmallNonNegative(value, out) || ParseId(value, what, out);
}

// An amount: a Python int in [-2^63, 2^63) (the engine refuses the ones its
// rules forbid). Same errors as ParseId.
bool ParseAmount(PyObject* value, const char* what, int64_t* out);
// A UTF-8 view of a str (valid while `value` lives). TypeError otherwise.
bool ParseString(PyObject* value, const char* what, absl::string_view* out);

// The EngineHandle of `self` when it is a constructed tenantry._core.Engine
// (or subclass); otherwise nullptr with RuntimeError or TypeError set. An
// instance made by __new__ alone, whose __init__ never ran, is refused.
// `type_checked`: the caller (a method descriptor) has already checked that
// `self` is an instance of the type.
EngineHandle* HandleOf(PyObject* self, bool type_checked = false);
// Not pybind11's simple layout: several pybind11 bases, or a layout not
// allocated yet. The Engine part found by its type (never the first base),
// or nullptr when there is none or it is not constructed. Sets no error,
// allocates nothing and runs no Python: the garbage collector calls it
// (tp_traverse) at any allocation, even inside pybind11's own set-up of the
// instance (see ConstructedHandle).
EngineHandle* SearchHandle(PyObject* self);
// The constructed EngineHandle of an instance of the Engine type, or
// nullptr; sets no error. One pybind11 base (the usual case, subclasses
// included) is pybind11's simple layout: the value pointer and the holder
// flag are in the instance, read inline.
//
// Also called by tp_traverse and tp_clear, so it must accept an instance in
// every state the collector can see: pybind11 allocates an instance with
// tp_alloc (zeroed, and already tracked by the collector, the type having
// Py_TPFLAGS_HAVE_GC) and only then lays out its values and holders; on the
// first instance of a type that lay-out creates a weak reference (pybind11's
// type cache), which may start a collection. Until then `simple_layout` is
// false and the non-simple pointers are null: SearchHandle says "not
// constructed". (Teardown is the Engine type's tp_dealloc, which stops the
// tracking first: engine_binding.cc.)
inline EngineHandle* ConstructedHandle(PyObject* self) {
  auto* instance = reinterpret_cast<pybind11::detail::instance*>(self);
  if (!instance->simple_layout) return SearchHandle(self);
  if (!instance->simple_holder_constructed) return nullptr;
  return static_cast<EngineHandle*>(instance->simple_value_holder[0]);
}
// Called once by module init with the pybind11 type of EngineHandle.
void SetEngineType(pybind11::handle type);

// Set while this thread runs a Python clock for the engine: the engine holds
// its writer lock then, so the clock must not call back into a change.
bool InsideClock();
void SetInsideClock(bool inside);
// Sets RuntimeError for a call made from inside a Python clock that the
// engine cannot take there (`what`: "consume" ...). Returns false.
bool RefuseInsideClock(const char* what);

// fork (docs/concurrency.md): a fork takes every engine's locks first, and
// waits for the holders. A holder may need the GIL (a Python clock, called
// under the writer lock), which the thread calling os.fork holds. So
// tenantry's os.register_at_fork hook (RegisterForkHooks) first lets every
// engine call running without the GIL finish, with the GIL released, and
// holds new ones back until the fork is done. WithoutGil enters and leaves
// that gate (an atomic counter: no lock unless a fork is being prepared).
void EnterForkGate();
void LeaveForkGate();
void RegisterForkHooks();

// Runs `call` (an engine call returning a Status or StatusOr) without the
// GIL. Not an RAII guard: at interpreter exit CPython ends a daemon thread
// inside PyEval_RestoreThread, which must not happen in a noexcept
// destructor. Refuses (RuntimeError) when called from inside a Python clock,
// where the engine's writer lock is held and the call could wait on it forever.
template <typename Call>
auto WithoutGil(Call&& call) -> decltype(call()) {
  if (InsideClock()) {
    RefuseInsideClock("the engine's changes or waiting reads");
    throw py::error_already_set();
  }
  PyThreadState* state = PyEval_SaveThread();
  EnterForkGate();
  decltype(call()) result;
  std::exception_ptr error;
  try {
    result = call();
#ifdef __GLIBCXX__
  } catch (abi::__forced_unwind&) {
    // A Python clock called at interpreter exit ends this daemon thread
    // (pthread_exit unwinds it); let the unwinding go on.
    LeaveForkGate();
    throw;
#endif
  } catch (...) {  // out of memory: rethrown once the GIL is back
    error = std::current_exception();
  }
  LeaveForkGate();
  // Outside any try: at exit this may end the thread by unwinding.
  PyEval_RestoreThread(state);
  if (error) std::rethrow_exception(error);
  return result;
}

// `self` in the pybind11 methods of tenantry._core.Engine: a lease on its
// engine (engine_handle.h), taken when pybind11 calls the method, after
// every argument is converted. The instance is checked by HandleOf first,
// so a method of an instance whose __init__ never ran raises instead of
// touching memory pybind11 would hand out uninitialized; a closed engine
// raises FailedPrecondition.
using Self = EngineLease;

// A permission argument: an interned id (an int) or a name (a str; NotFound
// when the name is unknown; EngineClosed() once the engine is closed).
// Returns false with a Python error set.
bool ParsePermission(EngineHandle& handle, PyObject* value, PermissionId* out);
// ParsePermission with an interned id (the hot case) decided inline.
inline bool ParsePermissionFast(EngineHandle& handle, PyObject* value, PermissionId* out) {
  uint64_t id = 0;
  if (SmallNonNegative(value, &id) && id <= UINT32_MAX) {
    *out = static_cast<PermissionId>(id);
    return true;
  }
  return ParsePermission(handle, value, out);
}
// A meter argument: an id (int) or a name (str; NotFound when unknown;
// EngineClosed() once the engine is closed).
bool ParseMeter(EngineHandle& handle, PyObject* value, MeterId* out);

// The same parsers for pybind11 bindings: they throw instead of returning false.
PermissionId PermissionArg(const EngineLease& engine, py::handle value);
MeterId MeterArg(const EngineLease& engine, py::handle value);

}  // namespace tenantry::python

namespace pybind11::detail {

// `Self`: the caster keeps the checked handle, and hands pybind11 a new
// lease when it calls the method (cast_op), built in the parameter itself
// (a prvalue: the lease is never copied or moved).
template <>
class type_caster<tenantry::python::EngineLease> {
 public:
  static constexpr auto name = const_name("Engine");
  template <typename>
  using cast_op_type = tenantry::python::EngineLease;

  bool load(handle src, bool /*convert*/) {
    handle_ = tenantry::python::HandleOf(src.ptr());
    if (handle_ == nullptr) throw error_already_set();
    return true;
  }
  explicit operator tenantry::python::EngineLease() {
    return tenantry::python::EngineLease(*handle_);
  }

 private:
  tenantry::python::EngineHandle* handle_ = nullptr;
};

// Ids and amounts in pybind11 signatures: the same rules as ParseId and
// ParseAmount (an out-of-range int is tenantry.InvalidArgument, not a
// confusing "incompatible function arguments"; a float, None, a str or a
// bool is a TypeError). `IdOf<"workspace">` names its parameter, so that
// the error says which argument is wrong ("workspace must be an int, not
// float"); it converts to the unnamed IdArg the argument helpers take.
struct IdArg {
  uint64_t value = 0;
};
struct AmountArg {
  int64_t value = 0;
};

}  // namespace pybind11::detail

namespace tenantry::python {

// A parameter name as a template argument: IdOf<"user">.
template <size_t N>
struct ArgName {
  // NOLINTNEXTLINE(google-explicit-constructor): built from a string literal
  constexpr ArgName(const char (&text)[N]) {
    for (size_t i = 0; i < N; ++i) name[i] = text[i];
  }
  char name[N] = {};
};

template <ArgName Name>
struct IdOf : pybind11::detail::IdArg {};
template <ArgName Name>
struct AmountOf : pybind11::detail::AmountArg {};

}  // namespace tenantry::python

namespace pybind11::detail {

template <tenantry::python::ArgName Name>
struct type_caster<tenantry::python::IdOf<Name>> {
  PYBIND11_TYPE_CASTER(tenantry::python::IdOf<Name>, const_name("int"));
  bool load(handle src, bool /*convert*/) {
    if (!tenantry::python::ParseId(src.ptr(), Name.name, &value.value)) {
      throw error_already_set();
    }
    return true;
  }
  static handle cast(const tenantry::python::IdOf<Name>& id, return_value_policy, handle) {
    return PyLong_FromUnsignedLongLong(id.value);
  }
};

template <tenantry::python::ArgName Name>
struct type_caster<tenantry::python::AmountOf<Name>> {
  PYBIND11_TYPE_CASTER(tenantry::python::AmountOf<Name>, const_name("int"));
  bool load(handle src, bool /*convert*/) {
    if (!tenantry::python::ParseAmount(src.ptr(), Name.name, &value.value)) {
      throw error_already_set();
    }
    return true;
  }
  static handle cast(const tenantry::python::AmountOf<Name>& amount, return_value_policy, handle) {
    return PyLong_FromLongLong(amount.value);
  }
};

// The unnamed forms, for a binding that has no better name to give.
template <>
struct type_caster<IdArg> {
  PYBIND11_TYPE_CASTER(IdArg, const_name("int"));
  bool load(handle src, bool /*convert*/) {
    if (!tenantry::python::ParseId(src.ptr(), "id", &value.value)) throw error_already_set();
    return true;
  }
  static handle cast(IdArg id, return_value_policy, handle) {
    return PyLong_FromUnsignedLongLong(id.value);
  }
};
template <>
struct type_caster<AmountArg> {
  PYBIND11_TYPE_CASTER(AmountArg, const_name("int"));
  bool load(handle src, bool /*convert*/) {
    if (!tenantry::python::ParseAmount(src.ptr(), "amount", &value.value)) {
      throw error_already_set();
    }
    return true;
  }
  static handle cast(AmountArg amount, return_value_policy, handle) {
    return PyLong_FromLongLong(amount.value);
  }
};

}  // namespace pybind11::detail

namespace tenantry::python {
// The unnamed forms, taken by the argument helpers (arguments.h).
using Id = pybind11::detail::IdArg;
using Amount = pybind11::detail::AmountArg;
}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_CONVERT_H_
