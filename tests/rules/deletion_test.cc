// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 1, deleting a workspace (T7): confirmation, the cascade to
// sub-workspaces and everything scoped to them, the only-workspace and
// own-active-workspace refusals, authorization (M10), the freed slug (T3),
// ids never reused, staff scopes, and independence of the rest (T8). Every
// refusal is checked for its exact code, a message naming the rule and for
// having changed nothing (section 10).
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

using test::AccountNamed;
using test::Can;
using test::Named;
using test::PermsOf;
using test::World;
using Code = absl::StatusCode;
using Perms = std::set<std::string>;

// The teams and invitations of the World's workspaces, as text.
std::string ScopedText(const World& w) {
  std::string out;
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    absl::StatusOr<std::vector<TeamId>> teams = w.engine.teams(ws);
    absl::StrAppend(&out, "teams ", ws, ": ",
                    teams.ok() ? absl::StrJoin(*teams, ",") : teams.status().ToString(), "\n");
    absl::StatusOr<std::vector<InvitationInfo>> invitations = w.engine.invitations(ws);
    if (!invitations.ok()) continue;
    for (const InvitationInfo& i : *invitations) {
      absl::StrAppend(&out, "invitation ", i.id, " ", i.email, " ", i.role, " ", i.state, "\n");
    }
  }
  return out;
}

std::string State(const World& w) { return test::Fingerprint(w.engine) + ScopedText(w); }

#define DELETION_EXPECT_REFUSED_UNCHANGED(world, expr, want_code, want_rule) \
  do {                                                                       \
    const std::string deletion_state_before = State(world);                  \
    TNY_EXPECT_REFUSED(expr, want_code, want_rule);                          \
    EXPECT_EQ(State(world), deletion_state_before);                          \
  } while (false)

UserId NewUser(Engine& engine, const std::string& key) {
  absl::StatusOr<UserId> id = engine.create_user(key);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(0);
}

// ---- T7: confirmation ----

TEST(Deletion, T7_ConfirmationMustBeTheExactName) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  for (const char* wrong :
       {"agency", "AGENCY", "Agency ", " Agency", "Agenc", "", "Agency\n", "Client A"}) {
    SCOPED_TRACE(wrong);
    DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(w.ws_owner, w.agency, wrong),
                                      Code::kInvalidArgument, "(T7)");
  }
  DELETION_EXPECT_REFUSED_UNCHANGED(
      w, e.delete_workspace(w.ws_owner, w.agency, std::string(5000, 'A')), Code::kInvalidArgument,
      "(T7)");
  // After a rename, the new name is the confirmation.
  TNY_ASSERT_OK(e.rename_workspace(w.ws_owner, w.client_b, "Beta Client"));
  DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(w.ws_owner, w.client_b, "Client B"),
                                    Code::kInvalidArgument, "(T7)");
  TNY_EXPECT_OK(e.delete_workspace(w.ws_owner, w.client_b, "Beta Client"));
  TNY_EXPECT_OK(e.delete_workspace(w.ws_owner, w.agency, "Agency"));
  TNY_EXPECT_OK(e.verify());
}

TEST(Deletion, T7_UnknownWorkspaceIsNotFound) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  DELETION_EXPECT_REFUSED_UNCHANGED(w, w.engine.delete_workspace(kSystem, 999, "Agency"),
                                    Code::kNotFound, "(T7)");
  TNY_ASSERT_OK(w.engine.delete_workspace(kSystem, w.client_a, "Client A"));
  DELETION_EXPECT_REFUSED_UNCHANGED(w, w.engine.delete_workspace(kSystem, w.client_a, "Client A"),
                                    Code::kNotFound, "(T7)");
}

// ---- T7: the cascade ----

