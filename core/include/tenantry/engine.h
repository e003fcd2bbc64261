// Copyright 2026 The tenantry Authors.
//
// tenantry::Engine: the in-memory tenant graph, its people and roles, and the
// lock-free access check. See docs/concurrency.md for how reads stay
// lock-free and how memory is reclaimed.
//
// Thread-safety: every method is safe to call from any thread without
// external synchronization, including threads the engine never saw before
// (X5). Reads (`check`, `explain`, lists, getters) take no lock, never wait
// for a writer and see one consistent version (X1, X2). Changes are
// serialized, each gets a revision and an audit record (X3, L1), and a failed
// change changes nothing.
//
// Errors are absl::Status codes as section 10 of docs/rules.md lists them; every
// message names the rule it enforces by its id, listed there too, e.g. "slug 'ab-'
// must not end with a hyphen (T3)".
#ifndef TENANTRY_ENGINE_H_
#define TENANTRY_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tenantry/clock.h"
#include "tenantry/export.h"
#include "tenantry/journal.h"
#include "tenantry/limits.h"
#include "tenantry/names.h"
#include "tenantry/types.h"

namespace tenantry {

namespace internal {
// The one way into an Engine for the rest of the project (the write path,
// the journal, snapshots): core/src/engine_internal.h.
class EngineInternal;
struct Version;
}  // namespace internal

// A list of changes applied by `Engine::apply` as one: all become visible
// together, or, when one fails, none does and the error names it (X2).
// Each change still gets its own revision and audit record. The methods
// mirror the Engine's; ids created by the batch are returned by `apply`, in
// the order of the changes (0 for changes that create nothing).
// Not thread-safe; build it on one thread, then hand it to `apply`.
class TENANTRY_API Batch {
 public:
  Batch& create_user(std::string key);
  Batch& create_account(AccountSpec spec);
  Batch& set_plan(UserId actor, AccountId account, Plan plan);
  Batch& add_staff(UserId actor, AccountId account, UserId user, std::string role,
                   std::optional<StaffScope> scope = std::nullopt);
  Batch& set_staff_scope(UserId actor, AccountId account, UserId user, StaffScope scope);
  Batch& remove_staff(UserId actor, AccountId account, UserId user);
  Batch& create_workspace(UserId actor, AccountId account, WorkspaceSpec spec);
  Batch& rename_workspace(UserId actor, WorkspaceId workspace, std::string name);
  Batch& set_status(UserId actor, WorkspaceId workspace, WorkspaceStatus status);
  Batch& set_setting(UserId actor, WorkspaceId workspace, std::string name, SettingValue value);
  Batch& add_member(UserId actor, WorkspaceId workspace, UserId user, std::string role);
  Batch& set_role(UserId actor, WorkspaceId workspace, UserId user, std::string role);
  Batch& remove_member(UserId actor, WorkspaceId workspace, UserId user);
  Batch& transfer_ownership(UserId actor, WorkspaceId workspace, UserId new_owner);
  Batch& switch_workspace(UserId user, WorkspaceId workspace);
  Batch& define_role(UserId actor, AccountId account, std::string name,
                     std::vector<std::string> permissions, std::string inherits = "");
  Batch& create_team(UserId actor, WorkspaceId workspace, std::string name, std::string role);
  Batch& add_team_member(UserId actor, TeamId team, UserId user);
  Batch& remove_team_member(UserId actor, TeamId team, UserId user);
  Batch& set_team_role(UserId actor, TeamId team, std::string role);
  Batch& delete_team(UserId actor, TeamId team);
  Batch& accept(std::string token, UserId user);
  Batch& revoke_invitation(UserId actor, InvitationId invitation);
  Batch& delete_workspace(UserId actor, WorkspaceId workspace, std::string confirm);

  size_t size() const { return changes_.size(); }
  bool empty() const { return changes_.empty(); }

