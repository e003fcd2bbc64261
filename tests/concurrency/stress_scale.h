// Copyright 2026 The tenantry Authors.
//
// How much work a stress test does in each build. CI runs every suite in
// the dev build (Debug), again under ASan+UBSan, and the concurrency suites
// under TSan, on 2 cores, and must stay fast. The sanitizers slow the engine
// down (ASan+UBSan several times; TSan, built optimized, mostly when
// threads contend or are created), so a stress test whose full count (the
// figures docs/concurrency.md quotes, such as a million changes) would be
// slow there scales it down: each such test names its three counts, and
// Scaled() picks the one of this build. The scaled counts still interleave
// readers and writers many thousands of times, which is what the sanitizers
// need to see.
#ifndef TENANTRY_TESTS_STRESS_SCALE_H_
#define TENANTRY_TESTS_STRESS_SCALE_H_

#include <cstdint>

namespace tenantry::test {

enum class Sanitizer { kNone, kAddress, kThread };

// GCC defines __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang answers
// __has_feature. UBSan alone costs little and is not told apart.
#if defined(__SANITIZE_THREAD__)
inline constexpr Sanitizer kSanitizer = Sanitizer::kThread;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr Sanitizer kSanitizer = Sanitizer::kAddress;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr Sanitizer kSanitizer = Sanitizer::kThread;
#elif __has_feature(address_sanitizer)
inline constexpr Sanitizer kSanitizer = Sanitizer::kAddress;
#else
inline constexpr Sanitizer kSanitizer = Sanitizer::kNone;
#endif
#else
inline constexpr Sanitizer kSanitizer = Sanitizer::kNone;
#endif

// The count for this build: `plain` without a sanitizer, `asan` under
// ASan (+UBSan), `tsan` under TSan.
constexpr int64_t Scaled(int64_t plain, int64_t asan, int64_t tsan) {
  switch (kSanitizer) {
    case Sanitizer::kAddress:
      return asan;
    case Sanitizer::kThread:
      return tsan;
    case Sanitizer::kNone:
      break;
  }
  return plain;
}

}  // namespace tenantry::test

#endif  // TENANTRY_TESTS_STRESS_SCALE_H_
