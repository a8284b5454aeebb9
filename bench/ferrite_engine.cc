// The ferrite engine. The thread regions are one object allocated (64-byte
// aligned) in a transaction when the pool is created; the benchmark keeps
// its offset across the reopen, as libpmemobj's engine keeps the root.
#include <stdexcept>

#include "bench/engine.h"
#include "engine/pool.h"
#include "engine/transaction.h"

namespace ferrite::bench {
namespace {

std::string mib(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes >> 10) + " KiB";
}

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
    std::uint64_t log = 0;
    for (const pool_region& r : i.regions) {
      if (r.name == "log") log = r.size;
    }
    return "libpmem2 granularity " + std::string(ferrite::to_string(i.store_granularity)) +
           ", log " + mib(log) + ", transactions by pool.transaction + tx_snapshot";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    std::uint64_t* r = region(t);
    switch (w) {
      case workload::tx_set8:
        return set_fields<1>(r, ops);
      case workload::tx_set_lines:
        return set_fields<8>(r, ops);
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

  void reopen() override {
    pool_.close();
    pool_options o;
    o.mode = open_mode::open_existing;
    pool_ = pool::open(setup_.pool_path, o);
  }

  std::uint64_t read_word(int t, std::size_t i) const override { return region(t)[i]; }

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
};

}  // namespace

std::unique_ptr<bench_engine> make_ferrite_engine() {
  return std::make_unique<ferrite_engine>();
}

}  // namespace ferrite::bench
