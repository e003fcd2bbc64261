// Copyright 2026 The tenantry Authors.
//
// The many-process replica suite (replica_kill_test.cc and the worker it
// runs, replica_worker.cc) shares this: a digest of everything a caller
// can observe on an engine, as text, so that replicas at the same position
// can be compared line by line (R4: the same state, revision and feed).
//
// Users have no getter by id, so the caller names the user keys to look up
// (every key the suite ever tried to create); ids are walked up to the
// counts with slack for the rest, as tests/support/test_util.h does. Checks
// (A1) are digested for a sample of users (every id up to 32, then every
// 16th), every workspace and every permission: the roles' observable effect
// without a users x workspaces x permissions walk that takes minutes in a
// sanitizer build. No gtest here: the worker is a plain program. Also the
// clocks and the sleep both sides use.
#ifndef TENANTRY_TESTS_REPLICA_REPLICA_DIGEST_H_
#define TENANTRY_TESTS_REPLICA_REPLICA_DIGEST_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tenantry/engine.h"
#include "tenantry/limits.h"
#include "tenantry/types.h"

namespace tenantry::replica_kill {

// Milliseconds of the steady clock (deadlines) and of the wall clock.
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Every observable fact of `engine`, one per line. Sessions are left out:
// whether one still counts depends on the reader's clock (T6), and the
// suite makes none.
inline std::string StateDigest(const Engine& engine, const std::vector<std::string>& keys) {
  const Engine::Stats stats = engine.stats();
  const uint64_t slack = 64;
  std::string out =
      absl::StrCat("position=", engine.position(), " revision=", engine.revision(),
                   " accounts=", stats.accounts, " users=", stats.users,
                   " workspaces=", stats.workspaces, " memberships=", stats.memberships, "\n");
  std::vector<std::string> permissions;
  for (PermissionId id = 0; id < limits::kMaxPermissions; ++id) {
    absl::StatusOr<std::string> name = engine.permission_name(id);
    if (!name.ok()) break;
    permissions.push_back(*std::move(name));
  }
  absl::StrAppend(&out, "permissions ", absl::StrJoin(permissions, ","), "\n");
  UserId max_user = stats.users + slack;
  for (const std::string& key : keys) {
    absl::StatusOr<UserId> id = engine.user(key);
    absl::StrAppend(&out, "user ", key, " ",
                    id.ok() ? absl::StrCat(*id) : absl::StatusCodeToString(id.status().code()),
                    "\n");
    if (id.ok() && *id + slack > max_user) max_user = *id + slack;
  }
  for (AccountId a = 1; a <= stats.accounts + slack; ++a) {
    absl::StatusOr<AccountInfo> info = engine.account(a);
    if (!info.ok()) continue;
    absl::StrAppend(&out, "account ", a, " name=", info->name, " key=", info->key,
                    " plan=", info->plan.name, "/", info->plan.workspace_limit, "/",
                    info->plan.agency, " set=", info->plan_set, " owner=", info->owner,
                    " count=", info->workspace_count, "\n");
    absl::StatusOr<AccountBalance> pool = engine.account_balance(a);
    if (pool.ok()) {
      absl::StrAppend(&out, "  pool ", pool->buckets[0], " ", pool->buckets[1],
                      " granted=", pool->granted, " deleted=", pool->consumed_by_deleted, "\n");
    }
    for (UserId u = 1; u <= max_user; ++u) {
      auto staff = engine.staff(a, u);
      if (!staff.ok()) continue;
      absl::StrAppend(&out, "  staff ", u, " ", staff->first, " all=", staff->second.all,
                      " scope=", absl::StrJoin(staff->second.workspaces, ","), "\n");
    }
  }
  std::vector<WorkspaceId> workspaces;
  for (WorkspaceId w = 1; w <= stats.workspaces + slack; ++w) {
    absl::StatusOr<WorkspaceInfo> info = engine.workspace(w);
    if (!info.ok()) continue;
    workspaces.push_back(w);
    absl::StrAppend(&out, "workspace ", w, " account=", info->account, " name=", info->name,
                    " slug=", info->slug, " type=", static_cast<int>(info->type),
                    " status=", static_cast<int>(info->status), " parent=", info->parent,
                    " owner=", info->owner, " depth=", info->depth, "\n");
    if (absl::StatusOr<Settings> s = engine.settings(w); s.ok()) {
      absl::StrAppend(&out, "  settings ", s->beta_opt_in, " ", s->approval_timeout_s, " ",
                      s->inactivity_timeout_s, "\n");
    }
    if (absl::StatusOr<std::vector<Member>> members = engine.members(w); members.ok()) {
      for (const Member& m : *members)
        absl::StrAppend(&out, "  member ", m.user, " ", m.role, "\n");
    }
    if (absl::StatusOr<std::vector<TeamId>> teams = engine.teams(w); teams.ok()) {
      for (TeamId t : *teams) {
        absl::StatusOr<TeamInfo> team = engine.team(t);
        if (!team.ok()) continue;
        absl::StrAppend(&out, "  team ", t, " ", team->name, " ", team->role, " ",
                        absl::StrJoin(team->members, ","), "\n");
      }
    }
    if (auto invitations = engine.invitations(w); invitations.ok()) {
      for (const InvitationInfo& i : *invitations) {
        absl::StrAppend(&out, "  invitation ", i.id, " ", i.email, " ", i.role, " ", i.state,
                        " by=", i.invited_by, " accepted_by=", i.accepted_by,
                        " expires=", i.expires_at_ns, "\n");
      }
    }
    if (absl::StatusOr<Balance> b = engine.balance(w); b.ok()) {
      absl::StrAppend(&out, "  balance ", b->buckets[0], " ", b->buckets[1], " held=", b->held,
                      " consumed=", b->consumed, "\n");
    }
  }
  for (UserId u = 1; u <= max_user; ++u) {
    if (u > 32 && u % 16 != 0) continue;
    for (WorkspaceId w : workspaces) {
      std::string bits;
      for (PermissionId p = 0; p < permissions.size(); ++p) {
        bits += engine.check(u, w, p) ? '1' : '0';
      }
      if (bits.find('1') != std::string::npos)
        absl::StrAppend(&out, "check ", u, " ", w, " ", bits, "\n");
    }
  }
  absl::StatusOr<std::vector<AuditRecord>> feed = engine.changes_since(0);
  if (!feed.ok()) {
    absl::StrAppend(&out, "feed ", feed.status().ToString(), "\n");
  } else {
    for (const AuditRecord& r : *feed) {
      absl::StrAppend(&out, "feed ", r.revision, " ", r.time_ns, " ", r.actor, " ", r.account, " ",
                      r.workspace, " ", r.what, "\n");
    }
  }
  absl::StatusOr<std::vector<LedgerEntry>> ledger = engine.ledger();
  if (!ledger.ok()) {
    absl::StrAppend(&out, "ledger ", ledger.status().ToString(), "\n");
  } else {
    for (const LedgerEntry& e : *ledger) {
      absl::StrAppend(&out, "ledger ", e.sequence, " ", e.revision, " ", e.time_ns, " ", e.actor,
                      " ", e.account, " ", e.workspace, " ", e.meter, " ", static_cast<int>(e.kind),
                      " ", e.amounts[0], " ", e.amounts[1], " ", e.returned[0], " ", e.returned[1],
                      "\n");
    }
  }
  return out;
}

// FNV-1a, 64 bits: the same in every process of the suite.
inline uint64_t Fnv64(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace tenantry::replica_kill

#endif  // TENANTRY_TESTS_REPLICA_REPLICA_DIGEST_H_
