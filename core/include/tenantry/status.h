// Copyright 2026 The tenantry Authors.
//
// Refusals and the rules they enforce. A refusal names the ids of its rules
// (docs/rules.md) twice: at the end of its message for people,
// "slug 'ab-' must not end with a hyphen (T3)", "... (C5, C6)"; and as
// structured data for programs, the status's payload under kRulesTypeUrl
// (abseil's Status::SetPayload), which RulesOf reads. Nothing parses a
// message to find its rules. Python's Error.rules and the C ABI's
// tny_last_error_rules() come from the payload.
//
// The names of the status codes ("not_found" ...), which Python's
// Error.code and the C ABI's tny_status_str() give, are here too.
//
// Every function is safe to call from any thread without external
// synchronization; none keeps a reference to its arguments.
#ifndef TENANTRY_CORE_INCLUDE_TENANTRY_STATUS_H_
#define TENANTRY_CORE_INCLUDE_TENANTRY_STATUS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tenantry/export.h"

namespace tenantry {

// The type URL of the payload holding a status's rule ids, comma-separated
// without spaces: "T3", "C5,C6".
inline constexpr char kRulesTypeUrl[] = "type.tenantry.dev/rules";
// R7: the type URL of the payload holding the id of a change that failed
// with `unavailable` on a replica: retried with that id, the change is
// answered from the log and never applied twice.
inline constexpr char kChangeIdTypeUrl[] = "type.tenantry.dev/change_id";

// A refusal with `code` (not OK) enforcing `rules` (ids such as "C5"; may be
// empty): its message is `message` followed by " (C5, C6)", and the ids are
// its payload. Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
// "slug 'ab-' must not end with a hyphen") is
// "slug 'ab-' must not end with a hyphen (T3)".
TENANTRY_API absl::Status Refusal(absl::StatusCode code, absl::Span<const absl::string_view> rules,
                                  absl::string_view message);

// The rule ids `status` carries, in order: {"C5", "C6"}. Empty for OK and
// for a status that names no rule.
TENANTRY_API std::vector<std::string> RulesOf(const absl::Status& status);

// R7: the change id `status` carries ("" when none).
TENANTRY_API std::string ChangeIdOf(const absl::Status& status);

// The message of `status` without the " (C5, C6)" that Refusal added: what
// to quote when the rules are given some other way.
TENANTRY_API absl::string_view MessageWithoutRules(const absl::Status& status);

// `status` (its code and payloads, the rule ids among them) with `message`
// in place of its own: for a caller that adds context in front of a
// refusal, "change #3 (add_member) failed; nothing was applied: " + message.
// `message` ends as the old one did, so it still names the same rules.
TENANTRY_API absl::Status WithMessage(const absl::Status& status, absl::string_view message);
// The same with another code (not OK).
TENANTRY_API absl::Status WithMessage(const absl::Status& status, absl::StatusCode code,
                                      absl::string_view message);

// The name of a status code, lowercase as docs/rules.md (section 10) lists
// them: "ok", "invalid_argument", "not_found" ...; "unknown" for a number
// abseil does not define. Static storage.
TENANTRY_API const char* StatusCodeName(absl::StatusCode code);

}  // namespace tenantry

#endif  // TENANTRY_CORE_INCLUDE_TENANTRY_STATUS_H_
