// Copyright 2026 The tenantry Authors.
//
// The credit side of the engine's state (C1-C8): meters, balance cells,
// account pools, and the two lock-free tables (reservations, idempotency
// keys). See docs/ledger.md for the rules and docs/credits-design.md for why
// the cells look the way they do.
//
// Two kinds of state live here:
//  - versioned, changed only by writers through a Txn: the meter table, each
//    account's pools, each workspace's `funded` amounts;
//  - live, changed in place by lock-free consumers: each workspace's balance
//    cells, the reservation slots and the idempotency-key slots.
// A workspace's cells are allocated by the writer that first funds it and
// shared by every later version of the workspace node; they are retired
// through the epoch domain when the workspace is deleted.
#ifndef TENANTRY_CORE_SRC_CREDITS_H_
#define TENANTRY_CORE_SRC_CREDITS_H_

#include <emmintrin.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tenantry/limits.h"
#include "tenantry/types.h"

#if defined(__SANITIZE_THREAD__)
#define TENANTRY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TENANTRY_TSAN 1
#endif
#endif

namespace tenantry::internal {

// ---- Balance cells (C3-C6) ----

using u128 = unsigned __int128;

// What one workspace holds of one meter. Packed into 128 bits so that a
// consume changes both buckets and the held amount in one compare-and-swap
// (a CAS per bucket with rollback is wrong: it refuses consumes that every serial
// order accepts, and readers see half-done debits; docs/credits-design.md).
// Layout: regular [0,42), extra [42,84), held [84,126), closed bit 126.
struct CellValue {
  int64_t regular = 0;
  int64_t extra = 0;
  int64_t held = 0;
  // Set when the workspace is deleted: its balance went back to the pool and
  // the cell takes no more debits (T7).
  bool closed = false;

  int64_t available() const { return regular + extra; }
  int64_t total() const { return regular + extra + held; }
};

inline constexpr int kCellFieldBits = 42;
static_assert(limits::kMaxWorkspaceBalance == (int64_t{1} << kCellFieldBits) - 1);

inline u128 Pack(const CellValue& c) {
  assert(c.regular >= 0 && c.extra >= 0 && c.held >= 0);
  assert(c.total() <= limits::kMaxWorkspaceBalance);
  return static_cast<u128>(c.regular) | (static_cast<u128>(c.extra) << kCellFieldBits) |
         (static_cast<u128>(c.held) << (2 * kCellFieldBits)) |
         (static_cast<u128>(c.closed) << (3 * kCellFieldBits));
}

inline CellValue Unpack(u128 word) {
  constexpr u128 kMask = (u128{1} << kCellFieldBits) - 1;
  return CellValue{static_cast<int64_t>(word & kMask),
                   static_cast<int64_t>((word >> kCellFieldBits) & kMask),
                   static_cast<int64_t>((word >> (2 * kCellFieldBits)) & kMask),
                   ((word >> (3 * kCellFieldBits)) & 1) != 0};
}

// One cell per (workspace, meter), on its own cache line so that consumers
// of different workspaces never share one.
struct alignas(64) BalanceCell {
  uint64_t gen = 0;  // the transaction that allocated it (txn.h)
  // The packed CellValue. Only ever accessed atomically: 16-byte CAS
  // (`lock cmpxchg16b`, inlined by -mcx16) and 8-byte atomic loads.
  alignas(16) uint64_t words[2] = {0, 0};
  // C7: what consumes and commits debited, added right after their CAS.
  std::atomic<int64_t> consumed{0};

  // Two 8-byte loads: may tear, which only makes the first CAS fail.
  u128 LoadSeed() const {
    const uint64_t lo = __atomic_load_n(&words[0], __ATOMIC_RELAXED);
    const uint64_t hi = __atomic_load_n(&words[1], __ATOMIC_RELAXED);
    return (static_cast<u128>(hi) << 64) | lo;
  }
  // One atomic 16-byte read. On CPUs with AVX an aligned 16-byte `movdqa`
  // is atomic (Intel SDM vol. 3A 9.1.1; AMD APM vol. 2 7.3.2), and it only
  // reads the cache line, so readers of one workspace do not slow each other
  // (X1). Elsewhere, and under TSan (which cannot see the asm), a CAS that
  // writes back what it found.
  u128 LoadExact() const {
#if !defined(TENANTRY_TSAN)
    if (AtomicVectorLoads()) {
      __m128i v;
      // asm, not an intrinsic: the compiler must not split the load in two.
      asm volatile("movdqa %1, %0" : "=x"(v) : "m"(words) : "memory");
      const auto lo = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
      const auto hi = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)));
      return (static_cast<u128>(hi) << 64) | lo;
    }
