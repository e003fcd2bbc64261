// Copyright 2026 The tenantry Authors.
//
// PMap: a persistent B+tree with ordered keys. What both persistent
// containers promise (reads, path copying through a Txn, shallow handles)
// is in persistent.h.
#ifndef TENANTRY_CORE_SRC_PMAP_H_
#define TENANTRY_CORE_SRC_PMAP_H_

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "persistent.h"
#include "txn.h"

namespace tenantry::internal {

namespace detail {

// ---------------------------------------------------------------------------
// PMap nodes.

// Node capacities of PMap<K, V>. Leaves hold up to `kLeaf` entries; inner
// nodes up to `kInner` children. The defaults give 32 entries to small keys
// and values (a 528-byte leaf for uint64_t -> uint64_t) and fewer to big ones
// so that a leaf's entries stay within about 2 KiB: a search touches a few
// cache lines and a path copy stays cheap. Specialize for a particular (K, V) to change them
// (the tests use tiny nodes to get deep trees from few keys).
template <class K, class V>
struct PMapNodeSize {
  static constexpr int kLeaf = std::clamp(static_cast<int>(2048 / (sizeof(K) + sizeof(V))), 8, 32);
  static constexpr int kInner = 32;
};

struct PNode {
  uint64_t gen = 0;
  uint32_t n = 0;  // Leaf: entries. Inner: children.
  bool leaf = false;
};

template <class K, class V>
struct PLeaf : PNode {
  static constexpr int kCap = PMapNodeSize<K, V>::kLeaf;
  PLeaf() { leaf = true; }
  K keys[kCap] = {};
  V vals[kCap] = {};
};

// Child i holds the keys k with keys[i-1] <= k < keys[i] (missing bounds
// are open), so a lookup descends into upper_bound(keys, key).
template <class K, class V>
struct PInner : PNode {
  static constexpr int kCap = PMapNodeSize<K, V>::kInner;
  K keys[kCap - 1] = {};
  const PNode* child[kCap] = {};
};

// Searches within a node. For number keys a branch-free count of the keys
// below `key` beats binary search: at most 32 keys, no mispredicted
// branches, and the compiler vectorizes it. Other keys (strings) compare
// expensively, so they use binary search.
template <class K>
int LowerIndex(const K* keys, int n, const K& key) {
  if constexpr (std::is_arithmetic_v<K>) {
    int below = 0;
    for (int i = 0; i < n; ++i) below += keys[i] < key;
    return below;
  } else {
    return static_cast<int>(std::lower_bound(keys, keys + n, key) - keys);
  }
}

// Index of the first key > `key` among `n` sorted keys.
template <class K>
int UpperIndex(const K* keys, int n, const K& key) {
  if constexpr (std::is_arithmetic_v<K>) {
    int not_above = 0;
    for (int i = 0; i < n; ++i) not_above += !(key < keys[i]);
    return not_above;
  } else {
    return static_cast<int>(std::upper_bound(keys, keys + n, key) - keys);
  }
}

// Inserts `x` at `pos` into the `n` used entries of `a` (which has room).
template <class T>
void ArrayInsert(T* a, int n, int pos, T x) {
  std::move_backward(a + pos, a + n, a + n + 1);
  a[pos] = std::move(x);
}

// Removes entry `pos` of the `n` used entries of `a`. The freed slot is reset
// so that unused slots never keep memory (strings) alive.
template <class T>
void ArrayErase(T* a, int n, int pos) {
  std::move(a + pos + 1, a + n, a + pos);
  a[n - 1] = T{};
}

// `a` is full with `n` entries; inserting `x` at `pos` would make n + 1.
// Leaves the first `left_n` of those n + 1 in `a` and moves the others to the
// front of `dst`. Requires 1 <= left_n <= n.
template <class T>
void ArrayInsertSplit(T* a, int n, int pos, T x, int left_n, T* dst) {
  assert(left_n >= 1 && left_n <= n);
  // Fill `dst` first: it reads `a` at indexes >= left_n - 1 only, which the
  // shift below overwrites or does not touch.
  for (int j = left_n; j <= n; ++j) {
    if (j < pos) {
      dst[j - left_n] = std::move(a[j]);
    } else if (j == pos) {
      dst[j - left_n] = std::move(x);
    } else {
      dst[j - left_n] = std::move(a[j - 1]);
    }
  }
  if (pos < left_n) {
    std::move_backward(a + pos, a + left_n - 1, a + left_n);
    a[pos] = std::move(x);
  }
  for (int j = left_n; j < n; ++j) a[j] = T{};
}

}  // namespace detail

// A persistent B+tree map with ordered keys. `K` and `V` are copyable
// (std::string keys are allowed); `K` has operator<.
//
// Leaves hold up to PMapNodeSize<K, V>::kLeaf entries (32 for small keys and
// values), inner nodes up to kInner (32) children; every node but the root is
// at least half full, which Erase keeps by borrowing from or merging with a
// sibling. There are no sibling links (path copying cannot maintain them), so
// iteration walks the tree.
template <class K, class V>
class PMap {
  using Node = detail::PNode;
  using Leaf = detail::PLeaf<K, V>;
  using Inner = detail::PInner<K, V>;

