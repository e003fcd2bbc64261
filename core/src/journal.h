// Copyright 2026 The tenantry Authors.
//
// The journal (P3): the files that hold every acknowledged change made since
// the newest snapshot. See docs/persistence.md for the format and the
// guarantees; this is the file layer. What the records mean, and replaying
// them, is the engine's (engine_journal.cc).
//
// A journal is a directory of segments, `seg-<base lsn, 20 digits>.tnyj`,
// each holding the records base+1, base+2, ... Records are appended into a
// shared memory mapping of the newest segment: a record is in the kernel's
// page cache the moment it is copied, so a process killed at any instant
// keeps every record it finished writing, with no system call per record.
// Durability against the machine going down (power, kernel) is the flush
// policy's (Durability): fdatasync per change, every N ms, or never.
//
// Appends are serialized by the engine (its journal lock); the flush may run
// on any thread. One engine at a time owns a directory (an flock on LOCK).
#ifndef TENANTRY_CORE_SRC_JOURNAL_H_
#define TENANTRY_CORE_SRC_JOURNAL_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tenantry/journal.h"

namespace tenantry::internal {

// CRC-32C (Castagnoli): SSE4.2 when the CPU has it, a table otherwise.
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

// What a segment's header says about the engine it belongs to.
struct JournalIdentity {
  // The engine's lineage: snapshots carry it too (with their lsn), so a
  // journal is never replayed onto another engine's snapshot.
  std::array<uint8_t, 16> lineage{};
  // The engine's secrets (I1 token hashes, C5 key hashes), for recovery
  // without a snapshot. The directory is created 0700, the files 0600.
  std::array<uint8_t, 32> token_key{};
  std::array<uint8_t, 16> key_hash_key{};
  // When a journal starts on an engine loaded from a snapshot that carries
  // another lineage: the snapshot's checksum (zeros: the empty engine).
  std::array<uint8_t, 32> base_snapshot{};
};

// One record read back.
struct JournalRecord {
  uint64_t lsn = 0;
  uint8_t type = 0;
  std::string payload;
};

// Everything found in a directory, in lsn order: which records follow
// `after_lsn`, and where appending continues.
struct JournalScan {
  JournalIdentity identity;
  uint64_t first_base = 0;    // base lsn of the oldest segment
  uint64_t last_lsn = 0;      // the newest complete record (first_base if none)
  uint64_t records_read = 0;  // every sound record read, wanted or not
  std::vector<JournalRecord> records;
  // A torn last record (a crash while writing it) was found and will be
  // overwritten: how many bytes it left.
  uint64_t torn_bytes = 0;
  bool empty = true;  // no segment at all
  // Where appending continues: the base of the last segment read whole and
  // the offset past its last complete record.
  uint64_t tail_base = 0;
  uint64_t tail_offset = 0;

  // Damage that is not a torn tail: a damaged record followed by a sound
  // one, damage in a segment that is not the newest or below its flushed
  // mark, a damaged header, another lineage or missing records in a later
  // segment. `records` stop before it; Attach refuses or cuts there.
  bool damaged = false;
  std::string damage_reason;
  std::string damage_segment;   // its path
  uint64_t damage_base = 0;     // its base lsn
  uint64_t damage_offset = 0;   // 0: the whole segment (its header)
  uint64_t damage_flushed = 0;  // the lsn the damaged segment's mark vouches for
  // The sound records found past the damage (this and later segments).
  std::vector<JournalRecord> past_damage;
  // The bases of the segments after the damaged one.
  std::vector<uint64_t> later_bases;

