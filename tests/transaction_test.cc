// Tests of engine/transaction: commit, abort, nesting, exceptions,
// poisoning, callbacks, checked mode and threads (pmutex: pmutex_test.cc).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/detail/tx_gate.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/engine/type_info.h"
#include "tests/test_util.h"

using namespace ferrite;
using ferrite::test::error_of;

namespace {

// Raw words in free chunks mid-heap (the heap starts with its chunk
// table; allocations in these tests stay far below the middle).
std::uint64_t* heap_words(pool& p) {
  return reinterpret_cast<std::uint64_t*>(p.base() + p.heap_offset() +
                                          p.heap_size() / 2 / 4096 * 4096);
}

pool_options sim_options(std::shared_ptr<sim_device> dev, std::uint64_t size = 4 << 20) {
  pool_options o;
  o.device = std::move(dev);
  o.size = size;
  return o;
}

// A simulated pool with checked transactions.
pool open_checked(const std::shared_ptr<sim_device>& dev) {
  pool_options o = sim_options(dev);
  o.checked_transactions = true;
  return pool::open("sim", o);
}

// Reopens a simulated pool from what is durable now, as after a power cut.
pool crash_and_reopen(const std::shared_ptr<sim_device>& dev,
                      std::shared_ptr<sim_device>& crashed) {
  crashed = sim_device::from_image(dev->durable(), dev->store_granularity());
  pool_options o = sim_options(crashed);
  o.mode = open_mode::open_existing;
  return pool::open("crashed", o);
}

}  // namespace

TEST_CASE("a committed transaction survives a crash", "[tx]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", sim_options(dev));
    std::uint64_t* w = heap_words(p);
    p.transaction([&] {
      tx_snapshot(&w[3]);
      w[3] = 42;
      tx_snapshot(&w[100], 16);
      w[100] = 7;
      w[101] = 8;
    });
    std::shared_ptr<sim_device> crashed;
    pool q = crash_and_reopen(dev, crashed);
    std::uint64_t* r = heap_words(q);
    CHECK(r[3] == 42);
    CHECK(r[100] == 7);
    CHECK(r[101] == 8);
    CHECK(q.stats().recovered_records == 1);
    CHECK_FALSE(q.info().was_clean_shutdown);
  }
}

TEST_CASE("commit costs one fence on cache-line media and one sync on page media", "[tx]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", sim_options(dev));
    std::uint64_t* w = heap_words(p);
    media_stats before = p.stats().media;
    p.transaction([&] {
      tx_snapshot(&w[0]);
      w[0] = 1;
    });
    media_stats after = p.stats().media;
    if (g == granularity::page) {
      CHECK(after.syncs - before.syncs == 1);
      CHECK(after.fences == before.fences);
    } else {
      CHECK(after.fences - before.fences == 1);
      CHECK(after.syncs == before.syncs);
      CHECK(after.flushed_lines - before.flushed_lines == 2);  // a 128-byte record
    }
  }
}

TEST_CASE("an uncommitted transaction leaves nothing after a crash", "[tx]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  transaction tx(p);
  tx_snapshot(&w[5]);
  w[5] = 99;
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(dev, crashed);
  CHECK(heap_words(q)[5] == 0);
}

TEST_CASE("abort restores every snapshotted byte", "[tx]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  w[0] = 1;  // not durable, but the working view's value is what abort restores
  {
    transaction tx(p);
    tx_snapshot(&w[0]);
    w[0] = 2;
    tx_snapshot(&w[0]);  // again: must not capture the new value
    w[0] = 3;
    tx.abort();
  }
  CHECK(w[0] == 1);
}

TEST_CASE("overlapping snapshots restore the oldest bytes", "[tx]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  auto* b = reinterpret_cast<std::uint8_t*>(p.base() + p.heap_offset());
  for (int i = 0; i < 64; ++i) b[i] = static_cast<std::uint8_t>(i);
  {
    transaction tx(p);
    tx_snapshot(b + 10, 10);
    std::memset(b + 10, 0xaa, 10);
    tx_snapshot(b + 5, 30);  // covers the first range and more
    std::memset(b + 5, 0xbb, 30);
    tx_snapshot(b + 40, 4);
    tx_snapshot(b + 44, 4);  // adjacent: merged
    std::memset(b + 40, 0xcc, 8);
  }  // destroyed without commit: aborted
  for (int i = 0; i < 64; ++i) CHECK(b[i] == i);
}

TEST_CASE("a destroyed uncommitted transaction aborts", "[tx]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  {
    transaction tx(p);
    tx_snapshot(&w[1]);
    w[1] = 5;
  }
  CHECK(w[1] == 0);
  CHECK_FALSE(in_transaction());
}

TEST_CASE("an exception aborts pool.transaction and is rethrown", "[tx]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  struct boom {};
  CHECK_THROWS_AS(p.transaction([&] {
    tx_snapshot(&w[2]);
    w[2] = 9;
    throw boom{};
  }),
                  boom);
  CHECK(w[2] == 0);
  CHECK_FALSE(in_transaction());
  CHECK(p.stats().commits == 0);
}

