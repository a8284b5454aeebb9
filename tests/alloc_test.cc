// Tests of alloc/: transactional and atomic allocation, frees, out of
// space, extents, alignment, growth, threads, and crashes at every fence of
// allocation/free sequences (no leak, no double allocation).
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include <unistd.h>

#include "ferrite/alloc/heap_check.h"
#include "ferrite/alloc/size_classes.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace {

pool_options sim_options(std::shared_ptr<sim_device> dev, std::uint64_t size = 4 << 20) {
  pool_options o;
  o.device = std::move(dev);
  o.size = size;
  return o;
}

pool reopen_crashed(const std::shared_ptr<sim_device>& dev, std::shared_ptr<sim_device>& keep) {
  keep = sim_device::from_image(dev->durable(), dev->store_granularity());
  pool_options o = sim_options(keep);
  o.mode = open_mode::open_existing;
  return pool::open("crashed", o);
}

// A table of object offsets kept in the first heap object ("root").
struct table {
  std::uint64_t slots[64];
};

}  // namespace

TEST_CASE("size classes bound the waste", "[alloc][classes]") {
  CHECK(detail::size_class_count() < 256);  // the chunk entry's class field
  for (std::uint64_t s = 17; s <= detail::max_slot_size; s += 37) {
    const auto& c = detail::class_at(detail::class_for(s));
    CHECK(c.slot_size >= s);
    CHECK(c.slot_size % 16 == 0);
    if (s > 256) CHECK((c.slot_size - s) * 16 <= c.slot_size);
    if (s <= 256) CHECK(c.slot_size - s < 16);
    CHECK(c.slot_count >= 1);
    CHECK(c.data_offset % 64 == 0);
    const std::uint64_t run = c.run_chunks * detail::chunk_size;
    const std::uint64_t used = c.data_offset + std::uint64_t{c.slot_count} * c.slot_size;
    CHECK(used <= run);
    CHECK((run - used) * 16 <= run);
  }
}

TEST_CASE("a transactional allocation is zeroed, aligned and survives a crash", "[alloc]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t off = 0;
  p.transaction([&] {
    auto* obj = static_cast<std::uint64_t*>(p.allocate(64, 7));
    CHECK(reinterpret_cast<std::uintptr_t>(obj) % 16 == 0);
    for (int i = 0; i < 8; ++i) CHECK(obj[i] == 0);
    obj[0] = 0xabcdef;
    off = p.offset_of(obj);
  });
  std::shared_ptr<sim_device> keep;
  pool q = reopen_crashed(dev, keep);
  CHECK(*static_cast<std::uint64_t*>(q.at(off)) == 0xabcdef);
  CHECK(q.object_size(q.at(off)) == 64);
  CHECK(q.object_type(q.at(off)) == 7);
  CHECK(q.check().empty());
  CHECK(q.heap_statistics().objects == 1);
}

TEST_CASE("checked transactions accept allocations and frees", "[alloc][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool_options o = sim_options(dev);
  o.checked_transactions = true;
  pool p = pool::open("sim", o);
  void* small = nullptr;
  void* big = nullptr;
  p.transaction([&] {
    small = p.allocate(40);
    big = p.allocate(400 * 1024);
    std::memset(small, 1, 40);
    std::memset(big, 2, 400 * 1024);
  });
  p.transaction([&] {
    p.deallocate(small);
    p.deallocate(big);
  });
  CHECK(p.heap_statistics().objects == 0);
}

TEST_CASE("allocation outside a transaction is tx_invalid", "[alloc][errors]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  CHECK(error_of([&] { p.allocate(10); }) == error_code::tx_invalid);
}

TEST_CASE("an aborted allocation is released and reused", "[alloc]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  void* first = nullptr;
  {
    transaction tx(p);
    first = p.allocate(100);
  }  // aborted
  CHECK(p.heap_statistics().objects == 0);
  void* second = nullptr;
  p.transaction([&] { second = p.allocate(100); });
  CHECK(second == first);
  CHECK(p.heap_statistics().objects == 1);
}

