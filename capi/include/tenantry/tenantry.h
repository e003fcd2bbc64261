/* Copyright 2026 The tenantry Authors.
 *
 * tenantry.h: the stable C ABI of the tenantry authorization and quota engine.
 * One header, one library (libtenantry.so.1). Every symbol is prefixed `tny_`.
 *
 * ---------------------------------------------------------------------------
 * The rules of this interface
 * ---------------------------------------------------------------------------
 *
 * Versions. TNY_VERSION_NUMBER is the version of this header; the library's is
 * tny_version_number(). TNY_ABI_VERSION is the binary interface: it is the
 * number in the library's SONAME (libtenantry.so.1) and only changes when a
 * function is removed or changes its signature, a struct changes layout, or a
 * status number changes meaning; none of these happen within one ABI version.
 * Within it, functions, statuses, enum values and fields of versioned structs
 * are only ever appended. A program built against an older header keeps
 * working with a newer library of the same ABI version.
 *
 * Handles. `tny_engine` and `tny_batch` are opaque. Each is created by a
 * `*_new` function and destroyed by its `*_free` function; freeing NULL does
 * nothing. Destroying an engine while another thread still uses it is
 * undefined.
 *
 * Ids. Accounts, users, workspaces, teams, invitations and reservations are
 * uint64_t ids handed out by the engine; 0 is never an id. TNY_SYSTEM is the
 * trusted actor of the embedding application (bootstrap, billing: M10).
 * Permissions and meters are small interned integers (uint32_t): look them up
 * by name once (tny_permission, tny_meter_id), then use the number.
 *
 * Strings. Every string argument is NUL-terminated UTF-8, read during the
 * call only (the library keeps its own copy). Where a string argument may be
 * NULL its documentation says so and what NULL means; a NULL string anywhere
 * else is TNY_INVALID_ARGUMENT.
 *
 * Results and ownership. Outputs come last and are named `out_*`; on failure
 * they are left untouched. Two kinds:
 *   - fixed numeric results (ids, counts, tny_balance_info,
 *     tny_account_balance_info, tny_reservation_info, tny_stats_info) are
 *     written into memory the caller provides; their layouts are fixed for
 *     the ABI version;
 *   - results holding strings or lists are returned as a pointer to ONE block
 *     the library allocated: the struct, its arrays and its strings all live
 *     in it. Release it with tny_free() and nothing else (do not mix
 *     allocators); the strings and arrays inside die with it. The library
 *     never writes to a block after returning it.
 * Growth: a struct the library returns on its own (tny_account_info,
 * tny_workspace_info, tny_staff_info, tny_team_info, tny_decision,
 * tny_meter_info, tny_invitation_token, tny_prepared_change and the *_list
 * headers) may gain
 * fields at its end within an ABI version, because the library allocates it.
 * Structs that are array elements (tny_member, tny_invitation_info,
 * tny_ledger_entry, tny_change) and structs the caller provides are fixed
 * for the ABI version: new fields would come with new functions.
 *
 * NULL. A NULL engine, batch, required string or required out pointer is
 * TNY_INVALID_ARGUMENT, never a crash. tny_check() is the one exception, made
 * for speed: it returns no status, and tny_check(NULL, ...) denies (0).
 *
 * Errors. Every fallible function returns a tny_status. TNY_OK is 0; the other
 * numbers are abseil's canonical codes (docs/rules.md, section 10, lists them),
 * fixed forever and never reused. tny_status_str() names a status;
 * tny_last_error() gives the message of the calling thread's last failure,
 * which names the rule, e.g. "slug 'ab-' must not end with a hyphen (T3)";
 * tny_last_error_rules() gives those ids ("T3") without parsing the message;
 * tny_last_error_change_id() the id of a change a replica could not make
 * (TNY_UNAVAILABLE), to retry it with (R7).
 * A failed change changes nothing (a change that returns a block allocates it
 * before changing anything). A denied check is an answer, not an error.
 * No C++ exception ever crosses this interface: anything unexpected inside
 * the library (running out of memory included) is TNY_INTERNAL.
 *
 * Threading. Every function may be called from any thread at once without
 * external synchronization, including threads the engine has never seen.
 * Reads (checks, lists, balances, getters) take no lock and never wait for a
 * writer; consume, reserve and tny_authorize_and_consume are lock-free;
 * changes are serialized inside the engine. A tny_batch is not thread-safe:
 * build it on one thread, then apply it. tny_last_error(),
 * tny_last_error_rules() and tny_last_error_change_id() are per thread.
 * On a replica (see "Replicas" below) changes and consumes may also wait
 * for the group's database; reads never do.
 *
 * Time. The engine reads time only from its clock: the system clock, or the
 * callback in tny_engine_options (nanoseconds since the Unix epoch). The
 * callback may be called from any thread at once, also from inside reads.
 *
 * The rule ids in brackets (T3, M10, C5 ...) are listed, one line each, in the
 * project's docs/rules.md.
 */
#ifndef TENANTRY_TENANTRY_H_
#define TENANTRY_TENANTRY_H_

#include <stddef.h>
#include <stdint.h>

#if defined(TNY_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define TNY_EXPORT __attribute__((visibility("default")))
#else
#define TNY_EXPORT
#endif

#if defined(__cplusplus) && __cplusplus >= 201103L
#define TNY_NOEXCEPT noexcept
#else
#define TNY_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */

#define TNY_VERSION_MAJOR 0
#define TNY_VERSION_MINOR 1
#define TNY_VERSION_PATCH 0
/* major * 1000000 + minor * 1000 + patch */
#define TNY_VERSION_NUMBER 1000
#define TNY_VERSION_STRING "0.1.0"
/* The binary interface; the library's SONAME is libtenantry.so.<this>. */
#define TNY_ABI_VERSION 1

/* The library's TNY_VERSION_NUMBER; compare it with the header's to catch a
 * header/library mismatch. */
TNY_EXPORT uint32_t tny_version_number(void) TNY_NOEXCEPT;
/* The library's TNY_VERSION_STRING (static storage). */
TNY_EXPORT const char* tny_version(void) TNY_NOEXCEPT;
/* The library's TNY_ABI_VERSION. */
TNY_EXPORT uint32_t tny_abi_version(void) TNY_NOEXCEPT;

/* ---- Statuses and errors ------------------------------------------------ */

/* A status is an int32_t (never an enum type, whose size a compiler flag
 * could change); its values are these constants. */
typedef int32_t tny_status;

enum tny_status_code {
  TNY_OK = 0,
  TNY_INVALID_ARGUMENT = 3,    /* a malformed argument (T3, T6 ...), NULL */
  TNY_NOT_FOUND = 5,           /* an unknown id, name or key */
  TNY_ALREADY_EXISTS = 6,      /* a taken slug, key, meter ... */
  TNY_PERMISSION_DENIED = 7,   /* the actor lacks the permission (M10) */
  TNY_RESOURCE_EXHAUSTED = 8,  /* a plan limit, insufficient credits, a full table */
  TNY_FAILED_PRECONDITION = 9, /* the state forbids it (only workspace, expired ...) */
  TNY_INTERNAL = 13,           /* a bug or out of memory inside the library */
  TNY_DATA_LOSS = 15,          /* a broken invariant, a damaged file */
  TNY_DEADLINE_EXCEEDED = 4,   /* a wait for a log position ran out (R4) */
  TNY_UNAVAILABLE = 14         /* a replica's database cannot be reached (R7) */
};

/* A static, lowercase name of the status ("ok", "invalid_argument" ...);
 * "unknown" for a number that is not a tny_status. */
TNY_EXPORT const char* tny_status_str(tny_status status) TNY_NOEXCEPT;

/* The message of the calling thread's most recent failure (any function that
 * returned a status other than TNY_OK), or "" when it has had none. Successes
 * do not clear it. The pointer stays valid until the thread's next failing
 * call or its exit. */
