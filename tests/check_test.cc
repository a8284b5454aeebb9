// Tests of the structural check (engine/check.h): sound pools pass, and
// every recipe of the damage corpus (tests/damage/corpus.inc) is reported
// by `ferrite check` at its offset, and whenever `ferrite dump` or `ferrite
// gc` reports the damage, check does too.
//
// The CLI and the fixture programs are found in the build tree: the
// directory FERRITE_BUILD_DIR names, else the parent of this test's own
// directory (build/tests/check_test -> build/). They are built by `ninja`
// (all); a missing one fails the test.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ferrite/alloc/heap_check.h"
#include "ferrite/base/detail/container_layout.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/base/format/value_format.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/type_table.h"
#include "ferrite/engine/pool.h"
#include "tests/test_util.h"

namespace ferrite {
namespace {

namespace fs = std::filesystem;
using detail::chunk_size;
using detail::stored_type;

constexpr const char* corpus_text =
#include "tests/damage/corpus.inc"
    ;
constexpr std::uint64_t offset_mask = (1ull << 48) - 1;

struct recipe {
  std::string name, fixture, site, damage, arg, expect;
};

std::vector<recipe> corpus() {
  std::vector<recipe> out;
  std::istringstream in(corpus_text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    recipe r;
    if (!(words >> r.name)) continue;
    words >> r.fixture >> r.site >> r.damage;
    if (r.damage != "free") words >> r.arg;
    words >> r.expect;
    out.push_back(r);
  }
  return out;
}

fs::path build_dir() {
  if (const char* d = std::getenv("FERRITE_BUILD_DIR")) return d;
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path();
}

struct run_result {
  int status = -1;
  std::string out, err;
};

// Runs `args` (quoted for the shell), capturing exit status and output.
run_result run(const std::vector<std::string>& args, const fs::path& dir) {
  std::string cmd;
  for (const std::string& a : args) cmd += "'" + a + "' ";
  cmd += "> '" + (dir / "out").string() + "' 2> '" + (dir / "err").string() + "'";
  const int st = std::system(cmd.c_str());
  run_result r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = test::read_file(dir / "out");
  r.err = test::read_file(dir / "err");
  return r;
}

// A fixture pool, written once per test run.
fs::path fixture_program(const std::string& name) {
  return build_dir() / "tests" /
         (name == "typed"        ? "typed_pool_fixture"
          : name == "containers" ? "container_pool_fixture"
                                 : "value_pool_fixture");
}

fs::path fixture_pool(const std::string& name, const fs::path& dir) {
  const fs::path pool = dir / (name + ".pool");
  if (fs::exists(pool)) return pool;
  const fs::path exe = fixture_program(name);
  INFO("fixture program " << exe);
  REQUIRE(fs::exists(exe));
  REQUIRE(run({exe.string(), pool.string()}, dir).status == 0);
  return pool;
}

// The container decoder's view of a sound pool (sites are found in the
// fixture before it is damaged).
class sound_image : public detail::layout_image {
 public:
  explicit sound_image(const pool& p)
      : layout_image(p.base(), p.heap_offset(), p.heap_offset() + p.heap_size(),
                     detail::impl_of(p).header.pool_tag),
        p_(p) {}

 protected:
  bool find(std::uint64_t offset, std::uint64_t, detail::layout_part, detail::layout_object& out,
            std::string&) override {
    out = {offset, p_.object_size(p_.base() + offset), p_.object_type(p_.base() + offset)};
    return true;
  }

 private:
  const pool& p_;
};

// Where a site path leads in a sound pool: a pool offset and the type of
// what lies there (0: unknown).
class site_finder {
 public:
  explicit site_finder(const pool& p) : p_(p), impl_(detail::impl_of(p)), image_(p) {}

  std::uint64_t find(const std::string& path) {
    std::uint64_t at = 0;
    std::uint32_t type = 0;
    std::istringstream segs(path);
    std::string s;
    while (std::getline(segs, s, '/')) step(s, at, type);
    return at;
  }
  std::uint64_t u64(std::uint64_t at) const { return load<std::uint64_t>(at); }
  std::uint64_t tag() const { return impl_.header.pool_tag; }
  std::uint64_t heap_end() const { return p_.heap_offset() + p_.heap_size(); }

  // The first chunk of the run holding `data` (its chunk, or the nearest
  // run chunk before it).
  std::uint64_t run_chunk_of(const detail::heap_layout& l, std::uint64_t data) const {
    std::uint64_t g = (data - l.heap_offset) / chunk_size;
    while (detail::entry_kind_of(load<std::uint64_t>(l.entry_offset(g))) !=
           detail::chunk_kind::run) {
      REQUIRE(g > 0);
      --g;
    }
    return g;
  }

