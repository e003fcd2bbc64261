// Copyright 2026 The tenantry Authors.
//
// The journal (P3): every acknowledged change is in it; recovery is the
// newest snapshot plus the journal's tail, stopping cleanly at a torn last
// record; a snapshot truncates it; damage is DataLoss; a process killed
// (SIGKILL) at any instant, while journaling or while saving, loses no
// acknowledged change and leaves the previous snapshot intact.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "persist_util.h"
#include "tenantry/snapshot.h"
#include "test_util.h"

namespace tenantry::test {
namespace {

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (absl::string_view(e->d_name).substr(0, 4) == "seg-") out.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The offset just past the last record of a segment (the first zero size).
size_t EndOfRecords(const std::string& bytes) {
  size_t off = 128;
  for (;;) {
    uint32_t size = 0;
    std::memcpy(&size, bytes.data() + off, 4);
    if (size == 0) return off;
    off += (16 + size + 7) & ~size_t{7};
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAt(const std::string& path, size_t offset, absl::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

TEST(Journal, P3_RecoveryRunsEveryChangeAgain) {
  const std::string dir = TempDirFor("recover");
  std::string before;
  Invitation pending;
  ReservationId hold = 0;
  int64_t keyed = 0;
  WorkspaceId client_a = 0;
  UserId invitee = 0;
  {
    Rich rich(OpenOrDie(Journaled(dir)));
    ASSERT_NO_FATAL_FAILURE(rich.Build());
    before = Everything(rich.world.engine);
    pending = rich.pending;
    hold = rich.hold;
    keyed = rich.keyed_result;
    client_a = rich.world.client_a;
    TNY_ASSERT_OK_AND_ASSIGN(invitee, rich.world.engine.create_user("new@customer.test"));
    before = Everything(rich.world.engine);
  }
  std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Everything(*e), before);
  TNY_EXPECT_OK(e->verify());
  // It carries on: a token issued before the crash still works (its hash
  // was journaled, never the token), a keyed retry is answered from memory,
  // a hold taken before is committable, and ids continue.
  TNY_EXPECT_OK(e->accept(pending.token, invitee));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t again, e->consume(client_a, 7, kCredits, "order-1"));
  EXPECT_EQ(again, keyed);
  TNY_EXPECT_OK(e->commit(hold, 60));
  TNY_ASSERT_OK_AND_ASSIGN(UserId next, e->create_user("later@else.test"));
  EXPECT_GT(next, invitee);
  const std::string after = Everything(*e);
  e.reset();
  e = OpenOrDie(Journaled(dir));
  EXPECT_EQ(Everything(*e), after);
}

TEST(Journal, P3_EveryDurabilityRecoversAfterAClose) {
  for (Durability d : {Durability::kSync, Durability::kGroup, Durability::kNone}) {
    SCOPED_TRACE(DurabilityName(d));
    const std::string dir = TempDirFor(DurabilityName(d));
    std::string before;
    {
      Rich rich(OpenOrDie(Journaled(dir, d)));
      ASSERT_NO_FATAL_FAILURE(rich.Build());
      before = Everything(rich.world.engine);
    }
    std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir, d));
    EXPECT_EQ(Everything(*e), before);
  }
  Engine::Options bad = Journaled(TempDirFor("bad"), Durability::kGroup);
  bad.group_commit_ms = 0;
  TNY_EXPECT_REFUSED(Engine::Open(bad).status(), absl::StatusCode::kInvalidArgument,
                     "group_commit_ms");
  bad.group_commit_ms = 10;
  bad.durability = static_cast<Durability>(7);
  TNY_EXPECT_REFUSED(Engine::Open(bad).status(), absl::StatusCode::kInvalidArgument, "durability");
}

TEST(Journal, P3_SnapshotTruncatesTheJournal) {
  const std::string dir = TempDirFor("truncate");
  const std::string snap = dir + ".tny";
  std::string before;
  WorkspaceId ws = 0;
  {
    Rich rich(OpenOrDie(Journaled(dir)));
    ASSERT_NO_FATAL_FAILURE(rich.Build());
    Engine& e = rich.world.engine;
    ws = rich.world.client_a;
    TNY_ASSERT_OK(SaveSnapshot(e, snap));
    // The records the snapshot holds are gone: one (empty) segment left.
    EXPECT_EQ(Segments(dir).size(), 1u);
    TNY_ASSERT_OK(e.consume(ws, 11).status());
    TNY_ASSERT_OK(e.rename_workspace(kSystem, ws, "Client A after"));
    before = Everything(e);
  }
  // Recovery: the snapshot plus the journal's tail.
  std::unique_ptr<Engine> e;
  TNY_ASSERT_OK_AND_ASSIGN(e, LoadSnapshot(snap, Journaled(dir)));
  EXPECT_EQ(Everything(*e), before);
  TNY_EXPECT_OK(e->verify());
  e.reset();
  // Without the snapshot the journal alone is refused, naming what to do.
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(dir)).status(), absl::StatusCode::kFailedPrecondition,
                     "LoadSnapshot");
  // A second save drops the first tail too; the older snapshot no longer
  // matches the journal, and says so.
  const std::string old_snap = dir + "-old.tny";
  std::rename(snap.c_str(), old_snap.c_str());
  TNY_ASSERT_OK_AND_ASSIGN(e, LoadSnapshot(old_snap, Journaled(dir)));
  TNY_ASSERT_OK(e->consume(ws, 1).status());
  TNY_ASSERT_OK(SaveSnapshot(*e, snap));
  TNY_ASSERT_OK(e->consume(ws, 2).status());
  before = Everything(*e);
  e.reset();
  TNY_EXPECT_REFUSED(LoadSnapshot(old_snap, Journaled(dir)).status(), absl::StatusCode::kDataLoss,
                     "newest snapshot");
  TNY_ASSERT_OK_AND_ASSIGN(e, LoadSnapshot(snap, Journaled(dir)));
  EXPECT_EQ(Everything(*e), before);
}

