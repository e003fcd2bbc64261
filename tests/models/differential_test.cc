// Copyright 2026 The tenantry Authors.
//
// Randomized differential test: the engine against the reference model
// (reference_model.h) on the same random changes (T2-T5, T7, M2-M6, M9,
// M10, S1, I1-I4), comparing every status code and, after every step, a
// sample of checks, lists, teams, invitations and roles (A1-A5); batches
// (X2) all or nothing. Time is a ManualClock that moves at random, so that
// invitations expire (I2, I4); the tokens the engine issues are kept here.
//
// Replay a failure with the seed it prints:
//   TENANTRY_SEED=<seed> ./differential_test
// TENANTRY_STEPS=<n> shortens (or lengthens) the single-change run;
// TENANTRY_TRACE=1 prints every change with its outcome.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "reference_model.h"
#include "tenantry/clock.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using reference::Model;

constexpr uint64_t kDefaultSeed = 20260417;
constexpr int kUsers = 40;
constexpr AccountId kUnknownAccount = 99;
// Keeps unlimited plans from growing the graph without end.
constexpr size_t kWorkspaceCapPerAccount = 14;
// Permissions most sampled: the ones the rules treat specially.
constexpr const char* kFocus[] = {"workspace.view", "workspace.switch",         "workspace.edit",
                                  "members.invite", "account.create_workspace", "runs.trigger",
                                  "billing.manage", "credits.transfer"};
// Permissions compared over every (user, workspace) pair, every 1,000 steps:
// granted when inactive (T5), switching (A5), a client's (M8), staff only (M8).
constexpr const char* kExhaustive[] = {"workspace.view", "workspace.switch", "runs.trigger",
                                       "credits.transfer"};
// M6: the custom role names the changes use; each account defines its own.
constexpr const char* kCustomRoles[] = {"support", "auditor", "portal", "helper", "lead", "ops-2"};
// Grows the universe back faster when deletions (T7) have shrunk it.
constexpr size_t kFewWorkspaces = 30;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 0);
}

// ---- One change, applied alike to the engine, a batch and the model ----

enum class Op {
  kCreateWorkspace,
  kAddMember,
  kSetRole,
  kRemoveMember,
  kTransferOwnership,
  kAddStaff,
  kSetStaffScope,
  kRemoveStaff,
  kSetStatus,
  kSetPlan,
  kRename,
  kSwitch,
  kDefineRole,
  kCreateTeam,
  kAddTeamMember,
  kRemoveTeamMember,
  kSetTeamRole,
  kDeleteTeam,
  kInvite,  // not batchable, nor are the next and kResend: they issue tokens
  kInviteStaff,
  kResend,
  kAccept,
  kRevokeInvitation,
  kDeleteWorkspace,
};
constexpr int kOpCount = static_cast<int>(Op::kDeleteWorkspace) + 1;

bool Batchable(Op op) { return op != Op::kInvite && op != Op::kInviteStaff && op != Op::kResend; }

struct Change {
  Op op = Op::kAddMember;
  UserId actor = kSystem;
  AccountId account = 0;
  WorkspaceId workspace = 0;
  UserId user = 0;
  std::string role;  // workspace role, or account role for add_staff
  std::optional<StaffScope> scope;
  WorkspaceSpec spec;
  WorkspaceStatus status = WorkspaceStatus::kActive;
  Plan plan;
  std::string name;  // workspace, team or role name; the confirmation of a delete
  TeamId team = 0;
  InvitationId invitation = 0;
  std::vector<std::string> permissions;  // define_role
  std::string inherits;                  // define_role
  std::string email;                     // invite, invite_staff
  bool default_role = false;             // invite without a role (client, I1)
  std::string token;                     // accept
};

std::string Id(UserId user) { return user == kSystem ? "kSystem" : absl::StrCat(user); }

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2), "\"\"");
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string ScopeText(const StaffScope& scope) {
  return scope.all ? "StaffScope::All()"
                   : absl::StrCat("StaffScope::Of({", absl::StrJoin(scope.workspaces, ", "), "})");
}

// The change as the C++ call that makes it, for pasting into a repro.
std::string Describe(const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      return absl::StrCat("create_workspace(", Id(c.actor), ", ", c.account, ", {",
                          Quote(c.spec.name), ", ",
                          c.spec.slug.has_value() ? Quote(*c.spec.slug) : "std::nullopt", ", ",
                          c.spec.type == WorkspaceType::kAgency ? "kAgency" : "kSimple", ", ",
                          c.spec.parent, ", ", c.spec.owner, "})");
    case Op::kAddMember:
      return absl::StrCat("add_member(", Id(c.actor), ", ", c.workspace, ", ", c.user, ", ",
                          Quote(c.role), ")");
    case Op::kSetRole:
      return absl::StrCat("set_role(", Id(c.actor), ", ", c.workspace, ", ", c.user, ", ",
                          Quote(c.role), ")");
    case Op::kRemoveMember:
      return absl::StrCat("remove_member(", Id(c.actor), ", ", c.workspace, ", ", c.user, ")");
    case Op::kTransferOwnership:
      return absl::StrCat("transfer_ownership(", Id(c.actor), ", ", c.workspace, ", ", c.user, ")");
    case Op::kAddStaff:
      return absl::StrCat("add_staff(", Id(c.actor), ", ", c.account, ", ", c.user, ", ",
                          Quote(c.role), ", ",
                          c.scope.has_value() ? ScopeText(*c.scope) : "std::nullopt", ")");
    case Op::kSetStaffScope:
      return absl::StrCat("set_staff_scope(", Id(c.actor), ", ", c.account, ", ", c.user, ", ",
                          ScopeText(*c.scope), ")");
    case Op::kRemoveStaff:
      return absl::StrCat("remove_staff(", Id(c.actor), ", ", c.account, ", ", c.user, ")");
    case Op::kSetStatus:
      return absl::StrCat("set_status(", Id(c.actor), ", ", c.workspace, ", ",
                          c.status == WorkspaceStatus::kActive ? "kActive" : "kInactive", ")");
    case Op::kSetPlan:
      return absl::StrCat("set_plan(", Id(c.actor), ", ", c.account, ", Plan::Custom(",
                          Quote(c.plan.name), ", ", c.plan.workspace_limit, ", ",
                          c.plan.agency ? "true" : "false", "))");
    case Op::kRename:
      return absl::StrCat("rename_workspace(", Id(c.actor), ", ", c.workspace, ", ", Quote(c.name),
                          ")");
    case Op::kSwitch:
      return absl::StrCat("switch_workspace(", c.user, ", ", c.workspace, ")");
    case Op::kDefineRole: {
      std::vector<std::string> quoted;
      for (const std::string& p : c.permissions) quoted.push_back(Quote(p));
      return absl::StrCat("define_role(", Id(c.actor), ", ", c.account, ", ", Quote(c.name), ", {",
                          absl::StrJoin(quoted, ", "), "}, ", Quote(c.inherits), ")");
    }
    case Op::kCreateTeam:
      return absl::StrCat("create_team(", Id(c.actor), ", ", c.workspace, ", ", Quote(c.name), ", ",
                          Quote(c.role), ")");
    case Op::kAddTeamMember:
      return absl::StrCat("add_team_member(", Id(c.actor), ", ", c.team, ", ", c.user, ")");
    case Op::kRemoveTeamMember:
      return absl::StrCat("remove_team_member(", Id(c.actor), ", ", c.team, ", ", c.user, ")");
    case Op::kSetTeamRole:
      return absl::StrCat("set_team_role(", Id(c.actor), ", ", c.team, ", ", Quote(c.role), ")");
    case Op::kDeleteTeam:
      return absl::StrCat("delete_team(", Id(c.actor), ", ", c.team, ")");
    case Op::kInvite:
      return absl::StrCat("invite(", Id(c.actor), ", ", c.workspace, ", ", Quote(c.email),
                          c.default_role ? "" : absl::StrCat(", ", Quote(c.role)), ")");
    case Op::kInviteStaff:
      return absl::StrCat("invite_staff(", Id(c.actor), ", ", c.account, ", ", Quote(c.email), ", ",
                          Quote(c.role), ", ",
                          c.scope.has_value() ? ScopeText(*c.scope) : "std::nullopt", ")");
    case Op::kResend:
      return absl::StrCat("resend(", Id(c.actor), ", ", c.invitation, ")");
    case Op::kAccept:
      return absl::StrCat("accept(", Quote(c.token), ", ", c.user, ")");
    case Op::kRevokeInvitation:
      return absl::StrCat("revoke_invitation(", Id(c.actor), ", ", c.invitation, ")");
    case Op::kDeleteWorkspace:
      return absl::StrCat("delete_workspace(", Id(c.actor), ", ", c.workspace, ", ", Quote(c.name),
                          ")");
  }
  return "?";
}

std::string OpName(Op op) {
  Change c;
  c.op = op;
  c.scope = StaffScope::All();
  std::string text = Describe(c);
  return text.substr(0, text.find('('));
}

absl::StatusOr<uint64_t> NoId(const absl::Status& status) {
  if (!status.ok()) return status;
  return uint64_t{0};
}

// The id of an invitation the engine issued, keeping it (and its token) in `issued`.
absl::StatusOr<uint64_t> Issued(absl::StatusOr<Invitation> invitation, Invitation* issued) {
  if (!invitation.ok()) return invitation.status();
  *issued = *invitation;
  return invitation->id;
}

