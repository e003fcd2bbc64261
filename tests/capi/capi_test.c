/* Copyright 2026 The tenantry Authors.
 *
 * The C ABI, tested from C (C11, -Wall -Wextra -Werror -pedantic): every
 * function of tenantry.h, its error paths and NULL arguments, blocks freed
 * through tny_free, and checks and consumes from several threads at once.
 * tests/abi/check_abi.sh fails when a function of the header is never called
 * here.
 *
 *   capi_test                  every test but the replicas'
 *   capi_test threads          the multi-threaded test only (the TSan run)
 *   capi_test replica [NAME]   the replica tests (R1-R8), or the one named,
 *                              against a throwaway PostgreSQL that
 *                              scripts/pg_cluster.sh starts and stops
 */
#define _POSIX_C_SOURCE 200809L /* getpid, fork, popen, mkdtemp, under -std=c11 */

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tenantry/tenantry.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    ++checks;                                                                                  \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #cond, \
              tny_last_error());                                                               \
      ++failures;                                                                              \
    }                                                                                          \
  } while (0)

/* `call` returns `expected`; on another status, says which and why. */
#define EXPECT(expected, call)                                                                     \
  do {                                                                                             \
    tny_status got_ = (call);                                                                      \
    ++checks;                                                                                      \
    if (got_ != (expected)) {                                                                      \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__, __LINE__, \
              #call, tny_status_str(got_), tny_status_str(expected), tny_last_error());            \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

#define OK(call) EXPECT(TNY_OK, call)

/* The last error names `text` (a rule id, an argument name ...). */
#define NAMES(text) CHECK(strstr(tny_last_error(), (text)) != NULL)

/* The last error's rule ids are exactly `ids` ("C5,C6"; "" for none). */
#define RULES(ids) CHECK(strcmp(tny_last_error_rules(), (ids)) == 0)

/* ---- The world: an agency with client workspaces, staff and clients ---- */

typedef struct world {
  tny_engine* e;
  _Atomic int64_t now_ns; /* the engine's clock (I4) */
  uint64_t owner, admin, staff, ws_admin, manager, client, outsider;
  uint64_t account, agency, client_a, client_b;
  uint32_t view, delete_ws, rotate;
} world;

static int64_t world_clock(void* context) { return atomic_load(&((world*)context)->now_ns); }

static void advance_s(world* w, int64_t seconds) {
  atomic_fetch_add(&w->now_ns, seconds * 1000000000);
}

static uint64_t user(world* w, const char* key) {
  uint64_t id = 0;
  OK(tny_create_user(w->e, key, &id));
  return id;
}

static uint64_t workspace(world* w, const char* name, int32_t type, uint64_t parent) {
  tny_workspace_spec spec = TNY_WORKSPACE_SPEC_INIT;
  uint64_t id = 0;
  spec.name = name;
  spec.type = type;
  spec.parent = parent;
  OK(tny_create_workspace(w->e, TNY_SYSTEM, w->account, &spec, &id));
  return id;
}

static void world_init(world* w) {
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  tny_account_spec account = TNY_ACCOUNT_SPEC_INIT;
  tny_plan enterprise = {"enterprise", 0, 0, 0};
  memset(w, 0, sizeof *w);
  atomic_store(&w->now_ns, INT64_C(1700000000000000000));
  options.clock = world_clock;
  options.clock_context = w;
  OK(tny_engine_new(&options, &w->e));
  w->owner = user(w, "owner@acme.test");
  w->admin = user(w, "admin@acme.test");
  w->staff = user(w, "staff@acme.test");
  w->ws_admin = user(w, "ws-admin@acme.test");
  w->manager = user(w, "manager@acme.test");
  w->client = user(w, "client@customer.test");
  w->outsider = user(w, "outsider@else.test");
  account.name = "Acme";
  account.owner = w->owner;
  account.plan = &enterprise;
  account.key = "acme";
  OK(tny_create_account(w->e, &account, &w->account));
  OK(tny_add_staff(w->e, TNY_SYSTEM, w->account, w->admin, "admin", NULL));
  OK(tny_add_staff(w->e, TNY_SYSTEM, w->account, w->staff, "member", NULL));
  w->agency = workspace(w, "Agency", TNY_WORKSPACE_AGENCY, 0);
  w->client_a = workspace(w, "Client A", TNY_WORKSPACE_SIMPLE, w->agency);
  w->client_b = workspace(w, "Client B", TNY_WORKSPACE_SIMPLE, w->agency);
  OK(tny_add_member(w->e, TNY_SYSTEM, w->agency, w->ws_admin, "admin"));
  OK(tny_add_member(w->e, w->ws_admin, w->agency, w->manager, "manager"));
  OK(tny_add_member(w->e, w->ws_admin, w->client_a, w->client, "client"));
  OK(tny_permission(w->e, "contacts.view", &w->view));
  OK(tny_permission(w->e, "workspace.delete", &w->delete_ws));
  OK(tny_permission(w->e, "connections.rotate_own", &w->rotate));
}

static void world_free(world* w) { tny_engine_free(w->e); }

/* ---- Versions, statuses, errors ---------------------------------------- */

static void test_versions(void) {
  CHECK(tny_version_number() == TNY_VERSION_NUMBER);
  CHECK(strcmp(tny_version(), TNY_VERSION_STRING) == 0);
  CHECK(tny_abi_version() == TNY_ABI_VERSION);
  CHECK(TNY_VERSION_NUMBER ==
        TNY_VERSION_MAJOR * 1000000 + TNY_VERSION_MINOR * 1000 + TNY_VERSION_PATCH);
}

static void test_status_numbers_are_fixed(void) {
  /* docs/rules.md, section 10; these numbers never change (tenantry.h). */
  CHECK(TNY_OK == 0 && TNY_INVALID_ARGUMENT == 3 && TNY_NOT_FOUND == 5);
  CHECK(TNY_ALREADY_EXISTS == 6 && TNY_PERMISSION_DENIED == 7 && TNY_RESOURCE_EXHAUSTED == 8);
  CHECK(TNY_FAILED_PRECONDITION == 9 && TNY_INTERNAL == 13 && TNY_DATA_LOSS == 15);
  CHECK(TNY_DEADLINE_EXCEEDED == 4 && TNY_UNAVAILABLE == 14);
  CHECK(strcmp(tny_status_str(TNY_OK), "ok") == 0);
  CHECK(strcmp(tny_status_str(TNY_INVALID_ARGUMENT), "invalid_argument") == 0);
  CHECK(strcmp(tny_status_str(TNY_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(tny_status_str(TNY_ALREADY_EXISTS), "already_exists") == 0);
  CHECK(strcmp(tny_status_str(TNY_PERMISSION_DENIED), "permission_denied") == 0);
  CHECK(strcmp(tny_status_str(TNY_RESOURCE_EXHAUSTED), "resource_exhausted") == 0);
  CHECK(strcmp(tny_status_str(TNY_FAILED_PRECONDITION), "failed_precondition") == 0);
  CHECK(strcmp(tny_status_str(TNY_INTERNAL), "internal") == 0);
  CHECK(strcmp(tny_status_str(TNY_DATA_LOSS), "data_loss") == 0);
  CHECK(strcmp(tny_status_str(TNY_DEADLINE_EXCEEDED), "deadline_exceeded") == 0);
  CHECK(strcmp(tny_status_str(TNY_UNAVAILABLE), "unavailable") == 0);
  CHECK(strcmp(tny_status_str((tny_status)42), "unknown") == 0);
}

static void* fail_on_another_thread(void* arg) {
  tny_engine* e = arg;
  uint64_t id = 0;
  /* A fresh thread has no error yet; its failure stays its own. */
  CHECK(strcmp(tny_last_error(), "") == 0);
  RULES("");
  EXPECT(TNY_NOT_FOUND, tny_user(e, "nobody@else.test", &id));
  NAMES("nobody@else.test");
  RULES("M1");
  return NULL;
}

static void test_last_error_is_per_thread(void) {
  tny_engine* e = NULL;
  pthread_t thread;
  OK(tny_engine_new(NULL, &e));
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_user(e, "", NULL));
  NAMES("out_user");
  CHECK(pthread_create(&thread, NULL, fail_on_another_thread, e) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  NAMES("out_user"); /* untouched by the other thread's failure */
  {
    uint64_t id = 0;
    OK(tny_create_user(e, "ok@acme.test", &id));
    NAMES("out_user"); /* successes do not clear it */
  }
  tny_engine_free(e);
}

/* docs/rules.md, section 10: the ids a message ends with, as data. */
static void test_last_error_rules(void) {
  world w;
  tny_workspace_spec spec = TNY_WORKSPACE_SPEC_INIT;
  tny_account_spec other = TNY_ACCOUNT_SPEC_INIT;
  tny_batch* batch = NULL;
  tny_id_list* ids = NULL;
  uint64_t id = 0, other_account = 0, foreign = 0;
  int64_t value = 0;
  world_init(&w);
  spec.name = "X";
  spec.slug = "ab-";
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_workspace(w.e, TNY_SYSTEM, w.account, &spec, &id));
  NAMES("(T3)");
  RULES("T3");
  /* A success leaves the last failure as it was. */
  OK(tny_revision(w.e, &id));
  RULES("T3");
  EXPECT(TNY_RESOURCE_EXHAUSTED, tny_consume(w.e, w.client_a, 1, TNY_METER_CREDITS, NULL));
  RULES("C5");
  /* Two ids. */
  other.name = "Other";
  other.owner = w.outsider;
  OK(tny_create_account(w.e, &other, &other_account));
  spec.name = "Far";
  spec.slug = NULL;
  OK(tny_create_workspace(w.e, TNY_SYSTEM, other_account, &spec, &foreign));
  OK(tny_grant(w.e, TNY_SYSTEM, w.account, 10, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_transfer(w.e, TNY_SYSTEM, w.account, foreign, 5, TNY_METER_CREDITS, NULL));
  NAMES("(C3, A2)");
  RULES("C3,A2");
  /* The C layer's own refusals name theirs too; a NULL names none. */
  EXPECT(TNY_INVALID_ARGUMENT, tny_consume_keyed(w.e, w.client_a, 1, TNY_METER_CREDITS, "", NULL));
  RULES("C5");
  EXPECT(TNY_INVALID_ARGUMENT, tny_setting(w.e, w.client_a, "colour", &value));
  RULES("T6");
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_user(w.e, NULL, &id));
  RULES("");
  /* A batch names the failing change and keeps its rules. */
  OK(tny_batch_new(&batch));
  OK(tny_batch_add_member(batch, TNY_SYSTEM, w.client_b, w.outsider, "viewer"));
  OK(tny_batch_add_member(batch, TNY_SYSTEM, w.client_b, w.outsider, "viewer"));
  EXPECT(TNY_ALREADY_EXISTS, tny_apply(w.e, batch, &ids));
  NAMES("change #1 (add_member)");
  RULES("M3");
  CHECK(ids == NULL);
  tny_batch_free(batch);
  world_free(&w);
}

static void test_free_null_does_nothing(void) {
  tny_free(NULL);
  tny_engine_free(NULL);
  tny_batch_free(NULL);
  CHECK(1);
}

/* ---- Engine and options ------------------------------------------------ */

static void test_engine_options(void) {
  tny_engine* e = NULL;
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  uint64_t revision = 99;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(NULL, NULL));
  NAMES("out_engine");
  options.version = 0;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("tny_engine_options version 0");
  CHECK(e == NULL); /* outputs untouched on failure */
  options.version = TNY_ENGINE_OPTIONS_VERSION + 1;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  options.version = TNY_ENGINE_OPTIONS_VERSION;
  options.invitation_ttl_s = -1;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("invitation_ttl_s");
  options.invitation_ttl_s = INT64_C(400) * 24 * 3600; /* past a year */
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("invitation_ttl_s");
  options.invitation_ttl_s = 0;
  options.idempotency_window_s = -5;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("idempotency_window_s");
  options.idempotency_window_s = 0;
  options.reservation_slots = (UINT64_C(1) << 24) + 1;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("reservation_slots");
  options.reservation_slots = 0;
  options.clock_context = &options; /* a context without a clock is a mistake */
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("clock_context");
  CHECK(e == NULL);
  options.clock_context = NULL;
  options.feed_retention = 2;
  options.ledger_retention = 3;
  options.idempotency_slots = 64;
  OK(tny_engine_new(&options, &e));
  OK(tny_revision(e, &revision));
  CHECK(revision == 0);
  EXPECT(TNY_INVALID_ARGUMENT, tny_revision(NULL, &revision));
  NAMES("engine");
  EXPECT(TNY_INVALID_ARGUMENT, tny_revision(e, NULL));
  {
    /* L1: feed_retention 2 keeps only the last two changes. */
    uint64_t id = 0;
    tny_change_list* changes = NULL;
    OK(tny_create_user(e, "a@x.test", &id));
    OK(tny_create_user(e, "b@x.test", &id));
    OK(tny_create_user(e, "c@x.test", &id));
    EXPECT(TNY_FAILED_PRECONDITION, tny_changes_since(e, 0, &changes));
    CHECK(changes == NULL);
    OK(tny_changes_since(e, 1, &changes));
    CHECK(changes != NULL && changes->count == 2);
    tny_free(changes);
  }
  tny_engine_free(e);
}

/* ---- Permission catalog (M7) ------------------------------------------- */

static void test_M7_permission_catalog(void) {
  world w;
  uint32_t id = 0, again = 0;
  char* name = NULL;
  world_init(&w);
  OK(tny_permission_name(w.e, w.view, &name));
  CHECK(name != NULL && strcmp(name, "contacts.view") == 0);
  tny_free(name);
  EXPECT(TNY_NOT_FOUND, tny_permission(w.e, "reports.fly", &id));
  NAMES("reports.fly");
  OK(tny_register_permission(w.e, "reports.export", &id));
  OK(tny_register_permission(w.e, "reports.export", &again));
  CHECK(id == again);
  OK(tny_permission(w.e, "reports.export", &again));
  CHECK(id == again);
  EXPECT(TNY_INVALID_ARGUMENT, tny_register_permission(w.e, "Not A Name", &id));
  EXPECT(TNY_NOT_FOUND, tny_permission_name(w.e, 100000, &name));
  EXPECT(TNY_INVALID_ARGUMENT, tny_permission(w.e, NULL, &id));
  NAMES("name");
  EXPECT(TNY_INVALID_ARGUMENT, tny_permission(NULL, "contacts.view", &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_register_permission(w.e, "a.b", NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_permission_name(w.e, 0, NULL));
  world_free(&w);
}

/* ---- Tenancy (T1-T8, M1, M2) ------------------------------------------- */

static void test_T1_accounts(void) {
  world w;
  tny_account_info* info = NULL;
  tny_account_spec spec = TNY_ACCOUNT_SPEC_INIT;
  uint64_t id = 0, revision_before = 0, revision_after = 0;
  world_init(&w);
  OK(tny_account(w.e, w.account, &info));
  CHECK(info->id == w.account && strcmp(info->name, "Acme") == 0);
  CHECK(strcmp(info->key, "acme") == 0 && strcmp(info->plan_name, "enterprise") == 0);
  CHECK(info->workspace_limit == -1 && info->agency == 1 && info->plan_set == 1);
  CHECK(info->owner == w.owner && info->workspace_count == 3);
  tny_free(info);
  info = NULL;
  EXPECT(TNY_NOT_FOUND, tny_account(w.e, 424242, &info));
  CHECK(info == NULL);

  /* A failed change changes nothing (docs/rules.md, section 10). */
  OK(tny_revision(w.e, &revision_before));
  spec.name = "Other";
  spec.owner = w.outsider;
  spec.key = "acme";
  EXPECT(TNY_ALREADY_EXISTS, tny_create_account(w.e, &spec, &id));
  OK(tny_revision(w.e, &revision_after));
  CHECK(revision_before == revision_after);
  spec.key = NULL;
  spec.owner = 999999;
  EXPECT(TNY_NOT_FOUND, tny_create_account(w.e, &spec, &id));
  spec.owner = w.outsider;
  spec.member_default_scope = "some";
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_account(w.e, &spec, &id));
  spec.member_default_scope = "none";
  spec.no_plan = 2;
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_account(w.e, &spec, &id));
  NAMES("no_plan");
  spec.no_plan = 1; /* T2: no plan at all, limit 1 */
  spec.staff_member_role = "viewer";
  OK(tny_create_account(w.e, &spec, &id));
  OK(tny_account(w.e, id, &info));
  CHECK(info->plan_set == 0 && info->workspace_limit == 1 && strcmp(info->key, "") == 0);
  tny_free(info);
  spec.version = 7;
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_account(w.e, &spec, &id));
  NAMES("tny_account_spec version 7");
  spec.version = TNY_ACCOUNT_SPEC_VERSION;
  spec.name = NULL;
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_account(w.e, &spec, &id));
  NAMES("spec.name");
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_account(w.e, NULL, &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_account(NULL, &spec, &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_account(w.e, w.account, NULL));
  world_free(&w);
}

static void test_T2_plans(void) {
  world w;
  tny_account_spec spec = TNY_ACCOUNT_SPEC_INIT;
  tny_workspace_spec ws = TNY_WORKSPACE_SPEC_INIT;
  tny_plan growth = {"growth", 0, 0, 0};
  tny_plan custom = {"two", 1, 0, 2};
  tny_plan bad = {"bad", 1, 0, -2};
  tny_account_info* info = NULL;
  uint64_t account = 0, owner = 0, id = 0;
  world_init(&w);
  owner = user(&w, "solo@small.test");
  spec.name = "Small";
  spec.owner = owner; /* plan NULL: starter, one workspace */
  OK(tny_create_account(w.e, &spec, &account));
  ws.name = "First";
  OK(tny_create_workspace(w.e, owner, account, &ws, &id));
  ws.name = "Second";
  EXPECT(TNY_RESOURCE_EXHAUSTED, tny_create_workspace(w.e, owner, account, &ws, &id));
  NAMES("T2");
  OK(tny_set_plan(w.e, TNY_SYSTEM, account, &growth));
  OK(tny_create_workspace(w.e, owner, account, &ws, &id));
  OK(tny_set_plan(w.e, owner, account, &custom));
  OK(tny_account(w.e, account, &info));
  CHECK(strcmp(info->plan_name, "two") == 0 && info->workspace_limit == 2 && info->agency == 0);
  tny_free(info);
  ws.name = "Third";
  EXPECT(TNY_RESOURCE_EXHAUSTED, tny_create_workspace(w.e, owner, account, &ws, &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_plan(w.e, TNY_SYSTEM, account, &bad));
  NAMES("T2");
  bad.workspace_limit = 3;
  bad.agency = 5;
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_plan(w.e, TNY_SYSTEM, account, &bad));
  NAMES("plan.agency");
  bad.name = NULL;
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_plan(w.e, TNY_SYSTEM, account, &bad));
  EXPECT(TNY_PERMISSION_DENIED, tny_set_plan(w.e, w.outsider, account, &growth));
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_plan(w.e, TNY_SYSTEM, account, NULL));
  world_free(&w);
}

