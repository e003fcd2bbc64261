// Copyright 2026 The tenantry Authors.
//
// The SQLite baseline of the full-scale suite: the same data in indexed
// tables, one query per check, the way a service backed by a relational
// store often answers today (docs/rules.md section 12). In memory (":memory:"), so
// the comparison is with SQLite's query engine, not a disk.
//
// Tables: workspaces(id, account, parent), memberships(user, workspace,
// role) unique on (user, workspace), teams(id, workspace, role),
// team_members(user, team), staff(user, account, role, scope_all),
// staff_scope(user, account, workspace), role_permissions(role,
// permission). Roles are integer keys: built-in workspace roles, each
// account's custom roles (resolved, inheritance included, from the
// engine's role_permissions), and the three staff roles with M8's account
// permissions. The check query answers a direct role; a non-client role
// held in the parent agency (A3; the data is two levels deep); a team's
// role in the workspace or, non-client, in its parent; and a staff grant
// when the workspace or its parent is in scope (M2). The data holds no
// inactive workspace, so T5 is not modelled.
#ifndef TENANTRY_BENCH_SQLITE_BASELINE_H_
#define TENANTRY_BENCH_SQLITE_BASELINE_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "scale_data.h"

namespace tenantry::bench {

class Sqlite {
 public:
  // Loads `data` (its engine supplies role contents); `seconds` gets the
  // load time. `path` ":memory:" (the default): in memory, no journal, no
  // sync, so the comparison is with SQLite's query engine. A file path: a
  // new database there in WAL mode with synchronous=FULL, so every commit
  // is durable (an fsync of the WAL), the like of a durable log.
  Sqlite(const Data& data, double* seconds, const std::string& path = ":memory:");
  ~Sqlite();
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  bool Check(UserId user, WorkspaceId workspace, PermissionId permission);
  // One membership added or removed, each its own transaction.
  void AddMember(UserId user, WorkspaceId workspace, Role role);
  void RemoveMember(UserId user, WorkspaceId workspace);
  // `count` memberships in one transaction: users[i] joins workspaces[i].
  void AddMembers(const UserId* users, const WorkspaceId* workspaces, size_t count, Role role);
  void RemoveMembers(const UserId* users, const WorkspaceId* workspaces, size_t count);

 private:
  void Exec(const char* sql);
  sqlite3_stmt* Prepare(const char* sql);
  sqlite3* db_ = nullptr;
  sqlite3_stmt* check_ = nullptr;
  sqlite3_stmt* insert_member_ = nullptr;
  sqlite3_stmt* delete_member_ = nullptr;
};

}  // namespace tenantry::bench

#endif  // TENANTRY_BENCH_SQLITE_BASELINE_H_