TNY_EXPORT const char* tny_last_error(void) TNY_NOEXCEPT;

/* The rule ids of the calling thread's most recent failure, the ones its
 * message ends with, comma-separated without spaces: "T3", "C5,C6"; "" when
 * it names no rule (a NULL argument, an internal error) or the thread has had
 * no failure. The same failure as tny_last_error(), and the same lifetime:
 * valid until the thread's next failing call or its exit. docs/rules.md
 * lists every id. */
TNY_EXPORT const char* tny_last_error_rules(void) TNY_NOEXCEPT;

/* R7: the change id of the calling thread's most recent failure: set when a
 * change on a replica failed with TNY_UNAVAILABLE (its outcome unknown: the
 * database could not be reached, or not in time); "" otherwise. Retried with
 * that id (tny_apply_with_id), the change is applied at most once in the
 * group. Same failure and lifetime as tny_last_error(). */
TNY_EXPORT const char* tny_last_error_change_id(void) TNY_NOEXCEPT;

/* Releases a block the library returned (see "Results and ownership").
 * tny_free(NULL) does nothing. */
TNY_EXPORT void tny_free(void* block) TNY_NOEXCEPT;

/* ---- Engine ------------------------------------------------------------- */

typedef struct tny_engine tny_engine;

/* The trusted actor of the embedding application (M10). */
#define TNY_SYSTEM UINT64_MAX

/* Returns nanoseconds since the Unix epoch. Called from any thread, at any
 * time while the engine lives; must not call into the engine. */
typedef int64_t (*tny_clock_fn)(void* context);

#define TNY_ENGINE_OPTIONS_VERSION 4

/* P3: how far a journaled change is flushed before its call returns. In
 * every mode the change is in the journal (the kernel's page cache) before it
 * is acknowledged: a killed process loses nothing acknowledged. They differ
 * in what a machine crash (power, kernel) can lose: SYNC nothing (fdatasync
 * per change, shared by concurrent callers), GROUP at most the last
 * group_commit_ms, NONE the kernel's writeback window (about 30 s). */
#define TNY_DURABILITY_SYNC 0
#define TNY_DURABILITY_GROUP 1
#define TNY_DURABILITY_NONE 2

/* P3: what opening a journal does when it is damaged before its end (a
 * damaged record followed by a sound one, ...): REFUSE is TNY_DATA_LOSS naming
 * the damage, nothing changed; TRUNCATE keeps the records before the damage,
 * sets the rest aside (DIR/lost-<lsn>) and reports it
 * (tny_engine_journal_recovery). A torn tail (nothing sound after it) is
 * dropped in both. */
#define TNY_JOURNAL_DAMAGE_REFUSE 0
#define TNY_JOURNAL_DAMAGE_TRUNCATE 1

/* R6: lease_floor's value for "no floor" (0 is the default, 10). */
#define TNY_LEASE_FLOOR_NONE (-1)

/* How an engine starts. Initialise with TNY_ENGINE_OPTIONS_INIT, then set the
 * fields you need: a zero field means "the default". A clock_context without
 * a clock is refused (TNY_INVALID_ARGUMENT). */
typedef struct tny_engine_options {
  uint32_t version;             /* TNY_ENGINE_OPTIONS_VERSION */
  tny_clock_fn clock;           /* NULL = the system clock (I4) */
  void* clock_context;          /* passed to `clock`; owned by the caller, must
                                   outlive the engine */
  uint64_t feed_retention;      /* L1: audit records kept (default 65536; values past
                                   2^63-1 mean 2^63-1, i.e. keep all) */
  int64_t invitation_ttl_s;     /* I2: invitation lifetime (default 7 days, max 1 year) */
  int64_t idempotency_window_s; /* C5: how long a consume key is remembered (default 1 day) */
  uint64_t idempotency_slots;   /* C5: keys that fit (default 2^18, max 2^30) */
  uint64_t reservation_slots;   /* C6: live reservations (default 2^16, max 2^24) */
  uint64_t ledger_retention;    /* C7: ledger entries kept (default 65536; as above) */
  /* Version 2: */
  const char* journal;     /* P3: the journal directory (NULL = none): see
                              tny_engine_new and tny_load */
  int64_t group_commit_ms; /* P3: TNY_DURABILITY_GROUP's flush interval
                              (default 10, max 60000) */
  int32_t durability;      /* P3: TNY_DURABILITY_* (0 = SYNC) */
  /* Version 3: */
  int32_t on_journal_damage; /* P3: TNY_JOURNAL_DAMAGE_* (0 = REFUSE) */
  /* Version 4: replicas (R1-R8; see "Replicas" below). */
  const char* log;             /* R1: the group's PostgreSQL, a libpq connection string
                                  or URI; NULL = no replica */
  const char* group;           /* R1: the schema of the group's log (required with log) */
  const char* replica_id;      /* R5: unique in the group; NULL or "" = random */
  int64_t log_lock_timeout_ms; /* R2: how long a change waits for the log's head lock
                                  (default 5000, max 600000) */
  int64_t log_poll_ms;         /* R3: the follower's poll interval (default 50, max 60000) */
  /* R6: credit leases: a replica consumes locally on its lease of a
   * workspace's balance (docs/replication.md, "Credits across replicas"). */
  int64_t lease_max;          /* per (workspace, meter) (default 1000, max 2^42-1) */
  int64_t lease_share;        /* the balance's share one lease takes (default 4, max 1000) */
  int64_t lease_floor;        /* below it no lease (default 10; TNY_LEASE_FLOOR_NONE: 0) */
  int64_t settle_interval_ms; /* default 1000, max 600000 */
  int64_t lease_ttl_ms;       /* default 30000, max 86400000 */
  int32_t no_lease_credits;   /* 1: no leases at all; 0: leases (the default) */
} tny_engine_options;

#define TNY_ENGINE_OPTIONS_INIT                                                                   \
  {                                                                                               \
    TNY_ENGINE_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0, \
        0, 0, 0, 0, 0, 0, 0                                                                       \
  }

/* Creates an engine. `options` may be NULL (every default). Statuses:
 * TNY_INVALID_ARGUMENT for an options version this library does not know
 * (0, or newer than TNY_ENGINE_OPTIONS_VERSION) or a field out of range
 * (negative, or past its maximum), naming the field. Free with
 * tny_engine_free().
 * With options->journal (P3): an empty or missing directory starts a journal;
 * one holding a journal is recovered (every record replayed, a torn last
 * record dropped). TNY_DATA_LOSS for a damaged journal (unless
 * on_journal_damage is TNY_JOURNAL_DAMAGE_TRUNCATE);
 * TNY_FAILED_PRECONDITION when another engine holds the directory or the
 * journal continues a snapshot (recover with tny_load(snapshot, options)).
 * Every change is then journaled before it returns; a flush failure after
 * a change was applied is TNY_INTERNAL saying so.
 * With options->log (version 4), a replica of options->group (R5; see
 * "Replicas" below): the group's schema is created on first use, the newest
 * snapshot stored there is loaded, the log after it applied, and the
 * engine follows the log from then on. TNY_INVALID_ARGUMENT without a group
 * or with a journal (the log takes its place, R1); TNY_UNAVAILABLE when the
 * database cannot be reached; TNY_DATA_LOSS or TNY_FAILED_PRECONDITION as
 * the group's log and snapshots say. */
TNY_EXPORT tny_status tny_engine_new(const tny_engine_options* options,
                                     tny_engine** out_engine) TNY_NOEXCEPT;
/* Destroys the engine and everything in it. NULL does nothing. */
TNY_EXPORT void tny_engine_free(tny_engine* engine) TNY_NOEXCEPT;

/* P3: a record cut from a damaged journal that could still be read. */
typedef struct tny_lost_record {
  uint64_t lsn;
  const char* what; /* the change in words: "change: create_user", "consume: ..." */
} tny_lost_record;

