// Built-in workloads about the pool's background work (issue 19):
// checkpointer, budget, budget-inline, grow-tx.
//
//   checkpointer   the background checkpointer (workload_info::
//                  background_checkpoint) in the smallest log: commits of
//                  1 byte to 24 KB while the pool's thread checkpoints (a
//                  quarter of the log wakes it), so crash points land
//                  where its barriers interleave with commits.
//   budget         a memory budget of 64 KiB (16 pages, the minimum) with
//                  the checkpointer thread: transactions read-modify-write
//                  counters spread over the 60 pages of the scratch
//                  object, so pages are given back (held, compared,
//                  dropped, read again from the device) while commits
//                  run; a page dropped with bytes the durable view lacks
//                  shows as a wrong counter in memory, in the next
//                  transaction's value and in the recovered image.
//   budget-inline  the same without the thread: checkpoints and give-backs
//                  run on the committing thread (maybe_checkpoint).
//   grow-tx        pool::grow while a second thread runs transactions (the
//                  grow takes the transaction gate: the running one ends
//                  first, the next ones wait), with the checkpointer
//                  thread (the grow holds checkpoints off).
//
// With a second thread writing, the barriers of a run differ from run to
// run: a seed repeats the operations and the states, not the barrier
// numbers, so a printed --at path may name another moment (docs/crash.md,
// "Several threads"): repeat the whole run.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash::builtin {
namespace {

std::uint64_t mix(std::uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t load_word(const std::byte* at) {
  std::uint64_t v;
  std::memcpy(&v, at, 8);
  return v;
}

// checkpointer: each operation is one transaction of 1-3 ranges; the first
// range's size cycles through `sizes`, the others are up to 4 KB; offsets
// are not aligned. With the 256 KiB log a checkpoint runs every few
// operations on the pool's thread, while the next commits go on.
class checkpointer_model final : public region_model {
 public:
  static constexpr std::uint64_t region = 160 * 1024;
  static constexpr std::array<std::uint64_t, 8> sizes = {24000, 1,    9000, 200,
                                                         16000, 4096, 64,   1500};

  explicit checkpointer_model(std::uint64_t seed) : region_model(region), seed_(seed) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<checkpointer_model>(*this);
  }
  void perform(pool& p, std::uint64_t op) const override { perform_writes(p, writes(op)); }
  void apply(std::uint64_t op) override { apply_writes(writes(op)); }
  std::string end_of_run(const pool& p) const override {
    // Committing threads do not checkpoint while the thread runs: every
    // checkpoint before the close is the thread's.
    if (p.stats().checkpoints == 0) return "the background checkpointer never checkpointed";
    return {};
  }

 private:
  std::vector<region_write> writes(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_, op);
    const std::size_t ranges = 1 + rng() % 3;
    std::vector<region_write> out;
    for (std::size_t k = 0; k < ranges; ++k) {
      const std::uint64_t len = k == 0 ? sizes[op % sizes.size()] : 1 + rng() % 4096;
      const std::uint64_t at = counter_bytes + rng() % (region - counter_bytes - len);
      out.push_back({at, random_bytes(rng, len)});
    }
    return out;
  }
  std::uint64_t seed_;
};

// budget, budget-inline: `counters` 8-byte counters, four per 4 KiB of the
// scratch object (60 pages). Operation op is one transaction that reads
// 2 to 13 counters from the pool and writes each one back as
// next(value, op): a counter read from a page given back with stale bytes
// commits a wrong value. Every fourth operation also writes 2 KB next to
// its first counter. The model does the same on its own values.
class budget_model final : public region_model {
 public:
  static constexpr std::uint64_t counters = 232;
  static constexpr std::uint64_t spacing = 1024;
  static constexpr std::uint64_t first = 256;
  static constexpr std::uint64_t block = 2048;
  static_assert(first + (counters - 1) * spacing + 8 + block <= scratch_capacity);

