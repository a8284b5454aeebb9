// Tests of ferrite::p<T> (engine/p.h): fields that snapshot themselves.
// Where a store goes (the running transaction, a transaction of its own,
// ordinary memory, another pool's transaction), what abort and a crash
// leave, checked mode, pointer fields and the collector, and the type
// table a p<T> field shares with a plain T.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/p.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;
using ferrite::test::temp_dir;

namespace ptest {

enum class mood : std::uint8_t { calm, busy, gone };

struct account {
  ferrite::p<std::int64_t> balance;
  ferrite::p<pptr<account>> next;
};
FERRITE_TYPE(account, "ptest.Account", balance, next)

// One field of each kind of scalar, for the compound operators.
struct counters {
  ferrite::p<std::int64_t> i64;
  ferrite::p<std::uint32_t> u32;
  ferrite::p<std::uint8_t> u8;
  ferrite::p<double> f64;
  ferrite::p<bool> flag;
  ferrite::p<mood> state;
};
FERRITE_TYPE(counters, "ptest.Counters", i64, u32, u8, f64, flag, state)

// A p<T> next to a plain field, for checked mode.
struct mixed {
  ferrite::p<std::int64_t> guarded;
  std::int64_t plain;
};
FERRITE_TYPE(mixed, "ptest.Mixed", guarded, plain)

struct node {
  ferrite::p<std::int64_t> v;
  ferrite::p<pptr<node>> next;
  ferrite::p<pptr<void>> any;
};
FERRITE_TYPE(node, "ptest.Node", v, next, any)

struct holder {
  ferrite::p<pptr<node>> first;
};
FERRITE_TYPE(holder, "ptest.Holder", first)

// What another build of the program, written before p<T>, declared as
// ptest.Account: the same fields as plain members. Not registered (one
// stable name has one definition per program): plain_build() is the
// descriptor FERRITE_TYPE would give it, made by the same helpers.
struct plain_account {
  std::int64_t balance;
  pptr<account> next;
};

const type_descriptor& plain_build() {
  static const type_descriptor d = [] {
    type_descriptor r = detail::make_struct<plain_account>(
        "ptest.Account",
        {detail::make_field<std::int64_t>("balance", offsetof(plain_account, balance)),
         detail::make_field<pptr<account>>("next", offsetof(plain_account, next))});
    return r;
  }();
  return d;
}

}  // namespace ptest

using namespace ptest;

// The layout promises (engine/p.h checks them too, on its own struct).
static_assert(sizeof(ferrite::p<std::int64_t>) == sizeof(std::int64_t));
static_assert(alignof(ferrite::p<std::int64_t>) == alignof(std::int64_t));
static_assert(sizeof(ferrite::p<std::uint8_t>) == 1 && alignof(ferrite::p<std::uint8_t>) == 1);
static_assert(sizeof(ferrite::p<double>) == 8 && alignof(ferrite::p<double>) == alignof(double));
static_assert(sizeof(ferrite::p<mood>) == sizeof(mood));
static_assert(sizeof(ferrite::p<pptr<node>>) == 8 && alignof(ferrite::p<pptr<node>>) == 8);
static_assert(sizeof(ferrite::p<pptr<void>>) == 8);
static_assert(std::is_trivially_copyable_v<ferrite::p<std::int64_t>>);
static_assert(std::is_trivially_copyable_v<ferrite::p<pptr<node>>>);
static_assert(std::is_standard_layout_v<ferrite::p<std::int64_t>>);
static_assert(std::is_trivially_copyable_v<account> && std::is_standard_layout_v<account>);
static_assert(std::is_trivially_copyable_v<counters> && std::is_standard_layout_v<counters>);
static_assert(std::is_trivially_copyable_v<node> && std::is_standard_layout_v<node>);
static_assert(sizeof(account) == sizeof(plain_account));
static_assert(offsetof(account, balance) == offsetof(plain_account, balance));
static_assert(offsetof(account, next) == offsetof(plain_account, next));
// Copy assignment would store without the snapshot: deleted, for the
// field and for a struct holding one. Copy construction stays trivial.
static_assert(!std::is_copy_assignable_v<ferrite::p<std::int64_t>>);
static_assert(!std::is_move_assignable_v<ferrite::p<std::int64_t>>);
static_assert(!std::is_copy_assignable_v<account>);
static_assert(std::is_trivially_copy_constructible_v<ferrite::p<std::int64_t>>);
static_assert(std::is_trivially_copy_constructible_v<account>);
static_assert(std::is_assignable_v<ferrite::p<std::int64_t>&, std::int64_t>);
static_assert(std::is_assignable_v<ferrite::p<pptr<node>>&, std::nullptr_t>);
static_assert(std::is_assignable_v<ferrite::p<pptr<void>>&, pptr<node>>);
// Only the operators T has.
template <class F>
concept incrementable = requires(F& f) {
  ++f;
};
template <class F>
concept has_remainder = requires(F& f) {
  f %= 2;
};
template <class F>
concept addable = requires(F& f) {
  f += 1;
};
static_assert(incrementable<ferrite::p<std::int64_t>> && incrementable<ferrite::p<std::uint8_t>>);
static_assert(!incrementable<ferrite::p<bool>> && !incrementable<ferrite::p<pptr<node>>>);
static_assert(has_remainder<ferrite::p<std::int64_t>> && !has_remainder<ferrite::p<double>>);
static_assert(!addable<ferrite::p<mood>> && !addable<ferrite::p<pptr<node>>>);

