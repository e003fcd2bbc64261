// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 2, people: users (M1), staff (M2), the role hierarchy (M3),
// the one owner (M4), staff and clients (M5), the permission catalog (M7),
// built-in role contents (M8) and authorized changes (M10). Each test names
// the rule it proves; every refusal is checked for its exact code, for a
// message naming the rule, and for having changed nothing (section 10).
#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using test::AccountNamed;
using test::Named;
using test::PermsOf;
using test::World;
using ::testing::ElementsAre;
using Code = absl::StatusCode;
using Perms = std::set<std::string>;

Perms Plus(Perms base, std::initializer_list<const char*> more) {
  for (const char* name : more) base.insert(name);
  return base;
}

// M8, written out from the rule's words (not from the engine's tables).
// viewer: every `*.view` except billing (white-label has none), and switching.
const Perms kViewer = {
    "workspace.view", "workspace.switch",   "members.view",      "contacts.view",
    "campaigns.view", "calls.view",         "analytics.view",    "assistants.view",
    "workflows.view", "runs.view",          "connections.view",  "integrations.view",
    "templates.view", "phone_numbers.view", "appointments.view", "credits.view",
};
const Perms kMember = Plus(kViewer, {"campaigns.run", "credits.consume"});
const Perms kManager = Plus(kMember, {"contacts.create", "contacts.edit", "contacts.delete",
                                      "contacts.import", "contacts.export", "contacts.tag",
                                      "campaigns.create", "campaigns.edit", "campaigns.delete"});
const Perms kAdmin =
    Plus(kManager, {"members.invite", "members.remove", "members.change_role", "assistants.edit",
                    "workflows.edit", "workflows.deploy", "runs.trigger", "connections.edit",
                    "connections.rotate_own", "integrations.edit", "templates.edit",
                    "phone_numbers.buy", "appointments.edit", "settings.edit", "workspace.edit"});
const Perms kOwner =
    Plus(kAdmin, {"billing.view", "billing.manage", "white_label.manage", "workspace.delete"});
const Perms kClient = {"workspace.view", "workspace.switch", "analytics.view",
                       "runs.view",      "runs.trigger",     "connections.rotate_own"};
const std::initializer_list<const char*> kAccountExtras = {
    "account.create_workspace", "account.manage_staff", "account.manage_plan", "credits.transfer"};

// ---- M1: users ----

TEST(People, M1_UserKeysAreUniqueCaseInsensitively) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId ada, engine.create_user("A@x.com"));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_user("a@x.com"), Code::kAlreadyExists, "(M1)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_user("A@X.COM"), Code::kAlreadyExists, "(M1)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_user(" a@x.com "), Code::kAlreadyExists,
                               "(M1)");
  TNY_ASSERT_OK_AND_ASSIGN(UserId found, engine.user("A@X.COM"));
  EXPECT_EQ(found, ada);
  TNY_ASSERT_OK_AND_ASSIGN(found, engine.user("a@x.com"));
  EXPECT_EQ(found, ada);
  EXPECT_EQ(engine.stats().users, 1u);
}

TEST(People, M1_DistinctKeysAreDistinctUsers) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId ada, engine.create_user("ada@x.com"));
  TNY_ASSERT_OK_AND_ASSIGN(UserId bob, engine.create_user("bob@x.com"));
  TNY_ASSERT_OK_AND_ASSIGN(UserId ada_y, engine.create_user("ada@y.com"));
  EXPECT_NE(ada, 0u);
  EXPECT_NE(ada, bob);
  EXPECT_NE(ada, ada_y);
  EXPECT_NE(bob, ada_y);
  TNY_ASSERT_OK_AND_ASSIGN(UserId found, engine.user("BOB@x.com"));
  EXPECT_EQ(found, bob);
  TNY_EXPECT_REFUSED(engine.user("carol@x.com"), Code::kNotFound, "(M1)");
}

TEST(People, M1_InvalidKeysRefused) {
  Engine engine;
  for (const std::string& key : {std::string(), std::string("   "), std::string("\xFF@x.com"),
                                 std::string("a\x01@x.com"), std::string(321, 'k')}) {
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_user(key), Code::kInvalidArgument, "(M1)");
  }
}

// Keys are checked eight bytes a step where they are ASCII: a control
// character, DEL or a byte that is not UTF-8 is refused wherever it sits,
// and an upper-case letter anywhere is lower-cased.
TEST(People, M1_EveryByteOfAKeyIsChecked) {
  Engine engine;
  const std::string key = "ada.lovelace+analytical-engine@x.example";
  for (size_t at = 0; at < key.size(); ++at) {
    for (const char bad : {'\x01', '\x1f', '\x7f', '\xff', '\0'}) {
      std::string refused = key;
      refused[at] = bad;
      TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_user(refused), Code::kInvalidArgument,
                                   "(M1)");
    }
    std::string upper = key;
    upper[at] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[at])));
    if (upper == key) continue;
    const std::string suffix = absl::StrCat("\xC3\xA9", at);  // a non-ASCII tail, one per key
    TNY_ASSERT_OK_AND_ASSIGN(UserId id, engine.create_user(upper + suffix));
    TNY_ASSERT_OK_AND_ASSIGN(UserId found, engine.user(key + suffix));
    EXPECT_EQ(found, id) << upper;
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_user(key + suffix), Code::kAlreadyExists,
                                 "(M1)");
  }
}

// ---- M2: staff ----