static void test_M1_users(void) {
  world w;
  uint64_t id = 0;
  world_init(&w);
  OK(tny_user(w.e, "owner@acme.test", &id));
  CHECK(id == w.owner);
  EXPECT(TNY_ALREADY_EXISTS, tny_create_user(w.e, "owner@acme.test", &id));
  EXPECT(TNY_NOT_FOUND, tny_user(w.e, "ghost@acme.test", &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_user(w.e, "", &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_user(w.e, NULL, &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_user(w.e, "owner@acme.test", NULL));
  world_free(&w);
}

static void test_M2_staff_and_scopes(void) {
  world w;
  tny_staff_info* info = NULL;
  uint64_t scoped = 0;
  tny_scope only_b;
  tny_scope all = {1, NULL, 0};
  tny_scope broken = {0, NULL, 3};
  world_init(&w);
  only_b.all = 0;
  only_b.workspaces = &w.client_b;
  only_b.count = 1;
  scoped = user(&w, "scoped@acme.test");
  OK(tny_add_staff(w.e, w.owner, w.account, scoped, "member", &only_b));
  OK(tny_staff(w.e, w.account, scoped, &info));
  CHECK(strcmp(info->role, "member") == 0 && info->all == 0 && info->count == 1);
  CHECK(info->workspaces[0] == w.client_b);
  tny_free(info);
  /* M8: a staff member holds staff_member_role (admin) in scope only. */
  CHECK(tny_check(w.e, scoped, w.client_b, w.view) == 1);
  CHECK(tny_check(w.e, scoped, w.client_a, w.view) == 0);
  OK(tny_set_staff_scope(w.e, w.owner, w.account, scoped, &all));
  OK(tny_staff(w.e, w.account, scoped, &info));
  CHECK(info->all == 1);
  tny_free(info);
  CHECK(tny_check(w.e, scoped, w.client_a, w.view) == 1);
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_staff_scope(w.e, w.owner, w.account, scoped, &broken));
  NAMES("scope.workspaces");
  broken.all = 3;
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_add_staff(w.e, w.owner, w.account, w.outsider, "member", &broken));
  NAMES("scope.all");
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_staff_scope(w.e, w.owner, w.account, scoped, NULL));
  EXPECT(TNY_PERMISSION_DENIED, tny_add_staff(w.e, w.client, w.account, w.outsider, "admin", NULL));
  NAMES("M10");
  EXPECT(TNY_INVALID_ARGUMENT, tny_add_staff(w.e, w.owner, w.account, w.outsider, "captain", NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_add_staff(w.e, w.owner, w.account, w.outsider, NULL, NULL));
  OK(tny_remove_staff(w.e, w.owner, w.account, scoped));
  EXPECT(TNY_NOT_FOUND, tny_staff(w.e, w.account, scoped, &info));
  CHECK(tny_check(w.e, scoped, w.client_a, w.view) == 0);
  EXPECT(TNY_NOT_FOUND, tny_remove_staff(w.e, w.owner, w.account, scoped));
  EXPECT(TNY_INVALID_ARGUMENT, tny_staff(w.e, w.account, w.admin, NULL));
  world_free(&w);
}

static void test_T3_workspaces(void) {
  world w;
  tny_workspace_info* info = NULL;
  tny_workspace_spec spec = TNY_WORKSPACE_SPEC_INIT;
  int available = -1;
  int64_t value = 0;
  uint64_t id = 0;
  world_init(&w);
  OK(tny_workspace(w.e, w.client_a, &info));
  CHECK(info->id == w.client_a && info->account == w.account);
  CHECK(strcmp(info->name, "Client A") == 0 && strcmp(info->slug, "client-a") == 0);
  CHECK(info->type == TNY_WORKSPACE_SIMPLE && info->status == TNY_WORKSPACE_ACTIVE);
  CHECK(info->parent == w.agency && info->depth == 2);
  tny_free(info);
  OK(tny_slug_available(w.e, w.account, "client-a", &available));
  CHECK(available == 0);
  OK(tny_slug_available(w.e, w.account, "client-c", &available));
  CHECK(available == 1);
  OK(tny_slug_available(w.e, w.account, "ab-", &available));
  CHECK(available == 0);
  spec.name = "Client C";
  spec.slug = "ab-";
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_workspace(w.e, TNY_SYSTEM, w.account, &spec, &id));
  NAMES("T3");
  spec.slug = "client-a";
  EXPECT(TNY_ALREADY_EXISTS, tny_create_workspace(w.e, TNY_SYSTEM, w.account, &spec, &id));
  spec.slug = NULL;
  spec.type = 9;
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_workspace(w.e, TNY_SYSTEM, w.account, &spec, &id));
  NAMES("T4");
  spec.type = TNY_WORKSPACE_SIMPLE;
  spec.version = 0;
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_workspace(w.e, TNY_SYSTEM, w.account, &spec, &id));
  spec.version = TNY_WORKSPACE_SPEC_VERSION;
  spec.parent = w.client_a; /* T4: only an agency has sub-workspaces */
  EXPECT(TNY_FAILED_PRECONDITION, tny_create_workspace(w.e, TNY_SYSTEM, w.account, &spec, &id));
  spec.parent = 0;
  EXPECT(TNY_PERMISSION_DENIED, tny_create_workspace(w.e, w.client, w.account, &spec, &id));
  OK(tny_create_workspace(w.e, w.owner, w.account, &spec, &id));
  OK(tny_rename_workspace(w.e, w.owner, id, "Client Sea"));
  OK(tny_workspace(w.e, id, &info));
  CHECK(strcmp(info->name, "Client Sea") == 0 && info->owner == w.owner);
  tny_free(info);
  EXPECT(TNY_INVALID_ARGUMENT, tny_rename_workspace(w.e, w.owner, id, ""));
  EXPECT(TNY_INVALID_ARGUMENT, tny_rename_workspace(w.e, w.owner, id, NULL));
  EXPECT(TNY_NOT_FOUND, tny_workspace(w.e, 777777, &info));
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_workspace(w.e, w.owner, w.account, NULL, &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_slug_available(w.e, w.account, NULL, &available));

  /* T6: settings. */
  OK(tny_setting(w.e, id, "beta_opt_in", &value));
  CHECK(value == 1);
  OK(tny_set_setting_bool(w.e, w.owner, id, "beta_opt_in", 0));
  OK(tny_setting(w.e, id, "beta_opt_in", &value));
  CHECK(value == 0);
  OK(tny_set_setting_int(w.e, w.owner, id, "approval_timeout_s", 3600));
  OK(tny_setting(w.e, id, "approval_timeout_s", &value));
  CHECK(value == 3600);
  OK(tny_setting(w.e, id, "inactivity_timeout_s", &value));
  CHECK(value == 0);
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_setting_int(w.e, w.owner, id, "approval_timeout_s", 5));
  NAMES("T6");
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_setting_int(w.e, w.owner, id, "beta_opt_in", 1));
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_setting_bool(w.e, w.owner, id, "beta_opt_in", 2));
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_setting_bool(w.e, w.owner, id, "color", 1));
  EXPECT(TNY_INVALID_ARGUMENT, tny_setting(w.e, id, "color", &value));
  NAMES("unknown setting 'color'");
  EXPECT(TNY_NOT_FOUND, tny_setting(w.e, 777777, "beta_opt_in", &value));
  EXPECT(TNY_INVALID_ARGUMENT, tny_setting(w.e, id, NULL, &value));
  EXPECT(TNY_PERMISSION_DENIED, tny_set_setting_bool(w.e, w.client, id, "beta_opt_in", 1));

  /* T5: an inactive workspace denies every check and every switch. */
  CHECK(tny_check(w.e, w.ws_admin, w.client_a, w.view) == 1);
  OK(tny_set_status(w.e, w.owner, w.client_a, TNY_WORKSPACE_INACTIVE));
  CHECK(tny_check(w.e, w.ws_admin, w.client_a, w.view) == 0);
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_status(w.e, w.owner, w.client_a, 7));
  NAMES("T5");
  OK(tny_set_status(w.e, w.owner, w.client_a, TNY_WORKSPACE_ACTIVE));
  CHECK(tny_check(w.e, w.ws_admin, w.client_a, w.view) == 1);

  /* T7: deletion needs the exact name. */
  EXPECT(TNY_INVALID_ARGUMENT, tny_delete_workspace(w.e, w.owner, id, "client sea"));
  NAMES("T7");
  EXPECT(TNY_PERMISSION_DENIED, tny_delete_workspace(w.e, w.manager, id, "Client Sea"));
  OK(tny_delete_workspace(w.e, w.owner, id, "Client Sea"));
  EXPECT(TNY_NOT_FOUND, tny_workspace(w.e, id, &info));
  EXPECT(TNY_INVALID_ARGUMENT, tny_delete_workspace(w.e, w.owner, w.client_b, NULL));
  world_free(&w);
}

/* ---- Roles (M3-M6), teams (M9) ----------------------------------------- */

