// Copyright 2026 The tenantry Authors.
//
// The permission catalog (M7) and the built-in roles (M3, M8).
#ifndef TENANTRY_CORE_SRC_CATALOG_H_
#define TENANTRY_CORE_SRC_CATALOG_H_

#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tenantry/limits.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// A set of permissions as a fixed-size bitset: testing one is a shift and a
// mask, whatever the catalog holds.
struct PermSet {
  std::array<uint64_t, limits::kMaxPermissions / 64> words{};

  bool Has(PermissionId p) const { return (words[p >> 6] >> (p & 63)) & 1; }
  void Add(PermissionId p) { words[p >> 6] |= uint64_t{1} << (p & 63); }
  void AddAll(const PermSet& other) {
    for (size_t i = 0; i < words.size(); ++i) words[i] |= other.words[i];
  }
  bool Includes(const PermSet& other) const {
    for (size_t i = 0; i < words.size(); ++i) {
      if ((other.words[i] & ~words[i]) != 0) return false;
    }
    return true;
  }
  bool operator==(const PermSet&) const = default;
};

// Role ids. 0 is "no role". The workspace roles are ordered (M3): a smaller
// id outranks a larger one, `client` stands outside. The two staff roles are
// what account owners and admins hold in every workspace: the workspace role
// plus `account.*` and `credits.transfer` (M8). Custom roles (M6) come later
// from kFirstCustomRole on.
using RoleId = uint32_t;
enum BuiltinRole : RoleId {
  kNoRole = 0,
  kOwner = 1,
  kAdmin = 2,
  kManager = 3,
  kMember = 4,
  kViewer = 5,
  kClient = 6,
  kStaffOwner = 7,
  kStaffAdmin = 8,
  kBuiltinRoleCount = 9,
};
inline constexpr RoleId kFirstCustomRole = 64;

// M2: account roles.
enum class AccountRole : uint8_t { kNone = 0, kOwner = 1, kAdmin = 2, kMember = 3 };

// The workspace role name of a built-in role ("owner" ... "client"), "" otherwise.
absl::string_view BuiltinRoleName(RoleId role);
// The workspace role (kOwner ... kClient) named `name`, or kNoRole.
RoleId BuiltinRoleNamed(absl::string_view name);
absl::string_view AccountRoleName(AccountRole role);
AccountRole AccountRoleNamed(absl::string_view name);

// M8: the permissions of a built-in role (including the staff roles).
const PermSet& BuiltinRolePerms(RoleId role);

// The built-in permission names, in id order.
const std::vector<std::string>& BuiltinPermissionNames();

// M7: the built-in catalog. The order fixes the ids; append only.
inline constexpr std::string_view kBuiltinPermissions[] = {
    "workspace.view",
    "workspace.switch",
    "workspace.edit",
    "workspace.delete",
    "account.create_workspace",
    "account.manage_staff",
    "account.manage_plan",
    "members.view",
    "members.invite",
    "members.remove",
    "members.change_role",
    "contacts.view",
    "contacts.create",
    "contacts.edit",
    "contacts.delete",
    "contacts.import",
    "contacts.export",
    "contacts.tag",
    "campaigns.view",
    "campaigns.create",
    "campaigns.edit",
    "campaigns.delete",
    "campaigns.run",
    "calls.view",
    "analytics.view",
    "assistants.view",
    "assistants.edit",
    "workflows.view",
    "workflows.edit",
    "workflows.deploy",
    "runs.view",
    "runs.trigger",
    "connections.view",
    "connections.edit",
    "connections.rotate_own",
    "integrations.view",
    "integrations.edit",
    "templates.view",
    "templates.edit",
    "phone_numbers.view",
    "phone_numbers.buy",
    "appointments.view",
    "appointments.edit",
    "settings.edit",
    "billing.view",
    "billing.manage",
    "white_label.manage",
    "credits.view",
    "credits.transfer",
    "credits.consume",
};

inline constexpr PermissionId kBuiltinPermissionCount = std::size(kBuiltinPermissions);

// The id of a built-in permission; a compile error in constant evaluation
// (and a throw at run time) for a name not in the catalog.
constexpr PermissionId BuiltinPermission(std::string_view name) {
  for (PermissionId i = 0; i < kBuiltinPermissionCount; ++i) {
    if (kBuiltinPermissions[i] == name) return i;
  }
  throw "not a built-in permission";
}

// Well-known built-in permission ids.
namespace perm {
inline constexpr PermissionId kWorkspaceView = BuiltinPermission("workspace.view");
inline constexpr PermissionId kWorkspaceSwitch = BuiltinPermission("workspace.switch");
inline constexpr PermissionId kWorkspaceEdit = BuiltinPermission("workspace.edit");
inline constexpr PermissionId kWorkspaceDelete = BuiltinPermission("workspace.delete");
inline constexpr PermissionId kAccountCreateWorkspace =
    BuiltinPermission("account.create_workspace");
inline constexpr PermissionId kAccountManageStaff = BuiltinPermission("account.manage_staff");
inline constexpr PermissionId kAccountManagePlan = BuiltinPermission("account.manage_plan");
inline constexpr PermissionId kMembersInvite = BuiltinPermission("members.invite");
inline constexpr PermissionId kMembersRemove = BuiltinPermission("members.remove");
inline constexpr PermissionId kMembersChangeRole = BuiltinPermission("members.change_role");
inline constexpr PermissionId kSettingsEdit = BuiltinPermission("settings.edit");
inline constexpr PermissionId kCreditsTransfer = BuiltinPermission("credits.transfer");
inline constexpr PermissionId kBillingManage = BuiltinPermission("billing.manage");
}  // namespace perm

// The interned names. Immutable once published; registering a name makes a
// new catalog (rare), so readers never see it change.
struct Catalog {
  uint64_t gen = 0;
  std::vector<std::string> names;
  absl::flat_hash_map<std::string, PermissionId> ids;

  static Catalog Builtin();
  absl::StatusOr<PermissionId> Find(absl::string_view name) const;
};

// M7: `resource.action`, lower-case letters, digits and `_`, both parts non-empty.
absl::Status ValidatePermissionName(absl::string_view name);

// M6: a custom role's name is 1..kRoleNameMaxBytes of [a-z0-9_-] and not the
// name of a built-in role.
absl::Status ValidateRoleName(absl::string_view name);

// M8: the workspace roles an account may give its staff members in their
// scope (staff_member_role): admin, manager, member or viewer.
inline bool IsStaffMemberRole(RoleId role) { return role >= kAdmin && role <= kViewer; }

// M4: a workspace's one owner is made only by create_workspace and
// transfer_ownership, so no team holds `owner` (M9) and no invitation offers
// it (I1).
inline bool IsDelegableRole(RoleId role) { return role != kOwner; }

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_CATALOG_H_
