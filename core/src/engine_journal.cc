// Copyright 2026 The tenantry Authors.
//
// P3: the engine's side of the journal (engine_journal.h): the lock scope,
// the Run record, replay, and opening an engine on a journal.
#include "engine_journal.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine_impl.h"
#include "engine_internal.h"
#include "epoch.h"
#include "ops.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "write_path.h"

namespace tenantry {

namespace internal {

// ---- The lock scope ----

namespace {
thread_local JournalScope* current_scope = nullptr;
}  // namespace

JournalScope* CurrentJournal(const Engine::Impl& impl) {
  return current_scope != nullptr && &current_scope->impl_ == &impl ? current_scope : nullptr;
}

// Conditional locking (only with a journal, only once per thread) is more
// than the thread-safety analysis follows; the lock order is documented in
// engine_impl.h.
JournalScope::JournalScope(Engine::Impl& impl, size_t bytes) ABSL_NO_THREAD_SAFETY_ANALYSIS
    : impl_(impl) {
  if (impl.journal == nullptr) return;
  if (current_scope != nullptr && &current_scope->impl_ == &impl) {
    outer_ = current_scope;
  } else {
    impl.journal_mu.Lock();
    locked_ = true;
  }
  previous_ = current_scope;
  current_scope = this;
  status_ = impl.journal->Reserve(bytes);
}

JournalScope::~JournalScope() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (impl_.journal == nullptr) return;
  current_scope = previous_;
  if (locked_) impl_.journal_mu.Unlock();
}

void JournalScope::Append(JournalRecordType type, const std::string& payload) {
  if (impl_.journal == nullptr) return;
  lsn_ = impl_.journal->Append(static_cast<uint8_t>(type), payload);
  for (JournalScope* s = outer_; s != nullptr; s = s->outer_) s->lsn_ = lsn_;
}

absl::Status Acknowledge(Engine::Impl& impl, uint64_t lsn) {
  if (impl.journal == nullptr || lsn == 0) return absl::OkStatus();
  absl::Status s = impl.journal->Acknowledge(lsn);
  if (s.ok()) return s;
  return WithMessage(
      s, absl::StatusCode::kInternal,
      absl::StrCat("the change was applied and journaled, but flushing the journal failed, so it "
                   "is not known to be on disk: ",
                   s.message()));
}

// ---- The Run record ----
//   i64 now_ns, u32 n, n x 32-byte token hash, u32 m, m x (u32 size, op)

size_t RunRecordBytes(absl::Span<const std::string> ops) {
  size_t bytes = 8 + 8 + 4 + 4;
  for (const std::string& op : ops) {
    bytes += 4 + op.size();
    uint8_t code = 0;
    if (OpCodeOf(op, &code) && (code == static_cast<uint8_t>(OpCode::kInvite) ||
                                code == static_cast<uint8_t>(OpCode::kInviteStaff) ||
                                code == static_cast<uint8_t>(OpCode::kResend))) {
      bytes += 32;
    }
  }
  return bytes;
}

std::string RunRecord(int64_t now_ns, int64_t invitation_ttl_s,
                      const std::vector<std::array<uint8_t, 32>>& token_hashes,
                      absl::Span<const std::string> ops) {
  std::string out;
  out.reserve(RunRecordBytes(ops));
  OpWriter w(&out);
  w.Put(now_ns);
  w.Put(invitation_ttl_s);
  w.Put(static_cast<uint32_t>(token_hashes.size()));
  for (const auto& h : token_hashes) out.append(reinterpret_cast<const char*>(h.data()), h.size());
  w.Put(static_cast<uint32_t>(ops.size()));
  for (const std::string& op : ops) w.Put(op);
  return out;
}

absl::Status DecodeRun(const JournalRecord& record, RunReplay* replay,
                       std::vector<std::string>* ops) {
  OpReader in(record.payload);
  uint32_t hashes = 0;
  if (!in.Get(&replay->now_ns) || !in.Get(&replay->invitation_ttl_s) ||
      replay->invitation_ttl_s < 1 || replay->invitation_ttl_s > limits::kInvitationTtlMaxS ||
      !in.Get(&hashes) || hashes > record.payload.size() / 32) {
    return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                   absl::StrCat("journal: record ", record.lsn, " (a change) does not decode"));
  }
  replay->token_hashes.resize(hashes);
  for (auto& h : replay->token_hashes) {
    for (uint8_t& b : h) {
      if (!in.Get(&b)) break;
    }
  }
  if (!in.Get(ops) || !in.done() || ops->empty()) {
    return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                   absl::StrCat("journal: record ", record.lsn, " (a change) does not decode"));
  }
  return absl::OkStatus();
}