// `issued` receives what invite, invite_staff and resend return (the token).
absl::StatusOr<uint64_t> ApplyToEngine(Engine& e, const Change& c, Invitation* issued) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      return e.create_workspace(c.actor, c.account, c.spec);
    case Op::kAddMember:
      return NoId(e.add_member(c.actor, c.workspace, c.user, c.role));
    case Op::kSetRole:
      return NoId(e.set_role(c.actor, c.workspace, c.user, c.role));
    case Op::kRemoveMember:
      return NoId(e.remove_member(c.actor, c.workspace, c.user));
    case Op::kTransferOwnership:
      return NoId(e.transfer_ownership(c.actor, c.workspace, c.user));
    case Op::kAddStaff:
      return NoId(e.add_staff(c.actor, c.account, c.user, c.role, c.scope));
    case Op::kSetStaffScope:
      return NoId(e.set_staff_scope(c.actor, c.account, c.user, *c.scope));
    case Op::kRemoveStaff:
      return NoId(e.remove_staff(c.actor, c.account, c.user));
    case Op::kSetStatus:
      return NoId(e.set_status(c.actor, c.workspace, c.status));
    case Op::kSetPlan:
      return NoId(e.set_plan(c.actor, c.account, c.plan));
    case Op::kRename:
      return NoId(e.rename_workspace(c.actor, c.workspace, c.name));
    case Op::kSwitch:
      return NoId(e.switch_workspace(c.user, c.workspace));
    case Op::kDefineRole:
      return NoId(e.define_role(c.actor, c.account, c.name, c.permissions, c.inherits));
    case Op::kCreateTeam:
      return e.create_team(c.actor, c.workspace, c.name, c.role);
    case Op::kAddTeamMember:
      return NoId(e.add_team_member(c.actor, c.team, c.user));
    case Op::kRemoveTeamMember:
      return NoId(e.remove_team_member(c.actor, c.team, c.user));
    case Op::kSetTeamRole:
      return NoId(e.set_team_role(c.actor, c.team, c.role));
    case Op::kDeleteTeam:
      return NoId(e.delete_team(c.actor, c.team));
    case Op::kInvite:
      return Issued(c.default_role ? e.invite(c.actor, c.workspace, c.email)
                                   : e.invite(c.actor, c.workspace, c.email, c.role),
                    issued);
    case Op::kInviteStaff:
      return Issued(e.invite_staff(c.actor, c.account, c.email, c.role, c.scope), issued);
    case Op::kResend:
      return Issued(e.resend(c.actor, c.invitation), issued);
    case Op::kAccept:
      return NoId(e.accept(c.token, c.user));
    case Op::kRevokeInvitation:
      return NoId(e.revoke_invitation(c.actor, c.invitation));
    case Op::kDeleteWorkspace:
      return NoId(e.delete_workspace(c.actor, c.workspace, c.name));
  }
  return absl::InternalError("unknown op");
}

// Only for Batchable(c.op).
void AddToBatch(Batch& b, const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      b.create_workspace(c.actor, c.account, c.spec);
      return;
    case Op::kAddMember:
      b.add_member(c.actor, c.workspace, c.user, c.role);
      return;
    case Op::kSetRole:
      b.set_role(c.actor, c.workspace, c.user, c.role);
      return;
    case Op::kRemoveMember:
      b.remove_member(c.actor, c.workspace, c.user);
      return;
    case Op::kTransferOwnership:
      b.transfer_ownership(c.actor, c.workspace, c.user);
      return;
    case Op::kAddStaff:
      b.add_staff(c.actor, c.account, c.user, c.role, c.scope);
      return;
    case Op::kSetStaffScope:
      b.set_staff_scope(c.actor, c.account, c.user, *c.scope);
      return;
    case Op::kRemoveStaff:
      b.remove_staff(c.actor, c.account, c.user);
      return;
    case Op::kSetStatus:
      b.set_status(c.actor, c.workspace, c.status);
      return;
    case Op::kSetPlan:
      b.set_plan(c.actor, c.account, c.plan);
      return;
    case Op::kRename:
      b.rename_workspace(c.actor, c.workspace, c.name);
      return;
    case Op::kSwitch:
      b.switch_workspace(c.user, c.workspace);
      return;
    case Op::kDefineRole:
      b.define_role(c.actor, c.account, c.name, c.permissions, c.inherits);
      return;
    case Op::kCreateTeam:
      b.create_team(c.actor, c.workspace, c.name, c.role);
      return;
    case Op::kAddTeamMember:
      b.add_team_member(c.actor, c.team, c.user);
      return;
    case Op::kRemoveTeamMember:
      b.remove_team_member(c.actor, c.team, c.user);
      return;
    case Op::kSetTeamRole:
      b.set_team_role(c.actor, c.team, c.role);
      return;
    case Op::kDeleteTeam:
      b.delete_team(c.actor, c.team);
      return;
    case Op::kAccept:
      b.accept(c.token, c.user);
      return;
    case Op::kRevokeInvitation:
      b.revoke_invitation(c.actor, c.invitation);
      return;
    case Op::kDeleteWorkspace:
      b.delete_workspace(c.actor, c.workspace, c.name);
      return;
    case Op::kInvite:
    case Op::kInviteStaff:
    case Op::kResend:
      ADD_FAILURE() << Describe(c) << " cannot be batched";
      return;
  }
}

absl::StatusOr<uint64_t> ApplyToModel(Model& m, const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      return m.CreateWorkspace(c.actor, c.account, c.spec);
    case Op::kAddMember:
      return NoId(m.AddMember(c.actor, c.workspace, c.user, c.role));
    case Op::kSetRole:
      return NoId(m.SetRole(c.actor, c.workspace, c.user, c.role));
    case Op::kRemoveMember:
      return NoId(m.RemoveMember(c.actor, c.workspace, c.user));
    case Op::kTransferOwnership:
      return NoId(m.TransferOwnership(c.actor, c.workspace, c.user));
    case Op::kAddStaff:
      return NoId(m.AddStaff(c.actor, c.account, c.user, c.role, c.scope));
    case Op::kSetStaffScope:
      return NoId(m.SetStaffScope(c.actor, c.account, c.user, *c.scope));
    case Op::kRemoveStaff:
      return NoId(m.RemoveStaff(c.actor, c.account, c.user));
    case Op::kSetStatus:
      return NoId(m.SetStatus(c.actor, c.workspace, c.status));
    case Op::kSetPlan:
      return NoId(m.SetPlan(c.actor, c.account, c.plan));
    case Op::kRename:
      return NoId(m.RenameWorkspace(c.actor, c.workspace, c.name));
    case Op::kSwitch:
      return NoId(m.SwitchWorkspace(c.user, c.workspace));
    case Op::kDefineRole:
      return NoId(m.DefineRole(c.actor, c.account, c.name, c.permissions, c.inherits));
    case Op::kCreateTeam:
      return m.CreateTeam(c.actor, c.workspace, c.name, c.role);
    case Op::kAddTeamMember:
      return NoId(m.AddTeamMember(c.actor, c.team, c.user));
    case Op::kRemoveTeamMember:
      return NoId(m.RemoveTeamMember(c.actor, c.team, c.user));
    case Op::kSetTeamRole:
      return NoId(m.SetTeamRole(c.actor, c.team, c.role));
    case Op::kDeleteTeam:
      return NoId(m.DeleteTeam(c.actor, c.team));
    case Op::kInvite:
      return m.Invite(c.actor, c.workspace, c.email, c.default_role ? "client" : c.role);
    case Op::kInviteStaff:
      return m.InviteStaff(c.actor, c.account, c.email, c.role, c.scope);
    case Op::kResend:
      return m.Resend(c.actor, c.invitation);
    case Op::kAccept:
      return NoId(m.Accept(c.token, c.user));
    case Op::kRevokeInvitation:
      return NoId(m.RevokeInvitation(c.actor, c.invitation));
    case Op::kDeleteWorkspace:
      return NoId(m.DeleteWorkspace(c.actor, c.workspace, c.name));
  }
  return absl::InternalError("unknown op");
}

// ---- Random changes over a small universe ----