/* P3: what opening a journal found, or what tny_journal_repair did. One
 * block: release it with tny_free(). Strings are "" when not set. */
typedef struct tny_journal_recovery {
  uint64_t records;          /* records read back whole */
  uint64_t torn_bytes;       /* a torn last record dropped (0: none) */
  int32_t damaged;           /* 1: damaged before its end */
  int32_t truncated;         /* 1: cut at the damage */
  const char* reason;        /* what the damage is */
  const char* segment;       /* the segment file it starts in */
  uint64_t offset;           /* its byte offset there */
  uint64_t kept_through_lsn; /* the last record kept */
  uint64_t lost_through_lsn; /* lost: kept_through_lsn + 1 .. this */
  size_t readable_count;     /* the lost records still readable, in lsn order */
  const tny_lost_record* readable;
  const char* set_aside; /* where the cut segments were kept */
  const char* report;    /* all of it as text, one fact per line */
} tny_journal_recovery;

/* P3: what opening `engine`'s journal found (all zeros without a journal). */
TNY_EXPORT tny_status tny_engine_journal_recovery(const tny_engine* engine,
                                                  tny_journal_recovery** out_recovery) TNY_NOEXCEPT;
/* P3: checks the journal directory `dir` and, unless `dry_run` (0 or 1), cuts
 * it at its first damage as TNY_JOURNAL_DAMAGE_TRUNCATE would; the report in
 * *out_recovery. TNY_FAILED_PRECONDITION while an engine holds the journal;
 * TNY_NOT_FOUND for a missing directory or one without a journal;
 * TNY_DATA_LOSS when its first segment's header is damaged (nothing can be
 * kept). */
TNY_EXPORT tny_status tny_journal_repair(const char* dir, int32_t dry_run,
                                         tny_journal_recovery** out_recovery) TNY_NOEXCEPT;

/* The revision of the newest published version (0 before any change). */
TNY_EXPORT tny_status tny_revision(const tny_engine* engine, uint64_t* out_revision) TNY_NOEXCEPT;

/* ---- Permission catalog (M7) -------------------------------------------- */

/* The interned id of a permission name ("contacts.view"); TNY_NOT_FOUND for
 * an unknown name. */
TNY_EXPORT tny_status tny_permission(const tny_engine* engine, const char* name,
                                     uint32_t* out_permission) TNY_NOEXCEPT;
/* Registers an application's own `resource.action` permission, or returns the
 * id of a known one. TNY_INVALID_ARGUMENT for a malformed name,
 * TNY_RESOURCE_EXHAUSTED past 4096 permissions. */
TNY_EXPORT tny_status tny_register_permission(tny_engine* engine, const char* name,
                                              uint32_t* out_permission) TNY_NOEXCEPT;
/* The name of an interned id, as a NUL-terminated block: tny_free() it.
 * TNY_NOT_FOUND when out of range. */
TNY_EXPORT tny_status tny_permission_name(const tny_engine* engine, uint32_t permission,
                                          char** out_name) TNY_NOEXCEPT;

/* ---- Tenancy: accounts, plans, users, staff (T1, T2, M1, M2) ----------- */

/* T2: a plan. With `custom` 0 only `name` counts, and names a built-in plan:
 * "starter" (1 workspace), "growth" (5), "scale" (25), "enterprise"
 * (unlimited, agency workspaces allowed); any other name is an unknown plan
 * (1 workspace, no agency). With `custom` 1 the plan is `workspace_limit`
 * workspaces (-1 = unlimited) and agency workspaces when `agency` is 1. */
typedef struct tny_plan {
  const char* name;
  int32_t custom;
  int32_t agency;
  int64_t workspace_limit;
} tny_plan;

#define TNY_ACCOUNT_SPEC_VERSION 1

/* T1, M2, M8: what an account starts with. Initialise with
 * TNY_ACCOUNT_SPEC_INIT. */
typedef struct tny_account_spec {
  uint32_t version;                 /* TNY_ACCOUNT_SPEC_VERSION */
  int32_t no_plan;                  /* 1: no plan at all (T2: limit 1) */
  const char* name;                 /* required */
  uint64_t owner;                   /* an existing user: the account's staff owner */
  const tny_plan* plan;             /* NULL = "starter" (ignored when no_plan) */
  const char* key;                  /* NULL or "" = none; else unique external key */
  const char* member_default_scope; /* NULL = "all"; or "none" (M2) */
  const char* staff_member_role;    /* NULL = "admin": workspace role of staff members */
} tny_account_spec;

#define TNY_ACCOUNT_SPEC_INIT \
  { TNY_ACCOUNT_SPEC_VERSION, 0, NULL, 0, NULL, NULL, NULL, NULL }

/* T1: creates an account owned by `spec->owner`. Statuses: TNY_INVALID_ARGUMENT
 * (name, key, scope, role, plan), TNY_NOT_FOUND (owner), TNY_ALREADY_EXISTS (key). */
TNY_EXPORT tny_status tny_create_account(tny_engine* engine, const tny_account_spec* spec,
                                         uint64_t* out_account) TNY_NOEXCEPT;

/* An account as tny_account() describes it (one block: tny_free() it). */
typedef struct tny_account_info {
  uint64_t id;
  const char* name;
  const char* key;       /* "" when none */
  const char* plan_name; /* "unset" when the account has no plan */
  int64_t workspace_limit;
  int32_t agency;
  int32_t plan_set;
  uint64_t owner;
  int64_t workspace_count;
} tny_account_info;

/* The account's name, key, plan and counts; TNY_NOT_FOUND for an unknown id. */
TNY_EXPORT tny_status tny_account(const tny_engine* engine, uint64_t account,
                                  tny_account_info** out_info) TNY_NOEXCEPT;
/* T2: changes the account's plan; needs account.manage_plan (or TNY_SYSTEM).
 * A lower limit never deletes workspaces, it stops new ones. */
TNY_EXPORT tny_status tny_set_plan(tny_engine* engine, uint64_t actor, uint64_t account,
                                   const tny_plan* plan) TNY_NOEXCEPT;

/* M1: creates a user; `key` (usually the e-mail) is unique. */
TNY_EXPORT tny_status tny_create_user(tny_engine* engine, const char* key,
                                      uint64_t* out_user) TNY_NOEXCEPT;
/* The user with that key; TNY_NOT_FOUND if absent. */
TNY_EXPORT tny_status tny_user(const tny_engine* engine, const char* key,
                               uint64_t* out_user) TNY_NOEXCEPT;

/* M2: a staff member's workspace scope: every workspace of the account
 * (`all` 1), or the `count` workspaces at `workspaces` (`all` 0; count 0 =
 * none, and then `workspaces` may be NULL). At most 100,000 workspaces. */
typedef struct tny_scope {
  int32_t all;
  const uint64_t* workspaces;
  size_t count;
} tny_scope;

/* M2: makes `user` staff of the account with account role `role` ("admin" or
 * "member"). `scope` may be NULL: the account's default for members. */
TNY_EXPORT tny_status tny_add_staff(tny_engine* engine, uint64_t actor, uint64_t account,
                                    uint64_t user, const char* role,
                                    const tny_scope* scope) TNY_NOEXCEPT;
/* M2: replaces a staff member's scope (`scope` required). Needs
 * account.manage_staff; TNY_NOT_FOUND when `user` is not staff. */
TNY_EXPORT tny_status tny_set_staff_scope(tny_engine* engine, uint64_t actor, uint64_t account,
                                          uint64_t user, const tny_scope* scope) TNY_NOEXCEPT;
/* M2: `user` stops being staff (the owner cannot be removed:
 * TNY_FAILED_PRECONDITION). Needs account.manage_staff. */
TNY_EXPORT tny_status tny_remove_staff(tny_engine* engine, uint64_t actor, uint64_t account,
                                       uint64_t user) TNY_NOEXCEPT;

