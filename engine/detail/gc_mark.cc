// The mark phase of the garbage collector: locating objects, the work
// stack, structs, pointers and untyped objects. Containers and value cells
// are walked in gc_containers.cc.
#include "ferrite/engine/detail/gc_mark.h"

#include <cstring>
#include <string>

#include "ferrite/base/error.h"
#include "ferrite/base/format/type_table_format.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/type_table.h"

namespace ferrite::detail {
namespace {
constexpr std::uint64_t offset_mask = (1ull << 48) - 1;
}  // namespace

gc_marker::gc_marker(const pool_impl& p, mark_observer* observer)
    : pool_(p),
      observer_(observer),
      base_(p.store->working()),
      heap_begin_(p.header.heap_offset),
      heap_end_(p.header.heap_offset + p.state.heap_size),
      tag_(p.header.pool_tag),
      bits_((p.state.heap_size / 16 + 63) / 64),
      image_(*this) {}

gc_marker::layout_view::layout_view(gc_marker& m)
    : layout_image(m.base_, m.heap_begin_, m.heap_end_, m.tag_), m_(m) {}

bool gc_marker::layout_view::find(std::uint64_t offset, std::uint64_t, layout_part,
                                  layout_object& out, std::string& why) {
  object o;
  if (!m_.find(offset, o)) {
    why = "free space or heap metadata";
    return false;
  }
  out = {o.data, o.size, o.type};
  return true;
}

void gc_marker::layout_view::accepted(std::uint64_t from, const layout_object&) {
  if (m_.observer_) m_.observer_->pointer(from);
}

void gc_marker::collect_damage(std::vector<mark_damage>& out, std::size_t limit) {
  damage_ = &out;
  damage_limit_ = limit;
}

void gc_marker::record(const mark_damage& d) {
  ++damage_found_;
  if (damage_->size() < damage_limit_) damage_->push_back(d);
}

void gc_marker::corrupted(std::uint64_t at, const std::string& what) const {
  if (damage_) throw mark_damage{at, what};
  fail(error_code::corrupted,
       "pool '" + pool_.path.string() + "': garbage collection stopped at pool offset " +
           std::to_string(at) + ": " + what +
           "; nothing was freed (run `ferrite check` and `ferrite dump` on the pool)");
}

bool gc_marker::marked(std::uint64_t data) const noexcept {
  const std::uint64_t i = (data - heap_begin_) / 16;
  return bits_[i / 64] >> (i % 64) & 1;
}

bool gc_marker::set_mark(std::uint64_t data) {
  const std::uint64_t i = (data - heap_begin_) / 16;
  const std::uint64_t bit = 1ull << (i % 64);
  if (bits_[i / 64] & bit) return false;
  bits_[i / 64] |= bit;
  return true;
}

const stored_type& gc_marker::type_of(std::uint32_t id, std::uint64_t at) const {
  const stored_type* t = pool_.types->find(id);
  if (!t) corrupted(at, "type id " + std::to_string(id) + " is not in the pool's type table");
  return *t;
}

bool gc_marker::find(std::uint64_t off, object& o) {
  std::uint64_t data = 0, next = 0;
  object_header h;
  if (!pool_.heap->object_containing(off, &data, &h, &next)) return false;
  const std::uint64_t size = object_size_of(h);
  if (data < heap_begin_ || data > next || size > next - data || next > heap_end_) {
    corrupted(data, "the object header claims " + std::to_string(size) +
                        " bytes, more than its slot holds");
  }
  o.data = data;
  o.size = size;
  o.type = h.type_id;
  o.fresh = set_mark(data);
  if (o.fresh) {
    if (observer_) observer_->reached(data, size, h.type_id);
    stack_.push_back({work::op::object, data, size, h.type_id});
  }
  return true;
}

gc_marker::object gc_marker::locate(std::uint64_t raw, std::uint64_t from, const char* what) {
  if ((raw >> 48) != tag_) {
    corrupted(from, std::string(what) + " holds " + std::to_string(raw) +
                        ", not a pointer into this pool (tag " + std::to_string(raw >> 48) +
                        ", the pool's is " + std::to_string(tag_) + ")");
  }
  object o;
  if (!find(raw & offset_mask, o)) {
    corrupted(from, std::string(what) + " points to pool offset " +
                        std::to_string(raw & offset_mask) +
                        ", which is free space or outside the heap");
  }
  return o;
}

gc_marker::object gc_marker::storage(std::uint64_t raw, std::uint64_t need, std::uint64_t from,
                                     const char* what) {
  object o = locate(raw, from, what);
  if (o.data != (raw & offset_mask) || o.size < need) {
    corrupted(from, std::string(what) + " at pool offset " + std::to_string(raw & offset_mask) +
                        " is not the start of an allocation of at least " + std::to_string(need) +
                        " bytes");
  }
  return o;
}

const std::vector<gc_marker::plan_entry>& gc_marker::plan(std::uint32_t id, int depth) {
  if (auto it = plans_.find(id); it != plans_.end()) return it->second;
  if (depth > 64) corrupted(0, "the type table nests types more than 64 deep");
  const stored_type& t = type_of(id, 0);
  std::vector<plan_entry> out;
  switch (t.kind) {
    case type_kind::scalar:
    case type_kind::lock:  // run-time state, no pointers (engine/pmutex.h)
      break;
    case type_kind::pointer:
      out.push_back({plan_entry::what::pointer, 0, t.value});
      break;
    case type_kind::container:
      if (t.subkind == static_cast<std::uint8_t>(container_kind::value)) {
        out.push_back({plan_entry::what::cell, 0, id});
      } else {
        out.push_back({plan_entry::what::container, 0, id});
      }
      break;
    case type_kind::structure:
      for (const stored_field& f : t.fields) {
        const std::vector<plan_entry> inner = plan(f.type, depth + 1);  // a copy: plans_ may rehash
        if (inner.empty()) continue;
        const std::uint32_t stride = type_of(f.type, 0).size;
        for (std::uint32_t k = 0; k < f.count; ++k) {
          for (plan_entry e : inner) {
            e.offset += f.offset + k * stride;
            out.push_back(e);
          }
        }
      }
      break;
  }
  return plans_.emplace(id, std::move(out)).first->second;
}

void gc_marker::follow(std::uint64_t raw, std::uint32_t target, std::uint64_t from) {
  if (raw == 0) return;
  const object o = locate(raw, from, "a pointer");
  if (target == 0) return;
  // The header's walk covers a target of the object's own type; a pointer
  // into container storage, or to a container handle made on its own, is
  // walked as the type it declares.
  const stored_type& t = type_of(target, from);
  const std::uint64_t off = raw & offset_mask;
  if (damage_) check_pointer(off, t, o, from);
  if (plan(target).empty()) return;
  if (target == o.type && t.kind != type_kind::container) return;
  if (off - o.data > o.size || t.size > o.size - (off - o.data)) {
    corrupted(from, "a pointer to a '" + t.name + "' at pool offset " + std::to_string(off) +
                        " runs past the end of its object");
  }
  if (typed_walks_.insert(std::uint64_t{target} << 48 | off).second) {
    stack_.push_back({work::op::values, off, 1, target});
  }
}

void gc_marker::check_pointer(std::uint64_t off, const stored_type& t, const object& o,
                              std::uint64_t from) {
  // The message is built only for damage: this runs for every pointer.
  auto what = [&] {
    return "a pointer to a '" + t.name + "' at pool offset " + std::to_string(off);
  };
  if (t.align > 1 && off % t.align != 0) {
    corrupted(from, what() + " is not aligned to " + std::to_string(t.align) + " bytes");
  }
  if (off - o.data > o.size || t.size > o.size - (off - o.data)) {
    corrupted(from, what() + " runs past the end of its object (" + std::to_string(o.size) +
                        " bytes at pool offset " + std::to_string(o.data) + ")");
  }
  if (t.kind != type_kind::container && o.type == t.id && (off - o.data) % t.size != 0) {
    corrupted(from, what() + " points inside one of the values of its object (at pool offset " +
                        std::to_string(o.data) + "), not at one");
  }
}

void gc_marker::walk_value(std::uint32_t type, std::uint64_t at, int depth) {
  if (depth > 64) corrupted(at, "containers nest more than 64 deep (a damaged type table)");
  for (const plan_entry& e : plan(type)) {
    const std::uint64_t where = at + e.offset;
    switch (e.what) {
      case plan_entry::what::pointer: {
        const auto raw = load<std::uint64_t>(where);
        follow(raw, e.type, where);
        if (raw != 0 && observer_) observer_->pointer(where);
        break;
      }
      case plan_entry::what::container:
        container(type_of(e.type, where), where, depth);
        break;
      case plan_entry::what::cell:
        walk_cell(where);
        break;
    }
  }
}

void gc_marker::scan_untyped(std::uint64_t data, std::uint64_t size) {
  for (std::uint64_t at = (data + 7) / 8 * 8; at + 8 <= data + size; at += 8) {
    const std::uint64_t v = load<std::uint64_t>(at);
    const std::uint64_t hi = v >> 48;
    if (hi != 0 && hi != tag_) continue;
    const std::uint64_t off = v & offset_mask;
    if (off < heap_begin_ || off >= heap_end_) continue;
    object o;
    find(off, o);
  }
}

void gc_marker::walk_object(const work& w) {
  if (w.type == 0) {
    if (observer_) observer_->untyped(w.at, w.count);
    scan_untyped(w.at, w.count);
    return;
  }
  const stored_type& t = type_of(w.type, w.at);
  // Container storage (and handles made on their own) carry the
  // container's type id: walked by their owner, or by a typed pointer.
  if (t.kind == type_kind::container) return;
  if (w.count < t.size && (damage_ || !plan(w.type).empty())) {
    corrupted(w.at, "an object of " + std::to_string(w.count) +
                        " bytes is smaller than its type '" + t.name + "' (" +
                        std::to_string(t.size) + " bytes)");
  }
  if (plan(w.type).empty()) return;
  const std::uint64_t n = w.count / t.size;  // an object may hold an array of its type
  if (n) stack_.push_back({work::op::values, w.at, n, w.type});
}

void gc_marker::drain() {
  while (!stack_.empty()) {
    const work w = stack_.back();
    stack_.pop_back();
    if (!damage_) {
      step(w);
      continue;
    }
    try {
      step(w);
    } catch (const mark_damage& d) {
      record(d);  // the rest of this item is not walked; the next one is
    }
  }
}

void gc_marker::step(const work& w) {
  // In check mode damage in one value or cell of an array stops only that
  // element: the others are walked.
  auto each = [&](auto&& walk_one) {
    for (std::uint64_t i = 0; i < w.count; ++i) {
      if (!damage_) {
        walk_one(i);
        continue;
      }
      try {
        walk_one(i);
      } catch (const mark_damage& d) {
        record(d);
      }
    }
  };
  switch (w.op) {
    case work::op::object:
      walk_object(w);
      break;
    case work::op::values: {
      const std::uint32_t stride = type_of(w.type, w.at).size;
      each([&](std::uint64_t i) { walk_value(w.type, w.at + i * stride, 0); });
      break;
    }
    case work::op::cells:
      each([&](std::uint64_t i) { walk_cell(w.at + i * 16); });
      break;
  }
}

void gc_marker::mark_root() {
  const std::pair<std::uint64_t, std::uint64_t> live = pool_.log->live_root();
  const std::uint64_t off = live.first;
  if (off == 0) return;
  const auto type = static_cast<std::uint32_t>(live.second);
  try {
    object o;
    if (!find(off, o) || o.data != off) {
      corrupted(off, "the root is not an allocated object");
    }
    follow(std::uint64_t{tag_} << 48 | off, type, off);
  } catch (const mark_damage& d) {
    record(d);  // check mode: what find() queued is still walked
  }
  drain();
}

void gc_marker::mark_pinned(const std::vector<pinned_cell>& cells) {
  for (const pinned_cell& pin : cells) {
    value_cell_rep c;
    std::memcpy(&c, pin.cell, sizeof c);
    try {
      walk_cell_rep(c, c.payload & ((std::uint64_t{1} << 48) - 1), false);
    } catch (const mark_damage& d) {
      record(d);
    }
  }
  drain();
}

}  // namespace ferrite::detail