// Generates changes from the model's state: mostly plausible (existing ids,
// actors close to the workspace, so that M10 decisions go both ways),
// sometimes invalid on purpose.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  // Every token the engine issued, by invitation, oldest first (I1, I2).
  std::map<InvitationId, std::vector<std::string>> tokens;

  // Portable across standard libraries (no <random> distributions), so a
  // seed replays anywhere.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }
  template <class Container>
  decltype(auto) PickFrom(const Container& items) {
    auto it = std::begin(items);
    std::advance(it, static_cast<std::ptrdiff_t>(Below(std::size(items))));
    return *it;
  }

  // A random change; with `batch`, only one a Batch can hold.
  Change Next(const Model& m, bool batch = false) {
    // Weights per Op, in its order: per mille, roughly.
    static constexpr int kWeights[] = {
        60,                   // create_workspace (more while the universe is small)
        130, 90, 60, 35,      // add_member, set_role, remove_member, transfer_ownership
        45,  35, 30,          // add_staff, set_staff_scope, remove_staff
        45,  20, 25, 80,      // set_status, set_plan, rename_workspace, switch_workspace
        35,                   // define_role
        35,  60, 30, 25, 15,  // create_team, add/remove_team_member, set_team_role, delete_team
        50,  25, 20,          // invite, invite_staff, resend
        60,  20,              // accept, revoke_invitation
        25,                   // delete_workspace
    };
    static_assert(std::size(kWeights) == kOpCount, "one weight per Op");
    int weights[kOpCount];
    int total = 0;
    for (int i = 0; i < kOpCount; ++i) {
      const auto op = static_cast<Op>(i);
      weights[i] = batch && !Batchable(op) ? 0 : kWeights[i];
      if (op == Op::kCreateWorkspace && m.workspaces().size() < kFewWorkspaces) weights[i] *= 3;
      total += weights[i];
    }
    auto r = static_cast<int>(Below(static_cast<uint64_t>(total)));
    int i = 0;
    while (r >= weights[i]) r -= weights[i++];
    return Make(m, static_cast<Op>(i));
  }

  // An invitation change, which issues a token: invite, invite_staff, resend.
  Change NextInvitation(const Model& m) {
    const uint64_t r = Below(100);
    return Make(m, r < 60 ? Op::kInvite : r < 85 ? Op::kInviteStaff : Op::kResend);
  }

  Change Make(const Model& m, Op op) {
    switch (op) {
      case Op::kCreateWorkspace:
        return CreateWorkspace(m);
      case Op::kAddMember:
      case Op::kSetRole:
      case Op::kRemoveMember:
      case Op::kTransferOwnership:
      case Op::kSetStatus:
      case Op::kRename:
      case Op::kSwitch:
        return WorkspaceChange(m, op);
      case Op::kAddStaff:
      case Op::kSetStaffScope:
      case Op::kRemoveStaff:
        return StaffChange(m, op);
      case Op::kSetPlan:
        return SetPlan(m);
      case Op::kDefineRole:
        return DefineRole(m);
      case Op::kCreateTeam:
        return CreateTeam(m);
      case Op::kAddTeamMember:
      case Op::kRemoveTeamMember:
      case Op::kSetTeamRole:
      case Op::kDeleteTeam:
        return TeamChange(m, op);
      case Op::kInvite:
        return Invite(m);
      case Op::kInviteStaff:
        return InviteStaff(m);
      case Op::kAccept:
        return Accept(m);
      case Op::kResend:
      case Op::kRevokeInvitation:
        return InvitationChange(m, op);
      case Op::kDeleteWorkspace:
        return DeleteWorkspace(m);
    }
    return Change{};
  }

  UserId User() {
    if (Chance(3)) return Chance(50) ? 0 : kUsers + 7;
    return 1 + Below(kUsers);
  }

  WorkspaceId Workspace(const Model& m) {
    if (m.workspaces().empty() || Chance(5)) {
      // Never made, or (some of the time) deleted (T7).
      const WorkspaceId unknown[] = {0, m.next_workspace(), 1 + Below(m.next_workspace()), 100000};
      return PickFrom(unknown);
    }
    return PickFrom(m.workspaces()).first;
  }

  TeamId Team(const Model& m) {
    if (m.teams().empty() || Chance(6)) {
      const TeamId unknown[] = {0, m.next_team(), 1 + Below(m.next_team()), 100000};
      return PickFrom(unknown);
    }
    return PickFrom(m.teams()).first;
  }

  // Mostly one of the newest invitations, so that many are still pending.
  InvitationId Invitation(const Model& m) {
    const auto& all = m.invitations();
    if (all.empty() || Chance(6)) {
      const InvitationId unknown[] = {0, m.next_invitation(), 1 + Below(m.next_invitation()),
                                      100000};
      return PickFrom(unknown);
    }
    const size_t window = std::min<size_t>(Chance(60) ? 6 : all.size(), all.size());
    return std::prev(all.end(), static_cast<std::ptrdiff_t>(1 + Below(window)))->first;
  }

  AccountId Account(const Model& m) {
    if (Chance(3)) return kUnknownAccount;
    return PickFrom(m.accounts()).first;
  }

  // Users who plausibly hold something in the workspace: its members and
  // team members, those of its ancestors, and its account's staff.
  std::vector<UserId> Related(const Model& m, WorkspaceId id) {
    std::vector<UserId> out;
    const reference::WorkspaceState* ws = m.FindWorkspace(id);
    if (ws == nullptr) return out;
    for (const reference::WorkspaceState* at = ws; at != nullptr;
         at = m.FindWorkspace(at->parent)) {
      for (const auto& [user, role] : at->members) out.push_back(user);
      for (TeamId team : at->teams) {
        for (UserId user : m.teams().at(team).members) out.push_back(user);
      }
    }
    for (const auto& [user, staff] : m.FindAccount(ws->account)->staff) out.push_back(user);
    return out;
  }

  UserId RelatedUser(const Model& m, WorkspaceId id) {
    std::vector<UserId> related = Related(m, id);
    return related.empty() || Chance(35) ? User() : PickFrom(related);
  }

  std::string Permission() {
    if (Chance(50)) return PickFrom(kFocus);
    return PickFrom(reference::PermissionNames());
  }

 private:
  UserId WorkspaceActor(const Model& m, WorkspaceId id) {
    const reference::WorkspaceState* ws = m.FindWorkspace(id);
    const uint64_t r = Below(100);
    if (r < 30 || ws == nullptr) return r < 30 ? kSystem : User();
    if (r < 42) return ws->owner;
    if (r < 62) return PickFrom(ws->members).first;
    if (r < 88) return RelatedUser(m, id);
    return User();
  }

  UserId AccountActor(const Model& m, AccountId id) {
    const reference::AccountState* a = m.FindAccount(id);
    const uint64_t r = Below(100);
    if (r < 30 || a == nullptr) return r < 30 ? kSystem : User();
    if (r < 50) return a->owner;
    if (r < 75) return PickFrom(a->staff).first;
    return User();
  }

  std::string WorkspaceRole() {
    static const char* const kRoles[] = {"client", "client", "client",  "viewer",    "viewer",
                                         "member", "member", "manager", "manager",   "admin",
                                         "admin",  "admin",  "owner",   "superuser", "Admin"};
    return PickFrom(kRoles);
  }

  std::string Name() {
    static const char* const kBases[] = {
        "Acme",       "Acme Inc.",  "acme-inc",         "Sales",        "Zeta",
        "alpha team", "Alpha Team", "Caf\xC3\xA9 Noir", "\xCE\xA9mega", "Dashboard"};
    const uint64_t r = Below(100);
    auto repeat = [](absl::string_view text, int times) {
      std::string out;
      for (int i = 0; i < times; ++i) absl::StrAppend(&out, text);
      return out;
    };
    if (r < 4) {
      // Invalid (T3) or edge cases: lengths in code points, not bytes
      // (100 x U+00E9 is valid, 101 is not); names without a derivable slug;
      // control characters; white space only; bytes that are not UTF-8.
      static const std::string kEdge[] = {"",
                                          "   ",
                                          "\xC2\xA0\xE3\x80\x80",
                                          std::string(100, 'x'),
                                          std::string(101, 'x'),
                                          "Bad\x01Name",
                                          "Tab\tInside",
                                          "\xCE\xA9\xCE\xA9",
                                          repeat("\xC3\xA9", 100),
                                          repeat("\xC3\xA9", 101),
                                          "\xFF\xFE Acme",
                                          "Acme \xC3",
                                          "\xED\xA0\x80 Acme",
                                          "\xC0\xAF Acme",
                                          "\xF4\x90\x80\x80 Acme"};
      return PickFrom(kEdge);
    }
    std::string name = PickFrom(kBases);
    if (r < 75) absl::StrAppend(&name, " ", Below(40));
    // Surrounding white space is trimmed: ASCII, NBSP, ideographic space.
    if (r >= 93) name = absl::StrCat("  ", name, " \t");
    if (r >= 97) name = absl::StrCat("\xC2\xA0", name, "\xE3\x80\x80");
    return name;
  }

  std::optional<std::string> Slug() {
    if (Chance(70)) return std::nullopt;
    static const char* const kSlugs[] = {"acme",  "acme-inc", "a",    "-acme",
                                         "acme-", "Acme",     "ab_c", "zeta-1"};
    if (Chance(50)) return absl::StrCat("ok-", Below(60));
    if (Chance(5)) return std::string(51, 'z');
    return std::string(PickFrom(kSlugs));
  }

  Change CreateWorkspace(const Model& m) {
    Change c;
    c.op = Op::kCreateWorkspace;
    c.account = Account(m);
    const reference::AccountState* a = m.FindAccount(c.account);
    if (a != nullptr && a->workspaces.size() >= kWorkspaceCapPerAccount &&
        (a->workspace_limit == -1 ||
         static_cast<int64_t>(a->workspaces.size()) < a->workspace_limit)) {
      return WorkspaceChange(m, Op::kSetStatus);  // would only grow the graph
    }
    c.actor = AccountActor(m, c.account);
    c.spec.name = Name();
    c.spec.slug = Slug();
    c.spec.type = Chance(40) ? WorkspaceType::kAgency : WorkspaceType::kSimple;
    c.spec.parent = Parent(m, c.account);
    if (Chance(30)) c.spec.owner = Chance(85) ? 1 + Below(kUsers) : kUsers + 9;
    return c;
  }

  WorkspaceId Parent(const Model& m, AccountId account) {
    const uint64_t r = Below(100);
    if (r < 45) return 0;
    std::vector<WorkspaceId> agencies, simple, elsewhere;
    WorkspaceId deepest = 0;
    for (const auto& [id, ws] : m.workspaces()) {
      if (ws.account != account) {
        elsewhere.push_back(id);
      } else if (ws.agency) {
        agencies.push_back(id);
        if (deepest == 0 || m.Depth(id) > m.Depth(deepest)) deepest = id;
      } else {
        simple.push_back(id);
      }
    }
    if (r < 80 && !agencies.empty()) return Chance(40) ? deepest : PickFrom(agencies);
    if (r < 88 && !simple.empty()) return PickFrom(simple);
    if (r < 95 && !elsewhere.empty()) return PickFrom(elsewhere);
    return m.next_workspace() + 3;
  }

  StaffScope Scope(const Model& m, AccountId account, int all_percent) {
    if (Chance(all_percent)) return StaffScope::All();
    std::vector<WorkspaceId> ids;
    const uint64_t count = Below(4);
    for (uint64_t i = 0; i < count; ++i) {
      std::vector<WorkspaceId> own;
      const reference::AccountState* a = m.FindAccount(account);
      if (a != nullptr) own.assign(a->workspaces.begin(), a->workspaces.end());
      if (!own.empty() && Chance(85)) {
        ids.push_back(PickFrom(own));
      } else {
        ids.push_back(Workspace(m));
      }
    }
    return StaffScope::Of(ids);
  }

  Change StaffChange(const Model& m, Op op) {
    Change c;
    c.op = op;
    c.account = Account(m);
    c.actor = AccountActor(m, c.account);
    const reference::AccountState* a = m.FindAccount(c.account);
    c.user = a != nullptr && !a->staff.empty() && Chance(op == Op::kAddStaff ? 10 : 70)
                 ? PickFrom(a->staff).first
                 : User();
    if (op == Op::kAddStaff) {
      static const char* const kRoles[] = {"member", "member", "member", "member", "member",
                                           "admin",  "admin",  "admin",  "owner",  "manager"};
      c.role = PickFrom(kRoles);
      if (Chance(60)) c.scope = Scope(m, c.account, 40);
    } else if (op == Op::kSetStaffScope) {
      c.scope = Scope(m, c.account, 30);
    }
    return c;
  }

  Change SetPlan(const Model& m) {
    static const Plan kPlans[] = {Plan::Named("starter"),
                                  Plan::Named("growth"),
                                  Plan::Named("scale"),
                                  Plan::Named("enterprise"),
                                  Plan::Named("platinum"),
                                  Plan::Custom("agency-8", 8, true),
                                  Plan::Custom("tiny", 0, false),
                                  Plan::Custom("small-agency", 3, true),
                                  Plan::Custom("roomy", 12, false),
                                  Plan::Custom("", 3, false),
                                  Plan::Custom("negative", -2, true),
                                  Plan::Custom(std::string(101, 'p'), 5, false)};
    Change c;
    c.op = Op::kSetPlan;
    c.account = Account(m);
    c.actor = AccountActor(m, c.account);
    c.plan = PickFrom(kPlans);
    return c;
  }

  Change WorkspaceChange(const Model& m, Op op) {
    Change c;
    c.op = op;
    c.workspace = Workspace(m);
    c.actor = WorkspaceActor(m, c.workspace);
    const reference::WorkspaceState* ws = m.FindWorkspace(c.workspace);
    auto member = [&]() { return ws == nullptr ? User() : PickFrom(ws->members).first; };
    const uint64_t r = Below(100);
    switch (op) {
      case Op::kAddMember:
        c.user = r < 60 ? User() : r < 85 ? RelatedUser(m, c.workspace) : member();
        c.role = Role(m, c.workspace);
        break;
      case Op::kSetRole:
        c.user = r < 70 ? member() : r < 80 ? c.actor : User();
        c.role = Role(m, c.workspace);
        break;
      case Op::kRemoveMember:
        c.user = r < 80 ? member() : User();
        if (Chance(20)) c.actor = c.user;  // leaving
        break;
      case Op::kTransferOwnership:
        if (ws != nullptr && Chance(45)) c.actor = ws->owner;
        c.user = r < 50 ? member() : r < 92 ? User() : ws == nullptr ? 0 : ws->owner;
        break;
      case Op::kSetStatus:
        c.status = Chance(55) ? WorkspaceStatus::kActive : WorkspaceStatus::kInactive;
        break;
      case Op::kRename:
        c.name = Name();
        break;
      case Op::kSwitch:
        c.user = RelatedUser(m, c.workspace);
        break;
      default:
        break;
    }
    return c;
  }

  // M3, M6: a built-in role (or a bad name), or a custom one, mostly of
  // the workspace's account.
  std::string Role(const Model& m, WorkspaceId id) {
    const reference::WorkspaceState* ws = m.FindWorkspace(id);
    if (ws == nullptr || !Chance(35)) return WorkspaceRole();
    const auto& roles = m.FindAccount(ws->account)->roles;
    if (!roles.empty() && Chance(80)) return PickFrom(roles).first;
    return PickFrom(kCustomRoles);
  }

  // M6: random permissions, inheriting at random from a built-in or custom
  // role, so that cycles and moves in or out of the client family happen.
  Change DefineRole(const Model& m) {
    static const std::string kBadNames[] = {"",       "Support",     "bad name",          "owner",
                                            "client", "r\xC3\xB4le", std::string(65, 'r')};
    static const char* const kBuiltins[] = {"client",  "client", "viewer", "member",
                                            "manager", "admin",  "owner"};
    Change c;
    c.op = Op::kDefineRole;
    c.account = Account(m);
    c.actor = AccountActor(m, c.account);
    c.name = Chance(6) ? PickFrom(kBadNames) : std::string(PickFrom(kCustomRoles));
    const uint64_t count = Below(7);
    for (uint64_t i = 0; i < count; ++i) {
      c.permissions.push_back(Chance(2) ? "contacts.fly" : Permission());
    }
    const uint64_t r = Below(100);
    if (r < 25) {
      c.inherits = "";
    } else if (r < 55) {
      c.inherits = PickFrom(kBuiltins);
    } else if (r < 96) {
      c.inherits = PickFrom(kCustomRoles);
    } else {
      c.inherits = Chance(50) ? "ghost" : "Admin";
    }
    return c;
  }

  std::string TeamName() {
    static const std::string kNames[] = {"Sales",       "Support",   "Crew",        "Leads",
                                         "Night Shift", "  Sales\t", "Caf\xC3\xA9", "",
                                         "Bad\x01Team", "\xFF Team"};
    const uint64_t r = Below(100);
    return r < 85 ? kNames[Below(7)] : PickFrom(kNames);
  }

  Change CreateTeam(const Model& m) {
    Change c;
    c.op = Op::kCreateTeam;
    c.workspace = Workspace(m);
    c.actor = WorkspaceActor(m, c.workspace);
    c.name = TeamName();
    c.role = Role(m, c.workspace);
    return c;
  }

  Change TeamChange(const Model& m, Op op) {
    Change c;
    c.op = op;
    c.team = Team(m);
    const reference::TeamState* team = m.FindTeam(c.team);
    c.actor =
        team == nullptr ? (Chance(50) ? kSystem : User()) : WorkspaceActor(m, team->workspace);
    const bool members = team != nullptr && !team->members.empty();
    switch (op) {
      case Op::kAddTeamMember:
        c.user = members && Chance(10)           ? PickFrom(team->members)
                 : team != nullptr && Chance(60) ? RelatedUser(m, team->workspace)
                                                 : User();
        break;
      case Op::kRemoveTeamMember:
        c.user = members && Chance(75) ? PickFrom(team->members) : User();
        if (Chance(20)) c.actor = c.user;  // leaving
        break;
      case Op::kSetTeamRole:
        c.role = team == nullptr ? WorkspaceRole() : Role(m, team->workspace);
        break;
      default:
        break;
    }
    return c;
  }

  // M1, I3: mostly the key of an existing user (in another case, with
  // white space around it), sometimes nobody's, sometimes not a key at all.
  std::string Email(const Model& m, WorkspaceId id) {
    const uint64_t r = Below(100);
    if (r < 72) {
      const UserId user = r < 45 ? 1 + Below(kUsers) : RelatedUser(m, id);
      auto it = m.users().find(user);
      if (it != m.users().end()) {
        if (Chance(15)) return absl::AsciiStrToUpper(it->second.key);
        if (Chance(10)) return absl::StrCat("  ", it->second.key, "\t");
        return it->second.key;
      }
    }
    if (r < 94) return absl::StrCat("new", Below(30), "@example.com");
    static const std::string kBad[] = {"", "   ", "bad\x01@example.com", std::string(321, 'k'),
                                       "\xFF@example.com"};
    return PickFrom(kBad);
  }

  Change Invite(const Model& m) {
    Change c;
    c.op = Op::kInvite;
    c.workspace = Workspace(m);
    c.actor = WorkspaceActor(m, c.workspace);
    c.email = Email(m, c.workspace);
    c.default_role = Chance(35);
    c.role = c.default_role ? "client" : Role(m, c.workspace);
    return c;
  }

  Change InviteStaff(const Model& m) {
    static const char* const kRoles[] = {"member", "member", "member", "admin",
                                         "admin",  "owner",  "viewer"};
    Change c;
    c.op = Op::kInviteStaff;
    c.account = Account(m);
    c.actor = AccountActor(m, c.account);
    c.email = Email(m, 0);
    c.role = PickFrom(kRoles);
    if (Chance(50)) c.scope = Scope(m, c.account, 40);
    return c;
  }

  // I1: never a working token: malformed, another selector, one character
  // changed, added or dropped, far too long, an id past 64 bits.
  std::string GarbageToken(const Model& m) {
    std::string base = tokens.empty() ? std::string("1.AAAA") : PickFrom(PickFrom(tokens).second);
    const size_t dot = base.find('.');
    switch (Below(10)) {
      case 0:
        return "";
      case 1:
        return "garbage";
      case 2:
        return ".";
      case 3:
        return absl::StrCat(m.next_invitation(), base.substr(dot));
      case 4:
        base.back() = base.back() == 'A' ? 'B' : 'A';
        return base;
      case 5:
        return base + "x";
      case 6:
        return base.substr(0, base.size() - 1);
      case 7:
        return "0" + base;  // the same selector, another string
      case 8:
        return std::string(300, '7');
      default:
        return absl::StrCat("18446744073709551617", base.substr(dot));
    }
  }

  // I2, I3: the working token of an invitation (pending, used, revoked or
  // expired), any token ever issued (superseded by resend, or of a deleted
  // workspace's invitation), or garbage; by its invitee, mostly.
  Change Accept(const Model& m) {
    Change c;
    c.op = Op::kAccept;
    const uint64_t r = Below(100);
    InvitationId target = 0;
    if (r < 65 && !m.invitations().empty()) {
      target = Invitation(m);
      const reference::InvitationState* it = m.FindInvitation(target);
      c.token = it != nullptr ? it->token : GarbageToken(m);
    } else if (r < 82 && !tokens.empty()) {
      const auto& [id, issued] = PickFrom(tokens);
      target = id;
      c.token = PickFrom(issued);
    } else {
      c.token = GarbageToken(m);
    }
    const reference::InvitationState* it = m.FindInvitation(target);
    const UserId invitee = it == nullptr ? 0 : m.UserWithKey(it->email);
    c.user = invitee != 0 && Chance(75) ? invitee : User();
    return c;
  }

  Change InvitationChange(const Model& m, Op op) {
    Change c;
    c.op = op;
    c.invitation = Invitation(m);
    const reference::InvitationState* it = m.FindInvitation(c.invitation);
    if (it == nullptr) {
      c.actor = Chance(50) ? kSystem : User();
    } else if (it->staff) {
      c.actor = AccountActor(m, it->account);
    } else {
      c.actor = Chance(20) ? it->invited_by : WorkspaceActor(m, it->workspace);
    }
    return c;
  }

  // T7: mostly a leaf (whole subtrees go too, but less often, so that
  // deep graphs survive), mostly the right confirmation; some callers sit
  // in the subtree.
  Change DeleteWorkspace(const Model& m) {
    Change c;
    c.op = Op::kDeleteWorkspace;
    c.workspace = Workspace(m);
    for (int tries = 0; tries < 3 && m.Subtree(c.workspace).size() > 1 && Chance(75); ++tries) {
      c.workspace = Workspace(m);
    }
    c.actor = WorkspaceActor(m, c.workspace);
    const reference::WorkspaceState* ws = m.FindWorkspace(c.workspace);
    if (ws == nullptr) {
      c.name = Name();
      return c;
    }
    if (Chance(25)) {
      const std::set<WorkspaceId> subtree = m.Subtree(c.workspace);
      std::vector<UserId> inside;
      for (const auto& [id, user] : m.users()) {
        if (subtree.count(user.active_workspace) > 0) inside.push_back(id);
      }
      if (!inside.empty()) c.actor = PickFrom(inside);
    }
    const uint64_t r = Below(100);
    if (r < 78) {
      c.name = ws->name;
    } else if (r < 84) {
      c.name = absl::AsciiStrToLower(ws->name);
    } else if (r < 90) {
      c.name = absl::StrCat(ws->name, " ");
    } else if (r < 95) {
      c.name = "";
    } else {
      c.name = PickFrom(m.workspaces()).second.name;
    }
    return c;
  }

  std::mt19937_64 rng_;
};

