// Copyright 2026 The tenantry Authors.
//
// P3: what recovery found in a journal, and the explicit repair of a journal
// damaged before its end. docs/persistence.md explains the format.
//
// A torn tail (a last record cut short by a crash, with nothing sound after
// it) is what a crash leaves, and recovery drops it by itself. Damage
// followed by a sound record is not: acknowledged changes lie past it, so
// opening such a journal is DataLoss in every durability mode, and nothing
// is changed. A power loss under "none" or "group" can persist a later page
// before an earlier one and leave exactly that, so such a journal can be
// repaired on request: cut at the damage, with every position past it
// reported and the cut segments kept aside, never dropped in silence.
#ifndef TENANTRY_CORE_INCLUDE_TENANTRY_JOURNAL_H_
#define TENANTRY_CORE_INCLUDE_TENANTRY_JOURNAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tenantry/export.h"

namespace tenantry {

// P3: how far a journaled change is flushed before its call returns. In
// every mode a change is in the journal (the kernel's page cache) before it
// is acknowledged, so a process that is killed loses nothing acknowledged;
// the modes differ in what a machine crash (power, kernel) can lose.
enum class Durability : uint8_t {
  kSync = 0,   // flushed (fdatasync) before acknowledged: loses nothing
  kGroup = 1,  // flushed every Options::group_commit_ms: loses at most that
  kNone = 2,   // flushed when the kernel writes back (and on close): may
               // lose the kernel's writeback window (about 30 s on Linux)
};

// Its name ("sync", "group", "none"): DurabilityName in tenantry/names.h.

// P3: what opening a journal does when it is damaged before its end.
enum class OnJournalDamage : uint8_t {
  // DataLoss naming the damage and the records past it; nothing changes.
  kRefuse = 0,
  // Keeps the records before the damage, sets the rest aside (copies of
  // the cut segments in a `lost-<lsn>` directory inside the journal) and
  // reports it (JournalRecovery). Then recovery goes on as usual.
  kTruncate = 1,
};

// Its name ("refuse", "truncate"): OnJournalDamageName in tenantry/names.h.

// A record past the damage that could still be read.
struct LostRecord {
  uint64_t lsn = 0;
  // What the change was, in words ("changes: create_user, add_member",
  // "consume: workspace 12, meter 1, 5 regular + 0 extra" ...).
  std::string what;
};

// What recovery (or RepairJournal) found in a journal.
struct JournalRecovery {
  // Records read back in one piece (replayed, or skipped as covered by the
  // snapshot).
  uint64_t records = 0;
  // A torn last record dropped (its bytes; 0: none). A crash leaves one;
  // it was never acknowledged under "sync" (see docs/persistence.md).
  uint64_t torn_bytes = 0;

  // Damage before the end: set when it was found. `truncated` says whether
  // the journal was cut there (kTruncate, RepairJournal) or only looked at
  // (RepairJournal's dry run).
  bool damaged = false;
  bool truncated = false;
  std::string reason;             // "a damaged record followed by sound ones" ...
  std::string segment;            // the segment file where the damage starts
  uint64_t offset = 0;            // its byte offset there
  uint64_t kept_through_lsn = 0;  // the last record kept
  // Lost: every position from kept_through_lsn + 1 through lost_through_lsn
  // (the highest lsn found past the damage, or vouched for by a flush).
  uint64_t lost_through_lsn = 0;
  // The lost records that could still be read, in lsn order; the positions
  // missing from it were unreadable.
  std::vector<LostRecord> readable;
  // Where the cut segments were kept (empty for a dry run).
  std::string set_aside;
};

// The report as text, one fact per line (what `tenantry journal` prints).
TENANTRY_API std::string FormatJournalRecovery(const JournalRecovery& recovery);

// P3: checks the journal in `dir` and, unless `dry_run`, cuts it at its first
// damage, as OnJournalDamage::kTruncate would. Takes the journal's lock
// (FailedPrecondition while an engine holds it); NotFound for a missing
// directory or one holding no journal; DataLoss when even the first
// segment's header is damaged (the engine's identity is lost: nothing can
// be kept). Safe to call from any thread.
TENANTRY_API absl::StatusOr<JournalRecovery> RepairJournal(const std::string& dir, bool dry_run);

}  // namespace tenantry

#endif  // TENANTRY_CORE_INCLUDE_TENANTRY_JOURNAL_H_
