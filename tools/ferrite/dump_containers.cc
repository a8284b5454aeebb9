// Decoding the containers of base/format/container_format.h for `ferrite dump`:
// string, vector, hash_map (linear hashing) and the B+-tree of map and set.
// Each checks its storage before reading it (dump_decoder.h, invariants 2
// and 3).
#include <bit>
#include <string>

#include "tools/ferrite/dump_decoder.h"
#include "ferrite/base/format/container_format.h"

namespace ferrite::cli::dump_detail {

dump_value decoder::string_value(const std::byte* p) {
  const auto rep = load<detail::string_rep>(p);
  dump_value v;
  v.what = kind::text;
  v.type = "ferrite.string";
  v.size = rep.size;
  if (rep.data == 0) {
    if (rep.size || rep.capacity)
      return problem("string of " + std::to_string(rep.size) + " bytes without storage", 0);
    return v;
  }
  object_span s;
  if (!storage(rep.data, "string", s, v)) return v;
  if (rep.size > rep.capacity || rep.size >= s.size) {
    return problem("string of " + std::to_string(rep.size) + " bytes does not fit its storage @" +
                       std::to_string(s.offset) + " of " + std::to_string(s.size) + " bytes",
                   s.offset);
  }
  v.text.assign(reinterpret_cast<const char*>(at(s.offset)), std::min(rep.size, options_.max_text));
  return v;
}

dump_value decoder::vector_value(const stored_type& t, const std::byte* p, std::uint32_t depth) {
  const auto rep = load<detail::vector_rep>(p);
  dump_value v;
  v.what = kind::sequence;
  v.type = t.name;
  v.size = rep.size;
  std::string why;
  const stored_type* e = element_type(t.value, why);
  if (!e) return problem(t.name + ": " + why, 0);
  if (rep.data == 0) {
    if (rep.size || rep.capacity)
      return problem("vector of " + std::to_string(rep.size) + " elements without storage", 0);
    return v;
  }
  object_span s;
  if (!storage(rep.data, "vector", s, v)) return v;
  if (rep.size > rep.capacity || rep.size > s.size / e->size) {
    return problem("vector of " + std::to_string(rep.size) + " elements of " +
                       std::to_string(e->size) + " bytes does not fit its storage @" +
                       std::to_string(s.offset) + " of " + std::to_string(s.size) + " bytes",
                   s.offset);
  }
  const std::uint64_t shown = std::min(rep.size, options_.max_elements);
  for (std::uint64_t i = 0; i < shown; ++i) {
    v.items.push_back(value(e->id, at(s.offset + i * e->size), depth + 1));
  }
  v.omitted = rep.size - shown;
  return v;
}

dump_value decoder::hash_map_value(const stored_type& t, const std::byte* p, std::uint32_t depth) {
  const auto rep = load<detail::hash_map_rep>(p);
  dump_value v;
  v.what = kind::mapping;
  v.type = t.name;
  v.size = rep.size;
  std::string why;
  const stored_type* k = element_type(t.key, why);
  const stored_type* val = t.value ? element_type(t.value, why) : nullptr;
  if (!k || (t.value && !val)) return problem(t.name + ": " + why, 0);
  if (!val) v.what = kind::sequence;  // a hash set: keys only
  if (rep.segments == 0) {
    if (rep.size)
      return problem("hash_map of " + std::to_string(rep.size) + " entries without buckets", 0);
    return v;
  }
  object_span dir;
  if (!storage(rep.segments, "hash_map segment table", dir, v)) return v;
  const std::uint64_t initial = detail::hash_initial_buckets;
  // Buckets in use: initial << level, plus split (< initial << level); the
  // last one is in segment level + 1, which must exist.
  if (rep.level >= detail::hash_max_segments - 1 || rep.split >= (initial << rep.level)) {
    return problem("hash_map with a bad level " + std::to_string(rep.level) + " / split " +
                       std::to_string(rep.split),
                   dir.offset);
  }
  const std::uint64_t buckets = (initial << rep.level) + rep.split;
  if (dir.size < std::uint64_t{detail::hash_max_segments} * 8 ||
      buckets > (heap_end_ - heap_begin_) / 8) {
    return problem("hash_map segment table @" + std::to_string(dir.offset) + " cannot hold " +
                       std::to_string(buckets) + " buckets",
                   dir.offset);
  }
  const std::uint64_t key_off = align_up(16, k->align);
  const std::uint64_t value_off = val ? align_up(key_off + k->size, val->align) : key_off + k->size;
  const std::uint64_t node_bytes = value_off + (val ? val->size : 0);
  std::vector<object_span> segments(detail::hash_max_segments);
  std::unordered_set<std::uint64_t> nodes;
  std::uint64_t found = 0;
  bool stopped = false;  // not every node was walked
  auto note = [&](std::string what, std::uint64_t where) {
    v.notes.push_back(problem(std::move(what), where));
    stopped = true;
  };
  for (std::uint64_t b = 0; b < buckets && !stopped; ++b) {
    // Segment 0 holds buckets [0, initial); segment s >= 1 holds
    // [initial << (s - 1), initial << s).
    const auto si = b < initial ? 0u : static_cast<std::uint32_t>(std::bit_width(b / initial));
    const std::uint64_t first = si == 0 ? 0 : initial << (si - 1);
    const std::uint64_t in_segment = si == 0 ? initial : first;
    object_span& seg = segments[si];
    if (seg.size == 0) {
      const auto raw = load<std::uint64_t>(at(dir.offset + si * 8ull));
      dump_value bad;
      if (raw == 0) {
        note("hash_map bucket " + std::to_string(b) + " has no segment", dir.offset);
      } else if (!storage(raw, "hash_map segment", seg, bad)) {
        v.notes.push_back(std::move(bad));
        stopped = true;
      } else if (seg.size < in_segment * 8) {
        note("hash_map segment @" + std::to_string(seg.offset) + " is too small", seg.offset);
      }
      if (stopped) break;
    }
    std::uint64_t node = load<std::uint64_t>(at(seg.offset + (b - first) * 8));
    while (node != 0 && !stopped) {
      object_span n;
      dump_value bad;
      if (!nodes.insert(node).second) {
        note("hash_map bucket " + std::to_string(b) + " chain loops", node & offset_mask);
      } else if (!storage(node, "hash_map node", n, bad)) {
        v.notes.push_back(std::move(bad));
        stopped = true;
      } else if (n.size < node_bytes) {
        note("hash_map node @" + std::to_string(n.offset) + " is too small", n.offset);
      } else if (++found > rep.size) {
        note("hash_map holds more entries than its size " + std::to_string(rep.size), n.offset);
      } else if (found > options_.max_elements) {
        stopped = true;  // the rest is counted from the size, not walked
      } else {
        v.keys.push_back(value(k->id, at(n.offset + key_off), depth + 1));
        if (val) v.items.push_back(value(val->id, at(n.offset + value_off), depth + 1));
        node = load<std::uint64_t>(at(n.offset));
      }
    }
  }
  if (!val) v.items = std::move(v.keys), v.keys.clear();
  // Elements not walked are counted from the size; after a complete walk
  // there are none, whatever the size says.
  const std::uint64_t shown = std::min(found, options_.max_elements);
  v.omitted = stopped && rep.size > shown ? rep.size - shown : 0;
  if (!stopped && found != rep.size) {
    v.notes.push_back(problem("hash_map size says " + std::to_string(rep.size) +
                                  " entries, its buckets hold " + std::to_string(found),
                              dir.offset));
  }
  return v;
}

// Leaves are walked along their chain (key order); inner nodes are only
// visited to mark them reached for --all.
dump_value decoder::btree_value(const stored_type& t, const std::byte* p, std::uint32_t depth) {
  const auto rep = load<detail::btree_rep>(p);
  const bool is_set = t.subkind == static_cast<std::uint8_t>(container_kind::set);
  const char* what = is_set ? "set" : "map";
  dump_value v;
  v.what = is_set ? kind::sequence : kind::mapping;
  v.type = t.name;
  v.size = rep.size;
  std::string why;
  const stored_type* k = element_type(t.key, why);
  const stored_type* val = is_set ? nullptr : element_type(t.value, why);
  if (!k || (!is_set && !val)) return problem(t.name + ": " + why, 0);
  if (rep.root == 0 || rep.first_leaf == 0) {
    if (rep.size || rep.root != rep.first_leaf) {
      return problem(std::string(what) + " of " + std::to_string(rep.size) + " keys without a " +
                         (rep.root ? "leaf chain" : "root"),
                     0);
    }
    return v;
  }
  if (rep.leaf_capacity == 0) return problem(std::string(what) + " with leaf capacity 0", 0);
  const std::uint64_t keys_off = align_up(sizeof(detail::btree_node_header), k->align);
  const std::uint64_t keys_end = keys_off + std::uint64_t{rep.leaf_capacity} * k->size;
  const std::uint64_t values_off = val ? align_up(keys_end, val->align) : keys_end;
  const std::uint64_t leaf_bytes =
      values_off + (val ? std::uint64_t{rep.leaf_capacity} * val->size : 0);
  if (options_.all && rep.height > 0)
    mark_inner_nodes(rep.root, rep.height, rep.inner_capacity, *k);
  std::unordered_set<std::uint64_t> leaves;
  std::uint64_t found = 0;
  bool stopped = false;
  auto note = [&](std::string text, std::uint64_t where) {
    v.notes.push_back(problem(std::move(text), where));
    stopped = true;
  };
  for (std::uint64_t leaf = rep.first_leaf; leaf != 0 && !stopped;) {
    object_span n;
    dump_value bad;
    if (!leaves.insert(leaf).second) {
      note(std::string(what) + " leaf chain loops", leaf & offset_mask);
      break;
    }
    if (!storage(leaf, std::string(what) + " leaf", n, bad)) {
      v.notes.push_back(std::move(bad));
      stopped = true;
      break;
    }
    const auto h = load<detail::btree_node_header>(at(n.offset));
    if (n.size < leaf_bytes || h.is_leaf != 1 || h.count > rep.leaf_capacity) {
      note(std::string(what) + " leaf @" + std::to_string(n.offset) + " is damaged (count " +
               std::to_string(h.count) + ", " + std::to_string(n.size) + " bytes)",
           n.offset);
      break;
    }
    if (found + h.count > rep.size) {
      note(std::string(what) + " holds more keys than its size " + std::to_string(rep.size),
           n.offset);
      break;
    }
    for (std::uint64_t i = 0; i < h.count; ++i, ++found) {
      if (found >= options_.max_elements) {
        stopped = true;  // the rest is counted from the size
        break;
      }
      dump_value key = value(k->id, at(n.offset + keys_off + i * k->size), depth + 1);
      if (is_set) {
        v.items.push_back(std::move(key));
      } else {
        v.keys.push_back(std::move(key));
        v.items.push_back(value(val->id, at(n.offset + values_off + i * val->size), depth + 1));
      }
    }
    leaf = h.next_leaf;
  }
  // Elements not walked are counted from the size; after a complete walk
  // there are none, whatever the size says.
  const std::uint64_t shown = std::min(found, options_.max_elements);
  v.omitted = stopped && rep.size > shown ? rep.size - shown : 0;
  if (!stopped && found != rep.size) {
    v.notes.push_back(problem(std::string(what) + " size says " + std::to_string(rep.size) +
                                  " keys, its leaves hold " + std::to_string(found),
                              0));
  }
  return v;
}

// Marks the inner nodes of a B+-tree reached (`levels`: inner levels from
// this node down; the leaves are reached by the leaf chain). Bounded by the
// visited set and the height; damaged nodes are skipped (the leaf walk
// reports problems).
void decoder::mark_inner_nodes(std::uint64_t raw, std::uint32_t levels, std::uint32_t capacity,
                               const stored_type& key) {
  object_span n;
  std::string why;
  if (levels == 0 || levels > 64 || !locate(raw, n, why) || !reached_.insert(n.offset).second)
    return;
  const auto h = load<detail::btree_node_header>(at(n.offset));
  const std::uint64_t keys_off = align_up(sizeof h, key.align);
  const std::uint64_t children_off = align_up(keys_off + std::uint64_t{capacity} * key.size, 8);
  if (h.is_leaf != 0 || h.count > capacity || n.size < children_off + (capacity + 1ull) * 8) return;
  for (std::uint64_t i = 0; i <= h.count; ++i) {
    mark_inner_nodes(load<std::uint64_t>(at(n.offset + children_off + i * 8)), levels - 1, capacity,
                     key);
  }
}

}  // namespace ferrite::cli::dump_detail
