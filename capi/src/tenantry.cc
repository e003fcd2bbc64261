// Copyright 2026 The tenantry Authors.
//
// The C ABI (tenantry.h) over tenantry::Engine. This file converts and
// nothing else: C arguments to engine arguments, absl::Status to tny_status,
// engine results to library-owned blocks. Every entry point is noexcept and
// catches everything (Guard), so no exception crosses the boundary.
#include "tenantry/tenantry.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "tenantry/engine.h"
#include "tenantry/replica.h"
#include "tenantry/snapshot.h"
#include "tenantry/status.h"

static_assert(TNY_SYSTEM == tenantry::kSystem);
static_assert(TNY_METER_CREDITS == tenantry::kCredits && TNY_METER_MINUTES == tenantry::kMinutes);
static_assert(static_cast<int>(TNY_PATH_INHERITED) ==
              static_cast<int>(tenantry::AccessPath::kInherited));
static_assert(static_cast<int>(TNY_LEDGER_RETURN_ON_DELETE) ==
              static_cast<int>(tenantry::LedgerKind::kReturnOnDelete));
static_assert(TNY_SNAPSHOT_FORMAT_VERSION == tenantry::kSnapshotFormatVersion);
static_assert(TNY_VERSION_NUMBER ==
              TNY_VERSION_MAJOR * 1000000 + TNY_VERSION_MINOR * 1000 + TNY_VERSION_PATCH);

// A tny_engine* is a tenantry::Engine* (never dereferenced as anything
// else): no wrapper, so tny_check costs what Engine::check costs.
static tenantry::Engine& Of(tny_engine* engine) {
  return *reinterpret_cast<tenantry::Engine*>(engine);
}
static const tenantry::Engine& Of(const tny_engine* engine) {
  return *reinterpret_cast<const tenantry::Engine*>(engine);
}
static tny_engine* HandleOf(tenantry::Engine* engine) {
  return reinterpret_cast<tny_engine*>(engine);
}

struct tny_batch {
  tenantry::Batch batch;
};

namespace {

using tenantry::Engine;

// ---- Errors ----

// The calling thread's last failure: its message, its rule ids ("C5,C6")
// and the id of the change it failed to make on a replica (R7). `fallback`
// is used when even the message could not be stored (out of memory); the
// ids are then "".
thread_local std::string tls_error;
thread_local std::string tls_rules;
thread_local std::string tls_change_id;
thread_local const char* tls_fallback = nullptr;

void RecordingFailed() noexcept {
  tls_rules.clear();
  tls_change_id.clear();
  tls_fallback = "out of memory while recording an error";
}

// A failure of the C layer itself (a NULL, an exception): it names no rule.
tny_status Fail(tny_status status, absl::string_view a, absl::string_view b = {},
                absl::string_view c = {}, absl::string_view d = {}) noexcept {
  try {
    tls_error = absl::StrCat(a, b, c, d);
    tls_rules.clear();
    tls_change_id.clear();
    tls_fallback = nullptr;
  } catch (...) {
    RecordingFailed();
  }
  return status;
}

tny_status CodeOf(absl::StatusCode code) noexcept {
  switch (code) {
    case absl::StatusCode::kOk:
      return TNY_OK;
    case absl::StatusCode::kInvalidArgument:
      return TNY_INVALID_ARGUMENT;
    case absl::StatusCode::kNotFound:
      return TNY_NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return TNY_ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied:
      return TNY_PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted:
      return TNY_RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition:
      return TNY_FAILED_PRECONDITION;
    case absl::StatusCode::kDataLoss:
      return TNY_DATA_LOSS;
    case absl::StatusCode::kDeadlineExceeded:
      return TNY_DEADLINE_EXCEEDED;
    case absl::StatusCode::kUnavailable:
      return TNY_UNAVAILABLE;
    default:
      return TNY_INTERNAL;
  }
}

// The engine's failure: its message, and its rule ids from the payload.
tny_status Report(const absl::Status& status) noexcept {
  if (status.ok()) return TNY_OK;
  try {
    tls_error = std::string(status.message());
    tls_rules = absl::StrJoin(tenantry::RulesOf(status), ",");
    tls_change_id = tenantry::ChangeIdOf(status);
    tls_fallback = nullptr;
  } catch (...) {
    RecordingFailed();
  }
  return CodeOf(status.code());
}

tny_status NullArgument(const char* function, const char* argument) noexcept {
  return Fail(TNY_INVALID_ARGUMENT, function, ": ", argument, " must not be NULL");
}

// Runs an entry point's body; anything thrown becomes TNY_INTERNAL.
template <typename Body>
tny_status Guard(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(TNY_INTERNAL, function, ": out of memory");
  } catch (const std::exception& e) {
    return Fail(TNY_INTERNAL, function, ": internal error: ", e.what());
  } catch (...) {
    return Fail(TNY_INTERNAL, function, ": internal error");
  }
}

// Writes a value result to `out` only on success.
template <typename T, typename Out>
tny_status Put(absl::StatusOr<T> result, Out* out) {
  if (!result.ok()) return Report(result.status());
  *out = static_cast<Out>(*std::move(result));
  return TNY_OK;
}

// A C flag: 0 or 1; anything else is a caller's bug worth naming.
absl::StatusOr<bool> Flag(int32_t value, const char* what) {
  if (value == 0 || value == 1) return value == 1;
  return absl::InvalidArgumentError(absl::StrCat(what, " must be 0 or 1; got ", value));
}

// Checks a versioned struct's `version`: known versions are 1..`current`.
absl::Status Version(uint32_t version, uint32_t current, const char* what) {
  if (version >= 1 && version <= current) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " version ", version,
                                                 " is not one this library knows (1..", current,
                                                 "); initialise the struct with its _INIT macro"));
}

// ---- Blocks: one allocation holding a result, its arrays and strings ----

// Bytes a block needs for `n` values of T (with room to align them).
template <typename T>
size_t Bytes(size_t n = 1) {
  return n * sizeof(T) + alignof(T);
}
size_t Bytes(absl::string_view text) { return text.size() + 1; }
template <typename Items, typename Size>
size_t SumBytes(const Items& items, Size size) {
  size_t total = 0;
  for (const auto& item : items) total += size(item);
  return total;
}

