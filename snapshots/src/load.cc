// Copyright 2026 The tenantry Authors.
//
// P2: a snapshot file back into an engine, trusting nothing in it.
//
// Order: size bound, FlatBuffers Verifier (outer file, then the nested
// content, each with explicit depth and table limits), checksum, version;
// then every node is rebuilt with its references and ranges checked (a
// dangling id or an out-of-range value is DataLoss before anything uses it),
// every string checked by the engine's own rule for it (fields.h), the
// indexes derived from the primary state (members maps built from sorted
// runs), and every invariant the content could break is checked (verify.h:
// per grant, staff entry and session while linking, then VerifyLoaded);
// what the loader derived itself is not derived twice (Engine::verify(),
// which does, runs after loads in the tests and the fuzzer). A loaded
// engine holds only what the engine itself
// could have made: every rule a change would have been refused for holds.
// All nodes are made through one Txn, so a failure anywhere frees everything
// made so far; the engine is returned only whole.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "codec.h"
#include "engine_internal.h"
#include "engine_journal.h"
#include "envelope.h"
#include "fields.h"
#include "file.h"
#include "status_macros.h"
#include "tenantry/snapshot.h"
#include "tenantry/status.h"
#include "tenantry_generated.h"
#include "text.h"
#include "txn.h"
#include "verify.h"
#include "writer.h"

namespace tenantry {
namespace {

namespace fb = ::tenantry::fbs;
using internal::AccountNode;
using internal::AccountRole;
using internal::HoldNode;
using internal::InvitationNode;
using internal::RoleId;
using internal::RoleNode;
using internal::TeamNode;
using internal::UserNode;
using internal::Version;
using internal::WorkspaceNode;

// DataLoss naming P2 beside `rules`: Bad({"T4"}, ...) ends "(T4, P2)",
// Bad(...) "(P2)".
template <class... Args>
absl::Status Bad(std::initializer_list<absl::string_view> rules, const Args&... args) {
  return internal::RefusedSnapshot(rules, absl::StrCat(args...));
}
template <class... Args>
absl::Status Bad(const Args&... args) {
  return internal::RefusedSnapshot({}, absl::StrCat(args...));
}

// The snapshot as a whole, for refusals of its own fields.
constexpr internal::Entity kTheSnapshot{"the snapshot", 0, false};

template <class T>
size_t SizeOf(const flatbuffers::Vector<T>* v) {
  return v == nullptr ? 0 : v->size();
}

// An invariant the loaded state breaks (internal::Verify*, DataLoss naming
// its rule), refused as P2 says.
absl::Status Invariant(const absl::Status& status) {
  if (status.ok()) return status;
  const std::vector<std::string> rules = RulesOf(status);
  return internal::RefusedSnapshot(
      std::vector<absl::string_view>(rules.begin(), rules.end()),
      absl::StrCat("the state breaks an invariant: ", MessageWithoutRules(status)));
}

// Ids are non-zero, unique, and below the next id of their kind.
template <class Map>
absl::Status FreshId(uint64_t id, uint64_t next, const Map& map, absl::string_view kind) {
  if (id != 0 && id < next && map.Find(id) == nullptr) return absl::OkStatus();
  return Bad(kind, " id ", id, " is zero, repeated or not below the next ", kind, " id");
}

// The tables of a vector field (none when it is absent).
template <class T>
std::vector<const T*> Tables(const flatbuffers::Vector<flatbuffers::Offset<T>>* v) {
  std::vector<const T*> out;
  if (v != nullptr) out.assign(v->begin(), v->end());
  return out;
}

// Verifier, checksum, version: the content buffer, or why not.
absl::StatusOr<const fb::Snapshot*> Open(const std::vector<uint8_t>& bytes, uint32_t* version) {
  flatbuffers::Verifier::Options options;
  options.max_depth = limits::kSnapshotMaxDepth;
  options.max_tables = limits::kSnapshotMaxTables;
  options.check_nested_flatbuffers = false;  // verified below, with these limits
  if (bytes.size() < 16 || !fb::FileBufferHasIdentifier(bytes.data())) {
    return Bad("not a tenantry snapshot (no 'TNY1' identifier)");
  }
  flatbuffers::Verifier outer(bytes.data(), bytes.size(), options);
  if (!fb::VerifyFileBuffer(outer)) return Bad("the file's structure is damaged (Verifier)");
  const fb::File* file = fb::GetFile(bytes.data());
  *version = file->format_version();
  if (*version / 1000 > kSnapshotFormatVersion / 1000) {
    return Bad({"P4"}, "format version ", *version, " is newer than this reader's ",
               kSnapshotFormatVersion, " (major ", *version / 1000, " > ",
               kSnapshotFormatVersion / 1000, "); upgrade tenantry to load it");
  }
  if (*version / 1000 < 1) return Bad({"P4"}, "format version ", *version, " is not a known one");
  const flatbuffers::Vector<uint8_t>* content = file->content();
  const flatbuffers::Vector<uint8_t>* sum = file->checksum();
  if (content == nullptr || sum == nullptr || file->checksum_kind() != 1 || sum->size() != 32) {
    return Bad("the file has no content or no BLAKE2b checksum");
  }
  const std::array<uint8_t, 32> expected = internal::Checksum(content->data(), content->size());
  if (!std::equal(expected.begin(), expected.end(), sum->begin())) {
    return Bad("the checksum does not match the content: the file is damaged");
  }
  // The checksum covers the content only: the bytes around it must be
  // exactly what the writer makes, or damage there would go unnoticed.
  if (!internal::IsExactEnvelope(bytes.data(), bytes.size(), content->data(), content->size(),
                                 *version, expected)) {
    return Bad("the bytes around the content are damaged, or bytes were added to the file");
  }
  flatbuffers::Verifier inner(content->data(), content->size(), options);
  if (!inner.VerifyBuffer<fb::Snapshot>(nullptr)) {
    return Bad("the content's structure is damaged (Verifier)");
  }
  const auto* snapshot = flatbuffers::GetRoot<fb::Snapshot>(content->data());
  // InspectSnapshot shows it: text, like everything a reader may be handed.
  TNY_RETURN_IF_ERROR(internal::TextField(snapshot->writer(), "Snapshot.writer", kTheSnapshot,
                                          limits::kSnapshotWriterMaxBytes, "P2")
                          .status());
  return snapshot;
}

class Loader {
 public:
  explicit Loader(const fb::Snapshot& s) : s_(s), v_(new Version()) { v_->gen = 1; }
  ~Loader() {
    if (!done_) txn_.Abort();
  }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  absl::Status Build();
  // Hands the version over (after Build succeeded).
  Version* Release() {
    done_ = true;
    (void)txn_.Commit();
    return v_.release();
  }
  const fb::Snapshot& snapshot() const { return s_; }
  // Held amounts not covered by a live reservation, per cell (returned to
  // the regular bucket): reserves in flight at the cut.
  absl::flat_hash_map<internal::BalanceCell*, internal::CellValue> cells;

