// Copyright 2026 The tenantry Authors.
#include "tenantry/status.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"

namespace tenantry {
namespace {

// "T3", "M10": a letter and one or two digits, as docs/rules.md lists them.
// (This and EndsWithItsRules are for assertions only.)
[[maybe_unused]] bool IsRuleId(absl::string_view id) {
  return id.size() >= 2 && id.size() <= 3 &&
         absl::ascii_isupper(static_cast<unsigned char>(id[0])) &&
         std::all_of(id.begin() + 1, id.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

// " (C5, C6)": how a message names its rules, at its end.
template <typename Rules>
std::string Bracket(const Rules& rules) {
  return absl::StrCat(" (", absl::StrJoin(rules, ", "), ")");
}

// A status's message ends with its rules (Refusal made it so, and
// WithMessage must keep it so).
[[maybe_unused]] bool EndsWithItsRules(const absl::Status& status) {
  const std::vector<std::string> rules = RulesOf(status);
  return rules.empty() || absl::EndsWith(status.message(), Bracket(rules));
}

}  // namespace

absl::Status Refusal(absl::StatusCode code, absl::Span<const absl::string_view> rules,
                     absl::string_view message) {
  assert(code != absl::StatusCode::kOk);
  if (rules.empty()) return absl::Status(code, message);
  assert(std::all_of(rules.begin(), rules.end(), IsRuleId));
  absl::Status status(code, absl::StrCat(message, Bracket(rules)));
  status.SetPayload(kRulesTypeUrl, absl::Cord(absl::StrJoin(rules, ",")));
  assert(EndsWithItsRules(status));
  return status;
}

std::vector<std::string> RulesOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kRulesTypeUrl);
  if (!payload.has_value()) return {};
  std::vector<std::string> rules = absl::StrSplit(std::string(*payload), ',', absl::SkipEmpty());
  return rules;
}

std::string ChangeIdOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kChangeIdTypeUrl);
  return payload.has_value() ? std::string(*payload) : std::string();
}

absl::string_view MessageWithoutRules(const absl::Status& status) {
  const absl::string_view message = status.message();
  const std::vector<std::string> rules = RulesOf(status);
  if (rules.empty()) return message;
  const std::string bracket = Bracket(rules);
  // Only a payload set by hand, not by Refusal, can disagree with the message.
  if (!absl::EndsWith(message, bracket)) return message;
  return message.substr(0, message.size() - bracket.size());
}

absl::Status WithMessage(const absl::Status& status, absl::string_view message) {
  return WithMessage(status, status.code(), message);
}

absl::Status WithMessage(const absl::Status& status, absl::StatusCode code,
                         absl::string_view message) {
  assert(!status.ok() && code != absl::StatusCode::kOk);
  absl::Status out(code, message);
  status.ForEachPayload([&out](absl::string_view type_url, const absl::Cord& payload) {
    out.SetPayload(type_url, payload);
  });
  assert(EndsWithItsRules(out));
  return out;
}

const char* StatusCodeName(absl::StatusCode code) {
  // Indexed by abseil's canonical numbers, which never change.
  static constexpr std::array<const char*, 17> kNames = {
      "ok",                   // 0
      "cancelled",            // 1
      "unknown",              // 2
      "invalid_argument",     // 3
      "deadline_exceeded",    // 4
      "not_found",            // 5
      "already_exists",       // 6
      "permission_denied",    // 7
      "resource_exhausted",   // 8
      "failed_precondition",  // 9
      "aborted",              // 10
      "out_of_range",         // 11
      "unimplemented",        // 12
      "internal",             // 13
      "unavailable",          // 14
      "data_loss",            // 15
      "unauthenticated",      // 16
  };
  const int number = static_cast<int>(code);
  if (number < 0 || static_cast<size_t>(number) >= kNames.size()) return "unknown";
  return kNames[static_cast<size_t>(number)];
}

}  // namespace tenantry
