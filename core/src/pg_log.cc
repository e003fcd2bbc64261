// Copyright 2026 The tenantry Authors.
#include "pg_log.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "status_macros.h"
#include "tenantry/status.h"

namespace tenantry {
namespace {

using internal::MutexLock;

// The SQLSTATEs append_if_head raises: the head moved; the head row is gone.
constexpr char kHeadMovedState[] = "TN001";
constexpr char kNoHeadRowState[] = "TN002";
constexpr char kChangedState[] = "TN003";

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

absl::Status R1(absl::StatusCode code, absl::string_view message) {
  return Refusal(code, {"R1"}, message);
}

// The one-line message of a failed command or connection.
std::string ErrorText(const PGresult* result, pg_conn* conn) {
  const char* text =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = text != nullptr ? text : (conn != nullptr ? PQerrorMessage(conn) : "");
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  return message.empty() ? "no message" : message;
}

std::string SqlStateOf(const PGresult* result) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? state : "";
}

// Big-endian integers of the binary result format.
int64_t BinaryInt64(const PGresult* result, int row, int column) {
  assert(PQgetlength(result, row, column) == 8);
  const auto* bytes = reinterpret_cast<const unsigned char*>(PQgetvalue(result, row, column));
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | bytes[i];
  return static_cast<int64_t>(value);
}

int32_t BinaryInt32(const PGresult* result, int row, int column) {
  assert(PQgetlength(result, row, column) == 4);
  const auto* bytes = reinterpret_cast<const unsigned char*>(PQgetvalue(result, row, column));
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | bytes[i];
  return static_cast<int32_t>(value);
}

std::string BinaryBytes(const PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column),
                     static_cast<size_t>(PQgetlength(result, row, column)));
}

absl::StatusOr<int64_t> TextInt64(const PGresult* result, int row, int column) {
  int64_t value = 0;
  if (PQgetisnull(result, row, column) ||
      !absl::SimpleAtoi(PQgetvalue(result, row, column), &value)) {
    return R1(absl::StatusCode::kDataLoss,
              "the log's database returned a position that is no number");
  }
  return value;
}

std::string Quoted(pg_conn* conn, absl::string_view text, bool identifier) {
  char* quoted = identifier ? PQescapeIdentifier(conn, text.data(), text.size())
                            : PQescapeLiteral(conn, text.data(), text.size());
  if (quoted == nullptr) return "";
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

// The body of append_if_head; %1$s is the quoted schema, %2$s the followers'
// notification channel as a literal (the schema's name). Its parameters are
// named apart from the columns (plpgsql would find them ambiguous).
constexpr char kAppendFunctionBody[] = R"(
DECLARE
  head_position bigint;
  existing bigint;
  previous text;
BEGIN
  SELECT h.position INTO head_position FROM %1$s.head h WHERE h.singleton FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'TN002', MESSAGE = 'the log''s head row is missing';
  END IF;
  SELECT r.position INTO existing FROM %1$s.records r WHERE r.change_id = new_change_id;
  IF FOUND THEN
    IF report_existing THEN
      RETURN -existing;
    END IF;
    RETURN existing;
  END IF;
  IF head_position <> expected_head THEN
    RAISE EXCEPTION USING ERRCODE = 'TN001',
      MESSAGE = format('the log''s head is at %%s, not at the expected %%s',
                       head_position, expected_head),
      DETAIL = head_position::text;
  END IF;
  IF expected_prev_change_id IS NOT NULL AND head_position > 0 THEN
    SELECT r.change_id INTO previous FROM %1$s.records r WHERE r.position = head_position;
    IF FOUND AND previous <> expected_prev_change_id THEN
      RAISE EXCEPTION USING ERRCODE = 'TN003',
        MESSAGE = format('the log changed: position %%s holds change %%s, not %%s',
                         head_position, previous, expected_prev_change_id);
    END IF;
  END IF;
  INSERT INTO %1$s.records (position, format_version, change_id, payload)
    VALUES (head_position + 1, new_format_version, new_change_id, new_payload);
  UPDATE %1$s.head SET position = head_position + 1 WHERE singleton;
  PERFORM pg_notify(%2$s, (head_position + 1)::text);
  RETURN head_position + 1;
END
)";

}  // namespace

