// Copyright 2026 The tenantry Authors.
//
// Administration beyond the basics: custom roles (M6), teams (M9),
// invitations (I1-I4), deletion (T7) and session expiry (S1). As everywhere
// in the Writer, each change validates before it mutates.
#include <sodium.h>

#include <algorithm>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "text.h"
#include "writer.h"

namespace tenantry::internal {
namespace {

// The keyed hash of a token (BLAKE2b keyed with the engine's secret).
std::array<uint8_t, 32> HashToken(absl::string_view token, const std::array<uint8_t, 32>& key) {
  std::array<uint8_t, 32> hash{};
  crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const uint8_t*>(token.data()),
                     token.size(), key.data(), key.size());
  return hash;
}

}  // namespace

// ---- Lookups ----

absl::StatusOr<const TeamNode*> Writer::FindTeam(TeamId id) const {
  const TeamNode* team = v_->teams.Find(id);
  if (team == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M9"}, absl::StrCat("unknown team ", id));
  }
  return team;
}

absl::StatusOr<const InvitationNode*> Writer::FindInvitation(InvitationId id) const {
  const InvitationNode* node = v_->invitations.Find(id);
  if (node == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"I1"}, absl::StrCat("unknown invitation ", id));
  }
  return node;
}

absl::Status Writer::AuthorizeInvitation(UserId actor, const InvitationNode& node) const {
  if (node.kind == InvitationKind::kWorkspace) {
    return Authorize(actor, *v_->workspaces.Find(node.workspace), perm::kMembersInvite);
  }
  return AuthorizeAccount(actor, *v_->accounts.Find(node.account), perm::kAccountManageStaff);
}

// ---- Custom roles (M6) ----

absl::Status Writer::ResolveRoles(AccountId account) {
  const AccountNode* a = v_->accounts.Find(account);
  absl::flat_hash_map<RoleId, std::pair<PermSet, bool>> resolved;
  // Depth-first over the inheritance chain; chains are acyclic (checked by
  // DefineRole) and at most kMaxCustomRolesPerAccount long.
  std::function<const std::pair<PermSet, bool>&(RoleId)> resolve =
      [&](RoleId id) -> const std::pair<PermSet, bool>& {
    auto it = resolved.find(id);
    if (it != resolved.end()) return it->second;
    const RoleNode* role = v_->roles.Find(id);
    std::pair<PermSet, bool> result{role->own, false};
    if (role->inherits != kNoRole) {
      if (role->inherits < kFirstCustomRole) {
        result.first.AddAll(BuiltinRolePerms(role->inherits));
        result.second = role->inherits == kClient;
      } else {
        const auto& parent = resolve(role->inherits);
        result.first.AddAll(parent.first);
        result.second = parent.second;
      }
    }
    return resolved.emplace(id, result).first->second;
  };
  std::vector<RoleId> ids;
  a->roles.ForEach([&](const std::string&, RoleId id) { ids.push_back(id); });
  for (RoleId id : ids) {
    const auto& [perms, client_like] = resolve(id);
    const RoleNode* role = v_->roles.Find(id);
    if (role->client_like != client_like) {
      return Refusal(
          absl::StatusCode::kFailedPrecondition, {"M5", "M6"},
          absl::StrCat("role '", role->name, "' would ", client_like ? "become" : "stop being",
                       " a client role; a role cannot move in or out of the client family"));
    }
    if (role->perms == perms) continue;
    RoleNode* writable = txn_.Writable(role);
    writable->perms = perms;
    if (writable != role) v_->roles.Set(txn_, id, writable);
  }
  return absl::OkStatus();
}

