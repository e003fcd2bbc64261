// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 6, credits and quotas (C1-C8), the combined check A7, and
// where credits meet tenancy: no consumption in an inactive workspace (T5)
// and credits returned to the pool on delete (T7). Every rule is proved on
// both sides: what is allowed, and what is refused with its exact code, a
// message naming the rule, and no change at all (balances, pools, ledger,
// reservations, revision and the rest of the visible state; section 10).
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/clock.h"
#include "tenantry/engine.h"
#include "tenantry/limits.h"
#include "tenantry/types.h"
#include "test_util.h"

namespace tenantry {
namespace {

using Code = absl::StatusCode;
using Amounts = BucketAmounts;

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kCap = limits::kMaxWorkspaceBalance;

// Ids no engine in these tests ever hands out.
constexpr uint64_t kHostileIds[] = {0, 999'999, 0x9e3779b97f4a7c15ULL,
                                    std::numeric_limits<uint64_t>::max() - 1};

// ---- The world ----

Engine::Options WithClock(Engine::Options options, std::shared_ptr<ManualClock> clock) {
  options.clock = std::move(clock);
  return options;
}

// An enterprise account "Acme" with an agency workspace, its client
// sub-workspaces "Client A" and "Client B", and a simple "Ops"; staff owner,
// admin and member; workspace roles in the agency; a client in Client A.
// A second account "Other" with one workspace "Elsewhere". The engine runs
// on a manual clock.
class Bank {
 public:
  explicit Bank(Engine::Options options = {})
      : clock(std::make_shared<ManualClock>()), engine(WithClock(std::move(options), clock)) {}

  std::shared_ptr<ManualClock> clock;
  Engine engine;
  UserId owner = 0, admin = 0, staff = 0, ws_owner = 0, ws_admin = 0, member = 0, viewer = 0;
  UserId client = 0, outsider = 0, other_owner = 0;
  AccountId account = 0, other = 0;
  WorkspaceId agency = 0, client_a = 0, client_b = 0, ops = 0, elsewhere = 0;
  // Every reservation a test made through Reserve(), shown by State().
  std::vector<ReservationId> holds;

  // Use as ASSERT_NO_FATAL_FAILURE(bank.Build()).
  void Build() {
    const std::pair<UserId*, const char*> users[] = {
        {&owner, "owner@acme.test"},       {&admin, "admin@acme.test"},
        {&staff, "staff@acme.test"},       {&ws_owner, "ws-owner@acme.test"},
        {&ws_admin, "ws-admin@acme.test"}, {&member, "member@acme.test"},
        {&viewer, "viewer@acme.test"},     {&client, "client@customer.test"},
        {&outsider, "outsider@else.test"}, {&other_owner, "boss@other.test"}};
    for (const auto& [id, key] : users) {
      TNY_ASSERT_OK_AND_ASSIGN(*id, engine.create_user(key));
    }
    TNY_ASSERT_OK_AND_ASSIGN(account, engine.create_account(test::AccountNamed(
                                          "Acme", owner, Plan::Named("enterprise"), "acme")));
    TNY_ASSERT_OK_AND_ASSIGN(other, engine.create_account(test::AccountNamed(
                                        "Other", other_owner, Plan::Named("enterprise"), "other")));
    TNY_ASSERT_OK(engine.add_staff(kSystem, account, admin, "admin"));
    TNY_ASSERT_OK(engine.add_staff(kSystem, account, staff, "member"));
    TNY_ASSERT_OK_AND_ASSIGN(agency,
                             Create(account, "Agency", WorkspaceType::kAgency, 0, ws_owner));
    TNY_ASSERT_OK_AND_ASSIGN(client_a,
                             Create(account, "Client A", WorkspaceType::kSimple, agency, ws_owner));
    TNY_ASSERT_OK_AND_ASSIGN(client_b,
                             Create(account, "Client B", WorkspaceType::kSimple, agency, ws_owner));
    TNY_ASSERT_OK_AND_ASSIGN(ops, Create(account, "Ops", WorkspaceType::kSimple, 0, 0));
    TNY_ASSERT_OK_AND_ASSIGN(elsewhere, Create(other, "Elsewhere", WorkspaceType::kSimple, 0, 0));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, ws_admin, "admin"));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, member, "member"));
    TNY_ASSERT_OK(engine.add_member(kSystem, agency, viewer, "viewer"));
    TNY_ASSERT_OK(engine.add_member(kSystem, client_a, client, "client"));
  }

  absl::StatusOr<WorkspaceId> Create(AccountId in, std::string name, WorkspaceType type,
                                     WorkspaceId parent, UserId ws_owner_id) {
    WorkspaceSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.parent = parent;
    spec.owner = ws_owner_id;
    return engine.create_workspace(kSystem, in, std::move(spec));
  }

  // Grants `regular` and `extra` to the workspace's account pool and
  // transfers both, so the workspace gains exactly {regular, extra}. The
  // pool must hold nothing of the meter before (checked through the split).
  // Use as ASSERT_NO_FATAL_FAILURE(bank.Fund(...)).
  void Fund(WorkspaceId ws, int64_t regular, int64_t extra, MeterRef meter = kCredits) {
    absl::StatusOr<WorkspaceInfo> info = engine.workspace(ws);
    ASSERT_TRUE(info.ok()) << info.status();
    if (regular > 0) TNY_ASSERT_OK(engine.grant(kSystem, info->account, regular, meter, "regular"));
    if (extra > 0) TNY_ASSERT_OK(engine.grant(kSystem, info->account, extra, meter, "extra"));
    TNY_ASSERT_OK_AND_ASSIGN(Amounts taken,
                             engine.transfer(kSystem, info->account, ws, regular + extra, meter));
    ASSERT_EQ(taken, (Amounts{regular, extra}));
  }

  // reserve(), remembering the id for State().
  absl::StatusOr<ReservationId> Reserve(WorkspaceId ws, int64_t amount, MeterRef meter = kCredits,
                                        int64_t ttl_s = 3600) {
    absl::StatusOr<ReservationId> id = engine.reserve(ws, amount, meter, ttl_s);
    if (id.ok()) holds.push_back(*id);
    return id;
  }

  Balance Bal(WorkspaceId ws, MeterRef meter = kCredits) const {
    absl::StatusOr<Balance> b = engine.balance(ws, meter);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.value_or(Balance{});
  }
  AccountBalance Pool(AccountId a, MeterRef meter = kCredits) const {
    absl::StatusOr<AccountBalance> b = engine.account_balance(a, meter);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.value_or(AccountBalance{});
  }
  std::vector<LedgerEntry> Ledger(const LedgerQuery& query = {}) const {
    absl::StatusOr<std::vector<LedgerEntry>> entries = engine.ledger(query);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.value_or(std::vector<LedgerEntry>{});
  }
  LedgerEntry LastEntry() const {
    std::vector<LedgerEntry> all = Ledger();
    EXPECT_FALSE(all.empty());
    return all.empty() ? LedgerEntry{} : all.back();
  }
  int64_t Now() const { return clock->now_ns(); }
  PermissionId Perm(absl::string_view name) const {
    absl::StatusOr<PermissionId> id = engine.permission(name);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(0);
  }
};

// ---- What a refusal must leave unchanged ----

std::string AmountsText(const Amounts& a) { return absl::StrCat("{", a[0], ",", a[1], "}"); }

std::string EntryText(const LedgerEntry& e) {
  return absl::StrCat("#", e.sequence, " rev=", e.revision, " t=", e.time_ns, " actor=", e.actor,
                      " acct=", e.account, " ws=", e.workspace, " meter=", e.meter,
                      " kind=", static_cast<int>(e.kind), " amounts=", AmountsText(e.amounts),
                      " returned=", AmountsText(e.returned), " res=", e.reservation);
}

// Every meter, every account pool, every workspace balance, the ledger and
// the listed reservations, as text.
std::string CreditState(const Engine& engine, const std::vector<ReservationId>& holds) {
  const Engine::Stats stats = engine.stats();
  std::string out = absl::StrCat("revision=", engine.revision(), "\n");
  std::vector<MeterId> meters;
  for (MeterId m = 0; m < limits::kMaxMeters; ++m) {
    absl::StatusOr<MeterInfo> info = engine.meter(m);
    if (!info.ok()) continue;
    meters.push_back(m);
    absl::StrAppend(&out, "meter ", m, " ", info->name, " ", absl::StrJoin(info->buckets, ","),
                    "\n");
  }
  for (AccountId a = 1; a <= stats.accounts + 8; ++a) {
    for (MeterId m : meters) {
      absl::StatusOr<AccountBalance> b = engine.account_balance(a, m);
      if (!b.ok()) continue;
      absl::StrAppend(&out, "pool ", a, "/", m, " ", AmountsText(b->buckets),
                      " granted=", b->granted, " deleted=", b->consumed_by_deleted, "\n");
    }
  }
  for (WorkspaceId w = 1; w <= stats.workspaces + 32; ++w) {
    for (MeterId m : meters) {
      absl::StatusOr<Balance> b = engine.balance(w, m);
      if (!b.ok()) continue;
      absl::StrAppend(&out, "balance ", w, "/", m, " ", AmountsText(b->buckets), " held=", b->held,
                      " consumed=", b->consumed, "\n");
    }
  }
  absl::StatusOr<std::vector<LedgerEntry>> ledger = engine.ledger();
  if (ledger.ok()) {
    absl::StrAppend(&out, "ledger size=", ledger->size(), "\n");
    for (const LedgerEntry& e : *ledger) absl::StrAppend(&out, "  ", EntryText(e), "\n");
  } else {
    absl::StrAppend(&out, "ledger ", ledger.status().ToString(), "\n");
  }
  for (ReservationId id : holds) {
    absl::StatusOr<ReservationInfo> r = engine.reservation(id);
    if (!r.ok()) {
      absl::StrAppend(&out, "reservation ", id, " ", r.status().code(), "\n");
      continue;
    }
    absl::StrAppend(&out, "reservation ", id, " ws=", r->workspace, " meter=", r->meter,
                    " held=", AmountsText(r->held), " expires=", r->expires_at_ns, "\n");
  }
  return out;
}

std::string State(const Bank& b) {
  return test::Fingerprint(b.engine) + CreditState(b.engine, b.holds);
}

// The call is refused with `want_code`, its message names `want_rule`, and
// nothing visible changed.
#define CREDITS_EXPECT_REFUSED_UNCHANGED(bank, expr, want_code, want_rule) \
  do {                                                                     \
    const std::string credits_state_before = State(bank);                  \
    TNY_EXPECT_REFUSED(expr, want_code, want_rule);                        \
    EXPECT_EQ(State(bank), credits_state_before);                          \
  } while (false)

// As above where the contract leaves the rule id open between a few: the
// message must match `rule_regex` (e.g. "\\((C1|C3)\\)").
#define CREDITS_EXPECT_REFUSED_RE_UNCHANGED(bank, expr, want_code, rule_regex)                \
  do {                                                                                        \
    const std::string credits_state_before = State(bank);                                     \
    const absl::Status credits_status = ::tenantry::test::StatusOf(expr);                     \
    EXPECT_EQ(credits_status.code(), want_code) << credits_status;                            \
    EXPECT_THAT(std::string(credits_status.message()), ::testing::ContainsRegex(rule_regex)); \
    TNY_EXPECT_RULES_CARRIED(credits_status);                                                 \
    EXPECT_EQ(State(bank), credits_state_before);                                             \
  } while (false)

// Any rule id, e.g. "(T4)" or "(C5)": for unknown ids, where the contract
// names no rule.
constexpr char kAnyRule[] = "\\([A-Z][0-9]+";

// C8 as the contract states it, checkable from outside: granted = pool +
// every live workspace's (regular + extra + held + consumed) + what deleted
// workspaces consumed.
void ExpectConserved(const Engine& engine, AccountId account, MeterRef meter) {
  absl::StatusOr<AccountBalance> pool = engine.account_balance(account, meter);
  ASSERT_TRUE(pool.ok()) << pool.status();
  int64_t sum = pool->buckets[0] + pool->buckets[1] + pool->consumed_by_deleted;
  for (WorkspaceId w = 1; w <= engine.stats().workspaces + 64; ++w) {
    absl::StatusOr<WorkspaceInfo> info = engine.workspace(w);
    if (!info.ok() || info->account != account) continue;
    absl::StatusOr<Balance> b = engine.balance(w, meter);
    ASSERT_TRUE(b.ok()) << b.status();
    sum += b->buckets[0] + b->buckets[1] + b->held + b->consumed;
  }
  EXPECT_EQ(pool->granted, sum) << "account " << account;
}

