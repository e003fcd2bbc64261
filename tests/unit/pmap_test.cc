// Copyright 2026 The tenantry Authors.
//
// Tests of the persistent containers (IdMap, PMap): contents, persistence of
// published versions across transactions, in-place changes within one
// transaction, structural invariants, and a randomized differential test
// against std::map. Meant to run under ASan as well: every test releases all
// its nodes, so a leak or a use of a freed node fails it.

#include "pmap.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "id_map.h"
#include "txn.h"

namespace tenantry::internal {

// Value types whose only purpose is to select small node sizes, so that a few
// hundred keys already make deep trees and every split, borrow and merge path
// runs often.
struct Tiny {
  uint64_t v = 0;
  bool operator==(const Tiny&) const = default;
};
struct Odd {
  uint64_t v = 0;
  bool operator==(const Odd&) const = default;
};
struct StrVal {
  std::string s;
  uint64_t n = 0;
  bool operator==(const StrVal&) const = default;
};

namespace detail {
template <>
struct PMapNodeSize<uint64_t, Tiny> {
  static constexpr int kLeaf = 4;
  static constexpr int kInner = 4;
};
template <>
struct PMapNodeSize<uint64_t, Odd> {
  static constexpr int kLeaf = 5;
  static constexpr int kInner = 7;
};
template <>
struct PMapNodeSize<std::string, StrVal> {
  static constexpr int kLeaf = 6;
  static constexpr int kInner = 5;
};
}  // namespace detail

namespace {

// The handles are stored inside other nodes: they must stay small.
static_assert(sizeof(IdMap<const void*>) <= 24);
static_assert(sizeof(PMap<uint64_t, uint64_t>) == 16);

// A Txn that aborts itself when a failed ASSERT leaves its scope early, so
// that the failure is reported as such instead of ending the process in
// Txn's "must end in Commit() or Abort()" assertion.
class TestTxn : public Txn {
 public:
  using Txn::Txn;
  TestTxn(const TestTxn&) = delete;
  TestTxn& operator=(const TestTxn&) = delete;
  ~TestTxn() {
    if (!done_) Txn::Abort();
  }
  std::vector<Garbage> Commit() {
    done_ = true;
    return Txn::Commit();
  }
  void Abort() {
    done_ = true;
    Txn::Abort();
  }