  static constexpr int kLeafCap = Leaf::kCap;
  static constexpr int kInnerCap = Inner::kCap;
  static constexpr uint32_t kLeafMin = kLeafCap / 2;
  static constexpr uint32_t kInnerMin = kInnerCap / 2;
  // With at least 4 slots, a split leaves both halves at the minimum and a
  // merge of a node below the minimum with one at it fits in one node.
  static_assert(kLeafCap >= 4 && kInnerCap >= 4, "PMap nodes need at least 4 slots");

 public:
  PMap() = default;

  // Pointer to the value for `key`, or nullptr. The pointer stays valid for
  // as long as the version holding this map is protected.
  const V* Find(const K& key) const {
    const Node* node = root_;
    if (node == nullptr) return nullptr;
    while (!node->leaf) {
      const auto* inner = static_cast<const Inner*>(node);
      node = inner->child[UpperBound(inner, key)];
    }
    const auto* leaf = static_cast<const Leaf*>(node);
    const int pos = LowerBound(leaf, key);
    if (pos < static_cast<int>(leaf->n) && !(key < leaf->keys[pos])) return &leaf->vals[pos];
    return nullptr;
  }
  bool Contains(const K& key) const { return Find(key) != nullptr; }

  // Inserts or replaces. Returns true when the key was new.
  bool Set(Txn& txn, const K& key, const V& value) {
    if (root_ == nullptr) {
      Leaf* leaf = txn.Make<Leaf>();
      leaf->keys[0] = key;
      leaf->vals[0] = value;
      leaf->n = 1;
      root_ = leaf;
      size_ = 1;
      return true;
    }
    bool inserted = false;
    Split split;
    Node* top = InsertRec(txn, root_, key, value, &inserted, &split);
    if (split.right != nullptr) {
      // The root split: the tree grows by one level.
      Inner* grown = txn.Make<Inner>();
      grown->keys[0] = std::move(split.sep);
      grown->child[0] = top;
      grown->child[1] = split.right;
      grown->n = 2;
      top = grown;
    }
    root_ = top;
    if (inserted) ++size_;
    return inserted;
  }

  // Fills an empty map with `n` entries whose keys are strictly ascending
  // (the caller's promise), bottom up: leaves as full as the half-full rule
  // allows when shared out evenly, no path copying. O(n); a loader's build.
  void AssignSorted(Txn& txn, const K* keys, const V* vals, size_t n) {
    assert(root_ == nullptr);
    if (n == 0) return;
    if (n <= static_cast<size_t>(kLeafCap)) {  // the common small map: one leaf
      root_ = MakeLeaf(txn, keys, vals, n);
      size_ = n;
      return;
    }
    std::vector<const Node*> level;
    std::vector<K> firsts;  // the smallest key under each node of `level`
    const size_t leaves = (n + kLeafCap - 1) / kLeafCap;
    level.reserve(leaves);
    firsts.reserve(leaves);
    for (size_t i = 0, at = 0; i < leaves; ++i) {
      const size_t take = n / leaves + (i < n % leaves ? 1 : 0);
      level.push_back(MakeLeaf(txn, keys + at, vals + at, take));
      firsts.push_back(keys[at]);
      at += take;
    }
    while (level.size() > 1) {
      const size_t m = level.size();
      const size_t parents = (m + kInnerCap - 1) / kInnerCap;
      std::vector<const Node*> up;
      std::vector<K> up_firsts;
      up.reserve(parents);
      up_firsts.reserve(parents);
      for (size_t i = 0, at = 0; i < parents; ++i) {
        const size_t take = m / parents + (i < m % parents ? 1 : 0);
        Inner* inner = txn.Make<Inner>();
        for (size_t j = 0; j < take; ++j) {
          inner->child[j] = level[at + j];
          if (j > 0) inner->keys[j - 1] = firsts[at + j];
        }
        inner->n = static_cast<uint32_t>(take);
        up.push_back(inner);
        up_firsts.push_back(std::move(firsts[at]));
        at += take;
      }
      level.swap(up);
      firsts.swap(up_firsts);
    }
    root_ = level.front();
    size_ = n;
  }