// ---- The harness: one engine, one model, and the comparisons ----

class Harness {
 public:
  // `seed` is what TENANTRY_SEED replays; the generator runs from `rng_seed`.
  // The engine's clock is a ManualClock (I4) that only this harness moves.
  Harness(uint64_t seed, uint64_t rng_seed)
      : seed_(seed),
        clock_(std::make_shared<ManualClock>()),
        engine_(Engine::Options{clock_}),
        gen_(rng_seed) {}

  Engine& engine() { return engine_; }
  Model& model() { return model_; }
  Generator& gen() { return gen_; }
  int step() const { return step_; }

  // Users and accounts: an enterprise (agency) account, a growth account
  // with member_default_scope none, a custom agency plan, an unset plan.
  void Setup() {
    model_.SetNow(clock_->now_ns());
    for (const std::string& name : reference::PermissionNames()) {
      absl::StatusOr<PermissionId> id = engine_.permission(name);
      ASSERT_TRUE(id.ok()) << name << ": " << id.status();
      perms_[name] = *id;
    }
    EXPECT_FALSE(engine_.permission_name(reference::PermissionNames().size()).ok())
        << "the engine's built-in catalog is larger than M7's list";
    for (const char* name : {"starter", "growth", "scale", "enterprise", "platinum"}) {
      EXPECT_EQ(Plan::Named(name).workspace_limit, reference::NamedPlanLimit(name)) << name;
      EXPECT_EQ(Plan::Named(name).agency, reference::NamedPlanAgency(name)) << name;
    }
    for (int i = 1; i <= kUsers; ++i) {
      const std::string key = absl::StrCat("user", i, "@example.com");
      absl::StatusOr<UserId> got = engine_.create_user(key);
      absl::StatusOr<UserId> want = model_.CreateUser(key);
      ASSERT_TRUE(got.ok() && want.ok() && *got == *want) << got.status() << want.status();
    }
    const AccountSpec specs[] = {
        {"Enterprise Co", 1, Plan::Named("enterprise"), "", "all", "admin"},
        {"Growth Ltd", 2, Plan::Named("growth"), "growth-ltd", "none", "viewer"},
        {"Agency Partners", 3, Plan::Custom("agency-8", 8, true), "", "all", "manager"},
        {"Unset Inc", 4, std::nullopt, "", "none", "member"},
    };
    for (const AccountSpec& spec : specs) {
      absl::StatusOr<AccountId> got = engine_.create_account(spec);
      absl::StatusOr<AccountId> want = model_.CreateAccount(spec);
      ASSERT_TRUE(got.ok() && want.ok() && *got == *want) << got.status() << want.status();
    }
    ASSERT_EQ(engine_.revision(), model_.revision());
  }

