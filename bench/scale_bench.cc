// Copyright 2026 The tenantry Authors.
//
// The full-scale suite: every row of docs/rules.md section 12 at its scale
// (100,000 workspaces, 1,000,000 users, 5,000,000 memberships; see
// scale_data.h for the shape), each beside the SQLite baseline where the
// question makes sense for it (sqlite_baseline.h), in the same run.
//
//   build/bench/bench/scale_bench [--scale=full|small] [--files=DIR]
//                                 [--benchmark_* flags]
//
// Before anything is timed: the data set is built through the batch API
// (its load time reported as Scale/Load), SQLite is loaded with the same
// data, and 200,000 random questions must get the same answer from both;
// the engine is saved, dropped (its heap measured on the way out) and
// loaded back from the snapshot (the loaded engine's heap measured, and
// every question must get the same answer again). The benchmarks then run
// on the loaded engine. --files keeps the snapshot and the questions
// (scale.tny, scale.q: 24-byte records, see WriteQuestions) for
// bench/python_bench.py --snapshot; without it they go to $TMPDIR and are
// removed at exit.
//
// The binary links the shared engine library and the C ABI library, as an
// application using both faces would: `tny_check` is called on the very
// engine the C++ rows use (a tny_engine* is a tenantry::Engine*,
// capi/src/tenantry.cc), so there is one copy of the data.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scale_data.h"
#include "sqlite_baseline.h"
#include "tenantry/engine.h"
#include "tenantry/limits.h"
#include "tenantry/snapshot.h"
#include "tenantry/tenantry.h"

namespace tenantry::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kRandomQuestions = size_t{1} << 20;
constexpr size_t kVerifiedQuestions = 200000;
constexpr size_t kBatchMemberships = 50000;

struct Suite {
  Data data;
  std::unique_ptr<Engine> engine;  // loaded from the snapshot; what the rows use
  std::unique_ptr<Sqlite> sqlite;
  std::vector<Question> random;  // kRandomQuestions, answered
  Question warm{};
  std::string snapshot, questions;
  // What Snapshot/save writes and Snapshot/load reads: not `snapshot`, which
  // keeps the data as built (the Python benchmark loads it).
  std::string bench_snapshot() const { return snapshot + ".bench"; }
  bool keep_files = false;
  WorkspaceId consume_ws = 0;
  // Loading, as measured once.
  double sqlite_load_s = 0, save_s = 0, load_s = 0;
  uint64_t memberships = 0, built_bytes = 0, loaded_bytes = 0, rss_loaded = 0;
  uint64_t snapshot_bytes = 0;
};

Suite* g_suite = nullptr;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "scale_bench: %s\n", what.c_str());
  std::exit(1);
}

