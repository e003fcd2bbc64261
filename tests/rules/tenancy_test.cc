// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 1, tenancy: accounts (T1), plans (T2), names and slugs (T3),
// the tenant graph (T4), status (T5), settings (T6) and independence (T8).
// T7 (delete) is not implemented yet. Each test names the rule it proves;
// every refusal is checked for its exact code, for a message naming the
// rule, and for having changed nothing (section 10).
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using test::AccountNamed;
using test::Named;
using test::PermsOf;
using test::World;
using Code = absl::StatusCode;
using Perms = std::set<std::string>;

// Creates workspaces "W<first>" .. "W<first + n - 1>" as SYSTEM; the first
// failure is returned.
absl::Status CreateN(Engine& engine, AccountId account, int n, int first = 1) {
  for (int i = first; i < first + n; ++i) {
    absl::StatusOr<WorkspaceId> ws =
        engine.create_workspace(kSystem, account, Named(absl::StrCat("W", i)));
    if (!ws.ok()) return ws.status();
  }
  return absl::OkStatus();
}

WorkspaceSpec Agency(std::string name, WorkspaceId parent = 0) {
  WorkspaceSpec spec = Named(std::move(name));
  spec.type = WorkspaceType::kAgency;
  spec.parent = parent;
  return spec;
}

WorkspaceSpec Child(std::string name, WorkspaceId parent) {
  WorkspaceSpec spec = Named(std::move(name));
  spec.parent = parent;
  return spec;
}

// ---- T1: accounts ----

TEST(Tenancy, T1_AccountHasNameKeyPlanAndOwner) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId a, engine.create_account(AccountNamed(
                                            "Acme", owner, Plan::Named("growth"), "crm-17")));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId b, engine.create_account(AccountNamed("Globex", owner)));
  EXPECT_NE(a, b);
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(a));
  EXPECT_EQ(info.id, a);
  EXPECT_EQ(info.name, "Acme");
  EXPECT_EQ(info.key, "crm-17");
  EXPECT_EQ(info.plan.name, "growth");
  EXPECT_EQ(info.plan.workspace_limit, 5);
  EXPECT_TRUE(info.plan_set);
  EXPECT_EQ(info.owner, owner);
  EXPECT_EQ(info.workspace_count, 0);
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo other, engine.account(b));
  EXPECT_EQ(other.key, "");  // the key is optional
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, engine.staff(a, owner));
  EXPECT_EQ(staff.first, "owner");
  EXPECT_TRUE(staff.second.all);
}

TEST(Tenancy, T1_ExternalKeyIsUnique) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK(engine.create_account(AccountNamed("Acme", owner, Plan::Named("starter"), "k1")));
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.create_account(AccountNamed("Acme 2", owner, Plan::Named("starter"), "k1")),
      Code::kAlreadyExists, "(T1)");
  // Accounts without a key never clash.
  TNY_EXPECT_OK(engine.create_account(AccountNamed("No key 1", owner)));
  TNY_EXPECT_OK(engine.create_account(AccountNamed("No key 2", owner)));
  TNY_EXPECT_OK(
      engine.create_account(AccountNamed("Other key", owner, Plan::Named("starter"), "k2")));
  EXPECT_EQ(engine.stats().accounts, 4u);
}

TEST(Tenancy, T1_UnknownOwnerOrAccountRefused) {
  Engine engine;
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_account(AccountNamed("Acme", 42)),
                               Code::kNotFound, "(T1)");
  TNY_EXPECT_REFUSED(engine.account(42), Code::kNotFound, "(T1)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(kSystem, 42, Named("Lost")),
                               Code::kNotFound, "(T1)");
}

TEST(Tenancy, T1_NothingCrossesAccounts) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  const std::string world_account = test::AccountFingerprint(engine, w.account);
  TNY_ASSERT_OK_AND_ASSIGN(UserId beta_owner, engine.create_user("owner@beta.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId beta, engine.create_account(AccountNamed(
                                               "Beta", beta_owner, Plan::Named("enterprise"))));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId beta_agency,
                           engine.create_workspace(beta_owner, beta, Agency("Agency")));
  EXPECT_EQ(test::AccountFingerprint(engine, w.account), world_account);

  // Nobody of the first account holds anything in the second, and back.
  const UserId world_users[] = {w.acct_owner, w.acct_admin, w.staff_member, w.ws_owner, w.ws_admin,
                                w.manager,    w.member,     w.viewer,       w.client,   w.outsider};
  for (UserId u : world_users) {
    SCOPED_TRACE(u);
    EXPECT_EQ(PermsOf(engine, u, beta_agency), Perms{});
  }
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    EXPECT_EQ(PermsOf(engine, beta_owner, ws), Perms{});
  }
  TNY_ASSERT_OK_AND_ASSIGN(PermissionId view, engine.permission("workspace.view"));
  EXPECT_EQ(engine.who_can(beta_agency, view), std::vector<UserId>{beta_owner});

  // The first account's owner can change nothing in the second.
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(w.acct_owner, beta, Named("Mine")),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.add_member(w.acct_owner, beta_agency, w.outsider, "viewer"),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_staff(w.acct_owner, beta, w.outsider, "admin"),
                               Code::kPermissionDenied, "(M10)");
}

// ---- T2: plans cap workspaces ----

