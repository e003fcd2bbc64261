// Copyright 2026 The tenantry Authors.
//
// libFuzzer target for journal recovery (P3): Engine::Open and RepairJournal
// on a journal segment with hostile damage. The journal a real engine wrote
// (users, credits moved, consumed, held and settled: every record type) is
// made once; an input is a list of byte edits to its records, plus flags
// (clear the flushed mark, cut the file short). An input is a finding (the
// target aborts) when:
//  - opening refuses with anything but DataLoss, or opens an engine that is
//    not exactly the writer's engine after some prefix of its records, or
//    fails verify();
//  - opening succeeds although a record past the ones it kept is intact,
//    in its place, byte for byte: acknowledged changes dropped in silence
//    (the defect of issue 16, checked here against the original bytes, not
//    against the scanner's own idea of a sound record);
//  - a refusal is not damage the repair would cut, or the repair (dry run,
//    then on_journal_damage = truncate) disagrees with the refusal, reports
//    positions out of order, or cuts to anything but a prefix.
// ASan, UBSan and LeakSanitizer catch the rest.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tenantry/engine.h"
#include "tenantry/journal.h"

namespace tenantry::fuzz {
namespace {

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "journal_fuzzer: %s\n", what.c_str());
  std::abort();
}

// What an engine shows, compact: enough to tell every prefix apart.
std::string Fingerprint(const Engine& e, WorkspaceId ws) {
  std::string out = absl::StrCat(e.revision(), "|", e.stats().users, "|");
  if (auto b = e.balance(ws); b.ok()) {
    absl::StrAppend(&out, b->buckets[0], ",", b->buckets[1], ",", b->held, ",", b->consumed);
  }
  return out;
}

