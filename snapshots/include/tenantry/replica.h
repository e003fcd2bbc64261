// Copyright 2026 The tenantry Authors.
//
// Replicas (R1-R7, docs/replication.md): every process embeds an engine
// that follows one group's log, kept in PostgreSQL, with the group's
// snapshots stored beside it.
//
//   Engine::Options options;
//   options.log = "host=/run/postgresql dbname=app";   // libpq's forms
//   options.group = "tenantry_prod";                    // the log's schema
//   auto engine = tenantry::OpenReplica(options);       // a replica
//   (*engine)->add_member(...);        // through the log (R2)
//   int64_t at = (*engine)->last_change_position();
//   other->wait_for(at, 1000);         // read your writes elsewhere (R4)
//
// Thread-safety: as Engine. Errors: Unavailable when the database cannot
// be reached (the status carries the change id, ChangeIdOf), DataLoss for
// a log that went backwards or changed, FailedPrecondition for a record
// this build cannot read, or a log truncated past what a replica needs.
#ifndef TENANTRY_REPLICA_H_
#define TENANTRY_REPLICA_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tenantry/engine.h"
#include "tenantry/export.h"

namespace tenantry {

// R5: opens a replica of `options.group` in the database `options.log`:
// creates the group's schema on first use (and its first record, which
// carries the group's secrets), loads the newest snapshot stored there (if
// any), applies the log after it, and starts following. A new replica
// needs nothing but the connection string. InvalidArgument for options out
// of range or without log/group; a journal cannot be combined with a log.
TENANTRY_API absl::StatusOr<std::unique_ptr<Engine>> OpenReplica(Engine::Options options);

// R5: stores a snapshot of the replica's state at its position in the
// group's database (chunked) and returns that position. Reads and changes
// go on meanwhile (only applying records waits for the cut).
TENANTRY_API absl::StatusOr<int64_t> SaveSnapshotToLog(const Engine& engine);

// R5: removes the records below the older of the two newest stored
// snapshots, and the snapshots older than it; returns the first position
// kept (1: nothing removed, fewer than two snapshots). A replica that
// needs a removed record is refused, naming the snapshot to load.
TENANTRY_API absl::StatusOr<int64_t> TruncateLog(const Engine& engine);

}  // namespace tenantry

#endif  // TENANTRY_REPLICA_H_
