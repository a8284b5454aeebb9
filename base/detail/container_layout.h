// The one decoder of the containers' on-media layouts (container_format.h):
// string, vector, hash_map and the B+-tree of map and set, read from a pool
// image that is untrusted input. The garbage collector (engine/detail/gc*),
// `ferrite dump` (tools/ferrite/dump*) and the crash readers
// (tools/crash/readers/container_walk, image_view) walk containers through
// it; the typed containers (types/) keep their own fast paths.
//
//   class my_image : public layout_image {          // the caller's heap lookup
//     bool find(std::uint64_t off, std::uint64_t need, layout_part part,
//               layout_object& out, std::string& why) override;
//   };
//   my_image img(base, heap_begin, heap_end, tag);
//   walk_hash_map(img, handle_offset, {8, 8}, {8, 8}, [&](const hash_map_node& n) {
//     ... img.load<std::int64_t>(n.key) ...;
//     return true;                                  // false: stop here
//   });
//
// What it guarantees (invariant 7): every pointer a container holds goes
// through layout_image::storage() before a byte of it is read: pptr bits of
// this pool (tag), an offset inside the heap, the start of an allocated
// object (the caller's find()) lying inside the heap and of at least the
// bytes the layout reads. Every loop is bounded by a stored count checked
// against its storage, or by a visited set. Any violation throws
// layout_damage naming the pool offset of the field that holds the bad
// value; nothing is read out of bounds, nothing loops.
//
// What it checks, beyond bounds (the invariants of container_format.h that
// need no element semantics): string and vector: data == 0 iff capacity
// == 0, size <= capacity, the buffer holds capacity (+1 NUL for a string)
// elements. hash_map: level/split in range, the segments of the buckets in
// use present, spare segments' buckets empty, every node in the bucket its
// stored hash selects, no node twice, size equals the nodes. B+-tree: no
// root means size 0 and no leaf chain, capacities, every leaf at depth
// `height`, counts within capacity and non-zero below the root, no node
// twice, keys in order (when the caller gives a key order), the leaf chain
// visits the leaves in tree order, size equals the keys in leaves. The
// size checks need a whole walk: a walk its visitor stops checks no more.
// What depends on element types (string keys' own invariants, a stored
// hash against its key, value cells) stays with the caller.
//
// Thread-safety: a layout_image and a walk are used by one thread; the
// caller keeps the image unchanged while it walks.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

namespace ferrite::detail {

// Size and alignment of a stored element (a key or a value); size 0: none
// (a set's values).
struct element_shape {
  std::uint64_t size = 0;
  std::uint64_t align = 1;
};

// An allocated object: data at pool offset `offset`, `size` bytes, the
// type id in its header.
struct layout_object {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t type = 0;
};

// Which storage of a container a pointer names (messages, and the
// caller's own checks in find()).
enum class layout_part : std::uint8_t {
  string_buffer,
  vector_buffer,
  hash_directory,  // the segment table
  hash_segment,
  hash_node,
  btree_node,
};
const char* part_name(layout_part p) noexcept;

// Damage found in a layout. at(): the pool offset of the field holding the
// bad value (a handle, a node, a segment slot). count_only(): the walk
// reached every element and only the stored size disagrees with them.
class layout_damage : public std::runtime_error {
 public:
  layout_damage(std::uint64_t at, const std::string& what, bool count_only = false)
      : std::runtime_error(what), at_(at), count_only_(count_only) {}
  std::uint64_t at() const noexcept { return at_; }
  bool count_only() const noexcept { return count_only_; }

 private:
  std::uint64_t at_;
  bool count_only_;
};

// The caller's view of a pool image: the mapped bytes, the heap's bounds,
// the pool's tag, and (find()) the caller's allocation lookup.
class layout_image {
 public:
  // REQUIRES: base maps at least heap_end bytes; heap_begin <= heap_end.
  layout_image(const std::byte* base, std::uint64_t heap_begin, std::uint64_t heap_end,
               std::uint16_t tag)
      : base_(base), heap_begin_(heap_begin), heap_end_(heap_end), tag_(tag) {}
  virtual ~layout_image() = default;

  // The allocated object pptr bits `raw` (read at pool offset `from`)
  // name: its tag is the pool's, its offset the start of an allocated
  // object lying inside the heap with at least `need` bytes. Throws
  // layout_damage otherwise (and whatever find() throws).
  layout_object storage(std::uint64_t raw, std::uint64_t need, layout_part part,
                        std::uint64_t from);

