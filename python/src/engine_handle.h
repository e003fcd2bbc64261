// Copyright 2026 The tenantry Authors.
//
// The C++ engine behind a Python `tenantry.Engine`, and how a call holds it
// while `Engine.close()` may run on another thread (docs/python.md,
// "Closing an engine").
//
// Closing destroys the engine (that is what flushes its journal and releases
// the directory's lock: `~Engine`), so no call may be inside it then. The
// handle refuses new calls once `close()` has begun, waits (without the
// GIL) for the calls already inside to return, then destroys the engine.
// A call is inside from the moment it takes an EngineLease to the moment
// the lease ends; a pybind11 method takes its lease as its `self` (`Self`,
// convert.h) once every argument is converted, since a conversion may run
// Python code, `close()` included.
#ifndef TENANTRY_PYTHON_ENGINE_HANDLE_H_
#define TENANTRY_PYTHON_ENGINE_HANDLE_H_

#include <Python.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "pybind11/pybind11.h"
#include "tenantry/engine.h"

namespace tenantry::python {

class PythonClock;
class EngineLease;

// Owned by its Python object (pybind11's holder); outlives every call on
// it, since a call holds a reference to its `self`. The engine inside lives
// until `Close` or the handle's destruction. Every member needs the GIL
// except where a comment says otherwise.
class EngineHandle {
 public:
  EngineHandle(std::unique_ptr<Engine> engine, PythonClock* python_clock);
  ~EngineHandle();
  EngineHandle(const EngineHandle&) = delete;
  EngineHandle& operator=(const EngineHandle&) = delete;

  // The engine's clock when it is a Python callable (owned by the engine),
  // so that the garbage collector can see through it (cycles such as a
  // clock that is a bound method of an object holding the engine). Null
  // once closing begins: the engine, and the clock with it, is destroyed
  // without the GIL, while the collector may run.
  PythonClock* python_clock = nullptr;
  // Permission and meter names already resolved (permissions and meters are
  // never unregistered, so an entry never goes stale).
  pybind11::dict permission_ids;
  pybind11::dict meter_ids;
  // R4: how long a read's `at_least=` (and `wait_for` without a timeout)
  // waits for the replica to reach a position (Engine(wait_timeout_ms=)).
  // Set once, before the handle is shared.
  int64_t wait_timeout_ms = 5000;

  // True once `Close` has begun: every call then raises.
  bool closed() const { return state_.load() != kOpen; }
  // The engine, for a caller that uses it before it runs any Python code or
  // releases the GIL (the fast-call `check`, which never calls the clock; a
  // name's lookup): `Close` needs the GIL to begin, so the engine cannot go
  // away in between. Every other caller takes an EngineLease. Null once
  // closed (the caller raises EngineClosed()).
  Engine* EngineNow() { return closed() ? nullptr : engine_.get(); }
  // Engine.close(): refuses new calls, stops a replica's follower (which
  // also ends its waits: `wait_for`, `at_least=`), waits for the calls
  // inside to return, then destroys the engine (flushing its journal and
  // releasing its lock), all without the GIL. Idempotent; a close racing another returns once
  // the engine is destroyed. RuntimeError (py::error_already_set) from
  // inside a Python clock or from inside any engine call on this thread (an
  // argument's __index__, a finalizer a collection runs meanwhile): such a
  // call holds a lease, and waiting for it would wait for itself.
  void Close();

 private:
  friend class EngineLease;
  enum State : int { kOpen = 0, kClosing = 1, kClosed = 2 };

  // Releases the GIL until `done()` holds (called under mu_); Notify wakes it.
  template <typename Done>
  void WaitWithoutGil(Done done);
  // Safe without the GIL (a lease ending while its thread unwinds at exit).
  void Notify();

  std::unique_ptr<Engine> engine_;
  // Atomics, not GIL-guarded fields: Close reads them without the GIL, and
  // a daemon thread ended at interpreter exit unwinds its leases without it.
  std::atomic<int> state_{kOpen};
  std::atomic<int64_t> leases_{0};
  std::mutex mu_;
  std::condition_variable changed_;
};

// What every use of a closed engine raises: FailedPrecondition, "engine is
// closed", naming no rule.
absl::Status EngineClosed();

// One call's hold on its engine: while any lease lives, `Close` waits and
// the engine stays. Taken with the GIL; throws StatusError(EngineClosed())
// once `Close` has begun.
// Neither copied nor moved (pybind11 builds `Self` in place: convert.h).
class EngineLease {
 public:
  explicit EngineLease(EngineHandle& handle);
  ~EngineLease();
  EngineLease(const EngineLease&) = delete;
  EngineLease& operator=(const EngineLease&) = delete;

  Engine* operator->() const { return engine_; }
  Engine& operator*() const { return *engine_; }
  EngineHandle& handle() const { return handle_; }

  // Whether this thread holds a lease on any engine (Close refuses then).
  static bool HeldOnThisThread();

 private:
  EngineHandle& handle_;
  Engine* engine_ = nullptr;
};

}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_ENGINE_HANDLE_H_
