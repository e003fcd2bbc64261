// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 4, the active workspace (S1), with the per-workspace user
// inactivity timeout (T6 inactivity_timeout_s) on a manual clock (I4):
// expiry when read, touch_session, expire_sessions, timeout 0 = never, and
// deletion (T7). Every refusal is checked for its exact code, a message
// naming the rule and for having changed nothing (section 10).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/clock.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using test::AccountNamed;
using test::Named;
using Code = absl::StatusCode;

Engine::Options ClockOptions(std::shared_ptr<ManualClock> clock) {
  Engine::Options options;
  options.clock = std::move(clock);
  return options;
}

// An enterprise account with "Timed" (inactivity_timeout_s = 60), "Free"
// (timeout 0) and "Spare"; ann, bob and cid are admins of all three.
struct Sessions {
  Sessions() : clock(std::make_shared<ManualClock>()), engine(ClockOptions(clock)) {}

  void Build() {
    TNY_ASSERT_OK_AND_ASSIGN(owner, engine.create_user("owner@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(ann, engine.create_user("ann@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(bob, engine.create_user("bob@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(cid, engine.create_user("cid@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(
        account, engine.create_account(AccountNamed("Acme", owner, Plan::Named("enterprise"))));
    TNY_ASSERT_OK_AND_ASSIGN(timed, engine.create_workspace(owner, account, Named("Timed")));
    TNY_ASSERT_OK_AND_ASSIGN(relaxed, engine.create_workspace(owner, account, Named("Free")));
    TNY_ASSERT_OK_AND_ASSIGN(spare, engine.create_workspace(owner, account, Named("Spare")));
    for (WorkspaceId ws : {timed, relaxed, spare}) {
      for (UserId u : {ann, bob, cid}) TNY_ASSERT_OK(engine.add_member(owner, ws, u, "admin"));
    }
    TNY_ASSERT_OK(engine.set_setting(owner, timed, "inactivity_timeout_s", int64_t{60}));
  }

  std::shared_ptr<ManualClock> clock;
  Engine engine;
  UserId owner = 0, ann = 0, bob = 0, cid = 0;
  AccountId account = 0;
  WorkspaceId timed = 0, relaxed = 0, spare = 0;
};

std::optional<WorkspaceId> Active(WorkspaceId ws) { return std::optional<WorkspaceId>(ws); }

TEST(Sessions, S1_SessionExpiresAfterTheInactivityTimeout) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.timed));
  s.clock->advance_s(59);
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.timed));
  s.clock->advance_s(2);  // 61 s without activity
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
  // Expiry when read changes nothing; the state is consistent.
  TNY_EXPECT_OK(s.engine.verify());
  // Switching again starts a fresh session.
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.timed));
  s.clock->advance_s(30);
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.timed));
}

TEST(Sessions, S1_TouchKeepsTheSessionAlive) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  for (int i = 0; i < 10; ++i) {
    s.clock->advance_s(50);
    const uint64_t before = s.engine.revision();
    TNY_ASSERT_OK(s.engine.touch_session(s.ann));
    EXPECT_EQ(s.engine.revision(), before + 1);
  }
  // 500 s after the switch, 0 s after the last touch.
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.timed));
  s.clock->advance_s(59);
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.timed));
  s.clock->advance_s(2);
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
}

TEST(Sessions, S1_TouchAfterExpiryOrWithoutASessionIsRefused) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_EXPECT_REFUSED_UNCHANGED(s.engine, s.engine.touch_session(s.ann), Code::kFailedPrecondition,
                               "(S1)");
  TNY_EXPECT_REFUSED_UNCHANGED(s.engine, s.engine.touch_session(99999), Code::kNotFound, "(S1)");
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  s.clock->advance_s(61);
  TNY_EXPECT_REFUSED_UNCHANGED(s.engine, s.engine.touch_session(s.ann), Code::kFailedPrecondition,
                               "(S1)");
  // A touch cannot revive it either.
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
}

TEST(Sessions, S1_ExpireSessionsClearsExpiredOnesAndCountsThem) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  TNY_ASSERT_OK(s.engine.switch_workspace(s.bob, s.timed));
  TNY_ASSERT_OK(s.engine.switch_workspace(s.cid, s.relaxed));
  s.clock->advance_s(40);
  TNY_ASSERT_OK(s.engine.touch_session(s.bob));
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t cleared, s.engine.expire_sessions());
  EXPECT_EQ(cleared, 0u);
  s.clock->advance_s(30);  // ann: 70 s idle, bob: 30 s, cid: no timeout
  TNY_ASSERT_OK_AND_ASSIGN(cleared, s.engine.expire_sessions());
  EXPECT_EQ(cleared, 1u);
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
  EXPECT_EQ(s.engine.active_workspace(s.bob), Active(s.timed));
  EXPECT_EQ(s.engine.active_workspace(s.cid), Active(s.relaxed));
  TNY_EXPECT_OK(s.engine.verify());
  s.clock->advance_s(31);  // bob: 61 s idle
  TNY_ASSERT_OK_AND_ASSIGN(cleared, s.engine.expire_sessions());
  EXPECT_EQ(cleared, 1u);
  TNY_ASSERT_OK_AND_ASSIGN(cleared, s.engine.expire_sessions());
  EXPECT_EQ(cleared, 0u);
  EXPECT_EQ(s.engine.active_workspace(s.bob), std::nullopt);
  EXPECT_EQ(s.engine.active_workspace(s.cid), Active(s.relaxed));
  TNY_EXPECT_OK(s.engine.verify());
  // Swept sessions stay gone, whatever the clock or the setting does next.
  TNY_ASSERT_OK(s.engine.set_setting(s.owner, s.timed, "inactivity_timeout_s", int64_t{0}));
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
  TNY_EXPECT_REFUSED(s.engine.touch_session(s.ann), Code::kFailedPrecondition, "(S1)");
}

