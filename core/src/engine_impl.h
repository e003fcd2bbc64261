// Copyright 2026 The tenantry Authors.
//
// Engine::Impl: what the engine keeps besides its root: the clock, the writer
// lock and the change feed.
#ifndef TENANTRY_CORE_SRC_ENGINE_IMPL_H_
#define TENANTRY_CORE_SRC_ENGINE_IMPL_H_

#include <array>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "mutex.h"
#include "tenantry/engine.h"

namespace tenantry {

class Engine::Impl {
 public:
  explicit Impl(Options opts) : options(std::move(opts)) {}

  Options options;
  std::shared_ptr<const Clock> clock;
  // I1: the key of the invitation token hashes, random per engine.
  std::array<uint8_t, 32> token_key{};

  // X3: writers are serialized; the version they build is published with
  // one atomic store. Readers never take it.
  internal::Mutex write_mu;

  // L1: the retained tail of the audit trail, oldest first. Readers of the
  // feed take feed_mu briefly; check and the lists never do.
  mutable internal::Mutex feed_mu;
  std::deque<AuditRecord> feed ABSL_GUARDED_BY(feed_mu);
  // The highest revision that left the feed (0 = none yet).
  uint64_t feed_dropped_through ABSL_GUARDED_BY(feed_mu) = 0;
};

}  // namespace tenantry

#endif  // TENANTRY_CORE_SRC_ENGINE_IMPL_H_