TEST(Deletion, T7_CascadesToSubWorkspacesAndEverythingScopedToThem) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  // Teams, invitations, sessions and settings in the doomed subtree.
  TNY_ASSERT_OK_AND_ASSIGN(TeamId crew, e.create_team(kSystem, w.agency, "Crew", "manager"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId portal, e.create_team(kSystem, w.client_a, "Portal", "client"));
  const UserId ann = NewUser(e, "ann@acme.test");
  const UserId cus = NewUser(e, "cus@customer.test");
  const UserId newcomer = NewUser(e, "newcomer@customer.test");
  TNY_ASSERT_OK(e.add_team_member(kSystem, crew, ann));
  TNY_ASSERT_OK(e.add_team_member(kSystem, portal, cus));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           e.invite(w.ws_owner, w.client_b, "newcomer@customer.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv_agency,
                           e.invite(w.ws_owner, w.agency, "other@customer.test", "viewer"));
  TNY_ASSERT_OK(e.set_setting(kSystem, w.client_a, "approval_timeout_s", int64_t{600}));
  TNY_ASSERT_OK(e.switch_workspace(w.viewer, w.agency));
  TNY_ASSERT_OK(e.switch_workspace(w.client, w.client_a));
  TNY_ASSERT_OK(e.switch_workspace(ann, w.client_b));
  TNY_ASSERT_OK(e.switch_workspace(w.acct_owner, w.ops));
  // In Ops, which stays: a member, a team and an invitation.
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, w.member, "viewer"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId ops_team, e.create_team(kSystem, w.ops, "Ops crew", "viewer"));
  TNY_ASSERT_OK(e.add_team_member(kSystem, ops_team, ann));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation ops_inv, e.invite(kSystem, w.ops, "keeper@acme.test"));
  const std::string ops_before = test::WorkspaceFingerprint(e, w.ops);
  // Memberships of the subtree: agency (ws_owner, ws_admin, manager, member,
  // viewer), Client A (ws_owner, client), Client B (ws_owner).
  const uint64_t memberships = e.stats().memberships;
  const uint64_t workspaces = e.stats().workspaces;
  const uint64_t before = e.revision();

  TNY_ASSERT_OK(e.delete_workspace(w.acct_owner, w.agency, "Agency"));
  EXPECT_EQ(e.revision(), before + 1);
  for (WorkspaceId gone : {w.agency, w.client_a, w.client_b}) {
    SCOPED_TRACE(gone);
    TNY_EXPECT_REFUSED(e.workspace(gone), Code::kNotFound, "unknown workspace");
    TNY_EXPECT_REFUSED(e.settings(gone), Code::kNotFound, "unknown workspace");
    TNY_EXPECT_REFUSED(e.members(gone), Code::kNotFound, "unknown workspace");
    TNY_EXPECT_REFUSED(e.teams(gone), Code::kNotFound, "unknown workspace");
    TNY_EXPECT_REFUSED(e.invitations(gone), Code::kNotFound, "unknown workspace");
    for (UserId u : {w.ws_owner, w.ws_admin, w.manager, w.member, w.viewer, w.client, ann, cus,
                     w.acct_owner, w.acct_admin, w.staff_member}) {
      EXPECT_EQ(PermsOf(e, u, gone), Perms{}) << u;
    }
  }
  EXPECT_EQ(e.stats().workspaces, workspaces - 3);
  EXPECT_EQ(e.stats().memberships, memberships - 8);
  // Teams and invitations are gone; their tokens stop working.
  TNY_EXPECT_REFUSED(e.team(crew), Code::kNotFound, "(M9)");
  TNY_EXPECT_REFUSED(e.team(portal), Code::kNotFound, "(M9)");
  TNY_EXPECT_REFUSED(e.invitation(inv.id), Code::kNotFound, "(I1)");
  TNY_EXPECT_REFUSED(e.invitation(inv_agency.id), Code::kNotFound, "(I1)");
  TNY_EXPECT_REFUSED(e.accept(inv.token, newcomer), Code::kNotFound, "(I1, I2)");
  // Sessions in the subtree are cleared; the others stay.
  EXPECT_EQ(e.active_workspace(w.viewer), std::nullopt);
  EXPECT_EQ(e.active_workspace(w.client), std::nullopt);
  EXPECT_EQ(e.active_workspace(ann), std::nullopt);
  EXPECT_EQ(e.active_workspace(w.acct_owner), std::optional<WorkspaceId>(w.ops));
  // Users lost their workspaces, and nothing more.
  EXPECT_EQ(e.workspaces_for(w.viewer), std::vector<WorkspaceId>{});
  EXPECT_EQ(e.workspaces_for(w.member), std::vector<WorkspaceId>{w.ops});
  EXPECT_EQ(e.workspaces_for(ann), std::vector<WorkspaceId>{w.ops});
  // The rest of the account is untouched (T8): Ops as before, its team and invitation too.
  EXPECT_EQ(test::WorkspaceFingerprint(e, w.ops), ops_before);
  TNY_ASSERT_OK_AND_ASSIGN(TeamInfo ops_info, e.team(ops_team));
  EXPECT_EQ(ops_info.members, std::vector<UserId>{ann});
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo ops_inv_info, e.invitation(ops_inv.id));
  EXPECT_EQ(ops_inv_info.state, "pending");
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo account, e.account(w.account));
  EXPECT_EQ(account.workspace_count, 1);
  // The users themselves remain.
  EXPECT_EQ(e.user("viewer@acme.test").value_or(0), w.viewer);
  TNY_EXPECT_OK(e.verify());
  // A former client may become staff now (M5 looks at live memberships).
  TNY_EXPECT_OK(e.add_staff(kSystem, w.account, cus, "member"));
  TNY_EXPECT_OK(e.verify());
}

