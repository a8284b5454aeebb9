// The mark phase of the garbage collector (internal; docs/gc.md).
//
//   gc_marker m(pool);
//   m.mark_root();                  // the whole reachable graph, or throws
//   bool kept = m.marked(data);     // per object, by data offset
//
// Reachability: from the root, through every pointer field (the type table
// says where they are: nested structs and arrays included), the storage of
// every container (string, vector, hash_map, map, set: layouts in
// container_format.h, decoded by base/detail/container_layout.h) and its
// elements, and value cells (value_format.h).
// An object reached through a pointer is walked by the type id in its own
// header; a typed pointer into container storage (or to a container handle)
// also walks the target as its declared type. Untyped objects (type id 0)
// are scanned conservatively: every aligned u64 that is pptr bits of this
// pool or a plain pool offset landing in an allocated object marks it.
//
// Each reachable value cell is walked exactly once (its holder is walked
// once), so counting the cells that name each payload gives the reference
// counts the pool should hold (value_references()).
//
// Invariants:
//  1. Nothing is read from the pool before it is located: every pointer
//     goes through locate() (an allocated object of this pool whose bytes
//     lie inside its slot), and every read stays inside that object.
//  2. The walk uses an explicit work stack: its C stack depth is bounded by
//     the static nesting of types (at most max_type_depth), never by the
//     length of a chain of objects.
//  3. Every object is walked once (the mark bitmap); container nodes reached
//     twice, chains that loop and counts that disagree with their storage are
//     corruption. Any corruption throws error(corrupted) naming the offset.
//  4. A typed object is walked only when it holds at least one value of its
//     type: a smaller one with pointers in its type is corruption (walking
//     none of it would let the sweep free what it names).
//
// Check mode (collect_damage(); `ferrite check`, engine/check.h): the same
// walk, but each piece of corruption is appended to a list and the walk goes
// on with its next pending work item (an object, an array of values, a run
// of cells), so one damaged container does not hide the rest of the graph.
// Check mode also verifies what the collection does not need to be safe but
// the formats promise and `ferrite dump` reports (strict checks):
//  - a typed pointer is aligned for its target type, and one naming an
//    object of its own type points at one of the values it holds;
//  - every typed object (containers' storage aside) holds a whole value;
//  - value cells (value_format.h): a bool is 0 or 1; an out-of-line
//    str/bytes/encoded buffer is a `ferrite.string`, a str ends in NUL, an
//    encoded value starts with a codec name that fits; a tuple/frozenset
//    buffer is a `ferrite.vector<ferrite.value>` and an empty one has none;
//    a list/dict/set/object cell has a payload of the struct its kind names
//    (an object's: a struct { refs, attributes }).
// The collector itself never runs in check mode.
//
// Thread-safety: one marker is used by one thread, while no transaction
// runs on the pool (the caller holds the pool's transaction gate).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ferrite/base/detail/container_layout.h"
#include "ferrite/base/format/heap_format.h"
#include "ferrite/base/format/value_format.h"
#include "ferrite/engine/object_ops.h"

namespace ferrite::detail {

struct pool_impl;
struct stored_type;

// Corruption found by a marker in check mode: the pool offset of the field
// holding the bad value (0: the type table), and what is wrong.
struct mark_damage {
  std::uint64_t at = 0;
  std::string what;
};

// What a marking walk reports beyond the marks, for a caller that moves
// the reachable graph (`ferrite copy`, engine/detail/pool_copy.cc).
// Together the calls describe every byte a copy must rewrite: each
// reached object once, and each field that holds a pointer the walk
// followed; an untyped object's pointers cannot be told from its other
// bytes, so it is reported as such before its conservative scan.
class mark_observer {
 public:
  virtual ~mark_observer() = default;
  // An allocation marked for the first time (data offset, requested size,
  // header type id), in the order the walk reaches them.
  virtual void reached(std::uint64_t data, std::uint64_t size, std::uint32_t type) = 0;
  // The field at pool offset `at`, inside a reached object, holds non-null
  // pptr bits of this pool naming (the inside of) a reached object. A field
  // may be reported more than once.
  virtual void pointer(std::uint64_t at) = 0;
  // The reached object at `data` has type id 0: which of its words are
  // pointers is unknown. May throw to stop the walk.
  virtual void untyped(std::uint64_t data, std::uint64_t size) = 0;
};

class gc_marker {
 public:
  // `observer` (may be null) hears of every object and pointer reached.
  explicit gc_marker(const pool_impl& p, mark_observer* observer = nullptr);

  // Check mode (see the banner): from now on corruption is appended to
  // `out` (at most `limit` entries; the walk goes on regardless) instead of
  // thrown, and the strict checks run. REQUIRES: before mark_root().
  void collect_damage(std::vector<mark_damage>& out, std::size_t limit);
  // Check mode: the corruption found, `limit` or not.
  std::uint64_t damage_found() const noexcept { return damage_found_; }