absl::Status Writer::DefineRole(UserId actor, AccountId account, absl::string_view name,
                                const std::vector<std::string>& permissions,
                                absl::string_view inherits) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "M6"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountManageStaff));
  TNY_RETURN_IF_ERROR(ValidateRoleName(name));
  PermSet own;
  for (const std::string& permission : permissions) {
    TNY_ASSIGN_OR_RETURN(PermissionId id, v_->catalog->Find(permission));
    own.Add(id);
  }
  RoleId parent = kNoRole;
  if (!inherits.empty()) {
    TNY_ASSIGN_OR_RETURN(parent, ParseWorkspaceRole(account, inherits));
  }
  const RoleId* existing = a->roles.Find(std::string(name));
  RoleId id = existing != nullptr ? *existing : kNoRole;
  // M6: a cycle would appear if the new parent's chain reaches this role.
  for (RoleId at = parent; id != kNoRole && at >= kFirstCustomRole;
       at = v_->roles.Find(at)->inherits) {
    if (at == id) {
      return Refusal(absl::StatusCode::kFailedPrecondition, {"M6"},
                     absl::StrCat("role '", name, "' cannot inherit from '", inherits,
                                  "': that makes a cycle"));
    }
  }
  if (existing == nullptr && a->roles.size() >= limits::kMaxCustomRolesPerAccount) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"M6"},
                   absl::StrCat("account ", account, " has ", limits::kMaxCustomRolesPerAccount,
                                " custom roles, its limit"));
  }
  RoleNode* role = nullptr;
  if (existing == nullptr) {
    id = static_cast<RoleId>(v_->next_role++);
    role = txn_.Make<RoleNode>();
    role->id = id;
    role->account = account;
    role->name = std::string(name);
    // A new role joins the client family once, here, from its parent.
    role->client_like =
        parent == kClient || (parent >= kFirstCustomRole && v_->roles.Find(parent)->client_like);
    MutableAccount(account)->roles.Set(txn_, role->name, id);
  } else {
    role = txn_.Writable(v_->roles.Find(id));
  }
  role->own = own;
  role->inherits = parent;
  v_->roles.Set(txn_, id, role);
  TNY_RETURN_IF_ERROR(ResolveRoles(account));
  // M6: the holders' sessions are re-checked (the role may no longer switch).
  a = v_->accounts.Find(account);
  a->workspaces.ForEach([&](WorkspaceId ws, uint8_t) { session_workspaces_.insert(ws); });
  Record(actor, account, 0,
         absl::StrCat("define_role name=", name, " permissions=", permissions.size(),
                      " inherits=", inherits));
  return absl::OkStatus();
}

// ---- Teams (M9) ----

absl::StatusOr<uint64_t> Writer::CreateTeam(UserId actor, WorkspaceId workspace,
                                            absl::string_view raw_name,
                                            absl::string_view role_name) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "M9"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersChangeRole));
  TNY_ASSIGN_OR_RETURN(std::string name, NormalizeName(raw_name, "team"));
  TNY_ASSIGN_OR_RETURN(RoleId role, ParseWorkspaceRole(ws->account, role_name));
  if (!IsDelegableRole(role)) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"M4", "M9"},
                   "a team cannot hold the owner role; a workspace has exactly one owner");
  }
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, role));
  if (ws->teams.size() >= limits::kMaxTeamsPerWorkspace) {
    return Refusal(
        absl::StatusCode::kResourceExhausted, {"M9"},
        absl::StrCat("workspace ", workspace, " has ", limits::kMaxTeamsPerWorkspace, " teams"));
  }
  bool taken = false;
  ws->teams.ForEach([&](TeamId id, uint8_t) { taken = taken || v_->teams.Find(id)->name == name; });
  if (taken) {
    return Refusal(absl::StatusCode::kAlreadyExists, {"M9"},
                   absl::StrCat("workspace ", workspace, " already has a team named '", name, "'"));
  }
  if (v_->next_team > limits::kMaxTeamId) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"M9"},
                   absl::StrCat("this engine has made ", limits::kMaxTeamId,
                                " teams, the most it makes in its life"));
  }
  TeamId id = v_->next_team++;
  TeamNode* team = txn_.Make<TeamNode>();
  team->id = id;
  team->workspace = workspace;
  team->name = name;
  team->role = role;
  v_->teams.Set(txn_, id, team);
  MutableWorkspace(workspace)->teams.Set(txn_, id, 1);
  Record(actor, ws->account, workspace,
         absl::StrCat("create_team team=", id, " role=", RoleName(*v_, role)));
  return id;
}

