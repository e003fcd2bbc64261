// Copyright 2026 The tenantry Authors.
//
// Process-wide epoch-based reclamation (X1, X4, X5); the interface and
// its contract are in epoch.h.
//
// Why it is safe. A writer publishes a new root R1 (replacing R0) with a
// sequentially consistent store W, then Advance() moves the epoch to e with a
// sequentially consistent fetch_add F, and R0 is retired with tag e. Reclaim()
// loads the epoch (E, seq_cst) and then loads every slot (seq_cst); it frees
// R0 only if e <= E and e <= every announcement it saw. Consider any reader
// that could be running:
//  - The scan saw its current announcement a >= e. The reader read a from F
//    or a later read-modify-write of the epoch with an acquire load, so F
//    (a release) synchronizes with that load and W happens before the
//    reader's root load: the reader sees R1 or newer, never R0.
//  - The scan read 0 or an older value of its slot, so the scan's load
//    precedes the reader's announcement in the single total order S of
//    seq_cst operations. Since e <= E, F precedes the epoch load in S, hence
//    W < F < epoch load < slot load < announcement < root load in S, and the
//    root load (seq_cst) sees R1 or newer.
// This is the classic store-buffer (Dekker) argument: either the writer's
// scan sees the reader's announcement, or the reader's root load sees the
// new root. It needs the root store and the root load to be seq_cst (on
// x86-64 a seq_cst load is a plain mov; on AArch64 an LDAR, like acquire).
//
// The epoch loaded before the scan (E) matters when several engines have
// writers: a batch retired by another writer after our scan began may have a
// tag > E, and a reader our scan missed may still see that writer's old root.
// Such a batch waits for the next Reclaim().
#include "epoch.h"

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace tenantry::internal {
namespace {

using epoch_detail::ClaimSlot;
using epoch_detail::g_epoch;
using epoch_detail::Slot;
using epoch_detail::tls_slot;

// Head of the grow-only list of every slot ever allocated. Being a global, it
// keeps the slots reachable for LeakSanitizer.
std::atomic<Slot*> g_slots{nullptr};

// Number of slots ever allocated (for tests of X5).
std::atomic<size_t> g_slots_allocated{0};

// Garbage retired with the same tag.
struct Batch {
  uint64_t epoch;
  std::vector<Garbage> garbage;
  size_t bytes;  // the allocator's size of the nodes' blocks
};

// State touched by writers only (and by the one-time setup).
struct Domain {
  // Guards `queue`, `pending` and `pending_bytes`. Readers never take it.
  std::mutex mu;
  // Batches in increasing tag order.
  std::deque<Batch> queue;
  // Number of nodes in `queue`, and the bytes of their blocks.
  size_t pending = 0;
  size_t pending_bytes = 0;
  // Its destructor gives the thread's slot back at thread exit.
  pthread_key_t key;
};

void ReleaseSlot(void* arg);
void ForkPrepare();
void ForkParent();
void ForkChild();

// The domain, created on first use and never destroyed, so that threads still
// running during static destruction can use it (and so that queued garbage
// stays reachable for LeakSanitizer). The one-time initialization may block
// briefly on the compiler's guard, once per process; after that it is a load.
Domain& GetDomain() {
  static Domain* const domain = [] {
    auto* d = new Domain;
    // Without a key there is no way to give slots back; failing here means
    // the process is out of keys, which is not recoverable.
    if (pthread_key_create(&d->key, &ReleaseSlot) != 0) std::abort();
    pthread_atfork(&ForkPrepare, &ForkParent, &ForkChild);
    return d;
  }();
  return *domain;
}

// pthread key destructor: runs at the exit of a thread that claimed a slot.
// If another key destructor runs a ReadGuard afterwards, the thread claims a
// slot again and sets the key again, and pthread runs our destructor once
// more (up to PTHREAD_DESTRUCTOR_ITERATIONS rounds).
void ReleaseSlot(void* arg) {
  auto* slot = static_cast<Slot*>(arg);
  slot->depth = 0;
  slot->announced.store(0, std::memory_order_release);
  // Release: the next owner's acquire claim sees depth == 0 and all this
  // thread's reads of shared nodes happen before it.
  slot->in_use.store(false, std::memory_order_release);
  tls_slot = nullptr;
}

}  // namespace

// The global epoch. It starts at 1 so that 0 can mean "idle" in a slot.
std::atomic<uint64_t> epoch_detail::g_epoch{1};

// The calling thread's slot, or null before its first guard. initial-exec
// because the library is loaded from a dlopen'ed Python extension, where the
// default (global-dynamic) model costs a __tls_get_addr call per access. It is
// a plain pointer, hence trivially destructible: giving the slot back is done
// by the pthread key destructor below, not by a thread_local destructor.
thread_local Slot* epoch_detail::tls_slot __attribute__((tls_model("initial-exec"))) = nullptr;

// Gives the calling thread a slot: reuses a free one, or allocates and pushes
// a new one. Lock-free: only compare-and-swap, no mutex.
Slot* epoch_detail::ClaimSlot() {
  Domain& domain = GetDomain();
  Slot* slot = nullptr;
  for (Slot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    bool expected = false;
    if (!s->in_use.load(std::memory_order_relaxed) &&
        s->in_use.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      slot = s;
      // The previous owner reset it before its release; we own it now.
      slot->depth = 0;
      break;
    }
  }
  if (slot == nullptr) {
    slot = new Slot;
    slot->in_use.store(true, std::memory_order_relaxed);
    Slot* head = g_slots.load(std::memory_order_relaxed);
    do {
      slot->next = head;
    } while (!g_slots.compare_exchange_weak(head, slot, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
    g_slots_allocated.fetch_add(1, std::memory_order_relaxed);
  }
  tls_slot = slot;
  pthread_setspecific(domain.key, slot);
  return slot;
}

namespace {

// Scans the slots: returns the smallest non-zero announcement (or the
// maximum value if no reader is active) and, in *epoch_before_scan, the
// epoch loaded just before the scan (see the comment at the top).
uint64_t ScanSlots(uint64_t* epoch_before_scan) {
  *epoch_before_scan = g_epoch.load(std::memory_order_seq_cst);
  uint64_t min = std::numeric_limits<uint64_t>::max();
  for (Slot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    const uint64_t a = s->announced.load(std::memory_order_seq_cst);
    if (a != 0) min = std::min(min, a);
  }
  return min;
}

// Fork. Only the forking thread exists in the child, so the slots of every
// other thread are given back there; otherwise a thread that held a guard at
// the fork would pin reclamation in the child forever. The garbage mutex is
// held across the fork so the child never inherits it locked by a thread
// that does not exist. Garbage::Free never runs under the mutex, so the
// forking thread cannot already hold it.
void ForkPrepare() { GetDomain().mu.lock(); }
void ForkParent() { GetDomain().mu.unlock(); }
void ForkChild() {
  GetDomain().mu.unlock();
  for (Slot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    if (s == tls_slot) continue;
    // `depth` is left alone: the next owner resets it when it claims the slot.
    s->announced.store(0, std::memory_order_relaxed);
    s->in_use.store(false, std::memory_order_release);
  }
}

}  // namespace

uint64_t Epochs::Advance() { return g_epoch.fetch_add(1, std::memory_order_seq_cst) + 1; }

void Epochs::Retire(uint64_t epoch, std::vector<Garbage> garbage) {
  // Paired with Reclaim's bound: garbage is tagged with an epoch Advance
  // has reached, never a future one (which no scan could ever pass).
  assert(epoch != 0 && epoch <= g_epoch.load(std::memory_order_seq_cst));
  if (garbage.empty()) return;
  // Outside the mutex: a read of each block's header, a few ns a node.
  size_t bytes = 0;
  for (const Garbage& g : garbage) bytes += malloc_usable_size(g.ptr);
  Domain& domain = GetDomain();
  std::lock_guard<std::mutex> lock(domain.mu);
  domain.pending += garbage.size();
  domain.pending_bytes += bytes;
  // Tags almost always arrive in order; with several engines' writers one may
  // retire after another that advanced later, so keep the queue sorted.
  auto it = domain.queue.end();
  while (it != domain.queue.begin() && std::prev(it)->epoch > epoch) --it;
  domain.queue.insert(it, Batch{epoch, std::move(garbage), bytes});
}

size_t Epochs::Reclaim() {
  Domain& domain = GetDomain();
  uint64_t epoch_before_scan;
  const uint64_t bound = std::min(ScanSlots(&epoch_before_scan), epoch_before_scan);
  std::vector<Batch> ready;
  {
    std::lock_guard<std::mutex> lock(domain.mu);
    while (!domain.queue.empty() && domain.queue.front().epoch <= bound) {
      // Paired with Retire's sorted insert: batches leave in epoch order.
      assert(ready.empty() || ready.back().epoch <= domain.queue.front().epoch);
      domain.pending -= domain.queue.front().garbage.size();
      domain.pending_bytes -= domain.queue.front().bytes;
      ready.push_back(std::move(domain.queue.front()));
      domain.queue.pop_front();
    }
  }
  // Free outside the mutex: deleters may be slow, and must not run while a
  // fork could need the mutex.
  size_t freed = 0;
  for (const Batch& batch : ready) {
    for (const Garbage& g : batch.garbage) g.Free();
    freed += batch.garbage.size();
  }
  return freed;
}

size_t Epochs::Pending() {
  Domain& domain = GetDomain();
  std::lock_guard<std::mutex> lock(domain.mu);
  return domain.pending;
}

size_t Epochs::PendingBytes() {
  Domain& domain = GetDomain();
  std::lock_guard<std::mutex> lock(domain.mu);
  return domain.pending_bytes;
}

uint64_t Epochs::MinActive() {
  uint64_t epoch_before_scan;
  const uint64_t min = ScanSlots(&epoch_before_scan);
  if (min != std::numeric_limits<uint64_t>::max()) return min;
  return g_epoch.load(std::memory_order_seq_cst) + 1;
}

size_t Epochs::SlotsInUse() {
  size_t n = 0;
  for (Slot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    if (s->in_use.load(std::memory_order_acquire)) ++n;
  }
  return n;
}

size_t Epochs::SlotsAllocated() { return g_slots_allocated.load(std::memory_order_relaxed); }

}  // namespace tenantry::internal
