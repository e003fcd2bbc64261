// Copyright 2026 The tenantry Authors.
//
// libFuzzer target for the snapshot loader (P2, issue 7): LoadSnapshot and
// InspectSnapshot on hostile files. P2 says no file, however damaged or
// hostile, crashes the loader or loads into a broken engine: every refusal
// is DataLoss. So an input is a finding (the target aborts) when
//  - either call fails with any other code (the path is always a valid,
//    existing regular file, so NotFound or InvalidArgument would be wrong too);
//  - the two disagree: a file that loads must inspect;
//  - a loaded engine fails verify(), cannot be saved and loaded again as
//    the same engine (P1), answers a read or a small write with an error no
//    API documents for it, or after such writes (a workspace deleted among
//    them) breaks an invariant or cannot be saved and loaded again;
//  - a loaded engine hands out text that is not text (names, keys, e-mails,
//    role, plan, meter and permission names, audit records, the writer):
//    the engine never stores such text, so the file held what it refuses.
// ASan, UBSan and LeakSanitizer catch the rest.
//
// A snapshot's content is covered by a BLAKE2b checksum, so blind mutations
// almost never reach the loader proper. The custom mutator below therefore
// works on the nested content and seals it again with a fresh checksum (as
// save.cc does), in two ways. Half the time it edits fields through the
// schema (snapshot_edit.h: FlatBuffers reflection over tenantry.bfbs): a
// string set to invalid UTF-8, a control character, upper case, padding, an
// over-long or a built-in name; a scalar or a vector element set to a
// boundary value; a vector resized. Such content passes the Verifier and the
// checksum and reaches the loader's semantic checks (P2: every string and
// range the engine itself keeps). Otherwise it mutates the content's bytes
// (the Verifier's and the loader's structural checks), and one mutation in
// eight works on the raw file, for the identifier, the Verifier and the
// checksum. Inputs are loaded exactly as given: a saved crash reproduces
// with the bare binary.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scratch_file.h"
#include "snapshot_edit.h"
#include "tenantry/engine.h"
#include "tenantry/limits.h"
#include "tenantry/snapshot.h"
#include "tenantry_generated.h"
#include "text.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace tenantry::fuzz {
namespace {

namespace fb = ::tenantry::fbs;

// Ids, meters and permissions probed on a loaded engine: the seeds use the
// first few of each, and mutated ids land anywhere, so a few suffice.
constexpr uint64_t kProbeIds = 16;
constexpr MeterId kProbeMeters = 4;
constexpr PermissionId kProbePermissions = 8;
// What the File table around the content takes at most (table, vtable,
// identifier, checksum, alignment padding).
constexpr size_t kFileOverheadBytes = 256;

[[noreturn]] void Finding(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "load_fuzzer: %s: %s\n", what, status.ToString().c_str());
  std::abort();
}

// P2: a file's content is refused with DataLoss and nothing else.
void ExpectOkOrDataLoss(const absl::Status& status, const char* what) {
  if (!status.ok() && status.code() != absl::StatusCode::kDataLoss) Finding(what, status);
}

void ExpectOk(const absl::Status& status, const char* what) {
  if (!status.ok()) Finding(what, status);
}

// A call on a verified engine may refuse (unknown ids, rules, funds) but
// never reports damage or an internal error.
void ExpectAnswer(const absl::Status& status, const char* what) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAlreadyExists:
      return;
    default:
      Finding(what, status);
  }
}