 private:
  absl::Status Header();
  absl::Status Catalog();
  absl::Status Meters();
  absl::Status Accounts();
  absl::Status Account(const fb::Account& in);
  absl::Status Pools(const fb::Account& in, AccountNode* a);
  absl::Status Users();
  absl::Status Workspaces();
  absl::Status Workspace(const fb::Workspace& in);
  absl::Status Credits(const fb::Workspace& in, WorkspaceNode* ws);
  absl::Status Ancestors();
  absl::Status Roles();
  absl::Status Teams();
  absl::Status Invitations();
  absl::Status Holds();
  absl::Status Invitation(const fb::Invitation& in);
  absl::Status InvitationShape(const InvitationNode& node) const;
  absl::Status Links();
  absl::Status ResolveRoles();
  // A workspace role id valid in `account`: built-in owner..client or one of
  // the account's custom roles.
  absl::Status CheckRole(RoleId role, AccountId account, absl::string_view where) const;
  // M2: a scope's workspaces exist, belong to `account`, ascending.
  absl::Status CheckScope(const std::vector<WorkspaceId>& ids, AccountId account,
                          absl::string_view where, bool allow_deleted = false) const;

  template <class T>
  T* Mutable(const T* node) {
    return const_cast<T*>(node);  // every node here was made by txn_
  }

  const fb::Snapshot& s_;
  internal::Txn txn_{1};
  std::unique_ptr<Version> v_;
  bool done_ = false;
  size_t direct_grants_ = 0;  // as the file lists them (Links reserves)
};

// FlatBuffers 2.0.8's Verifier checks a vector's length prefix for 4-byte
// alignment only: an 8-byte element vector may be misaligned in a hostile
// file, and reading it would be undefined. Such files are refused.
template <class T>
bool Aligned(const flatbuffers::Vector<T>* v) {
  return v == nullptr || v->size() == 0 || reinterpret_cast<uintptr_t>(v->Data()) % alignof(T) == 0;
}

absl::Status Loader::Header() {
  const auto* next = s_.next_ids();
  if (SizeOf(next) != 6 || !Aligned(next)) return Bad("next_ids must hold 6 aligned values");
  for (uint64_t n : *next) {
    if (n == 0 || n > (uint64_t{1} << 62)) return Bad("a next id is out of range: ", n);
  }
  v_->next_account = next->Get(0);
  v_->next_user = next->Get(1);
  v_->next_workspace = next->Get(2);
  v_->next_role = next->Get(3);
  v_->next_team = next->Get(4);
  v_->next_invitation = next->Get(5);
  if (v_->next_role < internal::kFirstCustomRole || v_->next_role > UINT32_MAX) {
    return Bad("next role id ", v_->next_role, " is out of range");
  }
  if (v_->next_team > limits::kMaxTeamId + 1) {
    return Bad({"M9"}, "next team id ", v_->next_team, " is out of range");
  }
  v_->revision = s_.revision();
  if (SizeOf(s_.token_key()) != 32 || SizeOf(s_.key_hash_key()) != 16) {
    return Bad("the engine's keys are missing or malformed");
  }
  // P3: absent in format 1000 files; 16 random bytes since 1001.
  if (s_.lineage() != nullptr && s_.lineage()->size() != 16) {
    return Bad({"P3"}, "Snapshot.lineage has ", s_.lineage()->size(), " bytes, not 16");
  }
  return absl::OkStatus();
}

absl::Status Loader::Catalog() {
  const internal::Catalog builtin = internal::Catalog::Builtin();
  const auto* names = s_.permissions();
  if (SizeOf(names) < builtin.names.size() || SizeOf(names) > limits::kMaxPermissions) {
    return Bad("the permission catalog holds ", SizeOf(names), " names; expected ",
               builtin.names.size(), "..", limits::kMaxPermissions);
  }
  auto* catalog = txn_.Make<internal::Catalog>();
  for (uint32_t i = 0; i < names->size(); ++i) {
    TNY_ASSIGN_OR_RETURN(
        std::string name,
        internal::PermissionField(names->Get(i), "Snapshot.permissions", {"permission", i}));
    if (i < builtin.names.size() && name != builtin.names[i]) {
      return Bad({"M7"}, "built-in permission ", i, " is '", name, "', this build has '",
                 builtin.names[i], "'");
    }
    if (!catalog->ids.emplace(name, i).second) {
      return Bad({"M7"}, "permission ", i, " repeats the name '", name, "'");
    }
    catalog->names.push_back(std::move(name));
  }
  v_->catalog = catalog;
  return absl::OkStatus();
}

absl::Status Loader::Meters() {
  const internal::MeterTable builtin = internal::MeterTable::Builtin();
  const auto* meters = s_.meters();
  if (SizeOf(meters) < builtin.meters.size() || SizeOf(meters) > limits::kMaxMeters) {
    return Bad("the snapshot holds ", SizeOf(meters), " meters");
  }
  auto* table = txn_.Make<internal::MeterTable>();
  absl::flat_hash_set<std::string> seen;
  for (uint32_t i = 0; i < meters->size(); ++i) {
    const fb::Meter* m = meters->Get(i);
    const internal::Entity meter{"meter", i};
    internal::MeterDef def;
    TNY_ASSIGN_OR_RETURN(def.name,
                         internal::MeterNameField(m->name(), "Meter.name", meter, "meter name"));
    const size_t buckets = SizeOf(m->buckets());
    if (buckets < 1 || buckets > static_cast<size_t>(kMaxBuckets)) {
      return Bad({"C1"}, "meter ", i, " has ", buckets, " buckets");
    }
    for (const flatbuffers::String* b : *m->buckets()) {
      TNY_ASSIGN_OR_RETURN(std::string bucket,
                           internal::MeterNameField(b, "Meter.buckets", meter, "bucket name"));
      def.buckets.push_back(std::move(bucket));
    }
    if (!seen.insert(def.name).second) return Bad({"C1"}, "meter ", i, " repeats a meter's name");
    if (buckets == 2 && def.buckets[0] == def.buckets[1]) {
      return Bad({"C1"}, "meter ", i, " repeats a bucket");
    }
    if (i < builtin.meters.size() &&
        (def.name != builtin.meters[i].name || def.buckets != builtin.meters[i].buckets)) {
      return Bad("built-in meter ", i, " differs from this build's");
    }
    table->meters.push_back(std::move(def));
  }
  v_->meters = table;
  return absl::OkStatus();
}

absl::Status Loader::Accounts() {
  for (const fb::Account* in : Tables(s_.accounts())) TNY_RETURN_IF_ERROR(Account(*in));
  return absl::OkStatus();
}

absl::Status Loader::Account(const fb::Account& in) {
  const AccountId id = in.id();
  TNY_RETURN_IF_ERROR(FreshId(id, v_->next_account, v_->accounts, "account"));
  const internal::Entity entity{"account", id};
  auto* a = txn_.Make<AccountNode>();
  a->id = id;
  TNY_ASSIGN_OR_RETURN(a->name, internal::NameField(in.name(), "Account.name", entity, "account"));
  // T1: the key is optional ("" or absent = none); one that is given is a key (M1).
  if (in.key() != nullptr && in.key()->size() != 0) {
    TNY_ASSIGN_OR_RETURN(a->key, internal::KeyField(in.key(), "Account.key", entity));
  }
  if (in.plan() == nullptr) return Bad("account ", id, " has no plan");
  TNY_ASSIGN_OR_RETURN(a->plan.name,
                       internal::PlanNameField(in.plan()->name(), "Plan.name", entity));
  a->plan.workspace_limit = in.plan()->workspace_limit();
  a->plan.agency = in.plan()->agency();
  if (a->plan.workspace_limit < Plan::kUnlimited) {
    return Bad({"T2"}, "account ", id, ": plan limit");
  }
  a->plan_set = in.plan_set();
  const Plan unset = internal::UnsetPlan();
  if (!a->plan_set &&
      (a->plan.name != unset.name || a->plan.workspace_limit != unset.workspace_limit ||
       a->plan.agency != unset.agency)) {
    return Bad({"T2"}, "account ", id, " has no plan but holds plan '", a->plan.name, "'");
  }
  a->owner = in.owner();
  a->member_default_all = in.member_default_all();
  a->staff_member_role = in.staff_member_role();
  if (!internal::IsStaffMemberRole(a->staff_member_role)) {
    return Bad({"M8"}, "Account.staff_member_role of account ", id, " is role ",
               a->staff_member_role, "; one of admin, manager, member, viewer");
  }
  TNY_RETURN_IF_ERROR(Pools(in, a));
  if (!a->key.empty() && !v_->account_keys.Set(txn_, a->key, id)) {
    return Bad({"T1"}, "account key '", a->key, "' is repeated");
  }
  v_->accounts.Set(txn_, id, a);
  return absl::OkStatus();
}

absl::Status Loader::Pools(const fb::Account& in, AccountNode* a) {
  for (size_t p = 0; p < SizeOf(in.pools()); ++p) {
    const fb::Pool* pool = in.pools()->Get(static_cast<uint32_t>(p));
    if (pool->meter() >= v_->meters->meters.size() ||
        internal::FindMeterEntry(a->pools, pool->meter()) != nullptr) {
      return Bad("account ", a->id, " has a pool of an unknown or repeated meter");
    }
    if (pool->regular() < 0 || pool->extra() < 0 || pool->granted() < 0 ||
        pool->consumed_by_deleted() < 0) {
      return Bad("account ", a->id, " has a negative pool amount");
    }
    // C1: a one-bucket meter is only ever granted to its one bucket.
    if (v_->meters->meters[pool->meter()].buckets.size() == 1 && pool->extra() != 0) {
      return Bad({"C1"}, "Pool.extra of account ", a->id, " meter ", pool->meter(),
                 " is not 0 for a one-bucket meter");
    }
    a->pools.push_back(internal::Pool{pool->meter(),
                                      {pool->regular(), pool->extra()},
                                      pool->granted(),
                                      pool->consumed_by_deleted()});
  }
  return absl::OkStatus();
}

absl::Status Loader::Users() {
  for (const fb::User* in : Tables(s_.users())) {
    const UserId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_user, v_->users, "user"));
    auto* u = txn_.Make<UserNode>();
    u->id = id;
    TNY_ASSIGN_OR_RETURN(u->key, internal::KeyField(in->key(), "User.key", {"user", id}));
    if (!v_->user_keys.Set(txn_, u->key, id)) return Bad({"M1"}, "user ", id, " repeats a key");
    // Exact: a user's grants live as long as the user (team grants, added
    // later, grow it a quarter at a time, like the writer's SetGrant).
    u->grants.reserve(SizeOf(in->grants()));
    direct_grants_ += SizeOf(in->grants());
    for (size_t g = 0; g < SizeOf(in->grants()); ++g) {
      const fb::Grant* grant = in->grants()->Get(static_cast<uint32_t>(g));
      u->grants.push_back(internal::Grant{grant->workspace(), 0, grant->role()});
    }
    for (size_t k = 0; k < SizeOf(in->staff()); ++k) {
      const fb::Staff* staff = in->staff()->Get(static_cast<uint32_t>(k));
      internal::StaffEntry entry;
      entry.account = staff->account();
      if (staff->role() < 1 || staff->role() > 3) return Bad("user ", id, ": a staff role");
      entry.role = static_cast<AccountRole>(staff->role());
      entry.scope_all = staff->scope_all();
      if (staff->scope() != nullptr) {
        if (!Aligned(staff->scope()) || (entry.scope_all && staff->scope()->size() != 0)) {
          return Bad("user ", id, ": a staff scope is misaligned, or lists workspaces with all");
        }
        entry.scope.assign(staff->scope()->begin(), staff->scope()->end());  // checked in Links
      }
      u->staff.push_back(std::move(entry));
    }
    u->active_workspace = in->active_workspace();
    u->session_seen_ns = in->session_seen_ns();
    v_->users.Set(txn_, id, u);
  }
  return absl::OkStatus();
}