TEST(People, M2_OwnerAndAdminAlwaysHaveScopeAll) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (UserId u : {w.acct_owner, w.acct_admin}) {
    TNY_ASSERT_OK_AND_ASSIGN(auto staff, engine.staff(w.account, u));
    EXPECT_TRUE(staff.second.all);
  }
  TNY_ASSERT_OK_AND_ASSIGN(auto owner, engine.staff(w.account, w.acct_owner));
  EXPECT_EQ(owner.first, "owner");
  TNY_ASSERT_OK_AND_ASSIGN(auto admin, engine.staff(w.account, w.acct_admin));
  EXPECT_EQ(admin.first, "admin");
  // Specific scopes are refused for them.
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.add_staff(kSystem, w.account, w.outsider, "admin", StaffScope::Of({w.ops})),
      Code::kInvalidArgument, "(M2)");
  for (UserId u : {w.acct_owner, w.acct_admin}) {
    TNY_EXPECT_REFUSED_UNCHANGED(
        engine, engine.set_staff_scope(kSystem, w.account, u, StaffScope::Of({w.ops})),
        Code::kInvalidArgument, "(M2)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine,
                                 engine.set_staff_scope(kSystem, w.account, u, StaffScope::Of({})),
                                 Code::kInvalidArgument, "(M2)");
  }
  // Scope all is fine for an admin, given or by default.
  TNY_EXPECT_OK(engine.add_staff(kSystem, w.account, w.outsider, "admin", StaffScope::All()));
  TNY_EXPECT_OK(engine.set_staff_scope(kSystem, w.account, w.acct_admin, StaffScope::All()));
}

TEST(People, M2_AdminGetsScopeAllEvenWhenMembersDefaultToNone) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(UserId admin, engine.create_user("admin@a.test"));
  AccountSpec spec = AccountNamed("Acme", owner, Plan::Named("enterprise"));
  spec.member_default_scope = "none";
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(spec));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws, engine.create_workspace(owner, account, Named("Main")));
  // member_default_scope applies to members only; owners and admins always have all.
  TNY_ASSERT_OK(engine.add_staff(owner, account, admin, "admin"));
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, engine.staff(account, admin));
  EXPECT_EQ(staff.first, "admin");
  EXPECT_TRUE(staff.second.all);
  EXPECT_EQ(PermsOf(engine, admin, ws), Plus(kAdmin, kAccountExtras));
}

TEST(People, M2_MemberScopeFollowsMemberDefaultScope) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(UserId in_all, engine.create_user("all@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(UserId in_none, engine.create_user("none@a.test"));
  AccountSpec all_spec = AccountNamed("All", owner, Plan::Named("enterprise"));
  all_spec.member_default_scope = "all";
  AccountSpec none_spec = AccountNamed("None", owner, Plan::Named("enterprise"));
  none_spec.member_default_scope = "none";
  TNY_ASSERT_OK_AND_ASSIGN(AccountId all, engine.create_account(all_spec));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId none, engine.create_account(none_spec));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId all_ws, engine.create_workspace(owner, all, Named("Main")));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId none_ws,
                           engine.create_workspace(owner, none, Named("Main")));

  TNY_ASSERT_OK(engine.add_staff(owner, all, in_all, "member"));
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, engine.staff(all, in_all));
  EXPECT_EQ(staff.first, "member");
  EXPECT_TRUE(staff.second.all);
  EXPECT_EQ(PermsOf(engine, in_all, all_ws), kAdmin);

  TNY_ASSERT_OK(engine.add_staff(owner, none, in_none, "member"));
  TNY_ASSERT_OK_AND_ASSIGN(staff, engine.staff(none, in_none));
  EXPECT_FALSE(staff.second.all);
  EXPECT_EQ(staff.second.workspaces, std::vector<WorkspaceId>{});
  EXPECT_EQ(PermsOf(engine, in_none, none_ws), Perms{});
  // A scope given explicitly wins over the default.
  TNY_ASSERT_OK_AND_ASSIGN(UserId given, engine.create_user("given@a.test"));
  TNY_ASSERT_OK(engine.add_staff(owner, none, given, "member", StaffScope::All()));
  EXPECT_EQ(PermsOf(engine, given, none_ws), kAdmin);
}

TEST(People, M2_InvalidStaffSettingsRefused) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  AccountSpec spec = AccountNamed("Acme", owner);
  spec.member_default_scope = "some";
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_account(spec), Code::kInvalidArgument, "(M2)");
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  TNY_EXPECT_REFUSED_UNCHANGED(w.engine,
                               w.engine.add_staff(kSystem, w.account, w.outsider, "manager"),
                               Code::kInvalidArgument, "(M2)");
  TNY_EXPECT_REFUSED_UNCHANGED(w.engine,
                               w.engine.add_staff(kSystem, w.account, w.outsider, "owner"),
                               Code::kFailedPrecondition, "(M2)");
  TNY_EXPECT_REFUSED_UNCHANGED(w.engine,
                               w.engine.add_staff(kSystem, w.account, w.staff_member, "admin"),
                               Code::kAlreadyExists, "(M2)");
  TNY_EXPECT_REFUSED_UNCHANGED(w.engine, w.engine.add_staff(kSystem, w.account, 999, "member"),
                               Code::kNotFound, "(M2)");
}