TEST_CASE("a free takes effect at commit; an aborted free keeps the object", "[alloc]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  void* obj = nullptr;
  p.transaction([&] { obj = p.allocate(48); });
  {
    transaction tx(p);
    p.deallocate(obj);
    CHECK(p.heap_statistics().objects == 1);  // not yet
  }                                           // aborted
  CHECK(p.heap_statistics().objects == 1);
  CHECK(p.object_size(obj) == 48);
  p.transaction([&] { p.deallocate(obj); });
  CHECK(p.heap_statistics().objects == 0);
  std::shared_ptr<sim_device> keep;
  pool q = reopen_crashed(dev, keep);
  CHECK(q.heap_statistics().objects == 0);
}

TEST_CASE("freeing a bad pointer or twice is invalid_argument", "[alloc][errors]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::byte* obj = nullptr;
  p.transaction([&] { obj = static_cast<std::byte*>(p.allocate(48)); });
  {
    transaction tx(p);
    CHECK(error_of([&] { p.deallocate(obj + 8); }) == error_code::invalid_argument);
  }
  {
    transaction tx(p);
    p.deallocate(obj);
    CHECK(error_of([&] { p.deallocate(obj); }) == error_code::invalid_argument);
  }
  int local = 0;
  CHECK(error_of([&] { p.deallocate(&local); }) == error_code::invalid_argument);
  CHECK(p.heap_statistics().objects == 1);
}

TEST_CASE("allocate_into publishes the object atomically", "[alloc][atomic]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* dest = nullptr;
  p.transaction([&] { dest = static_cast<std::uint64_t*>(p.allocate(8)); });
  auto* obj = static_cast<std::uint32_t*>(
      p.allocate_into(dest, 16, [](void* o) { static_cast<std::uint32_t*>(o)[0] = 99; }));
  CHECK(*dest == p.offset_of(obj));
  std::shared_ptr<sim_device> keep;
  pool q = reopen_crashed(dev, keep);
  auto* d = static_cast<std::uint64_t*>(q.at(p.offset_of(dest)));
  CHECK(*static_cast<std::uint32_t*>(q.at(*d)) == 99);
  p.deallocate_from(dest);
  CHECK(*dest == 0);
  CHECK(p.heap_statistics().objects == 1);  // just the holder
}

TEST_CASE("large objects are extents and survive a crash", "[alloc][extent]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", sim_options(dev, 8 << 20));
    std::uint64_t off = 0;
    p.transaction([&] {
      auto* big = static_cast<std::uint8_t*>(p.allocate(600 * 1024));
      std::memset(big, 0x5a, 600 * 1024);
      off = p.offset_of(big);
    });
    CHECK(p.heap_statistics().extents == 1);
    std::shared_ptr<sim_device> keep;
    pool q = reopen_crashed(dev, keep);
    auto* b = static_cast<std::uint8_t*>(q.at(off));
    CHECK(b[0] == 0x5a);
    CHECK(b[600 * 1024 - 1] == 0x5a);
    CHECK(q.check().empty());
  }
}

TEST_CASE("a freed extent reused at once keeps the new contents", "[alloc][extent]") {
  // An older record still holds an after-image in those chunks until it is
  // checkpointed; the new object's bytes must win after a crash.
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev, 8 << 20));
  std::uint64_t* holder = nullptr;
  p.transaction([&] { holder = static_cast<std::uint64_t*>(p.allocate(8)); });
  p.transaction([&] {
    auto* a = static_cast<std::uint8_t*>(p.allocate(300 * 1024));
    std::memset(a, 1, 300 * 1024);
    tx_snapshot(holder);
    *holder = p.offset_of(a);
  });
  p.transaction([&] {
    auto* a = static_cast<std::uint8_t*>(p.at(*holder));
    tx_snapshot(a, 4096);
    std::memset(a, 2, 4096);  // a logged after-image inside the extent
  });
  p.transaction([&] {
    p.deallocate(p.at(*holder));
    auto* b = static_cast<std::uint8_t*>(p.allocate(300 * 1024));
    std::memset(b, 3, 300 * 1024);
    tx_snapshot(holder);
    *holder = p.offset_of(b);
  });
  std::shared_ptr<sim_device> keep;
  pool q = reopen_crashed(dev, keep);
  auto* b =
      static_cast<std::uint8_t*>(q.at(*static_cast<std::uint64_t*>(q.at(p.offset_of(holder)))));
  CHECK(b[0] == 3);
  CHECK(b[4095] == 3);
  CHECK(q.check().empty());
}