TEST(Journal, P3_TornLastRecordIsDroppedCleanly) {
  const std::string dir = TempDirFor("torn");
  std::string before;
  WorkspaceId ws = 0;
  {
    Rich rich(OpenOrDie(Journaled(dir)));
    ASSERT_NO_FATAL_FAILURE(rich.Build());
    ws = rich.world.client_a;
    before = Everything(rich.world.engine);
  }
  // A record cut short by a machine crash: a size, a wrong checksum, half
  // a body, at the end.
  const std::string seg = Segments(dir).back();
  const size_t end = EndOfRecords(ReadAll(seg));
  WriteAt(seg, end, std::string("\x40\0\0\0\x11\x22\x33\x44\x09\0\0\0\0\0\0\0\x02garbage", 24));
  std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Everything(*e), before);
  // Appending continues where the torn record was, and a shorter record
  // written over it leaves no leftovers to trip the next recovery.
  TNY_ASSERT_OK(e->consume(ws, 3).status());
  before = Everything(*e);
  e.reset();
  e = OpenOrDie(Journaled(dir));
  EXPECT_EQ(Everything(*e), before);
}

TEST(Journal, P3_DamageBeforeTheEndIsDataLoss) {
  const std::string dir = TempDirFor("damage");
  {
    Rich rich(OpenOrDie(Journaled(dir)));
    ASSERT_NO_FATAL_FAILURE(rich.Build());
  }
  const std::string seg = Segments(dir).back();
  const std::string bytes = ReadAll(seg);
  const size_t end = EndOfRecords(bytes);
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    // A flipped byte somewhere in the records (not in the last one).
    const size_t at = 128 + rng() % (end / 2 - 128);
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
    WriteAt(seg, 0, damaged);
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Open(Journaled(dir));
    ASSERT_FALSE(e.ok()) << "byte " << at;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kDataLoss) << e.status();
    EXPECT_TRUE(absl::StrContains(e.status().message(), "P3")) << e.status();
  }
  // A damaged header.
  std::string damaged = bytes;
  damaged[20] ^= 1;
  WriteAt(seg, 0, damaged);
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(dir)).status(), absl::StatusCode::kDataLoss, "header");
}

