// Copyright 2026 The tenantry Authors.
//
// Persistent (path-copying) containers for the engine's versions: IdMap
// (id_map.h), a radix trie keyed by dense ids, and PMap (pmap.h), a B+tree.
//
// Both are small value handles (a root pointer and a size) kept inside a
// node of a version. Reading is plain loads of immutable memory, safe from
// any number of threads while the version is protected by a ReadGuard.
// Changing goes through a Txn: nodes of published versions are copied and
// the originals handed to `Txn::Replaced`; nodes the transaction created
// itself are changed in place. So a change costs O(depth x node size) and a
// batch that touches one node many times copies it once.
//
// Values are stored by value and must be copyable. The containers do not own
// what a value points to (an IdMap<const UserNode*> does not free users).
//
// Copying a handle is shallow: both handles share the tree, and neither frees
// anything when it goes away. Nodes are released only through a Txn (they
// become garbage of that transaction) or, at engine teardown, by Destroy().
//
// This header holds what the two share.
#ifndef TENANTRY_CORE_SRC_PERSISTENT_H_
#define TENANTRY_CORE_SRC_PERSISTENT_H_

#include <type_traits>

namespace tenantry::internal::detail {

// Calls `fn(key, value)` and says whether iteration should go on. Callbacks
// may return void (visit everything) or something convertible to bool
// (false stops the iteration).
template <class Fn, class K, class V>
bool CallVisitor(Fn& fn, const K& key, const V& value) {
  if constexpr (std::is_void_v<std::invoke_result_t<Fn&, const K&, const V&>>) {
    fn(key, value);
    return true;
  } else {
    return static_cast<bool>(fn(key, value));
  }
}

}  // namespace tenantry::internal::detail

#endif  // TENANTRY_CORE_SRC_PERSISTENT_H_
