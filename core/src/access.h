// Copyright 2026 The tenantry Authors.
//
// The access rules (A1-A4) evaluated on one version. `check` instantiates
// the fast form; `explain` the same walk, recording why. Keeping one walk
// for both guarantees that explain never disagrees with check.
#ifndef TENANTRY_CORE_SRC_ACCESS_H_
#define TENANTRY_CORE_SRC_ACCESS_H_

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// T5: what an inactive workspace still grants, to those who hold it.
inline bool GrantedWhenInactive(PermissionId p) {
  return p == perm::kWorkspaceView || p == perm::kWorkspaceEdit || p == perm::kWorkspaceDelete;
}

// M2 + A3: the staff scope covers the workspace itself or an ancestor.
inline bool InStaffScope(const StaffEntry& staff, const WorkspaceNode& ws) {
  if (staff.scope_all) return true;
  auto listed = [&](WorkspaceId id) {
    return std::binary_search(staff.scope.begin(), staff.scope.end(), id);
  };
  if (listed(ws.id)) return true;
  for (int i = 0; i + 1 < ws.depth; ++i) {
    if (listed(ws.ancestors[i])) return true;
  }
  return false;
}

// A1 + A3: calls fn(grant, level) for every grant of `u` that applies in
// `ws`: those held in it (level 0), then the non-client ones held in its
// ancestors (level 1 = parent ...). Stops early when fn returns true, and
// returns whether it did. The one place the inheritance rule lives: check,
// explain and the writer's escalation rule (EffectivePerms) all walk here.
template <class Fn>
inline bool ForEachApplicableGrant(const Version& v, const UserNode& u, const WorkspaceNode& ws,
                                   Fn&& fn) {
  for (int level = 0; level < ws.depth; ++level) {
    WorkspaceId at = level == 0 ? ws.id : ws.ancestors[level - 1];
    auto it = std::lower_bound(u.grants.begin(), u.grants.end(), Grant{at, 0, kNoRole});
    for (; it != u.grants.end() && it->workspace == at; ++it) {
      if (level > 0 && IsClientRole(v, it->role)) continue;  // A3: client never inherits
      if (fn(*it, level)) return true;
    }
  }
  return false;
}

// A1-A4 on nodes already found: `ws` and `u` are v.workspaces.Find(workspace)
// and v.users.Find(user) (check_many finds them ahead, prefetching). With
// kExplain, fills `*why` (which must not be null).
template <bool kExplain>
inline bool EvaluateFound(const Version& v, UserId user, WorkspaceId workspace, PermissionId p,
                          const WorkspaceNode* ws, const UserNode* u, Decision* why) {
  // The reason is built only when explaining: `check` must not allocate.
  auto deny = [&](auto&& make_reason) {
    if constexpr (kExplain) *why = Decision{false, AccessPath::kNone, "", 0, 0, make_reason()};
    return false;
  };
  if (p >= limits::kMaxPermissions)
    return deny([&] { return std::string("unknown permission (M7)"); });
  if (ws == nullptr)
    return deny(
        [&] { return std::string(absl::StrCat("unknown workspace ", workspace, " (A1)")); });
  if (u == nullptr)
    return deny([&] { return std::string(absl::StrCat("unknown user ", user, " (A1)")); });
  if (!ws->active() && !GrantedWhenInactive(p)) {
    return deny([&] {
      return std::string(
          absl::StrCat("workspace ", workspace,
                       " is inactive: it grants only workspace.view, edit and delete (T5)"));
    });
  }
  bool held_some = false;
  // Direct and team grants in the workspace, then in its ancestors (A3).
  const bool granted = ForEachApplicableGrant(v, *u, *ws, [&](const Grant& g, int level) {
    held_some = true;
    if (!RolePerms(v, g.role).Has(p)) return false;
    if constexpr (kExplain) {
      const WorkspaceId at = level == 0 ? workspace : ws->ancestors[level - 1];
      AccessPath path = level > 0     ? AccessPath::kInherited
                        : g.team != 0 ? AccessPath::kTeam
                                      : AccessPath::kDirect;
      std::string how = level > 0 ? absl::StrCat("inherited from agency workspace ", at, " (A3)")
                        : g.team != 0 ? absl::StrCat("through team ", g.team, " (M9)")
                                      : std::string("held directly (A1)");
      *why = Decision{true, path,   RoleName(v, g.role),
                      at,   g.team, absl::StrCat("role '", RoleName(v, g.role), "' ", how)};
    }
    return true;
  });
  if (granted) return true;
  const StaffEntry* staff = u->staff.empty() ? nullptr : u->StaffIn(ws->account);
  if (staff != nullptr) {
    if (!InStaffScope(*staff, *ws)) {
      if (!held_some) {
        return deny([&] {
          return std::string(absl::StrCat("workspace ", workspace,
                                          " is outside the staff scope of user ", user, " (M2)"));
        });
      }
    } else {
      held_some = true;
      if (RolePerms(v, staff->grant_role).Has(p)) {
        if constexpr (kExplain) {
          *why = Decision{true,
                          AccessPath::kStaff,
                          RoleName(v, staff->grant_role),
                          workspace,
                          0,
                          absl::StrCat("account role '", AccountRoleName(staff->role), "' grants '",
                                       RoleName(v, staff->grant_role), "' in its scope (M2, M8)")};
        }
        return true;
      }
    }
  }
  if (!held_some) {
    return deny([&] {
      return std::string(absl::StrCat("user ", user, " has no role in workspace ", workspace,
                                      " or its agency ancestors and is not staff in scope (A1)"));
    });
  }
  if constexpr (kExplain) {
    std::string name = p < v.catalog->names.size() ? v.catalog->names[p] : absl::StrCat(p);
    return deny([&] {
      return std::string(absl::StrCat("no role user ", user, " holds in workspace ", workspace,
                                      " grants '", name, "' (A1, M8)"));
    });
  }
  return false;
}

// A1-A4. With kExplain, fills `*why` (which must not be null).
template <bool kExplain>
inline bool Evaluate(const Version& v, UserId user, WorkspaceId workspace, PermissionId p,
                     Decision* why) {
  return EvaluateFound<kExplain>(v, user, workspace, p, v.workspaces.Find(workspace),
                                 v.users.Find(user), why);
}

// M10: the union of every permission the user holds in the workspace (the
// same sources as Evaluate), for the rule that an actor grants no more than
// it holds.
inline PermSet EffectivePerms(const Version& v, UserId user, const WorkspaceNode& ws) {
  PermSet perms;
  const UserNode* u = v.users.Find(user);
  if (u == nullptr) return perms;
  ForEachApplicableGrant(v, *u, ws, [&](const Grant& g, int) {
    perms.AddAll(RolePerms(v, g.role));
    return false;
  });
  const StaffEntry* staff = u->StaffIn(ws.account);
  if (staff != nullptr && InStaffScope(*staff, ws)) perms.AddAll(RolePerms(v, staff->grant_role));
  return perms;
}

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_ACCESS_H_
