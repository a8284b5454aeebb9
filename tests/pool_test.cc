// Tests of engine/pool: create/open/close, modes, locking, and every bad
// input the pool must turn into a clear error.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/detail/pool_file.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/engine/type_info.h"
#include "ferrite/txlog/superblock.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;
using ferrite::test::temp_dir;

namespace {

pool_options with_mode(open_mode m) {
  pool_options o;
  o.mode = m;
  return o;
}

// Rewrites bytes [off, off+len) of a file.
void patch(const std::filesystem::path& p, std::uint64_t off, const void* data, std::size_t len) {
  int fd = ::open(p.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, data, len, static_cast<off_t>(off)) == static_cast<ssize_t>(len));
  ::close(fd);
}

detail::pool_header read_header(const std::filesystem::path& p) {
  detail::pool_header h;
  std::string s = test::read_file(p);
  REQUIRE(s.size() >= sizeof h);
  std::memcpy(&h, s.data(), sizeof h);
  return h;
}

void write_header(const std::filesystem::path& p, detail::pool_header h, bool fix_checksum) {
  if (fix_checksum) h.checksum = detail::checksum64(&h, offsetof(detail::pool_header, checksum), 0);
  patch(p, 0, &h, sizeof h);
}

}  // namespace

TEST_CASE("create then open shows the same pool", "[pool]") {
  temp_dir d;
  std::array<std::uint8_t, 16> uuid;
  {
    pool p = pool::create(d / "a.pool", 4 << 20);
    pool_info i = p.info();
    uuid = i.uuid;
    CHECK(i.format_version == 2);
    CHECK(i.pool_tag != 0);
    CHECK(i.file_size <= (4u << 20));
    CHECK(i.regions.size() == 5);
    CHECK_FALSE(i.read_only);
  }
  pool p = pool::open(d / "a.pool", with_mode(open_mode::open_existing));
  CHECK(p.info().uuid == uuid);
  CHECK(p.info().was_clean_shutdown);
  CHECK(p.info().open_count == 2);
}

TEST_CASE("regions are block-aligned, ordered and inside the file", "[pool]") {
  temp_dir d;
  pool p = pool::create(d / "a.pool", 8 << 20);
  pool_info i = p.info();
  std::uint64_t end = 0;
  for (const auto& r : i.regions) {
    INFO(r.name);
    CHECK(r.offset % 4096 == 0);
    CHECK(r.offset >= end);
    end = r.offset + r.size;
  }
  CHECK(end <= i.file_size);
}

TEST_CASE("create_or_open creates a missing pool and opens an existing one", "[pool]") {
  temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  std::array<std::uint8_t, 16> uuid;
  {
    pool p = pool::open(d / "c.pool", o);
    uuid = p.info().uuid;
  }
  pool p = pool::open(d / "c.pool", o);
  CHECK(p.info().uuid == uuid);
}

TEST_CASE("create_exclusive fails when the file exists", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "x.pool", 4 << 20).close();
  CHECK(error_of([&] { pool::create(d / "x.pool", 4 << 20); }) == error_code::file_exists);
  test::write_file(d / "other", "hello");
  CHECK(error_of([&] { pool::create(d / "other", 4 << 20); }) == error_code::file_exists);
  CHECK(test::read_file(d / "other") == "hello");
}

TEST_CASE("opening a missing file is file_missing", "[pool][errors]") {
  temp_dir d;
  CHECK(error_of([&] { pool::open(d / "none", with_mode(open_mode::open_existing)); }) ==
        error_code::file_missing);
  CHECK(error_of([&] { pool::open(d / "none", with_mode(open_mode::read_only)); }) ==
        error_code::file_missing);
  CHECK_FALSE(std::filesystem::exists(d / "none"));
}

TEST_CASE("a size below the minimum is too_small and leaves no file", "[pool][errors]") {
  temp_dir d;
  CHECK(error_of([&] { pool::create(d / "s.pool", 1 << 20); }) == error_code::too_small);
  CHECK_FALSE(std::filesystem::exists(d / "s.pool"));
  CHECK(std::filesystem::is_empty(d.path()));
  // The documented minimum itself works.
  pool::create(d / "m.pool", pool::min_size).close();
}

