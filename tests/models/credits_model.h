// Copyright 2026 The tenantry Authors.
//
// A deliberately simple reference model of credits (docs/rules.md section 6, C1-C8,
// with T5, T7 and A7 where they touch credits), for the seeded simulation in
// credits_sim_test.cc. Plain maps, no atomics, no slots: what the rules say
// and nothing else.
//
// Every operation is two-phase: the model first says what it expects (the
// acceptable status codes and, on success, the value), then the simulation
// calls the engine and hands the engine's outcome to `Settle`, which applies
// the change to the model. More than one code is acceptable only where the
// contract leaves the order of two refusals open (e.g. an inactive workspace
// that is also short of credits): a refusal changes nothing whichever is
// reported, and where the refusal is remembered (an idempotency key) the
// model remembers the code the engine gave.
//
// With Options::key_slots_may_run_out, a new key's consume may also be
// ResourceExhausted (no free idempotency slot: where a key lands depends on
// the engine's random hash key), nothing debited and nothing remembered.
//
// Ledger entries are predicted exactly, with one exception the simulation
// drives explicitly: while expired holds are left unswept ("lazy" phases),
// any write may sweep some of them, so the model absorbs the engine's expiry
// entries (`Merge`) after checking each against the hold it names.
#ifndef TENANTRY_TESTS_CREDITS_MODEL_H_
#define TENANTRY_TESTS_CREDITS_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "tenantry/types.h"

namespace tenantry::credits_model {

// A meter as a call names it: by id or by name (MeterRef keeps a view only).
struct MeterArg {
  bool by_name = false;
  MeterId id = kCredits;
  std::string name;

  static MeterArg Id(MeterId id) { return {false, id, ""}; }
  static MeterArg Name(std::string name) { return {true, 0, std::move(name)}; }
  std::string ToString() const;  // as C++ source: `2` or `"tokens"`
};

// Which permission an authorize_and_consume names (A7).
enum class Perm { kCreditsConsume, kWorkspaceView, kOutOfRange };

// What the model expects of one call.
struct Expect {
  std::vector<absl::StatusCode> codes;  // acceptable outcomes; kOk = success
  int64_t value = 0;                    // on success: consume's available, the meter id,
                                        // expire's count, authorize_and_consume's bool
  BucketAmounts split{};                // on success: what a transfer took
  std::string why;                      // the rule the model applied (for messages)

  bool Accepts(absl::StatusCode code) const;
  bool ok_only() const { return codes.size() == 1 && codes[0] == absl::StatusCode::kOk; }
  std::string ToString() const;
};

class Model {
 public:
  struct Options {
    int64_t idempotency_window_s = 100;
    size_t reservation_slots = 64;
    // Options::idempotency_slots small enough to run out: a new key's
    // consume that would succeed may instead be ResourceExhausted (no free
    // slot near the key's home; where depends on the engine's random hash
    // key), with nothing debited and nothing remembered.
    bool key_slots_may_run_out = false;
  };

  struct Cell {
    BucketAmounts buckets{};
    int64_t held = 0;
    int64_t consumed = 0;
    bool funded = false;  // had a transfer: returned through the ledger on delete (T7)
  };
  struct Hold {
    WorkspaceId workspace = 0;
    AccountId account = 0;
    MeterId meter = kCredits;
    BucketAmounts split{};
    int64_t expires_at_ns = 0;
  };

  explicit Model(Options options);

  // ---- Time and revisions ----
  int64_t now() const { return now_ns_; }
  void SetNow(int64_t now_ns) { now_ns_ = now_ns; }
  uint64_t revision() const { return revision_; }
  void SetRevision(uint64_t revision) { revision_ = revision; }
  // A change outside credits (create_workspace, add_member) the engine accepted.
  void NoteChange() { ++revision_; }

