#include "tools/crash/readers/value_walk.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "ferrite/base/format/container_format.h"
#include "ferrite/types/value.h"
#include "tools/crash/readers/container_walk.h"

namespace ferrite::crash {
namespace {

constexpr const char* cells_type = "ferrite.vector<ferrite.value>";
constexpr const char* value_map_type = "ferrite.hash_map<ferrite.value,ferrite.value>";
constexpr const char* member_map_type = "ferrite.hash_map<ferrite.value,u8>";
constexpr int max_depth = 100;

[[noreturn]] void broken(const std::string& what) {
  throw broken_image(what);
}

detail::value_cell_rep rep_at(const std::byte* c) {
  detail::value_cell_rep r;
  std::memcpy(&r, c, sizeof r);
  return r;
}

std::uint64_t length_of(const detail::value_cell_rep& r) {
  std::uint64_t n = 0;
  std::memcpy(&n, r.length, 6);
  return n;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

}  // namespace

std::string canonical_float(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

std::string canonical_text(bool bytes, const std::string& raw) {
  if (!bytes) return "'" + raw + "'";
  std::string s = "b'";
  char buf[4];
  for (unsigned char c : raw) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s + "'";
}

const std::byte* value_walk::payload(std::uint64_t bits, std::string_view type, std::size_t size,
                                     const std::string& what) {
  // Immutable payloads may be shared: counted as reached once.
  const bool first = !ids_.count(bits) && bits != 0;
  const std::byte* o = v_.object(bits, type, size, what, first);
  if (!o) broken(what + " is null");
  if (first) ids_.emplace(bits, UINT64_MAX);  // an immutable payload: no visit number
  payloads_.emplace(bits, o);
  return o;
}

std::string value_walk::wrong_counts() const {
  for (const auto& [bits, start] : payloads_) {
    std::uint64_t stored;
    std::memcpy(&stored, start + detail::value_refs_offset, sizeof stored);
    const auto it = references_.find(bits);
    const std::uint64_t cells = it == references_.end() ? 0 : it->second;
    if (stored != cells) {
      return "the payload @" + std::to_string(bits & ((1ull << 48) - 1)) +
             " has a reference count of " + std::to_string(stored) + " but " +
             std::to_string(cells) + " cells name it";
    }
  }
  return "";
}

std::string value_walk::root() {
  const std::byte* r = reinterpret_cast<const std::byte*>(v_.root<value_cell>());
  if (!r) return "";
  return cell(r, 0);
}

std::string value_walk::text(const std::byte* c, std::uint8_t kind) {
  const detail::value_cell_rep r = rep_at(c);
  if (r.inline_size != 0) {
    if (r.inline_size - 1u > detail::value_inline_max) {
      broken("a value cell with inline length " + std::to_string(r.inline_size - 1));
    }
    return std::string(reinterpret_cast<const char*>(c) + 2, r.inline_size - 1u);
  }
  const std::uint64_t n = length_of(r);
  if (n <= detail::value_inline_max) {
    broken("a text of " + std::to_string(n) + " bytes stored out of line (kind " +
           std::to_string(kind) + ")");
  }
  const auto* buf = reinterpret_cast<const char*>(payload(r.payload, "ferrite.string",
                                                          detail::value_payload_header + n + 1,
                                                          "a text value's buffer")) +
                    detail::value_payload_header;
  if (buf[n] != '\0') broken("a text value's buffer does not end in NUL");
  return std::string(buf, n);
}

std::string value_walk::cell(const std::byte* c, int depth) {
  if (depth > max_depth) broken("values nested deeper than " + std::to_string(max_depth));
  const detail::value_cell_rep r = rep_at(c);
  // A cell met again (inside a shared tuple) is still one reference.
  if (detail::has_payload(r) && cells_seen_.insert(c).second) ++references_[r.payload];
  switch (static_cast<value_kind>(r.kind)) {
    case value_kind::none:
      return "None";
    case value_kind::boolean:
      if (r.payload > 1) broken("a bool cell holding " + std::to_string(r.payload));
      return r.payload ? "True" : "False";
    case value_kind::integer: {
      std::int64_t i;
      std::memcpy(&i, &r.payload, 8);
      return std::to_string(i);
    }
    case value_kind::floating: {
      double d;
      std::memcpy(&d, &r.payload, 8);
      return canonical_float(d);
    }
    case value_kind::string:
    case value_kind::bytes:
      return canonical_text(r.kind == static_cast<std::uint8_t>(value_kind::bytes),
                            text(c, r.kind));
    case value_kind::encoded: {
      const std::string t = text(c, r.kind);
      const std::size_t n = t.empty() ? 0 : static_cast<std::uint8_t>(t[0]);
      if (n == 0 || 1 + n > t.size()) broken("an encoded value with a bad codec name");
      return "<" + t.substr(1, n) + ":" + canonical_text(true, t.substr(1 + n)) + ">";
    }
    case value_kind::tuple:
    case value_kind::frozenset: {
      const bool tuple = r.kind == static_cast<std::uint8_t>(value_kind::tuple);
      const std::uint64_t n = length_of(r);
      std::vector<std::string> items;
      if (n == 0) {
        if (r.payload != 0) broken("an empty tuple or frozenset with a payload");
      } else {
        if (n > (1u << 20)) broken("a tuple of " + std::to_string(n) + " items");
        const std::byte* cells = payload(r.payload, cells_type,
                                         detail::value_payload_header + n * 16, "a tuple's cells") +
                                 detail::value_payload_header;
        for (std::uint64_t i = 0; i < n; ++i) items.push_back(cell(cells + i * 16, depth + 1));
      }
      if (tuple) return "(" + joined(items) + (n == 1 ? ",)" : ")");
      std::sort(items.begin(), items.end());
      if (std::adjacent_find(items.begin(), items.end()) != items.end()) {
        broken("a frozenset with two equal members");
      }
      return "frozenset({" + joined(items) + "})";
    }
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::object:
      break;
    default:
      broken("a value cell of unknown kind " + std::to_string(r.kind));
  }
  if (auto it = ids_.find(r.payload); it != ids_.end()) {
    if (it->second == UINT64_MAX) broken("a mutable payload is also an immutable one");
    return "&" + std::to_string(it->second);
  }
  const auto kind = static_cast<value_kind>(r.kind);
  const std::uint64_t id = next_id_++;
  std::string type = kind == value_kind::list   ? detail::list_type_name
                     : kind == value_kind::dict ? detail::dict_type_name
                     : kind == value_kind::set  ? detail::set_type_name
                                                : "";
  const std::size_t size =
      detail::value_payload_header +
      (kind == value_kind::list ? sizeof(detail::vector_rep) : sizeof(detail::hash_map_rep));
  const std::byte* start = v_.object(
      r.payload, type, size, "a " + (type.empty() ? std::string("object") : type) + " payload");
  if (!start) broken("a list/dict/set/object cell without a payload");
  payloads_.emplace(r.payload, start);
  const std::byte* obj = start + detail::value_payload_header;  // the items' handle
  ids_.emplace(r.payload, id);
  const std::string head = "#" + std::to_string(id);
  if (kind == value_kind::list) {
    std::uint64_t n = 0;
    const std::byte* cells = v_.vector_buffer(obj, 16, cells_type, n);
    std::vector<std::string> items;
    for (std::uint64_t i = 0; i < n; ++i) items.push_back(cell(cells + i * 16, depth + 1));
    return head + "[" + joined(items) + "]";
  }
  if (kind == value_kind::object) {
    return head + "<" + v_.target().type_name(v_.target().object_type(start)) + " " +
           map(obj, false, depth) + ">";
  }
  return head + map(obj, kind == value_kind::set, depth);
}

std::string value_walk::map(const std::byte* handle, bool is_set, int depth) {
  ++maps_;
  const std::vector<stored_entry> nodes =
      walk_hash_map(v_, handle, shape_of<value_cell>(),
                    is_set ? shape_of<std::uint8_t>() : shape_of<value_cell>(),
                    is_set ? member_map_type : value_map_type);
  // Keys first (hashable: no mutable container inside, so no visit numbers),
  // sorted; then the values in that order.
  std::vector<std::pair<std::string, const stored_entry*>> keys;
  for (const stored_entry& e : nodes) {
    keys.emplace_back(cell(e.key, depth + 1), &e);
    if (hashes_) {
      const auto* k = reinterpret_cast<const value_cell*>(e.key);
      if (detail::value_hash(detail::value_key(*k)) != e.hash) {
        broken("the key " + keys.back().first + " is stored with hash " + std::to_string(e.hash) +
               ", its value_hash differs");
      }
    }
    if (is_set && std::to_integer<int>(*e.value) != 1) broken("a set member's byte is not 1");
  }
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> items;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0 && keys[i].first == keys[i - 1].first)
      broken("the key " + keys[i].first + " is stored twice");
    items.push_back(is_set ? keys[i].first
                           : keys[i].first + ": " + cell(keys[i].second->value, depth + 1));
  }
  return "{" + joined(items) + "}";
}

}  // namespace ferrite::crash
