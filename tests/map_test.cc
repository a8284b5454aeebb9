// Tests of ferrite::map<K,V> and the B+-tree core (types/map.h, types/btree.h).
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/map.h"
#include "ferrite/types/string.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace maptest {

struct item {
  std::int64_t value;
};
FERRITE_TYPE(item, "test.MapItem", value)

struct tables {
  map<std::int64_t, std::int64_t> numbers;
  map<string, string> names;
  map<string, std::int64_t> counts;
  map<std::int64_t, pptr<item>> links;
  map<std::int64_t, map<std::int64_t, std::int64_t>> nested;
  map<std::int64_t, string> texts;
};
FERRITE_TYPE(tables, "test.MapTables", numbers, names, counts, links, nested, texts)

// Untyped pointers as values and as keys; their targets own a string.
struct named {
  string name;
};
FERRITE_TYPE(named, "test.MapNamed", name)

struct untyped_tables {
  map<std::int64_t, pptr<void>> by_id;
  map<pptr<void>, std::int64_t> ids;
};
FERRITE_TYPE(untyped_tables, "test.MapUntypedTables", by_id, ids)

}  // namespace maptest

using namespace maptest;

namespace {

pool_options options(bool checked = false, std::uint64_t size = 32 << 20) {
  pool_options o;
  o.size = size;
  o.checked_transactions = checked;
  return o;
}

// Gives an empty map small node capacities (honoured by the first insert),
// so that a few hundred keys make a deep tree.
template <class M>
void use_small_nodes(pool& p, M& m, std::uint16_t leaf, std::uint16_t inner) {
  auto& rep = reinterpret_cast<detail::btree_rep&>(m);
  p.transaction([&] {
    tx_snapshot(&rep);
    rep.leaf_capacity = leaf;
    rep.inner_capacity = inner;
  });
}

template <class M>
const detail::btree_rep& rep_of(const M& m) {
  return reinterpret_cast<const detail::btree_rep&>(m);
}

std::int64_t plain(std::int64_t v) {
  return v;
}
std::string plain(const string& s) {
  return s.str();
}

template <class M, class R>
void expect_same(const M& m, const R& ref) {
  REQUIRE(m.check_invariants() == "");
  REQUIRE(m.size() == ref.size());
  auto it = m.begin();
  for (const auto& [k, v] : ref) {
    REQUIRE(it != m.end());
    REQUIRE(plain(it->first) == k);
    REQUIRE(plain(it->second) == v);
    ++it;
  }
  CHECK(it == m.end());
}

// A seeded mix of operations on `m` and on a std::map, grouped in
// transactions of a few operations; grows to about `peak` keys, shrinks to
// empty, and grows again.
void random_int_ops(pool& p, map<std::int64_t, std::int64_t>& m, std::uint64_t seed, int ops,
                    std::int64_t range, std::size_t peak) {
  std::mt19937_64 rng(seed);
  std::map<std::int64_t, std::int64_t> ref;
  bool growing = true;
  int done = 0;
  while (done < ops) {  // `done` counts inside the transaction
    p.transaction([&] {
      for (int j = 0; j < 16; ++j, ++done) {
        const std::int64_t k = static_cast<std::int64_t>(rng() % range);
        const std::int64_t v = static_cast<std::int64_t>(rng() % 1000);
        if (growing && ref.size() >= peak) growing = false;
        if (!growing && ref.empty()) growing = true;
        const unsigned op = rng() % 10;
        if (op < 4) {
          if (growing || op == 0) {
            auto [it, inserted] = m.insert(k, v);
            CHECK(inserted == ref.insert({k, v}).second);
            CHECK(it->first == k);
            CHECK(it->second == ref[k]);
          } else {
            CHECK(m.erase(k) == ref.erase(k));
          }
        } else if (op < 6) {
          if (growing) {
            auto [it, inserted] = m.insert_or_assign(k, v);
            CHECK(inserted == !ref.contains(k));
            ref[k] = v;
            CHECK(it.value() == v);
          } else {
            CHECK(m.erase(k) == ref.erase(k));
          }
        } else if (op == 6) {
          m[k] += 1;  // operator[] snapshots the value inside a transaction
          ref[k] += 1;
        } else if (op == 7) {
          auto it = m.find(k);
          auto r = ref.find(k);
          CHECK((it == m.end()) == (r == ref.end()));
          if (r != ref.end()) CHECK(it->second == r->second);
          CHECK(m.count(k) == ref.count(k));
        } else if (op == 8) {
          auto lb = m.lower_bound(k);
          auto rl = ref.lower_bound(k);
          CHECK((lb == m.end()) == (rl == ref.end()));
          if (rl != ref.end() && lb != m.end()) CHECK(lb.key() == rl->first);
          auto ub = m.upper_bound(k);
          auto ru = ref.upper_bound(k);
          CHECK((ub == m.end()) == (ru == ref.end()));
          if (ru != ref.end() && ub != m.end()) CHECK(ub.key() == ru->first);
        } else {
          CHECK(m.erase(k) == ref.erase(k));
        }
      }
    });
    if (done % 400 == 0) expect_same(m, ref);
  }
  expect_same(m, ref);
}

}  // namespace

