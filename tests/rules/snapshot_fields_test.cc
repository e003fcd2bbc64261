// Copyright 2026 The tenantry Authors.
//
// P2, field by field: a snapshot whose content was edited and re-signed (its
// checksum recomputed, as anyone who can write the file can) loads only when
// every field holds what the engine itself could have stored there. The
// schema is enumerated through its binary form (tenantry.bfbs, FlatBuffers
// reflection), so a field added to snapshots/tenantry.fbs fails these tests
// until the loader checks it and the tables below say how:
//  - every string field (and [string] element) of every table is set, in a
//    rich snapshot, to values its rule refuses (invalid UTF-8, a control
//    character, NUL, empty, over-long, upper case, untrimmed ... as that
//    rule has it), and each must be refused with DataLoss naming the field
//    and P2. A string field without a rule in kStringRules, or without an
//    instance in the fixture, fails (cover it there);
//  - every other field is in FieldChecks() with what its load-time check is,
//    and the ranged ones with values that must be refused, and values that
//    must load into an engine that verifies and answers every read.
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuzz/snapshot_edit.h"
#include "ops.h"
#include "persist_util.h"
#include "tenantry/limits.h"
#include "tenantry/snapshot.h"
#include "tenantry_generated.h"
#include "test_util.h"
#include "write_path.h"

namespace tenantry::test {
namespace {

using edit::FieldName;
using edit::IsString;
using edit::Schema;
using edit::Seal;

std::string TempPath(absl::string_view name) {
  return absl::StrCat(::testing::TempDir(), "/tny-fields-", ::getpid(), "-", name, ".tny");
}

absl::StatusOr<std::unique_ptr<Engine>> Load(const std::vector<uint8_t>& file) {
  const std::string path = TempPath("load");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()),
              static_cast<std::streamsize>(file.size()));
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine = LoadSnapshot(path);
  std::remove(path.c_str());
  return engine;
}

// ---- The fixture: one instance of every table and every string field ----

// Rich (persist_util.h) and what it lacks: a second account without a plan
// or key, staff with a specific scope, a staff invitation, an accepted and a
// revoked one, a session under an inactivity timeout, and a revoke, a
// release, an expiry and a deleted workspace's return in the ledger.
struct Fixture {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::unique_ptr<Rich> rich;
  std::vector<uint8_t> file;     // as SaveSnapshot wrote it
  std::vector<uint8_t> content;  // its content with every scalar present (Dense)

  void Build() {
    Engine::Options options;
    options.clock = clock;
    rich = std::make_unique<Rich>(std::make_unique<Engine>(options));
    ASSERT_NO_FATAL_FAILURE(rich->Build());
    World& w = rich->world;
    Engine& e = w.engine;
    TNY_ASSERT_OK_AND_ASSIGN(UserId solo, e.create_user("solo@bare.test"));
    TNY_ASSERT_OK_AND_ASSIGN(AccountId bare,
                             e.create_account(AccountNamed("Bare", solo, std::nullopt)));
    TNY_ASSERT_OK(e.create_workspace(solo, bare, Named("Solo")).status());
    TNY_ASSERT_OK_AND_ASSIGN(UserId scoped, e.create_user("scoped@acme.test"));
    TNY_ASSERT_OK(e.add_staff(kSystem, w.account, scoped, "member", StaffScope::Of({w.client_a})));
    TNY_ASSERT_OK(
        e.invite_staff(kSystem, w.account, "later@acme.test", "member", StaffScope::Of({w.ops}))
            .status());
    TNY_ASSERT_OK_AND_ASSIGN(UserId joiner, e.create_user("joiner@customer.test"));
    TNY_ASSERT_OK_AND_ASSIGN(Invitation joining,
                             e.invite(kSystem, w.ops, "joiner@customer.test", "member"));
    TNY_ASSERT_OK(e.accept(joining.token, joiner));
    TNY_ASSERT_OK_AND_ASSIGN(Invitation gone, e.invite(kSystem, w.ops, "gone@else.test"));
    TNY_ASSERT_OK(e.revoke_invitation(kSystem, gone.id));
    TNY_ASSERT_OK(e.set_setting(kSystem, w.client_a, "inactivity_timeout_s", int64_t{900}));
    TNY_ASSERT_OK(e.revoke(kSystem, w.client_a, 10, kCredits, "regular"));
    TNY_ASSERT_OK_AND_ASSIGN(ReservationId released, e.reserve(w.client_a, 5));
    TNY_ASSERT_OK(e.release(released));
    TNY_ASSERT_OK(e.reserve(w.client_a, 6, kCredits, 1).status());
    clock->advance_s(2);
    TNY_ASSERT_OK(e.expire_reservations().status());
    TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId doomed,
                             e.create_workspace(kSystem, w.account, Named("Doomed")));
    TNY_ASSERT_OK(e.transfer(kSystem, w.account, doomed, 20).status());
    TNY_ASSERT_OK(e.delete_workspace(kSystem, doomed, "Doomed"));
    // R6: a replica group's holds (made here by the ops a replica's log
    // carries): a lease, settled once, then a reservation.
    TNY_ASSERT_OK_AND_ASSIGN(
        uint64_t lease,
        internal::RunOp(e, internal::Encode<&internal::Writer::HoldCredits>(
                               "replica-a", w.client_a, MeterRef(kCredits), 8, true, 1, 0, 60000)));
    TNY_ASSERT_OK(internal::RunOp(e, internal::Encode<&internal::Writer::SettleLease>(
                                         "replica-a", lease, 3, false, 60000, 0))
                      .status());
    TNY_ASSERT_OK(
        internal::RunOp(e, internal::Encode<&internal::Writer::HoldCredits>(
                               "replica-b", w.client_a, MeterRef(kCredits), 4, false, 1, 0, 60000))
            .status());
    TNY_ASSERT_OK(e.verify());
    const std::string path = TempPath("fixture");
    TNY_ASSERT_OK(SaveSnapshot(e, path));
    std::ifstream in(path, std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), {});
    std::remove(path.c_str());
    content = edit::Dense(fbs::GetFile(file.data())->content()->data());
  }
};

