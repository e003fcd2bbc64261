// Copyright 2026 The tenantry Authors.
//
// IdMap: a persistent radix trie keyed by dense 64-bit ids. What both
// persistent containers promise (reads, path copying through a Txn, shallow
// handles) is in persistent.h.
#ifndef TENANTRY_CORE_SRC_ID_MAP_H_
#define TENANTRY_CORE_SRC_ID_MAP_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "persistent.h"
#include "txn.h"

namespace tenantry::internal {

namespace detail {

// ---------------------------------------------------------------------------
// IdMap nodes.
//
// Every node of the trie is a fixed-size array of 64 slots plus the number of
// slots in use, so that a node whose last slot is cleared can be released and
// the trie never keeps empty nodes. Which kind a node is follows from its
// level (the handle knows the number of levels), so there is no tag to test
// on the lookup path.

inline constexpr unsigned kIdBits = 6;
inline constexpr unsigned kIdFanout = 1u << kIdBits;  // 64
inline constexpr uint64_t kIdMask = kIdFanout - 1;
// 64 bits at 6 bits a level: the top level of an 11-level trie uses 4 bits.
inline constexpr uint32_t kIdMaxLevels = (64 + kIdBits - 1) / kIdBits;

struct IdNode {
  uint64_t gen = 0;
  uint32_t count = 0;  // Non-empty slots.
};

struct IdInner : IdNode {
  const IdNode* child[kIdFanout] = {};
};

template <class V>
struct IdLeaf : IdNode {
  V value[kIdFanout] = {};
};

// The number of levels needed to hold `key` (at least one).
inline uint32_t IdLevelsFor(uint64_t key) {
  uint32_t levels = 1;
  while (levels < kIdMaxLevels && (key >> (kIdBits * levels)) != 0) ++levels;
  return levels;
}

}  // namespace detail

// A persistent radix trie keyed by dense 64-bit ids (the engine hands ids out
// in sequence), 64-way (6 bits a level), uncompressed nodes, as many levels
// as the largest key needs (grows at the top). `V` is trivially copyable and
// `V{}` means "absent" (pointers: nullptr).
//
// Nodes are 528 bytes (gen, count, 64 slots of 8 bytes for pointer values).
// A lookup is one load per level with no branch on node kind; keys below
// 2^18 need three levels.
template <class V>
class IdMap {
  static_assert(std::is_trivially_copyable_v<V>, "IdMap values are copied as plain bytes");

  using Node = detail::IdNode;
  using Inner = detail::IdInner;
  using Leaf = detail::IdLeaf<V>;

 public:
  IdMap() = default;

  // The value at `key`, or V{} when absent. Wait-free.
  V Find(uint64_t key) const {
    const Node* node = root_;
    unsigned shift = detail::kIdBits * levels_;
    // A key wider than the trie is absent. The top level of an 11-level trie
    // covers every key, and shifting by 64 or more would be undefined.
    if (node == nullptr || (shift < 64 && (key >> shift) != 0)) return V{};
    for (shift -= detail::kIdBits; shift != 0; shift -= detail::kIdBits) {
      node = static_cast<const Inner*>(node)->child[(key >> shift) & detail::kIdMask];
      if (node == nullptr) return V{};
    }
    return static_cast<const Leaf*>(node)->value[key & detail::kIdMask];
  }

  // The address of `key`'s slot in its leaf (holding V{} when the key is
  // absent), or nullptr when no leaf covers it: Find without the last load,
  // so that a caller can prefetch the slot first. Wait-free.
  const V* SlotOf(uint64_t key) const {
    const Node* node = root_;
    unsigned shift = detail::kIdBits * levels_;
    if (node == nullptr || (shift < 64 && (key >> shift) != 0)) return nullptr;
    for (shift -= detail::kIdBits; shift != 0; shift -= detail::kIdBits) {
      node = static_cast<const Inner*>(node)->child[(key >> shift) & detail::kIdMask];
      if (node == nullptr) return nullptr;
    }
    return &static_cast<const Leaf*>(node)->value[key & detail::kIdMask];
  }

