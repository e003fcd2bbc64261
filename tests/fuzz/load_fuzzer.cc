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
//    them) breaks an invariant or cannot be saved and loaded again.
// ASan, UBSan and LeakSanitizer catch the rest.
//
// A snapshot's content is covered by a BLAKE2b checksum, so blind mutations
// almost never reach the loader proper. The custom mutator below therefore
// mostly mutates the nested content and seals it again with a fresh checksum
// (as save.cc does); one mutation in eight works on the raw file, for the
// identifier, the Verifier and the checksum. Inputs are loaded exactly as
// given: a saved crash reproduces with the bare binary.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scratch_file.h"
#include "tenantry/engine.h"
#include "tenantry/snapshot.h"
#include "tenantry_generated.h"

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
  std::array<uint8_t, crypto_generichash_BYTES> sum{};
  crypto_generichash(sum.data(), sum.size(), sealed.content.data(), sealed.content.size(), nullptr,
                     0);
  flatbuffers::FlatBufferBuilder b(sealed.content.size() + kFileOverheadBytes);
  b.ForceVectorAlignment(sealed.content.size(), sizeof(uint8_t), 16);
  auto content = b.CreateVector(sealed.content);
  b.Finish(fb::CreateFile(b, sealed.format_version, sealed.checksum_kind,
                          b.CreateVector(sum.data(), sum.size()), content),
           fb::FileIdentifier());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
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
  CompareLists(**engine);
  Write(**engine);
  SaveAgain(**engine, *resaved);
}

// Mostly the content, sealed again; sometimes the raw file (see the top).
size_t Mutate(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::minstd_rand random(seed);
  Sealed sealed;
  if (random() % 8 == 0 || max_size <= kFileOverheadBytes || !Unseal(data, size, &sealed) ||
      sealed.content.empty() || sealed.content.size() > max_size - kFileOverheadBytes) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const size_t content_size = sealed.content.size();
  const size_t content_max = max_size - kFileOverheadBytes;
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
