// Tests of ferrite::vector<T> (types/vector.h): std::vector semantics on
// random operation sequences (also in checked mode), persistence, aborts,
// owning elements, pointer checks, large vectors and bounded log use.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/string.h"
#include "ferrite/types/vector.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace vectest {

struct point {
  std::int32_t x, y;
};
FERRITE_TYPE(point, "vectest.Point", x, y)

struct node {
  std::int64_t value;
  pptr<node> next;
};
FERRITE_TYPE(node, "vectest.Node", value, next)

struct labelled {
  ferrite::string label;
  std::int64_t n;
};
FERRITE_TYPE(labelled, "vectest.Labelled", label, n)

struct holder {
  std::int64_t tag;
  ferrite::vector<std::int64_t> numbers;
  ferrite::vector<ferrite::string> names;
  ferrite::vector<pptr<node>> links;
  ferrite::vector<point> points;
  ferrite::vector<ferrite::vector<std::int64_t>> nested;
  ferrite::vector<labelled> labels;
};
FERRITE_TYPE(holder, "vectest.Holder", tag, numbers, names, links, points, nested, labels)

// Refers to itself through its vector.
struct tree {
  std::int64_t value;
  ferrite::vector<pptr<tree>> children;
};
FERRITE_TYPE(tree, "vectest.Tree", value, children)

// Untyped pointers: the targets' types are in their allocation headers.
struct anything {
  ferrite::vector<pptr<void>> targets;
};
FERRITE_TYPE(anything, "vectest.Anything", targets)

}  // namespace vectest

using namespace vectest;

namespace {

pool_options options(std::uint64_t size = 8 << 20, bool checked = false) {
  pool_options o;
  o.size = size;
  o.checked_transactions = checked;
  return o;
}

// On a simulated device: no fsync per commit, for the long random runs.
pool_options sim_options(std::shared_ptr<sim_device> dev, std::uint64_t size, bool checked) {
  pool_options o = options(size, checked);
  o.device = std::move(dev);
  return o;
}

template <class V>
std::vector<std::int64_t> contents(const V& v) {
  return std::vector<std::int64_t>(v.begin(), v.end());
}

std::vector<std::string> texts(const ferrite::vector<ferrite::string>& v) {
  std::vector<std::string> r;
  for (const ferrite::string& s : v) r.push_back(s.str());
  return r;
}

}  // namespace

TEST_CASE("a vector describes itself by its element type", "[vector]") {
  const type_descriptor& d = detail::descriptor_of<ferrite::vector<std::int64_t>>();
  CHECK(d.name == "ferrite.vector<i64>");
  CHECK(d.kind == type_kind::container);
  CHECK(d.subkind == static_cast<std::uint8_t>(container_kind::vector));
  CHECK(d.size == 24);
  CHECK(d.align == 8);
  REQUIRE(d.value != nullptr);
  CHECK(d.value().name == "i64");
  CHECK(d.release != nullptr);
  CHECK(detail::descriptor_of<ferrite::vector<ferrite::string>>().name ==
        "ferrite.vector<ferrite.string>");
  CHECK(detail::descriptor_of<ferrite::vector<ferrite::vector<std::int64_t>>>().name ==
        "ferrite.vector<ferrite.vector<i64>>");
  CHECK(detail::descriptor_of<ferrite::vector<pptr<node>>>().name ==
        "ferrite.vector<ferrite.ptr<vectest.Node>>");
  CHECK(detail::descriptor_of<holder>().fields[1].type().name == "ferrite.vector<i64>");
  CHECK(detail::owns_storage(detail::descriptor_of<holder>()));
}

TEST_CASE("push_back, read access and iteration", "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "v.pool", options());
  pptr<holder> h = p.root<holder>();
  ferrite::vector<std::int64_t>& v = h->numbers;
  CHECK(v.empty());
  CHECK(v.capacity() == 0);
  CHECK(v.data() == nullptr);
  CHECK(v.begin() == v.end());
  for (std::int64_t i = 0; i < 100; ++i) v.push_back(i * 3);
  CHECK(v.size() == 100);
  CHECK(v.capacity() >= 100);
  CHECK(v[7] == 21);
  CHECK(v.at(99) == 297);
  CHECK(v.front() == 0);
  CHECK(v.back() == 297);
  std::int64_t sum = 0;
  for (std::int64_t x : v) sum += x;
  CHECK(sum == 3 * 99 * 100 / 2);
  const ferrite::vector<std::int64_t>& cv = v;
  CHECK(*(cv.begin() + 2) == 6);
  CHECK(std::find(cv.begin(), cv.end(), 150) - cv.begin() == 50);
  CHECK(*cv.rbegin() == 297);
  CHECK(std::distance(cv.rbegin(), cv.rend()) == 100);
  // The buffer carries the vector's type id.
  CHECK(p.object_type(v.data()) ==
        p.type_id(detail::descriptor_of<ferrite::vector<std::int64_t>>()));
  CHECK(p.check().empty());
}

