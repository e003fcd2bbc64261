// Copyright 2026 The tenantry Authors.
//
// Randomized differential test: the engine against the reference model
// (reference_model.h) on the same random changes (T2-T5, M2-M5, M10, S1),
// comparing every status code and, after every step, a sample of checks
// and lists (A1-A5); batches (X2) all or nothing.
//
// Replay a failure with the seed it prints:
//   TENANTRY_SEED=<seed> ./differential_test
// TENANTRY_STEPS=<n> shortens (or lengthens) the single-change run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "reference_model.h"
#include "tenantry/engine.h"

namespace tenantry {
namespace {

using reference::Model;

constexpr uint64_t kDefaultSeed = 20260417;
constexpr int kUsers = 40;
constexpr AccountId kUnknownAccount = 99;
// Keeps unlimited plans from growing the graph without end.
constexpr size_t kWorkspaceCapPerAccount = 14;
// Permissions most sampled: the ones the rules treat specially.
constexpr const char* kFocus[] = {"workspace.view", "workspace.switch",         "workspace.edit",
                                  "members.invite", "account.create_workspace", "runs.trigger",
                                  "billing.manage", "credits.transfer"};
// Permissions compared over every (user, workspace) pair, every 1,000 steps:
// granted when inactive (T5), switching (A5), a client's (M8), staff only (M8).
constexpr const char* kExhaustive[] = {"workspace.view", "workspace.switch", "runs.trigger",
                                       "credits.transfer"};

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 0);
}

// ---- One change, applied alike to the engine, a batch and the model ----

enum class Op {
  kCreateWorkspace,
  kAddMember,
  kSetRole,
  kRemoveMember,
  kTransferOwnership,
  kAddStaff,
  kSetStaffScope,
  kRemoveStaff,
  kSetStatus,
  kSetPlan,
  kRename,
  kSwitch,
};

struct Change {
  Op op = Op::kAddMember;
  UserId actor = kSystem;
  AccountId account = 0;
  WorkspaceId workspace = 0;
  UserId user = 0;
  std::string role;  // workspace role, or account role for add_staff
  std::optional<StaffScope> scope;
  WorkspaceSpec spec;
  WorkspaceStatus status = WorkspaceStatus::kActive;
  Plan plan;
  std::string name;
};

std::string Id(UserId user) { return user == kSystem ? "kSystem" : absl::StrCat(user); }

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2), "\"\"");
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string ScopeText(const StaffScope& scope) {
  return scope.all ? "StaffScope::All()"
                   : absl::StrCat("StaffScope::Of({", absl::StrJoin(scope.workspaces, ", "), "})");
}

// The change as the C++ call that makes it, for pasting into a repro.
std::string Describe(const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      return absl::StrCat("create_workspace(", Id(c.actor), ", ", c.account, ", {",
                          Quote(c.spec.name), ", ",
                          c.spec.slug.has_value() ? Quote(*c.spec.slug) : "std::nullopt", ", ",
                          c.spec.type == WorkspaceType::kAgency ? "kAgency" : "kSimple", ", ",
                          c.spec.parent, ", ", c.spec.owner, "})");
    case Op::kAddMember:
      return absl::StrCat("add_member(", Id(c.actor), ", ", c.workspace, ", ", c.user, ", ",
                          Quote(c.role), ")");
    case Op::kSetRole:
      return absl::StrCat("set_role(", Id(c.actor), ", ", c.workspace, ", ", c.user, ", ",
                          Quote(c.role), ")");
    case Op::kRemoveMember:
      return absl::StrCat("remove_member(", Id(c.actor), ", ", c.workspace, ", ", c.user, ")");
    case Op::kTransferOwnership:
      return absl::StrCat("transfer_ownership(", Id(c.actor), ", ", c.workspace, ", ", c.user, ")");
    case Op::kAddStaff:
      return absl::StrCat("add_staff(", Id(c.actor), ", ", c.account, ", ", c.user, ", ",
                          Quote(c.role), ", ",
                          c.scope.has_value() ? ScopeText(*c.scope) : "std::nullopt", ")");
    case Op::kSetStaffScope:
      return absl::StrCat("set_staff_scope(", Id(c.actor), ", ", c.account, ", ", c.user, ", ",
                          ScopeText(*c.scope), ")");
    case Op::kRemoveStaff:
      return absl::StrCat("remove_staff(", Id(c.actor), ", ", c.account, ", ", c.user, ")");
    case Op::kSetStatus:
      return absl::StrCat("set_status(", Id(c.actor), ", ", c.workspace, ", ",
                          c.status == WorkspaceStatus::kActive ? "kActive" : "kInactive", ")");
    case Op::kSetPlan:
      return absl::StrCat("set_plan(", Id(c.actor), ", ", c.account, ", Plan::Custom(",
                          Quote(c.plan.name), ", ", c.plan.workspace_limit, ", ",
                          c.plan.agency ? "true" : "false", "))");
    case Op::kRename:
      return absl::StrCat("rename_workspace(", Id(c.actor), ", ", c.workspace, ", ", Quote(c.name),
                          ")");
    case Op::kSwitch:
      return absl::StrCat("switch_workspace(", c.user, ", ", c.workspace, ")");
  }
  return "?";
}

std::string OpName(Op op) {
  Change c;
  c.op = op;
  c.scope = StaffScope::All();
  std::string text = Describe(c);
  return text.substr(0, text.find('('));
}

