// Copyright 2026 The tenantry Authors.
#include "fields.h"

#include <algorithm>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "catalog.h"
#include "credits.h"
#include "text.h"

namespace tenantry::internal {
namespace {

// The value of a field the engine stores as given once `check` accepts it.
absl::StatusOr<std::string> Checked(const flatbuffers::String* s, absl::string_view field,
                                    const Entity& entity,
                                    absl::FunctionRef<absl::Status(absl::string_view)> check) {
  if (s == nullptr) return RefusedField(field, entity, "the field is missing");
  const absl::string_view raw(s->c_str(), s->size());
  if (absl::Status status = check(raw); !status.ok()) {
    return RefusedField(field, entity, status.message());
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

std::string WithP2(absl::string_view message) {
  const size_t open = message.rfind(" (");
  if (message.empty() || message.back() != ')' || open == absl::string_view::npos) {
    return absl::StrCat(message, " (P2)");
  }
  // The parenthesis names rules only when each of its items is a rule id
  // ("T3", "M2, I1"); "(Verifier)" or "(byte 3)" are something else.
  const absl::string_view inside = message.substr(open + 2, message.size() - open - 3);
  bool rules = !inside.empty();
  bool p2 = false;
  for (absl::string_view id : absl::StrSplit(inside, ", ")) {
    rules = rules && id.size() >= 2 && absl::ascii_isupper(static_cast<unsigned char>(id[0])) &&
            std::all_of(id.begin() + 1, id.end(),
                        [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
    p2 = p2 || id == "P2";
  }
  if (!rules) return absl::StrCat(message, " (P2)");
  if (p2) return std::string(message);
  return absl::StrCat(message.substr(0, message.size() - 1), ", P2)");
}

absl::Status RefusedField(absl::string_view field, const Entity& entity, absl::string_view reason) {
  const std::string who =
      entity.numbered ? absl::StrCat(entity.kind, " ", entity.id) : std::string(entity.kind);
  return absl::DataLossError(
      WithP2(absl::StrCat("snapshot: ", field, " of ", who, ": ", Printable(reason))));
}

absl::StatusOr<std::string> NameField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity, absl::string_view noun) {
  if (s == nullptr) return RefusedField(field, entity, "the field is missing");
  const absl::string_view raw(s->c_str(), s->size());
  absl::StatusOr<std::string> stored = NormalizeName(raw, noun);
  if (!stored.ok()) return RefusedField(field, entity, stored.status().message());
  if (*stored != raw) {
    return RefusedField(field, entity,
                        absl::StrCat(noun, " name is not trimmed of surrounding white space (T3)"));
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
