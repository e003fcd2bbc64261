// Copyright 2026 The tenantry Authors.
//
// A replica following its group's log (replica.h, docs/replication.md).
#include "replica.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "access.h"
#include "credit_cells.h"
#include "credits.h"
#include "engine_impl.h"
#include "engine_internal.h"
#include "engine_journal.h"
#include "epoch.h"
#include "journal.h"
#include "mutex.h"
#include "ops.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "text.h"
#include "write_path.h"

namespace tenantry::internal {
namespace {

// Records read per round trip.
constexpr int kReadBatch = 1000;
// Changes whose results a replica remembers for retries (R7).
constexpr size_t kRememberedChanges = 65536;
// Genesis: the type byte, the lineage, the token key, the key-hash key.
constexpr size_t kGenesisBytes = 1 + 16 + 32 + 16;
// Reconnecting: the first wait, and the longest.
constexpr int64_t kBackoffFirstMs = 10;
constexpr int64_t kBackoffMaxMs = 1000;

// R4: the position of this thread's last change, and on which engine.
thread_local const Engine* last_change_engine = nullptr;
thread_local int64_t last_change_at = 0;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The ops of a change, as one string: a retry must be the same change. A
// keyed consume and the record of its refusal (C5) are the same change:
// both carry the consume's arguments.
std::string Digest(absl::Span<const std::string> ops) {
  std::string out;
  for (const std::string& op : ops) {
    uint8_t code = 0;
    if (OpCodeOf(op, &code) && (code == static_cast<uint8_t>(OpCode::kConsumeCredits) ||
                                code == static_cast<uint8_t>(OpCode::kRefusedConsume))) {
      absl::StrAppend(&out, "consume:", op.size(), ":", absl::string_view(op).substr(1));
      continue;
    }
    absl::StrAppend(&out, op.size(), ":", op);
  }
  return out;
}

// `status` saying `text`, still naming its rules.
absl::Status Reworded(const absl::Status& status, absl::string_view text) {
  const std::vector<std::string> rules = RulesOf(status);
  if (rules.empty()) return WithMessage(status, text);
  return WithMessage(status, absl::StrCat(text, " (", absl::StrJoin(rules, ", "), ")"));
}

// A failure to reach the log, with the change id a retry must carry.
absl::Status Unreachable(const absl::Status& status, const std::string& change_id) {
  absl::Status out = status;
  if (status.message().find(change_id) == absl::string_view::npos) {
    out = Reworded(status, absl::StrCat(MessageWithoutRules(status), "; change id '", change_id,
                                        "': a retry with it is never applied twice"));
  }
  out.SetPayload(kChangeIdTypeUrl, absl::Cord(change_id));
  return out;
}

using u128 = unsigned __int128;
constexpr int kLeaseConsumedShift = 64;

int64_t RemainingOf(u128 word) { return static_cast<int64_t>(static_cast<uint64_t>(word)); }
int64_t ConsumedOf(u128 word) {
  return static_cast<int64_t>(static_cast<uint64_t>(word >> kLeaseConsumedShift));
}
u128 LeaseWord(int64_t remaining, int64_t consumed) {
  return static_cast<u128>(static_cast<uint64_t>(remaining)) |
         (static_cast<u128>(static_cast<uint64_t>(consumed)) << kLeaseConsumedShift);
}
// Two relaxed 8-byte loads: may tear, so only a CAS's first guess (as
// BalanceCell::LoadSeed); no write to the line.
u128 SeedWord(const u128* word) {
  using Half = uint64_t __attribute__((may_alias));
  const auto* halves = reinterpret_cast<const Half*>(word);
  const uint64_t lo = __atomic_load_n(&halves[0], __ATOMIC_RELAXED);
  const uint64_t hi = __atomic_load_n(&halves[1], __ATOMIC_RELAXED);
  return (static_cast<u128>(hi) << 64) | lo;
}
void StoreWord(u128* word, u128 value) {
  u128 seen = SeedWord(word);
  for (;;) {
    const u128 found = __sync_val_compare_and_swap(word, seen, value);
    if (found == seen) return;
    seen = found;
  }
}
u128 LoadWord(const u128* word) {
  // One 16-byte CAS that writes back what it found: an atomic read.
  return __sync_val_compare_and_swap(const_cast<u128*>(word), u128{0}, u128{0});
}

size_t LeaseHome(WorkspaceId workspace, MeterId meter) {
  const uint64_t h =
      (workspace * 0x9E3779B97F4A7C15ULL) ^ (uint64_t{meter} * 0xC2B2AE3D27D4EB4FULL);
  return static_cast<size_t>(h >> 52);  // 12 bits: kLeaseSlots
}

// R5: a replica id of 16 random hex digits.
std::string RandomReplicaId() {
  std::array<uint8_t, 8> random{};
  randombytes_buf(random.data(), random.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

std::string KeyedChangeId(WorkspaceId workspace, MeterId meter, absl::string_view key) {
  std::array<uint8_t, 16> hash{};
  crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const uint8_t*>(key.data()),
                     key.size(), nullptr, 0);
  return absl::StrCat("c5:", workspace, ":", meter, ":",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(hash.data()), hash.size())));
}

}  // namespace

