// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 2, custom roles (M6) and the permission catalog (M7), with
// what they touch elsewhere: agency inheritance of client-family roles (A3),
// staff and clients (M5), authorized changes and escalation (M10) and
// sessions (S1). Each test names the rule it proves; every refusal is checked
// for its exact code, a message naming the rule and for having changed
// nothing, custom role contents included (section 10).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using test::AccountNamed;
using test::Can;
using test::Named;
using test::PermsOf;
using test::World;
using ::testing::HasSubstr;
using Code = absl::StatusCode;
using Perms = std::set<std::string>;

Perms Plus(Perms base, std::initializer_list<const char*> more) {
  for (const char* name : more) base.insert(name);
  return base;
}

std::vector<std::string> Sorted(const Perms& perms) { return {perms.begin(), perms.end()}; }

// M8, from the rule's words (docs/rules.md).
const Perms kViewer = {
    "workspace.view", "workspace.switch",   "members.view",      "contacts.view",
    "campaigns.view", "calls.view",         "analytics.view",    "assistants.view",
    "workflows.view", "runs.view",          "connections.view",  "integrations.view",
    "templates.view", "phone_numbers.view", "appointments.view", "credits.view",
};
const Perms kClient = {"workspace.view", "workspace.switch", "analytics.view",
                       "runs.view",      "runs.trigger",     "connections.rotate_own"};

// The resolved permissions of the named roles of an account, as text; with
// the engine's fingerprint this is the state a refused role change must keep.
std::string RolesText(const Engine& engine, AccountId account,
                      const std::vector<std::string>& roles) {
  std::string out;
  for (const std::string& role : roles) {
    absl::StatusOr<std::vector<std::string>> perms = engine.role_permissions(account, role);
    absl::StrAppend(&out, role, ": ",
                    perms.ok() ? absl::StrJoin(*perms, ",") : perms.status().ToString(), "\n");
  }
  return out;
}

// As TNY_EXPECT_REFUSED, and `state` (an expression, evaluated before and
// after) is the same afterwards.
#define ROLES_EXPECT_REFUSED_SAME(state, expr, want_code, want_rule) \
  do {                                                               \
    const std::string roles_state_before = (state);                  \
    TNY_EXPECT_REFUSED(expr, want_code, want_rule);                  \
    EXPECT_EQ((state), roles_state_before);                          \
  } while (false)

// A user with nothing yet.
UserId NewUser(Engine& engine, const std::string& key) {
  absl::StatusOr<UserId> id = engine.create_user(key);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(0);
}

// ---- M6: defining roles ----

TEST(Roles, M6_CustomRoleGrantsExactlyItsPermissions) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "auditor",
                              {"billing.view", "analytics.view", "workspace.view"}));
  const UserId holder = NewUser(e, "auditor@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, holder, "auditor"));
  EXPECT_EQ(PermsOf(e, holder, w.ops), (Perms{"analytics.view", "billing.view", "workspace.view"}));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms,
                           e.role_permissions(w.account, "auditor"));
  EXPECT_EQ(perms, (std::vector<std::string>{"analytics.view", "billing.view", "workspace.view"}));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, e.members(w.ops));
  EXPECT_NE(std::find(members.begin(), members.end(), Member{holder, "auditor"}), members.end());
  // Nothing anywhere else (A2, T8).
  EXPECT_EQ(PermsOf(e, holder, w.agency), Perms{});
  EXPECT_EQ(PermsOf(e, holder, w.client_a), Perms{});
  // A role without workspace.switch cannot be switched into (S1).
  TNY_EXPECT_REFUSED(e.switch_workspace(holder, w.ops), Code::kPermissionDenied, "(S1)");
  TNY_EXPECT_OK(e.verify());
}