std::vector<LedgerEntry> OfKind(const std::vector<LedgerEntry>& entries, LedgerKind kind) {
  std::vector<LedgerEntry> out;
  for (const LedgerEntry& e : entries) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

// =====================================================================
// C1: meters and buckets
// =====================================================================

TEST(Meters, C1_BuiltInMetersExistFromTheStart) {
  Engine e;
  TNY_ASSERT_OK_AND_ASSIGN(MeterInfo credits, e.meter(kCredits));
  EXPECT_EQ(credits.id, kCredits);
  EXPECT_EQ(credits.name, "credits");
  EXPECT_EQ(credits.buckets, (std::vector<std::string>{"regular", "extra"}));
  TNY_ASSERT_OK_AND_ASSIGN(MeterInfo minutes, e.meter(kMinutes));
  EXPECT_EQ(minutes.id, kMinutes);
  EXPECT_EQ(minutes.name, "minutes");
  EXPECT_EQ(minutes.buckets, (std::vector<std::string>{"regular"}));
  // By name, the same meters.
  TNY_ASSERT_OK_AND_ASSIGN(MeterInfo by_name, e.meter("credits"));
  EXPECT_EQ(by_name.id, kCredits);
  TNY_ASSERT_OK_AND_ASSIGN(by_name, e.meter("minutes"));
  EXPECT_EQ(by_name.id, kMinutes);
  EXPECT_EQ(e.revision(), 0u);
}

TEST(Meters, C1_DefineMeterAssignsTheNextIdAndIsIdempotent) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  const uint64_t rev = e.revision();
  TNY_ASSERT_OK_AND_ASSIGN(MeterId tokens, e.define_meter("tokens", {"regular", "bonus"}));
  EXPECT_EQ(tokens, 2u);
  EXPECT_EQ(e.revision(), rev + 1);  // a credit change: a revision and an audit record
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, e.changes_since(rev));
  ASSERT_EQ(feed.size(), 1u);
  EXPECT_EQ(feed[0].revision, rev + 1);

  TNY_ASSERT_OK_AND_ASSIGN(MeterInfo info, e.meter("tokens"));
  EXPECT_EQ(info.id, tokens);
  EXPECT_EQ(info.name, "tokens");
  EXPECT_EQ(info.buckets, (std::vector<std::string>{"regular", "bonus"}));

  // The same definition again: the same id, nothing changes.
  const std::string before = State(b);
  TNY_ASSERT_OK_AND_ASSIGN(MeterId again, e.define_meter("tokens", {"regular", "bonus"}));
  EXPECT_EQ(again, tokens);
  EXPECT_EQ(State(b), before);
  // So for the built-in ones.
  TNY_ASSERT_OK_AND_ASSIGN(MeterId credits, e.define_meter("credits", {"regular", "extra"}));
  EXPECT_EQ(credits, kCredits);
  TNY_ASSERT_OK_AND_ASSIGN(MeterId minutes, e.define_meter("minutes", {"regular"}));
  EXPECT_EQ(minutes, kMinutes);
  EXPECT_EQ(State(b), before);

  // A one-bucket meter gets the next id; both are usable by id and by name.
  TNY_ASSERT_OK_AND_ASSIGN(MeterId seats, e.define_meter("seats_2", {"main"}));
  EXPECT_EQ(seats, 3u);
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 10, "tokens", "bonus"));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 5, tokens, "regular"));
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, 12, "tokens"));
  EXPECT_EQ(taken, (Amounts{5, 7}));  // its first bucket first
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 4, seats, "main"));
  TNY_ASSERT_OK_AND_ASSIGN(taken, e.transfer(kSystem, b.account, b.ops, 4, seats));
  EXPECT_EQ(taken, (Amounts{4, 0}));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 6, tokens));
  EXPECT_EQ(left, 6);
  EXPECT_EQ(b.Bal(b.ops, tokens).buckets, (Amounts{0, 6}));
  EXPECT_EQ(b.Bal(b.ops, "seats_2").buckets, (Amounts{4, 0}));
  // Other meters are untouched (C1: meters are independent).
  EXPECT_EQ(b.Bal(b.ops).available(), 0);
  EXPECT_EQ(b.Pool(b.account).granted, 0);
  TNY_EXPECT_OK(e.verify());
}

TEST(Meters, C1_RedefiningWithOtherBucketsIsAlreadyExists) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.define_meter("tokens", {"regular"}).status());
  const std::vector<std::pair<std::string, std::vector<std::string>>> clashes = {
      {"tokens", {"regular", "extra"}},
      {"tokens", {"other"}},
      {"credits", {"regular"}},
      {"credits", {"extra", "regular"}},  // the order is part of the definition
      {"credits", {"regular", "bonus"}},
      {"minutes", {"regular", "extra"}},
      {"minutes", {"seconds"}},
  };
  for (const auto& [name, buckets] : clashes) {
    SCOPED_TRACE(absl::StrCat(name, " ", absl::StrJoin(buckets, ",")));
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.define_meter(name, buckets), Code::kAlreadyExists,
                                     "(C1)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(MeterInfo info, e.meter("tokens"));
  EXPECT_EQ(info.buckets, (std::vector<std::string>{"regular"}));
}

TEST(Meters, C1_DefineMeterRejectsInvalidNamesAndBuckets) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  const std::string longest(limits::kMeterNameMaxBytes, 'a');
  const std::string too_long(limits::kMeterNameMaxBytes + 1, 'a');
  const std::vector<std::string> bad_names = {"",
                                              "Tokens",
                                              "to-ken",
                                              "tok en",
                                              "tok.en",
                                              "tokens\n",
                                              "\xc3\xa9t\xc3\xa9",
                                              too_long,
                                              std::string("to\0k", 4),
                                              std::string(5000, 'x')};
  for (const std::string& name : bad_names) {
    SCOPED_TRACE(absl::StrCat("name '", name.substr(0, 80), "'"));
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.define_meter(name, {"regular"}), Code::kInvalidArgument,
                                     "(C1)");
  }
  const std::vector<std::vector<std::string>> bad_buckets = {
      {},          {"a", "b", "c"}, {"regular", "regular"}, {""},
      {"Regular"}, {"reg-ular"},    {"regular", ""},        {too_long},
  };
  for (const std::vector<std::string>& buckets : bad_buckets) {
    SCOPED_TRACE(absl::StrCat("buckets ", absl::StrJoin(buckets, ",")));
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.define_meter("tokens", buckets), Code::kInvalidArgument,
                                     "(C1)");
  }
  // The limits themselves are fine.
  TNY_EXPECT_OK(e.define_meter(longest, {"a"}).status());
  TNY_EXPECT_OK(
      e.define_meter("a", {std::string(limits::kMeterNameMaxBytes, 'b'), "c_9"}).status());
  TNY_EXPECT_OK(e.define_meter("0_9", {"x"}).status());
  TNY_EXPECT_OK(e.verify());
}

TEST(Meters, C1_AtMostMaxMetersMeters) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  // Two built-in ones; the application may add the rest.
  for (size_t i = 2; i < limits::kMaxMeters; ++i) {
    TNY_ASSERT_OK_AND_ASSIGN(MeterId id, e.define_meter(absl::StrCat("m", i), {"regular"}));
    EXPECT_EQ(id, i);
  }
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.define_meter("one_too_many", {"regular"}),
                                   Code::kResourceExhausted, "(C1)");
  // Redefining an existing one is still fine; the last one works.
  TNY_ASSERT_OK_AND_ASSIGN(MeterId last,
                           e.define_meter(absl::StrCat("m", limits::kMaxMeters - 1), {"regular"}));
  EXPECT_EQ(last, limits::kMaxMeters - 1);
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 3, last));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 3, last).status());
  EXPECT_EQ(b.Bal(b.ops, last).available(), 3);
  TNY_EXPECT_OK(e.verify());
}

TEST(Meters, C1_UnknownMeterIsNotFoundEverywhere) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 50, 50));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 50, 0, kMinutes));
  Engine& e = b.engine;
  const std::vector<MeterRef> unknown = {MeterRef(MeterId{2}),          MeterRef(MeterId{63}),
                                         MeterRef(MeterId{64}),         MeterRef(MeterId{1000}),
                                         MeterRef(MeterId{0xfffffffe}), MeterRef("nope"),
                                         MeterRef("Credits"),           MeterRef(""),
                                         MeterRef("credits ")};
  for (const MeterRef& m : unknown) {
    SCOPED_TRACE(m.by_name() ? absl::StrCat("name '", m.name(), "'") : absl::StrCat("id ", m.id()));
    TNY_EXPECT_REFUSED(e.meter(m), Code::kNotFound, "(C1)");
    TNY_EXPECT_REFUSED(e.balance(b.ops, m), Code::kNotFound, "(C1)");
    TNY_EXPECT_REFUSED(e.account_balance(b.account, m), Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 5, m), Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 5, m),
                                     Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 5, m, "regular"), Code::kNotFound,
                                     "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 5, m), Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 5, m, "key"), Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.ops, 5, m), Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(
        b, e.authorize_and_consume(b.owner, b.ops, b.Perm("credits.consume"), 5, m),
        Code::kNotFound, "(C1)");
  }
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{50, 50}));
}

TEST(Meters, C1_UnknownBucketIsNotFound) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 50, 50));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 50, 0, kMinutes));
  Engine& e = b.engine;
  for (const char* bucket : {"bonus", "", "Regular", "regular ", "extra\n"}) {
    SCOPED_TRACE(bucket);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 5, kCredits, bucket),
                                     Code::kNotFound, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 5, kCredits, bucket),
                                     Code::kNotFound, "(C1)");
  }
  // minutes has one bucket: "extra" is unknown there.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 5, kMinutes, "extra"),
                                   Code::kNotFound, "(C1)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 5, kMinutes, "extra"),
                                   Code::kNotFound, "(C1)");
}

TEST(Meters, C1_MinutesHasOneBucketAndIsIndependentOfCredits) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100, "minutes"));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 7, kCredits, "extra"));
  AccountBalance minutes_pool = b.Pool(b.account, kMinutes);
  EXPECT_EQ(minutes_pool.buckets, (Amounts{100, 0}));
  EXPECT_EQ(minutes_pool.granted, 100);
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, 60, kMinutes));
  EXPECT_EQ(taken, (Amounts{60, 0}));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 25, kMinutes));
  EXPECT_EQ(left, 35);
  Balance minutes = b.Bal(b.ops, kMinutes);
  EXPECT_EQ(minutes.buckets, (Amounts{35, 0}));
  EXPECT_EQ(minutes.consumed, 25);
  // The credits of the same workspace never moved.
  Balance credits = b.Bal(b.ops, kCredits);
  EXPECT_EQ(credits.buckets, (Amounts{0, 0}));
  EXPECT_EQ(credits.consumed, 0);
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{0, 7}));
  // A minutes consume cannot reach credits' extra.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 36, kMinutes), Code::kResourceExhausted,
                                   "(C5)");
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 35, kMinutes, "regular"));
  EXPECT_EQ(b.Pool(b.account, kMinutes).buckets, (Amounts{75, 0}));
  ExpectConserved(e, b.account, kMinutes);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

// ---- C1: overflow is an error, never a wrap ----

TEST(Credits, C1_GrantNeverWrapsPastInt64Max) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, kI64Max));
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.buckets, (Amounts{kI64Max, 0}));
  EXPECT_EQ(pool.granted, kI64Max);
  // The bucket would pass INT64_MAX.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 1), Code::kResourceExhausted,
                                   "(C1)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, kI64Max),
                                   Code::kResourceExhausted, "(C1)");
  // The extra bucket is empty, but `granted` would pass INT64_MAX.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 1, kCredits, "extra"),
                                   Code::kResourceExhausted, "(C1)");
  // Other meters and other accounts have their own counts.
  TNY_EXPECT_OK(e.grant(kSystem, b.account, kI64Max, kMinutes));
  TNY_EXPECT_OK(e.grant(kSystem, b.other, kI64Max, kCredits, "extra"));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.other, 1, kCredits, "regular"),
                                   Code::kResourceExhausted, "(C1)");
  // After money left the pool, granted still bounds the next grant.
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 1000).status());
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 1), Code::kResourceExhausted,
                                   "(C1)");
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C1_GrantUpToInt64MaxInSteps) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, kI64Max - 1, kCredits, "extra"));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 1, kCredits, "regular"));  // exactly INT64_MAX
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.granted, kI64Max);
  EXPECT_EQ(pool.buckets, (Amounts{1, kI64Max - 1}));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, 1, kCredits, "regular"),
                                   Code::kResourceExhausted, "(C1)");
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C1_TransferNeverPassesTheWorkspaceCapacity) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, kCap + 100));
  // More than a workspace can hold, at once.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, kCap + 1),
                                   Code::kResourceExhausted, "(C1)");
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, kCap));
  EXPECT_EQ(taken, (Amounts{kCap, 0}));
  EXPECT_EQ(b.Bal(b.ops).available(), kCap);
  // Full: one more unit is refused, though the pool has it.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 1),
                                   Code::kResourceExhausted, "(C1)");
  // Held amounts count against the capacity too.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.ops, 10));
  EXPECT_EQ(b.Bal(b.ops).held, 10);
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 1),
                                   Code::kResourceExhausted, "(C1)");
  // Consumed amounts do not: after a commit of 10, there is room for 10.
  TNY_ASSERT_OK(e.commit(hold, 10));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 11),
                                   Code::kResourceExhausted, "(C1)");
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 10).status());
  EXPECT_EQ(b.Bal(b.ops).available(), kCap);
  // Revoking makes room again.
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 5));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 5).status());
  // Another workspace has its own capacity.
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.client_a, 80).status());
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C1_NonPositiveAmountsAreRefusedEverywhere) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 100));
  TNY_ASSERT_OK(b.engine.grant(kSystem, b.account, 100));  // something left in the pool
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.ops, 10));
  Engine& e = b.engine;
  const PermissionId consume_perm = b.Perm("credits.consume");
  for (int64_t amount : {int64_t{0}, int64_t{-1}, int64_t{-100}, kI64Min, kI64Min + 1}) {
    SCOPED_TRACE(amount);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, amount), Code::kInvalidArgument,
                                     "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(kSystem, b.account, amount, kCredits, "extra"),
                                     Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, amount),
                                     Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, amount), Code::kInvalidArgument,
                                     "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, amount, kCredits, "extra"),
                                     Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, amount), Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, amount, kCredits, "k"),
                                     Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.ops, amount), Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b,
                                     e.authorize_and_consume(b.owner, b.ops, consume_perm, amount),
                                     Code::kInvalidArgument, "(C1)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(hold, amount == 0 ? -1 : amount),
                                     Code::kInvalidArgument, "(C6)");
  }
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{90, 100}));
  EXPECT_EQ(b.Bal(b.ops).held, 10);
}