TEST_CASE("nested transactions flatten into one record", "[tx][nested]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  p.transaction([&] {
    tx_snapshot(&w[0]);
    w[0] = 1;
    p.transaction([&] {
      tx_snapshot(&w[1]);
      w[1] = 2;
    });
    CHECK(p.stats().commits == 0);  // inner commit is not durable on its own
  });
  CHECK(p.stats().commits == 1);
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(dev, crashed);
  CHECK(heap_words(q)[0] == 1);
  CHECK(heap_words(q)[1] == 2);
}

TEST_CASE("an inner abort aborts the whole transaction", "[tx][nested]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  transaction outer(p);
  tx_snapshot(&w[0]);
  w[0] = 1;
  {
    transaction inner(p);
    tx_snapshot(&w[1]);
    w[1] = 2;
    inner.abort();
  }
  CHECK(w[0] == 0);  // rolled back at once
  CHECK(w[1] == 0);
  CHECK(error_of([&] { tx_snapshot(&w[2]); }) == error_code::tx_aborted);
  CHECK(error_of([&] { outer.commit(); }) == error_code::tx_aborted);
  CHECK_FALSE(in_transaction());
  CHECK(p.stats().commits == 0);
}

TEST_CASE("an exception through an inner transaction aborts the outer one", "[tx][nested]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  CHECK_THROWS_AS(p.transaction([&] {
    tx_snapshot(&w[0]);
    w[0] = 1;
    p.transaction([&] { throw std::runtime_error("inner"); });
  }),
                  std::runtime_error);
  CHECK(w[0] == 0);
  CHECK_FALSE(in_transaction());
}

TEST_CASE("a snapshot outside the pool poisons the transaction", "[tx][poison]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  std::uint64_t volatile_word = 0;
  transaction tx(p);
  tx_snapshot(&w[0]);
  w[0] = 1;
  CHECK(error_of([&] { tx_snapshot(&volatile_word); }) == error_code::invalid_argument);
  CHECK(error_of([&] { tx_snapshot(&w[1]); }) == error_code::tx_aborted);
  CHECK(error_of([&] { tx.on_commit([] {}); }) == error_code::tx_aborted);
  CHECK(error_of([&] { tx.commit(); }) == error_code::tx_aborted);
  CHECK(w[0] == 0);
  CHECK(p.stats().commits == 0);
}

TEST_CASE("a snapshot beyond the heap end is rejected", "[tx][poison]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::byte* end = p.base() + p.heap_offset() + p.heap_size();
  transaction tx(p);
  CHECK(error_of([&] { tx_snapshot(end - 4, 8); }) == error_code::invalid_argument);
}

TEST_CASE("a snapshot of the pool header is rejected", "[tx][poison]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  transaction tx(p);
  CHECK(error_of([&] { tx_snapshot(p.base(), 8); }) == error_code::invalid_argument);
}

TEST_CASE("tx_snapshot outside a transaction is tx_invalid", "[tx]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  CHECK(error_of([&] { tx_snapshot(heap_words(p)); }) == error_code::tx_invalid);
}

TEST_CASE("commit and abort callbacks run once, after the outcome", "[tx][callbacks]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  int committed = 0, aborted = 0;
  {
    transaction tx(p);
    tx.on_commit([&] {
      CHECK_FALSE(in_transaction());
      CHECK(p.stats().commits == 1);  // durable before the callback
      ++committed;
    });
    tx.on_abort([&] { ++aborted; });
    tx_snapshot(&w[0]);
    w[0] = 1;
    tx.commit();
  }
  CHECK(committed == 1);
  CHECK(aborted == 0);
  {
    transaction tx(p);
    tx.on_commit([&] { ++committed; });
    tx.on_abort([&] { ++aborted; });
  }
  CHECK(committed == 1);
  CHECK(aborted == 1);
}

TEST_CASE("an abort callback that throws still ends the transaction", "[tx][callbacks]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  SECTION("abort()") {
    transaction tx(p);
    tx.on_abort([] { throw std::runtime_error("callback"); });
    tx_snapshot(&w[0]);
    w[0] = 7;
    CHECK_THROWS_AS(tx.abort(), std::runtime_error);
  }
  SECTION("commit() of a poisoned transaction") {
    transaction tx(p);
    tx.on_abort([] { throw std::runtime_error("callback"); });
    tx_snapshot(&w[0]);
    w[0] = 7;
    std::uint64_t outside = 0;  // not in the pool: poisons the transaction
    CHECK(error_of([&] { tx_snapshot(&outside); }) == error_code::invalid_argument);
    CHECK_THROWS_AS(tx.commit(), std::runtime_error);
  }
  CHECK(w[0] == 0);  // rolled back before the callback threw
  CHECK_FALSE(in_transaction());
  // The next transaction is a new outermost one, not nested in the dead one.
  p.transaction([&] {
    tx_snapshot(&w[1]);
    w[1] = 9;
  });
  CHECK(p.stats().commits == 1);
  CHECK(w[1] == 9);
}