  // pptr bits to the data of a free slot in the run holding `data`.
  std::uint64_t free_slot_near(std::uint64_t data) const {
    const detail::heap_layout l = detail::heap_layout_of(impl_.header, impl_.state);
    const std::uint64_t g = run_chunk_of(l, data);
    const auto rh = load<detail::run_header>(l.chunk_offset(g));
    for (std::uint64_t i = 0; i < rh.slot_count; ++i) {
      const auto w =
          load<std::uint64_t>(l.chunk_offset(g) + detail::run_bitmap_offset + i / 64 * 8);
      if (!(w >> (i % 64) & 1)) {
        return tag() << 48 | (l.chunk_offset(g) + rh.data_offset + i * rh.slot_size + 16);
      }
    }
    FAIL("no free slot in the run at chunk " << g);
    return 0;
  }

  // The bitmap word and bit of the run slot whose data starts at `data`.
  std::pair<std::uint64_t, std::uint64_t> slot_bit(std::uint64_t data) const {
    const detail::heap_layout l = detail::heap_layout_of(impl_.header, impl_.state);
    const std::uint64_t g = run_chunk_of(l, data);
    const auto rh = load<detail::run_header>(l.chunk_offset(g));
    const std::uint64_t i = (data - 16 - l.chunk_offset(g) - rh.data_offset) / rh.slot_size;
    return {l.chunk_offset(g) + detail::run_bitmap_offset + i / 64 * 8, 1ull << (i % 64)};
  }

 private:
  template <class T>
  T load(std::uint64_t at) const {
    T v;
    std::memcpy(&v, p_.base() + at, sizeof v);
    return v;
  }
  const stored_type& type_of(std::uint32_t id) const {
    const stored_type* t = impl_.types->find(id);
    REQUIRE(t != nullptr);
    return *t;
  }
  // The first node of the hash_map handle at `at`.
  detail::hash_map_node first_node(std::uint64_t at, std::uint32_t type) {
    const stored_type& t = type_of(type);
    const stored_type& k = type_of(t.key);
    const detail::element_shape v =
        t.value ? detail::element_shape{type_of(t.value).size, type_of(t.value).align}
                : detail::element_shape{};
    detail::hash_map_node first;
    detail::walk_hash_map(image_, at, {k.size, k.align}, v, [&](const detail::hash_map_node& n) {
      first = n;
      return false;
    });
    REQUIRE(first.node != 0);
    return first;
  }

  void step(const std::string& s, std::uint64_t& at, std::uint32_t& type) {
    INFO("site segment '" << s << "'");
    if (s == "heap") {
      at = p_.heap_offset();
    } else if (s == "chunk_table") {
      at = detail::heap_layout_of(impl_.header, impl_.state).entry_offset(0);
    } else if (s == "root") {
      at = p_.info().root_offset;
      type = p_.object_type(p_.base() + at);
    } else if (s[0] == '.') {
      const stored_type& t = type_of(type);
      for (const detail::stored_field& f : t.fields) {
        if (f.name == s.substr(1)) {
          at += f.offset;
          type = f.type;
          return;
        }
      }
      FAIL("no field " << s << " in " << t.name);
    } else if (s == "*") {
      at = load<std::uint64_t>(at) & offset_mask;
      type = p_.object_type(p_.base() + at);
    } else if (s[0] == '+') {
      at += std::stoull(s.substr(1));
      type = 0;
    } else if (s == "@size") {
      at += 0;
    } else if (s == "@capacity") {
      at += 8;
    } else if (s == "@data") {
      at += 16;
    } else if (s == "@segments") {
      at += 8;
    } else if (s == "@height") {
      at += 16;
    } else if (s == "@first_leaf") {
      at += 24;
    } else if (s == "@node") {
      at = first_node(at, type).node;
      type = 0;
    } else if (s == "@bucket") {
      const detail::hash_map_node n = first_node(at, type);
      const std::uint64_t segments = load<std::uint64_t>(at + 8) & offset_mask;
      std::uint64_t seg = 0, first = 0, count = detail::hash_initial_buckets;
      while (n.bucket >= first + count) {
        first += count;
        count = detail::hash_initial_buckets << seg;
        ++seg;
      }
      at = (load<std::uint64_t>(segments + seg * 8) & offset_mask) + (n.bucket - first) * 8;
      type = 0;
    } else if (s == "@leaf") {
      const stored_type& t = type_of(type);
      const detail::element_shape v =
          t.subkind == static_cast<std::uint8_t>(container_kind::set)
              ? detail::element_shape{}
              : detail::element_shape{type_of(t.value).size, type_of(t.value).align};
      std::uint64_t leaf = 0;
      detail::walk_btree(image_, at, {type_of(t.key).size, type_of(t.key).align}, v,
                         [&](const detail::btree_node_view& n) {
                           if (n.level != 0) return true;
                           leaf = n.node;
                           return false;
                         });
      REQUIRE(leaf != 0);
      at = leaf;
      type = 0;
    } else if (s.rfind("@cell(", 0) == 0) {
      cell(s.substr(6, s.size() - 7), at, type);
    } else if (s == "@payload") {
      at += 8;
      type = 0;
    } else if (s == "@target") {
      at = load<std::uint64_t>(at + 8) & offset_mask;
      type = 0;
    } else if (s == "@chunk_entry") {
      const detail::heap_layout l = detail::heap_layout_of(impl_.header, impl_.state);
      at = l.entry_offset((at - l.heap_offset) / chunk_size);
      type = 0;
    } else {
      FAIL("unknown site segment " << s);
    }
  }