TEST(Credits, C1_HugeAmountsAreRefusedNeverWrapped) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 100));
  TNY_ASSERT_OK(b.engine.grant(kSystem, b.account, 100));
  Engine& e = b.engine;
  for (int64_t amount : {kI64Max, kI64Max - 1, kCap + 1, int64_t{201}}) {
    SCOPED_TRACE(amount);
    // The pool holds 100: either the capacity (C1) or the pool (C3) refuses.
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, amount),
                                        Code::kResourceExhausted, "\\((C1|C3)\\)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, amount), Code::kResourceExhausted,
                                     "(C4)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, amount), Code::kResourceExhausted, "(C5)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b,
                                     e.consume(b.ops, amount, kCredits, absl::StrCat("k", amount)),
                                     Code::kResourceExhausted, "(C5)");
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, b.Reserve(b.ops, amount), Code::kResourceExhausted,
                                        "\\((C5|C6)\\)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 200));
  EXPECT_EQ(left, 0);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C1_UnknownAccountsAndWorkspacesAreNotFound) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  TNY_ASSERT_OK(b.engine.grant(kSystem, b.account, 100));
  Engine& e = b.engine;
  for (uint64_t id : kHostileIds) {
    SCOPED_TRACE(id);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.grant(kSystem, id, 5), Code::kNotFound, kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(kSystem, id, b.ops, 5), Code::kNotFound,
                                        kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(kSystem, b.account, id, 5), Code::kNotFound,
                                        kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.revoke(kSystem, id, 5), Code::kNotFound, kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(id, 5), Code::kNotFound, kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(id, 5, kCredits, "k"), Code::kNotFound,
                                        kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, b.Reserve(id, 5), Code::kNotFound, kAnyRule);
    EXPECT_EQ(e.balance(id).status().code(), Code::kNotFound);
    EXPECT_EQ(e.balance(id, kMinutes).status().code(), Code::kNotFound);
    EXPECT_EQ(e.account_balance(id).status().code(), Code::kNotFound);
  }
  EXPECT_EQ(b.Bal(b.ops).available(), 100);
  EXPECT_EQ(b.Pool(b.account).available(), 100);
}

// =====================================================================
// C2: grant
// =====================================================================

TEST(Credits, C2_SystemAndTheAccountOwnerMayGrant) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  const uint64_t rev = e.revision();
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100));
  EXPECT_EQ(e.revision(), rev + 1);
  TNY_ASSERT_OK(e.grant(b.owner, b.account, 40, kCredits, "extra"));
  EXPECT_EQ(e.revision(), rev + 2);
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.buckets, (Amounts{100, 40}));
  EXPECT_EQ(pool.granted, 140);
  EXPECT_EQ(pool.consumed_by_deleted, 0);
  // The other account's pool did not move (T1: nothing crosses accounts).
  AccountBalance other = b.Pool(b.other);
  EXPECT_EQ(other.buckets, (Amounts{0, 0}));
  EXPECT_EQ(other.granted, 0);
  // Each grant has an audit record in the change feed (L1).
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, e.changes_since(rev));
  ASSERT_EQ(feed.size(), 2u);
  EXPECT_EQ(feed[0].revision, rev + 1);
  EXPECT_EQ(feed[0].actor, kSystem);
  EXPECT_EQ(feed[0].account, b.account);
  EXPECT_THAT(feed[0].what, ::testing::HasSubstr("grant"));
  EXPECT_EQ(feed[1].actor, b.owner);
  EXPECT_EQ(feed[1].account, b.account);
  // And a ledger entry each.
  std::vector<LedgerEntry> ledger = b.Ledger();
  ASSERT_EQ(ledger.size(), 2u);
  EXPECT_EQ(ledger[0].kind, LedgerKind::kGrant);
  EXPECT_EQ(ledger[0].actor, kSystem);
  EXPECT_EQ(ledger[0].amounts, (Amounts{100, 0}));
  EXPECT_EQ(ledger[1].kind, LedgerKind::kGrant);
  EXPECT_EQ(ledger[1].actor, b.owner);
  EXPECT_EQ(ledger[1].amounts, (Amounts{0, 40}));
  // The other account's owner may grant in their own account.
  TNY_EXPECT_OK(e.grant(b.other_owner, b.other, 9));
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C2_NoOneElseMayGrant) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 10));
  // Staff admin and member, the agency's workspace owner (who holds
  // billing.manage in that workspace, not in the account), workspace roles,
  // a client, a stranger, the owner of another account, unknown ids.
  const std::vector<std::pair<const char*, UserId>> refused = {{"staff admin", b.admin},
                                                               {"staff member", b.staff},
                                                               {"workspace owner", b.ws_owner},
                                                               {"workspace admin", b.ws_admin},
                                                               {"member", b.member},
                                                               {"viewer", b.viewer},
                                                               {"client", b.client},
                                                               {"outsider", b.outsider},
                                                               {"other owner", b.other_owner},
                                                               {"user 0", 0},
                                                               {"unknown user", 987'654},
                                                               {"almost system", kSystem - 1}};
  for (const auto& [who, actor] : refused) {
    SCOPED_TRACE(who);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(actor, b.account, 5), Code::kPermissionDenied,
                                     "(M10)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(actor, b.account, 5, kMinutes),
                                     Code::kPermissionDenied, "(M10)");
  }
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.grant(b.owner, b.other, 5), Code::kPermissionDenied,
                                   "(M10)");
  EXPECT_EQ(b.Pool(b.account).granted, 10);
}

// =====================================================================
// C3: transfer
// =====================================================================

TEST(Credits, C3_TransferDrawsRegularFirstThenExtra) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 30, kCredits, "regular"));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 70, kCredits, "extra"));
  // Within regular.
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, 20));
  EXPECT_EQ(taken, (Amounts{20, 0}));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{10, 70}));
  // Across: the rest of regular, then extra.
  TNY_ASSERT_OK_AND_ASSIGN(taken, e.transfer(kSystem, b.account, b.ops, 40));
  EXPECT_EQ(taken, (Amounts{10, 30}));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{0, 40}));
  // Only extra left.
  TNY_ASSERT_OK_AND_ASSIGN(taken, e.transfer(kSystem, b.account, b.client_a, 40));
  EXPECT_EQ(taken, (Amounts{0, 40}));
  // The workspaces keep the amounts per bucket.
  Balance ops = b.Bal(b.ops);
  EXPECT_EQ(ops.buckets, (Amounts{30, 30}));
  EXPECT_EQ(ops.held, 0);
  EXPECT_EQ(ops.consumed, 0);
  EXPECT_EQ(b.Bal(b.client_a).buckets, (Amounts{0, 40}));
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.buckets, (Amounts{0, 0}));
  EXPECT_EQ(pool.granted, 100);
  // Ledger: one entry per transfer with the split.
  std::vector<LedgerEntry> transfers = OfKind(b.Ledger(), LedgerKind::kTransfer);
  ASSERT_EQ(transfers.size(), 3u);
  EXPECT_EQ(transfers[0].amounts, (Amounts{20, 0}));
  EXPECT_EQ(transfers[1].amounts, (Amounts{10, 30}));
  EXPECT_EQ(transfers[2].amounts, (Amounts{0, 40}));
  EXPECT_EQ(transfers[2].workspace, b.client_a);
  // A one-bucket workspace bucket spends regular first (consume, C5).
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 35));
  EXPECT_EQ(left, 25);
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{0, 25}));
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C3_TransferIsAllOrNothing) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  // An empty pool.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 1),
                                   Code::kResourceExhausted, "(C3)");
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 30, kCredits, "regular"));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 70, kCredits, "extra"));
  // One more than regular + extra: nothing moves, not even the 100 there are.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 101),
                                   Code::kResourceExhausted, "(C3)");
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, 100));
  EXPECT_EQ(taken, (Amounts{30, 70}));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 1),
                                   Code::kResourceExhausted, "(C3)");
  // Minutes are a separate pool: credits in the pool do not fund minutes.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 5));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(kSystem, b.account, b.ops, 1, kMinutes),
                                   Code::kResourceExhausted, "(C3)");
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{30, 70}));
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C3_TransferToAnotherAccountsWorkspaceIsRefused) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  // The message names C3, possibly with A2 (isolation) beside it: "(C3, A2)".
  constexpr char kNamesC3[] = "\\(([A-Z][0-9]+, )*C3(, [A-Z][0-9]+)*\\)";
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100));
  TNY_ASSERT_OK(e.grant(kSystem, b.other, 100));
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(kSystem, b.account, b.elsewhere, 10),
                                      Code::kInvalidArgument, kNamesC3);
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(kSystem, b.other, b.ops, 10),
                                      Code::kInvalidArgument, kNamesC3);
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(b.owner, b.account, b.elsewhere, 10),
                                      Code::kInvalidArgument, kNamesC3);
  // The other account's owner moves their own pool into their own workspace,
  // never into ours.
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(b.other_owner, b.other, b.ops, 10),
                                      Code::kInvalidArgument, kNamesC3);
  TNY_ASSERT_OK(e.transfer(b.other_owner, b.other, b.elsewhere, 10).status());
  EXPECT_EQ(b.Bal(b.elsewhere).available(), 10);
  EXPECT_EQ(b.Pool(b.account).available(), 100);
  ExpectConserved(e, b.account, kCredits);
  ExpectConserved(e, b.other, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C3_TransferNeedsCreditsTransferInTheAccount) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 1000));
  const std::vector<std::pair<const char*, UserId>> allowed = {
      {"system", kSystem}, {"staff owner", b.owner}, {"staff admin", b.admin}};
  int64_t moved = 0;
  for (const auto& [who, actor] : allowed) {
    SCOPED_TRACE(who);
    const uint64_t rev = e.revision();
    TNY_EXPECT_OK(e.transfer(actor, b.account, b.client_a, 10).status());
    moved += 10;
    EXPECT_EQ(e.revision(), rev + 1);
    LedgerEntry last = b.LastEntry();
    EXPECT_EQ(last.kind, LedgerKind::kTransfer);
    EXPECT_EQ(last.actor, actor);
  }
  EXPECT_EQ(b.Bal(b.client_a).available(), moved);
  const std::vector<std::pair<const char*, UserId>> refused = {{"staff member", b.staff},
                                                               {"workspace owner", b.ws_owner},
                                                               {"workspace admin", b.ws_admin},
                                                               {"member", b.member},
                                                               {"viewer", b.viewer},
                                                               {"client", b.client},
                                                               {"outsider", b.outsider},
                                                               {"other owner", b.other_owner},
                                                               {"user 0", 0},
                                                               {"unknown user", 987'654}};
  for (const auto& [who, actor] : refused) {
    SCOPED_TRACE(who);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(actor, b.account, b.client_a, 10),
                                     Code::kPermissionDenied, "(M10)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.transfer(actor, b.account, b.agency, 10),
                                     Code::kPermissionDenied, "(M10)");
  }
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C3_TransferIsAllowedIntoAnInactiveWorkspace) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100));
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kInactive));
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, 60));
  EXPECT_EQ(taken, (Amounts{60, 0}));
  EXPECT_EQ(b.Bal(b.ops).available(), 60);
  // Revoking from it is allowed too.
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 20));
  EXPECT_EQ(b.Bal(b.ops).available(), 40);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

// =====================================================================
// C4: revoke
// =====================================================================

TEST(Credits, C4_RevokeMovesTheNamedBucketBackToThePool) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  const uint64_t rev = e.revision();
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 20, kCredits, "regular"));
  EXPECT_EQ(e.revision(), rev + 1);
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{10, 70}));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{20, 0}));
  TNY_ASSERT_OK(e.revoke(b.owner, b.ops, 70, kCredits, "extra"));
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{10, 0}));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{20, 70}));
  TNY_ASSERT_OK(e.revoke(b.admin, b.ops, 10));  // "regular" by default
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{0, 0}));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{30, 70}));
  EXPECT_EQ(b.Pool(b.account).granted, 100);  // revoking is not un-granting
  std::vector<LedgerEntry> revokes = OfKind(b.Ledger(), LedgerKind::kRevoke);
  ASSERT_EQ(revokes.size(), 3u);
  EXPECT_EQ(revokes[0].amounts, (Amounts{20, 0}));
  EXPECT_EQ(revokes[0].actor, kSystem);
  EXPECT_EQ(revokes[0].workspace, b.ops);
  EXPECT_EQ(revokes[0].account, b.account);
  EXPECT_EQ(revokes[0].revision, rev + 1);
  EXPECT_EQ(revokes[1].amounts, (Amounts{0, 70}));
  EXPECT_EQ(revokes[1].actor, b.owner);
  EXPECT_EQ(revokes[2].amounts, (Amounts{10, 0}));
  EXPECT_EQ(revokes[2].actor, b.admin);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

// `revoke` takes (..., meter, bucket), as `grant` does. The old order
// (..., bucket, meter) must not compile: a bucket name alone in fourth place
// would otherwise name a meter.
template <class... Args>
concept CanRevoke = requires(Engine& e, Args... args) {
  e.revoke(args...);
};
static_assert(CanRevoke<UserId, WorkspaceId, int64_t>);
static_assert(CanRevoke<UserId, WorkspaceId, int64_t, MeterId>);
static_assert(CanRevoke<UserId, WorkspaceId, int64_t, MeterRef>);
static_assert(CanRevoke<UserId, WorkspaceId, int64_t, MeterId, const char*>);
static_assert(!CanRevoke<UserId, WorkspaceId, int64_t, const char (&)[6]>);
static_assert(!CanRevoke<UserId, WorkspaceId, int64_t, const char*>);
static_assert(!CanRevoke<UserId, WorkspaceId, int64_t, absl::string_view>);
static_assert(!CanRevoke<UserId, WorkspaceId, int64_t, std::string>);
static_assert(!CanRevoke<UserId, WorkspaceId, int64_t, const char (&)[6], MeterId>);

TEST(Credits, C4_RevokeTakesTheMeterBeforeTheBucketLikeGrant) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 5, MeterRef("credits"), "extra"));
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{30, 65}));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 5, kCredits, "extra"));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{0, 10}));
}