TEST(Tenancy, T2_BuiltinPlansCapWorkspaces) {
  const std::pair<const char*, int> plans[] = {{"starter", 1}, {"growth", 5}, {"scale", 25}};
  for (const auto& [plan, limit] : plans) {
    SCOPED_TRACE(plan);
    Engine engine;
    TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
    TNY_ASSERT_OK_AND_ASSIGN(AccountId account,
                             engine.create_account(AccountNamed("Acme", owner, Plan::Named(plan))));
    TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(account));
    EXPECT_EQ(info.plan.workspace_limit, limit);
    TNY_ASSERT_OK(CreateN(engine, account, limit));
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Named("Extra")),
                                 Code::kResourceExhausted, "(T2)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(kSystem, account, Named("Extra")),
                                 Code::kResourceExhausted, "(T2)");
    TNY_ASSERT_OK_AND_ASSIGN(info, engine.account(account));
    EXPECT_EQ(info.workspace_count, limit);
  }
}

TEST(Tenancy, T2_EnterpriseIsUnlimited) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(AccountNamed(
                                                  "Acme", owner, Plan::Named("enterprise"))));
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(account));
  EXPECT_EQ(info.plan.workspace_limit, Plan::kUnlimited);
  TNY_ASSERT_OK(CreateN(engine, account, 40));
  TNY_ASSERT_OK_AND_ASSIGN(info, engine.account(account));
  EXPECT_EQ(info.workspace_count, 40);
}

TEST(Tenancy, T2_CustomPlanGivesAnyLimit) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId seven, engine.create_account(AccountNamed(
                                                "Seven", owner, Plan::Custom("team-7", 7, false))));
  TNY_ASSERT_OK(CreateN(engine, seven, 7));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(kSystem, seven, Named("Eighth")),
                               Code::kResourceExhausted, "(T2)");

  TNY_ASSERT_OK_AND_ASSIGN(AccountId zero, engine.create_account(AccountNamed(
                                               "Zero", owner, Plan::Custom("frozen", 0, false))));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(kSystem, zero, Named("First")),
                               Code::kResourceExhausted, "(T2)");

  TNY_ASSERT_OK_AND_ASSIGN(AccountId unlimited,
                           engine.create_account(AccountNamed(
                               "Big", owner, Plan::Custom("big", Plan::kUnlimited, false))));
  TNY_EXPECT_OK(CreateN(engine, unlimited, 30));
}

TEST(Tenancy, T2_UnsetPlanAllowsOne) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account,
                           engine.create_account(AccountNamed("Acme", owner, std::nullopt)));
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(account));
  EXPECT_FALSE(info.plan_set);
  TNY_ASSERT_OK(engine.create_workspace(owner, account, Named("Only")));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Named("Second")),
                               Code::kResourceExhausted, "(T2)");
}

TEST(Tenancy, T2_UnknownPlanNameAllowsOne) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  EXPECT_EQ(Plan::Named("platinum").workspace_limit, 1);
  EXPECT_FALSE(Plan::Named("platinum").agency);
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(AccountNamed(
                                                  "Acme", owner, Plan::Named("platinum"))));
  TNY_ASSERT_OK(engine.create_workspace(owner, account, Named("Only")));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Named("Second")),
                               Code::kResourceExhausted, "(T2)");
  // An unknown name given through set_plan counts the same.
  TNY_ASSERT_OK_AND_ASSIGN(
      AccountId grown, engine.create_account(AccountNamed("Grown", owner, Plan::Named("growth"))));
  TNY_ASSERT_OK(engine.set_plan(owner, grown, Plan::Named("Growth ")));
  TNY_ASSERT_OK(engine.create_workspace(owner, grown, Named("Only")));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, grown, Named("Second")),
                               Code::kResourceExhausted, "(T2)");
}

TEST(Tenancy, T2_SubWorkspacesCount) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(AccountNamed(
                                                  "Acme", owner, Plan::Custom("trio", 3, true))));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId agency,
                           engine.create_workspace(owner, account, Agency("Agency")));
  TNY_ASSERT_OK(engine.create_workspace(owner, account, Child("Client 1", agency)));
  TNY_ASSERT_OK(engine.create_workspace(owner, account, Child("Client 2", agency)));
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(account));
  EXPECT_EQ(info.workspace_count, 3);
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.create_workspace(owner, account, Child("Client 3", agency)),
                               Code::kResourceExhausted, "(T2)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Named("Top")),
                               Code::kResourceExhausted, "(T2)");
}

TEST(Tenancy, T2_LoweringPlanBlocksNewWorkspacesAndDeletesNothing) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(UserId viewer, engine.create_user("viewer@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(
      AccountId account, engine.create_account(AccountNamed("Acme", owner, Plan::Named("growth"))));
  std::vector<WorkspaceId> ids;
  for (int i = 1; i <= 5; ++i) {
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId id,
                             engine.create_workspace(owner, account, Named(absl::StrCat("W", i))));
    TNY_ASSERT_OK(engine.add_member(owner, id, viewer, "viewer"));
    ids.push_back(id);
  }
  std::vector<std::string> before;
  for (WorkspaceId id : ids) before.push_back(test::WorkspaceFingerprint(engine, id));

  TNY_ASSERT_OK(engine.set_plan(owner, account, Plan::Named("starter")));
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(account));
  EXPECT_EQ(info.plan.name, "starter");
  EXPECT_EQ(info.workspace_count, 5);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(test::WorkspaceFingerprint(engine, ids[i]), before[i]);
  }
  EXPECT_EQ(engine.stats().memberships, 10u);
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Named("Sixth")),
                               Code::kResourceExhausted, "(T2)");
  // Back to growth: still full (5 of 5); a larger custom plan lets one more in.
  TNY_ASSERT_OK(engine.set_plan(owner, account, Plan::Named("growth")));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Named("Sixth")),
                               Code::kResourceExhausted, "(T2)");
  TNY_ASSERT_OK(engine.set_plan(kSystem, account, Plan::Custom("six", 6, false)));
  TNY_EXPECT_OK(engine.create_workspace(owner, account, Named("Sixth")));
}

