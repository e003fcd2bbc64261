// Copyright 2026 The tenantry Authors.
//
// The Writer: one write transaction of the engine. It holds the version
// being built (owned by its Txn until published), applies changes to it, and
// collects their audit records. Every change validates everything first and
// only then mutates; when a change of a batch fails anyway, the whole Txn is
// aborted, so a failed change changes nothing (SPEC section 10).
//
// Only one Writer exists per engine at a time (the engine's write mutex).
#ifndef TENANTRY_CORE_SRC_WRITER_H_
#define TENANTRY_CORE_SRC_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model.h"
#include "tenantry/engine.h"
#include "txn.h"

namespace tenantry::internal {

class Writer {
 public:
  Writer(const Version* base, int64_t now_ns);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Txn& txn() { return txn_; }
  Version* version() { return v_; }
  std::vector<AuditRecord>& audit() { return audit_; }

  // ---- The changes (see Engine for their contracts) ----
  absl::StatusOr<uint64_t> RegisterPermission(absl::string_view name);
  absl::StatusOr<uint64_t> CreateUser(absl::string_view key);
  absl::StatusOr<uint64_t> CreateAccount(const AccountSpec& spec);
  absl::Status SetPlan(UserId actor, AccountId account, const Plan& plan);
  absl::Status AddStaff(UserId actor, AccountId account, UserId user, absl::string_view role,
                        const std::optional<StaffScope>& scope);
  absl::Status SetStaffScope(UserId actor, AccountId account, UserId user,
                             const StaffScope& scope);
  absl::Status RemoveStaff(UserId actor, AccountId account, UserId user);
  absl::StatusOr<uint64_t> CreateWorkspace(UserId actor, AccountId account,
                                           const WorkspaceSpec& spec);
  absl::Status RenameWorkspace(UserId actor, WorkspaceId workspace, absl::string_view name);
  absl::Status SetStatus(UserId actor, WorkspaceId workspace, WorkspaceStatus status);
  absl::Status SetSetting(UserId actor, WorkspaceId workspace, absl::string_view name,
                          const SettingValue& value);
  absl::Status AddMember(UserId actor, WorkspaceId workspace, UserId user, absl::string_view role);
  absl::Status SetRole(UserId actor, WorkspaceId workspace, UserId user, absl::string_view role);
  absl::Status RemoveMember(UserId actor, WorkspaceId workspace, UserId user);
  absl::Status TransferOwnership(UserId actor, WorkspaceId workspace, UserId new_owner);
  absl::Status SwitchWorkspace(UserId user, WorkspaceId workspace);

  // S1: clears the active workspace of every user a change may have cut
  // off. Runs once per transaction, before publishing.
  void FinishSessions();

 private:
  // Lookups in the version being built; NotFound naming the rule otherwise.
  absl::StatusOr<const UserNode*> FindUser(UserId id, const char* rule) const;
  absl::StatusOr<const WorkspaceNode*> FindWorkspace(WorkspaceId id, const char* rule) const;
  absl::StatusOr<const AccountNode*> FindAccount(AccountId id, const char* rule) const;

  // Copies (once per transaction) and re-links a node for changing.
  UserNode* MutableUser(UserId id);
  WorkspaceNode* MutableWorkspace(WorkspaceId id);
  AccountNode* MutableAccount(AccountId id);

  // M10: the actor holds `permission` in the workspace / account.
  absl::Status Authorize(UserId actor, const WorkspaceNode& ws, PermissionId permission) const;
  absl::Status AuthorizeAccount(UserId actor, const AccountNode& account,
                                PermissionId permission) const;
  // M10: the actor may hand out (or take away) every permission of `role`.
  absl::Status AuthorizeRole(UserId actor, const WorkspaceNode& ws, RoleId role) const;
  // M5: refuses a client role for staff of the workspace's account.
  absl::Status CheckStaffClient(const UserNode& user, const WorkspaceNode& ws, RoleId role) const;
  absl::StatusOr<RoleId> ParseWorkspaceRole(absl::string_view name) const;
  absl::StatusOr<std::vector<WorkspaceId>> ValidateScope(const AccountNode& account,
                                                         const StaffScope& scope) const;

  void SetGrant(UserId user, const Grant& grant);
  void EraseGrant(UserId user, WorkspaceId workspace, uint64_t team);
  void RevalidateSession(UserId user);
  void Record(UserId actor, AccountId account, WorkspaceId workspace, std::string what);

  Txn txn_;
  Version* v_;
  int64_t now_ns_;
  std::vector<AuditRecord> audit_;
  absl::flat_hash_set<UserId> session_users_;
  absl::flat_hash_set<WorkspaceId> session_workspaces_;
};

// M10: the union of every permission the user holds in the workspace.
PermSet EffectivePerms(const Version& v, UserId user, const WorkspaceNode& ws);

// Frees every node reachable from `v`, `v` included. Only when no reader
// and no other version can reach them (engine teardown).
void DestroyVersion(Version* v);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_WRITER_H_
