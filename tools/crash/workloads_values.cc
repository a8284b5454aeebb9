// Built-in workload on the dynamic value model (types/value.h): values.
//
// The pool's root is a value (pool.root()): the first operation makes it a
// dict holding a list, the same list under a second key, a dict, a set, an
// object of class crash.Thing, a long str, a tuple and the root itself (a
// cycle). Operations then store values of every kind under root keys
// (None, bool, int, float, str inline and out of line, bytes, tuples,
// frozensets, encoded values, new lists, dicts, sets and objects), share a
// container between two keys, make cycles, delete keys, append / insert /
// pop / assign list items, set and erase dict items, add and discard set
// members, set and delete object attributes: one call atomic on its own,
// or one to four in a transaction (sometimes nested), or in a transaction
// that throws (aborted). Every committed transaction also stores its count
// under 'tx' and its complement under 'tx~'.
//
// Model: an arena of containers (list items, dict/object entries, set
// members) and the root, rendered as value_walk's canonical text (sorted
// entries, shared containers and cycles as "&N"); check() compares it with
// the text value_walk reads from the pool.
//
// Invariants, in every state: the value graph's layouts (value_walk.h:
// payload types and sizes, str NULs, the vector and hash_map invariants
// of every list, dict, set and object, no duplicated key, stored hashes
// equal to the keys' value_hash on the handle owning the pool's pointers),
// and 'tx~' == ~'tx'. NOT the typed workloads' no-leak invariant: an
// overwritten or erased value's payload stays allocated until pool.gc()
// (value.h), so the heap holds more than the root reaches.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tools/crash/builtin.h"
#include "tools/crash/image_view.h"
#include "tools/crash/typed_common.h"
#include "tools/crash/value_walk.h"
#include "types/value.h"

namespace ferrite::crash::values_workload {
namespace {

using typed::tx_mode;
constexpr const char* thing_class = "crash.Thing";
constexpr const char* codec = "crash.Pair";
const char* const root_keys[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};

// A value: immutable ones by contents; a container by its arena index
// (`ref`), or, not yet stored, by its initial contents in `items`.
struct mval {
  value_kind k = value_kind::none;
  bool b = false;
  std::int64_t i = 0;
  double f = 0;
  std::string s;             // str, bytes, encoded data
  std::vector<mval> items;   // tuple, frozenset; a new container's items (dict, object: k, v, k, v)
  std::int64_t ref = -1;     // a stored list/dict/set/object
};

struct mcont {
  value_kind k = value_kind::list;
  std::vector<mval> items;                       // list items, set members
  std::vector<std::pair<mval, mval>> entries;    // dict items, object attributes
};

enum class sk {
  init, root_set, root_del, share, self_ref, list_append, list_insert, list_pop, list_set,
  dict_set, dict_erase, set_add, set_discard, attr_set, attr_del, count
};

struct step {
  sk kind = sk::root_set;
  std::string key;     // the root key stored or operated on
  std::string src;     // share: the root key shared
  std::int64_t index = 0;
  mval arg;            // dict key, set member, attribute name
  mval val;            // the value stored
};

struct plan {
  tx_mode how = tx_mode::transaction;
  std::vector<step> steps;
};

// Canonical text of a model value (value_walk.h).
class canon {
 public:
  explicit canon(const std::vector<mcont>& arena) : arena_(arena) {}
  std::string of(const mval& x);

