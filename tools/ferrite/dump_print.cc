// Rendering a decoded dump (dump.h) as indented text and as JSON.
//
// Text: a value that fits on one line (no expanded heap object, at most
// inline_width characters) is printed after its label; anything else opens
// a block indented by two spaces: a heap object's fields, a container's
// elements ("[i]: ..."), entries ("key: value") and problems.
#include <charconv>
#include <cstdio>

#include "tools/ferrite/dump.h"
#include "tools/ferrite/dump_print.h"

namespace ferrite::cli {
namespace print_detail {
namespace {

using kind = dump_value::kind;
using link = dump_value::link;

std::string quoted(const std::string& s, char quote) {
  std::string out(1, quote);
  for (unsigned char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c == static_cast<unsigned char>(quote)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += quote;
  return out;
}

std::string number(double f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}

std::string at_offset(std::uint64_t offset) {
  return " @" + std::to_string(offset);
}

std::string text_of(const dump_value& v) {
  std::string s = quoted(v.text, '"');
  if (v.text.size() < v.size) s += "... (" + std::to_string(v.size) + " bytes)";
  return s;
}

std::string pointer_head(const dump_value& v) {
  std::string s = "-> " + v.type + at_offset(v.offset);
  if (!v.text.empty()) s += " (" + v.text + ")";
  return s;
}

std::string container_head(const dump_value& v) {
  return v.type + " size " + std::to_string(v.size);
}

void print_body(const dump_value& v, int indent, std::ostream& out);

}  // namespace

// The one-line form of v, or false when v needs a block.
bool one_line(const dump_value& v, std::string& out) {
  switch (v.what) {
    case kind::dynamic:
      return cell_line(v, out);
    case kind::boolean:
      out = v.b ? "true" : "false";
      return true;
    case kind::signed_int:
      out = std::to_string(v.i);
      return true;
    case kind::unsigned_int:
      out = std::to_string(v.u);
      return true;
    case kind::floating:
      out = number(v.f);
      return true;
    case kind::character:
      out = quoted(v.text, '\'');
      return true;
    case kind::text:
      out = text_of(v);
      return true;
    case kind::problem:
      out = "<" + v.text + ">";
      return true;
    case kind::lock:
      out = v.text == "shared" ? "<shared lock>" : "<lock>";
      return true;
    case kind::elided:
      out = v.type + " {...} (depth limit)";
      return true;
    case kind::pointer:
      switch (v.target) {
        case link::null:
          out = "null";
          return true;
        case link::seen:
          out = pointer_head(v) + " (see above)";
          return true;
        case link::foreign:
          out = "-> another pool (tag " + std::to_string(v.tag) + ")" + at_offset(v.offset);
          return true;
        case link::depth_limit:
          out = pointer_head(v) + " (not followed: depth limit)";
          return true;
        case link::expanded:
          if (v.items.empty()) {
            out = pointer_head(v) + " (" + std::to_string(v.size) + " bytes)";
            return true;
          }
          if (v.items[0].what == kind::structure || v.items[0].what == kind::sequence ||
              v.items[0].what == kind::mapping) {
            return false;  // a heap object's contents go in a block
          }
          if (!one_line(v.items[0], out)) return false;
          out = pointer_head(v) + ": " + out;
          return true;
      }
      return false;
    case kind::structure:
    case kind::sequence:
    case kind::mapping: {
      if (!v.notes.empty()) return false;
      const bool is_struct = v.what == kind::structure;
      std::string s = is_struct ? "{" : v.what == kind::sequence ? "[" : "{";
      for (std::size_t k = 0; k < v.items.size(); ++k) {
        std::string item;
        if (!one_line(v.items[k], item)) return false;
        if (k) s += ", ";
        if (is_struct) s += v.names[k] + ": ";
        if (v.what == kind::mapping) {
          std::string key;
          if (!one_line(v.keys[k], key)) return false;
          s += key + ": ";
        }
        s += item;
        if (s.size() > inline_width) return false;
      }
      if (v.omitted)
        s += (v.items.empty() ? "... " : ", ... ") + std::to_string(v.omitted) + " more";
      s += v.what == kind::sequence ? "]" : "}";
      out = v.type.empty() || is_struct ? s : container_head(v) + ": " + s;
      return out.size() <= inline_width;
    }
  }
  return false;
}

namespace {

// The block of a structure, container or heap object, at `indent`.
void print_body(const dump_value& v, int indent, std::ostream& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.what == kind::structure) {
    for (std::size_t k = 0; k < v.items.size(); ++k)
      print_value(v.names[k], v.items[k], indent, out);
  } else if (v.what == kind::sequence) {
    for (std::size_t k = 0; k < v.items.size(); ++k) {
      print_value("[" + std::to_string(k) + "]", v.items[k], indent, out);
    }
  } else if (v.what == kind::mapping) {
    for (std::size_t k = 0; k < v.items.size(); ++k) {
      std::string key;
      if (one_line(v.keys[k], key)) {
        print_value(key, v.items[k], indent, out);
      } else {
        print_value("[" + std::to_string(k) + "] key", v.keys[k], indent, out);
        print_value("[" + std::to_string(k) + "] value", v.items[k], indent, out);
      }
    }
  } else {
    print_value("value", v, indent, out);
    return;
  }
  if (v.omitted) out << pad << "... " << v.omitted << " more\n";
  for (const dump_value& n : v.notes) out << pad << "<" << n.text << ">\n";
}

}  // namespace

void print_value(const std::string& label, const dump_value& v, int indent, std::ostream& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  std::string line;
  if (one_line(v, line)) {
    out << pad << label << ": " << line << "\n";
    return;
  }
  if (v.what == kind::dynamic) {
    print_cell(label, v, indent, out);
    return;
  }
  if (v.what == kind::pointer) {  // an expanded heap object
    const dump_value& obj = v.items[0];
    out << pad << label << ": " << pointer_head(v);
    if (obj.what == kind::sequence || obj.what == kind::mapping) out << ": " << container_head(obj);
    out << "\n";
    print_body(obj, indent + 2, out);
    return;
  }
  out << pad << label << ": "
      << (v.what == kind::structure ? v.type
          : v.type.empty()          ? "array of " + std::to_string(v.size)
                                    : container_head(v))
      << "\n";
  print_body(v, indent + 2, out);
}

namespace {

json object_json(const dump_value& v) {
  json j;
  j["type"] = v.type;
  j["offset"] = v.offset;
  if (!v.text.empty()) j["note"] = v.text;
  if (v.items.empty()) {
    j["size"] = v.size;  // an untyped object
  } else if (v.items[0].what == kind::structure) {
    j["fields"] = json_of(v.items[0])["fields"];
  } else {
    j["value"] = json_of(v.items[0]);
  }
  return j;
}

}  // namespace

json json_of(const dump_value& v) {
  switch (v.what) {
    case kind::dynamic:
      return cell_json(v);
    case kind::boolean:
      return v.b;
    case kind::signed_int:
      return v.i;
    case kind::unsigned_int:
      return v.u;
    case kind::floating:
      return v.f;  // NaN and infinities become null
    case kind::character:
      return v.text;
    case kind::text:
      if (v.text.size() == v.size) return v.text;
      return json{{"type", v.type}, {"size", v.size}, {"text", v.text}, {"truncated", true}};
    case kind::problem:  // offset 0: not at a known heap location (an inline value)
      return v.offset ? json{{"problem", v.text}, {"offset", v.offset}} : json{{"problem", v.text}};
    case kind::elided:
      return json{{"type", v.type}, {"depth_limit", true}};
    case kind::lock:
      return json{{"lock", v.text}};
    case kind::pointer:
      switch (v.target) {
        case link::null:
          return nullptr;
        case link::seen:
          return json{{"ref", v.offset}};
        case link::foreign:
          return json{{"foreign_pool_tag", v.tag}, {"offset", v.offset}};
        case link::depth_limit:
          return json{{"type", v.type}, {"offset", v.offset}, {"depth_limit", true}};
        case link::expanded:
          return object_json(v);
      }
      return nullptr;
    case kind::structure: {
      json fields = json::object();
      for (std::size_t k = 0; k < v.items.size(); ++k) fields[v.names[k]] = json_of(v.items[k]);
      return json{{"type", v.type}, {"fields", fields}};
    }
    case kind::sequence:
    case kind::mapping: {
      json elements = json::array();
      for (std::size_t k = 0; k < v.items.size(); ++k) {
        if (v.what == kind::sequence) {
          elements.push_back(json_of(v.items[k]));
        } else {
          elements.push_back({{"key", json_of(v.keys[k])}, {"value", json_of(v.items[k])}});
        }
      }
      if (v.type.empty() && !v.omitted && v.notes.empty()) return elements;  // a plain array
      json j;
      if (!v.type.empty()) j["type"] = v.type;
      j["size"] = v.size;
      j[v.what == kind::sequence ? "elements" : "entries"] = elements;
      if (v.omitted) j["omitted"] = v.omitted;
      if (!v.notes.empty()) {
        j["problems"] = json::array();
        for (const dump_value& n : v.notes) j["problems"].push_back(json_of(n));
      }
      return j;
    }
  }
  return nullptr;
}

namespace {

const char* kind_name(type_kind k) {
  switch (k) {
    case type_kind::scalar:
      return "scalar";
    case type_kind::pointer:
      return "pointer";
    case type_kind::structure:
      return "structure";
    case type_kind::container:
      return "container";
    case type_kind::lock:
      return "lock";
  }
  return "unknown";
}

const char* container_name(std::uint8_t subkind) {
  switch (static_cast<container_kind>(subkind)) {
    case container_kind::string:
      return "string";
    case container_kind::vector:
      return "vector";
    case container_kind::hash_map:
      return "hash_map";
    case container_kind::map:
      return "map";
    case container_kind::set:
      return "set";
    case container_kind::value:
      return "value";
  }
  return "unknown";
}

json types_json(const dump_result& r) {
  auto name = [&](std::uint32_t id) -> json {
    if (id == 0) return nullptr;
    if (const detail::stored_type* b = detail::builtin_type(id)) return b->name;
    for (const auto& t : r.types) {
      if (t.id == id) return t.name;
    }
    return "unknown type " + std::to_string(id);
  };
  json all = json::array();
  for (const detail::stored_type& t : r.types) {
    json j;
    j["id"] = t.id;
    j["name"] = t.name;
    j["kind"] = kind_name(t.kind);
    if (t.kind == type_kind::container) j["container"] = container_name(t.subkind);
    if (t.kind == type_kind::lock) {
      j["lock"] =
          t.subkind == static_cast<std::uint8_t>(lock_kind::shared) ? "shared" : "exclusive";
    }
    j["size"] = t.size;
    j["align"] = t.align;
    j["version"] = t.version;
    if (t.kind == type_kind::structure) {
      j["fields"] = json::array();
      for (const auto& f : t.fields) {
        j["fields"].push_back({{"name", f.name},
                               {"offset", f.offset},
                               {"size", f.size},
                               {"count", f.count},
                               {"type", name(f.type)}});
      }
    }
    if (t.key) j["key"] = name(t.key);
    if (t.value || t.kind == type_kind::pointer)
      j[t.kind == type_kind::pointer ? "target" : "value"] = name(t.value);
    all.push_back(std::move(j));
  }
  return all;
}

}  // namespace
}  // namespace print_detail

using namespace print_detail;

void print_text(const dump_result& r, std::ostream& out) {
  if (!r.has_root) {
    out << r.path << ": no root object\n";
  } else if (r.root.what == kind::pointer && r.root.target == link::expanded) {
    out << "root: " << pointer_head(r.root).substr(3);  // without the arrow
    if (r.root.items.empty()) {
      out << " (" << r.root.size << " bytes, untyped)\n";
    } else if (r.root.items[0].what == kind::structure) {
      out << "\n";
      print_body(r.root.items[0], 2, out);
    } else if (r.root.items[0].what == kind::dynamic) {  // a value pool
      std::string line;
      if (one_line(r.root.items[0], line)) {
        out << ": " << line << "\n";
      } else {
        out << "\n";
        print_value("value", r.root.items[0], 2, out);
      }
    } else {
      std::string line;
      if (one_line(r.root.items[0], line)) {
        out << ": " << line << "\n";
      } else {
        out << ": " << container_head(r.root.items[0]) << "\n";
        print_body(r.root.items[0], 2, out);
      }
    }
  } else {
    std::string line;
    one_line(r.root, line);
    out << "root: " << line << "\n";
  }
  if (r.listed_unreached) {
    out << "objects not reached from the root (or hidden by --max-elements/--depth): "
        << r.unreached.size() << "\n";
    for (const unreached_object& o : r.unreached) {
      out << "  @" << o.offset << " " << o.type << " (" << o.size << " bytes)\n";
    }
  }
  out << r.objects << (r.objects == 1 ? " object" : " objects") << " decoded, " << r.problems
      << (r.problems == 1 ? " problem\n" : " problems\n");
}

nlohmann::ordered_json to_json(const dump_result& r) {
  json j;
  j["path"] = r.path;
  j["root"] = r.has_root ? json_of(r.root) : json(nullptr);
  j["objects"] = r.objects;
  j["problems"] = r.problems;
  j["types"] = types_json(r);
  if (r.listed_unreached) {
    j["unreached"] = json::array();
    for (const unreached_object& o : r.unreached) {
      j["unreached"].push_back({{"offset", o.offset}, {"type", o.type}, {"size", o.size}});
    }
  }
  return j;
}

}  // namespace ferrite::cli
