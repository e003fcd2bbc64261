// Copyright 2026 The tenantry Authors.
//
// A journal damaged before its end (P3). A torn tail, damage with
// nothing sound after it, is what a crash leaves and is dropped; damage
// followed by a sound record is DataLoss in every durability mode, and the
// refused open changes nothing. The explicit repair (OnJournalDamage::
// kTruncate, RepairJournal, `tenantry journal repair`) cuts at the damage,
// keeps the cut segments aside and reports every lost position.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "persist_util.h"
#include "tenantry/snapshot.h"
#include "test_util.h"

namespace tenantry::test {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> Entries(const std::string& dir, absl::string_view prefix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (absl::StartsWith(e->d_name, prefix)) out.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Segments(const std::string& dir) { return Entries(dir, "seg-"); }

// The byte offset of every record of a segment, in order.
std::vector<size_t> RecordOffsets(const std::string& bytes) {
  std::vector<size_t> out;
  for (size_t off = 128; off + 16 <= bytes.size();) {
    uint32_t size = 0;
    std::memcpy(&size, bytes.data() + off, 4);
    if (size == 0) break;
    out.push_back(off);
    off += (16 + size + 7) & ~size_t{7};
  }
  return out;
}

std::string UserKey(int i) { return absl::StrCat("u", i, "@damage.test"); }

// A child process journals `users` new users, one change (one record) each,
// then is killed (SIGKILL): no clean close, so no flush beyond the mode's.
void JournalThenDie(const std::string& dir, Durability durability, int users) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Open(Journaled(dir, durability));
    if (!e.ok()) ::_exit(3);
    for (int i = 0; i < users; ++i) {
      if (!(*e)->create_user(UserKey(i)).ok()) ::_exit(4);
    }
    ::raise(SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child exited with " << WEXITSTATUS(status);
}

Engine::Options Cutting(const std::string& dir) {
  Engine::Options o = Journaled(dir);
  o.on_journal_damage = OnJournalDamage::kTruncate;
  return o;
}

int UsersIn(const Engine& e, int upto) {
  int n = 0;
  for (int i = 0; i < upto; ++i) n += e.user(UserKey(i)).ok() ? 1 : 0;
  return n;
}

// Runs the operator's tool; its exit status, and its output in `out`.
int Tool(const std::string& arguments, std::string* out) {
  FILE* pipe = ::popen(absl::StrCat(TENANTRY_TOOL, " ", arguments, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  out->clear();
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(JournalDamage, P3_DamageFollowedBySoundRecordsIsDataLossInEveryMode) {
  // The defect this guards: under "none" a killed process leaves a flushed
  // mark of 0, and a damaged record 2 of 50 was taken for a torn tail: 48
  // acknowledged changes dropped without a word.
  for (const Durability mode : {Durability::kNone, Durability::kGroup, Durability::kSync}) {
    SCOPED_TRACE(DurabilityName(mode));
    const std::string dir = TempDirFor(absl::StrCat("every-mode-", DurabilityName(mode)));
    ASSERT_NO_FATAL_FAILURE(JournalThenDie(dir, mode, 50));
    const std::string seg = Segments(dir).at(0);
    std::string bytes = ReadAll(seg);
    const std::vector<size_t> records = RecordOffsets(bytes);
    ASSERT_EQ(records.size(), 50u);
    bytes[records[1] + 20] ^= 0x10;  // inside record 2's body
    WriteAll(seg, bytes);
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Open(Journaled(dir, mode));
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), absl::StatusCode::kDataLoss) << e.status();
    for (const char* part : {"after lsn 1", "lsn 2 to 50", "48 still readable",
                             "tenantry journal repair", "Nothing was changed", "(P3)"}) {
      EXPECT_TRUE(absl::StrContains(e.status().message(), part)) << part << ": " << e.status();
    }
    // The refused open changed nothing.
    EXPECT_EQ(ReadAll(seg), bytes);
    EXPECT_TRUE(Entries(dir, "lost-").empty());
  }
}

TEST(JournalDamage, P3_TruncateKeepsWhatPrecedesTheDamageAndReportsEveryLostPosition) {
  const std::string dir = TempDirFor("truncate");
  ASSERT_NO_FATAL_FAILURE(JournalThenDie(dir, Durability::kNone, 50));
  const std::string seg = Segments(dir).at(0);
  std::string bytes = ReadAll(seg);
  const std::vector<size_t> records = RecordOffsets(bytes);
  bytes[records[9] + 2] ^= 0x01;  // record 10's size
  WriteAll(seg, bytes);

  std::unique_ptr<Engine> e = OpenOrDie(Cutting(dir));
  ASSERT_NE(e, nullptr);
  const JournalRecovery& r = e->journal_recovery();
  EXPECT_TRUE(r.damaged);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.records, 9u);
  EXPECT_EQ(r.segment, seg);
  EXPECT_EQ(r.offset, records[9]);
  EXPECT_EQ(r.kept_through_lsn, 9u);
  EXPECT_EQ(r.lost_through_lsn, 50u);
  ASSERT_EQ(r.readable.size(), 40u);  // lsn 11..50; 10 is the damaged one
  for (size_t i = 0; i < r.readable.size(); ++i) {
    EXPECT_EQ(r.readable[i].lsn, 11 + i);
    EXPECT_EQ(r.readable[i].what, "change: create_user");
  }
  // The cut bytes are kept, exactly as they were.
  ASSERT_EQ(Entries(dir, "lost-"), std::vector<std::string>{dir + "/lost-10"});
  EXPECT_EQ(ReadAll(r.set_aside + seg.substr(seg.rfind('/'))), bytes);
  // The engine holds exactly what preceded the damage, and goes on.
  EXPECT_EQ(UsersIn(*e, 50), 9);
  EXPECT_TRUE(e->user(UserKey(8)).ok());
  EXPECT_FALSE(e->user(UserKey(9)).ok());
  TNY_EXPECT_OK(e->verify());
  TNY_ASSERT_OK(e->create_user("after@damage.test").status());
  e.reset();
  // Now whole: the default (refusing) open recovers it, with nothing to report.
  e = OpenOrDie(Journaled(dir));
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->journal_recovery().damaged);
  EXPECT_EQ(e->journal_recovery().records, 10u);
  EXPECT_TRUE(e->user("after@damage.test").ok());
  EXPECT_EQ(UsersIn(*e, 50), 9);
}

TEST(JournalDamage, P3_TornTailIsDroppedAndReported) {
  const std::string dir = TempDirFor("torn-reported");
  ASSERT_NO_FATAL_FAILURE(JournalThenDie(dir, Durability::kNone, 20));
  const std::string seg = Segments(dir).at(0);
  std::string bytes = ReadAll(seg);
  const std::vector<size_t> records = RecordOffsets(bytes);
  bytes[records.back() + 20] ^= 0x10;  // the last record: nothing sound after it
  WriteAll(seg, bytes);
  std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir, Durability::kNone));
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->journal_recovery().damaged);
  EXPECT_GT(e->journal_recovery().torn_bytes, 0u);
  EXPECT_EQ(e->journal_recovery().records, 19u);
  EXPECT_EQ(UsersIn(*e, 20), 19);
}