  // The highest lsn known to have existed past the damage (0 if none).
  uint64_t LostThrough() const;
};

class Journal {
 public:
  // Opens (creating if need be) the directory and takes its lock.
  // FailedPrecondition when another engine holds it; InvalidArgument for a
  // bad path; Internal for an I/O error (with errno's text).
  // `create`: false for a journal that must exist already (NotFound).
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& dir,
                                                       Durability durability,
                                                       int64_t group_commit_ms, bool create = true);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Reads every segment: the records after `after_lsn` (older ones are
  // checked, then skipped), up to the first damage that is not a torn tail
  // (JournalScan::damaged: the caller refuses or cuts). DataLoss for a
  // damaged first header or an unknown format: nothing can be kept then.
  // Whether the records reach back far enough is the caller's to judge.
  absl::StatusOr<JournalScan> Scan(uint64_t after_lsn) const;

  // Cuts a damaged journal at its damage: copies of the cut segments go to
  // `<dir>/lost-<first lost lsn>` (flushed), the damaged segment is zeroed
  // from the damage on and its flushed mark set to the last record kept,
  // later segments are moved aside. Returns the directory set aside and
  // leaves `scan` describing the journal as it now is (not damaged).
  absl::StatusOr<std::string> CutAtDamage(JournalScan* scan);

  // Starts appending: after the records of `scan` (when it found a
  // segment), overwriting a torn tail; otherwise in a first segment based
  // at `base_lsn` that carries `identity`.
  absl::Status Start(const JournalScan& scan, const JournalIdentity& identity, uint64_t base_lsn);
  const JournalIdentity& identity() const { return identity_; }

  // ---- Appending (the caller holds the engine's journal lock) ----
  // Makes room for a record of `payload_bytes`; call before the change has
  // any effect, so that a full disk refuses the change (ResourceExhausted
  // naming ENOSPC) instead of losing it. Internal once a flush has failed.
  absl::Status Reserve(size_t payload_bytes);
  // Appends one record (room reserved); returns its lsn.
  uint64_t Append(uint8_t type, absl::string_view payload);
  uint64_t last_lsn() const { return last_lsn_.load(std::memory_order_acquire); }

  // ---- Acknowledging (no lock held) ----
  // Returns once `lsn` is as durable as the policy promises: flushed
  // (kSync), or at once (kGroup, kNone: the record is already in the page
  // cache). Internal when the flush fails (the change is then not known to
  // be durable; the error says so).
  absl::Status Acknowledge(uint64_t lsn);
  // Flushes everything appended so far, whatever the policy.
  absl::Status Flush();
  // Flushes everything appended so far unless `lsn` is already durable.
  absl::Status FlushThrough(uint64_t lsn);

  // ---- Snapshots (P1 + P3) ----
  // Under the journal lock, at the snapshot's cut: flushes the current
  // segment and starts a new one based at last_lsn(). Returns that lsn.
  absl::StatusOr<uint64_t> Rotate();
  // After the snapshot holding everything up to `lsn` is durable: deletes
  // the segments whose records all are <= lsn.
  absl::Status DropThrough(uint64_t lsn);

  const std::string& dir() const { return dir_; }
  Durability durability() const { return durability_; }

  // ---- fork (engine_fork.cc) ----
  // Called in a child process right after fork(), while it has one thread:
  // the files, their lock and the mapping belong to the parent, so from now
  // on this journal refuses every change (FailedPrecondition naming P3) and
  // writes nothing, not even when it is closed. The flusher thread does not
  // exist in the child; it is never joined.
  void MarkForked() { forked_ = true; }

 private:
  Journal(std::string dir, int lock_fd, Durability durability, int64_t group_commit_ms);
  absl::Status OpenSegment(uint64_t base_lsn, bool create, uint64_t append_at);
  absl::Status Grow(size_t need);
  void CloseSegment();
  void Flusher();

  const std::string dir_;
  const int lock_fd_;
  const Durability durability_;
  const int64_t group_commit_ms_;
  JournalIdentity identity_;

  // The segment being appended to (journal lock).
  int fd_ = -1;
  uint64_t base_lsn_ = 0;
  char* map_ = nullptr;
  size_t mapped_ = 0;
  size_t offset_ = 0;
  std::atomic<uint64_t> last_lsn_{0};

  // Set in a forked child (MarkForked) before anything else runs there.
  bool forked_ = false;
  absl::Status ForkedChild() const;

  // Flushing: `durable_lsn_` only grows; one flush at a time. After a
  // failed flush the journal refuses changes (`failed_`, `failure_`).
  absl::Status FailedFlush() const;
  // Records a failed flush (flush_mu_ held) and returns `status`.
  absl::Status MarkFailed(absl::Status status);
  std::mutex flush_mu_;
  std::atomic<bool> failed_{false};
  std::string failure_;
  std::atomic<uint64_t> durable_lsn_{0};
  // The segment fd the flusher syncs; replaced on rotation (flush_mu_).
  int flush_fd_ = -1;

  // kGroup: the background flusher.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread flusher_;
};

// Record types (the engine's; listed here so the file layer can name them).
enum class JournalRecordType : uint8_t {
  kRun = 1,           // a transaction of ops (ops.h), its time and token hashes
  kConsume = 2,       // a debit (C5, A7): workspace, meter, per bucket
  kKeyedConsume = 3,  // a keyed consume's remembered slot and its debit (C5)
  kReserve = 4,       // a hold taken (C6): the slot as it went live
  kCommit = 5,        // commit(reservation, actual) at a time (C6)
  kRelease = 6,       // release(reservation) at a time (C6)
  kSweep = 7,         // expired holds released at a time (C6)
  kGroup = 8,         // a replica group's first record: lineage, secrets (R5)
};

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_JOURNAL_H_
