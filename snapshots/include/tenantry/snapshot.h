// Copyright 2026 The tenantry Authors.
//
// Snapshots (P1, P2, P4): an engine's whole state in one
// FlatBuffers file (snapshots/tenantry.fbs), and back.
//
// Thread-safety: SaveSnapshot may run while any thread reads or changes the
// engine; LoadSnapshot and InspectSnapshot touch no engine but the one they
// build. Errors: NotFound / PermissionDenied / ... from the file system as
// Unknown-free absl codes (see each function); everything wrong with a file's
// content is DataLoss naming what (P2).
#ifndef TENANTRY_SNAPSHOT_H_
#define TENANTRY_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tenantry/engine.h"
#include "tenantry/export.h"

namespace tenantry {

// P4: the format this build writes, major * 1000 + minor. A reader loads any
// file of its major version (a newer minor only adds fields it ignores) and
// refuses a newer major with DataLoss saying so.
inline constexpr uint32_t kSnapshotFormatVersion = 1002;

// What a snapshot file holds (InspectSnapshot).
struct SnapshotInfo {
  uint32_t format_version = 0;
  uint64_t revision = 0;
  int64_t taken_at_ns = 0;
  std::string writer;  // the tenantry version that wrote it
  uint64_t file_bytes = 0;
  uint64_t accounts = 0, users = 0, workspaces = 0, memberships = 0, roles = 0, teams = 0,
           invitations = 0, reservations = 0, idempotency_keys = 0, ledger_entries = 0, changes = 0;
};

// P1: writes one consistent cut of `engine` to `path`: written to a
// temporary file beside it, flushed, renamed over `path`, and the directory
// flushed, so a crash leaves either the previous file or the new one. The
// writer lock is held only while the cut is copied (the ledger and feed
// tails, the credit cells, the reservation and key tables); the version
// itself is immutable and is encoded and written with no lock held. Checks,
// consumes and reserves never wait. The file holds the engine's secrets
// (the invitation token key, the idempotency key-hash key): protect it like
// the database it is (it is created with mode 0600).
TENANTRY_API absl::Status SaveSnapshot(const Engine& engine, const std::string& path);

// P2: builds a new engine from `path`. The file is never trusted: its size
// is bounded (limits::kSnapshotMaxBytes), the FlatBuffers Verifier runs with
// explicit depth and table limits, then the checksum, then the version, then
// every reference and range while the state is rebuilt, then every invariant
// (Engine::verify). Any failure is DataLoss with the reason, and no engine is
// returned (nothing half-loaded is ever visible). `options` are the new
// engine's; the tables that must keep their slots (reservations, keys) take
// the file's sizes when larger.
TENANTRY_API absl::StatusOr<std::unique_ptr<Engine>> LoadSnapshot(const std::string& path,
                                                                  Engine::Options options = {});

// Verifies `path` like LoadSnapshot (everything but building the engine's
// indexes) and describes it: for operators (`tenantry inspect`).
TENANTRY_API absl::StatusOr<SnapshotInfo> InspectSnapshot(const std::string& path);

}  // namespace tenantry

#endif  // TENANTRY_SNAPSHOT_H_
