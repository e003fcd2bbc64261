// Copyright 2026 The tenantry Authors.
//
// The C ABI's hot calls through the shared library libtenantry.so.1, as a
// service in Go, Rust or C calls them: `tny_check` per call (docs/rules.md §12:
// <= 50 ns) and `tny_check_many` per item. The data (an agency with 10,000
// client workspaces and 100,000 memberships) is built through the C batch
// API, whose load rate is reported too. The full-scale suite (5,000,000
// memberships) is issue 8's.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tenantry/tenantry.h"

namespace {

void Must(tny_status status, const char* what) {
  if (status != TNY_OK) {
    std::fprintf(stderr, "%s: %s: %s\n", what, tny_status_str(status), tny_last_error());
    std::abort();
  }
}

std::vector<uint64_t> Apply(tny_engine* engine, tny_batch* batch) {
  tny_id_list* ids = nullptr;
  Must(tny_apply(engine, batch, &ids), "tny_apply");
  std::vector<uint64_t> out(ids->ids, ids->ids + ids->count);
  tny_free(ids);
  tny_batch_free(batch);
  return out;
}

struct Data {
  static constexpr int kWorkspaces = 10000;
  static constexpr int kUsersPerWorkspace = 10;
  tny_engine* engine = nullptr;
  std::vector<uint64_t> users, workspaces;
  uint32_t view = 0;
  double load_memberships_per_s = 0;

  Data() {
    Must(tny_engine_new(nullptr, &engine), "tny_engine_new");
    uint64_t owner = 0, account = 0, agency = 0;
    Must(tny_create_user(engine, "owner@bench", &owner), "owner");
    tny_plan enterprise = {"enterprise", 0, 0, 0};
    tny_account_spec spec = TNY_ACCOUNT_SPEC_INIT;
    spec.name = "Bench";
    spec.owner = owner;
    spec.plan = &enterprise;
    Must(tny_create_account(engine, &spec, &account), "account");
    tny_workspace_spec ws = TNY_WORKSPACE_SPEC_INIT;
    ws.name = "Agency";
    ws.type = TNY_WORKSPACE_AGENCY;
    Must(tny_create_workspace(engine, TNY_SYSTEM, account, &ws, &agency), "agency");

    tny_batch* batch = nullptr;
    Must(tny_batch_new(&batch), "batch");
    for (int i = 0; i < kWorkspaces * kUsersPerWorkspace; ++i) {
      Must(tny_batch_create_user(batch,
                                 (std::string("user") + std::to_string(i) + "@bench").c_str()),
           "user");
    }
    users = Apply(engine, batch);
    Must(tny_batch_new(&batch), "batch");
    for (int w = 0; w < kWorkspaces; ++w) {
      const std::string name = std::string("Client ") + std::to_string(w);
      tny_workspace_spec client = TNY_WORKSPACE_SPEC_INIT;
      client.name = name.c_str();
      client.parent = agency;
      Must(tny_batch_create_workspace(batch, TNY_SYSTEM, account, &client), "workspace");
    }
    workspaces = Apply(engine, batch);
    Must(tny_batch_new(&batch), "batch");
    const char* roles[] = {"viewer", "member", "manager", "client"};
    for (int w = 0; w < kWorkspaces; ++w) {
      for (int k = 0; k < kUsersPerWorkspace; ++k) {
        Must(tny_batch_add_member(batch, TNY_SYSTEM, workspaces[w],
                                  users[w * kUsersPerWorkspace + k], roles[k % 4]),
             "member");
      }
    }
    const auto start = std::chrono::steady_clock::now();
    Apply(engine, batch);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    load_memberships_per_s = kWorkspaces * kUsersPerWorkspace / seconds;
    Must(tny_permission(engine, "contacts.view", &view), "permission");
  }
};

Data& Shared() {
  static Data* data = new Data();
  return *data;
}

// Random (user, workspace) pairs over the whole data set, a quarter of them
// members of the workspace they ask about.
struct Queries {
  std::vector<uint64_t> users, workspaces;
  std::vector<uint32_t> permissions;
  Queries(const Data& d, size_t n, uint64_t seed) : users(n), workspaces(n), permissions(n) {
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < n; ++i) {
      const size_t w = rng() % d.workspaces.size();
      workspaces[i] = d.workspaces[w];
      users[i] = rng() % 4 == 0 ? d.users[w * Data::kUsersPerWorkspace + rng() % 10]
                                : d.users[rng() % d.users.size()];
      permissions[i] = d.view;
    }
  }
};

void BM_TnyCheckWarm(benchmark::State& state) {
  Data& d = Shared();
  const uint64_t user = d.users[0], workspace = d.workspaces[0];
  for (auto _ : state) benchmark::DoNotOptimize(tny_check(d.engine, user, workspace, d.view));
  state.counters["load_memberships_per_s"] =
      benchmark::Counter(d.load_memberships_per_s, benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_TnyCheckWarm)->ThreadRange(1, 2)->UseRealTime();

// Over a set of 4096 queries (cache-resident after the first pass) and of
// 65536 (the whole data set's nodes, mostly out of cache), as check_many's.
void BM_TnyCheckRandom(benchmark::State& state) {
  Data& d = Shared();
  const size_t n = static_cast<size_t>(state.range(0));
  Queries q(d, n, 7);
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ & (n - 1);
    benchmark::DoNotOptimize(tny_check(d.engine, q.users[k], q.workspaces[k], d.view));
  }
}
BENCHMARK(BM_TnyCheckRandom)->Arg(4096)->Arg(65536)->ThreadRange(1, 2)->UseRealTime();

// Per item: items_per_second's inverse is the cost of one check in the batch.
void BM_TnyCheckMany(benchmark::State& state) {
  Data& d = Shared();
  const size_t n = static_cast<size_t>(state.range(0));
  Queries q(d, n, 7);
  std::vector<uint8_t> out(n);
  for (auto _ : state) {
    Must(tny_check_many(d.engine, q.users.data(), q.workspaces.data(), q.permissions.data(), n,
                        out.data()),
         "tny_check_many");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_TnyCheckMany)->Arg(64)->Arg(4096)->Arg(65536);

void BM_TnyConsume(benchmark::State& state) {
  Data& d = Shared();
  uint64_t owner = 0;
  Must(tny_user(d.engine, "owner@bench", &owner), "owner");
  tny_workspace_info* info = nullptr;
  Must(tny_workspace(d.engine, d.workspaces[1], &info), "workspace");
  const uint64_t account = info->account;
  tny_free(info);
  // Top up once per run (repetitions call this again), under the cap (C1).
  const int64_t amount = int64_t{1} << 40;
  tny_balance_info balance;
  Must(tny_balance(d.engine, d.workspaces[1], TNY_METER_CREDITS, &balance), "balance");
  if (balance.buckets[0] + balance.buckets[1] < amount) {
    Must(tny_grant(d.engine, TNY_SYSTEM, account, amount, TNY_METER_CREDITS, nullptr), "grant");
    Must(
        tny_transfer(d.engine, owner, account, d.workspaces[1], amount, TNY_METER_CREDITS, nullptr),
        "transfer");
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(tny_consume(d.engine, d.workspaces[1], 1, TNY_METER_CREDITS, nullptr));
  }
}
BENCHMARK(BM_TnyConsume);

}  // namespace

BENCHMARK_MAIN();
