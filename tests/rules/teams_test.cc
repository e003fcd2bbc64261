// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 2, teams (M9), with what they touch elsewhere: agency
// inheritance (A3), the one owner (M4), staff and clients (M5), explain and
// the lists (A4, A5), authorized changes (M10) and sessions (S1). Every
// refusal is checked for its exact code, a message naming the rule and for
// having changed nothing, teams included (section 10).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using test::Can;
using test::PermsOf;
using test::World;
using Code = absl::StatusCode;
using Perms = std::set<std::string>;

Perms Plus(Perms base, std::initializer_list<const char*> more) {
  for (const char* name : more) base.insert(name);
  return base;
}

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
const Perms kClient = {"workspace.view", "workspace.switch", "analytics.view",
                       "runs.view",      "runs.trigger",     "connections.rotate_own"};

// Every team of the World's workspaces, as text.
std::string TeamsText(const World& w) {
  std::string out;
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    absl::StatusOr<std::vector<TeamId>> ids = w.engine.teams(ws);
    if (!ids.ok()) {
      absl::StrAppend(&out, "workspace ", ws, " ", ids.status().ToString(), "\n");
      continue;
    }
    for (TeamId id : *ids) {
      absl::StatusOr<TeamInfo> team = w.engine.team(id);
      if (!team.ok()) {
        absl::StrAppend(&out, "team ", id, " ", team.status().ToString(), "\n");
        continue;
      }
      absl::StrAppend(&out, "team ", team->id, " ws=", team->workspace, " name=", team->name,
                      " role=", team->role, " members=", absl::StrJoin(team->members, ","), "\n");
    }
  }
  return out;
}

std::string State(const World& w) { return test::Fingerprint(w.engine) + TeamsText(w); }

// As TNY_EXPECT_REFUSED, and the World's state, teams included, is unchanged.
#define TEAMS_EXPECT_REFUSED_UNCHANGED(world, expr, want_code, want_rule) \
  do {                                                                    \
    const std::string teams_state_before = State(world);                  \
    TNY_EXPECT_REFUSED(expr, want_code, want_rule);                       \
    EXPECT_EQ(State(world), teams_state_before);                          \
  } while (false)

UserId NewUser(Engine& engine, const std::string& key) {
  absl::StatusOr<UserId> id = engine.create_user(key);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(0);
}

// ---- M9: what a team grants ----

TEST(Teams, M9_MembersGetTheTeamRoleInItsWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId sales, e.create_team(w.acct_owner, w.ops, "Sales", "manager"));
  const UserId ann = NewUser(e, "ann@acme.test");
  const UserId bob = NewUser(e, "bob@acme.test");
  TNY_ASSERT_OK(e.add_team_member(w.acct_owner, sales, bob));
  TNY_ASSERT_OK(e.add_team_member(w.acct_owner, sales, ann));
  EXPECT_EQ(PermsOf(e, ann, w.ops), kManager);
  EXPECT_EQ(PermsOf(e, bob, w.ops), kManager);
  // Only in that workspace (A2, T8).
  for (WorkspaceId other : {w.agency, w.client_a, w.client_b}) {
    EXPECT_EQ(PermsOf(e, ann, other), Perms{}) << other;
  }
  // A team role is no direct membership.
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, e.members(w.ops));
  for (const Member& m : members) EXPECT_NE(m.user, ann);
  TNY_ASSERT_OK_AND_ASSIGN(TeamInfo info, e.team(sales));
  EXPECT_EQ(info.id, sales);
  EXPECT_EQ(info.workspace, w.ops);
  EXPECT_EQ(info.name, "Sales");
  EXPECT_EQ(info.role, "manager");
  EXPECT_EQ(info.members, (std::vector<UserId>{std::min(ann, bob), std::max(ann, bob)}));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId support, e.create_team(w.acct_owner, w.ops, "Support", "viewer"));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<TeamId> ids, e.teams(w.ops));
  EXPECT_EQ(ids, (std::vector<TeamId>{sales, support}));
  TNY_ASSERT_OK_AND_ASSIGN(ids, e.teams(w.agency));
  EXPECT_EQ(ids, std::vector<TeamId>{});
  TNY_EXPECT_REFUSED(e.team(999), Code::kNotFound, "(M9)");
  TNY_EXPECT_REFUSED(e.teams(999), Code::kNotFound, "(M9)");
  TNY_EXPECT_OK(e.verify());
}

