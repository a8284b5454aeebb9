// Tests of txlog/: record format, recovery, and crashes at every fence/sync
// of small transactions, including crashes during recovery.
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/format/log_format.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/txlog/record.h"
#include "ferrite/txlog/superblock.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;
using ferrite::test::log_of;
using ferrite::test::log_record;

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
  const auto* w = reinterpret_cast<const std::uint64_t*>(p.base() + p.heap_offset() +
                                                         p.heap_size() / 2 / 4096 * 4096);
  return state(w, w + words);
}

// The state after transaction k of the workload below.
state model_after(int k) {
  state s(words, 0);
  for (int i = 1; i <= k; ++i) {
    s[static_cast<std::size_t>(i % words)] = static_cast<std::uint64_t>(i);
    s[static_cast<std::size_t>((i * 7) % words)] += 1;
    if (i % 5 == 0) {
      for (int j = 0; j < 8; ++j)
        s[static_cast<std::size_t>(40 + j)] = static_cast<std::uint64_t>(i + j);
    }
  }
  return s;
}

void run_tx(pool& p, int i) {
  auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() +
                                             p.heap_size() / 2 / 4096 * 4096);
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
    out.emplace_back(dirty.end() - static_cast<std::ptrdiff_t>(n), dirty.end());      // suffix
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
  int inflight = 0;     // transaction being committed (state may be it or the one before)
  bool nested = false;  // checking a crash during recovery

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

TEST_CASE("a first-in-line commit is counted and durable before the log's lock is taken again",
          "[commit]") {
  // On cache-line media a commit whose record was first in line returns
  // right after its fence, taking no lock; the log marks it written when
  // its mutex is next taken (change_log::absorb_first_locked). Until then
  // the commit must already count, and already survive a power cut.
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o = options_for(dev, open_mode::create_exclusive);
  o.background_checkpoint = false;  // nothing else takes the log's mutex
  pool p = pool::open("sim", o);
  const std::uint64_t commits = p.stats().commits;
  const std::uint64_t bytes = p.stats().log_bytes;
  run_tx(p, 1);
  CHECK(p.stats().commits == commits + 1);
  CHECK(p.stats().log_bytes > bytes);
  CHECK(p.stats().commits == commits + 1);  // reading the stats absorbed nothing twice
  auto crashed = sim_device::from_image(dev->durable(), granularity::cache_line);
  run_tx(p, 2);  // absorbs the first, is first in line itself
  CHECK(p.stats().commits == commits + 2);
  {
    pool after = pool::open("crashed", options_for(crashed, open_mode::open_existing));
    CHECK(read_state(after) == model_after(1));
  }
  p.checkpoint();
  CHECK(p.stats().commits == commits + 2);
  p.close();
  pool again = pool::open("sim", options_for(dev, open_mode::open_existing));
  CHECK(read_state(again) == model_after(2));
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
  rh.checksum =
      detail::checksum64(img.data() + h.log_offset + 8, rh.length - 8, detail::pool_seed(h));
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
  const std::byte* rec = rb.finish(5, 2, 4, 77);
  CHECK(detail::validate_record(rec, len, 5, 2, 77) == len);
  CHECK(detail::validate_record(rec, len, 6, 2, 77) == 0);       // wrong LSN
  CHECK(detail::validate_record(rec, len, 5, 3, 77) == 0);       // wrong epoch
  CHECK(detail::validate_record(rec, len, 5, 2, 78) == 0);       // other pool
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

// One case per check that recovery and validation make on the change log
// and the superblocks (txlog/record.cc validate_record and check_entries,
// txlog/superblock.cc inspect and load, txlog/change_log.cc recover). Each
// builds a pool on the simulated device, commits transactions, damages
// exactly one thing in the durable image and reopens it.
//
// What recovery does (docs/durability.md, "Recovery"; docs/format.md,
// "The current superblock and torn writes"):
// - a record that is not valid (magic, LSN, epoch, length, flags,
//   checksum) is the end of the log: the records before it are replayed,
//   none after it;
// - a valid record with an entry that does not fit the pool fails the open
//   with `corrupted`, and nothing is written;
// - an invalid superblock slot is skipped and the other one is current;
//   both invalid is `corrupted`; a heap beyond the file is `truncated`.
namespace {

// The durable image of a pool and the structures in it, for damaging.
struct pool_image {
  std::vector<std::byte> bytes;
  detail::pool_header header{};

  explicit pool_image(const sim_device& d) : bytes(d.durable()) {
    std::memcpy(&header, bytes.data(), sizeof header);
  }
  std::uint64_t seed() const { return detail::pool_seed(header); }

  detail::superblock slot(int i) const {
    detail::superblock sb;
    std::memcpy(&sb, bytes.data() + header.superblock_offset[i], sizeof sb);
    return sb;
  }
  // Writes `sb` into slot i; with `seal`, with the checksum of its bytes
  // (the damage is then only in the field changed).
  void put_slot(int i, detail::superblock sb, bool seal = true) {
    if (seal) {
      sb.checksum =
          detail::checksum64(reinterpret_cast<const std::byte*>(&sb) + 8, sizeof sb - 8, seed());
    }
    std::memcpy(bytes.data() + header.superblock_offset[i], &sb, sizeof sb);
  }
  // The slot with the higher sequence (both are valid in these tests).
  int current_slot() const { return slot(0).sequence > slot(1).sequence ? 0 : 1; }

  // Offset in the file of the record at `pos` in the log region.
  std::uint64_t at(std::uint64_t pos) const { return header.log_offset + pos; }
  detail::record_header record(std::uint64_t pos) const {
    detail::record_header rh;
    std::memcpy(&rh, bytes.data() + at(pos), sizeof rh);
    return rh;
  }
  // Writes `rh` at `pos`; with `seal`, recomputes the record's checksum
  // over its (new) length.
  void put_record(std::uint64_t pos, detail::record_header rh, bool seal = true) {
    std::memcpy(bytes.data() + at(pos), &rh, sizeof rh);
    if (seal) {
      rh.checksum = detail::checksum64(bytes.data() + at(pos) + 8, rh.length - 8, seed());
      std::memcpy(bytes.data() + at(pos), &rh.checksum, 8);
    }
  }
  detail::entry_header entry(std::uint64_t pos, std::uint64_t offset_in_record) const {
    detail::entry_header e;
    std::memcpy(&e, bytes.data() + at(pos) + offset_in_record, sizeof e);
    return e;
  }
  void put_entry(std::uint64_t pos, std::uint64_t offset_in_record, const detail::entry_header& e) {
    std::memcpy(bytes.data() + at(pos) + offset_in_record, &e, sizeof e);
    put_record(pos, record(pos));  // reseal
  }

  std::vector<log_record> log() const { return log_of(bytes.data()); }

  std::shared_ptr<sim_device> device() const {
    return sim_device::from_image(bytes, granularity::cache_line);
  }
};

// A pool that ran transactions 1..n; the device keeps its durable image.
std::shared_ptr<sim_device> pool_after(int n) {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
  for (int i = 1; i <= n; ++i) run_tx(p, i);
  // The image is taken while the pool is open: closing would checkpoint.
  auto copy = sim_device::from_image(dev->durable(), granularity::cache_line);
  return copy;
}

// Reopens `img`: the state it shows and how many records it replayed.
struct reopened {
  state heap;
  std::uint64_t records;
};
reopened reopen(const pool_image& img) {
  pool q = pool::open("damaged", options_for(img.device(), open_mode::open_existing));
  return {read_state(q), q.stats().recovered_records};
}

// Opening `img` fails with `code`, and the failed open wrote nothing.
void check_open_fails(const pool_image& img, error_code code) {
  auto dev = img.device();
  CHECK(error_of([&] { pool::open("damaged", options_for(dev, open_mode::open_existing)); }) ==
        code);
  CHECK(dev->durable() == img.bytes);
}

// Three transactions, one record each; the log holds records 1..3.
struct three_records {
  pool_image img{*pool_after(3)};
  std::vector<log_record> log = img.log();
  three_records() { REQUIRE(log.size() == 3); }
};

}  // namespace

// --- records that are not valid: the end of the log --------------------

TEST_CASE("a record with a bad magic ends the log", "[recovery][corruption]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.magic ^= 1;
  t.img.put_record(t.log[2].pos, rh);
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a record with the wrong LSN ends the log", "[recovery][corruption]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.lsn += 1;  // a record from a later lap at the place of record 3
  t.img.put_record(t.log[2].pos, rh);
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a record of an older epoch ends the log", "[recovery][corruption]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.epoch -= 1;
  t.img.put_record(t.log[2].pos, rh);
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a record whose length runs past the log region ends the log", "[recovery][corruption]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.length = t.img.header.log_size - t.log[2].pos + 64;  // a multiple of 64, one block too long
  t.img.put_record(t.log[2].pos, rh,
                   /*seal=*/false);  // no checksum can cover bytes past the region
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a record whose length is shorter than its header or not a multiple of 64 ends the log",
          "[recovery][corruption]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  SECTION("shorter than the header") {
    rh.length = 32;
    t.img.put_record(t.log[2].pos, rh);
  }
  SECTION("not a multiple of 64") {
    rh.length -= 8;
    t.img.put_record(t.log[2].pos, rh);
  }
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a record with an unknown flag ends the log", "[recovery][corruption]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.flags |= 2;
  t.img.put_record(t.log[2].pos, rh);
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a wrap marker that carries entries ends the log", "[recovery][corruption]") {
  // Record 3 flagged as a wrap marker: with its length and entries it is
  // neither a record nor a marker, and recovery must not jump to offset 0.
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.flags |= detail::record_flag_wrap;
  t.img.put_record(t.log[2].pos, rh);
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

TEST_CASE("a record whose checksum does not match ends the log", "[recovery][corruption]") {
  three_records t;
  SECTION("a data byte flipped") {
    t.img.bytes[t.img.at(t.log[2].pos) + 64 + 16] ^= std::byte{0x01};
  }
  SECTION("a padding byte flipped") {
    const detail::record_header rh = t.img.record(t.log[2].pos);
    t.img.bytes[t.img.at(t.log[2].pos) + rh.length - 1] ^= std::byte{0x80};
  }
  SECTION("the checksum itself flipped") {
    t.img.bytes[t.img.at(t.log[2].pos)] ^= std::byte{0x01};
  }
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(2));
  CHECK(r.records == 2);
}

