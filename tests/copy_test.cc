// Tests of copy_pool (engine/copy.h, `ferrite copy`): what DST holds (the
// reachable graph, every pointer rewritten, the type table and root), what
// it leaves behind (garbage), and its refusals (DST exists, a leftover
// temporary, too small a size, an untyped object or pointer-keyed
// container reachable, a damaged graph), after which DST does not exist.
#include <cstring>
#include <filesystem>
#include <string>

#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/copy.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/map.h"
#include "ferrite/types/set.h"
#include "ferrite/types/string.h"
#include "ferrite/types/value.h"
#include "ferrite/types/vector.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;
using ferrite::test::temp_dir;

namespace copytest {

struct node {
  std::int64_t value;
  pptr<node> next;
};
FERRITE_TYPE(node, "copytest.Node", value, next)

struct pair_of_nodes {
  node inner[2];            // pointers inside a nested array
  pptr<std::int64_t> into;  // a pointer into the middle of another object
};
FERRITE_TYPE(pair_of_nodes, "copytest.Pair", inner, into)

struct bag {
  ferrite::vector<pptr<node>> nodes;
  ferrite::hash_map<ferrite::string, ferrite::vector<std::int64_t>> lists;
  ferrite::map<std::int64_t, ferrite::string> names;
  ferrite::set<ferrite::string> tags;
  ferrite::string title;
  pptr<node> ring;
  pptr<pair_of_nodes> pair;
  pptr<node> raw;  // set to an untyped object by one test
};
FERRITE_TYPE(bag, "copytest.Bag", nodes, lists, names, tags, title, ring, pair, raw)

struct by_pointer {
  ferrite::hash_map<pptr<node>, std::int64_t> counts;
};
FERRITE_TYPE(by_pointer, "copytest.ByPointer", counts)

}  // namespace copytest

using namespace copytest;

namespace {

pool_options sized(std::uint64_t mib) {
  pool_options o;
  o.size = mib << 20;
  return o;
}

pool_options read_only() {
  pool_options o;
  o.mode = open_mode::read_only;
  return o;
}

// A bag with one of everything; `garbage` objects made and dropped first.
void fill(pool& p, int garbage) {
  for (int i = 0; i < garbage; ++i) p.make<node>(node{-i, nullptr});
  pptr<bag> b = p.root<bag>();
  p.transaction([&] {
    for (std::int64_t i = 0; i < 300; ++i) b->nodes.push_back(p.make<node>(node{i, nullptr}));
    for (int i = 0; i < 50; ++i) {
      auto& v = b->lists["list " + std::to_string(i) + " with a long enough name"];
      for (std::int64_t k = 0; k <= i; ++k) v.push_back(k * i);
    }
    for (std::int64_t i = 0; i < 400; ++i) b->names.insert(i, "name " + std::to_string(i));
    for (int i = 0; i < 40; ++i) b->tags.insert("tag " + std::to_string(i * 7));
    b->title = "a title longer than any inline buffer";
    pptr<node> first = p.make<node>(node{1000, nullptr});
    pptr<node> second = p.make<node>(node{1001, first});
    first->next = second;  // a cycle (new objects need no snapshot)
    tx_snapshot(&b->ring);
    b->ring = first;
    pptr<pair_of_nodes> pr = p.make<pair_of_nodes>();
    pr->inner[0] = node{7, b->nodes[5]};
    pr->inner[1] = node{8, second};
    pr->into = pptr<std::int64_t>::from_raw(b->nodes[9].raw() + offsetof(node, value));
    tx_snapshot(&b->pair);
    b->pair = pr;
  });
}

// Every value of fill()'s bag, read through the typed API.
void check_bag(pool& p) {
  pptr<bag> b = p.root<bag>();
  REQUIRE(b->nodes.size() == 300);
  for (std::int64_t i = 0; i < 300; ++i) CHECK(b->nodes[i]->value == i);
  REQUIRE(b->lists.size() == 50);
  for (int i = 0; i < 50; ++i) {
    auto it = b->lists.find("list " + std::to_string(i) + " with a long enough name");
    REQUIRE(it != b->lists.end());
    REQUIRE(it->second.size() == static_cast<std::size_t>(i + 1));
    CHECK(it->second[i] == std::int64_t{i} * i);
  }
  REQUIRE(b->names.size() == 400);
  std::int64_t expect = 0;
  for (const auto& [k, v] : b->names) {  // the leaf chain, in key order
    CHECK(k == expect);
    CHECK(std::string(v.c_str()) == "name " + std::to_string(expect));
    ++expect;
  }
  CHECK(expect == 400);
  CHECK(b->tags.size() == 40);
  CHECK(b->tags.contains("tag 273"));
  CHECK(std::string(b->title.c_str()) == "a title longer than any inline buffer");
  CHECK(b->ring->value == 1000);
  CHECK(b->ring->next->value == 1001);
  CHECK(b->ring->next->next == b->ring);
  CHECK(b->pair->inner[0].next == b->nodes[5]);
  CHECK(b->pair->inner[1].next == b->ring->next);
  CHECK(*b->pair->into == 9);
  CHECK(b->pair->into.raw() == b->nodes[9].raw() + offsetof(node, value));
}

bool file_there(const std::filesystem::path& p) {
  return std::filesystem::exists(p);
}

}  // namespace