TEST_CASE("an empty file is not_a_pool", "[pool][errors]") {
  temp_dir d;
  test::write_file(d / "empty", "");
  CHECK(error_of([&] { pool::open(d / "empty"); }) == error_code::not_a_pool);
  CHECK(test::read_file(d / "empty").empty());
}

TEST_CASE("a foreign file is not_a_pool and is left untouched", "[pool][errors]") {
  temp_dir d;
  std::string text(100000, 'x');
  test::write_file(d / "text", text);
  CHECK(error_of([&] { pool::open(d / "text"); }) == error_code::not_a_pool);
  CHECK(test::read_file(d / "text") == text);
}

TEST_CASE("a directory is not_a_pool", "[pool][errors]") {
  temp_dir d;
  std::filesystem::create_directory(d / "dir");
  CHECK(error_of([&] { pool::open(d / "dir", with_mode(open_mode::read_only)); }) ==
        error_code::not_a_pool);
}

TEST_CASE("a file cut inside the header is truncated", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "t.pool", 4 << 20).close();
  std::filesystem::resize_file(d / "t.pool", 100);
  CHECK(error_of([&] { pool::open(d / "t.pool"); }) == error_code::truncated);
}

TEST_CASE("a file cut inside the heap is truncated", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "t.pool", 4 << 20).close();
  std::uint64_t size = std::filesystem::file_size(d / "t.pool");
  std::filesystem::resize_file(d / "t.pool", size - 4096);
  CHECK(error_of([&] { pool::open(d / "t.pool"); }) == error_code::truncated);
  std::filesystem::resize_file(d / "t.pool", 20000);
  CHECK(error_of([&] { pool::open(d / "t.pool"); }) == error_code::truncated);
}

TEST_CASE("an unsupported format version is bad_version", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "v.pool", 4 << 20).close();
  detail::pool_header h = read_header(d / "v.pool");
  h.format_version = 7;
  write_header(d / "v.pool", h, true);
  CHECK(error_of([&] { pool::open(d / "v.pool"); }) == error_code::bad_version);
}

TEST_CASE("an unknown incompatible feature is bad_version", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "f.pool", 4 << 20).close();
  detail::pool_header h = read_header(d / "f.pool");
  h.incompat_features = 1ull << 40;
  write_header(d / "f.pool", h, true);
  CHECK(error_of([&] { pool::open(d / "f.pool", with_mode(open_mode::read_only)); }) ==
        error_code::bad_version);
}

TEST_CASE("a flipped header byte is corrupted (checksum)", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "h.pool", 4 << 20).close();
  detail::pool_header h = read_header(d / "h.pool");
  h.log_size ^= 0x1000;
  write_header(d / "h.pool", h, false);
  CHECK(error_of([&] { pool::open(d / "h.pool"); }) == error_code::corrupted);
}

TEST_CASE("a header with a valid checksum but impossible layout is corrupted", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "l.pool", 4 << 20).close();
  detail::pool_header good = read_header(d / "l.pool");
  SECTION("log outside its place") {
    detail::pool_header h = good;
    h.log_offset = 1ull << 60;
    write_header(d / "l.pool", h, true);
  }
  SECTION("heap not after the log") {
    detail::pool_header h = good;
    h.heap_offset = 4096;
    write_header(d / "l.pool", h, true);
  }
  SECTION("zero pool tag") {
    detail::pool_header h = good;
    h.pool_tag = 0;
    write_header(d / "l.pool", h, true);
  }
  SECTION("huge log size") {
    detail::pool_header h = good;
    h.log_size = ~0ull & ~4095ull;
    h.heap_offset = h.log_offset + h.log_size;  // wraps around
    write_header(d / "l.pool", h, true);
  }
  CHECK(error_of([&] { pool::open(d / "l.pool"); }) == error_code::corrupted);
}

TEST_CASE("one corrupted superblock slot falls back to the other", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "s.pool", 4 << 20).close();
  { pool p = pool::open(d / "s.pool"); }  // sequence now 3: slots hold 2 and 3
  std::uint64_t seq;
  {
    pool p = pool::open(d / "s.pool", with_mode(open_mode::read_only));
    seq = p.info().superblock_sequence;
  }
  char junk[16] = "garbage garbage";
  patch(d / "s.pool", detail::superblock_offsets[seq % 2] + 20, junk, sizeof junk);
  pool p = pool::open(d / "s.pool", with_mode(open_mode::read_only));
  CHECK(p.info().superblock_sequence == seq - 1);
}