namespace {

// One credit record's fields, in words ("workspace 12, meter 1, ...").
std::string DescribeCredit(const JournalRecord& record) {
  OpReader in(record.payload);
  uint64_t a = 0, b = 0, c = 0, d = 0;
  uint32_t meter = 0;
  int64_t x = 0, y = 0;
  switch (static_cast<JournalRecordType>(record.type)) {
    case JournalRecordType::kConsume:
      if (in.Get(&a) && in.Get(&meter) && in.Get(&x) && in.Get(&y)) {
        return absl::StrCat("consume: workspace ", a, ", meter ", meter, ", ", x, " regular + ", y,
                            " extra");
      }
      break;
    case JournalRecordType::kKeyedConsume:
      if (in.Get(&a) && in.Get(&b) && in.Get(&c) && in.Get(&d) && in.Get(&x) && in.Get(&y)) {
        return absl::StrCat("keyed consume: key slot ", b, ", amount ", y);
      }
      break;
    case JournalRecordType::kReserve: {
      uint32_t index = 0;
      if (in.Get(&a) && in.Get(&index) && in.Get(&b) && in.Get(&c) && in.Get(&meter) &&
          in.Get(&x)) {
        return absl::StrCat("reserve: workspace ", c, ", meter ", meter, ", amount ", x);
      }
      break;
    }
    case JournalRecordType::kCommit:
      if (in.Get(&a) && in.Get(&x)) return absl::StrCat("commit: reservation ", a, ", actual ", x);
      break;
    case JournalRecordType::kRelease:
      if (in.Get(&a)) return absl::StrCat("release: reservation ", a);
      break;
    case JournalRecordType::kSweep:
      return "expired reservations released";
    default:
      return absl::StrCat("a record of unknown type ", record.type);
  }
  return absl::StrCat("a record of type ", record.type, " that does not decode");
}

}  // namespace

std::string DescribeRecord(const JournalRecord& record) {
  if (record.type != static_cast<uint8_t>(JournalRecordType::kRun)) return DescribeCredit(record);
  RunReplay replay;
  std::vector<std::string> ops;
  if (!DecodeRun(record, &replay, &ops).ok()) return "a change that does not decode";
  std::string out = ops.size() == 1 ? "change: " : absl::StrCat(ops.size(), " changes: ");
  for (size_t i = 0; i < ops.size() && i < 8; ++i) {
    uint8_t code = 0;
    absl::StrAppend(&out, i == 0 ? "" : ", ", OpCodeOf(ops[i], &code) ? OpName(code) : "empty");
  }
  if (ops.size() > 8) absl::StrAppend(&out, ", ...");
  return out;
}

JournalRecovery RecoveryOf(const JournalScan& scan) {
  JournalRecovery report;
  report.records = scan.records_read;
  report.torn_bytes = scan.torn_bytes;
  if (!scan.damaged) return report;
  report.damaged = true;
  report.reason = scan.damage_reason;
  report.segment = scan.damage_segment;
  report.offset = scan.damage_offset;
  report.kept_through_lsn = scan.last_lsn;
  report.lost_through_lsn = scan.LostThrough();
  report.readable.reserve(scan.past_damage.size());
  for (const JournalRecord& record : scan.past_damage) {
    report.readable.push_back(LostRecord{record.lsn, DescribeRecord(record)});
  }
  return report;
}

absl::Status DamageError(const std::string& dir, const JournalRecovery& report) {
  assert(report.damaged);
  return Refusal(
      absl::StatusCode::kDataLoss, {"P3"},
      absl::StrCat(
          "journal: segment '", report.segment, "' is damaged at offset ", report.offset,
          " (after lsn ", report.kept_through_lsn, "): ", report.reason, "; lsn ",
          report.kept_through_lsn + 1, " to ", report.lost_through_lsn, " (",
          report.readable.size(),
          " still readable) would be lost. Nothing was changed. To keep the records before the "
          "damage and set the rest aside, with a report: `tenantry journal repair ",
          dir, "`, or open with on_journal_damage = truncate"));
}