TEST(Tenancy, T2_InvalidPlanRefused) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(AccountNamed("Acme", owner)));
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.set_plan(owner, account, Plan::Custom("bad", -2, false)),
                               Code::kInvalidArgument, "(T2)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_plan(owner, account, Plan::Custom("", 3, false)),
                               Code::kInvalidArgument, "(T2)");
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.create_account(AccountNamed("Bad", owner, Plan::Custom("bad", -5, false))),
      Code::kInvalidArgument, "(T2)");
}

// A plan's name is kept as given and shown to every reader (account(), the
// audit record, a snapshot): it must be text, so that each can take it.
TEST(Tenancy, T2_PlanNameIsText) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, engine.create_account(AccountNamed("Acme", owner)));
  for (const std::string& name :
       {std::string("\xff\xfe"), std::string("gold\x01"), std::string("go\0ld", 5),
        std::string("tab\tbed"), std::string(101, 'p')}) {
    TNY_EXPECT_REFUSED_UNCHANGED(engine,
                                 engine.set_plan(owner, account, Plan::Custom(name, 3, false)),
                                 Code::kInvalidArgument, "(T2)");
    TNY_EXPECT_REFUSED_UNCHANGED(
        engine, engine.create_account(AccountNamed("Bad", owner, Plan::Custom(name, 3, false))),
        Code::kInvalidArgument, "(T2)");
  }
  // Any other text is kept as given, white space and all.
  TNY_EXPECT_OK(engine.set_plan(owner, account, Plan::Custom(" Gold \xC2\xB7 2026 ", 3, false)));
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, engine.account(account));
  EXPECT_EQ(info.plan.name, " Gold \xC2\xB7 2026 ");
}

// ---- T3: names and slugs ----

// A fresh engine with one enterprise account, for the name and slug rules.
struct Enterprise {
  Engine engine;
  UserId owner = 0;
  AccountId account = 0;

  void Build() {
    TNY_ASSERT_OK_AND_ASSIGN(owner, engine.create_user("owner@a.test"));
    TNY_ASSERT_OK_AND_ASSIGN(
        account, engine.create_account(AccountNamed("Acme", owner, Plan::Named("enterprise"))));
  }
  absl::StatusOr<WorkspaceId> Create(std::string name,
                                     std::optional<std::string> slug = std::nullopt) {
    return engine.create_workspace(owner, account, Named(std::move(name), std::move(slug)));
  }
  std::string NameOf(WorkspaceId id) const {
    absl::StatusOr<WorkspaceInfo> info = engine.workspace(id);
    return info.ok() ? info->name : info.status().ToString();
  }
  std::string SlugOf(WorkspaceId id) const {
    absl::StatusOr<WorkspaceInfo> info = engine.workspace(id);
    return info.ok() ? info->slug : info.status().ToString();
  }
};

// U+3000 IDEOGRAPHIC SPACE and U+00A0 NO-BREAK SPACE, as UTF-8.
constexpr char kIdeographicSpace[] = "\xE3\x80\x80";
constexpr char kNoBreakSpace[] = "\xC2\xA0";
// U+65E5 (a CJK ideograph: one code point, three bytes).
constexpr char kSun[] = "\xE6\x97\xA5";

std::string Repeat(absl::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) absl::StrAppend(&out, piece);
  return out;
}

TEST(Tenancy, T3_NameTrimmedOfSurroundingWhiteSpace) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId a, e.Create("  Acme Inc.\t\n"));
  EXPECT_EQ(e.NameOf(a), "Acme Inc.");
  EXPECT_EQ(e.SlugOf(a), "acme-inc");
  TNY_ASSERT_OK_AND_ASSIGN(
      WorkspaceId b,
      e.Create(absl::StrCat(kIdeographicSpace, kNoBreakSpace, "Tokyo Office", kIdeographicSpace)));
  EXPECT_EQ(e.NameOf(b), "Tokyo Office");
  EXPECT_EQ(e.SlugOf(b), "tokyo-office");
  // Inner white space is part of the name.
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId c,
                           e.Create(absl::StrCat("East", kIdeographicSpace, "Wing")));
  EXPECT_EQ(e.NameOf(c), absl::StrCat("East", kIdeographicSpace, "Wing"));
}

TEST(Tenancy, T3_NameIsOneToHundredCodePoints) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId one, e.Create("X", "x1"));
  EXPECT_EQ(e.NameOf(one), "X");
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ascii, e.Create(std::string(100, 'a'), "ascii"));
  EXPECT_EQ(e.NameOf(ascii), std::string(100, 'a'));
  // 100 code points of 3 bytes each: 300 bytes, still 100 characters.
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId wide, e.Create(Repeat(kSun, 100), "wide"));
  EXPECT_EQ(e.NameOf(wide), Repeat(kSun, 100));
  // Trimming happens before counting.
  TNY_EXPECT_OK(e.Create(absl::StrCat("   ", std::string(100, 'b'), "   "), "padded"));

  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create(std::string(101, 'a'), "too-long"),
                               Code::kInvalidArgument, "(T3)");
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create(Repeat(kSun, 101), "too-wide"),
                               Code::kInvalidArgument, "(T3)");
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create(std::string(5000, 'a'), "huge"),
                               Code::kInvalidArgument, "(T3)");
  for (const std::string& empty :
       {std::string(), std::string("   "), std::string("\t\n"), std::string(kIdeographicSpace)}) {
    TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create(empty, "empty"), Code::kInvalidArgument,
                                 "(T3)");
  }
}