TEST(Credits, C4_RevokeIsRefusedWhenTheNamedBucketHoldsLess) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 10, 90));
  Engine& e = b.engine;
  // The workspace holds 100 in all, but the named bucket less.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 11, kCredits, "regular"),
                                   Code::kResourceExhausted, "(C4)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 91, kCredits, "extra"),
                                   Code::kResourceExhausted, "(C4)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 100, kCredits, "extra"),
                                   Code::kResourceExhausted, "(C4)");
  // Held amounts are not in the buckets: a hold of the regular 10 leaves none.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.ops, 10));
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{0, 90}));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.ops, 1, kCredits, "regular"),
                                   Code::kResourceExhausted, "(C4)");
  // Never funded: nothing to revoke.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.client_b, 1, kCredits, "regular"),
                                   Code::kResourceExhausted, "(C4)");
  // Exactly what the bucket holds is fine.
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 90, kCredits, "extra"));
  TNY_ASSERT_OK(e.release(hold));
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 10, kCredits, "regular"));
  EXPECT_EQ(b.Bal(b.ops).available(), 0);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C4_RevokeNeedsCreditsTransfer) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_a, 100, 0));
  Engine& e = b.engine;
  const std::vector<std::pair<const char*, UserId>> refused = {{"staff member", b.staff},
                                                               {"workspace owner", b.ws_owner},
                                                               {"workspace admin", b.ws_admin},
                                                               {"member", b.member},
                                                               {"client", b.client},
                                                               {"outsider", b.outsider},
                                                               {"other owner", b.other_owner},
                                                               {"user 0", 0}};
  for (const auto& [who, actor] : refused) {
    SCOPED_TRACE(who);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(actor, b.client_a, 5), Code::kPermissionDenied,
                                     "(M10)");
  }
  TNY_EXPECT_OK(e.revoke(kSystem, b.client_a, 5));
  TNY_EXPECT_OK(e.revoke(b.owner, b.client_a, 5));
  TNY_EXPECT_OK(e.revoke(b.admin, b.client_a, 5));
  EXPECT_EQ(b.Bal(b.client_a).available(), 85);
  EXPECT_EQ(b.Pool(b.account).available(), 15);
}

// =====================================================================
// C5: consume
// =====================================================================

TEST(Credits, C5_ConsumeDrawsRegularFirstAndReturnsWhatIsLeft) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 20));
  EXPECT_EQ(left, 80);
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{10, 70}));
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 40));  // 10 regular + 30 extra
  EXPECT_EQ(left, 40);
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{0, 40}));
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 40, "credits"));  // down to exactly zero
  EXPECT_EQ(left, 0);
  Balance after = b.Bal(b.ops);
  EXPECT_EQ(after.buckets, (Amounts{0, 0}));
  EXPECT_EQ(after.held, 0);
  EXPECT_EQ(after.consumed, 100);
  // Never below zero.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 1), Code::kResourceExhausted, "(C5)");
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C5_ConsumeIsAllOrNothing) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  // More than regular + extra: nothing at all is debited.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 101), Code::kResourceExhausted, "(C5)");
  EXPECT_EQ(b.Bal(b.ops).consumed, 0);
  // A workspace never funded has zeros, and refuses any consume.
  Balance none = b.Bal(b.client_b);
  EXPECT_EQ(none.buckets, (Amounts{0, 0}));
  EXPECT_EQ(none.held, 0);
  EXPECT_EQ(none.consumed, 0);
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.client_b, 1), Code::kResourceExhausted, "(C5)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.client_b, 1, kMinutes), Code::kResourceExhausted,
                                   "(C5)");
  // The pool is not the workspace's: the account still holding credits does
  // not let a workspace spend them.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 1000));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 101), Code::kResourceExhausted, "(C5)");
  // Sibling and parent balances do not help either (T8).
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.agency, 500).status());
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.client_a, 1), Code::kResourceExhausted, "(C5)");
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 100));
  EXPECT_EQ(left, 0);
  EXPECT_EQ(b.Bal(b.agency).available(), 500);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C5_ConsumeMakesNoRevisionAndNoLedgerEntryButCounts) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  const uint64_t rev = e.revision();
  const size_t entries = b.Ledger().size();
  for (int i = 0; i < 10; ++i) {
    TNY_ASSERT_OK(e.consume(b.ops, 3).status());
  }
  TNY_ASSERT_OK(e.consume(b.ops, 3, kCredits, "once").status());
  TNY_ASSERT_OK(e.consume(b.ops, 3, kCredits, "once").status());  // a replay: no debit
  EXPECT_EQ(e.revision(), rev);
  EXPECT_EQ(b.Ledger().size(), entries);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, e.changes_since(rev));
  EXPECT_TRUE(feed.empty());
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.consumed, 33);
  EXPECT_EQ(bal.buckets, (Amounts{67, 0}));
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C5_KeyedRetryReturnsTheFirstResultWithoutASecondDebit) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t first, e.consume(b.ops, 10, kCredits, "req-1"));
  EXPECT_EQ(first, 90);
  // The balance moves on meanwhile.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t other, e.consume(b.ops, 5));
  EXPECT_EQ(other, 85);
  b.clock->advance_s(3600);
  for (int i = 0; i < 3; ++i) {
    const std::string before = State(b);
    TNY_ASSERT_OK_AND_ASSIGN(int64_t again, e.consume(b.ops, 10, kCredits, "req-1"));
    EXPECT_EQ(again, 90);  // the first result, not 85 or 75
    EXPECT_EQ(State(b), before);
  }
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{85, 0}));
  EXPECT_EQ(bal.consumed, 15);
  // An unkeyed consume is never deduplicated.
  TNY_ASSERT_OK(e.consume(b.ops, 10).status());
  TNY_ASSERT_OK(e.consume(b.ops, 10, kCredits, "").status());
  EXPECT_EQ(b.Bal(b.ops).consumed, 35);
  // Keys are compared exactly.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t fresh, e.consume(b.ops, 10, kCredits, "REQ-1"));
  EXPECT_EQ(fresh, 55);
  TNY_ASSERT_OK_AND_ASSIGN(fresh, e.consume(b.ops, 10, kCredits, "req-1 "));
  EXPECT_EQ(fresh, 45);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C5_KeyedRefusalIsReplayedToo) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 10, 0));
  Engine& e = b.engine;
  // ResourceExhausted is remembered: funding afterwards does not turn the
  // retry into a debit.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 50, kCredits, "big"),
                                   Code::kResourceExhausted, "(C5)");
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 100).status());
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(b.ops, 50, kCredits, "big"),
                                      Code::kResourceExhausted, kAnyRule);
  EXPECT_EQ(b.Bal(b.ops).available(), 110);
  // FailedPrecondition (inactive, T5) is remembered as well.
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kInactive));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 5, kCredits, "while-off"),
                                   Code::kFailedPrecondition, "(T5)");
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kActive));
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(b.ops, 5, kCredits, "while-off"),
                                      Code::kFailedPrecondition, kAnyRule);
  // A fresh key is a fresh consume.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 50, kCredits, "big-2"));
  EXPECT_EQ(left, 60);
  EXPECT_EQ(b.Bal(b.ops).consumed, 50);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C5_SameKeyWithAnotherAmountIsRefused) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.consume(b.ops, 10, kCredits, "req").status());
  for (int64_t amount : {int64_t{9}, int64_t{11}, int64_t{1}, int64_t{90}}) {
    SCOPED_TRACE(amount);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, amount, kCredits, "req"),
                                     Code::kInvalidArgument, "(C5)");
  }
  // The same for a remembered refusal.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 500, kCredits, "no"),
                                   Code::kResourceExhausted, "(C5)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 5, kCredits, "no"), Code::kInvalidArgument,
                                   "(C5)");
  // The original amount still replays.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t again, e.consume(b.ops, 10, kCredits, "req"));
  EXPECT_EQ(again, 90);
  EXPECT_EQ(b.Bal(b.ops).consumed, 10);
}

TEST(Credits, C5_KeysAreScopedPerWorkspaceAndMeter) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_a, 50, 0));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 20, 0, kMinutes));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 10, kCredits, "k"));
  EXPECT_EQ(left, 90);
  // Same key, another workspace: independent, debited.
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.client_a, 10, kCredits, "k"));
  EXPECT_EQ(left, 40);
  // Same key, another meter: independent, even with another amount.
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 3, kMinutes, "k"));
  EXPECT_EQ(left, 17);
  // Each replays its own first result.
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 10, kCredits, "k"));
  EXPECT_EQ(left, 90);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.client_a, 10, kCredits, "k"));
  EXPECT_EQ(left, 40);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 3, kMinutes, "k"));
  EXPECT_EQ(left, 17);
  EXPECT_EQ(b.Bal(b.ops).consumed, 10);
  EXPECT_EQ(b.Bal(b.client_a).consumed, 10);
  EXPECT_EQ(b.Bal(b.ops, kMinutes).consumed, 3);
}

TEST(Credits, C5_KeyIsForgottenAfterTheWindow) {
  Engine::Options options;
  options.idempotency_window_s = 60;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 10, kCredits, "k"));
  EXPECT_EQ(left, 90);
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 1000, kCredits, "refused"),
                                   Code::kResourceExhausted, "(C5)");
  // Well inside the window: remembered.
  b.clock->advance_s(59);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 10, kCredits, "k"));
  EXPECT_EQ(left, 90);
  EXPECT_EQ(b.Bal(b.ops).consumed, 10);
  // Past the window: forgotten, a new consume (and another amount is fine).
  b.clock->advance_s(2);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 10, kCredits, "k"));
  EXPECT_EQ(left, 80);
  EXPECT_EQ(b.Bal(b.ops).consumed, 20);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 10, kCredits, "k"));  // remembered anew
  EXPECT_EQ(left, 80);
  // A remembered refusal is forgotten too: with funds, the retry is a new try.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 1000));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 1000).status());
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 1000, kCredits, "refused"));
  EXPECT_EQ(left, 80);
  EXPECT_EQ(b.Bal(b.ops).consumed, 1020);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C5_ValidationErrorsAreNotRemembered) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 0, kCredits, "v"), Code::kInvalidArgument,
                                   "(C1)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, -5, kCredits, "v"), Code::kInvalidArgument,
                                   "(C1)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 5, "nope", "v"), Code::kNotFound, "(C1)");
  // Not "another amount": the key is still free, and this is the first use.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 5, kCredits, "v"));
  EXPECT_EQ(left, 95);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 5, kCredits, "v"));
  EXPECT_EQ(left, 95);
  EXPECT_EQ(b.Bal(b.ops).consumed, 5);
}

TEST(Credits, C5_IdempotencyKeyLength) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  const std::string longest(limits::kIdempotencyKeyMaxBytes, 'k');
  const std::string too_long(limits::kIdempotencyKeyMaxBytes + 1, 'k');
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(b.ops, 5, kCredits, too_long),
                                      Code::kInvalidArgument, "\\((C1|C5)\\)");
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(b.ops, 5, kCredits, std::string(100000, 'k')),
                                      Code::kInvalidArgument, "\\((C1|C5)\\)");
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 5, kCredits, longest));
  EXPECT_EQ(left, 95);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 5, kCredits, longest));
  EXPECT_EQ(left, 95);
  // A key with any bytes, a NUL included, is just a key.
  const std::string binary("a\0b\xff", 4);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 5, kCredits, binary));
  EXPECT_EQ(left, 90);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 5, kCredits, std::string("a\0b\xfe", 4)));
  EXPECT_EQ(left, 85);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 5, kCredits, binary));
  EXPECT_EQ(left, 90);
  EXPECT_EQ(b.Bal(b.ops).consumed, 15);
}

TEST(Credits, C5_AReplayAnswersEvenAfterTheWorkspaceWentInactive) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 10, kCredits, "paid"));
  EXPECT_EQ(left, 90);
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kInactive));
  // The debit happened before; its retry says so, and debits nothing.
  const std::string before = State(b);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 10, kCredits, "paid"));
  EXPECT_EQ(left, 90);
  EXPECT_EQ(State(b), before);
  // A new key is refused (T5).
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 10, kCredits, "new"),
                                   Code::kFailedPrecondition, "(T5)");
}

TEST(Credits, C5_AKeyNamesItsMeterByIdOrByNameAlike) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 10, "credits", "k"));
  EXPECT_EQ(left, 90);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 10, kCredits, "k"));
  EXPECT_EQ(left, 90);
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 11, kCredits, "k"), Code::kInvalidArgument,
                                   "(C5)");
  EXPECT_EQ(b.Bal(b.ops).consumed, 10);
}

TEST(Credits, C5_IdempotencySlotsBoundTheKeysRemembered) {
  Engine::Options options;
  options.idempotency_slots = 1;  // the engine rounds up to its smallest table
  options.idempotency_window_s = 60;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 1'000'000, 0));
  Engine& e = b.engine;
  int64_t debited = 0;
  int refused_at = -1;
  for (int i = 0; i < 10000 && refused_at < 0; ++i) {
    const std::string before = State(b);
    absl::StatusOr<int64_t> r = e.consume(b.ops, 1, kCredits, absl::StrCat("key-", i));
    if (r.ok()) {
      ++debited;
      continue;
    }
    refused_at = i;
    // No free slot: refused, and nothing debited.
    EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status();
    EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("(C5)"));
    EXPECT_EQ(State(b), before);
  }
  ASSERT_GT(refused_at, 0) << "Options::idempotency_slots is not honoured";
  EXPECT_EQ(b.Bal(b.ops).consumed, debited);
  // Remembered keys still replay, without a debit.
  TNY_ASSERT_OK_AND_ASSIGN(int64_t first, e.consume(b.ops, 1, kCredits, "key-0"));
  EXPECT_EQ(first, 1'000'000 - 1);
  EXPECT_EQ(b.Bal(b.ops).consumed, debited);
  // Unkeyed consumes never need a slot.
  TNY_ASSERT_OK(e.consume(b.ops, 1).status());
  // Past the window, the slots are free again.
  b.clock->advance_s(61);
  TNY_ASSERT_OK(e.consume(b.ops, 1, kCredits, absl::StrCat("key-", refused_at)).status());
  EXPECT_EQ(b.Bal(b.ops).consumed, debited + 2);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C1_ConsumedCountsPastTheWorkspaceCapacity) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  // A workspace holds at most kMaxWorkspaceBalance at once, but what it
  // consumes over its life is a full int64.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 3 * kCap));
  for (int i = 0; i < 3; ++i) {
    TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, kCap).status());
    TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.ops, kCap));
    EXPECT_EQ(b.Bal(b.ops).held, kCap);
    TNY_ASSERT_OK(e.commit(hold, kCap));
  }
  EXPECT_EQ(b.Bal(b.ops).consumed, 3 * kCap);
  EXPECT_EQ(b.Bal(b.ops).available(), 0);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
  TNY_ASSERT_OK(e.delete_workspace(kSystem, b.ops, "Ops"));
  EXPECT_EQ(b.Pool(b.account).consumed_by_deleted, 3 * kCap);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

// =====================================================================
// C6: reserve, commit, release, expiry
// =====================================================================