TEST(Journal, P3_OneEnginePerJournalAndNoForeignSnapshot) {
  const std::string dir = TempDirFor("owner");
  std::unique_ptr<Engine> first = OpenOrDie(Journaled(dir));
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(dir)).status(), absl::StatusCode::kFailedPrecondition,
                     "in use");
  TNY_ASSERT_OK(first->create_user("a@b.test").status());
  first.reset();
  // A snapshot of another engine cannot be continued by this journal.
  Engine other;
  TNY_ASSERT_OK(other.create_user("x@y.test").status());
  const std::string snap = dir + "-other.tny";
  TNY_ASSERT_OK(SaveSnapshot(other, snap));
  TNY_EXPECT_REFUSED(LoadSnapshot(snap, Journaled(dir)).status(),
                     absl::StatusCode::kFailedPrecondition, "P3");
  // A journal path that is a file is refused.
  const std::string file = dir + "-file";
  std::ofstream(file) << "x";
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(file)).status(), absl::StatusCode::kInvalidArgument,
                     "not a directory");
}

TEST(Journal, P3_RefusedSettlementsThatSweptStillRecover) {
  // A commit or release that is refused can still release expired holds
  // (its sweep): that is journaled as a sweep, and recovery accepts it.
  const std::string dir = TempDirFor("refused-settle");
  auto clock = std::make_shared<ManualClock>(1'700'000'000'000'000'000);
  Engine::Options o = Journaled(dir);
  o.clock = clock;
  std::string before;
  {
    World world(OpenOrDie(o));
    ASSERT_NO_FATAL_FAILURE(world.Build());
    Engine& e = world.engine;
    TNY_ASSERT_OK(e.grant(kSystem, world.account, 100));
    TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_a, 100).status());
    for (int round = 0; round < 3; ++round) {
      TNY_ASSERT_OK(e.reserve(world.client_a, 10, kCredits, 1).status());
      TNY_ASSERT_OK_AND_ASSIGN(ReservationId live, e.reserve(world.client_a, 5, kCredits, 3600));
      clock->advance_s(5);
      switch (round) {
        case 0:
          TNY_EXPECT_REFUSED(e.commit(987654321, 1), absl::StatusCode::kNotFound, "C6");
          break;
        case 1:
          TNY_EXPECT_REFUSED(e.commit(live, 99), absl::StatusCode::kInvalidArgument, "C6");
          break;
        default:
          TNY_EXPECT_REFUSED(e.release(987654321), absl::StatusCode::kNotFound, "C6");
      }
    }
    before = Everything(e);
  }
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Everything(*e), before);
}

TEST(Journal, P3_RecoveryKeepsTheInvitationLifetimeThatWasUsed) {
  const std::string dir = TempDirFor("ttl");
  auto clock = std::make_shared<ManualClock>(1'700'000'000'000'000'000);
  Engine::Options o = Journaled(dir);
  o.clock = clock;
  std::string before;
  {
    World world(OpenOrDie(o));
    ASSERT_NO_FATAL_FAILURE(world.Build());
    TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                             world.engine.invite(world.ws_admin, world.client_a, "new@x.test"));
    clock->advance_s(7200);
    TNY_ASSERT_OK_AND_ASSIGN(UserId u, world.engine.create_user("new@x.test"));
    TNY_ASSERT_OK(world.engine.accept(inv.token, u));
    before = Everything(world.engine);
  }
  o.invitation_ttl_s = 3600;  // another lifetime now: the recorded one applies
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Everything(*e), before);
}

