// Copyright 2026 The tenantry Authors.
//
// The hot path of credits, lock-free (C5, C6, A7): consume, consume with an
// idempotency key, reserve, and authorize_and_consume. Each reads one
// version under a ReadGuard and changes only the live cells and slot tables
// (credits.h), never the version. With a journal, the caller holds the
// journal lock for the debit and its record (engine_impl.h).
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "credit_cells.h"
#include "credits.h"
#include "engine_impl.h"
#include "engine_journal.h"
#include "epoch.h"
#include "model.h"
#include "status_macros.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"

namespace tenantry {
namespace internal {
namespace {

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
std::optional<absl::StatusOr<int64_t>> AnswerOfFirstAttempt(const KeySlot& s, uint64_t meta,
                                                            int64_t amount, absl::string_view key) {
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
    return absl::StatusOr<int64_t>(
        Refusal(absl::StatusCode::kInvalidArgument, {"C5"},
                absl::StrCat("idempotency key '", key.substr(0, 64),
                             "' was first used with amount ", first_amount, ", not ", amount)));
  }
  if (result >= 0) return absl::StatusOr<int64_t>(result);
  return absl::StatusOr<int64_t>(
      Refusal(static_cast<absl::StatusCode>(-result), {"C5"},
              absl::StrCat("replay of the first consume with idempotency key '", key.substr(0, 64),
                           "': it was refused")));
}

// C5, C6: a consume that, about to be refused, first releases expired holds
// (never waiting for the writer lock) and tries once more.
// Out of line, like ConsumeKeyed: inlined into Engine::consume, either
// would grow the hot path's frame (measured: +0.7 ns a consume).
ABSL_ATTRIBUTE_NOINLINE absl::StatusOr<int64_t> ConsumeReleasingExpired(
    Engine::Impl& impl, const std::atomic<const Version*>& root, const Version& v, const Target& t,
    WorkspaceId workspace, int64_t amount) {
  absl::StatusOr<int64_t> result = ConsumeIn(impl, v, t, workspace, amount);
  if (result.status().code() == absl::StatusCode::kResourceExhausted &&
      TryReleaseExpired(impl, root.load(std::memory_order_seq_cst)->revision)) {
    result = ConsumeIn(impl, v, t, workspace, amount);
  }
  return result;
}

// C5: a consume with an idempotency key (lock-free).
ABSL_ATTRIBUTE_NOINLINE absl::StatusOr<int64_t> ConsumeKeyed(
    Engine::Impl& impl, const std::atomic<const Version*>& root, WorkspaceId workspace,
    int64_t amount, MeterRef meter, absl::string_view key) {
  if (key.size() > limits::kIdempotencyKeyMaxBytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C5"},
                   absl::StrCat("an idempotency key has at most ", limits::kIdempotencyKeyMaxBytes,
                                " bytes; got ", key.size()));
  }
  ReadGuard guard;
  const Version& v = Load(root);
  // Validation failures are answers about the call, not about the key:
  // they are not remembered.
  TNY_ASSIGN_OR_RETURN(Target t, FindTarget(v, workspace, meter, "C5"));
  KeyTable& table = *Ensure(impl.keys, impl.options.idempotency_slots);
  // The key's identity: a keyed 128-bit SipHash of (workspace, meter, key).
  unsigned char input[12 + limits::kIdempotencyKeyMaxBytes];
  std::memcpy(input, &workspace, 8);
  std::memcpy(input + 8, &t.meter, 4);
  std::memcpy(input + 12, key.data(), key.size());
  uint64_t hash[2];
  crypto_shorthash_siphashx24(reinterpret_cast<unsigned char*>(hash), input, 12 + key.size(),
                              impl.key_hash_key.data());
  const uint64_t tag = hash[0] | 1;  // never 0: 0 marks a never-used slot
  const size_t home = hash[1] & (table.size() - 1);
  const int64_t now_ns = impl.clock->now_ns();
  const int64_t window_ns = KeyWindowNs(impl.options.idempotency_window_s);
  for (;;) {
    Probe p = Scan(table, tag, home, SIZE_MAX, now_ns, window_ns);
    if (p.found != SIZE_MAX) {
      auto answer = AnswerOfFirstAttempt(table.slot(p.found), p.found_meta, amount, key);
      if (answer.has_value()) return *std::move(answer);
      continue;
    }
    if (p.available == SIZE_MAX) {
      return Refusal(
          absl::StatusCode::kResourceExhausted, {"C5"},
          absl::StrCat("no free idempotency slot near this key's home (",
                       impl.options.idempotency_slots, " slots, window ", window_ns / 1'000'000'000,
                       " s); raise Options::idempotency_slots"));
    }
    KeySlot& slot = table.slot(p.available);
    const uint64_t gen = (p.seen_meta >> 2) + 1;
    if (!ClaimKeySlot(slot, p.seen_tag, p.seen_meta, tag, Meta(gen, KeyState::kPending))) {
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
    } withdraw{&slot, Meta(gen, KeyState::kFree)};
    // Two claims of one key can exist only when a slot became free between
    // their scans. Each claimant looks again after claiming (a full barrier
    // separates the two), so at least one sees the other; whoever sees
    // another claim withdraws and follows it.
    if (Scan(table, tag, home, p.available, now_ns, window_ns).found != SIZE_MAX) {
      continue;  // `withdraw` frees the slot
    }
    absl::StatusOr<int64_t> result = ConsumeReleasingExpired(impl, root, v, t, workspace, amount);
    if (!result.ok() && !RemembersRefusal(result.status().code())) {
      return result;  // `withdraw` frees the slot
    }
    slot.time_ns.store(now_ns, std::memory_order_relaxed);
    slot.amount.store(amount, std::memory_order_relaxed);
    slot.result.store(KeyResultOf(result), std::memory_order_relaxed);
    withdraw.slot = nullptr;
    __atomic_store_n(&slot.words[1], Meta(gen, KeyState::kDone), __ATOMIC_RELEASE);
    if (JournalScope* journal = CurrentJournal(impl); journal != nullptr) {
      journal->Append(JournalRecordType::kKeyedConsume,
                      KeyRecord(table.size(), p.available & (table.size() - 1), slot, tag,
                                Meta(gen, KeyState::kDone)));
    }
    return result;
  }
}

}  // namespace
}  // namespace internal

