// Copyright 2026 The tenantry Authors.
//
// fork() while other threads use engines (docs/concurrency.md, "fork").
//
// Only the forking thread exists in the child. A lock another thread held at
// the fork would stay held there forever, and the state it guards would be
// half-changed. So every live engine is in a process-wide registry, and
// pthread_atfork handlers take every engine's locks before the fork, in the
// engine's lock order (save_mu, apply_mu, write_mu, journal_mu, then
// ledger_mu and feed_mu), and release them on both sides: a fork waits for the change,
// journaled consume or save in progress to end, and the child starts with
// every lock free and no change half-applied. Readers take no lock and are
// not waited for.
//
// A journaled engine's files, flock and mapping are the parent's: in the
// child its journal refuses every change (Journal::MarkForked), while
// reads go on.
//
// Handler order: prepare handlers run in the reverse order of their
// registration, and a writer takes the epoch domain's garbage mutex while
// holding write_mu, so these handlers are registered after the domain's
// (epoch.cc), so that they take the engine locks before it takes its own.
#include <pthread.h>

#include <cstdlib>
#include <set>

#include "absl/base/thread_annotations.h"
#include "engine_impl.h"
#include "epoch.h"
#include "journal.h"
#include "mutex.h"

namespace tenantry::internal {
namespace {

struct Registry {
  Mutex mu;
  // Ordered by address, so that several engines' locks are always taken in
  // the same order.
  std::set<Engine::Impl*> engines ABSL_GUARDED_BY(mu);
};

void Prepare();
void Parent();
void Child();

// Created on first use and never destroyed (an engine may outlive static
// destruction).
Registry& GetRegistry() {
  static Registry* const registry = [] {
    // Registers the epoch domain's fork handlers first (see the top).
    (void)Epochs::Pending();
    auto* r = new Registry;
    if (pthread_atfork(&Prepare, &Parent, &Child) != 0) std::abort();
    return r;
  }();
  return *registry;
}

// The engine's locks in its lock order (engine_impl.h).
void LockEngine(Engine::Impl& impl) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  impl.save_mu.Lock();
  impl.apply_mu.Lock();
  impl.write_mu.Lock();
  impl.journal_mu.Lock();
  impl.ledger_mu.Lock();
  impl.feed_mu.Lock();
  if (impl.replica != nullptr) impl.replica->state_mutex().lock();
}

void UnlockEngine(Engine::Impl& impl) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (impl.replica != nullptr) impl.replica->state_mutex().unlock();
  impl.feed_mu.Unlock();
  impl.ledger_mu.Unlock();
  impl.journal_mu.Unlock();
  impl.write_mu.Unlock();
  impl.apply_mu.Unlock();
  impl.save_mu.Unlock();
}

// The registry lock is held from Prepare to Parent or Child: no engine is
// added or removed across the fork. The analysis cannot follow a lock held
// between two functions.
void Prepare() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Registry& registry = GetRegistry();
  registry.mu.Lock();
  for (Engine::Impl* impl : registry.engines) LockEngine(*impl);
}

void Parent() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Registry& registry = GetRegistry();
  for (auto it = registry.engines.rbegin(); it != registry.engines.rend(); ++it) {
    UnlockEngine(**it);
  }
  registry.mu.Unlock();
}

void Child() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Registry& registry = GetRegistry();
  for (auto it = registry.engines.rbegin(); it != registry.engines.rend(); ++it) {
    Engine::Impl& impl = **it;
    // P3: the journal is the parent's; the child must not write into it.
    if (impl.journal != nullptr) impl.journal->MarkForked();
    // R5: so are a replica's connections and follower thread; the child
    // follows after follow().
    if (impl.replica != nullptr) impl.replica->MarkForked();
    UnlockEngine(impl);
  }
  registry.mu.Unlock();
}

}  // namespace

void RegisterForFork(Engine::Impl* impl) {
  Registry& registry = GetRegistry();
  MutexLock lock(&registry.mu);
  registry.engines.insert(impl);
}

void UnregisterForFork(Engine::Impl* impl) {
  Registry& registry = GetRegistry();
  MutexLock lock(&registry.mu);
  registry.engines.erase(impl);
}

}  // namespace tenantry::internal