absl::StatusOr<uint64_t> NoId(const absl::Status& status) {
  if (!status.ok()) return status;
  return uint64_t{0};
}

absl::StatusOr<uint64_t> ApplyToEngine(Engine& e, const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      return e.create_workspace(c.actor, c.account, c.spec);
    case Op::kAddMember:
      return NoId(e.add_member(c.actor, c.workspace, c.user, c.role));
    case Op::kSetRole:
      return NoId(e.set_role(c.actor, c.workspace, c.user, c.role));
    case Op::kRemoveMember:
      return NoId(e.remove_member(c.actor, c.workspace, c.user));
    case Op::kTransferOwnership:
      return NoId(e.transfer_ownership(c.actor, c.workspace, c.user));
    case Op::kAddStaff:
      return NoId(e.add_staff(c.actor, c.account, c.user, c.role, c.scope));
    case Op::kSetStaffScope:
      return NoId(e.set_staff_scope(c.actor, c.account, c.user, *c.scope));
    case Op::kRemoveStaff:
      return NoId(e.remove_staff(c.actor, c.account, c.user));
    case Op::kSetStatus:
      return NoId(e.set_status(c.actor, c.workspace, c.status));
    case Op::kSetPlan:
      return NoId(e.set_plan(c.actor, c.account, c.plan));
    case Op::kRename:
      return NoId(e.rename_workspace(c.actor, c.workspace, c.name));
    case Op::kSwitch:
      return NoId(e.switch_workspace(c.user, c.workspace));
  }
  return absl::InternalError("unknown op");
}

void AddToBatch(Batch& b, const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      b.create_workspace(c.actor, c.account, c.spec);
      return;
    case Op::kAddMember:
      b.add_member(c.actor, c.workspace, c.user, c.role);
      return;
    case Op::kSetRole:
      b.set_role(c.actor, c.workspace, c.user, c.role);
      return;
    case Op::kRemoveMember:
      b.remove_member(c.actor, c.workspace, c.user);
      return;
    case Op::kTransferOwnership:
      b.transfer_ownership(c.actor, c.workspace, c.user);
      return;
    case Op::kAddStaff:
      b.add_staff(c.actor, c.account, c.user, c.role, c.scope);
      return;
    case Op::kSetStaffScope:
      b.set_staff_scope(c.actor, c.account, c.user, *c.scope);
      return;
    case Op::kRemoveStaff:
      b.remove_staff(c.actor, c.account, c.user);
      return;
    case Op::kSetStatus:
      b.set_status(c.actor, c.workspace, c.status);
      return;
    case Op::kSetPlan:
      b.set_plan(c.actor, c.account, c.plan);
      return;
    case Op::kRename:
      b.rename_workspace(c.actor, c.workspace, c.name);
      return;
    case Op::kSwitch:
      b.switch_workspace(c.user, c.workspace);
      return;
  }
}

absl::StatusOr<uint64_t> ApplyToModel(Model& m, const Change& c) {
  switch (c.op) {
    case Op::kCreateWorkspace:
      return m.CreateWorkspace(c.actor, c.account, c.spec);
    case Op::kAddMember:
      return NoId(m.AddMember(c.actor, c.workspace, c.user, c.role));
    case Op::kSetRole:
      return NoId(m.SetRole(c.actor, c.workspace, c.user, c.role));
    case Op::kRemoveMember:
      return NoId(m.RemoveMember(c.actor, c.workspace, c.user));
    case Op::kTransferOwnership:
      return NoId(m.TransferOwnership(c.actor, c.workspace, c.user));
    case Op::kAddStaff:
      return NoId(m.AddStaff(c.actor, c.account, c.user, c.role, c.scope));
    case Op::kSetStaffScope:
      return NoId(m.SetStaffScope(c.actor, c.account, c.user, *c.scope));
    case Op::kRemoveStaff:
      return NoId(m.RemoveStaff(c.actor, c.account, c.user));
    case Op::kSetStatus:
      return NoId(m.SetStatus(c.actor, c.workspace, c.status));
    case Op::kSetPlan:
      return NoId(m.SetPlan(c.actor, c.account, c.plan));
    case Op::kRename:
      return NoId(m.RenameWorkspace(c.actor, c.workspace, c.name));
    case Op::kSwitch:
      return NoId(m.SwitchWorkspace(c.user, c.workspace));
  }
  return absl::InternalError("unknown op");
}

// ---- Random changes over a small universe ----

