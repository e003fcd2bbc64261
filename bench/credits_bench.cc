// Copyright 2026 The tenantry Authors.
//
// Credits micro-benchmarks (docs/rules.md §12: `consume`, one thread, <= 25 ns).
// Workspaces are funded once with limits::kMaxWorkspaceBalance (2^42 - 1
// units), more than any run can spend at one unit per call, so no top-up
// runs inside the timed loop; a refused call stops the benchmark with an
// error rather than timing refusals.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tenantry/clock.h"
#include "tenantry/engine.h"

namespace {

using tenantry::Engine;
using tenantry::kCredits;
using tenantry::kSystem;
using tenantry::limits::kMaxWorkspaceBalance;

// An enterprise account with `count` workspaces, each funded to the cap in
// its regular bucket, and a user who is a `member` (credits.consume) of the
// first. The engine's clock is a ManualClock.
struct Funded {
  std::shared_ptr<tenantry::ManualClock> clock = std::make_shared<tenantry::ManualClock>();
  Engine engine;
  tenantry::AccountId account = 0;
  tenantry::UserId member = 0;
  tenantry::PermissionId consume = 0;
  std::vector<tenantry::WorkspaceId> workspaces;

  explicit Funded(int count, Engine::Options options = {})
      : engine(WithClock(std::move(options), clock)) {
    tenantry::UserId owner = *engine.create_user("owner@bench");
    account = *engine.create_account({"Bench", owner, tenantry::Plan::Named("enterprise")});
    for (int i = 0; i < count; ++i) {
      tenantry::WorkspaceSpec spec;
      spec.name = absl::StrCat("Space ", i);
      tenantry::WorkspaceId ws = *engine.create_workspace(kSystem, account, spec);
      workspaces.push_back(ws);
      Check(engine.grant(kSystem, account, kMaxWorkspaceBalance, kCredits, "regular"));
      Check(engine.transfer(kSystem, account, ws, kMaxWorkspaceBalance, kCredits).status());
    }
    member = *engine.create_user("member@bench");
    Check(engine.add_member(kSystem, workspaces[0], member, "member"));
    consume = *engine.permission("credits.consume");
  }

