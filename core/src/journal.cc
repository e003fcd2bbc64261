// Copyright 2026 The tenantry Authors.
//
// The journal's files (journal.h).
//
// A segment: a 128-byte header, then records, each 8-byte aligned:
//   u32 size      bytes of type + payload (never 0: 0 marks the end)
//   u32 crc       CRC-32C of lsn, type and payload
//   u64 lsn
//   u8  type, payload, zero padding to 8
// A record is written body first and `size` last (one release store), so
// in the page cache a record is either complete or has size 0: a killed
// process leaves no torn record. A machine crash can (the kernel writes pages
// back in any order): damage past the flushed mark (below) is the tail that
// was never flushed and is dropped; damage at or below it is DataLoss.
//
// The header: magic, format, base lsn, lineage, the two keys, the base
// snapshot's checksum (bytes 0..112), their CRC-32C (112..116); then the flushed
// mark (u64 lsn, CRC-32C of it; bytes 116..128), rewritten after each
// flush: every record up to it had been flushed. Segments are created under
// a temporary name and renamed once their header is on disk.
#include "journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <nmmintrin.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "status_macros.h"
#include "tenantry/status.h"

namespace tenantry::internal {

// ---- CRC-32C ----

namespace {

struct Crc32cTable {
  uint32_t t[256];
  Crc32cTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
      t[i] = c;
    }
  }
};

__attribute__((target("sse4.2"))) uint32_t Crc32cHw(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}

uint32_t Crc32cSw(const uint8_t* p, size_t n, uint32_t crc) {
  static const Crc32cTable table;
  uint32_t c = ~crc;
  for (; n > 0; --n, ++p) c = table.t[(c ^ *p) & 0xFF] ^ (c >> 8);
  return ~c;
}

}  // namespace

uint32_t Crc32c(const void* data, size_t size, uint32_t crc) {
  static const bool hw = __builtin_cpu_supports("sse4.2");
  const auto* p = static_cast<const uint8_t*>(data);
  return hw ? Crc32cHw(p, size, crc) : Crc32cSw(p, size, crc);
}

// ---- Segments ----

namespace {

constexpr char kMagic[4] = {'T', 'N', 'Y', 'J'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = 128;
constexpr size_t kHeaderCrcAt = 112;
constexpr size_t kMarkAt = 116;
constexpr size_t kRecordHeader = 16;
constexpr size_t kMinGrow = size_t{1} << 20;
constexpr size_t kMaxGrow = size_t{64} << 20;
// A record's body is at most this (a batch of changes is limited by
// limits::kMaxBatchChanges, and each change by its arguments' limits).
constexpr size_t kMaxRecordBytes = size_t{1} << 30;

size_t Padded(size_t n) { return (n + 7) & ~size_t{7}; }

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int e = errno;
  const std::string text = absl::StrCat("journal: ", what, " '", path, "': ", std::strerror(e));
  absl::StatusCode code = absl::StatusCode::kInternal;
  if (e == ENOSPC || e == EDQUOT) {
    code = absl::StatusCode::kResourceExhausted;
  } else if (e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS) {
    code = absl::StatusCode::kFailedPrecondition;
  }
  return Refusal(code, {"P3"}, text);
}

std::string SegmentName(uint64_t base) { return absl::StrFormat("seg-%020u.tnyj", base); }

bool ParseSegmentName(const char* name, uint64_t* base) {
  const size_t n = std::strlen(name);
  if (n != 4 + 20 + 5 || std::strncmp(name, "seg-", 4) != 0 ||
      std::strcmp(name + 24, ".tnyj") != 0) {
    return false;
  }
  uint64_t v = 0;
  for (int i = 4; i < 24; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, name[i] - '0', &v)) {
      return false;
    }
  }
  *base = v;
  return true;
}

void EncodeHeader(uint64_t base, const JournalIdentity& id, char out[kHeaderBytes]) {
  std::memset(out, 0, kHeaderBytes);
  std::memcpy(out, kMagic, 4);
  std::memcpy(out + 4, &kFormat, 4);
  std::memcpy(out + 8, &base, 8);
  std::memcpy(out + 16, id.lineage.data(), 16);
  std::memcpy(out + 32, id.token_key.data(), 32);
  std::memcpy(out + 64, id.key_hash_key.data(), 16);
  std::memcpy(out + 80, id.base_snapshot.data(), 32);
  const uint32_t crc = Crc32c(out, kHeaderCrcAt);
  std::memcpy(out + kHeaderCrcAt, &crc, 4);
}

