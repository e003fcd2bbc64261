// Copyright 2026 The tenantry Authors.
#include "convert.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tenantry/status.h"

namespace tenantry::python {
namespace {

// One row per status code the engine returns (docs/rules.md, section 10). The Python
// classes are created in this order by RegisterErrors; every other code
// (internal, unknown ...) raises the base class tenantry.Error.
// The `code` attribute is the code's name (tenantry::StatusCodeName).
struct ErrorClass {
  absl::StatusCode code;
  const char* name;      // the class name under `tenantry.`
  PyObject* extra_base;  // a builtin it also derives from, so that `except ValueError` works
  const char* doc;
};

PyObject* error_base = nullptr;  // tenantry.Error; owned by the module
std::array<PyObject*, 9> error_classes{};

std::array<ErrorClass, 9> ErrorTable() {
  return {{
      {absl::StatusCode::kInvalidArgument, "InvalidArgument", PyExc_ValueError,
       "An argument breaks a rule (T3, T6 ...): a malformed slug, name or amount."},
      {absl::StatusCode::kNotFound, "NotFound", PyExc_LookupError,
       "An id, name, key or token that does not exist."},
      {absl::StatusCode::kAlreadyExists, "AlreadyExists", nullptr,
       "A slug, key, member or name that is taken."},
      {absl::StatusCode::kPermissionDenied, "PermissionDenied", nullptr,
       "The actor lacks the permission the change needs (M10)."},
      {absl::StatusCode::kFailedPrecondition, "FailedPrecondition", nullptr,
       "The state forbids the change: the only workspace, an inactive workspace, an expired "
       "invitation ..."},
      {absl::StatusCode::kResourceExhausted, "ResourceExhausted", nullptr,
       "A plan limit or insufficient credits."},
      {absl::StatusCode::kDataLoss, "DataLoss", nullptr,
       "A broken invariant, or a damaged snapshot or journal; a replica's log that went "
       "backwards or changed (R7)."},
      {absl::StatusCode::kUnavailable, "Unavailable", nullptr,
       "A replica's database could not be reached, or not in time (R7): the change's outcome "
       "is unknown. `change_id` is its id: retried with it (Engine.apply(batch, "
       "change_id=...)), the change is applied at most once."},
      {absl::StatusCode::kDeadlineExceeded, "DeadlineExceeded", PyExc_TimeoutError,
       "A wait for a log position ran out (R4): the message names the position waited for and "
       "the replica's."},
  }};
}

bool RangeError(PyObject* value, const char* what, const char* range) {
  PyErr_Clear();
  // The value itself when it prints (a huge int may not: CPython limits
  // int-to-str conversion, and a subclass's __repr__ may raise).
  std::string shown = PyLong_Check(value)
                          ? "an int of " + std::to_string(_PyLong_NumBits(value)) + " bits"
                          : "an out-of-range integer";
  if (PyObject* text = PyObject_Repr(value)) {
    if (const char* utf8 = PyUnicode_AsUTF8(text)) shown = utf8;
    Py_DECREF(text);
  }
  PyErr_Clear();
  SetError(absl::InvalidArgumentError(
      absl::StrCat(what, " must be an int in ", range, "; got ", shown)));
  return false;
}

bool TypeErrorFor(PyObject* value, const char* what, const char* expected) {
  PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", what, expected,
               Py_TYPE(value)->tp_name);
  return false;
}

PyTypeObject* engine_type = nullptr;
// pybind11's record of the Engine type, found once at module init (the
// type is registered then, so the lookup allocates nothing).
const py::detail::type_info* engine_info = nullptr;
thread_local bool inside_clock = false;

}  // namespace

void SetEngineType(py::handle type) {
  engine_type = reinterpret_cast<PyTypeObject*>(type.ptr());
  engine_info = py::detail::get_type_info(engine_type);
}

bool InsideClock() { return inside_clock; }
void SetInsideClock(bool inside) { inside_clock = inside; }

bool RefuseInsideClock(const char* what) {
  PyErr_Format(PyExc_RuntimeError,
               "a tenantry clock must not call back into %s: the engine calls its clock while "
               "holding its writer lock",
               what);
  return false;
}

// ---- The fork gate (convert.h) ----