TEST(Journal, P3_LostPageWithLaterPagesIsDataLossUntilCut) {
  // A machine crash under "none" can lose a page of unflushed records while
  // a later one survives. The records on the later pages were acknowledged:
  // that is DataLoss (never a silently dropped tail), and an explicit cut
  // (OnJournalDamage::kTruncate) keeps what precedes the lost page and
  // reports the rest (journal_damage_test.cc has the rest of the rule).
  const std::string dir = TempDirFor("lost-page");
  {
    std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir, Durability::kNone));
    for (int i = 0; i < 400; ++i) TNY_ASSERT_OK(e->create_user(absl::StrCat("n", i, "@x.test")));
  }
  const std::string seg = Segments(dir).back();
  const size_t end = EndOfRecords(ReadAll(seg));
  // The crash: no flush ever vouched for these records (a torn or unwritten
  // mark vouches for nothing), and page 2 of the segment never reached the
  // disk while the pages after it did.
  WriteAt(seg, 116, std::string(12, '\xff'));
  ASSERT_GT(end, 3 * 4096u);
  WriteAt(seg, 2 * 4096, std::string(4096, '\0'));
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(dir, Durability::kNone)).status(),
                     absl::StatusCode::kDataLoss, "followed by sound ones");
  Engine::Options cut = Journaled(dir, Durability::kNone);
  cut.on_journal_damage = OnJournalDamage::kTruncate;
  std::unique_ptr<Engine> e = OpenOrDie(cut);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->journal_recovery().truncated);
  EXPECT_EQ(e->journal_recovery().lost_through_lsn, 400u);
  TNY_EXPECT_OK(e->user("n0@x.test").status());  // before the lost page: kept
  EXPECT_FALSE(e->user("n399@x.test").ok());     // after it: cut, and reported
  TNY_EXPECT_OK(e->verify());
  // And the journal goes on from there.
  TNY_ASSERT_OK(e->create_user("after@x.test").status());
  e.reset();
  e = OpenOrDie(Journaled(dir, Durability::kNone));
  TNY_EXPECT_OK(e->user("after@x.test").status());
}

TEST(Journal, P3_AnInterruptedSegmentCreationIsIgnored) {
  const std::string dir = TempDirFor("tmp-segment");
  std::string before;
  {
    std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir));
    TNY_ASSERT_OK(e->create_user("a@x.test").status());
    before = Everything(*e);
  }
  std::ofstream(dir + "/seg-00000000000000000001.tnyj.tmp") << "half a header";
  std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Everything(*e), before);
}

TEST(Journal, OutOfRangeEnumIsInvalidArgumentNotDataLoss) {
  World world;
  ASSERT_NO_FATAL_FAILURE(world.Build());
  TNY_EXPECT_REFUSED(
      world.engine.set_status(kSystem, world.client_a, static_cast<WorkspaceStatus>(9)),
      absl::StatusCode::kInvalidArgument, "set_status");
}

// ---- Crash safety: SIGKILL at random instants ----

// What the child acknowledges, through a pipe (each message one write(),
// shorter than PIPE_BUF, so never interleaved).
struct Ack {
  uint32_t kind;  // 1 user created (value: its index), 2 consumed (value: amount)
  uint32_t value;
};