/* A staff member's account role and scope (one block). */
typedef struct tny_staff_info {
  const char* role;
  int32_t all;
  size_t count;               /* when all == 0 */
  const uint64_t* workspaces; /* ascending */
} tny_staff_info;

/* TNY_NOT_FOUND when `user` is not staff of the account. */
TNY_EXPORT tny_status tny_staff(const tny_engine* engine, uint64_t account, uint64_t user,
                                tny_staff_info** out_info) TNY_NOEXCEPT;

/* ---- Workspaces (T3-T8) ------------------------------------------------- */

typedef enum tny_workspace_type {
  TNY_WORKSPACE_SIMPLE = 0,
  TNY_WORKSPACE_AGENCY = 1
} tny_workspace_type;
typedef enum tny_workspace_status {
  TNY_WORKSPACE_ACTIVE = 0,
  TNY_WORKSPACE_INACTIVE = 1
} tny_workspace_status;

#define TNY_WORKSPACE_SPEC_VERSION 1

/* T3, T4: how a workspace is created. Initialise with TNY_WORKSPACE_SPEC_INIT. */
typedef struct tny_workspace_spec {
  uint32_t version; /* TNY_WORKSPACE_SPEC_VERSION */
  int32_t type;     /* a tny_workspace_type */
  const char* name; /* required: 1-100 characters (T3) */
  const char* slug; /* NULL = derived from the name */
  uint64_t parent;  /* an agency workspace of the same account, or 0 */
  uint64_t owner;   /* 0 = the actor (the account owner when the actor is TNY_SYSTEM) */
} tny_workspace_spec;

#define TNY_WORKSPACE_SPEC_INIT \
  { TNY_WORKSPACE_SPEC_VERSION, TNY_WORKSPACE_SIMPLE, NULL, NULL, 0, 0 }

/* T3-T4: creates a workspace; needs account.create_workspace. Statuses:
 * TNY_INVALID_ARGUMENT (name, slug, type), TNY_ALREADY_EXISTS (slug),
 * TNY_RESOURCE_EXHAUSTED (plan limit, T2), TNY_PERMISSION_DENIED,
 * TNY_FAILED_PRECONDITION (depth, parent not an agency). */
TNY_EXPORT tny_status tny_create_workspace(tny_engine* engine, uint64_t actor, uint64_t account,
                                           const tny_workspace_spec* spec,
                                           uint64_t* out_workspace) TNY_NOEXCEPT;
/* T3: writes 1 to *out_available when `slug` is well-formed and free in the
 * account, else 0. */
TNY_EXPORT tny_status tny_slug_available(const tny_engine* engine, uint64_t account,
                                         const char* slug, int* out_available) TNY_NOEXCEPT;

/* A workspace as tny_workspace() describes it (one block). */
typedef struct tny_workspace_info {
  uint64_t id;
  uint64_t account;
  const char* name;
  const char* slug;
  int32_t type;   /* a tny_workspace_type */
  int32_t status; /* a tny_workspace_status */
  uint64_t parent;
  uint64_t owner;
  int32_t depth; /* 1 for a top-level workspace */
} tny_workspace_info;

/* The workspace's name, slug, type, status, parent, owner and depth;
 * TNY_NOT_FOUND for an unknown (or deleted) id. */
TNY_EXPORT tny_status tny_workspace(const tny_engine* engine, uint64_t workspace,
                                    tny_workspace_info** out_info) TNY_NOEXCEPT;
/* T3: a new name (the slug stays). Needs workspace.edit. */
TNY_EXPORT tny_status tny_rename_workspace(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                           const char* name) TNY_NOEXCEPT;
/* T5: `status` is a tny_workspace_status. */
TNY_EXPORT tny_status tny_set_status(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                     int32_t status) TNY_NOEXCEPT;
/* T6: sets a boolean setting ("beta_opt_in"); `value` is 0 or 1. */
TNY_EXPORT tny_status tny_set_setting_bool(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                           const char* name, int value) TNY_NOEXCEPT;
/* T6: sets an integer setting ("approval_timeout_s", "inactivity_timeout_s"). */
TNY_EXPORT tny_status tny_set_setting_int(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                          const char* name, int64_t value) TNY_NOEXCEPT;
/* T6: a setting's value (booleans as 0 or 1); TNY_NOT_FOUND for an unknown
 * workspace, TNY_INVALID_ARGUMENT for an unknown setting name. */
TNY_EXPORT tny_status tny_setting(const tny_engine* engine, uint64_t workspace, const char* name,
                                  int64_t* out_value) TNY_NOEXCEPT;
/* T7: deletes the workspace, its sub-workspaces and everything scoped to
 * them; `confirm` must equal the workspace's exact name. Needs
 * workspace.delete; refused for the account's only workspace and for the
 * actor's own active one (TNY_FAILED_PRECONDITION). */
TNY_EXPORT tny_status tny_delete_workspace(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                           const char* confirm) TNY_NOEXCEPT;

/* ---- Workspace roles (M3-M6, M10) and teams (M9) ------------------------ */

/* `role` is a built-in role (owner, admin, manager, member, viewer, client)
 * or one of the account's custom roles. Needs members.invite /
 * members.change_role / members.remove in the workspace (M10). */
TNY_EXPORT tny_status tny_add_member(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                     uint64_t user, const char* role) TNY_NOEXCEPT;
/* M3: changes a member's role; TNY_NOT_FOUND when `user` is not a member. */
TNY_EXPORT tny_status tny_set_role(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                   uint64_t user, const char* role) TNY_NOEXCEPT;
/* M3: removes a direct member; a member may always remove themselves. The
 * owner cannot be removed (TNY_FAILED_PRECONDITION; transfer ownership first). */
TNY_EXPORT tny_status tny_remove_member(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                        uint64_t user) TNY_NOEXCEPT;
/* M5: the current owner (or TNY_SYSTEM) hands the workspace to `new_owner`. */
TNY_EXPORT tny_status tny_transfer_ownership(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                             uint64_t new_owner) TNY_NOEXCEPT;
/* M6: defines or redefines a custom role of the account: `count` permission
 * names at `permissions` (may be NULL when count is 0), inheriting from
 * `inherits` (NULL or "" = nothing). Cycles are refused. Needs
 * account.manage_staff. */
TNY_EXPORT tny_status tny_define_role(tny_engine* engine, uint64_t actor, uint64_t account,
                                      const char* name, const char* const* permissions,
                                      size_t count, const char* inherits) TNY_NOEXCEPT;

/* A list of strings (one block). */
typedef struct tny_string_list {
  size_t count;
  const char* const* items;
} tny_string_list;

/* The resolved permission names of a built-in or custom role, sorted. */
TNY_EXPORT tny_status tny_role_permissions(const tny_engine* engine, uint64_t account,
                                           const char* role,
                                           tny_string_list** out_permissions) TNY_NOEXCEPT;
/* M9: a team in the workspace whose members hold `role` there. */
TNY_EXPORT tny_status tny_create_team(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                      const char* name, const char* role,
                                      uint64_t* out_team) TNY_NOEXCEPT;
/* M9: team membership changes; each needs members.invite (add) or
 * members.remove (remove) in the team's workspace, and the actor may only
 * hand out what it holds (M10). TNY_NOT_FOUND for an unknown team. */
TNY_EXPORT tny_status tny_add_team_member(tny_engine* engine, uint64_t actor, uint64_t team,
                                          uint64_t user) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_remove_team_member(tny_engine* engine, uint64_t actor, uint64_t team,
                                             uint64_t user) TNY_NOEXCEPT;
/* M9: every member of the team now holds `role` through it. */
TNY_EXPORT tny_status tny_set_team_role(tny_engine* engine, uint64_t actor, uint64_t team,
                                        const char* role) TNY_NOEXCEPT;
/* M9: deletes the team; its members keep only what they hold otherwise. */
TNY_EXPORT tny_status tny_delete_team(tny_engine* engine, uint64_t actor,
                                      uint64_t team) TNY_NOEXCEPT;

