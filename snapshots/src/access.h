// Copyright 2026 The tenantry Authors.
//
// What the snapshot code reaches inside an Engine (a friend of it), and the
// file helpers both directions share.
#ifndef TENANTRY_SNAPSHOTS_SRC_ACCESS_H_
#define TENANTRY_SNAPSHOTS_SRC_ACCESS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine_impl.h"
#include "model.h"
#include "tenantry/engine.h"

namespace tenantry::internal {

class SnapshotAccess {
 public:
  static Engine::Impl& impl(const Engine& engine) { return *engine.impl_; }
  static const Version* root(const Engine& engine) {
    return engine.root_.load(std::memory_order_seq_cst);
  }
  // Replaces the empty first version of an engine nobody else can see yet.
  static void Install(Engine& engine, Version* version);
};

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

#endif  // TENANTRY_SNAPSHOTS_SRC_ACCESS_H_
