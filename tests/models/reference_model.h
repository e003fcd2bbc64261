// Copyright 2026 The tenantry Authors.
//
// A reference model of the tenant graph and the access rules, for the
// differential test: a second, deliberately simple implementation written
// from docs/rules.md sections 1-5 (T1-T5, T7, M1-M6, M8-M10, A1-A3, A5, S1, I1-I4)
// and docs/decisions.md, docs/invitations.md. Plain std::map and std::set,
// permissions by name, no concurrency, no versions, no cleverness: every
// question is answered by walking the data.
//
// It decides (1) whether a change is accepted and with which status code
// (section 10), checking in the engine's order (existence, then the
// actor's authorization (M10), then the rule) so that when several refusals
// apply the first one matches, and (2) `check` and `workspaces_for`. A
// failed change changes nothing.
//
// Tokens (I1) are random: the model cannot make them. `Invite`,
// `InviteStaff` and `Resend` decide everything else; the caller then hands
// the engine's token to `IssueToken`, and from then on exactly that string
// accepts the invitation. Time (I2, I4) is what `SetNow` last said.
//
// Not thread-safe. Copyable: a batch (X2) is tried on a copy.
#ifndef TENANTRY_TESTS_REFERENCE_MODEL_H_
#define TENANTRY_TESTS_REFERENCE_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tenantry/types.h"

namespace tenantry::reference {

// M7: the built-in permission names, as M7 lists them.
const std::vector<std::string>& PermissionNames();

// M3, M8: the permissions of a workspace role ("owner" ... "viewer",
// "client"), computed from the permission names; empty for any other name.
const std::set<std::string>& WorkspaceRolePermissions(const std::string& role);
// M3: "owner", "admin", "manager", "member", "viewer" or "client".
bool IsBuiltinRole(const std::string& role);

// M8: what an account role grants in a workspace of its scope. `owner` and
// `admin` grant the workspace role of that name plus `account.*` and
// `credits.transfer`; `member` grants `staff_member_role`.
const std::set<std::string>& StaffPermissions(const std::string& account_role,
                                              const std::string& staff_member_role);

// T2: the workspace limit of a built-in plan name (-1 = unlimited), and
// whether it allows agency workspaces. Any other name: 1, no agency.
int64_t NamedPlanLimit(const std::string& name);
bool NamedPlanAgency(const std::string& name);

struct StaffMember {
  std::string role;  // "owner", "admin" or "member" (M2)
  bool all = false;
  std::set<WorkspaceId> scope;  // when !all
};

// M6: a custom role as define_role last gave it.
struct CustomRole {
  std::set<std::string> own;  // the permissions it names
  std::string inherits;       // a built-in or custom role of the account; "" = none
};

struct AccountState {
  std::string name;
  std::string plan_name;
  int64_t workspace_limit = 1;  // -1 = unlimited (T2)
  bool agency = false;          // T4
  UserId owner = 0;
  bool member_default_all = true;           // M2
  std::string staff_member_role = "admin";  // M8
  std::map<UserId, StaffMember> staff;
  std::set<WorkspaceId> workspaces;
  std::set<std::string> slugs;              // T3
  std::map<std::string, CustomRole> roles;  // M6, by name
  // Derived from `roles` after every define_role: each custom role's own
  // and inherited permissions, and the roles built (transitively) on
  // `client` (A3, M5).
  std::map<std::string, std::set<std::string>> resolved;
  std::set<std::string> client_family;
};

struct UserState {
  std::string key;
  WorkspaceId active_workspace = 0;  // S1; 0 = none
};

struct WorkspaceState {
  AccountId account = 0;
  std::string name;  // trimmed (T3)
  std::string slug;
  bool agency = false;
  bool active = true;
  WorkspaceId parent = 0;
  UserId owner = 0;
  std::map<UserId, std::string> members;  // direct roles (M3)
  std::set<TeamId> teams;                 // M9
};

// M9: a named group of users in one workspace, holding one role there.
struct TeamState {
  WorkspaceId workspace = 0;
  std::string name;  // trimmed (T3)
  std::string role;
  std::set<UserId> members;
};

// I1-I2: a workspace invitation, or a staff one (an account role).
struct InvitationState {
  bool staff = false;
  AccountId account = 0;
  WorkspaceId workspace = 0;  // 0 for staff invitations
  std::string email;          // normalized like a user key (M1)
  std::string role;           // workspace role, or account role for staff
  bool scope_all = true;      // staff: the scope given on accept
  std::set<WorkspaceId> scope;
  int64_t expires_at_ns = 0;
  std::string state = "pending";  // "pending", "accepted" or "revoked"
  UserId invited_by = 0;
  UserId accepted_by = 0;
  std::string token;  // the only string that accepts it now; "" = none
};

class Model {
 public:
  // I2: how long a new or resent invitation stays acceptable.
  explicit Model(int64_t invitation_ttl_s = 7 * 24 * 3600) : invitation_ttl_s_(invitation_ttl_s) {}

