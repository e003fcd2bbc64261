// Copyright 2026 The tenantry Authors.
//
// The log's storage layer in PostgreSQL (R1, core/src/pg_log.h), against a
// throwaway server that scripts/pg_cluster.sh starts in a temporary
// directory once for this binary and stops at its end. Every test works in
// a schema of its own.
#include "pg_log.h"

#include <libpq-fe.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"
#include "tenantry/status.h"
#include "test_util.h"

namespace tenantry {
namespace {

using ::testing::HasSubstr;

std::string SchemaOfTest() {
  return absl::StrCat("t_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

// The test's schema as SQL names it (the names have capitals).
std::string Quoted(const std::string& schema) { return absl::StrCat("\"", schema, "\""); }

std::unique_ptr<PgLog> OpenLog(const std::string& schema, const PgLogOptions& options = {}) {
  auto log = PgLog::Open(cluster->conninfo(), schema, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

// Appends `count` records after the head; their change ids are prefix + i.
void AppendMany(PgLog& log, int count, const std::string& prefix = "c") {
  auto head = log.Head();
  ASSERT_TRUE(head.ok()) << head.status();
  for (int i = 0; i < count; ++i) {
    auto position = log.Append(*head + i, absl::StrCat(prefix, *head + i + 1),
                               absl::StrCat("payload ", *head + i + 1), 1);
    ASSERT_TRUE(position.ok()) << position.status();
    ASSERT_EQ(*position, *head + i + 1);
  }
}

TEST(PgLog, CreatesItsSchemaOnFirstUseAndOpensItAgain) {
  const std::string schema = SchemaOfTest();
  auto log = OpenLog(schema);
  ASSERT_NE(log, nullptr);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t head, log->Head());
  EXPECT_EQ(head, 0);
  SqlSession sql;
  ASSERT_TRUE(sql.ok());
  EXPECT_EQ(sql.Value(absl::StrCat("SELECT schema_version FROM ", Quoted(schema), ".meta")),
            absl::StrCat(kPgLogSchemaVersion));
  EXPECT_EQ(
      sql.Value(absl::StrCat("SELECT count(*) FROM pg_tables WHERE schemaname = '", schema, "'")),
      "4");
  AppendMany(*log, 3);
  auto again = OpenLog(schema);
  ASSERT_NE(again, nullptr);
  TNY_ASSERT_OK_AND_ASSIGN(head, again->Head());
  EXPECT_EQ(head, 3);
}

TEST(PgLog, RefusesASchemaOfANewerVersion) {
  const std::string schema = SchemaOfTest();
  ASSERT_NE(OpenLog(schema), nullptr);
  SqlSession sql;
  ASSERT_EQ(sql.Exec(absl::StrCat("UPDATE ", Quoted(schema),
                                  ".meta SET schema_version = ", kPgLogSchemaVersion + 1)),
            "");
  auto log = PgLog::Open(cluster->conninfo(), schema);
  TNY_EXPECT_REFUSED(log.status(), absl::StatusCode::kFailedPrecondition, "(R1)");
  EXPECT_THAT(log.status().message(),
              HasSubstr(absl::StrCat("at version ", kPgLogSchemaVersion + 1)));
  EXPECT_THAT(log.status().message(),
              HasSubstr(absl::StrCat("reads version ", kPgLogSchemaVersion, " at most")));
}

TEST(PgLog, QuotesTheSchemaName) {
  const std::string schema = "we\"ird $$ name'; DROP TABLE x; --";
  auto log = OpenLog(schema);
  ASSERT_NE(log, nullptr);
  AppendMany(*log, 2);
  TNY_ASSERT_OK_AND_ASSIGN(auto records, log->Read(1, 10));
  EXPECT_EQ(records.size(), 2u);
  EXPECT_EQ(PgLog::Open(cluster->conninfo(), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PgLog::Open(cluster->conninfo(), std::string(64, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PgLog, AppendsAtGapFreePositionsAndReadsRanges) {
  auto log = OpenLog(SchemaOfTest());
  ASSERT_NE(log, nullptr);
  std::string binary("\0\x01\xff\x80 bytes", 10);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t first, log->Append(0, "first", binary, 7));
  EXPECT_EQ(first, 1);
  AppendMany(*log, 99);
  TNY_ASSERT_OK_AND_ASSIGN(auto all, log->Read(1, 1000));
  ASSERT_EQ(all.size(), 100u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].position, static_cast<int64_t>(i + 1));
  EXPECT_EQ(all[0].payload, binary);
  EXPECT_EQ(all[0].format_version, 7);
  EXPECT_EQ(all[0].change_id, "first");
  EXPECT_EQ(all[41].change_id, "c42");
  EXPECT_EQ(all[41].payload, "payload 42");
  TNY_ASSERT_OK_AND_ASSIGN(auto middle, log->Read(50, 10));
  ASSERT_EQ(middle.size(), 10u);
  EXPECT_EQ(middle.front().position, 50);
  EXPECT_EQ(middle.back().position, 59);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t empty, log->Append(100, "empty", absl::string_view(), 1));
  EXPECT_EQ(empty, 101);
  TNY_ASSERT_OK_AND_ASSIGN(auto last, log->Read(101, 1));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].payload, "");
  TNY_ASSERT_OK_AND_ASSIGN(auto tail, log->Read(95, 10));
  EXPECT_EQ(tail.size(), 7u);
  TNY_ASSERT_OK_AND_ASSIGN(auto beyond, log->Read(102, 10));
  EXPECT_TRUE(beyond.empty());
  TNY_EXPECT_REFUSED(log->Read(0, 10).status(), absl::StatusCode::kInvalidArgument, "(R1)");
  TNY_EXPECT_REFUSED(log->Read(1, 0).status(), absl::StatusCode::kInvalidArgument, "(R1)");
  TNY_EXPECT_REFUSED(log->Append(101, "", "x", 1).status(), absl::StatusCode::kInvalidArgument,
                     "(R1)");
}

TEST(PgLog, RefusesAStaleHeadAndWritesNothing) {
  auto log = OpenLog(SchemaOfTest());
  ASSERT_NE(log, nullptr);
  AppendMany(*log, 3);
  auto stale = log->Append(1, "late", "x", 1);
  TNY_EXPECT_REFUSED(stale.status(), absl::StatusCode::kFailedPrecondition, "(R1)");
  EXPECT_THAT(stale.status().message(), HasSubstr("head is at 3, not at the expected 1"));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t head, log->Head());
  EXPECT_EQ(head, 3);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t position, log->PositionOf("late"));
  EXPECT_EQ(position, 0);
  TNY_ASSERT_OK_AND_ASSIGN(position, log->Append(3, "late", "x", 1));
  EXPECT_EQ(position, 4);
}

TEST(PgLog, AnswersARetriedChangeIdWithItsFirstPosition) {
  auto log = OpenLog(SchemaOfTest());
  ASSERT_NE(log, nullptr);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t a, log->Append(0, "a", "first", 1));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t b, log->Append(1, "b", "second", 1));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  // The same id again, with the right head or a stale one: its position, once.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t again, log->Append(2, "a", "first", 1));
  EXPECT_EQ(again, 1);
  TNY_ASSERT_OK_AND_ASSIGN(again, log->Append(0, "a", "first", 1));
  EXPECT_EQ(again, 1);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t head, log->Head());
  EXPECT_EQ(head, 2);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t found, log->PositionOf("b"));
  EXPECT_EQ(found, 2);
}

