// Copyright 2026 The tenantry Authors.
//
// Tests of the epoch-based reclamation domain (X1, X4, X5).
#include "epoch.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace tenantry::internal {
namespace {

// Counts nodes freed through CountingDeleter.
std::atomic<int> g_freed{0};

void CountingDeleter(void* p) {
  delete static_cast<int*>(p);
  g_freed.fetch_add(1, std::memory_order_relaxed);
}

Garbage CountedGarbage() { return Garbage{new int(7), &CountingDeleter}; }

// A one-shot signal between two threads.
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Every test starts and ends with an empty queue; drain whatever an earlier
// failing test may have left.
class EpochTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Epochs::Reclaim();
    ASSERT_EQ(Epochs::Pending(), 0u);
    g_freed.store(0);
  }
  void TearDown() override {
    Epochs::Reclaim();
    EXPECT_EQ(Epochs::Pending(), 0u);
  }
};

TEST_F(EpochTest, X4_NoReadersReclaimFreesEverything) {
  for (int i = 0; i < 3; ++i) {
    const uint64_t e = Epochs::Advance();
    Epochs::Retire(e, {CountedGarbage(), CountedGarbage()});
  }
  EXPECT_EQ(Epochs::Pending(), 6u);
  EXPECT_GT(Epochs::MinActive(), Epochs::Advance() - 1);
  EXPECT_EQ(Epochs::Reclaim(), 6u);
  EXPECT_EQ(Epochs::Pending(), 0u);
  EXPECT_EQ(g_freed.load(), 6);
  EXPECT_EQ(Epochs::Reclaim(), 0u);
}

TEST_F(EpochTest, X4_ReaderThatAnnouncedBeforePinsGarbage) {
  Event announced, release;
  std::thread reader([&] {
    ReadGuard guard;
    announced.Notify();
    release.Wait();
  });
  announced.Wait();
  const uint64_t reader_epoch = Epochs::MinActive();
  const uint64_t e = Epochs::Advance();
  ASSERT_GT(e, reader_epoch);
  Epochs::Retire(e, {CountedGarbage()});

  EXPECT_EQ(Epochs::Reclaim(), 0u);
  EXPECT_EQ(Epochs::Pending(), 1u);
  EXPECT_EQ(g_freed.load(), 0);
  EXPECT_EQ(Epochs::MinActive(), reader_epoch);

  release.Notify();
  reader.join();
  EXPECT_EQ(Epochs::Reclaim(), 1u);
  EXPECT_EQ(Epochs::Pending(), 0u);
  EXPECT_EQ(g_freed.load(), 1);
}

TEST_F(EpochTest, X4_ReaderThatAnnouncedAfterRetireDoesNotPin) {
  const uint64_t e = Epochs::Advance();
  Epochs::Retire(e, {CountedGarbage()});
  Event announced, release;
  std::thread reader([&] {
    ReadGuard guard;
    announced.Notify();
    release.Wait();
  });
  announced.Wait();
  EXPECT_GE(Epochs::MinActive(), e);
  EXPECT_EQ(Epochs::Reclaim(), 1u);
  EXPECT_EQ(g_freed.load(), 1);
  release.Notify();
  reader.join();
}

TEST_F(EpochTest, X4_NestedGuardsAnnounceOnce) {
  std::thread reader([] {
    ReadGuard outer;
    const uint64_t announced = Epochs::MinActive();
    Epochs::Advance();
    {
      ReadGuard inner;
      EXPECT_EQ(Epochs::MinActive(), announced);
      Epochs::Advance();
    }
    // Still inside `outer`: the announcement stays.
    EXPECT_EQ(Epochs::MinActive(), announced);
    const uint64_t e = Epochs::Advance();
    Epochs::Retire(e, {CountedGarbage()});
    EXPECT_EQ(Epochs::Reclaim(), 0u);
  });
  reader.join();
  EXPECT_EQ(Epochs::Reclaim(), 1u);
  EXPECT_EQ(g_freed.load(), 1);
}

