// Copyright 2026 The tenantry Authors.
//
// R5: opening a replica from its group's database (the newest snapshot
// stored there, then the log), and storing and truncating there
// (tenantry/replica.h).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codec.h"
#include "engine_internal.h"
#include "pg_log.h"
#include "replica.h"
#include "status_macros.h"
#include "tenantry/replica.h"
#include "tenantry/status.h"

namespace tenantry {
namespace {

// A stored snapshot's chunks: small enough for one bytea each, few enough
// for a large engine.
constexpr size_t kChunkBytes = size_t{8} << 20;

internal::LogFactory FactoryOf(const Engine::Options& options) {
  PgLogOptions log_options;
  log_options.lock_timeout_ms = static_cast<int>(options.log_lock_timeout_ms);
  return [conninfo = options.log, group = options.group,
          log_options]() -> absl::StatusOr<std::unique_ptr<Log>> {
    TNY_ASSIGN_OR_RETURN(std::unique_ptr<PgLog> log, PgLog::Open(conninfo, group, log_options));
    return std::unique_ptr<Log>(std::move(log));
  };
}

absl::Status NoReplica(const char* what) {
  return Refusal(absl::StatusCode::kFailedPrecondition, {"R5"},
                 absl::StrCat(what, " needs a replica (OpenReplica); this engine follows no log"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> OpenReplica(Engine::Options options) {
  TNY_RETURN_IF_ERROR(Engine::ValidateOptions(options));
  if (options.log.empty() || options.group.empty()) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"R1"},
                   "a replica needs options.log (a connection string) and options.group (the "
                   "schema of the group's log)");
  }
  if (!options.journal.empty()) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"R1"},
                   "a replica has no journal: its group's log takes the journal's place");
  }
  internal::LogFactory factory = FactoryOf(options);
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> log, factory());
  TNY_ASSIGN_OR_RETURN(std::vector<int64_t> positions, log->SnapshotPositions());
  std::unique_ptr<Engine> engine;
  int64_t position = 0;
  if (!positions.empty()) {
    position = positions.back();
    TNY_ASSIGN_OR_RETURN(std::vector<std::string> chunks, log->GetSnapshot(position));
    std::vector<uint8_t> bytes;
    size_t total = 0;
    for (const std::string& chunk : chunks) total += chunk.size();
    bytes.reserve(total);
    for (const std::string& chunk : chunks) bytes.insert(bytes.end(), chunk.begin(), chunk.end());
    uint64_t lsn = 0;
    absl::StatusOr<std::unique_ptr<Engine>> loaded =
        internal::DecodeSnapshotFile(bytes, options, &lsn);
    if (!loaded.ok()) {
      return WithMessage(loaded.status(),
                         absl::StrCat("the group's snapshot at position ", position,
                                      " does not load: ", loaded.status().message()));
    }
    if (static_cast<int64_t>(lsn) != position) {
      return Refusal(absl::StatusCode::kDataLoss, {"R5"},
                     absl::StrCat("the group's snapshot stored at position ", position,
                                  " was cut at position ", lsn));
    }
    engine = *std::move(loaded);
  } else {
    engine = std::make_unique<Engine>(options);
  }
  log.reset();
  TNY_RETURN_IF_ERROR(internal::AttachLog(*engine, std::move(factory), position, options));
  return engine;
}

absl::StatusOr<int64_t> SaveSnapshotToLog(const Engine& engine) {
  Engine::Impl& impl = internal::EngineInternal::impl(engine);
  if (impl.replica == nullptr) return NoReplica("storing a snapshot in the group's log");
  try {
    // One store at a time.
    internal::MutexLock saving(&impl.save_mu);
    TNY_ASSIGN_OR_RETURN(const internal::EncodedSnapshot file,
                         internal::EncodeSnapshotFile(engine));
    std::vector<std::string> chunks;
    for (size_t at = 0; at < file.bytes.size(); at += kChunkBytes) {
      const size_t n = std::min(kChunkBytes, file.bytes.size() - at);
      chunks.emplace_back(reinterpret_cast<const char*>(file.bytes.data()) + at, n);
    }
    const auto position = static_cast<int64_t>(file.lsn);
    // A connection of its own: changes do not wait for the upload.
    TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> log, impl.replica->OpenLog());
    TNY_RETURN_IF_ERROR(log->PutSnapshot(position, chunks));
    return position;
  } catch (const std::bad_alloc&) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"R5"},
                   "out of memory while encoding the snapshot");
  }
}

absl::StatusOr<int64_t> TruncateLog(const Engine& engine) {
  Engine::Impl& impl = internal::EngineInternal::impl(engine);
  if (impl.replica == nullptr) return NoReplica("truncating the group's log");
  internal::MutexLock saving(&impl.save_mu);
  TNY_ASSIGN_OR_RETURN(std::unique_ptr<Log> opened, impl.replica->OpenLog());
  Log& log = *opened;
  TNY_ASSIGN_OR_RETURN(std::vector<int64_t> positions, log.SnapshotPositions());
  if (positions.size() < 2) return 1;
  const int64_t keep = positions[positions.size() - 2];
  // The records up to `keep` are in that snapshot: the log goes on from the
  // record after it.
  TNY_RETURN_IF_ERROR(log.Truncate(keep + 1));
  TNY_RETURN_IF_ERROR(log.DropSnapshotsBelow(keep));
  return keep + 1;
}

}  // namespace tenantry