  explicit budget_model(std::uint64_t seed)
      : region_model(first + (counters - 1) * spacing + 8 + block), seed_(seed) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<budget_model>(*this); }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override {
    const plan pl = plan_of(op);
    std::vector<region_write> w;
    for (std::uint64_t c : pl.counters) {
      const std::uint64_t v = next(load_word(bytes_.data() + at(c)), op);
      w.push_back({at(c), std::vector<std::byte>(8)});
      std::memcpy(w.back().data.data(), &v, 8);
      std::memcpy(bytes_.data() + at(c), &v, 8);  // a counter drawn twice reads its new value
    }
    if (pl.block) w.push_back({at(pl.counters.front()) + 8, block_bytes(op)});
    apply_writes(w);
  }
  std::string end_of_run(const pool& p) const override {
    const pool_stats s = p.stats();
    if (s.pages_given_back == 0) {
      return "no page was given back (" + std::to_string(s.give_back_rounds) + " rounds, " +
             std::to_string(s.private_pages) + " private pages, " + std::to_string(s.pages_kept) +
             " kept)";
    }
    return {};
  }

 private:
  struct plan {
    std::vector<std::uint64_t> counters;
    bool block;
  };
  plan plan_of(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_, op);
    plan pl;
    const std::size_t n = 2 + rng() % 12;
    for (std::size_t i = 0; i < n; ++i) pl.counters.push_back(rng() % counters);
    pl.block = op % 4 == 3;
    return pl;
  }
  static std::uint64_t at(std::uint64_t c) { return first + c * spacing; }
  static std::uint64_t next(std::uint64_t v, std::uint64_t op) {
    return v * 6364136223846793005ull + 2 * op + 1;
  }
  std::vector<std::byte> block_bytes(std::uint64_t op) const {
    std::mt19937_64 rng = op_rng(seed_ ^ 0x5bd1e995ull, op);
    return random_bytes(rng, block);
  }
  std::uint64_t seed_;
};

void budget_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  std::byte* r = scratch_for_write(p);
  p.transaction([&] {
    for (std::uint64_t c : pl.counters) {
      auto* w = reinterpret_cast<std::uint64_t*>(r + at(c));
      tx_snapshot(w, 8);
      *w = next(*w, op);  // read from the pool: a stale page gives a wrong value
    }
    if (pl.block) {
      const std::vector<std::byte> b = block_bytes(op);
      std::byte* to = r + at(pl.counters.front()) + 8;
      tx_snapshot(to, block);
      std::memcpy(to, b.data(), block);
    }
    auto* cnt = reinterpret_cast<std::uint64_t*>(r);
    tx_snapshot(cnt, counter_bytes);
    cnt[0] += 1;
    cnt[1] = ~cnt[0];
  });
}

// grow-tx: operation op runs 2-4 transactions on a second thread T while
// the calling thread grows the pool (odd operations, up to max_grows
// times), then records the growths in one transaction of its own.
//
//   words 0, 1   T's transactions so far, c, and ~c
//   word 2       growths recorded, g
//   word 3       the heap size of the new pool (operation 0 records it)
//   entry t      T's transaction t writes entry_len(t) bytes of slot
//                t % slots (8 KiB each) and words 0/1
//
// In an operation that grows, T's first transaction, once its bytes are
// written, waits until the calling thread calls grow, then 1 ms more: the
// grow waits for that transaction to end and holds T's next ones until it
// is done. The grow goes to heap0 + (g + 1) * step
// unless the heap is that large already (a grow a crash left without its
// record, then continued), so the heap size depends on g alone.
// States while an operation runs: the model before it with the first i of
// T's transactions (i <= k), the heap grown or not; then the model after
// it. check() accepts those; invariants(): words 0/1 agree, heap0 + g
// steps <= heap <= one step more, the file at least the heap. An operation
// run again on such a state (continued after a crash) starts after the T
// transactions the pool holds, and its first one there waits for the grow.
class grow_tx_model final : public region_model {
 public:
  static constexpr std::uint64_t entries_at = 64;
  static constexpr std::uint64_t slots = 24;
  static constexpr std::uint64_t slot_bytes = 8192;
  static constexpr std::uint64_t step = 256 * 1024;
  static constexpr std::uint64_t max_grows = 12;
  static_assert(entries_at + slots * slot_bytes <= scratch_capacity);

