// Copyright 2026 The tenantry Authors.
//
// Engine lifecycle, the write path (one Writer, one publication per call or
// batch) and the change feed.
#include "tenantry/engine.h"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "engine_impl.h"
#include "epoch.h"
#include "model.h"
#include "status_macros.h"
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
  root_.store(v, std::memory_order_seq_cst);
}

Engine::~Engine() {
  // No reader may run any more (the contract), so the newest version is freed
  // at once; older versions' garbage waits in the epoch queue.
  internal::DestroyVersion(const_cast<Version*>(root_.load(std::memory_order_seq_cst)));
  Epochs::Reclaim();
}

uint64_t Engine::revision() const {
  internal::ReadGuard guard;
  return root_.load(std::memory_order_seq_cst)->revision;
}

absl::StatusOr<std::vector<uint64_t>> Engine::Run(absl::Span<const Batch::Change> changes,
                                                  bool batch) {
  if (changes.size() > limits::kMaxBatchChanges) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch holds at most ", limits::kMaxBatchChanges, " changes (X2)"));
  }
  std::vector<uint64_t> results;
  results.reserve(changes.size());
  std::vector<AuditRecord> audit;
  {
    internal::MutexLock lock(&impl_->write_mu);
    // Only writers store the root, and they hold write_mu, so this load sees
    // the newest version.
    const Version* base = root_.load(std::memory_order_seq_cst);
    Writer writer(base, impl_->clock->now_ns(), impl_->token_key, impl_->options.invitation_ttl_s);
    for (size_t i = 0; i < changes.size(); ++i) {
      absl::StatusOr<uint64_t> result = changes[i].run(writer);
      if (!result.ok()) {
        writer.txn().Abort();
        if (!batch) return result.status();
        return absl::Status(
            result.status().code(),
            absl::StrCat("change #", i, " (", changes[i].name,
                         ") failed; nothing was applied: ", result.status().message()));
      }
      results.push_back(*result);
    }
    // Nothing after this point can fail: deleted workspaces' credits go
    // back to their pools now (T7).
    writer.FinishCredits(impl_->reservations);
    writer.FinishSessions();
    // Publish: one seq_cst store of the root (X1, X2), then move the epoch
    // and hand over what the new version replaced (X4; see epoch.h).
    root_.store(writer.version(), std::memory_order_seq_cst);
    std::vector<internal::Garbage> garbage = writer.txn().Commit();
    Epochs::Retire(Epochs::Advance(), std::move(garbage));
    audit = std::move(writer.audit());
    internal::SweepExpired(*impl_, writer.version()->revision, true, &writer.ledger());
    internal::AppendLedger(*impl_, writer.ledger());
    internal::MutexLock feed_lock(&impl_->feed_mu);
    for (AuditRecord& record : audit) impl_->feed.push_back(std::move(record));
    while (impl_->feed.size() > impl_->options.feed_retention) {
      impl_->feed_dropped_through = impl_->feed.front().revision;
      impl_->feed.pop_front();
    }
  }
  // Freeing outside the writer lock keeps the next writer from waiting on it.
  Epochs::Reclaim();
  return results;
}

absl::StatusOr<uint64_t> Engine::RunOne(
    const char* name, std::function<absl::StatusOr<uint64_t>(internal::Writer&)> change) {
  Batch::Change one{name, std::move(change)};
  TNY_ASSIGN_OR_RETURN(std::vector<uint64_t> results, Run({&one, 1}, false));
  return results.front();
}

absl::Status Engine::RunStatus(const char* name,
                               std::function<absl::Status(internal::Writer&)> change) {
  return RunOne(name,
                [&change](Writer& w) -> absl::StatusOr<uint64_t> {
                  TNY_RETURN_IF_ERROR(change(w));
                  return 0;
                })
      .status();
}

absl::StatusOr<std::vector<uint64_t>> Engine::apply(const Batch& batch) {
  return Run(batch.changes_, true);
}

absl::StatusOr<std::vector<AuditRecord>> Engine::changes_since(uint64_t revision) const {
  internal::MutexLock lock(&impl_->feed_mu);
  if (revision < impl_->feed_dropped_through) {
    uint64_t oldest =
        impl_->feed.empty() ? impl_->feed_dropped_through + 1 : impl_->feed.front().revision;
    return absl::FailedPreconditionError(absl::StrCat(
        "changes after revision ", revision, " are no longer retained: the feed keeps the last ",
        impl_->options.feed_retention, " changes, oldest retained revision ", oldest, " (L1)"));
  }
  auto first =
      std::upper_bound(impl_->feed.begin(), impl_->feed.end(), revision,
                       [](uint64_t r, const AuditRecord& record) { return r < record.revision; });
  return std::vector<AuditRecord>(first, impl_->feed.end());
}

