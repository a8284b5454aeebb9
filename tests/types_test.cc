// Tests of the typed layer's core: registered types, the type table, the
// typed root, make/destroy and cross-pool pointer rejection
// (engine/type_info.h, engine/detail/type_table.h, engine/object_ops.h).
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "ferrite/base/format/type_table_format.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/type_table.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/string.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace typetest {

struct point {
  std::int32_t x, y;
};
FERRITE_TYPE(point, "test.Point", x, y)

struct node {
  std::int64_t value;
  pptr<node> next;
};
FERRITE_TYPE(node, "test.Node", value, next)

struct game {
  char name[16];
  std::int64_t maximum;
  point last[2];
  ferrite::string title;
  pptr<node> moves;
};
FERRITE_TYPE(game, "test.Game", name, maximum, last, title, moves)

// Registered under a name another descriptor also uses (see the layout
// mismatch cases).
struct moved {
  std::int64_t a, b;
};
FERRITE_TYPE(moved, "test.Moved", a, b)

struct versioned {
  static constexpr std::uint32_t ferrite_version = 3;
  std::int64_t a;
};
FERRITE_TYPE(versioned, "test.Versioned", a)

}  // namespace typetest

using namespace typetest;

namespace {

pool_options small() {
  pool_options o;
  o.size = 4 << 20;
  return o;
}

// A descriptor with the same name as `moved` but the fields swapped, as
// another build of the program would have.
const type_descriptor& moved_other_build() {
  static const type_descriptor d = [] {
    type_descriptor r = detail::descriptor_of<moved>();
    r.fields[0].offset = 8;
    r.fields[1].offset = 0;
    r.index = 0;
    return r;
  }();
  return d;
}

}  // namespace

TEST_CASE("a registered type describes its fields", "[types]") {
  const type_descriptor& d = detail::descriptor_of<game>();
  CHECK(d.name == "test.Game");
  CHECK(d.kind == type_kind::structure);
  CHECK(d.size == sizeof(game));
  REQUIRE(d.fields.size() == 5);
  CHECK(d.fields[0].name == "name");
  CHECK(d.fields[0].count == 16);
  CHECK(d.fields[0].type().name == "char");
  CHECK(d.fields[2].count == 2);
  CHECK(d.fields[2].offset == offsetof(game, last));
  CHECK(d.fields[2].type().name == "test.Point");
  CHECK(d.fields[3].type().name == "ferrite.string");
  CHECK(d.fields[4].type().name == "ferrite.ptr<test.Node>");
  CHECK(detail::descriptor_of<versioned>().version == 3);
}

TEST_CASE("types registered before main are all known", "[types]") {
  auto all = detail::registered_types();
  auto has = [&](const char* n) {
    for (auto* d : all)
      if (d->name == n) return true;
    return false;
  };
  CHECK(has("test.Game"));
  CHECK(has("test.Node"));
  CHECK(has("ferrite.ptr<test.Node>"));
  CHECK(has("test.Point"));
}

TEST_CASE("the type table records types and survives reopen", "[types]") {
  test::temp_dir dir;
  std::uint32_t game_id = 0;
  {
    pool p = pool::open(dir / "t.pool", small());
    game_id = p.type_id(detail::descriptor_of<game>());
    CHECK(game_id >= 64);
    CHECK(p.type_id(detail::descriptor_of<game>()) == game_id);
    CHECK(p.type_name(game_id) == "test.Game");
  }
  pool p = pool::open(dir / "t.pool", small());
  CHECK(p.type_name(game_id) == "test.Game");
  auto types = ferrite::detail::impl_of(p).types->types();
  bool found_ptr = false;
  for (const auto& t : types) {
    if (t.name == "ferrite.ptr<test.Node>") {
      found_ptr = true;
      CHECK(t.kind == type_kind::pointer);
      CHECK(p.type_name(t.value) == "test.Node");
    }
    if (t.name == "test.Game") {
      REQUIRE(t.fields.size() == 5);
      CHECK(t.fields[1].name == "maximum");
      CHECK(t.fields[1].offset == offsetof(game, maximum));
      CHECK(p.type_name(t.fields[1].type) == "i64");
    }
  }
  CHECK(found_ptr);
}

