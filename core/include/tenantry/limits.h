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

// I2: default invitation lifetime (7 days).
inline constexpr int64_t kInvitationTtlDefaultS = 7 * 24 * 3600;
// I1: random bytes in a token (256 bits; the SPEC asks for at least 128).
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

// X2: changes in one `apply` batch.
inline constexpr size_t kMaxBatchChanges = 10000000;

}  // namespace tenantry::limits

#endif  // TENANTRY_LIMITS_H_