TEST_CASE("a read-only pool refuses transactions", "[tx][errors]") {
  test::temp_dir d;
  pool::create(d / "r.pool", 4 << 20).close();
  pool_options o;
  o.mode = open_mode::read_only;
  pool p = pool::open(d / "r.pool", o);
  CHECK(error_of([&] { transaction tx(p); }) == error_code::read_only);
}

TEST_CASE("a transaction on a second pool while one runs is tx_invalid", "[tx][errors]") {
  auto a = std::make_shared<sim_device>();
  auto b = std::make_shared<sim_device>();
  pool p = pool::open("a", sim_options(a));
  pool q = pool::open("b", sim_options(b));
  transaction tx(p);
  CHECK(error_of([&] { transaction other(q); }) == error_code::tx_invalid);
}

TEST_CASE("a failed sync makes the pool read-only and keeps earlier commits", "[tx][errors]") {
  // On both media: the commit's own fence (cache-line) or msync (page) fails.
  auto g = GENERATE(granularity::cache_line, granularity::page);
  auto dev = std::make_shared<sim_device>(g);
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  p.transaction([&] {
    tx_snapshot(&w[0]);
    w[0] = 1;
  });
  dev->fail_barrier_at = static_cast<std::int64_t>(dev->barriers());
  CHECK(error_of([&] {
          p.transaction([&] {
            tx_snapshot(&w[1]);
            w[1] = 2;
          });
        }) == error_code::io_error);
  CHECK(w[1] == 0);  // aborted in memory
  CHECK(error_of([&] { transaction tx(p); }) == error_code::read_only);
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(dev, crashed);
  CHECK(heap_words(q)[0] == 1);
}

TEST_CASE("a transaction larger than half the log is out_of_space and harmless",
          "[tx][errors][log]") {
  auto dev = std::make_shared<sim_device>();
  pool_options o = sim_options(dev);
  o.log_size = 256 * 1024;
  pool p = pool::open("sim", o);
  std::uint64_t log_size = 0;
  for (const auto& r : p.info().regions) {
    if (r.name == "log") log_size = r.size;
  }
  const std::size_t too_big = log_size / 2 + 4096, fits = log_size / 2 - 4096;
  auto* b = reinterpret_cast<std::byte*>(heap_words(p));
  CHECK(error_of([&] {
          p.transaction([&] {
            tx_snapshot(b, too_big);
            std::memset(b, 1, too_big);
          });
        }) == error_code::out_of_space);
  CHECK(b[0] == std::byte{0});
  // The pool still works, up to half the log in one transaction.
  p.transaction([&] {
    tx_snapshot(b, fits);
    std::memset(b, 2, fits);
  });
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(dev, crashed);
  CHECK(reinterpret_cast<std::byte*>(heap_words(q))[fits - 1] == std::byte{2});
}

TEST_CASE("many transactions wrap the log and checkpoint it", "[tx][log]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool_options o = sim_options(dev);
    o.log_size = 256 * 1024;
    pool p = pool::open("sim", o);
    std::uint64_t* w = heap_words(p);
    for (std::uint64_t i = 1; i <= 5000; ++i) {
      p.transaction([&] {
        tx_snapshot(&w[i % 300]);
        w[i % 300] = i;
        tx_snapshot(&w[1000 + i % 7], 8);
        w[1000 + i % 7] += 1;
        if (i % 3 == 0) {  // vary the record size so that wrap markers occur
          tx_snapshot(&w[2000], 8 * (1 + i % 11));
          w[2000] = i;
        }
      });
    }
    pool_stats s = p.stats();
    CHECK(s.log_wraps > 0);
    CHECK(s.checkpoints > 0);
    std::shared_ptr<sim_device> crashed;
    pool q = crash_and_reopen(dev, crashed);
    std::uint64_t* r = heap_words(q);
    for (std::uint64_t i = 4701; i <= 5000; ++i) CHECK(r[i % 300] == i);
    CHECK(r[2000] == 4998);
    std::uint64_t sum = 0;
    for (int k = 0; k < 7; ++k) sum += r[1000 + k];
    CHECK(sum == 5000);
  }
}

TEST_CASE("close checkpoints so the next open replays nothing", "[tx][log]") {
  auto dev = std::make_shared<sim_device>();
  {
    pool p = pool::open("sim", sim_options(dev));
    std::uint64_t* w = heap_words(p);
    p.transaction([&] {
      tx_snapshot(&w[0]);
      w[0] = 77;
    });
  }
  pool_options o = sim_options(dev);
  o.mode = open_mode::open_existing;
  pool p = pool::open("sim", o);
  CHECK(p.stats().recovered_records == 0);
  CHECK(p.info().was_clean_shutdown);
  CHECK(heap_words(p)[0] == 77);
}

