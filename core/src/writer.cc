// Copyright 2026 The tenantry Authors.
//
// The Writer's changes to the tenant graph and its people (writer.h):
// tenancy (T1-T8), members and staff (M1-M10), sessions. Each validates
// everything it needs (existence, M10 authorization, the rule itself)
// before it mutates anything. Roles, teams, invitations and deletion are in
// writer_admin.cc, credits in writer_credits.cc.
#include "writer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "access.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "text.h"

namespace tenantry::internal {
namespace {

std::string ActorName(UserId actor) {
  return actor == kSystem ? std::string("SYSTEM") : absl::StrCat("user ", actor);
}

absl::Status ValidatePlan(const Plan& plan) {
  TNY_RETURN_IF_ERROR(ValidatePlanName(plan.name));
  if (plan.workspace_limit < Plan::kUnlimited) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T2"},
                   absl::StrCat("plan workspace limit ", plan.workspace_limit,
                                " must be >= 0, or -1 for unlimited"));
  }
  return absl::OkStatus();
}

}  // namespace

Writer::Writer(const Version* base, int64_t now_ns, const std::array<uint8_t, 32>& token_key,
               int64_t invitation_ttl_s)
    : txn_(base->gen + 1),
      v_(txn_.Writable(base)),
      now_ns_(now_ns),
      token_key_(token_key),
      invitation_ttl_s_(invitation_ttl_s) {}

// ---- Lookups and copies ----

absl::StatusOr<const UserNode*> Writer::FindUser(UserId id, const char* rule) const {
  const UserNode* u = v_->users.Find(id);
  if (u == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {rule}, absl::StrCat("unknown user ", id));
  }
  return u;
}

absl::StatusOr<const WorkspaceNode*> Writer::FindWorkspace(WorkspaceId id, const char* rule) const {
  const WorkspaceNode* w = v_->workspaces.Find(id);
  if (w == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {rule}, absl::StrCat("unknown workspace ", id));
  }
  return w;
}

absl::StatusOr<const AccountNode*> Writer::FindAccount(AccountId id, const char* rule) const {
  const AccountNode* a = v_->accounts.Find(id);
  if (a == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {rule}, absl::StrCat("unknown account ", id));
  }
  return a;
}

void Writer::Record(UserId actor, AccountId account, WorkspaceId workspace, std::string what) {
  ++v_->revision;
  audit_.push_back(AuditRecord{v_->revision, now_ns_, actor, account, workspace, std::move(what)});
}

// ---- Authorization (M10) ----

absl::Status Writer::Authorize(UserId actor, const WorkspaceNode& ws,
                               PermissionId permission) const {
  if (actor == kSystem) return absl::OkStatus();
  if (Evaluate<false>(*v_, actor, ws.id, permission, nullptr)) return absl::OkStatus();
  return Refusal(absl::StatusCode::kPermissionDenied, {"M10"},
                 absl::StrCat(ActorName(actor), " lacks '", v_->catalog->names[permission],
                              "' in workspace ", ws.id));
}

absl::Status Writer::AuthorizeAccount(UserId actor, const AccountNode& account,
                                      PermissionId permission) const {
  if (actor == kSystem) return absl::OkStatus();
  const UserNode* u = v_->users.Find(actor);
  const StaffEntry* staff = u == nullptr ? nullptr : u->StaffIn(account.id);
  if (staff != nullptr && RolePerms(*v_, staff->grant_role).Has(permission)) {
    return absl::OkStatus();
  }
  return Refusal(absl::StatusCode::kPermissionDenied, {"M10"},
                 absl::StrCat(ActorName(actor), " lacks '", v_->catalog->names[permission],
                              "' in account ", account.id));
}

absl::Status Writer::AuthorizeRole(UserId actor, const WorkspaceNode& ws, RoleId role) const {
  if (actor == kSystem) return absl::OkStatus();
  if (EffectivePerms(*v_, actor, ws).Includes(RolePerms(*v_, role))) return absl::OkStatus();
  return Refusal(
      absl::StatusCode::kPermissionDenied, {"M10"},
      absl::StrCat(ActorName(actor), " cannot grant or change role '", RoleName(*v_, role),
                   "' in workspace ", ws.id, ": it holds permissions the actor lacks there"));
}

