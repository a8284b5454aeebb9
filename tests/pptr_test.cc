// Tests of engine/pptr: encoding, resolution, persistence, rejection.
#include <cstring>
#include <string>

#include "ferrite/engine/pool.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/transaction.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace {
struct node {
  std::uint64_t value;
  pptr<node> next;
};

template <class P>
concept dereferenceable = requires(P p) {
  *p;
  p.operator->();
};
}  // namespace

TEST_CASE("a null pptr is zero and false", "[pptr]") {
  pptr<node> p;
  CHECK_FALSE(p);
  CHECK(p.raw() == 0);
  CHECK(p.get() == nullptr);
  CHECK(p == pptr<node>(nullptr));
}

TEST_CASE("a list linked with pptr survives reopen", "[pptr]") {
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  std::uint64_t head_raw = 0;
  {
    pool p = pool::open(d / "l.pool", o);
    p.transaction([&] {
      pptr<node> head;
      for (std::uint64_t i = 0; i < 100; ++i) {
        pptr<node> n(static_cast<node*>(p.allocate(sizeof(node))));
        n->value = i;
        n->next = head;
        head = n;
      }
      head_raw = head.raw();
    });
    CHECK(pptr<node>::from_raw(head_raw).tag() == p.info().pool_tag);
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open(d / "l.pool", o);
  std::uint64_t sum = 0, count = 0;
  for (pptr<node> n = pptr<node>::from_raw(head_raw); n; n = n->next) {
    sum += n->value;
    ++count;
  }
  CHECK(count == 100);
  CHECK(sum == 4950);
}

TEST_CASE("a pptr to volatile memory is rejected", "[pptr][errors]") {
  node local{};
  CHECK(error_of([&] { pptr<node> p(&local); }) == error_code::invalid_argument);
}

TEST_CASE("a pptr into a closed pool does not resolve", "[pptr][errors]") {
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  pptr<node> n;
  {
    pool p = pool::open(d / "c.pool", o);
    p.transaction([&] { n = pptr<node>(static_cast<node*>(p.allocate(sizeof(node)))); });
  }
  CHECK(error_of([&] { (void)n.get(); }) == error_code::invalid_argument);
}

TEST_CASE("pointers into several open pools resolve to the right one", "[pptr]") {
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  pool a = pool::open(d / "a.pool", o);
  pool b = pool::open(d / "b.pool", o);  // the most recently opened
  node* na = nullptr;
  node* nb = nullptr;
  a.transaction([&] { na = static_cast<node*>(a.allocate(sizeof(node))); });
  b.transaction([&] { nb = static_cast<node*>(b.allocate(sizeof(node))); });
  pptr<node> pa(na), pb(nb);
  CHECK(pa.get() == na);
  CHECK(pb.get() == nb);
  b.close();  // a is no longer behind the most recent pool
  CHECK(pa.get() == na);
  CHECK(error_of([&] { (void)pb.get(); }) == error_code::invalid_argument);
  pool c = pool::open(d / "b.pool", o);  // reopened: pb resolves again
  CHECK(pb.get() != nullptr);
  CHECK(pb.get() == static_cast<node*>(c.at(pb.offset())));
  CHECK(pa.get() == na);
}

TEST_CASE("pptr<void> converts from any pptr, and back only explicitly", "[pptr]") {
  static_assert(std::is_convertible_v<pptr<node>, pptr<void>>);
  static_assert(std::is_convertible_v<pptr<node>, pptr<const void>>);
  static_assert(!std::is_convertible_v<pptr<void>, pptr<node>>);
  static_assert(std::is_constructible_v<pptr<node>, pptr<void>>);
  static_assert(!std::is_constructible_v<pptr<node>, pptr<const void>>);
  static_assert(dereferenceable<pptr<node>> && !dereferenceable<pptr<void>>);
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  pool p = pool::open(d / "v.pool", o);
  p.transaction([&] {
    pptr<node> n(static_cast<node*>(p.allocate(sizeof(node))));
    n->value = 3;
    const pptr<void> v = n;
    CHECK(v.raw() == n.raw());
    CHECK(v == n);
    CHECK(v.get() == n.get());
    CHECK(pptr<node>(v)->value == 3);
    CHECK(pptr<void>(static_cast<void*>(n.get())) == v);
  });
  const pptr<void> null = nullptr;
  CHECK_FALSE(null);
  CHECK(null.get() == nullptr);
  CHECK(pptr<node>(null) == nullptr);
}

// --- A damaged pointer gives error(corrupted), never a signal (DESIGN
// invariant 7). Each case damages one pointer and follows it.

namespace {

constexpr std::uint64_t offset_bits = (std::uint64_t{1} << 48) - 1;

// Pointer bits with n's tag and another offset.
std::uint64_t with_offset(pptr<node> n, std::uint64_t offset) {
  return (n.raw() & ~offset_bits) | offset;
}

// A pool with a two-node list; returns its head.
pptr<node> two_nodes(pool& p) {
  pptr<node> head;
  p.transaction([&] {
    pptr<node> second(static_cast<node*>(p.allocate(sizeof(node))));
    second->value = 2;
    head = pptr<node>(static_cast<node*>(p.allocate(sizeof(node))));
    head->value = 1;
    head->next = second;
  });
  return head;
}

// Sum of the values of the list from `n`.
std::uint64_t walk(pptr<node> n) {
  std::uint64_t sum = 0;
  for (; n; n = n->next) sum += n->value;
  return sum;
}

pool_options small_pool() {
  pool_options o;
  o.size = 4 << 20;
  return o;
}

}  // namespace

TEST_CASE("a pptr stored in the file with an offset past the heap end is corrupted",
          "[pptr][corrupted]") {
  test::temp_dir d;
  std::uint64_t head_raw = 0, field_offset = 0, heap_end = 0;
  {
    pool p = pool::open(d / "end.pool", small_pool());
    const pptr<node> head = two_nodes(p);
    head_raw = head.raw();
    field_offset = p.offset_of(&head->next);
    heap_end = p.heap_offset() + p.heap_size();
    REQUIRE(walk(head) == 3);
  }
  // Damage the file: head->next points one byte past the heap.
  {
    std::string bytes = test::read_file(d / "end.pool");
    const std::uint64_t bad = with_offset(pptr<node>::from_raw(head_raw), heap_end + 1);
    std::memcpy(bytes.data() + field_offset, &bad, sizeof bad);
    test::write_file(d / "end.pool", bytes);
  }
  pool_options o = small_pool();
  o.mode = open_mode::open_existing;
  pool p = pool::open(d / "end.pool", o);
  const pptr<node> head = pptr<node>::from_raw(head_raw);
  CHECK(head->value == 1);
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
}

TEST_CASE("a pptr whose target straddles the heap end is corrupted", "[pptr][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "straddle.pool", small_pool());
  const pptr<node> head = two_nodes(p);
  const std::uint64_t end = p.heap_offset() + p.heap_size();
  // The node's first byte is in the heap, its last 8 are not.
  head->next = pptr<node>::from_raw(with_offset(head, end - 8));
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
  // The last whole node of the heap resolves.
  CHECK(pptr<node>::from_raw(with_offset(head, end - sizeof(node))).get() != nullptr);
}

TEST_CASE("a pptr into the pool header or log (below the heap) is corrupted", "[pptr][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "below.pool", small_pool());
  const pptr<node> head = two_nodes(p);
  head->next = pptr<node>::from_raw(with_offset(head, p.heap_offset() - sizeof(node)));
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
  head->next = pptr<node>::from_raw(with_offset(head, 8));  // the pool header
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
}

TEST_CASE("a misaligned pptr is corrupted", "[pptr][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "align.pool", small_pool());
  const pptr<node> head = two_nodes(p);
  const pptr<node> second = head->next;
  head->next = pptr<node>::from_raw(second.raw() + 4);  // inside the heap, 4 off
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
  // A char needs no alignment: the same offset is a valid pptr<char>.
  CHECK(pptr<char>::from_raw(second.raw() + 4).get() == reinterpret_cast<char*>(second.get()) + 4);
}

TEST_CASE("a damaged pptr into a pool that is not the most recently opened is corrupted",
          "[pptr][corrupted]") {
  test::temp_dir d;
  pool a = pool::open(d / "a.pool", small_pool());
  const pptr<node> head = two_nodes(a);
  pool b = pool::open(d / "b.pool", small_pool());  // pointers into a take the slower path
  REQUIRE(walk(head) == 3);
  head->next = pptr<node>::from_raw(with_offset(head, a.heap_offset() + a.heap_size()));
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
  head->next = pptr<node>::from_raw(with_offset(head, a.heap_offset() + 20));
  CHECK(error_of([&] { walk(head); }) == error_code::corrupted);
}

TEST_CASE("a pptr<void> past the heap end is corrupted", "[pptr][corrupted][pptr_void]") {
  test::temp_dir d;
  pool p = pool::open(d / "void.pool", small_pool());
  const pptr<node> head = two_nodes(p);
  const std::uint64_t end = p.heap_offset() + p.heap_size();
  CHECK(error_of([&] { (void)pptr<void>::from_raw(with_offset(head, end)).get(); }) ==
        error_code::corrupted);
  CHECK(pptr<void>::from_raw(with_offset(head, end - 1)).get() != nullptr);  // one byte
}

namespace {
struct big_record {
  std::uint64_t words[10000];  // 80,000 bytes: checked at run time, not in one compare
};
}  // namespace

TEST_CASE("a pptr to an object larger than 64 KiB is checked whole", "[pptr][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "big.pool", small_pool());
  const pptr<node> head = two_nodes(p);
  const std::uint64_t end = p.heap_offset() + p.heap_size();
  CHECK(error_of([&] {
          (void)pptr<big_record>::from_raw(with_offset(head, end - sizeof(big_record) + 8)).get();
        }) == error_code::corrupted);
  CHECK(pptr<big_record>::from_raw(with_offset(head, end - sizeof(big_record))).get() != nullptr);
}

TEST_CASE("the corrupted error names the pool and the offset", "[pptr][corrupted]") {
  test::temp_dir d;
  pool p = pool::open(d / "named.pool", small_pool());
  const pptr<node> head = two_nodes(p);
  const std::uint64_t bad = p.heap_offset() + p.heap_size() + 4096;
  try {
    (void)pptr<node>::from_raw(with_offset(head, bad)).get();
    FAIL("no error");
  } catch (const error& e) {
    CHECK(e.code() == error_code::corrupted);
    const std::string what = e.what();
    CHECK(what.find("named.pool") != std::string::npos);
    CHECK(what.find(std::to_string(bad)) != std::string::npos);
  }
}
