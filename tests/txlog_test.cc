// Tests of txlog/: record format, recovery, and crashes at every fence/sync
// of small transactions, including crashes during recovery.
#include <cstring>
#include <random>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/pool.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/engine/transaction.h"
#include "tests/test_util.h"
#include "ferrite/base/format/log_format.h"
#include "ferrite/txlog/record.h"
#include "ferrite/txlog/superblock.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace {

constexpr int words = 64;  // the workload's state: 64 counters at the heap start

using state = std::vector<std::uint64_t>;

pool_options options_for(std::shared_ptr<sim_device> dev, open_mode mode) {
  pool_options o;
  o.device = std::move(dev);
  o.mode = mode;
  o.size = 2 << 20;  // the minimum: every crash image is a copy of the pool
  o.log_size = 256 * 1024;
  return o;
}

state read_state(pool& p) {
  const auto* w = reinterpret_cast<const std::uint64_t*>(p.base() + p.heap_offset());
  return state(w, w + words);
}

// The state after transaction k of the workload below.
state model_after(int k) {
  state s(words, 0);
  for (int i = 1; i <= k; ++i) {
    s[static_cast<std::size_t>(i % words)] = static_cast<std::uint64_t>(i);
    s[static_cast<std::size_t>((i * 7) % words)] += 1;
    if (i % 5 == 0) {
      for (int j = 0; j < 8; ++j) s[static_cast<std::size_t>(40 + j)] = static_cast<std::uint64_t>(i + j);
    }
  }
  return s;
}

void run_tx(pool& p, int i) {
  auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset());
  p.transaction([&] {
    tx_snapshot(&w[i % words]);
    w[i % words] = static_cast<std::uint64_t>(i);
    tx_snapshot(&w[(i * 7) % words]);
    w[(i * 7) % words] += 1;
    if (i % 5 == 0) {
      tx_snapshot(&w[40], 64);
      for (int j = 0; j < 8; ++j) w[40 + j] = static_cast<std::uint64_t>(i + j);
    }
  });
}

// Subsets of the in-flight units to try at one crash point.
std::vector<std::vector<std::uint64_t>> subsets_of(const std::vector<std::uint64_t>& dirty,
                                                   std::mt19937_64& rng) {
  std::vector<std::vector<std::uint64_t>> out;
  out.push_back({});
  if (dirty.empty()) return out;
  out.push_back(dirty);
  for (std::size_t n = 1; n < dirty.size(); n = n * 2 + 1) {
    out.emplace_back(dirty.begin(), dirty.begin() + static_cast<std::ptrdiff_t>(n));  // prefix
    out.emplace_back(dirty.end() - static_cast<std::ptrdiff_t>(n), dirty.end());       // suffix
  }
  for (int r = 0; r < 4; ++r) {
    std::vector<std::uint64_t> s;
    for (std::uint64_t u : dirty) {
      if (rng() % 2) s.push_back(u);
    }
    out.push_back(std::move(s));
  }
  return out;
}

struct crash_check {
  granularity g;
  std::mt19937_64 rng{42};
  int images = 0;
  int inflight = 0;       // transaction being committed (state may be it or the one before)
  bool nested = false;    // checking a crash during recovery

  // Recovers `image` and checks it shows one of the acceptable states; then
  // recovers again and checks the bytes are the same (idempotence).
  void check_image(const std::vector<std::byte>& image, int level) {
    ++images;
    auto dev = sim_device::from_image(image, g);
    if (level == 1) {
      // Crash inside recovery: check every barrier of this recovery too,
      // with nothing, everything and a random part of what is in flight.
      dev->on_barrier = [this, level](const sim_device& d) {
        auto all = subsets_of(d.dirty_units(), rng);
        for (std::size_t k : {std::size_t{0}, std::size_t{1}, all.size() - 1}) {
          if (k < all.size()) check_image(d.crash_image(all[k]), level + 1);
        }
      };
    }
    state got;
    std::vector<std::byte> after_first;
    {
      pool p = pool::open("img", options_for(dev, open_mode::open_existing));
      dev->on_barrier = nullptr;
      got = read_state(p);
      after_first = dev->durable();
    }  // (closing checkpoints; the idempotence check uses the open-time image)
    INFO("in flight: transaction " << inflight << ", level " << level);
    bool ok = got == model_after(inflight) || got == model_after(inflight - 1);
    CHECK(ok);
    if (level > 1) return;
    // Second recovery of the image left by the first: same heap bytes.
    auto again = sim_device::from_image(after_first, g);
    pool q = pool::open("again", options_for(again, open_mode::open_existing));
    CHECK(read_state(q) == got);
  }
};

