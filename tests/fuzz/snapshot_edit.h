// Copyright 2026 The tenantry Authors.
//
// Editing a snapshot's content field by field, through the binary schema
// (tenantry.bfbs, embedded by the tenantry_snapshot_schema library) and
// FlatBuffers reflection: for tests/rules/snapshot_fields_test.cc, which edits
// every field of a rich snapshot, and for load_fuzzer's structure-aware
// mutator. An edited content is signed again (Seal) as save.cc signs it, so
// that the edit reaches the loader's checks instead of the checksum.
//
// Edits work on a "dense" content (Dense): packed again with every scalar
// present, since the saver leaves default values out and reflection can
// only change a scalar in place. Not thread-safe: one caller per buffer.
#ifndef TENANTRY_TESTS_FUZZ_SNAPSHOT_EDIT_H_
#define TENANTRY_TESTS_FUZZ_SNAPSHOT_EDIT_H_

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "flatbuffers/reflection.h"
#include "tenantry/snapshot.h"
#include "tenantry_generated.h"

// The binary schema of snapshots/tenantry.fbs (tenantry_snapshot_schema).
extern const unsigned char kTenantrySchema[];

namespace tenantry::edit {

inline const reflection::Schema& Schema() { return *reflection::GetSchema(kTenantrySchema); }

// A table of the schema by its short name ("Workspace"), or nullptr.
inline const reflection::Object* FindObject(const std::string& name) {
  return Schema().objects()->LookupByKey(("tenantry.fbs." + name).c_str());
}

inline const reflection::Object& SnapshotObject() { return *FindObject("Snapshot"); }

inline std::string ShortName(const reflection::Object& object) {
  const std::string name = object.name()->str();
  return name.substr(name.rfind('.') + 1);
}

// "Workspace.name": how tests and the loader's refusals name a field.
inline std::string FieldName(const reflection::Object& object, const reflection::Field& field) {
  return ShortName(object) + "." + field.name()->str();
}

inline bool IsString(const reflection::Field& field) {
  const reflection::BaseType base = field.type()->base_type();
  return base == reflection::String ||
         (base == reflection::Vector && field.type()->element() == reflection::String);
}

// A field that holds tables (a table, or a vector of them).
inline bool HoldsTables(const reflection::Field& field) {
  const reflection::BaseType base = field.type()->base_type();
  return base == reflection::Obj ||
         (base == reflection::Vector && field.type()->element() == reflection::Obj);
}

// Calls `visit(object, offset)` for every table in `buffer` (whose root is a
// `root`) in a fixed order: fields by id, depth first. Offsets are into
// `buffer`. The buffer must have passed the Verifier.
inline void ForEachTable(const std::vector<uint8_t>& buffer, const reflection::Object& root,
                         const std::function<void(const reflection::Object&, size_t)>& visit) {
  std::function<void(const flatbuffers::Table&, const reflection::Object&)> walk =
      [&](const flatbuffers::Table& table, const reflection::Object& type) {
        visit(type, static_cast<size_t>(reinterpret_cast<const uint8_t*>(&table) - buffer.data()));
        std::vector<const reflection::Field*> fields(type.fields()->begin(), type.fields()->end());
        std::sort(fields.begin(), fields.end(),
                  [](const auto* a, const auto* b) { return a->id() < b->id(); });
        for (const reflection::Field* f : fields) {
          if (!HoldsTables(*f)) continue;
          const reflection::Object& sub = *Schema().objects()->Get(f->type()->index());
          if (f->type()->base_type() == reflection::Obj) {
            if (const flatbuffers::Table* t = flatbuffers::GetFieldT(table, *f)) walk(*t, sub);
            continue;
          }
          const auto* v =
              flatbuffers::GetFieldV<flatbuffers::Offset<flatbuffers::Table>>(table, *f);
          for (uint32_t i = 0; v != nullptr && i < v->size(); ++i) walk(*v->Get(i), sub);
        }
      };
  walk(*flatbuffers::GetAnyRoot(buffer.data()), root);
}

// The tables of `object` in `buffer`, in ForEachTable's order.
inline std::vector<size_t> TablesOf(const std::vector<uint8_t>& buffer,
                                    const reflection::Object& root,
                                    const reflection::Object& object) {
  std::vector<size_t> out;
  ForEachTable(buffer, root, [&](const reflection::Object& type, size_t offset) {
    if (&type == &object) out.push_back(offset);
  });
  return out;
}

// Whether every vector of 8-byte scalars in a verified Snapshot buffer is
// aligned: the Verifier (2.0.8) checks only their length's alignment, and
// reading a misaligned one is undefined (the loader refuses those files).
inline bool VectorsAligned(const std::vector<uint8_t>& content) {
  bool aligned = true;
  ForEachTable(content, SnapshotObject(), [&](const reflection::Object& type, size_t offset) {
    const auto& table = *reinterpret_cast<const flatbuffers::Table*>(content.data() + offset);
    for (const reflection::Field* f : *type.fields()) {
      if (f->type()->base_type() != reflection::Vector ||
          flatbuffers::GetTypeSize(f->type()->element()) != 8) {
        continue;
      }
      const flatbuffers::VectorOfAny* v = flatbuffers::GetFieldAnyV(table, *f);
      aligned = aligned && (v == nullptr || reinterpret_cast<uintptr_t>(v->Data()) % 8 == 0);
    }
  });
  return aligned;
}

// Where each instance of a string field sits in a Snapshot buffer: the
// offsets of its strings (one per element of a [string] field).
inline std::vector<size_t> StringsOf(const std::vector<uint8_t>& content,
                                     const reflection::Object& object,
                                     const reflection::Field& field) {
  std::vector<size_t> out;
  auto at = [&](const flatbuffers::String* s) {
    if (s != nullptr) {
      out.push_back(static_cast<size_t>(reinterpret_cast<const uint8_t*>(s) - content.data()));
    }
  };
  for (size_t offset : TablesOf(content, SnapshotObject(), object)) {
    const auto& table = *reinterpret_cast<const flatbuffers::Table*>(content.data() + offset);
    if (field.type()->base_type() == reflection::String) {
      at(flatbuffers::GetFieldS(table, field));
    } else if (const auto* v =
                   flatbuffers::GetFieldV<flatbuffers::Offset<flatbuffers::String>>(table, field)) {
      for (uint32_t i = 0; i < v->size(); ++i) at(v->Get(i));
    }
  }
  return out;
}

// Sets the string at offset `at` of a Snapshot buffer to `value`.
// flatbuffers::SetString (2.0.8) grows a string correctly, but shrinking
// one erases the bytes *before* it (ResizeContext cuts below the string's
// start), damaging whatever precedes it. A string is laid out like a
// [ubyte], whose resizing cuts at its end: shrinking goes that way.
inline void SetStringAt(std::vector<uint8_t>* content, size_t at, const std::string& value) {
  const auto* s = reinterpret_cast<const flatbuffers::String*>(content->data() + at);
  if (value.size() >= s->size()) {
    flatbuffers::SetString(Schema(), value, s, content, &SnapshotObject());
    return;
  }
  flatbuffers::ResizeAnyVector(Schema(), static_cast<flatbuffers::uoffset_t>(value.size()),
                               reinterpret_cast<const flatbuffers::VectorOfAny*>(s), s->size(), 1,
                               content, &SnapshotObject());
  // The bytes past the new end were zeroed, so the terminating NUL is there.
  std::memcpy(content->data() + at + sizeof(flatbuffers::uoffset_t), value.data(), value.size());
}

// A snapshot file around `content`, signed as save.cc signs it. Every scalar
// of the File table is present, so that it can be edited in place too.
inline std::vector<uint8_t> Seal(const std::vector<uint8_t>& content,
                                 uint32_t format_version = kSnapshotFormatVersion,
                                 uint8_t checksum_kind = 1) {
  std::array<uint8_t, crypto_generichash_BYTES> sum{};
  crypto_generichash(sum.data(), sum.size(), content.data(), content.size(), nullptr, 0);
  flatbuffers::FlatBufferBuilder b(content.size() + 1024);
  b.ForceDefaults(true);
  b.ForceVectorAlignment(content.size(), sizeof(uint8_t), 16);
  auto bytes = b.CreateVector(content);
  b.Finish(fbs::CreateFile(b, format_version, checksum_kind, b.CreateVector(sum.data(), sum.size()),
                           bytes),
           fbs::FileIdentifier());
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

// A content packed again with every scalar present. `content` must have
// passed the Verifier (the object API trusts what it unpacks).
inline std::vector<uint8_t> Dense(const uint8_t* content) {
  fbs::SnapshotT snapshot;
  flatbuffers::GetRoot<fbs::Snapshot>(content)->UnPackTo(&snapshot);
  flatbuffers::FlatBufferBuilder b;
  b.ForceDefaults(true);
  b.Finish(fbs::Snapshot::Pack(b, &snapshot));
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

}  // namespace tenantry::edit

#endif  // TENANTRY_TESTS_FUZZ_SNAPSHOT_EDIT_H_