TEST_CASE("a zero-initialised map is empty", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  CHECK(t->numbers.empty());
  CHECK(t->numbers.size() == 0);
  CHECK(t->numbers.begin() == t->numbers.end());
  CHECK(t->numbers.find(3) == t->numbers.end());
  CHECK(t->numbers.lower_bound(3) == t->numbers.end());
  CHECK_FALSE(t->names.contains("x"));
  CHECK(t->numbers.erase(3) == 0);
  CHECK(t->numbers.check_invariants() == "");
}

TEST_CASE("the map's descriptor names its element types", "[map]") {
  const type_descriptor& d = detail::descriptor_of<map<string, std::int64_t>>();
  CHECK(d.name == "ferrite.map<ferrite.string,i64>");
  CHECK(d.kind == type_kind::container);
  CHECK(d.subkind == static_cast<std::uint8_t>(container_kind::map));
  CHECK(d.size == 32);
  CHECK(d.key().name == "ferrite.string");
  CHECK(d.value().name == "i64");
  CHECK(d.release != nullptr);
}

TEST_CASE("insert, find, at and operator[] behave like std::map", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  auto& m = t->numbers;
  auto [it, inserted] = m.insert(5, 50);
  CHECK(inserted);
  CHECK(it->first == 5);
  CHECK(it->second == 50);
  CHECK_FALSE(m.insert(5, 99).second);
  CHECK(m.at(5) == 50);
  CHECK_FALSE(m.insert_or_assign(5, 51).second);
  CHECK(m.at(5) == 51);
  CHECK(m.try_emplace(7).second);
  CHECK(m.at(7) == 0);
  p.transaction([&] { m[9] = 90; });
  CHECK(m.at(9) == 90);
  CHECK(m.size() == 3);
  std::int64_t sum = 0;
  for (auto [k, v] : m) sum += k * v;
  CHECK(sum == 5 * 51 + 9 * 90);
  CHECK(error_of([&] { m.at(6); }) == error_code::not_found);
  const auto& cm = m;
  CHECK(cm.at(9) == 90);
  CHECK(cm.find(7)->second == 0);
}

TEST_CASE("node capacities are chosen on the first insert and stored", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  CHECK(rep_of(t->numbers).leaf_capacity == 0);
  t->numbers.insert(1, 1);
  t->names.insert("a", "b");
  const auto& r = rep_of(t->numbers);
  CHECK(r.leaf_capacity == 30);   // 16 + 30 * 16 = 496 bytes: a 512-byte slot
  CHECK(r.inner_capacity == 29);  // 16 + 29 * 8 + 30 * 8 = 488 bytes
  CHECK(rep_of(t->names).leaf_capacity == 10);
  CHECK(rep_of(t->names).inner_capacity >= 4);
}

TEST_CASE("random operations match std::map (int64 keys)", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  random_int_ops(p, t->numbers, 1, 6000, 3000, 1500);
}