absl::Status Writer::CheckStaffClient(const UserNode& user, const WorkspaceNode& ws,
                                      RoleId role) const {
  if (!IsClientRole(*v_, role) || user.StaffIn(ws.account) == nullptr) return absl::OkStatus();
  return Refusal(absl::StatusCode::kFailedPrecondition, {"M5"},
                 absl::StrCat("user ", user.id, " is staff of account ", ws.account,
                              " and cannot be a client in its workspace ", ws.id,
                              "; staff and clients never mix"));
}

absl::StatusOr<RoleId> Writer::ParseWorkspaceRole(AccountId account, absl::string_view name) const {
  RoleId role = BuiltinRoleNamed(name);
  if (role != kNoRole) return role;
  const AccountNode* a = v_->accounts.Find(account);
  const RoleId* custom = a == nullptr ? nullptr : a->roles.Find(std::string(name));
  if (custom != nullptr) return *custom;
  return Refusal(
      absl::StatusCode::kInvalidArgument, {"M3"},
      absl::StrCat(
          "unknown workspace role '", name.substr(0, 64),
          "': not owner, admin, manager, member, viewer, client, nor a custom role of account ",
          account));
}

absl::Status Writer::CheckNotClient(const UserNode& user, AccountId account) const {
  for (const Grant& g : user.grants) {
    if (!IsClientRole(*v_, g.role)) continue;
    if (v_->workspaces.Find(g.workspace)->account == account) {
      return Refusal(
          absl::StatusCode::kFailedPrecondition, {"M5"},
          absl::StrCat("user ", user.id, " is a client in workspace ", g.workspace, " of account ",
                       account, " and cannot be staff there; staff and clients never mix"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WorkspaceId>> Writer::ValidateScope(const AccountNode& account,
                                                               const StaffScope& scope) const {
  if (scope.all) return std::vector<WorkspaceId>{};
  if (scope.workspaces.size() > limits::kMaxScopeWorkspaces) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"M2"},
        absl::StrCat("a staff scope lists at most ", limits::kMaxScopeWorkspaces, " workspaces"));
  }
  std::vector<WorkspaceId> ids = scope.workspaces;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (WorkspaceId id : ids) {
    TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(id, "M2"));
    if (ws->account != account.id) {
      return Refusal(
          absl::StatusCode::kInvalidArgument, {"M2", "A2"},
          absl::StrCat("workspace ", id, " of a staff scope is not in account ", account.id));
    }
  }
  return ids;
}

// ---- Grants: the user side and the workspace side change together ----

void Writer::SetGrant(UserId user, const Grant& grant) {
  UserNode* u = MutableUser(user);
  auto it = std::lower_bound(u->grants.begin(), u->grants.end(), grant);
  if (it != u->grants.end() && it->workspace == grant.workspace && it->team == grant.team) {
    it->role = grant.role;
  } else {
    // Grow by a quarter (at least one) instead of doubling: a user's grants
    // are few and long-lived, so doubling's slack would be memory for good,
    // while a quarter keeps bulk inserts amortized O(1).
    if (u->grants.size() == u->grants.capacity()) {
      const auto at = it - u->grants.begin();
      u->grants.reserve(u->grants.size() + std::max<size_t>(1, u->grants.size() / 4));
      it = u->grants.begin() + at;
    }
    u->grants.insert(it, grant);
    if (grant.team == 0) ++v_->memberships;
  }
  if (grant.team == 0) MutableWorkspace(grant.workspace)->members.Set(txn_, user, grant.role);
}

void Writer::EraseGrant(UserId user, WorkspaceId workspace, uint64_t team) {
  UserNode* u = MutableUser(user);
  // An existing team's id: below limits::kMaxTeamId (CreateTeam, the loader).
  auto it = std::lower_bound(u->grants.begin(), u->grants.end(),
                             Grant{workspace, static_cast<uint32_t>(team), kNoRole});
  assert(it != u->grants.end() && it->workspace == workspace && it->team == team);
  u->grants.erase(it);
  if (team == 0) {
    --v_->memberships;
    MutableWorkspace(workspace)->members.Erase(txn_, user);
  }
}

// ---- Catalog and users ----

absl::StatusOr<uint64_t> Writer::RegisterPermission(absl::string_view name) {
  TNY_RETURN_IF_ERROR(ValidatePermissionName(name));
  if (auto found = v_->catalog->Find(name); found.ok()) return *found;
  if (v_->catalog->names.size() >= limits::kMaxPermissions) {
    return Refusal(
        absl::StatusCode::kResourceExhausted, {"M7"},
        absl::StrCat("the catalog holds ", limits::kMaxPermissions, " permissions, its limit"));
  }
  // One copy per transaction: a batch registering many names copies once.
  Catalog* catalog = txn_.Writable(v_->catalog);
  auto id = static_cast<PermissionId>(catalog->names.size());
  catalog->names.emplace_back(name);
  catalog->ids.emplace(std::string(name), id);
  v_->catalog = catalog;
  Record(kSystem, 0, 0, absl::StrCat("register_permission name=", name, " id=", id));
  return id;
}

absl::StatusOr<uint64_t> Writer::CreateUser(absl::string_view raw_key) {
  TNY_ASSIGN_OR_RETURN(std::string key, NormalizeKey(raw_key));
  if (v_->user_keys.Contains(key)) {
    return Refusal(absl::StatusCode::kAlreadyExists, {"M1"},
                   absl::StrCat("user key '", key, "' already exists"));
  }
  UserId id = v_->next_user++;
  UserNode* u = txn_.Make<UserNode>();
  u->id = id;
  u->key = key;
  v_->users.Set(txn_, id, u);
  v_->user_keys.Set(txn_, key, id);
  Record(kSystem, 0, 0, absl::StrCat("create_user user=", id, " key=", key));
  return id;
}

// ---- Accounts and staff (T1, T2, M2, M5) ----

absl::StatusOr<uint64_t> Writer::CreateAccount(const AccountSpec& spec) {
  TNY_ASSIGN_OR_RETURN(std::string name, NormalizeName(spec.name, "account"));
  TNY_ASSIGN_OR_RETURN(const UserNode* owner, FindUser(spec.owner, "T1"));
  (void)owner;
  std::string key;
  if (!spec.key.empty()) {
    TNY_ASSIGN_OR_RETURN(key, NormalizeKey(spec.key));
    if (v_->account_keys.Contains(key)) {
      return Refusal(absl::StatusCode::kAlreadyExists, {"T1"},
                     absl::StrCat("account key '", key, "' already exists"));
    }
  }
  if (spec.plan.has_value()) TNY_RETURN_IF_ERROR(ValidatePlan(*spec.plan));
  if (spec.member_default_scope != "all" && spec.member_default_scope != "none") {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M2"},
                   absl::StrCat("member_default_scope '", spec.member_default_scope.substr(0, 64),
                                "' must be 'all' or 'none'"));
  }
  RoleId member_role = BuiltinRoleNamed(spec.staff_member_role);
  if (!IsStaffMemberRole(member_role)) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M8"},
                   absl::StrCat("staff_member_role '", spec.staff_member_role.substr(0, 64),
                                "' must be one of admin, manager, member, viewer"));
  }
  AccountId id = v_->next_account++;
  AccountNode* a = txn_.Make<AccountNode>();
  a->id = id;
  a->name = name;
  a->key = key;
  a->plan_set = spec.plan.has_value();
  a->plan = spec.plan.value_or(UnsetPlan());
  a->owner = spec.owner;
  a->member_default_all = spec.member_default_scope == "all";
  a->staff_member_role = member_role;
  a->staff.Set(txn_, spec.owner, static_cast<uint8_t>(AccountRole::kOwner));
  v_->accounts.Set(txn_, id, a);
  if (!key.empty()) v_->account_keys.Set(txn_, key, id);
  MutableUser(spec.owner)
      ->staff.push_back(StaffEntry{id, AccountRole::kOwner, kStaffOwner, true, {}});
  Record(
      kSystem, id, 0,
      absl::StrCat("create_account account=", id, " owner=", spec.owner, " plan=", a->plan.name));
  return id;
}