TEST_CASE("both superblock slots corrupted is corrupted", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "s.pool", 4 << 20).close();
  pool::open(d / "s.pool").close();
  char junk[16] = "garbage garbage";
  patch(d / "s.pool", detail::superblock_offsets[0] + 20, junk, sizeof junk);
  patch(d / "s.pool", detail::superblock_offsets[1] + 20, junk, sizeof junk);
  CHECK(error_of([&] { pool::open(d / "s.pool"); }) == error_code::corrupted);
}

TEST_CASE("a superblock with out-of-range fields is rejected", "[pool][errors]") {
  // Slot contents that pass the checksum but point outside the pool.
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o;
  o.device = dev;
  o.size = 4 << 20;
  pool::open("sim", o).close();  // sequences 1 (create), 2 (open), 3 (close)
  detail::pool_header h;
  std::memcpy(&h, dev->visible().data(), sizeof h);
  for (int slot = 0; slot < 2; ++slot) {
    detail::superblock sb;
    std::memcpy(&sb, dev->visible().data() + detail::superblock_offsets[slot], sizeof sb);
    sb.log_head = h.log_size + 64;
    sb.checksum = detail::checksum64(reinterpret_cast<std::byte*>(&sb) + 8, sizeof sb - 8,
                                     detail::pool_seed(h));
    dev->write(detail::superblock_offsets[slot], &sb, sizeof sb);
  }
  o.mode = open_mode::open_existing;
  CHECK(error_of([&] { pool::open("sim", o); }) == error_code::corrupted);
}

TEST_CASE("a second writer gets pool_locked naming the file", "[pool][errors][lock]") {
  temp_dir d;
  pool p = pool::create(d / "w.pool", 4 << 20);
  try {
    pool::open(d / "w.pool", with_mode(open_mode::open_existing));
    FAIL("second writer was allowed");
  } catch (const error& e) {
    CHECK(e.code() == error_code::pool_locked);
    CHECK(std::string(e.what()).find("w.pool") != std::string::npos);
  }
  CHECK(error_of([&] { pool::open(d / "w.pool", with_mode(open_mode::read_only)); }) ==
        error_code::pool_locked);
  p.close();
  pool::open(d / "w.pool", with_mode(open_mode::open_existing)).close();
}

