// Copyright 2026 The tenantry Authors.
//
// Time comes from a replaceable clock (I4). The engine never reads the
// wall clock except through `SystemClock`.
#ifndef TENANTRY_CLOCK_H_
#define TENANTRY_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "tenantry/export.h"

namespace tenantry {

// Thread-safe: `now_ns` may be called from any thread at once.
class TENANTRY_API Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual int64_t now_ns() const = 0;
};

// The real clock (CLOCK_REALTIME).
class TENANTRY_API SystemClock final : public Clock {
 public:
  int64_t now_ns() const override;
};

// A clock that moves only when told to; for tests and simulations.
class TENANTRY_API ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 1'700'000'000'000'000'000) : now_ns_(start_ns) {}
  int64_t now_ns() const override { return now_ns_.load(std::memory_order_acquire); }
  void set_ns(int64_t now_ns) { now_ns_.store(now_ns, std::memory_order_release); }
  void advance_ns(int64_t delta_ns) { now_ns_.fetch_add(delta_ns, std::memory_order_acq_rel); }
  void advance_s(int64_t delta_s) { advance_ns(delta_s * 1'000'000'000); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace tenantry

#endif  // TENANTRY_CLOCK_H_
