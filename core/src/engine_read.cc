// Copyright 2026 The tenantry Authors.
//
// The read side: every method takes a ReadGuard, loads the root once and
// answers from that one version (X1, X2). No lock, no shared write.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "engine_impl.h"
#include "epoch.h"
#include "model.h"
#include "status_macros.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"
#include "text.h"
#include "writer.h"

namespace tenantry {

using internal::Evaluate;
using internal::Load;
using internal::ReadGuard;
using internal::Version;
using internal::WorkspaceNode;

namespace {

WorkspaceInfo InfoOf(const WorkspaceNode& ws) {
  return WorkspaceInfo{ws.id,     ws.account, ws.name,  ws.slug, ws.type,
                       ws.status, ws.parent,  ws.owner, ws.depth};
}

// Adds `id` and, through the children links, every workspace below it.
void AddSubtree(const Version& v, WorkspaceId id, absl::flat_hash_set<WorkspaceId>& out) {
  if (!out.insert(id).second) return;
  const WorkspaceNode* ws = v.workspaces.Find(id);
  if (ws == nullptr) return;
  ws->children.ForEach([&](WorkspaceId child, uint8_t) { AddSubtree(v, child, out); });
}

// Every workspace where the user might hold something: direct and team
// grants (with the sub-workspaces they reach, A3) and the staff scopes.
// AddSubtree stops at a workspace already in the set, so client roles (which
// reach only their own workspace) are added last: a client grant seen first
// must not cut a walk that a non-client grant in the same workspace needs.
absl::flat_hash_set<WorkspaceId> Candidates(const Version& v, const internal::UserNode& u) {
  absl::flat_hash_set<WorkspaceId> out;
  for (const internal::Grant& g : u.grants) {
    if (!internal::IsClientRole(v, g.role)) AddSubtree(v, g.workspace, out);
  }
  for (const internal::StaffEntry& s : u.staff) {
    if (s.scope_all) {
      const internal::AccountNode* a = v.accounts.Find(s.account);
      if (a != nullptr) a->workspaces.ForEach([&](WorkspaceId id, uint8_t) { out.insert(id); });
    } else {
      for (WorkspaceId id : s.scope) AddSubtree(v, id, out);
    }
  }
  for (const internal::Grant& g : u.grants) {
    if (internal::IsClientRole(v, g.role)) out.insert(g.workspace);
  }
  return out;
}

}  // namespace

absl::StatusOr<PermissionId> Engine::permission(absl::string_view name) const {
  ReadGuard guard;
  return Load(root_).catalog->Find(name);
}

absl::StatusOr<std::string> Engine::permission_name(PermissionId permission) const {
  ReadGuard guard;
  const auto& names = Load(root_).catalog->names;
  if (permission >= names.size()) {
    return Refusal(absl::StatusCode::kNotFound, {"M7"},
                   absl::StrCat("unknown permission id ", permission));
  }
  return names[permission];
}

absl::StatusOr<AccountInfo> Engine::account(AccountId id) const {
  ReadGuard guard;
  const internal::AccountNode* a = Load(root_).accounts.Find(id);
  if (a == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"T1"}, absl::StrCat("unknown account ", id));
  }
  return AccountInfo{a->id,
                     a->name,
                     a->key,
                     a->plan,
                     a->plan_set,
                     a->owner,
                     static_cast<int64_t>(a->workspaces.size())};
}

absl::StatusOr<UserId> Engine::user(absl::string_view raw_key) const {
  TNY_ASSIGN_OR_RETURN(std::string key, internal::NormalizeKey(raw_key));
  ReadGuard guard;
  const UserId* id = Load(root_).user_keys.Find(key);
  if (id == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M1"},
                   absl::StrCat("no user with key '", key, "'"));
  }
  return *id;
}

absl::StatusOr<std::pair<std::string, StaffScope>> Engine::staff(AccountId account,
                                                                 UserId user) const {
  ReadGuard guard;
  const internal::UserNode* u = Load(root_).users.Find(user);
  const internal::StaffEntry* s = u == nullptr ? nullptr : u->StaffIn(account);
  if (s == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M2"},
                   absl::StrCat("user ", user, " is not staff of account ", account));
  }
  return std::make_pair(std::string(internal::AccountRoleName(s->role)),
                        StaffScope{s->scope_all, s->scope});
}

bool Engine::slug_available(AccountId account, absl::string_view slug) const {
  if (!internal::ValidateSlug(slug).ok()) return false;
  ReadGuard guard;
  const internal::AccountNode* a = Load(root_).accounts.Find(account);
  return a != nullptr && !a->slugs.Contains(std::string(slug));
}

absl::StatusOr<WorkspaceInfo> Engine::workspace(WorkspaceId id) const {
  ReadGuard guard;
  const WorkspaceNode* ws = Load(root_).workspaces.Find(id);
  if (ws == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"T4"}, absl::StrCat("unknown workspace ", id));
  }
  return InfoOf(*ws);
}

