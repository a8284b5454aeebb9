// Tests of garbage collection (pool::gc, engine/detail/gc.h, docs/gc.md): what is
// reachable (pointers, cycles, container storage, untyped objects), the
// collection at open after an unclean shutdown, the transaction gate, and
// refusals (inside a transaction, read-only, a damaged graph).
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/detail/gc.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/map.h"
#include "ferrite/types/string.h"
#include "ferrite/types/value.h"
#include "ferrite/types/vector.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;
using ferrite::test::temp_dir;

namespace gctest {

struct node {
  std::int64_t value;
  pptr<node> next;
};
FERRITE_TYPE(node, "gctest.Node", value, next)

struct bag {
  ferrite::vector<pptr<node>> nodes;
  ferrite::hash_map<std::int64_t, ferrite::string> names;
  ferrite::map<std::int64_t, pptr<node>> index;
  ferrite::string title;
};
FERRITE_TYPE(bag, "gctest.Bag", nodes, names, index, title)

struct holder {
  pptr<node> first;
  pptr<bag> things;
  pptr<std::uint64_t> raw;  // an untyped object (allocated with type id 0)
};
FERRITE_TYPE(holder, "gctest.Holder", first, things, raw)

}  // namespace gctest

using namespace gctest;

namespace {

pool_options small_pool() {
  pool_options o;
  o.size = 16 << 20;
  return o;
}

std::uint64_t objects(const pool& p) {
  return p.heap_statistics().objects;
}

pptr<node> ring(pool& p, int n) {
  pptr<node> first;
  p.transaction([&] {
    first = p.make<node>(node{0, nullptr});
    pptr<node> last = first;
    for (int i = 1; i < n; ++i) {
      pptr<node> x = p.make<node>(node{i, nullptr});
      last->next = x;  // new: no snapshot needed
      last = x;
    }
    last->next = first;
  });
  return first;
}

void set_first(pool& p, pptr<holder> h, pptr<node> n) {
  p.transaction([&] {
    tx_snapshot(&h->first);
    h->first = n;
  });
}

}  // namespace

TEST_CASE("orphans made outside a transaction are freed", "[gc]") {
  temp_dir d;
  pool p = pool::open(d / "o.pool", small_pool());
  pptr<holder> h = p.root<holder>();
  const std::uint64_t before = objects(p);
  for (int i = 0; i < 10; ++i) p.make<node>(node{i, nullptr});  // never linked
  REQUIRE(objects(p) == before + 10);
  const gc_stats s = p.gc();
  CHECK(s.total.freed == 10);
  CHECK(s.total.live == before);
  CHECK(s.by_type.at("gctest.Node").freed == 10);
  CHECK(s.by_type.at("gctest.Node").freed_bytes == 10 * sizeof(node));
  CHECK(s.transactions == 1);
  CHECK(objects(p) == before);
  CHECK(p.root<holder>() == h);
  CHECK(p.check().empty());
}

TEST_CASE("cycles of typed structs are kept when reachable and freed when unlinked", "[gc]") {
  temp_dir d;
  pool p = pool::open(d / "c.pool", small_pool());
  pptr<holder> h = p.root<holder>();
  set_first(p, h, ring(p, 3));
  ring(p, 4);  // an unreachable cycle
  gc_stats s = p.gc();
  CHECK(s.total.freed == 4);
  CHECK(s.by_type.at("gctest.Node").live == 3);
  CHECK(h->first->next->next->next == h->first);
  set_first(p, h, nullptr);
  s = p.gc();
  CHECK(s.total.freed == 3);
  CHECK(s.total.live == 1);  // the root
  CHECK(objects(p) == 1);
}

