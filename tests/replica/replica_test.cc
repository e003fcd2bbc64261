// Copyright 2026 The tenantry Authors.
//
// Replicas (R1-R7, docs/replication.md): engines in one process, each a
// replica of a group whose log is in a throwaway PostgreSQL (pg_cluster.h).
// Every test works in a group (schema) of its own. The many-process suite
// (kills of replicas and of the database) is replica_kill_test.
#include "tenantry/replica.h"

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"
#include "test_util.h"

namespace tenantry {
namespace {

using ::testing::HasSubstr;

std::string GroupOfTest() {
  return absl::StrCat("g_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

Engine::Options ReplicaOptions(const std::string& group, bool leases = true) {
  Engine::Options options;
  options.log = cluster->conninfo();
  options.group = group;
  options.log_lock_timeout_ms = 5000;
  options.log_poll_ms = 20;
  options.lease_credits = leases;
  options.settle_interval_ms = 50;
  options.lease_ttl_ms = 2000;
  return options;
}

std::unique_ptr<Engine> OpenOrDie(const std::string& group, bool leases = true) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = OpenReplica(ReplicaOptions(group, leases));
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

// The seed's people and tenancy, made on `engine`.
struct Seed {
  UserId olivia = 0, carla = 0;
  AccountId account = 0;
  WorkspaceId hq = 0, acme = 0;
};

Seed MakeSeed(Engine& engine) {
  Seed s;
  s.olivia = *engine.create_user("olivia@northwind.agency");
  s.carla = *engine.create_user("carla@acme.example");
  AccountSpec spec;
  spec.name = "Northwind";
  spec.owner = s.olivia;
  spec.plan = Plan::Named("enterprise");
  s.account = *engine.create_account(spec);
  WorkspaceSpec hq;
  hq.name = "Northwind HQ";
  hq.type = WorkspaceType::kAgency;
  s.hq = *engine.create_workspace(s.olivia, s.account, hq);
  WorkspaceSpec acme;
  acme.name = "Acme Inc.";
  acme.parent = s.hq;
  s.acme = *engine.create_workspace(s.olivia, s.account, acme);
  EXPECT_TRUE(engine.add_member(s.olivia, s.acme, s.carla, "client").ok());
  return s;
}

// Two replicas of the test's group (`leases` as ReplicaOptions says), the
// seed made on the first, `granted` credits in its account's pool and
// `funded` of them in Acme, the second replica at that position.
struct TwoFunded {
  std::unique_ptr<Engine> a, b;
  Seed s;
};

void OpenTwoFunded(int64_t granted, int64_t funded, bool leases, TwoFunded* out) {
  const std::string group = GroupOfTest();
  out->a = OpenOrDie(group, leases);
  out->b = OpenOrDie(group, leases);
  ASSERT_NE(out->a, nullptr);
  ASSERT_NE(out->b, nullptr);
  out->s = MakeSeed(*out->a);
  TNY_ASSERT_OK(out->a->grant(kSystem, out->s.account, granted));
  TNY_ASSERT_OK(out->a->transfer(out->s.olivia, out->s.account, out->s.acme, funded).status());
  TNY_ASSERT_OK(out->b->wait_for(out->a->position(), 5000));
}

TEST(Replica, R2_R4_ChangeOnOneReplicaIsReadOnAnother) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  auto b = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->is_replica());
  const Seed s = MakeSeed(*a);
  const int64_t at = a->last_change_position();
  EXPECT_EQ(at, a->position());
  EXPECT_GT(at, 1);  // the group's first record, then the seed's changes
  TNY_ASSERT_OK(b->wait_for(at, 5000));
  const PermissionId trigger = *b->permission("runs.trigger");
  EXPECT_TRUE(b->check(s.carla, s.acme, trigger));
  EXPECT_FALSE(b->check(s.carla, s.hq, trigger));
  // A change made on b goes through the same log and comes back to a.
  TNY_ASSERT_OK(b->remove_member(s.olivia, s.acme, s.carla));
  TNY_ASSERT_OK(a->wait_for(b->last_change_position(), 5000));
  EXPECT_FALSE(a->check(s.carla, s.acme, trigger));
  // R4: at the same position, the same revision and the same change feed.
  EXPECT_EQ(a->position(), b->position());
  EXPECT_EQ(a->revision(), b->revision());
  auto feed_a = a->changes_since(0);
  auto feed_b = b->changes_since(0);
  ASSERT_TRUE(feed_a.ok() && feed_b.ok());
  ASSERT_EQ(feed_a->size(), feed_b->size());
  for (size_t i = 0; i < feed_a->size(); ++i) {
    EXPECT_EQ((*feed_a)[i].revision, (*feed_b)[i].revision);
    EXPECT_EQ((*feed_a)[i].what, (*feed_b)[i].what);
    EXPECT_EQ((*feed_a)[i].time_ns, (*feed_b)[i].time_ns);
  }
  TNY_EXPECT_OK(a->verify());
  TNY_EXPECT_OK(b->verify());
}

TEST(Replica, R2_RefusedChangeAppendsNothing) {
  auto a = OpenOrDie(GroupOfTest());
  ASSERT_NE(a, nullptr);
  const Seed s = MakeSeed(*a);
  const int64_t before = a->position();
  // M5: carla is a client of the account; she cannot become staff.
  absl::Status refused = a->add_staff(s.olivia, s.account, s.carla, "member");
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(RulesOf(refused), ::testing::Contains("M5"));
  EXPECT_EQ(a->position(), before);
  EXPECT_EQ(SqlSession().Value(absl::StrCat("SELECT position FROM \"", GroupOfTest(), "\".head")),
            absl::StrCat(before));
}

// M5 and T3 hold across the group: two replicas racing for the same slug, or
// for making one user staff and client, end with exactly one winner.
TEST(Replica, R2_ConflictingChangesFromTwoReplicasOneWins) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  auto b = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Seed s = MakeSeed(*a);
  const UserId dave = *a->create_user("dave@example.com");
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  for (int round = 0; round < 10; ++round) {
    std::atomic<int> won{0};
    WorkspaceSpec spec;
    spec.name = absl::StrCat("Race ", round);
    std::thread ta([&] {
      if (a->create_workspace(s.olivia, s.account, spec).ok()) won++;
    });
    std::thread tb([&] {
      if (b->create_workspace(s.olivia, s.account, spec).ok()) won++;
    });
    ta.join();
    tb.join();
    EXPECT_EQ(won.load(), 1) << "round " << round << " (T3: one slug per account)";
  }
  std::atomic<int> won{0};
  std::thread staff([&] {
    if (a->add_staff(s.olivia, s.account, dave, "member").ok()) won++;
  });
  std::thread client([&] {
    if (b->add_member(s.olivia, s.acme, dave, "client").ok()) won++;
  });
  staff.join();
  client.join();
  EXPECT_EQ(won.load(), 1) << "M5: staff or client, never both";
  TNY_ASSERT_OK(a->wait_for(b->position(), 5000));
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  TNY_EXPECT_OK(a->verify());
  TNY_EXPECT_OK(b->verify());
  EXPECT_EQ(a->stats().workspaces, b->stats().workspaces);
}

TEST(Replica, R3_FollowerAppliesWithoutChangesOfItsOwn) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  auto b = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(a->create_user(absl::StrCat("u", i, "@x.io")).ok());
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  EXPECT_EQ(b->stats().users, 50u);
  EXPECT_TRUE(b->user("u49@x.io").ok());
}

