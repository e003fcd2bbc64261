// Copyright 2026 The tenantry Authors.
//
// P1, P2: the envelope of a snapshot file, the `File` table of tenantry.fbs
// around the content (format version, checksum kind, checksum, the content
// bytes). The writer and the check that a file is exactly what the writer
// makes sit side by side, so that they cannot drift apart.
#ifndef TENANTRY_SNAPSHOTS_SRC_ENVELOPE_H_
#define TENANTRY_SNAPSHOTS_SRC_ENVELOPE_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "flatbuffers/flatbuffer_builder.h"

namespace tenantry::internal {

// Finishes `file` as the envelope of `content` (`content_size` bytes, a
// finished Snapshot buffer whose BLAKE2b-256 is `checksum`). With a null
// `content` the content's bytes are left unwritten (for the check below).
// Returns where the content's first byte is in the finished buffer.
size_t EncodeEnvelope(flatbuffers::FlatBufferBuilder& file, const uint8_t* content,
                      size_t content_size, uint32_t format_version,
                      const std::array<uint8_t, 32>& checksum);

// True when the `size` bytes at `bytes` are exactly the envelope the writer
// makes of the content they hold (at `content`, `content_size` bytes):
// every byte outside the checksummed content is accounted for, so damage
// there, or bytes appended to the file, are found. Copies nothing: the
// content's bytes are not re-encoded. Every envelope ever written has this
// layout (it has not changed since format 1000); a writer that changes it
// must keep the old one acceptable here.
bool IsExactEnvelope(const uint8_t* bytes, size_t size, const uint8_t* content, size_t content_size,
                     uint32_t format_version, const std::array<uint8_t, 32>& checksum);

}  // namespace tenantry::internal

#endif  // TENANTRY_SNAPSHOTS_SRC_ENVELOPE_H_