TEST(People, M2_SpecificScopeGrantsOnlyListedWorkspacesAndTheirClients) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(
      engine.set_staff_scope(w.acct_admin, w.account, w.staff_member, StaffScope::Of({w.agency})));
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, engine.staff(w.account, w.staff_member));
  EXPECT_FALSE(staff.second.all);
  EXPECT_THAT(staff.second.workspaces, ElementsAre(w.agency));
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.agency), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.client_a), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.client_b), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.ops), Perms{});
  // A client sub-workspace created later is covered through its agency.
  WorkspaceSpec later = Named("Client C");
  later.parent = w.agency;
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId client_c,
                           engine.create_workspace(w.acct_admin, w.account, later));
  EXPECT_EQ(PermsOf(engine, w.staff_member, client_c), kAdmin);

  TNY_ASSERT_OK(engine.set_staff_scope(kSystem, w.account, w.staff_member,
                                       StaffScope::Of({w.client_a, w.ops})));
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.agency), Perms{});
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.client_a), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.client_b), Perms{});
  EXPECT_EQ(PermsOf(engine, w.staff_member, w.ops), kAdmin);

  TNY_ASSERT_OK(engine.set_staff_scope(kSystem, w.account, w.staff_member, StaffScope::Of({})));
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    EXPECT_EQ(PermsOf(engine, w.staff_member, ws), Perms{});
  }
  TNY_ASSERT_OK(engine.set_staff_scope(kSystem, w.account, w.staff_member, StaffScope::All()));
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    EXPECT_EQ(PermsOf(engine, w.staff_member, ws), kAdmin);
  }
  // A new member with a specific scope.
  TNY_ASSERT_OK(
      engine.add_staff(w.acct_owner, w.account, w.outsider, "member", StaffScope::Of({w.ops})));
  EXPECT_EQ(PermsOf(engine, w.outsider, w.ops), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.outsider, w.agency), Perms{});
}

TEST(People, M2_ScopeMustListWorkspacesOfTheAccount) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId beta_owner, engine.create_user("owner@beta.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId beta, engine.create_account(AccountNamed("Beta", beta_owner)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId beta_ws,
                           engine.create_workspace(beta_owner, beta, Named("Beta")));
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine,
      engine.set_staff_scope(kSystem, w.account, w.staff_member, StaffScope::Of({w.ops, beta_ws})),
      Code::kInvalidArgument, "(M2");
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.add_staff(kSystem, w.account, w.outsider, "member", StaffScope::Of({beta_ws})),
      Code::kInvalidArgument, "(M2");
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.set_staff_scope(kSystem, w.account, w.staff_member, StaffScope::Of({999})),
      Code::kNotFound, "(M2)");
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.set_staff_scope(kSystem, w.account, w.outsider, StaffScope::All()),
      Code::kNotFound, "(M2)");
}

TEST(People, M2_RemoveStaff) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.remove_staff(w.acct_admin, w.account, w.staff_member));
  TNY_EXPECT_REFUSED(engine.staff(w.account, w.staff_member), Code::kNotFound, "(M2)");
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    EXPECT_EQ(PermsOf(engine, w.staff_member, ws), Perms{});
  }
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.remove_staff(kSystem, w.account, w.staff_member),
                               Code::kNotFound, "(M2)");
  // An admin is removed the same way; their account permissions go with it.
  TNY_ASSERT_OK(engine.remove_staff(w.acct_owner, w.account, w.acct_admin));
  EXPECT_EQ(PermsOf(engine, w.acct_admin, w.ops), Perms{});
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.create_workspace(w.acct_admin, w.account, Named("After")),
                               Code::kPermissionDenied, "(M10)");
}

TEST(People, M2_OwnerCannotBeRemoved) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  for (UserId actor : {kSystem, w.acct_admin, w.acct_owner}) {
    TNY_EXPECT_REFUSED_UNCHANGED(w.engine, w.engine.remove_staff(actor, w.account, w.acct_owner),
                                 Code::kFailedPrecondition, "(M2)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, w.engine.staff(w.account, w.acct_owner));
  EXPECT_EQ(staff.first, "owner");
}

// ---- M3: the role hierarchy ----

TEST(People, M3_EachRoleHoldsEveryPermissionOfTheRolesBelow) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  // Walk the whole catalog by id until NotFound.
  std::vector<std::string> names;
  for (PermissionId id = 0;; ++id) {
    absl::StatusOr<std::string> name = engine.permission_name(id);
    if (!name.ok()) {
      EXPECT_EQ(name.status().code(), Code::kNotFound);
      break;
    }
    names.push_back(*name);
  }
  ASSERT_GE(names.size(), 50u);
  // In the agency, the owner and these members hold their roles directly.
  const std::pair<const char*, UserId> ranks[] = {{"owner", w.ws_owner},
                                                  {"admin", w.ws_admin},
                                                  {"manager", w.manager},
                                                  {"member", w.member},
                                                  {"viewer", w.viewer}};
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(w.agency));
  for (const auto& [role, user] : ranks) {
    EXPECT_NE(std::find(members.begin(), members.end(), Member{user, role}), members.end()) << role;
  }
  for (size_t hi = 0; hi < std::size(ranks); ++hi) {
    for (size_t lo = hi + 1; lo < std::size(ranks); ++lo) {
      SCOPED_TRACE(absl::StrCat(ranks[hi].first, " over ", ranks[lo].first));
      bool more = false;
      for (PermissionId id = 0; id < names.size(); ++id) {
        const bool high = engine.check(ranks[hi].second, w.agency, id);
        const bool low = engine.check(ranks[lo].second, w.agency, id);
        if (low) {
          EXPECT_TRUE(high) << names[id];
        }
        more = more || (high && !low);
      }
      EXPECT_TRUE(more) << "the higher role holds nothing more";
    }
  }
}