TEST_CASE("a position outside the vector throws out_of_range, as the value model's list",
          "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "v.pool", options());
  ferrite::vector<std::int64_t>& v = p.root<holder>()->numbers;
  CHECK(error_of([&] { v.pop_back(); }) == error_code::out_of_range);
  CHECK(error_of([&] { (void)v.front(); }) == error_code::out_of_range);
  CHECK(error_of([&] { (void)v.back(); }) == error_code::out_of_range);
  CHECK(error_of([&] { (void)v.at(0); }) == error_code::out_of_range);
  v.push_back(1);
  CHECK(error_of([&] { (void)v.at(1); }) == error_code::out_of_range);
  const auto& cv = v;
  CHECK(error_of([&] { (void)cv.at(1); }) == error_code::out_of_range);
  CHECK(error_of([&] { v.set(1, 5); }) == error_code::out_of_range);
  CHECK(error_of([&] { v.insert(2, 5); }) == error_code::out_of_range);
  CHECK(error_of([&] { v.erase(1); }) == error_code::out_of_range);
  CHECK(error_of([&] { v.erase(1, 0); }) == error_code::out_of_range);
  CHECK(error_of([&] { v.erase(0, 2); }) == error_code::out_of_range);
  // Inside a transaction the error does not poison it.
  p.transaction([&] {
    CHECK(error_of([&] { v.erase(3); }) == error_code::out_of_range);
    CHECK(error_of([&] { (void)v.at(3); }) == error_code::out_of_range);
    v.push_back(2);
  });
  CHECK(contents(v) == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("a vector copied to volatile memory cannot be changed", "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "v.pool", options());
  ferrite::vector<std::int64_t>& v = p.root<holder>()->numbers;
  v.push_back(4);
  ferrite::vector<std::int64_t> copy = v;  // a read-only view
  CHECK(copy.size() == 1);
  CHECK(copy[0] == 4);
  CHECK(error_of([&] { copy.push_back(5); }) == error_code::invalid_argument);
  CHECK(error_of([&] { copy.clear(); }) == error_code::invalid_argument);
  CHECK(v.size() == 1);
}

TEST_CASE("insert, erase, set, resize, reserve, clear, shrink_to_fit, assign", "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "v.pool", options(8 << 20, true));
  ferrite::vector<std::int64_t>& v = p.root<holder>()->numbers;
  v.assign({1, 2, 3, 4, 5});
  CHECK(contents(v) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(*v.insert(0, 0) == 0);
  v.insert(6, 6);
  v.insert(3, 99);
  CHECK(contents(v) == std::vector<std::int64_t>{0, 1, 2, 99, 3, 4, 5, 6});
  v.insert(0, v[3]);  // an element of the vector itself
  CHECK(contents(v) == std::vector<std::int64_t>{99, 0, 1, 2, 99, 3, 4, 5, 6});
  v.erase(4);
  v.erase(0);
  CHECK(contents(v) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6});
  v.erase(1, 3);
  CHECK(contents(v) == std::vector<std::int64_t>{0, 3, 4, 5, 6});
  v.erase(2, 2);
  v.set(4, -6);
  v.pop_back();
  CHECK(contents(v) == std::vector<std::int64_t>{0, 3, 4, 5});
  v.resize(7);
  CHECK(contents(v) == std::vector<std::int64_t>{0, 3, 4, 5, 0, 0, 0});
  p.transaction([&] {
    tx_snapshot(&v[5]);  // snapshot-then-write through a reference
    v[5] = 55;
  });
  v.resize(2);
  v.resize(4);  // the old values do not come back
  CHECK(contents(v) == std::vector<std::int64_t>{0, 3, 0, 0});
  v.reserve(1000);
  CHECK(v.capacity() >= 1000);
  CHECK(v.size() == 4);
  v.shrink_to_fit();
  CHECK(v.capacity() == 4);
  const std::vector<std::int64_t> src{9, 8, 7};
  v.assign(src.begin(), src.end());
  CHECK(contents(v) == src);
  const std::size_t cap = v.capacity();
  v.clear();
  CHECK(v.empty());
  CHECK(v.capacity() == cap);
  const auto before = p.heap_statistics().objects;
  v.shrink_to_fit();
  CHECK(v.capacity() == 0);
  CHECK(v.data() == nullptr);
  CHECK(p.heap_statistics().objects == before - 1);
  CHECK(p.check().empty());
}

TEST_CASE("random operations match std::vector (checked transactions)", "[vector]") {
  pool p = pool::open("random", sim_options(std::make_shared<sim_device>(), 16 << 20, true));
  ferrite::vector<std::int64_t>& v = p.root<holder>()->numbers;
  const auto empty = p.heap_statistics().objects;
  std::vector<std::int64_t> model;
  std::mt19937_64 rng(20240611);
  auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
  auto step = [&](std::vector<std::int64_t>& m) {
    const auto value = static_cast<std::int64_t>(rng() % 1000000);
    switch (rng() % 12) {
      case 0:
      case 1:
      case 2:
        v.push_back(value);
        m.push_back(value);
        break;
      case 3:
        if (!m.empty()) {
          v.pop_back();
          m.pop_back();
        }
        break;
      case 4: {
        const auto pos = pick(m.size() + 1);
        v.insert(pos, value);
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(pos), value);
        break;
      }
      case 5:
        if (!m.empty()) {
          const auto pos = pick(m.size());
          v.erase(pos);
          m.erase(m.begin() + static_cast<std::ptrdiff_t>(pos));
        }
        break;
      case 6: {
        const auto a = pick(m.size() + 1), b = pick(m.size() + 1);
        v.erase(std::min(a, b), std::max(a, b));
        m.erase(m.begin() + static_cast<std::ptrdiff_t>(std::min(a, b)),
                m.begin() + static_cast<std::ptrdiff_t>(std::max(a, b)));
        break;
      }
      case 7:
        if (!m.empty()) {
          const auto i = pick(m.size());
          v.set(i, value);
          m[i] = value;
        }
        break;
      case 8: {
        const auto n = pick(m.size() + 40);
        v.resize(n);
        m.resize(n);
        break;
      }
      case 9:
        v.reserve(pick(300));
        break;
      case 10:
        if (rng() % 8 == 0) {
          v.clear();
          m.clear();
        } else {
          v.shrink_to_fit();
        }
        break;
      case 11:
        v.emplace_back();
        m.push_back(0);
        break;
    }
  };
  for (int round = 0; round < 600; ++round) {
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      step(model);  // atomic on its own
    } else if (kind == 1 || kind == 2) {
      p.transaction([&] {
        for (int k = 0; k < 5; ++k) step(model);
      });
    } else {
      std::vector<std::int64_t> scratch = model;
      const auto objects = p.heap_statistics().objects;
      CHECK_THROWS_AS(p.transaction([&] {
        for (int k = 0; k < 5; ++k) step(scratch);
        throw std::runtime_error("abandon");
      }),
                      std::runtime_error);
      REQUIRE(p.heap_statistics().objects == objects);
    }
    REQUIRE(v.size() == model.size());
    REQUIRE(v.capacity() >= v.size());
    REQUIRE(contents(v) == model);
    REQUIRE(p.heap_statistics().objects == empty + (v.capacity() ? 1 : 0));
  }
  CHECK(p.check().empty());
}

