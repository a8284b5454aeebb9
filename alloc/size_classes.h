// Size classes of the slab allocator.
//
// Slot sizes (object header included) go up by 16 bytes to 256, then by a
// sixteenth of the power of two below: 272, 288, ... 512, 544, ... up to
// 64 KiB, always a multiple of 16. Rounding a request up to its class
// wastes at most 1/16 of the slot above 256 bytes (16 bytes below). A run has the fewest 4 KiB
// chunks whose unused tail is at most 1/16 of the run (1 to 17 chunks). Larger objects are extents
// of whole chunks.
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
