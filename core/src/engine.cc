// Copyright 2026 The tenantry Authors.
//
// Engine lifecycle, the API's changes (each encoded as an op and run by the
// write path, write_path.cc) and the change feed.
#include "tenantry/engine.h"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "engine_impl.h"
#include "engine_internal.h"
#include "engine_journal.h"
#include "epoch.h"
#include "model.h"
#include "ops.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "test_hooks.h"
#include "write_path.h"
#include "writer.h"

namespace tenantry {

using internal::Epochs;
using internal::Version;
using internal::Writer;

Engine::Engine() : Engine(Options{}) {}

namespace {

absl::Status OutOfRange(const char* option, int64_t value, int64_t low, int64_t high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("Engine option ", option, " must be in [", low, ", ", high, "]; got ", value));
}

int64_t Signed(size_t value) { return static_cast<int64_t>(std::min<size_t>(value, INT64_MAX)); }

Engine::Options Clamped(Engine::Options options) {
  options.feed_retention = std::max<size_t>(options.feed_retention, 1);
  options.ledger_retention = std::max<size_t>(options.ledger_retention, 1);
  options.invitation_ttl_s =
      std::clamp<int64_t>(options.invitation_ttl_s, 1, limits::kInvitationTtlMaxS);
  options.idempotency_window_s =
      std::clamp<int64_t>(options.idempotency_window_s, 1, limits::kIdempotencyWindowMaxS);
  options.idempotency_slots =
      std::clamp<size_t>(options.idempotency_slots, 1, limits::kIdempotencySlotsMax);
  options.reservation_slots =
      std::clamp<size_t>(options.reservation_slots, 1, limits::kReservationSlotsMax);
  options.group_commit_ms =
      std::clamp<int64_t>(options.group_commit_ms, 1, limits::kGroupCommitMaxMs);
  return options;
}

}  // namespace

