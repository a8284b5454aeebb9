// Decoding a pool's object graph from its type table: the graph walk
// (see dump.h; the decoder's invariants are in dump_decoder.h).
#include <string>

#include "ferrite/alloc/heap_check.h"
#include "ferrite/base/error.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "tools/ferrite/dump_decoder.h"

namespace ferrite::cli {
namespace dump_detail {

decoder::decoder(const pool& p, const dump_options& o)
    : pool_(p),
      types_(*detail::impl_of(p).types),
      options_(o),
      base_(p.base()),
      heap_begin_(p.heap_offset()),
      heap_end_(p.heap_offset() + p.heap_size()),
      tag_(detail::impl_of(p).header.pool_tag),
      image_(*this) {}

decoder::layout_view::layout_view(decoder& d)
    : layout_image(d.base_, d.heap_begin_, d.heap_end_, d.tag_), d_(d) {}

bool decoder::layout_view::find(std::uint64_t offset, std::uint64_t, detail::layout_part,
                                detail::layout_object& out, std::string& why) {
  object_span s;
  if (!d_.locate(std::uint64_t{d_.tag_} << 48 | offset, s, why)) return false;
  d_.reached_.insert(s.offset);
  out = {s.offset, s.size, s.type};
  return true;
}

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

bool decoder::storage(std::uint64_t raw, const std::string& what, object_span& span,
                      dump_value& out) {
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
  if (t && t->size > 0) return t;
  why = t ? "element type '" + t->name + "' has size 0"
          : "unknown element type id " + std::to_string(id);
  return nullptr;
}

dump_value decoder::scalar(scalar_kind k, const std::byte* p) {
  dump_value v;
  v.what = kind::signed_int;
  switch (k) {
    case scalar_kind::boolean:
      v.u = load<std::uint8_t>(p);  // a byte other than 0 or 1 shows as a number
      v.what = v.u > 1 ? kind::unsigned_int : kind::boolean;
      v.b = v.u == 1;
      return v;
    case scalar_kind::character:
      v.what = kind::character;
      v.text.assign(1, load<char>(p));
      return v;
    case scalar_kind::i8:
      v.i = load<std::int8_t>(p);
      return v;
    case scalar_kind::i16:
      v.i = load<std::int16_t>(p);
      return v;
    case scalar_kind::i32:
      v.i = load<std::int32_t>(p);
      return v;
    case scalar_kind::i64:
      v.i = load<std::int64_t>(p);
      return v;
    case scalar_kind::f32:
      v.what = kind::floating;
      v.f = load<float>(p);
      return v;
    case scalar_kind::f64:
      v.what = kind::floating;
      v.f = load<double>(p);
      return v;
    default:
      break;
  }
  v.what = kind::unsigned_int;
  switch (k) {
    case scalar_kind::u8:
      v.u = load<std::uint8_t>(p);
      return v;
    case scalar_kind::u16:
      v.u = load<std::uint16_t>(p);
      return v;
    case scalar_kind::u32:
      v.u = load<std::uint32_t>(p);
      return v;
    case scalar_kind::u64:
      v.u = load<std::uint64_t>(p);
      return v;
    default:
      return problem("unknown scalar kind " + std::to_string(static_cast<int>(k)), 0);
  }
}

dump_value decoder::value(std::uint32_t type_id, const std::byte* p, std::uint32_t depth) {
  const stored_type* t = types_.find(type_id);
  if (!t) return problem("unknown type id " + std::to_string(type_id), 0);
  dump_value v;
  if (t->kind == type_kind::scalar) return scalar(static_cast<scalar_kind>(t->subkind), p);
  if (t->kind == type_kind::pointer) return pointer(load<std::uint64_t>(p), t->value, depth);
  if (t->kind == type_kind::lock) {
    // Run-time state, reset by every open: what kind of lock, never its bytes.
    v.what = kind::lock;
    v.type = t->name;
    v.text = t->subkind == static_cast<std::uint8_t>(lock_kind::shared) ? "shared" : "exclusive";
    return v;
  }
  if (depth >= options_.max_depth) {
    v.what = kind::elided;
    v.type = t->name;
    return v;
  }
  if (t->kind == type_kind::structure) return structure(*t, p, depth);
  if (t->kind != type_kind::container)
    return problem("type '" + t->name + "' has an unknown kind", 0);
  switch (static_cast<container_kind>(t->subkind)) {
    case container_kind::string:
      return string_value(p);
    case container_kind::vector:
      return vector_value(*t, p, depth);
    case container_kind::hash_map:
      return hash_map_value(*t, p, depth);
    case container_kind::map:
    case container_kind::set:
      return btree_value(*t, p, depth);
    case container_kind::value:
      return cell_value(p, depth);
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
  if (!locate(raw, span, why))
    return problem("bad pointer @" + std::to_string(v.offset) + ": " + why, v.offset);
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
  if (!t)
    return problem("object @" + std::to_string(span.offset) + " has unknown type id " +
                       std::to_string(type_id),
                   span.offset);
  if (t->size > span.size) {
    return problem("object @" + std::to_string(span.offset) + " of " + std::to_string(span.size) +
                       " bytes is smaller than its type " + t->name + " (" +
                       std::to_string(t->size) + " bytes)",
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
  if (std::uint64_t{f.count} * e->size > f.size)
    return problem("field '" + f.name + "' overflows its size", 0);
  dump_value v;
  if (e->kind == type_kind::scalar &&
      e->subkind == static_cast<std::uint8_t>(scalar_kind::character)) {
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
  for (std::uint64_t i = 0; i < shown; ++i)
    v.items.push_back(value(f.type, p + i * e->size, depth + 1));
  v.omitted = f.count - shown;
  return v;
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
    const detail::pool_impl& p = detail::impl_of(pool_);
    detail::walk_heap(
        base_, p.store->size(), detail::heap_layout_of(p.header, p.state),
        [&](std::uint64_t data, const detail::object_header& h) {
          if (reached_.count(data)) return;
          r.unreached.push_back({data, detail::object_size_of(h), types_.name_of(h.type_id)});
        });
  }
  r.objects = objects_;
  r.problems = problems_;
  return r;
}

}  // namespace dump_detail

dump_result decode_pool(const pool& p, const dump_options& options) {
  return dump_detail::decoder(p, options).run();
}

}  // namespace ferrite::cli