 private:
  std::string pairs(const mcont& c);
  const std::vector<mcont>& arena_;
  std::map<std::int64_t, std::uint64_t> ids_;
};

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

std::string canon::pairs(const mcont& c) {
  std::vector<std::pair<std::string, const mval*>> keys;
  for (const auto& [k, v] : c.entries) keys.emplace_back(of(k), &v);
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (const auto& [k, v] : keys) parts.push_back(k + ": " + of(*v));
  return "{" + join(parts) + "}";
}

std::string canon::of(const mval& x) {
  switch (x.k) {
    case value_kind::none: return "None";
    case value_kind::boolean: return x.b ? "True" : "False";
    case value_kind::integer: return std::to_string(x.i);
    case value_kind::floating: return canonical_float(x.f);
    case value_kind::string: return canonical_text(false, x.s);
    case value_kind::bytes: return canonical_text(true, x.s);
    case value_kind::encoded: return std::string("<") + codec + ":" + canonical_text(true, x.s) + ">";
    case value_kind::tuple:
    case value_kind::frozenset: {
      std::vector<std::string> parts;
      for (const mval& m : x.items) parts.push_back(of(m));
      if (x.k == value_kind::tuple) return "(" + join(parts) + (parts.size() == 1 ? ",)" : ")");
      std::sort(parts.begin(), parts.end());
      return "frozenset({" + join(parts) + "})";
    }
    default: break;
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
    case value_kind::object: return head + "<" + thing_class + " " + pairs(c) + ">";
    default: return head + pairs(c);
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
    case 0: break;
    case 1: v.k = value_kind::boolean; v.b = rng() % 2; break;
    case 2: v.k = value_kind::floating; v.f = rng() % 2 ? 2.5 : -1e100; break;
    case 3: v.k = value_kind::string; v.s = typed::letters(rng, rng() % 15); break;
    default: v.k = value_kind::integer; v.i = static_cast<std::int64_t>(rng() % 2001) - 1000; break;
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
    if (std::none_of(out.begin(), out.end(), [&](const mval& o) { return same(o, m); })) out.push_back(m);
  }
  return out;
}

// A value of any kind; containers new (not yet in the arena).
mval random_value(std::mt19937_64& rng) {
  mval v;
  switch (rng() % 14) {
    case 0: return scalar(rng);
    case 1: return int_of(static_cast<std::int64_t>(rng()));
    case 2:  // out of line: two buffer sizes
      return str_of(typed::letters(rng, rng() % 2 ? 20 : 40));
    case 3:
      v.k = value_kind::bytes;
      for (std::size_t n = rng() % 2 ? rng() % 10 : 24; v.s.size() < n;) v.s += static_cast<char>(rng() % 256);
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
    case value_kind::none: return input();
    case value_kind::boolean: return input(x.b);
    case value_kind::integer: return input(x.i);
    case value_kind::floating: return input(x.f);
    case value_kind::string: return input(x.s);
    case value_kind::bytes: return bytes_of(x.s);
    case value_kind::encoded: return encoded(codec, x.s);
    case value_kind::object:
      if (items.empty()) return object_of(thing_class);
      if (items.size() == 2) return object_of(thing_class, {{items[0], items[1]}});
      return object_of(thing_class, {{items[0], items[1]}, {items[2], items[3]}});
    default: return detail::make_container(x.k, std::move(items));
  }
}

class values_model final : public workload {
 public:
  explicit values_model(std::uint64_t seed) : seed_(seed) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<values_model>(*this); }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override;
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    if (counts_[static_cast<int>(sk::share)] == 0) return "no container was shared";
    if (counts_[static_cast<int>(sk::list_pop)] == 0) return "no list item was popped";
    if (grouped_ == 0) return "no transaction of several operations committed";
    return {};
  }

 private:
  plan plan_of(std::uint64_t op) const;
  step random_step(std::mt19937_64& rng) const;
  void apply_step(const step& s);
  static void perform_step(pool& p, const step& s);
  mval store(const mval& x);  // x in the arena (new containers added)
  mval* root_entry(const std::string& key);
  const mval* root_entry(const std::string& key) const {
    return const_cast<values_model*>(this)->root_entry(key);
  }
  std::vector<std::string> keys_holding(value_kind k) const;
  std::string text() const { return has_root_ ? canon(arena_).of(root_) : ""; }

  std::uint64_t seed_;
  bool has_root_ = false;
  mval root_;                  // the root cell (a dict once made)
  std::vector<mcont> arena_;   // containers ever stored (unreachable ones stay, as in the pool)
  std::int64_t commits_ = 0;
  std::uint64_t counts_[static_cast<int>(sk::count)] = {};  // committed steps by kind
  std::uint64_t grouped_ = 0;  // committed transactions of 2+ steps
};

mval values_model::store(const mval& x) {
  if (x.ref >= 0 || (x.k != value_kind::list && x.k != value_kind::dict &&
                     x.k != value_kind::set && x.k != value_kind::object)) {
    return x;
  }
  mcont c;
  c.k = x.k;
  if (x.k == value_kind::list || x.k == value_kind::set) {
    c.items = x.items;
  } else {
    for (std::size_t i = 0; i + 1 < x.items.size(); i += 2) c.entries.emplace_back(x.items[i], x.items[i + 1]);
  }
  arena_.push_back(std::move(c));
  mval r;
  r.k = x.k;
  r.ref = static_cast<std::int64_t>(arena_.size() - 1);
  return r;
}

