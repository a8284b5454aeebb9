// Built-in workloads about transactions: counters, tx-sizes, nested-abort.
#include <array>

#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash::builtin {
namespace {

// counters: the workload of tests/txlog_test.cc. Transaction i (op + 1)
// sets word i % 64 to i, adds 1 to word 7i % 64, and every fifth one also
// writes words 40-47. The words follow the counter.
class counters_model final : public region_model {
 public:
  counters_model() : region_model(counter_bytes + 64 * 8) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<counters_model>(*this);
  }
  void perform(pool& p, std::uint64_t op) const override { perform_writes(p, writes(op)); }
  void apply(std::uint64_t op) override { apply_writes(writes(op)); }

 private:
  std::uint64_t word(std::size_t k) const {
    std::uint64_t v;
    std::memcpy(&v, bytes_.data() + counter_bytes + 8 * k, 8);
    return v;
  }
  static region_write word_write(std::size_t k, std::uint64_t v) {
    region_write w{counter_bytes + 8 * k, std::vector<std::byte>(8)};
    std::memcpy(w.data.data(), &v, 8);
    return w;
  }
  std::vector<region_write> writes(std::uint64_t op) const {
    const std::uint64_t i = op + 1;
    std::vector<region_write> out;
    out.push_back(word_write(i % 64, i));
    // Word 7i % 64 may be the one just set: add 1 to its new value.
    const std::uint64_t old = (i * 7) % 64 == i % 64 ? i : word((i * 7) % 64);
    out.push_back(word_write((i * 7) % 64, old + 1));
    if (i % 5 == 0) {
      for (std::size_t j = 0; j < 8; ++j) out.push_back(word_write(40 + j, i + j));
    }
    return out;
  }
};

// tx-sizes: each operation writes 1-3 ranges of random bytes; the first
// range's size cycles through `sizes` so that every size comes up, the
// others are random; offsets are not aligned. Every sixth operation is
// followed by an explicit checkpoint.
class tx_sizes_model final : public region_model {
 public:
  static constexpr std::uint64_t region = 128 * 1024;
  static constexpr std::array<std::uint64_t, 9> sizes = {1,    8,    24,    64,   200,
                                                         1024, 4096, 12000, 40000};

  explicit tx_sizes_model(std::uint64_t seed) : region_model(region), seed_(seed) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<tx_sizes_model>(*this);
  }
  void perform(pool& p, std::uint64_t op) const override {
    perform_writes(p, writes(op));
    if (op % 6 == 5) p.checkpoint();
  }
  void apply(std::uint64_t op) override { apply_writes(writes(op)); }

 private:
  std::vector<region_write> writes(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_, op);
    const std::size_t ranges = 1 + rng() % 3;
    std::vector<region_write> out;
    for (std::size_t k = 0; k < ranges; ++k) {
      const std::uint64_t len = k == 0 ? sizes[op % sizes.size()] : sizes[rng() % 7];
      const std::uint64_t at = counter_bytes + rng() % (region - counter_bytes - len);
      out.push_back({at, random_bytes(rng, len)});
    }
    return out;
  }
  std::uint64_t seed_;
};

// nested-abort: one kind of transaction per operation, in turn. Only
// `nested_commit` and `deep_commit` change the pool; the others must leave
// it (and the working view) exactly as it was.
class nested_abort_model final : public region_model {
 public:
  static constexpr std::uint64_t words = 512;
  enum kind { nested_commit, inner_abort, thrown, poisoned, deep_commit, explicit_abort, kinds };

  explicit nested_abort_model(std::uint64_t seed)
      : region_model(counter_bytes + words * 8), seed_(seed) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<nested_abort_model>(*this);
  }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override {
    const kind k = static_cast<kind>(op % kinds);
    if (k != nested_commit && k != deep_commit) return;
    const plan pl = plan_of(op);
    std::vector<region_write> w;
    for (std::size_t i = 0; i < 3; ++i) {
      w.push_back({offset(pl.word[i]), std::vector<std::byte>(8)});
      std::memcpy(w.back().data.data(), &pl.value[i], 8);
    }
    apply_writes(w);
  }

 private:
  struct plan {
    std::size_t word[3];
    std::uint64_t value[3];
  };
  plan plan_of(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_, op);
    plan pl{};
    for (std::size_t i = 0; i < 3; ++i) {
      pl.word[i] = rng() % (words - 4);
      pl.value[i] = rng();
    }
    return pl;
  }
  static std::uint64_t offset(std::size_t word) { return counter_bytes + 8 * word; }
  std::uint64_t seed_;
};

