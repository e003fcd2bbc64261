// Copyright 2026 The tenantry Authors.
//
// P1: one consistent cut of an engine, encoded as snapshots/tenantry.fbs.
//
// The cut. The graph is the published Version: immutable, so it is read with
// no lock, under a ReadGuard that keeps it alive. What changes outside it is
// copied under the writer lock (so no change, commit, release or expiry is
// half-done): the ledger and feed tails, the live reservations, then every
// funded workspace's cell, then the remembered idempotency keys. Consumes and
// reserves never wait and go on meanwhile; they make the cut "fuzzy" only for
// calls that were in flight at that instant, none of which had returned:
//  - a cell is read after the reservations, so it holds at least what the
//    live reservations hold; a reserve in flight (its hold in the cell, its
//    slot not yet live) is not in the file, and its hold is returned to the
//    regular bucket on load (the caller never had its id before the cut);
//  - what a workspace consumed is `funded - (regular + extra + held)`, exact
//    for the cell read (the separate counter may lag a consume in flight);
//  - a keyed consume in flight is left out (its slot is recorded as used, so
//    probe chains stay intact); one that completed after its cell was read
//    but before the key scan is remembered with a debit the file lacks.
//    docs/persistence.md discusses it; the journal (P3) closes it.
#include <sodium.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "codec.h"
#include "engine_internal.h"
#include "envelope.h"
#include "epoch.h"
#include "file.h"
#include "mutex.h"
#include "status_macros.h"
#include "tenantry/snapshot.h"
#include "tenantry/status.h"
#include "tenantry_generated.h"