TEST(PgLog, StoresSnapshotsInChunks) {
  auto log = OpenLog(SchemaOfTest());
  ASSERT_NE(log, nullptr);
  std::mt19937_64 random(18);
  std::vector<std::string> chunks;
  for (int c = 0; c < 5; ++c) {
    std::string chunk(700 * 1024 + c, '\0');
    for (char& byte : chunk) byte = static_cast<char>(random());
    chunks.push_back(std::move(chunk));
  }
  TNY_ASSERT_OK(log->PutSnapshot(10, chunks));
  TNY_ASSERT_OK(log->PutSnapshot(4, {std::string("small")}));
  TNY_ASSERT_OK_AND_ASSIGN(auto read, log->GetSnapshot(10));
  EXPECT_TRUE(read == chunks);
  TNY_ASSERT_OK_AND_ASSIGN(auto positions, log->SnapshotPositions());
  EXPECT_EQ(positions, (std::vector<int64_t>{4, 10}));
  // Stored again at the same position: replaced, fewer chunks.
  TNY_ASSERT_OK(log->PutSnapshot(10, {chunks[1], chunks[0]}));
  TNY_ASSERT_OK_AND_ASSIGN(read, log->GetSnapshot(10));
  EXPECT_EQ(read, (std::vector<std::string>{chunks[1], chunks[0]}));
  TNY_EXPECT_REFUSED(log->GetSnapshot(11).status(), absl::StatusCode::kNotFound, "(R1)");
  TNY_EXPECT_REFUSED(log->PutSnapshot(12, {}), absl::StatusCode::kInvalidArgument, "(R1)");
}