 private:
  bool done_ = false;
};

// Frees what a commit retired, as the reclamation domain would once no reader
// can see the replaced version any more.
void FreeAll(std::vector<Garbage>& garbage) {
  for (const Garbage& g : garbage) g.Free();
  garbage.clear();
}

template <class V>
std::vector<std::pair<uint64_t, V>> Contents(const IdMap<V>& m) {
  std::vector<std::pair<uint64_t, V>> out;
  m.ForEach([&](uint64_t k, V v) { out.emplace_back(k, v); });
  return out;
}

template <class K, class V>
std::vector<std::pair<K, V>> Contents(const PMap<K, V>& m) {
  std::vector<std::pair<K, V>> out;
  m.ForEach([&](const K& k, const V& v) { out.emplace_back(k, v); });
  return out;
}

template <class K, class V>
std::vector<std::pair<K, V>> Contents(const std::map<K, V>& m) {
  return {m.begin(), m.end()};
}

// ---------------------------------------------------------------------------
// IdMap

// The paired assertions of a transaction (txn.h): nothing changes through a
// Txn once it has ended, and a published node is never of a newer gen.
struct PlainNode {
  uint64_t gen = 0;
};
#ifndef NDEBUG
TEST(TxnDeathTest, ChangesAfterCommitOrAbortAssert) {
  EXPECT_DEATH(
      {
        Txn txn(2);
        txn.Commit();
        txn.Make<PlainNode>();
      },
      "Commit\\(\\) or Abort\\(\\)");
  EXPECT_DEATH(
      {
        Txn txn(2);
        const PlainNode published{1};
        txn.Abort();
        txn.Writable(&published);
      },
      "finished_");
  EXPECT_DEATH(
      {
        Txn txn(2);
        const PlainNode future{3};
        txn.Writable(&future);
      },
      "gen <= gen_");
}
#endif

TEST(TxnTest, OpenUntilCommitOrAbort) {
  Txn committed(2);
  EXPECT_TRUE(committed.open());
  PlainNode* made = committed.Make<PlainNode>();
  EXPECT_EQ(made->gen, 2u);
  committed.Commit();  // `made` now belongs to the (imagined) published version
  EXPECT_FALSE(committed.open());
  delete made;
  Txn aborted(3);
  aborted.Make<PlainNode>();
  aborted.Abort();
  EXPECT_FALSE(aborted.open());
}

TEST(IdMapTest, EmptyFindsNothing) {
  IdMap<uint64_t> m;
  EXPECT_EQ(m.Find(0), 0u);
  EXPECT_EQ(m.Find(UINT64_MAX), 0u);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.CheckInvariants());
  int calls = 0;
  m.ForEach([&](uint64_t, uint64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  m.Destroy();
}

TEST(IdMapTest, SetFindEraseWithHugeKeys) {
  const std::vector<uint64_t> keys = {
      0, 1, 63, 64, 4095, 4096, uint64_t{1} << 40, UINT64_MAX - 1, UINT64_MAX};
  IdMap<uint64_t> m;
  TestTxn t(1);
  m.Set(t, 1, 100);
  EXPECT_EQ(m.levels(), 1u);
  m.Set(t, 63, 6300);
  EXPECT_EQ(m.levels(), 1u);
  m.Set(t, 64, 6400);
  EXPECT_EQ(m.levels(), 2u);
  m.Set(t, 4095, 409500);
  EXPECT_EQ(m.levels(), 2u);
  m.Set(t, 4096, 409600);
  EXPECT_EQ(m.levels(), 3u);
  m.Set(t, uint64_t{1} << 40, 7);
  EXPECT_EQ(m.levels(), 7u);
  m.Set(t, UINT64_MAX - 1, 8);
  EXPECT_EQ(m.levels(), 11u);
  m.Set(t, UINT64_MAX, 9);
  m.Set(t, 0, 10);
  EXPECT_EQ(m.size(), keys.size());
  EXPECT_TRUE(m.CheckInvariants());

  EXPECT_EQ(m.Find(0), 10u);
  EXPECT_EQ(m.Find(1), 100u);
  EXPECT_EQ(m.Find(63), 6300u);
  EXPECT_EQ(m.Find(64), 6400u);
  EXPECT_EQ(m.Find(4095), 409500u);
  EXPECT_EQ(m.Find(4096), 409600u);
  EXPECT_EQ(m.Find(uint64_t{1} << 40), 7u);
  EXPECT_EQ(m.Find(UINT64_MAX - 1), 8u);
  EXPECT_EQ(m.Find(UINT64_MAX), 9u);
  EXPECT_EQ(m.Find(2), 0u);
  EXPECT_EQ(m.Find(65), 0u);
  EXPECT_EQ(m.Find((uint64_t{1} << 40) + 1), 0u);
  EXPECT_EQ(m.Find(UINT64_MAX - 2), 0u);

  // Iteration is ascending and yields the keys back intact.
  std::vector<uint64_t> seen;
  m.ForEach([&](uint64_t k, uint64_t) { seen.push_back(k); });
  EXPECT_EQ(seen, keys);

  // Overwriting does not change the size.
  m.Set(t, 64, 1);
  EXPECT_EQ(m.Find(64), 1u);
  EXPECT_EQ(m.size(), keys.size());

  // Erasing the large keys shrinks the trie back to the levels still needed.
  m.Erase(t, UINT64_MAX);
  m.Erase(t, UINT64_MAX - 1);
  EXPECT_EQ(m.levels(), 7u);
  m.Erase(t, uint64_t{1} << 40);
  EXPECT_EQ(m.levels(), 3u);
  m.Erase(t, 4096);
  EXPECT_EQ(m.levels(), 2u);
  m.Erase(t, 12345);  // Absent: no-op.
  EXPECT_EQ(m.size(), 5u);
  EXPECT_TRUE(m.CheckInvariants());
  for (uint64_t k : {0, 1, 63, 64, 4095}) m.Erase(t, k);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.levels(), 0u);
  EXPECT_EQ(m.NodeCount(), 0u);
  EXPECT_TRUE(m.CheckInvariants());
  m.Set(t, 5, 5);
  EXPECT_EQ(m.levels(), 1u);
  t.Commit();
  m.Destroy();
}

TEST(IdMapTest, PointerValuesAndEarlyStop) {
  int objects[10];
  IdMap<const int*> m;
  TestTxn t(1);
  for (int i = 0; i < 10; ++i) m.Set(t, static_cast<uint64_t>(i) * 1000, &objects[i]);
  t.Commit();
  EXPECT_EQ(m.Find(3000), &objects[3]);
  EXPECT_EQ(m.Find(3001), nullptr);
  int calls = 0;
  m.ForEach([&](uint64_t k, const int*) {
    ++calls;
    return k < 4000;  // Stops after visiting 4000.
  });
  EXPECT_EQ(calls, 5);
  m.Destroy();
}

TEST(IdMapTest, PublishedVersionSurvivesLaterTransactions) {
  std::mt19937_64 rng(7);
  IdMap<uint64_t> a;
  std::map<uint64_t, uint64_t> model_a;
  {
    TestTxn t(1);
    for (int i = 0; i < 3000; ++i) {
      const uint64_t k = rng() % 20000;
      a.Set(t, k, k + 1);
      model_a[k] = k + 1;
    }
    EXPECT_TRUE(t.Commit().empty());  // Nothing was published before.
  }
  const auto snapshot = Contents(a);
  ASSERT_EQ(snapshot, Contents(model_a));

  IdMap<uint64_t> b = a;
  std::map<uint64_t, uint64_t> model_b = model_a;
  TestTxn t(2);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t k = rng() % 30000;
    if (rng() % 3 == 0) {
      b.Erase(t, k);
      model_b.erase(k);
    } else {
      b.Set(t, k, k * 3 + 1);
      model_b[k] = k * 3 + 1;
    }
    if (i % 1000 == 0) {
      ASSERT_EQ(Contents(a), snapshot);
    }
  }
  b.Set(t, uint64_t{1} << 50, 1);  // Also grow at the top.
  model_b[uint64_t{1} << 50] = 1;
  std::vector<Garbage> retired = t.Commit();
  EXPECT_FALSE(retired.empty());
  // Old readers still see A, exactly, until its garbage is freed.
  EXPECT_EQ(Contents(a), snapshot);
  EXPECT_TRUE(a.CheckInvariants());
  for (const auto& [k, v] : model_a) ASSERT_EQ(a.Find(k), v);
  EXPECT_EQ(Contents(b), Contents(model_b));
  EXPECT_TRUE(b.CheckInvariants());
  FreeAll(retired);  // A is no longer used from here on.
  EXPECT_EQ(Contents(b), Contents(model_b));
  b.Destroy();
}

TEST(IdMapTest, AbortLeavesPublishedVersionAndFreesWhatItMade) {
  IdMap<uint64_t> a;
  {
    TestTxn t(1);
    for (uint64_t k = 0; k < 1000; ++k) a.Set(t, k * 7, k + 1);
    t.Commit();
  }
  const auto snapshot = Contents(a);
  {
    IdMap<uint64_t> b = a;
    TestTxn t(2);
    for (uint64_t k = 0; k < 7000; k += 2) b.Erase(t, k);
    for (uint64_t k = 0; k < 5000; ++k) b.Set(t, k * 13, 2);
    b.Set(t, UINT64_MAX, 3);
    b.Clear(t);
    b.Set(t, 1, 1);
    t.Abort();  // Frees every node b made; b is not used any more.
  }
  EXPECT_EQ(Contents(a), snapshot);
  EXPECT_TRUE(a.CheckInvariants());
  a.Destroy();
}

TEST(IdMapTest, ChangesWithinOneTransactionAreInPlace) {
  IdMap<uint64_t> m;
  {
    TestTxn t(1);
    for (uint64_t k = 0; k < 10000; ++k) m.Set(t, k, k + 1);
    // Every node made is in the final trie: none was copied.
    EXPECT_EQ(t.created_count(), m.NodeCount());
    EXPECT_EQ(m.NodeCount(), 157u + 3u + 1u);  // Leaves, middle level, root.
    EXPECT_TRUE(t.Commit().empty());
  }
  {
    // On a published trie, each node is copied at most once however many
    // changes hit it.
    TestTxn t(2);
    for (uint64_t k = 0; k < 10000; ++k) m.Set(t, k, k + 2);
    EXPECT_EQ(t.created_count(), m.NodeCount());
    std::vector<Garbage> retired = t.Commit();
    EXPECT_EQ(retired.size(), m.NodeCount());
    FreeAll(retired);
  }
  {
    // One change on a published trie copies the path: one node per level.
    TestTxn t(3);
    m.Set(t, 5000, 1);
    EXPECT_EQ(t.created_count(), m.levels());
    std::vector<Garbage> retired = t.Commit();
    EXPECT_EQ(retired.size(), m.levels());
    FreeAll(retired);
  }
  EXPECT_TRUE(m.CheckInvariants());
  m.Destroy();
}

TEST(IdMapTest, ClearRetiresEveryNode) {
  IdMap<uint64_t> m;
  {
    TestTxn t(1);
    for (uint64_t k = 0; k < 5000; ++k) m.Set(t, k * 3, 1);
    t.Commit();
  }
  IdMap<uint64_t> old = m;
  TestTxn t(2);
  m.Clear(t);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Find(3), 0u);
  std::vector<Garbage> retired = t.Commit();
  EXPECT_EQ(retired.size(), old.NodeCount());
  EXPECT_EQ(old.Find(3), 1u);  // Still readable until freed.
  FreeAll(retired);
  m.Destroy();
}

