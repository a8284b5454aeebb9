// Tests of ferrite::set<K> (types/set.h; the tree itself: map_test.cc).
#include <cstring>
#include <random>
#include <set>
#include <string>

#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/set.h"
#include "ferrite/types/string.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace settest {

struct target {
  std::int64_t value;
};
FERRITE_TYPE(target, "test.SetTarget", value)

struct groups {
  set<std::int64_t> numbers;
  set<string> words;
  set<pptr<target>> targets;
};
FERRITE_TYPE(groups, "test.SetGroups", numbers, words, targets)

struct untyped_group {
  set<pptr<void>> members;
};
FERRITE_TYPE(untyped_group, "test.SetUntypedGroup", members)

}  // namespace settest

using namespace settest;

namespace {

pool_options options(bool checked = false, std::uint64_t size = 32 << 20) {
  pool_options o;
  o.size = size;
  o.checked_transactions = checked;
  return o;
}

template <class S>
void use_small_nodes(pool& p, S& s, std::uint16_t leaf, std::uint16_t inner) {
  auto& rep = reinterpret_cast<detail::btree_rep&>(s);
  p.transaction([&] {
    tx_snapshot(&rep);
    rep.leaf_capacity = leaf;
    rep.inner_capacity = inner;
  });
}

std::int64_t plain(std::int64_t v) {
  return v;
}
std::string plain(const string& s) {
  return s.str();
}

template <class S, class R>
void expect_same(const S& s, const R& ref) {
  REQUIRE(s.check_invariants() == "");
  REQUIRE(s.size() == ref.size());
  auto it = s.begin();
  for (const auto& k : ref) {
    REQUIRE(it != s.end());
    REQUIRE(plain(*it) == k);
    ++it;
  }
  CHECK(it == s.end());
}

// Seeded inserts, erases and lookups against std::set, in transactions of
// a few operations; `key` makes a key from a number.
template <class S, class Key>
void random_ops(pool& p, S& s, std::uint64_t seed, int ops, std::uint64_t range, Key key) {
  using K = decltype(key(0));
  std::mt19937_64 rng(seed);
  std::set<K> ref;
  int done = 0;
  while (done < ops) {  // `done` counts inside the transaction
    p.transaction([&] {
      for (int j = 0; j < 16; ++j, ++done) {
        const K k = key(rng() % range);
        // Phases of mostly inserts and mostly erases.
        const bool growing = (done / 1000) % 2 == 0;
        const unsigned op = rng() % 6;
        if (op < 3) {
          if (growing) {
            auto [it, inserted] = s.insert(k);
            CHECK(inserted == ref.insert(k).second);
            CHECK(plain(*it) == k);
          } else {
            CHECK(s.erase(k) == ref.erase(k));
          }
        } else if (op == 3) {
          CHECK(s.contains(k) == ref.contains(k));
        } else if (op == 4) {
          auto lb = s.lower_bound(k);
          auto rl = ref.lower_bound(k);
          REQUIRE((lb == s.end()) == (rl == ref.end()));
          if (rl != ref.end()) CHECK(plain(*lb) == *rl);
          auto ub = s.upper_bound(k);
          auto ru = ref.upper_bound(k);
          REQUIRE((ub == s.end()) == (ru == ref.end()));
          if (ru != ref.end()) CHECK(plain(*ub) == *ru);
        } else {
          CHECK(s.erase(k) == ref.erase(k));
        }
      }
    });
    if (done % 400 == 0) expect_same(s, ref);
  }
  expect_same(s, ref);
}

}  // namespace

TEST_CASE("the set's descriptor names its key type", "[set]") {
  const type_descriptor& d = detail::descriptor_of<set<string>>();
  CHECK(d.name == "ferrite.set<ferrite.string>");
  CHECK(d.subkind == static_cast<std::uint8_t>(container_kind::set));
  CHECK(d.key().name == "ferrite.string");
  CHECK(d.value == nullptr);
}