// ---- The write API: each call is one change in its own transaction ----

absl::StatusOr<PermissionId> Engine::register_permission(absl::string_view name) {
  TNY_ASSIGN_OR_RETURN(uint64_t id, RunOne("register_permission",
                                           [&](Writer& w) { return w.RegisterPermission(name); }));
  return static_cast<PermissionId>(id);
}

absl::StatusOr<UserId> Engine::create_user(absl::string_view key) {
  return RunOne("create_user", [&](Writer& w) { return w.CreateUser(key); });
}

absl::StatusOr<AccountId> Engine::create_account(AccountSpec spec) {
  return RunOne("create_account", [&](Writer& w) { return w.CreateAccount(spec); });
}

absl::Status Engine::set_plan(UserId actor, AccountId account, Plan plan) {
  return RunStatus("set_plan", [&](Writer& w) { return w.SetPlan(actor, account, plan); });
}

absl::Status Engine::add_staff(UserId actor, AccountId account, UserId user, absl::string_view role,
                               std::optional<StaffScope> scope) {
  return RunStatus("add_staff",
                   [&](Writer& w) { return w.AddStaff(actor, account, user, role, scope); });
}

absl::Status Engine::set_staff_scope(UserId actor, AccountId account, UserId user,
                                     StaffScope scope) {
  return RunStatus("set_staff_scope",
                   [&](Writer& w) { return w.SetStaffScope(actor, account, user, scope); });
}

absl::Status Engine::remove_staff(UserId actor, AccountId account, UserId user) {
  return RunStatus("remove_staff", [&](Writer& w) { return w.RemoveStaff(actor, account, user); });
}

absl::StatusOr<WorkspaceId> Engine::create_workspace(UserId actor, AccountId account,
                                                     WorkspaceSpec spec) {
  return RunOne("create_workspace",
                [&](Writer& w) { return w.CreateWorkspace(actor, account, spec); });
}

absl::Status Engine::rename_workspace(UserId actor, WorkspaceId workspace, absl::string_view name) {
  return RunStatus("rename_workspace",
                   [&](Writer& w) { return w.RenameWorkspace(actor, workspace, name); });
}

absl::Status Engine::set_status(UserId actor, WorkspaceId workspace, WorkspaceStatus status) {
  return RunStatus("set_status", [&](Writer& w) { return w.SetStatus(actor, workspace, status); });
}

absl::Status Engine::set_setting(UserId actor, WorkspaceId workspace, absl::string_view name,
                                 SettingValue value) {
  return RunStatus("set_setting",
                   [&](Writer& w) { return w.SetSetting(actor, workspace, name, value); });
}

absl::Status Engine::add_member(UserId actor, WorkspaceId workspace, UserId user,
                                absl::string_view role) {
  return RunStatus("add_member",
                   [&](Writer& w) { return w.AddMember(actor, workspace, user, role); });
}

absl::Status Engine::set_role(UserId actor, WorkspaceId workspace, UserId user,
                              absl::string_view role) {
  return RunStatus("set_role", [&](Writer& w) { return w.SetRole(actor, workspace, user, role); });
}

absl::Status Engine::remove_member(UserId actor, WorkspaceId workspace, UserId user) {
  return RunStatus("remove_member",
                   [&](Writer& w) { return w.RemoveMember(actor, workspace, user); });
}

absl::Status Engine::transfer_ownership(UserId actor, WorkspaceId workspace, UserId new_owner) {
  return RunStatus("transfer_ownership",
                   [&](Writer& w) { return w.TransferOwnership(actor, workspace, new_owner); });
}

absl::Status Engine::switch_workspace(UserId user, WorkspaceId workspace) {
  return RunStatus("switch_workspace",
                   [&](Writer& w) { return w.SwitchWorkspace(user, workspace); });
}

absl::Status Engine::delete_workspace(UserId actor, WorkspaceId workspace,
                                      absl::string_view confirm) {
  return RunStatus("delete_workspace",
                   [&](Writer& w) { return w.DeleteWorkspace(actor, workspace, confirm); });
}

absl::Status Engine::define_role(UserId actor, AccountId account, absl::string_view name,
                                 const std::vector<std::string>& permissions,
                                 absl::string_view inherits) {
  return RunStatus("define_role", [&](Writer& w) {
    return w.DefineRole(actor, account, name, permissions, inherits);
  });
}

absl::StatusOr<TeamId> Engine::create_team(UserId actor, WorkspaceId workspace,
                                           absl::string_view name, absl::string_view role) {
  return RunOne("create_team",
                [&](Writer& w) { return w.CreateTeam(actor, workspace, name, role); });
}

