// Tests of ferrite::hash_map (types/hash_map.h): semantics against
// std::unordered_map on random operation sequences (also with checked
// transactions), growth by linear hashing across reopen, aborts, release of
// owned storage, pointer checks and iteration.
#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/string.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace maptest {

struct labelled {
  ferrite::string label;
  std::int64_t n;
};
FERRITE_TYPE(labelled, "test.Labelled", label, n)

struct pair_key {
  std::int32_t a, b;
};
FERRITE_TYPE(pair_key, "test.PairKey", a, b)

struct holder {
  hash_map<std::int64_t, std::int64_t> ints;
  hash_map<ferrite::string, std::int64_t> names;
  hash_map<ferrite::string, ferrite::string> texts;
  hash_map<std::int64_t, pptr<holder>> links;
  hash_map<std::int64_t, labelled> records;
  hash_map<pair_key, std::uint8_t> pairs;
  hash_map<ferrite::string, hash_map<std::int64_t, std::int64_t>> nested;
};
FERRITE_TYPE(holder, "test.MapHolder", ints, names, texts, links, records, pairs, nested)

// Untyped pointers as values and as keys.
struct untyped_links {
  hash_map<std::int64_t, pptr<void>> by_id;
  hash_map<pptr<void>, std::int64_t> ids;
};
FERRITE_TYPE(untyped_links, "test.UntypedLinks", by_id, ids)

}  // namespace maptest

using namespace maptest;

