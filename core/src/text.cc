// Copyright 2026 The tenantry Authors.
#include "text.h"

#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tenantry/limits.h"

namespace tenantry::internal {
namespace {

// Decodes one UTF-8 code point at `s[*i]`, advancing `*i`. Returns false on
// an invalid, overlong or surrogate sequence.
bool DecodeUtf8(absl::string_view s, size_t* i, uint32_t* out) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(*i);
  int length = b0 < 0x80           ? 1
               : (b0 >> 5) == 0x6  ? 2
               : (b0 >> 4) == 0xE  ? 3
               : (b0 >> 3) == 0x1E ? 4
                                   : 0;
  if (length == 0 || *i + length > s.size()) return false;
  uint32_t cp = length == 1 ? b0 : b0 & (0x7F >> length);
  for (int k = 1; k < length; ++k) {
    uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  *i += length;
  *out = cp;
  return true;
}

// Unicode White_Space.
bool IsSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

struct CodePoint {
  uint32_t value;
  size_t begin;
  size_t end;
};

absl::StatusOr<std::vector<CodePoint>> Decode(absl::string_view s, absl::string_view what) {
  std::vector<CodePoint> out;
  size_t i = 0;
  while (i < s.size()) {
    CodePoint cp{0, i, 0};
    if (!DecodeUtf8(s, &i, &cp.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is not valid UTF-8 (byte ", cp.begin, ") (T3)"));
    }
    cp.end = i;
    out.push_back(cp);
  }
  return out;
}

bool IsSlugChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

absl::StatusOr<std::string> NormalizeName(absl::string_view raw, absl::string_view what) {
  if (raw.size() > limits::kTextMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name is longer than ",
                                                   limits::kNameMaxCodePoints, " characters (T3)"));
  }
  auto decoded = Decode(raw, absl::StrCat(what, " name"));
  if (!decoded.ok()) return decoded.status();
  const std::vector<CodePoint>& cps = *decoded;
  size_t first = 0, last = cps.size();
  while (first < last && IsSpace(cps[first].value)) ++first;
  while (last > first && IsSpace(cps[last - 1].value)) --last;
  size_t count = last - first;
  if (count < limits::kNameMinCodePoints) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name must not be empty (T3)"));
  }
  if (count > limits::kNameMaxCodePoints) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " name has ", count, " characters; at most ", limits::kNameMaxCodePoints, " (T3)"));
  }
  for (size_t k = first; k < last; ++k) {
    if (cps[k].value < 0x20 || cps[k].value == 0x7F) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " name must not contain control characters (T3)"));
    }
  }
  return std::string(raw.substr(cps[first].begin, cps[last - 1].end - cps[first].begin));
}

absl::Status ValidateSlug(absl::string_view slug) {
  absl::string_view shown = slug.substr(0, 64);
  if (slug.size() < limits::kSlugMinLength || slug.size() > limits::kSlugMaxLength) {
    return absl::InvalidArgumentError(absl::StrCat("slug '", shown, "' must be ",
                                                   limits::kSlugMinLength, "-",
                                                   limits::kSlugMaxLength, " characters (T3)"));
  }
  for (char c : slug) {
    if (!IsSlugChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("slug '", shown, "' may hold only a-z, 0-9 and '-' (T3)"));
    }
  }
  if (slug.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("slug '", shown, "' must not start with a hyphen (T3)"));
  }
  if (slug.back() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("slug '", shown, "' must not end with a hyphen (T3)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DeriveSlug(absl::string_view name) {
  std::string slug;
  bool pending_hyphen = false;
  for (char c : name) {
    char lower = absl::ascii_tolower(static_cast<unsigned char>(c));
    bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    if (!keep) {
      pending_hyphen = !slug.empty();
      continue;
    }
    if (pending_hyphen) slug.push_back('-');
    pending_hyphen = false;
    slug.push_back(lower);
    if (slug.size() >= limits::kSlugMaxLength) break;
  }
  if (slug.size() > limits::kSlugMaxLength) slug.resize(limits::kSlugMaxLength);
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.size() < limits::kSlugMinLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot derive a slug from the name '", name.substr(0, 100),
                     "' (fewer than 2 of a-z, 0-9); pass a slug (T3)"));
  }
  return slug;
}

absl::StatusOr<std::string> NormalizeKey(absl::string_view raw) {
  if (raw.size() > limits::kTextMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("user key is longer than ", limits::kKeyMaxBytes, " bytes (M1)"));
  }
  absl::string_view trimmed = absl::StripAsciiWhitespace(raw);
  if (trimmed.empty() || trimmed.size() > limits::kKeyMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("user key must be 1-", limits::kKeyMaxBytes, " bytes after trimming (M1)"));
  }
  size_t i = 0;
  while (i < trimmed.size()) {
    uint32_t cp = 0;
    if (!DecodeUtf8(trimmed, &i, &cp)) {
      return absl::InvalidArgumentError("user key is not valid UTF-8 (M1)");
    }
    if (cp < 0x20 || cp == 0x7F) {
      return absl::InvalidArgumentError("user key must not contain control characters (M1)");
    }
  }
  return absl::AsciiStrToLower(trimmed);
}

}  // namespace tenantry::internal