TEST_CASE("random operations match std::map in deep trees of small nodes", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  const std::uint16_t caps = GENERATE(2, 3, 4);
  use_small_nodes(p, t->numbers, caps, caps);
  random_int_ops(p, t->numbers, caps, 5000, 800, 400);
  CHECK(rep_of(t->numbers).leaf_capacity == caps);
}

TEST_CASE("random operations match std::map under checked transactions", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options(true, 4 << 20));
  auto t = p.root<tables>();
  use_small_nodes(p, t->numbers, 3, 3);
  random_int_ops(p, t->numbers, 7, 2500, 400, 200);
  // And with the default capacities, with string keys and values.
  std::mt19937_64 rng(8);
  std::map<std::string, std::string> ref;
  for (int i = 0; i < 300; ++i) {
    const std::string k = std::to_string(rng() % 400);
    const std::string v(rng() % 40, 'v');
    if (rng() % 3 == 0) {
      CHECK(t->names.erase(k) == ref.erase(k));
    } else {
      t->names.insert_or_assign(k, v);
      ref[k] = v;
    }
  }
  expect_same(t->names, ref);
}

TEST_CASE("random operations match std::map (string keys and values)", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  auto& m = t->names;
  std::mt19937_64 rng(3);
  std::map<std::string, std::string> ref;
  for (int round = 0; round < 300; ++round) {
    p.transaction([&] {
      for (int j = 0; j < 10; ++j) {
        const std::string k = "key" + std::to_string(rng() % 1500);
        const std::string v = std::string(rng() % 30, 'a' + static_cast<char>(rng() % 26));
        switch (rng() % 4) {
          case 0:
            CHECK(m.insert(k, v).second == ref.insert({k, v}).second);
            break;
          case 1:
            m.insert_or_assign(k, v);
            ref[k] = v;
            break;
          case 2:
            CHECK(m.erase(k) == ref.erase(k));
            break;
          default: {
            auto it = m.find(k);
            REQUIRE((it == m.end()) == !ref.contains(k));
            if (it != m.end()) CHECK(it->second == ref[k]);
          }
        }
      }
    });
    if (round % 50 == 0) expect_same(m, ref);
  }
  expect_same(m, ref);
}

TEST_CASE("lower_bound and upper_bound agree with std::map", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  std::map<std::string, std::int64_t> ref;
  std::mt19937_64 rng(5);
  p.transaction([&] {
    for (int i = 0; i < 2000; ++i) {
      const std::string k = std::to_string(rng() % 100000);
      t->counts.insert(k, i);
      ref.insert({k, i});
    }
  });
  for (int i = 0; i < 2000; ++i) {
    const std::string probe = std::to_string(rng() % 110000);
    auto lb = t->counts.lower_bound(probe);
    auto rl = ref.lower_bound(probe);
    REQUIRE((lb == t->counts.end()) == (rl == ref.end()));
    if (rl != ref.end()) CHECK(lb->first == rl->first);
    auto ub = t->counts.upper_bound(probe);
    auto ru = ref.upper_bound(probe);
    REQUIRE((ub == t->counts.end()) == (ru == ref.end()));
    if (ru != ref.end()) CHECK(ub->first == ru->first);
  }
  // Iterating from a bound walks the rest in order.
  auto it = t->counts.lower_bound("5");
  auto r = ref.lower_bound("5");
  for (; r != ref.end(); ++r, ++it) REQUIRE(it.key() == r->first);
  CHECK(it == t->counts.end());
}

TEST_CASE("100k keys survive reopen in order", "[map]") {
  test::temp_dir dir;
  std::map<std::int64_t, std::int64_t> ref;
  {
    pool p = pool::open(dir / "big.pool", options(false, 64 << 20));
    auto t = p.root<tables>();
    std::mt19937_64 rng(11);
    for (int batch = 0; batch < 100; ++batch) {
      p.transaction([&] {
        for (int i = 0; i < 1000; ++i) {
          const auto k = static_cast<std::int64_t>(rng() >> 1);
          t->numbers.insert(k, -k);
          ref.insert({k, -k});
        }
      });
    }
    CHECK(t->numbers.size() == ref.size());
  }
  pool p = pool::open(dir / "big.pool", options(false, 64 << 20));
  auto t = p.root<tables>();
  expect_same(t->numbers, ref);
  CHECK(rep_of(t->numbers).height >= 2);
  CHECK(rep_of(t->numbers).height <= 4);
}