const Fixture& TheFixture() {
  static Fixture* const fixture = [] {
    auto* f = new Fixture();
    f->Build();
    return f;
  }();
  return *fixture;
}

// Refused as P2 demands: DataLoss, naming the field and P2 beside a rule,
// in the message and in the payload alike.
void ExpectRefused(const absl::StatusOr<std::unique_ptr<Engine>>& loaded, absl::string_view names,
                   const std::string& what) {
  if (loaded.ok()) {
    ADD_FAILURE() << what << ": loaded; the loader must refuse it";
    return;
  }
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << what << ": " << loaded.status();
  const std::string message(loaded.status().message());
  EXPECT_THAT(message, ::testing::HasSubstr(std::string(names))) << what;
  EXPECT_THAT(message, ::testing::ContainsRegex("P2\\)$")) << what;
  TNY_EXPECT_RULES_CARRIED(loaded.status()) << what;
}

// Loaded: the engine verifies and every read answers (under ASan and UBSan
// in the asan preset: no overflow, no read out of bounds).
void ExpectLoads(const absl::StatusOr<std::unique_ptr<Engine>>& loaded, const std::string& what) {
  ASSERT_TRUE(loaded.ok()) << what << ": " << loaded.status();
  TNY_EXPECT_OK((*loaded)->verify());
  EXPECT_FALSE(Everything(**loaded).empty()) << what;
}

// ---- (a) string fields ----

// How the loader checks a string field: with the engine's function for it.
enum class Rule {
  kName,         // NormalizeName(x, noun) == x (T3)
  kKey,          // NormalizeKey(x) == x (M1)
  kOptionalKey,  // "" (none), or a key
  kSlug,         // ValidateSlug (T3)
  kRoleName,     // ValidateRoleName (M6)
  kPermission,   // ValidatePermissionName (M7)
  kMeterName,    // ValidateMeterName (C1)
  kPlanName,     // ValidatePlanName (T2): text, kept as given
  kText,         // ValidateText: text of at most max_bytes (what the engine writes itself)
};

struct StringRule {
  const char* field;
  Rule rule;
  size_t max;  // bytes, or code points for names
};

constexpr StringRule kStringRules[] = {
    {"Plan.name", Rule::kPlanName, limits::kPlanNameMaxBytes},
    {"Account.name", Rule::kName, limits::kNameMaxCodePoints},
    {"Account.key", Rule::kOptionalKey, limits::kKeyMaxBytes},
    {"User.key", Rule::kKey, limits::kKeyMaxBytes},
    {"Workspace.name", Rule::kName, limits::kNameMaxCodePoints},
    {"Workspace.slug", Rule::kSlug, limits::kSlugMaxLength},
    {"Role.name", Rule::kRoleName, limits::kRoleNameMaxBytes},
    {"Team.name", Rule::kName, limits::kNameMaxCodePoints},
    {"Invitation.email", Rule::kKey, limits::kKeyMaxBytes},
    {"Meter.name", Rule::kMeterName, limits::kMeterNameMaxBytes},
    {"Meter.buckets", Rule::kMeterName, limits::kMeterNameMaxBytes},
    {"Change.what", Rule::kText, limits::kAuditTextMaxBytes},
    {"Hold.owner", Rule::kText, limits::kReplicaIdMaxBytes},
    {"Snapshot.writer", Rule::kText, limits::kSnapshotWriterMaxBytes},
    {"Snapshot.permissions", Rule::kPermission, limits::kPermissionNameMaxBytes},
};

// Values `rule` refuses, each with a label.
std::vector<std::pair<std::string, std::string>> Refused(const StringRule& r) {
  std::vector<std::pair<std::string, std::string>> out = {
      {"invalid UTF-8", "\xff\xfe"},
      {"a control character",
       "ab\x01"
       "cd"},
      {"an embedded NUL", std::string("ab\0cd", 5)},
      {"a line break", "ab\ncd"},
      // Past the first eight bytes, where the scan goes a word at a time.
      {"a late control character", "abcdefghijklmn\x02pq"},
      {"late invalid UTF-8", "abcdefghijklmnopq\xc3"},
  };
  if (r.rule != Rule::kOptionalKey) out.emplace_back("empty", "");
  std::string longest(r.max + 1, 'a');
  if (r.rule == Rule::kPermission) longest.replace(0, 2, "a.");
  out.emplace_back("over-long", longest);
  switch (r.rule) {
    case Rule::kName:
      out.emplace_back("untrimmed", " Acme ");
      out.emplace_back("only white space", " \xE3\x80\x80 ");
      break;
    case Rule::kKey:
    case Rule::kOptionalKey:
      out.emplace_back("upper case", "Ann@Acme.test");
      out.emplace_back("upper case after eight bytes", "ann.smith@Acme.test");
      out.emplace_back("upper case at the end", "ann.smith@acme.tesT");
      out.emplace_back("untrimmed", " ann@acme.test");
      break;
    case Rule::kSlug:
      out.emplace_back("upper case", "Acme");
      out.emplace_back("a trailing hyphen", "acme-");
      out.emplace_back("non-ASCII", "acm\xC3\xA9");
      break;
    case Rule::kRoleName:
      out.emplace_back("upper case", "Analyst");
      out.emplace_back("a built-in role's", "owner");
      break;
    case Rule::kPermission:
      out.emplace_back("upper case", "Reports.export");
      out.emplace_back("no action", "reports");
      break;
    case Rule::kMeterName:
      out.emplace_back("upper case", "SMS");
      out.emplace_back("untrimmed", " sms");
      break;
    case Rule::kPlanName:
    case Rule::kText:
      out.emplace_back("DEL", "ab\x7F");
      break;
  }
  return out;
}