// Generates changes from the model's state: mostly plausible (existing ids,
// actors close to the workspace, so that M10 decisions go both ways),
// sometimes invalid on purpose.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  // Portable across standard libraries (no <random> distributions), so a
  // seed replays anywhere.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }
  template <class Container>
  decltype(auto) PickFrom(const Container& items) {
    auto it = std::begin(items);
    std::advance(it, static_cast<std::ptrdiff_t>(Below(std::size(items))));
    return *it;
  }

  Change Next(const Model& m) {
    const uint64_t r = Below(100);
    if (r < 7) return CreateWorkspace(m);
    if (r < 27) return WorkspaceChange(m, Op::kAddMember);
    if (r < 41) return WorkspaceChange(m, Op::kSetRole);
    if (r < 51) return WorkspaceChange(m, Op::kRemoveMember);
    if (r < 56) return WorkspaceChange(m, Op::kTransferOwnership);
    if (r < 63) return StaffChange(m, Op::kAddStaff);
    if (r < 69) return StaffChange(m, Op::kSetStaffScope);
    if (r < 74) return StaffChange(m, Op::kRemoveStaff);
    if (r < 81) return WorkspaceChange(m, Op::kSetStatus);
    if (r < 84) return SetPlan(m);
    if (r < 88) return WorkspaceChange(m, Op::kRename);
    return WorkspaceChange(m, Op::kSwitch);
  }

  UserId User() {
    if (Chance(3)) return Chance(50) ? 0 : kUsers + 7;
    return 1 + Below(kUsers);
  }

  WorkspaceId Workspace(const Model& m) {
    if (m.workspaces().empty() || Chance(5)) {
      const WorkspaceId unknown[] = {0, m.next_workspace(), m.next_workspace() + 1, 100000};
      return PickFrom(unknown);
    }
    return PickFrom(m.workspaces()).first;
  }

  AccountId Account(const Model& m) {
    if (Chance(3)) return kUnknownAccount;
    return PickFrom(m.accounts()).first;
  }

  // Users who plausibly hold something in the workspace: its members, the
  // members of its ancestors, and its account's staff.
  std::vector<UserId> Related(const Model& m, WorkspaceId id) {
    std::vector<UserId> out;
    const reference::WorkspaceState* ws = m.FindWorkspace(id);
    if (ws == nullptr) return out;
    for (const auto& [user, role] : ws->members) out.push_back(user);
    for (const reference::WorkspaceState* up = m.FindWorkspace(ws->parent); up != nullptr;
         up = m.FindWorkspace(up->parent)) {
      for (const auto& [user, role] : up->members) out.push_back(user);
    }
    for (const auto& [user, staff] : m.FindAccount(ws->account)->staff) out.push_back(user);
    return out;
  }

  UserId RelatedUser(const Model& m, WorkspaceId id) {
    std::vector<UserId> related = Related(m, id);
    return related.empty() || Chance(35) ? User() : PickFrom(related);
  }

  std::string Permission() {
    if (Chance(50)) return PickFrom(kFocus);
    return PickFrom(reference::PermissionNames());
  }

 private:
  UserId WorkspaceActor(const Model& m, WorkspaceId id) {
    const reference::WorkspaceState* ws = m.FindWorkspace(id);
    const uint64_t r = Below(100);
    if (r < 30 || ws == nullptr) return r < 30 ? kSystem : User();
    if (r < 42) return ws->owner;
    if (r < 62) return PickFrom(ws->members).first;
    if (r < 88) return RelatedUser(m, id);
    return User();
  }

  UserId AccountActor(const Model& m, AccountId id) {
    const reference::AccountState* a = m.FindAccount(id);
    const uint64_t r = Below(100);
    if (r < 30 || a == nullptr) return r < 30 ? kSystem : User();
    if (r < 50) return a->owner;
    if (r < 75) return PickFrom(a->staff).first;
    return User();
  }

  std::string WorkspaceRole() {
    static const char* const kRoles[] = {"client", "client", "client",  "viewer",    "viewer",
                                         "member", "member", "manager", "manager",   "admin",
                                         "admin",  "admin",  "owner",   "superuser", "Admin"};
    return PickFrom(kRoles);
  }

  std::string Name() {
    static const char* const kBases[] = {
        "Acme",       "Acme Inc.",  "acme-inc",         "Sales",        "Zeta",
        "alpha team", "Alpha Team", "Caf\xC3\xA9 Noir", "\xCE\xA9mega", "Dashboard"};
    const uint64_t r = Below(100);
    auto repeat = [](absl::string_view text, int times) {
      std::string out;
      for (int i = 0; i < times; ++i) absl::StrAppend(&out, text);
      return out;
    };
    if (r < 4) {
      // Invalid (T3) or edge cases: lengths in code points, not bytes
      // (100 x U+00E9 is valid, 101 is not); names without a derivable slug;
      // control characters; white space only; bytes that are not UTF-8.
      static const std::string kEdge[] = {"",
                                          "   ",
                                          "\xC2\xA0\xE3\x80\x80",
                                          std::string(100, 'x'),
                                          std::string(101, 'x'),
                                          "Bad\x01Name",
                                          "Tab\tInside",
                                          "\xCE\xA9\xCE\xA9",
                                          repeat("\xC3\xA9", 100),
                                          repeat("\xC3\xA9", 101),
                                          "\xFF\xFE Acme",
                                          "Acme \xC3",
                                          "\xED\xA0\x80 Acme",
                                          "\xC0\xAF Acme",
                                          "\xF4\x90\x80\x80 Acme"};
      return PickFrom(kEdge);
    }
    std::string name = PickFrom(kBases);
    if (r < 75) absl::StrAppend(&name, " ", Below(40));
    // Surrounding white space is trimmed: ASCII, NBSP, ideographic space.
    if (r >= 93) name = absl::StrCat("  ", name, " \t");
    if (r >= 97) name = absl::StrCat("\xC2\xA0", name, "\xE3\x80\x80");
    return name;
  }

  std::optional<std::string> Slug() {
    if (Chance(70)) return std::nullopt;
    static const char* const kSlugs[] = {"acme",  "acme-inc", "a",    "-acme",
                                         "acme-", "Acme",     "ab_c", "zeta-1"};
    if (Chance(50)) return absl::StrCat("ok-", Below(60));
    if (Chance(5)) return std::string(51, 'z');
    return std::string(PickFrom(kSlugs));
  }

  Change CreateWorkspace(const Model& m) {
    Change c;
    c.op = Op::kCreateWorkspace;
    c.account = Account(m);
    const reference::AccountState* a = m.FindAccount(c.account);
    if (a != nullptr && a->workspaces.size() >= kWorkspaceCapPerAccount &&
        (a->workspace_limit == -1 ||
         static_cast<int64_t>(a->workspaces.size()) < a->workspace_limit)) {
      return WorkspaceChange(m, Op::kSetStatus);  // would only grow the graph
    }
    c.actor = AccountActor(m, c.account);
    c.spec.name = Name();
    c.spec.slug = Slug();
    c.spec.type = Chance(40) ? WorkspaceType::kAgency : WorkspaceType::kSimple;
    c.spec.parent = Parent(m, c.account);
    if (Chance(30)) c.spec.owner = Chance(85) ? 1 + Below(kUsers) : kUsers + 9;
    return c;
  }

  WorkspaceId Parent(const Model& m, AccountId account) {
    const uint64_t r = Below(100);
    if (r < 45) return 0;
    std::vector<WorkspaceId> agencies, simple, elsewhere;
    WorkspaceId deepest = 0;
    for (const auto& [id, ws] : m.workspaces()) {
      if (ws.account != account) {
        elsewhere.push_back(id);
      } else if (ws.agency) {
        agencies.push_back(id);
        if (deepest == 0 || m.Depth(id) > m.Depth(deepest)) deepest = id;
      } else {
        simple.push_back(id);
      }
    }
    if (r < 80 && !agencies.empty()) return Chance(40) ? deepest : PickFrom(agencies);
    if (r < 88 && !simple.empty()) return PickFrom(simple);
    if (r < 95 && !elsewhere.empty()) return PickFrom(elsewhere);
    return m.next_workspace() + 3;
  }

  StaffScope Scope(const Model& m, AccountId account, int all_percent) {
    if (Chance(all_percent)) return StaffScope::All();
    std::vector<WorkspaceId> ids;
    const uint64_t count = Below(4);
    for (uint64_t i = 0; i < count; ++i) {
      std::vector<WorkspaceId> own;
      const reference::AccountState* a = m.FindAccount(account);
      if (a != nullptr) own.assign(a->workspaces.begin(), a->workspaces.end());
      if (!own.empty() && Chance(85)) {
        ids.push_back(PickFrom(own));
      } else {
        ids.push_back(Workspace(m));
      }
    }
    return StaffScope::Of(ids);
  }

  Change StaffChange(const Model& m, Op op) {
    Change c;
    c.op = op;
    c.account = Account(m);
    c.actor = AccountActor(m, c.account);
    const reference::AccountState* a = m.FindAccount(c.account);
    c.user = a != nullptr && !a->staff.empty() && Chance(op == Op::kAddStaff ? 10 : 70)
                 ? PickFrom(a->staff).first
                 : User();
    if (op == Op::kAddStaff) {
      static const char* const kRoles[] = {"member", "member", "member", "member", "member",
                                           "admin",  "admin",  "admin",  "owner",  "manager"};
      c.role = PickFrom(kRoles);
      if (Chance(60)) c.scope = Scope(m, c.account, 40);
    } else if (op == Op::kSetStaffScope) {
      c.scope = Scope(m, c.account, 30);
    }
    return c;
  }

  Change SetPlan(const Model& m) {
    static const Plan kPlans[] = {Plan::Named("starter"),
                                  Plan::Named("growth"),
                                  Plan::Named("scale"),
                                  Plan::Named("enterprise"),
                                  Plan::Named("platinum"),
                                  Plan::Custom("agency-8", 8, true),
                                  Plan::Custom("tiny", 0, false),
                                  Plan::Custom("small-agency", 3, true),
                                  Plan::Custom("roomy", 12, false),
                                  Plan::Custom("", 3, false),
                                  Plan::Custom("negative", -2, true),
                                  Plan::Custom(std::string(101, 'p'), 5, false)};
    Change c;
    c.op = Op::kSetPlan;
    c.account = Account(m);
    c.actor = AccountActor(m, c.account);
    c.plan = PickFrom(kPlans);
    return c;
  }

  Change WorkspaceChange(const Model& m, Op op) {
    Change c;
    c.op = op;
    c.workspace = Workspace(m);
    c.actor = WorkspaceActor(m, c.workspace);
    const reference::WorkspaceState* ws = m.FindWorkspace(c.workspace);
    auto member = [&]() { return ws == nullptr ? User() : PickFrom(ws->members).first; };
    const uint64_t r = Below(100);
    switch (op) {
      case Op::kAddMember:
        c.user = r < 60 ? User() : r < 85 ? RelatedUser(m, c.workspace) : member();
        c.role = WorkspaceRole();
        break;
      case Op::kSetRole:
        c.user = r < 70 ? member() : r < 80 ? c.actor : User();
        c.role = WorkspaceRole();
        break;
      case Op::kRemoveMember:
        c.user = r < 80 ? member() : User();
        if (Chance(20)) c.actor = c.user;  // leaving
        break;
      case Op::kTransferOwnership:
        if (ws != nullptr && Chance(45)) c.actor = ws->owner;
        c.user = r < 50 ? member() : r < 92 ? User() : ws == nullptr ? 0 : ws->owner;
        break;
      case Op::kSetStatus:
        c.status = Chance(55) ? WorkspaceStatus::kActive : WorkspaceStatus::kInactive;
        break;
      case Op::kRename:
        c.name = Name();
        break;
      case Op::kSwitch:
        c.user = RelatedUser(m, c.workspace);
        break;
      default:
        break;
    }
    return c;
  }

  std::mt19937_64 rng_;
};

