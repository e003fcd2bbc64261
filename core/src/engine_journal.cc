// Copyright 2026 The tenantry Authors.
//
// P3: the engine's side of the journal (engine_journal.h): the lock scope,
// the Run record, replay, and opening an engine on a journal.
#include "engine_journal.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine_impl.h"
#include "epoch.h"
#include "ops.h"
#include "status_macros.h"

namespace tenantry {

const char* DurabilityName(Durability durability) {
  switch (durability) {
    case Durability::kSync:
      return "sync";
    case Durability::kGroup:
      return "group";
    case Durability::kNone:
      return "none";
  }
  return "unknown";
}

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
  return absl::InternalError(
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

namespace {

absl::Status DecodeRun(const JournalRecord& record, RunReplay* replay,
                       std::vector<std::string>* ops) {
  OpReader in(record.payload);
  uint32_t hashes = 0;
  if (!in.Get(&replay->now_ns) || !in.Get(&replay->invitation_ttl_s) ||
      replay->invitation_ttl_s < 1 || replay->invitation_ttl_s > limits::kInvitationTtlMaxS ||
      !in.Get(&hashes) || hashes > record.payload.size() / 32) {
    return absl::DataLossError(
        absl::StrCat("journal: record ", record.lsn, " (a change) does not decode (P3)"));
  }
  replay->token_hashes.resize(hashes);
  for (auto& h : replay->token_hashes) {
    for (uint8_t& b : h) {
      if (!in.Get(&b)) break;
    }
  }
  if (!in.Get(ops) || !in.done() || ops->empty()) {
    return absl::DataLossError(
        absl::StrCat("journal: record ", record.lsn, " (a change) does not decode (P3)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status JournalAccess::Replay(Engine& engine, const JournalRecord& record) {
  if (record.type == static_cast<uint8_t>(JournalRecordType::kRun)) {
    RunReplay replay;
    std::vector<std::string> ops;
    TNY_RETURN_IF_ERROR(DecodeRun(record, &replay, &ops));
    absl::StatusOr<std::vector<uint64_t>> done = RunOps(engine, ops, true, nullptr, &replay);
    if (!done.ok()) {
      return absl::DataLossError(absl::StrCat("journal: record ", record.lsn,
                                              " does not apply again: ", done.status().message(),
                                              " (P3)"));
    }
    return absl::OkStatus();
  }
  ReadGuard guard;
  return ReplayCredit(*engine.impl_, *root(engine), record);
}

void JournalAccess::FinishReplay(Engine& engine) {
  // Replayed holds took their slots directly: rebuild the free list.
  if (ReservationTable* table = engine.impl_->reservations.load(std::memory_order_acquire)) {
    table->RestoreFreeList();
  }
}

absl::Status JournalAccess::Attach(Engine& engine, const Engine::Options& options,
                                   const Base* snapshot) {
  Engine::Impl& impl = *engine.impl_;
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                       Journal::Open(options.journal, options.durability, options.group_commit_ms));
  // Which records continue this engine: those after the snapshot's lsn in
  // a journal of the snapshot's lineage, or the whole of a journal that
  // was started on exactly this snapshot (or on an empty engine).
  // One pass over the directory; the records the snapshot holds are dropped
  // once its lineage and lsn say which they are.
  TNY_ASSIGN_OR_RETURN(JournalScan scan, journal->Scan(0));
  uint64_t after = 0;
  const std::array<uint8_t, 32> no_snapshot{};
  if (!scan.empty) {
    const bool same_lineage = snapshot != nullptr && scan.identity.lineage == snapshot->lineage;
    if (same_lineage) {
      after = snapshot->lsn;
      if (scan.first_base > after) {
        return absl::DataLossError(
            absl::StrCat("journal: '", options.journal, "' starts after lsn ", scan.first_base,
                         " but the snapshot ends at lsn ", after,
                         ": the records between were dropped by a newer snapshot; load the newest "
                         "snapshot (P3)"));
      }
      if (scan.last_lsn < after) {
        return absl::DataLossError(absl::StrCat("journal: '", options.journal, "' ends at lsn ",
                                                scan.last_lsn, " before the snapshot (lsn ", after,
                                                "): it lost records it had acknowledged (P3)"));
      }
    } else if (scan.first_base != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "journal: '", options.journal, "' continues a snapshot at lsn ", scan.first_base,
          snapshot == nullptr ? "; recover by loading that snapshot with this journal "
                                "(LoadSnapshot, Engine.load, tny_load)"
                              : " of another engine",
          " (P3)"));
    } else if (snapshot == nullptr ? scan.identity.base_snapshot != no_snapshot
                                   : scan.identity.base_snapshot != snapshot->checksum) {
      return absl::FailedPreconditionError(absl::StrCat(
          "journal: '", options.journal, "' was started on ",
          scan.identity.base_snapshot == no_snapshot ? "an empty engine" : "another snapshot",
          snapshot == nullptr ? "" : ", not on this snapshot",
          snapshot == nullptr ? "; recover by loading that snapshot with this journal "
                                "(LoadSnapshot, Engine.load, tny_load)"
                              : "",
          " (P3)"));
    } else if (snapshot == nullptr) {
      // Recovery of an engine that never had a snapshot: its secrets come
      // from the journal.
      impl.token_key = scan.identity.token_key;
      impl.key_hash_key = scan.identity.key_hash_key;
    }
    const auto tail = std::find_if(scan.records.begin(), scan.records.end(),
                                   [after](const JournalRecord& r) { return r.lsn > after; });
    for (auto it = tail; it != scan.records.end(); ++it) {
      TNY_RETURN_IF_ERROR(Replay(engine, *it));
    }
    FinishReplay(engine);
    // A snapshot was verified by its loader: only a replayed tail needs it.
    if (tail != scan.records.end()) TNY_RETURN_IF_ERROR(engine.verify());
    scan.records.clear();
    impl.lineage = scan.identity.lineage;
  }
  JournalIdentity identity;
  identity.lineage = impl.lineage;
  identity.token_key = impl.token_key;
  identity.key_hash_key = impl.key_hash_key;
  if (snapshot != nullptr) identity.base_snapshot = snapshot->checksum;
  TNY_RETURN_IF_ERROR(journal->Start(scan, identity, 0));
  impl.journal = std::move(journal);
  engine.journaled_ = true;
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(Options options) {
  TNY_RETURN_IF_ERROR(ValidateOptions(options));
  try {
    auto engine = std::make_unique<Engine>(options);
    if (options.journal.empty()) return engine;
    TNY_RETURN_IF_ERROR(internal::JournalAccess::Attach(*engine, options, nullptr));
    return engine;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("journal: out of memory recovering '", options.journal, "' (P3)"));
  }
}

}  // namespace tenantry
