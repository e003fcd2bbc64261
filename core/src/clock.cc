// Copyright 2026 The tenantry Authors.
//
// The one place that reads the wall clock (I4), and the plan table (T2).
#include "tenantry/clock.h"

#include <time.h>

#include "tenantry/types.h"

namespace tenantry {

int64_t SystemClock::now_ns() const {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

Plan Plan::Named(const std::string& name) {
  if (name == "starter") return Plan{name, 1, false};
  if (name == "growth") return Plan{name, 5, false};
  if (name == "scale") return Plan{name, 25, false};
  if (name == "enterprise") return Plan{name, kUnlimited, true};
  // T2: an unknown plan gets the most restrictive limit.
  return Plan{name, 1, false};
}

Plan Plan::Custom(std::string name, int64_t workspace_limit, bool agency) {
  return Plan{std::move(name), workspace_limit, agency};
}

}  // namespace tenantry
