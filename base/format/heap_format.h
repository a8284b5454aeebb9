// On-media format of the heap (docs/format.md, "Heap"), format version 2.
//
//   heap   := chunk*                 chunk g at heap_offset + g * chunk_size
//   chunk  := 4 KiB (chunk_size in pool_format.h)
//
// One chunk table describes every chunk of the heap: entry g is the
// little-endian u64 at table_offset + 8 * g. The table is itself a block of
// chunks inside the heap (kind `table`), placed by the superblock
// (heap_table_chunk, heap_table_chunks) and sized in proportion to the heap;
// a grow past its capacity moves it (docs/format.md). Zero means free, so
// the zero bytes of a new or grown heap are free chunks.
//
//   bits 0-2   kind: 0 free, 1 run head, 2 extent head, 3 mark, 4 table head
//   bits 8-15  run head: size class index
//   bits 16-47 head: length in chunks; mark: distance back to its head
//
// A block of n chunks has a head entry at its first chunk and a mark at
// every chunk whose distance from the head is a nonzero multiple of
// mark_interval; its other entries are zero. So the head of any chunk of a
// block is at most mark_interval - 1 entries back from the chunk or from a
// mark, and allocating or freeing a block logs 1 + n / mark_interval words.
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
inline constexpr std::uint64_t max_slot_size = 64 * 1024;
// The largest alignment an allocation may ask for.
inline constexpr std::uint64_t max_alignment = 256 * 1024;
// Chunks between two marks of a block (one chunk of table entries).
inline constexpr std::uint64_t mark_interval = chunk_size / 8;
// The longest block: the length field's 32 bits.
inline constexpr std::uint64_t max_block_chunks = 0xffffffffull;

enum class chunk_kind : std::uint64_t { free = 0, run = 1, extent = 2, mark = 3, table = 4 };

inline constexpr chunk_kind entry_kind_of(std::uint64_t e) {
  return static_cast<chunk_kind>(e & 7);
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
// The entry of chunk k of a block (k = 0 is the head, given), or 0.
inline constexpr std::uint64_t block_entry(std::uint64_t head, std::uint64_t k) {
  if (k == 0) return head;
  return k % mark_interval == 0 ? make_entry(chunk_kind::mark, 0, k) : 0;
}
// Words a block of n chunks writes in the table: its head and its marks.
inline constexpr std::uint64_t block_entry_words(std::uint64_t n) {
  return 1 + (n - 1) / mark_interval;
}

// Where the heap and its chunk table are (header and current superblock).
struct heap_layout {
  std::uint64_t heap_offset = 0;   // pool offset of chunk 0
  std::uint64_t heap_size = 0;     // bytes, a multiple of chunk_size
  std::uint64_t table_chunk = 0;   // first chunk of the table block
  std::uint64_t table_chunks = 0;  // its length; entries = table_chunks * chunk_size / 8

  std::uint64_t chunks() const { return heap_size / chunk_size; }
  std::uint64_t capacity() const { return table_chunks * (chunk_size / 8); }
  std::uint64_t chunk_offset(std::uint64_t g) const { return heap_offset + g * chunk_size; }
  std::uint64_t entry_offset(std::uint64_t g) const { return chunk_offset(table_chunk) + 8 * g; }
};

// Table chunks for a heap of `chunks` chunks: enough entries for all of
// them, the table's own included.
inline constexpr std::uint64_t table_chunks_for(std::uint64_t chunks) {
  return (chunks + mark_interval - 1) / mark_interval;
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