TEST_CASE("a vector keeps its elements across reopen", "[vector]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "p.pool", options());
    pptr<holder> h = p.root<holder>();
    p.transaction([&] {
      for (std::int64_t i = 0; i < 490; ++i) h->numbers.push_back(i * i);
    });
    for (std::int64_t i = 490; i < 500; ++i) h->numbers.push_back(i * i);
    h->numbers.erase(0, 100);
    h->points.push_back(point{1, 2});
    h->points.push_back(point{3, 4});
  }
  pool p = pool::open(dir / "p.pool", options());
  pptr<holder> h = p.root<holder>();
  REQUIRE(h->numbers.size() == 400);
  for (std::int64_t i = 0; i < 400; ++i) REQUIRE(h->numbers[i] == (i + 100) * (i + 100));
  REQUIRE(h->points.size() == 2);
  CHECK(h->points[1].x == 3);
  CHECK(h->points[1].y == 4);
  h->numbers.push_back(-1);
  CHECK(h->numbers.back() == -1);
}

TEST_CASE("an aborted transaction restores the vector and frees its allocations", "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "a.pool", options(8 << 20, true));
  pptr<holder> h = p.root<holder>();
  for (std::int64_t i = 0; i < 10; ++i) h->numbers.push_back(i);
  h->names.push_back("kept");
  const auto objects = p.heap_statistics().objects;
  const std::size_t cap = h->numbers.capacity();
  const auto* data = h->numbers.data();
  CHECK_THROWS(p.transaction([&] {
    for (std::int64_t i = 0; i < 1000; ++i) h->numbers.push_back(-i);  // grows several times
    h->numbers.erase(0, 3);
    h->numbers.set(0, 42);
    h->names.push_back("a string with its own buffer, long enough");
    h->names.set(0, "replaced");
    h->names.erase(0);
    throw std::runtime_error("abandon");
  }));
  CHECK(contents(h->numbers) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(h->numbers.capacity() == cap);
  CHECK(h->numbers.data() == data);
  CHECK(texts(h->names) == std::vector<std::string>{"kept"});
  CHECK(p.heap_statistics().objects == objects);
  CHECK(p.check().empty());
}

TEST_CASE("a vector of strings frees the text of erased elements", "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", options(8 << 20, true));
  ferrite::vector<ferrite::string>& v = p.root<holder>()->names;
  const auto empty = p.heap_statistics().objects;
  v.push_back("alpha");
  v.push_back(std::string_view("beta"));
  v.push_back(std::string("gamma"));
  v.insert(1, "inserted");
  CHECK(texts(v) == std::vector<std::string>{"alpha", "inserted", "beta", "gamma"});
  CHECK(v[0] == "alpha");
  CHECK(p.heap_statistics().objects == empty + 1 + 4);  // the buffer, four texts
  v.erase(1);
  CHECK(p.heap_statistics().objects == empty + 1 + 3);
  v.set(0, "ALPHA, longer than before");
  CHECK(p.heap_statistics().objects == empty + 1 + 3);
  v.pop_back();
  CHECK(p.heap_statistics().objects == empty + 1 + 2);
  v.resize(4);  // two empty strings, no text buffers
  CHECK(texts(v) == std::vector<std::string>{"ALPHA, longer than before", "beta", "", ""});
  CHECK(p.heap_statistics().objects == empty + 1 + 2);
  v[3] = "filled in place";  // a string element assigns itself atomically
  CHECK(p.heap_statistics().objects == empty + 1 + 3);
  v.push_back(v[0]);  // text of another element
  CHECK(v.back() == "ALPHA, longer than before");
  v.clear();
  CHECK(p.heap_statistics().objects == empty + 1);
  const std::vector<std::string> words{"x", "y", "z"};
  v.assign(words.begin(), words.end());
  CHECK(texts(v) == words);
  p.transaction([&] { v.resize(1); });
  CHECK(texts(v) == std::vector<std::string>{"x"});
  CHECK(p.heap_statistics().objects == empty + 1 + 1);
  CHECK(p.check().empty());
}

