// Copyright 2026 The tenantry Authors.
//
// The write path of every engine, journal or not (write_path.h): one
// Writer under the writer lock, the changes validated and applied to a new
// version, the journal record, one publication, the old nodes retired.
#include "write_path.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine_impl.h"
#include "engine_internal.h"
#include "engine_journal.h"
#include "epoch.h"
#include "model.h"
#include "mutex.h"
#include "ops.h"
#include "replica.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "test_hooks.h"
#include "writer.h"

namespace tenantry::internal {

std::atomic<const TestHook*> TestHooks::before_publish{nullptr};

absl::StatusOr<std::vector<uint64_t>> RunChanges(Engine& engine, absl::Span<const std::string> ops,
                                                 bool batch, RunOutput* out,
                                                 const RunReplay* replay, const LogAppend* log) {
  Engine::Impl& impl = EngineInternal::impl(engine);
  if (impl.replica != nullptr && replay == nullptr && log == nullptr) {
    TNY_ASSIGN_OR_RETURN(ChangeResult result, impl.replica->Run(ops, batch, ""));
    if (out != nullptr) {
      out->taken = result.taken;
      out->invitation = result.invitation;
    }
    return std::move(result.ids);
  }
  if (ops.size() > limits::kMaxBatchChanges) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"X2"},
                   absl::StrCat("a batch holds at most ", limits::kMaxBatchChanges, " changes"));
  }
  // P3: the record's size is known before anything runs (ops, the time, at
  // most one token hash per invitation change), so that the journal makes
  // room before the transaction has any effect.
  const bool journaled = impl.journal != nullptr;  // set when the engine opened
  const size_t record_bytes = journaled ? RunRecordBytes(ops) : 0;
  const bool moves_credits = std::any_of(ops.begin(), ops.end(), [](const std::string& op) {
    uint8_t code = 0;
    return OpCodeOf(op, &code) && OpMovesCredits(code);
  });
  std::vector<uint64_t> results;
  results.reserve(ops.size());
  std::vector<AuditRecord> audit;
  uint64_t lsn = 0;
  {
    MutexLock lock(&impl.write_mu);
    // A transfer or revoke changes a balance cell while it runs: its record
    // is ordered with consumption from the start (engine_impl.h).
    std::optional<JournalScope> journal;
    if (moves_credits) {
      journal.emplace(impl, record_bytes);
      TNY_RETURN_IF_ERROR(journal->status());
    }
    // Only writers store the root, and they hold write_mu, so this load sees
    // the newest version.
    const Version* base = EngineInternal::newest(engine);
    const int64_t now_ns = replay != nullptr ? replay->now_ns
                           : log != nullptr  ? std::max(impl.clock->now_ns(), log->min_now_ns)
                                             : impl.clock->now_ns();
    const int64_t ttl_s =
        replay != nullptr ? replay->invitation_ttl_s : impl.options.invitation_ttl_s;
    Writer writer(base, now_ns, impl.token_key, ttl_s);
    if (replay != nullptr) writer.ReplayTokens(replay->token_hashes);
    // R6, C6: on a replica, every record first releases the holds past their
    // end at its time (the same on every replica).
    // (An explicit expire_holds op counts them itself.)
    uint8_t first = 0;
    if (impl.replica != nullptr && !base->holds.empty() &&
        !(OpCodeOf(ops.front(), &first) && first == static_cast<uint8_t>(OpCode::kExpireHolds))) {
      (void)writer.ExpireHolds();
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      absl::StatusOr<uint64_t> result = Dispatch(writer, ops[i]);
      if (result.ok() && !writer.replay_status().ok()) result = writer.replay_status();
      if (replay == nullptr && result.status().code() == absl::StatusCode::kDataLoss) {
        // A live op that does not decode was encoded from an argument out
        // of its range (an enum value this build does not know).
        uint8_t code = 0;
        OpCodeOf(ops[i], &code);
        result = absl::InvalidArgumentError(absl::StrCat(
            "an argument of '", OpName(code), "' is out of range (an unknown enum value)"));
      }
      if (!result.ok()) {
        writer.UndoCells();
        writer.txn().Abort();
        if (!batch) return result.status();
        uint8_t code = 0;
        OpCodeOf(ops[i], &code);
        return WithMessage(result.status(), absl::StrCat("change #", i, " (", OpName(code),
                                                         ") failed; nothing was applied: ",
                                                         result.status().message()));
      }
      results.push_back(*result);
    }
    // Tests stall a writer here, holding the writer lock with the new
    // version built but neither journaled nor published (X1).
    RunTestHook(TestHooks::before_publish);
    if (!journal.has_value()) {
      journal.emplace(impl, record_bytes);
      if (!journal->status().ok()) {
        writer.txn().Abort();
        return journal->status();
      }
    }
    // The record first: a reader may see the new version as soon as it is
    // published, and what a reader saw must survive a crash.
    // The record is built only for a journal or a log that keeps it.
    std::string record;
    if (journaled || log != nullptr) record = RunRecord(now_ns, ttl_s, writer.issued_hashes(), ops);
    if (log != nullptr) {
      // R2: a replica's record goes to the group's log; the change is given
      // up if it does not get there.
      absl::StatusOr<int64_t> position = log->append(record);
      if (!position.ok()) {
        writer.UndoCells();
        writer.txn().Abort();
        return position.status();
      }
    }
    if (journaled) journal->Append(JournalRecordType::kRun, record);
    // Nothing after this point can fail: deleted workspaces' credits go
    // back to their pools now (T7).
    writer.FinishCredits(impl.reservations);
    writer.FinishSessions();
    // Publish: one seq_cst store of the root (X1, X2), then move the epoch
    // and hand over what the new version replaced (X4; see epoch.h).
    EngineInternal::Publish(engine, writer.version());
    std::vector<Garbage> garbage = writer.txn().Commit();
    Epochs::Retire(Epochs::Advance(), std::move(garbage));
    audit = std::move(writer.audit());
    SweepExpired(impl, writer.version()->revision, now_ns, true, &writer.ledger_entries());
    AppendLedger(impl, writer.ledger_entries());
    if (out != nullptr) {
      out->invitation = writer.last_invitation();
      out->taken = writer.last_taken();
    }
    MutexLock feed_lock(&impl.feed_mu);
    for (AuditRecord& entry : audit) impl.feed.push_back(std::move(entry));
    while (impl.feed.size() > impl.options.feed_retention) {
      impl.feed_dropped_through = impl.feed.front().revision;
      impl.feed.pop_front();
    }
    lsn = journal->lsn();
  }
  // Freeing outside the writer lock keeps the next writer from waiting on it.
  Epochs::Reclaim();
  TNY_RETURN_IF_ERROR(Acknowledge(impl, lsn));
  return results;
}

absl::StatusOr<uint64_t> RunOp(Engine& engine, const std::string& op, RunOutput* out) {
  TNY_ASSIGN_OR_RETURN(std::vector<uint64_t> results, RunChanges(engine, {&op, 1}, false, out));
  return results.front();
}

}  // namespace tenantry::internal