TEST(Roles, M6_InheritsFromBuiltinRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "support", {"contacts.edit", "contacts.tag"},
                              "viewer"));
  const Perms support = Plus(kViewer, {"contacts.edit", "contacts.tag"});
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms,
                           e.role_permissions(w.account, "support"));
  EXPECT_EQ(perms, Sorted(support));
  const UserId holder = NewUser(e, "support@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, holder, "support"));
  EXPECT_EQ(PermsOf(e, holder, w.ops), support);
  EXPECT_TRUE(Can(e, holder, w.ops, "contacts.edit"));
  EXPECT_TRUE(Can(e, holder, w.ops, "campaigns.view"));    // from viewer
  EXPECT_FALSE(Can(e, holder, w.ops, "contacts.delete"));  // neither
  EXPECT_FALSE(Can(e, holder, w.ops, "billing.view"));
  // Inheriting from a built-in never changes the built-in.
  TNY_ASSERT_OK_AND_ASSIGN(perms, e.role_permissions(w.account, "viewer"));
  EXPECT_EQ(perms, Sorted(kViewer));
  EXPECT_EQ(PermsOf(e, w.viewer, w.agency), kViewer);
}

TEST(Roles, M6_InheritsFromCustomRoleTransitively) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "support", {"contacts.edit"}, "viewer"));
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "senior", {"contacts.delete"}, "support"));
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "lead", {"campaigns.run"}, "senior"));
  const Perms senior = Plus(kViewer, {"contacts.edit", "contacts.delete"});
  const Perms lead = Plus(senior, {"campaigns.run"});
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms, e.role_permissions(w.account, "senior"));
  EXPECT_EQ(perms, Sorted(senior));
  TNY_ASSERT_OK_AND_ASSIGN(perms, e.role_permissions(w.account, "lead"));
  EXPECT_EQ(perms, Sorted(lead));
  const UserId s = NewUser(e, "senior@acme.test");
  const UserId l = NewUser(e, "lead@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, s, "senior"));
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, l, "lead"));
  EXPECT_EQ(PermsOf(e, s, w.ops), senior);
  EXPECT_EQ(PermsOf(e, l, w.ops), lead);
  // A change at the root of the chain reaches every role built on it (M6).
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "support",
                              {"contacts.edit", "contacts.export"}, "viewer"));
  EXPECT_TRUE(Can(e, s, w.ops, "contacts.export"));
  EXPECT_TRUE(Can(e, l, w.ops, "contacts.export"));
  TNY_ASSERT_OK_AND_ASSIGN(perms, e.role_permissions(w.account, "lead"));
  EXPECT_EQ(perms, Sorted(Plus(lead, {"contacts.export"})));
  TNY_EXPECT_OK(e.verify());
}

TEST(Roles, M6_RolePermissionsOfBuiltinAndUnknownRoles) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms, e.role_permissions(w.account, "client"));
  EXPECT_EQ(perms, Sorted(kClient));
  TNY_EXPECT_REFUSED(e.role_permissions(w.account, "nobody"), Code::kNotFound, "(M3, M6)");
  TNY_EXPECT_REFUSED(e.role_permissions(999, "nobody"), Code::kNotFound, "nobody");
}

