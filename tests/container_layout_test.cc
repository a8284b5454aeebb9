// Tests of the container layout decoder (base/detail/container_layout.h):
// the layouts the real containers write, decoded; then one case per kind
// of damage it detects, each expecting layout_damage (never a crash), and
// random damage that must give layout_damage or a clean walk.
//
// The decoder reads a copy of the pool's bytes (damage is written to the
// copy); allocations are looked up in the pool itself.
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "ferrite/base/detail/container_layout.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/pool.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/map.h"
#include "ferrite/types/set.h"
#include "ferrite/types/string.h"
#include "ferrite/types/vector.h"
#include "tests/test_util.h"

using namespace ferrite;
using detail::element_shape;
using detail::layout_damage;
using ferrite::test::temp_dir;

namespace layouttest {

struct shelf {
  ferrite::string title;
  ferrite::vector<std::int64_t> numbers;
  ferrite::hash_map<std::int64_t, std::int64_t> squares;
  ferrite::map<std::int64_t, std::int64_t> ordered;
  ferrite::set<std::int32_t> marks;
};
FERRITE_TYPE(shelf, "layouttest.Shelf", title, numbers, squares, ordered, marks)

}  // namespace layouttest

using layouttest::shelf;

namespace {

constexpr element_shape i64{8, 8};
constexpr element_shape i32{4, 4};
const std::string long_title = "a title long enough to need its own buffer in the heap";

// A copy of the pool image for the decoder, objects found by the pool.
class copy_image : public detail::layout_image {
 public:
  copy_image(const pool& p, std::vector<std::byte>& bytes)
      : layout_image(bytes.data(), p.heap_offset(), p.heap_offset() + p.heap_size(),
                     ferrite::detail::impl_of(p).header.pool_tag),
        p_(p) {}

 protected:
  bool find(std::uint64_t offset, std::uint64_t, detail::layout_part, detail::layout_object& out,
            std::string& why) override {
    try {
      out = {offset, p_.object_size(p_.base() + offset), p_.object_type(p_.base() + offset)};
    } catch (const error& e) {
      why = e.what();
      return false;
    }
    return true;
  }

 private:
  const pool& p_;
};

struct fixture {
  temp_dir dir;
  pool p;
  pptr<shelf> s;
  std::vector<std::byte> bytes;
  std::uint64_t title = 0, numbers = 0, squares = 0, ordered = 0, marks = 0;

  fixture() : p(pool::open(dir / "l.pool", options())) {
    s = p.root<shelf>();
    p.transaction([&] {
      s->title = long_title;
      for (std::int64_t i = 0; i < 100; ++i) s->numbers.push_back(i);
      for (std::int64_t i = 0; i < 200; ++i) s->squares.insert(i, i * i);
      for (std::int64_t i = 299; i >= 0; --i) s->ordered.insert(i, -i);
      for (std::int32_t k : {5, -3, 0}) s->marks.insert(k);
    });
    title = offset_of(&s->title);
    numbers = offset_of(&s->numbers);
    squares = offset_of(&s->squares);
    ordered = offset_of(&s->ordered);
    marks = offset_of(&s->marks);
    const std::uint64_t end = p.heap_offset() + p.heap_size();
    bytes.assign(p.base(), p.base() + end);
  }
  static pool_options options() {
    pool_options o;
    o.size = 16 << 20;
    return o;
  }
  std::uint64_t offset_of(const void* q) const {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(q) - p.base());
  }
  template <class T>
  T get(std::uint64_t off) const {
    T v;
    std::memcpy(&v, bytes.data() + off, sizeof v);
    return v;
  }
  template <class T>
  void put(std::uint64_t off, T v) {
    std::memcpy(bytes.data() + off, &v, sizeof v);
  }
  std::uint16_t tag() const { return ferrite::detail::impl_of(p).header.pool_tag; }
};

int compare_i64(const copy_image& img, std::uint64_t a, std::uint64_t b) {
  const auto x = img.load<std::int64_t>(a), y = img.load<std::int64_t>(b);
  return x < y ? -1 : x > y;
}

std::map<std::int64_t, std::int64_t> hash_entries(copy_image& img, std::uint64_t at) {
  std::map<std::int64_t, std::int64_t> out;
  detail::walk_hash_map(img, at, i64, i64, [&](const detail::hash_map_node& n) {
    out[img.load<std::int64_t>(n.key)] = img.load<std::int64_t>(n.value);
    return true;
  });
  return out;
}

