// Rendering decoded value cells (dump_value::kind::dynamic, see dump.h).
//
// Text: Python's repr where it fits: None, True, 42, 2.5, 'text', b'\x00',
// (1,), frozenset({1}), [1, 2], {'k': 'v'}, set(), <pkg.Class {'a': 1}>,
// <geo.Point encoded, 3 bytes>. A list/dict/set/object met again (shared,
// or a cycle) prints as [...@OFF] / {...@OFF} / <Class ...@OFF>, OFF being
// its payload's offset (shown in the block form's header). A value whose
// repr is longer than a line opens a block, one item per line.
//
// JSON: {"kind": K, ...} with "value" for none/bool/int/float/str, "hex"
// for bytes and encoded data, "items" for tuple/frozenset/list/set,
// "entries" [{key, value}] for dict, "attributes" {name: value} for
// object, "ref": OFF for a payload decoded earlier.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "ferrite/types/detail/value_text.h"
#include "tools/ferrite/dump_print.h"

namespace ferrite::cli::print_detail {
namespace {

using kind = dump_value::kind;
using link = dump_value::link;

std::string hex_of(const std::string& raw) {
  std::string out;
  char buf[4];
  for (unsigned char c : raw) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

bool is_container(const dump_value& v) {
  return v.cell == value_kind::list || v.cell == value_kind::dict || v.cell == value_kind::set ||
         v.cell == value_kind::object;
}

// The payload's contents of a list/dict/set/object cell: its struct's
// second field (a sequence or mapping; the first is the reference count),
// or null when the payload was not expanded (seen before, depth limit,
// damaged).
const dump_value* body_of(const dump_value& v) {
  if (!is_container(v) || v.items.empty()) return nullptr;
  const dump_value& p = v.items[0];
  if (p.what != kind::pointer || p.target != link::expanded || p.items.empty()) return nullptr;
  const dump_value& s = p.items[0];
  if (s.what != kind::structure || s.items.size() != 2) return nullptr;
  const dump_value& f = s.items[1];
  return f.what == kind::sequence || f.what == kind::mapping ? &f : nullptr;
}

// The members of a set's hash_map (decoded as a mapping to u8) or a list.
const std::vector<dump_value>& members_of(const dump_value& b) {
  return b.what == kind::mapping ? b.keys : b.items;
}

// Appends repr(v) to out; false once out passes `limit` bytes.
bool repr(const dump_value& v, std::string& out, std::size_t limit);

bool repr_items(const std::vector<dump_value>& items, const std::vector<dump_value>* values,
                std::uint64_t omitted, const std::vector<dump_value>& notes, std::string& out,
                std::size_t limit) {
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (k) out += ", ";
    if (!repr(items[k], out, limit)) return false;
    if (values) {
      out += ": ";
      if (!repr((*values)[k], out, limit)) return false;
    }
  }
  if (omitted) out += (items.empty() ? "... " : ", ... ") + std::to_string(omitted) + " more";
  bool first = items.empty() && !omitted;
  for (const dump_value& n : notes) {
    out += (first ? "<" : ", <") + n.text + ">";
    first = false;
  }
  return out.size() <= limit;
}

std::string seen_marker(const dump_value& v, std::uint64_t offset, const char* why) {
  const std::string at = "@" + std::to_string(offset) + why;
  switch (v.cell) {
    case value_kind::list:
      return "[..." + at + "]";
    case value_kind::object:
      return "<" + v.type + " ..." + at + ">";
    default:
      return "{..." + at + "}";
  }
}

bool repr(const dump_value& v, std::string& out, std::size_t limit) {
  if (v.what != kind::dynamic) {
    std::string s;
    if (!one_line(v, s)) s = "<" + v.type + ">";
    out += s;
    return out.size() <= limit;
  }
  switch (v.cell) {
    case value_kind::none:
      out += "None";
      break;
    case value_kind::boolean:
      out += v.b ? "True" : "False";
      break;
    case value_kind::integer:
      out += std::to_string(v.i);
      break;
    case value_kind::floating:
      out += detail::python_float(v.f);
      break;
    case value_kind::string:
    case value_kind::bytes:
      detail::python_quote(out, v.text, v.cell == value_kind::bytes);
      if (v.text.size() < v.size) out += "... (" + std::to_string(v.size) + " bytes)";
      break;
    case value_kind::encoded:
      // The Python binding's codecs (docs/python.md): an int beyond 64 bits
      // is its decimal text; a pickle stays opaque (decoding it would run
      // the program's classes).
      if (v.type == "python.int" && v.text.size() == v.size) {
        out += v.text;
      } else if (v.type == "python.pickle") {
        out += "<pickled Python object, " + std::to_string(v.size) + " bytes>";
      } else {
        out += "<" + v.type + " encoded, " + std::to_string(v.size) + " bytes>";
      }
      break;
    case value_kind::tuple:
      out += '(';
      if (!repr_items(v.items, nullptr, v.omitted, {}, out, limit)) return false;
      if (v.size == 1) out += ',';
      out += ')';
      break;
    case value_kind::frozenset:
      if (v.size == 0) {
        out += "frozenset()";
        break;
      }
      out += "frozenset({";
      if (!repr_items(v.items, nullptr, v.omitted, {}, out, limit)) return false;
      out += "})";
      break;
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::object: {
      const dump_value* b = body_of(v);
      if (!b) {
        const dump_value& p = v.items.at(0);
        if (p.what == kind::pointer && p.target == link::seen) {
          out += seen_marker(v, p.offset, "");
        } else if (p.what == kind::pointer && p.target == link::depth_limit) {
          out += seen_marker(v, p.offset, " depth limit");
        } else {
          std::string s;
          one_line(p, s);
          out += s;
        }
        break;
      }
      if (v.cell == value_kind::set && b->size == 0 && b->notes.empty()) {
        out += "set()";
        break;
      }
      out += v.cell == value_kind::list     ? "["
             : v.cell == value_kind::object ? "<" + v.type + " {"
                                            : "{";
      const bool pairs = v.cell == value_kind::dict || v.cell == value_kind::object;
      if (!repr_items(pairs ? b->keys : members_of(*b), pairs ? &b->items : nullptr, b->omitted,
                      b->notes, out, limit)) {
        return false;
      }
      out += v.cell == value_kind::list ? "]" : v.cell == value_kind::object ? "}>" : "}";
      break;
    }
  }
  return out.size() <= limit;
}

json items_json(const std::vector<dump_value>& items) {
  json a = json::array();
  for (const dump_value& i : items) a.push_back(json_of(i));
  return a;
}

}  // namespace

bool cell_line(const dump_value& v, std::string& out) {
  out.clear();
  return repr(v, out, inline_width);
}

void print_cell(const std::string& label, const dump_value& v, int indent, std::ostream& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  const dump_value* b = body_of(v);
  const bool sequence = v.cell == value_kind::tuple || v.cell == value_kind::frozenset;
  if (!b && !sequence) {  // a scalar or long text: its repr, however long
    std::string line;
    repr(v, line, static_cast<std::size_t>(-1));
    out << pad << label << ": " << line << "\n";
    return;
  }
  const dump_value& c = sequence ? v : *b;
  const std::uint64_t offset = sequence ? v.offset : v.items[0].offset;
  out << pad << label << ": " << v.type << " @" << offset << " size " << c.size << "\n";
  const bool pairs = v.cell == value_kind::dict || v.cell == value_kind::object;
  const std::vector<dump_value>& keys = pairs ? c.keys : members_of(c);
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (!pairs) {
      print_value("[" + std::to_string(k) + "]", keys[k], indent + 2, out);
      continue;
    }
    std::string key;
    if (v.cell == value_kind::object && keys[k].cell == value_kind::string &&
        keys[k].what == kind::dynamic) {
      key = keys[k].text;  // an attribute name
    } else if (!cell_line(keys[k], key)) {
      print_value("[" + std::to_string(k) + "] key", keys[k], indent + 2, out);
      key = "[" + std::to_string(k) + "] value";
    }
    print_value(key, c.items[k], indent + 2, out);
  }
  if (c.omitted) out << pad << "  ... " << c.omitted << " more\n";
  for (const dump_value& n : c.notes) out << pad << "  <" << n.text << ">\n";
}