absl::Status Writer::AddTeamMember(UserId actor, TeamId team_id, UserId user) {
  TNY_ASSIGN_OR_RETURN(const TeamNode* team, FindTeam(team_id));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M9"));
  const WorkspaceNode* ws = v_->workspaces.Find(team->workspace);
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersInvite));
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, team->role));
  if (team->members.Contains(user)) {
    return Refusal(absl::StatusCode::kAlreadyExists, {"M9"},
                   absl::StrCat("user ", user, " is already in team ", team_id));
  }
  TNY_RETURN_IF_ERROR(CheckStaffClient(*u, *ws, team->role));
  MutableTeam(team_id)->members.Set(txn_, user, 1);
  SetGrant(user, Grant{team->workspace, static_cast<uint32_t>(team_id), team->role});
  Record(actor, ws->account, ws->id,
         absl::StrCat("add_team_member team=", team_id, " user=", user));
  return absl::OkStatus();
}

absl::Status Writer::RemoveTeamMember(UserId actor, TeamId team_id, UserId user) {
  TNY_ASSIGN_OR_RETURN(const TeamNode* team, FindTeam(team_id));
  const WorkspaceNode* ws = v_->workspaces.Find(team->workspace);
  if (actor != user) {
    TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersRemove));
    TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, team->role));
  }
  if (!team->members.Contains(user)) {
    return Refusal(absl::StatusCode::kNotFound, {"M9"},
                   absl::StrCat("user ", user, " is not in team ", team_id));
  }
  MutableTeam(team_id)->members.Erase(txn_, user);
  EraseGrant(user, team->workspace, team_id);
  session_users_.insert(user);
  Record(actor, ws->account, ws->id,
         absl::StrCat("remove_team_member team=", team_id, " user=", user));
  return absl::OkStatus();
}

absl::Status Writer::SetTeamRole(UserId actor, TeamId team_id, absl::string_view role_name) {
  TNY_ASSIGN_OR_RETURN(const TeamNode* team, FindTeam(team_id));
  const WorkspaceNode* ws = v_->workspaces.Find(team->workspace);
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersChangeRole));
  TNY_ASSIGN_OR_RETURN(RoleId role, ParseWorkspaceRole(ws->account, role_name));
  if (!IsDelegableRole(role)) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"M4", "M9"},
                   "a team cannot hold the owner role; a workspace has exactly one owner");
  }
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, team->role));
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, role));
  std::vector<UserId> members;
  team->members.ForEach([&](UserId user, uint8_t) { members.push_back(user); });
  for (UserId user : members) {
    TNY_RETURN_IF_ERROR(CheckStaffClient(*v_->users.Find(user), *ws, role));
  }
  MutableTeam(team_id)->role = role;
  for (UserId user : members) {
    SetGrant(user, Grant{team->workspace, static_cast<uint32_t>(team_id), role});
    session_users_.insert(user);
  }
  Record(actor, ws->account, ws->id,
         absl::StrCat("set_team_role team=", team_id, " role=", RoleName(*v_, role)));
  return absl::OkStatus();
}

void Writer::EraseTeam(TeamId team_id) {
  const TeamNode* team = v_->teams.Find(team_id);
  std::vector<UserId> members;
  team->members.ForEach([&](UserId user, uint8_t) { members.push_back(user); });
  for (UserId user : members) {
    EraseGrant(user, team->workspace, team_id);
    session_users_.insert(user);
  }
  TeamNode* writable = MutableTeam(team_id);
  writable->members.Clear(txn_);
  MutableWorkspace(writable->workspace)->teams.Erase(txn_, team_id);
  v_->teams.Erase(txn_, team_id);
  txn_.Replaced(static_cast<const TeamNode*>(writable));
}

absl::Status Writer::DeleteTeam(UserId actor, TeamId team_id) {
  TNY_ASSIGN_OR_RETURN(const TeamNode* team, FindTeam(team_id));
  const WorkspaceNode* ws = v_->workspaces.Find(team->workspace);
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersChangeRole));
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, team->role));
  const AccountId account = ws->account;
  const WorkspaceId workspace = ws->id;
  EraseTeam(team_id);
  Record(actor, account, workspace, absl::StrCat("delete_team team=", team_id));
  return absl::OkStatus();
}

// ---- Invitations (I1-I4) ----