TEST_CASE("an aborted transaction restores the map and frees its nodes", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  use_small_nodes(p, t->names, 3, 3);
  std::map<std::string, std::string> ref;
  p.transaction([&] {
    for (int i = 0; i < 200; ++i) {
      t->names.insert(std::to_string(i * 7), "v" + std::to_string(i));
      ref[std::to_string(i * 7)] = "v" + std::to_string(i);
    }
  });
  const auto before = p.heap_statistics().objects;
  const detail::btree_rep rep_before = rep_of(t->names);
  CHECK_THROWS(p.transaction([&] {
    for (int i = 0; i < 300; ++i) t->names.insert(std::to_string(i * 5), "new");
    for (int i = 0; i < 150; ++i) t->names.erase(std::to_string(i * 7));
    t->names.insert_or_assign("14", "changed");
    throw std::runtime_error("abandon");
  }));
  CHECK(std::memcmp(&rep_of(t->names), &rep_before, sizeof rep_before) == 0);
  CHECK(p.heap_statistics().objects == before);
  expect_same(t->names, ref);
}

TEST_CASE("a failing operation inside a single-operation transaction changes nothing", "[map]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", options());
  pool b = pool::open(dir / "b.pool", options());
  auto t = a.root<tables>();
  pptr<item> here = a.make<item>(std::int64_t{1});
  pptr<item> there = b.make<item>(std::int64_t{2});
  use_small_nodes(a, t->links, 2, 2);
  t->links.insert(1, here);
  const auto before = a.heap_statistics().objects;
  // A full leaf would split: the refused value must not leave a node behind.
  t->links.insert(2, here);
  t->links.insert(3, here);
  const auto with_three = a.heap_statistics().objects;
  CHECK(error_of([&] { t->links.insert(4, there); }) == error_code::invalid_argument);
  CHECK(error_of([&] { t->links.insert_or_assign(1, there); }) == error_code::invalid_argument);
  CHECK(t->links.size() == 3);
  CHECK(t->links.at(1) == here);
  CHECK_FALSE(t->links.contains(4));
  CHECK(t->links.check_invariants() == "");
  CHECK(a.heap_statistics().objects == with_three);
  CHECK(with_three >= before);
}

TEST_CASE("erase and clear free the strings of keys and values", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  const auto empty = p.heap_statistics().objects;
  p.transaction([&] {
    for (int i = 0; i < 500; ++i) {
      t->names.insert("a key long enough " + std::to_string(i), "and a value " + std::to_string(i));
    }
  });
  const auto full = p.heap_statistics().objects;
  CHECK(full > empty + 1000);
  for (int i = 0; i < 500; i += 2)
    CHECK(t->names.erase("a key long enough " + std::to_string(i)) == 1);
  const auto half = p.heap_statistics().objects;
  CHECK(half <= full - 500);
  CHECK(t->names.check_invariants() == "");
  t->names.clear();
  CHECK(t->names.empty());
  CHECK(t->names.begin() == t->names.end());
  CHECK(p.heap_statistics().objects == empty);
  // A cleared map keeps working.
  t->names.insert("again", "yes");
  CHECK(t->names.at("again") == "yes");
}

TEST_CASE("insert_or_assign releases the old value's storage", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  t->texts.insert(1, "first value");
  const auto objects = p.heap_statistics().objects;
  for (int i = 0; i < 20; ++i) t->texts.insert_or_assign(1, "value number " + std::to_string(i));
  CHECK(p.heap_statistics().objects == objects);
  CHECK(t->texts.at(1) == "value number 19");
  t->texts[2] = "set through operator[]";
  CHECK(t->texts.at(2) == "set through operator[]");
}

