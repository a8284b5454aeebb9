#include "tools/crash/readers/container_walk.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "ferrite/base/format/container_format.h"

namespace ferrite::crash {
namespace {

std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

[[noreturn]] void broken(const std::string& what) { throw broken_image(what); }

std::uint64_t word_at(const std::byte* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Buckets in segment i of a hash_map.
std::uint64_t segment_buckets(std::uint64_t i) {
  return i == 0 ? detail::hash_initial_buckets
                : std::uint64_t{detail::hash_initial_buckets} << (i - 1);
}

}  // namespace

std::vector<stored_entry> walk_hash_map(image_view& v, const void* handle, element_shape key,
                                        element_shape value, std::string_view type_name) {
  detail::hash_map_rep rep;
  std::memcpy(&rep, handle, sizeof rep);
  const std::string what(type_name);
  std::vector<stored_entry> out;
  if (rep.segments == 0) {
    if (rep.size != 0) broken(what + " without buckets has size " + std::to_string(rep.size));
    return out;
  }
  constexpr std::uint64_t init = detail::hash_initial_buckets;
  if (rep.level + 1 >= detail::hash_max_segments) {
    broken(what + " at level " + std::to_string(rep.level) + ", beyond its segments");
  }
  const std::uint64_t round = init << rep.level;  // buckets at the start of this level
  if (rep.split >= round) {
    broken(what + " splits bucket " + std::to_string(rep.split) + " of " + std::to_string(round));
  }
  const std::uint64_t in_use = round + rep.split;
  const std::byte* dir = v.object(rep.segments, type_name,
                                  detail::hash_max_segments * sizeof(std::uint64_t),
                                  what + "'s segment directory");
  // Node layout: { u64 next; u64 hash; K key; V value; }.
  const std::size_t key_off = align_up(16, key.align);
  const std::size_t value_off = align_up(key_off + key.size, value.align);
  const std::size_t node_size = value_off + value.size;

  std::uint64_t first_bucket = 0;
  for (std::uint64_t s = 0; s < detail::hash_max_segments; ++s) {
    const std::uint64_t count = segment_buckets(s);
    const std::uint64_t bits = word_at(dir + s * 8);
    if (first_bucket >= in_use) {  // segments past the buckets in use
      if (bits != 0) {
        // A segment kept from before may stay allocated; it must be empty.
        const std::byte* seg =
            v.object(bits, type_name, count * 8, what + "'s spare segment " + std::to_string(s));
        for (std::uint64_t i = 0; i < count; ++i) {
          if (word_at(seg + i * 8) != 0) {
            broken(what + ": bucket " + std::to_string(first_bucket + i) + " past the " +
                   std::to_string(in_use) + " in use holds a node");
          }
        }
      }
      first_bucket += count;
      continue;
    }
    if (bits == 0) {
      broken(what + ": segment " + std::to_string(s) + " of buckets in use is missing");
    }
    const std::byte* seg =
        v.object(bits, type_name, count * 8, what + "'s segment " + std::to_string(s));
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t b = first_bucket + i;
      std::uint64_t n = word_at(seg + i * 8);
      if (b >= in_use) {
        if (n != 0) {
          broken(what + ": bucket " + std::to_string(b) + " past the " + std::to_string(in_use) +
                 " in use holds a node");
        }
        continue;
      }
      while (n != 0) {
        const std::byte* node = v.object(n, type_name, node_size, what + "'s node");
        stored_entry e;
        e.hash = word_at(node + 8);
        e.key = node + key_off;
        e.value = value.size ? node + value_off : nullptr;
        std::uint64_t home = e.hash % round;
        if (home < rep.split) home = e.hash % (round * 2);
        if (home != b) {
          broken(what + ": a node with hash " + std::to_string(e.hash) + " sits in bucket " +
                 std::to_string(b) + ", its hash selects bucket " + std::to_string(home));
        }
        out.push_back(e);
        if (out.size() > rep.size) {
          broken(what + " of size " + std::to_string(rep.size) + " holds more nodes");
        }
        n = word_at(node);
      }
    }
    first_bucket += count;
  }
  if (out.size() != rep.size) {
    broken(what + " of size " + std::to_string(rep.size) + " holds " + std::to_string(out.size()) +
           " nodes");
  }
  return out;
}

namespace {

struct btree_walker {
  image_view& v;
  element_shape key, value;
  std::string what;
  std::string_view type_name;
  const key_compare& compare;
  detail::btree_rep rep;
  std::vector<const std::byte*> leaves;  // in tree order
  std::vector<stored_entry> out;
  std::vector<const std::byte*>* separators;

  std::size_t keys_off() const { return align_up(sizeof(detail::btree_node_header), key.align); }
  std::size_t leaf_bytes() const {
    const std::size_t values = align_up(keys_off() + key.size * rep.leaf_capacity, value.align);
    return values + value.size * rep.leaf_capacity;
  }
  std::size_t children_off() const {
    return align_up(keys_off() + key.size * rep.inner_capacity, 8);
  }
  std::size_t inner_bytes() const { return children_off() + 8 * (rep.inner_capacity + 1); }