void Writer::IssueToken(InvitationNode* node) {
  node->expires_at_ns = now_ns_ + invitation_ttl_s_ * 1'000'000'000;
  if (replaying_) {
    // P3: recovery sets the hash the journal recorded; the token itself
    // went to the caller and was never stored.
    if (replay_next_ < replay_hashes_.size()) {
      node->token_hash = replay_hashes_[replay_next_++];
    } else {
      replay_status_ =
          Refusal(absl::StatusCode::kDataLoss, {"P3"},
                  "journal: a change issued more invitation tokens than its record holds");
    }
    last_invitation_ = Invitation{node->id, std::string(), node->expires_at_ns};
    return;
  }
  // I1: 256 bits from the operating system (libsodium's randombytes reads
  // getrandom(2)); the token carries the invitation id as a selector so that
  // the lookup is by id and only the secret part needs comparing.
  std::array<uint8_t, limits::kTokenSecretBytes> secret{};
  randombytes_buf(secret.data(), secret.size());
  char encoded[sodium_base64_ENCODED_LEN(limits::kTokenSecretBytes,
                                         sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof(encoded), secret.data(), secret.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret.data(), secret.size());
  std::string token = absl::StrCat(node->id, ".", encoded);
  node->token_hash = HashToken(token, token_key_);
  issued_hashes_.push_back(node->token_hash);
  last_invitation_ = Invitation{node->id, std::move(token), node->expires_at_ns};
}

absl::StatusOr<uint64_t> Writer::Invite(UserId actor, WorkspaceId workspace,
                                        absl::string_view raw_email, absl::string_view role_name) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "I1"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersInvite));
  TNY_ASSIGN_OR_RETURN(std::string email, NormalizeKey(raw_email));
  TNY_ASSIGN_OR_RETURN(RoleId role, ParseWorkspaceRole(ws->account, role_name));
  if (!IsDelegableRole(role)) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"M4"},
                   absl::StrCat("nobody can be invited as owner of workspace ", workspace,
                                "; use transfer_ownership"));
  }
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, role));
  // Refuse early what accept would refuse anyway (I3 re-checks at accept).
  if (const UserId* existing = v_->user_keys.Find(email); existing != nullptr) {
    const UserNode* u = v_->users.Find(*existing);
    TNY_RETURN_IF_ERROR(CheckStaffClient(*u, *ws, role));
    if (u->DirectGrant(workspace) != nullptr) {
      return Refusal(
          absl::StatusCode::kAlreadyExists, {"M3"},
          absl::StrCat("user ", *existing, " is already a member of workspace ", workspace));
    }
  }
  InvitationNode* node = txn_.Make<InvitationNode>();
  node->id = v_->next_invitation++;
  node->kind = InvitationKind::kWorkspace;
  node->account = ws->account;
  node->workspace = workspace;
  node->email = email;
  node->role = role;
  node->invited_by = actor;
  IssueToken(node);
  v_->invitations.Set(txn_, node->id, node);
  MutableWorkspace(workspace)->invitations.Set(txn_, node->id, 1);
  Record(actor, ws->account, workspace,
         absl::StrCat("invite invitation=", node->id, " email=", email,
                      " role=", RoleName(*v_, role)));
  return node->id;
}

absl::StatusOr<uint64_t> Writer::InviteStaff(UserId actor, AccountId account,
                                             absl::string_view raw_email,
                                             absl::string_view role_name,
                                             const std::optional<StaffScope>& scope) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "I1"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountManageStaff));
  TNY_ASSIGN_OR_RETURN(std::string email, NormalizeKey(raw_email));
  AccountRole role = AccountRoleNamed(role_name);
  if (role == AccountRole::kNone || role == AccountRole::kOwner) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M2", "I1"},
                   absl::StrCat("a staff invitation names the account role admin or member, not '",
                                role_name.substr(0, 64), "'"));
  }
  StaffScope effective =
      scope.value_or(StaffScope{role == AccountRole::kAdmin || a->member_default_all, {}});
  if (role == AccountRole::kAdmin && !effective.all) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M2"},
                   "owners and admins always have the scope 'all'");
  }
  TNY_ASSIGN_OR_RETURN(std::vector<WorkspaceId> ids, ValidateScope(*a, effective));
  if (const UserId* existing = v_->user_keys.Find(email); existing != nullptr) {
    const UserNode* u = v_->users.Find(*existing);
    TNY_RETURN_IF_ERROR(CheckNotClient(*u, account));
    if (u->StaffIn(account) != nullptr) {
      return Refusal(absl::StatusCode::kAlreadyExists, {"M2"},
                     absl::StrCat("user ", *existing, " is already staff of account ", account));
    }
  }
  InvitationNode* node = txn_.Make<InvitationNode>();
  node->id = v_->next_invitation++;
  node->kind = InvitationKind::kStaff;
  node->account = account;
  node->email = email;
  node->account_role = role;
  node->scope_all = effective.all;
  node->scope = std::move(ids);
  node->invited_by = actor;
  IssueToken(node);
  v_->invitations.Set(txn_, node->id, node);
  MutableAccount(account)->staff_invitations.Set(txn_, node->id, 1);
  Record(actor, account, 0,
         absl::StrCat("invite_staff invitation=", node->id, " email=", email,
                      " role=", AccountRoleName(role)));
  return node->id;
}