TEST(Credits, C6_ReserveHoldsApartDrawnRegularFirst) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  const uint64_t rev = e.revision();
  const size_t entries = b.Ledger().size();
  const int64_t t0 = b.Now();
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 50, kCredits, 120));
  EXPECT_NE(id, 0u);
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{0, 50}));
  EXPECT_EQ(bal.held, 50);
  EXPECT_EQ(bal.consumed, 0);
  EXPECT_EQ(bal.available(), 50);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(id));
  EXPECT_EQ(info.id, id);
  EXPECT_EQ(info.workspace, b.ops);
  EXPECT_EQ(info.meter, kCredits);
  EXPECT_EQ(info.held, (Amounts{30, 20}));
  EXPECT_EQ(info.expires_at_ns, t0 + 120 * kNsPerS);
  // A reserve is not a change of the graph and has no ledger entry.
  EXPECT_EQ(e.revision(), rev);
  EXPECT_EQ(b.Ledger().size(), entries);
  // Held amounts cannot be consumed.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 51), Code::kResourceExhausted, "(C5)");
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId second, b.Reserve(b.ops, 50));
  EXPECT_NE(second, id);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info2, e.reservation(second));
  EXPECT_EQ(info2.held, (Amounts{0, 50}));
  bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{0, 0}));
  EXPECT_EQ(bal.held, 100);
  // Nothing left to hold.
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, b.Reserve(b.ops, 1), Code::kResourceExhausted,
                                      "\\((C5|C6)\\)");
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, b.Reserve(b.client_b, 1), Code::kResourceExhausted,
                                      "\\((C5|C6)\\)");
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_CommitReturnsTheRestToTheBucketsItCameFrom) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  // A hold drawn from both buckets: 30 regular + 20 extra.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 50));
  const uint64_t rev = e.revision();
  b.clock->advance_s(7);
  // Actual within the regular part: debit 25 regular; 5 regular and 20
  // extra go back where they came from.
  TNY_ASSERT_OK(e.commit(id, 25));
  EXPECT_EQ(e.revision(), rev);
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{5, 70}));
  EXPECT_EQ(bal.held, 0);
  EXPECT_EQ(bal.consumed, 25);
  LedgerEntry entry = b.LastEntry();
  EXPECT_EQ(entry.kind, LedgerKind::kCommit);
  EXPECT_EQ(entry.amounts, (Amounts{25, 0}));
  EXPECT_EQ(entry.returned, (Amounts{5, 20}));
  EXPECT_EQ(entry.reservation, id);
  EXPECT_EQ(entry.actor, kSystem);
  EXPECT_EQ(entry.account, b.account);
  EXPECT_EQ(entry.workspace, b.ops);
  EXPECT_EQ(entry.meter, kCredits);
  EXPECT_EQ(entry.revision, e.revision());
  EXPECT_EQ(entry.time_ns, b.Now());

  // Actual past the regular part: 5 regular + 35 extra debited, 10 extra back.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id2, b.Reserve(b.ops, 50));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(id2));
  EXPECT_EQ(info.held, (Amounts{5, 45}));
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{0, 25}));
  TNY_ASSERT_OK(e.commit(id2, 40));
  bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{0, 35}));
  EXPECT_EQ(bal.held, 0);
  EXPECT_EQ(bal.consumed, 65);
  entry = b.LastEntry();
  EXPECT_EQ(entry.kind, LedgerKind::kCommit);
  EXPECT_EQ(entry.amounts, (Amounts{5, 35}));
  EXPECT_EQ(entry.returned, (Amounts{0, 10}));
  EXPECT_EQ(entry.reservation, id2);

  // A regular-only hold returns to regular even after the workspace's
  // regular was refilled and spent meanwhile.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 20));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 20).status());
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{20, 35}));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id3, b.Reserve(b.ops, 15));  // 15 regular
  TNY_ASSERT_OK(e.consume(b.ops, 40).status());                       // 5 regular + 35 extra
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{0, 0}));
  TNY_ASSERT_OK(e.commit(id3, 6));
  bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{9, 0}));
  EXPECT_EQ(bal.consumed, 65 + 40 + 6);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_CommitActualBounds) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 10, 10));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 15));  // {10, 5}
  for (int64_t actual : {int64_t{-1}, kI64Min, int64_t{16}, int64_t{20}, kCap + 1, kI64Max}) {
    SCOPED_TRACE(actual);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, actual), Code::kInvalidArgument, "(C6)");
  }
  // Still live, still whole.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(id));
  EXPECT_EQ(info.held, (Amounts{10, 5}));
  // Exactly the held amount: all debited, nothing returned.
  TNY_ASSERT_OK(e.commit(id, 15));
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{0, 5}));
  EXPECT_EQ(bal.consumed, 15);
  LedgerEntry entry = b.LastEntry();
  EXPECT_EQ(entry.amounts, (Amounts{10, 5}));
  EXPECT_EQ(entry.returned, (Amounts{0, 0}));
  // Zero: nothing debited, all returned, still a commit entry.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId zero, b.Reserve(b.ops, 5));
  TNY_ASSERT_OK(e.commit(zero, 0));
  bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{0, 5}));
  EXPECT_EQ(bal.held, 0);
  EXPECT_EQ(bal.consumed, 15);
  entry = b.LastEntry();
  EXPECT_EQ(entry.kind, LedgerKind::kCommit);
  EXPECT_EQ(entry.reservation, zero);
  EXPECT_EQ(entry.amounts, (Amounts{0, 0}));
  EXPECT_EQ(entry.returned, (Amounts{0, 5}));
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_ReleaseReturnsTheWholeHold) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 50));
  TNY_ASSERT_OK(e.consume(b.ops, 10).status());  // from extra: {0, 40}
  const uint64_t rev = e.revision();
  TNY_ASSERT_OK(e.release(id));
  EXPECT_EQ(e.revision(), rev);
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{30, 60}));
  EXPECT_EQ(bal.held, 0);
  EXPECT_EQ(bal.consumed, 10);
  LedgerEntry entry = b.LastEntry();
  EXPECT_EQ(entry.kind, LedgerKind::kRelease);
  EXPECT_EQ(entry.returned, (Amounts{30, 20}));
  EXPECT_EQ(entry.reservation, id);
  EXPECT_EQ(entry.actor, kSystem);
  EXPECT_EQ(entry.workspace, b.ops);
  EXPECT_EQ(entry.account, b.account);
  EXPECT_EQ(entry.revision, e.revision());
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_ASettledReservationIsGone) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId committed, b.Reserve(b.ops, 10));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId released, b.Reserve(b.ops, 10));
  TNY_ASSERT_OK(e.commit(committed, 4));
  TNY_ASSERT_OK(e.release(released));
  for (ReservationId id : {committed, released}) {
    SCOPED_TRACE(id);
    TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 0), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 4), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.release(id), Code::kNotFound, "(C6)");
  }
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{96, 0}));
  EXPECT_EQ(bal.consumed, 4);
}

TEST(Credits, C6_UnknownReservationIdsAreNotFound) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  // Before any reservation was ever made.
  for (uint64_t id : kHostileIds) {
    SCOPED_TRACE(id);
    TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 0), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.release(id), Code::kNotFound, "(C6)");
  }
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId live, b.Reserve(b.ops, 10));
  // Ids near the live one, and hostile ones, with a live reservation around.
  std::vector<uint64_t> ids(std::begin(kHostileIds), std::end(kHostileIds));
  for (uint64_t near : {live + 1, live - 1, live ^ (uint64_t{1} << 40), live ^ (uint64_t{1} << 63),
                        live ^ uint64_t{0xffffffff00000000ULL}, ~live}) {
    if (near != live) ids.push_back(near);
  }
  for (uint64_t id : ids) {
    SCOPED_TRACE(id);
    TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 1), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.release(id), Code::kNotFound, "(C6)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(live));
  EXPECT_EQ(info.held, (Amounts{10, 0}));
}

TEST(Credits, C6_AnExpiredHoldIsNeverCommittableAndIsReleased) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 50, kCredits, 10));
  const uint64_t rev = e.revision();
  b.clock->advance_s(10);  // now == expires_at: expired
  // Before any sweep, the expired hold still answers.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(id));
  EXPECT_EQ(info.held, (Amounts{30, 20}));
  TNY_EXPECT_REFUSED(e.commit(id, 1), Code::kFailedPrecondition, "(C6)");
  // That call released it, to the buckets it came from; nothing consumed.
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{30, 70}));
  EXPECT_EQ(bal.held, 0);
  EXPECT_EQ(bal.consumed, 0);
  EXPECT_EQ(e.revision(), rev);
  LedgerEntry entry = b.LastEntry();
  EXPECT_TRUE(entry.kind == LedgerKind::kExpire || entry.kind == LedgerKind::kRelease)
      << static_cast<int>(entry.kind);
  EXPECT_EQ(entry.reservation, id);
  EXPECT_EQ(entry.returned, (Amounts{30, 20}));
  EXPECT_EQ(entry.amounts, (Amounts{0, 0}));
  EXPECT_EQ(entry.actor, kSystem);
  // Gone for good.
  TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 1), Code::kNotFound, "(C6)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.release(id), Code::kNotFound, "(C6)");
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 0u);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_AHoldIsCommittableUntilJustBeforeItsExpiry) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 50, kCredits, 10));
  b.clock->advance_ns(10 * kNsPerS - 1);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 0u);
  TNY_ASSERT_OK(e.commit(id, 20));
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{80, 0}));
  EXPECT_EQ(bal.consumed, 20);
  // And releasable up to then.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id2, b.Reserve(b.ops, 30, kCredits, 1));
  b.clock->advance_ns(kNsPerS - 1);
  TNY_ASSERT_OK(e.release(id2));
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{80, 0}));
  EXPECT_EQ(OfKind(b.Ledger(), LedgerKind::kExpire).size(), 0u);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_ExpireReservationsReleasesEveryExpiredHold) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 30, 70));
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 50));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.client_a, 50).status());
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId a, b.Reserve(b.ops, 40, kCredits, 5));  // {30, 10}
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId c, b.Reserve(b.ops, 20, kCredits, 5));  // {0, 20}
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId d, b.Reserve(b.client_a, 10, kCredits, 5));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId keep, b.Reserve(b.client_a, 10, kCredits, 100));
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 0u);
  const uint64_t rev = e.revision();
  const size_t entries = b.Ledger().size();
  b.clock->advance_s(5);
  TNY_ASSERT_OK_AND_ASSIGN(swept, e.expire_reservations());
  EXPECT_EQ(swept, 3u);
  EXPECT_EQ(e.revision(), rev);
  Balance ops = b.Bal(b.ops);
  EXPECT_EQ(ops.buckets, (Amounts{30, 70}));
  EXPECT_EQ(ops.held, 0);
  EXPECT_EQ(ops.consumed, 0);
  Balance ca = b.Bal(b.client_a);
  EXPECT_EQ(ca.buckets, (Amounts{40, 0}));
  EXPECT_EQ(ca.held, 10);
  std::vector<LedgerEntry> ledger = b.Ledger();
  ASSERT_EQ(ledger.size(), entries + 3);
  std::map<ReservationId, LedgerEntry> expired;
  for (size_t i = entries; i < ledger.size(); ++i) {
    EXPECT_EQ(ledger[i].kind, LedgerKind::kExpire);
    EXPECT_EQ(ledger[i].actor, kSystem);
    EXPECT_EQ(ledger[i].revision, rev);
    EXPECT_EQ(ledger[i].account, b.account);
    expired[ledger[i].reservation] = ledger[i];
  }
  ASSERT_EQ(expired.size(), 3u);
  EXPECT_EQ(expired[a].returned, (Amounts{30, 10}));
  EXPECT_EQ(expired[a].workspace, b.ops);
  EXPECT_EQ(expired[c].returned, (Amounts{0, 20}));
  EXPECT_EQ(expired[d].returned, (Amounts{10, 0}));
  EXPECT_EQ(expired[d].workspace, b.client_a);
  for (ReservationId id : {a, c, d}) {
    TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 0), Code::kNotFound, "(C6)");
  }
  // Nothing more to sweep; the live one is untouched and committable.
  TNY_ASSERT_OK_AND_ASSIGN(swept, e.expire_reservations());
  EXPECT_EQ(swept, 0u);
  TNY_ASSERT_OK(e.commit(keep, 10));
  EXPECT_EQ(b.Bal(b.client_a).consumed, 10);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_ExpiredHoldsAreSweptByOtherChangesToo) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 40, kCredits, 1));
  b.clock->advance_s(2);
  // Any write sweeps (some) expired holds; one hold is surely among them.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 1));
  TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{100, 0}));
  EXPECT_EQ(b.Bal(b.ops).held, 0);
  EXPECT_EQ(OfKind(b.Ledger(), LedgerKind::kExpire).size(), 1u);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 0u);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_ReservationIdsAreNeverReused) {
  Engine::Options options;
  options.reservation_slots = 2;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 1000, 0));
  Engine& e = b.engine;
  std::set<ReservationId> seen;
  std::vector<ReservationId> settled;
  for (int i = 0; i < 100; ++i) {
    TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 1));
    EXPECT_NE(id, 0u);
    EXPECT_TRUE(seen.insert(id).second) << "id " << id << " handed out twice";
    if (i % 2 == 0) {
      TNY_ASSERT_OK(e.release(id));
    } else {
      TNY_ASSERT_OK(e.commit(id, 1));
    }
    settled.push_back(id);
  }
  // A live reservation in a reused slot does not answer to older ids.
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId live, b.Reserve(b.ops, 7));
  EXPECT_TRUE(seen.insert(live).second);
  for (ReservationId old : settled) {
    TNY_EXPECT_REFUSED(e.reservation(old), Code::kNotFound, "(C6)");
    TNY_EXPECT_REFUSED(e.commit(old, 0), Code::kNotFound, "(C6)");
    TNY_EXPECT_REFUSED(e.release(old), Code::kNotFound, "(C6)");
  }
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(live));
  EXPECT_EQ(info.held, (Amounts{7, 0}));
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.held, 7);
  EXPECT_EQ(bal.consumed, 50);
  EXPECT_EQ(bal.buckets, (Amounts{943, 0}));
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_AtMostReservationSlotsLiveReservations) {
  Engine::Options options;
  options.reservation_slots = 3;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.elsewhere, 100, 0));
  Engine& e = b.engine;
  std::vector<ReservationId> live;
  for (int i = 0; i < 3; ++i) {
    TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 1));
    live.push_back(id);
  }
  // The slots are the engine's, not a workspace's.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.ops, 1), Code::kResourceExhausted, "(C6)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.elsewhere, 1), Code::kResourceExhausted, "(C6)");
  // Consumes are not affected.
  TNY_ASSERT_OK(e.consume(b.ops, 1).status());
  TNY_ASSERT_OK(e.release(live[1]));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId again, b.Reserve(b.elsewhere, 1));
  EXPECT_NE(again, live[1]);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_ExpiredHoldsFreeTheirSlotsOnceSwept) {
  Engine::Options options;
  options.reservation_slots = 2;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK(b.Reserve(b.ops, 10, kCredits, 1).status());
  TNY_ASSERT_OK(b.Reserve(b.ops, 10, kCredits, 1).status());
  b.clock->advance_s(1);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 2u);
  TNY_ASSERT_OK(b.Reserve(b.ops, 10).status());
  TNY_ASSERT_OK(b.Reserve(b.ops, 10).status());
  EXPECT_EQ(b.Bal(b.ops).held, 20);
  EXPECT_EQ(b.Bal(b.ops).available(), 80);
  TNY_EXPECT_OK(e.verify());
}