TEST(Sessions, T6_TimeoutZeroNeverExpires) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Settings settings, s.engine.settings(s.relaxed));
  EXPECT_EQ(settings.inactivity_timeout_s, 0);
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.relaxed));
  s.clock->advance_s(400LL * 24 * 3600);
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.relaxed));
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t cleared, s.engine.expire_sessions());
  EXPECT_EQ(cleared, 0u);
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.relaxed));
  TNY_EXPECT_OK(s.engine.touch_session(s.ann));
}

TEST(Sessions, T6_TimeoutIsPerWorkspace) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  s.clock->advance_s(50);
  // Moving to another workspace: its own (absent) timeout applies.
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.relaxed));
  s.clock->advance_s(3600);
  EXPECT_EQ(s.engine.active_workspace(s.ann), Active(s.relaxed));
  // Out-of-range timeouts are refused (T6).
  TNY_EXPECT_REFUSED_UNCHANGED(
      s.engine, s.engine.set_setting(s.owner, s.spare, "inactivity_timeout_s", int64_t{-1}),
      Code::kInvalidArgument, "(T6)");
  TNY_EXPECT_REFUSED_UNCHANGED(
      s.engine, s.engine.set_setting(s.owner, s.spare, "inactivity_timeout_s", int64_t{31536001}),
      Code::kInvalidArgument, "(T6)");
}

TEST(Sessions, T7_DeletionClearsSessions) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.spare));
  TNY_ASSERT_OK(s.engine.switch_workspace(s.bob, s.spare));
  TNY_ASSERT_OK(s.engine.switch_workspace(s.cid, s.relaxed));
  TNY_ASSERT_OK(s.engine.delete_workspace(s.owner, s.spare, "Spare"));
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
  EXPECT_EQ(s.engine.active_workspace(s.bob), std::nullopt);
  EXPECT_EQ(s.engine.active_workspace(s.cid), Active(s.relaxed));
  TNY_EXPECT_REFUSED(s.engine.touch_session(s.ann), Code::kFailedPrecondition, "(S1)");
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t cleared, s.engine.expire_sessions());
  EXPECT_EQ(cleared, 0u);
  TNY_EXPECT_OK(s.engine.verify());
  TNY_EXPECT_OK(s.engine.switch_workspace(s.ann, s.relaxed));
}

// An expired session counts as cleared (engine.h): it no longer makes the
// workspace the caller's own active one (T7).
TEST(Sessions, T7_AnExpiredSessionDoesNotBlockDeletion) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.owner, s.timed));
  TNY_EXPECT_REFUSED(s.engine.delete_workspace(s.owner, s.timed, "Timed"),
                     Code::kFailedPrecondition, "(T7)");
  s.clock->advance_s(61);
  ASSERT_EQ(s.engine.active_workspace(s.owner), std::nullopt);
  TNY_EXPECT_OK(s.engine.delete_workspace(s.owner, s.timed, "Timed"));
  TNY_EXPECT_OK(s.engine.verify());
}

TEST(Sessions, S1_LosingAccessClearsTheSessionOnTheSpot) {
  Sessions s;
  ASSERT_NO_FATAL_FAILURE(s.Build());
  TNY_ASSERT_OK(s.engine.switch_workspace(s.ann, s.timed));
  TNY_ASSERT_OK(s.engine.switch_workspace(s.bob, s.timed));
  TNY_ASSERT_OK(s.engine.remove_member(s.owner, s.timed, s.ann));
  EXPECT_EQ(s.engine.active_workspace(s.ann), std::nullopt);
  TNY_ASSERT_OK(s.engine.set_status(s.owner, s.timed, WorkspaceStatus::kInactive));
  EXPECT_EQ(s.engine.active_workspace(s.bob), std::nullopt);
  TNY_EXPECT_REFUSED(s.engine.switch_workspace(s.bob, s.timed), Code::kFailedPrecondition,
                     "(T5, S1)");
  TNY_EXPECT_OK(s.engine.verify());
}

}  // namespace
}  // namespace tenantry
