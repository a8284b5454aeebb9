// The ferrite engine. The thread regions are one object allocated (64-byte
// aligned) in a transaction when the pool is created; the benchmark keeps
// its offset across the reopen, as libpmemobj's engine keeps the root.
// The container workloads and the account store of transfer are in
// bench/ferrite_containers.h. footprint's region is one more object, of
// footprint_region_pages 4 KiB pages, 4 KiB-aligned.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "bench/engine.h"
#include "bench/ferrite_containers.h"
#include "ferrite/base/error.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/transaction.h"

namespace ferrite::bench {
namespace {

std::string mib(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes >> 10) + " KiB";
}

struct chase_node {
  pptr<chase_node> next;
  std::uint64_t value;
};

// Objects per transaction when filling a pool for chase and open (untimed).
constexpr std::uint64_t fill_batch = 4096;

class ferrite_engine final : public bench_engine {
 public:
  ferrite_engine(bool checked, bool inline_checkpoints)
      : checked_(checked), inline_checkpoints_(inline_checkpoints) {}
  ~ferrite_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    setup_ = setup;
    pool_options o = options(open_mode::create_exclusive);
    o.size = setup.pool_bytes;
    pool_ = pool::open(setup.pool_path, o);
    created_ = true;
    pool_info i = pool_.info();
    const granularity want =
        setup.mode == media_mode::cacheline ? granularity::cache_line : granularity::page;
    if (i.store_granularity != want) {
      throw std::runtime_error("ferrite pool " + setup.pool_path.string() + " runs on " +
                               std::string(ferrite::to_string(i.store_granularity)) +
                               " media, not " + std::string(ferrite::to_string(want)));
    }
    // footprint's region first: a small object allocated before it can sit
    // in the middle of the heap's free chunks and leave no range of 6x the
    // budget (the allocator places runs by zone, not at the heap's start).
    if (setup.work == workload::footprint) allocate_footprint_region();
    pool_.transaction([&] {
      void* regions = pool_.allocate(static_cast<std::size_t>(setup.threads) * region_bytes, 0, 64);
      regions_offset_ = pool_.offset_of(regions);
    });
    if (setup.work == workload::chase) build_chase();
    if (setup.work == workload::open) fill(setup.objects);
    if (info(setup.work).container) containers_.open(pool_, setup);
    if (is_transfer(setup.work)) accounts_.open(pool_, setup.threads);
    // What the setup committed is applied now, untimed: the first timed
    // run's checkpoint (finish_run) must not pay for building the chase
    // list or filling map_get's map.
    pool_.checkpoint();
    std::uint64_t log = 0;
    for (const pool_region& r : i.regions) {
      if (r.name == "log") log = r.size;
    }
    // footprint: the allocation zero-filled the region through the working
    // view; the measured part starts from a new one (footprint_open).
    if (setup.work == workload::footprint) pool_.close();
    return "libpmem2 granularity " + std::string(ferrite::to_string(i.store_granularity)) +
           ", log " + mib(log) + ", transactions by pool.transaction + tx_snapshot";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    if (w == workload::open) {  // the pool is closed (close_for_open)
      for (std::uint64_t i = 0; i < ops; ++i) open_and_allocate();
      return;
    }
    std::uint64_t* r = region(t);
    switch (w) {
      case workload::tx_set8:
        return set_fields<1>(r, ops);
      case workload::tx_set_lines:
        return set_fields<8>(r, ops);
      case workload::tx_alloc64:
        for (std::uint64_t i = 0; i < ops; ++i) {
          std::uint64_t* slot = r + (i % 64);
          pool_.transaction([&] {
            void* obj = pool_.allocate(64);
            tx_snapshot(slot);
            *slot = pool_.offset_of(obj);
          });
        }
        return;
      case workload::tx_alloc_free64:
        for (std::uint64_t i = 0; i < ops; ++i) {
          pool_.transaction([&] {
            void* obj = pool_.allocate(64);
            tx_snapshot(r);
            *r = pool_.offset_of(obj);
          });
          pool_.transaction([&] {
            pool_.deallocate(pool_.at(*r));
            tx_snapshot(r);
            *r = 0;
          });
        }
        return;
      case workload::atomic_alloc_free64:
        for (std::uint64_t i = 0; i < ops; ++i) {
          pool_.allocate_into(r, 64);
          pool_.deallocate_from(r);
        }
        return;
      case workload::chase:
        return chase(ops);
      case workload::vector_push:
      case workload::map_insert:
      case workload::map_get:
        return containers_.run(pool_, ops);
      case workload::transfer:
        return accounts_.run(pool_, t, ops, false);
      case workload::transfer_held:
        return accounts_.run(pool_, t, ops, true);
      default:
        throw std::logic_error("ferrite: workload not implemented");
    }
  }

  // The records committed in the run are applied to the pool image now, so
  // that the run pays for its whole durability work, not only the commits.
  void finish_run() override { pool_.checkpoint(); }

