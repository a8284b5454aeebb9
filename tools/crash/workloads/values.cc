// Built-in workloads on the dynamic value model (types/value.h): values and
// refcount.
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
// and 'tx~' == ~'tx'. `values` makes garbage cycles (a key holding the
// root), which only pool.gc() frees: no leak invariant there.
//
// refcount: the same operations without cycles, plus list clears and moves
// (a list item popped and stored under a root key in one transaction: its
// count reaches zero and rises again before the commit), and list items
// with payloads. Its check() adds, in every state (committed, recovered at
// every crash point, killed): every payload's reference count equals the
// number of cells reaching it (value_walk::wrong_counts), the heap holds
// exactly the objects the root reaches (no leak, no double free), and the
// collection at open after a crash freed and repaired nothing, so the
// counts were exact in the recovered image itself (docs/gc.md).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ferrite/types/value.h"
#include "tools/crash/readers/image_view.h"
#include "tools/crash/readers/value_walk.h"
#include "tools/crash/workloads/builtin.h"
#include "tools/crash/workloads/typed_common.h"
#include "tools/crash/workloads/value_model.h"

namespace ferrite::crash::values_workload {
namespace {

using typed::tx_mode;
const char* const root_keys[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};

enum class sk {
  init,
  root_set,
  root_del,
  share,
  self_ref,
  list_append,
  list_insert,
  list_pop,
  list_set,
  dict_set,
  dict_erase,
  set_add,
  set_discard,
  attr_set,
  attr_del,
  list_clear,  // refcount only
  list_move,   // refcount only: pop item `index` and store it under root key `src`
  count
};

struct step {
  sk kind = sk::root_set;
  std::string key;  // the root key stored or operated on
  std::string src;  // share: the root key shared
  std::int64_t index = 0;
  mval arg;  // dict key, set member, attribute name
  mval val;  // the value stored
};

struct plan {
  tx_mode how = tx_mode::transaction;
  std::vector<step> steps;
};

class values_model final : public workload {
 public:
  // `refcount`: the variant without cycles, whose states are checked for
  // exact reference counts and no leak (see the banner).
  explicit values_model(std::uint64_t seed, bool refcount = false)
      : seed_(seed), refcount_(refcount) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<values_model>(*this); }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override;
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    if (refcount_ && counts_[static_cast<int>(sk::list_move)] == 0) return "no value was moved";
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
  bool refcount_ = false;
  bool has_root_ = false;
  mval root_;                 // the root cell (a dict once made)
  std::vector<mcont> arena_;  // containers ever stored (unreachable ones stay, as in the pool)
  std::int64_t commits_ = 0;
  std::uint64_t counts_[static_cast<int>(sk::count)] = {};  // committed steps by kind
  std::uint64_t grouped_ = 0;                               // committed transactions of 2+ steps
};

mval values_model::store(const mval& x) {
  if (x.ref >= 0 || (x.k != value_kind::list && x.k != value_kind::dict && x.k != value_kind::set &&
                     x.k != value_kind::object)) {
    return x;
  }
  mcont c;
  c.k = x.k;
  if (x.k == value_kind::list || x.k == value_kind::set) {
    c.items = x.items;
  } else {
    for (std::size_t i = 0; i + 1 < x.items.size(); i += 2)
      c.entries.emplace_back(x.items[i], x.items[i + 1]);
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
    case sk::count:
      break;
    case sk::root_set:
      set_entry(root, str_of(s.key), v);
      break;
    case sk::root_del:
      erase_entry(root, str_of(s.key));
      break;
    case sk::share:
      set_entry(root, str_of(s.key), *root_entry(s.src));
      break;
    case sk::self_ref:
      set_entry(root, str_of(s.key), root_);
      break;
    case sk::list_append:
      target->items.push_back(v);
      break;
    case sk::list_insert:
      target->items.insert(target->items.begin() + s.index, v);
      break;
    case sk::list_pop:
      target->items.erase(target->items.begin() + s.index);
      break;
    case sk::list_set:
      target->items[static_cast<std::size_t>(s.index)] = v;
      break;
    case sk::dict_set:
    case sk::attr_set:
      set_entry(*target, s.arg, v);
      break;
    case sk::dict_erase:
    case sk::attr_del:
      erase_entry(*target, s.arg);
      break;
    case sk::set_add:
      if (std::none_of(target->items.begin(), target->items.end(),
                       [&](const mval& m) { return same(m, s.arg); })) {
        target->items.push_back(s.arg);
      }
      break;
    case sk::set_discard:
      std::erase_if(target->items, [&](const mval& m) { return same(m, s.arg); });
      break;
    case sk::list_clear:
      target->items.clear();
      break;
    case sk::list_move: {
      const mval moved = target->items[static_cast<std::size_t>(s.index)];
      target->items.erase(target->items.begin() + s.index);
      set_entry(root, str_of(s.src), moved);
      break;
    }
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
    s.kind = rng() % 4 || refcount_ ? sk::root_del : sk::self_ref;
  } else if (r == 5) {
    s.kind = sk::share;
    s.src = root_keys[rng() % 8];
    if (!root_entry(s.src)) s.kind = sk::root_del;
  } else if (r < 10 && on(value_kind::list)) {
    const std::size_t n = arena_[static_cast<std::size_t>(root_entry(s.key)->ref)].items.size();
    const std::uint64_t w = rng() % (refcount_ ? 6 : 4);
    s.kind = n == 0 || w == 0 ? sk::list_append
             : w == 1         ? sk::list_insert
             : w == 2         ? sk::list_pop
             : w == 3         ? sk::list_set
             : w == 4         ? sk::list_clear
                              : sk::list_move;
    s.index = static_cast<std::int64_t>(
        rng() % (s.kind == sk::list_insert ? n + 1 : std::max<std::size_t>(n, 1)));
    s.src = root_keys[rng() % 8];
    if (s.kind == sk::list_move && s.src == s.key) s.kind = sk::list_pop;
    // The refcount variant stores values with payloads (long str, lists...).
    s.val = refcount_ && rng() % 2 ? random_value(rng) : scalar(rng);
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
    const mval list = [&] {
      mval l;
      l.k = value_kind::list;
      l.items = {int_of(1), str_of("a")};
      return l;
    }();
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
    cyc.kind = refcount_ ? sk::root_set : sk::self_ref;
    cyc.key = "k7";
    cyc.val = str_of("another str stored out of its cell");
    add(cyc);
    pl.how = tx_mode::transaction;
    return pl;
  }
  pl.how = typed::pick_mode(rng, true);
  if (op <= (refcount_ ? 3 : 2)) pl.how = tx_mode::transaction;  // forced coverage (end_of_run)
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
    } else if (refcount_ && op == 3 && i == 0 && !m.keys_holding(value_kind::list).empty()) {
      s = step{};  // a long str appended, then moved to another key (forced coverage)
      s.key = m.keys_holding(value_kind::list)[0];
      s.kind = sk::list_append;
      s.val = str_of("a str moved out of a list");
      add(s);
      s.kind = sk::list_move;
      s.index = static_cast<std::int64_t>(
          m.arena_[static_cast<std::size_t>(m.root_entry(s.key)->ref)].items.size() - 1);
      s.src = s.key == "k6" ? "k5" : "k6";
    }
    add(std::move(s));
  }
  return pl;
}