// Hands out aligned pieces of one malloc'd block, in order; the first piece
// is at the block's start, so tny_free() of the result frees the whole block.
// Sizes are computed up front; running past them is a bug (TNY_INTERNAL),
// never an overflow.
class Block {
 public:
  explicit Block(size_t bytes) : base_(static_cast<char*>(std::calloc(1, bytes))), size_(bytes) {
    if (base_ == nullptr) throw std::bad_alloc();
  }
  ~Block() { std::free(base_); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  template <typename T>
  T* Take(size_t n = 1) {
    const size_t at = (used_ + alignof(T) - 1) / alignof(T) * alignof(T);
    if (at + n * sizeof(T) > size_) throw std::logic_error("result block too small");
    used_ = at + n * sizeof(T);
    return reinterpret_cast<T*>(base_ + at);
  }
  const char* Copy(absl::string_view text) {
    char* out = Take<char>(text.size() + 1);
    if (!text.empty()) std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
    return out;
  }
  const uint64_t* CopyIds(const std::vector<uint64_t>& ids) {
    uint64_t* out = Take<uint64_t>(ids.size());
    if (!ids.empty()) std::memcpy(out, ids.data(), ids.size() * sizeof(uint64_t));
    return out;
  }
  // Gives the block to the caller.
  template <typename T>
  T* Release() {
    return reinterpret_cast<T*>(std::exchange(base_, nullptr));
  }

 private:
  char* base_;
  size_t size_;
  size_t used_ = 0;
};

size_t IdsBytes(size_t count) { return Bytes<tny_id_list>() + Bytes<uint64_t>(count); }

tny_id_list* FillIds(Block& block, const std::vector<uint64_t>& ids) {
  tny_id_list* list = block.Take<tny_id_list>();
  list->count = ids.size();
  list->ids = block.CopyIds(ids);
  return block.Release<tny_id_list>();
}

tny_id_list* PackIds(const std::vector<uint64_t>& ids) {
  Block block(IdsBytes(ids.size()));
  return FillIds(block, ids);
}

tny_string_list* PackStrings(const std::vector<std::string>& items) {
  Block block(Bytes<tny_string_list>() + Bytes<const char*>(items.size()) +
              SumBytes(items, [](const std::string& s) { return Bytes(s); }));
  tny_string_list* list = block.Take<tny_string_list>();
  const char** pointers = block.Take<const char*>(items.size());
  for (size_t i = 0; i < items.size(); ++i) pointers[i] = block.Copy(items[i]);
  list->count = items.size();
  list->items = pointers;
  return block.Release<tny_string_list>();
}

size_t InfoBytes(const tenantry::InvitationInfo& i) {
  return Bytes(i.email) + Bytes(i.role) + Bytes(i.state);
}

void FillInvitationInfo(Block& block, const tenantry::InvitationInfo& in,
                        tny_invitation_info* out) {
  out->id = in.id;
  out->staff = in.staff ? 1 : 0;
  out->account = in.account;
  out->workspace = in.workspace;
  out->email = block.Copy(in.email);
  out->role = block.Copy(in.role);
  out->expires_at_ns = in.expires_at_ns;
  out->state = block.Copy(in.state);
  out->invited_by = in.invited_by;
  out->accepted_by = in.accepted_by;
}

// Tokens are "<id>.<base64 of 32 random bytes>", under 70 bytes. Changes
// that return a token allocate its block first (InvitationBlock), so that
// running out of memory refuses the change instead of losing the token of
// a change already made.
constexpr size_t kTokenMaxBytes = 256;

Block InvitationBlock() { return Block(Bytes<tny_invitation_token>() + kTokenMaxBytes + 1); }

tny_invitation_token* FillInvitation(Block& block, const tenantry::Invitation& in) {
  tny_invitation_token* out = block.Take<tny_invitation_token>();
  out->id = in.id;
  out->token = block.Copy(in.token);
  out->expires_at_ns = in.expires_at_ns;
  return block.Release<tny_invitation_token>();
}

tny_journal_recovery* PackRecovery(const tenantry::JournalRecovery& in) {
  const std::string report = tenantry::FormatJournalRecovery(in);
  Block block(Bytes<tny_journal_recovery>() + Bytes<tny_lost_record>(in.readable.size()) +
              SumBytes(in.readable, [](const tenantry::LostRecord& r) { return Bytes(r.what); }) +
              Bytes(in.reason) + Bytes(in.segment) + Bytes(in.set_aside) + Bytes(report));
  tny_journal_recovery* out = block.Take<tny_journal_recovery>();
  tny_lost_record* readable = block.Take<tny_lost_record>(in.readable.size());
  for (size_t i = 0; i < in.readable.size(); ++i) {
    readable[i] = tny_lost_record{in.readable[i].lsn, block.Copy(in.readable[i].what)};
  }
  out->records = in.records;
  out->torn_bytes = in.torn_bytes;
  out->damaged = in.damaged ? 1 : 0;
  out->truncated = in.truncated ? 1 : 0;
  out->reason = block.Copy(in.reason);
  out->segment = block.Copy(in.segment);
  out->offset = in.offset;
  out->kept_through_lsn = in.kept_through_lsn;
  out->lost_through_lsn = in.lost_through_lsn;
  out->readable_count = in.readable.size();
  out->readable = readable;
  out->set_aside = block.Copy(in.set_aside);
  out->report = block.Copy(report);
  return block.Release<tny_journal_recovery>();
}

// Writes a packed result to `out` only on success.
template <typename T, typename Pack, typename Out>
tny_status PutBlock(absl::StatusOr<T> result, Pack pack, Out** out) {
  if (!result.ok()) return Report(result.status());
  *out = pack(*result);
  return TNY_OK;
}

// ---- Arguments ----

absl::StatusOr<tenantry::Plan> PlanOf(const tny_plan& plan) {
  if (plan.name == nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"T2"},
                             "plan name must not be NULL");
  }
  absl::StatusOr<bool> custom = Flag(plan.custom, "plan.custom");
  if (!custom.ok()) return custom.status();
  if (!*custom) return tenantry::Plan::Named(plan.name);
  absl::StatusOr<bool> agency = Flag(plan.agency, "plan.agency (T4)");
  if (!agency.ok()) return agency.status();
  return tenantry::Plan::Custom(plan.name, plan.workspace_limit, *agency);
}

// NULL = the default scope (nullopt).
absl::StatusOr<std::optional<tenantry::StaffScope>> ScopeOf(const tny_scope* scope) {
  if (scope == nullptr) return std::nullopt;
  absl::StatusOr<bool> all = Flag(scope->all, "scope.all (M2)");
  if (!all.ok()) return all.status();
  if (*all) return tenantry::StaffScope::All();
  if (scope->count > tenantry::limits::kMaxScopeWorkspaces) {
    return tenantry::Refusal(
        absl::StatusCode::kInvalidArgument, {"M2"},
        absl::StrCat("a staff scope holds at most ", tenantry::limits::kMaxScopeWorkspaces,
                     " workspaces; got ", scope->count));
  }
  if (scope->count > 0 && scope->workspaces == nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"M2"},
                             "scope.workspaces must not be NULL when scope.count > 0");
  }
  std::vector<uint64_t> ids;
  if (scope->count > 0) ids.assign(scope->workspaces, scope->workspaces + scope->count);
  return tenantry::StaffScope::Of(std::move(ids));
}

absl::StatusOr<tenantry::StaffScope> RequiredScopeOf(const tny_scope* scope) {
  if (scope == nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"M2"}, "scope must not be NULL");
  }
  absl::StatusOr<std::optional<tenantry::StaffScope>> result = ScopeOf(scope);
  if (!result.ok()) return result.status();
  return **std::move(result);
}

absl::StatusOr<tenantry::AccountSpec> AccountSpecOf(const tny_account_spec& in) {
  if (absl::Status s = Version(in.version, TNY_ACCOUNT_SPEC_VERSION, "tny_account_spec"); !s.ok()) {
    return s;
  }
  if (in.name == nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"T1"},
                             "spec.name must not be NULL");
  }
  absl::StatusOr<bool> no_plan = Flag(in.no_plan, "spec.no_plan (T2)");
  if (!no_plan.ok()) return no_plan.status();
  tenantry::AccountSpec spec;
  spec.name = in.name;
  spec.owner = in.owner;
  if (*no_plan) {
    spec.plan = std::nullopt;
  } else if (in.plan != nullptr) {
    absl::StatusOr<tenantry::Plan> plan = PlanOf(*in.plan);
    if (!plan.ok()) return plan.status();
    spec.plan = *std::move(plan);
  }
  if (in.key != nullptr) spec.key = in.key;
  if (in.member_default_scope != nullptr) spec.member_default_scope = in.member_default_scope;
  if (in.staff_member_role != nullptr) spec.staff_member_role = in.staff_member_role;
  return spec;
}

absl::StatusOr<tenantry::WorkspaceType> TypeOf(int32_t type) {
  if (type == TNY_WORKSPACE_SIMPLE) return tenantry::WorkspaceType::kSimple;
  if (type == TNY_WORKSPACE_AGENCY) return tenantry::WorkspaceType::kAgency;
  return tenantry::Refusal(
      absl::StatusCode::kInvalidArgument, {"T4"},
      absl::StrCat("a workspace type is TNY_WORKSPACE_SIMPLE (0) or TNY_WORKSPACE_AGENCY (1); got ",
                   type));
}

absl::StatusOr<tenantry::WorkspaceStatus> StatusOf(int32_t status) {
  if (status == TNY_WORKSPACE_ACTIVE) return tenantry::WorkspaceStatus::kActive;
  if (status == TNY_WORKSPACE_INACTIVE) return tenantry::WorkspaceStatus::kInactive;
  return tenantry::Refusal(
      absl::StatusCode::kInvalidArgument, {"T5"},
      absl::StrCat(
          "a workspace status is TNY_WORKSPACE_ACTIVE (0) or TNY_WORKSPACE_INACTIVE (1); got ",
          status));
}

