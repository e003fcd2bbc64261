// Copyright 2026 The tenantry Authors.
//
// replica_worker: one process of the many-process replica suite
// (replica_kill_test.cc). It opens a replica of the suite's group, then
// makes random changes on it until told to stop, and reports what happened
// to each one on fd 3, one line per write() (shorter than PIPE_BUF, so a
// SIGKILL never leaves half a line):
//
//   B seq kind ws amount arg cid   before a change is tried (what it is)
//   A seq pos result cid           acknowledged: done, at log position pos
//   R seq code                     refused: nothing changed
//   T seq                          unavailable: being retried
//   U seq cid                      outcome unknown (retries ran out, or no
//                                  form of the change takes a change id)
//   X seq message                  an error a change should never get
//   N ws buckets held              a balance seen below zero
//   F message                      this replica stopped working (exit 12)
//   O position replica_id          opened;  P paused;  S position saved
//   W round kind code pos id       a race's outcome
//   Q position                     quiet: no more changes (last_change_position)
//   D position hash                the digest of its state (and a file)
//
// Commands come on fd 4, one per line: `pause`, `resume`, `race ...` (see
// Race below), `finish` (stop changing), `digest POS KEYS OUT` (wait for
// POS, write the digest of the keys listed in KEYS to OUT, report D, close
// the replica, exit 0). SIGTERM: close the replica and exit 0.
//
// A change failing with `unavailable` is retried with the change id its
// status carries (ChangeIdOf), as a one-change Batch through apply(batch,
// id), for at most 20 s: answered from the log if it got there, applied
// once otherwise. Changes no Batch can carry (transfer, revoke, invite, an
// unkeyed consume) cannot be retried by id: they are reported U with the
// id, and the test looks it up in the log. A keyed consume is retried with
// its key, which is its change id in the group (C5).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "replica_digest.h"
#include "tenantry/engine.h"
#include "tenantry/replica.h"
#include "tenantry/status.h"

