// On-media format of a ferrite pool, version 2. Constants and structs only;
// docs/format.md is the reference (tables, invariants, a worked example).
//
// All fields are fixed-width little-endian; ferrite builds only on
// little-endian hosts (checked below). Every struct has a magic, and a
// checksum that covers every other byte of it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

static_assert(std::endian::native == std::endian::little,
              "ferrite's on-media format is little-endian");

inline constexpr std::uint32_t format_version = 2;
inline constexpr std::uint64_t block_size = 4096;  // alignment of every region

// Fixed layout of the first blocks of every pool.
inline constexpr std::uint64_t header_offset = 0;
inline constexpr std::uint64_t superblock_offsets[2] = {4096, 8192};
inline constexpr std::uint64_t type_table_offset = 12288;
inline constexpr std::uint64_t type_table_size = 64 * 1024;
inline constexpr std::uint64_t log_offset = type_table_offset + type_table_size;

// Sizes. The heap is carved into chunks by the allocator.
inline constexpr std::uint64_t chunk_size = 4096;
inline constexpr std::uint64_t min_log_size = 256 * 1024;
inline constexpr std::uint64_t max_default_log_size = 64ull * 1024 * 1024;
inline constexpr std::uint64_t min_heap_size = 64 * 1024;
inline constexpr std::uint64_t min_pool_size = 2ull * 1024 * 1024;
inline constexpr std::uint64_t default_pool_size = 64ull * 1024 * 1024;
inline constexpr std::uint64_t max_pool_size = 1ull << 46;  // 64 TiB: 48-bit offsets

inline constexpr char header_magic[8] = {'F', 'E', 'R', 'R', 'I', 'T', 'E', '\0'};
inline constexpr char superblock_magic[8] = {'F', 'E', 'R', 'R', 'S', 'U', 'P', 'R'};

// Feature flags. A pool with an unknown incompat bit must not be opened; an
// unknown ro_compat bit allows read-only opens; unknown compat bits are
// ignored. Version 2 defines none.
inline constexpr std::uint64_t known_incompat_features = 0;
inline constexpr std::uint64_t known_ro_compat_features = 0;

// The pool header: written once at create, never changed afterwards.
// Invariants: magic and format_version identify the file; every region is
// block-aligned, the regions do not overlap and appear in the order
// header, superblocks, type table, log, heap.
struct pool_header {
  char magic[8];                       //   0 "FERRITE\0"
  std::uint32_t format_version;        //   8 2
  std::uint32_t header_size;           //  12 sizeof(pool_header) = 256
  std::uint64_t compat_features;       //  16
  std::uint64_t incompat_features;     //  24
  std::uint64_t ro_compat_features;    //  32
  std::uint8_t uuid[16];               //  40 random, identifies the pool
  std::uint16_t pool_tag;              //  56 non-zero; persistent pointers carry it
  std::uint16_t reserved0;             //  58
  std::uint32_t reserved1;             //  60
  std::uint64_t creation_time_ns;      //  64 since the Unix epoch
  std::uint64_t superblock_offset[2];  //  72 4096, 8192
  std::uint64_t superblock_size;       //  88 block_size
  std::uint64_t type_table_offset;     //  96
  std::uint64_t type_table_size;       // 104
  std::uint64_t log_offset;            // 112
  std::uint64_t log_size;              // 120
  std::uint64_t heap_offset;           // 128
  std::uint64_t chunk_size;            // 136 4096
  std::uint8_t reserved2[104];         // 144 zero
  std::uint64_t checksum;              // 248 XXH3-64 of bytes [0, 248), seed 0
};
static_assert(sizeof(pool_header) == 256);
static_assert(offsetof(pool_header, uuid) == 40);
static_assert(offsetof(pool_header, pool_tag) == 56);
static_assert(offsetof(pool_header, creation_time_ns) == 64);
static_assert(offsetof(pool_header, log_offset) == 112);
static_assert(offsetof(pool_header, heap_offset) == 128);
static_assert(offsetof(pool_header, checksum) == 248);

// One of the two superblock slots: the pool's mutable state. The valid slot
// with the higher sequence is current; a writer always writes the other
// slot, so a torn write leaves the previous state intact.
// Invariants: checkpoint_lsn's records and all before them are applied to
// the durable heap; log_head < log_size; heap_offset + heap_size <= file size.
struct superblock {
  std::uint64_t checksum;           //   0 XXH3-64 of bytes [8, 128), seed = uuid seed
  char magic[8];                    //   8 "FERRSUPR"
  std::uint64_t sequence;           //  16 incremented on every superblock write
  std::uint64_t checkpoint_lsn;     //  24 last log record applied to the heap
  std::uint64_t log_head;           //  32 log offset of record checkpoint_lsn + 1
  std::uint64_t log_epoch;          //  40 records of other epochs are stale
  std::uint64_t heap_size;          //  48 bytes of heap (grows)
  std::uint64_t root_offset;        //  56 pool offset of the root object, 0 = none
  std::uint64_t root_type;          //  64 type id of the root object, 0 = none
  std::uint32_t clean_shutdown;     //  72 1 after a clean close, 0 while open
  std::uint32_t flags;              //  76 0
  std::uint64_t open_count;         //  80 number of writable opens
  std::uint64_t heap_table_chunk;   //  88 first chunk of the heap's chunk table
  std::uint64_t heap_table_chunks;  //  96 its length in chunks
  std::uint64_t heap_free_hint;     // 104 a chunk where free chunks were at the last clean close
  std::uint8_t reserved[16];        // 112 zero
};
static_assert(sizeof(superblock) == 128);
static_assert(offsetof(superblock, magic) == 8);
static_assert(offsetof(superblock, checkpoint_lsn) == 24);
static_assert(offsetof(superblock, heap_size) == 48);
static_assert(offsetof(superblock, root_offset) == 56);
static_assert(offsetof(superblock, clean_shutdown) == 72);
static_assert(offsetof(superblock, open_count) == 80);
static_assert(offsetof(superblock, heap_table_chunk) == 88);

}  // namespace ferrite::detail