TEST(Teams, A1_TeamAndDirectRolesAddUp) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Leads", "manager"));
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, w.viewer));
  EXPECT_EQ(PermsOf(e, w.viewer, w.agency), kManager);
  TNY_ASSERT_OK(e.remove_team_member(kSystem, team, w.viewer));
  EXPECT_EQ(PermsOf(e, w.viewer, w.agency), kViewer);
}

TEST(Teams, A3_TeamRoleInAgencyAppliesInSubWorkspacesExceptClient) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId staff_team, e.create_team(kSystem, w.agency, "Crew", "member"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId client_team,
                           e.create_team(kSystem, w.agency, "Customers", "client"));
  const UserId crew = NewUser(e, "crew@acme.test");
  const UserId customer = NewUser(e, "customer@customer.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, staff_team, crew));
  TNY_ASSERT_OK(e.add_team_member(kSystem, client_team, customer));
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b}) {
    EXPECT_EQ(PermsOf(e, crew, ws), kMember) << ws;
  }
  EXPECT_EQ(PermsOf(e, customer, w.agency), kClient);
  EXPECT_EQ(PermsOf(e, customer, w.client_a), Perms{});
  EXPECT_EQ(PermsOf(e, customer, w.client_b), Perms{});
  EXPECT_EQ(PermsOf(e, crew, w.ops), Perms{});
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId run, e.permission("campaigns.run"));
  TNY_ASSERT_OK_AND_ASSIGN(Decision why, e.explain(crew, w.client_a, run));
  EXPECT_TRUE(why.allowed);
  EXPECT_EQ(why.path, AccessPath::kInherited);
  EXPECT_EQ(why.via_workspace, w.agency);
  EXPECT_EQ(why.role, "member");
}

TEST(Teams, M9_RemovingAMemberTakesEffectAtOnce) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Crew", "manager"));
  const UserId ann = NewUser(e, "ann@acme.test");
  const UserId bob = NewUser(e, "bob@acme.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, ann));
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, bob));
  const uint64_t before = e.revision();
  TNY_ASSERT_OK(e.remove_team_member(w.ws_admin, team, ann));
  EXPECT_EQ(e.revision(), before + 1);
  EXPECT_EQ(PermsOf(e, ann, w.agency), Perms{});
  EXPECT_EQ(PermsOf(e, ann, w.client_a), Perms{});
  EXPECT_EQ(PermsOf(e, bob, w.agency), kManager);
  TNY_ASSERT_OK_AND_ASSIGN(TeamInfo info, e.team(team));
  EXPECT_EQ(info.members, std::vector<UserId>{bob});
  TNY_EXPECT_OK(e.verify());
}

TEST(Teams, M9_DeletingATeamTakesEffectAtOnce) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Crew", "manager"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId other, e.create_team(kSystem, w.agency, "Other", "viewer"));
  const UserId ann = NewUser(e, "ann@acme.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, ann));
  TNY_ASSERT_OK(e.add_team_member(kSystem, other, w.outsider));
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, w.viewer));
  const uint64_t before = e.revision();
  TNY_ASSERT_OK(e.delete_team(w.ws_admin, team));
  EXPECT_EQ(e.revision(), before + 1);
  EXPECT_EQ(PermsOf(e, ann, w.agency), Perms{});
  EXPECT_EQ(PermsOf(e, ann, w.client_b), Perms{});
  EXPECT_EQ(PermsOf(e, w.viewer, w.agency), kViewer);    // the direct role stays
  EXPECT_EQ(PermsOf(e, w.outsider, w.agency), kViewer);  // other teams stay
  TNY_EXPECT_REFUSED(e.team(team), Code::kNotFound, "(M9)");
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<TeamId> ids, e.teams(w.agency));
  EXPECT_EQ(ids, std::vector<TeamId>{other});
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.delete_team(w.ws_admin, team), Code::kNotFound, "(M9)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_team_member(kSystem, team, ann), Code::kNotFound, "(M9)");
  // The name is free again.
  TNY_EXPECT_OK(e.create_team(kSystem, w.agency, "Crew", "viewer"));
  TNY_EXPECT_OK(e.verify());
}

