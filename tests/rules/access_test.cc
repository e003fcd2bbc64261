// Copyright 2026 The tenantry Authors.
//
// Access checks (A1-A6) and sessions (S1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tenantry/engine.h"
#include "tenantry/limits.h"

namespace tenantry {
namespace {

// An agency account (enterprise) with its HQ, two client sub-workspaces
// (Acme, Globex) and a grandchild under a nested agency; a second account
// with a workspace of the same slug; staff with scope all and specific.
class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    owner = *engine.create_user("owner@agency.test");
    admin = *engine.create_user("admin@agency.test");
    staff_all = *engine.create_user("all@agency.test");
    staff_acme = *engine.create_user("acme-only@agency.test");
    client = *engine.create_user("client@acme.test");
    manager = *engine.create_user("manager@agency.test");
    outsider = *engine.create_user("outsider@other.test");
    account = *engine.create_account({"Agency", owner, Plan::Named("enterprise")});
    other_account = *engine.create_account({"Other", outsider, Plan::Named("growth")});
    ASSERT_TRUE(engine.add_staff(owner, account, admin, "admin").ok());
    hq = *engine.create_workspace(owner, account,
                                  {"HQ", std::nullopt, WorkspaceType::kAgency, 0, 0});
    acme = *engine.create_workspace(owner, account,
                                    {"Acme", std::nullopt, WorkspaceType::kSimple, hq, 0});
    globex = *engine.create_workspace(owner, account,
                                      {"Globex", std::nullopt, WorkspaceType::kAgency, hq, 0});
    globex_sub = *engine.create_workspace(
        owner, account, {"Globex East", std::nullopt, WorkspaceType::kSimple, globex, 0});
    other = *engine.create_workspace(outsider, other_account,
                                     {"Acme", std::nullopt, WorkspaceType::kSimple, 0, 0});
    ASSERT_TRUE(engine.add_staff(owner, account, staff_all, "member", StaffScope::All()).ok());
    ASSERT_TRUE(
        engine.add_staff(owner, account, staff_acme, "member", StaffScope::Of({acme})).ok());
    ASSERT_TRUE(engine.add_member(owner, acme, client, "client").ok());
    ASSERT_TRUE(engine.add_member(owner, hq, manager, "manager").ok());
  }

  PermissionId P(const char* name) { return *engine.permission(name); }

  Engine engine;
  UserId owner = 0, admin = 0, staff_all = 0, staff_acme = 0, client = 0, manager = 0, outsider = 0;
  AccountId account = 0, other_account = 0;
  WorkspaceId hq = 0, acme = 0, globex = 0, globex_sub = 0, other = 0;
};

TEST_F(AccessTest, A1_UnionOfDirectAndStaffGrants) {
  EXPECT_TRUE(engine.check(client, acme, P("runs.trigger")));            // direct client role
  EXPECT_FALSE(engine.check(client, acme, P("contacts.view")));          // client lacks it
  EXPECT_TRUE(engine.check(staff_all, globex_sub, P("contacts.edit")));  // staff member -> admin
  EXPECT_TRUE(engine.check(admin, acme, P("account.manage_staff")));     // account admin
  EXPECT_FALSE(engine.check(manager, hq, P("members.invite")));          // manager lacks it
  EXPECT_TRUE(engine.check(manager, hq, P("contacts.import")));
}