namespace {

pool_options options(std::uint64_t mib = 4, bool checked = false) {
  pool_options o;
  o.size = mib << 20;
  o.checked_transactions = checked;
  return o;
}

// Most cases run on a simulated cache-line device: thousands of commits
// cost nothing there, whereas each one syncs an ordinary file.
pool open_sim(const std::shared_ptr<sim_device>& dev, std::uint64_t mib = 4, bool checked = false) {
  pool_options o = options(mib, checked);
  o.device = dev;
  return pool::open("sim", o);
}
std::shared_ptr<sim_device> device() {
  return std::make_shared<sim_device>(granularity::cache_line);
}

// Opens what would survive a power failure now (the durable image).
pool reopen_crashed(const std::vector<std::byte>& image, std::shared_ptr<sim_device>& keep,
                    std::uint64_t mib) {
  keep = sim_device::from_image(image, granularity::cache_line);
  pool_options o = options(mib);
  o.device = keep;
  o.mode = open_mode::open_existing;
  return pool::open("crashed", o);
}

// Integer keys: every visited key is in the model with its value, and the
// count matches (so each element is visited exactly once).
void require_same_ints(const hash_map<std::int64_t, std::int64_t>& m,
                       const std::unordered_map<std::int64_t, std::int64_t>& model) {
  REQUIRE(m.size() == model.size());
  std::set<std::int64_t> seen;
  for (auto [k, v] : m) {
    REQUIRE(seen.insert(k).second);
    auto it = model.find(k);
    REQUIRE(it != model.end());
    REQUIRE(it->second == v);
  }
  REQUIRE(seen.size() == model.size());
  for (const auto& [k, v] : model) {
    REQUIRE(m.contains(k));
    REQUIRE(m.at(k) == v);
  }
}

void require_same_texts(const hash_map<ferrite::string, ferrite::string>& m,
                        const std::unordered_map<std::string, std::string>& model) {
  REQUIRE(m.size() == model.size());
  std::set<std::string> seen;
  for (auto [k, v] : m) {
    REQUIRE(seen.insert(k.str()).second);
    auto it = model.find(k.str());
    REQUIRE(it != model.end());
    REQUIRE(it->second == v.view());
  }
  REQUIRE(seen.size() == model.size());
}

// Random operations on int64 keys, mirrored on a std::unordered_map. Some
// runs group operations in transactions (some of them aborted).
void random_ints(pool& p, hash_map<std::int64_t, std::int64_t>& m, std::uint64_t seed, int ops) {
  std::unordered_map<std::int64_t, std::int64_t> model;
  std::mt19937_64 rng(seed);
  auto op = [&](std::unordered_map<std::int64_t, std::int64_t>& mm) {
    const std::int64_t k = static_cast<std::int64_t>(rng() % 700) - 100;
    const std::int64_t v = static_cast<std::int64_t>(rng());
    switch (rng() % 8) {
      case 0:
      case 1: {
        auto [it, added] = m.insert(k, v);
        auto [mit, madded] = mm.insert({k, v});
        REQUIRE(added == madded);
        REQUIRE(it->first == k);
        REQUIRE(it->second == mit->second);
        break;
      }
      case 2: {
        auto [it, added] = m.insert_or_assign(k, v);
        auto [mit, madded] = mm.insert_or_assign(k, v);
        REQUIRE(added == madded);
        REQUIRE(it.value() == v);
        break;
      }
      case 3: {
        auto [it, added] = m.try_emplace(k);
        auto [mit, madded] = mm.try_emplace(k);
        REQUIRE(added == madded);
        REQUIRE(it->second == mit->second);
        break;
      }
      case 4: {
        std::int64_t& ref = m[k];
        REQUIRE(ref == mm[k]);
        break;
      }
      case 5:
      case 6:
        REQUIRE(m.erase(k) == mm.erase(k));
        break;
      default: {
        auto it = m.find(k);
        REQUIRE((it == m.end()) == (mm.count(k) == 0));
        REQUIRE(m.count(k) == mm.count(k));
        if (it != m.end()) REQUIRE((*it).second == mm.at(k));
        break;
      }
    }
  };
  for (int i = 0; i < ops;) {
    const unsigned mode = static_cast<unsigned>(rng() % 10);
    if (mode < 7) {
      op(model);
      ++i;
    } else {
      // A group of operations in one transaction; mode 9 aborts it.
      auto copy = model;
      const int n = 1 + static_cast<int>(rng() % 40);
      try {
        p.transaction([&] {
          for (int j = 0; j < n; ++j) op(copy);
          if (mode == 9) throw std::runtime_error("abort the group");
        });
        model = copy;
      } catch (const std::runtime_error&) {
      }
      i += n;
    }
    if (i % 500 < 10) require_same_ints(m, model);
  }
  require_same_ints(m, model);
}

std::string random_text(std::mt19937_64& rng, std::size_t max_len) {
  std::string s(rng() % (max_len + 1), ' ');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

void random_strings(pool& p, hash_map<ferrite::string, ferrite::string>& m, std::uint64_t seed,
                    int ops) {
  std::unordered_map<std::string, std::string> model;
  std::mt19937_64 rng(seed);
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) keys.push_back(random_text(rng, 20));
  auto op = [&](std::unordered_map<std::string, std::string>& mm) {
    const std::string& k = keys[rng() % keys.size()];
    const std::string v = random_text(rng, 40);
    switch (rng() % 7) {
      case 0:
      case 1: {
        auto [it, added] = m.insert(k, v);
        auto [mit, madded] = mm.insert({k, v});
        REQUIRE(added == madded);
        REQUIRE(it->first == k);
        REQUIRE(it->second == mit->second);
        break;
      }
      case 2: {
        m.insert_or_assign(k, v);
        mm.insert_or_assign(k, v);
        break;
      }
      case 3: {
        m[k] += "+";
        mm[k] += "+";
        break;
      }
      case 4:
      case 5:
        REQUIRE(m.erase(k) == mm.erase(k));
        break;
      default: {
        auto it = m.find(k);
        REQUIRE((it == m.end()) == (mm.count(k) == 0));
        if (it != m.end()) REQUIRE(it->second == mm.at(k));
        break;
      }
    }
  };
  for (int i = 0; i < ops;) {
    if (rng() % 10 < 8) {
      op(model);
      ++i;
    } else {
      auto copy = model;
      const bool abort = rng() % 3 == 0;
      const int n = 1 + static_cast<int>(rng() % 20);
      try {
        p.transaction([&] {
          for (int j = 0; j < n; ++j) op(copy);
          if (abort) throw std::runtime_error("abort the group");
        });
        model = copy;
      } catch (const std::runtime_error&) {
      }
      i += n;
    }
  }
  require_same_texts(m, model);
}

}  // namespace

TEST_CASE("a hash_map describes itself", "[hash_map]") {
  const type_descriptor& d = detail::descriptor_of<hash_map<std::int64_t, std::int64_t>>();
  CHECK(d.name == "ferrite.hash_map<i64,i64>");
  CHECK(d.kind == type_kind::container);
  CHECK(d.subkind == static_cast<std::uint8_t>(container_kind::hash_map));
  CHECK(d.size == 32);
  CHECK(d.key().name == "i64");
  CHECK(d.value().name == "i64");
  CHECK(d.release != nullptr);
  CHECK(detail::descriptor_of<hash_map<ferrite::string, ferrite::string>>().name ==
        "ferrite.hash_map<ferrite.string,ferrite.string>");
  const type_descriptor& h = detail::descriptor_of<holder>();
  CHECK(h.fields[3].type().name == "ferrite.hash_map<i64,ferrite.ptr<test.MapHolder>>");
}