TEST(Replica, R4_WaitForNamesBothPositions) {
  auto a = OpenOrDie(GroupOfTest());
  ASSERT_NE(a, nullptr);
  const int64_t at = a->position();
  absl::Status late = a->wait_for(at + 5, 30);
  EXPECT_TRUE(absl::IsDeadlineExceeded(late)) << late;
  EXPECT_THAT(late.message(), HasSubstr(absl::StrCat("position ", at + 5)));
  EXPECT_THAT(late.message(), HasSubstr(absl::StrCat("at position ", at)));
  EXPECT_THAT(RulesOf(late), ::testing::ElementsAre("R4"));
  TNY_EXPECT_OK(a->wait_for(at, 0));
}

TEST(Replica, R5_NewReplicaStartsFromTheStoredSnapshotAndTruncationKeepsTwo) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  const Seed s = MakeSeed(*a);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t first, SaveSnapshotToLog(*a));
  EXPECT_EQ(first, a->position());
  ASSERT_TRUE(a->create_user("after-first@x.io").ok());
  TNY_ASSERT_OK_AND_ASSIGN(int64_t second, SaveSnapshotToLog(*a));
  ASSERT_TRUE(a->create_user("after-second@x.io").ok());
  // One snapshot older than the newest two: nothing to remove until a third.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t kept, TruncateLog(*a));
  EXPECT_EQ(kept, first + 1);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t third, SaveSnapshotToLog(*a));
  TNY_ASSERT_OK_AND_ASSIGN(kept, TruncateLog(*a));
  EXPECT_EQ(kept, second + 1);
  EXPECT_EQ(SqlSession().Exec(absl::StrCat("DO $$ BEGIN IF (SELECT count(*) FROM \"", group,
                                           "\".snapshots WHERE position < ", second,
                                           ") > 0 THEN RAISE EXCEPTION 'kept'; END IF; END $$")),
            "");
  // A new replica needs only the connection string: the newest snapshot,
  // then the log after it.
  auto c = OpenOrDie(group);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->position(), a->position());
  EXPECT_GE(c->position(), third);
  EXPECT_TRUE(c->user("after-second@x.io").ok());
  EXPECT_TRUE(c->check(s.carla, s.acme, *c->permission("runs.trigger")));
  TNY_EXPECT_OK(c->verify());
  // R5: the group's secrets travel with its snapshots: an invitation made
  // on a is accepted on c.
  TNY_ASSERT_OK_AND_ASSIGN(Invitation invitation, a->invite(s.olivia, s.acme, "zoe@x.io"));
  const UserId zoe = *a->create_user("zoe@x.io");
  TNY_ASSERT_OK(c->wait_for(a->position(), 5000));
  TNY_ASSERT_OK(c->accept(invitation.token, zoe));
  TNY_ASSERT_OK(a->wait_for(c->position(), 5000));
  EXPECT_TRUE(a->check(zoe, s.acme, *a->permission("runs.trigger")));
}