TEST(Roles, M6_RedefinitionTakesEffectForEveryHolderInOneRevision) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "support", {"contacts.edit"}, "viewer"));
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "senior", {"contacts.delete"}, "support"));
  // Many direct holders, holders through a team, holders of a derived role,
  // and holders by inheritance in the agency's client sub-workspaces.
  std::vector<std::pair<UserId, WorkspaceId>> holders;
  for (int i = 0; i < 40; ++i) {
    const UserId u = NewUser(e, absl::StrCat("holder", i, "@acme.test"));
    const WorkspaceId ws = i % 2 == 0 ? w.ops : w.agency;
    TNY_ASSERT_OK(e.add_member(kSystem, ws, u, i % 5 == 0 ? "senior" : "support"));
    holders.emplace_back(u, ws);
    if (ws == w.agency) holders.emplace_back(u, w.client_b);
  }
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.ops, "Support", "support"));
  for (int i = 0; i < 5; ++i) {
    const UserId u = NewUser(e, absl::StrCat("team", i, "@acme.test"));
    TNY_ASSERT_OK(e.add_team_member(kSystem, team, u));
    holders.emplace_back(u, w.ops);
  }
  for (const auto& [u, ws] : holders) {
    ASSERT_TRUE(Can(e, u, ws, "contacts.edit")) << u << " in " << ws;
    ASSERT_FALSE(Can(e, u, ws, "contacts.export")) << u << " in " << ws;
  }
  const uint64_t before = e.revision();
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "support", {"contacts.export"}, "viewer"));
  EXPECT_EQ(e.revision(), before + 1);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, e.changes_since(before));
  ASSERT_EQ(feed.size(), 1u);
  EXPECT_THAT(feed[0].what, HasSubstr("define_role name=support"));
  EXPECT_EQ(feed[0].account, w.account);
  for (const auto& [u, ws] : holders) {
    EXPECT_TRUE(Can(e, u, ws, "contacts.export")) << u << " in " << ws;
    EXPECT_FALSE(Can(e, u, ws, "contacts.edit")) << u << " in " << ws;
    EXPECT_TRUE(Can(e, u, ws, "campaigns.view")) << u << " in " << ws;
  }
  // Nobody else changed.
  EXPECT_EQ(PermsOf(e, w.viewer, w.agency), kViewer);
  EXPECT_FALSE(Can(e, w.outsider, w.ops, "contacts.export"));
  TNY_EXPECT_OK(e.verify());
}

TEST(Roles, S1_RedefinitionThatDropsSwitchClearsHoldersSessions) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "desk", {"workspace.view", "workspace.switch"}));
  const UserId holder = NewUser(e, "desk@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, holder, "desk"));
  TNY_ASSERT_OK(e.switch_workspace(holder, w.ops));
  TNY_ASSERT_OK(e.switch_workspace(w.viewer, w.agency));
  EXPECT_EQ(e.active_workspace(holder), std::optional<WorkspaceId>(w.ops));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "desk", {"workspace.view"}));
  EXPECT_EQ(e.active_workspace(holder), std::nullopt);
  EXPECT_EQ(e.active_workspace(w.viewer), std::optional<WorkspaceId>(w.agency));
  TNY_EXPECT_OK(e.verify());
}

// ---- M6: refusals ----

TEST(Roles, M6_SelfInheritanceIsACycle) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "a", {"contacts.edit"}, "viewer"));
  auto state = [&] { return test::Fingerprint(e) + RolesText(e, w.account, {"a"}); };
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(w.acct_owner, w.account, "a", {}, "a"),
                            Code::kFailedPrecondition, "(M6)");
}

TEST(Roles, M6_IndirectCycleRefused) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "a", {"contacts.edit"}, "viewer"));
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "b", {"contacts.tag"}, "a"));
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "c", {"contacts.import"}, "b"));
  const UserId holder = NewUser(e, "holder@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, holder, "c"));
  auto state = [&] { return test::Fingerprint(e) + RolesText(e, w.account, {"a", "b", "c"}); };
  // A -> B -> A.
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(w.acct_owner, w.account, "a", {}, "b"),
                            Code::kFailedPrecondition, "(M6)");
  // A -> C -> B -> A.
  ROLES_EXPECT_REFUSED_SAME(state(),
                            e.define_role(w.acct_owner, w.account, "a", {"contacts.view"}, "c"),
                            Code::kFailedPrecondition, "(M6)");
  // B -> C -> B.
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "b", {}, "c"),
                            Code::kFailedPrecondition, "(M6)");
  // Re-pointing to a role off the chain is fine.
  TNY_EXPECT_OK(e.define_role(w.acct_owner, w.account, "a", {"contacts.edit"}, "member"));
  EXPECT_TRUE(Can(e, holder, w.ops, "campaigns.run"));
  TNY_EXPECT_OK(e.verify());
}

TEST(Roles, M7_UnknownPermissionInRoleIsNotFound) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(w.acct_owner, w.account, "support", {"contacts.edit"}, "viewer"));
  auto state = [&] { return test::Fingerprint(e) + RolesText(e, w.account, {"support", "new"}); };
  ROLES_EXPECT_REFUSED_SAME(
      state(), e.define_role(w.acct_owner, w.account, "new", {"contacts.view", "contacts.fly"}),
      Code::kNotFound, "(M7)");
  ROLES_EXPECT_REFUSED_SAME(state(),
                            e.define_role(w.acct_owner, w.account, "support", {"nope"}, "viewer"),
                            Code::kNotFound, "(M7)");
  TNY_EXPECT_REFUSED(e.role_permissions(w.account, "new"), Code::kNotFound, "(M3, M6)");
}

