// Copyright 2026 The tenantry Authors.
//
// The engine's state as immutable nodes shared between versions.
//
// A Version is the root of one consistent state. Readers reach it through
// the engine's atomic root under a ReadGuard and never see it change. A
// writer builds the next Version by path copying through a Txn (txn.h):
// only the nodes a change touches are copied. Every node has a `gen`: the
// transaction that created it.
//
// Layout is chosen for `check`: everything about a user's access (direct
// and team grants, staff entries) sits in one UserNode, and a workspace
// carries its ancestor chain inline, so a check reads one user node, one
// workspace node and a role's permission bitset.
#ifndef TENANTRY_CORE_SRC_MODEL_H_
#define TENANTRY_CORE_SRC_MODEL_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "catalog.h"
#include "credits.h"
#include "id_map.h"
#include "pmap.h"
#include "tenantry/limits.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// One role a user holds in one workspace: directly (team == 0) or through a
// team (M9). A UserNode keeps them sorted by (workspace, team). 16 bytes, so
// that a check's binary search over a user's grants reads few cache lines:
// team ids stay below 2^32 (limits::kMaxTeamId).
struct Grant {
  WorkspaceId workspace = 0;
  uint32_t team = 0;
  RoleId role = kNoRole;

  bool operator<(const Grant& o) const {
    return workspace != o.workspace ? workspace < o.workspace : team < o.team;
  }
  bool operator==(const Grant&) const = default;
};

// A user's account role in one account (M2).
static_assert(sizeof(Grant) == 16, "a Grant is 16 bytes");

struct StaffEntry {
  AccountId account = 0;
  AccountRole role = AccountRole::kNone;
  // The role this grants in each workspace of the scope (M8): kStaffOwner,
  // kStaffAdmin, or the account's staff_member_role for members. Kept here,
  // resolved, so that a check needs no account lookup.
  RoleId grant_role = kNoRole;
  bool scope_all = false;
  std::vector<WorkspaceId> scope;  // sorted, when !scope_all
  bool operator==(const StaffEntry&) const = default;
};

// A check reads `grants` and `staff` only: they come first, together.
// (Aligning nodes to cache lines was measured: aligned allocation made a
// single change ~40% slower, more than it saved a random check.)
struct UserNode {
  std::vector<Grant> grants;
  std::vector<StaffEntry> staff;  // few: one per account the user is staff of
  uint64_t gen = 0;
  UserId id = 0;
  std::string key;                   // normalized (M1)
  WorkspaceId active_workspace = 0;  // S1; 0 = none
  // S1: when the session was last used (switch or touch), for the
  // workspace's inactivity_timeout_s.
  int64_t session_seen_ns = 0;

  const StaffEntry* StaffIn(AccountId account) const {
    for (const StaffEntry& s : staff) {
      if (s.account == account) return &s;
    }
    return nullptr;
  }
  // The direct grant in `workspace`, or nullptr.
  const Grant* DirectGrant(WorkspaceId workspace) const;
};

// What a check reads (id, account, status, depth, the ancestors) comes
// first, together.
struct WorkspaceNode {
  WorkspaceId id = 0;
  uint64_t gen = 0;
  AccountId account = 0;
  WorkspaceStatus status = WorkspaceStatus::kActive;
  // 1 for a top-level workspace (T4).
  uint8_t depth = 1;
  WorkspaceType type = WorkspaceType::kSimple;
  // The ancestors, parent first (depth - 1 of them).
  std::array<WorkspaceId, limits::kMaxDepth - 1> ancestors{};
  std::string name;
  std::string slug;
  WorkspaceId parent = 0;
  UserId owner = 0;
  Settings settings;
  PMap<UserId, RoleId> members;  // direct members and their role
  PMap<WorkspaceId, uint8_t> children;
  PMap<UserId, uint8_t> sessions;           // users whose active workspace this is (S1)
  PMap<TeamId, uint8_t> teams;              // M9
  PMap<InvitationId, uint8_t> invitations;  // I1, pending or not
  // C3-C6: one entry per meter ever transferred to the workspace.
  std::vector<Funding> credits;

  bool active() const { return status == WorkspaceStatus::kActive; }
};

struct AccountNode {
  uint64_t gen = 0;
  AccountId id = 0;
  std::string name;
  std::string key;
  Plan plan;
  bool plan_set = true;
  UserId owner = 0;
  bool member_default_all = true;     // M2 member_default_scope
  RoleId staff_member_role = kAdmin;  // M8 staff_member_role
  PMap<UserId, uint8_t> staff;        // user -> AccountRole
  PMap<WorkspaceId, uint8_t> workspaces;
  PMap<std::string, WorkspaceId> slugs;           // T3: unique within the account
  PMap<std::string, RoleId> roles;                // M6: custom roles by name
  PMap<InvitationId, uint8_t> staff_invitations;  // I1
  std::vector<Pool> pools;                        // C2: one per meter ever granted
};

// M6: a custom role of one account. `perms` is resolved: its own
// permissions plus everything it inherits, so a check tests one bitset.
struct RoleNode {
  uint64_t gen = 0;
  RoleId id = kNoRole;
  AccountId account = 0;
  std::string name;
  PermSet own;  // the permissions named by define_role
  RoleId inherits = kNoRole;
  PermSet perms;  // own + inherited, resolved
  // Inherits (transitively) from `client`: then it never inherits down the
  // agency graph (A3) and counts as a client role for M5.
  bool client_like = false;
};

