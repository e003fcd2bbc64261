// Copyright 2026 The tenantry Authors.
#include "credits_model.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tenantry/limits.h"

namespace tenantry::credits_model {
namespace {

using Code = absl::StatusCode;
constexpr Code kOk = Code::kOk;
constexpr Code kInvalid = Code::kInvalidArgument;
constexpr Code kNotFound = Code::kNotFound;
constexpr Code kExists = Code::kAlreadyExists;
constexpr Code kDenied = Code::kPermissionDenied;
constexpr Code kPrecondition = Code::kFailedPrecondition;
constexpr Code kExhausted = Code::kResourceExhausted;

// Collects the refusals that apply; any one of them is an acceptable answer.
struct Refusals {
  std::vector<Code> codes;
  std::string why;
  void Add(Code code, absl::string_view rule) {
    if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(code);
    absl::StrAppend(&why, why.empty() ? "" : "; ", rule);
  }
  bool any() const { return !codes.empty(); }
  Expect expect() const { return Expect{codes, 0, {}, why}; }
};

Expect Ok(int64_t value, std::string why) { return Expect{{kOk}, value, {}, std::move(why)}; }

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > limits::kMeterNameMaxBytes) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

int64_t Sum(const BucketAmounts& a) { return a[0] + a[1]; }

}  // namespace

std::string MeterArg::ToString() const {
  return by_name ? absl::StrCat("\"", name, "\"") : absl::StrCat(id);
}

