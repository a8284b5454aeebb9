// Tests of engine/pmutex.h and engine/detail/lock_fields.h: locks as
// listed fields of registered types (type table kind 5) and the check of
// their layout at open, pshared_mutex between threads, the reset at open
// (after a close, a crash, and in a read-only open of another process),
// gc and check on pools whose objects hold locks, and the lock-field
// queries the transaction engine uses (has_lock_fields, lock_fields_in,
// field_name_at). `ferrite dump` of lock fields: tests/cli_test.sh.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/format/type_table_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/detail/lock_fields.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/txlog/superblock.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;
using ferrite::test::temp_dir;

namespace locktest {

struct account {
  ferrite::pmutex lock;
  std::int64_t balance;
};
FERRITE_TYPE(account, "locktest.Account", lock, balance)

// a 0, b 4, m 8: 16 bytes.
struct inner {
  std::int32_t a, b;
  ferrite::pmutex m;
};
FERRITE_TYPE(inner, "locktest.Inner", a, b, m)

// id 0, first 8, pair 16 (its locks at 24 and 40), rw 48, next 56: 64 bytes.
struct outer {
  std::int64_t id;
  ferrite::pmutex first;
  inner pair[2];
  ferrite::pshared_mutex rw;
  ferrite::pptr<outer> next;
};
FERRITE_TYPE(outer, "locktest.Outer", id, first, pair, rw, next)

// tag 0, padding 1-7, value 8: 16 bytes.
struct padded_inner {
  std::int8_t tag;
  std::int64_t value;
};
FERRITE_TYPE(padded_inner, "locktest.PaddedInner", tag, value)

// small 0, padding 1-7, big 8, in 16: 32 bytes.
struct padded {
  std::int8_t small;
  std::int64_t big;
  padded_inner in;
};
FERRITE_TYPE(padded, "locktest.Padded", small, big, in)

// One lock of each kind in each held state.
struct held {
  ferrite::pmutex m;               // locked
  ferrite::pshared_mutex writer;   // locked exclusive
  ferrite::pshared_mutex readers;  // locked shared, twice
  std::int64_t value;
};
FERRITE_TYPE(held, "locktest.Held", m, writer, readers, value)

// The root of the gc test: a chain of outers and a held.
struct holder {
  ferrite::pptr<outer> first;
  ferrite::pptr<held> locks;
};
FERRITE_TYPE(holder, "locktest.Holder", first, locks)

}  // namespace locktest

using namespace locktest;

namespace {

pool_options small() {
  pool_options o;
  o.size = 8 << 20;
  return o;
}

std::uint64_t raw_word(const void* lock) {
  std::uint64_t w;
  std::memcpy(&w, lock, sizeof w);
  return w;
}

// Takes every lock of `h` and sets its value, inside a transaction that
// made `h`: the held states are committed with the new object, so they
// are in the pool's durable image.
pptr<held> make_held(pool& p) {
  pptr<held> h;
  p.transaction([&] {
    h = p.root<held>();
    h->m.lock();
    h->writer.lock();
    h->readers.lock_shared();
    h->readers.lock_shared();
    h->value = 7;
  });
  return h;
}

// After a reopen: the held states reached the pool (the words are not
// zero) and every lock is free.
void check_free(held& h) {
  CHECK(h.value == 7);
  CHECK(raw_word(&h.m) != 0);
  CHECK(raw_word(&h.writer) != 0);
  CHECK(raw_word(&h.readers) != 0);
  CHECK(h.m.try_lock());
  h.m.unlock();
  CHECK(h.writer.try_lock_shared());
  h.writer.unlock_shared();
  CHECK(h.writer.try_lock());
  h.writer.unlock();
  CHECK(h.readers.try_lock());
  h.readers.unlock();
}

// A descriptor of locktest.Account as another build of the program would
// register it, with `lock` of type `lock_type`.
const type_descriptor& account_with(type_ref lock_type) {
  static std::vector<std::unique_ptr<type_descriptor>> keep;
  auto d = std::make_unique<type_descriptor>(detail::descriptor_of<account>());
  d->fields[0].type = lock_type;
  d->index = 0;
  keep.push_back(std::move(d));
  return *keep.back();
}

// "ferrite.pmutex" as a build that got its sub-kind wrong would store it.
const type_descriptor& pmutex_as_shared() {
  static const type_descriptor d = [] {
    type_descriptor r = detail::descriptor_of<pmutex>();
    r.subkind = static_cast<std::uint8_t>(lock_kind::shared);
    r.index = 0;
    return r;
  }();
  return d;
}

// A new object of `size` bytes with type id `type` (0: untyped); its offset.
std::uint64_t allocate(pool& p, std::size_t size, std::uint32_t type = 0) {
  std::uint64_t at = 0;
  p.transaction([&] { at = p.offset_of(p.allocate(size, type, 8)); });
  return at;
}

using ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

ranges locks_in(const pool& p, std::uint64_t begin, std::uint64_t end) {
  ranges out;
  detail::lock_fields_in(detail::impl_of(p), begin, end, out);
  return out;
}

}  // namespace

