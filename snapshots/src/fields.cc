// Copyright 2026 The tenantry Authors.
#include "fields.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "catalog.h"
#include "credits.h"
#include "tenantry/status.h"
#include "text.h"

namespace tenantry::internal {
namespace {

// The value of a field the engine stores as given once `check` accepts it.
absl::StatusOr<std::string> Checked(const flatbuffers::String* s, absl::string_view field,
                                    const Entity& entity,
                                    absl::FunctionRef<absl::Status(absl::string_view)> check) {
  if (s == nullptr) return RefusedField(field, entity, {}, "the field is missing");
  const absl::string_view raw(s->c_str(), s->size());
  if (absl::Status status = check(raw); !status.ok()) {
    return RefusedField(field, entity, status);
  }
  return std::string(raw);
}

// The engine's reasons quote the refused value, which here is hostile: its
// bytes outside printable ASCII are shown as \xNN, so that the message is
// text (a C caller's NUL-terminated string, Python's str) whatever the file held.
std::string Printable(absl::string_view reason) {
  std::string out;
  out.reserve(reason.size());
  for (char c : reason) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

absl::Status RefusedSnapshot(absl::Span<const absl::string_view> rules, absl::string_view message) {
  std::vector<absl::string_view> with_p2(rules.begin(), rules.end());
  if (std::find(with_p2.begin(), with_p2.end(), "P2") == with_p2.end()) with_p2.push_back("P2");
  return Refusal(absl::StatusCode::kDataLoss, with_p2, absl::StrCat("snapshot: ", message));
}

absl::Status RefusedField(absl::string_view field, const Entity& entity,
                          absl::Span<const absl::string_view> rules, absl::string_view reason) {
  const std::string who =
      entity.numbered ? absl::StrCat(entity.kind, " ", entity.id) : std::string(entity.kind);
  return RefusedSnapshot(rules, absl::StrCat(field, " of ", who, ": ", Printable(reason)));
}

absl::Status RefusedField(absl::string_view field, const Entity& entity,
                          const absl::Status& reason) {
  const std::vector<std::string> rules = RulesOf(reason);
  const std::vector<absl::string_view> ids(rules.begin(), rules.end());
  return RefusedField(field, entity, ids, MessageWithoutRules(reason));
}

absl::StatusOr<std::string> NameField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity, absl::string_view noun) {
  if (s == nullptr) return RefusedField(field, entity, {}, "the field is missing");
  const absl::string_view raw(s->c_str(), s->size());
  absl::StatusOr<std::string> stored = NormalizeName(raw, noun);
  if (!stored.ok()) return RefusedField(field, entity, stored.status());
  if (*stored != raw) {
    return RefusedField(field, entity, {"T3"},
                        absl::StrCat(noun, " name is not trimmed of surrounding white space"));
  }
  return stored;
}

absl::StatusOr<std::string> KeyField(const flatbuffers::String* s, absl::string_view field,
                                     const Entity& entity) {
  return Checked(s, field, entity, ValidateStoredKey);
}

absl::StatusOr<std::string> SlugField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity) {
  return Checked(s, field, entity, ValidateSlug);
}

absl::StatusOr<std::string> RoleNameField(const flatbuffers::String* s, absl::string_view field,
                                          const Entity& entity) {
  return Checked(s, field, entity, ValidateRoleName);
}

absl::StatusOr<std::string> PermissionField(const flatbuffers::String* s, absl::string_view field,
                                            const Entity& entity) {
  return Checked(s, field, entity, ValidatePermissionName);
}

absl::StatusOr<std::string> MeterNameField(const flatbuffers::String* s, absl::string_view field,
                                           const Entity& entity, absl::string_view what) {
  return Checked(s, field, entity,
                 [&](absl::string_view name) { return ValidateMeterName(name, what); });
}

absl::StatusOr<std::string> PlanNameField(const flatbuffers::String* s, absl::string_view field,
                                          const Entity& entity) {
  return Checked(s, field, entity, ValidatePlanName);
}

absl::StatusOr<std::string> TextField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity, size_t max_bytes,
                                      absl::string_view rule) {
  return Checked(s, field, entity, [&](absl::string_view text) {
    return ValidateText(text, max_bytes, "the text", rule);
  });
}

}  // namespace tenantry::internal