  // The cell under str key `key` of the dict whose cell is at `at`.
  void cell(const std::string& key, std::uint64_t& at, std::uint32_t& type) {
    const std::uint64_t dict = load<std::uint64_t>(at + 8) & offset_mask;
    const stored_type& d = type_of(p_.object_type(p_.base() + dict));
    REQUIRE(d.name == detail::dict_type_name);
    const std::uint64_t items = dict + d.fields.at(1).offset;
    std::uint64_t found = 0;
    detail::walk_hash_map(image_, items, {16, 8}, {16, 8}, [&](const detail::hash_map_node& n) {
      const auto c = load<detail::value_cell_rep>(n.key);
      const char* text = reinterpret_cast<const char*>(p_.base() + n.key + 2);
      if (c.kind == static_cast<std::uint8_t>(value_kind::string) && c.inline_size != 0 &&
          std::string(text, c.inline_size - 1u) == key) {
        found = n.value;
        return false;
      }
      return true;
    });
    REQUIRE(found != 0);
    at = found;
    type = 0;
  }

  const pool& p_;
  const detail::pool_impl& impl_;
  sound_image image_;
};

void write_bytes(const fs::path& file, std::uint64_t at, const void* bytes, std::size_t n) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekp(static_cast<std::streamoff>(at));
  f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(n));
  REQUIRE(f.good());
}

// What one recipe did and what each tool said.
struct outcome {
  std::uint64_t site = 0, expect = 0;
  run_result check, dump, gc;
  run_result walk;  // the fixture's --walk (real containers and values only)
  nlohmann::json check_json;
};