TEST(People, M3_ClientStandsOutsideTheHierarchy) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  const Perms client = PermsOf(w.engine, w.client, w.client_a);
  const Perms viewer = PermsOf(w.engine, w.viewer, w.client_a);
  EXPECT_FALSE(std::includes(viewer.begin(), viewer.end(), client.begin(), client.end()));
  EXPECT_FALSE(std::includes(client.begin(), client.end(), viewer.begin(), viewer.end()));
  // Read-only, plus triggering runs and rotating its own credentials.
  for (const std::string& name : client) {
    const bool reads = name.ends_with(".view") || name == "workspace.switch";
    EXPECT_TRUE(reads || name == "runs.trigger" || name == "connections.rotate_own") << name;
  }
}

TEST(People, M3_AtMostOneDirectRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (const char* role : {"viewer", "manager", "admin"}) {
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(kSystem, w.agency, w.viewer, role),
                                 Code::kAlreadyExists, "(M3)");
  }
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(w.ws_admin, w.agency, w.manager, "viewer"),
                               Code::kAlreadyExists, "(M3)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(kSystem, w.agency, w.ws_owner, "viewer"),
                               Code::kAlreadyExists, "(M3)");
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(w.agency));
  std::set<UserId> seen;
  for (const Member& m : members) EXPECT_TRUE(seen.insert(m.user).second) << m.user;
  // A role in one workspace does not stop a role in another.
  TNY_EXPECT_OK(engine.add_member(kSystem, w.ops, w.viewer, "manager"));
}

TEST(People, M3_SetRoleReplacesTheDirectRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.add_member(w.acct_admin, w.ops, w.outsider, "viewer"));
  EXPECT_EQ(PermsOf(engine, w.outsider, w.ops), kViewer);
  TNY_ASSERT_OK(engine.set_role(w.acct_admin, w.ops, w.outsider, "manager"));
  EXPECT_EQ(PermsOf(engine, w.outsider, w.ops), kManager);
  TNY_ASSERT_OK(engine.set_role(w.acct_owner, w.ops, w.outsider, "admin"));
  EXPECT_EQ(PermsOf(engine, w.outsider, w.ops), kAdmin);
  TNY_ASSERT_OK(engine.set_role(kSystem, w.ops, w.outsider, "client"));
  EXPECT_EQ(PermsOf(engine, w.outsider, w.ops), kClient);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(w.ops));
  EXPECT_THAT(members, ElementsAre(Member{w.acct_owner, "owner"}, Member{w.outsider, "client"}));
}

TEST(People, M3_RoleChangesNeedAMemberAndAKnownRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(kSystem, w.ops, w.outsider, "viewer"),
                               Code::kNotFound, "(M3)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.remove_member(kSystem, w.ops, w.outsider),
                               Code::kNotFound, "(M3)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(kSystem, w.ops, 999, "viewer"),
                               Code::kNotFound, "(M3)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(kSystem, 999, w.outsider, "viewer"),
                               Code::kNotFound, "(M3)");
  for (const char* role : {"superuser", "Admin", "", "staff"}) {
    SCOPED_TRACE(role);
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(kSystem, w.ops, w.outsider, role),
                                 Code::kInvalidArgument, "(M3)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(kSystem, w.agency, w.viewer, role),
                                 Code::kInvalidArgument, "(M3)");
  }
}

TEST(People, M3_RemoveMemberAndLeave) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.remove_member(w.ws_admin, w.agency, w.viewer));
  EXPECT_EQ(PermsOf(engine, w.viewer, w.agency), Perms{});
  EXPECT_EQ(PermsOf(engine, w.viewer, w.client_a), Perms{});
  // Anyone may leave on their own.
  TNY_ASSERT_OK(engine.remove_member(w.member, w.agency, w.member));
  EXPECT_EQ(PermsOf(engine, w.member, w.agency), Perms{});
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(w.agency));
  EXPECT_THAT(members, ElementsAre(Member{w.ws_owner, "owner"}, Member{w.ws_admin, "admin"},
                                   Member{w.manager, "manager"}));
}

// ---- M4: one owner ----

TEST(People, M4_EveryWorkspaceHasExactlyOneOwner) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    SCOPED_TRACE(ws);
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, w.engine.workspace(ws));
    TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, w.engine.members(ws));
    std::vector<UserId> owners;
    for (const Member& m : members) {
      if (m.role == "owner") owners.push_back(m.user);
    }
    EXPECT_THAT(owners, ElementsAre(info.owner));
  }
}

TEST(People, M4_OwnerDefaultsToTheActor) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId by_admin,
                           engine.create_workspace(w.acct_admin, w.account, Named("By admin")));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, engine.workspace(by_admin));
  EXPECT_EQ(info.owner, w.acct_admin);
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId by_system,
                           engine.create_workspace(kSystem, w.account, Named("By system")));
  TNY_ASSERT_OK_AND_ASSIGN(info, engine.workspace(by_system));
  EXPECT_EQ(info.owner, w.acct_owner);  // SYSTEM: the account owner
  WorkspaceSpec spec = Named("For outsider");
  spec.owner = w.outsider;
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId given,
                           engine.create_workspace(w.acct_admin, w.account, spec));
  TNY_ASSERT_OK_AND_ASSIGN(info, engine.workspace(given));
  EXPECT_EQ(info.owner, w.outsider);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(given));
  EXPECT_THAT(members, ElementsAre(Member{w.outsider, "owner"}));
  spec.owner = 999;
  spec.name = "For nobody";
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(w.acct_admin, w.account, spec),
                               Code::kNotFound, "(M4)");
}

