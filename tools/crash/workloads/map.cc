// Built-in workload on ferrite::map and ferrite::set (B+-trees): map-set.
//
// The root holds a map<i64,i64>, a set<i64> and a map<ferrite::string,i64>.
// An operation runs one to four steps (insert, insert_or_assign,
// operator[] inside a transaction, erase of present and absent keys,
// clear, at() of an absent key that must throw not_found and change
// nothing, and bulk steps: 12-40 inserts that split leaves and inner nodes,
// erases of a key range that empty and remove nodes) as one call atomic on
// its own, in a transaction (sometimes nested), or in one that aborts.
//
// Model: std::map / std::set, on typed::skeleton (typed_skeleton.h).
// compare(): the entries, in order, equal the model's (walked through
// container_walk on every handle; on the handle that owns the pool's tag
// also through iteration, find() and at()). walk(): each tree's structure
// (container_walk.h: depth, counts, key order within and across nodes, the
// leaf chain, size equals the keys in leaves; plus check_invariants() on
// the owning handle), no duplicated key, every string key's invariants;
// the skeleton adds no leak: the heap holds exactly the root, the trees'
// nodes and the string keys' buffers (leaf keys and the inner nodes'
// separators, which are copies of their own).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ferrite/types/map.h"
#include "ferrite/types/set.h"
#include "ferrite/types/string.h"
#include "tools/crash/readers/container_walk.h"
#include "tools/crash/workloads/builtin.h"
#include "tools/crash/workloads/typed_skeleton.h"

namespace ferrite::crash::map_workload {

struct root {
  std::uint64_t commits;  // typed::commit_counter
  std::uint64_t complement;
  ferrite::map<std::int64_t, std::int64_t> nums;
  ferrite::set<std::int64_t> keys;
  ferrite::map<ferrite::string, std::int64_t> names;
};
FERRITE_TYPE(root, "crash.MapRoot", commits, complement, nums, keys, names)

namespace {

using typed::tx_mode;

constexpr std::int64_t key_range = 400;  // i64 keys 0..399
constexpr std::int64_t name_range = 60;  // names "n0".."n59"

enum class kind { insert, assign, subscript, erase, clear, misuse, bulk_insert, bulk_erase };
enum class target { nums, keys, names };

struct step {
  target on = target::nums;
  kind what = kind::insert;
  std::int64_t key = 0, value = 0;
  std::int64_t count = 0, stride = 1;  // bulk steps: keys key, key + stride, ...
};

std::string name_of(std::int64_t k) {
  return "n" + std::to_string(k);
}

struct state {
  std::map<std::int64_t, std::int64_t> nums;
  std::set<std::int64_t> keys;
  std::map<std::string, std::int64_t> names;
  std::size_t most_nums = 0;  // the most entries nums held after a step, for end_of_run

  // The bulk steps' keys (those in range).
  static std::vector<std::int64_t> bulk_keys(const step& s) {
    std::vector<std::int64_t> out;
    const std::int64_t range = s.on == target::names ? name_range : key_range;
    for (std::int64_t i = 0, k = s.key; i < s.count && k < range; ++i, k += s.stride) {
      out.push_back(k);
    }
    return out;
  }

  void apply(const step& s) {
    apply_one(s);
    most_nums = std::max(most_nums, nums.size());
  }

  void apply_one(const step& s) {
    const std::vector<std::int64_t> bulk = bulk_keys(s);
    auto on_map = [&](auto& m, auto key_of) {
      switch (s.what) {
        case kind::insert:
          m.emplace(key_of(s.key), s.value);
          break;
        case kind::assign:
        case kind::subscript:
          m[key_of(s.key)] = s.value;
          break;
        case kind::erase:
          m.erase(key_of(s.key));
          break;
        case kind::clear:
          m.clear();
          break;
        case kind::misuse:
          break;
        case kind::bulk_insert:
          for (std::int64_t k : bulk) m.emplace(key_of(k), s.value + k);
          break;
        case kind::bulk_erase:
          for (std::int64_t k : bulk) m.erase(key_of(k));
          break;
      }
    };
    switch (s.on) {
      case target::nums:
        on_map(nums, [](std::int64_t k) { return k; });
        return;
      case target::names:
        on_map(names, name_of);
        return;
      case target::keys:
        switch (s.what) {
          case kind::insert:
          case kind::assign:
          case kind::subscript:
            keys.insert(s.key);
            return;
          case kind::erase:
            keys.erase(s.key);
            return;
          case kind::clear:
            keys.clear();
            return;
          case kind::misuse:
            return;
          case kind::bulk_insert:
            keys.insert(bulk.begin(), bulk.end());
            return;
          case kind::bulk_erase:
            for (std::int64_t k : bulk) keys.erase(k);
            return;
        }
    }
  }
};

class map_model final : public typed::skeleton<map_model, root, state, step> {
 public:
  using skeleton::skeleton;
  std::string end_of_run(const pool&) const override {
    // A leaf of map<i64,i64> holds about 31 entries (512-byte nodes).
    return state_.most_nums >= 40 ? "" : "the numbers never held 40 entries (no split)";
  }