// The flushed mark: the lsn and its checksum.
void EncodeMark(uint64_t lsn, char out[12]) {
  std::memcpy(out, &lsn, 8);
  const uint32_t crc = Crc32c(&lsn, 8);
  std::memcpy(out + 8, &crc, 4);
}
uint64_t DecodeMark(const char* header) {
  uint64_t lsn = 0;
  uint32_t crc = 0;
  std::memcpy(&lsn, header + kMarkAt, 8);
  std::memcpy(&crc, header + kMarkAt + 8, 4);
  return crc == Crc32c(&lsn, 8) ? lsn : 0;  // a torn mark vouches for nothing
}

absl::Status DecodeHeader(const std::string& path, const char* in, size_t size, uint64_t base,
                          JournalIdentity* id) {
  if (size < kHeaderBytes) {
    return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                   absl::StrCat("journal: segment '", path, "' is shorter than its header"));
  }
  uint32_t crc = 0, format = 0;
  uint64_t stored_base = 0;
  std::memcpy(&crc, in + kHeaderCrcAt, 4);
  std::memcpy(&format, in + 4, 4);
  std::memcpy(&stored_base, in + 8, 8);
  if (std::memcmp(in, kMagic, 4) != 0 || crc != Crc32c(in, kHeaderCrcAt)) {
    return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                   absl::StrCat("journal: segment '", path, "' has a damaged header"));
  }
  if (format != kFormat) {
    return Refusal(absl::StatusCode::kDataLoss, {"P3", "P4"},
                   absl::StrCat("journal: segment '", path, "' has format ", format,
                                "; this reader knows ", kFormat));
  }
  if (stored_base != base) {
    return Refusal(absl::StatusCode::kDataLoss, {"P3"},
                   absl::StrCat("journal: segment '", path, "' says it starts after lsn ",
                                stored_base, ", its name says ", base));
  }
  std::memcpy(id->lineage.data(), in + 16, 16);
  std::memcpy(id->token_key.data(), in + 32, 32);
  std::memcpy(id->key_hash_key.data(), in + 64, 16);
  std::memcpy(id->base_snapshot.data(), in + 80, 32);
  return absl::OkStatus();
}

// The record at `off` if it is complete and sound (and its lsn `want`,
// unless want is 0).
bool ReadRecord(const char* data, size_t size, size_t off, uint64_t want, JournalRecord* out,
                size_t* next) {
  if (size - off < kRecordHeader) return false;
  uint32_t body = 0, crc = 0;
  uint64_t lsn = 0;
  std::memcpy(&body, data + off, 4);
  std::memcpy(&crc, data + off + 4, 4);
  std::memcpy(&lsn, data + off + 8, 8);
  if (body == 0 || body > kMaxRecordBytes || body > size - off - kRecordHeader) return false;
  if (want != 0 && lsn != want) return false;
  if (Crc32c(data + off + kRecordHeader, body, Crc32c(&lsn, 8)) != crc) return false;
  // The padding is zeros too: a damaged byte anywhere is found.
  const size_t end = off + Padded(kRecordHeader + body);
  if (end > size) return false;
  for (size_t k = off + kRecordHeader + body; k < end; ++k) {
    if (data[k] != 0) return false;
  }
  if (out != nullptr) {
    out->lsn = lsn;
    out->type = static_cast<uint8_t>(data[off + kRecordHeader]);
    out->payload.assign(data + off + kRecordHeader + 1, body - 1);
  }
  *next = off + Padded(kRecordHeader + body);
  return true;
}