  // A chain of agency workspaces down to the deepest level allowed (T4) in
  // the enterprise account, so that inheritance (A3) walks long ancestries
  // and creating below the bottom is refused.
  void BuildDeepChain() {
    RegrowDeepChain("");
    WorkspaceId deepest = 0;
    for (const auto& [id, ws] : model_.workspaces()) {
      if (model_.Depth(id) > model_.Depth(deepest)) deepest = id;
    }
    ASSERT_EQ(model_.Depth(deepest), limits::kMaxDepth);
  }

  // Deletions (T7) cut chains: extends the deepest agency workspace of
  // account 1 with agency sub-workspaces down to the bottom, while its
  // plan allows (each creation is an ordinary, compared step).
  void RegrowDeepChain(const std::string& suffix) {
    WorkspaceId parent = 0;
    for (const auto& [id, ws] : model_.workspaces()) {
      if (ws.account == 1 && ws.agency && model_.Depth(id) > model_.Depth(parent)) parent = id;
    }
    for (int level = model_.Depth(parent) + 1; level <= limits::kMaxDepth; ++level) {
      Change c;
      c.op = Op::kCreateWorkspace;
      c.account = 1;
      c.spec = {absl::StrCat("Level ", level, suffix), std::nullopt, WorkspaceType::kAgency, parent,
                0};
      const WorkspaceId next = model_.next_workspace();
      Step(c);
      if (model_.next_workspace() == next) return;  // refused (T2, T3): the chain stays shorter
      parent = next;
    }
  }

  std::string Where() const {
    return absl::StrCat("\n  [TENANTRY_SEED=", seed_, ", step ", step_, ", after ", last_, "]");
  }

  // Applies one change to both; compares the outcome, ids and revision.
  // A token the engine issues (I1) is kept, and handed to the model.
  void Step(const Change& c) {
    ++step_;
    last_ = Describe(c);
    Invitation issued;
    absl::StatusOr<uint64_t> got = ApplyToEngine(engine_, c, &issued);
    absl::StatusOr<uint64_t> want = ApplyToModel(model_, c);
    Remember(absl::StrCat(last_, " -> ", absl::StatusCodeToString(got.status().code())));
    Tally(c.op, got.status());
    TNY_EXPECT_RULES_CARRIED(got.status()) << Where();
    if (got.status().code() != want.status().code()) {
      ADD_FAILURE() << "status differs: engine " << got.status() << "; model " << want.status()
                    << Where();
    } else if (got.ok() && *got != *want) {
      ADD_FAILURE() << "created id: engine " << *got << ", model " << *want << Where();
    } else if (got.ok() && issued.id != 0) {
      // I2: the expiry is the engine's clock plus the lifetime, as the model has it.
      EXPECT_EQ(issued.id, *got) << Where();
      EXPECT_EQ(issued.expires_at_ns, model_.FindInvitation(*got)->expires_at_ns)
          << "expires_at of invitation " << *got << " (I2)" << Where();
      std::vector<std::string>& tokens = gen_.tokens[issued.id];
      EXPECT_TRUE(std::find(tokens.begin(), tokens.end(), issued.token) == tokens.end())
          << "a token was issued twice (I1)" << Where();
      tokens.push_back(issued.token);
      model_.IssueToken(issued.id, issued.token);
    }
    EXPECT_EQ(engine_.revision(), model_.revision()) << "revision (L1)" << Where();
  }