// "An expired reservation is released by itself" (C6): the engine runs no
// thread, so a consume about to be refused for want of credits first
// releases holds that expired, and then succeeds.
TEST(Credits, C6_ARefusedConsumeFirstReleasesExpiredHolds) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 60, 40));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.ops, 90, kCredits, 10));
  // Not expired yet: the consume is refused and the hold stays.
  TNY_EXPECT_REFUSED(e.consume(b.ops, 50), absl::StatusCode::kResourceExhausted, "(C5)");
  EXPECT_EQ(b.Bal(b.ops).held, 90);
  b.clock->advance_s(10);
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 50));
  EXPECT_EQ(left, 50);
  const Balance after = b.Bal(b.ops);
  EXPECT_EQ(after.held, 0);
  EXPECT_EQ(after.buckets, (Amounts{10, 40}));  // the hold went back where it came from
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<LedgerEntry> entries, e.ledger());
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.back().kind, LedgerKind::kExpire);
  EXPECT_EQ(entries.back().reservation, hold);
  EXPECT_EQ(entries.back().returned, (Amounts{60, 30}));
  TNY_EXPECT_REFUSED(e.commit(hold, 1), absl::StatusCode::kNotFound, "(C6)");
  TNY_EXPECT_OK(e.verify());
}

// The same for a reserve: expired holds give back both their credits and
// their reservation slots before a reserve is refused (C6).
TEST(Credits, C6_AReserveReclaimsExpiredHoldsAndTheirSlots) {
  Engine::Options options;
  options.reservation_slots = 2;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK(b.Reserve(b.ops, 50, kCredits, 5).status());
  TNY_ASSERT_OK(b.Reserve(b.ops, 50, kCredits, 5).status());
  TNY_EXPECT_REFUSED(e.reserve(b.ops, 10), absl::StatusCode::kResourceExhausted, "(C6)");
  b.clock->advance_s(5);
  TNY_ASSERT_OK(b.Reserve(b.ops, 100).status());
  EXPECT_EQ(b.Bal(b.ops).held, 100);
  EXPECT_EQ(b.Bal(b.ops).available(), 0);
  TNY_EXPECT_OK(e.verify());
}

// Every change, commit and release releases every hold that expired, not a
// slice of the table (C6).
TEST(Credits, C6_AnyChangeReleasesEveryExpiredHold) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 1000, 0));
  for (int i = 0; i < 300; ++i) TNY_ASSERT_OK(b.Reserve(b.ops, 1, kCredits, 1 + i % 3).status());
  b.clock->advance_s(2);
  TNY_ASSERT_OK(b.engine.rename_workspace(kSystem, b.ops, "Ops 2"));
  EXPECT_EQ(b.Bal(b.ops).held, 100);  // the 100 holds with ttl 3 s remain
  b.clock->advance_s(1);
  TNY_ASSERT_OK(b.engine.rename_workspace(kSystem, b.ops, "Ops 3"));
  EXPECT_EQ(b.Bal(b.ops).held, 0);
  EXPECT_EQ(b.Bal(b.ops).available(), 1000);
  TNY_EXPECT_OK(b.engine.verify());
}

TEST(Credits, C6_TtlMustBeInRange) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  for (int64_t ttl : {int64_t{0}, int64_t{-1}, kI64Min, limits::kReservationTtlMaxS + 1, kI64Max,
                      kI64Max / kNsPerS + 1}) {
    SCOPED_TRACE(ttl);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.ops, 5, kCredits, ttl), Code::kInvalidArgument,
                                     "(C6)");
  }
  const int64_t now = b.Now();
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId shortest, b.Reserve(b.ops, 5, kCredits, 1));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId longest,
                           b.Reserve(b.ops, 5, kCredits, limits::kReservationTtlMaxS));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo s, e.reservation(shortest));
  EXPECT_EQ(s.expires_at_ns, now + kNsPerS);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo l, e.reservation(longest));
  EXPECT_EQ(l.expires_at_ns, now + limits::kReservationTtlMaxS * kNsPerS);
  EXPECT_EQ(b.Bal(b.ops).held, 10);
}

TEST(Credits, C6_CommitAndReleaseWorkOnAWorkspaceThatWentInactive) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId committed, b.Reserve(b.ops, 30));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId released, b.Reserve(b.ops, 20));
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kInactive));
  TNY_ASSERT_OK(e.commit(committed, 25));
  TNY_ASSERT_OK(e.release(released));
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.buckets, (Amounts{75, 0}));
  EXPECT_EQ(bal.held, 0);
  EXPECT_EQ(bal.consumed, 25);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, C6_OneBucketMeterHolds) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 60, 0, kMinutes));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 45, "minutes", 60));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(id));
  EXPECT_EQ(info.meter, kMinutes);
  EXPECT_EQ(info.held, (Amounts{45, 0}));
  EXPECT_EQ(b.Bal(b.ops, kMinutes).buckets, (Amounts{15, 0}));
  EXPECT_EQ(b.Bal(b.ops, kCredits).held, 0);
  TNY_ASSERT_OK(e.commit(id, 30));
  Balance bal = b.Bal(b.ops, kMinutes);
  EXPECT_EQ(bal.buckets, (Amounts{30, 0}));
  EXPECT_EQ(bal.consumed, 30);
  LedgerEntry entry = b.LastEntry();
  EXPECT_EQ(entry.meter, kMinutes);
  EXPECT_EQ(entry.amounts, (Amounts{30, 0}));
  EXPECT_EQ(entry.returned, (Amounts{15, 0}));
  ExpectConserved(e, b.account, kMinutes);
  TNY_EXPECT_OK(e.verify());
}

// =====================================================================
// C7: the ledger
// =====================================================================

TEST(Ledger, C7_EveryKindMakesAnEntryWithItsFields) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  std::vector<LedgerEntry> want;
  auto expect_entry = [&](UserId actor, WorkspaceId ws, LedgerKind kind, Amounts amounts,
                          Amounts returned, ReservationId reservation, MeterId meter = kCredits) {
    LedgerEntry entry;
    entry.sequence = want.size() + 1;
    entry.revision = e.revision();
    entry.time_ns = b.Now();
    entry.actor = actor;
    entry.account = b.account;
    entry.workspace = ws;
    entry.meter = meter;
    entry.kind = kind;
    entry.amounts = amounts;
    entry.returned = returned;
    entry.reservation = reservation;
    want.push_back(entry);
  };
  TNY_ASSERT_OK(e.grant(b.owner, b.account, 100));
  expect_entry(b.owner, 0, LedgerKind::kGrant, {100, 0}, {0, 0}, 0);
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 50, kCredits, "extra"));
  expect_entry(kSystem, 0, LedgerKind::kGrant, {0, 50}, {0, 0}, 0);
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.transfer(b.admin, b.account, b.ops, 120).status());
  expect_entry(b.admin, b.ops, LedgerKind::kTransfer, {100, 20}, {0, 0}, 0);
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 10, kCredits, "extra"));  // ops {100, 10}
  expect_entry(kSystem, b.ops, LedgerKind::kRevoke, {0, 10}, {0, 0}, 0);
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.consume(b.ops, 5).status());  // no entry; ops {95, 10}
  b.clock->advance_s(1);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r1, b.Reserve(b.ops, 30));  // no entry; {30, 0}
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.commit(r1, 20));  // ops {75, 10}
  expect_entry(kSystem, b.ops, LedgerKind::kCommit, {20, 0}, {10, 0}, r1);
  b.clock->advance_s(1);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r2, b.Reserve(b.ops, 80));  // {75, 5}
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.release(r2));
  expect_entry(kSystem, b.ops, LedgerKind::kRelease, {0, 0}, {75, 5}, r2);
  b.clock->advance_s(1);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r3, b.Reserve(b.ops, 10, kCredits, 1));  // {10, 0}
  b.clock->advance_s(2);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  ASSERT_EQ(swept, 1u);
  expect_entry(kSystem, b.ops, LedgerKind::kExpire, {0, 0}, {10, 0}, r3);
  b.clock->advance_s(1);
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 9, kMinutes));
  expect_entry(kSystem, 0, LedgerKind::kGrant, {9, 0}, {0, 0}, 0, kMinutes);
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 9, kMinutes).status());
  expect_entry(kSystem, b.ops, LedgerKind::kTransfer, {9, 0}, {0, 0}, 0, kMinutes);
  b.clock->advance_s(1);
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r4, b.Reserve(b.ops, 10));  // held {10, 0}, left {75, 10}
  TNY_ASSERT_OK(e.delete_workspace(b.owner, b.ops, "Ops"));
  // Return on delete: balance {65, 10} plus the hold {10, 0}, per bucket;
  // one entry per funded meter (order between them not prescribed).
  std::vector<LedgerEntry> got = b.Ledger();
  ASSERT_EQ(got.size(), want.size() + 2);
  LedgerEntry credits_back, minutes_back;
  for (size_t i = want.size(); i < got.size(); ++i) {
    (got[i].meter == kCredits ? credits_back : minutes_back) = got[i];
  }
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("entry ", i + 1));
    EXPECT_EQ(EntryText(got[i]), EntryText(want[i]));
  }
  for (const LedgerEntry& back : {credits_back, minutes_back}) {
    SCOPED_TRACE(EntryText(back));
    EXPECT_EQ(back.kind, LedgerKind::kReturnOnDelete);
    EXPECT_EQ(back.actor, b.owner);
    EXPECT_EQ(back.account, b.account);
    EXPECT_EQ(back.workspace, b.ops);
    EXPECT_EQ(back.revision, e.revision());
    EXPECT_EQ(back.time_ns, b.Now());
  }
  EXPECT_EQ(credits_back.meter, kCredits);
  EXPECT_EQ(credits_back.amounts, (Amounts{75, 10}));
  EXPECT_EQ(minutes_back.meter, kMinutes);
  EXPECT_EQ(minutes_back.amounts, (Amounts{9, 0}));
  // Sequences: strictly increasing from 1, no gaps.
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].sequence, i + 1);
  TNY_EXPECT_REFUSED(e.reservation(r4), Code::kNotFound, "(C6)");
  ExpectConserved(e, b.account, kCredits);
  ExpectConserved(e, b.account, kMinutes);
  TNY_EXPECT_OK(e.verify());
}