absl::Status Writer::SetPlan(UserId actor, AccountId account, const Plan& plan) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "T2"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountManagePlan));
  TNY_RETURN_IF_ERROR(ValidatePlan(plan));
  // T2: lowering a plan deletes nothing; it only blocks new workspaces.
  AccountNode* mutable_account = MutableAccount(account);
  mutable_account->plan = plan;
  mutable_account->plan_set = true;
  Record(actor, account, 0,
         absl::StrCat("set_plan plan=", plan.name, " limit=", plan.workspace_limit,
                      " agency=", plan.agency));
  return absl::OkStatus();
}

absl::Status Writer::AddStaff(UserId actor, AccountId account, UserId user,
                              absl::string_view role_name, const std::optional<StaffScope>& scope) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "M2"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M2"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountManageStaff));
  AccountRole role = AccountRoleNamed(role_name);
  if (role == AccountRole::kNone) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M2"},
                   absl::StrCat("unknown account role '", role_name.substr(0, 64),
                                "'; one of owner, admin, member"));
  }
  if (role == AccountRole::kOwner) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"M2"},
                   absl::StrCat("account ", account, " already has its one owner"));
  }
  if (u->StaffIn(account) != nullptr) {
    return Refusal(absl::StatusCode::kAlreadyExists, {"M2"},
                   absl::StrCat("user ", user, " is already staff of account ", account));
  }
  TNY_RETURN_IF_ERROR(CheckNotClient(*u, account));
  // M2: owners and admins always have `all`; the account default is for members.
  StaffScope effective =
      scope.value_or(StaffScope{role == AccountRole::kAdmin || a->member_default_all, {}});
  if (role == AccountRole::kAdmin && !effective.all) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M2"},
                   "owners and admins always have the scope 'all'");
  }
  TNY_ASSIGN_OR_RETURN(std::vector<WorkspaceId> ids, ValidateScope(*a, effective));
  RoleId grant_role = role == AccountRole::kAdmin ? kStaffAdmin : a->staff_member_role;
  MutableAccount(account)->staff.Set(txn_, user, static_cast<uint8_t>(role));
  MutableUser(user)->staff.push_back(
      StaffEntry{account, role, grant_role, effective.all, std::move(ids)});
  Record(actor, account, 0,
         absl::StrCat("add_staff user=", user, " role=", AccountRoleName(role),
                      " scope=", effective.all ? "all" : "specific"));
  return absl::OkStatus();
}

