// Copyright 2026 The tenantry Authors.
//
// The writer side of credits (C1-C4, T7): meters, grants, transfers,
// revokes, and the return of a deleted workspace's credits to its account's
// pool. Like every Writer change, each validates before it mutates; a cell's
// CAS comes last, so nothing can fail after it. docs/ledger.md has the rules.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "access.h"
#include "credit_cells.h"
#include "credits.h"
#include "model.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "writer.h"

namespace tenantry::internal {

void Writer::AddLedgerEntry(LedgerKind kind, UserId actor, AccountId account, WorkspaceId workspace,
                            MeterId meter, const BucketAmounts& amounts) {
  LedgerEntry e;
  e.revision = v_->revision;
  e.time_ns = now_ns_;
  e.actor = actor;
  e.account = account;
  e.workspace = workspace;
  e.meter = meter;
  e.kind = kind;
  e.amounts = amounts;
  ledger_.push_back(e);
}

Pool* Writer::MutablePool(AccountId account, MeterId meter) {
  AccountNode* a = MutableAccount(account);
  Pool* pool = FindMeterEntry(a->pools, meter);
  if (pool != nullptr) return pool;
  a->pools.push_back(Pool{meter, {}, 0, 0});
  return &a->pools.back();
}

absl::StatusOr<uint64_t> Writer::DefineMeter(absl::string_view name,
                                             const std::vector<std::string>& buckets) {
  TNY_RETURN_IF_ERROR(ValidateMeterName(name, "meter name"));
  if (buckets.empty() || buckets.size() > static_cast<size_t>(kMaxBuckets)) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C1"},
                   absl::StrCat("a meter has one or two buckets; got ", buckets.size()));
  }
  for (const std::string& bucket : buckets) {
    TNY_RETURN_IF_ERROR(ValidateMeterName(bucket, "bucket name"));
  }
  if (buckets.size() == 2 && buckets[0] == buckets[1]) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C1"},
                   absl::StrCat("the buckets of meter '", name, "' must differ"));
  }
  if (absl::StatusOr<MeterId> existing = ResolveMeter(*v_->meters, name); existing.ok()) {
    if (v_->meters->meters[*existing].buckets == buckets) return *existing;
    return Refusal(absl::StatusCode::kAlreadyExists, {"C1"},
                   absl::StrCat("meter '", name, "' exists with buckets ",
                                absl::StrJoin(v_->meters->meters[*existing].buckets, ", ")));
  }
  if (v_->meters->meters.size() >= limits::kMaxMeters) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"C1"},
                   absl::StrCat("an engine has at most ", limits::kMaxMeters, " meters"));
  }
  MeterTable* table = txn_.Writable(v_->meters);
  table->meters.push_back(MeterDef{std::string(name), buckets});
  v_->meters = table;
  Record(kSystem, 0, 0,
         absl::StrCat("define_meter name=", name, " buckets=", absl::StrJoin(buckets, ",")));
  return table->meters.size() - 1;
}

absl::Status Writer::GrantCredits(UserId actor, AccountId account, int64_t amount, MeterRef meter,
                                  absl::string_view bucket) {
  if (amount <= 0) return NonPositive("grant", amount, "C1");
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "C2"));
  TNY_ASSIGN_OR_RETURN(MeterId m, ResolveMeter(*v_->meters, meter));
  TNY_ASSIGN_OR_RETURN(int b, ResolveBucket(*v_->meters, m, bucket));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kBillingManage));
  const Pool* pool = FindMeterEntry(a->pools, m);
  const int64_t granted = pool == nullptr ? 0 : pool->granted;
  int64_t unused;
  // Every bucket, and every sum of them, is at most `granted` (C8), so this
  // one check keeps all of them inside int64 (C1).
  if (__builtin_add_overflow(granted, amount, &unused)) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"C1"},
                   absl::StrCat("grant of ", amount, " would take account ", account,
                                "'s total granted of meter '", v_->meters->meters[m].name,
                                "' past ", INT64_MAX));
  }
  Pool* p = MutablePool(account, m);
  p->buckets[b] += amount;
  p->granted += amount;
  Record(actor, account, 0,
         absl::StrCat("grant meter=", v_->meters->meters[m].name, " bucket=", bucket,
                      " amount=", amount));
  BucketAmounts amounts{};
  amounts[b] = amount;
  AddLedgerEntry(LedgerKind::kGrant, actor, account, 0, m, amounts);
  return absl::OkStatus();
}