TEST(SnapshotFields, P2_EveryStringFieldIsChecked) {
  const Fixture& f = TheFixture();
  ASSERT_FALSE(f.content.empty());
  // Signed again untouched, the dense content loads: each refusal below is the edit's.
  ExpectLoads(Load(Seal(f.content)), "the fixture");
  std::set<std::string> seen;
  for (const reflection::Object* object : *Schema().objects()) {
    for (const reflection::Field* field : *object->fields()) {
      if (!IsString(*field)) continue;
      const std::string name = FieldName(*object, *field);
      seen.insert(name);
      const StringRule* rule = nullptr;
      for (const StringRule& r : kStringRules) {
        if (r.field == name) rule = &r;
      }
      if (rule == nullptr) {
        ADD_FAILURE() << name << " has no rule in kStringRules: say (and make the loader check) "
                      << "what the engine lets it hold";
        continue;
      }
      const std::vector<size_t> strings = edit::StringsOf(f.content, *object, *field);
      if (strings.empty()) {
        ADD_FAILURE() << "the fixture holds no " << name << ": make Fixture::Build cover it";
        continue;
      }
      for (size_t at : {strings.front(), strings.back()}) {
        for (const auto& [label, value] : Refused(*rule)) {
          std::vector<uint8_t> content = f.content;
          edit::SetStringAt(&content, at, value);
          ExpectRefused(Load(Seal(content)), name, absl::StrCat(name, " holding ", label));
        }
      }
    }
  }
  for (const StringRule& r : kStringRules) {
    EXPECT_TRUE(seen.count(r.field))
        << r.field << " in kStringRules is no string field of the schema";
  }
}

// ---- (b) every other field ----

// An edit of one field in one table, and what loading must then do.
struct Mutation {
  int instance = 0;               // which table holding the field (TablesOf order; -1: the last)
  int64_t value = 0;              // the field's new value, or its element's
  int element = -1;               // a vector of scalars: the element set (-1: the field itself)
  int resize = -1;                // a vector of scalars: its new length instead
  const char* refused = nullptr;  // in the refusal's message; nullptr: it must load
};

struct FieldCheck {
  const char* field;
  const char* check;  // what the loader checks, for the reader of this table
  std::vector<Mutation> mutations;
};

constexpr int64_t kMin = INT64_MIN;
constexpr int64_t kMax = INT64_MAX;
constexpr int64_t kBalanceMax = limits::kMaxWorkspaceBalance;