TEST_CASE("random operations on int64 keys match std::unordered_map", "[hash_map]") {
  pool p = open_sim(device(), 16);
  auto h = p.root<holder>();
  random_ints(p, h->ints, 42, 6000);
  CHECK(p.check().empty());
}

TEST_CASE("random operations on string keys match std::unordered_map", "[hash_map]") {
  pool p = open_sim(device(), 16);
  auto h = p.root<holder>();
  random_strings(p, h->texts, 7, 4000);
  CHECK(p.check().empty());
}

TEST_CASE("random operations snapshot every byte they change (checked transactions)",
          "[hash_map]") {
  pool p = open_sim(device(), 4, true);
  auto h = p.root<holder>();
  random_ints(p, h->ints, 1234, 2500);
  random_strings(p, h->texts, 99, 1500);
  h->ints.clear();
  h->texts.clear();
  CHECK(h->ints.empty());
  CHECK(h->texts.empty());
}

TEST_CASE("string keys are looked up by string_view", "[hash_map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto h = p.root<holder>();
  auto& m = h->names;
  CHECK(m.insert("ada", 1).second);
  CHECK_FALSE(m.insert(std::string("ada"), 2).second);
  m["bob"] = 0;  // a plain value: written without a snapshot only because it is new
  CHECK(m.at(std::string_view("ada")) == 1);
  CHECK(m.contains("bob"));
  CHECK_FALSE(m.contains("carol"));
  CHECK(m.find(std::string("ada"))->first == "ada");
  CHECK(m.erase("ada") == 1);
  CHECK(m.erase("ada") == 0);
  CHECK(m.size() == 1);
}

TEST_CASE("at() of a missing key throws not_found, as the value model's dict", "[hash_map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", options());
  auto h = p.root<holder>();
  CHECK(error_of([&] { h->ints.at(5); }) == error_code::not_found);
  h->ints.insert(5, 50);
  CHECK(h->ints.at(5) == 50);
  CHECK(error_of([&] { h->ints.at(6); }) == error_code::not_found);
  const auto& cm = h->names;
  CHECK(error_of([&] { cm.at("x"); }) == error_code::not_found);
}

TEST_CASE("growth across many splits survives a crash and reopen", "[hash_map]") {
  constexpr std::int64_t n = 100000;
  auto value_of = [](std::int64_t k) { return k * 7 + 3; };
  auto dev = device();
  {
    pool p = open_sim(dev, 32);
    auto h = p.root<holder>();
    auto& m = h->ints;
    // The first keys one operation per transaction, the rest in batches.
    for (std::int64_t k = 0; k < 5000; ++k) REQUIRE(m.insert(k, value_of(k)).second);
    for (std::int64_t k = 5000; k < n; k += 1000) {
      p.transaction([&] {
        for (std::int64_t j = k; j < k + 1000; ++j) m.insert(j, value_of(j));
      });
    }
    CHECK(m.size() == static_cast<std::size_t>(n));
    CHECK(m.bucket_count() >= m.size());
    CHECK(m.bucket_count() < 2 * m.size());
    // String keys grow too.
    for (int i = 0; i < 20000; i += 500) {
      p.transaction([&] {
        for (int j = i; j < i + 500; ++j) h->names.insert("key-" + std::to_string(j), j);
      });
    }
  }
  // Closed cleanly, then reopened from what a power failure would keep.
  std::shared_ptr<sim_device> keep;
  pool p = reopen_crashed(dev->durable(), keep, 32);
  auto h = p.root<holder>();
  auto& m = h->ints;
  REQUIRE(m.size() == static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) REQUIRE(m.at(k) == value_of(k));
  CHECK_FALSE(m.contains(n));
  std::vector<bool> seen(n, false);
  for (auto [k, v] : m) {
    REQUIRE(k >= 0);
    REQUIRE(k < n);
    REQUIRE_FALSE(seen[static_cast<std::size_t>(k)]);
    seen[static_cast<std::size_t>(k)] = true;
    REQUIRE(v == value_of(k));
  }
  REQUIRE(h->names.size() == 20000);
  for (int j = 0; j < 20000; ++j) REQUIRE(h->names.at("key-" + std::to_string(j)) == j);
  CHECK(p.check().empty());
}