  // I4: the time every following change sees.
  void SetNow(int64_t now_ns) { now_ns_ = now_ns; }
  int64_t now_ns() const { return now_ns_; }

  // ---- Setup; the same ids as the engine (1, 2, 3 ... per kind) ----
  absl::StatusOr<UserId> CreateUser(const std::string& key);
  absl::StatusOr<AccountId> CreateAccount(const AccountSpec& spec);

  // ---- The changes, validated like the engine's ----
  absl::Status SetPlan(UserId actor, AccountId account, const Plan& plan);
  absl::Status AddStaff(UserId actor, AccountId account, UserId user, const std::string& role,
                        const std::optional<StaffScope>& scope);
  absl::Status SetStaffScope(UserId actor, AccountId account, UserId user, const StaffScope& scope);
  absl::Status RemoveStaff(UserId actor, AccountId account, UserId user);
  absl::StatusOr<WorkspaceId> CreateWorkspace(UserId actor, AccountId account,
                                              const WorkspaceSpec& spec);
  absl::Status RenameWorkspace(UserId actor, WorkspaceId workspace, const std::string& name);
  absl::Status SetStatus(UserId actor, WorkspaceId workspace, WorkspaceStatus status);
  absl::Status AddMember(UserId actor, WorkspaceId workspace, UserId user, const std::string& role);
  absl::Status SetRole(UserId actor, WorkspaceId workspace, UserId user, const std::string& role);
  absl::Status RemoveMember(UserId actor, WorkspaceId workspace, UserId user);
  absl::Status TransferOwnership(UserId actor, WorkspaceId workspace, UserId new_owner);
  absl::Status SwitchWorkspace(UserId user, WorkspaceId workspace);
  // T7: the workspace and its subtree, with everything scoped to them.
  absl::Status DeleteWorkspace(UserId actor, WorkspaceId workspace, const std::string& confirm);

  // M6
  absl::Status DefineRole(UserId actor, AccountId account, const std::string& name,
                          const std::vector<std::string>& permissions, const std::string& inherits);
  // M9
  absl::StatusOr<TeamId> CreateTeam(UserId actor, WorkspaceId workspace, const std::string& name,
                                    const std::string& role);
  absl::Status AddTeamMember(UserId actor, TeamId team, UserId user);
  absl::Status RemoveTeamMember(UserId actor, TeamId team, UserId user);
  absl::Status SetTeamRole(UserId actor, TeamId team, const std::string& role);
  absl::Status DeleteTeam(UserId actor, TeamId team);

  // I1-I3. Invite, InviteStaff and Resend leave the invitation without a
  // working token until IssueToken gives it one.
  absl::StatusOr<InvitationId> Invite(UserId actor, WorkspaceId workspace, const std::string& email,
                                      const std::string& role);
  absl::StatusOr<InvitationId> InviteStaff(UserId actor, AccountId account,
                                           const std::string& email, const std::string& role,
                                           const std::optional<StaffScope>& scope);
  absl::StatusOr<InvitationId> Resend(UserId actor, InvitationId invitation);
  void IssueToken(InvitationId invitation, const std::string& token);
  absl::Status Accept(const std::string& token, UserId user);
  absl::Status RevokeInvitation(UserId actor, InvitationId invitation);

  // X2: between BeginBatch and EndBatch, S1 sessions are revalidated once,
  // at the end, as the engine does for one published version.
  void BeginBatch() { in_batch_ = true; }
  void EndBatch();

