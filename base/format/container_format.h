// On-media layouts of the ferrite containers (docs/format.md, "Containers").
// Constants and structs only; `ferrite dump` and the garbage collector
// decode containers from these, given the element types in the type table.
//
// Every container is a fixed-size header embedded in its owner (a struct
// field, the root, a vector element...). Zero bytes are a valid empty
// container, so a value-initialised struct holds empty containers. Pointers
// are pptr bits (tag << 48 | offset; 0 = null), all fields little-endian.
// Storage a container allocates carries the container's own type id.
//
// Alignment rule used below: a member of type X is placed at the next
// multiple of alignof(X) (the C++ rule for standard-layout structs).
#pragma once

#include <cstdint>

namespace ferrite::detail {

// ferrite::string: `size` bytes of text at `data`, an allocation of at
// least size + 1 bytes ending in NUL. Invariant: data == 0 iff capacity == 0;
// size <= capacity.
struct string_rep {
  std::uint64_t size;      //  0
  std::uint64_t capacity;  //  8 usable bytes at data (without the NUL)
  std::uint64_t data;      // 16 pptr bits to char[capacity + 1]
};
static_assert(sizeof(string_rep) == 24);

// ferrite::vector<T>: `size` elements of T at `data`, room for `capacity`.
// Invariant: data == 0 iff capacity == 0; size <= capacity.
struct vector_rep {
  std::uint64_t size;      //  0
  std::uint64_t capacity;  //  8
  std::uint64_t data;      // 16 pptr bits to T[capacity]
};
static_assert(sizeof(vector_rep) == 24);

// ferrite::hash_map<K,V>: linear hashing, so that growing splits one bucket
// per insert (bounded work and log space per operation).
//   Buckets live in segments: segment 0 holds hash_initial_buckets buckets,
//   segment i >= 1 holds hash_initial_buckets << (i - 1); segments[i] is
//   pptr bits to an array of u64 bucket heads (pptr bits to the first node).
//   The table has `buckets` buckets in use (initial << level, plus `split`).
//   A key with hash h lives in bucket b = h mod (initial << level); if
//   b < split, b = h mod (initial << (level + 1)).
//   node: { u64 next; u64 hash; K key; V value; } with the alignment rule.
// Invariants: size equals the number of nodes; every node sits in the
// bucket its stored hash selects; no two nodes hold equal keys.
inline constexpr std::uint32_t hash_initial_buckets = 16;
inline constexpr std::uint32_t hash_max_segments = 48;
struct hash_map_rep {
  std::uint64_t size;      //  0
  std::uint64_t segments;  //  8 pptr bits to u64[hash_max_segments] (0: empty map)
  std::uint32_t level;     // 16
  std::uint32_t reserved;  // 20
  std::uint64_t split;     // 24 next bucket to split
};
static_assert(sizeof(hash_map_rep) == 32);

// ferrite::map<K,V> and ferrite::set<K>: a B+-tree. Values only in leaves;
// leaves are chained in key order.
//   leaf:  { u16 count; u16 is_leaf = 1; u32 reserved; u64 next_leaf;
//            K keys[leaf_capacity]; V values[leaf_capacity]; }   (set: no values)
//   inner: { u16 count; u16 is_leaf = 0; u32 reserved; u64 reserved;
//            K keys[inner_capacity]; u64 children[inner_capacity + 1]; }
//   An inner node with count keys has count + 1 children; child i holds
//   keys k with keys[i-1] <= k < keys[i].
// Invariants: size equals the number of keys in leaves; keys strictly
// increase along the leaf chain; every leaf is at depth `height`; every
// node but the root holds at least one key.
struct btree_rep {
  std::uint64_t size;            //  0
  std::uint64_t root;            //  8 pptr bits to the root node (0: empty)
  std::uint32_t height;          // 16 0 = the root is a leaf
  std::uint16_t leaf_capacity;   // 20 keys per leaf (set on first insert)
  std::uint16_t inner_capacity;  // 22 keys per inner node
  std::uint64_t first_leaf;      // 24 pptr bits to the leftmost leaf
};
static_assert(sizeof(btree_rep) == 32);

struct btree_node_header {
  std::uint16_t count;
  std::uint16_t is_leaf;
  std::uint32_t reserved;
  std::uint64_t next_leaf;  // leaves only
};
static_assert(sizeof(btree_node_header) == 16);

}  // namespace ferrite::detail