TEST_CASE("a crash keeps exactly the committed operations", "[hash_map]") {
  // Images taken at barriers while single operations commit: each must
  // recover to the map after the operations done so far, or one more.
  auto dev = device();
  std::vector<std::map<std::int64_t, std::int64_t>> states(1);
  struct image {
    std::vector<std::byte> bytes;
    std::size_t done;
  };
  std::vector<image> images;
  {
    pool p = open_sim(dev, 4);
    auto h = p.root<holder>();
    std::mt19937_64 rng(5);
    std::map<std::int64_t, std::int64_t> model;
    dev->on_barrier = [&](const sim_device& d) {
      if (d.barriers() % 23 == 0) images.push_back({d.durable(), states.size() - 1});
    };
    for (int i = 0; i < 1500; ++i) {
      const auto k = static_cast<std::int64_t>(rng() % 400);
      if (rng() % 3 == 0) {
        h->ints.erase(k);
        model.erase(k);
      } else {
        h->ints.insert_or_assign(k, i);
        model[k] = i;
      }
      states.push_back(model);
    }
    dev->on_barrier = nullptr;
  }
  REQUIRE(images.size() > 20);
  for (std::size_t i = 0; i < images.size(); i += images.size() / 20) {
    std::shared_ptr<sim_device> keep;
    pool p = reopen_crashed(images[i].bytes, keep, 4);
    auto h = p.root<holder>();
    std::map<std::int64_t, std::int64_t> got;
    for (auto [k, v] : h->ints) got[k] = v;
    const std::size_t done = images[i].done;
    const bool ok = got == states[done] || (done + 1 < states.size() && got == states[done + 1]);
    INFO("image " << i << " after " << done << " operations");
    CHECK(ok);
    CHECK(p.check().empty());
  }
}

TEST_CASE("an aborted transaction restores the map and frees what it allocated", "[hash_map]") {
  pool p = open_sim(device(), 8);
  auto h = p.root<holder>();
  auto& m = h->ints;
  for (std::int64_t k = 0; k < 100; ++k) m.insert(k, k);
  for (int i = 0; i < 50; ++i) h->texts.insert("t" + std::to_string(i), std::string(30, 'x'));
  const auto objects = p.heap_statistics().objects;
  const std::uint64_t buckets = m.bucket_count();
  CHECK_THROWS_AS(p.transaction([&] {
    for (std::int64_t k = 100; k < 5000; ++k) m.insert(k, -k);  // many splits
    for (std::int64_t k = 0; k < 50; ++k) m.erase(k);
    m.insert_or_assign(60, 600);
    h->texts.clear();
    h->texts["new"] = "text";
    throw std::runtime_error("abandon");
  }),
                  std::runtime_error);
  CHECK(p.heap_statistics().objects == objects);
  CHECK(m.bucket_count() == buckets);
  REQUIRE(m.size() == 100);
  for (std::int64_t k = 0; k < 100; ++k) REQUIRE(m.at(k) == k);
  REQUIRE(h->texts.size() == 50);
  CHECK(h->texts.at("t7") == std::string(30, 'x'));
  CHECK_FALSE(h->texts.contains("new"));
  CHECK(p.check().empty());
}

TEST_CASE("erase and clear free the storage of string keys and values", "[hash_map]") {
  pool p = open_sim(device());
  auto h = p.root<holder>();
  const auto empty = p.heap_statistics().objects;
  h->texts.insert("a fairly long key number one", "and a value that needs a buffer");
  const auto one = p.heap_statistics().objects;
  CHECK(one > empty + 2);  // table, segment, node, two buffers
  h->texts.insert("a fairly long key number two", "another value with a buffer");
  CHECK(p.heap_statistics().objects == one + 3);  // node, two buffers
  CHECK(h->texts.erase("a fairly long key number two") == 1);
  CHECK(p.heap_statistics().objects == one);
  h->texts.insert_or_assign("a fairly long key number one", "replaced");
  CHECK(p.heap_statistics().objects == one);
  for (int i = 0; i < 200; ++i) h->names.insert("name number " + std::to_string(i), i);
  h->texts.clear();
  h->names.clear();
  CHECK(h->texts.empty());
  CHECK(h->names.bucket_count() == 0);
  CHECK(p.heap_statistics().objects == empty);
}