TEST_CASE("the root is created on first use and kept", "[types]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "r.pool", small());
    CHECK_FALSE(p.has_root());
    pptr<game> g = p.root<game>();
    CHECK(g->maximum == 0);
    CHECK(p.root<game>() == g);
    p.transaction([&] {
      tx_snapshot(&g->maximum);
      g->maximum = 100;
      tx_snapshot(&g->name);
      std::strcpy(g->name, "ada");
    });
    g->title = "the game";
    CHECK(p.object_type(g.get()) == p.type_id(detail::descriptor_of<game>()));
  }
  pool p = pool::open(dir / "r.pool", small());
  CHECK(p.has_root());
  CHECK(p.root_type_name() == "test.Game");
  pptr<game> g = p.root<game>();
  CHECK(g->maximum == 100);
  CHECK(std::string(g->name) == "ada");
  CHECK(g->title == "the game");
}

TEST_CASE("asking for the root as another type is a layout mismatch", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "r.pool", small());
  p.root<game>();
  CHECK(error_of([&] { p.root<node>(); }) == error_code::layout_mismatch);
}

TEST_CASE("a read-only pool without a root cannot create one", "[types]") {
  test::temp_dir dir;
  pool::open(dir / "r.pool", small()).close();
  pool_options ro = small();
  ro.mode = open_mode::read_only;
  pool p = pool::open(dir / "r.pool", ro);
  CHECK(error_of([&] { p.root<game>(); }) == error_code::read_only);
}

TEST_CASE("root creation inside an aborted transaction leaves no root", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "r.pool", small());
  CHECK_THROWS(p.transaction([&] {
    p.root<game>()->maximum = 5;
    throw std::runtime_error("abandon");
  }));
  CHECK_FALSE(p.has_root());
}

TEST_CASE("set_root replaces the root atomically", "[types]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "r.pool", small());
    pptr<node> a = p.root<node>();
    pptr<node> b = p.make<node>(std::int64_t{7}, a);
    p.set_root(b);
    CHECK(p.root<node>() == b);
  }
  pool p = pool::open(dir / "r.pool", small());
  pptr<node> r = p.root<node>();
  CHECK(r->value == 7);
  CHECK(r->next);
  CHECK(r->next->value == 0);
}

TEST_CASE("make and destroy inside a transaction follow commit and abort", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", small());
  pptr<node> head = p.root<node>();
  const auto before = p.heap_statistics().objects;
  CHECK_THROWS(p.transaction([&] {
    pptr<node> n = p.make<node>(std::int64_t{1}, pptr<node>());
    tx_snapshot(&head->next);
    head->next = n;
    throw std::runtime_error("abort");
  }));
  CHECK_FALSE(head->next);
  CHECK(p.heap_statistics().objects == before);
  p.transaction([&] {
    pptr<node> n = p.make<node>(std::int64_t{1}, pptr<node>());
    tx_snapshot(&head->next);
    head->next = n;
  });
  CHECK(head->next->value == 1);
  CHECK(p.heap_statistics().objects == before + 1);
  p.transaction([&] {
    p.destroy(head->next);
    tx_snapshot(&head->next);
    head->next = nullptr;
  });
  CHECK(p.heap_statistics().objects == before);
}

TEST_CASE("destroy frees the storage of the containers inside the object", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", small());
  const auto before = p.heap_statistics().objects;
  pptr<game> g = p.make<game>();
  g->title = "a title that needs a buffer";
  CHECK(p.heap_statistics().objects == before + 2);
  p.destroy(g);
  CHECK(p.heap_statistics().objects == before);
}