  // Walks the subtree at `bits`, `depth` levels below the root; every key
  // must satisfy lo <= k < hi (null: unbounded).
  void walk(std::uint64_t bits, std::uint32_t depth, const std::byte* lo, const std::byte* hi) {
    const bool leaf_level = depth == rep.height;
    const std::byte* node =
        v.object(bits, type_name, sizeof(detail::btree_node_header), what + "'s node");
    detail::btree_node_header h;
    std::memcpy(&h, node, sizeof h);
    const std::string where = what + ": a node at depth " + std::to_string(depth);
    if (h.is_leaf != (leaf_level ? 1 : 0)) {
      broken(where + (leaf_level ? " is not a leaf" : " is a leaf") + " (height " +
             std::to_string(rep.height) + ")");
    }
    const std::size_t capacity = leaf_level ? rep.leaf_capacity : rep.inner_capacity;
    // Re-checked with the node's full size.
    if (v.target().object_size(node) < (leaf_level ? leaf_bytes() : inner_bytes())) {
      broken(where + " is an object of " + std::to_string(v.target().object_size(node)) +
             " bytes, too small for " + std::to_string(capacity) + " keys");
    }
    if (h.count > capacity) {
      broken(where + " holds " + std::to_string(h.count) + " keys, capacity " +
             std::to_string(capacity));
    }
    if (h.count == 0 && !(depth == 0 && leaf_level && rep.size == 0)) {
      broken(where + " holds no key");
    }
    const std::byte* keys = node + keys_off();
    for (std::size_t i = 0; i < h.count; ++i) {
      const std::byte* k = keys + i * key.size;
      if (i > 0 && compare(keys + (i - 1) * key.size, k) >= 0) {
        broken(where + ": keys " + std::to_string(i - 1) + " and " + std::to_string(i) +
               " are not in increasing order");
      }
      if ((lo && compare(k, lo) < 0) || (hi && compare(k, hi) >= 0)) {
        broken(where + ": key " + std::to_string(i) + " lies outside the range its parent gives");
      }
    }
    if (leaf_level) {
      leaves.push_back(node);
      const std::byte* values =
          node + align_up(keys_off() + key.size * rep.leaf_capacity, value.align);
      for (std::size_t i = 0; i < h.count; ++i) {
        out.push_back({keys + i * key.size, value.size ? values + i * value.size : nullptr, 0});
      }
      return;
    }
    if (separators) {
      for (std::size_t i = 0; i < h.count; ++i) separators->push_back(keys + i * key.size);
    }
    const std::byte* children = node + children_off();
    for (std::size_t i = 0; i <= h.count; ++i) {
      walk(word_at(children + i * 8), depth + 1, i == 0 ? lo : keys + (i - 1) * key.size,
           i == h.count ? hi : keys + i * key.size);
    }
  }
};

}  // namespace

std::vector<stored_entry> walk_btree(image_view& v, const void* handle, element_shape key,
                                     element_shape value, std::string_view type_name,
                                     const key_compare& compare,
                                     std::vector<const std::byte*>* separators) {
  btree_walker w{v,  key, value, std::string(type_name), type_name, compare, {}, {}, {},
                 separators};
  std::memcpy(&w.rep, handle, sizeof w.rep);
  const detail::btree_rep& rep = w.rep;
  if (rep.root == 0) {
    if (rep.size != 0 || rep.first_leaf != 0) {
      broken(w.what + " without a root has size " + std::to_string(rep.size) +
             (rep.first_leaf ? " and a first leaf" : ""));
    }
    return {};
  }
  if (rep.leaf_capacity == 0 || (rep.height > 0 && rep.inner_capacity < 2)) {
    broken(w.what + " with capacities " + std::to_string(rep.leaf_capacity) + "/" +
           std::to_string(rep.inner_capacity));
  }
  if (rep.height > 64) broken(w.what + " of height " + std::to_string(rep.height));
  w.walk(rep.root, 0, nullptr, nullptr);
  if (w.out.size() != rep.size) {
    broken(w.what + " of size " + std::to_string(rep.size) + " holds " +
           std::to_string(w.out.size()) + " keys in its leaves");
  }
  // The leaf chain visits the same leaves in the same order.
  std::uint64_t bits = rep.first_leaf;
  const std::uint64_t tag_bits = rep.root & ~((std::uint64_t{1} << 48) - 1);
  for (std::size_t i = 0; i < w.leaves.size(); ++i) {
    const std::byte* expect = w.leaves[i];
    const std::uint64_t expect_bits = tag_bits | v.target().offset_of(expect);
    if (bits != expect_bits) {
      broken(w.what + ": leaf " + std::to_string(i) + " of the chain is not the tree's leaf " +
             std::to_string(i) + (i == 0 ? " (first_leaf)" : ""));
    }
    detail::btree_node_header h;
    std::memcpy(&h, expect, sizeof h);
    bits = h.next_leaf;
  }
  if (bits != 0) broken(w.what + ": the leaf chain goes on past the last leaf");
  return w.out;
}

}  // namespace ferrite::crash
