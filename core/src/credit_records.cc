// Copyright 2026 The tenantry Authors.
//
// P3: the credit side's journal records. Each record type has its encoder
// (called by the live operation, under the journal lock) beside its
// decoder, which applies it to the newest version on recovery. A record
// that does not decode or does not apply is DataLoss naming its lsn: the
// journal is never applied halfway silently. The Run record (changes as
// ops) is engine_journal.cc's.
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "credit_cells.h"
#include "credits.h"
#include "engine_impl.h"
#include "engine_journal.h"
#include "model.h"
#include "mutex.h"
#include "ops.h"
#include "tenantry/limits.h"
#include "tenantry/status.h"

namespace tenantry::internal {
namespace {

absl::Status Unapplicable(const JournalRecord& record, absl::string_view why) {
  return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                 absl::StrCat("journal: record ", record.lsn, " (type ", record.type, ") ", why));
}

// The cell a record names in `v`; null when the workspace or its funding of
// the meter is missing.
BalanceCell* CellOf(const Version& v, WorkspaceId workspace, MeterId meter) {
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (ws == nullptr) return nullptr;
  const Funding* f = FindMeterEntry(ws->credits, meter);
  return f == nullptr ? nullptr : f->cell;
}

}  // namespace

// ---- kConsume: a debit of both buckets (C5) ----

std::string ConsumeRecord(WorkspaceId workspace, MeterId meter, const BucketAmounts& taken) {
  std::string out;
  OpWriter w(&out);
  w.Put(workspace);
  w.Put(meter);
  w.Put(taken[0]);
  w.Put(taken[1]);
  return out;
}

namespace {
absl::Status ApplyConsume(const Version& v, const JournalRecord& record, OpReader& in) {
  WorkspaceId workspace = 0;
  MeterId meter = 0;
  BucketAmounts taken{};
  if (!in.Get(&workspace) || !in.Get(&meter) || !in.Get(&taken[0]) || !in.Get(&taken[1]) ||
      !in.done() || taken[0] < 0 || taken[1] < 0) {
    return Unapplicable(record, "does not decode");
  }
  BalanceCell* cell = CellOf(v, workspace, meter);
  if (cell == nullptr) return Unapplicable(record, "debits a workspace with no balance");
  if (!Update(cell, [&](CellValue& c) {
        if (c.closed || c.regular < taken[0] || c.extra < taken[1]) return false;
        c.regular -= taken[0];
        c.extra -= taken[1];
        return true;
      })) {
    return Unapplicable(record, "debits more than the balance holds");
  }
  cell->consumed.fetch_add(taken[0] + taken[1], std::memory_order_release);
  return absl::OkStatus();
}
}  // namespace

// ---- kKeyedConsume: a remembered idempotency key (C5) ----

std::string KeyRecord(uint64_t table_size, uint64_t index, const KeySlot& slot, uint64_t tag,
                      uint64_t meta) {
  std::string out;
  OpWriter w(&out);
  w.Put(table_size);
  w.Put(index);
  w.Put(tag);
  w.Put(meta);
  w.Put(slot.time_ns.load(std::memory_order_relaxed));
  w.Put(slot.amount.load(std::memory_order_relaxed));
  w.Put(slot.result.load(std::memory_order_relaxed));
  return out;
}