absl::StatusOr<tenantry::WorkspaceSpec> WorkspaceSpecOf(const tny_workspace_spec& in) {
  if (absl::Status s = Version(in.version, TNY_WORKSPACE_SPEC_VERSION, "tny_workspace_spec");
      !s.ok()) {
    return s;
  }
  if (in.name == nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"T3"},
                             "spec.name must not be NULL");
  }
  absl::StatusOr<tenantry::WorkspaceType> type = TypeOf(in.type);
  if (!type.ok()) return type.status();
  tenantry::WorkspaceSpec spec;
  spec.name = in.name;
  if (in.slug != nullptr) spec.slug = std::string(in.slug);
  spec.type = *type;
  spec.parent = in.parent;
  spec.owner = in.owner;
  return spec;
}

// `count` strings at `items` (NULL allowed only for 0), none NULL, at most
// `max` of them (refused before anything is read or allocated).
absl::StatusOr<std::vector<std::string>> StringsOf(const char* const* items, size_t count,
                                                   size_t max, const char* what, const char* rule) {
  if (count > max) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {rule},
                             absl::StrCat("at most ", max, " ", what, "; got ", count));
  }
  if (count > 0 && items == nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {rule},
                             absl::StrCat(what, " must not be NULL when count > 0"));
  }
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (items[i] == nullptr) {
      return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {rule},
                               absl::StrCat(what, "[", i, "] must not be NULL"));
    }
    out.emplace_back(items[i]);
  }
  return out;
}

absl::string_view BucketOf(const char* bucket) { return bucket == nullptr ? "regular" : bucket; }

absl::StatusOr<tenantry::SettingValue> BoolSetting(int value) {
  absl::StatusOr<bool> flag = Flag(value, "a boolean setting's value (T6)");
  if (!flag.ok()) return flag.status();
  return tenantry::SettingValue(*flag);
}

// ---- Options and the clock ----

// A clock that asks the embedding program (tny_clock_fn).
class CallbackClock final : public tenantry::Clock {
 public:
  CallbackClock(tny_clock_fn fn, void* context) : fn_(fn), context_(context) {}
  int64_t now_ns() const override { return fn_(context_); }

 private:
  tny_clock_fn fn_;
  void* context_;
};

// A zero field keeps the default; a negative one is refused.
absl::Status Field(int64_t value, const char* name, int64_t* field) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tny_engine_options.", name, " must be >= 0 (0 = default); got ", value));
  }
  if (value > 0) *field = value;
  return absl::OkStatus();
}
void Field(uint64_t value, size_t* field) {
  if (value > 0) *field = static_cast<size_t>(value);
}

// Version 4: the replica's options (R1-R6). A group or replica id without
// a log is a mistake worth naming, like a clock context without a clock.
absl::Status ReplicaOptionsOf(const tny_engine_options& in, Engine::Options* options) {
  if (in.log != nullptr) {
    if (*in.log == '\0') {
      return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"R1"},
                               "tny_engine_options.log is \"\": give a connection string, or "
                               "NULL for an engine that is no replica");
    }
    options->log = in.log;
  } else if (in.group != nullptr || in.replica_id != nullptr) {
    return tenantry::Refusal(
        absl::StatusCode::kInvalidArgument, {"R1"},
        absl::StrCat("tny_engine_options.", in.group != nullptr ? "group" : "replica_id",
                     " is set but log is NULL"));
  }
  if (in.group != nullptr) options->group = in.group;
  if (in.replica_id != nullptr) options->replica_id = in.replica_id;
  const struct {
    int64_t value;
    const char* name;
    int64_t* field;
  } fields[] = {
      {in.log_lock_timeout_ms, "log_lock_timeout_ms", &options->log_lock_timeout_ms},
      {in.log_poll_ms, "log_poll_ms", &options->log_poll_ms},
      {in.lease_max, "lease_max", &options->lease_max},
      {in.lease_share, "lease_share", &options->lease_share},
      {in.settle_interval_ms, "settle_interval_ms", &options->settle_interval_ms},
      {in.lease_ttl_ms, "lease_ttl_ms", &options->lease_ttl_ms},
  };
  for (const auto& f : fields) {
    if (absl::Status s = Field(f.value, f.name, f.field); !s.ok()) return s;
  }
  if (in.lease_floor == TNY_LEASE_FLOOR_NONE) {
    options->lease_floor = 0;
  } else if (absl::Status s = Field(in.lease_floor, "lease_floor", &options->lease_floor);
             !s.ok()) {
    return s;
  }
  absl::StatusOr<bool> no_leases = Flag(in.no_lease_credits, "tny_engine_options.no_lease_credits");
  if (!no_leases.ok()) return no_leases.status();
  options->lease_credits = !*no_leases;
  return absl::OkStatus();
}

absl::StatusOr<Engine::Options> OptionsOf(const tny_engine_options* in) {
  Engine::Options options;
  if (in == nullptr) return options;
  if (absl::Status s = Version(in->version, TNY_ENGINE_OPTIONS_VERSION, "tny_engine_options");
      !s.ok()) {
    return s;
  }
  if (in->clock != nullptr) {
    options.clock = std::make_shared<CallbackClock>(in->clock, in->clock_context);
  } else if (in->clock_context != nullptr) {
    return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"I4"},
                             "tny_engine_options.clock_context is set but clock is NULL");
  }
  Field(in->feed_retention, &options.feed_retention);
  Field(in->idempotency_slots, &options.idempotency_slots);
  Field(in->reservation_slots, &options.reservation_slots);
  Field(in->ledger_retention, &options.ledger_retention);
  if (absl::Status s = Field(in->invitation_ttl_s, "invitation_ttl_s", &options.invitation_ttl_s);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          Field(in->idempotency_window_s, "idempotency_window_s", &options.idempotency_window_s);
      !s.ok()) {
    return s;
  }
  if (in->version >= 2) {
    if (in->journal != nullptr) options.journal = in->journal;
    if (absl::Status s = Field(in->group_commit_ms, "group_commit_ms", &options.group_commit_ms);
        !s.ok()) {
      return s;
    }
    if (in->durability < TNY_DURABILITY_SYNC || in->durability > TNY_DURABILITY_NONE) {
      return tenantry::Refusal(
          absl::StatusCode::kInvalidArgument, {"P3"},
          absl::StrCat(
              "tny_engine_options.durability must be TNY_DURABILITY_SYNC, _GROUP or _NONE; got ",
              in->durability));
    }
    options.durability = static_cast<tenantry::Durability>(in->durability);
  }
  if (in->version >= 3) {
    if (in->on_journal_damage != TNY_JOURNAL_DAMAGE_REFUSE &&
        in->on_journal_damage != TNY_JOURNAL_DAMAGE_TRUNCATE) {
      return tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"P3"},
                               absl::StrCat("tny_engine_options.on_journal_damage must be "
                                            "TNY_JOURNAL_DAMAGE_REFUSE or _TRUNCATE; got ",
                                            in->on_journal_damage));
    }
    options.on_journal_damage = static_cast<tenantry::OnJournalDamage>(in->on_journal_damage);
  }
  if (in->version >= 4) {
    if (absl::Status s = ReplicaOptionsOf(*in, &options); !s.ok()) return s;
  }
  if (absl::Status s = Engine::ValidateOptions(options); !s.ok()) return s;
  return options;
}

}  // namespace

