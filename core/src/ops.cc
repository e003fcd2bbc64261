// Copyright 2026 The tenantry Authors.
//
// Decoding and running ops (ops.h).
#include "ops.h"

#include <cassert>
#include <tuple>
#include <utility>

#include "tenantry/status.h"

namespace tenantry::internal {

const char* OpName(uint8_t code) {
  switch (code) {
#define TENANTRY_OP_NAME(c, method, name) \
  case c:                                 \
    return name;
    TENANTRY_OPS(TENANTRY_OP_NAME)
#undef TENANTRY_OP_NAME
    default:
      return "unknown";
  }
}

namespace {

absl::Status Undecodable(uint8_t code) {
  return Refusal(
      absl::StatusCode::kDataLoss, {"P3"},
      absl::StrCat("journal: change '", OpName(code), "' (op ", code, ") does not decode"));
}

// The shapes a Writer method returns, as the op's result.
absl::StatusOr<uint64_t> AsResult(absl::Status s) {
  if (!s.ok()) return s;
  return 0;
}
absl::StatusOr<uint64_t> AsResult(absl::StatusOr<uint64_t> r) { return r; }
absl::StatusOr<uint64_t> AsResult(const absl::StatusOr<BucketAmounts>& r) {
  if (!r.ok()) return r.status();
  return 0;
}

template <class R, class... P, size_t... I>
absl::StatusOr<uint64_t> Call(Writer& writer, R (Writer::*method)(P...), OpReader& in, uint8_t code,
                              std::index_sequence<I...>) {
  std::tuple<Stored<P>...> args;
  const bool decoded = (in.Get(&std::get<I>(args)) && ...);
  if (!decoded || !in.done()) return Undecodable(code);
  return AsResult((writer.*method)(Use(std::get<I>(args))...));
}

template <class R, class... P>
absl::StatusOr<uint64_t> Call(Writer& writer, R (Writer::*method)(P...), OpReader& in,
                              uint8_t code) {
  return Call(writer, method, in, code, std::index_sequence_for<P...>{});
}

}  // namespace

absl::StatusOr<uint64_t> Dispatch(Writer& writer, absl::string_view op) {
  // Paired with RunChanges (write_path.cc): every change runs inside the
  // writer's open transaction, which ends once, in Commit or Abort, after
  // the last change.
  assert(writer.txn().open());
  uint8_t code = 0;
  if (!OpCodeOf(op, &code)) return Undecodable(0);
  OpReader in(op.substr(1));
  switch (code) {
#define TENANTRY_OP_CALL(c, method, name) \
  case c:                                 \
    return Call(writer, &Writer::method, in, code);
    TENANTRY_OPS(TENANTRY_OP_CALL)
#undef TENANTRY_OP_CALL
    default:
      return Undecodable(code);
  }
}

}  // namespace tenantry::internal
