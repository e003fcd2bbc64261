// Copyright 2026 The tenantry Authors.
//
// The file side of snapshots: atomic replacement (P1) and bounded reads (P2).
#include "file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tenantry/limits.h"
#include "tenantry/status.h"

namespace tenantry::internal {

const char kWriterVersion[] = "0.1.0";

std::array<uint8_t, 32> Checksum(const uint8_t* data, size_t size) {
  std::array<uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), data, size, nullptr, 0);
  return out;
}

namespace {

// The status code a failed system call's errno stands for.
absl::StatusCode CodeOfErrno(int error) {
  switch (error) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case ENOSPC:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int error = errno;
  const std::string message = absl::StrCat(what, " '", path, "': ", std::strerror(error));
  return Refusal(CodeOfErrno(error), {"P1"}, message);
}

// Closes on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status ValidatePath(const std::string& path) {
  if (path.empty()) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"P1"}, "a snapshot path must not be empty");
  }
  if (path.find('\0') != std::string::npos) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"P1"},
                   "a snapshot path must not contain a NUL byte");
  }
  if (path.size() > 4096) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"P1"},
                   absl::StrCat("a snapshot path has ", path.size(), " bytes; at most 4096"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const uint8_t* data, size_t size) {
  if (absl::Status status = ValidatePath(path); !status.ok()) return status;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"P1"},
                   absl::StrCat("'", path, "' exists and is not a regular file"));
  }
  const std::string temporary = absl::StrCat(path, ".tmp-", ::getpid());
  {
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Errno("cannot create", temporary);
    size_t written = 0;
    while (written < size) {
      const ssize_t n = ::write(fd.get(), data + written, size - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        absl::Status status = Errno("cannot write", temporary);
        ::unlink(temporary.c_str());
        return status;
      }
      written += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      absl::Status status = Errno("cannot flush", temporary);
      ::unlink(temporary.c_str());
      return status;
    }
    if (::close(fd.release()) != 0) {
      absl::Status status = Errno("cannot close", temporary);
      ::unlink(temporary.c_str());
      return status;
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    absl::Status status = Errno("cannot rename over", path);
    ::unlink(temporary.c_str());
    return status;
  }
  const std::string directory = DirectoryOf(path);
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) return Errno("cannot flush directory", directory);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(const std::string& path) {
  if (absl::Status status = ValidatePath(path); !status.ok()) return status;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Errno("cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return Refusal(absl::StatusCode::kDataLoss, {"P2"},
                   absl::StrCat("'", path, "' is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > limits::kSnapshotMaxBytes) {
    return Refusal(absl::StatusCode::kDataLoss, {"P2"},
                   absl::StrCat("'", path, "' has ", st.st_size, " bytes; a snapshot has at most ",
                                limits::kSnapshotMaxBytes));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path);
    if (n == 0) break;  // the file shrank while we read: a truncated snapshot
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace tenantry::internal
