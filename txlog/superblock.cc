#include "ferrite/txlog/superblock.h"

#include <cstring>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/error.h"

namespace ferrite::detail {

std::uint64_t pool_seed(const pool_header& header) noexcept {
  return checksum64(header.uuid, sizeof header.uuid, 0x66657272697465ull);
}

superblock_store::superblock_store(media& m, const pool_header& header)
    : media_(m), header_(header), seed_(pool_seed(header)) {}

superblock superblock_store::encode(const pool_state& s, std::uint64_t seed) noexcept {
  superblock sb;
  std::memset(&sb, 0, sizeof sb);
  std::memcpy(sb.magic, superblock_magic, sizeof sb.magic);
  sb.sequence = s.sequence;
  sb.checkpoint_lsn = s.checkpoint_lsn;
  sb.log_head = s.log_head;
  sb.log_epoch = s.log_epoch;
  sb.heap_size = s.heap_size;
  sb.root_offset = s.root_offset;
  sb.root_type = s.root_type;
  sb.clean_shutdown = s.clean_shutdown ? 1 : 0;
  sb.open_count = s.open_count;
  sb.heap_table_chunk = s.heap_table_chunk;
  sb.heap_table_chunks = s.heap_table_chunks;
  sb.heap_free_hint = s.heap_free_hint;
  sb.checksum = checksum64(reinterpret_cast<const std::byte*>(&sb) + 8, sizeof sb - 8, seed);
  return sb;
}

superblock_slot_report superblock_store::inspect(int slot) const {
  superblock_slot_report r;
  superblock sb;
  std::memcpy(&sb, media_.durable() + header_.superblock_offset[slot], sizeof sb);
  if (std::memcmp(sb.magic, superblock_magic, sizeof sb.magic) != 0) {
    r.problem = "bad magic";
    return r;
  }
  std::uint64_t sum = checksum64(reinterpret_cast<const std::byte*>(&sb) + 8, sizeof sb - 8, seed_);
  if (sum != sb.checksum) {
    r.problem = "checksum mismatch";
    return r;
  }
  pool_state& s = r.state;
  s.sequence = sb.sequence;
  s.checkpoint_lsn = sb.checkpoint_lsn;
  s.log_head = sb.log_head;
  s.log_epoch = sb.log_epoch;
  s.heap_size = sb.heap_size;
  s.root_offset = sb.root_offset;
  s.root_type = sb.root_type;
  s.clean_shutdown = sb.clean_shutdown == 1;
  s.open_count = sb.open_count;
  s.heap_table_chunk = sb.heap_table_chunk;
  s.heap_table_chunks = sb.heap_table_chunks;
  s.heap_free_hint = sb.heap_free_hint;
  if (s.sequence % 2 != static_cast<std::uint64_t>(slot)) {
    // store() relies on this: the slot it writes is never the current one.
    r.problem = "sequence " + std::to_string(s.sequence) + " does not belong in slot " +
                std::to_string(slot);
  } else if (sb.clean_shutdown > 1) {
    r.problem = "clean_shutdown flag is neither 0 nor 1";
  } else if (s.log_head >= header_.log_size || s.log_head % 64 != 0) {
    r.problem = "log head " + std::to_string(s.log_head) + " outside the log";
  } else if (s.heap_size < min_heap_size || s.heap_size % header_.chunk_size != 0 ||
             s.heap_size > max_pool_size) {
    r.problem = "heap size " + std::to_string(s.heap_size) + " is invalid";
  } else if (const std::uint64_t chunks = s.heap_size / chunk_size;
             s.heap_table_chunks == 0 || s.heap_table_chunks > chunks ||
             s.heap_table_chunks * (chunk_size / 8) < chunks ||
             s.heap_table_chunk > chunks - s.heap_table_chunks) {
    r.problem = "heap chunk table (chunk " + std::to_string(s.heap_table_chunk) + ", " +
                std::to_string(s.heap_table_chunks) + " chunks) does not fit its heap";
  } else if (s.root_offset != 0 && (s.root_offset < header_.heap_offset ||
                                    s.root_offset >= header_.heap_offset + s.heap_size)) {
    r.problem = "root offset " + std::to_string(s.root_offset) + " outside the heap";
  }
  r.valid = r.problem.empty();
  return r;
}

pool_state superblock_store::load() const {
  superblock_slot_report a = inspect(0);
  superblock_slot_report b = inspect(1);
  if (!a.valid && !b.valid) {
    fail(error_code::corrupted, "both superblock slots are invalid (slot 0: " + a.problem +
                                    "; slot 1: " + b.problem + "); the pool cannot be opened");
  }
  const pool_state& cur =
      (a.valid && (!b.valid || a.state.sequence > b.state.sequence)) ? a.state : b.state;
  if (header_.heap_offset + cur.heap_size > media_.size()) {
    fail(error_code::truncated, "the pool file is " + std::to_string(media_.size()) +
                                    " bytes but its heap ends at " +
                                    std::to_string(header_.heap_offset + cur.heap_size) +
                                    "; the file was truncated (restore it from a copy)");
  }
  return cur;
}

void superblock_store::make_current_durable(const pool_state& state) {
  const std::uint64_t off = header_.superblock_offset[state.sequence % 2];
  media_.flush(off, sizeof(superblock));
  media_.barrier(off, sizeof(superblock));
}

void superblock_store::store(pool_state& state) {
  state.sequence += 1;
  superblock sb = encode(state, seed_);
  std::uint64_t off = header_.superblock_offset[state.sequence % 2];
  media_.write(off, &sb, sizeof sb);
  media_.barrier(off, sizeof sb);
}

}  // namespace ferrite::detail