// A NULL required argument: TNY_INVALID_ARGUMENT naming it and the function.
#define TNY_REQUIRE(argument) \
  if ((argument) == nullptr) return NullArgument(__func__, #argument)

// Converts an argument; a failure is returned as the entry point's status.
#define TNY_CONVERT(var, expression)                    \
  auto var##_or = (expression);                         \
  if (!var##_or.ok()) return Report(var##_or.status()); \
  auto var = *std::move(var##_or)

extern "C" {

// ---- Versions, statuses, errors, blocks ----

uint32_t tny_version_number(void) noexcept { return TNY_VERSION_NUMBER; }
const char* tny_version(void) noexcept { return TNY_VERSION_STRING; }
uint32_t tny_abi_version(void) noexcept { return TNY_ABI_VERSION; }

const char* tny_status_str(tny_status status) noexcept {
  // A tny_status is abseil's number, and the engine names it; a number
  // that is not one of tny_status's (CodeOf does not give it back) is not.
  const auto code = static_cast<absl::StatusCode>(status);
  if (CodeOf(code) != status) return "unknown";
  return tenantry::StatusCodeName(code);
}

const char* tny_last_error(void) noexcept {
  return tls_fallback != nullptr ? tls_fallback : tls_error.c_str();
}

const char* tny_last_error_rules(void) noexcept { return tls_rules.c_str(); }

const char* tny_last_error_change_id(void) noexcept { return tls_change_id.c_str(); }

void tny_free(void* block) noexcept { std::free(block); }

// ---- Engine ----

tny_status tny_engine_new(const tny_engine_options* options, tny_engine** out_engine) noexcept {
  TNY_REQUIRE(out_engine);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, OptionsOf(options));
    // With a log, a replica (R5); otherwise an engine with or without a journal.
    TNY_CONVERT(engine, converted.log.empty() ? Engine::Open(std::move(converted))
                                              : tenantry::OpenReplica(std::move(converted)));
    *out_engine = HandleOf(engine.release());
    return TNY_OK;
  });
}

void tny_engine_free(tny_engine* engine) noexcept {
  delete reinterpret_cast<tenantry::Engine*>(engine);
}

tny_status tny_revision(const tny_engine* engine, uint64_t* out_revision) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_revision);
  return Guard(__func__, [&]() -> tny_status {
    *out_revision = Of(engine).revision();
    return TNY_OK;
  });
}

// ---- Permission catalog ----

tny_status tny_permission(const tny_engine* engine, const char* name,
                          uint32_t* out_permission) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  TNY_REQUIRE(out_permission);
  return Guard(__func__,
               [&]() -> tny_status { return Put(Of(engine).permission(name), out_permission); });
}

tny_status tny_register_permission(tny_engine* engine, const char* name,
                                   uint32_t* out_permission) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  TNY_REQUIRE(out_permission);
  return Guard(__func__, [&] { return Put(Of(engine).register_permission(name), out_permission); });
}

tny_status tny_permission_name(const tny_engine* engine, uint32_t permission,
                               char** out_name) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_name);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).permission_name(permission),
        [](const std::string& name) {
          Block block(Bytes(name));
          block.Copy(name);
          return block.Release<char>();
        },
        out_name);
  });
}

// ---- Tenancy ----

tny_status tny_create_account(tny_engine* engine, const tny_account_spec* spec,
                              uint64_t* out_account) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(spec);
  TNY_REQUIRE(out_account);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, AccountSpecOf(*spec));
    return Put(Of(engine).create_account(std::move(converted)), out_account);
  });
}

tny_status tny_account(const tny_engine* engine, uint64_t account,
                       tny_account_info** out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).account(account),
        [](const tenantry::AccountInfo& in) {
          Block block(Bytes<tny_account_info>() + Bytes(in.name) + Bytes(in.key) +
                      Bytes(in.plan.name));
          tny_account_info* out = block.Take<tny_account_info>();
          out->id = in.id;
          out->name = block.Copy(in.name);
          out->key = block.Copy(in.key);
          out->plan_name = block.Copy(in.plan.name);
          out->workspace_limit = in.plan.workspace_limit;
          out->agency = in.plan.agency ? 1 : 0;
          out->plan_set = in.plan_set ? 1 : 0;
          out->owner = in.owner;
          out->workspace_count = in.workspace_count;
          return block.Release<tny_account_info>();
        },
        out_info);
  });
}

tny_status tny_set_plan(tny_engine* engine, uint64_t actor, uint64_t account,
                        const tny_plan* plan) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(plan);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, PlanOf(*plan));
    return Report(Of(engine).set_plan(actor, account, std::move(converted)));
  });
}

tny_status tny_create_user(tny_engine* engine, const char* key, uint64_t* out_user) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(key);
  TNY_REQUIRE(out_user);
  return Guard(__func__,
               [&]() -> tny_status { return Put(Of(engine).create_user(key), out_user); });
}

tny_status tny_user(const tny_engine* engine, const char* key, uint64_t* out_user) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(key);
  TNY_REQUIRE(out_user);
  return Guard(__func__, [&]() -> tny_status { return Put(Of(engine).user(key), out_user); });
}

tny_status tny_add_staff(tny_engine* engine, uint64_t actor, uint64_t account, uint64_t user,
                         const char* role, const tny_scope* scope) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(role);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, ScopeOf(scope));
    return Report(Of(engine).add_staff(actor, account, user, role, std::move(converted)));
  });
}

tny_status tny_set_staff_scope(tny_engine* engine, uint64_t actor, uint64_t account, uint64_t user,
                               const tny_scope* scope) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(scope);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, RequiredScopeOf(scope));
    return Report(Of(engine).set_staff_scope(actor, account, user, std::move(converted)));
  });
}

tny_status tny_remove_staff(tny_engine* engine, uint64_t actor, uint64_t account,
                            uint64_t user) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).remove_staff(actor, account, user));
  });
}

tny_status tny_staff(const tny_engine* engine, uint64_t account, uint64_t user,
                     tny_staff_info** out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).staff(account, user),
        [](const std::pair<std::string, tenantry::StaffScope>& in) {
          const std::vector<uint64_t>& ids = in.second.workspaces;
          Block block(Bytes<tny_staff_info>() + Bytes<uint64_t>(ids.size()) + Bytes(in.first));
          tny_staff_info* out = block.Take<tny_staff_info>();
          out->all = in.second.all ? 1 : 0;
          out->count = ids.size();
          out->workspaces = block.CopyIds(ids);
          out->role = block.Copy(in.first);
          return block.Release<tny_staff_info>();
        },
        out_info);
  });
}

// ---- Workspaces ----

tny_status tny_create_workspace(tny_engine* engine, uint64_t actor, uint64_t account,
                                const tny_workspace_spec* spec, uint64_t* out_workspace) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(spec);
  TNY_REQUIRE(out_workspace);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, WorkspaceSpecOf(*spec));
    return Put(Of(engine).create_workspace(actor, account, std::move(converted)), out_workspace);
  });
}

tny_status tny_slug_available(const tny_engine* engine, uint64_t account, const char* slug,
                              int* out_available) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(slug);
  TNY_REQUIRE(out_available);
  return Guard(__func__, [&]() -> tny_status {
    *out_available = Of(engine).slug_available(account, slug) ? 1 : 0;
    return TNY_OK;
  });
}

tny_status tny_workspace(const tny_engine* engine, uint64_t workspace,
                         tny_workspace_info** out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).workspace(workspace),
        [](const tenantry::WorkspaceInfo& in) {
          Block block(Bytes<tny_workspace_info>() + Bytes(in.name) + Bytes(in.slug));
          tny_workspace_info* out = block.Take<tny_workspace_info>();
          out->id = in.id;
          out->account = in.account;
          out->name = block.Copy(in.name);
          out->slug = block.Copy(in.slug);
          out->type = static_cast<int32_t>(in.type);
          out->status = static_cast<int32_t>(in.status);
          out->parent = in.parent;
          out->owner = in.owner;
          out->depth = in.depth;
          return block.Release<tny_workspace_info>();
        },
        out_info);
  });
}

tny_status tny_rename_workspace(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                const char* name) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  return Guard(__func__,
               [&] { return Report(Of(engine).rename_workspace(actor, workspace, name)); });
}

tny_status tny_set_status(tny_engine* engine, uint64_t actor, uint64_t workspace,
                          int32_t status) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, StatusOf(status));
    return Report(Of(engine).set_status(actor, workspace, converted));
  });
}

tny_status tny_set_setting_bool(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                const char* name, int value) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, BoolSetting(value));
    return Report(Of(engine).set_setting(actor, workspace, name, converted));
  });
}

tny_status tny_set_setting_int(tny_engine* engine, uint64_t actor, uint64_t workspace,
                               const char* name, int64_t value) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).set_setting(actor, workspace, name, tenantry::SettingValue(value)));
  });
}