  // ---- The world, as the simulation built it in the engine ----
  // Staff: `owner` and `admin` may transfer and revoke (credits.transfer),
  // only `owner` grants (billing.manage); all three have scope `all` and so
  // hold credits.consume in every workspace of the account (M8).
  void AddAccount(AccountId account, UserId owner, UserId admin, UserId member);
  void AddWorkspace(WorkspaceId workspace, AccountId account, WorkspaceId parent,
                    const std::string& name);
  // `user` is a `member` of agency `workspace` (inherited by its clients, A3).
  void AddAgencyMember(UserId user, WorkspaceId workspace);
  // `user` is a `client` of `workspace` (never inherited).
  void AddClient(UserId user, WorkspaceId workspace);

  // ---- Operations: each returns the expectation; Settle applies it ----
  Expect DefineMeter(const std::string& name, const std::vector<std::string>& buckets);
  Expect Grant(UserId actor, AccountId account, int64_t amount, const MeterArg& meter,
               const std::string& bucket);
  Expect Transfer(UserId actor, AccountId account, WorkspaceId workspace, int64_t amount,
                  const MeterArg& meter);
  Expect Revoke(UserId actor, WorkspaceId workspace, int64_t amount, const std::string& bucket,
                const MeterArg& meter);
  Expect Consume(WorkspaceId workspace, int64_t amount, const MeterArg& meter,
                 const std::string& key);
  Expect Reserve(WorkspaceId workspace, int64_t amount, const MeterArg& meter, int64_t ttl_s);
  Expect Commit(ReservationId reservation, int64_t actual);
  Expect Release(ReservationId reservation);
  Expect ExpireAll();
  Expect SetStatus(WorkspaceId workspace, bool active);
  Expect DeleteWorkspace(UserId actor, WorkspaceId workspace, const std::string& confirm);
  Expect AuthorizeAndConsume(UserId user, WorkspaceId workspace, Perm perm, int64_t amount,
                             const MeterArg& meter);
  // Applies the pending operation given the engine's outcome (which the
  // caller has checked is acceptable); `id` is a reserve's ReservationId.
  void Settle(absl::StatusCode got, uint64_t id = 0);

  // ---- Lazy expiry ----
  // While lazy, the entries an operation makes are kept apart until Merge.
  void SetLazy(bool lazy) { lazy_ = lazy; }
  bool lazy() const { return lazy_; }
  // Live holds with expires_at <= now (not yet swept), by id.
  std::vector<ReservationId> ExpiredLive() const;
  // `got` are the engine's entries after last_sequence(), made by the last
  // operation and the sweeps around it. Entries naming an expired live hold
  // are absorbed (checked: kind kExpire, or kRelease when `settling` is that
  // hold; revision in [rev_lo, rev_hi]), and so are kExpire entries of
  // expired holds the operation (a delete) made vanish: their amounts are in
  // the kReturnOnDelete either way. The others must be the operation's own,
  // in order. Returns "" or what disagrees.
  std::string Merge(const std::vector<LedgerEntry>& got, uint64_t rev_lo, uint64_t rev_hi,
                    ReservationId settling);

  // Sweep entries Merge absorbed so far (for coverage notes).
  uint64_t absorbed() const { return absorbed_; }

  // A key remembered for (workspace, meter) within the window.
  bool KeyLive(WorkspaceId workspace, MeterId meter, const std::string& key) const;

