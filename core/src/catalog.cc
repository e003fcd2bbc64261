// Copyright 2026 The tenantry Authors.
#include "catalog.h"

#include <cassert>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tenantry/status.h"

namespace tenantry::internal {
namespace {

void AddNames(PermSet& set, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) set.Add(BuiltinPermission(name));
}

// M8 (docs/rules.md). Each role holds every permission of the roles below it.
std::array<PermSet, kBuiltinRoleCount> MakeBuiltinRoles() {
  std::array<PermSet, kBuiltinRoleCount> roles{};
  PermSet viewer;
  // Every resource's `view` except billing (and white-label has none), plus switching.
  for (PermissionId i = 0; i < std::size(kBuiltinPermissions); ++i) {
    std::string_view name = kBuiltinPermissions[i];
    if (name.ends_with(".view") && name != "billing.view") viewer.Add(i);
  }
  AddNames(viewer, {"workspace.switch"});
  PermSet member = viewer;
  AddNames(member, {"campaigns.run", "credits.consume"});
  PermSet manager = member;
  AddNames(manager, {"contacts.create", "contacts.edit", "contacts.delete", "contacts.import",
                     "contacts.export", "contacts.tag", "campaigns.create", "campaigns.edit",
                     "campaigns.delete"});
  PermSet admin = manager;
  AddNames(admin, {"members.invite", "members.remove", "members.change_role", "assistants.edit",
                   "workflows.edit", "workflows.deploy", "runs.trigger", "connections.edit",
                   "connections.rotate_own", "integrations.edit", "templates.edit",
                   "phone_numbers.buy", "appointments.edit", "settings.edit", "workspace.edit"});
  PermSet owner = admin;
  AddNames(owner, {"billing.view", "billing.manage", "white_label.manage", "workspace.delete"});
  PermSet client;
  AddNames(client, {"workspace.view", "workspace.switch", "analytics.view", "runs.view",
                    "runs.trigger", "connections.rotate_own"});
  PermSet account_extra;
  AddNames(account_extra, {"account.create_workspace", "account.manage_staff",
                           "account.manage_plan", "credits.transfer"});
  roles[kOwner] = owner;
  roles[kAdmin] = admin;
  roles[kManager] = manager;
  roles[kMember] = member;
  roles[kViewer] = viewer;
  roles[kClient] = client;
  roles[kStaffOwner] = owner;
  roles[kStaffOwner].AddAll(account_extra);
  roles[kStaffAdmin] = admin;
  roles[kStaffAdmin].AddAll(account_extra);
  return roles;
}

const std::array<PermSet, kBuiltinRoleCount>& BuiltinRoles() {
  static const auto* const roles = new std::array<PermSet, kBuiltinRoleCount>(MakeBuiltinRoles());
  return *roles;
}

constexpr absl::string_view kRoleNames[] = {"",       "owner",  "admin", "manager", "member",
                                            "viewer", "client", "owner", "admin"};

bool IsNamePart(absl::string_view part) {
  if (part.empty()) return false;
  for (char c : part) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::string_view BuiltinRoleName(RoleId role) {
  return role < kBuiltinRoleCount ? kRoleNames[role] : absl::string_view();
}

RoleId BuiltinRoleNamed(absl::string_view name) {
  for (RoleId r = kOwner; r <= kClient; ++r) {
    if (kRoleNames[r] == name) return r;
  }
  return kNoRole;
}

absl::string_view AccountRoleName(AccountRole role) {
  switch (role) {
    case AccountRole::kOwner:
      return "owner";
    case AccountRole::kAdmin:
      return "admin";
    case AccountRole::kMember:
      return "member";
    case AccountRole::kNone:
      break;
  }
  return "";
}

AccountRole AccountRoleNamed(absl::string_view name) {
  if (name == "owner") return AccountRole::kOwner;
  if (name == "admin") return AccountRole::kAdmin;
  if (name == "member") return AccountRole::kMember;
  return AccountRole::kNone;
}

const PermSet& BuiltinRolePerms(RoleId role) {
  assert(role < kBuiltinRoleCount);
  return BuiltinRoles()[role];
}

const std::vector<std::string>& BuiltinPermissionNames() {
  static const auto* const names =
      new std::vector<std::string>(std::begin(kBuiltinPermissions), std::end(kBuiltinPermissions));
  return *names;
}

Catalog Catalog::Builtin() {
  Catalog catalog;
  catalog.names = BuiltinPermissionNames();
  for (PermissionId i = 0; i < catalog.names.size(); ++i) catalog.ids[catalog.names[i]] = i;
  return catalog;
}

absl::StatusOr<PermissionId> Catalog::Find(absl::string_view name) const {
  auto it = ids.find(name);
  if (it == ids.end()) {
    return Refusal(
        absl::StatusCode::kNotFound, {"M7"},
        absl::StrCat("unknown permission '", name.substr(0, 128), "': not in the catalog"));
  }
  return it->second;
}

absl::Status ValidatePermissionName(absl::string_view name) {
  if (name.size() > limits::kPermissionNameMaxBytes) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"M7"},
        absl::StrCat("permission name is longer than ", limits::kPermissionNameMaxBytes, " bytes"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  if (parts.size() != 2 || !IsNamePart(parts[0]) || !IsNamePart(parts[1])) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"M7"},
        absl::StrCat("permission name '", name, "' must be resource.action of [a-z0-9_]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRoleName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= limits::kRoleNameMaxBytes;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (!ok) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M6"},
                   absl::StrCat("role name '", name.substr(0, 64), "' must be 1-64 of [a-z0-9_-]"));
  }
  if (BuiltinRoleNamed(name) != kNoRole) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M6"},
                   absl::StrCat("role name '", name, "' is a built-in role's"));
  }
  return absl::OkStatus();
}

}  // namespace tenantry::internal