 private:
  friend class Engine;
  Batch& Add(std::string op);
  std::vector<std::string> changes_;  // encoded ops (internal/ops.h)
};

class TENANTRY_API Engine {
 public:
  struct Options {
    // Time for audit records and sessions (I4). Null = the system clock.
    std::shared_ptr<const Clock> clock{};
    // L1: audit records kept for `changes_since`; older ones leave memory.
    size_t feed_retention = limits::kFeedRetentionDefault;
    // I2: how long an invitation (or a resent one) stays acceptable.
    int64_t invitation_ttl_s = limits::kInvitationTtlDefaultS;
    // C5: how long a consume's idempotency key is remembered, and how many
    // keys fit (slots, rounded up to a power of two, at least 64; a keyed
    // consume finding no free slot near its key's home is refused with
    // ResourceExhausted, nothing debited).
    int64_t idempotency_window_s = limits::kIdempotencyWindowDefaultS;
    size_t idempotency_slots = limits::kIdempotencySlotsDefault;
    // C6: reservations that can be live at once (at most
    // limits::kReservationSlotsMax); a reserve past it is ResourceExhausted.
    size_t reservation_slots = limits::kReservationSlotsDefault;
    // C7: ledger entries kept for `ledger()`; older ones leave memory.
    size_t ledger_retention = limits::kLedgerRetentionDefault;
    // P3: the journal, a directory ("" = none; created 0700 if missing).
    // Engines with a journal are made by Engine::Open or LoadSnapshot.
    std::string journal{};
    Durability durability = Durability::kSync;
    // kGroup: how often the journal is flushed (1..limits::kGroupCommitMaxMs).
    int64_t group_commit_ms = limits::kGroupCommitDefaultMs;
    // P3: a journal damaged before its end (a damaged record followed by a
    // sound one ...): refused with DataLoss (the default), or cut at the
    // damage with the rest set aside and reported (journal_recovery()).
    OnJournalDamage on_journal_damage = OnJournalDamage::kRefuse;

    // R1-R7 (docs/replication.md): a replica of a group whose log is kept
    // in PostgreSQL, opened by OpenReplica (tenantry/replica.h). `log` is a
    // libpq connection string or URI; `group` the schema that holds the
    // group's log (created on first use). A replica has no journal: the log
    // takes its place.
    std::string log{};
    std::string group{};
    // This replica's id, unique in the group ("" = random).
    std::string replica_id{};
    // R2: how long a change waits for the log's head lock (and for a head
    // that keeps moving) before it fails with `unavailable`.
    int64_t log_lock_timeout_ms = limits::kLogLockTimeoutDefaultMs;
    // R3: how often the follower polls when no notification wakes it.
    int64_t log_poll_ms = limits::kLogPollDefaultMs;
    // R6: credit leases. With `lease_credits`, a replica consumes locally
    // (lock-free, no round trip) from a part of a workspace's balance it
    // leased through the log: at most `lease_max` per (workspace, meter),
    // and at most the available balance divided by `lease_share` (the
    // replicas expected to consume there). Below `lease_floor` available,
    // no lease is granted and consumes go through the log. What was
    // consumed is settled in one record every `settle_interval_ms`; a lease
    // ends `lease_ttl_ms` after it was granted (log time), when any replica
    // may expire it. A killed replica's unsettled consumption (at most its
    // leases) is forgiven: an undercharge, never an overcharge.
    bool lease_credits = true;
    int64_t lease_max = limits::kLeaseMaxDefault;
    int64_t lease_share = limits::kLeaseShareDefault;
    int64_t lease_floor = limits::kLeaseFloorDefault;
    int64_t settle_interval_ms = limits::kSettleIntervalDefaultMs;
    int64_t lease_ttl_ms = limits::kLeaseTtlDefaultMs;
  };

  // InvalidArgument naming the first option outside its range: retentions
  // >= 1; invitation_ttl_s in [1, limits::kInvitationTtlMaxS];
  // idempotency_window_s in [1, limits::kIdempotencyWindowMaxS];
  // idempotency_slots in [1, limits::kIdempotencySlotsMax]; reservation_slots
  // in [1, limits::kReservationSlotsMax]. Bindings refuse such options with
  // it; the constructor clamps them into range instead.
  static absl::Status ValidateOptions(const Options& options);