  counters read_counters() const override {
    pool_stats s = pool_.stats();
    counters c;
    c.fences = s.media.fences;
    c.syncs = s.media.syncs;
    c.flushed_lines = s.media.flushed_lines;
    c.commits = s.commits;
    c.commit_syncs = s.group_syncs;
    c.checkpoints = s.checkpoints;
    return c;
  }

  void close_for_open() override { pool_.close(); }

  void reopen() override {
    if (!pool_.is_open()) open_and_allocate();
    pool_.close();
    pool_ = pool::open(setup_.pool_path, options(open_mode::open_existing));
  }

  std::uint64_t read_word(int t, std::size_t i) const override { return region(t)[i]; }

  void check_container(workload w, std::uint64_t count) override {
    if (is_transfer(w)) return accounts_.check(pool_, count);
    containers_.check(pool_, count);
  }

  // churn: each allocation is a transaction of its own (the object is not
  // linked anywhere; the benchmark keeps its offset), each free an atomic
  // deallocate.
  std::optional<std::uint64_t> churn_allocate(std::size_t size) override {
    std::uint64_t offset = 0;
    try {
      pool_.transaction([&] { offset = pool_.offset_of(pool_.allocate(size)); });
    } catch (const ferrite::error& e) {
      if (e.code() == error_code::out_of_space) return std::nullopt;
      throw;
    }
    return offset;
  }

  void churn_free(std::uint64_t offset) override { pool_.deallocate(pool_.at(offset)); }

  std::optional<std::uint64_t> churn_heap_bytes() const override {
    return pool_.heap_statistics().heap_bytes;
  }

  // The refill's objects, plus the thread regions allocated at open.
  void check_churn(std::uint64_t objects, std::uint64_t bytes) override {
    const std::uint64_t regions = static_cast<std::uint64_t>(setup_.threads) * region_bytes;
    const heap_stats h = pool_.heap_statistics();
    if (h.objects != objects + 1 || h.object_bytes != bytes + regions) {
      throw std::runtime_error("after reopening, the heap holds " + std::to_string(h.objects) +
                               " objects of " + std::to_string(h.object_bytes) +
                               " bytes, expected " + std::to_string(objects + 1) + " of " +
                               std::to_string(bytes + regions));
    }
    const std::vector<pool_problem> problems = pool_.check();
    if (!problems.empty()) {
      throw std::runtime_error("after reopening, pool.check() reports " +
                               std::to_string(problems.size()) + " problems, the first at " +
                               std::to_string(problems.front().offset) + ": " +
                               problems.front().what);
    }
  }

  void footprint_open() override {
    pool_ = pool::open(setup_.pool_path, options(open_mode::open_existing));
  }

  std::uint64_t footprint_pages() const override { return footprint_pages_; }

  void footprint_update(std::uint64_t page, std::uint64_t stamp) override {
    auto* words = static_cast<std::uint64_t*>(pool_.at(footprint_page_offset(page)));
    pool_.transaction([words, stamp] {
      tx_snapshot(words, footprint_update_bytes);
      std::fill_n(words, footprint_update_bytes / sizeof(std::uint64_t), stamp);
    });
  }

  std::uint64_t footprint_word(std::uint64_t page, std::size_t word) const override {
    return static_cast<const std::uint64_t*>(pool_.at(footprint_page_offset(page)))[word];
  }

  std::vector<std::pair<std::string, double>> take_figures() override {
    std::vector<std::pair<std::string, double>> f;
    if (opens_ != 0) {
      const double n = static_cast<double>(opens_);
      f = {{"open_ms", open_ns_ / n / 1e6}, {"first_alloc_ms", first_alloc_ns_ / n / 1e6}};
    }
    opens_ = 0;
    open_ns_ = first_alloc_ns_ = 0;
    return f;
  }