TEST(People, M4_NobodyElseChangesOrRemovesTheOwner) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  // Not a workspace admin, not the account's owner or admin, not even SYSTEM.
  for (UserId actor : {w.ws_admin, w.acct_admin, w.acct_owner, kSystem}) {
    SCOPED_TRACE(actor);
    for (const char* role : {"admin", "viewer", "client"}) {
      TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(actor, w.agency, w.ws_owner, role),
                                   Code::kFailedPrecondition, "(M4)");
    }
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.remove_member(actor, w.agency, w.ws_owner),
                                 Code::kFailedPrecondition, "(M4)");
    // Nor is a second owner made by add_member or set_role.
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(actor, w.agency, w.outsider, "owner"),
                                 Code::kFailedPrecondition, "(M4)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(actor, w.agency, w.viewer, "owner"),
                                 Code::kFailedPrecondition, "(M4)");
  }
  // The owner cannot just leave either.
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.remove_member(w.ws_owner, w.agency, w.ws_owner),
                               Code::kFailedPrecondition, "(M4)");
}

TEST(People, M4_OwnerTransfersOwnershipAndBecomesAdmin) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.transfer_ownership(w.ws_owner, w.agency, w.ws_admin));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, engine.workspace(w.agency));
  EXPECT_EQ(info.owner, w.ws_admin);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(w.agency));
  for (const Member& expected : {Member{w.ws_owner, "admin"}, Member{w.ws_admin, "owner"}}) {
    EXPECT_NE(std::find(members.begin(), members.end(), expected), members.end()) << expected.role;
  }
  EXPECT_EQ(std::count_if(members.begin(), members.end(),
                          [](const Member& m) { return m.role == "owner"; }),
            1);
  EXPECT_EQ(PermsOf(engine, w.ws_owner, w.agency), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.ws_admin, w.agency), kOwner);
  // The old owner no longer hands it over; the new one can, to a non-member.
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.transfer_ownership(w.ws_owner, w.agency, w.viewer),
                               Code::kPermissionDenied, "(M4)");
  TNY_ASSERT_OK(engine.transfer_ownership(w.ws_admin, w.agency, w.outsider));
  TNY_ASSERT_OK_AND_ASSIGN(info, engine.workspace(w.agency));
  EXPECT_EQ(info.owner, w.outsider);
  EXPECT_EQ(PermsOf(engine, w.outsider, w.agency), kOwner);
  // SYSTEM may hand it over too.
  TNY_ASSERT_OK(engine.transfer_ownership(kSystem, w.agency, w.ws_owner));
  TNY_ASSERT_OK_AND_ASSIGN(info, engine.workspace(w.agency));
  EXPECT_EQ(info.owner, w.ws_owner);
}

TEST(People, M4_OnlyTheOwnerTransfersOwnership) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (UserId actor : {w.ws_admin, w.acct_admin, w.acct_owner, w.viewer, w.outsider}) {
    SCOPED_TRACE(actor);
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.transfer_ownership(actor, w.agency, actor),
                                 Code::kPermissionDenied, "(M4)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.transfer_ownership(actor, w.agency, w.manager),
                                 Code::kPermissionDenied, "(M4)");
  }
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.transfer_ownership(w.ws_owner, w.agency, w.ws_owner),
                               Code::kFailedPrecondition, "(M4)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.transfer_ownership(w.ws_owner, w.agency, 999),
                               Code::kNotFound, "(M4)");
}

// ---- M5: staff and clients never mix ----

TEST(People, M5_StaffCannotBecomeClient) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (UserId staff : {w.acct_owner, w.acct_admin, w.staff_member}) {
    SCOPED_TRACE(staff);
    for (UserId actor : {kSystem, w.ws_admin}) {
      TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(actor, w.client_b, staff, "client"),
                                   Code::kFailedPrecondition, "(M5)");
    }
  }
  // Staff may hold other direct roles; turning one into client is refused.
  TNY_ASSERT_OK(engine.add_member(kSystem, w.client_b, w.staff_member, "viewer"));
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.set_role(kSystem, w.client_b, w.staff_member, "client"),
                               Code::kFailedPrecondition, "(M5)");
  // A former staff member may become a client.
  TNY_ASSERT_OK(engine.remove_staff(kSystem, w.account, w.staff_member));
  TNY_EXPECT_OK(engine.set_role(kSystem, w.client_b, w.staff_member, "client"));
}

TEST(People, M5_ClientCannotBecomeStaff) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (const char* role : {"member", "admin"}) {
    for (UserId actor : {kSystem, w.acct_owner}) {
      TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_staff(actor, w.account, w.client, role),
                                   Code::kFailedPrecondition, "(M5)");
    }
  }
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.add_staff(kSystem, w.account, w.client, "member", StaffScope::Of({w.ops})),
      Code::kFailedPrecondition, "(M5)");
  // A client in many workspaces is still just a client.
  TNY_ASSERT_OK(engine.add_member(w.ws_admin, w.client_b, w.client, "client"));
  EXPECT_EQ(PermsOf(engine, w.client, w.client_b), kClient);
  // Once no longer a client anywhere in the account, staff is possible.
  TNY_ASSERT_OK(engine.remove_member(kSystem, w.client_a, w.client));
  TNY_ASSERT_OK(engine.remove_member(kSystem, w.client_b, w.client));
  TNY_EXPECT_OK(engine.add_staff(kSystem, w.account, w.client, "member"));
}