TEST_CASE("container storage is kept when reachable and freed with its owner", "[gc]") {
  temp_dir d;
  pool p = pool::open(d / "s.pool", small_pool());
  pptr<holder> h = p.root<holder>();
  p.transaction([&] {
    pptr<bag> b = p.make<bag>();
    tx_snapshot(&h->things);
    h->things = b;
    for (int i = 0; i < 100; ++i) {
      // The vector holds the only pointers to these nodes.
      b->nodes.push_back(p.make<node>(node{i, nullptr}));
    }
    for (int i = 0; i < 50; ++i) {
      b->names.insert(i, "name number " + std::to_string(i) + " which is long enough");
      b->index.insert(i, p.make<node>(node{1000 + i, nullptr}));
    }
    b->title.assign("a title longer than any small-string buffer would be");
  });
  const std::uint64_t all = objects(p);
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(s.total.live == all);
  CHECK(s.by_type.at("gctest.Node").live == 150);
  CHECK(s.by_type.at("ferrite.string").live == 51);
  std::int64_t sum = 0;
  for (pptr<node> n : h->things->nodes) sum += n->value;
  CHECK(sum == 4950);
  CHECK(h->things->index.at(7)->value == 1007);
  CHECK(h->things->names.at(3).str() == "name number 3 which is long enough");
  CHECK(h->things->title.str().size() > 20);
  // Unlinked, the bag takes all its storage (and the nodes) with it.
  p.transaction([&] {
    tx_snapshot(&h->things);
    h->things = nullptr;
  });
  s = p.gc();
  CHECK(s.total.freed == all - 1);
  CHECK(objects(p) == 1);
  CHECK(p.check().empty());
}

TEST_CASE("untyped objects are scanned conservatively", "[gc]") {
  temp_dir d;
  pool p = pool::open(d / "u.pool", small_pool());
  pptr<holder> h = p.root<holder>();
  std::uint64_t* first = nullptr;
  pptr<node> typed;
  p.transaction([&] {
    first = static_cast<std::uint64_t*>(p.allocate(64));  // type id 0
    tx_snapshot(&h->raw);
    h->raw = pptr<std::uint64_t>(first);
    typed = p.make<node>(node{42, nullptr});
    first[1] = typed.raw();  // pptr bits in an untyped object
  });
  // A chain of raw objects linked by plain offsets (allocate_into).
  std::uint64_t* dest = first;
  for (int i = 0; i < 5; ++i) {
    dest = static_cast<std::uint64_t*>(p.allocate_into(dest, 64));
  }
  std::uint64_t orphan_slot = 0;  // volatile: what it points to is garbage
  p.transaction([&] { orphan_slot = p.offset_of(p.allocate(64)); });
  const gc_stats s = p.gc();
  CHECK(s.total.freed == 1);
  CHECK(s.by_type.at("untyped").live == 6);
  CHECK(s.by_type.at("untyped").freed == 1);
  CHECK(s.by_type.at("gctest.Node").live == 1);
  CHECK(typed->value == 42);
  CHECK(orphan_slot != 0);
}

TEST_CASE("gc runs at open after an unclean shutdown and frees the orphans", "[gc]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o;
  o.device = dev;
  o.size = 8 << 20;
  std::vector<std::byte> image;  // the durable bytes while the pool was open
  std::uint64_t with_orphans = 0;
  {
    pool p = pool::open("sim", o);
    pptr<holder> h = p.root<holder>();
    set_first(p, h, ring(p, 2));
    for (int i = 0; i < 7; ++i) p.make<node>(node{i, nullptr});  // orphans
    with_orphans = objects(p);
    CHECK_FALSE(p.gc_at_open().has_value());  // a new pool
    image = dev->durable();
  }
  auto crash = [&](bool gc) {
    pool_options c = o;
    c.device = sim_device::from_image(image, granularity::cache_line);
    c.mode = open_mode::open_existing;
    c.gc_after_crash = gc;
    return pool::open("crashed", c);
  };
  SECTION("it collects") {
    pool q = crash(true);
    REQUIRE(q.gc_at_open().has_value());
    CHECK(q.gc_at_open()->total.freed == 7);
    CHECK(q.gc_at_open()->total.live == 3);
    CHECK(objects(q) == 3);
    CHECK(q.root<holder>()->first->next->next->value == 0);
  }
  SECTION("not with the option off") {
    pool q = crash(false);
    CHECK_FALSE(q.gc_at_open().has_value());
    CHECK(objects(q) == with_orphans);
  }
  SECTION("not after a clean close") {
    o.mode = open_mode::open_existing;
    pool q = pool::open("sim", o);
    CHECK_FALSE(q.gc_at_open().has_value());
    CHECK(objects(q) == with_orphans);
  }
}

TEST_CASE("gc inside a transaction is tx_invalid", "[gc][errors]") {
  temp_dir d;
  pool p = pool::open(d / "t.pool", small_pool());
  p.root<holder>();
  p.transaction([&] { CHECK(error_of([&] { p.gc(); }) == error_code::tx_invalid); });
  CHECK(p.gc().total.live == 1);  // the gate was not left held
}