TEST(Tenancy, T3_InvalidUtf8NameRefused) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  const std::string invalid[] = {
      "\xFF",                      // never valid
      "Acme \xC3",                 // truncated sequence
      "\xC0\xAF",                  // overlong '/'
      "\xED\xA0\x80",              // a surrogate
      std::string("A\x80") + "B",  // a stray continuation byte
  };
  for (const std::string& name : invalid) {
    TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create(name, "bad-name"), Code::kInvalidArgument,
                                 "(T3)");
  }
  Enterprise renamed;
  ASSERT_NO_FATAL_FAILURE(renamed.Build());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws, renamed.Create("Good"));
  TNY_EXPECT_REFUSED_UNCHANGED(renamed.engine,
                               renamed.engine.rename_workspace(renamed.owner, ws, "Bad \xFF"),
                               Code::kInvalidArgument, "(T3)");
}

TEST(Tenancy, T3_SlugRules) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  for (const std::string& slug : {std::string("ab"), std::string("a1-b2"), std::string("9-lives"),
                                  std::string("a--b"), std::string(50, 'z')}) {
    SCOPED_TRACE(slug);
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws, e.Create("Some name", slug));
    EXPECT_EQ(e.SlugOf(ws), slug);
  }
  const std::string refused[] = {
      "",    "a", std::string(51, 'y'), "Ab",  "a_b", "a b", "-ab",
      "ab-", "-", "caf\xC3\xA9",        "a.b", "ab/",
  };
  for (const std::string& slug : refused) {
    SCOPED_TRACE(slug);
    EXPECT_FALSE(e.engine.slug_available(e.account, slug));
    TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create("Some name", slug), Code::kInvalidArgument,
                                 "(T3)");
  }
}

TEST(Tenancy, T3_SlugDerivedFromName) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  const std::pair<const char*, const char*> cases[] = {
      {"Acme Inc.", "acme-inc"},
      {"  Hello,  World!! 2024 ", "hello-world-2024"},
      {"R&D -- Lab", "r-d-lab"},
      {"UPPER lower 42", "upper-lower-42"},
      {"...leading and trailing...", "leading-and-trailing"},
  };
  for (const auto& [name, slug] : cases) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(e.engine.slug_available(e.account, slug));
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws, e.Create(name));
    EXPECT_EQ(e.SlugOf(ws), slug);
    EXPECT_FALSE(e.engine.slug_available(e.account, slug));
  }
  // A derivation from a long name is still a valid slug (at most 50).
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId long_name, e.Create(Repeat("ab ", 30)));
  const std::string slug = e.SlugOf(long_name);
  EXPECT_LE(slug.size(), limits::kSlugMaxLength);
  EXPECT_GE(slug.size(), limits::kSlugMinLength);
  EXPECT_NE(slug.back(), '-');
  EXPECT_EQ(slug.rfind("ab-ab-", 0), 0u) << slug;
}

TEST(Tenancy, T3_ImpossibleDerivationRefused) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  for (const std::string& name :
       {std::string("!!"), Repeat(kSun, 2), std::string("a"), std::string("-- . --")}) {
    SCOPED_TRACE(name);
    TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create(name), Code::kInvalidArgument, "(T3)");
  }
  // The same names are fine with a slug given.
  TNY_EXPECT_OK(e.Create(Repeat(kSun, 2), "nihon"));
  TNY_EXPECT_OK(e.Create("!!", "bang"));
}

TEST(Tenancy, T3_SlugClashIsAnErrorNeverASuffix) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId first, e.Create("Acme Inc."));
  EXPECT_EQ(e.SlugOf(first), "acme-inc");
  // A derived clash and a given clash are both refused, never suffixed.
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create("ACME, inc"), Code::kAlreadyExists, "(T3)");
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.Create("Something else", "acme-inc"),
                               Code::kAlreadyExists, "(T3)");
  EXPECT_TRUE(e.engine.slug_available(e.account, "acme-inc-2"));
  EXPECT_TRUE(e.engine.slug_available(e.account, "acme-inc1"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountInfo info, e.engine.account(e.account));
  EXPECT_EQ(info.workspace_count, 1);
  // Another slug for the same name is fine: names need not be unique.
  TNY_EXPECT_OK(e.Create("Acme Inc.", "acme-inc-eu"));
}

TEST(Tenancy, T3_SameSlugAllowedInTwoAccounts) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId a, engine.create_account(AccountNamed("A", owner)));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId b, engine.create_account(AccountNamed("B", owner)));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId c, engine.create_account(AccountNamed("C", owner)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId in_a, engine.create_workspace(owner, a, Named("Dashboard")));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId in_b,
                           engine.create_workspace(owner, b, Named("Board", "dashboard")));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info_a, engine.workspace(in_a));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info_b, engine.workspace(in_b));
  EXPECT_EQ(info_a.slug, "dashboard");
  EXPECT_EQ(info_b.slug, "dashboard");
  EXPECT_FALSE(engine.slug_available(a, "dashboard"));
  EXPECT_FALSE(engine.slug_available(b, "dashboard"));
  EXPECT_TRUE(engine.slug_available(c, "dashboard"));
}