TEST_CASE("a read-only open of a crashed pool sees committed work without writing",
          "[tx][recovery]") {
  auto dev = std::make_shared<sim_device>();
  pool p = pool::open("sim", sim_options(dev));
  std::uint64_t* w = heap_words(p);
  p.transaction([&] {
    tx_snapshot(&w[9]);
    w[9] = 1234;
  });
  auto crashed = sim_device::from_image(dev->durable(), dev->store_granularity());
  pool_options o = sim_options(crashed);
  o.mode = open_mode::read_only;
  std::vector<std::byte> before = crashed->durable();
  {
    pool q = pool::open("crashed", o);
    CHECK(heap_words(q)[9] == 1234);
    CHECK(q.info().recovered_records == 1);
  }
  CHECK(crashed->durable() == before);
}

TEST_CASE("checked mode reports a write that was not snapshotted", "[tx][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  std::uint64_t* w = heap_words(p);
  try {
    p.transaction([&] {
      tx_snapshot(&w[0]);
      w[0] = 1;
      w[10] = 5;  // forgot the snapshot
    });
    FAIL("the missing snapshot was not reported");
  } catch (const error& e) {
    CHECK(e.code() == error_code::missing_snapshot);
    std::string expect = "offset " + std::to_string(p.offset_of(&w[10]));
    CHECK(std::string(e.what()).find(expect) != std::string::npos);
  }
  CHECK(w[0] == 0);
  CHECK(w[10] == 0);  // checked mode undoes unsnapshotted stores too
  // A correct transaction passes.
  p.transaction([&] {
    tx_snapshot(&w[10]);
    w[10] = 5;
  });
  CHECK(p.stats().commits == 1);
}

TEST_CASE("checked mode finds a missing snapshot made by the second of two threads",
          "[tx][checked][threads]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  std::uint64_t* w = heap_words(p);  // w[0]: the first thread's; w[8], w[9]: the second's
  std::atomic<int> stage{0};
  std::optional<error_code> first, second;
  std::string second_what;
  std::thread t1([&] {
    try {
      p.transaction([&] {
        tx_snapshot(&w[0]);
        w[0] = 1;
        stage = 1;  // the second thread runs its transaction while this one is open
        while (stage.load() < 2) std::this_thread::yield();
      });
    } catch (const error& e) {
      first = e.code();
    }
  });
  std::thread t2([&] {
    while (stage.load() < 1) std::this_thread::yield();
    try {
      p.transaction([&] {
        tx_snapshot(&w[8]);
        w[8] = 2;
        w[9] = 0x0303030303030303;  // forgot the snapshot
      });
    } catch (const error& e) {
      second = e.code();
      second_what = e.what();
    }
    stage = 2;
  });
  t1.join();
  t2.join();
  CHECK_FALSE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(*second == error_code::missing_snapshot);
  CHECK(second_what.find("offset " + std::to_string(p.offset_of(&w[9])) + " (8 bytes") !=
        std::string::npos);
  CHECK(w[0] == 1);
  CHECK(w[8] == 0);  // the second transaction was aborted
  CHECK(w[9] == 0);  // and its unsnapshotted store undone
  std::shared_ptr<sim_device> crashed;
  pool q = crash_and_reopen(dev, crashed);
  CHECK(heap_words(q)[0] == 1);
  CHECK(heap_words(q)[9] == 0);
}

TEST_CASE(
    "checked mode: a commit that ends first reports another thread's store and names its "
    "thread",
    "[tx][checked][threads]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  std::uint64_t* w = heap_words(p);
  std::uint64_t* other_page = w + 4096 / 8;
  std::atomic<int> stage{0};
  std::atomic<pid_t> culprit{0};
  std::optional<error_code> innocent, guilty;
  std::string innocent_what;
  std::thread bad([&] {
    culprit = gettid();
    try {
      p.transaction([&] {
        other_page[1] = 7;  // no snapshot; the page is opened by this thread
        stage = 1;
        while (stage.load() < 2) std::this_thread::yield();
      });
    } catch (const error& e) {
      guilty = e.code();
    }
  });
  while (stage.load() < 1) std::this_thread::yield();
  try {
    p.transaction([&] {
      tx_snapshot(&w[0]);
      w[0] = 1;
    });
  } catch (const error& e) {
    innocent = e.code();
    innocent_what = e.what();
  }
  stage = 2;
  bad.join();
  // One page is writable by every thread, so the report cannot say which
  // transaction stored: it names the thread whose store opened the page.
  REQUIRE(innocent.has_value());
  CHECK(*innocent == error_code::missing_snapshot);
  CHECK(innocent_what.find("page first written by thread " + std::to_string(culprit.load())) !=
        std::string::npos);
  CHECK_FALSE(guilty.has_value());  // its store was undone and reported already
  CHECK(other_page[1] == 0);
  CHECK(w[0] == 0);
}