// --- a damaged record that was durable: corruption, never a silent end ----
// Each record carries the LSN up to which the log was durable when it was
// written (record_header::durable_lsn). A valid record behind a bad one
// that says the bad one was durable proves damage: a crash cannot tear a
// record that was durable before another was written.

TEST_CASE(
    "a damaged record followed by one written after it was durable makes the open fail "
    "with corrupted",
    "[recovery][corruption][errors]") {
  three_records t;
  // One thread: record 3 was written after record 2's fence.
  REQUIRE(t.img.record(t.log[2].pos).durable_lsn >= 2);
  t.img.bytes[t.img.at(t.log[1].pos) + 64 + 16] ^= std::byte{0x01};
  check_open_fails(t.img, error_code::corrupted);
  auto dev = t.img.device();
  try {
    pool::open("damaged", options_for(dev, open_mode::open_existing));
  } catch (const error& e) {
    const std::string what = e.what();
    CHECK(what.find("log record 2 at log offset " + std::to_string(t.log[1].pos)) !=
          std::string::npos);
    CHECK(what.find("record 3") != std::string::npos);
  }
  // A read-only open refuses it too: it would show the pool without
  // transactions 2 and 3 and say nothing.
  CHECK(error_of([&] { pool::open("damaged", options_for(dev, open_mode::read_only)); }) ==
        error_code::corrupted);
}