TEST(Tenancy, T3_SlugAvailableAnswersTheLiveCheck) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  EXPECT_TRUE(e.engine.slug_available(e.account, "reports"));
  TNY_ASSERT_OK(e.Create("Reports"));
  EXPECT_FALSE(e.engine.slug_available(e.account, "reports"));
  EXPECT_TRUE(e.engine.slug_available(e.account, "reports-2"));
  // Slugs that could never be created are not available either.
  EXPECT_FALSE(e.engine.slug_available(e.account, "Reports"));
  EXPECT_FALSE(e.engine.slug_available(e.account, "-reports"));
  EXPECT_FALSE(e.engine.slug_available(e.account, "r"));
}

TEST(Tenancy, T3_RenameKeepsSlug) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws, e.Create("Acme Inc."));
  const uint64_t revision = e.engine.revision();
  TNY_ASSERT_OK(e.engine.rename_workspace(e.owner, ws, "  Globex Corp \t"));
  EXPECT_GT(e.engine.revision(), revision);
  EXPECT_EQ(e.NameOf(ws), "Globex Corp");
  EXPECT_EQ(e.SlugOf(ws), "acme-inc");
  EXPECT_FALSE(e.engine.slug_available(e.account, "acme-inc"));
  EXPECT_TRUE(e.engine.slug_available(e.account, "globex-corp"));
  // A rename is held to the name rules.
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.engine.rename_workspace(e.owner, ws, "   "),
                               Code::kInvalidArgument, "(T3)");
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine,
                               e.engine.rename_workspace(e.owner, ws, std::string(101, 'n')),
                               Code::kInvalidArgument, "(T3)");
  TNY_EXPECT_REFUSED_UNCHANGED(e.engine, e.engine.rename_workspace(e.owner, 999, "Nowhere"),
                               Code::kNotFound, "(T3)");
  EXPECT_EQ(e.NameOf(ws), "Globex Corp");
}

// ---- T4: types and the tenant graph ----

TEST(Tenancy, T4_AgencyNeedsAPlanThatAllowsIt) {
  Engine engine;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, engine.create_user("owner@a.test"));
  const std::pair<const char*, std::optional<Plan>> refused[] = {
      {"starter", Plan::Named("starter")},
      {"growth", Plan::Named("growth")},
      {"scale", Plan::Named("scale")},
      {"custom without agency", Plan::Custom("big", 100, false)},
      {"unknown", Plan::Named("platinum")},
      {"unset", std::nullopt},
  };
  for (const auto& [label, plan] : refused) {
    SCOPED_TRACE(label);
    TNY_ASSERT_OK_AND_ASSIGN(AccountId account,
                             engine.create_account(AccountNamed(label, owner, plan)));
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.create_workspace(owner, account, Agency("Agency")),
                                 Code::kFailedPrecondition, "(T4)");
    // A simple workspace is fine on the same plan.
    TNY_EXPECT_OK(engine.create_workspace(owner, account, Named("Simple")));
  }
  const std::pair<const char*, Plan> allowed[] = {
      {"enterprise", Plan::Named("enterprise")},
      {"custom with agency", Plan::Custom("agency-pro", 10, true)},
  };
  for (const auto& [label, plan] : allowed) {
    SCOPED_TRACE(label);
    TNY_ASSERT_OK_AND_ASSIGN(AccountId account,
                             engine.create_account(AccountNamed(label, owner, plan)));
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId ws,
                             engine.create_workspace(owner, account, Agency("Agency")));
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, engine.workspace(ws));
    EXPECT_EQ(info.type, WorkspaceType::kAgency);
  }
}

TEST(Tenancy, T4_ClientSubWorkspacesBelongToTheAgencyAccount) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo agency, w.engine.workspace(w.agency));
  EXPECT_EQ(agency.type, WorkspaceType::kAgency);
  EXPECT_EQ(agency.parent, 0u);
  EXPECT_EQ(agency.depth, 1);
  for (WorkspaceId child : {w.client_a, w.client_b}) {
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, w.engine.workspace(child));
    EXPECT_EQ(info.account, w.account);
    EXPECT_EQ(info.parent, w.agency);
    EXPECT_EQ(info.depth, 2);
    EXPECT_EQ(info.type, WorkspaceType::kSimple);
  }
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo ops, w.engine.workspace(w.ops));
  EXPECT_EQ(ops.parent, 0u);
  EXPECT_EQ(ops.depth, 1);
}