TEST_CASE("gc on a read-only pool is read_only", "[gc][errors]") {
  temp_dir d;
  {
    pool p = pool::open(d / "r.pool", small_pool());
    p.root<holder>();
  }
  pool_options o;
  o.mode = open_mode::read_only;
  pool p = pool::open(d / "r.pool", o);
  CHECK(error_of([&] { p.gc(); }) == error_code::read_only);
}

TEST_CASE("a damaged reachable pointer is corrupted and nothing is freed", "[gc][errors]") {
  temp_dir d;
  pool p = pool::open(d / "x.pool", small_pool());
  pptr<holder> h = p.root<holder>();
  set_first(p, h, ring(p, 2));
  for (int i = 0; i < 5; ++i) p.make<node>(node{i, nullptr});  // garbage
  const std::uint64_t before = objects(p);
  SECTION("a pointer to free space") {
    // The last chunk of the heap is still free.
    const std::uint64_t free_off = p.heap_offset() + p.heap_size() - 4096;
    p.transaction([&] {
      tx_snapshot(&h->first->next);
      h->first->next = pptr<node>::from_raw(h->first.raw() >> 48 << 48 | free_off);
    });
  }
  SECTION("a vector larger than its storage") {
    p.transaction([&] {
      pptr<bag> b = p.make<bag>();
      tx_snapshot(&h->things);
      h->things = b;
      b->nodes.push_back(h->first);
      auto* rep = reinterpret_cast<std::uint64_t*>(&b->nodes);
      rep[0] = rep[1] = 1000;  // size, capacity (the bag is new: no snapshot)
    });
  }
  const std::uint64_t now = objects(p);
  CHECK(now >= before);
  CHECK(error_of([&] { p.gc(); }) == error_code::corrupted);
  CHECK(objects(p) == now);
}

TEST_CASE("a transaction running in another thread keeps its allocations", "[gc][threads]") {
  temp_dir d;
  pool p = pool::open(d / "w.pool", small_pool());
  pptr<holder> h = p.root<holder>();
  std::atomic<bool> allocated{false};
  std::thread writer([&] {
    ferrite::transaction tx(p);
    pptr<node> n = p.make<node>(node{77, nullptr});  // unreachable until linked
    allocated = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    tx_snapshot(&h->first);
    h->first = n;
    tx.commit();
  });
  while (!allocated) std::this_thread::yield();
  const gc_stats s = p.gc();  // waits for the writer's commit
  writer.join();
  CHECK(s.total.freed == 0);
  CHECK(s.by_type.at("gctest.Node").live == 1);
  CHECK(h->first->value == 77);
}

TEST_CASE("a long linked list does not overflow the stack", "[gc]") {
  temp_dir d;
  pool_options o;
  o.size = 64 << 20;
  pool p = pool::open(d / "l.pool", o);
  pptr<holder> h = p.root<holder>();
  constexpr int n = 200000;
  for (int done = 0; done < n; done += 10000) {
    p.transaction([&] {
      tx_snapshot(&h->first);
      for (int i = 0; i < 10000; ++i) h->first = p.make<node>(node{done + i, h->first});
    });
  }
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(s.by_type.at("gctest.Node").live == n);
  set_first(p, h, nullptr);
  s = p.gc();
  CHECK(s.total.freed == n);
  CHECK(s.transactions >= n / detail::gc_batch_objects);
  CHECK(objects(p) == 1);
}

TEST_CASE("a pool without a root collects nothing", "[gc]") {
  temp_dir d;
  pool p = pool::open(d / "n.pool", small_pool());
  for (int i = 0; i < 3; ++i) p.make<node>(node{i, nullptr});
  const gc_stats s = p.gc();
  CHECK(s.total.live == 0);
  CHECK(s.total.freed == 0);
  CHECK(s.by_type.empty());
  CHECK(objects(p) == 3);
}

TEST_CASE("gc counts live and freed objects by type", "[gc]") {
  temp_dir d;
  pool_options o = small_pool();
  o.checked_transactions = true;  // the sweep's transactions snapshot nothing
  pool p = pool::open(d / "b.pool", o);
  pptr<holder> h = p.root<holder>();
  p.transaction([&] {
    pptr<bag> b = p.make<bag>();
    tx_snapshot(&h->things);
    h->things = b;
    b->title.assign("kept title, long enough to need its own buffer");
  });
  p.transaction([&] {
    pptr<bag> lost = p.make<bag>();
    lost->title.assign("lost title, long enough to need its own buffer");
  });
  const gc_stats s = p.gc();
  CHECK(s.by_type.at("gctest.Holder").live == 1);
  CHECK(s.by_type.at("gctest.Bag").live == 1);
  CHECK(s.by_type.at("gctest.Bag").freed == 1);
  CHECK(s.by_type.at("ferrite.string").live == 1);
  CHECK(s.by_type.at("ferrite.string").freed == 1);
  CHECK(s.total.live == 3);
  CHECK(s.total.freed == 2);
  std::uint64_t live = 0, freed = 0;
  for (const auto& [name, c] : s.by_type) live += c.live, freed += c.freed;
  CHECK(live == s.total.live);
  CHECK(freed == s.total.freed);
}