void values_model::perform_step(pool& p, const step& s) {
  value root = p.root();
  switch (s.kind) {
    case sk::init:
      root = dict_of();
      return;
    case sk::root_set:
      root[s.key] = to_input(s.val);
      return;
    case sk::root_del:
      root.as_dict().erase(s.key);
      return;
    case sk::share:
      root[s.key] = root[s.src];
      return;
    case sk::self_ref:
      root[s.key] = root;
      return;
    case sk::list_append:
      root[s.key].as_list().append(to_input(s.val));
      return;
    case sk::list_insert:
      root[s.key].as_list().insert(s.index, to_input(s.val));
      return;
    case sk::list_pop:
      root[s.key].as_list().pop(s.index);
      return;
    case sk::list_set:
      root[s.key].as_list()[s.index] = to_input(s.val);
      return;
    case sk::dict_set:
      root[s.key].as_dict().set(to_input(s.arg), to_input(s.val));
      return;
    case sk::dict_erase:
      root[s.key].as_dict().erase(to_input(s.arg));
      return;
    case sk::set_add:
      root[s.key].as_set().add(to_input(s.arg));
      return;
    case sk::set_discard:
      root[s.key].as_set().discard(to_input(s.arg));
      return;
    case sk::attr_set:
      root[s.key].as_object().attributes().set(to_input(s.arg), to_input(s.val));
      return;
    case sk::attr_del:
      root[s.key].as_object().del_attr(s.arg.s);
      return;
    case sk::list_clear:
      root[s.key].as_list().clear();
      return;
    case sk::list_move:
      // Popped (its count may reach zero) and stored again before the commit.
      p.transaction([&] {
        value moved = root[s.key].as_list().pop(s.index);
        root[s.src] = moved;
      });
      return;
    case sk::count:
      return;
  }
}

void values_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  const std::int64_t n = commits_ + 1;
  typed::run_as(
      p, pl.how,
      [&] {
        for (const step& s : pl.steps) perform_step(p, s);
      },
      [&] {  // the count of committed transactions, in the root dict
        value root = p.root();
        root["tx"] = n;
        root["tx~"] = ~n;
      });
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
    if (got == want && refcount_) {
      // Exact counts, no leak, and nothing left for the collection at open
      // (which would otherwise hide a leak or repair a wrong count).
      if (const auto at_open = p.gc_at_open()) {
        if (at_open->total.freed != 0 || at_open->counts_repaired != 0) {
          return "the collection at open freed " + std::to_string(at_open->total.freed) +
                 " objects and repaired " + std::to_string(at_open->counts_repaired) +
                 " counts: the committed state was not exact";
        }
      }
      const std::string counts = w.wrong_counts();
      if (!counts.empty()) return counts;
      const std::uint64_t heap = p.heap_statistics().objects;
      if (has_root_ && v.objects() != heap) {
        return "the heap holds " + std::to_string(heap) + " objects, the root reaches " +
               std::to_string(v.objects()) + " (a leak or a double free)";
      }
      return "";
    }
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
  workload_info w = typed::info<values_workload::values_model>(
      "values",
      "the dynamic value model: a dict root, values of every kind, shared lists, cycles, list/"
      "dict/set/object mutations, aborted and nested transactions");
  w.make = [](std::uint64_t seed) {
    return std::make_unique<values_workload::values_model>(seed, false);
  };
  w.pool_sizes = {4ull << 20};
  w.quick_ops = 10;
  w.long_ops = 60;
  return w;
}

workload_info refcount() {
  register_class(values_workload::thing_class);
  workload_info w = typed::info<values_workload::values_model>(
      "refcount",
      "reference-count frees of the value model: values overwritten, erased, popped, cleared "
      "and moved (popped and stored in one transaction), no cycles; every state has exact "
      "counts and no object the root does not reach");
  w.make = [](std::uint64_t seed) {
    return std::make_unique<values_workload::values_model>(seed, true);
  };
  w.pool_sizes = {4ull << 20};
  w.quick_ops = 12;
  w.long_ops = 60;
  return w;
}

}  // namespace ferrite::crash::builtin
