// Copyright 2026 The tenantry Authors.
//
// The envelope of a snapshot file (envelope.h).
#include "envelope.h"

#include <cassert>
#include <cstring>

#include "tenantry_generated.h"

namespace tenantry::internal {

size_t EncodeEnvelope(flatbuffers::FlatBufferBuilder& file, const uint8_t* content,
                      size_t content_size, uint32_t format_version,
                      const std::array<uint8_t, 32>& checksum) {
  // The content is a byte vector aligned for the nested buffer's tables.
  file.ForceVectorAlignment(content_size, sizeof(uint8_t), 16);
  uint8_t* space = nullptr;
  const flatbuffers::Offset<flatbuffers::Vector<uint8_t>> bytes(
      file.CreateUninitializedVector(content_size, sizeof(uint8_t), &space));
  if (content != nullptr && content_size > 0) std::memcpy(space, content, content_size);
  // The content vector's offset counts from the buffer's end; its bytes
  // follow its 4-byte length.
  const size_t content_from_end = bytes.o - sizeof(flatbuffers::uoffset_t);
  file.Finish(fbs::CreateFile(file, format_version, 1,
                              file.CreateVector(checksum.data(), checksum.size()), bytes),
              fbs::FileIdentifier());
  assert(file.GetSize() >= content_from_end);
  return file.GetSize() - content_from_end;
}

bool IsExactEnvelope(const uint8_t* bytes, size_t size, const uint8_t* content, size_t content_size,
                     uint32_t format_version, const std::array<uint8_t, 32>& checksum) {
  if (content < bytes || content_size > size ||
      static_cast<size_t>(content - bytes) > size - content_size) {
    return false;
  }
  // The builder reserves room for the content without writing it (pages it
  // never touches cost no memory); only the bytes around it are compared.
  flatbuffers::FlatBufferBuilder file(content_size + 1024);
  const size_t at = EncodeEnvelope(file, nullptr, content_size, format_version, checksum);
  const uint8_t* made = file.GetBufferPointer();
  return file.GetSize() == size && at == static_cast<size_t>(content - bytes) &&
         std::memcmp(made, bytes, at) == 0 &&
         std::memcmp(made + at + content_size, bytes + at + content_size,
                     size - at - content_size) == 0;
}

}  // namespace tenantry::internal