  typed::plan<step> plan_of(std::uint64_t op) const;
  static void perform_step(pool&, root& r, const step& s, tx_mode how);
  std::string compare(image_view& v, const root& r) const;
  std::string walk(image_view& v, const root& r) const;
};

typed::plan<step> map_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  typed::plan<step> pl;
  // Operations 1 and 2 grow the numbers past one leaf (a split, a tree of
  // height 1) in every run.
  const bool grow_first = op == 1 || op == 2;
  const std::size_t n = pl.pick(rng, has_root_, grow_first);
  state st = state_;
  for (std::size_t i = 0; i < n; ++i) {
    step s;
    const std::uint64_t t = rng() % 8;
    s.on = t < 4 ? target::nums : t < 6 ? target::keys : target::names;
    const std::int64_t range = s.on == target::names ? name_range : key_range;
    s.key = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(range));
    s.value = static_cast<std::int64_t>(rng() % 100000) - 50000;
    const std::uint64_t k = rng() % 32;
    if (pl.how == tx_mode::atomic) {  // one call
      s.what = k < 12 ? kind::insert : k < 20 ? kind::assign : k < 31 ? kind::erase : kind::clear;
    } else if (grow_first && i == 0) {
      s.on = target::nums;
      s.what = kind::bulk_insert;
      s.key = op == 1 ? 0 : 1;
      s.count = 40;
      s.stride = 2;
    } else if (k < 9) {
      s.what = kind::insert;
    } else if (k < 13) {
      s.what = kind::assign;
    } else if (k < 16) {
      s.what = kind::subscript;
    } else if (k < 23) {
      s.what = kind::erase;
    } else if (k < 27) {
      s.what = kind::bulk_insert;
      s.count = 12 + static_cast<std::int64_t>(rng() % 29);
      s.stride = 1 + static_cast<std::int64_t>(rng() % 3);
    } else if (k < 30) {
      s.what = kind::bulk_erase;
      s.count = 10 + static_cast<std::int64_t>(rng() % 40);
      s.stride = 1;
    } else if (k < 31) {
      s.what = kind::misuse;
      // at() of an absent key
      if (s.on == target::keys) s.on = target::nums;
      const std::int64_t r = s.on == target::names ? name_range : key_range;
      s.key = r + static_cast<std::int64_t>(rng() % 10);  // never present
    } else {
      s.what = kind::clear;
    }
    st.apply(s);
    pl.steps.push_back(s);
  }
  return pl;
}

void map_model::perform_step(pool&, root& r, const step& s, tx_mode how) {
  const bool in_transaction = how != tx_mode::atomic;
  const std::vector<std::int64_t> bulk = state::bulk_keys(s);
  auto on_map = [&](auto& m, auto key_of) {
    switch (s.what) {
      case kind::insert:
        m.insert(key_of(s.key), s.value);
        return;
      case kind::assign:
        m.insert_or_assign(key_of(s.key), s.value);
        return;
      case kind::subscript:
        if (!in_transaction) throw std::logic_error("operator[] planned outside a transaction");
        m[key_of(s.key)] = s.value;  // snapshotted by operator[] in a transaction
        return;
      case kind::erase:
        m.erase(key_of(s.key));
        return;
      case kind::clear:
        m.clear();
        return;
      case kind::misuse:
        typed::expect_misuse(error_code::not_found, "map::at of an absent key",
                             [&] { (void)m.at(key_of(s.key)); });
        return;
      case kind::bulk_insert:
        for (std::int64_t k : bulk) m.insert(key_of(k), s.value + k);
        return;
      case kind::bulk_erase:
        for (std::int64_t k : bulk) m.erase(key_of(k));
        return;
    }
  };
  switch (s.on) {
    case target::nums:
      on_map(r.nums, [](std::int64_t k) { return k; });
      return;
    case target::names:
      on_map(r.names, name_of);
      return;  // a std::string per call
    case target::keys:
      switch (s.what) {
        case kind::insert:
        case kind::assign:
        case kind::subscript:
          r.keys.insert(s.key);
          return;
        case kind::erase:
          r.keys.erase(s.key);
          return;
        case kind::clear:
          r.keys.clear();
          return;
        case kind::misuse:
          return;
        case kind::bulk_insert:
          for (std::int64_t k : bulk) r.keys.insert(k);
          return;
        case kind::bulk_erase:
          for (std::int64_t k : bulk) r.keys.erase(k);
          return;
      }
  }
}