absl::StatusOr<BucketAmounts> Writer::Transfer(UserId actor, AccountId account,
                                               WorkspaceId workspace, int64_t amount,
                                               MeterRef meter) {
  if (amount <= 0) return NonPositive("transfer", amount, "C1");
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "C3"));
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "C3"));
  if (ws->account != account) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C3", "A2"},
                   absl::StrCat("workspace ", workspace, " is not in account ", account));
  }
  TNY_ASSIGN_OR_RETURN(MeterId m, ResolveMeter(*v_->meters, meter));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kCreditsTransfer));
  const Pool* pool = FindMeterEntry(a->pools, m);
  const BucketAmounts in_pool = pool == nullptr ? BucketAmounts{} : pool->buckets;
  if (in_pool[0] + in_pool[1] < amount) {
    return Refusal(
        absl::StatusCode::kResourceExhausted, {"C3"},
        absl::StrCat("account ", account, "'s pool of meter '", v_->meters->meters[m].name,
                     "' holds ", in_pool[0] + in_pool[1], " (regular ", in_pool[0], ", extra ",
                     in_pool[1], "); transfer of ", amount, " refused: nothing moved"));
  }
  const BucketAmounts taken = {std::min(in_pool[0], amount), amount - std::min(in_pool[0], amount)};
  const Funding* funding = FindMeterEntry(ws->credits, m);
  BalanceCell* cell = funding != nullptr ? funding->cell : txn_.Make<BalanceCell>();
  // Everything that allocates comes first; the cell's CAS is the last step,
  // so nothing can fail after it (a refusal aborts the transaction, and with
  // it all of the below).
  WorkspaceNode* w = MutableWorkspace(workspace);
  if (Funding* f = FindMeterEntry(w->credits, m); f != nullptr) {
    f->funded += amount;
  } else {
    w->credits.push_back(Funding{m, amount, cell});
  }
  Pool* p = MutablePool(account, m);
  p->buckets[0] -= taken[0];
  p->buckets[1] -= taken[1];
  Record(actor, account, workspace,
         absl::StrCat("transfer meter=", v_->meters->meters[m].name, " amount=", amount,
                      " regular=", taken[0], " extra=", taken[1]));
  AddLedgerEntry(LedgerKind::kTransfer, actor, account, workspace, m, taken);
  // Consumers only ever lower a cell, so a capacity check that passes in
  // this CAS loop stays true.
  CellValue before;
  if (!Update(cell, [&](CellValue& c) {
        before = c;
        if (c.total() > limits::kMaxWorkspaceBalance - amount) return false;
        c.regular += taken[0];
        c.extra += taken[1];
        return true;
      })) {
    return Refusal(
        absl::StatusCode::kResourceExhausted, {"C1"},
        absl::StrCat("workspace ", workspace, " would hold more than ",
                     limits::kMaxWorkspaceBalance, " of meter '", v_->meters->meters[m].name,
                     "' (it has ", before.total(), "); transfer of ", amount, " refused"));
  }
  cell_deltas_.push_back({cell, taken[0], taken[1], 0});
  last_taken_ = taken;
  return taken;
}

