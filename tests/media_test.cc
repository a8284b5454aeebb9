// Tests of engine/media: the libpmem2 file media, the simulated device and
// the counters.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "ferrite/base/media/detail/file_media.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/base/media/detail/sim_media.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace {

int make_file(const std::filesystem::path& p, std::size_t size) {
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(posix_fallocate(fd, 0, static_cast<off_t>(size)) == 0);
  return fd;
}

// A file of `size` bytes on /dev/shm that libpmem2 maps as cache-line media
// (PMEM2_FORCE_GRANULARITY=cacheline while it lives), removed with it.
// REQUIRES: have_shm().
struct shm_cacheline_file {
  std::filesystem::path path;
  int fd;
  shm_cacheline_file(const std::string& name, std::size_t size)
      : path("/dev/shm/" + name + "-" + std::to_string(getpid())) {
    ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
    fd = make_file(path, size);
  }
  ~shm_cacheline_file() {
    ::unsetenv("PMEM2_FORCE_GRANULARITY");
    ::close(fd);
    ::unlink(path.c_str());
  }
};

bool have_shm() {
  if (std::filesystem::is_directory("/dev/shm")) return true;
  WARN("no /dev/shm");
  return false;
}

}  // namespace

TEST_CASE("an ordinary file is page media and persists with one msync per barrier", "[media]") {
  test::temp_dir d;
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  int fd = make_file(d / "f", 1 << 20);
  {
    detail::file_media m(fd, 1 << 20, true, "f", 1 << 20);
    if (m.store_granularity() != granularity::page) {
      WARN("TMPDIR is on DAX or forced media; page behaviour not checked here");
    } else {
      m.write(100, "hello", 5);
      m.write(5000, "world", 5);
      m.barrier(0, 8192);
      media_stats s = m.stats();
      CHECK(s.writes == 2);
      CHECK(s.bytes_written == 10);
      CHECK(s.syncs == 1);
      CHECK(s.fences == 0);
      m.sync_all();
      CHECK(m.stats().syncs == 2);
    }
    CHECK(std::memcmp(m.durable() + 100, "hello", 5) == 0);
  }
  char buf[5];
  REQUIRE(pread(fd, buf, 5, 5000) == 5);
  CHECK(std::memcmp(buf, "world", 5) == 0);
  ::close(fd);
}

TEST_CASE("PMEM2_FORCE_GRANULARITY=cacheline makes a file cache-line media", "[media]") {
  if (!have_shm()) return;
  shm_cacheline_file f("ferrite-media-test", 1 << 20);
  {
    detail::file_media m(f.fd, 1 << 20, true, "shm", 1 << 20);
    CHECK(m.store_granularity() == granularity::cache_line);
    m.write(60, "0123456789", 10);  // spans two cache lines
    m.barrier(60, 10);
    media_stats s = m.stats();
    CHECK(s.flushed_lines == 2);
    CHECK(s.fences == 1);
    CHECK(s.syncs == 0);
    CHECK(std::memcmp(m.durable() + 60, "0123456789", 10) == 0);
  }
}

namespace {
// Minor page faults of the calling thread so far.
long thread_faults() {
  rusage u{};
  REQUIRE(getrusage(RUSAGE_THREAD, &u) == 0);
  return u.ru_minflt;
}
}  // namespace