Replica::Replica(Engine& engine, LogFactory factory, std::unique_ptr<Log> writer,
                 std::unique_ptr<Log> follower, std::string replica_id, int64_t applied,
                 const Engine::Options& options)
    : engine_(engine),
      factory_(std::move(factory)),
      options_(options),
      lease_slots_(new std::atomic<LocalLease*>[kLeaseSlots]()),
      writer_(std::move(writer)),
      follower_(std::move(follower)),
      replica_id_(std::move(replica_id)),
      applied_(applied) {}

Replica::~Replica() { Stop(); }

void Replica::Start() {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (thread_ != nullptr || stopping_ || forked_) return;
  thread_ = std::make_unique<std::thread>([this] { FollowerLoop(); });
}

void Replica::Stop() {
  std::unique_ptr<std::thread> thread;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  applied_cv_.notify_all();
  if (thread != nullptr) thread->join();
}

absl::Status Replica::Usable() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (!failure_.ok()) return failure_;
  if (forked_) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"R5"},
                   "this process was forked from the one that opened the replica: call follow() "
                   "in it first (its own replica id and connections)");
  }
  if (stopping_) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"R5"},
                   "the replica was closed: it no longer follows its log nor takes changes");
  }
  return absl::OkStatus();
}

void Replica::Fail(absl::Status status) {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (failure_.ok()) failure_ = std::move(status);
  }
  applied_cv_.notify_all();
}

absl::Status Replica::WaitFor(int64_t position, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(state_mu_);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0));
  const bool reached = applied_cv_.wait_until(lock, deadline, [&] {
    return applied_.load(std::memory_order_acquire) >= position || stopping_ || !failure_.ok();
  });
  const int64_t at = applied_.load(std::memory_order_acquire);
  if (at >= position) return absl::OkStatus();
  if (reached && !failure_.ok()) {
    return Reworded(failure_, absl::StrCat("position ", position, " will not be applied: ",
                                           MessageWithoutRules(failure_)));
  }
  return Refusal(absl::StatusCode::kDeadlineExceeded, {"R4"},
                 absl::StrCat("position ", position, " was not applied within ", timeout_ms,
                              " ms: this replica is at position ", at));
}

std::string Replica::GenesisRecord(const Engine::Impl& impl) {
  std::string out(1, static_cast<char>(JournalRecordType::kGroup));
  out.append(reinterpret_cast<const char*>(impl.lineage.data()), impl.lineage.size());
  out.append(reinterpret_cast<const char*>(impl.token_key.data()), impl.token_key.size());
  out.append(reinterpret_cast<const char*>(impl.key_hash_key.data()), impl.key_hash_key.size());
  return out;
}

std::string Replica::NewChangeId() { return absl::StrCat(replica_id_, "-", ++next_change_); }

void Replica::Remember(const std::string& change_id, ChangeResult result) {
  if (results_.insert_or_assign(change_id, std::move(result)).second) {
    result_order_.push_back(change_id);
  }
  while (result_order_.size() > kRememberedChanges) {
    results_.erase(result_order_.front());
    result_order_.pop_front();
  }
}

const ChangeResult* Replica::Recall(const std::string& change_id) const {
  auto it = results_.find(change_id);
  return it == results_.end() ? nullptr : &it->second;
}

absl::Status Replica::ApplyLocked(const LogRecord& record) {
  Engine::Impl& impl = EngineInternal::impl(engine_);
  const int64_t at = applied_.load(std::memory_order_relaxed);
  if (record.position <= at) return absl::OkStatus();  // applied by a change meanwhile
  if (record.position != at + 1) {
    return Refusal(absl::StatusCode::kDataLoss, {"R1"},
                   absl::StrCat("the log skips from position ", at, " to ", record.position));
  }
  if (record.format_version > kLogFormatVersion || record.format_version < 1) {
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"R1"},
        absl::StrCat("the log's record at position ", record.position, " is of format version ",
                     record.format_version, "; this engine applies version ", kLogFormatVersion,
                     " at most: upgrade this replica (new replicas first). It stays at "
                     "position ",
                     at, "; its reads go on"));
  }
  if (record.payload.empty()) {
    return Refusal(absl::StatusCode::kDataLoss, {"R1"},
                   absl::StrCat("the log's record at position ", record.position, " is empty"));
  }
  const auto type = static_cast<uint8_t>(record.payload[0]);
  JournalRecord journal{static_cast<uint64_t>(record.position), type, record.payload.substr(1)};
  if (type == static_cast<uint8_t>(JournalRecordType::kGroup)) {
    if (record.payload.size() != kGenesisBytes || at != 0) {
      return Refusal(absl::StatusCode::kDataLoss, {"R5"},
                     absl::StrCat("the group record at position ", record.position,
                                  " is malformed or not the log's first"));
    }
    // R5: the group's secrets, shared by every replica (the engine is still
    // empty: nothing was keyed with its own yet).
    const char* p = record.payload.data() + 1;
    std::memcpy(impl.lineage.data(), p, impl.lineage.size());
    p += impl.lineage.size();
    std::memcpy(impl.token_key.data(), p, impl.token_key.size());
    p += impl.token_key.size();
    std::memcpy(impl.key_hash_key.data(), p, impl.key_hash_key.size());
  } else if (type == static_cast<uint8_t>(JournalRecordType::kRun)) {
    RunReplay replay;
    std::vector<std::string> ops;
    TNY_RETURN_IF_ERROR(DecodeRun(journal, &replay, &ops));
    RunOutput out;
    absl::StatusOr<std::vector<uint64_t>> ids = RunChanges(engine_, ops, true, &out, &replay);
    if (!ids.ok()) {
      return Refusal(absl::StatusCode::kDataLoss, {"R3"},
                     absl::StrCat("the log's record at position ", record.position,
                                  " does not apply on this replica: ", ids.status().message()));
    }
    last_time_ns_ = std::max(last_time_ns_, replay.now_ns);
    Remember(record.change_id,
             ChangeResult{record.position, *std::move(ids), out.taken, Invitation{}, Digest(ops)});
  } else {
    return Refusal(absl::StatusCode::kDataLoss, {"R1"},
                   absl::StrCat("the log's record at position ", record.position,
                                " has the unknown type ", int{type}));
  }
  applied_change_id_ = record.change_id;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    applied_.store(record.position, std::memory_order_release);
  }
  applied_cv_.notify_all();
  return absl::OkStatus();
}

