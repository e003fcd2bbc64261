// Copyright 2026 The tenantry Authors.
//
// R6 on replicas: credits held apart in the group's state (model.h
// HoldNode): a replica's lease, consumed locally and settled cumulatively,
// and reservations made through the log. Every change here runs as an op in
// a log record, so every replica holds the same at the same position.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "credit_cells.h"
#include "credits.h"
#include "model.h"
#include "status_macros.h"
#include "tenantry/status.h"
#include "writer.h"

namespace tenantry::internal {

absl::StatusOr<BalanceCell*> Writer::HoldCell(const HoldNode& hold) const {
  const WorkspaceNode* ws = v_->workspaces.Find(hold.workspace);
  const Funding* f = ws == nullptr ? nullptr : FindMeterEntry(ws->credits, hold.meter);
  if (f == nullptr) {
    return Refusal(absl::StatusCode::kDataLoss, {"R6"},
                   absl::StrCat("hold ", hold.id, " is of no funded workspace"));
  }
  return f->cell;
}

// Debits `consume` of what the hold holds (regular first), returns the rest
// to its buckets and erases the hold; a ledger entry of `kind` if asked.
void Writer::ReleaseHold(const HoldNode& hold, int64_t consume, LedgerKind kind, bool ledger) {
  absl::StatusOr<BalanceCell*> cell = HoldCell(hold);
  const BucketAmounts held = {hold.held_regular, hold.held_extra};
  const BucketAmounts debit = {std::min(consume, held[0]), consume - std::min(consume, held[0])};
  const BucketAmounts back = {held[0] - debit[0], held[1] - debit[1]};
  if (cell.ok()) {
    Update(*cell, [&](CellValue& c) {
      c.held -= held[0] + held[1];
      c.regular += back[0];
      c.extra += back[1];
      return true;
    });
    if (consume > 0) (*cell)->consumed.fetch_add(consume, std::memory_order_release);
    cell_deltas_.push_back({*cell, back[0], back[1], consume, -(held[0] + held[1])});
  }
  if (ledger) {
    AddLedgerEntry(kind, kSystem, hold.account, hold.workspace, hold.meter, debit);
    ledger_.back().returned = back;
    ledger_.back().reservation = hold.id;
  }
  const uint64_t id = hold.id;
  v_->holds.Erase(txn_, id);
  txn_.Replaced(&hold);
}

absl::StatusOr<uint64_t> Writer::HoldCredits(absl::string_view owner, WorkspaceId workspace,
                                             MeterRef meter, int64_t amount, bool lease,
                                             int64_t share, int64_t floor, int64_t ttl_ms) {
  if (amount <= 0) return NonPositive(lease ? "lease" : "reserve", amount, "C1");
  if (ttl_ms <= 0 || share <= 0 || floor < 0) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"R6"},
                   "a hold needs a positive ttl and share and a floor >= 0");
  }
  TNY_ASSIGN_OR_RETURN(Target t, FindTarget(*v_, workspace, meter, "C6"));
  int64_t want = amount;
  if (lease) {
    // R6: min(wanted, available / share), nothing below the floor.
    if (!t.ws->active() || t.cell == nullptr) return 0;
    const CellValue now = Unpack(t.cell->LoadExact());
    if (now.closed || now.available() < floor) return 0;
    want = std::min(amount, now.available() / share);
    if (want <= 0 || want < floor) return 0;
  } else if (!t.ws->active()) {
    return Inactive(workspace, "a reservation");
  }
  CellValue after;
  BucketAmounts taken{};
  if (t.cell == nullptr || !Debit(t.cell, want, /*hold=*/true, &after, &taken)) {
    if (lease) return 0;
    return Refused(*v_->meters, workspace, t.meter, after, want, "reserve", "C6");
  }
  cell_deltas_.push_back({t.cell, -taken[0], -taken[1], 0, want});
  auto* node = txn_.Make<HoldNode>();
  node->id = v_->next_hold++;
  node->kind = lease ? HoldKind::kLease : HoldKind::kReservation;
  node->owner = std::string(owner);
  node->account = t.ws->account;
  node->workspace = workspace;
  node->meter = t.meter;
  node->held_regular = taken[0];
  node->held_extra = taken[1];
  int64_t ttl_ns = 0;
  if (__builtin_mul_overflow(ttl_ms, int64_t{1'000'000}, &ttl_ns) ||
      __builtin_add_overflow(now_ns_, ttl_ns, &node->expires_at_ns)) {
    node->expires_at_ns = INT64_MAX;
  }
  v_->holds.Set(txn_, node->id, node);
  return node->id;
}