TEST_CASE("alignment up to the chunk size is honoured", "[alloc][align]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev, 8 << 20));
  p.transaction([&] {
    for (std::size_t a : {32, 64, 256, 4096, 65536, 262144}) {
      void* obj = p.allocate(40, 0, a);
      INFO("alignment " << a);
      CHECK(p.offset_of(obj) % a == 0);
      CHECK(p.object_size(obj) == 40);
    }
  });
  transaction tx(p);
  CHECK(error_of([&] { p.allocate(8, 0, 48); }) == error_code::invalid_argument);
}

TEST_CASE("filling the pool to the last byte gives out_of_space, then frees work",
          "[alloc][out_of_space]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev, pool::min_size));
  std::vector<void*> objs;
  // Fill with 1 KiB objects, one transaction each, until the heap is full.
  for (;;) {
    try {
      p.transaction([&] { objs.push_back(p.allocate(1000)); });
    } catch (const error& e) {
      CHECK(e.code() == error_code::out_of_space);
      break;
    }
  }
  CHECK(objs.size() > 500);
  // Then smaller objects into what is left, until nothing fits.
  for (;;) {
    try {
      p.transaction([&] { objs.push_back(p.allocate(1)); });
    } catch (const error& e) {
      CHECK(e.code() == error_code::out_of_space);
      break;
    }
  }
  // A failing allocation aborts its transaction: other work in it is undone.
  std::uint64_t* first = static_cast<std::uint64_t*>(objs[0]);
  CHECK(error_of([&] {
          p.transaction([&] {
            tx_snapshot(first);
            *first = 77;
            p.allocate(1000);
          });
        }) == error_code::out_of_space);
  CHECK(*first == 0);
  CHECK(p.check().empty());
  for (std::size_t i = 0; i < objs.size(); i += 2) p.deallocate(objs[i]);
  p.transaction([&] { p.allocate(1000); });
  std::shared_ptr<sim_device> keep;
  pool q = reopen_crashed(dev, keep);
  CHECK(q.check().empty());
  CHECK(q.heap_statistics().objects == objs.size() - (objs.size() + 1) / 2 + 1);
}