absl::Status Replica::ApplyAllLocked(std::vector<LogRecord> records) {
  for (const LogRecord& record : records) {
    if (absl::Status s = ApplyLocked(record); !s.ok()) {
      // R7: a replica that cannot apply its log stops applying and taking
      // changes; its reads go on at the last applied position.
      Fail(s);
      return s;
    }
  }
  return absl::OkStatus();
}

namespace {

// The records after `applied`. With the change id of the record at
// `applied` known, the read starts there and checks it is still that
// record: a log that went backwards or changed under the replica is
// data_loss (R7).
absl::StatusOr<std::vector<LogRecord>> ReadAfter(Log& log, int64_t applied,
                                                 const std::string& applied_id) {
  if (applied >= 1 && !applied_id.empty()) {
    absl::StatusOr<std::vector<LogRecord>> records = log.Read(applied, kReadBatch + 1);
    if (records.ok()) {
      if (records->empty()) {
        return Refusal(absl::StatusCode::kDataLoss, {"R7"},
                       absl::StrCat("the log went backwards: this replica applied position ",
                                    applied, ", which the log no longer has"));
      }
      if (records->front().change_id != applied_id) {
        return Refusal(absl::StatusCode::kDataLoss, {"R7"},
                       absl::StrCat("the log changed under this replica: position ", applied,
                                    " holds change '", records->front().change_id,
                                    "', this replica applied '", applied_id, "'"));
      }
      records->erase(records->begin());
      return records;
    }
    // Truncated up to the record after it: read from there.
    if (!absl::IsFailedPrecondition(records.status())) return records.status();
  }
  absl::StatusOr<std::vector<LogRecord>> records = log.Read(applied + 1, kReadBatch);
  if (!records.ok() && absl::IsFailedPrecondition(records.status())) {
    return Reworded(records.status(),
                    absl::StrCat("this replica is at position ", applied,
                                 ", whose successor the log no longer keeps: load a newer "
                                 "snapshot; ",
                                 MessageWithoutRules(records.status())));
  }
  return records;
}

}  // namespace

absl::Status Replica::CatchUpLocked() {
  for (;;) {
    TNY_ASSIGN_OR_RETURN(std::vector<LogRecord> records,
                         ReadAfter(*writer_, position(), applied_change_id_));
    const bool full = records.size() >= static_cast<size_t>(kReadBatch);
    TNY_RETURN_IF_ERROR(ApplyAllLocked(std::move(records)));
    if (!full) return absl::OkStatus();
  }
}

void Replica::FollowerLoop() {
  Engine::Impl& impl = EngineInternal::impl(engine_);
  int64_t backoff_ms = kBackoffFirstMs;
  // Sleeps unless stopping; false when stopping.
  auto pause = [&](int64_t ms) {
    std::unique_lock<std::mutex> lock(state_mu_);
    applied_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
    return !stopping_;
  };
  for (;;) {
    {
      // Stopped applying (R7): the thread waits for the close.
      std::unique_lock<std::mutex> lock(state_mu_);
      applied_cv_.wait(lock, [&] { return stopping_ || failure_.ok(); });
      if (stopping_) return;
    }
    int64_t at = 0;
    std::string at_id;
    {
      MutexLock lock(&impl.apply_mu);
      at = position();
      at_id = applied_change_id_;
    }
    absl::StatusOr<std::vector<LogRecord>> records = ReadAfter(*follower_, at, at_id);
    bool full = false;
    absl::Status status = records.status();
    if (records.ok()) {
      full = records->size() >= static_cast<size_t>(kReadBatch);
      MutexLock lock(&impl.apply_mu);
      status = ApplyAllLocked(*std::move(records));
    } else if (absl::IsDataLoss(status) || absl::IsFailedPrecondition(status)) {
      Fail(status);
    }
    if (!status.ok()) {
      if (!pause(backoff_ms)) return;
      backoff_ms = std::min(backoff_ms * 2, kBackoffMaxMs);
      continue;
    }
    backoff_ms = kBackoffFirstMs;
    // R6: one settlement record per interval for all of this replica's
    // leases.
    // A recall (another replica's consume needs what a lease holds) is
    // answered at once.
    bool recall = false;
    if (options_.lease_credits) {
      ReadGuard guard;
      const uint64_t recalls = EngineInternal::newest(engine_)->lease_recalls;
      recall = recalls != seen_recalls_;
      seen_recalls_ = recalls;
    }
    if (options_.lease_credits && (recall || NowMs() >= next_settle_ms_)) {
      (void)SettleLeases(/*end_all=*/false);
      if (!recall) next_settle_ms_ = NowMs() + options_.settle_interval_ms;
    }
    if (full) continue;
    // R3: woken by the log's notification, or by the poll's timeout.
    if (absl::StatusOr<bool> woken = follower_->Wait(options_.log_poll_ms); !woken.ok()) {
      if (!pause(backoff_ms)) return;
      backoff_ms = std::min(backoff_ms * 2, kBackoffMaxMs);
    }
  }
}