TEST_CASE("clear of a large map outside a transaction works in pieces", "[hash_map]") {
  pool p = open_sim(device(), 8, true);
  auto h = p.root<holder>();
  const auto empty = p.heap_statistics().objects;
  for (int i = 0; i < 5000; i += 1000) {
    p.transaction([&] {
      for (int j = i; j < i + 1000; ++j) h->names.insert("k" + std::to_string(j), j);
    });
  }
  const auto commits = p.stats().commits;
  h->names.clear();
  CHECK(p.stats().commits - commits > 5000 / detail::hash_clear_piece);
  CHECK(h->names.empty());
  CHECK(p.heap_statistics().objects == empty);
  // The map is usable again.
  h->names.insert("again", 1);
  CHECK(h->names.at("again") == 1);
  CHECK(p.check().empty());
}

TEST_CASE("destroying the owner frees every node", "[hash_map]") {
  pool p = open_sim(device());
  const auto before = p.heap_statistics().objects;
  pptr<holder> o = p.make<holder>();
  for (std::int64_t k = 0; k < 300; ++k) o->ints.insert(k, k);
  o->texts.insert("key", "value");
  o->records.try_emplace(1).first->second.label = "in place";
  p.destroy(o);
  CHECK(p.heap_statistics().objects == before);
}

TEST_CASE("a pptr value into another pool is rejected and changes nothing", "[hash_map]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", options());
  pool b = pool::open(dir / "b.pool", options());
  pptr<holder> in_a = a.root<holder>();
  pptr<holder> hb = b.root<holder>();
  hb->links.insert(1, hb);
  const auto objects = b.heap_statistics().objects;
  CHECK(error_of([&] { hb->links.insert(2, in_a); }) == error_code::invalid_argument);
  CHECK(error_of([&] { hb->links.insert_or_assign(1, in_a); }) == error_code::invalid_argument);
  CHECK(hb->links.size() == 1);
  CHECK(hb->links.at(1) == hb);
  CHECK_FALSE(hb->links.contains(2));
  CHECK(b.heap_statistics().objects == objects);
  // Inside a transaction that goes on after the error, the map is unchanged too.
  b.transaction([&] {
    CHECK(error_of([&] { hb->links.insert(3, in_a); }) == error_code::invalid_argument);
    hb->links.insert(4, hb);
  });
  CHECK(hb->links.size() == 2);
  CHECK_FALSE(hb->links.contains(3));
  CHECK(b.heap_statistics().objects == objects + 1);
  CHECK(b.check().empty());
}

TEST_CASE("copying in a value that owns storage is refused", "[hash_map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "o.pool", options());
  auto h = p.root<holder>();
  labelled v{};
  CHECK(error_of([&] { h->records.insert(1, v); }) == error_code::invalid_argument);
  CHECK(h->records.empty());
  auto [it, added] = h->records.try_emplace(1);
  CHECK(added);
  it->second.label = "built in place";
  CHECK(h->records.at(1).label == "built in place");
}

TEST_CASE("owned values are built in place by operator[]", "[hash_map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "v.pool", options());
  auto h = p.root<holder>();
  h->texts["a"] += "x";
  h->texts["a"] += "y";
  p.transaction([&] { h->texts["b"] = "in a transaction"; });
  CHECK(h->texts.at("a") == "xy");
  CHECK(h->texts.at("b") == "in a transaction");
}

static_assert(std::forward_iterator<hash_map<std::int64_t, std::int64_t>::iterator>);
static_assert(std::forward_iterator<hash_map<std::int64_t, std::int64_t>::const_iterator>);
static_assert(std::is_trivially_copyable_v<hash_map<ferrite::string, ferrite::string>>);
static_assert(std::is_standard_layout_v<hash_map<ferrite::string, ferrite::string>>);
static_assert(sizeof(hash_map<std::int64_t, std::int64_t>) == 32);

TEST_CASE("container values are built in place and freed with their element", "[hash_map]") {
  pool p = open_sim(device());
  auto h = p.root<holder>();
  CHECK(detail::descriptor_of<decltype(h->nested)>().name ==
        "ferrite.hash_map<ferrite.string,ferrite.hash_map<i64,i64>>");
  const auto empty = p.heap_statistics().objects;
  p.transaction([&] {
    for (std::int64_t i = 0; i < 100; ++i) h->nested["evens"].insert(2 * i, i);
  });
  h->nested["odds"].insert(1, 1);
  CHECK(h->nested.size() == 2);
  CHECK(h->nested.at("evens").size() == 100);
  CHECK(h->nested.at("evens").at(198) == 99);
  CHECK(h->nested.erase("evens") == 1);
  CHECK(h->nested.at("odds").at(1) == 1);
  h->nested.clear();
  CHECK(p.heap_statistics().objects == empty);
}

