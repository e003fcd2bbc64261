// Copyright 2026 The tenantry Authors.
//
// Credits and quotas (C1-C8, A7): the admin changes (writer side), the
// lock-free consume and reserve, reservations settled under the writer lock,
// balances, and the ledger. docs/ledger.md has the rules this code keeps.
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "access.h"
#include "credits.h"
#include "engine_impl.h"
#include "engine_journal.h"
#include "epoch.h"
#include "model.h"
#include "ops.h"
#include "status_macros.h"
#include "tenantry/engine.h"
#include "writer.h"

namespace tenantry {
namespace internal {
namespace {

absl::Status NonPositive(const char* what, int64_t amount, const char* rule) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " amount must be positive; got ", amount, " (", rule, ")"));
}

std::string Describe(const CellValue& c) {
  return absl::StrCat(c.available(), " available (regular ", c.regular, ", extra ", c.extra, "), ",
                      c.held, " held");
}

// Why a debit of `amount` was refused, given the value it last saw.
absl::Status Refused(const MeterTable& meters, WorkspaceId workspace, MeterId meter,
                     const CellValue& seen, int64_t amount, const char* what, const char* rule) {
  if (seen.closed) {
    return absl::NotFoundError(absl::StrCat("workspace ", workspace, " was deleted (T7)"));
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "workspace ", workspace, " has ", Describe(seen), " of meter '", meters.meters[meter].name,
      "'; ", what, " of ", amount, " refused: insufficient credits (", rule, ")"));
}

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

}  // namespace

// C5, C6: everything a consume or reserve needs to find, in one version.
struct Target {
  const WorkspaceNode* ws = nullptr;
  MeterId meter = kCredits;
  BalanceCell* cell = nullptr;  // null before the first transfer
};

namespace {

absl::StatusOr<Target> FindTarget(const Version& v, WorkspaceId workspace, MeterRef meter,
                                  const char* rule) {
  Target t;
  t.ws = v.workspaces.Find(workspace);
  if (t.ws == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown workspace ", workspace, " (", rule, ")"));
  }
  TNY_ASSIGN_OR_RETURN(t.meter, ResolveMeter(*v.meters, meter));
  const Funding* funding = FindMeterEntry(t.ws->credits, t.meter);
  if (funding != nullptr) t.cell = funding->cell;
  return t;
}

absl::Status Inactive(WorkspaceId workspace, const char* what) {
  return absl::FailedPreconditionError(
      absl::StrCat("workspace ", workspace, " is inactive; ", what, " is refused (T5)"));
}

// C5: a consume's debit and its count (C7); false, with the value that did
// not hold enough in `*after`, when refused.
inline bool ConsumeFrom(BalanceCell* cell, int64_t amount, CellValue* after) {
  BucketAmounts taken;
  if (!Debit(cell, amount, false, after, &taken)) return false;
  cell->consumed.fetch_add(amount, std::memory_order_release);
  return true;
}

// C5: the debit of a consume, in the version the caller holds.
absl::StatusOr<int64_t> ConsumeIn(const Engine::Impl& impl, const Version& v, const Target& t,
                                  WorkspaceId workspace, int64_t amount) {
  if (!t.ws->active()) return Inactive(workspace, "consumption");
  CellValue after;
  BucketAmounts taken;
  if (t.cell == nullptr || !Debit(t.cell, amount, false, &after, &taken)) {
    return Refused(*v.meters, workspace, t.meter, after, amount, "consume", "C5");
  }
  t.cell->consumed.fetch_add(amount, std::memory_order_release);
  // P3: with a journal, the caller holds its lock (engine_impl.h).
  if (JournalScope* journal = CurrentJournal(impl); journal != nullptr) {
    journal->Append(JournalRecordType::kConsume, ConsumeRecord(workspace, t.meter, taken));
  }
  return after.available();
}

template <class Table>
Table* Ensure(std::atomic<Table*>& slot, size_t slots) {
  Table* table = slot.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  auto* fresh = new Table(slots);
  if (slot.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;  // another thread published first
  return table;
}

// ---- Idempotency keys (C5) ----

struct Probe {
  size_t found = SIZE_MAX;  // a live entry of the key
  uint64_t found_meta = 0;
  size_t available = SIZE_MAX;  // the first slot a claim may take
  uint64_t seen_tag = 0, seen_meta = 0;
};

// Scans the key's probe sequence up to the first never-used slot. Slots
// never go back to kEmpty, so every claim of the key lies before it.
Probe Scan(KeyTable& table, uint64_t tag, size_t home, size_t skip, int64_t now_ns,
           int64_t window_ns) {
  Probe p;
  for (size_t i = 0; i < kKeyProbeLength; ++i) {
    const size_t index = (home + i) & (table.size() - 1);
    if (index == skip) continue;
    const KeySlot& s = table.slot(index);
    uint64_t t, meta;
    ReadKeySlot(s, &t, &meta);
    const KeyState state = KeyStateOf(meta);
    if (t == tag && KeyLive(s, meta, now_ns, window_ns)) {
      p.found = index;
      p.found_meta = meta;
      return p;
    }
    const bool free = state == KeyState::kEmpty || state == KeyState::kFree ||
                      (state == KeyState::kDone && !KeyLive(s, meta, now_ns, window_ns));
    if (free && p.available == SIZE_MAX) {
      p.available = index;
      p.seen_tag = t;
      p.seen_meta = meta;
    }
    if (state == KeyState::kEmpty) break;
  }
  return p;
}

bool ClaimKeySlot(KeySlot& s, uint64_t seen_tag, uint64_t seen_meta, uint64_t tag, uint64_t meta) {
  auto* word = reinterpret_cast<u128*>(s.words);
  const u128 expected = (static_cast<u128>(seen_meta) << 64) | seen_tag;
  const u128 desired = (static_cast<u128>(meta) << 64) | tag;
  return __sync_bool_compare_and_swap(word, expected, desired);
}

// Waits for the first attempt of the key (a consume in flight: a few
// instructions away) and replays its result. Returns nullopt when that
// attempt withdrew and the caller must start over.
std::optional<absl::StatusOr<int64_t>> Replay(const KeySlot& s, uint64_t meta, int64_t amount,
                                              absl::string_view key) {
  const uint64_t gen = meta >> 2;
  for (int spins = 0;; ++spins) {
    const uint64_t now = __atomic_load_n(&s.words[1], __ATOMIC_ACQUIRE);
    if (now == Meta(gen, KeyState::kDone)) break;
    if (now != Meta(gen, KeyState::kPending)) return std::nullopt;
    if (spins > 64) std::this_thread::yield();
  }
  // Acquire loads keep the re-check below after them.
  const int64_t first_amount = s.amount.load(std::memory_order_acquire);
  const int64_t result = s.result.load(std::memory_order_acquire);
  // The entry may have expired and been taken by another key meanwhile.
  if (__atomic_load_n(&s.words[1], __ATOMIC_ACQUIRE) != Meta(gen, KeyState::kDone)) {
    return std::nullopt;
  }
  if (first_amount != amount) {
    return absl::StatusOr<int64_t>(absl::InvalidArgumentError(
        absl::StrCat("idempotency key '", key.substr(0, 64), "' was first used with amount ",
                     first_amount, ", not ", amount, " (C5)")));
  }
  if (result >= 0) return absl::StatusOr<int64_t>(result);
  return absl::StatusOr<int64_t>(
      absl::Status(static_cast<absl::StatusCode>(-result),
                   absl::StrCat("replay of the first consume with idempotency key '",
                                key.substr(0, 64), "': it was refused (C5)")));
}

}  // namespace

// ---- Writer: meters and the admin side (C1-C4, T7) ----

void Writer::Ledger(LedgerKind kind, UserId actor, AccountId account, WorkspaceId workspace,
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
    return absl::InvalidArgumentError(
        absl::StrCat("a meter has one or two buckets; got ", buckets.size(), " (C1)"));
  }
  for (const std::string& bucket : buckets) {
    TNY_RETURN_IF_ERROR(ValidateMeterName(bucket, "bucket name"));
  }
  if (buckets.size() == 2 && buckets[0] == buckets[1]) {
    return absl::InvalidArgumentError(
        absl::StrCat("the buckets of meter '", name, "' must differ (C1)"));
  }
  if (absl::StatusOr<MeterId> existing = ResolveMeter(*v_->meters, name); existing.ok()) {
    if (v_->meters->meters[*existing].buckets == buckets) return *existing;
    return absl::AlreadyExistsError(
        absl::StrCat("meter '", name, "' exists with buckets ",
                     absl::StrJoin(v_->meters->meters[*existing].buckets, ", "), " (C1)"));
  }
  if (v_->meters->meters.size() >= limits::kMaxMeters) {
    return absl::ResourceExhaustedError(
        absl::StrCat("an engine has at most ", limits::kMaxMeters, " meters (C1)"));
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
    return absl::ResourceExhaustedError(absl::StrCat(
        "grant of ", amount, " would take account ", account, "'s total granted of meter '",
        v_->meters->meters[m].name, "' past ", INT64_MAX, " (C1)"));
  }
  Pool* p = MutablePool(account, m);
  p->buckets[b] += amount;
  p->granted += amount;
  Record(actor, account, 0,
         absl::StrCat("grant meter=", v_->meters->meters[m].name, " bucket=", bucket,
                      " amount=", amount));
  BucketAmounts amounts{};
  amounts[b] = amount;
  Ledger(LedgerKind::kGrant, actor, account, 0, m, amounts);
  return absl::OkStatus();
}