/* A team (one block). */
typedef struct tny_team_info {
  uint64_t id;
  uint64_t workspace;
  const char* name;
  const char* role;
  size_t member_count;
  const uint64_t* members; /* ascending */
} tny_team_info;

/* The team's workspace, name, role and members; TNY_NOT_FOUND if unknown. */
TNY_EXPORT tny_status tny_team(const tny_engine* engine, uint64_t team,
                               tny_team_info** out_info) TNY_NOEXCEPT;

/* A list of ids (one block); `ids` may be NULL when count is 0. */
typedef struct tny_id_list {
  size_t count;
  const uint64_t* ids;
} tny_id_list;

/* The workspace's teams, by id. */
TNY_EXPORT tny_status tny_teams(const tny_engine* engine, uint64_t workspace,
                                tny_id_list** out_teams) TNY_NOEXCEPT;

/* ---- Invitations (I1-I4) ------------------------------------------------ */

/* What tny_invite, tny_invite_staff and tny_resend return (one block). The
 * token is shown once; the engine keeps only its keyed hash. */
typedef struct tny_invitation_token {
  uint64_t id;
  const char* token;
  int64_t expires_at_ns;
} tny_invitation_token;

/* I1: invites `email` into the workspace with `role` (NULL = "client").
 * Needs members.invite. */
TNY_EXPORT tny_status tny_invite(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                 const char* email, const char* role,
                                 tny_invitation_token** out_invitation) TNY_NOEXCEPT;
/* I1, M2: invites `email` as staff of the account with account role `role`
 * ("admin" or "member") and, for members, `scope` (NULL = the default). */
TNY_EXPORT tny_status tny_invite_staff(tny_engine* engine, uint64_t actor, uint64_t account,
                                       const char* email, const char* role, const tny_scope* scope,
                                       tny_invitation_token** out_invitation) TNY_NOEXCEPT;
/* I3: `user` (whose key must be the invitation's e-mail) accepts; every rule
 * is checked again now. An unknown or superseded token: TNY_NOT_FOUND;
 * expired, revoked or used: TNY_FAILED_PRECONDITION. */
TNY_EXPORT tny_status tny_accept(tny_engine* engine, const char* token, uint64_t user) TNY_NOEXCEPT;
/* I2: a fresh token and expiry; the old token stops working. */
TNY_EXPORT tny_status tny_resend(tny_engine* engine, uint64_t actor, uint64_t invitation,
                                 tny_invitation_token** out_invitation) TNY_NOEXCEPT;
/* I2: the invitation stops working; TNY_FAILED_PRECONDITION when it was
 * already accepted or revoked. Needs members.invite. */
TNY_EXPORT tny_status tny_revoke_invitation(tny_engine* engine, uint64_t actor,
                                            uint64_t invitation) TNY_NOEXCEPT;

/* An invitation as the engine describes it (never the token). */
typedef struct tny_invitation_info {
  uint64_t id;
  int32_t staff; /* 1: a staff invitation (account role); 0: a workspace one */
  uint64_t account;
  uint64_t workspace; /* 0 for staff invitations */
  const char* email;
  const char* role;
  int64_t expires_at_ns;
  const char* state; /* "pending", "accepted", "revoked" or "expired" */
  uint64_t invited_by;
  uint64_t accepted_by;
} tny_invitation_info;

typedef struct tny_invitation_list {
  size_t count;
  const tny_invitation_info* items;
} tny_invitation_list;

/* An invitation and its state; TNY_NOT_FOUND for an unknown id. */
TNY_EXPORT tny_status tny_invitation(const tny_engine* engine, uint64_t invitation,
                                     tny_invitation_info** out_info) TNY_NOEXCEPT;
/* Every invitation of the workspace, by id. */
TNY_EXPORT tny_status tny_invitations(const tny_engine* engine, uint64_t workspace,
                                      tny_invitation_list** out_list) TNY_NOEXCEPT;

/* ---- Sessions (S1) ------------------------------------------------------ */

/* S1: makes `workspace` the user's active workspace (needs workspace.switch
 * there; an inactive workspace is TNY_FAILED_PRECONDITION). */
TNY_EXPORT tny_status tny_switch_workspace(tny_engine* engine, uint64_t user,
                                           uint64_t workspace) TNY_NOEXCEPT;
/* The active workspace, or 0 when there is none (or it timed out, T6). */
TNY_EXPORT tny_status tny_active_workspace(const tny_engine* engine, uint64_t user,
                                           uint64_t* out_workspace) TNY_NOEXCEPT;
/* Records activity in the user's session; TNY_FAILED_PRECONDITION when none. */
TNY_EXPORT tny_status tny_touch_session(tny_engine* engine, uint64_t user) TNY_NOEXCEPT;
/* Clears every session past its inactivity timeout; writes how many. */
TNY_EXPORT tny_status tny_expire_sessions(tny_engine* engine, uint64_t* out_count) TNY_NOEXCEPT;

/* ---- Checks (A1-A7): lock-free, never wait for a writer ----------------- */

/* A1: 1 when `user` holds `permission` in `workspace`, else 0. Unknown ids,
 * out-of-range permissions and a NULL engine deny. Never fails. */
TNY_EXPORT int tny_check(const tny_engine* engine, uint64_t user, uint64_t workspace,
                         uint32_t permission) TNY_NOEXCEPT;
/* A6: out[i] = tny_check(engine, users[i], workspaces[i], permissions[i]) for
 * i < count, all answered by one version. The arrays may be NULL only when
 * count is 0. */
TNY_EXPORT tny_status tny_check_many(const tny_engine* engine, const uint64_t* users,
                                     const uint64_t* workspaces, const uint32_t* permissions,
                                     size_t count, uint8_t* out) TNY_NOEXCEPT;

typedef enum tny_access_path {
  TNY_PATH_NONE = 0,     /* denied */
  TNY_PATH_DIRECT = 1,   /* a role held in the workspace itself */
  TNY_PATH_TEAM = 2,     /* a role held by one of the user's teams there (M9) */
  TNY_PATH_STAFF = 3,    /* the account role, the workspace in the staff scope */
  TNY_PATH_INHERITED = 4 /* a role held in an ancestor agency workspace (A3) */
} tny_access_path;

/* A4: a decision and why (one block). */
typedef struct tny_decision {
  int32_t allowed;
  int32_t path;     /* a tny_access_path */
  const char* role; /* the role that granted; "" when denied */
  uint64_t via_workspace;
  uint64_t via_team;
  const char* reason; /* a sentence, both when allowed and when denied */
} tny_decision;

/* A4: TNY_INVALID_ARGUMENT for an out-of-range permission. */
TNY_EXPORT tny_status tny_explain(const tny_engine* engine, uint64_t user, uint64_t workspace,
                                  uint32_t permission, tny_decision** out_decision) TNY_NOEXCEPT;
/* A5: active workspaces the user may switch into, ordered by name (then id). */
TNY_EXPORT tny_status tny_workspaces_for(const tny_engine* engine, uint64_t user,
                                         tny_id_list** out_workspaces) TNY_NOEXCEPT;

typedef struct tny_member {
  uint64_t user;
  const char* role;
} tny_member;

typedef struct tny_member_list {
  size_t count;
  const tny_member* items;
} tny_member_list;

/* A5: direct members and their roles, by user id; TNY_NOT_FOUND for an
 * unknown workspace. */
TNY_EXPORT tny_status tny_members(const tny_engine* engine, uint64_t workspace,
                                  tny_member_list** out_members) TNY_NOEXCEPT;
/* A5: every user for whom the check holds in the workspace, by id. */
TNY_EXPORT tny_status tny_who_can(const tny_engine* engine, uint64_t workspace, uint32_t permission,
                                  tny_id_list** out_users) TNY_NOEXCEPT;