TEST_CASE("iteration visits every element once", "[hash_map]") {
  pool p = open_sim(device());
  auto h = p.root<holder>();
  auto& m = h->ints;
  CHECK(m.begin() == m.end());
  std::unordered_map<std::int64_t, std::int64_t> model;
  p.transaction([&] {
    for (std::int64_t k = 0; k < 1000; ++k) {
      m.insert(k * 31, k);
      model[k * 31] = k;
    }
  });
  require_same_ints(m, model);
  // Const iteration through a read-only view, with the iterator's arrow.
  const hash_map<std::int64_t, std::int64_t> view = m;
  std::size_t n = 0;
  for (auto it = view.begin(); it != view.end(); ++it) {
    CHECK(model.at(it->first) == it->second);
    ++n;
  }
  CHECK(n == model.size());
  CHECK(static_cast<std::size_t>(std::distance(m.cbegin(), m.cend())) == model.size());
  // erase(iterator) while iterating: drop the odd values.
  p.transaction([&] {
    for (auto it = m.begin(); it != m.end();) {
      if (it->second % 2) {
        it = m.erase(it);
      } else {
        ++it;
      }
    }
  });
  std::erase_if(model, [](const auto& kv) { return kv.second % 2 != 0; });
  require_same_ints(m, model);
  // Struct keys (their bytes are their value).
  h->pairs.insert(pair_key{1, 2}, 3);
  CHECK(h->pairs.at(pair_key{1, 2}) == 3);
  CHECK_FALSE(h->pairs.contains(pair_key{2, 1}));
}

TEST_CASE("a map copied to volatile memory can be read, not changed", "[hash_map]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "c.pool", options());
  auto h = p.root<holder>();
  h->ints.insert(1, 10);
  hash_map<std::int64_t, std::int64_t> copy = h->ints;
  CHECK(copy.at(1) == 10);
  CHECK(error_of([&] { copy.insert(2, 20); }) == error_code::invalid_argument);
  CHECK(error_of([&] { copy.erase(1); }) == error_code::invalid_argument);
  CHECK(error_of([&] { copy.clear(); }) == error_code::invalid_argument);
  CHECK(h->ints.size() == 1);
}

TEST_CASE("the map persists across reopen with string keys and values", "[hash_map]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "r.pool", options());
    auto h = p.root<holder>();
    h->texts.insert("hello", "world");
    h->names.insert("answer", 42);
  }
  pool p = pool::open(dir / "r.pool", options());
  auto h = p.root<holder>();
  CHECK(h->texts.at("hello") == "world");
  CHECK(h->names.at("answer") == 42);
}

TEST_CASE("operator[] inside a transaction snapshots the value it returns", "[hash_map]") {
  ferrite::test::temp_dir dir;
  ferrite::pool_options o;
  o.size = 4 << 20;
  o.checked_transactions = true;  // a missed snapshot would fail the commit
  ferrite::pool p = ferrite::pool::open(dir / "h.pool", o);
  auto r = p.root<holder>();
  p.transaction([&] { r->ints[7] += 1; });
  p.transaction([&] { r->ints[7] += 1; });
  CHECK(r->ints.at(7) == 2);
  CHECK_THROWS(p.transaction([&] {
    r->ints[7] += 40;
    throw std::runtime_error("abort");
  }));
  CHECK(r->ints.at(7) == 2);
}

