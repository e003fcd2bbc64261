// Copyright 2026 The tenantry Authors.
//
// The value types of the engine's public API.
#ifndef TENANTRY_TYPES_H_
#define TENANTRY_TYPES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "tenantry/export.h"

namespace tenantry {

// Ids are 64-bit, handed out by the engine in sequence per kind, never
// reused; 0 is never an id. An unknown id denies on the hot path.
using AccountId = uint64_t;
using UserId = uint64_t;
using WorkspaceId = uint64_t;
using TeamId = uint64_t;
using InvitationId = uint64_t;
// Permissions are interned to small integers (M7).
using PermissionId = uint32_t;

// The trusted actor of the embedding application (M10): bootstrap, billing.
// Not 0, so that a zero-initialized id never acts as SYSTEM.
inline constexpr UserId kSystem = ~uint64_t{0};

// T2: a plan caps the number of workspaces and may allow agency workspaces.
struct TENANTRY_API Plan {
  std::string name{};
  // Workspaces allowed in the account, sub-workspaces included; -1 = unlimited.
  int64_t workspace_limit = 1;
  // T4: whether agency workspaces may be created.
  bool agency = false;

  static constexpr int64_t kUnlimited = -1;
  // The built-in plans: starter 1, growth 5, scale 25, enterprise unlimited
  // with agency. Any other name is an unknown plan: limit 1, no agency.
  static Plan Named(const std::string& name);
  static Plan Custom(std::string name, int64_t workspace_limit, bool agency);
};

enum class WorkspaceType : uint8_t { kSimple = 0, kAgency = 1 };
enum class WorkspaceStatus : uint8_t { kActive = 0, kInactive = 1 };

// M2: a staff member's workspace scope.
struct StaffScope {
  bool all = false;
  std::vector<WorkspaceId> workspaces{};  // when !all; empty = no workspace

