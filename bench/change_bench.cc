// Copyright 2026 The tenantry Authors.
//
// Write-side benchmarks: a single change costs in proportion to what it
// touches, not to the size of the graph (path copying), and batches publish
// once. The graph sizes are arguments so the flat cost shows across them.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tenantry/engine.h"

namespace {

using tenantry::Batch;
using tenantry::Engine;
using tenantry::kSystem;

// `workspaces` client workspaces under one agency and `users` users, each a
// viewer of one workspace, built through the batch API.
struct Graph {
  Engine engine;
  tenantry::AccountId account = 0;
  std::vector<tenantry::UserId> users;
  std::vector<tenantry::WorkspaceId> workspaces;
  size_t next_user = 0;

  Graph(int workspace_count, int user_count) {
    tenantry::UserId owner = *engine.create_user("owner@bench");
    account = *engine.create_account({"Bench", owner, tenantry::Plan::Named("enterprise")});
    tenantry::WorkspaceId agency = *engine.create_workspace(
        kSystem, account, {"Agency", std::nullopt, tenantry::WorkspaceType::kAgency});
    Batch spaces;
    for (int w = 0; w < workspace_count; ++w) {
      spaces.create_workspace(
          kSystem, account,
          {absl::StrCat("Client ", w), std::nullopt, tenantry::WorkspaceType::kSimple, agency});
    }
    std::vector<uint64_t> space_ids = *engine.apply(spaces);
    workspaces.assign(space_ids.begin(), space_ids.end());
    Batch people;
    for (int u = 0; u < user_count; ++u) people.create_user(absl::StrCat("u", u, "@bench"));
    std::vector<uint64_t> user_ids = *engine.apply(people);
    users.assign(user_ids.begin(), user_ids.end());
    Batch members;
    for (size_t u = 0; u < users.size(); ++u) {
      members.add_member(kSystem, workspaces[u % workspaces.size()], users[u], "viewer");
    }
    (void)*engine.apply(members);
  }
};

// One add_member per call (its own transaction and publication), on graphs
// of growing size: the cost stays flat because only the touched path is
// copied. Users cycle through workspaces they are not yet in.
void BM_AddMemberSingle(benchmark::State& state) {
  const int workspaces = static_cast<int>(state.range(0));
  Graph g(workspaces, workspaces * 10);
  size_t i = 0;
  for (auto _ : state) {
    const size_t u = i % g.users.size();
    const size_t w = (u + 1 + i / g.users.size()) % g.workspaces.size();
    benchmark::DoNotOptimize(g.engine.add_member(kSystem, g.workspaces[w], g.users[u], "member"));
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["memberships"] = static_cast<double>(g.engine.stats().memberships);
}
BENCHMARK(BM_AddMemberSingle)->Arg(100)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The same while a reader thread checks continuously (docs/rules.md §12: "while readers
// run unslowed"); the reader's check rate is reported too.
void BM_AddMemberWithReader(benchmark::State& state) {
  Graph g(10000, 100000);
  const tenantry::PermissionId view = *g.engine.permission("contacts.view");
  std::atomic<bool> done{false};
  std::atomic<uint64_t> checks{0};
  std::thread reader([&] {
    uint64_t n = 0, k = 0;
    while (!done.load(std::memory_order_relaxed)) {
      benchmark::DoNotOptimize(
          g.engine.check(g.users[k % g.users.size()], g.workspaces[k % g.workspaces.size()], view));
      ++k;
      ++n;
    }
    checks.store(n);
  });
  size_t i = 0;
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const size_t u = i % g.users.size();
    const size_t w = (u + 1 + i / g.users.size()) % g.workspaces.size();
    benchmark::DoNotOptimize(g.engine.add_member(kSystem, g.workspaces[w], g.users[u], "member"));
    ++i;
  }
  done.store(true);
  reader.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["reader_checks_per_s"] = static_cast<double>(checks.load()) / seconds;
}
BENCHMARK(BM_AddMemberWithReader)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Memberships added per second through one batch of `range(0)` add_member
// changes (one transaction, one publication).
void BM_AddMemberBatch(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  Graph g(1000, batch_size);
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Batch batch;
    for (int k = 0; k < batch_size; ++k) {
      const size_t w = (k + 1 + round) % g.workspaces.size();
      batch.add_member(kSystem, g.workspaces[w], g.users[k], "member");
    }
    ++round;
    state.ResumeTiming();
    auto result = g.engine.apply(batch);
    if (!result.ok()) state.SkipWithError(std::string(result.status().message()).c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch_size);
}
BENCHMARK(BM_AddMemberBatch)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(5);

// Heap bytes per membership, all indexes included (the user's grant array,
// the workspace's member B+tree, the tries above them), measured with
// glibc's mallinfo2 around adding `range(0)` memberships to an existing graph:
// 5 per user, as in docs/rules.md section 12's shape (5,000,000 for 1,000,000 users).
void BM_MemoryPerMembership(benchmark::State& state) {
  const int memberships = static_cast<int>(state.range(0));
  const int per_user = 5;
  Graph g(memberships / 50, memberships / per_user);
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    const size_t before = mallinfo2().uordblks;
    Batch batch;
    // Each user joins `per_user` workspaces other than the one it is in.
    for (size_t u = 0; u < g.users.size(); ++u) {
      for (int k = 1; k <= per_user; ++k) {
        batch.add_member(kSystem, g.workspaces[(u + k) % g.workspaces.size()], g.users[u],
                         "member");
      }
    }
    state.ResumeTiming();
    auto result = g.engine.apply(batch);
    state.PauseTiming();
    if (!result.ok()) state.SkipWithError(std::string(result.status().message()).c_str());
    batch = Batch();  // the batch's own closures are not engine memory
    malloc_trim(0);
    const size_t after = mallinfo2().uordblks;
    state.counters["bytes_per_membership"] =
        static_cast<double>(after - before) / static_cast<double>(g.users.size() * per_user);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MemoryPerMembership)->Arg(500000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