/* A5: every workspace where the check holds for the user, by id. */
TNY_EXPORT tny_status tny_accessible(const tny_engine* engine, uint64_t user, uint32_t permission,
                                     tny_id_list** out_workspaces) TNY_NOEXCEPT;
/* A7: the check and a consume of `amount` from `meter` as one step against one
 * version. *out_allowed is 1 when allowed and debited, 0 when denied (nothing
 * debited, TNY_OK). Allowed but refused by the consume (insufficient credits,
 * inactive workspace ...): that status, nothing debited. Lock-free. */
TNY_EXPORT tny_status tny_authorize_and_consume(tny_engine* engine, uint64_t user,
                                                uint64_t workspace, uint32_t permission,
                                                int64_t amount, uint32_t meter,
                                                int* out_allowed) TNY_NOEXCEPT;

/* ---- Credits and quotas (C1-C8) ----------------------------------------- */
/* Amounts are int64 in the meter's smallest unit; every amount moved is > 0.
 * A sum past INT64_MAX (pools) or 2^42-1 (a workspace) is
 * TNY_RESOURCE_EXHAUSTED, never a wrap. Unknown meters, buckets, accounts and
 * workspaces are TNY_NOT_FOUND. Bucket arguments may be NULL: "regular". */

#define TNY_METER_CREDITS 0u /* buckets "regular" then "extra" */
#define TNY_METER_MINUTES 1u /* one bucket, "regular" */

/* C1: defines an application's meter with `count` (1 or 2) buckets in
 * priority order. The same definition again does nothing; another one is
 * TNY_ALREADY_EXISTS. */
TNY_EXPORT tny_status tny_define_meter(tny_engine* engine, const char* name,
                                       const char* const* buckets, size_t count,
                                       uint32_t* out_meter) TNY_NOEXCEPT;
/* The id of a meter name; TNY_NOT_FOUND when unknown. */
TNY_EXPORT tny_status tny_meter_id(const tny_engine* engine, const char* name,
                                   uint32_t* out_meter) TNY_NOEXCEPT;

/* A meter (one block). */
typedef struct tny_meter_info {
  uint32_t id;
  const char* name;
  size_t bucket_count;    /* 1 or 2 */
  const char* buckets[2]; /* in priority order; buckets[1] is "" for one bucket */
} tny_meter_info;

/* C1: a meter's name and buckets; TNY_NOT_FOUND for an unknown id. */
TNY_EXPORT tny_status tny_meter(const tny_engine* engine, uint32_t meter,
                                tny_meter_info** out_info) TNY_NOEXCEPT;
/* C2: adds `amount` to the account's pool bucket; the actor is TNY_SYSTEM or
 * holds billing.manage in the account. */
TNY_EXPORT tny_status tny_grant(tny_engine* engine, uint64_t actor, uint64_t account,
                                int64_t amount, uint32_t meter, const char* bucket) TNY_NOEXCEPT;
/* C3: moves `amount` from the pool to the workspace, regular first; writes what
 * was taken per bucket to out_taken[0..1] (out_taken may be NULL). Needs
 * credits.transfer. TNY_RESOURCE_EXHAUSTED, nothing moved, when short. */
TNY_EXPORT tny_status tny_transfer(tny_engine* engine, uint64_t actor, uint64_t account,
                                   uint64_t workspace, int64_t amount, uint32_t meter,
                                   int64_t out_taken[2]) TNY_NOEXCEPT;
/* C4: moves `amount` from the workspace's bucket back to the pool. */
TNY_EXPORT tny_status tny_revoke(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                 int64_t amount, uint32_t meter, const char* bucket) TNY_NOEXCEPT;
/* C5: debits `amount`, regular first, in one atomic step, never below zero
 * (TNY_RESOURCE_EXHAUSTED, nothing debited); TNY_FAILED_PRECONDITION on an
 * inactive workspace (T5). Writes what is available after to
 * *out_available (may be NULL). Lock-free. */
TNY_EXPORT tny_status tny_consume(tny_engine* engine, uint64_t workspace, int64_t amount,
                                  uint32_t meter, int64_t* out_available) TNY_NOEXCEPT;
/* C5: tny_consume with an idempotency key (1-256 bytes, scoped to workspace
 * and meter): a retry within the idempotency window returns the first
 * result, success or refusal, without a second debit; a retry with another
 * amount is TNY_INVALID_ARGUMENT. */
TNY_EXPORT tny_status tny_consume_keyed(tny_engine* engine, uint64_t workspace, int64_t amount,
                                        uint32_t meter, const char* key,
                                        int64_t* out_available) TNY_NOEXCEPT;
/* C6: holds `amount` apart for `ttl_s` seconds (1 .. 30 days), drawn like a
 * consume. Lock-free. TNY_RESOURCE_EXHAUSTED also when every reservation
 * slot is live. */
TNY_EXPORT tny_status tny_reserve(tny_engine* engine, uint64_t workspace, int64_t amount,
                                  uint32_t meter, int64_t ttl_s,
                                  uint64_t* out_reservation) TNY_NOEXCEPT;
/* C6: debits `actual` (0 <= actual <= held) and returns the rest. TNY_NOT_FOUND
 * for an unknown or settled reservation; TNY_FAILED_PRECONDITION once expired. */
TNY_EXPORT tny_status tny_commit(tny_engine* engine, uint64_t reservation,
                                 int64_t actual) TNY_NOEXCEPT;
/* C6: returns the whole hold to its buckets. */
TNY_EXPORT tny_status tny_release(tny_engine* engine, uint64_t reservation) TNY_NOEXCEPT;
/* C6: releases every reservation past its expiry; writes how many. */
TNY_EXPORT tny_status tny_expire_reservations(tny_engine* engine, uint64_t* out_count) TNY_NOEXCEPT;

/* C6: a live reservation (filled by the caller's struct). */
typedef struct tny_reservation_info {
  uint64_t id;
  uint64_t workspace;
  uint32_t meter;
  int64_t held[2]; /* per bucket it was drawn from */
  int64_t expires_at_ns;
} tny_reservation_info;

/* TNY_NOT_FOUND once settled, released or expired. */
TNY_EXPORT tny_status tny_reservation(const tny_engine* engine, uint64_t reservation,
                                      tny_reservation_info* out_info) TNY_NOEXCEPT;

/* C3-C7: a workspace's holding of one meter. */
typedef struct tny_balance_info {
  int64_t buckets[2]; /* spendable, per bucket in priority order */
  int64_t held;       /* held apart by reservations */
  int64_t consumed;   /* debited by consumes and commits, ever */
} tny_balance_info;

/* Lock-free; one atomic read of the buckets. */
TNY_EXPORT tny_status tny_balance(const tny_engine* engine, uint64_t workspace, uint32_t meter,
                                  tny_balance_info* out_balance) TNY_NOEXCEPT;

/* C2, C8: an account's pool of one meter. */
typedef struct tny_account_balance_info {
  int64_t buckets[2];          /* the pool, per bucket */
  int64_t granted;             /* every grant, summed */
  int64_t consumed_by_deleted; /* consumed by workspaces since deleted (T7) */
} tny_account_balance_info;

/* C2: the account's pool of `meter` (zeros before the first grant). */
TNY_EXPORT tny_status tny_account_balance(const tny_engine* engine, uint64_t account,
                                          uint32_t meter,
                                          tny_account_balance_info* out_balance) TNY_NOEXCEPT;

typedef enum tny_ledger_kind {
  TNY_LEDGER_GRANT = 0,
  TNY_LEDGER_TRANSFER = 1,
  TNY_LEDGER_REVOKE = 2,
  TNY_LEDGER_COMMIT = 3,
  TNY_LEDGER_RELEASE = 4,
  TNY_LEDGER_EXPIRE = 5,
  TNY_LEDGER_RETURN_ON_DELETE = 6
} tny_ledger_kind;