int compare_i64(const std::byte* a, const std::byte* b) {
  const std::int64_t x = i64_at(a), y = i64_at(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// What the three trees hold, walked through `v` (every structural check).
state read(image_view& v, const root& r) {
  using typed::stored_name;
  state st;
  for (const stored_entry& e :
       walk_btree(v, &r.nums, shape_of<std::int64_t>(), shape_of<std::int64_t>(),
                  stored_name<decltype(r.nums)>(), compare_i64)) {
    st.nums.emplace(i64_at(e.key), i64_at(e.value));  // strictly increasing: no duplicate
  }
  for (const stored_entry& e : walk_btree(v, &r.keys, shape_of<std::int64_t>(), no_value,
                                          stored_name<decltype(r.keys)>(), compare_i64)) {
    st.keys.insert(i64_at(e.key));
  }
  auto compare_text = [&v](const std::byte* a, const std::byte* b) {
    const int c = v.text(*reinterpret_cast<const ferrite::string*>(a), false)
                      .compare(v.text(*reinterpret_cast<const ferrite::string*>(b), false));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  };
  std::vector<const std::byte*> separators;  // string copies of their own
  for (const stored_entry& e :
       walk_btree(v, &r.names, shape_of<ferrite::string>(), shape_of<std::int64_t>(),
                  stored_name<decltype(r.names)>(), compare_text, &separators)) {
    st.names.emplace(v.text(*reinterpret_cast<const ferrite::string*>(e.key)), i64_at(e.value));
  }
  for (const std::byte* k : separators) v.text(*reinterpret_cast<const ferrite::string*>(k));
  return st;
}

std::string map_model::compare(image_view& v, const root& r) const {
  const state st = read(v, r);
  const state& m = state_;
  if (std::string d = typed::first_difference(st.nums, m.nums, "map<i64,i64>"); !d.empty()) {
    return d;
  }
  if (std::string d = typed::first_difference(st.keys, m.keys, "set<i64>"); !d.empty()) return d;
  if (std::string d = typed::first_difference(st.names, m.names, "map<string,i64>"); !d.empty()) {
    return d;
  }
  if (v.owns_pointers()) {  // the containers' own reading API, too
    std::size_t n = 0;
    for (auto [k, val] : r.nums) {
      auto it = m.nums.find(k);
      if (it == m.nums.end() || it->second != val) return "map<i64,i64> iteration differs";
      ++n;
    }
    if (n != m.nums.size()) return "map<i64,i64> iteration visits " + std::to_string(n);
    for (const auto& [k, val] : m.nums) {
      if (r.nums.at(k) != val || r.nums.find(k) == r.nums.end()) {
        return "map<i64,i64>::find/at(" + std::to_string(k) + ") differs";
      }
    }
    if (!std::equal(r.keys.begin(), r.keys.end(), m.keys.begin(), m.keys.end())) {
      return "set<i64> iteration differs";
    }
    for (std::int64_t k : m.keys) {
      if (!r.keys.contains(k)) return "set<i64>::contains(" + std::to_string(k) + ") is false";
    }
    for (const auto& [k, val] : m.names) {
      if (r.names.at(k) != val) return "map<string,i64>::at(" + k + ") differs";
    }
  }
  return "";
}

std::string map_model::walk(image_view& v, const root& r) const {
  read(v, r);
  if (v.owns_pointers()) {
    for (std::string d :
         {r.nums.check_invariants(), r.keys.check_invariants(), r.names.check_invariants()}) {
      if (!d.empty()) return "check_invariants(): " + d;
    }
  }
  return "";
}

}  // namespace
}  // namespace ferrite::crash::map_workload

namespace ferrite::crash::builtin {

workload_info map_set() {
  workload_info w = typed::info<map_workload::map_model>(
      "map-set",
      "ferrite::map<i64,i64>, set<i64>, map<string,i64> (B+-trees): inserts that split, erases "
      "that remove nodes, clear, misuse; aborted and nested transactions");
  w.pool_sizes = {2ull << 20};
  w.quick_ops = 10;
  w.long_ops = 60;
  return w;
}

}  // namespace ferrite::crash::builtin