  // I2, I4: moves the clock forward (`percent` of the calls): mostly by
  // minutes to days, sometimes past a whole invitation lifetime, sometimes
  // to exactly the expiry of a pending invitation or 1 ns before it.
  void MaybeAdvanceClock(int percent) {
    if (!gen_.Chance(percent)) return;
    const int64_t now = clock_->now_ns();
    constexpr int64_t kSecond = 1'000'000'000;
    int64_t delta = 0;
    const uint64_t r = gen_.Below(100);
    std::vector<int64_t> expiries;
    if (r < 12) {
      for (const auto& [id, it] : model_.invitations()) {
        if (it.state == "pending" && it.expires_at_ns > now) expiries.push_back(it.expires_at_ns);
      }
    }
    if (!expiries.empty()) {
      delta = gen_.PickFrom(expiries) - now - static_cast<int64_t>(gen_.Below(2));
    } else if (r < 70) {
      delta = static_cast<int64_t>(gen_.Below(6 * 3600)) * kSecond;
    } else if (r < 95) {
      delta = static_cast<int64_t>(gen_.Below(3 * 86400)) * kSecond;
    } else {
      delta = 8 * 86400 * kSecond;
    }
    clock_->advance_ns(delta);
    model_.SetNow(clock_->now_ns());
    Remember(absl::StrCat("(clock + ", delta, " ns)"));
  }

  void Remember(std::string line) {
    if (trace_) std::cout << "[ trace ] " << step_ << " " << line << "\n";
    recent_.push_back(std::move(line));
    if (recent_.size() > 40) recent_.pop_front();
  }

  void ReportRecent() {
    ADD_FAILURE() << "the last changes (oldest first):\n  " << absl::StrJoin(recent_, "\n  ")
                  << Where();
  }

  void CompareCheck(UserId user, WorkspaceId ws, const std::string& permission) {
    const PermissionId id = perms_.at(permission);
    const bool got = engine_.check(user, ws, id);
    const bool want = model_.Check(user, ws, permission);
    if (got == want) return;
    absl::StatusOr<Decision> why = engine_.explain(user, ws, id);
    ADD_FAILURE() << "check(" << user << ", " << ws << ", " << permission << "): engine " << got
                  << " (" << (why.ok() ? why->reason : why.status().ToString()) << "), model "
                  << want << Where();
  }

  void CompareWorkspacesFor(UserId user) {
    const std::vector<WorkspaceId> got = engine_.workspaces_for(user);
    const std::vector<WorkspaceId> want = model_.WorkspacesFor(user);
    if (got != want) {
      // Where they differ, what check and explain say there.
      std::string differences;
      for (const auto& [id, ws] : model_.workspaces()) {
        const bool in_got = std::find(got.begin(), got.end(), id) != got.end();
        const bool in_want = std::find(want.begin(), want.end(), id) != want.end();
        if (in_got == in_want) continue;
        absl::StatusOr<Decision> why = engine_.explain(user, id, perms_.at("workspace.switch"));
        absl::StrAppend(&differences, "\n    workspace ", id, ": engine lists it ", in_got,
                        ", model ", in_want, "; engine check ",
                        engine_.check(user, id, perms_.at("workspace.switch")), " (",
                        why.ok() ? why->reason : why.status().ToString(), ")");
      }
      ADD_FAILURE() << "workspaces_for(" << user << ") (A5): engine {" << absl::StrJoin(got, ", ")
                    << "}, model {" << absl::StrJoin(want, ", ") << "}" << differences << Where();
    }
    EXPECT_EQ(engine_.active_workspace(user), model_.ActiveWorkspace(user))
        << "active_workspace(" << user << ") (S1)" << Where();
  }

  // The workspace's attributes and direct members (T3-T5, M3, M4).
  void CompareWorkspace(WorkspaceId id) {
    const reference::WorkspaceState* want = model_.FindWorkspace(id);
    absl::StatusOr<WorkspaceInfo> got = engine_.workspace(id);
    if (want == nullptr) {
      EXPECT_FALSE(got.ok()) << "workspace " << id << " should not exist" << Where();
      return;
    }
    ASSERT_TRUE(got.ok()) << got.status() << Where();
    const auto expected_type = want->agency ? WorkspaceType::kAgency : WorkspaceType::kSimple;
    const auto expected_status =
        want->active ? WorkspaceStatus::kActive : WorkspaceStatus::kInactive;
    EXPECT_TRUE(got->account == want->account && got->name == want->name &&
                got->slug == want->slug && got->type == expected_type &&
                got->status == expected_status && got->parent == want->parent &&
                got->owner == want->owner && got->depth == model_.Depth(id))
        << "workspace " << id << ": engine {" << got->account << ", " << Quote(got->name) << ", "
        << got->slug << ", parent " << got->parent << ", owner " << got->owner << ", depth "
        << got->depth << "}, model {" << want->account << ", " << Quote(want->name) << ", "
        << want->slug << ", parent " << want->parent << ", owner " << want->owner << ", depth "
        << model_.Depth(id) << "}" << Where();
    std::vector<Member> expected;
    for (const auto& [user, role] : want->members) expected.push_back(Member{user, role});
    absl::StatusOr<std::vector<Member>> members = engine_.members(id);
    ASSERT_TRUE(members.ok()) << members.status() << Where();
    EXPECT_TRUE(*members == expected) << "members(" << id << ") differ" << Where();
  }

  // M9: the team's workspace, name, role and members.
  void CompareTeam(TeamId id) {
    const reference::TeamState* want = model_.FindTeam(id);
    absl::StatusOr<TeamInfo> got = engine_.team(id);
    if (want == nullptr) {
      EXPECT_TRUE(absl::IsNotFound(got.status()))
          << "team " << id << " should not exist" << Where();
      return;
    }
    ASSERT_TRUE(got.ok()) << got.status() << Where();
    const std::vector<UserId> members(want->members.begin(), want->members.end());
    EXPECT_TRUE(got->id == id && got->workspace == want->workspace && got->name == want->name &&
                got->role == want->role && got->members == members)
        << "team " << id << ": engine {ws " << got->workspace << ", " << Quote(got->name) << ", "
        << got->role << ", [" << absl::StrJoin(got->members, ",") << "]}, model {ws "
        << want->workspace << ", " << Quote(want->name) << ", " << want->role << ", ["
        << absl::StrJoin(members, ",") << "]}" << Where();
  }

  // I1, I2: what invitation() says, its state string above all.
  void CompareInvitation(InvitationId id) {
    const reference::InvitationState* want = model_.FindInvitation(id);
    absl::StatusOr<InvitationInfo> got = engine_.invitation(id);
    if (want == nullptr) {
      EXPECT_TRUE(absl::IsNotFound(got.status()))
          << "invitation " << id << " should not exist" << Where();
      return;
    }
    ASSERT_TRUE(got.ok()) << got.status() << Where();
    const std::string state = model_.InvitationStateName(*want);
    EXPECT_TRUE(got->id == id && got->staff == want->staff && got->account == want->account &&
                got->workspace == want->workspace && got->email == want->email &&
                got->role == want->role && got->expires_at_ns == want->expires_at_ns &&
                got->state == state && got->invited_by == want->invited_by &&
                got->accepted_by == want->accepted_by)
        << "invitation " << id << ": engine {" << got->state << ", staff " << got->staff << ", ws "
        << got->workspace << ", " << got->email << ", " << got->role << ", expires "
        << got->expires_at_ns << ", by " << Id(got->invited_by) << ", accepted by "
        << got->accepted_by << "}, model {" << state << ", staff " << want->staff << ", ws "
        << want->workspace << ", " << want->email << ", " << want->role << ", expires "
        << want->expires_at_ns << ", by " << Id(want->invited_by) << ", accepted by "
        << want->accepted_by << "}, now " << model_.now_ns() << Where();
  }

  // M6: the resolved permissions of a built-in or custom role.
  void CompareRolePermissions(AccountId account, const std::string& role) {
    absl::StatusOr<std::vector<std::string>> got = engine_.role_permissions(account, role);
    absl::StatusOr<std::vector<std::string>> want = model_.RolePermissions(account, role);
    ASSERT_EQ(got.status().code(), want.status().code())
        << "role_permissions(" << account << ", " << role << "): engine " << got.status()
        << ", model " << want.status() << Where();
    if (got.ok()) {
      EXPECT_EQ(*got, *want) << "role_permissions(" << account << ", " << role << ")" << Where();
    }
  }

  // The teams and invitations of every workspace, and every team and
  // invitation (X2: a failed batch leaves them all as they were).
  void CompareTeamsAndInvitations() {
    for (const auto& [id, team] : model_.teams()) CompareTeam(id);
    CompareTeam(model_.next_team());
    for (const auto& [id, invitation] : model_.invitations()) CompareInvitation(id);
    CompareInvitation(model_.next_invitation());
    std::map<WorkspaceId, std::vector<InvitationId>> by_workspace;
    for (const auto& [id, invitation] : model_.invitations()) {
      if (!invitation.staff) by_workspace[invitation.workspace].push_back(id);
    }
    for (const auto& [id, ws] : model_.workspaces()) {
      absl::StatusOr<std::vector<TeamId>> teams = engine_.teams(id);
      ASSERT_TRUE(teams.ok()) << teams.status() << Where();
      EXPECT_EQ(*teams, std::vector<TeamId>(ws.teams.begin(), ws.teams.end()))
          << "teams(" << id << ") (M9)" << Where();
      absl::StatusOr<std::vector<InvitationInfo>> invitations = engine_.invitations(id);
      ASSERT_TRUE(invitations.ok()) << invitations.status() << Where();
      std::vector<InvitationId> ids;
      for (const InvitationInfo& info : *invitations) ids.push_back(info.id);
      EXPECT_EQ(ids, by_workspace[id]) << "invitations(" << id << ") (I1)" << Where();
    }
  }