absl::Status Loader::Workspaces() {
  for (const fb::Workspace* in : Tables(s_.workspaces())) TNY_RETURN_IF_ERROR(Workspace(*in));
  return Ancestors();
}

absl::Status Loader::Workspace(const fb::Workspace& in) {
  const WorkspaceId id = in.id();
  TNY_RETURN_IF_ERROR(FreshId(id, v_->next_workspace, v_->workspaces, "workspace"));
  const AccountNode* account = v_->accounts.Find(in.account());
  if (account == nullptr) return Bad("workspace ", id, " belongs to no account");
  auto* ws = txn_.Make<WorkspaceNode>();
  ws->id = id;
  ws->account = in.account();
  const internal::Entity entity{"workspace", id};
  TNY_ASSIGN_OR_RETURN(ws->name,
                       internal::NameField(in.name(), "Workspace.name", entity, "workspace"));
  TNY_ASSIGN_OR_RETURN(ws->slug, internal::SlugField(in.slug(), "Workspace.slug", entity));
  if (in.type() > 1 || in.status() > 1) return Bad("workspace ", id, ": type or status");
  ws->type = static_cast<WorkspaceType>(in.type());
  ws->status = static_cast<WorkspaceStatus>(in.status());
  ws->parent = in.parent();
  ws->owner = in.owner();
  if (v_->users.Find(ws->owner) == nullptr) return Bad("workspace ", id, " has no owner");
  if (in.settings() != nullptr) {
    ws->settings = Settings{in.settings()->beta_opt_in(), in.settings()->approval_timeout_s(),
                            in.settings()->inactivity_timeout_s()};
  }
  const Settings& st = ws->settings;
  if (st.approval_timeout_s < limits::kApprovalTimeoutMinS ||
      st.approval_timeout_s > limits::kApprovalTimeoutMaxS || st.inactivity_timeout_s < 0 ||
      st.inactivity_timeout_s > limits::kInactivityTimeoutMaxS) {
    return Bad({"T6"}, "workspace ", id, " has settings out of range");
  }
  TNY_RETURN_IF_ERROR(Credits(in, ws));
  if (!Mutable(account)->slugs.Set(txn_, ws->slug, id)) {
    return Bad({"T3"}, "slug '", ws->slug, "' is repeated in account ", ws->account);
  }
  Mutable(account)->workspaces.Set(txn_, id, 1);
  v_->workspaces.Set(txn_, id, ws);
  return absl::OkStatus();
}

absl::Status Loader::Credits(const fb::Workspace& in, WorkspaceNode* ws) {
  for (size_t c = 0; c < SizeOf(in.credits()); ++c) {
    const fb::Funding* f = in.credits()->Get(static_cast<uint32_t>(c));
    const internal::CellValue value{f->regular(), f->extra(), f->held(), false};
    if (f->meter() >= v_->meters->meters.size() ||
        internal::FindMeterEntry(ws->credits, f->meter()) != nullptr || f->funded() < 0 ||
        value.regular < 0 || value.extra < 0 || value.held < 0 ||
        value.regular > limits::kMaxWorkspaceBalance ||
        value.extra > limits::kMaxWorkspaceBalance || value.held > limits::kMaxWorkspaceBalance ||
        value.total() > limits::kMaxWorkspaceBalance || value.total() > f->funded() ||
        (v_->meters->meters[f->meter()].buckets.size() == 1 && value.extra != 0)) {
      return Bad({"C1", "C3"}, "workspace ", ws->id, " has a malformed credit entry");
    }
    auto* cell = txn_.Make<internal::BalanceCell>();
    cells[cell] = value;
    ws->credits.push_back(internal::Funding{f->meter(), f->funded(), cell});
  }
  return absl::OkStatus();
}

