// The B+-tree core behind ferrite::map<K,V> and ferrite::set<K> (internal).
//
// map.h and set.h are thin templates; everything else is here, type-erased:
// the core knows the element sizes and alignments and reaches the elements'
// behaviour (order, construction, release) through a btree_traits of
// function pointers, one static instance per map/set instantiation.
//
// Layout: detail::btree_rep and btree_node_header (container_format.h).
//   leaf:  header, K keys[leaf_capacity], V values[leaf_capacity]
//   inner: header, K keys[inner_capacity], u64 children[inner_capacity + 1]
// each member at the next multiple of its alignment. The capacities are
// chosen on the first insert so that a node fills a 512-byte heap slot (at
// least 4 keys) and stored in the rep; later operations use the stored ones.
//
// Separator keys in inner nodes are copies that the inner node owns (for
// ferrite::string keys, a buffer of their own): erasing a key from a leaf
// never leaves a separator pointing at freed storage.
//
// Erase does no merging of leaves: it removes a key from its leaf, removes
// a leaf that becomes empty (and its separator), and when that leaves an
// inner node without keys, merges it into (or borrows a child from) an
// adjacent sibling; an inner root left with one child is collapsed. So the
// invariants hold (container_format.h: every non-root node holds at least
// one key, every leaf at depth `height`) and every operation touches
// O(height) nodes, but leaves may be sparsely filled after many erases.
//
// Every mutating function runs atomically on its own or joins the
// transaction the thread runs on the rep's pool; every byte it changes is
// snapshotted first. Reads (find, bounds, iteration) work on any copy of
// the rep (a read-only view).
//
// Thread-safety: like std::map (concurrent reads, or one writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>

#include "ferrite/base/format/container_format.h"
#include "ferrite/types/element.h"

namespace ferrite::detail {

// Keys the core compares inline (plain integers under the default
// key_traits); others go through `compare`.
enum class btree_key_kind : std::uint8_t { other, i32, u32, i64, u64 };

// What the core knows of one map<K,V> or set<K> instantiation.
struct btree_traits {
  btree_key_kind key_kind = btree_key_kind::other;
  std::uint32_t key_size = 0, key_align = 1;
  std::uint32_t value_size = 0, value_align = 1;  // 0 and 1: a set
  bool key_owns_storage = false;                  // keys need construct/copy/release calls
  bool value_owns_storage = false;                // values need construct/release calls
  // Three-way order of a stored key and a probe (a key_traits<K>::lookup).
  int (*compare)(const void* stored, const void* probe) = nullptr;
  // The same between two stored keys.
  int (*compare_stored)(const void* a, const void* b) = nullptr;
  // Builds a key at `dest` from a probe; from another stored key (the
  // separators' own copies).
  void (*construct_key)(pool_impl& p, void* dest, const void* probe) = nullptr;
  void (*copy_key)(pool_impl& p, void* dest, const void* stored) = nullptr;
  void (*release_key)(pool_impl& p, void* key) = nullptr;
  // Builds a value at `dest` from an element_traits<V>::input, or
  // value-initialises it when `input` is null.
  void (*construct_value)(pool_impl& p, void* dest, const void* input) = nullptr;
  void (*release_value)(pool_impl& p, void* value) = nullptr;
  // The container's own descriptor: the type id of the nodes.
  type_ref container = nullptr;
};

// A position in the tree: entry `index` of `leaf` (leaf null: the end).
// The leaf's size, alignment and capacity come along so that advancing
// to the next leaf checks its pointer and header (DESIGN invariant 7).
struct btree_cursor {
  std::byte* leaf = nullptr;
  std::uint32_t index = 0;
  std::uint32_t values_offset = 0;  // of values[0] in a leaf
  std::uint32_t leaf_bytes = 0;
  std::uint16_t leaf_capacity = 0;
  std::uint16_t node_align = 0;