// --- The value model (types/value.h): cells are marked through their payloads.

namespace gctest {
struct cell_owner {
  std::int64_t id;
  ferrite::value_cell extra;
};
FERRITE_TYPE(cell_owner, "gctest.CellOwner", id, extra)

class player : public ferrite::object {
 public:
  using object::object;
};
FERRITE_CLASS(player, "gctest.Player")
}  // namespace gctest

TEST_CASE("values: overwritten payloads are freed, everything reachable is kept", "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "v.pool", small_pool());
  value root = p.root();
  p.transaction([&] {
    root = dict_of({{"keep", list_of(1, "a string longer than fourteen bytes", tuple_of(2, 3.5))},
                    {"frozen", frozenset_of("x", "y and a long member name")},
                    {"who", new_object<player>({{"name", "Ada Lovelace the first"}})},
                    {"raw", bytes_of(std::string(40, 'b'))},
                    {"drop", list_of(dict_of({{"k", list_of(7)}}))}});
  });
  const std::string before = root.repr();
  const std::uint64_t all = objects(p);
  gc_stats first = p.gc();
  CHECK(first.total.freed == 0);
  CHECK(first.total.live == all);

  // The list, the dict in it and the list in that lose their last
  // reference: the store frees them (reference counts), gc finds nothing.
  root["drop"] = none;
  const std::uint64_t after_drop = objects(p);
  CHECK(after_drop + 3 <= all);
  gc_stats second = p.gc();
  CHECK(second.total.freed == 0);
  CHECK(second.counts_repaired == 0);
  CHECK(objects(p) == after_drop);
  root["drop"] = list_of(dict_of({{"k", list_of(7)}}));  // as before, for the repr
  CHECK(root.repr() == before);
  CHECK(second.by_type.count("gctest.Player") == 1);
  CHECK(second.by_type["gctest.Player"].live == 1);
}

TEST_CASE("values: a short encoded value is inline and does not stop the collection",
          "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "v.pool", small_pool());
  value root = p.root();
  p.transaction([&] {
    root = dict_of({{"short", encoded("g.P", "1,2")},  // 4 + 3 bytes: inline in the cell
                    {"long", encoded("g.P", std::string(40, '7'))},
                    {"drop", list_of(1)}});
  });
  root["drop"] = none;  // the store frees the list (reference counts)
  gc_stats s = p.gc();
  CHECK(s.total.freed == 0);
  CHECK(s.counts_repaired == 0);
  CHECK(s.by_type["ferrite.string"].live == 1);  // the long encoding's buffer
  CHECK(root["short"].is_encoded());
  CHECK(root["long"].is_encoded());
}

TEST_CASE("values: list and dict cycles are kept while reachable and freed when unlinked",
          "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "c.pool", small_pool());
  value root = p.root();
  p.transaction([&] {
    root = dict_of();
    root["a"] = list_of();
    root["b"] = dict_of();
    root["a"].as_list().append(root["b"]);  // a -> b
    root["b"]["back"] = root["a"];          // b -> a: a cycle
    root["a"].as_list().append(root["a"]);  // a -> a
  });
  const std::uint64_t with_cycle = objects(p);
  CHECK(p.gc().total.freed == 0);
  CHECK(objects(p) == with_cycle);
  CHECK(root["a"][0]["back"][1][0].is_dict());

  p.transaction([&] {
    root.as_dict().erase("a");
    root.as_dict().erase("b");
  });
  gc_stats s = p.gc();
  CHECK(s.by_type["ferrite.list"].freed == 1);
  CHECK(s.by_type["ferrite.dict"].freed == 1);
  CHECK(root.size() == 0);
}