absl::StatusOr<ChangeResult> Replica::Run(absl::Span<const std::string> ops, bool batch,
                                          absl::string_view change_id) {
  Engine::Impl& impl = EngineInternal::impl(engine_);
  TNY_RETURN_IF_ERROR(Usable());
  if (change_id.size() > kMaxChangeIdBytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"R7"},
                   absl::StrCat("a change id takes at most ", kMaxChangeIdBytes, " bytes"));
  }
  const std::string digest = Digest(ops);
  MutexLock apply(&impl.apply_mu);
  const std::string id = change_id.empty() ? NewChangeId() : std::string(change_id);
  const int64_t deadline = NowMs() + options_.log_lock_timeout_ms;
  // The first attempt runs on what the follower already applied and
  // appends at once (one round trip: append_if_head refuses a head that
  // moved). Every later attempt, and any refusal, first catches up to the
  // head, so that a refusal is the head's, never a stale state's.
  // A change id the log holds already (a retry) comes back marked as such
  // (Append's `existed`), even at the very position this attempt expected:
  // it is answered from the log, never taken for this attempt's record.
  for (bool at_head = false;; at_head = true) {
    if (at_head) {
      if (absl::Status s = CatchUpLocked(); !s.ok()) {
        return absl::IsUnavailable(s) ? Unreachable(s, id) : s;
      }
    }
    // R7: a change already in the log is answered from it.
    if (const ChangeResult* done = Recall(id); done != nullptr) {
      if (done->ops_digest != digest) {
        return Refusal(absl::StatusCode::kInvalidArgument, {"R7"},
                       absl::StrCat("change id '", id, "' belongs to another change (position ",
                                    done->position, ")"));
      }
      last_change_engine = &engine_;
      last_change_at = done->position;
      return *done;
    }
    const int64_t expected = position();
    int64_t appended = 0;
    int64_t record_time = 0;
    bool head_moved = false;
    LogAppend hook;
    hook.min_now_ns = last_time_ns_;
    hook.append = [&](const std::string& record) -> absl::StatusOr<int64_t> {
      std::memcpy(&record_time, record.data(), sizeof record_time);  // its first field
      std::string payload(1, static_cast<char>(JournalRecordType::kRun));
      payload += record;
      bool existed = false;
      absl::StatusOr<int64_t> at =
          writer_->Append(expected, id, payload, kLogFormatVersion, applied_change_id_, &existed);
      if (!at.ok()) {
        head_moved = absl::IsFailedPrecondition(at.status());
        return at.status();
      }
      appended = *at;
      if (existed || *at != expected + 1) {
        return absl::AbortedError("the change is in the log already");  // answered below
      }
      return at;
    };
    RunOutput out;
    absl::StatusOr<std::vector<uint64_t>> ids =
        RunChanges(engine_, ops, batch, &out, nullptr, &hook);
    if (ids.ok()) {
      last_time_ns_ = std::max(last_time_ns_, record_time);
      applied_change_id_ = id;
      ChangeResult result{appended, *std::move(ids), out.taken, out.invitation, digest};
      Remember(id, result);
      {
        std::lock_guard<std::mutex> lock(state_mu_);
        applied_.store(appended, std::memory_order_release);
      }
      applied_cv_.notify_all();
      last_change_engine = &engine_;
      last_change_at = appended;
      return result;
    }
    if (appended != 0) {
      // A retry of a change the log holds at `appended`: catch up to it and
      // answer with its results.
      if (absl::Status caught = CatchUpLocked(); !caught.ok()) {
        return absl::IsUnavailable(caught) ? Unreachable(caught, id) : caught;
      }
      if (const ChangeResult* done = Recall(id); done != nullptr) continue;
      ChangeResult known;
      known.position = appended;
      known.ops_digest = digest;
      last_change_engine = &engine_;
      last_change_at = appended;
      return known;  // applied before this replica remembers: its position only
    }
    if (head_moved) {
      if (NowMs() > deadline) {
        return Unreachable(
            Refusal(absl::StatusCode::kUnavailable, {"R2"},
                    absl::StrCat("the log's head kept moving for ", options_.log_lock_timeout_ms,
                                 " ms; nothing was appended")),
            id);
      }
      continue;  // another replica appended first: run again on the new head
    }
    const absl::Status& s = ids.status();
    if (absl::IsUnavailable(s)) return Unreachable(s, id);
    if (absl::IsDataLoss(s)) {
      Fail(s);
      return s;
    }
    if (!at_head) continue;  // refused on what may be a stale state: ask the head
    return s;                // a refusal (nothing appended), or the log's own failure
  }
}

int64_t Replica::LastChangePosition(const Engine& engine) {
  return last_change_engine == &engine ? last_change_at : 0;
}