TEST_CASE("prefault maps cache-line media's pages ahead of writes and changes no byte", "[media]") {
  if (!have_shm()) return;
  constexpr std::size_t size = 1 << 20, page = 4096, pages = 32;
  shm_cacheline_file f("ferrite-media-prefault-test", size);
  std::vector<char> pattern(size);
  for (std::size_t i = 0; i < size; ++i) pattern[i] = static_cast<char>(i * 7 + 3);
  REQUIRE(pwrite(f.fd, pattern.data(), size, 0) == static_cast<ssize_t>(size));
  {
    detail::file_media m(f.fd, size, true, "shm", size);
    REQUIRE(m.store_granularity() == granularity::cache_line);
    // Pages [8, 8 + pages) prefaulted from an offset inside page 8; pages
    // [128, 128 + pages) not, to show that a first write does fault here.
    // (Nothing reads them before the writes: on tmpfs a read maps a page
    // writable too.)
    m.prefault(8 * page + 100, pages * page - 100);
    m.write(64, "x", 1);  // page 0: the counters' first use (a thread's shard) is not counted
    pattern[64] = 'x';
    auto write_pages = [&](std::size_t first) {
      const long before = thread_faults();
      for (std::size_t i = first; i < first + pages; ++i) m.write(i * page + 64, "x", 1);
      return thread_faults() - before;
    };
    CHECK(write_pages(8) == 0);
    CHECK(write_pages(128) >= static_cast<long>(pages));
    m.barrier(0, size);
    for (std::size_t i = 0; i < pages; ++i)
      pattern[(8 + i) * page + 64] = pattern[(128 + i) * page + 64] = 'x';
    CHECK(std::memcmp(m.durable(), pattern.data(), size) == 0);
  }
}

TEST_CASE("a grown part of cache-line media is flushed like the rest", "[media][grow]") {
  if (!have_shm()) return;
  shm_cacheline_file f("ferrite-media-grow-test", 1 << 20);
  {
    detail::file_media m(f.fd, 1 << 20, true, "shm", 2 << 20);
    REQUIRE(m.store_granularity() == granularity::cache_line);
    m.grow(2 << 20);  // the new part must be cache-line media too, or grow throws
    const std::uint64_t at = (1 << 20) - 4;  // spans the two parts
    m.write(at, "01234567", 8);
    m.barrier(at, 8);
    CHECK(m.stats().flushed_lines == 2);
    CHECK(m.stats().fences == 1);
    CHECK(std::memcmp(m.durable() + at, "01234567", 8) == 0);
  }
  char buf[8];
  REQUIRE(pread(f.fd, buf, 8, (1 << 20) - 4) == 8);
  CHECK(std::memcmp(buf, "01234567", 8) == 0);
}

TEST_CASE("the working view is private: its stores never reach the file", "[media]") {
  test::temp_dir d;
  int fd = make_file(d / "f", 1 << 20);
  {
    detail::file_media m(fd, 1 << 20, true, "f", 1 << 20);
    m.write(0, "durable", 7);
    m.sync_all();
    m.map_working_view();
    CHECK(std::memcmp(m.working(), "durable", 7) == 0);
    std::memcpy(m.working(), "private", 7);
    m.sync_all();
    CHECK(std::memcmp(m.durable(), "durable", 7) == 0);
  }
  char buf[7];
  REQUIRE(pread(fd, buf, 7, 0) == 7);
  CHECK(std::memcmp(buf, "durable", 7) == 0);
  ::close(fd);
}

TEST_CASE("grow extends the file and keeps its contents", "[media]") {
  test::temp_dir d;
  int fd = make_file(d / "f", 1 << 20);
  detail::file_media m(fd, 1 << 20, true, "f", 4 << 20);
  m.write(10, "keep", 4);
  m.sync_all();
  m.map_working_view();
  m.grow(2 << 20);
  CHECK(m.size() == (2u << 20));
  CHECK(std::memcmp(m.durable() + 10, "keep", 4) == 0);
  CHECK(std::memcmp(m.working() + 10, "keep", 4) == 0);
  m.write((2 << 20) - 4, "tail", 4);
  m.sync_all();
  char buf[4];
  REQUIRE(pread(fd, buf, 4, (2 << 20) - 4) == 4);
  CHECK(std::memcmp(buf, "tail", 4) == 0);
  ::close(fd);
}