// ---------------------------------------------------------------------------
// PMap

TEST(PMapTest, SetFindEraseUint64) {
  PMap<uint64_t, uint64_t> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.Find(1), nullptr);
  TestTxn t(1);
  EXPECT_TRUE(m.Set(t, 10, 100));
  EXPECT_TRUE(m.Set(t, 5, 50));
  EXPECT_FALSE(m.Set(t, 10, 101));
  EXPECT_EQ(m.size(), 2u);
  ASSERT_NE(m.Find(10), nullptr);
  EXPECT_EQ(*m.Find(10), 101u);
  EXPECT_TRUE(m.Contains(5));
  EXPECT_FALSE(m.Contains(6));
  EXPECT_FALSE(m.Erase(t, 6));
  EXPECT_TRUE(m.Erase(t, 5));
  EXPECT_FALSE(m.Erase(t, 5));
  EXPECT_EQ(m.size(), 1u);
  for (uint64_t k = 0; k < 5000; ++k) m.Set(t, k * 2, k);
  EXPECT_EQ(m.size(), 5000u);
  EXPECT_TRUE(m.CheckInvariants());
  for (uint64_t k = 0; k < 5000; ++k) {
    ASSERT_NE(m.Find(k * 2), nullptr);
    EXPECT_EQ(*m.Find(k * 2), k);
    EXPECT_EQ(m.Find(k * 2 + 1), nullptr);
  }
  for (uint64_t k = 0; k < 5000; k += 2) EXPECT_TRUE(m.Erase(t, k * 2));
  EXPECT_EQ(m.size(), 2500u);
  EXPECT_TRUE(m.CheckInvariants());
  for (uint64_t k = 1; k < 5000; k += 2) EXPECT_TRUE(m.Erase(t, k * 2));
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.NodeCount(), 0u);
  EXPECT_TRUE(m.CheckInvariants());
  t.Commit();
  m.Destroy();
}