// T4: parents exist, are agencies of the same account, and chains are at
// most kMaxDepth long (which also rules out cycles).
absl::Status Loader::Ancestors() {
  absl::Status status;
  v_->workspaces.ForEach([&](WorkspaceId id, const WorkspaceNode* node) {
    if (!status.ok()) return;
    WorkspaceNode* ws = Mutable(node);
    int depth = 1;
    for (WorkspaceId at = ws->parent; at != 0;) {
      const WorkspaceNode* parent = v_->workspaces.Find(at);
      if (parent == nullptr || parent->account != ws->account ||
          parent->type != WorkspaceType::kAgency || depth >= limits::kMaxDepth) {
        status = Bad({"T4"}, "workspace ", id, " has a missing, foreign or too deep parent chain");
        return;
      }
      ws->ancestors[depth - 1] = at;
      ++depth;
      at = parent->parent;
    }
    ws->depth = static_cast<uint8_t>(depth);
    if (ws->parent != 0) Mutable(v_->workspaces.Find(ws->parent))->children.Set(txn_, id, 1);
  });
  return status;
}

absl::Status Loader::CheckRole(RoleId role, AccountId account, absl::string_view where) const {
  if (role >= internal::kOwner && role <= internal::kClient) return absl::OkStatus();
  const RoleNode* custom = role >= internal::kFirstCustomRole ? v_->roles.Find(role) : nullptr;
  if (custom == nullptr || custom->account != account) {
    return Bad(where, " names role ", role, ", not a role of account ", account);
  }
  return absl::OkStatus();
}

absl::Status Loader::Roles() {
  const auto* roles = s_.roles();
  for (size_t i = 0; i < SizeOf(roles); ++i) {
    const fb::Role* in = roles->Get(static_cast<uint32_t>(i));
    const RoleId id = in->id();
    if (id < internal::kFirstCustomRole || id >= v_->next_role || v_->roles.Find(id) != nullptr) {
      return Bad("role id ", id, " is out of range or repeated");
    }
    const AccountNode* account = v_->accounts.Find(in->account());
    if (account == nullptr) return Bad("role ", id, " belongs to no account");
    auto* r = txn_.Make<RoleNode>();
    r->id = id;
    r->account = in->account();
    TNY_ASSIGN_OR_RETURN(r->name, internal::RoleNameField(in->name(), "Role.name", {"role", id}));
    for (size_t k = 0; k < SizeOf(in->permissions()); ++k) {
      const uint32_t p = in->permissions()->Get(static_cast<uint32_t>(k));
      if (p >= v_->catalog->names.size()) return Bad("role ", id, " names an unknown permission");
      r->own.Add(p);
    }
    r->inherits = in->inherits();
    if (!Mutable(account)->roles.Set(txn_, r->name, id)) {
      return Bad("role name '", r->name, "' is repeated in account ", r->account);
    }
    if (account->roles.size() > limits::kMaxCustomRolesPerAccount) return Bad("too many roles");
    v_->roles.Set(txn_, id, r);
  }
  return ResolveRoles();
}

// M6: own + inherited permissions and the client family, along chains that
// must stay inside the account and end (no cycle).
absl::Status Loader::ResolveRoles() {
  absl::Status status;
  v_->roles.ForEach([&](uint64_t id, const RoleNode* node) {
    if (!status.ok()) return;
    RoleNode* role = Mutable(node);
    role->perms = role->own;
    size_t steps = 0;
    RoleId at = role->inherits;
    while (at >= internal::kFirstCustomRole) {
      const RoleNode* parent = v_->roles.Find(at);
      if (parent == nullptr || parent->account != role->account ||
          ++steps > limits::kMaxCustomRolesPerAccount) {
        status =
            Bad({"M6"}, "role ", id, " inherits from a missing or foreign role, or in a cycle");
        return;
      }
      role->perms.AddAll(parent->own);
      at = parent->inherits;
    }
    if (at != internal::kNoRole && (at < internal::kOwner || at > internal::kClient)) {
      status = Bad("role ", id, " inherits from built-in role ", at, ", not a workspace role");
      return;
    }
    if (at != internal::kNoRole) role->perms.AddAll(internal::BuiltinRolePerms(at));
    role->client_like = at == internal::kClient;
  });
  return status;
}

absl::Status Loader::CheckScope(const std::vector<WorkspaceId>& ids, AccountId account,
                                absl::string_view where, bool allow_deleted) const {
  if (ids.size() > limits::kMaxScopeWorkspaces) return Bad(where, ": scope too large");
  for (size_t k = 0; k < ids.size(); ++k) {
    const WorkspaceNode* ws = v_->workspaces.Find(ids[k]);
    const bool deleted = ws == nullptr && ids[k] != 0 && ids[k] < v_->next_workspace;
    if ((ws == nullptr && !(allow_deleted && deleted)) ||
        (ws != nullptr && ws->account != account) || (k > 0 && ids[k - 1] >= ids[k])) {
      return Bad(where, ": scope workspace ", ids[k], " is unknown, foreign or out of order");
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::Teams() {
  // M9: a team's name is unique within its workspace.
  absl::flat_hash_set<std::pair<WorkspaceId, std::string>> team_names;
  for (const fb::Team* in : Tables(s_.teams())) {
    const TeamId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_team, v_->teams, "team"));
    const WorkspaceNode* ws = v_->workspaces.Find(in->workspace());
    if (ws == nullptr) return Bad("team ", id, " belongs to no workspace");
    auto* t = txn_.Make<TeamNode>();
    t->id = id;
    t->workspace = in->workspace();
    TNY_ASSIGN_OR_RETURN(t->name,
                         internal::NameField(in->name(), "Team.name", {"team", id}, "team"));
    if (!team_names.emplace(t->workspace, t->name).second) {
      return Bad({"M9"}, "team ", id, " repeats the name of another team of workspace ",
                 t->workspace);
    }
    t->role = in->role();
    TNY_RETURN_IF_ERROR(CheckRole(t->role, ws->account, absl::StrCat("team ", id)));
    if (!internal::IsDelegableRole(t->role)) {
      return Bad({"M4", "M9"}, "Team.role of team ", id,
                 " is owner; a workspace has exactly one owner");
    }
    if (in->members() != nullptr && !Aligned(in->members())) {
      return Bad("team ", id, ": the member list is misaligned");
    }
    for (size_t m = 0; m < SizeOf(in->members()); ++m) {
      const UserId user = in->members()->Get(static_cast<uint32_t>(m));
      const UserNode* u = v_->users.Find(user);
      if (u == nullptr || !t->members.Set(txn_, user, 1)) {
        return Bad("team ", id, " lists an unknown or repeated member");
      }
      std::vector<internal::Grant>& grants = Mutable(u)->grants;
      if (grants.size() == grants.capacity()) {
        grants.reserve(grants.size() + std::max<size_t>(1, grants.size() / 4));
      }
      grants.push_back(
          internal::Grant{t->workspace, static_cast<uint32_t>(id), t->role});  // id < next_team
    }
    Mutable(ws)->teams.Set(txn_, id, 1);
    if (ws->teams.size() > limits::kMaxTeamsPerWorkspace) return Bad({"M9"}, "too many teams");
    v_->teams.Set(txn_, id, t);
  }
  return absl::OkStatus();
}

// R6: a replica group's leases and reservations. What they hold is in their
// cells' held amounts, which verify() checks against them.
absl::Status Loader::Holds() {
  v_->next_hold = s_.next_hold() == 0 ? 1 : s_.next_hold();
  if (v_->next_hold > (uint64_t{1} << 62)) return Bad({"R6"}, "next_hold is out of range");
  for (const fb::Hold* in : Tables(s_.holds())) {
    const uint64_t id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_hold, v_->holds, "hold"));
    const WorkspaceNode* ws = v_->workspaces.Find(in->workspace());
    const internal::Funding* f =
        ws == nullptr ? nullptr : internal::FindMeterEntry(ws->credits, in->meter());
    if (f == nullptr || ws->account != in->account() || in->kind() > 1 || in->held_regular() < 0 ||
        in->held_extra() < 0 || in->held_regular() > limits::kMaxWorkspaceBalance ||
        in->held_extra() > limits::kMaxWorkspaceBalance || in->settled() < 0) {
      return Bad({"R6"}, "hold ", id, " is malformed or names no funded workspace of its account");
    }
    auto* node = txn_.Make<HoldNode>();
    node->id = id;
    node->kind = static_cast<internal::HoldKind>(in->kind());
    TNY_ASSIGN_OR_RETURN(node->owner, internal::TextField(in->owner(), "Hold.owner", {"hold", id},
                                                          limits::kReplicaIdMaxBytes, "R6"));
    node->account = in->account();
    node->workspace = in->workspace();
    node->meter = in->meter();
    node->held_regular = in->held_regular();
    node->held_extra = in->held_extra();
    node->settled = in->settled();
    node->expires_at_ns = in->expires_at_ns();
    node->recalled = in->recalled();
    v_->holds.Set(txn_, id, node);
  }
  return absl::OkStatus();
}

