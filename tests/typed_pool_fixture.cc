// typed_pool_fixture PATH [--chain N]: creates a pool whose root
// (test.Game) holds one of everything `ferrite dump` decodes, for
// tests/cli_test.sh. With --chain N, `moves` is instead a list of N nodes
// (no cycle), to test the depth limit.
//
//   root test.Game
//     name "ada" (char[16]), maximum 100, ratio 0.5, small -3, big u64 max,
//     last: two test.Point, stats: a nested test.Stats,
//     title: ferrite::string, moves: test.Node 1 -> 2 -> 3 -> back to 1,
//     scores: vector<i64> {10, 20, 30}, index: hash_map<string,i64>
//     {alpha: 1, beta: 2, gamma: 3}, ranks: map<i64,i64> {1..5 -> x*100}
//     (two leaves under an inner root), tags: set<i32> {7, 8, 9},
//     guard: a ferrite::pmutex and readers: a ferrite::pshared_mutex, held
//     (exclusive, shared) when the transaction commits: their words are
//     not zero in the file, and dump must not show them
//   plus one test.Node nobody points to (for --all).
//
// The containers are written here from the documented layouts
// (base/format/container_format.h) with stand-in handle types registered under
// the containers' own names, so the decoder is tested against the format
// itself, not against the container code.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>

#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/pool.h"
#include "ferrite/types/element.h"
#include "ferrite/types/string.h"

namespace fixture {

struct point {
  std::int32_t x, y;
};
FERRITE_TYPE(point, "test.Point", x, y)

struct node {
  std::int64_t value;
  ferrite::pptr<node> next;
};
FERRITE_TYPE(node, "test.Node", value, next)

struct stats {
  double ratio;
  bool won;
  std::uint8_t level;
  char grade;
};
FERRITE_TYPE(stats, "test.Stats", ratio, won, level, grade)

// Stand-ins with the on-media layout of the containers.
struct raw_vector {
  ferrite::detail::vector_rep rep;
};
struct raw_hash_map {
  ferrite::detail::hash_map_rep rep;
};
struct raw_map {
  ferrite::detail::btree_rep rep;
};
struct raw_set {
  ferrite::detail::btree_rep rep;
};

struct game {
  char name[16];
  std::int64_t maximum;
  float ratio;
  std::int8_t small;
  std::uint64_t big;
  point last[2];
  stats stats_;
  ferrite::string title;
  ferrite::pptr<node> moves;
  raw_vector scores;
  raw_hash_map index;
  raw_map ranks;
  raw_set tags;
  ferrite::pmutex guard;
  ferrite::pshared_mutex readers;
};

}  // namespace fixture

namespace ferrite::detail {

template <class Key, class Value>
type_descriptor container(const char* name, container_kind k, std::uint32_t size) {
  type_descriptor d;
  d.name = name;
  d.kind = type_kind::container;
  d.subkind = static_cast<std::uint8_t>(k);
  d.size = size;
  d.align = 8;
  if constexpr (!std::is_void_v<Key>) d.key = &descriptor_of<Key>;
  if constexpr (!std::is_void_v<Value>) d.value = &descriptor_of<Value>;
  return d;
}

template <>
struct describe<fixture::raw_vector> {
  static const type_descriptor& get() {
    static const type_descriptor d =
        container<void, std::int64_t>("ferrite.vector<i64>", container_kind::vector, 24);
    return d;
  }
};
template <>
struct describe<fixture::raw_hash_map> {
  static const type_descriptor& get() {
    static const type_descriptor d = container<ferrite::string, std::int64_t>(
        "ferrite.hash_map<ferrite.string,i64>", container_kind::hash_map, 32);
    return d;
  }
};
template <>
struct describe<fixture::raw_map> {
  static const type_descriptor& get() {
    static const type_descriptor d =
        container<std::int64_t, std::int64_t>("ferrite.map<i64,i64>", container_kind::map, 32);
    return d;
  }
};
template <>
struct describe<fixture::raw_set> {
  static const type_descriptor& get() {
    static const type_descriptor d =
        container<std::int32_t, void>("ferrite.set<i32>", container_kind::set, 32);
    return d;
  }
};

}  // namespace ferrite::detail

