// The plain C++ engine: the same updates on volatile memory, with no
// snapshot and no durability. The upper limit every persistent engine is
// compared with; it ignores the media mode.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/engine.h"
#include "bench/keys.h"
#include "bench/transfer.h"

namespace ferrite::bench {
namespace {

struct chase_node {
  chase_node* next;
  std::uint64_t value;
};

// The account store of transfer (bench/transfer.h) in volatile memory.
struct std_account {
  std::mutex lock;
  std::int64_t balance;
  std::uint64_t number;
};

struct std_transfer_log {
  std::mutex lock;
  std::vector<transfer_entry> entries;
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
    if (is_transfer(setup.work)) build_accounts(setup.threads);
    if (info(setup.work).container) return open_container(setup);
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
          delete[] * slot;
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
      case workload::vector_push:
        for (std::uint64_t i = 0; i < ops; ++i) vector_.push_back(vector_.size());
        return;
      case workload::map_insert:
        if (key_cursor_ + ops > keys_.size()) throw std::logic_error("std: more inserts than keys");
        for (std::uint64_t i = 0; i < ops; ++i) {
          const std::uint64_t k = keys_[key_cursor_++];
          if (shape_ == structure::hash) {
            hash_.insert({k, value_of(k)});
          } else {
            tree_.insert({k, value_of(k)});
          }
        }
        return;
      case workload::map_get:
        return shape_ == structure::hash ? lookup(hash_, ops) : lookup(tree_, ops);
      case workload::transfer:
      case workload::transfer_held:  // the same: nothing to commit, the locks go at the end
        return transfer(t, ops);
      default:
        throw std::logic_error("std: workload not implemented");
    }
  }

  void check_container(workload w, std::uint64_t count) override {
    if (is_transfer(w)) {
      std::vector<std::int64_t> balances;
      for (std::uint64_t a = 0; a < transfer_accounts; ++a) {
        balances.push_back(accounts_.at(a)->balance);
      }
      check_transfers("std", transfer_log_.entries, balances, count);
      return;
    }
    if (w == workload::vector_push) {
      if (vector_.size() != count) throw std::runtime_error("std::vector lost elements");
      for (std::uint64_t i = 0; i < count; ++i) {
        if (vector_[i] != i) throw std::runtime_error("std::vector element changed");
      }
      return;
    }
    const std::uint64_t size = shape_ == structure::hash ? hash_.size() : tree_.size();
    if (size != count) throw std::runtime_error("std map holds the wrong number of keys");
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t k = keys_[i];
      const bool ok =
          shape_ == structure::hash ? hash_.at(k) == value_of(k) : tree_.at(k) == value_of(k);
      if (!ok) throw std::runtime_error("std map holds a wrong value");
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
    vector_ = {};
    hash_ = {};
    tree_ = {};
    accounts_.clear();
    transfer_log_.entries = {};
  }

 private:
  // The container workloads (bench/keys.h): std::vector, std::unordered_map
  // or std::map, filled with the keys for map_get.
  std::string open_container(const engine_setup& setup) {
    shape_ = setup.shape;
    keys_ = insert_order(setup.keys);
    if (setup.work == workload::map_get) {
      for (std::uint64_t k : keys_) {
        if (shape_ == structure::hash) {
          hash_.insert({k, value_of(k)});
        } else {
          tree_.insert({k, value_of(k)});
        }
      }
      lookups_ = lookup_order(setup.keys);
    }
    return "volatile memory (aligned_alloc), plain stores, no pool file";
  }

  // ops lookups of present keys, in lookup order from where the last call
  // stopped (wrapping around); each must find its key.
  template <class Map>
  void lookup(const Map& m, std::uint64_t ops) {
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      const auto it = m.find(lookups_[key_cursor_]);
      if (it == m.end()) throw std::runtime_error("std: a present key was not found");
      sum += it->second;
      if (++key_cursor_ == lookups_.size()) key_cursor_ = 0;
    }
    sink_ += sum;
  }

  template <int Lines>
  static void set_fields(std::uint64_t* r, std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      for (int k = 0; k < Lines; ++k) r[k * words_per_line] += 1;
      // Each op really loads and stores its fields: the compiler may not
      // merge the iterations into one addition.
      asm volatile("" : : "r"(r) : "memory");
    }
  }

  // transfer_accounts accounts, each allocated on its own, in an
  // std::unordered_map by number; an empty log; a picker per thread.
  void build_accounts(int threads) {
    for (std::uint64_t a = 0; a < transfer_accounts; ++a) {
      auto acct = std::make_unique<std_account>();
      acct->balance = transfer_initial_balance;
      acct->number = a;
      accounts_.emplace(a, std::move(acct));
    }
    for (int t = 0; t < threads; ++t) pickers_.emplace_back(t);
  }

  // The transfers of bench/transfer.h under std::scoped_lock of the two
  // accounts and the log (the map is only read).
  void transfer(int t, std::uint64_t ops) {
    transfer_picker& pick = pickers_.at(static_cast<std::size_t>(t));
    for (std::uint64_t i = 0; i < ops; ++i) {
      const transfer_pick op = pick.next();
      std_account& from = *accounts_.at(op.from);
      std_account& to = *accounts_.at(op.to);
      std::scoped_lock held(from.lock, to.lock, transfer_log_.lock);
      const std::int64_t amount = from.balance >= op.amount ? op.amount : 0;
      from.balance -= amount;
      to.balance += amount;
      transfer_log_.entries.push_back({op.from, op.to, amount});
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
  structure shape_ = structure::none;
  std::vector<std::uint64_t> vector_;
  std::unordered_map<std::uint64_t, std::uint64_t> hash_;
  std::map<std::uint64_t, std::uint64_t> tree_;
  std::vector<std::uint64_t> keys_;     // insert order
  std::vector<std::uint64_t> lookups_;  // map_get: lookup order
  std::uint64_t key_cursor_ = 0;        // next key of keys_ (insert) or lookups_ (get)
  std::vector<chase_node*> nodes_;
  chase_node* cursor_ = nullptr;
  std::unordered_map<std::uint64_t, std::unique_ptr<std_account>> accounts_;
  std_transfer_log transfer_log_;
  std::vector<transfer_picker> pickers_;  // one per thread
  std::uint64_t sink_ = 0;
};

}  // namespace

std::unique_ptr<bench_engine> make_std_engine() {
  return std::make_unique<std_engine>();
}

}  // namespace ferrite::bench