void nested_abort_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  std::byte* r = scratch_for_write(p);
  auto w = [&](std::size_t i) { return reinterpret_cast<std::uint64_t*>(r + offset(pl.word[i])); };
  auto set = [&](std::size_t i) {
    tx_snapshot(w(i), 8);
    *w(i) = pl.value[i];
  };
  auto bump_counter = [&] {
    auto* c = reinterpret_cast<std::uint64_t*>(r);
    tx_snapshot(c, 16);
    c[0] += 1;
    c[1] = ~c[0];
  };
  const std::string what = "operation " + std::to_string(op);
  switch (static_cast<kind>(op % kinds)) {
    case nested_commit: {
      bool committed = false;
      transaction outer(p);
      outer.on_commit([&] { committed = true; });
      set(0);
      {
        transaction inner(p);
        set(1);
        inner.commit();
      }
      set(2);
      bump_counter();
      outer.commit();
      if (!committed) throw std::logic_error(what + ": on_commit did not run");
      break;
    }
    case inner_abort:
      expect_error(error_code::tx_aborted, what + " (commit after an inner abort)", [&] {
        p.transaction([&] {
          set(0);
          transaction inner(p);
          set(1);
          inner.abort();
        });
      });
      break;
    case thrown:
      try {
        p.transaction([&] {
          set(0);
          set(1);
          bump_counter();
          throw std::runtime_error("thrown on purpose");
        });
        throw std::logic_error(what + ": the exception did not leave pool.transaction");
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) != "thrown on purpose") throw;
      }
      break;
    case poisoned: {
      transaction tx(p);
      set(0);
      expect_error(error_code::invalid_argument, what + " (snapshot outside the heap)",
                   [&] { tx.snapshot(p.base(), 8); });
      expect_error(error_code::tx_aborted, what + " (snapshot in a poisoned transaction)",
                   [&] { tx_snapshot(w(1), 8); });
      expect_error(error_code::tx_aborted, what + " (commit of a poisoned transaction)",
                   [&] { tx.commit(); });
      break;
    }
    case deep_commit:
      p.transaction([&] {
        set(0);
        p.transaction([&] {
          tx_snapshot(w(0), 8);                     // again: costs nothing, changes nothing
          tx_snapshot(r + offset(pl.word[1]), 24);  // overlaps word 1 and beyond
          set(1);
          p.transaction([&] {
            set(2);
            bump_counter();
          });
        });
      });
      break;
    case explicit_abort: {
      bool aborted = false, committed = false;
      transaction tx(p);
      tx.on_abort([&] { aborted = true; });
      tx.on_commit([&] { committed = true; });
      set(0);
      set(2);
      tx.abort();
      if (!aborted || committed) throw std::logic_error(what + ": wrong callbacks after abort");
      break;
    }
    case kinds:
      break;
  }
}

}  // namespace

workload_info counters() {
  workload_info w;
  w.name = "counters";
  w.description = "small transactions of 1-3 words (the change log's own crash test)";
  w.make = [](std::uint64_t) { return std::make_unique<counters_model>(); };
  w.quick_ops = 20;
  w.long_ops = 100;
  return w;
}

workload_info tx_sizes() {
  workload_info w;
  w.name = "tx-sizes";
  w.description = "transactions of 1 byte to 40 KB in 1-3 ranges, explicit checkpoints";
  w.make = [](std::uint64_t seed) { return std::make_unique<tx_sizes_model>(seed); };
  w.quick_ops = 18;
  w.long_ops = 80;
  return w;
}

workload_info nested_abort() {
  workload_info w;
  w.name = "nested-abort";
  w.description = "nested, aborted, poisoned and thrown-out-of transactions";
  w.make = [](std::uint64_t seed) { return std::make_unique<nested_abort_model>(seed); };
  w.quick_ops = 24;
  w.long_ops = 100;
  return w;
}

}  // namespace ferrite::crash::builtin