TEST(PgLog, TruncatesBelowAPosition) {
  auto log = OpenLog(SchemaOfTest());
  ASSERT_NE(log, nullptr);
  AppendMany(*log, 10);
  TNY_ASSERT_OK(log->Truncate(5));
  auto truncated = log->Read(4, 10);
  TNY_EXPECT_REFUSED(truncated.status(), absl::StatusCode::kFailedPrecondition, "(R1)");
  EXPECT_THAT(truncated.status().message(), HasSubstr("the log starts at 5"));
  TNY_ASSERT_OK_AND_ASSIGN(auto kept, log->Read(5, 100));
  ASSERT_EQ(kept.size(), 6u);
  EXPECT_EQ(kept.front().position, 5);
  // Truncating below an older position keeps what is kept.
  TNY_ASSERT_OK(log->Truncate(2));
  TNY_EXPECT_REFUSED(log->Read(4, 10).status(), absl::StatusCode::kFailedPrecondition, "(R1)");
  auto too_far = log->Truncate(12);
  TNY_EXPECT_REFUSED(too_far, absl::StatusCode::kFailedPrecondition, "(R1)");
  EXPECT_THAT(too_far.message(), HasSubstr("head is at 10"));
  // Everything: the head stays, appends go on after it.
  TNY_ASSERT_OK(log->Truncate(11));
  TNY_ASSERT_OK_AND_ASSIGN(auto none, log->Read(11, 10));
  EXPECT_TRUE(none.empty());
  TNY_ASSERT_OK_AND_ASSIGN(int64_t position, log->Append(10, "after", "x", 1));
  EXPECT_EQ(position, 11);
}

TEST(PgLog, ReportsAGapOrAHeadGoingBackwardsAsDataLoss) {
  const std::string schema = SchemaOfTest();
  auto log = OpenLog(schema);
  ASSERT_NE(log, nullptr);
  AppendMany(*log, 5);
  SqlSession sql;
  ASSERT_EQ(sql.Exec(absl::StrCat("DELETE FROM ", Quoted(schema), ".records WHERE position = 3")),
            "");
  auto gap = log->Read(1, 10);
  TNY_EXPECT_REFUSED(gap.status(), absl::StatusCode::kDataLoss, "(R1)");
  EXPECT_THAT(gap.status().message(), HasSubstr("gap"));
  ASSERT_EQ(sql.Exec(absl::StrCat("UPDATE ", Quoted(schema), ".head SET position = 3")), "");
  auto backwards = log->Head();
  TNY_EXPECT_REFUSED(backwards.status(), absl::StatusCode::kDataLoss, "(R1)");
  EXPECT_THAT(backwards.status().message(), HasSubstr("head is at 3 after 5 was seen"));
  // A record above the head: appending there finds it taken.
  auto taken = log->Append(3, "over", "x", 1);
  TNY_EXPECT_REFUSED(taken.status(), absl::StatusCode::kDataLoss, "(R1)");
}

