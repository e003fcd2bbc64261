// Copyright 2026 The tenantry Authors.
//
// P2: a snapshot file back into an engine, trusting nothing in it.
//
// Order: size bound, FlatBuffers Verifier (outer file, then the nested
// content, each with explicit depth and table limits), checksum, version;
// then every node is rebuilt with its references and ranges checked (a
// dangling id or an out-of-range value is DataLoss before anything uses it),
// the indexes are derived from the primary state, and Engine::verify() checks
// every invariant of the result. All nodes are made through one Txn, so a
// failure anywhere frees everything made so far; the engine is returned only
// whole.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "envelope.h"
#include "engine_journal.h"
#include "status_macros.h"
#include "tenantry/snapshot.h"
#include "tenantry_generated.h"
#include "text.h"
#include "txn.h"
#include "writer.h"

namespace tenantry {
namespace internal {

void SnapshotAccess::Install(Engine& engine, Version* version) {
  auto* old = const_cast<Version*>(engine.root_.load(std::memory_order_seq_cst));
  engine.root_.store(version, std::memory_order_seq_cst);
  DestroyVersion(old);
}

}  // namespace internal

namespace {

namespace fb = ::tenantry::fbs;
using internal::AccountNode;
using internal::AccountRole;
using internal::InvitationNode;
using internal::RoleId;
using internal::RoleNode;
using internal::TeamNode;
using internal::UserNode;
using internal::Version;
using internal::WorkspaceNode;

template <class... Args>
absl::Status Bad(const Args&... args) {
  return absl::DataLossError(absl::StrCat("snapshot: ", args..., " (P2)"));
}

// A string field: present, at most `max` bytes.
absl::StatusOr<std::string> Text(const flatbuffers::String* s, size_t max, absl::string_view what) {
  if (s == nullptr) return Bad(what, " is missing");
  if (s->size() > max) return Bad(what, " has ", s->size(), " bytes; at most ", max);
  return s->str();
}

template <class T>
size_t SizeOf(const flatbuffers::Vector<T>* v) {
  return v == nullptr ? 0 : v->size();
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
    return Bad("format version ", *version, " is newer than this reader's ", kSnapshotFormatVersion,
               " (major ", *version / 1000, " > ", kSnapshotFormatVersion / 1000,
               "); upgrade tenantry to load it (P4)");
  }
  if (*version / 1000 < 1) return Bad("format version ", *version, " is not a known one (P4)");
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
  return flatbuffers::GetRoot<fb::Snapshot>(content->data());
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
  absl::Status Users();
  absl::Status Workspaces();
  absl::Status Ancestors();
  absl::Status Roles();
  absl::Status Teams();
  absl::Status Invitations();
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
  v_->revision = s_.revision();
  if (SizeOf(s_.token_key()) != 32 || SizeOf(s_.key_hash_key()) != 16) {
    return Bad("the engine's keys are missing or malformed");
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
    TNY_ASSIGN_OR_RETURN(std::string name,
                         Text(names->Get(i), limits::kPermissionNameMaxBytes, "a permission"));
    if (i < builtin.names.size() && name != builtin.names[i]) {
      return Bad("built-in permission ", i, " is '", name, "', this build has '", builtin.names[i],
                 "'");
    }
    if (!internal::ValidatePermissionName(name).ok() || !catalog->ids.emplace(name, i).second) {
      return Bad("permission ", i, " has a malformed or repeated name");
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
    internal::MeterDef def;
    TNY_ASSIGN_OR_RETURN(def.name, Text(m->name(), limits::kMeterNameMaxBytes, "a meter name"));
    const size_t buckets = SizeOf(m->buckets());
    if (buckets < 1 || buckets > static_cast<size_t>(kMaxBuckets)) {
      return Bad("meter ", i, " has ", buckets, " buckets");
    }
    for (const flatbuffers::String* b : *m->buckets()) {
      TNY_ASSIGN_OR_RETURN(std::string bucket, Text(b, limits::kMeterNameMaxBytes, "a bucket"));
      def.buckets.push_back(std::move(bucket));
    }
    if (!internal::ValidMeterName(def.name) || !seen.insert(def.name).second) {
      return Bad("meter ", i, " has a malformed or repeated name");
    }
    for (const std::string& b : def.buckets) {
      if (!internal::ValidMeterName(b)) return Bad("meter ", i, " has a malformed bucket");
    }
    if (buckets == 2 && def.buckets[0] == def.buckets[1]) {
      return Bad("meter ", i, " repeats a bucket");
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
  for (const fb::Account* in : Tables(s_.accounts())) {
    const AccountId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_account, v_->accounts, "account"));
    auto* a = txn_.Make<AccountNode>();
    a->id = id;
    TNY_ASSIGN_OR_RETURN(a->name, Text(in->name(), limits::kTextMaxBytes, "an account name"));
    TNY_ASSIGN_OR_RETURN(a->key, Text(in->key(), limits::kKeyMaxBytes, "an account key"));
    if (in->plan() == nullptr) return Bad("account ", id, " has no plan");
    TNY_ASSIGN_OR_RETURN(a->plan.name, Text(in->plan()->name(), limits::kTextMaxBytes, "a plan"));
    a->plan.workspace_limit = in->plan()->workspace_limit();
    a->plan.agency = in->plan()->agency();
    if (a->plan.workspace_limit < Plan::kUnlimited) return Bad("account ", id, ": plan limit");
    a->plan_set = in->plan_set();
    a->owner = in->owner();
    a->member_default_all = in->member_default_all();
    a->staff_member_role = in->staff_member_role();
    for (size_t p = 0; p < SizeOf(in->pools()); ++p) {
      const fb::Pool* pool = in->pools()->Get(static_cast<uint32_t>(p));
      if (pool->meter() >= v_->meters->meters.size() ||
          internal::FindMeterEntry(a->pools, pool->meter()) != nullptr) {
        return Bad("account ", id, " has a pool of an unknown or repeated meter");
      }
      if (pool->regular() < 0 || pool->extra() < 0 || pool->granted() < 0 ||
          pool->consumed_by_deleted() < 0) {
        return Bad("account ", id, " has a negative pool amount");
      }
      a->pools.push_back(internal::Pool{pool->meter(),
                                        {pool->regular(), pool->extra()},
                                        pool->granted(),
                                        pool->consumed_by_deleted()});
    }
    if (!a->key.empty() && !v_->account_keys.Set(txn_, a->key, id)) {
      return Bad("account key '", a->key, "' is repeated");
    }
    v_->accounts.Set(txn_, id, a);
  }
  return absl::OkStatus();
}

absl::Status Loader::Users() {
  for (const fb::User* in : Tables(s_.users())) {
    const UserId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_user, v_->users, "user"));
    auto* u = txn_.Make<UserNode>();
    u->id = id;
    TNY_ASSIGN_OR_RETURN(u->key, Text(in->key(), limits::kKeyMaxBytes, "a user key"));
    if (u->key.empty() || !v_->user_keys.Set(txn_, u->key, id)) {
      return Bad("user ", id, " has an empty or repeated key");
    }
    // Exact: a user's grants live as long as the user (team grants, added
    // later, grow it a quarter at a time, like the writer's SetGrant).
    u->grants.reserve(SizeOf(in->grants()));
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
  for (const fb::Workspace* in : Tables(s_.workspaces())) {
    const WorkspaceId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_workspace, v_->workspaces, "workspace"));
    const AccountNode* account = v_->accounts.Find(in->account());
    if (account == nullptr) return Bad("workspace ", id, " belongs to no account");
    auto* ws = txn_.Make<WorkspaceNode>();
    ws->id = id;
    ws->account = in->account();
    TNY_ASSIGN_OR_RETURN(ws->name, Text(in->name(), limits::kTextMaxBytes, "a workspace name"));
    TNY_ASSIGN_OR_RETURN(ws->slug, Text(in->slug(), limits::kSlugMaxLength, "a slug"));
    if (!internal::ValidateSlug(ws->slug).ok()) return Bad("workspace ", id, " has a bad slug");
    if (in->type() > 1 || in->status() > 1) return Bad("workspace ", id, ": type or status");
    ws->type = static_cast<WorkspaceType>(in->type());
    ws->status = static_cast<WorkspaceStatus>(in->status());
    ws->parent = in->parent();
    ws->owner = in->owner();
    if (v_->users.Find(ws->owner) == nullptr) return Bad("workspace ", id, " has no owner");
    if (in->settings() != nullptr) {
      ws->settings = Settings{in->settings()->beta_opt_in(), in->settings()->approval_timeout_s(),
                              in->settings()->inactivity_timeout_s()};
    }
    const Settings& st = ws->settings;
    if (st.approval_timeout_s < limits::kApprovalTimeoutMinS ||
        st.approval_timeout_s > limits::kApprovalTimeoutMaxS || st.inactivity_timeout_s < 0 ||
        st.inactivity_timeout_s > limits::kInactivityTimeoutMaxS) {
      return Bad("workspace ", id, " has settings out of range (T6)");
    }
    for (size_t c = 0; c < SizeOf(in->credits()); ++c) {
      const fb::Funding* f = in->credits()->Get(static_cast<uint32_t>(c));
      const internal::CellValue value{f->regular(), f->extra(), f->held(), false};
      if (f->meter() >= v_->meters->meters.size() ||
          internal::FindMeterEntry(ws->credits, f->meter()) != nullptr || f->funded() < 0 ||
          value.regular < 0 || value.extra < 0 || value.held < 0 ||
          value.regular > limits::kMaxWorkspaceBalance ||
          value.extra > limits::kMaxWorkspaceBalance || value.held > limits::kMaxWorkspaceBalance ||
          value.total() > limits::kMaxWorkspaceBalance || value.total() > f->funded() ||
          (v_->meters->meters[f->meter()].buckets.size() == 1 && value.extra != 0)) {
        return Bad("workspace ", id, " has a malformed credit entry");
      }
      auto* cell = txn_.Make<internal::BalanceCell>();
      cells[cell] = value;
      ws->credits.push_back(internal::Funding{f->meter(), f->funded(), cell});
    }
    if (!Mutable(account)->slugs.Set(txn_, ws->slug, id)) {
      return Bad("slug '", ws->slug, "' is repeated in account ", ws->account);
    }
    Mutable(account)->workspaces.Set(txn_, id, 1);
    v_->workspaces.Set(txn_, id, ws);
  }
  return Ancestors();
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
        status = Bad("workspace ", id, " has a missing, foreign or too deep parent chain (T4)");
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
    TNY_ASSIGN_OR_RETURN(r->name, Text(in->name(), limits::kRoleNameMaxBytes, "a role name"));
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
        status = Bad("role ", id, " inherits from a missing or foreign role, or in a cycle (M6)");
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
  for (const fb::Team* in : Tables(s_.teams())) {
    const TeamId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_team, v_->teams, "team"));
    const WorkspaceNode* ws = v_->workspaces.Find(in->workspace());
    if (ws == nullptr) return Bad("team ", id, " belongs to no workspace");
    auto* t = txn_.Make<TeamNode>();
    t->id = id;
    t->workspace = in->workspace();
    TNY_ASSIGN_OR_RETURN(t->name, Text(in->name(), limits::kTextMaxBytes, "a team name"));
    t->role = in->role();
    TNY_RETURN_IF_ERROR(CheckRole(t->role, ws->account, absl::StrCat("team ", id)));
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
      grants.push_back(internal::Grant{t->workspace, id, t->role});
    }
    Mutable(ws)->teams.Set(txn_, id, 1);
    if (ws->teams.size() > limits::kMaxTeamsPerWorkspace) return Bad("too many teams (M9)");
    v_->teams.Set(txn_, id, t);
  }
  return absl::OkStatus();
}

