// The decoder class behind decode_pool (internal to `ferrite dump`; see
// dump.h). dump.cc holds the graph walk (pointers, structs, scalars),
// dump_containers.cc the container layouts of base/format/container_format.h
// through the shared decoder (base/detail/container_layout.h).
//
// Invariants of the decoder:
//  1. value() is only called with `at` pointing to type.size bytes that lie
//     inside one allocated object already located by locate() (or inside
//     such an object's inline parts): every read is in bounds.
//  2. Every pointer from the pool goes through locate(), which accepts only
//     the start of an allocated object of this pool whose bytes lie inside
//     the heap (pool::object_size/object_type check the allocator's
//     metadata and throw on anything else).
//  3. Every loop over pool data is bounded by a stored size that was first
//     checked against the storage holding it, or by a visited set plus such
//     a size, so corrupted counts and cyclic chains terminate (for
//     containers, the shared decoder guarantees it: container_layout.h).
//  4. Nesting is bounded by options.max_depth (a corrupted type table can
//     make a struct contain itself).
//
//  5. Value cells (dump_values.cc) are bounded by a budget of cells per
//     dump, as immutable payloads may be shared (a DAG of tuples), and a
//     tuple buffer met again inside itself is a cycle (a problem).
//
// Thread-safety: a decoder is used once (run()), by one thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>

#include "ferrite/base/detail/container_layout.h"
#include "ferrite/engine/detail/type_table.h"
#include "tools/ferrite/dump.h"

namespace ferrite::cli::dump_detail {

using detail::stored_field;
using detail::stored_type;
using kind = dump_value::kind;
using link = dump_value::link;

inline constexpr std::uint64_t offset_mask = (1ull << 48) - 1;
inline constexpr std::uint64_t cell_budget = 1'000'000;  // value cells per dump

inline std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

template <class T>
T load(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

// An allocated heap object: [offset, offset + size) lies inside the heap.
struct object_span {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t type = 0;
};

class decoder {
 public:
  decoder(const pool& p, const dump_options& o);

  // Decodes from the root; with options.all also lists what it did not reach.
  dump_result run();

 private:
  // The container decoder's view of the pool: lookups through locate(),
  // and every storage object located counts as reached (--all).
  class layout_view : public detail::layout_image {
   public:
    explicit layout_view(decoder& d);

   protected:
    bool find(std::uint64_t offset, std::uint64_t need, detail::layout_part part,
              detail::layout_object& out, std::string& why) override;

   private:
    decoder& d_;
  };

  bool locate(std::uint64_t raw, object_span& span, std::string& why) const;
  dump_value value(std::uint32_t type_id, const std::byte* at, std::uint32_t depth);
  dump_value scalar(scalar_kind k, const std::byte* at);
  dump_value pointer(std::uint64_t raw, std::uint32_t declared, std::uint32_t depth);
  dump_value structure(const stored_type& t, const std::byte* at, std::uint32_t depth);
  dump_value field(const stored_field& f, const std::byte* at, std::uint32_t depth);
  dump_value string_value(const std::byte* at);
  dump_value vector_value(const stored_type& t, const std::byte* at, std::uint32_t depth);
  dump_value hash_map_value(const stored_type& t, const std::byte* at, std::uint32_t depth);
  // Value cells (dump_values.cc).
  dump_value cell_value(const std::byte* at, std::uint32_t depth);
  bool cell_buffer(const detail::value_cell_rep& c, std::uint64_t min_size, const char* what,
                   object_span& span, dump_value& out);
  dump_value cell_items(const detail::value_cell_rep& c, dump_value v, std::uint32_t depth);
  dump_value cell_payload(const detail::value_cell_rep& c, dump_value v, std::uint32_t depth);
  dump_value btree_value(const stored_type& t, const std::byte* at, std::uint32_t depth);
  dump_value damaged(const detail::layout_damage& d);
  const stored_type* element_type(std::uint32_t id, std::string& why) const;
  // Locates container storage; on failure returns false with `out` a problem.
  bool storage(std::uint64_t raw, const std::string& what, object_span& span, dump_value& out);
  dump_value problem(std::string what, std::uint64_t offset);
  const std::byte* at(std::uint64_t offset) const { return base_ + offset; }
  std::uint64_t offset_of(const std::byte* p) const {
    return static_cast<std::uint64_t>(p - base_);
  }

  const pool& pool_;
  const detail::type_table& types_;
  dump_options options_;
  const std::byte* base_;
  std::uint64_t heap_begin_, heap_end_;
  std::uint16_t tag_;
  std::unordered_set<std::uint64_t> decoded_;     // objects decoded through pointers
  std::unordered_set<std::uint64_t> reached_;     // those and container storage
  std::unordered_set<std::uint64_t> open_cells_;  // tuple buffers being decoded (cycles)
  std::uint64_t cells_ = 0;                       // value cells decoded (cell_budget)
  std::uint64_t objects_ = 0;
  std::uint64_t problems_ = 0;
  layout_view image_;
};

}  // namespace ferrite::cli::dump_detail