  static StaffScope All() { return {true, {}}; }
  static StaffScope Of(std::vector<WorkspaceId> ids) { return {false, std::move(ids)}; }
};

// T6: per-workspace settings.
struct Settings {
  bool beta_opt_in = true;
  int64_t approval_timeout_s = 86400;
  int64_t inactivity_timeout_s = 0;  // 0 = off
};
using SettingValue = std::variant<bool, int64_t>;

// T1, M2, M8: what an account starts with.
struct AccountSpec {
  std::string name{};
  UserId owner = 0;  // an existing user; becomes the account's staff owner
  std::optional<Plan> plan = Plan::Named("starter");  // nullopt = unset (limit 1)
  std::string key{};                                  // optional external key, unique
  std::string member_default_scope = "all";           // "all" or "none"
  std::string staff_member_role = "admin";            // workspace role of staff `member`s
};

// T3, T4: how a workspace is created.
struct WorkspaceSpec {
  std::string name{};
  std::optional<std::string> slug{};  // derived from the name when absent
  WorkspaceType type = WorkspaceType::kSimple;
  WorkspaceId parent = 0;  // an agency workspace of the same account, or 0
  UserId owner = 0;        // 0 = the actor (the account owner when the actor is SYSTEM)
};

struct WorkspaceInfo {
  WorkspaceId id = 0;
  AccountId account = 0;
  std::string name;
  std::string slug;
  WorkspaceType type = WorkspaceType::kSimple;
  WorkspaceStatus status = WorkspaceStatus::kActive;
  WorkspaceId parent = 0;
  UserId owner = 0;
  int depth = 1;
};

struct AccountInfo {
  AccountId id = 0;
  std::string name;
  std::string key;
  Plan plan;
  bool plan_set = true;
  UserId owner = 0;
  int64_t workspace_count = 0;
};

// A direct member of a workspace and the name of their role there.
struct Member {
  UserId user = 0;
  std::string role;
  bool operator==(const Member&) const = default;
};

// A4: why a check decided what it decided.
enum class AccessPath : uint8_t {
  kNone = 0,       // denied
  kDirect = 1,     // a role held in the workspace itself
  kTeam = 2,       // a role held by one of the user's teams there (M9)
  kStaff = 3,      // the account role, with the workspace in the staff scope
  kInherited = 4,  // a role held in an ancestor agency workspace (A3)
};

struct Decision {
  bool allowed = false;
  AccessPath path = AccessPath::kNone;
  std::string role;               // the role that granted, when allowed
  WorkspaceId via_workspace = 0;  // where that role is held
  uint64_t via_team = 0;          // the team, for kTeam
  std::string reason;             // a sentence, both when allowed and when denied
};

// I1: what `invite` and `resend` return. The token is shown once: the
// engine keeps only its keyed hash. Hand it to the invitee; `accept` takes it.
struct Invitation {
  InvitationId id = 0;
  std::string token;
  int64_t expires_at_ns = 0;
};

// I1-I2: an invitation as `invitation()` and `invitations()` describe it
// (never the token).
struct InvitationInfo {
  InvitationId id = 0;
  bool staff = false;  // a staff invitation (account role) or a workspace one
  AccountId account = 0;
  WorkspaceId workspace = 0;  // 0 for staff invitations
  std::string email;
  std::string role;  // workspace role, or account role for staff
  int64_t expires_at_ns = 0;
  std::string state;  // "pending", "accepted", "revoked" or "expired"
  UserId invited_by = 0;
  UserId accepted_by = 0;
};

// M9: a team and its role.
struct TeamInfo {
  TeamId id = 0;
  WorkspaceId workspace = 0;
  std::string name;
  std::string role;
  std::vector<UserId> members;  // ascending
};

// L1: one change in the audit trail and the change feed.
struct AuditRecord {
  uint64_t revision = 0;
  int64_t time_ns = 0;
  UserId actor = 0;
  AccountId account = 0;      // 0 when the change is not inside an account
  WorkspaceId workspace = 0;  // 0 when the change is not inside a workspace
  std::string what;  // the operation and its arguments, e.g. "add_member user=7 role=admin"
};

// ---- Replicas (R1-R8) ----

// R8: a change a replica validated at `expected_position`, for the
// application to append inside its own database transaction: run `sql`
// with ($1 expected_position, $2 change_id, $3 record as bytea,
// $4 format_version) in that transaction. It returns the change's position,
// or fails the transaction (SQLSTATE TN001) if another change came first:
// prepare again and retry. Every replica applies the change after the
// commit; nothing is applied if the transaction rolls back.
struct PreparedChange {
  int64_t expected_position = 0;
  std::string change_id;
  std::string record;
  int32_t format_version = 0;
  std::string sql;
};

// ---- Credits and quotas (C1-C8) ----

// C1: a meter is interned to a small integer, like a permission. The two
// built-in meters have fixed ids; an application's own get the next ones.
using MeterId = uint32_t;
inline constexpr MeterId kCredits = 0;  // buckets "regular" then "extra"
inline constexpr MeterId kMinutes = 1;  // one bucket, "regular"
// A meter has one or two buckets, in priority order (C1).
inline constexpr int kMaxBuckets = 2;

// Reservation ids carry a generation, so an id is never reused (C6).
using ReservationId = uint64_t;

// Amounts per bucket, in the meter's bucket order; a one-bucket meter uses
// [0] only and [1] is 0.
using BucketAmounts = std::array<int64_t, kMaxBuckets>;

// A meter as the credit calls name it: by id (the fast path) or by name.
// Converts implicitly from a MeterId or a name, so `consume(ws, 5)`,
// `consume(ws, 5, kMinutes)` and `consume(ws, 5, "minutes")` all read well.
class MeterRef {
 public:
  MeterRef(MeterId id) : id_(id) {}  // NOLINT(google-explicit-constructor)
  MeterRef(absl::string_view name)   // NOLINT(google-explicit-constructor)
      : by_name_(true), name_(name) {}
  MeterRef(const std::string& name)  // NOLINT(google-explicit-constructor)
      : by_name_(true), name_(name) {}
  template <size_t N>
  MeterRef(const char (&name)[N])  // NOLINT(google-explicit-constructor)
      : by_name_(true), name_(name, N - 1) {}