static void test_M3_members_and_roles(void) {
  world w;
  tny_member_list* members = NULL;
  uint64_t newcomer = 0;
  world_init(&w);
  newcomer = user(&w, "new@acme.test");
  OK(tny_add_member(w.e, w.ws_admin, w.client_b, newcomer, "viewer"));
  CHECK(tny_check(w.e, newcomer, w.client_b, w.view) == 1);
  CHECK(tny_check(w.e, newcomer, w.client_b, w.delete_ws) == 0);
  EXPECT(TNY_ALREADY_EXISTS, tny_add_member(w.e, w.ws_admin, w.client_b, newcomer, "viewer"));
  OK(tny_set_role(w.e, w.ws_admin, w.client_b, newcomer, "client"));
  CHECK(tny_check(w.e, newcomer, w.client_b, w.view) == 0);
  CHECK(tny_check(w.e, newcomer, w.client_b, w.rotate) == 1);
  OK(tny_members(w.e, w.client_b, &members));
  CHECK(members->count >= 1);
  {
    size_t i;
    int found = 0;
    for (i = 0; i < members->count; ++i) {
      if (members->items[i].user == newcomer) found = strcmp(members->items[i].role, "client") == 0;
      if (i > 0) CHECK(members->items[i - 1].user < members->items[i].user);
    }
    CHECK(found);
  }
  tny_free(members);
  EXPECT(TNY_PERMISSION_DENIED, tny_set_role(w.e, w.client, w.client_a, w.client, "admin"));
  NAMES("M10");
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_role(w.e, w.ws_admin, w.client_b, newcomer, "emperor"));
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_role(w.e, w.ws_admin, w.client_b, newcomer, NULL));
  OK(tny_remove_member(w.e, w.ws_admin, w.client_b, newcomer));
  EXPECT(TNY_NOT_FOUND, tny_remove_member(w.e, w.ws_admin, w.client_b, newcomer));
  CHECK(tny_check(w.e, newcomer, w.client_b, w.rotate) == 0);
  EXPECT(TNY_NOT_FOUND, tny_members(w.e, 888888, &members));
  EXPECT(TNY_INVALID_ARGUMENT, tny_members(w.e, w.agency, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_add_member(w.e, w.ws_admin, w.client_b, newcomer, NULL));

  /* M5: ownership moves; the old owner keeps no ownership. */
  OK(tny_transfer_ownership(w.e, TNY_SYSTEM, w.client_b, w.manager));
  {
    tny_workspace_info* info = NULL;
    OK(tny_workspace(w.e, w.client_b, &info));
    CHECK(info->owner == w.manager);
    tny_free(info);
  }
  CHECK(tny_check(w.e, w.manager, w.client_b, w.delete_ws) == 1);
  EXPECT(TNY_PERMISSION_DENIED, tny_transfer_ownership(w.e, w.client, w.client_b, w.client));
  world_free(&w);
}

static void test_M6_custom_roles(void) {
  world w;
  const char* perms[] = {"reports.export"};
  const char* bad[] = {"contacts.view", NULL};
  tny_string_list* list = NULL;
  uint32_t reports = 0;
  uint64_t analyst = 0;
  world_init(&w);
  analyst = user(&w, "analyst@acme.test");
  OK(tny_register_permission(w.e, "reports.export", &reports));
  OK(tny_define_role(w.e, w.owner, w.account, "analyst", perms, 1, "viewer"));
  OK(tny_role_permissions(w.e, w.account, "analyst", &list));
  {
    size_t i;
    int has_reports = 0, has_view = 0;
    for (i = 0; i < list->count; ++i) {
      has_reports |= strcmp(list->items[i], "reports.export") == 0;
      has_view |= strcmp(list->items[i], "contacts.view") == 0;
      if (i > 0) CHECK(strcmp(list->items[i - 1], list->items[i]) < 0);
    }
    CHECK(has_reports && has_view);
  }
  tny_free(list);
  /* M10: nobody holds the new reports.export yet, so only SYSTEM hands it out. */
  EXPECT(TNY_PERMISSION_DENIED, tny_add_member(w.e, w.ws_admin, w.client_a, analyst, "analyst"));
  NAMES("M10");
  OK(tny_add_member(w.e, TNY_SYSTEM, w.client_a, analyst, "analyst"));
  CHECK(tny_check(w.e, analyst, w.client_a, reports) == 1);
  CHECK(tny_check(w.e, analyst, w.client_a, w.view) == 1);
  /* A redefinition takes effect for every holder at once (M6). */
  OK(tny_define_role(w.e, w.owner, w.account, "analyst", perms, 1, NULL));
  CHECK(tny_check(w.e, analyst, w.client_a, w.view) == 0);
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_role(w.e, w.owner, w.account, "loop", perms, 1, "loop"));
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_role(w.e, w.owner, w.account, "broken", bad, 2, NULL));
  NAMES("permissions[1]");
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_role(w.e, w.owner, w.account, "broken", NULL, 2, NULL));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_define_role(w.e, w.owner, w.account, "broken", perms, SIZE_MAX, NULL));
  NAMES("at most 4096 permissions");
  EXPECT(TNY_PERMISSION_DENIED, tny_define_role(w.e, w.client, w.account, "mine", perms, 1, NULL));
  OK(tny_define_role(w.e, w.owner, w.account, "nothing", NULL, 0, ""));
  EXPECT(TNY_NOT_FOUND, tny_role_permissions(w.e, w.account, "nobody", &list));
  EXPECT(TNY_INVALID_ARGUMENT, tny_role_permissions(w.e, w.account, NULL, &list));
  world_free(&w);
}

static void test_M9_teams(void) {
  world w;
  uint64_t team = 0, member = 0;
  tny_team_info* info = NULL;
  tny_id_list* teams = NULL;
  world_init(&w);
  member = user(&w, "teammate@acme.test");
  OK(tny_create_team(w.e, w.ws_admin, w.client_b, "Support", "viewer", &team));
  OK(tny_add_team_member(w.e, w.ws_admin, team, member));
  CHECK(tny_check(w.e, member, w.client_b, w.view) == 1);
  OK(tny_team(w.e, team, &info));
  CHECK(info->id == team && info->workspace == w.client_b);
  CHECK(strcmp(info->name, "Support") == 0 && strcmp(info->role, "viewer") == 0);
  CHECK(info->member_count == 1 && info->members[0] == member);
  tny_free(info);
  OK(tny_teams(w.e, w.client_b, &teams));
  CHECK(teams->count == 1 && teams->ids[0] == team);
  tny_free(teams);
  {
    tny_decision* why = NULL;
    OK(tny_explain(w.e, member, w.client_b, w.view, &why));
    CHECK(why->allowed == 1 && why->path == TNY_PATH_TEAM && why->via_team == team);
    tny_free(why);
  }
  OK(tny_set_team_role(w.e, w.ws_admin, team, "client"));
  CHECK(tny_check(w.e, member, w.client_b, w.view) == 0);
  OK(tny_remove_team_member(w.e, w.ws_admin, team, member));
  CHECK(tny_check(w.e, member, w.client_b, w.rotate) == 0);
  EXPECT(TNY_NOT_FOUND, tny_remove_team_member(w.e, w.ws_admin, team, member));
  EXPECT(TNY_PERMISSION_DENIED, tny_add_team_member(w.e, w.client, team, member));
  EXPECT(TNY_INVALID_ARGUMENT, tny_set_team_role(w.e, w.ws_admin, team, "nope"));
  EXPECT(TNY_INVALID_ARGUMENT, tny_create_team(w.e, w.ws_admin, w.client_b, NULL, "viewer", &team));
  OK(tny_delete_team(w.e, w.ws_admin, team));
  EXPECT(TNY_NOT_FOUND, tny_team(w.e, team, &info));
  EXPECT(TNY_NOT_FOUND, tny_delete_team(w.e, w.ws_admin, team));
  OK(tny_teams(w.e, w.client_b, &teams));
  CHECK(teams->count == 0);
  tny_free(teams);
  EXPECT(TNY_INVALID_ARGUMENT, tny_teams(w.e, w.client_b, NULL));
  world_free(&w);
}

/* ---- Invitations (I1-I4) ----------------------------------------------- */

static void test_I1_invitations(void) {
  world w;
  tny_invitation_token* invitation = NULL;
  tny_invitation_token* again = NULL;
  tny_invitation_info* info = NULL;
  tny_invitation_list* list = NULL;
  uint64_t invitee = 0;
  world_init(&w);
  OK(tny_invite(w.e, w.ws_admin, w.client_b, "invitee@customer.test", NULL, &invitation));
  CHECK(invitation->id != 0 && strlen(invitation->token) >= 32);
  CHECK(invitation->expires_at_ns == atomic_load(&w.now_ns) + INT64_C(7) * 24 * 3600 * 1000000000);
  OK(tny_invitation(w.e, invitation->id, &info));
  CHECK(info->staff == 0 && info->workspace == w.client_b && info->account == w.account);
  CHECK(strcmp(info->email, "invitee@customer.test") == 0 && strcmp(info->role, "client") == 0);
  CHECK(strcmp(info->state, "pending") == 0 && info->invited_by == w.ws_admin);
  tny_free(info);
  /* I2: resend gives a fresh token; the old one stops working. */
  OK(tny_resend(w.e, w.ws_admin, invitation->id, &again));
  CHECK(strcmp(again->token, invitation->token) != 0);
  invitee = user(&w, "invitee@customer.test");
  EXPECT(TNY_NOT_FOUND, tny_accept(w.e, invitation->token, invitee));
  NAMES("I2");
  /* I3: only the invited e-mail's user accepts. */
  EXPECT(TNY_PERMISSION_DENIED, tny_accept(w.e, again->token, w.outsider));
  OK(tny_accept(w.e, again->token, invitee));
  CHECK(tny_check(w.e, invitee, w.client_b, w.rotate) == 1);
  EXPECT(TNY_FAILED_PRECONDITION, tny_accept(w.e, again->token, invitee));
  OK(tny_invitations(w.e, w.client_b, &list));
  CHECK(list->count == 1 && strcmp(list->items[0].state, "accepted") == 0);
  CHECK(list->items[0].accepted_by == invitee);
  tny_free(list);
  tny_free(invitation);
  tny_free(again);

  /* I4: expiry follows the engine's clock. */
  OK(tny_invite(w.e, w.ws_admin, w.client_b, "late@customer.test", "viewer", &invitation));
  advance_s(&w, 8 * 24 * 3600);
  invitee = user(&w, "late@customer.test");
  EXPECT(TNY_FAILED_PRECONDITION, tny_accept(w.e, invitation->token, invitee));
  NAMES("I");
  OK(tny_invitation(w.e, invitation->id, &info));
  CHECK(strcmp(info->state, "expired") == 0);
  tny_free(info);
  tny_free(invitation);

  OK(tny_invite(w.e, w.ws_admin, w.client_b, "gone@customer.test", "viewer", &invitation));
  OK(tny_revoke_invitation(w.e, w.ws_admin, invitation->id));
  EXPECT(TNY_FAILED_PRECONDITION,
         tny_accept(w.e, invitation->token, user(&w, "gone@customer.test")));
  tny_free(invitation);
  invitation = NULL;
  EXPECT(TNY_PERMISSION_DENIED,
         tny_invite(w.e, w.client, w.client_a, "friend@customer.test", NULL, &invitation));
  CHECK(invitation == NULL);
  EXPECT(TNY_INVALID_ARGUMENT, tny_invite(w.e, w.ws_admin, w.client_b, "", NULL, &invitation));
  EXPECT(TNY_INVALID_ARGUMENT, tny_invite(w.e, w.ws_admin, w.client_b, NULL, NULL, &invitation));
  EXPECT(TNY_INVALID_ARGUMENT, tny_accept(w.e, NULL, invitee));
  EXPECT(TNY_NOT_FOUND, tny_accept(w.e, "forged-token", invitee));
  EXPECT(TNY_NOT_FOUND, tny_resend(w.e, w.ws_admin, 999999, &again));
  EXPECT(TNY_NOT_FOUND, tny_invitation(w.e, 999999, &info));
  EXPECT(TNY_NOT_FOUND, tny_revoke_invitation(w.e, w.ws_admin, 999999));
  EXPECT(TNY_INVALID_ARGUMENT, tny_invitations(w.e, w.client_b, NULL));
  world_free(&w);
}

static void test_I1_staff_invitations(void) {
  world w;
  tny_invitation_token* invitation = NULL;
  tny_invitation_info* info = NULL;
  tny_staff_info* staff = NULL;
  tny_scope only_a;
  uint64_t hire = 0;
  world_init(&w);
  only_a.all = 0;
  only_a.workspaces = &w.client_a;
  only_a.count = 1;
  OK(tny_invite_staff(w.e, w.owner, w.account, "hire@acme.test", "member", &only_a, &invitation));
  OK(tny_invitation(w.e, invitation->id, &info));
  CHECK(info->staff == 1 && info->workspace == 0 && strcmp(info->role, "member") == 0);
  tny_free(info);
  hire = user(&w, "hire@acme.test");
  OK(tny_accept(w.e, invitation->token, hire));
  OK(tny_staff(w.e, w.account, hire, &staff));
  CHECK(staff->all == 0 && staff->count == 1 && staff->workspaces[0] == w.client_a);
  tny_free(staff);
  tny_free(invitation);
  invitation = NULL;
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_invite_staff(w.e, w.owner, w.account, "x@acme.test", "owner", NULL, &invitation));
  EXPECT(TNY_PERMISSION_DENIED,
         tny_invite_staff(w.e, w.client, w.account, "x@acme.test", "admin", NULL, &invitation));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_invite_staff(w.e, w.owner, w.account, "x@acme.test", NULL, NULL, &invitation));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_invite_staff(w.e, w.owner, w.account, "x@acme.test", "admin", NULL, NULL));
  CHECK(invitation == NULL);
  world_free(&w);
}

/* ---- Sessions (S1) ----------------------------------------------------- */

