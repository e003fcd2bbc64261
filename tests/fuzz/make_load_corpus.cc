// Copyright 2026 The tenantry Authors.
//
// make_load_corpus: writes the seed corpus of load_fuzzer (tests/fuzz/
// corpus/load/), one snapshot per engine below, each saved by SaveSnapshot:
//   empty.tny              a new engine, no change made;
//   seed_scenario.tny      the seed scenario (scripts/demo): an agency with
//                          client workspaces, staff (scope all and specific),
//                          members, a client, a custom role, a team, accepted
//                          and pending invitations, credits granted,
//                          transferred and consumed, a keyed consume, a live
//                          reservation and a settled one, a session;
//   deleted_workspace.tny  the same after a client workspace is deleted (its
//                          credits back to the pool, T7) and an invitation
//                          revoked;
//   meters_settings.tny    custom meters and permissions, a chain of custom
//                          roles, settings, an inactive workspace, an
//                          account without a plan, an expired invitation,
//                          a revoke and a released reservation;
//   short_retention.tny    a feed and a ledger that have dropped old entries.
// Every engine is built on ManualClock's default start (load_fuzzer loads
// an hour later) with small key and reservation tables, so the files stay
// small and fast to load. Files hold fresh random keys, so regenerating
// changes their bytes, not their shape.
//
// Then the p2-*.tny files: one of the seeds with one field edited and the
// content signed again (snapshot_edit.h), holding what the loader once
// accepted although the engine never would (P2: a string that is not
// valid, trimmed, normalized text; a role, a result or a hold out of its
// range). Each must be refused, but p2-loads-* must load, verify and read.
//
// Usage: make_load_corpus <directory>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "snapshot_edit.h"
#include "tenantry/engine.h"
#include "tenantry/snapshot.h"

namespace tenantry::fuzz {
namespace {

void Must(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "make_load_corpus: %s failed: %s\n", what, status.ToString().c_str());
    std::exit(1);
  }
}

template <class T>
T Must(absl::StatusOr<T> value, const char* what) {
  Must(value.status(), what);
  return *std::move(value);
}

// An engine as the corpus wants it: a manual clock and small tables.
struct Seed {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::unique_ptr<Engine> engine;

  explicit Seed(Engine::Options options = {}) {
    options.clock = clock;
    options.idempotency_slots = 64;
    options.reservation_slots = 64;
    engine = std::make_unique<Engine>(std::move(options));
  }
};

// The ids of the seed scenario.
struct Scenario {
  UserId owner = 0, admin = 0, staff_all = 0, staff_one = 0, client = 0, dana = 0, erin = 0;
  AccountId account = 0;
  WorkspaceId agency = 0, acme = 0, globex = 0;
  TeamId team = 0;
  InvitationId pending = 0;
};

// scripts/demo's agency, with its people, roles, invitations and credits.
Scenario BuildScenario(Engine& e) {
  Scenario s;
  s.owner = Must(e.create_user("olivia@northwind.agency"), "create_user");
  s.admin = Must(e.create_user("adam@northwind.agency"), "create_user");
  s.staff_all = Must(e.create_user("sam@northwind.agency"), "create_user");
  s.staff_one = Must(e.create_user("sofia@northwind.agency"), "create_user");
  s.client = Must(e.create_user("carla@acme.example"), "create_user");
  AccountSpec spec;
  spec.name = "Northwind Agency";
  spec.owner = s.owner;
  spec.plan = Plan::Named("enterprise");
  spec.key = "northwind";
  s.account = Must(e.create_account(spec), "create_account");
  Must(e.add_staff(s.owner, s.account, s.admin, "admin"), "add_staff admin");
  s.agency = Must(e.create_workspace(s.owner, s.account,
                                     {"Northwind HQ", std::nullopt, WorkspaceType::kAgency, 0, 0}),
                  "create agency");
  s.acme =
      Must(e.create_workspace(s.admin, s.account,
                              {"Acme Inc.", std::nullopt, WorkspaceType::kSimple, s.agency, 0}),
           "create acme");
  s.globex = Must(e.create_workspace(s.admin, s.account,
                                     {"Globex", "globex", WorkspaceType::kSimple, s.agency, 0}),
                  "create globex");
  Must(e.add_staff(s.admin, s.account, s.staff_all, "member", StaffScope::All()), "staff all");
  Must(e.add_staff(s.admin, s.account, s.staff_one, "member", StaffScope::Of({s.acme})),
       "staff specific");
  Must(e.add_member(s.admin, s.acme, s.client, "client"), "add client");
  Must(e.switch_workspace(s.client, s.acme), "switch_workspace");

  s.dana = Must(e.create_user("dana@acme.example"), "create_user");
  Invitation accepted = Must(e.invite(s.admin, s.acme, "Dana@Acme.example"), "invite");
  Must(e.accept(accepted.token, s.dana), "accept");
  s.erin = Must(e.create_user("erin@globex.example"), "create_user");
  s.pending = Must(e.invite(s.admin, s.globex, "frank@globex.example", "viewer"), "invite").id;
  Must(e.invite_staff(s.owner, s.account, "grace@northwind.agency", "member",
                      StaffScope::Of({s.agency}))
           .status(),
       "invite_staff");

  Must(e.define_role(s.owner, s.account, "campaign-lead", {"campaigns.run", "campaigns.edit"},
                     "viewer"),
       "define_role");
  s.team = Must(e.create_team(s.admin, s.globex, "Campaign team", "campaign-lead"), "create_team");
  Must(e.add_team_member(s.admin, s.team, s.erin), "add_team_member");

  Must(e.grant(kSystem, s.account, 1000), "grant regular");
  Must(e.grant(kSystem, s.account, 200, kCredits, "extra"), "grant extra");
  Must(e.transfer(s.admin, s.account, s.acme, 1100).status(), "transfer");
  Must(e.transfer(s.admin, s.account, s.globex, 60).status(), "transfer");
  Must(e.consume(s.acme, 30).status(), "consume");
  Must(e.consume(s.acme, 25, kCredits, "run-42").status(), "keyed consume");
  ReservationId settled = Must(e.reserve(s.acme, 100), "reserve");
  Must(e.commit(settled, 60), "commit");
  Must(e.reserve(s.acme, 40).status(), "reserve (left live)");
  Must(e.reserve(s.globex, 10, kCredits, 120).status(), "reserve (short ttl, left live)");
  return s;
}