TEST(People, M5_OnlyWithinOneAccount) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId beta_owner, engine.create_user("owner@beta.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId beta, engine.create_account(AccountNamed(
                                               "Beta", beta_owner, Plan::Named("enterprise"))));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId beta_ws,
                           engine.create_workspace(beta_owner, beta, Named("Beta")));
  // Staff of Acme may be a client of Beta ...
  TNY_ASSERT_OK(engine.add_member(beta_owner, beta_ws, w.staff_member, "client"));
  TNY_ASSERT_OK(engine.add_member(beta_owner, beta_ws, w.acct_owner, "client"));
  EXPECT_EQ(PermsOf(engine, w.staff_member, beta_ws), kClient);
  // ... and a client of Acme may be staff of Beta.
  TNY_ASSERT_OK(engine.add_staff(beta_owner, beta, w.client, "member"));
  EXPECT_EQ(PermsOf(engine, w.client, beta_ws), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.client, w.client_a), kClient);
  // Within Beta the rule holds.
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_staff(beta_owner, beta, w.staff_member, "member"),
                               Code::kFailedPrecondition, "(M5)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(beta_owner, beta_ws, w.client, "client"),
                               Code::kFailedPrecondition, "(M5)");
}

// ---- M7: the permission catalog ----

TEST(People, M7_BuiltinCatalog) {
  Engine engine;
  const std::vector<std::string> builtin = {
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
  std::set<PermissionId> ids;
  for (const std::string& name : builtin) {
    SCOPED_TRACE(name);
    TNY_ASSERT_OK_AND_ASSIGN(PermissionId id, engine.permission(name));
    EXPECT_TRUE(ids.insert(id).second);
    TNY_ASSERT_OK_AND_ASSIGN(std::string back, engine.permission_name(id));
    EXPECT_EQ(back, name);
  }
  EXPECT_EQ(test::AllPermissionNames(engine).size(), ids.size());
  EXPECT_EQ(engine.revision(), 0u);
}

TEST(People, M7_UnknownPermissionIsNotFound) {
  Engine engine;
  for (const char* name : {"reports.export", "workspace.fly", "workspace", "", "Workspace.view"}) {
    SCOPED_TRACE(name);
    TNY_EXPECT_REFUSED(engine.permission(name), Code::kNotFound, "(M7)");
  }
  const PermissionId past_end = static_cast<PermissionId>(test::AllPermissionNames(engine).size());
  TNY_EXPECT_REFUSED(engine.permission_name(past_end), Code::kNotFound, "(M7)");
}

TEST(People, M7_ApplicationRegistersItsOwnPermissions) {
  Engine engine;
  const size_t builtin = test::AllPermissionNames(engine).size();
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId id, engine.register_permission("reports.export"));
  EXPECT_GE(id, builtin);
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId found, engine.permission("reports.export"));
  EXPECT_EQ(found, id);
  TNY_ASSERT_OK_AND_ASSIGN(std::string name, engine.permission_name(id));
  EXPECT_EQ(name, "reports.export");
  // Idempotent: the same id, no new entry, no change.
  const uint64_t revision = engine.revision();
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId again, engine.register_permission("reports.export"));
  EXPECT_EQ(again, id);
  EXPECT_EQ(engine.revision(), revision);
  EXPECT_EQ(test::AllPermissionNames(engine).size(), builtin + 1);
  // A built-in name registers to its built-in id.
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId view, engine.permission("workspace.view"));
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId view_again, engine.register_permission("workspace.view"));
  EXPECT_EQ(view_again, view);
  // A second name gets another id; nobody holds an application permission
  // through a built-in role.
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId other, engine.register_permission("reports_v2.run_now"));
  EXPECT_NE(other, id);
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId in_world, w.engine.register_permission("reports.export"));
  EXPECT_FALSE(w.engine.check(w.ws_owner, w.agency, in_world));
  EXPECT_FALSE(w.engine.check(w.acct_owner, w.ops, in_world));
}

TEST(People, M7_InvalidPermissionNamesRefused) {
  Engine engine;
  const std::string invalid[] = {
      "",
      "reports",
      "reports.",
      ".export",
      "Reports.export",
      "reports.Export",
      "reports.export.pdf",
      "reports-x.export",
      "reports export",
      "reports.ex port",
      std::string(129, 'a'),
      absl::StrCat(std::string(64, 'r'), ".", std::string(64, 'e')),
  };
  for (const std::string& name : invalid) {
    SCOPED_TRACE(name);
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.register_permission(name), Code::kInvalidArgument,
                                 "(M7)");
  }
  // The longest valid name: 128 bytes.
  TNY_EXPECT_OK(
      engine.register_permission(absl::StrCat(std::string(63, 'r'), ".", std::string(64, 'e'))));
}

TEST(People, M7_UpToMaxPermissions) {
  Engine engine;
  const size_t builtin = test::AllPermissionNames(engine).size();
  for (size_t i = builtin; i < limits::kMaxPermissions; ++i) {
    absl::StatusOr<PermissionId> id = engine.register_permission(absl::StrCat("app.p", i));
    ASSERT_TRUE(id.ok()) << i << ": " << id.status();
    ASSERT_EQ(*id, i);
  }
  EXPECT_GE(limits::kMaxPermissions, 1024u);  // M7: at least 1,024 in all
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.register_permission("app.one_too_many"),
                               Code::kResourceExhausted, "(M7)");
  // Known names still resolve, and register idempotently at the limit.
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId last,
                           engine.permission(absl::StrCat("app.p", limits::kMaxPermissions - 1)));
  EXPECT_EQ(last, limits::kMaxPermissions - 1);
  TNY_EXPECT_OK(engine.register_permission("app.p100"));
}

// ---- M8: built-in role contents ----