TEST(Teams, M9_ChangingTheTeamRoleTakesEffectAtOnce) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.ops, "Crew", "viewer"));
  std::vector<UserId> crew;
  for (int i = 0; i < 10; ++i) {
    crew.push_back(NewUser(e, absl::StrCat("crew", i, "@acme.test")));
    TNY_ASSERT_OK(e.add_team_member(kSystem, team, crew.back()));
  }
  const uint64_t before = e.revision();
  TNY_ASSERT_OK(e.set_team_role(w.acct_owner, team, "manager"));
  EXPECT_EQ(e.revision(), before + 1);
  for (UserId u : crew) EXPECT_EQ(PermsOf(e, u, w.ops), kManager) << u;
  TNY_ASSERT_OK_AND_ASSIGN(TeamInfo info, e.team(team));
  EXPECT_EQ(info.role, "manager");
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "caller", {"calls.view"}, "viewer"));
  TNY_ASSERT_OK(e.set_team_role(w.acct_owner, team, "caller"));
  for (UserId u : crew) EXPECT_EQ(PermsOf(e, u, w.ops), Plus(kViewer, {"calls.view"})) << u;
  TNY_EXPECT_OK(e.verify());
}

// ---- M9: refusals ----

TEST(Teams, M9_TeamNameIsUniqueInItsWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.create_team(kSystem, w.agency, "Sales", "viewer"));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(kSystem, w.agency, "Sales", "member"),
                                 Code::kAlreadyExists, "(M9)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(w.ws_admin, w.agency, "  Sales ", "viewer"),
                                 Code::kAlreadyExists, "(M9)");
  for (const std::string& bad : {std::string(), std::string("   "), std::string(101, 'n')}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(kSystem, w.agency, bad, "viewer"),
                                   Code::kInvalidArgument, "(T3)");
  }
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(kSystem, w.agency, "Ghosts", "ghost"),
                                 Code::kInvalidArgument, "(M3)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(kSystem, 999, "Sales", "viewer"), Code::kNotFound,
                                 "(M9)");
  // The same name in another workspace, even a sub-workspace, is fine.
  TNY_EXPECT_OK(e.create_team(kSystem, w.client_a, "Sales", "viewer"));
  TNY_EXPECT_OK(e.create_team(kSystem, w.ops, "Sales", "viewer"));
}

TEST(Teams, M4_TeamCannotHoldTheOwnerRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  for (UserId actor : {kSystem, w.ws_owner}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(actor, w.agency, "Owners", "owner"),
                                   Code::kFailedPrecondition, "(M4, M9)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Admins", "admin"));
  for (UserId actor : {kSystem, w.ws_owner}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.set_team_role(actor, team, "owner"),
                                   Code::kFailedPrecondition, "(M4, M9)");
  }
}

TEST(Teams, M5_ClientTeamsAndStaffNeverMix) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId clients, e.create_team(kSystem, w.client_b, "Portal", "client"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId viewers, e.create_team(kSystem, w.client_b, "Viewers", "viewer"));
  // A staff member cannot join a client team.
  for (UserId staff : {w.staff_member, w.acct_admin, w.acct_owner}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_team_member(kSystem, clients, staff),
                                   Code::kFailedPrecondition, "(M5)");
  }
  // A team holding a staff member cannot become a client team.
  TNY_ASSERT_OK(e.add_team_member(kSystem, viewers, w.staff_member));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.set_team_role(kSystem, viewers, "client"),
                                 Code::kFailedPrecondition, "(M5)");
  // A client through a team cannot become staff, directly or by invitation.
  const UserId customer = NewUser(e, "customer@customer.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, clients, customer));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_staff(kSystem, w.account, customer, "member"),
                                 Code::kFailedPrecondition, "(M5)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(
      w, e.invite_staff(w.acct_owner, w.account, "Customer@Customer.test", "member"),
      Code::kFailedPrecondition, "(M5)");
  // Out of the client team, the same user may become staff.
  TNY_ASSERT_OK(e.remove_team_member(customer, clients, customer));
  TNY_EXPECT_OK(e.add_staff(kSystem, w.account, customer, "member"));
  TNY_EXPECT_OK(e.verify());
}

// ---- A4, A5: explain and the lists see teams ----

TEST(Teams, A4_ExplainReportsTheTeamPath) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.ops, "Editors", "manager"));
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, w.outsider));
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId edit, e.permission("contacts.edit"));
  TNY_ASSERT_OK_AND_ASSIGN(Decision why, e.explain(w.outsider, w.ops, edit));
  EXPECT_TRUE(why.allowed);
  EXPECT_EQ(why.path, AccessPath::kTeam);
  EXPECT_EQ(why.via_team, team);
  EXPECT_EQ(why.via_workspace, w.ops);
  EXPECT_EQ(why.role, "manager");
  EXPECT_THAT(why.reason, ::testing::HasSubstr("(M9)"));
  // What the team role lacks is denied, and explained as such.
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId invite, e.permission("members.invite"));
  TNY_ASSERT_OK_AND_ASSIGN(why, e.explain(w.outsider, w.ops, invite));
  EXPECT_FALSE(why.allowed);
  EXPECT_EQ(why.path, AccessPath::kNone);
  EXPECT_EQ(why.via_team, 0u);
  EXPECT_EQ(e.check(w.outsider, w.ops, invite), why.allowed);
}