mval* values_model::root_entry(const std::string& key) {
  for (auto& [k, v] : arena_[0].entries) {
    if (k.k == value_kind::string && k.s == key) return &v;
  }
  return nullptr;
}

std::vector<std::string> values_model::keys_holding(value_kind kind) const {
  std::vector<std::string> out;
  if (!has_root_) return out;
  for (const auto& [k, v] : arena_[0].entries) {
    if (v.k == kind && k.s.size() == 2 && k.s[0] == 'k') out.push_back(k.s);
  }
  return out;
}

void values_model::apply_step(const step& s) {
  if (s.kind == sk::init) {
    has_root_ = true;
    root_ = store(s.val);
    return;
  }
  auto set_entry = [](mcont& c, const mval& k, const mval& v) {
    for (auto& [ek, ev] : c.entries) {
      if (same(ek, k)) {
        ev = v;
        return;
      }
    }
    c.entries.emplace_back(k, v);
  };
  auto erase_entry = [](mcont& c, const mval& k) {
    std::erase_if(c.entries, [&](const auto& e) { return same(e.first, k); });
  };
  const mval v = store(s.val);  // a new container joins the arena first
  mcont& root = arena_[0];
  const mval* at = root_entry(s.key);
  mcont* target = at && at->ref >= 0 ? &arena_[static_cast<std::size_t>(at->ref)] : nullptr;
  switch (s.kind) {
    case sk::init:
    case sk::count: break;
    case sk::root_set: set_entry(root, str_of(s.key), v); break;
    case sk::root_del: erase_entry(root, str_of(s.key)); break;
    case sk::share: set_entry(root, str_of(s.key), *root_entry(s.src)); break;
    case sk::self_ref: set_entry(root, str_of(s.key), root_); break;
    case sk::list_append: target->items.push_back(v); break;
    case sk::list_insert: target->items.insert(target->items.begin() + s.index, v); break;
    case sk::list_pop: target->items.erase(target->items.begin() + s.index); break;
    case sk::list_set: target->items[static_cast<std::size_t>(s.index)] = v; break;
    case sk::dict_set:
    case sk::attr_set: set_entry(*target, s.arg, v); break;
    case sk::dict_erase:
    case sk::attr_del: erase_entry(*target, s.arg); break;
    case sk::set_add:
      if (std::none_of(target->items.begin(), target->items.end(), [&](const mval& m) { return same(m, s.arg); })) {
        target->items.push_back(s.arg);
      }
      break;
    case sk::set_discard:
      std::erase_if(target->items, [&](const mval& m) { return same(m, s.arg); });
      break;
  }
}

step values_model::random_step(std::mt19937_64& rng) const {
  step s;
  s.key = root_keys[rng() % 8];
  const std::uint64_t r = rng() % 16;
  auto on = [&](value_kind k) {  // a root key holding a k, else store a new one
    const std::vector<std::string> keys = keys_holding(k);
    if (keys.empty()) return false;
    s.key = keys[rng() % keys.size()];
    return true;
  };
  if (r < 4) {
    s.kind = sk::root_set;
    s.val = random_value(rng);
  } else if (r == 4) {
    s.kind = rng() % 4 ? sk::root_del : sk::self_ref;
  } else if (r == 5) {
    s.kind = sk::share;
    s.src = root_keys[rng() % 8];
    if (!root_entry(s.src)) s.kind = sk::root_del;
  } else if (r < 10 && on(value_kind::list)) {
    const std::size_t n = arena_[static_cast<std::size_t>(root_entry(s.key)->ref)].items.size();
    const std::uint64_t w = rng() % 4;
    s.kind = n == 0 || w == 0 ? sk::list_append : w == 1 ? sk::list_insert : w == 2 ? sk::list_pop : sk::list_set;
    s.index = static_cast<std::int64_t>(rng() % (s.kind == sk::list_insert ? n + 1 : std::max<std::size_t>(n, 1)));
    s.val = scalar(rng);
  } else if (r < 12 && on(value_kind::dict)) {
    s.kind = rng() % 3 ? sk::dict_set : sk::dict_erase;
    s.arg = rng() % 4 ? str_of(std::string(1, static_cast<char>('a' + rng() % 4))) : [&] {
      mval t;  // a tuple key
      t.k = value_kind::tuple;
      t.items = {str_of("t"), int_of(static_cast<std::int64_t>(rng() % 3))};
      return t;
    }();
    s.val = rng() % 4 ? scalar(rng) : random_value(rng);
  } else if (r < 14 && on(value_kind::set)) {
    s.kind = rng() % 2 ? sk::set_add : sk::set_discard;
    s.arg = int_of(static_cast<std::int64_t>(rng() % 10));
  } else if (on(value_kind::object)) {
    s.kind = rng() % 3 ? sk::attr_set : sk::attr_del;
    s.arg = str_of(rng() % 2 ? "name" : "size");
    s.val = scalar(rng);
  } else {
    s.kind = sk::root_set;
    s.val = random_value(rng);
  }
  return s;
}