TEST(PMapTest, StringKeysAndValues) {
  PMap<std::string, StrVal> m;
  std::map<std::string, StrVal> model;
  TestTxn t(1);
  for (int i = 0; i < 2000; ++i) {
    // Long enough strings to live on the heap, so ASan sees their memory.
    std::string key = absl::StrCat("tenant/", i * 7919 % 2000, "/a-rather-long-suffix");
    StrVal v{absl::StrCat("value-", i, std::string(40, 'x')), static_cast<uint64_t>(i)};
    EXPECT_EQ(m.Set(t, key, v), model.count(key) == 0);
    model[key] = v;
  }
  EXPECT_TRUE(m.CheckInvariants());
  EXPECT_EQ(Contents(m), Contents(model));
  ASSERT_NE(m.Find("tenant/5/a-rather-long-suffix"), nullptr);
  EXPECT_EQ(m.Find("tenant/5"), nullptr);
  EXPECT_EQ(m.Find(""), nullptr);
  int erased = 0;
  for (const auto& [k, v] : model) {
    if (k.size() % 2 == 0) {
      EXPECT_TRUE(m.Erase(t, k));
      ++erased;
    }
  }
  std::erase_if(model, [](const auto& kv) { return kv.first.size() % 2 == 0; });
  EXPECT_GT(erased, 0);
  EXPECT_TRUE(m.CheckInvariants());
  EXPECT_EQ(Contents(m), Contents(model));
  t.Commit();
  m.Destroy();
}

