// Copyright 2026 The tenantry Authors.
//
// Snapshots (docs/rules.md section 9): P1 a round trip keeps everything, and the file
// replaces the previous one atomically; P2 no damaged or hostile file loads
// (every error is DataLoss, never a crash); P4 a newer major version is
// refused with a clear message.
#include "tenantry/snapshot.h"

#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "persist_util.h"
#include "tenantry_generated.h"
#include "test_util.h"

namespace tenantry::test {
namespace {

std::string TempPath(absl::string_view name) {
  return absl::StrCat(::testing::TempDir(), "/tny-", ::getpid(), "-", name, ".tny");
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

TEST(Snapshot, P1_RoundTripKeepsEverything) {
  Rich rich;
  ASSERT_NO_FATAL_FAILURE(rich.Build());
  const Engine& original = rich.world.engine;
  const std::string path = TempPath("round-trip");
  TNY_ASSERT_OK(SaveSnapshot(original, path));
  std::unique_ptr<Engine> loaded;
  TNY_ASSERT_OK_AND_ASSIGN(loaded, LoadSnapshot(path));
  EXPECT_EQ(Everything(*loaded), Everything(original));
  TNY_EXPECT_OK(loaded->verify());
  std::remove(path.c_str());
}

TEST(Snapshot, P1_LoadedEngineCarriesOn) {
  Rich rich;
  ASSERT_NO_FATAL_FAILURE(rich.Build());
  World& w = rich.world;
  const std::string path = TempPath("carries-on");
  TNY_ASSERT_OK(SaveSnapshot(w.engine, path));
  std::unique_ptr<Engine> e;
  TNY_ASSERT_OK_AND_ASSIGN(e, LoadSnapshot(path));
  // I1: a token issued before the save is still accepted (the key came along).
  UserId invitee = 0;
  TNY_ASSERT_OK_AND_ASSIGN(invitee, e->create_user("new@customer.test"));
  TNY_EXPECT_OK(e->accept(rich.pending.token, invitee));
  // C5: a retry of a keyed consume replays its first result, no second debit.
  const int64_t before = e->balance(w.client_a)->available();
  EXPECT_EQ(*e->consume(w.client_a, 7, kCredits, "order-1"), rich.keyed_result);
  EXPECT_EQ(e->balance(w.client_a)->available(), before);
  // C6: a reservation made before the save can be committed after it.
  TNY_EXPECT_OK(e->commit(rich.hold, 60));
  // Ids continue, never reused; revisions continue.
  const uint64_t revision = e->revision();
  UserId fresh = 0;
  TNY_ASSERT_OK_AND_ASSIGN(fresh, e->create_user("fresh@acme.test"));
  EXPECT_GT(fresh, invitee);
  EXPECT_EQ(e->revision(), revision + 1);
  TNY_EXPECT_OK(e->verify());
  std::remove(path.c_str());
}

TEST(Snapshot, P1_SaveReplacesAtomicallyAndFailsCleanly) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  const std::string path = TempPath("replace");
  TNY_ASSERT_OK(SaveSnapshot(w.engine, path));
  const std::vector<uint8_t> first = ReadBytes(path);
  TNY_ASSERT_OK(w.engine.create_user("later@acme.test").status());
  TNY_ASSERT_OK(SaveSnapshot(w.engine, path));
  std::unique_ptr<Engine> loaded;
  TNY_ASSERT_OK_AND_ASSIGN(loaded, LoadSnapshot(path));
  EXPECT_EQ(loaded->revision(), w.engine.revision());
  EXPECT_NE(ReadBytes(path), first);
  // No temporary file is left behind.
  EXPECT_NE(::access(absl::StrCat(path, ".tmp-", ::getpid()).c_str(), F_OK), 0);
  TNY_EXPECT_REFUSED(SaveSnapshot(w.engine, "/nonexistent-dir/x.tny"), absl::StatusCode::kNotFound,
                     "P1");
  TNY_EXPECT_REFUSED(LoadSnapshot("/nonexistent-dir/x.tny"), absl::StatusCode::kNotFound, "P1");
  std::remove(path.c_str());
}

// Conservation (C8) holds in a file saved while consumers run.
TEST(Snapshot, P1_C8_SavedWhileConsuming) {
  World w;
  ASSERT_NO_FATAL_FAILURE(w.Build());
  TNY_ASSERT_OK(w.engine.grant(kSystem, w.account, 1'000'000));
  TNY_ASSERT_OK(w.engine.transfer(kSystem, w.account, w.client_a, 600'000).status());
  TNY_ASSERT_OK(w.engine.transfer(kSystem, w.account, w.client_b, 400'000).status());
  std::atomic<bool> stop{false};
  std::vector<std::thread> consumers;
  for (WorkspaceId ws : {w.client_a, w.client_b}) {
    consumers.emplace_back([&, ws] {
      int i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        (void)w.engine.consume(ws, 1);
        if (++i % 64 == 0) {
          if (auto r = w.engine.reserve(ws, 3); r.ok()) (void)w.engine.release(*r);
        }
      }
    });
  }
  const std::string path = TempPath("consuming");
  for (int round = 0; round < 5; ++round) {
    TNY_ASSERT_OK(SaveSnapshot(w.engine, path));
    std::unique_ptr<Engine> loaded;
    TNY_ASSERT_OK_AND_ASSIGN(loaded, LoadSnapshot(path));  // runs verify(): C8 in the file
    const Balance a = *loaded->balance(w.client_a);
    EXPECT_EQ(a.available() + a.held + a.consumed, 600'000);
  }
  stop = true;
  for (std::thread& t : consumers) t.join();
  std::remove(path.c_str());
}

class Damaged : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(rich_.Build());
    path_ = TempPath("damaged");
    TNY_ASSERT_OK(SaveSnapshot(rich_.world.engine, path_));
    good_ = ReadBytes(path_);
    ASSERT_GT(good_.size(), 1000u);
    expected_ = Everything(rich_.world.engine);
  }
  void TearDown() override { std::remove(path_.c_str()); }

  // A damaged file is DataLoss, or (a byte of the format version's minor
  // part, P4) loads as the very same engine. Never a crash, never a
  // different engine.
  void ExpectRefusedOrSame(const std::vector<uint8_t>& bytes, const std::string& what) {
    WriteBytes(path_, bytes);
    absl::StatusOr<std::unique_ptr<Engine>> loaded = LoadSnapshot(path_);
    if (loaded.ok()) {
      EXPECT_EQ(Everything(**loaded), expected_) << what << " loaded a different engine";
    } else {
      EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss)
          << what << ": " << loaded.status();
      EXPECT_THAT(std::string(loaded.status().message()), ::testing::HasSubstr("(P"));
    }
  }

  Rich rich_;
  std::string path_;
  std::vector<uint8_t> good_;
  std::string expected_;
};

TEST_F(Damaged, P2_EveryFlippedByteSampled) {
  const size_t step = std::max<size_t>(1, good_.size() / 400);
  for (size_t at = 0; at < good_.size(); at += step) {
    std::vector<uint8_t> bytes = good_;
    bytes[at] ^= 0x5a;
    ExpectRefusedOrSame(bytes, absl::StrCat("byte ", at, " flipped"));
  }
}

TEST_F(Damaged, P2_TruncatedAtEveryLengthSampled) {
  const size_t step = std::max<size_t>(1, good_.size() / 300);
  for (size_t length = 0; length < good_.size(); length += step) {
    ExpectRefusedOrSame(std::vector<uint8_t>(good_.begin(), good_.begin() + length),
                        absl::StrCat("truncated to ", length));
  }
}

TEST_F(Damaged, P2_WrongIdentifierAndGarbage) {
  std::vector<uint8_t> bytes = good_;
  bytes[4] = 'X';  // the identifier sits at bytes 4..7
  WriteBytes(path_, bytes);
  TNY_EXPECT_REFUSED(LoadSnapshot(path_), absl::StatusCode::kDataLoss, "TNY1");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::vector<uint8_t> garbage(rng() % 4096);
    for (uint8_t& b : garbage) b = static_cast<uint8_t>(rng());
    if (garbage.size() >= 8) std::copy_n("TNY1", 4, garbage.begin() + 4);
    ExpectRefusedOrSame(garbage, "random bytes");
  }
}

// The checksum covers the content; every byte around it (the envelope) must
// be exactly what the writer makes, and nothing may follow it. Only the
// format version's minor part may differ (P4), and then the engine is the same.
TEST_F(Damaged, P2_EveryByteAroundTheContentIsChecked) {
  const fbs::File* file = fbs::GetFile(good_.data());
  const size_t from = static_cast<size_t>(file->content()->data() - good_.data());
  const size_t to = from + file->content()->size();
  const size_t version_at =
      static_cast<size_t>(reinterpret_cast<const uint8_t*>(file) - good_.data() +
                          reinterpret_cast<const flatbuffers::Table*>(file)->GetOptionalFieldOffset(
                              fbs::File::VT_FORMAT_VERSION));
  for (size_t at = 0; at < good_.size(); ++at) {
    if (at == from) at = to;
    if (at >= good_.size()) break;
    std::vector<uint8_t> bytes = good_;
    bytes[at] ^= 0x01;
    WriteBytes(path_, bytes);
    absl::StatusOr<std::unique_ptr<Engine>> loaded = LoadSnapshot(path_);
    if (at == version_at && loaded.ok()) {  // 1001 -> 1000: an older minor version
      EXPECT_EQ(Everything(**loaded), expected_);
      continue;
    }
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << "byte " << at;
  }
  for (const size_t extra : {1, 7, 4096}) {
    std::vector<uint8_t> bytes = good_;
    bytes.resize(bytes.size() + extra, 0);
    WriteBytes(path_, bytes);
    TNY_EXPECT_REFUSED(LoadSnapshot(path_), absl::StatusCode::kDataLoss, "bytes were added");
  }
}

// P4: a newer major version is refused, naming both versions; a newer minor
// version of the same major loads.
TEST_F(Damaged, P4_NewerMajorVersionRefused) {
  const fbs::File* file = fbs::GetFile(good_.data());
  auto rewrite = [&](uint32_t version) {
    flatbuffers::FlatBufferBuilder b;
    b.ForceVectorAlignment(file->content()->size(), 1, 16);
    auto content = b.CreateVector(file->content()->data(), file->content()->size());
    auto sum = b.CreateVector(file->checksum()->data(), file->checksum()->size());
    b.Finish(fbs::CreateFile(b, version, file->checksum_kind(), sum, content),
             fbs::FileIdentifier());
    return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  };
  WriteBytes(path_, rewrite(kSnapshotFormatVersion + 1000));
  TNY_EXPECT_REFUSED(LoadSnapshot(path_), absl::StatusCode::kDataLoss, "newer than this reader");
  WriteBytes(path_, rewrite(kSnapshotFormatVersion + 1));
  std::unique_ptr<Engine> loaded;
  TNY_ASSERT_OK_AND_ASSIGN(loaded, LoadSnapshot(path_));
  EXPECT_EQ(Everything(*loaded), expected_);
}

// P2: content that passes the Verifier and the checksum but lies (a hostile
// writer): dangling references and broken invariants are refused.
TEST_F(Damaged, P2_HostileContentRefused) {
  auto tamper = [&](auto edit) {
    const fbs::File* file = fbs::GetFile(good_.data());
    fbs::SnapshotT snapshot;
    flatbuffers::GetRoot<fbs::Snapshot>(file->content()->data())->UnPackTo(&snapshot);
    edit(snapshot);
    flatbuffers::FlatBufferBuilder content;
    content.Finish(fbs::Snapshot::Pack(content, &snapshot));
    std::array<uint8_t, 32> sum{};
    crypto_generichash(sum.data(), sum.size(), content.GetBufferPointer(), content.GetSize(),
                       nullptr, 0);
    flatbuffers::FlatBufferBuilder b;
    b.ForceVectorAlignment(content.GetSize(), 1, 16);
    auto bytes = b.CreateVector(content.GetBufferPointer(), content.GetSize());
    b.Finish(fbs::CreateFile(b, kSnapshotFormatVersion, 1, b.CreateVector(sum.data(), 32), bytes),
             fbs::FileIdentifier());
    WriteBytes(path_,
               std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()));
    return LoadSnapshot(path_);
  };
  // Untouched, the re-packed content loads: the tampering below is the cause.
  TNY_EXPECT_OK(tamper([](fbs::SnapshotT&) {}).status());
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) {
                       s.users[0]->grants.push_back(std::make_unique<fbs::GrantT>(fbs::GrantT{}));
                     }),
                     absl::StatusCode::kDataLoss, "unknown workspace");
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) { s.users[1]->id = s.users[0]->id; }),
                     absl::StatusCode::kDataLoss, "repeated");
  TNY_EXPECT_REFUSED(
      tamper([](fbs::SnapshotT& s) { s.workspaces[1]->parent = s.workspaces[1]->id; }),
      absl::StatusCode::kDataLoss, "T4");
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) { s.roles[0]->inherits = s.roles[0]->id; }),
                     absl::StatusCode::kDataLoss, "M6");
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) { s.accounts[0]->pools[0]->granted += 1; }),
                     absl::StatusCode::kDataLoss, "C8");
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) { s.permissions[0] = "contacts.fly"; }),
                     absl::StatusCode::kDataLoss, "built-in permission");
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) { s.reservations[0]->held_regular += 1000000; }),
                     absl::StatusCode::kDataLoss, "C6");
  TNY_EXPECT_REFUSED(tamper([](fbs::SnapshotT& s) { s.token_key.pop_back(); }),
                     absl::StatusCode::kDataLoss, "keys");
  // A reserve in flight at the cut (its hold in the cell, its slot not yet
  // live) is not in the file: the hold goes back to the regular bucket.
  const WorkspaceId client_b = rich_.world.client_b;
  std::unique_ptr<Engine> loaded;
  TNY_ASSERT_OK_AND_ASSIGN(loaded, tamper([&](fbs::SnapshotT& s) {
                             for (auto& ws : s.workspaces) {
                               if (ws->id != client_b) continue;
                               ws->credits[0]->held += 5;
                               ws->credits[0]->regular -= 5;
                             }
                           }));
  const Balance b = *loaded->balance(client_b, "sms");
  EXPECT_EQ(b.buckets[0], 35);
  EXPECT_EQ(b.held, 0);
  EXPECT_EQ(b.consumed, 5);
}

