// Built-in workload on ferrite::hash_map: hash-map.
//
// The root holds a hash_map<i64,i64> and a hash_map<ferrite::string,
// ferrite::string>. An operation runs one to four steps (insert,
// insert_or_assign, operator[] inside a transaction, erase by key and by
// iterator, clear inside a transaction, at() of an absent key that must
// throw not_found and change nothing, and bulk steps: 10-40 inserts
// that split buckets one by one and add segments, erases of a key range)
// as one call atomic on its own, in a transaction (sometimes nested), or in
// one that aborts. clear() is never called on its own: outside a
// transaction it frees the nodes in several transactions (documented in
// types/hash_map.h), more than the one commit an operation may make.
//
// Model: std::map, on typed::skeleton (typed_skeleton.h). compare(): the
// elements equal the model's (walked through container_walk on every
// handle; on the handle that owns the pool's tag also through iteration,
// find(), contains() and at() of every model key). walk(): the layout's
// invariants (container_walk.h: segments, level and split, every node in
// the bucket its stored hash selects, size equals the nodes), every stored
// hash equals its key's stable hash, no duplicated key, every string's
// invariants; the skeleton adds no leak: the heap holds exactly the root,
// the directory, the segments, the nodes and the strings' buffers.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ferrite/types/hash_map.h"
#include "ferrite/types/string.h"
#include "tools/crash/readers/container_walk.h"
#include "tools/crash/workloads/builtin.h"
#include "tools/crash/workloads/typed_skeleton.h"

namespace ferrite::crash::hash_map_workload {

struct root {
  std::uint64_t commits;  // typed::commit_counter
  std::uint64_t complement;
  ferrite::hash_map<std::int64_t, std::int64_t> nums;
  ferrite::hash_map<ferrite::string, ferrite::string> names;
};
FERRITE_TYPE(root, "crash.HashMapRoot", commits, complement, nums, names)

namespace {

using typed::tx_mode;

constexpr std::int64_t key_range = 200;  // i64 keys 0..199
constexpr std::int64_t name_range = 60;  // names "k0".."k59"

enum class kind {
  insert,
  assign,
  subscript,
  erase,
  erase_at,
  clear,
  misuse,
  bulk_insert,
  bulk_erase
};

struct step {
  bool names = false;  // which map
  kind what = kind::insert;
  std::int64_t key = 0, count = 0;  // bulk: keys key .. key + count - 1 (in range)
  std::int64_t value = 0;           // nums
  std::string text;                 // names: the value
};

std::string name_of(std::int64_t k) {
  return "k" + std::to_string(k);
}

std::vector<std::int64_t> bulk_keys(const step& s) {
  std::vector<std::int64_t> out;
  const std::int64_t range = s.names ? name_range : key_range;
  for (std::int64_t k = s.key; k < s.key + s.count && k < range; ++k) out.push_back(k);
  return out;
}

// In the names map (Names) or the numbers: the key of number k, the value
// a step stores, the value a bulk insert gives key k.
template <bool Names>
auto key_of(std::int64_t k) {
  if constexpr (Names)
    return name_of(k);
  else
    return k;
}
template <bool Names>
auto value_of(const step& s) {
  if constexpr (Names)
    return s.text;
  else
    return s.value;
}
template <bool Names>
auto bulk_value_of(const step& s, std::int64_t k) {
  if constexpr (Names)
    return s.text + std::to_string(k % 10);
  else
    return s.value + k;
}

// Applies `s` to the model's map `m`.
template <bool Names, class M>
void apply_to(M& m, const step& s) {
  const auto k = key_of<Names>(s.key);
  switch (s.what) {
    case kind::insert:
      m.emplace(k, value_of<Names>(s));
      return;
    case kind::assign:
    case kind::subscript:
      m[k] = value_of<Names>(s);
      return;
    case kind::erase:
    case kind::erase_at:
      m.erase(k);
      return;
    case kind::clear:
      m.clear();
      return;
    case kind::misuse:
      return;
    case kind::bulk_insert:
      for (std::int64_t b : bulk_keys(s)) m.emplace(key_of<Names>(b), bulk_value_of<Names>(s, b));
      return;
    case kind::bulk_erase:
      for (std::int64_t b : bulk_keys(s)) m.erase(key_of<Names>(b));
      return;
  }
}

// Carries out `s` on the pool's map `m`.
template <bool Names, class M>
void perform_on(M& m, const step& s) {
  const auto k = key_of<Names>(s.key);
  switch (s.what) {
    case kind::insert:
      m.insert(k, value_of<Names>(s));
      return;
    case kind::assign:
      m.insert_or_assign(k, value_of<Names>(s));
      return;
    case kind::subscript:
      if constexpr (Names) {
        m[k] = s.text;  // string assignment snapshots itself
      } else {          // in a transaction: the value is the caller's to snapshot
        std::int64_t& v = m[k];
        tx_snapshot(&v);
        v = s.value;
      }
      return;
    case kind::erase:
      m.erase(k);
      return;
    case kind::erase_at:
      if (auto it = m.find(k); it != m.end()) m.erase(it);
      return;
    case kind::clear:
      m.clear();
      return;
    case kind::misuse:
      typed::expect_misuse(error_code::not_found, "hash_map::at of an absent key",
                           [&] { (void)m.at(k); });
      return;
    case kind::bulk_insert:
      for (std::int64_t b : bulk_keys(s)) m.insert(key_of<Names>(b), bulk_value_of<Names>(s, b));
      return;
    case kind::bulk_erase:
      for (std::int64_t b : bulk_keys(s)) m.erase(key_of<Names>(b));
      return;
  }
}

struct state {
  std::map<std::int64_t, std::int64_t> nums;
  std::map<std::string, std::string> names;
  std::size_t most_nums = 0;  // the most elements nums held after a step, for end_of_run