TEST(PMapTest, ForEachFromAndEarlyStop) {
  PMap<uint64_t, Tiny> m;  // Tiny nodes: a deep tree.
  TestTxn t(1);
  for (uint64_t k = 0; k < 500; ++k) m.Set(t, k * 10, Tiny{k});
  t.Commit();
  EXPECT_TRUE(m.CheckInvariants());

  for (uint64_t from : {0, 1, 9, 10, 11, 999, 1000, 2345, 4990, 4991, 100000}) {
    SCOPED_TRACE(from);
    std::vector<uint64_t> seen;
    m.ForEachFrom(from, [&](uint64_t k, const Tiny& v) {
      EXPECT_EQ(v.v * 10, k);
      seen.push_back(k);
    });
    std::vector<uint64_t> want;
    for (uint64_t k = (from + 9) / 10 * 10; k < 5000; k += 10) want.push_back(k);
    EXPECT_EQ(seen, want);
  }

  std::vector<uint64_t> seen;
  m.ForEachFrom(25, [&](uint64_t k, const Tiny&) {
    seen.push_back(k);
    return seen.size() < 3;
  });
  EXPECT_EQ(seen, (std::vector<uint64_t>{30, 40, 50}));
  int calls = 0;
  m.ForEach([&](uint64_t, const Tiny&) { return ++calls < 100; });
  EXPECT_EQ(calls, 100);

  PMap<uint64_t, Tiny> empty;
  empty.ForEachFrom(3, [&](uint64_t, const Tiny&) { ADD_FAILURE(); });
  m.Destroy();
}

// Ascending and descending runs are the worst cases for splits (always the
// same edge) and for merges (always the first or last child).
TEST(PMapTest, SequentialRunsOnTinyNodes) {
  for (bool ascending_erase : {true, false}) {
    SCOPED_TRACE(ascending_erase);
    PMap<uint64_t, Tiny> m;
    TestTxn t(1);
    constexpr uint64_t kN = 3000;
    for (uint64_t i = 0; i < kN; ++i) {
      m.Set(t, ascending_erase ? kN - 1 - i : i, Tiny{i});
      if (i % 97 == 0) {
        ASSERT_TRUE(m.CheckInvariants());
      }
    }
    ASSERT_TRUE(m.CheckInvariants());
    for (uint64_t i = 0; i < kN; ++i) {
      ASSERT_TRUE(m.Erase(t, ascending_erase ? i : kN - 1 - i));
      if (i % 97 == 0) {
        ASSERT_TRUE(m.CheckInvariants());
      }
    }
    EXPECT_TRUE(m.empty());
    EXPECT_TRUE(m.CheckInvariants());
    t.Commit();
    m.Destroy();
  }
}

// AssignSorted builds what Set would hold, in valid nodes, for every size
// around the node capacities (tiny and odd nodes: many levels), and the map
// it builds takes later inserts and erases like any other.
template <class V>
void CheckAssignSorted(uint64_t n) {
  SCOPED_TRACE(n);
  std::vector<uint64_t> keys;
  std::vector<V> vals;
  for (uint64_t i = 0; i < n; ++i) {
    keys.push_back(i * 3 + 1);
    vals.push_back(V{i});
  }
  PMap<uint64_t, V> m;
  TestTxn t(1);
  m.AssignSorted(t, keys.data(), vals.data(), n);
  ASSERT_TRUE(m.CheckInvariants());
  ASSERT_EQ(m.size(), n);
  uint64_t seen = 0;
  m.ForEach([&](uint64_t k, const V& v) {
    EXPECT_EQ(k, keys[seen]);
    EXPECT_EQ(v, vals[seen]);
    ++seen;
  });
  EXPECT_EQ(seen, n);
  for (uint64_t i = 0; i < n; ++i) {
    ASSERT_NE(m.Find(i * 3 + 1), nullptr);
    EXPECT_EQ(m.Find(i * 3 + 2), nullptr);
  }
  for (uint64_t i = 0; i < n; i += 2) m.Set(t, i * 3 + 2, V{i});
  ASSERT_TRUE(m.CheckInvariants());
  for (uint64_t i = 0; i < n; i += 3) ASSERT_TRUE(m.Erase(t, i * 3 + 1));
  ASSERT_TRUE(m.CheckInvariants());
  t.Commit();
  m.Destroy();
}

TEST(PMapTest, AssignSortedBuildsValidTreesOfEverySize) {
  for (uint64_t n = 0; n <= 200; ++n) {
    CheckAssignSorted<Tiny>(n);
    CheckAssignSorted<Odd>(n);
  }
  for (uint64_t n : {1000, 4097, 20000}) {
    CheckAssignSorted<Tiny>(n);
    CheckAssignSorted<Odd>(n);
  }
  // Default nodes (32 entries a leaf): the members maps' shape.
  PMap<uint64_t, uint64_t> m;
  TestTxn t(1);
  std::vector<uint64_t> keys(100000);
  for (uint64_t i = 0; i < keys.size(); ++i) keys[i] = i;
  m.AssignSorted(t, keys.data(), keys.data(), keys.size());
  EXPECT_TRUE(m.CheckInvariants());
  // Full leaves: 100,000 entries in 3,125 leaves of 32, plus the inner nodes.
  EXPECT_LE(m.NodeCount(), 3125u + 100u + 4u + 1u);
  t.Commit();
  m.Destroy();
}

