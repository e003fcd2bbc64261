// Copyright 2026 The tenantry Authors.
//
// Epoch-based reclamation: how retired versions are freed once no reader can
// see them (X1, X4, X5). The design is in docs/concurrency.md.
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

#include <atomic>
#include <cassert>
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

// What the inline ReadGuard needs; the rest of the domain is private to
// epoch.cc. Inline because a guard is a good part of a warm check, and a call
// per guard into the shared engine library (through its PLT) showed in
// profiles of Python's check.
namespace epoch_detail {

// One thread's announcement, on its own cache line so readers never share a
// written line. Slots are never freed: a thread that exits gives its slot
// back (in_use = false) and a later thread reuses it, so the number of slots
// is bounded by the peak number of concurrently reading threads.
struct alignas(64) Slot {
  // The epoch the thread observed when it entered its outermost guard, or 0
  // when it is not reading.
  std::atomic<uint64_t> announced{0};
  // True while a live thread owns the slot.
  std::atomic<bool> in_use{false};
  // Guard nesting depth. Only the owning thread touches it; ownership moves
  // between threads through in_use (release on give-back, acquire on claim).
  uint32_t depth = 0;
  // Next slot in the list. Written before the slot is published and never
  // changed afterwards.
  Slot* next = nullptr;
  // Debug builds: the last epoch announced in this slot, by any owner. The
  // global epoch only moves forward, so each announcement is at least the
  // one before (ownership passes through in_use's release/acquire).
  uint64_t last_announced = 0;
};

// The global epoch. It starts at 1 so that 0 can mean "idle" in a slot.
extern std::atomic<uint64_t> g_epoch;
// The calling thread's slot, or null before its first guard (epoch.cc).
extern thread_local Slot* tls_slot __attribute__((tls_model("initial-exec")));
// Gives the calling thread a slot (lock-free; epoch.cc).
Slot* ClaimSlot();

}  // namespace epoch_detail

inline ReadGuard::ReadGuard() {
  epoch_detail::Slot* s = epoch_detail::tls_slot;
  if (s == nullptr) s = epoch_detail::ClaimSlot();
  if (s->depth++ == 0) {
    // Acquire: if we read an epoch produced by Advance(), the root store that
    // preceded it happens before our root load (see the top of epoch.cc).
    const uint64_t e = epoch_detail::g_epoch.load(std::memory_order_acquire);
#ifndef NDEBUG
    assert(e >= s->last_announced && "epochs only move forward");
    s->last_announced = e;
#endif
    // seq_cst: the announcement is ordered before the caller's seq_cst load
    // of the root, which is the reader's half of the Dekker argument.
    s->announced.store(e, std::memory_order_seq_cst);
  }
}

inline ReadGuard::~ReadGuard() {
  epoch_detail::Slot* s = epoch_detail::tls_slot;
  if (--s->depth == 0) {
    // Release: every read of shared nodes in this section happens before a
    // writer's scan that sees the slot idle, hence before it frees them.
    s->announced.store(0, std::memory_order_release);
  }
}

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

  // Bytes those nodes hold: the allocator's size of each node's own block
  // (malloc_usable_size, taken when it is retired), not what a node owns
  // elsewhere. What retired versions pin, for the tests of X4.
  static size_t PendingBytes();

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