  // Marks everything reachable from the pool's root (nothing without one).
  void mark_root();
  // Marks everything reachable from these value cells too (the pinned
  // payloads, object_ops.h), without counting them as references.
  void mark_pinned(const std::vector<pinned_cell>& cells);
  bool marked(std::uint64_t data) const noexcept;
  // Calls fn(data) for every marked object, in address order. Linear in
  // the heap size (the mark bitmap).
  template <class Fn>
  void for_each_marked(Fn&& fn) const {
    for (std::size_t w = 0; w < bits_.size(); ++w) {
      for (std::uint64_t b = bits_[w]; b != 0; b &= b - 1) {
        fn(heap_begin_ + (w * 64 + static_cast<std::uint64_t>(std::countr_zero(b))) * 16);
      }
    }
  }
  // The reachable value payloads (data offsets) and, for each, the number of
  // reachable cells holding its pointer: what its reference count must be
  // (value_format.h). Complete after mark_root().
  const std::unordered_map<std::uint64_t, std::uint64_t>& value_references() const noexcept {
    return value_refs_;
  }

 private:
  // What a value of some type holds that the walk must follow, at an
  // offset inside the value (nested structs and arrays flattened).
  struct plan_entry {
    enum class what : std::uint8_t { pointer, container, cell } what;
    std::uint32_t offset;
    std::uint32_t type;  // pointer: target type (0 untyped); container: its type
  };
  // Pending work: an object to walk by its header, `count` values of `type`
  // at `at`, or `count` value cells at `at`.
  struct work {
    enum class op : std::uint8_t { object, values, cells } op;
    std::uint64_t at;
    std::uint64_t count;
    std::uint32_t type;
  };
  // A located allocation: data offset, requested size, header type id.
  struct object {
    std::uint64_t data = 0, size = 0;
    std::uint32_t type = 0;
    bool fresh = false;  // newly marked by this lookup
  };

  // The container decoder's view of the pool (container_layout.h): its
  // lookups go through find(), so container storage is marked as located.
  class layout_view : public layout_image {
   public:
    explicit layout_view(gc_marker& m);

   protected:
    bool find(std::uint64_t offset, std::uint64_t need, layout_part part, layout_object& out,
              std::string& why) override;
    void accepted(std::uint64_t from, const layout_object& o) override;

   private:
    gc_marker& m_;
  };

  // Throws error(corrupted), or in check mode mark_damage (caught and
  // recorded by the work loop: record()).
  [[noreturn]] void corrupted(std::uint64_t at, const std::string& what) const;
  void record(const mark_damage& d);
  // The strict checks of check mode (the banner).
  void check_pointer(std::uint64_t off, const stored_type& target, const object& o,
                     std::uint64_t from);
  void check_cell(const value_cell_rep& c, std::uint64_t at, const object& o);
  bool is_type(std::uint32_t id, const char* name) const;
  bool is_object_class(std::uint32_t id) const;
  const stored_type& type_of(std::uint32_t id, std::uint64_t at) const;
  const std::vector<plan_entry>& plan(std::uint32_t id, int depth = 0);
  bool set_mark(std::uint64_t data);
  // The allocated object containing pool offset `off` (marked now), or
  // false when there is none.
  bool find(std::uint64_t off, object& o);
  // pptr bits to an allocated object of this pool, else corrupted.
  object locate(std::uint64_t raw, std::uint64_t from, const char* what);
  // Container storage: pptr bits to the start of an object of `need` bytes.
  object storage(std::uint64_t raw, std::uint64_t need, std::uint64_t from, const char* what);

  void follow(std::uint64_t raw, std::uint32_t target, std::uint64_t from);
  void walk_value(std::uint32_t type, std::uint64_t at, int depth);
  void walk_object(const work& w);
  void scan_untyped(std::uint64_t data, std::uint64_t size);
  void walk_cell(std::uint64_t at);
  // The cell `c`, read from `at` (or a pin's copy: not counted).
  void walk_cell_rep(const value_cell_rep& c, std::uint64_t at, bool counted);
  void container(const stored_type& t, std::uint64_t at, int depth);
  void vector_elements(const stored_type& t, std::uint64_t at);
  void hash_map_storage(const stored_type& t, std::uint64_t at, int depth);
  void btree_storage(const stored_type& t, std::uint64_t at, int depth);
  element_shape shape(std::uint32_t type, std::uint64_t at) const;
  void drain();
  void step(const work& w);

  // REQUIRES: [off, off + sizeof(T)) lies inside a located object.
  template <class T>
  T load(std::uint64_t off) const {
    T v;
    std::memcpy(&v, base_ + off, sizeof v);
    return v;
  }

  const pool_impl& pool_;
  mark_observer* observer_;
  std::vector<mark_damage>* damage_ = nullptr;  // check mode
  std::size_t damage_limit_ = 0;
  std::uint64_t damage_found_ = 0;
  const std::byte* base_;
  std::uint64_t heap_begin_, heap_end_;
  std::uint16_t tag_;
  std::vector<std::uint64_t> bits_;  // one per 16 heap bytes: object data marked
  std::vector<work> stack_;
  std::unordered_map<std::uint32_t, std::vector<plan_entry>> plans_;
  std::unordered_set<std::uint64_t>
      typed_walks_;  // type << 48 | offset, walked by a pointer's type
  layout_view image_;
  std::unordered_map<std::uint64_t, std::uint64_t> value_refs_;  // payload -> cells
};

}  // namespace ferrite::detail
