// Copyright 2026 The tenantry Authors.
#include "reference_model.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace tenantry::reference {
namespace {

// The bounds SPEC section 1 and M1 give.
constexpr size_t kNameMaxCodePoints = 100;  // T3
constexpr size_t kSlugMinLength = 2;        // T3
constexpr size_t kSlugMaxLength = 50;       // T3
constexpr int kMaxDepth = 8;                // T4
constexpr size_t kKeyMaxBytes = 320;        // M1: an e-mail address fits
constexpr size_t kPlanNameMaxBytes = 100;   // T2

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

bool IsWorkspaceRole(const std::string& role) {
  return role == "owner" || role == "admin" || role == "manager" || role == "member" ||
         role == "viewer" || role == "client";
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
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

absl::Status ValidatePlan(const Plan& plan) {
  if (plan.name.empty() || plan.name.size() > kPlanNameMaxBytes) {
    return absl::InvalidArgumentError("plan name must be 1-100 bytes (T2)");
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
  // The direct role in the workspace itself.
  if (auto it = ws.members.find(user); it != ws.members.end()) {
    if (visit(WorkspaceRolePermissions(it->second))) return true;
  }
  // A3: roles held in the agency ancestors, except `client`.
  for (const WorkspaceState* up = FindWorkspace(ws.parent); up != nullptr;
       up = FindWorkspace(up->parent)) {
    auto it = up->members.find(user);
    if (it != up->members.end() && it->second != "client") {
      if (visit(WorkspaceRolePermissions(it->second))) return true;
    }
  }
  // M2, M8: the staff grant, when the workspace is in scope.
  const AccountState& account = accounts_.at(ws.account);
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
  for (const std::string& p : WorkspaceRolePermissions(role)) {
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
  for (WorkspaceId id : a.workspaces) {
    auto it = workspaces_.at(id).members.find(user);
    if (it != workspaces_.at(id).members.end() && it->second == "client") {
      return absl::FailedPreconditionError("a client cannot be staff (M5)");
    }
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
  if (!IsWorkspaceRole(role)) return absl::InvalidArgumentError("unknown role (M3)");
  if (role == "owner") return absl::FailedPreconditionError("one owner (M4)");
  if (ws->members.count(user) > 0) return absl::AlreadyExistsError("already a member (M3)");
  if (role == "client" && accounts_.at(ws->account).staff.count(user) > 0) {
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
  if (!IsWorkspaceRole(role)) return absl::InvalidArgumentError("unknown role (M3)");
  auto it = ws->members.find(user);
  if (it == ws->members.end()) return absl::NotFoundError("not a member (M3)");
  if (it->second == "owner" || role == "owner") {
    return absl::FailedPreconditionError("the owner changes only by transfer (M4)");
  }
  if (role == "client" && accounts_.at(ws->account).staff.count(user) > 0) {
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

}  // namespace tenantry::reference
