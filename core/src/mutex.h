// Copyright 2026 The tenantry Authors.
//
// The engine's mutex: std::mutex with clang's thread-safety annotations.
//
// Why not absl::Mutex: Debian's abseil is not built with ThreadSanitizer, so
// TSan cannot see absl::Mutex's synchronization and reports the write lock's
// critical sections as races. pthread mutexes are intercepted by TSan. The
// annotations keep ABSL_GUARDED_BY and -Wthread-safety working.
#ifndef TENANTRY_CORE_SRC_MUTEX_H_
#define TENANTRY_CORE_SRC_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace tenantry::internal {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // Never waits: true when the lock was free and is now held.
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_MUTEX_H_
