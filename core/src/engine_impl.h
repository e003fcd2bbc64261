// Copyright 2026 The tenantry Authors.
//
// Engine::Impl: what the engine keeps besides its root: the clock, the writer
// lock and the change feed.
#ifndef TENANTRY_CORE_SRC_ENGINE_IMPL_H_
#define TENANTRY_CORE_SRC_ENGINE_IMPL_H_

#include <array>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "credits.h"
#include "mutex.h"
#include "tenantry/engine.h"

namespace tenantry {

class Engine::Impl {
 public:
  explicit Impl(Options opts) : options(std::move(opts)) {}
  ~Impl() {
    delete reservations.load(std::memory_order_acquire);
    delete keys.load(std::memory_order_acquire);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Options options;
  std::shared_ptr<const Clock> clock;
  // I1: the key of the invitation token hashes, random per engine.
  std::array<uint8_t, 32> token_key{};

  // X3: writers are serialized; the version they build is published with
  // one atomic store. Readers never take it.
  internal::Mutex write_mu;

  // L1: the retained tail of the audit trail, oldest first. Readers of the
  // feed take feed_mu briefly; check and the lists never do.
  mutable internal::Mutex feed_mu;
  std::deque<AuditRecord> feed ABSL_GUARDED_BY(feed_mu);
  // The highest revision that left the feed (0 = none yet).
  uint64_t feed_dropped_through ABSL_GUARDED_BY(feed_mu) = 0;

  // C6, C5: the reservation and idempotency-key slots, allocated by the
  // first reserve / keyed consume (lock-free: a CAS publishes the table) and
  // freed with the engine.
  std::atomic<internal::ReservationTable*> reservations{nullptr};
  std::atomic<internal::KeyTable*> keys{nullptr};
  // C5: keys the SipHash of idempotency keys, random per engine.
  std::array<uint8_t, 16> key_hash_key{};
  // C6: where the incremental sweep of expired holds goes on.
  size_t sweep_cursor ABSL_GUARDED_BY(write_mu) = 0;

  // C7: the retained tail of the ledger, oldest first. Entries are appended
  // by writers (holding write_mu) and read by `ledger()`.
  mutable internal::Mutex ledger_mu;
  std::deque<LedgerEntry> ledger ABSL_GUARDED_BY(ledger_mu);
  uint64_t ledger_next_sequence ABSL_GUARDED_BY(ledger_mu) = 1;
  // The highest sequence, and the latest time, that left memory.
  uint64_t ledger_dropped_through ABSL_GUARDED_BY(ledger_mu) = 0;
  int64_t ledger_dropped_max_time_ns ABSL_GUARDED_BY(ledger_mu) = 0;
};

namespace internal {

// C7: numbers `entries` and appends them to the ledger (then clears them).
void AppendLedger(Engine::Impl& impl, std::vector<LedgerEntry>& entries)
    ABSL_LOCKS_EXCLUDED(impl.ledger_mu);
// C6: releases the expired holds among the next `limit` reservation slots
// (the sweep goes round the table), each a ledger entry at `revision`.
uint64_t SweepExpired(Engine::Impl& impl, uint64_t revision, size_t limit,
                      std::vector<LedgerEntry>* entries) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.write_mu);
// Expired holds each change, commit and release sweeps on the way.
inline constexpr size_t kSweepPerCall = 64;

}  // namespace internal
}  // namespace tenantry

#endif  // TENANTRY_CORE_SRC_ENGINE_IMPL_H_