  explicit grow_tx_model(std::uint64_t seed)
      : region_model(entries_at + slots * slot_bytes), seed_(seed) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<grow_tx_model>(*this);
  }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override {
    for (std::uint64_t i = 0; i < txs(op); ++i) add_entry(bytes_.data(), counter());
    const std::uint64_t g = growths() + (grows(op) ? 1 : 0);
    std::memcpy(bytes_.data() + 16, &g, 8);
    // Word 3: the initial heap size, which only the pool knows; the model
    // takes it from the pool it is checked against (see check()).
    ops_ = op + 1;
  }
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    if (growths() == 0) return "the pool never grew";
    if (concurrent_->load() == 0) return "no grow was called while a transaction ran";
    return {};
  }

 private:
  std::uint64_t counter_of(const std::byte* r) const { return load_word(r); }
  std::uint64_t growths() const { return load_word(bytes_.data() + 16); }
  std::uint64_t txs(std::uint64_t op) const { return 2 + op_rng(seed_, op)() % 3; }
  bool grows(std::uint64_t op) const { return op % 2 == 1 && growths() < max_grows; }
  std::uint64_t entry_len(std::uint64_t t) const { return 8 + mix(seed_ * 31 + t) % 8000; }
  std::uint64_t entry_at(std::uint64_t t) const { return entries_at + (t % slots) * slot_bytes; }
  // Entry t's bytes and the count t + 1, in the model or (in a
  // transaction) in the pool.
  void add_entry(std::byte* r, std::uint64_t t) const {
    const std::uint64_t len = entry_len(t);
    for (std::uint64_t k = 0; k < len; k += 8) {
      const std::uint64_t w = mix(seed_ ^ (t << 20) ^ k);
      std::memcpy(r + entry_at(t) + k, &w, std::min<std::uint64_t>(8, len - k));
    }
    const std::uint64_t c[2] = {t + 1, ~(t + 1)};
    std::memcpy(r, c, sizeof c);
  }

  std::uint64_t seed_;
  std::uint64_t ops_ = 0;  // operations applied: the next one is ops_
  // Grows called while T's transaction ran (evidence), shared by the
  // clones of a run (continuations on recovered images add to it too).
  std::shared_ptr<std::atomic<std::uint64_t>> concurrent_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