#endif
    u128 seed = LoadSeed();
    return __sync_val_compare_and_swap(Word(), seed, seed);
  }
  static bool AtomicVectorLoads() {
    static const bool avx = __builtin_cpu_supports("avx");
    return avx;
  }
  // Replaces `*expected` with `desired` if the cell still holds it; on
  // failure `*expected` becomes what the cell holds.
  bool Cas(u128* expected, u128 desired) {
    const u128 seen = __sync_val_compare_and_swap(Word(), *expected, desired);
    if (seen == *expected) return true;
    *expected = seen;
    return false;
  }

 private:
  u128* Word() const { return reinterpret_cast<u128*>(const_cast<uint64_t*>(words)); }
};

// ---- Meters (C1), versioned like the permission catalog ----

struct MeterDef {
  std::string name;
  std::vector<std::string> buckets;  // one or two, in priority order
};

struct MeterTable {
  uint64_t gen = 0;
  std::vector<MeterDef> meters;  // index = MeterId

  // `credits` (regular, extra) and `minutes` (regular).
  static MeterTable Builtin();
};

// The meter a MeterRef names in `table`; NotFound naming C1 otherwise.
absl::StatusOr<MeterId> ResolveMeter(const MeterTable& table, MeterRef meter);
// The index of `bucket` among the meter's buckets; NotFound naming C1.
absl::StatusOr<int> ResolveBucket(const MeterTable& table, MeterId meter, absl::string_view bucket);
// C1: a meter or bucket name is 1..kMeterNameMaxBytes of [a-z0-9_]. `what`
// names it in the message ("meter name", "bucket name").
absl::Status ValidateMeterName(absl::string_view name, absl::string_view what);

// ---- Versioned credit state of accounts and workspaces ----

// C2, C8: an account's pool of one meter.
struct Pool {
  MeterId meter = kCredits;
  BucketAmounts buckets{};
  int64_t granted = 0;
  // What workspaces since deleted had consumed (T7): conservation needs it.
  int64_t consumed_by_deleted = 0;
};

// C3-C5: one meter of one workspace. `funded` is everything transferred in
// minus everything revoked; the rest of C8 is in the cell.
struct Funding {
  MeterId meter = kCredits;
  int64_t funded = 0;
  BalanceCell* cell = nullptr;  // live; owned by the workspace (see above)
};

template <class Entries>
auto* FindMeterEntry(Entries& entries, MeterId meter) {
  for (auto& entry : entries) {
    if (entry.meter == meter) return &entry;
  }
  return static_cast<decltype(&entries[0])>(nullptr);
}

// ---- Reservations (C6): a fixed table of slots, claimed lock-free ----

enum class SlotState : uint64_t { kFree = 0, kReserving = 1, kLive = 2 };

// One reservation. `state_gen` = generation << 2 | state; the generation
// grows each time the slot is freed, so ids are never reused. Fields are
// atomics (relaxed) because a writer scanning the table may read a slot a
// reserver is filling; it trusts them only when `state_gen` agrees before
// and after (acquire/release on state_gen orders them).
struct alignas(64) ReservationSlot {
  std::atomic<uint64_t> state_gen{uint64_t{1} << 2};
  std::atomic<uint32_t> next_free{0};  // 1-based index of the next free slot, 0 = none
  std::atomic<WorkspaceId> workspace{0};
  std::atomic<AccountId> account{0};
  std::atomic<MeterId> meter{0};
  std::atomic<BalanceCell*> cell{nullptr};
  std::atomic<int64_t> amount{0};  // written before the reserve announces itself
  std::atomic<int64_t> held_regular{0};
  std::atomic<int64_t> held_extra{0};
  std::atomic<int64_t> expires_at_ns{0};
};

inline constexpr int kReservationIndexBits = 24;
static_assert(limits::kReservationSlotsMax <= (size_t{1} << kReservationIndexBits));

inline uint64_t StateGen(uint64_t gen, SlotState state) {
  return (gen << 2) | static_cast<uint64_t>(state);
}
inline SlotState StateOf(uint64_t state_gen) { return static_cast<SlotState>(state_gen & 3); }
inline uint64_t GenOf(uint64_t state_gen) { return state_gen >> 2; }
inline ReservationId MakeReservationId(uint64_t gen, uint32_t index) {
  return (gen << kReservationIndexBits) | (index + 1);
}

class ReservationTable {
 public:
  explicit ReservationTable(size_t slots);
  ReservationTable(const ReservationTable&) = delete;
  ReservationTable& operator=(const ReservationTable&) = delete;

  size_t size() const { return size_; }
  ReservationSlot& slot(uint32_t index) { return slots_[index]; }

  // Lock-free free list (a Treiber stack with an ABA tag in the head).
  // Pop returns false when every slot is taken.
  bool Pop(uint32_t* index);
  void Push(uint32_t index);
  // Rebuilds the free list from the slots' states, in index order: for a
  // table filled directly (a snapshot's live reservations) before any
  // thread can see it. Not thread-safe.
  void RestoreFreeList();