TEST_CASE("grow maps the new part in place: views keep their addresses and private pages",
          "[media][grow]") {
  test::temp_dir d;
  int fd = make_file(d / "f", 1 << 20);
  detail::file_media m(fd, 1 << 20, true, "f", 8 << 20);
  CHECK(m.max_size() == (8u << 20));
  m.write(4096, "durable", 7);
  m.sync_all();
  m.map_working_view();
  std::byte* const durable = const_cast<std::byte*>(m.durable());
  std::byte* const working = m.working();
  std::memcpy(working + 4096, "private", 7);  // an uncommitted store: a private page
  for (std::size_t size : {2u << 20, 3u << 20, 8u << 20}) {
    const std::size_t old = m.size();
    m.grow(size);
    CHECK(m.size() == size);
    CHECK(m.durable() == durable);
    CHECK(m.working() == working);
    CHECK(std::memcmp(working + 4096, "private", 7) == 0);  // not re-read from the file
    CHECK(std::memcmp(durable + 4096, "durable", 7) == 0);
    // The new part reads zero in both views and takes writes.
    CHECK(working[old] == std::byte{0});
    CHECK(working[size - 1] == std::byte{0});
    m.write(size - 8, "new-part", 8);
    m.barrier(size - 8, 8);
    CHECK(std::memcmp(durable + size - 8, "new-part", 8) == 0);
    working[old] = std::byte{1};  // private, like the rest of the view
  }
  char buf[8];
  REQUIRE(pread(fd, buf, 8, (3 << 20) - 8) == 8);
  CHECK(std::memcmp(buf, "new-part", 8) == 0);
  REQUIRE(pread(fd, buf, 1, 2 << 20) == 1);
  CHECK(buf[0] == 0);
  // A grow past the reserved range is refused; nothing changes.
  CHECK(error_of([&] { m.grow(16 << 20); }) == error_code::invalid_argument);
  CHECK(m.size() == (8u << 20));
  CHECK(std::filesystem::file_size(d / "f") == (8u << 20));
  ::close(fd);
}