TEST(Tenancy, T4_ParentMustBeAnAgencyOfTheSameAccount) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  // Under a simple workspace (top-level or itself a client): refused.
  for (WorkspaceId simple : {w.ops, w.client_a}) {
    TNY_EXPECT_REFUSED_UNCHANGED(
        engine, engine.create_workspace(w.acct_owner, w.account, Child("Under simple", simple)),
        Code::kFailedPrecondition, "(T4)");
  }
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.create_workspace(w.acct_owner, w.account, Child("Under nothing", 999)),
      Code::kNotFound, "(T4)");
  // Under another account's agency: refused, whoever asks.
  TNY_ASSERT_OK_AND_ASSIGN(UserId beta_owner, engine.create_user("owner@beta.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId beta, engine.create_account(AccountNamed(
                                               "Beta", beta_owner, Plan::Named("enterprise"))));
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.create_workspace(beta_owner, beta, Child("Stolen", w.agency)),
                               Code::kInvalidArgument, "(T4");
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.create_workspace(kSystem, beta, Child("Stolen", w.agency)),
                               Code::kInvalidArgument, "(T4");
  // Under the account's own agency: fine, and an agency may nest agencies.
  TNY_ASSERT_OK_AND_ASSIGN(
      WorkspaceId nested,
      engine.create_workspace(w.acct_owner, w.account, Agency("Sub agency", w.agency)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId leaf,
                           engine.create_workspace(w.acct_owner, w.account, Child("Leaf", nested)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, engine.workspace(leaf));
  EXPECT_EQ(info.parent, nested);
  EXPECT_EQ(info.depth, 3);
  EXPECT_EQ(info.account, w.account);
}

TEST(Tenancy, T4_DepthIsAtMostEight) {
  Enterprise e;
  ASSERT_NO_FATAL_FAILURE(e.Build());
  std::vector<WorkspaceId> chain;
  WorkspaceId parent = 0;
  for (int depth = 1; depth <= limits::kMaxDepth; ++depth) {
    TNY_ASSERT_OK_AND_ASSIGN(
        WorkspaceId ws, e.engine.create_workspace(e.owner, e.account,
                                                  Agency(absl::StrCat("Level ", depth), parent)));
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, e.engine.workspace(ws));
    EXPECT_EQ(info.depth, depth);
    EXPECT_EQ(info.parent, parent);
    chain.push_back(ws);
    parent = ws;
  }
  ASSERT_EQ(limits::kMaxDepth, 8);
  // A ninth level is refused, of either type.
  TNY_EXPECT_REFUSED_UNCHANGED(
      e.engine, e.engine.create_workspace(e.owner, e.account, Child("Level 9", chain.back())),
      Code::kFailedPrecondition, "(T4)");
  TNY_EXPECT_REFUSED_UNCHANGED(
      e.engine, e.engine.create_workspace(kSystem, e.account, Agency("Level 9", chain.back())),
      Code::kFailedPrecondition, "(T4)");
  // A simple leaf at depth 8 is fine.
  TNY_ASSERT_OK_AND_ASSIGN(
      WorkspaceId leaf, e.engine.create_workspace(e.owner, e.account, Child("Leaf 8", chain[6])));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, e.engine.workspace(leaf));
  EXPECT_EQ(info.depth, 8);
}

// ---- T5: status ----

const Perms kInactiveAll = {"workspace.view", "workspace.edit", "workspace.delete"};

TEST(Tenancy, T5_InactiveGrantsOnlyViewEditDeleteToHolders) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  EXPECT_GT(PermsOf(engine, w.ws_owner, w.client_a).size(), 40u);
  TNY_ASSERT_OK(engine.set_status(w.ws_owner, w.client_a, WorkspaceStatus::kInactive));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, engine.workspace(w.client_a));
  EXPECT_EQ(info.status, WorkspaceStatus::kInactive);

  EXPECT_EQ(PermsOf(engine, w.ws_owner, w.client_a), kInactiveAll);
  EXPECT_EQ(PermsOf(engine, w.acct_owner, w.client_a), kInactiveAll);
  EXPECT_EQ(PermsOf(engine, w.ws_admin, w.client_a), (Perms{"workspace.view", "workspace.edit"}));
  EXPECT_EQ(PermsOf(engine, w.acct_admin, w.client_a), (Perms{"workspace.view", "workspace.edit"}));
  EXPECT_EQ(PermsOf(engine, w.manager, w.client_a), Perms{"workspace.view"});
  EXPECT_EQ(PermsOf(engine, w.viewer, w.client_a), Perms{"workspace.view"});
  EXPECT_EQ(PermsOf(engine, w.client, w.client_a), Perms{"workspace.view"});
  EXPECT_EQ(PermsOf(engine, w.outsider, w.client_a), Perms{});
}

TEST(Tenancy, T5_InactiveKeepsDataAndReactivationRestores) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.set_setting(w.ws_admin, w.client_a, "approval_timeout_s", int64_t{600}));
  TNY_ASSERT_OK(engine.add_member(w.ws_admin, w.client_a, w.outsider, "manager"));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members, engine.members(w.client_a));
  const std::string before = test::WorkspaceFingerprint(engine, w.client_a);

  TNY_ASSERT_OK(engine.set_status(w.ws_admin, w.client_a, WorkspaceStatus::kInactive));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<Member> members_inactive, engine.members(w.client_a));
  EXPECT_EQ(members_inactive, members);
  TNY_ASSERT_OK_AND_ASSIGN(Settings settings, engine.settings(w.client_a));
  EXPECT_EQ(settings.approval_timeout_s, 600);
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceInfo info, engine.workspace(w.client_a));
  EXPECT_EQ(info.name, "Client A");
  EXPECT_EQ(info.slug, "client-a");
  EXPECT_EQ(info.owner, w.ws_owner);
  EXPECT_NE(test::WorkspaceFingerprint(engine, w.client_a), before);

  // Reactivation, by someone who still holds workspace.edit, restores all.
  TNY_ASSERT_OK(engine.set_status(w.ws_admin, w.client_a, WorkspaceStatus::kActive));
  EXPECT_EQ(test::WorkspaceFingerprint(engine, w.client_a), before);
}

