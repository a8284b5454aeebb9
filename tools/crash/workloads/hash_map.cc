// Built-in workload on ferrite::hash_map: hash-map.
//
// The root holds a hash_map<i64,i64> and a hash_map<ferrite::string,
// ferrite::string>. An operation runs one to four steps (insert,
// insert_or_assign, operator[] inside a transaction, erase by key and by
// iterator, clear inside a transaction, at() of an absent key that must
// throw invalid_argument and change nothing, and bulk steps: 10-40 inserts
// that split buckets one by one and add segments, erases of a key range)
// as one call atomic on its own, in a transaction (sometimes nested), or in
// one that aborts. clear() is never called on its own: outside a
// transaction it frees the nodes in several transactions (documented in
// types/hash_map.h), more than the one commit an operation may make.
//
// Model: std::map. check(): the elements equal the model's (walked through
// container_walk on every handle; on the handle that owns the pool's tag
// also through iteration, find(), contains() and at() of every model key).
// invariants(): the layout's invariants (container_walk.h: segments,
// level and split, every node in the bucket its stored hash selects, size
// equals the nodes), every stored hash equals its key's stable hash, no
// duplicated key, every string's invariants, and no leak: the heap holds
// exactly the root, the directory, the segments, the nodes and the
// strings' buffers.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tools/crash/workloads/builtin.h"
#include "tools/crash/readers/container_walk.h"
#include "tools/crash/readers/image_view.h"
#include "tools/crash/workloads/typed_common.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/string.h"

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

enum class kind { insert, assign, subscript, erase, erase_at, clear, misuse, bulk_insert, bulk_erase };

struct step {
  bool names = false;  // which map
  kind what = kind::insert;
  std::int64_t key = 0, count = 0;  // bulk: keys key .. key + count - 1 (in range)
  std::int64_t value = 0;           // nums
  std::string text;                 // names: the value
};

struct plan {
  tx_mode how = tx_mode::transaction;
  std::vector<step> steps;
};

std::string name_of(std::int64_t k) { return "k" + std::to_string(k); }

// The value a bulk insert gives key k.
std::int64_t bulk_value(const step& s, std::int64_t k) { return s.value + k; }
std::string bulk_text(const step& s, std::int64_t k) { return s.text + std::to_string(k % 10); }

std::vector<std::int64_t> bulk_keys(const step& s) {
  std::vector<std::int64_t> out;
  const std::int64_t range = s.names ? name_range : key_range;
  for (std::int64_t k = s.key; k < s.key + s.count && k < range; ++k) out.push_back(k);
  return out;
}

struct state {
  std::map<std::int64_t, std::int64_t> nums;
  std::map<std::string, std::string> names;

  void apply(const step& s) {
    const std::vector<std::int64_t> bulk = bulk_keys(s);
    if (s.names) {
      const std::string k = name_of(s.key);
      switch (s.what) {
        case kind::insert: names.emplace(k, s.text); return;
        case kind::assign:
        case kind::subscript: names[k] = s.text; return;
        case kind::erase:
        case kind::erase_at: names.erase(k); return;
        case kind::clear: names.clear(); return;
        case kind::misuse: return;
        case kind::bulk_insert:
          for (std::int64_t b : bulk) names.emplace(name_of(b), bulk_text(s, b));
          return;
        case kind::bulk_erase:
          for (std::int64_t b : bulk) names.erase(name_of(b));
          return;
      }
    }
    switch (s.what) {
      case kind::insert: nums.emplace(s.key, s.value); return;
      case kind::assign:
      case kind::subscript: nums[s.key] = s.value; return;
      case kind::erase:
      case kind::erase_at: nums.erase(s.key); return;
      case kind::clear: nums.clear(); return;
      case kind::misuse: return;
      case kind::bulk_insert:
        for (std::int64_t b : bulk) nums.emplace(b, bulk_value(s, b));
        return;
      case kind::bulk_erase:
        for (std::int64_t b : bulk) nums.erase(b);
        return;
    }
  }
};