// ---- The harness: one engine, one model, and the comparisons ----

class Harness {
 public:
  // `seed` is what TENANTRY_SEED replays; the generator runs from `rng_seed`.
  Harness(uint64_t seed, uint64_t rng_seed) : seed_(seed), gen_(rng_seed) {}

  Engine& engine() { return engine_; }
  Model& model() { return model_; }
  Generator& gen() { return gen_; }
  int step() const { return step_; }

  // Users and accounts: an enterprise (agency) account, a growth account
  // with member_default_scope none, a custom agency plan, an unset plan.
  void Setup() {
    for (const std::string& name : reference::PermissionNames()) {
      absl::StatusOr<PermissionId> id = engine_.permission(name);
      ASSERT_TRUE(id.ok()) << name << ": " << id.status();
      perms_[name] = *id;
    }
    EXPECT_FALSE(engine_.permission_name(reference::PermissionNames().size()).ok())
        << "the engine's built-in catalog is larger than SPEC M7's";
    for (const char* name : {"starter", "growth", "scale", "enterprise", "platinum"}) {
      EXPECT_EQ(Plan::Named(name).workspace_limit, reference::NamedPlanLimit(name)) << name;
      EXPECT_EQ(Plan::Named(name).agency, reference::NamedPlanAgency(name)) << name;
    }
    for (int i = 1; i <= kUsers; ++i) {
      const std::string key = absl::StrCat("user", i, "@example.com");
      absl::StatusOr<UserId> got = engine_.create_user(key);
      absl::StatusOr<UserId> want = model_.CreateUser(key);
      ASSERT_TRUE(got.ok() && want.ok() && *got == *want) << got.status() << want.status();
    }
    const AccountSpec specs[] = {
        {"Enterprise Co", 1, Plan::Named("enterprise"), "", "all", "admin"},
        {"Growth Ltd", 2, Plan::Named("growth"), "growth-ltd", "none", "viewer"},
        {"Agency Partners", 3, Plan::Custom("agency-8", 8, true), "", "all", "manager"},
        {"Unset Inc", 4, std::nullopt, "", "none", "member"},
    };
    for (const AccountSpec& spec : specs) {
      absl::StatusOr<AccountId> got = engine_.create_account(spec);
      absl::StatusOr<AccountId> want = model_.CreateAccount(spec);
      ASSERT_TRUE(got.ok() && want.ok() && *got == *want) << got.status() << want.status();
    }
    ASSERT_EQ(engine_.revision(), model_.revision());
  }