TEST_CASE("a zero-initialised set is empty", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  CHECK(g->numbers.empty());
  CHECK(g->numbers.begin() == g->numbers.end());
  CHECK_FALSE(g->words.contains("x"));
  CHECK(g->words.erase("x") == 0);
  CHECK(g->words.check_invariants() == "");
}

TEST_CASE("leaves of a set hold keys only", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  g->numbers.insert(1);
  const auto& rep = reinterpret_cast<const detail::btree_rep&>(g->numbers);
  CHECK(rep.leaf_capacity == 60);  // 16 + 60 * 8 = 496 bytes
  CHECK(rep.inner_capacity == 29);
}

TEST_CASE("random operations match std::set (int64 keys)", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  random_ops(p, g->numbers, 1, 8000, 5000, [](std::uint64_t v) { return std::int64_t(v) - 2500; });
}

TEST_CASE("random operations match std::set (string keys, small nodes)", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  use_small_nodes(p, g->words, 3, 2);
  random_ops(p, g->words, 2, 5000, 1000, [](std::uint64_t v) { return std::to_string(v); });
}

TEST_CASE("random operations match std::set under checked transactions", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options(true, 4 << 20));
  auto g = p.root<groups>();
  use_small_nodes(p, g->words, 4, 3);
  random_ops(p, g->words, 3, 2000, 300, [](std::uint64_t v) { return "w" + std::to_string(v); });
  random_ops(p, g->numbers, 4, 2000, 2000, [](std::uint64_t v) { return std::int64_t(v); });
}

TEST_CASE("a set survives reopen", "[set]") {
  test::temp_dir dir;
  std::set<std::string> ref;
  {
    pool p = pool::open(dir / "s.pool", options());
    auto g = p.root<groups>();
    p.transaction([&] {
      for (int i = 0; i < 5000; ++i) {
        g->words.insert(std::to_string(i * 37 % 10007));
        ref.insert(std::to_string(i * 37 % 10007));
      }
    });
  }
  pool p = pool::open(dir / "s.pool", options());
  expect_same(p.root<groups>()->words, ref);
}

TEST_CASE("an aborted transaction restores the set", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  std::set<std::int64_t> ref;
  for (int i = 0; i < 300; ++i) {
    g->numbers.insert(i * 3);
    ref.insert(i * 3);
  }
  const auto objects = p.heap_statistics().objects;
  CHECK_THROWS(p.transaction([&] {
    for (int i = 0; i < 3000; ++i) g->numbers.insert(i);
    for (int i = 0; i < 200; ++i) g->numbers.erase(i * 3);
    throw std::runtime_error("abandon");
  }));
  CHECK(p.heap_statistics().objects == objects);
  expect_same(g->numbers, ref);
}

TEST_CASE("erase and clear free the strings of a set", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  const auto empty = p.heap_statistics().objects;
  p.transaction([&] {
    for (int i = 0; i < 400; ++i) g->words.insert("word number " + std::to_string(i));
  });
  for (int i = 0; i < 400; i += 4) CHECK(g->words.erase("word number " + std::to_string(i)) == 1);
  CHECK(g->words.size() == 300);
  CHECK(g->words.check_invariants() == "");
  g->words.clear();
  CHECK(p.heap_statistics().objects == empty);
}

TEST_CASE("a pointer into another pool is not inserted", "[set]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", options());
  pool b = pool::open(dir / "b.pool", options());
  auto g = a.root<groups>();
  pptr<target> here = a.make<target>(std::int64_t{1});
  pptr<target> there = b.make<target>(std::int64_t{2});
  g->targets.insert(here);
  const auto objects = a.heap_statistics().objects;
  CHECK(error_of([&] { g->targets.insert(there); }) == error_code::invalid_argument);
  CHECK(g->targets.size() == 1);
  CHECK(*g->targets.begin() == here);
  CHECK(a.heap_statistics().objects == objects);
}