absl::StatusOr<BucketAmounts> Writer::Transfer(UserId actor, AccountId account,
                                               WorkspaceId workspace, int64_t amount,
                                               MeterRef meter) {
  if (amount <= 0) return NonPositive("transfer", amount, "C1");
  TNY_ASSIGN_OR_RETURN(const AccountNode* a, FindAccount(account, "C3"));
  TNY_ASSIGN_OR_RETURN(const WorkspaceNode* ws, FindWorkspace(workspace, "C3"));
  if (ws->account != account) {
    return absl::InvalidArgumentError(
        absl::StrCat("workspace ", workspace, " is not in account ", account, " (C3, A2)"));
  }
  TNY_ASSIGN_OR_RETURN(MeterId m, ResolveMeter(*v_->meters, meter));
  TNY_RETURN_IF_ERROR(AuthorizeAccount(actor, *a, perm::kCreditsTransfer));
  const Pool* pool = FindMeterEntry(a->pools, m);
  const BucketAmounts in_pool = pool == nullptr ? BucketAmounts{} : pool->buckets;
  if (in_pool[0] + in_pool[1] < amount) {
    return absl::ResourceExhaustedError(
        absl::StrCat("account ", account, "'s pool of meter '", v_->meters->meters[m].name,
                     "' holds ", in_pool[0] + in_pool[1], " (regular ", in_pool[0], ", extra ",
                     in_pool[1], "); transfer of ", amount, " refused: nothing moved (C3)"));
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
  Ledger(LedgerKind::kTransfer, actor, account, workspace, m, taken);
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
    return absl::ResourceExhaustedError(
        absl::StrCat("workspace ", workspace, " would hold more than ",
                     limits::kMaxWorkspaceBalance, " of meter '", v_->meters->meters[m].name,
                     "' (it has ", before.total(), "); transfer of ", amount, " refused (C1)"));
  }
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
    return absl::ResourceExhaustedError(absl::StrCat(
        "workspace ", workspace, "'s bucket '", bucket, "' of meter '", v_->meters->meters[m].name,
        "' holds ", in_bucket, "; revoke of ", amount, " refused (C4)"));
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
  Ledger(LedgerKind::kRevoke, actor, account, workspace, m, amounts);
  CellValue before;
  if (!Update(cell, [&](CellValue& c) {
        before = c;
        int64_t& from = b == 0 ? c.regular : c.extra;
        if (from < amount) return false;
        from -= amount;
        return true;
      })) {
    return absl::ResourceExhaustedError(
        absl::StrCat("workspace ", workspace, "'s bucket '", bucket, "' of meter '",
                     v_->meters->meters[m].name, "' holds ", b == 0 ? before.regular : before.extra,
                     "; revoke of ", amount, " refused (C4)"));
  }
  return absl::OkStatus();
}