// Every field that is not a string, with its load-time check. The fixture's
// tables in TablesOf order: accounts Acme (enterprise, key "acme", pools of
// credits then sms) and Bare (no plan); users 1..13 by id (9 is the client,
// with a session in Client A; 11 owns Bare; 12 is staff with scope {Client A});
// workspaces Agency, Client A, Client B, Ops, Solo; role analyst; team
// Support; invitations: 0 pending to Client A, 1 staff (scope {Ops}), 2
// accepted, 3 revoked; one live reservation and one remembered key; the
// ledger from its first grant; the feed from revision 1.
const std::vector<FieldCheck>& FieldChecks() {
  static const auto* const checks = new std::vector<FieldCheck>{
      // T2: plans.
      {"Plan.workspace_limit",
       "-1 (unlimited) or more (T2)",
       {{.value = -2, .refused = "plan limit (T2, P2)"}, {.value = 7}}},
      {"Plan.agency",
       "any; an unset plan is exactly UnsetPlan() (T2)",
       {{.instance = 1, .value = 1, .refused = "has no plan but holds"}}},
      // C2: pools.
      {"Pool.meter",
       "a meter of the snapshot, one pool per meter",
       {{.value = 9, .refused = "unknown or repeated meter"},
        {.instance = 1, .value = 0, .refused = "unknown or repeated meter"}}},
      {"Pool.regular",
       ">= 0; C8 by verify()",
       {{.value = -1, .refused = "negative"}, {.value = 1, .refused = "(C8"}}},
      {"Pool.extra",
       ">= 0, 0 for a one-bucket meter (C1); C8 by verify()",
       {{.value = -1, .refused = "negative"},
        {.instance = 1, .value = 5, .refused = "one-bucket meter (C1, P2)"}}},
      {"Pool.granted",
       ">= 0; C8 by verify()",
       {{.value = -1, .refused = "negative"}, {.value = kMax, .refused = "(C8"}}},
      {"Pool.consumed_by_deleted",
       ">= 0; C8 by verify()",
       {{.value = -1, .refused = "negative"}, {.value = 1, .refused = "(C8"}}},
      // T1: accounts.
      {"Account.id",
       "non-zero, unique, below next_ids[0]",
       {{.value = 0, .refused = "account id 0"}, {.value = 99, .refused = "not below the next"}}},
      {"Account.plan", "present (a Plan)", {}},
      {"Account.plan_set",
       "false only with UnsetPlan() (T2)",
       {{.value = 0, .refused = "has no plan but holds"}, {.instance = 1, .value = 1}}},
      {"Account.owner",
       "a user; the staff owner (M2, by verify())",
       {{.value = 99, .refused = "has no owner"}, {.value = 10, .refused = "(M2"}}},
      {"Account.member_default_all", "any", {{.value = 0}}},
      {"Account.staff_member_role",
       "admin, manager, member or viewer (M8)",
       {{.value = 1, .refused = "staff_member_role of account 1 is role 1"},
        {.value = 6, .refused = "(M8, P2)"},
        {.value = 64, .refused = "(M8, P2)"},
        {.value = 5}}},
      {"Account.pools", "each a Pool", {}},
      // M3: direct roles.
      {"Grant.workspace",
       "a workspace; one direct role per workspace (M3)",
       {{.value = 99, .refused = "unknown workspace"}}},
      {"Grant.role",
       "a workspace role of the workspace's account (M3, M6); one owner (M4)",
       {{.value = 7, .refused = "not a role of account"},
        {.value = 65, .refused = "not a role of account"},
        {.value = 2, .refused = "(M4"}}},
      // M2: staff.
      {"Staff.account", "an account, once per user", {{.value = 99, .refused = "unknown account"}}},
      {"Staff.role",
       "1 owner, 2 admin, 3 member; owners and admins have scope all (M2)",
       {{.value = 0, .refused = "a staff role"}, {.value = 4, .refused = "a staff role"}}},
      {"Staff.scope_all",
       "owners and admins: true (M2, verify()); with a list: false",
       {{.value = 0, .refused = "(M2"},
        {.instance = 4, .value = 1, .refused = "lists workspaces with all"}}},
      {"Staff.scope",
       "aligned; workspaces of the account, ascending (M2)",
       {{.instance = 4, .value = 99, .element = 0, .refused = "is unknown, foreign"},
        {.instance = 4, .value = 5, .element = 0, .refused = "is unknown, foreign"}}},
      // M1, S1: users.
      {"User.id",
       "non-zero, unique, below next_ids[1]",
       {{.value = 0, .refused = "user id 0"}, {.instance = 1, .value = 1, .refused = "repeated"}}},
      {"User.grants", "each a Grant", {}},
      {"User.staff", "each a Staff", {}},
      {"User.active_workspace",
       "0, or an active workspace where the user holds workspace.switch (S1, verify())",
       {{.instance = 8, .value = 99, .refused = "unknown active workspace"},
        {.instance = 8, .value = 4, .refused = "workspace.switch"}}},
      {"User.session_seen_ns",
       "any time: SessionExpired compares it without overflow (S1)",
       {{.instance = 8, .value = kMin}, {.instance = 8, .value = kMax}}},
      // T6: settings.
      {"Settings.beta_opt_in", "any", {{.value = 0}}},
      {"Settings.approval_timeout_s",
       "60..604800 (T6)",
       {{.value = 59, .refused = "(T6, P2)"}, {.value = 604801, .refused = "(T6, P2)"}}},
      {"Settings.inactivity_timeout_s",
       "0..31536000 (T6)",
       {{.value = -1, .refused = "(T6, P2)"}, {.value = 31536001, .refused = "(T6, P2)"}}},
      // C3-C6: a workspace's credits.
      {"Funding.meter",
       "a meter of the snapshot, once per workspace",
       {{.value = 9, .refused = "malformed credit entry"}}},
      {"Funding.funded",
       ">= the cell's total; C8 by verify()",
       {{.value = -1, .refused = "malformed credit entry"}, {.value = 0, .refused = "malformed"}}},
      {"Funding.regular",
       "0..2^42-1, total within it (C3)",
       {{.value = -1, .refused = "malformed"}, {.value = kBalanceMax + 1, .refused = "malformed"}}},
      {"Funding.extra",
       "as regular; 0 for a one-bucket meter (C1)",
       {{.value = -1, .refused = "malformed"},
        {.instance = 1, .value = 1, .refused = "malformed"}}},
      {"Funding.held",
       "as regular; at least what live reservations hold (C6)",
       {{.value = -1, .refused = "malformed"}, {.value = kMax, .refused = "malformed"}}},
      // T3-T6: workspaces.
      {"Workspace.id",
       "non-zero, unique, below next_ids[2]",
       {{.value = 0, .refused = "workspace id 0"}, {.value = 99, .refused = "not below the next"}}},
      {"Workspace.account", "an account", {{.value = 99, .refused = "belongs to no account"}}},
      {"Workspace.type",
       "0 simple, 1 agency; parents are agencies (T4)",
       {{.value = 2, .refused = "type or status"}, {.value = 0, .refused = "(T4, P2)"}}},
      {"Workspace.status",
       "0 active, 1 inactive; no session in an inactive one (S1, verify())",
       {{.value = 2, .refused = "type or status"}, {.instance = 1, .value = 1, .refused = "(S1"}}},
      {"Workspace.parent",
       "0 or an agency of the account, at most 8 deep, no cycle (T4)",
       {{.value = 1, .refused = "(T4, P2)"}, {.instance = 3, .value = 99, .refused = "(T4, P2)"}}},
      {"Workspace.owner",
       "a user holding owner there, the only one (M4, verify())",
       {{.value = 99, .refused = "has no owner"}, {.value = 1, .refused = "(M4"}}},
      {"Workspace.settings", "absent (defaults) or a Settings", {}},
      {"Workspace.credits", "each a Funding", {}},
      // M6: custom roles.
      {"Role.id",
       "64.., unique, below next_ids[3]",
       {{.value = 63, .refused = "out of range or repeated"},
        {.value = 99, .refused = "out of range or repeated"}}},
      {"Role.account",
       "an account; its holders are of that account",
       {{.value = 99, .refused = "belongs to no account"},
        {.value = 2, .refused = "not a role of account"}}},
      {"Role.permissions",
       "permission ids of the catalog",
       {{.value = 4095, .element = 0, .refused = "unknown permission"}}},
      {"Role.inherits",
       "0, a workspace role 1..6, or a role of the account, no cycle (M6)",
       {{.value = 7, .refused = "not a workspace role"}, {.value = 64, .refused = "(M6, P2)"}}},
      // M9: teams.
      {"Team.id", "non-zero, unique, below next_ids[4]", {{.value = 0, .refused = "team id 0"}}},
      {"Team.workspace", "a workspace", {{.value = 99, .refused = "belongs to no workspace"}}},
      {"Team.role",
       "a workspace role of the account, never owner (M4, M9)",
       {{.value = 1, .refused = "(M4, M9, P2)"},
        {.value = 99, .refused = "not a role of account"}}},
      {"Team.members",
       "aligned; users, each once; no staff as client (M5, verify())",
       {{.value = 99, .element = 0, .refused = "unknown or repeated member"}}},
      // I1-I4: invitations.
      {"Invitation.id",
       "non-zero, unique, below next_ids[5]",
       {{.value = 0, .refused = "invitation id 0"}}},
      {"Invitation.kind",
       "0 workspace, 1 staff, with that kind's fields (I1)",
       {{.value = 2, .refused = "is malformed"}, {.value = 1, .refused = "(M2, I1, P2)"}}},
      {"Invitation.account", "an account", {{.value = 99, .refused = "is malformed"}}},
      {"Invitation.workspace",
       "workspace invitations: one of the account; staff: 0 (I1)",
       {{.value = 99, .refused = "unknown or foreign workspace"},
        {.instance = 1, .value = 4, .refused = "names a workspace"}}},
      {"Invitation.role",
       "workspace invitations: a role of the account, not owner (M4); staff: 0",
       {{.value = 1, .refused = "(M4, I1, P2)"},
        {.value = 99, .refused = "not a role of account"},
        {.instance = 1, .value = 4, .refused = "names a workspace"}}},
      {"Invitation.account_role",
       "staff: 2 admin (scope all) or 3 member; workspace: 0 (M2, I1)",
       {{.value = 2, .refused = "has an account role"},
        {.instance = 1, .value = 1, .refused = "(M2, I1, P2)"},
        {.instance = 1, .value = 2, .refused = "without the scope all"}}},
      {"Invitation.scope_all",
       "workspace invitations: true; with a list: false (I1)",
       {{.value = 0, .refused = "staff scope"},
        {.instance = 1, .value = 1, .refused = "lists workspaces with all"}}},
      {"Invitation.scope",
       "aligned; ascending workspace ids of the account ever issued (M2)",
       {{.instance = 1, .value = 5, .element = 0, .refused = "is unknown, foreign"}}},
      {"Invitation.token_hash",
       "32 bytes (any: a keyed hash)",
       {{.resize = 31, .refused = "is malformed"}, {.value = 7, .element = 0}}},
      {"Invitation.expires_at_ns", "any time", {{.value = kMin}, {.value = kMax}}},
      {"Invitation.state",
       "0 pending, 1 accepted, 2 revoked; accepted_by set iff accepted (I3)",
       {{.value = 3, .refused = "is malformed"},
        {.value = 1, .refused = "(I3, P2)"},
        {.instance = 2, .value = 0, .refused = "(I3, P2)"},
        {.instance = 3, .value = 0}}},
      {"Invitation.invited_by", "SYSTEM or a user", {{.value = 99, .refused = "is malformed"}}},
      {"Invitation.accepted_by",
       "0, or (accepted) the user whose key is the e-mail (I3)",
       {{.value = 1, .refused = "(I3, P2)"}, {.instance = 2, .value = 1, .refused = "(I3, P2)"}}},
      // C6: live reservations.
      {"Reservation.index",
       "below reservation_slots, each slot once",
       {{.value = 1 << 24, .refused = "out of range"}}},
      {"Reservation.generation", "1..2^38-1", {{.value = 0, .refused = "out of range"}}},
      {"Reservation.workspace",
       "a workspace funded with the meter (C6)",
       {{.value = 99, .refused = "(C6, P2)"}, {.value = 3, .refused = "(C6, P2)"}}},
      {"Reservation.account",
       "the workspace's account (C6)",
       {{.value = 2, .refused = "(C6, P2)"}}},
      {"Reservation.meter",
       "a meter the workspace is funded with (C6)",
       {{.value = 2, .refused = "(C6, P2)"}}},
      {"Reservation.held_regular",
       "0..2^42-1; with held_extra a positive hold of the meter's buckets, within the cell (C6)",
       {{.value = -1, .refused = "(C1, C6, P2)"},
        {.value = kMax, .refused = "(C1, C6, P2)"},
        {.value = 0, .refused = "(C1, C6, P2)"},
        {.value = 101, .refused = "hold more than their balance"}}},
      {"Reservation.held_extra",
       "as held_regular; 0 for a one-bucket meter (C1)",
       {{.value = kMax, .refused = "(C1, C6, P2)"}, {.value = -1, .refused = "(C1, C6, P2)"}}},
      {"Reservation.expires_at_ns", "any time", {{.value = kMin}, {.value = kMax}}},
      // R6: a replica group's leases and reservations.
      {"Hold.id",
       "1..next_hold-1, each once",
       {{.value = 0, .refused = "hold id"}, {.value = 1 << 20, .refused = "hold id"}}},
      {"Hold.kind", "0 (lease) or 1 (reservation)", {{.value = 2, .refused = "(R6, P2)"}}},
      {"Hold.account", "the workspace's account", {{.value = 2, .refused = "(R6, P2)"}}},
      {"Hold.workspace",
       "a workspace funded with the meter",
       {{.value = 99, .refused = "(R6, P2)"}, {.value = 3, .refused = "(R6, P2)"}}},
      {"Hold.meter", "a meter the workspace is funded with", {{.value = 2, .refused = "(R6, P2)"}}},
      {"Hold.held_regular",
       "0..2^42-1; with the cell's other holds at most what it shows held (C6)",
       {{.value = -1, .refused = "(R6, P2)"},
        {.value = kMax, .refused = "(R6, P2)"},
        {.value = 1000, .refused = "held"}}},
      {"Hold.held_extra", "as held_regular", {{.value = -1, .refused = "(R6, P2)"}}},
      {"Hold.settled", ">= 0", {{.value = -1, .refused = "(R6, P2)"}, {.value = 0}}},
      {"Hold.expires_at_ns", "any time", {{.value = kMin}, {.value = kMax}}},
      {"Hold.recalled", "either", {{.value = 0}, {.value = 1}}},
      // C5: remembered idempotency keys.
      {"IdempotencyKey.index",
       "below key_slots, each slot once",
       {{.value = kMax, .refused = "out of range"}}},
      {"IdempotencyKey.tag", "any (0: a used slot, not a live key)", {{.value = 0}}},
      {"IdempotencyKey.generation", "below 2^62", {{.value = kMax, .refused = "out of range"}}},
      {"IdempotencyKey.time_ns", ">= 0", {{.value = -1, .refused = "out of range"}}},
      {"IdempotencyKey.amount",
       "live keys: > 0 (C1, C5)",
       {{.value = 0, .refused = "(C1, C5, P2)"}, {.value = -7, .refused = "(C1, C5, P2)"}}},
      {"IdempotencyKey.result",
       "live keys: 0..2^42-1, or minus a remembered refusal's code (C5)",
       {{.value = kMin, .refused = "(C1, C5, P2)"},
        {.value = -3, .refused = "(C1, C5, P2)"},
        {.value = kBalanceMax + 1, .refused = "(C1, C5, P2)"},
        {.value = -8},
        {.value = 0}}},
      // C7: the ledger.
      {"LedgerEntry.sequence",
       "consecutive from ledger_dropped_through + 1 (C7)",
       {{.value = 5, .refused = "consecutive (C7, P2)"}}},
      {"LedgerEntry.revision", "at most the cut's (C7)", {{.value = kMax, .refused = "(C7, P2)"}}},
      {"LedgerEntry.time_ns", "any time", {{.value = kMin}}},
      {"LedgerEntry.actor",
       "SYSTEM or a user; SYSTEM settles reservations (C7)",
       {{.value = 99, .refused = "(C7, P2)"}, {.value = 0, .refused = "(C7, P2)"}}},
      {"LedgerEntry.account", "an account", {{.value = 99, .refused = "(C7, P2)"}}},
      {"LedgerEntry.workspace",
       "grants: 0; others: an issued workspace id (C7)",
       {{.value = 2, .refused = "(C7, P2)"}}},
      {"LedgerEntry.meter", "a meter", {{.value = 9, .refused = "(C7, P2)"}}},
      {"LedgerEntry.kind",
       "0..6, with that kind's fields (C7)",
       {{.value = 7, .refused = "(C7, P2)"}, {.value = 1, .refused = "(C7, P2)"}}},
      {"LedgerEntry.amount_regular",
       ">= 0; 0 for a release or an expiry (C7)",
       {{.value = -1, .refused = "(C1, C7, P2)"}}},
      {"LedgerEntry.amount_extra",
       ">= 0; 0 for a one-bucket meter (C1)",
       {{.value = -1, .refused = "(C1, C7, P2)"}}},
      {"LedgerEntry.returned_regular",
       ">= 0; only commits, releases, expiries return (C7)",
       {{.value = 5, .refused = "(C7, P2)"}, {.value = -1, .refused = "(C1, C7, P2)"}}},
      {"LedgerEntry.returned_extra",
       "as returned_regular",
       {{.value = -1, .refused = "(C1, C7, P2)"}}},
      {"LedgerEntry.reservation",
       "a reservation id for commits, releases, expiries; else 0 (C7)",
       {{.value = 5, .refused = "(C7, P2)"}}},
      // L1: the feed.
      {"Change.revision",
       "consecutive from feed_dropped_through + 1 to the cut's revision (L1)",
       {{.value = 99, .refused = "(L1, P2)"}, {.instance = -1, .value = 1, .refused = "(L1, P2)"}}},
      {"Change.time_ns", "any time", {{.value = kMin}}},
      {"Change.actor",
       "SYSTEM or a user (L1)",
       {{.value = 99, .refused = "(L1, P2)"}, {.value = 0, .refused = "(L1, P2)"}}},
      {"Change.account", "0 or an account (L1)", {{.value = 99, .refused = "(L1, P2)"}}},
      {"Change.workspace",
       "0 or an issued workspace id (L1)",
       {{.value = 99, .refused = "(L1, P2)"}}},
      // The snapshot.
      {"Snapshot.revision",
       "the feed's last revision (L1)",
       {{.value = 1000, .refused = "(L1, P2)"}}},
      {"Snapshot.taken_at_ns", "any time (shown by inspect)", {{.value = kMin}}},
      {"Snapshot.token_key",
       "32 bytes (a secret)",
       {{.resize = 31, .refused = "keys are missing or malformed"}, {.value = 1, .element = 0}}},
      {"Snapshot.key_hash_key",
       "16 bytes (a secret)",
       {{.resize = 17, .refused = "keys are missing or malformed"}}},
      {"Snapshot.next_ids",
       "6 aligned ids, 1..2^62; roles 64..2^32-1; above every id",
       {{.resize = 5, .refused = "next_ids"},
        {.value = 0, .element = 0, .refused = "out of range"},
        {.value = 5, .element = 1, .refused = "not below the next user id"},
        {.value = 10, .element = 3, .refused = "next role id"},
        // M9: team ids fit a grant's 32 bits; the last one may be handed out.
        {.value = int64_t{1} << 32, .element = 4},
        {.value = (int64_t{1} << 32) + 1, .element = 4, .refused = "next team id"}}},
      {"Snapshot.permissions", "see kStringRules", {}},
      {"Snapshot.meters", "the built-in ones first, then defined ones (C1)", {}},
      {"Snapshot.accounts", "each an Account", {}},
      {"Snapshot.users", "each a User", {}},
      {"Snapshot.workspaces", "each a Workspace", {}},
      {"Snapshot.roles", "each a Role", {}},
      {"Snapshot.teams", "each a Team", {}},
      {"Snapshot.invitations", "each an Invitation", {}},
      {"Snapshot.reservation_slots",
       "1..2^24 and at most the engine's option, when any",
       {{.value = 0, .refused = "out of range"}, {.value = 1 << 25, .refused = "out of range"}}},
      {"Snapshot.reservations", "absent (empty) or each a Reservation", {}},
      {"Snapshot.holds", "absent (empty, before 1002) or each a Hold", {}},
      {"Snapshot.key_slots",
       "a power of two, 64..2^30, at most the engine's option, when any",
       {{.value = 100, .refused = "out of range"}}},
      {"Snapshot.keys", "absent (empty) or each an IdempotencyKey", {}},
      {"Snapshot.ledger", "absent (empty) or each a LedgerEntry", {}},
      {"Snapshot.ledger_next_sequence",
       "the last entry's + 1 (C7)",
       {{.value = 1000, .refused = "ledger_next_sequence"}}},
      {"Snapshot.ledger_dropped_through",
       "the first entry's - 1 (C7)",
       {{.value = 1, .refused = "consecutive (C7, P2)"}}},
      {"Snapshot.ledger_dropped_max_time_ns",
       ">= 0; 0 when nothing was dropped (C7)",
       {{.value = 5, .refused = "ledger_dropped_max_time_ns"}}},
      {"Snapshot.feed", "absent (empty) or each a Change", {}},
      {"Snapshot.feed_dropped_through",
       "the first record's revision - 1 (L1)",
       {{.value = 1, .refused = "(L1, P2)"}, {.value = kMax, .refused = "(L1, P2)"}}},
      {"Snapshot.lineage",
       "absent (format 1000) or 16 bytes (P3)",
       {{.resize = 15, .refused = "lineage"}}},
      {"Snapshot.journal_lsn", "any; recovery matches it with the journal (P3)", {{.value = 7}}},
      {"Snapshot.next_hold",
       "above every hold's id, at most 2^62 (R6)",
       {{.value = 1, .refused = "hold id"}, {.value = kMax, .refused = "(R6, P2)"}}},
      // The file around the content.
      {"File.format_version",
       "major 1 (P4)",
       {{.value = 2000, .refused = "newer than this reader"},
        {.value = 999, .refused = "(P4, P2)"}}},
      {"File.checksum_kind", "1 (BLAKE2b-256)", {{.value = 2, .refused = "no BLAKE2b checksum"}}},
      {"File.checksum",
       "32 bytes: the content's BLAKE2b-256",
       {{.value = 0, .element = 0, .refused = "checksum does not match"}}},
      {"File.content", "a Snapshot passing the Verifier, covered by the checksum", {}},
  };
  return *checks;
}