Seed Empty() { return Seed(); }

Seed SeedScenario() {
  Seed seed;
  BuildScenario(*seed.engine);
  return seed;
}

Seed DeletedWorkspace() {
  Seed seed;
  Engine& e = *seed.engine;
  const Scenario s = BuildScenario(e);
  Must(e.revoke_invitation(s.admin, s.pending), "revoke_invitation");
  Must(e.consume(s.globex, 15).status(), "consume");
  Must(e.delete_workspace(s.owner, s.globex, "Globex"), "delete_workspace");
  return seed;
}

// The ids of the meters-and-settings engine.
struct Meters {
  UserId owner = 0, other = 0;
  AccountId account = 0, second = 0;
  WorkspaceId top = 0, leaf = 0, lone = 0;
};

// Its graph: a three-level agency tree, staff with scope none, a chain of
// custom roles, settings, an inactive workspace, invitations (one expired),
// and a second account whose plan is set after it was made without one.
Meters BuildMetersGraph(Engine& e, ManualClock& clock) {
  Meters m;
  m.owner = Must(e.create_user("owner@meters.test"), "create_user");
  const UserId member = Must(e.create_user("member@meters.test"), "create_user");
  m.other = Must(e.create_user("other@meters.test"), "create_user");
  const UserId analyst = Must(e.create_user("analyst@meters.test"), "create_user");
  Must(e.register_permission("reports.export").status(), "register_permission");
  AccountSpec spec;
  spec.name = "Meters Inc";
  spec.owner = m.owner;
  spec.plan = Plan::Custom("custom-agency", 6, true);
  spec.member_default_scope = "none";
  spec.staff_member_role = "viewer";
  m.account = Must(e.create_account(spec), "create_account");
  m.top = Must(
      e.create_workspace(m.owner, m.account, {"Top", std::nullopt, WorkspaceType::kAgency, 0, 0}),
      "create top");
  const WorkspaceId middle =
      Must(e.create_workspace(m.owner, m.account,
                              {"Middle", std::nullopt, WorkspaceType::kAgency, m.top, 0}),
           "create middle");
  m.leaf = Must(
      e.create_workspace(m.owner, m.account, {"Leaf", "leaf-1", WorkspaceType::kSimple, middle, 0}),
      "create leaf");
  Must(e.add_staff(m.owner, m.account, member, "member"), "add_staff");
  Must(e.add_member(m.owner, m.leaf, m.other, "member"), "add_member");
  Must(e.transfer_ownership(m.owner, m.leaf, m.other), "transfer_ownership");
  Must(e.rename_workspace(m.owner, middle, "Middle (renamed)"), "rename_workspace");
  Must(e.set_setting(m.owner, m.leaf, "approval_timeout_s", int64_t{3600}), "set_setting");
  Must(e.set_setting(m.owner, m.leaf, "inactivity_timeout_s", int64_t{900}), "set_setting");
  Must(e.set_setting(m.owner, middle, "beta_opt_in", false), "set_setting");
  Must(e.set_status(m.owner, middle, WorkspaceStatus::kInactive), "set_status");
  Must(e.define_role(m.owner, m.account, "reporter", {"reports.export"}, "viewer"), "define_role");
  Must(e.define_role(m.owner, m.account, "lead-reporter", {"campaigns.run"}, "reporter"),
       "define_role inheriting a custom role");
  Must(e.add_member(kSystem, m.top, analyst, "lead-reporter"), "add_member with a custom role");
  Must(e.set_role(kSystem, m.top, analyst, "reporter"), "set_role");
  Must(e.invite(m.owner, m.top, "late@meters.test").status(), "invite (to expire)");
  clock.advance_s(120);
  Must(e.invite(kSystem, m.top, "fresh@meters.test", "lead-reporter").status(), "invite");
  AccountSpec bare;
  bare.name = "No Plan";
  bare.owner = m.other;
  bare.plan = std::nullopt;
  m.second = Must(e.create_account(bare), "create_account without a plan");
  m.lone = Must(
      e.create_workspace(m.other, m.second, {"Lone", std::nullopt, WorkspaceType::kSimple, 0, 0}),
      "create lone");
  Must(e.set_plan(kSystem, m.second, Plan::Named("growth")), "set_plan");
  return m;
}

