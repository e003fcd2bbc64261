// Copyright 2026 The tenantry Authors.
//
// Process-wide hooks that let a test stop the engine where no API can, to
// prove what readers do meanwhile (X1: a writer stopped in the middle
// of a change cannot stall them; tests/concurrency/stress_test.cc). Every hook is null
// unless a test installs one. Only writers call hooks, never a read path,
// and an empty hook costs one acquire load and a null test.
#ifndef TENANTRY_CORE_SRC_TEST_HOOKS_H_
#define TENANTRY_CORE_SRC_TEST_HOOKS_H_

#include <atomic>

#include "absl/base/optimization.h"

namespace tenantry::internal {

// A function and its argument. The installer keeps both alive until the
// hook is uninstalled and no call of it can still be running.
struct TestHook {
  void (*fn)(void* arg) = nullptr;
  void* arg = nullptr;
};

struct TestHooks {
  // Called by every change (write_path.cc, RunChanges) once all its
  // ops have run: the new version is built, the writer lock is held, and
  // nothing is journaled or published yet. A hook that blocks stalls that
  // writer, and every other writer behind it, but no reader.
  static std::atomic<const TestHook*> before_publish;
};

// Calls `hook` if one is installed.
inline void RunTestHook(const std::atomic<const TestHook*>& hook) {
  // Acquire: the hook's argument, written before it was installed, is seen.
  if (const TestHook* h = hook.load(std::memory_order_acquire); ABSL_PREDICT_FALSE(h != nullptr)) {
    h->fn(h->arg);
  }
}

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_TEST_HOOKS_H_
