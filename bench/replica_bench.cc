// Copyright 2026 The tenantry Authors.
//
// Replicas (docs/rules.md section 13, R1-R8; docs/replication.md) at the
// 100,000-membership scale (bench/scale_data.h's small shape: 2,000
// workspaces, 20,000 users), each row beside a single engine's and
// SQLite's in the same run:
//
//   Replica/catchup          a new replica opening a group whose log holds the
//                            data set one change per record (~122,000
//                            records), no snapshot: records applied per second
//   Replica/lag              replica A changes; replica B's wait_for returns
//   Replica/change           changes through the log: 1 writer, and 4 writers
//                            (4 replicas, one thread each)
//   Replica/batch            10,000 memberships in one batch through the log
//   Replica/consume/lease    a consume on a lease (local, lock-free), random
//                            workspaces among the 1,000 the replica leases
//   Replica/settle           one settlement record covering 1, 100, 1,000 leases
//   Engine/..., Sqlite/...   the same single change, batch and consume on a
//                            plain Engine; SQLite in memory (the project's
//                            baseline) and on disk (WAL, synchronous=FULL: a
//                            durable commit, like the log's)
//   Log/...                  the parts of a change through the log, timed
//                            with libpq alone: a round trip; the read of the
//                            log's tail every change starts with, as PgLog
//                            runs it, prepared, and when the record at the
//                            position is a batch's; a catch-up read of 1,000
//                            records, with and without statistics on `head`;
//                            an autocommitted append_if_head with and
//                            without the commit's fsync, of a batch's
//                            record, and with a plan made while the log was
//                            tiny
//
//   build/bench/bench/replica_bench [--quick] [--catchup_memberships=N]
//                                   [--lag_samples=N] [--benchmark_* flags]
//
// --quick: 10,000 memberships in the catch-up group, 200 lag samples, short
// rows (a smoke test, as scripts/bench.sh --quick is for the scale suite).
//
// The binary starts its own PostgreSQL 15 through scripts/pg_cluster.sh in a
// temporary directory. A keeper process, forked before anything else, stops
// that server and removes the directory once the benchmark's process ends,
// however it ends (the end of a pipe it reads closes then).
//
// The data set is built through replica A's log in batches (scale_data.h);
// the plain Engine and SQLite get the same data. The catch-up group lives in
// a database of its own whose commits skip the fsync
// (synchronous_commit=off), only so that writing its records one change at
// a time takes a minute, not several; reading them is what is timed. Every
// other group commits with fsync on, as production would.
//
// Row 6 calls the replica's settlement (Replica::SettleLeases, core/src) the
// way its follower thread does every settle_interval_ms, which is set to
// its maximum here so that no settlement runs on its own during the rows.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine_internal.h"  // core/src: the replica's settlement (row 6)
#include "scale_data.h"
#include "sqlite_baseline.h"
#include "tenantry/engine.h"
#include "tenantry/limits.h"
#include "tenantry/replica.h"

namespace tenantry::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kLeased = 1000;                 // workspaces replica E leases
constexpr int64_t kLeaseMax = int64_t{1} << 40;  // more than any run consumes
constexpr size_t kBatchMemberships = 10000;
constexpr size_t kDraws = size_t{1} << 20;  // pre-drawn random lease indexes

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "replica_bench: %s\n", what.c_str());
  std::exit(1);
}

void OrDie(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Fail(absl::StrCat(what, ": ", status.ToString()));
}

template <class T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  OrDie(value.status(), what);
  return *std::move(value);
}

// The value at quantile `q` of `samples` (sorted in place).
double Quantile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t k =
      std::min(samples.size() - 1, static_cast<size_t>(q * static_cast<double>(samples.size())));
  return samples[k];
}

double Median(std::vector<double> samples) { return Quantile(samples, 0.5); }

// ---- The throwaway server ----