namespace {
absl::Status ApplyKeyedConsume(Engine::Impl& impl, const JournalRecord& record, OpReader& in) {
  uint64_t size = 0, index = 0, tag = 0, meta = 0;
  int64_t time_ns = 0, amount = 0, result = 0;
  if (!in.Get(&size) || !in.Get(&index) || !in.Get(&tag) || !in.Get(&meta) || !in.Get(&time_ns) ||
      !in.Get(&amount) || !in.Get(&result) || !in.done() || KeyStateOf(meta) != KeyState::kDone ||
      index >= size) {
    return Unapplicable(record, "does not decode");
  }
  KeyTable& table = *Ensure(impl.keys, impl.options.idempotency_slots);
  if (table.size() != size) {
    return Unapplicable(
        record, absl::StrCat("remembers a key in a table of ", size, " slots; this engine has ",
                             table.size(), ": recover with the same idempotency_slots"));
  }
  KeySlot& slot = table.slot(index);
  slot.time_ns.store(time_ns, std::memory_order_relaxed);
  slot.amount.store(amount, std::memory_order_relaxed);
  slot.result.store(result, std::memory_order_relaxed);
  __atomic_store_n(&slot.words[0], tag, __ATOMIC_RELAXED);
  __atomic_store_n(&slot.words[1], meta, __ATOMIC_RELEASE);
  return absl::OkStatus();
}
}  // namespace

// ---- kReserve: a live hold in its slot (C6) ----

std::string ReserveRecord(uint64_t table_size, uint32_t index, uint64_t state_gen,
                          const ReservationSlot& slot) {
  std::string out;
  OpWriter w(&out);
  w.Put(table_size);
  w.Put(index);
  w.Put(state_gen);
  w.Put(slot.workspace.load(std::memory_order_relaxed));
  w.Put(slot.meter.load(std::memory_order_relaxed));
  w.Put(slot.amount.load(std::memory_order_relaxed));
  w.Put(slot.held_regular.load(std::memory_order_relaxed));
  w.Put(slot.held_extra.load(std::memory_order_relaxed));
  w.Put(slot.expires_at_ns.load(std::memory_order_relaxed));
  return out;
}

namespace {
absl::Status ApplyReserve(Engine::Impl& impl, const Version& v, const JournalRecord& record,
                          OpReader& in) {
  uint64_t size = 0, state_gen = 0;
  uint32_t index = 0;
  WorkspaceId workspace = 0;
  MeterId meter = 0;
  int64_t amount = 0, held_regular = 0, held_extra = 0, expires_at_ns = 0;
  if (!in.Get(&size) || !in.Get(&index) || !in.Get(&state_gen) || !in.Get(&workspace) ||
      !in.Get(&meter) || !in.Get(&amount) || !in.Get(&held_regular) || !in.Get(&held_extra) ||
      !in.Get(&expires_at_ns) || !in.done() || StateOf(state_gen) != SlotState::kLive ||
      index >= size || held_regular < 0 || held_extra < 0 || held_regular + held_extra != amount) {
    return Unapplicable(record, "does not decode");
  }
  ReservationTable& table =
      *Ensure(impl.reservations,
              std::clamp<size_t>(impl.options.reservation_slots, 1, limits::kReservationSlotsMax));
  if (table.size() != size) {
    return Unapplicable(
        record, absl::StrCat("holds a reservation in a table of ", size, " slots; this engine has ",
                             table.size(), ": recover with the same reservation_slots"));
  }
  ReservationSlot& slot = table.slot(index);
  const uint64_t current = slot.state_gen.load(std::memory_order_relaxed);
  if (StateOf(current) == SlotState::kLive || GenOf(current) > GenOf(state_gen)) {
    return Unapplicable(record, "reuses a reservation slot that is live or newer");
  }
  BalanceCell* cell = CellOf(v, workspace, meter);
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (cell == nullptr || ws == nullptr) {
    return Unapplicable(record, "holds credits of a workspace with no balance");
  }
  if (!Update(cell, [&](CellValue& c) {
        if (c.closed || c.regular < held_regular || c.extra < held_extra) return false;
        c.regular -= held_regular;
        c.extra -= held_extra;
        c.held += amount;
        return true;
      })) {
    return Unapplicable(record, "holds more than the balance has");
  }
  slot.workspace.store(workspace, std::memory_order_relaxed);
  slot.account.store(ws->account, std::memory_order_relaxed);
  slot.meter.store(meter, std::memory_order_relaxed);
  slot.cell.store(cell, std::memory_order_relaxed);
  slot.amount.store(amount, std::memory_order_relaxed);
  slot.held_regular.store(held_regular, std::memory_order_relaxed);
  slot.held_extra.store(held_extra, std::memory_order_relaxed);
  slot.expires_at_ns.store(expires_at_ns, std::memory_order_relaxed);
  slot.state_gen.store(state_gen, std::memory_order_seq_cst);
  LowerNextExpiry(impl, expires_at_ns);
  return absl::OkStatus();
}
}  // namespace

