// Copyright 2026 The tenantry Authors.
//
// Text rules: workspace and account names, slugs (T3), user keys (M1), plan
// names (T2), and the text the engine makes itself (audit records, L1).
#ifndef TENANTRY_CORE_SRC_TEXT_H_
#define TENANTRY_CORE_SRC_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tenantry::internal {

// T3: valid UTF-8, trimmed of Unicode white space at both ends, then 1..100
// code points. Returns the trimmed name. `what` names the thing ("workspace").
absl::StatusOr<std::string> NormalizeName(absl::string_view raw, absl::string_view what);

// T3: 2..50 of [a-z0-9-], no leading or trailing hyphen.
absl::Status ValidateSlug(absl::string_view slug);

// T3: the slug derived from a name: ASCII letters lower-cased, digits kept,
// every run of other characters becomes one hyphen, hyphens trimmed, cut to
// 50 (and trimmed again). InvalidArgument when fewer than 2 characters remain.
absl::StatusOr<std::string> DeriveSlug(absl::string_view name);

// M1: keys (usually e-mail addresses) compare case-insensitively: trimmed,
// ASCII letters lower-cased (non-ASCII bytes are kept as they are), 1..320
// bytes, valid UTF-8, no control characters.
absl::StatusOr<std::string> NormalizeKey(absl::string_view raw);

// M1: OK when `key` is already what NormalizeKey stores (NormalizeKey(key) ==
// key), checked without a copy: a stored key, as a snapshot holds it.
absl::Status ValidateStoredKey(absl::string_view key);

// Text kept as given (plan names) or made by the engine (audit records): 1 to
// `max_bytes` bytes of valid UTF-8 without control characters (U+0000-U+001F,
// U+007F), so that every reader can take it (Python's str, JSON, a terminal).
// `what` names the text and `rule` is the rule id its message names.
absl::Status ValidateText(absl::string_view text, size_t max_bytes, absl::string_view what,
                          absl::string_view rule);

// T2: a plan's name is text (ValidateText) of at most limits::kPlanNameMaxBytes,
// kept as given (not trimmed: "starter" and a custom name alike).
absl::Status ValidatePlanName(absl::string_view name);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_TEXT_H_