// Applies `r` to a fresh copy of its fixture in `dir`; returns the damaged
// file, the damaged offset and the offset check must report.
outcome apply_and_run(const recipe& r, const fs::path& dir) {
  const fs::path pristine = fixture_pool(r.fixture, dir);
  const fs::path damaged = dir / (r.name + ".pool");
  fs::copy_file(pristine, damaged, fs::copy_options::overwrite_existing);
  outcome o;
  std::vector<std::byte> bytes;
  {
    pool_options opt;
    opt.mode = open_mode::read_only;
    const pool p = pool::open(pristine, opt);
    site_finder f(p);
    o.site = f.find(r.site);
    o.expect = r.expect == "site" ? o.site : f.find(r.expect);
    auto value = [&](const std::string& v) -> std::uint64_t {
      if (v == "out_of_heap") return f.tag() << 48 | (f.heap_end() + chunk_size);
      if (v == "free_slot") return f.free_slot_near(f.u64(o.site) & offset_mask);
      if (v == "foreign_tag") return f.u64(o.site) ^ (std::uint64_t{1} << 48);
      if (v.rfind("copy:", 0) == 0) return f.u64(f.find(v.substr(5)));
      return std::stoull(v);
    };
    auto put = [&](const auto& x, std::uint64_t at) {
      const auto* b = reinterpret_cast<const std::byte*>(&x);
      bytes.assign(b, b + sizeof x);
      o.site = at;
    };
    if (r.damage == "zero") {
      bytes.assign(std::stoull(r.arg), std::byte{0});
    } else if (r.damage == "set64") {
      put(value(r.arg), o.site);
    } else if (r.damage == "set32") {
      put(static_cast<std::uint32_t>(value(r.arg)), o.site);
    } else if (r.damage == "set8") {
      put(static_cast<std::uint8_t>(value(r.arg)), o.site);
    } else if (r.damage == "add64") {
      put(f.u64(o.site) + value(r.arg), o.site);
    } else if (r.damage == "set_size" || r.damage == "set_type") {
      detail::object_header h;
      std::memcpy(&h, p.base() + o.site - 16, sizeof h);
      REQUIRE(h.data_offset == 16);  // the fixtures' objects: the header right before the data
      if (r.damage == "set_size") {
        h.size_magic = std::uint64_t{detail::object_magic} << 48 | value(r.arg);
      } else {
        h.type_id = static_cast<std::uint32_t>(value(r.arg));
      }
      const std::uint64_t data = o.site;
      put(h, data - 16);
      o.site = data;  // the object, as check names it
      write_bytes(damaged, data - 16, bytes.data(), bytes.size());
      bytes.clear();
    } else if (r.damage == "free") {
      const auto [word, bit] = f.slot_bit(o.site);
      put(f.u64(word) & ~bit, word);
      write_bytes(damaged, word, bytes.data(), bytes.size());
      bytes.clear();
      o.site = f.find(r.site);
    } else {
      FAIL("unknown damage " << r.damage);
    }
  }
  if (!bytes.empty()) write_bytes(damaged, o.site, bytes.data(), bytes.size());
  if (r.expect == "site") o.expect = o.site;

  const std::string cli = (build_dir() / "tools" / "ferrite").string();
  INFO("the ferrite CLI " << cli);
  REQUIRE(fs::exists(cli));
  o.check = run({cli, "check", damaged.string(), "--json"}, dir);
  o.dump = run({cli, "dump", damaged.string()}, dir);
  const fs::path gc_copy = dir / (r.name + ".gc.pool");
  fs::copy_file(damaged, gc_copy, fs::copy_options::overwrite_existing);
  o.gc = run({cli, "gc", gc_copy.string()}, dir);
  // The typed fixture writes layouts by hand: only the real containers and
  // values have a public-API walk.
  if (r.fixture != "typed")
    o.walk = run({fixture_program(r.fixture).string(), "--walk", damaged.string()}, dir);
  if (o.check.status == 0 || o.check.status == 1) o.check_json = nlohmann::json::parse(o.check.out);
  return o;
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// Runs the recipe `name` of the corpus and checks what the banner says.
void run_recipe(const std::string& name) {
  static test::temp_dir dir;  // fixture pools are shared by the recipes
  const std::vector<recipe> all = corpus();
  const recipe* r = nullptr;
  for (const recipe& x : all) {
    if (x.name == name) r = &x;
  }
  REQUIRE(r != nullptr);
  const outcome o = apply_and_run(*r, dir.path());
  INFO("recipe " << name << ": damage at " << o.site << ", expected problem at " << o.expect);
  INFO("check: exit " << o.check.status << "\n" << o.check.out << o.check.err);
  INFO("dump: exit " << o.dump.status << " " << first_line(o.dump.err));
  INFO("gc: exit " << o.gc.status << " " << first_line(o.gc.err));

  // What the three tools said, for the record (the corpus table in the
  // report is built from these lines).
  std::string said;
  bool at_expected = false;
  if (o.check_json.is_object()) {
    for (const auto& pr : o.check_json["problems"]) {
      if (pr["offset"].get<std::uint64_t>() == o.expect) at_expected = true;
      if (said.empty())
        said = "[" + pr["kind"].get<std::string>() + "] " + pr["problem"].get<std::string>();
    }
  }
  std::cout << "damage " << name << ": check " << o.check.status << " (" << said << "); dump "
            << o.dump.status << "; gc " << o.gc.status << " (" << first_line(o.gc.err) << ")\n";

  REQUIRE(o.check.status == 1);
  CHECK(o.check_json["ok"] == false);
  CHECK(at_expected);
  // Agreement: damage dump or gc sees, check sees.
  if (o.dump.status != 0 || o.gc.status != 0) CHECK(o.check.status == 1);
  // Neither dump nor gc may crash on it (exit 0, 1 or 2, never a signal).
  CHECK((o.dump.status >= 0 && o.dump.status <= 2));
  CHECK((o.gc.status >= 0 && o.gc.status <= 2));
  // Nor may a program reading the damaged pool through the public API: a
  // ferrite::error (exit 1) or nothing it reads is damaged (exit 0).
  if (r->fixture != "typed") {
    INFO("walk: exit " << o.walk.status << " " << first_line(o.walk.out));
    std::cout << "  walk " << o.walk.status << " (" << first_line(o.walk.out) << ")\n";
    CHECK((o.walk.status == 0 || o.walk.status == 1));
  }
}

}  // namespace