TEST_CASE("a struct with a pmutex field registers, stores and reopens", "[pmutex][types]") {
  const type_descriptor& d = detail::descriptor_of<account>();
  REQUIRE(d.fields.size() == 2);
  const type_descriptor& l = d.fields[0].type();
  CHECK(l.name == "ferrite.pmutex");
  CHECK(l.kind == type_kind::lock);
  CHECK(l.subkind == static_cast<std::uint8_t>(lock_kind::exclusive));
  CHECK(l.size == 8);
  CHECK(l.align == 8);
  const type_descriptor& s = detail::descriptor_of<pshared_mutex>();
  CHECK(s.name == "ferrite.pshared_mutex");
  CHECK(s.kind == type_kind::lock);
  CHECK(s.subkind == static_cast<std::uint8_t>(lock_kind::shared));

  temp_dir dir;
  {
    pool p = pool::open(dir / "a.pool", small());
    pptr<account> a = p.root<account>();
    {
      std::lock_guard guard(a->lock);
      p.transaction([&] {
        tx_snapshot(&a->balance);
        a->balance = 250;
      });
    }
    const detail::stored_type* t = detail::impl_of(p).types->find("ferrite.pmutex");
    REQUIRE(t != nullptr);
    CHECK(t->kind == type_kind::lock);
    CHECK(t->subkind == static_cast<std::uint8_t>(lock_kind::exclusive));
    CHECK(t->size == 8);
    CHECK(t->locks == std::vector<std::uint32_t>{0});
  }
  pool p = pool::open(dir / "a.pool", small());
  CHECK(p.root_type_name() == "locktest.Account");
  pptr<account> a = p.root<account>();
  CHECK(a->balance == 250);
  CHECK(a->lock.try_lock());
  a->lock.unlock();
  const detail::type_table& types = *detail::impl_of(p).types;
  const detail::stored_type* t = types.find("locktest.Account");
  REQUIRE(t != nullptr);
  REQUIRE(t->fields.size() == 2);
  CHECK(types.name_of(t->fields[0].type) == "ferrite.pmutex");
  CHECK(t->locks == std::vector<std::uint32_t>{0});
  CHECK(t->pointers.empty());
  CHECK(types.has_locks());
  CHECK(p.check().empty());
}

TEST_CASE("a lock field that differs from the program's is a layout mismatch at open",
          "[pmutex][types][errors]") {
  temp_dir dir;
  const type_descriptor* stored = nullptr;
  std::string field;
  SECTION("an u64 stored where the program has a pmutex") {
    stored = &account_with(&detail::descriptor_of<std::uint64_t>);
    field = "'lock'";
  }
  SECTION("a pshared_mutex stored where the program has a pmutex") {
    stored = &account_with(&detail::descriptor_of<pshared_mutex>);
    field = "ferrite.pshared_mutex";
  }
  SECTION("ferrite.pmutex stored with another lock kind") {
    stored = &pmutex_as_shared();
    field = "sub-kind";
  }
  {
    pool p = pool::open(dir / "l.pool", small());
    p.type_id(*stored);  // another build stored it so
  }
  try {
    pool::open(dir / "l.pool", small());
    FAIL("expected layout_mismatch");
  } catch (const error& e) {
    INFO(e.what());
    CHECK(e.code() == error_code::layout_mismatch);
    CHECK(std::string(e.what()).find(field) != std::string::npos);
  }
}

