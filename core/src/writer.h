// Copyright 2026 The tenantry Authors.
//
// The Writer: one write transaction of the engine. It holds the version
// being built (owned by its Txn until published), applies changes to it, and
// collects their audit records. Every change validates everything first and
// only then mutates; when a change of a batch fails anyway, the whole Txn is
// aborted, so a failed change changes nothing (docs/rules.md, section 10).
//
// Only one Writer exists per engine at a time (the engine's write mutex).
#ifndef TENANTRY_CORE_SRC_WRITER_H_
#define TENANTRY_CORE_SRC_WRITER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model.h"
#include "tenantry/engine.h"
#include "txn.h"

namespace tenantry::internal {

// What RefusedConsume returns: no consume's result (available <= 2^42).
inline constexpr uint64_t kRefusedConsumeResult = ~uint64_t{0};

class Writer {
 public:
  // `token_key` keys the invitation token hashes (I1); `invitation_ttl_s`
  // is how long a new or resent invitation lives (I2).
  Writer(const Version* base, int64_t now_ns, const std::array<uint8_t, 32>& token_key,
         int64_t invitation_ttl_s);
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
  absl::Status SetStaffScope(UserId actor, AccountId account, UserId user, const StaffScope& scope);
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
  absl::Status TouchSession(UserId user);
  absl::StatusOr<uint64_t> ExpireSessions();

  // M6
  absl::Status DefineRole(UserId actor, AccountId account, absl::string_view name,
                          const std::vector<std::string>& permissions, absl::string_view inherits);
  // M9
  absl::StatusOr<uint64_t> CreateTeam(UserId actor, WorkspaceId workspace, absl::string_view name,
                                      absl::string_view role);
  absl::Status AddTeamMember(UserId actor, TeamId team, UserId user);
  absl::Status RemoveTeamMember(UserId actor, TeamId team, UserId user);
  absl::Status SetTeamRole(UserId actor, TeamId team, absl::string_view role);
  absl::Status DeleteTeam(UserId actor, TeamId team);
  // I1-I4. The token of the latest Invite/Resend is left in last_token().
  absl::StatusOr<uint64_t> Invite(UserId actor, WorkspaceId workspace, absl::string_view email,
                                  absl::string_view role);
  absl::StatusOr<uint64_t> InviteStaff(UserId actor, AccountId account, absl::string_view email,
                                       absl::string_view role,
                                       const std::optional<StaffScope>& scope);
  absl::Status Accept(absl::string_view token, UserId user);
  absl::StatusOr<uint64_t> Resend(UserId actor, InvitationId invitation);
  absl::Status RevokeInvitation(UserId actor, InvitationId invitation);
  const Invitation& last_invitation() const { return last_invitation_; }
  // P3: the token hashes this transaction issued, in order (the journal
  // keeps them, never the tokens). With `ReplayTokens`, IssueToken takes
  // the recorded hashes instead of drawing new tokens (recovery); running
  // out of them is DataLoss.
  const std::vector<std::array<uint8_t, 32>>& issued_hashes() const { return issued_hashes_; }
  void ReplayTokens(std::vector<std::array<uint8_t, 32>> hashes) {
    replay_hashes_ = std::move(hashes);
    replaying_ = true;
  }
  absl::Status replay_status() const { return replay_status_; }
  // T7
  absl::Status DeleteWorkspace(UserId actor, WorkspaceId workspace, absl::string_view confirm);