struct Template {
  std::string dir;              // a directory of this process's own
  std::string segment_name;     // the one segment's file name
  std::string bytes;            // the segment, cut after its records
  std::vector<size_t> records;  // each record's offset; record i has lsn i + 1
  // after[k]: the engine recovered from the first k records, undamaged.
  std::vector<std::string> after;
  WorkspaceId ws = 0;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void RemoveTree(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = dir + "/" + name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        RemoveTree(path);
      } else {
        ::unlink(path.c_str());
      }
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

// The writer: every record type (a change, a consume, a keyed consume, a
// hold, its commit).
void Write(Template* t) {
  Engine::Options o;
  o.journal = t->dir + "/j";
  o.durability = Durability::kNone;
  std::unique_ptr<Engine> e = *Engine::Open(o);
  const auto step = [](bool ok) {
    if (!ok) Finding("the template's writer was refused");
  };
  const UserId owner = *e->create_user("owner@fuzz.test");
  AccountSpec spec;
  spec.name = "Fuzz";
  spec.owner = owner;
  spec.plan = Plan::Named("enterprise");
  const AccountId account = *e->create_account(spec);
  t->ws = *e->create_workspace(kSystem, account, {"Main"});
  step(e->grant(kSystem, account, 1000).ok());
  step(e->transfer(kSystem, account, t->ws, 600).ok());
  for (int i = 0; i < 12; ++i) {
    if (i % 3 == 0) {
      step(e->consume(t->ws, 1 + i).ok());
    } else if (i % 3 == 1) {
      step(e->consume(t->ws, 2, kCredits, absl::StrCat("key-", i)).ok());
    } else {
      step(e->create_user(absl::StrCat("u", i, "@fuzz.test")).ok());
    }
  }
  const ReservationId hold = *e->reserve(t->ws, 50);
  step(e->commit(hold, 20).ok());
  step(e->create_user("last@fuzz.test").ok());
}

void WriteSegment(const Template& t, const std::string& bytes);

// What recovering the first k records, undamaged, gives, for every k.
void FingerprintPrefixes(Template* t) {
  for (size_t k = 0; k <= t->records.size(); ++k) {
    const size_t end = k < t->records.size() ? t->records[k] : t->bytes.size() - 256;
    std::string prefix = t->bytes.substr(0, end);
    prefix.resize(t->bytes.size(), '\0');
    WriteSegment(*t, prefix);
    Engine::Options o;
    o.journal = t->dir + "/j";
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Open(o);
    if (!e.ok()) Finding("a clean prefix does not open: " + e.status().ToString());
    t->after.push_back(Fingerprint(**e, t->ws));
  }
}

const Template& TheTemplate() {
  static const Template* t = [] {
    auto* made = new Template();
    // In memory when it can be (/dev/shm): every input rewrites the journal.
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = tmp != nullptr                    ? tmp
                             : ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                               : "/tmp";
    std::string pattern = base + "/tenantry-journal-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) Finding("mkdtemp failed in " + base);
    made->dir = pattern;
    // Gone at a normal exit; a finding (abort) leaves it for a look.
    static std::string made_dir = made->dir;
    std::atexit([] { RemoveTree(made_dir); });
    Write(made);
    absl::StatusOr<JournalRecovery> whole = RepairJournal(made->dir + "/j", /*dry_run=*/true);
    if (!whole.ok() || whole->damaged) Finding("the template's journal is not whole");
    const std::string seg = "seg-00000000000000000000.tnyj";
    const std::string bytes = ReadAll(made->dir + "/j/" + seg);
    size_t off = 128;
    for (;;) {
      uint32_t size = 0;
      std::memcpy(&size, bytes.data() + off, 4);
      if (size == 0) break;
      made->records.push_back(off);
      off += (16 + size + 7) & ~size_t{7};
    }
    made->segment_name = seg;
    made->bytes = bytes.substr(0, off + 256);  // the records, then zeros
    if (made->records.size() != whole->records) Finding("the template's records miscounted");
    FingerprintPrefixes(made);
    return made;
  }();
  return *t;
}

// The input, decoded: flags, then (u16 offset, u8 xor) edits.
struct Damage {
  std::string bytes;
  std::vector<bool> touched;  // per byte of `bytes`
  bool cut_short = false;
};

Damage Apply(const Template& t, const uint8_t* data, size_t size) {
  Damage d{t.bytes, std::vector<bool>(t.bytes.size(), false)};
  if (size == 0) return d;
  const uint8_t flags = data[0];
  if (flags & 1) {  // a mark no flush vouched for
    std::memset(d.bytes.data() + 116, 0, 12);
  }
  const size_t region = t.bytes.size() - 128;
  size_t i = 1;
  if ((flags & 2) && size >= 3) {  // the file cut short
    const size_t keep = 128 + (data[1] | (data[2] << 8)) % region;
    d.bytes.resize(keep);
    d.touched.assign(keep, false);
    for (size_t k = keep; k < t.bytes.size(); ++k) d.touched.push_back(true);
    d.cut_short = true;
    i = 3;
  }
  for (; i + 3 <= size; i += 3) {
    const size_t at = 128 + (data[i] | (data[i + 1] << 8)) % region;
    if (at >= d.bytes.size() || data[i + 2] == 0) continue;
    d.bytes[at] = static_cast<char>(d.bytes[at] ^ data[i + 2]);
    d.touched[at] = true;
  }
  return d;
}

// Whether record `index` (0-based) still stands untouched in its place.
bool Intact(const Template& t, const Damage& d, size_t index) {
  const size_t from = t.records[index];
  const size_t to = index + 1 < t.records.size() ? t.records[index + 1] : t.bytes.size() - 256;
  if (to > d.bytes.size()) return false;
  for (size_t k = from; k < to; ++k) {
    if (d.touched[k] && d.bytes[k] != t.bytes[k]) return false;
  }
  return true;
}

// A journal directory holding `bytes` as its one segment (and nothing else).
void WriteSegment(const Template& t, const std::string& bytes) {
  const std::string dir = t.dir + "/j";
  RemoveTree(dir);
  if (::mkdir(dir.c_str(), 0700) != 0) Finding("mkdir failed");
  std::ofstream out(dir + "/" + t.segment_name, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) Finding("cannot write the segment");
}

// An opened engine must be the writer's after some prefix of its records.
void CheckPrefix(const Template& t, const Engine& e, uint64_t kept, const char* how) {
  if (kept >= t.after.size()) Finding(absl::StrCat(how, ": kept ", kept, " records of fewer"));
  if (Fingerprint(e, t.ws) != t.after[kept]) {
    Finding(absl::StrCat(how, ": the engine is not the writer's after lsn ", kept, ": ",
                         Fingerprint(e, t.ws), " vs ", t.after[kept]));
  }
  if (absl::Status s = e.verify(); !s.ok()) Finding(absl::StrCat(how, ": verify: ", s.ToString()));
}

void Run(const uint8_t* data, size_t size) {
  const Template& t = TheTemplate();
  const Damage d = Apply(t, data, size);
  Engine::Options o;
  o.journal = t.dir + "/j";
  WriteSegment(t, d.bytes);
  absl::StatusOr<std::unique_ptr<Engine>> refused = Engine::Open(o);
  if (refused.ok()) {
    const JournalRecovery& r = (*refused)->journal_recovery();
    CheckPrefix(t, **refused, r.records, "refuse");
    for (size_t j = r.records + 1; j < t.records.size(); ++j) {
      if (Intact(t, d, j)) {
        Finding(absl::StrCat("opened keeping ", r.records, " records, but record ", j + 1,
                             " after them is intact: dropped in silence"));
      }
    }
    refused->reset();
    return;
  }
  if (refused.status().code() != absl::StatusCode::kDataLoss) {
    Finding(absl::StrCat("refused with ", refused.status().ToString()));
  }
  absl::StatusOr<JournalRecovery> dry = RepairJournal(o.journal, /*dry_run=*/true);
  if (!dry.ok()) {
    // Only a damaged first header cannot be repaired.
    if (dry.status().code() != absl::StatusCode::kDataLoss) Finding(dry.status().ToString());
    return;
  }
  if (!dry->damaged)
    Finding("refused, but the repair finds no damage: " + refused.status().ToString());
  uint64_t last = dry->kept_through_lsn;
  for (const LostRecord& lost : dry->readable) {
    if (lost.lsn <= last || lost.lsn > dry->lost_through_lsn) Finding("lost records out of order");
    last = lost.lsn;
  }
  o.on_journal_damage = OnJournalDamage::kTruncate;
  absl::StatusOr<std::unique_ptr<Engine>> cut = Engine::Open(o);
  if (!cut.ok()) Finding("the cut did not open: " + cut.status().ToString());
  const JournalRecovery& r = (*cut)->journal_recovery();
  if (!r.truncated || r.kept_through_lsn != dry->kept_through_lsn) {
    Finding("the cut disagrees with the dry run");
  }
  CheckPrefix(t, **cut, r.kept_through_lsn, "truncate");
}

}  // namespace
}  // namespace tenantry::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tenantry::fuzz::Run(data, size);
  return 0;
}
