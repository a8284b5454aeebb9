// Walks of the containers' on-media layouts (base/format/container_format.h) for
// the checks of the container workloads: what a container holds, read
// through an image_view (right on every handle, see image_view.h), with
// every structural invariant of the layout checked on the way.
//
//   auto nodes = walk_hash_map(view, &root->index, shape_of<std::int64_t>(),
//                              shape_of<std::int64_t>(), "ferrite.hash_map<i64,i64>");
//   for (const stored_entry& e : nodes) { ... e.key, e.value, e.hash ... }
//
// The walks know element sizes and alignments only; the caller checks what
// depends on the element type (a node's stored hash against its key's,
// strings' invariants through image_view::text) and compares the keys of a
// B+-tree with `compare`. Every problem is a broken_image exception.
//
// Thread-safety: as image_view (one walk per view at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

#include "tools/crash/readers/image_view.h"

namespace ferrite::crash {

// Size and alignment of a stored element.
struct element_shape {
  std::size_t size = 0;
  std::size_t align = 1;
};
template <class T>
constexpr element_shape shape_of() {
  return {sizeof(T), alignof(T)};
}
inline constexpr element_shape no_value{0, 1};  // set: keys only

// The i64 stored at `p` (an element's bytes, possibly unaligned).
inline std::int64_t i64_at(const std::byte* p) {
  std::int64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One element found in a container.
struct stored_entry {
  const std::byte* key = nullptr;
  const std::byte* value = nullptr;  // null for a set
  std::uint64_t hash = 0;            // hash_map: the node's stored hash
};

// The nodes of the hash_map at `handle`, bucket by bucket. Checks: the
// segment directory and the segments of the buckets in use are objects of
// `type_name` large enough, level/split are in range, buckets past those
// in use are empty, every node is an object of `type_name` sitting in the
// bucket its stored hash selects, and `size` equals the number of nodes.
std::vector<stored_entry> walk_hash_map(image_view& v, const void* handle, element_shape key,
                                        element_shape value, std::string_view type_name);

// Three-way comparison of two stored keys.
using key_compare = std::function<int(const std::byte*, const std::byte*)>;

// The entries of the B+-tree (map or set) at `handle`, in leaf-chain
// order. Checks: root == 0 iff size == 0; every node an object of
// `type_name` large enough for its capacity; leaves at depth `height`,
// inner nodes above; 1 <= count <= capacity (the root may be an empty
// leaf only when the tree is); keys strictly increase within a node and
// lie within the bounds their parent gives (keys[i-1] <= k < keys[i] under
// child i); the leaf chain from first_leaf visits exactly the leaves in
// key order; `size` equals the number of keys in leaves. The inner nodes'
// keys (separators: copies of leaf keys, owning their own storage for
// string keys) go to `separators` when given.
std::vector<stored_entry> walk_btree(image_view& v, const void* handle, element_shape key,
                                     element_shape value, std::string_view type_name,
                                     const key_compare& compare,
                                     std::vector<const std::byte*>* separators = nullptr);

}  // namespace ferrite::crash