TEST(Roles, M6_BuiltinAndInvalidRoleNamesRefused) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  auto state = [&] {
    return test::Fingerprint(e) +
           RolesText(e, w.account, {"owner", "admin", "manager", "member", "viewer", "client"});
  };
  for (const char* name : {"owner", "admin", "manager", "member", "viewer", "client"}) {
    ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, name, {"calls.view"}),
                              Code::kInvalidArgument, "(M6)");
  }
  for (const std::string& name : {std::string(), std::string("Support"), std::string("two words"),
                                  std::string("a.b"), std::string(65, 'r')}) {
    ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, name, {"calls.view"}),
                              Code::kInvalidArgument, "(M6)");
  }
  TNY_EXPECT_OK(e.define_role(kSystem, w.account, std::string(64, 'r'), {"calls.view"}));
  TNY_EXPECT_OK(e.define_role(kSystem, w.account, "night_shift-2", {"calls.view"}));
}

TEST(Roles, M6_UnknownParentRoleRefused) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  auto state = [&] { return test::Fingerprint(e) + RolesText(e, w.account, {"x"}); };
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "x", {}, "ghost"),
                            Code::kInvalidArgument, "(M3)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, 999, "x", {}), Code::kNotFound, "(M6)");
}

// ---- A3, M5: the client family ----

TEST(Roles, A3_ClientFamilyRoleNeverInheritsDownAgency) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "portal", {"calls.view"}, "client"));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "portal_plus", {"templates.view"}, "portal"));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "helper", {"calls.view"}, "viewer"));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms, e.role_permissions(w.account, "portal"));
  EXPECT_EQ(perms, Sorted(Plus(kClient, {"calls.view"})));
  const UserId portal = NewUser(e, "portal@customer.test");
  const UserId portal_plus = NewUser(e, "portal-plus@customer.test");
  const UserId helper = NewUser(e, "helper@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.agency, portal, "portal"));
  TNY_ASSERT_OK(e.add_member(kSystem, w.agency, portal_plus, "portal_plus"));
  TNY_ASSERT_OK(e.add_member(kSystem, w.agency, helper, "helper"));
  // Where it is held, the role grants.
  EXPECT_EQ(PermsOf(e, portal, w.agency), Plus(kClient, {"calls.view"}));
  EXPECT_EQ(PermsOf(e, portal_plus, w.agency), Plus(kClient, {"calls.view", "templates.view"}));
  // Below the agency, a client-family role grants nothing (A3) ...
  for (WorkspaceId sub : {w.client_a, w.client_b}) {
    EXPECT_EQ(PermsOf(e, portal, sub), Perms{}) << sub;
    EXPECT_EQ(PermsOf(e, portal_plus, sub), Perms{}) << sub;
  }
  EXPECT_EQ(e.workspaces_for(portal), std::vector<WorkspaceId>{w.agency});
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId view, e.permission("workspace.view"));
  TNY_ASSERT_OK_AND_ASSIGN(Decision why, e.explain(portal, w.client_a, view));
  EXPECT_FALSE(why.allowed);
  // ... while any other custom role does.
  EXPECT_EQ(PermsOf(e, helper, w.client_a), Plus(kViewer, {"calls.view"}));
  TNY_ASSERT_OK_AND_ASSIGN(why, e.explain(helper, w.client_a, view));
  EXPECT_TRUE(why.allowed);
  EXPECT_EQ(why.path, AccessPath::kInherited);
  EXPECT_EQ(why.role, "helper");
  EXPECT_EQ(why.via_workspace, w.agency);
}

