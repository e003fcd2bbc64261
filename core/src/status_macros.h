// Copyright 2026 The tenantry Authors.
//
// abseil 20220623 (Debian 12) has no RETURN_IF_ERROR macros; these are ours.
#ifndef TENANTRY_CORE_SRC_STATUS_MACROS_H_
#define TENANTRY_CORE_SRC_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TNY_CONCAT_INNER_(a, b) a##b
#define TNY_CONCAT_(a, b) TNY_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define TNY_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status tny_status_ = (expr);       \
    if (!tny_status_.ok()) return tny_status_; \
  } while (false)

// `lhs = *expr` when `expr` (a StatusOr) is OK; returns its status otherwise.
#define TNY_ASSIGN_OR_RETURN(lhs, expr) \
  TNY_ASSIGN_OR_RETURN_IMPL_(TNY_CONCAT_(tny_statusor_, __LINE__), lhs, expr)
#define TNY_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // TENANTRY_CORE_SRC_STATUS_MACROS_H_
