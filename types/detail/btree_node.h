// Node geometry and node access for the B+-tree core (internal to
// btree*.cc; the layout is in container_format.h and btree.h).
//
// A node is reached through a `node_view`: its address plus the geometry of
// the tree. Nothing here snapshots; the callers (btree.cc, btree_erase.cc)
// snapshot what they change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ferrite/types/btree.h"

namespace ferrite::detail {

// Where the members of the tree's nodes lie; computed from the element
// sizes and the capacities stored in the rep.
struct btree_geometry {
  std::uint32_t key_size = 0, value_size = 0;
  std::uint32_t leaf_capacity = 0, inner_capacity = 0;
  std::uint32_t keys = 0;         // offset of keys[0] (leaf and inner)
  std::uint32_t leaf_values = 0;  // offset of values[0] in a leaf
  std::uint32_t leaf_bytes = 0;
  std::uint32_t inner_children = 0;  // offset of children[0] in an inner node
  std::uint32_t inner_bytes = 0;
  std::uint32_t node_align = 8;
};

// The geometry for the given capacities.
btree_geometry btree_geometry_for(const btree_traits& t, std::uint32_t leaf_capacity,
                                  std::uint32_t inner_capacity);
// The capacities a new tree gets: nodes fill a 512-byte heap slot, at least
// 4 keys each.
void btree_choose_capacities(const btree_traits& t, std::uint16_t& leaf_capacity,
                             std::uint16_t& inner_capacity);
// The geometry of `rep` (of a new tree when it never held a key). Throws
// corrupted when the stored capacities cannot be right.
btree_geometry btree_geometry_of(const btree_rep& rep, const btree_traits& t);

// Trees never get deeper than this (each inner node has >= 2 children).
inline constexpr std::uint32_t btree_max_height = 64;

[[noreturn]] void btree_corrupted(const std::string& what);

inline btree_node_header& header_of(std::byte* node) noexcept {
  return *reinterpret_cast<btree_node_header*>(node);
}

inline std::byte* key_at(const btree_geometry& g, std::byte* node, std::uint32_t i) noexcept {
  return node + g.keys + std::size_t{i} * g.key_size;
}
inline std::byte* value_at(const btree_geometry& g, std::byte* leaf, std::uint32_t i) noexcept {
  return leaf + g.leaf_values + std::size_t{i} * g.value_size;
}
inline std::uint64_t* children_of(const btree_geometry& g, std::byte* inner) noexcept {
  return reinterpret_cast<std::uint64_t*>(inner + g.inner_children);
}

// The node `raw` points to; checks that the whole node lies in the heap,
// aligned, that it is of the expected kind and that its count fits (a
// corrupted pool gives an error, not a wild access).
inline std::byte* node_at(const btree_geometry& g, std::uint64_t raw, bool leaf) {
  if (raw == 0) btree_corrupted("a null child pointer");
  auto* n =
      static_cast<std::byte*>(pptr_resolve(raw, leaf ? g.leaf_bytes : g.inner_bytes, g.node_align));
  const btree_node_header& h = header_of(n);
  if (h.is_leaf != (leaf ? 1 : 0) || h.count > (leaf ? g.leaf_capacity : g.inner_capacity)) {
    btree_corrupted("a node with a bad header (is_leaf " + std::to_string(h.is_leaf) + ", count " +
                    std::to_string(h.count) + ")");
  }
  return n;
}

// A cursor at entry i of `leaf`, a leaf of a tree of geometry g.
inline btree_cursor cursor_at(const btree_geometry& g, std::byte* leaf, std::uint32_t i) noexcept {
  return {leaf,
          i,
          g.leaf_values,
          g.leaf_bytes,
          static_cast<std::uint16_t>(g.leaf_capacity),
          static_cast<std::uint16_t>(g.node_align)};
}

// Binary searches over the keys of a node: the first index whose key is
// >= the probe (lower) or > the probe (upper). Integer keys are compared
// inline.
template <bool Upper, class T>
std::uint32_t search_integers(const std::byte* keys, std::uint32_t count, const void* probe) {
  T want;
  std::memcpy(&want, probe, sizeof want);
  std::uint32_t lo = 0, hi = count;
  while (lo < hi) {
    const std::uint32_t mid = (lo + hi) / 2;
    T k;
    std::memcpy(&k, keys + std::size_t{mid} * sizeof(T), sizeof k);
    if (Upper ? k <= want : k < want) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

template <bool Upper>
std::uint32_t search(const btree_traits& t, const btree_geometry& g, std::byte* node,
                     const void* probe) {
  const std::uint32_t count = header_of(node).count;
  const std::byte* keys = node + g.keys;
  switch (t.key_kind) {
    case btree_key_kind::i64:
      return search_integers<Upper, std::int64_t>(keys, count, probe);
    case btree_key_kind::u64:
      return search_integers<Upper, std::uint64_t>(keys, count, probe);
    case btree_key_kind::i32:
      return search_integers<Upper, std::int32_t>(keys, count, probe);
    case btree_key_kind::u32:
      return search_integers<Upper, std::uint32_t>(keys, count, probe);
    case btree_key_kind::other:
      break;
  }
  std::uint32_t lo = 0, hi = count;
  while (lo < hi) {
    const std::uint32_t mid = (lo + hi) / 2;
    const int c = t.compare(keys + std::size_t{mid} * g.key_size, probe);
    if (Upper ? c <= 0 : c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

inline std::uint32_t lower_index(const btree_traits& t, const btree_geometry& g, std::byte* node,
                                 const void* probe) {
  return search<false>(t, g, node, probe);
}
inline std::uint32_t upper_index(const btree_traits& t, const btree_geometry& g, std::byte* node,
                                 const void* probe) {
  return search<true>(t, g, node, probe);
}

// One step of a descent: the inner node and the child taken.
struct btree_step {
  std::byte* node;
  std::uint32_t child;
};

// Descends from the root to the leaf whose range holds the probe, recording
// the inner nodes in path[0 .. rep.height). REQUIRES: rep.root != 0.
std::byte* btree_descend(const btree_rep& rep, const btree_traits& t, const btree_geometry& g,
                         const void* probe, btree_step* path);

}  // namespace ferrite::detail
