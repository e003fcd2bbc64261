// Copyright 2026 The tenantry Authors.
#include "scale_data.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tenantry::bench {

const char* const kRoleNames[kRoleCount] = {"owner",  "admin",  "manager", "member",
                                            "viewer", "client", "analyst", "operator"};

namespace {

constexpr int kWorkspacesPerAccount = 20;
constexpr int kAgenciesPerAccount = 2;
constexpr int kClientsPerAgency = 9;
constexpr int kStaffAdmins = 2;
constexpr int kStaffMembers = 5;
constexpr int kTeamSize = 8;
constexpr double kSpareShare = 0.05;  // users with no membership

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<uint64_t> ApplyOrDie(Engine& engine, const Batch& batch, const char* what,
                                 double* seconds) {
  const auto start = Clock::now();
  absl::StatusOr<std::vector<uint64_t>> ids = engine.apply(batch);
  *seconds += Since(start);
  if (!ids.ok()) {
    std::fprintf(stderr, "scale data: %s: %s\n", what, std::string(ids.status().message()).c_str());
    std::abort();
  }
  return *std::move(ids);
}

// Applies `batch` once it holds `limit` changes (and at the end: limit 0).
void Flush(Engine& engine, Batch& batch, size_t limit, const char* what, double* seconds,
           uint64_t* changes) {
  if (batch.empty() || batch.size() < limit) return;
  *changes += batch.size();
  const double before = *seconds;
  ApplyOrDie(engine, batch, what, seconds);
  if (std::getenv("TENANTRY_SCALE_TRACE") != nullptr) {
    std::fprintf(stderr, "scale data: %s: %zu changes in %.3f s (%.0f k/s), heap %.0f MB\n", what,
                 batch.size(), *seconds - before,
                 static_cast<double>(batch.size()) / (*seconds - before) / 1e3,
                 static_cast<double>(HeapInUse()) / 1e6);
  }
  batch = Batch();
}

Role Weighted(std::mt19937_64& rng, const std::pair<Role, int>* table, size_t n) {
  int total = 0;
  for (size_t i = 0; i < n; ++i) total += table[i].second;
  int pick = static_cast<int>(rng() % static_cast<uint64_t>(total));
  for (size_t i = 0; i < n; ++i) {
    if (pick < table[i].second) return table[i].first;
    pick -= table[i].second;
  }
  return table[n - 1].first;
}

constexpr std::pair<Role, int> kAgencyRoles[] = {{kAdmin, 10},  {kManager, 20}, {kMember, 33},
                                                 {kViewer, 27}, {kClient, 5},   {kAnalyst, 3},
                                                 {kOperator, 2}};
constexpr std::pair<Role, int> kClientRoles[] = {{kClient, 40}, {kViewer, 24}, {kMember, 22},
                                                 {kManager, 9}, {kAnalyst, 3}, {kOperator, 2}};

// The permissions questions ask about: some every role holds, some only
// the upper roles, the client's own, the custom roles' own, and the
// account-level ones only staff owners and admins hold.
constexpr const char* kSampled[] = {"workspace.view",   "contacts.view",        "analytics.view",
                                    "campaigns.run",    "contacts.edit",        "runs.trigger",
                                    "workflows.deploy", "members.invite",       "billing.manage",
                                    "workspace.delete", "account.manage_staff", "credits.transfer",
                                    "contacts.export"};

}  // namespace

