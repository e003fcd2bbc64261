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
#include <cstdint>
#include <string>
#include <vector>

#include "catalog.h"
#include "pmap.h"
#include "tenantry/limits.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// One role a user holds in one workspace: directly (team == 0) or through a
// team (M9). A UserNode keeps them sorted by (workspace, team).
struct Grant {
  WorkspaceId workspace = 0;
  uint64_t team = 0;
  RoleId role = kNoRole;

  bool operator<(const Grant& o) const {
    return workspace != o.workspace ? workspace < o.workspace : team < o.team;
  }
  bool operator==(const Grant&) const = default;
};

// A user's account role in one account (M2).
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

struct UserNode {
  uint64_t gen = 0;
  UserId id = 0;
  std::string key;  // normalized (M1)
  std::vector<Grant> grants;
  std::vector<StaffEntry> staff;  // few: one per account the user is staff of
  WorkspaceId active_workspace = 0;  // S1; 0 = none

  const StaffEntry* StaffIn(AccountId account) const {
    for (const StaffEntry& s : staff) {
      if (s.account == account) return &s;
    }
    return nullptr;
  }
  // The direct grant in `workspace`, or nullptr.
  const Grant* DirectGrant(WorkspaceId workspace) const;
};

struct WorkspaceNode {
  uint64_t gen = 0;
  WorkspaceId id = 0;
  AccountId account = 0;
  std::string name;
  std::string slug;
  WorkspaceType type = WorkspaceType::kSimple;
  WorkspaceStatus status = WorkspaceStatus::kActive;
  WorkspaceId parent = 0;
  UserId owner = 0;
  // 1 for a top-level workspace (T4).
  uint8_t depth = 1;
  // The ancestors, parent first (depth - 1 of them).
  std::array<WorkspaceId, limits::kMaxDepth - 1> ancestors{};
  Settings settings;
  PMap<UserId, RoleId> members;   // direct members and their role
  PMap<WorkspaceId, uint8_t> children;
  PMap<UserId, uint8_t> sessions;  // users whose active workspace this is (S1)

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
  bool member_default_all = true;      // M2 member_default_scope
  RoleId staff_member_role = kAdmin;   // M8 staff_member_role
  PMap<UserId, uint8_t> staff;         // user -> AccountRole
  PMap<WorkspaceId, uint8_t> workspaces;
  PMap<std::string, WorkspaceId> slugs;  // T3: unique within the account
};

struct Version {
  uint64_t gen = 0;
  uint64_t revision = 0;
  IdMap<const AccountNode*> accounts;
  IdMap<const UserNode*> users;
  IdMap<const WorkspaceNode*> workspaces;
  PMap<std::string, UserId> user_keys;      // M1
  PMap<std::string, AccountId> account_keys;  // T1
  const Catalog* catalog = nullptr;
  // The next id of each kind; ids are never reused.
  uint64_t next_account = 1;
  uint64_t next_user = 1;
  uint64_t next_workspace = 1;
  uint64_t memberships = 0;
};

// The permissions of a role in a version (built-in roles only, for now).
inline const PermSet& RolePerms(const Version& /*v*/, RoleId role) { return BuiltinRolePerms(role); }

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_MODEL_H_