  void apply(const step& s) {
    if (s.names) {
      apply_to<true>(names, s);
    } else {
      apply_to<false>(nums, s);
    }
    most_nums = std::max(most_nums, nums.size());
  }
};

class hash_model final : public typed::skeleton<hash_model, root, state, step> {
 public:
  using skeleton::skeleton;
  std::string end_of_run(const pool&) const override {
    // 16 buckets at first, one split per insert beyond: segment 1 and up.
    return state_.most_nums > 32 ? ""
                                 : "the numbers never held more than 32 elements (no new segment)";
  }

  typed::plan<step> plan_of(std::uint64_t op) const;
  static void perform_step(pool&, root& r, const step& s, tx_mode);
  std::string compare(image_view& v, const root& r) const;
  std::string walk(image_view& v, const root& r) const;
};

typed::plan<step> hash_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  typed::plan<step> pl;
  const bool grow_first = op == 1;  // 40 numbers: splits and a second segment in every run
  const std::size_t n = pl.pick(rng, has_root_, grow_first);
  for (std::size_t i = 0; i < n; ++i) {
    step s;
    s.names = rng() % 3 == 0;
    const std::int64_t range = s.names ? name_range : key_range;
    s.key = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(range));
    s.value = static_cast<std::int64_t>(rng() % 100000) - 50000;
    s.text = typed::short_text(rng);
    const std::uint64_t k = rng() % 32;
    if (pl.how == tx_mode::atomic) {  // one call, never clear (see the banner)
      s.what = k < 12   ? kind::insert
               : k < 20 ? kind::assign
               : k < 28 ? kind::erase
                        : kind::erase_at;
    } else if (grow_first && i == 0) {
      s.names = false;
      s.what = kind::bulk_insert;
      s.key = 0;
      s.count = 40;
    } else if (k < 9) {
      s.what = kind::insert;
    } else if (k < 13) {
      s.what = kind::assign;
    } else if (k < 16) {
      s.what = kind::subscript;
    } else if (k < 20) {
      s.what = kind::erase;
    } else if (k < 22) {
      s.what = kind::erase_at;
    } else if (k < 26) {
      s.what = kind::bulk_insert;
      s.count = 10 + static_cast<std::int64_t>(rng() % 31);
      s.text = typed::letters(rng, 1 + rng() % 8);  // + a digit: the 15-capacity class
    } else if (k < 29) {
      s.what = kind::bulk_erase;
      s.count = 5 + static_cast<std::int64_t>(rng() % 30);
    } else if (k < 31) {
      s.what = kind::misuse;
      s.key = range + static_cast<std::int64_t>(rng() % 10);  // never present
    } else {
      s.what = kind::clear;
    }
    pl.steps.push_back(s);
  }
  return pl;
}

