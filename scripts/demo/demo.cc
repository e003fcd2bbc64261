// Copyright 2026 The tenantry Authors.
//
// The seed scenario: an agency account with client
// workspaces, staff with scope `all` and with specific workspaces, a client,
// checks with their explanations, credits moving from the account's pool to
// client workspaces and being consumed, and the measured check and consume
// latency.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tenantry/engine.h"
#include "tenantry/status.h"

namespace {

using tenantry::Engine;
using tenantry::kSystem;

// A status as a reader wants it: "OK", or its code and message. (Its
// ToString() also prints the payload: the rule ids as data, RulesOf.)
std::string Text(const absl::Status& status) {
  if (status.ok()) return "OK";
  return std::string(tenantry::StatusCodeName(status.code())) + ": " +
         std::string(status.message());
}

template <class T>
T Must(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "demo: %s failed: %s\n", what, Text(value.status()).c_str());
    std::exit(1);
  }
  return *std::move(value);
}

void Must(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "demo: %s failed: %s\n", what, Text(status).c_str());
    std::exit(1);
  }
}

void Show(const Engine& engine, const char* who, tenantry::UserId user, const char* where,
          tenantry::WorkspaceId workspace, const char* permission) {
  tenantry::PermissionId p = Must(engine.permission(permission), "permission");
  tenantry::Decision d = Must(engine.explain(user, workspace, p), "explain");
  std::printf("  %-5s %-8s %-22s in %-14s  %s\n", d.allowed ? "ALLOW" : "deny", who, permission,
              where, d.reason.c_str());
}

}  // namespace