absl::Status Loader::Invitations() {
  for (const fb::Invitation* in : Tables(s_.invitations())) TNY_RETURN_IF_ERROR(Invitation(*in));
  return absl::OkStatus();
}

absl::Status Loader::Invitation(const fb::Invitation& in) {
  const InvitationId id = in.id();
  TNY_RETURN_IF_ERROR(FreshId(id, v_->next_invitation, v_->invitations, "invitation"));
  const AccountNode* account = v_->accounts.Find(in.account());
  if (account == nullptr || in.kind() > 1 || in.state() > 2 || SizeOf(in.token_hash()) != 32 ||
      (in.invited_by() != kSystem && v_->users.Find(in.invited_by()) == nullptr)) {
    return Bad("invitation ", id, " is malformed");
  }
  auto* node = txn_.Make<InvitationNode>();
  node->id = id;
  node->kind = static_cast<internal::InvitationKind>(in.kind());
  node->account = in.account();
  node->workspace = in.workspace();
  TNY_ASSIGN_OR_RETURN(node->email,
                       internal::KeyField(in.email(), "Invitation.email", {"invitation", id}));
  node->role = in.role();
  node->account_role = static_cast<AccountRole>(in.account_role());
  node->scope_all = in.scope_all();
  if (in.scope() != nullptr) {
    if (!Aligned(in.scope()) || (node->scope_all && in.scope()->size() != 0)) {
      return Bad("invitation ", id, ": its scope is misaligned, or lists workspaces with all");
    }
    node->scope.assign(in.scope()->begin(), in.scope()->end());
  }
  // A staff invitation keeps the ids of workspaces deleted since it was
  // made (accept drops them): ids that were issued are accepted.
  TNY_RETURN_IF_ERROR(CheckScope(node->scope, node->account, absl::StrCat("invitation ", id),
                                 /*allow_deleted=*/true));
  std::copy(in.token_hash()->begin(), in.token_hash()->end(), node->token_hash.begin());
  node->expires_at_ns = in.expires_at_ns();
  node->state = static_cast<internal::InvitationState>(in.state());
  node->invited_by = in.invited_by();
  node->accepted_by = in.accepted_by();
  TNY_RETURN_IF_ERROR(InvitationShape(*node));
  if (node->kind == internal::InvitationKind::kWorkspace) {
    Mutable(v_->workspaces.Find(node->workspace))->invitations.Set(txn_, id, 1);
  } else {
    Mutable(account)->staff_invitations.Set(txn_, id, 1);
  }
  v_->invitations.Set(txn_, id, node);
  return absl::OkStatus();
}

// I1-I3: what invite, invite_staff, accept and revoke leave in an invitation.
absl::Status Loader::InvitationShape(const InvitationNode& node) const {
  const InvitationId id = node.id;
  const bool accepted = node.state == internal::InvitationState::kAccepted;
  const UserNode* by = node.accepted_by == 0 ? nullptr : v_->users.Find(node.accepted_by);
  // I3: only the user whose key is the invited e-mail accepts, and only accept sets accepted_by.
  if (accepted != (node.accepted_by != 0) ||
      (accepted && (by == nullptr || by->key != node.email))) {
    return Bad({"I3"}, "Invitation.accepted_by of invitation ", id,
               " is not the user of its e-mail, or is set while not accepted");
  }
  if (node.kind == internal::InvitationKind::kWorkspace) {
    const WorkspaceNode* ws = v_->workspaces.Find(node.workspace);
    if (ws == nullptr || ws->account != node.account) {
      return Bad("invitation ", id, " names an unknown or foreign workspace");
    }
    TNY_RETURN_IF_ERROR(CheckRole(node.role, node.account, absl::StrCat("invitation ", id)));
    if (!internal::IsDelegableRole(node.role)) {
      return Bad({"M4", "I1"}, "Invitation.role of invitation ", id, " is owner");
    }
    if (node.account_role != AccountRole::kNone || !node.scope_all || !node.scope.empty()) {
      return Bad({"I1"}, "workspace invitation ", id, " has an account role or a staff scope");
    }
    return absl::OkStatus();
  }
  if (node.account_role != AccountRole::kAdmin && node.account_role != AccountRole::kMember) {
    return Bad({"M2", "I1"}, "Invitation.account_role of staff invitation ", id, " is ",
               static_cast<int>(node.account_role), "; admin (2) or member (3)");
  }
  if (node.workspace != 0 || node.role != internal::kNoRole) {
    return Bad({"I1"}, "staff invitation ", id, " names a workspace or a workspace role");
  }
  if (node.account_role == AccountRole::kAdmin && !node.scope_all) {
    return Bad({"M2"}, "staff invitation ", id, " offers admin without the scope all");
  }
  return absl::OkStatus();
}

