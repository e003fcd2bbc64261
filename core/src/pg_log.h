// Copyright 2026 The tenantry Authors.
//
// The log (R1) in PostgreSQL, through libpq. A group's log is a schema the
// application names, created on first use and versioned (docs/replication.md
// lists its tables and its SQL function):
//
//   meta       one row: the schema's version
//   head       one row: the newest position, and the first one kept
//   records    position (gap-free 1, 2, 3 ...), format_version, change_id
//              (unique), payload, written_at
//   snapshots  (position, chunk) -> bytes
//   append_if_head(expected_head, change_id, payload [, format_version])
//              the one way records are appended, by this class (one round
//              trip, autocommitted) and by an application inside its own
//              transaction (R8): it takes the head row's lock, answers a
//              known change id with its position, raises if the head moved
//              (SQLSTATE TN001), else appends at head + 1 and notifies
//              the channel named as the schema (followers LISTEN, R3).
//
// A PgLog holds one connection. Every method is safe to call from any thread
// (calls are serialized on that connection); for parallel appends open one
// PgLog per thread. A connection that broke is opened again by the next call.
#ifndef TENANTRY_CORE_SRC_PG_LOG_H_
#define TENANTRY_CORE_SRC_PG_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "log.h"
#include "mutex.h"

struct pg_conn;

namespace tenantry {

// The version of the schema this code creates and reads. A schema of a newer
// version is refused: its writers may append what this code cannot read.
inline constexpr int kPgLogSchemaVersion = 1;

// Bounds on what one call may carry.
inline constexpr size_t kMaxLogRecordBytes = size_t{64} << 20;
inline constexpr size_t kMaxSnapshotChunkBytes = size_t{64} << 20;
inline constexpr size_t kMaxSnapshotChunks = 100000;
inline constexpr int kMaxReadRecords = 100000;
inline constexpr size_t kMaxSchemaNameBytes = 63;  // PostgreSQL's NAMEDATALEN - 1

struct PgLogOptions {
  // How long an append waits for the head row's lock (held by another
  // writer, or by an application's transaction, R8) before it gives up with
  // `unavailable`.
  int lock_timeout_ms = 5000;
  // How long opening a connection may take; the connection string's own
  // connect_timeout wins if it has one.
  int connect_timeout_s = 5;
};

class PgLog final : public Log {
 public:
  // Connects to `conninfo` (a libpq connection string or URI) and opens the
  // log in `schema`, creating the schema and its tables if they do not exist.
  // unavailable if the database cannot be reached; failed_precondition if
  // the schema is of a newer version than kPgLogSchemaVersion.
  static absl::StatusOr<std::unique_ptr<PgLog>> Open(absl::string_view conninfo,
                                                     absl::string_view schema,
                                                     const PgLogOptions& options = {});
  ~PgLog() override;
  PgLog(const PgLog&) = delete;
  PgLog& operator=(const PgLog&) = delete;

  absl::StatusOr<int64_t> Head() override;
  absl::StatusOr<int64_t> Append(int64_t expected_head, absl::string_view change_id,
                                 absl::string_view payload, int32_t format_version,
                                 absl::string_view expected_prev_change_id = {},
                                 bool* existed = nullptr) override;
  absl::StatusOr<int64_t> PositionOf(absl::string_view change_id) override;
  absl::StatusOr<std::vector<LogRecord>> Read(int64_t from_position, int max_records) override;
  absl::Status PutSnapshot(int64_t position, absl::Span<const std::string> chunks) override;
  absl::StatusOr<std::vector<std::string>> GetSnapshot(int64_t position) override;
  absl::StatusOr<std::vector<int64_t>> SnapshotPositions() override;
  absl::Status DropSnapshotsBelow(int64_t position) override;
  absl::Status Truncate(int64_t position) override;
  // LISTENs on the schema's channel (append_if_head notifies it with the new
  // position) on its first call.
  absl::StatusOr<bool> Wait(int64_t timeout_ms) override;
  std::string AppendSql() const override;
  void AbandonAfterFork() override;

  // The schema's name as SQL (quoted): what an application's SQL names,
  // "<schema>".append_if_head(...).
  const std::string& quoted_schema() const { return quoted_schema_; }

 private:
  class Query;
  PgLog(std::string conninfo, std::string schema, const PgLogOptions& options);

  absl::Status Connect() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateOrCheckSchema() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateOrCheckSchemaInTransaction() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The head as read; data_loss if it is below one seen before.
  absl::Status NoteHead(int64_t head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string conninfo_;
  const std::string schema_;
  const PgLogOptions options_;
  std::string quoted_schema_;  // set once by Open

  internal::Mutex mu_;
  pg_conn* conn_ ABSL_GUARDED_BY(mu_) = nullptr;
  int64_t highest_head_seen_ ABSL_GUARDED_BY(mu_) = 0;
  bool listening_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tenantry

#endif  // TENANTRY_CORE_SRC_PG_LOG_H_
