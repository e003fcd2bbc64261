// Copyright 2026 The tenantry Authors.
//
// check() micro-benchmarks on a small seed-shaped engine. The full-scale
// suite (docs/rules.md section 12 at 100,000 workspaces) lives beside it.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tenantry/engine.h"

namespace {

using tenantry::Engine;
using tenantry::kSystem;

struct Scenario {
  Engine engine;
  std::vector<tenantry::UserId> users;
  std::vector<tenantry::WorkspaceId> workspaces;
  tenantry::PermissionId view = 0;

  Scenario(int workspace_count, int users_per_workspace) {
    tenantry::UserId owner = *engine.create_user("owner@bench");
    tenantry::AccountSpec spec{"Bench", owner, tenantry::Plan::Named("enterprise")};
    tenantry::AccountId account = *engine.create_account(spec);
    tenantry::WorkspaceId agency = *engine.create_workspace(
        kSystem, account, {"Agency", std::nullopt, tenantry::WorkspaceType::kAgency, 0, 0});
    tenantry::Batch batch;
    for (int i = 0; i < workspace_count * users_per_workspace; ++i) {
      batch.create_user(absl::StrCat("user", i, "@bench"));
    }
    std::vector<uint64_t> ids = *engine.apply(batch);
    users.assign(ids.begin(), ids.end());
    tenantry::Batch spaces;
    for (int w = 0; w < workspace_count; ++w) {
      spaces.create_workspace(
          kSystem, account,
          {absl::StrCat("Client ", w), std::nullopt, tenantry::WorkspaceType::kSimple, agency, 0});
    }
    std::vector<uint64_t> ws = *engine.apply(spaces);
    workspaces.assign(ws.begin(), ws.end());
    tenantry::Batch members;
    const char* roles[] = {"viewer", "member", "manager", "client"};
    for (int w = 0; w < workspace_count; ++w) {
      for (int k = 0; k < users_per_workspace; ++k) {
        members.add_member(kSystem, workspaces[w], users[w * users_per_workspace + k],
                           roles[k % 4]);
      }
    }
    (void)*engine.apply(members);
    view = *engine.permission("contacts.view");
  }
};

Scenario& Small() {
  static auto* scenario = new Scenario(100, 10);
  return *scenario;
}

void BM_CheckWarm(benchmark::State& state) {
  Scenario& s = Small();
  tenantry::UserId user = s.users[0];
  tenantry::WorkspaceId workspace = s.workspaces[0];
  for (auto _ : state) benchmark::DoNotOptimize(s.engine.check(user, workspace, s.view));
}
BENCHMARK(BM_CheckWarm)->ThreadRange(1, 2)->UseRealTime();

void BM_CheckRandom(benchmark::State& state) {
  Scenario& s = Small();
  std::mt19937_64 rng(42 + state.thread_index());
  std::vector<std::pair<uint64_t, uint64_t>> queries(4096);
  for (auto& q : queries) {
    q = {s.users[rng() % s.users.size()], s.workspaces[rng() % s.workspaces.size()]};
  }
  size_t i = 0;
  for (auto _ : state) {
    const auto& q = queries[i++ & 4095];
    benchmark::DoNotOptimize(s.engine.check(q.first, q.second, s.view));
  }
}
BENCHMARK(BM_CheckRandom)->ThreadRange(1, 2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