// Keys of the tree in walk order; inner nodes' offsets into `inner`.
std::vector<std::int64_t> tree_keys(copy_image& img, std::uint64_t at,
                                    std::vector<std::uint64_t>* inner = nullptr,
                                    std::vector<std::uint64_t>* leaves = nullptr) {
  std::vector<std::int64_t> keys;
  detail::walk_btree(
      img, at, i64, i64,
      [&](const detail::btree_node_view& n) {
        if (n.level > 0 && inner) inner->push_back(n.node);
        if (n.level == 0 && leaves) leaves->push_back(n.node);
        for (std::uint64_t i = 0; n.level == 0 && i < n.count; ++i) {
          keys.push_back(img.load<std::int64_t>(n.keys + i * 8));
          CHECK(img.load<std::int64_t>(n.values + i * 8) == -keys.back());
        }
        return true;
      },
      [&](std::uint64_t a, std::uint64_t b) { return compare_i64(img, a, b); });
  return keys;
}

// Runs fn, which must throw layout_damage whose message contains `text`.
template <class Fn>
layout_damage damage_of(Fn&& fn, const std::string& text) {
  try {
    fn();
  } catch (const layout_damage& d) {
    INFO("message: " << d.what());
    CHECK(std::string(d.what()).find(text) != std::string::npos);
    return d;
  }
  FAIL("expected layout_damage containing '" << text << "'");
  return layout_damage(0, "");
}

}  // namespace

TEST_CASE("the decoder reads the layouts the real containers write", "[layout]") {
  fixture f;
  copy_image img(f.p, f.bytes);

  const detail::string_storage t = detail::decode_string(img, f.title);
  REQUIRE(t.buffer.offset != 0);
  CHECK(std::string(reinterpret_cast<const char*>(img.base() + t.buffer.offset), t.size) ==
        long_title);
  CHECK(t.buffer.size >= t.capacity + 1);

  const detail::vector_storage v = detail::decode_vector(img, f.numbers, 8);
  REQUIRE(v.size == 100);
  for (std::uint64_t i = 0; i < v.size; ++i) {
    CHECK(img.load<std::int64_t>(v.buffer.offset + i * 8) == static_cast<std::int64_t>(i));
  }

  const auto squares = hash_entries(img, f.squares);
  REQUIRE(squares.size() == 200);
  for (const auto& [k, sq] : squares) CHECK(sq == k * k);
  CHECK(img.load<detail::hash_map_rep>(f.squares).level > 0);  // grown: several segments

  std::vector<std::uint64_t> inner;
  const std::vector<std::int64_t> keys = tree_keys(img, f.ordered, &inner);
  REQUIRE(keys.size() == 300);
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(keys[i] == static_cast<std::int64_t>(i));
  CHECK(!inner.empty());  // a multi-level tree

  std::vector<std::int32_t> marks;
  CHECK(detail::walk_btree(img, f.marks, i32, {}, [&](const detail::btree_node_view& n) {
          for (std::uint64_t i = 0; n.level == 0 && i < n.count; ++i) {
            marks.push_back(img.load<std::int32_t>(n.keys + i * 4));
          }
          return true;
        }) == 3);
  CHECK(marks == std::vector<std::int32_t>{-3, 0, 5});
}

TEST_CASE("a visitor that returns false stops the walk", "[layout]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  int calls = 0;
  CHECK(detail::walk_hash_map(img, f.squares, i64, i64,
                              [&](const detail::hash_map_node&) { return ++calls < 5; }) == 5);
  CHECK(calls == 5);
  // A stopped walk does not check the size: damage to it goes unseen.
  f.put<std::uint64_t>(f.ordered, 7);
  int nodes = 0;
  CHECK_NOTHROW(detail::walk_btree(img, f.ordered, i64, i64, [&](const detail::btree_node_view& n) {
    ++nodes;
    return n.level > 0;  // stops at the first leaf
  }));
  CHECK(nodes == 2);
}

TEST_CASE("layout damage: a pointer with another pool's tag", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  const auto data = f.get<std::uint64_t>(f.numbers + 16);
  f.put<std::uint64_t>(f.numbers + 16, (data & ((1ull << 48) - 1)) | std::uint64_t(f.tag() + 1)
                                                                         << 48);
  const layout_damage d =
      damage_of([&] { detail::decode_vector(img, f.numbers, 8); }, "not a pointer into this pool");
  CHECK(d.at() == f.numbers + 16);
}

TEST_CASE("layout damage: a pointer outside the heap", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  f.put<std::uint64_t>(f.title + 16, std::uint64_t{f.tag()} << 48 | (1ull << 47));
  damage_of([&] { detail::decode_string(img, f.title); }, "outside the heap");
  f.put<std::uint64_t>(f.title + 16, std::uint64_t{f.tag()} << 48 | 8);  // the pool header
  damage_of([&] { detail::decode_string(img, f.title); }, "outside the heap");
}