json cell_json(const dump_value& v) {
  json j;
  j["kind"] = v.type;
  switch (v.cell) {
    case value_kind::none:
      j["kind"] = "none";
      j["value"] = nullptr;
      return j;
    case value_kind::boolean:
      j["value"] = v.b;
      return j;
    case value_kind::integer:
      j["value"] = v.i;
      return j;
    case value_kind::floating:
      j["value"] = v.f;
      return j;  // NaN and infinities: null
    case value_kind::string:
    case value_kind::bytes:
    case value_kind::encoded:
      if (v.cell == value_kind::encoded) {
        j["kind"] = "encoded";
        j["codec"] = v.type;
        if (v.type == "python.int" && v.text.size() == v.size) {
          j["value"] = v.text;  // decimal text: JSON numbers stop at 64 bits
          return j;
        }
      }
      if (v.cell == value_kind::string) {
        j["value"] = v.text;
      } else {
        j["hex"] = hex_of(v.text);
      }
      if (v.offset) j["offset"] = v.offset;
      if (v.text.size() < v.size) {
        j["size"] = v.size;
        j["truncated"] = true;
      }
      return j;
    case value_kind::tuple:
    case value_kind::frozenset:
      if (v.offset) j["offset"] = v.offset;
      j["size"] = v.size;
      j["items"] = items_json(v.items);
      if (v.omitted) j["omitted"] = v.omitted;
      return j;
    default:
      break;
  }
  if (v.cell == value_kind::object) {
    j["kind"] = "object";
    j["class"] = v.type;
  }
  const dump_value* b = body_of(v);
  const dump_value& p = v.items.at(0);
  if (!b) {
    if (p.what == kind::pointer && p.target == link::seen) {
      j["ref"] = p.offset;
    } else {
      j["payload"] = json_of(p);
    }
    return j;
  }
  j["offset"] = p.offset;
  j["size"] = b->size;
  if (v.cell == value_kind::list || v.cell == value_kind::set) {
    j["items"] = items_json(members_of(*b));
  } else {
    bool named = v.cell == value_kind::object;
    for (const dump_value& k : b->keys)
      named = named && k.what == kind::dynamic && k.cell == value_kind::string &&
              k.size == k.text.size();
    json e = named ? json::object() : json::array();
    for (std::size_t k = 0; k < b->keys.size(); ++k) {
      if (named) {
        e[b->keys[k].text] = json_of(b->items[k]);
      } else {
        e.push_back({{"key", json_of(b->keys[k])}, {"value", json_of(b->items[k])}});
      }
    }
    j[named ? "attributes" : "entries"] = e;
  }
  if (b->omitted) j["omitted"] = b->omitted;
  if (!b->notes.empty()) {
    j["problems"] = json::array();
    for (const dump_value& n : b->notes) j["problems"].push_back(json_of(n));
  }
  return j;
}

}  // namespace ferrite::cli::print_detail
