// Copyright 2026 The tenantry Authors.
//
// The credit API's admin calls and reads (C1-C4, C7): meters, grant,
// transfer, revoke (run as ops by the Writer: writer_credits.cc), balances
// and the ledger; and the refusal messages every credit file shares
// (credit_cells.h). The hot path is engine_consume.cc, settlement
// engine_settle.cc. docs/ledger.md has the rules this code keeps.
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "credit_cells.h"
#include "credits.h"
#include "engine_impl.h"
#include "epoch.h"
#include "model.h"
#include "mutex.h"
#include "ops.h"
#include "status_macros.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"
#include "write_path.h"
#include "writer.h"

namespace tenantry {
namespace internal {
namespace {

std::string Describe(const CellValue& c) {
  return absl::StrCat(c.available(), " available (regular ", c.regular, ", extra ", c.extra, "), ",
                      c.held, " held");
}

}  // namespace

absl::Status NonPositive(const char* what, int64_t amount, const char* rule) {
  return Refusal(absl::StatusCode::kInvalidArgument, {rule},
                 absl::StrCat(what, " amount must be positive; got ", amount));
}

absl::Status Refused(const MeterTable& meters, WorkspaceId workspace, MeterId meter,
                     const CellValue& seen, int64_t amount, const char* what, const char* rule) {
  if (seen.closed) {
    return Refusal(absl::StatusCode::kNotFound, {"T7"},
                   absl::StrCat("workspace ", workspace, " was deleted"));
  }
  return Refusal(absl::StatusCode::kResourceExhausted, {rule},
                 absl::StrCat("workspace ", workspace, " has ", Describe(seen), " of meter '",
                              meters.meters[meter].name, "'; ", what, " of ", amount,
                              " refused: insufficient credits"));
}

absl::StatusOr<Target> FindTarget(const Version& v, WorkspaceId workspace, MeterRef meter,
                                  const char* rule) {
  Target t;
  t.ws = v.workspaces.Find(workspace);
  if (t.ws == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {rule},
                   absl::StrCat("unknown workspace ", workspace));
  }
  TNY_ASSIGN_OR_RETURN(t.meter, ResolveMeter(*v.meters, meter));
  const Funding* funding = FindMeterEntry(t.ws->credits, t.meter);
  if (funding != nullptr) t.cell = funding->cell;
  return t;
}

absl::Status Inactive(WorkspaceId workspace, const char* what) {
  return Refusal(absl::StatusCode::kFailedPrecondition, {"T5"},
                 absl::StrCat("workspace ", workspace, " is inactive; ", what, " is refused"));
}

}  // namespace internal

using internal::ReadGuard;
using internal::Version;
using internal::Writer;

using internal::Load;

// ---- Meters and admin changes ----

absl::StatusOr<MeterId> Engine::define_meter(absl::string_view name,
                                             const std::vector<std::string>& buckets) {
  TNY_ASSIGN_OR_RETURN(
      uint64_t id, internal::RunOp(*this, internal::Encode<&Writer::DefineMeter>(name, buckets)));
  return static_cast<MeterId>(id);
}

absl::StatusOr<MeterInfo> Engine::meter(MeterRef meter) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  TNY_ASSIGN_OR_RETURN(MeterId id, internal::ResolveMeter(*v.meters, meter));
  const internal::MeterDef& def = v.meters->meters[id];
  return MeterInfo{id, def.name, def.buckets};
}

absl::Status Engine::grant(UserId actor, AccountId account, int64_t amount, MeterRef meter,
                           absl::string_view bucket) {
  return internal::RunOp(
             *this, internal::Encode<&Writer::GrantCredits>(actor, account, amount, meter, bucket))
      .status();
}

absl::StatusOr<BucketAmounts> Engine::transfer(UserId actor, AccountId account,
                                               WorkspaceId workspace, int64_t amount,
                                               MeterRef meter) {
  internal::RunOutput out;
  TNY_RETURN_IF_ERROR(
      internal::RunOp(*this,
                      internal::Encode<&Writer::Transfer>(actor, account, workspace, amount, meter),
                      &out)
          .status());
  return out.taken;
}

absl::Status Engine::revoke(UserId actor, WorkspaceId workspace, int64_t amount, MeterRef meter,
                            absl::string_view bucket) {
  return internal::RunOp(*this,
                         internal::Encode<&Writer::Revoke>(actor, workspace, amount, bucket, meter))
      .status();
}

// ---- Balances and the ledger ----

absl::StatusOr<Balance> Engine::balance(WorkspaceId workspace, MeterRef meter) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  TNY_ASSIGN_OR_RETURN(internal::Target t, internal::FindTarget(v, workspace, meter, "C5"));
  Balance b;
  if (t.cell == nullptr) return b;
  // The counter first: it only grows after its CAS, so it never exceeds
  // what the cell read next shows as consumed.
  b.consumed = t.cell->consumed.load(std::memory_order_acquire);
  const internal::CellValue c = internal::Unpack(t.cell->LoadExact());
  if (c.closed) {
    return Refusal(absl::StatusCode::kNotFound, {"T7"},
                   absl::StrCat("workspace ", workspace, " was deleted"));
  }
  b.buckets = {c.regular, c.extra};
  b.held = c.held;
  return b;
}

absl::StatusOr<AccountBalance> Engine::account_balance(AccountId account, MeterRef meter) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::AccountNode* a = v.accounts.Find(account);
  if (a == nullptr) {
    return Refusal(absl::StatusCode::kNotFound, {"C2"}, absl::StrCat("unknown account ", account));
  }
  TNY_ASSIGN_OR_RETURN(MeterId m, internal::ResolveMeter(*v.meters, meter));
  AccountBalance b;
  if (const internal::Pool* pool = internal::FindMeterEntry(a->pools, m); pool != nullptr) {
    b.buckets = pool->buckets;
    b.granted = pool->granted;
    b.consumed_by_deleted = pool->consumed_by_deleted;
  }
  return b;
}

absl::StatusOr<std::vector<LedgerEntry>> Engine::ledger(const LedgerQuery& query) const {
  internal::MutexLock lock(&impl_->ledger_mu);
  // Entries that left memory might have matched: say so rather than answer
  // with a silently shorter list.
  if (impl_->ledger_dropped_through > query.after_sequence &&
      impl_->ledger_dropped_max_time_ns >= query.since_ns) {
    return Refusal(absl::StatusCode::kFailedPrecondition, {"C7"},
                   absl::StrCat("ledger entries up to sequence ", impl_->ledger_dropped_through,
                                " are no longer in memory (the ledger keeps the last ",
                                impl_->options.ledger_retention,
                                "); ask with after_sequence or since_ns past them"));
  }
  std::vector<LedgerEntry> out;
  for (const LedgerEntry& e : impl_->ledger) {
    if (e.sequence <= query.after_sequence || e.time_ns < query.since_ns) continue;
    if (query.account != 0 && e.account != query.account) continue;
    if (query.workspace != 0 && e.workspace != query.workspace) continue;
    out.push_back(e);
  }
  return out;
}

}  // namespace tenantry