  friend bool operator==(const btree_cursor& a, const btree_cursor& b) noexcept {
    return a.leaf == b.leaf && a.index == b.index;
  }
};

// Offset of keys[0] in every node of keys aligned to `key_align`.
constexpr std::uint32_t btree_keys_offset(std::uint32_t key_align) noexcept {
  return (static_cast<std::uint32_t>(sizeof(btree_node_header)) + key_align - 1) / key_align *
         key_align;
}

// The leaf `raw` points to (null for 0), checked as a leaf of c's tree:
// within the heap, aligned, a leaf header whose count fits. Throws
// corrupted otherwise.
std::byte* btree_next_leaf(const btree_cursor& c, std::uint64_t raw);

// Moves `c` to the next entry in key order (the end after the last).
inline void btree_advance(btree_cursor& c) {
  const auto* h = reinterpret_cast<const btree_node_header*>(c.leaf);
  if (++c.index < h->count) return;
  c.index = 0;
  c.leaf = btree_next_leaf(c, h->next_leaf);
}

// --- reads (any copy of the rep) ---
btree_cursor btree_begin(const btree_rep& rep, const btree_traits& t);
// The entry whose key equals the probe, or the end.
btree_cursor btree_find(const btree_rep& rep, const btree_traits& t, const void* probe);
// The first entry whose key is not less / greater than the probe.
btree_cursor btree_lower_bound(const btree_rep& rep, const btree_traits& t, const void* probe);
btree_cursor btree_upper_bound(const btree_rep& rep, const btree_traits& t, const void* probe);

// --- mutations (REQUIRES: `rep` lives in an open pool) ---
struct btree_insert_result {
  btree_cursor at;
  bool inserted;
};
// Inserts the key (a probe) with a value built from `value_input` (null:
// value-initialised) unless the key is present; then, when `assign`, the
// present value is released and rebuilt from `value_input`.
btree_insert_result btree_insert(btree_rep& rep, const btree_traits& t, const void* probe,
                                 const void* value_input, bool assign);
// Removes the key, releasing its key and value; returns 0 or 1.
std::size_t btree_erase(btree_rep& rep, const btree_traits& t, const void* probe);
// Removes every key (atomically; work and log space grow with the size).
void btree_clear(btree_rep& rep, const btree_traits& t);
// Frees every node, key and value in the running transaction and leaves
// the rep empty (the container's release function).
void btree_release(pool_impl& p, btree_rep& rep, const btree_traits& t);

// "" when the tree keeps its invariants, else the first problem found:
// size equals the number of keys, keys strictly increase along the leaf
// chain, every leaf is at depth `height`, separators bound their subtrees,
// no node but the root is empty, the chain links the leaves in order.
std::string btree_check(const btree_rep& rep, const btree_traits& t);

// --- building the traits (used by map.h and set.h) ---
template <class K>
struct btree_key_ops {
  using lookup = typename key_traits<K>::lookup;
  static int compare(const void* stored, const void* probe) {
    return key_traits<K>::compare(*static_cast<const K*>(stored),
                                  *static_cast<const lookup*>(probe));
  }
  static int compare_stored(const void* a, const void* b) {
    return key_traits<K>::compare(*static_cast<const K*>(a),
                                  key_traits<K>::stored_as_lookup(*static_cast<const K*>(b)));
  }
  static void construct(pool_impl& p, void* dest, const void* probe) {
    element_traits<K>::construct(p, static_cast<K*>(dest), *static_cast<const lookup*>(probe));
  }
  static void copy(pool_impl& p, void* dest, const void* stored) {
    element_traits<K>::construct(p, static_cast<K*>(dest),
                                 key_traits<K>::stored_as_lookup(*static_cast<const K*>(stored)));
  }
  static void release(pool_impl& p, void* k) { element_traits<K>::release(p, static_cast<K*>(k)); }

  static constexpr btree_key_kind kind() {
    if constexpr (std::is_integral_v<K> && !std::is_same_v<K, bool> && std::is_same_v<lookup, K>) {
      if constexpr (sizeof(K) == 8) {
        return std::is_signed_v<K> ? btree_key_kind::i64 : btree_key_kind::u64;
      } else if constexpr (sizeof(K) == 4) {
        return std::is_signed_v<K> ? btree_key_kind::i32 : btree_key_kind::u32;
      }
    }
    return btree_key_kind::other;
  }

  static void fill(btree_traits& t) {
    t.key_kind = kind();
    t.key_size = sizeof(K);
    t.key_align = alignof(K);
    t.key_owns_storage = owns_storage(descriptor_of<K>());
    t.compare = &compare;
    t.compare_stored = &compare_stored;
    t.construct_key = &construct;
    t.copy_key = &copy;
    t.release_key = &release;
  }
};

template <class V>
struct btree_value_ops {
  using input = std::remove_cvref_t<typename element_traits<V>::input>;
  static void construct(pool_impl& p, void* dest, const void* in) {
    if (in == nullptr) {
      ::new (dest) V{};
    } else {
      element_traits<V>::construct(p, static_cast<V*>(dest), *static_cast<const input*>(in));
    }
  }
  static void release(pool_impl& p, void* v) { element_traits<V>::release(p, static_cast<V*>(v)); }

  static void fill(btree_traits& t) {
    t.value_size = sizeof(V);
    t.value_align = alignof(V);
    t.value_owns_storage = owns_storage(descriptor_of<V>());
    t.construct_value = &construct;
    t.release_value = &release;
  }
};

}  // namespace ferrite::detail