TEST(Replica, R5_ClosedReplicaRefusesChangesAndANewOneOpensAfterTruncation) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  auto b = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  b->close();  // stops following at its position
  const int64_t b_at = b->position();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(a->create_user(absl::StrCat("r", round, "@x.io")).ok());
    ASSERT_TRUE(SaveSnapshotToLog(*a).ok());
  }
  TNY_ASSERT_OK_AND_ASSIGN(int64_t kept, TruncateLog(*a));
  ASSERT_GT(kept, b_at + 1);
  absl::Status closed = b->create_user("late@x.io").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(closed)) << closed;
  EXPECT_THAT(closed.message(), HasSubstr("closed"));
  // follow() on a closed replica says so (it once deadlocked on its own lock).
  absl::Status followed = b->follow();
  EXPECT_TRUE(absl::IsFailedPrecondition(followed)) << followed;
  EXPECT_EQ(b->position(), b_at);  // reads go on where it stopped
  // A new replica loads the newest snapshot: the truncated records are not
  // needed.
  auto c = OpenOrDie(group);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->position(), a->position());
}

TEST(Replica, R6_ConsumesThroughTheLogFromTwoReplicasAreExact) {
  TwoFunded t;
  ASSERT_NO_FATAL_FAILURE(OpenTwoFunded(1000, 100, /*leases=*/false, &t));
  std::unique_ptr<Engine>& a = t.a;
  std::unique_ptr<Engine>& b = t.b;
  const Seed& s = t.s;
  std::atomic<int> ok{0}, refused{0};
  auto spend = [&](Engine& e) {
    for (int i = 0; i < 40; ++i) {
      absl::StatusOr<int64_t> left = e.consume(s.acme, 3);
      if (left.ok()) {
        ok++;
      } else if (absl::IsResourceExhausted(left.status())) {
        refused++;
      } else {
        ADD_FAILURE() << left.status();
      }
    }
  };
  std::thread ta([&] { spend(*a); });
  std::thread tb([&] { spend(*b); });
  ta.join();
  tb.join();
  EXPECT_EQ(ok.load(), 33);  // 100 / 3
  EXPECT_EQ(refused.load(), 80 - 33);
  TNY_ASSERT_OK(a->wait_for(b->position(), 5000));
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  for (Engine* e : {a.get(), b.get()}) {
    TNY_ASSERT_OK_AND_ASSIGN(Balance balance, e->balance(s.acme));
    EXPECT_EQ(balance.available(), 1);
    EXPECT_EQ(balance.consumed, 99);
    TNY_EXPECT_OK(e->verify());  // C8 at this position
  }
}