bool Expect::Accepts(absl::StatusCode code) const {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

std::string Expect::ToString() const {
  std::vector<std::string> names;
  for (Code code : codes) names.push_back(absl::StatusCodeToString(code));
  std::string out = absl::StrCat("{", absl::StrJoin(names, "|"), "}");
  if (Accepts(kOk)) absl::StrAppend(&out, " value=", value, " split=", split[0], "/", split[1]);
  if (!why.empty()) absl::StrAppend(&out, " (", why, ")");
  return out;
}

Model::Model(Options options) : options_(options) {
  meters_.push_back({"credits", {"regular", "extra"}});
  meters_.push_back({"minutes", {"regular"}});
}

// ---- The world ----

void Model::AddAccount(AccountId account, UserId owner, UserId admin, UserId member) {
  Account& a = accounts_[account];
  a.owner = owner;
  a.admin = admin;
  a.member = member;
}

void Model::AddWorkspace(WorkspaceId workspace, AccountId account, WorkspaceId parent,
                         const std::string& name) {
  Workspace& ws = workspaces_[workspace];
  ws.account = account;
  ws.parent = parent;
  ws.name = name;
}

void Model::AddAgencyMember(UserId user, WorkspaceId workspace) {
  agency_members_[user].insert(workspace);
}

void Model::AddClient(UserId user, WorkspaceId workspace) { clients_[user].insert(workspace); }

void Model::MarkAgency(WorkspaceId workspace) { workspaces_.at(workspace).agency = true; }

// ---- Reads ----

int Model::BucketIndex(MeterId meter, const std::string& bucket) const {
  const auto& names = meters_[meter].buckets;
  auto it = std::find(names.begin(), names.end(), bucket);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::optional<MeterId> Model::Resolve(const MeterArg& meter) const {
  if (!meter.by_name) {
    if (meter.id < meters_.size()) return meter.id;
    return std::nullopt;
  }
  for (MeterId id = 0; id < meters_.size(); ++id) {
    if (meters_[id].name == meter.name) return id;
  }
  return std::nullopt;
}

std::vector<AccountId> Model::accounts() const {
  std::vector<AccountId> out;
  for (const auto& [id, a] : accounts_) out.push_back(id);
  return out;
}

std::vector<WorkspaceId> Model::live_workspaces() const {
  std::vector<WorkspaceId> out;
  for (const auto& [id, ws] : workspaces_) out.push_back(id);
  return out;
}

std::vector<WorkspaceId> Model::live_workspaces(AccountId account) const {
  std::vector<WorkspaceId> out;
  for (const auto& [id, ws] : workspaces_) {
    if (ws.account == account) out.push_back(id);
  }
  return out;
}

bool Model::active(WorkspaceId workspace) const { return workspaces_.at(workspace).active; }
bool Model::agency(WorkspaceId workspace) const { return workspaces_.at(workspace).agency; }
WorkspaceId Model::parent(WorkspaceId workspace) const { return workspaces_.at(workspace).parent; }
AccountId Model::account_of(WorkspaceId workspace) const {
  return workspaces_.at(workspace).account;
}
const std::string& Model::name_of(WorkspaceId workspace) const {
  return workspaces_.at(workspace).name;
}

std::optional<Balance> Model::BalanceOf(WorkspaceId workspace, MeterId meter) const {
  auto it = workspaces_.find(workspace);
  if (it == workspaces_.end()) return std::nullopt;
  Balance b;
  auto cell = it->second.cells.find(meter);
  if (cell != it->second.cells.end()) {
    b.buckets = cell->second.buckets;
    b.held = cell->second.held;
    b.consumed = cell->second.consumed;
  }
  return b;
}

AccountBalance Model::PoolOf(AccountId account, MeterId meter) const {
  AccountBalance b;
  const Account& a = accounts_.at(account);
  auto it = a.pools.find(meter);
  if (it != a.pools.end()) {
    b.buckets = it->second.buckets;
    b.granted = it->second.granted;
    b.consumed_by_deleted = it->second.consumed_by_deleted;
  }
  return b;
}

std::vector<ReservationId> Model::ExpiredLive() const {
  std::vector<ReservationId> out;
  for (const auto& [id, hold] : holds_) {
    if (hold.expires_at_ns <= now_ns_) out.push_back(id);
  }
  return out;
}

// ---- Plumbing ----

Expect Model::Pending(Expect expect, std::function<void(absl::StatusCode, uint64_t)> apply) {
  pending_ = std::move(apply);
  return expect;
}

void Model::Settle(absl::StatusCode got, uint64_t id) {
  auto apply = std::move(pending_);
  pending_ = nullptr;
  if (apply) apply(got, id);
}

void Model::Append(LedgerEntry entry) {
  entry.time_ns = now_ns_;
  if (lazy_) {
    own_.push_back(entry);
    return;
  }
  entry.sequence = ledger_.size() + 1;
  ledger_.push_back(entry);
}

BucketAmounts Model::Debit(Cell& cell, int64_t amount) {
  const int64_t regular = std::min(amount, cell.buckets[0]);
  BucketAmounts split{regular, amount - regular};
  cell.buckets[0] -= split[0];
  cell.buckets[1] -= split[1];
  return split;
}

bool Model::Holds(UserId user, WorkspaceId workspace, Perm perm) const {
  if (perm == Perm::kOutOfRange) return false;
  auto it = workspaces_.find(workspace);
  if (it == workspaces_.end()) return false;
  const Workspace& ws = it->second;
  // T5: an inactive workspace grants only view, edit and delete.
  if (!ws.active && perm != Perm::kWorkspaceView) return false;
  // M8: staff with scope `all` act as owner / admin / admin (staff_member_role).
  const Account& account = accounts_.at(ws.account);
  if (user == account.owner || user == account.admin || user == account.member) return true;
  // A3: a member of an agency holds `member` (view, credits.consume) in it and its clients.
  if (auto m = agency_members_.find(user); m != agency_members_.end()) {
    for (WorkspaceId at = workspace; at != 0;) {
      if (m->second.count(at) > 0) return true;
      auto up = workspaces_.find(at);
      at = up == workspaces_.end() ? 0 : up->second.parent;
    }
  }
  // M8: a client holds workspace.view but not credits.consume; never inherited.
  if (auto c = clients_.find(user); c != clients_.end() && c->second.count(workspace) > 0) {
    return perm == Perm::kWorkspaceView;
  }
  return false;
}

// ---- Operations ----

Expect Model::DefineMeter(const std::string& name, const std::vector<std::string>& buckets) {
  Refusals bad;
  if (!ValidName(name)) bad.Add(kInvalid, "meter name (C1)");
  if (buckets.empty() || buckets.size() > kMaxBuckets) bad.Add(kInvalid, "1 or 2 buckets (C1)");
  for (const std::string& b : buckets) {
    if (!ValidName(b)) bad.Add(kInvalid, "bucket name (C1)");
  }
  if (buckets.size() == 2 && buckets[0] == buckets[1]) bad.Add(kInvalid, "distinct buckets (C1)");
  std::optional<MeterId> existing = Resolve(MeterArg::Name(name));
  if (existing.has_value() && meters_[*existing].buckets != buckets) {
    bad.Add(kExists, "other buckets (C1)");
  }
  if (bad.any()) return bad.expect();
  if (existing.has_value()) return Ok(*existing, "same definition: nothing changes (C1)");
  if (meters_.size() >= limits::kMaxMeters) {
    return Expect{{kExhausted}, 0, {}, "kMaxMeters (C1)"};
  }
  const MeterId id = static_cast<MeterId>(meters_.size());
  return Pending(Ok(id, "new meter (C1)"), [this, name, buckets](Code got, uint64_t) {
    if (got != kOk) return;
    meters_.push_back({name, buckets});
    ++revision_;
  });
}

Expect Model::Grant(UserId actor, AccountId account, int64_t amount, const MeterArg& meter,
                    const std::string& bucket) {
  Refusals bad;
  if (amount <= 0) bad.Add(kInvalid, "amount <= 0 (C1)");
  auto a = accounts_.find(account);
  if (a == accounts_.end()) {
    bad.Add(kNotFound, "unknown account");
    if (actor != kSystem) bad.Add(kDenied, "not billing (M10)");
  } else if (actor != kSystem && actor != a->second.owner) {
    bad.Add(kDenied, "not billing (M10)");
  }
  std::optional<MeterId> m = Resolve(meter);
  const int b = m.has_value() ? BucketIndex(*m, bucket) : -1;
  if (!m.has_value()) {
    bad.Add(kNotFound, "unknown meter (C1)");
  } else if (b < 0) {
    bad.Add(kNotFound, "unknown bucket (C1)");
  }
  if (bad.any()) return bad.expect();
  const AccountBalance pool = PoolOf(account, *m);
  int64_t sink;
  if (__builtin_add_overflow(pool.buckets[b], amount, &sink) ||
      __builtin_add_overflow(pool.granted, amount, &sink)) {
    return Expect{{kExhausted}, 0, {}, "pool or granted past INT64_MAX (C1)"};
  }
  const MeterId mid = *m;
  return Pending(Ok(0, "grant (C2)"), [this, actor, account, amount, mid, b](Code got, uint64_t) {
    if (got != kOk) return;
    Pool& p = accounts_.at(account).pools[mid];
    p.buckets[b] += amount;
    p.granted += amount;
    ++revision_;
    LedgerEntry e;
    e.revision = revision_;
    e.actor = actor;
    e.account = account;
    e.meter = mid;
    e.kind = LedgerKind::kGrant;
    e.amounts[b] = amount;
    Append(e);
  });
}

Expect Model::Transfer(UserId actor, AccountId account, WorkspaceId workspace, int64_t amount,
                       const MeterArg& meter) {
  Refusals bad;
  if (amount <= 0) bad.Add(kInvalid, "amount <= 0 (C1)");
  auto a = accounts_.find(account);
  if (a == accounts_.end()) {
    bad.Add(kNotFound, "unknown account");
    if (actor != kSystem) bad.Add(kDenied, "no credits.transfer (M10)");
  } else if (actor != kSystem && actor != a->second.owner && actor != a->second.admin) {
    bad.Add(kDenied, "no credits.transfer (M10)");
  }
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end()) {
    bad.Add(kNotFound, "unknown workspace");
  } else if (a != accounts_.end() && ws->second.account != account) {
    bad.Add(kInvalid, "workspace of another account (C3)");
  }
  std::optional<MeterId> m = Resolve(meter);
  if (!m.has_value()) bad.Add(kNotFound, "unknown meter (C1)");
  if (bad.any()) return bad.expect();

  const MeterId mid = *m;
  const AccountBalance pool = PoolOf(account, mid);
  const Balance balance = *BalanceOf(workspace, mid);
  Refusals refused;
  if (pool.available() < amount) refused.Add(kExhausted, "pool holds less (C3)");
  if (balance.available() + balance.held > limits::kMaxWorkspaceBalance - amount) {
    refused.Add(kExhausted, "past kMaxWorkspaceBalance (C1)");
  }
  if (refused.any()) return refused.expect();
  const int64_t regular = std::min(amount, pool.buckets[0]);
  Expect expect = Ok(0, "transfer (C3)");
  expect.split = {regular, amount - regular};
  const BucketAmounts split = expect.split;
  return Pending(expect, [this, actor, account, workspace, mid, split](Code got, uint64_t) {
    if (got != kOk) return;
    Pool& p = accounts_.at(account).pools[mid];
    Cell& c = workspaces_.at(workspace).cells[mid];
    for (int i = 0; i < kMaxBuckets; ++i) {
      p.buckets[i] -= split[i];
      c.buckets[i] += split[i];
    }
    c.funded = true;
    ++revision_;
    LedgerEntry e;
    e.revision = revision_;
    e.actor = actor;
    e.account = account;
    e.workspace = workspace;
    e.meter = mid;
    e.kind = LedgerKind::kTransfer;
    e.amounts = split;
    Append(e);
  });
}

Expect Model::Revoke(UserId actor, WorkspaceId workspace, int64_t amount, const std::string& bucket,
                     const MeterArg& meter) {
  Refusals bad;
  if (amount <= 0) bad.Add(kInvalid, "amount <= 0 (C1)");
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end()) {
    bad.Add(kNotFound, "unknown workspace");
    if (actor != kSystem) bad.Add(kDenied, "no credits.transfer (M10)");
  } else {
    const Account& a = accounts_.at(ws->second.account);
    if (actor != kSystem && actor != a.owner && actor != a.admin) {
      bad.Add(kDenied, "no credits.transfer (M10)");
    }
  }
  std::optional<MeterId> m = Resolve(meter);
  const int b = m.has_value() ? BucketIndex(*m, bucket) : -1;
  if (!m.has_value()) {
    bad.Add(kNotFound, "unknown meter (C1)");
  } else if (b < 0) {
    bad.Add(kNotFound, "unknown bucket (C1)");
  }
  if (bad.any()) return bad.expect();
  const MeterId mid = *m;
  if (BalanceOf(workspace, mid)->buckets[b] < amount) {
    return Expect{{kExhausted}, 0, {}, "bucket holds less (C4)"};
  }
  const AccountId account = ws->second.account;
  return Pending(Ok(0, "revoke (C4)"),
                 [this, actor, account, workspace, mid, b, amount](Code got, uint64_t) {
                   if (got != kOk) return;
                   Pool& p = accounts_.at(account).pools[mid];
                   Cell& c = workspaces_.at(workspace).cells[mid];
                   c.buckets[b] -= amount;
                   p.buckets[b] += amount;
                   ++revision_;
                   LedgerEntry e;
                   e.revision = revision_;
                   e.actor = actor;
                   e.account = account;
                   e.workspace = workspace;
                   e.meter = mid;
                   e.kind = LedgerKind::kRevoke;
                   e.amounts[b] = amount;
                   Append(e);
                 });
}

