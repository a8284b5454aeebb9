// The two-slot superblock: the pool's mutable state (checkpoint LSN, log
// head, epoch, heap size, root, clean-shutdown flag).
//
// Invariant: a store() writes the slot that is not current and makes it
// durable before returning; the current slot is never overwritten, so a torn
// write leaves the previous state valid. The slot with the higher sequence
// among valid slots is current.
#pragma once

#include <cstdint>
#include <string>

#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/media.h"

namespace ferrite::detail {

// Volatile copy of the current superblock.
struct pool_state {
  std::uint64_t sequence = 0;
  std::uint64_t checkpoint_lsn = 0;
  std::uint64_t log_head = 0;
  std::uint64_t log_epoch = 0;
  std::uint64_t heap_size = 0;
  std::uint64_t root_offset = 0;
  std::uint64_t root_type = 0;
  bool clean_shutdown = false;
  std::uint64_t open_count = 0;
  std::uint64_t heap_table_chunk = 0;  // the heap's chunk table (heap_format.h)
  std::uint64_t heap_table_chunks = 0;
  std::uint64_t heap_free_hint = 0;  // only a hint: where the allocator looks first
};

// What one slot holds, for `ferrite info` and `ferrite check`.
struct superblock_slot_report {
  bool valid = false;
  std::string problem;  // empty when valid
  pool_state state;
};

// Seed of every checksum but the header's: derived from the pool's UUID, so
// that a structure copied from another pool never validates here.
std::uint64_t pool_seed(const pool_header& header) noexcept;

class superblock_store {
 public:
  superblock_store(media& m, const pool_header& header);

  // Validates both slots and returns the current state.
  // Throws error(corrupted) when neither slot is valid, error(truncated)
  // when the current one describes a heap beyond the end of the file.
  pool_state load() const;

  // Reports on slot 0 or 1 without throwing.
  superblock_slot_report inspect(int slot) const;

  // Writes `state` with sequence + 1 into the slot that is not current and
  // makes it durable; updates state.sequence. May throw io_error.
  void store(pool_state& state);

  // Makes the current slot (the one `state` was loaded from) durable. A
  // writer killed right after storing it may have left it in the page or
  // CPU cache only; the next store overwrites the other slot, so a power
  // failure during that store could leave no valid slot. Recovery calls
  // this before its first store.
  void make_current_durable(const pool_state& state);

  // Encodes a superblock for `state` (used also when formatting a pool).
  static superblock encode(const pool_state& state, std::uint64_t seed) noexcept;

 private:
  media& media_;
  const pool_header& header_;
  std::uint64_t seed_;
};

}  // namespace ferrite::detail