Data Build(const Shape& shape, uint64_t seed, std::unique_ptr<Engine> engine_to_fill) {
  Data d;
  d.engine = engine_to_fill != nullptr ? std::move(engine_to_fill) : std::make_unique<Engine>();
  Engine& engine = *d.engine;
  std::mt19937_64 rng(seed);
  const int account_count = std::max(1, shape.workspaces / kWorkspacesPerAccount);

  // Users.
  auto start = Clock::now();
  {
    Batch batch;
    for (int i = 0; i < shape.users; ++i) {
      batch.create_user(absl::StrCat("user", i, "@bench.example"));
      if (static_cast<int>(batch.size()) == shape.batch_size || i + 1 == shape.users) {
        d.changes += batch.size();
        std::vector<uint64_t> ids = ApplyOrDie(engine, batch, "users", &d.users_s);
        d.users.insert(d.users.end(), ids.begin(), ids.end());
        batch = Batch();
      }
    }
  }
  d.home.assign(d.users.size(), 0);

  // Accounts (their owners are the first users), with the two custom roles.
  {
    Batch batch;
    for (int a = 0; a < account_count; ++a) {
      batch.create_account({absl::StrCat("Agency ", a), d.users[a], Plan::Named("enterprise")});
    }
    d.changes += batch.size();
    std::vector<uint64_t> ids = ApplyOrDie(engine, batch, "accounts", &d.workspaces_s);
    d.accounts.assign(ids.begin(), ids.end());
    Batch roles;
    for (int a = 0; a < account_count; ++a) {
      d.home[a] = a;
      d.staff.push_back({d.accounts[a], d.users[a], "owner", {}});
      roles.define_role(kSystem, d.accounts[a], "analyst", {"analytics.view", "contacts.export"},
                        "viewer");
      roles.define_role(kSystem, d.accounts[a], "operator", {"runs.trigger", "contacts.edit"},
                        "member");
    }
    d.changes += roles.size();
    ApplyOrDie(engine, roles, "custom roles", &d.workspaces_s);
  }

  // Agencies, then their client sub-workspaces; the account owner owns all.
  std::vector<std::vector<WorkspaceId>> agencies(account_count), clients(account_count);
  {
    Batch batch;
    for (int a = 0; a < account_count; ++a) {
      for (int g = 0; g < kAgenciesPerAccount; ++g) {
        batch.create_workspace(kSystem, d.accounts[a],
                               {absl::StrCat("Agency ", a, " office ", g), std::nullopt,
                                WorkspaceType::kAgency, 0, 0});
      }
    }
    d.changes += batch.size();
    std::vector<uint64_t> ids = ApplyOrDie(engine, batch, "agencies", &d.workspaces_s);
    for (int a = 0; a < account_count; ++a) {
      for (int g = 0; g < kAgenciesPerAccount; ++g) {
        agencies[a].push_back(ids[a * kAgenciesPerAccount + g]);
        d.workspaces.push_back({agencies[a].back(), d.accounts[a], 0, static_cast<uint32_t>(a)});
        d.memberships.push_back({d.users[a], agencies[a].back(), kOwner});
      }
    }
    batch = Batch();
    for (int a = 0; a < account_count; ++a) {
      for (int g = 0; g < kAgenciesPerAccount; ++g) {
        for (int c = 0; c < kClientsPerAgency; ++c) {
          batch.create_workspace(kSystem, d.accounts[a],
                                 {absl::StrCat("Client ", a, "-", g, "-", c), std::nullopt,
                                  WorkspaceType::kSimple, agencies[a][g], 0});
        }
      }
    }
    d.changes += batch.size();
    ids = ApplyOrDie(engine, batch, "clients", &d.workspaces_s);
    size_t k = 0;
    for (int a = 0; a < account_count; ++a) {
      for (int g = 0; g < kAgenciesPerAccount; ++g) {
        for (int c = 0; c < kClientsPerAgency; ++c) {
          clients[a].push_back(ids[k++]);
          d.workspaces.push_back(
              {clients[a].back(), d.accounts[a], agencies[a][g], static_cast<uint32_t>(a)});
          d.memberships.push_back({d.users[a], clients[a].back(), kOwner});
        }
      }
    }
  }

  // Staff, teams and memberships, in batches of shape.batch_size.
  start = Clock::now();
  Batch batch;
  size_t next_user = static_cast<size_t>(account_count);
  for (int a = 0; a < account_count; ++a) {
    const AccountId account = d.accounts[a];
    for (int i = 0; i < kStaffAdmins; ++i) {
      const UserId user = d.users[next_user];
      d.home[next_user++] = a;
      batch.add_staff(kSystem, account, user, "admin", StaffScope::All());
      d.staff.push_back({account, user, "admin", {}});
    }
    const std::vector<WorkspaceId>& cl = clients[a];
    const std::vector<std::vector<WorkspaceId>> scopes = {
        {},
        {},
        {agencies[a][0]},  // an agency: covers its clients too (M2 + A3)
        {cl[rng() % cl.size()], cl[cl.size() - 1 - rng() % (cl.size() / 2)]},
        {agencies[a][1], cl[rng() % kClientsPerAgency]},
    };
    for (int i = 0; i < kStaffMembers; ++i) {
      const UserId user = d.users[next_user];
      d.home[next_user++] = a;
      std::vector<WorkspaceId> scope = scopes[i];
      std::sort(scope.begin(), scope.end());
      scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
      batch.add_staff(kSystem, account, user, "member",
                      scope.empty() ? StaffScope::All() : StaffScope::Of(scope));
      d.staff.push_back({account, user, "member", scope});
    }
  }
  Flush(engine, batch, 0, "staff", &d.memberships_s, &d.changes);

  const size_t spare_count = static_cast<size_t>(static_cast<double>(d.users.size()) * kSpareShare);
  const size_t people_end = d.users.size() - spare_count;
  d.spare.assign(d.users.begin() + static_cast<std::ptrdiff_t>(people_end), d.users.end());
  const size_t people = people_end - next_user;
  const int64_t remaining = shape.memberships - static_cast<int64_t>(d.memberships.size());
  const int64_t base = remaining / static_cast<int64_t>(people);
  const int64_t extra = remaining % static_cast<int64_t>(people);
  std::unordered_set<WorkspaceId> agency_set;
  for (const auto& list : agencies) agency_set.insert(list.begin(), list.end());
  std::vector<WorkspaceId> chosen;
  chosen.reserve(kWorkspacesPerAccount);
  // What the memberships alone add to the engine's heap: the description's
  // table is reserved first, so the difference is the engine's.
  d.memberships.reserve(static_cast<size_t>(shape.memberships));
  const size_t memberships_before = d.memberships.size();
  const uint64_t heap_before = HeapInUse();
  for (size_t i = 0; i < people; ++i) {
    const size_t u = next_user + i;
    const UserId user = d.users[u];
    const uint32_t home = static_cast<uint32_t>(rng() % static_cast<uint64_t>(account_count));
    d.home[u] = home;
    const size_t want = static_cast<size_t>(
        std::min<int64_t>(base + (static_cast<int64_t>(i) < extra ? 1 : 0), kWorkspacesPerAccount));
    chosen.clear();
    while (chosen.size() < want) {
      const uint32_t account =
          rng() % 10 != 0 ? home
                          : static_cast<uint32_t>(rng() % static_cast<uint64_t>(account_count));
      const size_t w = rng() % kWorkspacesPerAccount;
      const WorkspaceId ws = w < kAgenciesPerAccount ? agencies[account][w]
                                                     : clients[account][w - kAgenciesPerAccount];
      if (std::find(chosen.begin(), chosen.end(), ws) == chosen.end()) chosen.push_back(ws);
    }
    for (WorkspaceId ws : chosen) {
      const Role role = agency_set.count(ws) != 0
                            ? Weighted(rng, kAgencyRoles, std::size(kAgencyRoles))
                            : Weighted(rng, kClientRoles, std::size(kClientRoles));
      batch.add_member(kSystem, ws, user, kRoleNames[role]);
      d.memberships.push_back({user, ws, role});
    }
    Flush(engine, batch, static_cast<size_t>(shape.batch_size), "memberships", &d.memberships_s,
          &d.changes);
  }
  Flush(engine, batch, 0, "memberships", &d.memberships_s, &d.changes);
  d.membership_heap_bytes = HeapInUse() - heap_before;
  d.memberships_added = d.memberships.size() - memberships_before;

  // Teams: one per workspace, 8 of the account's own members each.
  {
    std::vector<std::vector<UserId>> by_account(static_cast<size_t>(account_count));
    for (size_t i = 0; i < people; ++i) {
      by_account[d.home[next_user + i]].push_back(d.users[next_user + i]);
    }
    Batch teams;
    for (const WorkspaceRow& w : d.workspaces) {
      const bool agency = w.parent == 0;
      const std::string name = agency ? "Account team" : "Operators";
      teams.create_team(kSystem, w.id, name, agency ? "manager" : "operator");
      d.teams.push_back({0, w.id, agency ? kManager : kOperator, {}});
    }
    d.changes += teams.size();
    std::vector<uint64_t> ids = ApplyOrDie(engine, teams, "teams", &d.memberships_s);
    Batch members;
    for (size_t t = 0; t < d.teams.size(); ++t) {
      TeamRow& team = d.teams[t];
      team.id = ids[t];
      const std::vector<UserId>& pool = by_account[d.workspaces[t].account_index];
      for (int k = 0; k < kTeamSize && !pool.empty(); ++k) {
        const UserId user = pool[rng() % pool.size()];
        if (std::find(team.members.begin(), team.members.end(), user) != team.members.end()) {
          continue;
        }
        team.members.push_back(user);
        members.add_team_member(kSystem, team.id, user);
      }
      Flush(engine, members, static_cast<size_t>(shape.batch_size), "team members",
            &d.memberships_s, &d.changes);
    }
    Flush(engine, members, 0, "team members", &d.memberships_s, &d.changes);
  }
  d.describe_s = Since(start) - d.memberships_s;

  for (const char* name : kSampled) d.sampled.push_back(*engine.permission(name));
  return d;
}