TEST_CASE("growth adds space and a grown pool reopens with its data", "[alloc][grow]") {
  test::temp_dir d;
  pool_options o;
  o.size = pool::min_size;
  std::uint64_t off = 0;
  {
    pool p = pool::open(d / "g.pool", o);
    std::uint64_t* holder = nullptr;
    p.transaction([&] { holder = static_cast<std::uint64_t*>(p.allocate(8)); });
    *holder = 0;
    off = p.offset_of(holder);
    CHECK(error_of([&] { p.transaction([&] { p.allocate(3 << 20); }); }) ==
          error_code::out_of_space);
    p.grow(16 << 20);
    CHECK(p.info().file_size == std::filesystem::file_size(d / "g.pool"));
    holder = static_cast<std::uint64_t*>(p.at(off));  // base() may move
    p.transaction([&] {
      auto* big = static_cast<std::uint8_t*>(p.allocate(3 << 20));
      big[0] = 9;
      tx_snapshot(holder);
      *holder = p.offset_of(big);
    });
    CHECK(error_of([&] { p.grow(4 << 20); }) == error_code::invalid_argument);
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open(d / "g.pool", o);
  CHECK(p.heap_size() > (12u << 20));
  auto holder = *static_cast<std::uint64_t*>(p.at(off));
  CHECK(*static_cast<std::uint8_t*>(p.at(holder)) == 9);
  CHECK(p.check().empty());
}

TEST_CASE("growth with the disk full is no_space and leaves the pool as it was",
          "[alloc][grow][errors]") {
  auto dev = std::make_shared<sim_device>();
  dev->capacity = 6 << 20;
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t size = p.info().file_size;
  CHECK(error_of([&] { p.grow(64 << 20); }) == error_code::no_space);
  CHECK(p.info().file_size == size);
  p.transaction([&] { p.allocate(100); });
  std::shared_ptr<sim_device> keep;
  pool q = reopen_crashed(dev, keep);
  CHECK(q.heap_statistics().objects == 1);
}

TEST_CASE("fragmentation is reported after freeing every other object", "[alloc][stats]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev, 16 << 20));
  std::vector<void*> objs;
  p.transaction([&] {
    for (int i = 0; i < 20; ++i) objs.push_back(p.allocate(300 * 1024));
  });
  heap_stats before = p.heap_statistics();
  p.transaction([&] {
    for (std::size_t i = 0; i < objs.size(); i += 2) p.deallocate(objs[i]);
  });
  heap_stats after = p.heap_statistics();
  CHECK(after.objects == before.objects - 10);
  CHECK(after.free_bytes > before.free_bytes);
  CHECK(after.fragmentation > before.fragmentation);
  CHECK(after.largest_free < after.free_bytes);
}

TEST_CASE("two threads allocate and free concurrently", "[alloc][threads]") {
  // Cache-line media on /dev/shm keeps 4000 commits fast.
  std::filesystem::path path =
      std::filesystem::path(std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp") /
      ("ferrite-alloc-threads-" + std::to_string(getpid()));
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  struct cleanup {
    std::filesystem::path p;
    ~cleanup() {
      ::unsetenv("PMEM2_FORCE_GRANULARITY");
      std::filesystem::remove(p);
    }
  } c{path};
  pool_options o;
  o.size = 32 << 20;
  pool p = pool::open(path, o);
  // Catch2 assertions are not thread-safe: workers count, the test checks.
  std::atomic<int> wrong{0};
  auto worker = [&](int seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::vector<void*> mine;
    for (int i = 0; i < 2000; ++i) {
      if (!mine.empty() && rng() % 3 == 0) {
        std::size_t k = rng() % mine.size();
        p.deallocate(mine[k]);
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        p.transaction([&] {
          auto* obj = static_cast<std::uint8_t*>(p.allocate(16 + rng() % 200));
          obj[0] = static_cast<std::uint8_t>(seed);
          mine.push_back(obj);
        });
      }
    }
    for (void* m : mine) {
      if (*static_cast<std::uint8_t*>(m) != seed) ++wrong;
    }
    return mine.size();
  };
  std::size_t a = 0, b = 0;
  std::thread ta([&] { a = worker(1); }), tb([&] { b = worker(2); });
  ta.join();
  tb.join();
  CHECK(wrong == 0);
  CHECK(p.heap_statistics().objects == a + b);
  CHECK(p.check().empty());
}

TEST_CASE("crash at every fence of allocation and free: no leak, no double allocation",
          "[alloc][crash]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", sim_options(dev));
    table* t = nullptr;
    p.transaction([&] { t = static_cast<table*>(p.allocate(sizeof(table))); });
    const std::uint64_t t_off = p.offset_of(t);
    // The model: which table slots hold an object, before and after the op in flight.
    std::set<int> before, after;
    int images = 0;
    std::mt19937_64 rng(7);
    dev->on_barrier = [&](const sim_device& d) {
      std::vector<std::vector<std::uint64_t>> subsets{{}, d.dirty_units()};
      std::vector<std::uint64_t> half;
      for (std::uint64_t u : d.dirty_units())
        if (rng() % 2) half.push_back(u);
      subsets.push_back(half);
      for (auto& s : subsets) {
        ++images;
        auto img = sim_device::from_image(d.crash_image(s), g);
        pool_options io = sim_options(img);
        io.mode = open_mode::open_existing;
        pool q = pool::open("img", io);
        CHECK(q.check().empty());
        const auto* qt = static_cast<const table*>(q.at(t_off));
        std::set<int> live;
        std::set<std::uint64_t> offsets;
        for (int k = 0; k < 64; ++k) {
          if (qt->slots[k]) {
            live.insert(k);
            offsets.insert(qt->slots[k]);
            CHECK(q.object_size(q.at(qt->slots[k])) == static_cast<std::size_t>(24 + k));
          }
        }
        CHECK(offsets.size() == live.size());  // no object handed out twice
        bool ok = live == before || live == after;
        INFO("live " << live.size() << " before " << before.size() << " after " << after.size());
        CHECK(ok);
        // No leak: every allocated object is the table or referenced by it.
        CHECK(q.heap_statistics().objects == live.size() + 1);
      }
    };
    for (int step = 0; step < 40; ++step) {
      const int k = static_cast<int>(rng() % 64);
      after = before;
      if (t->slots[k]) {
        after.erase(k);
        p.transaction([&] {
          p.deallocate(p.at(t->slots[k]));
          tx_snapshot(&t->slots[k]);
          t->slots[k] = 0;
        });
      } else {
        after.insert(k);
        p.allocate_into(&t->slots[k], static_cast<std::size_t>(24 + k));
      }
      before = after;
    }
    dev->on_barrier = nullptr;
    CHECK(images > 100);
  }
}