absl::Status Writer::Revoke(UserId actor, WorkspaceId workspace, int64_t amount,
                            absl::string_view bucket, MeterRef meter) {
  if (amount <= 0) return NonPositive("revoke", amount, "C1");
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "C4"));
  TNY_ASSIGN_OR_RETURN(MeterId m, ResolveMeter(*v_->meters, meter));
  TNY_ASSIGN_OR_RETURN(int b, ResolveBucket(*v_->meters, m, bucket));
  const AccountId account = ws->account;
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *v_->accounts.Find(account), perm::kCreditsTransfer));
  const Funding* funding = FindMeterEntry(ws->credits, m);
  const CellValue now = funding == nullptr ? CellValue{} : Unpack(funding->cell->LoadExact());
  const int64_t in_bucket = b == 0 ? now.regular : now.extra;
  // Refused now if the bucket holds less; the CAS below checks again
  // (consumers may take more meanwhile). Past this check `amount` is at most
  // what the workspace was funded with, so the pool cannot overflow (C8).
  if (in_bucket < amount) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"C4"},
                   absl::StrCat("workspace ", workspace, "'s bucket '", bucket, "' of meter '",
                                v_->meters->meters[m].name, "' holds ", in_bucket, "; revoke of ",
                                amount, " refused"));
  }
  BalanceCell* cell = funding->cell;
  // As in Transfer: everything that allocates first, the CAS last.
  FindMeterEntry(MutableWorkspace(workspace)->credits, m)->funded -= amount;
  MutablePool(account, m)->buckets[b] += amount;
  Record(actor, account, workspace,
         absl::StrCat("revoke meter=", v_->meters->meters[m].name, " bucket=", bucket,
                      " amount=", amount));
  BucketAmounts amounts{};
  amounts[b] = amount;
  AddLedgerEntry(LedgerKind::kRevoke, actor, account, workspace, m, amounts);
  CellValue before;
  if (!Update(cell, [&](CellValue& c) {
        before = c;
        int64_t& from = b == 0 ? c.regular : c.extra;
        if (from < amount) return false;
        from -= amount;
        return true;
      })) {
    return Refusal(
        absl::StatusCode::kResourceExhausted, {"C4"},
        absl::StrCat("workspace ", workspace, "'s bucket '", bucket, "' of meter '",
                     v_->meters->meters[m].name, "' holds ", b == 0 ? before.regular : before.extra,
                     "; revoke of ", amount, " refused"));
  }
  cell_deltas_.push_back({cell, b == 0 ? -amount : 0, b == 1 ? -amount : 0, 0});
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Writer::ConsumeCredits(WorkspaceId workspace, int64_t amount,
                                                MeterRef meter, absl::string_view key,
                                                bool authorize, UserId user,
                                                PermissionId permission) {
  if (amount <= 0) return NonPositive("consume", amount, "C1");
  if (key.size() > limits::kIdempotencyKeyMaxBytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C5"},
                   absl::StrCat("an idempotency key takes at most ",
                                limits::kIdempotencyKeyMaxBytes, " bytes"));
  }
  TNY_ASSIGN_OR_RETURN(Target t, FindTarget(*v_, workspace, meter, "C5"));
  if (authorize && !Evaluate<false>(*v_, user, workspace, permission, nullptr)) {
    return Refusal(absl::StatusCode::kPermissionDenied, {"A7"},
                   absl::StrCat("user ", user, " may not consume in workspace ", workspace));
  }
  if (!t.ws->active()) return Inactive(workspace, "consumption");
  CellValue after;
  BucketAmounts taken{};
  if (t.cell == nullptr || !Debit(t.cell, amount, false, &after, &taken)) {
    return Refused(*v_->meters, workspace, t.meter, after, amount, "consume", "C5");
  }
  t.cell->consumed.fetch_add(amount, std::memory_order_release);
  cell_deltas_.push_back({t.cell, -taken[0], -taken[1], amount});
  return static_cast<uint64_t>(after.available());
}

absl::StatusOr<uint64_t> Writer::RefusedConsume(WorkspaceId, int64_t, MeterRef, absl::string_view,
                                                bool, UserId, PermissionId) {
  return kRefusedConsumeResult;
}