void Writer::FinishCredits(const std::atomic<ReservationTable*>& table) {
  if (drains_.empty()) return;
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

// ---- Reservations settled under the writer lock (C6) ----
namespace {

// Settles a live hold: debits `actual` of it (regular part first), returns
// the rest to its buckets, frees the slot. Returns the ledger entry.
LedgerEntry Settle(ReservationTable& table, uint32_t index, uint64_t state_gen, LedgerKind kind,
                   int64_t actual, int64_t now_ns, uint64_t revision) {
  ReservationSlot& slot = table.slot(index);
  const BucketAmounts held = {slot.held_regular.load(std::memory_order_relaxed),
                              slot.held_extra.load(std::memory_order_relaxed)};
  const BucketAmounts debit = {std::min(actual, held[0]), actual - std::min(actual, held[0])};
  const BucketAmounts back = {held[0] - debit[0], held[1] - debit[1]};
  BalanceCell* cell = slot.cell.load(std::memory_order_relaxed);
  Update(cell, [&](CellValue& c) {
    assert(!c.closed && c.held >= held[0] + held[1]);
    c.held -= held[0] + held[1];
    c.regular += back[0];
    c.extra += back[1];
    return true;
  });
  if (actual > 0) cell->consumed.fetch_add(actual, std::memory_order_release);
  LedgerEntry e;
  e.revision = revision;
  e.time_ns = now_ns;
  e.actor = kSystem;
  e.account = slot.account.load(std::memory_order_relaxed);
  e.workspace = slot.workspace.load(std::memory_order_relaxed);
  e.meter = slot.meter.load(std::memory_order_relaxed);
  e.kind = kind;
  e.amounts = debit;
  e.returned = back;
  e.reservation = MakeReservationId(GenOf(state_gen), index);
  slot.state_gen.store(StateGen(GenOf(state_gen) + 1, SlotState::kFree), std::memory_order_release);
  table.Push(index);
  return e;
}

// A live reservation named by `id`, or NotFound naming C6.
absl::StatusOr<uint64_t> FindLive(ReservationTable* table, ReservationId id, uint32_t* index) {
  uint64_t gen = 0;
  ReservationSlot* slot = table == nullptr ? nullptr : table->Find(id, index, &gen);
  const uint64_t state_gen = slot == nullptr ? 0 : slot->state_gen.load(std::memory_order_acquire);
  if (slot == nullptr || state_gen != StateGen(gen, SlotState::kLive)) {
    return absl::NotFoundError(
        absl::StrCat("reservation ", id, " is unknown, settled, released or expired (C6)"));
  }
  return state_gen;
}

}  // namespace

// C6: no live hold expires before impl.next_expiry_ns.
void LowerNextExpiry(Engine::Impl& impl, int64_t expires_at_ns) {
  // seq_cst, like the reserve's kLive store before it and the sweep's
  // exchange and slot loads: either the sweep's scan sees the live hold, or
  // this load sees the sweep's reset and lowers it.
  int64_t seen = impl.next_expiry_ns.load(std::memory_order_seq_cst);
  while (expires_at_ns < seen &&
         !impl.next_expiry_ns.compare_exchange_weak(seen, expires_at_ns, std::memory_order_seq_cst,
                                                    std::memory_order_seq_cst)) {
  }
}

void AppendLedger(Engine::Impl& impl, std::vector<LedgerEntry>& entries) {
  if (entries.empty()) return;
  MutexLock lock(&impl.ledger_mu);
  for (LedgerEntry& e : entries) {
    e.sequence = impl.ledger_next_sequence++;
    impl.ledger.push_back(e);
  }
  while (impl.ledger.size() > impl.options.ledger_retention) {
    impl.ledger_dropped_through = impl.ledger.front().sequence;
    impl.ledger_dropped_max_time_ns =
        std::max(impl.ledger_dropped_max_time_ns, impl.ledger.front().time_ns);
    impl.ledger.pop_front();
  }
  entries.clear();
}

uint64_t SweepExpired(Engine::Impl& impl, uint64_t revision, int64_t now_ns, bool only_if_due,
                      std::vector<LedgerEntry>* entries) {
  ReservationTable* table = impl.reservations.load(std::memory_order_acquire);
  if (table == nullptr) return 0;
  if (only_if_due && now_ns < impl.next_expiry_ns.load(std::memory_order_acquire)) return 0;
  // Reset the bound, then scan. A reserve lowers the bound after its hold is
  // live; the exchange reads any such lowering, so a hold this scan misses
  // has lowered the bound after the reset.
  impl.next_expiry_ns.exchange(INT64_MAX, std::memory_order_seq_cst);
  int64_t next = INT64_MAX;
  uint64_t expired = 0;
  for (size_t i = 0; i < table->size(); ++i) {
    const auto index = static_cast<uint32_t>(i);
    const uint64_t state_gen = table->slot(index).state_gen.load(std::memory_order_seq_cst);
    if (StateOf(state_gen) != SlotState::kLive) continue;
    const int64_t expires_at_ns = table->slot(index).expires_at_ns.load(std::memory_order_relaxed);
    if (expires_at_ns > now_ns) {
      next = std::min(next, expires_at_ns);
      continue;
    }
    entries->push_back(Settle(*table, index, state_gen, LedgerKind::kExpire, 0, now_ns, revision));
    ++expired;
  }
  LowerNextExpiry(impl, next);
  return expired;
}

bool TryReleaseExpired(Engine::Impl& impl, uint64_t revision) {
  const int64_t now_ns = impl.clock->now_ns();
  if (impl.reservations.load(std::memory_order_acquire) == nullptr ||
      now_ns < impl.next_expiry_ns.load(std::memory_order_acquire)) {
    return false;
  }
  // With a journal the caller may hold its lock: taking write_mu after it
  // only ever tries, so the order write_mu -> journal_mu of writers is safe.
  if (!impl.write_mu.TryLock()) return false;
  uint64_t expired = 0;
  {
    JournalScope journal(impl, kCreditRecordMaxBytes);
    if (journal.status().ok()) {
      std::vector<LedgerEntry> entries;
      expired = SweepExpired(impl, revision, now_ns, true, &entries);
      if (expired > 0) {
        journal.Append(JournalRecordType::kSweep, SweepRecord(now_ns, revision, true));
      }
      AppendLedger(impl, entries);
    }
  }
  impl.write_mu.Unlock();
  return expired > 0;
}

}  // namespace internal

