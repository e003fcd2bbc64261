// Copyright 2026 The tenantry Authors.
//
// The write path: how every change reaches a new version, for every engine,
// journal or not. Each API change is encoded as an op (ops.h); RunChanges
// runs ops in one transaction under the writer lock (a Writer, writer.h),
// journals them as one Run record when there is a journal, publishes the
// new version once (X1, X2) and retires what it replaced (X4). Journal
// replay runs recorded ops through the same function, at their recorded
// time, so recovery and live changes share one path.
#ifndef TENANTRY_CORE_SRC_WRITE_PATH_H_
#define TENANTRY_CORE_SRC_WRITE_PATH_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tenantry/engine.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// What a Run hands back besides the ids: the invitation token the last op
// issued, and the split of the last transfer.
struct RunOutput {
  Invitation invitation;
  BucketAmounts taken{};
};

// A Run replayed from the journal: its recorded time, invitation lifetime
// and token hashes.
struct RunReplay {
  int64_t now_ns = 0;
  int64_t invitation_ttl_s = 0;
  std::vector<std::array<uint8_t, 32>> token_hashes;
};

// A replica's change (replica.h): once the change ran, its kRun record goes
// to `append` before anything is published; a failure gives the change up
// (cells put back, nothing published) with append's status.
struct LogAppend {
  // R4: the record's time is never earlier than the newest record's.
  int64_t min_now_ns = 0;
  // Appends the record (its journal payload) and returns its position.
  std::function<absl::StatusOr<int64_t>(const std::string& record)> append;
};

// Runs `ops` in one transaction and publishes once (all or nothing).
// `batch` prefixes a failure with the failing change's index and name.
// `out` receives the last op's token and bucket split; `replay` (journal
// recovery, a replica applying a record) gives the recorded time and token
// hashes. On a replica, a live change goes through its log (replica.h),
// which calls back with `log`.
absl::StatusOr<std::vector<uint64_t>> RunChanges(Engine& engine, absl::Span<const std::string> ops,
                                                 bool batch, RunOutput* out = nullptr,
                                                 const RunReplay* replay = nullptr,
                                                 const LogAppend* log = nullptr);
// One op: its result (a new id, or 0).
absl::StatusOr<uint64_t> RunOp(Engine& engine, const std::string& op, RunOutput* out = nullptr);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_WRITE_PATH_H_