tny_status tny_setting(const tny_engine* engine, uint64_t workspace, const char* name,
                       int64_t* out_value) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  TNY_REQUIRE(out_value);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(settings, Of(engine).settings(workspace));
    const absl::string_view setting = name;
    if (setting == "beta_opt_in") {
      *out_value = settings.beta_opt_in ? 1 : 0;
    } else if (setting == "approval_timeout_s") {
      *out_value = settings.approval_timeout_s;
    } else if (setting == "inactivity_timeout_s") {
      *out_value = settings.inactivity_timeout_s;
    } else {
      return Report(tenantry::Refusal(
          absl::StatusCode::kInvalidArgument, {"T6"},
          absl::StrCat("unknown setting '", setting.substr(0, 64),
                       "'; one of beta_opt_in, approval_timeout_s, inactivity_timeout_s")));
    }
    return TNY_OK;
  });
}

tny_status tny_delete_workspace(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                const char* confirm) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(confirm);
  return Guard(__func__,
               [&] { return Report(Of(engine).delete_workspace(actor, workspace, confirm)); });
}

// ---- Roles and teams ----

tny_status tny_add_member(tny_engine* engine, uint64_t actor, uint64_t workspace, uint64_t user,
                          const char* role) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(role);
  return Guard(__func__,
               [&] { return Report(Of(engine).add_member(actor, workspace, user, role)); });
}

tny_status tny_set_role(tny_engine* engine, uint64_t actor, uint64_t workspace, uint64_t user,
                        const char* role) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(role);
  return Guard(__func__, [&] { return Report(Of(engine).set_role(actor, workspace, user, role)); });
}

tny_status tny_remove_member(tny_engine* engine, uint64_t actor, uint64_t workspace,
                             uint64_t user) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&] { return Report(Of(engine).remove_member(actor, workspace, user)); });
}

tny_status tny_transfer_ownership(tny_engine* engine, uint64_t actor, uint64_t workspace,
                                  uint64_t new_owner) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).transfer_ownership(actor, workspace, new_owner));
  });
}

tny_status tny_define_role(tny_engine* engine, uint64_t actor, uint64_t account, const char* name,
                           const char* const* permissions, size_t count,
                           const char* inherits) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(names, StringsOf(permissions, count, tenantry::limits::kMaxPermissions,
                                 "permissions", "M6"));
    return Report(
        Of(engine).define_role(actor, account, name, names, inherits == nullptr ? "" : inherits));
  });
}

tny_status tny_role_permissions(const tny_engine* engine, uint64_t account, const char* role,
                                tny_string_list** out_permissions) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(role);
  TNY_REQUIRE(out_permissions);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(Of(engine).role_permissions(account, role), PackStrings, out_permissions);
  });
}

tny_status tny_create_team(tny_engine* engine, uint64_t actor, uint64_t workspace, const char* name,
                           const char* role, uint64_t* out_team) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  TNY_REQUIRE(role);
  TNY_REQUIRE(out_team);
  return Guard(__func__, [&]() -> tny_status {
    return Put(Of(engine).create_team(actor, workspace, name, role), out_team);
  });
}

tny_status tny_add_team_member(tny_engine* engine, uint64_t actor, uint64_t team,
                               uint64_t user) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).add_team_member(actor, team, user));
  });
}

tny_status tny_remove_team_member(tny_engine* engine, uint64_t actor, uint64_t team,
                                  uint64_t user) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&] { return Report(Of(engine).remove_team_member(actor, team, user)); });
}

tny_status tny_set_team_role(tny_engine* engine, uint64_t actor, uint64_t team,
                             const char* role) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(role);
  return Guard(__func__,
               [&]() -> tny_status { return Report(Of(engine).set_team_role(actor, team, role)); });
}

tny_status tny_delete_team(tny_engine* engine, uint64_t actor, uint64_t team) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__,
               [&]() -> tny_status { return Report(Of(engine).delete_team(actor, team)); });
}

tny_status tny_team(const tny_engine* engine, uint64_t team, tny_team_info** out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).team(team),
        [](const tenantry::TeamInfo& in) {
          Block block(Bytes<tny_team_info>() + Bytes<uint64_t>(in.members.size()) + Bytes(in.name) +
                      Bytes(in.role));
          tny_team_info* out = block.Take<tny_team_info>();
          out->id = in.id;
          out->workspace = in.workspace;
          out->member_count = in.members.size();
          out->members = block.CopyIds(in.members);
          out->name = block.Copy(in.name);
          out->role = block.Copy(in.role);
          return block.Release<tny_team_info>();
        },
        out_info);
  });
}

tny_status tny_teams(const tny_engine* engine, uint64_t workspace,
                     tny_id_list** out_teams) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_teams);
  return Guard(__func__, [&] { return PutBlock(Of(engine).teams(workspace), PackIds, out_teams); });
}

// ---- Invitations ----

tny_status tny_invite(tny_engine* engine, uint64_t actor, uint64_t workspace, const char* email,
                      const char* role, tny_invitation_token** out_invitation) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(email);
  TNY_REQUIRE(out_invitation);
  return Guard(__func__, [&]() -> tny_status {
    Block block = InvitationBlock();
    TNY_CONVERT(invitation,
                Of(engine).invite(actor, workspace, email, role == nullptr ? "client" : role));
    *out_invitation = FillInvitation(block, invitation);
    return TNY_OK;
  });
}

tny_status tny_invite_staff(tny_engine* engine, uint64_t actor, uint64_t account, const char* email,
                            const char* role, const tny_scope* scope,
                            tny_invitation_token** out_invitation) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(email);
  TNY_REQUIRE(role);
  TNY_REQUIRE(out_invitation);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, ScopeOf(scope));
    Block block = InvitationBlock();
    TNY_CONVERT(invitation,
                Of(engine).invite_staff(actor, account, email, role, std::move(converted)));
    *out_invitation = FillInvitation(block, invitation);
    return TNY_OK;
  });
}

tny_status tny_accept(tny_engine* engine, const char* token, uint64_t user) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(token);
  return Guard(__func__, [&]() -> tny_status { return Report(Of(engine).accept(token, user)); });
}

tny_status tny_resend(tny_engine* engine, uint64_t actor, uint64_t invitation,
                      tny_invitation_token** out_invitation) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_invitation);
  return Guard(__func__, [&]() -> tny_status {
    Block block = InvitationBlock();
    TNY_CONVERT(fresh, Of(engine).resend(actor, invitation));
    *out_invitation = FillInvitation(block, fresh);
    return TNY_OK;
  });
}

tny_status tny_revoke_invitation(tny_engine* engine, uint64_t actor, uint64_t invitation) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&] { return Report(Of(engine).revoke_invitation(actor, invitation)); });
}

tny_status tny_invitation(const tny_engine* engine, uint64_t invitation,
                          tny_invitation_info** out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).invitation(invitation),
        [](const tenantry::InvitationInfo& in) {
          Block block(Bytes<tny_invitation_info>() + InfoBytes(in));
          tny_invitation_info* out = block.Take<tny_invitation_info>();
          FillInvitationInfo(block, in, out);
          return block.Release<tny_invitation_info>();
        },
        out_info);
  });
}

tny_status tny_invitations(const tny_engine* engine, uint64_t workspace,
                           tny_invitation_list** out_list) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_list);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).invitations(workspace),
        [](const std::vector<tenantry::InvitationInfo>& in) {
          Block block(Bytes<tny_invitation_list>() + Bytes<tny_invitation_info>(in.size()) +
                      SumBytes(in, InfoBytes));
          tny_invitation_list* list = block.Take<tny_invitation_list>();
          tny_invitation_info* items = block.Take<tny_invitation_info>(in.size());
          for (size_t i = 0; i < in.size(); ++i) FillInvitationInfo(block, in[i], &items[i]);
          list->count = in.size();
          list->items = items;
          return block.Release<tny_invitation_list>();
        },
        out_list);
  });
}

// ---- Sessions ----

tny_status tny_switch_workspace(tny_engine* engine, uint64_t user, uint64_t workspace) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).switch_workspace(user, workspace));
  });
}

