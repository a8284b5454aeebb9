// The type-erased core of ferrite::hash_map (internal; see hash_map.h).
//
// hash_map<K, V> is a thin template over these functions: it hashes keys
// and builds elements; the core walks and changes the linear-hashing table
// laid out in container_format.h (hash_map_rep). One core serves every
// instantiation through a hash_map_layout: node geometry plus two function
// pointers (key equality, element release). Nothing here allocates volatile
// memory or takes a lock on the read paths.
//
// Table invariants (besides those of hash_map_rep):
// - Buckets in use: 0 when segments == 0, else (initial << level) + split.
// - Load factor 1: after every insert, size <= buckets (or the table has
//   reached its last segment). An insert that breaks it splits bucket
//   `split` (one bucket, its chain only); erase never merges buckets.
// - Segment level + 1 exists whenever split > 0; it is allocated by the
//   split that first needs it (split == 0).
#pragma once

#include <cstdint>

#include "container_format.h"
#include "../engine/type_info.h"

namespace ferrite::detail {

struct pool_impl;

// The start of every node: { u64 next; u64 hash; K key; V value; }.
struct hash_node_header {
  std::uint64_t next;  // pptr bits of the next node in the bucket (0: last)
  std::uint64_t hash;  // key_traits<K>::hash of the key
};
static_assert(sizeof(hash_node_header) == 16);

// What the core needs to know about one hash_map<K, V>.
struct hash_map_layout {
  std::uint32_t node_size;
  std::uint32_t node_align;
  std::uint32_t key_offset;
  std::uint32_t value_offset;
  const type_descriptor& (*map_type)();  // the map's descriptor (type id of its storage)
  // key_traits<K>::equal(stored key, probe): `probe` points at a
  // key_traits<K>::lookup.
  bool (*equal)(const void* stored_key, const void* probe);
  // Releases what the node's key and value own; null when neither owns
  // storage.
  void (*release_node)(pool_impl& p, void* node);
};

// Most nodes one clear() piece frees when clear() runs outside a
// transaction (see hash_map.h).
inline constexpr std::uint64_t hash_clear_piece = 512;

// --- Reads: no pool lookup, no lock, no allocation -------------------------

std::uint64_t hash_map_bucket_count(const hash_map_rep& rep) noexcept;
// The bucket that holds (or would hold) a key of hash `hash`.
// REQUIRES: rep.segments != 0.
std::uint64_t hash_map_bucket_of(const hash_map_rep& rep, std::uint64_t hash) noexcept;
// The node whose key equals `probe` (its hash is `hash`), or null.
hash_node_header* hash_map_find(const hash_map_rep& rep, std::uint64_t hash, const void* probe,
                                const hash_map_layout& l);
// The first node of the first non-empty bucket >= `bucket` (which is
// updated), or null when there is none.
hash_node_header* hash_map_first_from(const hash_map_rep& rep, std::uint64_t& bucket);
// The node after `n` in iteration order (bucket by bucket), or null.
hash_node_header* hash_map_advance(const hash_map_rep& rep, const hash_node_header* n,
                                   std::uint64_t& bucket);

// --- Writes. REQUIRES: a transaction runs on `p`, which holds `rep` --------

// A zero-filled node, not yet linked (new memory: no snapshot needed).
hash_node_header* hash_map_new_node(pool_impl& p, const hash_map_layout& l);
// Frees a node that was never linked (releases nothing it holds).
void hash_map_drop_node(pool_impl& p, hash_node_header* n);
// Links a new node whose key hashes to `hash` (no equal key may be in the
// map), counts it and splits one bucket if the load factor requires it.
void hash_map_link(pool_impl& p, hash_map_rep& rep, hash_node_header* n, std::uint64_t hash,
                   const hash_map_layout& l);
// Unlinks node `n` (in the map), releases its key and value, frees it.
void hash_map_erase_node(pool_impl& p, hash_map_rep& rep, hash_node_header* n,
                         const hash_map_layout& l);
// Frees every node (releasing keys and values), the segments and the
// segment table; the rep becomes zero bytes. One transaction: its log use
// grows with the size.
void hash_map_release_all(pool_impl& p, hash_map_rep& rep, const hash_map_layout& l);

// clear(): inside a transaction, hash_map_release_all in it; outside one,
// transactions of at most hash_clear_piece nodes each (see hash_map.h).
void hash_map_clear(pool_impl& p, hash_map_rep& rep, const hash_map_layout& l);

// Throws invalid_argument (at() of a missing key).
[[noreturn]] void hash_map_missing_key();
// Throws invalid_argument: K or V owns storage but would be copied in.
[[noreturn]] void hash_map_refuse_copy(const type_descriptor& map, const char* what);

}  // namespace ferrite::detail