TEST_CASE("values that own storage are built in place and released", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  const auto empty = p.heap_statistics().objects;
  p.transaction([&] {
    for (int i = 0; i < 50; ++i) {
      for (int j = 0; j < 100; ++j) t->nested[i].insert(j, i * j);
    }
  });
  CHECK(t->nested.size() == 50);
  CHECK(t->nested.at(7).at(9) == 63);
  CHECK(t->nested.at(7).check_invariants() == "");
  CHECK(t->nested.erase(7) == 1);
  CHECK_FALSE(t->nested.contains(7));
  t->nested.clear();
  CHECK(p.heap_statistics().objects == empty);
}

TEST_CASE("copying in a value that owns storage is refused and changes nothing", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  t->nested[1].insert(10, 100);
  const auto objects = p.heap_statistics().objects;
  const map<std::int64_t, std::int64_t> view = t->nested.at(1);  // shares the inner tree
  CHECK(error_of([&] { t->nested.insert(2, view); }) == error_code::invalid_argument);
  CHECK(error_of([&] { t->nested.insert_or_assign(1, view); }) == error_code::invalid_argument);
  p.transaction([&] {  // caught inside a transaction: it goes on
    CHECK(error_of([&] { t->nested.insert(3, view); }) == error_code::invalid_argument);
    t->nested[4].insert(40, 400);
  });
  CHECK(t->nested.size() == 2);
  CHECK(t->nested.at(1).at(10) == 100);
  CHECK_FALSE(t->nested.contains(2));
  CHECK(p.heap_statistics().objects == objects + 1);  // the new inner tree's leaf
  t->nested.clear();
  CHECK(p.check().empty());
}

TEST_CASE("destroying the owner frees every node, key and value", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  const auto empty = p.heap_statistics().objects;
  pptr<tables> t = p.make<tables>();
  p.transaction([&] {
    for (int i = 0; i < 1000; ++i) {
      t->numbers.insert(i, i);
      t->names.insert(std::to_string(i), "some text to own a buffer");
    }
  });
  CHECK(p.heap_statistics().objects > empty + 2000);
  p.destroy(t);
  CHECK(p.heap_statistics().objects == empty);
}

TEST_CASE("a map copied to volatile memory is a read-only view", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  t->numbers.insert(1, 10);
  map<std::int64_t, std::int64_t> copy = t->numbers;
  CHECK(copy.at(1) == 10);
  CHECK(copy.size() == 1);
  CHECK(error_of([&] { copy.insert(2, 20); }) == error_code::invalid_argument);
  CHECK(error_of([&] { copy.erase(1); }) == error_code::invalid_argument);
  CHECK(t->numbers.size() == 1);
}

TEST_CASE("ascending inserts leave full nodes", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  const auto empty = p.heap_statistics().objects;
  p.transaction([&] {
    for (int i = 0; i < 3000; ++i) t->numbers.insert(i, i);
  });
  CHECK(t->numbers.check_invariants() == "");
  // 3000 keys in leaves of 30: 100 leaves, 4 inner nodes.
  CHECK(p.heap_statistics().objects - empty <= 105);
}

TEST_CASE("a corrupted node is reported, not followed", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  for (int i = 0; i < 100; ++i) t->numbers.insert(i, i);
  auto& rep = const_cast<detail::btree_rep&>(rep_of(t->numbers));
  auto* root = pptr<detail::btree_node_header>::from_raw(rep.root).get();
  const auto saved = root->count;
  root->count = 999;  // deliberately without a transaction: simulated damage
  CHECK(t->numbers.check_invariants() != "");
  CHECK(error_of([&] { t->numbers.find(5); }) == error_code::corrupted);
  root->count = saved;
  CHECK(t->numbers.check_invariants() == "");
}

TEST_CASE("one insert or erase writes a bounded log record", "[map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto t = p.root<tables>();
  std::mt19937_64 rng(13);
  for (int batch = 0; batch < 10; ++batch) {
    p.transaction([&] {
      for (int i = 0; i < 2000; ++i) t->counts.insert(std::to_string(rng() % 1000000), i);
    });
  }
  std::uint64_t worst = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string k = std::to_string(rng() % 1000000);
    const auto before = p.stats().log_bytes;
    if (i % 2) {
      t->counts.insert(k, i);
    } else {
      t->counts.erase(
          t->counts.lower_bound(k) == t->counts.end() ? k : t->counts.lower_bound(k).key().str());
    }
    worst = std::max(worst, p.stats().log_bytes - before);
  }
  // A few 512-byte nodes per level, whatever the size of the map.
  CHECK(worst < 8192);
  CHECK(t->counts.check_invariants() == "");
}