TEST_CASE("random string operations match std::vector<std::string>", "[vector]") {
  pool p = pool::open("strings", sim_options(std::make_shared<sim_device>(), 8 << 20, true));
  ferrite::vector<ferrite::string>& v = p.root<holder>()->names;
  std::vector<std::string> model;
  std::mt19937_64 rng(777);
  const auto empty = p.heap_statistics().objects;
  for (int op = 0; op < 1500; ++op) {
    const std::string text(rng() % 40, static_cast<char>('a' + rng() % 26));
    const auto pos = model.empty() ? 0 : rng() % model.size();
    switch (rng() % 6) {
      case 0:
      case 1:
        v.push_back(text);
        model.push_back(text);
        break;
      case 2:
        v.insert(pos, text);
        model.insert(model.begin() + static_cast<std::ptrdiff_t>(pos), text);
        break;
      case 3:
        if (!model.empty()) {
          v.erase(pos);
          model.erase(model.begin() + static_cast<std::ptrdiff_t>(pos));
        }
        break;
      case 4:
        if (!model.empty()) {
          v.set(pos, text);
          model[pos] = text;
        }
        break;
      case 5: {
        const auto n = rng() % (model.size() + 3);
        v.resize(n);
        model.resize(n);
        break;
      }
    }
    REQUIRE(texts(v) == model);
  }
  // One object per non-empty string, plus the vector's buffer.
  std::uint64_t with_text = 0;
  for (const auto& s : model) with_text += s.empty() ? 0 : 1;
  std::uint64_t buffers = 0;
  for (const ferrite::string& s : v) buffers += s.capacity() ? 1 : 0;
  CHECK(p.heap_statistics().objects == empty + (v.capacity() ? 1 : 0) + buffers);
  CHECK(buffers >= with_text);
  v.clear();
  v.shrink_to_fit();
  CHECK(p.heap_statistics().objects == empty);
}