absl::Status Writer::SetStaffScope(UserId actor, AccountId account, UserId user,
                                   const StaffScope& scope) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "M2"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M2"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountManageStaff));
  const StaffEntry* staff = u->StaffIn(account);
  if (staff == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M2"},
                   absl::StrCat("user ", user, " is not staff of account ", account));
  }
  if (staff->role != AccountRole::kMember && !scope.all) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M2"},
                   "owners and admins always have the scope 'all'");
  }
  TNY_ASSIGN_OR_RETURN(std::vector<WorkspaceId> ids, ValidateScope(*a, scope));
  UserNode* mutable_user = MutableUser(user);
  for (StaffEntry& entry : mutable_user->staff) {
    if (entry.account != account) continue;
    entry.scope_all = scope.all;
    entry.scope = std::move(ids);
  }
  session_users_.insert(user);
  Record(actor, account, 0,
         absl::StrCat("set_staff_scope user=", user, " scope=", scope.all ? "all" : "specific"));
  return absl::OkStatus();
}

absl::Status Writer::RemoveStaff(UserId actor, AccountId account, UserId user) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "M2"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M2"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountManageStaff));
  const StaffEntry* staff = u->StaffIn(account);
  if (staff == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M2"},
                   absl::StrCat("user ", user, " is not staff of account ", account));
  }
  if (staff->role == AccountRole::kOwner) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"M2"},
                   absl::StrCat("the owner of account ", account, " cannot be removed"));
  }
  MutableAccount(account)->staff.Erase(txn_, user);
  std::vector<StaffEntry>& entries = MutableUser(user)->staff;
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const StaffEntry& e) { return e.account == account; }),
                entries.end());
  session_users_.insert(user);
  Record(actor, account, 0, absl::StrCat("remove_staff user=", user));
  return absl::OkStatus();
}

// ---- Workspaces (T2-T6) ----

