// Copyright 2026 The tenantry Authors.
#include "sqlite_baseline.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

namespace tenantry::bench {
namespace {

// Integer role keys (see the header).
constexpr int64_t kCustomBase = 8;
constexpr int64_t kStaffBase = 1'000'000'000;

int64_t StaffKey(const std::string& role) {
  return kStaffBase + (role == "owner" ? 0 : role == "admin" ? 1 : 2);
}

constexpr const char* kSchema = R"sql(
  CREATE TABLE workspaces(id INTEGER PRIMARY KEY, account INTEGER NOT NULL, parent INTEGER);
  CREATE TABLE memberships(user INTEGER NOT NULL, workspace INTEGER NOT NULL, role INTEGER NOT NULL);
  CREATE UNIQUE INDEX memberships_user_workspace ON memberships(user, workspace);
  CREATE TABLE teams(id INTEGER PRIMARY KEY, workspace INTEGER NOT NULL, role INTEGER NOT NULL);
  CREATE TABLE team_members(user INTEGER NOT NULL, team INTEGER NOT NULL,
                            PRIMARY KEY(user, team)) WITHOUT ROWID;
  CREATE TABLE staff(user INTEGER NOT NULL, account INTEGER NOT NULL, role INTEGER NOT NULL,
                     scope_all INTEGER NOT NULL, PRIMARY KEY(user, account)) WITHOUT ROWID;
  CREATE TABLE staff_scope(user INTEGER NOT NULL, account INTEGER NOT NULL,
                           workspace INTEGER NOT NULL,
                           PRIMARY KEY(user, account, workspace)) WITHOUT ROWID;
  CREATE TABLE role_permissions(role INTEGER NOT NULL, permission INTEGER NOT NULL,
                                PRIMARY KEY(role, permission)) WITHOUT ROWID;
)sql";

// One query per check (see the header for what it answers).
constexpr const char* kCheck = R"sql(
  SELECT EXISTS (
    SELECT 1 FROM memberships m
      JOIN role_permissions rp ON rp.role = m.role AND rp.permission = ?3
     WHERE m.user = ?1 AND m.workspace = ?2
    UNION ALL
    SELECT 1 FROM workspaces w
      JOIN memberships m ON m.user = ?1 AND m.workspace = w.parent
      JOIN role_permissions rp ON rp.role = m.role AND rp.permission = ?3
     WHERE w.id = ?2 AND m.role <> 5
    UNION ALL
    SELECT 1 FROM team_members tm
      JOIN teams t ON t.id = tm.team
      JOIN role_permissions rp ON rp.role = t.role AND rp.permission = ?3
     WHERE tm.user = ?1
       AND (t.workspace = ?2 OR (t.role <> 5 AND
            t.workspace = (SELECT parent FROM workspaces WHERE id = ?2)))
    UNION ALL
    SELECT 1 FROM workspaces w
      JOIN staff s ON s.user = ?1 AND s.account = w.account
      JOIN role_permissions rp ON rp.role = s.role AND rp.permission = ?3
     WHERE w.id = ?2
       AND (s.scope_all OR EXISTS (
             SELECT 1 FROM staff_scope sc
              WHERE sc.user = s.user AND sc.account = s.account
                AND sc.workspace IN (w.id, w.parent)))
  )
)sql";

void Die(sqlite3* db, const char* what) {
  std::fprintf(stderr, "sqlite baseline: %s: %s\n", what, sqlite3_errmsg(db));
  std::abort();
}

void Step(sqlite3* db, sqlite3_stmt* stmt, const char* what) {
  if (sqlite3_step(stmt) != SQLITE_DONE) Die(db, what);
  sqlite3_reset(stmt);
}

void Bind(sqlite3_stmt* stmt, int index, uint64_t value) {
  sqlite3_bind_int64(stmt, index, static_cast<sqlite3_int64>(value));
}

}  // namespace

void Sqlite::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite baseline: %s\n", error != nullptr ? error : "?");
    std::abort();
  }
}

sqlite3_stmt* Sqlite::Prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) Die(db_, sql);
  return stmt;
}