TEST_CASE("a typed graph is copied with every pointer rewritten, garbage left behind", "[copy]") {
  temp_dir d;
  std::uint64_t reachable = 0;
  {
    pool p = pool::open(d / "src.pool", sized(32));
    fill(p, 2000);
  }
  std::filesystem::copy_file(d / "src.pool", d / "collected.pool");
  {
    pool p = pool::open(d / "collected.pool");
    check_bag(p);
    reachable = p.gc().total.live;
  }
  const std::string before = test::read_file(d / "src.pool");
  std::uint64_t last_done = 0, calls = 0;
  copy_options o;
  o.progress = [&](std::uint64_t done, std::uint64_t total) {
    CHECK(done >= last_done);
    CHECK(done <= total);
    last_done = done;
    ++calls;
  };
  const copy_stats s = copy_pool(d / "src.pool", d / "dst.pool", o);
  CHECK(calls > 0);
  CHECK(last_done == s.objects);
  CHECK(test::read_file(d / "src.pool") == before);  // SRC untouched
  CHECK_FALSE(file_there(d / "dst.pool.copying"));
  CHECK(s.objects == reachable);
  CHECK(s.dst_file_size < s.src_file_size);
  CHECK(check_pool(d / "dst.pool").problems.empty());
  pool q = pool::open(d / "dst.pool", read_only());
  CHECK(q.heap_statistics().objects == s.objects);
  CHECK(q.root_type_name() == "copytest.Bag");
  check_bag(q);
}

TEST_CASE("a copy can be written to and copied again", "[copy]") {
  temp_dir d;
  {
    pool p = pool::open(d / "a.pool", sized(16));
    fill(p, 0);
  }
  copy_pool(d / "a.pool", d / "b.pool");
  {
    pool p = pool::open(d / "b.pool");
    pptr<bag> b = p.root<bag>();
    p.transaction([&] {
      b->nodes.push_back(p.make<node>(node{300, b->ring}));
      b->names.insert(400, "one more");
    });
    CHECK(p.check().empty());
  }
  const copy_stats s = copy_pool(d / "b.pool", d / "c.pool", {.size = 64 << 20, .progress = {}});
  CHECK(s.dst_file_size == 64u << 20);
  pool p = pool::open(d / "c.pool", read_only());
  pptr<bag> b = p.root<bag>();
  CHECK(b->nodes.size() == 301);
  CHECK(b->nodes[300]->next == b->ring);
  CHECK(b->names.size() == 401);
}

