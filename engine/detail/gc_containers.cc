// The mark phase for container storage (container_format.h) and value cells
// (value_format.h). Containers are decoded by the shared layout decoder
// (base/detail/container_layout.h), which locates (and, through
// layout_view::find, marks) each storage object before reading it and turns
// nodes reached twice, loops and sizes that disagree with the storage into
// layout_damage; here it becomes corruption (gc_mark.h, invariant 3). Their
// elements are walked by the element types the container's stored type
// names.
#include <cstddef>
#include <string>

#include "ferrite/base/detail/container_layout.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/base/format/value_format.h"
#include "ferrite/engine/detail/gc_mark.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/type_table.h"

namespace ferrite::detail {

element_shape gc_marker::shape(std::uint32_t type, std::uint64_t at) const {
  const stored_type& t = type_of(type, at);
  return {t.size, t.align};
}

void gc_marker::container(const stored_type& t, std::uint64_t at, int depth) {
  try {
    switch (static_cast<container_kind>(t.subkind)) {
      case container_kind::string:
        decode_string(image_, at);
        break;
      case container_kind::vector:
        vector_elements(t, at);
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
        corrupted(at,
                  "'" + t.name + "' is a container of unknown kind " + std::to_string(t.subkind));
    }
  } catch (const layout_damage& d) {
    corrupted(d.at(), "'" + t.name + "': " + d.what());
  }
}

void gc_marker::vector_elements(const stored_type& t, std::uint64_t at) {
  const vector_storage v = decode_vector(image_, at, shape(t.value, at).size);
  if (v.size && !plan(t.value).empty()) {
    stack_.push_back({work::op::values, v.buffer.offset, v.size, t.value});
  }
}

void gc_marker::hash_map_storage(const stored_type& t, std::uint64_t at, int depth) {
  const element_shape value = t.value ? shape(t.value, at) : element_shape{};
  const bool walk_keys = !plan(t.key).empty(), walk_values = t.value && !plan(t.value).empty();
  walk_hash_map(image_, at, shape(t.key, at), value, [&](const hash_map_node& n) {
    if (walk_keys) walk_value(t.key, n.key, depth + 1);
    if (walk_values) walk_value(t.value, n.value, depth + 1);
    return true;
  });
}

// Inner nodes' keys are walked too: separators own their storage (string
// keys are copies of leaf keys).
void gc_marker::btree_storage(const stored_type& t, std::uint64_t at, int depth) {
  const bool is_set = t.subkind == static_cast<std::uint8_t>(container_kind::set);
  const element_shape key = shape(t.key, at);
  const element_shape value = !is_set && t.value ? shape(t.value, at) : element_shape{};
  const bool walk_keys = !plan(t.key).empty(), walk_values = value.size && !plan(t.value).empty();
  if (observer_ && load<btree_rep>(at).first_leaf != 0) {
    observer_->pointer(at + offsetof(btree_rep, first_leaf));
  }
  walk_btree(image_, at, key, value, [&](const btree_node_view& n) {
    // The leaf chain is checked by the walk, not located through storage().
    if (observer_ && n.level == 0 && load<btree_node_header>(n.node).next_leaf != 0) {
      observer_->pointer(n.node + offsetof(btree_node_header, next_leaf));
    }
    for (std::uint64_t i = 0; i < n.count && walk_keys; ++i) {
      walk_value(t.key, n.keys + i * key.size, depth + 1);
    }
    for (std::uint64_t i = 0; n.level == 0 && i < n.count && walk_values; ++i) {
      walk_value(t.value, n.values + i * value.size, depth + 1);
    }
    return true;
  });
}

void gc_marker::walk_cell(std::uint64_t at) {
  walk_cell_rep(load<value_cell_rep>(at), at, true);
}

void gc_marker::walk_cell_rep(const value_cell_rep& c, std::uint64_t at, bool counted) {
  if (c.kind >= value_kind_count)
    corrupted(at, "a value cell has unknown kind " + std::to_string(c.kind));
  const auto kind = static_cast<value_kind>(c.kind);
  const std::uint64_t length = value_length(c);
  // The payload pointer, located (and marked) as storage of `need` bytes.
  auto payload = [&](std::uint64_t need, const char* what) {
    const object o = storage(c.payload, need, at, what);
    if (observer_) observer_->pointer(at + offsetof(value_cell_rep, payload));
    return o;
  };
  switch (kind) {
    case value_kind::none:
    case value_kind::integer:
    case value_kind::floating:
      return;
    case value_kind::boolean:
      if (damage_ && c.payload > 1) {
        corrupted(at, "a bool value cell holds " + std::to_string(c.payload));
      }
      return;
    case value_kind::string:
    case value_kind::bytes:
    case value_kind::encoded: {
      // Text inline (encoded values too, when short), or a buffer after the
      // payload's count.
      if (c.inline_size > value_inline_max + 1)
        corrupted(at, "a value cell's inline text is too long");
      if (c.inline_size != 0) {
        if (damage_) check_cell(c, at, object{});
        return;
      }
      if (c.payload == 0) {
        if (length) corrupted(at, "a value of " + std::to_string(length) + " bytes has no buffer");
        return;
      }
      // Every text buffer holds a byte after the text (a str's NUL); the
      // collector needs only the text.
      const std::uint64_t text = kind == value_kind::encoded && !damage_ ? length : length + 1;
      const object o = payload(value_payload_header + text, "a value's buffer");
      if (damage_) check_cell(c, at, o);
      if (counted) ++value_refs_[o.data];
      return;
    }
    case value_kind::tuple:
    case value_kind::frozenset: {
      if (c.payload == 0) {
        if (length) corrupted(at, "a value of " + std::to_string(length) + " items has no buffer");
        return;
      }
      if (damage_ && length == 0) corrupted(at, "an empty tuple or frozenset cell has a buffer");
      if (length > (heap_end_ - heap_begin_) / 16)
        corrupted(at, "a value's item count is impossible");
      const object o = payload(value_payload_header + length * 16, "a value's items");
      if (damage_) check_cell(c, at, o);
      if (counted) ++value_refs_[o.data];
      // Immutable item buffers may be shared: walked once.
      if (length && typed_walks_.insert(std::uint64_t{0xffff} << 48 | o.data).second) {
        stack_.push_back({work::op::cells, o.data + value_payload_header, length, 0});
      }
      return;
    }
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::object:
      // A shared payload struct, walked by its own header type (find()
      // queued it when it was first marked).
      if (c.payload != 0) {
        const object o = payload(8, "a value's payload");
        if (damage_) check_cell(c, at, o);
        if (counted) ++value_refs_[o.data];
      } else if (damage_) {
        corrupted(at, "a list, dict, set or object value cell has no payload");
      }
      return;
  }
}

// REQUIRES: check mode; `o` is the cell's located payload (none for inline
// text), at least as large as walk_cell_rep asked storage() for.
void gc_marker::check_cell(const value_cell_rep& c, std::uint64_t at, const object& o) {
  const auto kind = static_cast<value_kind>(c.kind);
  auto wrong_type = [&](const char* want) {
    corrupted(at, "a value cell's payload at pool offset " + std::to_string(o.data) + " is a '" +
                      pool_.types->name_of(o.type) + "', not " + want);
  };
  switch (kind) {
    case value_kind::string:
    case value_kind::bytes:
    case value_kind::encoded: {
      const bool inline_text = c.inline_size != 0;
      const std::uint64_t n = inline_text ? c.inline_size - 1u : value_length(c);
      const std::byte* text = inline_text ? reinterpret_cast<const std::byte*>(&c) + 2
                                          : base_ + o.data + value_payload_header;
      if (!inline_text) {
        if (!is_type(o.type, "ferrite.string")) wrong_type("a 'ferrite.string'");
        if (kind == value_kind::string && text[n] != std::byte{0}) {
          corrupted(at, "a str buffer at pool offset " + std::to_string(o.data) +
                            " does not end in NUL after its " + std::to_string(n) + " bytes");
        }
      }
      if (kind == value_kind::encoded) {  // u8 name length, name, data
        const std::uint64_t name = n ? std::to_integer<std::uint64_t>(text[0]) : 0;
        if (name == 0 || 1 + name > n) {
          corrupted(at, "an encoded value of " + std::to_string(n) + " bytes has a codec name of " +
                            std::to_string(name) + " bytes");
        }
      }
      return;
    }
    case value_kind::tuple:
    case value_kind::frozenset:
      if (!is_type(o.type, "ferrite.vector<ferrite.value>")) {
        wrong_type("a 'ferrite.vector<ferrite.value>'");
      }
      return;
    case value_kind::list:
      if (!is_type(o.type, list_type_name)) wrong_type("a 'ferrite.list'");
      return;
    case value_kind::dict:
      if (!is_type(o.type, dict_type_name)) wrong_type("a 'ferrite.dict'");
      return;
    case value_kind::set:
      if (!is_type(o.type, set_type_name)) wrong_type("a 'ferrite.set'");
      return;
    case value_kind::object:
      if (!is_object_class(o.type)) wrong_type("a class's struct { refs, attributes }");
      return;
    default:
      return;
  }
}

bool gc_marker::is_type(std::uint32_t id, const char* name) const {
  const stored_type* t = pool_.types->find(id);
  return t && t->name == name;
}

// An object's payload: { u64 refs; hash_map<ferrite.value,ferrite.value>
// attributes } under the class's name (value_format.h).
bool gc_marker::is_object_class(std::uint32_t id) const {
  const stored_type* t = pool_.types->find(id);
  return t && t->kind == type_kind::structure && t->fields.size() == 2 &&
         t->fields[0].name == "refs" && t->fields[1].name == "attributes" &&
         is_type(t->fields[1].type, "ferrite.hash_map<ferrite.value,ferrite.value>");
}

}  // namespace ferrite::detail
