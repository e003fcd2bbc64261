// Copyright 2026 The tenantry Authors.
//
// P3: what the engine writes into its journal, and replaying it. The file
// layer is journal.h; the lock that orders records is engine_impl.h's
// JournalScope. Each record type (journal.h) is one of:
//  - a transaction of ops, replayed by running the ops again (the same code,
//    at the recorded time, with the recorded token hashes): the graph,
//    pools, funding and audit trail follow deterministically;
//  - an effect on the live credit state (a debit, a hold, a remembered key),
//    replayed as that exact effect;
//  - a settlement under the writer lock (commit, release, sweep), replayed
//    by running it again at the recorded time.
// Because the journal lock covers each effect and its record, replaying in
// lsn order meets every cell in the state its original change met it in.
#ifndef TENANTRY_CORE_SRC_ENGINE_JOURNAL_H_
#define TENANTRY_CORE_SRC_ENGINE_JOURNAL_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "credits.h"
#include "engine_impl.h"
#include "journal.h"
#include "model.h"
#include "tenantry/engine.h"
#include "write_path.h"

namespace tenantry::internal {

// The most bytes the Run record of `ops` takes.
size_t RunRecordBytes(absl::Span<const std::string> ops);
std::string RunRecord(int64_t now_ns, int64_t invitation_ttl_s,
                      const std::vector<std::array<uint8_t, 32>>& token_hashes,
                      absl::Span<const std::string> ops);

// The time, lifetime, token hashes and ops of a kRun record; DataLoss
// naming its lsn when it does not decode.
absl::Status DecodeRun(const JournalRecord& record, RunReplay* replay,
                       std::vector<std::string>* ops);

// Record payloads of the credit side (their sizes are bounded by kMax*).
inline constexpr size_t kCreditRecordMaxBytes = 128;
std::string ConsumeRecord(WorkspaceId workspace, MeterId meter, const BucketAmounts& taken);
std::string KeyRecord(uint64_t table_size, uint64_t index, const KeySlot& slot, uint64_t tag,
                      uint64_t meta);
std::string ReserveRecord(uint64_t table_size, uint32_t index, uint64_t state_gen,
                          const ReservationSlot& slot);
std::string SettleRecord(ReservationId reservation, int64_t actual, int64_t now_ns,
                         uint64_t revision);
std::string SweepRecord(int64_t now_ns, uint64_t revision, bool only_if_due);

// P3 repair: a record in words, for the report of what a cut loses.
std::string DescribeRecord(const JournalRecord& record);
// The report of a scan (damage, what lies past it), before any cut.
JournalRecovery RecoveryOf(const JournalScan& scan);
// DataLoss naming a journal's damage, what would be lost, and the repair.
absl::Status DamageError(const std::string& dir, const JournalRecovery& report);

// Waits for `lsn` to be as durable as the journal promises (OK without a
// journal or for lsn 0). Internal when the flush fails: the change was
// applied and journaled, but is not known to be on disk.
absl::Status Acknowledge(Engine::Impl& impl, uint64_t lsn);

// The current thread's journal scope (the innermost) if it is `impl`'s,
// or null.
JournalScope* CurrentJournal(const Engine::Impl& impl);

// Runs `f` (a consume, reserve ...) holding the journal lock, so that its
// effect and record are one step; then acknowledges its records.
template <class F>
auto WithJournal(Engine::Impl& impl, size_t bytes, F&& f) -> decltype(f()) {
  uint64_t lsn = 0;
  std::optional<decltype(f())> result;
  {
    JournalScope journal(impl, bytes);
    if (!journal.status().ok()) return journal.status();
    result.emplace(f());
    // An answer that changed nothing (a keyed retry answered from memory)
    // may still rest on records not yet flushed: it waits for all of them.
    lsn = journal.lsn() != 0 ? journal.lsn() : impl.journal->last_lsn();
  }
  if (absl::Status s = Acknowledge(impl, lsn); !s.ok()) return s;
  return *std::move(result);
}

// C6 under the writer lock, at a given time (live calls and replay).
absl::Status CommitAt(Engine::Impl& impl, ReservationId reservation, int64_t actual, int64_t now_ns,
                      uint64_t revision, std::vector<LedgerEntry>* entries)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.write_mu);
absl::Status ReleaseAt(Engine::Impl& impl, ReservationId reservation, int64_t now_ns,
                       uint64_t revision, std::vector<LedgerEntry>* entries)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.write_mu);
// Applies a credit record (every type but kRun) onto `v`, the newest
// version. DataLoss when it does not decode or does not apply.
absl::Status ApplyCreditRecord(Engine::Impl& impl, const Version& v, const JournalRecord& record);

// Applies one record to an engine that has no journal attached yet: a Run
// by running its changes again (write_path.h), a credit record by its own
// decoder (credit_records.cc). DataLoss naming the lsn when the record does
// not decode or apply.
absl::Status ReplayRecord(Engine& engine, const JournalRecord& record);
// After replay: rebuilds what replay leaves approximate (free lists).
void FinishReplay(Engine& engine);

// The lineage, lsn and checksum of the snapshot an engine was loaded from.
struct SnapshotBase {
  std::array<uint8_t, 16> lineage{};
  uint64_t lsn = 0;
  std::array<uint8_t, 32> checksum{};
};
// P3: gives `engine` the journal in options.journal. `snapshot` is the
// snapshot the engine was loaded from (null: a new engine). Replays what the
// journal holds past it, then appends from there. DataLoss /
// FailedPrecondition as Engine::Open says.
absl::Status AttachJournal(Engine& engine, const Engine::Options& options,
                           const SnapshotBase* snapshot);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_ENGINE_JOURNAL_H_