absl::Status Loader::Invitations() {
  for (const fb::Invitation* in : Tables(s_.invitations())) {
    const InvitationId id = in->id();
    TNY_RETURN_IF_ERROR(FreshId(id, v_->next_invitation, v_->invitations, "invitation"));
    const AccountNode* account = v_->accounts.Find(in->account());
    if (account == nullptr || in->kind() > 1 || in->state() > 2 || SizeOf(in->token_hash()) != 32 ||
        (in->invited_by() != kSystem && v_->users.Find(in->invited_by()) == nullptr)) {
      return Bad("invitation ", id, " is malformed");
    }
    auto* node = txn_.Make<InvitationNode>();
    node->id = id;
    node->kind = static_cast<internal::InvitationKind>(in->kind());
    node->account = in->account();
    node->workspace = in->workspace();
    TNY_ASSIGN_OR_RETURN(node->email, Text(in->email(), limits::kKeyMaxBytes, "an e-mail"));
    node->role = in->role();
    node->account_role = static_cast<AccountRole>(in->account_role());
    node->scope_all = in->scope_all();
    if (in->scope() != nullptr) {
      if (!Aligned(in->scope()) || (node->scope_all && in->scope()->size() != 0)) {
        return Bad("invitation ", id, ": its scope is misaligned, or lists workspaces with all");
      }
      node->scope.assign(in->scope()->begin(), in->scope()->end());
    }
    // A staff invitation keeps the ids of workspaces deleted since it was
    // made (accept drops them): ids that were issued are accepted.
    TNY_RETURN_IF_ERROR(CheckScope(node->scope, node->account, absl::StrCat("invitation ", id),
                                   /*allow_deleted=*/true));
    std::copy(in->token_hash()->begin(), in->token_hash()->end(), node->token_hash.begin());
    node->expires_at_ns = in->expires_at_ns();
    node->state = static_cast<internal::InvitationState>(in->state());
    node->invited_by = in->invited_by();
    node->accepted_by = in->accepted_by();
    if (node->accepted_by != 0 && v_->users.Find(node->accepted_by) == nullptr) {
      return Bad("invitation ", id, " was accepted by an unknown user");
    }
    if (node->kind == internal::InvitationKind::kWorkspace) {
      const WorkspaceNode* ws = v_->workspaces.Find(node->workspace);
      if (ws == nullptr || ws->account != node->account) {
        return Bad("invitation ", id, " names an unknown or foreign workspace");
      }
      TNY_RETURN_IF_ERROR(CheckRole(node->role, node->account, absl::StrCat("invitation ", id)));
      Mutable(ws)->invitations.Set(txn_, id, 1);
    } else {
      if (node->account_role != AccountRole::kAdmin && node->account_role != AccountRole::kMember) {
        return Bad("staff invitation ", id, " has account role ", in->account_role());
      }
      Mutable(account)->staff_invitations.Set(txn_, id, 1);
    }
    v_->invitations.Set(txn_, id, node);
  }
  return absl::OkStatus();
}

