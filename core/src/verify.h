// Copyright 2026 The tenantry Authors.
//
// The invariants Engine::verify() checks, in parts a snapshot's loader
// shares: the loader builds every index from the nodes it read (members
// from grants, staff, sessions, keys, slugs, children), so it checks only
// what the file itself claims (P2) and leaves the rest to construction.
#ifndef TENANTRY_CORE_SRC_VERIFY_H_
#define TENANTRY_CORE_SRC_VERIFY_H_

#include "absl/status/status.h"
#include "model.h"
#include "tenantry/engine.h"

namespace tenantry::internal {

// M5: a direct or team grant of `u` in `ws` (its workspace) is no client
// role where the user is staff of the account.
absl::Status CheckGrant(const Version& v, const UserNode& u, const Grant& g,
                        const WorkspaceNode& ws);
// M2: a staff entry of an owner or admin covers every workspace.
absl::Status CheckStaffEntry(const UserNode& u, const StaffEntry& s);
// S1: the active workspace of `u` (not 0) is live and still grants
// workspace.switch to the user. (That the workspace lists the session is
// an index, checked by verify() and built by the loader.)
absl::Status CheckSession(const Version& v, const UserNode& u);

// What verify() checks beyond the indexes a loader builds itself and the
// per-grant, per-staff-entry and per-session checks above, which the loader
// makes as it links: every workspace's one owner (M4), every account's
// staff and owner (M2, T3), and the credits (C1-C8, R6). DataLoss naming
// the rule, as verify().
absl::Status VerifyLoaded(Engine& engine);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_VERIFY_H_