class hash_model final : public workload {
 public:
  explicit hash_model(std::uint64_t seed) : seed_(seed) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<hash_model>(*this); }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override;
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    // 16 buckets at first, one split per insert beyond: segment 1 and up.
    return most_nums_ > 32 ? "" : "the numbers never held more than 32 elements (no new segment)";
  }

 private:
  plan plan_of(std::uint64_t op) const;
  static void perform_step(root& r, const step& s);

  std::uint64_t seed_;
  bool has_root_ = false;
  std::uint64_t commits_ = 0;
  state s_;
  std::size_t most_nums_ = 0;
};

plan hash_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  plan pl;
  pl.how = typed::pick_mode(rng, has_root_);
  const bool grow_first = op == 1;  // 40 numbers: splits and a second segment in every run
  if (grow_first) pl.how = tx_mode::transaction;
  const std::size_t n = pl.how == tx_mode::atomic ? 1 : 1 + rng() % 4;
  for (std::size_t i = 0; i < n; ++i) {
    step s;
    s.names = rng() % 3 == 0;
    const std::int64_t range = s.names ? name_range : key_range;
    s.key = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(range));
    s.value = static_cast<std::int64_t>(rng() % 100000) - 50000;
    s.text = typed::short_text(rng);
    const std::uint64_t k = rng() % 32;
    if (pl.how == tx_mode::atomic) {  // one call, never clear (see the banner)
      s.what = k < 12 ? kind::insert : k < 20 ? kind::assign : k < 28 ? kind::erase : kind::erase_at;
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

void hash_model::perform_step(root& r, const step& s) {
  const std::vector<std::int64_t> bulk = bulk_keys(s);
  if (s.names) {
    auto& m = r.names;
    const std::string k = name_of(s.key);
    switch (s.what) {
      case kind::insert: m.insert(k, s.text); return;
      case kind::assign: m.insert_or_assign(k, s.text); return;
      case kind::subscript: m[k] = s.text; return;  // string assignment snapshots itself
      case kind::erase: m.erase(k); return;
      case kind::erase_at:
        if (auto it = m.find(k); it != m.end()) m.erase(it);
        return;
      case kind::clear: m.clear(); return;
      case kind::misuse:
        typed::expect_misuse("hash_map::at of an absent key", [&] { (void)m.at(k); });
        return;
      case kind::bulk_insert:
        for (std::int64_t b : bulk) m.insert(name_of(b), bulk_text(s, b));
        return;
      case kind::bulk_erase:
        for (std::int64_t b : bulk) m.erase(name_of(b));
        return;
    }
  }
  auto& m = r.nums;
  switch (s.what) {
    case kind::insert: m.insert(s.key, s.value); return;
    case kind::assign: m.insert_or_assign(s.key, s.value); return;
    case kind::subscript: {  // in a transaction: the value is the caller's to snapshot
      std::int64_t& v = m[s.key];
      tx_snapshot(&v);
      v = s.value;
      return;
    }
    case kind::erase: m.erase(s.key); return;
    case kind::erase_at:
      if (auto it = m.find(s.key); it != m.end()) m.erase(it);
      return;
    case kind::clear: m.clear(); return;
    case kind::misuse:
      typed::expect_misuse("hash_map::at of an absent key", [&] { (void)m.at(s.key); });
      return;
    case kind::bulk_insert:
      for (std::int64_t b : bulk) m.insert(b, bulk_value(s, b));
      return;
    case kind::bulk_erase:
      for (std::int64_t b : bulk) m.erase(b);
      return;
  }
}

void hash_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  typed::run_as(
      p, pl.how,
      [&] {
        root& r = *p.root<root>();
        for (const step& s : pl.steps) perform_step(r, s);
      },
      [&] { return reinterpret_cast<typed::commit_counter*>(&p.root<root>()->commits); });
}

void hash_model::apply(std::uint64_t op) {
  const plan pl = plan_of(op);
  if (pl.how == tx_mode::aborted) return;
  for (const step& s : pl.steps) {
    s_.apply(s);
    most_nums_ = std::max(most_nums_, s_.nums.size());
  }
  if (pl.how != tx_mode::atomic) {
    has_root_ = true;
    commits_ += 1;
  }
}

const std::string& nums_type() {
  static const std::string n =
      detail::descriptor_of<ferrite::hash_map<std::int64_t, std::int64_t>>().name;
  return n;
}
const std::string& names_type() {
  static const std::string n =
      detail::descriptor_of<ferrite::hash_map<ferrite::string, ferrite::string>>().name;
  return n;
}