Expect Model::Consume(WorkspaceId workspace, int64_t amount, const MeterArg& meter,
                      const std::string& key) {
  Refusals bad;
  if (amount <= 0) bad.Add(kInvalid, "amount <= 0 (C1)");
  if (key.size() > limits::kIdempotencyKeyMaxBytes) bad.Add(kInvalid, "key too long (C5)");
  std::optional<MeterId> m = Resolve(meter);
  if (!m.has_value()) bad.Add(kNotFound, "unknown meter (C1)");
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end()) bad.Add(kNotFound, "unknown workspace");
  if (bad.any()) return bad.expect();

  const MeterId mid = *m;
  const bool active = ws->second.active;
  KeyId key_id{workspace, mid, key};
  if (!key.empty()) {
    auto k = keys_.find(key_id);
    if (k != keys_.end() && now_ns_ - k->second.time_ns < window_ns()) {
      Expect e;
      if (k->second.amount != amount) {
        e.codes = {kInvalid};
        e.why = "key reused with another amount (C5)";
      } else {
        e.codes = {k->second.code};
        e.value = k->second.value;
        e.why = "retry: the first result (C5)";
      }
      // The first result even if the workspace went inactive since (C5:
      // "returns the first result"); nothing changes.
      if (!active) e.why += " (now inactive)";
      return e;
    }
  }
  const Balance balance = *BalanceOf(workspace, mid);
  Refusals refused;
  if (!active) refused.Add(kPrecondition, "inactive workspace (T5)");
  if (balance.available() < amount) refused.Add(kExhausted, "buckets hold less (C5)");
  Expect expect =
      refused.any() ? refused.expect() : Ok(balance.available() - amount, "consume (C5)");
  if (!key.empty()) {
    expect.why +=
        keys_.count(key_id) > 0 ? "; key past its window: a new consume (C5)" : "; new key (C5)";
  }
  const bool slot_may_refuse =
      !key.empty() && options_.key_slots_may_run_out && expect.Accepts(kOk);
  if (slot_may_refuse) {
    expect.codes.push_back(kExhausted);
    expect.why += "; or no free idempotency slot (C5)";
  }
  return Pending(expect,
                 [this, workspace, mid, amount, key_id, slot_may_refuse](Code got, uint64_t) {
                   if (got == kExhausted && slot_may_refuse)
                     return;  // no slot: nothing debited or remembered
                   int64_t value = 0;
                   if (got == kOk) {
                     Cell& c = workspaces_.at(workspace).cells[mid];
                     Debit(c, amount);
                     c.consumed += amount;
                     value = c.buckets[0] + c.buckets[1];
                   }
                   if (!std::get<2>(key_id).empty())
                     keys_[key_id] = KeyRecord{amount, now_ns_, got, value};
                 });
}