TEST_CASE("pptr<void> values and keys work like typed pptrs", "[map][pptr_void]") {
  CHECK(detail::descriptor_of<map<pptr<void>, std::int64_t>>().name ==
        "ferrite.map<ferrite.ptr,i64>");
  test::temp_dir dir;
  pptr<void> first, second;
  {
    pool p = pool::open(dir / "u.pool", options());
    auto u = p.root<untyped_tables>();
    first = p.make<item>(std::int64_t{7});
    second = p.make<named>();
    u->by_id.insert(1, first);
    u->by_id.insert_or_assign(2, u);
    u->by_id.insert_or_assign(2, second);
    p.transaction([&] { u->by_id[3] = first; });
    CHECK(u->ids.insert(second, 20).second);
    CHECK(u->ids.insert(first, 10).second);
    CHECK_FALSE(u->ids.insert(first, 11).second);
    u->ids.insert(nullptr, 0);
  }
  pool p = pool::open(dir / "u.pool", options());
  auto u = p.root<untyped_tables>();
  CHECK(u->by_id.size() == 3);
  CHECK(u->by_id.at(1) == first);
  CHECK(u->by_id.at(2) == second);
  CHECK(pptr<item>(u->by_id.at(3))->value == 7);
  // Keys order by their bits (pool tag, then offset): null first.
  REQUIRE(u->ids.size() == 3);
  CHECK(u->ids.begin()->first == nullptr);
  CHECK(u->ids.lower_bound(std::min(first, second))->second ==
        (first < second ? std::int64_t{10} : std::int64_t{20}));
  CHECK(u->ids.at(first) == 10);
  CHECK(u->ids.erase(nullptr) == 1);
  CHECK(u->ids.check_invariants() == "");
  CHECK(error_of([&] { (void)u->ids.at(nullptr); }) == error_code::not_found);
  CHECK(p.check().empty());
}

TEST_CASE("gc keeps what only pptr<void> values or keys reach, and frees it once erased",
          "[map][pptr_void][gc]") {
  test::temp_dir dir;
  std::uint64_t live = 0;
  {
    pool p = pool::open(dir / "g.pool", options());
    auto u = p.root<untyped_tables>();
    p.transaction([&] {
      // The collector must walk each target as the struct its header names
      // to keep its string buffer.
      pptr<named> value = p.make<named>();
      value->name = "reached through a value";
      pptr<named> key = p.make<named>();
      key->name = "reached through a key";
      u->by_id.insert(1, value);
      u->ids.insert(key, 2);
    });
    const gc_stats s = p.gc();
    CHECK(s.total.freed == 0);
    CHECK(s.by_type.at("test.MapNamed").live == 2);
    CHECK(s.by_type.at("ferrite.string").live == 2);
    live = s.total.live;
  }
  pool p = pool::open(dir / "g.pool", options());
  auto u = p.root<untyped_tables>();
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(s.total.live == live);
  CHECK(pptr<named>(u->by_id.at(1))->name == "reached through a value");
  CHECK(pptr<named>(u->ids.begin()->first)->name == "reached through a key");
  CHECK(u->by_id.erase(1) == 1);
  s = p.gc();
  CHECK(s.total.freed == 2);  // the struct and its string buffer
  CHECK(s.by_type.at("test.MapNamed").freed == 1);
  u->ids.clear();
  s = p.gc();
  CHECK(s.total.freed == 2);
  CHECK(s.by_type.at("test.MapNamed").freed == 1);
  CHECK(p.check().empty());
}

// --- A damaged B+-tree gives error(corrupted), never a signal (DESIGN
// invariant 7). Each case damages one pointer of the tree in the working
// view, then walks it through the public API.

