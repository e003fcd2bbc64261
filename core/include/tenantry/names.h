// Copyright 2026 The tenantry Authors.
//
// The names of the engine's enums, as every interface writes and reads them
// (audit records, the Python package, the tool, the docs): one table per
// enum, in core/src/names.cc, read both ways, so that a name and its value
// can never drift apart between interfaces. `...Name` gives the name
// ("unknown" for a value outside the enum); `...Named` the value, or
// nullopt for a string that is not one of the names. The names of status
// codes are tenantry/status.h's StatusCodeName.
#ifndef TENANTRY_CORE_INCLUDE_TENANTRY_NAMES_H_
#define TENANTRY_CORE_INCLUDE_TENANTRY_NAMES_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "tenantry/export.h"
#include "tenantry/journal.h"
#include "tenantry/types.h"

namespace tenantry {

// T4: "simple", "agency".
TENANTRY_API const char* WorkspaceTypeName(WorkspaceType type);
TENANTRY_API std::optional<WorkspaceType> WorkspaceTypeNamed(absl::string_view name);

// T5: "active", "inactive".
TENANTRY_API const char* WorkspaceStatusName(WorkspaceStatus status);
TENANTRY_API std::optional<WorkspaceStatus> WorkspaceStatusNamed(absl::string_view name);

// A4: how a decision was reached: "none", "direct", "team", "staff",
// "inherited".
TENANTRY_API const char* AccessPathName(AccessPath path);
TENANTRY_API std::optional<AccessPath> AccessPathNamed(absl::string_view name);

// C7: "grant", "transfer", "revoke", "commit", "release", "expire",
// "return_on_delete".
TENANTRY_API const char* LedgerKindName(LedgerKind kind);
TENANTRY_API std::optional<LedgerKind> LedgerKindNamed(absl::string_view name);

// P3: "sync", "group", "none".
TENANTRY_API const char* DurabilityName(Durability durability);
TENANTRY_API std::optional<Durability> DurabilityNamed(absl::string_view name);

// P3: "refuse", "truncate".
TENANTRY_API const char* OnJournalDamageName(OnJournalDamage on_damage);
TENANTRY_API std::optional<OnJournalDamage> OnJournalDamageNamed(absl::string_view name);

}  // namespace tenantry

#endif  // TENANTRY_CORE_INCLUDE_TENANTRY_NAMES_H_