std::vector<Question> RandomQuestions(const Data& data, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // The workspaces each user holds a role in (through membership), by user.
  std::vector<std::pair<UserId, WorkspaceId>> held;
  held.reserve(data.memberships.size());
  for (const MembershipRow& m : data.memberships) held.push_back({m.user, m.workspace});
  std::sort(held.begin(), held.end());
  std::vector<std::vector<WorkspaceId>> account_spaces(data.accounts.size());
  for (const WorkspaceRow& w : data.workspaces) account_spaces[w.account_index].push_back(w.id);
  std::vector<Question> out(count);
  for (Question& q : out) {
    const size_t u = rng() % data.users.size();
    const uint64_t r = rng() % 10;
    q.user = data.users[u];
    const std::vector<WorkspaceId>& home = account_spaces[data.home[u]];
    const auto lo =
        std::lower_bound(held.begin(), held.end(), std::make_pair(q.user, WorkspaceId{0}));
    const auto hi = std::lower_bound(lo, held.end(), std::make_pair(q.user + 1, WorkspaceId{0}));
    if (r < 4 && hi != lo) {
      q.workspace =
          (lo + static_cast<std::ptrdiff_t>(rng() % static_cast<uint64_t>(hi - lo)))->second;
    } else if (r < 8) {
      q.workspace = home[rng() % home.size()];
    } else {
      q.workspace = data.workspaces[rng() % data.workspaces.size()].id;
    }
    q.permission = data.sampled[rng() % data.sampled.size()];
    q.answer = 0;
  }
  return out;
}

Question WarmQuestion(const Data& data) {
  const PermissionId view = data.sampled[1];  // contacts.view
  for (const MembershipRow& m : data.memberships) {
    if (m.role != kManager) continue;
    for (const WorkspaceRow& w : data.workspaces) {
      if (w.parent == m.workspace) return {m.user, w.id, view, 1};
    }
  }
  std::fprintf(stderr, "scale data: no agency manager found for the warm question\n");
  std::abort();
}

void Answer(const Engine& engine, std::vector<Question>& questions) {
  for (Question& q : questions) q.answer = engine.check(q.user, q.workspace, q.permission) ? 1 : 0;
}

void WriteQuestions(const std::string& path, const std::vector<Question>& questions) {
  static_assert(sizeof(Question) == 24, "the Python benchmark reads 24-byte records");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(questions.data()),
            static_cast<std::streamsize>(questions.size() * sizeof(Question)));
  if (!out) {
    std::fprintf(stderr, "scale data: cannot write %s\n", path.c_str());
    std::abort();
  }
}

uint64_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

uint64_t Rss() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace tenantry::bench