absl::StatusOr<PreparedChange> Replica::Prepare(absl::Span<const std::string> ops,
                                                absl::string_view change_id) {
  TNY_RETURN_IF_ERROR(Usable());
  if (change_id.size() > kMaxChangeIdBytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"R7"},
                   absl::StrCat("a change id takes at most ", kMaxChangeIdBytes, " bytes"));
  }
  Engine::Impl& impl = EngineInternal::impl(engine_);
  MutexLock apply(&impl.apply_mu);
  PreparedChange prepared;
  prepared.sql = writer_->AppendSql();
  if (prepared.sql.empty()) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"R8"},
                   "this group's log cannot take part in an application's transaction");
  }
  TNY_RETURN_IF_ERROR(CatchUpLocked());
  prepared.expected_position = position();
  prepared.change_id = change_id.empty() ? NewChangeId() : std::string(change_id);
  prepared.format_version = kLogFormatVersion;
  LogAppend hook;
  hook.min_now_ns = last_time_ns_;
  hook.append = [&](const std::string& record) -> absl::StatusOr<int64_t> {
    prepared.record.assign(1, static_cast<char>(JournalRecordType::kRun));
    prepared.record += record;
    // Given up here: the application appends it.
    return absl::CancelledError("prepared");
  };
  absl::StatusOr<std::vector<uint64_t>> ran =
      RunChanges(engine_, ops, true, nullptr, nullptr, &hook);
  if (prepared.record.empty()) return ran.status();  // refused
  return prepared;
}

void Replica::MarkForked() {
  // One thread in the child: no lock is needed, and none may be waited for.
  forked_ = true;
  // The parent's: let go of without a word, never destroyed (their locks
  // may be held by threads the child does not have).
  writer_.release()->AbandonAfterFork();
  follower_.release()->AbandonAfterFork();
  // The parent's thread does not exist here: never joined. It may have been
  // waiting on the condition variable: the child's is a fresh one.
  (void)thread_.release();
  new (&applied_cv_) std::condition_variable();
  // R5: the parent's leases are the parent's to spend: void here (never
  // spent twice). The table and its objects are left to the parent's
  // threads' memory; the child starts with none.
  new (&lease_mu_) std::mutex();
  for (const std::unique_ptr<LocalLease>& lease : leases_) {
    lease->hold = 0;
    StoreWord(&lease->word, 0);
  }
}

absl::Status Replica::Follow() {
  Engine::Impl& impl = EngineInternal::impl(engine_);
  bool forked = false, stopping = false;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    forked = forked_;
    stopping = stopping_;
  }
  // Usable() takes state_mu_ itself.
  if (!forked) return stopping ? Usable() : absl::OkStatus();
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> writer, factory_());
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> follower, factory_());
  {
    MutexLock apply(&impl.apply_mu);
    writer_ = std::move(writer);
    follower_ = std::move(follower);
    replica_id_ = RandomReplicaId();
    next_change_ = 0;
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    forked_ = false;
  }
  Start();
  return absl::OkStatus();
}

absl::Status AttachLog(Engine& engine, LogFactory factory, int64_t position,
                       const Engine::Options& options) {
  Engine::Impl& impl = EngineInternal::impl(engine);
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> writer, factory());
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> follower, factory());
  std::string id = options.replica_id;
  if (id.empty()) {
    id = RandomReplicaId();
  } else {
    TNY_RETURN_IF_ERROR(ValidateText(id, limits::kReplicaIdMaxBytes, "a replica id", "R5"));
  }
  if (position == 0) {
    // R5: the group's first record carries its secrets; the first replica
    // writes it (a second one finds it there under the same change id; a
    // log truncated past it is refused by the catch-up below).
    absl::Status genesis =
        writer->Append(0, "group", Replica::GenesisRecord(impl), kLogFormatVersion).status();
    if (!genesis.ok() && !absl::IsFailedPrecondition(genesis)) return genesis;
  }
  impl.replica = std::make_unique<Replica>(engine, std::move(factory), std::move(writer),
                                           std::move(follower), std::move(id), position, options);
  // Consumes take the slow path, which goes through the log.
  EngineInternal::MarkJournaled(engine);
  {
    MutexLock apply(&impl.apply_mu);
    TNY_RETURN_IF_ERROR(impl.replica->CatchUpLocked());
  }
  impl.replica->Start();
  return absl::OkStatus();
}

// ---- R6: credit leases ----

Replica::LocalLease* Replica::FindLease(WorkspaceId workspace, MeterId meter) const {
  const size_t home = LeaseHome(workspace, meter);
  for (size_t i = 0; i < kLeaseSlots; ++i) {
    LocalLease* l = lease_slots_[(home + i) % kLeaseSlots].load(std::memory_order_acquire);
    if (l == nullptr) return nullptr;
    if (l->workspace == workspace && l->meter == meter) return l;
  }
  return nullptr;
}

Replica::LocalLease* Replica::EnsureLease(WorkspaceId workspace, MeterId meter) {
  if (LocalLease* l = FindLease(workspace, meter); l != nullptr) return l;
  const size_t home = LeaseHome(workspace, meter);
  for (size_t i = 0; i < kLeaseSlots; ++i) {
    std::atomic<LocalLease*>& slot = lease_slots_[(home + i) % kLeaseSlots];
    if (slot.load(std::memory_order_acquire) != nullptr) continue;
    auto lease = std::make_unique<LocalLease>();
    lease->workspace = workspace;
    lease->meter = meter;
    slot.store(lease.get(), std::memory_order_release);
    leases_.push_back(std::move(lease));
    return leases_.back().get();
  }
  return nullptr;  // the table is full: consumes on it go through the log
}