TEST(People, M8_WorkspaceRoleContents) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  const Engine& engine = w.engine;
  // ws_owner and the members hold their roles directly in the agency and
  // are not staff, so check() shows exactly the role.
  EXPECT_EQ(PermsOf(engine, w.viewer, w.agency), kViewer);
  EXPECT_EQ(PermsOf(engine, w.member, w.agency), kMember);
  EXPECT_EQ(PermsOf(engine, w.manager, w.agency), kManager);
  EXPECT_EQ(PermsOf(engine, w.ws_admin, w.agency), kAdmin);
  EXPECT_EQ(PermsOf(engine, w.ws_owner, w.agency), kOwner);
  EXPECT_EQ(PermsOf(engine, w.client, w.client_a), kClient);
  EXPECT_EQ(kClient.size(), 6u);
}

TEST(People, M8_LowerRolesLackWhatHigherOnesAdd) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  const Engine& engine = w.engine;
  using test::Can;
  EXPECT_FALSE(Can(engine, w.viewer, w.agency, "billing.view"));
  EXPECT_FALSE(Can(engine, w.viewer, w.agency, "white_label.manage"));
  EXPECT_FALSE(Can(engine, w.viewer, w.agency, "campaigns.run"));
  EXPECT_FALSE(Can(engine, w.member, w.agency, "contacts.create"));
  EXPECT_FALSE(Can(engine, w.manager, w.agency, "members.invite"));
  EXPECT_FALSE(Can(engine, w.manager, w.agency, "settings.edit"));
  EXPECT_FALSE(Can(engine, w.ws_admin, w.agency, "billing.view"));
  EXPECT_FALSE(Can(engine, w.ws_admin, w.agency, "workspace.delete"));
  EXPECT_FALSE(Can(engine, w.client, w.client_a, "contacts.view"));
  EXPECT_FALSE(Can(engine, w.client, w.client_a, "connections.edit"));
  // No workspace role holds the account permissions.
  for (UserId u : {w.ws_owner, w.ws_admin, w.manager, w.member, w.viewer}) {
    for (const char* name : kAccountExtras) EXPECT_FALSE(Can(engine, u, w.agency, name)) << name;
  }
}

TEST(People, M8_AccountOwnerAndAdminHoldAccountPermissions) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  for (WorkspaceId ws : {w.agency, w.client_b, w.ops}) {
    SCOPED_TRACE(ws);
    EXPECT_EQ(PermsOf(w.engine, w.acct_owner, ws), Plus(kOwner, kAccountExtras));
    EXPECT_EQ(PermsOf(w.engine, w.acct_admin, ws), Plus(kAdmin, kAccountExtras));
  }
  // So the account admin creates workspaces and manages staff and the plan.
  TNY_EXPECT_OK(w.engine.create_workspace(w.acct_admin, w.account, Named("New")));
  TNY_EXPECT_OK(w.engine.add_staff(w.acct_admin, w.account, w.outsider, "member"));
  TNY_EXPECT_OK(w.engine.set_plan(w.acct_admin, w.account, Plan::Custom("big", 100, true)));
}

TEST(People, M8_StaffMemberGetsTheStaffMemberRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  // Default: admin, "full access to every workspace" ...
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    EXPECT_EQ(PermsOf(w.engine, w.staff_member, ws), kAdmin);
  }
  // ... without creating workspaces or managing the account.
  TNY_EXPECT_REFUSED_UNCHANGED(w.engine,
                               w.engine.create_workspace(w.staff_member, w.account, Named("No")),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(w.engine,
                               w.engine.add_staff(w.staff_member, w.account, w.outsider, "member"),
                               Code::kPermissionDenied, "(M10)");

  const std::pair<const char*, const Perms*> roles[] = {
      {"viewer", &kViewer}, {"member", &kMember}, {"manager", &kManager}, {"admin", &kAdmin}};
  for (const auto& [role, perms] : roles) {
    SCOPED_TRACE(role);
    Engine engine;
    TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
    TNY_ASSERT_OK_AND_ASSIGN(UserId staff, engine.create_user("staff@a.test"));
    AccountSpec spec = AccountNamed("Acme", owner, Plan::Named("growth"));
    spec.staff_member_role = role;
    TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(spec));
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws,
                             engine.create_workspace(owner, account, Named("Main")));
    TNY_ASSERT_OK(engine.add_staff(owner, account, staff, "member"));
    EXPECT_EQ(PermsOf(engine, staff, ws), *perms);
    // The staff owner is unaffected by the member role.
    EXPECT_EQ(PermsOf(engine, owner, ws), Plus(kOwner, kAccountExtras));
  }
}

TEST(People, M8_InvalidStaffMemberRoleRefused) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  for (const char* role : {"owner", "client", "boss", "", "Admin"}) {
    SCOPED_TRACE(role);
    AccountSpec spec = AccountNamed("Acme", owner);
    spec.staff_member_role = role;
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_account(spec), Code::kInvalidArgument,
                                 "(M8)");
  }
}

// ---- M10: admin actions are authorized ----

struct NamedChange {
  std::string name;
  std::function<absl::Status()> run;
};