TEST(Ledger, C7_QueriesByAccountWorkspaceTimeAndSequence) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  std::vector<int64_t> t;  // time of entry i+1
  auto step = [&]() {
    t.push_back(b.Now());
    b.clock->advance_s(1);
  };
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100));  // 1
  step();
  TNY_ASSERT_OK(e.grant(kSystem, b.other, 100));  // 2
  step();
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 10).status());  // 3
  step();
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.client_b, 10).status());  // 4
  step();
  TNY_ASSERT_OK(e.transfer(kSystem, b.other, b.elsewhere, 10).status());  // 5
  step();
  TNY_ASSERT_OK(e.revoke(kSystem, b.ops, 5));  // 6
  step();
  auto seqs = [&](LedgerQuery q) {
    std::vector<uint64_t> out;
    for (const LedgerEntry& entry : b.Ledger(q)) out.push_back(entry.sequence);
    return out;
  };
  using Seqs = std::vector<uint64_t>;
  EXPECT_EQ(seqs({}), (Seqs{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(seqs({.account = b.account}), (Seqs{1, 3, 4, 6}));
  EXPECT_EQ(seqs({.account = b.other}), (Seqs{2, 5}));
  EXPECT_EQ(seqs({.workspace = b.ops}), (Seqs{3, 6}));
  EXPECT_EQ(seqs({.workspace = b.client_b}), (Seqs{4}));
  EXPECT_EQ(seqs({.workspace = b.agency}), Seqs{});  // never funded
  EXPECT_EQ(seqs({.account = b.other, .workspace = b.ops}), Seqs{});
  EXPECT_EQ(seqs({.since_ns = t[3]}), (Seqs{4, 5, 6}));
  EXPECT_EQ(seqs({.since_ns = t[3] + 1}), (Seqs{5, 6}));
  EXPECT_EQ(seqs({.since_ns = b.Now()}), Seqs{});
  EXPECT_EQ(seqs({.since_ns = kI64Min}), (Seqs{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(seqs({.after_sequence = 4}), (Seqs{5, 6}));
  EXPECT_EQ(seqs({.after_sequence = 6}), Seqs{});
  EXPECT_EQ(seqs({.after_sequence = 1'000'000}), Seqs{});
  EXPECT_EQ(seqs({.after_sequence = ~uint64_t{0}}), Seqs{});
  EXPECT_EQ(seqs({.account = b.account, .since_ns = t[2], .after_sequence = 3}), (Seqs{4, 6}));
  // Unknown accounts and workspaces simply match nothing.
  EXPECT_EQ(seqs({.account = 999'999}), Seqs{});
  EXPECT_EQ(seqs({.workspace = 999'999}), Seqs{});
  // A deleted workspace's history stays, with its return entry.
  TNY_ASSERT_OK(e.delete_workspace(kSystem, b.client_b, "Client B"));
  std::vector<LedgerEntry> history = b.Ledger({.workspace = b.client_b});
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].kind, LedgerKind::kTransfer);
  EXPECT_EQ(history[1].kind, LedgerKind::kReturnOnDelete);
  EXPECT_EQ(history[1].amounts, (Amounts{10, 0}));
  EXPECT_EQ(history[1].sequence, 7u);
}

TEST(Ledger, C7_EntriesThatLeftMemoryAreFailedPrecondition) {
  Engine::Options options;
  options.ledger_retention = 4;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  for (int i = 1; i <= 6; ++i) {
    TNY_ASSERT_OK(e.grant(kSystem, b.account, i));
  }
  const std::string before = State(b);
  TNY_EXPECT_REFUSED(e.ledger(), Code::kFailedPrecondition, "(C7)");
  TNY_EXPECT_REFUSED(e.ledger({.after_sequence = 1}), Code::kFailedPrecondition, "(C7)");
  TNY_EXPECT_REFUSED(e.ledger({.account = b.account}), Code::kFailedPrecondition, "(C7)");
  // From the oldest retained entry on, all is there.
  std::vector<LedgerEntry> kept = b.Ledger({.after_sequence = 2});
  ASSERT_EQ(kept.size(), 4u);
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i].sequence, i + 3);
    EXPECT_EQ(kept[i].amounts, (Amounts{static_cast<int64_t>(i + 3), 0}));
  }
  EXPECT_EQ(b.Ledger({.after_sequence = 5}).size(), 1u);
  EXPECT_EQ(b.Ledger({.after_sequence = 6}).size(), 0u);
  EXPECT_EQ(State(b), before);  // asking changes nothing
  // The books still balance: granted does not depend on the retained ledger.
  EXPECT_EQ(b.Pool(b.account).granted, 21);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
  // New entries keep numbering on.
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 7));
  std::vector<LedgerEntry> newest = b.Ledger({.after_sequence = 6});
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].sequence, 7u);
  TNY_EXPECT_REFUSED(e.ledger({.after_sequence = 2}), Code::kFailedPrecondition, "(C7)");
}

TEST(Ledger, C7_AQuerySinceATimePastTheDroppedEntriesIsAnswered) {
  Engine::Options options;
  options.ledger_retention = 3;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  std::vector<int64_t> t;
  for (int i = 1; i <= 5; ++i) {
    t.push_back(b.Now());
    TNY_ASSERT_OK(e.grant(kSystem, b.account, i));
    b.clock->advance_s(1);
  }
  // Entries 1 and 2 left memory; asking from entry 3's time on asks none of them.
  std::vector<LedgerEntry> since = b.Ledger({.since_ns = t[2]});
  ASSERT_EQ(since.size(), 3u);
  EXPECT_EQ(since.front().sequence, 3u);
  EXPECT_EQ(b.Ledger({.since_ns = t[4]}).size(), 1u);
  // From entry 2's time on includes a dropped entry.
  TNY_EXPECT_REFUSED(e.ledger({.since_ns = t[1]}), Code::kFailedPrecondition, "(C7)");
  TNY_EXPECT_REFUSED(e.ledger({.account = b.account, .since_ns = t[0]}), Code::kFailedPrecondition,
                     "(C7)");
}

TEST(Ledger, C7_ConsumeAndReserveMakeNoEntryButConsumptionIsCounted) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  const size_t entries = b.Ledger().size();
  TNY_ASSERT_OK(e.consume(b.ops, 7).status());
  TNY_ASSERT_OK(e.consume(b.ops, 3, kCredits, "key").status());
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId id, b.Reserve(b.ops, 20));
  EXPECT_EQ(b.Ledger().size(), entries);
  TNY_ASSERT_OK(e.commit(id, 15));  // a commit is an entry
  EXPECT_EQ(b.Ledger().size(), entries + 1);
  Balance bal = b.Bal(b.ops);
  EXPECT_EQ(bal.consumed, 7 + 3 + 15);
  EXPECT_EQ(bal.buckets, (Amounts{75, 0}));
  // Per workspace and per meter.
  EXPECT_EQ(b.Bal(b.client_a).consumed, 0);
  EXPECT_EQ(b.Bal(b.ops, kMinutes).consumed, 0);
}

TEST(Ledger, C7_CreditChangesGetARevisionAndAnAuditRecord) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  uint64_t rev = e.revision();
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 100));
  TNY_ASSERT_OK(e.transfer(b.owner, b.account, b.client_a, 60).status());
  TNY_ASSERT_OK(e.revoke(b.admin, b.client_a, 10));
  TNY_ASSERT_OK(e.define_meter("tokens", {"regular"}).status());
  EXPECT_EQ(e.revision(), rev + 4);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, e.changes_since(rev));
  ASSERT_EQ(feed.size(), 4u);
  EXPECT_THAT(feed[0].what, ::testing::HasSubstr("grant"));
  EXPECT_EQ(feed[0].account, b.account);
  EXPECT_THAT(feed[1].what, ::testing::HasSubstr("transfer"));
  EXPECT_EQ(feed[1].actor, b.owner);
  EXPECT_EQ(feed[1].account, b.account);
  EXPECT_EQ(feed[1].workspace, b.client_a);
  EXPECT_THAT(feed[2].what, ::testing::HasSubstr("revoke"));
  EXPECT_EQ(feed[2].actor, b.admin);
  EXPECT_EQ(feed[2].workspace, b.client_a);
  EXPECT_THAT(feed[3].what, ::testing::HasSubstr("define_meter"));
  for (size_t i = 0; i < feed.size(); ++i) EXPECT_EQ(feed[i].revision, rev + 1 + i);
  // Consume, reserve, commit, release and expiry are not changes of the graph.
  rev = e.revision();
  TNY_ASSERT_OK(e.consume(b.client_a, 5).status());
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r1, b.Reserve(b.client_a, 5));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r2, b.Reserve(b.client_a, 5));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r3, b.Reserve(b.client_a, 5, kCredits, 1));
  TNY_ASSERT_OK(e.commit(r1, 5));
  TNY_ASSERT_OK(e.release(r2));
  b.clock->advance_s(1);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 1u);
  EXPECT_EQ(e.revision(), rev);
  TNY_ASSERT_OK_AND_ASSIGN(feed, e.changes_since(rev));
  EXPECT_TRUE(feed.empty());
  (void)r3;
  // A refused credit change gets neither.
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.revoke(kSystem, b.client_a, 1000), Code::kResourceExhausted,
                                   "(C4)");
  TNY_ASSERT_OK_AND_ASSIGN(feed, e.changes_since(rev));
  EXPECT_TRUE(feed.empty());
}

// =====================================================================
// C8: conservation
// =====================================================================

TEST(Credits, C8_ConservationHoldsThroughAMixedScenario) {
  Engine::Options options;
  options.idempotency_window_s = 30;
  Bank b(options);
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(MeterId tokens, e.define_meter("tokens", {"paid", "free"}));
  const std::vector<MeterId> meters = {kCredits, kMinutes, tokens};
  auto conserved = [&](const char* when) {
    SCOPED_TRACE(when);
    for (AccountId a : {b.account, b.other}) {
      for (MeterId m : meters) ExpectConserved(e, a, m);
    }
    TNY_EXPECT_OK(e.verify());
  };
  conserved("start");
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 1000));
  TNY_ASSERT_OK(e.grant(b.owner, b.account, 500, kCredits, "extra"));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 300, kMinutes));
  TNY_ASSERT_OK(e.grant(kSystem, b.account, 40, tokens, "free"));
  TNY_ASSERT_OK(e.grant(kSystem, b.other, 250));
  conserved("grants");
  TNY_ASSERT_OK(e.transfer(b.admin, b.account, b.agency, 400).status());
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.client_a, 700).status());  // 600 + 100 extra
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.client_b, 200).status());
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 100, kMinutes).status());
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, 30, tokens).status());
  TNY_ASSERT_OK(e.transfer(b.other_owner, b.other, b.elsewhere, 250).status());
  conserved("transfers");
  TNY_ASSERT_OK(e.consume(b.agency, 150).status());
  TNY_ASSERT_OK(e.consume(b.client_a, 650, kCredits, "a").status());
  TNY_ASSERT_OK(e.consume(b.client_a, 650, kCredits, "a").status());  // replay
  TNY_ASSERT_OK(e.consume(b.ops, 99, kMinutes).status());
  TNY_ASSERT_OK(e.consume(b.ops, 30, tokens).status());
  TNY_ASSERT_OK(e.consume(b.elsewhere, 1).status());
  EXPECT_EQ(e.consume(b.client_b, 201).status().code(), Code::kResourceExhausted);
  conserved("consumes");
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r1, b.Reserve(b.client_a, 50));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r2, b.Reserve(b.agency, 200, kCredits, 5));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r3, b.Reserve(b.client_b, 150));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r4, b.Reserve(b.elsewhere, 100, kCredits, 5));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r5, b.Reserve(b.agency, 10));
  conserved("reserves");
  TNY_ASSERT_OK(e.commit(r1, 30));
  TNY_ASSERT_OK(e.release(r3));
  TNY_ASSERT_OK(e.revoke(kSystem, b.client_b, 100, kCredits, "extra"));
  TNY_ASSERT_OK(e.revoke(kSystem, b.agency, 40, kCredits, "regular"));
  conserved("settle and revoke");
  b.clock->advance_s(6);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 2u);  // r2, r4
  EXPECT_EQ(e.commit(r2, 1).code(), Code::kNotFound);
  (void)r4;
  conserved("expiry");
  TNY_ASSERT_OK(e.set_status(kSystem, b.client_b, WorkspaceStatus::kInactive));
  EXPECT_EQ(e.consume(b.client_b, 1).status().code(), Code::kFailedPrecondition);
  TNY_ASSERT_OK(e.delete_workspace(b.ws_owner, b.agency, "Agency"));  // r5 goes with it
  EXPECT_EQ(e.commit(r5, 1).code(), Code::kNotFound);
  conserved("delete");
  // The pool got it all back; the deleted workspaces' consumption is kept.
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.granted, 1500);
  EXPECT_EQ(pool.consumed_by_deleted, 150 + 650 + 30);
  EXPECT_EQ(pool.available(), 1500 - (150 + 650 + 30));
  TNY_ASSERT_OK(e.transfer(kSystem, b.account, b.ops, pool.available()).status());
  TNY_ASSERT_OK(e.consume(b.ops, pool.available()).status());
  conserved("spent");
}

// =====================================================================
// A7: authorize_and_consume
// =====================================================================

TEST(Credits, A7_DeniedIsFalseAndNothingIsDebited) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.agency, 100, 0));
  TNY_ASSERT_OK(b.engine.grant(kSystem, b.account, 100));
  TNY_ASSERT_OK(b.engine.transfer(kSystem, b.account, b.client_a, 100).status());
  Engine& e = b.engine;
  const PermissionId consume = b.Perm("credits.consume");
  const std::vector<std::pair<const char*, std::pair<UserId, WorkspaceId>>> denied = {
      {"viewer", {b.viewer, b.agency}},
      {"outsider", {b.outsider, b.agency}},
      {"client (holds no credits.consume)", {b.client, b.client_a}},
      {"other account's owner", {b.other_owner, b.agency}},
      {"user 0", {0, b.agency}},
      {"unknown user", {987'654, b.agency}},
  };
  for (const auto& [who, where] : denied) {
    SCOPED_TRACE(who);
    const std::string before = State(b);
    TNY_ASSERT_OK_AND_ASSIGN(bool ok,
                             e.authorize_and_consume(where.first, where.second, consume, 5));
    EXPECT_FALSE(ok);
    EXPECT_EQ(State(b), before);
  }
  // Unknown and out-of-range permissions, and unknown workspaces, deny.
  for (PermissionId p :
       {PermissionId{limits::kMaxPermissions}, PermissionId{999'999}, ~PermissionId{0}}) {
    SCOPED_TRACE(p);
    const std::string before = State(b);
    TNY_ASSERT_OK_AND_ASSIGN(bool ok, e.authorize_and_consume(b.owner, b.agency, p, 5));
    EXPECT_FALSE(ok);
    EXPECT_EQ(State(b), before);
  }
  for (WorkspaceId ws : kHostileIds) {
    SCOPED_TRACE(ws);
    const std::string before = State(b);
    TNY_ASSERT_OK_AND_ASSIGN(bool ok, e.authorize_and_consume(b.owner, ws, consume, 5));
    EXPECT_FALSE(ok);
    EXPECT_EQ(State(b), before);
  }
  // Denied even when the amount is far more than there is: the check decides first.
  TNY_ASSERT_OK_AND_ASSIGN(bool ok, e.authorize_and_consume(b.viewer, b.agency, consume, 1000));
  EXPECT_FALSE(ok);
  EXPECT_EQ(b.Bal(b.agency).available(), 100);
  EXPECT_EQ(b.Bal(b.client_a).available(), 100);
}

TEST(Credits, A7_AllowedIsTrueAndDebited) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.agency, 100, 50));
  TNY_ASSERT_OK(b.engine.grant(kSystem, b.account, 40));
  TNY_ASSERT_OK(b.engine.transfer(kSystem, b.account, b.client_b, 40).status());
  TNY_ASSERT_OK(b.engine.grant(kSystem, b.account, 30, kMinutes));
  TNY_ASSERT_OK(b.engine.transfer(kSystem, b.account, b.ops, 30, kMinutes).status());
  Engine& e = b.engine;
  const PermissionId consume = b.Perm("credits.consume");
  const uint64_t rev = e.revision();
  const size_t entries = b.Ledger().size();
  TNY_ASSERT_OK_AND_ASSIGN(bool ok, e.authorize_and_consume(b.member, b.agency, consume, 120));
  EXPECT_TRUE(ok);
  Balance bal = b.Bal(b.agency);
  EXPECT_EQ(bal.buckets, (Amounts{0, 30}));  // regular first
  EXPECT_EQ(bal.consumed, 120);
  // Inherited from the agency (A3), staff, the workspace owner.
  TNY_ASSERT_OK_AND_ASSIGN(ok, e.authorize_and_consume(b.member, b.client_b, consume, 10));
  EXPECT_TRUE(ok);
  TNY_ASSERT_OK_AND_ASSIGN(ok, e.authorize_and_consume(b.staff, b.client_b, consume, 10));
  EXPECT_TRUE(ok);
  TNY_ASSERT_OK_AND_ASSIGN(ok, e.authorize_and_consume(b.ws_owner, b.client_b, consume, 10));
  EXPECT_TRUE(ok);
  EXPECT_EQ(b.Bal(b.client_b).available(), 10);
  EXPECT_EQ(b.Bal(b.client_b).consumed, 30);
  // Another permission and another meter.
  TNY_ASSERT_OK_AND_ASSIGN(
      ok, e.authorize_and_consume(b.owner, b.ops, b.Perm("workspace.view"), 12, kMinutes));
  EXPECT_TRUE(ok);
  EXPECT_EQ(b.Bal(b.ops, kMinutes).available(), 18);
  EXPECT_EQ(b.Bal(b.ops, kCredits).consumed, 0);
  // Like consume: no revision, no ledger entry.
  EXPECT_EQ(e.revision(), rev);
  EXPECT_EQ(b.Ledger().size(), entries);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, A7_AllowedButShortIsRefusedAndNothingIsDebited) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.agency, 30, 20));
  Engine& e = b.engine;
  const PermissionId consume = b.Perm("credits.consume");
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.authorize_and_consume(b.member, b.agency, consume, 51),
                                      Code::kResourceExhausted, "\\((C5|A7)\\)");
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b,
                                      e.authorize_and_consume(b.member, b.agency, consume, kI64Max),
                                      Code::kResourceExhausted, "\\((C5|A7)\\)");
  // Never funded.
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.authorize_and_consume(b.member, b.client_a, consume, 1),
                                      Code::kResourceExhausted, "\\((C5|A7)\\)");
  TNY_ASSERT_OK_AND_ASSIGN(bool ok, e.authorize_and_consume(b.member, b.agency, consume, 50));
  EXPECT_TRUE(ok);
  EXPECT_EQ(b.Bal(b.agency).available(), 0);
}