  Engine();
  // An engine without a journal (Options::journal is ignored here: use
  // Open, which can report what opening and recovering it found).
  explicit Engine(Options options);
  // P3: an engine with Options::journal: an empty directory starts a new
  // journal; one holding a journal is recovered from it (every record
  // replayed, a torn last record dropped). DataLoss for a damaged journal
  // (unless Options::on_journal_damage says to cut it) or
  // one that continues a snapshot (recover with LoadSnapshot(snapshot,
  // options) then); FailedPrecondition when another engine holds it;
  // InvalidArgument for bad options. Without a journal, a plain engine.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(Options options);
  // Destroying an engine while another thread still calls it is undefined.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The revision of the newest published version (0 before any change).
  uint64_t revision() const;
  // P3: whether every change is journaled (Options::journal). Consumes then
  // wait for the journal lock (bindings release their interpreter lock).
  bool has_journal() const noexcept { return journaled_; }
  // P3: what opening the journal found: records read, a torn tail dropped,
  // and, with OnJournalDamage::kTruncate, the damage it cut at and every
  // position lost. Empty without a journal. Set before the engine is
  // returned, never changed after: safe from any thread.
  const JournalRecovery& journal_recovery() const;

  // ---- Replicas (R1-R7, docs/replication.md) ----
  // Whether this engine follows a group's log (OpenReplica). On a replica
  // every change goes through the log: it may wait for the database and
  // fail with Unavailable, whose status carries the change's id
  // (ChangeIdOf, tenantry/status.h); reads never wait.
  bool is_replica() const noexcept;
  // R4: the last position of the log applied to this engine (0 for an
  // engine that is no replica).
  int64_t position() const;
  // R4: the position of the last change this thread made on this engine
  // (0 if none): wait_for(it) on another replica reads that change.
  int64_t last_change_position() const;
  // R4: returns once position() >= `position`; DeadlineExceeded naming both
  // positions after `timeout_ms`. OK at once on an engine that is no
  // replica for position 0.
  absl::Status wait_for(int64_t position, int64_t timeout_ms) const;
  // R7: `apply` with the change's id: a retry with the same id is answered
  // from the log (the ids it returned, if this replica still remembers
  // them) and never applied twice. The id is at most 200 bytes; "" = a new
  // id. On an engine that is no replica the id is ignored.
  absl::StatusOr<std::vector<uint64_t>> apply(const Batch& batch, absl::string_view change_id);
  // R8: validates `batch` at this replica's head and returns what the
  // application appends in its own transaction (PreparedChange); nothing is
  // applied here. The refusal of an invalid batch as `apply` gives it.
  // FailedPrecondition (R8) on an engine that is no replica.
  absl::StatusOr<PreparedChange> prepare(const Batch& batch, absl::string_view change_id = {});
  // R5: in a process forked after the replica was opened (a pre-forking
  // server's worker): gives this process its own replica id and
  // connections and starts following; until then its changes are refused
  // (reads go on). OK and nothing done elsewhere.
  absl::Status follow();
  // R5: stops following the log; changes are refused from then on, reads
  // go on at the last applied position. Idempotent; the destructor does it.
  void close();

  // ---- Permission catalog (M7) ----
  // The interned id of a permission name; NotFound for an unknown name.
  absl::StatusOr<PermissionId> permission(absl::string_view name) const;
  // Registers an application's own `resource.action` name (idempotent:
  // returns the existing id for a known name). ResourceExhausted past
  // limits::kMaxPermissions.
  absl::StatusOr<PermissionId> register_permission(absl::string_view name);
  // The name of an interned id; NotFound when out of range.
  absl::StatusOr<std::string> permission_name(PermissionId permission) const;

  // ---- Tenancy (T1-T8) and people (M1, M2) ----
  absl::StatusOr<AccountId> create_account(AccountSpec spec);
  absl::StatusOr<AccountInfo> account(AccountId account) const;
  absl::Status set_plan(UserId actor, AccountId account, Plan plan);
  absl::StatusOr<UserId> create_user(absl::string_view key);
  absl::StatusOr<UserId> user(absl::string_view key) const;  // NotFound if absent
  absl::Status add_staff(UserId actor, AccountId account, UserId user, absl::string_view role,
                         std::optional<StaffScope> scope = std::nullopt);
  absl::Status set_staff_scope(UserId actor, AccountId account, UserId user, StaffScope scope);
  absl::Status remove_staff(UserId actor, AccountId account, UserId user);
  // (role name, scope) of a staff member; NotFound when not staff.
  absl::StatusOr<std::pair<std::string, StaffScope>> staff(AccountId account, UserId user) const;