// What both maps hold, walked through `v` (every structural check, stored
// hashes, no duplicated key).
state read(image_view& v, const root& r) {
  state st;
  for (const stored_entry& e : walk_hash_map(v, &r.nums, shape_of<std::int64_t>(),
                                             shape_of<std::int64_t>(), nums_type())) {
    const std::int64_t k = i64_at(e.key);
    if (e.hash != key_traits<std::int64_t>::hash(k)) {
      throw broken_image("hash_map<i64,i64>: key " + std::to_string(k) + " has a wrong stored hash");
    }
    if (!st.nums.emplace(k, i64_at(e.value)).second) {
      throw broken_image("hash_map<i64,i64>: key " + std::to_string(k) + " is stored twice");
    }
  }
  for (const stored_entry& e : walk_hash_map(v, &r.names, shape_of<ferrite::string>(),
                                             shape_of<ferrite::string>(), names_type())) {
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

template <class M>
std::string first_difference(const M& pool_side, const M& model, const std::string& what) {
  if (pool_side.size() != model.size()) {
    return what + " holds " + std::to_string(pool_side.size()) + " elements, the model " +
           std::to_string(model.size());
  }
  if (pool_side != model) return what + ": an element differs from the model's";
  return "";
}

std::string hash_model::check(const pool& p) const {
  return checked_read([&]() -> std::string {
    image_view v(p);
    const root* r = v.root<root>();
    if (!r) return has_root_ ? "the pool has no root, the model has one" : "";
    if (!has_root_) return "the pool has a root, the model none";
    if (r->commits != commits_) {
      return "the root counts " + std::to_string(r->commits) + " transactions, the model " +
             std::to_string(commits_);
    }
    const state st = read(v, *r);
    if (std::string d = first_difference(st.nums, s_.nums, "hash_map<i64,i64>"); !d.empty()) {
      return d;
    }
    if (std::string d = first_difference(st.names, s_.names, "hash_map<string,string>");
        !d.empty()) {
      return d;
    }
    if (v.owns_pointers()) {  // the map's own reading API, too
      std::size_t n = 0;
      for (auto [k, val] : r->nums) {
        auto it = s_.nums.find(k);
        if (it == s_.nums.end() || it->second != val) return "hash_map<i64,i64> iteration differs";
        ++n;
      }
      if (n != s_.nums.size() || r->nums.size() != n) {
        return "hash_map<i64,i64> iteration visits " + std::to_string(n) + " elements";
      }
      for (const auto& [k, val] : s_.nums) {
        auto it = r->nums.find(k);
        if (it == r->nums.end() || it->second != val || !r->nums.contains(k) ||
            r->nums.at(k) != val) {
          return "hash_map<i64,i64>::find(" + std::to_string(k) + ") differs";
        }
      }
      for (const auto& [k, val] : s_.names) {
        auto it = r->names.find(k);
        if (it == r->names.end() || it->second.view() != val) {
          return "hash_map<string,string>::find(" + k + ") differs";
        }
      }
    }
    return "";
  });
}

std::string hash_model::invariants(const pool& p) const {
  return checked_read([&]() -> std::string {
    image_view v(p);
    return typed::reach_invariants<root>(p, v, [&](const root& r) -> std::string {
      read(v, r);
      return "";
    });
  });
}

}  // namespace
}  // namespace ferrite::crash::hash_map_workload

namespace ferrite::crash::builtin {

workload_info hash_map() {
  workload_info w;
  w.name = "hash-map";
  w.description =
      "ferrite::hash_map<i64,i64> and <string,string> (linear hashing): inserts that split "
      "buckets and add segments, erases, clear, misuse; aborted and nested transactions";
  w.make = [](std::uint64_t seed) { return std::make_unique<hash_map_workload::hash_model>(seed); };
  w.pool_sizes = {4ull << 20};  // a chunk per size class (segments of several sizes)
  w.quick_ops = 10;
  w.long_ops = 60;
  w.typed = true;
  w.continue_ops = 0;  // see workload_info::typed
  return w;
}

}  // namespace ferrite::crash::builtin