absl::Status Engine::ValidateOptions(const Options& o) {
  for (absl::Status status : {
           OutOfRange("feed_retention", Signed(o.feed_retention), 1, INT64_MAX),
           OutOfRange("ledger_retention", Signed(o.ledger_retention), 1, INT64_MAX),
           OutOfRange("invitation_ttl_s", o.invitation_ttl_s, 1, limits::kInvitationTtlMaxS),
           OutOfRange("idempotency_window_s", o.idempotency_window_s, 1,
                      limits::kIdempotencyWindowMaxS),
           OutOfRange("idempotency_slots", Signed(o.idempotency_slots), 1,
                      Signed(limits::kIdempotencySlotsMax)),
           OutOfRange("reservation_slots", Signed(o.reservation_slots), 1,
                      Signed(limits::kReservationSlotsMax)),
           OutOfRange("durability", static_cast<int64_t>(o.durability), 0, 2),
           OutOfRange("group_commit_ms", o.group_commit_ms, 1, limits::kGroupCommitMaxMs),
           OutOfRange("on_journal_damage", static_cast<int64_t>(o.on_journal_damage), 0, 1),
           OutOfRange("log_lock_timeout_ms", o.log_lock_timeout_ms, 1,
                      limits::kLogLockTimeoutMaxMs),
           OutOfRange("log_poll_ms", o.log_poll_ms, 1, limits::kLogPollMaxMs),
           OutOfRange("lease_max", o.lease_max, 1, limits::kMaxWorkspaceBalance),
           OutOfRange("lease_share", o.lease_share, 1, limits::kLeaseShareMax),
           OutOfRange("lease_floor", o.lease_floor, 0, limits::kMaxWorkspaceBalance),
           OutOfRange("settle_interval_ms", o.settle_interval_ms, 1, limits::kSettleIntervalMaxMs),
           OutOfRange("lease_ttl_ms", o.lease_ttl_ms, 1, limits::kLeaseTtlMaxMs),
       }) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

Engine::Engine(Options options) : impl_(std::make_unique<Impl>(Clamped(std::move(options)))) {
  impl_->clock = impl_->options.clock ? impl_->options.clock : std::make_shared<SystemClock>();
  // libsodium's randombytes reads the OS random source (I1); sodium_init is
  // idempotent and thread-safe.
  if (sodium_init() < 0) throw std::runtime_error("tenantry: libsodium failed to initialize");
  randombytes_buf(impl_->token_key.data(), impl_->token_key.size());
  // The first version: empty, with the built-in catalog; gen 1, revision 0.
  auto* v = new Version();
  v->gen = 1;
  auto* catalog = new internal::Catalog(internal::Catalog::Builtin());
  catalog->gen = 1;
  v->catalog = catalog;
  auto* meters = new internal::MeterTable(internal::MeterTable::Builtin());
  meters->gen = 1;
  v->meters = meters;
  randombytes_buf(impl_->key_hash_key.data(), impl_->key_hash_key.size());
  randombytes_buf(impl_->lineage.data(), impl_->lineage.size());
  root_.store(v, std::memory_order_seq_cst);
  internal::RegisterForFork(impl_.get());
}

Engine::~Engine() {
  // A replica returns its leases (R5) and stops its follower thread, which
  // applies to this engine, first.
  if (impl_->replica != nullptr) impl_->replica->Close();
  internal::UnregisterForFork(impl_.get());
  // No reader may run any more (the contract), so the newest version is freed
  // at once; older versions' garbage waits in the epoch queue.
  internal::DestroyVersion(const_cast<Version*>(root_.load(std::memory_order_seq_cst)));
  Epochs::Reclaim();
}

uint64_t Engine::revision() const {
  internal::ReadGuard guard;
  return root_.load(std::memory_order_seq_cst)->revision;
}

namespace internal {
void EngineInternal::InstallFirstVersion(Engine& engine, Version* version) {
  auto* old = const_cast<Version*>(engine.root_.load(std::memory_order_seq_cst));
  engine.root_.store(version, std::memory_order_seq_cst);
  DestroyVersion(old);
}
}  // namespace internal

absl::StatusOr<std::vector<uint64_t>> Engine::apply(const Batch& batch) {
  return internal::RunChanges(*this, batch.changes_, true);
}

absl::StatusOr<std::vector<uint64_t>> Engine::apply(const Batch& batch,
                                                    absl::string_view change_id) {
  if (impl_->replica == nullptr) return apply(batch);
  TNY_ASSIGN_OR_RETURN(internal::ChangeResult result,
                       impl_->replica->Run(batch.changes_, true, change_id));
  return std::move(result.ids);
}

// ---- Replicas (replica.h) ----

bool Engine::is_replica() const noexcept { return impl_->replica != nullptr; }

int64_t Engine::position() const {
  return impl_->replica != nullptr ? impl_->replica->position() : 0;
}

int64_t Engine::last_change_position() const {
  return internal::Replica::LastChangePosition(*this);
}

absl::Status Engine::wait_for(int64_t position, int64_t timeout_ms) const {
  if (impl_->replica != nullptr) return impl_->replica->WaitFor(position, timeout_ms);
  if (position <= 0) return absl::OkStatus();
  return Refusal(absl::StatusCode::kFailedPrecondition, {"R4"},
                 absl::StrCat("position ", position,
                              " of a log cannot be waited for: this engine is no replica"));
}

absl::StatusOr<PreparedChange> Engine::prepare(const Batch& batch, absl::string_view change_id) {
  if (impl_->replica == nullptr) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"R8"},
                   "only a replica prepares changes for an application's transaction");
  }
  return impl_->replica->Prepare(batch.changes_, change_id);
}

absl::Status Engine::follow() {
  return impl_->replica != nullptr ? impl_->replica->Follow() : absl::OkStatus();
}

void Engine::close() {
  if (impl_->replica != nullptr) impl_->replica->Close();
}