bool Replica::ConsumeOnLease(WorkspaceId workspace, MeterId meter, int64_t amount, int64_t* left) {
  LocalLease* l = FindLease(workspace, meter);
  if (l == nullptr) return false;
  // The seed is a guess: a CAS that fails returns the word exactly, and a
  // refusal is never decided on a guess.
  u128 seen = SeedWord(&l->word);
  bool exact = false;
  for (;;) {
    const int64_t remaining = RemainingOf(seen);
    if (remaining < amount) {
      if (exact) return false;
      seen = LoadWord(&l->word);
      exact = true;
      continue;
    }
    const u128 next = LeaseWord(remaining - amount, ConsumedOf(seen) + amount);
    const u128 found = __sync_val_compare_and_swap(&l->word, seen, next);
    if (found == seen) {
      *left = remaining - amount;
      return true;
    }
    seen = found;
    exact = true;
  }
}

u128 Replica::CloseLease(LocalLease& lease) {
  u128 seen = SeedWord(&lease.word);
  for (;;) {
    const u128 next = LeaseWord(0, ConsumedOf(seen));
    const u128 found = __sync_val_compare_and_swap(&lease.word, seen, next);
    if (found == seen) return seen;
    seen = found;
  }
}

void Replica::OpenLease(LocalLease& lease, uint64_t hold, int64_t amount) {
  lease.hold = hold;
  lease.settled = 0;
  const int64_t now = NowMs();
  // The owner stops a margin (two settlements) before the lease's end.
  lease.use_until_ms = now + options_.lease_ttl_ms - 2 * options_.settle_interval_ms;
  lease.idle_since_ms = now;
  StoreWord(&lease.word, LeaseWord(amount, 0));
}

Replica::LeasesOfOthers Replica::OthersLeases(WorkspaceId workspace, MeterId meter) const {
  LeasesOfOthers out;
  ReadGuard guard;
  const Version& v = *EngineInternal::newest(engine_);
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  const Funding* f = ws == nullptr ? nullptr : FindMeterEntry(ws->credits, meter);
  if (f != nullptr) out.available = Unpack(f->cell->LoadExact()).available();
  v.holds.ForEach([&](uint64_t, const HoldNode* h) {
    if (h->kind != HoldKind::kLease || h->workspace != workspace || h->meter != meter) return;
    const int64_t held = h->held_regular + h->held_extra;
    if (h->owner == replica_id_) {
      out.own += held;
    } else if (h->recalled) {
      out.recalled += held;
    } else {
      out.held += held;
    }
  });
  return out;
}

bool Replica::AskLeasesBack(WorkspaceId workspace, MeterId meter, int64_t amount) {
  const LeasesOfOthers seen = OthersLeases(workspace, meter);
  if (seen.held == 0 || seen.available + seen.own + seen.held + seen.recalled < amount) {
    return false;
  }
  const std::string op = Encode<&Writer::RecallLeases>(replica_id_, workspace, MeterRef(meter));
  if (!Run({&op, 1}, false, "").ok()) return false;
  // A live owner returns its lease when its follower applies the recall
  // (LISTEN/NOTIFY, or its next poll) and one append later.
  const int64_t deadline = NowMs() + options_.settle_interval_ms + options_.log_poll_ms;
  for (;;) {
    const int64_t at = position();
    if (OthersLeases(workspace, meter).recalled == 0) return true;
    const int64_t now = NowMs();
    if (now >= deadline) return true;
    (void)WaitFor(at + 1, std::min(deadline - now, options_.log_poll_ms));
  }
}