  // The slot an id names, if the id is well formed and in range.
  ReservationSlot* Find(ReservationId id, uint32_t* index, uint64_t* gen);

 private:
  size_t size_;
  std::unique_ptr<ReservationSlot[]> slots_;
  // tag << 32 | (1-based index of the first free slot).
  alignas(64) std::atomic<uint64_t> head_{0};
};

// ---- Idempotency keys (C5): open addressing, claimed lock-free ----

// One remembered key. `words` = {tag, meta}, changed together by a 16-byte
// CAS; meta = generation << 2 | state; the generation grows with every
// claim, so a slot read as (tag, meta) twice with the same meta is one
// consistent entry. The other fields are written by the claimant before it
// publishes kDone with a release store of meta.
enum class KeyState : uint64_t { kEmpty = 0, kPending = 1, kDone = 2, kFree = 3 };

struct alignas(16) KeySlot {
  alignas(16) uint64_t words[2] = {0, 0};
  std::atomic<int64_t> time_ns{0};
  std::atomic<int64_t> amount{0};
  std::atomic<int64_t> result{0};  // >= 0: available after; < 0: -(status code)
};

class KeyTable {
 public:
  explicit KeyTable(size_t slots);
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  size_t size() const { return mask_ + 1; }
  KeySlot& slot(size_t index) { return slots_[index & mask_]; }

 private:
  size_t mask_;
  std::unique_ptr<KeySlot[]> slots_;
};

// How far a key's probe runs from its home slot, and the most slots a key
// table takes (2^30 slots of 48 bytes: 48 GiB).
inline constexpr size_t kKeyProbeLength = 64;
inline constexpr size_t kMaxKeySlots = limits::kIdempotencySlotsMax;

// The slots a KeyTable for `slots` has: a power of two, at least the probe
// length, at most kMaxKeySlots.
size_t KeyTableSize(size_t slots);

// A slot's meta word: generation << 2 | state.
inline uint64_t Meta(uint64_t gen, KeyState state) {
  return (gen << 2) | static_cast<uint64_t>(state);
}
inline KeyState KeyStateOf(uint64_t meta) { return static_cast<KeyState>(meta & 3); }

// One consistent (tag, meta) of a slot: meta read twice around the tag.
inline void ReadKeySlot(const KeySlot& s, uint64_t* tag, uint64_t* meta) {
  for (;;) {
    // seq_cst: the rescan after a claim relies on it (see ConsumeKeyed).
    const uint64_t m1 = __atomic_load_n(&s.words[1], __ATOMIC_SEQ_CST);
    const uint64_t t = __atomic_load_n(&s.words[0], __ATOMIC_SEQ_CST);
    const uint64_t m2 = __atomic_load_n(&s.words[1], __ATOMIC_SEQ_CST);
    if (m1 == m2) {
      *tag = t;
      *meta = m1;
      return;
    }
  }
}

// Options::idempotency_window_s in nanoseconds, without overflow.
inline int64_t KeyWindowNs(int64_t window_s) {
  return std::min<int64_t>(window_s, INT64_MAX / 1'000'000'000) * 1'000'000'000;
}

// C5: the refusals of a keyed consume that are remembered and replayed (an
// answer about the balance or the workspace); any other refusal is about the
// call and is not remembered.
inline bool RemembersRefusal(absl::StatusCode code) {
  return code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kFailedPrecondition;
}

// C5: a remembered consume's result as its slot keeps it: the balance
// available after it (at most a workspace's whole balance), or minus the code
// of a remembered refusal.
inline int64_t KeyResultOf(const absl::StatusOr<int64_t>& result) {
  return result.ok() ? *result : -static_cast<int64_t>(result.status().code());
}
inline bool ValidKeyResult(int64_t result) {
  if (result >= 0) return result <= limits::kMaxWorkspaceBalance;
  return result >= -static_cast<int64_t>(absl::StatusCode::kUnauthenticated) &&
         RemembersRefusal(static_cast<absl::StatusCode>(-result));
}

// A key is remembered while its first consume runs (pending), and once done
// for the window after it.
inline bool KeyLive(const KeySlot& s, uint64_t meta, int64_t now_ns, int64_t window_ns) {
  if (KeyStateOf(meta) == KeyState::kPending) return true;
  if (KeyStateOf(meta) != KeyState::kDone) return false;
  const int64_t time_ns = s.time_ns.load(std::memory_order_relaxed);
  int64_t age = 0;
  // Times from a file or journal are not trusted to be near now: an age
  // past int64 is either far in the past (expired) or the future (live).
  if (__builtin_sub_overflow(now_ns, time_ns, &age)) return time_ns > now_ns;
  return age < window_ns;
}

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_CREDITS_H_