// A segment mapped read-only (nothing is copied, so a huge or sparse file
// costs address space, not memory).
class Mapped {
 public:
  static absl::StatusOr<Mapped> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const absl::Status s = Errno("cannot stat", path);
      ::close(fd);
      return s;
    }
    Mapped m;
    m.size_ = static_cast<size_t>(st.st_size);
    if (m.size_ > 0) {
      void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const absl::Status s = Errno("cannot map", path);
        ::close(fd);
        return s;
      }
      m.data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return m;
  }
  Mapped() = default;
  Mapped(Mapped&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(o.size_) {}
  Mapped& operator=(Mapped&&) = delete;
  ~Mapped() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory", dir);
  const int rc = ::fsync(fd);
  const absl::Status s = rc == 0 ? absl::OkStatus() : Errno("cannot flush directory", dir);
  ::close(fd);
  return s;
}

absl::StatusOr<std::vector<uint64_t>> ListSegments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Errno("cannot list", dir);
  std::vector<uint64_t> bases;
  while (const dirent* e = ::readdir(d)) {
    uint64_t base = 0;
    if (ParseSegmentName(e->d_name, &base)) bases.push_back(base);
  }
  ::closedir(d);
  std::sort(bases.begin(), bases.end());
  return bases;
}

}  // namespace

Journal::Journal(std::string dir, int lock_fd, Durability durability, int64_t group_commit_ms)
    : dir_(std::move(dir)),
      lock_fd_(lock_fd),
      durability_(durability),
      group_commit_ms_(group_commit_ms) {}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& dir,
                                                       Durability durability,
                                                       int64_t group_commit_ms, bool create) {
  if (dir.empty() || dir.size() > 4096 || dir.find('\0') != std::string::npos) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"P3"},
                   "journal: the path must be 1 to 4096 bytes without NUL");
  }
  if (!create) {
    // It must exist; the checks below tell a file from a directory.
    if (::access(dir.c_str(), F_OK) != 0) {
      return Refusal(absl::StatusCode::kNotFound, {"P3"},
                     absl::StrCat("journal: '", dir, "' does not exist"));
    }
  } else if (::mkdir(dir.c_str(), 0700) == 0) {
    // The new directory's entry is on disk before anything relies on it.
    const size_t slash = dir.find_last_of('/');
    const std::string parent =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
    TNY_RETURN_IF_ERROR(SyncDir(parent));
  } else if (errno != EEXIST) {
    return Errno("cannot create", dir);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Errno("cannot stat", dir);
  if (!S_ISDIR(st.st_mode)) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"P3"},
        absl::StrCat("journal: '", dir, "' is not a directory; a journal is a directory"));
  }
  const std::string lock_path = dir + "/LOCK";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Errno("cannot open", lock_path);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return Refusal(
        absl::StatusCode::kFailedPrecondition, {"P3"},
        absl::StrCat("journal: '", dir, "' is in use by another engine (one engine per journal)"));
  }
  return std::unique_ptr<Journal>(new Journal(dir, lock_fd, durability, group_commit_ms));
}

Journal::~Journal() {
  if (forked_) {
    // A forked child: the flusher is the parent's thread (joining it would
    // wait forever), the flock and the files are the parent's, and a flush
    // or a flushed mark written from here could contradict the parent's.
    // Only this process's own mapping and descriptors are let go. The
    // thread handle is parked in storage that is never destroyed. The
    // flusher may have been waiting on stop_cv_ at the fork: its waiter
    // count never drops here, and destroying it would wait forever, so a
    // fresh one takes its place (no thread of this process uses it).
    if (flusher_.joinable()) {
      alignas(std::thread) static unsigned char parked[sizeof(std::thread)];
      new (parked) std::thread(std::move(flusher_));
      new (&stop_cv_) std::condition_variable();
    }
    CloseSegment();
    ::close(lock_fd_);
    return;
  }
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      stop_ = true;
    }
    stop_cv_.notify_all();
    flusher_.join();
  }
  // A clean close flushes whatever the policy: nothing is left to chance.
  (void)Flush();
  CloseSegment();
  ::close(lock_fd_);  // releases the flock
}

uint64_t JournalScan::LostThrough() const {
  if (!damaged) return 0;
  uint64_t lost = std::max(last_lsn + 1, damage_flushed);
  if (!past_damage.empty()) lost = std::max(lost, past_damage.back().lsn);
  // A later segment starts after its base: every position up to it existed.
  if (!later_bases.empty()) lost = std::max(lost, later_bases.back());
  return lost;
}