Sqlite::Sqlite(const Data& data, double* seconds, const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die(db_, "open");
  if (path == ":memory:") {
    Exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
  } else {
    Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  }
  Exec(kSchema);
  Exec("BEGIN");
  std::unordered_map<WorkspaceId, uint32_t> account_of;
  account_of.reserve(data.workspaces.size());
  {
    sqlite3_stmt* stmt = Prepare("INSERT INTO workspaces VALUES (?1, ?2, ?3)");
    for (const WorkspaceRow& w : data.workspaces) {
      account_of[w.id] = w.account_index;
      Bind(stmt, 1, w.id);
      Bind(stmt, 2, w.account);
      if (w.parent != 0) {
        Bind(stmt, 3, w.parent);
      } else {
        sqlite3_bind_null(stmt, 3);
      }
      Step(db_, stmt, "workspaces");
    }
    sqlite3_finalize(stmt);
  }
  const auto role_key = [&](WorkspaceId workspace, Role role) -> int64_t {
    if (role < kAnalyst) return role;
    return kCustomBase + 2 * static_cast<int64_t>(account_of.at(workspace)) + (role - kAnalyst);
  };
  {
    sqlite3_stmt* stmt = Prepare("INSERT INTO memberships VALUES (?1, ?2, ?3)");
    for (const MembershipRow& m : data.memberships) {
      Bind(stmt, 1, m.user);
      Bind(stmt, 2, m.workspace);
      sqlite3_bind_int64(stmt, 3, role_key(m.workspace, m.role));
      Step(db_, stmt, "memberships");
    }
    sqlite3_finalize(stmt);
  }
  {
    sqlite3_stmt* team = Prepare("INSERT INTO teams VALUES (?1, ?2, ?3)");
    sqlite3_stmt* member = Prepare("INSERT INTO team_members VALUES (?1, ?2)");
    for (const TeamRow& t : data.teams) {
      Bind(team, 1, t.id);
      Bind(team, 2, t.workspace);
      sqlite3_bind_int64(team, 3, role_key(t.workspace, t.role));
      Step(db_, team, "teams");
      for (UserId user : t.members) {
        Bind(member, 1, user);
        Bind(member, 2, t.id);
        Step(db_, member, "team members");
      }
    }
    sqlite3_finalize(team);
    sqlite3_finalize(member);
  }
  {
    sqlite3_stmt* staff = Prepare("INSERT INTO staff VALUES (?1, ?2, ?3, ?4)");
    sqlite3_stmt* scope = Prepare("INSERT INTO staff_scope VALUES (?1, ?2, ?3)");
    for (const StaffRow& s : data.staff) {
      Bind(staff, 1, s.user);
      Bind(staff, 2, s.account);
      sqlite3_bind_int64(staff, 3, StaffKey(s.role));
      sqlite3_bind_int(staff, 4, s.scope.empty() ? 1 : 0);
      Step(db_, staff, "staff");
      for (WorkspaceId ws : s.scope) {
        Bind(scope, 1, s.user);
        Bind(scope, 2, s.account);
        Bind(scope, 3, ws);
        Step(db_, scope, "staff scope");
      }
    }
    sqlite3_finalize(staff);
    sqlite3_finalize(scope);
  }
  {
    // Role contents from the engine (M8 built-ins; each account's custom
    // roles resolved with inheritance); staff roles as M8 gives them.
    const Engine& engine = *data.engine;
    sqlite3_stmt* stmt = Prepare("INSERT INTO role_permissions VALUES (?1, ?2)");
    const auto insert = [&](int64_t key, const std::vector<std::string>& names) {
      for (const std::string& name : names) {
        sqlite3_bind_int64(stmt, 1, key);
        sqlite3_bind_int64(stmt, 2, *engine.permission(name));
        Step(db_, stmt, "role permissions");
      }
    };
    const AccountId any = data.accounts.front();
    std::vector<std::string> builtin[kAnalyst];
    for (int r = 0; r < kAnalyst; ++r) {
      builtin[r] = *engine.role_permissions(any, kRoleNames[r]);
      insert(r, builtin[r]);
    }
    const std::vector<std::string> extra = {"account.create_workspace", "account.manage_staff",
                                            "account.manage_plan", "credits.transfer"};
    std::vector<std::string> owner = builtin[kOwner], admin = builtin[kAdmin];
    owner.insert(owner.end(), extra.begin(), extra.end());
    admin.insert(admin.end(), extra.begin(), extra.end());
    insert(StaffKey("owner"), owner);
    insert(StaffKey("admin"), admin);
    insert(StaffKey("member"), builtin[kAdmin]);  // staff_member_role: admin (the default)
    for (size_t a = 0; a < data.accounts.size(); ++a) {
      for (int r = kAnalyst; r <= kOperator; ++r) {
        insert(kCustomBase + 2 * static_cast<int64_t>(a) + (r - kAnalyst),
               *engine.role_permissions(data.accounts[a], kRoleNames[r]));
      }
    }
    sqlite3_finalize(stmt);
  }
  Exec("COMMIT");
  Exec("ANALYZE");
  check_ = Prepare(kCheck);
  insert_member_ = Prepare("INSERT INTO memberships VALUES (?1, ?2, ?3)");
  delete_member_ = Prepare("DELETE FROM memberships WHERE user = ?1 AND workspace = ?2");
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Sqlite::~Sqlite() {
  sqlite3_finalize(check_);
  sqlite3_finalize(insert_member_);
  sqlite3_finalize(delete_member_);
  sqlite3_close(db_);
}

bool Sqlite::Check(UserId user, WorkspaceId workspace, PermissionId permission) {
  Bind(check_, 1, user);
  Bind(check_, 2, workspace);
  sqlite3_bind_int64(check_, 3, permission);
  if (sqlite3_step(check_) != SQLITE_ROW) Die(db_, "check");
  const bool allowed = sqlite3_column_int(check_, 0) != 0;
  sqlite3_reset(check_);
  return allowed;
}

void Sqlite::AddMember(UserId user, WorkspaceId workspace, Role role) {
  Bind(insert_member_, 1, user);
  Bind(insert_member_, 2, workspace);
  sqlite3_bind_int64(insert_member_, 3, role);
  Step(db_, insert_member_, "add member");
}

void Sqlite::RemoveMember(UserId user, WorkspaceId workspace) {
  Bind(delete_member_, 1, user);
  Bind(delete_member_, 2, workspace);
  Step(db_, delete_member_, "remove member");
}

void Sqlite::AddMembers(const UserId* users, const WorkspaceId* workspaces, size_t count,
                        Role role) {
  Exec("BEGIN");
  for (size_t i = 0; i < count; ++i) AddMember(users[i], workspaces[i], role);
  Exec("COMMIT");
}

void Sqlite::RemoveMembers(const UserId* users, const WorkspaceId* workspaces, size_t count) {
  Exec("BEGIN");
  for (size_t i = 0; i < count; ++i) RemoveMember(users[i], workspaces[i]);
  Exec("COMMIT");
}

}  // namespace tenantry::bench
