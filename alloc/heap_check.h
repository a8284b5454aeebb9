// Walking the heap of a pool image: the structural check behind
// `ferrite check`, heap statistics, and (later) the garbage collector's
// object enumeration. Reads only; every offset is bounds-checked before use
// (invariant 7), so any image, however damaged, can be walked.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ferrite/base/format/heap_format.h"

namespace ferrite::detail {

struct heap_problem {
  std::uint64_t offset;  // pool offset the problem is about
  std::string what;
};

struct class_usage {
  std::uint32_t slot_size = 0;
  std::uint64_t runs = 0;
  std::uint64_t objects = 0;  // allocated slots
  std::uint64_t bytes = 0;    // requested bytes of those objects
  std::uint64_t free_slots = 0;
};

struct heap_report {
  std::vector<heap_problem> problems;
  std::vector<class_usage> classes;  // indexed by size class
  std::uint64_t objects = 0;         // all allocated objects
  std::uint64_t object_bytes = 0;    // their requested sizes
  std::uint64_t extents = 0;
  std::uint64_t extent_bytes = 0;  // requested bytes of extent objects
  std::uint64_t heap_bytes = 0;
  std::uint64_t free_bytes = 0;    // free chunks plus free slots (empty runs included)
  std::uint64_t empty_runs = 0;    // runs with no object: their chunks are reusable
  std::uint64_t largest_free = 0;  // the largest object that can be allocated now
  double fragmentation = 0;        // 1 - largest free block / free bytes
};

struct pool_state;

// Where a pool's heap and chunk table are, from its header and state.
heap_layout heap_layout_of(const pool_header& header, const pool_state& state);

// Walks the heap at `base` (pool offset 0) laid out as `layout`. `visit`
// is called for every allocated object with its data offset and header.
heap_report walk_heap(
    const std::byte* base, std::uint64_t image_size, const heap_layout& layout,
    const std::function<void(std::uint64_t data, const object_header&)>& visit = {});

}  // namespace ferrite::detail