  // A chain of agency workspaces down to the deepest level allowed (T4) in
  // the enterprise account, so that inheritance (A3) walks long ancestries
  // and creating below the bottom is refused.
  void BuildDeepChain() {
    WorkspaceId parent = 0;
    for (int level = 1; level <= limits::kMaxDepth; ++level) {
      Change c;
      c.op = Op::kCreateWorkspace;
      c.account = 1;
      c.spec = {absl::StrCat("Level ", level), std::nullopt, WorkspaceType::kAgency, parent, 0};
      Step(c);
      parent = model_.next_workspace() - 1;
    }
    ASSERT_EQ(model_.Depth(parent), limits::kMaxDepth);
  }

  std::string Where() const {
    return absl::StrCat("\n  [TENANTRY_SEED=", seed_, ", step ", step_, ", after ", last_, "]");
  }

  // Applies one change to both; compares the outcome, ids and revision.
  void Step(const Change& c) {
    ++step_;
    last_ = Describe(c);
    absl::StatusOr<uint64_t> got = ApplyToEngine(engine_, c);
    absl::StatusOr<uint64_t> want = ApplyToModel(model_, c);
    Remember(absl::StrCat(last_, " -> ", absl::StatusCodeToString(got.status().code())));
    Tally(c.op, got.status());
    if (got.status().code() != want.status().code()) {
      ADD_FAILURE() << "status differs: engine " << got.status() << "; model " << want.status()
                    << Where();
    } else if (got.ok() && *got != *want) {
      ADD_FAILURE() << "created id: engine " << *got << ", model " << *want << Where();
    }
    EXPECT_EQ(engine_.revision(), model_.revision()) << "revision (L1)" << Where();
  }

  void Remember(std::string line) {
    recent_.push_back(std::move(line));
    if (recent_.size() > 40) recent_.pop_front();
  }

  void ReportRecent() {
    ADD_FAILURE() << "the last changes (oldest first):\n  " << absl::StrJoin(recent_, "\n  ")
                  << Where();
  }

  void CompareCheck(UserId user, WorkspaceId ws, const std::string& permission) {
    const PermissionId id = perms_.at(permission);
    const bool got = engine_.check(user, ws, id);
    const bool want = model_.Check(user, ws, permission);
    if (got == want) return;
    absl::StatusOr<Decision> why = engine_.explain(user, ws, id);
    ADD_FAILURE() << "check(" << user << ", " << ws << ", " << permission << "): engine " << got
                  << " (" << (why.ok() ? why->reason : why.status().ToString()) << "), model "
                  << want << Where();
  }

