// Copyright 2026 The tenantry Authors.
//
// Small helpers shared by the engine's test suites: status macros (abseil
// 20220623 has no status matchers), a fingerprint of the whole visible state
// (to prove that a refused change changed nothing, docs/rules.md section 10) and a
// fixture world: an enterprise account with an agency workspace, two client
// sub-workspaces, a simple workspace, staff, workspace roles and a client.
#ifndef TENANTRY_TESTS_TEST_UTIL_H_
#define TENANTRY_TESTS_TEST_UTIL_H_

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"

namespace tenantry::test {

inline absl::Status StatusOf(absl::Status status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

#define TNY_TEST_CONCAT_INNER(a, b) a##b
#define TNY_TEST_CONCAT(a, b) TNY_TEST_CONCAT_INNER(a, b)

// Each macro evaluates its expression exactly once (it is usually a change).
#define TNY_ASSERT_OK(expr)                                                  \
  do {                                                                       \
    const absl::Status tny_assert_status = ::tenantry::test::StatusOf(expr); \
    ASSERT_TRUE(tny_assert_status.ok()) << tny_assert_status;                \
  } while (false)

#define TNY_EXPECT_OK(expr)                                                  \
  do {                                                                       \
    const absl::Status tny_expect_status = ::tenantry::test::StatusOf(expr); \
    EXPECT_TRUE(tny_expect_status.ok()) << tny_expect_status;                \
  } while (false)

#define TNY_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  TNY_ASSERT_OK_AND_ASSIGN_IMPL(TNY_TEST_CONCAT(tny_status_or_, __LINE__), lhs, expr)
#define TNY_ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, expr) \
  auto var = (expr);                                  \
  ASSERT_TRUE(var.ok()) << var.status();              \
  lhs = std::move(var).value()

// The rule ids a message ends with, as a reader sees them: "... (C5, C6)"
// gives {"C5", "C6"}; a message ending otherwise ("(byte 3)", no bracket)
// gives none. The engine never parses its messages (tenantry/status.h);
// tests do, to prove that the ids in the text and in the payload agree.
inline std::vector<std::string> RulesInMessage(absl::string_view message) {
  if (message.empty() || message.back() != ')') return {};
  const size_t open = message.rfind(" (");
  if (open == absl::string_view::npos) return {};
  std::vector<std::string> ids =
      absl::StrSplit(message.substr(open + 2, message.size() - open - 3), ", ");
  for (const std::string& id : ids) {
    if (id.size() < 2 || id.size() > 3 || !absl::ascii_isupper(static_cast<unsigned char>(id[0])) ||
        !std::all_of(id.begin() + 1, id.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
      return {};
    }
  }
  return ids;
}

// The ids a `want_rule` argument names when it is a bracket or an id
// ("(M3)", "(C5, C6)", "C6"); none when it is other text ("unknown workspace").
inline std::vector<std::string> RulesInWant(absl::string_view want) {
  if (absl::StartsWith(want, "(")) return RulesInMessage(absl::StrCat("x ", want));
  return RulesInMessage(absl::StrCat("x (", want, ")"));
}

// `status` carries, as its payload (RulesOf), exactly the rule ids its
// message ends with.
#define TNY_EXPECT_RULES_CARRIED(status)                                                       \
  EXPECT_EQ(::tenantry::RulesOf(status), ::tenantry::test::RulesInMessage((status).message())) \
      << "the rule ids of the payload and of the message differ: " << (status)

// The change is refused with exactly `want_code` and a message naming
// `want_rule`, e.g. TNY_EXPECT_REFUSED(s, absl::StatusCode::kNotFound, "(M3)");
// the status carries the ids of its message (and so those of `want_rule`,
// when it names ids) as structured data.
#define TNY_EXPECT_REFUSED(expr, want_code, want_rule)                                       \
  do {                                                                                       \
    const absl::Status tny_refused_status = ::tenantry::test::StatusOf(expr);                \
    EXPECT_EQ(tny_refused_status.code(), want_code) << tny_refused_status;                   \
    EXPECT_THAT(std::string(tny_refused_status.message()), ::testing::HasSubstr(want_rule)); \
    TNY_EXPECT_RULES_CARRIED(tny_refused_status);                                            \
    for (const std::string& tny_rule : ::tenantry::test::RulesInWant(want_rule)) {           \
      EXPECT_THAT(::tenantry::RulesOf(tny_refused_status), ::testing::Contains(tny_rule))    \
          << tny_refused_status;                                                             \
    }                                                                                        \
  } while (false)

// As TNY_EXPECT_REFUSED, and the engine's whole visible state, revision
// included, is the same afterwards (docs/rules.md section 10: a failed change changes
// nothing).
#define TNY_EXPECT_REFUSED_UNCHANGED(the_engine, expr, want_code, want_rule)  \
  do {                                                                        \
    const std::string tny_before = ::tenantry::test::Fingerprint(the_engine); \
    TNY_EXPECT_REFUSED(expr, want_code, want_rule);                           \
    EXPECT_EQ(::tenantry::test::Fingerprint(the_engine), tny_before);         \
  } while (false)

// Every permission name in the catalog, in id order (M7).
inline std::vector<std::string> AllPermissionNames(const Engine& engine) {
  std::vector<std::string> names;
  for (PermissionId id = 0; id < limits::kMaxPermissions; ++id) {
    absl::StatusOr<std::string> name = engine.permission_name(id);
    if (!name.ok()) break;
    names.push_back(*std::move(name));
  }
  return names;
}

// check() by permission name; an unknown name fails the test.
inline bool Can(const Engine& engine, UserId user, WorkspaceId workspace, absl::string_view name) {
  absl::StatusOr<PermissionId> id = engine.permission(name);
  if (!id.ok()) {
    ADD_FAILURE() << id.status();
    return false;
  }
  return engine.check(user, workspace, *id);
}

// The names of every permission check() grants the user in the workspace.
inline std::set<std::string> PermsOf(const Engine& engine, UserId user, WorkspaceId workspace) {
  std::set<std::string> held;
  std::vector<std::string> names = AllPermissionNames(engine);
  for (PermissionId id = 0; id < names.size(); ++id) {
    if (engine.check(user, workspace, id)) held.insert(names[id]);
  }
  return held;
}

// One account as text: its info and its staff.
inline std::string AccountFingerprint(const Engine& engine, AccountId account) {
  absl::StatusOr<AccountInfo> info = engine.account(account);
  if (!info.ok()) return absl::StrCat("account ", account, " ", info.status().ToString(), "\n");
  std::string out = absl::StrCat("account ", account, " name=", info->name, " key=", info->key,
                                 " plan=", info->plan.name, "/", info->plan.workspace_limit, "/",
                                 info->plan.agency, " set=", info->plan_set, " owner=", info->owner,
                                 " count=", info->workspace_count, "\n");
  const uint64_t users = engine.stats().users + 16;
  for (UserId u = 1; u <= users; ++u) {
    auto staff = engine.staff(account, u);
    if (!staff.ok()) continue;
    absl::StrAppend(&out, "  staff ", u, " ", staff->first, " all=", staff->second.all,
                    " scope=", absl::StrJoin(staff->second.workspaces, ","), "\n");
  }
  return out;
}

// One workspace as text: info, settings, members, and every user's checks of
// every permission there.
inline std::string WorkspaceFingerprint(const Engine& engine, WorkspaceId workspace) {
  absl::StatusOr<WorkspaceInfo> info = engine.workspace(workspace);
  if (!info.ok()) return absl::StrCat("workspace ", workspace, " ", info.status().ToString(), "\n");
  std::string out =
      absl::StrCat("workspace ", workspace, " account=", info->account, " name=", info->name,
                   " slug=", info->slug, " type=", static_cast<int>(info->type),
                   " status=", static_cast<int>(info->status), " parent=", info->parent,
                   " owner=", info->owner, " depth=", info->depth, "\n");
  absl::StatusOr<Settings> settings = engine.settings(workspace);
  if (settings.ok()) {
    absl::StrAppend(&out, "  settings ", settings->beta_opt_in, " ", settings->approval_timeout_s,
                    " ", settings->inactivity_timeout_s, "\n");
  }
  absl::StatusOr<std::vector<Member>> members = engine.members(workspace);
  if (members.ok()) {
    for (const Member& m : *members) absl::StrAppend(&out, "  member ", m.user, " ", m.role, "\n");
  }
  const size_t permissions = AllPermissionNames(engine).size();
  const uint64_t users = engine.stats().users + 16;
  for (UserId u = 1; u <= users; ++u) {
    std::string bits;
    for (PermissionId p = 0; p < permissions; ++p) {
      bits += engine.check(u, workspace, p) ? '1' : '0';
    }
    if (bits.find('1') != std::string::npos) absl::StrAppend(&out, "  user ", u, " ", bits, "\n");
  }
  return out;
}

// Everything a caller can observe, as text: revision, counts, every account,
// every workspace and every session. Ids are handed out in sequence, so
// walking ids up to the counts (with slack for deleted ones) reaches all.
inline std::string Fingerprint(const Engine& engine) {
  const Engine::Stats stats = engine.stats();
  const uint64_t slack = 16;
  std::string out = absl::StrCat("revision=", engine.revision(), " accounts=", stats.accounts,
                                 " users=", stats.users, " workspaces=", stats.workspaces,
                                 " memberships=", stats.memberships,
                                 " permissions=", AllPermissionNames(engine).size(), "\n");
  for (AccountId a = 1; a <= stats.accounts + slack; ++a) {
    if (engine.account(a).ok()) out += AccountFingerprint(engine, a);
  }
  for (WorkspaceId w = 1; w <= stats.workspaces + slack; ++w) {
    if (engine.workspace(w).ok()) out += WorkspaceFingerprint(engine, w);
  }
  for (UserId u = 1; u <= stats.users + slack; ++u) {
    std::optional<WorkspaceId> active = engine.active_workspace(u);
    if (active.has_value()) absl::StrAppend(&out, "session ", u, " ", *active, "\n");
  }
  return out;
}

// An enterprise account "Acme" (key "acme") with:
//   agency "Agency" (agency, owner ws_owner), its client sub-workspaces
//   "Client A" and "Client B" (owner ws_owner), and a simple "Ops" (owner:
//   the account owner, the default when SYSTEM creates it);
//   staff: acct_owner (owner), acct_admin (admin), staff_member (member, all);
//   in the agency: ws_admin admin, manager, member, viewer; client is a
//   client in Client A; outsider holds nothing.
struct World {
  // The seed world in a new engine, or in `owned` (one with a journal, say).
  explicit World(std::unique_ptr<Engine> e = std::make_unique<Engine>())
      : owned(std::move(e)), engine(*owned) {}
  std::unique_ptr<Engine> owned;
  Engine& engine;
  UserId acct_owner = 0, acct_admin = 0, staff_member = 0;
  UserId ws_owner = 0, ws_admin = 0, manager = 0, member = 0, viewer = 0;
  UserId client = 0, outsider = 0;
  AccountId account = 0;
  WorkspaceId agency = 0, client_a = 0, client_b = 0, ops = 0;

  // Use as ASSERT_NO_FATAL_FAILURE(world.Build()).
  void Build() {
    const std::pair<UserId*, const char*> users[] = {
        {&acct_owner, "owner@acme.test"},   {&acct_admin, "admin@acme.test"},
        {&staff_member, "staff@acme.test"}, {&ws_owner, "ws-owner@acme.test"},
        {&ws_admin, "ws-admin@acme.test"},  {&manager, "manager@acme.test"},
        {&member, "member@acme.test"},      {&viewer, "viewer@acme.test"},
        {&client, "client@customer.test"},  {&outsider, "outsider@else.test"}};
    for (const auto& [id, key] : users) {
      TNY_ASSERT_OK_AND_ASSIGN(*id, engine.create_user(key));
    }
    AccountSpec spec;
    spec.name = "Acme";
    spec.owner = acct_owner;
    spec.plan = Plan::Named("enterprise");
    spec.key = "acme";
    TNY_ASSERT_OK_AND_ASSIGN(account, engine.create_account(spec));
    TNY_ASSERT_OK(engine.add_staff(kSystem, account, acct_admin, "admin"));
    TNY_ASSERT_OK(engine.add_staff(kSystem, account, staff_member, "member"));
    TNY_ASSERT_OK_AND_ASSIGN(agency,
                             CreateWorkspace("Agency", WorkspaceType::kAgency, 0, ws_owner));
    TNY_ASSERT_OK_AND_ASSIGN(client_a,
                             CreateWorkspace("Client A", WorkspaceType::kSimple, agency, ws_owner));
    TNY_ASSERT_OK_AND_ASSIGN(client_b,
                             CreateWorkspace("Client B", WorkspaceType::kSimple, agency, ws_owner));
    TNY_ASSERT_OK_AND_ASSIGN(ops, CreateWorkspace("Ops", WorkspaceType::kSimple, 0, 0));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, ws_admin, "admin"));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, manager, "manager"));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, member, "member"));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, viewer, "viewer"));
    TNY_ASSERT_OK(engine.add_member(kSystem, client_a, client, "client"));
  }

  absl::StatusOr<WorkspaceId> CreateWorkspace(std::string name, WorkspaceType type,
                                              WorkspaceId parent, UserId owner) {
    WorkspaceSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.parent = parent;
    spec.owner = owner;
    return engine.create_workspace(kSystem, account, std::move(spec));
  }
};

// An account named `name`, owned by `owner`, on `plan` (nullopt = unset).
inline AccountSpec AccountNamed(std::string name, UserId owner,
                                std::optional<Plan> plan = Plan::Named("starter"),
                                std::string key = "") {
  AccountSpec spec;
  spec.name = std::move(name);
  spec.owner = owner;
  spec.plan = std::move(plan);
  spec.key = std::move(key);
  return spec;
}

// A WorkspaceSpec with a name (and optionally a slug), everything else default.
inline WorkspaceSpec Named(std::string name, std::optional<std::string> slug = std::nullopt) {
  WorkspaceSpec spec;
  spec.name = std::move(name);
  spec.slug = std::move(slug);
  return spec;
}

}  // namespace tenantry::test

#endif  // TENANTRY_TESTS_TEST_UTIL_H_
