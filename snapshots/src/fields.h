// Copyright 2026 The tenantry Authors.
//
// P2: what each string field of a snapshot may hold. A stored value must be
// exactly what the engine itself would have stored, so each is checked by
// the function the engine runs when a change makes that value (text.h,
// catalog.h, credits.h), and must already be in its stored form (a name
// trimmed, a key normalized): a file is never "repaired" on load. Text the
// engine makes itself (audit records) must at least be text: valid UTF-8
// without control characters, within its bound.
//
// A refusal is DataLoss naming the field as the schema does ("Workspace.name"),
// the entity it belongs to and the engine's reason, whose rule gains P2:
// "... (T3)" becomes "... (T3, P2)".
#ifndef TENANTRY_SNAPSHOTS_SRC_FIELDS_H_
#define TENANTRY_SNAPSHOTS_SRC_FIELDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "flatbuffers/flatbuffers.h"

namespace tenantry::internal {

// Whom a field belongs to ("workspace 7", "meter 0", "the snapshot"). Its
// text is made only for a refusal, so checking costs no allocation.
struct Entity {
  absl::string_view kind;
  uint64_t id = 0;
  bool numbered = true;
};

// DataLoss: "snapshot: " + `message`, naming `rules` and P2:
// "snapshot: ... (T3, P2)", or "(P2)" alone when `rules` is empty.
absl::Status RefusedSnapshot(absl::Span<const absl::string_view> rules, absl::string_view message);

// DataLoss: `field` of `entity` holds what the engine refuses, for `reason`,
// which names `rules`.
absl::Status RefusedField(absl::string_view field, const Entity& entity,
                          absl::Span<const absl::string_view> rules, absl::string_view reason);
// The same for the engine's own refusal of the value: its rules gain P2.
absl::Status RefusedField(absl::string_view field, const Entity& entity,
                          const absl::Status& reason);

// Each returns the field's value, or DataLoss when it is absent or is not a
// value the engine stores there:
// T3: a name as NormalizeName stores it (`noun`: "workspace", "account", "team").
absl::StatusOr<std::string> NameField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity, absl::string_view noun);
// M1: a key as NormalizeKey stores it (user and account keys, invitation e-mails).
absl::StatusOr<std::string> KeyField(const flatbuffers::String* s, absl::string_view field,
                                     const Entity& entity);
// T3: a slug (ValidateSlug).
absl::StatusOr<std::string> SlugField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity);
// M6: a custom role's name (ValidateRoleName).
absl::StatusOr<std::string> RoleNameField(const flatbuffers::String* s, absl::string_view field,
                                          const Entity& entity);
// M7: a permission name (ValidatePermissionName).
absl::StatusOr<std::string> PermissionField(const flatbuffers::String* s, absl::string_view field,
                                            const Entity& entity);
// C1: a meter or bucket name (ValidateMeterName; `what`: "meter name", "bucket name").
absl::StatusOr<std::string> MeterNameField(const flatbuffers::String* s, absl::string_view field,
                                           const Entity& entity, absl::string_view what);
// T2: a plan's name (ValidatePlanName).
absl::StatusOr<std::string> PlanNameField(const flatbuffers::String* s, absl::string_view field,
                                          const Entity& entity);
// Text the engine makes (ValidateText): at most `max_bytes`, naming `rule`.
absl::StatusOr<std::string> TextField(const flatbuffers::String* s, absl::string_view field,
                                      const Entity& entity, size_t max_bytes,
                                      absl::string_view rule);

}  // namespace tenantry::internal

#endif  // TENANTRY_SNAPSHOTS_SRC_FIELDS_H_
