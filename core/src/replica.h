// Copyright 2026 The tenantry Authors.
//
// A replica (R1-R7, docs/replication.md): an engine that follows a group's
// shared log (log.h) in place of a journal.
//
//  - Every record of the log is what the journal records (P3): one type
//    byte, then the journal record's payload. Position 1 is the group's
//    genesis (kGroup: the lineage and the secrets every replica must share,
//    R5); every later record is a transaction of ops (kRun), replayed by the
//    same code as journal recovery, at its recorded time (R3).
//  - A change (R2) holds the engine's apply lock, brings the engine up to
//    the head, runs there, and appends at the position it ran at
//    (Log::Append with the expected head): refused changes append nothing;
//    a head that moved meanwhile gives the change up (its version is never
//    published, its cells are put back) and runs it again on the new head.
//    The change is published only once its record is in the log.
//  - The follower thread (R3) wakes on the log's notification and polls,
//    reads records with no lock held, then applies them under the apply
//    lock, one version per record. Reads never wait for any of it.
//  - Every change has an id (R7); an append whose outcome is unknown is
//    `unavailable` naming it, and a change retried with the same id is
//    answered from the log (its results from the replica's memory of recent
//    records), never applied twice.
//
// Lock order: Engine::Impl::save_mu, apply_mu, write_mu, ... (engine_impl.h).
#ifndef TENANTRY_CORE_SRC_REPLICA_H_
#define TENANTRY_CORE_SRC_REPLICA_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "log.h"
#include "tenantry/engine.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// The record format this build writes on a log, and the newest it applies.
// A replica that meets a newer record stops applying and refuses changes,
// naming both (rolling upgrades: new replicas first); its reads go on.
inline constexpr int32_t kLogFormatVersion = 1;

// Opens a fresh connection to the group's log (a replica holds two: the
// writers' and the follower's; follow() opens both again after fork).
using LogFactory = std::function<absl::StatusOr<std::unique_ptr<Log>>()>;

// What a change run on a replica produced: kept for the records applied
// lately, so that a retry with the same change id gets the first answer.
struct ChangeResult {
  int64_t position = 0;
  std::vector<uint64_t> ids;
  BucketAmounts taken{};
  Invitation invitation;   // the token of an invitation this change issued
  std::string ops_digest;  // the ops, so that a retry must be the same change
};

class Replica {
 public:
  // `applied`: the position the engine's state is at (0: empty, or the
  // loaded snapshot's position).
  Replica(Engine& engine, LogFactory factory, std::unique_ptr<Log> writer,
          std::unique_ptr<Log> follower, std::string replica_id, int64_t applied,
          const Engine::Options& options);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Starts the follower thread.
  void Start();
  // Stops it (idempotent); changes are refused from then on.
  void Stop();

  // R4: the last applied position.
  int64_t position() const { return applied_.load(std::memory_order_acquire); }
  // R4: waits until `position` is applied; DeadlineExceeded naming both.
  absl::Status WaitFor(int64_t position, int64_t timeout_ms) const;

  // R2: runs `ops` as one change through the log; see the top.
  // `change_id` empty: a fresh one.
  absl::StatusOr<ChangeResult> Run(absl::Span<const std::string> ops, bool batch,
                                   absl::string_view change_id);

  // R8: validates `ops` at the head and returns the record for the
  // application's transaction; nothing is applied or appended.
  absl::StatusOr<PreparedChange> Prepare(absl::Span<const std::string> ops,
                                         absl::string_view change_id);

  // Applies the records up to the head (the caller holds apply_mu), reading
  // them on the writers' connection. Used at open and by changes.
  absl::Status CatchUpLocked();

  // R5: after fork(), in the child: a new id and new connections, the
  // follower started again.
  absl::Status Follow();
  // In the child right after fork() (engine_fork.cc), with one thread: the
  // connections and the follower thread are the parent's.
  void MarkForked();
  // The lock of the replica's state, taken last by the fork handlers.
  std::mutex& state_mutex() { return state_mu_; }

  // ---- R6: credit leases (this replica's part of workspaces' balances) ----
  // A consume on this replica's lease of (workspace, meter): true, with
  // what the lease holds after in `*left`, when the lease covered it.
  // Lock-free (one 16-byte CAS); the caller checked the workspace (T5).
  bool ConsumeOnLease(WorkspaceId workspace, MeterId meter, int64_t amount, int64_t* left);
  // A consume the lease did not cover, through the log, in one record: the
  // lease returned (settled), the consume, a new lease taken (R6). `key`
  // (C5) and `authorize` (A7) as ConsumeThroughLog says.
  absl::StatusOr<int64_t> ConsumeThroughLog(WorkspaceId workspace, MeterId meter, int64_t amount,
                                            absl::string_view key, bool authorize, UserId user,
                                            PermissionId permission);
  // Settles what the leases consumed, in one record; renews and tops up
  // the ones in use, returns the idle ones and those near their end; with
  // `end_all`, returns every lease (close()). Runs on the follower thread
  // every settle interval.
  absl::Status SettleLeases(bool end_all);
  // R5: close(): the leases returned, then the follower stopped.
  void Close();

  // R4: the position of the calling thread's last change on `engine`.
  static int64_t LastChangePosition(const Engine& engine);

