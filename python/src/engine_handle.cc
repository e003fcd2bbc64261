// Copyright 2026 The tenantry Authors.
#include "engine_handle.h"

#include <cassert>
#include <utility>

#include "convert.h"

namespace tenantry::python {
namespace {

// Leases this thread holds, on any engine. Close refuses while it is not
// zero: a close from inside a call (a conversion's Python code, a finalizer
// a collection runs during an allocation) would wait for that call forever.
thread_local int64_t leases_on_this_thread = 0;

}  // namespace

absl::Status EngineClosed() { return absl::FailedPreconditionError("engine is closed"); }

EngineHandle::EngineHandle(std::unique_ptr<Engine> engine, PythonClock* clock)
    : python_clock(clock), engine_(std::move(engine)) {
  assert(engine_ != nullptr);
}

EngineHandle::~EngineHandle() {
  // Every call holds a reference to its `self`, so none is inside now.
  assert(leases_.load() == 0);
}

template <typename Done>
void EngineHandle::WaitWithoutGil(Done done) {
  PyThreadState* state = PyEval_SaveThread();
  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, done);
  }
  // At interpreter exit this may end a daemon thread by unwinding: nothing
  // here needs undoing then.
  PyEval_RestoreThread(state);
}

void EngineHandle::Notify() {
  // The state changed before the lock is taken: a waiter either saw the
  // change when it tested under mu_, or is waiting and gets the notification.
  { std::lock_guard<std::mutex> lock(mu_); }
  changed_.notify_all();
}

void EngineHandle::Close() {
  if (state_.load() == kClosed) return;
  if (InsideClock()) {
    RefuseInsideClock("Engine.close()");
    throw py::error_already_set();
  }
  if (EngineLease::HeldOnThisThread()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Engine.close() must not be called from inside another call into a tenantry "
                    "engine on the same thread (an argument's __index__, a finalizer): that call "
                    "holds its engine until it returns");
    throw py::error_already_set();
  }
  if (state_.load() == kClosing) {
    // Another thread is closing it: return once the engine is gone, as
    // that thread's close will.
    WaitWithoutGil([this] { return state_.load() == kClosed; });
    return;
  }
  state_.store(kClosing);  // no lease from here (the GIL orders this with every new lease)
  python_clock = nullptr;  // the collector must not visit a clock being destroyed
  // R5: a replica stops following first: a call waiting inside for a log
  // position (wait_for, at_least=) returns now instead of at its timeout,
  // and changes are refused from here. Engine::close() is safe beside the
  // calls in flight; it joins the follower thread, which may need the GIL
  // (a Python clock), so without it.
  Engine* engine_now = engine_.get();
  WithoutGil([engine_now] {
    engine_now->close();
    return true;
  });
  WaitWithoutGil([this] { return leases_.load() == 0; });
  std::unique_ptr<Engine> engine = std::move(engine_);
  // File work (the journal's last flush; joining its flusher) without the
  // GIL, inside the fork gate like any engine call. A Python clock's
  // destructor takes the GIL itself.
  WithoutGil([&engine] {
    engine.reset();
    return true;
  });
  state_.store(kClosed);
  Notify();
}

EngineLease::EngineLease(EngineHandle& handle) : handle_(handle) {
  // With the GIL: a close that began before this is seen here, and one
  // that begins after it counts this lease.
  if (handle.state_.load() != EngineHandle::kOpen) throw StatusError(EngineClosed());
  handle.leases_.fetch_add(1);
  ++leases_on_this_thread;
  engine_ = handle.engine_.get();
  assert(engine_ != nullptr);
}

EngineLease::~EngineLease() {
  --leases_on_this_thread;
  // The last lease out wakes a waiting Close. seq_cst on both sides: either
  // Close's test sees the count at zero, or this sees the closing state.
  if (handle_.leases_.fetch_sub(1) == 1 && handle_.state_.load() != EngineHandle::kOpen) {
    handle_.Notify();
  }
}

bool EngineLease::HeldOnThisThread() { return leases_on_this_thread > 0; }

}  // namespace tenantry::python