bool Model::KeyLive(WorkspaceId workspace, MeterId meter, const std::string& key) const {
  auto k = keys_.find(KeyId{workspace, meter, key});
  return k != keys_.end() && now_ns_ - k->second.time_ns < window_ns();
}

Expect Model::Reserve(WorkspaceId workspace, int64_t amount, const MeterArg& meter, int64_t ttl_s) {
  Refusals bad;
  if (amount <= 0) bad.Add(kInvalid, "amount <= 0 (C1)");
  if (ttl_s < 1 || ttl_s > limits::kReservationTtlMaxS) bad.Add(kInvalid, "ttl (C6)");
  std::optional<MeterId> m = Resolve(meter);
  if (!m.has_value()) bad.Add(kNotFound, "unknown meter (C1)");
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end()) bad.Add(kNotFound, "unknown workspace");
  if (bad.any()) return bad.expect();

  const MeterId mid = *m;
  const Balance balance = *BalanceOf(workspace, mid);
  Refusals refused;
  if (!ws->second.active) refused.Add(kPrecondition, "inactive workspace (T5)");
  if (balance.available() < amount) refused.Add(kExhausted, "buckets hold less (C6)");
  if (holds_.size() >= options_.reservation_slots) {
    refused.Add(kExhausted, "reservation_slots live (C6)");
  }
  if (refused.any()) return refused.expect();
  const AccountId account = ws->second.account;
  const int64_t expires = now_ns_ + ttl_s * 1'000'000'000;
  return Pending(Ok(0, "reserve (C6)"),
                 [this, workspace, account, mid, amount, expires](Code got, uint64_t id) {
                   if (got != kOk) return;
                   Cell& c = workspaces_.at(workspace).cells[mid];
                   const BucketAmounts split = Debit(c, amount);
                   c.held += amount;
                   holds_[id] = Hold{workspace, account, mid, split, expires};
                 });
}