TEST(Replica, C5_KeyedConsumeIsOnceInTheGroup) {
  TwoFunded t;
  ASSERT_NO_FATAL_FAILURE(OpenTwoFunded(1000, 100, /*leases=*/true, &t));
  std::unique_ptr<Engine>& a = t.a;
  std::unique_ptr<Engine>& b = t.b;
  const Seed& s = t.s;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t first, a->consume(s.acme, 30, kCredits, "run-42"));
  EXPECT_EQ(first, 70);
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t again, b->consume(s.acme, 30, kCredits, "run-42"));
  EXPECT_EQ(again, 70);  // the first answer, no second debit
  absl::Status other = b->consume(s.acme, 31, kCredits, "run-42").status();
  EXPECT_TRUE(absl::IsInvalidArgument(other)) << other;
  EXPECT_THAT(RulesOf(other), ::testing::ElementsAre("C5"));
  TNY_ASSERT_OK_AND_ASSIGN(Balance balance, b->balance(s.acme));
  EXPECT_EQ(balance.available(), 70);
  // A refusal is the first answer too: refused again after a top-up, on any
  // replica, never debited (as on a single engine).
  absl::Status short_of = a->consume(s.acme, 500, kCredits, "big-1").status();
  EXPECT_TRUE(absl::IsResourceExhausted(short_of)) << short_of;
  TNY_ASSERT_OK(a->transfer(s.olivia, s.account, s.acme, 600).status());
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  absl::Status replayed = b->consume(s.acme, 500, kCredits, "big-1").status();
  EXPECT_TRUE(absl::IsResourceExhausted(replayed)) << replayed;
  EXPECT_THAT(replayed.message(), HasSubstr("replay"));
  EXPECT_TRUE(absl::IsInvalidArgument(b->consume(s.acme, 499, kCredits, "big-1").status()));
  EXPECT_EQ(b->balance(s.acme)->available(), 670);
}

TEST(Replica, A7_AuthorizeAndConsumeThroughTheLog) {
  auto a = OpenOrDie(GroupOfTest());
  ASSERT_NE(a, nullptr);
  const Seed s = MakeSeed(*a);
  TNY_ASSERT_OK(a->grant(kSystem, s.account, 1000));
  TNY_ASSERT_OK(a->transfer(s.olivia, s.account, s.acme, 10).status());
  const PermissionId trigger = *a->permission("runs.trigger");
  TNY_ASSERT_OK_AND_ASSIGN(bool allowed, a->authorize_and_consume(s.carla, s.acme, trigger, 4));
  EXPECT_TRUE(allowed);
  TNY_ASSERT_OK_AND_ASSIGN(bool denied, a->authorize_and_consume(s.carla, s.hq, trigger, 4));
  EXPECT_FALSE(denied);
  EXPECT_TRUE(
      absl::IsResourceExhausted(a->authorize_and_consume(s.carla, s.acme, trigger, 7).status()));
  EXPECT_EQ(a->balance(s.acme)->available(), 6);
}