// Runs `scripts/pg_cluster.sh command dir`; its stdout, or "" if it failed.
std::string RunClusterScript(const std::string& command, const std::string& dir) {
  const std::string line =
      absl::StrCat("bash '", TENANTRY_PG_CLUSTER, "' ", command, " '", dir, "'");
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  if (pclose(pipe) != 0) return "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Cluster {
 public:
  // Makes the directory, forks the keeper, starts the server; returns its
  // connection string. Call before any thread exists.
  std::string Start() {
    char pattern[] = "/tmp/tenantry-bench-pg-XXXXXX";
    if (mkdtemp(pattern) == nullptr) Fail("cannot make a temporary directory");
    dir_ = pattern;
    int fds[2];
    // Close-on-exec: the server and the scripts must not hold the pipe open.
    if (pipe2(fds, O_CLOEXEC) != 0) Fail("pipe2 failed");
    std::fflush(nullptr);
    keeper_ = fork();
    if (keeper_ < 0) Fail("fork failed");
    if (keeper_ == 0) Keep(fds[0], fds[1]);
    close(fds[0]);
    alive_ = fds[1];
    const std::string conninfo = RunClusterScript("start", dir_);
    if (conninfo.empty()) Fail(absl::StrCat("scripts/pg_cluster.sh start ", dir_, " failed"));
    return conninfo;
  }
  // Stops the server (through the keeper) and waits for it.
  void Stop() {
    if (keeper_ <= 0) return;
    close(alive_);
    int status = 0;
    while (waitpid(keeper_, &status, 0) < 0 && errno == EINTR) {
    }
    keeper_ = 0;
  }
  const std::string& dir() const { return dir_; }

 private:
  // The keeper: out of the benchmark's process group (an interrupt is for
  // the benchmark), it waits for the pipe's end to close, then stops the
  // server and removes the directory.
  [[noreturn]] void Keep(int read_end, int write_end) {
    close(write_end);
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    char byte = 0;
    for (;;) {
      const ssize_t n = read(read_end, &byte, 1);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    if (RunClusterScript("stop", dir_).empty() && !std::filesystem::exists(dir_)) _exit(0);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    _exit(0);
  }

  std::string dir_;
  pid_t keeper_ = 0;
  int alive_ = -1;
};

// One libpq connection, for the setup's SQL and the Log/ rows.
class Pg {
 public:
  explicit Pg(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) Fail(absl::StrCat("connect: ", PQerrorMessage(conn_)));
  }
  ~Pg() { PQfinish(conn_); }
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;

  // Runs `sql` (no parameters); the first value of the first row, or "".
  std::string Exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    Check(r, sql);
    std::string out = PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return out;
  }
  // Prepares `sql` as the statement `name`.
  void Prepare(const std::string& name, const std::string& sql) {
    PGresult* r = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    Check(r, sql);
    PQclear(r);
  }
  // Runs the prepared statement `name` with text parameters; the rows.
  int Prepared(const std::string& name, const std::vector<std::string>& values) {
    std::vector<const char*> pointers;
    for (const std::string& v : values) pointers.push_back(v.c_str());
    PGresult* r = PQexecPrepared(conn_, name.c_str(), static_cast<int>(pointers.size()),
                                 pointers.data(), nullptr, nullptr, 1);
    Check(r, name);
    const int rows = PQntuples(r);
    PQclear(r);
    return rows;
  }
  // Runs `sql` with one text parameter; the first value of the first row
  // as bytes (binary results).
  std::string Bytes(const std::string& sql, const std::string& value) {
    const char* pointer = value.c_str();
    PGresult* r = PQexecParams(conn_, sql.c_str(), 1, nullptr, &pointer, nullptr, nullptr, 1);
    Check(r, sql);
    std::string out =
        PQntuples(r) > 0 ? std::string(PQgetvalue(r, 0, 0), PQgetlength(r, 0, 0)) : std::string();
    PQclear(r);
    return out;
  }
  // Runs `sql` with parameters, the last one binary (bytes); the rows.
  int WithBytes(const std::string& sql, const std::vector<std::string>& values,
                const std::string& bytes) {
    std::vector<const char*> pointers;
    std::vector<int> lengths, formats;
    for (const std::string& v : values) {
      pointers.push_back(v.c_str());
      lengths.push_back(0);
      formats.push_back(0);
    }
    pointers.push_back(bytes.data());
    lengths.push_back(static_cast<int>(bytes.size()));
    formats.push_back(1);
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(pointers.size()), nullptr,
                               pointers.data(), lengths.data(), formats.data(), 0);
    Check(r, sql);
    const int rows = PQntuples(r);
    PQclear(r);
    return rows;
  }
  // Runs `sql` with text parameters `values` (binary results if asked);
  // the number of rows.
  int Params(const std::string& sql, const std::vector<std::string>& values, bool binary = false) {
    std::vector<const char*> pointers;
    for (const std::string& v : values) pointers.push_back(v.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(pointers.size()), nullptr,
                               pointers.data(), nullptr, nullptr, binary ? 1 : 0);
    Check(r, sql);
    const int rows = PQntuples(r);
    PQclear(r);
    return rows;
  }

 private:
  void Check(PGresult* r, const std::string& sql) {
    const ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
      const std::string error = PQresultErrorMessage(r);
      PQclear(r);
      Fail(absl::StrCat(sql, ": ", error));
    }
  }
  PGconn* conn_;
};

Engine::Options ReplicaOptions(const std::string& conninfo, const std::string& group, bool leases) {
  Engine::Options options;
  options.log = conninfo;
  options.group = group;
  options.lease_credits = leases;
  options.lease_max = kLeaseMax;
  // Row 6 settles itself; the follower would only every 10 minutes.
  options.settle_interval_ms = limits::kSettleIntervalMaxMs;
  options.lease_ttl_ms = limits::kLeaseTtlMaxMs;
  return options;
}

std::unique_ptr<Engine> Open(const std::string& conninfo, const std::string& group, bool leases) {
  return OrDie(OpenReplica(ReplicaOptions(conninfo, group, leases)),
               absl::StrCat("OpenReplica(", group, ")"));
}

// PgLog::Read's query (core/src/pg_log.cc) on `group`: $1 the first
// position, $2 how many records.
std::string ReadSql(const std::string& group) {
  return absl::StrCat(
      "SELECT h.first_position, h.position, r.position, r.format_version, r.change_id, "
      "r.payload FROM ",
      group, ".head h LEFT JOIN LATERAL (SELECT * FROM ", group,
      ".records WHERE position >= $1::bigint ORDER BY position LIMIT $2::bigint) r ON true "
      "WHERE h.singleton ORDER BY r.position");
}

// PostgreSQL's statistics and the log's queries (core/src/pg_log.cc).
// Until `head` is analyzed, the planner takes the one-row table for
// hundreds of rows (905 with this schema); PgLog::Read's estimate is that
// times the records it reads, past jit_above_cost for a catch-up read of
// 1,000, and the read is JIT-compiled first, every time (the
// Log/read_1000/head_unanalyzed row). Autovacuum analyzes `head` once 50
// changes went by, at its next round (autovacuum_naptime, a minute); the
// table keeps one row, so its statistics never change after. The groups
// here have theirs from the start.
void AnalyzeHead(const std::string& conninfo, const std::string& group) {
  Pg(conninfo).Exec(absl::StrCat("ANALYZE ", group, ".head"));
}

// ---- The changes ----

// The workspace spare user `k` joins in the single-change rows (every
// engine and SQLite alike).
WorkspaceId SpareWorkspace(const Data& d, size_t k) {
  return d.workspaces[(k * 7919) % d.workspaces.size()].id;
}