// ---- kCommit, kRelease: a settlement, run again at its time (C6) ----

std::string SettleRecord(ReservationId reservation, int64_t actual, int64_t now_ns,
                         uint64_t revision) {
  std::string out;
  OpWriter w(&out);
  w.Put(reservation);
  w.Put(actual);
  w.Put(now_ns);
  w.Put(revision);
  return out;
}

namespace {
absl::Status ApplySettle(Engine::Impl& impl, const JournalRecord& record, OpReader& in) {
  ReservationId reservation = 0;
  int64_t actual = 0, now_ns = 0;
  uint64_t revision = 0;
  if (!in.Get(&reservation) || !in.Get(&actual) || !in.Get(&now_ns) || !in.Get(&revision) ||
      !in.done()) {
    return Unapplicable(record, "does not decode");
  }
  std::vector<LedgerEntry> entries;
  MutexLock lock(&impl.write_mu);
  // The live call's own refusals (an expired hold) are part of what it
  // did; only a reservation that is not there is damage.
  const absl::Status status = record.type == static_cast<uint8_t>(JournalRecordType::kCommit)
                                  ? CommitAt(impl, reservation, actual, now_ns, revision, &entries)
                                  : ReleaseAt(impl, reservation, now_ns, revision, &entries);
  AppendLedger(impl, entries);
  if (status.code() == absl::StatusCode::kNotFound ||
      status.code() == absl::StatusCode::kInvalidArgument) {
    return Unapplicable(record, absl::StrCat("settles what it cannot: ", status.message()));
  }
  return absl::OkStatus();
}
}  // namespace

// ---- kSweep: expired holds released, run again at its time (C6) ----

std::string SweepRecord(int64_t now_ns, uint64_t revision, bool only_if_due) {
  std::string out;
  OpWriter w(&out);
  w.Put(now_ns);
  w.Put(revision);
  w.Put(only_if_due);
  return out;
}

namespace {
absl::Status ApplySweep(Engine::Impl& impl, const JournalRecord& record, OpReader& in) {
  int64_t now_ns = 0;
  uint64_t revision = 0;
  bool only_if_due = false;
  if (!in.Get(&now_ns) || !in.Get(&revision) || !in.Get(&only_if_due) || !in.done()) {
    return Unapplicable(record, "does not decode");
  }
  std::vector<LedgerEntry> entries;
  MutexLock lock(&impl.write_mu);
  SweepExpired(impl, revision, now_ns, only_if_due, &entries);
  AppendLedger(impl, entries);
  return absl::OkStatus();
}
}  // namespace

absl::Status ApplyCreditRecord(Engine::Impl& impl, const Version& v, const JournalRecord& record) {
  OpReader in(record.payload);
  switch (static_cast<JournalRecordType>(record.type)) {
    case JournalRecordType::kConsume:
      return ApplyConsume(v, record, in);
    case JournalRecordType::kKeyedConsume:
      return ApplyKeyedConsume(impl, record, in);
    case JournalRecordType::kReserve:
      return ApplyReserve(impl, v, record, in);
    case JournalRecordType::kCommit:
    case JournalRecordType::kRelease:
      return ApplySettle(impl, record, in);
    case JournalRecordType::kSweep:
      return ApplySweep(impl, record, in);
    case JournalRecordType::kRun:
      break;
    case JournalRecordType::kGroup:  // a replica group's, never in a journal
      return Unapplicable(record, "is a replica group's record, which no journal holds");
  }
  return Unapplicable(record, "has an unknown type");
}

}  // namespace tenantry::internal