TEST_CASE("elements that own storage cannot be copied in", "[vector]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "o.pool", options());
  pptr<holder> h = p.root<holder>();
  labelled l{};
  CHECK(error_of([&] { h->labels.push_back(l); }) == error_code::invalid_argument);
  ferrite::vector<std::int64_t> empty_vec{};
  CHECK(error_of([&] { h->nested.push_back(empty_vec); }) == error_code::invalid_argument);
  CHECK(error_of([&] { h->labels.assign({l, l}); }) == error_code::invalid_argument);
  CHECK(h->labels.empty());
  CHECK(h->nested.empty());
  const auto empty = p.heap_statistics().objects;
  // Built in place instead.
  labelled& a = h->labels.emplace_back();
  a.label = "first label";
  h->labels.resize(3);
  h->labels[2].label = "third";
  p.transaction([&] {
    tx_snapshot(&h->labels[1].n);
    h->labels[1].n = 7;
  });
  CHECK(h->labels[0].label == "first label");
  CHECK(h->labels[1].n == 7);
  CHECK(p.heap_statistics().objects == empty + 3);
  h->labels.erase(0);  // frees the label's text
  CHECK(h->labels[1].label == "third");
  CHECK(p.heap_statistics().objects == empty + 2);
  h->labels.clear();
  CHECK(p.heap_statistics().objects == empty + 1);
}

TEST_CASE("a vector of vectors is built in place and released recursively", "[vector]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "n.pool", options(8 << 20, true));
    pptr<holder> h = p.root<holder>();
    for (int i = 0; i < 20; ++i) {
      p.transaction([&] {
        ferrite::vector<std::int64_t>& row = h->nested.emplace_back();
        for (int j = 0; j <= i; ++j) row.push_back(i * 100 + j);
      });
    }
    h->nested.erase(0, 5);
    CHECK(h->nested.size() == 15);
  }
  pool p = pool::open(dir / "n.pool", options());
  pptr<holder> h = p.root<holder>();
  REQUIRE(h->nested.size() == 15);
  CHECK(h->nested[0].size() == 6);
  CHECK(h->nested[14].back() == 1919);
  const auto before = p.heap_statistics().objects;
  CHECK(before >= 16);
  pptr<holder> other = p.make<holder>();
  other->nested.emplace_back().push_back(1);
  other->numbers.push_back(2);
  other->names.push_back("three");
  CHECK(p.heap_statistics().objects == before + 6);
  p.destroy(other);  // the containers inside release their storage
  CHECK(p.heap_statistics().objects == before);
  CHECK(p.check().empty());
}

TEST_CASE("a pointer element into another pool is rejected", "[vector]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", options());
  pool b = pool::open(dir / "b.pool", options());
  pptr<node> in_a = a.make<node>(std::int64_t{1}, pptr<node>());
  pptr<node> in_b = b.make<node>(std::int64_t{2}, pptr<node>());
  pptr<holder> h = b.root<holder>();
  h->links.push_back(in_b);
  h->links.push_back(nullptr);
  const auto objects = b.heap_statistics().objects;
  CHECK(error_of([&] { h->links.push_back(in_a); }) == error_code::invalid_argument);
  CHECK(error_of([&] { h->links.insert(0, in_a); }) == error_code::invalid_argument);
  CHECK(error_of([&] { h->links.set(1, in_a); }) == error_code::invalid_argument);
  b.transaction([&] {  // caught inside a transaction: the vector is unchanged
    CHECK(error_of([&] { h->links.insert(1, in_a); }) == error_code::invalid_argument);
    CHECK(error_of([&] { h->links.push_back(in_a); }) == error_code::invalid_argument);
  });
  REQUIRE(h->links.size() == 2);
  CHECK(h->links[0] == in_b);
  CHECK(h->links[1] == nullptr);
  CHECK(h->links[0]->value == 2);
  CHECK(b.heap_statistics().objects == objects);
}

TEST_CASE("a large vector built in a few transactions survives reopen", "[vector]") {
  test::temp_dir dir;
  constexpr std::int64_t n = 200000;
  {
    pool p = pool::open(dir / "big.pool", options(64 << 20));
    pptr<holder> h = p.root<holder>();
    for (int t = 0; t < 4; ++t) {
      p.transaction([&] {
        for (std::int64_t i = t * n / 4; i < (t + 1) * n / 4; ++i) h->numbers.push_back(i);
      });
    }
    CHECK(h->numbers.size() == static_cast<std::size_t>(n));
  }
  pool p = pool::open(dir / "big.pool", options(64 << 20));
  pptr<holder> h = p.root<holder>();
  REQUIRE(h->numbers.size() == static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) REQUIRE(h->numbers[i] == i);
  CHECK(p.heap_statistics().extents == 1);
  CHECK(p.check().empty());
}

