// Copyright 2026 The tenantry Authors.
//
// `tenantry`: the operator's command line for snapshot files and journals.
//
//   tenantry inspect FILE         format, writer, revision, counts, size
//   tenantry verify FILE          load it as an engine would; every invariant
//   tenantry dump --json FILE     the content as JSON, secrets redacted
//   tenantry journal check DIR    read a journal: its records, a torn tail,
//                                 damage and every position past it
//   tenantry journal repair DIR   cut a damaged journal at its damage (P3):
//                                 the cut segments kept in DIR/lost-<lsn>,
//                                 every lost position reported
//   tenantry --help               this list (on stdout; status 0)
//
// Exit status: 0 ok, 1 the file is refused (the reason on stderr) or, for
// `journal check`, damaged; 2 usage.
// Every command checks the file first (Verifier, checksum, version), so a
// damaged or hostile file is reported, never trusted. `dump` walks the file
// through the schema (reflection), streaming, with a progress bar on stderr
// when it is a terminal and the file is large (or with --progress).
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "flatbuffers/reflection.h"
#include "tenantry/journal.h"
#include "tenantry/limits.h"
#include "tenantry/snapshot.h"

extern const unsigned char kTenantrySchema[];

namespace {

using tenantry::SnapshotInfo;

// The usage, on stderr with status 2 for a wrong command line, or on
// stdout with status 0 when asked for (--help).
int Usage(std::FILE* out = stderr) {
  std::fputs(
      "usage: tenantry inspect FILE\n"
      "       tenantry verify FILE\n"
      "       tenantry dump --json [--progress] FILE\n"
      "       tenantry journal check DIR\n"
      "       tenantry journal repair DIR\n"
      "       tenantry --help\n",
      out);
  return out == stdout ? 0 : 2;
}

int Refused(const absl::Status& status) {
  std::fprintf(stderr, "tenantry: %s\n", std::string(status.message()).c_str());
  return 1;
}

std::string Time(int64_t ns) {
  const time_t seconds = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

int Inspect(const std::string& path) {
  absl::StatusOr<SnapshotInfo> info = tenantry::InspectSnapshot(path);
  if (!info.ok()) return Refused(info.status());
  std::printf("file              %s\n", path.c_str());
  std::printf("size              %" PRIu64 " bytes\n", info->file_bytes);
  std::printf("format version    %u (this build reads major %u)\n", info->format_version,
              tenantry::kSnapshotFormatVersion / 1000);
  std::printf("written by        tenantry %s\n", info->writer.c_str());
  std::printf("revision          %" PRIu64 "\n", info->revision);
  std::printf("taken at          %s\n", Time(info->taken_at_ns).c_str());
  const std::pair<const char*, uint64_t> counts[] = {{"accounts", info->accounts},
                                                     {"users", info->users},
                                                     {"workspaces", info->workspaces},
                                                     {"memberships", info->memberships},
                                                     {"custom roles", info->roles},
                                                     {"teams", info->teams},
                                                     {"invitations", info->invitations},
                                                     {"reservations", info->reservations},
                                                     {"idempotency keys", info->idempotency_keys},
                                                     {"ledger entries", info->ledger_entries},
                                                     {"feed records", info->changes}};
  for (const auto& [name, count] : counts) std::printf("%-18s%" PRIu64 "\n", name, count);
  if (info->memberships > 0) {
    std::printf("bytes/membership  %.1f\n",
                static_cast<double>(info->file_bytes) / static_cast<double>(info->memberships));
  }
  return 0;
}

int Verify(const std::string& path) {
  absl::StatusOr<std::unique_ptr<tenantry::Engine>> engine = tenantry::LoadSnapshot(path);
  if (!engine.ok()) return Refused(engine.status());
  // A load checks what the file claims; the indexes it built are right by
  // construction. The operator's check re-derives them too.
  if (absl::Status all = (*engine)->verify(); !all.ok()) return Refused(all);
  const tenantry::Engine::Stats stats = (*engine)->stats();
  std::printf("ok: %s loads; revision %" PRIu64 ", %" PRIu64 " accounts, %" PRIu64
              " users, %" PRIu64 " workspaces, %" PRIu64 " memberships; every invariant holds\n",
              path.c_str(), (*engine)->revision(), stats.accounts, stats.users, stats.workspaces,
              stats.memberships);
  return 0;
}

// ---- dump --json: a streaming walk of the content through the schema ----

class Dumper {
 public:
  Dumper(const reflection::Schema& schema, bool progress) : schema_(schema), progress_(progress) {}

  void Run(const flatbuffers::Table& root, const reflection::Object& type) {
    total_ = CountItems(root, type);
    Table(root, type, 0);
    std::fputc('\n', stdout);
    if (progress_) std::fputs("\r\033[K", stderr);
  }

 private:
  // Items of the top-level vectors of tables: what the bar counts.
  uint64_t CountItems(const flatbuffers::Table& root, const reflection::Object& type) const {
    uint64_t n = 0;
    for (const reflection::Field* f : *type.fields()) {
      if (f->type()->base_type() != reflection::Vector) continue;
      const auto* v = root.GetPointer<const flatbuffers::VectorOfAny*>(f->offset());
      if (v != nullptr) n += v->size();
    }
    return n;
  }

  void Tick() {
    ++done_;
    if (!progress_ || total_ == 0) return;
    const uint64_t percent = done_ * 100 / total_;
    if (percent == shown_) return;
    shown_ = percent;
    std::fprintf(stderr, "\r[%-50s] %3" PRIu64 "%% %" PRIu64 "/%" PRIu64,
                 std::string(static_cast<size_t>(percent / 2), '#').c_str(), percent, done_,
                 total_);
  }

  static void String(const flatbuffers::String* s) {
    std::fputc('"', stdout);
    for (unsigned char c : s->string_view()) {
      if (c == '"' || c == '\\') {
        std::fputc('\\', stdout);
        std::fputc(c, stdout);
      } else if (c < 0x20) {
        std::fprintf(stdout, "\\u%04x", c);
      } else {
        std::fputc(c, stdout);
      }
    }
    std::fputc('"', stdout);
  }

  static bool Secret(const reflection::Field& f) {
    const std::string name = f.name()->str();
    return name == "token_key" || name == "key_hash_key";
  }

  void Scalar(const flatbuffers::Table& t, const reflection::Field& f) {
    const reflection::BaseType type = f.type()->base_type();
    if (type == reflection::Bool) {
      std::fputs(flatbuffers::GetAnyFieldI(t, f) != 0 ? "true" : "false", stdout);
    } else if (type == reflection::Float || type == reflection::Double) {
      std::printf("%.17g", flatbuffers::GetAnyFieldF(t, f));
    } else if (type == reflection::ULong) {
      std::printf("%" PRIu64, static_cast<uint64_t>(flatbuffers::GetAnyFieldI(t, f)));
    } else {
      std::printf("%" PRId64, flatbuffers::GetAnyFieldI(t, f));
    }
  }

  void Vector(const flatbuffers::Table& t, const reflection::Field& f, int depth) {
    const auto* v = t.GetPointer<const flatbuffers::VectorOfAny*>(f.offset());
    const reflection::BaseType element = f.type()->element();
    std::fputc('[', stdout);
    for (uint32_t i = 0; i < v->size(); ++i) {
      if (i > 0) std::fputs(", ", stdout);
      if (element == reflection::Obj) {
        const reflection::Object& type = *schema_.objects()->Get(f.type()->index());
        Table(*flatbuffers::GetAnyVectorElemPointer<const flatbuffers::Table>(v, i), type,
              depth + 1);
        if (depth == 0) Tick();
      } else if (element == reflection::String) {
        String(flatbuffers::GetAnyVectorElemPointer<const flatbuffers::String>(v, i));
      } else if (element == reflection::ULong) {
        std::printf("%" PRIu64,
                    static_cast<uint64_t>(flatbuffers::GetAnyVectorElemI(v, element, i)));
      } else {
        std::printf("%" PRId64, flatbuffers::GetAnyVectorElemI(v, element, i));
      }
    }
    std::fputc(']', stdout);
  }

  void Table(const flatbuffers::Table& t, const reflection::Object& type, int depth) {
    // Fields in id order (the schema sorts them by name).
    std::vector<const reflection::Field*> fields(type.fields()->begin(), type.fields()->end());
    std::sort(fields.begin(), fields.end(),
              [](const auto* a, const auto* b) { return a->id() < b->id(); });
    const std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
    const bool top = depth == 0;
    std::fputc('{', stdout);
    bool first = true;
    for (const reflection::Field* f : fields) {
      if (f->deprecated()) continue;
      const reflection::BaseType base = f->type()->base_type();
      const bool pointer =
          base == reflection::String || base == reflection::Vector || base == reflection::Obj;
      if (pointer && t.GetPointer<const void*>(f->offset()) == nullptr) continue;
      std::fputs(first ? "" : (top ? "," : ", "), stdout);
      first = false;
      if (top) std::printf("\n%s", indent.c_str());
      std::printf("\"%s\": ", f->name()->c_str());
      if (Secret(*f)) {
        std::fputs("\"<redacted>\"", stdout);
      } else if (base == reflection::String) {
        String(t.GetPointer<const flatbuffers::String*>(f->offset()));
      } else if (base == reflection::Vector) {
        Vector(t, *f, depth);
      } else if (base == reflection::Obj) {
        Table(*t.GetPointer<const flatbuffers::Table*>(f->offset()),
              *schema_.objects()->Get(f->type()->index()), depth + 1);
      } else {
        Scalar(t, *f);
      }
    }
    if (top) std::fputc('\n', stdout);
    std::fputc('}', stdout);
  }

  const reflection::Schema& schema_;
  bool progress_;
  uint64_t total_ = 0, done_ = 0, shown_ = 101;
};

// `progress`: always (--progress), or on a terminal for files over 8 MiB.
int Dump(const std::string& path, bool progress) {
  absl::StatusOr<SnapshotInfo> info = tenantry::InspectSnapshot(path);  // verified, checksummed
  if (!info.ok()) return Refused(info.status());
  progress = progress || (::isatty(STDERR_FILENO) && info->file_bytes > (uint64_t{8} << 20));
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Refused(absl::NotFoundError("cannot reopen " + path));
  std::vector<uint8_t> bytes(info->file_bytes);
  const size_t read = std::fread(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  if (read != bytes.size()) return Refused(absl::DataLossError(path + " changed while reading"));
  const reflection::Schema& schema = *reflection::GetSchema(kTenantrySchema);
  const reflection::Object* file_type = schema.objects()->LookupByKey("tenantry.fbs.File");
  const reflection::Object* snapshot_type = schema.objects()->LookupByKey("tenantry.fbs.Snapshot");
  if (file_type == nullptr || snapshot_type == nullptr) return 2;
  const flatbuffers::Table& outer = *flatbuffers::GetAnyRoot(bytes.data());
  const reflection::Field* content = file_type->fields()->LookupByKey("content");
  const auto* nested = outer.GetPointer<const flatbuffers::Vector<uint8_t>*>(content->offset());
  Dumper dumper(schema, progress);
  std::printf("{\"format_version\": %u, \"snapshot\": ", info->format_version);
  dumper.Run(*flatbuffers::GetAnyRoot(nested->data()), *snapshot_type);
  std::printf("}\n");
  return 0;
}

// `check` (a dry run: nothing is written) or `repair` (P3).
int Journal(const std::string& dir, bool repair) {
  absl::StatusOr<tenantry::JournalRecovery> report = tenantry::RepairJournal(dir, !repair);
  if (!report.ok()) return Refused(report.status());
  std::fputs(tenantry::FormatJournalRecovery(*report).c_str(), stdout);
  return !repair && report->damaged ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) return Usage(stdout);
  if (args.size() == 2 && args[0] == "inspect") return Inspect(args[1]);
  if (args.size() == 2 && args[0] == "verify") return Verify(args[1]);
  if (args.size() == 3 && args[0] == "journal" && (args[1] == "check" || args[1] == "repair")) {
    return Journal(args[2], args[1] == "repair");
  }
  if (args.size() >= 3 && args[0] == "dump" && args[1] == "--json") {
    bool progress = false;
    if (args.size() == 4 && args[2] == "--progress") {
      progress = true;
    } else if (args.size() != 3) {
      return Usage();
    }
    return Dump(args.back(), progress);
  }
  return Usage();
}
