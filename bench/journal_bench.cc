// Copyright 2026 The tenantry Authors.
//
// The journal's costs (P3), each without a journal and with one in each
// durability mode (sync: fdatasync before a call returns, concurrent callers
// sharing one; group: a background flush every 10 ms; none: never flushed,
// the kernel writes back):
//  - BM_Consume: one consume of one unit, 1 and 2 threads (each thread its
//    own funded workspace, so the threads share only the journal), and 4
//    and 8 threads with sync (group commit);
//  - BM_AddMember, BM_CreateUser: one admin change a call (its own
//    transaction, publication and journal record);
//  - BM_ApplyBatch: one `apply` of 10,000 add_member (one record);
//  - BM_RecoverOpen: Engine::Open replaying a journal of 110,303 records
//    (100,000 consumes, 10,000 single admin changes and the set-up);
//  - BM_LoadSnapshot / BM_LoadSnapshotPlusTail: LoadSnapshot of a
//    220,000-membership snapshot alone, and with a 100,000-record journal
//    tail (90,000 consumes, 10,000 add_member) replayed after it;
//    BM_VerifyLoaded: Engine::verify() of that engine, which recovery with a
//    tail runs once more after replaying it.
// Journals live in $TMPDIR (else /tmp), the file system the tests use, and
// are removed when the program ends. Recovery reads the journal from the page
// cache (it was just written): a cold start adds reading it from the disk.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tenantry/engine.h"
#include "tenantry/snapshot.h"

namespace {

using tenantry::Durability;
using tenantry::Engine;
using tenantry::kCredits;
using tenantry::kSystem;
using tenantry::limits::kMaxWorkspaceBalance;

// The benchmarks' argument: no journal, or one in a durability mode.
enum Mode : int64_t { kNoJournal = 0, kSync = 1, kGroup = 2, kNone = 3 };

const char* ModeName(int64_t mode) {
  switch (mode) {
    case kSync:
      return "sync";
    case kGroup:
      return "group";
    case kNone:
      return "none";
    default:
      return "no journal";
  }
}

void Check(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

// Every directory and file made here, removed at exit (main).
std::vector<std::string>& Scratch() {
  static auto* paths = new std::vector<std::string>();
  return *paths;
}

// A new, not yet existing path under $TMPDIR (else /tmp).
std::string ScratchPath(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TMPDIR");
  const std::string path =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tenantry-journal-bench-",
                   ::getpid(), "-", name, "-", counter.fetch_add(1));
  std::filesystem::remove_all(path);
  Scratch().push_back(path);
  return path;
}

Engine::Options OptionsFor(int64_t mode, const std::string& dir) {
  Engine::Options options;
  if (mode == kNoJournal) return options;
  options.journal = dir;
  options.durability = mode == kSync    ? Durability::kSync
                       : mode == kGroup ? Durability::kGroup
                                        : Durability::kNone;
  return options;
}

std::unique_ptr<Engine> OpenOrDie(const Engine::Options& options) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(options);
  Check(engine.status(), "Engine::Open");
  return *std::move(engine);
}

// An engine (journaled per `mode`) with an enterprise account, an agency,
// `spaces` client workspaces of which the first `funded` hold
// kMaxWorkspaceBalance credits (more than any run spends at one unit a
// call), and `users` users, all made through single changes or batches.
struct Bed {
  std::string dir;
  std::unique_ptr<Engine> engine;
  tenantry::AccountId account = 0;
  tenantry::WorkspaceId agency = 0;
  std::vector<tenantry::WorkspaceId> spaces;
  std::vector<tenantry::UserId> users;
  uint64_t records = 0;  // journal records written by the set-up