TEST(PMapTest, PublishedVersionSurvivesLaterTransactions) {
  std::mt19937_64 rng(11);
  PMap<std::string, StrVal> a;
  std::map<std::string, StrVal> model_a;
  {
    TestTxn t(1);
    for (int i = 0; i < 2000; ++i) {
      std::string k = absl::StrCat("key-", rng() % 5000, std::string(20, 'k'));
      StrVal v{std::to_string(i) + std::string(30, 'v'), static_cast<uint64_t>(i)};
      a.Set(t, k, v);
      model_a[k] = v;
    }
    t.Commit();
  }
  const auto snapshot = Contents(a);
  ASSERT_EQ(snapshot, Contents(model_a));

  PMap<std::string, StrVal> b = a;
  std::map<std::string, StrVal> model_b = model_a;
  TestTxn t(2);
  for (int i = 0; i < 20000; ++i) {
    std::string k = absl::StrCat("key-", rng() % 6000, std::string(20, 'k'));
    if (rng() % 2 == 0) {
      EXPECT_EQ(b.Erase(t, k), model_b.erase(k) == 1);
    } else {
      StrVal v{absl::StrCat("new", i), 1};
      EXPECT_EQ(b.Set(t, k, v), model_b.count(k) == 0);
      model_b[k] = v;
    }
    if (i % 2000 == 0) {
      ASSERT_EQ(Contents(a), snapshot);
    }
  }
  std::vector<Garbage> retired = t.Commit();
  EXPECT_FALSE(retired.empty());
  EXPECT_EQ(Contents(a), snapshot);
  EXPECT_TRUE(a.CheckInvariants());
  for (const auto& [k, v] : model_a) {
    ASSERT_NE(a.Find(k), nullptr);
    ASSERT_EQ(*a.Find(k), v);
  }
  EXPECT_EQ(Contents(b), Contents(model_b));
  EXPECT_TRUE(b.CheckInvariants());
  FreeAll(retired);
  EXPECT_EQ(Contents(b), Contents(model_b));
  b.Destroy();
}

TEST(PMapTest, AbortLeavesPublishedVersionAndFreesWhatItMade) {
  PMap<std::string, StrVal> a;
  {
    TestTxn t(1);
    for (int i = 0; i < 1000; ++i) {
      a.Set(t, absl::StrCat("k", i, std::string(20, '.')), StrVal{std::string(30, 'a'), 1});
    }
    t.Commit();
  }
  const auto snapshot = Contents(a);
  {
    PMap<std::string, StrVal> b = a;
    TestTxn t(2);
    for (int i = 0; i < 1000; i += 2) b.Erase(t, absl::StrCat("k", i, std::string(20, '.')));
    for (int i = 0; i < 3000; ++i) {
      b.Set(t, absl::StrCat("z", i, std::string(20, '.')), StrVal{std::string(30, 'b'), 2});
    }
    b.Clear(t);
    b.Set(t, "again", StrVal{"x", 3});
    t.Abort();
  }
  EXPECT_EQ(Contents(a), snapshot);
  EXPECT_TRUE(a.CheckInvariants());
  a.Destroy();
}

TEST(PMapTest, ChangesWithinOneTransactionAreInPlace) {
  std::mt19937_64 rng(3);
  PMap<uint64_t, uint64_t> m;
  std::vector<uint64_t> keys;
  {
    TestTxn t(1);
    for (int i = 0; i < 10000; ++i) {
      keys.push_back(rng());
      m.Set(t, keys.back(), 1);
    }
    // Splits make nodes, nothing is copied: every node made is in the tree.
    EXPECT_EQ(t.created_count(), m.NodeCount());
    EXPECT_LT(m.NodeCount(), 10000u / 16 + 50);
    EXPECT_TRUE(t.Commit().empty());
  }
  {
    // On a published tree, each node is copied at most once.
    TestTxn t(2);
    for (uint64_t k : keys) m.Set(t, k, 2);
    EXPECT_EQ(t.created_count(), m.NodeCount());
    std::vector<Garbage> retired = t.Commit();
    EXPECT_EQ(retired.size(), m.NodeCount());
    FreeAll(retired);
  }
  {
    // One change on a published tree copies one path. 10,000 entries in
    // leaves of 16 to 32 make 313 to 625 leaves, which need two inner levels
    // of 16 to 32 children: the depth is 3.
    TestTxn t(3);
    m.Set(t, keys[0], 3);
    const size_t copied = t.created_count();
    EXPECT_EQ(copied, 3u);
    std::vector<Garbage> retired = t.Commit();
    EXPECT_EQ(retired.size(), copied);
    FreeAll(retired);
  }
  {
    // Erasing an absent key copies nothing.
    TestTxn t(4);
    EXPECT_FALSE(m.Erase(t, 12345));
    EXPECT_EQ(t.created_count(), 0u);
    t.Commit();
  }
  EXPECT_TRUE(m.CheckInvariants());
  m.Destroy();
}