absl::StatusOr<uint64_t> Writer::CreateWorkspace(UserId actor, AccountId account,
                                                 const WorkspaceSpec& spec) {
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "T1"));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kAccountCreateWorkspace));
  TNY_ASSIGN_OR_RETURN(std::string name, NormalizeName(spec.name, "workspace"));
  std::string slug;
  if (spec.slug.has_value()) {
    TNY_RETURN_IF_ERROR(ValidateSlug(*spec.slug));
    slug = *spec.slug;
  } else {
    TNY_ASSIGN_OR_RETURN(slug, DeriveSlug(name));
  }
  if (a->slugs.Contains(slug)) {
    return Refusal(absl::StatusCode::kAlreadyExists, {"T3"},
                   absl::StrCat("slug '", slug, "' is already used in account ", account));
  }
  const int64_t limit = a->plan_set ? a->plan.workspace_limit : 1;
  const auto count = static_cast<int64_t>(a->workspaces.size());
  if (limit != Plan::kUnlimited && count >= limit) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"T2"},
                   absl::StrCat("plan '", a->plan.name, "' allows ", limit,
                                " workspace(s) and account ", account, " has ", count));
  }
  if (spec.type == WorkspaceType::kAgency && !(a->plan_set && a->plan.agency)) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"T4"},
                   absl::StrCat("plan '", a->plan.name, "' does not allow agency workspaces"));
  }
  const WorkspaceNode* parent = nullptr;
  if (spec.parent != 0) {
    TNY_ASSIGN_OR_RETURN(parent, FindWorkspace(spec.parent, "T4"));
    if (parent->account != account) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"T4", "A2"},
                     absl::StrCat("parent workspace ", spec.parent, " belongs to another account"));
    }
    if (parent->type != WorkspaceType::kAgency) {
      return Refusal(absl::StatusCode::kFailedPrecondition, {"T4"},
                     absl::StrCat("parent workspace ", spec.parent, " is not an agency workspace"));
    }
    if (parent->depth >= limits::kMaxDepth) {
      return Refusal(
          absl::StatusCode::kFailedPrecondition, {"T4"},
          absl::StrCat("the tenant graph is at most ", limits::kMaxDepth, " levels deep"));
    }
  }
  UserId owner_id = spec.owner != 0 ? spec.owner : actor == kSystem ? a->owner : actor;
  TNY_ASSIGN_OR_RETURN(const UserNode* owner, FindUser(owner_id, "M4"));
  (void)owner;

  WorkspaceId id = v_->next_workspace++;
  WorkspaceNode* ws = txn_.Make<WorkspaceNode>();
  ws->id = id;
  ws->account = account;
  ws->name = name;
  ws->slug = slug;
  ws->type = spec.type;
  ws->owner = owner_id;
  if (parent != nullptr) {
    ws->parent = parent->id;
    ws->depth = static_cast<uint8_t>(parent->depth + 1);
    ws->ancestors[0] = parent->id;
    for (int i = 0; i + 1 < parent->depth; ++i) ws->ancestors[i + 1] = parent->ancestors[i];
    MutableWorkspace(parent->id)->children.Set(txn_, id, 1);
  }
  v_->workspaces.Set(txn_, id, ws);
  AccountNode* mutable_account = MutableAccount(account);
  mutable_account->workspaces.Set(txn_, id, 1);
  mutable_account->slugs.Set(txn_, slug, id);
  SetGrant(owner_id, Grant{id, 0, kOwner});
  Record(actor, account, id,
         absl::StrCat("create_workspace workspace=", id, " slug=", slug, " type=",
                      WorkspaceTypeName(spec.type), " parent=", spec.parent, " owner=", owner_id));
  return id;
}

absl::Status Writer::RenameWorkspace(UserId actor, WorkspaceId workspace,
                                     absl::string_view raw_name) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "T3"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kWorkspaceEdit));
  TNY_ASSIGN_OR_RETURN(std::string name, NormalizeName(raw_name, "workspace"));
  MutableWorkspace(workspace)->name = name;
  Record(actor, ws->account, workspace, absl::StrCat("rename_workspace name=", name));
  return absl::OkStatus();
}

absl::Status Writer::SetStatus(UserId actor, WorkspaceId workspace, WorkspaceStatus status) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "T5"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kWorkspaceEdit));
  MutableWorkspace(workspace)->status = status;
  if (status == WorkspaceStatus::kInactive) session_workspaces_.insert(workspace);
  Record(actor, ws->account, workspace,
         absl::StrCat("set_status status=", WorkspaceStatusName(status)));
  return absl::OkStatus();
}