absl::StatusOr<Settings> Engine::settings(WorkspaceId id) const {
  ReadGuard guard;
  const WorkspaceNode* ws = Load(root_).workspaces.Find(id);
  if (ws == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"T6"}, absl::StrCat("unknown workspace ", id));
  }
  return ws->settings;
}

std::optional<WorkspaceId> Engine::active_workspace(UserId user) const {
  const int64_t now_ns = impl_->clock->now_ns();
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::UserNode* u = v.users.Find(user);
  if (u == nullptr || u->active_workspace == 0) return std::nullopt;
  // An expired session is gone whether or not expire_sessions() swept it.
  if (internal::SessionExpired(*u, *v.workspaces.Find(u->active_workspace), now_ns)) {
    return std::nullopt;
  }
  return u->active_workspace;
}

absl::StatusOr<std::vector<std::string>> Engine::role_permissions(AccountId account,
                                                                  absl::string_view role) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  internal::RoleId id = internal::BuiltinRoleNamed(role);
  if (id == internal::kNoRole) {
    const internal::AccountNode* a = v.accounts.Find(account);
    const internal::RoleId* custom = a == nullptr ? nullptr : a->roles.Find(std::string(role));
    if (custom == nullptr) {
      return Refusal(absl::StatusCode::kNotFound, {"M3", "M6"},
                     absl::StrCat("unknown role '", role.substr(0, 64), "' in account ", account));
    }
    id = *custom;
  }
  const internal::PermSet& perms = internal::RolePerms(v, id);
  std::vector<std::string> names;
  for (PermissionId p = 0; p < v.catalog->names.size(); ++p) {
    if (perms.Has(p)) names.push_back(v.catalog->names[p]);
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<TeamInfo> Engine::team(TeamId id) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::TeamNode* team = v.teams.Find(id);
  if (team == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M9"}, absl::StrCat("unknown team ", id));
  }
  TeamInfo info{team->id, team->workspace, team->name, internal::RoleName(v, team->role), {}};
  team->members.ForEach([&](UserId user, uint8_t) { info.members.push_back(user); });
  return info;
}

absl::StatusOr<std::vector<TeamId>> Engine::teams(WorkspaceId workspace) const {
  ReadGuard guard;
  const WorkspaceNode* ws = Load(root_).workspaces.Find(workspace);
  if (ws == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M9"},
                   absl::StrCat("unknown workspace ", workspace));
  }
  std::vector<TeamId> ids;
  ws->teams.ForEach([&](TeamId id, uint8_t) { ids.push_back(id); });
  return ids;
}

namespace {

InvitationInfo InfoOf(const Version& v, const internal::InvitationNode& node, int64_t now_ns) {
  using internal::InvitationState;
  const bool staff = node.kind == internal::InvitationKind::kStaff;
  std::string state = node.state == InvitationState::kAccepted  ? "accepted"
                      : node.state == InvitationState::kRevoked ? "revoked"
                      : now_ns >= node.expires_at_ns            ? "expired"
                                                                : "pending";
  return InvitationInfo{node.id,
                        staff,
                        node.account,
                        node.workspace,
                        node.email,
                        staff ? std::string(internal::AccountRoleName(node.account_role))
                              : internal::RoleName(v, node.role),
                        node.expires_at_ns,
                        std::move(state),
                        node.invited_by,
                        node.accepted_by};
}

}  // namespace

absl::StatusOr<InvitationInfo> Engine::invitation(InvitationId id) const {
  const int64_t now_ns = impl_->clock->now_ns();
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::InvitationNode* node = v.invitations.Find(id);
  if (node == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"I1"}, absl::StrCat("unknown invitation ", id));
  }
  return InfoOf(v, *node, now_ns);
}

absl::StatusOr<std::vector<InvitationInfo>> Engine::invitations(WorkspaceId workspace) const {
  const int64_t now_ns = impl_->clock->now_ns();
  ReadGuard guard;
  const Version& v = Load(root_);
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (ws == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"I1"},
                   absl::StrCat("unknown workspace ", workspace));
  }
  std::vector<InvitationInfo> out;
  ws->invitations.ForEach(
      [&](InvitationId id, uint8_t) { out.push_back(InfoOf(v, *v.invitations.Find(id), now_ns)); });
  return out;
}

bool Engine::check(UserId user, WorkspaceId workspace, PermissionId permission) const noexcept {
  ReadGuard guard;
  return Evaluate<false>(Load(root_), user, workspace, permission, nullptr);
}