TEST_CASE("pptr<void> values and keys work like typed pptrs", "[hash_map][pptr_void]") {
  CHECK(detail::descriptor_of<hash_map<pptr<void>, std::int64_t>>().name ==
        "ferrite.hash_map<ferrite.ptr,i64>");
  test::temp_dir dir;
  pptr<void> first, second;
  {
    pool p = pool::open(dir / "u.pool", options());
    pptr<untyped_links> u = p.root<untyped_links>();
    first = p.make<labelled>();
    second = p.make<pair_key>(pair_key{1, 2});
    u->by_id.insert(1, first);
    u->by_id.insert_or_assign(2, u);
    u->by_id.insert_or_assign(2, second);
    p.transaction([&] { u->by_id[3] = first; });
    CHECK(u->ids.insert(first, 10).second);
    CHECK_FALSE(u->ids.insert(first, 11).second);
    u->ids.insert(second, 20);
    u->ids.insert(nullptr, 0);
    CHECK(u->ids.erase(nullptr) == 1);
  }
  pool p = pool::open(dir / "u.pool", options());
  pptr<untyped_links> u = p.root<untyped_links>();
  CHECK(u->by_id.size() == 3);
  CHECK(u->by_id.at(1) == first);
  CHECK(u->by_id.at(2) == second);
  CHECK(u->by_id.at(3) == first);
  CHECK(pptr<pair_key>(u->by_id.at(2))->b == 2);
  CHECK(u->ids.size() == 2);
  CHECK(u->ids.at(first) == 10);
  CHECK(u->ids.find(second)->second == 20);
  CHECK_FALSE(u->ids.contains(pptr<void>(u)));
  CHECK(error_of([&] { (void)u->ids.at(nullptr); }) == error_code::not_found);
  CHECK(p.check().empty());
}

TEST_CASE("gc keeps what only pptr<void> values or keys reach, and frees it once erased",
          "[hash_map][pptr_void][gc]") {
  test::temp_dir dir;
  std::uint64_t live = 0;
  {
    pool p = pool::open(dir / "g.pool", options());
    pptr<untyped_links> u = p.root<untyped_links>();
    p.transaction([&] {
      // Each target owns a string buffer: the collector must walk it as the
      // struct its header names to keep the buffer.
      pptr<labelled> value = p.make<labelled>();
      value->label = "reached through a value";
      pptr<labelled> key = p.make<labelled>();
      key->label = "reached through a key";
      u->by_id.insert(1, value);
      u->ids.insert(key, 2);
    });
    const gc_stats s = p.gc();
    CHECK(s.total.freed == 0);
    CHECK(s.by_type.at("test.Labelled").live == 2);
    CHECK(s.by_type.at("ferrite.string").live == 2);
    live = s.total.live;
  }
  pool p = pool::open(dir / "g.pool", options());
  pptr<untyped_links> u = p.root<untyped_links>();
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(s.total.live == live);
  CHECK(pptr<labelled>(u->by_id.at(1))->label == "reached through a value");
  CHECK(pptr<labelled>(u->ids.begin()->first)->label == "reached through a key");
  CHECK(u->by_id.erase(1) == 1);
  s = p.gc();
  CHECK(s.total.freed == 2);  // the struct and its string buffer
  CHECK(s.by_type.at("test.Labelled").freed == 1);
  u->ids.clear();
  s = p.gc();
  CHECK(s.total.freed == 2);
  CHECK(s.by_type.at("test.Labelled").freed == 1);
  CHECK(s.by_type.at("test.Labelled").live == 0);
  CHECK(p.check().empty());
}

// --- A damaged hash_map gives error(corrupted), never a signal (DESIGN
// invariant 7). Each case damages one word of the map in the working view,
// then walks it through the public API.

namespace {

constexpr std::uint64_t offset_bits = (std::uint64_t{1} << 48) - 1;

detail::hash_map_rep rep_of(const hash_map<std::int64_t, std::int64_t>& m) {
  detail::hash_map_rep r;
  std::memcpy(&r, &m, sizeof r);
  return r;
}
void damage(hash_map<std::int64_t, std::int64_t>& m, const detail::hash_map_rep& r) {
  std::memcpy(static_cast<void*>(&m), &r, sizeof r);
}

// The root of a pool whose `ints` map holds keys 0..n-1.
pptr<holder> filled(pool& p, std::int64_t n) {
  pptr<holder> h = p.root<holder>();
  p.transaction([&] {
    for (std::int64_t k = 0; k < n; ++k) h->ints.insert(k, k * 10);
  });
  return h;
}

// The node holding key k (its header: next, hash), in the working view.
detail::hash_node_header* node_of(hash_map<std::int64_t, std::int64_t>& m, std::int64_t k) {
  auto it = m.find(k);
  REQUIRE(it != m.end());
  auto* key = reinterpret_cast<const std::byte*>(&it.key());
  return reinterpret_cast<detail::hash_node_header*>(const_cast<std::byte*>(key) -
                                                     sizeof(detail::hash_node_header));
}

std::int64_t walk(const hash_map<std::int64_t, std::int64_t>& m) {
  std::int64_t sum = 0;
  for (const auto& e : m) sum += e.second;
  return sum;
}

// Looks every key up.
void find_all(const hash_map<std::int64_t, std::int64_t>& m, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) (void)m.contains(k);
}

}  // namespace