TEST_CASE("layout damage: a pointer inside an object or into heap metadata", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  const auto data = f.get<std::uint64_t>(f.numbers + 16);
  f.put<std::uint64_t>(f.numbers + 16, data + 16);
  damage_of([&] { detail::decode_vector(img, f.numbers, 8); }, "a vector's buffer at pool offset");
  f.put<std::uint64_t>(f.numbers + 16, std::uint64_t{f.tag()} << 48 | (f.p.heap_offset() + 8));
  damage_of([&] { detail::decode_vector(img, f.numbers, 8); }, "a vector's buffer at pool offset");
}

TEST_CASE("layout damage: a vector larger than its capacity or its storage", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  const auto rep = f.get<detail::vector_rep>(f.numbers);
  f.put<std::uint64_t>(f.numbers, rep.capacity + 1);
  damage_of([&] { detail::decode_vector(img, f.numbers, 8); }, "does not fit its storage");
  f.put<std::uint64_t>(f.numbers, 1ull << 40);
  f.put<std::uint64_t>(f.numbers + 8, 1ull << 40);
  damage_of([&] { detail::decode_vector(img, f.numbers, 8); }, "does not fit the heap");
  f.put<std::uint64_t>(f.numbers, rep.size);
  f.put<std::uint64_t>(f.numbers + 8, rep.capacity * 4);
  damage_of([&] { detail::decode_vector(img, f.numbers, 8); }, "needed");
}

TEST_CASE("layout damage: a string whose capacity and buffer disagree", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  const auto rep = f.get<detail::string_rep>(f.title);
  f.put<std::uint64_t>(f.title + 8, 0);
  damage_of([&] { detail::decode_string(img, f.title); }, "has a buffer");
  f.put<std::uint64_t>(f.title + 8, rep.capacity + 64);
  damage_of([&] { detail::decode_string(img, f.title); }, "needed");
  f.put<std::uint64_t>(f.title + 8, rep.capacity);
  f.put<std::uint64_t>(f.title, rep.capacity + 1);
  damage_of([&] { detail::decode_string(img, f.title); }, "does not fit its storage");
}

TEST_CASE("layout damage: a hash_map level or split out of range", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  f.put<std::uint32_t>(f.squares + 16, detail::hash_max_segments);
  damage_of([&] { hash_entries(img, f.squares); }, "bad level");
}

TEST_CASE("layout damage: a hash_map node in the wrong bucket", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  std::uint64_t node = 0;
  detail::walk_hash_map(img, f.squares, i64, i64, [&](const detail::hash_map_node& n) {
    node = n.node;
    return false;
  });
  f.put<std::uint64_t>(node + 8, f.get<std::uint64_t>(node + 8) + 1);
  damage_of([&] { hash_entries(img, f.squares); }, "its hash selects bucket");
}

TEST_CASE("layout damage: a hash_map chain that loops", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  std::uint64_t node = 0;
  detail::walk_hash_map(img, f.squares, i64, i64, [&](const detail::hash_map_node& n) {
    node = n.node;
    return false;
  });
  f.put<std::uint64_t>(node, std::uint64_t{f.tag()} << 48 | node);  // next: itself
  damage_of([&] { hash_entries(img, f.squares); }, "twice");
}

TEST_CASE("layout damage: a hash_map bucket without its segment", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  const auto dir = f.get<std::uint64_t>(f.squares + 8) & ((1ull << 48) - 1);
  f.put<std::uint64_t>(dir + 8, 0);  // segment 1
  damage_of([&] { hash_entries(img, f.squares); }, "has no segment");
}

TEST_CASE("layout damage: a hash_map size that disagrees with its nodes", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  f.put<std::uint64_t>(f.squares, 1ull << 40);
  const layout_damage d = damage_of([&] { hash_entries(img, f.squares); }, "its buckets hold 200");
  CHECK(d.count_only());
  f.put<std::uint64_t>(f.squares, 150);
  CHECK(!damage_of([&] { hash_entries(img, f.squares); }, "more entries than its size 150")
             .count_only());
}

TEST_CASE("layout damage: a B+-tree node reached twice (a shared subtree)", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  std::vector<std::uint64_t> inner;
  tree_keys(img, f.ordered, &inner);
  REQUIRE(!inner.empty());
  const auto rep = f.get<detail::btree_rep>(f.ordered);
  // The root's second child: its first one again.
  const std::uint64_t root = rep.root & ((1ull << 48) - 1);
  const std::uint64_t children = (16 + rep.inner_capacity * 8ull + 7) / 8 * 8;
  f.put<std::uint64_t>(root + children + 8, f.get<std::uint64_t>(root + children));
  damage_of([&] { tree_keys(img, f.ordered); }, "twice");
}