  Bed(int64_t mode, const std::string& name, int space_count, int funded, int user_count)
      : dir(mode == kNoJournal ? "" : ScratchPath(name)), engine(OpenOrDie(OptionsFor(mode, dir))) {
    const tenantry::UserId owner = *engine->create_user("owner@bench");
    account = *engine->create_account({"Bench", owner, tenantry::Plan::Named("enterprise")});
    agency = *engine->create_workspace(
        kSystem, account, {"Agency", std::nullopt, tenantry::WorkspaceType::kAgency, 0, 0});
    records += 3;
    for (int w = 0; w < space_count; ++w) {
      spaces.push_back(*engine->create_workspace(
          kSystem, account,
          {absl::StrCat("Client ", w), std::nullopt, tenantry::WorkspaceType::kSimple, agency, 0}));
      ++records;
    }
    for (int w = 0; w < funded; ++w) {
      Check(engine->grant(kSystem, account, kMaxWorkspaceBalance, kCredits, "regular"), "grant");
      Check(engine->transfer(kSystem, account, spaces[w], kMaxWorkspaceBalance, kCredits).status(),
            "transfer");
      records += 2;
    }
    if (user_count > 0) {
      tenantry::Batch batch;
      for (int i = 0; i < user_count; ++i) batch.create_user(absl::StrCat("user", i, "@bench"));
      absl::StatusOr<std::vector<uint64_t>> ids = engine->apply(batch);
      Check(ids.status(), "apply(create_user)");
      users.assign(ids->begin(), ids->end());
      ++records;
    }
  }
  ~Bed() {
    engine.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// The bed of the running benchmark: made by its Setup before any of its
// threads starts, dropped by its Teardown after they all stopped.
Bed* bed = nullptr;

void Drop(const benchmark::State&) {
  delete bed;
  bed = nullptr;
}

// ---- 1. consume ----

void MakeConsumeBed(const benchmark::State& state) {
  bed = new Bed(state.range(0), "consume", 2, 2, 0);
}

// C5: one consume of one unit from the thread's workspace (of two: threads
// 0 and 1 never share one). With a journal each is one record (a debit)
// appended under the journal lock, then acknowledged per the durability
// mode.
void BM_Consume(benchmark::State& state) {
  state.SetLabel(ModeName(state.range(0)));
  const tenantry::WorkspaceId ws = bed->spaces[state.thread_index() % 2];
  Engine& engine = *bed->engine;
  for (auto _ : state) {
    absl::StatusOr<int64_t> after = engine.consume(ws, 1);
    if (!after.ok()) {
      state.SkipWithError(after.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(after);
  }
  state.counters["consumes_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Consume)
    ->Setup(MakeConsumeBed)
    ->Teardown(Drop)
    ->DenseRange(kNoJournal, kNone)
    ->ArgName("mode")
    ->ThreadRange(1, 2)
    ->UseRealTime();
// kSync with more callers than CPUs: they wait in fdatasync, and one flush
// covers every record appended while the previous one ran (with two
// callers each flush covers about one record: a caller appends its next
// only after its own flush).
BENCHMARK(BM_Consume)
    ->Setup(MakeConsumeBed)
    ->Teardown(Drop)
    ->Arg(kSync)
    ->ArgName("mode")
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

// ---- 2. single admin changes ----

constexpr int kAdminSpaces = 100;
constexpr int kAdminUsers = 100000;

void MakeAdminBed(const benchmark::State& state) {
  bed = new Bed(state.range(0), "admin", kAdminSpaces, 0, kAdminUsers);
}

// M3: add_member as its own change (a transaction, a publication, an audit
// record and, with a journal, one record). Pairs never repeat within
// kAdminUsers * kAdminSpaces calls.
void BM_AddMember(benchmark::State& state) {
  state.SetLabel(ModeName(state.range(0)));
  Engine& engine = *bed->engine;
  uint64_t i = 0;
  for (auto _ : state) {
    const tenantry::WorkspaceId ws = bed->spaces[(i / kAdminUsers) % kAdminSpaces];
    absl::Status status = engine.add_member(kSystem, ws, bed->users[i % kAdminUsers], "viewer");
    ++i;
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.counters["changes_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AddMember)
    ->Setup(MakeAdminBed)
    ->Teardown(Drop)
    ->DenseRange(kNoJournal, kNone)
    ->ArgName("mode")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void MakeEmptyBed(const benchmark::State& state) {
  bed = new Bed(state.range(0), "users", 0, 0, 0);
}

// M1: create_user as its own change (the key built in the loop: ~20 ns).
void BM_CreateUser(benchmark::State& state) {
  state.SetLabel(ModeName(state.range(0)));
  Engine& engine = *bed->engine;
  uint64_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<tenantry::UserId> user = engine.create_user(absl::StrCat("new", i++, "@bench"));
    if (!user.ok()) {
      state.SkipWithError(user.status().ToString().c_str());
      break;
    }
  }
  state.counters["changes_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CreateUser)
    ->Setup(MakeEmptyBed)
    ->Teardown(Drop)
    ->DenseRange(kNoJournal, kNone)
    ->ArgName("mode")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// ---- 3. a batch ----

constexpr int kBatchMembers = 10000;

void MakeBatchBed(const benchmark::State& state) {
  bed = new Bed(state.range(0), "batch", 0, 0, 0);
}

// X2: one apply of 10,000 add_member: 10,000 new users into a new workspace
// (both made, and the Batch built, with the timer paused, so every timed
// batch does the same work); with a journal the whole batch is one record.
void BM_ApplyBatch(benchmark::State& state) {
  state.SetLabel(ModeName(state.range(0)));
  Engine& engine = *bed->engine;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<tenantry::WorkspaceId> ws =
        engine.create_workspace(kSystem, bed->account,
                                {absl::StrCat("Batch ", round), std::nullopt,
                                 tenantry::WorkspaceType::kSimple, bed->agency, 0});
    Check(ws.status(), "create_workspace");
    tenantry::Batch users;
    for (int i = 0; i < kBatchMembers; ++i) users.create_user(absl::StrCat("b", round, "-", i));
    absl::StatusOr<std::vector<uint64_t>> ids = engine.apply(users);
    Check(ids.status(), "apply(create_user)");
    tenantry::Batch batch;
    for (uint64_t user : *ids) batch.add_member(kSystem, *ws, user, "viewer");
    ++round;
    state.ResumeTiming();
    absl::StatusOr<std::vector<uint64_t>> done = engine.apply(batch);
    if (!done.ok()) {
      state.SkipWithError(done.status().ToString().c_str());
      break;
    }
  }
  state.counters["memberships_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kBatchMembers, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ApplyBatch)
    ->Setup(MakeBatchBed)
    ->Teardown(Drop)
    ->DenseRange(kNoJournal, kNone)
    ->ArgName("mode")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- 4. recovery ----

constexpr int kRecoverConsumes = 100000;
constexpr int kRecoverAdmin = 10000;  // half create_user, half add_member

// A closed journal (written with kNone, to build it fast) and what its
// engine looked like when closed.
struct Closed {
  std::string dir;
  std::string snapshot;  // "" when the journal starts from an empty engine
  uint64_t records = 0;  // records replayed on recovery
  uint64_t revision = 0;
  int64_t consumed = 0;  // of the first funded workspace
  tenantry::WorkspaceId first = 0;
  uint64_t memberships = 0;
};

// 110,303 records from an empty engine: the set-up (3 + 100 workspaces +
// 200 fundings), 5,000 create_user, 5,000 add_member, 100,000 consumes
// spread over the 100 funded workspaces, all single calls.
const Closed& JournalFromEmpty() {
  static const Closed* closed = [] {
    auto* c = new Closed();
    Bed b(kNone, "recover", 100, 100, 0);
    c->records = b.records;
    Engine& e = *b.engine;
    std::vector<tenantry::UserId> users;
    for (int i = 0; i < kRecoverAdmin / 2; ++i) {
      users.push_back(*e.create_user(absl::StrCat("user", i, "@bench")));
    }
    for (int i = 0; i < kRecoverAdmin / 2; ++i) {
      Check(e.add_member(kSystem, b.spaces[i % 100], users[i], "member"), "add_member");
    }
    for (int i = 0; i < kRecoverConsumes; ++i) {
      Check(e.consume(b.spaces[i % 100], 1).status(), "consume");
    }
    c->records += kRecoverAdmin + kRecoverConsumes;
    c->revision = e.revision();
    c->first = b.spaces[0];
    c->consumed = e.balance(c->first)->consumed;
    c->memberships = e.stats().memberships;
    // Close the engine but keep its journal.
    b.engine.reset();
    c->dir = b.dir;
    b.dir.clear();
    return c;
  }();
  return *closed;
}

// Fails the benchmark unless `engine` came back as it was closed.
bool Recovered(benchmark::State& state, const absl::StatusOr<std::unique_ptr<Engine>>& engine,
               const Closed& c) {
  if (!engine.ok()) {
    state.SkipWithError(engine.status().ToString().c_str());
    return false;
  }
  if ((*engine)->revision() != c.revision || (*engine)->balance(c.first)->consumed != c.consumed ||
      (*engine)->stats().memberships != c.memberships) {
    state.SkipWithError("the recovered engine differs from the closed one");
    return false;
  }
  return true;
}

// P3: Engine::Open of a closed journal: scan (CRC of every record) and
// replay every record. Freeing the engine is not timed.
void BM_RecoverOpen(benchmark::State& state) {
  const Closed& c = JournalFromEmpty();
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(OptionsFor(kNone, c.dir));
    state.PauseTiming();
    const bool ok = Recovered(state, engine, c);
    engine = nullptr;
    state.ResumeTiming();
    if (!ok) break;
  }
  state.counters["records"] = static_cast<double>(c.records);
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(c.records * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RecoverOpen)->Unit(benchmark::kMillisecond)->UseRealTime();

constexpr int kSnapWorkspaces = 20000;
constexpr int kSnapMembersPerWorkspace = 10;
constexpr int kTailConsumes = 90000;
constexpr int kTailAdmin = 10000;

// snapshot_bench's engine (20,000 client workspaces, 10 members each:
// 220,000 memberships with the owner's), the first 100 workspaces funded,
// saved (which truncates the journal), then a tail of 100,000 records:
// 10,000 add_member (user i into the workspace after its own) and 90,000
// consumes.
const Closed& SnapshotAndTail() {
  static const Closed* closed = [] {
    auto* c = new Closed();
    Bed b(kNone, "snapshot", 0, 0, kSnapWorkspaces * kSnapMembersPerWorkspace);
    Engine& e = *b.engine;
    tenantry::Batch spaces, members;
    for (int w = 0; w < kSnapWorkspaces; ++w) {
      spaces.create_workspace(kSystem, b.account,
                              {absl::StrCat("Client ", w), std::nullopt,
                               tenantry::WorkspaceType::kSimple, b.agency, 0});
    }
    const std::vector<uint64_t> ws = *e.apply(spaces);
    const char* roles[] = {"viewer", "member", "manager", "client"};
    for (int w = 0; w < kSnapWorkspaces; ++w) {
      for (int k = 0; k < kSnapMembersPerWorkspace; ++k) {
        members.add_member(kSystem, ws[w], b.users[w * kSnapMembersPerWorkspace + k], roles[k % 4]);
      }
    }
    Check(e.apply(members).status(), "apply(add_member)");
    for (int w = 0; w < 100; ++w) {
      Check(e.grant(kSystem, b.account, kMaxWorkspaceBalance, kCredits, "regular"), "grant");
      Check(e.transfer(kSystem, b.account, ws[w], kMaxWorkspaceBalance, kCredits).status(),
            "transfer");
    }
    c->snapshot = ScratchPath("snapshot.tny");
    Check(tenantry::SaveSnapshot(e, c->snapshot), "SaveSnapshot");
    for (int i = 0; i < kTailAdmin; ++i) {
      Check(e.add_member(kSystem, ws[(i / kSnapMembersPerWorkspace + 1) % kSnapWorkspaces],
                         b.users[i], "viewer"),
            "add_member");
    }
    for (int i = 0; i < kTailConsumes; ++i) Check(e.consume(ws[i % 100], 1).status(), "consume");
    c->records = kTailAdmin + kTailConsumes;
    c->revision = e.revision();
    c->first = ws[0];
    c->consumed = e.balance(c->first)->consumed;
    c->memberships = e.stats().memberships;
    b.engine.reset();
    c->dir = b.dir;
    b.dir.clear();
    return c;
  }();
  return *closed;
}

// P2: LoadSnapshot of the snapshot alone (no journal): the baseline the
// tail's replay adds to.
void BM_LoadSnapshot(benchmark::State& state) {
  const Closed& c = SnapshotAndTail();
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = tenantry::LoadSnapshot(c.snapshot);
    if (!engine.ok()) {
      state.SkipWithError(engine.status().ToString().c_str());
      break;
    }
    state.PauseTiming();
    engine = nullptr;
    state.ResumeTiming();
  }
  state.counters["memberships"] = static_cast<double>(c.memberships - kTailAdmin);
}
BENCHMARK(BM_LoadSnapshot)->Unit(benchmark::kMillisecond)->UseRealTime();

// P3: recovery = LoadSnapshot with the journal: the snapshot, then the
// 100,000 records after it replayed.
void BM_LoadSnapshotPlusTail(benchmark::State& state) {
  const Closed& c = SnapshotAndTail();
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        tenantry::LoadSnapshot(c.snapshot, OptionsFor(kNone, c.dir));
    state.PauseTiming();
    const bool ok = Recovered(state, engine, c);
    engine = nullptr;
    state.ResumeTiming();
    if (!ok) break;
  }
  state.counters["tail_records"] = static_cast<double>(c.records);
}
BENCHMARK(BM_LoadSnapshotPlusTail)->Unit(benchmark::kMillisecond)->UseRealTime();

// Engine::verify() on the loaded snapshot alone: recovery with a journal
// runs it once more after the tail (the loader already ran it), so it is
// part of what the tail adds.
void BM_VerifyLoaded(benchmark::State& state) {
  const Closed& c = SnapshotAndTail();
  absl::StatusOr<std::unique_ptr<Engine>> engine = tenantry::LoadSnapshot(c.snapshot);
  Check(engine.status(), "LoadSnapshot");
  for (auto _ : state) {
    absl::Status status = (*engine)->verify();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
}
BENCHMARK(BM_VerifyLoaded)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const std::string& path : Scratch()) std::filesystem::remove_all(path);
  return 0;
}