absl::Status Writer::Accept(absl::string_view token, UserId user) {
  // The selector before the dot is the invitation id; the whole token is
  // compared through its keyed hash, in constant time.
  size_t dot = token.find('.');
  InvitationId id = 0;
  const InvitationNode* node = nullptr;
  if (token.size() <= 200 && dot != absl::string_view::npos &&
      absl::SimpleAtoi(token.substr(0, dot), &id)) {
    node = v_->invitations.Find(id);
  }
  std::array<uint8_t, 32> hash = HashToken(token, token_key_);
  if (node == nullptr || sodium_memcmp(hash.data(), node->token_hash.data(), hash.size()) != 0) {
    return Refusal(absl::StatusCode::kNotFound, {"I1", "I2"},
                   "the invitation token is not valid: unknown or superseded");
  }
  if (node->state == InvitationState::kRevoked) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"I2"},
                   absl::StrCat("invitation ", id, " was revoked"));
  }
  if (node->state == InvitationState::kAccepted) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"I2"},
                   absl::StrCat("invitation ", id, " was already used"));
  }
  if (now_ns_ >= node->expires_at_ns) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"I2"},
                   absl::StrCat("invitation ", id, " expired; ask for it to be resent"));
  }
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "I3"));
  if (u->key != node->email) {
    return Refusal(absl::StatusCode::kPermissionDenied, {"I3"},
                   absl::StrCat("invitation ", id, " was sent to another e-mail address than user ",
                                user, "'s"));
  }
  // I3: every rule is checked again now, including that the inviter may
  // still hand out this role (M10).
  if (node->kind == InvitationKind::kWorkspace) {
    TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(node->workspace, "I3"));
    if (node->invited_by != kSystem) {
      absl::Status inviter = Authorize(node->invited_by, *ws, perm::kMembersInvite);
      if (inviter.ok()) inviter = AuthorizeRole(node->invited_by, *ws, node->role);
      if (!inviter.ok()) {
        return Refusal(absl::StatusCode::kPermissionDenied, {"M10", "I3"},
                       absl::StrCat("invitation ", id,
                                    " is no longer valid: its inviter may not grant it now"));
      }
    }
    TNY_RETURN_IF_ERROR(CheckStaffClient(*u, *ws, node->role));
    if (u->DirectGrant(ws->id) != nullptr) {
      return Refusal(absl::StatusCode::kAlreadyExists, {"M3"},
                     absl::StrCat("user ", user, " is already a member of workspace ", ws->id));
    }
    SetGrant(user, Grant{ws->id, 0, node->role});
  } else {
    TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(node->account, "I3"));
    if (node->invited_by != kSystem) {
      absl::Status inviter = AuthorizeAccount(node->invited_by, *a, perm::kAccountManageStaff);
      if (!inviter.ok()) {
        return Refusal(absl::StatusCode::kPermissionDenied, {"M10", "I3"},
                       absl::StrCat("invitation ", id,
                                    " is no longer valid: its inviter may not add staff now"));
      }
    }
    TNY_RETURN_IF_ERROR(CheckNotClient(*u, a->id));
    if (u->StaffIn(a->id) != nullptr) {
      return Refusal(absl::StatusCode::kAlreadyExists, {"M2"},
                     absl::StrCat("user ", user, " is already staff of account ", a->id));
    }
    // Scope entries may name workspaces deleted since; keep those that remain.
    std::vector<WorkspaceId> scope;
    for (WorkspaceId ws : node->scope) {
      if (v_->workspaces.Find(ws) != nullptr) scope.push_back(ws);
    }
    RoleId grant_role =
        node->account_role == AccountRole::kAdmin ? kStaffAdmin : a->staff_member_role;
    MutableAccount(a->id)->staff.Set(txn_, user, static_cast<uint8_t>(node->account_role));
    MutableUser(user)->staff.push_back(
        StaffEntry{a->id, node->account_role, grant_role, node->scope_all, std::move(scope)});
  }
  InvitationNode* writable = MutableInvitation(id);
  writable->state = InvitationState::kAccepted;
  writable->accepted_by = user;
  Record(user, node->account, node->workspace,
         absl::StrCat("accept invitation=", id, " user=", user));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Writer::Resend(UserId actor, InvitationId id) {
  TNY_ASSIGN_OR_RETURN(const InvitationNode* node, FindInvitation(id));
  TNY_RETURN_IF_ERROR(AuthorizeInvitation(actor, *node));
  if (node->state != InvitationState::kPending) {
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"I2"},
        absl::StrCat("invitation ", id, " was ",
                     node->state == InvitationState::kRevoked ? "revoked" : "already used",
                     "; only a pending invitation can be resent"));
  }
  // I2: a fresh token and expiry; the old token's hash is overwritten, so
  // the old token no longer matches anything.
  IssueToken(MutableInvitation(id));
  Record(actor, node->account, node->workspace, absl::StrCat("resend invitation=", id));
  return id;
}