TEST_F(AccessTest, A1_UnknownIdsDenyAndUnknownPermissionIsNotFound) {
  EXPECT_FALSE(engine.check(999999, acme, P("workspace.view")));
  EXPECT_FALSE(engine.check(owner, 999999, P("workspace.view")));
  EXPECT_FALSE(engine.check(0, 0, 0));
  EXPECT_FALSE(engine.check(owner, acme, limits::kMaxPermissions + 5));
  EXPECT_FALSE(engine.check(owner, acme, 4000));  // in range but never registered
  EXPECT_EQ(engine.permission("contacts.fly").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine.explain(owner, acme, 4000).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AccessTest, A2_NoGrantCrossesAccountsOrSiblings) {
  // The owner of one account holds nothing in the other account's "acme".
  for (PermissionId p = 0; engine.permission_name(p).ok(); ++p) {
    EXPECT_FALSE(engine.check(owner, other, p)) << *engine.permission_name(p);
    EXPECT_FALSE(engine.check(outsider, acme, p)) << *engine.permission_name(p);
    // A role in Acme gives nothing in its sibling Globex.
    EXPECT_FALSE(engine.check(client, globex, p)) << *engine.permission_name(p);
  }
  ASSERT_TRUE(engine.add_member(owner, acme, outsider, "admin").ok());
  EXPECT_FALSE(engine.check(outsider, globex, P("workspace.view")));
  EXPECT_FALSE(engine.check(outsider, hq, P("workspace.view")));
  EXPECT_TRUE(engine.check(outsider, acme, P("members.invite")));
}

TEST_F(AccessTest, A3_AgencyRolesInheritButClientNever) {
  // manager in HQ is manager in Acme, Globex and Globex East (two levels down).
  EXPECT_TRUE(engine.check(manager, acme, P("contacts.create")));
  EXPECT_TRUE(engine.check(manager, globex_sub, P("contacts.create")));
  auto why = *engine.explain(manager, globex_sub, P("contacts.create"));
  EXPECT_EQ(why.path, AccessPath::kInherited);
  EXPECT_EQ(why.via_workspace, hq);
  // A client of the agency workspace gets nothing below it.
  UserId agency_client = *engine.create_user("agency-client@x.test");
  ASSERT_TRUE(engine.add_member(owner, globex, agency_client, "client").ok());
  EXPECT_TRUE(engine.check(agency_client, globex, P("workspace.view")));
  EXPECT_FALSE(engine.check(agency_client, globex_sub, P("workspace.view")));
  // Roles held in a client workspace do not flow up.
  EXPECT_FALSE(engine.check(client, hq, P("workspace.view")));
}

TEST_F(AccessTest, A3_StaffScopeReachesSubWorkspacesOfAScopedAgency) {
  UserId scoped = *engine.create_user("globex-team@agency.test");
  ASSERT_TRUE(engine.add_staff(owner, account, scoped, "member", StaffScope::Of({globex})).ok());
  EXPECT_TRUE(engine.check(scoped, globex_sub, P("contacts.view")));
  EXPECT_FALSE(engine.check(scoped, acme, P("contacts.view")));
  EXPECT_FALSE(engine.check(scoped, hq, P("contacts.view")));
}

TEST_F(AccessTest, A4_ExplainNamesRoleAndPath) {
  auto direct = *engine.explain(client, acme, P("runs.view"));
  EXPECT_TRUE(direct.allowed);
  EXPECT_EQ(direct.path, AccessPath::kDirect);
  EXPECT_EQ(direct.role, "client");
  EXPECT_EQ(direct.via_workspace, acme);

  auto staff = *engine.explain(staff_all, acme, P("contacts.view"));
  EXPECT_TRUE(staff.allowed);
  EXPECT_EQ(staff.path, AccessPath::kStaff);
  EXPECT_EQ(staff.role, "admin");

  auto out_of_scope = *engine.explain(staff_acme, globex, P("workspace.view"));
  EXPECT_FALSE(out_of_scope.allowed);
  EXPECT_NE(out_of_scope.reason.find("outside the staff scope"), std::string::npos);

  auto no_membership = *engine.explain(outsider, acme, P("workspace.view"));
  EXPECT_FALSE(no_membership.allowed);
  EXPECT_NE(no_membership.reason.find("no role"), std::string::npos);

  auto lacks = *engine.explain(client, acme, P("contacts.view"));
  EXPECT_FALSE(lacks.allowed);
  EXPECT_NE(lacks.reason.find("contacts.view"), std::string::npos);

  ASSERT_TRUE(engine.set_status(owner, acme, WorkspaceStatus::kInactive).ok());
  auto inactive = *engine.explain(client, acme, P("runs.view"));
  EXPECT_FALSE(inactive.allowed);
  EXPECT_NE(inactive.reason.find("inactive"), std::string::npos);
}

TEST_F(AccessTest, A4_ExplainAgreesWithCheckEverywhere) {
  std::vector<UserId> users = {owner, admin, staff_all, staff_acme, client, manager, outsider};
  std::vector<WorkspaceId> spaces = {hq, acme, globex, globex_sub, other};
  for (UserId u : users) {
    for (WorkspaceId w : spaces) {
      for (PermissionId p = 0; engine.permission_name(p).ok(); ++p) {
        EXPECT_EQ(engine.explain(u, w, p)->allowed, engine.check(u, w, p))
            << "user " << u << " ws " << w << " perm " << *engine.permission_name(p);
      }
    }
  }
}

TEST_F(AccessTest, A5_WorkspacesForIsOrderedByNameAndSkipsInactive) {
  EXPECT_EQ(engine.workspaces_for(owner), (std::vector<WorkspaceId>{acme, globex, globex_sub, hq}));
  EXPECT_EQ(engine.workspaces_for(staff_acme), (std::vector<WorkspaceId>{acme}));
  EXPECT_EQ(engine.workspaces_for(client), (std::vector<WorkspaceId>{acme}));
  EXPECT_EQ(engine.workspaces_for(outsider), (std::vector<WorkspaceId>{other}));
  EXPECT_TRUE(engine.workspaces_for(424242).empty());
  ASSERT_TRUE(engine.set_status(owner, globex, WorkspaceStatus::kInactive).ok());
  EXPECT_EQ(engine.workspaces_for(owner), (std::vector<WorkspaceId>{acme, globex_sub, hq}));
}

// A client role in an agency reaches only the agency itself, but a team
// role held there too reaches the sub-workspaces; the lists must follow
// check (found by the differential test).
TEST_F(AccessTest, A5_ListsFollowATeamRoleBesideAClientRole) {
  UserId u = *engine.create_user("both@x.test");
  ASSERT_TRUE(engine.add_member(owner, globex, u, "client").ok());
  TeamId crew = *engine.create_team(owner, globex, "Crew", "viewer");
  ASSERT_TRUE(engine.add_team_member(owner, crew, u).ok());
  ASSERT_TRUE(engine.check(u, globex_sub, P("workspace.switch")));
  EXPECT_EQ(engine.workspaces_for(u), (std::vector<WorkspaceId>{globex, globex_sub}));
  EXPECT_EQ(engine.accessible(u, P("workspace.switch")),
            (std::vector<WorkspaceId>{globex, globex_sub}));
}

TEST_F(AccessTest, A5_MembersWhoCanAndAccessible) {
  auto members = *engine.members(acme);
  EXPECT_EQ(members, (std::vector<Member>{{owner, "owner"}, {client, "client"}}));
  EXPECT_EQ(engine.members(999).status().code(), absl::StatusCode::kNotFound);

  // who_can sees direct, inherited and staff holders.
  EXPECT_EQ(engine.who_can(acme, P("contacts.create")),
            (std::vector<UserId>{owner, admin, staff_all, staff_acme, manager}));
  EXPECT_EQ(engine.who_can(acme, P("runs.trigger")),
            (std::vector<UserId>{owner, admin, staff_all, staff_acme, client}));
  EXPECT_EQ(engine.who_can(globex, P("billing.manage")), (std::vector<UserId>{owner}));

  EXPECT_EQ(engine.accessible(staff_acme, P("contacts.view")), (std::vector<WorkspaceId>{acme}));
  EXPECT_EQ(engine.accessible(manager, P("contacts.view")),
            (std::vector<WorkspaceId>{hq, acme, globex, globex_sub}));
  EXPECT_TRUE(engine.accessible(client, P("contacts.view")).empty());
}

TEST_F(AccessTest, A6_CheckManyMatchesCheck) {
  std::vector<UserId> users = {owner, client, client, staff_acme, 77777};
  std::vector<WorkspaceId> spaces = {globex, acme, acme, globex, acme};
  std::vector<PermissionId> perms = {P("billing.manage"), P("runs.trigger"), P("contacts.view"),
                                     P("workspace.view"), P("workspace.view")};
  std::vector<uint8_t> out(users.size(), 9);
  ASSERT_TRUE(engine.check_many(users, spaces, perms, absl::MakeSpan(out)).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 1, 0, 0, 0}));
  std::vector<uint8_t> short_out(2);
  EXPECT_EQ(engine.check_many(users, spaces, perms, absl::MakeSpan(short_out)).code(),
            absl::StatusCode::kInvalidArgument);
}