// M9: a named group of users inside one workspace, holding one role there.
struct TeamNode {
  uint64_t gen = 0;
  TeamId id = 0;
  WorkspaceId workspace = 0;
  std::string name;
  RoleId role = kNoRole;
  PMap<UserId, uint8_t> members;
};

enum class InvitationKind : uint8_t { kWorkspace = 0, kStaff = 1 };
enum class InvitationState : uint8_t { kPending = 0, kAccepted = 1, kRevoked = 2 };

// I1-I4: the token itself is never kept; only its keyed hash.
struct InvitationNode {
  uint64_t gen = 0;
  InvitationId id = 0;
  InvitationKind kind = InvitationKind::kWorkspace;
  AccountId account = 0;
  WorkspaceId workspace = 0;                      // kWorkspace
  std::string email;                              // normalized like a user key (M1)
  RoleId role = kNoRole;                          // kWorkspace: the workspace role
  AccountRole account_role = AccountRole::kNone;  // kStaff
  bool scope_all = true;                          // kStaff members: scope on accept
  std::vector<WorkspaceId> scope;
  std::array<uint8_t, 32> token_hash{};
  int64_t expires_at_ns = 0;
  InvitationState state = InvitationState::kPending;
  UserId invited_by = 0;
  UserId accepted_by = 0;
};

// R6 (replicas): credits held apart in the group's state, in the version so
// that every replica holds the same: a replica's lease, or a reservation
// made through the log. What it holds shows as held in its cell.
enum class HoldKind : uint8_t { kLease = 0, kReservation = 1 };
struct HoldNode {
  uint64_t gen = 0;
  uint64_t id = 0;
  HoldKind kind = HoldKind::kLease;
  std::string owner;  // the replica a lease is for, or that made a reservation
  AccountId account = 0;
  WorkspaceId workspace = 0;
  MeterId meter = 0;
  int64_t held_regular = 0, held_extra = 0;  // still held, per bucket
  int64_t settled = 0;                       // a lease: what its owner settled so far (cumulative)
  int64_t expires_at_ns = 0;
  // A lease another replica asked back (R6: a consume its lease held
  // credits for): its owner settles and returns it when it applies this.
  bool recalled = false;
};

struct Version {
  uint64_t gen = 0;
  uint64_t revision = 0;
  IdMap<const AccountNode*> accounts;
  IdMap<const UserNode*> users;
  IdMap<const WorkspaceNode*> workspaces;
  IdMap<const RoleNode*> roles;               // M6: custom roles, by id
  IdMap<const TeamNode*> teams;               // M9
  IdMap<const InvitationNode*> invitations;   // I1
  IdMap<const HoldNode*> holds;               // R6: replicas only
  PMap<std::string, UserId> user_keys;        // M1
  PMap<std::string, AccountId> account_keys;  // T1
  const Catalog* catalog = nullptr;
  const MeterTable* meters = nullptr;  // C1
  // The next id of each kind; ids are never reused.
  uint64_t next_account = 1;
  uint64_t next_user = 1;
  uint64_t next_workspace = 1;
  uint64_t next_role = kFirstCustomRole;
  uint64_t next_team = 1;
  uint64_t next_invitation = 1;
  uint64_t next_hold = 1;
  uint64_t memberships = 0;
  // R6: how many recalls of leases this version saw since the engine
  // loaded; an owner looks at its leases when it changes (not saved).
  uint64_t lease_recalls = 0;
};

// The newest published version behind an engine's root (X1): one seq_cst
// load (see epoch.h); the caller holds a ReadGuard, or the writer lock.
inline const Version& Load(const std::atomic<const Version*>& root) {
  return *root.load(std::memory_order_seq_cst);
}

// T2: what an account made without a plan holds as its plan (plan_set is
// false; it counts as limit 1, no agency, whatever this says).
inline Plan UnsetPlan() { return Plan::Custom("unset", 1, false); }

// S1 + T6: a session unused for longer than its workspace's
// inactivity_timeout_s (0 = never) counts as cleared. Session times come from
// the clock (or a file) and are not trusted to be near now: an idle time past
// int64 is either far in the past (expired) or the future (not).
inline bool SessionExpired(const UserNode& user, const WorkspaceNode& ws, int64_t now_ns) {
  const int64_t timeout_s = ws.settings.inactivity_timeout_s;
  if (timeout_s <= 0) return false;
  int64_t idle_ns = 0;
  if (__builtin_sub_overflow(now_ns, user.session_seen_ns, &idle_ns)) {
    return user.session_seen_ns < now_ns;
  }
  return idle_ns > timeout_s * 1'000'000'000;
}

// The permissions of a role in a version. Built-in roles come from a static
// table; custom roles from the version, so a changed role is seen by every
// holder in the version that changed it (M6).
inline const PermSet& RolePerms(const Version& v, RoleId role) {
  if (role < kFirstCustomRole) return BuiltinRolePerms(role);
  return v.roles.Find(role)->perms;
}

// A3, M5: `client`, or a custom role built on it.
inline bool IsClientRole(const Version& v, RoleId role) {
  if (role < kFirstCustomRole) return role == kClient;
  return v.roles.Find(role)->client_like;
}

// The name of a role, built-in or custom.
inline std::string RoleName(const Version& v, RoleId role) {
  if (role < kFirstCustomRole) return std::string(BuiltinRoleName(role));
  const RoleNode* node = v.roles.Find(role);
  return node == nullptr ? std::string() : node->name;
}

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_MODEL_H_