TEST_CASE(
    "a read-only open with salvage shows the records before a damaged one and says what "
    "it left out",
    "[recovery][corruption]") {
  three_records t;
  t.img.bytes[t.img.at(t.log[1].pos) + 64 + 16] ^= std::byte{0x01};
  auto dev = t.img.device();
  pool_options o = options_for(dev, open_mode::read_only);
  o.salvage = true;
  pool q = pool::open("damaged", o);
  CHECK(read_state(q) == model_after(1));
  CHECK(q.stats().recovered_records == 1);
  const pool_info i = q.info();
  CHECK(i.damage.find("log record 2") != std::string::npos);
  CHECK(i.damage_offset == t.img.at(t.log[1].pos));
  q.close();
  CHECK(dev->durable() == t.img.bytes);  // nothing written
}

TEST_CASE("salvage on a pool whose log is whole changes nothing", "[recovery]") {
  three_records t;
  pool_options o = options_for(t.img.device(), open_mode::read_only);
  o.salvage = true;
  pool q = pool::open("whole", o);
  CHECK(read_state(q) == model_after(3));
  CHECK(q.info().damage.empty());
}

TEST_CASE("salvage with a writable open is invalid_argument", "[recovery][errors]") {
  three_records t;
  t.img.bytes[t.img.at(t.log[1].pos) + 64 + 16] ^= std::byte{0x01};
  auto dev = t.img.device();
  pool_options o = options_for(dev, open_mode::open_existing);
  o.salvage = true;
  CHECK(error_of([&] { pool::open("damaged", o); }) == error_code::invalid_argument);
  CHECK(dev->durable() == t.img.bytes);
}

TEST_CASE("a torn record followed by records of its own group ends the log quietly",
          "[recovery][corruption]") {
  // Records 2 and 3 written together (one group: record 3 carries
  // durable_lsn 1, so record 2 was not known durable when 3 was written). A
  // crash can keep 3 and tear 2; neither was acknowledged. Recovery keeps 1.
  three_records t;
  detail::record_header rh = t.img.record(t.log[2].pos);
  rh.durable_lsn = 1;
  t.img.put_record(t.log[2].pos, rh);
  t.img.bytes[t.img.at(t.log[1].pos) + 64 + 16] ^= std::byte{0x01};
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(1));
  CHECK(r.records == 1);
}

TEST_CASE("a damaged log is a problem for check_pool, which names the record",
          "[recovery][corruption]") {
  three_records t;
  t.img.bytes[t.img.at(t.log[1].pos) + 64 + 16] ^= std::byte{0x01};
  pool_options o;
  o.device = t.img.device();
  const check_report r = check_pool("damaged", o);
  REQUIRE_FALSE(r.problems.empty());
  CHECK(r.problems.front().what.find("log record 2") != std::string::npos);
  CHECK(r.problems.front().offset == t.img.at(t.log[1].pos));
  CHECK(r.problems.size() == 1);  // the state before the damage is sound
}

TEST_CASE("a damaged wrap marker ends the log at the marker", "[recovery][corruption][log]") {
  // Run until a durable image holds, after its checkpoint, records before a
  // wrap marker and records after it (at offset 0 of the log region). A
  // record may end exactly at the region's end (a wrap without a marker):
  // then again with `pad` one-word transactions first (outside the 64
  // words), which shifts where the records meet the end.
  std::vector<std::byte> found;
  int last_run = 0;  // the transaction during which the image was taken
  for (int pad = 0; pad < 8 && found.empty(); ++pad) {
    auto dev = std::make_shared<sim_device>(granularity::cache_line);
    pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
    auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() +
                                               p.heap_size() / 2 / 4096 * 4096);
    for (int k = 0; k < pad; ++k) {
      p.transaction([&] {
        tx_snapshot(&w[words]);
        w[words] += 1;
      });
    }
    dev->on_barrier = [&](const sim_device& d) {
      if (!found.empty()) return;
      auto log = log_of(d.durable().data());
      for (std::size_t k = 1; k + 1 < log.size(); ++k) {
        if (log[k].wrap) {
          found = d.durable();
          return;
        }
      }
    };
    // 6000 transactions fill the log (436 KiB here) about twice.
    for (int i = 1; i <= 6000 && found.empty(); ++i) {
      last_run = i;
      run_tx(p, i);
    }
    dev->on_barrier = nullptr;
  }
  REQUIRE_FALSE(found.empty());

  pool_image img(*sim_device::from_image(found, granularity::cache_line));
  const auto log = img.log();
  std::size_t marker = 0;
  while (!log[marker].wrap) ++marker;
  const std::uint64_t after = log.size() - marker - 1;  // records at the region's start

  // Undamaged, the image shows transaction last_run or the one before it.
  reopened whole = reopen(img);
  const int shown = whole.heap == model_after(last_run) ? last_run : last_run - 1;
  REQUIRE(whole.heap == model_after(shown));

  // The marker's durable_lsn is covered by its checksum. The records after
  // the marker were written with it (one transaction) or after it was
  // durable: from the second one on, they prove the marker was damaged.
  img.bytes[img.at(log[marker].pos) + 48] ^= std::byte{0x01};
  bool proof = false;
  for (std::size_t k = marker + 1; k < log.size(); ++k)
    proof = proof || img.record(log[k].pos).durable_lsn >= img.record(log[marker].pos).lsn;
  if (proof) {
    check_open_fails(img, error_code::corrupted);
  } else {
    reopened r = reopen(img);
    CHECK(r.records == marker);
    CHECK(r.heap == model_after(shown - static_cast<int>(after)));
  }
}

// --- valid records whose entries do not fit the pool: corrupted -----------
// (also "a valid record pointing outside the heap is corrupted", above)