// check_many looks items up in groups, prefetching ahead: every answer must
// still be check's, for every user, workspace and permission (including ids
// no trie covers, and an inactive workspace), in arrays longer than a group
// and not a multiple of one.
TEST_F(AccessTest, A6_CheckManyEqualsCheckForEveryQuestion) {
  ASSERT_TRUE(engine.set_status(owner, globex, WorkspaceStatus::kInactive).ok());
  const std::vector<UserId> people = {owner,      admin,    manager, client, staff_all,
                                      staff_acme, outsider, 0,       77777,  uint64_t{1} << 62};
  const std::vector<WorkspaceId> spaces = {hq,    acme, globex, globex_sub,
                                           other, 0,    5555,   ~uint64_t{0}};
  const std::vector<PermissionId> perms = {P("workspace.view"),        P("contacts.view"),
                                           P("runs.trigger"),          P("billing.manage"),
                                           P("members.invite"),        P("account.manage_staff"),
                                           limits::kMaxPermissions + 1};
  std::vector<UserId> users;
  std::vector<WorkspaceId> workspaces;
  std::vector<PermissionId> permissions;
  for (UserId u : people) {
    for (WorkspaceId w : spaces) {
      for (PermissionId p : perms) {
        users.push_back(u);
        workspaces.push_back(w);
        permissions.push_back(p);
      }
    }
  }
  ASSERT_GT(users.size(), 100u);
  ASSERT_NE(users.size() % 32, 0u);
  std::vector<uint8_t> out(users.size(), 9);
  ASSERT_TRUE(engine.check_many(users, workspaces, permissions, absl::MakeSpan(out)).ok());
  size_t allowed = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    ASSERT_EQ(out[i], engine.check(users[i], workspaces[i], permissions[i]) ? 1 : 0)
        << "item " << i << ": user " << users[i] << ", workspace " << workspaces[i]
        << ", permission " << permissions[i];
    allowed += out[i];
  }
  EXPECT_GT(allowed, 20u);
  EXPECT_LT(allowed, users.size() / 2);
}

