// Copyright 2026 The tenantry Authors.
//
// The enum <-> name tables (tenantry/names.h): one table per enum, read in
// both directions.
#include "tenantry/names.h"

#include <cstddef>
#include <utility>

namespace tenantry {
namespace {

template <class E, size_t N>
const char* NameIn(const std::pair<E, const char*> (&table)[N], E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";
}

template <class E, size_t N>
std::optional<E> ValueIn(const std::pair<E, const char*> (&table)[N], absl::string_view name) {
  for (const auto& [e, n] : table) {
    if (name == n) return e;
  }
  return std::nullopt;
}

constexpr std::pair<WorkspaceType, const char*> kWorkspaceTypes[] = {
    {WorkspaceType::kSimple, "simple"},
    {WorkspaceType::kAgency, "agency"},
};
constexpr std::pair<WorkspaceStatus, const char*> kWorkspaceStatuses[] = {
    {WorkspaceStatus::kActive, "active"},
    {WorkspaceStatus::kInactive, "inactive"},
};
constexpr std::pair<AccessPath, const char*> kAccessPaths[] = {
    {AccessPath::kNone, "none"},           {AccessPath::kDirect, "direct"},
    {AccessPath::kTeam, "team"},           {AccessPath::kStaff, "staff"},
    {AccessPath::kInherited, "inherited"},
};
constexpr std::pair<LedgerKind, const char*> kLedgerKinds[] = {
    {LedgerKind::kGrant, "grant"},
    {LedgerKind::kTransfer, "transfer"},
    {LedgerKind::kRevoke, "revoke"},
    {LedgerKind::kCommit, "commit"},
    {LedgerKind::kRelease, "release"},
    {LedgerKind::kExpire, "expire"},
    {LedgerKind::kReturnOnDelete, "return_on_delete"},
};
constexpr std::pair<Durability, const char*> kDurabilities[] = {
    {Durability::kSync, "sync"},
    {Durability::kGroup, "group"},
    {Durability::kNone, "none"},
};
constexpr std::pair<OnJournalDamage, const char*> kDamagePolicies[] = {
    {OnJournalDamage::kRefuse, "refuse"},
    {OnJournalDamage::kTruncate, "truncate"},
};

}  // namespace

const char* WorkspaceTypeName(WorkspaceType type) { return NameIn(kWorkspaceTypes, type); }
std::optional<WorkspaceType> WorkspaceTypeNamed(absl::string_view name) {
  return ValueIn(kWorkspaceTypes, name);
}

const char* WorkspaceStatusName(WorkspaceStatus status) {
  return NameIn(kWorkspaceStatuses, status);
}
std::optional<WorkspaceStatus> WorkspaceStatusNamed(absl::string_view name) {
  return ValueIn(kWorkspaceStatuses, name);
}

const char* AccessPathName(AccessPath path) { return NameIn(kAccessPaths, path); }
std::optional<AccessPath> AccessPathNamed(absl::string_view name) {
  return ValueIn(kAccessPaths, name);
}

const char* LedgerKindName(LedgerKind kind) { return NameIn(kLedgerKinds, kind); }
std::optional<LedgerKind> LedgerKindNamed(absl::string_view name) {
  return ValueIn(kLedgerKinds, name);
}

const char* DurabilityName(Durability durability) { return NameIn(kDurabilities, durability); }
std::optional<Durability> DurabilityNamed(absl::string_view name) {
  return ValueIn(kDurabilities, name);
}

const char* OnJournalDamageName(OnJournalDamage on_damage) {
  return NameIn(kDamagePolicies, on_damage);
}
std::optional<OnJournalDamage> OnJournalDamageNamed(absl::string_view name) {
  return ValueIn(kDamagePolicies, name);
}

}  // namespace tenantry
