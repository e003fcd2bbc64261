// Copyright 2026 The tenantry Authors.
//
// Epoch-based reclamation: how retired versions are freed once no reader can
// see them (SPEC X1, X4, X5). The design is in docs/concurrency.md.
//
// Readers: a `ReadGuard` announces, in the calling thread's own slot (its own
// cache line), the global epoch it observed, then the reader loads the
// engine's root. It takes no lock, never waits, writes no shared cache line.
// The root must be loaded with memory_order_seq_cst (a plain mov on x86-64)
// and published with a seq_cst store: acquire/release is not enough for the
// store-buffer argument in epoch.cc.
// A thread gets its slot by itself on first use (lock-free claim of a free
// slot) and gives it back when it exits, so any thread may call in with no
// registration (X5). Guards nest; only the outermost announces.
//
// Writers (serialized by the engine): publish the new root, then call
// `Advance()` to move the global epoch and `Retire()` the replaced nodes
// tagged with that epoch, then `Reclaim()`: garbage tagged `e` is freed when
// every active reader announced an epoch >= e (a reader that announced e
// loaded the root after the replacing root was published).
//
// The domain is process-wide: one slot per thread serves every engine.
#ifndef TENANTRY_CORE_SRC_EPOCH_H_
#define TENANTRY_CORE_SRC_EPOCH_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "txn.h"

namespace tenantry::internal {

// Enters a read section for its lifetime. Cheap: an acquire load of the
// epoch, one sequentially consistent store to the thread's own slot; the
// destructor is a release store. Not movable; use it on the stack, and end it
// on the thread that created it.
class ReadGuard {
 public:
  ReadGuard();
  ~ReadGuard();
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;
};

// Writer-side interface of the process-wide domain. Thread-safe: Retire and
// Reclaim take the domain's own garbage mutex (never taken by readers).
class Epochs {
 public:
  // Moves the global epoch forward after a new root was published (with a
  // sequentially consistent store) and returns the new epoch, the tag for
  // the garbage that publication retired.
  static uint64_t Advance();

  // Queues garbage that readers announced before `epoch` may still see.
  static void Retire(uint64_t epoch, std::vector<Garbage> garbage);

  // Frees every queued garbage whose epoch every active reader has passed.
  // Never waits for readers. Returns the number of nodes freed.
  static size_t Reclaim();

  // Nodes queued and not yet freed (for tests and the memory benchmark).
  static size_t Pending();

  // The smallest epoch announced by an active reader, or the current global
  // epoch + 1 when no reader is active.
  static uint64_t MinActive();

  // Number of thread slots currently claimed (threads that read and have
  // not exited). For tests of X5 (no per-thread leak).
  static size_t SlotsInUse();

  // Number of thread slots ever allocated. Slots are reused, so this is the
  // peak number of threads reading at once. For tests of X5.
  static size_t SlotsAllocated();
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_EPOCH_H_
