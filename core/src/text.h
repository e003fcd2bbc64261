// Copyright 2026 The tenantry Authors.
//
// Text rules: workspace and account names, slugs (T3), user keys (M1).
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

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_TEXT_H_