TEST_CASE("checked mode reports a store made outside any transaction at the next commit",
          "[tx][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  std::uint64_t* w = heap_words(p);
  w[5] = 9;  // outside any transaction
  CHECK(error_of([&] {
          p.transaction([&] {
            tx_snapshot(&w[0]);
            w[0] = 1;
          });
        }) == error_code::missing_snapshot);
  CHECK(w[5] == 0);
  p.transaction([&] {  // reported once: the next commit passes
    tx_snapshot(&w[0]);
    w[0] = 1;
  });
  CHECK(w[0] == 1);
}

TEST_CASE("checked mode: pool::gc reports a store made outside any transaction", "[tx][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  std::uint64_t* w = heap_words(p);
  w[6] = 3;
  CHECK(error_of([&] { p.gc(); }) == error_code::missing_snapshot);
  CHECK(w[6] == 0);
  p.gc();
}

TEST_CASE("checked mode: threads that snapshot every store share pages without a report",
          "[tx][checked][threads]") {
  test::temp_dir d;  // a file: the simulated device takes one writer at a time
  pool_options o;
  o.size = 8 << 20;
  o.checked_transactions = true;
  pool p = pool::open(d / "checked.pool", o);
  std::uint64_t* w = heap_words(p);
  constexpr int threads = 3, rounds = 1500, words = 1024;  // 2 pages, interleaved by thread
  std::atomic<int> failures{0};
  std::mutex first_mu;
  std::string first_failure;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      try {
        for (int r = 0; r < rounds; ++r) {
          p.transaction([&] {
            std::uint64_t* x = &w[r % (words / threads) * threads + t];
            tx_snapshot(x);
            *x += 1;
            void* fresh = p.allocate(48);  // new memory needs no snapshot
            std::memset(fresh, 0xab, 48);
            p.deallocate(fresh);
          });
        }
      } catch (const error& e) {
        std::lock_guard g(first_mu);
        if (first_failure.empty()) first_failure = e.what();
        failures++;
      }
    });
  }
  for (auto& t : ts) t.join();
  INFO(first_failure);
  CHECK(failures == 0);
  std::uint64_t sum = 0;
  for (int i = 0; i < words; ++i) sum += w[i];
  CHECK(sum == std::uint64_t(threads) * rounds);
}

TEST_CASE("checked mode finds a store far from every snapshot within a bounded number of commits",
          "[tx][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  std::uint64_t* w = heap_words(p);
  constexpr int pages = 20;
  for (int i = 0; i < pages; ++i) {  // opens 20 pages
    p.transaction([&] {
      tx_snapshot(&w[i * 512]);
      w[i * 512] = 1;
    });
  }
  w[10 * 512 + 3] = 7;  // on page 10, outside any transaction
  int commits = 0;
  std::optional<error_code> found;
  while (!found && commits < pages) {
    ++commits;
    try {
      p.transaction([&] {
        tx_snapshot(&w[0]);  // page 0 only
        w[0] += 1;
      });
    } catch (const error& e) {
      found = e.code();
    }
  }
  // Each commit compares the pages it touched and two others in turn.
  REQUIRE(found.has_value());
  CHECK(*found == error_code::missing_snapshot);
  CHECK(commits <= pages / 2 + 1);
  CHECK(w[10 * 512 + 3] == 0);
}

TEST_CASE("checked mode: closing the pool reports stores made outside transactions",
          "[tx][checked]") {
  test::temp_dir d;
  pool_options o;
  o.size = 4 << 20;
  o.checked_transactions = true;
  pool p = pool::open(d / "close.pool", o);
  std::uint64_t* w = heap_words(p);
  p.transaction([&] {
    tx_snapshot(&w[0]);
    w[0] = 1;
  });
  w[1] = 2;  // never committed
  CHECK(error_of([&] { p.close(); }) == error_code::missing_snapshot);
  CHECK_FALSE(p.is_open());
  pool q = pool::open(d / "close.pool", o);
  CHECK(heap_words(q)[0] == 1);
  CHECK(heap_words(q)[1] == 0);
  q.close();
}

TEST_CASE("checked mode keeps watching after pool::grow", "[tx][checked]") {
  auto dev = std::make_shared<sim_device>();
  pool p = open_checked(dev);
  p.grow(8 << 20);
  std::uint64_t* w = heap_words(p);  // the middle of the grown heap
  p.transaction([&] {
    tx_snapshot(&w[0]);
    w[0] = 4;
  });
  CHECK(error_of([&] { p.transaction([&] { w[1] = 5; }); }) == error_code::missing_snapshot);
  CHECK(w[0] == 4);
  CHECK(w[1] == 0);
}