  // Removes `key`. Returns true when it was present.
  bool Erase(Txn& txn, const K& key) {
    // Probe first so that erasing an absent key copies nothing.
    if (Find(key) == nullptr) return false;
    --size_;
    if (root_->leaf && root_->n == 1) {
      txn.Replaced(static_cast<const Leaf*>(root_));
      root_ = nullptr;
      return true;
    }
    Node* top = EraseRec(txn, root_, key);
    // The root is exempt from the half-full rule, but an inner root with a
    // single child is a useless level: its child becomes the root.
    if (!top->leaf && top->n == 1) {
      auto* inner = static_cast<Inner*>(top);
      root_ = inner->child[0];
      txn.Replaced(inner);
    } else {
      root_ = top;
    }
    return true;
  }

  // Calls fn(key, value) for every entry, ascending by key; stops early when
  // fn returns false (fn may also return void).
  template <class Fn>
  void ForEach(Fn&& fn) const {
    if (root_ != nullptr) Visit(root_, nullptr, fn);
  }

  // Same, starting at the first key >= `from`.
  template <class Fn>
  void ForEachFrom(const K& from, Fn&& fn) const {
    if (root_ != nullptr) Visit(root_, &from, fn);
  }

  // Releases every node through `txn` (the map becomes empty). O(nodes).
  void Clear(Txn& txn) {
    if (root_ != nullptr) ReleaseRec(txn, root_);
    root_ = nullptr;
    size_ = 0;
  }