namespace tenantry {
namespace {

namespace fb = ::tenantry::fbs;
using internal::BalanceCell;
using internal::CellValue;
using internal::KeySlot;
using internal::KeyState;
using internal::SlotState;
using internal::Version;

struct Reservation {
  uint32_t index = 0;
  uint64_t generation = 0;
  WorkspaceId workspace = 0;
  AccountId account = 0;
  MeterId meter = 0;
  int64_t held_regular = 0, held_extra = 0, expires_at_ns = 0;
};

struct Key {
  uint64_t index = 0, tag = 0, generation = 0;
  bool live = false;  // false: the slot was used; only the mark is kept
  int64_t time_ns = 0, amount = 0, result = 0;
};

// Everything the file holds besides the version's nodes.
struct Cut {
  const Version* v = nullptr;
  int64_t taken_at_ns = 0;
  std::array<uint8_t, 32> token_key{};
  std::array<uint8_t, 16> key_hash_key{};
  std::vector<LedgerEntry> ledger;
  uint64_t ledger_next_sequence = 1, ledger_dropped_through = 0;
  int64_t ledger_dropped_max_time_ns = 0;
  std::vector<AuditRecord> feed;
  uint64_t feed_dropped_through = 0;
  size_t reservation_slots = 0, key_slots = 0;
  std::vector<Reservation> reservations;
  absl::flat_hash_map<const BalanceCell*, CellValue> cells;
  std::vector<Key> keys;
  // P3: the engine's lineage and the journal lsn the cut holds.
  std::array<uint8_t, 16> lineage{};
  uint64_t journal_lsn = 0;
};

void CopyReservations(internal::ReservationTable* table, Cut* cut) {
  if (table == nullptr) return;
  cut->reservation_slots = table->size();
  for (uint32_t i = 0; i < table->size(); ++i) {
    internal::ReservationSlot& slot = table->slot(i);
    const uint64_t state_gen = slot.state_gen.load(std::memory_order_acquire);
    if (internal::StateOf(state_gen) != SlotState::kLive) continue;
    // Live slots only leave that state under the writer lock, which we hold.
    cut->reservations.push_back(Reservation{
        i, internal::GenOf(state_gen), slot.workspace.load(std::memory_order_relaxed),
        slot.account.load(std::memory_order_relaxed), slot.meter.load(std::memory_order_relaxed),
        slot.held_regular.load(std::memory_order_relaxed),
        slot.held_extra.load(std::memory_order_relaxed),
        slot.expires_at_ns.load(std::memory_order_relaxed)});
  }
}

void CopyCells(const Version& v, Cut* cut) {
  v.workspaces.ForEach([&](WorkspaceId, const internal::WorkspaceNode* ws) {
    for (const internal::Funding& f : ws->credits) {
      if (f.cell != nullptr) cut->cells[f.cell] = internal::Unpack(f.cell->LoadExact());
    }
  });
}

void CopyKeys(internal::KeyTable* table, int64_t now_ns, int64_t window_ns, Cut* cut) {
  if (table == nullptr) return;
  cut->key_slots = table->size();
  for (size_t i = 0; i < table->size(); ++i) {
    KeySlot& s = table->slot(i);
    Key key{i};
    uint64_t meta = 0;
    do {  // the fields, consistent with one (tag, meta)
      internal::ReadKeySlot(s, &key.tag, &meta);
      key.time_ns = s.time_ns.load(std::memory_order_relaxed);
      key.amount = s.amount.load(std::memory_order_relaxed);
      key.result = s.result.load(std::memory_order_relaxed);
    } while (__atomic_load_n(&s.words[1], __ATOMIC_SEQ_CST) != meta);
    const KeyState state = internal::KeyStateOf(meta);
    if (state == KeyState::kEmpty) continue;
    key.generation = meta >> 2;
    // A pending key's consume is in flight: not acknowledged at the cut.
    key.live = state == KeyState::kDone && internal::KeyLive(s, meta, now_ns, window_ns);
    if (!key.live) key.tag = 0;
    cut->keys.push_back(key);
  }
}

absl::StatusOr<Cut> TakeCut(const Engine& engine) {
  Engine::Impl& impl = internal::EngineInternal::impl(engine);
  Cut cut;
  // R5: a replica's cut is at the position it has applied; no record is
  // applied while the cut is taken.
  std::optional<internal::MutexLock> applying;
  if (impl.replica != nullptr) applying.emplace(&impl.apply_mu);
  internal::MutexLock lock(&impl.write_mu);
  // P3: with a journal the cut is exact. Its lock keeps every consume,
  // reserve and keyed consume out while the live tables are copied (each
  // holds it across its effect and its record), and the journal starts a
  // new segment here: the records up to journal_lsn are in the cut, those
  // after it are not.
  std::optional<internal::JournalScope> journal;
  if (impl.journal != nullptr) {
    journal.emplace(impl, 0);
    TNY_ASSIGN_OR_RETURN(cut.journal_lsn, impl.journal->Rotate());
  }
  if (impl.replica != nullptr) cut.journal_lsn = static_cast<uint64_t>(impl.replica->position());
  cut.lineage = impl.lineage;
  cut.v = internal::EngineInternal::newest(engine);
  cut.taken_at_ns = impl.clock->now_ns();
  cut.token_key = impl.token_key;
  cut.key_hash_key = impl.key_hash_key;
  {
    internal::MutexLock ledger_lock(&impl.ledger_mu);
    cut.ledger.assign(impl.ledger.begin(), impl.ledger.end());
    cut.ledger_next_sequence = impl.ledger_next_sequence;
    cut.ledger_dropped_through = impl.ledger_dropped_through;
    cut.ledger_dropped_max_time_ns = impl.ledger_dropped_max_time_ns;
  }
  {
    internal::MutexLock feed_lock(&impl.feed_mu);
    cut.feed.assign(impl.feed.begin(), impl.feed.end());
    cut.feed_dropped_through = impl.feed_dropped_through;
  }
  CopyReservations(impl.reservations.load(std::memory_order_acquire), &cut);
  CopyCells(*cut.v, &cut);
  CopyKeys(impl.keys.load(std::memory_order_acquire), cut.taken_at_ns,
           internal::KeyWindowNs(impl.options.idempotency_window_s), &cut);
  return cut;
}

// ---- Encoding ----

using Builder = flatbuffers::FlatBufferBuilder;
template <class T>
using Offset = flatbuffers::Offset<T>;

template <class T, class Map, class Fn>
auto EncodeAll(Builder& b, const Map& map, Fn encode) {
  std::vector<Offset<T>> out;
  out.reserve(map.size());
  map.ForEach([&](uint64_t, const auto* node) { out.push_back(encode(b, *node)); });
  return b.CreateVector(out);
}

Offset<fb::Account> EncodeAccount(Builder& b, const internal::AccountNode& a) {
  std::vector<Offset<fb::Pool>> pools;
  for (const internal::Pool& p : a.pools) {
    pools.push_back(
        fb::CreatePool(b, p.meter, p.buckets[0], p.buckets[1], p.granted, p.consumed_by_deleted));
  }
  return fb::CreateAccount(
      b, a.id, b.CreateString(a.name), b.CreateString(a.key),
      fb::CreatePlan(b, b.CreateString(a.plan.name), a.plan.workspace_limit, a.plan.agency),
      a.plan_set, a.owner, a.member_default_all, a.staff_member_role, b.CreateVector(pools));
}

Offset<fb::User> EncodeUser(Builder& b, const internal::UserNode& u) {
  std::vector<Offset<fb::Grant>> grants;
  for (const internal::Grant& g : u.grants) {
    if (g.team == 0) grants.push_back(fb::CreateGrant(b, g.workspace, g.role));
  }
  std::vector<Offset<fb::Staff>> staff;
  for (const internal::StaffEntry& s : u.staff) {
    staff.push_back(fb::CreateStaff(b, s.account, static_cast<uint8_t>(s.role), s.scope_all,
                                    b.CreateVector(s.scope)));
  }
  return fb::CreateUser(b, u.id, b.CreateString(u.key), b.CreateVector(grants),
                        b.CreateVector(staff), u.active_workspace, u.session_seen_ns);
}

Offset<fb::Workspace> EncodeWorkspace(Builder& b, const internal::WorkspaceNode& ws,
                                      const Cut& cut) {
  std::vector<Offset<fb::Funding>> credits;
  for (const internal::Funding& f : ws.credits) {
    auto it = cut.cells.find(f.cell);
    const CellValue c = it == cut.cells.end() ? CellValue{} : it->second;
    credits.push_back(fb::CreateFunding(b, f.meter, f.funded, c.regular, c.extra, c.held));
  }
  const Settings& s = ws.settings;
  return fb::CreateWorkspace(
      b, ws.id, ws.account, b.CreateString(ws.name), b.CreateString(ws.slug),
      static_cast<uint8_t>(ws.type), static_cast<uint8_t>(ws.status), ws.parent, ws.owner,
      fb::CreateSettings(b, s.beta_opt_in, s.approval_timeout_s, s.inactivity_timeout_s),
      b.CreateVector(credits));
}

Offset<fb::Role> EncodeRole(Builder& b, const internal::RoleNode& r) {
  std::vector<uint32_t> own;
  for (PermissionId p = 0; p < limits::kMaxPermissions; ++p) {
    if (r.own.Has(p)) own.push_back(p);
  }
  return fb::CreateRole(b, r.id, r.account, b.CreateString(r.name), b.CreateVector(own),
                        r.inherits);
}

Offset<fb::Team> EncodeTeam(Builder& b, const internal::TeamNode& t) {
  std::vector<uint64_t> members;
  t.members.ForEach([&](UserId user, uint8_t) { members.push_back(user); });
  return fb::CreateTeam(b, t.id, t.workspace, b.CreateString(t.name), t.role,
                        b.CreateVector(members));
}

Offset<fb::Invitation> EncodeInvitation(Builder& b, const internal::InvitationNode& i) {
  return fb::CreateInvitation(
      b, i.id, static_cast<uint8_t>(i.kind), i.account, i.workspace, b.CreateString(i.email),
      i.role, static_cast<uint8_t>(i.account_role), i.scope_all, b.CreateVector(i.scope),
      b.CreateVector(i.token_hash.data(), i.token_hash.size()), i.expires_at_ns,
      static_cast<uint8_t>(i.state), i.invited_by, i.accepted_by);
}

Offset<fb::Snapshot> EncodeSnapshot(Builder& b, const Cut& cut) {
  const Version& v = *cut.v;
  std::vector<Offset<flatbuffers::String>> permissions;
  for (const std::string& name : v.catalog->names) permissions.push_back(b.CreateString(name));
  std::vector<Offset<fb::Meter>> meters;
  for (const internal::MeterDef& m : v.meters->meters) {
    meters.push_back(
        fb::CreateMeter(b, b.CreateString(m.name), b.CreateVectorOfStrings(m.buckets)));
  }
  const std::vector<uint64_t> next_ids = {v.next_account, v.next_user, v.next_workspace,
                                          v.next_role,    v.next_team, v.next_invitation};
  auto accounts = EncodeAll<fb::Account>(b, v.accounts, EncodeAccount);
  auto users = EncodeAll<fb::User>(b, v.users, EncodeUser);
  auto workspaces = EncodeAll<fb::Workspace>(
      b, v.workspaces, [&](Builder& bb, const auto& ws) { return EncodeWorkspace(bb, ws, cut); });
  auto roles = EncodeAll<fb::Role>(b, v.roles, EncodeRole);
  auto teams = EncodeAll<fb::Team>(b, v.teams, EncodeTeam);
  auto invitations = EncodeAll<fb::Invitation>(b, v.invitations, EncodeInvitation);
  std::vector<Offset<fb::Reservation>> reservations;
  for (const Reservation& r : cut.reservations) {
    reservations.push_back(fb::CreateReservation(b, r.index, r.generation, r.workspace, r.account,
                                                 r.meter, r.held_regular, r.held_extra,
                                                 r.expires_at_ns));
  }
  std::vector<Offset<fb::IdempotencyKey>> keys;
  for (const Key& k : cut.keys) {
    keys.push_back(fb::CreateIdempotencyKey(b, k.index, k.tag, k.generation, k.live ? k.time_ns : 0,
                                            k.amount, k.result));
  }
  std::vector<Offset<fb::LedgerEntry>> ledger;
  for (const LedgerEntry& e : cut.ledger) {
    ledger.push_back(fb::CreateLedgerEntry(b, e.sequence, e.revision, e.time_ns, e.actor, e.account,
                                           e.workspace, e.meter, static_cast<uint8_t>(e.kind),
                                           e.amounts[0], e.amounts[1], e.returned[0], e.returned[1],
                                           e.reservation));
  }
  std::vector<Offset<fb::Hold>> holds;
  v.holds.ForEach([&](uint64_t id, const internal::HoldNode* h) {
    holds.push_back(fb::CreateHold(b, id, static_cast<uint8_t>(h->kind), b.CreateString(h->owner),
                                   h->account, h->workspace, h->meter, h->held_regular,
                                   h->held_extra, h->settled, h->expires_at_ns, h->recalled));
  });
  std::vector<Offset<fb::Change>> feed;
  for (const AuditRecord& r : cut.feed) {
    feed.push_back(fb::CreateChange(b, r.revision, r.time_ns, r.actor, r.account, r.workspace,
                                    b.CreateString(r.what)));
  }
  return fb::CreateSnapshot(
      b, v.revision, cut.taken_at_ns, b.CreateString(internal::kWriterVersion),
      b.CreateVector(cut.token_key.data(), cut.token_key.size()),
      b.CreateVector(cut.key_hash_key.data(), cut.key_hash_key.size()), b.CreateVector(next_ids),
      b.CreateVector(permissions), b.CreateVector(meters), accounts, users, workspaces, roles,
      teams, invitations, cut.reservation_slots, b.CreateVector(reservations), cut.key_slots,
      b.CreateVector(keys), b.CreateVector(ledger), cut.ledger_next_sequence,
      cut.ledger_dropped_through, cut.ledger_dropped_max_time_ns, b.CreateVector(feed),
      cut.feed_dropped_through, b.CreateVector(cut.lineage.data(), cut.lineage.size()),
      cut.journal_lsn, b.CreateVector(holds), v.next_hold);
}

}  // namespace

namespace internal {

absl::StatusOr<EncodedSnapshot> EncodeSnapshotFile(const Engine& engine) {
  // Keeps the cut's version (and its nodes) alive while it is encoded.
  ReadGuard guard;
  TNY_ASSIGN_OR_RETURN(const Cut cut, TakeCut(engine));
  Builder content(1 << 20);
  content.Finish(EncodeSnapshot(content, cut));
  if (content.GetSize() > limits::kSnapshotMaxBytes - 4096) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"P1"},
                   absl::StrCat("the snapshot would take ", content.GetSize(), " bytes; at most ",
                                limits::kSnapshotMaxBytes, " fit in one file"));
  }
  const std::array<uint8_t, 32> sum = Checksum(content.GetBufferPointer(), content.GetSize());
  Builder file(content.GetSize() + 1024);
  EncodeEnvelope(file, content.GetBufferPointer(), content.GetSize(), kSnapshotFormatVersion, sum);
  EncodedSnapshot out;
  out.bytes.assign(file.GetBufferPointer(), file.GetBufferPointer() + file.GetSize());
  out.lsn = cut.journal_lsn;
  return out;
}

}  // namespace internal

absl::Status SaveSnapshot(const Engine& engine, const std::string& path) {
  try {
    // One save at a time on a journaled engine: each drops the journal's
    // records up to its own cut once it is on disk.
    Engine::Impl& impl = internal::EngineInternal::impl(engine);
    std::optional<internal::MutexLock> saving;
    if (impl.journal != nullptr) saving.emplace(&impl.save_mu);
    TNY_ASSIGN_OR_RETURN(const internal::EncodedSnapshot file,
                         internal::EncodeSnapshotFile(engine));
    TNY_RETURN_IF_ERROR(internal::WriteFileAtomically(path, file.bytes.data(), file.bytes.size()));
    // P3: the snapshot is durable; the records it holds may go.
    if (impl.journal != nullptr) TNY_RETURN_IF_ERROR(impl.journal->DropThrough(file.lsn));
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return Refusal(absl::StatusCode::kResourceExhausted, {"P1"},
                   "out of memory while encoding the snapshot");
  }
}

}  // namespace tenantry