absl::StatusOr<uint64_t> Writer::SettleLease(absl::string_view owner, uint64_t lease,
                                             int64_t consumed, bool end, int64_t ttl_ms,
                                             int64_t top_up) {
  const HoldNode* found = v_->holds.Find(lease);
  if (found == nullptr || found->kind != HoldKind::kLease || found->owner != owner) {
    return 0;  // expired (its unsettled consumption forgiven) or not this replica's
  }
  if (consumed < 0 || top_up < 0 || ttl_ms <= 0) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"R6"},
                   "a settlement needs consumed >= 0, top_up >= 0 and a positive ttl");
  }
  TNY_ASSIGN_OR_RETURN(BalanceCell * cell, HoldCell(*found));
  // Cumulative: only what is new since the last settlement, and never more
  // than the lease still holds (a replica consumes no more than it leased).
  const int64_t held = found->held_regular + found->held_extra;
  const int64_t delta = std::clamp<int64_t>(consumed - found->settled, 0, held);
  if (end) {
    ReleaseHold(*found, delta, LedgerKind::kCommit, false);
    return 0;
  }
  HoldNode* node = MutableHold(lease);
  const BucketAmounts debit = {std::min(delta, node->held_regular),
                               delta - std::min(delta, node->held_regular)};
  node->held_regular -= debit[0];
  node->held_extra -= debit[1];
  node->settled = std::max(node->settled, consumed);
  if (delta > 0) {
    Update(cell, [&](CellValue& c) {
      c.held -= delta;
      return true;
    });
    cell->consumed.fetch_add(delta, std::memory_order_release);
    cell_deltas_.push_back({cell, 0, 0, delta, -delta});
  }
  int64_t ttl_ns = 0;
  if (__builtin_mul_overflow(ttl_ms, int64_t{1'000'000}, &ttl_ns) ||
      __builtin_add_overflow(now_ns_, ttl_ns, &node->expires_at_ns)) {
    node->expires_at_ns = INT64_MAX;
  }
  if (top_up == 0 || node->recalled) return 0;
  const WorkspaceNode* ws = v_->workspaces.Find(node->workspace);
  if (ws == nullptr || !ws->active()) return 0;
  const CellValue now = Unpack(cell->LoadExact());
  const int64_t add = std::min(top_up, now.available());
  CellValue after;
  BucketAmounts taken{};
  if (add <= 0 || !Debit(cell, add, /*hold=*/true, &after, &taken)) return 0;
  cell_deltas_.push_back({cell, -taken[0], -taken[1], 0, add});
  node->held_regular += taken[0];
  node->held_extra += taken[1];
  return static_cast<uint64_t>(add);
}

absl::StatusOr<uint64_t> Writer::RecallLeases(absl::string_view except, WorkspaceId workspace,
                                              MeterRef meter) {
  TNY_ASSIGN_OR_RETURN(Target t, FindTarget(*v_, workspace, meter, "R6"));
  std::vector<uint64_t> recalled;
  v_->holds.ForEach([&](uint64_t id, const HoldNode* h) {
    if (h->kind == HoldKind::kLease && h->workspace == workspace && h->meter == t.meter &&
        h->owner != except && !h->recalled) {
      recalled.push_back(id);
    }
  });
  for (const uint64_t id : recalled) MutableHold(id)->recalled = true;
  if (!recalled.empty()) ++v_->lease_recalls;
  return recalled.size();
}

absl::Status Writer::SettleReservation(uint64_t reservation, int64_t actual, bool release) {
  const HoldNode* found = v_->holds.Find(reservation);
  if (found == nullptr || found->kind != HoldKind::kReservation) {
    return Refusal(absl::StatusCode::kNotFound, {"C6"},
                   absl::StrCat("reservation ", reservation,
                                " is unknown or already settled, released or expired"));
  }
  if (!release && found->expires_at_ns <= now_ns_) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"C6"},
                   absl::StrCat("reservation ", reservation, " expired; nothing was debited"));
  }
  const int64_t held = found->held_regular + found->held_extra;
  if (actual < 0 || actual > held) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C6"},
                   absl::StrCat("commit of ", actual, " from reservation ", reservation,
                                " which holds ", held, " (0 <= actual <= held)"));
  }
  ReleaseHold(*found, release ? 0 : actual, release ? LedgerKind::kRelease : LedgerKind::kCommit,
              true);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Writer::ExpireHolds() {
  std::vector<const HoldNode*> due;
  v_->holds.ForEach([&](uint64_t, const HoldNode* h) {
    if (h->expires_at_ns <= now_ns_) due.push_back(h);
  });
  for (const HoldNode* h : due) {
    ReleaseHold(*h, 0, LedgerKind::kExpire, h->kind == HoldKind::kReservation);
  }
  return due.size();
}

}  // namespace tenantry::internal