// Its credits: custom meters of one and two buckets, minutes, a revoke, a
// consume across buckets, a keyed consume, a released reservation.
void MoveMeters(Engine& e, const Meters& m) {
  Must(e.define_meter("sms", {"included"}).status(), "define_meter sms");
  Must(e.define_meter("tokens", {"monthly", "topup"}).status(), "define_meter tokens");
  Must(e.grant(kSystem, m.account, 500, "sms", "included"), "grant sms");
  Must(e.grant(kSystem, m.account, 70, "tokens", "monthly"), "grant tokens");
  Must(e.grant(kSystem, m.account, 30, "tokens", "topup"), "grant tokens");
  Must(e.grant(kSystem, m.account, 90, kMinutes), "grant minutes");
  Must(e.grant(kSystem, m.second, 40), "grant credits");
  Must(e.transfer(m.owner, m.account, m.leaf, 80, "tokens").status(), "transfer tokens");
  Must(e.transfer(m.owner, m.account, m.top, 200, "sms").status(), "transfer sms");
  Must(e.transfer(m.other, m.second, m.lone, 40).status(), "transfer credits");
  Must(e.revoke(m.owner, m.top, 50, "sms", "included"), "revoke");
  Must(e.consume(m.leaf, 75, "tokens").status(), "consume across buckets");
  Must(e.consume(m.lone, 3, kCredits, "once").status(), "keyed consume");
  const ReservationId released = Must(e.reserve(m.top, 20, "sms"), "reserve");
  Must(e.release(released), "release");
  Must(e.switch_workspace(m.other, m.leaf), "switch_workspace");
}

Seed MetersSettings() {
  Engine::Options options;
  options.invitation_ttl_s = 60;
  Seed seed(options);
  MoveMeters(*seed.engine, BuildMetersGraph(*seed.engine, *seed.clock));
  return seed;
}

Seed ShortRetention() {
  Engine::Options options;
  options.feed_retention = 4;
  options.ledger_retention = 3;
  Seed seed(options);
  Engine& e = *seed.engine;
  const UserId owner = Must(e.create_user("owner@short.test"), "create_user");
  AccountSpec spec;
  spec.name = "Short";
  spec.owner = owner;
  spec.plan = Plan::Named("growth");
  const AccountId account = Must(e.create_account(spec), "create_account");
  const WorkspaceId ws = Must(
      e.create_workspace(owner, account, {"Short", std::nullopt, WorkspaceType::kSimple, 0, 0}),
      "create_workspace");
  for (int i = 0; i < 4; ++i) {
    Must(e.grant(kSystem, account, 10), "grant");
    Must(e.transfer(owner, account, ws, 5).status(), "transfer");
    seed.clock->advance_s(1);
  }
  Must(e.consume(ws, 7).status(), "consume");
  return seed;
}

struct File {
  const char* name;
  Seed (*build)();
};

constexpr File kFiles[] = {
    {"empty.tny", Empty},
    {"seed_scenario.tny", SeedScenario},
    {"deleted_workspace.tny", DeletedWorkspace},
    {"meters_settings.tny", MetersSettings},
    {"short_retention.tny", ShortRetention},
};

// ---- p2-*.tny: a seed with one field edited, signed again ----

