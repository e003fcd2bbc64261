// Copyright 2026 The tenantry Authors.
//
// Reservations settled under the writer lock (C6): commit, release, the
// sweep of expired holds (by a change, by a refused consume or reserve that
// finds the lock free, or by expire_reservations), and reading one
// reservation. Reserving is lock-free (engine_consume.cc); settling takes
// the writer lock so that every settlement has a revision and a ledger
// entry in order, and replays identically from the journal.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "credit_cells.h"
#include "credits.h"
#include "engine_impl.h"
#include "engine_journal.h"
#include "model.h"
#include "mutex.h"
#include "status_macros.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"

namespace tenantry {
namespace internal {
namespace {

// Settles a live hold: debits `actual` of it (regular part first), returns
// the rest to its buckets, frees the slot. Returns the ledger entry.
LedgerEntry Settle(ReservationTable& table, uint32_t index, uint64_t state_gen, LedgerKind kind,
                   int64_t actual, int64_t now_ns, uint64_t revision) {
  ReservationSlot& slot = table.slot(index);
  const BucketAmounts held = {slot.held_regular.load(std::memory_order_relaxed),
                              slot.held_extra.load(std::memory_order_relaxed)};
  const BucketAmounts debit = {std::min(actual, held[0]), actual - std::min(actual, held[0])};
  const BucketAmounts back = {held[0] - debit[0], held[1] - debit[1]};
  BalanceCell* cell = slot.cell.load(std::memory_order_relaxed);
  Update(cell, [&](CellValue& c) {
    assert(!c.closed && c.held >= held[0] + held[1]);
    c.held -= held[0] + held[1];
    c.regular += back[0];
    c.extra += back[1];
    return true;
  });
  if (actual > 0) cell->consumed.fetch_add(actual, std::memory_order_release);
  LedgerEntry e;
  e.revision = revision;
  e.time_ns = now_ns;
  e.actor = kSystem;
  e.account = slot.account.load(std::memory_order_relaxed);
  e.workspace = slot.workspace.load(std::memory_order_relaxed);
  e.meter = slot.meter.load(std::memory_order_relaxed);
  e.kind = kind;
  e.amounts = debit;
  e.returned = back;
  e.reservation = MakeReservationId(GenOf(state_gen), index);
  slot.state_gen.store(StateGen(GenOf(state_gen) + 1, SlotState::kFree), std::memory_order_release);
  table.Push(index);
  return e;
}

// A live reservation named by `id`, or NotFound naming C6.
absl::StatusOr<uint64_t> FindLive(ReservationTable* table, ReservationId id, uint32_t* index) {
  uint64_t gen = 0;
  ReservationSlot* slot = table == nullptr ? nullptr : table->Find(id, index, &gen);
  const uint64_t state_gen = slot == nullptr ? 0 : slot->state_gen.load(std::memory_order_acquire);
  if (slot == nullptr || state_gen != StateGen(gen, SlotState::kLive)) {
    return Refusal(absl::StatusCode::kNotFound, {"C6"},
                   absl::StrCat("reservation ", id, " is unknown, settled, released or expired"));
  }
  return state_gen;
}

}  // namespace

// C6: no live hold expires before impl.next_expiry_ns.
void LowerNextExpiry(Engine::Impl& impl, int64_t expires_at_ns) {
  // seq_cst, like the reserve's kLive store before it and the sweep's
  // exchange and slot loads: either the sweep's scan sees the live hold, or
  // this load sees the sweep's reset and lowers it.
  int64_t seen = impl.next_expiry_ns.load(std::memory_order_seq_cst);
  while (expires_at_ns < seen &&
         !impl.next_expiry_ns.compare_exchange_weak(seen, expires_at_ns, std::memory_order_seq_cst,
                                                    std::memory_order_seq_cst)) {
  }
}

void AppendLedger(Engine::Impl& impl, std::vector<LedgerEntry>& entries) {
  if (entries.empty()) return;
  MutexLock lock(&impl.ledger_mu);
  for (LedgerEntry& e : entries) {
    e.sequence = impl.ledger_next_sequence++;
    impl.ledger.push_back(e);
  }
  while (impl.ledger.size() > impl.options.ledger_retention) {
    impl.ledger_dropped_through = impl.ledger.front().sequence;
    impl.ledger_dropped_max_time_ns =
        std::max(impl.ledger_dropped_max_time_ns, impl.ledger.front().time_ns);
    impl.ledger.pop_front();
  }
  entries.clear();
}

uint64_t SweepExpired(Engine::Impl& impl, uint64_t revision, int64_t now_ns, bool only_if_due,
                      std::vector<LedgerEntry>* entries) {
  ReservationTable* table = impl.reservations.load(std::memory_order_acquire);
  if (table == nullptr) return 0;
  if (only_if_due && now_ns < impl.next_expiry_ns.load(std::memory_order_acquire)) return 0;
  // Reset the bound, then scan. A reserve lowers the bound after its hold is
  // live; the exchange reads any such lowering, so a hold this scan misses
  // has lowered the bound after the reset.
  impl.next_expiry_ns.exchange(INT64_MAX, std::memory_order_seq_cst);
  int64_t next = INT64_MAX;
  uint64_t expired = 0;
  for (size_t i = 0; i < table->size(); ++i) {
    const auto index = static_cast<uint32_t>(i);
    const uint64_t state_gen = table->slot(index).state_gen.load(std::memory_order_seq_cst);
    if (StateOf(state_gen) != SlotState::kLive) continue;
    const int64_t expires_at_ns = table->slot(index).expires_at_ns.load(std::memory_order_relaxed);
    if (expires_at_ns > now_ns) {
      next = std::min(next, expires_at_ns);
      continue;
    }
    entries->push_back(Settle(*table, index, state_gen, LedgerKind::kExpire, 0, now_ns, revision));
    ++expired;
  }
  LowerNextExpiry(impl, next);
  return expired;
}

bool TryReleaseExpired(Engine::Impl& impl, uint64_t revision) {
  const int64_t now_ns = impl.clock->now_ns();
  if (impl.reservations.load(std::memory_order_acquire) == nullptr ||
      now_ns < impl.next_expiry_ns.load(std::memory_order_acquire)) {
    return false;
  }
  // With a journal the caller may hold its lock: taking write_mu after it
  // only ever tries, so the order write_mu -> journal_mu of writers is safe.
  if (!impl.write_mu.TryLock()) return false;
  uint64_t expired = 0;
  {
    JournalScope journal(impl, kCreditRecordMaxBytes);
    if (journal.status().ok()) {
      std::vector<LedgerEntry> entries;
      expired = SweepExpired(impl, revision, now_ns, true, &entries);
      if (expired > 0) {
        journal.Append(JournalRecordType::kSweep, SweepRecord(now_ns, revision, true));
      }
      AppendLedger(impl, entries);
    }
  }
  impl.write_mu.Unlock();
  return expired > 0;
}

absl::Status CommitAt(Engine::Impl& impl, ReservationId reservation, int64_t actual, int64_t now_ns,
                      uint64_t revision, std::vector<LedgerEntry>* entries) {
  ReservationTable* table = impl.reservations.load(std::memory_order_acquire);
  uint32_t index = 0;
  absl::Status status;
  absl::StatusOr<uint64_t> state_gen = FindLive(table, reservation, &index);
  if (!state_gen.ok()) {
    status = state_gen.status();
  } else if (table->slot(index).expires_at_ns.load(std::memory_order_relaxed) <= now_ns) {
    entries->push_back(Settle(*table, index, *state_gen, LedgerKind::kExpire, 0, now_ns, revision));
    status =
        Refusal(absl::StatusCode::kFailedPrecondition, {"C6"},
                absl::StrCat("reservation ", reservation,
                             " expired; an expired hold is never committable and was released"));
  } else {
    ReservationSlot& slot = table->slot(index);
    const int64_t held = slot.held_regular.load(std::memory_order_relaxed) +
                         slot.held_extra.load(std::memory_order_relaxed);
    if (actual < 0 || actual > held) {
      status =
          Refusal(absl::StatusCode::kInvalidArgument, {"C6"},
                  absl::StrCat("commit of ", actual, " on reservation ", reservation,
                               " which holds ", held, ": actual must be 0 to the held amount"));
    } else {
      entries->push_back(
          Settle(*table, index, *state_gen, LedgerKind::kCommit, actual, now_ns, revision));
    }
  }
  SweepExpired(impl, revision, now_ns, true, entries);
  return status;
}

absl::Status ReleaseAt(Engine::Impl& impl, ReservationId reservation, int64_t now_ns,
                       uint64_t revision, std::vector<LedgerEntry>* entries) {
  ReservationTable* table = impl.reservations.load(std::memory_order_acquire);
  uint32_t index = 0;
  absl::Status status;
  absl::StatusOr<uint64_t> state_gen = FindLive(table, reservation, &index);
  if (!state_gen.ok()) {
    status = state_gen.status();
  } else {
    const bool expired = table->slot(index).expires_at_ns.load(std::memory_order_relaxed) <= now_ns;
    entries->push_back(Settle(*table, index, *state_gen,
                              expired ? LedgerKind::kExpire : LedgerKind::kRelease, 0, now_ns,
                              revision));
  }
  SweepExpired(impl, revision, now_ns, true, entries);
  return status;
}

namespace {

// What commit, release and expire_reservations do under the lock.
enum class Settlement { kCommit, kRelease, kExpireAll };

// The shape the three share: under the writer lock with the journal open,
// at one time and revision, settle. When that made ledger entries, they are
// journaled as one record (a refused commit or release may still have
// released expired holds: then a sweep record), then the call waits for its
// durability (P3). `*expired` receives the holds kExpireAll released; a
// release passes `actual` 0.
absl::Status SettleLocked(Engine::Impl& impl, const std::atomic<const Version*>& root,
                          Settlement what, ReservationId reservation, int64_t actual,
                          uint64_t* expired) {
  absl::Status status;
  uint64_t lsn = 0;
  {
    MutexLock lock(&impl.write_mu);
    JournalScope journal(impl, kCreditRecordMaxBytes);
    TNY_RETURN_IF_ERROR(journal.status());
    const int64_t now_ns = impl.clock->now_ns();
    const uint64_t revision = root.load(std::memory_order_seq_cst)->revision;
    std::vector<LedgerEntry> entries;
    switch (what) {
      case Settlement::kCommit:
        status = CommitAt(impl, reservation, actual, now_ns, revision, &entries);
        break;
      case Settlement::kRelease:
        status = ReleaseAt(impl, reservation, now_ns, revision, &entries);
        break;
      case Settlement::kExpireAll:
        *expired = SweepExpired(impl, revision, now_ns, false, &entries);
        break;
    }
    if (!entries.empty()) {
      // A commit refused because its hold had expired released that hold
      // (FailedPrecondition): it replays as the commit. Any other refused
      // call's entries are those of its own sweep.
      const bool settled =
          what == Settlement::kCommit
              ? status.ok() || status.code() == absl::StatusCode::kFailedPrecondition
              : what == Settlement::kRelease && status.ok();
      if (settled) {
        journal.Append(
            what == Settlement::kCommit ? JournalRecordType::kCommit : JournalRecordType::kRelease,
            SettleRecord(reservation, actual, now_ns, revision));
      } else {
        journal.Append(JournalRecordType::kSweep,
                       SweepRecord(now_ns, revision, what != Settlement::kExpireAll));
      }
    }
    AppendLedger(impl, entries);
    lsn = journal.lsn();
  }
  TNY_RETURN_IF_ERROR(Acknowledge(impl, lsn));
  return status;
}

}  // namespace
}  // namespace internal

using internal::ReservationTable;

absl::Status Engine::commit(ReservationId reservation, int64_t actual) {
  if (impl_->replica != nullptr) return internal::ReplicaSettle(*this, reservation, actual, false);
  uint64_t expired = 0;
  return internal::SettleLocked(*impl_, root_, internal::Settlement::kCommit, reservation, actual,
                                &expired);
}

absl::Status Engine::release(ReservationId reservation) {
  if (impl_->replica != nullptr) return internal::ReplicaSettle(*this, reservation, 0, true);
  uint64_t expired = 0;
  return internal::SettleLocked(*impl_, root_, internal::Settlement::kRelease, reservation, 0,
                                &expired);
}

absl::StatusOr<uint64_t> Engine::expire_reservations() {
  if (impl_->replica != nullptr) return internal::ReplicaExpire(*this);
  uint64_t expired = 0;
  TNY_RETURN_IF_ERROR(
      internal::SettleLocked(*impl_, root_, internal::Settlement::kExpireAll, 0, 0, &expired));
  return expired;
}

absl::StatusOr<ReservationInfo> Engine::reservation(ReservationId reservation) const {
  if (impl_->replica != nullptr) return internal::ReplicaReservation(*this, reservation);
  ReservationTable* table = impl_->reservations.load(std::memory_order_acquire);
  uint32_t index = 0;
  TNY_ASSIGN_OR_RETURN(uint64_t state_gen, internal::FindLive(table, reservation, &index));
  const internal::ReservationSlot& slot = table->slot(index);
  ReservationInfo info;
  info.id = reservation;
  info.workspace = slot.workspace.load(std::memory_order_acquire);
  info.meter = slot.meter.load(std::memory_order_acquire);
  info.held = {slot.held_regular.load(std::memory_order_acquire),
               slot.held_extra.load(std::memory_order_acquire)};
  // Acquire: keeps the re-check below after every field read.
  info.expires_at_ns = slot.expires_at_ns.load(std::memory_order_acquire);
  // Settled while being read: the fields may belong to the next holder.
  if (slot.state_gen.load(std::memory_order_acquire) != state_gen) {
    return Refusal(absl::StatusCode::kNotFound, {"C6"},
                   absl::StrCat("reservation ", reservation, " was just settled"));
  }
  return info;
}

}  // namespace tenantry