  // C1-C4: meters and the admin side of credits (writer_credits.cc).
  absl::StatusOr<uint64_t> DefineMeter(absl::string_view name,
                                       const std::vector<std::string>& buckets);
  absl::Status GrantCredits(UserId actor, AccountId account, int64_t amount, MeterRef meter,
                            absl::string_view bucket);
  absl::StatusOr<BucketAmounts> Transfer(UserId actor, AccountId account, WorkspaceId workspace,
                                         int64_t amount, MeterRef meter);
  absl::Status Revoke(UserId actor, WorkspaceId workspace, int64_t amount, absl::string_view bucket,
                      MeterRef meter);
  // R6 (replicas): a consume through the log, run by every replica at its
  // record's position: debits `amount`, regular first (C5), and returns
  // what is available after. With `authorize` (A7), `user` must hold
  // `permission` in the workspace in this version first:
  // PermissionDenied, nothing debited, otherwise. `key` (C5) is recorded;
  // its exactly-once is the log's (the change id, replica.h).
  absl::StatusOr<uint64_t> ConsumeCredits(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                          absl::string_view key, bool authorize, UserId user,
                                          PermissionId permission);
  // R6 (replicas, writer_holds.cc): leases and reservations through the
  // log. HoldCredits holds `amount` (a lease: min(amount, available /
  // share), nothing below `floor`, 0 = no lease; a reservation: exactly, or
  // refused as C6 says) until now + ttl_ms; returns the hold's id.
  absl::StatusOr<uint64_t> HoldCredits(absl::string_view owner, WorkspaceId workspace,
                                       MeterRef meter, int64_t amount, bool lease, int64_t share,
                                       int64_t floor, int64_t ttl_ms);
  // A lease's owner settles what it consumed so far (cumulative: a repeated
  // settlement changes nothing), then returns the rest (`end`) or renews it
  // until now + ttl_ms, topping it up by at most `top_up`. Returns what the
  // top-up added. A lease that is gone (expired) settles nothing: 0.
  absl::StatusOr<uint64_t> SettleLease(absl::string_view owner, uint64_t lease, int64_t consumed,
                                       bool end, int64_t ttl_ms, int64_t top_up);
  // C6 on a replica: commit (debits `actual`, the rest back) or release a
  // reservation made through the log; a ledger entry.
  absl::Status SettleReservation(uint64_t reservation, int64_t actual, bool release);
  // R6, C6: releases every hold past its end (a lease's unsettled
  // consumption is forgiven); returns how many. Every replica change runs
  // it first, at the record's time.
  absl::StatusOr<uint64_t> ExpireHolds();
  // R6: asks the owners of the leases of (workspace, meter) other than
  // `except` to settle and return them (HoldNode::recalled); a recalled
  // lease is no longer topped up. Returns how many it recalled.
  absl::StatusOr<uint64_t> RecallLeases(absl::string_view except, WorkspaceId workspace,
                                        MeterRef meter);
  // C5 on replicas: the record of a keyed consume's refusal, under its
  // key's change id; changes nothing and returns kRefusedConsumeResult.
  absl::StatusOr<uint64_t> RefusedConsume(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                          absl::string_view key, bool authorize, UserId user,
                                          PermissionId permission);
  // Cells are live state outside the version: a transaction that changed
  // one (Transfer, Revoke, ConsumeCredits) and is then given up (a replica
  // whose append failed) puts back what it moved, before Abort.
  void UndoCells();
  // T7: returns the balances and holds of every workspace this transaction
  // deleted to their pools (closing their cells) and settles their
  // reservations. Runs once, after every change succeeded, before
  // publishing: nothing after it can fail.
  void FinishCredits(const std::atomic<ReservationTable*>& reservations);
  // C7: ledger entries of this transaction, sequence not yet assigned.
  std::vector<LedgerEntry>& ledger_entries() { return ledger_; }
  // C3: what the latest Transfer took from each pool bucket.
  const BucketAmounts& last_taken() const { return last_taken_; }
  int64_t now_ns() const { return now_ns_; }

  // S1: clears the active workspace of every user a change may have cut
  // off. Runs once per transaction, before publishing.
  void FinishSessions();

 private:
  // Lookups in the version being built; NotFound naming the rule otherwise.
  absl::StatusOr<const UserNode*> FindUser(UserId id, const char* rule) const;
  absl::StatusOr<const WorkspaceNode*> FindWorkspace(WorkspaceId id, const char* rule) const;
  absl::StatusOr<const AccountNode*> FindAccount(AccountId id, const char* rule) const;

  // Copies (once per transaction) and re-links a node for changing.
  template <class Node>
  Node* MutableIn(IdMap<const Node*>& map, uint64_t id) {
    const Node* old = map.Find(id);
    Node* node = txn_.Writable(old);
    if (node != old) map.Set(txn_, id, node);
    return node;
  }
  UserNode* MutableUser(UserId id) { return MutableIn(v_->users, id); }
  WorkspaceNode* MutableWorkspace(WorkspaceId id) { return MutableIn(v_->workspaces, id); }
  AccountNode* MutableAccount(AccountId id) { return MutableIn(v_->accounts, id); }