  // As IdMap::Destroy.
  void Destroy() {
    if (root_ != nullptr) DestroyRec(root_);
    root_ = nullptr;
    size_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Nodes reachable from this handle. O(nodes); for tests and statistics.
  size_t NodeCount() const { return root_ == nullptr ? 0 : CountRec(root_); }

  // Checks the structure: keys strictly ascending and within the bounds the
  // separators give, all leaves at one depth, every non-root node at least
  // half full, no empty root, no child newer than its parent, size()
  // matches. O(entries); for tests and debugging.
  bool CheckInvariants() const {
    if (root_ == nullptr) return size_ == 0;
    int leaf_depth = -1;
    size_t entries = 0;
    if (!root_->leaf && root_->n < 2) return false;
    return CheckRec(root_, nullptr, nullptr, 0, true, &leaf_depth, &entries) && entries == size_;
  }

 private:
  // What a node that split hands to its parent: the right half and the
  // smallest key it may hold.
  struct Split {
    K sep{};
    Node* right = nullptr;
  };

  static Leaf* MakeLeaf(Txn& txn, const K* keys, const V* vals, size_t n) {
    Leaf* leaf = txn.Make<Leaf>();
    std::copy(keys, keys + n, leaf->keys);
    std::copy(vals, vals + n, leaf->vals);
    leaf->n = static_cast<uint32_t>(n);
    return leaf;
  }

  // Index of the first key >= `key` among a leaf's entries.
  static int LowerBound(const Leaf* leaf, const K& key) {
    return detail::LowerIndex(leaf->keys, static_cast<int>(leaf->n), key);
  }

  // Index of the child that holds `key`.
  static int UpperBound(const Inner* inner, const K& key) {
    return detail::UpperIndex(inner->keys, static_cast<int>(inner->n) - 1, key);
  }

  // Returns the writable replacement of `node` with (key, value) set; when
  // it had to split, `split` receives the new right sibling.
  static Node* InsertRec(Txn& txn, const Node* node, const K& key, const V& value, bool* inserted,
                         Split* split) {
    if (node->leaf) {
      Leaf* w = txn.Writable(static_cast<const Leaf*>(node));
      const int n = static_cast<int>(w->n);
      const int pos = LowerBound(w, key);
      if (pos < n && !(key < w->keys[pos])) {
        w->vals[pos] = value;
        return w;
      }
      *inserted = true;
      if (n < kLeafCap) {
        detail::ArrayInsert(w->keys, n, pos, K(key));
        detail::ArrayInsert(w->vals, n, pos, V(value));
        ++w->n;
        return w;
      }
      Leaf* right = txn.Make<Leaf>();
      const int left_n = (kLeafCap + 2) / 2;  // Of kLeafCap + 1, the larger half.
      detail::ArrayInsertSplit(w->keys, n, pos, K(key), left_n, right->keys);
      detail::ArrayInsertSplit(w->vals, n, pos, V(value), left_n, right->vals);
      w->n = left_n;
      right->n = kLeafCap + 1 - left_n;
      split->sep = right->keys[0];
      split->right = right;
      return w;
    }

    const auto* inner = static_cast<const Inner*>(node);
    const int idx = UpperBound(inner, key);
    Split below;
    Node* child = InsertRec(txn, inner->child[idx], key, value, inserted, &below);
    Inner* w = txn.Writable(inner);
    w->child[idx] = child;
    if (below.right == nullptr) return w;

    // The child split: its right half goes in after it, with the separator.
    const int n = static_cast<int>(w->n);
    if (n < kInnerCap) {
      detail::ArrayInsert(w->keys, n - 1, idx, std::move(below.sep));
      detail::ArrayInsert<const Node*>(w->child, n, idx + 1, below.right);
      ++w->n;
      return w;
    }
    // Full: kInnerCap + 1 children and kInnerCap keys to share out. The left
    // keeps `left_n` children and left_n - 1 keys, key left_n - 1 moves up,
    // the right takes the rest.
    Inner* right = txn.Make<Inner>();
    const int left_n = (kInnerCap + 2) / 2;
    detail::ArrayInsertSplit<const Node*>(w->child, n, idx + 1, below.right, left_n, right->child);
    // The keys' split puts the separator that moves up at the front of
    // right->keys (it has room: kInnerCap + 1 - left_n <= kInnerCap - 1),
    // whence it is taken out.
    detail::ArrayInsertSplit(w->keys, n - 1, idx, std::move(below.sep), left_n - 1, right->keys);
    const int right_n = kInnerCap + 1 - left_n;
    split->sep = std::move(right->keys[0]);
    detail::ArrayErase(right->keys, right_n, 0);
    w->n = left_n;
    right->n = right_n;
    split->right = right;
    return w;
  }

  static bool Underfull(const Node* node) { return node->n < (node->leaf ? kLeafMin : kInnerMin); }

  // Returns the writable replacement of `node` without `key` (which is
  // present). The result may be below the minimum; its parent fixes that.
  static Node* EraseRec(Txn& txn, const Node* node, const K& key) {
    if (node->leaf) {
      Leaf* w = txn.Writable(static_cast<const Leaf*>(node));
      const int pos = LowerBound(w, key);
      assert(pos < static_cast<int>(w->n) && !(key < w->keys[pos]));
      detail::ArrayErase(w->keys, w->n, pos);
      detail::ArrayErase(w->vals, w->n, pos);
      --w->n;
      return w;
    }
    const auto* inner = static_cast<const Inner*>(node);
    const int idx = UpperBound(inner, key);
    Node* child = EraseRec(txn, inner->child[idx], key);
    Inner* w = txn.Writable(inner);
    w->child[idx] = child;
    if (Underfull(child)) Rebalance(txn, w, idx, child);
    return w;
  }

  // Removes child `idx` of `parent` and the separator before it.
  static void RemoveChild(Inner* parent, int idx) {
    assert(idx >= 1);
    detail::ArrayErase(parent->keys, parent->n - 1, idx - 1);
    detail::ArrayErase<const Node*>(parent->child, parent->n, idx);
    --parent->n;
  }

  // `child` (writable, child `idx` of `parent`) is one below the minimum.
  // Borrows an entry from a sibling that can spare one, else merges with it.
  // The left sibling is preferred; the first child uses its right one.
  static void Rebalance(Txn& txn, Inner* parent, int idx, Node* child) {
    const bool use_left = idx > 0;
    const int sib_idx = use_left ? idx - 1 : idx + 1;
    const Node* sib = parent->child[sib_idx];
    const uint32_t min = child->leaf ? kLeafMin : kInnerMin;
    if (sib->n > min) {
      Node* donor = child->leaf ? static_cast<Node*>(txn.Writable(static_cast<const Leaf*>(sib)))
                                : static_cast<Node*>(txn.Writable(static_cast<const Inner*>(sib)));
      parent->child[sib_idx] = donor;
      if (child->leaf) {
        BorrowLeaf(parent, idx, static_cast<Leaf*>(child), static_cast<Leaf*>(donor), use_left);
      } else {
        BorrowInner(parent, idx, static_cast<Inner*>(child), static_cast<Inner*>(donor), use_left);
      }
      return;
    }
    // Merge the right one of the pair into the left one; only the left one
    // needs to be writable, the right one is read and released.
    const int left_idx = use_left ? idx - 1 : idx;
    Node* left;
    const Node* right;
    if (use_left) {
      left = child->leaf ? static_cast<Node*>(txn.Writable(static_cast<const Leaf*>(sib)))
                         : static_cast<Node*>(txn.Writable(static_cast<const Inner*>(sib)));
      parent->child[left_idx] = left;
      right = child;
    } else {
      left = child;
      right = sib;
    }
    if (child->leaf) {
      auto* l = static_cast<Leaf*>(left);
      const auto* r = static_cast<const Leaf*>(right);
      assert(l->n + r->n <= static_cast<uint32_t>(kLeafCap));
      std::copy(r->keys, r->keys + r->n, l->keys + l->n);
      std::copy(r->vals, r->vals + r->n, l->vals + l->n);
      l->n += r->n;
      txn.Replaced(r);
    } else {
      auto* l = static_cast<Inner*>(left);
      const auto* r = static_cast<const Inner*>(right);
      assert(l->n + r->n <= static_cast<uint32_t>(kInnerCap));
      // The separator between the two comes down between their keys.
      l->keys[l->n - 1] = parent->keys[left_idx];
      std::copy(r->keys, r->keys + (r->n - 1), l->keys + l->n);
      std::copy(r->child, r->child + r->n, l->child + l->n);
      l->n += r->n;
      txn.Replaced(r);
    }
    RemoveChild(parent, left_idx + 1);
  }

  static void BorrowLeaf(Inner* parent, int idx, Leaf* child, Leaf* donor, bool from_left) {
    if (from_left) {
      const int last = static_cast<int>(donor->n) - 1;
      detail::ArrayInsert(child->keys, child->n, 0, std::move(donor->keys[last]));
      detail::ArrayInsert(child->vals, child->n, 0, std::move(donor->vals[last]));
      donor->keys[last] = K{};
      donor->vals[last] = V{};
      --donor->n;
      ++child->n;
      parent->keys[idx - 1] = child->keys[0];
    } else {
      child->keys[child->n] = std::move(donor->keys[0]);
      child->vals[child->n] = std::move(donor->vals[0]);
      detail::ArrayErase(donor->keys, donor->n, 0);
      detail::ArrayErase(donor->vals, donor->n, 0);
      --donor->n;
      ++child->n;
      parent->keys[idx] = donor->keys[0];
    }
  }

  // Rotates one child through the parent: the separator comes down, the
  // donor's boundary key goes up.
  static void BorrowInner(Inner* parent, int idx, Inner* child, Inner* donor, bool from_left) {
    if (from_left) {
      const int last = static_cast<int>(donor->n) - 1;
      detail::ArrayInsert(child->keys, child->n - 1, 0, std::move(parent->keys[idx - 1]));
      detail::ArrayInsert<const Node*>(child->child, child->n, 0, donor->child[last]);
      parent->keys[idx - 1] = std::move(donor->keys[last - 1]);
      donor->keys[last - 1] = K{};
      donor->child[last] = nullptr;
      --donor->n;
      ++child->n;
    } else {
      child->keys[child->n - 1] = std::move(parent->keys[idx]);
      child->child[child->n] = donor->child[0];
      parent->keys[idx] = std::move(donor->keys[0]);
      detail::ArrayErase(donor->keys, donor->n - 1, 0);
      detail::ArrayErase<const Node*>(donor->child, donor->n, 0);
      --donor->n;
      ++child->n;
    }
  }

  // Visits the entries of `node` from the first key >= *from (all when
  // `from` is null). Returns false when the callback stopped.
  template <class Fn>
  static bool Visit(const Node* node, const K* from, Fn& fn) {
    if (node->leaf) {
      const auto* leaf = static_cast<const Leaf*>(node);
      for (int i = from == nullptr ? 0 : LowerBound(leaf, *from); i < static_cast<int>(leaf->n);
           ++i) {
        if (!detail::CallVisitor(fn, leaf->keys[i], leaf->vals[i])) return false;
      }
      return true;
    }
    const auto* inner = static_cast<const Inner*>(node);
    const int first = from == nullptr ? 0 : UpperBound(inner, *from);
    for (int i = first; i < static_cast<int>(inner->n); ++i) {
      // Only the first child visited can hold keys below `from`.
      if (!Visit(inner->child[i], i == first ? from : nullptr, fn)) return false;
    }
    return true;
  }

  static void ReleaseRec(Txn& txn, const Node* node) {
    if (node->leaf) {
      txn.Replaced(static_cast<const Leaf*>(node));
      return;
    }
    const auto* inner = static_cast<const Inner*>(node);
    for (uint32_t i = 0; i < inner->n; ++i) ReleaseRec(txn, inner->child[i]);
    txn.Replaced(inner);
  }

  static void DestroyRec(const Node* node) {
    if (node->leaf) {
      delete static_cast<const Leaf*>(node);
      return;
    }
    const auto* inner = static_cast<const Inner*>(node);
    for (uint32_t i = 0; i < inner->n; ++i) DestroyRec(inner->child[i]);
    delete inner;
  }

  static size_t CountRec(const Node* node) {
    if (node->leaf) return 1;
    const auto* inner = static_cast<const Inner*>(node);
    size_t total = 1;
    for (uint32_t i = 0; i < inner->n; ++i) total += CountRec(inner->child[i]);
    return total;
  }

  // Keys of `node` must lie in [*lo, *hi) (null: unbounded).
  static bool CheckRec(const Node* node, const K* lo, const K* hi, int depth, bool is_root,
                       int* leaf_depth, size_t* entries) {
    if (node->leaf) {
      const auto* leaf = static_cast<const Leaf*>(node);
      if (leaf->n < 1 || leaf->n > static_cast<uint32_t>(kLeafCap)) return false;
      if (!is_root && leaf->n < kLeafMin) return false;
      if (*leaf_depth < 0) *leaf_depth = depth;
      if (*leaf_depth != depth) return false;
      if (!InBounds(leaf->keys, leaf->n, lo, hi)) return false;
      *entries += leaf->n;
      return true;
    }
    const auto* inner = static_cast<const Inner*>(node);
    if (inner->n < 2 || inner->n > static_cast<uint32_t>(kInnerCap)) return false;
    if (!is_root && inner->n < kInnerMin) return false;
    if (!InBounds(inner->keys, inner->n - 1, lo, hi)) return false;
    for (uint32_t i = 0; i < inner->n; ++i) {
      const Node* child = inner->child[i];
      if (child == nullptr || child->gen > inner->gen) return false;
      const K* child_lo = i == 0 ? lo : &inner->keys[i - 1];
      const K* child_hi = i + 1 == inner->n ? hi : &inner->keys[i];
      if (!CheckRec(child, child_lo, child_hi, depth + 1, false, leaf_depth, entries)) {
        return false;
      }
    }
    return true;
  }

  // True when keys[0..n) ascend strictly and lie in [*lo, *hi).
  static bool InBounds(const K* keys, uint32_t n, const K* lo, const K* hi) {
    for (uint32_t i = 0; i < n; ++i) {
      if (i > 0 && !(keys[i - 1] < keys[i])) return false;
      if (lo != nullptr && keys[i] < *lo) return false;
      if (hi != nullptr && !(keys[i] < *hi)) return false;
    }
    return true;
  }

  const Node* root_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_PMAP_H_