TEST_F(AccessTest, S1_SwitchNeedsAnActiveWorkspaceAndSwitchPermission) {
  EXPECT_EQ(engine.active_workspace(client), std::nullopt);
  ASSERT_TRUE(engine.switch_workspace(client, acme).ok());
  EXPECT_EQ(engine.active_workspace(client), acme);
  // One active workspace at a time.
  ASSERT_TRUE(engine.switch_workspace(owner, acme).ok());
  ASSERT_TRUE(engine.switch_workspace(owner, hq).ok());
  EXPECT_EQ(engine.active_workspace(owner), hq);

  absl::Status denied = engine.switch_workspace(client, globex);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("(S1)"), std::string::npos);
  EXPECT_EQ(engine.active_workspace(client), acme);

  ASSERT_TRUE(engine.set_status(owner, globex, WorkspaceStatus::kInactive).ok());
  EXPECT_EQ(engine.switch_workspace(owner, globex).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine.switch_workspace(client, 5555).code(), absl::StatusCode::kNotFound);
}

TEST_F(AccessTest, S1_LosingAccessClearsTheActiveWorkspace) {
  ASSERT_TRUE(engine.switch_workspace(client, acme).ok());
  ASSERT_TRUE(engine.switch_workspace(staff_acme, acme).ok());
  ASSERT_TRUE(engine.switch_workspace(manager, globex_sub).ok());
  ASSERT_TRUE(engine.switch_workspace(staff_all, globex).ok());

  ASSERT_TRUE(engine.remove_member(owner, acme, client).ok());
  EXPECT_EQ(engine.active_workspace(client), std::nullopt);
  // Regaining access does not bring the session back.
  ASSERT_TRUE(engine.add_member(owner, acme, client, "client").ok());
  EXPECT_EQ(engine.active_workspace(client), std::nullopt);

  ASSERT_TRUE(engine.set_staff_scope(owner, account, staff_acme, StaffScope::Of({})).ok());
  EXPECT_EQ(engine.active_workspace(staff_acme), std::nullopt);

  // Inherited access lost at the agency clears the session below it.
  ASSERT_TRUE(engine.remove_member(owner, hq, manager).ok());
  EXPECT_EQ(engine.active_workspace(manager), std::nullopt);

  // A workspace going inactive clears every session in it.
  ASSERT_TRUE(engine.switch_workspace(owner, globex).ok());
  ASSERT_TRUE(engine.set_status(owner, globex, WorkspaceStatus::kInactive).ok());
  EXPECT_EQ(engine.active_workspace(staff_all), std::nullopt);
  EXPECT_EQ(engine.active_workspace(owner), std::nullopt);

  // Staff removal clears too.
  ASSERT_TRUE(engine.set_status(owner, globex, WorkspaceStatus::kActive).ok());
  ASSERT_TRUE(engine.switch_workspace(staff_all, globex).ok());
  ASSERT_TRUE(engine.remove_staff(owner, account, staff_all).ok());
  EXPECT_EQ(engine.active_workspace(staff_all), std::nullopt);
  EXPECT_TRUE(engine.verify().ok()) << engine.verify();
}

TEST_F(AccessTest, S1_KeepingAccessKeepsTheSession) {
  ASSERT_TRUE(engine.switch_workspace(manager, acme).ok());
  ASSERT_TRUE(engine.set_role(owner, hq, manager, "viewer").ok());  // still may switch
  EXPECT_EQ(engine.active_workspace(manager), acme);
}

}  // namespace
}  // namespace tenantry