struct Edit {
  const char* name;
  const char* seed;   // one of kFiles
  const char* table;  // a table of the schema
  const char* field;  // one of its fields
  int instance;       // which of its tables, in snapshot_edit.h's order
  std::variant<int64_t, std::string> value;
};

const Edit kEdits[] = {
    {"p2-workspace-name-invalid-utf8.tny", "seed_scenario.tny", "Workspace", "name", 0,
     std::string("Northwind \xff\xfe")},
    {"p2-user-key-upper-case.tny", "seed_scenario.tny", "User", "key", 0,
     std::string("Olivia@Northwind.Agency")},
    {"p2-audit-text-escape-sequence.tny", "seed_scenario.tny", "Change", "what", 0,
     std::string("create_user \x1b[2J")},
    {"p2-team-role-owner.tny", "seed_scenario.tny", "Team", "role", 0, int64_t{1}},
    {"p2-staff-member-role-client.tny", "seed_scenario.tny", "Account", "staff_member_role", 0,
     int64_t{6}},
    {"p2-key-result-int64-min.tny", "seed_scenario.tny", "IdempotencyKey", "result", 0, INT64_MIN},
    {"p2-reservation-hold-overflow.tny", "seed_scenario.tny", "Reservation", "held_extra", 0,
     INT64_MAX},
    // The session of `other` in Leaf, whose inactivity_timeout_s is 900: the
    // loaded engine's active_workspace() must not overflow (S1).
    {"p2-loads-session-seen-int64-min.tny", "meters_settings.tny", "User", "session_seen_ns", 2,
     INT64_MIN},
};

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The edited file, or exits naming what the seed lacks.
std::vector<uint8_t> Edited(const std::vector<uint8_t>& file, const Edit& e) {
  std::vector<uint8_t> content = edit::Dense(fbs::GetFile(file.data())->content()->data());
  const reflection::Object* object = edit::FindObject(e.table);
  const reflection::Field* field =
      object == nullptr ? nullptr : object->fields()->LookupByKey(e.field);
  const std::vector<size_t> tables = object == nullptr
                                         ? std::vector<size_t>{}
                                         : edit::TablesOf(content, edit::SnapshotObject(), *object);
  if (field == nullptr || static_cast<size_t>(e.instance) >= tables.size()) {
    std::fprintf(stderr, "make_load_corpus: %s: no %s.%s #%d in %s\n", e.name, e.table, e.field,
                 e.instance, e.seed);
    std::exit(1);
  }
  auto* table = reinterpret_cast<flatbuffers::Table*>(content.data() + tables[e.instance]);
  if (const auto* text = std::get_if<std::string>(&e.value)) {
    const flatbuffers::String* s = flatbuffers::GetFieldS(*table, *field);
    edit::SetStringAt(
        &content, static_cast<size_t>(reinterpret_cast<const uint8_t*>(s) - content.data()), *text);
  } else {
    flatbuffers::SetAnyFieldI(table, *field, std::get<int64_t>(e.value));
  }
  return edit::Seal(content);
}

void WriteEdits(const std::string& directory) {
  for (const Edit& e : kEdits) {
    const std::vector<uint8_t> bytes = Edited(ReadFile(directory + "/" + e.seed), e);
    const std::string path = directory + "/" + e.name;
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    }
    // An edit the loader takes (or one it refuses, for p2-loads-*) proves nothing.
    absl::StatusOr<std::unique_ptr<Engine>> loaded = LoadSnapshot(path);
    const bool loads = std::string(e.name).rfind("p2-loads-", 0) == 0;
    if (loaded.ok() != loads || (!loads && loaded.status().code() != absl::StatusCode::kDataLoss)) {
      std::fprintf(stderr, "make_load_corpus: %s: %s\n", e.name,
                   loaded.ok() ? "loads" : loaded.status().ToString().c_str());
      std::exit(1);
    }
    std::printf("%s\n", path.c_str());
  }
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_load_corpus <directory>\n");
    return 2;
  }
  const std::string directory = argv[1];
  for (const File& file : kFiles) {
    Seed seed = file.build();
    Must(seed.engine->verify(), file.name);
    const std::string path = directory + "/" + file.name;
    Must(SaveSnapshot(*seed.engine, path), path.c_str());
    // A seed the loader refuses would teach the fuzzer nothing.
    Must(LoadSnapshot(path).status(), path.c_str());
    std::printf("%s\n", path.c_str());
  }
  WriteEdits(directory);
  return 0;
}

}  // namespace
}  // namespace tenantry::fuzz

int main(int argc, char** argv) { return tenantry::fuzz::Main(argc, argv); }