TEST(Deletion, T7_DeletingASubWorkspaceLeavesItsAgency) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  const uint64_t memberships = e.stats().memberships;
  TNY_ASSERT_OK(e.delete_workspace(w.ws_owner, w.client_a, "Client A"));
  TNY_EXPECT_REFUSED(e.workspace(w.client_a), Code::kNotFound, "unknown workspace");
  EXPECT_EQ(e.stats().memberships, memberships - 2);
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo agency, e.workspace(w.agency));
  EXPECT_EQ(agency.name, "Agency");
  EXPECT_TRUE(Can(e, w.manager, w.client_b, "contacts.edit"));  // A3 still holds
  EXPECT_EQ(PermsOf(e, w.client, w.client_a), Perms{});
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId view, e.permission("workspace.view"));
  std::vector<WorkspaceId> seen = e.accessible(w.manager, view);
  EXPECT_EQ(seen, (std::vector<WorkspaceId>{w.agency, w.client_b}));
  TNY_EXPECT_OK(e.verify());
}

// ---- T7: what cannot be deleted ----

TEST(Deletion, T7_TheAccountsOnlyWorkspaceCannotBeDeleted) {
  Engine e;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, e.create_user("owner@solo.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId solo, e.create_account(AccountNamed("Solo", owner)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId only, e.create_workspace(owner, solo, Named("Only")));
  for (UserId actor : {owner, kSystem}) {
    TNY_EXPECT_REFUSED_UNCHANGED(e, e.delete_workspace(actor, only, "Only"),
                                 Code::kFailedPrecondition, "(T7)");
  }
  // Another account's workspaces do not count.
  TNY_ASSERT_OK_AND_ASSIGN(UserId other_owner, e.create_user("owner@other.test"));
  TNY_ASSERT_OK_AND_ASSIGN(
      AccountId other, e.create_account(AccountNamed("Other", other_owner, Plan::Named("growth"))));
  TNY_ASSERT_OK(e.create_workspace(other_owner, other, Named("One")));
  TNY_ASSERT_OK(e.create_workspace(other_owner, other, Named("Two")));
  TNY_EXPECT_REFUSED_UNCHANGED(e, e.delete_workspace(owner, only, "Only"),
                               Code::kFailedPrecondition, "(T7)");
}

TEST(Deletion, T7_AnAgencyWhoseSubtreeIsTheWholeAccountCannotBeDeleted) {
  Engine e;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, e.create_user("owner@agency.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, e.create_account(AccountNamed(
                                                  "Agency Co", owner, Plan::Named("enterprise"))));
  WorkspaceSpec spec = Named("Agency");
  spec.type = WorkspaceType::kAgency;
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId agency, e.create_workspace(owner, account, spec));
  spec = Named("Inner");
  spec.type = WorkspaceType::kAgency;
  spec.parent = agency;
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId inner, e.create_workspace(owner, account, spec));
  WorkspaceSpec leaf = Named("Leaf");
  leaf.parent = inner;
  TNY_ASSERT_OK(e.create_workspace(owner, account, leaf));
  leaf = Named("Side");
  leaf.parent = agency;
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId side, e.create_workspace(owner, account, leaf));
  TNY_EXPECT_REFUSED_UNCHANGED(e, e.delete_workspace(owner, agency, "Agency"),
                               Code::kFailedPrecondition, "(T7)");
  TNY_EXPECT_REFUSED_UNCHANGED(e, e.delete_workspace(kSystem, agency, "Agency"),
                               Code::kFailedPrecondition, "(T7)");
  // Part of the subtree may go; the root stays refused.
  TNY_ASSERT_OK(e.delete_workspace(owner, side, "Side"));
  TNY_ASSERT_OK(e.delete_workspace(owner, inner, "Inner"));
  EXPECT_EQ(e.stats().workspaces, 1u);
  TNY_EXPECT_REFUSED_UNCHANGED(e, e.delete_workspace(owner, agency, "Agency"),
                               Code::kFailedPrecondition, "(T7)");
  TNY_EXPECT_OK(e.verify());
}