TEST(Snapshot, P1_StaffInvitationScopeNamingADeletedWorkspaceLoads) {
  // Found by the fuzzer: the engine keeps deleted ids in a staff
  // invitation's scope (accept drops them); the loader must accept them.
  Engine e;
  TNY_ASSERT_OK_AND_ASSIGN(UserId owner, e.create_user("owner@x.test"));
  AccountSpec spec;
  spec.name = "A";
  spec.owner = owner;
  spec.plan = Plan::Named("growth");
  TNY_ASSERT_OK_AND_ASSIGN(AccountId account, e.create_account(spec));
  TNY_ASSERT_OK(e.create_workspace(owner, account, {"One"}).status());
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId two, e.create_workspace(owner, account, {"Two"}));
  TNY_ASSERT_OK(
      e.invite_staff(owner, account, "staff@x.test", "member", StaffScope::Of({two})).status());
  TNY_ASSERT_OK(e.delete_workspace(owner, two, "Two"));
  const std::string path = TempPath("deleted-scope");
  TNY_ASSERT_OK(SaveSnapshot(e, path));
  std::unique_ptr<Engine> loaded;
  TNY_ASSERT_OK_AND_ASSIGN(loaded, LoadSnapshot(path));
  EXPECT_EQ(Everything(*loaded), Everything(e));
  std::remove(path.c_str());
}