// One command with its parameters: numbers as text, bytes as binary.
class PgLog::Query {
 public:
  Query& Number(int64_t value) {
    texts_.push_back(absl::StrCat(value));
    AddParam(nullptr, 0, 0);
    return *this;
  }
  Query& Bytes(absl::string_view bytes) {
    // A null pointer would be SQL NULL; empty bytes are not.
    AddParam(bytes.data() != nullptr ? bytes.data() : "", static_cast<int>(bytes.size()), 1);
    return *this;
  }

  // Runs `sql`; the result, or the status of its failure. `binary` asks for
  // the results in binary form.
  absl::StatusOr<Result> Run(pg_conn* conn, const std::string& sql, bool binary = false) {
    // Text parameters point into texts_, which no longer grows.
    size_t next_text = 0;
    for (size_t i = 0; i < values_.size(); ++i) {
      if (formats_[i] == 0) values_[i] = texts_[next_text++].c_str();
    }
    Result result(PQexecParams(conn, sql.c_str(), static_cast<int>(values_.size()), nullptr,
                               values_.data(), lengths_.data(), formats_.data(), binary ? 1 : 0));
    const ExecStatusType status =
        result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return result;
    return Failure(conn, result.get());
  }

  // A failed command as a status: unavailable for a connection that broke or
  // a lock not granted in time, data_loss for a broken invariant of the log.
  static absl::Status Failure(pg_conn* conn, const PGresult* result) {
    const std::string state = SqlStateOf(result);
    const std::string text = ErrorText(result, conn);
    if (PQstatus(conn) != CONNECTION_OK || state.empty() || state.rfind("08", 0) == 0 ||
        state.rfind("57P0", 0) == 0) {
      return R1(
          absl::StatusCode::kUnavailable,
          absl::StrCat("the log's database cannot be reached (", text, "); retry once it is back"));
    }
    if (state == kHeadMovedState) {
      return R1(absl::StatusCode::kFailedPrecondition,
                absl::StrCat(text, "; nothing was appended: catch up to the head and retry"));
    }
    if (state == "55P03") {
      return R1(absl::StatusCode::kUnavailable,
                absl::StrCat("the log's head lock was not granted in time (", text,
                             "): another writer holds it; retry"));
    }
    if (state == kChangedState) {
      return Refusal(absl::StatusCode::kDataLoss, {"R7"},
                     absl::StrCat("the log changed under this replica (", text,
                                  "): the record it applied there was replaced"));
    }
    if (state == kNoHeadRowState || state == "23505" || state == "23514") {
      return R1(absl::StatusCode::kDataLoss,
                absl::StrCat("the log's tables break their invariants (", text, ")"));
    }
    return R1(absl::StatusCode::kInternal,
              absl::StrCat("the log's database failed: ", text, " (SQLSTATE ", state, ")"));
  }

 private:
  void AddParam(const char* value, int length, int format) {
    values_.push_back(value);
    lengths_.push_back(length);
    formats_.push_back(format);
  }