TEST(Deletion, T7_TheCallersOwnActiveWorkspaceCannotBeDeleted) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  TNY_ASSERT_OK(e.switch_workspace(w.acct_owner, w.ops));
  DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(w.acct_owner, w.ops, "Ops"),
                                    Code::kFailedPrecondition, "(T7)");
  // Nor an ancestor of it.
  TNY_ASSERT_OK(e.switch_workspace(w.ws_owner, w.client_a));
  DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(w.ws_owner, w.agency, "Agency"),
                                    Code::kFailedPrecondition, "(T7)");
  TNY_ASSERT_OK(e.switch_workspace(w.acct_owner, w.client_b));
  DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(w.acct_owner, w.agency, "Agency"),
                                    Code::kFailedPrecondition, "(T7)");
  // Another user's active workspace does not block; it is cleared (S1).
  TNY_ASSERT_OK(e.switch_workspace(w.acct_owner, w.ops));
  TNY_ASSERT_OK(e.switch_workspace(w.viewer, w.agency));
  TNY_ASSERT_OK(e.delete_workspace(w.acct_owner, w.client_b, "Client B"));
  // Switched away, the caller may delete.
  TNY_ASSERT_OK(e.add_member(kSystem, w.ops, w.ws_owner, "viewer"));
  TNY_ASSERT_OK(e.switch_workspace(w.ws_owner, w.ops));
  TNY_EXPECT_OK(e.delete_workspace(w.ws_owner, w.agency, "Agency"));
  EXPECT_EQ(e.active_workspace(w.viewer), std::nullopt);
  EXPECT_EQ(e.active_workspace(w.ws_owner), std::optional<WorkspaceId>(w.ops));
  TNY_EXPECT_OK(e.verify());
}

// ---- M10: who may delete ----

TEST(Deletion, M10_DeletingNeedsWorkspaceDelete) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  // Workspace admins and account admins (admin in every workspace) lack
  // workspace.delete, as does everyone below them.
  for (UserId actor : {w.ws_admin, w.acct_admin, w.staff_member, w.manager, w.member, w.viewer,
                       w.client, w.outsider, UserId{0}}) {
    SCOPED_TRACE(actor);
    DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(actor, w.client_a, "Client A"),
                                      Code::kPermissionDenied, "(M10)");
  }
  ASSERT_FALSE(Can(e, w.acct_admin, w.ops, "workspace.delete"));
  // The workspace owner holds it (inherited from the agency for its clients).
  TNY_EXPECT_OK(e.delete_workspace(w.ws_owner, w.client_a, "Client A"));
  // The account owner holds it everywhere.
  TNY_EXPECT_OK(e.delete_workspace(w.acct_owner, w.client_b, "Client B"));
  // An owner of another account does not.
  TNY_ASSERT_OK_AND_ASSIGN(UserId stranger, e.create_user("owner@other.test"));
  TNY_ASSERT_OK(e.create_account(AccountNamed("Other", stranger)));
  DELETION_EXPECT_REFUSED_UNCHANGED(w, e.delete_workspace(stranger, w.ops, "Ops"),
                                    Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_OK(e.delete_workspace(kSystem, w.ops, "Ops"));
  TNY_EXPECT_OK(e.verify());
}

// ---- T3, T7: slugs are freed, ids are not ----