TEST(PMapTest, ClearRetiresEveryNode) {
  PMap<uint64_t, Tiny> m;
  {
    TestTxn t(1);
    for (uint64_t k = 0; k < 2000; ++k) m.Set(t, k, Tiny{k});
    t.Commit();
  }
  PMap<uint64_t, Tiny> old = m;
  TestTxn t(2);
  m.Clear(t);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.Find(3), nullptr);
  EXPECT_TRUE(m.Set(t, 3, Tiny{9}));
  std::vector<Garbage> retired = t.Commit();
  EXPECT_EQ(retired.size(), old.NodeCount());
  ASSERT_NE(old.Find(3), nullptr);
  EXPECT_EQ(old.Find(3)->v, 3u);
  FreeAll(retired);
  EXPECT_EQ(m.Find(3)->v, 9u);
  m.Destroy();
}

// ---------------------------------------------------------------------------
// Randomized differential test against std::map, over many transactions,
// following the engine's lifecycle: a transaction builds the next version
// from a copy of the current handle while the current one stays readable;
// commit publishes it and the replaced nodes are freed one commit later
// (when the version they belonged to is no longer read); abort throws the
// new version away.

uint64_t SeedFromEnvOr(uint64_t fallback) {
  const char* env = std::getenv("TENANTRY_TEST_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : fallback;
}

template <class Map>
struct Traits;

template <class V>
struct Traits<IdMap<V>> {
  using Key = uint64_t;
  using Model = std::map<uint64_t, V>;
  static Key RandomKey(std::mt19937_64& rng, uint64_t range) {
    // Mostly dense small ids, sometimes anything up to UINT64_MAX.
    if (rng() % 64 == 0) return rng() | (uint64_t{1} << (rng() % 64));
    return rng() % range;
  }
  static V RandomValue(std::mt19937_64& rng) { return static_cast<V>(rng() | 1); }
  static bool Set(Txn& t, IdMap<V>& m, Key k, V v) {
    const bool fresh = m.Find(k) == V{};
    m.Set(t, k, v);
    return fresh;
  }
  static bool Erase(Txn& t, IdMap<V>& m, Key k) {
    const bool present = !(m.Find(k) == V{});
    m.Erase(t, k);
    return present;
  }
  static bool FindMatches(const IdMap<V>& m, const Model& model, Key k) {
    auto it = model.find(k);
    return m.Find(k) == (it == model.end() ? V{} : it->second);
  }
  static bool FromMatches(const IdMap<V>&, const Model&, Key) { return true; }
};

template <class K, class V>
struct Traits<PMap<K, V>> {
  using Key = K;
  using Model = std::map<K, V>;
  static Key RandomKey(std::mt19937_64& rng, uint64_t range) {
    if constexpr (std::is_same_v<K, std::string>) {
      return absl::StrCat("k", rng() % range, std::string(rng() % 24, '-'));
    } else {
      return rng() % range;
    }
  }
  static V RandomValue(std::mt19937_64& rng) {
    if constexpr (std::is_same_v<V, StrVal>) {
      return StrVal{std::string(rng() % 40, 'v'), rng()};
    } else if constexpr (std::is_same_v<V, uint64_t>) {
      return rng();
    } else {
      return V{rng()};
    }
  }
  static bool Set(Txn& t, PMap<K, V>& m, const Key& k, const V& v) { return m.Set(t, k, v); }
  static bool Erase(Txn& t, PMap<K, V>& m, const Key& k) { return m.Erase(t, k); }
  static bool FindMatches(const PMap<K, V>& m, const Model& model, const Key& k) {
    auto it = model.find(k);
    const V* got = m.Find(k);
    if (it == model.end()) return got == nullptr;
    return got != nullptr && *got == it->second;
  }
  // The first few entries from `from` on match the model's.
  static bool FromMatches(const PMap<K, V>& m, const Model& model, const Key& from) {
    std::vector<std::pair<K, V>> got;
    m.ForEachFrom(from, [&](const K& k, const V& v) {
      got.emplace_back(k, v);
      return got.size() < 8;
    });
    std::vector<std::pair<K, V>> want;
    for (auto it = model.lower_bound(from); it != model.end() && want.size() < 8; ++it) {
      want.emplace_back(*it);
    }
    return got == want;
  }
};

template <class Map>
void RunDifferential(uint64_t seed, int total_ops, uint64_t key_range) {
  using T = Traits<Map>;
  SCOPED_TRACE(absl::StrCat("seed=", seed, " (rerun with TENANTRY_TEST_SEED)"));
  std::mt19937_64 rng(seed);

  Map cur;  // The published version.
  typename T::Model cur_model;
  Map old;  // The version before it, still "read" until the next commit.
  typename T::Model old_model;
  std::vector<Garbage> pending;  // Nodes only `old` can reach.
  uint64_t gen = 1;
  int ops = 0, commits = 0, aborts = 0;

  while (ops < total_ops) {
    TestTxn t(gen++);
    Map next = cur;
    typename T::Model next_model = cur_model;
    // Mostly small transactions, sometimes big ones.
    const int n = rng() % 8 == 0 ? static_cast<int>(rng() % 3000) : static_cast<int>(rng() % 200);
    // Phases bias toward growth or shrinkage so that sizes swing widely.
    const unsigned set_percent = 30 + (gen / 17 % 3) * 20;
    for (int i = 0; i < n; ++i, ++ops) {
      const auto key = T::RandomKey(rng, key_range);
      const unsigned dice = rng() % 1000;
      if (dice == 0) {
        next.Clear(t);
        next_model.clear();
      } else if (dice % 100 < set_percent) {
        const auto value = T::RandomValue(rng);
        const bool fresh = next_model.count(key) == 0;
        ASSERT_EQ(T::Set(t, next, key, value), fresh);
        next_model[key] = value;
      } else {
        ASSERT_EQ(T::Erase(t, next, key), next_model.erase(key) == 1);
      }
      ASSERT_EQ(next.size(), next_model.size());
      if (i % 16 == 0) {
        // Readers of published versions run alongside the writer.
        const auto probe = T::RandomKey(rng, key_range);
        ASSERT_TRUE(T::FindMatches(next, next_model, probe));
        ASSERT_TRUE(T::FindMatches(cur, cur_model, probe));
        ASSERT_TRUE(T::FindMatches(old, old_model, probe));
        ASSERT_TRUE(T::FromMatches(next, next_model, probe));
      }
    }
    ASSERT_TRUE(next.CheckInvariants());
    ASSERT_EQ(Contents(next), Contents(next_model));
    ASSERT_EQ(Contents(cur), Contents(cur_model));

    if (rng() % 4 == 0) {
      // Abort: the new version vanishes, the published one is untouched.
      t.Abort();
      ++aborts;
      ASSERT_TRUE(cur.CheckInvariants());
      ASSERT_EQ(Contents(cur), Contents(cur_model));
      continue;
    }
    std::vector<Garbage> retired = t.Commit();
    ++commits;
    // `cur` was replaced but readers may still be on it: it must be intact.
    ASSERT_TRUE(cur.CheckInvariants());
    ASSERT_EQ(Contents(cur), Contents(cur_model));
    ASSERT_EQ(Contents(old), Contents(old_model));
    // Nobody reads `old` from here on: free what only it could reach.
    FreeAll(pending);
    pending = std::move(retired);
    old = cur;
    old_model = std::move(cur_model);
    cur = next;
    cur_model = std::move(next_model);
  }
  EXPECT_GT(commits, 10);
  EXPECT_GT(aborts, 3);
  FreeAll(pending);
  cur.Destroy();  // A node both retired and still reachable would be freed twice here.
}

template <class Map>
class DifferentialTest : public testing::Test {};

using DifferentialTypes =
    testing::Types<IdMap<uint64_t>, PMap<uint64_t, uint64_t>, PMap<uint64_t, Tiny>,
                   PMap<uint64_t, Odd>, PMap<std::string, StrVal>>;
TYPED_TEST_SUITE(DifferentialTest, DifferentialTypes);

TYPED_TEST(DifferentialTest, MatchesStdMap) {
  // A fixed seed (reproducible) and a fresh one (explores more over time).
  const uint64_t seeds[] = {SeedFromEnvOr(20260101), std::random_device{}()};
  for (uint64_t seed : seeds) {
    for (uint64_t range : {300, 5000}) {
      SCOPED_TRACE(absl::StrCat("key_range=", range));
      RunDifferential<TypeParam>(seed, 100000, range);
      if (testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace tenantry::internal