  absl::StatusOr<WorkspaceId> create_workspace(UserId actor, AccountId account, WorkspaceSpec spec);
  bool slug_available(AccountId account, absl::string_view slug) const;
  absl::StatusOr<WorkspaceInfo> workspace(WorkspaceId workspace) const;
  absl::Status rename_workspace(UserId actor, WorkspaceId workspace, absl::string_view name);
  absl::Status set_status(UserId actor, WorkspaceId workspace, WorkspaceStatus status);
  absl::Status set_setting(UserId actor, WorkspaceId workspace, absl::string_view name,
                           SettingValue value);
  absl::StatusOr<Settings> settings(WorkspaceId workspace) const;

  // ---- Workspace roles (M3-M5, M10) ----
  absl::Status add_member(UserId actor, WorkspaceId workspace, UserId user, absl::string_view role);
  absl::Status set_role(UserId actor, WorkspaceId workspace, UserId user, absl::string_view role);
  absl::Status remove_member(UserId actor, WorkspaceId workspace, UserId user);
  absl::Status transfer_ownership(UserId actor, WorkspaceId workspace, UserId new_owner);

  // T7: deletes the workspace and its sub-workspaces with everything scoped
  // to them. Needs workspace.delete and `confirm` equal to the exact name;
  // refused for the account's only workspace(s) and the caller's own active one.
  absl::Status delete_workspace(UserId actor, WorkspaceId workspace, absl::string_view confirm);

  // ---- Custom roles (M6) and teams (M9) ----
  // Defines, or redefines, an account's role: its own permissions (catalog
  // names) and optionally a built-in or custom role it inherits from ("" =
  // none). Cycles are refused. A redefinition takes effect for every holder
  // in the version that makes it. Needs account.manage_staff.
  absl::Status define_role(UserId actor, AccountId account, absl::string_view name,
                           const std::vector<std::string>& permissions,
                           absl::string_view inherits = "");
  // The resolved permission names of a built-in or custom role, sorted.
  absl::StatusOr<std::vector<std::string>> role_permissions(AccountId account,
                                                            absl::string_view role) const;
  absl::StatusOr<TeamId> create_team(UserId actor, WorkspaceId workspace, absl::string_view name,
                                     absl::string_view role);
  absl::Status add_team_member(UserId actor, TeamId team, UserId user);
  absl::Status remove_team_member(UserId actor, TeamId team, UserId user);
  absl::Status set_team_role(UserId actor, TeamId team, absl::string_view role);
  absl::Status delete_team(UserId actor, TeamId team);
  absl::StatusOr<TeamInfo> team(TeamId team) const;
  absl::StatusOr<std::vector<TeamId>> teams(WorkspaceId workspace) const;

  // ---- Invitations (I1-I4) ----
  // A workspace invitation (role `client` unless named). The token is in
  // the result only; the engine keeps its keyed hash.
  absl::StatusOr<Invitation> invite(UserId actor, WorkspaceId workspace, absl::string_view email,
                                    absl::string_view role = "client");
  // A staff invitation: account role admin or member, and for members a scope.
  absl::StatusOr<Invitation> invite_staff(UserId actor, AccountId account, absl::string_view email,
                                          absl::string_view role,
                                          std::optional<StaffScope> scope = std::nullopt);
  // I3: only the user whose key is the invitation's e-mail; every rule is
  // checked again now. Expired, revoked or used tokens: FailedPrecondition.
  absl::Status accept(absl::string_view token, UserId user);
  // I2: a fresh token and expiry; the old token stops working.
  absl::StatusOr<Invitation> resend(UserId actor, InvitationId invitation);
  absl::Status revoke_invitation(UserId actor, InvitationId invitation);
  absl::StatusOr<InvitationInfo> invitation(InvitationId invitation) const;
  // Every invitation of the workspace, by id.
  absl::StatusOr<std::vector<InvitationInfo>> invitations(WorkspaceId workspace) const;

  // ---- Sessions (S1) ----
  absl::Status switch_workspace(UserId user, WorkspaceId workspace);
  // The active workspace, or none. A session unused for longer than its
  // workspace's inactivity_timeout_s (T6) counts as cleared.
  std::optional<WorkspaceId> active_workspace(UserId user) const;
  // Records activity in the user's session (S1); FailedPrecondition when
  // there is none (or it expired).
  absl::Status touch_session(UserId user);
  // Clears every session past its inactivity timeout; returns how many.
  absl::StatusOr<uint64_t> expire_sessions();