absl::Status Writer::SetSetting(UserId actor, WorkspaceId workspace, absl::string_view name,
                                const SettingValue& value) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "T6"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kSettingsEdit));
  Settings settings = ws->settings;
  const bool* as_bool = std::get_if<bool>(&value);
  const int64_t* as_int = std::get_if<int64_t>(&value);
  auto int_in = [&](int64_t* field, int64_t min, int64_t max) -> absl::Status {
    if (as_int == nullptr) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"T6"},
                     absl::StrCat("setting '", name, "' takes an integer"));
    }
    if (*as_int < min || *as_int > max) {
      return Refusal(
          absl::StatusCode::kInvalidArgument, {"T6"},
          absl::StrCat("setting '", name, "' = ", *as_int, " is out of range ", min, "..", max));
    }
    *field = *as_int;
    return absl::OkStatus();
  };
  if (name == "beta_opt_in") {
    if (as_bool == nullptr) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"T6"},
                     "setting 'beta_opt_in' takes a boolean");
    }
    settings.beta_opt_in = *as_bool;
  } else if (name == "approval_timeout_s") {
    TNY_RETURN_IF_ERROR(int_in(&settings.approval_timeout_s, limits::kApprovalTimeoutMinS,
                               limits::kApprovalTimeoutMaxS));
  } else if (name == "inactivity_timeout_s") {
    TNY_RETURN_IF_ERROR(int_in(&settings.inactivity_timeout_s, 0, limits::kInactivityTimeoutMaxS));
  } else {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T6"},
                   absl::StrCat("unknown setting '", name.substr(0, 64),
                                "'; one of beta_opt_in, approval_timeout_s, inactivity_timeout_s"));
  }
  MutableWorkspace(workspace)->settings = settings;
  std::string shown = as_bool != nullptr ? (*as_bool ? "true" : "false") : absl::StrCat(*as_int);
  Record(actor, ws->account, workspace, absl::StrCat("set_setting ", name, "=", shown));
  return absl::OkStatus();
}

// ---- Members (M3-M5) ----

absl::Status Writer::AddMember(UserId actor, WorkspaceId workspace, UserId user,
                               absl::string_view role_name) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "M3"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M3"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersInvite));
  TNY_ASSIGN_OR_RETURN(RoleId role, ParseWorkspaceRole(ws->account, role_name));
  if (role == kOwner) {
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"M4"},
        absl::StrCat("workspace ", workspace, " has exactly one owner; use transfer_ownership"));
  }
  if (const Grant* g = u->DirectGrant(workspace); g != nullptr) {
    return Refusal(absl::StatusCode::kAlreadyExists, {"M3"},
                   absl::StrCat("user ", user, " already has role '", RoleName(*v_, g->role),
                                "' in workspace ", workspace));
  }
  TNY_RETURN_IF_ERROR(CheckStaffClient(*u, *ws, role));
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, role));
  SetGrant(user, Grant{workspace, 0, role});
  Record(actor, ws->account, workspace,
         absl::StrCat("add_member user=", user, " role=", RoleName(*v_, role)));
  return absl::OkStatus();
}

absl::Status Writer::SetRole(UserId actor, WorkspaceId workspace, UserId user,
                             absl::string_view role_name) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "M3"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M3"));
  TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersChangeRole));
  TNY_ASSIGN_OR_RETURN(RoleId role, ParseWorkspaceRole(ws->account, role_name));
  const Grant* current = u->DirectGrant(workspace);
  if (current == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M3"},
                   absl::StrCat("user ", user, " is not a member of workspace ", workspace));
  }
  if (current->role == kOwner || role == kOwner) {
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"M4"},
        absl::StrCat(
            "the owner of workspace ", workspace,
            " changes only through transfer_ownership; nobody else can change the owner's role"));
  }
  TNY_RETURN_IF_ERROR(CheckStaffClient(*u, *ws, role));
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, current->role));
  TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, role));
  SetGrant(user, Grant{workspace, 0, role});
  session_users_.insert(user);
  Record(actor, ws->account, workspace,
         absl::StrCat("set_role user=", user, " role=", RoleName(*v_, role)));
  return absl::OkStatus();
}