void Setup(const Shape& shape, const std::string& files) {
  auto* s = new Suite;
  g_suite = s;
  std::fprintf(stderr, "scale_bench: building %d workspaces, %d users, %lld memberships...\n",
               shape.workspaces, shape.users, static_cast<long long>(shape.memberships));
  s->data = Build(shape);
  const Engine& built = *s->data.engine;
  s->memberships = built.stats().memberships;

  std::fprintf(stderr, "scale_bench: loading SQLite...\n");
  s->sqlite = std::make_unique<Sqlite>(s->data, &s->sqlite_load_s);

  s->random = RandomQuestions(s->data, kRandomQuestions, 7);
  s->warm = WarmQuestion(s->data);
  Answer(built, s->random);
  std::vector<Question> all = {s->warm};
  all.insert(all.end(), s->random.begin(), s->random.end());
  size_t allowed = 0;
  for (size_t i = 0; i < all.size() && i <= kVerifiedQuestions; ++i) {
    const Question& q = all[i];
    const bool sql = s->sqlite->Check(q.user, q.workspace, q.permission);
    if (sql != (q.answer != 0)) {
      Fail(absl::StrCat("SQLite and tenantry disagree on check(", q.user, ", ", q.workspace, ", ",
                        *built.permission_name(q.permission), "): tenantry ", q.answer, ", SQLite ",
                        sql ? 1 : 0, "; refusing to report"));
    }
    allowed += q.answer;
  }
  std::fprintf(stderr, "scale_bench: %zu questions, same answers from SQLite (%.1f%% allowed)\n",
               std::min(all.size(), kVerifiedQuestions + 1),
               100.0 * static_cast<double>(allowed) /
                   static_cast<double>(std::min(all.size(), kVerifiedQuestions + 1)));

  const std::string dir = !files.empty() ? files : [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  }();
  s->keep_files = !files.empty();
  const std::string stem =
      s->keep_files ? dir + "/scale" : dir + absl::StrCat("/tenantry-scale-", ::getpid());
  s->snapshot = stem + ".tny";
  s->questions = stem + ".q";
  WriteQuestions(s->questions, all);

  // Save, drop the built engine (its heap, measured as it goes), load.
  auto start = Clock::now();
  if (absl::Status st = SaveSnapshot(built, s->snapshot); !st.ok()) Fail(st.ToString());
  s->save_s = Since(start);
  s->snapshot_bytes = InspectSnapshot(s->snapshot)->file_bytes;
  // The description's big tables are not needed any more.
  std::vector<MembershipRow>().swap(s->data.memberships);
  const uint64_t before_drop = HeapInUse();
  s->data.engine.reset();
  const uint64_t after_drop = HeapInUse();
  s->built_bytes = before_drop - after_drop;
  start = Clock::now();
  absl::StatusOr<std::unique_ptr<Engine>> loaded = LoadSnapshot(s->snapshot);
  s->load_s = Since(start);
  if (!loaded.ok()) Fail(loaded.status().ToString());
  s->engine = *std::move(loaded);
  s->loaded_bytes = HeapInUse() - after_drop;
  s->rss_loaded = Rss();
  for (const Question& q : all) {
    if (s->engine->check(q.user, q.workspace, q.permission) != (q.answer != 0)) {
      Fail("the loaded engine answers a question differently from the built one");
    }
  }
  // The consume row's workspace: a huge balance on the warm question's.
  s->consume_ws = s->warm.workspace;
  const AccountId account = s->engine->workspace(s->consume_ws)->account;
  if (!s->engine->grant(kSystem, account, limits::kMaxWorkspaceBalance).ok() ||
      !s->engine->transfer(kSystem, account, s->consume_ws, limits::kMaxWorkspaceBalance).ok()) {
    Fail("cannot fund the consume workspace");
  }
}

// --load=DIR: the engine and questions of an earlier --files=DIR run, for
// profiling the read rows without building (no SQLite, no change rows).
void SetupLoaded(const std::string& dir) {
  auto* s = new Suite;
  g_suite = s;
  s->snapshot = dir + "/scale.tny";
  s->questions = dir + "/scale.q";
  s->keep_files = true;
  auto start = Clock::now();
  absl::StatusOr<std::unique_ptr<Engine>> loaded = LoadSnapshot(s->snapshot);
  s->load_s = Since(start);
  if (!loaded.ok()) Fail(loaded.status().ToString());
  s->engine = *std::move(loaded);
  s->memberships = s->engine->stats().memberships;
  std::vector<Question> all(kRandomQuestions + 1);
  FILE* f = std::fopen(s->questions.c_str(), "rb");
  if (f == nullptr || std::fread(all.data(), sizeof(Question), all.size(), f) != all.size()) {
    Fail("cannot read " + s->questions);
  }
  std::fclose(f);
  s->warm = all[0];
  s->random.assign(all.begin() + 1, all.end());
  s->consume_ws = s->warm.workspace;
  const AccountId account = s->engine->workspace(s->consume_ws)->account;
  (void)s->engine->grant(kSystem, account, limits::kMaxWorkspaceBalance);
  (void)s->engine->transfer(kSystem, account, s->consume_ws, limits::kMaxWorkspaceBalance);
}