// Consumption on a lease: local (no record per consume), settled every
// interval, never more than the group holds, conservation exact at every
// position, and every lease back once the replicas close.
TEST(Replica, R6_LeasedConsumptionIsLocalSettledAndNeverOverspends) {
  TwoFunded t;
  ASSERT_NO_FATAL_FAILURE(OpenTwoFunded(10000, 1000, /*leases=*/true, &t));
  std::unique_ptr<Engine>& a = t.a;
  std::unique_ptr<Engine>& b = t.b;
  const Seed& s = t.s;
  // The first consume goes through the log and takes a lease with it.
  TNY_ASSERT_OK(a->consume(s.acme, 1).status());
  const int64_t after_first = a->position();
  for (int i = 0; i < 100; ++i) TNY_ASSERT_OK(a->consume(s.acme, 1).status());
  // R6: on the lease: not one record more... until the settlement.
  EXPECT_LE(a->position(), after_first + 1);
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  TNY_ASSERT_OK_AND_ASSIGN(Balance seen, b->balance(s.acme));
  EXPECT_GT(seen.held, 0);  // a's lease shows as held everywhere
  EXPECT_EQ(seen.available() + seen.held + seen.consumed, 1000);
  // Settled within a few intervals: b sees a's consumption.
  for (int i = 0; i < 100 && b->balance(s.acme)->consumed < 101; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(b->balance(s.acme)->consumed, 101);
  // Both replicas spend at once: never more than the workspace holds.
  std::atomic<int64_t> spent{0};
  auto spend = [&](Engine& e) {
    for (int i = 0; i < 400; ++i) {
      absl::StatusOr<int64_t> left = e.consume(s.acme, 3);
      if (left.ok()) {
        spent += 3;
      } else if (!absl::IsResourceExhausted(left.status())) {
        ADD_FAILURE() << left.status();
      }
    }
  };
  std::thread ta([&] { spend(*a); });
  std::thread tb([&] { spend(*b); });
  ta.join();
  tb.join();
  EXPECT_LE(spent.load(), 1000 - 101);
  // Whatever is left, one replica can take, though the other may still
  // hold a lease of it (R6: asked back).
  if (const int64_t rest = 1000 - 101 - spent.load(); rest > 0) {
    TNY_ASSERT_OK_AND_ASSIGN(int64_t none_left, a->consume(s.acme, rest));
    EXPECT_EQ(none_left, 0);
    spent += rest;
  }
  // close() settles and returns every lease (R5).
  a->close();
  b->close();
  auto c = OpenOrDie(GroupOfTest());
  ASSERT_NE(c, nullptr);
  TNY_ASSERT_OK_AND_ASSIGN(Balance final, c->balance(s.acme));
  EXPECT_EQ(final.held, 0);
  EXPECT_EQ(final.consumed, 101 + spent.load());
  EXPECT_EQ(final.available(), 1000 - 101 - spent.load());
  TNY_EXPECT_OK(c->verify());  // C8
}

// R6: a consume is never refused while the group's balance covers it: what
// another replica's lease holds is asked back (recalled), returned by its
// owner, and the consume runs again, in one call.
TEST(Replica, R6_ConsumeLargerThanTheUnleasedRestRecallsOtherLeases) {
  TwoFunded t;
  ASSERT_NO_FATAL_FAILURE(OpenTwoFunded(10000, 1000, /*leases=*/true, &t));
  std::unique_ptr<Engine>& a = t.a;
  std::unique_ptr<Engine>& b = t.b;
  const Seed& s = t.s;
  // b's first consume takes a lease: a quarter of what was left (249).
  TNY_ASSERT_OK(b->consume(s.acme, 1).status());
  TNY_ASSERT_OK(b->consume(s.acme, 2).status());  // on the lease
  TNY_ASSERT_OK(a->wait_for(b->position(), 5000));
  TNY_ASSERT_OK_AND_ASSIGN(Balance before, a->balance(s.acme));
  ASSERT_EQ(before.held, 249);
  ASSERT_EQ(before.available(), 750);
  // A keyed consume of 800 > the 750 nobody holds, but the group holds
  // 997: granted, b's lease settled (its 2) and returned.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t keyed_left, a->consume(s.acme, 800, kCredits, "key-1"));
  EXPECT_EQ(keyed_left, 197);
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  TNY_ASSERT_OK_AND_ASSIGN(Balance mid, b->balance(s.acme));
  EXPECT_EQ(mid.consumed, 803);
  EXPECT_EQ(mid.held, 0);
  // The same for a consume without a key: b leases again (49 of 196)...
  TNY_ASSERT_OK(b->consume(s.acme, 1).status());
  TNY_ASSERT_OK(a->wait_for(b->position(), 5000));
  ASSERT_EQ(a->balance(s.acme)->held, 49);
  // ... and 190 > 147 is granted from the 196 the group holds.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, a->consume(s.acme, 190));
  EXPECT_EQ(left, 6);
  // More than the group holds is refused, as on one engine.
  absl::StatusOr<int64_t> refused = a->consume(s.acme, 7);
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
  a->close();
  b->close();
  auto c = OpenOrDie(GroupOfTest());
  ASSERT_NE(c, nullptr);
  TNY_ASSERT_OK_AND_ASSIGN(Balance final, c->balance(s.acme));
  EXPECT_EQ(final.held, 0);
  EXPECT_EQ(final.consumed, 994);
  EXPECT_EQ(final.available(), 6);
  TNY_EXPECT_OK(c->verify());  // C8
}

// C6 through the log: a reservation made on one replica is committed or
// released on another; an expired one is released everywhere.
TEST(Replica, C6_ReservationsAcrossReplicas) {
  TwoFunded t;
  ASSERT_NO_FATAL_FAILURE(OpenTwoFunded(1000, 100, /*leases=*/true, &t));
  std::unique_ptr<Engine>& a = t.a;
  std::unique_ptr<Engine>& b = t.b;
  const Seed& s = t.s;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, a->reserve(s.acme, 40));
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, b->reservation(hold));
  EXPECT_EQ(info.held[0], 40);
  EXPECT_EQ(b->balance(s.acme)->held, 40);
  EXPECT_TRUE(absl::IsInvalidArgument(b->commit(hold, 41)));
  TNY_ASSERT_OK(b->commit(hold, 25));
  EXPECT_TRUE(absl::IsNotFound(a->commit(hold, 1)));  // settled once, in the group
  TNY_ASSERT_OK(a->wait_for(b->position(), 5000));
  TNY_ASSERT_OK_AND_ASSIGN(Balance balance, a->balance(s.acme));
  EXPECT_EQ(balance.held, 0);
  EXPECT_EQ(balance.consumed, 25);
  EXPECT_EQ(balance.available(), 75);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId other, b->reserve(s.acme, 70));
  EXPECT_TRUE(absl::IsResourceExhausted(a->reserve(s.acme, 10).status()));
  TNY_ASSERT_OK(a->release(other));
  // Expiry: a one-second hold, released by the first record after its end.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId brief, a->reserve(s.acme, 5, kCredits, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(absl::IsNotFound(b->commit(brief, 5)));  // past its end (C6)
  // A refusal appends nothing, so the hold is released by the next record,
  // here an explicit sweep.
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t expired, a->expire_reservations());
  EXPECT_EQ(expired, 1u);
  TNY_ASSERT_OK(b->wait_for(a->position(), 5000));
  EXPECT_EQ(b->balance(s.acme)->available(), 75);
  TNY_EXPECT_OK(a->verify());
  TNY_EXPECT_OK(b->verify());
  auto ledger = b->ledger();
  ASSERT_TRUE(ledger.ok());
  int commits = 0;
  for (const LedgerEntry& e : *ledger) commits += e.kind == LedgerKind::kCommit ? 1 : 0;
  EXPECT_EQ(commits, 1);
}