  // The file goes even when the pool is closed (footprint between its
  // setup and footprint_open, open between two opens), if open() made it.
  void close_and_remove() noexcept override {
    if (!pool_.is_open() && !created_) return;
    try {
      pool_.close();
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove(setup_.pool_path, ec);
    created_ = false;
  }

 private:
  // How this engine opens its pool: checked or not, and footprint's memory
  // budget (every other workload: the default budget).
  pool_options options(open_mode mode) const {
    pool_options o;
    o.mode = mode;
    o.checked_transactions = checked_;
    if (inline_checkpoints_) o.background_checkpoint = false;
    if (setup_.work == workload::footprint) {
      o.memory_budget = setup_.unbounded ? pool_options::unbounded : setup_.budget;
    }
    return o;
  }

  // footprint: one object of footprint_region_pages(budget) pages, each
  // page 4 KiB-aligned, in one transaction.
  void allocate_footprint_region() {
    footprint_pages_ = footprint_region_pages(setup_.budget);
    pool_.transaction([&] {
      void* r = pool_.allocate(footprint_pages_ * footprint_page_bytes, 0, footprint_page_bytes);
      footprint_offset_ = pool_.offset_of(r);
    });
  }

  std::uint64_t footprint_page_offset(std::uint64_t page) const {
    return footprint_offset_ + page * footprint_page_bytes;
  }

  std::uint64_t* region(int t) const {
    return static_cast<std::uint64_t*>(
        pool_.at(regions_offset_ + static_cast<std::uint64_t>(t) * region_bytes));
  }

  // Fills the pool with `n` 64-byte objects (in transactions of fill_batch
  // allocations); they are not linked: nothing walks the heap at open.
  void fill(std::uint64_t n) {
    for (std::uint64_t done = 0; done < n;) {
      const std::uint64_t k = std::min(fill_batch, n - done);
      pool_.transaction([&] {
        for (std::uint64_t i = 0; i < k; ++i) pool_.allocate(64);
      });
      done += k;
    }
  }

  // Open (the pool was closed by close_for_open) + the first allocation,
  // atomic, into whichever of words 0 and 1 of thread 0's region is empty;
  // then, untimed, the free of the previous open's object in the other.
  // The two times are kept apart (take_figures); stderr gets them too.
  void open_and_allocate() {
    pool_options o;
    o.mode = open_mode::open_existing;
    auto t0 = std::chrono::steady_clock::now();
    pool_ = pool::open(setup_.pool_path, o);
    auto t1 = std::chrono::steady_clock::now();
    std::uint64_t* slots = region(0);
    const int empty = slots[0] == 0 ? 0 : 1;
    pool_.allocate_into(&slots[empty], 64);
    auto t2 = std::chrono::steady_clock::now();
    pool_.deallocate_from(&slots[1 - empty]);
    open_ns_ += std::chrono::duration<double, std::nano>(t1 - t0).count();
    first_alloc_ns_ += std::chrono::duration<double, std::nano>(t2 - t1).count();
    opens_ += 1;
    if (std::getenv("FERRITE_BENCH_OPEN_SPLIT")) {
      std::fprintf(stderr, "ferrite open %llu objects: open %.3f ms, first alloc %.3f ms\n",
                   static_cast<unsigned long long>(setup_.objects),
                   std::chrono::duration<double, std::milli>(t1 - t0).count(),
                   std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
  }

  // chase_nodes nodes allocated in order, then linked into one circle in a
  // shuffled order (fixed seed), so that a walk jumps around the heap.
  void build_chase() {
    std::vector<chase_node*> nodes(chase_nodes);
    for (std::uint64_t done = 0; done < chase_nodes;) {
      const std::uint64_t k = std::min(fill_batch, chase_nodes - done);
      pool_.transaction([&] {
        for (std::uint64_t i = 0; i < k; ++i)
          nodes[done + i] = static_cast<chase_node*>(pool_.allocate(sizeof(chase_node)));
      });
      done += k;
    }
    std::vector<std::uint64_t> order(chase_nodes);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
    for (std::uint64_t done = 0; done < chase_nodes; done += fill_batch) {
      pool_.transaction([&] {
        for (std::uint64_t i = done; i < std::min(done + fill_batch, chase_nodes); ++i) {
          chase_node* n = nodes[order[i]];
          tx_snapshot(n);
          n->next = pptr<chase_node>(nodes[order[(i + 1) % chase_nodes]]);
          n->value = i;
        }
      });
    }
    cursor_ = pptr<chase_node>(nodes[order[0]]);
  }

  void chase(std::uint64_t ops) {
    pptr<chase_node> p = cursor_;
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      sum += p->value;
      p = p->next;
    }
    cursor_ = p;
    sink_ += sum;
  }

  template <int Lines>
  void set_fields(std::uint64_t* r, std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      pool_.transaction([r] {
        for (int k = 0; k < Lines; ++k) {
          std::uint64_t* field = r + k * words_per_line;
          tx_snapshot(field);
          *field += 1;
        }
      });
    }
  }

  engine_setup setup_;
  pool pool_;
  std::uint64_t regions_offset_ = 0;
  pptr<chase_node> cursor_;
  std::uint64_t sink_ = 0;
  ferrite_containers containers_;
  ferrite_accounts accounts_;
  // open: the opens since take_figures, and their times.
  std::uint64_t opens_ = 0;
  double open_ns_ = 0;
  double first_alloc_ns_ = 0;
  bool checked_ = false;             // engine "ferrite-checked": pool_options::checked_transactions
  bool inline_checkpoints_ = false;  // engine "ferrite-inline": no checkpointer thread
  bool created_ = false;             // open() created setup_.pool_path, close_and_remove removes it
  // footprint: the region (pool offset of its first page) and its pages.
  std::uint64_t footprint_offset_ = 0;
  std::uint64_t footprint_pages_ = 0;
};

}  // namespace

std::unique_ptr<bench_engine> make_ferrite_engine(bool checked, bool inline_checkpoints) {
  return std::make_unique<ferrite_engine>(checked, inline_checkpoints);
}

}  // namespace ferrite::bench