  // ---- Checks (A1-A6): lock-free, wait-free with respect to writers ----
  // A1: true when the user holds `permission` in the workspace. Unknown ids
  // and out-of-range permissions deny. Never fails, never blocks.
  bool check(UserId user, WorkspaceId workspace, PermissionId permission) const noexcept;
  // A6: out[i] = check(users[i], workspaces[i], permissions[i]); all four
  // spans have the same length (InvalidArgument otherwise). One version
  // answers the whole batch.
  absl::Status check_many(absl::Span<const UserId> users, absl::Span<const WorkspaceId> workspaces,
                          absl::Span<const PermissionId> permissions,
                          absl::Span<uint8_t> out) const;
  // A4: the decision and why. InvalidArgument for an out-of-range permission.
  absl::StatusOr<Decision> explain(UserId user, WorkspaceId workspace,
                                   PermissionId permission) const;
  // A5: active workspaces the user may switch into, ordered by name (then id).
  std::vector<WorkspaceId> workspaces_for(UserId user) const;
  // A5: direct members and their roles, ordered by user id; NotFound for an
  // unknown workspace.
  absl::StatusOr<std::vector<Member>> members(WorkspaceId workspace) const;
  // A5: every user for whom check(user, workspace, permission) holds, by id.
  std::vector<UserId> who_can(WorkspaceId workspace, PermissionId permission) const;
  // A5: every workspace where check(user, workspace, permission) holds, by id.
  std::vector<WorkspaceId> accessible(UserId user, PermissionId permission) const;

  // ---- Credits and quotas (C1-C8, A7) ----
  // Amounts are int64 of the meter's smallest unit. Every amount moved must
  // be > 0 (InvalidArgument otherwise); every sum is checked, and a result
  // past INT64_MAX (pools) or limits::kMaxWorkspaceBalance (a workspace's
  // buckets and holds together) is ResourceExhausted: never a wrap (C1).
  // Unknown meters, buckets, accounts and workspaces are NotFound.

  // C1: defines an application's meter with one or two buckets in priority
  // order (names `[a-z0-9_]`, at most limits::kMeterNameMaxBytes). Defining
  // an existing meter again with the same buckets does nothing; with other
  // buckets it is AlreadyExists. `credits` (regular, extra) and `minutes`
  // (regular) exist from the start.
  absl::StatusOr<MeterId> define_meter(absl::string_view name,
                                       const std::vector<std::string>& buckets);
  absl::StatusOr<MeterInfo> meter(MeterRef meter) const;
  // C2: adds `amount` to the account's pool bucket. The actor is SYSTEM
  // (billing) or holds billing.manage in the account (its staff owner).
  absl::Status grant(UserId actor, AccountId account, int64_t amount, MeterRef meter = kCredits,
                     absl::string_view bucket = "regular");
  // C3: moves `amount` from the pool to the workspace, regular first, then
  // extra; ResourceExhausted, nothing moved, if the pool holds less in all.
  // Returns what was taken per bucket. Needs credits.transfer in the account.
  absl::StatusOr<BucketAmounts> transfer(UserId actor, AccountId account, WorkspaceId workspace,
                                         int64_t amount, MeterRef meter = kCredits);
  // C4: moves `amount` from the workspace's named bucket back to the pool;
  // ResourceExhausted if that bucket holds less. Needs credits.transfer.
  // The meter comes before the bucket, as in `grant`.
  absl::Status revoke(UserId actor, WorkspaceId workspace, int64_t amount,
                      MeterRef meter = kCredits, absl::string_view bucket = "regular");
  // Before 0.2 `revoke` took (..., bucket, meter). A bucket name alone in
  // fourth place would now silently name a meter, so a string there does
  // not compile: pass the meter first (`revoke(a, w, n, kCredits, "extra")`)
  // or a MeterRef.
  template <size_t N>
  absl::Status revoke(UserId, WorkspaceId, int64_t, const char (&)[N]) = delete;
  absl::Status revoke(UserId, WorkspaceId, int64_t, absl::string_view) = delete;
  absl::Status revoke(UserId, WorkspaceId, int64_t, const std::string&) = delete;