TEST(JournalDamage, P3_RandomFlipsNeverDropASoundSuccessorSilently) {
  // One flipped byte anywhere in the records of a killed "none" journal:
  // refused, unless it is the last record (a torn tail) or the flushed
  // mark; cut, the engine holds exactly the records before it and the
  // report names every record after it.
  const std::string dir = TempDirFor("flips");
  constexpr int kUsers = 40;
  ASSERT_NO_FATAL_FAILURE(JournalThenDie(dir, Durability::kNone, kUsers));
  const std::string seg = Segments(dir).at(0);
  const std::string original = ReadAll(seg);
  const std::vector<size_t> records = RecordOffsets(original);
  ASSERT_EQ(records.size(), static_cast<size_t>(kUsers));
  uint32_t last_size = 0;
  std::memcpy(&last_size, original.data() + records.back(), 4);
  const size_t last_end = records.back() + ((16 + last_size + 7) & ~size_t{7});
  const size_t end = last_end + 64;  // and some of the zeros after the records
  std::mt19937_64 rng(20261207);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t at = 128 + rng() % (end - 128);
    SCOPED_TRACE(absl::StrCat("byte ", at));
    std::string damaged = original;
    damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
    // The record the byte belongs to (1-based), kUsers + 1 past the last.
    int hit = kUsers + 1;
    for (int k = kUsers; k >= 1; --k) {
      if (at >= records[k - 1]) {
        hit = at < (k < kUsers ? records[k] : last_end) ? k : kUsers + 1;
        break;
      }
    }
    WriteAll(seg, damaged);
    absl::StatusOr<std::unique_ptr<Engine>> refused = Engine::Open(Journaled(dir));
    if (hit < kUsers) {
      ASSERT_FALSE(refused.ok()) << "record " << hit;
      EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
      WriteAll(seg, damaged);
      std::unique_ptr<Engine> cut = OpenOrDie(Cutting(dir));
      ASSERT_NE(cut, nullptr);
      EXPECT_EQ(UsersIn(*cut, kUsers), hit - 1);
      EXPECT_EQ(cut->journal_recovery().kept_through_lsn, static_cast<uint64_t>(hit - 1));
      EXPECT_EQ(cut->journal_recovery().lost_through_lsn, static_cast<uint64_t>(kUsers));
      EXPECT_EQ(cut->journal_recovery().readable.size(), static_cast<size_t>(kUsers - hit));
    } else {
      // The last record, or the zeros after it: a torn tail, reported.
      ASSERT_TRUE(refused.ok()) << refused.status();
      EXPECT_GT((*refused)->journal_recovery().torn_bytes, 0u);
      EXPECT_EQ(UsersIn(**refused, kUsers), hit == kUsers ? kUsers - 1 : kUsers);
    }
    std::system(absl::StrCat("rm -rf '", dir, "'/lost-*").c_str());
  }
}