absl::StatusOr<int64_t> Replica::ConsumeThroughLog(WorkspaceId workspace, MeterId meter,
                                                   int64_t amount, absl::string_view key,
                                                   bool authorize, UserId user,
                                                   PermissionId permission) {
  std::vector<std::string> ops;
  std::string change_id;
  if (!key.empty()) change_id = KeyedChangeId(workspace, meter, key);
  std::unique_lock<std::mutex> leases(lease_mu_);
  const bool leasing = options_.lease_credits && key.empty();
  LocalLease* lease = leasing ? EnsureLease(workspace, meter) : nullptr;
  absl::StatusOr<ChangeResult> done;
  for (bool asked = false;;) {
    ops.clear();
    bool returning = false;
    int64_t returned_remaining = 0;
    int64_t returned_consumed = 0;
    if (lease != nullptr && lease->hold != 0) {
      // The lease goes back in the same record (settled, the rest
      // returned), so that what it held can serve this consume.
      returning = true;
      const u128 closed = CloseLease(*lease);
      returned_remaining = RemainingOf(closed);
      returned_consumed = ConsumedOf(closed);
      ops.push_back(Encode<&Writer::SettleLease>(replica_id_, lease->hold, returned_consumed, true,
                                                 options_.lease_ttl_ms, int64_t{0}));
    }
    ops.push_back(Encode<&Writer::ConsumeCredits>(workspace, amount, MeterRef(meter), key,
                                                  authorize, user, permission));
    if (lease != nullptr) {
      ops.push_back(Encode<&Writer::HoldCredits>(replica_id_, workspace, MeterRef(meter),
                                                 options_.lease_max, true, options_.lease_share,
                                                 options_.lease_floor, options_.lease_ttl_ms));
    }
    done = Run(ops, false, change_id);
    if (!done.ok() && returning) {
      // Nothing was appended: the lease is still this replica's.
      (void)__sync_val_compare_and_swap(&lease->word, LeaseWord(0, returned_consumed),
                                        LeaseWord(returned_remaining, returned_consumed));
    }
    // R6: never refused while the group's balance covers it. What other
    // replicas' leases hold is asked back once, and the consume runs again.
    if (asked || !absl::IsResourceExhausted(done.status())) break;
    leases.unlock();
    asked = AskLeasesBack(workspace, meter, amount);
    leases.lock();
    if (!asked) break;
  }
  if (absl::IsResourceExhausted(done.status())) {
    if (const LeasesOfOthers left = OthersLeases(workspace, meter); left.recalled > 0) {
      done = Refusal(absl::StatusCode::kResourceExhausted, {"C5", "R6"},
                     absl::StrCat(MessageWithoutRules(done.status()), "; ", left.recalled,
                                  " more are leased to replicas that did not return them yet (a "
                                  "lease returns by itself at its end)"));
    }
  }
  if (!key.empty() && absl::IsResourceExhausted(done.status())) {
    // C5: a keyed consume's refusal is its first answer too: recorded under
    // the key's change id, so that a retry anywhere in the group is refused
    // the same way (not debited after a top-up).
    const std::string refusal = Encode<&Writer::RefusedConsume>(workspace, amount, MeterRef(meter),
                                                                key, authorize, user, permission);
    absl::StatusOr<ChangeResult> recorded = Run({&refusal, 1}, false, change_id);
    if (recorded.ok() && !recorded->ids.empty() && recorded->ids.front() != kRefusedConsumeResult) {
      done = std::move(recorded);  // a concurrent first attempt succeeded
    }
  }
  if (done.ok() && !key.empty() && !done->ids.empty() &&
      done->ids.front() == kRefusedConsumeResult) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"C5"},
                   absl::StrCat("a replay of the first consume with idempotency key '", key,
                                "', which was refused: nothing debited"));
  }
  if (!done.ok()) {
    if (!key.empty() && absl::IsInvalidArgument(done.status()) &&
        RulesOf(done.status()) == std::vector<std::string>{"R7"}) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"C5"},
                     absl::StrCat("idempotency key '", key,
                                  "' was used by a consume of another amount or permission"));
    }
    return done.status();
  }
  const size_t consume_at = ops.size() - (lease != nullptr ? 2 : 1);
  if (lease != nullptr) {
    lease->hold = 0;
    const uint64_t hold = done->ids.size() == ops.size() ? done->ids.back() : 0;
    if (hold != 0) {
      ReadGuard guard;
      const HoldNode* node = EngineInternal::newest(engine_)->holds.Find(hold);
      if (node != nullptr) OpenLease(*lease, hold, node->held_regular + node->held_extra);
    }
  }
  if (done->ids.size() > consume_at) return static_cast<int64_t>(done->ids[consume_at]);
  // A keyed retry of a consume this replica does not remember (it started
  // after it): never debited again; what is available now.
  leases.unlock();
  TNY_ASSIGN_OR_RETURN(Balance balance, engine_.balance(workspace, MeterRef(meter)));
  return balance.available();
}

absl::Status Replica::SettleLeases(bool end_all) {
  std::lock_guard<std::mutex> leases(lease_mu_);
  const int64_t now = NowMs();
  struct Step {
    LocalLease* lease;
    int64_t consumed;
    int64_t remaining;
    bool end;
  };
  std::vector<Step> steps;
  std::vector<std::string> ops;
  for (const std::unique_ptr<LocalLease>& owned : leases_) {
    LocalLease& l = *owned;
    if (l.hold == 0) continue;
    const u128 word = LoadWord(&l.word);
    const int64_t consumed = ConsumedOf(word);
    const bool used = consumed > l.settled;
    if (used) l.idle_since_ms = now;
    const bool near_end = now >= l.use_until_ms;
    const bool idle = now - l.idle_since_ms >= 2 * options_.settle_interval_ms;
    // Below the floor the group's last credits go through the log, not
    // into leases: a lease is returned rather than renewed then.
    // A lease another replica asked back (R6) is returned too.
    bool below_floor = false;
    bool recalled = false;
    {
      ReadGuard guard;
      const Version& v = *EngineInternal::newest(engine_);
      const WorkspaceNode* ws = v.workspaces.Find(l.workspace);
      const Funding* f = ws == nullptr ? nullptr : FindMeterEntry(ws->credits, l.meter);
      below_floor = f == nullptr || Unpack(f->cell->LoadExact()).available() < options_.lease_floor;
      const HoldNode* h = v.holds.Find(l.hold);
      recalled = h != nullptr && h->recalled;
    }
    if (end_all || near_end || idle || below_floor || recalled) {
      // Returned: out of local use first, then settled and given back.
      const u128 closed = CloseLease(l);
      const int64_t final_consumed = ConsumedOf(closed);
      steps.push_back({&l, final_consumed, RemainingOf(closed), true});
      ops.push_back(Encode<&Writer::SettleLease>(replica_id_, l.hold, final_consumed, true,
                                                 options_.lease_ttl_ms, int64_t{0}));
    } else if (used) {
      // Settled and renewed; topped up when half of it is gone.
      const int64_t remaining = RemainingOf(word);
      const int64_t top_up =
          remaining < options_.lease_max / 2 ? options_.lease_max - remaining : 0;
      steps.push_back({&l, consumed, remaining, false});
      ops.push_back(Encode<&Writer::SettleLease>(replica_id_, l.hold, consumed, false,
                                                 options_.lease_ttl_ms, top_up));
    }
  }
  if (ops.empty()) return absl::OkStatus();
  absl::StatusOr<ChangeResult> done = Run(ops, true, "");
  if (!done.ok()) {
    // Not settled: the leases stay this replica's until their local end (a
    // lease past it stays closed: the group expires it, forgiving what its
    // owner could not settle).
    for (const Step& step : steps) {
      if (step.end && !end_all && now < step.lease->use_until_ms) {
        (void)__sync_val_compare_and_swap(&step.lease->word, LeaseWord(0, step.consumed),
                                          LeaseWord(step.remaining, step.consumed));
      }
    }
    return done.status();
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    LocalLease& l = *steps[i].lease;
    if (steps[i].end) {
      l.hold = 0;
      StoreWord(&l.word, LeaseWord(0, 0));
      continue;
    }
    l.settled = steps[i].consumed;
    l.use_until_ms = now + options_.lease_ttl_ms - 2 * options_.settle_interval_ms;
    const auto added = static_cast<int64_t>(i < done->ids.size() ? done->ids[i] : 0);
    if (added > 0) {
      u128 seen = LoadWord(&l.word);
      for (;;) {
        const u128 next = LeaseWord(RemainingOf(seen) + added, ConsumedOf(seen));
        const u128 found = __sync_val_compare_and_swap(&l.word, seen, next);
        if (found == seen) break;
        seen = found;
      }
    }
  }
  return absl::OkStatus();
}