  // REQUIRES: [off, off + sizeof(T)) lies inside an object located by
  // storage(), or inside the caller's own checked object.
  template <class T>
  T load(std::uint64_t off) const {
    T v;
    std::memcpy(&v, base_ + off, sizeof v);
    return v;
  }
  const std::byte* base() const noexcept { return base_; }
  std::uint64_t heap_begin() const noexcept { return heap_begin_; }
  std::uint64_t heap_end() const noexcept { return heap_end_; }
  std::uint16_t tag() const noexcept { return tag_; }

 protected:
  // The allocated object that pool offset `offset` (inside the heap) lies
  // in, into `out`; false with `why` when there is none. May also refuse
  // an object for the caller's own reasons (its stored type for `part`,
  // reached twice...) by returning false, or throw. `need` is what the
  // decoder will read, for the caller's messages; the decoder checks it.
  virtual bool find(std::uint64_t offset, std::uint64_t need, layout_part part, layout_object& out,
                    std::string& why) = 0;

  // Called by storage() for each pointer it accepts: the field at pool
  // offset `from` names the object `o`. The pointers a walk accepts here,
  // plus each B+-tree's leaf chain (btree_rep::first_leaf and every leaf's
  // next_leaf, checked against the leaves, never through storage()), are
  // every pointer the container's storage holds (`ferrite copy` rewrites
  // them). Does nothing by default.
  virtual void accepted(std::uint64_t from, const layout_object& o) {
    (void)from;
    (void)o;
  }

 private:
  const std::byte* base_;
  std::uint64_t heap_begin_, heap_end_;
  std::uint16_t tag_;
};

// A string's storage: `size` bytes of text at buffer.offset (buffer.offset
// 0: no buffer; size and capacity are then 0). Checks: data == 0 iff
// capacity == 0, size <= capacity, a buffer of capacity + 1 bytes. The NUL
// at `size` is the caller's to check.
struct string_storage {
  std::uint64_t size = 0, capacity = 0;
  layout_object buffer;
};
string_storage decode_string(layout_image& img, std::uint64_t at);

// A vector's storage: `size` elements of `element_size` bytes from
// buffer.offset (0: no buffer). Checks: data == 0 iff capacity == 0,
// size <= capacity, a buffer of capacity elements.
struct vector_storage {
  std::uint64_t size = 0, capacity = 0;
  layout_object buffer;
};
vector_storage decode_vector(layout_image& img, std::uint64_t at, std::uint64_t element_size);

// One hash_map node: pool offsets of the node, its key and its value (0
// for a set-like map without values), its stored hash and bucket.
struct hash_map_node {
  std::uint64_t node = 0, key = 0, value = 0;
  std::uint64_t hash = 0, bucket = 0;
};
// Returns false to stop the walk (nothing more is checked).
using hash_map_visit = std::function<bool(const hash_map_node&)>;

// Walks the hash_map whose handle is at pool offset `at`, bucket by
// bucket, handing each node to `visit`. Returns the nodes visited; throws
// layout_damage on any violated invariant listed in the banner.
std::uint64_t walk_hash_map(layout_image& img, std::uint64_t at, element_shape key,
                            element_shape value, const hash_map_visit& visit);

// One B+-tree node: pool offsets of the node, its keys and (leaves of a
// map) values or (inner nodes) children; `level` 0 is a leaf, `depth` 0
// the root.
struct btree_node_view {
  std::uint64_t node = 0, keys = 0, values = 0, children = 0;
  std::uint32_t level = 0, depth = 0;
  std::uint16_t count = 0;
};
using btree_visit = std::function<bool(const btree_node_view&)>;
// Three-way order of two keys at pool offsets a and b.
using btree_compare = std::function<int(std::uint64_t a, std::uint64_t b)>;

// Walks the map or set whose handle is at `at` depth-first, left to right
// (parents before children, so the leaves come in key order), handing each
// node to `visit`; with `compare`, also checks the key order (strictly
// increasing within a node, keys[i-1] <= k < keys[i] under child i).
// Returns the keys in the leaves visited; throws layout_damage.
std::uint64_t walk_btree(layout_image& img, std::uint64_t at, element_shape key,
                         element_shape value, const btree_visit& visit,
                         const btree_compare& compare = nullptr);

}  // namespace ferrite::detail