namespace {

pool_options sim_options(std::shared_ptr<sim_device> dev) {
  pool_options o;
  o.device = std::move(dev);
  o.size = 4 << 20;
  return o;
}

// Reopens a simulated pool from what is durable now, as after a power cut.
// Closes `original` after taking the image: pointers into a pool open twice
// in one process resolve to the first handle.
pool crash_and_reopen(pool& original, const std::shared_ptr<sim_device>& dev,
                      std::shared_ptr<sim_device>& crashed) {
  crashed = sim_device::from_image(dev->durable(), dev->store_granularity());
  original.close();
  pool_options o = sim_options(crashed);
  o.mode = open_mode::open_existing;
  return pool::open("crashed", o);
}

pool_options small_pool() {
  pool_options o;
  o.size = 16 << 20;
  return o;
}

}  // namespace

TEST_CASE("a p<T> store outside a transaction survives a reopen", "[p]") {
  temp_dir d;
  {
    pool pl = pool::open(d / "a.pool", small_pool());
    pptr<account> a = pl.root<account>();
    const std::uint64_t commits = pl.stats().commits;
    a->balance = 7;  // a transaction of its own
    CHECK(pl.stats().commits == commits + 1);
    CHECK(a->balance == 7);
  }
  pool pl = pool::open(d / "a.pool", small_pool());
  CHECK(pl.root<account>()->balance == 7);
}

TEST_CASE("a p<T> store outside a transaction is durable when it returns", "[p]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool pl = pool::open("sim", sim_options(dev));
    pptr<account> a = pl.root<account>();
    a->balance = 11;
    a->balance += 1;
    ++a->balance;
    std::shared_ptr<sim_device> crashed;
    pool q = crash_and_reopen(pl, dev, crashed);  // only what was durable already
    CHECK(q.root<account>()->balance == 13);
  }
}

TEST_CASE("a p<T> store inside an aborted transaction is rolled back", "[p]") {
  auto dev = std::make_shared<sim_device>();
  pool pl = pool::open("sim", sim_options(dev));
  pptr<account> a = pl.root<account>();
  a->balance = 1;
  {
    transaction tx(pl);
    a->balance = 2;
    CHECK(a->balance == 2);
    tx.abort();
  }
  CHECK(a->balance == 1);
  try {
    pl.transaction([&] {
      a->balance = 3;
      a->next = a;
      throw std::runtime_error("changed my mind");
    });
    FAIL("the exception did not leave pool.transaction");
  } catch (const std::runtime_error&) {
  }
  CHECK(a->balance == 1);
  CHECK(a->next == nullptr);
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(pl, dev, crashed);
  CHECK(q.root<account>()->balance == 1);
}