plan values_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  plan pl;
  values_model m = *this;  // planned on a copy: later steps see earlier ones
  auto add = [&](step s) {
    m.apply_step(s);
    pl.steps.push_back(std::move(s));
  };
  if (!has_root_) {  // the first transaction makes the root
    step s;
    s.kind = sk::init;
    s.val.k = value_kind::dict;
    add(s);
    const mval list = [&] { mval l; l.k = value_kind::list; l.items = {int_of(1), str_of("a")}; return l; }();
    const char* keys[] = {"k0", "k2", "k3", "k4", "k5", "k6"};
    mval vals[6];
    vals[0] = list;
    vals[1].k = value_kind::dict;
    vals[1].items = {str_of("a"), int_of(1)};
    vals[2].k = value_kind::set;
    vals[2].items = {int_of(1), int_of(2)};
    vals[3].k = value_kind::object;
    vals[3].items = {str_of("name"), str_of("t")};
    vals[4] = str_of("a str stored out of its cell");
    vals[5].k = value_kind::tuple;
    vals[5].items = {int_of(1), str_of("x")};
    for (int i = 0; i < 6; ++i) {
      step e;
      e.kind = sk::root_set;
      e.key = keys[i];
      e.val = vals[i];
      add(e);
    }
    step sh;
    sh.kind = sk::share;
    sh.key = "k1";
    sh.src = "k0";
    add(sh);
    step cyc;
    cyc.kind = sk::self_ref;
    cyc.key = "k7";
    add(cyc);
    pl.how = tx_mode::transaction;
    return pl;
  }
  pl.how = typed::pick_mode(rng, true);
  if (op <= 2) pl.how = tx_mode::transaction;  // forced coverage (end_of_run)
  const std::size_t n = pl.how == tx_mode::atomic ? 1 : 1 + rng() % 4;
  for (std::size_t i = 0; i < n; ++i) {
    step s = m.random_step(rng);
    if (op == 1 && i == 0 && m.root_entry("k0") && m.root_entry("k0")->k == value_kind::list) {
      s = step{};  // share k0's list, then change it through the other key
      s.kind = sk::share;
      s.key = "k5";
      s.src = "k0";
      add(s);
      s = step{};
      s.kind = sk::list_append;
      s.key = "k5";
      s.val = int_of(7);
    } else if (op == 2 && i == 0 && !m.keys_holding(value_kind::list).empty()) {
      s = step{};
      s.key = m.keys_holding(value_kind::list)[0];
      s.kind = sk::list_append;
      s.val = int_of(8);
      add(s);
      s.kind = sk::list_pop;
      s.index = 0;
    }
    add(std::move(s));
  }
  return pl;
}

