// Decoding the dynamic value cells of base/format/value_format.h for `ferrite
// dump`, from the format alone: scalars in the cell, str/bytes/encoded
// text inline or in a buffer, tuple/frozenset cell buffers, and the
// list/dict/set/object payload structs (decoded as heap objects through
// pointer(): a payload met again prints once, "see above"). Every length
// and pointer is checked against the allocation it names (dump_decoder.h,
// invariants 2, 3 and 5).
#include <cstring>
#include <string>

#include "ferrite/types/detail/value_text.h"
#include "tools/ferrite/dump_decoder.h"

namespace ferrite::cli::dump_detail {
namespace {

constexpr const char* buffer_type = "ferrite.string";                // str, bytes, encoded
constexpr const char* cells_type = "ferrite.vector<ferrite.value>";  // tuple, frozenset
constexpr const char* attributes_type = "ferrite.hash_map<ferrite.value,ferrite.value>";

}  // namespace

bool decoder::cell_buffer(const detail::value_cell_rep& c, std::uint64_t min_size, const char* what,
                          object_span& span, dump_value& out) {
  const std::string expected = c.kind == static_cast<std::uint8_t>(value_kind::tuple) ||
                                       c.kind == static_cast<std::uint8_t>(value_kind::frozenset)
                                   ? cells_type
                                   : buffer_type;
  if (c.payload == 0) {
    out = problem(std::string(what) + " cell of length " + std::to_string(detail::value_length(c)) +
                      " without a buffer",
                  0);
    return false;
  }
  if (!storage(c.payload, what, span, out)) return false;
  if (span.size < min_size) {
    out = problem(std::string(what) + " of length " + std::to_string(detail::value_length(c)) +
                      " does not fit its buffer @" + std::to_string(span.offset) + " of " +
                      std::to_string(span.size) + " bytes",
                  span.offset);
    return false;
  }
  if (types_.name_of(span.type) != expected) {
    out = problem(std::string(what) + " buffer @" + std::to_string(span.offset) + " is a '" +
                      types_.name_of(span.type) + "', not a '" + expected + "'",
                  span.offset);
    return false;
  }
  return true;
}

dump_value decoder::cell_value(const std::byte* p, std::uint32_t depth) {
  const auto c = load<detail::value_cell_rep>(p);
  if (++cells_ > cell_budget) {
    return problem("value not decoded: this dump's budget of " + std::to_string(cell_budget) +
                       " value cells is spent (shared tuples?)",
                   0);
  }
  if (c.kind >= value_kind_count) {
    return problem("value cell of unknown kind " + std::to_string(c.kind), 0);
  }
  dump_value v;
  v.what = kind::dynamic;
  v.cell = static_cast<value_kind>(c.kind);
  v.type = detail::python_kind_name(v.cell);
  switch (v.cell) {
    case value_kind::none:
      return v;
    case value_kind::boolean:
      if (c.payload > 1) return problem("bool cell holding " + std::to_string(c.payload), 0);
      v.b = c.payload == 1;
      return v;
    case value_kind::integer:
      std::memcpy(&v.i, &c.payload, 8);
      return v;
    case value_kind::floating:
      std::memcpy(&v.f, &c.payload, 8);
      return v;
    case value_kind::tuple:
    case value_kind::frozenset:
      return cell_items(c, std::move(v), depth);
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::object:
      return cell_payload(c, std::move(v), depth);
    case value_kind::string:
    case value_kind::bytes:
    case value_kind::encoded:
      break;
  }
  // Text: inline in bytes 2..15, or a buffer of length + 1 bytes.
  const char* data = nullptr;
  std::uint64_t n = 0;
  if (c.inline_size != 0) {
    n = c.inline_size - 1u;
    if (n > detail::value_inline_max) {
      return problem(v.type + " cell with inline length " + std::to_string(n) + " (at most " +
                         std::to_string(detail::value_inline_max) + ")",
                     0);
    }
    data = reinterpret_cast<const char*>(p) + 2;
  } else {
    n = detail::value_length(c);
    if (n == 0 && c.payload == 0) {
      data = "";
    } else {
      object_span s;
      dump_value bad;
      if (!cell_buffer(c, detail::value_payload_header + n + 1, v.type.c_str(), s, bad)) {
        return bad;
      }
      data = reinterpret_cast<const char*>(at(s.offset + detail::value_payload_header));
      v.offset = s.offset;
      if (v.cell == value_kind::string && data[n] != '\0') {
        return problem("str buffer @" + std::to_string(s.offset) + " does not end in NUL at " +
                           std::to_string(n),
                       s.offset);
      }
    }
  }
  if (v.cell == value_kind::encoded) {  // u8 name length, name, data
    const std::uint64_t name_size = n ? static_cast<std::uint8_t>(data[0]) : 0;
    if (n == 0 || name_size == 0 || 1 + name_size > n) {
      return problem("encoded value of " + std::to_string(n) + " bytes with a codec name of " +
                         std::to_string(name_size),
                     v.offset);
    }
    v.type.assign(data + 1, name_size);
    data += 1 + name_size;
    n -= 1 + name_size;
  }
  v.size = n;
  v.text.assign(data, std::min(n, options_.max_text));
  return v;
}

dump_value decoder::cell_items(const detail::value_cell_rep& c, dump_value v, std::uint32_t depth) {
  const std::uint64_t n = detail::value_length(c);
  v.size = n;
  if (n == 0) {
    if (c.payload != 0) return problem("empty " + v.type + " cell with a payload", 0);
    return v;
  }
  object_span s;
  dump_value bad;
  if (!cell_buffer(c, detail::value_payload_header + n * sizeof(detail::value_cell_rep),
                   v.type.c_str(), s, bad)) {
    return bad;
  }
  v.offset = s.offset;
  if (depth >= options_.max_depth) {
    dump_value e;
    e.what = kind::elided;
    e.type = v.type;
    return e;
  }
  if (!open_cells_.insert(s.offset).second) {
    return problem(v.type + " @" + std::to_string(s.offset) + " contains itself", s.offset);
  }
  const std::uint64_t shown = std::min(n, options_.max_elements);
  for (std::uint64_t i = 0; i < shown; ++i) {
    v.items.push_back(
        cell_value(at(s.offset + detail::value_payload_header + i * sizeof(detail::value_cell_rep)),
                   depth + 1));
  }
  v.omitted = n - shown;
  open_cells_.erase(s.offset);
  return v;
}

dump_value decoder::cell_payload(const detail::value_cell_rep& c, dump_value v,
                                 std::uint32_t depth) {
  const std::uint64_t where = c.payload & offset_mask;
  if (c.payload == 0) return problem(v.type + " cell without a payload", 0);
  if ((c.payload >> 48) != tag_) {
    return problem(
        v.type + " cell points into another pool (tag " + std::to_string(c.payload >> 48) + ")",
        where);
  }
  object_span s;
  std::string why;
  if (!locate(c.payload, s, why)) {
    return problem("bad " + v.type + " payload @" + std::to_string(where) + ": " + why, where);
  }
  const stored_type* t = types_.find(s.type);
  const std::string name = t ? t->name : types_.name_of(s.type);
  bool fits = false;
  if (v.cell == value_kind::object) {
    // A class's struct: { u64 refs; hash_map<ferrite.value,ferrite.value> attributes }.
    fits = t && t->kind == type_kind::structure && t->fields.size() == 2 &&
           t->fields[0].name == "refs" && t->fields[1].name == "attributes" &&
           types_.name_of(t->fields[1].type) == attributes_type;
    if (fits) v.type = t->name;
  } else {
    const char* want = v.cell == value_kind::list   ? detail::list_type_name
                       : v.cell == value_kind::dict ? detail::dict_type_name
                                                    : detail::set_type_name;
    fits = name == want;
  }
  if (!fits) {
    return problem(v.type + " cell points to a '" + name + "' @" + std::to_string(s.offset) +
                       (v.cell == value_kind::object ? ", not a class's struct" : ""),
                   s.offset);
  }
  v.offset = s.offset;
  v.items.push_back(pointer(c.payload, s.type, depth + 1));
  return v;
}

}  // namespace ferrite::cli::dump_detail