void crash_at_every_barrier(granularity g, int transactions) {
  auto dev = std::make_shared<sim_device>(g);
  { pool::open("sim", options_for(dev, open_mode::create_exclusive)); }
  crash_check cc{g};
  dev->on_barrier = [&](const sim_device& d) {
    for (auto& s : subsets_of(d.dirty_units(), cc.rng)) cc.check_image(d.crash_image(s), 1);
  };
  pool p = pool::open("sim", options_for(dev, open_mode::open_existing));
  for (int i = 1; i <= transactions; ++i) {
    cc.inflight = i;
    run_tx(p, i);
    // Invariant 3: once commit returns, a crash shows transaction i.
    auto img = sim_device::from_image(dev->durable(), g);
    pool q = pool::open("now", options_for(img, open_mode::open_existing));
    CHECK(read_state(q) == model_after(i));
  }
  dev->on_barrier = nullptr;
  INFO("crash images checked: " << cc.images);
  CHECK(cc.images > 100);
}

}  // namespace

TEST_CASE("crash at every fence of small transactions (cache-line media)", "[crash]") {
  crash_at_every_barrier(granularity::cache_line, 12);
}

TEST_CASE("crash at every sync of small transactions (page media)", "[crash]") {
  crash_at_every_barrier(granularity::page, 12);
}

TEST_CASE("crashes around log wrap-around and checkpoints", "[crash][log]") {
  // Enough transactions to fill a 256 KiB log several times; crash points
  // are checked from transaction 2500 on: every barrier of a checkpoint,
  // every 13th commit.
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
    for (int i = 1; i < 2500; ++i) run_tx(p, i);
    crash_check cc{g};
    int barriers = 0, checkpoint_barriers = 0;
    dev->on_barrier = [&](const sim_device& d) {
      // Every checkpoint barrier (many units in flight); every 7th commit.
      // Heap bytes in flight: a checkpoint is running.
      bool checkpoint = false;
      for (std::uint64_t u : d.dirty_units()) checkpoint |= u * d.unit_size() >= p.heap_offset();
      if (!checkpoint && ++barriers % 13 != 0) return;
      if (checkpoint) ++checkpoint_barriers;
      for (auto& s : subsets_of(d.dirty_units(), cc.rng)) cc.check_image(d.crash_image(s), 2);
    };
    for (int i = 2500; i < 5000; ++i) {
      cc.inflight = i;
      run_tx(p, i);
    }
    dev->on_barrier = nullptr;
    CHECK(checkpoint_barriers >= 2);
    CHECK(p.stats().log_wraps > 0);
    CHECK(cc.images > 50);
  }
}

TEST_CASE("recovery stops at a torn record and ignores stale ones", "[recovery]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
  for (int i = 1; i <= 3; ++i) run_tx(p, i);
  // Tear the last record: flip a byte of it in the durable image.
  std::vector<std::byte> img = dev->durable();
  detail::pool_header h;
  std::memcpy(&h, img.data(), sizeof h);
  // Records 1..3 are at the log start (each 128 or 192 bytes): find record 3.
  std::uint64_t pos = h.log_offset;
  for (int r = 0; r < 2; ++r) {
    detail::record_header rh;
    std::memcpy(&rh, img.data() + pos, sizeof rh);
    pos += rh.length;
  }
  img[pos + 70] ^= std::byte{0xff};
  auto torn = sim_device::from_image(img, granularity::cache_line);
  pool q = pool::open("torn", options_for(torn, open_mode::open_existing));
  CHECK(read_state(q) == model_after(2));
  CHECK(q.stats().recovered_records == 2);
}