  // Every MeterId names a meter by id, even ~0 (an unknown one): no id is
  // taken as "by name".
  bool by_name() const { return by_name_; }
  MeterId id() const { return id_; }
  absl::string_view name() const { return name_; }

 private:
  MeterId id_ = 0;
  bool by_name_ = false;
  absl::string_view name_;
};

// C1: a meter and its buckets, in priority order.
struct MeterInfo {
  MeterId id = 0;
  std::string name;
  std::vector<std::string> buckets;
};

// C3-C6: what a workspace holds of one meter. `buckets` are what it can
// spend; `held` is what reservations hold apart (C6); `consumed` counts what
// consumes and commits debited over the workspace's life (C7).
struct Balance {
  BucketAmounts buckets{};
  int64_t held = 0;
  int64_t consumed = 0;
  // buckets[0] + buckets[1]: what a consume can take now.
  int64_t available() const { return buckets[0] + buckets[1]; }
};

// C2: an account's pool of one meter, and everything ever granted to it.
struct AccountBalance {
  BucketAmounts buckets{};  // the pool, per bucket
  int64_t granted = 0;      // the sum of every grant (C8)
  // What workspaces since deleted had consumed (their balances and holds
  // went back to the pool, T7): the part of `granted` no live workspace shows.
  int64_t consumed_by_deleted = 0;
  int64_t available() const { return buckets[0] + buckets[1]; }
};

// C7: what a ledger entry records.
enum class LedgerKind : uint8_t {
  kGrant = 0,           // SYSTEM or billing added to a pool bucket (C2)
  kTransfer = 1,        // pool -> workspace, regular first (C3)
  kRevoke = 2,          // workspace bucket -> pool (C4)
  kCommit = 3,          // a reservation settled: `amounts` debited, `returned` back (C6)
  kRelease = 4,         // a reservation released: `returned` back to its buckets (C6)
  kExpire = 5,          // a reservation expired: `returned` back to its buckets (C6)
  kReturnOnDelete = 6,  // a deleted workspace's balance and holds back to the pool (T7)
};

// Its name ("grant" ...): LedgerKindName in tenantry/names.h.

// C7: one entry of the ledger. Entries are numbered by `sequence` (strictly
// increasing, from 1). `revision` is the revision of the change that made
// the entry (grant, transfer, revoke, return on delete), or, for entries
// that are not changes of the graph (commit, release, expire), the revision
// current when they were made.
struct LedgerEntry {
  uint64_t sequence = 0;
  uint64_t revision = 0;
  int64_t time_ns = 0;
  UserId actor = 0;  // kSystem for commits, releases and expiries
  AccountId account = 0;
  WorkspaceId workspace = 0;  // 0 for a grant
  MeterId meter = kCredits;
  LedgerKind kind = LedgerKind::kGrant;
  BucketAmounts amounts{};   // moved or debited, per bucket
  BucketAmounts returned{};  // kCommit, kRelease, kExpire: back to the buckets
  ReservationId reservation = 0;
};

// C7: which ledger entries `Engine::ledger` returns (all conditions hold).
struct LedgerQuery {
  AccountId account = 0;        // 0 = any account
  WorkspaceId workspace = 0;    // 0 = any workspace
  int64_t since_ns = 0;         // entries with time_ns >= since_ns
  uint64_t after_sequence = 0;  // entries with sequence > after_sequence
};

// C6: a reservation as `Engine::reservation` describes it.
struct ReservationInfo {
  ReservationId id = 0;
  WorkspaceId workspace = 0;
  MeterId meter = kCredits;
  BucketAmounts held{};  // per bucket it was drawn from
  int64_t expires_at_ns = 0;
};

}  // namespace tenantry

#endif  // TENANTRY_TYPES_H_
