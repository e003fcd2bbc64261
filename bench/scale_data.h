// Copyright 2026 The tenantry Authors.
//
// The data set of the full-scale suite (docs/rules.md §12: 100,000
// workspaces, 1,000,000 users, 5,000,000 memberships), built through the
// batch API, and the questions asked of it. The same plain description of
// the graph feeds the SQLite baseline (sqlite_baseline.h), so both answer
// from the same data.
//
// Shape, per account (enterprise plan; 5,000 accounts at full scale):
// 20 workspaces, 2 agencies each owning 9 client sub-workspaces; the account
// owner owns every workspace; 2 staff admins (scope all) and 5 staff members
// (2 with scope all, one scoped to an agency, which covers its clients, one
// to two clients, one to an agency and a client); two custom roles
// ("analyst" inherits viewer, "operator" inherits member); one team per
// agency workspace holding `manager` and one per client holding "operator"
// (custom), 8 users each. Every other user has about five memberships, 90%
// in a home account, with built-in roles (client mostly in client
// workspaces) and 5% custom ones.
#ifndef TENANTRY_BENCH_SCALE_DATA_H_
#define TENANTRY_BENCH_SCALE_DATA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tenantry/engine.h"

namespace tenantry::bench {

struct Shape {
  int workspaces = 100000;
  int users = 1000000;
  int64_t memberships = 5000000;  // direct memberships, owners' included
  int batch_size = 250000;        // changes per `apply` while loading

  static Shape Full() { return {}; }
  static Shape Small() { return {2000, 20000, 100000, 50000}; }
};

// Built-in workspace roles, then the custom ones; indexes into Data::roles.
enum Role : uint8_t { kOwner, kAdmin, kManager, kMember, kViewer, kClient, kAnalyst, kOperator };
inline constexpr int kRoleCount = 8;
extern const char* const kRoleNames[kRoleCount];

struct WorkspaceRow {
  WorkspaceId id;
  AccountId account;
  WorkspaceId parent;      // 0 = none
  uint32_t account_index;  // into Data::accounts
};
struct MembershipRow {
  UserId user;
  WorkspaceId workspace;
  Role role;
};
struct StaffRow {
  AccountId account;
  UserId user;
  std::string role;                // owner, admin, member
  std::vector<WorkspaceId> scope;  // empty = all
};
struct TeamRow {
  TeamId id;
  WorkspaceId workspace;
  Role role;
  std::vector<UserId> members;
};

// One question: check(user, workspace, permission).
struct Question {
  UserId user;
  WorkspaceId workspace;
  PermissionId permission;
  uint32_t answer;  // tenantry's answer, filled in by Answer()
};

struct Data {
  std::unique_ptr<Engine> engine;
  std::vector<UserId> users;
  std::vector<UserId> spare;  // users with no membership (the change benchmarks' material)
  std::vector<AccountId> accounts;
  std::vector<WorkspaceRow> workspaces;
  std::vector<MembershipRow> memberships;
  std::vector<StaffRow> staff;
  std::vector<TeamRow> teams;
  std::vector<uint32_t> home;         // per user index: index into accounts (staff: their account)
  std::vector<PermissionId> sampled;  // the permissions questions ask about

  // Loading, as measured.
  double users_s = 0, workspaces_s = 0, memberships_s = 0, describe_s = 0;
  uint64_t changes = 0;
  // The engine's heap growth over the membership phase (no team, no staff),
  // and how many memberships that phase added: bytes per membership, all
  // indexes included, without the users' and workspaces' own cost.
  uint64_t membership_heap_bytes = 0, memberships_added = 0;
};

// Builds the engine and its description. Aborts with a message on any
// refused change (the shape is meant to be valid). `engine`: the (empty)
// engine to build into, e.g. a replica, whose batches then go through its
// group's log; null = a new plain Engine.
Data Build(const Shape& shape, uint64_t seed = 42, std::unique_ptr<Engine> engine = nullptr);

// `count` random questions: 40% a user and a workspace they hold a role in
// (staff: one of their account's), 40% a user and any workspace of their
// home account, 20% any user and any workspace (mostly another account's).
std::vector<Question> RandomQuestions(const Data& data, size_t count, uint64_t seed);

// The warm question: an agency member asking about a client sub-workspace
// of that agency (allowed through A3, so the walk reads two levels).
Question WarmQuestion(const Data& data);

// Fills in `answer` from the engine.
void Answer(const Engine& engine, std::vector<Question>& questions);

// Writes questions as raw little-endian records (u64 user, u64 workspace,
// u32 permission, u32 answer; 24 bytes each) for the Python benchmark.
void WriteQuestions(const std::string& path, const std::vector<Question>& questions);

// Heap bytes in use (glibc mallinfo2: arena + mmapped chunks).
uint64_t HeapInUse();
// Resident set size, bytes (/proc/self/statm).
uint64_t Rss();

}  // namespace tenantry::bench

#endif  // TENANTRY_BENCH_SCALE_DATA_H_