LedgerEntry Model::SettleHold(ReservationId id, int64_t actual, LedgerKind kind) {
  const Hold hold = holds_.at(id);
  const int64_t regular = std::min(actual, hold.split[0]);
  const BucketAmounts debited{regular, actual - regular};
  const BucketAmounts returned{hold.split[0] - debited[0], hold.split[1] - debited[1]};
  Cell& c = workspaces_.at(hold.workspace).cells[hold.meter];
  c.buckets[0] += returned[0];
  c.buckets[1] += returned[1];
  c.held -= Sum(hold.split);
  c.consumed += actual;
  holds_.erase(id);
  settled_.push_back(id);
  LedgerEntry e;
  e.revision = revision_;
  e.actor = kSystem;
  e.account = hold.account;
  e.workspace = hold.workspace;
  e.meter = hold.meter;
  e.kind = kind;
  e.amounts = debited;
  e.returned = returned;
  e.reservation = id;
  return e;
}

Expect Model::Commit(ReservationId reservation, int64_t actual) {
  auto h = holds_.find(reservation);
  Refusals bad;
  if (actual < 0) bad.Add(kInvalid, "actual < 0 (C6)");
  if (h == holds_.end()) bad.Add(kNotFound, "unknown or settled reservation (C6)");
  if (bad.any()) return bad.expect();
  const Hold hold = h->second;
  if (actual > Sum(hold.split)) bad.Add(kInvalid, "actual > held (C6)");
  if (now_ns_ >= hold.expires_at_ns) {
    // Only while lazy: the hold is released by this call (Merge absorbs its entry).
    bad.Add(kPrecondition, "expired (C6)");
    return bad.expect();
  }
  if (bad.any()) return bad.expect();
  return Pending(Ok(0, "commit (C6)"), [this, reservation, actual](Code got, uint64_t) {
    if (got == kOk) Append(SettleHold(reservation, actual, LedgerKind::kCommit));
  });
}

