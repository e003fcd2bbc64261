// Copyright 2026 The tenantry Authors.
//
// The file helpers both directions of a snapshot share (file.cc). What the
// snapshot code reaches inside an Engine it reaches through
// core/src/engine_internal.h.
#ifndef TENANTRY_SNAPSHOTS_SRC_FILE_H_
#define TENANTRY_SNAPSHOTS_SRC_FILE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tenantry::internal {

// The tenantry version that writes snapshots ("0.1.0").
extern const char kWriterVersion[];

// BLAKE2b-256 of `data`.
std::array<uint8_t, 32> Checksum(const uint8_t* data, size_t size);

// P1: writes the `size` bytes at `data` to `path` through a temporary file beside it: write,
// fsync, rename, fsync of the directory. Errors name the path and errno.
absl::Status WriteFileAtomically(const std::string& path, const uint8_t* data, size_t size);
// Reads the whole file, refusing more than limits::kSnapshotMaxBytes.
absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(const std::string& path);

}  // namespace tenantry::internal

#endif  // TENANTRY_SNAPSHOTS_SRC_FILE_H_