absl::Status ReplayRecord(Engine& engine, const JournalRecord& record) {
  if (record.type == static_cast<uint8_t>(JournalRecordType::kRun)) {
    RunReplay replay;
    std::vector<std::string> ops;
    TNY_RETURN_IF_ERROR(DecodeRun(record, &replay, &ops));
    absl::StatusOr<std::vector<uint64_t>> done = RunChanges(engine, ops, true, nullptr, &replay);
    if (!done.ok()) {
      return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                     absl::StrCat("journal: record ", record.lsn,
                                  " does not apply again: ", done.status().message()));
    }
    return absl::OkStatus();
  }
  ReadGuard guard;
  return ApplyCreditRecord(EngineInternal::impl(engine), *EngineInternal::newest(engine), record);
}

void FinishReplay(Engine& engine) {
  // Replayed holds took their slots directly: rebuild the free list.
  if (ReservationTable* table =
          EngineInternal::impl(engine).reservations.load(std::memory_order_acquire)) {
    table->RestoreFreeList();
  }
}

absl::Status AttachJournal(Engine& engine, const Engine::Options& options,
                           const SnapshotBase* snapshot) {
  Engine::Impl& impl = EngineInternal::impl(engine);
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                       Journal::Open(options.journal, options.durability, options.group_commit_ms));
  // Which records continue this engine: those after the snapshot's lsn in
  // a journal of the snapshot's lineage, or the whole of a journal that
  // was started on exactly this snapshot (or on an empty engine).
  // One pass over the directory; the records the snapshot holds are dropped
  // once its lineage and lsn say which they are.
  TNY_ASSIGN_OR_RETURN(JournalScan scan, journal->Scan(0));
  if (scan.damaged && options.on_journal_damage == OnJournalDamage::kRefuse) {
    return DamageError(options.journal, RecoveryOf(scan));
  }
  uint64_t after = 0;
  const std::array<uint8_t, 32> no_snapshot{};
  if (!scan.empty) {
    const bool same_lineage = snapshot != nullptr && scan.identity.lineage == snapshot->lineage;
    if (same_lineage) {
      after = snapshot->lsn;
      if (scan.first_base > after) {
        return Refusal(
            absl::StatusCode::kDataLoss, {"P3"},
            absl::StrCat("journal: '", options.journal, "' starts after lsn ", scan.first_base,
                         " but the snapshot ends at lsn ", after,
                         ": the records between were dropped by a newer snapshot; load the newest "
                         "snapshot"));
      }
      if (scan.last_lsn < after) {
        return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                       absl::StrCat("journal: '", options.journal, "' ends at lsn ", scan.last_lsn,
                                    " before the snapshot (lsn ", after,
                                    "): it lost records it had acknowledged"));
      }
    } else if (scan.first_base != 0) {
      return Refusal(
          absl::StatusCode::kFailedPrecondition, {"P3"},
          absl::StrCat("journal: '", options.journal, "' continues a snapshot at lsn ",
                       scan.first_base,
                       snapshot == nullptr ? "; recover by loading that snapshot with this journal "
                                             "(LoadSnapshot, Engine.load, tny_load)"
                                           : " of another engine"));
    } else if (snapshot == nullptr ? scan.identity.base_snapshot != no_snapshot
                                   : scan.identity.base_snapshot != snapshot->checksum) {
      return Refusal(
          absl::StatusCode::kFailedPrecondition, {"P3"},
          absl::StrCat(
              "journal: '", options.journal, "' was started on ",
              scan.identity.base_snapshot == no_snapshot ? "an empty engine" : "another snapshot",
              snapshot == nullptr ? "" : ", not on this snapshot",
              snapshot == nullptr ? "; recover by loading that snapshot with this journal "
                                    "(LoadSnapshot, Engine.load, tny_load)"
                                  : ""));
    } else if (snapshot == nullptr) {
      // Recovery of an engine that never had a snapshot: its secrets come
      // from the journal.
      impl.token_key = scan.identity.token_key;
      impl.key_hash_key = scan.identity.key_hash_key;
    }
    const auto tail = std::find_if(scan.records.begin(), scan.records.end(),
                                   [after](const JournalRecord& r) { return r.lsn > after; });
    for (auto it = tail; it != scan.records.end(); ++it) {
      TNY_RETURN_IF_ERROR(ReplayRecord(engine, *it));
    }
    FinishReplay(engine);
    // A snapshot was verified by its loader: only a replayed tail needs it.
    if (tail != scan.records.end()) TNY_RETURN_IF_ERROR(engine.verify());
    scan.records.clear();
    impl.lineage = scan.identity.lineage;
  }
  // Cut only once everything before the damage has applied: a refused open
  // leaves the journal as it found it.
  impl.journal_recovery = RecoveryOf(scan);
  if (scan.damaged) {
    TNY_ASSIGN_OR_RETURN(impl.journal_recovery.set_aside, journal->CutAtDamage(&scan));
    impl.journal_recovery.truncated = true;
  }
  JournalIdentity identity;
  identity.lineage = impl.lineage;
  identity.token_key = impl.token_key;
  identity.key_hash_key = impl.key_hash_key;
  if (snapshot != nullptr) identity.base_snapshot = snapshot->checksum;
  TNY_RETURN_IF_ERROR(journal->Start(scan, identity, 0));
  impl.journal = std::move(journal);
  EngineInternal::MarkJournaled(engine);
  return absl::OkStatus();
}

}  // namespace internal