Expect Model::Release(ReservationId reservation) {
  auto h = holds_.find(reservation);
  if (h == holds_.end()) {
    return Expect{{kNotFound}, 0, {}, "unknown or settled reservation (C6)"};
  }
  const Hold hold = h->second;
  if (now_ns_ >= hold.expires_at_ns) {
    // Only while lazy: released now either way; Merge absorbs the entry.
    return Expect{{kOk, kPrecondition}, 0, {}, "expired: released, or refused as expired (C6)"};
  }
  return Pending(Ok(0, "release (C6)"), [this, reservation](Code got, uint64_t) {
    if (got == kOk) Append(SettleHold(reservation, 0, LedgerKind::kRelease));
  });
}

Expect Model::ExpireAll() {
  const std::vector<ReservationId> expired = ExpiredLive();
  return Pending(Ok(static_cast<int64_t>(expired.size()), "expire (C6)"),
                 [this, expired](Code got, uint64_t) {
                   if (got != kOk) return;
                   for (ReservationId id : expired) {
                     Append(SettleHold(id, 0, LedgerKind::kExpire));
                   }
                 });
}

Expect Model::SetStatus(WorkspaceId workspace, bool active) {
  if (workspaces_.count(workspace) == 0) {
    return Expect{{kNotFound}, 0, {}, "unknown workspace (T5)"};
  }
  return Pending(Ok(0, "set_status (T5)"), [this, workspace, active](Code got, uint64_t) {
    if (got != kOk) return;
    workspaces_.at(workspace).active = active;
    ++revision_;
  });
}

Expect Model::DeleteWorkspace(UserId actor, WorkspaceId workspace, const std::string& confirm) {
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end()) return Expect{{kNotFound}, 0, {}, "unknown workspace (T7)"};
  const AccountId account = ws->second.account;
  if (actor != kSystem && actor != accounts_.at(account).owner) {
    return Expect{{kDenied}, 0, {}, "no workspace.delete (M10)"};
  }
  if (confirm != ws->second.name) {
    return Expect{{kInvalid}, 0, {}, "confirmation is not the exact name (T7)"};
  }
  // The subtree: every live workspace with `workspace` among its ancestors.
  std::vector<WorkspaceId> doomed;
  for (const auto& [id, w] : workspaces_) {
    for (WorkspaceId at = id; at != 0;) {
      if (at == workspace) {
        doomed.push_back(id);
        break;
      }
      auto up = workspaces_.find(at);
      at = up == workspaces_.end() ? 0 : up->second.parent;
    }
  }
  if (live_workspaces(account).size() <= doomed.size()) {
    return Expect{{kPrecondition}, 0, {}, "the account's only workspace (T7)"};
  }
  return Pending(Ok(0, "delete (T7)"), [this, actor, account, doomed](Code got, uint64_t) {
    if (got != kOk) return;
    ++revision_;
    for (WorkspaceId id : doomed) {
      Workspace& w = workspaces_.at(id);
      for (auto& [mid, cell] : w.cells) {
        BucketAmounts back = cell.buckets;
        for (auto h = holds_.begin(); h != holds_.end();) {
          if (h->second.workspace == id && h->second.meter == mid) {
            back[0] += h->second.split[0];
            back[1] += h->second.split[1];
            if (lazy_ && h->second.expires_at_ns <= now_ns_) vanished_[h->first] = h->second;
            settled_.push_back(h->first);
            h = holds_.erase(h);
          } else {
            ++h;
          }
        }
        Pool& p = accounts_.at(account).pools[mid];
        p.buckets[0] += back[0];
        p.buckets[1] += back[1];
        p.consumed_by_deleted += cell.consumed;
        if (!cell.funded) continue;
        LedgerEntry e;
        e.revision = revision_;
        e.actor = actor;
        e.account = account;
        e.workspace = id;
        e.meter = mid;
        e.kind = LedgerKind::kReturnOnDelete;
        e.amounts = back;
        Append(e);
      }
      for (auto k = keys_.begin(); k != keys_.end();) {
        k = std::get<0>(k->first) == id ? keys_.erase(k) : std::next(k);
      }
      workspaces_.erase(id);
      deleted_.push_back(id);
    }
    for (auto& [user, set] : agency_members_) {
      for (WorkspaceId id : doomed) set.erase(id);
    }
    for (auto& [user, set] : clients_) {
      for (WorkspaceId id : doomed) set.erase(id);
    }
  });
}