TEST_CASE("an entry of unknown kind makes the open fail with corrupted",
          "[recovery][corruption][errors]") {
  three_records t;
  detail::entry_header e = t.img.entry(t.log[0].pos, 64);
  e.kind = 9;
  t.img.put_entry(t.log[0].pos, 64, e);
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("an entry count beyond the record makes the open fail with corrupted",
          "[recovery][corruption][errors]") {
  three_records t;
  detail::record_header rh = t.img.record(t.log[0].pos);
  rh.entry_count += 100;
  t.img.put_record(t.log[0].pos, rh);
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("an entry whose data runs past its record makes the open fail with corrupted",
          "[recovery][corruption][errors]") {
  three_records t;
  detail::entry_header e = t.img.entry(t.log[0].pos, 64);
  e.length = 1u << 20;
  t.img.put_entry(t.log[0].pos, 64, e);
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("a range entry aimed at the log region makes the open fail with corrupted",
          "[recovery][corruption][errors]") {
  // The two regions entries may write (pool_bounds): the type table and the
  // heap. The log between them is not one of them.
  three_records t;
  detail::entry_header e = t.img.entry(t.log[0].pos, 64);
  REQUIRE(e.kind == static_cast<std::uint16_t>(detail::entry_kind::range));
  e.offset = t.img.header.log_offset + t.img.header.log_size - e.length;  // the log's last bytes
  t.img.put_entry(t.log[0].pos, 64, e);
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("a bit operation on a misaligned or short word makes the open fail with corrupted",
          "[recovery][corruption][errors]") {
  // Record 1 starts with a one-word range entry (transaction 1 snapshots
  // w[1]): turned into a set_bits entry that is invalid in one way.
  three_records t;
  detail::entry_header e = t.img.entry(t.log[0].pos, 64);
  REQUIRE(e.length == 8);
  e.kind = static_cast<std::uint16_t>(detail::entry_kind::set_bits);
  SECTION("misaligned word") {
    e.offset += 4;
  }
  SECTION("not 8 bytes") {
    e.length = 4;
  }
  SECTION("word outside the heap") {
    e.offset = t.img.header.log_offset;
  }
  t.img.put_entry(t.log[0].pos, 64, e);
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("a set_root entry outside the heap makes the open fail with corrupted",
          "[recovery][corruption][errors]") {
  three_records t;
  detail::entry_header e = t.img.entry(t.log[0].pos, 64);
  REQUIRE(e.length == 8);
  e.kind = static_cast<std::uint16_t>(detail::entry_kind::set_root);
  e.offset = t.img.header.type_table_offset;  // non-zero, before the heap
  t.img.put_entry(t.log[0].pos, 64, e);
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("a read-only open of a record outside the pool fails with corrupted too",
          "[recovery][corruption][errors]") {
  three_records t;
  detail::entry_header e = t.img.entry(t.log[0].pos, 64);
  e.kind = 9;
  t.img.put_entry(t.log[0].pos, 64, e);
  auto dev = t.img.device();
  CHECK(error_of([&] { pool::open("damaged", options_for(dev, open_mode::read_only)); }) ==
        error_code::corrupted);
}

// --- superblocks ---------------------------------------------------------

namespace {

// Open (sequence 2, slot 0: checkpoint 0, log head 0), transactions 1..3,
// a checkpoint (sequence 3, slot 1), transactions 4 and 5. With slot 1
// current, recovery replays 2 records; with slot 0, all 5 (the log is not
// zeroed, and they are in slot 0's epoch).
struct checkpointed_pool {
  pool_image img{[] {
    auto dev = std::make_shared<sim_device>(granularity::cache_line);
    pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
    for (int i = 1; i <= 3; ++i) run_tx(p, i);
    p.checkpoint();
    for (int i = 4; i <= 5; ++i) run_tx(p, i);
    return pool_image(*dev);
  }()};
  checkpointed_pool() {
    REQUIRE(img.current_slot() == 1);
    REQUIRE(img.slot(1).sequence == img.slot(0).sequence + 1);
  }
  // The current slot was skipped: the older one's checkpoint, every record.
  void check_older_slot_used() const {
    reopened r = reopen(img);
    CHECK(r.heap == model_after(5));
    CHECK(r.records == 5);
  }
};

}  // namespace

TEST_CASE("check_pool does not call a slot torn by a crash damage, but does after a clean close",
          "[recovery][superblock][check]") {
  auto superblock_problems = [](const pool_image& img) {
    pool_options o;
    o.device = img.device();
    int n = 0;
    for (const auto& pr : check_pool("img", o).problems)
      n += pr.what.find("superblock slot") != std::string::npos;
    return n;
  };
  SECTION("after a crash: the non-current slot torn mid-store") {
    checkpointed_pool t;
    t.img.bytes[t.img.header.superblock_offset[0] + 30] ^= std::byte{0x40};
    CHECK(superblock_problems(t.img) == 0);
    CHECK(reopen(t.img).heap == model_after(5));
  }
  SECTION("after a clean close both slots were written: a bad one is damage") {
    auto dev = std::make_shared<sim_device>(granularity::cache_line);
    {
      pool p = pool::open("sim", options_for(dev, open_mode::create_exclusive));
      run_tx(p, 1);
    }
    pool_image img(*dev);
    img.bytes[img.header.superblock_offset[1 - img.current_slot()] + 30] ^= std::byte{0x40};
    CHECK(superblock_problems(img) == 1);
  }
}

TEST_CASE("the current superblock is used while it is valid", "[recovery][superblock]") {
  checkpointed_pool t;
  reopened r = reopen(t.img);
  CHECK(r.heap == model_after(5));
  CHECK(r.records == 2);
}

TEST_CASE(
    "a torn current superblock: the other slot is current and the log is replayed from its "
    "checkpoint",
    "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  t.img.bytes[t.img.header.superblock_offset[1] + 100] ^= std::byte{0x01};  // checksum mismatch
  t.check_older_slot_used();
}

TEST_CASE("a current superblock with a bad magic is skipped",
          "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  sb.magic[0] ^= 1;
  t.img.put_slot(1, sb);
  t.check_older_slot_used();
}

TEST_CASE("a superblock whose sequence belongs in the other slot is skipped",
          "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  sb.sequence += 1;
  t.img.put_slot(1, sb);
  t.check_older_slot_used();
}

TEST_CASE("a superblock whose clean-shutdown flag is neither 0 nor 1 is skipped",
          "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  sb.clean_shutdown = 2;
  t.img.put_slot(1, sb);
  t.check_older_slot_used();
}

TEST_CASE("a superblock whose log head is outside the log or misaligned is skipped",
          "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  SECTION("past the log") {
    sb.log_head = t.img.header.log_size;
  }
  SECTION("not 64-aligned") {
    sb.log_head += 8;
  }
  t.img.put_slot(1, sb);
  t.check_older_slot_used();
}

TEST_CASE("a superblock with an invalid heap size is skipped",
          "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  SECTION("below the minimum") {
    sb.heap_size = detail::min_heap_size - detail::chunk_size;
  }
  SECTION("not a multiple of the chunk size") {
    sb.heap_size += detail::chunk_size / 2;
  }
  SECTION("beyond the largest pool") {
    sb.heap_size = detail::max_pool_size + detail::chunk_size;
  }
  t.img.put_slot(1, sb);
  t.check_older_slot_used();
}

TEST_CASE("a superblock whose root is outside the heap is skipped",
          "[recovery][superblock][corruption]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  sb.root_offset = t.img.header.heap_offset + sb.heap_size;
  t.img.put_slot(1, sb);
  t.check_older_slot_used();
}

TEST_CASE("both superblocks damaged: the open fails with corrupted",
          "[recovery][superblock][corruption][errors]") {
  checkpointed_pool t;
  t.img.bytes[t.img.header.superblock_offset[0] + 100] ^= std::byte{0x01};
  t.img.bytes[t.img.header.superblock_offset[1] + 8] ^= std::byte{0x01};
  check_open_fails(t.img, error_code::corrupted);
}

TEST_CASE("a current superblock whose heap ends past the file: the open fails with truncated",
          "[recovery][superblock][errors]") {
  checkpointed_pool t;
  detail::superblock sb = t.img.slot(1);
  sb.heap_size += detail::chunk_size;  // valid on its own; the file is one chunk short
  t.img.put_slot(1, sb);
  check_open_fails(t.img, error_code::truncated);
}

// --- checkpoints while other threads read the pool state ----------------

TEST_CASE("checkpoints on one thread while another commits and reads the pool state",
          "[recovery][threads]") {
  // A checkpoint stores the superblock state (docs/durability.md) while
  // other threads read it: tx_snapshot and the heap check heap_size,
  // info() and stats() copy it. Under ThreadSanitizer (suite 'concurrent')
  // an unlocked read of a field a checkpoint writes is a reported race.
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  o.log_size = 256 * 1024;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);  // no fdatasync per commit
  {
    pool p = pool::open(d / "t.pool", o);
    auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() +
                                               p.heap_size() / 2 / 4096 * 4096);
    constexpr int commits = 3000;  // about twice the half-log that triggers a checkpoint
    constexpr int rounds = 200;
    std::uint64_t lsn_seen = 0, commits_seen = 0, heap_seen = 0;
    bool went_back = false;  // a checkpoint LSN or a commit count that decreased
    std::thread committer([&] {
      for (int i = 0; i < commits; ++i) {
        p.transaction([&] {
          tx_snapshot(&w[0]);
          w[0] += 1;
        });
      }
    });
    std::thread checkpointer([&] {
      for (int i = 0; i < rounds; ++i) {
        p.transaction([&] {
          tx_snapshot(&w[8]);  // another cache line
          w[8] += 1;
        });
        p.checkpoint();
        const pool_info info = p.info();
        const pool_stats stats = p.stats();
        went_back |= info.checkpoint_lsn < lsn_seen || stats.commits < commits_seen;
        lsn_seen = info.checkpoint_lsn;
        commits_seen = stats.commits;
        heap_seen = p.heap_size();
      }
    });
    committer.join();
    checkpointer.join();
    CHECK_FALSE(went_back);
    CHECK(heap_seen == p.heap_size());
    CHECK(p.stats().checkpoints >= rounds);
    CHECK(w[0] == commits);
    CHECK(w[8] == rounds);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  pool q = pool::open(d / "t.pool", o);
  const auto* w = reinterpret_cast<const std::uint64_t*>(q.base() + q.heap_offset() +
                                                         q.heap_size() / 2 / 4096 * 4096);
  CHECK(w[0] == 3000);
  CHECK(w[8] == 200);
}

TEST_CASE("group commit: a thread that stops committing delays at most the next two groups",
          "[group_commit]") {
  // The leader gathers while fewer records wait than threads that took an
  // LSN during the last two syncs (change_log::gather_locked); a thread that
  // has left must stop counting after two syncs, or every later commit
  // would wait for it until the bound.
  auto dev = std::make_shared<sim_device>(granularity::page);
  pool p = pool::open("sim", options_for(dev, open_mode::create_or_open));
  auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() +
                                             p.heap_size() / 2 / 4096 * 4096);
  std::thread gone([&] {
    for (int i = 0; i < 3; ++i) {
      p.transaction([&] {
        tx_snapshot(&w[8]);
        w[8] += 1;
      });
    }
  });
  gone.join();
  const pool_stats before = p.stats();
  for (int i = 0; i < 20; ++i) {
    p.transaction([&] {
      tx_snapshot(&w[0]);
      w[0] += 1;
    });
  }
  const pool_stats after = p.stats();
  CHECK(after.commits - before.commits == 20);
  CHECK(after.gathered_syncs - before.gathered_syncs <= 2);
  CHECK(after.gather_timeouts - before.gather_timeouts <= 2);
  CHECK(after.group_syncs - before.group_syncs == 20);  // one thread: one sync a commit
}

TEST_CASE("group commit: threads committing together on an ordinary file share syncs",
          "[group_commit][threads]") {
  test::temp_dir d;
  ::setenv("PMEM2_FORCE_GRANULARITY", "page", 1);
  {
    pool_options o;
    o.size = 4 << 20;
    pool p = pool::open(d / "g.pool", o);
    auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() +
                                               p.heap_size() / 2 / 4096 * 4096);
    constexpr int per_thread = 200;
    auto worker = [&](int t) {
      for (int i = 0; i < per_thread; ++i) {
        p.transaction([&] {
          tx_snapshot(&w[8 * t]);  // each thread its own cache line
          w[8 * t] += 1;
        });
      }
    };
    const pool_stats before = p.stats();
    std::thread a(worker, 0), b(worker, 1), c(worker, 2);
    a.join();
    b.join();
    c.join();
    const pool_stats after = p.stats();
    INFO("syncs " << after.group_syncs - before.group_syncs << " for "
                  << after.commits - before.commits << " commits, gathered "
                  << after.gathered_syncs - before.gathered_syncs);
    CHECK(after.commits - before.commits == 3 * per_thread);
    CHECK(after.group_syncs - before.group_syncs < 3 * per_thread);
    CHECK(after.gathered_syncs - before.gathered_syncs > 0);  // leaders waited for the others
    CHECK(w[0] == per_thread);
    CHECK(w[8] == per_thread);
    CHECK(w[16] == per_thread);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
}

// --- The memory budget (change_log::give_back_pages) ---

namespace {

// Pool pages [first, first + n) of a large object, each holding a counter
// in its first word (and its own index further in, never written again).
struct paged_object {
  std::uint64_t* page(std::size_t i) const {
    return reinterpret_cast<std::uint64_t*>(base + i * 4096);
  }
  std::byte* base;
  std::size_t pages;
};

paged_object make_paged_object(pool& p, std::size_t pages) {
  std::byte* obj = nullptr;
  p.transaction([&] { obj = static_cast<std::byte*>(p.allocate(pages * 4096 + 4096)); });
  // Page-aligned inside the object.
  auto a = (reinterpret_cast<std::uintptr_t>(obj) + 4095) / 4096 * 4096;
  return {reinterpret_cast<std::byte*>(a), pages};
}

pool_options budget_options(std::uint64_t budget) {
  pool_options o;
  o.size = 32 << 20;
  o.log_size = 1 << 20;
  o.memory_budget = budget;
  return o;
}

// Anonymous memory of this process (RssAnon), bytes.
std::uint64_t anon_rss() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  std::uint64_t kb = 0;
  while (f && std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "RssAnon: %lu kB", &kb) == 1) break;
  }
  if (f) std::fclose(f);
  return kb * 1024;
}

}  // namespace