void Teardown() {
  if (g_suite == nullptr) return;
  std::remove(g_suite->bench_snapshot().c_str());
  if (!g_suite->keep_files) {
    std::remove(g_suite->snapshot.c_str());
    std::remove(g_suite->questions.c_str());
  }
}

// ---- Loading (measured once in Setup; reported here) ----

void BM_Load(benchmark::State& state) {
  const Suite& s = *g_suite;
  const Data& d = s.data;
  const double apply_s = d.users_s + d.workspaces_s + d.memberships_s;
  for (auto _ : state) state.SetIterationTime(apply_s);
  state.counters["memberships"] = static_cast<double>(s.memberships);
  state.counters["workspaces"] = static_cast<double>(d.workspaces.size());
  state.counters["users"] = static_cast<double>(d.users.size());
  state.counters["changes"] = static_cast<double>(d.changes);
  state.counters["apply_s"] = apply_s;
  state.counters["users_s"] = d.users_s;
  state.counters["workspaces_s"] = d.workspaces_s;
  state.counters["memberships_s"] = d.memberships_s;
  state.counters["describe_s"] = d.describe_s;
  state.counters["changes_per_s"] = static_cast<double>(d.changes) / apply_s;
  state.counters["memberships_per_s"] = static_cast<double>(s.memberships) / d.memberships_s;
  state.counters["sqlite_load_s"] = s.sqlite_load_s;
  state.counters["built_bytes_per_membership"] =
      static_cast<double>(s.built_bytes) / static_cast<double>(s.memberships);
  state.counters["loaded_bytes_per_membership"] =
      static_cast<double>(s.loaded_bytes) / static_cast<double>(s.memberships);
  state.counters["marginal_bytes_per_membership"] =
      static_cast<double>(d.membership_heap_bytes) / static_cast<double>(d.memberships_added);
  state.counters["rss_bytes"] = static_cast<double>(s.rss_loaded);
  state.counters["snapshot_bytes"] = static_cast<double>(s.snapshot_bytes);
  state.counters["first_save_s"] = s.save_s;
  state.counters["first_load_s"] = s.load_s;
}
BENCHMARK(BM_Load)
    ->Name("Scale/Load")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(1)
    ->Unit(benchmark::kSecond);

// ---- Checks ----

void BM_CheckWarm(benchmark::State& state) {
  const Engine& engine = *g_suite->engine;
  const Question q = g_suite->warm;
  for (auto _ : state) benchmark::DoNotOptimize(engine.check(q.user, q.workspace, q.permission));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CheckWarm)->Name("Check/Warm")->ThreadRange(1, 2)->UseRealTime();