std::string InstanceOf(const Mutation& m) {
  return m.element >= 0  ? absl::StrCat("[", m.element, "] = ", m.value)
         : m.resize >= 0 ? absl::StrCat(" resized to ", m.resize)
                         : absl::StrCat(" = ", m.value);
}

// The fixture's file with `m` applied to `name`: a File field edits the
// signed file; any other the dense content, which is then signed again.
absl::StatusOr<std::vector<uint8_t>> Mutated(const std::vector<uint8_t>& dense,
                                             const std::string& name, const Mutation& m) {
  const std::vector<std::string> parts = absl::StrSplit(name, '.');
  const reflection::Object* object = edit::FindObject(parts[0]);
  const reflection::Field* field = object == nullptr || parts.size() != 2
                                       ? nullptr
                                       : object->fields()->LookupByKey(parts[1].c_str());
  if (field == nullptr)
    return absl::NotFoundError(absl::StrCat(name, " is no field of the schema"));
  const bool outer = parts[0] == "File";
  std::vector<uint8_t> buffer = outer ? Seal(dense) : dense;
  const reflection::Object& root = outer ? *object : edit::SnapshotObject();
  const std::vector<size_t> tables = edit::TablesOf(buffer, root, *object);
  const size_t index = m.instance < 0 ? tables.size() - 1 : static_cast<size_t>(m.instance);
  if (index >= tables.size()) {
    return absl::NotFoundError(absl::StrCat("the fixture has no ", parts[0], " #", m.instance));
  }
  auto* table = reinterpret_cast<flatbuffers::Table*>(buffer.data() + tables[index]);
  if (m.element >= 0 || m.resize >= 0) {
    flatbuffers::VectorOfAny* v = flatbuffers::GetFieldAnyV(*table, *field);
    const reflection::BaseType element = field->type()->element();
    if (v == nullptr || (m.resize < 0 && static_cast<size_t>(m.element) >= v->size())) {
      return absl::NotFoundError(
          absl::StrCat(name, " of ", parts[0], " #", m.instance, " has no element ", m.element));
    }
    if (m.resize >= 0) {
      flatbuffers::ResizeAnyVector(
          Schema(), static_cast<flatbuffers::uoffset_t>(m.resize), v, v->size(),
          static_cast<flatbuffers::uoffset_t>(flatbuffers::GetTypeSize(element)), &buffer, &root);
    } else {
      // An edit meant to be refused must change the file: a byte that is
      // random in the fixture (the checksum's) may hold the value already.
      const auto at = static_cast<size_t>(m.element);
      const int64_t value =
          m.refused != nullptr && flatbuffers::GetAnyVectorElemI(v, element, at) == m.value
              ? m.value ^ 0xFF
              : m.value;
      flatbuffers::SetAnyVectorElemI(v, element, at, value);
    }
  } else if (!flatbuffers::SetAnyFieldI(table, *field, m.value)) {
    return absl::NotFoundError(
        absl::StrCat(name, " is not stored in ", parts[0], " #", m.instance));
  }
  return outer ? buffer : Seal(buffer);
}