namespace fixture {

FERRITE_TYPE(game, "test.Game", name, maximum, ratio, small, big, last, stats_, title, moves,
             scores, index, ranks, tags, guard, readers)

using ferrite::detail::describe;

template <class T>
T* allocate_storage(ferrite::pool& p, std::size_t size) {
  return static_cast<T*>(p.allocate(size, p.type_id(describe<T>::get()), 8));
}

std::uint64_t bits(ferrite::pool& p, const void* obj) {
  return ferrite::detail::pointer_bits(ferrite::detail::impl_of(p), obj);
}

void fill_vector(ferrite::pool& p, raw_vector& v) {
  auto* data = static_cast<std::int64_t*>(
      p.allocate(4 * sizeof(std::int64_t), p.type_id(describe<raw_vector>::get()), 8));
  data[0] = 10;
  data[1] = 20;
  data[2] = 30;
  v.rep = {3, 4, bits(p, data)};
}

// Nodes: { u64 next; u64 hash; string key (24 B, at 16); i64 value (at 40) }.
void fill_hash_map(ferrite::pool& p, raw_hash_map& m) {
  const std::uint32_t id = p.type_id(describe<raw_hash_map>::get());
  auto* dir =
      static_cast<std::uint64_t*>(p.allocate(ferrite::detail::hash_max_segments * 8, id, 8));
  auto* seg0 =
      static_cast<std::uint64_t*>(p.allocate(ferrite::detail::hash_initial_buckets * 8, id, 8));
  dir[0] = bits(p, seg0);
  const char* keys[] = {"alpha", "beta", "gamma"};
  for (int k = 0; k < 3; ++k) {
    auto* n = static_cast<std::byte*>(p.allocate(48, id, 8));
    const std::uint64_t hash = ferrite::detail::stable_hash(keys[k], std::strlen(keys[k]));
    const std::uint64_t bucket = hash % ferrite::detail::hash_initial_buckets;
    auto* key = ::new (n + 16) ferrite::string();
    *key = keys[k];
    const std::int64_t value = k + 1;
    std::memcpy(n, &seg0[bucket], 8);  // push at the head of the bucket's chain
    std::memcpy(n + 8, &hash, 8);
    std::memcpy(n + 40, &value, 8);
    seg0[bucket] = bits(p, n);
  }
  m.rep = {3, bits(p, dir), 0, 0, 0};
}

// Leaves: { header; i64 keys[4] at 16; i64 values[4] at 48 } (80 B);
// inner: { header; i64 keys[4] at 16; u64 children[5] at 48 } (88 B).
void fill_map(ferrite::pool& p, raw_map& m) {
  const std::uint32_t id = p.type_id(describe<raw_map>::get());
  auto leaf = [&](std::initializer_list<std::int64_t> keys) {
    auto* n = static_cast<std::byte*>(p.allocate(80, id, 8));
    ferrite::detail::btree_node_header h{static_cast<std::uint16_t>(keys.size()), 1, 0, 0};
    std::memcpy(n, &h, sizeof h);
    int i = 0;
    for (std::int64_t k : keys) {
      const std::int64_t v = k * 100;
      std::memcpy(n + 16 + i * 8, &k, 8);
      std::memcpy(n + 48 + i * 8, &v, 8);
      ++i;
    }
    return n;
  };
  std::byte* a = leaf({1, 2});
  std::byte* b = leaf({3, 4, 5});
  const std::uint64_t b_bits = bits(p, b);
  std::memcpy(a + 8, &b_bits, 8);  // a.next_leaf = b
  auto* root = static_cast<std::byte*>(p.allocate(88, id, 8));
  ferrite::detail::btree_node_header h{1, 0, 0, 0};
  std::memcpy(root, &h, sizeof h);
  const std::int64_t separator = 3;
  const std::uint64_t children[2] = {bits(p, a), b_bits};
  std::memcpy(root + 16, &separator, 8);
  std::memcpy(root + 48, children, sizeof children);
  m.rep = {5, bits(p, root), 1, 4, 4, bits(p, a)};
}

// One leaf: { header; i32 keys[8] at 16 } (48 B).
void fill_set(ferrite::pool& p, raw_set& s) {
  auto* n = static_cast<std::byte*>(p.allocate(48, p.type_id(describe<raw_set>::get()), 8));
  ferrite::detail::btree_node_header h{3, 1, 0, 0};
  std::memcpy(n, &h, sizeof h);
  const std::int32_t keys[3] = {7, 8, 9};
  std::memcpy(n + 16, keys, sizeof keys);
  s.rep = {3, bits(p, n), 0, 8, 8, bits(p, n)};
}

}  // namespace fixture

int main(int argc, char** argv) {
  using namespace fixture;
  if (argc != 2 && !(argc == 4 && std::strcmp(argv[2], "--chain") == 0)) {
    std::cerr << "usage: typed_pool_fixture PATH [--chain N]\n";
    return 2;
  }
  const long chain = argc == 4 ? std::atol(argv[3]) : 0;
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::create_exclusive;
    o.size = 8 << 20;
    ferrite::pool p = ferrite::pool::open(argv[1], o);
    p.transaction([&] {
      game& g = *p.root<game>();
      std::strcpy(g.name, "ada");
      g.maximum = 100;
      g.ratio = 0.5f;
      g.small = -3;
      g.big = std::numeric_limits<std::uint64_t>::max();
      g.last[0] = {1, 2};
      g.last[1] = {3, 4};
      g.stats_ = {0.25, true, 7, 'A'};
      g.title = "hello \"world\"\n";
      auto n1 = p.make<node>(std::int64_t{1});
      auto n2 = p.make<node>(std::int64_t{2});
      auto n3 = p.make<node>(std::int64_t{3}, n1);  // the cycle: 3 -> 1
      n1->next = n2;
      n2->next = n3;
      g.moves = n1;
      if (chain > 0) {
        ferrite::pptr<node> list;
        for (long k = chain; k > 0; --k) list = p.make<node>(std::int64_t{k}, list);
        g.moves = list;
      }
      fill_vector(p, g.scores);
      fill_hash_map(p, g.index);
      fill_map(p, g.ranks);
      fill_set(p, g.tags);
      g.guard.lock();  // held at commit: the committed words are not zero
      g.readers.lock_shared();
      p.make<node>(std::int64_t{42});  // unreachable
    });
    p.close();
  } catch (const std::exception& e) {
    std::cerr << "typed_pool_fixture: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