TEST_CASE("check: the fixture pools are sound") {
  test::temp_dir dir;
  for (const char* f : {"typed", "containers", "values"}) {
    INFO("fixture " << f);
    const check_report r = check_pool(fixture_pool(f, dir.path()));
    for (const auto& p : r.problems) UNSCOPED_INFO(p.offset << ": " << p.what);
    CHECK(r.problems.empty());
    CHECK(r.objects > 0);
    CHECK(r.reachable + r.unreachable == r.objects);
    CHECK(r.counts_too_high == 0);
  }
}

TEST_CASE("check: the typed fixture's orphan node is unreachable, not a problem") {
  test::temp_dir dir;
  const check_report r = check_pool(fixture_pool("typed", dir.path()));
  CHECK(r.problems.empty());
  CHECK(r.has_root);
  CHECK(r.unreachable == 1);
  CHECK(r.unreachable_bytes == 16);  // one test.Node
}

TEST_CASE("check: a pool without a root has every object unreachable and no problem") {
  test::temp_dir dir;
  pool_options o;
  o.mode = open_mode::create_exclusive;
  o.size = 8 << 20;
  {
    pool p = pool::open(dir / "n.pool", o);
    p.transaction([&] { p.allocate(100, 0, 8); });
  }
  const check_report r = check_pool(dir / "n.pool");
  CHECK(r.problems.empty());
  CHECK_FALSE(r.has_root);
  CHECK(r.objects == 1);
  CHECK(r.unreachable == 1);
}

// One test case per recipe of tests/damage/corpus.inc (and one that holds
// the list and the corpus to each other).
#define DAMAGE_CASE(name)             \
  TEST_CASE("check: damage " #name) { \
    run_recipe(#name);                \
  }

DAMAGE_CASE(chunk_table_zeroed)
DAMAGE_CASE(chunk_entries_zeroed)
DAMAGE_CASE(root_chunk_entry_zeroed)
DAMAGE_CASE(hash_map_next_out_of_heap)
DAMAGE_CASE(hash_map_bucket_out_of_heap)
DAMAGE_CASE(hash_map_node_wrong_bucket)
DAMAGE_CASE(hash_map_segments_foreign)
DAMAGE_CASE(string_data_in_free_slot)
DAMAGE_CASE(string_size_over_capacity)
DAMAGE_CASE(pptr_misaligned)
DAMAGE_CASE(pptr_foreign_tag)
DAMAGE_CASE(pptr_into_free_chunk)
DAMAGE_CASE(object_smaller_than_type)
DAMAGE_CASE(object_unknown_type)
DAMAGE_CASE(vector_buffer_truncated)
DAMAGE_CASE(vector_buffer_freed)
DAMAGE_CASE(vector_size_over_capacity)
DAMAGE_CASE(btree_height_wrong)
DAMAGE_CASE(btree_leaf_chain_out_of_heap)
DAMAGE_CASE(value_str_buffer_freed)
DAMAGE_CASE(value_str_missing_nul)
DAMAGE_CASE(value_bool_not_0_or_1)
DAMAGE_CASE(value_list_names_tuple)
DAMAGE_CASE(value_refcount_too_low)

TEST_CASE("check: every corpus recipe has its test case") {
  const std::set<std::string> cases = {"chunk_table_zeroed",
                                       "chunk_entries_zeroed",
                                       "root_chunk_entry_zeroed",
                                       "hash_map_next_out_of_heap",
                                       "hash_map_bucket_out_of_heap",
                                       "hash_map_node_wrong_bucket",
                                       "hash_map_segments_foreign",
                                       "string_data_in_free_slot",
                                       "string_size_over_capacity",
                                       "pptr_misaligned",
                                       "pptr_foreign_tag",
                                       "pptr_into_free_chunk",
                                       "object_smaller_than_type",
                                       "object_unknown_type",
                                       "vector_buffer_truncated",
                                       "vector_buffer_freed",
                                       "vector_size_over_capacity",
                                       "btree_height_wrong",
                                       "btree_leaf_chain_out_of_heap",
                                       "value_str_buffer_freed",
                                       "value_str_missing_nul",
                                       "value_bool_not_0_or_1",
                                       "value_list_names_tuple",
                                       "value_refcount_too_low"};
  std::set<std::string> in_corpus;
  for (const recipe& r : corpus()) {
    CHECK(in_corpus.insert(r.name).second);  // no name twice
    CHECK(!r.expect.empty());                // every line complete
  }
  CHECK(in_corpus == cases);
}

}  // namespace ferrite
