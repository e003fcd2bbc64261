// Copyright 2026 The tenantry Authors.
//
// A reference model of the tenant graph and the access rules, for the
// differential test: a second, deliberately simple implementation written
// from SPEC sections 1-4 (T1-T5, M1-M5, M8, M10, A1-A3, A5, S1). Plain
// std::map and std::set, permissions by name, no concurrency, no versions,
// no cleverness: every question is answered by walking the data.
//
// It decides (1) whether a change is accepted and with which status code
// (SPEC section 10), checking in the engine's order (existence, then the
// actor's authorization (M10), then the rule) so that when several refusals
// apply the first one matches, and (2) `check` and `workspaces_for`. A
// failed change changes nothing.
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

// M7: the built-in permission names, as SPEC M7 lists them.
const std::vector<std::string>& PermissionNames();

// M3, M8: the permissions of a workspace role ("owner" ... "viewer",
// "client"), computed from the permission names; empty for any other name.
const std::set<std::string>& WorkspaceRolePermissions(const std::string& role);

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
  std::set<std::string> slugs;  // T3
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
};

class Model {
 public:
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

  // L1: one revision per accepted change.
  uint64_t revision() const { return revision_; }
  const std::map<AccountId, AccountState>& accounts() const { return accounts_; }
  const std::map<UserId, UserState>& users() const { return users_; }
  const std::map<WorkspaceId, WorkspaceState>& workspaces() const { return workspaces_; }
  const WorkspaceState* FindWorkspace(WorkspaceId id) const;
  const AccountState* FindAccount(AccountId id) const;
  // The id the next created workspace will get.
  WorkspaceId next_workspace() const { return next_workspace_; }

 private:
  // Calls `visit` with the permissions of every role the user holds in the
  // workspace (direct, inherited, staff), whatever its status, until it
  // returns true; returns whether it did.
  template <class Visit>
  bool AnyHeldRole(UserId user, const WorkspaceState& ws, WorkspaceId id, const Visit& visit) const;
  bool InStaffScope(const StaffMember& staff, WorkspaceId id) const;

  absl::Status Authorize(UserId actor, WorkspaceId workspace, const std::string& permission) const;
  absl::Status AuthorizeAccount(UserId actor, AccountId account,
                                const std::string& permission) const;
  absl::Status AuthorizeRole(UserId actor, WorkspaceId workspace, const std::string& role) const;
  absl::Status ValidateScope(AccountId account, const StaffScope& scope) const;

  // Every accepted change ends here: a revision, and S1 outside batches.
  void Accepted();
  void RevalidateSessions();

  std::map<AccountId, AccountState> accounts_;
  std::map<UserId, UserState> users_;
  std::map<WorkspaceId, WorkspaceState> workspaces_;
  std::set<std::string> user_keys_;
  std::set<std::string> account_keys_;
  AccountId next_account_ = 1;
  UserId next_user_ = 1;
  WorkspaceId next_workspace_ = 1;
  uint64_t revision_ = 0;
  bool in_batch_ = false;
};

}  // namespace tenantry::reference

#endif  // TENANTRY_TESTS_REFERENCE_MODEL_H_