TEST_CASE("a type table entry of an unknown lock kind or an unknown kind is corrupted",
          "[pmutex][types][errors]") {
  temp_dir dir;
  pool::open(dir / "k.pool", small()).root<account>();
  std::string bytes = test::read_file(dir / "k.pool");
  detail::pool_header ph;
  std::memcpy(&ph, bytes.data(), sizeof ph);
  char* table = bytes.data() + ph.type_table_offset;
  detail::type_table_header th;
  std::memcpy(&th, table, sizeof th);
  detail::type_entry* lock_entry = nullptr;
  for (std::uint32_t i = 0; i < th.type_count; ++i) {
    auto* e = reinterpret_cast<detail::type_entry*>(table + detail::type_entries_offset +
                                                    i * sizeof(detail::type_entry));
    if (std::strcmp(e->name, "ferrite.pmutex") == 0) lock_entry = e;
  }
  REQUIRE(lock_entry != nullptr);
  std::string want;
  SECTION("lock kind 3") {
    lock_entry->subkind = 3;
    want = "unknown lock kind";
  }
  SECTION("kind 6, as from a newer ferrite") {
    lock_entry->kind = 6;
    want = "newer ferrite";
  }
  SECTION("a lock of 16 bytes") {
    lock_entry->size = 16;
    want = "a lock is not 8";
  }
  // A valid checksum: the open must reject the entry itself.
  th.checksum = 0;
  std::uint64_t c = detail::checksum64(&th, sizeof th, detail::pool_seed(ph));
  c = detail::checksum64(table + detail::type_entries_offset,
                         std::size_t{th.type_count} * sizeof(detail::type_entry), c);
  th.checksum = detail::checksum64(table + detail::field_entries_offset,
                                   std::size_t{th.field_count} * sizeof(detail::field_entry), c);
  std::memcpy(table, &th, sizeof th);
  test::write_file(dir / "k.pool", bytes);
  try {
    pool::open(dir / "k.pool", small());
    FAIL("expected corrupted");
  } catch (const error& e) {
    INFO(e.what());
    CHECK(e.code() == error_code::corrupted);
    CHECK(std::string(e.what()).find(want) != std::string::npos);
  }
}

TEST_CASE("pmutex serialises threads and is free again after reopen", "[tx][threads][pmutex]") {
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  {
    pool p = pool::open(d / "m.pool", o);
    struct counter {
      pmutex lock;
      std::uint64_t value;
    };
    auto* c = reinterpret_cast<counter*>(p.base() + p.heap_offset());
    auto worker = [&] {
      for (int i = 0; i < 300; ++i) {
        std::lock_guard guard(c->lock);
        p.transaction([&] {
          tx_snapshot(&c->value);  // never the lock word itself
          c->value += 1;
        });
      }
    };
    std::thread a(worker), b(worker);
    a.join();
    b.join();
    CHECK(c->value == 600);
    c->lock.lock();  // left locked at close
  }
  pool p = pool::open(d / "m.pool", o);
  auto* m = reinterpret_cast<pmutex*>(p.base() + p.heap_offset());
  CHECK(m->try_lock());  // a lock from an earlier open is free
  m->unlock();
}

TEST_CASE("pshared_mutex: try_lock and try_lock_shared follow the lock's state", "[pmutex]") {
  temp_dir dir;
  pool p = pool::open(dir / "t.pool", small());
  pshared_mutex& rw = p.make<outer>()->rw;
  rw.lock();
  CHECK_FALSE(rw.try_lock());
  CHECK_FALSE(rw.try_lock_shared());
  rw.unlock();
  rw.lock_shared();
  CHECK_FALSE(rw.try_lock());
  CHECK(rw.try_lock_shared());
  rw.unlock_shared();
  rw.unlock_shared();
  CHECK(raw_word(&rw) == 0);  // free again is zero
  CHECK(rw.try_lock());
  rw.unlock();
  CHECK(raw_word(&rw) == 0);
}

