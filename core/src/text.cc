// Copyright 2026 The tenantry Authors.
#include "text.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tenantry/limits.h"
#include "tenantry/status.h"

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

// The code points of a name; `what` names its owner ("workspace") in the
// message, which is made only when there is one.
absl::StatusOr<std::vector<CodePoint>> Decode(absl::string_view s, absl::string_view what) {
  std::vector<CodePoint> out;
  out.reserve(s.size());  // at most one code point a byte: one allocation
  size_t i = 0;
  while (i < s.size()) {
    CodePoint cp{0, i, 0};
    if (!DecodeUtf8(s, &i, &cp.value)) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                     absl::StrCat(what, " name is not valid UTF-8 (byte ", cp.begin, ")"));
    }
    cp.end = i;
    out.push_back(cp);
  }
  return out;
}

constexpr uint64_t kEveryByte = 0x0101010101010101;
constexpr uint64_t kHighBits = 0x8080808080808080;

// Eight bytes at once: whether all are printable ASCII (0x20..0x7E). A byte
// below 0x20 borrows into its clear high bit when 0x20 is subtracted; one of
// 0x7F or more has its high bit set, or sets it when 1 is added (the "has
// less" and "has more" tests of Bit Twiddling Hacks; a borrow or carry only
// crosses from a byte that is itself out of range).
bool AllPrintableAscii(uint64_t word) {
  const uint64_t below = (word - 0x20 * kEveryByte) & ~word;
  const uint64_t above = (word + kEveryByte) | word;
  return ((below | above) & kHighBits) == 0;
}

// Eight bytes at once: whether any is an ASCII upper-case letter (above 0x40
// and below 0x5B; the bytes are known to be below 0x80, so nothing carries).
bool AnyAsciiUpper(uint64_t word) {
  const uint64_t above_at = word + (0x80 - 0x41) * kEveryByte;  // high bit: byte >= 'A'
  const uint64_t above_z = word + (0x80 - 0x5B) * kEveryByte;   // high bit: byte > 'Z'
  return (above_at & ~above_z & kHighBits) != 0;
}

uint64_t Load8(const char* p) {
  uint64_t word = 0;
  std::memcpy(&word, p, sizeof(word));
  return word;
}

// The offset of the first byte of `s` that is not text (an invalid UTF-8
// sequence, or a control character: `*control` says which), or s.size().
size_t FirstNonText(absl::string_view s, bool* control) {
  size_t i = 0;
  while (i < s.size()) {
    // Printable ASCII, most text by far, goes eight bytes a step (snapshot
    // loads check every key and audit record); the rest one by one.
    if (i + 8 <= s.size() && AllPrintableAscii(Load8(s.data() + i))) {
      i += 8;
      continue;
    }
    const size_t at = i;
    const auto byte = static_cast<uint8_t>(s[i]);
    // A multi-byte sequence is never a control character (overlong ones are
    // invalid), so only ASCII bytes are compared.
    if (byte < 0x80) {
      if (byte < 0x20 || byte == 0x7F) {
        *control = true;
        return at;
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    if (!DecodeUtf8(s, &i, &cp)) {
      *control = false;
      return at;
    }
  }
  return s.size();
}

// M1: `raw` trimmed of ASCII white space into `*trimmed`, when that is a key
// NormalizeKey accepts (its letters not yet lower-cased).
absl::Status TrimKey(absl::string_view raw, absl::string_view* trimmed) {
  if (raw.size() > limits::kTextMaxBytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M1"},
                   absl::StrCat("user key is longer than ", limits::kKeyMaxBytes, " bytes"));
  }
  *trimmed = absl::StripAsciiWhitespace(raw);
  if (trimmed->empty() || trimmed->size() > limits::kKeyMaxBytes) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"M1"},
        absl::StrCat("user key must be 1-", limits::kKeyMaxBytes, " bytes after trimming"));
  }
  bool control = false;
  if (FirstNonText(*trimmed, &control) != trimmed->size()) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"M1"},
        control ? "user key must not contain control characters" : "user key is not valid UTF-8");
  }
  return absl::OkStatus();
}

bool IsSlugChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

