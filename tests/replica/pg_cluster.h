// Copyright 2026 The tenantry Authors.
//
// A throwaway PostgreSQL for one test binary: scripts/pg_cluster.sh starts it
// in a temporary directory before the first test and stops it (by its PID)
// after the last, failed tests included. `cluster` is the binary's server.
#ifndef TENANTRY_TESTS_REPLICA_PG_CLUSTER_H_
#define TENANTRY_TESTS_REPLICA_PG_CLUSTER_H_

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tenantry {

// Runs `scripts/pg_cluster.sh command dir`; its stdout, or "" if it failed.
inline std::string RunClusterScript(const std::string& command, const std::string& dir) {
  const std::string line =
      absl::StrCat("bash '", TENANTRY_PG_CLUSTER, "' ", command, " '", dir, "'");
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  const int status = pclose(pipe);
  if (status != 0) return "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.empty() ? "stopped" : out;
}

// The server, once for the binary: started before the first test, stopped
// after the last one, failed tests included.
class PgCluster : public ::testing::Environment {
 public:
  void SetUp() override {
    char pattern[] = "/tmp/tenantry-pg-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    conninfo_ = RunClusterScript("start", dir_);
    ASSERT_FALSE(conninfo_.empty()) << "scripts/pg_cluster.sh start " << dir_ << " failed";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    EXPECT_FALSE(RunClusterScript("stop", dir_).empty());
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  bool Stop() { return !RunClusterScript("stop", dir_).empty(); }
  bool Start() { return RunClusterScript("start", dir_) == conninfo_; }
  const std::string& conninfo() const { return conninfo_; }
  // The directory the server lives in (DIR/postmaster.pid holds its PID).
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string conninfo_;
};

inline PgCluster* const cluster =
    static_cast<PgCluster*>(::testing::AddGlobalTestEnvironment(new PgCluster));

}  // namespace tenantry

#endif  // TENANTRY_TESTS_REPLICA_PG_CLUSTER_H_
