// Copyright 2026 The tenantry Authors.
//
// Every bound the engine enforces, in one place (LevelDB's `namespace config`).
#ifndef TENANTRY_LIMITS_H_
#define TENANTRY_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace tenantry::limits {

// T3: workspace names, in Unicode code points after trimming white space.
inline constexpr size_t kNameMinCodePoints = 1;
inline constexpr size_t kNameMaxCodePoints = 100;
// T3: slugs, in characters of [a-z0-9-].
inline constexpr size_t kSlugMinLength = 2;
inline constexpr size_t kSlugMaxLength = 50;
// Raw input longer than this is refused before any other work.
inline constexpr size_t kTextMaxBytes = 4096;
// M1: external keys (e-mail addresses are at most 254 octets).
inline constexpr size_t kKeyMaxBytes = 320;
// T2: plan names, in bytes of UTF-8.
inline constexpr size_t kPlanNameMaxBytes = 100;

// T4: depth of the tenant graph (a top-level workspace is depth 1), so a
// check walks at most this many workspaces.
inline constexpr int kMaxDepth = 8;

// M7: permissions, built-in and registered, in all. Permission sets are
// fixed-size bitsets of this many bits, so the hot path never branches on size.
inline constexpr uint32_t kMaxPermissions = 4096;
// M7: permission names are `resource.action`.
inline constexpr size_t kPermissionNameMaxBytes = 128;

// M6: custom roles per account, and their names.
inline constexpr size_t kMaxCustomRolesPerAccount = 1024;
inline constexpr size_t kRoleNameMaxBytes = 64;
// M9: teams per workspace.
inline constexpr size_t kMaxTeamsPerWorkspace = 10000;
// M9: team ids are handed out in sequence and never reused; an engine makes
// at most this many teams in its life (a grant keeps the id in 32 bits).
inline constexpr uint64_t kMaxTeamId = 0xFFFF'FFFF;

// I2: default invitation lifetime (7 days).
inline constexpr int64_t kInvitationTtlDefaultS = 7 * 24 * 3600;
inline constexpr int64_t kInvitationTtlMaxS = 365 * 24 * 3600;
// I1: random bytes in a token (256 bits; I1 asks for at least 128).
inline constexpr size_t kTokenSecretBytes = 32;

// Staff scope (M2): specific workspaces listed for one staff member.
inline constexpr size_t kMaxScopeWorkspaces = 100000;

// T6: settings.
inline constexpr int64_t kApprovalTimeoutMinS = 60;
inline constexpr int64_t kApprovalTimeoutMaxS = 604800;
inline constexpr int64_t kApprovalTimeoutDefaultS = 86400;
inline constexpr int64_t kInactivityTimeoutMaxS = 31536000;  // one year

// L1: audit records kept in memory for `changes_since` by default.
inline constexpr size_t kFeedRetentionDefault = 65536;
// L1: what one audit record says (its operation and arguments: names, keys,
// e-mails, role and meter names), in bytes; the engine's stay far below.
inline constexpr size_t kAuditTextMaxBytes = 4 * kTextMaxBytes;

// X2: changes in one `apply` batch.
inline constexpr size_t kMaxBatchChanges = 10000000;

// C1: meters in an engine (built-in ones included), and their names and
// bucket names (`[a-z0-9_]`).
inline constexpr size_t kMaxMeters = 64;
inline constexpr size_t kMeterNameMaxBytes = 64;
// C1, C3: what one workspace can hold of one meter, spendable and held
// together. Balances are packed into one 128-bit word so that a consume
// changes both buckets and the held amount in one atomic step; each field
// has 42 bits. 2^42 - 1 = 4,398,046,511,103 units. Pools are full int64.
inline constexpr int64_t kMaxWorkspaceBalance = (int64_t{1} << 42) - 1;

// C5: how long an idempotency key is remembered, and how many keys fit
// (slots, allocated on the first keyed consume).
inline constexpr int64_t kIdempotencyWindowDefaultS = 24 * 3600;
inline constexpr int64_t kIdempotencyWindowMaxS = 366 * 24 * 3600;
inline constexpr size_t kIdempotencySlotsDefault = size_t{1} << 18;
inline constexpr size_t kIdempotencySlotsMax = size_t{1} << 30;
// C5: idempotency keys, in bytes.
inline constexpr size_t kIdempotencyKeyMaxBytes = 256;
// C6: reservations live at once (slots, allocated on the first reserve),
// and the longest TTL.
inline constexpr size_t kReservationSlotsDefault = size_t{1} << 16;
inline constexpr size_t kReservationSlotsMax = size_t{1} << 24;
inline constexpr int64_t kReservationTtlMaxS = 30 * 24 * 3600;
// C7: ledger entries kept in memory by default; older ones leave memory.
inline constexpr size_t kLedgerRetentionDefault = 65536;

// P1, P2: the largest snapshot file (FlatBuffers' 32-bit offsets: under 2 GiB),
// and the Verifier's bounds for it: nesting depth and the number of tables.
inline constexpr uint64_t kSnapshotMaxBytes = (uint64_t{1} << 31) - 64;
inline constexpr uint32_t kSnapshotMaxDepth = 16;
inline constexpr uint32_t kSnapshotMaxTables = 200'000'000;
// P2: the version string of the tenantry that wrote a snapshot ("0.1.0").
inline constexpr size_t kSnapshotWriterMaxBytes = 64;

// P3: Durability::kGroup flushes the journal every this many milliseconds.
inline constexpr int64_t kGroupCommitDefaultMs = 10;
inline constexpr int64_t kGroupCommitMaxMs = 60'000;

// R2, R3: a replica's head-lock wait and its follower's poll interval.
inline constexpr int64_t kLogLockTimeoutDefaultMs = 5'000;
inline constexpr int64_t kLogLockTimeoutMaxMs = 600'000;
inline constexpr int64_t kLogPollDefaultMs = 50;
inline constexpr int64_t kLogPollMaxMs = 60'000;
// R5: a replica's id (Options::replica_id).
inline constexpr size_t kReplicaIdMaxBytes = 100;
// R6: credit leases (Engine::Options).
inline constexpr int64_t kLeaseMaxDefault = 1'000;
inline constexpr int64_t kLeaseShareDefault = 4;
inline constexpr int64_t kLeaseShareMax = 1'000;
inline constexpr int64_t kLeaseFloorDefault = 10;
inline constexpr int64_t kSettleIntervalDefaultMs = 1'000;
inline constexpr int64_t kSettleIntervalMaxMs = 600'000;
inline constexpr int64_t kLeaseTtlDefaultMs = 30'000;
inline constexpr int64_t kLeaseTtlMaxMs = 86'400'000;

}  // namespace tenantry::limits

#endif  // TENANTRY_LIMITS_H_
