// Copyright 2026 The tenantry Authors.
//
// The one seam into an Engine's private state. `Engine` (tenantry/engine.h)
// names this class as its only friend; the code of this project that is not
// the Engine class itself — the write path (write_path.cc), the journal's
// replay and attach (engine_journal.cc), the credit side, and the snapshot
// code (snapshots/) — reaches the root, the journal flag and Engine::Impl
// through it, and through nothing else. (LevelDB's WriteBatchInternal plays
// the same part for its WriteBatch.)
#ifndef TENANTRY_CORE_SRC_ENGINE_INTERNAL_H_
#define TENANTRY_CORE_SRC_ENGINE_INTERNAL_H_

#include <atomic>

#include "engine_impl.h"
#include "model.h"
#include "tenantry/engine.h"

namespace tenantry::internal {

class EngineInternal {
 public:
  static Engine::Impl& impl(const Engine& engine) { return *engine.impl_; }

  // The newest version behind the one atomic root (X1). Only writers store
  // it, holding write_mu.
  static const Version* newest(const Engine& engine) {
    return engine.root_.load(std::memory_order_seq_cst);
  }
  // Publishes `version` (X1, X2): one seq_cst store. The caller holds
  // write_mu and retires what `version` replaced through the epoch domain.
  static void Publish(Engine& engine, const Version* version) {
    engine.root_.store(version, std::memory_order_seq_cst);
  }
  // Replaces the first, empty version of an engine nobody else can see yet
  // (the snapshot loader), and frees that version.
  static void InstallFirstVersion(Engine& engine, Version* version);

  // P3: set once, before the engine is shared, when it gets a journal.
  static void MarkJournaled(Engine& engine) { engine.journaled_ = true; }
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_ENGINE_INTERNAL_H_