absl::Status Engine::add_team_member(UserId actor, TeamId team, UserId user) {
  return RunStatus("add_team_member",
                   [&](Writer& w) { return w.AddTeamMember(actor, team, user); });
}

absl::Status Engine::remove_team_member(UserId actor, TeamId team, UserId user) {
  return RunStatus("remove_team_member",
                   [&](Writer& w) { return w.RemoveTeamMember(actor, team, user); });
}

absl::Status Engine::set_team_role(UserId actor, TeamId team, absl::string_view role) {
  return RunStatus("set_team_role", [&](Writer& w) { return w.SetTeamRole(actor, team, role); });
}

absl::Status Engine::delete_team(UserId actor, TeamId team) {
  return RunStatus("delete_team", [&](Writer& w) { return w.DeleteTeam(actor, team); });
}

namespace {
// Wraps a change that issues an invitation token so that the token the
// Writer issued is kept in `*issued` (the engine keeps only its hash).
std::function<absl::StatusOr<uint64_t>(Writer&)> KeepingToken(
    Invitation* issued, std::function<absl::StatusOr<uint64_t>(Writer&)> change) {
  return [issued, change = std::move(change)](Writer& w) {
    absl::StatusOr<uint64_t> id = change(w);
    if (id.ok()) *issued = w.last_invitation();
    return id;
  };
}
}  // namespace

absl::StatusOr<Invitation> Engine::invite(UserId actor, WorkspaceId workspace,
                                          absl::string_view email, absl::string_view role) {
  Invitation issued;
  TNY_RETURN_IF_ERROR(
      RunOne(
          "invite",
          KeepingToken(&issued, [&](Writer& w) { return w.Invite(actor, workspace, email, role); }))
          .status());
  return issued;
}

absl::StatusOr<Invitation> Engine::invite_staff(UserId actor, AccountId account,
                                                absl::string_view email, absl::string_view role,
                                                std::optional<StaffScope> scope) {
  Invitation issued;
  TNY_RETURN_IF_ERROR(RunOne("invite_staff", KeepingToken(&issued,
                                                          [&](Writer& w) {
                                                            return w.InviteStaff(
                                                                actor, account, email, role, scope);
                                                          }))
                          .status());
  return issued;
}

absl::Status Engine::accept(absl::string_view token, UserId user) {
  return RunStatus("accept", [&](Writer& w) { return w.Accept(token, user); });
}

absl::StatusOr<Invitation> Engine::resend(UserId actor, InvitationId invitation) {
  Invitation issued;
  TNY_RETURN_IF_ERROR(
      RunOne("resend",
             KeepingToken(&issued, [&](Writer& w) { return w.Resend(actor, invitation); }))
          .status());
  return issued;
}

absl::Status Engine::revoke_invitation(UserId actor, InvitationId invitation) {
  return RunStatus("revoke_invitation",
                   [&](Writer& w) { return w.RevokeInvitation(actor, invitation); });
}

absl::Status Engine::touch_session(UserId user) {
  return RunStatus("touch_session", [&](Writer& w) { return w.TouchSession(user); });
}

absl::StatusOr<uint64_t> Engine::expire_sessions() {
  return RunOne("expire_sessions", [&](Writer& w) { return w.ExpireSessions(); });
}

// ---- Batch: the same changes, recorded for one `apply` ----

Batch& Batch::Add(const char* name,
                  std::function<absl::StatusOr<uint64_t>(internal::Writer&)> run) {
  changes_.push_back(Change{name, std::move(run)});
  return *this;
}

namespace {
// Adapts a change returning Status to the batch's StatusOr<id> shape.
template <class Fn>
std::function<absl::StatusOr<uint64_t>(Writer&)> NoId(Fn fn) {
  return [fn = std::move(fn)](Writer& w) -> absl::StatusOr<uint64_t> {
    TNY_RETURN_IF_ERROR(fn(w));
    return 0;
  };
}
}  // namespace