namespace {

// The sound records in data[from, end) whose lsns follow `after`, looked for
// at every 8-byte boundary (records are aligned so): the scan past damage.
// A candidate's lsn may run ahead of the last one found by no more records
// than fit in between (24 bytes at least each), so the chance of taking
// stray bytes for a record is that of a CRC-32C match on a plausible lsn.
void SoundRecordsPast(const char* data, size_t size, size_t from, size_t end, uint64_t after,
                      std::vector<JournalRecord>* out) {
  uint64_t last = out->empty() ? after : std::max(after, out->back().lsn);
  size_t since = from;
  for (size_t off = from; off < end && size - off >= kRecordHeader; off += 8) {
    uint64_t lsn = 0;
    std::memcpy(&lsn, data + off + 8, 8);
    if (lsn <= last || lsn - last > (off - since) / 24 + 1) continue;
    JournalRecord record;
    size_t next = 0;
    if (!ReadRecord(data, size, off, lsn, &record, &next)) continue;
    last = lsn;
    out->push_back(std::move(record));
    since = next;
    off = next - 8;
  }
}

// The offset past the last non-zero byte of data[from, size) (from if none).
size_t EndOfNonZero(const char* data, size_t size, size_t from) {
  for (size_t k = size; k > from; --k) {
    if (data[k - 1] != 0) return k;
  }
  return from;
}

// Reads one segment's records into `scan`. Returns the offset past the last
// sound one.
size_t ReadRecords(const char* data, size_t size, uint64_t after_lsn, JournalScan* scan) {
  size_t off = kHeaderBytes;
  for (;;) {
    JournalRecord record;
    size_t next = 0;
    const bool wanted = scan->last_lsn + 1 > after_lsn;
    if (!ReadRecord(data, size, off, scan->last_lsn + 1, wanted ? &record : nullptr, &next)) {
      return off;
    }
    assert(next > off && next % 8 == 0);
    ++scan->last_lsn;
    ++scan->records_read;
    if (wanted) scan->records.push_back(std::move(record));
    off = next;
  }
}

void MarkDamage(JournalScan* scan, const std::string& path, uint64_t base, size_t offset,
                uint64_t flushed, std::string reason) {
  scan->damaged = true;
  scan->damage_reason = std::move(reason);
  scan->damage_segment = path;
  scan->damage_base = base;
  scan->damage_offset = offset;
  scan->damage_flushed = flushed;
}

// The sound records of the segments from `first` on (their bases listed
// for the cut); `first_data` is segment `first` already mapped, or empty.
void CollectPastDamage(const std::string& dir, const std::vector<uint64_t>& bases, size_t first,
                       const Mapped& first_data, JournalScan* scan) {
  const auto past = [&](const Mapped& data, uint64_t base) {
    if (data.size() <= kHeaderBytes) return;
    const size_t end = EndOfNonZero(data.data(), data.size(), kHeaderBytes);
    SoundRecordsPast(data.data(), data.size(), kHeaderBytes, end, std::max(base, scan->last_lsn),
                     &scan->past_damage);
  };
  for (size_t j = first; j < bases.size(); ++j) {
    scan->later_bases.push_back(bases[j]);
    if (j == first && first_data.data() != nullptr) {
      past(first_data, bases[j]);
      continue;
    }
    // An unreadable segment: its positions count as lost all the same.
    const absl::StatusOr<Mapped> data = Mapped::Open(dir + "/" + SegmentName(bases[j]));
    if (data.ok()) past(*data, bases[j]);
  }
}

}  // namespace