TEST_CASE("operations on a large vector stay within a small log", "[vector]") {
  test::temp_dir dir;
  pool_options o = options(64 << 20);
  o.log_size = 1 << 20;              // a record may use about 512 KiB
  constexpr std::size_t n = 150000;  // 1.2 MB of elements
  std::vector<std::int64_t> model;
  {
    pool p = pool::open(dir / "log.pool", o);
    pptr<holder> h = p.root<holder>();
    ferrite::vector<std::int64_t>& v = h->numbers;
    // Pushed in one transaction: the growing buffers are new extents.
    p.transaction([&] {
      for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<std::int64_t>(i));
    });
    model.assign(v.begin(), v.end());
    auto logged = [&](auto&& op) {
      const auto before = p.stats().log_bytes;
      op();
      return p.stats().log_bytes - before;
    };
    CHECK(logged([&] { v.insert(0, -1); }) < 300 * 1024);  // moves 1.2 MB
    model.insert(model.begin(), -1);
    CHECK(logged([&] { v.erase(1); }) < 300 * 1024);
    model.erase(model.begin() + 1);
    CHECK(logged([&] { v.erase(10, 20); }) < 300 * 1024);
    model.erase(model.begin() + 10, model.begin() + 20);
    CHECK(logged([&] { v.push_back(5); }) < 4096);
    model.push_back(5);
    CHECK(logged([&] { v.set(1000, 6); }) < 4096);
    model[1000] = 6;
    v.resize(60000);
    model.resize(60000);
    CHECK(logged([&] { v.resize(n); }) < 300 * 1024);  // zeroes 720 KB
    model.resize(n);
    CHECK(contents(v) == model);
    CHECK(p.check().empty());
  }
  pool p = pool::open(dir / "log.pool", o);
  CHECK(contents(p.root<holder>()->numbers) == model);
}

TEST_CASE("an erase near the front of an extent fits the smallest log", "[vector]") {
  // Found by ferrite-crash: with a 256 KiB log (records up to ~128 KiB),
  // shifting 248 KB in place could not commit; the move limit follows the
  // pool's log.
  test::temp_dir dir;
  pool_options o = options(16 << 20);  // room for a run of every size class the growth uses
  o.log_size = 256 << 10;
  pool p = pool::open(dir / "small.pool", o);
  ferrite::vector<std::int64_t>& v = p.root<holder>()->numbers;
  std::vector<std::int64_t> model;
  for (int chunk = 0; chunk < 33; ++chunk) {
    p.transaction([&] {
      for (int i = 0; i < 1000; ++i) {
        v.push_back(chunk * 1000 + i);
        model.push_back(chunk * 1000 + i);
      }
    });
  }
  v.erase(2000);
  model.erase(model.begin() + 2000);
  v.insert(100, -5);
  model.insert(model.begin() + 100, -5);
  CHECK(contents(v) == model);
  CHECK(p.check().empty());
}

TEST_CASE("large buffers (extents) are snapshotted correctly (checked transactions)", "[vector]") {
  pool p = pool::open("extents", sim_options(std::make_shared<sim_device>(), 16 << 20, true));
  ferrite::vector<std::int64_t>& v = p.root<holder>()->numbers;
  std::vector<std::int64_t> model;
  p.transaction([&] {  // grows into new extents, whose bytes need no snapshot
    for (std::int64_t i = 0; i < 70000; ++i) v.push_back(i);
  });
  model.assign(v.begin(), v.end());
  REQUIRE(model.size() == 70000);
  v.insert(0, -1);  // rebuilds the buffer
  model.insert(model.begin(), -1);
  v.insert(69000, -2);  // moves a few elements in place
  model.insert(model.begin() + 69000, -2);
  v.erase(3);
  model.erase(model.begin() + 3);
  v.erase(100, 200);
  model.erase(model.begin() + 100, model.begin() + 200);
  v.set(60000, 7);
  model[60000] = 7;
  p.transaction([&] {
    v.push_back(8);
    v.resize(30000);
    v.resize(69000);
    v.erase(0, 10);
    v.insert(5, 9);
  });
  model.push_back(8);
  model.resize(30000);
  model.resize(69000);
  model.erase(model.begin(), model.begin() + 10);
  model.insert(model.begin() + 5, 9);
  v.shrink_to_fit();
  CHECK(v.capacity() == v.size());
  CHECK(contents(v) == model);
  CHECK(p.check().empty());
}

TEST_CASE("a type may hold a vector of pointers to itself", "[vector]") {
  CHECK(detail::descriptor_of<tree>().fields[1].type().name ==
        "ferrite.vector<ferrite.ptr<vectest.Tree>>");
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "t.pool", options());
    pptr<tree> root = p.root<tree>();
    p.transaction([&] {
      for (std::int64_t i = 1; i <= 3; ++i) {
        pptr<tree> child = p.make<tree>();
        child->value = i;  // new memory: no snapshot needed
        root->children.push_back(child);
      }
    });
  }
  pool p = pool::open(dir / "t.pool", options());
  pptr<tree> root = p.root<tree>();
  REQUIRE(root->children.size() == 3);
  CHECK(root->children[2]->value == 3);
  CHECK(p.type_name(p.object_type(root->children.data())) ==
        "ferrite.vector<ferrite.ptr<vectest.Tree>>");
}