  // ---- Reads ----
  // A1-A3, T5: false for unknown ids and unknown permission names.
  bool Check(UserId user, WorkspaceId workspace, const std::string& permission) const;
  // A5: active workspaces where Check(user, ws, "workspace.switch"), by name then id.
  std::vector<WorkspaceId> WorkspacesFor(UserId user) const;
  std::optional<WorkspaceId> ActiveWorkspace(UserId user) const;
  // Depth of a workspace (1 = top level); 0 for an unknown id.
  int Depth(WorkspaceId workspace) const;
  // The workspace and every workspace below it; empty for an unknown id.
  std::set<WorkspaceId> Subtree(WorkspaceId workspace) const;
  // M6: the resolved permission names of a built-in role, or of a custom
  // role of the account, sorted; NotFound otherwise.
  absl::StatusOr<std::vector<std::string>> RolePermissions(AccountId account,
                                                           const std::string& role) const;
  // I2: "pending", "accepted", "revoked", or "expired" for a pending one
  // whose time is up.
  std::string InvitationStateName(const InvitationState& invitation) const;
  // M1: the user with that (normalized) key, or 0.
  UserId UserWithKey(const std::string& key) const;

  // L1: one revision per accepted change.
  uint64_t revision() const { return revision_; }
  const std::map<AccountId, AccountState>& accounts() const { return accounts_; }
  const std::map<UserId, UserState>& users() const { return users_; }
  const std::map<WorkspaceId, WorkspaceState>& workspaces() const { return workspaces_; }
  const std::map<TeamId, TeamState>& teams() const { return teams_; }
  const std::map<InvitationId, InvitationState>& invitations() const { return invitations_; }
  const WorkspaceState* FindWorkspace(WorkspaceId id) const;
  const AccountState* FindAccount(AccountId id) const;
  const TeamState* FindTeam(TeamId id) const;
  const InvitationState* FindInvitation(InvitationId id) const;
  // The id the next created workspace (team, invitation) will get.
  WorkspaceId next_workspace() const { return next_workspace_; }
  TeamId next_team() const { return next_team_; }
  InvitationId next_invitation() const { return next_invitation_; }

 private:
  // Calls `visit` with the permissions of every role the user holds in the
  // workspace (direct, team, inherited, staff), whatever its status, until
  // it returns true; returns whether it did.
  template <class Visit>
  bool AnyHeldRole(UserId user, const WorkspaceState& ws, WorkspaceId id, const Visit& visit) const;
  bool InStaffScope(const StaffMember& staff, WorkspaceId id) const;

  absl::Status Authorize(UserId actor, WorkspaceId workspace, const std::string& permission) const;
  absl::Status AuthorizeAccount(UserId actor, AccountId account,
                                const std::string& permission) const;
  absl::Status AuthorizeRole(UserId actor, WorkspaceId workspace, const std::string& role) const;
  absl::Status ValidateScope(AccountId account, const StaffScope& scope) const;
  // M3, M6: a built-in role or a custom role of the account (InvalidArgument).
  absl::Status KnownRole(AccountId account, const std::string& role) const;
  // M6: the permissions of a known role; A3, M5: whether it is `client` or
  // built on it.
  const std::set<std::string>& PermissionsOf(const AccountState& account,
                                             const std::string& role) const;
  bool IsClientRole(const AccountState& account, const std::string& role) const;
  // M5: the user holds a client-family role (direct or through a team) in
  // a workspace of the account / is staff of it.
  bool IsClientIn(AccountId account, UserId user) const;
  bool IsStaffOf(AccountId account, UserId user) const;
  // M10: an actor may act on invitation `it` (members.invite in its
  // workspace, account.manage_staff for staff invitations).
  absl::Status AuthorizeInvitation(UserId actor, const InvitationState& it) const;

  // Every accepted change ends here: a revision, and S1 outside batches.
  void Accepted();
  void RevalidateSessions();

  std::map<AccountId, AccountState> accounts_;
  std::map<UserId, UserState> users_;
  std::map<WorkspaceId, WorkspaceState> workspaces_;
  std::map<TeamId, TeamState> teams_;
  std::map<InvitationId, InvitationState> invitations_;
  std::map<std::string, InvitationId> tokens_;  // the working token of each invitation
  std::set<std::string> user_keys_;
  std::set<std::string> account_keys_;
  AccountId next_account_ = 1;
  UserId next_user_ = 1;
  WorkspaceId next_workspace_ = 1;
  TeamId next_team_ = 1;
  InvitationId next_invitation_ = 1;
  uint64_t revision_ = 0;
  int64_t invitation_ttl_s_;
  int64_t now_ns_ = 0;
  bool in_batch_ = false;
};

}  // namespace tenantry::reference

#endif  // TENANTRY_TESTS_REFERENCE_MODEL_H_
