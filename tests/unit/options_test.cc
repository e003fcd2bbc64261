// Copyright 2026 The tenantry Authors.
//
// Engine::Options: the ranges bindings refuse, and the clamping the C++
// constructor applies instead (never a wrap in ttl * 1e9).
#include <cstdint>
#include <limits>

#include "gtest/gtest.h"
#include "tenantry/engine.h"

namespace tenantry {
namespace {

TEST(Options, DefaultsAreValid) { EXPECT_TRUE(Engine::ValidateOptions({}).ok()); }

TEST(Options, EachOutOfRangeOptionIsNamed) {
  struct Case {
    const char* name;
    void (*set)(Engine::Options&);
  };
  const Case cases[] = {
      {"feed_retention", [](Engine::Options& o) { o.feed_retention = 0; }},
      {"ledger_retention", [](Engine::Options& o) { o.ledger_retention = 0; }},
      {"invitation_ttl_s", [](Engine::Options& o) { o.invitation_ttl_s = 0; }},
      {"invitation_ttl_s",
       [](Engine::Options& o) { o.invitation_ttl_s = std::numeric_limits<int64_t>::max(); }},
      {"idempotency_window_s", [](Engine::Options& o) { o.idempotency_window_s = -1; }},
      {"idempotency_window_s",
       [](Engine::Options& o) { o.idempotency_window_s = limits::kIdempotencyWindowMaxS + 1; }},
      {"idempotency_slots", [](Engine::Options& o) { o.idempotency_slots = 0; }},
      {"idempotency_slots",
       [](Engine::Options& o) { o.idempotency_slots = limits::kIdempotencySlotsMax + 1; }},
      {"reservation_slots", [](Engine::Options& o) { o.reservation_slots = 0; }},
      {"reservation_slots",
       [](Engine::Options& o) { o.reservation_slots = limits::kReservationSlotsMax + 1; }},
  };
  for (const Case& c : cases) {
    Engine::Options options;
    c.set(options);
    absl::Status status = Engine::ValidateOptions(options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(status.message().find(c.name), absl::string_view::npos) << status;
  }
}

TEST(Options, I2_ConstructorClampsAHugeInvitationTtl) {
  // Unclamped, ttl * 1e9 would overflow (undefined behaviour; UBSan stops).
  Engine::Options options;
  options.invitation_ttl_s = std::numeric_limits<int64_t>::max();
  Engine engine(options);
  UserId owner = *engine.create_user("o@example.com");
  AccountId account = *engine.create_account({"Acme", owner, Plan::Named("enterprise")});
  WorkspaceId ws = *engine.create_workspace(owner, account, {"Work"});
  absl::StatusOr<Invitation> invitation = engine.invite(owner, ws, "c@example.com");
  ASSERT_TRUE(invitation.ok()) << invitation.status();
  absl::StatusOr<InvitationInfo> info = engine.invitation(invitation->id);
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->expires_at_ns, 0);
  EXPECT_EQ(info->state, "pending");
}

}  // namespace
}  // namespace tenantry