TEST_F(EpochTest, X5_ShortLivedThreadsGiveTheirSlotsBack) {
  constexpr int kThreads = 200;
  constexpr int kAtOnce = 8;
  const size_t in_use_before = Epochs::SlotsInUse();
  const size_t allocated_before = Epochs::SlotsAllocated();
  for (int done = 0; done < kThreads; done += kAtOnce) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kAtOnce; ++i) {
      threads.emplace_back([] {
        ReadGuard guard;
        ReadGuard nested;
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(Epochs::SlotsInUse(), in_use_before);
  }
  EXPECT_EQ(Epochs::SlotsInUse(), in_use_before);
  EXPECT_LE(Epochs::SlotsAllocated(), allocated_before + kAtOnce);
  // No slot is left announcing: nothing pins reclamation.
  EXPECT_GT(Epochs::MinActive(), Epochs::Advance() - 1);
}

// A node whose fields always add up to 100 while it is reachable.
struct Node {
  int a;
  int b;
};

// Poisons the node before freeing it, so a reader that still sees it breaks
// the invariant even without a sanitizer (and races with it under TSan).
void DeleteNode(void* p) {
  auto* node = static_cast<Node*>(p);
  node->a = -1;
  node->b = -1;
  delete node;
}

TEST_F(EpochTest, X1_X4_ReadersNeverSeeFreedNodes) {
  constexpr int kReaders = 4;
  constexpr auto kDuration = std::chrono::milliseconds(500);
  constexpr int kMaxWrites = 200000;
  std::atomic<Node*> root{new Node{50, 50}};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> bad{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        ReadGuard guard;
        const Node* node = root.load(std::memory_order_seq_cst);
        if (node->a + node->b != 100) bad.fetch_add(1, std::memory_order_relaxed);
        ++n;
      }
      reads.fetch_add(n, std::memory_order_relaxed);
    });
  }

  const auto deadline = std::chrono::steady_clock::now() + kDuration;
  int writes = 0;
  size_t freed = 0;
  while (writes < kMaxWrites && std::chrono::steady_clock::now() < deadline) {
    ++writes;
    Node* old = root.load(std::memory_order_relaxed);
    root.store(new Node{writes % 100, 100 - writes % 100}, std::memory_order_seq_cst);
    const uint64_t e = Epochs::Advance();
    Epochs::Retire(e, {Garbage{old, &DeleteNode}});
    freed += Epochs::Reclaim();
  }
  stop.store(true);
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  freed += Epochs::Reclaim();
  EXPECT_EQ(Epochs::Pending(), 0u);
  EXPECT_EQ(freed, static_cast<size_t>(writes));
  DeleteNode(root.load());
}

// Child exit codes of the fork test.
enum ChildStatus : int {
  kChildOk = 0,
  kChildStillPinned = 10,
  kChildNotFreed = 11,
  kChildPendingLeft = 12,
  kChildSlotsInUse = 13,
};

TEST_F(EpochTest, X4_ForkChildIsNotPinnedByParentThreads) {
  Event announced, release;
  std::thread reader([&] {
    ReadGuard guard;
    announced.Notify();
    release.Wait();
  });
  announced.Wait();

  // In the parent the reader pins this batch.
  const uint64_t e = Epochs::Advance();
  Epochs::Retire(e, {CountedGarbage()});
  ASSERT_EQ(Epochs::Reclaim(), 0u);
  const size_t in_use = Epochs::SlotsInUse();

  const pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    // Child: only this thread exists; the reader's slot must have been given
    // back, so the batch retired before the fork and one retired after it are
    // both freed. No gtest calls here.
    int status = kChildOk;
    const uint64_t e2 = Epochs::Advance();
    Epochs::Retire(e2, {CountedGarbage()});
    if (Epochs::MinActive() <= e2) status = kChildStillPinned;
    if (status == kChildOk && Epochs::Reclaim() != 2) status = kChildNotFreed;
    if (status == kChildOk && g_freed.load() != 2) status = kChildNotFreed;
    if (status == kChildOk && Epochs::Pending() != 0) status = kChildPendingLeft;
    if (status == kChildOk && Epochs::SlotsInUse() >= in_use) status = kChildSlotsInUse;
    // A guard still works in the child.
    if (status == kChildOk) {
      ReadGuard guard;
      if (Epochs::MinActive() == 0) status = kChildStillPinned;
    }
    _exit(status);
  }

  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), kChildOk);

  // The parent is unaffected: still pinned until the reader ends.
  EXPECT_EQ(Epochs::Reclaim(), 0u);
  EXPECT_EQ(g_freed.load(), 0);
  release.Notify();
  reader.join();
  EXPECT_EQ(Epochs::Reclaim(), 1u);
  EXPECT_EQ(g_freed.load(), 1);
}

}  // namespace
}  // namespace tenantry::internal
