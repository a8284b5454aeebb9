// The mark phase for container storage (container_format.h) and value cells
// (value_format.h). Each container's storage is located (and marked) before
// it is read; its elements are walked by the element types the container's
// stored type names. Nodes reached twice, loops and sizes that disagree
// with the storage are corruption (gc_mark.h, invariant 3).
#include <bit>
#include <string>

#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/type_table.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/detail/gc_mark.h"
#include "ferrite/base/format/value_format.h"

namespace ferrite::detail {
namespace {

std::uint64_t round_to(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

void gc_marker::container(const stored_type& t, std::uint64_t at, int depth) {
  switch (static_cast<container_kind>(t.subkind)) {
    case container_kind::string:
      string_storage(at);
      break;
    case container_kind::vector:
      vector_storage(t, at);
      break;
    case container_kind::hash_map:
      hash_map_storage(t, at, depth);
      break;
    case container_kind::map:
    case container_kind::set:
      btree_storage(t, at, depth);
      break;
    case container_kind::value:
      walk_cell(at);
      break;
    default:
      corrupted(at, "'" + t.name + "' is a container of unknown kind " + std::to_string(t.subkind));
  }
}

void gc_marker::string_storage(std::uint64_t at) {
  const auto rep = load<string_rep>(at);
  if (rep.data == 0) {
    if (rep.size || rep.capacity) corrupted(at, "a string of " + std::to_string(rep.size) + " bytes has no storage");
    return;
  }
  if (rep.size > rep.capacity) corrupted(at, "a string is longer than its capacity");
  storage(rep.data, rep.size + 1, at, "a string's storage");
}

void gc_marker::vector_storage(const stored_type& t, std::uint64_t at) {
  const auto rep = load<vector_rep>(at);
  if (rep.data == 0) {
    if (rep.size || rep.capacity) corrupted(at, "a vector of " + std::to_string(rep.size) + " elements has no storage");
    return;
  }
  const stored_type& e = type_of(t.value, at);
  if (rep.size > rep.capacity || rep.size > (heap_end_ - heap_begin_) / e.size) {
    corrupted(at, "a '" + t.name + "' of " + std::to_string(rep.size) + " elements exceeds its capacity");
  }
  const object o = storage(rep.data, rep.size * e.size, at, "a vector's storage");
  if (rep.size && !plan(t.value).empty()) {
    stack_.push_back({work::op::values, o.data, rep.size, t.value});
  }
}

void gc_marker::hash_map_storage(const stored_type& t, std::uint64_t at, int depth) {
  const auto rep = load<hash_map_rep>(at);
  if (rep.segments == 0) {
    if (rep.size) corrupted(at, "a hash_map of " + std::to_string(rep.size) + " entries has no buckets");
    return;
  }
  const std::uint64_t initial = hash_initial_buckets;
  if (rep.level >= hash_max_segments - 1 || rep.split >= (initial << rep.level)) {
    corrupted(at, "a hash_map has a bad level " + std::to_string(rep.level) + " / split " +
                      std::to_string(rep.split));
  }
  const stored_type& k = type_of(t.key, at);
  const stored_type* v = t.value ? &type_of(t.value, at) : nullptr;
  const std::uint64_t key_off = round_to(16, k.align);
  const std::uint64_t value_off = v ? round_to(key_off + k.size, v->align) : key_off + k.size;
  const std::uint64_t node_bytes = value_off + (v ? v->size : 0);
  const bool walk_keys = !plan(t.key).empty(), walk_values = v && !plan(t.value).empty();

  const object dir = storage(rep.segments, hash_max_segments * 8ull, at, "a hash_map's segment table");
  std::uint64_t segment[hash_max_segments] = {};
  for (std::uint32_t i = 0; i < hash_max_segments; ++i) {
    const auto raw = load<std::uint64_t>(dir.data + i * 8ull);
    if (raw == 0) continue;
    const std::uint64_t buckets = i == 0 ? initial : initial << (i - 1);
    segment[i] = storage(raw, buckets * 8, dir.data + i * 8ull, "a hash_map bucket segment").data;
  }
  const std::uint64_t buckets = (initial << rep.level) + rep.split;
  std::uint64_t found = 0;
  for (std::uint64_t b = 0; b < buckets; ++b) {
    const auto si = b < initial ? 0u : static_cast<std::uint32_t>(std::bit_width(b / initial));
    const std::uint64_t first = si == 0 ? 0 : initial << (si - 1);
    if (segment[si] == 0) corrupted(dir.data, "hash_map bucket " + std::to_string(b) + " has no segment");
    const std::uint64_t head = segment[si] + (b - first) * 8;
    for (auto node = load<std::uint64_t>(head), from = head; node != 0;) {
      const object n = storage(node, node_bytes, from, "a hash_map node");
      // A chain that loops runs past the size.
      if (++found > rep.size) corrupted(n.data, "a hash_map holds more entries than its size " + std::to_string(rep.size));
      if (walk_keys) walk_value(t.key, n.data + key_off, depth + 1);
      if (walk_values) walk_value(t.value, n.data + value_off, depth + 1);
      from = n.data;
      node = load<std::uint64_t>(n.data);
    }
  }
  if (found != rep.size) {
    corrupted(at, "a hash_map's size says " + std::to_string(rep.size) + " entries, its buckets hold " +
                      std::to_string(found));
  }
}

void gc_marker::btree_storage(const stored_type& t, std::uint64_t at, int depth) {
  const auto rep = load<btree_rep>(at);
  if (rep.root == 0) {
    if (rep.size || rep.first_leaf) corrupted(at, "a map/set of " + std::to_string(rep.size) + " keys has no root");
    return;
  }
  if (rep.leaf_capacity == 0 || rep.inner_capacity == 0 || rep.height > 64) {
    corrupted(at, "a map/set has capacities " + std::to_string(rep.leaf_capacity) + "/" +
                      std::to_string(rep.inner_capacity) + " and height " + std::to_string(rep.height));
  }
  const bool is_set = t.subkind == static_cast<std::uint8_t>(container_kind::set);
  const stored_type& k = type_of(t.key, at);
  const stored_type* v = !is_set && t.value ? &type_of(t.value, at) : nullptr;
  const std::uint64_t keys = round_to(sizeof(btree_node_header), k.align);
  const std::uint64_t values = round_to(keys + std::uint64_t{rep.leaf_capacity} * k.size, v ? v->align : 1);
  const std::uint64_t leaf_bytes = values + (v ? std::uint64_t{rep.leaf_capacity} * v->size : 0);
  const std::uint64_t children = round_to(keys + std::uint64_t{rep.inner_capacity} * k.size, 8);
  const std::uint64_t inner_bytes = children + (rep.inner_capacity + 1ull) * 8;
  const bool walk_keys = !plan(t.key).empty(), walk_values = v && !plan(t.value).empty();

  struct pending {
    std::uint64_t raw, from;
    std::uint32_t level;  // 0: a leaf
  };
  std::vector<pending> todo{{rep.root, at, rep.height}};
  std::uint64_t found = 0, nodes = 0;
  while (!todo.empty()) {
    const pending p = todo.back();
    todo.pop_back();
    const object n = storage(p.raw, p.level ? inner_bytes : leaf_bytes, p.from, "a map/set node");
    // Every node but the root holds a key: more nodes than that means
    // shared subtrees (levels only go down, so there is no loop).
    if (++nodes > 2 * rep.size + 2) corrupted(n.data, "a map/set has more nodes than its size allows");
    const auto h = load<btree_node_header>(n.data);
    const std::uint32_t cap = p.level ? rep.inner_capacity : rep.leaf_capacity;
    if (h.is_leaf != (p.level ? 0 : 1) || h.count > cap) {
      corrupted(n.data, "a map/set node has count " + std::to_string(h.count) + " and leaf flag " +
                            std::to_string(h.is_leaf) + " at height " + std::to_string(p.level));
    }
    for (std::uint64_t i = 0; i < h.count && walk_keys; ++i) walk_value(t.key, n.data + keys + i * k.size, depth + 1);
    if (p.level == 0) {
      found += h.count;
      for (std::uint64_t i = 0; i < h.count && walk_values; ++i) {
        walk_value(t.value, n.data + values + i * v->size, depth + 1);
      }
      continue;
    }
    for (std::uint64_t i = 0; i <= h.count; ++i) {
      const std::uint64_t where = n.data + children + i * 8;
      todo.push_back({load<std::uint64_t>(where), where, p.level - 1});
    }
  }
  if (found != rep.size) {
    corrupted(at, "a map/set's size says " + std::to_string(rep.size) + " keys, its leaves hold " +
                      std::to_string(found));
  }
}

void gc_marker::walk_cell(std::uint64_t at) {
  const auto c = load<value_cell_rep>(at);
  if (c.kind >= value_kind_count) corrupted(at, "a value cell has unknown kind " + std::to_string(c.kind));
  const auto kind = static_cast<value_kind>(c.kind);
  std::uint64_t length = 0;
  for (int i = 5; i >= 0; --i) length = length << 8 | c.length[i];
  switch (kind) {
    case value_kind::none:
    case value_kind::boolean:
    case value_kind::integer:
    case value_kind::floating:
      return;
    case value_kind::string:
    case value_kind::bytes:
      if (c.inline_size > value_inline_max + 1) corrupted(at, "a value cell's inline text is too long");
      if (c.inline_size != 0) return;
      [[fallthrough]];
    case value_kind::encoded:
      if (c.payload == 0) {
        if (length) corrupted(at, "a value of " + std::to_string(length) + " bytes has no buffer");
        return;
      }
      storage(c.payload, kind == value_kind::encoded ? length : length + 1, at, "a value's buffer");
      return;
    case value_kind::tuple:
    case value_kind::frozenset: {
      if (c.payload == 0) {
        if (length) corrupted(at, "a value of " + std::to_string(length) + " items has no buffer");
        return;
      }
      if (length > (heap_end_ - heap_begin_) / 16) corrupted(at, "a value's item count is impossible");
      const object o = storage(c.payload, length * 16, at, "a value's items");
      // Immutable item buffers may be shared: walked once.
      if (length && typed_walks_.insert(std::uint64_t{0xffff} << 48 | o.data).second) {
        stack_.push_back({work::op::cells, o.data, length, 0});
      }
      return;
    }
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::object:
      // A shared payload struct, walked by its own header type (find()
      // queued it when it was first marked).
      if (c.payload != 0) storage(c.payload, 0, at, "a value's payload");
      return;
  }
}

}  // namespace ferrite::detail