Batch& Batch::create_user(std::string key) {
  return Add("create_user", [key = std::move(key)](Writer& w) { return w.CreateUser(key); });
}
Batch& Batch::create_account(AccountSpec spec) {
  return Add("create_account",
             [spec = std::move(spec)](Writer& w) { return w.CreateAccount(spec); });
}
Batch& Batch::set_plan(UserId actor, AccountId account, Plan plan) {
  return Add("set_plan", NoId([=](Writer& w) { return w.SetPlan(actor, account, plan); }));
}
Batch& Batch::add_staff(UserId actor, AccountId account, UserId user, std::string role,
                        std::optional<StaffScope> scope) {
  return Add("add_staff",
             NoId([=](Writer& w) { return w.AddStaff(actor, account, user, role, scope); }));
}
Batch& Batch::set_staff_scope(UserId actor, AccountId account, UserId user, StaffScope scope) {
  return Add("set_staff_scope",
             NoId([=](Writer& w) { return w.SetStaffScope(actor, account, user, scope); }));
}
Batch& Batch::remove_staff(UserId actor, AccountId account, UserId user) {
  return Add("remove_staff", NoId([=](Writer& w) { return w.RemoveStaff(actor, account, user); }));
}
Batch& Batch::create_workspace(UserId actor, AccountId account, WorkspaceSpec spec) {
  return Add("create_workspace", [=, spec = std::move(spec)](Writer& w) {
    return w.CreateWorkspace(actor, account, spec);
  });
}
Batch& Batch::rename_workspace(UserId actor, WorkspaceId workspace, std::string name) {
  return Add("rename_workspace",
             NoId([=](Writer& w) { return w.RenameWorkspace(actor, workspace, name); }));
}
Batch& Batch::set_status(UserId actor, WorkspaceId workspace, WorkspaceStatus status) {
  return Add("set_status", NoId([=](Writer& w) { return w.SetStatus(actor, workspace, status); }));
}
Batch& Batch::set_setting(UserId actor, WorkspaceId workspace, std::string name,
                          SettingValue value) {
  return Add("set_setting",
             NoId([=](Writer& w) { return w.SetSetting(actor, workspace, name, value); }));
}
Batch& Batch::add_member(UserId actor, WorkspaceId workspace, UserId user, std::string role) {
  return Add("add_member",
             NoId([=](Writer& w) { return w.AddMember(actor, workspace, user, role); }));
}
Batch& Batch::set_role(UserId actor, WorkspaceId workspace, UserId user, std::string role) {
  return Add("set_role", NoId([=](Writer& w) { return w.SetRole(actor, workspace, user, role); }));
}
Batch& Batch::remove_member(UserId actor, WorkspaceId workspace, UserId user) {
  return Add("remove_member",
             NoId([=](Writer& w) { return w.RemoveMember(actor, workspace, user); }));
}
Batch& Batch::transfer_ownership(UserId actor, WorkspaceId workspace, UserId new_owner) {
  return Add("transfer_ownership",
             NoId([=](Writer& w) { return w.TransferOwnership(actor, workspace, new_owner); }));
}
Batch& Batch::switch_workspace(UserId user, WorkspaceId workspace) {
  return Add("switch_workspace",
             NoId([=](Writer& w) { return w.SwitchWorkspace(user, workspace); }));
}
Batch& Batch::define_role(UserId actor, AccountId account, std::string name,
                          std::vector<std::string> permissions, std::string inherits) {
  return Add("define_role", NoId([=](Writer& w) {
               return w.DefineRole(actor, account, name, permissions, inherits);
             }));
}
Batch& Batch::create_team(UserId actor, WorkspaceId workspace, std::string name, std::string role) {
  return Add("create_team", [=](Writer& w) { return w.CreateTeam(actor, workspace, name, role); });
}
Batch& Batch::add_team_member(UserId actor, TeamId team, UserId user) {
  return Add("add_team_member",
             NoId([=](Writer& w) { return w.AddTeamMember(actor, team, user); }));
}
Batch& Batch::remove_team_member(UserId actor, TeamId team, UserId user) {
  return Add("remove_team_member",
             NoId([=](Writer& w) { return w.RemoveTeamMember(actor, team, user); }));
}
Batch& Batch::set_team_role(UserId actor, TeamId team, std::string role) {
  return Add("set_team_role", NoId([=](Writer& w) { return w.SetTeamRole(actor, team, role); }));
}
Batch& Batch::delete_team(UserId actor, TeamId team) {
  return Add("delete_team", NoId([=](Writer& w) { return w.DeleteTeam(actor, team); }));
}
Batch& Batch::accept(std::string token, UserId user) {
  return Add("accept", NoId([=](Writer& w) { return w.Accept(token, user); }));
}
Batch& Batch::revoke_invitation(UserId actor, InvitationId invitation) {
  return Add("revoke_invitation",
             NoId([=](Writer& w) { return w.RevokeInvitation(actor, invitation); }));
}
Batch& Batch::delete_workspace(UserId actor, WorkspaceId workspace, std::string confirm) {
  return Add("delete_workspace",
             NoId([=](Writer& w) { return w.DeleteWorkspace(actor, workspace, confirm); }));
}

}  // namespace tenantry
