// Copyright 2026 The tenantry Authors.
//
// What the credit files share (C1-C8): the CAS loops on a balance cell, the
// target of a consume or reserve, the refusal messages, and the lazily
// created slot tables. The files that use it:
//   writer_credits.cc   the writer side: meters, grant, transfer, revoke,
//                       returning a deleted workspace's credits (T7)
//   engine_consume.cc   lock-free consume, keyed consume, reserve, A7
//   engine_settle.cc    commit, release, expiry under the writer lock (C6)
//   engine_credits.cc   the API's admin calls and reads: meters, balances,
//                       the ledger
//   credit_records.cc   the journal records of the credit side (P3)
#ifndef TENANTRY_CORE_SRC_CREDIT_CELLS_H_
#define TENANTRY_CORE_SRC_CREDIT_CELLS_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "credits.h"
#include "model.h"
#include "tenantry/types.h"

namespace tenantry::internal {

// C1: a non-positive amount; `what` names the call, `rule` the rule.
absl::Status NonPositive(const char* what, int64_t amount, const char* rule);

// Why a debit of `amount` was refused, given the value it last saw: NotFound
// (T7) for a closed cell, ResourceExhausted naming `rule` otherwise.
absl::Status Refused(const MeterTable& meters, WorkspaceId workspace, MeterId meter,
                     const CellValue& seen, int64_t amount, const char* what, const char* rule);

// T5: an inactive workspace refuses `what`.
absl::Status Inactive(WorkspaceId workspace, const char* what);

// Takes `amount` from the buckets in one CAS, regular first; into `held`
// when `hold` (C5, C6). On success `*after` is the new value and `*taken`
// the split; on refusal `*after` is the value (read atomically) that did not
// hold enough, or a closed cell. A refusal is never decided on a torn seed;
// a torn seed that looks sufficient only makes the CAS fail. The fields are
// changed in place in the packed word (no unpack and repack): subtracting
// what each bucket gives cannot borrow across fields.
inline bool Debit(BalanceCell* cell, int64_t amount, bool hold, CellValue* after,
                  BucketAmounts* taken) {
  constexpr u128 kMask = (u128{1} << kCellFieldBits) - 1;
  u128 seen = cell->LoadSeed();
  bool exact = false;
  for (;;) {
    const auto regular = static_cast<int64_t>(seen & kMask);
    const auto extra = static_cast<int64_t>((seen >> kCellFieldBits) & kMask);
    const bool closed = ((seen >> (3 * kCellFieldBits)) & 1) != 0;
    if (ABSL_PREDICT_FALSE(closed || regular + extra < amount)) {
      if (!exact) {
        seen = cell->LoadExact();
        exact = true;
        continue;
      }
      *after = Unpack(seen);
      return false;
    }
    const int64_t from_regular = std::min(regular, amount);
    const int64_t from_extra = amount - from_regular;
    u128 next =
        seen - static_cast<u128>(from_regular) - (static_cast<u128>(from_extra) << kCellFieldBits);
    if (hold) next += static_cast<u128>(amount) << (2 * kCellFieldBits);
    if (ABSL_PREDICT_TRUE(cell->Cas(&seen, next))) {
      after->regular = regular - from_regular;
      after->extra = extra - from_extra;
      *taken = {from_regular, from_extra};
      return true;
    }
    exact = true;  // a failed CAS hands back the cell's exact value
  }
}

// Applies `change` to the cell in one CAS loop. `change` returns false to
// give up (the cell is then left as it was).
template <class Change>
bool Update(BalanceCell* cell, Change change) {
  u128 seen = cell->LoadExact();
  for (;;) {
    CellValue c = Unpack(seen);
    if (!change(c)) return false;
    if (cell->Cas(&seen, Pack(c))) return true;
  }
}

// C5, C6: everything a consume or reserve needs to find, in one version.
struct Target {
  const WorkspaceNode* ws = nullptr;
  MeterId meter = kCredits;
  BalanceCell* cell = nullptr;  // null before the first transfer
};

// The workspace, meter and cell a call names; NotFound naming `rule` for an
// unknown workspace, NotFound (C1) for an unknown meter.
absl::StatusOr<Target> FindTarget(const Version& v, WorkspaceId workspace, MeterRef meter,
                                  const char* rule);

// The table in `slot`, created on first use (the first caller to publish
// wins; the loser's table is deleted).
template <class Table>
Table* Ensure(std::atomic<Table*>& slot, size_t slots) {
  Table* table = slot.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  auto* fresh = new Table(slots);
  if (slot.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;  // another thread published first
  return table;
}

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_CREDIT_CELLS_H_