TEST_CASE("a p<T> store committed inside a transaction survives a reopen", "[p]") {
  auto dev = std::make_shared<sim_device>();
  pool pl = pool::open("sim", sim_options(dev));
  pptr<account> a = pl.root<account>();
  const std::uint64_t commits = pl.stats().commits;
  pl.transaction([&] {
    pptr<account> b = pl.make<account>();
    b->balance = 5;  // a new object: tx_snapshot skips it, the record carries it
    a->balance = 10;
    a->next = b;
  });
  CHECK(pl.stats().commits == commits + 1);  // one record, not one per store
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(pl, dev, crashed);
  pptr<account> r = q.root<account>();
  CHECK(r->balance == 10);
  REQUIRE(r->next != nullptr);
  CHECK(r->next->balance == 5);
}

TEST_CASE("compound operators and ++ on p<T> are logged: abort restores, commit persists", "[p]") {
  auto dev = std::make_shared<sim_device>();
  pool pl = pool::open("sim", sim_options(dev));
  pptr<counters> c = pl.root<counters>();
  pl.transaction([&] {
    c->i64 = 100;
    c->u32 = 0xf0;
    c->u8 = 250;
    c->f64 = 1.5;
    c->flag = false;
    c->state = mood::calm;
  });
  auto change_everything = [&] {
    c->i64 += 5;    // 105
    c->i64 -= 1;    // 104
    c->i64 *= 3;    // 312
    c->i64 /= 2;    // 156
    c->i64 %= 100;  // 56
    ++c->i64;       // 57
    CHECK(c->i64++ == 57);
    --c->i64;  // 57
    CHECK(c->i64-- == 57);
    c->u32 &= 0x3c;  // 0x30
    c->u32 |= 0x1;   // 0x31
    c->u32 ^= 0x10;  // 0x21
    c->u32 <<= 4;    // 0x210
    c->u32 >>= 1;    // 0x108
    c->u8 += 10;     // wraps as a uint8_t does: 4
    c->f64 *= 2;     // 3.0
    c->flag = true;
    c->state = mood::busy;
  };
  {
    transaction tx(pl);
    change_everything();
    tx.abort();
  }
  CHECK(c->i64 == 100);
  CHECK(c->u32 == 0xf0u);
  CHECK(c->u8 == 250);
  CHECK(c->f64 == 1.5);
  CHECK_FALSE(c->flag);
  CHECK(c->state == mood::calm);

  pl.transaction(change_everything);
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(pl, dev, crashed);
  pptr<counters> r = q.root<counters>();
  CHECK(r->i64 == 56);
  CHECK(r->u32 == 0x108u);
  CHECK(r->u8 == 4);
  CHECK(r->f64 == 3.0);
  CHECK(r->flag);
  CHECK(r->state == mood::busy);
}

TEST_CASE("checked mode accepts p<T> stores without tx_snapshot and refuses a raw store",
          "[p][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool_options o = sim_options(dev);
  o.checked_transactions = true;
  pool pl = pool::open("sim", o);
  pptr<mixed> m = pl.root<mixed>();
  pl.transaction([&] { m->guarded = 1; });
  m->guarded += 1;  // its own checked transaction
  CHECK(m->guarded == 2);
  try {
    pl.transaction([&] {
      m->guarded = 3;
      m->plain = 4;  // a raw store with no snapshot
    });
    FAIL("the raw store was not reported");
  } catch (const error& e) {
    CHECK(e.code() == error_code::missing_snapshot);
    const std::string expect = "offset " + std::to_string(pl.offset_of(&m->plain));
    CHECK(std::string(e.what()).find(expect) != std::string::npos);
  }
  CHECK(m->guarded == 2);
  CHECK(m->plain == 0);
}