TEST_CASE("an object larger than a transaction's share of the log is written in slices", "[copy]") {
  temp_dir d;
  constexpr std::int64_t count = 100000;  // a 1 MiB vector buffer of pointers
  {
    pool p = pool::open(d / "big.pool", sized(64));
    pptr<bag> b = p.root<bag>();
    for (std::int64_t first = 0; first < count; first += 5000) {
      p.transaction([&] {
        for (std::int64_t i = first; i < first + 5000; ++i) {
          b->nodes.push_back(p.make<node>(node{i, nullptr}));
        }
      });
    }
  }
  // 16 MiB: a 1 MiB log, so at most 512 KiB per record.
  const copy_stats s =
      copy_pool(d / "big.pool", d / "small.pool", {.size = 16 << 20, .progress = {}});
  CHECK(s.pointers == count + 1);  // and the vector's buffer pointer
  pool q = pool::open(d / "small.pool", read_only());
  pptr<bag> b = q.root<bag>();
  REQUIRE(b->nodes.size() == count);
  for (std::int64_t i = 0; i < count; ++i) {
    if (b->nodes[i]->value != i) FAIL("node " << i << " holds " << b->nodes[i]->value);
  }
  CHECK(q.check().empty());
}

TEST_CASE("values are copied with their shared payloads and cycles", "[copy][value]") {
  temp_dir d;
  std::string repr;
  {
    pool p = pool::open(d / "v.pool", sized(16));
    value root = p.root();
    p.transaction([&] {
      root = dict_of({{"text", "a string longer than fourteen bytes"},
                      {"items", list_of(1, 2.5, tuple_of("x", bytes_of(std::string(30, 'b'))))},
                      {"frozen", frozenset_of("a", "b and a longer member")},
                      {"code", encoded("c.P", "1,2")}});
      root["again"] = root["items"];  // shared
      root["self"] = root;            // a cycle
    });
    repr = root.repr();
  }
  copy_pool(d / "v.pool", d / "w.pool");
  pool q = pool::open(d / "w.pool", read_only());
  CHECK(q.root().repr() == repr);
  CHECK(check_pool(d / "w.pool").problems.empty());
}

TEST_CASE("a pool without a root copies to an empty pool", "[copy]") {
  temp_dir d;
  { pool p = pool::open(d / "e.pool", sized(4)); }
  const copy_stats s = copy_pool(d / "e.pool", d / "f.pool");
  CHECK(s.objects == 0);
  pool q = pool::open(d / "f.pool", read_only());
  CHECK_FALSE(q.has_root());
}