using internal::BalanceCell;
using internal::CellValue;
using internal::ReadGuard;
using internal::ReservationTable;
using internal::Version;
using internal::Writer;

namespace {
const Version& Load(const std::atomic<const Version*>& root) {
  return *root.load(std::memory_order_seq_cst);
}
}  // namespace

// ---- Meters and admin changes ----

absl::StatusOr<MeterId> Engine::define_meter(absl::string_view name,
                                             const std::vector<std::string>& buckets) {
  TNY_ASSIGN_OR_RETURN(uint64_t id, RunOp(internal::Encode<&Writer::DefineMeter>(name, buckets)));
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
  return RunOp(internal::Encode<&Writer::GrantCredits>(actor, account, amount, meter, bucket))
      .status();
}

absl::StatusOr<BucketAmounts> Engine::transfer(UserId actor, AccountId account,
                                               WorkspaceId workspace, int64_t amount,
                                               MeterRef meter) {
  internal::RunOutput out;
  TNY_RETURN_IF_ERROR(
      RunOp(internal::Encode<&Writer::Transfer>(actor, account, workspace, amount, meter), &out)
          .status());
  return out.taken;
}

absl::Status Engine::revoke(UserId actor, WorkspaceId workspace, int64_t amount,
                            absl::string_view bucket, MeterRef meter) {
  return RunOp(internal::Encode<&Writer::Revoke>(actor, workspace, amount, bucket, meter)).status();
}

// ---- Consume and reserve: lock-free (C5, C6) ----

absl::StatusOr<int64_t> Engine::consume(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                        absl::string_view key) {
  if (amount <= 0) return internal::NonPositive("consume", amount, "C1");
  if (ABSL_PREDICT_FALSE(journaled_)) {
    // P3: the debit and its record as one step (engine_impl.h); then the
    // slow path, which records.
    if (internal::CurrentJournal(*impl_) == nullptr) {
      return internal::WithJournal(*impl_, 3 * internal::kCreditRecordMaxBytes,
                                   [&] { return consume(workspace, amount, meter, key); });
    }
    if (key.empty()) {
      ReadGuard guard;
      const Version& v = Load(root_);
      TNY_ASSIGN_OR_RETURN(internal::Target t, internal::FindTarget(v, workspace, meter, "C5"));
      return ConsumeReleasingExpired(v, t, workspace, amount);
    }
  }
  if (!key.empty()) return ConsumeKeyed(workspace, amount, meter, key);
  ReadGuard guard;
  const Version& v = Load(root_);
  // The hot path: an active, funded workspace and a meter named by id.
  const internal::WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (ABSL_PREDICT_TRUE(ws != nullptr && ws->active() && !meter.by_name())) {
    if (const internal::Funding* f = internal::FindMeterEntry(ws->credits, meter.id())) {
      CellValue after;
      if (ABSL_PREDICT_TRUE(internal::ConsumeFrom(f->cell, amount, &after))) {
        return after.available();
      }
    }
  }
  // Everything else, refusals included, with the reasons (a refused fast
  // attempt is made once more there, after expired holds were released).
  TNY_ASSIGN_OR_RETURN(internal::Target t, internal::FindTarget(v, workspace, meter, "C5"));
  return ConsumeReleasingExpired(v, t, workspace, amount);
}

absl::StatusOr<int64_t> Engine::ConsumeReleasingExpired(const internal::Version& v,
                                                        const internal::Target& t,
                                                        WorkspaceId workspace, int64_t amount) {
  absl::StatusOr<int64_t> result = internal::ConsumeIn(*impl_, v, t, workspace, amount);
  if (result.status().code() == absl::StatusCode::kResourceExhausted &&
      internal::TryReleaseExpired(*impl_, root_.load(std::memory_order_seq_cst)->revision)) {
    result = internal::ConsumeIn(*impl_, v, t, workspace, amount);
  }
  return result;
}

