// Building log records in memory and reading them back (internal).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ferrite/base/detail/byte_buffer.h"
#include "ferrite/base/format/log_format.h"

namespace ferrite::detail {

// Accumulates the entries of one record. Reused across transactions: clear()
// keeps the buffer (nothing is zero-filled on the commit path but padding).
class record_builder {
 public:
  record_builder() { clear(); }
  void clear() {
    buf_.resize_uninitialized(sizeof(record_header));
    entries_ = 0;
  }
  bool empty() const noexcept { return entries_ == 0; }
  // Padded length of the record as it stands.
  std::uint64_t length() const noexcept { return align_up(buf_.size(), record_align); }

  // At most how many pages the record's entries touch (the memory budget's
  // estimate of private pages not checkpointed yet).
  std::uint64_t pages_estimate() const noexcept { return entries_ + buf_.size() / 4096; }

  void add_range(std::uint64_t offset, const void* data, std::uint64_t len);
  void add_bits(entry_kind kind, std::uint64_t offset, std::uint64_t mask);
  void add_root(std::uint64_t offset, std::uint64_t type);

  // Pads, fills the header and the checksum; returns the bytes to write.
  // `durable_lsn`: every record up to it is durable now (record_header).
  const std::byte* finish(std::uint64_t lsn, std::uint64_t epoch, std::uint64_t durable_lsn,
                          std::uint64_t seed);

 private:
  void add_entry(entry_kind kind, std::uint64_t offset, const void* data, std::uint32_t len);
  byte_buffer buf_;
  std::uint64_t entries_ = 0;
};

void encode_wrap_marker(std::byte* out, std::uint64_t lsn, std::uint64_t epoch,
                        std::uint64_t durable_lsn, std::uint64_t seed);

// Checks the record at `rec` (at most `room` bytes available): magic,
// length, LSN, epoch and checksum. Returns its length, or 0 when it is not
// the valid record expected there (the end of the log).
std::uint64_t validate_record(const std::byte* rec, std::uint64_t room, std::uint64_t lsn,
                              std::uint64_t epoch, std::uint64_t seed) noexcept;

// Looks for proof that the invalid position at which recovery stopped
// (expecting record `lsn` of `epoch`) is damage and not a torn tail: a
// valid record of the same epoch with a later LSN whose durable_lsn says
// record `lsn` was durable before it was written. Every 64-byte position of
// the region is tried. Returns the position of the one with the highest
// LSN (so records `lsn` up to its LSN were committed), or -1 (none: the log
// simply ends there).
std::int64_t find_later_record(const std::byte* log, std::uint64_t log_size, std::uint64_t lsn,
                               std::uint64_t epoch, std::uint64_t seed) noexcept;

// Where entries may point: the type table and the heap.
struct pool_bounds {
  std::uint64_t type_table_begin, type_table_end, heap_begin, heap_end;
  bool contains(std::uint64_t offset, std::uint64_t len) const noexcept;
};

// What applying an entry does to an image; a target is the durable view
// (through the media) or the working view (memory).
struct apply_target {
  std::function<void(std::uint64_t offset, const void* src, std::uint64_t len)> write;
  std::function<std::uint64_t(std::uint64_t offset)> read_word;
  std::function<void(std::uint64_t offset, std::uint64_t type)> set_root;
};

// Checks every entry of a valid record against `bounds` without applying
// it; returns an empty string or what is wrong.
std::string check_entries(const std::byte* rec, std::uint64_t len, const pool_bounds& bounds);

// Applies a record already checked by check_entries. Returns data bytes applied.
std::uint64_t apply_record(const std::byte* rec, const apply_target& target);

}  // namespace ferrite::detail