TEST_CASE("a set copied to volatile memory is a read-only view", "[set]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options());
  auto g = p.root<groups>();
  g->numbers.insert(4);
  set<std::int64_t> copy = g->numbers;
  CHECK(copy.contains(4));
  CHECK(error_of([&] { copy.insert(5); }) == error_code::invalid_argument);
}

TEST_CASE("a set<pptr<void>> keeps its members reachable for gc until they are erased",
          "[set][pptr_void][gc]") {
  CHECK(detail::descriptor_of<set<pptr<void>>>().name == "ferrite.set<ferrite.ptr>");
  test::temp_dir dir;
  pptr<void> t, g;
  {
    pool p = pool::open(dir / "u.pool", options());
    auto u = p.root<untyped_group>();
    p.transaction([&] {
      t = p.make<target>(std::int64_t{5});
      g = p.make<groups>();
      p.make<target>(std::int64_t{6});  // garbage
      u->members.insert(t);
      u->members.insert(g);
      u->members.insert(nullptr);
    });
    CHECK_FALSE(u->members.insert(t).second);
    pptr<groups>(g)->words.insert("owned by a member");
    const gc_stats s = p.gc();
    CHECK(s.total.freed == 1);
    CHECK(s.by_type.at("test.SetTarget").live == 1);
    CHECK(s.by_type.at("test.SetGroups").live == 1);
  }
  pool p = pool::open(dir / "u.pool", options());
  auto u = p.root<untyped_group>();
  REQUIRE(u->members.size() == 3);
  CHECK(*u->members.begin() == nullptr);
  CHECK(u->members.contains(t));
  CHECK(pptr<target>(*u->members.find(t))->value == 5);
  CHECK(pptr<groups>(g)->words.contains("owned by a member"));
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(u->members.erase(g) == 1);
  CHECK(u->members.erase(t) == 1);
  s = p.gc();
  CHECK(s.by_type.at("test.SetTarget").freed == 1);
  CHECK(s.by_type.at("test.SetGroups").freed == 1);
  CHECK(s.by_type.at("ferrite.set<ferrite.string>").freed == 1);  // the words' leaf
  CHECK(p.check().empty());
}

// --- A damaged set (its B+-tree) gives error(corrupted), never a signal
// (DESIGN invariant 7; map_test.cc damages the tree's inner pointers).

namespace {

constexpr std::uint64_t offset_bits = (std::uint64_t{1} << 48) - 1;

detail::btree_rep rep_of(const set<std::int64_t>& s) {
  detail::btree_rep r;
  std::memcpy(&r, &s, sizeof r);
  return r;
}

pptr<groups> filled(pool& p, std::int64_t n) {
  pptr<groups> g = p.root<groups>();
  p.transaction([&] {
    for (std::int64_t k = 0; k < n; ++k) g->numbers.insert(k);
  });
  return g;
}

}  // namespace

TEST_CASE("a misaligned set root pointer is corrupted", "[set][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "root.pool", options());
  pptr<groups> g = filled(p, 1000);
  detail::btree_rep r = rep_of(g->numbers);
  r.root += 4;
  std::memcpy(static_cast<void*>(&g->numbers), &r, sizeof r);
  CHECK(error_of([&] { (void)g->numbers.contains(5); }) == error_code::corrupted);
  CHECK(error_of([&] { g->numbers.insert(5000); }) == error_code::corrupted);
}

TEST_CASE("a set whose first leaf lies past the heap is corrupted", "[set][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "first.pool", options());
  pptr<groups> g = filled(p, 1000);
  detail::btree_rep r = rep_of(g->numbers);
  r.first_leaf = (r.first_leaf & ~offset_bits) | (p.heap_offset() + p.heap_size() + 512);
  std::memcpy(static_cast<void*>(&g->numbers), &r, sizeof r);
  CHECK(error_of([&] {
          for (std::int64_t k : g->numbers) (void)k;
        }) == error_code::corrupted);
}