TEST_CASE("a read-only file media maps both views into reserved ranges", "[media][grow]") {
  test::temp_dir d;
  {
    int fd = make_file(d / "f", 1 << 20);
    detail::file_media w(fd, 1 << 20, true, "f", 1 << 20);
    w.write(100, "ro", 2);
    w.sync_all();
    ::close(fd);
  }
  int fd = ::open((d / "f").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  detail::file_media m(fd, 1 << 20, false, "f", 4 << 20);
  CHECK(m.max_size() == (4u << 20));
  m.map_working_view();
  CHECK(std::memcmp(m.durable() + 100, "ro", 2) == 0);
  CHECK(std::memcmp(m.working() + 100, "ro", 2) == 0);
  std::memcpy(m.working() + 100, "rw", 2);  // the working view is private and writable
  CHECK(std::memcmp(m.durable() + 100, "ro", 2) == 0);
  ::close(fd);
}

TEST_CASE("a dropped page of a grown part shows the durable bytes again", "[media][grow]") {
  test::temp_dir d;
  auto check_drop = [](detail::media& m) {
    m.map_working_view();
    m.grow(2 << 20);
    const std::uint64_t page = (1 << 20) + 4096;  // in the grown part
    m.write(page, "file", 4);
    m.sync_all();
    std::memcpy(m.working() + page, "file", 4);  // now equal to the durable page
    std::byte* const working = m.working();
    m.hold_pages({{page, 4096}});
    m.drop_page(page);
    m.release_pages();
    CHECK(m.working() == working);
    CHECK(std::memcmp(m.working() + page, "file", 4) == 0);
    m.write(page, "next", 4);  // the dropped page follows the durable view (file media)
    std::memcpy(m.working() + page + 8, "own", 3);  // and is writable again
    CHECK(std::memcmp(m.working() + page + 8, "own", 3) == 0);
  };
  SECTION("file") {
    int fd = make_file(d / "f", 1 << 20);
    detail::file_media m(fd, 1 << 20, true, "f", 4 << 20);
    check_drop(m);
    CHECK(std::memcmp(m.working() + (1 << 20) + 4096, "next", 4) == 0);
    ::close(fd);
  }
  SECTION("simulated device") {
    auto dev = std::make_shared<sim_device>(granularity::cache_line);
    dev->resize(1 << 20);
    detail::sim_media m(dev, 4 << 20);
    check_drop(m);
  }
}

// A give-back holds whole spans (txlog's change_log merges runs a few pages
// apart): a page in the span that is not dropped is held all the same. A
// store to it waits until release_pages() and is kept; the dropped pages
// around it show the durable bytes.
TEST_CASE("a store to a held page that is not dropped waits and is kept", "[media]") {
  test::temp_dir d;
  auto check = [](detail::media& m) {
    m.map_working_view();
    for (std::uint64_t pg = 1; pg <= 4; ++pg) {
      m.write(pg * 4096, "file", 4);
      std::memcpy(m.working() + pg * 4096, "file", 4);
    }
    m.sync_all();
    std::memcpy(m.working() + 2 * 4096 + 8, "own", 3);  // page 2 differs: not dropped
    m.hold_pages({{4096, 4 * 4096}});
    std::atomic<bool> stored{false};
    std::thread writer([&] {
      std::memcpy(m.working() + 2 * 4096 + 16, "late", 4);  // waits for the release
      stored = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(stored.load());
    std::size_t dropped = 0;
    m.drop_pages({4096, 3 * 4096, 4 * 4096}, dropped);
    CHECK(dropped == 3);
    m.release_pages();
    writer.join();
    CHECK(std::memcmp(m.working() + 2 * 4096 + 8, "own", 3) == 0);
    CHECK(std::memcmp(m.working() + 2 * 4096 + 16, "late", 4) == 0);
    for (std::uint64_t pg : {1, 3, 4}) {
      CHECK(std::memcmp(m.working() + pg * 4096, "file", 4) == 0);
      std::memcpy(m.working() + pg * 4096 + 8, "own", 3);  // writable again
    }
  };
  SECTION("file") {
    int fd = make_file(d / "f", 1 << 20);
    detail::file_media m(fd, 1 << 20, true, "f", 1 << 20);
    check(m);
    m.write(3 * 4096 + 4, "next", 4);  // a dropped page that was not written since
    m.write(2 * 4096 + 4, "next", 4);  // a kept private page
    CHECK(std::memcmp(m.working() + 2 * 4096 + 4, "next", 4) != 0);
    ::close(fd);
  }
  SECTION("simulated device") {
    auto dev = std::make_shared<sim_device>(granularity::cache_line);
    dev->resize(1 << 20);
    detail::sim_media m(dev, 1 << 20);
    check(m);
  }
}

namespace {
std::atomic<int> segv_passed_on{0};
void count_segv(int, siginfo_t*, void*) {
  segv_passed_on.fetch_add(1);
}
}  // namespace

// The fault happens while the page is held, but the handler runs only
// after release_pages() cleared the span (the thread was descheduled in
// between): the store must run again, not reach the previous handler.
TEST_CASE("a store to a held page whose fault is handled after the release runs again", "[media]") {
  test::temp_dir d;
  struct sigaction counting {
  }, before{}, ours{};
  counting.sa_sigaction = count_segv;
  counting.sa_flags = SA_SIGINFO;
  sigemptyset(&counting.sa_mask);
  REQUIRE(sigaction(SIGSEGV, &counting, &before) == 0);
  int fd = make_file(d / "f", 1 << 20);
  {
    detail::file_media m(fd, 1 << 20, true, "f", 4 << 20);
    m.map_working_view();
    m.hold_pages({{4096, 4096}});  // installs ferrite's handler over count_segv
    m.release_pages();
    REQUIRE(sigaction(SIGSEGV, nullptr, &ours) == 0);
    REQUIRE((ours.sa_flags & SA_SIGINFO) != 0);
    REQUIRE(ours.sa_sigaction != count_segv);
    auto fault = [&](void* addr) {
      siginfo_t info{};
      info.si_signo = SIGSEGV;
      info.si_code = SEGV_ACCERR;
      info.si_addr = addr;
      ours.sa_sigaction(SIGSEGV, &info, nullptr);
    };
    std::byte* const store = m.working() + 4096 + 8;
    fault(store);  // late: retried
    CHECK(segv_passed_on == 0);
    fault(store);  // faulted again with no release since: not ours
    CHECK(segv_passed_on == 1);
    m.hold_pages({{4096, 4096}});
    m.release_pages();
    fault(store);  // a new release: retried once more
    CHECK(segv_passed_on == 1);
    int outside = 0;
    fault(&outside);  // not in any pool: passed on at once
    CHECK(segv_passed_on == 2);
  }
  ::close(fd);
  REQUIRE(sigaction(SIGSEGV, &before, nullptr) == 0);
}

TEST_CASE("sim device: grow keeps working() stable and its private bytes", "[media][sim][grow]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  dev->resize(64 << 10);
  detail::sim_media m(dev, 1 << 20);
  CHECK(m.max_size() == (1u << 20));
  m.write(8, "durable!", 8);
  m.barrier(0, 0);
  m.map_working_view();
  std::byte* const working = m.working();
  std::memcpy(working + 16, "private!", 8);  // never written to the device
  for (std::size_t size : {std::size_t{128} << 10, std::size_t{200} << 10, std::size_t{1} << 20}) {
    const std::size_t old = m.size();
    m.grow(size);
    CHECK(m.size() == size);
    CHECK(dev->size() == size);
    CHECK(m.working() == working);
    CHECK(std::memcmp(working + 8, "durable!", 8) == 0);
    CHECK(std::memcmp(working + 16, "private!", 8) == 0);
    CHECK(std::memcmp(m.durable() + 8, "durable!", 8) == 0);  // read again: it may move
    CHECK(m.durable()[16] == std::byte{0});
    bool zero = true;
    for (std::size_t i = old; i < size; ++i) zero = zero && working[i] == std::byte{0};
    CHECK(zero);
    std::memset(working + old, 0x5a, size - old);  // the new part is writable
  }
  CHECK(error_of([&] { m.grow(2 << 20); }) == error_code::invalid_argument);
  CHECK(m.size() == (1u << 20));
  CHECK(dev->size() == (1u << 20));
}

TEST_CASE("sim device: a reused working range starts from the device's bytes",
          "[media][sim][grow]") {
  // Closed sim_media give their ranges to the next ones (no first-touch
  // faults): what the last user left there must never show.
  for (int round = 0; round < 3; ++round) {
    auto dev = std::make_shared<sim_device>(granularity::page);
    dev->resize(64 << 10);
    detail::sim_media m(dev, 1 << 20);
    m.map_working_view();
    bool zero = true;
    for (std::size_t i = 0; i < (64 << 10); ++i) zero = zero && m.working()[i] == std::byte{0};
    CHECK(zero);
    m.grow(512 << 10);
    for (std::size_t i = 0; i < (512 << 10); ++i) zero = zero && m.working()[i] == std::byte{0};
    CHECK(zero);
    std::memset(m.working(), 0xee, 512 << 10);  // left for the next round
  }
}

TEST_CASE("sim device: writes are visible at once and durable after a barrier", "[media][sim]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  dev->resize(4096);
  detail::sim_media m(dev, 0);
  m.write(8, "abcdefgh", 8);
  m.write(20, "xy", 2);                                     // dirties word 2
  CHECK(std::memcmp(m.durable() + 8, "abcdefgh", 8) == 0);  // visible
  CHECK(dev->durable()[8] == std::byte{0});                 // not yet durable
  CHECK(dev->dirty_units() == std::vector<std::uint64_t>{1, 2});
  m.barrier(0, 0);
  CHECK(dev->durable()[8] == std::byte{'a'});
  CHECK(dev->dirty_units().empty());
  CHECK(m.stats().fences == 1);
}

TEST_CASE("sim device: a crash image holds exactly the chosen units", "[media][sim]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  dev->resize(64);
  dev->write(0, "AAAAAAAABBBBBBBB", 16);
  std::vector<std::byte> img = dev->crash_image({1});
  CHECK(img[0] == std::byte{0});
  CHECK(img[8] == std::byte{'B'});
}

TEST_CASE("sim device: a page barrier makes only its pages durable", "[media][sim]") {
  auto dev = std::make_shared<sim_device>(granularity::page);
  dev->resize(3 * 4096);
  detail::sim_media m(dev, 0);
  m.write(10, "one", 3);
  m.write(8192 + 10, "three", 5);
  m.barrier(8192, 100);
  CHECK(dev->durable()[8192 + 10] == std::byte{'t'});
  CHECK(dev->durable()[10] == std::byte{0});
  CHECK(dev->dirty_units().size() == 1);
  CHECK(m.stats().syncs == 1);
  m.sync_all();
  CHECK(dev->durable()[10] == std::byte{'o'});
}

TEST_CASE("sim device: after a process crash, page syncs write back the dead writer's sectors",
          "[media][sim]") {
  // The dead writer left sector 1 (page 0) and sector 16 (page 2) in the
  // page cache; the media hold zeros there.
  std::vector<std::byte> visible(3 * 4096), durable(3 * 4096);
  visible[512] = std::byte{'a'};
  visible[16 * 512] = std::byte{'b'};
  auto dev = sim_device::after_process_crash(visible, durable, {1, 16}, granularity::page);
  CHECK(dev->visible()[512] == std::byte{'a'});  // the next process reads the page cache
  CHECK(dev->durable()[512] == std::byte{0});
  CHECK(dev->dirty_units() == std::vector<std::uint64_t>{1, 16});
  CHECK(dev->crash_image({16})[16 * 512] == std::byte{'b'});
  CHECK(dev->crash_image({16})[512] == std::byte{0});
  detail::sim_media m(dev, 0);
  m.write(8192 + 8, "c", 1);  // the new process dirties sector 16 again
  m.barrier(0, 100);          // msync of page 0: the dead writer's sector too
  CHECK(dev->durable()[512] == std::byte{'a'});
  CHECK(dev->dirty_units() == std::vector<std::uint64_t>{16});
  m.sync_all();
  CHECK(dev->durable()[16 * 512] == std::byte{'b'});
  CHECK(dev->durable()[8192 + 8] == std::byte{'c'});
  CHECK(dev->dirty_units().empty());
}

TEST_CASE("sim device: after a process crash, cache lines need the new process's flush",
          "[media][sim]") {
  std::vector<std::byte> visible(4096), durable(4096);
  visible[8] = std::byte{'a'};
  visible[64] = std::byte{'b'};
  auto dev = sim_device::after_process_crash(visible, durable, {1, 8}, granularity::cache_line);
  detail::sim_media m(dev, 0);
  m.barrier(0, 4096);  // a fence alone: nobody flushed the dead writer's lines
  CHECK(dev->durable()[8] == std::byte{0});
  CHECK(dev->dirty_units() == std::vector<std::uint64_t>{1, 8});
  m.flush(64, 8);
  m.barrier(0, 4096);
  CHECK(dev->durable()[64] == std::byte{'b'});
  CHECK(dev->durable()[8] == std::byte{0});
  CHECK(dev->dirty_units() == std::vector<std::uint64_t>{1});
}

TEST_CASE("sim device: a process-crash device needs images of one size", "[media][sim][errors]") {
  CHECK(error_of([] {
          sim_device::after_process_crash(std::vector<std::byte>(64), std::vector<std::byte>(32),
                                          {}, granularity::page);
        }) == error_code::invalid_argument);
}

TEST_CASE("sim device: an injected sync failure is io_error", "[media][sim][errors]") {
  auto dev = std::make_shared<sim_device>(granularity::page);
  dev->resize(4096);
  dev->fail_barrier_at = 1;
  detail::sim_media m(dev, 0);
  m.write(0, "x", 1);
  m.barrier(0, 1);
  m.write(1, "y", 1);
  CHECK(error_of([&] { m.barrier(0, 2); }) == error_code::io_error);
}

TEST_CASE("sim device: the barrier hook sees the state before the barrier", "[media][sim]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  dev->resize(64);
  std::size_t dirty_seen = 0;
  dev->on_barrier = [&](const sim_device& d) { dirty_seen = d.dirty_units().size(); };
  detail::sim_media m(dev, 0);
  m.write(0, "0123456789abcdef", 16);
  m.barrier(0, 16);
  CHECK(dirty_seen == 2);
  CHECK(dev->barriers() == 1);
}

TEST_CASE("sim device: a fence makes durable only the lines its own thread flushed",
          "[media][sim][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  dev->resize(4096);
  detail::sim_media m(dev, 0);
  m.write(0, "mainmain", 8);
  std::thread other([&] {
    m.write(64, "otherthr", 8);  // flushed by this thread, not fenced yet
    m.barrier(0, 0);             // fences this thread's line only
  });
  other.join();
  CHECK(dev->durable()[64] == std::byte{'o'});
  CHECK(dev->durable()[0] == std::byte{0});  // the main thread has not fenced
  std::thread later([&] { m.write(128, "laterthr", 8); });
  later.join();
  m.sync_all();  // a fence of the main thread
  CHECK(dev->durable()[0] == std::byte{'m'});
  CHECK(dev->durable()[128] == std::byte{0});  // flushed by a thread that never fenced
  CHECK(dev->dirty_units() == std::vector<std::uint64_t>{16});
  // A line flushed by two threads (no store in between) is made durable by
  // either one's fence.
  m.flush(128, 8);
  m.barrier(0, 0);
  CHECK(dev->durable()[128] == std::byte{'l'});
  CHECK(dev->dirty_units().empty());

  // On page media a sync makes every writer's sectors durable.
  auto page = std::make_shared<sim_device>(granularity::page);
  page->resize(4096);
  detail::sim_media pm(page, 0);
  std::thread writer([&] { pm.write(0, "w", 1); });
  writer.join();
  pm.sync_all();
  CHECK(page->durable()[0] == std::byte{'w'});
}

TEST_CASE("sim device: threads write at once and every barrier sees a consistent device",
          "[media][sim][threads]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    constexpr int threads = 4, rounds = 300;
    dev->resize(threads * 4096);
    std::atomic<int> torn{0}, hooks{0};
    // Each write stores a value and its complement in one call: the hook
    // never sees one without the other.
    dev->on_barrier = [&](const sim_device& d) {
      hooks.fetch_add(1);
      for (int t = 0; t < threads; ++t) {
        std::uint64_t w[2];
        std::memcpy(w, d.visible().data() + t * 4096, sizeof w);
        if (w[1] != ~w[0] && (w[0] | w[1]) != 0) torn.fetch_add(1);
      }
      (void)d.crash_image(d.dirty_units());
    };
    detail::sim_media m(dev, 0);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        for (std::uint64_t i = 1; i <= rounds; ++i) {
          const std::uint64_t w[2] = {i, ~i};
          m.write(static_cast<std::uint64_t>(t) * 4096, w, sizeof w);
          m.barrier(static_cast<std::uint64_t>(t) * 4096, sizeof w);
        }
      });
    }
    for (auto& t : ts) t.join();
    CHECK(torn.load() == 0);
    CHECK(hooks.load() == threads * rounds);
    CHECK(dev->barriers() == threads * rounds);
    CHECK(dev->dirty_units().empty());  // each thread fenced its own writes
    CHECK(dev->durable() == dev->visible());
  }
}

TEST_CASE("lines_touched counts 64-byte lines", "[media]") {
  CHECK(detail::lines_touched(0, 0) == 0);
  CHECK(detail::lines_touched(0, 64) == 1);
  CHECK(detail::lines_touched(63, 2) == 2);
  CHECK(detail::lines_touched(64, 129) == 3);
}