TEST(Deletion, T3_SlugIsFreedAndIdsAreNeverReused) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  EXPECT_FALSE(e.slug_available(w.account, "agency"));
  EXPECT_FALSE(e.slug_available(w.account, "client-a"));
  TNY_ASSERT_OK(e.delete_workspace(w.acct_owner, w.agency, "Agency"));
  EXPECT_TRUE(e.slug_available(w.account, "agency"));
  EXPECT_TRUE(e.slug_available(w.account, "client-a"));
  EXPECT_FALSE(e.slug_available(w.account, "ops"));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId again,
                           e.create_workspace(w.acct_owner, w.account, Named("Agency")));
  const WorkspaceId highest = std::max({w.agency, w.client_a, w.client_b, w.ops});
  EXPECT_GT(again, highest);
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, e.workspace(again));
  EXPECT_EQ(info.slug, "agency");
  // The old id stays unknown; nobody's old role comes back.
  TNY_EXPECT_REFUSED(e.workspace(w.agency), Code::kNotFound, "unknown workspace");
  EXPECT_EQ(PermsOf(e, w.manager, again), Perms{});
  // Teams and invitations get fresh ids too.
  TNY_ASSERT_OK_AND_ASSIGN(TeamId t1, e.create_team(kSystem, again, "Crew", "viewer"));
  TNY_ASSERT_OK(e.delete_workspace(w.acct_owner, again, "Agency"));
  TNY_ASSERT_OK_AND_ASSIGN(TeamId t2, e.create_team(kSystem, w.ops, "Crew", "viewer"));
  EXPECT_GT(t2, t1);
  TNY_EXPECT_OK(e.verify());
}

// ---- M2, T7: staff scopes forget deleted workspaces ----

TEST(Deletion, M2_StaffScopesForgetDeletedWorkspaces) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  const UserId scoped = NewUser(e, "scoped@acme.test");
  TNY_ASSERT_OK(e.add_staff(kSystem, w.account, scoped, "member",
                            StaffScope::Of({w.ops, w.client_a, w.agency})));
  TNY_ASSERT_OK(
      e.set_staff_scope(kSystem, w.account, w.staff_member, StaffScope::Of({w.client_b})));
  // A pending staff invitation whose scope lists a doomed workspace.
  const UserId hire = NewUser(e, "hire@acme.test");
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           e.invite_staff(w.acct_owner, w.account, "hire@acme.test", "member",
                                          StaffScope::Of({w.client_a, w.ops})));
  TNY_ASSERT_OK(e.delete_workspace(w.acct_owner, w.agency, "Agency"));
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, e.staff(w.account, scoped));
  EXPECT_FALSE(staff.second.all);
  EXPECT_EQ(staff.second.workspaces, std::vector<WorkspaceId>{w.ops});
  TNY_ASSERT_OK_AND_ASSIGN(staff, e.staff(w.account, w.staff_member));
  EXPECT_EQ(staff.second.workspaces, std::vector<WorkspaceId>{});
  EXPECT_TRUE(Can(e, scoped, w.ops, "contacts.edit"));
  EXPECT_FALSE(Can(e, w.staff_member, w.ops, "workspace.view"));
  TNY_ASSERT_OK(e.accept(inv.token, hire));
  TNY_ASSERT_OK_AND_ASSIGN(staff, e.staff(w.account, hire));
  EXPECT_EQ(staff.second.workspaces, std::vector<WorkspaceId>{w.ops});
  // A new workspace reusing the name is not in anybody's old scope.
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId again,
                           e.create_workspace(w.acct_owner, w.account, Named("Agency")));
  EXPECT_FALSE(Can(e, scoped, again, "workspace.view"));
  TNY_EXPECT_OK(e.verify());
}

// ---- T7 in a batch: all or nothing ----

TEST(Deletion, X2_FailedBatchDeletesNothing) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& e = w.engine;
  Batch batch;
  batch.delete_workspace(w.acct_owner, w.client_a, "Client A")
      .delete_workspace(w.acct_owner, w.ops, "wrong name");
  DELETION_EXPECT_REFUSED_UNCHANGED(w, e.apply(batch), Code::kInvalidArgument, "(T7)");
  Batch good;
  good.delete_workspace(w.acct_owner, w.client_a, "Client A")
      .delete_workspace(w.acct_owner, w.client_b, "Client B");
  TNY_ASSERT_OK(e.apply(good));
  EXPECT_EQ(e.stats().workspaces, 2u);
  TNY_EXPECT_OK(e.verify());
}

}  // namespace
}  // namespace tenantry
