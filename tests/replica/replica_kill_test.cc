// Copyright 2026 The tenantry Authors.
//
// Replicas in many processes, killed at random instants (R1-R7,
// docs/replication.md, "Testing"). A throwaway PostgreSQL (pg_cluster.h)
// holds the group's log; the test seeds the group from a replica of its
// own, then runs replica_worker processes, each a replica of the group
// making random changes and reporting every outcome through a pipe. At
// random instants (a seeded schedule) the test SIGKILLs a worker and starts
// another in its place (a new replica id), SIGKILLs the PostgreSQL
// postmaster, then starts the server again, and SIGKILLs single backends
// (the server recovers by itself): workers get `unavailable`, retry with
// the change's id, and go on. Once, it truncates the log under them (R5).
// Then two workers race conflicting changes (T3, M5): exactly one wins each
// round. At the end the workers stop and digest their state at the log's
// head, three fresh replicas open from the database, and the test checks:
// one position, one digest of every observable fact, verify() (C8 among
// all), every acknowledged change in the log at the position its worker
// was told, refused changes absent, no balance below zero, and credits
// consumed within what was acknowledged (exactly, without leases; minus a
// killed replica's leases with them) and what was acknowledged or of
// unknown outcome (never an overcharge).
//
// Then a pre-forking server: a parent opens a replica, forks 4 workers that
// each call follow(), make a change and read every other's.
//
// Environment (defaults in brackets; docs/replication.md, "Testing"):
//   TENANTRY_REPLICA_KILL_SEED     the schedule's and the workers' seed [time]
//   TENANTRY_REPLICA_KILLS         worker kills per run [5]
//   TENANTRY_PG_KILLS              postmaster kills per run [3]
//   TENANTRY_PG_BACKEND_KILLS      kills of one client backend per run (the
//                                  server restarts itself: a crash whose
//                                  commits may have happened unseen) [2]
//   TENANTRY_REPLICA_KILL_WORKERS  replicas running at once [3]
//   TENANTRY_REPLICA_KILL_SECONDS  length of the kill phase [max(24, 3 s per kill)]
//   TENANTRY_REPLICA_KILL_LEASES   0 or 1: only that lease_credits run [both]
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"
#include "replica_digest.h"
#include "tenantry/engine.h"
#include "tenantry/replica.h"
#include "tenantry/status.h"
#include "test_util.h"

extern char** environ;

namespace tenantry::replica_kill {
namespace {

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  int64_t out = 0;
  return v != nullptr && absl::SimpleAtoi(v, &out) ? out : fallback;
}

struct KillConfig {
  uint64_t seed = 0;
  int workers = 3;
  int kills = 5;
  int pg_kills = 3;
  int backend_kills = 2;
  int64_t seconds = 24;

  static KillConfig FromEnv() {
    KillConfig c;
    // One default for the whole binary: both runs print the same seed.
    static const int64_t now = static_cast<int64_t>(std::time(nullptr) % 1000000);
    c.seed = static_cast<uint64_t>(EnvInt("TENANTRY_REPLICA_KILL_SEED", now));
    c.workers = static_cast<int>(std::max<int64_t>(2, EnvInt("TENANTRY_REPLICA_KILL_WORKERS", 3)));
    c.kills = static_cast<int>(std::max<int64_t>(0, EnvInt("TENANTRY_REPLICA_KILLS", 5)));
    c.pg_kills = static_cast<int>(std::max<int64_t>(0, EnvInt("TENANTRY_PG_KILLS", 3)));
    c.backend_kills =
        static_cast<int>(std::max<int64_t>(0, EnvInt("TENANTRY_PG_BACKEND_KILLS", 2)));
    c.seconds = EnvInt("TENANTRY_REPLICA_KILL_SECONDS",
                       std::max<int64_t>(24, 3 * static_cast<int64_t>(c.kills + c.pg_kills)));
    return c;
  }
};

// ---- The database, through libpq ----

class Sql {
 public:
  Sql() : conn_(PQconnectdb(cluster->conninfo().c_str())) {}
  ~Sql() { PQfinish(conn_); }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  // Rows of `query`, each its columns as text; nullopt if it failed (a
  // test failure if `must`).
  std::optional<std::vector<std::vector<std::string>>> Rows(const std::string& query,
                                                            bool must = true) {
    PGresult* r = PQexec(conn_, query.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      if (must) ADD_FAILURE() << query << ": " << PQerrorMessage(conn_);
      PQclear(r);
      return std::nullopt;
    }
    std::vector<std::vector<std::string>> rows(static_cast<size_t>(PQntuples(r)));
    for (int i = 0; i < PQntuples(r); ++i) {
      for (int j = 0; j < PQnfields(r); ++j) rows[i].push_back(PQgetvalue(r, i, j));
    }
    PQclear(r);
    return rows;
  }

  int64_t Head(const std::string& group) {
    auto rows = Rows(absl::StrCat("SELECT position FROM \"", group, "\".head"));
    int64_t head = -1;
    if (rows.has_value() && rows->size() == 1) (void)absl::SimpleAtoi((*rows)[0][0], &head);
    return head;
  }

 private:
  PGconn* conn_;
};

// Whether the server accepts connections (not down, starting or in crash
// recovery).
bool ServerReady() { return PQping(cluster->conninfo().c_str()) == PQPING_OK; }

// Waits up to `timeout_ms` for it.
bool WaitServerReady(int64_t timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (!ServerReady()) {
    if (NowMs() > deadline) return false;
    SleepMs(50);
  }
  return true;
}

// ---- Processes ----

// `fd` moved to a descriptor >= 10, close-on-exec (posix_spawn's dup2 onto
// 3 and 4 clears the flag there only).
int High(int fd) {
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  return high;
}

// Starts `argv` with `in_fd` as its fd 4 and `out_fd` as its fd 3 (either
// -1: none), its stdout to /dev/null and its stderr appended to `log`
// (libpq prints every server notice there: a crash makes many).
pid_t Spawn(const std::vector<std::string>& args, int out_fd, int in_fd, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&actions, out_fd, 3);
  if (in_fd >= 0) posix_spawn_file_actions_adddup2(&actions, in_fd, 4);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return err == 0 ? pid : -1;
}

// Whether `pid` is there at all: scripts/pg_cluster.sh takes a postmaster
// that is still a zombie for a running server.
bool Alive(pid_t pid) { return std::filesystem::exists(absl::StrCat("/proc/", pid)); }

// The processes whose parent is `parent` (the postmaster's backends and
// helpers, which outlive it for a moment when it is killed).
// The last `n` bytes of the file at `path`.
std::string Tail(const std::string& path, size_t n = 3000) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > n ? text.substr(text.size() - n) : text;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(text.substr(close_paren + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(pid);
  }
  return out;
}

// How the server's System V shared memory segment shows in /proc/PID/maps
// ("/SYSV00afa4b6"), from the key on line 7 of its data/postmaster.pid; ""
// if unknown.
std::string ShmemTag() {
  std::ifstream in(cluster->dir() + "/data/postmaster.pid");
  std::string line;
  for (int i = 0; i < 7 && std::getline(in, line); ++i) {
  }
  std::istringstream fields(line);
  uint64_t key = 0;
  if (!(fields >> key) || key == 0) return "";
  char tag[32];
  std::snprintf(tag, sizeof tag, "/SYSV%08llx", static_cast<unsigned long long>(key));
  return tag;
}