namespace {

struct ForkGate {
  // Engine calls running without the GIL (and calls about to learn that a
  // fork is being prepared).
  std::atomic<int64_t> inside{0};
  // Set by the before-fork hook until the fork is done.
  std::atomic<bool> forking{false};
  // The hook waits on `cv` for inside == 0, and holds `mu` across the fork;
  // held-back calls wait on `cv` for !forking.
  std::mutex mu;
  std::condition_variable cv;
};

// Never destroyed: daemon threads may still call in during finalization.
ForkGate& Gate() {
  static ForkGate* const gate = new ForkGate;
  return *gate;
}

void ForkGateBefore() {
  ForkGate& gate = Gate();
  // seq_cst, as the counter in EnterForkGate: either a call sees `forking`
  // and backs out, or this hook sees it inside and waits for it.
  gate.forking.store(true, std::memory_order_seq_cst);
  PyThreadState* state = PyEval_SaveThread();
  gate.mu.lock();
  {
    std::unique_lock<std::mutex> lock(gate.mu, std::adopt_lock);
    gate.cv.wait(lock, [&gate] { return gate.inside.load(std::memory_order_seq_cst) == 0; });
    lock.release();  // still held: across the fork, until an after-fork hook
  }
  PyEval_RestoreThread(state);
}

void ForkGateAfter(bool parent) {
  ForkGate& gate = Gate();
  gate.forking.store(false, std::memory_order_seq_cst);
  if (parent) {
    gate.cv.notify_all();  // the held-back calls go on
  } else {
    // Only this thread exists in the child: no call is inside, whatever
    // another thread was counting (backing out) at the fork.
    gate.inside.store(0, std::memory_order_seq_cst);
  }
  gate.mu.unlock();
}

}  // namespace

void EnterForkGate() {
  ForkGate& gate = Gate();
  for (;;) {
    gate.inside.fetch_add(1, std::memory_order_seq_cst);
    if (!gate.forking.load(std::memory_order_seq_cst)) return;
    // A fork is being prepared: back out, and wait until it is done.
    LeaveForkGate();
    std::unique_lock<std::mutex> lock(gate.mu);
    gate.cv.wait(lock, [&gate] { return !gate.forking.load(std::memory_order_seq_cst); });
  }
}

void LeaveForkGate() {
  ForkGate& gate = Gate();
  if (gate.inside.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      gate.forking.load(std::memory_order_seq_cst)) {
    // The before-fork hook may be waiting for the last call to leave.
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.cv.notify_all();
  }
}

void RegisterForkHooks() {
  py::module_::import("os").attr("register_at_fork")(
      py::arg("before") = py::cpp_function(&ForkGateBefore),
      py::arg("after_in_parent") = py::cpp_function([] { ForkGateAfter(true); }),
      py::arg("after_in_child") = py::cpp_function([] { ForkGateAfter(false); }));
}

EngineHandle* SearchHandle(PyObject* self) {
  auto* instance = reinterpret_cast<py::detail::instance*>(self);
  if (instance->simple_layout) return ConstructedHandle(self);
  // tp_alloc done, pybind11's allocate_layout not yet (or it failed): the
  // instance is still zeroed. The collector may see it then (convert.h).
  void** values = instance->nonsimple.values_and_holders;
  if (values == nullptr || engine_info == nullptr) return nullptr;
  // pybind11's bases of the type, in lay-out order. Looked up, never added:
  // pybind11's all_type_info() fills a missing entry, and that creates a
  // weak reference (Python, an allocation), which must not happen inside
  // tp_traverse. An instance's lay-out was made from this entry, and the
  // instance keeps its type (and so the entry) alive.
  const auto& types = py::detail::get_internals().registered_types_py;
  const auto found = types.find(Py_TYPE(self));
  if (found == types.end()) return nullptr;
  // The lay-out is [value*][holder] per base, then one status byte per
  // base (pybind11's values_and_holders iterator walks it the same way).
  size_t position = 0;
  const std::vector<py::detail::type_info*>& bases = found->second;
  for (size_t index = 0; index < bases.size(); ++index) {
    if (bases[index] == engine_info) {
      const uint8_t status = instance->nonsimple.status[index];
      if ((status & py::detail::instance::status_holder_constructed) == 0) return nullptr;
      return static_cast<EngineHandle*>(values[position]);
    }
    position += 1 + bases[index]->holder_size_in_ptrs;
  }
  return nullptr;
}

EngineHandle* HandleOf(PyObject* self, bool type_checked) {
  if (!type_checked && !PyObject_TypeCheck(self, engine_type)) {
    PyErr_Format(PyExc_TypeError, "expected a tenantry.Engine, not %.100s", Py_TYPE(self)->tp_name);
    return nullptr;
  }
  EngineHandle* handle = ConstructedHandle(self);
  if (handle == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "tenantry.Engine.__init__ was not called on this object");
  }
  return handle;
}