  const std::string& replica_id() const { return replica_id_; }
  // A new connection to the group's log (storing snapshots, truncating).
  absl::StatusOr<std::unique_ptr<Log>> OpenLog() const { return factory_(); }
  // Why changes are refused (data_loss, a newer record format, closed,
  // forked without follow()), or OK.
  absl::Status Usable() const;

  // The group's genesis record (position 1) for a new group: the engine's
  // lineage and secrets. Decoding it sets them on the engine.
  static std::string GenesisRecord(const Engine::Impl& impl);

 private:
  absl::Status ApplyLocked(const LogRecord& record);
  absl::Status ApplyAllLocked(std::vector<LogRecord> records);
  void FollowerLoop();
  void Fail(absl::Status status);
  std::string NewChangeId();
  void Remember(const std::string& change_id, ChangeResult result);
  const ChangeResult* Recall(const std::string& change_id) const;

  // One (workspace, meter) this replica consumes on: its lease, if any.
  // `word` = what the lease still holds (low 64 bits) | what was consumed
  // on it (high 64), changed together by one CAS, so that a settlement
  // closing the lease (remaining 0) sees every consume that succeeded.
  struct LocalLease {
    WorkspaceId workspace = 0;
    MeterId meter = 0;
    alignas(16) unsigned __int128 word = 0;
    // lease_mu_:
    uint64_t hold = 0;  // the hold's id; 0: none
    int64_t settled = 0;
    int64_t use_until_ms = 0;  // steady clock: stop using it then
    int64_t idle_since_ms = 0;
  };
  static constexpr size_t kLeaseSlots = 4096;
  LocalLease* FindLease(WorkspaceId workspace, MeterId meter) const;
  LocalLease* EnsureLease(WorkspaceId workspace, MeterId meter);  // lease_mu_
  // Takes what the lease holds out of local use; returns the word it
  // replaced (what remained and what was consumed, read together: a consume
  // between two separate reads would be given back on a restore).
  static unsigned __int128 CloseLease(LocalLease& lease);
  void OpenLease(LocalLease& lease, uint64_t hold, int64_t amount);  // lease_mu_
  // What the leases of (workspace, meter) hold in the newest version: this
  // replica's, other replicas' (asked back or not) and what is available.
  struct LeasesOfOthers {
    int64_t available = 0, own = 0, held = 0, recalled = 0;
  };
  LeasesOfOthers OthersLeases(WorkspaceId workspace, MeterId meter) const;
  // R6: a consume of `amount` the log refused: when other replicas' leases
  // would cover it, a record asks them back and this waits (at most a
  // settle interval and a poll) for their owners to return them. True when
  // it asked (a retry may succeed). Called without lease_mu_.
  bool AskLeasesBack(WorkspaceId workspace, MeterId meter, int64_t amount);

  Engine& engine_;
  LogFactory factory_;
  const Engine::Options options_;
  std::mutex lease_mu_;  // before apply_mu
  std::unique_ptr<std::atomic<LocalLease*>[]> lease_slots_;
  std::vector<std::unique_ptr<LocalLease>> leases_;  // lease_mu_
  int64_t next_settle_ms_ = 0;                       // the follower thread's
  uint64_t seen_recalls_ = 0;                        // the follower thread's
  std::unique_ptr<Log> writer_;                      // apply_mu
  std::unique_ptr<Log> follower_;                    // the follower thread's
  std::string replica_id_;

  std::atomic<int64_t> applied_;
  // The change id of the record at applied_ (its successor must follow it:
  // a log that changed under the replica is data_loss), and the newest
  // record time (R4: time is monotone by position). apply_mu.
  std::string applied_change_id_;
  int64_t last_time_ns_ = 0;
  uint64_t next_change_ = 0;

  // Results of the records applied lately, by change id (apply_mu).
  absl::flat_hash_map<std::string, ChangeResult> results_;
  std::deque<std::string> result_order_;

  mutable std::mutex state_mu_;
  mutable std::condition_variable applied_cv_;
  absl::Status failure_;   // state_mu_
  bool stopping_ = false;  // state_mu_
  bool forked_ = false;    // state_mu_
  std::unique_ptr<std::thread> thread_;
};

// Makes `engine` (new, or loaded from the snapshot at `position`) a replica
// of the log `factory` opens: two connections, a genesis record if the log
// is empty (R5), every record after `position` applied, the follower
// started. Unavailable / DataLoss / FailedPrecondition as the log says.
absl::Status AttachLog(Engine& engine, LogFactory factory, int64_t position,
                       const Engine::Options& options);

// R6: a consume on a replica: on its lease when the lease covers it and no
// key is given, else through the log (Replica::ConsumeThroughLog). A7 with
// `authorize`. A key makes the change id, so a retry anywhere in the group
// is never debited twice.
absl::StatusOr<int64_t> ReplicaConsume(Engine& engine, WorkspaceId workspace, int64_t amount,
                                       MeterRef meter, absl::string_view key, bool authorize,
                                       UserId user, PermissionId permission);
// C6 on a replica: reservations are holds made through the log.
absl::StatusOr<ReservationId> ReplicaReserve(Engine& engine, WorkspaceId workspace, int64_t amount,
                                             MeterRef meter, int64_t ttl_s);
absl::Status ReplicaSettle(Engine& engine, ReservationId reservation, int64_t actual, bool release);
absl::StatusOr<uint64_t> ReplicaExpire(Engine& engine);
absl::StatusOr<ReservationInfo> ReplicaReservation(const Engine& engine, ReservationId reservation);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_REPLICA_H_
