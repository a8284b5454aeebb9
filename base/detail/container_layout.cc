// The container layout decoder (container_layout.h): bounds first, then
// the layout's own invariants, then the caller's visitor.
#include "ferrite/base/detail/container_layout.h"

#include <bit>
#include <string>
#include <unordered_set>
#include <vector>

#include "ferrite/base/format/container_format.h"

namespace ferrite::detail {
namespace {

constexpr std::uint64_t offset_mask = (std::uint64_t{1} << 48) - 1;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

std::string num(std::uint64_t v) {
  return std::to_string(v);
}

[[noreturn]] void damage(std::uint64_t at, const std::string& what, bool count_only = false) {
  throw layout_damage(at, what, count_only);
}

// Element shapes come from a type table, which may be damaged too.
void check_shape(std::uint64_t at, element_shape s, bool optional, const char* what) {
  if ((s.size == 0 && !optional) || s.size > (std::uint64_t{1} << 32) || s.align == 0 ||
      s.align > 4096 || !std::has_single_bit(s.align)) {
    damage(at, std::string("a container's ") + what + " type has size " + num(s.size) +
                   " and alignment " + num(s.align));
  }
}

// Buckets in hash_map segment i.
std::uint64_t segment_buckets(std::uint64_t i) {
  return i == 0 ? hash_initial_buckets : std::uint64_t{hash_initial_buckets} << (i - 1);
}

}  // namespace

const char* part_name(layout_part p) noexcept {
  switch (p) {
    case layout_part::string_buffer:
      return "a string's buffer";
    case layout_part::vector_buffer:
      return "a vector's buffer";
    case layout_part::hash_directory:
      return "a hash_map's segment table";
    case layout_part::hash_segment:
      return "a hash_map bucket segment";
    case layout_part::hash_node:
      return "a hash_map node";
    case layout_part::btree_node:
      return "a map/set node";
  }
  return "container storage";
}

layout_object layout_image::storage(std::uint64_t raw, std::uint64_t need, layout_part part,
                                    std::uint64_t from) {
  const std::string what = part_name(part);
  const std::uint64_t off = raw & offset_mask;
  if (raw == 0) damage(from, what + " is a null pointer");
  if ((raw >> 48) != tag_) {
    damage(from, what + " holds " + num(raw) + ", not a pointer into this pool (tag " +
                     num(raw >> 48) + ", the pool's is " + num(tag_) + ")");
  }
  if (off < heap_begin_ || off >= heap_end_) {
    damage(from, what + " at pool offset " + num(off) + " is outside the heap");
  }
  layout_object o;
  std::string why;
  if (!find(off, need, part, o, why))
    damage(from, what + " at pool offset " + num(off) + ": " + why);
  if (o.offset != off || o.offset < heap_begin_ || o.offset > heap_end_ ||
      o.size > heap_end_ - o.offset) {
    damage(from, what + " at pool offset " + num(off) + " is not the start of an allocation");
  }
  if (o.size < need) {
    damage(from, what + " at pool offset " + num(off) + " is an object of " + num(o.size) +
                     " bytes, " + num(need) + " needed");
  }
  accepted(from, o);
  return o;
}

string_storage decode_string(layout_image& img, std::uint64_t at) {
  const auto rep = img.load<string_rep>(at);
  if ((rep.data == 0) != (rep.capacity == 0)) {
    damage(at, "a string of capacity " + num(rep.capacity) +
                   (rep.data ? " has a buffer" : " has no buffer") + " (size " + num(rep.size) +
                   ")");
  }
  if (rep.size > rep.capacity) {
    damage(at, "a string of " + num(rep.size) + " bytes does not fit its storage (capacity " +
                   num(rep.capacity) + ")");
  }
  string_storage s;
  if (rep.data == 0) return s;
  if (rep.capacity >= img.heap_end() - img.heap_begin()) {
    damage(at, "a string of capacity " + num(rep.capacity) + " does not fit the heap");
  }
  s.size = rep.size;
  s.capacity = rep.capacity;
  s.buffer = img.storage(rep.data, rep.capacity + 1, layout_part::string_buffer, at + 16);
  return s;
}

vector_storage decode_vector(layout_image& img, std::uint64_t at, std::uint64_t element_size) {
  check_shape(at, {element_size, 1}, false, "element");
  const auto rep = img.load<vector_rep>(at);
  if ((rep.data == 0) != (rep.capacity == 0)) {
    damage(at, "a vector of capacity " + num(rep.capacity) +
                   (rep.data ? " has a buffer" : " has no buffer") + " (size " + num(rep.size) +
                   ")");
  }
  if (rep.size > rep.capacity) {
    damage(at, "a vector of " + num(rep.size) + " elements does not fit its storage (capacity " +
                   num(rep.capacity) + ")");
  }
  vector_storage v;
  if (rep.data == 0) return v;
  if (rep.capacity > (img.heap_end() - img.heap_begin()) / element_size) {
    damage(at, "a vector of capacity " + num(rep.capacity) + " elements of " + num(element_size) +
                   " bytes does not fit the heap");
  }
  v.size = rep.size;
  v.capacity = rep.capacity;
  v.buffer =
      img.storage(rep.data, rep.capacity * element_size, layout_part::vector_buffer, at + 16);
  return v;
}

std::uint64_t walk_hash_map(layout_image& img, std::uint64_t at, element_shape key,
                            element_shape value, const hash_map_visit& visit) {
  check_shape(at, key, false, "key");
  check_shape(at, value, true, "value");
  const auto rep = img.load<hash_map_rep>(at);
  if (rep.segments == 0) {
    if (rep.size != 0) damage(at, "a hash_map of " + num(rep.size) + " entries has no buckets");
    return 0;
  }
  constexpr std::uint64_t initial = hash_initial_buckets;
  // Buckets in use: initial << level, plus split (< initial << level); the
  // last one is in segment level + 1, which must exist.
  if (rep.level + 1 >= hash_max_segments || rep.split >= (initial << rep.level)) {
    damage(at, "a hash_map has a bad level " + num(rep.level) + " / split " + num(rep.split));
  }
  const std::uint64_t round = initial << rep.level;
  const std::uint64_t in_use = round + rep.split;
  const layout_object dir = img.storage(rep.segments, std::uint64_t{hash_max_segments} * 8,
                                        layout_part::hash_directory, at + 8);
  // Node layout: { u64 next; u64 hash; K key; V value; } (alignment rule).
  const std::uint64_t key_off = align_up(16, key.align);
  const std::uint64_t value_off = align_up(key_off + key.size, value.align);
  const std::uint64_t node_bytes = value_off + value.size;

  std::unordered_set<std::uint64_t> seen;
  std::uint64_t found = 0, first = 0;
  for (std::uint64_t s = 0; s < hash_max_segments; ++s) {
    const std::uint64_t count = segment_buckets(s);
    const std::uint64_t slot = dir.offset + s * 8;
    const auto bits = img.load<std::uint64_t>(slot);
    if (bits == 0) {
      if (first < in_use) damage(slot, "hash_map bucket " + num(first) + " has no segment");
      first += count;
      continue;
    }
    // A segment past the buckets in use may stay allocated; it is empty.
    const layout_object seg = img.storage(bits, count * 8, layout_part::hash_segment, slot);
    for (std::uint64_t i = 0; i < count; ++i, ++first) {
      const std::uint64_t head = seg.offset + i * 8;
      auto n = img.load<std::uint64_t>(head);
      if (first >= in_use) {
        if (n != 0) {
          damage(head, "hash_map bucket " + num(first) + " past the " + num(in_use) +
                           " in use holds a node");
        }
        continue;
      }
      for (std::uint64_t from = head; n != 0;) {
        if (!seen.insert(n).second) {
          damage(from, "hash_map bucket " + num(first) + " reaches the node at pool offset " +
                           num(n & offset_mask) + " twice (a chain loops or two chains meet)");
        }
        const layout_object o = img.storage(n, node_bytes, layout_part::hash_node, from);
        hash_map_node e;
        e.node = o.offset;
        e.hash = img.load<std::uint64_t>(o.offset + 8);
        e.key = o.offset + key_off;
        e.value = value.size ? o.offset + value_off : 0;
        e.bucket = first;
        std::uint64_t home = e.hash % round;
        if (home < rep.split) home = e.hash % (round * 2);
        if (home != first) {
          damage(o.offset, "a hash_map node with hash " + num(e.hash) + " sits in bucket " +
                               num(first) + ", its hash selects bucket " + num(home));
        }
        if (++found > rep.size) {
          damage(o.offset, "a hash_map holds more entries than its size " + num(rep.size));
        }
        if (!visit(e)) return found;
        from = o.offset;
        n = img.load<std::uint64_t>(o.offset);
      }
    }
  }
  if (found != rep.size) {
    damage(at, "hash_map size says " + num(rep.size) + " entries, its buckets hold " + num(found),
           true);
  }
  return found;
}

namespace {

struct btree_walker {
  layout_image& img;
  element_shape key, value;
  const btree_visit& visit;
  const btree_compare& compare;
  btree_rep rep;
  std::uint64_t keys_off, values_off, leaf_bytes, children_off, inner_bytes;
  std::unordered_set<std::uint64_t> seen;
  std::vector<std::uint64_t> leaves;  // in tree order
  std::uint64_t found = 0;