static void test_S1_sessions(void) {
  world w;
  uint64_t active = 99, count = 99;
  world_init(&w);
  OK(tny_active_workspace(w.e, w.client, &active));
  CHECK(active == 0);
  OK(tny_switch_workspace(w.e, w.client, w.client_a));
  OK(tny_active_workspace(w.e, w.client, &active));
  CHECK(active == w.client_a);
  EXPECT(TNY_PERMISSION_DENIED, tny_switch_workspace(w.e, w.client, w.client_b));
  OK(tny_touch_session(w.e, w.client));
  EXPECT(TNY_FAILED_PRECONDITION, tny_touch_session(w.e, w.outsider));
  /* T6: an inactivity timeout clears the session. */
  OK(tny_set_setting_int(w.e, w.owner, w.client_a, "inactivity_timeout_s", 60));
  advance_s(&w, 61);
  OK(tny_active_workspace(w.e, w.client, &active));
  CHECK(active == 0);
  OK(tny_expire_sessions(w.e, &count));
  CHECK(count == 1);
  EXPECT(TNY_INVALID_ARGUMENT, tny_expire_sessions(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_active_workspace(w.e, w.client, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_switch_workspace(NULL, w.client, w.client_a));
  world_free(&w);
}

/* ---- Checks (A1-A7) ---------------------------------------------------- */

static void test_A1_check_and_A3_inheritance(void) {
  world w;
  tny_decision* why = NULL;
  world_init(&w);
  CHECK(tny_check(w.e, w.ws_admin, w.agency, w.view) == 1);
  CHECK(tny_check(w.e, w.ws_admin, w.client_a, w.view) == 1); /* A3 */
  CHECK(tny_check(w.e, w.client, w.client_a, w.view) == 0);
  CHECK(tny_check(w.e, w.client, w.client_a, w.rotate) == 1);
  CHECK(tny_check(w.e, w.outsider, w.client_a, w.rotate) == 0);
  CHECK(tny_check(w.e, w.ws_admin, 123456789, w.view) == 0);   /* unknown workspace */
  CHECK(tny_check(w.e, 123456789, w.client_a, w.view) == 0);   /* unknown user */
  CHECK(tny_check(w.e, w.ws_admin, w.client_a, 1000000) == 0); /* unknown permission */
  CHECK(tny_check(NULL, w.ws_admin, w.client_a, w.view) == 0); /* NULL denies */
  OK(tny_explain(w.e, w.ws_admin, w.client_a, w.view, &why));
  CHECK(why->allowed == 1 && why->path == TNY_PATH_INHERITED && why->via_workspace == w.agency);
  CHECK(strcmp(why->role, "admin") == 0 && strlen(why->reason) > 0);
  tny_free(why);
  OK(tny_explain(w.e, w.admin, w.client_a, w.view, &why));
  CHECK(why->allowed == 1 && why->path == TNY_PATH_STAFF);
  tny_free(why);
  OK(tny_explain(w.e, w.client, w.client_a, w.rotate, &why));
  CHECK(why->path == TNY_PATH_DIRECT && why->via_workspace == w.client_a);
  tny_free(why);
  OK(tny_explain(w.e, w.outsider, w.client_a, w.view, &why));
  CHECK(why->allowed == 0 && why->path == TNY_PATH_NONE && strcmp(why->role, "") == 0);
  CHECK(strlen(why->reason) > 0);
  tny_free(why);
  why = NULL;
  EXPECT(TNY_INVALID_ARGUMENT, tny_explain(w.e, w.outsider, w.client_a, 1000000, &why));
  CHECK(why == NULL);
  EXPECT(TNY_INVALID_ARGUMENT, tny_explain(w.e, w.outsider, w.client_a, w.view, NULL));
  world_free(&w);
}

static void test_A6_check_many(void) {
  world w;
  uint64_t users[4];
  uint64_t spaces[4];
  uint32_t perms[4];
  uint8_t out[4] = {9, 9, 9, 9};
  size_t i;
  world_init(&w);
  users[0] = w.ws_admin, spaces[0] = w.client_a, perms[0] = w.view;
  users[1] = w.client, spaces[1] = w.client_a, perms[1] = w.view;
  users[2] = w.client, spaces[2] = w.client_a, perms[2] = w.rotate;
  users[3] = 0, spaces[3] = 0, perms[3] = 1000000;
  OK(tny_check_many(w.e, users, spaces, perms, 4, out));
  for (i = 0; i < 4; ++i) CHECK(out[i] == tny_check(w.e, users[i], spaces[i], perms[i]));
  CHECK(out[0] == 1 && out[1] == 0 && out[2] == 1 && out[3] == 0);
  OK(tny_check_many(w.e, NULL, NULL, NULL, 0, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_check_many(w.e, users, spaces, NULL, 4, out));
  NAMES("permissions");
  EXPECT(TNY_INVALID_ARGUMENT, tny_check_many(w.e, users, spaces, perms, 4, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_check_many(NULL, users, spaces, perms, 4, out));
  world_free(&w);
}

static int contains(const tny_id_list* list, uint64_t id) {
  size_t i;
  for (i = 0; i < list->count; ++i) {
    if (list->ids[i] == id) return 1;
  }
  return 0;
}

static void test_A5_lists(void) {
  world w;
  tny_id_list* list = NULL;
  world_init(&w);
  OK(tny_workspaces_for(w.e, w.ws_admin, &list));
  CHECK(list->count == 3 && contains(list, w.agency) && contains(list, w.client_a));
  tny_free(list);
  OK(tny_workspaces_for(w.e, w.outsider, &list));
  CHECK(list->count == 0);
  tny_free(list);
  OK(tny_who_can(w.e, w.client_a, w.rotate, &list));
  CHECK(contains(list, w.client) && contains(list, w.ws_admin) && !contains(list, w.outsider));
  {
    size_t i;
    for (i = 0; i < list->count; ++i)
      CHECK(tny_check(w.e, list->ids[i], w.client_a, w.rotate) == 1);
  }
  tny_free(list);
  OK(tny_accessible(w.e, w.client, w.rotate, &list));
  CHECK(list->count == 1 && list->ids[0] == w.client_a);
  tny_free(list);
  EXPECT(TNY_INVALID_ARGUMENT, tny_workspaces_for(w.e, w.client, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_who_can(w.e, w.client_a, w.view, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_accessible(NULL, w.client, w.view, &list));
  world_free(&w);
}

/* ---- Credits (C1-C8, A7) ----------------------------------------------- */

static void test_C1_meters(void) {
  world w;
  const char* buckets[] = {"included", "overage"};
  const char* other[] = {"only"};
  tny_meter_info* info = NULL;
  uint32_t sms = 0, again = 0;
  world_init(&w);
  OK(tny_meter(w.e, TNY_METER_CREDITS, &info));
  CHECK(strcmp(info->name, "credits") == 0 && info->bucket_count == 2);
  CHECK(strcmp(info->buckets[0], "regular") == 0 && strcmp(info->buckets[1], "extra") == 0);
  tny_free(info);
  OK(tny_meter(w.e, TNY_METER_MINUTES, &info));
  CHECK(info->bucket_count == 1 && strcmp(info->buckets[1], "") == 0);
  tny_free(info);
  OK(tny_define_meter(w.e, "sms", buckets, 2, &sms));
  OK(tny_define_meter(w.e, "sms", buckets, 2, &again));
  CHECK(sms == again && sms > TNY_METER_MINUTES);
  EXPECT(TNY_ALREADY_EXISTS, tny_define_meter(w.e, "sms", other, 1, &again));
  OK(tny_meter_id(w.e, "sms", &again));
  CHECK(again == sms);
  EXPECT(TNY_NOT_FOUND, tny_meter_id(w.e, "fax", &again));
  EXPECT(TNY_NOT_FOUND, tny_meter(w.e, 63, &info));
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_meter(w.e, "Bad Name", other, 1, &again));
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_meter(w.e, "three", buckets, 0, &again));
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_meter(w.e, "nul", NULL, 1, &again));
  /* Counts are bounded before anything is read (C1: at most two buckets). */
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_meter(w.e, "many", buckets, 3, &again));
  NAMES("at most 2 buckets");
  EXPECT(TNY_INVALID_ARGUMENT, tny_define_meter(w.e, "huge", buckets, SIZE_MAX, &again));
  /* UINT32_MAX is never a meter (it is no name either). */
  EXPECT(TNY_NOT_FOUND, tny_meter(w.e, UINT32_MAX, &info));
  NAMES("4294967295");
  EXPECT(TNY_NOT_FOUND, tny_consume(w.e, w.client_a, 1, UINT32_MAX, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_meter_id(w.e, NULL, &again));
  world_free(&w);
}

static void test_C3_credits_flow(void) {
  world w;
  int64_t taken[2] = {-1, -1};
  int64_t available = -1;
  tny_balance_info balance;
  tny_account_balance_info pool;
  uint64_t reservation = 0;
  tny_reservation_info held;
  int allowed = -1;
  uint32_t consume_perm = 0;
  world_init(&w);
  OK(tny_permission(w.e, "credits.consume", &consume_perm));
  /* C2: grants go to the account's pool. */
  OK(tny_grant(w.e, TNY_SYSTEM, w.account, 100, TNY_METER_CREDITS, NULL));
  OK(tny_grant(w.e, TNY_SYSTEM, w.account, 50, TNY_METER_CREDITS, "extra"));
  EXPECT(TNY_PERMISSION_DENIED, tny_grant(w.e, w.client, w.account, 5, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_grant(w.e, TNY_SYSTEM, w.account, 0, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_NOT_FOUND, tny_grant(w.e, TNY_SYSTEM, w.account, 5, TNY_METER_CREDITS, "gold"));
  EXPECT(TNY_NOT_FOUND, tny_grant(w.e, TNY_SYSTEM, w.account, 5, 40, NULL));
  OK(tny_account_balance(w.e, w.account, TNY_METER_CREDITS, &pool));
  CHECK(pool.buckets[0] == 100 && pool.buckets[1] == 50 && pool.granted == 150);
  CHECK(pool.consumed_by_deleted == 0);
  /* C3: regular first, then extra. */
  OK(tny_transfer(w.e, w.owner, w.account, w.client_a, 120, TNY_METER_CREDITS, taken));
  CHECK(taken[0] == 100 && taken[1] == 20);
  EXPECT(TNY_RESOURCE_EXHAUSTED,
         tny_transfer(w.e, w.owner, w.account, w.client_a, 31, TNY_METER_CREDITS, taken));
  NAMES("C3");
  CHECK(taken[0] == 100 && taken[1] == 20); /* untouched on failure */
  OK(tny_transfer(w.e, w.owner, w.account, w.client_b, 10, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_PERMISSION_DENIED,
         tny_transfer(w.e, w.client, w.account, w.client_a, 1, TNY_METER_CREDITS, NULL));
  /* C4: back to the pool from a named bucket. */
  OK(tny_revoke(w.e, w.owner, w.client_b, 10, TNY_METER_CREDITS, "extra"));
  EXPECT(TNY_RESOURCE_EXHAUSTED, tny_revoke(w.e, w.owner, w.client_b, 1, TNY_METER_CREDITS, NULL));
  /* C5: consume, never below zero. */
  OK(tny_consume(w.e, w.client_a, 30, TNY_METER_CREDITS, &available));
  CHECK(available == 90);
  OK(tny_consume(w.e, w.client_a, 5, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_RESOURCE_EXHAUSTED, tny_consume(w.e, w.client_a, 1000, TNY_METER_CREDITS, &available));
  NAMES("C5");
  CHECK(available == 90);
  OK(tny_balance(w.e, w.client_a, TNY_METER_CREDITS, &balance));
  CHECK(balance.buckets[0] == 65 && balance.buckets[1] == 20 && balance.held == 0);
  CHECK(balance.consumed == 35);
  /* C5: idempotency keys. */
  OK(tny_consume_keyed(w.e, w.client_a, 5, TNY_METER_CREDITS, "order-1", &available));
  CHECK(available == 80);
  OK(tny_consume_keyed(w.e, w.client_a, 5, TNY_METER_CREDITS, "order-1", &available));
  CHECK(available == 80);
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_consume_keyed(w.e, w.client_a, 6, TNY_METER_CREDITS, "order-1", NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_consume_keyed(w.e, w.client_a, 5, TNY_METER_CREDITS, "", NULL));
  NAMES("C5");
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_consume_keyed(w.e, w.client_a, 5, TNY_METER_CREDITS, NULL, NULL));
  /* C6: reservations. */
  OK(tny_reserve(w.e, w.client_a, 70, TNY_METER_CREDITS, 60, &reservation));
  OK(tny_reservation(w.e, reservation, &held));
  CHECK(held.id == reservation && held.workspace == w.client_a && held.meter == TNY_METER_CREDITS);
  CHECK(held.held[0] == 60 && held.held[1] == 10);
  CHECK(held.expires_at_ns == atomic_load(&w.now_ns) + INT64_C(60) * 1000000000);
  OK(tny_commit(w.e, reservation, 40));
  EXPECT(TNY_NOT_FOUND, tny_commit(w.e, reservation, 1));
  EXPECT(TNY_NOT_FOUND, tny_reservation(w.e, reservation, &held));
  OK(tny_reserve(w.e, w.client_a, 10, TNY_METER_CREDITS, 60, &reservation));
  OK(tny_release(w.e, reservation));
  EXPECT(TNY_NOT_FOUND, tny_release(w.e, reservation));
  OK(tny_reserve(w.e, w.client_a, 10, TNY_METER_CREDITS, 60, &reservation));
  advance_s(&w, 61);
  EXPECT(TNY_FAILED_PRECONDITION, tny_commit(w.e, reservation, 1)); /* and released */
  NAMES("C6");
  OK(tny_reserve(w.e, w.client_a, 10, TNY_METER_CREDITS, 60, &reservation));
  advance_s(&w, 61);
  {
    uint64_t expired = 0;
    OK(tny_expire_reservations(w.e, &expired));
    CHECK(expired == 1);
    OK(tny_expire_reservations(w.e, &expired));
    CHECK(expired == 0);
  }
  EXPECT(TNY_INVALID_ARGUMENT, tny_reserve(w.e, w.client_a, 1, TNY_METER_CREDITS, 0, &reservation));
  OK(tny_balance(w.e, w.client_a, TNY_METER_CREDITS, &balance));
  CHECK(balance.buckets[0] + balance.buckets[1] == 40 && balance.held == 0);
  CHECK(balance.consumed == 80);
  /* A7: check and consume in one step. */
  OK(tny_authorize_and_consume(w.e, w.ws_admin, w.client_a, consume_perm, 15, TNY_METER_CREDITS,
                               &allowed));
  CHECK(allowed == 1);
  OK(tny_authorize_and_consume(w.e, w.client, w.client_a, consume_perm, 15, TNY_METER_CREDITS,
                               &allowed));
  CHECK(allowed == 0);
  EXPECT(TNY_RESOURCE_EXHAUSTED,
         tny_authorize_and_consume(w.e, w.ws_admin, w.client_a, consume_perm, 1000,
                                   TNY_METER_CREDITS, &allowed));
  OK(tny_balance(w.e, w.client_a, TNY_METER_CREDITS, &balance));
  CHECK(balance.buckets[0] + balance.buckets[1] == 25);
  /* T5: an inactive workspace consumes nothing. */
  OK(tny_set_status(w.e, w.owner, w.client_a, TNY_WORKSPACE_INACTIVE));
  EXPECT(TNY_FAILED_PRECONDITION, tny_consume(w.e, w.client_a, 1, TNY_METER_CREDITS, NULL));
  /* C8: every credit accounted for. */
  OK(tny_verify(w.e));
  EXPECT(TNY_INVALID_ARGUMENT, tny_verify(NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_balance(w.e, w.client_a, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_NOT_FOUND, tny_balance(w.e, 999999, TNY_METER_CREDITS, &balance));
  EXPECT(TNY_INVALID_ARGUMENT, tny_account_balance(w.e, w.account, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_reservation(w.e, 1, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_reserve(w.e, w.client_a, 1, TNY_METER_CREDITS, 60, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_expire_reservations(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_authorize_and_consume(w.e, w.ws_admin, w.client_a, consume_perm,
                                                         1, TNY_METER_CREDITS, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_consume(NULL, w.client_a, 1, TNY_METER_CREDITS, NULL));
  world_free(&w);
}

static void test_C7_ledger(void) {
  world w;
  tny_ledger_list* ledger = NULL;
  tny_ledger_query query = TNY_LEDGER_QUERY_INIT;
  world_init(&w);
  OK(tny_grant(w.e, TNY_SYSTEM, w.account, 100, TNY_METER_CREDITS, NULL));
  OK(tny_transfer(w.e, w.owner, w.account, w.client_a, 40, TNY_METER_CREDITS, NULL));
  OK(tny_revoke(w.e, w.owner, w.client_a, 10, TNY_METER_CREDITS, NULL));
  OK(tny_ledger(w.e, NULL, &ledger));
  CHECK(ledger->count == 3);
  CHECK(ledger->items[0].kind == TNY_LEDGER_GRANT && ledger->items[0].amounts[0] == 100);
  CHECK(ledger->items[0].actor == TNY_SYSTEM && ledger->items[0].workspace == 0);
  CHECK(ledger->items[1].kind == TNY_LEDGER_TRANSFER && ledger->items[1].workspace == w.client_a);
  CHECK(ledger->items[2].kind == TNY_LEDGER_REVOKE && ledger->items[2].amounts[0] == 10);
  CHECK(ledger->items[0].sequence < ledger->items[1].sequence);
  tny_free(ledger);
  query.workspace = w.client_a;
  query.after_sequence = 2;
  OK(tny_ledger(w.e, &query, &ledger));
  CHECK(ledger->count == 1 && ledger->items[0].kind == TNY_LEDGER_REVOKE);
  tny_free(ledger);
  query.version = 0;
  EXPECT(TNY_INVALID_ARGUMENT, tny_ledger(w.e, &query, &ledger));
  NAMES("tny_ledger_query");
  EXPECT(TNY_INVALID_ARGUMENT, tny_ledger(w.e, NULL, NULL));
  world_free(&w);
}

/* ---- Feed (L1), stats --------------------------------------------------- */

static void test_L1_changes_since(void) {
  world w;
  tny_change_list* changes = NULL;
  uint64_t revision = 0;
  tny_stats_info stats;
  world_init(&w);
  OK(tny_revision(w.e, &revision));
  OK(tny_changes_since(w.e, 0, &changes));
  CHECK(changes->count == revision);
  CHECK(changes->items[0].revision == 1 && strstr(changes->items[0].what, "create_user") != NULL);
  CHECK(changes->items[changes->count - 1].revision == revision);
  CHECK(changes->items[0].time_ns == atomic_load(&w.now_ns));
  tny_free(changes);
  OK(tny_add_member(w.e, w.ws_admin, w.client_b, w.outsider, "viewer"));
  OK(tny_changes_since(w.e, revision, &changes));
  CHECK(changes->count == 1 && changes->items[0].actor == w.ws_admin);
  CHECK(changes->items[0].workspace == w.client_b && changes->items[0].account == w.account);
  CHECK(strstr(changes->items[0].what, "add_member") != NULL);
  tny_free(changes);
  OK(tny_stats(w.e, &stats));
  CHECK(stats.accounts == 1 && stats.users == 7 && stats.workspaces == 3);
  CHECK(stats.memberships >= 4);
  EXPECT(TNY_INVALID_ARGUMENT, tny_stats(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_changes_since(w.e, 0, NULL));
  world_free(&w);
}

/* ---- Batches (X2) ------------------------------------------------------- */

static void test_X2_batch_all_or_nothing(void) {
  world w;
  tny_batch* batch = NULL;
  tny_id_list* ids = NULL;
  size_t size = 0;
  uint64_t revision_before = 0, revision_after = 0;
  tny_account_spec account = TNY_ACCOUNT_SPEC_INIT;
  tny_workspace_spec ws = TNY_WORKSPACE_SPEC_INIT;
  tny_plan scale = {"scale", 0, 0, 0};
  tny_scope all = {1, NULL, 0};
  const char* perms[] = {"contacts.view"};
  world_init(&w);
  OK(tny_batch_new(&batch));
  OK(tny_batch_create_user(batch, "b1@acme.test"));
  OK(tny_batch_add_member(batch, TNY_SYSTEM, w.client_b, w.outsider, "viewer"));
  OK(tny_batch_add_member(batch, TNY_SYSTEM, w.client_b, w.outsider, "viewer")); /* fails */
  OK(tny_batch_size(batch, &size));
  CHECK(size == 3);
  OK(tny_revision(w.e, &revision_before));
  EXPECT(TNY_ALREADY_EXISTS, tny_apply(w.e, batch, &ids));
  NAMES("change #2 (add_member)");
  CHECK(ids == NULL);
  OK(tny_revision(w.e, &revision_after));
  CHECK(revision_before == revision_after);
  CHECK(tny_check(w.e, w.outsider, w.client_b, w.view) == 0);
  tny_batch_free(batch);

  /* Every kind of change, applied as one. */
  OK(tny_batch_new(&batch));
  OK(tny_batch_create_user(batch, "b2@acme.test"));
  account.name = "Batched";
  account.owner = w.outsider;
  OK(tny_batch_create_account(batch, &account));
  OK(tny_batch_set_plan(batch, TNY_SYSTEM, w.account, &scale));
  OK(tny_batch_add_staff(batch, TNY_SYSTEM, w.account, w.outsider, "member", NULL));
  OK(tny_batch_set_staff_scope(batch, TNY_SYSTEM, w.account, w.outsider, &all));
  OK(tny_batch_remove_staff(batch, TNY_SYSTEM, w.account, w.outsider));
  ws.name = "Batch Space";
  OK(tny_batch_create_workspace(batch, TNY_SYSTEM, w.account, &ws));
  OK(tny_batch_rename_workspace(batch, TNY_SYSTEM, w.client_b, "Client Bee"));
  OK(tny_batch_set_status(batch, TNY_SYSTEM, w.client_b, TNY_WORKSPACE_ACTIVE));
  OK(tny_batch_set_setting_bool(batch, TNY_SYSTEM, w.client_b, "beta_opt_in", 0));
  OK(tny_batch_set_setting_int(batch, TNY_SYSTEM, w.client_b, "approval_timeout_s", 120));
  OK(tny_batch_add_member(batch, TNY_SYSTEM, w.client_b, w.outsider, "viewer"));
  OK(tny_batch_set_role(batch, TNY_SYSTEM, w.client_b, w.outsider, "member"));
  OK(tny_batch_remove_member(batch, TNY_SYSTEM, w.client_b, w.outsider));
  OK(tny_batch_add_member(batch, TNY_SYSTEM, w.client_b, w.outsider, "viewer"));
  OK(tny_batch_transfer_ownership(batch, TNY_SYSTEM, w.client_b, w.ws_admin));
  OK(tny_batch_switch_workspace(batch, w.outsider, w.client_b));
  OK(tny_batch_define_role(batch, TNY_SYSTEM, w.account, "watcher", perms, 1, NULL));
  OK(tny_batch_create_team(batch, TNY_SYSTEM, w.client_b, "Night shift", "viewer"));
  OK(tny_batch_size(batch, &size));
  CHECK(size == 19);
  OK(tny_apply(w.e, batch, &ids));
  CHECK(ids->count == 19 && ids->ids[0] != 0 && ids->ids[1] != 0 && ids->ids[2] == 0);
  {
    uint64_t team = ids->ids[18], active = 0, ws_id = ids->ids[6];
    int64_t value = 0;
    tny_workspace_info* info = NULL;
    tny_batch* more = NULL;
    tny_invitation_token* invitation = NULL;
    tny_invitation_token* second = NULL;
    uint64_t invitee = user(&w, "batch-invitee@customer.test");
    CHECK(team != 0 && ws_id != 0);
    OK(tny_workspace(w.e, w.client_b, &info));
    CHECK(strcmp(info->name, "Client Bee") == 0 && info->owner == w.ws_admin);
    tny_free(info);
    OK(tny_setting(w.e, w.client_b, "approval_timeout_s", &value));
    CHECK(value == 120);
    OK(tny_active_workspace(w.e, w.outsider, &active));
    CHECK(active == w.client_b);
    OK(tny_invite(w.e, w.ws_admin, w.client_b, "batch-invitee@customer.test", "viewer",
                  &invitation));
    OK(tny_invite(w.e, w.ws_admin, w.client_b, "second@customer.test", "viewer", &second));
    OK(tny_batch_new(&more));
    OK(tny_batch_add_team_member(more, TNY_SYSTEM, team, w.manager));
    OK(tny_batch_remove_team_member(more, TNY_SYSTEM, team, w.manager));
    OK(tny_batch_set_team_role(more, TNY_SYSTEM, team, "client"));
    OK(tny_batch_delete_team(more, TNY_SYSTEM, team));
    OK(tny_batch_accept(more, invitation->token, invitee));
    OK(tny_batch_revoke_invitation(more, w.ws_admin, second->id));
    OK(tny_batch_delete_workspace(more, TNY_SYSTEM, ws_id, "Batch Space"));
    OK(tny_apply(w.e, more, NULL)); /* out_ids may be NULL */
    CHECK(tny_check(w.e, invitee, w.client_b, w.view) == 1);
    {
      tny_team_info* gone = NULL;
      EXPECT(TNY_NOT_FOUND, tny_team(w.e, team, &gone));
      CHECK(gone == NULL);
    }
    EXPECT(TNY_NOT_FOUND, tny_workspace(w.e, ws_id, &info));
    tny_free(invitation);
    tny_free(second);
    tny_batch_free(more);
  }
  tny_free(ids);
  /* A batch stays as it was: applying it again fails at its first change. */
  EXPECT(TNY_ALREADY_EXISTS, tny_apply(w.e, batch, NULL));
  tny_batch_free(batch);

  /* Arguments refused while recording record nothing. */
  OK(tny_batch_new(&batch));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_create_user(batch, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_set_status(batch, TNY_SYSTEM, w.client_b, 5));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_batch_set_setting_bool(batch, TNY_SYSTEM, w.client_b, "beta_opt_in", -1));
  ws.version = 99;
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_create_workspace(batch, TNY_SYSTEM, w.account, &ws));
  account.no_plan = 9;
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_create_account(batch, &account));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_set_plan(batch, TNY_SYSTEM, w.account, NULL));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_batch_set_staff_scope(batch, TNY_SYSTEM, w.account, w.admin, NULL));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_batch_add_staff(batch, TNY_SYSTEM, w.account, w.admin, NULL, NULL));
  EXPECT(TNY_INVALID_ARGUMENT,
         tny_batch_define_role(batch, TNY_SYSTEM, w.account, "r", NULL, 1, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_accept(batch, NULL, w.admin));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_delete_workspace(batch, TNY_SYSTEM, w.client_b, NULL));
  OK(tny_batch_size(batch, &size));
  CHECK(size == 0);
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_size(NULL, &size));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_size(batch, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_apply(w.e, NULL, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_batch_new(NULL));
  tny_batch_free(batch);
  world_free(&w);
}

/* ---- Snapshots (P1, P2) ------------------------------------------------- */

static void test_P1_snapshot_round_trip(void) {
  world w;
  char path[128];
  tny_engine* loaded = NULL;
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  uint64_t revision = 0, loaded_revision = 0;
  tny_stats_info stats, loaded_stats;
  tny_balance_info balance, loaded_balance;
  FILE* file = NULL;
  world_init(&w);
  snprintf(path, sizeof path, "/tmp/tny-capi-%ld.tny", (long)getpid());
  OK(tny_grant(w.e, TNY_SYSTEM, w.account, 100, TNY_METER_CREDITS, NULL));
  OK(tny_transfer(w.e, w.owner, w.account, w.client_a, 60, TNY_METER_CREDITS, NULL));
  OK(tny_consume(w.e, w.client_a, 15, TNY_METER_CREDITS, NULL));
  OK(tny_save(w.e, path));
  options.clock = world_clock;
  options.clock_context = &w;
  OK(tny_load(path, &options, &loaded));
  OK(tny_revision(w.e, &revision));
  OK(tny_revision(loaded, &loaded_revision));
  CHECK(revision == loaded_revision);
  OK(tny_stats(w.e, &stats));
  OK(tny_stats(loaded, &loaded_stats));
  CHECK(memcmp(&stats, &loaded_stats, sizeof stats) == 0);
  OK(tny_balance(w.e, w.client_a, TNY_METER_CREDITS, &balance));
  OK(tny_balance(loaded, w.client_a, TNY_METER_CREDITS, &loaded_balance));
  CHECK(memcmp(&balance, &loaded_balance, sizeof balance) == 0);
  CHECK(tny_check(loaded, w.ws_admin, w.client_a, w.view) == 1);
  CHECK(tny_check(loaded, w.client, w.client_a, w.rotate) == 1);
  CHECK(tny_check(loaded, w.client, w.client_a, w.view) == 0);
  OK(tny_verify(loaded));
  tny_engine_free(loaded);
  loaded = NULL;
  /* P2: a damaged file is data loss, and no engine is made. */
  file = fopen(path, "wb");
  CHECK(file != NULL);
  if (file != NULL) {
    fputs("not a snapshot at all", file);
    fclose(file);
  }
  EXPECT(TNY_DATA_LOSS, tny_load(path, NULL, &loaded));
  NAMES("P2");
  CHECK(loaded == NULL);
  remove(path);
  EXPECT(TNY_NOT_FOUND, tny_load(path, NULL, &loaded));
  EXPECT(TNY_NOT_FOUND, tny_save(w.e, "/no/such/directory/x.tny"));
  EXPECT(TNY_INVALID_ARGUMENT, tny_save(w.e, ""));
  EXPECT(TNY_INVALID_ARGUMENT, tny_save(w.e, "/tmp"));
  EXPECT(TNY_INVALID_ARGUMENT, tny_save(NULL, path));
  EXPECT(TNY_INVALID_ARGUMENT, tny_save(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_load(NULL, NULL, &loaded));
  EXPECT(TNY_INVALID_ARGUMENT, tny_load(path, NULL, NULL));
  options.version = 0;
  EXPECT(TNY_INVALID_ARGUMENT, tny_load(path, &options, &loaded));
  CHECK(TNY_SNAPSHOT_FORMAT_VERSION == 1002);
  world_free(&w);
}

/* P3: a journaled engine, recovered from its journal alone and from a
 * snapshot plus the journal's tail. */
static void test_P3_journal_recovery(void) {
  char dir[128], snap[160];
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  tny_engine* e = NULL;
  tny_engine* other = NULL;
  uint64_t owner = 0, user = 0, account = 0, ws = 0, found = 0;
  uint64_t revision = 0, recovered_revision = 0;
  int64_t left = 0;
  tny_balance_info balance, recovered;
  tny_account_spec spec = TNY_ACCOUNT_SPEC_INIT;
  tny_workspace_spec ws_spec = TNY_WORKSPACE_SPEC_INIT;
  snprintf(dir, sizeof dir, "/tmp/tny-capi-journal-%ld", (long)getpid());
  snprintf(snap, sizeof snap, "%s.tny", dir);
  remove(snap);
  options.journal = dir;
  options.durability = TNY_DURABILITY_GROUP;
  options.group_commit_ms = 5;
  OK(tny_engine_new(&options, &e));
  OK(tny_create_user(e, "owner@journal.test", &owner));
  spec.name = "Journal";
  spec.owner = owner;
  OK(tny_create_account(e, &spec, &account));
  ws_spec.name = "Main";
  OK(tny_create_workspace(e, TNY_SYSTEM, account, &ws_spec, &ws));
  OK(tny_grant(e, TNY_SYSTEM, account, 500, TNY_METER_CREDITS, NULL));
  OK(tny_transfer(e, TNY_SYSTEM, account, ws, 200, TNY_METER_CREDITS, NULL));
  OK(tny_consume(e, ws, 12, TNY_METER_CREDITS, &left));
  /* One engine per journal. */
  EXPECT(TNY_FAILED_PRECONDITION, tny_engine_new(&options, &other));
  NAMES("P3");
  OK(tny_revision(e, &revision));
  OK(tny_balance(e, ws, TNY_METER_CREDITS, &balance));
  tny_engine_free(e);
  e = NULL;
  /* Recovery from the journal alone. */
  OK(tny_engine_new(&options, &e));
  OK(tny_revision(e, &recovered_revision));
  CHECK(recovered_revision == revision);
  OK(tny_balance(e, ws, TNY_METER_CREDITS, &recovered));
  CHECK(memcmp(&balance, &recovered, sizeof balance) == 0);
  OK(tny_user(e, "owner@journal.test", &found));
  CHECK(found == owner);
  /* A snapshot truncates the journal; recovery is the snapshot + the tail. */
  OK(tny_save(e, snap));
  OK(tny_create_user(e, "after@journal.test", &user));
  OK(tny_consume(e, ws, 3, TNY_METER_CREDITS, &left));
  OK(tny_balance(e, ws, TNY_METER_CREDITS, &balance));
  tny_engine_free(e);
  e = NULL;
  EXPECT(TNY_FAILED_PRECONDITION, tny_engine_new(&options, &e));
  NAMES("LoadSnapshot");
  CHECK(e == NULL);
  OK(tny_load(snap, &options, &e));
  OK(tny_user(e, "after@journal.test", &found));
  CHECK(found == user);
  OK(tny_balance(e, ws, TNY_METER_CREDITS, &recovered));
  CHECK(memcmp(&balance, &recovered, sizeof balance) == 0);
  OK(tny_verify(e));
  tny_engine_free(e);
  e = NULL;
  /* Bad journal options are refused, naming the field. */
  options.durability = 9;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("durability");
  options.durability = TNY_DURABILITY_SYNC;
  options.group_commit_ms = -1;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("group_commit_ms");
  /* A version-1 caller's struct ends before the journal fields: never read. */
  options.version = 1;
  options.group_commit_ms = -1;
  OK(tny_engine_new(&options, &e));
  OK(tny_revision(e, &revision));
  CHECK(revision == 0);
  tny_engine_free(e);
  remove(snap);
}

/* P3: a journal damaged before its end is refused (nothing changed), and
 * cut only on request, with every lost position reported. */
static void test_P3_journal_damage(void) {
  char dir[128], seg[192], key[64];
  unsigned char* bytes = NULL;
  long size = 0;
  size_t off = 128, record2 = 0;
  uint32_t body = 0;
  int i = 0, records = 0;
  uint64_t id = 0;
  FILE* f = NULL;
  tny_engine* e = NULL;
  tny_journal_recovery* r = NULL;
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  snprintf(dir, sizeof dir, "/tmp/tny-capi-damage-%ld", (long)getpid());
  snprintf(seg, sizeof seg, "%s/seg-00000000000000000000.tnyj", dir);
  options.journal = dir;
  OK(tny_engine_new(&options, &e));
  for (i = 0; i < 30; ++i) {
    snprintf(key, sizeof key, "u%d@damage.test", i);
    OK(tny_create_user(e, key, &id));
  }
  /* No damage: an empty report. */
  OK(tny_engine_journal_recovery(e, &r));
  CHECK(r->damaged == 0 && r->records == 0 && strcmp(r->reason, "") == 0);
  tny_free(r);
  tny_engine_free(e);
  e = NULL;
  /* One byte flipped inside record 2 of 30. */
  f = fopen(seg, "r+b");
  CHECK(f != NULL);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  bytes = (unsigned char*)malloc((size_t)size);
  fseek(f, 0, SEEK_SET);
  CHECK(fread(bytes, 1, (size_t)size, f) == (size_t)size);
  for (;;) {
    memcpy(&body, bytes + off, 4);
    if (body == 0) break;
    if (++records == 2) record2 = off;
    off += (16 + body + 7) & ~(size_t)7;
  }
  CHECK(records == 30 && record2 > 0);
  bytes[record2 + 20] ^= 0x10;
  fseek(f, 0, SEEK_SET);
  CHECK(fwrite(bytes, 1, (size_t)size, f) == (size_t)size);
  fclose(f);
  EXPECT(TNY_DATA_LOSS, tny_engine_new(&options, &e));
  NAMES("lsn 2 to 30");
  CHECK(e == NULL);
  /* The dry run reports and changes nothing; refused arguments. */
  OK(tny_journal_repair(dir, 1, &r));
  CHECK(r->damaged == 1 && r->truncated == 0 && r->kept_through_lsn == 1);
  CHECK(r->lost_through_lsn == 30 && r->readable_count == 28 && r->readable[0].lsn == 3);
  CHECK(strcmp(r->readable[27].what, "change: create_user") == 0);
  CHECK(strstr(r->report, "lost         lsn 2 to 30") != NULL);
  tny_free(r);
  r = NULL;
  EXPECT(TNY_INVALID_ARGUMENT, tny_journal_repair(dir, 2, &r));
  NAMES("dry_run");
  EXPECT(TNY_INVALID_ARGUMENT, tny_journal_repair(NULL, 0, &r));
  EXPECT(TNY_INVALID_ARGUMENT, tny_journal_repair(dir, 0, NULL));
  EXPECT(TNY_NOT_FOUND, tny_journal_repair("/nonexistent/tny-journal", 0, &r));
  CHECK(r == NULL);
  options.on_journal_damage = 5;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("on_journal_damage");
  /* Cut on request: the first record is kept, the rest reported. */
  options.on_journal_damage = TNY_JOURNAL_DAMAGE_TRUNCATE;
  OK(tny_engine_new(&options, &e));
  OK(tny_engine_journal_recovery(e, &r));
  CHECK(r->truncated == 1 && r->kept_through_lsn == 1 && r->readable_count == 28);
  CHECK(strstr(r->set_aside, "lost-2") != NULL);
  tny_free(r);
  OK(tny_user(e, "u0@damage.test", &id));
  EXPECT(TNY_NOT_FOUND, tny_user(e, "u1@damage.test", &id));
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_journal_recovery(e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_journal_recovery(NULL, &r));
  tny_engine_free(e);
  free(bytes);
}

/* ---- Out of memory: a failed change changes nothing (docs/rules.md section 10) ---- */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* Result blocks come from calloc; this one can be told to fail once. (The
 * sanitizers own calloc, so this test runs in the plain builds only.) */
extern void* __libc_calloc(size_t count, size_t size);
static _Atomic int fail_next_calloc = 0;

void* calloc(size_t count, size_t size) {
  if (atomic_exchange(&fail_next_calloc, 0)) return NULL;
  return __libc_calloc(count, size);
}

static void test_out_of_memory_changes_nothing(void) {
  world w;
  tny_invitation_token* invitation = NULL;
  tny_invitation_token* fresh = NULL;
  tny_batch* batch = NULL;
  tny_id_list* ids = NULL;
  uint64_t before = 0, after = 0, invitee = 0;
  world_init(&w);
  OK(tny_invite(w.e, w.ws_admin, w.client_b, "oom@customer.test", "viewer", &invitation));
  OK(tny_revision(w.e, &before));
  atomic_store(&fail_next_calloc, 1);
  EXPECT(TNY_INTERNAL, tny_resend(w.e, w.ws_admin, invitation->id, &fresh));
  NAMES("out of memory");
  CHECK(fresh == NULL);
  atomic_store(&fail_next_calloc, 1);
  EXPECT(TNY_INTERNAL, tny_invite(w.e, w.ws_admin, w.client_b, "x@customer.test", NULL, &fresh));
  OK(tny_batch_new(&batch));
  OK(tny_batch_create_user(batch, "oom-user@acme.test"));
  atomic_store(&fail_next_calloc, 1);
  EXPECT(TNY_INTERNAL, tny_apply(w.e, batch, &ids));
  CHECK(ids == NULL);
  OK(tny_revision(w.e, &after));
  CHECK(before == after);
  EXPECT(TNY_NOT_FOUND, tny_user(w.e, "oom-user@acme.test", &invitee));
  /* The first token still works: the failed resend did not supersede it. */
  invitee = user(&w, "oom@customer.test");
  OK(tny_accept(w.e, invitation->token, invitee));
  tny_free(invitation);
  tny_batch_free(batch);
  world_free(&w);
}
#else
static void test_out_of_memory_changes_nothing(void) {}
#endif

/* ---- Threads: checks and consumes from several threads (X1, C5) -------- */

enum { kThreads = 4, kRounds = 20000 };

typedef struct shared {
  world* w;
  _Atomic int stop;
  _Atomic int64_t consumed;
  _Atomic int wrong;
} shared;

static void* reader(void* arg) {
  shared* s = arg;
  world* w = s->w;
  int i;
  for (i = 0; i < kRounds; ++i) {
    /* The agency admin is never touched by the writer: always allowed. */
    if (tny_check(w->e, w->ws_admin, w->client_a, w->view) != 1) atomic_fetch_add(&s->wrong, 1);
    if (tny_check(w->e, w->outsider, w->client_a, w->delete_ws) != 0)
      atomic_fetch_add(&s->wrong, 1);
  }
  return NULL;
}

static void* consumer(void* arg) {
  shared* s = arg;
  int i;
  for (i = 0; i < kRounds; ++i) {
    tny_status status = tny_consume(s->w->e, s->w->client_a, 1, TNY_METER_CREDITS, NULL);
    if (status == TNY_OK) {
      atomic_fetch_add(&s->consumed, 1);
    } else if (status != TNY_RESOURCE_EXHAUSTED) {
      atomic_fetch_add(&s->wrong, 1);
    }
  }
  return NULL;
}

static void test_X1_threads_check_and_consume(void) {
  world w;
  shared s;
  pthread_t threads[kThreads];
  int i, writes = 0;
  tny_balance_info balance;
  const int64_t funded = kRounds; /* less than the consumers ask for */
  world_init(&w);
  s.w = &w;
  atomic_init(&s.stop, 0);
  atomic_init(&s.consumed, 0);
  atomic_init(&s.wrong, 0);
  OK(tny_grant(w.e, TNY_SYSTEM, w.account, funded, TNY_METER_CREDITS, NULL));
  OK(tny_transfer(w.e, w.owner, w.account, w.client_a, funded, TNY_METER_CREDITS, NULL));
  for (i = 0; i < kThreads; ++i) {
    CHECK(pthread_create(&threads[i], NULL, i % 2 == 0 ? reader : consumer, &s) == 0);
  }
  /* The writer changes the graph while they run. */
  for (writes = 0; writes < 200; ++writes) {
    OK(tny_add_member(w.e, TNY_SYSTEM, w.client_b, w.outsider, "viewer"));
    OK(tny_remove_member(w.e, TNY_SYSTEM, w.client_b, w.outsider));
  }
  for (i = 0; i < kThreads; ++i) CHECK(pthread_join(threads[i], NULL) == 0);
  CHECK(atomic_load(&s.wrong) == 0);
  OK(tny_balance(w.e, w.client_a, TNY_METER_CREDITS, &balance));
  /* C5, C8: every credit debited exactly once, never below zero. */
  CHECK(balance.buckets[0] + balance.buckets[1] + atomic_load(&s.consumed) == funded);
  CHECK(balance.consumed == atomic_load(&s.consumed));
  CHECK(balance.buckets[0] >= 0 && balance.buckets[1] >= 0);
  OK(tny_verify(w.e));
  world_free(&w);
}

/* ---- Replicas (R1-R8) --------------------------------------------------- */

/* Without a database: the options of version 4, and what the replica
 * functions do on an engine that is no replica. */
static void test_R1_replica_options(void) {
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  tny_engine* e = NULL;
  char dir[64];
  CHECK(options.version == 4 && options.log == NULL && options.group == NULL);
  CHECK(options.lease_floor == 0 && options.no_lease_credits == 0);
  options.group = "g";
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("group is set but log is NULL");
  RULES("R1");
  options.group = NULL;
  options.replica_id = "r1";
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("replica_id");
  options.replica_id = NULL;
  options.log = "";
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  RULES("R1");
  options.log = "host=/nonexistent port=1 connect_timeout=1";
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e)); /* no group */
  NAMES("options.group");
  RULES("R1");
  options.group = "g";
  options.log_poll_ms = -1;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("log_poll_ms");
  options.log_poll_ms = 0;
  options.log_lock_timeout_ms = INT64_C(600001);
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("log_lock_timeout_ms");
  options.log_lock_timeout_ms = 0;
  options.lease_share = 1001;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("lease_share");
  options.lease_share = 0;
  options.lease_floor = -2;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("lease_floor");
  options.lease_floor = TNY_LEASE_FLOOR_NONE;
  options.no_lease_credits = 2;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("no_lease_credits");
  options.no_lease_credits = 1;
  /* R1: a replica has no journal: the log takes its place. */
  snprintf(dir, sizeof dir, "/tmp/tny-capi-never-%ld", (long)getpid());
  options.journal = dir;
  EXPECT(TNY_INVALID_ARGUMENT, tny_engine_new(&options, &e));
  NAMES("journal");
  RULES("R1");
  options.journal = NULL;
  /* A database that cannot be reached. */
  EXPECT(TNY_UNAVAILABLE, tny_engine_new(&options, &e));
  CHECK(e == NULL);
  /* R5: a replica loads its snapshots from the database, never a file. */
  EXPECT(TNY_INVALID_ARGUMENT, tny_load("/tmp/never.tny", &options, &e));
  RULES("R5");
  /* A caller built against version 3 never set the fields of version 4:
   * whatever is there is not read. */
  options.version = 3;
  options.lease_share = -7;
  OK(tny_engine_new(&options, &e));
  {
    int replica = 9;
    OK(tny_is_replica(e, &replica));
    CHECK(replica == 0);
  }
  tny_engine_free(e);
  e = NULL;
  /* The lease options are validated without a log too. */
  options.version = TNY_ENGINE_OPTIONS_VERSION;
  options.log = NULL;
  options.group = NULL;
  options.lease_share = 0;
  OK(tny_engine_new(&options, &e));
  tny_engine_free(e);
}

static void test_R4_engine_that_is_no_replica(void) {
  world w;
  tny_batch* batch = NULL;
  tny_id_list* ids = NULL;
  tny_prepared_change* prepared = NULL;
  int replica = 9;
  int64_t position = 9;
  world_init(&w);
  OK(tny_is_replica(w.e, &replica));
  CHECK(replica == 0);
  OK(tny_position(w.e, &position));
  CHECK(position == 0);
  position = 9;
  OK(tny_last_change_position(w.e, &position));
  CHECK(position == 0);
  OK(tny_wait_for(w.e, 0, 0));
  EXPECT(TNY_FAILED_PRECONDITION, tny_wait_for(w.e, 1, 10));
  NAMES("no replica");
  RULES("R4");
  CHECK(strcmp(tny_last_error_change_id(), "") == 0);
  EXPECT(TNY_INVALID_ARGUMENT, tny_wait_for(w.e, 0, -1));
  NAMES("timeout_ms");
  OK(tny_batch_new(&batch));
  OK(tny_batch_create_user(batch, "plain@x.test"));
  /* The id is ignored: no log to find it in. */
  OK(tny_apply_with_id(w.e, batch, "import-1", &ids));
  CHECK(ids != NULL && ids->count == 1 && ids->ids[0] != 0);
  tny_free(ids);
  EXPECT(TNY_FAILED_PRECONDITION, tny_prepare(w.e, batch, NULL, &prepared));
  RULES("R8");
  CHECK(prepared == NULL);
  OK(tny_follow(w.e));
  OK(tny_close(w.e));
  EXPECT(TNY_FAILED_PRECONDITION, tny_save_snapshot_to_log(w.e, &position));
  RULES("R5");
  EXPECT(TNY_FAILED_PRECONDITION, tny_truncate_log(w.e, &position));
  RULES("R5");
  /* NULLs. */
  EXPECT(TNY_INVALID_ARGUMENT, tny_is_replica(NULL, &replica));
  EXPECT(TNY_INVALID_ARGUMENT, tny_is_replica(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_position(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_last_change_position(NULL, &position));
  EXPECT(TNY_INVALID_ARGUMENT, tny_wait_for(NULL, 0, 0));
  EXPECT(TNY_INVALID_ARGUMENT, tny_apply_with_id(w.e, NULL, "x", NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_prepare(w.e, batch, NULL, NULL));
  NAMES("out_prepared");
  EXPECT(TNY_INVALID_ARGUMENT, tny_follow(NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_close(NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_save_snapshot_to_log(w.e, NULL));
  EXPECT(TNY_INVALID_ARGUMENT, tny_truncate_log(NULL, &position));
  /* The plain engine still takes changes after tny_close. */
  EXPECT(TNY_ALREADY_EXISTS, tny_apply(w.e, batch, NULL));
  OK(tny_batch_create_user(batch, "after-close@x.test"));
  EXPECT(TNY_ALREADY_EXISTS, tny_apply(w.e, batch, NULL)); /* the first change is there */
  {
    uint64_t later = 0;
    OK(tny_create_user(w.e, "later@x.test", &later));
  }
  tny_batch_free(batch);
  world_free(&w);
}

/* ---- Replicas against a throwaway PostgreSQL (capi_test replica) --------
 * scripts/pg_cluster.sh starts one server in a temporary directory before
 * the first replica test and stops it after the last. Each test works in a
 * group (schema) of its own. */

static char pg_dir[64];
static char pg_conninfo[512];

/* Runs `scripts/pg_cluster.sh command pg_dir`; its first line of output
 * goes to `out` (may be NULL). 1 on success. */
static int pg_cluster(const char* command, char* out, size_t size) {
  char line[256];
  FILE* pipe;
  int status;
  snprintf(line, sizeof line, "bash '%s' %s '%s'", TENANTRY_PG_CLUSTER, command, pg_dir);
  pipe = popen(line, "r");
  if (pipe == NULL) return 0;
  if (out != NULL) {
    out[0] = '\0';
    if (fgets(out, (int)size, pipe) != NULL) out[strcspn(out, "\n")] = '\0';
  }
  while (fgets(line, sizeof line, pipe) != NULL) {
  }
  status = pclose(pipe);
  return status == 0;
}

static int pg_start(void) {
  char conninfo[sizeof pg_conninfo];
  if (pg_dir[0] == '\0') {
    strcpy(pg_dir, "/tmp/tenantry-capi-pg-XXXXXX");
    if (mkdtemp(pg_dir) == NULL) return 0;
  }
  if (!pg_cluster("start", conninfo, sizeof conninfo) || conninfo[0] == '\0') return 0;
  strcpy(pg_conninfo, conninfo);
  return 1;
}

static int pg_stop(void) { return pg_cluster("stop", NULL, 0); }

static void sleep_ms(long ms) {
  struct timespec wait;
  wait.tv_sec = ms / 1000;
  wait.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&wait, NULL);
}

/* Runs `sql` on a connection of its own: "" on success, else its SQLSTATE. */
static const char* pg_exec(PGconn* conn, const char* sql) {
  static char state[8];
  PGresult* result = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(result);
  const char* code;
  state[0] = '\0';
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    code = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s", code != NULL ? code : "error");
  }
  PQclear(result);
  return state;
}

static tny_engine* open_replica(const char* group) {
  tny_engine_options options = TNY_ENGINE_OPTIONS_INIT;
  tny_engine* e = NULL;
  options.log = pg_conninfo;
  options.group = group;
  options.log_lock_timeout_ms = 5000;
  options.log_poll_ms = 20;
  OK(tny_engine_new(&options, &e));
  return e;
}

/* The seed on replica `e`: an account with a workspace and a client in it. */
typedef struct seed {
  uint64_t owner, client, account, ws;
  uint32_t trigger;
} seed;

static seed make_seed(tny_engine* e) {
  seed s;
  tny_account_spec account = TNY_ACCOUNT_SPEC_INIT;
  tny_workspace_spec ws = TNY_WORKSPACE_SPEC_INIT;
  tny_plan enterprise = {"enterprise", 0, 0, 0};
  memset(&s, 0, sizeof s);
  OK(tny_create_user(e, "owner@replica.test", &s.owner));
  OK(tny_create_user(e, "client@replica.test", &s.client));
  account.name = "Replicated";
  account.owner = s.owner;
  account.plan = &enterprise;
  OK(tny_create_account(e, &account, &s.account));
  ws.name = "Main";
  OK(tny_create_workspace(e, s.owner, s.account, &ws, &s.ws));
  OK(tny_add_member(e, s.owner, s.ws, s.client, "client"));
  OK(tny_permission(e, "runs.trigger", &s.trigger));
  return s;
}

static void test_R2_R4_change_on_one_replica_is_read_on_another(void) {
  tny_engine* a = open_replica("c_r2_r4");
  tny_engine* b = open_replica("c_r2_r4");
  seed s;
  int replica = 0;
  int64_t at = 0, pos_a = 0, pos_b = 0;
  uint64_t rev_a = 0, rev_b = 0;
  if (a == NULL || b == NULL) return;
  OK(tny_is_replica(a, &replica));
  CHECK(replica == 1);
  s = make_seed(a);
  OK(tny_last_change_position(a, &at));
  OK(tny_position(a, &pos_a));
  CHECK(at == pos_a && at > 1);
  OK(tny_wait_for(b, at, 5000));
  CHECK(tny_check(b, s.client, s.ws, s.trigger) == 1);
  /* A change made on b comes back to a through the same log. */
  OK(tny_remove_member(b, s.owner, s.ws, s.client));
  OK(tny_last_change_position(b, &at));
  OK(tny_wait_for(a, at, 5000));
  CHECK(tny_check(a, s.client, s.ws, s.trigger) == 0);
  OK(tny_position(a, &pos_a));
  OK(tny_position(b, &pos_b));
  CHECK(pos_a == pos_b);
  OK(tny_revision(a, &rev_a));
  OK(tny_revision(b, &rev_b));
  CHECK(rev_a == rev_b);
  OK(tny_verify(b));
  tny_engine_free(a);
  tny_engine_free(b);
}

static void test_R4_wait_for_names_both_positions(void) {
  tny_engine* a = open_replica("c_r4_deadline");
  int64_t at = 0;
  char wanted[64], current[64];
  if (a == NULL) return;
  OK(tny_position(a, &at));
  EXPECT(TNY_DEADLINE_EXCEEDED, tny_wait_for(a, at + 100, 50));
  RULES("R4");
  snprintf(wanted, sizeof wanted, "position %lld", (long long)(at + 100));
  snprintf(current, sizeof current, "at position %lld", (long long)at);
  NAMES(wanted);
  NAMES(current);
  CHECK(strcmp(tny_status_str(TNY_DEADLINE_EXCEEDED), "deadline_exceeded") == 0);
  OK(tny_wait_for(a, at, 0));
  tny_engine_free(a);
}

static void test_R7_unavailable_carries_the_change_id_and_a_retry_applies_once(void) {
  tny_engine* a = open_replica("c_r7_unavailable");
  tny_batch* batch = NULL;
  tny_id_list* ids = NULL;
  tny_id_list* again = NULL;
  char id[256];
  uint64_t user = 0;
  tny_stats_info stats;
  tny_status status = TNY_UNAVAILABLE;
  int i;
  if (a == NULL) return;
  OK(tny_create_user(a, "before@replica.test", &user));
  CHECK(pg_stop());
  EXPECT(TNY_UNAVAILABLE, tny_create_user(a, "while-down@replica.test", &user));
  CHECK(strcmp(tny_status_str(TNY_UNAVAILABLE), "unavailable") == 0);
  snprintf(id, sizeof id, "%s", tny_last_error_change_id());
  CHECK(id[0] != '\0');
  NAMES(id);
  /* Reads go on. */
  OK(tny_user(a, "before@replica.test", &user));
  CHECK(pg_start());
  OK(tny_batch_new(&batch));
  OK(tny_batch_create_user(batch, "while-down@replica.test"));
  /* The replica reconnects by itself; the retry with the same id applies once. */
  for (i = 0; i < 50; ++i) {
    status = tny_apply_with_id(a, batch, id, &ids);
    if (status != TNY_UNAVAILABLE) break;
    sleep_ms(100);
  }
  EXPECT(TNY_OK, status);
  OK(tny_apply_with_id(a, batch, id, &again));
  if (ids != NULL && again != NULL) {
    CHECK(ids->count == 1 && again->count == 1 && ids->ids[0] == again->ids[0]);
  }
  OK(tny_stats(a, &stats));
  CHECK(stats.users == 2);
  tny_free(ids);
  tny_free(again);
  tny_batch_free(batch);
  tny_engine_free(a);
}

/* R8: the prepared change inside the application's own transaction, run
 * with libpq as tenantry.h says. "" or the SQLSTATE. */
static const char* append_prepared(PGconn* conn, const tny_prepared_change* p) {
  static char state[8];
  char expected[32], version[16];
  const char* values[4];
  int lengths[4] = {0, 0, 0, 0};
  int formats[4] = {0, 0, 1, 0};
  PGresult* result;
  const char* code;
  snprintf(expected, sizeof expected, "%lld", (long long)p->expected_position);
  snprintf(version, sizeof version, "%d", (int)p->format_version);
  values[0] = expected;
  values[1] = p->change_id;
  values[2] = (const char*)p->record;
  values[3] = version;
  lengths[2] = (int)p->record_size;
  result = PQexecParams(conn, p->sql, 4, NULL, values, lengths, formats, 0);
  state[0] = '\0';
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    code = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s", code != NULL ? code : "error");
  }
  PQclear(result);
  return state;
}

static void test_R8_prepared_change_commits_or_rolls_back_with_the_application(void) {
  tny_engine* a = open_replica("c_r8");
  tny_batch* hana = NULL;
  tny_batch* ivan = NULL;
  tny_prepared_change* prepared = NULL;
  tny_prepared_change* rolled = NULL;
  PGconn* app;
  int64_t position = 0;
  uint64_t user = 0;
  if (a == NULL) return;
  app = PQconnectdb(pg_conninfo);
  CHECK(PQstatus(app) == CONNECTION_OK);
  CHECK(strcmp(pg_exec(app, "CREATE TABLE c_r8_app (name text)"), "") == 0);
  OK(tny_batch_new(&hana));
  OK(tny_batch_create_user(hana, "hana@replica.test"));
  OK(tny_prepare(a, hana, "signup-hana", &prepared));
  OK(tny_position(a, &position));
  if (prepared != NULL) {
    CHECK(prepared->expected_position == position);
    CHECK(strcmp(prepared->change_id, "signup-hana") == 0);
    CHECK(prepared->record_size > 0 && prepared->record != NULL);
    CHECK(prepared->format_version >= 1);
    CHECK(strstr(prepared->sql, "append_if_head") != NULL);
    EXPECT(TNY_NOT_FOUND, tny_user(a, "hana@replica.test", &user)); /* nothing applied */
    /* Committed: the application's row and the user, together. */
    CHECK(strcmp(pg_exec(app, "BEGIN"), "") == 0);
    CHECK(strcmp(pg_exec(app, "INSERT INTO c_r8_app VALUES ('hana')"), "") == 0);
    CHECK(strcmp(append_prepared(app, prepared), "") == 0);
    CHECK(strcmp(pg_exec(app, "COMMIT"), "") == 0);
    OK(tny_wait_for(a, prepared->expected_position + 1, 5000));
    OK(tny_user(a, "hana@replica.test", &user));
  }
  /* Rolled back: nothing; then stale: TN001 fails the application's statement. */
  OK(tny_batch_new(&ivan));
  OK(tny_batch_create_user(ivan, "ivan@replica.test"));
  OK(tny_prepare(a, ivan, NULL, &rolled));
  if (rolled != NULL) {
    CHECK(rolled->change_id[0] != '\0'); /* a new id */
    CHECK(strcmp(pg_exec(app, "BEGIN"), "") == 0);
    CHECK(strcmp(append_prepared(app, rolled), "") == 0);
    CHECK(strcmp(pg_exec(app, "ROLLBACK"), "") == 0);
    OK(tny_create_user(a, "jo@replica.test", &user));
    CHECK(strcmp(pg_exec(app, "BEGIN"), "") == 0);
    CHECK(strcmp(append_prepared(app, rolled), "TN001") == 0);
    CHECK(strcmp(pg_exec(app, "ROLLBACK"), "") == 0);
    EXPECT(TNY_NOT_FOUND, tny_user(a, "ivan@replica.test", &user));
  }
  /* A batch the engine refuses is refused by tny_prepare, as by tny_apply. */
  EXPECT(TNY_ALREADY_EXISTS, tny_prepare(a, hana, NULL, &rolled));
  tny_free(prepared);
  tny_free(rolled);
  tny_batch_free(hana);
  tny_batch_free(ivan);
  PQfinish(app);
  tny_engine_free(a);
}

static void test_R5_snapshots_in_the_log_truncation_and_close(void) {
  tny_engine* a = open_replica("c_r5");
  tny_engine* c = NULL;
  int64_t first = 0, second = 0, third = 0, kept = 0, pos_a = 0, pos_c = 0;
  uint64_t user = 0;
  if (a == NULL) return;
  OK(tny_create_user(a, "first@replica.test", &user));
  OK(tny_save_snapshot_to_log(a, &first));
  OK(tny_position(a, &pos_a));
  CHECK(first == pos_a);
  OK(tny_truncate_log(a, &kept));
  CHECK(kept == 1); /* one snapshot: nothing removed */
  OK(tny_create_user(a, "second@replica.test", &user));
  OK(tny_save_snapshot_to_log(a, &second));
  OK(tny_create_user(a, "third@replica.test", &user));
  OK(tny_save_snapshot_to_log(a, &third));
  OK(tny_truncate_log(a, &kept));
  CHECK(kept == second + 1);
  /* A new replica needs only the connection string. */
  c = open_replica("c_r5");
  if (c != NULL) {
    OK(tny_position(a, &pos_a));
    OK(tny_position(c, &pos_c));
    CHECK(pos_c == pos_a);
    OK(tny_user(c, "third@replica.test", &user));
    OK(tny_verify(c));
    /* Closed: changes refused, reads go on. */
    OK(tny_close(c));
    OK(tny_close(c));
    EXPECT(TNY_FAILED_PRECONDITION, tny_create_user(c, "late@replica.test", &user));
    NAMES("closed");
    RULES("R5");
    OK(tny_user(c, "first@replica.test", &user));
    EXPECT(TNY_FAILED_PRECONDITION, tny_follow(c));
    tny_engine_free(c);
  }
  tny_engine_free(a);
}

static void test_R5_forked_worker_follows_after_follow(void) {
  tny_engine* parent = open_replica("c_r5_fork");
  seed s;
  int fds[2];
  pid_t pid;
  int64_t child_at = 0;
  int status = 0;
  uint64_t user = 0;
  if (parent == NULL) return;
  s = make_seed(parent);
  CHECK(pipe(fds) == 0);
  fflush(NULL);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int code = 0;
    int64_t at = 0;
    close(fds[0]);
    if (tny_create_user(parent, "early@replica.test", &user) != TNY_FAILED_PRECONDITION) code |= 1;
    if (tny_check(parent, s.client, s.ws, s.trigger) != 1) code |= 2;
    if (tny_follow(parent) != TNY_OK) code |= 4;
    if (tny_create_user(parent, "child@replica.test", &user) != TNY_OK) code |= 8;
    if (tny_last_change_position(parent, &at) != TNY_OK) code |= 16;
    if (write(fds[1], &at, sizeof at) != (ssize_t)sizeof at) code |= 32;
    _exit(code);
  }
  close(fds[1]);
  CHECK(read(fds[0], &child_at, sizeof child_at) == (ssize_t)sizeof child_at);
  close(fds[0]);
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  OK(tny_wait_for(parent, child_at, 5000));
  OK(tny_user(parent, "child@replica.test", &user));
  OK(tny_create_user(parent, "parent@replica.test", &user));
  tny_engine_free(parent);
}

static void test_C5_keyed_consume_is_once_in_the_group(void) {
  tny_engine* a = open_replica("c_c5");
  tny_engine* b = open_replica("c_c5");
  seed s;
  int64_t left = 0, at = 0;
  uint64_t reservation = 0;
  tny_balance_info balance;
  if (a == NULL || b == NULL) return;
  s = make_seed(a);
  OK(tny_grant(a, TNY_SYSTEM, s.account, 1000, TNY_METER_CREDITS, NULL));
  OK(tny_transfer(a, s.owner, s.account, s.ws, 100, TNY_METER_CREDITS, NULL));
  OK(tny_consume_keyed(a, s.ws, 30, TNY_METER_CREDITS, "run-42", &left));
  CHECK(left == 70);
  OK(tny_last_change_position(a, &at));
  OK(tny_wait_for(b, at, 5000));
  left = 0;
  OK(tny_consume_keyed(b, s.ws, 30, TNY_METER_CREDITS, "run-42", &left));
  CHECK(left == 70); /* the first answer, no second debit */
  EXPECT(TNY_INVALID_ARGUMENT, tny_consume_keyed(b, s.ws, 31, TNY_METER_CREDITS, "run-42", &left));
  RULES("C5");
  OK(tny_balance(b, s.ws, TNY_METER_CREDITS, &balance));
  CHECK(balance.buckets[0] + balance.buckets[1] == 70);
  /* C6 on replicas: a reservation made on one is committed on the other. */
  OK(tny_reserve(a, s.ws, 10, TNY_METER_CREDITS, 60, &reservation));
  OK(tny_last_change_position(a, &at));
  OK(tny_wait_for(b, at, 5000));
  OK(tny_commit(b, reservation, 4));
  EXPECT(TNY_NOT_FOUND, tny_commit(a, reservation, 4));
  OK(tny_balance(b, s.ws, TNY_METER_CREDITS, &balance));
  CHECK(balance.buckets[0] + balance.buckets[1] == 66);
  tny_engine_free(a);
  tny_engine_free(b);
}

/* ---- Runner ------------------------------------------------------------- */

typedef struct test_case {
  const char* name;
  void (*run)(void);
  int replica; /* 1: needs the database (capi_test replica) */
} test_case;

static const test_case kTests[] = {
    {"versions", test_versions, 0},
    {"status_numbers_are_fixed", test_status_numbers_are_fixed, 0},
    {"last_error_is_per_thread", test_last_error_is_per_thread, 0},
    {"last_error_rules", test_last_error_rules, 0},
    {"free_null_does_nothing", test_free_null_does_nothing, 0},
    {"engine_options", test_engine_options, 0},
    {"M7_permission_catalog", test_M7_permission_catalog, 0},
    {"T1_accounts", test_T1_accounts, 0},
    {"T2_plans", test_T2_plans, 0},
    {"M1_users", test_M1_users, 0},
    {"M2_staff_and_scopes", test_M2_staff_and_scopes, 0},
    {"T3_workspaces", test_T3_workspaces, 0},
    {"M3_members_and_roles", test_M3_members_and_roles, 0},
    {"M6_custom_roles", test_M6_custom_roles, 0},
    {"M9_teams", test_M9_teams, 0},
    {"I1_invitations", test_I1_invitations, 0},
    {"I1_staff_invitations", test_I1_staff_invitations, 0},
    {"S1_sessions", test_S1_sessions, 0},
    {"A1_check_and_A3_inheritance", test_A1_check_and_A3_inheritance, 0},
    {"A6_check_many", test_A6_check_many, 0},
    {"A5_lists", test_A5_lists, 0},
    {"C1_meters", test_C1_meters, 0},
    {"C3_credits_flow", test_C3_credits_flow, 0},
    {"C7_ledger", test_C7_ledger, 0},
    {"L1_changes_since", test_L1_changes_since, 0},
    {"X2_batch_all_or_nothing", test_X2_batch_all_or_nothing, 0},
    {"out_of_memory_changes_nothing", test_out_of_memory_changes_nothing, 0},
    {"P1_snapshot_round_trip", test_P1_snapshot_round_trip, 0},
    {"P3_journal_recovery", test_P3_journal_recovery, 0},
    {"P3_journal_damage", test_P3_journal_damage, 0},
    {"R1_replica_options", test_R1_replica_options, 0},
    {"R4_engine_that_is_no_replica", test_R4_engine_that_is_no_replica, 0},
    {"threads", test_X1_threads_check_and_consume, 0},
    {"R2_R4_change_on_one_replica_is_read_on_another",
     test_R2_R4_change_on_one_replica_is_read_on_another, 1},
    {"R4_wait_for_names_both_positions", test_R4_wait_for_names_both_positions, 1},
    {"R7_unavailable_carries_the_change_id_and_a_retry_applies_once",
     test_R7_unavailable_carries_the_change_id_and_a_retry_applies_once, 1},
    {"R8_prepared_change_commits_or_rolls_back_with_the_application",
     test_R8_prepared_change_commits_or_rolls_back_with_the_application, 1},
    {"R5_snapshots_in_the_log_truncation_and_close",
     test_R5_snapshots_in_the_log_truncation_and_close, 1},
    {"R5_forked_worker_follows_after_follow", test_R5_forked_worker_follows_after_follow, 1},
    {"C5_keyed_consume_is_once_in_the_group", test_C5_keyed_consume_is_once_in_the_group, 1},
};

int main(int argc, char** argv) {
  size_t i;
  int ran = 0;
  const int replica = argc > 1 && strcmp(argv[1], "replica") == 0;
  const char* only = replica ? (argc > 2 ? argv[2] : NULL) : (argc > 1 ? argv[1] : NULL);
  if (replica && !pg_start()) {
    fprintf(stderr, "scripts/pg_cluster.sh start %s failed\n", pg_dir);
    return 1;
  }
  for (i = 0; i < sizeof kTests / sizeof kTests[0]; ++i) {
    int before = failures;
    if (kTests[i].replica != replica) continue;
    if (only != NULL && strcmp(only, kTests[i].name) != 0) continue;
    kTests[i].run();
    ++ran;
    printf("%s %s\n", failures == before ? "[  OK  ]" : "[ FAIL ]", kTests[i].name);
  }
  if (replica) {
    /* Stopped (by its PID) and removed, failed tests included. */
    char line[128];
    CHECK(pg_stop());
    snprintf(line, sizeof line, "rm -rf '%s'", pg_dir);
    CHECK(system(line) == 0);
  }
  if (ran == 0) {
    fprintf(stderr, "no test named %s\n", only != NULL ? only : "");
    return 2;
  }
  printf("%d tests, %d checks, %d failed\n", ran, checks, failures);
  return failures == 0 ? 0 : 1;
}