absl::StatusOr<int64_t> Engine::ConsumeKeyed(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                             absl::string_view key) {
  using internal::KeySlot;
  using internal::KeyState;
  if (key.size() > limits::kIdempotencyKeyMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an idempotency key has at most ",
                                                   limits::kIdempotencyKeyMaxBytes, " bytes; got ",
                                                   key.size(), " (C5)"));
  }
  ReadGuard guard;
  const Version& v = Load(root_);
  // Validation failures are answers about the call, not about the key:
  // they are not remembered.
  TNY_ASSIGN_OR_RETURN(internal::Target t, internal::FindTarget(v, workspace, meter, "C5"));
  internal::KeyTable& table = *internal::Ensure(impl_->keys, impl_->options.idempotency_slots);
  // The key's identity: a keyed 128-bit SipHash of (workspace, meter, key).
  unsigned char input[12 + limits::kIdempotencyKeyMaxBytes];
  std::memcpy(input, &workspace, 8);
  std::memcpy(input + 8, &t.meter, 4);
  std::memcpy(input + 12, key.data(), key.size());
  uint64_t hash[2];
  crypto_shorthash_siphashx24(reinterpret_cast<unsigned char*>(hash), input, 12 + key.size(),
                              impl_->key_hash_key.data());
  const uint64_t tag = hash[0] | 1;  // never 0: 0 marks a never-used slot
  const size_t home = hash[1] & (table.size() - 1);
  const int64_t now_ns = impl_->clock->now_ns();
  const int64_t window_ns = internal::KeyWindowNs(impl_->options.idempotency_window_s);
  for (;;) {
    internal::Probe p = internal::Scan(table, tag, home, SIZE_MAX, now_ns, window_ns);
    if (p.found != SIZE_MAX) {
      auto replay = internal::Replay(table.slot(p.found), p.found_meta, amount, key);
      if (replay.has_value()) return *std::move(replay);
      continue;
    }
    if (p.available == SIZE_MAX) {
      return absl::ResourceExhaustedError(
          absl::StrCat("no free idempotency slot near this key's home (",
                       impl_->options.idempotency_slots, " slots, window ",
                       window_ns / 1'000'000'000, " s); raise Options::idempotency_slots (C5)"));
    }
    KeySlot& slot = table.slot(p.available);
    const uint64_t gen = (p.seen_meta >> 2) + 1;
    if (!internal::ClaimKeySlot(slot, p.seen_tag, p.seen_meta, tag,
                                internal::Meta(gen, KeyState::kPending))) {
      continue;
    }
    // Leaving with the claim still pending (an exception) would make every
    // retry of the key wait forever: withdraw it on the way out.
    struct Withdraw {
      KeySlot* slot;
      uint64_t meta;
      ~Withdraw() {
        if (slot != nullptr) __atomic_store_n(&slot->words[1], meta, __ATOMIC_RELEASE);
      }
    } withdraw{&slot, internal::Meta(gen, KeyState::kFree)};
    // Two claims of one key can exist only when a slot became free between
    // their scans. Each claimant looks again after claiming (a full barrier
    // separates the two), so at least one sees the other; whoever sees
    // another claim withdraws and follows it.
    if (internal::Scan(table, tag, home, p.available, now_ns, window_ns).found != SIZE_MAX) {
      continue;  // `withdraw` frees the slot
    }
    absl::StatusOr<int64_t> result = ConsumeReleasingExpired(v, t, workspace, amount);
    if (!result.ok() && !internal::RemembersRefusal(result.status().code())) {
      return result;  // `withdraw` frees the slot
    }
    slot.time_ns.store(now_ns, std::memory_order_relaxed);
    slot.amount.store(amount, std::memory_order_relaxed);
    slot.result.store(internal::KeyResultOf(result), std::memory_order_relaxed);
    withdraw.slot = nullptr;
    __atomic_store_n(&slot.words[1], internal::Meta(gen, KeyState::kDone), __ATOMIC_RELEASE);
    if (internal::JournalScope* journal = internal::CurrentJournal(*impl_); journal != nullptr) {
      journal->Append(internal::JournalRecordType::kKeyedConsume,
                      internal::KeyRecord(table.size(), p.available & (table.size() - 1), slot, tag,
                                          internal::Meta(gen, KeyState::kDone)));
    }
    return result;
  }
}

absl::StatusOr<ReservationId> Engine::reserve(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                              int64_t ttl_s) {
  if (amount <= 0) return internal::NonPositive("reserve", amount, "C1");
  if (ttl_s <= 0 || ttl_s > limits::kReservationTtlMaxS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reservation ttl_s must be 1 to ", limits::kReservationTtlMaxS, "; got ", ttl_s, " (C6)"));
  }
  if (ABSL_PREDICT_FALSE(journaled_) && internal::CurrentJournal(*impl_) == nullptr) {
    return internal::WithJournal(*impl_, 3 * internal::kCreditRecordMaxBytes,
                                 [&] { return reserve(workspace, amount, meter, ttl_s); });
  }
  ReadGuard guard;
  const Version& v = Load(root_);
  TNY_ASSIGN_OR_RETURN(internal::Target t, internal::FindTarget(v, workspace, meter, "C6"));
  if (!t.ws->active()) return internal::Inactive(workspace, "reserving");
  CellValue after;
  if (t.cell == nullptr)
    return internal::Refused(*v.meters, workspace, t.meter, after, amount, "reserve", "C6");
  ReservationTable& table = *internal::Ensure(
      impl_->reservations,
      std::clamp<size_t>(impl_->options.reservation_slots, 1, limits::kReservationSlotsMax));
  uint32_t index;
  const uint64_t revision = v.revision;
  if (!table.Pop(&index) && !(internal::TryReleaseExpired(*impl_, revision) && table.Pop(&index))) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", table.size(),
                     " reservation slots are taken; expired holds free theirs when "
                     "swept (expire_reservations) (C6)"));
  }
  internal::ReservationSlot& slot = table.slot(index);
  const uint64_t gen = internal::GenOf(slot.state_gen.load(std::memory_order_relaxed));
  slot.workspace.store(workspace, std::memory_order_relaxed);
  slot.account.store(t.ws->account, std::memory_order_relaxed);
  slot.meter.store(t.meter, std::memory_order_relaxed);
  slot.cell.store(t.cell, std::memory_order_relaxed);
  slot.amount.store(amount, std::memory_order_relaxed);
  int64_t expires_at_ns;
  if (__builtin_add_overflow(impl_->clock->now_ns(), ttl_s * 1'000'000'000, &expires_at_ns)) {
    expires_at_ns = INT64_MAX;
  }
  slot.expires_at_ns.store(expires_at_ns, std::memory_order_relaxed);
  // Announce before the CAS: a writer closing the cell waits for announced
  // reservations, and one announced after the close finds the cell closed.
  slot.state_gen.store(internal::StateGen(gen, internal::SlotState::kReserving),
                       std::memory_order_seq_cst);
  BucketAmounts taken;
  if (!internal::Debit(t.cell, amount, true, &after, &taken) &&
      !(internal::TryReleaseExpired(*impl_, revision) &&
        internal::Debit(t.cell, amount, true, &after, &taken))) {
    slot.state_gen.store(internal::StateGen(gen, internal::SlotState::kFree),
                         std::memory_order_release);
    table.Push(index);
    return internal::Refused(*v.meters, workspace, t.meter, after, amount, "reserve", "C6");
  }
  slot.held_regular.store(taken[0], std::memory_order_relaxed);
  slot.held_extra.store(taken[1], std::memory_order_relaxed);
  slot.state_gen.store(internal::StateGen(gen, internal::SlotState::kLive),
                       std::memory_order_seq_cst);
  if (internal::JournalScope* journal = internal::CurrentJournal(*impl_); journal != nullptr) {
    journal->Append(
        internal::JournalRecordType::kReserve,
        internal::ReserveRecord(table.size(), index,
                                internal::StateGen(gen, internal::SlotState::kLive), slot));
  }
  // After the hold is live (see SweepExpired).
  internal::LowerNextExpiry(*impl_, expires_at_ns);
  return internal::MakeReservationId(gen, index);
}

// ---- Commit, release, expiry: under the writer lock (C6) ----