TEST(Roles, M5_ClientFamilyRoleCountsAsClient) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "portal", {"calls.view"}, "client"));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "portal_plus", {}, "portal"));
  auto state = [&] { return test::Fingerprint(e); };
  // Staff cannot hold it, directly or through a team.
  for (const char* role : {"portal", "portal_plus"}) {
    ROLES_EXPECT_REFUSED_SAME(state(), e.add_member(kSystem, w.ops, w.staff_member, role),
                              Code::kFailedPrecondition, "(M5)");
    ROLES_EXPECT_REFUSED_SAME(state(), e.add_member(kSystem, w.ops, w.acct_admin, role),
                              Code::kFailedPrecondition, "(M5)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.ops, "Portal users", "portal"));
  ROLES_EXPECT_REFUSED_SAME(state(), e.add_team_member(kSystem, team, w.staff_member),
                            Code::kFailedPrecondition, "(M5)");
  // Its holders cannot become staff.
  const UserId holder = NewUser(e, "portal@customer.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.client_b, holder, "portal_plus"));
  ROLES_EXPECT_REFUSED_SAME(state(), e.add_staff(kSystem, w.account, holder, "member"),
                            Code::kFailedPrecondition, "(M5)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.add_staff(w.acct_owner, w.account, holder, "admin"),
                            Code::kFailedPrecondition, "(M5)");
  ROLES_EXPECT_REFUSED_SAME(
      state(), e.invite_staff(w.acct_owner, w.account, "portal@customer.test", "member"),
      Code::kFailedPrecondition, "(M5)");
  // A role that is not in the family mixes with staff as usual.
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "helper", {"calls.view"}, "viewer"));
  TNY_EXPECT_OK(e.add_member(kSystem, w.ops, w.staff_member, "helper"));
  TNY_EXPECT_OK(e.verify());
}

TEST(Roles, M6_RoleCannotMoveInOrOutOfClientFamily) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "portal", {"calls.view"}, "client"));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "helper", {"calls.view"}, "viewer"));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "plain", {"calls.view"}));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "on_helper", {}, "helper"));
  const UserId holder = NewUser(e, "portal@customer.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.client_a, holder, "portal"));
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, w.staff_member, "on_helper"));
  auto state = [&] {
    return test::Fingerprint(e) +
           RolesText(e, w.account, {"portal", "helper", "plain", "on_helper"});
  };
  // Out of the family.
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "portal", {}, "viewer"),
                            Code::kFailedPrecondition, "(M5, M6)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "portal", {"calls.view"}),
                            Code::kFailedPrecondition, "(M5, M6)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "portal", {}, "helper"),
                            Code::kFailedPrecondition, "(M5, M6)");
  // Into it, directly or through a role it inherits from (on_helper's
  // holder is staff: this would make a staff member a client).
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "plain", {}, "client"),
                            Code::kFailedPrecondition, "(M5, M6)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "helper", {}, "portal"),
                            Code::kFailedPrecondition, "(M5, M6)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(kSystem, w.account, "on_helper", {}, "client"),
                            Code::kFailedPrecondition, "(M5, M6)");
  // Staying in the family is fine.
  TNY_EXPECT_OK(e.define_role(kSystem, w.account, "portal", {"templates.view"}, "client"));
  EXPECT_TRUE(Can(e, holder, w.client_a, "templates.view"));
  EXPECT_FALSE(Can(e, holder, w.client_a, "calls.view"));
  TNY_EXPECT_OK(e.verify());
}

// ---- M10: who may define roles, and escalation through custom roles ----