TEST(Replica, R7_RetryWithTheSameChangeIdIsAnsweredFromTheLog) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  auto b = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Seed s = MakeSeed(*a);
  Batch batch;
  batch.create_user("eve@x.io").create_user("finn@x.io");
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> ids, a->apply(batch, "import-7"));
  const int64_t at = a->position();
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> again, a->apply(batch, "import-7"));
  EXPECT_EQ(again, ids);
  EXPECT_EQ(a->position(), at);  // nothing appended
  // From another replica too.
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> elsewhere, b->apply(batch, "import-7"));
  EXPECT_EQ(elsewhere, ids);
  EXPECT_EQ(b->position(), at);
  // The same id for another change is refused.
  Batch other;
  other.create_user("gus@x.io");
  absl::Status clash = a->apply(other, "import-7").status();
  EXPECT_TRUE(absl::IsInvalidArgument(clash)) << clash;
  EXPECT_THAT(RulesOf(clash), ::testing::ElementsAre("R7"));
  (void)s;
}

TEST(Replica, R7_LogThatChangedUnderAReplicaIsDataLossAndReadsGoOn) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  const Seed s = MakeSeed(*a);
  const int64_t at = a->position();
  // Someone rewrites the newest record under the replica.
  ASSERT_EQ(
      SqlSession().Exec(absl::StrCat("UPDATE \"", group, "\".records SET change_id = 'forged' ",
                                     "WHERE position = ", at)),
      "");
  absl::Status lost = a->create_user("after@x.io").status();
  EXPECT_TRUE(absl::IsDataLoss(lost)) << lost;
  EXPECT_THAT(lost.message(), HasSubstr("changed under this replica"));
  EXPECT_THAT(RulesOf(lost), ::testing::ElementsAre("R7"));
  EXPECT_TRUE(a->check(s.carla, s.acme, *a->permission("runs.trigger")));
  EXPECT_EQ(a->position(), at);
  EXPECT_TRUE(absl::IsDataLoss(a->create_user("again@x.io").status()));
}

TEST(Replica, R1_RecordOfANewerFormatStopsApplyingButNotReads) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  const Seed s = MakeSeed(*a);
  const int64_t at = a->position();
  ASSERT_EQ(SqlSession().Exec(absl::StrCat("SELECT \"", group, "\".append_if_head(", at,
                                           ", 'from-the-future', '\\x01'::bytea, 99)")),
            "");
  absl::Status waited = a->wait_for(at + 1, 3000);
  EXPECT_TRUE(absl::IsFailedPrecondition(waited)) << waited;
  absl::Status refused = a->create_user("later@x.io").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("format version 99"));
  EXPECT_THAT(refused.message(), HasSubstr("version 1 at most"));
  EXPECT_EQ(a->position(), at);
  EXPECT_TRUE(a->check(s.carla, s.acme, *a->permission("runs.trigger")));
}