TEST_CASE("threads commit concurrently and every commit survives", "[tx][threads]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    test::temp_dir d;
    pool_options o;
    o.size = 8 << 20;
    o.log_size = 256 * 1024;
    if (g == granularity::cache_line) {
      // A real file (the simulated device is thread-safe too, but this case
      // is about the file media's concurrent commits).
      ::setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
    }
    {
      pool p = pool::open(d / "t.pool", o);
      std::uint64_t* w = heap_words(p);
      constexpr int per_thread = 400;
      auto worker = [&](int id) {
        for (int i = 0; i < per_thread; ++i) {
          p.transaction([&] {
            tx_snapshot(&w[id * 64]);  // each thread its own cache line
            w[id * 64] += 1;
          });
        }
      };
      std::thread a(worker, 0), b(worker, 1);
      a.join();
      b.join();
      CHECK(p.stats().commits == 2 * per_thread);
    }
    ::unsetenv("PMEM2_FORCE_GRANULARITY");
    pool p = pool::open(d / "t.pool", o);
    CHECK(heap_words(p)[0] == 400);
    CHECK(heap_words(p)[64] == 400);
  }
}

namespace {
struct root_mark {
  std::uint64_t value;
};
FERRITE_TYPE(root_mark, "txtest.RootMark", value)
}  // namespace

// Two threads replace the root while a third reads it. The root is read
// and set under the log's own lock (a torn offset/type pair, or a data race
// for TSan, otherwise), and the commits that share a sync (page media) may
// return in any order: the root the pool shows at the end must still be
// the one of the last record in the log, which is the root a reopen finds.
TEST_CASE("threads replacing the root: readers see whole roots and the last one stays",
          "[tx][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::page);
  pool_options o = sim_options(dev, 8 << 20);
  std::uint64_t live = 0;
  {
    pool p = pool::open("sim", o);
    std::atomic<bool> done{false};
    auto replace = [&](std::uint64_t t) {
      for (std::uint64_t n = 0; n < 1000; ++n) {
        p.transaction([&] {
          pptr<root_mark> m = p.make<root_mark>();
          m->value = t;
          p.set_root(m);
        });
      }
    };
    p.root<root_mark>();                 // the type is in the pool's table before the threads start
    std::uint64_t reads = 0, wrong = 0;  // Catch's assertions are for the test's thread
    std::thread reader([&] {
      while (!done) {
        wrong += p.root_type_name() != "txtest.RootMark";
        ++reads;
      }
    });
    std::thread a(replace, 1), b(replace, 2);
    a.join();
    b.join();
    done = true;
    reader.join();
    CHECK(reads > 0);
    CHECK(wrong == 0);
    live = p.root<root_mark>().offset();
  }
  o.mode = open_mode::open_existing;
  pool q = pool::open("sim", o);
  CHECK(q.root<root_mark>().offset() == live);
}

// --- Transactions that take locks (transaction.h) ---

namespace {
// Two locks and two guarded words in free heap space (zero bytes are free
// locks).
struct locked_words {
  pmutex* a;
  pmutex* b;
  pshared_mutex* shared;
  std::uint64_t* x;
  std::uint64_t* y;
};
locked_words locked_words_in(pool& p) {
  std::uint64_t* w = heap_words(p);
  return {reinterpret_cast<pmutex*>(&w[0]), reinterpret_cast<pmutex*>(&w[8]),
          reinterpret_cast<pshared_mutex*>(&w[16]), &w[24], &w[32]};
}
}  // namespace

TEST_CASE("a transaction's locks are held while it runs and free when it returns", "[tx][locks]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  bool held_inside = false;
  p.transaction(
      [&] {
        std::thread other([&] { held_inside = !l.a->try_lock() && !l.shared->try_lock_shared(); });
        other.join();
        tx_snapshot(l.x);
        *l.x = 5;
      },
      *l.a, *l.shared);
  CHECK(held_inside);
  CHECK(l.a->try_lock());
  l.a->unlock();
  CHECK(l.shared->try_lock());
  l.shared->unlock();
  CHECK(*l.x == 5);
}

TEST_CASE("locks are released only after an abort restored every byte", "[tx][locks]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  *l.x = 1;
  std::atomic<bool> stored{false};
  std::uint64_t seen = 0;
  std::thread waiter([&] {
    while (!stored.load()) std::this_thread::yield();
    std::lock_guard g(*l.a);  // granted once the aborting transaction lets go
    seen = *l.x;
  });
  CHECK_THROWS_AS(p.transaction(
                      [&] {
                        tx_snapshot(l.x);
                        *l.x = 99;
                        stored = true;
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                        throw std::runtime_error("abort");
                      },
                      *l.a),
                  std::runtime_error);
  waiter.join();
  CHECK(seen == 1);
  CHECK(*l.x == 1);
}