TEST(Teams, A5_ListsIncludeTeamMembers) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.ops, "Editors", "manager"));
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, w.outsider));
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId edit, e.permission("contacts.edit"));
  std::vector<UserId> who = e.who_can(w.ops, edit);
  EXPECT_NE(std::find(who.begin(), who.end(), w.outsider), who.end());
  // Team members of an agency reach its sub-workspaces' lists too.
  TNY_ASSERT_OK_AND_ASSIGN(TeamId crew, e.create_team(kSystem, w.agency, "Crew", "manager"));
  const UserId ann = NewUser(e, "ann@acme.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, crew, ann));
  who = e.who_can(w.client_a, edit);
  EXPECT_NE(std::find(who.begin(), who.end(), ann), who.end());
  EXPECT_EQ(e.accessible(ann, edit), (std::vector<WorkspaceId>{w.agency, w.client_a, w.client_b}));
  EXPECT_EQ(e.workspaces_for(w.outsider), std::vector<WorkspaceId>{w.ops});
  // Removing the member removes them from the lists.
  TNY_ASSERT_OK(e.remove_team_member(kSystem, team, w.outsider));
  who = e.who_can(w.ops, edit);
  EXPECT_EQ(std::find(who.begin(), who.end(), w.outsider), who.end());
  EXPECT_EQ(e.workspaces_for(w.outsider), std::vector<WorkspaceId>{});
}

// ---- M10: who may change teams ----

TEST(Teams, M10_CreatingDeletingAndRetypingTeamsNeedsChangeRole) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Crew", "viewer"));
  for (UserId actor : {w.manager, w.member, w.viewer, w.client, w.outsider}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(actor, w.agency, "Mine", "viewer"),
                                   Code::kPermissionDenied, "(M10)");
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.set_team_role(actor, team, "member"),
                                   Code::kPermissionDenied, "(M10)");
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.delete_team(actor, team), Code::kPermissionDenied, "(M10)");
  }
  // No escalation: a role the actor does not hold in full is refused.
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "biller", {"billing.manage"}, "viewer"));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.create_team(w.ws_admin, w.agency, "Billing", "biller"),
                                 Code::kPermissionDenied, "(M10)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.set_team_role(w.ws_admin, team, "biller"),
                                 Code::kPermissionDenied, "(M10)");
  TNY_ASSERT_OK_AND_ASSIGN(TeamId billing,
                           e.create_team(w.ws_owner, w.agency, "Billing", "biller"));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.delete_team(w.ws_admin, billing), Code::kPermissionDenied,
                                 "(M10)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.set_team_role(w.ws_admin, billing, "viewer"),
                                 Code::kPermissionDenied, "(M10)");
  // An admin may do all of it within what it holds.
  TNY_ASSERT_OK_AND_ASSIGN(TeamId mine, e.create_team(w.ws_admin, w.agency, "Mine", "manager"));
  TNY_EXPECT_OK(e.set_team_role(w.ws_admin, mine, "admin"));
  TNY_EXPECT_OK(e.delete_team(w.ws_admin, mine));
  TNY_EXPECT_OK(e.delete_team(w.ws_owner, billing));
  // Staff in scope act as their grant role.
  TNY_EXPECT_OK(e.create_team(w.staff_member, w.ops, "Staffed", "member"));
}