Expect Model::AuthorizeAndConsume(UserId user, WorkspaceId workspace, Perm perm, int64_t amount,
                                  const MeterArg& meter) {
  Refusals bad;
  if (amount <= 0) bad.Add(kInvalid, "amount <= 0 (C1)");
  std::optional<MeterId> m = Resolve(meter);
  if (!m.has_value()) bad.Add(kNotFound, "unknown meter (C1)");
  if (!Holds(user, workspace, perm)) {
    // Denied: false, nothing debited; a validation error first is also fine.
    Expect e = bad.expect();
    e.codes.push_back(kOk);
    e.value = 0;
    e.why = absl::StrCat("denied (A7)", bad.why.empty() ? "" : "; or ", bad.why);
    return e;
  }
  if (bad.any()) return bad.expect();
  const MeterId mid = *m;
  const Balance balance = *BalanceOf(workspace, mid);
  Refusals refused;
  if (!workspaces_.at(workspace).active) refused.Add(kPrecondition, "inactive workspace (T5)");
  if (balance.available() < amount) refused.Add(kExhausted, "buckets hold less (C5)");
  if (refused.any()) return refused.expect();
  return Pending(Ok(1, "allowed and debited (A7)"),
                 [this, workspace, mid, amount](Code got, uint64_t) {
                   if (got != kOk) return;
                   Cell& c = workspaces_.at(workspace).cells[mid];
                   Debit(c, amount);
                   c.consumed += amount;
                 });
}

// ---- Lazy expiry ----

std::string Model::Merge(const std::vector<LedgerEntry>& got, uint64_t rev_lo, uint64_t rev_hi,
                         ReservationId settling) {
  std::string error;
  std::vector<bool> used(own_.size(), false);
  for (const LedgerEntry& e : got) {
    LedgerEntry want;
    // What a sweep (or a release of an expired hold) writes for `hold`.
    auto sweep_entry = [&](const Hold& hold, LedgerKind kind) {
      if (e.revision < rev_lo || e.revision > rev_hi) {
        absl::StrAppend(&error, "sweep entry revision ", e.revision, " outside [", rev_lo, ", ",
                        rev_hi, "]; ");
      }
      LedgerEntry w;
      w.revision = e.revision;
      w.time_ns = now_ns_;
      w.actor = kSystem;
      w.account = hold.account;
      w.workspace = hold.workspace;
      w.meter = hold.meter;
      w.kind = kind;
      w.returned = hold.split;
      w.reservation = e.reservation;
      return w;
    };
    auto h = e.reservation == 0 ? holds_.end() : holds_.find(e.reservation);
    const bool absorb = h != holds_.end() && h->second.expires_at_ns <= now_ns_ &&
                        (e.kind == LedgerKind::kExpire ||
                         (e.kind == LedgerKind::kRelease && e.reservation == settling));
    auto v = e.kind == LedgerKind::kExpire ? vanished_.find(e.reservation) : vanished_.end();
    if (v != vanished_.end()) {
      // Swept just before its workspace went: no balance moves here, the
      // return on delete (already applied) carries the same amounts.
      want = sweep_entry(v->second, LedgerKind::kExpire);
      vanished_.erase(v);
      ++absorbed_;
    } else if (absorb) {
      want = sweep_entry(h->second, e.kind);
      SettleHold(e.reservation, 0, e.kind);
      ++absorbed_;
    } else {
      // The operation's own entries in order, except that one delete's
      // returns may come in any order of (workspace, meter).
      size_t pick = own_.size();
      for (size_t i = 0; i < own_.size(); ++i) {
        if (used[i]) continue;
        if (pick == own_.size()) pick = i;
        if (e.kind == LedgerKind::kReturnOnDelete && own_[i].kind == e.kind &&
            own_[i].workspace == e.workspace && own_[i].meter == e.meter) {
          pick = i;
          break;
        }
      }
      if (pick == own_.size()) {
        absl::StrAppend(&error, "unexpected entry ", EntryText(e), "; ");
        continue;
      }
      used[pick] = true;
      want = own_[pick];
    }
    want.sequence = ledger_.size() + 1;
    ledger_.push_back(want);
    if (!SameEntry(want, e)) {
      absl::StrAppend(&error, "entry\n    got  ", EntryText(e), "\n    want ", EntryText(want),
                      "\n");
    }
  }
  for (size_t i = 0; i < own_.size(); ++i) {
    if (!used[i]) absl::StrAppend(&error, "missing entry ", EntryText(own_[i]), "; ");
  }
  own_.clear();
  vanished_.clear();
  return error;
}