TEST_CASE("copy refusals leave no DST", "[copy][errors]") {
  temp_dir d;
  {
    pool p = pool::open(d / "s.pool", sized(16));
    fill(p, 0);
  }
  SECTION("DST exists") {
    test::write_file(d / "t.pool", "x");
    CHECK(error_of([&] { copy_pool(d / "s.pool", d / "t.pool"); }) == error_code::file_exists);
    CHECK(test::read_file(d / "t.pool") == "x");
    std::filesystem::remove(d / "t.pool");
  }
  SECTION("a leftover temporary") {
    test::write_file(d / "t.pool.copying", "x");
    CHECK(error_of([&] { copy_pool(d / "s.pool", d / "t.pool"); }) == error_code::file_exists);
    CHECK_FALSE(file_there(d / "t.pool"));
  }
  SECTION("too small a size") {
    {
      // 3.2 MB of live data: more than a 2 MiB pool holds.
      pool p = pool::open(d / "s.pool", sized(16));
      auto& v = p.root<bag>()->lists["a big list"];
      for (int t = 0; t < 40; ++t) {
        p.transaction([&] {
          for (std::int64_t k = 0; k < 10000; ++k) v.push_back(k);
        });
      }
    }
    CHECK(error_of([&] {
            copy_pool(d / "s.pool", d / "t.pool", {.size = 2 << 20, .progress = {}});
          }) == error_code::out_of_space);
    CHECK_FALSE(file_there(d / "t.pool"));
    CHECK_FALSE(file_there(d / "t.pool.copying"));
  }
  SECTION("an untyped object is reachable") {
    {
      pool p = pool::open(d / "s.pool");
      pptr<bag> b = p.root<bag>();
      p.transaction([&] {
        void* raw = p.allocate(64);  // type id 0
        tx_snapshot(&b->raw);
        b->raw = pptr<node>::from_raw(b->ring.raw() >> 48 << 48 | p.offset_of(raw));
      });
    }
    error_code code{};
    std::string message;
    try {
      copy_pool(d / "s.pool", d / "t.pool");
    } catch (const error& e) {
      code = e.code();
      message = e.what();
    }
    CHECK(code == error_code::invalid_argument);
    CHECK(message.find("untyped object at pool offset") != std::string::npos);
    CHECK_FALSE(file_there(d / "t.pool.copying"));
  }
  SECTION("a hash_map keyed by pointers") {
    {
      pool p = pool::open(d / "k.pool", sized(8));
      pptr<by_pointer> r = p.root<by_pointer>();
      p.transaction([&] { r->counts.insert(p.make<node>(node{1, nullptr}), 1); });
    }
    CHECK(error_of([&] { copy_pool(d / "k.pool", d / "t.pool"); }) == error_code::invalid_argument);
    CHECK_FALSE(file_there(d / "t.pool.copying"));
  }
  SECTION("SRC open for writing") {
    pool writer = pool::open(d / "s.pool");
    CHECK(error_of([&] { copy_pool(d / "s.pool", d / "t.pool"); }) == error_code::pool_locked);
    CHECK_FALSE(file_there(d / "t.pool.copying"));
  }
  SECTION("a damaged pointer in the graph") {
    {
      pool p = pool::open(d / "s.pool");
      pptr<bag> b = p.root<bag>();
      const std::uint64_t free_off = p.heap_offset() + p.heap_size() - 4096;
      p.transaction([&] {
        tx_snapshot(&b->ring->next);
        b->ring->next = pptr<node>::from_raw(b->ring.raw() >> 48 << 48 | free_off);
      });
    }
    CHECK(error_of([&] { copy_pool(d / "s.pool", d / "t.pool"); }) == error_code::corrupted);
    CHECK_FALSE(file_there(d / "t.pool.copying"));
  }
  CHECK_FALSE(file_there(d / "t.pool"));
}

TEST_CASE("a pool whose log is damaged in the middle is refused, and copied with salvage",
          "[copy][errors][salvage]") {
  temp_dir d;
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  std::vector<std::byte> image;
  {
    pool_options o;
    o.device = dev;
    o.size = 4 << 20;
    pool p = pool::open("sim", o);
    pptr<node> n = p.root<node>();
    for (std::int64_t i = 1; i <= 3; ++i) {
      p.transaction([&] {
        tx_snapshot(&n->value);
        n->value = i;
      });
    }
    image = dev->durable();  // as after a crash: the records are not checkpointed
  }
  detail::pool_header h;
  std::memcpy(&h, image.data(), sizeof h);
  std::vector<std::uint64_t> records;  // file offsets, wrap markers left out
  for (const test::log_record& r : test::log_of(image.data()))
    if (!r.wrap) records.push_back(h.log_offset + r.pos);
  REQUIRE(records.size() >= 3);
  // The record of `value = 2`: a bit flipped in its data.
  image[records[records.size() - 2] + 64 + 16] ^= std::byte{0x01};
  test::write_file(d / "s.pool",
                   std::string(reinterpret_cast<const char*>(image.data()), image.size()));

  CHECK(error_of([&] { copy_pool(d / "s.pool", d / "t.pool"); }) == error_code::corrupted);
  CHECK_FALSE(file_there(d / "t.pool"));

  copy_options o;
  o.salvage = true;
  const copy_stats s = copy_pool(d / "s.pool", d / "t.pool", o);
  CHECK(s.damage.find("is damaged") != std::string::npos);
  pool t = pool::open(d / "t.pool");
  CHECK(t.root<node>()->value == 1);  // the state before the damaged record
  CHECK(check_pool(t).problems.empty());
  // SRC is untouched: still refused.
  CHECK(error_of([&] { pool::open(d / "s.pool"); }) == error_code::corrupted);
}