  static Engine::Options WithClock(Engine::Options options,
                                   std::shared_ptr<tenantry::ManualClock> c) {
    options.clock = std::move(c);
    return options;
  }
  static void Check(const absl::Status& status) {
    if (!status.ok()) {
      std::fprintf(stderr, "setup failed: %s\n", status.ToString().c_str());
      std::abort();
    }
  }
};

// Three workspaces: [0] shared by every thread, [1] and [2] one per thread.
Funded& Shared() {
  static Funded* funded = new Funded(3);
  return *funded;
}

template <class T>
bool Refused(benchmark::State& state, const absl::StatusOr<T>& result) {
  if (result.ok()) return false;
  state.SkipWithError(result.status().ToString().c_str());
  return true;
}

// C5: one consume of one unit. With 2 threads both hit the same workspace,
// so both CAS the same 128-bit cell (the contended case).
void BM_Consume(benchmark::State& state) {
  Funded& f = Shared();
  const tenantry::WorkspaceId ws = f.workspaces[0];
  for (auto _ : state) {
    absl::StatusOr<int64_t> after = f.engine.consume(ws, 1);
    if (Refused(state, after)) break;
    benchmark::DoNotOptimize(after);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Consume)->ThreadRange(1, 2)->UseRealTime();

// C5: 2 threads, each consuming from its own workspace (no shared cell).
void BM_ConsumePerThreadWorkspace(benchmark::State& state) {
  Funded& f = Shared();
  const tenantry::WorkspaceId ws = f.workspaces[1 + state.thread_index() % 2];
  for (auto _ : state) {
    absl::StatusOr<int64_t> after = f.engine.consume(ws, 1);
    if (Refused(state, after)) break;
    benchmark::DoNotOptimize(after);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ConsumePerThreadWorkspace)->Threads(2)->UseRealTime();

// C5: a keyed consume with a fresh key each call (36-byte UUID-shaped keys).
// The idempotency table holds limits::kIdempotencySlotsDefault (2^18) keys;
// the benchmark cycles through 2^16 keys and then moves the engine's
// ManualClock past the 1 s window, so the keys are forgotten and each call
// is a new consume (an atomic add on the clock, not timed apart).
void BM_ConsumeKeyed(benchmark::State& state) {
  static Funded* keyed = [] {
    Engine::Options options;
    options.idempotency_window_s = 1;
    return new Funded(1, options);
  }();
  static const std::vector<std::string>* keys = [] {
    auto* out = new std::vector<std::string>();
    std::mt19937_64 rng(7);
    for (int i = 0; i < (1 << 16); ++i) {
      const uint64_t a = rng(), b = rng();
      char key[40];
      std::snprintf(key, sizeof key, "%08llx-%04llx-%04llx-%04llx-%012llx",
                    static_cast<unsigned long long>(a >> 32),
                    static_cast<unsigned long long>((a >> 16) & 0xffff),
                    static_cast<unsigned long long>(a & 0xffff),
                    static_cast<unsigned long long>(b >> 48),
                    static_cast<unsigned long long>(b & 0xffffffffffff));
      out->emplace_back(key);
    }
    return out;
  }();
  const tenantry::WorkspaceId ws = keyed->workspaces[0];
  size_t i = 0;
  for (auto _ : state) {
    if (i == keys->size()) {
      keyed->clock->advance_s(2);
      i = 0;
    }
    absl::StatusOr<int64_t> after = keyed->engine.consume(ws, 1, kCredits, (*keys)[i++]);
    if (Refused(state, after)) break;
    benchmark::DoNotOptimize(after);
  }
  // Next run starts on forgotten keys.
  keyed->clock->advance_s(2);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ConsumeKeyed);

// C6: reserve 10 then commit 5 (one pair per iteration; the commit writes a
// ledger entry).
void BM_ReserveCommit(benchmark::State& state) {
  Funded& f = Shared();
  const tenantry::WorkspaceId ws = f.workspaces[0];
  for (auto _ : state) {
    absl::StatusOr<tenantry::ReservationId> id = f.engine.reserve(ws, 10, kCredits, 3600);
    if (Refused(state, id)) break;
    absl::Status committed = f.engine.commit(*id, 5);
    if (!committed.ok()) {
      state.SkipWithError(committed.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ReserveCommit);

// A7: check(member, workspace, credits.consume) and consume 1, one step.
void BM_AuthorizeAndConsume(benchmark::State& state) {
  Funded& f = Shared();
  const tenantry::WorkspaceId ws = f.workspaces[0];
  for (auto _ : state) {
    absl::StatusOr<bool> done = f.engine.authorize_and_consume(f.member, ws, f.consume, 1);
    if (Refused(state, done)) break;
    if (!*done) {
      state.SkipWithError("denied");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AuthorizeAndConsume)->ThreadRange(1, 2)->UseRealTime();

// C3-C6: one balance read (X1: lock-free, one atomic read of the cell).
void BM_Balance(benchmark::State& state) {
  Funded& f = Shared();
  const tenantry::WorkspaceId ws = f.workspaces[0];
  for (auto _ : state) {
    absl::StatusOr<tenantry::Balance> b = f.engine.balance(ws);
    if (Refused(state, b)) break;
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Balance)->ThreadRange(1, 2)->UseRealTime();

// The same, each of 2 threads reading its own workspace: against BM_Balance
// with 2 threads, shows whether readers of one cell slow each other down (a
// 16-byte atomic read done as `lock cmpxchg16b` writes the cache line).
void BM_BalancePerThreadWorkspace(benchmark::State& state) {
  Funded& f = Shared();
  const tenantry::WorkspaceId ws = f.workspaces[1 + state.thread_index() % 2];
  for (auto _ : state) {
    absl::StatusOr<tenantry::Balance> b = f.engine.balance(ws);
    if (Refused(state, b)) break;
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_BalancePerThreadWorkspace)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