TEST(Teams, M10_AddingNeedsInviteRemovingNeedsRemoveLeavingIsFree) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Crew", "viewer"));
  const UserId ann = NewUser(e, "ann@acme.test");
  const UserId bob = NewUser(e, "bob@acme.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, bob));
  for (UserId actor : {w.manager, w.member, w.viewer, w.outsider, bob}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_team_member(actor, team, ann), Code::kPermissionDenied,
                                   "(M10)");
  }
  for (UserId actor : {w.manager, w.member, w.viewer, w.outsider}) {
    TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.remove_team_member(actor, team, bob),
                                   Code::kPermissionDenied, "(M10)");
  }
  TNY_ASSERT_OK(e.add_team_member(w.ws_admin, team, ann));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_team_member(w.ws_admin, team, ann), Code::kAlreadyExists,
                                 "(M9)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_team_member(w.ws_admin, team, 99999), Code::kNotFound,
                                 "(M9)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.remove_team_member(w.ws_admin, team, w.outsider),
                                 Code::kNotFound, "(M9)");
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.remove_team_member(w.ws_admin, 999, ann), Code::kNotFound,
                                 "(M9)");
  // Anyone may leave a team themself, without members.remove.
  TNY_EXPECT_OK(e.remove_team_member(bob, team, bob));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.remove_team_member(bob, team, bob), Code::kNotFound, "(M9)");
  TNY_EXPECT_OK(e.remove_team_member(w.ws_admin, team, ann));
  TNY_ASSERT_OK_AND_ASSIGN(TeamInfo info, e.team(team));
  EXPECT_EQ(info.members, std::vector<UserId>{});
  // No escalation: an admin cannot add to (or remove from) a team whose role
  // holds more than the admin does.
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "biller", {"billing.manage"}, "viewer"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId billing, e.create_team(kSystem, w.agency, "Billing", "biller"));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.add_team_member(w.ws_admin, billing, ann),
                                 Code::kPermissionDenied, "(M10)");
  TNY_ASSERT_OK(e.add_team_member(w.ws_owner, billing, ann));
  TEAMS_EXPECT_REFUSED_UNCHANGED(w, e.remove_team_member(w.ws_admin, billing, ann),
                                 Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_OK(e.remove_team_member(ann, billing, ann));
}

// ---- S1: losing switch through a team ends the session ----

TEST(Teams, S1_LosingSwitchThroughATeamClearsTheActiveWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.define_role(kSystem, w.account, "silent", {"contacts.view"}));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.ops, "Crew", "viewer"));
  const UserId ann = NewUser(e, "ann@acme.test");
  const UserId bob = NewUser(e, "bob@acme.test");
  const UserId cid = NewUser(e, "cid@acme.test");
  for (UserId u : {ann, bob, cid, w.viewer}) TNY_ASSERT_OK(e.add_team_member(kSystem, team, u));
  for (UserId u : {ann, bob, cid}) TNY_ASSERT_OK(e.switch_workspace(u, w.ops));
  TNY_ASSERT_OK(e.switch_workspace(w.viewer, w.agency));
  // Removal.
  TNY_ASSERT_OK(e.remove_team_member(kSystem, team, ann));
  EXPECT_EQ(e.active_workspace(ann), std::nullopt);
  EXPECT_EQ(e.active_workspace(bob), std::optional<WorkspaceId>(w.ops));
  // A role without workspace.switch.
  TNY_ASSERT_OK(e.set_team_role(kSystem, team, "silent"));
  EXPECT_EQ(e.active_workspace(bob), std::nullopt);
  EXPECT_EQ(e.active_workspace(cid), std::nullopt);
  TNY_ASSERT_OK(e.set_team_role(kSystem, team, "viewer"));
  EXPECT_EQ(e.active_workspace(bob), std::nullopt);  // regaining access does not restore it
  TNY_ASSERT_OK(e.switch_workspace(bob, w.ops));
  // Deletion of the team.
  TNY_ASSERT_OK(e.delete_team(kSystem, team));
  EXPECT_EQ(e.active_workspace(bob), std::nullopt);
  TNY_EXPECT_REFUSED(e.switch_workspace(bob, w.ops), Code::kPermissionDenied, "(S1)");
  // Sessions elsewhere are untouched.
  EXPECT_EQ(e.active_workspace(w.viewer), std::optional<WorkspaceId>(w.agency));
  TNY_EXPECT_OK(e.verify());
}

TEST(Teams, S1_DirectRoleKeepsTheSessionWhenTheTeamGoes) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK_AND_ASSIGN(TeamId team, e.create_team(kSystem, w.agency, "Crew", "manager"));
  TNY_ASSERT_OK(e.add_team_member(kSystem, team, w.viewer));
  TNY_ASSERT_OK(e.switch_workspace(w.viewer, w.client_a));
  TNY_ASSERT_OK(e.delete_team(kSystem, team));
  EXPECT_EQ(e.active_workspace(w.viewer), std::optional<WorkspaceId>(w.client_a));
  TNY_EXPECT_OK(e.verify());
}

}  // namespace
}  // namespace tenantry