TEST(Credits, A7_InactiveWorkspaceDeniesOrRefuses) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kInactive));
  // An inactive workspace grants nothing but view, edit and delete (T5)...
  {
    const std::string before = State(b);
    TNY_ASSERT_OK_AND_ASSIGN(bool ok,
                             e.authorize_and_consume(b.owner, b.ops, b.Perm("credits.consume"), 5));
    EXPECT_FALSE(ok);
    EXPECT_EQ(State(b), before);
  }
  // ...and where the check allows, the consume is refused (T5).
  CREDITS_EXPECT_REFUSED_UNCHANGED(
      b, e.authorize_and_consume(b.owner, b.ops, b.Perm("workspace.view"), 5),
      Code::kFailedPrecondition, "(T5)");
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kActive));
  TNY_ASSERT_OK_AND_ASSIGN(bool ok,
                           e.authorize_and_consume(b.owner, b.ops, b.Perm("credits.consume"), 5));
  EXPECT_TRUE(ok);
  EXPECT_EQ(b.Bal(b.ops).available(), 95);
}

// =====================================================================
// T5: an inactive workspace accepts no consumption
// =====================================================================

TEST(Credits, T5_InactiveWorkspaceRefusesConsumeAndReserve) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 50, 50));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 10, 0, kMinutes));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId before_off, b.Reserve(b.ops, 10));
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kInactive));
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 1), Code::kFailedPrecondition, "(T5)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 1, kMinutes), Code::kFailedPrecondition,
                                   "(T5)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.consume(b.ops, 1, kCredits, "k"), Code::kFailedPrecondition,
                                   "(T5)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.ops, 1), Code::kFailedPrecondition, "(T5)");
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, b.Reserve(b.ops, 1, kMinutes), Code::kFailedPrecondition,
                                   "(T5)");
  // Its balance stays readable, and other workspaces are unaffected (T8).
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{40, 50}));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_b, 5, 0));
  TNY_EXPECT_OK(e.consume(b.client_b, 5).status());
  // A hold made while active may still be settled.
  TNY_ASSERT_OK(e.commit(before_off, 10));
  // Active again: consumption works again.
  TNY_ASSERT_OK(e.set_status(kSystem, b.ops, WorkspaceStatus::kActive));
  TNY_ASSERT_OK_AND_ASSIGN(int64_t left, e.consume(b.ops, 1));
  EXPECT_EQ(left, 89);
  // The refusal of key "k" while inactive is remembered (C5); a new key works.
  CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(b.ops, 1, kCredits, "k"),
                                      Code::kFailedPrecondition, kAnyRule);
  TNY_ASSERT_OK_AND_ASSIGN(left, e.consume(b.ops, 1, kCredits, "k2"));
  EXPECT_EQ(left, 88);
  TNY_ASSERT_OK(b.Reserve(b.ops, 1).status());
  TNY_ASSERT_OK(e.consume(b.ops, 1, kMinutes).status());
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

// =====================================================================
// T7: deleting a workspace returns its credits
// =====================================================================

TEST(Credits, T7_DeleteReturnsBalancesAndHoldsToThePoolPerBucket) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  Engine& e = b.engine;
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.agency, 10, 20));
  TNY_ASSERT_OK(e.consume(b.agency, 5).status());  // agency {5, 20}, consumed 5
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_a, 30, 40));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.client_a, 50));  // held {30, 20}
  TNY_ASSERT_OK(e.consume(b.client_a, 10).status());  // client_a {0, 10}, consumed 10
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_a, 7, 0, kMinutes));
  TNY_ASSERT_OK(e.consume(b.client_a, 2, kMinutes).status());  // {5, 0}, consumed 2
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 1, 2));                // stays
  // Client B was never funded.
  ASSERT_EQ(b.Pool(b.account).available(), 0);
  const size_t entries = b.Ledger().size();

  TNY_ASSERT_OK(e.delete_workspace(b.ws_owner, b.agency, "Agency"));  // cascades to A and B
  const uint64_t rev = e.revision();

  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.buckets, (Amounts{5 + 30, 20 + 10 + 20}));
  EXPECT_EQ(pool.granted, 103);
  EXPECT_EQ(pool.consumed_by_deleted, 5 + 10);
  AccountBalance minutes = b.Pool(b.account, kMinutes);
  EXPECT_EQ(minutes.buckets, (Amounts{5, 0}));
  EXPECT_EQ(minutes.consumed_by_deleted, 2);
  // One return entry per (workspace, meter) ever funded; none for Client B.
  std::vector<LedgerEntry> all = b.Ledger();
  ASSERT_EQ(all.size(), entries + 3);
  std::map<std::pair<WorkspaceId, MeterId>, LedgerEntry> back;
  for (size_t i = entries; i < all.size(); ++i) {
    EXPECT_EQ(all[i].kind, LedgerKind::kReturnOnDelete);
    EXPECT_EQ(all[i].actor, b.ws_owner);
    EXPECT_EQ(all[i].account, b.account);
    EXPECT_EQ(all[i].revision, rev);
    back[{all[i].workspace, all[i].meter}] = all[i];
  }
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ((back[{b.agency, kCredits}].amounts), (Amounts{5, 20}));
  EXPECT_EQ((back[{b.client_a, kCredits}].amounts), (Amounts{30, 30}));
  EXPECT_EQ((back[{b.client_a, kMinutes}].amounts), (Amounts{5, 0}));
  // The deleted workspaces are gone for credits too.
  for (WorkspaceId gone : {b.agency, b.client_a, b.client_b}) {
    SCOPED_TRACE(gone);
    TNY_EXPECT_REFUSED(e.balance(gone), Code::kNotFound, "");
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.consume(gone, 1), Code::kNotFound, kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, b.Reserve(gone, 1), Code::kNotFound, kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.transfer(kSystem, b.account, gone, 1), Code::kNotFound,
                                        kAnyRule);
    CREDITS_EXPECT_REFUSED_RE_UNCHANGED(b, e.revoke(kSystem, gone, 1), Code::kNotFound, kAnyRule);
  }
  TNY_EXPECT_REFUSED(e.reservation(hold), Code::kNotFound, "(C6)");
  // Ops is untouched; the pool can fund it.
  EXPECT_EQ(b.Bal(b.ops).buckets, (Amounts{1, 2}));
  TNY_ASSERT_OK_AND_ASSIGN(Amounts taken, e.transfer(kSystem, b.account, b.ops, 40));
  EXPECT_EQ(taken, (Amounts{35, 5}));
  ExpectConserved(e, b.account, kCredits);
  ExpectConserved(e, b.account, kMinutes);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, T7_ReservationsOfADeletedWorkspaceAreNotFound) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_b, 100, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r1, b.Reserve(b.client_b, 10));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId r2, b.Reserve(b.client_b, 20, kCredits, 1));
  TNY_ASSERT_OK(e.delete_workspace(kSystem, b.client_b, "Client B"));
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{100, 0}));
  for (ReservationId id : {r1, r2}) {
    SCOPED_TRACE(id);
    TNY_EXPECT_REFUSED(e.reservation(id), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.commit(id, 1), Code::kNotFound, "(C6)");
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.release(id), Code::kNotFound, "(C6)");
  }
  // Its expired hold was returned by the delete, not again by a sweep.
  b.clock->advance_s(5);
  TNY_ASSERT_OK_AND_ASSIGN(uint64_t swept, e.expire_reservations());
  EXPECT_EQ(swept, 0u);
  EXPECT_EQ(b.Pool(b.account).buckets, (Amounts{100, 0}));
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, T7_AFundedButEmptyWorkspaceStillGetsItsReturnEntry) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.ops, 20, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK(e.consume(b.ops, 20).status());
  const size_t entries = b.Ledger().size();
  TNY_ASSERT_OK(e.delete_workspace(kSystem, b.ops, "Ops"));
  std::vector<LedgerEntry> all = b.Ledger();
  ASSERT_EQ(all.size(), entries + 1);
  EXPECT_EQ(all.back().kind, LedgerKind::kReturnOnDelete);
  EXPECT_EQ(all.back().workspace, b.ops);
  EXPECT_EQ(all.back().amounts, (Amounts{0, 0}));
  EXPECT_EQ(all.back().actor, kSystem);
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.buckets, (Amounts{0, 0}));
  EXPECT_EQ(pool.consumed_by_deleted, 20);
  // A workspace never funded: no entry at all.
  TNY_ASSERT_OK(e.delete_workspace(kSystem, b.client_b, "Client B"));
  EXPECT_EQ(b.Ledger().size(), entries + 1);
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, T7_DeleteInABatchReturnsCreditsOnlyWhenTheBatchApplies) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_b, 40, 60));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.client_b, 50));  // {40, 10}
  TNY_ASSERT_OK(e.consume(b.client_b, 5).status());                         // {0, 45}
  {
    Batch batch;
    batch.delete_workspace(kSystem, b.client_b, "Client B")
        .rename_workspace(kSystem, 999'999, "Nowhere");  // fails: nothing applies
    const std::string before = State(b);
    EXPECT_FALSE(e.apply(batch).ok());
    EXPECT_EQ(State(b), before);
  }
  // The workspace still spends, its hold still settles.
  TNY_ASSERT_OK(e.consume(b.client_b, 5).status());  // {0, 40}
  TNY_ASSERT_OK(e.commit(hold, 20));                 // back {20, 10}: {20, 50}
  EXPECT_EQ(b.Bal(b.client_b).buckets, (Amounts{20, 50}));
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold2, b.Reserve(b.client_b, 30));  // {20, 10}
  {
    Batch batch;
    batch.rename_workspace(kSystem, b.client_b, "Client Beta")
        .delete_workspace(kSystem, b.client_b, "Client Beta");
    TNY_ASSERT_OK(e.apply(batch).status());
  }
  AccountBalance pool = b.Pool(b.account);
  EXPECT_EQ(pool.buckets, (Amounts{20, 50}));
  EXPECT_EQ(pool.consumed_by_deleted, 30);
  LedgerEntry back = b.LastEntry();
  EXPECT_EQ(back.kind, LedgerKind::kReturnOnDelete);
  EXPECT_EQ(back.amounts, (Amounts{20, 50}));
  EXPECT_EQ(back.revision, e.revision());
  TNY_EXPECT_REFUSED(e.reservation(hold2), Code::kNotFound, "(C6)");
  ExpectConserved(e, b.account, kCredits);
  TNY_EXPECT_OK(e.verify());
}

TEST(Credits, T7_ARefusedDeleteChangesNoCredits) {
  Bank b;
  ASSERT_NO_FATAL_FAILURE(b.Build());
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.agency, 10, 20));
  ASSERT_NO_FATAL_FAILURE(b.Fund(b.client_a, 30, 0));
  Engine& e = b.engine;
  TNY_ASSERT_OK_AND_ASSIGN(ReservationId hold, b.Reserve(b.client_a, 5));
  TNY_ASSERT_OK(e.consume(b.agency, 3).status());
  for (const char* wrong : {"agency", "Agency ", "", "Client A"}) {
    SCOPED_TRACE(wrong);
    CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.delete_workspace(b.ws_owner, b.agency, wrong),
                                     Code::kInvalidArgument, "(T7)");
  }
  CREDITS_EXPECT_REFUSED_UNCHANGED(b, e.delete_workspace(b.member, b.agency, "Agency"),
                                   Code::kPermissionDenied, "(M10)");
  TNY_ASSERT_OK_AND_ASSIGN(ReservationInfo info, e.reservation(hold));
  EXPECT_EQ(info.held, (Amounts{5, 0}));
  EXPECT_EQ(b.Bal(b.agency).consumed, 3);
  EXPECT_EQ(b.Pool(b.account).consumed_by_deleted, 0);
  TNY_ASSERT_OK(e.commit(hold, 5));
  TNY_EXPECT_OK(e.verify());
}

}  // namespace
}  // namespace tenantry
