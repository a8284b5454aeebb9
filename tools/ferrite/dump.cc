// Decoding a pool's object graph from its type table (see dump.h).
//
// Invariants of the decoder:
//  1. value() is only called with `at` pointing to type.size bytes that lie
//     inside one allocated object already located by locate() (or inside
//     such an object's inline parts): every read is in bounds.
//  2. Every pointer from the pool goes through locate(), which accepts only
//     the start of an allocated object of this pool whose bytes lie inside
//     the heap (pool::object_size/object_type check the allocator's
//     metadata and throw on anything else).
//  3. Every loop over pool data is bounded by a stored size that was first
//     checked against the storage holding it, or by a visited set plus such
//     a size, so corrupted counts and cyclic chains terminate.
//  4. Nesting is bounded by options.max_depth (a corrupted type table can
//     make a struct contain itself).
#include "tools/ferrite/dump.h"

#include <bit>
#include <cstring>
#include <unordered_set>

#include "alloc/heap_check.h"
#include "engine/error.h"
#include "engine/pool_impl.h"
#include "engine/type_table_format.h"
#include "types/container_format.h"

namespace ferrite::cli {
namespace {

using detail::stored_field;
using detail::stored_type;
using kind = dump_value::kind;
using link = dump_value::link;

constexpr std::uint64_t offset_mask = (1ull << 48) - 1;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

template <class T>
T load(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

// An allocated heap object: [offset, offset + size) lies inside the heap.
struct object_span {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t type = 0;
};

class decoder {
 public:
  decoder(const pool& p, const dump_options& o)
      : pool_(p),
        types_(*p.impl().types),
        options_(o),
        base_(p.base()),
        heap_begin_(p.heap_offset()),
        heap_end_(p.heap_offset() + p.heap_size()),
        tag_(p.impl().header.pool_tag) {}

  dump_result run();

 private:
  bool locate(std::uint64_t raw, object_span& span, std::string& why) const;
  dump_value value(std::uint32_t type_id, const std::byte* at, std::uint32_t depth);
  dump_value pointer(std::uint64_t raw, std::uint32_t declared, std::uint32_t depth);
  dump_value structure(const stored_type& t, const std::byte* at, std::uint32_t depth);
  dump_value field(const stored_field& f, const std::byte* at, std::uint32_t depth);
  dump_value string_value(const std::byte* at);
  dump_value vector_value(const stored_type& t, const std::byte* at, std::uint32_t depth);
  dump_value hash_map_value(const stored_type& t, const std::byte* at, std::uint32_t depth);
  dump_value btree_value(const stored_type& t, const std::byte* at, std::uint32_t depth);
  void mark_inner_nodes(std::uint64_t raw, std::uint32_t levels, std::uint32_t capacity,
                        const stored_type& key);
  const stored_type* element_type(std::uint32_t id, std::string& why) const;
  // Locates container storage; on failure returns false with `out` a problem.
  bool storage(std::uint64_t raw, const std::string& what, object_span& span, dump_value& out);
  dump_value problem(std::string what, std::uint64_t offset);
  const std::byte* at(std::uint64_t offset) const { return base_ + offset; }

  const pool& pool_;
  const detail::type_table& types_;
  dump_options options_;
  const std::byte* base_;
  std::uint64_t heap_begin_, heap_end_;
  std::uint16_t tag_;
  std::unordered_set<std::uint64_t> decoded_;  // objects decoded through pointers
  std::unordered_set<std::uint64_t> reached_;  // those and container storage
  std::uint64_t objects_ = 0;
  std::uint64_t problems_ = 0;
};

dump_value decoder::problem(std::string what, std::uint64_t offset) {
  ++problems_;
  dump_value v;
  v.what = kind::problem;
  v.text = std::move(what);
  v.offset = offset;
  return v;
}

bool decoder::locate(std::uint64_t raw, object_span& span, std::string& why) const {
  const std::uint64_t off = raw & offset_mask;
  if ((raw >> 48) != tag_) {
    why = "points into another pool (tag " + std::to_string(raw >> 48) + ")";
    return false;
  }
  if (off < heap_begin_ || off >= heap_end_) {
    why = "outside the heap";
    return false;
  }
  try {
    span.offset = off;
    span.size = pool_.object_size(base_ + off);
    span.type = pool_.object_type(base_ + off);
  } catch (const ferrite::error& e) {
    why = e.what();
    return false;
  }
  if (span.size > heap_end_ - off) {
    why = "its size " + std::to_string(span.size) + " runs past the end of the heap";
    return false;
  }
  return true;
}

bool decoder::storage(std::uint64_t raw, const std::string& what, object_span& span, dump_value& out) {
  std::string why;
  if (!locate(raw, span, why)) {
    out = problem("bad " + what + " storage @" + std::to_string(raw & offset_mask) + ": " + why,
                  raw & offset_mask);
    return false;
  }
  reached_.insert(span.offset);
  return true;
}

const stored_type* decoder::element_type(std::uint32_t id, std::string& why) const {
  const stored_type* t = types_.find(id);
  if (!t) why = "unknown element type id " + std::to_string(id);
  else if (t->size == 0) why = "element type '" + t->name + "' has size 0";
  else return t;
  return nullptr;
}

dump_value decoder::value(std::uint32_t type_id, const std::byte* p, std::uint32_t depth) {
  const stored_type* t = types_.find(type_id);
  if (!t) return problem("unknown type id " + std::to_string(type_id), 0);
  dump_value v;
  if (t->kind == type_kind::scalar) {
    switch (static_cast<scalar_kind>(t->subkind)) {
      case scalar_kind::boolean: {
        const auto byte = load<std::uint8_t>(p);
        if (byte > 1) {
          v.what = kind::unsigned_int;
          v.u = byte;
        } else {
          v.what = kind::boolean;
          v.b = byte != 0;
        }
        return v;
      }
      case scalar_kind::character:
        v.what = kind::character;
        v.text.assign(1, load<char>(p));
        return v;
      case scalar_kind::i8: v.i = load<std::int8_t>(p); break;
      case scalar_kind::i16: v.i = load<std::int16_t>(p); break;
      case scalar_kind::i32: v.i = load<std::int32_t>(p); break;
      case scalar_kind::i64: v.i = load<std::int64_t>(p); break;
      case scalar_kind::u8: v.what = kind::unsigned_int; v.u = load<std::uint8_t>(p); return v;
      case scalar_kind::u16: v.what = kind::unsigned_int; v.u = load<std::uint16_t>(p); return v;
      case scalar_kind::u32: v.what = kind::unsigned_int; v.u = load<std::uint32_t>(p); return v;
      case scalar_kind::u64: v.what = kind::unsigned_int; v.u = load<std::uint64_t>(p); return v;
      case scalar_kind::f32: v.what = kind::floating; v.f = load<float>(p); return v;
      case scalar_kind::f64: v.what = kind::floating; v.f = load<double>(p); return v;
      default: return problem("unknown scalar kind " + std::to_string(t->subkind), 0);
    }
    v.what = kind::signed_int;
    return v;
  }
  if (t->kind == type_kind::pointer) return pointer(load<std::uint64_t>(p), t->value, depth);
  if (depth >= options_.max_depth) {
    v.what = kind::elided;
    v.type = t->name;
    return v;
  }
  if (t->kind == type_kind::structure) return structure(*t, p, depth);
  if (t->kind != type_kind::container) return problem("type '" + t->name + "' has an unknown kind", 0);
  switch (static_cast<container_kind>(t->subkind)) {
    case container_kind::string: return string_value(p);
    case container_kind::vector: return vector_value(*t, p, depth);
    case container_kind::hash_map: return hash_map_value(*t, p, depth);
    case container_kind::map:
    case container_kind::set: return btree_value(*t, p, depth);
  }
  return problem("type '" + t->name + "' is an unknown container kind", 0);
}

dump_value decoder::pointer(std::uint64_t raw, std::uint32_t declared, std::uint32_t depth) {
  dump_value v;
  v.what = kind::pointer;
  v.offset = raw & offset_mask;
  v.type = declared ? types_.name_of(declared) : "untyped";
  if (raw == 0) return v;
  if ((raw >> 48) != tag_) {
    ++problems_;  // a pool only ever points into itself (object_ops.h)
    v.target = link::foreign;
    v.tag = static_cast<std::uint16_t>(raw >> 48);
    return v;
  }
  object_span span;
  std::string why;
  if (!locate(raw, span, why)) return problem("bad pointer @" + std::to_string(v.offset) + ": " + why, v.offset);
  // The allocation's own type id is the truth about the object; the
  // pointer's target type is used for objects allocated untyped.
  const std::uint32_t type_id = span.type ? span.type : declared;
  if (type_id) v.type = types_.name_of(type_id);
  if (span.type && declared && span.type != declared) {
    v.text = "pointer to " + types_.name_of(declared) + ", object is a " + v.type;
  }
  if (decoded_.count(span.offset)) {
    v.target = link::seen;
    return v;
  }
  if (depth >= options_.max_depth) {
    v.target = link::depth_limit;
    return v;
  }
  decoded_.insert(span.offset);
  reached_.insert(span.offset);
  ++objects_;
  v.target = link::expanded;
  if (type_id == 0) {
    v.size = span.size;
    return v;
  }
  const stored_type* t = types_.find(type_id);
  if (!t) return problem("object @" + std::to_string(span.offset) + " has unknown type id " + std::to_string(type_id), span.offset);
  if (t->size > span.size) {
    return problem("object @" + std::to_string(span.offset) + " of " + std::to_string(span.size) +
                       " bytes is smaller than its type " + t->name + " (" + std::to_string(t->size) +
                       " bytes)",
                   span.offset);
  }
  v.items.push_back(value(type_id, at(span.offset), depth));  // its fields are one level down
  return v;
}

dump_value decoder::structure(const stored_type& t, const std::byte* p, std::uint32_t depth) {
  dump_value v;
  v.what = kind::structure;
  v.type = t.name;
  for (const stored_field& f : t.fields) {
    v.names.push_back(f.name);
    if (f.offset > t.size || f.size > t.size - f.offset) {
      v.items.push_back(problem("field '" + f.name + "' lies outside its struct", 0));
    } else {
      v.items.push_back(field(f, p + f.offset, depth + 1));
    }
  }
  return v;
}

dump_value decoder::field(const stored_field& f, const std::byte* p, std::uint32_t depth) {
  if (f.count == 1) return value(f.type, p, depth);
  std::string why;
  const stored_type* e = element_type(f.type, why);
  if (!e) return problem("field '" + f.name + "': " + why, 0);
  if (std::uint64_t{f.count} * e->size > f.size) return problem("field '" + f.name + "' overflows its size", 0);
  dump_value v;
  if (e->kind == type_kind::scalar && e->subkind == static_cast<std::uint8_t>(scalar_kind::character)) {
    // A char array is text up to its first NUL.
    const char* c = reinterpret_cast<const char*>(p);
    v.what = kind::text;
    v.size = strnlen(c, f.count);
    v.text.assign(c, std::min<std::uint64_t>(v.size, options_.max_text));
    return v;
  }
  v.what = kind::sequence;
  v.size = f.count;
  const std::uint64_t shown = std::min<std::uint64_t>(f.count, options_.max_elements);
  for (std::uint64_t i = 0; i < shown; ++i) v.items.push_back(value(f.type, p + i * e->size, depth));
  v.omitted = f.count - shown;
  return v;
}

dump_value decoder::string_value(const std::byte* p) {
  const auto rep = load<detail::string_rep>(p);
  dump_value v;
  v.what = kind::text;
  v.type = "ferrite.string";
  v.size = rep.size;
  if (rep.data == 0) {
    if (rep.size || rep.capacity) return problem("string of " + std::to_string(rep.size) + " bytes without storage", 0);
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
    if (rep.size || rep.capacity) return problem("vector of " + std::to_string(rep.size) + " elements without storage", 0);
    return v;
  }
  object_span s;
  if (!storage(rep.data, "vector", s, v)) return v;
  if (rep.size > rep.capacity || rep.size > s.size / e->size) {
    return problem("vector of " + std::to_string(rep.size) + " elements of " + std::to_string(e->size) +
                       " bytes does not fit its storage @" + std::to_string(s.offset) + " of " +
                       std::to_string(s.size) + " bytes",
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
    if (rep.size) return problem("hash_map of " + std::to_string(rep.size) + " entries without buckets", 0);
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
  if (dir.size < std::uint64_t{detail::hash_max_segments} * 8 || buckets > (heap_end_ - heap_begin_) / 8) {
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
  const std::uint64_t leaf_bytes = values_off + (val ? std::uint64_t{rep.leaf_capacity} * val->size : 0);
  if (options_.all && rep.height > 0) mark_inner_nodes(rep.root, rep.height, rep.inner_capacity, *k);
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
      note(std::string(what) + " holds more keys than its size " + std::to_string(rep.size), n.offset);
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
  if (levels == 0 || levels > 64 || !locate(raw, n, why) || !reached_.insert(n.offset).second) return;
  const auto h = load<detail::btree_node_header>(at(n.offset));
  const std::uint64_t keys_off = align_up(sizeof h, key.align);
  const std::uint64_t children_off = align_up(keys_off + std::uint64_t{capacity} * key.size, 8);
  if (h.is_leaf != 0 || h.count > capacity || n.size < children_off + (capacity + 1ull) * 8) return;
  for (std::uint64_t i = 0; i <= h.count; ++i) {
    mark_inner_nodes(load<std::uint64_t>(at(n.offset + children_off + i * 8)), levels - 1, capacity, key);
  }
}

dump_result decoder::run() {
  dump_result r;
  r.path = pool_.path().string();
  r.types = types_.types();
  const std::uint64_t root = pool_.info().root_offset;
  if (root != 0) {
    r.has_root = true;
    // The superblock's root type; an unknown one ("unknown type N") leaves
    // the object's own type id to decide.
    const stored_type* t = types_.find(pool_.root_type_name());
    r.root = pointer(std::uint64_t{tag_} << 48 | root, t ? t->id : 0, 0);
  }
  if (options_.all) {
    r.listed_unreached = true;
    const detail::pool_impl& p = pool_.impl();
    detail::walk_heap(base_, p.store->size(), p.header, pool_.heap_size(),
                      [&](std::uint64_t data, const detail::object_header& h) {
                        if (reached_.count(data)) return;
                        r.unreached.push_back({data, detail::object_size_of(h), types_.name_of(h.type_id)});
                      });
  }
  r.objects = objects_;
  r.problems = problems_;
  return r;
}

}  // namespace

dump_result decode_pool(const pool& p, const dump_options& options) { return decoder(p, options).run(); }

}  // namespace ferrite::cli
