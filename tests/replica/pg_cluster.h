// Copyright 2026 The tenantry Authors.
//
// A throwaway PostgreSQL for one test binary: scripts/pg_cluster.sh starts it
// in a temporary directory before the first test and stops it (by its PID)
// after the last, failed tests included. `cluster` is the binary's server;
// SqlSession is a plain connection to it.
#ifndef TENANTRY_TESTS_REPLICA_PG_CLUSTER_H_
#define TENANTRY_TESTS_REPLICA_PG_CLUSTER_H_

#include <libpq-fe.h>
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

// A plain libpq connection, as an application holds one (R8).
class SqlSession {
 public:
  SqlSession() : conn_(PQconnectdb(cluster->conninfo().c_str())) {}
  ~SqlSession() { PQfinish(conn_); }
  SqlSession(const SqlSession&) = delete;
  SqlSession& operator=(const SqlSession&) = delete;
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  // Runs `sql`; "" on success, else its SQLSTATE (or "error").
  std::string Exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    std::string out;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      out = state != nullptr ? state : "error";
    }
    PQclear(result);
    return out;
  }
  // The first column of the first row of `sql`.
  std::string Value(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    std::string out = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0
                          ? PQgetvalue(result, 0, 0)
                          : "<none>";
    PQclear(result);
    return out;
  }

 private:
  PGconn* conn_;
};

}  // namespace tenantry

#endif  // TENANTRY_TESTS_REPLICA_PG_CLUSTER_H_