TEST_CASE("destroy of an object as the wrong type is refused", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "m.pool", small());
  pptr<node> n = p.make<node>();
  CHECK(error_of([&] { p.destroy(pptr<game>::from_raw(n.raw())); }) ==
        error_code::invalid_argument);
}

TEST_CASE("a pointer into another pool is rejected", "[types]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", small());
  pool b = pool::open(dir / "b.pool", small());
  pptr<node> in_a = a.root<node>();
  CHECK(error_of([&] { b.make<node>(std::int64_t{1}, in_a); }) == error_code::invalid_argument);
  CHECK(error_of([&] { b.set_root(in_a); }) == error_code::invalid_argument);
  CHECK_FALSE(b.has_root());
  CHECK(b.heap_statistics().objects == 0);
}

TEST_CASE("a pointer to volatile memory is rejected", "[types]") {
  node on_stack{};
  CHECK(error_of([&] { pptr<node> p(&on_stack); }) == error_code::invalid_argument);
}

TEST_CASE("opening a pool whose stored layout differs is a layout mismatch", "[types]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "l.pool", small());
    // Another build of the program stored test.Moved with its fields swapped.
    p.type_id(moved_other_build());
  }
  try {
    pool::open(dir / "l.pool", small());
    FAIL("expected layout_mismatch");
  } catch (const error& e) {
    CHECK(e.code() == error_code::layout_mismatch);
    CHECK(std::string(e.what()).find("test.Moved") != std::string::npos);
    CHECK(std::string(e.what()).find("'a'") != std::string::npos);
  }
  pool_options ro = small();
  ro.mode = open_mode::read_only;
  CHECK(error_of([&] { pool::open(dir / "l.pool", ro); }) == error_code::layout_mismatch);
}

TEST_CASE("a corrupted type table is reported at open", "[types]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "c.pool", small());
    p.root<game>();
  }
  std::string bytes = test::read_file(dir / "c.pool");
  bytes[12288 + 64 + 3] ^= 0x20;  // a byte of the first type's name
  test::write_file(dir / "c.pool", bytes);
  CHECK(error_of([&] { pool::open(dir / "c.pool", small()); }) == error_code::corrupted);
}

TEST_CASE("a string keeps its text across reopen and follows aborts", "[types]") {
  test::temp_dir dir;
  {
    pool p = pool::open(dir / "s.pool", small());
    pptr<game> g = p.root<game>();
    g->title = "hello";
    g->title += ", world";
    CHECK(g->title == "hello, world");
    CHECK_THROWS(p.transaction([&] {
      g->title = "something much longer than before, to force a new buffer";
      throw std::runtime_error("abort");
    }));
    CHECK(g->title == "hello, world");
  }
  pool p = pool::open(dir / "s.pool", small());
  CHECK(p.root<game>()->title.str() == "hello, world");
}

TEST_CASE("a string copied to volatile memory cannot be changed", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", small());
  pptr<game> g = p.root<game>();
  g->title = "abc";
  ferrite::string copy = g->title;
  CHECK(copy == "abc");
  CHECK(error_of([&] { copy.append("d"); }) == error_code::invalid_argument);
}

TEST_CASE("check reports an object whose type id is not in the type table", "[types]") {
  test::temp_dir dir;
  std::uint64_t off = 0;
  {
    pool p = pool::open(dir / "k.pool", small());
    pptr<node> n = p.make<node>();
    off = n.offset();
  }
  CHECK(check_pool(dir / "k.pool").problems.empty());
  std::string bytes = test::read_file(dir / "k.pool");
  const std::uint32_t bogus = 7777;
  std::memcpy(&bytes[off - 8], &bogus, sizeof bogus);  // object_header::type_id
  test::write_file(dir / "k.pool", bytes);
  auto report = check_pool(dir / "k.pool");
  REQUIRE_FALSE(report.problems.empty());
  CHECK(report.problems[0].what.find("unknown type id 7777") != std::string::npos);
}