absl::Status Writer::RevokeInvitation(UserId actor, InvitationId id) {
  TNY_ASSIGN_OR_RETURN(const InvitationNode* node, FindInvitation(id));
  TNY_RETURN_IF_ERROR(AuthorizeInvitation(actor, *node));
  if (node->state != InvitationState::kPending) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"I2"},
                   absl::StrCat("invitation ", id,
                                " is not pending; only a pending invitation can be revoked"));
  }
  MutableInvitation(id)->state = InvitationState::kRevoked;
  Record(actor, node->account, node->workspace, absl::StrCat("revoke_invitation invitation=", id));
  return absl::OkStatus();
}

// ---- Deletion (T7) ----

void Writer::EraseWorkspace(WorkspaceId id) {
  std::vector<TeamId> teams;
  std::vector<UserId> members, sessions;
  std::vector<InvitationId> invitations;
  {
    const WorkspaceNode* ws = v_->workspaces.Find(id);
    ws->teams.ForEach([&](TeamId team, uint8_t) { teams.push_back(team); });
    ws->members.ForEach([&](UserId user, RoleId) { members.push_back(user); });
    ws->sessions.ForEach([&](UserId user, uint8_t) { sessions.push_back(user); });
    ws->invitations.ForEach([&](InvitationId inv, uint8_t) { invitations.push_back(inv); });
  }
  for (TeamId team : teams) EraseTeam(team);
  for (UserId user : members) EraseGrant(user, id, 0);
  for (UserId user : sessions) MutableUser(user)->active_workspace = 0;
  for (InvitationId inv : invitations) {
    const InvitationNode* node = v_->invitations.Find(inv);
    v_->invitations.Erase(txn_, inv);
    txn_.Replaced(node);
  }
  WorkspaceNode* ws = MutableWorkspace(id);
  // T7: its credits go back to the pool when the transaction commits
  // (FinishCredits); the cells are retired with the node.
  for (const Funding& funding : ws->credits) {
    drains_.push_back(Drain{id, ws->account, funding, 0, 0});
    txn_.Replaced(static_cast<const BalanceCell*>(funding.cell));
  }
  // Staff scopes that list the workspace forget it.
  std::vector<UserId> staff;
  v_->accounts.Find(ws->account)->staff.ForEach([&](UserId user, uint8_t) {
    staff.push_back(user);
  });
  for (UserId user : staff) {
    const StaffEntry* entry = v_->users.Find(user)->StaffIn(ws->account);
    if (entry->scope_all || !std::binary_search(entry->scope.begin(), entry->scope.end(), id)) {
      continue;
    }
    for (StaffEntry& e : MutableUser(user)->staff) {
      if (e.account == ws->account) e.scope.erase(std::find(e.scope.begin(), e.scope.end(), id));
    }
  }
  if (ws->parent != 0 && v_->workspaces.Find(ws->parent) != nullptr) {
    MutableWorkspace(ws->parent)->children.Erase(txn_, id);
  }
  AccountNode* account = MutableAccount(ws->account);
  account->workspaces.Erase(txn_, id);
  account->slugs.Erase(txn_, ws->slug);
  ws->members.Clear(txn_);
  ws->children.Clear(txn_);
  ws->sessions.Clear(txn_);
  ws->teams.Clear(txn_);
  ws->invitations.Clear(txn_);
  v_->workspaces.Erase(txn_, id);
  txn_.Replaced(static_cast<const WorkspaceNode*>(ws));
}

