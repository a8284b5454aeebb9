// The ferrite engine. The thread regions are one object allocated (64-byte
// aligned) in a transaction when the pool is created; the benchmark keeps
// its offset across the reopen, as libpmemobj's engine keeps the root.
// The container workloads are in bench/ferrite_containers.h.
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
  ~ferrite_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    setup_ = setup;
    pool_options o;
    o.mode = open_mode::create_exclusive;
    o.size = setup.pool_bytes;
    pool_ = pool::open(setup.pool_path, o);
    pool_info i = pool_.info();
    const granularity want =
        setup.mode == media_mode::cacheline ? granularity::cache_line : granularity::page;
    if (i.store_granularity != want) {
      throw std::runtime_error("ferrite pool " + setup.pool_path.string() + " runs on " +
                               std::string(ferrite::to_string(i.store_granularity)) +
                               " media, not " + std::string(ferrite::to_string(want)));
    }
    pool_.transaction([&] {
      void* regions = pool_.allocate(static_cast<std::size_t>(setup.threads) * region_bytes, 0, 64);
      regions_offset_ = pool_.offset_of(regions);
    });
    if (setup.work == workload::chase) build_chase();
    if (setup.work == workload::open) fill(setup.objects);
    if (info(setup.work).container) containers_.open(pool_, setup);
    // What the setup committed is applied now, untimed: the first timed
    // run's checkpoint (finish_run) must not pay for building the chase
    // list or filling map_get's map.
    pool_.checkpoint();
    std::uint64_t log = 0;
    for (const pool_region& r : i.regions) {
      if (r.name == "log") log = r.size;
    }
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
    pool_options o;
    o.mode = open_mode::open_existing;
    pool_ = pool::open(setup_.pool_path, o);
  }

  std::uint64_t read_word(int t, std::size_t i) const override { return region(t)[i]; }

  void check_container(workload, std::uint64_t count) override { containers_.check(pool_, count); }

  void close_and_remove() noexcept override {
    if (!pool_.is_open()) return;
    try {
      pool_.close();
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove(setup_.pool_path, ec);
  }

 private:
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
  // atomic, into word 0 of thread 0's region. stderr gets the split.
  void open_and_allocate() {
    pool_options o;
    o.mode = open_mode::open_existing;
    auto t0 = std::chrono::steady_clock::now();
    pool_ = pool::open(setup_.pool_path, o);
    auto t1 = std::chrono::steady_clock::now();
    std::uint64_t* slot = region(0);
    pool_.deallocate_from(slot);
    pool_.allocate_into(slot, 64);
    auto t2 = std::chrono::steady_clock::now();
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
};

}  // namespace

std::unique_ptr<bench_engine> make_ferrite_engine() {
  return std::make_unique<ferrite_engine>();
}

}  // namespace ferrite::bench
