// Tests of engine/pptr: encoding, resolution, persistence, rejection.
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/pool.h"
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