  void CompareWorkspacesFor(UserId user) {
    EXPECT_EQ(engine_.workspaces_for(user), model_.WorkspacesFor(user))
        << "workspaces_for(" << user << ") (A5)" << Where();
    EXPECT_EQ(engine_.active_workspace(user), model_.ActiveWorkspace(user))
        << "active_workspace(" << user << ") (S1)" << Where();
  }

  // The workspace's attributes and direct members (T3-T5, M3, M4).
  void CompareWorkspace(WorkspaceId id) {
    const reference::WorkspaceState* want = model_.FindWorkspace(id);
    absl::StatusOr<WorkspaceInfo> got = engine_.workspace(id);
    if (want == nullptr) {
      EXPECT_FALSE(got.ok()) << "workspace " << id << " should not exist" << Where();
      return;
    }
    ASSERT_TRUE(got.ok()) << got.status() << Where();
    const auto expected_type = want->agency ? WorkspaceType::kAgency : WorkspaceType::kSimple;
    const auto expected_status =
        want->active ? WorkspaceStatus::kActive : WorkspaceStatus::kInactive;
    EXPECT_TRUE(got->account == want->account && got->name == want->name &&
                got->slug == want->slug && got->type == expected_type &&
                got->status == expected_status && got->parent == want->parent &&
                got->owner == want->owner && got->depth == model_.Depth(id))
        << "workspace " << id << ": engine {" << got->account << ", " << Quote(got->name) << ", "
        << got->slug << ", parent " << got->parent << ", owner " << got->owner << ", depth "
        << got->depth << "}, model {" << want->account << ", " << Quote(want->name) << ", "
        << want->slug << ", parent " << want->parent << ", owner " << want->owner << ", depth "
        << model_.Depth(id) << "}" << Where();
    std::vector<Member> expected;
    for (const auto& [user, role] : want->members) expected.push_back(Member{user, role});
    absl::StatusOr<std::vector<Member>> members = engine_.members(id);
    ASSERT_TRUE(members.ok()) << members.status() << Where();
    EXPECT_TRUE(*members == expected) << "members(" << id << ") differ" << Where();
  }

  void CompareAccount(AccountId id) {
    const reference::AccountState& want = model_.accounts().at(id);
    absl::StatusOr<AccountInfo> got = engine_.account(id);
    ASSERT_TRUE(got.ok()) << got.status() << Where();
    EXPECT_EQ(got->workspace_count, static_cast<int64_t>(want.workspaces.size())) << Where();
    EXPECT_EQ(got->owner, want.owner) << Where();
    EXPECT_EQ(got->plan.name, want.plan_name) << Where();
    for (UserId user = 1; user <= kUsers; ++user) {
      auto it = want.staff.find(user);
      absl::StatusOr<std::pair<std::string, StaffScope>> staff = engine_.staff(id, user);
      if (it == want.staff.end()) {
        EXPECT_FALSE(staff.ok()) << "user " << user << " staff of " << id << Where();
        continue;
      }
      ASSERT_TRUE(staff.ok()) << staff.status() << Where();
      std::vector<WorkspaceId> scope(it->second.scope.begin(), it->second.scope.end());
      EXPECT_TRUE(staff->first == it->second.role && staff->second.all == it->second.all &&
                  (it->second.all || staff->second.workspaces == scope))
          << "staff(" << id << ", " << user << "): engine " << staff->first << " "
          << ScopeText(staff->second) << ", model " << it->second.role << " all=" << it->second.all
          << Where();
    }
  }

  // A random (user, workspace) pair, the user usually related to it.
  std::pair<UserId, WorkspaceId> RandomPair() {
    const WorkspaceId ws = gen_.Workspace(model_);
    return {gen_.RelatedUser(model_, ws), ws};
  }

  // `pairs` random (user, workspace) pairs with `per_pair` permissions each.
  void CompareSample(int pairs, int per_pair, int lists) {
    for (int i = 0; i < pairs; ++i) {
      auto [user, ws] = RandomPair();
      for (int k = 0; k < per_pair; ++k) CompareCheck(user, ws, gen_.Permission());
    }
    for (int i = 0; i < lists; ++i) CompareWorkspacesFor(gen_.User());
    for (int i = 0; i < 2; ++i) {
      const UserId user = gen_.User();
      EXPECT_EQ(engine_.active_workspace(user), model_.ActiveWorkspace(user))
          << "active_workspace(" << user << ") (S1)" << Where();
    }
    CompareWorkspace(gen_.Workspace(model_));
  }

  // Every permission for one random pair; explain agrees with check (A4).
  void CompareAllPermissions() {
    auto [user, ws] = RandomPair();
    for (const std::string& permission : reference::PermissionNames()) {
      CompareCheck(user, ws, permission);
      absl::StatusOr<Decision> why = engine_.explain(user, ws, perms_.at(permission));
      ASSERT_TRUE(why.ok()) << why.status() << Where();
      EXPECT_EQ(why->allowed, model_.Check(user, ws, permission))
          << "explain(" << user << ", " << ws << ", " << permission << "): " << why->reason
          << Where();
    }
  }