tny_status tny_active_workspace(const tny_engine* engine, uint64_t user,
                                uint64_t* out_workspace) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_workspace);
  return Guard(__func__, [&]() -> tny_status {
    *out_workspace = Of(engine).active_workspace(user).value_or(0);
    return TNY_OK;
  });
}

tny_status tny_touch_session(tny_engine* engine, uint64_t user) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status { return Report(Of(engine).touch_session(user)); });
}

tny_status tny_expire_sessions(tny_engine* engine, uint64_t* out_count) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_count);
  return Guard(__func__,
               [&]() -> tny_status { return Put(Of(engine).expire_sessions(), out_count); });
}

// ---- Checks ----

int tny_check(const tny_engine* engine, uint64_t user, uint64_t workspace,
              uint32_t permission) noexcept {
  if (engine == nullptr) return 0;
  return Of(engine).check(user, workspace, permission) ? 1 : 0;
}

tny_status tny_check_many(const tny_engine* engine, const uint64_t* users,
                          const uint64_t* workspaces, const uint32_t* permissions, size_t count,
                          uint8_t* out) noexcept {
  TNY_REQUIRE(engine);
  if (count > 0) {
    TNY_REQUIRE(users);
    TNY_REQUIRE(workspaces);
    TNY_REQUIRE(permissions);
    TNY_REQUIRE(out);
  }
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).check_many(
        absl::MakeConstSpan(users, count), absl::MakeConstSpan(workspaces, count),
        absl::MakeConstSpan(permissions, count), absl::MakeSpan(out, count)));
  });
}

tny_status tny_explain(const tny_engine* engine, uint64_t user, uint64_t workspace,
                       uint32_t permission, tny_decision** out_decision) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_decision);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).explain(user, workspace, permission),
        [](const tenantry::Decision& in) {
          Block block(Bytes<tny_decision>() + Bytes(in.role) + Bytes(in.reason));
          tny_decision* out = block.Take<tny_decision>();
          out->allowed = in.allowed ? 1 : 0;
          out->path = static_cast<int32_t>(in.path);
          out->role = block.Copy(in.role);
          out->via_workspace = in.via_workspace;
          out->via_team = in.via_team;
          out->reason = block.Copy(in.reason);
          return block.Release<tny_decision>();
        },
        out_decision);
  });
}

tny_status tny_workspaces_for(const tny_engine* engine, uint64_t user,
                              tny_id_list** out_workspaces) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_workspaces);
  return Guard(__func__, [&]() -> tny_status {
    *out_workspaces = PackIds(Of(engine).workspaces_for(user));
    return TNY_OK;
  });
}

tny_status tny_members(const tny_engine* engine, uint64_t workspace,
                       tny_member_list** out_members) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_members);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).members(workspace),
        [](const std::vector<tenantry::Member>& in) {
          Block block(Bytes<tny_member_list>() + Bytes<tny_member>(in.size()) +
                      SumBytes(in, [](const tenantry::Member& m) { return Bytes(m.role); }));
          tny_member_list* list = block.Take<tny_member_list>();
          tny_member* items = block.Take<tny_member>(in.size());
          for (size_t i = 0; i < in.size(); ++i) {
            items[i].user = in[i].user;
            items[i].role = block.Copy(in[i].role);
          }
          list->count = in.size();
          list->items = items;
          return block.Release<tny_member_list>();
        },
        out_members);
  });
}

tny_status tny_who_can(const tny_engine* engine, uint64_t workspace, uint32_t permission,
                       tny_id_list** out_users) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_users);
  return Guard(__func__, [&]() -> tny_status {
    *out_users = PackIds(Of(engine).who_can(workspace, permission));
    return TNY_OK;
  });
}

tny_status tny_accessible(const tny_engine* engine, uint64_t user, uint32_t permission,
                          tny_id_list** out_workspaces) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_workspaces);
  return Guard(__func__, [&]() -> tny_status {
    *out_workspaces = PackIds(Of(engine).accessible(user, permission));
    return TNY_OK;
  });
}

tny_status tny_authorize_and_consume(tny_engine* engine, uint64_t user, uint64_t workspace,
                                     uint32_t permission, int64_t amount, uint32_t meter,
                                     int* out_allowed) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_allowed);
  return Guard(__func__, [&]() -> tny_status {
    return Put(Of(engine).authorize_and_consume(user, workspace, permission, amount, meter),
               out_allowed);
  });
}

// ---- Credits ----

tny_status tny_define_meter(tny_engine* engine, const char* name, const char* const* buckets,
                            size_t count, uint32_t* out_meter) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  TNY_REQUIRE(out_meter);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(names, StringsOf(buckets, count, tenantry::kMaxBuckets, "buckets", "C1"));
    return Put(Of(engine).define_meter(name, names), out_meter);
  });
}

tny_status tny_meter_id(const tny_engine* engine, const char* name, uint32_t* out_meter) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(name);
  TNY_REQUIRE(out_meter);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(info, Of(engine).meter(absl::string_view(name)));
    *out_meter = info.id;
    return TNY_OK;
  });
}

tny_status tny_meter(const tny_engine* engine, uint32_t meter, tny_meter_info** out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).meter(meter),
        [](const tenantry::MeterInfo& in) {
          Block block(Bytes<tny_meter_info>() + Bytes(in.name) +
                      SumBytes(in.buckets, [](const std::string& s) { return Bytes(s); }) + 2);
          tny_meter_info* out = block.Take<tny_meter_info>();
          out->id = in.id;
          out->name = block.Copy(in.name);
          out->bucket_count = in.buckets.size();
          out->buckets[0] = in.buckets.empty() ? block.Copy("") : block.Copy(in.buckets[0]);
          out->buckets[1] = block.Copy(in.buckets.size() > 1 ? in.buckets[1] : "");
          return block.Release<tny_meter_info>();
        },
        out_info);
  });
}

tny_status tny_grant(tny_engine* engine, uint64_t actor, uint64_t account, int64_t amount,
                     uint32_t meter, const char* bucket) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).grant(actor, account, amount, meter, BucketOf(bucket)));
  });
}

tny_status tny_transfer(tny_engine* engine, uint64_t actor, uint64_t account, uint64_t workspace,
                        int64_t amount, uint32_t meter, int64_t out_taken[2]) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(taken, Of(engine).transfer(actor, account, workspace, amount, meter));
    if (out_taken != nullptr) {
      out_taken[0] = taken[0];
      out_taken[1] = taken[1];
    }
    return TNY_OK;
  });
}

tny_status tny_revoke(tny_engine* engine, uint64_t actor, uint64_t workspace, int64_t amount,
                      uint32_t meter, const char* bucket) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    return Report(Of(engine).revoke(actor, workspace, amount, meter, BucketOf(bucket)));
  });
}

tny_status tny_consume(tny_engine* engine, uint64_t workspace, int64_t amount, uint32_t meter,
                       int64_t* out_available) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(available, Of(engine).consume(workspace, amount, meter));
    if (out_available != nullptr) *out_available = available;
    return TNY_OK;
  });
}

tny_status tny_consume_keyed(tny_engine* engine, uint64_t workspace, int64_t amount, uint32_t meter,
                             const char* key, int64_t* out_available) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(key);
  return Guard(__func__, [&]() -> tny_status {
    if (*key == '\0') {
      return Report(tenantry::Refusal(absl::StatusCode::kInvalidArgument, {"C5"},
                                      "an idempotency key must not be empty"));
    }
    TNY_CONVERT(available, Of(engine).consume(workspace, amount, meter, key));
    if (out_available != nullptr) *out_available = available;
    return TNY_OK;
  });
}

tny_status tny_reserve(tny_engine* engine, uint64_t workspace, int64_t amount, uint32_t meter,
                       int64_t ttl_s, uint64_t* out_reservation) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_reservation);
  return Guard(__func__, [&]() -> tny_status {
    return Put(Of(engine).reserve(workspace, amount, meter, ttl_s), out_reservation);
  });
}

tny_status tny_commit(tny_engine* engine, uint64_t reservation, int64_t actual) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__,
               [&]() -> tny_status { return Report(Of(engine).commit(reservation, actual)); });
}