  void CompareAccount(AccountId id) {
    const reference::AccountState& want = model_.accounts().at(id);
    absl::StatusOr<AccountInfo> got = engine_.account(id);
    ASSERT_TRUE(got.ok()) << got.status() << Where();
    EXPECT_EQ(got->workspace_count, static_cast<int64_t>(want.workspaces.size())) << Where();
    EXPECT_EQ(got->owner, want.owner) << Where();
    EXPECT_EQ(got->plan.name, want.plan_name) << Where();
    for (UserId user = 1; user <= kUsers; ++user) {
      auto it = want.staff.find(user);
      absl::StatusOr<std::pair<std::string, StaffScope>> staff = engine_.staff(id, user);
      if (it == want.staff.end()) {
        EXPECT_FALSE(staff.ok()) << "user " << user << " staff of " << id << Where();
        continue;
      }
      ASSERT_TRUE(staff.ok()) << staff.status() << Where();
      std::vector<WorkspaceId> scope(it->second.scope.begin(), it->second.scope.end());
      EXPECT_TRUE(staff->first == it->second.role && staff->second.all == it->second.all &&
                  (it->second.all || staff->second.workspaces == scope))
          << "staff(" << id << ", " << user << "): engine " << staff->first << " "
          << ScopeText(staff->second) << ", model " << it->second.role << " "
          << ScopeText(it->second.all ? StaffScope::All() : StaffScope::Of(scope)) << Where();
    }
  }

  // A random (user, workspace) pair, the user usually related to it.
  std::pair<UserId, WorkspaceId> RandomPair() {
    const WorkspaceId ws = gen_.Workspace(model_);
    return {gen_.RelatedUser(model_, ws), ws};
  }

  // `pairs` random (user, workspace) pairs with `per_pair` permissions each.
  void CompareSample(int pairs, int per_pair, int lists) {
    for (int i = 0; i < pairs; ++i) {
      auto [user, ws] = RandomPair();
      for (int k = 0; k < per_pair; ++k) CompareCheck(user, ws, gen_.Permission());
    }
    for (int i = 0; i < lists; ++i) CompareWorkspacesFor(gen_.User());
    for (int i = 0; i < 2; ++i) {
      const UserId user = gen_.User();
      EXPECT_EQ(engine_.active_workspace(user), model_.ActiveWorkspace(user))
          << "active_workspace(" << user << ") (S1)" << Where();
    }
    CompareWorkspace(gen_.Workspace(model_));
    CompareTeam(gen_.Team(model_));
    CompareInvitation(gen_.Invitation(model_));
  }

  // M6: one account's role, mostly a custom one.
  void CompareSampledRole() {
    static const char* const kOthers[] = {"client", "viewer", "owner", "ghost", "Admin"};
    const AccountId account = gen_.Account(model_);
    CompareRolePermissions(account,
                           gen_.Chance(75) ? gen_.PickFrom(kCustomRoles) : gen_.PickFrom(kOthers));
  }

  // Every permission for one random pair; explain agrees with check (A4).
  void CompareAllPermissions() {
    auto [user, ws] = RandomPair();
    for (const std::string& permission : reference::PermissionNames()) {
      CompareCheck(user, ws, permission);
      absl::StatusOr<Decision> why = engine_.explain(user, ws, perms_.at(permission));
      ASSERT_TRUE(why.ok()) << why.status() << Where();
      EXPECT_EQ(why->allowed, model_.Check(user, ws, permission))
          << "explain(" << user << ", " << ws << ", " << permission << "): " << why->reason
          << Where();
      if (why->allowed) CheckExplanation(user, ws, permission, *why);
    }
  }

  // A4: an allowing explanation cites a grant the model knows of (direct,
  // team, inherited from an ancestor (not client-family), staff), whose role
  // holds the permission.
  void CheckExplanation(UserId user, WorkspaceId ws, const std::string& permission,
                        const Decision& why) {
    const reference::WorkspaceState* in = model_.FindWorkspace(ws);
    const reference::WorkspaceState* at = model_.FindWorkspace(why.via_workspace);
    if (in == nullptr || at == nullptr) {
      ADD_FAILURE() << "explain cites workspace " << why.via_workspace << Where();
      return;
    }
    const reference::AccountState& account = *model_.FindAccount(in->account);
    // The role held at `at`, directly (team 0) or through the team.
    auto holds = [&](uint64_t team) {
      if (team == 0) {
        auto it = at->members.find(user);
        return it != at->members.end() && it->second == why.role;
      }
      const reference::TeamState* t = model_.FindTeam(team);
      return t != nullptr && t->workspace == why.via_workspace && t->members.count(user) > 0 &&
             t->role == why.role;
    };
    bool cited = false;
    switch (why.path) {
      case AccessPath::kDirect:
        cited = why.via_workspace == ws && holds(0);
        break;
      case AccessPath::kTeam:
        cited = why.via_workspace == ws && why.via_team != 0 && holds(why.via_team);
        break;
      case AccessPath::kInherited: {
        const std::set<WorkspaceId> below = model_.Subtree(why.via_workspace);
        cited = why.via_workspace != ws && below.count(ws) > 0 && why.role != "client" &&
                account.client_family.count(why.role) == 0 &&
                (holds(0) || std::any_of(at->teams.begin(), at->teams.end(), holds));
        break;
      }
      case AccessPath::kStaff:
        cited = why.via_workspace == ws && account.staff.count(user) > 0;
        break;
      case AccessPath::kNone:
        break;
    }
    std::vector<std::string> perms;
    if (why.path == AccessPath::kStaff && cited) {
      const std::set<std::string>& granted =
          reference::StaffPermissions(account.staff.at(user).role, account.staff_member_role);
      perms.assign(granted.begin(), granted.end());
    } else if (absl::StatusOr<std::vector<std::string>> role =
                   model_.RolePermissions(in->account, why.role);
               role.ok()) {
      perms = *role;
    }
    EXPECT_TRUE(cited && std::find(perms.begin(), perms.end(), permission) != perms.end())
        << "explain(" << user << ", " << ws << ", " << permission << ") cites path "
        << static_cast<int>(why.path) << ", role " << why.role << " in " << why.via_workspace
        << " (team " << why.via_team << "): " << why.reason << Where();
  }

  // Every pair for the focus permissions, every list, every entity, and
  // the engine's own invariants.
  void CompareExhaustively() {
    std::vector<WorkspaceId> all_ws = {0, model_.next_workspace()};
    for (const auto& [id, ws] : model_.workspaces()) all_ws.push_back(id);
    // A few deleted ones (T7): unknown everywhere.
    for (int i = 0; i < 6; ++i) {
      const WorkspaceId id = 1 + gen_.Below(model_.next_workspace() - 1);
      if (model_.FindWorkspace(id) == nullptr) all_ws.push_back(id);
    }
    std::vector<UserId> users;
    std::vector<WorkspaceId> workspaces;
    std::vector<PermissionId> permissions;
    std::vector<uint8_t> decisions;
    for (UserId user = 0; user <= kUsers + 1; ++user) {
      CompareWorkspacesFor(user);
      for (WorkspaceId ws : all_ws) {
        for (const char* permission : kExhaustive) {
          CompareCheck(user, ws, permission);
          users.push_back(user);
          workspaces.push_back(ws);
          permissions.push_back(perms_.at(permission));
          decisions.push_back(model_.Check(user, ws, permission) ? 1 : 0);
        }
      }
    }
    // A6: one batch of the same questions gives the same answers.
    std::vector<uint8_t> answers(users.size(), 2);
    EXPECT_TRUE(engine_.check_many(users, workspaces, permissions, absl::MakeSpan(answers)).ok());
    EXPECT_TRUE(answers == decisions) << "check_many (A6)" << Where();
    for (const char* permission : {"workspace.switch", "runs.trigger"}) {
      const PermissionId id = perms_.at(permission);
      for (WorkspaceId ws : all_ws) {
        std::vector<UserId> expected;
        for (UserId user = 1; user <= kUsers; ++user) {
          if (model_.Check(user, ws, permission)) expected.push_back(user);
        }
        EXPECT_EQ(engine_.who_can(ws, id), expected)
            << "who_can(" << ws << ", " << permission << ") (A5)" << Where();
      }
      for (UserId user = 1; user <= kUsers; ++user) {
        std::vector<WorkspaceId> expected;
        for (const auto& [ws, state] : model_.workspaces()) {
          if (model_.Check(user, ws, permission)) expected.push_back(ws);
        }
        EXPECT_EQ(engine_.accessible(user, id), expected)
            << "accessible(" << user << ", " << permission << ") (A5)" << Where();
      }
    }
    for (WorkspaceId ws : all_ws) CompareWorkspace(ws);
    for (const auto& [id, account] : model_.accounts()) {
      CompareAccount(id);
      for (const char* role : kCustomRoles) CompareRolePermissions(id, role);
      for (const char* role : {"owner", "client", "viewer", "nobody"}) {
        CompareRolePermissions(id, role);
      }
    }
    CompareTeamsAndInvitations();
    uint64_t memberships = 0;
    for (const auto& [id, ws] : model_.workspaces()) memberships += ws.members.size();
    EXPECT_EQ(engine_.stats().workspaces, model_.workspaces().size()) << Where();
    EXPECT_EQ(engine_.stats().memberships, memberships) << Where();
    const absl::Status verified = engine_.verify();
    EXPECT_TRUE(verified.ok()) << verified << Where();
  }