int main() {
  // A manual clock so that the demo can show an invitation expiring.
  auto clock = std::make_shared<tenantry::ManualClock>();
  Engine engine(Engine::Options{clock});
  std::printf("tenantry demo: the agency scenario from the help-centre seeds\n\n");

  // People.
  auto owner = Must(engine.create_user("olivia@northwind.agency"), "create_user");
  auto admin = Must(engine.create_user("adam@northwind.agency"), "create_user");
  auto staff_all = Must(engine.create_user("sam@northwind.agency"), "create_user");
  auto staff_one = Must(engine.create_user("sofia@northwind.agency"), "create_user");
  auto client = Must(engine.create_user("carla@acme.example"), "create_user");

  // The agency account on an enterprise plan (agency mode), its staff.
  tenantry::AccountSpec spec;
  spec.name = "Northwind Agency";
  spec.owner = owner;
  spec.plan = tenantry::Plan::Named("enterprise");
  auto account = Must(engine.create_account(spec), "create_account");
  Must(engine.add_staff(owner, account, admin, "admin"), "add_staff admin");

  // The agency workspace and two client sub-workspaces.
  auto agency = Must(
      engine.create_workspace(
          owner, account, {"Northwind HQ", std::nullopt, tenantry::WorkspaceType::kAgency, 0, 0}),
      "create agency");
  auto acme = Must(
      engine.create_workspace(
          admin, account, {"Acme Inc.", std::nullopt, tenantry::WorkspaceType::kSimple, agency, 0}),
      "create acme");
  auto globex = Must(
      engine.create_workspace(
          admin, account, {"Globex", std::nullopt, tenantry::WorkspaceType::kSimple, agency, 0}),
      "create globex");
  Must(engine.add_staff(admin, account, staff_all, "member", tenantry::StaffScope::All()),
       "add_staff all");
  Must(engine.add_staff(admin, account, staff_one, "member", tenantry::StaffScope::Of({acme})),
       "add_staff specific");
  Must(engine.add_member(admin, acme, client, "client"), "add client");

  auto info = Must(engine.workspace(acme), "workspace");
  std::printf(
      "account %llu 'Northwind Agency' (enterprise): agency %llu, clients %llu "
      "('%s', slug '%s') and %llu\n\n",
      (unsigned long long)account, (unsigned long long)agency, (unsigned long long)acme,
      info.name.c_str(), info.slug.c_str(), (unsigned long long)globex);

  std::printf("decisions (explain):\n");
  Show(engine, "owner", owner, "Globex", globex, "billing.manage");
  Show(engine, "sam", staff_all, "Globex", globex, "contacts.edit");
  Show(engine, "sofia", staff_one, "Acme", acme, "campaigns.create");
  Show(engine, "sofia", staff_one, "Globex", globex, "workspace.view");
  Show(engine, "carla", client, "Acme", acme, "runs.trigger");
  Show(engine, "carla", client, "Acme", acme, "contacts.view");
  Show(engine, "carla", client, "Globex", globex, "workspace.view");

  // The client may not become staff (M5); the error names the rule.
  absl::Status refused = engine.add_staff(owner, account, client, "member");
  std::printf("\nadd carla as staff -> %s\n", Text(refused).c_str());

  // Workspace selector (A5) and switching (S1).
  std::printf("workspaces_for(sofia):");
  for (auto id : engine.workspaces_for(staff_one)) {
    std::printf(" %s", Must(engine.workspace(id), "workspace").name.c_str());
  }
  Must(engine.switch_workspace(client, acme), "switch");
  std::printf("\ncarla switched into Acme; active workspace %llu\n",
              (unsigned long long)engine.active_workspace(client).value_or(0));

  // Invitations (I1-I4): accepted by the invitee; an expired one refused.
  auto dana = Must(engine.create_user("dana@acme.example"), "create_user");
  auto invitation = Must(engine.invite(admin, acme, "Dana@Acme.example"), "invite");
  std::printf(
      "\ninvited dana to Acme as client: token %.12s... (%zu chars, only its keyed hash "
      "is kept)\n",
      invitation.token.c_str(), invitation.token.size());
  Must(engine.accept(invitation.token, dana), "accept");
  std::printf(
      "dana accepted: runs.view in Acme -> %s\n",
      engine.check(dana, acme, Must(engine.permission("runs.view"), "p")) ? "ALLOW" : "deny");
  auto erin = Must(engine.create_user("erin@globex.example"), "create_user");
  auto late = Must(engine.invite(admin, globex, "erin@globex.example"), "invite");
  clock->advance_s(8 * 24 * 3600);  // eight days later
  std::printf("erin accepts 8 days later -> %s\n", Text(engine.accept(late.token, erin)).c_str());

  // A custom role (M6) and a team holding it (M9).
  Must(engine.define_role(owner, account, "campaign-lead", {"campaigns.run", "campaigns.edit"},
                          "viewer"),
       "define_role");
  auto team =
      Must(engine.create_team(admin, globex, "Campaign team", "campaign-lead"), "create_team");
  Must(engine.add_team_member(admin, team, erin), "add_team_member");
  Show(engine, "erin", erin, "Globex", globex, "campaigns.edit");
  Must(engine.define_role(owner, account, "campaign-lead", {"campaigns.run"}, "viewer"),
       "redefine role");
  Show(engine, "erin", erin, "Globex", globex, "campaigns.edit");

  // Credits (C2-C7): billing grants to the account's pool; the agency moves
  // credits to its clients, regular first; clients' runs consume them.
  Must(engine.grant(kSystem, account, 1000), "grant regular");
  Must(engine.grant(kSystem, account, 200, tenantry::kCredits, "extra"), "grant extra");
  auto taken = Must(engine.transfer(admin, account, acme, 1100), "transfer");
  std::printf(
      "\ncredits: billing granted 1000 regular + 200 extra; transfer of 1100 to Acme took "
      "%lld regular + %lld extra\n",
      (long long)taken[0], (long long)taken[1]);
  Must(engine.transfer(admin, account, globex, 60), "transfer");
  auto left = Must(engine.consume(acme, 30), "consume");
  auto first = Must(engine.consume(acme, 25, tenantry::kCredits, "run-42"), "consume");
  auto retry = Must(engine.consume(acme, 25, tenantry::kCredits, "run-42"), "consume");
  std::printf("Acme consumes 30 -> %lld left; 25 with key run-42 -> %lld, its retry -> %lld\n",
              (long long)left, (long long)first, (long long)retry);
  auto hold = Must(engine.reserve(acme, 100), "reserve");
  auto during = Must(engine.balance(acme), "balance");
  Must(engine.commit(hold, 60), "commit");
  auto after = Must(engine.balance(acme), "balance");
  std::printf(
      "a call reserves 100 (held %lld, available %lld), commits 60 -> regular %lld, extra %lld, "
      "consumed %lld\n",
      (long long)during.held, (long long)during.available(), (long long)after.buckets[0],
      (long long)after.buckets[1], (long long)after.consumed);
  std::printf("consume 5000 in Acme -> %s\n", Text(engine.consume(acme, 5000).status()).c_str());
  tenantry::PermissionId trigger = Must(engine.permission("runs.trigger"), "permission");
  tenantry::PermissionId edit = Must(engine.permission("contacts.edit"), "permission");
  std::printf(
      "authorize_and_consume carla runs.trigger 5 -> %s; contacts.edit 5 -> %s\n",
      Must(engine.authorize_and_consume(client, acme, trigger, 5), "a&c") ? "true" : "false",
      Must(engine.authorize_and_consume(client, acme, edit, 5), "a&c") ? "true" : "false");

  // Deletion (T7): the exact name confirms; everything scoped to it goes.
  absl::Status wrong = engine.delete_workspace(owner, globex, "globex");
  std::printf("\ndelete Globex confirming 'globex' -> %s\n", Text(wrong).c_str());
  Must(engine.delete_workspace(owner, globex, "Globex"), "delete_workspace");
  std::printf("delete Globex confirming 'Globex' -> OK; erin's team went with it: %s\n",
              engine.check(erin, globex, Must(engine.permission("campaigns.run"), "p"))
                  ? "still allowed (bug)"
                  : "campaigns.run denied");
  auto pool = Must(engine.account_balance(account), "account_balance");
  std::printf("Globex's 60 credits went back to the pool: regular %lld, extra %lld\n",
              (long long)pool.buckets[0], (long long)pool.buckets[1]);
  std::printf("ledger (C7):\n");
  for (const tenantry::LedgerEntry& e : Must(engine.ledger(), "ledger")) {
    std::printf("  #%llu rev %-3llu %-16s workspace %-3llu regular %5lld extra %4lld",
                (unsigned long long)e.sequence, (unsigned long long)e.revision,
                std::string(tenantry::LedgerKindName(e.kind)).c_str(),
                (unsigned long long)e.workspace, (long long)e.amounts[0], (long long)e.amounts[1]);
    if (e.kind == tenantry::LedgerKind::kCommit) {
      std::printf("  (returned %lld)", (long long)(e.returned[0] + e.returned[1]));
    }
    std::printf("\n");
  }

  // Measured check latency: median of batches, warm.
  tenantry::PermissionId view = Must(engine.permission("contacts.view"), "permission");
  constexpr int kBatch = 10000;
  constexpr int kRounds = 201;
  std::vector<double> per_check_ns;
  int allowed = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kBatch; ++i) allowed += engine.check(staff_all, acme, view) ? 1 : 0;
    auto elapsed = std::chrono::steady_clock::now() - start;
    per_check_ns.push_back(std::chrono::duration<double, std::nano>(elapsed).count() / kBatch);
  }
  std::nth_element(per_check_ns.begin(), per_check_ns.begin() + kRounds / 2, per_check_ns.end());
  std::printf("\ncheck latency (warm, median of %d rounds of %d): %.1f ns  [%d allowed]\n", kRounds,
              kBatch, per_check_ns[kRounds / 2], allowed);
  // Measured consume latency, the same way (one thread, one workspace).
  Must(engine.grant(kSystem, account, 10'000'000), "grant");
  Must(engine.transfer(owner, account, agency, 10'000'000), "transfer");
  std::vector<double> per_consume_ns;
  for (int round = 0; round < 101; ++round) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kBatch / 100; ++i) Must(engine.consume(agency, 1), "consume");
    auto elapsed = std::chrono::steady_clock::now() - start;
    per_consume_ns.push_back(std::chrono::duration<double, std::nano>(elapsed).count() /
                             (kBatch / 100));
  }
  std::nth_element(per_consume_ns.begin(), per_consume_ns.begin() + 50, per_consume_ns.end());
  std::printf("consume latency (median of 101 rounds of %d): %.1f ns\n", kBatch / 100,
              per_consume_ns[50]);
  std::printf("revision %llu; verify: %s\n", (unsigned long long)engine.revision(),
              Text(engine.verify()).c_str());
  return 0;
}