// What refers across kinds: grants, staff entries, sessions, owners.
absl::Status Loader::Links() {
  absl::Status status;
  v_->users.ForEach([&](UserId id, const UserNode* node) {
    if (!status.ok()) return;
    UserNode* u = Mutable(node);
    for (const internal::Grant& g : u->grants) {
      const WorkspaceNode* ws = v_->workspaces.Find(g.workspace);
      if (ws == nullptr) {
        status = Bad("user ", id, " holds a role in unknown workspace ", g.workspace);
        return;
      }
      status = CheckRole(g.role, ws->account, absl::StrCat("user ", id));
      if (!status.ok()) return;
      if (g.team == 0) {
        if (!Mutable(ws)->members.Set(txn_, id, g.role)) {
          status = Bad("user ", id, " holds two roles in workspace ", g.workspace);
          return;
        }
        ++v_->memberships;
      }
    }
    std::sort(u->grants.begin(), u->grants.end());
    for (internal::StaffEntry& s : u->staff) {
      const AccountNode* a = v_->accounts.Find(s.account);
      if (a == nullptr || !Mutable(a)->staff.Set(txn_, id, static_cast<uint8_t>(s.role))) {
        status = Bad("user ", id, " is staff of an unknown account, or twice");
        return;
      }
      status = CheckScope(s.scope, s.account, absl::StrCat("staff entry of user ", id));
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
    }
  });
  TNY_RETURN_IF_ERROR(status);
  v_->accounts.ForEach([&](AccountId id, const AccountNode* a) {
    if (!status.ok()) return;
    if (v_->users.Find(a->owner) == nullptr) status = Bad("account ", id, " has no owner");
    if (status.ok()) status = CheckRole(a->staff_member_role, id, absl::StrCat("account ", id));
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
  return Links();
}

// ---- The live tables and tails, into the new engine's Impl ----

absl::Status RestoreReservations(const fb::Snapshot& s, Engine::Impl& impl, const Version& v,
                                 Loader& loader) {
  const auto* list = s.reservations();
  if (SizeOf(list) == 0 && s.reservation_slots() == 0) return absl::OkStatus();
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
  absl::flat_hash_map<internal::BalanceCell*, int64_t> held;
  int64_t next_expiry = INT64_MAX;
  for (const fb::Reservation* r : *list) {
    if (r->index() >= s.reservation_slots() || r->generation() == 0 ||
        r->generation() >= (uint64_t{1} << (64 - internal::kReservationIndexBits - 2))) {
      return Bad("reservation slot ", r->index(), " is out of range");
    }
    internal::ReservationSlot& slot = table->slot(r->index());
    if (internal::StateOf(slot.state_gen.load()) == internal::SlotState::kLive) {
      return Bad("reservation slot ", r->index(), " is used twice");
    }
    const WorkspaceNode* ws = v.workspaces.Find(r->workspace());
    const internal::Funding* f =
        ws == nullptr ? nullptr : internal::FindMeterEntry(ws->credits, r->meter());
    if (f == nullptr || ws->account != r->account() || r->held_regular() < 0 ||
        r->held_extra() < 0 || r->held_regular() + r->held_extra() <= 0) {
      return Bad("reservation in slot ", r->index(), " is malformed or names no funded workspace");
    }
    held[f->cell] += r->held_regular() + r->held_extra();
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
  for (auto& [cell, amount] : held) {
    internal::CellValue& c = loader.cells[cell];
    if (amount > c.held) return Bad("reservations hold more than their balance shows (C6)");
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
  if (SizeOf(list) == 0 && s.key_slots() == 0) return absl::OkStatus();
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
  for (const fb::IdempotencyKey* k : *list) {
    if (k->index() >= size || k->generation() >= (uint64_t{1} << 62) || k->time_ns() < 0) {
      return Bad("idempotency slot ", k->index(), " is out of range");
    }
    internal::KeySlot& slot = table->slot(k->index());
    if (slot.words[1] != 0) return Bad("idempotency slot ", k->index(), " is used twice");
    const bool live = k->tag() != 0;
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

absl::Status RestoreTails(const fb::Snapshot& s, Engine::Impl& impl, const Version& v) {
  internal::MutexLock ledger_lock(&impl.ledger_mu);
  uint64_t last = s.ledger_dropped_through();
  for (const fb::LedgerEntry* e : *s.ledger()) {
    if (e->sequence() <= last || e->kind() > 6 || e->meter() >= v.meters->meters.size()) {
      return Bad("ledger entry ", e->sequence(), " is out of order or malformed (C7)");
    }
    last = e->sequence();
    LedgerEntry entry{e->sequence(),
                      e->revision(),
                      e->time_ns(),
                      e->actor(),
                      e->account(),
                      e->workspace(),
                      e->meter(),
                      static_cast<LedgerKind>(e->kind()),
                      {e->amount_regular(), e->amount_extra()},
                      {e->returned_regular(), e->returned_extra()},
                      e->reservation()};
    impl.ledger.push_back(entry);
  }
  if (s.ledger_next_sequence() <= last) return Bad("the ledger's next sequence is behind (C7)");
  impl.ledger_next_sequence = s.ledger_next_sequence();
  impl.ledger_dropped_through = s.ledger_dropped_through();
  impl.ledger_dropped_max_time_ns = s.ledger_dropped_max_time_ns();
  internal::MutexLock feed_lock(&impl.feed_mu);
  uint64_t revision = s.feed_dropped_through();
  for (const fb::Change* c : *s.feed()) {
    if (c->revision() <= revision || c->revision() > v.revision || c->what() == nullptr ||
        c->what()->size() > limits::kTextMaxBytes * 4) {
      return Bad("feed record ", c->revision(), " is out of order or malformed (L1)");
    }
    revision = c->revision();
    impl.feed.push_back(AuditRecord{c->revision(), c->time_ns(), c->actor(), c->account(),
                                    c->workspace(), c->what()->str()});
  }
  if (s.feed_dropped_through() > v.revision) return Bad("the feed is ahead of the revision (L1)");
  impl.feed_dropped_through = s.feed_dropped_through();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> LoadContent(const fb::Snapshot& s,
                                                    const Engine::Options& options) {
  if (s.ledger() == nullptr || s.feed() == nullptr) return Bad("the ledger or feed is missing");
  Loader loader(s);
  TNY_RETURN_IF_ERROR(loader.Build());
  auto engine = std::make_unique<Engine>(options);
  Engine::Impl& impl = internal::SnapshotAccess::impl(*engine);
  Version* v = loader.Release();
  internal::SnapshotAccess::Install(*engine, v);
  // From here the engine owns every node; a failure drops the engine.
  std::copy(s.token_key()->begin(), s.token_key()->end(), impl.token_key.begin());
  std::copy(s.key_hash_key()->begin(), s.key_hash_key()->end(), impl.key_hash_key.begin());
  if (s.reservations() != nullptr || s.reservation_slots() != 0) {
    if (s.reservations() == nullptr) return Bad("the reservation list is missing");
    TNY_RETURN_IF_ERROR(RestoreReservations(s, impl, *v, loader));
  } else {
    for (auto& [cell, c] : loader.cells) {
      c.regular += c.held;
      c.held = 0;
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
  if (s.keys() != nullptr || s.key_slots() != 0) {
    if (s.keys() == nullptr) return Bad("the idempotency list is missing");
    TNY_RETURN_IF_ERROR(RestoreKeys(s, impl));
  }
  TNY_RETURN_IF_ERROR(RestoreTails(s, impl, *v));
  if (absl::Status status = engine->verify(); !status.ok()) {
    return Bad("the state breaks an invariant: ", status.message());
  }
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
    internal::JournalAccess::Base base;
    if (snapshot->lineage() != nullptr) {
      if (snapshot->lineage()->size() != base.lineage.size())
        return Bad("the lineage is malformed");
      std::copy(snapshot->lineage()->begin(), snapshot->lineage()->end(), base.lineage.begin());
    }
    base.lsn = snapshot->journal_lsn();
    const fb::File* file = fb::GetFile(bytes.data());
    std::copy(file->checksum()->begin(), file->checksum()->end(), base.checksum.begin());
    TNY_RETURN_IF_ERROR(internal::JournalAccess::Attach(*engine, options, &base));
    return engine;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("out of memory loading '", path, "' (P2)"));
  }
}

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