absl::StatusOr<std::string> NormalizeName(absl::string_view raw, absl::string_view what) {
  if (raw.size() > limits::kTextMaxBytes) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {"T3"},
        absl::StrCat(what, " name is longer than ", limits::kNameMaxCodePoints, " characters"));
  }
  auto decoded = Decode(raw, what);
  if (!decoded.ok()) return decoded.status();
  const std::vector<CodePoint>& cps = *decoded;
  size_t first = 0, last = cps.size();
  while (first < last && IsSpace(cps[first].value)) ++first;
  while (last > first && IsSpace(cps[last - 1].value)) --last;
  size_t count = last - first;
  if (count < limits::kNameMinCodePoints) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                   absl::StrCat(what, " name must not be empty"));
  }
  if (count > limits::kNameMaxCodePoints) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                   absl::StrCat(what, " name has ", count, " characters; at most ",
                                limits::kNameMaxCodePoints));
  }
  for (size_t k = first; k < last; ++k) {
    if (cps[k].value < 0x20 || cps[k].value == 0x7F) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                     absl::StrCat(what, " name must not contain control characters"));
    }
  }
  return std::string(raw.substr(cps[first].begin, cps[last - 1].end - cps[first].begin));
}

absl::Status ValidateSlug(absl::string_view slug) {
  absl::string_view shown = slug.substr(0, 64);
  if (slug.size() < limits::kSlugMinLength || slug.size() > limits::kSlugMaxLength) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                   absl::StrCat("slug '", shown, "' must be ", limits::kSlugMinLength, "-",
                                limits::kSlugMaxLength, " characters"));
  }
  for (char c : slug) {
    if (!IsSlugChar(c)) {
      return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                     absl::StrCat("slug '", shown, "' may hold only a-z, 0-9 and '-'"));
    }
  }
  if (slug.front() == '-') {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                   absl::StrCat("slug '", shown, "' must not start with a hyphen"));
  }
  if (slug.back() == '-') {
    return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                   absl::StrCat("slug '", shown, "' must not end with a hyphen"));
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
    return Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                   absl::StrCat("cannot derive a slug from the name '", name.substr(0, 100),
                                "' (fewer than 2 of a-z, 0-9); pass a slug"));
  }
  return slug;
}

absl::StatusOr<std::string> NormalizeKey(absl::string_view raw) {
  absl::string_view trimmed;
  if (absl::Status status = TrimKey(raw, &trimmed); !status.ok()) return status;
  return absl::AsciiStrToLower(trimmed);
}

absl::Status ValidateStoredKey(absl::string_view key) {
  absl::string_view trimmed;
  if (absl::Status status = TrimKey(key, &trimmed); !status.ok()) return status;
  // The key is text now, so a byte of 0x80 or more is part of a multi-byte
  // sequence (never upper case ASCII); the tail goes one byte at a time.
  const auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  bool upper = false;
  size_t i = 0;
  for (; i + 8 <= key.size() && !upper; i += 8) {
    const uint64_t word = Load8(key.data() + i);
    upper = (word & kHighBits) == 0 ? AnyAsciiUpper(word)
                                    : std::any_of(key.begin() + i, key.begin() + i + 8, is_upper);
  }
  upper = upper || std::any_of(key.begin() + i, key.end(), is_upper);
  if (trimmed.size() != key.size() || upper) {
    return Refusal(absl::StatusCode::kInvalidArgument, {"M1"},
                   "key is not normalized: it has upper-case letters or surrounding white space");
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view text, size_t max_bytes, absl::string_view what,
                          absl::string_view rule) {
  if (text.empty() || text.size() > max_bytes) {
    return Refusal(absl::StatusCode::kInvalidArgument, {rule},
                   absl::StrCat(what, " must be 1-", max_bytes, " bytes; got ", text.size()));
  }
  bool control = false;
  const size_t at = FirstNonText(text, &control);
  if (at != text.size()) {
    return Refusal(
        absl::StatusCode::kInvalidArgument, {rule},
        absl::StrCat(what, control ? " must not contain control characters" : " is not valid UTF-8",
                     " (byte ", at, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePlanName(absl::string_view name) {
  return ValidateText(name, limits::kPlanNameMaxBytes, "plan name", "T2");
}

}  // namespace tenantry::internal