  // ---- What the model holds ----
  std::optional<MeterId> Resolve(const MeterArg& meter) const;
  // The index of `bucket` among the meter's buckets, or -1 (C1).
  int BucketIndex(MeterId meter, const std::string& bucket) const;
  // C6: settles a live hold (debits `actual` of it, regular first, returns
  // the rest to its buckets) and returns the ledger entry it makes.
  LedgerEntry SettleHold(ReservationId id, int64_t actual, LedgerKind kind);
  size_t meter_count() const { return meters_.size(); }
  const std::vector<std::string>& buckets(MeterId meter) const { return meters_.at(meter).buckets; }
  const std::string& meter_name(MeterId meter) const { return meters_.at(meter).name; }
  std::vector<AccountId> accounts() const;
  std::vector<WorkspaceId> live_workspaces() const;
  std::vector<WorkspaceId> live_workspaces(AccountId account) const;
  const std::vector<WorkspaceId>& deleted_workspaces() const { return deleted_; }
  bool live(WorkspaceId workspace) const { return workspaces_.count(workspace) > 0; }
  bool active(WorkspaceId workspace) const;
  bool agency(WorkspaceId workspace) const;  // has the agency flag (set by AddWorkspace's caller)
  void MarkAgency(WorkspaceId workspace);
  WorkspaceId parent(WorkspaceId workspace) const;
  AccountId account_of(WorkspaceId workspace) const;
  const std::string& name_of(WorkspaceId workspace) const;
  // Zeros before the first transfer; nullopt for an unknown workspace.
  std::optional<Balance> BalanceOf(WorkspaceId workspace, MeterId meter) const;
  AccountBalance PoolOf(AccountId account, MeterId meter) const;
  const std::map<ReservationId, Hold>& holds() const { return holds_; }
  const std::vector<ReservationId>& settled() const { return settled_; }
  const std::vector<LedgerEntry>& ledger() const { return ledger_; }
  uint64_t last_sequence() const { return ledger_.size(); }
  int64_t window_ns() const { return options_.idempotency_window_s * 1'000'000'000; }

 private:
  struct MeterDef {
    std::string name;
    std::vector<std::string> buckets;
  };
  struct Pool {
    BucketAmounts buckets{};
    int64_t granted = 0;
    int64_t consumed_by_deleted = 0;
  };
  struct Account {
    UserId owner = 0;
    UserId admin = 0;
    UserId member = 0;
    std::map<MeterId, Pool> pools;
  };
  struct Workspace {
    AccountId account = 0;
    WorkspaceId parent = 0;
    std::string name;
    bool active = true;
    bool agency = false;
    std::map<MeterId, Cell> cells;
  };
  struct KeyRecord {
    int64_t amount = 0;
    int64_t time_ns = 0;
    absl::StatusCode code = absl::StatusCode::kOk;
    int64_t value = 0;
  };
  using KeyId = std::tuple<WorkspaceId, MeterId, std::string>;

  Expect Pending(Expect expect, std::function<void(absl::StatusCode, uint64_t)> apply);
  void Append(LedgerEntry entry);
  bool Holds(UserId user, WorkspaceId workspace, Perm perm) const;
  // Debits `amount` regular first; returns the split. Caller checked it fits.
  static BucketAmounts Debit(Cell& cell, int64_t amount);

  Options options_;
  int64_t now_ns_ = 0;
  uint64_t revision_ = 0;
  std::vector<MeterDef> meters_;
  std::map<AccountId, Account> accounts_;
  std::map<WorkspaceId, Workspace> workspaces_;
  std::vector<WorkspaceId> deleted_;
  std::map<UserId, std::set<WorkspaceId>> agency_members_;  // user -> agencies (member role)
  std::map<UserId, std::set<WorkspaceId>> clients_;         // user -> workspaces (client role)
  std::map<ReservationId, Hold> holds_;
  std::vector<ReservationId> settled_;  // ids no longer live, for NotFound probes
  std::map<KeyId, KeyRecord> keys_;
  std::vector<LedgerEntry> ledger_;
  bool lazy_ = false;
  uint64_t absorbed_ = 0;
  std::vector<LedgerEntry> own_;  // lazy: this operation's entries, not yet sequenced
  // Lazy: expired holds a delete just made vanish (returned on delete, T7);
  // the engine may have swept them first, in the same call.
  std::map<ReservationId, Hold> vanished_;
  std::function<void(absl::StatusCode, uint64_t)> pending_;
};

// "kTransfer" etc.
std::string KindName(LedgerKind kind);
// Every field equal.
bool SameEntry(const LedgerEntry& a, const LedgerEntry& b);
// One entry as text, every field.
std::string EntryText(const LedgerEntry& entry);
// Entries in a canonical order: within a run of consecutive kExpire entries
// of one time and revision (one sweep) sorted by reservation, within a run
// of kReturnOnDelete entries of one revision (one delete) by (workspace,
// meter); sequences stay where they were. The contract leaves those orders open.
std::vector<LedgerEntry> Canonical(std::vector<LedgerEntry> entries);

}  // namespace tenantry::credits_model

#endif  // TENANTRY_TESTS_CREDITS_MODEL_H_