TEST(SnapshotFields, P2_EveryFieldHasALoadTimeCheck) {
  std::set<std::string> listed;
  for (const FieldCheck& c : FieldChecks()) {
    EXPECT_TRUE(listed.insert(c.field).second) << c.field << " is listed twice";
  }
  std::set<std::string> fields;
  for (const reflection::Object* object : *Schema().objects()) {
    for (const reflection::Field* field : *object->fields()) {
      if (IsString(*field)) continue;
      const std::string name = FieldName(*object, *field);
      fields.insert(name);
      EXPECT_TRUE(listed.count(name))
          << name << " has no entry in FieldChecks(): make the loader check what the engine "
          << "guarantees of it, and list it with that check (and edits that must be refused)";
    }
  }
  for (const std::string& name : listed) {
    if (name == "Snapshot.permissions") continue;  // a [string], listed for its vector
    EXPECT_TRUE(fields.count(name)) << name << " in FieldChecks() is no field of the schema";
  }
}

TEST(SnapshotFields, P2_RangedFieldsAreChecked) {
  const Fixture& f = TheFixture();
  ASSERT_FALSE(f.content.empty());
  for (const FieldCheck& c : FieldChecks()) {
    for (const Mutation& m : c.mutations) {
      const std::string what = absl::StrCat(c.field, " #", m.instance, InstanceOf(m));
      absl::StatusOr<std::vector<uint8_t>> file = Mutated(f.content, c.field, m);
      if (!file.ok()) {
        ADD_FAILURE() << what << ": " << file.status();
        continue;
      }
      if (m.refused != nullptr) {
        ExpectRefused(Load(*file), m.refused, what);
      } else {
        ExpectLoads(Load(*file), what);
      }
    }
  }
}

