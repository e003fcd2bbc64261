// Copyright 2026 The tenantry Authors.
//
// verify(): every invariant of one version, checked from scratch. A broken
// one is DataLoss naming it. Also the teardown of a version.
#include "verify.h"

#include <algorithm>
#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "engine_impl.h"
#include "engine_internal.h"
#include "epoch.h"
#include "model.h"
#include "status_macros.h"
#include "tenantry/engine.h"
#include "tenantry/status.h"
#include "writer.h"

namespace tenantry {
namespace internal {
namespace {

// DataLoss: an invariant does not hold; `what` says which, `rules` whose.
absl::Status Broken(absl::Span<const absl::string_view> rules, absl::string_view what) {
  return Refusal(absl::StatusCode::kDataLoss, rules, absl::StrCat("invariant broken: ", what));
}
absl::Status Broken(absl::string_view what) { return Broken({}, what); }

absl::Status VerifyUser(const Version& v, const UserNode& u, uint64_t* direct) {
  const UserId* by_key = v.user_keys.Find(u.key);
  if (by_key == nullptr || *by_key != u.id) {
    return Broken({"M1"}, absl::StrCat("user ", u.id, " is not indexed by its key"));
  }
  if (!std::is_sorted(u.grants.begin(), u.grants.end()) ||
      std::adjacent_find(u.grants.begin(), u.grants.end(), [](const Grant& a, const Grant& b) {
        return a.workspace == b.workspace && a.team == b.team;
      }) != u.grants.end()) {
    return Broken({"M3"}, absl::StrCat("grants of user ", u.id, " are not sorted and unique"));
  }
  for (const Grant& g : u.grants) {
    const WorkspaceNode* ws = v.workspaces.Find(g.workspace);
    if (ws == nullptr) {
      return Broken(
          absl::StrCat("user ", u.id, " holds a role in missing workspace ", g.workspace));
    }
    TNY_RETURN_IF_ERROR(CheckGrant(v, u, g, *ws));
    if (g.team != 0) {
      const TeamNode* team = v.teams.Find(g.team);
      if (team == nullptr || team->workspace != g.workspace || team->role != g.role ||
          !team->members.Contains(u.id)) {
        return Broken({"M9"}, absl::StrCat("team grant of user ", u.id, " in team ", g.team,
                                           " differs from the team"));
      }
      continue;
    }
    ++*direct;
    const RoleId* role = ws->members.Find(u.id);
    if (role == nullptr || *role != g.role) {
      return Broken({"M3"}, absl::StrCat("membership of user ", u.id, " in workspace ", g.workspace,
                                         " differs between the user and the workspace"));
    }
  }
  for (const StaffEntry& s : u.staff) {
    const AccountNode* a = v.accounts.Find(s.account);
    const uint8_t* role = a == nullptr ? nullptr : a->staff.Find(u.id);
    if (role == nullptr || *role != static_cast<uint8_t>(s.role)) {
      return Broken({"M2"}, absl::StrCat("staff entry of user ", u.id, " in account ", s.account,
                                         " differs from the account's"));
    }
    TNY_RETURN_IF_ERROR(CheckStaffEntry(u, s));
  }
  if (u.active_workspace != 0) {
    const WorkspaceNode* ws = v.workspaces.Find(u.active_workspace);
    if (ws == nullptr || !ws->sessions.Contains(u.id)) {
      return Broken({"S1"},
                    absl::StrCat("active workspace of user ", u.id, " is not a live session"));
    }
    TNY_RETURN_IF_ERROR(CheckSession(v, u));
  }
  return absl::OkStatus();
}

// M4: exactly one owner among the members, the one the workspace names.
absl::Status VerifyOwner(const WorkspaceNode& ws) {
  int owners = 0;
  ws.members.ForEach([&](UserId, RoleId role) { owners += role == kOwner ? 1 : 0; });
  const RoleId* owner_role = ws.members.Find(ws.owner);
  if (owners != 1 || owner_role == nullptr || *owner_role != kOwner) {
    return Broken({"M4"}, absl::StrCat("workspace ", ws.id, " has ", owners, " owners"));
  }
  return absl::OkStatus();
}

absl::Status VerifyWorkspace(const Version& v, const WorkspaceNode& ws) {
  const AccountNode* a = v.accounts.Find(ws.account);
  if (a == nullptr || !a->workspaces.Contains(ws.id)) {
    return Broken({"T1"}, absl::StrCat("workspace ", ws.id, " is not listed by its account"));
  }
  const WorkspaceId* by_slug = a->slugs.Find(ws.slug);
  if (by_slug == nullptr || *by_slug != ws.id) {
    return Broken({"T3"}, absl::StrCat("workspace ", ws.id, " is not indexed by its slug"));
  }
  if (ws.depth < 1 || ws.depth > limits::kMaxDepth) {
    return Broken({"T4"}, absl::StrCat("workspace ", ws.id, " has depth ", int{ws.depth}));
  }
  if (ws.parent != 0) {
    const WorkspaceNode* parent = v.workspaces.Find(ws.parent);
    if (parent == nullptr || parent->account != ws.account ||
        parent->type != WorkspaceType::kAgency || !parent->children.Contains(ws.id) ||
        parent->depth + 1 != ws.depth || ws.ancestors[0] != parent->id ||
        !std::equal(parent->ancestors.begin(), parent->ancestors.begin() + parent->depth - 1,
                    ws.ancestors.begin() + 1)) {
      return Broken({"T4"}, absl::StrCat("workspace ", ws.id, " and its parent disagree"));
    }
  } else if (ws.depth != 1) {
    return Broken(absl::StrCat("top-level workspace ", ws.id, " has depth ", int{ws.depth}));
  }
  absl::Status status;
  ws.members.ForEach([&](UserId user, RoleId role) {
    const UserNode* u = v.users.Find(user);
    const Grant* g = u == nullptr ? nullptr : u->DirectGrant(ws.id);
    if (g == nullptr || g->role != role) {
      status = Broken(
          {"M3"}, absl::StrCat("member ", user, " of workspace ", ws.id, " has no matching grant"));
    }
  });
  if (!status.ok()) return status;
  TNY_RETURN_IF_ERROR(VerifyOwner(ws));
  ws.sessions.ForEach([&](UserId user, uint8_t) {
    const UserNode* u = v.users.Find(user);
    if (u == nullptr || u->active_workspace != ws.id) {
      status = Broken({"S1"}, absl::StrCat("session of user ", user, " in workspace ", ws.id,
                                           " is not the user's active workspace"));
    }
  });
  return status;
}

absl::Status VerifyAccount(const Version& v, const AccountNode& a) {
  int owners = 0;
  absl::Status status;
  a.staff.ForEach([&](UserId user, uint8_t role) {
    if (role == static_cast<uint8_t>(AccountRole::kOwner)) ++owners;
    const UserNode* u = v.users.Find(user);
    const StaffEntry* s = u == nullptr ? nullptr : u->StaffIn(a.id);
    if (s == nullptr || static_cast<uint8_t>(s->role) != role) {
      status = Broken({"M2"},
                      absl::StrCat("staff ", user, " of account ", a.id, " has no matching entry"));
    }
  });
  if (!status.ok()) return status;
  const uint8_t* owner_role = a.staff.Find(a.owner);
  if (owners != 1 || owner_role == nullptr ||
      *owner_role != static_cast<uint8_t>(AccountRole::kOwner)) {
    return Broken({"M2"}, absl::StrCat("account ", a.id, " has ", owners, " owners"));
  }
  if (a.slugs.size() != a.workspaces.size()) {
    return Broken({"T3"}, absl::StrCat("account ", a.id, " has ", a.slugs.size(), " slugs for ",
                                       a.workspaces.size(), " workspaces"));
  }
  return absl::OkStatus();
}

// C8 and the credit invariants. Runs under the writer lock, so no admin
// change, commit, release or expiry is half-done; consumes and reserves go
// on, and everything checked here holds at every instant of those.
absl::Status VerifyCredits(const Version& v, const std::atomic<ReservationTable*>& table) {
  // The table is made by the first reserve ever, lock-free: one made after
  // this load holds nothing yet, and the second scan loads it again.
  ReservationTable* reservations = table.load(std::memory_order_seq_cst);
  const MeterTable& meters = *v.meters;
  // Holds per cell, read before the cells: a hold only leaves its cell under
  // the writer lock, so the cell read afterwards holds at least this much.
  absl::flat_hash_map<const BalanceCell*, int64_t> held_by_cell;
  for (size_t i = 0; reservations != nullptr && i < reservations->size(); ++i) {
    const ReservationSlot& slot = reservations->slot(static_cast<uint32_t>(i));
    const uint64_t state_gen = slot.state_gen.load(std::memory_order_acquire);
    if (StateOf(state_gen) != SlotState::kLive) continue;
    const int64_t held = slot.held_regular.load(std::memory_order_relaxed) +
                         slot.held_extra.load(std::memory_order_relaxed);
    if (held <= 0) return Broken({"C6"}, absl::StrCat("reservation slot ", i, " holds ", held));
    held_by_cell[slot.cell.load(std::memory_order_relaxed)] += held;
  }
  // R6: a replica's leases and reservations, in the version.
  absl::flat_hash_map<const BalanceCell*, int64_t> held_by_holds;
  absl::Status holds_status;
  v.holds.ForEach([&](uint64_t id, const HoldNode* h) {
    const WorkspaceNode* ws = v.workspaces.Find(h->workspace);
    const Funding* f = ws == nullptr ? nullptr : FindMeterEntry(ws->credits, h->meter);
    if (h->held_regular < 0 || h->held_extra < 0 || h->settled < 0 || f == nullptr) {
      if (holds_status.ok()) {
        holds_status = Broken({"R6"}, absl::StrCat("hold ", id,
                                                   " is malformed or of no funded "
                                                   "workspace"));
      }
      return;
    }
    held_by_holds[f->cell] += h->held_regular + h->held_extra;
  });
  if (!holds_status.ok()) return holds_status;
  for (const auto& [cell, held] : held_by_holds) held_by_cell[cell] += held;
  // Per (account, meter): what live workspaces were funded with.
  absl::flat_hash_map<std::pair<AccountId, MeterId>, __int128> funded;
  // What each cell showed as held, for the upper bound after the cells.
  std::vector<std::pair<const BalanceCell*, int64_t>> held_seen;
  absl::Status status;
  v.workspaces.ForEach([&](WorkspaceId id, const WorkspaceNode* ws) {
    for (const Funding& f : ws->credits) {
      if (!status.ok()) return;
      if (f.meter >= meters.meters.size() || f.cell == nullptr || f.funded < 0) {
        status = Broken({"C1"}, absl::StrCat("workspace ", id, " has a malformed credit entry"));
        return;
      }
      funded[{ws->account, f.meter}] += f.funded;
      const int64_t counted = f.cell->consumed.load(std::memory_order_acquire);
      const CellValue c = Unpack(f.cell->LoadExact());
      const std::string where =
          absl::StrCat("workspace ", id, " meter '", meters.meters[f.meter].name, "'");
      if (c.closed)
        status = Broken({"T7"}, absl::StrCat(where, ": a live workspace's cell is closed"));
      if (meters.meters[f.meter].buckets.size() == 1 && c.extra != 0) {
        status = Broken({"C1"}, absl::StrCat(where, ": a one-bucket meter holds extra"));
      }
      // What the workspace consumed is what it was funded with minus what it
      // still holds; the counter may lag a consume in flight, never lead.
      if (c.total() > f.funded || counted < 0 || counted > f.funded - c.total()) {
        status = Broken({"C8"}, absl::StrCat(where, ": funded ", f.funded, " but holds ", c.total(),
                                             " and counted ", counted, " consumed"));
      }
      auto held = held_by_cell.find(f.cell);
      if (held != held_by_cell.end() && held->second > c.held) {
        status = Broken({"C6"}, absl::StrCat(where, ": reservations hold ", held->second,
                                             " but the balance shows ", c.held, " held"));
      }
      held_by_cell.erase(f.cell);
      held_seen.emplace_back(f.cell, c.held);
    }
  });
  if (!status.ok()) return status;
  if (!held_by_cell.empty()) {
    return Broken({"C6", "T7"}, "a live reservation belongs to no live workspace");
  }
  // Upper bound, from the slots read after the cells: a hold in a cell was
  // announced before its CAS and cannot be settled while we hold the writer
  // lock, so its slot is still reserving or live now. (Reload the table: a
  // hold read in a cell may be the first reserve ever, whose table did not
  // exist at the first scan.)
  reservations = table.load(std::memory_order_seq_cst);
  absl::flat_hash_map<const BalanceCell*, int64_t> may_hold;
  for (size_t i = 0; reservations != nullptr && i < reservations->size(); ++i) {
    const ReservationSlot& slot = reservations->slot(static_cast<uint32_t>(i));
    const SlotState state = StateOf(slot.state_gen.load(std::memory_order_seq_cst));
    if (state == SlotState::kFree) continue;
    may_hold[slot.cell.load(std::memory_order_relaxed)] +=
        state == SlotState::kLive ? slot.held_regular.load(std::memory_order_relaxed) +
                                        slot.held_extra.load(std::memory_order_relaxed)
                                  : slot.amount.load(std::memory_order_relaxed);
  }
  for (const auto& [cell, held] : held_by_holds) may_hold[cell] += held;
  for (const auto& [cell, held] : held_seen) {
    auto it = may_hold.find(cell);
    const int64_t accounted = it == may_hold.end() ? 0 : it->second;
    if (held > accounted) {
      return Broken({"C6"}, absl::StrCat("a balance shows ", held,
                                         " held but its reservations hold ", accounted));
    }
  }
  v.accounts.ForEach([&](AccountId id, const AccountNode* a) {
    for (const Pool& pool : a->pools) {
      if (!status.ok()) return;
      auto it = funded.find(std::make_pair(id, pool.meter));
      const __int128 in_workspaces = it == funded.end() ? 0 : it->second;
      if (it != funded.end()) funded.erase(it);
      if (pool.buckets[0] < 0 || pool.buckets[1] < 0 || pool.consumed_by_deleted < 0 ||
          __int128{pool.granted} != __int128{pool.buckets[0]} + pool.buckets[1] + in_workspaces +
                                        pool.consumed_by_deleted) {
        status = Broken(
            {"C8"},
            absl::StrCat("account ", id, " meter '", meters.meters[pool.meter].name, "': granted ",
                         pool.granted, " != pool ", pool.buckets[0], " + ", pool.buckets[1],
                         " + workspaces' funding ", static_cast<int64_t>(in_workspaces),
                         " + consumed by deleted workspaces ", pool.consumed_by_deleted));
      }
    }
  });
  if (!status.ok()) return status;
  if (!funded.empty()) return Broken({"C8"}, "a workspace holds credits its account never had");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckGrant(const Version& v, const UserNode& u, const Grant& g,
                        const WorkspaceNode& ws) {
  if (IsClientRole(v, g.role) && u.StaffIn(ws.account) != nullptr) {
    return Broken({"M5"},
                  absl::StrCat("user ", u.id, " is both staff and client in account ", ws.account));
  }
  return absl::OkStatus();
}

absl::Status CheckStaffEntry(const UserNode& u, const StaffEntry& s) {
  if (s.role != AccountRole::kMember && !s.scope_all) {
    return Broken({"M2"}, absl::StrCat("owner or admin ", u.id, " without scope all"));
  }
  return absl::OkStatus();
}

absl::Status CheckSession(const Version& v, const UserNode& u) {
  const WorkspaceNode* ws = v.workspaces.Find(u.active_workspace);
  if (ws == nullptr || !ws->active()) {
    return Broken({"S1"},
                  absl::StrCat("active workspace of user ", u.id, " is not a live session"));
  }
  // Every change that may take `workspace.switch` away re-checks the
  // sessions it touches (Writer::FinishSessions), so none outlives it.
  if (!Evaluate<false>(v, u.id, u.active_workspace, perm::kWorkspaceSwitch, nullptr)) {
    return Broken({"S1"}, absl::StrCat("user ", u.id, " has a session in workspace ",
                                       u.active_workspace, " without 'workspace.switch' there"));
  }
  return absl::OkStatus();
}

absl::Status VerifyLoaded(Engine& engine) {
  Engine::Impl& impl = EngineInternal::impl(engine);
  MutexLock lock(&impl.write_mu);
  ReadGuard guard;
  const Version& v = *EngineInternal::newest(engine);
  absl::Status status;
  v.workspaces.ForEach([&](WorkspaceId, const WorkspaceNode* ws) {
    if (status.ok()) status = VerifyOwner(*ws);
  });
  v.accounts.ForEach([&](AccountId, const AccountNode* a) {
    if (status.ok()) status = VerifyAccount(v, *a);
  });
  if (!status.ok()) return status;
  return VerifyCredits(v, impl.reservations);
}

void DestroyVersion(Version* v) {
  v->accounts.ForEach([](AccountId, const AccountNode* a) {
    auto* node = const_cast<AccountNode*>(a);
    node->staff.Destroy();
    node->workspaces.Destroy();
    node->slugs.Destroy();
    node->roles.Destroy();
    node->staff_invitations.Destroy();
    delete node;
  });
  v->roles.ForEach([](uint64_t, const RoleNode* r) { delete r; });
  v->teams.ForEach([](TeamId, const TeamNode* t) {
    auto* node = const_cast<TeamNode*>(t);
    node->members.Destroy();
    delete node;
  });
  v->invitations.ForEach([](InvitationId, const InvitationNode* i) { delete i; });
  v->holds.ForEach([](uint64_t, const HoldNode* h) { delete h; });
  v->users.ForEach([](UserId, const UserNode* u) { delete u; });
  v->workspaces.ForEach([](WorkspaceId, const WorkspaceNode* w) {
    auto* node = const_cast<WorkspaceNode*>(w);
    node->members.Destroy();
    node->children.Destroy();
    node->sessions.Destroy();
    node->teams.Destroy();
    node->invitations.Destroy();
    for (const Funding& funding : node->credits) delete funding.cell;
    delete node;
  });
  v->roles.Destroy();
  v->teams.Destroy();
  v->invitations.Destroy();
  v->holds.Destroy();
  v->accounts.Destroy();
  v->users.Destroy();
  v->workspaces.Destroy();
  v->user_keys.Destroy();
  v->account_keys.Destroy();
  delete v->catalog;
  delete v->meters;
  delete v;
}

}  // namespace internal

absl::Status Engine::verify() const {
  using namespace internal;  // NOLINT(google-build-using-namespace): one function of lookups
  // No change is half-applied while we look (C8 needs admin changes whole).
  MutexLock lock(&impl_->write_mu);
  ReadGuard guard;
  const Version& v = *root_.load(std::memory_order_seq_cst);
  absl::Status status;
  uint64_t direct = 0;
  v.users.ForEach([&](UserId, const UserNode* u) {
    if (status.ok()) status = VerifyUser(v, *u, &direct);
  });
  v.workspaces.ForEach([&](WorkspaceId, const WorkspaceNode* ws) {
    if (status.ok()) status = VerifyWorkspace(v, *ws);
  });
  v.accounts.ForEach([&](AccountId, const AccountNode* a) {
    if (status.ok()) status = VerifyAccount(v, *a);
  });
  if (!status.ok()) return status;
  if (direct != v.memberships) {
    return Broken(absl::StrCat("membership count ", v.memberships, " but ", direct, " found"));
  }
  if (v.user_keys.size() != v.users.size()) {
    return Broken({"M1"}, "user key index and users differ in size");
  }
  return VerifyCredits(v, impl_->reservations);
}

}  // namespace tenantry