TEST_CASE("a foreign pointer written directly is rejected at commit", "[types]") {
  test::temp_dir dir;
  pool a = pool::open(dir / "a.pool", small());
  pool b = pool::open(dir / "b.pool", small());
  pptr<node> in_a = a.root<node>();
  pptr<game> g = b.root<game>();
  pptr<node> in_b = b.make<node>();
  try {
    b.transaction([&] {
      tx_snapshot(&in_b->next);
      in_b->next = in_a;  // not through make or a container: caught at commit
    });
    FAIL("expected invalid_argument");
  } catch (const error& e) {
    CHECK(e.code() == error_code::invalid_argument);
    CHECK(std::string(e.what()).find("test.Node") != std::string::npos);
  }
  CHECK_FALSE(in_b->next);  // rolled back
  // Inside a nested struct array field too: game::moves is a pointer field.
  CHECK(error_of([&] {
          b.transaction([&] {
            tx_snapshot(&g->moves);
            g->moves = in_a;
          });
        }) == error_code::invalid_argument);
  CHECK_FALSE(g->moves);
  // Pointers within the pool commit.
  b.transaction([&] {
    tx_snapshot(&g->moves);
    g->moves = in_b;
  });
  CHECK(g->moves == in_b);
}

TEST_CASE("a string assigned or appended from its own text", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", small());
  pptr<game> g = p.root<game>();
  g->title = "abcdef";
  g->title = g->title.view().substr(2);
  CHECK(g->title == "cdef");
  g->title += g->title.view();  // grows: the old buffer is freed while copying
  CHECK(g->title == "cdefcdef");
  g->title.reset();
  CHECK(g->title.empty());
  CHECK(g->title.capacity() == 0);
}

namespace typetest {
struct thread_a {
  std::int64_t n;
};
FERRITE_TYPE(thread_a, "test.ThreadA", n)
struct thread_b {
  std::int64_t n;
  pptr<thread_b> next;
};
FERRITE_TYPE(thread_b, "test.ThreadB", n, next)
}  // namespace typetest

TEST_CASE("threads registering and making types at once agree on the type table", "[types]") {
  test::temp_dir dir;
  pool_options o = small();
  o.size = 16 << 20;
  std::uint32_t id_a = 0, id_b = 0;
  {
    pool p = pool::open(dir / "mt.pool", o);
    std::vector<std::uint32_t> seen_a(4), seen_b(4);
    std::vector<std::string> errors(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        try {
          for (int i = 0; i < 200; ++i) {
            p.transaction([&] {
              pptr<thread_a> a = p.make<thread_a>(std::int64_t{i});
              pptr<thread_b> b = p.make<thread_b>(std::int64_t{i}, pptr<thread_b>());
              seen_a[t] = p.object_type(a.get());
              seen_b[t] = p.object_type(b.get());
              p.destroy(a);
            });
          }
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) {
      INFO("thread " << t << ": " << errors[t]);
      CHECK(errors[t].empty());
      CHECK(seen_a[t] == seen_a[0]);
      CHECK(seen_b[t] == seen_b[0]);
    }
    id_a = seen_a[0];
    id_b = seen_b[0];
    CHECK(p.type_name(id_a) == "test.ThreadA");
    CHECK(p.heap_statistics().objects == 800);
  }
  pool p = pool::open(dir / "mt.pool", o);
  CHECK(p.type_name(id_a) == "test.ThreadA");
  CHECK(p.type_name(id_b) == "test.ThreadB");
  CHECK(p.check().empty());
}

namespace {
// A struct type with one i64 field, built at run time (as a program with
// very many types would register them). Registered descriptors must live as
// long as the process, so they are kept in a static deque.
const type_descriptor& runtime_struct(const std::string& name) {
  static std::deque<type_descriptor> keep;
  type_descriptor d;
  d.name = name;
  d.kind = type_kind::structure;
  d.size = 8;
  d.align = 8;
  d.fields.push_back({"v", 0, 8, 1, &detail::descriptor_of<std::int64_t>});
  keep.push_back(std::move(d));
  return keep.back();
}
}  // namespace

TEST_CASE("a full type table is out_of_space and keeps what it holds", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "full.pool", small());
  std::size_t added = 0;
  error_code code = error_code::invalid_argument;
  try {
    for (;; ++added) p.type_id(runtime_struct("test.Many" + std::to_string(added)));
  } catch (const error& e) {
    code = e.code();
  }
  CHECK(code == error_code::out_of_space);
  CHECK(added == detail::max_types);
  CHECK(p.type_name(detail::first_stored_type_id) == "test.Many0");
  p.close();
  pool q = pool::open(dir / "full.pool", small());
  CHECK(q.type_name(detail::first_stored_type_id + detail::max_types - 1) ==
        "test.Many" + std::to_string(detail::max_types - 1));
}