namespace {

constexpr std::uint64_t offset_bits = (std::uint64_t{1} << 48) - 1;

detail::btree_rep rep_of(const map<std::int64_t, std::int64_t>& m) {
  detail::btree_rep r;
  std::memcpy(&r, &m, sizeof r);
  return r;
}

// The root of a pool whose `numbers` map holds keys 0..n-1, a tree of
// height >= 1 for n = 1000.
pptr<tables> filled(pool& p, std::int64_t n) {
  pptr<tables> t = p.root<tables>();
  p.transaction([&] {
    for (std::int64_t k = 0; k < n; ++k) t->numbers.insert(k, k);
  });
  return t;
}

// The children of the root (an inner node) of m: keys are 8 bytes, so they
// start at 16 and the children follow inner_capacity keys
// (base/format/container_format.h).
std::uint64_t* root_children(pool& p, const map<std::int64_t, std::int64_t>& m) {
  const detail::btree_rep r = rep_of(m);
  REQUIRE(r.height >= 1);
  auto* root = static_cast<std::byte*>(p.at(r.root & offset_bits));
  return reinterpret_cast<std::uint64_t*>(root + 16 + std::size_t{r.inner_capacity} * 8);
}

void find_all(const map<std::int64_t, std::int64_t>& m, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) (void)m.contains(k);
}

std::int64_t walk(const map<std::int64_t, std::int64_t>& m) {
  std::int64_t sum = 0;
  for (auto it = m.begin(); it != m.end(); ++it) sum += it.value();
  return sum;
}

std::uint64_t past_heap(const pool& p, std::uint64_t raw, std::uint64_t beyond) {
  return (raw & ~offset_bits) | (p.heap_offset() + p.heap_size() + beyond);
}

}  // namespace

TEST_CASE("a B+-tree child pointer past the heap is corrupted", "[map][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "child.pool", options());
  pptr<tables> t = filled(p, 1000);
  std::uint64_t* children = root_children(p, t->numbers);
  children[0] = past_heap(p, children[0], 4096);
  CHECK(error_of([&] { (void)t->numbers.contains(0); }) == error_code::corrupted);
  CHECK(error_of([&] { t->numbers.insert(-1, 1); }) == error_code::corrupted);
  CHECK(error_of([&] { (void)t->numbers.erase(0); }) == error_code::corrupted);
}

TEST_CASE("a B+-tree child pointer to a node straddling the heap end is corrupted",
          "[map][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "straddle.pool", options());
  pptr<tables> t = filled(p, 1000);
  std::uint64_t* children = root_children(p, t->numbers);
  // The node's 16-byte header fits in the heap; its keys do not.
  children[0] = past_heap(p, children[0], 0) - 16;
  CHECK(error_of([&] { (void)t->numbers.contains(0); }) == error_code::corrupted);
}

TEST_CASE("a misaligned B+-tree child pointer is corrupted", "[map][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "align.pool", options());
  pptr<tables> t = filled(p, 1000);
  std::uint64_t* children = root_children(p, t->numbers);
  children[1] += 4;
  CHECK(error_of([&] { find_all(t->numbers, 1000); }) == error_code::corrupted);
}

TEST_CASE("a B+-tree root pointer past the heap is corrupted", "[map][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "root.pool", options());
  pptr<tables> t = filled(p, 1000);
  detail::btree_rep r = rep_of(t->numbers);
  r.root = past_heap(p, r.root, 64);
  std::memcpy(static_cast<void*>(&t->numbers), &r, sizeof r);
  CHECK(error_of([&] { (void)t->numbers.contains(5); }) == error_code::corrupted);
  CHECK(error_of([&] { (void)t->numbers.lower_bound(5); }) == error_code::corrupted);
}

TEST_CASE("a B+-tree leaf chain pointer past the heap is corrupted", "[map][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "chain.pool", options());
  pptr<tables> t = filled(p, 1000);
  REQUIRE(walk(t->numbers) == 999 * 1000 / 2);
  const detail::btree_rep r = rep_of(t->numbers);
  auto* first = static_cast<detail::btree_node_header*>(p.at(r.first_leaf & offset_bits));
  first->next_leaf = past_heap(p, first->next_leaf, 4096);
  CHECK(error_of([&] { walk(t->numbers); }) == error_code::corrupted);
  CHECK(t->numbers.check_invariants() != "");
}
