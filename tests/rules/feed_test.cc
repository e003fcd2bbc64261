// Copyright 2026 The tenantry Authors.
//
// The audit trail and change feed (L1), batches (X2) and verify().
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "tenantry/engine.h"

namespace tenantry {
namespace {

TEST(Feed, L1_EveryChangeGetsARevisionAndAnAuditRecord) {
  auto clock = std::make_shared<ManualClock>(1'000);
  Engine engine(Engine::Options{clock});
  EXPECT_EQ(engine.revision(), 0u);
  UserId owner = *engine.create_user("o@x.test");
  clock->advance_ns(5);
  AccountId account = *engine.create_account({"Acct", owner, Plan::Named("growth")});
  WorkspaceId ws = *engine.create_workspace(owner, account, {"Main"});
  UserId bob = *engine.create_user("bob@x.test");
  ASSERT_TRUE(engine.add_member(owner, ws, bob, "viewer").ok());
  EXPECT_EQ(engine.revision(), 5u);

  auto feed = *engine.changes_since(0);
  ASSERT_EQ(feed.size(), 5u);
  for (size_t i = 0; i < feed.size(); ++i) EXPECT_EQ(feed[i].revision, i + 1);
  EXPECT_EQ(feed[0].time_ns, 1'000);
  EXPECT_EQ(feed[1].time_ns, 1'005);
  EXPECT_EQ(feed[2].actor, owner);
  EXPECT_EQ(feed[2].account, account);
  EXPECT_EQ(feed[2].workspace, ws);
  EXPECT_EQ(feed[4].what, absl::StrCat("add_member user=", bob, " role=viewer"));
  EXPECT_EQ(feed[1].actor, kSystem);

  auto tail = *engine.changes_since(3);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].revision, 4u);
  EXPECT_TRUE(engine.changes_since(5)->empty());
  EXPECT_TRUE(engine.changes_since(1000)->empty());
}

TEST(Feed, L1_FailedChangeGetsNoRevision) {
  Engine engine;
  UserId owner = *engine.create_user("o@x.test");
  AccountId account = *engine.create_account({"Acct", owner, Plan::Named("starter")});
  ASSERT_TRUE(engine.create_workspace(owner, account, {"One"}).ok());
  uint64_t before = engine.revision();
  EXPECT_EQ(engine.create_workspace(owner, account, {"Two"}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine.revision(), before);
  EXPECT_EQ(engine.changes_since(0)->size(), before);
}

TEST(Feed, L1_RetentionIsBoundedAndOlderRevisionsAreAnError) {
  Engine::Options options;
  options.feed_retention = 10;
  Engine engine(options);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(engine.create_user(absl::StrCat("u", i)).ok());
  auto recent = engine.changes_since(15);
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(recent->size(), 10u);
  // Revision 15 left memory, so a follower at 14 has missed a change.
  EXPECT_EQ(engine.changes_since(14).status().code(), absl::StatusCode::kFailedPrecondition);
  auto lost = engine.changes_since(3);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(lost.status().message().find("(L1)"), std::string::npos);
  EXPECT_NE(lost.status().message().find("oldest retained revision 16"), std::string::npos);
}

TEST(Batch, X2_BatchPublishesOnceWithOneRevisionPerChange) {
  Engine engine;
  UserId owner = *engine.create_user("o@x.test");
  AccountId account = *engine.create_account({"Acct", owner, Plan::Named("scale")});
  uint64_t before = engine.revision();
  Batch batch;
  batch.create_user("a@x.test").create_user("b@x.test").create_workspace(owner, account, {"Web"});
  auto ids = engine.apply(batch);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ(engine.revision(), before + 3);
  EXPECT_EQ(*engine.user("a@x.test"), (*ids)[0]);
  EXPECT_EQ(engine.workspace((*ids)[2])->name, "Web");
  EXPECT_TRUE(engine.verify().ok());
}

TEST(Batch, X2_FailingChangeAppliesNothingAndIsNamed) {
  Engine engine;
  UserId owner = *engine.create_user("o@x.test");
  AccountId account = *engine.create_account({"Acct", owner, Plan::Named("growth")});
  WorkspaceId ws = *engine.create_workspace(owner, account, {"Main"});
  UserId bob = *engine.create_user("bob@x.test");
  uint64_t before = engine.revision();
  Batch batch;
  batch.add_member(owner, ws, bob, "viewer")
      .create_user("carol@x.test")
      .set_setting(owner, ws, "approval_timeout_s", int64_t{5});  // out of range (T6)
  auto result = engine.apply(batch);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("change #2 (set_setting)"), std::string::npos);
  EXPECT_NE(result.status().message().find("(T6)"), std::string::npos);
  EXPECT_EQ(engine.revision(), before);
  EXPECT_FALSE(engine.check(bob, ws, *engine.permission("workspace.view")));
  EXPECT_EQ(engine.user("carol@x.test").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine.members(ws)->size(), 1u);
  EXPECT_TRUE(engine.verify().ok());
}

TEST(Batch, X2_LaterChangesSeeEarlierOnesOfTheSameBatch) {
  Engine engine;
  UserId owner = *engine.create_user("o@x.test");
  AccountId account = *engine.create_account({"Acct", owner, Plan::Named("growth")});
  WorkspaceId ws = *engine.create_workspace(owner, account, {"Main"});
  UserId bob = *engine.create_user("bob@x.test");
  UserId carol = *engine.create_user("carol@x.test");
  Batch batch;
  // Bob becomes admin, then (as admin) adds Carol: authorization sees the batch so far.
  batch.add_member(owner, ws, bob, "admin").add_member(bob, ws, carol, "member");
  ASSERT_TRUE(engine.apply(batch).ok());
  EXPECT_TRUE(engine.check(carol, ws, *engine.permission("campaigns.run")));
}

TEST(Batch, X2_EmptyBatchIsANoOp) {
  Engine engine;
  auto result = engine.apply(Batch{});
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->empty());
  EXPECT_EQ(engine.revision(), 0u);
}

TEST(Verify, PassesOnAConsistentEngine) {
  Engine engine;
  UserId owner = *engine.create_user("o@x.test");
  AccountId account = *engine.create_account({"Acct", owner, Plan::Named("enterprise")});
  WorkspaceId agency =
      *engine.create_workspace(owner, account, {"HQ", std::nullopt, WorkspaceType::kAgency});
  for (int i = 0; i < 20; ++i) {
    WorkspaceId child = *engine.create_workspace(
        owner, account, {absl::StrCat("C", i), std::nullopt, WorkspaceType::kSimple, agency});
    UserId u = *engine.create_user(absl::StrCat("u", i));
    ASSERT_TRUE(engine.add_member(owner, child, u, i % 2 ? "client" : "member").ok());
  }
  EXPECT_TRUE(engine.verify().ok()) << engine.verify();
  EXPECT_EQ(engine.stats().memberships, 41u);
}

}  // namespace
}  // namespace tenantry