absl::StatusOr<JournalScan> Journal::Scan(uint64_t after_lsn) const {
  JournalScan scan;
  TNY_ASSIGN_OR_RETURN(const std::vector<uint64_t> bases, ListSegments(dir_));
  for (size_t i = 0; i < bases.size(); ++i) {
    const uint64_t base = bases[i];
    const std::string path = dir_ + "/" + SegmentName(base);
    TNY_ASSIGN_OR_RETURN(const Mapped data, Mapped::Open(path));
    JournalIdentity id;
    const absl::Status header = DecodeHeader(path, data.data(), data.size(), base, &id);
    // The first segment's header is the engine's identity: without it
    // nothing can be kept.
    if (scan.empty && !header.ok()) return header;
    std::string reason;
    if (!header.ok()) {
      reason = std::string(header.message());
    } else if (!scan.empty && id.lineage != scan.identity.lineage) {
      reason = "it belongs to another engine (lineage)";
    } else if (!scan.empty && base != scan.last_lsn) {
      reason = absl::StrCat("it starts after lsn ", base, " but the segment before it ends at ",
                            scan.last_lsn, ": records are missing");
    }
    if (!reason.empty()) {
      MarkDamage(&scan, path, base, 0, 0, std::move(reason));
      CollectPastDamage(dir_, bases, i, data, &scan);
      return scan;
    }
    if (scan.empty) {
      scan.identity = id;
      scan.first_base = base;
      scan.last_lsn = base;
      scan.empty = false;
    }
    const size_t off = ReadRecords(data.data(), data.size(), after_lsn, &scan);
    scan.tail_base = base;
    scan.tail_offset = off;
    // The end of the records. Zeros from here on: a clean end. A torn tail
    // is damage with nothing sound after it, in the newest segment (older
    // ones were flushed whole before the next began), past its flushed
    // mark (a flush vouched for nothing there): a crash cut it short, and
    // it is dropped. Anything else is damage.
    const size_t end = EndOfNonZero(data.data(), data.size(), off);
    if (end == off) continue;
    const bool newest = i + 1 == bases.size();
    const uint64_t flushed = DecodeMark(data.data());
    std::vector<JournalRecord> past;
    SoundRecordsPast(data.data(), data.size(), off, end, scan.last_lsn, &past);
    if (newest && past.empty() && scan.last_lsn >= flushed) {
      scan.torn_bytes = end - off;
      continue;
    }
    MarkDamage(&scan, path, base, off, flushed,
               !past.empty() ? "a damaged record followed by sound ones"
               : !newest     ? "damage in a segment that is not the newest"
                             : absl::StrCat("damage below its flushed mark (lsn ", flushed, ")"));
    scan.past_damage = std::move(past);
    CollectPastDamage(dir_, bases, i + 1, Mapped(), &scan);
    return scan;
  }
  return scan;
}

absl::Status Journal::OpenSegment(uint64_t base_lsn, bool create, uint64_t append_at) {
  const std::string path = dir_ + "/" + SegmentName(base_lsn);
  if (create) {
    // Made whole under a temporary name (header written and flushed), then
    // renamed: a crash never leaves a segment without its header.
    const std::string temp = path + ".tmp";
    ::unlink(temp.c_str());
    const int fd = ::open(temp.c_str(), O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return Errno("cannot create", temp);
    char header[kHeaderBytes];
    EncodeHeader(base_lsn, identity_, header);
    absl::Status s;
    if (::pwrite(fd, header, kHeaderBytes, 0) != static_cast<ssize_t>(kHeaderBytes)) {
      s = Errno("cannot write", temp);
    } else if (const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(kMinGrow)); rc != 0) {
      errno = rc;
      s = Errno("cannot grow", temp);
    } else if (::fdatasync(fd) != 0) {
      s = Errno("cannot flush", temp);
    } else if (::rename(temp.c_str(), path.c_str()) != 0) {
      s = Errno("cannot rename", temp);
    }
    ::close(fd);
    if (!s.ok()) {
      ::unlink(temp.c_str());
      return s;
    }
    if (absl::Status synced = SyncDir(dir_); !synced.ok()) {
      ::unlink(path.c_str());
      return synced;
    }
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const absl::Status s = Errno("cannot stat", path);
    ::close(fd);
    return s;
  }
  fd_ = fd;
  base_lsn_ = base_lsn;
  mapped_ = 0;
  map_ = nullptr;
  offset_ = create ? kHeaderBytes : append_at;
  const size_t size = std::max<size_t>(static_cast<size_t>(st.st_size), kMinGrow);
  if (absl::Status s = Grow(size); !s.ok()) {
    CloseSegment();
    if (create) {
      ::unlink(path.c_str());
      (void)SyncDir(dir_);
    }
    return s;
  }
  if (!create) {
    // A torn tail is overwritten: clear it, so that a shorter record
    // written over it is not followed by its leftovers.
    std::memset(map_ + offset_, 0, mapped_ - offset_);
  }
  std::lock_guard<std::mutex> lock(flush_mu_);
  flush_fd_ = fd_;
  return absl::OkStatus();
}