TEST_CASE("a commit releases its locks before its record is durable", "[tx][locks]") {
  for (granularity g : {granularity::cache_line, granularity::page}) {
    auto dev = std::make_shared<sim_device>(g);
    pool p = pool::open("sim", sim_options(dev));
    locked_words l = locked_words_in(p);
    int barriers = 0, free_at_barrier = 0;
    dev->on_barrier = [&](const sim_device&) {
      ++barriers;
      if (l.a->try_lock()) {  // the commit's fence or sync: the lock is already free
        ++free_at_barrier;
        l.a->unlock();
      }
    };
    p.transaction(
        [&] {
          tx_snapshot(l.x);
          *l.x = 7;
        },
        *l.a);
    dev->on_barrier = nullptr;
    INFO("granularity " << static_cast<int>(g));
    CHECK(barriers >= 1);
    CHECK(free_at_barrier == barriers);
    std::shared_ptr<sim_device> crashed;
    pool q = crash_and_reopen(dev, crashed);
    CHECK(locked_words_in(q).x[0] == 7);  // and it is durable when commit returns
  }
}

TEST_CASE("a transaction with locks that writes nothing waits until what it read is durable",
          "[tx][locks][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  std::atomic<bool> in_fence{false}, go_on{false}, reader_done{false};
  dev->on_barrier = [&](const sim_device&) {  // holds the writer inside its commit fence
    in_fence = true;
    while (!go_on.load()) std::this_thread::yield();
  };
  std::thread writer([&] {
    p.transaction(
        [&] {
          tx_snapshot(l.x);
          *l.x = 3;
        },
        *l.a);
  });
  while (!in_fence.load()) std::this_thread::yield();
  std::uint64_t read = 0;
  std::thread reader([&] {
    p.transaction([&] { read = *l.x; }, *l.a);  // gets the lock: the writer is ordered
    reader_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(reader_done.load());  // it read 3, which is not durable yet
  go_on = true;
  writer.join();
  reader.join();
  dev->on_barrier = nullptr;
  CHECK(read == 3);
}

TEST_CASE("transactions naming the same locks in opposite orders do not deadlock",
          "[tx][locks][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  auto worker = [&](bool reversed) {
    for (int i = 0; i < 300; ++i) {
      auto body = [&] {
        tx_snapshot(l.x);
        tx_snapshot(l.y);
        *l.x += 1;
        *l.y += 2;
      };
      if (reversed) {
        p.transaction(body, *l.b, *l.a);
      } else {
        ferrite::transaction tx(p, *l.a, *l.b);
        body();
        tx.commit();
      }
    }
  };
  std::thread one(worker, false), two(worker, true);
  one.join();
  two.join();
  CHECK(*l.x == 600);
  CHECK(*l.y == 1200);
}

TEST_CASE("a lock named twice, or again by a nested transaction, is taken once", "[tx][locks]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  p.transaction(
      [&] {
        p.transaction(
            [&] {
              tx_snapshot(l.x);
              *l.x = 4;
            },
            *l.a, *l.b);  // a is held by the outer level already
      },
      *l.a, *l.a);
  CHECK(l.a->try_lock());
  CHECK(l.b->try_lock());  // the nested level's lock went with the outermost commit
  l.a->unlock();
  l.b->unlock();
  CHECK(*l.x == 4);
}

TEST_CASE("a lock named both shared and exclusive is refused", "[tx][locks]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  CHECK(error_of([&] { p.transaction([] {}, *l.shared, ferrite::shared(*l.shared)); }) ==
        error_code::invalid_argument);
  CHECK(l.shared->try_lock());  // nothing left held
  l.shared->unlock();
  CHECK_FALSE(in_transaction());
}