TEST(Snapshot, P2_FuzzerFindingsAreRefused) {
  // Inputs the libFuzzer target found (tests/fuzz/corpus/load/finding-*):
  // each is DataLoss now, never a crash, an overflow or a huge allocation.
  const std::string dir = TENANTRY_FUZZ_CORPUS;
  int seen = 0;
  for (const char* name :
       {"finding-role-without-permissions.tny", "finding-cell-total-overflow.tny",
        "finding-key-time-overflow.tny", "finding-misaligned-team-members.tny",
        "finding-misaligned-u64-vector.tny", "finding-key-slots-huge.tny",
        "finding-staff-scope-all-and-list.tny"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<std::unique_ptr<Engine>> e = LoadSnapshot(dir + "/" + name);
    if (e.ok()) {
      TNY_EXPECT_OK((*e)->verify());
    } else {
      EXPECT_EQ(e.status().code(), absl::StatusCode::kDataLoss) << e.status();
    }
    ++seen;
  }
  EXPECT_EQ(seen, 7);
}

TEST(Snapshot, P2_InspectDescribesTheFile) {
  Rich rich;
  ASSERT_NO_FATAL_FAILURE(rich.Build());
  const std::string path = TempPath("inspect");
  TNY_ASSERT_OK(SaveSnapshot(rich.world.engine, path));
  SnapshotInfo info;
  TNY_ASSERT_OK_AND_ASSIGN(info, InspectSnapshot(path));
  const Engine::Stats stats = rich.world.engine.stats();
  EXPECT_EQ(info.format_version, kSnapshotFormatVersion);
  EXPECT_EQ(info.revision, rich.world.engine.revision());
  EXPECT_EQ(info.users, stats.users);
  EXPECT_EQ(info.workspaces, stats.workspaces);
  EXPECT_EQ(info.memberships, stats.memberships);
  EXPECT_EQ(info.reservations, 1u);
  EXPECT_EQ(info.idempotency_keys, 1u);
  EXPECT_EQ(info.writer, "0.1.0");
  EXPECT_EQ(info.file_bytes, ReadBytes(path).size());
  std::remove(path.c_str());
}

// The operator's tool: inspect, verify and dump --json, and refusals.
struct ToolRun {
  int status = 0;
  std::string out;
};
ToolRun Tool(const std::string& arguments) {
  ToolRun run;
  FILE* pipe = ::popen(absl::StrCat(TENANTRY_TOOL, " ", arguments, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  run.status = WEXITSTATUS(::pclose(pipe));
  return run;
}

TEST(Snapshot, P2_OperatorToolInspectsVerifiesAndDumps) {
  Rich rich;
  ASSERT_NO_FATAL_FAILURE(rich.Build());
  const std::string path = TempPath("tool");
  TNY_ASSERT_OK(SaveSnapshot(rich.world.engine, path));
  ToolRun inspect = Tool(absl::StrCat("inspect ", path));
  EXPECT_EQ(inspect.status, 0) << inspect.out;
  EXPECT_THAT(inspect.out, ::testing::HasSubstr(
                               absl::StrCat("revision          ", rich.world.engine.revision())));
  EXPECT_THAT(inspect.out, ::testing::HasSubstr(absl::StrCat(
                               "memberships       ", rich.world.engine.stats().memberships)));
  ToolRun verify = Tool(absl::StrCat("verify ", path));
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_THAT(verify.out, ::testing::HasSubstr("every invariant holds"));
  ToolRun dump = Tool(absl::StrCat("dump --json ", path));
  EXPECT_EQ(dump.status, 0) << dump.out.substr(0, 500);
  EXPECT_THAT(dump.out, ::testing::HasSubstr("\"token_key\": \"<redacted>\""));
  EXPECT_THAT(dump.out, ::testing::HasSubstr("\"key\": \"owner@acme.test\""));
  EXPECT_EQ(std::count(dump.out.begin(), dump.out.end(), '{'),
            std::count(dump.out.begin(), dump.out.end(), '}'));
  // Damaged: every command refuses with the reason, exit status 1.
  std::vector<uint8_t> bytes = ReadBytes(path);
  bytes.resize(bytes.size() / 2);
  WriteBytes(path, bytes);
  for (const char* command : {"inspect", "verify", "dump --json"}) {
    ToolRun refused = Tool(absl::StrCat(command, " ", path));
    EXPECT_EQ(refused.status, 1) << command << ": " << refused.out;
    EXPECT_THAT(refused.out, ::testing::HasSubstr("(P2)")) << command;
  }
  EXPECT_EQ(Tool("frobnicate").status, 2);
  ToolRun help = Tool("--help");  // asked for: the usage, status 0
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, ::testing::StartsWith("usage: tenantry inspect FILE"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tenantry::test