TEST_CASE("a p<T> in ordinary memory is a plain store", "[p]") {
  auto dev = std::make_shared<sim_device>();
  pool pl = pool::open("sim", sim_options(dev));
  pptr<account> a = pl.root<account>();
  a->balance = 1;
  const std::uint64_t commits = pl.stats().commits;
  account local = *a;  // a copy on the stack
  local.balance = 99;
  local.balance += 1;
  local.next = a;
  CHECK(local.balance == 100);
  CHECK(local.next == a);
  CHECK(a->balance == 1);
  CHECK(pl.stats().commits == commits);  // no transaction
  pl.transaction([&] {                   // inside one: still plain, and the transaction goes on
    account copy = *a;
    copy.balance = 5;
    CHECK(copy.balance == 5);
    a->balance = 2;
  });
  CHECK(a->balance == 2);
  auto on_heap = std::make_unique<account>();
  on_heap->balance = 3;
  CHECK(on_heap->balance == 3);
}

TEST_CASE("a p<T> store while a transaction runs on another pool is tx_invalid", "[p][errors]") {
  pool a = pool::open("a", sim_options(std::make_shared<sim_device>()));
  pool b = pool::open("b", sim_options(std::make_shared<sim_device>()));
  pptr<account> in_a = a.root<account>();
  pptr<account> in_b = b.root<account>();
  in_b->balance = 1;
  a.transaction([&] {
    in_a->balance = 10;
    CHECK(error_of([&] { in_b->balance = 2; }) == error_code::tx_invalid);
    CHECK(error_of([&] { ++in_b->balance; }) == error_code::tx_invalid);
    in_a->balance += 1;  // the transaction on a is not poisoned
  });
  CHECK(in_a->balance == 11);
  CHECK(in_b->balance == 1);
  try {
    a.transaction([&] { in_b->balance = 2; });
    FAIL("expected tx_invalid");
  } catch (const error& e) {
    CHECK(std::string(e.what()).find("'b'") != std::string::npos);
    CHECK(std::string(e.what()).find("'a'") != std::string::npos);
  }
}

TEST_CASE("a p<T> store on a read-only pool is read_only", "[p][errors]") {
  temp_dir d;
  {
    pool pl = pool::open(d / "r.pool", small_pool());
    pl.root<account>()->balance = 4;
  }
  pool_options o = small_pool();
  o.mode = open_mode::read_only;
  pool pl = pool::open(d / "r.pool", o);
  pptr<account> a = pl.root<account>();
  CHECK(error_of([&] { a->balance = 5; }) == error_code::read_only);
  CHECK(a->balance == 4);
}

TEST_CASE("p<pptr<T>> forwards -> and *, and gc keeps its target", "[p][gc]") {
  temp_dir d;
  {
    pool pl = pool::open(d / "g.pool", small_pool());
    pptr<holder> h = pl.root<holder>();
    pl.transaction([&] {
      h->first = pl.make<node>(node{1, nullptr, nullptr});
      h->first->next = pl.make<node>(node{2, nullptr, nullptr});
      h->first->any = pl.make<node>(node{3, nullptr, nullptr});  // reachable only as pptr<void>
    });
    pl.make<node>(node{4, nullptr, nullptr});  // never linked: garbage
    CHECK(h->first->v == 1);
    CHECK(h->first->next->v == 2);
    CHECK((*h->first).v == 1);
    CHECK(h->first);
    CHECK_FALSE(h->first->next->next);
    CHECK(h->first->next->next == nullptr);
    const gc_stats s = pl.gc();
    CHECK(s.total.freed == 1);
    CHECK(s.by_type.at("ptest.Node").live == 3);
    CHECK(h->first->next->v == 2);
    CHECK(pl.check().empty());
  }
  pool pl = pool::open(d / "g.pool", small_pool());
  pptr<holder> h = pl.root<holder>();
  CHECK(h->first->v == 1);
  CHECK(h->first->next->v == 2);
  CHECK(pptr<node>(h->first->any.get())->v == 3);
  CHECK(pl.gc().total.freed == 0);
}