absl::Status Writer::DeleteWorkspace(UserId actor, WorkspaceId workspace,
                                     absl::string_view confirm) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "T7"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kWorkspaceDelete));
  if (confirm != ws->name) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T7"},
                   absl::StrCat("confirmation '", confirm.substr(0, 100),
                                "' is not the exact name of workspace ", workspace));
  }
  // The subtree, parents before children (depth is bounded, T4).
  std::vector<WorkspaceId> doomed = {workspace};
  for (size_t i = 0; i < doomed.size(); ++i) {
    v_->workspaces.Find(doomed[i])->children.ForEach(
        [&](WorkspaceId child, uint8_t) { doomed.push_back(child); });
  }
  const AccountId account = ws->account;
  if (v_->accounts.Find(account)->workspaces.size() <= doomed.size()) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"T7"},
                   absl::StrCat("workspace ", workspace, " is the only workspace of account ",
                                account, " (with its sub-workspaces); it cannot be deleted"));
  }
  if (actor != kSystem) {
    // An expired session (S1, T6) already counts as cleared.
    const UserNode* caller = v_->users.Find(actor);
    const WorkspaceNode* active = caller == nullptr || caller->active_workspace == 0
                                      ? nullptr
                                      : v_->workspaces.Find(caller->active_workspace);
    if (active != nullptr && !SessionExpired(*caller, *active, now_ns_) &&
        std::find(doomed.begin(), doomed.end(), active->id) != doomed.end()) {
      return Refusal(
          absl::StatusCode::kFailedPrecondition, {"T7"},
          absl::StrCat("workspace ", caller->active_workspace,
                       " is the caller's own active workspace; switch to another one first"));
    }
  }
  const size_t first_drain = drains_.size();
  for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) EraseWorkspace(*it);
  Record(actor, account, workspace,
         absl::StrCat("delete_workspace workspace=", workspace, " removed=", doomed.size()));
  for (size_t i = first_drain; i < drains_.size(); ++i) {
    drains_[i].actor = actor;
    drains_[i].revision = v_->revision;
  }
  return absl::OkStatus();
}

// ---- Session expiry (S1, T6 inactivity_timeout_s) ----

absl::Status Writer::TouchSession(UserId user) {
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "S1"));
  const WorkspaceNode* ws =
      u->active_workspace == 0 ? nullptr : v_->workspaces.Find(u->active_workspace);
  if (ws == nullptr || SessionExpired(*u, *ws, now_ns_)) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"S1"},
                   absl::StrCat("user ", user, " has no active workspace"));
  }
  MutableUser(user)->session_seen_ns = now_ns_;
  Record(user, ws->account, ws->id, absl::StrCat("touch_session user=", user));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Writer::ExpireSessions() {
  std::vector<std::pair<UserId, WorkspaceId>> expired;
  v_->workspaces.ForEach([&](WorkspaceId id, const WorkspaceNode* ws) {
    if (ws->settings.inactivity_timeout_s <= 0) return;
    ws->sessions.ForEach([&](UserId user, uint8_t) {
      if (SessionExpired(*v_->users.Find(user), *ws, now_ns_)) expired.emplace_back(user, id);
    });
  });
  for (const auto& [user, ws] : expired) {
    MutableUser(user)->active_workspace = 0;
    MutableWorkspace(ws)->sessions.Erase(txn_, user);
  }
  // Clearing nothing is not a change: no revision, no audit record.
  if (!expired.empty()) {
    Record(kSystem, 0, 0, absl::StrCat("expire_sessions cleared=", expired.size()));
  }
  return expired.size();
}

}  // namespace tenantry::internal