TEST_CASE("pshared_mutex: readers share it", "[pmutex][threads]") {
  temp_dir dir;
  pool p = pool::open(dir / "r.pool", small());
  pshared_mutex& rw = p.make<outer>()->rw;
  constexpr int readers = 4;
  std::atomic<int> inside{0};
  std::atomic<int> saw_all{0};
  auto reader = [&] {
    std::shared_lock r(rw);
    inside.fetch_add(1);
    // Every reader waits, holding the lock, until all are inside: only
    // possible if they hold it at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (inside.load() < readers && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (inside.load() == readers) saw_all.fetch_add(1);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i) threads.emplace_back(reader);
  for (auto& t : threads) t.join();
  CHECK(saw_all.load() == readers);
  CHECK(rw.try_lock());
  rw.unlock();
}

TEST_CASE("pshared_mutex: a writer excludes readers and writers", "[pmutex][threads]") {
  temp_dir dir;
  pool p = pool::open(dir / "w.pool", small());
  pptr<outer> o = p.make<outer>();
  pshared_mutex& rw = o->rw;
  std::int32_t& a = o->pair[0].a;  // written only under the exclusive lock
  std::int32_t& b = o->pair[0].b;
  constexpr int iterations = 500;
  std::atomic<int> writers_in{0}, readers_in{0}, violations{0};
  auto writer = [&] {
    for (int i = 0; i < iterations; ++i) {
      std::unique_lock w(rw);
      if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0) violations.fetch_add(1);
      a += 1;
      std::this_thread::yield();
      b += 1;
      writers_in.fetch_sub(1);
    }
  };
  auto reader = [&] {
    for (int i = 0; i < iterations; ++i) {
      std::shared_lock r(rw);
      readers_in.fetch_add(1);
      if (writers_in.load() != 0 || a != b) violations.fetch_add(1);
      readers_in.fetch_sub(1);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back(writer);
  for (int i = 0; i < 4; ++i) threads.emplace_back(reader);
  for (auto& t : threads) t.join();
  CHECK(violations.load() == 0);
  CHECK(a == 2 * iterations);
  CHECK(b == 2 * iterations);
  CHECK(raw_word(&rw) == 0);
}

TEST_CASE("pshared_mutex: a stream of readers does not starve a writer", "[pmutex][threads]") {
  temp_dir dir;
  pool p = pool::open(dir / "s.pool", small());
  pshared_mutex& rw = p.make<outer>()->rw;
  std::atomic<bool> stop{false}, written{false};
  // Four readers whose holds overlap: without the writer-waiting bit the
  // reader count would never drop to zero.
  auto reader = [&] {
    while (!stop.load()) {
      std::shared_lock r(rw);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(reader);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::thread writer([&] {
    std::unique_lock w(rw);
    written.store(true);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!written.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(written.load());  // before the readers were told to stop
  stop.store(true);
  writer.join();
  for (auto& t : threads) t.join();
}

TEST_CASE("held locks of both kinds are free after the pool is closed and reopened",
          "[pmutex][reopen]") {
  temp_dir dir;
  {
    pool p = pool::open(dir / "h.pool", small());
    pptr<held> h = make_held(p);
    CHECK_FALSE(h->m.try_lock());  // held in this open
    CHECK_FALSE(h->writer.try_lock_shared());
    CHECK_FALSE(h->readers.try_lock());
  }  // closed with every lock held
  pool p = pool::open(dir / "h.pool", small());
  check_free(*p.root<held>());
}

TEST_CASE("held locks of both kinds are free after a crash", "[pmutex][reopen]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o = small();
  o.device = dev;
  std::vector<std::byte> image;  // what survives a power failure with the locks held
  {
    pool p = pool::open("sim", o);
    pptr<held> h = make_held(p);
    CHECK_FALSE(h->m.try_lock());  // held in this open
    image = dev->durable();
  }
  // (The first pool is closed first: a second open of the same pool in one
  // process would not resolve persistent pointers.)
  pool_options c = small();
  c.device = sim_device::from_image(image, granularity::cache_line);
  c.mode = open_mode::open_existing;
  pool q = pool::open("crashed", c);
  CHECK_FALSE(q.info().was_clean_shutdown);
  check_free(*q.root<held>());
}

TEST_CASE("a lock a crashed writer held is free in a read-only open of another process",
          "[pmutex][reopen]") {
  temp_dir dir;
  pool::create(dir / "x.pool", 8 << 20).close();
  // The child opens with the same per-process open counter as the parent's
  // next open: only the pool's open count tells the two opens apart.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      pool_options o = small();
      o.mode = open_mode::open_existing;
      pool p = pool::open(dir / "x.pool", o);
      make_held(p);
      _exit(0);  // a crash: the pool is never closed
    } catch (...) {
      _exit(2);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  pool_options ro = small();
  ro.mode = open_mode::read_only;
  pool p = pool::open(dir / "x.pool", ro);
  check_free(*p.root<held>());
}

TEST_CASE("gc and check are clean on a pool with held lock fields", "[pmutex][gc]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o = small();
  o.device = dev;
  std::vector<std::byte> image;  // every lock held
  {
    pool p = pool::open("sim", o);
    pptr<holder> root = p.root<holder>();
    p.transaction([&] {
      pptr<outer> prev;
      for (int i = 0; i < 3; ++i) {
        pptr<outer> x = p.make<outer>();
        x->id = i;
        x->next = prev;
        x->first.lock();  // held, committed with the new objects
        x->pair[1].m.lock();
        x->rw.lock_shared();
        prev = x;
      }
      tx_snapshot(root.get());
      root->first = prev;
      root->locks = p.make<held>();
      root->locks->m.lock();
      root->locks->writer.lock();
      p.make<outer>()->first.lock();  // garbage
    });
    CHECK(check_pool(p).problems.empty());
    const gc_stats s = p.gc();
    CHECK(s.total.freed == 1);
    CHECK(s.by_type.at("locktest.Outer").live == 3);
    CHECK(s.by_type.at("locktest.Held").live == 1);
    CHECK(root->first->next->next->id == 0);
    CHECK(check_pool(p).problems.empty());
    image = dev->durable();
  }
  // After a crash with all of them held: the collection at open frees
  // nothing more, check is still clean and the locks are free.
  pool_options c = small();
  c.device = sim_device::from_image(image, granularity::cache_line);
  c.mode = open_mode::open_existing;
  pool q = pool::open("crashed", c);
  REQUIRE(q.gc_at_open().has_value());
  CHECK(q.gc_at_open()->total.freed == 0);
  CHECK(check_pool(q).problems.empty());
  pptr<holder> root = q.root<holder>();
  REQUIRE(root->first != nullptr);
  CHECK(root->first->id == 2);
  CHECK(root->first->first.try_lock());
  CHECK(root->first->pair[1].m.try_lock());
  CHECK(root->first->rw.try_lock());
  REQUIRE(root->locks != nullptr);
  CHECK(root->locks->writer.try_lock());
}

TEST_CASE("has_lock_fields is false until the pool stores a lock type", "[pmutex][lock_fields]") {
  temp_dir dir;
  pool p = pool::open(dir / "f.pool", small());
  const detail::pool_impl& impl = detail::impl_of(p);
  CHECK_FALSE(detail::has_lock_fields(impl));
  pptr<padded> x = p.make<padded>();
  CHECK_FALSE(detail::has_lock_fields(impl));
  const std::uint64_t at = p.offset_of(x.get());
  CHECK(locks_in(p, at, at + sizeof(padded)).empty());
  p.make<outer>();
  CHECK(detail::has_lock_fields(impl));
  p.close();
  pool q = pool::open(dir / "f.pool", small());
  CHECK(detail::has_lock_fields(detail::impl_of(q)));  // derived again at open
}

TEST_CASE("lock_fields_in finds the lock fields of nested structs and arrays, clipped",
          "[pmutex][lock_fields]") {
  temp_dir dir;
  pool p = pool::open(dir / "l.pool", small());
  pptr<outer> x = p.make<outer>();
  pptr<outer> y = p.make<outer>();
  const std::uint64_t bx = p.offset_of(x.get()), by = p.offset_of(y.get());
  REQUIRE(sizeof(outer) == 64);
  const detail::stored_type* t = detail::impl_of(p).types->find("locktest.Outer");
  REQUIRE(t != nullptr);
  CHECK(t->locks == std::vector<std::uint32_t>{8, 24, 40, 48});

  SECTION("a whole object") {
    CHECK(locks_in(p, bx, bx + 64) ==
          ranges{{bx + 8, bx + 16}, {bx + 24, bx + 32}, {bx + 40, bx + 48}, {bx + 48, bx + 56}});
  }
  SECTION("clipped to the range") {
    CHECK(locks_in(p, bx + 12, bx + 44) ==
          ranges{{bx + 12, bx + 16}, {bx + 24, bx + 32}, {bx + 40, bx + 44}});
    CHECK(locks_in(p, bx + 16, bx + 24).empty());  // pair[0].a and .b
    CHECK(locks_in(p, bx, bx).empty());
  }
  SECTION("a range over two objects, and the bytes between them") {
    const std::uint64_t lo = std::min(bx, by), hi = std::max(bx, by);
    const ranges r = locks_in(p, lo + 40, hi + 16);
    REQUIRE(r.size() == 3);
    CHECK(r[0] == std::pair{lo + 40, lo + 48});
    CHECK(r[1] == std::pair{lo + 48, lo + 56});
    CHECK(r[2] == std::pair{hi + 8, hi + 16});
  }
  SECTION("an object holding an array of its type") {
    const std::uint32_t id = p.type_id(detail::descriptor_of<outer>());
    const std::uint64_t b = allocate(p, 3 * sizeof(outer), id);
    const ranges r = locks_in(p, b, b + 3 * 64);
    REQUIRE(r.size() == 12);
    CHECK(r[4] == std::pair{b + 64 + 8, b + 64 + 16});
    CHECK(r[11] == std::pair{b + 128 + 48, b + 128 + 56});
    CHECK(locks_in(p, b + 100, b + 140) ==
          ranges{{b + 104, b + 112}, {b + 112, b + 120}, {b + 136, b + 140}});
  }
  SECTION("a bare lock object, untyped objects and free space") {
    pptr<pmutex> m = p.make<pmutex>();
    const std::uint64_t bm = p.offset_of(m.get());
    CHECK(locks_in(p, bm, bm + 8) == ranges{{bm, bm + 8}});
    const std::uint64_t raw = allocate(p, 64);
    CHECK(locks_in(p, raw, raw + 64).empty());
    CHECK(locks_in(p, p.heap_offset(), p.heap_offset() + 4096).empty());  // the chunk table
    const std::uint64_t far = p.heap_offset() + p.heap_size() - 8192;
    CHECK(locks_in(p, far, far + 4096).empty());
  }
}

TEST_CASE("field_name_at names the field at a pool offset", "[pmutex][lock_fields]") {
  temp_dir dir;
  pool p = pool::open(dir / "n.pool", small());
  const detail::pool_impl& impl = detail::impl_of(p);
  pptr<outer> x = p.make<outer>();
  const std::uint64_t b = p.offset_of(x.get());
  CHECK(detail::field_name_at(impl, b) == "locktest.Outer.id");
  CHECK(detail::field_name_at(impl, b + 7) == "locktest.Outer.id");
  CHECK(detail::field_name_at(impl, b + 9) == "locktest.Outer.first");
  CHECK(detail::field_name_at(impl, b + 16) == "locktest.Outer.pair[0].a");
  CHECK(detail::field_name_at(impl, b + 16 + 16 + 4) == "locktest.Outer.pair[1].b");
  CHECK(detail::field_name_at(impl, b + 40) == "locktest.Outer.pair[1].m");
  CHECK(detail::field_name_at(impl, b + 55) == "locktest.Outer.rw");
  CHECK(detail::field_name_at(impl, b + 56) == "locktest.Outer.next");
  CHECK(detail::field_name_at(impl, b - 1).empty());   // the object header
  CHECK(detail::field_name_at(impl, b + 64).empty());  // past the object

  pptr<padded> y = p.make<padded>();
  const std::uint64_t py = p.offset_of(y.get());
  CHECK(detail::field_name_at(impl, py) == "locktest.Padded.small");
  CHECK(detail::field_name_at(impl, py + 3).empty());  // padding of the struct itself
  CHECK(detail::field_name_at(impl, py + 17) == "locktest.Padded.in");  // padding inside `in`
  CHECK(detail::field_name_at(impl, py + 24) == "locktest.Padded.in.value");

  const std::uint32_t id = p.type_id(detail::descriptor_of<outer>());
  const std::uint64_t arr = allocate(p, 3 * sizeof(outer), id);
  CHECK(detail::field_name_at(impl, arr + 2 * 64 + 48) == "locktest.Outer[2].rw");
  CHECK(detail::field_name_at(impl, arr + 64 + 24) == "locktest.Outer[1].pair[0].m");

  const std::uint64_t m = p.offset_of(p.make<pmutex>().get());
  CHECK(detail::field_name_at(impl, m + 3) == "ferrite.pmutex");
  CHECK(detail::field_name_at(impl, allocate(p, 32) + 8).empty());  // untyped
  CHECK(detail::field_name_at(impl, p.heap_offset()).empty());      // metadata
  CHECK(detail::field_name_at(impl, 0).empty());                    // the pool header
}

TEST_CASE("an abort leaves a lock field alone when a snapshot covered the whole struct",
          "[pmutex][tx]") {
  temp_dir dir;
  pool p = pool::open(dir / "abort.pool", small());
  pptr<account> a = p.root<account>();
  // Snapshotted while free, locked inside the transaction: the abort must
  // not unlock a mutex this thread still holds.
  CHECK(error_of([&] {
          p.transaction([&] {
            tx_snapshot(a.get());  // lock and balance
            a->balance = 5;
            a->lock.lock();
            throw error(error_code::invalid_argument, "the test aborts this transaction");
          });
        }) == error_code::invalid_argument);
  CHECK(a->balance == 0);           // data is restored
  CHECK_FALSE(a->lock.try_lock());  // the lock is still held
  a->lock.unlock();
  // Snapshotted while held, released inside: the abort must not lock a
  // mutex nobody holds.
  a->lock.lock();
  CHECK(error_of([&] {
          p.transaction([&] {
            tx_snapshot(a.get());
            a->balance = 6;
            a->lock.unlock();
            throw error(error_code::invalid_argument, "the test aborts this transaction");
          });
        }) == error_code::invalid_argument);
  CHECK(a->balance == 0);
  CHECK(a->lock.try_lock());
  a->lock.unlock();
}

TEST_CASE("checked mode does not report lock fields changed by lock and unlock",
          "[pmutex][checked]") {
  temp_dir dir;
  pool_options o = small();
  o.checked_transactions = true;
  pool p = pool::open(dir / "checked.pool", o);
  pptr<account> a = p.root<account>();
  for (int i = 0; i < 3; ++i) {
    std::lock_guard guard(a->lock);  // stores to the lock word outside the transaction
    p.transaction([&] {
      tx_snapshot(&a->balance);
      a->balance += 10;
    });
  }
  CHECK(a->balance == 30);
  // A store next to the lock is still reported, and names its field.
  std::string what;
  try {
    std::lock_guard guard(a->lock);
    p.transaction([&] { a->balance = 99; });
  } catch (const error& e) {
    CHECK(e.code() == error_code::missing_snapshot);
    what = e.what();
  }
  CHECK(what.find("locktest.Account.balance") != std::string::npos);
  CHECK(a->balance == 30);
  p.gc();  // nothing outside transactions but lock words
}
