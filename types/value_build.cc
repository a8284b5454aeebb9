// build_cell: an input becomes a cell of a pool (value_format.h), its
// payloads allocated in the running transaction (new memory: no snapshot).
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "ferrite/base/error.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/types/detail/value_internal.h"
#include "ferrite/types/string.h"

namespace ferrite::detail {
namespace {

void set_length(value_cell_rep& r, std::uint64_t n) {
  if (n > value_length_max) fail(error_code::invalid_argument, "a value is too long for a cell");
  std::memcpy(r.length, &n, 6);
}

// str, bytes, encoded: inline up to value_inline_max bytes, else a buffer.
void put_text(pool_impl& p, value_cell_rep& r, std::string_view a, std::string_view b = {}) {
  const std::size_t n = a.size() + b.size();
  if (n <= value_inline_max) {
    r.inline_size = static_cast<std::uint8_t>(n + 1);
    auto* text = reinterpret_cast<char*>(&r) + 2;
    if (!a.empty()) std::memcpy(text, a.data(), a.size());
    if (!b.empty()) std::memcpy(text + a.size(), b.data(), b.size());
    return;
  }
  auto* payload = static_cast<char*>(tx_allocate(
      p, value_payload_header + n + 1, type_id_of(p, descriptor_of<ferrite::string>()), 8));
  std::memset(payload, 0, value_payload_header);  // no reference yet
  char* buf = payload + value_payload_header;
  if (!a.empty()) std::memcpy(buf, a.data(), a.size());
  if (!b.empty()) std::memcpy(buf + a.size(), b.data(), b.size());
  buf[n] = '\0';
  set_length(r, n);
  r.payload = pointer_bits(p, payload);
}

// A tuple's or frozenset's payload holding `items` (built cells, each
// retained here: the payload's cells are references).
void put_cells(pool_impl& p, value_cell_rep& r, const std::vector<value_cell_rep>& items) {
  const std::size_t n = items.size();
  set_length(r, n);
  if (n == 0) return;
  auto* payload =
      static_cast<std::byte*>(tx_allocate(p, value_payload_header + n * sizeof(value_cell),
                                          type_id_of(p, descriptor_of<vector<value_cell>>()), 8));
  std::memset(payload, 0, value_payload_header);  // no reference yet
  std::memcpy(payload + value_payload_header, items.data(), n * sizeof(value_cell));
  for (const value_cell_rep& c : items) retain(p, c);
  r.payload = pointer_bits(p, payload);
}

template <class Rep>
Rep* new_payload(pool_impl& p, value_cell_rep& r, const type_descriptor& d) {
  void* mem = tx_allocate(p, sizeof(Rep), type_id_of(p, d), alignof(Rep));
  r.payload = pointer_bits(p, mem);
  return ::new (mem) Rep{};
}

}  // namespace

void map_store(pool_impl& p, value_map& m, const input& key, const input& v) {
  atomically(p, [&] {
    auto it = m.find(value_key(key));
    const value_cell_rep vc = build_cell(p, v);
    if (it != m.end()) {
      store_cell(p, &it.value(), vc);
      return;
    }
    const value_cell_rep kc = build_cell(p, key);
    m.insert(as_cell(kc), as_cell(vc));
  });
}

bool set_add(pool_impl& p, member_map& m, const input& member) {
  return atomically(p, [&] {
    if (m.contains(value_key(member))) return false;
    const value_cell_rep kc = build_cell(p, member);
    m.insert(as_cell(kc), 1);
    return true;
  });
}

value_cell_rep build_cell(pool_impl& p, const input& in) {
  const input_node& n = in.node();
  value_cell_rep r{};
  if (n.shared) {
    const value_cell_rep& c = n.cell.rep();
    const bool by_bits = c.kind <= static_cast<std::uint8_t>(value_kind::floating) ||
                         ((c.kind == static_cast<std::uint8_t>(value_kind::string) ||
                           c.kind == static_cast<std::uint8_t>(value_kind::bytes) ||
                           c.kind == static_cast<std::uint8_t>(value_kind::encoded)) &&
                          c.inline_size != 0) ||
                         ((c.kind == static_cast<std::uint8_t>(value_kind::tuple) ||
                           c.kind == static_cast<std::uint8_t>(value_kind::frozenset)) &&
                          c.payload == 0);
    if (!by_bits) {
      check_pointer(p, c.payload,
                    "a value stored into this pool (values of another pool cannot be shared)");
    }
    return c;
  }
  r.kind = static_cast<std::uint8_t>(n.kind);
  switch (n.kind) {
    case value_kind::none:
      break;
    case value_kind::boolean:
      r.payload = n.boolean ? 1 : 0;
      break;
    case value_kind::integer:
      std::memcpy(&r.payload, &n.integer, 8);
      break;
    case value_kind::floating:
      std::memcpy(&r.payload, &n.floating, 8);
      break;
    case value_kind::string:
    case value_kind::bytes:
      put_text(p, r, n.text);
      break;
    case value_kind::encoded: {
      const char len = static_cast<char>(static_cast<std::uint8_t>(n.name.size()));
      put_text(p, r, std::string(1, len) + n.name, n.text);
      break;
    }
    case value_kind::list: {
      auto* l = new_payload<list_rep>(p, r, descriptor_of<list_rep>());
      if (!n.items.empty()) l->items.reserve(n.items.size());
      for (const input& item : n.items) l->items.push_back(as_cell(build_cell(p, item)));
      break;
    }
    case value_kind::dict: {
      auto* d = new_payload<dict_rep>(p, r, descriptor_of<dict_rep>());
      for (std::size_t i = 0; i + 1 < n.items.size(); i += 2) {
        map_store(p, d->items, n.items[i], n.items[i + 1]);
      }
      break;
    }
    case value_kind::set: {
      auto* s = new_payload<set_rep>(p, r, descriptor_of<set_rep>());
      for (const input& item : n.items) set_add(p, s->items, item);
      break;
    }
    case value_kind::object: {
      const type_descriptor* d = class_descriptor(n.name);
      if (!d) fail(error_code::invalid_argument, "class '" + n.name + "' is not registered");
      auto* o = new_payload<object_rep>(p, r, *d);
      for (std::size_t i = 0; i + 1 < n.items.size(); i += 2) {
        map_store(p, o->attributes, n.items[i], n.items[i + 1]);
      }
      break;
    }
    case value_kind::tuple: {
      std::vector<value_cell_rep> cells;
      cells.reserve(n.items.size());
      for (const input& item : n.items) cells.push_back(build_cell(p, item));
      put_cells(p, r, cells);
      break;
    }
    case value_kind::frozenset: {
      // Distinct members sorted by hash (value_format.h).
      std::vector<std::pair<std::uint64_t, value_cell_rep>> members;
      std::unordered_multimap<std::uint64_t, std::size_t> by_hash;  // into members
      for (const input& item : n.items) {
        const std::uint64_t h = value_hash(value_key(item));
        bool dup = false;
        auto [lo, hi] = by_hash.equal_range(h);
        for (auto it = lo; it != hi && !dup; ++it) {
          dup = value_equal(as_cell(members[it->second].second), value_key(item));
        }
        if (dup) continue;
        by_hash.emplace(h, members.size());
        members.emplace_back(h, build_cell(p, item));
      }
      std::stable_sort(members.begin(), members.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<value_cell_rep> cells;
      cells.reserve(members.size());
      for (const auto& m : members) cells.push_back(m.second);
      put_cells(p, r, cells);
      break;
    }
  }
  return r;
}

}  // namespace ferrite::detail