TEST_CASE("values: a payload shared by two slots lives while one slot holds it", "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "s.pool", small_pool());
  value root = p.root();
  root = dict_of({{"x", list_of(1, 2, 3)}});
  root["y"] = root["x"];
  root["x"] = none;
  CHECK(p.gc().by_type["ferrite.list"].freed == 0);
  CHECK(root["y"] == list_of(1, 2, 3));
  const std::uint64_t with_list = objects(p);
  root["y"] = none;  // the last reference: freed by the store, not by gc
  CHECK(objects(p) == with_list - 2);
  CHECK(p.gc().by_type["ferrite.list"].freed == 0);
}

TEST_CASE("values: a value_cell field of a typed object is a root of its payloads", "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "f.pool", small_pool());
  pptr<cell_owner> o = p.root<cell_owner>();
  value extra = o->extra;
  extra = list_of("kept through a typed field", set_of(1, 2));
  const std::uint64_t n = objects(p);
  CHECK(p.gc().total.freed == 0);
  CHECK(objects(p) == n);
  CHECK(extra[1].contains(2));
}

TEST_CASE("values: after a crash the counts are exact, so gc at open finds nothing dropped",
          "[gc][value]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o;
  o.device = dev;
  o.size = 8 << 20;
  std::vector<std::byte> image;
  std::string expected;
  {
    pool p = pool::open("sim", o);
    value root = p.root();
    root = dict_of({{"guesses", list_of(25, 50)}, {"name", "a player with a long name"}});
    for (int i = 0; i < 5; ++i)
      root["scratch"] = list_of(i, dict_of({{"i", i}}));  // 4 garbage pairs
    root["scratch"] = none;                               // and the 5th
    expected = root.repr();
    image = dev->durable();
  }
  pool_options c = o;
  c.device = sim_device::from_image(image, granularity::cache_line);
  c.mode = open_mode::open_existing;
  pool q = pool::open("crashed", c);
  REQUIRE(q.gc_at_open().has_value());
  CHECK(q.gc_at_open()->total.freed == 0);  // the stores freed what they dropped
  CHECK(q.gc_at_open()->counts_repaired == 0);
  CHECK(q.root().repr() == expected);
  CHECK(q.gc().total.freed == 0);
}

TEST_CASE("values: gc frees list and dict cycles and repairs the counts of what they named",
          "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "r.pool", small_pool());
  value root = p.root();
  root = dict_of({{"kept", list_of("a string longer than fourteen bytes")}});
  const std::uint64_t before = objects(p);
  p.transaction([&] {
    root["a"] = list_of(root["kept"]);  // the cycle names a kept list
    root["b"] = dict_of({{"back", root["a"]}});
    root["a"].as_list().append(root["b"]);  // a <-> b
  });
  const std::uint64_t with_cycle = objects(p);
  p.transaction([&] {
    root.as_dict().erase("a");
    root.as_dict().erase("b");
  });
  CHECK(objects(p) == with_cycle - 2);  // the root's two nodes; counts cannot free a cycle
  gc_stats s = p.gc();
  CHECK(s.by_type["ferrite.list"].freed == 1);
  CHECK(s.by_type["ferrite.dict"].freed == 1);
  CHECK(s.counts_repaired == 1);  // 'kept' was named by the freed list too
  CHECK(objects(p) == before);
  root["kept"] = none;  // now its count says it is the last reference
  CHECK(objects(p) == before - 3);
  CHECK(p.gc().total.freed == 0);
}

TEST_CASE("values: gc repairs a damaged reference count", "[gc][value]") {
  temp_dir dir;
  pool p = pool::open(dir / "d.pool", small_pool());
  value root = p.root();
  root = dict_of({{"x", list_of(1)}});
  const std::uint64_t n = objects(p);
  auto damage = [&](std::uint64_t count) {
    auto* refs = pptr<std::uint64_t>::from_raw(root["x"].cell().rep().payload).get();
    p.transaction([&] {
      tx_snapshot(refs, sizeof *refs);
      *refs = count;
    });
    return refs;
  };
  // Too high: the list outlives its last reference until gc() frees it.
  std::uint64_t* refs = damage(7);
  gc_stats s = p.gc();
  CHECK(s.counts_repaired == 1);
  CHECK(*refs == 1);
  root["x"] = none;
  CHECK(objects(p) == n - 2);  // the list and its buffer
  // Already zero: dropping the reference leaves the list to gc() rather
  // than decrementing below zero.
  root["x"] = list_of(1);
  damage(0);
  root["x"] = none;
  CHECK(objects(p) == n);
  CHECK(p.gc().by_type["ferrite.list"].freed == 1);
  CHECK(objects(p) == n - 2);
}
