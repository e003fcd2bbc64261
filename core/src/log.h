// Copyright 2026 The tenantry Authors.
//
// The replicas' shared log (R1, docs/replication.md): an ordered, durable
// sequence of records at gap-free positions 1, 2, 3 ..., plus the snapshots
// stored beside it. This is the storage layer only: what a record holds is
// the caller's (a journal record, P3); applying records to an engine is
// core/src/replica.h's.
//
// The interface is narrow on purpose, so that another log (NATS JetStream,
// Kafka) can serve behind it later: append at an expected head, read from a
// position, the head, snapshots in chunks, truncate. PgLog (pg_log.h) is the
// PostgreSQL implementation.
//
// Statuses: a log that cannot be reached is `unavailable` (retry later; an
// append retried with the same change id is never applied twice); a head that
// moved is `failed_precondition`; a log that went backwards or has a gap is
// `data_loss`.
#ifndef TENANTRY_CORE_SRC_LOG_H_
#define TENANTRY_CORE_SRC_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tenantry {

// The longest change id a log keeps (R7).
inline constexpr size_t kMaxChangeIdBytes = 200;

// One record of the log, as stored.
struct LogRecord {
  int64_t position = 0;        // 1, 2, 3 ...
  int32_t format_version = 0;  // the format of `payload`, the writer's
  std::string change_id;       // unique in the log (R7)
  std::string payload;         // opaque bytes
};

class Log {
 public:
  virtual ~Log() = default;

  // The position of the newest record; 0 for an empty log.
  virtual absl::StatusOr<int64_t> Head() = 0;

  // Appends `payload` at expected_head + 1 if the head is still
  // `expected_head`, and returns that position. A `change_id` already in the
  // log returns the position it was appended at and appends nothing, whatever
  // the head is (a retry is never applied twice). A head that moved is
  // failed_precondition naming both positions, with nothing written. With
  // `expected_prev_change_id`, the record at the head must carry it (the
  // one the caller applied there): data_loss otherwise (R7). `*existed`
  // (if given) says whether the change id was in the log already.
  virtual absl::StatusOr<int64_t> Append(int64_t expected_head, absl::string_view change_id,
                                         absl::string_view payload, int32_t format_version,
                                         absl::string_view expected_prev_change_id = {},
                                         bool* existed = nullptr) = 0;

  // The position of `change_id` in the log, or 0 if it is not there: what a
  // caller whose append's outcome is unknown looks up.
  virtual absl::StatusOr<int64_t> PositionOf(absl::string_view change_id) = 0;

  // The records at positions from_position, from_position + 1 ..., at most
  // `max_records` of them (fewer at the head). A position below the first one
  // kept (Truncate) is failed_precondition naming the first kept.
  virtual absl::StatusOr<std::vector<LogRecord>> Read(int64_t from_position, int max_records) = 0;

  // Stores a snapshot of the state at `position` as `chunks`, in order,
  // replacing one stored at that position; all or nothing.
  virtual absl::Status PutSnapshot(int64_t position, absl::Span<const std::string> chunks) = 0;
  // The chunks of the snapshot at `position`, in order; not_found if none.
  virtual absl::StatusOr<std::vector<std::string>> GetSnapshot(int64_t position) = 0;
  // The positions of the stored snapshots, ascending.
  virtual absl::StatusOr<std::vector<int64_t>> SnapshotPositions() = 0;
  // Removes the stored snapshots at positions below `position`.
  virtual absl::Status DropSnapshotsBelow(int64_t position) = 0;

  // Removes the records below `position` (at most head + 1); Read below it
  // is refused from then on. Snapshots are not touched.
  virtual absl::Status Truncate(int64_t position) = 0;

  // R8: the SQL an application runs inside its own transaction to append a
  // record ($1 expected head, $2 change id, $3 payload, $4 format version;
  // returns the position); "" for a log that cannot take part in an
  // application's transaction.
  virtual std::string AppendSql() const = 0;

  // Waits at most `timeout_ms` for a sign that the log may have grown (a
  // notification of an append); true when one came. A follower polls as
  // well, so a lost sign only delays it (R3).
  virtual absl::StatusOr<bool> Wait(int64_t timeout_ms) = 0;

  // In a child process right after fork(), with one thread: the connection
  // is the parent's (one socket, two processes), so this log lets go of it
  // without a word to the server. It takes no lock (one may be held by a
  // thread the child does not have); the caller never uses nor destroys
  // the log again (it leaks it).
  virtual void AbandonAfterFork() = 0;
};

}  // namespace tenantry

#endif  // TENANTRY_CORE_SRC_LOG_H_