// One change at a time: spare users offset, offset + stride, ... join a
// workspace and leave it again, in turn (half add_member, half
// remove_member), as scale_bench's single-change rows do.
struct Toggle {
  const Data* data;
  size_t offset, stride;
  size_t next = 0;
  std::vector<uint8_t> in;

  Toggle(const Data& d, size_t first, size_t every)
      : data(&d), offset(first), stride(every), in(d.spare.size(), 0) {}
  size_t Next() {
    const size_t count = (data->spare.size() - offset + stride - 1) / stride;
    const size_t k = offset + (next++ % count) * stride;
    in[k] ^= 1;
    return k;
  }
  absl::Status Step(Engine& engine) {
    const size_t k = Next();
    const WorkspaceId ws = SpareWorkspace(*data, k);
    return in[k] != 0 ? engine.add_member(kSystem, ws, data->spare[k], "viewer")
                      : engine.remove_member(kSystem, ws, data->spare[k]);
  }
  void Step(Sqlite& db) {
    const size_t k = Next();
    const WorkspaceId ws = SpareWorkspace(*data, k);
    if (in[k] != 0) {
      db.AddMember(data->spare[k], ws, kViewer);
    } else {
      db.RemoveMember(data->spare[k], ws);
    }
  }
  // Leaves every spare user of this toggle without a membership.
  void Undo(Engine& engine) {
    for (size_t k = 0; k < in.size(); ++k) {
      if (in[k] == 0) continue;
      OrDie(engine.remove_member(kSystem, SpareWorkspace(*data, k), data->spare[k]), "undo");
      in[k] = 0;
    }
  }
  void Undo(Sqlite& db) {
    for (size_t k = 0; k < in.size(); ++k) {
      if (in[k] == 0) continue;
      db.RemoveMember(data->spare[k], SpareWorkspace(*data, k));
      in[k] = 0;
    }
  }
};

// The batch rows' memberships in round `round`: spare user k % S joins its
// (k / S)-th workspace of the round (10 each at this scale, all distinct).
void BatchItems(const Data& d, size_t n, size_t round, std::vector<UserId>* users,
                std::vector<WorkspaceId>* spaces) {
  const size_t s = d.spare.size(), w = d.workspaces.size();
  users->resize(n);
  spaces->resize(n);
  for (size_t k = 0; k < n; ++k) {
    const size_t u = k % s, j = k / s;
    (*users)[k] = d.spare[u];
    (*spaces)[k] = d.workspaces[(u * 7919 + j * 37 + round * 101) % w].id;
  }
}

// ---- The suite ----

struct CatchUpGroup {
  std::string conninfo;
  int64_t head = 0;
  uint64_t memberships = 0;
  double written_s = 0;     // writing its records (no fsync)
  double empty_open_s = 0;  // opening a group with nothing to apply
  double read_1000_s = 0;   // libpq alone: 1,000 records, binary
  double record_bytes = 0;  // a record's mean payload
};

struct Suite {
  Cluster cluster;
  std::string conninfo;
  Shape shape = Shape::Small();
  size_t catchup_memberships = SIZE_MAX;  // all of them (--quick: 10,000)
  Data data;                              // built through replica A's log: data.engine is A
  double data_build_s = 0, b_open_s = 0;
  std::unique_ptr<Engine> b;        // the lag row's follower; writer 2 of 4
  std::unique_ptr<Engine> c, d;     // writers 3 and 4, open during that row only
  std::unique_ptr<Engine> lessee;   // E: leases on `leased` (rows 5, 6)
  std::vector<WorkspaceId> leased;  // E's (in data), and the same in plain
  std::vector<WorkspaceId> plain_leased;
  Data plain;  // the same data set in a plain Engine
  std::unique_ptr<Sqlite> sqlite_memory, sqlite_disk;
  std::vector<uint32_t> draws;  // kDraws random indexes into leased
  std::unique_ptr<CatchUpGroup> catchup;
  std::unique_ptr<std::vector<Toggle>> toggles;  // the change row's, one a writer
};

Suite* g = nullptr;

Engine& A() { return *g->data.engine; }

Engine* Writer(int index) {
  switch (index) {
    case 0:
      return &A();
    case 1:
      return g->b.get();
    case 2:
      return g->c.get();
    default:
      return g->d.get();
  }
}

void Setup() {
  g = new Suite;
  std::fprintf(stderr, "replica_bench: starting PostgreSQL...\n");
  g->conninfo = g->cluster.Start();
  std::fprintf(stderr,
               "replica_bench: building %d workspaces, %d users, %lld memberships "
               "through replica A's log...\n",
               g->shape.workspaces, g->shape.users, static_cast<long long>(g->shape.memberships));
  auto start = Clock::now();
  {
    std::unique_ptr<Engine> a = Open(g->conninfo, "bench", false);
    AnalyzeHead(g->conninfo, "bench");
    g->data = Build(g->shape, 42, std::move(a));
  }
  g->data_build_s = Since(start);
  start = Clock::now();
  g->b = Open(g->conninfo, "bench", false);
  g->b_open_s = Since(start);
  if (g->b->stats().memberships != A().stats().memberships) Fail("replica B differs from A");
  std::fprintf(stderr,
               "replica_bench: %llu memberships built in %.1f s (log at position %lld); replica "
               "B opened in %.2f s\n",
               static_cast<unsigned long long>(A().stats().memberships), g->data_build_s,
               static_cast<long long>(A().position()), g->b_open_s);
  g->plain = Build(g->shape, 42);
  double seconds = 0;
  g->sqlite_memory = std::make_unique<Sqlite>(g->plain, &seconds);
  g->sqlite_disk = std::make_unique<Sqlite>(g->plain, &seconds, g->cluster.dir() + "/sqlite.db");
  std::mt19937_64 rng(7);
  g->draws.resize(kDraws);
  for (uint32_t& i : g->draws) i = static_cast<uint32_t>(rng() % kLeased);
}

