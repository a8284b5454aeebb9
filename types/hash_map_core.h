// The type-erased core of ferrite::hash_map (internal; see hash_map.h).
//
// hash_map<K, V> is a thin template over these functions: it hashes keys
// and builds elements; the core walks and changes the linear-hashing table
// laid out in container_format.h (hash_map_rep). One core serves every
// instantiation through a hash_map_layout: node size and alignment, and
// the function that releases a node's key and value. Lookups are inline in
// the template; nothing on the read paths allocates or takes a lock.
//
// Table invariants (besides those of hash_map_rep):
// - Buckets in use: 0 when segments == 0, else (initial << level) + split.
// - Load factor 1: after every insert, size <= buckets (or the table has
//   reached its last segment). An insert that breaks it splits bucket
//   `split` (one bucket, its chain only); erase never merges buckets.
// - Segment level + 1 exists whenever split > 0; it is allocated by the
//   split that first needs it (split == 0).
#pragma once

#include <bit>
#include <cstdint>

#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/type_info.h"

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
  const type_descriptor& (*map_type)();  // the map's descriptor (type id of its storage)
  // Releases what the node's key and value own; null when neither owns
  // storage.
  void (*release_node)(pool_impl& p, void* node);
};

// Most nodes one clear() piece frees when clear() runs outside a
// transaction (see hash_map.h).
inline constexpr std::uint64_t hash_clear_piece = 512;

// --- Reads: no pool lookup, no lock, no allocation -------------------------
// (Inline: a lookup is a hash, two table loads and a short chain walk.)
// Every word read from the pool is checked before it is followed
// (DESIGN invariant 7): the level, the segment table and the segment
// (whole, as arrays), each node (its full size, with pptr<node>::get());
// a damaged map throws corrupted.

// Throws corrupted: bucket `b` of the map cannot be reached (a level
// beyond the last segment, a missing segment table or segment).
[[noreturn]] void hash_map_bad_bucket(const hash_map_rep& rep, std::uint64_t b);

// (0 also for a damaged level beyond the last segment: hash_map.cc throws
// corrupted for it before walking buckets.)
inline std::uint64_t hash_map_bucket_count(const hash_map_rep& rep) noexcept {
  return rep.segments == 0 || rep.level >= hash_max_segments
             ? 0
             : (std::uint64_t{hash_initial_buckets} << rep.level) + rep.split;
}
// The bucket that holds (or would hold) a key of hash `hash`.
// REQUIRES: rep.level < hash_max_segments (checked by the callers).
inline std::uint64_t hash_map_bucket_of(const hash_map_rep& rep, std::uint64_t hash) noexcept {
  const std::uint64_t half = std::uint64_t{hash_initial_buckets} << rep.level;
  const std::uint64_t b = hash & (half - 1);
  return b < rep.split ? hash & (2 * half - 1) : b;
}
// The head word of bucket b. REQUIRES: b < hash_map_bucket_count(rep), or
// b == that count while its segment exists (a split in progress).
// Throws corrupted when the segment does not exist.
inline std::uint64_t* hash_map_bucket_head(const hash_map_rep& rep, std::uint64_t b) {
  const auto seg = static_cast<unsigned>(std::bit_width(b / hash_initial_buckets));
  if (seg >= hash_max_segments || rep.segments == 0) [[unlikely]]
    hash_map_bad_bucket(rep, b);
  const std::uint64_t start = seg == 0 ? 0 : std::uint64_t{hash_initial_buckets} << (seg - 1);
  const std::uint64_t buckets = seg == 0 ? hash_initial_buckets : start;
  const std::uint64_t* table = resolve_array<const std::uint64_t>(rep.segments, hash_max_segments);
  std::uint64_t* segment = resolve_array<std::uint64_t>(table[seg], buckets);
  if (segment == nullptr) [[unlikely]]
    hash_map_bad_bucket(rep, b);
  return segment + (b - start);
}
// The pptr bits of the first node of the chain that holds keys of hash
// `hash`, or 0. The caller follows them as a pptr to its whole node type.
inline std::uint64_t hash_map_chain(const hash_map_rep& rep, std::uint64_t hash) {
  if (rep.size == 0) return 0;
  if (rep.level >= hash_max_segments) [[unlikely]]
    hash_map_bad_bucket(rep, 0);
  return *hash_map_bucket_head(rep, hash_map_bucket_of(rep, hash));
}

// Starts loading the first node of the bucket the next insert will split
// (when it will), so that its cache miss overlaps the insert's lookup.
inline void hash_map_prefetch_split(const hash_map_rep& rep) {
  if (rep.segments == 0 || rep.level >= hash_max_segments || rep.size < hash_map_bucket_count(rep))
    return;
  const std::uint64_t raw = *hash_map_bucket_head(rep, rep.split);
  if (raw != 0) __builtin_prefetch(pptr<const hash_node_header>::from_raw(raw).get());
}

// The first node of the first non-empty bucket >= `bucket` (which is
// updated), or null when there is none. Nodes are checked as l's.
hash_node_header* hash_map_first_from(const hash_map_rep& rep, std::uint64_t& bucket,
                                      const hash_map_layout& l);
// The node after `n` in iteration order (bucket by bucket), or null.
hash_node_header* hash_map_advance(const hash_map_rep& rep, const hash_node_header* n,
                                   std::uint64_t& bucket, const hash_map_layout& l);

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