TEST_CASE("a valid record pointing outside the heap is corrupted", "[recovery][errors]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
  run_tx(p, 1);
  std::vector<std::byte> img = dev->durable();
  detail::pool_header h;
  std::memcpy(&h, img.data(), sizeof h);
  // Rewrite record 1 with an entry aimed at the superblock, checksum fixed.
  detail::record_header rh;
  std::memcpy(&rh, img.data() + h.log_offset, sizeof rh);
  detail::entry_header eh;
  std::memcpy(&eh, img.data() + h.log_offset + 64, sizeof eh);
  eh.offset = detail::superblock_offsets[0];
  std::memcpy(img.data() + h.log_offset + 64, &eh, sizeof eh);
  rh.checksum = detail::checksum64(img.data() + h.log_offset + 8, rh.length - 8, detail::pool_seed(h));
  std::memcpy(img.data() + h.log_offset, &rh.checksum, 8);
  auto bad = sim_device::from_image(img, granularity::cache_line);
  CHECK(error_of([&] { pool::open("bad", options_for(bad, open_mode::open_existing)); }) ==
        error_code::corrupted);
}

TEST_CASE("records of an older epoch are not replayed", "[recovery]") {
  // Crash with records in the log, recover (new epoch), crash again at
  // once: the old records must not be applied a second time on top of
  // newer work.
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
  for (int i = 1; i <= 4; ++i) run_tx(p, i);
  auto first = sim_device::from_image(dev->durable(), granularity::cache_line);
  {
    pool q = pool::open("first", options_for(first, open_mode::open_existing));
    CHECK(q.stats().recovered_records == 4);
    run_tx(q, 5);
    auto second = sim_device::from_image(first->durable(), granularity::cache_line);
    pool r = pool::open("second", options_for(second, open_mode::open_existing));
    CHECK(r.stats().recovered_records == 1);
    CHECK(read_state(r) == model_after(5));
  }
}

TEST_CASE("record builder output validates and applies", "[record]") {
  detail::record_builder rb;
  std::uint64_t v = 0x1122334455667788;
  rb.add_range(1 << 20, &v, 8);
  rb.add_bits(detail::entry_kind::set_bits, (1 << 20) + 8, 0xf0);
  rb.add_root((1 << 20) + 64, 9);
  const std::uint64_t len = rb.length();
  CHECK(len % 64 == 0);
  const std::byte* rec = rb.finish(5, 2, 77);
  CHECK(detail::validate_record(rec, len, 5, 2, 77) == len);
  CHECK(detail::validate_record(rec, len, 6, 2, 77) == 0);   // wrong LSN
  CHECK(detail::validate_record(rec, len, 5, 3, 77) == 0);   // wrong epoch
  CHECK(detail::validate_record(rec, len, 5, 2, 78) == 0);   // other pool
  CHECK(detail::validate_record(rec, len - 64, 5, 2, 77) == 0);  // does not fit
  detail::pool_bounds b{12288, 12288 + 65536, 1 << 20, 2 << 20};
  CHECK(detail::check_entries(rec, len, b).empty());
  detail::pool_bounds small{12288, 12288 + 65536, 1 << 20, (1 << 20) + 32};
  CHECK_FALSE(detail::check_entries(rec, len, small).empty());
  std::vector<std::byte> image(2 << 20);
  std::uint64_t root = 0, type = 0;
  detail::apply_target t;
  t.write = [&](std::uint64_t off, const void* src, std::uint64_t n) {
    std::memcpy(image.data() + off, src, n);
  };
  t.read_word = [&](std::uint64_t off) {
    std::uint64_t x;
    std::memcpy(&x, image.data() + off, 8);
    return x;
  };
  t.set_root = [&](std::uint64_t off, std::uint64_t ty) {
    root = off;
    type = ty;
  };
  detail::apply_record(rec, t);
  detail::apply_record(rec, t);  // idempotent
  std::uint64_t got, bits;
  std::memcpy(&got, image.data() + (1 << 20), 8);
  std::memcpy(&bits, image.data() + (1 << 20) + 8, 8);
  CHECK(got == v);
  CHECK(bits == 0xf0);
  CHECK(root == (1 << 20) + 64);
  CHECK(type == 9);
}