TEST_CASE("pages written beyond the memory budget are given back and still read the same",
          "[budget]") {
  test::temp_dir d;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);  // no fdatasync per commit
  constexpr std::size_t pages = 3000;                   // 12 MiB written
  constexpr std::uint64_t budget = 1 << 20;             // 256 pages
  {
    pool p = pool::open(d / "b.pool", budget_options(budget));
    const paged_object o = make_paged_object(p, pages);
    const std::uint64_t anon_before = anon_rss();
    std::uint64_t anon_peak = 0;
    for (std::size_t i = 0; i < pages; ++i) {
      p.transaction([&] {
        tx_snapshot(o.page(i), 16);
        o.page(i)[0] = i + 1;
        o.page(i)[1] = ~i;
      });
      if (i % 100 == 0) anon_peak = std::max(anon_peak, anon_rss());
    }
    p.checkpoint();  // checkpoints, and gives back what the budget asks
    const pool_stats s = p.stats();
    INFO("given back " << s.pages_given_back << ", private " << s.private_pages << ", kept "
                       << s.pages_kept << ", rounds " << s.give_back_rounds);
    CHECK(s.pages_given_back > pages / 2);
    CHECK(s.private_pages <= budget / 4096);
    // Bounded: the pool's anonymous memory stays near the budget, not the
    // 12 MiB written (slack: the undo buffers, the log's page table).
    // Sanitizers keep shadow memory for every page touched: not measured.
    if (!test::sanitized) CHECK(anon_peak < anon_before + 3 * budget);
    for (std::size_t i = 0; i < pages; ++i) {
      REQUIRE(o.page(i)[0] == i + 1);
      REQUIRE(o.page(i)[1] == ~i);
    }
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  pool q = pool::open(d / "b.pool", budget_options(budget));
  CHECK(q.check().empty());
}