TEST_CASE("a writer in another process locks the pool", "[pool][errors][lock]") {
  temp_dir d;
  pool p = pool::create(d / "w.pool", 4 << 20);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 3;
    try {
      pool::open(d / "w.pool", with_mode(open_mode::open_existing));
      rc = 0;
    } catch (const error& e) {
      rc = e.code() == error_code::pool_locked ? 1 : 2;
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("read-only opens share the pool and exclude writers", "[pool][lock]") {
  temp_dir d;
  pool::create(d / "r.pool", 4 << 20).close();
  pool a = pool::open(d / "r.pool", with_mode(open_mode::read_only));
  pool b = pool::open(d / "r.pool", with_mode(open_mode::read_only));
  CHECK(a.read_only());
  CHECK(b.info().uuid == a.info().uuid);
  CHECK(error_of([&] { pool::open(d / "r.pool", with_mode(open_mode::open_existing)); }) ==
        error_code::pool_locked);
}

TEST_CASE("a read-only open changes nothing in the file", "[pool]") {
  temp_dir d;
  pool::create(d / "r.pool", 4 << 20).close();
  std::string before = test::read_file(d / "r.pool");
  pool::open(d / "r.pool", with_mode(open_mode::read_only)).close();
  CHECK(test::read_file(d / "r.pool") == before);
}

TEST_CASE("a file without read permission is permission_denied", "[pool][errors]") {
  temp_dir d;
  pool::create(d / "p.pool", 4 << 20).close();
  std::filesystem::permissions(d / "p.pool", std::filesystem::perms::none);
  std::filesystem::permissions(d.path(), std::filesystem::perms::all);
  // Root ignores permission bits: check as an unprivileged user in a child.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(4);
    int rc = 3;
    try {
      pool::open(d / "p.pool", with_mode(open_mode::open_existing));
      rc = 0;
    } catch (const error& e) {
      rc = e.code() == error_code::permission_denied ? 1 : 2;
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("no space on the file system is no_space and leaves no file", "[pool][errors]") {
  // tmpfs refuses an allocation beyond its size at once.
  std::filesystem::path shm = "/dev/shm";
  if (!std::filesystem::is_directory(shm)) {
    WARN("no /dev/shm: file-system ENOSPC not exercised here");
    return;
  }
  temp_dir d;
  std::filesystem::path target = shm / ("ferrite-nospace-" + std::to_string(getpid()));
  CHECK(error_of([&] { pool::create(target, 40ull << 40); }) == error_code::no_space);
  CHECK_FALSE(std::filesystem::exists(target));
  for (const auto& e : std::filesystem::directory_iterator(shm)) {
    CHECK(e.path().filename().string().find("ferrite-nospace-") == std::string::npos);
  }
}

TEST_CASE("no space on a simulated device is no_space", "[pool][errors][sim]") {
  auto dev = std::make_shared<sim_device>();
  dev->capacity = 3 << 20;
  pool_options o;
  o.device = dev;
  o.size = 4 << 20;
  CHECK(error_of([&] { pool::open("sim", o); }) == error_code::no_space);
  CHECK(dev->size() == 0);
}

TEST_CASE("closing twice is harmless and a closed pool says so", "[pool]") {
  temp_dir d;
  pool p = pool::create(d / "c.pool", 4 << 20);
  p.close();
  p.close();
  CHECK_FALSE(p.is_open());
  CHECK(error_of([&] { p.info(); }) == error_code::closed);
}

TEST_CASE("the clean-shutdown flag is cleared at open and set at close", "[pool]") {
  auto dev = std::make_shared<sim_device>();
  pool_options o;
  o.device = dev;
  o.size = 4 << 20;
  {
    pool p = pool::open("sim", o);
    CHECK(p.info().was_clean_shutdown);  // fresh pool
    // Simulate a crash: the durable image as it is now, pool still open.
    auto crashed = sim_device::from_image(dev->durable(), granularity::cache_line);
    pool_options c = o;
    c.device = crashed;
    pool q = pool::open("crashed", c);
    CHECK_FALSE(q.info().was_clean_shutdown);
  }
  o.mode = open_mode::open_existing;
  pool p = pool::open("sim", o);
  CHECK(p.info().was_clean_shutdown);
}

TEST_CASE("a moved pool keeps working and the source is closed", "[pool]") {
  temp_dir d;
  pool a = pool::create(d / "m.pool", 4 << 20);
  pool b = std::move(a);
  CHECK_FALSE(a.is_open());  // NOLINT(bugprone-use-after-move)
  CHECK(b.info().format_version == 2);
}

TEST_CASE("random garbage files never crash open", "[pool][errors][fuzz]") {
  temp_dir d;
  pool::create(d / "g.pool", 4 << 20).close();
  std::string good = test::read_file(d / "g.pool");
  std::uint64_t seed = 12345;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  int rejected_header_damage = 0;
  for (int round = 0; round < 200; ++round) {
    std::string img = good;
    int flips = 1 + static_cast<int>(next() % 8);
    for (int k = 0; k < flips; ++k) {
      // Bias towards the header and superblocks at the start.
      std::size_t span = round % 3 == 0 ? 256 : round % 3 == 1 ? 12288 : img.size();
      std::size_t pos = next() % span;
      img[pos] = static_cast<char>(next());
    }
    if (round % 7 == 0) img.resize(next() % img.size());
    bool header_damaged = img.size() < 256 || img.compare(0, 256, good, 0, 256) != 0;
    test::write_file(d / "f.pool", img);
    bool opened = false;
    try {
      pool p = pool::open(d / "f.pool", with_mode(open_mode::read_only));
      (void)p.info();
      opened = true;
    } catch (const error&) {
      // A clear error is the expected outcome for damaged metadata.
    }
    // Every header byte is covered by the checksum: damage there must be caught.
    if (header_damaged) {
      CHECK_FALSE(opened);
      ++rejected_header_damage;
    }
  }
  CHECK(rejected_header_damage > 10);
}

// --- process and disk faults (issue 17) -----------------------------------

namespace {

// A file system of `bytes` mounted for one test: "tmpfs", or "ext4" on a
// loop device. Needs root (CI runs as root); `ok` is false otherwise and
// the test says so with a warning.
class small_fs {
 public:
  small_fs(const std::string& kind, std::uint64_t bytes) {
    const std::string mnt = (dir_ / "mnt").string();
    std::filesystem::create_directories(mnt);
    std::string cmd;
    if (kind == "tmpfs") {
      cmd = "mount -t tmpfs -o size=" + std::to_string(bytes) + " tmpfs " + mnt;
    } else {
      const std::string img = (dir_ / "fs.img").string();
      cmd = "truncate -s " + std::to_string(bytes) + " " + img + " && mkfs.ext4 -q -F " + img +
            " && mount -o loop " + img + " " + mnt;
    }
    ok = geteuid() == 0 && std::system((cmd + " 2>/dev/null").c_str()) == 0;
    if (ok) path = mnt;
  }
  ~small_fs() {
    if (ok) std::system(("umount " + path.string()).c_str());
  }
  // Fills what is left of the file system with a file.
  void fill() const {
    std::system(("dd if=/dev/zero of=" + (path / "fill").string() + " bs=64k 2>/dev/null").c_str());
  }
  bool ok = false;
  std::filesystem::path path;

 private:
  temp_dir dir_;
};

struct marker {
  std::uint64_t value;
};
FERRITE_TYPE(marker, "pooltest.Marker", value)

std::uint64_t file_size_of(const std::filesystem::path& p) {
  return std::filesystem::file_size(p);
}

// A pool whose root marker holds 0x5eed.
void write_marker(const std::filesystem::path& p, std::uint64_t size) {
  pool_options o;
  o.size = size;
  pool q = pool::open(p, o);
  auto* w = &q.root<marker>()->value;
  q.transaction([&] {
    tx_snapshot(w);
    *w = 0x5eed;
  });
}

std::uint64_t read_marker(pool& q) {
  return q.root<marker>()->value;
}

}  // namespace

TEST_CASE(
    "a forked child is refused a transaction and a close, and the parent's pool is "
    "unaffected",
    "[pool][errors][fork]") {
  temp_dir dir;
  const auto path = dir / "forked.pool";
  pool p = pool::open(path, {});
  auto* w = &p.root<marker>()->value;
  p.transaction([&] {
    tx_snapshot(w);
    *w = 1;
  });
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Exit status: a bit per check that failed.
    int bad = 0;
    try {
      p.transaction([&] {
        tx_snapshot(w);
        *w = 666;
      });
      bad |= 1;
    } catch (const error& e) {
      if (e.code() != error_code::pool_locked) bad |= 2;
    }
    if (*w != 1) bad |= 4;  // the refused transaction changed nothing it could see
    try {
      p.close();
      bad |= 8;
    } catch (const error& e) {
      if (e.code() != error_code::pool_locked) bad |= 16;
    }
    _exit(bad);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The parent goes on: commits, closes cleanly, and the pool shows its work.
  p.transaction([&] {
    tx_snapshot(w);
    *w = 2;
  });
  p.close();
  pool q = pool::open(path, with_mode(open_mode::read_only));
  CHECK(read_marker(q) == 2);
  CHECK(q.info().was_clean_shutdown);
}

TEST_CASE("a forked child's pool destructor writes nothing", "[pool][fork]") {
  temp_dir dir;
  const auto path = dir / "forked.pool";
  std::optional<pool> p(pool::open(path, {}));
  auto* w = &p->root<marker>()->value;
  p->transaction([&] {
    tx_snapshot(w);
    *w = 7;
  });
  const std::string before = test::read_file(path);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    p.reset();  // as when a child returns from the function that holds the pool
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(test::read_file(path) == before);  // no checkpoint, no superblock from the child
  p.reset();
  pool q = pool::open(path, with_mode(open_mode::read_only));
  CHECK(read_marker(q) == 7);
}

TEST_CASE("a grow that fails for lack of space leaves the pool as it was", "[pool][errors][disk]") {
  small_fs fs("ext4", 24 << 20);
  if (!fs.ok) {
    WARN("not run: mounting a small ext4 file system needs root and loop devices");
    return;
  }
  const auto path = fs.path / "grow.pool";
  write_marker(path, 8 << 20);
  const std::uint64_t size = file_size_of(path);
  {
    pool p = pool::open(path, {});
    CHECK(error_of([&] { p.grow(64 << 20); }) == error_code::no_space);
    CHECK(file_size_of(path) == size);
    CHECK(p.info().file_size == size);
    CHECK(read_marker(p) == 0x5eed);
    auto* w = &p.root<marker>()->value;
    p.transaction([&] {  // still writable
      tx_snapshot(w);
      *w = 0x5eee;
    });
  }
  CHECK(file_size_of(path) == size);
  pool q = pool::open(path, {});
  CHECK(read_marker(q) == 0x5eee);
}

TEST_CASE("a sparse pool on a full file system is no_space at open, not a signal",
          "[pool][errors][disk]") {
  small_fs fs("tmpfs", 6 << 20);
  if (!fs.ok) {
    WARN("not run: mounting tmpfs needs root");
    return;
  }
  temp_dir dir;
  write_marker(dir / "full.pool", 4 << 20);
  const auto path = fs.path / "sparse.pool";
  // A sparse copy: only the blocks that hold data are allocated.
  REQUIRE(std::system(("cp --sparse=always " + (dir / "full.pool").string() + " " + path.string())
                          .c_str()) == 0);
  fs.fill();
  CHECK(error_of([&] { pool::open(path, {}); }) == error_code::no_space);
  CHECK(error_of([&] { pool::open(path, with_mode(open_mode::read_only)); }) ==
        error_code::no_space);
  // With room again, the same file opens and holds its data.
  std::filesystem::remove(fs.path / "fill");
  pool q = pool::open(path, {});
  CHECK(read_marker(q) == 0x5eed);
}

TEST_CASE("creating a pool never shows a temporary name in its directory", "[pool][create]") {
  // The pool is formatted in an unnamed file (O_TMPFILE): a creation killed
  // at any point leaves no PATH.ferrite-new-* file behind.
  temp_dir dir;
  std::vector<std::string> seen;
  detail::create_pool_file(dir / "new.pool", 1 << 20, 0644, [&](int fd) {
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      seen.push_back(e.path().filename().string());
    std::byte b{1};
    REQUIRE(pwrite(fd, &b, 1, 0) == 1);
  });
  CHECK(seen.empty());
  CHECK(std::filesystem::exists(dir / "new.pool"));
  CHECK(file_size_of(dir / "new.pool") == 1 << 20);
}

TEST_CASE("close after a failed sync throws io_error, and the next open recovers",
          "[pool][errors][sync]") {
  auto dev = std::make_shared<sim_device>(granularity::page);
  pool_options o;
  o.device = dev;
  o.size = pool::min_size;
  pool p = pool::open("sim", o);
  std::uint64_t* w = &p.root<marker>()->value;
  p.transaction([&] {
    tx_snapshot(w);
    *w = 1;
  });
  SECTION("a commit's sync failed earlier") {
    dev->fail_barrier_at = static_cast<std::int64_t>(dev->barriers());
    CHECK(error_of([&] {
            p.transaction([&] {
              tx_snapshot(w);
              *w = 2;
            });
          }) == error_code::io_error);
  }
  SECTION("the close's own checkpoint fails") {
    dev->fail_barrier_at = static_cast<std::int64_t>(dev->barriers());
  }
  CHECK(error_of([&] { p.close(); }) == error_code::io_error);
  CHECK(error_of([&] { p.info(); }) == error_code::closed);  // closed either way
  o.mode = open_mode::open_existing;
  pool q = pool::open("sim", o);
  CHECK_FALSE(q.info().was_clean_shutdown);
  // The failed commit's record may have reached the device before its sync
  // failed (docs/durability.md, "When a sync fails"): either state, whole.
  const std::uint64_t v = q.root<marker>()->value;
  CHECK((v == 1 || v == 2));
}

// The background checkpointer's own sync fails (the checkpoint's
// fdatasync, on its thread): the pool turns read-only, the committing
// thread's next transaction is refused with a clear error, close reports
// io_error, and every transaction that returned is there after reopening.
TEST_CASE("a failed sync on the checkpointer thread loses nothing committed",
          "[pool][errors][sync][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::page);
  pool_options o;
  o.device = dev;
  o.size = pool::min_size;
  o.background_checkpoint = true;
  std::uint64_t committed = 0;
  std::atomic<bool> failed_there{false};
  {
    pool p = pool::open("sim", o);
    std::uint64_t* w = &p.root<marker>()->value;
    const std::thread::id committer = std::this_thread::get_id();
    sim_device* const raw = dev.get();  // the hook lives in the device: no shared_ptr cycle
    dev->on_barrier = [&, raw](const sim_device&) {
      if (std::this_thread::get_id() != committer && !failed_there.exchange(true)) {
        raw->fail_barrier_at = static_cast<std::int64_t>(raw->barriers());
      }
    };
    std::optional<error_code> refused;
    for (std::uint64_t n = 1; n <= 200000 && !refused; ++n) {
      try {
        p.transaction([&] {
          tx_snapshot(w);
          *w = n;
        });
        committed = n;
      } catch (const error& e) {
        INFO(e.what());
        refused = e.code();
      }
    }
    REQUIRE(failed_there);
    REQUIRE(refused);
    INFO("committed " << committed);
    CHECK(committed > 0);
    // Refused at begin (read_only), or its commit waited on the failed log (io_error).
    CHECK((*refused == error_code::read_only || *refused == error_code::io_error));
    CHECK(error_of([&] { p.close(); }) == error_code::io_error);
    dev->on_barrier = nullptr;
  }
  dev->fail_barrier_at = -1;
  o.mode = open_mode::open_existing;
  pool q = pool::open("sim", o);
  const std::uint64_t v = q.root<marker>()->value;
  // The refused transaction's record may have become durable if it got as
  // far as its own sync: either state, whole.
  CHECK((v == committed || v == committed + 1));
}

// ---- grow: a heap that never moves ----------------------------------------

namespace {

bool all_bytes(const unsigned char* p, std::size_t n, unsigned char v) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != v) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("grow keeps base() and raw pointers", "[pool][grow]") {
  temp_dir dir;
  pool_options o;
  o.size = 4 << 20;
  SECTION("file") {}
  SECTION("simulated device") {
    o.device = std::make_shared<sim_device>(granularity::page);
  }
  const auto path = dir / "grow.pool";
  std::uint64_t off = 0, big_off = 0;
  {
    pool p = pool::open(path, o);
    std::byte* const base = p.base();
    auto* obj = static_cast<unsigned char*>(
        p.allocate_into(&p.root<marker>()->value, 256, [](void* m) { std::memset(m, 0xab, 256); }));
    off = p.offset_of(obj);
    const std::uint64_t old_heap_end = p.heap_offset() + p.heap_size();
    CHECK(error_of([&] { p.transaction([&] { p.allocate(6 << 20); }); }) ==
          error_code::out_of_space);
    for (std::uint64_t size : {8ull << 20, 16ull << 20}) {
      p.grow(size);
      CHECK(p.info().file_size == size);
      CHECK(p.base() == base);
      CHECK(p.at(off) == obj);
      CHECK(all_bytes(obj, 256, 0xab));
    }
    p.transaction([&] {
      tx_snapshot(obj, 1);
      obj[0] = 1;
    });
    // Larger than the whole heap before the grows: it reaches into the new
    // space.
    unsigned char* big = nullptr;
    p.transaction([&] {
      big = static_cast<unsigned char*>(p.allocate(6 << 20));
      std::memset(big, 0xcd, 6 << 20);
    });
    big_off = p.offset_of(big);
    CHECK(big_off + (6 << 20) > old_heap_end);
    CHECK(p.check().empty());
  }
  o.mode = open_mode::open_existing;
  pool q = pool::open(path, o);
  CHECK(q.info().file_size == (16u << 20));
  const auto* obj = static_cast<const unsigned char*>(q.at(off));
  CHECK(obj[0] == 1);
  CHECK(all_bytes(obj + 1, 255, 0xab));
  CHECK(all_bytes(static_cast<const unsigned char*>(q.at(big_off)), 6 << 20, 0xcd));
}

TEST_CASE("grow while two threads commit", "[pool][grow][threads]") {
  temp_dir dir;
  const auto path = dir / "grow-threads.pool";
  pool_options o;
  o.size = 4 << 20;
  constexpr int threads = 2;
  std::uint64_t offs[threads] = {};
  std::atomic<std::uint64_t> last[threads] = {};  // each thread's last committed value
  {
    pool p = pool::open(path, o);
    std::byte* const base = p.base();
    std::uint64_t* objs[threads] = {};  // raw pointers, taken before any grow
    p.transaction([&] {
      for (int t = 0; t < threads; ++t) {
        objs[t] = static_cast<std::uint64_t*>(p.allocate(64));
        *objs[t] = 0;
        offs[t] = p.offset_of(objs[t]);
      }
    });
    std::atomic<bool> stop{false};
    std::atomic<int> started{0};
    std::atomic<bool> bad_pointer{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::uint64_t* const obj = objs[t];
        std::uint64_t n = 0;
        bool counted = false;
        while (!stop.load(std::memory_order_relaxed)) {
          ++n;
          p.transaction([&] {
            tx_snapshot(obj);
            *obj = n;
            // Now and then an allocation, in old or new space; bounded, so
            // that the pool never fills however fast the threads run.
            if (n % 8 == 0 && n <= 1600) {
              auto* m = static_cast<std::uint64_t*>(p.allocate(n % 16 == 0 ? 4096 : 96));
              *m = n;
            }
          });
          last[t] = n;
          if (*obj != n) bad_pointer = true;
          if (!counted) {
            counted = true;
            started.fetch_add(1);
          }
        }
      });
    }
    while (started.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // 6 MiB outgrows the chunk table of a 4 MiB pool: that grow moves it
    // (and checkpoints) while the threads wait at their next begin.
    for (std::uint64_t size : {6ull << 20, 8ull << 20, 12ull << 20, 16ull << 20}) {
      std::uint64_t before[threads];
      for (int t = 0; t < threads; ++t) before[t] = last[t].load();
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      p.grow(size);
      CHECK(p.base() == base);
      CHECK(p.info().file_size == size);
      for (int t = 0; t < threads; ++t) CHECK(last[t].load() > before[t]);  // kept committing
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    stop = true;
    for (auto& w : workers) w.join();
    CHECK_FALSE(bad_pointer.load());
    for (int t = 0; t < threads; ++t) CHECK(*objs[t] == last[t].load());
    CHECK(p.check().empty());
  }
  o.mode = open_mode::open_existing;
  pool q = pool::open(path, o);
  CHECK(q.info().file_size == (16u << 20));
  for (int t = 0; t < threads; ++t) {
    INFO("thread " << t);
    CHECK(*static_cast<const std::uint64_t*>(q.at(offs[t])) == last[t].load());
  }
  CHECK(q.check().empty());
}

TEST_CASE("grow past max_size is invalid_argument and leaves the pool usable",
          "[pool][grow][errors]") {
  temp_dir dir;
  const auto path = dir / "max.pool";
  pool_options o;
  o.size = 4 << 20;
  o.max_size = 8 << 20;
  {
    pool p = pool::open(path, o);
    auto* w = &p.root<marker>()->value;
    std::string message;
    try {
      p.grow(16 << 20);
    } catch (const error& e) {
      CHECK(e.code() == error_code::invalid_argument);
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("8388608") != std::string::npos);  // the max
    CHECK(message.find("pool_options::max_size") != std::string::npos);
    CHECK(message.find("reopen") != std::string::npos);
    CHECK(p.info().file_size == (4u << 20));
    CHECK(file_size_of(path) == (4u << 20));
    p.transaction([&] {  // still usable
      tx_snapshot(w);
      *w = 1;
    });
    p.grow(8 << 20);  // up to the max is fine
    CHECK(p.info().file_size == (8u << 20));
    CHECK(error_of([&] { p.grow(9 << 20); }) == error_code::invalid_argument);
    p.transaction([&] {
      tx_snapshot(w);
      *w = 2;
    });
  }
  // A larger max_size at the next open goes further.
  o.mode = open_mode::open_existing;
  o.max_size = 0;
  pool q = pool::open(path, o);
  CHECK(read_marker(q) == 2);
  q.grow(16 << 20);
  CHECK(q.info().file_size == (16u << 20));
  CHECK(read_marker(q) == 2);
}

TEST_CASE("grow inside a transaction is tx_invalid", "[pool][grow][errors]") {
  temp_dir dir;
  pool_options o;
  o.size = 4 << 20;
  pool p = pool::open(dir / "intx.pool", o);
  p.transaction([&] { CHECK(error_of([&] { p.grow(8 << 20); }) == error_code::tx_invalid); });
  CHECK(p.info().file_size == (4u << 20));
}