TEST_CASE("freeing a large object from an unscanned zone never double-allocates",
          "[alloc][extent][lazy]") {
  // Zones are scanned lazily after open; a free that reaches an unscanned
  // zone must scan it first, or its chunks would be handed out twice.
  test::temp_dir d;
  pool_options o;
  o.size = 8 << 20;
  std::uint64_t big_off = 0;
  {
    pool p = pool::open(d / "z.pool", o);
    p.transaction([&] { big_off = p.offset_of(p.allocate(600 * 1024)); });
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open(d / "z.pool", o);
  p.deallocate(p.at(big_off));  // the first heap operation after open
  std::set<std::uint64_t> seen;
  p.transaction([&] {
    for (int i = 0; i < 8; ++i) {
      void* obj = p.allocate(300 * 1024);
      CHECK(seen.insert(p.offset_of(obj)).second);
    }
  });
  CHECK(p.check().empty());
  CHECK(p.heap_statistics().objects == 8);
}

namespace {

// A pool file in /dev/shm (when there is one) on cache-line media: big
// pools and thousands of commits stay fast. Removed at the end.
struct shm_pool_file {
  std::filesystem::path path;
  explicit shm_pool_file(const std::string& name)
      : path(
            std::filesystem::path(std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp") /
            ("ferrite-alloc-" + name + "-" + std::to_string(getpid()))) {
    ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  }
  ~shm_pool_file() {
    ::unsetenv("PMEM2_FORCE_GRANULARITY");
    std::filesystem::remove(path);
  }
};

// Allocates `size`-byte objects one transaction each until out_of_space;
// returns their offsets.
std::vector<std::uint64_t> fill_with(pool& p, std::size_t size) {
  std::vector<std::uint64_t> out;
  for (;;) {
    try {
      p.transaction([&] { out.push_back(p.offset_of(p.allocate(size))); });
    } catch (const error& e) {
      REQUIRE(e.code() == error_code::out_of_space);
      return out;
    }
  }
}

}  // namespace

TEST_CASE("after every small object is freed, 32 KiB objects fill the heap as in a new pool",
          "[alloc][reuse]") {
  // The case: 170k small objects in a 64 MiB pool, all freed, the
  // pool reopened; then the heap must take as many 32 KiB objects as a new
  // pool of the same size does.
  shm_pool_file fresh_file("fresh"), reuse_file("reuse");
  pool_options o;
  o.size = 64 << 20;
  std::size_t fresh = 0;
  {
    pool p = pool::open(fresh_file.path, o);
    fresh = fill_with(p, 32 << 10).size();
  }
  // A 32 KiB object takes a 34,816-byte slot (its header pushes it past the
  // 32 KiB class): 1,701 of them fit in this heap.
  CHECK(fresh > 1600);
  std::vector<std::uint64_t> small;
  {
    pool p = pool::open(reuse_file.path, o);
    std::mt19937 rng(3);
    while (small.size() < 170000) {
      p.transaction([&] {
        for (int i = 0; i < 1000; ++i) small.push_back(p.offset_of(p.allocate(16 + rng() % 480)));
      });
    }
    for (std::size_t i = 0; i < small.size(); i += 1000) {
      p.transaction([&] {
        for (std::size_t k = i; k < std::min(small.size(), i + 1000); ++k) {
          p.deallocate(p.at(small[k]));
        }
      });
    }
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open(reuse_file.path, o);
  CHECK(p.heap_statistics().objects == 0);
  // Where the first new runs land in the emptied heap decides a few
  // chunks at the end: at most 1% fewer objects than in a new pool.
  const std::size_t refill = fill_with(p, 32 << 10).size();
  INFO("new pool " << fresh << ", after freeing every small object " << refill);
  CHECK(refill * 100 >= fresh * 99);
  CHECK(p.check().empty());
}

TEST_CASE("a 2 MiB pool holds more than 1 MiB of mixed objects", "[alloc][small]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev, pool::min_size));
  std::mt19937 rng(5);
  std::uint64_t live = 0;
  for (;;) {
    // Log-uniform sizes from 16 B to 16 KiB.
    const auto size = static_cast<std::size_t>(std::exp2(4 + (rng() % 1000) / 100.0));
    try {
      p.transaction([&] { p.allocate(size); });
      live += size;
    } catch (const error& e) {
      CHECK(e.code() == error_code::out_of_space);
      break;
    }
  }
  INFO("live bytes " << live << " of a " << p.heap_size() << "-byte heap");
  CHECK(live > (1u << 20));
  CHECK(p.check().empty());
}

TEST_CASE("largest_free is the largest allocation that succeeds", "[alloc][stats]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev, 8 << 20));
  std::mt19937 rng(11);
  std::vector<void*> objs;
  for (int i = 0; i < 400; ++i) {
    p.transaction([&] { objs.push_back(p.allocate(16 + rng() % 30000)); });
  }
  for (int round = 0; round < 6; ++round) {
    p.transaction([&] {
      for (int i = 0; i < 60 && !objs.empty(); ++i) {
        const std::size_t k = rng() % objs.size();
        p.deallocate(objs[k]);
        objs.erase(objs.begin() + static_cast<std::ptrdiff_t>(k));
      }
    });
    const std::uint64_t largest = p.heap_statistics().largest_free;
    INFO("round " << round << " largest_free " << largest);
    CHECK(error_of([&] {
            p.transaction([&] {
              p.allocate(largest);
              throw error(error_code::tx_aborted, "only trying");
            });
          }) == error_code::tx_aborted);
    CHECK(error_of([&] { p.transaction([&] { p.allocate(largest + 1); }); }) ==
          error_code::out_of_space);
  }
  CHECK(p.check().empty());
}

TEST_CASE("an extent spans zone boundaries", "[alloc][extent]") {
  // The table is walked 128 MiB at a time; an object of 200 MiB crosses
  // at least one of those boundaries.
  shm_pool_file file("span");
  const std::filesystem::path& path = file.path;
  pool_options o;
  o.size = 300 << 20;
  std::uint64_t off = 0;
  {
    pool p = pool::open(path, o);
    p.transaction([&] { p.allocate(1000); });
    p.transaction([&] {
      auto* big = static_cast<std::uint8_t*>(p.allocate(200 << 20));
      big[(200 << 20) - 1] = 7;
      off = p.offset_of(big);
    });
    CHECK(p.heap_statistics().extents == 1);
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open(path, o);
  CHECK(p.object_size(p.at(off)) == (200u << 20));
  CHECK(static_cast<std::uint8_t*>(p.at(off))[(200 << 20) - 1] == 7);
  CHECK(p.check().empty());
  p.deallocate(p.at(off));
  p.transaction([&] { p.allocate(250 << 20); });
}

TEST_CASE("a grow past the chunk table's capacity moves the table", "[alloc][grow]") {
  test::temp_dir d;
  pool_options o;
  o.size = pool::min_size;  // a one-chunk table: room for 2 MiB of heap
  std::vector<std::uint64_t> offs;
  {
    pool p = pool::open(d / "t.pool", o);
    p.transaction([&] {
      for (int i = 0; i < 50; ++i) {
        auto* x = static_cast<std::uint64_t*>(p.allocate(8 + 100 * i));
        *x = static_cast<std::uint64_t>(i);
        offs.push_back(p.offset_of(x));
      }
    });
    p.grow(24 << 20);
    CHECK(p.check().empty());
    CHECK(p.heap_statistics().objects == 50);
    p.transaction([&] { p.allocate(20 << 20); });  // the grown space, in one piece
    p.grow(64 << 20);
    CHECK(p.check().empty());
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open(d / "t.pool", o);
  CHECK(p.check().empty());
  CHECK(p.heap_statistics().objects == 51);
  for (int i = 0; i < 50; ++i)
    CHECK(*static_cast<std::uint64_t*>(p.at(offs[i])) == std::uint64_t(i));
  p.transaction([&] { p.allocate(30 << 20); });
}

TEST_CASE("empty runs are given back crash-safely", "[alloc][crash]") {
  // Small objects fill the heap and are freed; then one extent needs their
  // chunks, so the allocator retires the empty runs (a record of its own)
  // before the extent's transaction. Every crash image along the way opens
  // clean, holds the table and either nothing else or the extent, and can
  // allocate the extent again.
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", sim_options(dev, pool::min_size));
    std::uint64_t holder = 0;
    p.transaction([&] { holder = p.offset_of(p.allocate(8)); });
    std::vector<void*> small;
    for (bool full = false; !full;) {
      try {
        p.transaction([&] {
          for (int i = 0; i < 100; ++i) small.push_back(p.allocate(200));
        });
      } catch (const error& e) {
        REQUIRE(e.code() == error_code::out_of_space);
        small.resize(small.size() / 100 * 100);  // the failed batch was not committed
        full = true;
      }
    }
    REQUIRE(small.size() > 3000);
    for (std::size_t i = 0; i < small.size(); i += 500) {
      p.transaction([&] {
        for (std::size_t k = i; k < std::min(small.size(), i + 500); ++k) p.deallocate(small[k]);
      });
    }
    const std::uint64_t big = p.heap_statistics().largest_free;
    REQUIRE(big > (1u << 20));
    int images = 0;
    std::vector<std::shared_ptr<sim_device>> before_extent;
    dev->on_barrier = [&](const sim_device& d) {
      for (auto& s : {std::vector<std::uint64_t>{}, d.dirty_units()}) {
        ++images;
        auto img = sim_device::from_image(d.crash_image(s), g);
        pool_options io = sim_options(img);
        io.mode = open_mode::open_existing;
        pool q = pool::open("img", io);
        CHECK(q.check().empty());
        const std::uint64_t objects = q.heap_statistics().objects;
        CHECK((objects == 1 || objects == 2));
        if (objects == 1) {
          CHECK(q.heap_statistics().largest_free == big);
          before_extent.push_back(img);  // allocated in below, out of this callback's transaction
        }
      }
    };
    p.allocate_into(static_cast<std::uint64_t*>(p.at(holder)), big);
    dev->on_barrier = nullptr;
    CHECK(images >= 4);
    for (auto& img : before_extent) {
      pool_options io = sim_options(img);
      io.mode = open_mode::open_existing;
      pool q = pool::open("img", io);
      q.transaction([&] { q.allocate(big); });
      CHECK(q.check().empty());
    }
    CHECK(p.heap_statistics().objects == 2);
    CHECK(p.check().empty());
  }
}