void Writer::UndoCells() {
  for (auto it = cell_deltas_.rbegin(); it != cell_deltas_.rend(); ++it) {
    Update(it->cell, [&](CellValue& c) {
      c.regular -= it->regular;
      c.extra -= it->extra;
      c.held -= it->held;
      return true;
    });
    if (it->consumed != 0) it->cell->consumed.fetch_sub(it->consumed, std::memory_order_release);
  }
  cell_deltas_.clear();
}

void Writer::FinishCredits(const std::atomic<ReservationTable*>& table) {
  if (drains_.empty()) return;
  // R6: a replica's leases and reservations on a deleted workspace go back
  // to its buckets first, and so into the pool below.
  if (!v_->holds.empty()) {
    absl::flat_hash_set<WorkspaceId> deleted;
    for (const Drain& d : drains_) deleted.insert(d.workspace);
    std::vector<const HoldNode*> gone;
    v_->holds.ForEach([&](uint64_t, const HoldNode* h) {
      if (deleted.contains(h->workspace)) gone.push_back(h);
    });
    for (const HoldNode* h : gone) ReleaseHold(*h, 0, LedgerKind::kReturnOnDelete, false);
  }
  // Close every drained cell first: from here no consume or reserve takes
  // anything from it, and what it holds is final.
  absl::flat_hash_map<const BalanceCell*, size_t> by_cell;
  std::vector<CellValue> closed(drains_.size());
  std::vector<BucketAmounts> back(drains_.size());
  for (size_t i = 0; i < drains_.size(); ++i) {
    BalanceCell* cell = drains_[i].funding.cell;
    Update(cell, [&](CellValue& c) {
      assert(!c.closed);
      closed[i] = c;
      c.closed = true;
      return true;
    });
    back[i] = {closed[i].regular, closed[i].extra};
    by_cell[cell] = i;
  }
  // Holds go back to the buckets they were drawn from. A reserve between
  // its announcement and its CAS is waited for (a few instructions); one
  // that comes later finds the cell closed. The table is read only now,
  // after the closing CASes: the first reserve ever may be creating it.
  ReservationTable* reservations = table.load(std::memory_order_seq_cst);
  for (size_t index = 0; reservations != nullptr && index < reservations->size(); ++index) {
    ReservationSlot& slot = reservations->slot(static_cast<uint32_t>(index));
    for (int spins = 0;; ++spins) {
      // seq_cst against the reserver's announcement (also seq_cst) and the
      // closing CAS above: either we see its announcement, or its CAS sees
      // the cell closed.
      const uint64_t state_gen = slot.state_gen.load(std::memory_order_seq_cst);
      const SlotState state = StateOf(state_gen);
      if (state == SlotState::kFree) break;
      auto it = by_cell.find(slot.cell.load(std::memory_order_relaxed));
      if (slot.state_gen.load(std::memory_order_acquire) != state_gen) continue;
      if (it == by_cell.end()) break;
      if (state == SlotState::kReserving) {
        if (spins > 64) std::this_thread::yield();
        continue;
      }
      back[it->second][0] += slot.held_regular.load(std::memory_order_relaxed);
      back[it->second][1] += slot.held_extra.load(std::memory_order_relaxed);
      slot.state_gen.store(StateGen(GenOf(state_gen) + 1, SlotState::kFree),
                           std::memory_order_release);
      reservations->Push(static_cast<uint32_t>(index));
      break;
    }
  }
  for (size_t i = 0; i < drains_.size(); ++i) {
    const Drain& d = drains_[i];
    Pool* pool = MutablePool(d.account, d.funding.meter);
    pool->buckets[0] += back[i][0];
    pool->buckets[1] += back[i][1];
    // C8: what the workspace consumed stays accounted for.
    pool->consumed_by_deleted += d.funding.funded - closed[i].total();
    LedgerEntry e;
    e.revision = d.revision;
    e.time_ns = now_ns_;
    e.actor = d.actor;
    e.account = d.account;
    e.workspace = d.workspace;
    e.meter = d.funding.meter;
    e.kind = LedgerKind::kReturnOnDelete;
    e.amounts = back[i];
    ledger_.push_back(e);
  }
  drains_.clear();
}

}  // namespace tenantry::internal
