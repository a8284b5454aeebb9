// Stable hashing and Python equality of values (docs/values.md, "Hashing").
//
// Both work on a view that a stored cell and an input produce alike, so a
// key hashes the same whether it is probed with an input or stored in a
// cell. The hash of each kind:
//   none         H("z")
//   bool, int,   H("n" + i64 LE) for the integer value (so 1, 1.0 and true
//   integral float  hash alike, as they are equal)
//   other float  H("f" + f64 bits LE) (every NaN as one quiet NaN)
//   str / bytes  H("s" + text) / H("b" + bytes)
//   encoded      H("e" + codec name + "\0" + data)
//   tuple        H("t" + the items' hashes, u64 LE each)
//   frozenset    H("F" + count + sum + xor of the members' hashes): order-free
//   object       H("o" + pool offset LE): identity
// where H is XXH3-64 with ferrite's seed (detail::stable_hash). Lists,
// dicts and sets are unhashable (wrong_type).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "ferrite/base/error.h"
#include "ferrite/types/detail/value_internal.h"

namespace ferrite::detail {
namespace {

constexpr int max_depth = 512;

// A value seen through a cell or an input.
struct vview {
  value_kind kind = value_kind::none;
  bool fresh = false;  // an input building a new list/dict/set/object: equal to no stored one
  std::int64_t integer = 0;
  double floating = 0;
  std::string_view text;  // str, bytes; encoded: the data
  std::string_view name;  // encoded: codec name
  pool_impl* pool = nullptr;
  const value_cell* cells = nullptr;  // tuple, frozenset, list items
  std::size_t count = 0;
  const std::vector<input>* items = nullptr;  // an input's items
  const void* map = nullptr;                  // a stored dict or set: its hash map
  std::uint64_t identity = 0;                 // stored list/dict/set/object: payload pptr bits
};

vview view_of(pool_impl* p, const value_cell& c) {
  vview v;
  v.kind = c.kind();
  v.pool = p;
  const value_cell_rep& r = c.rep();
  switch (v.kind) {
    case value_kind::none:
      break;
    case value_kind::boolean:
      v.integer = r.payload != 0;
      break;
    case value_kind::integer:
      std::memcpy(&v.integer, &r.payload, 8);
      break;
    case value_kind::floating:
      std::memcpy(&v.floating, &r.payload, 8);
      break;
    case value_kind::string:
    case value_kind::bytes:
      v.text = cell_text(p, c);
      break;
    case value_kind::encoded: {
      if (!split_encoded(cell_text(p, c), &v.name, &v.text)) {
        fail(error_code::corrupted, "an encoded value is shorter than its codec name");
      }
      break;
    }
    case value_kind::tuple:
    case value_kind::frozenset:
      v.count = cell_length(c);
      v.cells = cell_items(p, c);
      break;
    case value_kind::list: {
      v.identity = r.payload;
      const auto* l = static_cast<const list_rep*>(cell_target(p, c));
      v.cells = l->items.data();
      v.count = l->items.size();
      break;
    }
    case value_kind::dict:
    case value_kind::set:
      v.identity = r.payload;
      v.map =
          v.kind == value_kind::dict
              ? static_cast<const void*>(&static_cast<const dict_rep*>(cell_target(p, c))->items)
              : static_cast<const void*>(&static_cast<const set_rep*>(cell_target(p, c))->items);
      v.count = v.kind == value_kind::dict ? static_cast<const value_map*>(v.map)->size()
                                           : static_cast<const member_map*>(v.map)->size();
      break;
    case value_kind::object:
      v.identity = r.payload;
      break;
    default:
      fail(error_code::corrupted,
           "a value cell has the unknown kind " + std::to_string(static_cast<int>(r.kind)));
  }
  return v;
}

vview view_of(const input& in) {
  const input_node& n = in.node();
  if (n.shared) return view_of(n.pool, n.cell);
  vview v;
  v.kind = n.kind;
  switch (n.kind) {
    case value_kind::boolean:
      v.integer = n.boolean;
      break;
    case value_kind::integer:
      v.integer = n.integer;
      break;
    case value_kind::floating:
      v.floating = n.floating;
      break;
    case value_kind::string:
    case value_kind::bytes:
      v.text = n.text;
      break;
    case value_kind::encoded:
      v.name = n.name;
      v.text = n.text;
      break;
    case value_kind::tuple:
    case value_kind::frozenset:
      v.items = &n.items;
      v.count = n.items.size();
      break;
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
      v.items = &n.items;
      v.count = n.kind == value_kind::dict ? n.items.size() / 2 : n.items.size();
      v.fresh = true;
      break;
    case value_kind::object:
      v.fresh = true;
      break;
    default:
      break;
  }
  return v;
}

// Item i of a sequence view.
vview item(const vview& s, std::size_t i) {
  return s.items ? view_of((*s.items)[i]) : view_of(s.pool, s.cells[i]);
}

bool is_number(value_kind k) {
  return k == value_kind::boolean || k == value_kind::integer || k == value_kind::floating;
}

// A float equal to an i64 gives it.
bool integral(double d, std::int64_t* out) {
  if (!std::isfinite(d) || d != std::trunc(d) || d < -9.2233720368547758e18 ||
      d >= 9.2233720368547758e18) {
    return false;
  }
  *out = static_cast<std::int64_t>(d);
  return true;
}

std::uint64_t h_bytes(char tag, std::string_view a, std::string_view b = {}) {
  std::string buf;
  buf.reserve(1 + a.size() + b.size());
  buf.push_back(tag);
  buf.append(a);
  buf.append(b);
  return stable_hash(buf.data(), buf.size());
}

std::uint64_t h_words(char tag, const std::uint64_t* w, std::size_t n) {
  std::string buf(1 + 8 * n, '\0');
  buf[0] = tag;
  if (n != 0) std::memcpy(buf.data() + 1, w, 8 * n);
  return stable_hash(buf.data(), buf.size());
}

std::uint64_t hash_view(const vview& v, int depth);

// The distinct members' hashes of a set-like view (duplicates of an input
// frozenset counted once).
std::vector<std::uint64_t> member_hashes(const vview& s, int depth);

bool equal_views(const vview& a, const vview& b, int depth);

std::uint64_t hash_view(const vview& v, int depth) {
  if (depth > max_depth) fail(error_code::invalid_argument, "a value nests too deeply to hash");
  switch (v.kind) {
    case value_kind::none:
      return h_bytes('z', {});
    case value_kind::boolean:
    case value_kind::integer: {
      const std::uint64_t w = static_cast<std::uint64_t>(v.integer);
      return h_words('n', &w, 1);
    }
    case value_kind::floating: {
      std::int64_t i = 0;
      if (integral(v.floating, &i)) {
        const std::uint64_t w = static_cast<std::uint64_t>(i);
        return h_words('n', &w, 1);
      }
      double d = std::isnan(v.floating) ? std::numeric_limits<double>::quiet_NaN() : v.floating;
      std::uint64_t w = 0;
      std::memcpy(&w, &d, 8);
      return h_words('f', &w, 1);
    }
    case value_kind::string:
      return h_bytes('s', v.text);
    case value_kind::bytes:
      return h_bytes('b', v.text);
    case value_kind::encoded:
      return h_bytes('e', std::string(v.name) + '\0', v.text);
    case value_kind::tuple: {
      std::vector<std::uint64_t> w(v.count);
      for (std::size_t i = 0; i < v.count; ++i) w[i] = hash_view(item(v, i), depth + 1);
      return h_words('t', w.data(), w.size());
    }
    case value_kind::frozenset: {
      const std::vector<std::uint64_t> hs = member_hashes(v, depth);
      std::uint64_t w[3] = {hs.size(), 0, 0};
      for (std::uint64_t h : hs) {
        w[1] += h;
        w[2] ^= h;
      }
      return h_words('F', w, 3);
    }
    case value_kind::object:
      if (v.fresh) return 0;  // a new object equals no stored key
      {
        const std::uint64_t offset = v.identity & ((std::uint64_t{1} << 48) - 1);
        return h_words('o', &offset, 1);
      }
    default:
      fail(error_code::wrong_type, std::string("unhashable type: '") +
                                       (v.kind == value_kind::list   ? "list"
                                        : v.kind == value_kind::dict ? "dict"
                                                                     : "set") +
                                       "' (use a tuple or frozenset as a key)");
  }
}

std::vector<std::uint64_t> member_hashes(const vview& s, int depth) {
  std::vector<std::uint64_t> hs;
  if (!s.items) {  // stored: distinct by construction
    for (std::size_t i = 0; i < s.count; ++i) hs.push_back(hash_view(item(s, i), depth + 1));
    return hs;
  }
  std::unordered_multimap<std::uint64_t, std::size_t> seen;
  for (std::size_t i = 0; i < s.count; ++i) {
    const vview m = item(s, i);
    const std::uint64_t h = hash_view(m, depth + 1);
    bool dup = false;
    auto [lo, hi] = seen.equal_range(h);
    for (auto it = lo; it != hi && !dup; ++it) dup = equal_views(item(s, it->second), m, depth + 1);
    if (dup) continue;
    seen.emplace(h, i);
    hs.push_back(h);
  }
  return hs;
}

// Members of a set-like view (set, frozenset; stored or input) as views.
std::vector<vview> members(const vview& s) {
  std::vector<vview> out;
  if (s.map) {
    for (auto it = static_cast<const member_map*>(s.map)->begin();
         it != static_cast<const member_map*>(s.map)->end(); ++it) {
      out.push_back(view_of(s.pool, it.key()));
    }
  } else {
    for (std::size_t i = 0; i < s.count; ++i) out.push_back(item(s, i));
  }
  return out;
}

bool set_equal(const vview& a, const vview& b, int depth) {
  std::vector<vview> ma = members(a), mb = members(b);
  std::unordered_multimap<std::uint64_t, std::size_t> index;
  std::size_t distinct_b = 0;
  for (std::size_t i = 0; i < mb.size(); ++i) {
    const std::uint64_t h = hash_view(mb[i], depth + 1);
    bool dup = false;
    auto [lo, hi] = index.equal_range(h);
    for (auto it = lo; it != hi && !dup; ++it) dup = equal_views(mb[it->second], mb[i], depth + 1);
    if (!dup) {
      index.emplace(h, i);
      ++distinct_b;
    }
  }
  std::size_t distinct_a = 0;
  std::unordered_multimap<std::uint64_t, std::size_t> seen_a;
  for (std::size_t i = 0; i < ma.size(); ++i) {
    const std::uint64_t h = hash_view(ma[i], depth + 1);
    bool dup = false;
    auto [slo, shi] = seen_a.equal_range(h);
    for (auto it = slo; it != shi && !dup; ++it)
      dup = equal_views(ma[it->second], ma[i], depth + 1);
    if (dup) continue;
    seen_a.emplace(h, i);
    ++distinct_a;
    bool found = false;
    auto [lo, hi] = index.equal_range(h);
    for (auto it = lo; it != hi && !found; ++it)
      found = equal_views(mb[it->second], ma[i], depth + 1);
    if (!found) return false;
  }
  return distinct_a == distinct_b;
}

// A stored dict `s` against another dict view `o`.
bool dict_equal(const vview& s, const vview& o, int depth) {
  const auto* m = static_cast<const value_map*>(s.map);
  if (o.map) {  // both stored
    if (m->size() != static_cast<const value_map*>(o.map)->size()) return false;
    const auto* om = static_cast<const value_map*>(o.map);
    for (auto it = m->begin(); it != m->end(); ++it) {
      auto f = om->find(value_key(it.key()));
      if (f == om->end() ||
          !equal_views(view_of(s.pool, it.value()), view_of(o.pool, f.value()), depth + 1)) {
        return false;
      }
    }
    return true;
  }
  // o is an input dict: later duplicates win, as in Python.
  std::vector<std::size_t> last;  // index of the last pair of each distinct key
  for (std::size_t i = 0; i + 1 < o.items->size(); i += 2) {
    bool replaced = false;
    for (std::size_t& j : last) {
      if (equal_views(view_of((*o.items)[j]), view_of((*o.items)[i]), depth + 1)) {
        j = i;
        replaced = true;
        break;
      }
    }
    if (!replaced) last.push_back(i);
  }
  if (last.size() != m->size()) return false;
  for (std::size_t j : last) {
    auto f = m->find(value_key((*o.items)[j]));
    if (f == m->end() ||
        !equal_views(view_of(s.pool, f.value()), view_of((*o.items)[j + 1]), depth + 1)) {
      return false;
    }
  }
  return true;
}

bool equal_views(const vview& a, const vview& b, int depth) {
  if (depth > max_depth) {
    fail(error_code::invalid_argument, "values nest too deeply to compare (a cycle?)");
  }
  if (is_number(a.kind) && is_number(b.kind)) {
    const bool af = a.kind == value_kind::floating, bf = b.kind == value_kind::floating;
    if (af && bf) return a.floating == b.floating;
    if (!af && !bf) return a.integer == b.integer;
    const double d = af ? a.floating : b.floating;
    const std::int64_t i = af ? b.integer : a.integer;
    std::int64_t di = 0;
    return integral(d, &di) && di == i;
  }
  const bool a_set = a.kind == value_kind::set || a.kind == value_kind::frozenset;
  const bool b_set = b.kind == value_kind::set || b.kind == value_kind::frozenset;
  if (a_set && b_set) return set_equal(a, b, depth);
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case value_kind::none:
      return true;
    case value_kind::string:
    case value_kind::bytes:
      return a.text == b.text;
    case value_kind::encoded:
      return a.name == b.name && a.text == b.text;
    case value_kind::list:
    case value_kind::tuple: {
      if (!a.fresh && !b.fresh && a.identity != 0 && a.identity == b.identity) return true;
      if (a.count != b.count) return false;
      for (std::size_t i = 0; i < a.count; ++i) {
        if (!equal_views(item(a, i), item(b, i), depth + 1)) return false;
      }
      return true;
    }
    case value_kind::dict:
      if (a.map) return dict_equal(a, b, depth);
      if (b.map) return dict_equal(b, a, depth);
      return false;  // two inputs: not compared
    case value_kind::object:
      return !a.fresh && !b.fresh && a.identity == b.identity;
    default:
      return false;
  }
}

}  // namespace

std::uint64_t value_hash(const value_key& k) {
  return hash_view(k.cell ? view_of(pool_or_null(k.cell), *k.cell) : view_of(*k.in), 0);
}

bool value_equal(const value_cell& stored, const value_key& k) {
  const vview a = view_of(pool_or_null(&stored), stored);
  const vview b = k.cell ? view_of(pool_or_null(k.cell), *k.cell) : view_of(*k.in);
  return equal_views(a, b, 0);
}

bool values_equal(pool_impl* p, const value_cell& c, const input& in) {
  return equal_views(view_of(p, c), view_of(in), 0);
}

}  // namespace ferrite::detail
