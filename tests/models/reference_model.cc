// Copyright 2026 The tenantry Authors.
#include "reference_model.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace tenantry::reference {
namespace {

// The bounds T3 and M1 give (docs/rules.md).
constexpr size_t kNameMaxCodePoints = 100;  // T3
constexpr size_t kSlugMinLength = 2;        // T3
constexpr size_t kSlugMaxLength = 50;       // T3
constexpr int kMaxDepth = 8;                // T4
constexpr size_t kKeyMaxBytes = 320;        // M1: an e-mail address fits
constexpr size_t kPlanNameMaxBytes = 100;   // T2
constexpr size_t kRoleNameMaxBytes = 64;    // M6 (docs/decisions.md)

// ---- Permissions and roles (M7, M8) ----

std::string Resource(const std::string& permission) {
  return permission.substr(0, permission.find('.'));
}

std::string Action(const std::string& permission) {
  return permission.substr(permission.find('.') + 1);
}

// What each rank of the hierarchy adds to the one below it (M8).
std::set<std::string> Additions(const std::string& role) {
  std::set<std::string> out;
  for (const std::string& p : PermissionNames()) {
    const std::string resource = Resource(p);
    const std::string action = Action(p);
    if (role == "viewer") {
      // Views every resource except billing (white-label has no view).
      if (action == "view" && resource != "billing") out.insert(p);
      if (p == "workspace.switch") out.insert(p);
    } else if (role == "member") {
      if (p == "campaigns.run" || p == "credits.consume") out.insert(p);
    } else if (role == "manager") {
      if ((resource == "contacts" || resource == "campaigns") && action != "view" &&
          action != "run") {
        out.insert(p);
      }
    } else if (role == "admin") {
      static const std::set<std::string> kResources = {
          "members",      "assistants", "workflows",     "runs",         "connections",
          "integrations", "templates",  "phone_numbers", "appointments", "settings"};
      if (kResources.count(resource) > 0 || p == "workspace.edit") out.insert(p);
    } else if (role == "owner") {
      if (resource == "billing" || resource == "white_label" || p == "workspace.delete") {
        out.insert(p);
      }
    }
  }
  return out;
}

std::map<std::string, std::set<std::string>> MakeRoles() {
  std::map<std::string, std::set<std::string>> roles;
  std::set<std::string> so_far;
  for (const char* rank : {"viewer", "member", "manager", "admin", "owner"}) {
    std::set<std::string> more = Additions(rank);
    so_far.insert(more.begin(), more.end());
    roles[rank] = so_far;
  }
  roles["client"] = {"workspace.view", "workspace.switch", "analytics.view",
                     "runs.view",      "runs.trigger",     "connections.rotate_own"};
  return roles;
}

bool IsWorkspaceRole(const std::string& role) { return IsBuiltinRole(role); }

// M6 (docs/decisions.md): 1-64 of [a-z0-9_-], not a built-in role's name.
bool ValidRoleName(const std::string& name) {
  if (name.empty() || name.size() > kRoleNameMaxBytes || IsBuiltinRole(name)) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

// M6: recomputes every custom role's permissions (its own plus everything
// up its inheritance chain, which ends at a built-in role or at none) and
// which roles are built on `client`. Chains are acyclic.
void ResolveRoles(AccountState& account) {
  account.resolved.clear();
  account.client_family.clear();
  for (const auto& [name, role] : account.roles) {
    std::set<std::string>& perms = account.resolved[name];
    std::string at = name;
    while (!at.empty()) {
      auto it = account.roles.find(at);
      if (it == account.roles.end()) {  // a built-in role ends the chain
        const std::set<std::string>& builtin = WorkspaceRolePermissions(at);
        perms.insert(builtin.begin(), builtin.end());
        if (at == "client") account.client_family.insert(name);
        break;
      }
      perms.insert(it->second.own.begin(), it->second.own.end());
      at = it->second.inherits;
    }
  }
}

std::string Who(UserId actor) {
  return actor == kSystem ? std::string("SYSTEM") : absl::StrCat("user ", actor);
}

// ---- Text (T3, M1) ----

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Unicode's White_Space property.
bool IsWhiteSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// Decodes UTF-8 into code points; nullopt for anything that is not UTF-8
// (bad lead or continuation bytes, truncation, overlong forms, surrogates,
// code points past U+10FFFF).
std::optional<std::u32string> DecodeUtf8(const std::string& text) {
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    char32_t cp = 0;
    if (lead < 0x80) {
      length = 1, cp = lead;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2, cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3, cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4, cp = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + length > text.size()) return std::nullopt;
    for (size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if ((byte & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (byte & 0x3F);
    }
    if ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

std::string EncodeUtf8(const std::u32string& code_points) {
  std::string out;
  for (char32_t cp : code_points) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

// T3: 1-100 code points after trimming white space; no control characters.
absl::StatusOr<std::string> NormalizeName(const std::string& raw) {
  std::optional<std::u32string> decoded = DecodeUtf8(raw);
  if (!decoded.has_value()) return absl::InvalidArgumentError("name is not UTF-8 (T3)");
  std::u32string name = *decoded;
  while (!name.empty() && IsWhiteSpace(name.back())) name.pop_back();
  size_t first = 0;
  while (first < name.size() && IsWhiteSpace(name[first])) ++first;
  name.erase(0, first);
  for (char32_t cp : name) {
    if (cp < 0x20 || cp == 0x7F) return absl::InvalidArgumentError("control character (T3)");
  }
  if (name.empty() || name.size() > kNameMaxCodePoints) {
    return absl::InvalidArgumentError(absl::StrCat("name of ", name.size(), " characters (T3)"));
  }
  return EncodeUtf8(name);
}

bool ValidSlug(const std::string& slug) {
  if (slug.size() < kSlugMinLength || slug.size() > kSlugMaxLength) return false;
  for (char c : slug) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return slug.front() != '-' && slug.back() != '-';
}

// "Acme Inc." -> "acme-inc": ASCII letters and digits kept (lower-cased),
// every run of anything else one hyphen, no hyphen at either end, at most
// 50 characters.
absl::StatusOr<std::string> DeriveSlug(const std::string& name) {
  std::string slug;
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) && byte < 0x80) {
      slug.push_back(static_cast<char>(std::tolower(byte)));
    } else if (!slug.empty() && slug.back() != '-') {
      slug.push_back('-');
    }
  }
  if (slug.size() > kSlugMaxLength) slug.resize(kSlugMaxLength);
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.size() < kSlugMinLength) return absl::InvalidArgumentError("cannot derive a slug (T3)");
  return slug;
}

absl::StatusOr<std::string> NormalizeKey(const std::string& raw) {
  size_t begin = 0;
  size_t end = raw.size();
  while (begin < end && IsAsciiSpace(raw[begin])) ++begin;
  while (end > begin && IsAsciiSpace(raw[end - 1])) --end;
  std::string key = raw.substr(begin, end - begin);
  if (key.empty() || key.size() > kKeyMaxBytes)
    return absl::InvalidArgumentError("key length (M1)");
  // Text, like names (T3): UTF-8 without control characters.
  std::optional<std::u32string> decoded = DecodeUtf8(key);
  if (!decoded.has_value()) return absl::InvalidArgumentError("key is not UTF-8 (M1)");
  for (char32_t cp : *decoded) {
    if (cp < 0x20 || cp == 0x7F) return absl::InvalidArgumentError("control character (M1)");
  }
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

absl::Status ValidatePlan(const Plan& plan) {
  if (plan.name.empty() || plan.name.size() > kPlanNameMaxBytes) {
    return absl::InvalidArgumentError("plan name must be 1-100 bytes (T2)");
  }
  std::optional<std::u32string> decoded = DecodeUtf8(plan.name);
  if (!decoded.has_value()) return absl::InvalidArgumentError("plan name is not UTF-8 (T2)");
  for (char32_t cp : *decoded) {
    if (cp < 0x20 || cp == 0x7F) return absl::InvalidArgumentError("control character (T2)");
  }
  if (plan.workspace_limit < -1) {
    return absl::InvalidArgumentError("plan limit must be >= -1 (T2)");
  }
  return absl::OkStatus();
}

}  // namespace

// ---- Catalog ----

const std::vector<std::string>& PermissionNames() {
  // clang-format off
  static const auto* const names = new std::vector<std::string>{
      "workspace.view",      "workspace.switch",     "workspace.edit",
      "workspace.delete",    "account.create_workspace", "account.manage_staff",
      "account.manage_plan", "members.view",         "members.invite",
      "members.remove",      "members.change_role",  "contacts.view",
      "contacts.create",     "contacts.edit",        "contacts.delete",
      "contacts.import",     "contacts.export",      "contacts.tag",
      "campaigns.view",      "campaigns.create",     "campaigns.edit",
      "campaigns.delete",    "campaigns.run",        "calls.view",
      "analytics.view",      "assistants.view",      "assistants.edit",
      "workflows.view",      "workflows.edit",       "workflows.deploy",
      "runs.view",           "runs.trigger",         "connections.view",
      "connections.edit",    "connections.rotate_own", "integrations.view",
      "integrations.edit",   "templates.view",       "templates.edit",
      "phone_numbers.view",  "phone_numbers.buy",    "appointments.view",
      "appointments.edit",   "settings.edit",        "billing.view",
      "billing.manage",      "white_label.manage",   "credits.view",
      "credits.transfer",    "credits.consume"};
  // clang-format on
  return *names;
}

bool IsBuiltinRole(const std::string& role) {
  return role == "owner" || role == "admin" || role == "manager" || role == "member" ||
         role == "viewer" || role == "client";
}

const std::set<std::string>& WorkspaceRolePermissions(const std::string& role) {
  static const auto* const roles = new std::map<std::string, std::set<std::string>>(MakeRoles());
  static const auto* const none = new std::set<std::string>();
  auto it = roles->find(role);
  return it == roles->end() ? *none : it->second;
}

const std::set<std::string>& StaffPermissions(const std::string& account_role,
                                              const std::string& staff_member_role) {
  static const auto* const grants = [] {
    auto* out = new std::map<std::string, std::set<std::string>>();
    for (const char* role : {"owner", "admin"}) {
      std::set<std::string>& perms = (*out)[role];
      perms = WorkspaceRolePermissions(role);
      for (const std::string& p : PermissionNames()) {
        if (Resource(p) == "account") perms.insert(p);
      }
      perms.insert("credits.transfer");
    }
    return out;
  }();
  static const auto* const none = new std::set<std::string>();
  if (account_role == "member") return WorkspaceRolePermissions(staff_member_role);
  auto it = grants->find(account_role);
  return it == grants->end() ? *none : it->second;
}

int64_t NamedPlanLimit(const std::string& name) {
  if (name == "starter") return 1;
  if (name == "growth") return 5;
  if (name == "scale") return 25;
  if (name == "enterprise") return -1;
  return 1;
}

bool NamedPlanAgency(const std::string& name) { return name == "enterprise"; }

// ---- Lookups ----

const WorkspaceState* Model::FindWorkspace(WorkspaceId id) const {
  auto it = workspaces_.find(id);
  return it == workspaces_.end() ? nullptr : &it->second;
}

const AccountState* Model::FindAccount(AccountId id) const {
  auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : &it->second;
}

const TeamState* Model::FindTeam(TeamId id) const {
  auto it = teams_.find(id);
  return it == teams_.end() ? nullptr : &it->second;
}

const InvitationState* Model::FindInvitation(InvitationId id) const {
  auto it = invitations_.find(id);
  return it == invitations_.end() ? nullptr : &it->second;
}

UserId Model::UserWithKey(const std::string& key) const {
  for (const auto& [id, user] : users_) {
    if (user.key == key) return id;
  }
  return 0;
}

std::set<WorkspaceId> Model::Subtree(WorkspaceId workspace) const {
  std::set<WorkspaceId> out;
  for (const auto& [id, ws] : workspaces_) {
    for (WorkspaceId at = id; at != 0; at = workspaces_.at(at).parent) {
      if (at == workspace) {
        out.insert(id);
        break;
      }
    }
  }
  return out;
}

// ---- Roles (M3, M6) ----

absl::Status Model::KnownRole(AccountId account, const std::string& role) const {
  if (IsBuiltinRole(role) || accounts_.at(account).roles.count(role) > 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown role '", role, "' (M3, M6)"));
}

const std::set<std::string>& Model::PermissionsOf(const AccountState& account,
                                                  const std::string& role) const {
  auto it = account.resolved.find(role);
  return it != account.resolved.end() ? it->second : WorkspaceRolePermissions(role);
}

bool Model::IsClientRole(const AccountState& account, const std::string& role) const {
  return role == "client" || account.client_family.count(role) > 0;
}

bool Model::IsStaffOf(AccountId account, UserId user) const {
  return accounts_.at(account).staff.count(user) > 0;
}

bool Model::IsClientIn(AccountId account, UserId user) const {
  const AccountState& a = accounts_.at(account);
  for (WorkspaceId id : a.workspaces) {
    const WorkspaceState& ws = workspaces_.at(id);
    auto it = ws.members.find(user);
    if (it != ws.members.end() && IsClientRole(a, it->second)) return true;
    for (TeamId team : ws.teams) {
      const TeamState& t = teams_.at(team);
      if (t.members.count(user) > 0 && IsClientRole(a, t.role)) return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> Model::RolePermissions(AccountId account,
                                                                const std::string& role) const {
  const AccountState* a = FindAccount(account);
  if (!IsBuiltinRole(role) && (a == nullptr || a->roles.count(role) == 0)) {
    return absl::NotFoundError(absl::StrCat("unknown role '", role, "' (M3, M6)"));
  }
  const std::set<std::string>& perms =
      IsBuiltinRole(role) ? WorkspaceRolePermissions(role) : a->resolved.at(role);
  return std::vector<std::string>(perms.begin(), perms.end());
}

int Model::Depth(WorkspaceId workspace) const {
  int depth = 0;
  for (const WorkspaceState* ws = FindWorkspace(workspace); ws != nullptr;
       ws = FindWorkspace(ws->parent)) {
    ++depth;
  }
  return depth;
}

std::optional<WorkspaceId> Model::ActiveWorkspace(UserId user) const {
  auto it = users_.find(user);
  if (it == users_.end() || it->second.active_workspace == 0) return std::nullopt;
  return it->second.active_workspace;
}

// ---- Access (A1-A3, T5, M2) ----

bool Model::InStaffScope(const StaffMember& staff, WorkspaceId id) const {
  if (staff.all) return true;
  for (const WorkspaceState* ws = FindWorkspace(id); ws != nullptr;
       id = ws->parent, ws = FindWorkspace(id)) {
    if (staff.scope.count(id) > 0) return true;
  }
  return false;
}

template <class Visit>
bool Model::AnyHeldRole(UserId user, const WorkspaceState& ws, WorkspaceId id,
                        const Visit& visit) const {
  const AccountState& account = accounts_.at(ws.account);
  // The direct role and the team roles (M9) in the workspace itself, then
  // (A3) those held in its agency ancestors, except client-family roles.
  for (const WorkspaceState* at = &ws; at != nullptr; at = FindWorkspace(at->parent)) {
    const bool inherited = at != &ws;
    auto held = [&](const std::string& role) {
      return !(inherited && IsClientRole(account, role)) && visit(PermissionsOf(account, role));
    };
    if (auto it = at->members.find(user); it != at->members.end() && held(it->second)) {
      return true;
    }
    for (TeamId team : at->teams) {
      const TeamState& t = teams_.at(team);
      if (t.members.count(user) > 0 && held(t.role)) return true;
    }
  }
  // M2, M8: the staff grant, when the workspace is in scope.
  if (auto it = account.staff.find(user); it != account.staff.end()) {
    if (InStaffScope(it->second, id)) {
      if (visit(StaffPermissions(it->second.role, account.staff_member_role))) return true;
    }
  }
  return false;
}

bool Model::Check(UserId user, WorkspaceId workspace, const std::string& permission) const {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr || users_.count(user) == 0) return false;
  if (!ws->active && permission != "workspace.view" && permission != "workspace.edit" &&
      permission != "workspace.delete") {
    return false;  // T5
  }
  return AnyHeldRole(user, *ws, workspace, [&](const std::set<std::string>& perms) {
    return perms.count(permission) > 0;
  });
}

std::vector<WorkspaceId> Model::WorkspacesFor(UserId user) const {
  std::vector<std::pair<std::string, WorkspaceId>> found;  // sorted by name, then id
  for (const auto& [id, ws] : workspaces_) {
    if (ws.active && Check(user, id, "workspace.switch")) found.emplace_back(ws.name, id);
  }
  std::sort(found.begin(), found.end());
  std::vector<WorkspaceId> out;
  for (const auto& [name, id] : found) out.push_back(id);
  return out;
}

// ---- Authorization (M10) ----

absl::Status Model::Authorize(UserId actor, WorkspaceId workspace,
                              const std::string& permission) const {
  if (actor == kSystem || Check(actor, workspace, permission)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(Who(actor), " lacks ", permission, " in workspace ", workspace, " (M10)"));
}

absl::Status Model::AuthorizeAccount(UserId actor, AccountId account,
                                     const std::string& permission) const {
  if (actor == kSystem) return absl::OkStatus();
  const AccountState& a = accounts_.at(account);
  auto it = a.staff.find(actor);
  if (it != a.staff.end() &&
      StaffPermissions(it->second.role, a.staff_member_role).count(permission) > 0) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(Who(actor), " lacks ", permission, " in account ", account, " (M10)"));
}

// Nobody hands out (or takes away) a role holding more than they hold.
absl::Status Model::AuthorizeRole(UserId actor, WorkspaceId workspace,
                                  const std::string& role) const {
  if (actor == kSystem) return absl::OkStatus();
  std::set<std::string> held;
  if (users_.count(actor) > 0) {
    AnyHeldRole(actor, workspaces_.at(workspace), workspace,
                [&](const std::set<std::string>& perms) {
                  held.insert(perms.begin(), perms.end());
                  return false;  // visit them all
                });
  }
  const AccountState& account = accounts_.at(workspaces_.at(workspace).account);
  for (const std::string& p : PermissionsOf(account, role)) {
    if (held.count(p) == 0) {
      return absl::PermissionDeniedError(
          absl::StrCat(Who(actor), " cannot grant or take away ", role, ": lacks ", p, " (M10)"));
    }
  }
  return absl::OkStatus();
}

absl::Status Model::ValidateScope(AccountId account, const StaffScope& scope) const {
  if (scope.all) return absl::OkStatus();
  for (WorkspaceId id : std::set<WorkspaceId>(scope.workspaces.begin(), scope.workspaces.end())) {
    const WorkspaceState* ws = FindWorkspace(id);
    if (ws == nullptr) return absl::NotFoundError(absl::StrCat("unknown workspace ", id, " (M2)"));
    if (ws->account != account) {
      return absl::InvalidArgumentError(absl::StrCat("workspace ", id, " not in account (M2)"));
    }
  }
  return absl::OkStatus();
}

// ---- Sessions (S1) ----

void Model::Accepted() {
  ++revision_;
  if (!in_batch_) RevalidateSessions();
}

void Model::EndBatch() {
  in_batch_ = false;
  RevalidateSessions();
}

void Model::RevalidateSessions() {
  for (auto& [id, user] : users_) {
    if (user.active_workspace == 0) continue;
    const WorkspaceState* ws = FindWorkspace(user.active_workspace);
    if (ws == nullptr || !ws->active || !Check(id, user.active_workspace, "workspace.switch")) {
      user.active_workspace = 0;
    }
  }
}

absl::Status Model::SwitchWorkspace(UserId user, WorkspaceId workspace) {
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (S1)");
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (S1)");
  if (!ws->active) return absl::FailedPreconditionError("workspace inactive (T5, S1)");
  if (!Check(user, workspace, "workspace.switch")) {
    return absl::PermissionDeniedError("lacks workspace.switch (S1)");
  }
  users_[user].active_workspace = workspace;
  Accepted();
  return absl::OkStatus();
}

// ---- Users and accounts (M1, T1, T2, M2) ----

absl::StatusOr<UserId> Model::CreateUser(const std::string& raw_key) {
  absl::StatusOr<std::string> key = NormalizeKey(raw_key);
  if (!key.ok()) return key.status();
  if (user_keys_.count(*key) > 0) return absl::AlreadyExistsError("user key exists (M1)");
  user_keys_.insert(*key);
  const UserId id = next_user_++;
  users_[id].key = *key;
  Accepted();
  return id;
}

absl::StatusOr<AccountId> Model::CreateAccount(const AccountSpec& spec) {
  absl::StatusOr<std::string> name = NormalizeName(spec.name);
  if (!name.ok()) return name.status();
  if (users_.count(spec.owner) == 0) return absl::NotFoundError("unknown owner (T1)");
  std::string key;
  if (!spec.key.empty()) {
    absl::StatusOr<std::string> normalized = NormalizeKey(spec.key);
    if (!normalized.ok()) return normalized.status();
    key = *normalized;
    if (account_keys_.count(key) > 0) return absl::AlreadyExistsError("account key exists (T1)");
  }
  if (spec.plan.has_value()) {
    absl::Status valid = ValidatePlan(*spec.plan);
    if (!valid.ok()) return valid;
  }
  if (spec.member_default_scope != "all" && spec.member_default_scope != "none") {
    return absl::InvalidArgumentError("member_default_scope is all or none (M2)");
  }
  const std::string& member_role = spec.staff_member_role;
  if (!IsWorkspaceRole(member_role) || member_role == "owner" || member_role == "client") {
    return absl::InvalidArgumentError("staff_member_role (M8)");
  }
  if (!key.empty()) account_keys_.insert(key);
  const AccountId id = next_account_++;
  AccountState& a = accounts_[id];
  a.name = *name;
  // T2: an unset plan gets the most restrictive limit.
  a.plan_name = spec.plan.has_value() ? spec.plan->name : "unset";
  a.workspace_limit = spec.plan.has_value() ? spec.plan->workspace_limit : 1;
  a.agency = spec.plan.has_value() && spec.plan->agency;
  a.owner = spec.owner;
  a.member_default_all = spec.member_default_scope == "all";
  a.staff_member_role = member_role;
  a.staff[spec.owner] = StaffMember{"owner", true, {}};
  Accepted();
  return id;
}

absl::Status Model::SetPlan(UserId actor, AccountId account, const Plan& plan) {
  if (FindAccount(account) == nullptr) return absl::NotFoundError("unknown account (T2)");
  absl::Status status = AuthorizeAccount(actor, account, "account.manage_plan");
  if (status.ok()) status = ValidatePlan(plan);
  if (!status.ok()) return status;
  // T2: a lower plan deletes nothing.
  AccountState& a = accounts_[account];
  a.plan_name = plan.name;
  a.workspace_limit = plan.workspace_limit;
  a.agency = plan.agency;
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::AddStaff(UserId actor, AccountId account, UserId user, const std::string& role,
                             const std::optional<StaffScope>& scope) {
  if (FindAccount(account) == nullptr) return absl::NotFoundError("unknown account (M2)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M2)");
  if (absl::Status s = AuthorizeAccount(actor, account, "account.manage_staff"); !s.ok()) {
    return s;
  }
  if (role != "owner" && role != "admin" && role != "member") {
    return absl::InvalidArgumentError("unknown account role (M2)");
  }
  if (role == "owner") return absl::FailedPreconditionError("one owner per account (M2)");
  const AccountState& a = accounts_.at(account);
  if (a.staff.count(user) > 0) return absl::AlreadyExistsError("already staff (M2)");
  if (IsClientIn(account, user)) {
    return absl::FailedPreconditionError("a client cannot be staff (M5)");
  }
  // M2: owners and admins always have all; a new member's scope follows
  // member_default_scope when none is given.
  StaffMember staff{role, true, {}};
  if (role == "admin") {
    if (scope.has_value() && !scope->all) {
      return absl::InvalidArgumentError("admins always have the scope all (M2)");
    }
  } else if (scope.has_value()) {
    if (absl::Status s = ValidateScope(account, *scope); !s.ok()) return s;
    staff.all = scope->all;
    if (!scope->all) staff.scope.insert(scope->workspaces.begin(), scope->workspaces.end());
  } else {
    staff.all = a.member_default_all;
  }
  accounts_[account].staff[user] = staff;
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::SetStaffScope(UserId actor, AccountId account, UserId user,
                                  const StaffScope& scope) {
  if (FindAccount(account) == nullptr) return absl::NotFoundError("unknown account (M2)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M2)");
  if (absl::Status s = AuthorizeAccount(actor, account, "account.manage_staff"); !s.ok()) {
    return s;
  }
  auto it = accounts_[account].staff.find(user);
  if (it == accounts_[account].staff.end()) return absl::NotFoundError("not staff (M2)");
  if (it->second.role != "member" && !scope.all) {
    return absl::InvalidArgumentError("owners and admins always have the scope all (M2)");
  }
  if (absl::Status s = ValidateScope(account, scope); !s.ok()) return s;
  it->second.all = scope.all;
  it->second.scope.clear();
  if (!scope.all) it->second.scope.insert(scope.workspaces.begin(), scope.workspaces.end());
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::RemoveStaff(UserId actor, AccountId account, UserId user) {
  if (FindAccount(account) == nullptr) return absl::NotFoundError("unknown account (M2)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M2)");
  if (absl::Status s = AuthorizeAccount(actor, account, "account.manage_staff"); !s.ok()) {
    return s;
  }
  auto it = accounts_[account].staff.find(user);
  if (it == accounts_[account].staff.end()) return absl::NotFoundError("not staff (M2)");
  if (it->second.role == "owner") {
    return absl::FailedPreconditionError("the account owner stays (M2)");
  }
  accounts_[account].staff.erase(it);
  Accepted();
  return absl::OkStatus();
}

// ---- Workspaces (T2-T5) ----

absl::StatusOr<WorkspaceId> Model::CreateWorkspace(UserId actor, AccountId account,
                                                   const WorkspaceSpec& spec) {
  const AccountState* a = FindAccount(account);
  if (a == nullptr) return absl::NotFoundError("unknown account (T1)");
  if (absl::Status s = AuthorizeAccount(actor, account, "account.create_workspace"); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> name = NormalizeName(spec.name);
  if (!name.ok()) return name.status();
  std::string slug;
  if (spec.slug.has_value()) {
    if (!ValidSlug(*spec.slug)) return absl::InvalidArgumentError("bad slug (T3)");
    slug = *spec.slug;
  } else {
    absl::StatusOr<std::string> derived = DeriveSlug(*name);
    if (!derived.ok()) return derived.status();
    slug = *derived;
  }
  if (a->slugs.count(slug) > 0) return absl::AlreadyExistsError("slug taken (T3)");
  const auto count = static_cast<int64_t>(a->workspaces.size());
  if (a->workspace_limit != -1 && count >= a->workspace_limit) {
    return absl::ResourceExhaustedError(absl::StrCat("plan allows ", a->workspace_limit, " (T2)"));
  }
  const bool agency = spec.type == WorkspaceType::kAgency;
  if (agency && !a->agency) return absl::FailedPreconditionError("plan forbids agency (T4)");
  if (spec.parent != 0) {
    const WorkspaceState* parent = FindWorkspace(spec.parent);
    if (parent == nullptr) return absl::NotFoundError("unknown parent (T4)");
    if (parent->account != account) return absl::InvalidArgumentError("parent elsewhere (T4)");
    if (!parent->agency) return absl::FailedPreconditionError("parent not agency (T4)");
    if (Depth(spec.parent) >= kMaxDepth) return absl::FailedPreconditionError("too deep (T4)");
  }
  const UserId owner = spec.owner != 0 ? spec.owner : actor == kSystem ? a->owner : actor;
  if (users_.count(owner) == 0) return absl::NotFoundError("unknown owner (M4)");

  const WorkspaceId id = next_workspace_++;
  WorkspaceState& ws = workspaces_[id];
  ws.account = account;
  ws.name = *name;
  ws.slug = slug;
  ws.agency = agency;
  ws.parent = spec.parent;
  ws.owner = owner;
  ws.members[owner] = "owner";
  accounts_[account].workspaces.insert(id);
  accounts_[account].slugs.insert(slug);
  Accepted();
  return id;
}

absl::Status Model::RenameWorkspace(UserId actor, WorkspaceId workspace,
                                    const std::string& raw_name) {
  if (FindWorkspace(workspace) == nullptr) return absl::NotFoundError("unknown workspace (T3)");
  if (absl::Status s = Authorize(actor, workspace, "workspace.edit"); !s.ok()) return s;
  absl::StatusOr<std::string> name = NormalizeName(raw_name);
  if (!name.ok()) return name.status();
  workspaces_[workspace].name = *name;
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::SetStatus(UserId actor, WorkspaceId workspace, WorkspaceStatus status) {
  if (FindWorkspace(workspace) == nullptr) return absl::NotFoundError("unknown workspace (T5)");
  if (absl::Status s = Authorize(actor, workspace, "workspace.edit"); !s.ok()) return s;
  workspaces_[workspace].active = status == WorkspaceStatus::kActive;
  Accepted();
  return absl::OkStatus();
}

// ---- Members (M3-M5, M10) ----

absl::Status Model::AddMember(UserId actor, WorkspaceId workspace, UserId user,
                              const std::string& role) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (M3)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M3)");
  if (absl::Status s = Authorize(actor, workspace, "members.invite"); !s.ok()) return s;
  if (absl::Status s = KnownRole(ws->account, role); !s.ok()) return s;
  if (role == "owner") return absl::FailedPreconditionError("one owner (M4)");
  if (ws->members.count(user) > 0) return absl::AlreadyExistsError("already a member (M3)");
  if (IsClientRole(accounts_.at(ws->account), role) && IsStaffOf(ws->account, user)) {
    return absl::FailedPreconditionError("staff cannot be a client (M5)");
  }
  if (absl::Status s = AuthorizeRole(actor, workspace, role); !s.ok()) return s;
  workspaces_[workspace].members[user] = role;
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::SetRole(UserId actor, WorkspaceId workspace, UserId user,
                            const std::string& role) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (M3)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M3)");
  if (absl::Status s = Authorize(actor, workspace, "members.change_role"); !s.ok()) return s;
  if (absl::Status s = KnownRole(ws->account, role); !s.ok()) return s;
  auto it = ws->members.find(user);
  if (it == ws->members.end()) return absl::NotFoundError("not a member (M3)");
  if (it->second == "owner" || role == "owner") {
    return absl::FailedPreconditionError("the owner changes only by transfer (M4)");
  }
  if (IsClientRole(accounts_.at(ws->account), role) && IsStaffOf(ws->account, user)) {
    return absl::FailedPreconditionError("staff cannot be a client (M5)");
  }
  if (absl::Status s = AuthorizeRole(actor, workspace, it->second); !s.ok()) return s;
  if (absl::Status s = AuthorizeRole(actor, workspace, role); !s.ok()) return s;
  workspaces_[workspace].members[user] = role;
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::RemoveMember(UserId actor, WorkspaceId workspace, UserId user) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (M3)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M3)");
  // A member may always leave.
  const bool self = actor == user;
  if (!self) {
    if (absl::Status s = Authorize(actor, workspace, "members.remove"); !s.ok()) return s;
  }
  auto it = ws->members.find(user);
  if (it == ws->members.end()) return absl::NotFoundError("not a member (M3)");
  if (it->second == "owner") return absl::FailedPreconditionError("the owner stays (M4)");
  if (!self) {
    if (absl::Status s = AuthorizeRole(actor, workspace, it->second); !s.ok()) return s;
  }
  workspaces_[workspace].members.erase(user);
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::TransferOwnership(UserId actor, WorkspaceId workspace, UserId new_owner) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (M4)");
  if (users_.count(new_owner) == 0) return absl::NotFoundError("unknown user (M4)");
  if (actor != kSystem && actor != ws->owner) {
    return absl::PermissionDeniedError("only the owner hands ownership over (M4)");
  }
  if (new_owner == ws->owner) return absl::FailedPreconditionError("already the owner (M4)");
  WorkspaceState& mutable_ws = workspaces_[workspace];
  mutable_ws.members[mutable_ws.owner] = "admin";
  mutable_ws.members[new_owner] = "owner";
  mutable_ws.owner = new_owner;
  Accepted();
  return absl::OkStatus();
}

// ---- Deletion (T7) ----

absl::Status Model::DeleteWorkspace(UserId actor, WorkspaceId workspace,
                                    const std::string& confirm) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (T7)");
  if (absl::Status s = Authorize(actor, workspace, "workspace.delete"); !s.ok()) return s;
  if (confirm != ws->name) {
    return absl::InvalidArgumentError("the confirmation is not the exact name (T7)");
  }
  // The subtree goes too; the account keeps at least one workspace.
  const std::set<WorkspaceId> doomed = Subtree(workspace);
  const AccountId account = ws->account;
  if (accounts_.at(account).workspaces.size() <= doomed.size()) {
    return absl::FailedPreconditionError("the account's only workspace (T7)");
  }
  if (actor != kSystem && doomed.count(users_.at(actor).active_workspace) > 0) {
    return absl::FailedPreconditionError("the caller's own active workspace (T7)");
  }
  for (auto it = teams_.begin(); it != teams_.end();) {
    it = doomed.count(it->second.workspace) > 0 ? teams_.erase(it) : std::next(it);
  }
  for (auto it = invitations_.begin(); it != invitations_.end();) {
    if (!it->second.staff && doomed.count(it->second.workspace) > 0) {
      tokens_.erase(it->second.token);
      it = invitations_.erase(it);
    } else {
      ++it;
    }
  }
  // S1: at once, even inside a batch (nobody can be in a workspace that is gone).
  for (auto& [id, user] : users_) {
    if (doomed.count(user.active_workspace) > 0) user.active_workspace = 0;
  }
  AccountState& a = accounts_.at(account);
  for (auto& [user, staff] : a.staff) {
    for (WorkspaceId id : doomed) staff.scope.erase(id);  // scopes forget it
  }
  for (WorkspaceId id : doomed) {
    a.workspaces.erase(id);
    a.slugs.erase(workspaces_.at(id).slug);  // the slug is free again
    workspaces_.erase(id);
  }
  Accepted();
  return absl::OkStatus();
}

// ---- Custom roles (M6) ----

absl::Status Model::DefineRole(UserId actor, AccountId account, const std::string& name,
                               const std::vector<std::string>& permissions,
                               const std::string& inherits) {
  if (FindAccount(account) == nullptr) return absl::NotFoundError("unknown account (M6)");
  if (absl::Status s = AuthorizeAccount(actor, account, "account.manage_staff"); !s.ok()) {
    return s;
  }
  if (!ValidRoleName(name)) return absl::InvalidArgumentError("role name (M6)");
  const std::vector<std::string>& catalog = PermissionNames();
  for (const std::string& p : permissions) {
    if (std::find(catalog.begin(), catalog.end(), p) == catalog.end()) {
      return absl::NotFoundError(absl::StrCat("unknown permission ", p, " (M7)"));
    }
  }
  if (!inherits.empty()) {
    if (absl::Status s = KnownRole(account, inherits); !s.ok()) return s;
  }
  const AccountState& a = accounts_.at(account);
  const bool redefined = a.roles.count(name) > 0;
  // A cycle: the new parent's chain reaches the role itself.
  for (std::string at = inherits; redefined && a.roles.count(at) > 0;
       at = a.roles.at(at).inherits) {
    if (at == name) return absl::FailedPreconditionError("inheritance cycle (M6)");
  }
  AccountState changed = a;
  changed.roles[name] = CustomRole{{permissions.begin(), permissions.end()}, inherits};
  ResolveRoles(changed);
  // M5 must keep holding for current holders: no role moves in or out of
  // the client family (a new role joins the family of its parent).
  std::set<std::string> family = changed.client_family;
  if (!redefined) family.erase(name);
  if (family != a.client_family) {
    return absl::FailedPreconditionError("a role cannot move in or out of the client family (M6)");
  }
  accounts_[account] = std::move(changed);
  Accepted();
  return absl::OkStatus();
}

// ---- Teams (M9) ----

absl::StatusOr<TeamId> Model::CreateTeam(UserId actor, WorkspaceId workspace,
                                         const std::string& raw_name, const std::string& role) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (M9)");
  if (absl::Status s = Authorize(actor, workspace, "members.change_role"); !s.ok()) return s;
  absl::StatusOr<std::string> name = NormalizeName(raw_name);
  if (!name.ok()) return name.status();
  if (absl::Status s = KnownRole(ws->account, role); !s.ok()) return s;
  if (role == "owner") return absl::FailedPreconditionError("a team is never owner (M4, M9)");
  if (absl::Status s = AuthorizeRole(actor, workspace, role); !s.ok()) return s;
  for (TeamId id : ws->teams) {
    if (teams_.at(id).name == *name) return absl::AlreadyExistsError("team name taken (M9)");
  }
  const TeamId id = next_team_++;
  teams_[id] = TeamState{workspace, *name, role, {}};
  workspaces_[workspace].teams.insert(id);
  Accepted();
  return id;
}

absl::Status Model::AddTeamMember(UserId actor, TeamId team, UserId user) {
  const TeamState* t = FindTeam(team);
  if (t == nullptr) return absl::NotFoundError("unknown team (M9)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (M9)");
  if (absl::Status s = Authorize(actor, t->workspace, "members.invite"); !s.ok()) return s;
  if (absl::Status s = AuthorizeRole(actor, t->workspace, t->role); !s.ok()) return s;
  if (t->members.count(user) > 0) return absl::AlreadyExistsError("already in the team (M9)");
  const AccountId account = workspaces_.at(t->workspace).account;
  if (IsClientRole(accounts_.at(account), t->role) && IsStaffOf(account, user)) {
    return absl::FailedPreconditionError("staff cannot be a client (M5)");
  }
  teams_[team].members.insert(user);
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::RemoveTeamMember(UserId actor, TeamId team, UserId user) {
  const TeamState* t = FindTeam(team);
  if (t == nullptr) return absl::NotFoundError("unknown team (M9)");
  // A member may always leave.
  if (actor != user) {
    if (absl::Status s = Authorize(actor, t->workspace, "members.remove"); !s.ok()) return s;
    if (absl::Status s = AuthorizeRole(actor, t->workspace, t->role); !s.ok()) return s;
  }
  if (t->members.count(user) == 0) return absl::NotFoundError("not in the team (M9)");
  teams_[team].members.erase(user);
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::SetTeamRole(UserId actor, TeamId team, const std::string& role) {
  const TeamState* t = FindTeam(team);
  if (t == nullptr) return absl::NotFoundError("unknown team (M9)");
  if (absl::Status s = Authorize(actor, t->workspace, "members.change_role"); !s.ok()) return s;
  const AccountId account = workspaces_.at(t->workspace).account;
  if (absl::Status s = KnownRole(account, role); !s.ok()) return s;
  if (role == "owner") return absl::FailedPreconditionError("a team is never owner (M4, M9)");
  if (absl::Status s = AuthorizeRole(actor, t->workspace, t->role); !s.ok()) return s;
  if (absl::Status s = AuthorizeRole(actor, t->workspace, role); !s.ok()) return s;
  if (IsClientRole(accounts_.at(account), role)) {
    for (UserId user : t->members) {
      if (IsStaffOf(account, user)) {
        return absl::FailedPreconditionError("staff cannot be a client (M5)");
      }
    }
  }
  teams_[team].role = role;
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::DeleteTeam(UserId actor, TeamId team) {
  const TeamState* t = FindTeam(team);
  if (t == nullptr) return absl::NotFoundError("unknown team (M9)");
  if (absl::Status s = Authorize(actor, t->workspace, "members.change_role"); !s.ok()) return s;
  if (absl::Status s = AuthorizeRole(actor, t->workspace, t->role); !s.ok()) return s;
  workspaces_[t->workspace].teams.erase(team);
  teams_.erase(team);
  Accepted();
  return absl::OkStatus();
}

// ---- Invitations (I1-I4) ----

std::string Model::InvitationStateName(const InvitationState& invitation) const {
  if (invitation.state == "pending" && now_ns_ >= invitation.expires_at_ns) return "expired";
  return invitation.state;
}

absl::Status Model::AuthorizeInvitation(UserId actor, const InvitationState& it) const {
  if (it.staff) return AuthorizeAccount(actor, it.account, "account.manage_staff");
  return Authorize(actor, it.workspace, "members.invite");
}

absl::StatusOr<InvitationId> Model::Invite(UserId actor, WorkspaceId workspace,
                                           const std::string& raw_email, const std::string& role) {
  const WorkspaceState* ws = FindWorkspace(workspace);
  if (ws == nullptr) return absl::NotFoundError("unknown workspace (I1)");
  if (absl::Status s = Authorize(actor, workspace, "members.invite"); !s.ok()) return s;
  absl::StatusOr<std::string> email = NormalizeKey(raw_email);
  if (!email.ok()) return email.status();
  if (absl::Status s = KnownRole(ws->account, role); !s.ok()) return s;
  if (role == "owner") return absl::FailedPreconditionError("nobody is invited as owner (M4)");
  if (absl::Status s = AuthorizeRole(actor, workspace, role); !s.ok()) return s;
  // What accept would refuse for an existing user is refused now.
  if (const UserId user = UserWithKey(*email); user != 0) {
    if (IsClientRole(accounts_.at(ws->account), role) && IsStaffOf(ws->account, user)) {
      return absl::FailedPreconditionError("staff cannot be a client (M5)");
    }
    if (ws->members.count(user) > 0) return absl::AlreadyExistsError("already a member (M3)");
  }
  const InvitationId id = next_invitation_++;
  InvitationState& it = invitations_[id];
  it.account = ws->account;
  it.workspace = workspace;
  it.email = *email;
  it.role = role;
  it.expires_at_ns = now_ns_ + invitation_ttl_s_ * 1'000'000'000;
  it.invited_by = actor;
  Accepted();
  return id;
}

absl::StatusOr<InvitationId> Model::InviteStaff(UserId actor, AccountId account,
                                                const std::string& raw_email,
                                                const std::string& role,
                                                const std::optional<StaffScope>& scope) {
  const AccountState* a = FindAccount(account);
  if (a == nullptr) return absl::NotFoundError("unknown account (I1)");
  if (absl::Status s = AuthorizeAccount(actor, account, "account.manage_staff"); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> email = NormalizeKey(raw_email);
  if (!email.ok()) return email.status();
  if (role != "admin" && role != "member") {
    return absl::InvalidArgumentError("a staff invitation is for admin or member (M2, I1)");
  }
  // M2: as add_staff: admins have all, members the given scope or the default.
  const bool all = scope.has_value() ? scope->all : role == "admin" || a->member_default_all;
  if (role == "admin" && !all) return absl::InvalidArgumentError("admins have all (M2)");
  if (scope.has_value()) {
    if (absl::Status s = ValidateScope(account, *scope); !s.ok()) return s;
  }
  if (const UserId user = UserWithKey(*email); user != 0) {
    if (IsClientIn(account, user)) {
      return absl::FailedPreconditionError("a client cannot be staff (M5)");
    }
    if (IsStaffOf(account, user)) return absl::AlreadyExistsError("already staff (M2)");
  }
  const InvitationId id = next_invitation_++;
  InvitationState& it = invitations_[id];
  it.staff = true;
  it.account = account;
  it.email = *email;
  it.role = role;
  it.scope_all = all;
  if (!all && scope.has_value()) {
    it.scope.insert(scope->workspaces.begin(), scope->workspaces.end());
  }
  it.expires_at_ns = now_ns_ + invitation_ttl_s_ * 1'000'000'000;
  it.invited_by = actor;
  Accepted();
  return id;
}

absl::StatusOr<InvitationId> Model::Resend(UserId actor, InvitationId invitation) {
  const InvitationState* it = FindInvitation(invitation);
  if (it == nullptr) return absl::NotFoundError("unknown invitation (I1)");
  if (absl::Status s = AuthorizeInvitation(actor, *it); !s.ok()) return s;
  // Pending, expired or not.
  if (it->state != "pending") return absl::FailedPreconditionError("not pending (I2)");
  InvitationState& changed = invitations_[invitation];
  tokens_.erase(changed.token);  // the old token stops working at once
  changed.token.clear();
  changed.expires_at_ns = now_ns_ + invitation_ttl_s_ * 1'000'000'000;
  Accepted();
  return invitation;
}

void Model::IssueToken(InvitationId invitation, const std::string& token) {
  InvitationState& it = invitations_.at(invitation);
  tokens_.erase(it.token);
  it.token = token;
  tokens_[token] = invitation;
}

absl::Status Model::RevokeInvitation(UserId actor, InvitationId invitation) {
  const InvitationState* it = FindInvitation(invitation);
  if (it == nullptr) return absl::NotFoundError("unknown invitation (I1)");
  if (absl::Status s = AuthorizeInvitation(actor, *it); !s.ok()) return s;
  if (it->state != "pending") return absl::FailedPreconditionError("not pending (I2)");
  invitations_[invitation].state = "revoked";
  Accepted();
  return absl::OkStatus();
}

absl::Status Model::Accept(const std::string& token, UserId user) {
  // Anything but the working token of an existing invitation: the same
  // not_found, whatever the reason (I1).
  auto found = tokens_.find(token);
  if (found == tokens_.end()) return absl::NotFoundError("not a valid token (I1, I2)");
  const InvitationId id = found->second;
  const InvitationState& it = invitations_.at(id);
  if (it.state == "revoked") return absl::FailedPreconditionError("revoked (I2)");
  if (it.state == "accepted") return absl::FailedPreconditionError("already used (I2)");
  if (now_ns_ >= it.expires_at_ns) return absl::FailedPreconditionError("expired (I2)");
  if (users_.count(user) == 0) return absl::NotFoundError("unknown user (I3)");
  if (users_.at(user).key != it.email) {
    return absl::PermissionDeniedError("another e-mail address (I3)");
  }
  // I3: every rule again, now, including that the inviter may still grant it.
  const AccountState& a = accounts_.at(it.account);
  if (!it.staff) {
    if (it.invited_by != kSystem) {
      absl::Status inviter = Authorize(it.invited_by, it.workspace, "members.invite");
      if (inviter.ok()) inviter = AuthorizeRole(it.invited_by, it.workspace, it.role);
      if (!inviter.ok()) return absl::PermissionDeniedError("the inviter may not grant it (I3)");
    }
    if (IsClientRole(a, it.role) && IsStaffOf(it.account, user)) {
      return absl::FailedPreconditionError("staff cannot be a client (M5)");
    }
    if (workspaces_.at(it.workspace).members.count(user) > 0) {
      return absl::AlreadyExistsError("already a member (M3)");
    }
    workspaces_[it.workspace].members[user] = it.role;
  } else {
    if (it.invited_by != kSystem) {
      if (!AuthorizeAccount(it.invited_by, it.account, "account.manage_staff").ok()) {
        return absl::PermissionDeniedError("the inviter may not add staff (I3)");
      }
    }
    if (IsClientIn(it.account, user)) {
      return absl::FailedPreconditionError("a client cannot be staff (M5)");
    }
    if (IsStaffOf(it.account, user)) return absl::AlreadyExistsError("already staff (M2)");
    // Workspaces of the scope deleted since are forgotten (T7).
    StaffMember staff{it.role, it.scope_all, {}};
    for (WorkspaceId ws : it.scope) {
      if (workspaces_.count(ws) > 0) staff.scope.insert(ws);
    }
    accounts_[it.account].staff[user] = staff;
  }
  InvitationState& changed = invitations_[id];
  changed.state = "accepted";
  changed.accepted_by = user;
  Accepted();
  return absl::OkStatus();
}

}  // namespace tenantry::reference