TEST_CASE("a p<T> field is recorded as its inner type", "[p][types]") {
  // The descriptor of p<T> is T's, the same object.
  CHECK(&detail::descriptor_of<ferrite::p<std::int64_t>>() ==
        &detail::descriptor_of<std::int64_t>());
  CHECK(&detail::descriptor_of<ferrite::p<pptr<account>>>() ==
        &detail::descriptor_of<pptr<account>>());
  CHECK(&detail::descriptor_of<ferrite::p<mood>>() == &detail::descriptor_of<mood>());
  // The struct with p<T> fields describes itself as the plain struct would.
  const type_descriptor& with_p = detail::descriptor_of<account>();
  const type_descriptor& plain = plain_build();
  CHECK(with_p.name == plain.name);
  CHECK(with_p.kind == plain.kind);
  CHECK(with_p.size == plain.size);
  CHECK(with_p.align == plain.align);
  CHECK(with_p.version == plain.version);
  REQUIRE(with_p.fields.size() == plain.fields.size());
  for (std::size_t i = 0; i < plain.fields.size(); ++i) {
    CHECK(with_p.fields[i].name == plain.fields[i].name);
    CHECK(with_p.fields[i].offset == plain.fields[i].offset);
    CHECK(with_p.fields[i].size == plain.fields[i].size);
    CHECK(with_p.fields[i].count == plain.fields[i].count);
    CHECK(&with_p.fields[i].type() == &plain.fields[i].type());
  }
}

TEST_CASE("a pool written with a plain int64_t field opens with p<int64_t>", "[p][types]") {
  // What this proves: a type table entry written from the plain struct's
  // descriptor (plain_build: what FERRITE_TYPE makes of plain_account) and
  // an object laid out as a plain_account are accepted at open by this
  // program, which registers ptest.Account with p<T> fields, and read and
  // written through them. Both builds cannot live in one process under one
  // name, so the "old build" is its descriptor and its bytes, not a second
  // compiled FERRITE_TYPE.
  temp_dir d;
  {
    pool pl = pool::open(d / "old.pool", small_pool());
    const std::uint32_t id = pl.type_id(plain_build());  // the table entry, from the plain layout
    pl.transaction([&] {
      void* mem = pl.allocate(sizeof(plain_account), id, alignof(plain_account));
      const plain_account old{41, nullptr};
      std::memcpy(mem, &old, sizeof old);
      pl.set_root(pptr<account>(static_cast<account*>(mem)));
    });
  }
  pool pl = pool::open(d / "old.pool", small_pool());  // no layout_mismatch
  pptr<account> a = pl.root<account>();
  CHECK(a->balance == 41);
  a->balance += 1;
  pl.close();
  pool again = pool::open(d / "old.pool", small_pool());
  pptr<account> r = again.root<account>();
  CHECK(r->balance == 42);
  // The bytes are those of a plain_account.
  const auto* raw = reinterpret_cast<const std::byte*>(r.get());
  std::int64_t balance = 0;
  std::uint64_t next = 1;
  std::memcpy(&balance, raw + offsetof(plain_account, balance), sizeof balance);
  std::memcpy(&next, raw + offsetof(plain_account, next), sizeof next);
  CHECK(balance == 42);
  CHECK(next == 0);
}

TEST_CASE("a p<pptr> field holding a pointer past the heap is corrupted", "[p][corrupted]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool pl = pool::open("sim", sim_options(dev));
  pptr<account> a = pl.make<account>();
  pptr<account> b = pl.make<account>();
  a->next = b;
  b->balance = 7;
  REQUIRE(a->next->balance == 7);
  // Damaged in the working view: bypasses the p<T> store.
  const std::uint64_t bad =
      (b.raw() & ~((std::uint64_t{1} << 48) - 1)) | (pl.heap_offset() + pl.heap_size() + 64);
  std::memcpy(static_cast<void*>(&a->next), &bad, sizeof bad);
  CHECK(error_of([&] { (void)a->next->balance.get(); }) == error_code::corrupted);
  CHECK(error_of([&] { (void)*a->next; }) == error_code::corrupted);
}