tny_status tny_release(tny_engine* engine, uint64_t reservation) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status { return Report(Of(engine).release(reservation)); });
}

tny_status tny_expire_reservations(tny_engine* engine, uint64_t* out_count) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_count);
  return Guard(__func__,
               [&]() -> tny_status { return Put(Of(engine).expire_reservations(), out_count); });
}

tny_status tny_reservation(const tny_engine* engine, uint64_t reservation,
                           tny_reservation_info* out_info) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_info);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(info, Of(engine).reservation(reservation));
    *out_info = tny_reservation_info{
        info.id, info.workspace, info.meter, {info.held[0], info.held[1]}, info.expires_at_ns};
    return TNY_OK;
  });
}

tny_status tny_balance(const tny_engine* engine, uint64_t workspace, uint32_t meter,
                       tny_balance_info* out_balance) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_balance);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(b, Of(engine).balance(workspace, meter));
    *out_balance = tny_balance_info{{b.buckets[0], b.buckets[1]}, b.held, b.consumed};
    return TNY_OK;
  });
}

tny_status tny_account_balance(const tny_engine* engine, uint64_t account, uint32_t meter,
                               tny_account_balance_info* out_balance) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_balance);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(b, Of(engine).account_balance(account, meter));
    *out_balance =
        tny_account_balance_info{{b.buckets[0], b.buckets[1]}, b.granted, b.consumed_by_deleted};
    return TNY_OK;
  });
}

tny_status tny_ledger(const tny_engine* engine, const tny_ledger_query* query,
                      tny_ledger_list** out_entries) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_entries);
  return Guard(__func__, [&]() -> tny_status {
    tenantry::LedgerQuery q;
    if (query != nullptr) {
      if (absl::Status s = Version(query->version, TNY_LEDGER_QUERY_VERSION, "tny_ledger_query");
          !s.ok()) {
        return Report(s);
      }
      q = {query->account, query->workspace, query->since_ns, query->after_sequence};
    }
    return PutBlock(
        Of(engine).ledger(q),
        [](const std::vector<tenantry::LedgerEntry>& in) {
          Block block(Bytes<tny_ledger_list>() + Bytes<tny_ledger_entry>(in.size()));
          tny_ledger_list* list = block.Take<tny_ledger_list>();
          tny_ledger_entry* items = block.Take<tny_ledger_entry>(in.size());
          for (size_t i = 0; i < in.size(); ++i) {
            const tenantry::LedgerEntry& e = in[i];
            items[i] = tny_ledger_entry{e.sequence,
                                        e.revision,
                                        e.time_ns,
                                        e.actor,
                                        e.account,
                                        e.workspace,
                                        e.meter,
                                        static_cast<int32_t>(e.kind),
                                        {e.amounts[0], e.amounts[1]},
                                        {e.returned[0], e.returned[1]},
                                        e.reservation};
          }
          list->count = in.size();
          list->items = items;
          return block.Release<tny_ledger_list>();
        },
        out_entries);
  });
}

// ---- Feed, invariants, statistics ----

tny_status tny_engine_journal_recovery(const tny_engine* engine,
                                       tny_journal_recovery** out_recovery) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_recovery);
  return Guard(__func__, [&]() -> tny_status {
    *out_recovery = PackRecovery(Of(engine).journal_recovery());
    return TNY_OK;
  });
}

tny_status tny_journal_repair(const char* dir, int32_t dry_run,
                              tny_journal_recovery** out_recovery) noexcept {
  TNY_REQUIRE(dir);
  TNY_REQUIRE(out_recovery);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(dry, Flag(dry_run, "dry_run (P3)"));
    return PutBlock(tenantry::RepairJournal(dir, dry), PackRecovery, out_recovery);
  });
}

tny_status tny_changes_since(const tny_engine* engine, uint64_t revision,
                             tny_change_list** out_changes) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_changes);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).changes_since(revision),
        [](const std::vector<tenantry::AuditRecord>& in) {
          Block block(Bytes<tny_change_list>() + Bytes<tny_change>(in.size()) +
                      SumBytes(in, [](const tenantry::AuditRecord& r) { return Bytes(r.what); }));
          tny_change_list* list = block.Take<tny_change_list>();
          tny_change* items = block.Take<tny_change>(in.size());
          for (size_t i = 0; i < in.size(); ++i) {
            const tenantry::AuditRecord& r = in[i];
            items[i] = tny_change{r.revision, r.time_ns,   r.actor,
                                  r.account,  r.workspace, block.Copy(r.what)};
          }
          list->count = in.size();
          list->items = items;
          return block.Release<tny_change_list>();
        },
        out_changes);
  });
}

tny_status tny_verify(const tny_engine* engine) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status { return Report(Of(engine).verify()); });
}

tny_status tny_stats(const tny_engine* engine, tny_stats_info* out_stats) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_stats);
  return Guard(__func__, [&]() -> tny_status {
    const Engine::Stats s = Of(engine).stats();
    *out_stats = tny_stats_info{s.accounts, s.users, s.workspaces, s.memberships};
    return TNY_OK;
  });
}

// ---- Snapshots ----

tny_status tny_save(const tny_engine* engine, const char* path) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(path);
  return Guard(__func__, [&] { return Report(tenantry::SaveSnapshot(Of(engine), path)); });
}

tny_status tny_load(const char* path, const tny_engine_options* options,
                    tny_engine** out_engine) noexcept {
  TNY_REQUIRE(path);
  TNY_REQUIRE(out_engine);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, OptionsOf(options));
    if (!converted.log.empty()) {
      return Report(tenantry::Refusal(
          absl::StatusCode::kInvalidArgument, {"R5"},
          "tny_load makes no replica: a replica loads its group's newest snapshot from the "
          "group's database (tny_engine_new with options->log)"));
    }
    TNY_CONVERT(loaded, tenantry::LoadSnapshot(path, std::move(converted)));
    *out_engine = HandleOf(loaded.release());
    return TNY_OK;
  });
}

// ---- Batches ----

tny_status tny_batch_new(tny_batch** out_batch) noexcept {
  TNY_REQUIRE(out_batch);
  return Guard(__func__, [&]() -> tny_status {
    *out_batch = new tny_batch();
    return TNY_OK;
  });
}

void tny_batch_free(tny_batch* batch) noexcept { delete batch; }

tny_status tny_batch_size(const tny_batch* batch, size_t* out_size) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(out_size);
  *out_size = batch->batch.size();
  return TNY_OK;
}

tny_status tny_apply(tny_engine* engine, const tny_batch* batch, tny_id_list** out_ids) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(batch);
  return Guard(__func__, [&]() -> tny_status {
    // The result's block first: a failed allocation must not follow a change.
    std::optional<Block> block;
    if (out_ids != nullptr) block.emplace(IdsBytes(batch->batch.size()));
    TNY_CONVERT(ids, Of(engine).apply(batch->batch));
    if (out_ids != nullptr) *out_ids = FillIds(*block, ids);
    return TNY_OK;
  });
}

// ---- Replicas ----

tny_status tny_is_replica(const tny_engine* engine, int* out_replica) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_replica);
  *out_replica = Of(engine).is_replica() ? 1 : 0;
  return TNY_OK;
}

tny_status tny_position(const tny_engine* engine, int64_t* out_position) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_position);
  return Guard(__func__, [&]() -> tny_status {
    *out_position = Of(engine).position();
    return TNY_OK;
  });
}

tny_status tny_last_change_position(const tny_engine* engine, int64_t* out_position) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_position);
  return Guard(__func__, [&]() -> tny_status {
    *out_position = Of(engine).last_change_position();
    return TNY_OK;
  });
}

tny_status tny_wait_for(const tny_engine* engine, int64_t position, int64_t timeout_ms) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    if (timeout_ms < 0) {
      return Report(tenantry::Refusal(
          absl::StatusCode::kInvalidArgument, {"R4"},
          absl::StrCat("tny_wait_for: timeout_ms must be >= 0; got ", timeout_ms)));
    }
    return Report(Of(engine).wait_for(position, timeout_ms));
  });
}

