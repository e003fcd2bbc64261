// Copyright 2026 The tenantry Authors.
//
// A fuzz target's scratch file: the entry points under test (LoadSnapshot,
// the journal's recovery) read paths, not buffers, so each input is written
// to one file per process, made once with mkstemp and rewritten in place for
// every input (pwrite + ftruncate: no open, no rename, no directory change in
// the hot loop). It is made in $TMPDIR when set, else in /dev/shm (memory: no
// disk writes), else in /tmp. Its name is unlinked at once and the file is
// read through /proc/self/fd/<fd>, so nothing is left behind, not even by a
// crash; without /proc, the name stays and is removed at a normal exit.
#ifndef TENANTRY_TESTS_FUZZ_SCRATCH_FILE_H_
#define TENANTRY_TESTS_FUZZ_SCRATCH_FILE_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tenantry::fuzz {

// Not thread-safe: one fuzzing thread owns it (libFuzzer runs one input at a
// time in a process). Make one per process and never destroy it (a
// function-local static pointer), so that it outlives every input.
class ScratchFile {
 public:
  // `name` goes into the file's name: tenantry-<name>-fuzz-XXXXXX.
  explicit ScratchFile(const char* name) {
    std::string pattern = Directory() + "/tenantry-" + name + "-fuzz-XXXXXX";
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) Die("mkstemp", pattern);
    const std::string by_fd = "/proc/self/fd/" + std::to_string(fd_);
    if (::access(by_fd.c_str(), R_OK) == 0 && ::unlink(pattern.c_str()) == 0) {
      path_ = by_fd;
    } else {
      path_ = pattern;
      static std::string* const named = new std::string(pattern);
      std::atexit([] { ::unlink(named->c_str()); });
    }
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // The file now holds exactly `size` bytes from `data`.
  void Write(const uint8_t* data, size_t size) {
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Die("pwrite", path_);
      done += static_cast<size_t>(n);
    }
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) Die("ftruncate", path_);
  }

  // The path the file is read through.
  const std::string& path() const { return path_; }

  // A fresh path in the scratch file's directory for a file the target makes
  // itself (a loaded engine saved again), `suffix` ending its name. The
  // target removes it when done with it.
  static std::string Sibling(const char* name, const char* suffix) {
    return Directory() + "/tenantry-" + name + "-fuzz-" + std::to_string(::getpid()) + suffix;
  }

 private:
  static std::string Directory() {
    if (const char* tmpdir = std::getenv("TMPDIR"); tmpdir != nullptr && *tmpdir != '\0') {
      return tmpdir;
    }
    struct stat st {};
    if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0) {
      return "/dev/shm";
    }
    return "/tmp";
  }

  [[noreturn]] static void Die(const char* what, const std::string& path) {
    std::fprintf(stderr, "fuzz scratch file: %s '%s': %s\n", what, path.c_str(),
                 std::strerror(errno));
    std::abort();
  }

  int fd_ = -1;
  std::string path_;
};

}  // namespace tenantry::fuzz

#endif  // TENANTRY_TESTS_FUZZ_SCRATCH_FILE_H_