TEST(Replica, R7_DatabaseDownChangesUnavailableWithTheirIdReadsGoOn) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  const Seed s = MakeSeed(*a);
  ASSERT_TRUE(cluster->Stop());
  absl::Status down = a->create_user("while-down@x.io").status();
  EXPECT_TRUE(absl::IsUnavailable(down)) << down;
  const std::string id = ChangeIdOf(down);
  EXPECT_FALSE(id.empty());
  EXPECT_THAT(down.message(), HasSubstr(id));
  EXPECT_TRUE(a->check(s.carla, s.acme, *a->permission("runs.trigger")));
  ASSERT_TRUE(cluster->Start());
  // Reconnects by itself; the retry with the same id applies once.
  Batch retry;
  retry.create_user("while-down@x.io");
  absl::StatusOr<std::vector<uint64_t>> done = a->apply(retry, id);
  for (int i = 0; i < 50 && absl::IsUnavailable(done.status()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    done = a->apply(retry, id);
  }
  TNY_ASSERT_OK(done.status());
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> again, a->apply(retry, id));
  EXPECT_EQ(again, *done);
  EXPECT_EQ(a->stats().users, 3u);
}

TEST(Replica, R5_ForkedWorkerFollowsAfterFollow) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads in a child forked from a threaded process";
#endif
  const std::string group = GroupOfTest();
  auto parent = OpenOrDie(group);
  ASSERT_NE(parent, nullptr);
  const Seed s = MakeSeed(*parent);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipe_fds[0]);
    // In the child: changes wait for follow(); reads go on.
    int code = 0;
    if (!absl::IsFailedPrecondition(parent->create_user("early@x.io").status())) code |= 1;
    if (!parent->check(s.carla, s.acme, *parent->permission("runs.trigger"))) code |= 2;
    if (!parent->follow().ok()) code |= 4;
    if (!parent->create_user("child@x.io").ok()) code |= 8;
    const int64_t at = parent->last_change_position();
    if (write(pipe_fds[1], &at, sizeof at) != sizeof at) code |= 16;
    _exit(code);
  }
  close(pipe_fds[1]);
  int64_t child_at = 0;
  ASSERT_EQ(read(pipe_fds[0], &child_at, sizeof child_at), static_cast<ssize_t>(sizeof child_at));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  TNY_ASSERT_OK(parent->wait_for(child_at, 5000));
  EXPECT_TRUE(parent->user("child@x.io").ok());
  // The parent's own connections were not disturbed by the child's.
  TNY_EXPECT_OK(parent->create_user("parent@x.io").status());
}

// R8: an application's own connection, appending a prepared change inside
// its transaction. Returns "" or the SQLSTATE of the append.
std::string AppendPrepared(PGconn* conn, const PreparedChange& p) {
  const std::string expected = absl::StrCat(p.expected_position);
  const std::string version = absl::StrCat(p.format_version);
  const char* values[] = {expected.c_str(), p.change_id.c_str(), p.record.data(), version.c_str()};
  const int lengths[] = {0, 0, static_cast<int>(p.record.size()), 0};
  const int formats[] = {0, 0, 1, 0};
  PGresult* result = PQexecParams(conn, p.sql.c_str(), 4, nullptr, values, lengths, formats, 0);
  std::string out;
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    out = state != nullptr ? state : "error";
  }
  PQclear(result);
  return out;
}