namespace internal {

absl::Status CommitAt(Engine::Impl& impl, ReservationId reservation, int64_t actual, int64_t now_ns,
                      uint64_t revision, std::vector<LedgerEntry>* entries) {
  ReservationTable* table = impl.reservations.load(std::memory_order_acquire);
  uint32_t index = 0;
  absl::Status status;
  absl::StatusOr<uint64_t> state_gen = FindLive(table, reservation, &index);
  if (!state_gen.ok()) {
    status = state_gen.status();
  } else if (table->slot(index).expires_at_ns.load(std::memory_order_relaxed) <= now_ns) {
    entries->push_back(Settle(*table, index, *state_gen, LedgerKind::kExpire, 0, now_ns, revision));
    status = absl::FailedPreconditionError(
        absl::StrCat("reservation ", reservation,
                     " expired; an expired hold is never committable and was released (C6)"));
  } else {
    ReservationSlot& slot = table->slot(index);
    const int64_t held = slot.held_regular.load(std::memory_order_relaxed) +
                         slot.held_extra.load(std::memory_order_relaxed);
    if (actual < 0 || actual > held) {
      status = absl::InvalidArgumentError(
          absl::StrCat("commit of ", actual, " on reservation ", reservation, " which holds ", held,
                       ": actual must be 0 to the held amount (C6)"));
    } else {
      entries->push_back(
          Settle(*table, index, *state_gen, LedgerKind::kCommit, actual, now_ns, revision));
    }
  }
  SweepExpired(impl, revision, now_ns, true, entries);
  return status;
}

absl::Status ReleaseAt(Engine::Impl& impl, ReservationId reservation, int64_t now_ns,
                       uint64_t revision, std::vector<LedgerEntry>* entries) {
  ReservationTable* table = impl.reservations.load(std::memory_order_acquire);
  uint32_t index = 0;
  absl::Status status;
  absl::StatusOr<uint64_t> state_gen = FindLive(table, reservation, &index);
  if (!state_gen.ok()) {
    status = state_gen.status();
  } else {
    const bool expired = table->slot(index).expires_at_ns.load(std::memory_order_relaxed) <= now_ns;
    entries->push_back(Settle(*table, index, *state_gen,
                              expired ? LedgerKind::kExpire : LedgerKind::kRelease, 0, now_ns,
                              revision));
  }
  SweepExpired(impl, revision, now_ns, true, entries);
  return status;
}

}  // namespace internal

absl::Status Engine::commit(ReservationId reservation, int64_t actual) {
  absl::Status status;
  uint64_t lsn = 0;
  {
    internal::MutexLock lock(&impl_->write_mu);
    internal::JournalScope journal(*impl_, internal::kCreditRecordMaxBytes);
    TNY_RETURN_IF_ERROR(journal.status());
    const int64_t now_ns = impl_->clock->now_ns();
    const uint64_t revision = root_.load(std::memory_order_seq_cst)->revision;
    std::vector<LedgerEntry> entries;
    status = internal::CommitAt(*impl_, reservation, actual, now_ns, revision, &entries);
    if (!entries.empty()) {
      // A refused commit may still have released expired holds (its sweep,
      // or the hold itself when it had expired: FailedPrecondition).
      const bool settled = status.ok() || status.code() == absl::StatusCode::kFailedPrecondition;
      journal.Append(
          settled ? internal::JournalRecordType::kCommit : internal::JournalRecordType::kSweep,
          settled ? internal::SettleRecord(reservation, actual, now_ns, revision)
                  : internal::SweepRecord(now_ns, revision, true));
    }
    internal::AppendLedger(*impl_, entries);
    lsn = journal.lsn();
  }
  TNY_RETURN_IF_ERROR(internal::Acknowledge(*impl_, lsn));
  return status;
}

absl::Status Engine::release(ReservationId reservation) {
  absl::Status status;
  uint64_t lsn = 0;
  {
    internal::MutexLock lock(&impl_->write_mu);
    internal::JournalScope journal(*impl_, internal::kCreditRecordMaxBytes);
    TNY_RETURN_IF_ERROR(journal.status());
    const int64_t now_ns = impl_->clock->now_ns();
    const uint64_t revision = root_.load(std::memory_order_seq_cst)->revision;
    std::vector<LedgerEntry> entries;
    status = internal::ReleaseAt(*impl_, reservation, now_ns, revision, &entries);
    if (!entries.empty()) {
      // A refused release may still have released expired holds (its sweep).
      journal.Append(
          status.ok() ? internal::JournalRecordType::kRelease : internal::JournalRecordType::kSweep,
          status.ok() ? internal::SettleRecord(reservation, 0, now_ns, revision)
                      : internal::SweepRecord(now_ns, revision, true));
    }
    internal::AppendLedger(*impl_, entries);
    lsn = journal.lsn();
  }
  TNY_RETURN_IF_ERROR(internal::Acknowledge(*impl_, lsn));
  return status;
}

absl::StatusOr<uint64_t> Engine::expire_reservations() {
  uint64_t expired = 0;
  uint64_t lsn = 0;
  {
    internal::MutexLock lock(&impl_->write_mu);
    internal::JournalScope journal(*impl_, internal::kCreditRecordMaxBytes);
    TNY_RETURN_IF_ERROR(journal.status());
    const int64_t now_ns = impl_->clock->now_ns();
    const uint64_t revision = root_.load(std::memory_order_seq_cst)->revision;
    std::vector<LedgerEntry> entries;
    expired = internal::SweepExpired(*impl_, revision, now_ns, false, &entries);
    if (expired > 0) {
      journal.Append(internal::JournalRecordType::kSweep,
                     internal::SweepRecord(now_ns, revision, false));
    }
    internal::AppendLedger(*impl_, entries);
    lsn = journal.lsn();
  }
  TNY_RETURN_IF_ERROR(internal::Acknowledge(*impl_, lsn));
  return expired;
}

