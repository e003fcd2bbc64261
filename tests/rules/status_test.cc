// Copyright 2026 The tenantry Authors.
//
// Refusals carry their rule ids as structured data (tenantry/status.h): the
// payload RulesOf reads holds exactly the ids the message ends with, for
// every family of rules and through every layer that adds context to a
// refusal (a batch, a snapshot load, a journal). docs/rules.md, section 10.
#include "tenantry/status.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "persist_util.h"
#include "tenantry/engine.h"
#include "tenantry/snapshot.h"
#include "test_util.h"

namespace tenantry::test {
namespace {

using Code = absl::StatusCode;
using ::testing::ElementsAre;

// ---- The module itself ----

TEST(Status, RefusalAppendsItsRulesAndCarriesThem) {
  const absl::Status one =
      Refusal(Code::kInvalidArgument, {"T3"}, "slug 'ab-' must not end with a hyphen");
  EXPECT_EQ(one.code(), Code::kInvalidArgument);
  EXPECT_EQ(one.message(), "slug 'ab-' must not end with a hyphen (T3)");
  EXPECT_THAT(RulesOf(one), ElementsAre("T3"));
  EXPECT_EQ(one.GetPayload(kRulesTypeUrl).value(), "T3");
  EXPECT_EQ(MessageWithoutRules(one), "slug 'ab-' must not end with a hyphen");

  const absl::Status two = Refusal(Code::kResourceExhausted, {"C5", "C6"}, "no");
  EXPECT_EQ(two.message(), "no (C5, C6)");
  EXPECT_THAT(RulesOf(two), ElementsAre("C5", "C6"));
  EXPECT_EQ(two.GetPayload(kRulesTypeUrl).value(), "C5,C6");
  EXPECT_EQ(MessageWithoutRules(two), "no");
}

TEST(Status, WithoutRulesThereIsNoPayload) {
  const absl::Status none = Refusal(Code::kInternal, {}, "journal: (byte 3)");
  EXPECT_EQ(none.message(), "journal: (byte 3)");
  EXPECT_FALSE(none.GetPayload(kRulesTypeUrl).has_value());
  EXPECT_TRUE(RulesOf(none).empty());
  EXPECT_EQ(MessageWithoutRules(none), "journal: (byte 3)");
  // A message that merely looks like it names a rule names none: nothing
  // reads rules from text.
  EXPECT_TRUE(RulesOf(absl::NotFoundError("unknown team 9 (M9)")).empty());
  EXPECT_TRUE(RulesOf(absl::OkStatus()).empty());
}

TEST(Status, WithMessageKeepsCodeAndPayload) {
  const absl::Status inner = Refusal(Code::kNotFound, {"M3", "M6"}, "unknown role 'x'");
  const absl::Status outer = WithMessage(inner, absl::StrCat("context: ", inner.message()));
  EXPECT_EQ(outer.code(), Code::kNotFound);
  EXPECT_EQ(outer.message(), "context: unknown role 'x' (M3, M6)");
  EXPECT_THAT(RulesOf(outer), ElementsAre("M3", "M6"));

  const absl::Status internal =
      WithMessage(inner, Code::kInternal, absl::StrCat("flush: ", inner.message()));
  EXPECT_EQ(internal.code(), Code::kInternal);
  EXPECT_THAT(RulesOf(internal), ElementsAre("M3", "M6"));
  EXPECT_EQ(MessageWithoutRules(internal), "flush: unknown role 'x'");
}

TEST(Status, CodeNamesAreAbseilsInLowerCase) {
  for (int number = 0; number <= 16; ++number) {
    const auto code = static_cast<Code>(number);
    EXPECT_EQ(StatusCodeName(code), absl::AsciiStrToLower(absl::StatusCodeToString(code)));
  }
  EXPECT_STREQ(StatusCodeName(Code::kNotFound), "not_found");
  EXPECT_STREQ(StatusCodeName(Code::kFailedPrecondition), "failed_precondition");
  EXPECT_STREQ(StatusCodeName(static_cast<Code>(17)), "unknown");
  EXPECT_STREQ(StatusCodeName(static_cast<Code>(-1)), "unknown");
}

// ---- The engine's refusals, family by family ----

class Refusals : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(world.Build()); }
  World world;
  Engine& e = world.engine;
};

// Exactly `ids`, in the payload and at the end of the message.
void ExpectRules(const absl::Status& status, const std::vector<std::string>& ids) {
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(RulesOf(status), ids) << status;
  EXPECT_EQ(RulesInMessage(status.message()), ids) << status;
}

TEST_F(Refusals, T3_Slug) {
  ExpectRules(e.create_workspace(kSystem, world.account, Named("X", "ab-")).status(), {"T3"});
}

TEST_F(Refusals, M5_StaffAndClientsNeverMix) {
  ExpectRules(e.add_staff(kSystem, world.account, world.client, "member"), {"M5"});
}

TEST_F(Refusals, C5_InsufficientCredits) { ExpectRules(e.consume(world.ops, 1).status(), {"C5"}); }

TEST_F(Refusals, C3_A2_TwoIds) {
  TNY_ASSERT_OK_AND_ASSIGN(UserId other_owner, e.create_user("other@else.test"));
  TNY_ASSERT_OK_AND_ASSIGN(AccountId other, e.create_account(AccountNamed("Other", other_owner)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId foreign, e.create_workspace(kSystem, other, Named("Far")));
  TNY_ASSERT_OK(e.grant(kSystem, world.account, 10));
  const absl::Status refused = e.transfer(kSystem, world.account, foreign, 5).status();
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  ExpectRules(refused, {"C3", "A2"});
}

TEST_F(Refusals, X2_ABatchKeepsTheFailingChangesRules) {
  Batch batch;
  batch.create_user("new@acme.test");
  batch.create_workspace(kSystem, world.account, Named("X", "ab-"));
  const absl::Status refused = e.apply(batch).status();
  EXPECT_THAT(std::string(refused.message()),
              ::testing::StartsWith("change #1 (create_workspace) failed; nothing was applied: "));
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  ExpectRules(refused, {"T3"});
}

TEST_F(Refusals, P2_ASnapshotLoad) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/tny-status-", ::getpid(), ".tny");
  {
    std::ofstream out(path, std::ios::binary);
    out << "not a snapshot at all";
  }
  const absl::Status garbage = LoadSnapshot(path).status();
  EXPECT_EQ(garbage.code(), Code::kDataLoss);
  ExpectRules(garbage, {"P2"});
  ExpectRules(LoadSnapshot(path + ".missing").status(), {"P1"});
  std::remove(path.c_str());
  // The engine's own refusal of a stored value gains P2: "(T3, P2)".
  const absl::Status name =
      LoadSnapshot(absl::StrCat(TENANTRY_FUZZ_CORPUS, "/p2-workspace-name-invalid-utf8.tny"))
          .status();
  EXPECT_EQ(name.code(), Code::kDataLoss);
  ExpectRules(name, {"T3", "P2"});
}

TEST_F(Refusals, P3_AJournal) {
  const std::string dir = TempDirFor("status");
  TNY_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> first,
                           Engine::Open(Journaled(dir, Durability::kNone)));
  const absl::Status second = Engine::Open(Journaled(dir, Durability::kNone)).status();
  EXPECT_EQ(second.code(), Code::kFailedPrecondition);
  ExpectRules(second, {"P3"});
}

}  // namespace
}  // namespace tenantry::test