  // Sets `key` to `value` (value != V{}). Path-copies through `txn`.
  void Set(Txn& txn, uint64_t key, V value) {
    assert(!(value == V{}) && "V{} means absent; use Erase");
    const uint32_t need = detail::IdLevelsFor(key);
    if (root_ == nullptr) levels_ = need;
    // Growing at the top leaves the old root as child 0 of the new one: it
    // is shared, not copied.
    while (levels_ < need) {
      Inner* top = txn.Make<Inner>();
      top->child[0] = root_;
      top->count = 1;
      root_ = top;
      ++levels_;
    }
    Inner* parent = nullptr;
    const Node** slot = &root_;
    for (unsigned shift = detail::kIdBits * (levels_ - 1); shift != 0; shift -= detail::kIdBits) {
      Inner* w;
      if (*slot == nullptr) {
        w = txn.Make<Inner>();
        if (parent != nullptr) ++parent->count;
      } else {
        w = txn.Writable(static_cast<const Inner*>(*slot));
      }
      *slot = w;
      parent = w;
      slot = &w->child[(key >> shift) & detail::kIdMask];
    }
    Leaf* leaf;
    if (*slot == nullptr) {
      leaf = txn.Make<Leaf>();
      if (parent != nullptr) ++parent->count;
    } else {
      leaf = txn.Writable(static_cast<const Leaf*>(*slot));
    }
    *slot = leaf;
    V& dst = leaf->value[key & detail::kIdMask];
    if (dst == V{}) {
      ++leaf->count;
      ++size_;
    }
    dst = value;
  }

  // Removes `key` if present. Emptied nodes are released through `txn`.
  void Erase(Txn& txn, uint64_t key) {
    // Probe first so that erasing an absent key copies nothing.
    if (Find(key) == V{}) return;
    root_ = EraseRec(txn, root_, levels_, key);
    --size_;
    // Drop top levels that only lead to child 0, so that the trie stays as
    // shallow as its largest key needs and lookups stay short.
    while (root_ != nullptr && levels_ > 1) {
      const auto* top = static_cast<const Inner*>(root_);
      if (top->count != 1 || top->child[0] == nullptr) break;
      root_ = top->child[0];
      --levels_;
      txn.Replaced(top);
    }
    if (root_ == nullptr) levels_ = 0;
  }

  // Calls fn(key, value) for every present key, ascending. `fn` may return
  // bool (false stops) or void.
  template <class Fn>
  void ForEach(Fn&& fn) const {
    if (root_ != nullptr) Visit(root_, levels_, 0, fn);
  }

  // Releases every node through `txn` (the map becomes empty).
  void Clear(Txn& txn) {
    if (root_ != nullptr) ReleaseRec(txn, root_, levels_);
    root_ = nullptr;
    size_ = 0;
    levels_ = 0;
  }