absl::Status Engine::check_many(absl::Span<const UserId> users,
                                absl::Span<const WorkspaceId> workspaces,
                                absl::Span<const PermissionId> permissions,
                                absl::Span<uint8_t> out) const {
  if (users.size() != workspaces.size() || users.size() != permissions.size() ||
      users.size() != out.size()) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"A6"},
                   absl::StrCat("check_many needs arrays of one length; got ", users.size(), ", ",
                                workspaces.size(), ", ", permissions.size(), " and ", out.size()));
  }
  ReadGuard guard;
  const Version& v = Load(root_);
  // Items are independent, so their cache misses can overlap: each group
  // goes through the lookups in stages, prefetching what the next stage
  // reads (the trie slots, then the workspace and user nodes, then the
  // user's grants), so a group waits for memory about once per stage
  // instead of once per miss per item. The answers are Evaluate's.
  constexpr size_t kGroup = 32;
  const WorkspaceNode* const* ws_slot[kGroup];
  const internal::UserNode* const* user_slot[kGroup];
  const WorkspaceNode* ws[kGroup];
  const internal::UserNode* user[kGroup];
  for (size_t base = 0; base < users.size(); base += kGroup) {
    const size_t n = std::min(kGroup, users.size() - base);
    for (size_t i = 0; i < n; ++i) {
      ws_slot[i] = v.workspaces.SlotOf(workspaces[base + i]);
      user_slot[i] = v.users.SlotOf(users[base + i]);
      __builtin_prefetch(ws_slot[i]);
      __builtin_prefetch(user_slot[i]);
    }
    for (size_t i = 0; i < n; ++i) {
      ws[i] = ws_slot[i] != nullptr ? *ws_slot[i] : nullptr;
      user[i] = user_slot[i] != nullptr ? *user_slot[i] : nullptr;
      // The fields Evaluate reads (taking their address loads nothing).
      if (ws[i] != nullptr) {
        __builtin_prefetch(&ws[i]->account);
        __builtin_prefetch(&ws[i]->status);
        __builtin_prefetch(&ws[i]->ancestors);
      }
      if (user[i] != nullptr) {
        __builtin_prefetch(&user[i]->grants);
        __builtin_prefetch(&user[i]->staff);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (user[i] != nullptr && !user[i]->grants.empty()) {
        __builtin_prefetch(user[i]->grants.data());
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t k = base + i;
      out[k] = internal::EvaluateFound<false>(v, users[k], workspaces[k], permissions[k], ws[i],
                                              user[i], nullptr)
                   ? 1
                   : 0;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Decision> Engine::explain(UserId user, WorkspaceId workspace,
                                         PermissionId permission) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  if (permission >= v.catalog->names.size()) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M7"},
                   absl::StrCat("unknown permission id ", permission));
  }
  Decision decision;
  Evaluate<true>(v, user, workspace, permission, &decision);
  return decision;
}

std::vector<WorkspaceId> Engine::workspaces_for(UserId user) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::UserNode* u = v.users.Find(user);
  if (u == nullptr) return {};
  std::vector<const WorkspaceNode*> found;
  for (WorkspaceId id : Candidates(v, *u)) {
    const WorkspaceNode* ws = v.workspaces.Find(id);
    if (ws != nullptr && ws->active() &&
        Evaluate<false>(v, user, id, internal::perm::kWorkspaceSwitch, nullptr)) {
      found.push_back(ws);
    }
  }
  std::sort(found.begin(), found.end(), [](const WorkspaceNode* a, const WorkspaceNode* b) {
    return a->name != b->name ? a->name < b->name : a->id < b->id;
  });
  std::vector<WorkspaceId> ids;
  ids.reserve(found.size());
  for (const WorkspaceNode* ws : found) ids.push_back(ws->id);
  return ids;
}

absl::StatusOr<std::vector<Member>> Engine::members(WorkspaceId workspace) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (ws == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"A5"},
                   absl::StrCat("unknown workspace ", workspace));
  }
  std::vector<Member> out;
  out.reserve(ws->members.size());
  ws->members.ForEach([&](UserId user, internal::RoleId role) {
    out.push_back(Member{user, internal::RoleName(v, role)});
  });
  return out;
}

std::vector<UserId> Engine::who_can(WorkspaceId workspace, PermissionId permission) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (ws == nullptr) return {};
  absl::flat_hash_set<UserId> candidates;
  auto add_members = [&](const WorkspaceNode& at) {
    at.members.ForEach([&](UserId user, internal::RoleId) { candidates.insert(user); });
    at.teams.ForEach([&](TeamId id, uint8_t) {
      v.teams.Find(id)->members.ForEach([&](UserId user, uint8_t) { candidates.insert(user); });
    });
  };
  add_members(*ws);
  for (int i = 0; i + 1 < ws->depth; ++i) {
    const WorkspaceNode* ancestor = v.workspaces.Find(ws->ancestors[i]);
    if (ancestor != nullptr) add_members(*ancestor);
  }
  const internal::AccountNode* a = v.accounts.Find(ws->account);
  if (a != nullptr) a->staff.ForEach([&](UserId user, uint8_t) { candidates.insert(user); });
  std::vector<UserId> out;
  for (UserId user : candidates) {
    if (Evaluate<false>(v, user, workspace, permission, nullptr)) out.push_back(user);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<WorkspaceId> Engine::accessible(UserId user, PermissionId permission) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::UserNode* u = v.users.Find(user);
  if (u == nullptr) return {};
  std::vector<WorkspaceId> out;
  for (WorkspaceId id : Candidates(v, *u)) {
    if (Evaluate<false>(v, user, id, permission, nullptr)) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Engine::Stats Engine::stats() const {
  ReadGuard guard;
  const Version& v = Load(root_);
  return Stats{v.accounts.size(), v.users.size(), v.workspaces.size(), v.memberships};
}

}  // namespace tenantry