TEST_CASE("a hash_map node pointer past the heap end is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  REQUIRE(walk(h->ints) == 49500);
  detail::hash_node_header* n = node_of(h->ints, 7);
  n->next = (h.raw() & ~offset_bits) | (p.heap_offset() + p.heap_size() + 4096);
  CHECK(error_of([&] { walk(h->ints); }) == error_code::corrupted);
  // Lookups of absent keys walk whole chains, 7's among them.
  CHECK(error_of([&] {
          for (std::int64_t k = 100; k < 1100; ++k) (void)h->ints.contains(k);
        }) == error_code::corrupted);
}

TEST_CASE("a misaligned hash_map node pointer is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  detail::hash_node_header* n = node_of(h->ints, 7);
  n->next = (p.offset_of(node_of(h->ints, 8)) + 4) | (h.raw() & ~offset_bits);
  CHECK(error_of([&] { walk(h->ints); }) == error_code::corrupted);
}

TEST_CASE("a hash_map bucket head pointing past the heap is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  const detail::hash_map_rep r = rep_of(h->ints);
  auto* table = static_cast<std::uint64_t*>(p.at(r.segments & offset_bits));
  auto* heads = static_cast<std::uint64_t*>(p.at(table[0] & offset_bits));
  for (std::uint32_t b = 0; b < detail::hash_initial_buckets; ++b) {
    if (heads[b] != 0) heads[b] = (heads[b] & ~offset_bits) | offset_bits;  // the largest offset
  }
  CHECK(error_of([&] { find_all(h->ints, 100); }) == error_code::corrupted);
  CHECK(error_of([&] { walk(h->ints); }) == error_code::corrupted);
}

TEST_CASE("a hash_map segment table pointer past the heap is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  detail::hash_map_rep r = rep_of(h->ints);
  // The table's first word is in the heap, its 48 words are not.
  r.segments = (r.segments & ~offset_bits) | (p.heap_offset() + p.heap_size() - 8);
  damage(h->ints, r);
  CHECK(error_of([&] { (void)h->ints.contains(1); }) == error_code::corrupted);
  CHECK(error_of([&] { h->ints.insert(1000, 1); }) == error_code::corrupted);
  CHECK(error_of([&] { walk(h->ints); }) == error_code::corrupted);
}

TEST_CASE("a hash_map segment pointer past the heap is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  const detail::hash_map_rep r = rep_of(h->ints);
  auto* table = static_cast<std::uint64_t*>(p.at(r.segments & offset_bits));
  table[0] = (table[0] & ~offset_bits) | (p.heap_offset() + p.heap_size() - 16);
  CHECK(error_of([&] { find_all(h->ints, 100); }) == error_code::corrupted);
}

TEST_CASE("a hash_map level beyond its last segment is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  detail::hash_map_rep r = rep_of(h->ints);
  r.level = 60;  // 16 << 60 buckets: beyond 48 segments (and a shift past 64 bits)
  damage(h->ints, r);
  CHECK(error_of([&] { (void)h->ints.contains(1); }) == error_code::corrupted);
  CHECK(error_of([&] { walk(h->ints); }) == error_code::corrupted);
  CHECK(error_of([&] { h->ints.insert(1000, 1); }) == error_code::corrupted);
}

TEST_CASE("a hash_map with entries but no segment table is corrupted", "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 100);
  detail::hash_map_rep r = rep_of(h->ints);
  r.segments = 0;
  damage(h->ints, r);
  CHECK(error_of([&] { (void)h->ints.contains(1); }) == error_code::corrupted);
  CHECK(error_of([&] { walk(h->ints); }) == error_code::corrupted);
}

TEST_CASE("a hash_map split naming a segment that does not exist is corrupted",
          "[hash_map][corrupted]") {
  auto dev = device();
  pool p = open_sim(dev);
  pptr<holder> h = filled(p, 64);  // 64 buckets, level 2, split 0: segment 3 not made yet
  detail::hash_map_rep r = rep_of(h->ints);
  REQUIRE(r.split == 0);
  r.split = std::uint64_t{1} << 30;  // every bucket "split": half the keys look in segment 3
  damage(h->ints, r);
  CHECK(error_of([&] { find_all(h->ints, 64); }) == error_code::corrupted);
}