// What refers across kinds: grants, staff entries, sessions, owners.
absl::Status Loader::Links() {
  // Direct grants, gathered by (workspace, user): each workspace's members
  // map is then built from its run in full leaves, not by random inserts.
  struct Member {
    WorkspaceId workspace;
    UserId user;
    RoleId role;
  };
  std::vector<Member> members;
  members.reserve(direct_grants_);
  std::vector<UserId> sessions;
  absl::Status status;
  v_->users.ForEach([&](UserId id, const UserNode* node) {
    if (!status.ok()) return;
    UserNode* u = Mutable(node);
    std::sort(u->grants.begin(), u->grants.end());
    const auto repeated =
        std::adjacent_find(u->grants.begin(), u->grants.end(), [](const auto& a, const auto& b) {
          return a.workspace == b.workspace && a.team == b.team;
        });
    if (repeated != u->grants.end()) {
      status = Bad("user ", id, " holds two roles in workspace ", repeated->workspace);
      return;
    }
    for (const internal::Grant& g : u->grants) {
      const WorkspaceNode* ws = v_->workspaces.Find(g.workspace);
      if (ws == nullptr) {
        status = Bad("user ", id, " holds a role in unknown workspace ", g.workspace);
        return;
      }
      status = CheckRole(g.role, ws->account, absl::StrCat("user ", id));
      if (status.ok()) status = Invariant(internal::CheckGrant(*v_, *u, g, *ws));
      if (!status.ok()) return;
      if (g.team == 0) members.push_back({g.workspace, id, g.role});
    }
    for (internal::StaffEntry& s : u->staff) {
      const AccountNode* a = v_->accounts.Find(s.account);
      if (a == nullptr || !Mutable(a)->staff.Set(txn_, id, static_cast<uint8_t>(s.role))) {
        status = Bad("user ", id, " is staff of an unknown account, or twice");
        return;
      }
      status = CheckScope(s.scope, s.account, absl::StrCat("staff entry of user ", id));
      if (status.ok()) status = Invariant(internal::CheckStaffEntry(*u, s));
      if (!status.ok()) return;
      s.grant_role = s.role == AccountRole::kOwner   ? internal::kStaffOwner
                     : s.role == AccountRole::kAdmin ? internal::kStaffAdmin
                                                     : a->staff_member_role;
    }
    if (u->active_workspace != 0) {
      const WorkspaceNode* ws = v_->workspaces.Find(u->active_workspace);
      if (ws == nullptr) {
        status = Bad("user ", id, " has an unknown active workspace");
        return;
      }
      Mutable(ws)->sessions.Set(txn_, id, 1);
      sessions.push_back(id);
    }
  });
  TNY_RETURN_IF_ERROR(status);
  // Users came in ascending order, so sorting by workspace alone (stably)
  // leaves each workspace's run ascending by user.
  std::stable_sort(members.begin(), members.end(),
                   [](const Member& a, const Member& b) { return a.workspace < b.workspace; });
  std::vector<UserId> keys;
  std::vector<RoleId> roles;
  for (size_t at = 0; at < members.size();) {
    const WorkspaceId workspace = members[at].workspace;
    keys.clear();
    roles.clear();
    for (; at < members.size() && members[at].workspace == workspace; ++at) {
      keys.push_back(members[at].user);
      roles.push_back(members[at].role);
    }
    Mutable(v_->workspaces.Find(workspace))
        ->members.AssignSorted(txn_, keys.data(), roles.data(), keys.size());
  }
  v_->memberships = members.size();
  // S1: a session is in a live workspace that still grants switching
  // (every grant and staff entry is linked by now).
  for (const UserId id : sessions) {
    TNY_RETURN_IF_ERROR(Invariant(internal::CheckSession(*v_, *v_->users.Find(id))));
  }
  v_->accounts.ForEach([&](AccountId id, const AccountNode* a) {
    if (!status.ok()) return;
    if (v_->users.Find(a->owner) == nullptr) status = Bad("account ", id, " has no owner");
  });
  return status;
}

absl::Status Loader::Build() {
  TNY_RETURN_IF_ERROR(Header());
  TNY_RETURN_IF_ERROR(Catalog());
  TNY_RETURN_IF_ERROR(Meters());
  TNY_RETURN_IF_ERROR(Accounts());
  TNY_RETURN_IF_ERROR(Users());
  TNY_RETURN_IF_ERROR(Workspaces());
  TNY_RETURN_IF_ERROR(Roles());
  TNY_RETURN_IF_ERROR(Teams());
  TNY_RETURN_IF_ERROR(Invitations());
  TNY_RETURN_IF_ERROR(Holds());
  return Links();
}

// ---- The live tables and tails, into the new engine's Impl ----

// C6: the funding a live reservation holds from, when the reservation is one
// reserve() could have made: a positive hold of at most a balance, drawn from
// the buckets its meter has, in a funded workspace of its account.
absl::StatusOr<const internal::Funding*> HeldBy(const fb::Reservation& r, const Version& v) {
  const WorkspaceNode* ws = v.workspaces.Find(r.workspace());
  const internal::Funding* f =
      ws == nullptr ? nullptr : internal::FindMeterEntry(ws->credits, r.meter());
  if (f == nullptr || ws->account != r.account()) {
    return Bad({"C6"}, "reservation in slot ", r.index(),
               " names no funded workspace of its account");
  }
  if (r.held_regular() < 0 || r.held_extra() < 0 ||
      r.held_regular() > limits::kMaxWorkspaceBalance ||
      r.held_extra() > limits::kMaxWorkspaceBalance || r.held_regular() + r.held_extra() <= 0 ||
      (v.meters->meters[r.meter()].buckets.size() == 1 && r.held_extra() != 0)) {
    return Bad({"C1", "C6"}, "Reservation.held_regular/held_extra of the reservation in slot ",
               r.index(), " are not a positive hold from its meter's buckets");
  }
  return f;
}

absl::Status RestoreReservations(const fb::Snapshot& s, Engine::Impl& impl, const Version& v,
                                 Loader& loader,
                                 absl::flat_hash_map<internal::BalanceCell*, int64_t> held) {
  const auto* list = s.reservations();
  if (s.reservation_slots() == 0 || s.reservation_slots() > limits::kReservationSlotsMax) {
    return Bad("reservation table size ", s.reservation_slots(), " is out of range");
  }
  // The loading engine's options bound what a file may make it allocate.
  if (s.reservation_slots() > impl.options.reservation_slots) {
    return Bad("the reservation table has ", s.reservation_slots(),
               " slots, more than this engine's reservation_slots (",
               impl.options.reservation_slots,
               "); load with reservation_slots >= ", s.reservation_slots());
  }
  const size_t size = impl.options.reservation_slots;
  auto table = std::make_unique<internal::ReservationTable>(size);
  int64_t next_expiry = INT64_MAX;
  for (uint32_t i = 0; i < SizeOf(list); ++i) {
    const fb::Reservation* r = list->Get(i);
    if (r->index() >= s.reservation_slots() || r->generation() == 0 ||
        r->generation() >= (uint64_t{1} << (64 - internal::kReservationIndexBits - 2))) {
      return Bad("reservation slot ", r->index(), " is out of range");
    }
    internal::ReservationSlot& slot = table->slot(r->index());
    if (internal::StateOf(slot.state_gen.load()) == internal::SlotState::kLive) {
      return Bad("reservation slot ", r->index(), " is used twice");
    }
    TNY_ASSIGN_OR_RETURN(const internal::Funding* f, HeldBy(*r, v));
    // Each hold is at most a balance, and their running sum is checked
    // against the cell at every step, so it never overflows.
    int64_t& on_cell = held[f->cell];
    on_cell += r->held_regular() + r->held_extra();
    if (on_cell > loader.cells[f->cell].held) {
      return Bad({"C6"}, "reservations hold more than their balance shows");
    }
    slot.workspace.store(r->workspace());
    slot.account.store(r->account());
    slot.meter.store(r->meter());
    slot.cell.store(f->cell);
    slot.amount.store(r->held_regular() + r->held_extra());
    slot.held_regular.store(r->held_regular());
    slot.held_extra.store(r->held_extra());
    slot.expires_at_ns.store(r->expires_at_ns());
    slot.state_gen.store(internal::StateGen(r->generation(), internal::SlotState::kLive));
    next_expiry = std::min(next_expiry, r->expires_at_ns());
  }
  table->RestoreFreeList();
  impl.reservations.store(table.release());
  impl.next_expiry_ns.store(next_expiry);
  // Held amounts no live reservation accounts for: reserves in flight at the
  // cut, never acknowledged before it. They go back to the regular bucket.
  for (auto& [cell, c] : loader.cells) {
    auto it = held.find(cell);
    const int64_t covered = it == held.end() ? 0 : it->second;
    c.regular += c.held - covered;
    c.held = covered;
  }
  return absl::OkStatus();
}

