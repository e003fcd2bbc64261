// Copyright 2026 The tenantry Authors.
//
// The journal under concurrency (P3, C8, X1), run under TSan: consumers,
// keyed consumers, reservations and writers at once, and saves taken while
// they run; recovery gives exactly the engine that was running.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "persist_util.h"
#include "tenantry/snapshot.h"
#include "test_util.h"

namespace tenantry::test {
namespace {

// Two threads consume (plain, keyed, A7) and reserve/commit on one workspace
// until `stop`.
std::vector<std::thread> Consumers(Engine& e, const World& world, std::atomic<bool>& stop) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&e, &world, &stop, t] {
      std::mt19937 rng(t);
      while (!stop.load()) {
        switch (rng() % 4) {
          case 0:
            (void)e.consume(world.client_a, 1 + rng() % 5);
            break;
          case 1:
            (void)e.consume(world.client_a, 1 + rng() % 5, kCredits,
                            absl::StrCat("k", t, "-", rng() % 50));
            break;
          case 2:
            if (auto r = e.reserve(world.client_a, 1 + rng() % 9); r.ok()) {
              (void)e.commit(*r, rng() % 2);
            }
            break;
          default:
            (void)e.authorize_and_consume(world.member, world.client_a, 0, 1);
        }
      }
    });
  }
  return threads;
}

TEST(Journal, P3_C8_ConcurrentConsumptionRecoversExactly) {
  const std::string dir = TempDirFor("consumers");
  std::string before;
  {
    World world(OpenOrDie(Journaled(dir, Durability::kNone)));
    ASSERT_NO_FATAL_FAILURE(world.Build());
    Engine& e = world.engine;
    TNY_ASSERT_OK(e.grant(kSystem, world.account, 100000));
    TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_a, 20000).status());
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads = Consumers(e, world, stop);
    for (int i = 0; i < 200; ++i) {
      TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_a, 10).status());
      if (i % 50 == 0) TNY_ASSERT_OK(e.revoke(kSystem, world.client_a, 1));
    }
    stop = true;
    for (std::thread& t : threads) t.join();
    TNY_ASSERT_OK(e.verify());
    before = Everything(e);
  }
  std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir, Durability::kNone));
  EXPECT_EQ(Everything(*e), before);
  TNY_EXPECT_OK(e->verify());
}

TEST(Journal, P1_P3_C8_SavesWhileConsumingRecoverExactly) {
  const std::string dir = TempDirFor("saves");
  const std::string snap = dir + ".tny";
  std::string before;
  {
    World world(OpenOrDie(Journaled(dir, Durability::kGroup)));
    ASSERT_NO_FATAL_FAILURE(world.Build());
    Engine& e = world.engine;
    TNY_ASSERT_OK(e.grant(kSystem, world.account, 100000));
    TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_a, 50000).status());
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads = Consumers(e, world, stop);
    for (int i = 0; i < 6; ++i) {
      TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_a, 100).status());
      // Each save's cut is exact: what it holds plus the journal after it
      // is the engine.
      TNY_ASSERT_OK(SaveSnapshot(e, snap));
    }
    stop = true;
    for (std::thread& t : threads) t.join();
    TNY_ASSERT_OK(e.verify());
    before = Everything(e);
  }
  std::unique_ptr<Engine> e;
  TNY_ASSERT_OK_AND_ASSIGN(e, LoadSnapshot(snap, Journaled(dir, Durability::kGroup)));
  EXPECT_EQ(Everything(*e), before);
  TNY_EXPECT_OK(e->verify());
  std::remove(snap.c_str());
}

}  // namespace
}  // namespace tenantry::test