/* C7: one ledger entry; `sequence` strictly increases from 1. */
typedef struct tny_ledger_entry {
  uint64_t sequence;
  uint64_t revision;
  int64_t time_ns;
  uint64_t actor; /* TNY_SYSTEM for commits, releases and expiries */
  uint64_t account;
  uint64_t workspace; /* 0 for a grant */
  uint32_t meter;
  int32_t kind;        /* a tny_ledger_kind */
  int64_t amounts[2];  /* moved or debited, per bucket */
  int64_t returned[2]; /* commit, release, expire: back to the buckets */
  uint64_t reservation;
} tny_ledger_entry;

typedef struct tny_ledger_list {
  size_t count;
  const tny_ledger_entry* items;
} tny_ledger_list;

#define TNY_LEDGER_QUERY_VERSION 1

/* Which entries tny_ledger() returns (all conditions hold; 0 = any). */
typedef struct tny_ledger_query {
  uint32_t version;        /* TNY_LEDGER_QUERY_VERSION */
  uint64_t account;        /* 0 = any account */
  uint64_t workspace;      /* 0 = any workspace */
  int64_t since_ns;        /* entries with time_ns >= since_ns */
  uint64_t after_sequence; /* entries with sequence > after_sequence */
} tny_ledger_query;

#define TNY_LEDGER_QUERY_INIT \
  { TNY_LEDGER_QUERY_VERSION, 0, 0, 0, 0 }

/* C7: retained entries matching `query` (NULL = all), oldest first.
 * TNY_FAILED_PRECONDITION when entries asked for have left memory. */
TNY_EXPORT tny_status tny_ledger(const tny_engine* engine, const tny_ledger_query* query,
                                 tny_ledger_list** out_entries) TNY_NOEXCEPT;

/* ---- Change feed (L1), invariants (C8), statistics ---------------------- */

/* L1: one change of the audit trail. */
typedef struct tny_change {
  uint64_t revision;
  int64_t time_ns;
  uint64_t actor;
  uint64_t account;   /* 0 when not inside an account */
  uint64_t workspace; /* 0 when not inside a workspace */
  const char* what;   /* the operation and its arguments */
} tny_change;

typedef struct tny_change_list {
  size_t count;
  const tny_change* items;
} tny_change_list;

/* L1: every change with a revision above `revision`, in order.
 * TNY_FAILED_PRECONDITION when some have left memory (feed_retention). */
TNY_EXPORT tny_status tny_changes_since(const tny_engine* engine, uint64_t revision,
                                        tny_change_list** out_changes) TNY_NOEXCEPT;
/* Checks every invariant, conservation of credits included (C8);
 * TNY_DATA_LOSS naming the first broken one. Never stops checks or consumes. */
TNY_EXPORT tny_status tny_verify(const tny_engine* engine) TNY_NOEXCEPT;

typedef struct tny_stats_info {
  uint64_t accounts;
  uint64_t users;
  uint64_t workspaces;
  uint64_t memberships;
} tny_stats_info;

/* Live entity counts. */
TNY_EXPORT tny_status tny_stats(const tny_engine* engine, tny_stats_info* out_stats) TNY_NOEXCEPT;

/* ---- Snapshots (P1, P2, P4) ---------------------------------------------- */

/* The snapshot format version this library writes (major * 1000 + minor). */
#define TNY_SNAPSHOT_FORMAT_VERSION 1002

/* P1: writes one consistent cut of the engine to `path` (NUL-terminated):
 * a temporary file beside it, flushed, renamed over `path`, the directory
 * flushed; a crash leaves the previous file or the new one. Reads and
 * changes go on meanwhile (the writer lock is held only while the cut is
 * copied). The file holds the engine's secrets (created with mode 0600).
 * Statuses: TNY_INVALID_ARGUMENT (empty path, a directory), TNY_NOT_FOUND
 * (no such directory), TNY_PERMISSION_DENIED, TNY_RESOURCE_EXHAUSTED (disk
 * full, or a state over 2 GiB), TNY_INTERNAL (another I/O error). */
TNY_EXPORT tny_status tny_save(const tny_engine* engine, const char* path) TNY_NOEXCEPT;

/* P2: a new engine from the snapshot at `path`, with `options` (NULL = the
 * defaults; the clock and capacities are the new engine's). The file is never
 * trusted: anything wrong with it (damaged, truncated, foreign, a newer major
 * format version, a broken invariant) is TNY_DATA_LOSS with the reason, and
 * no engine is made. Free the engine with tny_engine_free().
 * P3 recovery: with options->journal, the journal's records after the
 * snapshot are replayed and the engine goes on journaling there. A journal
 * of another engine or snapshot is TNY_FAILED_PRECONDITION; one whose older
 * records a newer snapshot dropped is TNY_DATA_LOSS (load the newest). With
 * a journal, tny_save also truncates it: the saved records are dropped.
 * options->log is refused (TNY_INVALID_ARGUMENT, R5): a replica loads its
 * group's snapshots from the database (tny_engine_new). */
TNY_EXPORT tny_status tny_load(const char* path, const tny_engine_options* options,
                               tny_engine** out_engine) TNY_NOEXCEPT;

/* ---- Batches (X2) ------------------------------------------------------- */
/* A list of changes applied by tny_apply() as one: all become visible
 * together, or, when one fails, none does and tny_last_error() names the
 * failing change by its index, counted from 0 ("change #2 (add_member)
 * failed; nothing was applied: ..." is the third change). The tny_batch_*
 * functions mirror the engine's and take the same arguments. Recording checks
 * only what needs no engine (NULL, struct versions, 0/1 flags, enum values,
 * scopes, string arrays): such a refusal is TNY_INVALID_ARGUMENT and records
 * nothing. Every rule is checked by tny_apply, which also refuses a batch of
 * more than 10,000,000 changes. Not thread-safe. */

typedef struct tny_batch tny_batch;

/* An empty batch; free it with tny_batch_free() (NULL does nothing). */
TNY_EXPORT tny_status tny_batch_new(tny_batch** out_batch) TNY_NOEXCEPT;
TNY_EXPORT void tny_batch_free(tny_batch* batch) TNY_NOEXCEPT;
/* The number of changes recorded. */
TNY_EXPORT tny_status tny_batch_size(const tny_batch* batch, size_t* out_size) TNY_NOEXCEPT;
/* Applies the batch in one published version. `out_ids` (may be NULL)
 * receives one id per change, in order: the id created, or 0. The batch is
 * left as it was and can be applied again (to this or another engine). */
TNY_EXPORT tny_status tny_apply(tny_engine* engine, const tny_batch* batch,
                                tny_id_list** out_ids) TNY_NOEXCEPT;

/* The recording functions: each appends the change of the tny_* function
 * of the same name (same arguments, same rules, checked by tny_apply). */