void Teardown() {
  if (g == nullptr) return;
  g->lessee.reset();
  g->b.reset();
  g->data.engine.reset();
  g->cluster.Stop();
}

// Replica E and its leases, once: 1,000 random workspaces funded to the cap
// through the log, one consume each through the log (which takes the
// lease), then a round of consumes that must not append anything. The
// plain Engine's same workspaces are funded alike.
void EnsureLessee() {
  if (g->lessee != nullptr) return;
  std::fprintf(stderr, "replica_bench: replica E takes leases on %zu workspaces...\n", kLeased);
  const auto start = Clock::now();
  g->lessee = Open(g->conninfo, "bench", true);
  Engine& e = *g->lessee;
  std::vector<size_t> index(g->data.workspaces.size());
  std::iota(index.begin(), index.end(), size_t{0});
  std::shuffle(index.begin(), index.end(), std::mt19937_64(11));
  index.resize(kLeased);
  for (int side = 0; side < 2; ++side) {
    Engine& engine = side == 0 ? e : *g->plain.engine;
    const Data& d = side == 0 ? g->data : g->plain;
    std::map<AccountId, int64_t> per_account;
    for (size_t i : index) per_account[d.workspaces[i].account] += limits::kMaxWorkspaceBalance;
    for (const auto& [account, amount] : per_account) {
      OrDie(engine.grant(kSystem, account, amount), "grant");
    }
    std::vector<WorkspaceId>& list = side == 0 ? g->leased : g->plain_leased;
    for (size_t i : index) {
      const WorkspaceRow& w = d.workspaces[i];
      OrDie(engine.transfer(kSystem, w.account, w.id, limits::kMaxWorkspaceBalance).status(),
            "transfer");
      list.push_back(w.id);
    }
  }
  for (WorkspaceId ws : g->leased) OrDie(e.consume(ws, 1).status(), "first consume");
  const int64_t at = e.position();
  for (WorkspaceId ws : g->leased) OrDie(e.consume(ws, 1).status(), "consume on the lease");
  if (e.position() != at) Fail("a consume after the first went through the log: no lease");
  std::fprintf(stderr, "replica_bench: leases taken in %.1f s (log at position %lld)\n",
               Since(start), static_cast<long long>(e.position()));
}

// A scratch group (the Log/ rows; the empty group of row 1), made once (a
// benchmark function may be called several times): a replica makes its
// schema and genesis record and is closed at once, then `rows` records of
// 60 bytes are inserted with SQL (nothing applies them). With
// `analyze_head`, `head` has statistics as the other groups' have; without,
// it has none, as in a new group's first minute or so.
void ScratchGroup(const std::string& group, int rows, bool analyze_head) {
  static std::set<std::string>* made = new std::set<std::string>();
  if (!made->insert(group).second) return;
  (void)Open(g->conninfo, group, false);
  Pg pg(g->conninfo);
  pg.Exec(absl::StrCat("INSERT INTO ", group,
                       ".records (position, format_version, change_id, payload) SELECT p, 1, "
                       "'x' || p, convert_to(repeat('x', 60), 'UTF8') FROM generate_series(2, ",
                       rows + 1, ") p; UPDATE ", group, ".head SET position = ", rows + 1));
  if (analyze_head) AnalyzeHead(g->conninfo, group);
}

// ---- 1. Follower catch-up ----