void grow_tx_model::perform(pool& p, std::uint64_t op) const {
  std::byte* r = scratch_for_write(p);
  const std::uint64_t k = txs(op);
  const std::uint64_t c = counter();
  // A recovered pool may hold the first of this operation's T transactions
  // already (a crash between them: check() takes that state for the model
  // before the operation). Go on after them, as a program resuming its work
  // would: writing them again would take the count back while the entries
  // after it stay.
  const std::uint64_t n = counter_of(r);
  const std::uint64_t done = n > c && n <= c + k ? n - c : 0;
  const bool grow = grows(op);
  std::atomic<bool> began{false}, growing{false}, ended{false};
  std::exception_ptr t_error;
  std::thread t([&] {
    try {
      for (std::uint64_t i = done; i < k; ++i) {
        p.transaction([&] {
          tx_snapshot(r + entry_at(c + i), entry_len(c + i));
          tx_snapshot(r, counter_bytes);
          add_entry(r, c + i);
          if (i == done && grow) {
            // Running when the grow is called: it waits for this one.
            began.store(true);
            while (!growing.load()) std::this_thread::yield();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        });
      }
    } catch (...) {
      t_error = std::current_exception();
    }
    ended.store(true);
  });
  std::exception_ptr g_error;
  if (grow) {
    try {
      while (!began.load() && !ended.load()) std::this_thread::yield();
      if (began.load()) concurrent_->fetch_add(1);
      growing.store(true);
      const std::uint64_t heap0 = load_word(r + 24);
      const std::uint64_t target = heap0 + (growths() + 1) * step;
      if (p.heap_size() < target) p.grow(p.heap_offset() + target);
    } catch (...) {
      growing.store(true);
      g_error = std::current_exception();
    }
  }
  t.join();
  if (t_error) std::rethrow_exception(t_error);
  if (g_error) std::rethrow_exception(g_error);
  p.transaction([&] {
    auto* h = reinterpret_cast<std::uint64_t*>(r + 16);
    tx_snapshot(h, 16);
    h[0] = growths() + (grows(op) ? 1 : 0);
    if (op == 0) h[1] = p.heap_size();  // no grow yet: the new pool's heap
  });
}

std::string grow_tx_model::check(const pool& p) const {
  const std::byte* r = scratch_region(p);
  // The model knows no heap size: word 3 is the pool's (invariants() checks it).
  std::vector<std::byte> want = bytes_;
  if (ops_ > 0) std::memcpy(want.data() + 24, r + 24, 8);
  const std::uint64_t c = counter(), n = counter_of(r);
  // The model before the next operation, with the first i of its T's
  // transactions (none once the model is the state after it).
  if (n > c && n <= c + txs(ops_)) {
    for (std::uint64_t t = c; t < n; ++t) add_entry(want.data(), t);
  }
  if (std::string d = compare_bytes(r, want, "the scratch region"); !d.empty()) return d;
  const std::uint64_t heap0 = load_word(r + 24);
  if (ops_ > 0 && heap0 == 0) return "operation 0 did not record the heap size";
  if (heap0 != 0) {
    const std::uint64_t at_least = heap0 + growths() * step;
    const std::uint64_t heap = p.heap_size();
    if (heap != at_least && !(grows(ops_) && heap == at_least + step)) {
      return "heap of " + std::to_string(heap) + " bytes after " + std::to_string(growths()) +
             " growths from " + std::to_string(heap0) + " (model: " + std::to_string(at_least) +
             (grows(ops_) ? ", or one step more" : "") + ")";
    }
  }
  return {};
}

std::string grow_tx_model::invariants(const pool& p) const {
  if (std::string c = region_model::invariants(p); !c.empty()) return c;
  const std::byte* r = scratch_region(p);
  const std::uint64_t g = load_word(r + 16), heap0 = load_word(r + 24);
  const std::uint64_t heap = p.heap_size();
  if (heap0 != 0 && (heap < heap0 + g * step || heap > heap0 + (g + 1) * step)) {
    return "heap of " + std::to_string(heap) + " bytes, recorded " + std::to_string(g) +
           " growths from " + std::to_string(heap0);
  }
  if (p.info().file_size < p.heap_offset() + heap) {
    return "the file (" + std::to_string(p.info().file_size) + " bytes) is shorter than the heap";
  }
  return {};
}

}  // namespace

workload_info checkpointer() {
  workload_info w;
  w.name = "checkpointer";
  w.description =
      "the background checkpointer in the smallest log: 1 B to 24 KB commits while the pool's "
      "thread checkpoints (barrier numbers vary between runs)";
  w.make = [](std::uint64_t seed) { return std::make_unique<checkpointer_model>(seed); };
  w.background_checkpoint = true;
  w.quick_ops = 32;
  w.long_ops = 120;
  return w;
}

workload_info budget() {
  workload_info w;
  w.name = "budget";
  w.description =
      "a 64 KiB memory budget with the checkpointer thread: counters over 60 pages read and "
      "rewritten while pages are given back (barrier numbers vary between runs)";
  w.make = [](std::uint64_t seed) { return std::make_unique<budget_model>(seed); };
  w.background_checkpoint = true;
  w.memory_budget = 64 * 1024;
  w.quick_ops = 24;
  w.long_ops = 150;
  w.min_ops = 8;  // fewer give nothing back (the self-test runs 3 under sanitizers)
  return w;
}

workload_info budget_inline() {
  workload_info w = budget();
  w.name = "budget-inline";
  w.description =
      "budget without the checkpointer thread: checkpoints and give-backs on the committing "
      "thread";
  w.background_checkpoint = false;
  w.quick_ops = 16;
  return w;
}

workload_info grow_tx() {
  workload_info w;
  w.name = "grow-tx";
  w.description =
      "pool::grow while a second thread runs transactions, with the checkpointer thread "
      "(barrier numbers vary between runs)";
  w.make = [](std::uint64_t seed) { return std::make_unique<grow_tx_model>(seed); };
  w.background_checkpoint = true;
  w.quick_ops = 10;
  w.long_ops = 40;
  return w;
}

}  // namespace ferrite::crash::builtin