tny_status tny_apply_with_id(tny_engine* engine, const tny_batch* batch, const char* change_id,
                             tny_id_list** out_ids) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(batch);
  return Guard(__func__, [&]() -> tny_status {
    std::optional<Block> block;
    if (out_ids != nullptr) block.emplace(IdsBytes(batch->batch.size()));
    TNY_CONVERT(ids, Of(engine).apply(batch->batch, change_id == nullptr ? "" : change_id));
    if (out_ids != nullptr) *out_ids = FillIds(*block, ids);
    return TNY_OK;
  });
}

tny_status tny_prepare(tny_engine* engine, const tny_batch* batch, const char* change_id,
                       tny_prepared_change** out_prepared) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(batch);
  TNY_REQUIRE(out_prepared);
  return Guard(__func__, [&]() -> tny_status {
    return PutBlock(
        Of(engine).prepare(batch->batch, change_id == nullptr ? "" : change_id),
        [](const tenantry::PreparedChange& in) {
          Block block(Bytes<tny_prepared_change>() + Bytes(in.change_id) +
                      Bytes<uint8_t>(in.record.size()) + Bytes(in.sql));
          tny_prepared_change* out = block.Take<tny_prepared_change>();
          uint8_t* record = block.Take<uint8_t>(in.record.size());
          if (!in.record.empty()) std::memcpy(record, in.record.data(), in.record.size());
          out->expected_position = in.expected_position;
          out->change_id = block.Copy(in.change_id);
          out->record_size = in.record.size();
          out->record = record;
          out->format_version = in.format_version;
          out->sql = block.Copy(in.sql);
          return block.Release<tny_prepared_change>();
        },
        out_prepared);
  });
}

tny_status tny_follow(tny_engine* engine) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&] { return Report(Of(engine).follow()); });
}

tny_status tny_close(tny_engine* engine) noexcept {
  TNY_REQUIRE(engine);
  return Guard(__func__, [&]() -> tny_status {
    Of(engine).close();
    return TNY_OK;
  });
}

tny_status tny_save_snapshot_to_log(const tny_engine* engine, int64_t* out_position) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_position);
  return Guard(__func__,
               [&] { return Put(tenantry::SaveSnapshotToLog(Of(engine)), out_position); });
}

tny_status tny_truncate_log(const tny_engine* engine, int64_t* out_first_kept) noexcept {
  TNY_REQUIRE(engine);
  TNY_REQUIRE(out_first_kept);
  return Guard(__func__, [&] { return Put(tenantry::TruncateLog(Of(engine)), out_first_kept); });
}

// Records one change; `add` runs only after every argument converted.
#define TNY_BATCH(add)                         \
  return Guard(__func__, [&]() -> tny_status { \
    batch->batch.add;                          \
    return TNY_OK;                             \
  })

tny_status tny_batch_create_user(tny_batch* batch, const char* key) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(key);
  TNY_BATCH(create_user(key));
}

tny_status tny_batch_create_account(tny_batch* batch, const tny_account_spec* spec) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(spec);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, AccountSpecOf(*spec));
    batch->batch.create_account(std::move(converted));
    return TNY_OK;
  });
}

tny_status tny_batch_set_plan(tny_batch* batch, uint64_t actor, uint64_t account,
                              const tny_plan* plan) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(plan);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, PlanOf(*plan));
    batch->batch.set_plan(actor, account, std::move(converted));
    return TNY_OK;
  });
}

tny_status tny_batch_add_staff(tny_batch* batch, uint64_t actor, uint64_t account, uint64_t user,
                               const char* role, const tny_scope* scope) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(role);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, ScopeOf(scope));
    batch->batch.add_staff(actor, account, user, role, std::move(converted));
    return TNY_OK;
  });
}

tny_status tny_batch_set_staff_scope(tny_batch* batch, uint64_t actor, uint64_t account,
                                     uint64_t user, const tny_scope* scope) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(scope);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, RequiredScopeOf(scope));
    batch->batch.set_staff_scope(actor, account, user, std::move(converted));
    return TNY_OK;
  });
}

tny_status tny_batch_remove_staff(tny_batch* batch, uint64_t actor, uint64_t account,
                                  uint64_t user) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(remove_staff(actor, account, user));
}

tny_status tny_batch_create_workspace(tny_batch* batch, uint64_t actor, uint64_t account,
                                      const tny_workspace_spec* spec) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(spec);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, WorkspaceSpecOf(*spec));
    batch->batch.create_workspace(actor, account, std::move(converted));
    return TNY_OK;
  });
}

tny_status tny_batch_rename_workspace(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                      const char* name) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(name);
  TNY_BATCH(rename_workspace(actor, workspace, name));
}

tny_status tny_batch_set_status(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                int32_t status) noexcept {
  TNY_REQUIRE(batch);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, StatusOf(status));
    batch->batch.set_status(actor, workspace, converted);
    return TNY_OK;
  });
}

tny_status tny_batch_set_setting_bool(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                      const char* name, int value) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(name);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(converted, BoolSetting(value));
    batch->batch.set_setting(actor, workspace, name, converted);
    return TNY_OK;
  });
}

tny_status tny_batch_set_setting_int(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                     const char* name, int64_t value) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(name);
  TNY_BATCH(set_setting(actor, workspace, name, tenantry::SettingValue(value)));
}

tny_status tny_batch_add_member(tny_batch* batch, uint64_t actor, uint64_t workspace, uint64_t user,
                                const char* role) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(role);
  TNY_BATCH(add_member(actor, workspace, user, role));
}

tny_status tny_batch_set_role(tny_batch* batch, uint64_t actor, uint64_t workspace, uint64_t user,
                              const char* role) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(role);
  TNY_BATCH(set_role(actor, workspace, user, role));
}

tny_status tny_batch_remove_member(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                   uint64_t user) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(remove_member(actor, workspace, user));
}

tny_status tny_batch_transfer_ownership(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                        uint64_t new_owner) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(transfer_ownership(actor, workspace, new_owner));
}

tny_status tny_batch_switch_workspace(tny_batch* batch, uint64_t user,
                                      uint64_t workspace) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(switch_workspace(user, workspace));
}

tny_status tny_batch_define_role(tny_batch* batch, uint64_t actor, uint64_t account,
                                 const char* name, const char* const* permissions, size_t count,
                                 const char* inherits) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(name);
  return Guard(__func__, [&]() -> tny_status {
    TNY_CONVERT(names, StringsOf(permissions, count, tenantry::limits::kMaxPermissions,
                                 "permissions", "M6"));
    batch->batch.define_role(actor, account, name, std::move(names),
                             inherits == nullptr ? "" : inherits);
    return TNY_OK;
  });
}

tny_status tny_batch_create_team(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                 const char* name, const char* role) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(name);
  TNY_REQUIRE(role);
  TNY_BATCH(create_team(actor, workspace, name, role));
}

tny_status tny_batch_add_team_member(tny_batch* batch, uint64_t actor, uint64_t team,
                                     uint64_t user) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(add_team_member(actor, team, user));
}

tny_status tny_batch_remove_team_member(tny_batch* batch, uint64_t actor, uint64_t team,
                                        uint64_t user) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(remove_team_member(actor, team, user));
}

tny_status tny_batch_set_team_role(tny_batch* batch, uint64_t actor, uint64_t team,
                                   const char* role) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(role);
  TNY_BATCH(set_team_role(actor, team, role));
}

tny_status tny_batch_delete_team(tny_batch* batch, uint64_t actor, uint64_t team) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(delete_team(actor, team));
}

tny_status tny_batch_accept(tny_batch* batch, const char* token, uint64_t user) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(token);
  TNY_BATCH(accept(token, user));
}

tny_status tny_batch_revoke_invitation(tny_batch* batch, uint64_t actor,
                                       uint64_t invitation) noexcept {
  TNY_REQUIRE(batch);
  TNY_BATCH(revoke_invitation(actor, invitation));
}

tny_status tny_batch_delete_workspace(tny_batch* batch, uint64_t actor, uint64_t workspace,
                                      const char* confirm) noexcept {
  TNY_REQUIRE(batch);
  TNY_REQUIRE(confirm);
  TNY_BATCH(delete_workspace(actor, workspace, confirm));
}

}  // extern "C"