TEST_CASE("a crash keeps the committed vector operations", "[vector]") {
  auto dev = std::make_shared<sim_device>();
  std::vector<std::int64_t> model;
  {
    pool p = pool::open("crash", sim_options(dev, 8 << 20, false));
    pptr<holder> h = p.root<holder>();
    for (std::int64_t i = 0; i < 300; ++i) {
      h->numbers.push_back(i);
      model.push_back(i);
      if (i % 7 == 0) {
        h->numbers.erase(0);
        model.erase(model.begin());
      }
    }
    h->names.push_back("survives");
    // The pool is never closed: the durable image is what a power failure leaves.
    std::shared_ptr<sim_device> keep =
        sim_device::from_image(dev->durable(), dev->store_granularity());
    pool_options o = sim_options(keep, 8 << 20, false);
    o.mode = open_mode::open_existing;
    p.close();  // (closing first only releases the lock; the image was taken before)
    pool q = pool::open("crashed", o);
    pptr<holder> r = q.root<holder>();
    CHECK(contents(r->numbers) == model);
    REQUIRE(r->names.size() == 1);
    CHECK(r->names[0] == "survives");
    CHECK(q.check().empty());
  }
}

// The collector cannot follow an untyped pointer to a container made on its
// own (engine/pptr.h), so none converts to one.
static_assert(!std::is_convertible_v<pptr<vector<std::int64_t>>, pptr<void>>);
static_assert(!std::is_constructible_v<pptr<void>, pptr<vector<std::int64_t>>>);
static_assert(std::is_convertible_v<pptr<std::int64_t>, pptr<void>>);

TEST_CASE("a vector<pptr<void>> holds pointers to objects of any type", "[vector][pptr_void]") {
  CHECK(detail::descriptor_of<ferrite::vector<pptr<void>>>().name == "ferrite.vector<ferrite.ptr>");
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "u.pool", options());
    pptr<anything> a = p.root<anything>();
    p.transaction([&] {
      a->targets.push_back(p.make<node>(std::int64_t{7}, pptr<node>()));  // pptr<node> converts
      a->targets.push_back(p.make<point>(point{1, 2}));
      a->targets.push_back(nullptr);
    });
    a->targets.insert(0, a);  // the root itself
  }
  pool p = pool::open(dir / "u.pool", options());
  pptr<anything> a = p.root<anything>();
  const ferrite::vector<pptr<void>>& v = a->targets;
  REQUIRE(v.size() == 4);
  CHECK(v.at(0) == pptr<void>(a));
  CHECK(pptr<node>(v.at(1))->value == 7);  // explicit back to a typed pptr, unchecked
  CHECK(pptr<point>(v[2])->y == 2);
  CHECK(v.back() == nullptr);
  CHECK(p.type_name(p.object_type(v[1].get())) == "vectest.Node");
  CHECK(p.type_name(p.object_type(v[2].get())) == "vectest.Point");
  CHECK(std::count(v.begin(), v.end(), pptr<void>()) == 1);
  CHECK(p.check().empty());
}

TEST_CASE("an untyped pointer element into another pool is rejected", "[vector][pptr_void]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", options());
  pool b = pool::open(dir / "b.pool", options());
  pptr<void> in_a = a.make<node>(std::int64_t{1}, pptr<node>());
  pptr<anything> h = b.root<anything>();
  h->targets.push_back(h);
  CHECK(error_of([&] { h->targets.push_back(in_a); }) == error_code::invalid_argument);
  CHECK(error_of([&] { h->targets.insert(0, in_a); }) == error_code::invalid_argument);
  CHECK(error_of([&] { h->targets.set(0, in_a); }) == error_code::invalid_argument);
  REQUIRE(h->targets.size() == 1);
  CHECK(h->targets[0] == pptr<void>(h));
}