void values_model::perform_step(pool& p, const step& s) {
  value root = p.root();
  switch (s.kind) {
    case sk::init: root = dict_of(); return;
    case sk::root_set: root[s.key] = to_input(s.val); return;
    case sk::root_del: root.as_dict().erase(s.key); return;
    case sk::share: root[s.key] = root[s.src]; return;
    case sk::self_ref: root[s.key] = root; return;
    case sk::list_append: root[s.key].as_list().append(to_input(s.val)); return;
    case sk::list_insert: root[s.key].as_list().insert(s.index, to_input(s.val)); return;
    case sk::list_pop: root[s.key].as_list().pop(s.index); return;
    case sk::list_set: root[s.key].as_list()[s.index] = to_input(s.val); return;
    case sk::dict_set: root[s.key].as_dict().set(to_input(s.arg), to_input(s.val)); return;
    case sk::dict_erase: root[s.key].as_dict().erase(to_input(s.arg)); return;
    case sk::set_add: root[s.key].as_set().add(to_input(s.arg)); return;
    case sk::set_discard: root[s.key].as_set().discard(to_input(s.arg)); return;
    case sk::attr_set: root[s.key].as_object().attributes().set(to_input(s.arg), to_input(s.val)); return;
    case sk::attr_del: root[s.key].as_object().del_attr(s.arg.s); return;
    case sk::count: return;
  }
}

void values_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  auto steps = [&] {
    for (const step& s : pl.steps) perform_step(p, s);
  };
  if (pl.how == tx_mode::atomic) {
    steps();
    return;
  }
  const std::int64_t n = commits_ + 1;
  auto body = [&] {
    steps();
    value root = p.root();
    root["tx"] = n;
    root["tx~"] = ~n;
  };
  switch (pl.how) {
    case tx_mode::transaction: p.transaction(body); return;
    case tx_mode::nested: p.transaction([&] { p.transaction(body); }); return;
    case tx_mode::aborted:
      try {
        p.transaction([&] {
          body();
          throw typed::planned_abort{};
        });
      } catch (const typed::planned_abort&) {
      }
      return;
    case tx_mode::atomic: return;
  }
}

void values_model::apply(std::uint64_t op) {
  const plan pl = plan_of(op);
  if (pl.how == tx_mode::aborted) return;
  for (const step& s : pl.steps) {
    apply_step(s);
    counts_[static_cast<int>(s.kind)] += 1;
  }
  if (pl.how == tx_mode::atomic) return;
  commits_ += 1;
  grouped_ += pl.steps.size() > 1;
  step c;
  c.kind = sk::root_set;
  c.key = "tx";
  c.val = int_of(commits_);
  apply_step(c);
  c.key = "tx~";
  c.val = int_of(~commits_);
  apply_step(c);
}

std::string values_model::check(const pool& p) const {
  return checked_read([&]() -> std::string {
    image_view v(p);
    value_walk w(v, false);
    const std::string got = w.root();
    const std::string want = text();
    if (got == want) return "";
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    const std::size_t from = i > 40 ? i - 40 : 0;
    return "the pool holds ..." + got.substr(from, 120) + "..., the model ..." +
           want.substr(from, 120) + "... (from byte " + std::to_string(i) + ")";
  });
}

std::string values_model::invariants(const pool& p) const {
  return checked_read([&]() -> std::string {
    image_view v(p);
    value_walk w(v, v.owns_pointers());
    const std::string t = w.root();
    if (t.empty()) return "";
    auto number_after = [&](const std::string& key, bool& found) -> std::int64_t {
      const std::string at = "'" + key + "': ";
      const std::size_t pos = t.find(at);
      found = pos != std::string::npos;
      return found ? std::stoll(t.substr(pos + at.size())) : 0;
    };
    bool has_n = false, has_c = false;
    const std::int64_t n = number_after("tx", has_n), c = number_after("tx~", has_c);
    if (has_n != has_c || (has_n && c != ~n)) {
      return "the transaction count 'tx' " + std::to_string(n) + " and its complement 'tx~' " +
             std::to_string(c) + " disagree";
    }
    return "";
  });
}

}  // namespace
}  // namespace ferrite::crash::values_workload

namespace ferrite::crash::builtin {

workload_info values() {
  register_class(values_workload::thing_class);
  workload_info w;
  w.name = "values";
  w.description =
      "the dynamic value model: a dict root, values of every kind, shared lists, cycles, list/"
      "dict/set/object mutations, aborted and nested transactions";
  w.make = [](std::uint64_t seed) { return std::make_unique<values_workload::values_model>(seed); };
  w.pool_sizes = {4ull << 20};
  w.quick_ops = 10;
  w.long_ops = 60;
  w.typed = true;
  w.continue_ops = 0;  // see workload_info::typed
  return w;
}

}  // namespace ferrite::crash::builtin
