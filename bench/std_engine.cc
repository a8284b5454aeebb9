// The plain C++ engine: the same updates on volatile memory, with no
// snapshot and no durability. The upper limit every persistent engine is
// compared with; it ignores the media mode.
#include <cstdlib>
#include <new>
#include <stdexcept>

#include "bench/engine.h"

namespace ferrite::bench {
namespace {

class std_engine final : public bench_engine {
 public:
  ~std_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    const std::size_t bytes = static_cast<std::size_t>(setup.threads) * region_bytes;
    memory_ = static_cast<std::uint64_t*>(std::aligned_alloc(64, bytes));
    if (memory_ == nullptr) throw std::bad_alloc();
    for (std::size_t i = 0; i < bytes / sizeof(std::uint64_t); ++i) memory_[i] = 0;
    return "volatile memory (aligned_alloc), plain stores, no pool file";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    std::uint64_t* r = memory_ + static_cast<std::size_t>(t) * (region_bytes / 8);
    switch (w) {
      case workload::tx_set8:
        return set_fields<1>(r, ops);
      case workload::tx_set_lines:
        return set_fields<8>(r, ops);
      default:
        throw std::logic_error("std: workload not implemented");
    }
  }

  void finish_run() override {}
  counters read_counters() const override { return {}; }
  void reopen() override {}

  std::uint64_t read_word(int t, std::size_t i) const override {
    return memory_[static_cast<std::size_t>(t) * (region_bytes / 8) + i];
  }

  void close_and_remove() noexcept override {
    std::free(memory_);
    memory_ = nullptr;
  }

 private:
  template <int Lines>
  static void set_fields(std::uint64_t* r, std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      for (int k = 0; k < Lines; ++k) r[k * words_per_line] += 1;
      // Each op really loads and stores its fields: the compiler may not
      // merge the iterations into one addition.
      asm volatile("" : : "r"(r) : "memory");
    }
  }

  std::uint64_t* memory_ = nullptr;
};

}  // namespace

std::unique_ptr<bench_engine> make_std_engine() {
  return std::make_unique<std_engine>();
}

}  // namespace ferrite::bench