// The processes attached to the segment `tag` names: a killed server's
// backends and helpers until they notice its postmaster is gone (a new
// postmaster refuses to start while any is).
std::vector<pid_t> Holders(const std::string& tag) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream maps(entry.path() / "maps");
    for (std::string line; std::getline(maps, line);) {
      if (line.find(tag) != std::string::npos) {
        out.push_back(pid);
        break;
      }
    }
  }
  return out;
}

pid_t PostmasterPid() {
  std::ifstream in(cluster->dir() + "/postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// The server: killed with SIGKILL, then started again (scripts/pg_cluster.sh
// start DIR) once the killed postmaster's children are gone, all while the
// test goes on reading its workers. Step() moves it along. A child that
// outlives its postmaster by 5 s (one in crash recovery may never look) is
// SIGKILLed too: the server as a whole died.
class Postgres {
 public:
  // `log`: where scripts/pg_cluster.sh's messages go.
  explicit Postgres(std::string log) : log_(std::move(log)) {}
  bool up() const { return state_ == kUp; }

  void Kill() {
    postmaster_ = PostmasterPid();
    ASSERT_GT(postmaster_, 0);
    tag_ = ShmemTag();
    ASSERT_FALSE(tag_.empty()) << "no shared memory key in " << cluster->dir();
    ASSERT_EQ(kill(postmaster_, SIGKILL), 0);
    state_ = kDying;
    killed_at_ = NowMs();
    last_look_ = 0;
    attempts_ = 0;
  }

  void Step() {
    if (state_ == kRecovering) {
      if (NowMs() - last_look_ < 100) return;
      last_look_ = NowMs();
      // Ready again once the crash was seen (or 2 s passed: it may have
      // recovered between two looks).
      const bool ready = ServerReady();
      crash_seen_ |= !ready;
      if (ready && (crash_seen_ || NowMs() - killed_at_ > 2'000)) {
        state_ = kUp;
      } else if (NowMs() - killed_at_ > 60'000) {
        ADD_FAILURE() << "the server did not recover from a backend's kill in 60 s";
        state_ = kFailed;
      }
    } else if (state_ == kDying) {
      if (NowMs() - last_look_ < 100) return;
      last_look_ = NowMs();
      std::vector<pid_t> holders = Holders(tag_);
      const int64_t dead_for = NowMs() - killed_at_;
      if (dead_for > 5'000) {
        for (pid_t p : holders) kill(p, SIGKILL);
      }
      if ((holders.empty() && !Alive(postmaster_)) || dead_for > 20'000) StartServer();
    } else if (state_ == kStarting) {
      int status = 0;
      if (waitpid(starter_, &status, WNOHANG) != starter_) return;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        state_ = kUp;
        ++restarts_;
      } else if (++attempts_ < 6) {
        // Likely a backend of the killed server still attached to its
        // shared memory: try again.
        SleepMs(300);
        StartServer();
      } else {
        ADD_FAILURE() << "scripts/pg_cluster.sh start failed " << attempts_ << " times:\n"
                      << Tail(log_);
        state_ = kFailed;
      }
    }
  }

  // SIGKILLs one client backend (its command line says "[local]"): the
  // postmaster ends every other one and recovers by itself (up() once it
  // accepts connections again). False if none.
  bool KillBackend(uint64_t random) {
    std::vector<pid_t> backends;
    for (pid_t child : ChildrenOf(PostmasterPid())) {
      std::ifstream in(absl::StrCat("/proc/", child, "/cmdline"));
      std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (line.find("[local]") != std::string::npos) backends.push_back(child);
    }
    if (backends.empty()) return false;
    if (kill(backends[random % backends.size()], SIGKILL) != 0) return false;
    ++backend_kills_;
    state_ = kRecovering;
    crash_seen_ = false;
    killed_at_ = NowMs();
    last_look_ = 0;
    return true;
  }

  // Steps until up; false after `timeout_ms`.
  bool WaitUp(int64_t timeout_ms) {
    const int64_t deadline = NowMs() + timeout_ms;
    while (state_ != kUp && state_ != kFailed && NowMs() < deadline) {
      Step();
      SleepMs(20);
    }
    return state_ == kUp;
  }

  int restarts() const { return restarts_; }
  int backend_kills() const { return backend_kills_; }

 private:
  void StartServer() {
    starter_ = Spawn({"/bin/bash", TENANTRY_PG_CLUSTER, "start", cluster->dir()}, -1, -1, log_);
    state_ = starter_ > 0 ? kStarting : kFailed;
  }

  std::string log_;
  enum { kUp, kRecovering, kDying, kStarting, kFailed } state_ = kUp;
  pid_t postmaster_ = -1;
  bool crash_seen_ = false;
  std::string tag_;
  int64_t killed_at_ = 0, last_look_ = 0;
  pid_t starter_ = -1;
  int attempts_ = 0;
  int restarts_ = 0;
  int backend_kills_ = 0;
};

// ---- What the workers reported ----

// One change a worker tried (its B line), and its outcome.
struct Op {
  int64_t gen = 0;
  uint64_t seq = 0;
  std::string kind;
  WorkspaceId ws = 0;
  int64_t amount = 0;
  std::string arg;
  std::string cid;  // "" when not known
  // B: begun, no outcome yet; A acknowledged; R refused; U unknown (retries
  // ran out or no retry by id exists); K in flight when its worker was killed.
  char state = 'B';
  int64_t position = 0;
  std::string result;
  std::string code;      // of a refusal
  bool retried = false;  // it failed with unavailable first
};

bool IsConsume(const std::string& kind) {
  return kind == "consume" || kind == "consume_keyed" || kind == "authorize_consume";
}

struct WorkerProc {
  int64_t gen = 0;
  pid_t pid = -1;
  int report_fd = -1, command_fd = -1;
  std::string buffer;
  bool alive = false;
  bool opened = false, paused = false, quiet = false, digested = false;
  bool terminated = false;  // sent SIGTERM
  int64_t digest_position = 0;
  uint64_t digest_hash = 0;
  std::vector<std::string> races;  // W lines' words after "W"
};

struct Seeded {
  UserId owner = 0, admin = 0;
  AccountId account = 0;
  WorkspaceId hq = 0;
  std::vector<WorkspaceId> funded;
  std::vector<UserId> pool;
  std::set<std::string> keys;
};

Engine::Options ReplicaOptions(const std::string& group, bool lease) {
  Engine::Options o;
  o.log = cluster->conninfo();
  o.group = group;
  o.log_lock_timeout_ms = 2000;
  o.log_poll_ms = 20;
  o.feed_retention = size_t{1} << 22;
  o.ledger_retention = size_t{1} << 22;
  o.lease_credits = lease;
  o.lease_max = 100;
  o.settle_interval_ms = 200;
  return o;
}

// The first line where two digests differ, for the failure message.
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::vector<std::string> la = absl::StrSplit(a, '\n');
  std::vector<std::string> lb = absl::StrSplit(b, '\n');
  for (size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
    const std::string x = i < la.size() ? la[i] : "<end>";
    const std::string y = i < lb.size() ? lb[i] : "<end>";
    if (x != y) return absl::StrCat("line ", i + 1, ":\n    ", x, "\n vs ", y);
  }
  return "no difference";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Chaos {
 public:
  Chaos(KillConfig config, bool lease)
      : config_(config),
        lease_(lease),
        group_(lease ? "g_kill_leases" : "g_kill_log"),
        rng_(config.seed * 2 + (lease ? 1 : 0)),
        dir_(TempDir()),
        postgres_(dir_ + "/pg_cluster.log") {}

  static std::string TempDir() {
    char pattern[] = "/tmp/tenantry-kill-XXXXXX";
    return mkdtemp(pattern) != nullptr ? pattern : "";
  }

  ~Chaos() {
    for (WorkerProc& w : workers_) {
      if (w.alive) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, nullptr, 0);
      }
      if (w.report_fd >= 0) close(w.report_fd);
      if (w.command_fd >= 0) close(w.command_fd);
    }
    observer_.reset();
    if (!dir_.empty() && !::testing::Test::HasFailure()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    } else if (!dir_.empty()) {
      std::printf("replica_kill_test: the workers' digests and stderr are kept in %s\n",
                  dir_.c_str());
    }
  }

  void Run() {
    ASSERT_FALSE(dir_.empty());
    ASSERT_NO_FATAL_FAILURE(SeedGroup());
    for (int i = 0; i < config_.workers; ++i) ASSERT_NO_FATAL_FAILURE(StartWorker());
    const int64_t started = NowMs();
    ASSERT_NO_FATAL_FAILURE(KillPhase());
    if (HasFailure()) return;
    const int64_t killed = NowMs();
    ASSERT_NO_FATAL_FAILURE(RacePhase());
    if (HasFailure()) return;
    const int64_t raced = NowMs();
    ASSERT_NO_FATAL_FAILURE(Finish());
    const int64_t finished = NowMs();
    ASSERT_NO_FATAL_FAILURE(Check());
    std::map<std::string, std::pair<int, int>> kinds;  // kind -> (tried, acknowledged)
    for (const auto& [key, op] : ops_) {
      kinds[op.kind].first++;
      kinds[op.kind].second += op.state == 'A';
    }
    std::string by_kind;
    for (const auto& [kind, n] : kinds) {
      absl::StrAppend(&by_kind, " ", kind, " ", n.second, "/", n.first);
    }
    std::printf("replica_kill_test: acknowledged/tried by kind:%s\n", by_kind.c_str());
    std::printf(
        "replica_kill_test (%s): seed %llu, %d workers at once, %lld started, %d killed, "
        "%d postmaster kills, %d backend kills; %zu changes tried (%d acknowledged, %d of them "
        "after "
        "unavailable, %d refused, %d unknown, %d in flight at a kill), %d unavailable, "
        "%d snapshots, log truncated below %lld; kill phase "
        "%.1f s, races %.1f s, stop and digests %.1f s, checks %.1f s\n",
        lease_ ? "lease_credits" : "consumes through the log",
        static_cast<unsigned long long>(config_.seed), config_.workers,
        static_cast<long long>(next_gen_), kills_, postgres_.restarts(), postgres_.backend_kills(),
        ops_.size(), Count('A'), Count('A', true), Count('R'), Count('U'), Count('K'), transient_,
        snapshots_, static_cast<long long>(truncated_to_), (killed - started) / 1000.0,
        (raced - killed) / 1000.0, (finished - raced) / 1000.0, (NowMs() - finished) / 1000.0);
  }

 private:
  int Count(char state, bool retried = false) const {
    int n = 0;
    for (const auto& [k, op] : ops_) n += op.state == state && (op.retried || !retried);
    return n;
  }

  // ---- Seed ----

  void SeedGroup() {
    ASSERT_TRUE(WaitServerReady(60'000)) << "the server is not up";
    absl::StatusOr<std::unique_ptr<Engine>> opened = OpenReplica(ReplicaOptions(group_, lease_));
    ASSERT_TRUE(opened.ok()) << opened.status();
    observer_ = *std::move(opened);
    Engine& e = *observer_;
    Seeded& s = seed_;
    TNY_ASSERT_OK_AND_ASSIGN(s.owner, e.create_user("owner@kill.test"));
    TNY_ASSERT_OK_AND_ASSIGN(s.admin, e.create_user("admin@kill.test"));
    s.keys = {"owner@kill.test", "admin@kill.test"};
    AccountSpec spec;
    spec.name = "Kill";
    spec.owner = s.owner;
    spec.plan = Plan::Named("enterprise");
    spec.key = "kill";
    TNY_ASSERT_OK_AND_ASSIGN(s.account, e.create_account(spec));
    TNY_ASSERT_OK(e.add_staff(s.owner, s.account, s.admin, "admin"));
    Batch pool;
    for (int i = 0; i < 24; ++i) {
      const std::string key = absl::StrCat("pool-", i, "@kill.test");
      pool.create_user(key);
      s.keys.insert(key);
    }
    TNY_ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> ids, e.apply(pool, "seed-pool"));
    s.pool.assign(ids.begin(), ids.end());
    WorkspaceSpec hq;
    hq.name = "HQ";
    hq.type = WorkspaceType::kAgency;
    TNY_ASSERT_OK_AND_ASSIGN(s.hq, e.create_workspace(s.owner, s.account, hq));
    TNY_ASSERT_OK(e.grant(kSystem, s.account, 50'000'000));
    for (int i = 0; i < 4; ++i) {
      WorkspaceSpec f;
      f.name = absl::StrCat("Funded ", i);
      if (i >= 2) f.parent = s.hq;
      TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws, e.create_workspace(s.owner, s.account, f));
      TNY_ASSERT_OK(e.transfer(s.owner, s.account, ws, 5000).status());
      s.funded.push_back(ws);
    }
    for (int i = 0; i < 6; ++i) {
      TNY_ASSERT_OK(e.add_member(s.owner, s.funded[i % 4], s.pool[i], i < 3 ? "member" : "client"));
    }
    TNY_ASSERT_OK(e.create_team(s.owner, s.funded[0], "Team 0", "viewer").status());
  }

  // ---- Workers ----

  void StartWorker() {
    WorkerProc w;
    w.gen = next_gen_++;
    int report[2], command[2];
    ASSERT_EQ(pipe(report), 0);
    ASSERT_EQ(pipe(command), 0);
    const int report_w = High(report[1]), command_r = High(command[0]);
    w.report_fd = High(report[0]);
    w.command_fd = High(command[1]);
    fcntl(w.report_fd, F_SETFL, fcntl(w.report_fd, F_GETFL) | O_NONBLOCK);
    const std::vector<std::string> args = {
        TENANTRY_REPLICA_WORKER,
        absl::StrCat("conninfo=", cluster->conninfo()),
        absl::StrCat("group=", group_),
        absl::StrCat("replica_id=k", lease_ ? "l" : "n", "-g", w.gen),
        absl::StrCat("gen=", w.gen),
        absl::StrCat("seed=", config_.seed * 1000 + static_cast<uint64_t>(w.gen) * 2 + lease_),
        absl::StrCat("lease=", lease_ ? 1 : 0),
        "lease_max=100",
        absl::StrCat("account=", seed_.account),
        absl::StrCat("owner=", seed_.owner),
        absl::StrCat("hq=", seed_.hq),
        absl::StrCat("funded=", absl::StrJoin(seed_.funded, ",")),
        absl::StrCat("pool=", absl::StrJoin(seed_.pool, ","))};
    w.pid = Spawn(args, report_w, command_r, absl::StrCat(dir_, "/worker-g", w.gen, ".stderr"));
    close(report_w);
    close(command_r);
    ASSERT_GT(w.pid, 0) << "cannot start " << TENANTRY_REPLICA_WORKER;
    w.alive = true;
    workers_.push_back(std::move(w));
  }

  void Send(WorkerProc& w, const std::string& line) {
    const std::string text = line + "\n";
    if (write(w.command_fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      ADD_FAILURE() << "worker g" << w.gen << " does not take commands";
    }
  }

  Op& OpOf(const WorkerProc& w, const std::string& seq_text) {
    uint64_t seq = 0;
    (void)absl::SimpleAtoi(seq_text, &seq);
    Op& op = ops_[{w.gen, seq}];
    op.gen = w.gen;
    op.seq = seq;
    return op;
  }

  void Line(WorkerProc& w, const std::string& line) {
    const std::vector<std::string> f = absl::StrSplit(line, ' ');
    const std::string& t = f[0];
    if (t == "B" && f.size() == 7) {
      Op& op = OpOf(w, f[1]);
      op.kind = f[2];
      (void)absl::SimpleAtoi(f[3], &op.ws);
      (void)absl::SimpleAtoi(f[4], &op.amount);
      op.arg = f[5];
      op.cid = f[6] == "-" ? "" : f[6];
      if (op.kind == "create_user") seed_.keys.insert(op.arg);
      if (op.kind == "batch") {
        for (absl::string_view part : absl::StrSplit(op.arg, ',')) {
          if (absl::ConsumePrefix(&part, "create_user:")) seed_.keys.insert(std::string(part));
        }
      }
    } else if (t == "A" && f.size() == 5) {
      Op& op = OpOf(w, f[1]);
      op.state = 'A';
      (void)absl::SimpleAtoi(f[2], &op.position);
      op.result = f[3];
      if (f[4] != "-") op.cid = f[4];
    } else if (t == "R" && f.size() == 3) {
      Op& op = OpOf(w, f[1]);
      op.state = 'R';
      op.code = f[2];
    } else if (t == "U" && f.size() == 3) {
      Op& op = OpOf(w, f[1]);
      op.state = 'U';
      if (f[2] != "-") op.cid = f[2];
    } else if (t == "T" && f.size() == 2) {
      OpOf(w, f[1]).retried = true;
      ++transient_;
    } else if (t == "X") {
      log_errors_.push_back(absl::StrCat("g", w.gen, ": ", line));
    } else if (t == "N") {
      ADD_FAILURE() << "worker g" << w.gen << " saw a balance below zero: " << line;
    } else if (t == "F") {
      ADD_FAILURE() << "worker g" << w.gen << " (replica k" << (lease_ ? "l" : "n") << "-g" << w.gen
                    << ") stopped working: " << line;
    } else if (t == "O") {
      w.opened = true;
    } else if (t == "P") {
      w.paused = true;
    } else if (t == "S") {
      ++snapshots_;
    } else if (t == "W") {
      w.races.push_back(line.substr(2));
    } else if (t == "Q") {
      w.quiet = true;
    } else if (t == "D" && f.size() == 3) {
      w.digested = true;
      (void)absl::SimpleAtoi(f[1], &w.digest_position);
      (void)absl::SimpleAtoi(f[2], &w.digest_hash);
    } else {
      ADD_FAILURE() << "worker g" << w.gen << " said something unexpected: " << line;
    }
  }

  // Reads what `w` wrote; false at the end of its pipe.
  bool Drain(WorkerProc& w) {
    char buf[65536];
    for (;;) {
      const ssize_t n = read(w.report_fd, buf, sizeof buf);
      if (n == 0) return false;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK ? false : true;
      w.buffer.append(buf, static_cast<size_t>(n));
      for (size_t end; (end = w.buffer.find('\n')) != std::string::npos;) {
        Line(w, w.buffer.substr(0, end));
        w.buffer.erase(0, end + 1);
      }
    }
  }

  // A worker's pipe ended: it exited. After SIGTERM it must have exited 0;
  // otherwise it is a failure.
  void Reap(WorkerProc& w) {
    int status = 0;
    waitpid(w.pid, &status, 0);
    w.alive = false;
    close(w.report_fd);
    close(w.command_fd);
    w.report_fd = w.command_fd = -1;
    if (w.terminated) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "worker g" << w.gen << " did not close and exit 0 on SIGTERM: status " << status
          << "; its stderr ends:\n"
          << Tail(absl::StrCat(dir_, "/worker-g", w.gen, ".stderr"));
    } else {
      ADD_FAILURE() << "worker g" << w.gen << " ended by itself: "
                    << (WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status))
                                          : absl::StrCat("signal ", WTERMSIG(status)))
                    << "; its stderr ends:\n"
                    << Tail(absl::StrCat(dir_, "/worker-g", w.gen, ".stderr"));
    }
  }

  // Waits up to `ms` for the workers' reports, reading them.
  void Pump(int64_t ms) {
    std::vector<pollfd> fds;
    std::vector<WorkerProc*> who;
    for (WorkerProc& w : workers_) {
      if (!w.alive) continue;
      fds.push_back({w.report_fd, POLLIN, 0});
      who.push_back(&w);
    }
    if (fds.empty()) {
      SleepMs(ms);
      return;
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(ms)) <= 0) return;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (!Drain(*who[i])) Reap(*who[i]);
    }
  }

  void KillWorker(WorkerProc& w) {
    kill(w.pid, SIGKILL);
    int status = 0;
    waitpid(w.pid, &status, 0);
    // Whatever it wrote before it died is still in the pipe.
    fcntl(w.report_fd, F_SETFL, fcntl(w.report_fd, F_GETFL) & ~O_NONBLOCK);
    while (Drain(w)) {
    }
    w.alive = false;
    close(w.report_fd);
    close(w.command_fd);
    w.report_fd = w.command_fd = -1;
    for (auto& [key, op] : ops_) {
      if (op.gen == w.gen && op.state == 'B') op.state = 'K';
    }
    ++kills_;
    killed_gens_.insert(w.gen);
  }

  std::vector<WorkerProc*> Live() {
    std::vector<WorkerProc*> out;
    for (WorkerProc& w : workers_) {
      if (w.alive) out.push_back(&w);
    }
    return out;
  }

  // No balance or pool of the seed is ever below zero, as the observer
  // (a replica in this process, following all along) sees it.
  void SampleBalances() {
    for (WorkspaceId ws : seed_.funded) {
      absl::StatusOr<Balance> b = observer_->balance(ws);
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_TRUE(b->buckets[0] >= 0 && b->buckets[1] >= 0 && b->held >= 0 && b->consumed >= 0)
          << "workspace " << ws << " at position " << observer_->position() << ": " << b->buckets[0]
          << "/" << b->buckets[1] << " held " << b->held;
    }
    absl::StatusOr<AccountBalance> pool = observer_->account_balance(seed_.account);
    ASSERT_TRUE(pool.ok()) << pool.status();
    EXPECT_TRUE(pool->buckets[0] >= 0 && pool->buckets[1] >= 0);
  }

  // ---- Phases ----

  void KillPhase() {
    const int64_t start = NowMs();
    const int64_t length = config_.seconds * 1000;
    enum Kind { kWorker, kPostmaster, kBackend, kTruncate };
    struct Event {
      int64_t at;
      Kind kind;
    };
    std::vector<Event> events;
    std::uniform_int_distribution<int64_t> when(std::min<int64_t>(2000, length / 4),
                                                std::max<int64_t>(length - 2000, length / 2));
    for (int i = 0; i < config_.kills; ++i) events.push_back({start + when(rng_), kWorker});
    for (int i = 0; i < config_.pg_kills; ++i) events.push_back({start + when(rng_), kPostmaster});
    for (int i = 0; i < config_.backend_kills; ++i) {
      events.push_back({start + when(rng_), kBackend});
    }
    // R5: once, the log is truncated under the workers (what the two newest
    // snapshots need is kept); new replicas start from a snapshot then.
    events.push_back(
        {start + length / 3 + static_cast<int64_t>(rng_() % (length / 3 + 1)), kTruncate});
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return a.at < b.at; });
    size_t next = 0;
    int64_t last_sample = 0;
    const int64_t give_up = start + length + 120'000;
    while ((NowMs() < start + length || next < events.size()) && NowMs() < give_up) {
      Pump(20);
      postgres_.Step();
      if (HasFailure()) return;
      if (NowMs() - last_sample > 250) {
        ASSERT_NO_FATAL_FAILURE(SampleBalances());
        last_sample = NowMs();
      }
      if (next >= events.size() || NowMs() < events[next].at) continue;
      if (events[next].kind == kTruncate) {
        if (!postgres_.up() || !Truncate()) continue;
      } else if (events[next].kind != kWorker) {
        // One outage at a time: the next kill waits for the server.
        if (!postgres_.up()) continue;
        if (events[next].kind == kPostmaster) {
          ASSERT_NO_FATAL_FAILURE(postgres_.Kill());
        } else if (!postgres_.KillBackend(rng_())) {
          continue;  // no client connected this instant: a little later
        }
      } else {
        std::vector<WorkerProc*> live = Live();
        ASSERT_FALSE(live.empty());
        KillWorker(*live[rng_() % live.size()]);
        ASSERT_NO_FATAL_FAILURE(StartWorker());
      }
      ++next;
    }
    ASSERT_EQ(next, events.size()) << "the kill schedule did not finish in time";
    ASSERT_TRUE(postgres_.WaitUp(60'000)) << "the server did not come back";
    EXPECT_EQ(postgres_.restarts(), config_.pg_kills);
    EXPECT_EQ(postgres_.backend_kills(), config_.backend_kills);
  }

  // Keeps the records' change ids first (the checks look acknowledged
  // changes up in them), then truncates the log from the observer.
  // False when the server did not answer: try again a little later.
  bool Truncate() {
    Sql sql;
    auto rows = sql.Rows(absl::StrCat("SELECT position, change_id FROM \"", group_, "\".records"),
                         /*must=*/false);
    if (!rows.has_value()) return false;
    for (const auto& row : *rows) {
      int64_t p = 0;
      if (absl::SimpleAtoi(row[0], &p)) early_records_[p] = row[1];
    }
    absl::StatusOr<int64_t> kept = TruncateLog(*observer_);
    if (absl::IsUnavailable(kept.status())) return false;
    EXPECT_TRUE(kept.ok()) << kept.status();
    if (kept.ok()) truncated_to_ = *kept;
    return true;
  }

  // Pumps until `done` or `ms` passed; false on timeout.
  template <typename F>
  bool PumpUntil(F done, int64_t ms) {
    const int64_t deadline = NowMs() + ms;
    while (!done()) {
      if (NowMs() > deadline || HasFailure()) return false;
      Pump(20);
    }
    return true;
  }

  static bool HasFailure() { return ::testing::Test::HasFailure(); }

  // Makes `change` on the observer, retrying while the log is unavailable.
  template <typename F>
  auto OnObserver(F change) -> decltype(change()) {
    auto result = change();
    for (int i = 0; i < 100 && absl::IsUnavailable(test::StatusOf(result)); ++i) {
      Pump(100);
      result = change();
    }
    return result;
  }

  // T3 and M5 across replicas: two workers are told to make conflicting
  // changes at the same instant, while the others go on with theirs.
  void RacePhase() {
    std::vector<WorkerProc*> live = Live();
    ASSERT_GE(live.size(), 2u);
    // Both racers have opened their replicas.
    ASSERT_TRUE(PumpUntil([&] { return live[0]->opened && live[1]->opened; }, 90'000))
        << "racers did not open";
    const int rounds = 6;
    for (int round = 0; round < rounds; ++round) {
      WorkerProc& a = *live[round % 2];
      WorkerProc& b = *live[1 - round % 2];
      const size_t a_before = a.races.size(), b_before = b.races.size();
      // T3: the same slug from both.
      int64_t start = WallMs() + 400;
      const std::string name = absl::StrCat(lease_ ? "L" : "N", round);
      Send(a, absl::StrCat("race slug ", round, " ", start, " ", name));
      Send(b, absl::StrCat("race slug ", round, " ", start, " ", name));
      ASSERT_TRUE(
          PumpUntil([&] { return a.races.size() > a_before && b.races.size() > b_before; }, 60'000))
          << "the slug race of round " << round << " got no answer";
      JudgeRace("slug", round, a.races.back(), b.races.back());
      // M5: one makes a new user staff, the other a client, at once.
      const std::string key = absl::StrCat("race-", name, "@kill.test");
      seed_.keys.insert(key);
      absl::StatusOr<UserId> user = OnObserver([&] { return observer_->create_user(key); });
      ASSERT_TRUE(user.ok()) << user.status();
      const int64_t at = observer_->last_change_position();
      const WorkspaceId ws = seed_.funded[static_cast<size_t>(round) % seed_.funded.size()];
      start = WallMs() + 400;
      const size_t a_mid = a.races.size(), b_mid = b.races.size();
      Send(a, absl::StrCat("race staff ", round, " ", start, " ", at, " ", *user));
      Send(b, absl::StrCat("race client ", round, " ", start, " ", at, " ", *user, " ", ws));
      ASSERT_TRUE(
          PumpUntil([&] { return a.races.size() > a_mid && b.races.size() > b_mid; }, 60'000))
          << "the M5 race of round " << round << " got no answer";
      JudgeRace("M5", round, a.races.back(), b.races.back());
      race_users_.push_back(*user);
    }
    // One more replica, stopped with SIGTERM while it makes changes: it
    // closes its replica and exits 0; every change it began has an outcome.
    ASSERT_NO_FATAL_FAILURE(StartWorker());
    WorkerProc& extra = workers_.back();
    ASSERT_TRUE(PumpUntil([&] { return extra.opened; }, 90'000));
    Pump(300);
    extra.terminated = true;
    ASSERT_EQ(kill(extra.pid, SIGTERM), 0);
    ASSERT_TRUE(PumpUntil([&] { return !extra.alive; }, 60'000))
        << "worker g" << extra.gen << " did not exit on SIGTERM";
  }

  // Each of `a` and `b` is "round kind code position result": exactly one ok.
  void JudgeRace(const std::string& what, int round, const std::string& a, const std::string& b) {
    const std::vector<std::string> x = absl::StrSplit(a, ' ');
    const std::vector<std::string> y = absl::StrSplit(b, ' ');
    ASSERT_GE(x.size(), 3u);
    ASSERT_GE(y.size(), 3u);
    EXPECT_TRUE(x[2] != "unknown" && y[2] != "unknown")
        << what << " race " << round << ": an outcome stayed unknown: " << a << " / " << b;
    EXPECT_EQ((x[2] == "ok") + (y[2] == "ok"), 1)
        << what << " race " << round << ": exactly one must win: " << a << " / " << b;
    if (what == "slug") {
      for (const auto* w : {&x, &y}) {
        if ((*w)[2] == "ok" && w->size() >= 5) {
          uint64_t id = 0;
          (void)absl::SimpleAtoi((*w)[4], &id);
          race_workspaces_[absl::StrCat("Race ", lease_ ? "L" : "N", round)] = id;
        }
      }
    }
  }

  void Finish() {
    for (WorkerProc* w : Live()) Send(*w, "finish");
    ASSERT_TRUE(PumpUntil(
        [&] {
          for (WorkerProc* w : Live()) {
            if (!w->quiet) return false;
          }
          return true;
        },
        90'000))
        << "workers did not stop changing";
    if (lease_) SleepMs(1000);  // what the leases consumed is settled meanwhile
    Sql sql;
    const int64_t head = sql.Head(group_);
    ASSERT_GT(head, 0);
    const std::string keys = dir_ + "/keys";
    {
      std::ofstream out(keys);
      for (const std::string& k : seed_.keys) out << k << "\n";
    }
    for (WorkerProc* w : Live()) {
      Send(*w, absl::StrCat("digest ", head, " ", keys, " ", dir_, "/digest-g", w->gen));
    }
    const int64_t deadline = NowMs() + 180'000;
    while (!Live().empty() && NowMs() < deadline) {
      std::vector<pollfd> fds;
      std::vector<WorkerProc*> who = Live();
      for (WorkerProc* w : who) fds.push_back({w->report_fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        if (Drain(*who[i])) continue;
        int status = 0;
        waitpid(who[i]->pid, &status, 0);
        who[i]->alive = false;
        close(who[i]->report_fd);
        close(who[i]->command_fd);
        who[i]->report_fd = who[i]->command_fd = -1;
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "worker g" << who[i]->gen << " did not stop cleanly: status " << status
            << "; its stderr ends:\n"
            << Tail(absl::StrCat(dir_, "/worker-g", who[i]->gen, ".stderr"));
        EXPECT_TRUE(who[i]->digested) << "worker g" << who[i]->gen << " sent no digest";
      }
    }
    ASSERT_TRUE(Live().empty()) << "workers did not exit";
    digest_head_ = head;
  }

  // ---- Checks ----

  void Check() {
    Sql sql;
    const int64_t head = sql.Head(group_);
    ASSERT_GT(head, 0);
    if (!lease_) {
      EXPECT_EQ(head, digest_head_) << "a change after every worker was quiet";
    }
    // Every replica at the head, with one digest.
    std::vector<std::unique_ptr<Engine>> fresh;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::unique_ptr<Engine>> e = OpenReplica(ReplicaOptions(group_, lease_));
      ASSERT_TRUE(e.ok()) << e.status();
      TNY_ASSERT_OK((*e)->wait_for(head, 60'000));
      fresh.push_back(*std::move(e));
    }
    TNY_ASSERT_OK(observer_->wait_for(head, 60'000));
    const std::vector<std::string> keys(seed_.keys.begin(), seed_.keys.end());
    const std::string digest = StateDigest(*fresh[0], keys);
    for (size_t i = 1; i < fresh.size(); ++i) {
      const std::string other = StateDigest(*fresh[i], keys);
      EXPECT_EQ(Fnv64(other), Fnv64(digest))
          << "fresh replicas " << i << " and 0 differ at " << FirstDifference(other, digest);
    }
    const std::string observed = StateDigest(*observer_, keys);
    EXPECT_EQ(Fnv64(observed), Fnv64(digest))
        << "the observer and a fresh replica differ at " << FirstDifference(observed, digest);
    int compared = 0;
    for (const WorkerProc& w : workers_) {
      if (!w.digested) continue;
      // Without leases nothing is appended once the workers are quiet: every
      // survivor digested the final head. With leases, closing settles them.
      if (w.digest_position != head) {
        EXPECT_TRUE(lease_) << "worker g" << w.gen << " digested position " << w.digest_position
                            << ", the head is " << head;
        continue;
      }
      ++compared;
      const std::string theirs = ReadFile(absl::StrCat(dir_, "/digest-g", w.gen));
      EXPECT_EQ(w.digest_hash, Fnv64(theirs));
      EXPECT_EQ(Fnv64(theirs), Fnv64(digest))
          << "worker g" << w.gen << " and a fresh replica differ at "
          << FirstDifference(theirs, digest);
    }
    if (!lease_) {
      EXPECT_EQ(compared, config_.workers);
    }
    for (const auto& e : fresh) TNY_EXPECT_OK(e->verify());
    TNY_EXPECT_OK(observer_->verify());
    EXPECT_TRUE(log_errors_.empty()) << "changes failed with errors that are neither a refusal "
                                        "nor unavailable:\n"
                                     << absl::StrJoin(log_errors_, "\n");
    ASSERT_NO_FATAL_FAILURE(CheckAcknowledged(*fresh[0], sql, head));
    ASSERT_NO_FATAL_FAILURE(CheckCredits(*fresh[0], sql));
    ASSERT_NO_FATAL_FAILURE(CheckRaces(*fresh[0]));
  }

  // The group's records: position -> change id (with those truncated away,
  // as Truncate kept them).
  std::map<int64_t, std::string> Records(Sql& sql) {
    std::map<int64_t, std::string> out = early_records_;
    auto rows = sql.Rows(absl::StrCat("SELECT position, change_id FROM \"", group_, "\".records"));
    if (!rows.has_value()) return out;
    for (const auto& row : *rows) {
      int64_t p = 0;
      (void)absl::SimpleAtoi(row[0], &p);
      out[p] = row[1];
    }
    return out;
  }

  void CheckAcknowledged(const Engine& e, Sql& sql, int64_t head) {
    const std::map<int64_t, std::string> records = Records(sql);
    std::map<int64_t, std::string> taken;      // position -> the acknowledged change there
    std::map<std::string, const Op*> keyed;    // idempotency key -> its acknowledged consume
    std::map<std::string, const Op*> batches;  // change id -> its acknowledged batch
    for (const auto& [key, op] : ops_) {
      if (op.kind == "consume_keyed" && op.state == 'A') keyed[op.arg] = &op;
      if (op.kind == "batch" && op.state == 'A') batches[op.cid] = &op;
    }
    int checked_ids = 0;
    for (const auto& [key, op] : ops_) {
      const std::string name = absl::StrCat("g", op.gen, "#", op.seq, " ", op.kind, " ", op.arg);
      if (op.state == 'B') {
        ADD_FAILURE() << name << ": no outcome from a worker that was not killed";
        continue;
      }
      // Consumes on a lease leave the position where it was; a denied
      // authorize_and_consume appends nothing (A7).
      const bool in_log = op.kind != "consume_again" && op.kind != "batch_again" &&
                          (op.kind != "authorize_consume" || op.result == "1") &&
                          (!lease_ || op.kind == "consume_keyed" || !IsConsume(op.kind));
      if (op.state == 'A' && in_log) {
        EXPECT_GE(op.position, 2) << name;
        EXPECT_LE(op.position, head) << name;
        auto record = records.find(op.position);
        EXPECT_NE(record, records.end()) << name << ": no record at " << op.position;
        if (record != records.end() && !op.cid.empty()) {
          EXPECT_EQ(record->second, op.cid) << name << " at position " << op.position;
          ++checked_ids;
        }
        // Two acknowledged changes never share a record.
        auto [it, fresh] = taken.emplace(op.position, name);
        EXPECT_TRUE(fresh) << name << " and " << it->second << " both at " << op.position;
      }
      // A keyed consume made again is answered with the first result (C5,
      // R7): never refused, never debited twice (CheckCredits).
      if (op.kind == "consume_again") {
        EXPECT_NE(op.state, 'R') << name << " refused (" << op.code << ")";
        auto first = keyed.find(op.arg);
        EXPECT_NE(first, keyed.end()) << name << ": made again before it was acknowledged";
        if (op.state == 'A' && first != keyed.end()) {
          EXPECT_EQ(op.result, first->second->result) << name << ": another answer than the first";
        }
      }
      // A batch applied again with its change id is answered from the log:
      // the first ids, the first position (R7).
      if (op.kind == "batch_again") {
        EXPECT_NE(op.state, 'R') << name << " refused (" << op.code << ")";
        auto first = batches.find(op.arg);
        EXPECT_NE(first, batches.end()) << name << ": made again before it was acknowledged";
        if (op.state == 'A' && first != batches.end()) {
          EXPECT_EQ(op.position, first->second->position) << name;
          if (first->second->result != "-") {
            EXPECT_EQ(op.result, first->second->result) << name << ": other ids than the first";
          }
        }
      }
      // Unknown outcomes with an id: in the log or not, never twice.
      if ((op.state == 'U' || op.state == 'A') && !op.cid.empty()) {
        int n = 0;
        for (const auto& [p, id] : records) n += id == op.cid;
        EXPECT_LE(n, 1) << name << ": change id " << op.cid << " appended twice";
      }
      // What the change created is there, with the id its worker was given;
      // a refused change created nothing.
      std::vector<std::string> parts;
      if (op.kind == "batch") {
        parts = absl::StrSplit(op.arg, ',');
      } else if (op.kind == "create_user" || op.kind == "create_workspace") {
        parts = {absl::StrCat(op.kind, ":", op.arg)};
      }
      std::vector<std::string> ids = absl::StrSplit(op.result, ',');
      for (size_t i = 0; i < parts.size(); ++i) {
        absl::string_view part = parts[i];
        const bool acked = op.state == 'A';
        uint64_t id = 0;
        const bool id_known = acked && ids.size() == parts.size() && absl::SimpleAtoi(ids[i], &id);
        if (absl::ConsumePrefix(&part, "create_user:")) {
          absl::StatusOr<UserId> user = e.user(part);
          if (acked) {
            EXPECT_TRUE(user.ok()) << name << ": user " << part << " is lost";
            if (user.ok() && id_known) {
              EXPECT_EQ(*user, id) << name;
            }
          } else if (op.state == 'R') {
            EXPECT_FALSE(user.ok()) << name << " was refused, yet user " << part << " exists";
          }
        } else if (absl::ConsumePrefix(&part, "create_workspace:") && acked) {
          const std::string ws_name = absl::StrJoin(absl::StrSplit(part, '_'), " ");
          if (id_known) {
            absl::StatusOr<WorkspaceInfo> info = e.workspace(id);
            EXPECT_TRUE(info.ok() && info->name == ws_name) << name << ": workspace " << id;
          }
          // T3 across replicas: one acknowledged creation per shared name.
          if (absl::StartsWith(ws_name, "Shared ")) {
            auto [it, first] = shared_names_.emplace(ws_name, name);
            EXPECT_TRUE(first) << ws_name << " created twice: by " << it->second << " and " << name;
          }
        }
      }
    }
    if (!lease_) {
      EXPECT_GT(checked_ids, 0) << "no acknowledged change carried a known id";
    }
  }

  void CheckCredits(const Engine& e, Sql& sql) {
    const std::map<int64_t, std::string> records = Records(sql);
    std::set<std::string> in_log;
    for (const auto& [p, id] : records) in_log.insert(id);
    std::map<WorkspaceId, int64_t> acked, resolved, maybe, unknown;
    for (const auto& [key, op] : ops_) {
      if (!IsConsume(op.kind)) continue;
      if (op.state == 'A') {
        if (op.kind != "authorize_consume" || op.result == "1") acked[op.ws] += op.amount;
      } else if (op.state == 'U' || op.state == 'K') {
        unknown[op.ws] += op.amount;
        if (op.cid.empty()) {
          maybe[op.ws] += op.amount;
        } else if (in_log.count(op.cid) > 0) {
          resolved[op.ws] += op.amount;
        }
      }
    }
    const int64_t killed = static_cast<int64_t>(killed_gens_.size());
    for (WorkspaceId ws : seed_.funded) {
      absl::StatusOr<Balance> b = e.balance(ws);
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_GE(b->buckets[0], 0);
      EXPECT_GE(b->buckets[1], 0);
      const std::string what =
          absl::StrCat("workspace ", ws, ": consumed ", b->consumed, ", acknowledged ", acked[ws],
                       ", unknown ", unknown[ws], " (in the log ", resolved[ws], ", without an id ",
                       maybe[ws], "), ", killed, " replicas killed");
      // Never an overcharge.
      EXPECT_LE(b->consumed, acked[ws] + unknown[ws]) << what;
      if (lease_) {
        // A killed replica's unsettled lease is forgiven (R6).
        EXPECT_GE(b->consumed, acked[ws] - killed * 100) << what;
      } else {
        // Through the log: exact, up to the outcomes nobody learnt.
        EXPECT_GE(b->consumed, acked[ws] + resolved[ws]) << what;
        EXPECT_LE(b->consumed, acked[ws] + resolved[ws] + maybe[ws]) << what;
      }
      std::printf("replica_kill_test: %s\n", what.c_str());
    }
  }

  void CheckRaces(const Engine& e) {
    for (const auto& [name, id] : race_workspaces_) {
      absl::StatusOr<WorkspaceInfo> info = e.workspace(id);
      EXPECT_TRUE(info.ok() && info->name == name) << name << " is not workspace " << id;
    }
    // M5: every raced user is staff or a client, never both (random changes
    // after the race may have removed either).
    for (UserId user : race_users_) {
      const bool staff = e.staff(seed_.account, user).ok();
      bool client = false;
      for (WorkspaceId ws : seed_.funded) {
        absl::StatusOr<std::vector<Member>> members = e.members(ws);
        ASSERT_TRUE(members.ok());
        for (const Member& m : *members) client |= m.user == user && m.role == "client";
      }
      EXPECT_FALSE(staff && client) << "user " << user << " (M5)";
    }
  }

  KillConfig config_;
  bool lease_;
  std::string group_;
  std::mt19937_64 rng_;
  std::string dir_;
  std::unique_ptr<Engine> observer_;
  Seeded seed_;
  Postgres postgres_;
  std::deque<WorkerProc> workers_;  // a deque: pointers to workers stay valid
  int64_t next_gen_ = 0;
  int kills_ = 0;
  std::set<int64_t> killed_gens_;
  int transient_ = 0, snapshots_ = 0;
  std::map<std::pair<int64_t, uint64_t>, Op> ops_;
  std::vector<std::string> log_errors_;
  std::map<std::string, uint64_t> race_workspaces_;
  std::vector<UserId> race_users_;
  std::map<std::string, std::string> shared_names_;
  int64_t digest_head_ = 0;
  std::map<int64_t, std::string> early_records_;
  int64_t truncated_to_ = 0;  // the first position the truncation kept
};

void RunChaos(bool lease) {
  const char* only = std::getenv("TENANTRY_REPLICA_KILL_LEASES");
  if (only != nullptr && *only != '\0' && (std::string(only) == "1") != lease) {
    GTEST_SKIP() << "TENANTRY_REPLICA_KILL_LEASES=" << only;
  }
  const KillConfig config = KillConfig::FromEnv();
  std::printf(
      "replica_kill_test: TENANTRY_REPLICA_KILL_SEED=%llu TENANTRY_REPLICA_KILLS=%d "
      "TENANTRY_PG_KILLS=%d TENANTRY_PG_BACKEND_KILLS=%d TENANTRY_REPLICA_KILL_WORKERS=%d "
      "TENANTRY_REPLICA_KILL_SECONDS=%lld\n",
      static_cast<unsigned long long>(config.seed), config.kills, config.pg_kills,
      config.backend_kills, config.workers, static_cast<long long>(config.seconds));
  std::fflush(stdout);
  SCOPED_TRACE(absl::StrCat("TENANTRY_REPLICA_KILL_SEED=", config.seed));
  Chaos chaos(config, lease);
  chaos.Run();
}

TEST(ReplicaKill, R2_R7_KilledReplicasAndDatabaseLoseNothingAcknowledged) { RunChaos(false); }

TEST(ReplicaKill, R6_R7_KilledReplicasWithLeasesNeverOvercharge) { RunChaos(true); }

// ---- A pre-forking server (R5) ----

// A parent opens a replica and forks 4 workers; each calls follow(), makes
// a change, says its position, and once told the newest of all positions
// reads every worker's change. The parent reads them too.
TEST(ReplicaKill, R5_PreforkedWorkersSeeEveryWorkersChanges) {
  ASSERT_TRUE(WaitServerReady(60'000)) << "the server is not up";
  const std::string group = "g_kill_prefork";
  absl::StatusOr<std::unique_ptr<Engine>> opened = OpenReplica(ReplicaOptions(group, false));
  ASSERT_TRUE(opened.ok()) << opened.status();
  Engine& parent = **opened;
  TNY_ASSERT_OK(parent.create_user("parent@fork.test").status());
  constexpr int kChildren = 4;
  struct Child {
    pid_t pid = -1;
    int up = -1, down = -1;  // child -> parent, parent -> child
    int64_t position = 0;
  };
  std::vector<Child> children(kChildren);
  for (int i = 0; i < kChildren; ++i) {
    int up[2], down[2];
    ASSERT_EQ(pipe(up), 0);
    ASSERT_EQ(pipe(down), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(up[0]);
      close(down[1]);
      for (int j = 0; j < i; ++j) {
        close(children[j].up);
        close(children[j].down);
      }
      int code = 0;
      if (!parent.follow().ok()) code |= 1;
      absl::Status made = parent.create_user(absl::StrCat("fork-", i, "@fork.test")).status();
      for (int t = 0; t < 50 && absl::IsUnavailable(made); ++t) {
        SleepMs(100);
        made = parent.create_user(absl::StrCat("fork-", i, "@fork.test")).status();
      }
      if (!made.ok()) code |= 2;
      const int64_t at = parent.last_change_position();
      if (write(up[1], &at, sizeof at) != sizeof at) code |= 4;
      int64_t newest = 0;
      pollfd p{down[0], POLLIN, 0};
      if (poll(&p, 1, 60'000) != 1 || read(down[0], &newest, sizeof newest) != sizeof newest) {
        code |= 8;
      }
      if (!parent.wait_for(newest, 10'000).ok()) code |= 16;
      for (int j = 0; j < kChildren; ++j) {
        if (!parent.user(absl::StrCat("fork-", j, "@fork.test")).ok()) code |= 32;
      }
      if (!parent.user("parent@fork.test").ok()) code |= 64;
      if (!parent.verify().ok()) code |= 128;
      parent.close();
      _exit(code);
    }
    close(up[1]);
    close(down[0]);
    children[i] = {pid, up[0], down[1], 0};
  }
  int64_t newest = 0;
  for (Child& c : children) {
    pollfd p{c.up, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 60'000), 1) << "a forked worker said nothing";
    ASSERT_EQ(read(c.up, &c.position, sizeof c.position), static_cast<ssize_t>(sizeof c.position));
    newest = std::max(newest, c.position);
  }
  for (Child& c : children) {
    ASSERT_EQ(write(c.down, &newest, sizeof newest), static_cast<ssize_t>(sizeof newest));
  }
  TNY_ASSERT_OK(parent.wait_for(newest, 10'000));
  for (int j = 0; j < kChildren; ++j) {
    EXPECT_TRUE(parent.user(absl::StrCat("fork-", j, "@fork.test")).ok()) << j;
  }
  for (Child& c : children) {
    int status = 0;
    const int64_t deadline = NowMs() + 60'000;
    while (waitpid(c.pid, &status, WNOHANG) == 0 && NowMs() < deadline) SleepMs(20);
    if (NowMs() >= deadline) {
      kill(c.pid, SIGKILL);
      waitpid(c.pid, &status, 0);
      ADD_FAILURE() << "a forked worker did not finish";
      continue;
    }
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "forked worker at " << c.position
                                      << " (1 follow, 2 change, 8 no newest position, 16 "
                                         "wait_for, 32 a worker's change missing, 128 verify)";
    close(c.up);
    close(c.down);
  }
  // Each worker wrote with a replica id of its own (follow(), R5).
  Sql sql;
  std::set<std::string> writers;
  for (const Child& c : children) {
    auto rows = sql.Rows(absl::StrCat("SELECT change_id FROM \"", group,
                                      "\".records WHERE position = ", c.position));
    ASSERT_TRUE(rows.has_value() && rows->size() == 1) << c.position;
    const std::string& id = (*rows)[0][0];
    writers.insert(id.substr(0, id.rfind('-')));
  }
  EXPECT_EQ(writers.size(), static_cast<size_t>(kChildren));
  TNY_EXPECT_OK(parent.verify());
}

}  // namespace
}  // namespace tenantry::replica_kill