// The catch-up group, once, in database `catchup` (commits without fsync, so
// that writing it takes a minute, not several): the plain data set's users,
// accounts, custom roles, workspaces and memberships (not its staff and
// teams), each made by a change of its own, so that the log holds one
// record per change. Suite::catchup_memberships bounds the memberships
// (--quick).
CatchUpGroup* EnsureCatchUp() {
  if (g->catchup != nullptr) return g->catchup.get();
  auto cu = std::make_unique<CatchUpGroup>();
  {
    Pg pg(g->conninfo);
    pg.Exec("CREATE DATABASE catchup");
    pg.Exec("ALTER DATABASE catchup SET synchronous_commit = off");
  }
  cu->conninfo = g->conninfo;
  const size_t at = cu->conninfo.find("dbname=postgres");
  if (at == std::string::npos) Fail("the connection string names no dbname=postgres");
  cu->conninfo.replace(at, std::strlen("dbname=postgres"), "dbname=catchup");
  std::unique_ptr<Engine> w = Open(cu->conninfo, "catchup", false);
  AnalyzeHead(cu->conninfo, "catchup");
  // `records` analyzed every 10,000 records, as autovacuum would in a
  // group this busy: a plan made while the table was small (seq scans of
  // it) must not outlive its smallness (the Log/append/stale_plan row).
  Pg stats(cu->conninfo);
  const auto wrote = [&] {
    if (w->position() % 10000 == 0) stats.Exec("ANALYZE catchup.records");
  };
  const Data& d = g->plain;
  std::fprintf(stderr, "replica_bench: catch-up group: one record per change...\n");
  const auto start = Clock::now();
  // Ids in the group, by the plain data set's.
  std::map<uint64_t, uint64_t> ids;
  auto phase = Clock::now();
  const auto done = [&](const char* what, size_t count) {
    std::fprintf(stderr, "replica_bench: catch-up group: %zu %s in %.1f s (%.0f/s)\n", count, what,
                 Since(phase), static_cast<double>(count) / Since(phase));
    phase = Clock::now();
  };
  for (size_t i = 0; i < d.users.size(); ++i) {
    ids[d.users[i]] =
        OrDie(w->create_user(absl::StrCat("user", i, "@bench.example")), "create_user");
    wrote();
  }
  done("users", d.users.size());
  for (size_t a = 0; a < d.accounts.size(); ++a) {
    const UserId owner = ids.at(d.users[a]);  // the first users own the accounts
    ids[d.accounts[a]] =
        OrDie(w->create_account({absl::StrCat("Agency ", a), owner, Plan::Named("enterprise")}),
              "create_account");
    const AccountId account = ids.at(d.accounts[a]);
    OrDie(w->define_role(kSystem, account, "analyst", {"analytics.view", "contacts.export"},
                         "viewer"),
          "define_role");
    OrDie(w->define_role(kSystem, account, "operator", {"runs.trigger", "contacts.edit"}, "member"),
          "define_role");
  }
  done("accounts and their roles", d.accounts.size() * 3);
  for (size_t i = 0; i < d.workspaces.size(); ++i) {  // agencies come before their clients
    const WorkspaceRow& row = d.workspaces[i];
    WorkspaceSpec spec;
    spec.name = absl::StrCat("Workspace ", i);
    spec.type = row.parent == 0 ? WorkspaceType::kAgency : WorkspaceType::kSimple;
    spec.parent = row.parent == 0 ? 0 : ids.at(row.parent);
    ids[row.id] =
        OrDie(w->create_workspace(kSystem, ids.at(row.account), spec), "create_workspace");
    wrote();
  }
  done("workspaces", d.workspaces.size());
  size_t added = 0;
  for (const MembershipRow& m : d.memberships) {
    if (m.role == kOwner) continue;  // the account owner owns every workspace already
    if (added == g->catchup_memberships) break;
    OrDie(w->add_member(kSystem, ids.at(m.workspace), ids.at(m.user), kRoleNames[m.role]),
          "add_member");
    wrote();
    ++added;
  }
  done("memberships", added);
  cu->written_s = Since(start);
  cu->head = w->position();
  // What an open costs with nothing to apply (connections, the schema's
  // check, the snapshot lookup, the engine's own tables): a group holding
  // its genesis record only.
  ScratchGroup("empty", 0, true);
  std::vector<double> empty;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    (void)Open(g->conninfo, "empty", false);
    empty.push_back(Since(t0));
  }
  cu->empty_open_s = Median(empty);
  cu->memberships = w->stats().memberships;
  // The parts: reading 1,000 records alone (the query PgLog::Read runs,
  // binary results), and their mean size.
  {
    Pg pg(cu->conninfo);
    std::vector<double> reads;
    for (int i = 0; i < 20; ++i) {
      const int64_t from = 1 + (i * 4999) % std::max<int64_t>(1, cu->head - 1000);
      const auto t0 = Clock::now();
      if (pg.Params(ReadSql("catchup"), {absl::StrCat(from), "1000"}, true) != 1000) {
        Fail("short read");
      }
      reads.push_back(Since(t0));
    }
    cu->read_1000_s = Median(reads);
    cu->record_bytes = std::stod(pg.Exec("SELECT avg(length(payload)) FROM catchup.records"));
  }
  std::fprintf(stderr, "replica_bench: catch-up group: %lld records, %llu memberships (%.1f s)\n",
               static_cast<long long>(cu->head), static_cast<unsigned long long>(cu->memberships),
               cu->written_s);
  g->catchup = std::move(cu);
  return g->catchup.get();
}

void BM_CatchUp(benchmark::State& state) {
  CatchUpGroup& cu = *EnsureCatchUp();
  std::vector<double> opens;
  for (auto _ : state) {
    const auto start = Clock::now();
    absl::StatusOr<std::unique_ptr<Engine>> r =
        OpenReplica(ReplicaOptions(cu.conninfo, "catchup", false));
    const double seconds = Since(start);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    if ((*r)->position() != cu.head || (*r)->stats().memberships != cu.memberships) {
      state.SkipWithError("the catch-up replica stopped short of the head");
      break;
    }
    state.SetIterationTime(seconds);
    opens.push_back(seconds);
    r->reset();  // closing it (the follower's last poll) is not timed (manual time)
  }
  const double open_s = Median(opens);
  state.counters["records"] = static_cast<double>(cu.head);
  state.counters["memberships"] = static_cast<double>(cu.memberships);
  state.counters["open_s"] = open_s;
  state.counters["records_per_s"] = static_cast<double>(cu.head) / open_s;
  state.counters["empty_open_s"] = cu.empty_open_s;
  // The records' own rate: the open less that of a group with nothing to apply.
  state.counters["apply_records_per_s"] = static_cast<double>(cu.head) / (open_s - cu.empty_open_s);
  state.counters["read_1000_ms"] = cu.read_1000_s * 1e3;
  state.counters["record_bytes"] = cu.record_bytes;
  state.counters["written_per_s"] = static_cast<double>(cu.head) / cu.written_s;
}

// ---- 2. Commit-to-applied lag ----