  std::vector<std::string> texts_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

PgLog::PgLog(std::string conninfo, std::string schema, const PgLogOptions& options)
    : conninfo_(std::move(conninfo)), schema_(std::move(schema)), options_(options) {}

PgLog::~PgLog() {
  MutexLock lock(&mu_);
  if (conn_ != nullptr) PQfinish(conn_);
}

absl::StatusOr<std::unique_ptr<PgLog>> PgLog::Open(absl::string_view conninfo,
                                                   absl::string_view schema,
                                                   const PgLogOptions& options) {
  if (schema.empty() || schema.size() > kMaxSchemaNameBytes ||
      schema.find('\0') != absl::string_view::npos) {
    return R1(absl::StatusCode::kInvalidArgument,
              absl::StrFormat("the log's schema name must be 1 to %d bytes, without NUL",
                              kMaxSchemaNameBytes));
  }
  if (options.lock_timeout_ms <= 0 || options.connect_timeout_s <= 0) {
    return R1(absl::StatusCode::kInvalidArgument,
              "the log's lock and connect timeouts must be positive");
  }
  std::unique_ptr<PgLog> log(new PgLog(std::string(conninfo), std::string(schema), options));
  MutexLock lock(&log->mu_);
  TNY_RETURN_IF_ERROR(log->Connect());
  TNY_RETURN_IF_ERROR(log->CreateOrCheckSchema());
  return log;
}

absl::Status PgLog::Connect() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  if (conn_ != nullptr) PQfinish(conn_);
  listening_ = false;  // a new connection listens to nothing yet
  // dbname is expanded from the connection string, whose settings override
  // the connect_timeout before it.
  const std::string timeout = absl::StrCat(options_.connect_timeout_s);
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), conninfo_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  // The server's notices (a crash's WARNING, DETAIL, HINT) are not the
  // host program's stderr's: failures reach the caller as statuses.
  if (conn_ != nullptr)
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string text = ErrorText(nullptr, conn_);
    return R1(absl::StatusCode::kUnavailable,
              absl::StrCat("cannot connect to the log's database (", text,
                           "); check that it runs and that the connection string names it"));
  }
  // Creating the schema again says NOTICE "already exists": not worth stderr.
  // jit off: until the one-row head table is analyzed, the planner expects
  // hundreds of rows and JIT-compiles a catch-up read (3-7 ms instead of
  // 0.5). Custom plans: a generic plan made while the log was tiny would
  // scan every record for append_if_head's change-id lookup (2-11 ms at
  // 60,000 records instead of 0.1; bench/REPLICA_NOTES.md).
  Result set(PQexec(conn_, absl::StrCat("SET lock_timeout = ", options_.lock_timeout_ms,
                                        "; SET client_min_messages = warning; SET jit = off"
                                        "; SET plan_cache_mode = force_custom_plan")
                               .c_str()));
  if (set == nullptr || PQresultStatus(set.get()) != PGRES_COMMAND_OK) {
    return Query::Failure(conn_, set.get());
  }
  return absl::OkStatus();
}

absl::Status PgLog::CreateOrCheckSchema() {
  if (quoted_schema_.empty()) {
    quoted_schema_ = Quoted(conn_, schema_, /*identifier=*/true);
    if (quoted_schema_.empty()) {
      return R1(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("the log's schema name cannot be quoted: ", ErrorText(nullptr, conn_)));
    }
  }
  TNY_RETURN_IF_ERROR(Query().Run(conn_, "BEGIN").status());
  if (absl::Status status = CreateOrCheckSchemaInTransaction(); !status.ok()) {
    // A broken connection has nothing to roll back; this fails quietly then.
    Result rollback(PQexec(conn_, "ROLLBACK"));
    return status;
  }
  // COMMIT of a transaction that failed answers OK with the tag ROLLBACK.
  TNY_ASSIGN_OR_RETURN(Result commit, Query().Run(conn_, "COMMIT"));
  if (std::strcmp(PQcmdStatus(commit.get()), "COMMIT") != 0) {
    return R1(absl::StatusCode::kAborted, absl::StrCat("creating the log's schema ", quoted_schema_,
                                                       " was rolled back; open it again"));
  }
  return absl::OkStatus();
}