TEST_CASE(
    "gc keeps what only a vector<pptr<void>> reaches, across reopen, and frees it once "
    "erased",
    "[vector][pptr_void][gc]") {
  test::temp_dir dir;
  std::uint64_t live = 0;
  {
    pool p = pool::open(dir / "g.pool", options());
    pptr<anything> a = p.root<anything>();
    p.transaction([&] {
      // The second node is reachable only through the first one's typed
      // field: the collector must walk the first as the node its header says.
      pptr<node> second = p.make<node>(std::int64_t{2}, pptr<node>());
      a->targets.push_back(p.make<node>(std::int64_t{1}, second));
    });
    const gc_stats s = p.gc();
    CHECK(s.total.freed == 0);
    CHECK(s.by_type.at("vectest.Node").live == 2);
    live = s.total.live;
  }
  pool p = pool::open(dir / "g.pool", options());
  pptr<anything> a = p.root<anything>();
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(s.total.live == live);
  pptr<node> first(a->targets.at(0));
  CHECK(first->value == 1);
  CHECK(first->next->value == 2);
  a->targets.erase(0);
  s = p.gc();
  CHECK(s.total.freed == 2);
  CHECK(s.by_type.at("vectest.Node").freed == 2);
  CHECK(s.total.live == live - 2);
  CHECK(p.check().empty());
}

// --- A damaged vector handle gives error(corrupted), never a signal (DESIGN
// invariant 7). Each case damages one field of the handle in the working
// view, then reads and changes the vector through its public API.

namespace {

// The handle's fields (base/format/container_format.h), read and written
// in place.
detail::vector_rep rep_of(const ferrite::vector<std::int64_t>& v) {
  detail::vector_rep r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}
void damage(ferrite::vector<std::int64_t>& v, const detail::vector_rep& r) {
  std::memcpy(static_cast<void*>(&v), &r, sizeof r);
}

// A pool whose root holds numbers 0..9.
pptr<holder> ten_numbers(pool& p) {
  pptr<holder> h = p.root<holder>();
  p.transaction([&] {
    for (std::int64_t i = 0; i < 10; ++i) h->numbers.push_back(i);
  });
  return h;
}

std::int64_t sum(const ferrite::vector<std::int64_t>& v) {
  std::int64_t s = 0;
  for (std::int64_t x : v) s += x;
  return s;
}

}  // namespace

TEST_CASE("a vector whose size exceeds its capacity is corrupted", "[vector][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "size.pool", options());
  pptr<holder> h = ten_numbers(p);
  detail::vector_rep r = rep_of(h->numbers);
  REQUIRE(sum(h->numbers) == 45);
  r.size = r.capacity + 1000000;
  damage(h->numbers, r);
  CHECK(error_of([&] { sum(h->numbers); }) == error_code::corrupted);
  CHECK(error_of([&] { (void)h->numbers.at(5); }) == error_code::corrupted);
  CHECK(error_of([&] { h->numbers.push_back(1); }) == error_code::corrupted);
  CHECK(error_of([&] { h->numbers.erase(0); }) == error_code::corrupted);
}

TEST_CASE("a vector whose buffer offset lies past the heap is corrupted", "[vector][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "data.pool", options());
  pptr<holder> h = ten_numbers(p);
  detail::vector_rep r = rep_of(h->numbers);
  r.data = (r.data & ~((std::uint64_t{1} << 48) - 1)) | (p.heap_offset() + p.heap_size() + 64);
  damage(h->numbers, r);
  CHECK(error_of([&] { sum(h->numbers); }) == error_code::corrupted);
  CHECK(error_of([&] { h->numbers.set(0, 7); }) == error_code::corrupted);
  CHECK(error_of([&] { h->numbers.push_back(1); }) == error_code::corrupted);
}

TEST_CASE("a vector whose capacity runs its buffer past the heap end is corrupted",
          "[vector][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "cap.pool", options());
  pptr<holder> h = ten_numbers(p);
  detail::vector_rep r = rep_of(h->numbers);
  r.capacity = p.heap_size() / sizeof(std::int64_t);  // the buffer starts inside the heap
  r.size = r.capacity;
  damage(h->numbers, r);
  CHECK(error_of([&] { sum(h->numbers); }) == error_code::corrupted);
  r.capacity = r.size = ~std::uint64_t{0} / 4;  // bytes = capacity * 8 overflows
  damage(h->numbers, r);
  CHECK(error_of([&] { sum(h->numbers); }) == error_code::corrupted);
  CHECK(error_of([&] { h->numbers.resize(3); }) == error_code::corrupted);
}

TEST_CASE("a vector with a capacity but no buffer is corrupted", "[vector][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "null.pool", options());
  pptr<holder> h = ten_numbers(p);
  detail::vector_rep r = rep_of(h->numbers);
  r.data = 0;
  damage(h->numbers, r);
  CHECK(error_of([&] { sum(h->numbers); }) == error_code::corrupted);
  CHECK(error_of([&] { (void)h->numbers.front(); }) == error_code::corrupted);
  CHECK(error_of([&] { h->numbers.pop_back(); }) == error_code::corrupted);
}