absl::Status Journal::Grow(size_t need) {
  if (need <= mapped_) return absl::OkStatus();
  const size_t step = std::clamp(mapped_, kMinGrow, kMaxGrow);
  const size_t size = std::max(need, mapped_ + step);
  const std::string path = dir_ + "/" + SegmentName(base_lsn_);
  // Real blocks, not a sparse file: a full disk shows here, as an error
  // before the change, not as SIGBUS when a page is written back.
  if (const int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size)); rc != 0) {
    errno = rc;
    return Errno("cannot grow", path);
  }
  void* map = map_ == nullptr ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0)
                              : ::mremap(map_, mapped_, size, MREMAP_MAYMOVE);
  if (map == MAP_FAILED) return Errno("cannot map", path);
  map_ = static_cast<char*>(map);
  mapped_ = size;
  return absl::OkStatus();
}

void Journal::CloseSegment() {
  if (map_ != nullptr) ::munmap(map_, mapped_);
  map_ = nullptr;
  mapped_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status Journal::Start(const JournalScan& scan, const JournalIdentity& identity,
                            uint64_t base_lsn) {
  if (scan.empty) {
    identity_ = identity;
    TNY_RETURN_IF_ERROR(OpenSegment(base_lsn, true, 0));
    last_lsn_.store(base_lsn, std::memory_order_release);
  } else {
    identity_ = scan.identity;
    TNY_RETURN_IF_ERROR(OpenSegment(scan.tail_base, false, scan.tail_offset));
    last_lsn_.store(scan.last_lsn, std::memory_order_release);
    if (scan.torn_bytes > 0) {
      if (::fdatasync(fd_) != 0) return Errno("cannot flush", dir_);
    }
  }
  durable_lsn_.store(last_lsn_.load(), std::memory_order_release);
  if (durability_ == Durability::kGroup) flusher_ = std::thread([this] { Flusher(); });
  return absl::OkStatus();
}

absl::Status Journal::ForkedChild() const {
  return Refusal(
      absl::StatusCode::kFailedPrecondition, {"P3"},
      absl::StrCat("journal: this process is a fork of the one that journals into '", dir_,
                   "'; the journal's files belong to the parent, so a forked child may read the "
                   "engine but not change it, consume, reserve or save"));
}

absl::Status Journal::Reserve(size_t payload_bytes) {
  // First: in a child the flush mutex may have been held by the parent's
  // flusher at the fork.
  if (forked_) return ForkedChild();
  if (failed_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(flush_mu_);
    return FailedFlush();
  }
  const size_t need = offset_ + Padded(kRecordHeader + 1 + payload_bytes);
  if (payload_bytes + 1 > kMaxRecordBytes) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"P3"},
        absl::StrCat("journal: a change of ", payload_bytes, " bytes is past the record limit"));
  }
  return Grow(need);
}

uint64_t Journal::Append(uint8_t type, absl::string_view payload) {
  const uint64_t lsn = last_lsn_.load(std::memory_order_relaxed) + 1;
  const auto body = static_cast<uint32_t>(1 + payload.size());
  // Paired with Reserve: the room for this record was made before the
  // change ran (nothing may fail here).
  assert(body <= kMaxRecordBytes && offset_ + Padded(kRecordHeader + body) <= mapped_);
  char* p = map_ + offset_;
  std::memcpy(p + 8, &lsn, 8);
  p[kRecordHeader] = static_cast<char>(type);
  std::memcpy(p + kRecordHeader + 1, payload.data(), payload.size());
  uint32_t crc = Crc32c(&lsn, 8);
  crc = Crc32c(p + kRecordHeader, body, crc);
  std::memcpy(p + 4, &crc, 4);
  // The size last: until it is stored the record reads as the end.
  __atomic_store_n(reinterpret_cast<uint32_t*>(p), body, __ATOMIC_RELEASE);
#ifndef NDEBUG
  // Paired with Scan: what was written reads back, through the very function
  // recovery uses, as this record and nothing else.
  {
    JournalRecord back;
    size_t next = 0;
    assert(ReadRecord(map_, mapped_, offset_, lsn, &back, &next));
    assert(back.type == type && back.payload == payload);
    assert(next == offset_ + Padded(kRecordHeader + body));
  }
#endif
  offset_ += Padded(kRecordHeader + body);
  last_lsn_.store(lsn, std::memory_order_release);
  return lsn;
}