// A journal of two segments: records 1..20 in the first, 21..30 in the
// second (the state a crash leaves between a snapshot becoming durable and
// the segments it covers being deleted). Returns the two paths.
std::vector<std::string> TwoSegments(const std::string& dir) {
  std::string first_copy, first_path;
  {
    std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir));
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(e->create_user(UserKey(i)).ok());
    first_path = Segments(dir).at(0);
    first_copy = ReadAll(first_path);
    EXPECT_TRUE(SaveSnapshot(*e, dir + ".tny").ok());
    for (int i = 20; i < 30; ++i) EXPECT_TRUE(e->create_user(UserKey(i)).ok());
  }
  WriteAll(first_path, first_copy);
  std::vector<std::string> segments = Segments(dir);
  EXPECT_EQ(segments.size(), 2u);
  return segments;
}

TEST(JournalDamage, P3_DamageInAnOlderSegmentCutsTheLaterOnes) {
  const std::string dir = TempDirFor("older");
  const std::vector<std::string> segments = TwoSegments(dir);
  ASSERT_EQ(segments.size(), 2u);
  {
    std::unique_ptr<Engine> whole = OpenOrDie(Journaled(dir));  // sound: all 30
    ASSERT_NE(whole, nullptr);
    EXPECT_EQ(UsersIn(*whole, 30), 30);
  }
  std::string bytes = ReadAll(segments[0]);
  bytes[RecordOffsets(bytes).at(4) + 20] ^= 0x04;  // record 5
  WriteAll(segments[0], bytes);
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(dir)).status(), absl::StatusCode::kDataLoss,
                     "lsn 5 to 30");
  std::unique_ptr<Engine> e = OpenOrDie(Cutting(dir));
  ASSERT_NE(e, nullptr);
  const JournalRecovery& r = e->journal_recovery();
  EXPECT_EQ(r.kept_through_lsn, 4u);
  EXPECT_EQ(r.lost_through_lsn, 30u);
  EXPECT_EQ(r.readable.size(), 25u);  // 6..20 in the first, 21..30 in the second
  EXPECT_EQ(UsersIn(*e, 30), 4);
  EXPECT_EQ(Segments(dir), std::vector<std::string>{segments[0]});
  EXPECT_EQ(Segments(r.set_aside).size(), 2u);
}

TEST(JournalDamage, P3_DamagedHeaderOfALaterSegmentCutsItWhole) {
  const std::string dir = TempDirFor("later-header");
  const std::vector<std::string> segments = TwoSegments(dir);
  ASSERT_EQ(segments.size(), 2u);
  std::string bytes = ReadAll(segments[1]);
  bytes[20] ^= 0x01;
  WriteAll(segments[1], bytes);
  TNY_EXPECT_REFUSED(Engine::Open(Journaled(dir)).status(), absl::StatusCode::kDataLoss,
                     "damaged header");
  std::unique_ptr<Engine> e = OpenOrDie(Cutting(dir));
  ASSERT_NE(e, nullptr);
  const JournalRecovery& r = e->journal_recovery();
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.kept_through_lsn, 20u);
  EXPECT_EQ(r.lost_through_lsn, 30u);
  EXPECT_EQ(r.readable.size(), 10u);
  EXPECT_EQ(UsersIn(*e, 30), 20);
  // Appending goes on in the first segment, and recovers.
  TNY_ASSERT_OK(e->create_user("after@damage.test").status());
  e.reset();
  e = OpenOrDie(Journaled(dir));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->user("after@damage.test").ok());
  EXPECT_EQ(UsersIn(*e, 30), 20);
}