TEST(Tenancy, T5_InactiveIsLeftOutOfSwitching) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  EXPECT_EQ(engine.workspaces_for(w.client), std::vector<WorkspaceId>{w.client_a});
  EXPECT_EQ(engine.workspaces_for(w.viewer),
            (std::vector<WorkspaceId>{w.agency, w.client_a, w.client_b}));
  TNY_ASSERT_OK(engine.set_status(w.ws_owner, w.client_a, WorkspaceStatus::kInactive));
  EXPECT_EQ(engine.workspaces_for(w.client), std::vector<WorkspaceId>{});
  EXPECT_EQ(engine.workspaces_for(w.viewer), (std::vector<WorkspaceId>{w.agency, w.client_b}));
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.switch_workspace(w.ws_owner, w.client_a),
                               Code::kFailedPrecondition, "T5");
}

TEST(Tenancy, T5_InactiveRefusesEverythingButStatusChanges) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.set_status(w.ws_owner, w.client_a, WorkspaceStatus::kInactive));
  // Even the owner: settings and members need permissions an inactive
  // workspace does not grant.
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.set_setting(w.ws_owner, w.client_a, "beta_opt_in", false),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.add_member(w.ws_owner, w.client_a, w.outsider, "viewer"),
                               Code::kPermissionDenied, "(M10)");
  // Holders of workspace.edit still rename it; others may not reactivate it.
  TNY_EXPECT_OK(engine.rename_workspace(w.ws_admin, w.client_a, "Client A (paused)"));
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.set_status(w.manager, w.client_a, WorkspaceStatus::kActive),
                               Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_REFUSED_UNCHANGED(engine,
                               engine.set_status(w.client, w.client_a, WorkspaceStatus::kActive),
                               Code::kPermissionDenied, "(M10)");
}

// ---- T6: settings ----

TEST(Tenancy, T6_Defaults) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    TNY_ASSERT_OK_AND_ASSIGN(Settings settings, w.engine.settings(ws));
    EXPECT_TRUE(settings.beta_opt_in);
    EXPECT_EQ(settings.approval_timeout_s, 86400);
    EXPECT_EQ(settings.inactivity_timeout_s, 0);
  }
  TNY_EXPECT_REFUSED(w.engine.settings(999), Code::kNotFound, "(T6)");
}

TEST(Tenancy, T6_ValuesInRangeAccepted) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  const WorkspaceId ws = w.client_a;
  TNY_ASSERT_OK(engine.set_setting(w.ws_admin, ws, "beta_opt_in", false));
  TNY_ASSERT_OK_AND_ASSIGN(Settings settings, engine.settings(ws));
  EXPECT_FALSE(settings.beta_opt_in);
  for (int64_t value : {int64_t{60}, int64_t{3600}, int64_t{604800}}) {
    TNY_ASSERT_OK(engine.set_setting(w.ws_admin, ws, "approval_timeout_s", value));
    TNY_ASSERT_OK_AND_ASSIGN(settings, engine.settings(ws));
    EXPECT_EQ(settings.approval_timeout_s, value);
  }
  for (int64_t value : {int64_t{900}, limits::kInactivityTimeoutMaxS, int64_t{0}}) {
    TNY_ASSERT_OK(engine.set_setting(w.ws_admin, ws, "inactivity_timeout_s", value));
    TNY_ASSERT_OK_AND_ASSIGN(settings, engine.settings(ws));
    EXPECT_EQ(settings.inactivity_timeout_s, value);
  }
}

TEST(Tenancy, T6_OutOfRangeRefused) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (int64_t value : {int64_t{59}, int64_t{604801}, int64_t{0}, int64_t{-60}}) {
    SCOPED_TRACE(value);
    TNY_EXPECT_REFUSED_UNCHANGED(
        engine, engine.set_setting(w.ws_admin, w.client_a, "approval_timeout_s", value),
        Code::kInvalidArgument, "(T6)");
  }
  // inactivity_timeout_s: 0 (off) up to one year (limits.h).
  for (int64_t value : {int64_t{-1}, limits::kInactivityTimeoutMaxS + 1}) {
    SCOPED_TRACE(value);
    TNY_EXPECT_REFUSED_UNCHANGED(
        engine, engine.set_setting(w.ws_admin, w.client_a, "inactivity_timeout_s", value),
        Code::kInvalidArgument, "(T6)");
  }
}

TEST(Tenancy, T6_WrongTypeOrUnknownSettingRefused) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.set_setting(w.ws_admin, w.client_a, "beta_opt_in", int64_t{1}),
      Code::kInvalidArgument, "(T6)");
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.set_setting(w.ws_admin, w.client_a, "approval_timeout_s", true),
      Code::kInvalidArgument, "(T6)");
  TNY_EXPECT_REFUSED_UNCHANGED(
      engine, engine.set_setting(w.ws_admin, w.client_a, "inactivity_timeout_s", false),
      Code::kInvalidArgument, "(T6)");
  for (const char* name : {"approval_timeout", "Beta_Opt_In", "", "dark_mode"}) {
    SCOPED_TRACE(name);
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_setting(w.ws_admin, w.client_a, name, true),
                                 Code::kInvalidArgument, "(T6)");
  }
  TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.set_setting(kSystem, 999, "beta_opt_in", true),
                               Code::kNotFound, "(T6)");
}