  // Every pair for the focus permissions, every list, every entity, and
  // the engine's own invariants.
  void CompareExhaustively() {
    std::vector<WorkspaceId> all_ws = {0, model_.next_workspace()};
    for (const auto& [id, ws] : model_.workspaces()) all_ws.push_back(id);
    std::vector<UserId> users;
    std::vector<WorkspaceId> workspaces;
    std::vector<PermissionId> permissions;
    std::vector<uint8_t> decisions;
    for (UserId user = 0; user <= kUsers + 1; ++user) {
      CompareWorkspacesFor(user);
      for (WorkspaceId ws : all_ws) {
        for (const char* permission : kExhaustive) {
          CompareCheck(user, ws, permission);
          users.push_back(user);
          workspaces.push_back(ws);
          permissions.push_back(perms_.at(permission));
          decisions.push_back(model_.Check(user, ws, permission) ? 1 : 0);
        }
      }
    }
    // A6: one batch of the same questions gives the same answers.
    std::vector<uint8_t> answers(users.size(), 2);
    EXPECT_TRUE(engine_.check_many(users, workspaces, permissions, absl::MakeSpan(answers)).ok());
    EXPECT_TRUE(answers == decisions) << "check_many (A6)" << Where();
    for (const char* permission : {"workspace.switch", "runs.trigger"}) {
      const PermissionId id = perms_.at(permission);
      for (WorkspaceId ws : all_ws) {
        std::vector<UserId> expected;
        for (UserId user = 1; user <= kUsers; ++user) {
          if (model_.Check(user, ws, permission)) expected.push_back(user);
        }
        EXPECT_EQ(engine_.who_can(ws, id), expected)
            << "who_can(" << ws << ", " << permission << ") (A5)" << Where();
      }
      for (UserId user = 1; user <= kUsers; ++user) {
        std::vector<WorkspaceId> expected;
        for (const auto& [ws, state] : model_.workspaces()) {
          if (model_.Check(user, ws, permission)) expected.push_back(ws);
        }
        EXPECT_EQ(engine_.accessible(user, id), expected)
            << "accessible(" << user << ", " << permission << ") (A5)" << Where();
      }
    }
    for (WorkspaceId ws : all_ws) CompareWorkspace(ws);
    for (const auto& [id, account] : model_.accounts()) CompareAccount(id);
    EXPECT_EQ(engine_.stats().workspaces, model_.workspaces().size()) << Where();
    const absl::Status verified = engine_.verify();
    EXPECT_TRUE(verified.ok()) << verified << Where();
  }

  void PrintTally() const {
    int depth = 0;
    for (const auto& [id, ws] : model_.workspaces()) depth = std::max(depth, model_.Depth(id));
    std::cout << "[ differential ] TENANTRY_SEED=" << seed_ << ", " << step_ << " changes, "
              << model_.workspaces().size() << " workspaces, depth up to " << depth
              << "; outcomes per change:\n";
    for (const auto& [op, codes] : tally_) {
      std::vector<std::string> parts;
      for (const auto& [outcome, count] : codes) parts.push_back(absl::StrCat(outcome, "=", count));
      std::cout << "    " << op << ": " << absl::StrJoin(parts, " ") << "\n";
    }
  }

  void CountBatch(int steps) { step_ += steps; }
  void SetLast(std::string last) { last_ = std::move(last); }
  // Counts outcomes by change, code and the rule the engine's message names,
  // to show which refusals a run exercised.
  void Tally(Op op, const absl::Status& status) {
    std::string outcome(absl::StatusCodeToString(status.code()));
    const absl::string_view message = status.message();
    const size_t open = message.rfind('(');
    if (!status.ok() && open != absl::string_view::npos) {
      absl::StrAppend(&outcome, message.substr(open));
    }
    ++tally_[OpName(op)][outcome];
  }

 private:
  uint64_t seed_;
  Engine engine_;
  Model model_;
  Generator gen_;
  std::map<std::string, PermissionId> perms_;
  int step_ = 0;
  std::string last_ = "setup";
  std::deque<std::string> recent_;
  std::map<std::string, std::map<std::string, int>> tally_;
};

TEST(Differential, A1_A5_RandomChangesAgreeWithReferenceModel) {
  const uint64_t seed = EnvNumber("TENANTRY_SEED", kDefaultSeed);
  const auto steps = static_cast<int>(EnvNumber("TENANTRY_STEPS", 100000));
  SCOPED_TRACE(absl::StrCat("TENANTRY_SEED=", seed));
  Harness h(seed, seed);
  ASSERT_NO_FATAL_FAILURE(h.Setup());
  ASSERT_NO_FATAL_FAILURE(h.BuildDeepChain());
  while (h.step() < steps) {
    h.Step(h.gen().Next(h.model()));
    // workspaces_for costs a check per workspace: one user every other step
    // keeps a Debug run near 30 s.
    h.CompareSample(/*pairs=*/5, /*per_pair=*/4, /*lists=*/h.step() % 2);
    if (h.step() % 100 == 0) h.CompareAllPermissions();
    if (h.step() % 1000 == 0) h.CompareExhaustively();
    if (::testing::Test::HasFailure()) {
      h.ReportRecent();
      return;
    }
  }
  h.CompareExhaustively();
  h.PrintTally();
}