TEST(JournalDamage, P3_RepairChecksThenCutsAndRefusesWhatItCannotRepair) {
  const std::string dir = TempDirFor("repair");
  ASSERT_NO_FATAL_FAILURE(JournalThenDie(dir, Durability::kGroup, 30));
  const std::string seg = Segments(dir).at(0);
  std::string bytes = ReadAll(seg);
  bytes[RecordOffsets(bytes).at(9) + 24] ^= 0x40;  // record 10
  WriteAll(seg, bytes);

  // A dry run reports and writes nothing.
  TNY_ASSERT_OK_AND_ASSIGN(JournalRecovery dry, RepairJournal(dir, /*dry_run=*/true));
  EXPECT_TRUE(dry.damaged);
  EXPECT_FALSE(dry.truncated);
  EXPECT_EQ(dry.kept_through_lsn, 9u);
  EXPECT_EQ(dry.lost_through_lsn, 30u);
  EXPECT_EQ(ReadAll(seg), bytes);
  std::string out;
  EXPECT_EQ(Tool("journal check " + dir, &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "lost         lsn 10 to 30 (20 readable")) << out;
  EXPECT_TRUE(absl::StrContains(out, "lost lsn 30  change: create_user")) << out;
  EXPECT_EQ(ReadAll(seg), bytes);

  // While an engine holds the journal (this one, opened to cut, cuts it),
  // no repair.
  {
    std::unique_ptr<Engine> holder = OpenOrDie(Cutting(dir));
    ASSERT_NE(holder, nullptr);
    TNY_EXPECT_REFUSED(RepairJournal(dir, false).status(), absl::StatusCode::kFailedPrecondition,
                       "in use");
  }
  // The engine above cut it; damage it again and let the tool cut it.
  bytes = ReadAll(seg);
  const std::vector<size_t> records = RecordOffsets(bytes);
  ASSERT_EQ(records.size(), 9u);
  bytes[records.at(3) + 20] ^= 0x08;  // record 4 of the 9 kept
  WriteAll(seg, bytes);
  EXPECT_EQ(Tool("journal repair " + dir, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "cut          yes")) << out;
  EXPECT_EQ(Tool("journal check " + dir, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "damage       none")) << out;
  std::unique_ptr<Engine> e = OpenOrDie(Journaled(dir));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(UsersIn(*e, 30), 3);
  e.reset();

  // What cannot be repaired: no directory, no journal, the first header.
  TNY_EXPECT_REFUSED(RepairJournal(dir + "-missing", false).status(), absl::StatusCode::kNotFound,
                     "does not exist");
  const std::string empty = TempDirFor("repair-empty");
  ASSERT_EQ(::mkdir(empty.c_str(), 0700), 0);
  TNY_EXPECT_REFUSED(RepairJournal(empty, false).status(), absl::StatusCode::kNotFound,
                     "holds no journal");
  EXPECT_EQ(Entries(empty, "").size(), 2u);  // "." and "..": nothing left behind
  bytes = ReadAll(seg);
  bytes[20] ^= 0x01;
  WriteAll(seg, bytes);
  TNY_EXPECT_REFUSED(RepairJournal(dir, false).status(), absl::StatusCode::kDataLoss,
                     "damaged header");
  EXPECT_EQ(Tool("journal repair " + dir, &out), 1) << out;
}

TEST(JournalDamage, P3_AnOutOfRangeDamagePolicyIsInvalidArgument) {
  Engine::Options o = Journaled(TempDirFor("policy"));
  o.on_journal_damage = static_cast<OnJournalDamage>(7);
  TNY_EXPECT_REFUSED(Engine::Open(o).status(), absl::StatusCode::kInvalidArgument,
                     "on_journal_damage");
  EXPECT_STREQ(OnJournalDamageName(OnJournalDamage::kTruncate), "truncate");
}

}  // namespace
}  // namespace tenantry::test