absl::StatusOr<ReservationInfo> Engine::reservation(ReservationId reservation) const {
  ReservationTable* table = impl_->reservations.load(std::memory_order_acquire);
  uint32_t index = 0;
  TNY_ASSIGN_OR_RETURN(uint64_t state_gen, internal::FindLive(table, reservation, &index));
  const internal::ReservationSlot& slot = table->slot(index);
  ReservationInfo info;
  info.id = reservation;
  info.workspace = slot.workspace.load(std::memory_order_acquire);
  info.meter = slot.meter.load(std::memory_order_acquire);
  info.held = {slot.held_regular.load(std::memory_order_acquire),
               slot.held_extra.load(std::memory_order_acquire)};
  // Acquire: keeps the re-check below after every field read.
  info.expires_at_ns = slot.expires_at_ns.load(std::memory_order_acquire);
  // Settled while being read: the fields may belong to the next holder.
  if (slot.state_gen.load(std::memory_order_acquire) != state_gen) {
    return absl::NotFoundError(absl::StrCat("reservation ", reservation, " was just settled (C6)"));
  }
  return info;
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
  const CellValue c = internal::Unpack(t.cell->LoadExact());
  if (c.closed)
    return absl::NotFoundError(absl::StrCat("workspace ", workspace, " was deleted (T7)"));
  b.buckets = {c.regular, c.extra};
  b.held = c.held;
  return b;
}

