// Copyright 2026 The tenantry Authors.
//
// Concurrency (X1-X5) at the engine level; runs under TSan in CI. Durations
// are bounded by iteration counts so the suite stays fast under sanitizers.
// The stalled-writer, memory, raw-pthread and fork proofs are in
// stress_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "epoch.h"
#include "tenantry/engine.h"

namespace tenantry {
namespace {

struct Fixture {
  Engine engine;
  UserId owner = 0;
  AccountId account = 0;
  WorkspaceId ws = 0;

  Fixture() {
    owner = *engine.create_user("owner@x.test");
    account = *engine.create_account({"Acct", owner, Plan::Named("enterprise")});
    ws = *engine.create_workspace(owner, account, {"Main"});
  }
};

// Batches that move people are never seen half-applied (X2). Each batch
// (i) hands the admin role on around a ring of four users (the old admin
// becomes a viewer, the next one an admin), (ii) swaps two users between a
// team holding `manager` and one holding `viewer`, and (iii) moves a user
// from one workspace to another. Every published version therefore gives
// exactly one ring user `members.invite`, exactly one of the two team users
// `contacts.create` and both `workspace.view`, and the mover exactly one of
// the two workspaces; a half-applied batch breaks each of these. Two
// readers assert them from one check_many (one version answers a whole
// batch), and from workspaces_for and members (each one version), a million
// times in all, while a writer applies batches until they are done. Single
// checks must also only ever give answers some version gives (X1). The
// million holds in every build: the reads are cheap enough under ASan and
// TSan too (a few seconds).
TEST(Concurrency, X1_X2_BatchesAreNeverSeenHalfApplied) {
  constexpr int64_t kAssertions = 1'000'000;
  constexpr int kRing = 4;
  Fixture f;
  Engine& e = f.engine;
  const PermissionId invite = *e.permission("members.invite");
  const PermissionId create = *e.permission("contacts.create");
  const PermissionId view = *e.permission("workspace.view");
  const WorkspaceId team_space = *e.create_workspace(f.owner, f.account, {"Teams"});
  const WorkspaceId from = *e.create_workspace(f.owner, f.account, {"From"});
  const WorkspaceId to = *e.create_workspace(f.owner, f.account, {"To"});
  std::vector<UserId> ring;
  for (int i = 0; i < kRing; ++i) {
    ring.push_back(*e.create_user(absl::StrCat("ring", i, "@x.test")));
    ASSERT_TRUE(e.add_member(f.owner, f.ws, ring.back(), i == 0 ? "admin" : "viewer").ok());
  }
  const TeamId managers = *e.create_team(f.owner, team_space, "Managers", "manager");
  const TeamId viewers = *e.create_team(f.owner, team_space, "Viewers", "viewer");
  const UserId p = *e.create_user("p@x.test");
  const UserId q = *e.create_user("q@x.test");
  ASSERT_TRUE(e.add_team_member(f.owner, managers, p).ok());
  ASSERT_TRUE(e.add_team_member(f.owner, viewers, q).ok());
  const UserId mover = *e.create_user("mover@x.test");
  ASSERT_TRUE(e.add_member(f.owner, from, mover, "member").ok());

  // One version answers all of these (A6).
  const std::vector<UserId> users = {ring[0], ring[1], ring[2], ring[3], p, q, p, q, mover, mover};
  const std::vector<WorkspaceId> spaces = {f.ws,       f.ws,       f.ws,       f.ws, team_space,
                                           team_space, team_space, team_space, from, to};
  const std::vector<PermissionId> perms = {invite, invite, invite, invite, create,
                                           create, view,   view,   view,   view};
  std::atomic<int64_t> assertions{0}, broken{0}, versions_seen{0};
  auto reader = [&] {
    std::vector<uint8_t> out(users.size());
    uint64_t last_revision = 0;
    int64_t mine = 0, seen = 0;
    for (int64_t i = 0; assertions.load(std::memory_order_relaxed) < kAssertions; ++i) {
      if (!e.check_many(users, spaces, perms, absl::MakeSpan(out)).ok()) {
        broken.fetch_add(1);
        assertions.fetch_add(kAssertions);  // stops everyone
        break;
      }
      if (out[0] + out[1] + out[2] + out[3] != 1) broken.fetch_add(1);      // the ring
      if (out[4] + out[5] != 1 || !out[6] || !out[7]) broken.fetch_add(1);  // the teams
      if (out[8] + out[9] != 1) broken.fetch_add(1);                        // the move
      int n = 3;
      if (i % 8 == 0) {
        const std::vector<WorkspaceId> of = e.workspaces_for(mover);
        if ((std::count(of.begin(), of.end(), from) + std::count(of.begin(), of.end(), to)) != 1) {
          broken.fetch_add(1);
        }
        const std::vector<Member> members = *e.members(f.ws);
        if (std::count_if(members.begin(), members.end(),
                          [](const Member& m) { return m.role == "admin"; }) != 1) {
          broken.fetch_add(1);
        }
        // Views never change, whatever the version (X1).
        if (!e.check(p, team_space, view) || !e.check(ring[3], f.ws, view)) broken.fetch_add(1);
        n += 3;
      }
      const uint64_t revision = e.revision();
      seen += revision != last_revision ? 1 : 0;
      last_revision = revision;
      mine += n;
      if (mine >= 1024) {
        assertions.fetch_add(mine, std::memory_order_relaxed);
        mine = 0;
      }
    }
    assertions.fetch_add(mine);
    versions_seen.fetch_add(seen);
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) readers.emplace_back(reader);
  int64_t batches = 0;
  for (; assertions.load(std::memory_order_relaxed) < kAssertions; ++batches) {
    const int admin = static_cast<int>(batches % kRing);
    const bool p_manages = batches % 2 == 0;  // before this batch
    Batch batch;
    batch.set_role(f.owner, f.ws, ring[admin], "viewer")
        .set_role(f.owner, f.ws, ring[(admin + 1) % kRing], "admin")
        .remove_team_member(f.owner, p_manages ? managers : viewers, p)
        .add_team_member(f.owner, p_manages ? viewers : managers, p)
        .remove_team_member(f.owner, p_manages ? viewers : managers, q)
        .add_team_member(f.owner, p_manages ? managers : viewers, q)
        .remove_member(f.owner, p_manages ? from : to, mover)
        .add_member(f.owner, p_manages ? to : from, mover, "member");
    const absl::StatusOr<std::vector<uint64_t>> applied = e.apply(batch);
    if (!applied.ok()) {
      ADD_FAILURE() << applied.status();
      assertions.fetch_add(kAssertions);  // stops the readers
      break;
    }
  }
  for (auto& t : readers) t.join();
  std::printf(
      "[ stats    ] X2 %lld reader assertions over %lld batches (%lld version changes "
      "seen by readers)\n",
      static_cast<long long>(assertions.load()), static_cast<long long>(batches),
      static_cast<long long>(versions_seen.load()));
  EXPECT_EQ(broken.load(), 0);
  EXPECT_GE(assertions.load(), kAssertions);
  EXPECT_GT(batches, 0);
  // The readers saw the versions change under them, not one frozen version.
  EXPECT_GT(versions_seen.load(), 2);
  EXPECT_TRUE(e.verify().ok()) << e.verify();
}

// X3 + T3: writers racing to create the same slug: exactly one wins.
TEST(Concurrency, X3_RacingWritersKeepSlugsUnique) {
  Fixture f;
  constexpr int kThreads = 4, kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto id = f.engine.create_workspace(
            f.owner, f.account,
            {absl::StrCat("Space ", round, " by ", t), absl::StrCat("space-", round)});
        if (id.ok()) {
          wins.fetch_add(1);
        } else {
          EXPECT_EQ(id.status().code(), absl::StatusCode::kAlreadyExists);
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
  EXPECT_TRUE(f.engine.verify().ok());
}

// X3 + M5: threads race to make one user staff and client of the same
// account; exactly one kind of change wins, every time.
TEST(Concurrency, M5_StaffAndClientRaceHasExactlyOneWinner) {
  Fixture f;
  constexpr int kRounds = 60;
  for (int round = 0; round < kRounds; ++round) {
    UserId user = *f.engine.create_user(absl::StrCat("racer", round, "@x.test"));
    std::atomic<int> staff_wins{0}, client_wins{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        if (t % 2 == 0) {
          if (f.engine.add_staff(f.owner, f.account, user, "member").ok()) staff_wins.fetch_add(1);
        } else {
          if (f.engine.add_member(f.owner, f.ws, user, "client").ok()) client_wins.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(staff_wins.load() + client_wins.load(), 1) << "round " << round;
  }
  EXPECT_TRUE(f.engine.verify().ok()) << f.engine.verify();
}

// X3 + M4: racing transfers and removals never leave zero or two owners.
TEST(Concurrency, M4_RacingOwnershipChangesKeepOneOwner) {
  Fixture f;
  std::vector<UserId> users;
  for (int i = 0; i < 4; ++i) {
    users.push_back(*f.engine.create_user(absl::StrCat("m", i, "@x.test")));
    ASSERT_TRUE(f.engine.add_member(f.owner, f.ws, users.back(), "admin").ok());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        UserId current = f.engine.workspace(f.ws)->owner;
        (void)f.engine.transfer_ownership(current, f.ws, users[(t + i) % users.size()]);
        (void)f.engine.remove_member(kSystem, f.ws, users[(t + i + 1) % users.size()]);
        (void)f.engine.add_member(kSystem, f.ws, users[(t + i + 1) % users.size()], "admin");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(f.engine.verify().ok()) << f.engine.verify();
  int owners = 0;
  const std::vector<Member> members = *f.engine.members(f.ws);
  for (const Member& m : members) owners += m.role == "owner" ? 1 : 0;
  EXPECT_EQ(owners, 1);
}

// X5: threads the engine never saw call in with no registration, and their
// per-thread state is returned when they exit.
TEST(Concurrency, X5_ShortLivedForeignThreadsNeedNoRegistration) {
  Fixture f;
  const PermissionId view = *f.engine.permission("workspace.view");
  const size_t slots_before = internal::Epochs::SlotsInUse();
  std::atomic<int> allowed{0};
  for (int wave = 0; wave < 25; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        if (f.engine.check(f.owner, f.ws, view)) allowed.fetch_add(1);
        (void)f.engine.workspaces_for(f.owner);
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(allowed.load(), 100);
  EXPECT_EQ(internal::Epochs::SlotsInUse(), slots_before);
}

// X4: versions retired under continuous reads are all freed once the
// readers are done, and with no reader pinning an epoch every change frees
// what it replaced at once: nothing accumulates. (How much a stalled reader
// may pin is scheduling-dependent; the memory benchmark measures it.)
TEST(Concurrency, X4_RetiredVersionsAreReclaimed) {
  Fixture f;
  UserId user = *f.engine.create_user("u@x.test");
  ASSERT_TRUE(f.engine.add_member(f.owner, f.ws, user, "viewer").ok());
  const PermissionId view = *f.engine.permission("workspace.view");
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      EXPECT_TRUE(f.engine.check(user, f.ws, view));
    }
  });
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(f.engine.set_role(f.owner, f.ws, user, i % 2 ? "viewer" : "member").ok());
  }
  done.store(true, std::memory_order_release);
  reader.join();
  internal::Epochs::Reclaim();
  EXPECT_EQ(internal::Epochs::Pending(), 0u);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(f.engine.set_role(f.owner, f.ws, user, i % 2 ? "viewer" : "member").ok());
    ASSERT_EQ(internal::Epochs::Pending(), 0u) << "change " << i;
  }
}

}  // namespace
}  // namespace tenantry