  // C5: debits `amount`, regular first, then extra, in one atomic step; never
  // below zero: ResourceExhausted, nothing debited, if the buckets hold less.
  // Returns what is available after. Lock-free: never waits for a writer.
  // FailedPrecondition on an inactive workspace (T5). With a non-empty
  // `key` (at most limits::kIdempotencyKeyMaxBytes), a retry within
  // Options::idempotency_window_s returns the first result, success or
  // refusal, without a second debit; a retry with another amount is
  // InvalidArgument. Keys are scoped to (workspace, meter).
  absl::StatusOr<int64_t> consume(WorkspaceId workspace, int64_t amount, MeterRef meter = kCredits,
                                  absl::string_view key = {});
  // C6: holds `amount` apart, drawn like a consume (regular first), for
  // `ttl_s` seconds of the engine's clock (1..limits::kReservationTtlMaxS).
  // Lock-free. Same refusals as consume, plus ResourceExhausted when
  // Options::reservation_slots reservations are live.
  absl::StatusOr<ReservationId> reserve(WorkspaceId workspace, int64_t amount,
                                        MeterRef meter = kCredits, int64_t ttl_s = 3600);
  // C6: debits `actual` (0 <= actual <= held) from the hold, regular first,
  // and returns the rest to the buckets it came from; a ledger entry.
  // NotFound for an unknown or settled reservation; FailedPrecondition once
  // it expired (an expired hold is never committable).
  absl::Status commit(ReservationId reservation, int64_t actual);
  // C6: returns the whole hold to its buckets; a ledger entry.
  absl::Status release(ReservationId reservation);
  // C6: releases every reservation past its expiry (each a ledger entry);
  // returns how many. Every change, commit and release also releases every
  // expired hold, and so does a consume or reserve that would otherwise be
  // refused (if the writer lock is free: it never waits). See docs/ledger.md.
  absl::StatusOr<uint64_t> expire_reservations();
  // C6: a live reservation; NotFound once settled, released or expired.
  absl::StatusOr<ReservationInfo> reservation(ReservationId reservation) const;

  // C3-C6: the workspace's buckets, held amount and consumption (all zero
  // before the first transfer). Lock-free; one atomic read of the buckets.
  absl::StatusOr<Balance> balance(WorkspaceId workspace, MeterRef meter = kCredits) const;
  // C2: the account's pool and the total granted.
  absl::StatusOr<AccountBalance> account_balance(AccountId account,
                                                 MeterRef meter = kCredits) const;
  // C7: retained ledger entries matching `query`, oldest first.
  // FailedPrecondition when entries the query asks for have left memory
  // (Options::ledger_retention): see docs/ledger.md.
  absl::StatusOr<std::vector<LedgerEntry>> ledger(const LedgerQuery& query = {}) const;

  // A7: check(user, workspace, permission) and consume(workspace, amount)
  // as one step against one version: true when allowed and debited; false
  // when denied (nothing debited); an error when allowed but the consume is
  // refused (nothing debited). Lock-free.
  absl::StatusOr<bool> authorize_and_consume(UserId user, WorkspaceId workspace,
                                             PermissionId permission, int64_t amount,
                                             MeterRef meter = kCredits);

  // ---- Change feed (L1) and batches (X2) ----
  // Every change with revision > `revision`, in order. FailedPrecondition
  // when some of them are no longer retained (see Options::feed_retention).
  absl::StatusOr<std::vector<AuditRecord>> changes_since(uint64_t revision) const;
  // Applies every change of the batch in one published version, or none.
  absl::StatusOr<std::vector<uint64_t>> apply(const Batch& batch);

  // Checks every invariant of the engine's state, conservation of every
  // account and meter included (C8); DataLoss naming the first broken one.
  // Takes the writer lock (so no change is half-applied) but never stops
  // checks, consumes or reserves.
  absl::Status verify() const;

  // Counters for tests and benchmarks: published versions not yet
  // reclaimed are in internal::Epochs; this is the number of live entities.
  struct Stats {
    uint64_t accounts = 0, users = 0, workspaces = 0, memberships = 0;
  };
  Stats stats() const;

 private:
  friend class internal::EngineInternal;

 public:
  class Impl;

 private:
  // The newest published version: the one atomic root (X1). Kept here, not
  // in Impl, so that `check` reaches it with one load.
  std::atomic<const internal::Version*> root_{nullptr};
  // P3: set once, before the engine is shared, when it has a journal; kept
  // beside the root so that consume tests it without another cache line.
  bool journaled_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantry

#endif  // TENANTRY_ENGINE_H_