TEST_CASE("a type name longer than the table holds is refused", "[types]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "long.pool", small());
  const std::string name(detail::type_name_max, 'x');
  CHECK(error_of([&] { p.type_id(runtime_struct(name)); }) == error_code::invalid_argument);
  CHECK(ferrite::detail::impl_of(p).types->types().empty());
}

// --- A damaged string handle gives error(corrupted), never a signal (DESIGN
// invariant 7). Each case damages one field of the handle in the working
// view, then reads and changes the string through its public API.

namespace {

detail::string_rep rep_of(const ferrite::string& s) {
  detail::string_rep r;
  std::memcpy(&r, &s, sizeof r);
  return r;
}
void damage(ferrite::string& s, const detail::string_rep& r) {
  std::memcpy(static_cast<void*>(&s), &r, sizeof r);
}

constexpr std::uint64_t offset_bits = (std::uint64_t{1} << 48) - 1;

}  // namespace

TEST_CASE("a string whose storage offset lies past the heap is corrupted", "[types][corrupted]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", small());
  pptr<game> g = p.root<game>();
  g->title = "a title longer than nothing";
  detail::string_rep r = rep_of(g->title);
  r.data = (r.data & ~offset_bits) | (p.heap_offset() + p.heap_size() + 4096);
  damage(g->title, r);
  CHECK(error_of([&] { (void)g->title.str(); }) == error_code::corrupted);
  CHECK(error_of([&] { (void)(g->title == "x"); }) == error_code::corrupted);
  CHECK(error_of([&] { g->title = "new"; }) == error_code::corrupted);
  CHECK(error_of([&] { g->title += "more"; }) == error_code::corrupted);
}

TEST_CASE("a string whose buffer runs past the heap end is corrupted", "[types][corrupted]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", small());
  pptr<game> g = p.root<game>();
  g->title = "abc";
  detail::string_rep r = rep_of(g->title);
  // The buffer starts in the heap's last 8 bytes; its capacity + 1 bytes do not fit.
  r.data = (r.data & ~offset_bits) | (p.heap_offset() + p.heap_size() - 8);
  r.capacity = 100;
  r.size = 50;
  damage(g->title, r);
  CHECK(error_of([&] { (void)g->title.view(); }) == error_code::corrupted);
}

TEST_CASE("a string whose size exceeds its capacity is corrupted", "[types][corrupted]") {
  test::temp_dir dir;
  pool p = pool::open(dir / "s.pool", small());
  pptr<game> g = p.root<game>();
  g->title = "abc";
  detail::string_rep r = rep_of(g->title);
  r.size = r.capacity + 100000;
  damage(g->title, r);
  CHECK(error_of([&] { (void)g->title.str(); }) == error_code::corrupted);
  CHECK(error_of([&] { g->title += "d"; }) == error_code::corrupted);
  r = {10, 0, 0};  // a length without a buffer
  damage(g->title, r);
  CHECK(error_of([&] { (void)g->title.str(); }) == error_code::corrupted);
}
