// Copyright 2026 The tenantry Authors.
//
// A snapshot file's bytes in memory, both ways: what SaveSnapshot writes and
// LoadSnapshot reads, for a store that is no file (a replica group's
// snapshots in its log's database, R5).
#ifndef TENANTRY_SNAPSHOTS_SRC_CODEC_H_
#define TENANTRY_SNAPSHOTS_SRC_CODEC_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "tenantry/engine.h"

namespace tenantry::internal {

struct EncodedSnapshot {
  std::vector<uint8_t> bytes;  // the whole file
  // The journal lsn (a replica: the log position) the cut is at.
  uint64_t lsn = 0;
};

// P1: one consistent cut of `engine`, encoded as a snapshot file.
absl::StatusOr<EncodedSnapshot> EncodeSnapshotFile(const Engine& engine);

// P2: an engine built from a snapshot file's bytes (never trusted, as
// LoadSnapshot), with no journal; `*lsn` is the lsn the file was cut at.
absl::StatusOr<std::unique_ptr<Engine>> DecodeSnapshotFile(const std::vector<uint8_t>& bytes,
                                                           const Engine::Options& options,
                                                           uint64_t* lsn);

}  // namespace tenantry::internal

#endif  // TENANTRY_SNAPSHOTS_SRC_CODEC_H_