TEST(Roles, M10_DefiningRolesNeedsManageStaff) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  auto state = [&] { return test::Fingerprint(e) + RolesText(e, w.account, {"support"}); };
  // Workspace owners and admins, staff members (admin in every workspace,
  // without account.*) and outsiders lack account.manage_staff.
  for (UserId actor : {w.ws_owner, w.ws_admin, w.staff_member, w.viewer, w.client, w.outsider,
                       UserId{0}, UserId{12345}}) {
    ROLES_EXPECT_REFUSED_SAME(
        state(), e.define_role(actor, w.account, "support", {"contacts.edit"}, "viewer"),
        Code::kPermissionDenied, "(M10)");
  }
  TNY_EXPECT_OK(e.define_role(w.acct_admin, w.account, "support", {"contacts.edit"}, "viewer"));
  TNY_EXPECT_OK(e.define_role(w.acct_owner, w.account, "support", {"contacts.tag"}, "viewer"));
  TNY_EXPECT_OK(e.define_role(kSystem, w.account, "support", {"contacts.view"}, "viewer"));
  // Redefinition is authorized the same way.
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(w.ws_admin, w.account, "support", {}, "admin"),
                            Code::kPermissionDenied, "(M10)");
  // Staff of another account cannot define roles here.
  const UserId other_owner = NewUser(e, "owner@other.test");
  TNY_ASSERT_OK(e.create_account(AccountNamed("Other", other_owner)));
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(other_owner, w.account, "support", {}, "admin"),
                            Code::kPermissionDenied, "(M10)");
}

TEST(Roles, M10_CannotGrantCustomRoleWithPermissionsTheActorLacks) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  // A recruiter may invite but holds no contacts.delete: no built-in role
  // has members.invite without every manager permission, so only a custom
  // role reaches this case.
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "recruiter", {"members.invite"}, "viewer"));
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "cleaner", {"contacts.delete"}, "viewer"));
  const UserId recruiter = NewUser(e, "recruiter@acme.test");
  const UserId hire = NewUser(e, "hire@acme.test");
  const UserId hire2 = NewUser(e, "hire2@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, recruiter, "recruiter"));
  ASSERT_TRUE(Can(e, recruiter, w.ops, "members.invite"));
  ASSERT_FALSE(Can(e, recruiter, w.ops, "contacts.delete"));
  auto state = [&] { return test::Fingerprint(e); };
  ROLES_EXPECT_REFUSED_SAME(state(), e.add_member(recruiter, w.ops, hire, "cleaner"),
                            Code::kPermissionDenied, "(M10)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.add_member(recruiter, w.ops, hire, "manager"),
                            Code::kPermissionDenied, "(M10)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.invite(recruiter, w.ops, "hire@acme.test", "cleaner"),
                            Code::kPermissionDenied, "(M10)");
  // Roles within what the recruiter holds are fine, custom ones included.
  TNY_EXPECT_OK(e.add_member(recruiter, w.ops, hire, "viewer"));
  TNY_EXPECT_OK(e.add_member(recruiter, w.ops, hire2, "recruiter"));
  // The check uses the resolved contents: once cleaner loses contacts.delete
  // the recruiter may grant it.
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "cleaner", {"members.invite"}, "viewer"));
  const UserId hire3 = NewUser(e, "hire3@acme.test");
  TNY_EXPECT_OK(e.add_member(recruiter, w.ops, hire3, "cleaner"));
  TNY_EXPECT_OK(e.verify());
}

// ---- M7: the catalog grows to at least 1,024 application names ----

