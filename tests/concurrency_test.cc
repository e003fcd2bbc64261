// Copyright 2026 The tenantry Authors.
//
// Concurrency (X1-X5) at the engine level; runs under TSan in CI. Durations
// are bounded by iteration counts so the suite stays fast under sanitizers.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

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

// Two users swap admin and viewer in one batch, so every published version
// gives exactly one of them `members.invite`. check_many answers from one
// version, so a reader must never see both or neither (X2); single checks
// must only ever see answers some version gives (X1).
TEST(Concurrency, X1_X2_ReadersSeeOnlyWholePublishedVersions) {
  Fixture f;
  UserId a = *f.engine.create_user("a@x.test");
  UserId b = *f.engine.create_user("b@x.test");
  ASSERT_TRUE(f.engine.add_member(f.owner, f.ws, a, "admin").ok());
  ASSERT_TRUE(f.engine.add_member(f.owner, f.ws, b, "viewer").ok());
  const PermissionId invite = *f.engine.permission("members.invite");
  const PermissionId view = *f.engine.permission("workspace.view");

  constexpr int kSwaps = 400;
  std::atomic<bool> done{false};
  std::atomic<long> torn{0}, reads{0};
  auto reader = [&] {
    const UserId users[] = {a, b};
    const WorkspaceId spaces[] = {f.ws, f.ws};
    const PermissionId perms[] = {invite, invite};
    uint8_t out[2];
    while (!done.load(std::memory_order_acquire)) {
      ASSERT_TRUE(f.engine.check_many(users, spaces, perms, absl::MakeSpan(out)).ok());
      if (out[0] + out[1] != 1) torn.fetch_add(1);
      // Both always keep workspace.view, in every version.
      if (!f.engine.check(a, f.ws, view) || !f.engine.check(b, f.ws, view)) torn.fetch_add(1);
      reads.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) readers.emplace_back(reader);
  for (int i = 0; i < kSwaps; ++i) {
    bool a_admin = i % 2 == 1;
    Batch swap;
    swap.set_role(f.owner, f.ws, a, a_admin ? "admin" : "viewer")
        .set_role(f.owner, f.ws, b, a_admin ? "viewer" : "admin");
    ASSERT_TRUE(f.engine.apply(swap).ok());
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_TRUE(f.engine.verify().ok());
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
            {"Space " + std::to_string(round) + " by " + std::to_string(t),
             "space-" + std::to_string(round)});
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
    UserId user = *f.engine.create_user("racer" + std::to_string(round) + "@x.test");
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
    users.push_back(*f.engine.create_user("m" + std::to_string(i) + "@x.test"));
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