TEST_CASE("an unbounded memory budget gives nothing back", "[budget]") {
  test::temp_dir d;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  {
    pool p = pool::open(d / "u.pool", budget_options(pool_options::unbounded));
    const paged_object o = make_paged_object(p, 600);
    for (std::size_t i = 0; i < o.pages; ++i) {
      p.transaction([&] {
        tx_snapshot(o.page(i), 8);
        o.page(i)[0] = i + 1;
      });
    }
    p.checkpoint();
    CHECK(p.stats().pages_given_back == 0);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
}

TEST_CASE("a page a running transaction changed is not given back", "[budget][threads]") {
  test::temp_dir d;
  std::uint64_t off0 = 0;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  {
    pool p = pool::open(d / "r.pool", budget_options(256 * 1024));  // 64 pages
    const paged_object o = make_paged_object(p, 800);
    off0 = p.offset_of(o.page(0));
    // Page 0 is written and checkpointed first: the object's lowest page,
    // among the first ones a give-back looks at (its clock hand starts at
    // the pool's start, and goes back to a batch it could not finish).
    p.transaction([&] {
      tx_snapshot(o.page(0), 8);
      o.page(0)[0] = 1;
    });
    p.checkpoint();
    std::mutex mu;
    std::condition_variable cv;
    int step = 0;
    std::thread holder([&] {
      p.transaction([&] {
        tx_snapshot(o.page(0), 8);
        o.page(0)[0] = 2;  // not committed while the others give pages back
        std::unique_lock lk(mu);
        step = 1;
        cv.notify_all();
        cv.wait(lk, [&] { return step == 2; });
      });
    });
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return step == 1; });
    }
    for (std::size_t i = 1; i < o.pages; ++i) {
      p.transaction([&] {
        tx_snapshot(o.page(i), 8);
        o.page(i)[0] = i + 1;
      });
    }
    p.checkpoint();
    const pool_stats s = p.stats();
    INFO("given back " << s.pages_given_back << ", kept " << s.pages_kept);
    CHECK(s.pages_given_back > 0);
    CHECK(s.pages_kept > 0);   // page 0, compared while changed
    CHECK(o.page(0)[0] == 2);  // the running transaction's store is still there
    {
      std::lock_guard lk(mu);
      step = 2;
    }
    cv.notify_all();
    holder.join();
    p.checkpoint();
    CHECK(o.page(0)[0] == 2);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  pool q = pool::open(d / "r.pool", budget_options(256 * 1024));
  CHECK(*static_cast<const std::uint64_t*>(q.at(off0)) == 2);
}