TEST(Replica, R8_ChangeCommitsOrRollsBackWithTheApplicationsTransaction) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(SqlSession().Exec(absl::StrCat("CREATE TABLE \"", group, "_app\" (name text)")), "");
  PGconn* app = PQconnectdb(cluster->conninfo().c_str());
  ASSERT_EQ(PQstatus(app), CONNECTION_OK);
  auto exec = [&](const std::string& sql) {
    PGresult* r = PQexec(app, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
  };
  // Committed: the application's row and the user, together.
  Batch batch;
  batch.create_user("hana@x.io");
  TNY_ASSERT_OK_AND_ASSIGN(PreparedChange prepared, a->prepare(batch));
  EXPECT_EQ(prepared.expected_position, a->position());
  EXPECT_FALSE(a->user("hana@x.io").ok());  // nothing applied by prepare
  ASSERT_TRUE(exec("BEGIN"));
  ASSERT_TRUE(exec(absl::StrCat("INSERT INTO \"", group, "_app\" VALUES ('hana')")));
  ASSERT_EQ(AppendPrepared(app, prepared), "");
  ASSERT_TRUE(exec("COMMIT"));
  TNY_ASSERT_OK(a->wait_for(prepared.expected_position + 1, 5000));
  EXPECT_TRUE(a->user("hana@x.io").ok());
  // Rolled back: neither.
  Batch ivan;
  ivan.create_user("ivan@x.io");
  TNY_ASSERT_OK_AND_ASSIGN(PreparedChange rolled, a->prepare(ivan));
  ASSERT_TRUE(exec("BEGIN"));
  ASSERT_EQ(AppendPrepared(app, rolled), "");
  ASSERT_TRUE(exec("ROLLBACK"));
  // A stale prepared change fails the application's transaction (TN001).
  TNY_ASSERT_OK(a->create_user("jo@x.io").status());
  ASSERT_TRUE(exec("BEGIN"));
  EXPECT_EQ(AppendPrepared(app, rolled), "TN001");
  ASSERT_TRUE(exec("ROLLBACK"));
  EXPECT_EQ(a->wait_for(a->position() + 1, 200).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(a->user("ivan@x.io").ok());
  // A refused batch is refused by prepare, as by apply.
  Batch twice;
  twice.create_user("jo@x.io");
  EXPECT_TRUE(absl::IsAlreadyExists(a->prepare(twice).status()));
  PQfinish(app);
  Engine plain;
  EXPECT_TRUE(absl::IsFailedPrecondition(plain.prepare(batch).status()));
}

// R7: a retry whose first attempt is in the log at the very position the
// retrying replica would append at (not yet applied there) is answered from
// the log, never taken for this attempt's record (which ran at another
// time): the retrying replica ends with the log's record, as every other.
TEST(Replica, R7_RetryOfAChangeAtTheExpectedPositionIsTheLogsRecord) {
  const std::string group = GroupOfTest();
  auto a = OpenOrDie(group);
  auto b = OpenOrDie(group);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  PGconn* app = PQconnectdb(cluster->conninfo().c_str());
  ASSERT_EQ(PQstatus(app), CONNECTION_OK);
  for (int round = 0; round < 20; ++round) {
    Batch batch;
    batch.create_user(absl::StrCat("retry", round, "@x.io"));
    const std::string id = absl::StrCat("retry-", round);
    TNY_ASSERT_OK(a->wait_for(b->position(), 5000));
    TNY_ASSERT_OK_AND_ASSIGN(PreparedChange first, b->prepare(batch, id));
    ASSERT_EQ(AppendPrepared(app, first), "");  // the first attempt, committed
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 3));
    TNY_ASSERT_OK(a->apply(batch, id).status());  // its retry, on a
  }
  PQfinish(app);
  auto c = OpenOrDie(group);
  ASSERT_NE(c, nullptr);
  TNY_ASSERT_OK(a->wait_for(c->position(), 5000));
  auto feed_a = a->changes_since(0);
  auto feed_c = c->changes_since(0);
  ASSERT_TRUE(feed_a.ok() && feed_c.ok());
  ASSERT_EQ(feed_a->size(), feed_c->size());
  for (size_t i = 0; i < feed_a->size(); ++i) {
    EXPECT_EQ((*feed_a)[i].time_ns, (*feed_c)[i].time_ns) << (*feed_a)[i].what;
    EXPECT_EQ((*feed_a)[i].what, (*feed_c)[i].what);
  }
  EXPECT_EQ(a->stats().users, 20u);
}

TEST(Replica, R1_OpenRefusesBadOptions) {
  Engine::Options options;
  options.group = "g";
  absl::Status no_log = OpenReplica(options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(no_log)) << no_log;
  options = ReplicaOptions("g_bad");
  options.journal = "/tmp/never";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenReplica(options).status()));
  options = ReplicaOptions("g_bad");
  options.log_poll_ms = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(OpenReplica(options).status()));
  options = ReplicaOptions("g_bad");
  options.log = "host=/nonexistent port=1 connect_timeout=1";
  EXPECT_TRUE(absl::IsUnavailable(OpenReplica(options).status()));
}

}  // namespace
}  // namespace tenantry