absl::Status RestoreKeys(const fb::Snapshot& s, Engine::Impl& impl) {
  const auto* list = s.keys();
  const uint64_t size = s.key_slots();
  if (size < internal::kKeyProbeLength || size > internal::kMaxKeySlots ||
      (size & (size - 1)) != 0) {
    return Bad("idempotency table size ", size, " is out of range");
  }
  // The loading engine's options bound what a file may make it allocate.
  if (size > internal::KeyTableSize(impl.options.idempotency_slots)) {
    return Bad("the idempotency table has ", size, " slots, more than this engine's ",
               "idempotency_slots (", impl.options.idempotency_slots,
               ") allow; load with idempotency_slots >= ", size);
  }
  auto table = std::make_unique<internal::KeyTable>(size);
  for (uint32_t i = 0; i < SizeOf(list); ++i) {
    const fb::IdempotencyKey* k = list->Get(i);
    if (k->index() >= size || k->generation() >= (uint64_t{1} << 62) || k->time_ns() < 0) {
      return Bad("idempotency slot ", k->index(), " is out of range");
    }
    internal::KeySlot& slot = table->slot(k->index());
    if (slot.words[1] != 0) return Bad("idempotency slot ", k->index(), " is used twice");
    const bool live = k->tag() != 0;
    // C5: a remembered consume asked for a positive amount and got a balance
    // or a remembered refusal (a retry replays both).
    if (live && (k->amount() <= 0 || !internal::ValidKeyResult(k->result()))) {
      return Bad({"C1", "C5"}, "IdempotencyKey.amount/result of idempotency slot ", k->index(),
                 " are not a consume's");
    }
    slot.words[0] = k->tag();
    slot.words[1] = internal::Meta(std::max<uint64_t>(k->generation(), 1),
                                   live ? internal::KeyState::kDone : internal::KeyState::kFree);
    slot.time_ns.store(k->time_ns());
    slot.amount.store(k->amount());
    slot.result.store(k->result());
  }
  impl.keys.store(table.release());
  return absl::OkStatus();
}

// C7: an entry as the engine writes it (writer_credits.cc, engine_settle.cc): the fields its
// kind uses, ids that were issued, amounts that moved. Its revision is the
// one current when it was made, not after the cut's; its time is the clock's.
absl::Status CheckLedgerEntry(const fb::LedgerEntry& e, const Version& v) {
  const uint64_t sequence = e.sequence();
  if (e.kind() > static_cast<uint8_t>(LedgerKind::kReturnOnDelete) ||
      e.meter() >= v.meters->meters.size() || e.revision() > v.revision ||
      v.accounts.Find(e.account()) == nullptr ||
      (e.actor() != kSystem && v.users.Find(e.actor()) == nullptr)) {
    return Bad({"C7"}, "ledger entry ", sequence,
               " has an unknown kind, meter, account or actor, or a revision after the cut's");
  }
  const auto kind = static_cast<LedgerKind>(e.kind());
  const bool settles =
      kind == LedgerKind::kCommit || kind == LedgerKind::kRelease || kind == LedgerKind::kExpire;
  const bool one_bucket = v.meters->meters[e.meter()].buckets.size() == 1;
  if (e.amount_regular() < 0 || e.amount_extra() < 0 || e.returned_regular() < 0 ||
      e.returned_extra() < 0 ||
      (one_bucket && (e.amount_extra() != 0 || e.returned_extra() != 0))) {
    return Bad({"C1", "C7"}, "ledger entry ", sequence,
               " moves a negative amount or a bucket its meter lacks");
  }
  const bool workspace_ok = kind == LedgerKind::kGrant
                                ? e.workspace() == 0
                                : e.workspace() != 0 && e.workspace() < v.next_workspace;
  const uint64_t index_mask = (uint64_t{1} << internal::kReservationIndexBits) - 1;
  const bool settle_ok =
      settles
          ? e.actor() == kSystem && (e.reservation() & index_mask) != 0 &&
                (kind == LedgerKind::kCommit || (e.amount_regular() == 0 && e.amount_extra() == 0))
          : e.reservation() == 0 && e.returned_regular() == 0 && e.returned_extra() == 0;
  if (!workspace_ok || !settle_ok) {
    return Bad({"C7"}, "ledger entry ", sequence, " of kind ", LedgerKindName(kind),
               " has a workspace, reservation, actor or amount that kind never has");
  }
  return absl::OkStatus();
}

absl::Status RestoreLedger(const fb::Snapshot& s, Engine::Impl& impl, const Version& v) {
  internal::MutexLock ledger_lock(&impl.ledger_mu);
  // C7: the entries in memory are consecutive, from the one after the last
  // that left memory up to the one before the next sequence.
  if (s.ledger_dropped_through() >= (uint64_t{1} << 62)) {
    return Bad({"C7"}, "Snapshot.ledger_dropped_through is out of range");
  }
  uint64_t next = s.ledger_dropped_through() + 1;
  for (const fb::LedgerEntry* e : Tables(s.ledger())) {
    if (e->sequence() != next) {
      return Bad({"C7"}, "LedgerEntry.sequence ", e->sequence(), " is not ", next,
                 ": the ledger's sequences are consecutive");
    }
    TNY_RETURN_IF_ERROR(CheckLedgerEntry(*e, v));
    ++next;
    impl.ledger.push_back(LedgerEntry{e->sequence(),
                                      e->revision(),
                                      e->time_ns(),
                                      e->actor(),
                                      e->account(),
                                      e->workspace(),
                                      e->meter(),
                                      static_cast<LedgerKind>(e->kind()),
                                      {e->amount_regular(), e->amount_extra()},
                                      {e->returned_regular(), e->returned_extra()},
                                      e->reservation()});
  }
  if (s.ledger_next_sequence() != next) {
    return Bad({"C7"}, "Snapshot.ledger_next_sequence ", s.ledger_next_sequence(), " is not ", next,
               ", the one after the last entry");
  }
  // The latest time among entries that left memory starts at 0 and only grows.
  if (s.ledger_dropped_max_time_ns() < 0 ||
      (s.ledger_dropped_through() == 0 && s.ledger_dropped_max_time_ns() != 0)) {
    return Bad({"C7"}, "Snapshot.ledger_dropped_max_time_ns is not a time of dropped entries");
  }
  impl.ledger_next_sequence = s.ledger_next_sequence();
  impl.ledger_dropped_through = s.ledger_dropped_through();
  impl.ledger_dropped_max_time_ns = s.ledger_dropped_max_time_ns();
  return absl::OkStatus();
}

// L1: a record as Writer::Record makes it: the next revision, an actor that
// is SYSTEM or a user, an account and a workspace that were issued, and text.
absl::StatusOr<AuditRecord> AuditRecordOf(const fb::Change& c, const Version& v,
                                          uint64_t revision) {
  if (c.revision() != revision || revision > v.revision) {
    return Bad({"L1"}, "Change.revision ", c.revision(), " is not ", revision,
               ": the feed holds every revision after feed_dropped_through up to the cut's");
  }
  if ((c.actor() != kSystem && v.users.Find(c.actor()) == nullptr) ||
      (c.account() != 0 && v.accounts.Find(c.account()) == nullptr) ||
      c.workspace() >= v.next_workspace) {
    return Bad({"L1"}, "feed record ", revision, " names an unknown actor, account or workspace");
  }
  TNY_ASSIGN_OR_RETURN(std::string what,
                       internal::TextField(c.what(), "Change.what", {"feed record", revision},
                                           limits::kAuditTextMaxBytes, "L1"));
  return AuditRecord{revision, c.time_ns(), c.actor(), c.account(), c.workspace(), std::move(what)};
}