TEST(Roles, M7_ThousandApplicationPermissionsInACustomRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  constexpr int kCount = 1024;
  std::vector<std::string> names;
  std::vector<PermissionId> ids;
  for (int i = 0; i < kCount; ++i) {
    names.push_back(absl::StrFormat("app%d.use_%04d", i % 7, i));
    TNY_ASSERT_OK_AND_ASSIGN(PermissionId id, e.register_permission(names.back()));
    ids.push_back(id);
  }
  // Ids are distinct, stable, and registering again is idempotent.
  EXPECT_EQ(std::set<PermissionId>(ids.begin(), ids.end()).size(), size_t{kCount});
  for (int i = 0; i < kCount; i += 97) {
    TNY_ASSERT_OK_AND_ASSIGN(PermissionId again, e.register_permission(names[i]));
    EXPECT_EQ(again, ids[i]);
    TNY_ASSERT_OK_AND_ASSIGN(PermissionId found, e.permission(names[i]));
    EXPECT_EQ(found, ids[i]);
  }
  // A role with every even-numbered name, on top of viewer.
  std::vector<std::string> even;
  for (int i = 0; i < kCount; i += 2) even.push_back(names[i]);
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "app_user", even, "viewer"));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms,
                           e.role_permissions(w.account, "app_user"));
  EXPECT_EQ(perms.size(), kViewer.size() + kCount / 2);
  const UserId holder = NewUser(e, "app@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, holder, "app_user"));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(e.check(holder, w.ops, ids[i]), i % 2 == 0) << names[i];
    EXPECT_FALSE(e.check(w.outsider, w.ops, ids[i])) << names[i];
    EXPECT_FALSE(e.check(holder, w.agency, ids[i])) << names[i];
  }
  // Built-ins still answer as before, for the holder and everyone else.
  for (const std::string& name : kViewer) EXPECT_TRUE(Can(e, holder, w.ops, name)) << name;
  EXPECT_FALSE(Can(e, holder, w.ops, "contacts.edit"));
  EXPECT_EQ(PermsOf(e, w.viewer, w.agency), kViewer);
  EXPECT_TRUE(Can(e, w.ws_owner, w.agency, "workspace.delete"));
  EXPECT_FALSE(Can(e, w.ws_owner, w.agency, names[0]));
  // The newest id explains, one past it denies.
  TNY_ASSERT_OK_AND_ASSIGN(Decision why, e.explain(holder, w.ops, ids[kCount - 2]));
  EXPECT_TRUE(why.allowed);
  EXPECT_EQ(why.role, "app_user");
  const PermissionId past = ids.back() + 1;
  EXPECT_FALSE(e.check(holder, w.ops, past));
  // Staff owners hold the built-in owner set, not application names.
  EXPECT_FALSE(e.check(w.acct_owner, w.ops, ids[0]));
  TNY_EXPECT_OK(e.verify());
}

// ---- M6: roles belong to one account ----

TEST(Roles, M6_RolesArePerAccount) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "support", {"contacts.edit"}, "viewer"));
  const UserId a_holder = NewUser(e, "support@acme.test");
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, a_holder, "support"));
  const UserId b_owner = NewUser(e, "owner@beta.test");
  const UserId b_user = NewUser(e, "user@beta.test");
  TNY_ASSERT_OK_AND_ASSIGN(AccountId beta,
                           e.create_account(AccountNamed("Beta", b_owner, Plan::Named("growth"))));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId b_ws, e.create_workspace(b_owner, beta, Named("Main")));
  auto state = [&] {
    return test::Fingerprint(e) + RolesText(e, beta, {"support"}) +
           RolesText(e, w.account, {"support"});
  };
  ROLES_EXPECT_REFUSED_SAME(state(), e.add_member(b_owner, b_ws, b_user, "support"),
                            Code::kInvalidArgument, "(M3)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.invite(b_owner, b_ws, "user@beta.test", "support"),
                            Code::kInvalidArgument, "(M3)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.create_team(b_owner, b_ws, "Support", "support"),
                            Code::kInvalidArgument, "(M3)");
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(b_owner, beta, "derived", {}, "support"),
                            Code::kInvalidArgument, "(M3)");
  TNY_EXPECT_REFUSED(e.role_permissions(beta, "support"), Code::kNotFound, "(M3, M6)");
  // Beta defines its own "support"; Acme's is untouched.
  TNY_ASSERT_OK(e.define_role(b_owner, beta, "support", {"billing.view"}));
  TNY_ASSERT_OK(e.add_member(b_owner, b_ws, b_user, "support"));
  EXPECT_EQ(PermsOf(e, b_user, b_ws), Perms{"billing.view"});
  EXPECT_EQ(PermsOf(e, a_holder, w.ops), Plus(kViewer, {"contacts.edit"}));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> perms,
                           e.role_permissions(w.account, "support"));
  EXPECT_EQ(perms, Sorted(Plus(kViewer, {"contacts.edit"})));
  // Acme's staff cannot define roles in Beta (A2, M10).
  ROLES_EXPECT_REFUSED_SAME(state(), e.define_role(w.acct_owner, beta, "support", {}, "owner"),
                            Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_OK(e.verify());
}

}  // namespace
}  // namespace tenantry