void RegisterErrors(py::module_& module) {
  error_base = PyErr_NewExceptionWithDoc(
      "tenantry.Error",
      "The base of every tenantry error. `code` is the status code's name (\"not_found\" ...); "
      "`rules` the ids of the rules the error enforces (docs/rules.md), the ones its message ends "
      "with, as a tuple (empty when none); `rule` the same ids as one str (\"C5, C6\"), or None.",
      PyExc_Exception, nullptr);
  if (error_base == nullptr) throw py::error_already_set();
  PyObject_SetAttrString(error_base, "code", py::str("unknown").ptr());
  PyObject_SetAttrString(error_base, "rules", py::tuple().ptr());
  PyObject_SetAttrString(error_base, "rule", Py_None);
  module.add_object("Error", py::handle(error_base));

  const auto table = ErrorTable();
  for (size_t i = 0; i < table.size(); ++i) {
    const ErrorClass& row = table[i];
    py::tuple bases = row.extra_base != nullptr
                          ? py::make_tuple(py::handle(error_base), py::handle(row.extra_base))
                          : py::make_tuple(py::handle(error_base));
    const std::string qualified = absl::StrCat("tenantry.", row.name);
    PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), row.doc, bases.ptr(), nullptr);
    if (cls == nullptr) throw py::error_already_set();
    PyObject_SetAttrString(cls, "code", py::str(StatusCodeName(row.code)).ptr());
    if (row.code == absl::StatusCode::kUnavailable) {
      PyObject_SetAttrString(cls, "change_id", Py_None);
    }
    module.add_object(row.name, py::handle(cls));
    error_classes[i] = cls;
  }

  // The Python layer's own refusals go through the same path, so that they
  // carry `code`, `rules` and `rule` like the engine's.
  module.def(
      "_invalid_argument",
      [](const std::string& message, const py::args& rules) {
        std::vector<std::string> ids;
        for (py::handle rule : rules) ids.push_back(py::cast<std::string>(rule));
        const std::vector<absl::string_view> views(ids.begin(), ids.end());
        SetError(Refusal(absl::StatusCode::kInvalidArgument, views, message));
        py::error_already_set raised;
        return raised.value();
      },
      "The tenantry.InvalidArgument for `message` naming `rules` (not raised).");

  // The one translator: every StatusError thrown by a binding becomes the
  // exception of its code.
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const StatusError& e) {
      SetError(e.status());
    }
  });
}

void SetError(const absl::Status& status) {
  PyObject* cls = error_base;
  const auto table = ErrorTable();
  for (size_t i = 0; i < table.size(); ++i) {
    if (table[i].code == status.code()) cls = error_classes[i];
  }
  const std::string message(status.message());
  py::object text = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "replace"));
  PyObject* error = PyObject_CallOneArg(cls, text.ptr());
  if (error == nullptr) return;  // the constructor's own error stays set
  // The rules from the status's payload (tenantry/status.h). `rule` keeps
  // its first meaning, the ids as the message shows them ("C5, C6").
  const std::vector<std::string> ids = RulesOf(status);
  py::tuple rules(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) rules[i] = py::str(ids[i]);
  py::object rule = ids.empty() ? py::none() : py::object(py::str(absl::StrJoin(ids, ", ")));
  PyObject_SetAttrString(error, "code", py::str(StatusCodeName(status.code())).ptr());
  PyObject_SetAttrString(error, "rules", rules.ptr());
  PyObject_SetAttrString(error, "rule", rule.ptr());
  // R7: the id of the change whose outcome is unknown (Unavailable).
  if (const std::string change_id = ChangeIdOf(status); !change_id.empty()) {
    py::object id = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
        change_id.data(), static_cast<Py_ssize_t>(change_id.size()), "replace"));
    PyObject_SetAttrString(error, "change_id", id.ptr());
  }
  PyErr_SetObject(cls, error);
  Py_DECREF(error);
}

namespace {

// An int, or an integer-like object that is not an int (NumPy's integer
// scalars, for one: __index__). bool and NumPy's bool are not integers here.
bool IsInteger(PyObject* value) {
  if (PyLong_Check(value)) return !PyBool_Check(value);
  // NumPy's bool is numpy.bool_ (numpy.bool from NumPy 2).
  const char* name = Py_TYPE(value)->tp_name;
  return !PyFloat_Check(value) && PyIndex_Check(value) && std::strcmp(name, "numpy.bool_") != 0 &&
         std::strcmp(name, "numpy.bool") != 0;
}

// An integer-like object as an int, through __index__; a new reference, or
// nullptr with TypeError (naming `what`) for anything else.
PyObject* AsIndex(PyObject* value, const char* what) {
  if (!IsInteger(value)) {
    TypeErrorFor(value, what, "an int");
    return nullptr;
  }
  return PyNumber_Index(value);
}

}  // namespace