// A fixed clock, an hour after the seeds were taken (make_load_corpus runs
// its engines on ManualClock's default start), so that every run of an
// input sees the same expiries.
Engine::Options LoadOptions() {
  static const auto* const clock = new std::shared_ptr<const Clock>(
      std::make_shared<ManualClock>(ManualClock().now_ns() + int64_t{3600} * 1'000'000'000));
  Engine::Options options;
  options.clock = *clock;
  // Small tables: a file that needs more makes the loader take its sizes.
  options.idempotency_slots = 64;
  options.reservation_slots = 64;
  return options;
}

bool Lists(const std::vector<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Reads over the ids a seed uses; each may refuse, none may report damage.
void Read(const Engine& engine) {
  for (uint64_t id = 1; id <= kProbeIds; ++id) {
    ExpectAnswer(engine.account(id).status(), "account()");
    ExpectAnswer(engine.workspace(id).status(), "workspace()");
    ExpectAnswer(engine.settings(id).status(), "settings()");
    ExpectAnswer(engine.members(id).status(), "members()");
    ExpectAnswer(engine.teams(id).status(), "teams()");
    ExpectAnswer(engine.team(id).status(), "team()");
    ExpectAnswer(engine.invitation(id).status(), "invitation()");
    ExpectAnswer(engine.invitations(id).status(), "invitations()");
    for (MeterId meter = 0; meter < kProbeMeters; ++meter) {
      ExpectAnswer(engine.balance(id, meter).status(), "balance()");
      ExpectAnswer(engine.account_balance(id, meter).status(), "account_balance()");
    }
    // A4: explain() decides as check() does (the user `id` in workspace `id`).
    for (PermissionId permission = 0; permission < kProbePermissions; ++permission) {
      const bool allowed = engine.check(id, id, permission);
      absl::StatusOr<Decision> decision = engine.explain(id, id, permission);
      ExpectAnswer(decision.status(), "explain()");
      if (decision.ok() && decision->allowed != allowed) {
        Finding("explain() and check() disagree", absl::InternalError(decision->reason));
      }
    }
    static_cast<void>(engine.workspaces_for(id));
    static_cast<void>(engine.active_workspace(id));
  }
  ExpectAnswer(engine.ledger().status(), "ledger()");
  ExpectAnswer(engine.changes_since(0).status(), "changes_since()");
}

// P2: text a loaded engine hands out is valid UTF-8 without control
// characters (bindings make their own strings of it; Python's str raises on
// anything else), by the engine's own rule for text (text.h).
void ExpectText(const std::string& text, const char* what) {
  if (text.empty()) return;  // an account without a key
  if (absl::Status status = internal::ValidateText(text, text.size(), what, "P2"); !status.ok()) {
    Finding("a loaded engine hands out what is not text", status);
  }
}

void ReadTexts(const Engine& engine, const SnapshotInfo& info) {
  ExpectText(info.writer, "the writer");
  for (uint64_t id = 1; id <= kProbeIds; ++id) {
    if (absl::StatusOr<AccountInfo> a = engine.account(id); a.ok()) {
      for (const std::string* text : {&a->name, &a->key, &a->plan.name})
        ExpectText(*text, "account");
    }
    if (absl::StatusOr<WorkspaceInfo> w = engine.workspace(id); w.ok()) {
      ExpectText(w->name, "workspace name");
      ExpectText(w->slug, "slug");
    }
    if (absl::StatusOr<TeamInfo> t = engine.team(id); t.ok()) {
      ExpectText(t->name, "team name");
      ExpectText(t->role, "team role");
    }
    if (absl::StatusOr<InvitationInfo> i = engine.invitation(id); i.ok()) {
      ExpectText(i->email, "e-mail");
      ExpectText(i->role, "invitation role");
    }
    if (absl::StatusOr<std::vector<Member>> members = engine.members(id); members.ok()) {
      for (const Member& m : *members) ExpectText(m.role, "member role");
    }
  }
  for (MeterId meter = 0; meter < kProbeMeters; ++meter) {
    if (absl::StatusOr<MeterInfo> m = engine.meter(meter); m.ok()) {
      ExpectText(m->name, "meter name");
      for (const std::string& bucket : m->buckets) ExpectText(bucket, "bucket name");
    }
  }
  absl::StatusOr<std::string> name;
  for (PermissionId p = 0; (name = engine.permission_name(p)).ok(); ++p) {
    ExpectText(*name, "permission name");
  }
  if (absl::StatusOr<std::vector<AuditRecord>> feed = engine.changes_since(0); feed.ok()) {
    for (const AuditRecord& r : *feed) ExpectText(r.what, "audit record");
  }
}

// A5: who_can() and accessible() list exactly the pairs check() allows
// (over the probed ids). The loader rebuilds the indexes they read.
void CompareLists(const Engine& engine) {
  for (const char* name : {"workspace.view", "runs.trigger", "billing.manage"}) {
    absl::StatusOr<PermissionId> permission = engine.permission(name);
    ExpectOk(permission.status(), "permission() of a built-in name");
    for (uint64_t id = 1; id <= kProbeIds; ++id) {
      const std::vector<UserId> users = engine.who_can(id, *permission);
      const std::vector<WorkspaceId> workspaces = engine.accessible(id, *permission);
      for (uint64_t other = 1; other <= kProbeIds; ++other) {
        if (Lists(users, other) != engine.check(other, id, *permission)) {
          Finding("who_can() and check() disagree", absl::InternalError(name));
        }
        if (Lists(workspaces, other) != engine.check(id, other, *permission)) {
          Finding("accessible() and check() disagree", absl::InternalError(name));
        }
      }
    }
  }
}

// Small writes over the same ids (credits above all: C8 must still hold),
// the deletion of the newest of them that is a workspace (T7), then every
// invariant again.
void Write(Engine& engine) {
  ExpectOk(engine.expire_reservations().status(), "expire_reservations()");
  ExpectOk(engine.expire_sessions().status(), "expire_sessions()");
  WorkspaceId newest = 0;
  for (uint64_t id = 1; id <= kProbeIds; ++id) {
    ExpectAnswer(engine.grant(kSystem, id, 3), "grant()");
    ExpectAnswer(engine.transfer(kSystem, id, id, 2).status(), "transfer()");
    ExpectAnswer(engine.consume(id, 1).status(), "consume()");
    ExpectAnswer(engine.consume(id, 1, kCredits, "fuzz").status(), "keyed consume()");
    absl::StatusOr<ReservationId> hold = engine.reserve(id, 1);
    ExpectAnswer(hold.status(), "reserve()");
    if (hold.ok()) ExpectOk(engine.commit(*hold, 1), "commit() of a fresh reservation");
    ExpectAnswer(engine.switch_workspace(id, id), "switch_workspace()");
    if (engine.workspace(id).ok()) newest = id;
  }
  if (newest != 0) {
    const std::string name = engine.workspace(newest)->name;
    ExpectAnswer(engine.delete_workspace(kSystem, newest, name), "delete_workspace()");
  }
  ExpectOk(engine.verify(), "verify() after writes to a loaded engine");
}

// P1 from a loaded engine: it saves, and the copy loads (and verifies) with
// the same revision and the same entities.
void SaveAgain(const Engine& engine, const std::string& path) {
  const absl::Status saved = SaveSnapshot(engine, path);
  absl::StatusOr<SnapshotInfo> info = InspectSnapshot(path);
  absl::StatusOr<std::unique_ptr<Engine>> copy = LoadSnapshot(path, LoadOptions());
  static_cast<void>(std::remove(path.c_str()));  // nothing left behind, even by a finding
  ExpectOk(saved, "SaveSnapshot() of a loaded engine");
  ExpectOk(info.status(), "InspectSnapshot() of a re-saved engine");
  ExpectOk(copy.status(), "LoadSnapshot() of a re-saved engine");
  ExpectOk((*copy)->verify(), "verify() of a re-saved engine");
  const Engine::Stats want = engine.stats();
  const Engine::Stats got = (*copy)->stats();
  if ((*copy)->revision() != engine.revision() || info->revision != engine.revision() ||
      got.accounts != want.accounts || got.users != want.users ||
      got.workspaces != want.workspaces || got.memberships != want.memberships) {
    Finding("a loaded engine saved again loads as another engine",
            absl::InternalError(std::to_string(info->file_bytes) + " bytes at revision " +
                                std::to_string(info->revision)));
  }
}

// The content of a well-formed File and what seals it; false when `data`
// is not one (the nested content is not checked: it is what gets mutated).
struct Sealed {
  uint32_t format_version = 0;
  uint8_t checksum_kind = 0;
  std::vector<uint8_t> content;
};

bool Unseal(const uint8_t* data, size_t size, Sealed* out) {
  // A copy: libFuzzer's buffer need not be aligned for the tables.
  const std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() < 8 || !fb::FileBufferHasIdentifier(bytes.data())) return false;
  flatbuffers::Verifier::Options options;
  options.check_nested_flatbuffers = false;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  if (!fb::VerifyFileBuffer(verifier)) return false;
  const fb::File* file = fb::GetFile(bytes.data());
  if (file->content() == nullptr) return false;
  out->format_version = file->format_version();
  out->checksum_kind = file->checksum_kind();
  out->content.assign(file->content()->begin(), file->content()->end());
  return true;
}

// The File save.cc writes around `sealed.content`, with a fresh checksum.
std::vector<uint8_t> Seal(const Sealed& sealed) {
  return edit::Seal(sealed.content, sealed.format_version, sealed.checksum_kind);
}

// One input: inspect and load it, then put a loaded engine through its paces.
void LoadOne(const uint8_t* data, size_t size) {
  static ScratchFile* const input = new ScratchFile("load");
  static const std::string* const resaved = new std::string(ScratchFile::Sibling("load", ".tny"));
  input->Write(data, size);

  absl::StatusOr<SnapshotInfo> info = InspectSnapshot(input->path());
  ExpectOkOrDataLoss(info.status(), "InspectSnapshot()");
  absl::StatusOr<std::unique_ptr<Engine>> engine = LoadSnapshot(input->path(), LoadOptions());
  ExpectOkOrDataLoss(engine.status(), "LoadSnapshot()");
  if (!engine.ok()) return;
  if (!info.ok()) Finding("a file that loads does not inspect", info.status());
  ExpectOk((*engine)->verify(), "verify() of a loaded engine");
  if (info->revision != (*engine)->revision()) {
    Finding("InspectSnapshot() and LoadSnapshot() disagree on the revision",
            absl::InternalError(std::to_string(info->revision)));
  }
  SaveAgain(**engine, *resaved);
  Read(**engine);
  ReadTexts(**engine, *info);
  CompareLists(**engine);
  Write(**engine);
  SaveAgain(**engine, *resaved);
}

// ---- The structure-aware mutation: fields edited through the schema ----

// Values on the loader's boundaries: zero and one either side, each width's
// extremes, a balance's limit, the id and table limits, minus the refusal
// codes a remembered consume keeps.
int64_t EditedScalar(std::minstd_rand& random, int64_t current) {
  static constexpr int64_t kValues[] = {0,
                                        1,
                                        -1,
                                        2,
                                        3,
                                        6,
                                        7,
                                        9,
                                        64,
                                        255,
                                        256,
                                        65535,
                                        int64_t{1} << 24,
                                        INT32_MAX,
                                        UINT32_MAX,
                                        (int64_t{1} << 42) - 1,
                                        int64_t{1} << 42,
                                        int64_t{1} << 62,
                                        INT64_MAX,
                                        INT64_MIN,
                                        -8,
                                        -9};
  // Unsigned arithmetic: the mutator itself must not overflow.
  const auto near = static_cast<uint64_t>(current);
  switch (random() % 4) {
    case 0:
      return static_cast<int64_t>(near + 1);
    case 1:
      return static_cast<int64_t>(near - 1);
    case 2:
      return static_cast<int64_t>((uint64_t{random()} << 32) ^ random());
    default:
      return kValues[random() % std::size(kValues)];
  }
}

// Texts the engine would refuse (or normalize) and some it would keep.
std::string EditedString(std::minstd_rand& random, const std::string& current) {
  static const std::string kTexts[] = {"",
                                       "\xff\xfe",
                                       "a\x01z",
                                       std::string("a\0z", 3),
                                       "line\nbreak",
                                       "del\x7f",
                                       "\xc0\x80",      // an overlong NUL
                                       "\xed\xa0\x80",  // a surrogate
                                       "\xe3\x80\x80",  // U+3000, white space
                                       "caf\xc3\xa9",
                                       "owner",
                                       "client",
                                       "a.b",
                                       "UPPER@CASE.TEST",
                                       "-ab-",
                                       "0.1.0"};
  std::string out = current;
  switch (random() % 6) {
    case 0:
      for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return out;
    case 1:
      return random() % 2 == 0 ? " " + out : out + " ";
    case 2:
      if (!out.empty()) out[random() % out.size()] = static_cast<char>(random());
      return out;
    case 3:
      return std::string(random() % 5000, 'a');
    default:
      return kTexts[random() % std::size(kTexts)];
  }
}

// One edit of one field of a random table of a dense content.
void EditOneField(std::vector<uint8_t>* content, std::minstd_rand& random) {
  std::vector<std::pair<const reflection::Object*, size_t>> tables;
  edit::ForEachTable(
      *content, edit::SnapshotObject(),
      [&](const reflection::Object& type, size_t at) { tables.emplace_back(&type, at); });
  const auto& [object, at] = tables[random() % tables.size()];
  std::vector<const reflection::Field*> fields;
  for (const reflection::Field* f : *object->fields()) {
    if (!edit::HoldsTables(*f)) fields.push_back(f);
  }
  if (fields.empty()) return;
  const reflection::Field& field = *fields[random() % fields.size()];
  auto* table = reinterpret_cast<flatbuffers::Table*>(content->data() + at);
  const reflection::BaseType base = field.type()->base_type();
  const auto offset_of = [&](const void* p) {
    return static_cast<size_t>(static_cast<const uint8_t*>(p) - content->data());
  };
  if (base == reflection::String) {
    if (const flatbuffers::String* s = flatbuffers::GetFieldS(*table, field)) {
      edit::SetStringAt(content, offset_of(s), EditedString(random, s->str()));
    }
    return;
  }
  if (base != reflection::Vector) {
    flatbuffers::SetAnyFieldI(table, field,
                              EditedScalar(random, flatbuffers::GetAnyFieldI(*table, field)));
    return;
  }
  flatbuffers::VectorOfAny* v = flatbuffers::GetFieldAnyV(*table, field);
  if (v == nullptr) return;
  const reflection::BaseType element = field.type()->element();
  if (element == reflection::String) {
    if (v->size() == 0) return;
    const auto* strings =
        reinterpret_cast<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>*>(v);
    const flatbuffers::String* s = strings->Get(static_cast<uint32_t>(random() % v->size()));
    edit::SetStringAt(content, offset_of(s), EditedString(random, s->str()));
  } else if (random() % 3 == 0 || v->size() == 0) {
    const uint32_t size = random() % 2 == 0 ? v->size() + 1 : (v->size() == 0 ? 0 : v->size() - 1);
    flatbuffers::ResizeAnyVector(
        edit::Schema(), size, v, v->size(),
        static_cast<flatbuffers::uoffset_t>(flatbuffers::GetTypeSize(element)), content,
        &edit::SnapshotObject());
  } else {
    const size_t i = random() % v->size();
    flatbuffers::SetAnyVectorElemI(
        v, element, i, EditedScalar(random, flatbuffers::GetAnyVectorElemI(v, element, i)));
  }
}

// A verified content with every 8-byte vector aligned, packed again with
// every scalar present, then one to three fields edited; false when the
// content is not one the object API may unpack.
bool EditFields(std::vector<uint8_t>* content, std::minstd_rand& random) {
  flatbuffers::Verifier::Options options;
  options.max_depth = limits::kSnapshotMaxDepth;
  options.max_tables = limits::kSnapshotMaxTables;
  flatbuffers::Verifier verifier(content->data(), content->size(), options);
  if (!verifier.VerifyBuffer<fb::Snapshot>(nullptr) || !edit::VectorsAligned(*content))
    return false;
  *content = edit::Dense(content->data());
  for (int edits = 1 + static_cast<int>(random() % 3); edits > 0; --edits) {
    EditOneField(content, random);
  }
  return true;
}

// Half the time fields through the schema, else the content's bytes, sealed
// again; sometimes the raw file (see the top).
size_t Mutate(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::minstd_rand random(seed);
  Sealed sealed;
  const unsigned int way = random() % 8;
  if (way == 0 || max_size <= kFileOverheadBytes || !Unseal(data, size, &sealed) ||
      sealed.content.empty() || sealed.content.size() > max_size - kFileOverheadBytes) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const size_t content_max = max_size - kFileOverheadBytes;
  if (way <= 4 && EditFields(&sealed.content, random) && sealed.content.size() <= content_max) {
    const std::vector<uint8_t> file = Seal(sealed);
    if (file.size() <= max_size) {
      std::memcpy(data, file.data(), file.size());
      return file.size();
    }
    return LLVMFuzzerMutate(data, size, max_size);
  }
  if (!Unseal(data, size, &sealed)) return LLVMFuzzerMutate(data, size, max_size);
  const size_t content_size = sealed.content.size();
  sealed.content.resize(content_max);
  sealed.content.resize(LLVMFuzzerMutate(sealed.content.data(), content_size, content_max));
  const std::vector<uint8_t> file = Seal(sealed);
  if (file.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, file.data(), file.size());
  return file.size();
}

}  // namespace
}  // namespace tenantry::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "load_fuzzer: sodium_init failed\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tenantry::fuzz::LoadOne(data, size);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return tenantry::fuzz::Mutate(data, size, max_size, seed);
}