TEST_CASE("readers named with ferrite::shared share a lock across transactions",
          "[tx][locks][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  std::atomic<int> inside{0}, most{0};
  auto reader = [&] {
    for (int i = 0; i < 50; ++i) {
      p.transaction(
          [&] {
            int now = ++inside;
            int m = most.load();
            while (now > m && !most.compare_exchange_weak(m, now)) {
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            --inside;
          },
          ferrite::shared(*l.shared));
    }
  };
  std::thread r1(reader), r2(reader);
  r1.join();
  r2.join();
  CHECK(most.load() == 2);
}

TEST_CASE("a failed sync fails every commit of a gathered group and releases its locks",
          "[tx][locks][threads]") {
  auto dev = std::make_shared<sim_device>(granularity::page);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  for (int i = 0; i < 20; ++i) {  // both threads commit, so the next groups gather
    p.transaction([&] {
      tx_snapshot(l.x);
      *l.x += 1;
    });
  }
  dev->fail_barrier_at = static_cast<std::int64_t>(dev->barriers()) + 5;
  std::atomic<int> failures{0};
  auto worker = [&](std::uint64_t* w) {
    for (int i = 0; i < 50; ++i) {
      try {
        p.transaction(
            [&] {
              tx_snapshot(w);
              *w += 1;
            },
            *l.a);
      } catch (const error& e) {
        if (e.code() == error_code::io_error || e.code() == error_code::read_only) ++failures;
      }
    }
  };
  std::thread one(worker, l.x), two(worker, l.y);
  one.join();
  two.join();
  CHECK(failures.load() > 0);
  CHECK(l.a->try_lock());
  l.a->unlock();
  CHECK_FALSE(in_transaction());
}

TEST_CASE("a commit that fails after releasing its locks leaves its bytes to the next holder",
          "[tx][locks][threads]") {
  // A writes link 0 and the count, releases the lock at its LSN, and its
  // fence fails; B, which took the lock meanwhile, wrote link 1 and the
  // count on top. Were A to put its old bytes back, B's own rollback would
  // leave a count of 1 with link 0 missing: a state no commit made.
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool p = pool::open("sim", sim_options(dev));
  locked_words l = locked_words_in(p);
  std::uint64_t* link = l.y;  // link[0], link[1]; the count is *l.x
  std::atomic<bool> b_stored{false}, a_failed{false};
  dev->fail_barrier_at = static_cast<std::int64_t>(dev->barriers());
  dev->on_barrier = [&](const sim_device&) {  // A's fence: wait for B's stores first
    while (!b_stored.load()) std::this_thread::yield();
  };
  std::thread b;
  auto b_runs = [&] {
    while (!l.a->try_lock()) std::this_thread::yield();  // free once A has its LSN
    l.a->unlock();
    try {
      p.transaction(
          [&] {
            tx_snapshot(l.x);
            tx_snapshot(&link[8]);
            link[8] = link[0] + 1;
            *l.x = 2;
            b_stored = true;
            while (!a_failed.load()) std::this_thread::yield();
          },
          *l.a);
    } catch (const error&) {
    }
  };
  CHECK(error_of([&] {
          p.transaction(
              [&] {
                tx_snapshot(l.x);
                tx_snapshot(&link[0]);
                link[0] = 40;
                *l.x = 1;
                b = std::thread(b_runs);  // A holds the lock before B looks
              },
              *l.a);
        }) == error_code::io_error);
  a_failed = true;
  b.join();
  dev->on_barrier = nullptr;
  CHECK(*l.x == 1);      // B rolled back to what it saw: A's state
  CHECK(link[0] == 40);  // A's bytes were left in place
  CHECK(link[8] == 0);
}

// The transaction gate (engine/detail/tx_gate.h): transactions hold it
// shared, garbage collection, copy and grow exclusive.
TEST_CASE("the transaction gate lets a transaction in beside a running one while a writer waits",
          "[tx][gate]") {
  // A transaction may wait for a lock held by a thread whose transaction
  // has not begun: that thread must get in while a writer waits, or none of
  // the three goes on.
  ferrite::detail::tx_gate gate;
  gate.lock_shared();  // the running transaction
  std::atomic<bool> writer_in{false};
  std::thread writer([&] {
    gate.lock();
    writer_in = true;
    gate.unlock();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the writer waits
  CHECK_FALSE(writer_in.load());
  std::atomic<bool> second_in{false};
  std::thread second([&] {
    gate.lock_shared();
    second_in = true;
    gate.unlock_shared();
  });
  second.join();  // hangs if a waiting writer shut the gate on it
  CHECK(second_in.load());
  CHECK_FALSE(writer_in.load());
  gate.unlock_shared();
  writer.join();
  CHECK(writer_in.load());
}

TEST_CASE("the transaction gate keeps a writer out with more threads than it has slots",
          "[tx][gate][threads]") {
  // Threads past the gate's per-thread slots share a counter: a writer must
  // see them too, and readers on both kinds must never be inside with it.
  ferrite::detail::tx_gate gate;
  std::atomic<bool> stop{false};
  std::atomic<int> inside{0};  // readers between lock_shared and unlock_shared
  std::atomic<bool> overlap{false};
  std::atomic<std::uint64_t> entries{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 72; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        gate.lock_shared();
        inside.fetch_add(1);
        entries.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::yield();
        inside.fetch_sub(1);
        gate.unlock_shared();
        // Gaps between transactions: with 72 threads always overlapping,
        // the readers would never be down to none (see the gate's header).
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  }
  while (entries.load() < 2000) std::this_thread::yield();
  for (int i = 0; i < 20; ++i) {
    gate.lock();
    if (inside.load() != 0) overlap = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (inside.load() != 0) overlap = true;
    gate.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop = true;
  for (auto& r : readers) r.join();
  CHECK_FALSE(overlap.load());
  CHECK(entries.load() >= 2000);
}

TEST_CASE("the transaction gate goes to a waiting writer once no transaction is inside",
          "[tx][gate]") {
  // Two threads whose transactions keep overlapping: a writer still gets in.
  ferrite::detail::tx_gate gate;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> entries{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        gate.lock_shared();
        entries.fetch_add(1, std::memory_order_relaxed);
        gate.unlock_shared();
      }
    });
  }
  while (entries.load() < 1000) std::this_thread::yield();
  for (int i = 0; i < 20; ++i) {
    gate.lock();  // hangs if the readers keep the writer out
    const std::uint64_t at = entries.load();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    CHECK(entries.load() == at);  // no reader inside while the writer holds it
    gate.unlock();
  }
  stop = true;
  for (auto& r : readers) r.join();
}