absl::Status Journal::Flush() { return FlushThrough(UINT64_MAX); }

absl::Status Journal::FlushThrough(uint64_t lsn) {
  if (forked_) return ForkedChild();
  std::lock_guard<std::mutex> lock(flush_mu_);
  const uint64_t target = last_lsn_.load(std::memory_order_acquire);
  // A caller that waited for the lock while another flush covered its
  // record is done: N waiting callers share one flush (group commit).
  const uint64_t durable = durable_lsn_.load(std::memory_order_acquire);
  if (durable >= std::min(lsn, target) || flush_fd_ < 0) return absl::OkStatus();
  if (failed_.load(std::memory_order_acquire)) return FailedFlush();
  if (::fdatasync(flush_fd_) != 0) {
    // After a failed fdatasync the kernel may have dropped the dirty pages:
    // a later flush that succeeds would vouch for data that is gone. So the
    // journal takes no more changes (Reserve refuses them) until reopened.
    return MarkFailed(Errno("cannot flush", dir_));
  }
  durable_lsn_.store(target, std::memory_order_release);
  // The flushed mark: on disk with the next flush; recovery treats damage
  // past it as a tail cut short, and damage below it as DataLoss.
  char mark[12];
  EncodeMark(target, mark);
  (void)::pwrite(flush_fd_, mark, sizeof mark, kMarkAt);
  return absl::OkStatus();
}

absl::Status Journal::MarkFailed(absl::Status status) {
  failed_.store(true, std::memory_order_release);
  failure_ = std::string(status.message());
  return status;
}

absl::Status Journal::FailedFlush() const {
  return Refusal(
      absl::StatusCode::kInternal, {"P3"},
      absl::StrCat("journal: a flush failed earlier (", failure_,
                   "); it takes no more changes: reopen the engine from its snapshot and journal"));
}

absl::Status Journal::Acknowledge(uint64_t lsn) {
  if (durability_ != Durability::kSync) return absl::OkStatus();
  if (durable_lsn_.load(std::memory_order_acquire) >= lsn) return absl::OkStatus();
  // Whoever flushes first flushes for everyone appended so far (group
  // commit): waiters behind it find their record already durable.
  return FlushThrough(lsn);
}

void Journal::Flusher() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(group_commit_ms_));
    lock.unlock();
    (void)Flush();  // a failed flush is retried next round
    lock.lock();
  }
}

absl::StatusOr<uint64_t> Journal::Rotate() {
  if (forked_) return ForkedChild();
  const uint64_t lsn = last_lsn_.load(std::memory_order_relaxed);
  if (lsn == base_lsn_) return lsn;  // the current segment is already empty
  // Everything in the old segment is flushed before the new one exists, so
  // that the chain of segments never has a hole after a machine crash.
  {
    std::lock_guard<std::mutex> lock(flush_mu_);
    if (::fdatasync(fd_) != 0) return MarkFailed(Errno("cannot flush", dir_));
    durable_lsn_.store(lsn, std::memory_order_release);
    flush_fd_ = -1;
  }
  const int old_fd = fd_;
  char* old_map = map_;
  const size_t old_mapped = mapped_;
  const uint64_t old_base = base_lsn_;
  const size_t old_offset = offset_;
  JournalIdentity next = identity_;
  next.base_snapshot = {};
  const JournalIdentity previous = identity_;
  identity_ = next;
  if (absl::Status s = OpenSegment(lsn, true, 0); !s.ok()) {
    // Keep appending to the old segment.
    identity_ = previous;
    fd_ = old_fd;
    map_ = old_map;
    mapped_ = old_mapped;
    base_lsn_ = old_base;
    offset_ = old_offset;
    std::lock_guard<std::mutex> lock(flush_mu_);
    flush_fd_ = fd_;
    return s;
  }
  ::munmap(old_map, old_mapped);
  ::close(old_fd);
  return lsn;
}