// A give-back holds the span from its first page to its last with one
// mprotect (runs a few pages apart are merged): pages in between that it
// does not give back are held too. Plain stores to such pages (never
// checkpointed, so never given back) wait for the batch and are all kept.
TEST_CASE("stores to pages between a give-back's pages wait and are kept", "[budget][threads]") {
  test::temp_dir d;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  {
    pool p = pool::open(d / "g.pool", budget_options(256 * 1024));  // 64 pages
    const paged_object o = make_paged_object(p, 800);
    std::vector<std::uint64_t> model(o.pages / 2, 0);  // odd pages: plain stores
    std::atomic<bool> done{false};
    std::thread plain([&] {
      std::uint64_t n = 0;
      while (!done.load()) {
        ++n;
        const std::size_t i = n % model.size();
        o.page(2 * i + 1)[1] = n;  // outside any transaction
        model[i] = n;
      }
    });
    std::mt19937_64 rng(3);
    for (int n = 0; n < 3000; ++n) {
      const std::size_t i = 2 * (rng() % (o.pages / 2));  // even pages: transactions
      p.transaction([&] {
        tx_snapshot(o.page(i), 8);
        o.page(i)[0] = static_cast<std::uint64_t>(n);
      });
    }
    done = true;
    plain.join();
    p.checkpoint();
    const pool_stats s = p.stats();
    INFO("given back " << s.pages_given_back << ", kept " << s.pages_kept << ", rounds "
                       << s.give_back_rounds);
    CHECK(s.pages_given_back > 0);
    for (std::size_t i = 0; i < model.size(); ++i) REQUIRE(o.page(2 * i + 1)[1] == model[i]);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
}

namespace {

// Two threads update random pages (each its own half, a model each) while
// the background checkpointer gives pages back under a tiny budget; a
// third locks and unlocks pmutexes that live in those pages. Every store
// racing with a give-back must survive: the working view, and the pool
// reopened, equal the models.
void race_give_back(pool_options o, const std::filesystem::path& path) {
  std::vector<std::uint64_t> offsets;
  std::vector<std::vector<std::uint64_t>> models(2);
  {
    pool p = pool::open(path, o);
    const paged_object obj = make_paged_object(p, 400);
    for (std::size_t t = 0; t < 2; ++t) models[t].assign(obj.pages / 2, 0);
    std::atomic<bool> done{false};
    auto writer = [&](std::size_t t) {
      std::mt19937_64 rng(t + 1);
      for (int n = 1; n <= 3000; ++n) {
        const std::size_t i = rng() % (obj.pages / 2);
        std::uint64_t* w = obj.page(t * (obj.pages / 2) + i) + 2;  // past the lock word
        p.transaction([&] {
          tx_snapshot(w, 8);
          *w = static_cast<std::uint64_t>(n);
        });
        models[t][i] = static_cast<std::uint64_t>(n);
      }
    };
    std::thread locker([&] {
      std::mt19937_64 rng(7);
      while (!done.load()) {
        auto* m = reinterpret_cast<pmutex*>(obj.page(rng() % obj.pages));
        m->lock();
        m->unlock();
      }
    });
    std::thread a(writer, 0), b(writer, 1);
    a.join();
    b.join();
    done = true;
    locker.join();
    p.checkpoint();
    const pool_stats s = p.stats();
    INFO("given back " << s.pages_given_back << ", kept " << s.pages_kept << ", rounds "
                       << s.give_back_rounds);
    CHECK(s.pages_given_back > 0);
    for (std::size_t t = 0; t < 2; ++t) {
      for (std::size_t i = 0; i < obj.pages / 2; ++i) {
        REQUIRE(obj.page(t * (obj.pages / 2) + i)[2] == models[t][i]);
        auto* m = reinterpret_cast<pmutex*>(obj.page(t * (obj.pages / 2) + i));
        REQUIRE(m->try_lock());  // every lock was released
        m->unlock();
      }
    }
    offsets.push_back(p.offset_of(obj.page(0)));
  }
  o.mode = open_mode::open_existing;
  pool q = pool::open(path, o);
  const auto* first = static_cast<const std::byte*>(q.at(offsets[0]));
  for (std::size_t t = 0; t < 2; ++t) {
    for (std::size_t i = 0; i < models[t].size(); ++i) {
      const auto* w =
          reinterpret_cast<const std::uint64_t*>(first + (t * models[t].size() + i) * 4096);
      REQUIRE(w[2] == models[t][i]);
    }
  }
}

}  // namespace

TEST_CASE("stores and lock words racing with a give-back are kept (file)", "[budget][threads]") {
  test::temp_dir d;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  race_give_back(budget_options(128 * 1024), d / "race.pool");
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
}

TEST_CASE("stores and lock words racing with a give-back are kept (simulated device)",
          "[budget][threads]") {
  pool_options o = budget_options(128 * 1024);
  o.device = std::make_shared<sim_device>(granularity::cache_line);
  race_give_back(o, "race.sim");
}

namespace {
// Waits until the checkpointer thread has prefaulted the whole log.
bool log_prefaulted(const pool& p, std::uint64_t log_size) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (p.stats().log_prefaulted < log_size) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}
}  // namespace