// Every kind of change, made by `actor` in the world: account changes on
// the account, workspace changes on `ws`; set_role and remove_member aim at
// `target`. The order lets an authorized actor make them all: add_member
// adds the outsider, and set_status (inactive) comes last.
std::vector<NamedChange> EveryChange(World& w, UserId actor, WorkspaceId ws, UserId target) {
  Engine& e = w.engine;
  return {
      {"set_plan", [&e, &w, actor] { return e.set_plan(actor, w.account, Plan::Named("growth")); }},
      {"add_staff",
       [&e, &w, actor] { return e.add_staff(actor, w.account, w.outsider, "member"); }},
      {"set_staff_scope",
       [&e, &w, actor] {
         return e.set_staff_scope(actor, w.account, w.staff_member, StaffScope::Of({w.ops}));
       }},
      {"remove_staff",
       [&e, &w, actor] { return e.remove_staff(actor, w.account, w.staff_member); }},
      {"create_workspace",
       [&e, &w, actor] { return e.create_workspace(actor, w.account, Named("Made")).status(); }},
      {"rename_workspace", [&e, actor, ws] { return e.rename_workspace(actor, ws, "Renamed"); }},
      {"set_setting",
       [&e, actor, ws] { return e.set_setting(actor, ws, "approval_timeout_s", int64_t{3600}); }},
      {"add_member", [&e, &w, actor, ws] { return e.add_member(actor, ws, w.outsider, "viewer"); }},
      {"set_role", [&e, actor, ws, target] { return e.set_role(actor, ws, target, "member"); }},
      {"remove_member", [&e, actor, ws, target] { return e.remove_member(actor, ws, target); }},
      {"set_status",
       [&e, actor, ws] { return e.set_status(actor, ws, WorkspaceStatus::kInactive); }},
  };
}

TEST(People, M10_UnauthorizedChangesRefusedAndChangeNothing) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  // Each actor aims at a direct member other than itself (leaving is not an
  // admin action). The viewer, member and manager hold roles in the agency
  // without admin permissions; the client acts in its own workspace.
  struct Case {
    UserId actor;
    WorkspaceId ws;
    UserId target;
  };
  const Case cases[] = {{w.outsider, w.agency, w.viewer},
                        {w.viewer, w.agency, w.member},
                        {w.member, w.agency, w.viewer},
                        {w.manager, w.agency, w.viewer},
                        {w.client, w.client_a, w.ws_owner}};
  for (const Case& c : cases) {
    for (const NamedChange& change : EveryChange(w, c.actor, c.ws, c.target)) {
      SCOPED_TRACE(absl::StrCat("actor ", c.actor, ": ", change.name));
      TNY_EXPECT_REFUSED_UNCHANGED(w.engine, change.run(), Code::kPermissionDenied, "(M10)");
    }
  }
}

TEST(People, M10_WorkspaceRolesDoNotAuthorizeAccountChanges) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  const std::set<std::string> account_changes = {"set_plan", "add_staff", "set_staff_scope",
                                                 "remove_staff", "create_workspace"};
  // The agency's owner and admin, and a staff member (admin everywhere).
  for (UserId actor : {w.ws_owner, w.ws_admin, w.staff_member}) {
    for (const NamedChange& change : EveryChange(w, actor, w.agency, w.viewer)) {
      if (!account_changes.contains(change.name)) continue;
      SCOPED_TRACE(absl::StrCat("actor ", actor, ": ", change.name));
      TNY_EXPECT_REFUSED_UNCHANGED(w.engine, change.run(), Code::kPermissionDenied, "(M10)");
    }
  }
}

TEST(People, M10_SystemMayMakeEveryChange) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  for (const NamedChange& change : EveryChange(w, kSystem, w.ops, w.outsider)) {
    SCOPED_TRACE(change.name);
    const uint64_t revision = w.engine.revision();
    TNY_EXPECT_OK(change.run());
    EXPECT_GT(w.engine.revision(), revision);
  }
  TNY_EXPECT_OK(w.engine.set_status(kSystem, w.ops, WorkspaceStatus::kActive));
  TNY_EXPECT_OK(w.engine.transfer_ownership(kSystem, w.agency, w.ws_admin));
}

TEST(People, M10_AuthorizedUsersMayMakeTheirChanges) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  // The account admin makes every change (account and workspace level).
  for (const NamedChange& change : EveryChange(w, w.acct_admin, w.ops, w.outsider)) {
    SCOPED_TRACE(absl::StrCat("account admin: ", change.name));
    TNY_EXPECT_OK(change.run());
  }
  // A workspace admin makes the workspace changes in its workspace.
  const std::set<std::string> workspace_changes = {
      "rename_workspace", "set_setting", "add_member", "set_role", "remove_member", "set_status"};
  World other;
  ASSERT_NO_FATAL_FAILURE(other.Build());
  for (const NamedChange& change :
       EveryChange(other, other.ws_admin, other.agency, other.outsider)) {
    if (!workspace_changes.contains(change.name)) continue;
    SCOPED_TRACE(absl::StrCat("workspace admin: ", change.name));
    TNY_EXPECT_OK(change.run());
  }
}

TEST(People, M10_ActorMustHoldEveryPermissionOfTheRoleGranted) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  // A manager cannot grant admin (nor anything: it lacks members.invite).
  for (const char* role : {"admin", "manager", "viewer", "client"}) {
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(w.manager, w.agency, w.outsider, role),
                                 Code::kPermissionDenied, "(M10)");
  }
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(w.manager, w.agency, w.viewer, "admin"),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(w.manager, w.agency, w.manager, "admin"),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_role(w.viewer, w.agency, w.viewer, "owner"),
                               Code::kPermissionDenied, "(M10)");
  // An admin holds every permission of admin and below, so it may grant them.
  TNY_EXPECT_OK(engine.add_member(w.ws_admin, w.agency, w.outsider, "admin"));
  TNY_EXPECT_OK(engine.set_role(w.ws_admin, w.agency, w.manager, "admin"));
}

}  // namespace
}  // namespace tenantry