// The child: a journaled engine (recovered from what the previous child
// left), changes from one thread and consumes from two, each acknowledged
// once its call returned; saves now and then. Never returns.
[[noreturn]] void CrashChild(const std::string& dir, const std::string& snap, int write_fd,
                             uint32_t first_user, bool saving) {
  Engine::Options o = Journaled(dir, Durability::kNone);
  absl::StatusOr<std::unique_ptr<Engine>> opened =
      access(snap.c_str(), F_OK) == 0 ? LoadSnapshot(snap, o) : Engine::Open(o);
  if (!opened.ok()) _exit(3);
  Engine& e = **opened;
  AccountId account = 0;
  WorkspaceId ws = 0;
  if (auto owner = e.user("owner@crash.test"); owner.ok()) {
    ws = e.workspaces_for(*owner).front();
    account = e.workspace(ws)->account;
  } else {
    auto u = e.create_user("owner@crash.test");
    AccountSpec spec;
    spec.name = "Crash";
    spec.owner = *u;
    spec.plan = Plan::Named("enterprise");
    account = *e.create_account(spec);
    ws = *e.create_workspace(kSystem, account, {"Main"});
    if (!e.grant(kSystem, account, 1'000'000'000).ok()) _exit(4);
  }
  auto send = [write_fd](uint32_t kind, uint32_t value) {
    Ack a{kind, value};
    if (write(write_fd, &a, sizeof a) != sizeof a) _exit(5);
  };
  std::vector<std::thread> consumers;
  for (int t = 0; t < 2; ++t) {
    consumers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(first_user + t));
      for (;;) {
        const auto amount = static_cast<uint32_t>(1 + rng() % 3);
        if (e.consume(ws, amount).ok()) {
          send(2, amount);
        } else {
          (void)e.transfer(kSystem, account, ws, 1000);
        }
      }
    });
  }
  for (uint32_t i = first_user;; ++i) {
    // The previous child may have made this one and died before saying so.
    const absl::Status made = e.create_user(absl::StrCat("user", i, "@crash.test")).status();
    if (!made.ok() && made.code() != absl::StatusCode::kAlreadyExists) _exit(6);
    send(1, i);
    if (saving && i % 16 == 0 && !SaveSnapshot(e, snap).ok()) _exit(7);
  }
}

void CrashRounds(bool saving) {
  const std::string dir = TempDirFor(saving ? "crash-save" : "crash");
  const std::string snap = dir + ".tny";
  std::remove(snap.c_str());
  std::mt19937 rng(saving ? 11 : 5);
  std::set<uint32_t> users;
  int64_t consumed = 0;
  uint32_t next_user = 0;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      CrashChild(dir, snap, fds[1], next_user, saving);
    }
    close(fds[1]);
    // Let it run a random while, then kill it in the middle of whatever.
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 120));
    kill(child, SIGKILL);
    Ack a{};
    while (read(fds[0], &a, sizeof a) == sizeof a) {
      if (a.kind == 1) {
        users.insert(a.value);
        next_user = std::max(next_user, a.value + 1);
      } else {
        consumed += a.value;
      }
    }
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    // Recovery holds every acknowledged change.
    Engine::Options o = Journaled(dir, Durability::kNone);
    absl::StatusOr<std::unique_ptr<Engine>> e =
        access(snap.c_str(), F_OK) == 0 ? LoadSnapshot(snap, o) : Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status();
    TNY_ASSERT_OK((*e)->verify());
    for (uint32_t i : users) {
      ASSERT_TRUE((*e)->user(absl::StrCat("user", i, "@crash.test")).ok()) << "lost user " << i;
    }
    if (auto owner = (*e)->user("owner@crash.test"); owner.ok()) {
      TNY_ASSERT_OK_AND_ASSIGN(Balance b, (*e)->balance((*e)->workspaces_for(*owner).front()));
      // Every acknowledged consume is there; at most one per consumer
      // thread more (debited and journaled, killed before acknowledging).
      EXPECT_GE(b.consumed, consumed);
      EXPECT_LE(b.consumed, consumed + 2 * 3);
      consumed = b.consumed;  // what the next child starts from
    }
    // The snapshot file is whole whenever it exists (P1).
    if (access(snap.c_str(), F_OK) == 0) TNY_EXPECT_OK(InspectSnapshot(snap).status());
  }
  EXPECT_GT(users.size(), 12u);
}

TEST(Journal, P3_KilledWhileJournalingLosesNothingAcknowledged) { CrashRounds(false); }

TEST(Journal, P1_P3_KilledWhileSavingLosesNothingAcknowledged) { CrashRounds(true); }

}  // namespace
}  // namespace tenantry::test