bool ParseId(PyObject* value, const char* what, uint64_t* out) {
  if (!PyLong_Check(value) || PyBool_Check(value)) {
    PyObject* index = AsIndex(value, what);
    if (index == nullptr) return false;
    const bool parsed = ParseId(index, what, out);
    Py_DECREF(index);
    return parsed;
  }
  const unsigned long long id = PyLong_AsUnsignedLongLong(value);
  if (id == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    return RangeError(value, what, "[0, 2**64)");
  }
  *out = id;
  return true;
}

bool ParseAmount(PyObject* value, const char* what, int64_t* out) {
  if (!PyLong_Check(value) || PyBool_Check(value)) {
    PyObject* index = AsIndex(value, what);
    if (index == nullptr) return false;
    const bool parsed = ParseAmount(index, what, out);
    Py_DECREF(index);
    return parsed;
  }
  const long long amount = PyLong_AsLongLong(value);
  if (amount == -1 && PyErr_Occurred()) return RangeError(value, what, "[-2**63, 2**63)");
  *out = amount;
  return true;
}

bool ParseString(PyObject* value, const char* what, absl::string_view* out) {
  if (!PyUnicode_Check(value)) return TypeErrorFor(value, what, "a str");
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(value, &size);
  if (data == nullptr) return false;  // lone surrogates: UnicodeEncodeError
  *out = absl::string_view(data, static_cast<size_t>(size));
  return true;
}

namespace {

// Resolves a name through `cache` (str -> int) or, the first time, through
// `lookup`; ids pass through when below `limit`.
template <typename IdType, typename Lookup>
bool ParseInterned(py::dict& cache, PyObject* value, const char* what, uint64_t limit,
                   Lookup lookup, IdType* out) {
  if (!PyUnicode_Check(value)) {
    if (!IsInteger(value)) return TypeErrorFor(value, what, "a str or an int");
    uint64_t id = 0;
    const std::string range = absl::StrCat("[0, ", limit, ")");
    if (!ParseId(value, what, &id)) {
      // Keep a TypeError; restate a range error with the id space's own range.
      if (!PyErr_ExceptionMatches(PyExc_ValueError)) return false;
      return RangeError(value, what, range.c_str());
    }
    if (id >= limit) return RangeError(value, what, range.c_str());
    *out = static_cast<IdType>(id);
    return true;
  }
  // Only exact str are cached: a subclass may hash and compare as it likes.
  const bool cacheable = PyUnicode_CheckExact(value);
  if (cacheable) {
    PyObject* cached = PyDict_GetItemWithError(cache.ptr(), value);
    if (cached != nullptr) {
      *out = static_cast<IdType>(PyLong_AsUnsignedLong(cached));
      return true;
    }
    if (PyErr_Occurred()) return false;
  }
  absl::string_view name;
  if (!ParseString(value, what, &name)) return false;
  absl::StatusOr<IdType> id = lookup(name);
  if (!id.ok()) {
    SetError(id.status());
    return false;
  }
  if (cacheable) {
    py::object boxed = py::reinterpret_steal<py::object>(PyLong_FromUnsignedLong(*id));
    if (!boxed || PyDict_SetItem(cache.ptr(), value, boxed.ptr()) != 0) return false;
  }
  *out = *id;
  return true;
}

}  // namespace

// Names are looked up through EngineNow: a lookup runs no Python code, and a
// pybind11 method's lease may be on an engine another thread began to close.
bool ParsePermission(EngineHandle& handle, PyObject* value, PermissionId* out) {
  return ParseInterned<PermissionId>(
      handle.permission_ids, value, "permission", uint64_t{1} << 32,
      [&handle](absl::string_view name) -> absl::StatusOr<PermissionId> {
        const Engine* engine = handle.EngineNow();
        if (engine == nullptr) return EngineClosed();
        return engine->permission(name);
      },
      out);
}

bool ParseMeter(EngineHandle& handle, PyObject* value, MeterId* out) {
  return ParseInterned<MeterId>(
      handle.meter_ids, value, "meter", limits::kMaxMeters,
      [&handle](absl::string_view name) -> absl::StatusOr<MeterId> {
        const Engine* engine = handle.EngineNow();
        if (engine == nullptr) return EngineClosed();
        absl::StatusOr<MeterInfo> info = engine->meter(name);
        if (!info.ok()) return info.status();
        return info->id;
      },
      out);
}

PermissionId PermissionArg(const EngineLease& engine, py::handle value) {
  PermissionId id = 0;
  if (!ParsePermission(engine.handle(), value.ptr(), &id)) throw py::error_already_set();
  return id;
}

MeterId MeterArg(const EngineLease& engine, py::handle value) {
  MeterId id = 0;
  if (!ParseMeter(engine.handle(), value.ptr(), &id)) throw py::error_already_set();
  return id;
}

}  // namespace tenantry::python