void BM_Lag(benchmark::State& state) {
  Engine& a = A();
  Engine& b = *g->b;
  OrDie(b.wait_for(a.position(), 10000), "B catching up");
  Toggle toggle(g->data, 0, 1);
  std::vector<double> lag, change;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if (absl::Status st = toggle.Step(a); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    const auto t1 = Clock::now();
    if (absl::Status st = b.wait_for(a.last_change_position(), 5000); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    const double seconds = Since(t1);
    state.SetIterationTime(seconds);
    lag.push_back(seconds * 1e3);
    change.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  toggle.Undo(a);
  state.counters["lag_p50_ms"] = Quantile(lag, 0.50);
  state.counters["lag_p90_ms"] = Quantile(lag, 0.90);
  state.counters["lag_p99_ms"] = Quantile(lag, 0.99);
  state.counters["lag_max_ms"] = Quantile(lag, 1.0);
  state.counters["change_p50_ms"] = Quantile(change, 0.50);
  state.counters["change_p99_ms"] = Quantile(change, 0.99);
}

// ---- 3. Single changes ----

// Writers 3 and 4 exist during the 4-writer row only (each replica's
// follower applies every record: more of them would slow the other rows).
void OpenWriters(const benchmark::State& state) {
  g->toggles = std::make_unique<std::vector<Toggle>>();
  for (int i = 0; i < state.threads(); ++i) {
    g->toggles->emplace_back(g->data, static_cast<size_t>(i), static_cast<size_t>(state.threads()));
  }
  if (state.threads() < 3) return;
  g->c = Open(g->conninfo, "bench", false);
  g->d = Open(g->conninfo, "bench", false);
}
void CloseWriters(const benchmark::State& state) {
  for (int i = 0; i < state.threads(); ++i) {
    (*g->toggles)[static_cast<size_t>(i)].Undo(*Writer(i));
  }
  g->toggles.reset();
  g->c.reset();
  g->d.reset();
}

// The appends refused so far because the head had moved (TN001), each
// followed by the change run again on the new head: PostgreSQL logs every
// statement that fails, in the server's log.
double RefusedAppends() {
  FILE* f = std::fopen((g->cluster.dir() + "/server.log").c_str(), "r");
  if (f == nullptr) return 0;
  double count = 0;
  char line[4096];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strstr(line, "ERROR:  the log's head is at") != nullptr) ++count;
  }
  std::fclose(f);
  return count;
}

