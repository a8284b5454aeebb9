// On-media format of the heap (docs/format.md, "Heap").
//
//   heap   := zone*                      zone z starts at heap_offset + z * zone_bytes
//   zone   := chunk_table chunk{1..1023} chunk 0 of a zone holds its chunk table
//   chunk  := 256 KiB, chunk-aligned in the file
//
// The chunk table is 1024 little-endian u64 entries; entry 0 describes the
// table's own chunk and is unused. Zero means free, so a zone of zero bytes
// (a new or grown heap) is a zone of free chunks:
//
//   bits 0-1   kind: 0 free, 1 run head, 2 extent head, 3 continuation
//   bits 8-15  run head: size class index
//   bits 16-47 run/extent head: length in chunks; continuation: distance
//              back to its head, in chunks
//
// A run holds equal slots of one size class: run_header, a bitmap (bit set
// = slot allocated), then the slots. An extent holds one large object. Every
// object starts with an object_header at the start of its slot (or extent);
// the user's data begins data_offset bytes later.
//
// Metadata changes are logged as bit operations (set_bits from zero, or
// clear_bits), never as after-images of words other threads may share.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ferrite/base/format/pool_format.h"

namespace ferrite::detail {

// The largest slot of a run (object header included); larger objects are
// extents of whole chunks.
inline constexpr std::uint64_t max_slot_size = 256 * 1024;
inline constexpr std::uint64_t chunks_per_zone = 1024;
inline constexpr std::uint64_t zone_bytes = chunks_per_zone * chunk_size;

enum class chunk_kind : std::uint64_t { free = 0, run = 1, extent = 2, continuation = 3 };

inline constexpr chunk_kind entry_kind_of(std::uint64_t e) {
  return static_cast<chunk_kind>(e & 3);
}
inline constexpr std::uint64_t entry_class(std::uint64_t e) {
  return (e >> 8) & 0xff;
}
inline constexpr std::uint64_t entry_length(std::uint64_t e) {
  return (e >> 16) & 0xffffffff;
}
inline constexpr std::uint64_t make_entry(chunk_kind k, std::uint64_t cls, std::uint64_t len) {
  return static_cast<std::uint64_t>(k) | cls << 8 | len << 16;
}

inline constexpr std::uint64_t run_magic = 0x004e5552'52524546;  // "FERRRUN\0"

// Immutable after the run is created.
struct run_header {
  std::uint64_t magic;        //  0 run_magic
  std::uint32_t size_class;   //  8 index into the size class table
  std::uint32_t slot_size;    // 12 bytes per slot (header included)
  std::uint32_t slot_count;   // 16
  std::uint32_t data_offset;  // 20 first slot, from the run start (64-aligned)
  std::uint32_t chunks;       // 24 run length in chunks
  std::uint32_t reserved0;    // 28
  std::uint64_t reserved[4];  // 32
};
static_assert(sizeof(run_header) == 64);
inline constexpr std::uint64_t run_bitmap_offset = sizeof(run_header);

inline constexpr std::uint16_t object_magic = 0xfe0b;

struct object_header {
  std::uint64_t size_magic;   // 0 bits 0-47 requested size, bits 48-63 object_magic
  std::uint32_t type_id;      // 8 0 until the typed layer registers types
  std::uint32_t data_offset;  // 12 user data, from the slot start (>= 16)
};
static_assert(sizeof(object_header) == 16);

inline constexpr std::uint64_t object_size_of(const object_header& h) {
  return h.size_magic & ((1ull << 48) - 1);
}
inline constexpr bool object_magic_ok(const object_header& h) {
  return (h.size_magic >> 48) == object_magic;
}

}  // namespace ferrite::detail