  // M10: the actor holds `permission` in the workspace / account.
  absl::Status Authorize(UserId actor, const WorkspaceNode& ws, PermissionId permission) const;
  absl::Status AuthorizeAccount(UserId actor, const AccountNode& account,
                                PermissionId permission) const;
  // M10: the actor may hand out (or take away) every permission of `role`.
  absl::Status AuthorizeRole(UserId actor, const WorkspaceNode& ws, RoleId role) const;
  // M5: refuses a client role for staff of the workspace's account.
  absl::Status CheckStaffClient(const UserNode& user, const WorkspaceNode& ws, RoleId role) const;
  // A built-in workspace role or a custom role of the account (M3, M6).
  absl::StatusOr<RoleId> ParseWorkspaceRole(AccountId account, absl::string_view name) const;
  absl::StatusOr<const TeamNode*> FindTeam(TeamId id) const;
  absl::StatusOr<const InvitationNode*> FindInvitation(InvitationId id) const;
  TeamNode* MutableTeam(TeamId id) { return MutableIn(v_->teams, id); }
  HoldNode* MutableHold(uint64_t id) { return MutableIn(v_->holds, id); }
  InvitationNode* MutableInvitation(InvitationId id) { return MutableIn(v_->invitations, id); }
  // M10: members.invite in the workspace, or account.manage_staff for staff
  // invitations.
  absl::Status AuthorizeInvitation(UserId actor, const InvitationNode& node) const;
  // A fresh token for `node`: 256 random bits from the OS; stores its hash.
  void IssueToken(InvitationNode* node);
  // Recomputes the resolved permissions of every custom role of the account.
  absl::Status ResolveRoles(AccountId account);
  // Removes one workspace (not its children) and everything scoped to it.
  void EraseWorkspace(WorkspaceId workspace);
  void EraseTeam(TeamId team);
  // M5 for an account role about to be given to `user`.
  absl::Status CheckNotClient(const UserNode& user, AccountId account) const;
  absl::StatusOr<std::vector<WorkspaceId>> ValidateScope(const AccountNode& account,
                                                         const StaffScope& scope) const;

  void SetGrant(UserId user, const Grant& grant);
  void EraseGrant(UserId user, WorkspaceId workspace, uint64_t team);
  void RevalidateSession(UserId user);
  void Record(UserId actor, AccountId account, WorkspaceId workspace, std::string what);
  // C7: a ledger entry of the change just recorded (its revision).
  void AddLedgerEntry(LedgerKind kind, UserId actor, AccountId account, WorkspaceId workspace,
                      MeterId meter, const BucketAmounts& amounts);
  Pool* MutablePool(AccountId account, MeterId meter);

  // T7: a deleted workspace's meter, drained at FinishCredits.
  struct Drain {
    WorkspaceId workspace;
    AccountId account;
    Funding funding;
    UserId actor;
    uint64_t revision;
  };
  std::vector<Drain> drains_;
  std::vector<LedgerEntry> ledger_;
  // What this transaction added to cells (negative: took), for UndoCells.
  struct CellDelta {
    BalanceCell* cell;
    int64_t regular, extra, consumed, held = 0;
  };
  // R6: a hold's cell, and returning what a hold still holds.
  absl::StatusOr<BalanceCell*> HoldCell(const HoldNode& hold) const;
  void ReleaseHold(const HoldNode& hold, int64_t consume, LedgerKind kind, bool ledger);
  std::vector<CellDelta> cell_deltas_;

  Txn txn_;
  Version* v_;
  int64_t now_ns_;
  const std::array<uint8_t, 32>& token_key_;
  int64_t invitation_ttl_s_;
  Invitation last_invitation_;
  BucketAmounts last_taken_{};
  std::vector<std::array<uint8_t, 32>> issued_hashes_;
  std::vector<std::array<uint8_t, 32>> replay_hashes_;
  size_t replay_next_ = 0;
  bool replaying_ = false;
  absl::Status replay_status_;
  std::vector<AuditRecord> audit_;
  absl::flat_hash_set<UserId> session_users_;
  absl::flat_hash_set<WorkspaceId> session_workspaces_;
};

// Frees every node reachable from `v`, `v` included. Only when no reader
// and no other version can reach them (engine teardown).
void DestroyVersion(Version* v);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_WRITER_H_