using internal::CellValue;
using internal::ReadGuard;
using internal::ReservationTable;
using internal::Version;

using internal::Load;

absl::StatusOr<int64_t> Engine::consume(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                        absl::string_view key) {
  if (amount <= 0) return internal::NonPositive("consume", amount, "C1");
  if (ABSL_PREDICT_FALSE(journaled_)) {
    if (impl_->replica != nullptr) {
      return internal::ReplicaConsume(*this, workspace, amount, meter, key, false, 0, 0);
    }
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
      return internal::ConsumeReleasingExpired(*impl_, root_, v, t, workspace, amount);
    }
  }
  if (!key.empty()) return internal::ConsumeKeyed(*impl_, root_, workspace, amount, meter, key);
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
  return internal::ConsumeReleasingExpired(*impl_, root_, v, t, workspace, amount);
}

absl::StatusOr<ReservationId> Engine::reserve(WorkspaceId workspace, int64_t amount, MeterRef meter,
                                              int64_t ttl_s) {
  if (amount <= 0) return internal::NonPositive("reserve", amount, "C1");
  if (ttl_s <= 0 || ttl_s > limits::kReservationTtlMaxS) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C6"},
                   absl::StrCat("reservation ttl_s must be 1 to ", limits::kReservationTtlMaxS,
                                "; got ", ttl_s));
  }
  if (ABSL_PREDICT_FALSE(journaled_) && impl_->replica != nullptr) {
    return internal::ReplicaReserve(*this, workspace, amount, meter, ttl_s);
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
    return Refusal(absl::StatusCode::kResourceExhausted, {"C6"},
                   absl::StrCat("all ", table.size(),
                                " reservation slots are taken; expired holds free theirs when "
                                "swept (expire_reservations)"));
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

// A7: the check and the debit in one version, both or neither.

absl::StatusOr<bool> Engine::authorize_and_consume(UserId user, WorkspaceId workspace,
                                                   PermissionId permission, int64_t amount,
                                                   MeterRef meter) {
  if (amount <= 0) return internal::NonPositive("consume", amount, "C1");
  if (ABSL_PREDICT_FALSE(journaled_) && impl_->replica != nullptr) {
    absl::StatusOr<int64_t> done =
        internal::ReplicaConsume(*this, workspace, amount, meter, "", true, user, permission);
    if (absl::IsPermissionDenied(done.status())) return false;
    TNY_RETURN_IF_ERROR(done.status());
    return true;
  }
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

}  // namespace tenantry
