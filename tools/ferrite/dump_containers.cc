// Decoding the containers of base/format/container_format.h for `ferrite dump`:
// string, vector, hash_map (linear hashing) and the B+-tree of map and set.
// The layouts are walked by the shared decoder (base/detail/container_layout.h),
// which checks every storage object before reading it (dump_decoder.h,
// invariants 2 and 3); its damage becomes a problem value in place (string,
// vector, a damaged handle) or a note after the elements decoded so far
// (hash_map, map, set). Containers are walked whole, so that --all sees all
// their storage; only the first options.max_elements elements are decoded.
#include <string>

#include "ferrite/base/format/container_format.h"
#include "tools/ferrite/dump_decoder.h"

namespace ferrite::cli::dump_detail {

dump_value decoder::damaged(const detail::layout_damage& d) {
  return problem(d.what(), d.at());
}

dump_value decoder::string_value(const std::byte* p) {
  const auto rep = load<detail::string_rep>(p);
  dump_value v;
  v.what = kind::text;
  v.type = "ferrite.string";
  v.size = rep.size;
  try {
    const detail::string_storage s = detail::decode_string(image_, offset_of(p));
    if (s.buffer.offset != 0) {
      v.text.assign(reinterpret_cast<const char*>(at(s.buffer.offset)),
                    std::min(s.size, options_.max_text));
    }
  } catch (const detail::layout_damage& d) {
    return damaged(d);
  }
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
  detail::vector_storage s;
  try {
    s = detail::decode_vector(image_, offset_of(p), e->size);
  } catch (const detail::layout_damage& d) {
    return damaged(d);
  }
  const std::uint64_t shown = std::min(s.size, options_.max_elements);
  for (std::uint64_t i = 0; i < shown; ++i) {
    v.items.push_back(value(e->id, at(s.buffer.offset + i * e->size), depth + 1));
  }
  v.omitted = s.size - shown;
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
  const detail::element_shape key_shape{k->size, k->align};
  const detail::element_shape value_shape =
      val ? detail::element_shape{val->size, val->align} : detail::element_shape{};
  std::uint64_t found = 0;
  bool stopped = false;  // not every node was walked
  try {
    detail::walk_hash_map(image_, offset_of(p), key_shape, value_shape,
                          [&](const detail::hash_map_node& n) {
                            if (++found <= options_.max_elements) {
                              v.keys.push_back(value(k->id, at(n.key), depth + 1));
                              if (val) v.items.push_back(value(val->id, at(n.value), depth + 1));
                            }
                            return true;
                          });
  } catch (const detail::layout_damage& d) {
    // Damage before any node (a bad handle) replaces the value.
    if (found == 0 && !d.count_only() && d.at() == offset_of(p)) return damaged(d);
    v.notes.push_back(damaged(d));
    stopped = !d.count_only();
  }
  if (!val) v.items = std::move(v.keys), v.keys.clear();
  // Elements not walked are counted from the size.
  const std::uint64_t shown = std::min(found, options_.max_elements);
  const std::uint64_t total = stopped ? rep.size : found;
  v.omitted = total > shown ? total - shown : 0;
  return v;
}

// The leaves come in key order (the decoder walks the tree left to right
// and checks the leaf chain against it).
dump_value decoder::btree_value(const stored_type& t, const std::byte* p, std::uint32_t depth) {
  const auto rep = load<detail::btree_rep>(p);
  const bool is_set = t.subkind == static_cast<std::uint8_t>(container_kind::set);
  dump_value v;
  v.what = is_set ? kind::sequence : kind::mapping;
  v.type = t.name;
  v.size = rep.size;
  std::string why;
  const stored_type* k = element_type(t.key, why);
  const stored_type* val = is_set ? nullptr : element_type(t.value, why);
  if (!k || (!is_set && !val)) return problem(t.name + ": " + why, 0);
  const detail::element_shape key_shape{k->size, k->align};
  const detail::element_shape value_shape =
      val ? detail::element_shape{val->size, val->align} : detail::element_shape{};
  std::uint64_t found = 0;
  bool stopped = false;
  try {
    detail::walk_btree(
        image_, offset_of(p), key_shape, value_shape, [&](const detail::btree_node_view& n) {
          for (std::uint64_t i = 0; n.level == 0 && i < n.count; ++i) {
            if (++found > options_.max_elements) continue;
            dump_value key = value(k->id, at(n.keys + i * k->size), depth + 1);
            if (is_set) {
              v.items.push_back(std::move(key));
            } else {
              v.keys.push_back(std::move(key));
              v.items.push_back(value(val->id, at(n.values + i * val->size), depth + 1));
            }
          }
          return true;
        });
  } catch (const detail::layout_damage& d) {
    if (found == 0 && !d.count_only() && d.at() == offset_of(p)) return damaged(d);
    v.notes.push_back(damaged(d));
    stopped = !d.count_only();
  }
  // Elements not walked are counted from the size.
  const std::uint64_t shown = std::min(found, options_.max_elements);
  const std::uint64_t total = stopped ? rep.size : found;
  v.omitted = total > shown ? total - shown : 0;
  return v;
}

}  // namespace ferrite::cli::dump_detail