TEST_CASE("the checkpointer thread maps the log's pages before the committers reach them",
          "[log][threads]") {
  // Without it, each 4 KiB of the log took a page fault on the committing
  // thread on its first lap after the open (docs/bench.md, "The log's
  // first lap"). Sanitizers map shadow memory for each page a commit
  // writes, so there the faults are not counted.
  test::temp_dir d;
  pool_options o;
  o.size = 8 << 20;
  o.log_size = 1 << 20;  // 256 pages, 8,192 one-word records
  o.background_checkpoint = true;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  {
    pool p = pool::open(d / "t.pool", o);
    std::uint64_t log_size = 0;
    for (const pool_region& r : p.info().regions) {
      if (r.name == "log") log_size = r.size;
    }
    REQUIRE(log_size == o.log_size);
    auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() + 64 * 1024);
    auto commit = [&] {
      p.transaction([&] {
        tx_snapshot(w);
        *w += 1;
      });
    };
    commit();  // the object's page, the transaction's buffers
    REQUIRE(log_prefaulted(p, log_size));
    rusage before{}, after{};
    REQUIRE(getrusage(RUSAGE_THREAD, &before) == 0);
    const std::uint64_t laps = p.stats().log_wraps;
    // In steps of 1,024 commits (128 KiB), each after the checkpointer has
    // brought the log back under 3/8 full, so that the ring of slots of
    // records not checkpointed (sized for half the log) does not grow: its
    // new buffer's pages would fault here too.
    for (int step = 0; step < 8; ++step) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (p.stats().log_used > log_size * 3 / 8) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::yield();
      }
      for (int i = 0; i < 1024; ++i) commit();
    }
    REQUIRE(getrusage(RUSAGE_THREAD, &after) == 0);
    CHECK(p.stats().log_wraps > laps);  // the whole ring was written
    const long faults = after.ru_minflt - before.ru_minflt;
    INFO("page faults on the committing thread over one lap: " << faults);
    if (!test::sanitized) CHECK(faults < 16);
    CHECK(*w == 8193);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
}

TEST_CASE("new extents prefaulted before their write reach the file whole", "[log]") {
  // persist_direct prefaults an extent of 256 KiB or more above the highest
  // one so far (change_log::prefault_direct), and not one below it: both
  // kinds, written with a pattern, must read back after a reopen.
  test::temp_dir d;
  pool_options o;
  o.size = 32 << 20;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  constexpr std::size_t bytes = 1 << 20;
  auto fill = [](std::byte* obj, std::uint8_t seed) {
    for (std::size_t i = 0; i < bytes; ++i) obj[i] = static_cast<std::byte>(seed + i * 13);
  };
  std::vector<std::uint64_t> offs;
  {
    pool p = pool::open(d / "t.pool", o);
    std::uint64_t freed = 0;
    for (std::uint8_t seed = 1; seed <= 3; ++seed) {  // the mark rises
      p.transaction([&] {
        auto* obj = static_cast<std::byte*>(p.allocate(bytes));
        fill(obj, seed);
        offs.push_back(p.offset_of(obj));
      });
    }
    p.transaction([&] { p.deallocate(p.at(offs[0])); });
    freed = offs[0];
    p.checkpoint();      // the free checkpointed: its chunks may be reused
    p.transaction([&] {  // below the mark: not prefaulted
      auto* obj = static_cast<std::byte*>(p.allocate(bytes));
      fill(obj, 4);
      offs[0] = p.offset_of(obj);
    });
    INFO("first extent at " << freed << ", the one allocated after its free at " << offs[0]);
    CHECK(offs[0] < offs[2]);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  pool q = pool::open(d / "t.pool", o);
  const std::uint8_t seeds[] = {4, 2, 3};
  for (std::size_t k = 0; k < offs.size(); ++k) {
    const auto* obj = static_cast<const std::byte*>(q.at(offs[k]));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < bytes; ++i)
      wrong += obj[i] != static_cast<std::byte>(seeds[k] + i * 13);
    INFO("extent " << k);
    CHECK(wrong == 0);
  }
  CHECK(q.check().empty());
}

TEST_CASE("the log is not prefaulted on page media", "[log]") {
  // There every sync write-protects the pages again (media::prefault).
  test::temp_dir d;
  pool_options o;
  o.size = 8 << 20;
  o.background_checkpoint = true;
  ::setenv("PMEM2_FORCE_GRANULARITY", "page", 1);
  {
    pool p = pool::open(d / "t.pool", o);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(p.stats().log_prefaulted == 0);
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
}

TEST_CASE("the log's slot ring grows while the background checkpointer reads it",
          "[log][threads]") {
  // A checkpoint reads its slots with the log mutex released, through a
  // view of the ring (change_log::slot_ring::pin); a ring that fills up
  // meanwhile grows into a new buffer and keeps the old one until the
  // checkpoint ends. A tiny budget makes the ring small at each open (64
  // slots, 1/64 of the budget), so that it grows while the first
  // checkpoints read it (in about one open in three, as counted with a
  // print there; hence several opens). Under AddressSanitizer a checkpoint
  // reading a freed buffer is a reported use-after-free, under
  // ThreadSanitizer an unlocked read of a slot being written a reported
  // race; the values check what was applied.
  test::temp_dir d;
  pool_options o;
  o.size = 8 << 20;
  o.log_size = 256 * 1024;  // the least: a quarter of it holds 512 small records
  o.memory_budget = 256 * 1024;
  o.background_checkpoint = true;
  ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  constexpr int threads = 3, commits = 1500, opens = 8;
  std::uint64_t off = 0;
  for (int round = 0; round < opens; ++round) {
    pool p = pool::open(d / "t.pool", o);
    auto* w = reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() + 64 * 1024);
    off = p.offset_of(w);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < commits; ++i) {
          p.transaction([&] {
            tx_snapshot(&w[t * 8]);  // a cache line each
            w[t * 8] += 1;
          });
        }
      });
    }
    for (auto& t : ts) t.join();
    CHECK(p.stats().checkpoints > 0);
    for (int t = 0; t < threads; ++t) CHECK(w[t * 8] == std::uint64_t(commits) * (round + 1));
  }
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  pool q = pool::open(d / "t.pool", o);
  const auto* w = static_cast<const std::uint64_t*>(q.at(off));
  for (int t = 0; t < threads; ++t) CHECK(w[t * 8] == std::uint64_t(commits) * opens);
}