// ---- Ledger text ----

std::string KindName(LedgerKind kind) {
  switch (kind) {
    case LedgerKind::kGrant:
      return "kGrant";
    case LedgerKind::kTransfer:
      return "kTransfer";
    case LedgerKind::kRevoke:
      return "kRevoke";
    case LedgerKind::kCommit:
      return "kCommit";
    case LedgerKind::kRelease:
      return "kRelease";
    case LedgerKind::kExpire:
      return "kExpire";
    case LedgerKind::kReturnOnDelete:
      return "kReturnOnDelete";
  }
  return absl::StrCat("kind(", static_cast<int>(kind), ")");
}

bool SameEntry(const LedgerEntry& a, const LedgerEntry& b) {
  return a.sequence == b.sequence && a.revision == b.revision && a.time_ns == b.time_ns &&
         a.actor == b.actor && a.account == b.account && a.workspace == b.workspace &&
         a.meter == b.meter && a.kind == b.kind && a.amounts == b.amounts &&
         a.returned == b.returned && a.reservation == b.reservation;
}

std::string EntryText(const LedgerEntry& e) {
  return absl::StrCat("#", e.sequence, " rev=", e.revision, " t=", e.time_ns,
                      " actor=", e.actor == kSystem ? std::string("SYSTEM") : absl::StrCat(e.actor),
                      " acct=", e.account, " ws=", e.workspace, " meter=", e.meter, " ",
                      KindName(e.kind), " amounts=", e.amounts[0], "/", e.amounts[1],
                      " returned=", e.returned[0], "/", e.returned[1], " res=", e.reservation);
}

std::vector<LedgerEntry> Canonical(std::vector<LedgerEntry> entries) {
  auto same_run = [](const LedgerEntry& a, const LedgerEntry& b) {
    if (a.kind != b.kind || a.revision != b.revision) return false;
    if (a.kind == LedgerKind::kExpire) return a.time_ns == b.time_ns;
    return a.kind == LedgerKind::kReturnOnDelete;
  };
  for (size_t i = 0; i < entries.size();) {
    size_t j = i + 1;
    while (j < entries.size() && same_run(entries[i], entries[j])) ++j;
    if (j - i > 1) {
      std::vector<uint64_t> sequences;
      for (size_t k = i; k < j; ++k) sequences.push_back(entries[k].sequence);
      std::sort(entries.begin() + static_cast<std::ptrdiff_t>(i),
                entries.begin() + static_cast<std::ptrdiff_t>(j),
                [](const LedgerEntry& a, const LedgerEntry& b) {
                  return std::tie(a.workspace, a.meter, a.reservation) <
                         std::tie(b.workspace, b.meter, b.reservation);
                });
      for (size_t k = i; k < j; ++k) entries[k].sequence = sequences[k - i];
    }
    i = j;
  }
  return entries;
}

}  // namespace tenantry::credits_model