  // Walks the subtree at `bits` (read at `from`), `depth` levels below the
  // root; its keys k must satisfy lo <= k < hi (0: unbounded). False: the
  // visitor stopped the walk.
  bool walk(std::uint64_t bits, std::uint64_t from, std::uint32_t depth, std::uint64_t lo,
            std::uint64_t hi) {
    const std::uint32_t level = rep.height - depth;
    const layout_object o =
        img.storage(bits, level ? inner_bytes : leaf_bytes, layout_part::btree_node, from);
    if (!seen.insert(o.offset).second) {
      damage(from, "a map/set reaches its node at pool offset " + num(o.offset) + " twice");
    }
    const auto h = img.load<btree_node_header>(o.offset);
    const std::uint32_t cap = level ? rep.inner_capacity : rep.leaf_capacity;
    if (h.is_leaf != (level ? 0 : 1) || h.count > cap) {
      damage(o.offset, "a map/set node has count " + num(h.count) + " (capacity " + num(cap) +
                           ") and leaf flag " + num(h.is_leaf) + " at height " + num(level));
    }
    if (h.count == 0 && depth > 0) {
      damage(o.offset, "a map/set node below the root holds no key");
    }
    btree_node_view n;
    n.node = o.offset;
    n.keys = o.offset + keys_off;
    n.values = level == 0 && value.size ? o.offset + values_off : 0;
    n.children = level ? o.offset + children_off : 0;
    n.level = level;
    n.depth = depth;
    n.count = h.count;
    if (compare) {
      for (std::uint64_t i = 0; i < h.count; ++i) {
        const std::uint64_t k = n.keys + i * key.size;
        if (i > 0 && compare(k - key.size, k) >= 0) {
          damage(o.offset, "a map/set node's keys " + num(i - 1) + " and " + num(i) +
                               " are not in increasing order");
        }
        if ((lo && compare(k, lo) < 0) || (hi && compare(k, hi) >= 0)) {
          damage(o.offset,
                 "a map/set node's key " + num(i) + " lies outside the range its parent gives");
        }
      }
    }
    if (!visit(n)) return false;
    if (level == 0) {
      leaves.push_back(o.offset);
      found += h.count;
      return true;
    }
    for (std::uint64_t i = 0; i <= h.count; ++i) {
      const std::uint64_t slot = n.children + i * 8;
      if (!walk(img.load<std::uint64_t>(slot), slot, depth + 1,
                i == 0 ? lo : n.keys + (i - 1) * key.size,
                i == h.count ? hi : n.keys + i * key.size)) {
        return false;
      }
    }
    return true;
  }
};

}  // namespace

std::uint64_t walk_btree(layout_image& img, std::uint64_t at, element_shape key,
                         element_shape value, const btree_visit& visit,
                         const btree_compare& compare) {
  check_shape(at, key, false, "key");
  check_shape(at, value, true, "value");
  const auto rep = img.load<btree_rep>(at);
  if (rep.root == 0) {
    if (rep.size != 0 || rep.first_leaf != 0) {
      damage(at, "a map/set of " + num(rep.size) + " keys has no root" +
                     (rep.first_leaf ? " but a leaf chain" : ""));
    }
    return 0;
  }
  if (rep.leaf_capacity == 0 || (rep.height > 0 && rep.inner_capacity < 2) || rep.height > 64) {
    damage(at, "a map/set has capacities " + num(rep.leaf_capacity) + "/" +
                   num(rep.inner_capacity) + " and height " + num(rep.height));
  }
  btree_walker w{img, key, value, visit, compare, rep, 0, 0, 0, 0, 0, {}, {}, 0};
  // Leaf: { header; K keys[leaf_capacity]; V values[leaf_capacity] };
  // inner: { header; K keys[inner_capacity]; u64 children[inner_capacity + 1] }.
  w.keys_off = align_up(sizeof(btree_node_header), key.align);
  w.values_off = align_up(w.keys_off + rep.leaf_capacity * key.size, value.align);
  w.leaf_bytes = w.values_off + rep.leaf_capacity * value.size;
  w.children_off = align_up(w.keys_off + rep.inner_capacity * key.size, 8);
  w.inner_bytes = w.children_off + (rep.inner_capacity + 1ull) * 8;
  if (!w.walk(rep.root, at + 8, 0, 0, 0)) return w.found;
  // The leaf chain visits the tree's leaves in the same order.
  std::uint64_t bits = rep.first_leaf, from = at + 24;
  for (std::size_t i = 0; i < w.leaves.size(); ++i) {
    if (bits != (std::uint64_t{img.tag()} << 48 | w.leaves[i])) {
      damage(from, "a map/set's leaf chain holds " + num(bits) + " where the tree's leaf " +
                       num(i) + " is at pool offset " + num(w.leaves[i]));
    }
    from = w.leaves[i] + 8;
    bits = img.load<btree_node_header>(w.leaves[i]).next_leaf;
  }
  if (bits != 0) damage(from, "a map/set's leaf chain goes on past the last leaf");
  if (w.found != rep.size) {
    damage(at, "map/set size says " + num(rep.size) + " keys, its leaves hold " + num(w.found),
           true);
  }
  return w.found;
}

}  // namespace ferrite::detail