void Replica::Close() {
  bool following = false;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    following = !stopping_ && !forked_ && failure_.ok();
  }
  // R5: the leases go back first (bounded by the log's lock timeout).
  if (following && options_.lease_credits) (void)SettleLeases(/*end_all=*/true);
  Stop();
}

absl::StatusOr<int64_t> ReplicaConsume(Engine& engine, WorkspaceId workspace, int64_t amount,
                                       MeterRef meter, absl::string_view key, bool authorize,
                                       UserId user, PermissionId permission) {
  Replica& replica = *EngineInternal::impl(engine).replica;
  if (key.size() > limits::kIdempotencyKeyMaxBytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C5"},
                   absl::StrCat("an idempotency key takes at most ",
                                limits::kIdempotencyKeyMaxBytes, " bytes"));
  }
  MeterId meter_id = 0;
  {
    ReadGuard guard;
    const Version& v = *EngineInternal::newest(engine);
    TNY_ASSIGN_OR_RETURN(meter_id, ResolveMeter(*v.meters, meter));
    if (key.empty()) {
      // R6: on the lease, lock-free, when it covers the consume. The same
      // checks as a consume through the log, in this version.
      const WorkspaceNode* ws = v.workspaces.Find(workspace);
      if (ws != nullptr && ws->active() &&
          (!authorize || Evaluate<false>(v, user, workspace, permission, nullptr))) {
        int64_t left = 0;
        if (replica.ConsumeOnLease(workspace, meter_id, amount, &left)) {
          const Funding* f = FindMeterEntry(ws->credits, meter_id);
          const int64_t in_cell = f == nullptr ? 0 : Unpack(f->cell->LoadExact()).available();
          return left + in_cell;
        }
      }
    }
  }
  return replica.ConsumeThroughLog(workspace, meter_id, amount, key, authorize, user, permission);
}

absl::StatusOr<ReservationId> ReplicaReserve(Engine& engine, WorkspaceId workspace, int64_t amount,
                                             MeterRef meter, int64_t ttl_s) {
  Replica& replica = *EngineInternal::impl(engine).replica;
  const std::string op = Encode<&Writer::HoldCredits>(
      replica.replica_id(), workspace, meter, amount, false, int64_t{1}, int64_t{0}, ttl_s * 1000);
  TNY_ASSIGN_OR_RETURN(ChangeResult done, replica.Run({&op, 1}, false, ""));
  if (done.ids.empty()) {
    return Refusal(absl::StatusCode::kUnavailable, {"R7"},
                   "the reservation's outcome is known only to the log; look it up by its change");
  }
  return done.ids.front();
}

absl::Status ReplicaSettle(Engine& engine, ReservationId reservation, int64_t actual,
                           bool release) {
  Replica& replica = *EngineInternal::impl(engine).replica;
  const std::string op = Encode<&Writer::SettleReservation>(reservation, actual, release);
  return replica.Run({&op, 1}, false, "").status();
}

absl::StatusOr<uint64_t> ReplicaExpire(Engine& engine) {
  Replica& replica = *EngineInternal::impl(engine).replica;
  const std::string op = Encode<&Writer::ExpireHolds>();
  TNY_ASSIGN_OR_RETURN(ChangeResult done, replica.Run({&op, 1}, false, ""));
  return done.ids.empty() ? 0 : done.ids.front();
}

absl::StatusOr<ReservationInfo> ReplicaReservation(const Engine& engine,
                                                   ReservationId reservation) {
  ReadGuard guard;
  const HoldNode* h = EngineInternal::newest(engine)->holds.Find(reservation);
  if (h == nullptr || h->kind != HoldKind::kReservation) {
    return Refusal(absl::StatusCode::kNotFound, {"C6"},
                   absl::StrCat("reservation ", reservation,
                                " is unknown or already settled, released or expired"));
  }
  ReservationInfo info;
  info.id = reservation;
  info.workspace = h->workspace;
  info.meter = h->meter;
  info.held = {h->held_regular, h->held_extra};
  info.expires_at_ns = h->expires_at_ns;
  return info;
}

}  // namespace tenantry::internal
