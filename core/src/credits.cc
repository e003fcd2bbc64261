// Copyright 2026 The tenantry Authors.
//
// Meters and the two lock-free slot tables of the credit side (credits.h).
#include "credits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tenantry/status.h"

namespace tenantry::internal {

MeterTable MeterTable::Builtin() {
  MeterTable table;
  table.meters.push_back(MeterDef{"credits", {"regular", "extra"}});
  table.meters.push_back(MeterDef{"minutes", {"regular"}});
  assert(table.meters[kCredits].name == "credits" && table.meters[kMinutes].name == "minutes");
  return table;
}

absl::StatusOr<MeterId> ResolveMeter(const MeterTable& table, MeterRef meter) {
  if (!meter.by_name()) {
    if (meter.id() < table.meters.size()) return meter.id();
    return Refusal(absl::StatusCode::kNotFound, {"C1"},
                   absl::StrCat("unknown meter id ", meter.id()));
  }
  for (MeterId id = 0; id < table.meters.size(); ++id) {
    if (table.meters[id].name == meter.name()) return id;
  }
  return Refusal(absl::StatusCode::kNotFound, {"C1"},
                 absl::StrCat("unknown meter '", meter.name().substr(0, 100), "'"));
}

absl::StatusOr<int> ResolveBucket(const MeterTable& table, MeterId meter,
                                  absl::string_view bucket) {
  const MeterDef& def = table.meters[meter];
  for (size_t i = 0; i < def.buckets.size(); ++i) {
    if (def.buckets[i] == bucket) return static_cast<int>(i);
  }
  return Refusal(
      absl::StatusCode::kNotFound, {"C1"},
      absl::StrCat("meter '", def.name, "' has no bucket '", bucket.substr(0, 100), "'"));
}

absl::Status ValidateMeterName(absl::string_view name, absl::string_view what) {
  bool ok = !name.empty() && name.size() <= limits::kMeterNameMaxBytes;
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"C1"},
                   absl::StrCat(what, " '", name.substr(0, 100), "' must be 1 to ",
                                limits::kMeterNameMaxBytes, " characters of [a-z0-9_]"));
  }
  return absl::OkStatus();
}

// ---- ReservationTable ----

ReservationTable::ReservationTable(size_t slots)
    : size_(slots), slots_(std::make_unique<ReservationSlot[]>(slots)) {
  assert(slots > 0 && slots <= limits::kReservationSlotsMax);
  // Every slot starts on the free list, in index order.
  for (size_t i = 0; i + 1 < slots; ++i) {
    slots_[i].next_free.store(static_cast<uint32_t>(i + 2), std::memory_order_relaxed);
  }
  head_.store(1, std::memory_order_release);
}

void ReservationTable::RestoreFreeList() {
  uint32_t next = 0;  // 1-based index of the next free slot; 0 = none
  for (size_t i = size_; i-- > 0;) {
    if (StateOf(slots_[i].state_gen.load(std::memory_order_relaxed)) != SlotState::kFree) continue;
    slots_[i].next_free.store(next, std::memory_order_relaxed);
    next = static_cast<uint32_t>(i + 1);
  }
  head_.store(next, std::memory_order_release);
}

bool ReservationTable::Pop(uint32_t* index) {
  uint64_t head = head_.load(std::memory_order_acquire);
  for (;;) {
    const uint32_t first = static_cast<uint32_t>(head);
    if (first == 0) return false;
    // A stale `next` (the slot was popped and pushed back meanwhile) cannot
    // win: the tag in the head changed with every pop and push.
    const uint32_t next = slots_[first - 1].next_free.load(std::memory_order_relaxed);
    const uint64_t tag = (head >> 32) + 1;
    if (head_.compare_exchange_weak(head, (tag << 32) | next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      *index = first - 1;
      return true;
    }
  }
}

void ReservationTable::Push(uint32_t index) {
  assert(index < size_);
  uint64_t head = head_.load(std::memory_order_relaxed);
  for (;;) {
    slots_[index].next_free.store(static_cast<uint32_t>(head), std::memory_order_relaxed);
    const uint64_t tag = (head >> 32) + 1;
    if (head_.compare_exchange_weak(head, (tag << 32) | (index + 1), std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return;
    }
  }
}

ReservationSlot* ReservationTable::Find(ReservationId id, uint32_t* index, uint64_t* gen) {
  const uint64_t low = id & ((uint64_t{1} << kReservationIndexBits) - 1);
  if (low == 0 || low > size_) return nullptr;
  *index = static_cast<uint32_t>(low - 1);
  *gen = id >> kReservationIndexBits;
  return &slots_[*index];
}

// ---- KeyTable ----

size_t KeyTableSize(size_t slots) {
  slots = std::min(slots, kMaxKeySlots);
  size_t size = kKeyProbeLength;
  while (size < slots) size <<= 1;
  return size;
}

KeyTable::KeyTable(size_t slots) {
  const size_t size = KeyTableSize(slots);
  mask_ = size - 1;
  slots_ = std::make_unique<KeySlot[]>(size);
}

}  // namespace tenantry::internal