absl::Status Journal::DropThrough(uint64_t lsn) {
  if (forked_) return ForkedChild();
  TNY_ASSIGN_OR_RETURN(std::vector<uint64_t> bases, ListSegments(dir_));
  bool dropped = false;
  for (size_t i = 0; i + 1 < bases.size(); ++i) {
    // Segment i holds (bases[i], bases[i+1]].
    if (bases[i + 1] > lsn || bases[i] == base_lsn_) break;
    const std::string path = dir_ + "/" + SegmentName(bases[i]);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete", path);
    dropped = true;
  }
  return dropped ? SyncDir(dir_) : absl::OkStatus();
}

namespace {

// A flushed copy of `from` at `to` (a new file, 0600).
absl::Status CopyFile(const std::string& from, const std::string& to) {
  TNY_ASSIGN_OR_RETURN(const Mapped data, Mapped::Open(from));
  const int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", to);
  absl::Status s;
  for (size_t done = 0; done < data.size() && s.ok();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      s = Errno("cannot write", to);
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (s.ok() && ::fdatasync(fd) != 0) s = Errno("cannot flush", to);
  ::close(fd);
  return s;
}

// Zeroes a segment from `offset` to its end and sets its flushed mark to
// `kept_lsn` (true once the flush below returns), then flushes it.
absl::Status ZeroFrom(const std::string& path, size_t offset, uint64_t kept_lsn) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st {};
  absl::Status s;
  if (::fstat(fd, &st) != 0) s = Errno("cannot stat", path);
  static const char kZeros[1 << 16] = {};
  const auto size = static_cast<size_t>(st.st_size);
  for (size_t at = offset; s.ok() && at < size;) {
    const size_t n = std::min(sizeof kZeros, size - at);
    if (::pwrite(fd, kZeros, n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
      s = Errno("cannot write", path);
    }
    at += n;
  }
  char mark[12];
  EncodeMark(kept_lsn, mark);
  if (s.ok() && ::pwrite(fd, mark, sizeof mark, kMarkAt) != static_cast<ssize_t>(sizeof mark)) {
    s = Errno("cannot write", path);
  }
  if (s.ok() && ::fdatasync(fd) != 0) s = Errno("cannot flush", path);
  ::close(fd);
  return s;
}

}  // namespace

absl::StatusOr<std::string> Journal::CutAtDamage(JournalScan* scan) {
  assert(scan->damaged && !scan->empty);
  if (forked_) return ForkedChild();
  // What is cut is kept first, flushed, so that a crash at any step leaves
  // a journal that is still damaged (and is cut again) or already cut.
  const uint64_t first_lost = scan->last_lsn + 1;
  std::string aside = absl::StrCat(dir_, "/lost-", first_lost);
  for (int n = 2; ::mkdir(aside.c_str(), 0700) != 0; ++n) {
    if (errno != EEXIST || n > 1000) return Errno("cannot create", aside);
    aside = absl::StrCat(dir_, "/lost-", first_lost, ".", n);
  }
  if (scan->damage_offset > 0) {
    TNY_RETURN_IF_ERROR(
        CopyFile(scan->damage_segment, aside + "/" + SegmentName(scan->damage_base)));
  }
  for (const uint64_t base : scan->later_bases) {
    const std::string from = dir_ + "/" + SegmentName(base);
    if (::rename(from.c_str(), (aside + "/" + SegmentName(base)).c_str()) != 0) {
      return Errno("cannot move aside", from);
    }
  }
  TNY_RETURN_IF_ERROR(SyncDir(aside));
  TNY_RETURN_IF_ERROR(SyncDir(dir_));
  if (scan->damage_offset > 0) {
    TNY_RETURN_IF_ERROR(ZeroFrom(scan->damage_segment, scan->damage_offset, scan->last_lsn));
  }
  // The journal as it now is: the records before the damage, then zeros.
  scan->damaged = false;
  scan->past_damage.clear();
  scan->later_bases.clear();
  scan->torn_bytes = 0;
  return aside;
}

}  // namespace tenantry::internal
