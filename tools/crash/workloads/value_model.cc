#include "tools/crash/workloads/value_model.h"

#include <algorithm>

#include "tools/crash/readers/value_walk.h"
#include "tools/crash/workloads/typed_common.h"

namespace ferrite::crash::values_workload {
namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

}  // namespace

std::string canon::pairs(const mcont& c) {
  std::vector<std::pair<std::string, const mval*>> keys;
  for (const auto& [k, v] : c.entries) keys.emplace_back(of(k), &v);
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (const auto& [k, v] : keys) parts.push_back(k + ": " + of(*v));
  return "{" + join(parts) + "}";
}

std::string canon::of(const mval& x) {
  switch (x.k) {
    case value_kind::none:
      return "None";
    case value_kind::boolean:
      return x.b ? "True" : "False";
    case value_kind::integer:
      return std::to_string(x.i);
    case value_kind::floating:
      return canonical_float(x.f);
    case value_kind::string:
      return canonical_text(false, x.s);
    case value_kind::bytes:
      return canonical_text(true, x.s);
    case value_kind::encoded:
      return std::string("<") + codec + ":" + canonical_text(true, x.s) + ">";
    case value_kind::tuple:
    case value_kind::frozenset: {
      std::vector<std::string> parts;
      for (const mval& m : x.items) parts.push_back(of(m));
      if (x.k == value_kind::tuple) return "(" + join(parts) + (parts.size() == 1 ? ",)" : ")");
      std::sort(parts.begin(), parts.end());
      return "frozenset({" + join(parts) + "})";
    }
    default:
      break;
  }
  if (auto it = ids_.find(x.ref); it != ids_.end()) return "&" + std::to_string(it->second);
  const std::uint64_t id = ids_.size();
  ids_.emplace(x.ref, id);
  const mcont& c = arena_.at(static_cast<std::size_t>(x.ref));
  const std::string head = "#" + std::to_string(id);
  std::vector<std::string> parts;
  switch (c.k) {
    case value_kind::list:
      for (const mval& m : c.items) parts.push_back(of(m));
      return head + "[" + join(parts) + "]";
    case value_kind::set:
      for (const mval& m : c.items) parts.push_back(of(m));
      std::sort(parts.begin(), parts.end());
      return head + "{" + join(parts) + "}";
    case value_kind::object:
      return head + "<" + thing_class + " " + pairs(c) + ">";
    default:
      return head + pairs(c);
  }
}

// Keys and members are immutable: equal when their texts are.
bool same(const mval& a, const mval& b) {
  const std::vector<mcont> none;
  return canon(none).of(a) == canon(none).of(b);
}

mval scalar(std::mt19937_64& rng) {
  mval v;
  switch (rng() % 6) {
    case 0:
      break;
    case 1:
      v.k = value_kind::boolean;
      v.b = rng() % 2;
      break;
    case 2:
      v.k = value_kind::floating;
      v.f = rng() % 2 ? 2.5 : -1e100;
      break;
    case 3:
      v.k = value_kind::string;
      v.s = typed::letters(rng, rng() % 15);
      break;
    default:
      v.k = value_kind::integer;
      v.i = static_cast<std::int64_t>(rng() % 2001) - 1000;
      break;
  }
  return v;
}

mval int_of(std::int64_t i) {
  mval v;
  v.k = value_kind::integer;
  v.i = i;
  return v;
}
mval str_of(std::string s) {
  mval v;
  v.k = value_kind::string;
  v.s = std::move(s);
  return v;
}

// 0-3 distinct ints (set and frozenset members).
std::vector<mval> distinct_ints(std::mt19937_64& rng) {
  std::vector<mval> out;
  for (std::size_t n = rng() % 4; out.size() < n;) {
    mval m = int_of(static_cast<std::int64_t>(rng() % 10));
    if (std::none_of(out.begin(), out.end(), [&](const mval& o) { return same(o, m); }))
      out.push_back(m);
  }
  return out;
}

// A value of any kind; containers new (not yet in the arena).
mval random_value(std::mt19937_64& rng) {
  mval v;
  switch (rng() % 14) {
    case 0:
      return scalar(rng);
    case 1:
      return int_of(static_cast<std::int64_t>(rng()));
    case 2:  // out of line: two buffer sizes
      return str_of(typed::letters(rng, rng() % 2 ? 20 : 40));
    case 3:
      v.k = value_kind::bytes;
      for (std::size_t n = rng() % 2 ? rng() % 10 : 24; v.s.size() < n;)
        v.s += static_cast<char>(rng() % 256);
      return v;
    case 4:
      v.k = value_kind::tuple;
      for (std::size_t n = rng() % 4; v.items.size() < n;) v.items.push_back(scalar(rng));
      return v;
    case 5:
      v.k = value_kind::frozenset;
      v.items = distinct_ints(rng);
      return v;
    case 6:
      v.k = value_kind::encoded;
      v.s = typed::letters(rng, 6);
      return v;
    case 7:
    case 8:
      v.k = value_kind::list;
      for (std::size_t n = rng() % 4; v.items.size() < n;) v.items.push_back(scalar(rng));
      return v;
    case 9:
    case 10:
      v.k = value_kind::dict;
      for (std::size_t n = rng() % 3, i = 0; i < n; ++i) {  // distinct keys "a", "b"
        v.items.push_back(str_of(std::string(1, static_cast<char>('a' + i))));
        v.items.push_back(scalar(rng));
      }
      return v;
    case 11:
      v.k = value_kind::set;
      v.items = distinct_ints(rng);
      return v;
    default:
      v.k = value_kind::object;
      for (std::size_t n = rng() % 3, i = 0; i < n; ++i) {
        v.items.push_back(str_of(i == 0 ? "name" : "size"));
        v.items.push_back(scalar(rng));
      }
      return v;
  }
}

// The input storing a new value `x`.
input to_input(const mval& x) {
  std::vector<input> items;
  for (const mval& m : x.items) items.push_back(to_input(m));
  switch (x.k) {
    case value_kind::none:
      return input();
    case value_kind::boolean:
      return input(x.b);
    case value_kind::integer:
      return input(x.i);
    case value_kind::floating:
      return input(x.f);
    case value_kind::string:
      return input(x.s);
    case value_kind::bytes:
      return bytes_of(x.s);
    case value_kind::encoded:
      return encoded(codec, x.s);
    case value_kind::object:
      if (items.empty()) return object_of(thing_class);
      if (items.size() == 2) return object_of(thing_class, {{items[0], items[1]}});
      return object_of(thing_class, {{items[0], items[1]}, {items[2], items[3]}});
    default:
      return detail::make_container(x.k, std::move(items));
  }
}

}  // namespace ferrite::crash::values_workload