absl::StatusOr<std::vector<AuditRecord>> Engine::changes_since(uint64_t revision) const {
  internal::MutexLock lock(&impl_->feed_mu);
  if (revision < impl_->feed_dropped_through) {
    uint64_t oldest =
        impl_->feed.empty() ? impl_->feed_dropped_through + 1 : impl_->feed.front().revision;
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"L1"},
        absl::StrCat("changes after revision ", revision,
                     " are no longer retained: the feed keeps the last ",
                     impl_->options.feed_retention, " changes, oldest retained revision ", oldest));
  }
  auto first =
      std::upper_bound(impl_->feed.begin(), impl_->feed.end(), revision,
                       [](uint64_t r, const AuditRecord& record) { return r < record.revision; });
  return std::vector<AuditRecord>(first, impl_->feed.end());
}

// ---- The write API: each call is one change (an op) in its own transaction ----

absl::StatusOr<PermissionId> Engine::register_permission(absl::string_view name) {
  TNY_ASSIGN_OR_RETURN(uint64_t id,
                       internal::RunOp(*this, internal::Encode<&Writer::RegisterPermission>(name)));
  return static_cast<PermissionId>(id);
}

absl::StatusOr<UserId> Engine::create_user(absl::string_view key) {
  return internal::RunOp(*this, internal::Encode<&Writer::CreateUser>(key));
}

absl::StatusOr<AccountId> Engine::create_account(AccountSpec spec) {
  return internal::RunOp(*this, internal::Encode<&Writer::CreateAccount>(spec));
}

absl::Status Engine::set_plan(UserId actor, AccountId account, Plan plan) {
  return internal::RunOp(*this, internal::Encode<&Writer::SetPlan>(actor, account, plan)).status();
}

absl::Status Engine::add_staff(UserId actor, AccountId account, UserId user, absl::string_view role,
                               std::optional<StaffScope> scope) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::AddStaff>(actor, account, user, role, scope))
      .status();
}

absl::Status Engine::set_staff_scope(UserId actor, AccountId account, UserId user,
                                     StaffScope scope) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::SetStaffScope>(actor, account, user, scope))
      .status();
}

absl::Status Engine::remove_staff(UserId actor, AccountId account, UserId user) {
  return internal::RunOp(*this, internal::Encode<&Writer::RemoveStaff>(actor, account, user))
      .status();
}

absl::StatusOr<WorkspaceId> Engine::create_workspace(UserId actor, AccountId account,
                                                     WorkspaceSpec spec) {
  return internal::RunOp(*this, internal::Encode<&Writer::CreateWorkspace>(actor, account, spec));
}

absl::Status Engine::rename_workspace(UserId actor, WorkspaceId workspace, absl::string_view name) {
  return internal::RunOp(*this, internal::Encode<&Writer::RenameWorkspace>(actor, workspace, name))
      .status();
}

absl::Status Engine::set_status(UserId actor, WorkspaceId workspace, WorkspaceStatus status) {
  return internal::RunOp(*this, internal::Encode<&Writer::SetStatus>(actor, workspace, status))
      .status();
}

absl::Status Engine::set_setting(UserId actor, WorkspaceId workspace, absl::string_view name,
                                 SettingValue value) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::SetSetting>(actor, workspace, name, value))
      .status();
}

absl::Status Engine::add_member(UserId actor, WorkspaceId workspace, UserId user,
                                absl::string_view role) {
  return internal::RunOp(*this, internal::Encode<&Writer::AddMember>(actor, workspace, user, role))
      .status();
}

absl::Status Engine::set_role(UserId actor, WorkspaceId workspace, UserId user,
                              absl::string_view role) {
  return internal::RunOp(*this, internal::Encode<&Writer::SetRole>(actor, workspace, user, role))
      .status();
}

absl::Status Engine::remove_member(UserId actor, WorkspaceId workspace, UserId user) {
  return internal::RunOp(*this, internal::Encode<&Writer::RemoveMember>(actor, workspace, user))
      .status();
}

absl::Status Engine::transfer_ownership(UserId actor, WorkspaceId workspace, UserId new_owner) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::TransferOwnership>(actor, workspace, new_owner))
      .status();
}

absl::Status Engine::switch_workspace(UserId user, WorkspaceId workspace) {
  return internal::RunOp(*this, internal::Encode<&Writer::SwitchWorkspace>(user, workspace))
      .status();
}