  // Frees every node at once, without a Txn. Only when no reader and no
  // other version can reach them (engine destruction). The handle becomes empty.
  void Destroy() {
    if (root_ != nullptr) DestroyRec(root_, levels_);
    root_ = nullptr;
    size_ = 0;
    levels_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Levels of the trie (0 when empty). For tests and statistics.
  uint32_t levels() const { return levels_; }

  // Nodes reachable from this handle. O(nodes); for tests and statistics.
  size_t NodeCount() const { return root_ == nullptr ? 0 : CountRec(root_, levels_); }

  // Checks the structure: slot counts match, no empty nodes, no child newer
  // than its parent (a published node never points to a later one), size()
  // matches, no useless top level. O(nodes); for tests and debugging.
  bool CheckInvariants() const {
    if (root_ == nullptr) return size_ == 0 && levels_ == 0;
    if (levels_ < 1 || levels_ > detail::kIdMaxLevels) return false;
    if (levels_ > 1) {
      const auto* top = static_cast<const Inner*>(root_);
      if (top->count == 1 && top->child[0] != nullptr) return false;
    }
    size_t present = 0;
    return CheckRec(root_, levels_, &present) && present == size_;
  }

 private:
  static const Node* EraseRec(Txn& txn, const Node* node, uint32_t level, uint64_t key) {
    const unsigned idx = (key >> (detail::kIdBits * (level - 1))) & detail::kIdMask;
    if (level == 1) {
      const auto* leaf = static_cast<const Leaf*>(node);
      assert(!(leaf->value[idx] == V{}));
      // The last value of a leaf takes the leaf with it: no copy needed.
      if (leaf->count == 1) {
        txn.Replaced(leaf);
        return nullptr;
      }
      Leaf* w = txn.Writable(leaf);
      w->value[idx] = V{};
      --w->count;
      return w;
    }
    const auto* inner = static_cast<const Inner*>(node);
    const Node* child = EraseRec(txn, inner->child[idx], level - 1, key);
    if (child == nullptr && inner->count == 1) {
      txn.Replaced(inner);
      return nullptr;
    }
    Inner* w = txn.Writable(inner);
    w->child[idx] = child;
    if (child == nullptr) --w->count;
    return w;
  }

  template <class Fn>
  static bool Visit(const Node* node, uint32_t level, uint64_t prefix, Fn& fn) {
    if (level == 1) {
      const auto* leaf = static_cast<const Leaf*>(node);
      for (uint64_t i = 0; i < detail::kIdFanout; ++i) {
        if (leaf->value[i] == V{}) continue;
        if (!detail::CallVisitor(fn, prefix | i, leaf->value[i])) return false;
      }
      return true;
    }
    const auto* inner = static_cast<const Inner*>(node);
    const unsigned shift = detail::kIdBits * (level - 1);
    for (uint64_t i = 0; i < detail::kIdFanout; ++i) {
      if (inner->child[i] == nullptr) continue;
      if (!Visit(inner->child[i], level - 1, prefix | (i << shift), fn)) return false;
    }
    return true;
  }

  static void ReleaseRec(Txn& txn, const Node* node, uint32_t level) {
    if (level == 1) {
      txn.Replaced(static_cast<const Leaf*>(node));
      return;
    }
    const auto* inner = static_cast<const Inner*>(node);
    for (const Node* child : inner->child) {
      if (child != nullptr) ReleaseRec(txn, child, level - 1);
    }
    txn.Replaced(inner);
  }

  static void DestroyRec(const Node* node, uint32_t level) {
    if (level == 1) {
      delete static_cast<const Leaf*>(node);
      return;
    }
    const auto* inner = static_cast<const Inner*>(node);
    for (const Node* child : inner->child) {
      if (child != nullptr) DestroyRec(child, level - 1);
    }
    delete inner;
  }

  static size_t CountRec(const Node* node, uint32_t level) {
    if (level == 1) return 1;
    size_t total = 1;
    for (const Node* child : static_cast<const Inner*>(node)->child) {
      if (child != nullptr) total += CountRec(child, level - 1);
    }
    return total;
  }

  static bool CheckRec(const Node* node, uint32_t level, size_t* present) {
    uint32_t used = 0;
    if (level == 1) {
      for (const V& v : static_cast<const Leaf*>(node)->value) used += !(v == V{});
      *present += used;
      return used == node->count && used > 0;
    }
    for (const Node* child : static_cast<const Inner*>(node)->child) {
      if (child == nullptr) continue;
      ++used;
      if (child->gen > node->gen || !CheckRec(child, level - 1, present)) return false;
    }
    return used == node->count && used > 0;
  }

  const Node* root_ = nullptr;
  size_t size_ = 0;
  uint32_t levels_ = 0;
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_ID_MAP_H_
