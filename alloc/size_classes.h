// Size classes of the slab allocator.
//
// Slot sizes (object header included) go up by 16 bytes to 128, then by an
// eighth of the power of two below: 144, 160, ... 256, 288, ... 512, ...
// up to 256 KiB. Rounding a request up to its class wastes at most 12.5% of
// the slot (16 bytes below 128). Runs are sized to hold at least 8 slots
// (1 to 9 chunks), so the unused tail of a run is at most 1/8 of it.
// Larger objects are extents of whole 256 KiB chunks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ferrite/base/format/heap_format.h"

namespace ferrite::detail {

struct size_class {
  std::uint32_t slot_size;
  std::uint32_t run_chunks;   // chunks per run
  std::uint32_t slot_count;   // slots per run
  std::uint32_t data_offset;  // first slot, from the run start
};

std::uint64_t align_up64(std::uint64_t v);
std::size_t size_class_count() noexcept;
const size_class& class_at(std::size_t index) noexcept;
// Index of the smallest class whose slots hold `slot_bytes`.
// REQUIRES: slot_bytes <= max_slot_size.
std::size_t class_for(std::uint64_t slot_bytes) noexcept;

}  // namespace ferrite::detail
