// Copyright 2026 The tenantry Authors.
//
// What one write transaction allocates, replaces and throws away.
//
// The engine's state is a tree of immutable nodes shared between versions.
// A writer builds the next version by path copying: a node that belongs to a
// published version is never modified; it is copied, and the copy is changed.
// A node created by the running transaction (its `gen` equals the
// transaction's) is not visible to any reader yet, so it may be changed in
// place: a batch of a million changes touching one node copies it once.
//
// Every node type used with a Txn has a public `uint64_t gen` member and is
// allocated through `Txn::make` or registered with `Txn::adopt`.
//
// At the end of the transaction:
//  - commit: `retired()` goes to the reclamation domain tagged with the
//    published epoch (the replaced nodes may still be read by old readers);
//    `dropped()` nodes were never visible and are freed at once.
//  - abort: every node in `created()` is freed (nothing was published), and
//    `retired()` is forgotten (those nodes are still live).
#ifndef TENANTRY_CORE_SRC_TXN_H_
#define TENANTRY_CORE_SRC_TXN_H_

#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

namespace tenantry::internal {

using Deleter = void (*)(void*);

// One node waiting to be freed, and how to free it.
struct Garbage {
  void* ptr;
  Deleter deleter;
  void Free() const { deleter(ptr); }
};

template <class T>
void DeleteAs(void* p) {
  delete static_cast<T*>(p);
}

class Txn {
 public:
  explicit Txn(uint64_t gen) : gen_(gen) { assert(gen != 0); }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { assert(finished_ && "a Txn must end in Commit() or Abort()"); }

  uint64_t gen() const { return gen_; }

  // True when `node` was created by this transaction and may be changed in place.
  template <class T>
  bool Owns(const T* node) const {
    return node != nullptr && node->gen == gen_;
  }

  // Allocates a node with `new`, stamps it with this transaction's gen and
  // records it as created.
  template <class T, class... Args>
  T* Make(Args&&... args) {
    assert(!finished_ && "a Txn changes nothing after Commit() or Abort()");
    T* node = new T(std::forward<Args>(args)...);
    node->gen = gen_;
    created_.push_back({node, &DeleteAs<T>});
    return node;
  }

  // Records a node allocated some other way (variable-size nodes), already
  // stamped with gen(), with the deleter that frees it.
  template <class T>
  void Adopt(T* node, Deleter deleter) {
    assert(!finished_);
    assert(node->gen == gen_);
    created_.push_back({node, deleter});
  }

  // Copies a published node (or returns it if this transaction owns it).
  template <class T>
  T* Writable(const T* node) {
    assert(!finished_);
    // Paired with Make: a node this transaction did not make is published,
    // hence of an older gen, never a newer one.
    assert(node != nullptr && node->gen <= gen_);
    if (Owns(node)) return const_cast<T*>(node);
    T* copy = Make<T>(*node);
    copy->gen = gen_;
    Replaced(node);
    return copy;
  }

  // `node` is no longer reachable from the version being built. A node of an
  // older gen is retired (freed once no reader can see it); a node of this
  // gen was never visible and is freed at commit.
  template <class T>
  void Replaced(const T* node) {
    ReplacedWith(node, &DeleteAs<T>);
  }
  template <class T>
  void ReplacedWith(const T* node, Deleter deleter) {
    assert(!finished_);
    if (node == nullptr) return;
    assert(node->gen <= gen_);
    auto* p = const_cast<T*>(node);
    if (node->gen == gen_) {
      dropped_.push_back({p, deleter});
    } else {
      retired_.push_back({p, deleter});
    }
  }

  // Commit: frees what was never visible and hands back what must wait.
  std::vector<Garbage> Commit() {
    assert(!finished_);
    finished_ = true;
    for (const Garbage& g : dropped_) g.Free();
    dropped_.clear();
    created_.clear();
    return std::move(retired_);
  }

  // Abort: frees everything this transaction made; the published version is
  // untouched.
  void Abort() {
    assert(!finished_);
    finished_ = true;
    for (const Garbage& g : created_) g.Free();
    created_.clear();
    dropped_.clear();
    retired_.clear();
  }

  size_t created_count() const { return created_.size(); }
  // Until Commit() or Abort(): the Writer asserts it before every change.
  bool open() const { return !finished_; }

 private:
  uint64_t gen_;
  bool finished_ = false;
  std::vector<Garbage> created_;
  std::vector<Garbage> dropped_;
  std::vector<Garbage> retired_;
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_TXN_H_