  void PrintTally() const {
    int depth = 0;
    for (const auto& [id, ws] : model_.workspaces()) depth = std::max(depth, model_.Depth(id));
    size_t roles = 0;
    for (const auto& [id, account] : model_.accounts()) roles += account.roles.size();
    std::map<std::string, int> states;
    for (const auto& [id, it] : model_.invitations()) ++states[model_.InvitationStateName(it)];
    std::vector<std::string> state_counts;
    for (const auto& [state, count] : states) {
      state_counts.push_back(absl::StrCat(state, "=", count));
    }
    std::cout << "[ differential ] TENANTRY_SEED=" << seed_ << ", " << step_ << " changes, "
              << model_.workspaces().size() << " workspaces (" << model_.next_workspace() - 1
              << " made), depth up to " << depth << ", " << roles << " custom roles, "
              << model_.teams().size()
              << " teams, invitations kept: " << absl::StrJoin(state_counts, " ")
              << "; outcomes per change:\n";
    for (const auto& [op, codes] : tally_) {
      std::vector<std::string> parts;
      for (const auto& [outcome, count] : codes) parts.push_back(absl::StrCat(outcome, "=", count));
      std::cout << "    " << op << ": " << absl::StrJoin(parts, " ") << "\n";
    }
  }

  void CountBatch(int steps) { step_ += steps; }
  void SetLast(std::string last) { last_ = std::move(last); }
  // Counts outcomes by change, code and the rule the engine's message names,
  // to show which refusals a run exercised.
  void Tally(Op op, const absl::Status& status) {
    std::string outcome(absl::StatusCodeToString(status.code()));
    const absl::string_view message = status.message();
    const size_t open = message.rfind('(');
    if (!status.ok() && open != absl::string_view::npos) {
      absl::StrAppend(&outcome, message.substr(open));
    }
    ++tally_[OpName(op)][outcome];
  }

 private:
  uint64_t seed_;
  std::shared_ptr<ManualClock> clock_;
  Engine engine_;
  Model model_;
  Generator gen_;
  std::map<std::string, PermissionId> perms_;
  int step_ = 0;
  std::string last_ = "setup";
  std::deque<std::string> recent_;
  // TENANTRY_TRACE=1 prints every change and its outcome.
  bool trace_ = EnvNumber("TENANTRY_TRACE", 0) != 0;
  std::map<std::string, std::map<std::string, int>> tally_;
};

TEST(Differential, A1_A5_RandomChangesAgreeWithReferenceModel) {
  const uint64_t seed = EnvNumber("TENANTRY_SEED", kDefaultSeed);
  const auto steps = static_cast<int>(EnvNumber("TENANTRY_STEPS", 100000));
  SCOPED_TRACE(absl::StrCat("TENANTRY_SEED=", seed));
  Harness h(seed, seed);
  ASSERT_NO_FATAL_FAILURE(h.Setup());
  ASSERT_NO_FATAL_FAILURE(h.BuildDeepChain());
  while (h.step() < steps) {
    h.MaybeAdvanceClock(/*percent=*/2);
    h.Step(h.gen().Next(h.model()));
    // workspaces_for costs a check per workspace: one user every third step
    // keeps a Debug run near 30 s.
    h.CompareSample(/*pairs=*/4, /*per_pair=*/4, /*lists=*/h.step() % 3 == 0);
    if (h.step() % 10 == 0) h.CompareSampledRole();
    if (h.step() % 100 == 0) h.CompareAllPermissions();
    if (h.step() % 1000 == 0) h.CompareExhaustively();
    if (h.step() % 2500 == 0) h.RegrowDeepChain(absl::StrCat(" #", h.step()));
    if (::testing::Test::HasFailure()) {
      h.ReportRecent();
      return;
    }
  }
  h.CompareExhaustively();
  h.PrintTally();
}

// X2: a batch applies every change in one version, or none. Batches are
// built to succeed or to fail at a chosen index (the changes after it are
// never reached); later changes may use workspaces and teams made earlier in
// the batch. A Batch cannot issue invitation tokens, so invitations are made
// one at a time between batches, which then accept and revoke them.
TEST(Differential, X2_BatchesAreAllOrNothing) {
  const uint64_t seed = EnvNumber("TENANTRY_SEED", kDefaultSeed);
  SCOPED_TRACE(absl::StrCat("TENANTRY_SEED=", seed));
  Harness h(seed, seed ^ 0x9E3779B97F4A7C15ull);  // other changes than the test above
  ASSERT_NO_FATAL_FAILURE(h.Setup());
  ASSERT_NO_FATAL_FAILURE(h.BuildDeepChain());
  Generator& gen = h.gen();
  int batches = 0, failed = 0;
  while (h.step() < 20000) {
    if (gen.Chance(40)) {
      for (uint64_t i = 1 + gen.Below(3); i > 0; --i) h.Step(gen.NextInvitation(h.model()));
    }
    h.MaybeAdvanceClock(/*percent=*/10);
    const auto size = static_cast<size_t>(1 + gen.Below(gen.Chance(20) ? 40 : 12));
    const int fail_at = gen.Chance(45) ? static_cast<int>(gen.Below(size)) : -1;
    std::vector<Change> changes;
    Model scratch = h.model();
    scratch.BeginBatch();
    while (changes.size() < size) {
      // Up to 30 tries to draw a change that succeeds (or fails, at
      // fail_at). A refused change leaves the model as it was.
      const bool want_ok = static_cast<int>(changes.size()) != fail_at;
      Change c = gen.Next(scratch, /*batch=*/true);
      for (int tries = 0; tries < 30; ++tries) {
        if (want_ok && ApplyToModel(scratch, c).ok()) break;
        if (!want_ok) {
          Model trial = scratch;
          if (!ApplyToModel(trial, c).ok()) break;
        }
        c = gen.Next(scratch, /*batch=*/true);
      }
      changes.push_back(c);
    }
    // What the batch should do, replayed on a copy of the committed model.
    Model expected = h.model();
    expected.BeginBatch();
    int failing = -1;
    absl::Status failure;
    std::vector<uint64_t> ids;
    Batch batch;
    std::vector<std::string> described;
    for (size_t i = 0; i < changes.size(); ++i) {
      AddToBatch(batch, changes[i]);
      described.push_back(absl::StrCat("#", i, " ", Describe(changes[i])));
      if (failing >= 0) continue;
      absl::StatusOr<uint64_t> result = ApplyToModel(expected, changes[i]);
      h.Tally(changes[i].op, result.status());
      if (result.ok()) {
        ids.push_back(*result);
      } else {
        failing = static_cast<int>(i);
        failure = result.status();
      }
    }
    h.CountBatch(static_cast<int>(changes.size()));
    h.SetLast(absl::StrCat("batch ", batches, ":\n    ", absl::StrJoin(described, "\n    ")));
    const uint64_t revision_before = h.engine().revision();
    absl::StatusOr<std::vector<uint64_t>> got = h.engine().apply(batch);
    TNY_EXPECT_RULES_CARRIED(got.status()) << h.Where();
    ++batches;
    if (failing >= 0) {
      ++failed;
      EXPECT_EQ(got.status().code(), failure.code())
          << "engine " << got.status() << "; model: change #" << failing << " " << failure
          << h.Where();
      if (!got.ok()) {
        EXPECT_TRUE(
            absl::StartsWith(got.status().message(), absl::StrCat("change #", failing, " (")))
            << got.status() << h.Where();
      }
      EXPECT_EQ(h.engine().revision(), revision_before)
          << "a failed batch moved the revision" << h.Where();
      absl::StatusOr<std::vector<AuditRecord>> feed = h.engine().changes_since(revision_before);
      EXPECT_TRUE(feed.ok() && feed->empty())
          << "a failed batch left audit records (L1)" << h.Where();
      // Nothing changed: every entity still matches the committed model.
      for (const auto& [id, ws] : h.model().workspaces()) h.CompareWorkspace(id);
      h.CompareWorkspace(h.model().next_workspace());
      h.CompareTeamsAndInvitations();
    } else {
      expected.EndBatch();
      EXPECT_TRUE(got.ok()) << got.status() << h.Where();
      if (got.ok()) {
        EXPECT_EQ(got->size(), changes.size()) << h.Where();
        std::vector<uint64_t> nonzero;
        for (uint64_t id : *got) {
          if (id != 0) nonzero.push_back(id);
        }
        std::vector<uint64_t> expected_ids;
        for (uint64_t id : ids) {
          if (id != 0) expected_ids.push_back(id);
        }
        EXPECT_EQ(nonzero, expected_ids) << "created ids" << h.Where();
      }
      h.model() = std::move(expected);
      EXPECT_EQ(h.engine().revision(), h.model().revision()) << "revision (L1)" << h.Where();
      // L1: one record per change, revisions consecutive.
      absl::StatusOr<std::vector<AuditRecord>> feed = h.engine().changes_since(revision_before);
      ASSERT_TRUE(feed.ok()) << feed.status() << h.Where();
      ASSERT_EQ(feed->size(), changes.size()) << h.Where();
      for (size_t i = 0; i < feed->size(); ++i) {
        EXPECT_EQ((*feed)[i].revision, revision_before + 1 + i) << h.Where();
      }
    }
    h.CompareSample(/*pairs=*/10, /*per_pair=*/4, /*lists=*/4);
    if (batches % 100 == 0) h.CompareExhaustively();
    if (::testing::Test::HasFailure()) return;
  }
  h.CompareExhaustively();
  std::cout << "[ differential ] " << batches << " batches, " << failed << " failed, " << h.step()
            << " changes\n";
}

}  // namespace
}  // namespace tenantry