TEST_CASE("layout damage: a B+-tree node cycle", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  // The root's first child: the root itself. One level down it is read as
  // a node of the level below; whichever check sees it first, it is damage.
  const auto rep = f.get<detail::btree_rep>(f.ordered);
  const std::uint64_t root = rep.root & ((1ull << 48) - 1);
  const std::uint64_t children = (16 + rep.inner_capacity * 8ull + 7) / 8 * 8;
  f.put<std::uint64_t>(root + children, rep.root);
  damage_of([&] { tree_keys(img, f.ordered); }, "a map/set node");
}

TEST_CASE("layout damage: a B+-tree whose height disagrees with its leaves", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  f.put<std::uint32_t>(f.ordered + 16, f.get<std::uint32_t>(f.ordered + 16) + 1);
  damage_of([&] { tree_keys(img, f.ordered); }, "leaf flag");
}

TEST_CASE("layout damage: B+-tree keys out of order", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  std::vector<std::uint64_t> leaves;
  tree_keys(img, f.ordered, nullptr, &leaves);
  const std::uint64_t keys = leaves.at(1) + 16;
  const auto a = f.get<std::int64_t>(keys), b = f.get<std::int64_t>(keys + 8);
  f.put(keys, b);
  f.put(keys + 8, a);
  damage_of([&] { tree_keys(img, f.ordered); }, "not in increasing order");
}

TEST_CASE("layout damage: a B+-tree leaf chain that skips a leaf", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  std::vector<std::uint64_t> leaves;
  tree_keys(img, f.ordered, nullptr, &leaves);
  REQUIRE(leaves.size() >= 3);
  f.put<std::uint64_t>(leaves[0] + 8, std::uint64_t{f.tag()} << 48 | leaves[2]);
  damage_of([&] { tree_keys(img, f.ordered); }, "leaf chain holds");
}

TEST_CASE("layout damage: a B+-tree size that disagrees with its leaves", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  f.put<std::uint64_t>(f.ordered, 301);
  CHECK(damage_of([&] { tree_keys(img, f.ordered); }, "its leaves hold 300").count_only());
  f.put<std::uint64_t>(f.ordered, 0);
  f.put<std::uint64_t>(f.ordered + 8, 0);  // no root, but a leaf chain
  damage_of([&] { tree_keys(img, f.ordered); }, "no root");
}

TEST_CASE("layout damage: an impossible element shape", "[layout][damage]") {
  fixture f;
  copy_image img(f.p, f.bytes);
  damage_of([&] { detail::decode_vector(img, f.numbers, 0); }, "alignment");
  damage_of([&] { detail::walk_hash_map(img, f.squares, {8, 3}, i64, nullptr); }, "alignment");
  damage_of([&] { detail::walk_btree(img, f.ordered, {0, 8}, i64, nullptr); }, "size 0");
}

TEST_CASE("random damage to handles and storage gives layout_damage or a walk",
          "[layout][damage]") {
  fixture f;
  std::vector<std::uint64_t> spots = {f.title, f.numbers, f.squares, f.ordered, f.marks};
  {
    copy_image img(f.p, f.bytes);
    detail::walk_hash_map(img, f.squares, i64, i64, [&](const detail::hash_map_node& n) {
      spots.push_back(n.node);
      return true;
    });
    std::vector<std::uint64_t> inner, leaves;
    tree_keys(img, f.ordered, &inner, &leaves);
    spots.insert(spots.end(), inner.begin(), inner.end());
    spots.insert(spots.end(), leaves.begin(), leaves.end());
  }
  const std::vector<std::byte> clean = f.bytes;
  std::mt19937_64 rng(7);
  int damaged = 0, rounds = 400;
  for (int r = 0; r < rounds; ++r) {
    f.bytes = clean;
    copy_image img(f.p, f.bytes);
    for (int k = 0; k < 1 + r % 4; ++k) {
      const std::uint64_t at = spots[rng() % spots.size()] + rng() % 48;
      if (rng() % 2) {
        f.put<std::uint8_t>(at, static_cast<std::uint8_t>(rng()));
      } else {
        f.put<std::uint64_t>(at, rng() % 3 ? rng() : clean[at] == std::byte{0} ? 1 : 0);
      }
    }
    try {
      detail::decode_string(img, f.title);
      detail::decode_vector(img, f.numbers, 8);
      hash_entries(img, f.squares);
      detail::walk_btree(
          img, f.ordered, i64, i64, [](const detail::btree_node_view&) { return true; },
          [&](std::uint64_t a, std::uint64_t b) { return compare_i64(img, a, b); });
      detail::walk_btree(img, f.marks, i32, {},
                         [](const detail::btree_node_view&) { return true; });
    } catch (const layout_damage& d) {
      ++damaged;
      CHECK(std::string(d.what()).size() > 10);
    }
  }
  CHECK(damaged > rounds / 4);
}