// R8: the function appends inside an application's own transaction.
TEST(PgLog, AppendsInsideAnApplicationsTransaction) {
  const std::string schema = SchemaOfTest();
  PgLogOptions options;
  options.lock_timeout_ms = 200;
  auto log = OpenLog(schema, options);
  ASSERT_NE(log, nullptr);
  SqlSession app;
  ASSERT_TRUE(app.ok());
  const std::string fn = absl::StrCat(Quoted(schema), ".append_if_head");
  ASSERT_EQ(app.Exec("CREATE TABLE IF NOT EXISTS app_rows (id text)"), "");

  ASSERT_EQ(app.Exec("BEGIN"), "");
  ASSERT_EQ(app.Exec("INSERT INTO app_rows VALUES ('committed')"), "");
  EXPECT_EQ(app.Value(absl::StrCat("SELECT ", fn, "(0, 'app-1', '\\x01'::bytea)")), "1");
  // Until the commit the application holds the head lock: other writers wait,
  // then give up with unavailable.
  auto waiting = log->Append(1, "other", "x", 1);
  TNY_EXPECT_REFUSED(waiting.status(), absl::StatusCode::kUnavailable, "(R1)");
  EXPECT_THAT(waiting.status().message(), HasSubstr("head lock was not granted"));
  ASSERT_EQ(app.Exec("COMMIT"), "");
  TNY_ASSERT_OK_AND_ASSIGN(auto records, log->Read(1, 10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].change_id, "app-1");
  EXPECT_EQ(records[0].payload, "\x01");
  EXPECT_EQ(records[0].format_version, 1);

  ASSERT_EQ(app.Exec("BEGIN"), "");
  ASSERT_EQ(app.Exec("INSERT INTO app_rows VALUES ('rolled back')"), "");
  EXPECT_EQ(app.Value(absl::StrCat("SELECT ", fn, "(1, 'app-2', '\\x02'::bytea, 3)")), "2");
  ASSERT_EQ(app.Exec("ROLLBACK"), "");
  TNY_ASSERT_OK_AND_ASSIGN(int64_t head, log->Head());
  EXPECT_EQ(head, 1);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t position, log->PositionOf("app-2"));
  EXPECT_EQ(position, 0);
  EXPECT_EQ(app.Value("SELECT count(*) FROM app_rows WHERE id = 'rolled back'"), "0");

  ASSERT_EQ(app.Exec("BEGIN"), "");
  ASSERT_EQ(app.Exec("INSERT INTO app_rows VALUES ('stale')"), "");
  EXPECT_EQ(app.Exec(absl::StrCat("SELECT ", fn, "(0, 'app-3', '\\x03'::bytea)")), "TN001");
  ASSERT_EQ(app.Exec("ROLLBACK"), "");
  TNY_ASSERT_OK_AND_ASSIGN(head, log->Head());
  EXPECT_EQ(head, 1);
  EXPECT_EQ(app.Value("SELECT count(*) FROM app_rows WHERE id = 'stale'"), "0");
}

