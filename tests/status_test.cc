// Copyright 2026 The tenantry Authors.
//
// Refusals carry their rule ids as structured data (tenantry/status.h): the
// payload RulesOf reads holds exactly the ids the message ends with.
// docs/rules.md, section 10.
#include "tenantry/status.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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

}  // namespace
}  // namespace tenantry::test
