// On-media format of the change log (docs/format.md, "Change log records").
//
// The log region is a circular sequence of records, each 64-byte aligned:
//
//   record := record_header entry*          (padded with zeros to 64 bytes)
//   entry  := entry_header data             (data padded with zeros to 8 bytes)
//
// A record is its own commit marker: it is valid iff its magic matches, its
// length fits the region, its epoch is the superblock's, its LSN is the next
// one expected and its checksum matches. There is no separate valid flag and
// the log is never zeroed: stale records fail the LSN/epoch test.
// A record with flag `wrap` carries no entries; the next record starts at
// offset 0 of the region.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

inline constexpr std::uint32_t record_magic = 0x474f4c46;  // "FLOG"
inline constexpr std::uint64_t record_align = 64;
inline constexpr std::uint32_t record_flag_wrap = 1;

struct record_header {
  std::uint64_t checksum;     //  0 XXH3-64 of bytes [8, length), seed = pool seed
  std::uint32_t magic;        //  8 record_magic
  std::uint32_t flags;        // 12 record_flag_wrap or 0
  std::uint64_t length;       // 16 total bytes, header included; multiple of 64
  std::uint64_t lsn;          // 24 log sequence number, consecutive
  std::uint64_t epoch;        // 32 superblock log_epoch when written
  std::uint64_t entry_count;  // 40 entries that follow
  // 48 every record with an LSN <= durable_lsn was durable before this one
  // was written (0: none claimed). Recovery's evidence that a bad record
  // followed by this one is damage, not a torn tail.
  std::uint64_t durable_lsn;
  std::uint64_t reserved;  // 56 zero
};
static_assert(sizeof(record_header) == 64);
static_assert(offsetof(record_header, length) == 16);
static_assert(offsetof(record_header, lsn) == 24);
static_assert(offsetof(record_header, epoch) == 32);
static_assert(offsetof(record_header, durable_lsn) == 48);

// What an entry does to the pool image when a record is applied. Every kind
// is idempotent: applying a record twice gives the same bytes.
enum class entry_kind : std::uint16_t {
  range = 1,       // `length` bytes of after-image at pool offset `offset`
  set_bits = 2,    // 8-byte word at `offset` |= mask (data: the mask)
  clear_bits = 3,  // 8-byte word at `offset` &= ~mask (data: the mask)
  set_root = 4,    // the root becomes `offset` (data: its 8-byte type id)
};

struct entry_header {
  std::uint16_t kind;      // 0 entry_kind
  std::uint16_t reserved;  // 2 zero
  std::uint32_t length;    // 4 data bytes that follow (before padding)
  std::uint64_t offset;    // 8 pool offset the entry applies to
};
static_assert(sizeof(entry_header) == 16);

// Largest data of one range entry; larger ranges are split.
inline constexpr std::uint32_t max_entry_data = 1u << 30;

inline constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

}  // namespace ferrite::detail