absl::Status Engine::delete_workspace(UserId actor, WorkspaceId workspace,
                                      absl::string_view confirm) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::DeleteWorkspace>(actor, workspace, confirm))
      .status();
}

absl::Status Engine::define_role(UserId actor, AccountId account, absl::string_view name,
                                 const std::vector<std::string>& permissions,
                                 absl::string_view inherits) {
  return internal::RunOp(*this, internal::Encode<&Writer::DefineRole>(actor, account, name,
                                                                      permissions, inherits))
      .status();
}

absl::StatusOr<TeamId> Engine::create_team(UserId actor, WorkspaceId workspace,
                                           absl::string_view name, absl::string_view role) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::CreateTeam>(actor, workspace, name, role));
}

absl::Status Engine::add_team_member(UserId actor, TeamId team, UserId user) {
  return internal::RunOp(*this, internal::Encode<&Writer::AddTeamMember>(actor, team, user))
      .status();
}

absl::Status Engine::remove_team_member(UserId actor, TeamId team, UserId user) {
  return internal::RunOp(*this, internal::Encode<&Writer::RemoveTeamMember>(actor, team, user))
      .status();
}

absl::Status Engine::set_team_role(UserId actor, TeamId team, absl::string_view role) {
  return internal::RunOp(*this, internal::Encode<&Writer::SetTeamRole>(actor, team, role)).status();
}

absl::Status Engine::delete_team(UserId actor, TeamId team) {
  return internal::RunOp(*this, internal::Encode<&Writer::DeleteTeam>(actor, team)).status();
}

absl::StatusOr<Invitation> Engine::invite(UserId actor, WorkspaceId workspace,
                                          absl::string_view email, absl::string_view role) {
  internal::RunOutput out;
  TNY_RETURN_IF_ERROR(
      internal::RunOp(*this, internal::Encode<&Writer::Invite>(actor, workspace, email, role), &out)
          .status());
  return std::move(out.invitation);
}

absl::StatusOr<Invitation> Engine::invite_staff(UserId actor, AccountId account,
                                                absl::string_view email, absl::string_view role,
                                                std::optional<StaffScope> scope) {
  internal::RunOutput out;
  TNY_RETURN_IF_ERROR(
      internal::RunOp(
          *this, internal::Encode<&Writer::InviteStaff>(actor, account, email, role, scope), &out)
          .status());
  return std::move(out.invitation);
}

absl::Status Engine::accept(absl::string_view token, UserId user) {
  return internal::RunOp(*this, internal::Encode<&Writer::Accept>(token, user)).status();
}

absl::StatusOr<Invitation> Engine::resend(UserId actor, InvitationId invitation) {
  internal::RunOutput out;
  TNY_RETURN_IF_ERROR(
      internal::RunOp(*this, internal::Encode<&Writer::Resend>(actor, invitation), &out).status());
  return std::move(out.invitation);
}

absl::Status Engine::revoke_invitation(UserId actor, InvitationId invitation) {
  return internal::RunOp(*this, internal::Encode<&Writer::RevokeInvitation>(actor, invitation))
      .status();
}

absl::Status Engine::touch_session(UserId user) {
  return internal::RunOp(*this, internal::Encode<&Writer::TouchSession>(user)).status();
}

absl::StatusOr<uint64_t> Engine::expire_sessions() {
  return internal::RunOp(*this, internal::Encode<&Writer::ExpireSessions>());
}

// ---- Batch: the same changes, encoded for one `apply` ----

