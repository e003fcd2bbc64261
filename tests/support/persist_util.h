// Copyright 2026 The tenantry Authors.
//
// What the persistence tests (snapshots P1, P2, the journal P3) share: a
// rich engine holding one of everything, and a fingerprint of everything an
// engine shows, to compare an engine with its copy.
#ifndef TENANTRY_TESTS_PERSIST_UTIL_H_
#define TENANTRY_TESTS_PERSIST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test_util.h"

namespace tenantry::test {

// What Fingerprint() leaves out: teams, invitations, staff, credits, the
// ledger and the feed.
inline std::string Everything(const Engine& engine) {
  std::string out = Fingerprint(engine);
  const uint64_t top = engine.revision() + 2;
  for (uint64_t id = 1; id < top; ++id) {
    if (auto team = engine.team(id); team.ok()) {
      absl::StrAppend(&out, "team ", id, " ", team->workspace, " ", team->name, " ", team->role,
                      " ", absl::StrJoin(team->members, ","), "\n");
    }
    if (auto inv = engine.invitation(id); inv.ok()) {
      absl::StrAppend(&out, "invitation ", id, " ", inv->email, " ", inv->role, " ", inv->state,
                      " ", inv->expires_at_ns, " ", inv->accepted_by, "\n");
    }
    for (MeterId meter = 0; meter < 4; ++meter) {
      if (auto b = engine.balance(id, meter); b.ok()) {
        absl::StrAppend(&out, "balance ", id, "/", meter, " ", b->buckets[0], " ", b->buckets[1],
                        " ", b->held, " ", b->consumed, "\n");
      }
      if (auto p = engine.account_balance(id, meter); p.ok()) {
        absl::StrAppend(&out, "pool ", id, "/", meter, " ", p->buckets[0], " ", p->buckets[1], " ",
                        p->granted, " ", p->consumed_by_deleted, "\n");
      }
    }
    for (uint64_t user = 1; user < top; ++user) {
      if (auto staff = engine.staff(id, user); staff.ok()) {
        absl::StrAppend(&out, "staff ", id, " ", user, " ", staff->first, " ", staff->second.all,
                        " ", absl::StrJoin(staff->second.workspaces, ","), "\n");
      }
    }
  }
  auto ledger = engine.ledger();
  EXPECT_TRUE(ledger.ok()) << ledger.status();
  for (const LedgerEntry& e : *ledger) {
    absl::StrAppend(&out, "ledger ", e.sequence, " ", e.revision, " ", e.time_ns, " ",
                    LedgerKindName(e.kind), " ", e.workspace, " ", e.amounts[0], " ", e.amounts[1],
                    " ", e.returned[0], " ", e.reservation, "\n");
  }
  auto feed = engine.changes_since(0);
  if (feed.ok()) {
    for (const AuditRecord& r : *feed)
      absl::StrAppend(&out, "change ", r.revision, " ", r.what, "\n");
  }
  return out;
}

// The seed world, plus everything snapshots must carry.
struct Rich {
  explicit Rich(std::unique_ptr<Engine> e = std::make_unique<Engine>()) : world(std::move(e)) {}
  World world;
  ManualClock* clock = nullptr;
  Invitation pending;
  ReservationId hold = 0;
  TeamId team = 0;
  int64_t keyed_result = 0;

  void Build() {
    ASSERT_NO_FATAL_FAILURE(world.Build());
    Engine& e = world.engine;
    TNY_ASSERT_OK(e.register_permission("reports.export").status());
    TNY_ASSERT_OK(e.define_role(kSystem, world.account, "analyst", {"reports.export"}, "viewer"));
    TNY_ASSERT_OK(e.add_member(kSystem, world.client_b, world.outsider, "analyst"));
    TNY_ASSERT_OK_AND_ASSIGN(team, e.create_team(kSystem, world.client_b, "Support", "viewer"));
    TNY_ASSERT_OK(e.add_team_member(kSystem, team, world.member));
    TNY_ASSERT_OK_AND_ASSIGN(pending,
                             e.invite(world.ws_admin, world.client_a, "new@customer.test"));
    TNY_ASSERT_OK(e.switch_workspace(world.client, world.client_a));
    TNY_ASSERT_OK(e.set_setting(kSystem, world.client_b, "approval_timeout_s", int64_t{3600}));
    TNY_ASSERT_OK(e.define_meter("sms", {"included"}).status());
    TNY_ASSERT_OK(e.grant(kSystem, world.account, 1000));
    TNY_ASSERT_OK(e.grant(kSystem, world.account, 300, kCredits, "extra"));
    TNY_ASSERT_OK(e.grant(kSystem, world.account, 50, "sms", "included"));
    TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_a, 1100).status());
    TNY_ASSERT_OK(e.transfer(kSystem, world.account, world.client_b, 40, "sms").status());
    TNY_ASSERT_OK(e.consume(world.client_a, 30).status());
    TNY_ASSERT_OK_AND_ASSIGN(keyed_result, e.consume(world.client_a, 7, kCredits, "order-1"));
    TNY_ASSERT_OK_AND_ASSIGN(hold, e.reserve(world.client_a, 100));
    ReservationId settled = 0;
    TNY_ASSERT_OK_AND_ASSIGN(settled, e.reserve(world.client_a, 10));
    TNY_ASSERT_OK(e.commit(settled, 4));
    TNY_ASSERT_OK(e.consume(world.client_b, 5, "sms").status());
  }
};

// A fresh, empty path for a journal directory (removed if it exists).
inline std::string TempDirFor(absl::string_view name) {
  static std::atomic<int> counter{0};
  const std::string dir = absl::StrCat(::testing::TempDir(), "/tny-journal-", ::getpid(), "-", name,
                                       "-", counter.fetch_add(1));
  std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
  return dir;
}

inline Engine::Options Journaled(const std::string& dir,
                                 Durability durability = Durability::kSync) {
  Engine::Options o;
  o.journal = dir;
  o.durability = durability;
  return o;
}

// Engine::Open, failing the test (and returning null) when it fails.
inline std::unique_ptr<Engine> OpenOrDie(const Engine::Options& o) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Open(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : nullptr;
}

}  // namespace tenantry::test

#endif  // TENANTRY_TESTS_PERSIST_UTIL_H_