TEST(Tenancy, T6_SettingsAreIndependentPerWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.set_setting(w.ws_admin, w.client_a, "beta_opt_in", false));
  TNY_ASSERT_OK(engine.set_setting(w.ws_admin, w.client_a, "approval_timeout_s", int64_t{120}));
  TNY_ASSERT_OK(engine.set_setting(kSystem, w.client_b, "inactivity_timeout_s", int64_t{1800}));
  TNY_ASSERT_OK_AND_ASSIGN(Settings a, engine.settings(w.client_a));
  TNY_ASSERT_OK_AND_ASSIGN(Settings b, engine.settings(w.client_b));
  TNY_ASSERT_OK_AND_ASSIGN(Settings agency, engine.settings(w.agency));
  EXPECT_FALSE(a.beta_opt_in);
  EXPECT_EQ(a.approval_timeout_s, 120);
  EXPECT_EQ(a.inactivity_timeout_s, 0);
  EXPECT_TRUE(b.beta_opt_in);
  EXPECT_EQ(b.approval_timeout_s, 86400);
  EXPECT_EQ(b.inactivity_timeout_s, 1800);
  // The agency's settings do not flow down, nor its children's up.
  EXPECT_TRUE(agency.beta_opt_in);
  EXPECT_EQ(agency.approval_timeout_s, 86400);
  EXPECT_EQ(agency.inactivity_timeout_s, 0);
  TNY_ASSERT_OK(engine.set_setting(w.ws_admin, w.agency, "approval_timeout_s", int64_t{300}));
  TNY_ASSERT_OK_AND_ASSIGN(a, engine.settings(w.client_a));
  EXPECT_EQ(a.approval_timeout_s, 120);
  TNY_ASSERT_OK_AND_ASSIGN(b, engine.settings(w.client_b));
  EXPECT_EQ(b.approval_timeout_s, 86400);
}

// ---- T8: independence ----

// The parts of the world that a change inside `changed` must not touch:
// every other workspace that is not below it, and the account.
std::string Elsewhere(const World& w, WorkspaceId changed) {
  std::string out = test::AccountFingerprint(w.engine, w.account);
  for (WorkspaceId ws : {w.agency, w.client_a, w.client_b, w.ops}) {
    if (ws != changed) out += test::WorkspaceFingerprint(w.engine, ws);
  }
  return out;
}

TEST(Tenancy, T8_RoleChangesStayInTheirWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (WorkspaceId changed : {w.client_a, w.client_b, w.ops}) {
    SCOPED_TRACE(changed);
    const std::string before = Elsewhere(w, changed);
    TNY_ASSERT_OK(engine.add_member(kSystem, changed, w.outsider, "viewer"));
    EXPECT_EQ(Elsewhere(w, changed), before);
    TNY_ASSERT_OK(engine.set_role(kSystem, changed, w.outsider, "admin"));
    EXPECT_EQ(Elsewhere(w, changed), before);
    TNY_ASSERT_OK(engine.remove_member(kSystem, changed, w.outsider));
    EXPECT_EQ(Elsewhere(w, changed), before);
  }
}

TEST(Tenancy, T8_SettingAndNameChangesStayInTheirWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (WorkspaceId changed : {w.agency, w.client_a, w.ops}) {
    SCOPED_TRACE(changed);
    const std::string before = Elsewhere(w, changed);
    TNY_ASSERT_OK(engine.set_setting(kSystem, changed, "beta_opt_in", false));
    TNY_ASSERT_OK(engine.set_setting(kSystem, changed, "approval_timeout_s", int64_t{61}));
    TNY_ASSERT_OK(engine.set_setting(kSystem, changed, "inactivity_timeout_s", int64_t{62}));
    TNY_ASSERT_OK(engine.rename_workspace(kSystem, changed, "Renamed"));
    EXPECT_EQ(Elsewhere(w, changed), before);
  }
}

TEST(Tenancy, T8_StatusChangesStayInTheirWorkspace) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  for (WorkspaceId changed : {w.client_a, w.client_b, w.ops}) {
    SCOPED_TRACE(changed);
    const std::string before = Elsewhere(w, changed);
    TNY_ASSERT_OK(engine.set_status(kSystem, changed, WorkspaceStatus::kInactive));
    EXPECT_EQ(Elsewhere(w, changed), before);
    TNY_ASSERT_OK(engine.set_status(kSystem, changed, WorkspaceStatus::kActive));
    EXPECT_EQ(Elsewhere(w, changed), before);
  }
}

TEST(Tenancy, T8_ARoleInOneWorkspaceGrantsNothingInItsSiblingsOrAbove) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  Engine& engine = w.engine;
  TNY_ASSERT_OK(engine.add_member(kSystem, w.client_a, w.outsider, "admin"));
  EXPECT_FALSE(PermsOf(engine, w.outsider, w.client_a).empty());
  for (WorkspaceId other : {w.client_b, w.agency, w.ops}) {
    SCOPED_TRACE(other);
    EXPECT_EQ(PermsOf(engine, w.outsider, other), Perms{});
    TNY_EXPECT_REFUSED_UNCHANGED(engine,
                                 engine.set_setting(w.outsider, other, "beta_opt_in", false),
                                 Code::kPermissionDenied, "(M10)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine, engine.add_member(w.outsider, other, w.manager, "viewer"),
                                 Code::kPermissionDenied, "(M10)");
    TNY_EXPECT_REFUSED_UNCHANGED(engine,
                                 engine.set_status(w.outsider, other, WorkspaceStatus::kInactive),
                                 Code::kPermissionDenied, "(M10)");
  }
}

}  // namespace
}  // namespace tenantry