Batch& Batch::Add(std::string op) {
  changes_.push_back(std::move(op));
  return *this;
}
Batch& Batch::create_user(std::string key) {
  return Add(internal::Encode<&Writer::CreateUser>(key));
}
Batch& Batch::create_account(AccountSpec spec) {
  return Add(internal::Encode<&Writer::CreateAccount>(spec));
}
Batch& Batch::set_plan(UserId actor, AccountId account, Plan plan) {
  return Add(internal::Encode<&Writer::SetPlan>(actor, account, plan));
}
Batch& Batch::add_staff(UserId actor, AccountId account, UserId user, std::string role,
                        std::optional<StaffScope> scope) {
  return Add(internal::Encode<&Writer::AddStaff>(actor, account, user, role, scope));
}
Batch& Batch::set_staff_scope(UserId actor, AccountId account, UserId user, StaffScope scope) {
  return Add(internal::Encode<&Writer::SetStaffScope>(actor, account, user, scope));
}
Batch& Batch::remove_staff(UserId actor, AccountId account, UserId user) {
  return Add(internal::Encode<&Writer::RemoveStaff>(actor, account, user));
}
Batch& Batch::create_workspace(UserId actor, AccountId account, WorkspaceSpec spec) {
  return Add(internal::Encode<&Writer::CreateWorkspace>(actor, account, spec));
}
Batch& Batch::rename_workspace(UserId actor, WorkspaceId workspace, std::string name) {
  return Add(internal::Encode<&Writer::RenameWorkspace>(actor, workspace, name));
}
Batch& Batch::set_status(UserId actor, WorkspaceId workspace, WorkspaceStatus status) {
  return Add(internal::Encode<&Writer::SetStatus>(actor, workspace, status));
}
Batch& Batch::set_setting(UserId actor, WorkspaceId workspace, std::string name,
                          SettingValue value) {
  return Add(internal::Encode<&Writer::SetSetting>(actor, workspace, name, value));
}
Batch& Batch::add_member(UserId actor, WorkspaceId workspace, UserId user, std::string role) {
  return Add(internal::Encode<&Writer::AddMember>(actor, workspace, user, role));
}
Batch& Batch::set_role(UserId actor, WorkspaceId workspace, UserId user, std::string role) {
  return Add(internal::Encode<&Writer::SetRole>(actor, workspace, user, role));
}
Batch& Batch::remove_member(UserId actor, WorkspaceId workspace, UserId user) {
  return Add(internal::Encode<&Writer::RemoveMember>(actor, workspace, user));
}
Batch& Batch::transfer_ownership(UserId actor, WorkspaceId workspace, UserId new_owner) {
  return Add(internal::Encode<&Writer::TransferOwnership>(actor, workspace, new_owner));
}
Batch& Batch::switch_workspace(UserId user, WorkspaceId workspace) {
  return Add(internal::Encode<&Writer::SwitchWorkspace>(user, workspace));
}
Batch& Batch::define_role(UserId actor, AccountId account, std::string name,
                          std::vector<std::string> permissions, std::string inherits) {
  return Add(internal::Encode<&Writer::DefineRole>(actor, account, name, permissions, inherits));
}
Batch& Batch::create_team(UserId actor, WorkspaceId workspace, std::string name, std::string role) {
  return Add(internal::Encode<&Writer::CreateTeam>(actor, workspace, name, role));
}
Batch& Batch::add_team_member(UserId actor, TeamId team, UserId user) {
  return Add(internal::Encode<&Writer::AddTeamMember>(actor, team, user));
}
Batch& Batch::remove_team_member(UserId actor, TeamId team, UserId user) {
  return Add(internal::Encode<&Writer::RemoveTeamMember>(actor, team, user));
}
Batch& Batch::set_team_role(UserId actor, TeamId team, std::string role) {
  return Add(internal::Encode<&Writer::SetTeamRole>(actor, team, role));
}
Batch& Batch::delete_team(UserId actor, TeamId team) {
  return Add(internal::Encode<&Writer::DeleteTeam>(actor, team));
}
Batch& Batch::accept(std::string token, UserId user) {
  return Add(internal::Encode<&Writer::Accept>(token, user));
}
Batch& Batch::revoke_invitation(UserId actor, InvitationId invitation) {
  return Add(internal::Encode<&Writer::RevokeInvitation>(actor, invitation));
}
Batch& Batch::delete_workspace(UserId actor, WorkspaceId workspace, std::string confirm) {
  return Add(internal::Encode<&Writer::DeleteWorkspace>(actor, workspace, confirm));
}

}  // namespace tenantry
