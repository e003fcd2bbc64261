// Copyright 2026 The tenantry Authors.
//
// Snapshot save and load throughput (docs/rules.md §12: >= 5,000,000
// memberships/s each) and file size per membership, on an agency-shaped
// engine built through the batch API: 20,000 client workspaces, 10 members
// each (200,000 memberships). The full-scale run (5,000,000) is issue 8's.
// Save includes encoding, the checksum, write, fsync and rename; load
// includes reading, the Verifier, the checksum, rebuilding every index and
// verify().
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tenantry/engine.h"
#include "tenantry/snapshot.h"

namespace {

using tenantry::Engine;
using tenantry::kSystem;

constexpr int kWorkspaces = 20000;
constexpr int kMembersPerWorkspace = 10;

// A file in $TMPDIR (else /tmp); Data removes it when the program ends.
std::string ScratchFile() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tenantry-bench-" +
         std::to_string(::getpid()) + ".tny";
}

struct Data {
  Engine engine;
  uint64_t memberships = 0;
  std::string path = ScratchFile();

  Data() {
    tenantry::UserId owner = *engine.create_user("owner@bench");
    tenantry::AccountId account =
        *engine.create_account({"Bench", owner, tenantry::Plan::Named("enterprise")});
    tenantry::WorkspaceId agency = *engine.create_workspace(
        kSystem, account, {"Agency", std::nullopt, tenantry::WorkspaceType::kAgency, 0, 0});
    tenantry::Batch users, spaces, members;
    for (int i = 0; i < kWorkspaces * kMembersPerWorkspace; ++i) {
      users.create_user(absl::StrCat("user", i, "@bench"));
    }
    std::vector<uint64_t> user_ids = *engine.apply(users);
    for (int w = 0; w < kWorkspaces; ++w) {
      spaces.create_workspace(
          kSystem, account,
          {absl::StrCat("Client ", w), std::nullopt, tenantry::WorkspaceType::kSimple, agency, 0});
    }
    std::vector<uint64_t> ws = *engine.apply(spaces);
    const char* roles[] = {"viewer", "member", "manager", "client"};
    for (int w = 0; w < kWorkspaces; ++w) {
      for (int k = 0; k < kMembersPerWorkspace; ++k) {
        members.add_member(kSystem, ws[w], user_ids[w * kMembersPerWorkspace + k], roles[k % 4]);
      }
    }
    (void)*engine.apply(members);
    memberships = engine.stats().memberships;
  }
  ~Data() { std::remove(path.c_str()); }
};

Data& Shared() {
  static Data data;  // destroyed at exit, which removes the file
  return data;
}

void BM_Save(benchmark::State& state) {
  Data& d = Shared();
  for (auto _ : state) {
    absl::Status status = tenantry::SaveSnapshot(d.engine, d.path);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  state.counters["memberships_per_s"] = benchmark::Counter(
      static_cast<double>(d.memberships * state.iterations()), benchmark::Counter::kIsRate);
  tenantry::SnapshotInfo info = *tenantry::InspectSnapshot(d.path);
  state.counters["bytes_per_membership"] =
      static_cast<double>(info.file_bytes) / static_cast<double>(d.memberships);
  state.counters["memberships"] = static_cast<double>(d.memberships);
}
BENCHMARK(BM_Save)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Load(benchmark::State& state) {
  Data& d = Shared();
  if (!tenantry::SaveSnapshot(d.engine, d.path).ok()) state.SkipWithError("save failed");
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Engine>> loaded = tenantry::LoadSnapshot(d.path);
    if (!loaded.ok()) state.SkipWithError(std::string(loaded.status().message()).c_str());
    benchmark::DoNotOptimize(loaded);
    // Freeing the loaded engine is not part of loading.
    state.PauseTiming();
    if (loaded.ok()) loaded->reset();
    state.ResumeTiming();
  }
  state.counters["memberships_per_s"] = benchmark::Counter(
      static_cast<double>(d.memberships * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