void BM_LogChange(benchmark::State& state) {
  Engine& engine = *Writer(state.thread_index());
  Toggle& toggle = (*g->toggles)[static_cast<size_t>(state.thread_index())];
  const double before = state.thread_index() == 0 ? RefusedAppends() : 0;
  std::vector<double> latency;
  latency.reserve(1 << 16);
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if (absl::Status st = toggle.Step(engine); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    latency.push_back(Since(t0) * 1e3);
  }
  if (state.thread_index() == 0) {
    // The other writers are done too, or nearly (as many changes each); the
    // toggles are undone after the row (CloseWriters).
    state.counters["refused_appends_per_change"] =
        (RefusedAppends() - before) /
        static_cast<double>(state.iterations() * static_cast<uint64_t>(state.threads()));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["change_p50_ms"] =
      benchmark::Counter(Quantile(latency, 0.50), benchmark::Counter::kAvgThreads);
  state.counters["change_p99_ms"] =
      benchmark::Counter(Quantile(latency, 0.99), benchmark::Counter::kAvgThreads);
}

void BM_EngineChange(benchmark::State& state) {
  Engine& engine = *g->plain.engine;
  Toggle toggle(g->plain, 0, 1);
  for (auto _ : state) {
    if (absl::Status st = toggle.Step(engine); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  toggle.Undo(engine);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_SqliteChange(benchmark::State& state, bool disk) {
  Sqlite& db = disk ? *g->sqlite_disk : *g->sqlite_memory;
  Toggle toggle(g->plain, 0, 1);
  if (!disk) {
    for (auto _ : state) toggle.Step(db);
  } else {
    std::vector<double> latency;  // each a commit with the WAL's flush
    for (auto _ : state) {
      const auto t0 = Clock::now();
      toggle.Step(db);
      latency.push_back(Since(t0) * 1e3);
    }
    state.counters["change_p50_ms"] = Quantile(latency, 0.50);
    state.counters["change_p99_ms"] = Quantile(latency, 0.99);
  }
  toggle.Undo(db);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ---- 4. Batches ----

void BM_EngineBatch(benchmark::State& state, bool replica) {
  Engine& engine = replica ? A() : *g->plain.engine;
  const Data& d = replica ? g->data : g->plain;
  std::vector<UserId> users;
  std::vector<WorkspaceId> spaces;
  size_t round = 0;
  for (auto _ : state) {
    BatchItems(d, kBatchMemberships, round++, &users, &spaces);
    Batch add, remove;
    for (size_t k = 0; k < users.size(); ++k) {
      add.add_member(kSystem, spaces[k], users[k], "member");
      remove.remove_member(kSystem, spaces[k], users[k]);
    }
    const auto start = Clock::now();
    absl::StatusOr<std::vector<uint64_t>> added = engine.apply(add);
    state.SetIterationTime(Since(start));
    if (!added.ok()) {
      state.SkipWithError(added.status().ToString().c_str());
      break;
    }
    if (absl::Status st = engine.apply(remove).status(); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchMemberships));
}

void BM_SqliteBatch(benchmark::State& state, bool disk) {
  Sqlite& db = disk ? *g->sqlite_disk : *g->sqlite_memory;
  std::vector<UserId> users;
  std::vector<WorkspaceId> spaces;
  size_t round = 0;
  for (auto _ : state) {
    BatchItems(g->plain, kBatchMemberships, round++, &users, &spaces);
    const auto start = Clock::now();
    db.AddMembers(users.data(), spaces.data(), users.size(), kMember);
    state.SetIterationTime(Since(start));
    db.RemoveMembers(users.data(), spaces.data(), users.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchMemberships));
}

// ---- 5. Consume ----

void BM_Consume(benchmark::State& state, bool replica) {
  EnsureLessee();
  Engine& engine = replica ? *g->lessee : *g->plain.engine;
  const std::vector<WorkspaceId>& spaces = replica ? g->leased : g->plain_leased;
  const std::vector<uint32_t>& draws = g->draws;
  const int64_t at = engine.position();
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<int64_t> left = engine.consume(spaces[draws[i++ & (kDraws - 1)]], 1);
    if (!left.ok()) {
      state.SkipWithError(left.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(left);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  // 0: every consume was on a lease (no record).
  state.counters["log_records"] = static_cast<double>(engine.position() - at);
}

// ---- 6. Settlement ----

void BM_Settle(benchmark::State& state) {
  EnsureLessee();
  Engine& e = *g->lessee;
  internal::Replica& replica = *internal::EngineInternal::impl(e).replica;
  const size_t n = static_cast<size_t>(state.range(0));
  // n leases used since the last settlement (on the lease: untimed).
  const auto use = [&]() -> absl::Status {
    for (size_t k = 0; k < n; ++k) {
      if (absl::Status st = e.consume(g->leased[k], 1).status(); !st.ok()) return st;
    }
    return absl::OkStatus();
  };
  for (auto _ : state) {
    if (absl::Status st = use(); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    const int64_t before = e.position();
    const auto start = Clock::now();
    const absl::Status settled = replica.SettleLeases(/*end_all=*/false);
    state.SetIterationTime(Since(start));
    if (!settled.ok()) {
      state.SkipWithError(settled.ToString().c_str());
      break;
    }
    if (e.position() != before + 1) {
      state.SkipWithError("a settlement is one record");
      break;
    }
  }
  state.counters["leases"] = static_cast<double>(n);
}

// ---- The parts of a change through the log (libpq alone) ----

void BM_RoundTrip(benchmark::State& state) {
  Pg pg(g->conninfo);
  for (auto _ : state) pg.Exec("SELECT 1");
}

// What every change through the log starts with: the read of the log from
// the replica's position (PgLog::Read's query), which returns the record at
// that position (the replica checks its change id) and any after it.
enum class Tail {
  kSingle,    // the record at the position is a single change's, as PgLog runs it
  kPrepared,  // the same query prepared once (PgLog's is parsed and planned each time)
  kBatch,     // the record at the position is a batch's (10,000 remove_member)
};

void BM_ReadTail(benchmark::State& state, Tail tail) {
  Engine& a = A();
  if (tail == Tail::kBatch) {
    std::vector<UserId> users;
    std::vector<WorkspaceId> spaces;
    BatchItems(g->data, kBatchMemberships, 0, &users, &spaces);
    Batch add, remove;
    for (size_t k = 0; k < users.size(); ++k) {
      add.add_member(kSystem, spaces[k], users[k], "member");
      remove.remove_member(kSystem, spaces[k], users[k]);
    }
    OrDie(a.apply(add).status(), "batch");
    OrDie(a.apply(remove).status(), "removal");
  } else {
    Toggle toggle(g->data, 0, 1);
    OrDie(toggle.Step(a), "change");
    toggle.Undo(a);
  }
  Pg pg(g->conninfo);
  const std::string head = absl::StrCat(a.position());
  const std::string read = ReadSql("bench");
  if (tail == Tail::kPrepared) pg.Prepare("read", read);
  for (auto _ : state) {
    const int rows = tail == Tail::kPrepared ? pg.Prepared("read", {head, "1001"})
                                             : pg.Params(read, {head, "1001"}, true);
    if (rows != 1) {
      state.SkipWithError("the tail read found no record");
      break;
    }
  }
}

// A catch-up read: 1,000 records from position 2 (PgLog::Read's query).
// Without statistics on `head`, PostgreSQL JIT-compiles it first.
void BM_Read1000(benchmark::State& state, bool analyzed) {
  const std::string group = analyzed ? "parts" : "parts_fresh";
  ScratchGroup(group, 5000, analyzed);
  Pg pg(g->conninfo);
  const std::string read = ReadSql(group);
  for (auto _ : state) {
    if (pg.Params(read, {"2", "1000"}, true) != 1000) {
      state.SkipWithError("short read");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}

// An autocommitted append_if_head of a record the size of a single change
// (the one statement a change's append is), in a scratch group; with
// `fsync` false the session commits without waiting for the WAL's flush.
void BM_Append(benchmark::State& state, bool fsync) {
  const std::string group = fsync ? "append_fsync" : "append_async";
  ScratchGroup(group, 0, true);
  Pg pg(g->conninfo);
  if (!fsync) pg.Exec("SET synchronous_commit = off");
  int64_t head = std::stoll(pg.Exec(absl::StrCat("SELECT position FROM ", group, ".head")));
  const std::string payload(60, 'x');
  const std::string sql =
      absl::StrCat("SELECT ", group, ".append_if_head($1::bigint, $2::text, $3::bytea, 1)");
  std::vector<double> latency;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    pg.Params(sql, {absl::StrCat(head), absl::StrCat("part-", head), payload});
    latency.push_back(Since(t0) * 1e3);
    ++head;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["append_p50_ms"] = Quantile(latency, 0.50);
  state.counters["append_p99_ms"] = Quantile(latency, 0.99);
}

// PostgreSQL's part of the batch row: an autocommitted append_if_head of
// the very record a batch of kBatchMemberships add_member makes (made once
// on replica A and removed again, its bytes read back from the log), in a
// scratch group: the record stored (TOASTed, compressed), logged and
// flushed.
void BM_AppendBatchRecord(benchmark::State& state) {
  static std::string* record = nullptr;
  if (record == nullptr) {
    std::vector<UserId> users;
    std::vector<WorkspaceId> spaces;
    BatchItems(g->data, kBatchMemberships, 0, &users, &spaces);
    Batch add, remove;
    for (size_t k = 0; k < users.size(); ++k) {
      add.add_member(kSystem, spaces[k], users[k], "member");
      remove.remove_member(kSystem, spaces[k], users[k]);
    }
    OrDie(A().apply(add).status(), "batch");
    const int64_t at = A().last_change_position();
    OrDie(A().apply(remove).status(), "removal");
    record =
        new std::string(Pg(g->conninfo)
                            .Bytes("SELECT payload FROM bench.records WHERE position = $1::bigint",
                                   absl::StrCat(at)));
    ScratchGroup("append_batch", 0, true);
  }
  Pg pg(g->conninfo);
  int64_t head = std::stoll(pg.Exec("SELECT position FROM append_batch.head"));
  const std::string sql = "SELECT append_batch.append_if_head($1::bigint, $2::text, $3::bytea, 1)";
  for (auto _ : state) {
    pg.WithBytes(sql, {absl::StrCat(head), absl::StrCat("batch-", head)}, *record);
    ++head;
  }
  state.counters["record_bytes"] = static_cast<double>(record->size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchMemberships));
}

// The same (no fsync) in a session whose plan of append_if_head's change-id
// lookup was made while `records` held one analyzed row, as happens when a
// group's tables are analyzed while it is new: PL/pgSQL keeps that plan (a
// sequential scan) until something invalidates it (the next ANALYZE of the
// table; a reset of the session's caches), and every append then reads the
// whole log; here 60,000 records. Each call makes a group and a session of
// its own (untimed), so that every repetition times such a plan.
void BM_AppendStalePlan(benchmark::State& state) {
  static int calls = 0;
  const std::string group = absl::StrCat("stale", ++calls);
  ScratchGroup(group, 0, true);
  Pg pg(g->conninfo);
  // Autovacuum would analyze the grown table during the row (and the
  // session would plan again): not here, so that the row shows the plan.
  pg.Exec(absl::StrCat("ALTER TABLE ", group, ".records SET (autovacuum_enabled = off)"));
  pg.Exec(absl::StrCat("ANALYZE ", group, ".records"));
  pg.Exec("SET synchronous_commit = off");
  const std::string payload(60, 'x');
  const std::string sql =
      absl::StrCat("SELECT ", group, ".append_if_head($1::bigint, $2::text, $3::bytea, 1)");
  int64_t head = 1;
  for (; head <= 10; ++head) {  // past PL/pgSQL's custom plans: its generic plan is kept
    pg.Params(sql, {absl::StrCat(head), absl::StrCat("s-", head), payload});
  }
  pg.Exec(absl::StrCat("INSERT INTO ", group,
                       ".records (position, format_version, change_id, payload) SELECT p, 1, "
                       "'x' || p, convert_to(repeat('x', 60), 'UTF8') FROM generate_series(",
                       head + 1, ", ", head + 60000, ") p; UPDATE ", group,
                       ".head SET position = ", head + 60000));
  head += 60000;
  for (auto _ : state) {
    pg.Params(sql, {absl::StrCat(head), absl::StrCat("s-", head), payload});
    ++head;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// `quick`: shorter rows (scripts/bench_replicas.sh --quick).
void Register(int lag_samples, bool quick) {
  using benchmark::RegisterBenchmark;
  const double t1 = quick ? 0.1 : 1.0, t2 = quick ? 0.2 : 2.0, t3 = quick ? 0.3 : 3.0;
  RegisterBenchmark("Replica/catchup", BM_CatchUp)
      ->Iterations(3)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Replica/lag", BM_Lag)
      ->Iterations(lag_samples)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  // threads:1 is one writer, threads:4 four (replicas A, B, C, D).
  RegisterBenchmark("Replica/change", BM_LogChange)
      ->Threads(1)
      ->Threads(4)
      ->Setup(OpenWriters)
      ->Teardown(CloseWriters)
      ->UseRealTime()
      ->MinTime(t3)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Engine/change", BM_EngineChange)->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Sqlite/change/memory", BM_SqliteChange, false)->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Sqlite/change/disk", BM_SqliteChange, true)
      ->UseRealTime()
      ->MinTime(t3)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Replica/batch", BM_EngineBatch, true)
      ->UseManualTime()
      ->MinTime(t2)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Engine/batch", BM_EngineBatch, false)
      ->UseManualTime()
      ->MinTime(t2)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Sqlite/batch/memory", BM_SqliteBatch, false)
      ->UseManualTime()
      ->MinTime(t2)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Sqlite/batch/disk", BM_SqliteBatch, true)
      ->UseManualTime()
      ->MinTime(t2)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Replica/consume/lease", BM_Consume, true);
  RegisterBenchmark("Engine/consume", BM_Consume, false);
  RegisterBenchmark("Replica/settle", BM_Settle)
      ->ArgName("leases")
      ->Arg(1)
      ->Arg(100)
      ->Arg(1000)
      ->UseManualTime()
      ->MinTime(t1)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Log/roundtrip", BM_RoundTrip)->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/read_tail", BM_ReadTail, Tail::kSingle)->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/read_tail/prepared", BM_ReadTail, Tail::kPrepared)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/read_tail/after_batch", BM_ReadTail, Tail::kBatch)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/read_1000", BM_Read1000, true)->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/read_1000/head_unanalyzed", BM_Read1000, false)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/append/fsync", BM_Append, true)
      ->UseRealTime()
      ->MinTime(t2)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/append/no_fsync", BM_Append, false)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("Log/append/batch_record", BM_AppendBatchRecord)
      ->UseRealTime()
      ->MinTime(t2)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Log/append/stale_plan", BM_AppendStalePlan)
      ->Iterations(quick ? 20 : 200)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace tenantry::bench

int main(int argc, char** argv) {
  size_t catchup_memberships = SIZE_MAX;
  int lag_samples = 2000;
  bool quick = false;
  // Our flags first; the rest go to Google Benchmark.
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--catchup_memberships=", 22) == 0) {
      catchup_memberships = static_cast<size_t>(std::max(1000LL, std::atoll(argv[i] + 22)));
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
      catchup_memberships = 10000;
      lag_samples = 200;
    } else if (std::strncmp(argv[i], "--lag_samples=", 14) == 0) {
      lag_samples = std::max(10, std::atoi(argv[i] + 14));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  tenantry::bench::Register(lag_samples, quick);
  tenantry::bench::Setup();
  tenantry::bench::g->catchup_memberships = catchup_memberships;
  benchmark::RunSpecifiedBenchmarks();
  tenantry::bench::Teardown();
  benchmark::Shutdown();
  return 0;
}