TEST(PgLog, ConcurrentWritersAppendWithoutGapOrDuplicate) {
  const std::string schema = SchemaOfTest();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  ASSERT_NE(OpenLog(schema), nullptr);
  std::vector<std::vector<int64_t>> positions(kThreads);
  std::atomic<int> failures{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto opened = PgLog::Open(cluster->conninfo(), schema);
      if (!opened.ok()) {
        ++failures;
        return;
      }
      PgLog& log = **opened;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("w", t, "-", i);
        bool appended = false;
        // Each try loses only to another writer's append: bounded by all of them.
        for (int attempt = 0; attempt < kThreads * kPerThread + 10 && !appended &&
                              std::chrono::steady_clock::now() < deadline;
             ++attempt) {
          auto head = log.Head();
          if (!head.ok()) break;
          auto position = log.Append(*head, id, id, 1);
          if (position.ok()) {
            positions[t].push_back(*position);
            appended = true;
          } else if (position.status().code() != absl::StatusCode::kFailedPrecondition) {
            break;
          }
        }
        if (!appended) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  std::set<int64_t> all;
  for (const auto& mine : positions) {
    for (size_t i = 1; i < mine.size(); ++i) EXPECT_LT(mine[i - 1], mine[i]);
    all.insert(mine.begin(), mine.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  auto log = OpenLog(schema);
  ASSERT_NE(log, nullptr);
  TNY_ASSERT_OK_AND_ASSIGN(auto records, log->Read(1, 1000));
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const LogRecord& record : records) {
    EXPECT_EQ(record.payload, record.change_id);
    ids.insert(record.change_id);
  }
  EXPECT_EQ(ids.size(), records.size());
}

TEST(PgLog, IsUnavailableWhileTheServerIsDownThenWorksAgain) {
  auto log = OpenLog(SchemaOfTest());
  ASSERT_NE(log, nullptr);
  AppendMany(*log, 2);
  ASSERT_TRUE(cluster->Stop());
  const auto start = std::chrono::steady_clock::now();
  auto down = log->Append(2, "while-down", "x", 1);
  TNY_EXPECT_REFUSED(down.status(), absl::StatusCode::kUnavailable, "(R1)");
  EXPECT_THAT(down.status().message(), HasSubstr("'while-down'"));
  // The next call finds no connection and no server.
  TNY_EXPECT_REFUSED(log->Head().status(), absl::StatusCode::kUnavailable, "(R1)");
  TNY_EXPECT_REFUSED(log->Append(2, "while-down", "x", 1).status(), absl::StatusCode::kUnavailable,
                     "(R1)");
  TNY_EXPECT_REFUSED(PgLog::Open(cluster->conninfo(), SchemaOfTest()).status(),
                     absl::StatusCode::kUnavailable, "(R1)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_TRUE(cluster->Start());
  TNY_ASSERT_OK_AND_ASSIGN(int64_t position, log->Append(2, "while-down", "x", 1));
  EXPECT_EQ(position, 3);
  TNY_ASSERT_OK_AND_ASSIGN(position, log->Append(2, "while-down", "x", 1));
  EXPECT_EQ(position, 3);
  TNY_ASSERT_OK_AND_ASSIGN(auto records, log->Read(1, 10));
  EXPECT_EQ(records.size(), 3u);
}

// R7: an append may name the change the caller applied at the head; a log
// whose record there was replaced refuses it as data_loss, appending nothing.
TEST(PgLog, R7_AppendAfterARecordThatWasReplacedIsDataLoss) {
  const std::string schema = SchemaOfTest();
  auto log = OpenLog(schema);
  ASSERT_NE(log, nullptr);
  ASSERT_NO_FATAL_FAILURE(AppendMany(*log, 2));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t third, log->Append(2, "c3", "payload 3", 1, "c2"));
  EXPECT_EQ(third, 3);
  absl::StatusOr<int64_t> refused = log->Append(3, "c4", "payload 4", 1, "not-c3");
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("changed under this replica"));
  EXPECT_EQ(RulesOf(refused.status()), std::vector<std::string>{"R7"});
  TNY_ASSERT_OK_AND_ASSIGN(int64_t head, log->Head());
  EXPECT_EQ(head, 3);
}

// R5: two replicas storing a snapshot at the same position take turns; the
// second replaces the first, whole.
TEST(PgLog, R5_SnapshotsStoredAtOnePositionByTwoWritersTakeTurns) {
  const std::string schema = SchemaOfTest();
  auto first = OpenLog(schema);
  auto second = OpenLog(schema);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::atomic<int> failures{0};
  auto store = [&](PgLog& log, const std::string& fill) {
    for (int i = 0; i < 20; ++i) {
      const std::vector<std::string> chunks = {fill, fill + fill};
      if (!log.PutSnapshot(5, chunks).ok()) failures++;
    }
  };
  std::thread a([&] { store(*first, "a"); });
  std::thread b([&] { store(*second, "b"); });
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<std::string> chunks, first->GetSnapshot(5));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1], chunks[0] + chunks[0]);  // one writer's, whole
}

}  // namespace
}  // namespace tenantry
