#include "ferrite/types/hash_map_core.h"

#include <string>

#include "ferrite/base/error.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/transaction.h"

namespace ferrite::detail {

namespace {

constexpr std::uint64_t initial = hash_initial_buckets;
static_assert(std::has_single_bit(initial));

std::uint64_t* segment_table(const hash_map_rep& rep) {
  return resolve_array<std::uint64_t>(rep.segments, hash_max_segments);
}

// Throws corrupted unless the table's level can be right (every use of
// hash_map_bucket_count on a table that has segments checks it first).
void check_level(const hash_map_rep& rep) {
  if (rep.segments == 0 || rep.level >= hash_max_segments) hash_map_bad_bucket(rep, 0);
}

// Buckets segment i holds.
constexpr std::uint64_t segment_buckets(unsigned i) {
  return i == 0 ? initial : initial << (i - 1);
}

std::uint64_t* bucket_head(const hash_map_rep& rep, std::uint64_t b) {
  return hash_map_bucket_head(rep, b);
}

// The node `raw` points to, checked whole (l.node_size bytes in the heap,
// aligned); null for 0.
hash_node_header* node_at(std::uint64_t raw, const hash_map_layout& l) {
  return static_cast<hash_node_header*>(pptr_resolve(raw, l.node_size, l.node_align));
}

std::uint32_t storage_type(pool_impl& p, const hash_map_layout& l) {
  return type_id_of(p, l.map_type());
}

// Allocates segment `i` (zeroed bucket heads) and records it in the table.
void add_segment(pool_impl& p, hash_map_rep& rep, unsigned i, const hash_map_layout& l) {
  std::uint64_t* table = segment_table(rep);
  if (table[i] != 0) {
    fail(error_code::corrupted, "hash_map: bucket segment " + std::to_string(i) +
                                    " exists before the table reached it (a damaged map)");
  }
  void* s = tx_allocate(p, segment_buckets(i) * 8, storage_type(p, l), 8);
  tx_snapshot(&table[i], 8);
  table[i] = pointer_bits(p, s);
}

// The first insert: the segment table and segment 0.
void create_table(pool_impl& p, hash_map_rep& rep, const hash_map_layout& l) {
  void* table = tx_allocate(p, hash_max_segments * 8, storage_type(p, l), 8);
  tx_snapshot(&rep, sizeof rep);
  rep.segments = pointer_bits(p, table);
  rep.level = 0;
  rep.split = 0;
  add_segment(p, rep, 0, l);
}

// Splits bucket rep.split into itself and bucket split + (initial << level),
// keeping the order of each chain. REQUIRES: rep is snapshotted.
void split_one(pool_impl& p, hash_map_rep& rep, const hash_map_layout& l) {
  const std::uint64_t half = initial << rep.level;
  if (rep.split == 0) add_segment(p, rep, rep.level + 1, l);
  const std::uint64_t from = rep.split;
  const std::uint64_t to = from + half;
  const std::uint64_t mask = 2 * half - 1;
  std::uint64_t* from_head = bucket_head(rep, from);
  std::uint64_t* to_head = bucket_head(rep, to);
  // Tails of the two chains being built: the word that must point at the
  // next node kept there. A word is snapshotted only when it changes.
  std::uint64_t* tails[2] = {from_head, to_head};
  auto set = [](std::uint64_t* word, std::uint64_t v) {
    if (*word == v) return;
    tx_snapshot(word, 8);
    *word = v;
  };
  for (std::uint64_t raw = *from_head; raw != 0;) {
    hash_node_header* n = node_at(raw, l);
    const std::uint64_t next = n->next;
    const int side = (n->hash & mask) == to ? 1 : 0;
    set(tails[side], raw);
    tails[side] = &n->next;
    raw = next;
  }
  set(tails[0], 0);
  set(tails[1], 0);
  if (++rep.split == half) {
    rep.split = 0;
    ++rep.level;
  }
}

// The word that points at node `n` (a bucket head or a node's next).
std::uint64_t* link_to(const hash_map_rep& rep, const hash_node_header* n,
                       const hash_map_layout& l) {
  check_level(rep);
  std::uint64_t* word = bucket_head(rep, hash_map_bucket_of(rep, n->hash));
  while (*word != 0) {
    hash_node_header* m = node_at(*word, l);
    if (m == n) return word;
    word = &m->next;
  }
  fail(error_code::corrupted, "hash_map: a node is missing from the bucket its hash selects");
}

void free_node(pool_impl& p, hash_node_header* n, const hash_map_layout& l) {
  if (l.release_node) l.release_node(p, n);
  tx_free(p, n);
}

// Frees the chain of bucket b; returns the number of nodes freed.
std::uint64_t free_chain(pool_impl& p, std::uint64_t raw, const hash_map_layout& l) {
  std::uint64_t count = 0;
  while (raw != 0) {
    hash_node_header* n = node_at(raw, l);
    raw = n->next;
    free_node(p, n, l);
    ++count;
  }
  return count;
}

}  // namespace

void hash_map_bad_bucket(const hash_map_rep& rep, std::uint64_t b) {
  std::string what;
  if (rep.level >= hash_max_segments) {
    what = "level " + std::to_string(rep.level) + " beyond the last of " +
           std::to_string(hash_max_segments) + " segments";
  } else if (rep.segments == 0) {
    what = "size " + std::to_string(rep.size) + " but no segment table";
  } else {
    what = "bucket " + std::to_string(b) + " (level " + std::to_string(rep.level) + ", split " +
           std::to_string(rep.split) + ") lies in a segment that does not exist";
  }
  fail(error_code::corrupted, "a ferrite hash_map in this pool is damaged (" + what +
                                  "); run `ferrite check` on the pool file");
}

hash_node_header* hash_map_first_from(const hash_map_rep& rep, std::uint64_t& bucket,
                                      const hash_map_layout& l) {
  if (rep.size == 0) return nullptr;
  check_level(rep);
  const std::uint64_t count = hash_map_bucket_count(rep);
  for (; bucket < count; ++bucket) {
    if (const std::uint64_t raw = *bucket_head(rep, bucket)) return node_at(raw, l);
  }
  return nullptr;
}

hash_node_header* hash_map_advance(const hash_map_rep& rep, const hash_node_header* n,
                                   std::uint64_t& bucket, const hash_map_layout& l) {
  if (n->next != 0) return node_at(n->next, l);
  ++bucket;
  return hash_map_first_from(rep, bucket, l);
}

hash_node_header* hash_map_new_node(pool_impl& p, const hash_map_layout& l) {
  return static_cast<hash_node_header*>(
      tx_allocate(p, l.node_size, storage_type(p, l), l.node_align));
}

void hash_map_drop_node(pool_impl& p, hash_node_header* n) {
  tx_free(p, n);
}

void hash_map_link(pool_impl& p, hash_map_rep& rep, hash_node_header* n, std::uint64_t hash,
                   const hash_map_layout& l) {
  if (rep.segments == 0) create_table(p, rep, l);
  check_level(rep);
  n->hash = hash;
  std::uint64_t* head = bucket_head(rep, hash_map_bucket_of(rep, hash));
  n->next = *head;
  tx_snapshot(head, 8);
  *head = pointer_bits(p, n);
  const std::uint64_t buckets = hash_map_bucket_count(rep);
  if (rep.size + 1 > buckets && rep.level + 1 < hash_max_segments) {
    tx_snapshot(&rep, sizeof rep);
    ++rep.size;
    split_one(p, rep, l);
  } else {
    tx_snapshot(&rep.size, sizeof rep.size);
    ++rep.size;
  }
}

void hash_map_erase_node(pool_impl& p, hash_map_rep& rep, hash_node_header* n,
                         const hash_map_layout& l) {
  std::uint64_t* word = link_to(rep, n, l);
  tx_snapshot(word, 8);
  *word = n->next;
  tx_snapshot(&rep.size, sizeof rep.size);
  --rep.size;
  free_node(p, n, l);
}

void hash_map_release_all(pool_impl& p, hash_map_rep& rep, const hash_map_layout& l) {
  if (rep.segments == 0) return;
  check_level(rep);
  const std::uint64_t count = hash_map_bucket_count(rep);
  if (rep.size != 0) {
    for (std::uint64_t b = 0; b < count; ++b) free_chain(p, *bucket_head(rep, b), l);
  }
  std::uint64_t* table = segment_table(rep);
  for (unsigned i = 0; i < hash_max_segments; ++i) {
    if (table[i] != 0) tx_free(p, resolve_array<std::uint64_t>(table[i], segment_buckets(i)));
  }
  tx_free(p, table);
  tx_snapshot(&rep, sizeof rep);
  rep = {};
}

void hash_map_clear(pool_impl& p, hash_map_rep& rep, const hash_map_layout& l) {
  if (rep.segments == 0) return;
  if (in_transaction_on(p) || rep.size <= hash_clear_piece) {
    atomically(p, [&] { hash_map_release_all(p, rep, l); });
    return;
  }
  // Pieces: each empties whole buckets (from `bucket` up) until it has
  // freed hash_clear_piece nodes; the map stays consistent in between.
  check_level(rep);
  const std::uint64_t count = hash_map_bucket_count(rep);  // pieces never split
  std::uint64_t bucket = 0;
  while (rep.size > hash_clear_piece && bucket < count) {
    atomically(p, [&] {
      std::uint64_t freed = 0;
      for (; bucket < count && freed < hash_clear_piece; ++bucket) {
        std::uint64_t* head = bucket_head(rep, bucket);
        if (*head == 0) continue;
        tx_snapshot(head, 8);
        freed += free_chain(p, *head, l);
        *head = 0;
      }
      tx_snapshot(&rep.size, sizeof rep.size);
      rep.size -= freed;
    });
  }
  atomically(p, [&] { hash_map_release_all(p, rep, l); });
}

void hash_map_missing_key() {
  fail(error_code::not_found,
       "hash_map::at: the key is not in the map (test with find() or contains() first)");
}

void hash_map_refuse_copy(const type_descriptor& map, const char* what) {
  fail(error_code::invalid_argument,
       std::string(map.name) + ": " + what +
           " owns storage and cannot be copied into the map (two owners would share it); "
           "use try_emplace(key) or map[key] to build it in place, then fill it");
}

}  // namespace ferrite::detail