absl::Status Writer::RemoveMember(UserId actor, WorkspaceId workspace, UserId user) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "M3"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "M3"));
  // A member may always leave; removing someone else needs members.remove.
  if (actor != user) TNY_RETURN_IF_ERROR(Authorize(actor, *ws, perm::kMembersRemove));
  const Grant* current = u->DirectGrant(workspace);
  if (current == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"M3"},
                   absl::StrCat("user ", user, " is not a member of workspace ", workspace));
  }
  if (current->role == kOwner) {
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"M4"},
        absl::StrCat("the owner of workspace ", workspace,
                     " cannot be removed; hand ownership over with transfer_ownership first"));
  }
  if (actor != user) TNY_RETURN_IF_ERROR(AuthorizeRole(actor, *ws, current->role));
  EraseGrant(user, workspace, 0);
  session_users_.insert(user);
  Record(actor, ws->account, workspace, absl::StrCat("remove_member user=", user));
  return absl::OkStatus();
}

absl::Status Writer::TransferOwnership(UserId actor, WorkspaceId workspace, UserId new_owner) {
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "M4"));
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(new_owner, "M4"));
  (void)u;
  if (actor != kSystem && actor != ws->owner) {
    return Refusal(absl::StatusCode::kPermissionDenied, {"M4"},
                   absl::StrCat(ActorName(actor), " is not the owner of workspace ", workspace,
                                "; only the owner hands ownership over"));
  }
  const UserId old_owner = ws->owner;
  if (new_owner == old_owner) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"M4"},
                   absl::StrCat("user ", new_owner, " already owns workspace ", workspace));
  }
  SetGrant(old_owner, Grant{workspace, 0, kAdmin});
  SetGrant(new_owner, Grant{workspace, 0, kOwner});
  MutableWorkspace(workspace)->owner = new_owner;
  session_users_.insert(old_owner);
  Record(actor, ws->account, workspace,
         absl::StrCat("transfer_ownership from=", old_owner, " to=", new_owner));
  return absl::OkStatus();
}

// ---- Sessions (S1) ----

absl::Status Writer::SwitchWorkspace(UserId user, WorkspaceId workspace) {
  TNY_ASSIGN_OR_RETURN(const UserNode* u, FindUser(user, "S1"));
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "S1"));
  if (!ws->active()) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"T5", "S1"},
                   absl::StrCat("workspace ", workspace, " is inactive; cannot switch into it"));
  }
  if (!Evaluate<false>(*v_, user, workspace, perm::kWorkspaceSwitch, nullptr)) {
    return Refusal(
        absl::StatusCode::kPermissionDenied, {"S1"},
        absl::StrCat("user ", user, " lacks 'workspace.switch' in workspace ", workspace));
  }
  const WorkspaceId previous = u->active_workspace;
  if (previous != 0 && previous != workspace) {
    MutableWorkspace(previous)->sessions.Erase(txn_, user);
  }
  UserNode* mutable_user = MutableUser(user);
  mutable_user->active_workspace = workspace;
  mutable_user->session_seen_ns = now_ns_;
  MutableWorkspace(workspace)->sessions.Set(txn_, user, 1);
  Record(user, ws->account, workspace, absl::StrCat("switch_workspace user=", user));
  return absl::OkStatus();
}

void Writer::RevalidateSession(UserId user) {
  const UserNode* u = v_->users.Find(user);
  if (u == nullptr || u->active_workspace == 0) return;
  const WorkspaceId active = u->active_workspace;
  const WorkspaceNode* ws = v_->workspaces.Find(active);
  if (ws != nullptr && ws->active() &&
      Evaluate<false>(*v_, user, active, perm::kWorkspaceSwitch, nullptr)) {
    return;
  }
  MutableUser(user)->active_workspace = 0;
  if (ws != nullptr) MutableWorkspace(active)->sessions.Erase(txn_, user);
}

void Writer::FinishSessions() {
  for (WorkspaceId id : session_workspaces_) {
    const WorkspaceNode* ws = v_->workspaces.Find(id);
    if (ws == nullptr) continue;
    std::vector<UserId> users;
    ws->sessions.ForEach([&](UserId user, uint8_t) { users.push_back(user); });
    for (UserId user : users) session_users_.insert(user);
  }
  for (UserId user : session_users_) RevalidateSession(user);
  session_users_.clear();
  session_workspaces_.clear();
}

// ---- Helpers shared with reads ----

const Grant* UserNode::DirectGrant(WorkspaceId workspace) const {
  auto it = std::lower_bound(grants.begin(), grants.end(), Grant{workspace, 0, kNoRole});
  if (it != grants.end() && it->workspace == workspace && it->team == 0) return &*it;
  return nullptr;
}

}  // namespace tenantry::internal