TNY_EXPORT tny_status tny_batch_create_user(tny_batch* batch, const char* key) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_create_account(tny_batch* batch,
                                               const tny_account_spec* spec) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_plan(tny_batch* batch, uint64_t actor, uint64_t account,
                                         const tny_plan* plan) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_add_staff(tny_batch* batch, uint64_t actor, uint64_t account,
                                          uint64_t user, const char* role,
                                          const tny_scope* scope) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_staff_scope(tny_batch* batch, uint64_t actor, uint64_t account,
                                                uint64_t user, const tny_scope* scope) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_remove_staff(tny_batch* batch, uint64_t actor, uint64_t account,
                                             uint64_t user) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_create_workspace(tny_batch* batch, uint64_t actor, uint64_t account,
                                                 const tny_workspace_spec* spec) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_rename_workspace(tny_batch* batch, uint64_t actor,
                                                 uint64_t workspace, const char* name) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_status(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                           int32_t status) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_setting_bool(tny_batch* batch, uint64_t actor,
                                                 uint64_t workspace, const char* name,
                                                 int value) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_setting_int(tny_batch* batch, uint64_t actor,
                                                uint64_t workspace, const char* name,
                                                int64_t value) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_add_member(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                           uint64_t user, const char* role) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_role(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                         uint64_t user, const char* role) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_remove_member(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                              uint64_t user) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_transfer_ownership(tny_batch* batch, uint64_t actor,
                                                   uint64_t workspace,
                                                   uint64_t new_owner) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_switch_workspace(tny_batch* batch, uint64_t user,
                                                 uint64_t workspace) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_define_role(tny_batch* batch, uint64_t actor, uint64_t account,
                                            const char* name, const char* const* permissions,
                                            size_t count, const char* inherits) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_create_team(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                            const char* name, const char* role) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_add_team_member(tny_batch* batch, uint64_t actor, uint64_t team,
                                                uint64_t user) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_remove_team_member(tny_batch* batch, uint64_t actor, uint64_t team,
                                                   uint64_t user) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_set_team_role(tny_batch* batch, uint64_t actor, uint64_t team,
                                              const char* role) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_delete_team(tny_batch* batch, uint64_t actor,
                                            uint64_t team) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_accept(tny_batch* batch, const char* token,
                                       uint64_t user) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_revoke_invitation(tny_batch* batch, uint64_t actor,
                                                  uint64_t invitation) TNY_NOEXCEPT;
TNY_EXPORT tny_status tny_batch_delete_workspace(tny_batch* batch, uint64_t actor,
                                                 uint64_t workspace,
                                                 const char* confirm) TNY_NOEXCEPT;

/* ---- Replicas (R1-R8) ----------------------------------------------------- */
/* An engine made by tny_engine_new with options->log is a replica of the
 * group options->group: it follows the group's log, kept in PostgreSQL
 * beside the group's snapshots (docs/replication.md). Every change (and
 * every consume) goes through the log: it takes the log's head lock, runs at
 * the head and is appended there, then returns; the other replicas apply it
 * when their follower reads it. Such a call may wait for the database (up to
 * log_lock_timeout_ms) and fail with TNY_UNAVAILABLE: its outcome is then
 * unknown, and retrying it with tny_last_error_change_id() through
 * tny_apply_with_id applies it at most once (R7). Reads never wait and
 * answer from the replica's last applied position; to read a change made
 * elsewhere, wait for its position (tny_last_change_position there,
 * tny_wait_for here: R4). A log that changed under the replica, or a record
 * of a newer format, stops its changes (TNY_DATA_LOSS,
 * TNY_FAILED_PRECONDITION); reads go on. Consumes run on the replica's
 * lease when it covers them, else (and always with a key) through the log;
 * reservations (tny_reserve, tny_commit, tny_release) go through the log
 * and are usable from any replica (R6). tny_engine_free returns the leases
 * and stops following.
 * The functions below are safe from any thread. */

/* R1: writes 1 to *out_replica when the engine is a replica, else 0. */
TNY_EXPORT tny_status tny_is_replica(const tny_engine* engine, int* out_replica) TNY_NOEXCEPT;
/* R4: the last position of the group's log applied to this engine (0 for an
 * engine that is no replica). */
TNY_EXPORT tny_status tny_position(const tny_engine* engine, int64_t* out_position) TNY_NOEXCEPT;
/* R4: the position of the last change the calling thread made on this
 * engine (0 if none): tny_wait_for(other, it, ...) on another replica makes
 * that change readable there. */
TNY_EXPORT tny_status tny_last_change_position(const tny_engine* engine,
                                               int64_t* out_position) TNY_NOEXCEPT;
/* R4: returns TNY_OK once tny_position() >= `position`, or
 * TNY_DEADLINE_EXCEEDED naming both positions after `timeout_ms` (0 = do
 * not wait; negative: TNY_INVALID_ARGUMENT). A replica that stopped
 * applying (closed, data loss, a record of a newer format) returns at once,
 * with why. On an engine that is no replica: TNY_OK for position 0,
 * TNY_FAILED_PRECONDITION (R4) for any later one. */
TNY_EXPORT tny_status tny_wait_for(const tny_engine* engine, int64_t position,
                                   int64_t timeout_ms) TNY_NOEXCEPT;
/* R7: tny_apply with the change's id: NULL or "" = a new id; at most 200
 * bytes. A change whose id the log already holds is not applied again: it
 * is answered from the log, with the ids it returned when this replica
 * still remembers them (else *out_ids is an empty list), and the same id
 * for another batch is TNY_INVALID_ARGUMENT (R7). On an engine that is no
 * replica the id is ignored. */
TNY_EXPORT tny_status tny_apply_with_id(tny_engine* engine, const tny_batch* batch,
                                        const char* change_id, tny_id_list** out_ids) TNY_NOEXCEPT;

/* R8: what tny_prepare returns (one block: tny_free() it). `record` holds
 * `record_size` bytes (binary, not NUL-terminated); the strings are
 * NUL-terminated. */
typedef struct tny_prepared_change {
  int64_t expected_position; /* $1: the replica's head when prepared */
  const char* change_id;     /* $2 */
  size_t record_size;
  const uint8_t* record;  /* $3: bytea */
  int32_t format_version; /* $4 */
  const char* sql;        /* SELECT <group>.append_if_head($1, $2, $3, $4) */
} tny_prepared_change;

/* R8: validates `batch` at the replica's head and returns what the
 * application appends inside its own database transaction: it runs `sql`
 * with the four parameters above (libpq: PQexecParams, the record as a
 * binary parameter), which returns the change's position. The change
 * commits or rolls back with the application's rows; every replica applies
 * it after the commit; nothing is applied here. A head that moved since
 * fails that statement with SQLSTATE TN001: roll back, prepare again and
 * retry. Use READ COMMITTED (REPEATABLE READ or SERIALIZABLE fail with a
 * serialization error when another replica appended meanwhile), and keep
 * the transaction short: it holds the log's head lock until it ends.
 * A batch the engine refuses is refused here as by tny_apply.
 * `change_id` as for tny_apply_with_id. TNY_FAILED_PRECONDITION (R8) on an
 * engine that is no replica. */
TNY_EXPORT tny_status tny_prepare(tny_engine* engine, const tny_batch* batch, const char* change_id,
                                  tny_prepared_change** out_prepared) TNY_NOEXCEPT;
/* R5: in a process forked after the replica was made (a pre-forking
 * server's worker): gives this process its own replica id and connections
 * and starts following; until then its changes are refused
 * (TNY_FAILED_PRECONDITION naming R5) while reads go on. TNY_OK and nothing
 * done on an engine that was not forked or is no replica. */
TNY_EXPORT tny_status tny_follow(tny_engine* engine) TNY_NOEXCEPT;
/* R5: stops following the log: from then on changes are refused
 * (TNY_FAILED_PRECONDITION), reads go on at the last applied position, and
 * waits in tny_wait_for return. Idempotent; does nothing on an engine that
 * is no replica. The engine is still freed with tny_engine_free. */
TNY_EXPORT tny_status tny_close(tny_engine* engine) TNY_NOEXCEPT;
/* R5: stores a snapshot of the replica's state at its position in the
 * group's database (new replicas start from the newest one) and writes that
 * position. Reads and changes go on meanwhile. TNY_FAILED_PRECONDITION (R5)
 * on an engine that is no replica. */
TNY_EXPORT tny_status tny_save_snapshot_to_log(const tny_engine* engine,
                                               int64_t* out_position) TNY_NOEXCEPT;
/* R5: removes the log's records below the older of the two newest stored
 * snapshots, and the snapshots older than it; writes the first position
 * kept (1: nothing removed, fewer than two snapshots). A replica that needs
 * a removed record is refused, naming the snapshot to load.
 * TNY_FAILED_PRECONDITION (R5) on an engine that is no replica. */
TNY_EXPORT tny_status tny_truncate_log(const tny_engine* engine,
                                       int64_t* out_first_kept) TNY_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TENANTRY_TENANTRY_H_ */