const JournalRecovery& Engine::journal_recovery() const { return impl_->journal_recovery; }

absl::StatusOr<JournalRecovery> RepairJournal(const std::string& dir, bool dry_run) {
  // Taking the lock makes LOCK; a directory that turns out to hold no
  // journal is left as it was found.
  const std::string lock = dir + "/LOCK";
  const bool had_lock = ::access(lock.c_str(), F_OK) == 0;
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<internal::Journal> journal,
                       internal::Journal::Open(dir, Durability::kSync,
                                               limits::kGroupCommitDefaultMs, /*create=*/false));
  // UINT64_MAX: every record is checked, none is kept in memory.
  TNY_ASSIGN_OR_RETURN(internal::JournalScan scan, journal->Scan(UINT64_MAX));
  if (scan.empty) {
    journal.reset();
    if (!had_lock) ::unlink(lock.c_str());
    return Refusal(absl::StatusCode::kNotFound, {"P3"},
                   absl::StrCat("journal: '", dir, "' holds no journal"));
  }
  JournalRecovery report = internal::RecoveryOf(scan);
  if (scan.damaged && !dry_run) {
    TNY_ASSIGN_OR_RETURN(report.set_aside, journal->CutAtDamage(&scan));
    report.truncated = true;
  }
  return report;
}

std::string FormatJournalRecovery(const JournalRecovery& r) {
  std::string out = absl::StrCat("records      ", r.records, " sound\n");
  if (r.torn_bytes > 0) {
    absl::StrAppend(&out, "torn tail    ", r.torn_bytes,
                    " bytes of a last record cut short by a crash (dropped)\n");
  }
  if (!r.damaged) return out + "damage       none\n";
  absl::StrAppend(&out, "damage       ", r.reason, "\n", "at           ", r.segment, " offset ",
                  r.offset, "\n", "kept         lsn ", r.kept_through_lsn, " and before\n",
                  "lost         lsn ", r.kept_through_lsn + 1, " to ", r.lost_through_lsn, " (",
                  r.readable.size(), " readable, listed below; the others unreadable)\n");
  absl::StrAppend(
      &out,
      r.truncated ? "cut          yes; the cut segments are kept in " : "cut          no (dry run)",
      r.set_aside, "\n");
  for (const LostRecord& lost : r.readable) {
    absl::StrAppend(&out, "lost lsn ", lost.lsn, "  ", lost.what, "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(Options options) {
  TNY_RETURN_IF_ERROR(ValidateOptions(options));
  try {
    auto engine = std::make_unique<Engine>(options);
    if (options.journal.empty()) return engine;
    TNY_RETURN_IF_ERROR(internal::AttachJournal(*engine, options, nullptr));
    return engine;
  } catch (const std::bad_alloc&) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"P3"},
                   absl::StrCat("journal: out of memory recovering '", options.journal, "'"));
  }
}

}  // namespace tenantry