void BM_CheckRandom(benchmark::State& state) {
  const Engine& engine = *g_suite->engine;
  const std::vector<Question>& qs = g_suite->random;
  size_t i = static_cast<size_t>(state.thread_index()) * (kRandomQuestions / 2);
  for (auto _ : state) {
    const Question& q = qs[i++ & (kRandomQuestions - 1)];
    benchmark::DoNotOptimize(engine.check(q.user, q.workspace, q.permission));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CheckRandom)->Name("Check/Random")->ThreadRange(1, 2)->UseRealTime();

void BM_CheckMany(benchmark::State& state) {
  const Engine& engine = *g_suite->engine;
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<UserId> users(n);
  std::vector<WorkspaceId> spaces(n);
  std::vector<PermissionId> perms(n);
  std::vector<uint8_t> out(n);
  size_t offset = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t k = 0; k < n; ++k) {
      const Question& q = g_suite->random[(offset + k) & (kRandomQuestions - 1)];
      users[k] = q.user;
      spaces[k] = q.workspace;
      perms[k] = q.permission;
    }
    offset += n;
    state.ResumeTiming();
    if (!engine.check_many(users, spaces, perms, absl::MakeSpan(out)).ok()) {
      state.SkipWithError("check_many failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_CheckMany)->Name("CheckMany/Random")->Arg(1000)->Arg(100000);

// ---- C ABI ----

const tny_engine* Handle() { return reinterpret_cast<const tny_engine*>(g_suite->engine.get()); }

void BM_TnyCheckWarm(benchmark::State& state) {
  const tny_engine* engine = Handle();
  const Question q = g_suite->warm;
  for (auto _ : state)
    benchmark::DoNotOptimize(tny_check(engine, q.user, q.workspace, q.permission));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TnyCheckWarm)->Name("CAbi/tny_check/Warm")->ThreadRange(1, 2)->UseRealTime();

void BM_TnyCheckRandom(benchmark::State& state) {
  const tny_engine* engine = Handle();
  const std::vector<Question>& qs = g_suite->random;
  size_t i = static_cast<size_t>(state.thread_index()) * (kRandomQuestions / 2);
  for (auto _ : state) {
    const Question& q = qs[i++ & (kRandomQuestions - 1)];
    benchmark::DoNotOptimize(tny_check(engine, q.user, q.workspace, q.permission));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TnyCheckRandom)->Name("CAbi/tny_check/Random")->ThreadRange(1, 2)->UseRealTime();

// ---- Credits ----

void BM_Consume(benchmark::State& state) {
  Engine& engine = *g_suite->engine;
  const WorkspaceId ws = g_suite->consume_ws;
  for (auto _ : state) {
    absl::StatusOr<int64_t> left = engine.consume(ws, 1);
    if (!left.ok()) state.SkipWithError("consume refused");
    benchmark::DoNotOptimize(left);
  }
}
BENCHMARK(BM_Consume)->Name("Credits/consume");

// ---- Changes ----

// The workspace spare user `k` joins in the single-change rows (engine and
// SQLite alike), and in round `round` of the batch rows.
WorkspaceId SpareWorkspace(size_t k) {
  return g_suite->data.workspaces[(k * 7919) % g_suite->data.workspaces.size()].id;
}
WorkspaceId BatchWorkspace(size_t k, size_t round) {
  return g_suite->data.workspaces[(k * 104729 + round) % g_suite->data.workspaces.size()].id;
}

// One change, each its own publication: spare users join a workspace and
// leave it again, in turn (half the changes are add_member, half
// remove_member).
struct Toggle {
  size_t next = 0;
  std::vector<uint8_t> in;

  absl::Status Step(Engine& engine) {
    const std::vector<UserId>& spare = g_suite->data.spare;
    const size_t k = next++ % spare.size();
    if (in.empty()) in.assign(spare.size(), 0);
    const WorkspaceId ws = SpareWorkspace(k);
    in[k] ^= 1;
    return in[k] != 0 ? engine.add_member(kSystem, ws, spare[k], "viewer")
                      : engine.remove_member(kSystem, ws, spare[k]);
  }
  // Leaves every spare user without a membership.
  void Undo(Engine& engine) {
    for (size_t k = 0; k < in.size(); ++k) {
      if (in[k] == 0) continue;
      const WorkspaceId ws = SpareWorkspace(k);
      (void)engine.remove_member(kSystem, ws, g_suite->data.spare[k]);
      in[k] = 0;
    }
  }
};

// A reader on its own thread, timing groups of kGroup random checks.
class Reader {
 public:
  static constexpr int kGroup = 8;
  explicit Reader(const Engine& engine) : engine_(engine) {
    samples_.reserve(1 << 22);
    thread_ = std::thread([this] { Run(); });
    while (!started_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  // Stops the reader and sets its counters on `state`.
  void Finish(benchmark::State& state) {
    stop_.store(true, std::memory_order_release);
    thread_.join();
    std::sort(samples_.begin(), samples_.end());
    const auto at = [&](double p) {
      if (samples_.empty()) return 0.0;
      const size_t k = std::min(samples_.size() - 1,
                                static_cast<size_t>(p * static_cast<double>(samples_.size())));
      return static_cast<double>(samples_[k]) / kGroup;
    };
    state.counters["reader_p50_ns"] = at(0.50);
    state.counters["reader_p99_ns"] = at(0.99);
    state.counters["reader_p999_ns"] = at(0.999);
    state.counters["reader_max_ns"] = samples_.empty() ? 0.0 : at(1.0);
    state.counters["reader_checks_per_s"] =
        static_cast<double>(checks_) / std::chrono::duration<double>(elapsed_).count();
  }

 private:
  void Run() {
    const std::vector<Question>& qs = g_suite->random;
    size_t i = kRandomQuestions / 3;
    const auto begin = Clock::now();
    started_.store(true, std::memory_order_release);
    while (!stop_.load(std::memory_order_relaxed)) {
      const auto t0 = Clock::now();
      for (int k = 0; k < kGroup; ++k) {
        const Question& q = qs[i++ & (kRandomQuestions - 1)];
        benchmark::DoNotOptimize(engine_.check(q.user, q.workspace, q.permission));
      }
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0);
      if (samples_.size() < samples_.capacity())
        samples_.push_back(static_cast<uint32_t>(ns.count()));
      checks_ += kGroup;
    }
    elapsed_ = Clock::now() - begin;
  }

  const Engine& engine_;
  std::thread thread_;
  std::atomic<bool> started_{false}, stop_{false};
  std::vector<uint32_t> samples_;
  uint64_t checks_ = 0;
  Clock::duration elapsed_{};
};

void BM_SingleChange(benchmark::State& state) {
  Engine& engine = *g_suite->engine;
  const bool with_reader = state.range(0) != 0;
  Toggle toggle;
  std::unique_ptr<Reader> reader;
  if (with_reader) reader = std::make_unique<Reader>(engine);
  for (auto _ : state) {
    if (absl::Status st = toggle.Step(engine); !st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      break;
    }
  }
  if (reader != nullptr) reader->Finish(state);
  toggle.Undo(engine);  // after the timed loop
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SingleChange)
    ->Name("Change/single")
    ->ArgName("reader")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->MinTime(2.0);

// The same reader while no writer runs (the benchmark's thread sleeps).
void BM_ReaderAlone(benchmark::State& state) {
  Reader reader(*g_suite->engine);
  for (auto _ : state) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  reader.Finish(state);
}
BENCHMARK(BM_ReaderAlone)->Name("Change/none_reader_alone")->UseRealTime()->MinTime(2.0);

// `apply` of kBatchMemberships add_member (spare users, one workspace
// each); the removal batch that follows is not timed.
void BM_Batch(benchmark::State& state) {
  Engine& engine = *g_suite->engine;
  const std::vector<UserId>& spare = g_suite->data.spare;
  const size_t n = std::min(kBatchMemberships, spare.size());
  std::vector<WorkspaceId> spaces(n);
  size_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Batch add, remove;
    for (size_t k = 0; k < n; ++k) {
      spaces[k] = BatchWorkspace(k, round);
      add.add_member(kSystem, spaces[k], spare[k], "member");
      remove.remove_member(kSystem, spaces[k], spare[k]);
    }
    ++round;
    state.ResumeTiming();
    if (!engine.apply(add).ok()) state.SkipWithError("batch refused");
    state.PauseTiming();
    if (!engine.apply(remove).ok()) state.SkipWithError("removal refused");
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Batch)->Name("Change/batch")->Unit(benchmark::kMillisecond)->MinTime(3.0);

// ---- Snapshots ----

void BM_Save(benchmark::State& state) {
  const Engine& engine = *g_suite->engine;
  for (auto _ : state) {
    if (absl::Status st = SaveSnapshot(engine, g_suite->bench_snapshot()); !st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g_suite->memberships));
}
BENCHMARK(BM_Save)
    ->Name("Snapshot/save")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->Repetitions(1);

void BM_LoadSnapshot(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = LoadSnapshot(g_suite->bench_snapshot());
    if (!engine.ok()) state.SkipWithError(std::string(engine.status().message()).c_str());
    state.PauseTiming();
    engine = absl::UnknownError("dropped");  // frees the loaded engine outside the timing
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g_suite->memberships));
}
BENCHMARK(BM_LoadSnapshot)
    ->Name("Snapshot/load")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->Repetitions(1);

// ---- The SQLite baseline ----

void BM_SqliteCheckWarm(benchmark::State& state) {
  Sqlite& db = *g_suite->sqlite;
  const Question q = g_suite->warm;
  for (auto _ : state) benchmark::DoNotOptimize(db.Check(q.user, q.workspace, q.permission));
}
BENCHMARK(BM_SqliteCheckWarm)->Name("Sqlite/check/Warm");

void BM_SqliteCheckRandom(benchmark::State& state) {
  Sqlite& db = *g_suite->sqlite;
  const std::vector<Question>& qs = g_suite->random;
  size_t i = 0;
  for (auto _ : state) {
    const Question& q = qs[i++ & (kRandomQuestions - 1)];
    benchmark::DoNotOptimize(db.Check(q.user, q.workspace, q.permission));
  }
}
BENCHMARK(BM_SqliteCheckRandom)->Name("Sqlite/check/Random");

void BM_SqliteSingleChange(benchmark::State& state) {
  Sqlite& db = *g_suite->sqlite;
  const std::vector<UserId>& spare = g_suite->data.spare;
  std::vector<uint8_t> in(spare.size(), 0);
  size_t next = 0;
  for (auto _ : state) {
    const size_t k = next++ % spare.size();
    in[k] ^= 1;
    if (in[k] != 0) {
      db.AddMember(spare[k], SpareWorkspace(k), kViewer);
    } else {
      db.RemoveMember(spare[k], SpareWorkspace(k));
    }
  }
  for (size_t k = 0; k < in.size(); ++k) {  // after the timed loop
    if (in[k] != 0) db.RemoveMember(spare[k], SpareWorkspace(k));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SqliteSingleChange)->Name("Sqlite/change/single");

void BM_SqliteBatch(benchmark::State& state) {
  Sqlite& db = *g_suite->sqlite;
  const std::vector<UserId>& spare = g_suite->data.spare;
  const size_t n = std::min(kBatchMemberships, spare.size());
  std::vector<WorkspaceId> spaces(n);
  size_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t k = 0; k < n; ++k) {
      spaces[k] = BatchWorkspace(k, round);
    }
    ++round;
    state.ResumeTiming();
    db.AddMembers(spare.data(), spaces.data(), n, kMember);
    state.PauseTiming();
    db.RemoveMembers(spare.data(), spaces.data(), n);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_SqliteBatch)->Name("Sqlite/change/batch")->Unit(benchmark::kMillisecond)->MinTime(3.0);

}  // namespace
}  // namespace tenantry::bench

int main(int argc, char** argv) {
  tenantry::bench::Shape shape = tenantry::bench::Shape::Full();
  std::string files, load;
  // Our flags first; the rest go to Google Benchmark.
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--scale=small") == 0) {
      shape = tenantry::bench::Shape::Small();
    } else if (std::strcmp(argv[i], "--scale=full") == 0) {
      shape = tenantry::bench::Shape::Full();
    } else if (std::strncmp(argv[i], "--load=", 7) == 0) {
      load = argv[i] + 7;
    } else if (std::strncmp(argv[i], "--files=", 8) == 0) {
      files = argv[i] + 8;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  if (!load.empty()) {
    tenantry::bench::SetupLoaded(load);
  } else {
    tenantry::bench::Setup(shape, files);
  }
  benchmark::RunSpecifiedBenchmarks();
  tenantry::bench::Teardown();
  benchmark::Shutdown();
  return 0;
}
