// Built-in workloads about the change log and the pool's geometry:
// log-wrap, log-full, pool-sizes.
#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash::builtin {
namespace {

// One range of `min`..`max` random bytes at a random offset per operation.
// Every `too_large_every`th operation (if not 0) instead tries a
// transaction larger than half the log, which must fail with out_of_space.
class log_model final : public region_model {
 public:
  static constexpr std::uint64_t region = scratch_capacity;

  log_model(std::uint64_t seed, std::uint64_t min, std::uint64_t max, std::uint64_t too_large_every,
            bool want_space_waits)
      : region_model(region),
        seed_(seed),
        min_(min),
        max_(max),
        too_large_every_(too_large_every),
        want_space_waits_(want_space_waits) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<log_model>(*this); }

  void perform(pool& p, std::uint64_t op) const override {
    if (too_large(op)) {
      std::uint64_t log_size = 0;
      for (const pool_region& reg : p.info().regions) {
        if (reg.name == "log") log_size = reg.size;
      }
      const std::uint64_t bytes = log_size / 2 + 4096;
      if (bytes > scratch_capacity) {
        throw std::logic_error(
            "the scratch object is too small for a transaction larger than half the log");
      }
      std::byte* r = scratch_for_write(p);
      expect_error(error_code::out_of_space,
                   "operation " + std::to_string(op) + " (a transaction of " +
                       std::to_string(bytes) + " bytes, log of " + std::to_string(log_size) + ")",
                   [&] {
                     p.transaction([&] {
                       tx_snapshot(r, bytes);
                       r[100] ^= std::byte{0xff};
                     });
                   });
      return;
    }
    perform_writes(p, writes(op));
  }
  void apply(std::uint64_t op) override {
    if (!too_large(op)) apply_writes(writes(op));
  }
  std::string end_of_run(const pool& p) const override {
    const pool_stats s = p.stats();
    const std::string counts = " (" + std::to_string(s.commits) + " commits, " +
                               std::to_string(s.log_bytes) + " log bytes, " +
                               std::to_string(s.checkpoints) + " checkpoints)";
    if (s.log_wraps == 0) return "the log never wrapped" + counts;
    if (s.checkpoints == 0) return "no checkpoint ran" + counts;
    if (want_space_waits_ && s.space_waits == 0) return "no commit waited for log space" + counts;
    return {};
  }

 private:
  bool too_large(std::uint64_t op) const {
    return too_large_every_ != 0 && op % too_large_every_ == too_large_every_ - 1;
  }
  std::vector<region_write> writes(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_, op);
    const std::uint64_t len = min_ + rng() % (max_ - min_ + 1);
    const std::uint64_t at = counter_bytes + rng() % (region - counter_bytes - len);
    return {{at, random_bytes(rng, len)}};
  }
  std::uint64_t seed_, min_, max_, too_large_every_;
  bool want_space_waits_;
};

// pool-sizes: three 16 KiB areas, at the start of the scratch region, in
// the middle of the heap and at its very end; each operation writes a
// random range in one or more of them.
class pool_sizes_model final : public workload {
 public:
  static constexpr std::uint64_t area = 16 * 1024;

  explicit pool_sizes_model(std::uint64_t seed) : seed_(seed) {
    for (auto& a : areas_) a.resize(area);
  }
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<pool_sizes_model>(*this);
  }
  void perform(pool& p, std::uint64_t op) const override {
    const auto ws = writes(op);
    p.transaction([&] {
      for (const auto& [which, w] : ws) {
        std::byte* dst = (which == 0 ? scratch_for_write(p) : area_at(p, which)) + w.offset;
        tx_snapshot(dst, w.data.size());
        std::memcpy(dst, w.data.data(), w.data.size());
      }
    });
  }
  void apply(std::uint64_t op) override {
    for (const auto& [which, w] : writes(op)) {
      std::memcpy(areas_[which].data() + w.offset, w.data.data(), w.data.size());
    }
  }
  std::string check(const pool& p) const override {
    static const char* names[3] = {"the area at the heap's start", "the area mid-heap",
                                   "the area at the heap's end"};
    for (std::size_t i = 0; i < 3; ++i) {
      if (std::string d = compare_bytes(area_at(p, i), areas_[i], names[i]); !d.empty()) return d;
    }
    return {};
  }

 private:
  static std::byte* area_at(const pool& p, std::size_t which) {
    switch (which) {
      case 0:
        return scratch_region(p);
      case 1:
        return p.base() + p.heap_offset() + p.heap_size() / 2;
      default:
        return p.base() + p.heap_offset() + p.heap_size() - area;
    }
  }
  std::vector<std::pair<std::size_t, region_write>> writes(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_, op);
    std::vector<std::pair<std::size_t, region_write>> out;
    for (std::size_t which = 0; which < 3; ++which) {
      if (which != op % 3 && rng() % 2) continue;
      std::uint64_t len = 1 + rng() % 2048;
      // Now and then a write that ends on the heap's last byte.
      std::uint64_t at = which == 2 && rng() % 3 == 0 ? area - len : rng() % (area - len);
      out.push_back({which, {at, random_bytes(rng, len)}});
    }
    return out;
  }
  std::uint64_t seed_;
  std::vector<std::byte> areas_[3];
};

}  // namespace

workload_info log_wrap() {
  workload_info w;
  w.name = "log-wrap";
  w.description = "4-24 KB transactions in the smallest log: wrap-around and checkpoints";
  w.make = [](std::uint64_t seed) {
    return std::make_unique<log_model>(seed, 4000, 24000, 0, false);
  };
  w.quick_ops = 40;
  w.long_ops = 120;
  return w;
}

workload_info log_full() {
  workload_info w;
  w.name = "log-full";
  w.description = "100-200 KB transactions in a 448 KiB log: waits for space, too large ones";
  w.make = [](std::uint64_t seed) {
    return std::make_unique<log_model>(seed, 100 * 1024, 200 * 1024, 5, true);
  };
  w.log_size = 448 * 1024;
  w.quick_ops = 15;
  w.long_ops = 40;
  w.continue_ops = 2;
  return w;
}

workload_info pool_sizes() {
  workload_info w;
  w.name = "pool-sizes";
  w.description = "writes at the start, middle and end of the heap of 4 and 16 MiB pools";
  w.make = [](std::uint64_t seed) { return std::make_unique<pool_sizes_model>(seed); };
  w.pool_sizes = {4ull << 20, 16ull << 20};
  w.log_size = 0;  // the engine's default for the size
  w.quick_ops = 6;
  w.long_ops = 20;
  return w;
}

}  // namespace ferrite::crash::builtin