// X2: a batch applies every change in one version, or none. Batches are
// built to succeed or to fail at a chosen index (the changes after it are
// never reached); later changes may use workspaces made earlier in the batch.
TEST(Differential, X2_BatchesAreAllOrNothing) {
  const uint64_t seed = EnvNumber("TENANTRY_SEED", kDefaultSeed);
  SCOPED_TRACE(absl::StrCat("TENANTRY_SEED=", seed));
  Harness h(seed, seed ^ 0x9E3779B97F4A7C15ull);  // other changes than the test above
  ASSERT_NO_FATAL_FAILURE(h.Setup());
  ASSERT_NO_FATAL_FAILURE(h.BuildDeepChain());
  Generator& gen = h.gen();
  int batches = 0, failed = 0;
  while (h.step() < 20000) {
    const auto size = static_cast<size_t>(1 + gen.Below(gen.Chance(20) ? 40 : 12));
    const int fail_at = gen.Chance(45) ? static_cast<int>(gen.Below(size)) : -1;
    std::vector<Change> changes;
    Model scratch = h.model();
    scratch.BeginBatch();
    while (changes.size() < size) {
      // Up to 30 tries to draw a change that succeeds (or fails, at
      // fail_at). A refused change leaves the model as it was.
      const bool want_ok = static_cast<int>(changes.size()) != fail_at;
      Change c = gen.Next(scratch);
      for (int tries = 0; tries < 30; ++tries) {
        if (want_ok && ApplyToModel(scratch, c).ok()) break;
        if (!want_ok) {
          Model trial = scratch;
          if (!ApplyToModel(trial, c).ok()) break;
        }
        c = gen.Next(scratch);
      }
      changes.push_back(c);
    }
    // What the batch should do, replayed on a copy of the committed model.
    Model expected = h.model();
    expected.BeginBatch();
    int failing = -1;
    absl::Status failure;
    std::vector<uint64_t> ids;
    Batch batch;
    std::vector<std::string> described;
    for (size_t i = 0; i < changes.size(); ++i) {
      AddToBatch(batch, changes[i]);
      described.push_back(absl::StrCat("#", i, " ", Describe(changes[i])));
      if (failing >= 0) continue;
      absl::StatusOr<uint64_t> result = ApplyToModel(expected, changes[i]);
      h.Tally(changes[i].op, result.status());
      if (result.ok()) {
        ids.push_back(*result);
      } else {
        failing = static_cast<int>(i);
        failure = result.status();
      }
    }
    h.CountBatch(static_cast<int>(changes.size()));
    h.SetLast(absl::StrCat("batch ", batches, ":\n    ", absl::StrJoin(described, "\n    ")));
    const uint64_t revision_before = h.engine().revision();
    absl::StatusOr<std::vector<uint64_t>> got = h.engine().apply(batch);
    ++batches;
    if (failing >= 0) {
      ++failed;
      EXPECT_EQ(got.status().code(), failure.code())
          << "engine " << got.status() << "; model: change #" << failing << " " << failure
          << h.Where();
      if (!got.ok()) {
        EXPECT_TRUE(
            absl::StartsWith(got.status().message(), absl::StrCat("change #", failing, " (")))
            << got.status() << h.Where();
      }
      EXPECT_EQ(h.engine().revision(), revision_before)
          << "a failed batch moved the revision" << h.Where();
      absl::StatusOr<std::vector<AuditRecord>> feed = h.engine().changes_since(revision_before);
      EXPECT_TRUE(feed.ok() && feed->empty())
          << "a failed batch left audit records (L1)" << h.Where();
      // Nothing changed: every entity still matches the committed model.
      for (const auto& [id, ws] : h.model().workspaces()) h.CompareWorkspace(id);
      h.CompareWorkspace(h.model().next_workspace());
    } else {
      expected.EndBatch();
      EXPECT_TRUE(got.ok()) << got.status() << h.Where();
      if (got.ok()) {
        EXPECT_EQ(got->size(), changes.size()) << h.Where();
        std::vector<uint64_t> nonzero;
        for (uint64_t id : *got) {
          if (id != 0) nonzero.push_back(id);
        }
        std::vector<uint64_t> expected_ids;
        for (uint64_t id : ids) {
          if (id != 0) expected_ids.push_back(id);
        }
        EXPECT_EQ(nonzero, expected_ids) << "created ids" << h.Where();
      }
      h.model() = std::move(expected);
      EXPECT_EQ(h.engine().revision(), h.model().revision()) << "revision (L1)" << h.Where();
      // L1: one record per change, revisions consecutive.
      absl::StatusOr<std::vector<AuditRecord>> feed = h.engine().changes_since(revision_before);
      ASSERT_TRUE(feed.ok()) << feed.status() << h.Where();
      ASSERT_EQ(feed->size(), changes.size()) << h.Where();
      for (size_t i = 0; i < feed->size(); ++i) {
        EXPECT_EQ((*feed)[i].revision, revision_before + 1 + i) << h.Where();
      }
    }
    h.CompareSample(/*pairs=*/10, /*per_pair=*/4, /*lists=*/4);
    if (batches % 100 == 0) h.CompareExhaustively();
    if (::testing::Test::HasFailure()) return;
  }
  h.CompareExhaustively();
  std::cout << "[ differential ] " << batches << " batches, " << failed << " failed, " << h.step()
            << " changes\n";
}

}  // namespace
}  // namespace tenantry
