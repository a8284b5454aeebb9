// The plain C++ engine: the same updates on volatile memory, with no
// snapshot and no durability. The upper limit every persistent engine is
// compared with; it ignores the media mode.
#include <algorithm>
#include <cstdlib>
#include <new>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "bench/engine.h"

namespace ferrite::bench {
namespace {

struct chase_node {
  chase_node* next;
  std::uint64_t value;
};

class std_engine final : public bench_engine {
 public:
  ~std_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    const std::size_t bytes = static_cast<std::size_t>(setup.threads) * region_bytes;
    memory_ = static_cast<std::uint64_t*>(std::aligned_alloc(64, bytes));
    if (memory_ == nullptr) throw std::bad_alloc();
    for (std::size_t i = 0; i < bytes / sizeof(std::uint64_t); ++i) memory_[i] = 0;
    if (setup.work == workload::chase) build_chase();
    return "volatile memory (aligned_alloc), plain stores, no pool file";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    std::uint64_t* r = memory_ + static_cast<std::size_t>(t) * (region_bytes / 8);
    switch (w) {
      case workload::tx_set8:
        return set_fields<1>(r, ops);
      case workload::tx_set_lines:
        return set_fields<8>(r, ops);
      case workload::tx_alloc64: {
        // new + store into one of 64 slots; the objects stay allocated, as
        // in the persistent engines.
        auto** slots = reinterpret_cast<std::byte**>(r);
        for (std::uint64_t i = 0; i < ops; ++i) {
          slots[i % 64] = new std::byte[64]();
          asm volatile("" : : "r"(slots) : "memory");
        }
        return;
      }
      case workload::tx_alloc_free64:
      case workload::atomic_alloc_free64: {
        auto** slot = reinterpret_cast<std::byte**>(r);
        for (std::uint64_t i = 0; i < ops; ++i) {
          *slot = new std::byte[64]();
          asm volatile("" : : "r"(slot) : "memory");  // no new/delete elision
          delete[] *slot;
          *slot = nullptr;
          asm volatile("" : : "r"(slot) : "memory");
        }
        return;
      }
      case workload::chase: {
        chase_node* p = cursor_;
        std::uint64_t sum = 0;
        for (std::uint64_t i = 0; i < ops; ++i) {
          sum += p->value;
          p = p->next;
        }
        cursor_ = p;
        sink_ += sum;
        return;
      }
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
    for (chase_node* n : nodes_) delete n;
    nodes_.clear();
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

  // Nodes allocated one by one with new, linked in the shuffled order the
  // persistent engines use.
  void build_chase() {
    nodes_.resize(chase_nodes);
    for (chase_node*& n : nodes_) n = new chase_node{};
    std::vector<std::uint64_t> order(chase_nodes);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
    for (std::uint64_t i = 0; i < chase_nodes; ++i) {
      nodes_[order[i]]->next = nodes_[order[(i + 1) % chase_nodes]];
      nodes_[order[i]]->value = i;
    }
    cursor_ = nodes_[order[0]];
  }

  std::uint64_t* memory_ = nullptr;
  std::vector<chase_node*> nodes_;
  chase_node* cursor_ = nullptr;
  std::uint64_t sink_ = 0;
};

}  // namespace

std::unique_ptr<bench_engine> make_std_engine() {
  return std::make_unique<std_engine>();
}

}  // namespace ferrite::bench