namespace tenantry::replica_kill {
namespace {

constexpr int kReportFd = 3;
constexpr int kCommandFd = 4;
// Retrying a change whose outcome is unknown: at most this long / often.
constexpr int64_t kRetryForMs = 20'000;
constexpr int kRetryAttempts = 100;

volatile std::sig_atomic_t terminated = 0;
void OnTerm(int) { terminated = 1; }

// One line to the test, in one write().
void Report(std::string line) {
  if (line.size() > 3000) line.resize(3000);
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  line += '\n';
  if (write(kReportFd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(20);
}

[[noreturn]] void Fatal(const std::string& message) {
  Report(absl::StrCat("F ", message));
  _exit(12);
}

struct Config {
  std::string conninfo, group, replica_id;
  int64_t gen = 0;
  uint64_t seed = 1;
  bool lease = false;
  int64_t lease_max = limits::kLeaseMaxDefault;
  AccountId account = 0;
  UserId owner = 0;
  WorkspaceId hq = 0;
  std::vector<WorkspaceId> funded;
  std::vector<UserId> pool;
};

std::vector<uint64_t> Ids(const std::string& text) {
  std::vector<uint64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    uint64_t v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

Config Parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(argv[i], absl::MaxSplits('=', 1));
    const std::string& k = kv.first;
    const std::string& v = kv.second;
    if (k == "conninfo") c.conninfo = v;
    if (k == "group") c.group = v;
    if (k == "replica_id") c.replica_id = v;
    if (k == "gen") c.gen = std::stoll(v);
    if (k == "seed") c.seed = std::stoull(v);
    if (k == "lease") c.lease = v == "1";
    if (k == "lease_max") c.lease_max = std::stoll(v);
    if (k == "account") c.account = std::stoull(v);
    if (k == "owner") c.owner = std::stoull(v);
    if (k == "hq") c.hq = std::stoull(v);
    if (k == "funded") c.funded = Ids(v);
    if (k == "pool") c.pool = Ids(v);
  }
  return c;
}

// What a replica that stopped working says: the log changed, went backwards
// or is of a newer format, or the replica was closed (R1, R5, R7).
bool StoppedWorking(const absl::Status& s) {
  if (absl::IsDataLoss(s)) return true;
  if (!absl::IsFailedPrecondition(s)) return false;
  for (const std::string& rule : RulesOf(s)) {
    if (!rule.empty() && rule[0] == 'R') return true;
  }
  return false;
}

// One change the worker tries: what it is, how to make it, and how to
// retry it by change id (a Batch holding the same op) or by key.
struct Change {
  std::string kind;
  WorkspaceId ws = 0;
  int64_t amount = 0;
  std::string arg = "-";
  std::string cid;  // chosen by the worker (a Batch's), or ""
  std::function<absl::StatusOr<std::string>()> make;
  std::optional<Batch> retry_batch;
  std::function<absl::StatusOr<std::string>()> retry_same;
  std::function<void()> on_ok;
  bool consumes = false;
};

class Worker {
 public:
  explicit Worker(Config config) : c_(std::move(config)), rng_(c_.seed) {}

  void Open() {
    Engine::Options o;
    o.log = c_.conninfo;
    o.group = c_.group;
    o.replica_id = c_.replica_id;
    o.log_lock_timeout_ms = 2000;
    o.log_poll_ms = 20;
    o.feed_retention = size_t{1} << 22;
    o.ledger_retention = size_t{1} << 22;
    o.lease_credits = c_.lease;
    o.lease_max = c_.lease_max;
    o.settle_interval_ms = 200;
    const int64_t deadline = NowMs() + 60'000;
    for (;;) {
      absl::StatusOr<std::unique_ptr<Engine>> opened = OpenReplica(o);
      if (opened.ok()) {
        e_ = *std::move(opened);
        break;
      }
      if (absl::IsDataLoss(opened.status()) || NowMs() > deadline || terminated) {
        Fatal(absl::StrCat("open: ", opened.status().ToString()));
      }
      SleepMs(100);
    }
    Report(absl::StrCat("O ", e_->position(), " ", c_.replica_id));
  }

  void Run() {
    while (!terminated && !finishing_) {
      Commands(paused_ ? 50 : 0);
      if (paused_ || finishing_ || terminated) continue;
      RandomChange();
      if (saw_unavailable_) {
        // The database is away: do not spin through changes that fail at once.
        saw_unavailable_ = false;
        SleepMs(50 + static_cast<int64_t>(rng_() % 150));
      } else if (rng_() % 4 == 0) {
        SleepMs(1);
      }
    }
    if (terminated) Exit();
    Report(absl::StrCat("Q ", e_->last_change_position()));
    const int64_t deadline = NowMs() + 300'000;
    while (!terminated && NowMs() < deadline) Commands(100);
    Exit();
  }

 private:
  // A clean exit (leak checks run in sanitizer builds).
  [[noreturn]] void Exit() {
    e_->close();
    e_.reset();
    std::exit(0);
  }

  uint64_t Pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(rng_() % 100) < percent; }

  // ---- Commands ----

  void Commands(int timeout_ms) {
    pollfd p{kCommandFd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return;
    char buf[4096];
    const ssize_t n = read(kCommandFd, buf, sizeof buf);
    if (n == 0) {
      // The test is gone: nothing to report to.
      terminated = 1;
      return;
    }
    if (n < 0) return;
    commands_.append(buf, static_cast<size_t>(n));
    for (size_t end; (end = commands_.find('\n')) != std::string::npos;) {
      const std::string line = commands_.substr(0, end);
      commands_.erase(0, end + 1);
      Command(line);
    }
  }

  void Command(const std::string& line) {
    const std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (w.empty()) return;
    if (w[0] == "pause") {
      paused_ = true;
      Report("P");
    } else if (w[0] == "resume") {
      paused_ = false;
    } else if (w[0] == "finish") {
      finishing_ = true;
    } else if (w[0] == "race" && w.size() >= 4) {
      Race(w);
    } else if (w[0] == "digest" && w.size() == 4) {
      const int64_t at = std::stoll(w[1]);
      absl::Status reached = e_->wait_for(at, 60'000);
      if (!reached.ok()) Fatal(absl::StrCat("digest: ", reached.ToString()));
      std::vector<std::string> keys;
      std::ifstream in(w[2]);
      for (std::string key; std::getline(in, key);) {
        if (!key.empty()) keys.push_back(key);
      }
      const std::string digest = StateDigest(*e_, keys);
      std::ofstream(w[3]) << digest;
      Report(absl::StrCat("D ", e_->position(), " ", Fnv64(digest)));
      Exit();
    }
  }

  // `race slug ROUND START_MS NAME`, `race staff ROUND START_MS POS USER`,
  // `race client ROUND START_MS POS USER WS`: at START_MS (wall clock, so
  // that two workers start together), one change that conflicts with what
  // another worker is told to do at the same instant (T3, M5).
  void Race(const std::vector<std::string>& w) {
    const std::string& kind = w[1];
    const std::string& round = w[2];
    const int64_t start = std::stoll(w[3]);
    Change change;
    change.kind = absl::StrCat("race_", kind);
    if (kind == "slug" && w.size() == 5) {
      WorkspaceSpec spec;
      spec.name = absl::StrCat("Race ", w[4]);
      change.arg = absl::StrCat("Race_", w[4]);
      change.make = [this, spec]() -> absl::StatusOr<std::string> {
        absl::StatusOr<WorkspaceId> id = e_->create_workspace(c_.owner, c_.account, spec);
        if (!id.ok()) return id.status();
        return absl::StrCat(*id);
      };
      change.retry_batch.emplace().create_workspace(c_.owner, c_.account, spec);
    } else if ((kind == "staff" && w.size() == 6) || (kind == "client" && w.size() == 7)) {
      const int64_t at = std::stoll(w[4]);
      const UserId user = std::stoull(w[5]);
      if (absl::Status s = e_->wait_for(at, 10'000); !s.ok()) {
        Report(absl::StrCat("W ", round, " ", kind, " wait_for ", at, " 0"));
        return;
      }
      if (kind == "staff") {
        change.make = [this, user]() -> absl::StatusOr<std::string> {
          absl::Status s = e_->add_staff(c_.owner, c_.account, user, "member");
          if (!s.ok()) return s;
          return std::string("-");
        };
        change.retry_batch.emplace().add_staff(c_.owner, c_.account, user, "member");
      } else {
        const WorkspaceId ws = std::stoull(w[6]);
        change.ws = ws;
        change.make = [this, user, ws]() -> absl::StatusOr<std::string> {
          absl::Status s = e_->add_member(c_.owner, ws, user, "client");
          if (!s.ok()) return s;
          return std::string("-");
        };
        change.retry_batch.emplace().add_member(c_.owner, ws, user, "client");
      }
    } else {
      Fatal(absl::StrCat("bad race command: ", absl::StrJoin(w, " ")));
    }
    const int64_t wait = start - WallMs();
    if (wait > 0 && wait < 10'000) SleepMs(wait);
    std::string result;
    const std::string code = Try(change, &result);
    Report(absl::StrCat("W ", round, " ", kind, " ", code, " ", e_->last_change_position(), " ",
                        result));
  }

  // ---- Changes ----

  // Makes `change`, retrying an unknown outcome; reports it. Returns "ok",
  // "unknown" or the refusal's code; `result` gets what it returned.
  std::string Try(Change& change, std::string* result = nullptr) {
    const uint64_t seq = ++seq_;
    Report(absl::StrCat("B ", seq, " ", change.kind, " ", change.ws, " ", change.amount, " ",
                        change.arg, " ", change.cid.empty() ? "-" : change.cid));
    absl::StatusOr<std::string> done = change.make();
    std::string cid = change.cid;
    if (absl::IsUnavailable(done.status())) {
      saw_unavailable_ = true;
      Report(absl::StrCat("T ", seq));
      if (cid.empty()) cid = ChangeIdOf(done.status());
      const bool retriable =
          change.retry_same != nullptr || (change.retry_batch.has_value() && !cid.empty());
      const int64_t deadline = NowMs() + kRetryForMs;
      for (int i = 0; retriable && i < kRetryAttempts && NowMs() < deadline; ++i) {
        SleepMs(50 + static_cast<int64_t>(rng_() % 200));
        if (change.retry_same != nullptr) {
          done = change.retry_same();
        } else {
          absl::StatusOr<std::vector<uint64_t>> ids = e_->apply(*change.retry_batch, cid);
          if (ids.ok()) {
            done = absl::StartsWith(change.kind, "batch") || ids->empty() || ids->front() == 0
                       ? absl::StrJoin(*ids, ",")
                       : absl::StrCat(ids->front());
            if (done->empty()) done = std::string("-");
          } else {
            done = ids.status();
          }
        }
        if (!absl::IsUnavailable(done.status())) break;
      }
    }
    if (done.ok()) {
      if (result != nullptr) *result = *done;
      Report(absl::StrCat("A ", seq, " ", e_->last_change_position(), " ", *done, " ",
                          cid.empty() ? "-" : cid));
      if (change.consumes) CheckBalance(change.ws);
      if (change.on_ok != nullptr) change.on_ok();
      return "ok";
    }
    const absl::Status& s = done.status();
    if (StoppedWorking(s)) Fatal(absl::StrCat(change.kind, ": ", s.ToString()));
    if (absl::IsUnavailable(s)) {
      Report(absl::StrCat("U ", seq, " ", cid.empty() ? "-" : cid));
      return "unknown";
    }
    if (absl::IsInternal(s) || absl::IsUnknown(s) || absl::IsAborted(s) ||
        absl::IsDeadlineExceeded(s)) {
      // Not a refusal: the log's own failure. Its outcome is unknown too.
      saw_unavailable_ = true;
      Report(absl::StrCat("X ", seq, " ", s.ToString()));
      Report(absl::StrCat("U ", seq, " ", cid.empty() ? "-" : cid));
      return "unknown";
    }
    Report(absl::StrCat("R ", seq, " ", StatusCodeName(s.code())));
    return StatusCodeName(s.code());
  }

  void CheckBalance(WorkspaceId ws) {
    absl::StatusOr<Balance> b = e_->balance(ws);
    if (b.ok() && (b->buckets[0] < 0 || b->buckets[1] < 0 || b->held < 0 || b->consumed < 0)) {
      Report(absl::StrCat("N ", ws, " ", b->buckets[0], ",", b->buckets[1], " ", b->held));
    }
  }

  UserId Actor() {
    if (Chance(10) && !c_.pool.empty()) return c_.pool[Pick(c_.pool.size())];
    return c_.owner;
  }

  UserId RandomUser() {
    if (Chance(50) && !c_.pool.empty()) return c_.pool[Pick(c_.pool.size())];
    const uint64_t users = e_->stats().users;
    return 1 + Pick(users + 2);
  }

  WorkspaceId FundedWorkspace() { return c_.funded[Pick(c_.funded.size())]; }

  WorkspaceId RandomWorkspace() {
    if (known_ws_.empty() || ++since_refresh_ > 50) {
      known_ws_ = e_->workspaces_for(c_.owner);
      since_refresh_ = 0;
    }
    if (Chance(50) || known_ws_.empty()) {
      return Chance(20) ? c_.hq : FundedWorkspace();
    }
    return known_ws_[Pick(known_ws_.size())];
  }

  std::string RandomRole() {
    static const char* const kRoles[] = {"admin", "manager", "member", "viewer", "client"};
    return kRoles[Pick(5)];
  }

  WorkspaceSpec RandomSpec() {
    WorkspaceSpec spec;
    // Names that other workers pick too: T3 clashes across replicas.
    spec.name = Chance(70) ? absl::StrCat("Shared ", Pick(24))
                           : absl::StrCat("W g", c_.gen, " n", ++next_name_);
    if (Chance(30)) spec.parent = c_.hq;
    return spec;
  }

  static absl::StatusOr<std::string> Done(const absl::Status& s) {
    if (!s.ok()) return s;
    return std::string("-");
  }

  template <typename T>
  static absl::StatusOr<std::string> Id(const absl::StatusOr<T>& v) {
    if (!v.ok()) return v.status();
    return absl::StrCat(*v);
  }

  // One op for a batch (or for a change of its own): its Batch form and a
  // short name; a created user's key goes into `keys`.
  std::string AddRandomOp(Batch& b, std::vector<std::string>* keys) {
    switch (Pick(6)) {
      case 0: {
        std::string key = absl::StrCat("g", c_.gen, "-u", ++next_user_, "@kill.test");
        b.create_user(key);
        keys->push_back(key);
        return absl::StrCat("create_user:", key);
      }
      case 1:
        b.add_member(Actor(), RandomWorkspace(), RandomUser(), RandomRole());
        return "add_member";
      case 2:
        b.set_role(Actor(), RandomWorkspace(), RandomUser(), RandomRole());
        return "set_role";
      case 3:
        b.remove_member(Actor(), RandomWorkspace(), RandomUser());
        return "remove_member";
      case 4: {
        WorkspaceSpec spec = RandomSpec();
        std::string name = spec.name;
        b.create_workspace(Actor(), c_.account, std::move(spec));
        return absl::StrCat("create_workspace:", absl::StrJoin(absl::StrSplit(name, ' '), "_"));
      }
      default:
        b.add_team_member(Actor(), RandomTeam(), RandomUser());
        return "add_team_member";
    }
  }

  TeamId RandomTeam() {
    absl::StatusOr<std::vector<TeamId>> teams = e_->teams(RandomWorkspace());
    if (!teams.ok() || teams->empty()) return 1 + Pick(8);
    return (*teams)[Pick(teams->size())];
  }

  void RandomChange() {
    Change ch;
    const uint64_t r = Pick(1000);
    if (r < 2) {
      absl::StatusOr<int64_t> saved = SaveSnapshotToLog(*e_);
      if (saved.ok()) {
        Report(absl::StrCat("S ", *saved));
      } else if (StoppedWorking(saved.status())) {
        Fatal(absl::StrCat("snapshot: ", saved.status().ToString()));
      }
      return;
    }
    if (r < 80) {  // create_user
      std::string key = absl::StrCat("g", c_.gen, "-u", ++next_user_, "@kill.test");
      ch.kind = "create_user";
      ch.arg = key;
      ch.make = [this, key] { return Id(e_->create_user(key)); };
      ch.retry_batch.emplace().create_user(key);
    } else if (r < 220) {
      const UserId actor = Actor(), user = RandomUser();
      const WorkspaceId ws = RandomWorkspace();
      const std::string role = RandomRole();
      ch.kind = "add_member";
      ch.ws = ws;
      ch.make = [=, this] { return Done(e_->add_member(actor, ws, user, role)); };
      ch.retry_batch.emplace().add_member(actor, ws, user, role);
    } else if (r < 300) {
      const UserId actor = Actor(), user = RandomUser();
      const WorkspaceId ws = RandomWorkspace();
      const std::string role = RandomRole();
      ch.kind = "set_role";
      ch.ws = ws;
      ch.make = [=, this] { return Done(e_->set_role(actor, ws, user, role)); };
      ch.retry_batch.emplace().set_role(actor, ws, user, role);
    } else if (r < 360) {
      const UserId actor = Actor(), user = RandomUser();
      const WorkspaceId ws = RandomWorkspace();
      ch.kind = "remove_member";
      ch.ws = ws;
      ch.make = [=, this] { return Done(e_->remove_member(actor, ws, user)); };
      ch.retry_batch.emplace().remove_member(actor, ws, user);
    } else if (r < 390) {
      const UserId user = RandomUser();
      const std::string role = Chance(80) ? "member" : "admin";
      ch.kind = "add_staff";
      ch.make = [=, this] { return Done(e_->add_staff(c_.owner, c_.account, user, role)); };
      ch.retry_batch.emplace().add_staff(c_.owner, c_.account, user, role);
    } else if (r < 410) {
      const UserId user = RandomUser();
      ch.kind = "remove_staff";
      ch.make = [=, this] { return Done(e_->remove_staff(c_.owner, c_.account, user)); };
      ch.retry_batch.emplace().remove_staff(c_.owner, c_.account, user);
    } else if (r < 450) {
      const WorkspaceSpec spec = RandomSpec();
      const UserId actor = Actor();
      ch.kind = "create_workspace";
      ch.arg = absl::StrJoin(absl::StrSplit(spec.name, ' '), "_");
      ch.make = [=, this] { return Id(e_->create_workspace(actor, c_.account, spec)); };
      ch.retry_batch.emplace().create_workspace(actor, c_.account, spec);
    } else if (r < 470) {
      const WorkspaceId ws = RandomWorkspace();
      const std::string name = absl::StrCat("Team ", Pick(6));
      const std::string role = Chance(50) ? "viewer" : "member";
      ch.kind = "create_team";
      ch.ws = ws;
      ch.make = [=, this] { return Id(e_->create_team(c_.owner, ws, name, role)); };
      ch.retry_batch.emplace().create_team(c_.owner, ws, name, role);
    } else if (r < 500) {
      const TeamId team = RandomTeam();
      const UserId user = RandomUser();
      ch.kind = "add_team_member";
      ch.make = [=, this] { return Done(e_->add_team_member(c_.owner, team, user)); };
      ch.retry_batch.emplace().add_team_member(c_.owner, team, user);
    } else if (r < 510) {
      const WorkspaceId ws = RandomWorkspace();
      const std::string email = absl::StrCat("inv-g", c_.gen, "-", ++next_user_, "@kill.test");
      ch.kind = "invite";
      ch.ws = ws;
      ch.make = [=, this]() -> absl::StatusOr<std::string> {
        absl::StatusOr<Invitation> i = e_->invite(c_.owner, ws, email, "viewer");
        if (!i.ok()) return i.status();
        return absl::StrCat(i->id);
      };
    } else if (r < 520) {
      const WorkspaceId ws = RandomWorkspace();
      absl::StatusOr<std::vector<InvitationInfo>> all = e_->invitations(ws);
      const InvitationId id = all.ok() && !all->empty() ? (*all)[Pick(all->size())].id : 1;
      ch.kind = "revoke_invitation";
      ch.ws = ws;
      ch.make = [=, this] { return Done(e_->revoke_invitation(c_.owner, id)); };
      ch.retry_batch.emplace().revoke_invitation(c_.owner, id);
    } else if (r < 590) {
      const WorkspaceId ws = Chance(90) ? FundedWorkspace() : RandomWorkspace();
      const int64_t amount = 20 + static_cast<int64_t>(Pick(280));
      ch.kind = "transfer";
      ch.ws = ws;
      ch.amount = amount;
      ch.make = [=, this]() -> absl::StatusOr<std::string> {
        absl::StatusOr<BucketAmounts> taken = e_->transfer(c_.owner, c_.account, ws, amount);
        if (!taken.ok()) return taken.status();
        return absl::StrCat((*taken)[0], "/", (*taken)[1]);
      };
    } else if (r < 620) {
      const WorkspaceId ws = FundedWorkspace();
      const int64_t amount = 1 + static_cast<int64_t>(Pick(50));
      ch.kind = "revoke";
      ch.ws = ws;
      ch.amount = amount;
      ch.make = [=, this] { return Done(e_->revoke(c_.owner, ws, amount, kCredits, "regular")); };
    } else if (r < 790) {
      const WorkspaceId ws = Chance(95) ? FundedWorkspace() : RandomWorkspace();
      const int64_t amount = 1 + static_cast<int64_t>(Pick(9));
      ch.kind = "consume";
      ch.ws = ws;
      ch.amount = amount;
      ch.consumes = true;
      ch.make = [=, this] { return Id(e_->consume(ws, amount)); };
    } else if (r < 870) {
      const WorkspaceId ws = FundedWorkspace();
      int64_t amount = 1 + static_cast<int64_t>(Pick(9));
      std::string key;
      if (!keys_.empty() && Chance(20)) {
        // An acknowledged keyed consume again: answered from the log, never
        // debited twice (C5). (Only acknowledged ones: a refused keyed
        // consume appends nothing, so its key is free for another try.)
        const auto& [k, w, a] = keys_[Pick(keys_.size())];
        key = k;
        amount = a;
        ch.kind = "consume_again";
        ch.ws = w;
      } else {
        key = absl::StrCat("g", c_.gen, "-k", ++next_key_);
        ch.kind = "consume_keyed";
        ch.ws = ws;
        ch.on_ok = [this, key, ws, amount] { keys_.emplace_back(key, ws, amount); };
      }
      ch.amount = amount;
      ch.arg = key;
      ch.consumes = true;
      const WorkspaceId at = ch.ws;
      ch.make = [=, this] { return Id(e_->consume(at, amount, kCredits, key)); };
      ch.retry_same = ch.make;
    } else if (r < 900) {
      const WorkspaceId ws = FundedWorkspace();
      const UserId user = RandomUser();
      const int64_t amount = 1 + static_cast<int64_t>(Pick(9));
      const PermissionId consume = *e_->permission("credits.consume");
      ch.kind = "authorize_consume";
      ch.ws = ws;
      ch.amount = amount;
      ch.consumes = true;
      ch.make = [=, this]() -> absl::StatusOr<std::string> {
        absl::StatusOr<bool> ok = e_->authorize_and_consume(user, ws, consume, amount);
        if (!ok.ok()) return ok.status();
        return std::string(*ok ? "1" : "0");
      };
    } else if (r < 915 && !batches_.empty()) {
      // An acknowledged batch again, with its change id: answered from the
      // log with the first ids, never applied twice (R7).
      const auto& [cid, batch] = batches_[Pick(batches_.size())];
      ch.kind = "batch_again";
      ch.cid = cid;
      ch.arg = cid;
      ch.retry_batch = batch;
      ch.make = [this, batch = batch, cid = cid]() -> absl::StatusOr<std::string> {
        absl::StatusOr<std::vector<uint64_t>> ids = e_->apply(batch, cid);
        if (!ids.ok()) return ids.status();
        return absl::StrJoin(*ids, ",");
      };
    } else {
      Batch& b = ch.retry_batch.emplace();
      std::vector<std::string> keys, parts;
      const uint64_t n = 2 + Pick(3);
      for (uint64_t i = 0; i < n; ++i) parts.push_back(AddRandomOp(b, &keys));
      ch.kind = "batch";
      ch.cid = absl::StrCat("g", c_.gen, "-b", ++next_batch_);
      ch.arg = absl::StrJoin(parts, ",");
      const Batch batch = b;
      const std::string cid = ch.cid;
      ch.make = [this, batch, cid]() -> absl::StatusOr<std::string> {
        absl::StatusOr<std::vector<uint64_t>> ids = e_->apply(batch, cid);
        if (!ids.ok()) return ids.status();
        return absl::StrJoin(*ids, ",");
      };
      ch.on_ok = [this, batch, cid] { batches_.emplace_back(cid, batch); };
    }
    Try(ch);
  }

  Config c_;
  std::mt19937_64 rng_;
  std::unique_ptr<Engine> e_;
  std::string commands_;
  bool paused_ = false, finishing_ = false, saw_unavailable_ = false;
  uint64_t seq_ = 0, next_user_ = 0, next_key_ = 0, next_batch_ = 0, next_name_ = 0;
  std::vector<WorkspaceId> known_ws_;
  int since_refresh_ = 0;
  std::vector<std::tuple<std::string, WorkspaceId, int64_t>> keys_;
  std::vector<std::pair<std::string, Batch>> batches_;  // acknowledged: (change id, batch)
};

}  // namespace
}  // namespace tenantry::replica_kill

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction term {};
  term.sa_handler = tenantry::replica_kill::OnTerm;
  sigaction(SIGTERM, &term, nullptr);
  fcntl(tenantry::replica_kill::kCommandFd, F_SETFL,
        fcntl(tenantry::replica_kill::kCommandFd, F_GETFL) | O_NONBLOCK);
  tenantry::replica_kill::Worker worker(tenantry::replica_kill::Parse(argc, argv));
  worker.Open();
  worker.Run();
  return 0;
}