void hash_model::perform_step(pool&, root& r, const step& s, tx_mode) {
  if (s.names) {
    perform_on<true>(r.names, s);
  } else {
    perform_on<false>(r.nums, s);
  }
}

// What both maps hold, walked through `v` (every structural check, stored
// hashes, no duplicated key).
state read(image_view& v, const root& r) {
  using typed::stored_name;
  state st;
  for (const stored_entry& e :
       walk_hash_map(v, &r.nums, shape_of<std::int64_t>(), shape_of<std::int64_t>(),
                     stored_name<decltype(r.nums)>())) {
    const std::int64_t k = i64_at(e.key);
    if (e.hash != key_traits<std::int64_t>::hash(k)) {
      throw broken_image("hash_map<i64,i64>: key " + std::to_string(k) +
                         " has a wrong stored hash");
    }
    if (!st.nums.emplace(k, i64_at(e.value)).second) {
      throw broken_image("hash_map<i64,i64>: key " + std::to_string(k) + " is stored twice");
    }
  }
  for (const stored_entry& e :
       walk_hash_map(v, &r.names, shape_of<ferrite::string>(), shape_of<ferrite::string>(),
                     stored_name<decltype(r.names)>())) {
    const std::string k = v.text(*reinterpret_cast<const ferrite::string*>(e.key));
    if (e.hash != key_traits<ferrite::string>::hash(k)) {
      throw broken_image("hash_map<string,string>: key '" + k + "' has a wrong stored hash");
    }
    if (!st.names.emplace(k, v.text(*reinterpret_cast<const ferrite::string*>(e.value))).second) {
      throw broken_image("hash_map<string,string>: key '" + k + "' is stored twice");
    }
  }
  return st;
}

std::string hash_model::compare(image_view& v, const root& r) const {
  const state st = read(v, r);
  const state& m = state_;
  if (std::string d = typed::first_difference(st.nums, m.nums, "hash_map<i64,i64>"); !d.empty()) {
    return d;
  }
  if (std::string d = typed::first_difference(st.names, m.names, "hash_map<string,string>");
      !d.empty()) {
    return d;
  }
  if (v.owns_pointers()) {  // the map's own reading API, too
    std::size_t n = 0;
    for (auto [k, val] : r.nums) {
      auto it = m.nums.find(k);
      if (it == m.nums.end() || it->second != val) return "hash_map<i64,i64> iteration differs";
      ++n;
    }
    if (n != m.nums.size() || r.nums.size() != n) {
      return "hash_map<i64,i64> iteration visits " + std::to_string(n) + " elements";
    }
    for (const auto& [k, val] : m.nums) {
      auto it = r.nums.find(k);
      if (it == r.nums.end() || it->second != val || !r.nums.contains(k) || r.nums.at(k) != val) {
        return "hash_map<i64,i64>::find(" + std::to_string(k) + ") differs";
      }
    }
    for (const auto& [k, val] : m.names) {
      auto it = r.names.find(k);
      if (it == r.names.end() || it->second.view() != val) {
        return "hash_map<string,string>::find(" + k + ") differs";
      }
    }
  }
  return "";
}

std::string hash_model::walk(image_view& v, const root& r) const {
  read(v, r);
  return "";
}

}  // namespace
}  // namespace ferrite::crash::hash_map_workload

namespace ferrite::crash::builtin {

workload_info hash_map() {
  workload_info w = typed::info<hash_map_workload::hash_model>(
      "hash-map",
      "ferrite::hash_map<i64,i64> and <string,string> (linear hashing): inserts that split "
      "buckets and add segments, erases, clear, misuse; aborted and nested transactions");
  w.pool_sizes = {4ull << 20};  // a chunk per size class (segments of several sizes)
  w.quick_ops = 10;
  w.long_ops = 60;
  return w;
}

}  // namespace ferrite::crash::builtin