absl::Status PgLog::CreateOrCheckSchemaInTransaction() {
  const std::string& s = quoted_schema_;
  // Two processes creating the same schema at once take turns.
  TNY_RETURN_IF_ERROR(Query()
                          .Bytes(schema_)
                          .Run(conn_, "SELECT pg_advisory_xact_lock(hashtext($1::text))")
                          .status());
  TNY_RETURN_IF_ERROR(Query().Run(conn_, absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", s)).status());
  TNY_ASSIGN_OR_RETURN(Result meta,
                       Query().Bytes(schema_).Run(
                           conn_, "SELECT to_regclass(format('%I.meta', $1::text)) IS NOT NULL"));
  if (PQgetvalue(meta.get(), 0, 0)[0] == 't') {
    TNY_ASSIGN_OR_RETURN(
        Result version,
        Query().Run(conn_, absl::StrCat("SELECT schema_version FROM ", s, ".meta")));
    if (PQntuples(version.get()) != 1) {
      return R1(absl::StatusCode::kDataLoss,
                absl::StrCat("the log's schema ", s, " has no version row in ", s, ".meta"));
    }
    TNY_ASSIGN_OR_RETURN(int64_t found, TextInt64(version.get(), 0, 0));
    if (found > kPgLogSchemaVersion) {
      return R1(absl::StatusCode::kFailedPrecondition,
                absl::StrFormat("the log's schema %s is at version %d; this engine reads "
                                "version %d at most: upgrade the engine",
                                s, found, kPgLogSchemaVersion));
    }
    if (found < 1) {
      return R1(
          absl::StatusCode::kDataLoss,
          absl::StrFormat("the log's schema %s has version %d, which never existed", s, found));
    }
    return absl::OkStatus();
  }
  const std::string body =
      Quoted(conn_, absl::StrFormat(kAppendFunctionBody, s, Quoted(conn_, schema_, false)),
             /*identifier=*/false);
  const std::string create = absl::StrCat(
      "CREATE TABLE ", s, ".meta (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),",
      " schema_version integer NOT NULL);", "CREATE TABLE ", s,
      ".head (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),",
      " position bigint NOT NULL CHECK (position >= 0),",
      " first_position bigint NOT NULL CHECK (first_position >= 1));", "CREATE TABLE ", s,
      ".records (position bigint PRIMARY KEY CHECK (position >= 1),",
      " format_version integer NOT NULL, change_id text NOT NULL UNIQUE,",
      " payload bytea NOT NULL, written_at timestamptz NOT NULL DEFAULT now());", "CREATE TABLE ",
      s, ".snapshots (position bigint NOT NULL CHECK (position >= 0),",
      " chunk integer NOT NULL CHECK (chunk >= 0), bytes bytea NOT NULL,",
      " PRIMARY KEY (position, chunk));", "CREATE FUNCTION ", s,
      ".append_if_head(expected_head bigint, new_change_id text,",
      " new_payload bytea, new_format_version integer DEFAULT 1,",
      " expected_prev_change_id text DEFAULT NULL, report_existing boolean DEFAULT false)",
      " RETURNS bigint", " LANGUAGE plpgsql AS ", body, ";", "INSERT INTO ", s,
      ".meta (schema_version) VALUES (", kPgLogSchemaVersion, ");", "INSERT INTO ", s,
      ".head (position, first_position) VALUES (0, 1);");
  // Several statements: the simple protocol, without parameters.
  Result made(PQexec(conn_, create.c_str()));
  if (made == nullptr || PQresultStatus(made.get()) != PGRES_COMMAND_OK) {
    return Query::Failure(conn_, made.get());
  }
  return absl::OkStatus();
}

absl::Status PgLog::NoteHead(int64_t head) {
  if (head < highest_head_seen_) {
    return R1(absl::StatusCode::kDataLoss,
              absl::StrFormat("the log went backwards: its head is at %d after %d was seen", head,
                              highest_head_seen_));
  }
  highest_head_seen_ = head;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PgLog::Head() {
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  TNY_ASSIGN_OR_RETURN(Result result,
                       Query().Run(conn_, absl::StrCat("SELECT position FROM ", quoted_schema_,
                                                       ".head WHERE singleton")));
  if (PQntuples(result.get()) != 1) {
    return R1(absl::StatusCode::kDataLoss, "the log's head row is missing");
  }
  TNY_ASSIGN_OR_RETURN(int64_t head, TextInt64(result.get(), 0, 0));
  TNY_RETURN_IF_ERROR(NoteHead(head));
  return head;
}

absl::StatusOr<int64_t> PgLog::Append(int64_t expected_head, absl::string_view change_id,
                                      absl::string_view payload, int32_t format_version,
                                      absl::string_view expected_prev_change_id, bool* existed) {
  if (expected_head < 0 || change_id.empty() || change_id.size() > kMaxChangeIdBytes ||
      payload.size() > kMaxLogRecordBytes) {
    return R1(absl::StatusCode::kInvalidArgument,
              absl::StrFormat("an append needs an expected head >= 0 (got %d), a change id of "
                              "1 to %d bytes (got %d) and at most %d bytes of record (got %d)",
                              expected_head, kMaxChangeIdBytes, change_id.size(),
                              kMaxLogRecordBytes, payload.size()));
  }
  MutexLock lock(&mu_);
  auto unknown_outcome = [&](const absl::Status& status) {
    return R1(absl::StatusCode::kUnavailable,
              absl::StrCat(MessageWithoutRules(status),
                           "; the change may have been appended: retry it with the same change "
                           "id '",
                           change_id, "', which is never appended twice"));
  };
  if (absl::Status connected = Connect(); !connected.ok()) return connected;
  // R7: the record at the head must be the one the caller applied there
  // ("" = not checked), and a change id already in the log comes back
  // negated, so that this append is never taken for the one that put it
  // there.
  absl::StatusOr<Result> result =
      Query()
          .Number(expected_head)
          .Bytes(change_id)
          .Bytes(payload)
          .Number(format_version)
          .Bytes(expected_prev_change_id)
          .Run(conn_, absl::StrCat("SELECT ", quoted_schema_,
                                   ".append_if_head($1::bigint, $2::text, $3::bytea, $4::integer, "
                                   "NULLIF($5::text, ''), true)"));
  if (!result.ok()) {
    if (absl::IsUnavailable(result.status()) && PQstatus(conn_) != CONNECTION_OK) {
      return unknown_outcome(result.status());
    }
    return result.status();
  }
  TNY_ASSIGN_OR_RETURN(int64_t position, TextInt64(result->get(), 0, 0));
  if (existed != nullptr) *existed = position < 0;
  if (position < 0) position = -position;
  if (position > highest_head_seen_) highest_head_seen_ = position;
  return position;
}

absl::StatusOr<int64_t> PgLog::PositionOf(absl::string_view change_id) {
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  TNY_ASSIGN_OR_RETURN(
      Result result,
      Query().Bytes(change_id).Run(conn_, absl::StrCat("SELECT position FROM ", quoted_schema_,
                                                       ".records WHERE change_id = $1::text")));
  if (PQntuples(result.get()) == 0) return 0;
  return TextInt64(result.get(), 0, 0);
}

absl::StatusOr<std::vector<LogRecord>> PgLog::Read(int64_t from_position, int max_records) {
  if (from_position < 1 || max_records < 1 || max_records > kMaxReadRecords) {
    return R1(absl::StatusCode::kInvalidArgument,
              absl::StrFormat("a read starts at position 1 or above (got %d) and asks for 1 to %d "
                              "records (got %d)",
                              from_position, kMaxReadRecords, max_records));
  }
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  // One statement, so the head and the records are of one snapshot.
  TNY_ASSIGN_OR_RETURN(
      Result result,
      Query()
          .Number(from_position)
          .Number(max_records)
          .Run(conn_,
               absl::StrCat("SELECT h.first_position, h.position, r.position, r.format_version, "
                            "r.change_id, r.payload FROM ",
                            quoted_schema_, ".head h LEFT JOIN LATERAL (SELECT * FROM ",
                            quoted_schema_,
                            ".records WHERE position >= $1::bigint ORDER BY position "
                            "LIMIT $2::bigint) r ON true WHERE h.singleton ORDER BY r.position"),
               /*binary=*/true));
  const PGresult* rows = result.get();
  if (PQntuples(rows) == 0) return R1(absl::StatusCode::kDataLoss, "the log's head row is missing");
  const int64_t first = BinaryInt64(rows, 0, 0);
  const int64_t head = BinaryInt64(rows, 0, 1);
  TNY_RETURN_IF_ERROR(NoteHead(head));
  if (from_position < first) {
    return R1(absl::StatusCode::kFailedPrecondition,
              absl::StrFormat("position %d was truncated: the log starts at %d; load a snapshot "
                              "at or after it",
                              from_position, first));
  }
  std::vector<LogRecord> records;
  if (!PQgetisnull(rows, 0, 2)) {
    records.reserve(static_cast<size_t>(PQntuples(rows)));
    for (int i = 0; i < PQntuples(rows); ++i) {
      LogRecord record;
      record.position = BinaryInt64(rows, i, 2);
      if (record.position != from_position + i) {
        return R1(absl::StatusCode::kDataLoss,
                  absl::StrFormat("the log has a gap: position %d follows %d", record.position,
                                  from_position + i - 1));
      }
      record.format_version = BinaryInt32(rows, i, 3);
      record.change_id = BinaryBytes(rows, i, 4);
      record.payload = BinaryBytes(rows, i, 5);
      records.push_back(std::move(record));
    }
  }
  const int64_t expected = std::clamp<int64_t>(head - from_position + 1, 0, max_records);
  if (static_cast<int64_t>(records.size()) != expected) {
    return R1(absl::StatusCode::kDataLoss,
              absl::StrFormat("the log has a gap: its head is at %d but positions %d.. hold %d "
                              "records, not %d",
                              head, from_position, records.size(), expected));
  }
  return records;
}

absl::Status PgLog::PutSnapshot(int64_t position, absl::Span<const std::string> chunks) {
  if (position < 0 || chunks.empty() || chunks.size() > kMaxSnapshotChunks) {
    return R1(absl::StatusCode::kInvalidArgument,
              absl::StrFormat("a snapshot has a position >= 0 (got %d) and 1 to %d chunks (got %d)",
                              position, kMaxSnapshotChunks, chunks.size()));
  }
  for (const std::string& chunk : chunks) {
    if (chunk.size() > kMaxSnapshotChunkBytes) {
      return R1(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("a snapshot chunk holds at most %d bytes (got %d)",
                                kMaxSnapshotChunkBytes, chunk.size()));
    }
  }
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  const std::string table = absl::StrCat(quoted_schema_, ".snapshots");
  TNY_RETURN_IF_ERROR(Query().Run(conn_, "BEGIN").status());
  // Two replicas storing a snapshot at one position take turns (a lock that
  // conflicts with itself, not with readers), so the second replaces the
  // first instead of colliding with it.
  absl::Status status =
      Query()
          .Run(conn_, absl::StrCat("LOCK TABLE ", table, " IN SHARE ROW EXCLUSIVE MODE"))
          .status();
  if (status.ok()) {
    status = Query()
                 .Number(position)
                 .Run(conn_, absl::StrCat("DELETE FROM ", table, " WHERE position = $1::bigint"))
                 .status();
  }
  const std::string insert = absl::StrCat("INSERT INTO ", table,
                                          " (position, chunk, bytes) VALUES ($1::bigint, "
                                          "$2::integer, $3::bytea)");
  for (size_t i = 0; status.ok() && i < chunks.size(); ++i) {
    status = Query()
                 .Number(position)
                 .Number(static_cast<int64_t>(i))
                 .Bytes(chunks[i])
                 .Run(conn_, insert)
                 .status();
  }
  if (!status.ok()) {
    Result rollback(PQexec(conn_, "ROLLBACK"));
    return status;
  }
  // COMMIT of a transaction that failed answers OK with the tag ROLLBACK.
  TNY_ASSIGN_OR_RETURN(Result commit, Query().Run(conn_, "COMMIT"));
  if (std::strcmp(PQcmdStatus(commit.get()), "COMMIT") != 0) {
    return R1(
        absl::StatusCode::kAborted,
        absl::StrFormat("the snapshot at position %d was rolled back; store it again", position));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PgLog::GetSnapshot(int64_t position) {
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  TNY_ASSIGN_OR_RETURN(Result result,
                       Query().Number(position).Run(
                           conn_,
                           absl::StrCat("SELECT chunk, bytes FROM ", quoted_schema_,
                                        ".snapshots WHERE position = $1::bigint ORDER BY chunk"),
                           /*binary=*/true));
  const PGresult* rows = result.get();
  if (PQntuples(rows) == 0) {
    return R1(absl::StatusCode::kNotFound,
              absl::StrFormat("the log holds no snapshot at position %d", position));
  }
  std::vector<std::string> chunks;
  chunks.reserve(static_cast<size_t>(PQntuples(rows)));
  for (int i = 0; i < PQntuples(rows); ++i) {
    if (BinaryInt32(rows, i, 0) != i) {
      return R1(absl::StatusCode::kDataLoss,
                absl::StrFormat("the snapshot at position %d lacks its chunk %d", position, i));
    }
    chunks.push_back(BinaryBytes(rows, i, 1));
  }
  return chunks;
}

absl::StatusOr<std::vector<int64_t>> PgLog::SnapshotPositions() {
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  TNY_ASSIGN_OR_RETURN(
      Result result,
      Query().Run(conn_, absl::StrCat("SELECT DISTINCT position FROM ", quoted_schema_,
                                      ".snapshots ORDER BY position")));
  std::vector<int64_t> positions;
  for (int i = 0; i < PQntuples(result.get()); ++i) {
    TNY_ASSIGN_OR_RETURN(int64_t position, TextInt64(result.get(), i, 0));
    positions.push_back(position);
  }
  return positions;
}

absl::Status PgLog::Truncate(int64_t position) {
  if (position < 1) {
    return R1(absl::StatusCode::kInvalidArgument,
              absl::StrFormat("the log truncates below position 1 or above (got %d)", position));
  }
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  // One statement: the first position kept moves up and the records below go
  // together, under the head row's lock.
  TNY_ASSIGN_OR_RETURN(
      Result result,
      Query().Number(position).Run(
          conn_, absl::StrCat("WITH h AS (UPDATE ", quoted_schema_,
                              ".head SET first_position = GREATEST(first_position, $1::bigint) "
                              "WHERE singleton AND $1::bigint <= position + 1 RETURNING position), "
                              "d AS (DELETE FROM ",
                              quoted_schema_,
                              ".records WHERE position < $1::bigint AND EXISTS (SELECT 1 FROM h)) "
                              "SELECT position FROM h")));
  if (PQntuples(result.get()) == 0) {
    TNY_ASSIGN_OR_RETURN(Result head_row,
                         Query().Run(conn_, absl::StrCat("SELECT position FROM ", quoted_schema_,
                                                         ".head WHERE singleton")));
    if (PQntuples(head_row.get()) != 1) {
      return R1(absl::StatusCode::kDataLoss, "the log's head row is missing");
    }
    TNY_ASSIGN_OR_RETURN(int64_t head, TextInt64(head_row.get(), 0, 0));
    return R1(absl::StatusCode::kFailedPrecondition,
              absl::StrFormat("cannot truncate below position %d: the log's head is at %d",
                              position, head));
  }
  return absl::OkStatus();
}

std::string PgLog::AppendSql() const {
  return absl::StrCat("SELECT ", quoted_schema_,
                      ".append_if_head($1::bigint, $2::text, $3::bytea, $4::integer)");
}

absl::Status PgLog::DropSnapshotsBelow(int64_t position) {
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  return Query()
      .Number(position)
      .Run(conn_,
           absl::StrCat("DELETE FROM ", quoted_schema_, ".snapshots WHERE position < $1::bigint"))
      .status();
}

absl::StatusOr<bool> PgLog::Wait(int64_t timeout_ms) {
  MutexLock lock(&mu_);
  TNY_RETURN_IF_ERROR(Connect());
  if (!listening_) {
    TNY_RETURN_IF_ERROR(Query().Run(conn_, absl::StrCat("LISTEN ", quoted_schema_)).status());
    listening_ = true;
  }
  // The connection as read under mu_ (a lambda's body is outside the
  // lock for -Wthread-safety; Connect() is not called again in between).
  auto drain = [conn = conn_] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (drain()) return true;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  const int ready = poll(&fd, 1, static_cast<int>(std::clamp<int64_t>(timeout_ms, 0, 60000)));
  if (ready < 0 && errno != EINTR) {
    return R1(absl::StatusCode::kUnavailable,
              absl::StrCat("waiting on the log's connection failed: ", std::strerror(errno)));
  }
  if (ready > 0 && PQconsumeInput(conn_) == 0) {
    return Query::Failure(conn_, nullptr);
  }
  return drain();
}

void PgLog::AbandonAfterFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // The child has one thread, and mu_ may have been held by a thread the
  // child does not have: it is not taken (nor ever again: the caller leaks
  // this object). PQfinish would send the server a goodbye on the parent's
  // socket: the child closes its own copy of the descriptor instead, so the
  // parent's connection is the only one left.
  if (conn_ != nullptr && PQsocket(conn_) >= 0) close(PQsocket(conn_));
  conn_ = nullptr;
}

}  // namespace tenantry
