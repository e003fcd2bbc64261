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
#include "journal.h"
#include "mutex.h"
#include "replica.h"
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
  // C6: no live hold expires before this (INT64_MAX: none is live). A
  // reserve lowers it; a full sweep resets it to what it found.
  std::atomic<int64_t> next_expiry_ns{INT64_MAX};

  // C7: the retained tail of the ledger, oldest first. Entries are appended
  // by writers (holding write_mu) and read by `ledger()`.
  mutable internal::Mutex ledger_mu;
  std::deque<LedgerEntry> ledger ABSL_GUARDED_BY(ledger_mu);
  uint64_t ledger_next_sequence ABSL_GUARDED_BY(ledger_mu) = 1;
  // The highest sequence, and the latest time, that left memory.
  uint64_t ledger_dropped_through ABSL_GUARDED_BY(ledger_mu) = 0;
  int64_t ledger_dropped_max_time_ns ABSL_GUARDED_BY(ledger_mu) = 0;

  // P3 (engine_journal.cc). With a journal, journal_mu makes each effect on
  // the credit state and its record one step, so the journal's order is the
  // order the effects happened in: consumes, reserves and keyed consumes
  // hold it for their whole call; writers take it (after write_mu) for the
  // part of a transaction that touches balance cells and its record.
  std::unique_ptr<internal::Journal> journal;
  internal::Mutex journal_mu;
  // The engine's lineage and the lsn of its newest record: a snapshot
  // carries both, so a journal is only ever replayed onto its own engine.
  std::array<uint8_t, 16> lineage{};
  // What opening the journal found (set before the engine is shared).
  JournalRecovery journal_recovery;
  // One save at a time on a journaled engine (it rotates the journal).
  internal::Mutex save_mu;

  // R1-R7: a replica follows its group's log (replica.h); null otherwise.
  // apply_mu orders the records applied to this engine (the follower's and
  // a change's own), before write_mu.
  internal::Mutex apply_mu;
  std::unique_ptr<internal::Replica> replica;
};

namespace internal {

// C7: numbers `entries` and appends them to the ledger (then clears them).
void AppendLedger(Engine::Impl& impl, std::vector<LedgerEntry>& entries)
    ABSL_LOCKS_EXCLUDED(impl.ledger_mu);
// C6: releases every expired hold, each a ledger entry at `revision`.
// With `only_if_due`, does nothing (and reads no slot) until the earliest
// live hold has expired: every change, commit and release calls it so.
uint64_t SweepExpired(Engine::Impl& impl, uint64_t revision, int64_t now_ns, bool only_if_due,
                      std::vector<LedgerEntry>* entries)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.write_mu);
// C6: no live hold expires before impl.next_expiry_ns (lowered, never raised,
// here; reset only by a sweep).
void LowerNextExpiry(Engine::Impl& impl, int64_t expires_at_ns);
// C6: a consume or reserve about to be refused calls this: when a hold has
// expired and the writer lock is free (it never waits for it), the expired
// holds are released. True when something was released (worth a retry).
bool TryReleaseExpired(Engine::Impl& impl, uint64_t revision) ABSL_LOCKS_EXCLUDED(impl.write_mu);

// fork (engine_fork.cc): an engine is registered for its whole life, so
// that a fork takes its locks first (in the order save_mu, apply_mu,
// write_mu, journal_mu, ledger_mu, feed_mu: the order every path takes them
// in) and
// the child never inherits one held by a thread it does not have.
void RegisterForFork(Engine::Impl* impl);
void UnregisterForFork(Engine::Impl* impl);

// ---- P3: journaling (engine_journal.cc) ----

// Holds the journal lock for a scope when the engine has a journal (and
// this thread does not hold it already); does nothing otherwise. Reserves
// room for `bytes` of records first: a full disk refuses the change
// (status()) before it has any effect.
class JournalScope {
 public:
  JournalScope(Engine::Impl& impl, size_t bytes);
  ~JournalScope();
  JournalScope(const JournalScope&) = delete;
  JournalScope& operator=(const JournalScope&) = delete;
  const absl::Status& status() const { return status_; }
  // Appends a record (no-op without a journal).
  void Append(JournalRecordType type, const std::string& payload);
  // The newest lsn appended in this scope (nested ones included): what
  // the caller acknowledges once the lock is released.
  uint64_t lsn() const { return lsn_; }

 private:
  friend JournalScope* CurrentJournal(const Engine::Impl& impl);
  Engine::Impl& impl_;
  JournalScope* outer_ = nullptr;  // the scope this one nests in
  JournalScope* previous_ = nullptr;
  bool locked_ = false;
  uint64_t lsn_ = 0;
  absl::Status status_;
};

}  // namespace internal
}  // namespace tenantry

#endif  // TENANTRY_CORE_SRC_ENGINE_IMPL_H_
