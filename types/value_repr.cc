// Python repr() of values and inputs.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "ferrite/base/error.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/types/detail/value_internal.h"
#include "ferrite/types/detail/value_text.h"

namespace ferrite {

using namespace detail;

namespace {

class printer {
 public:
  std::string out;

  void cell(pool_impl* p, const value_cell& c, int depth) {
    if (depth > 64) {
      out += "...";
      return;
    }
    const value_cell_rep& r = c.rep();
    switch (c.kind()) {
      case value_kind::none:
        out += "None";
        return;
      case value_kind::boolean:
        out += r.payload ? "True" : "False";
        return;
      case value_kind::integer: {
        std::int64_t i = 0;
        std::memcpy(&i, &r.payload, 8);
        out += std::to_string(i);
        return;
      }
      case value_kind::floating: {
        double d = 0;
        std::memcpy(&d, &r.payload, 8);
        out += python_float(d);
        return;
      }
      case value_kind::string:
        python_quote(out, cell_text(p, c), false);
        return;
      case value_kind::bytes:
        python_quote(out, cell_text(p, c), true);
        return;
      case value_kind::encoded: {
        const std::string name = kind_name(p, c);
        const std::size_t all = cell_text(p, c).size();
        out += "<" + name + " encoded, " + std::to_string(all - std::min(all, 1 + name.size())) +
               " bytes>";
        return;
      }
      case value_kind::tuple: {
        const std::uint64_t n = cell_length(c);
        const value_cell* items = cell_items(p, c);
        out += '(';
        for (std::uint64_t i = 0; i < n; ++i) {
          if (i) out += ", ";
          cell(p, items[i], depth + 1);
        }
        if (n == 1) out += ',';
        out += ')';
        return;
      }
      case value_kind::frozenset: {
        const std::uint64_t n = cell_length(c);
        const value_cell* items = cell_items(p, c);
        out += n ? "frozenset({" : "frozenset()";
        for (std::uint64_t i = 0; i < n; ++i) {
          if (i) out += ", ";
          cell(p, items[i], depth + 1);
        }
        if (n) out += "})";
        return;
      }
      default:
        break;
    }
    // Mutable containers and objects: may form cycles.
    const std::uint64_t id = r.payload;
    if (!open_.insert(id).second) {
      out += c.kind() == value_kind::list     ? "[...]"
             : c.kind() == value_kind::object ? "<...>"
                                              : "{...}";
      return;
    }
    value v = detached(p, c);
    switch (c.kind()) {
      case value_kind::list: {
        out += '[';
        bool first = true;
        for (value item : v.as_list()) {
          if (!first) out += ", ";
          first = false;
          cell(p, item.cell(), depth + 1);
        }
        out += ']';
        break;
      }
      case value_kind::dict: {
        out += '{';
        bool first = true;
        for (auto e : v.as_dict()) {
          if (!first) out += ", ";
          first = false;
          cell(p, e.key.cell(), depth + 1);
          out += ": ";
          cell(p, e.value.cell(), depth + 1);
        }
        out += '}';
        break;
      }
      case value_kind::set: {
        ferrite::value_set s = v.as_set();
        if (s.empty()) {
          out += "set()";
          break;
        }
        out += '{';
        bool first = true;
        for (value m : s) {
          if (!first) out += ", ";
          first = false;
          cell(p, m.cell(), depth + 1);
        }
        out += '}';
        break;
      }
      case value_kind::object: {
        object o = v.as_object();
        out += "<" + o.class_name() + " ";
        bool first = true;
        out += '{';
        for (auto e : o.attributes()) {
          if (!first) out += ", ";
          first = false;
          cell(p, e.key.cell(), depth + 1);
          out += ": ";
          cell(p, e.value.cell(), depth + 1);
        }
        out += "}>";
        break;
      }
      default:
        out += "<unknown kind " + std::to_string(static_cast<int>(r.kind)) + ">";
    }
    open_.erase(id);
  }

  void in(const input& x, int depth) {
    const input_node& n = x.node();
    if (n.shared) {
      cell(n.pool, n.cell, depth);
      return;
    }
    auto seq = [&](const char* open, const char* close, std::size_t step) {
      out += open;
      for (std::size_t i = 0; i < n.items.size(); i += step) {
        if (i) out += ", ";
        in(n.items[i], depth + 1);
        if (step == 2) {
          out += ": ";
          in(n.items[i + 1], depth + 1);
        }
      }
      if (n.kind == value_kind::tuple && n.items.size() == 1) out += ',';
      out += close;
    };
    switch (n.kind) {
      case value_kind::none:
        out += "None";
        return;
      case value_kind::boolean:
        out += n.boolean ? "True" : "False";
        return;
      case value_kind::integer:
        out += std::to_string(n.integer);
        return;
      case value_kind::floating:
        out += python_float(n.floating);
        return;
      case value_kind::string:
        python_quote(out, n.text, false);
        return;
      case value_kind::bytes:
        python_quote(out, n.text, true);
        return;
      case value_kind::list:
        seq("[", "]", 1);
        return;
      case value_kind::tuple:
        seq("(", ")", 1);
        return;
      case value_kind::set:
        seq("{", "}", 1);
        return;
      case value_kind::frozenset:
        seq("frozenset({", "})", 1);
        return;
      case value_kind::dict:
        seq("{", "}", 2);
        return;
      case value_kind::object:
        out += "<new " + n.name + ">";
        return;
      case value_kind::encoded:
        out += "<" + n.name + " encoded>";
        return;
    }
  }

 private:
  std::unordered_set<std::uint64_t> open_;  // containers being printed (cycles)
};

}  // namespace

namespace detail {

std::string input_repr(const input& in) {
  printer pr;
  pr.in(in, 0);
  return pr.out;
}

std::int64_t input_int(const input& in) {
  const input_node& n = in.node();
  if (n.shared) {
    const value_cell_rep& r = n.cell.rep();
    std::int64_t i = 0;
    if (n.cell.kind() == value_kind::boolean) return r.payload != 0;
    std::memcpy(&i, &r.payload, 8);
    return i;
  }
  return n.kind == value_kind::boolean ? n.boolean : n.integer;
}

std::string_view input_str(const input& in) {
  const input_node& n = in.node();
  if (n.shared) return cell_text(n.pool, n.cell);
  return n.text;
}

}  // namespace detail

std::string value::repr() const {
  printer pr;
  pr.cell(slot_.pool, cell(), 0);
  return pr.out;
}

}  // namespace ferrite