absl::Status RestoreFeed(const fb::Snapshot& s, Engine::Impl& impl, const Version& v) {
  internal::MutexLock feed_lock(&impl.feed_mu);
  if (s.feed_dropped_through() > v.revision) {
    return Bad({"L1"}, "the feed is ahead of the revision");
  }
  uint64_t revision = s.feed_dropped_through();
  for (const fb::Change* c : Tables(s.feed())) {
    TNY_ASSIGN_OR_RETURN(AuditRecord record, AuditRecordOf(*c, v, revision + 1));
    impl.feed.push_back(std::move(record));
    ++revision;
  }
  if (revision != v.revision) {
    return Bad({"L1"}, "the feed ends at revision ", revision, ", not at the cut's ", v.revision);
  }
  impl.feed_dropped_through = s.feed_dropped_through();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> LoadContent(const fb::Snapshot& s,
                                                    const Engine::Options& options) {
  Loader loader(s);
  TNY_RETURN_IF_ERROR(loader.Build());
  auto engine = std::make_unique<Engine>(options);
  Engine::Impl& impl = internal::EngineInternal::impl(*engine);
  Version* v = loader.Release();
  internal::EngineInternal::InstallFirstVersion(*engine, v);
  // From here the engine owns every node; a failure drops the engine.
  std::copy(s.token_key()->begin(), s.token_key()->end(), impl.token_key.begin());
  std::copy(s.key_hash_key()->begin(), s.key_hash_key()->end(), impl.key_hash_key.begin());
  // An absent list is an empty one (FlatBuffers writers may leave it out).
  // R6: a replica group's holds show as held in their cells.
  absl::flat_hash_map<internal::BalanceCell*, int64_t> held;
  absl::Status holds = absl::OkStatus();
  v->holds.ForEach([&](uint64_t, const internal::HoldNode* h) {
    const internal::Funding* f =
        internal::FindMeterEntry(v->workspaces.Find(h->workspace)->credits, h->meter);
    int64_t& on_cell = held[f->cell];
    on_cell += h->held_regular + h->held_extra;
    if (on_cell > loader.cells[f->cell].held && holds.ok()) {
      holds = Bad({"R6"}, "holds hold more than their balance shows held");
    }
  });
  TNY_RETURN_IF_ERROR(holds);
  if (SizeOf(s.reservations()) != 0 || s.reservation_slots() != 0) {
    TNY_RETURN_IF_ERROR(RestoreReservations(s, impl, *v, loader, std::move(held)));
  } else {
    for (auto& [cell, c] : loader.cells) {
      auto it = held.find(cell);
      const int64_t covered = it == held.end() ? 0 : it->second;
      c.regular += c.held - covered;
      c.held = covered;
    }
  }
  for (auto& [cell, c] : loader.cells) {
    __atomic_store_n(&cell->words[0], static_cast<uint64_t>(internal::Pack(c)), __ATOMIC_RELAXED);
    __atomic_store_n(&cell->words[1], static_cast<uint64_t>(internal::Pack(c) >> 64),
                     __ATOMIC_RELAXED);
  }
  // C7: what each workspace consumed is what it was funded with minus what
  // it holds (exact for the cut; see save.cc).
  v->workspaces.ForEach([&](WorkspaceId, const WorkspaceNode* ws) {
    for (const internal::Funding& f : ws->credits) {
      f.cell->consumed.store(f.funded - internal::Unpack(f.cell->LoadSeed()).total());
    }
  });
  if (SizeOf(s.keys()) != 0 || s.key_slots() != 0) TNY_RETURN_IF_ERROR(RestoreKeys(s, impl));
  TNY_RETURN_IF_ERROR(RestoreLedger(s, impl, *v));
  TNY_RETURN_IF_ERROR(RestoreFeed(s, impl, *v));
  // What the file claims and the loader did not check as it built (the
  // indexes it built are right by construction).
  TNY_RETURN_IF_ERROR(Invariant(internal::VerifyLoaded(*engine)));
  return engine;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> LoadSnapshot(const std::string& path,
                                                     Engine::Options options) {
  if (absl::Status status = Engine::ValidateOptions(options); !status.ok()) return status;
  try {
    TNY_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, internal::ReadWholeFile(path));
    uint32_t version = 0;
    TNY_ASSIGN_OR_RETURN(const fb::Snapshot* snapshot, Open(bytes, &version));
    TNY_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, LoadContent(*snapshot, options));
    if (options.journal.empty()) return engine;
    // P3: recovery = this snapshot + the journal's tail.
    internal::SnapshotBase base;
    if (snapshot->lineage() != nullptr) {
      if (snapshot->lineage()->size() != base.lineage.size())
        return Bad("the lineage is malformed");
      std::copy(snapshot->lineage()->begin(), snapshot->lineage()->end(), base.lineage.begin());
    }
    base.lsn = snapshot->journal_lsn();
    const fb::File* file = fb::GetFile(bytes.data());
    std::copy(file->checksum()->begin(), file->checksum()->end(), base.checksum.begin());
    TNY_RETURN_IF_ERROR(internal::AttachJournal(*engine, options, &base));
    return engine;
  } catch (const std::bad_alloc&) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"P2"},
                   absl::StrCat("out of memory loading '", path, "'"));
  }
}

namespace internal {

absl::StatusOr<std::unique_ptr<Engine>> DecodeSnapshotFile(const std::vector<uint8_t>& bytes,
                                                           const Engine::Options& options,
                                                           uint64_t* lsn) {
  TNY_RETURN_IF_ERROR(Engine::ValidateOptions(options));
  try {
    uint32_t version = 0;
    TNY_ASSIGN_OR_RETURN(const fb::Snapshot* snapshot, Open(bytes, &version));
    *lsn = snapshot->journal_lsn();
    return LoadContent(*snapshot, options);
  } catch (const std::bad_alloc&) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"P2"},
                   "out of memory loading a snapshot");
  }
}

}  // namespace internal

absl::StatusOr<SnapshotInfo> InspectSnapshot(const std::string& path) {
  TNY_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, internal::ReadWholeFile(path));
  SnapshotInfo info;
  TNY_ASSIGN_OR_RETURN(const fb::Snapshot* s, Open(bytes, &info.format_version));
  info.file_bytes = bytes.size();
  info.revision = s->revision();
  info.taken_at_ns = s->taken_at_ns();
  info.writer = s->writer() == nullptr ? "" : s->writer()->str();
  info.accounts = SizeOf(s->accounts());
  info.users = SizeOf(s->users());
  info.workspaces = SizeOf(s->workspaces());
  for (size_t i = 0; i < SizeOf(s->users()); ++i) {
    info.memberships += SizeOf(s->users()->Get(static_cast<uint32_t>(i))->grants());
  }
  info.roles = SizeOf(s->roles());
  info.teams = SizeOf(s->teams());
  info.invitations = SizeOf(s->invitations());
  info.reservations = SizeOf(s->reservations());
  for (size_t i = 0; i < SizeOf(s->keys()); ++i) {
    info.idempotency_keys += s->keys()->Get(static_cast<uint32_t>(i))->tag() != 0 ? 1 : 0;
  }
  info.ledger_entries = SizeOf(s->ledger());
  info.changes = SizeOf(s->feed());
  return info;
}

}  // namespace tenantry