absl::StatusOr<AccountBalance> Engine::account_balance(AccountId account, MeterRef meter) const {
  ReadGuard guard;
  const Version& v = Load(root_);
  const internal::AccountNode* a = v.accounts.Find(account);
  if (a == nullptr) return absl::NotFoundError(absl::StrCat("unknown account ", account, " (C2)"));
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
    return absl::FailedPreconditionError(absl::StrCat(
        "ledger entries up to sequence ", impl_->ledger_dropped_through,
        " are no longer in memory (the ledger keeps the last ", impl_->options.ledger_retention,
        "); ask with after_sequence or since_ns past them (C7)"));
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

// ---- A7 ----

absl::StatusOr<bool> Engine::authorize_and_consume(UserId user, WorkspaceId workspace,
                                                   PermissionId permission, int64_t amount,
                                                   MeterRef meter) {
  if (amount <= 0) return internal::NonPositive("consume", amount, "C1");
  if (ABSL_PREDICT_FALSE(journaled_) && internal::CurrentJournal(*impl_) == nullptr) {
    return internal::WithJournal(*impl_, internal::kCreditRecordMaxBytes, [&] {
      return authorize_and_consume(user, workspace, permission, amount, meter);
    });
  }
  // One version answers both: the check and the debit see the same graph.
  ReadGuard guard;
  const Version& v = Load(root_);
  if (!internal::Evaluate<false>(v, user, workspace, permission, nullptr)) return false;
  TNY_ASSIGN_OR_RETURN(internal::Target t, internal::FindTarget(v, workspace, meter, "A7"));
  TNY_RETURN_IF_ERROR(internal::ConsumeIn(*impl_, v, t, workspace, amount).status());
  return true;
}

// ---- P3: the credit side's journal records ----

namespace internal {

std::string ConsumeRecord(WorkspaceId workspace, MeterId meter, const BucketAmounts& taken) {
  std::string out;
  OpWriter w(&out);
  w.Put(workspace);
  w.Put(meter);
  w.Put(taken[0]);
  w.Put(taken[1]);
  return out;
}

std::string KeyRecord(uint64_t table_size, uint64_t index, const KeySlot& slot, uint64_t tag,
                      uint64_t meta) {
  std::string out;
  OpWriter w(&out);
  w.Put(table_size);
  w.Put(index);
  w.Put(tag);
  w.Put(meta);
  w.Put(slot.time_ns.load(std::memory_order_relaxed));
  w.Put(slot.amount.load(std::memory_order_relaxed));
  w.Put(slot.result.load(std::memory_order_relaxed));
  return out;
}

std::string ReserveRecord(uint64_t table_size, uint32_t index, uint64_t state_gen,
                          const ReservationSlot& slot) {
  std::string out;
  OpWriter w(&out);
  w.Put(table_size);
  w.Put(index);
  w.Put(state_gen);
  w.Put(slot.workspace.load(std::memory_order_relaxed));
  w.Put(slot.meter.load(std::memory_order_relaxed));
  w.Put(slot.amount.load(std::memory_order_relaxed));
  w.Put(slot.held_regular.load(std::memory_order_relaxed));
  w.Put(slot.held_extra.load(std::memory_order_relaxed));
  w.Put(slot.expires_at_ns.load(std::memory_order_relaxed));
  return out;
}

std::string SettleRecord(ReservationId reservation, int64_t actual, int64_t now_ns,
                         uint64_t revision) {
  std::string out;
  OpWriter w(&out);
  w.Put(reservation);
  w.Put(actual);
  w.Put(now_ns);
  w.Put(revision);
  return out;
}

std::string SweepRecord(int64_t now_ns, uint64_t revision, bool only_if_due) {
  std::string out;
  OpWriter w(&out);
  w.Put(now_ns);
  w.Put(revision);
  w.Put(only_if_due);
  return out;
}

namespace {

absl::Status Unapplicable(const JournalRecord& record, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("journal: record ", record.lsn, " (type ", record.type, ") ", why, " (P3)"));
}

// The cell a record names in `v`; null when the workspace or its funding of
// the meter is missing.
BalanceCell* CellOf(const Version& v, WorkspaceId workspace, MeterId meter) {
  const WorkspaceNode* ws = v.workspaces.Find(workspace);
  if (ws == nullptr) return nullptr;
  const Funding* f = FindMeterEntry(ws->credits, meter);
  return f == nullptr ? nullptr : f->cell;
}

}  // namespace

absl::Status ReplayCredit(Engine::Impl& impl, const Version& v, const JournalRecord& record) {
  OpReader in(record.payload);
  switch (static_cast<JournalRecordType>(record.type)) {
    case JournalRecordType::kConsume: {
      WorkspaceId workspace = 0;
      MeterId meter = 0;
      BucketAmounts taken{};
      if (!in.Get(&workspace) || !in.Get(&meter) || !in.Get(&taken[0]) || !in.Get(&taken[1]) ||
          !in.done() || taken[0] < 0 || taken[1] < 0) {
        return Unapplicable(record, "does not decode");
      }
      BalanceCell* cell = CellOf(v, workspace, meter);
      if (cell == nullptr) return Unapplicable(record, "debits a workspace with no balance");
      if (!Update(cell, [&](CellValue& c) {
            if (c.closed || c.regular < taken[0] || c.extra < taken[1]) return false;
            c.regular -= taken[0];
            c.extra -= taken[1];
            return true;
          })) {
        return Unapplicable(record, "debits more than the balance holds");
      }
      cell->consumed.fetch_add(taken[0] + taken[1], std::memory_order_release);
      return absl::OkStatus();
    }
    case JournalRecordType::kKeyedConsume: {
      uint64_t size = 0, index = 0, tag = 0, meta = 0;
      int64_t time_ns = 0, amount = 0, result = 0;
      if (!in.Get(&size) || !in.Get(&index) || !in.Get(&tag) || !in.Get(&meta) ||
          !in.Get(&time_ns) || !in.Get(&amount) || !in.Get(&result) || !in.done() ||
          KeyStateOf(meta) != KeyState::kDone || index >= size) {
        return Unapplicable(record, "does not decode");
      }
      KeyTable& table = *Ensure(impl.keys, impl.options.idempotency_slots);
      if (table.size() != size) {
        return Unapplicable(
            record, absl::StrCat("remembers a key in a table of ", size, " slots; this engine has ",
                                 table.size(), ": recover with the same idempotency_slots"));
      }
      KeySlot& slot = table.slot(index);
      slot.time_ns.store(time_ns, std::memory_order_relaxed);
      slot.amount.store(amount, std::memory_order_relaxed);
      slot.result.store(result, std::memory_order_relaxed);
      __atomic_store_n(&slot.words[0], tag, __ATOMIC_RELAXED);
      __atomic_store_n(&slot.words[1], meta, __ATOMIC_RELEASE);
      return absl::OkStatus();
    }
    case JournalRecordType::kReserve: {
      uint64_t size = 0, state_gen = 0;
      uint32_t index = 0;
      WorkspaceId workspace = 0;
      MeterId meter = 0;
      int64_t amount = 0, held_regular = 0, held_extra = 0, expires_at_ns = 0;
      if (!in.Get(&size) || !in.Get(&index) || !in.Get(&state_gen) || !in.Get(&workspace) ||
          !in.Get(&meter) || !in.Get(&amount) || !in.Get(&held_regular) || !in.Get(&held_extra) ||
          !in.Get(&expires_at_ns) || !in.done() || StateOf(state_gen) != SlotState::kLive ||
          index >= size || held_regular < 0 || held_extra < 0 ||
          held_regular + held_extra != amount) {
        return Unapplicable(record, "does not decode");
      }
      ReservationTable& table = *Ensure(
          impl.reservations,
          std::clamp<size_t>(impl.options.reservation_slots, 1, limits::kReservationSlotsMax));
      if (table.size() != size) {
        return Unapplicable(record, absl::StrCat("holds a reservation in a table of ", size,
                                                 " slots; this engine has ", table.size(),
                                                 ": recover with the same reservation_slots"));
      }
      ReservationSlot& slot = table.slot(index);
      const uint64_t current = slot.state_gen.load(std::memory_order_relaxed);
      if (StateOf(current) == SlotState::kLive || GenOf(current) > GenOf(state_gen)) {
        return Unapplicable(record, "reuses a reservation slot that is live or newer");
      }
      BalanceCell* cell = CellOf(v, workspace, meter);
      const WorkspaceNode* ws = v.workspaces.Find(workspace);
      if (cell == nullptr || ws == nullptr) {
        return Unapplicable(record, "holds credits of a workspace with no balance");
      }
      if (!Update(cell, [&](CellValue& c) {
            if (c.closed || c.regular < held_regular || c.extra < held_extra) return false;
            c.regular -= held_regular;
            c.extra -= held_extra;
            c.held += amount;
            return true;
          })) {
        return Unapplicable(record, "holds more than the balance has");
      }
      slot.workspace.store(workspace, std::memory_order_relaxed);
      slot.account.store(ws->account, std::memory_order_relaxed);
      slot.meter.store(meter, std::memory_order_relaxed);
      slot.cell.store(cell, std::memory_order_relaxed);
      slot.amount.store(amount, std::memory_order_relaxed);
      slot.held_regular.store(held_regular, std::memory_order_relaxed);
      slot.held_extra.store(held_extra, std::memory_order_relaxed);
      slot.expires_at_ns.store(expires_at_ns, std::memory_order_relaxed);
      slot.state_gen.store(state_gen, std::memory_order_seq_cst);
      LowerNextExpiry(impl, expires_at_ns);
      return absl::OkStatus();
    }
    case JournalRecordType::kCommit:
    case JournalRecordType::kRelease: {
      ReservationId reservation = 0;
      int64_t actual = 0, now_ns = 0;
      uint64_t revision = 0;
      if (!in.Get(&reservation) || !in.Get(&actual) || !in.Get(&now_ns) || !in.Get(&revision) ||
          !in.done()) {
        return Unapplicable(record, "does not decode");
      }
      std::vector<LedgerEntry> entries;
      MutexLock lock(&impl.write_mu);
      // The live call's own refusals (an expired hold) are part of what it
      // did; only a reservation that is not there is damage.
      const absl::Status status =
          record.type == static_cast<uint8_t>(JournalRecordType::kCommit)
              ? CommitAt(impl, reservation, actual, now_ns, revision, &entries)
              : ReleaseAt(impl, reservation, now_ns, revision, &entries);
      AppendLedger(impl, entries);
      if (status.code() == absl::StatusCode::kNotFound ||
          status.code() == absl::StatusCode::kInvalidArgument) {
        return Unapplicable(record, absl::StrCat("settles what it cannot: ", status.message()));
      }
      return absl::OkStatus();
    }
    case JournalRecordType::kSweep: {
      int64_t now_ns = 0;
      uint64_t revision = 0;
      bool only_if_due = false;
      if (!in.Get(&now_ns) || !in.Get(&revision) || !in.Get(&only_if_due) || !in.done()) {
        return Unapplicable(record, "does not decode");
      }
      std::vector<LedgerEntry> entries;
      MutexLock lock(&impl.write_mu);
      SweepExpired(impl, revision, now_ns, only_if_due, &entries);
      AppendLedger(impl, entries);
      return absl::OkStatus();
    }
    case JournalRecordType::kRun:
      break;
  }
  return Unapplicable(record, "has an unknown type");
}

}  // namespace internal

}  // namespace tenantry