// M9: an engine whose every team id was handed out refuses a new team, and
// adds nothing.
TEST(SnapshotFields, M9_TeamIdsRunOutWithAClearRefusal) {
  const Fixture& f = TheFixture();
  absl::StatusOr<std::vector<uint8_t>> file =
      Mutated(f.content, "Snapshot.next_ids", {.value = int64_t{1} << 32, .element = 4});
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::unique_ptr<Engine>> loaded = Load(*file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Engine& e = **loaded;
  const uint64_t revision = e.revision();
  const WorkspaceId workspace = f.rich->world.client_a;
  absl::StatusOr<TeamId> team = e.create_team(kSystem, workspace, "One Too Many", "member");
  EXPECT_TRUE(absl::IsResourceExhausted(team.status())) << team.status();
  EXPECT_THAT(team.status().message(), ::testing::HasSubstr("(M9)"));
  EXPECT_EQ(e.revision(), revision);
  TNY_EXPECT_OK(e.verify());
}

// The p2-*.tny files of load_fuzzer's corpus (make_load_corpus writes them:
// a seed with one field edited and signed again): each is refused naming P2,
// but p2-loads-* load, verify and answer every read.
TEST(SnapshotFields, P2_CorpusEditsAreRefused) {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TENANTRY_FUZZ_CORPUS)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("p2-", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> file(std::istreambuf_iterator<char>(in), {});
    if (name.rfind("p2-loads-", 0) == 0) {
      ExpectLoads(Load(file), name);
    } else {
      ExpectRefused(Load(file), "", name);
    }
    ++seen;
  }
  EXPECT_GE(seen, 8);
}

}  // namespace
}  // namespace tenantry::test
