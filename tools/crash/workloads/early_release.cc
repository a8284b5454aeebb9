// Built-in workload early-release: transactions that read what an earlier,
// not yet durable transaction wrote (transactions that take locks release
// them early, engine/transaction.h "Transactions that take locks").
//
// The scratch region holds a chain of links in a ring of `ring` cells:
//
//   words 0, 1       the number of links L and its complement
//   cell[j % ring]   link j = h(link j-1, j); link -1 is origin(seed)
//   block[j % ring]  1 KiB derived from link j (so that a link's record
//                    spans several 512-byte sectors: on page media the
//                    crash images can hold one record without its neighbour)
//   lock             a pmutex, past the bytes the model compares (zero is
//                    free; lock state is not data and is never logged)
//
// Operation op runs two threads on the chain, L = 2 op links long:
//   A  transaction tx(pool, lock): reads link L-1 from the pool, writes link
//      L and L+1 in words 0/1, sets a flag (still holding the lock), commits;
//      every sixth operation it then checkpoints, while B commits;
//   B  (the calling thread) waits for the flag, then
//      pool.transaction(fn, lock), which waits for A to release the lock:
//      reads L+1 in words 0/1 and link L from the pool (A's bytes), writes
//      link L+1 and L+2 in words 0/1, commits.
// With early release B takes the lock once A's record has its LSN, while A
// still makes it durable: B reads what A wrote before A is durable, and its
// record comes later in the log, so recovery never replays B without A. A
// transaction that released its lock before its record had an LSN
// (mutation release_before_lsn) lets B commit first, and a crash can keep B's
// link without A's: the invariant below breaks (and with both records,
// replayed in that order, A's count L+1 ends up over B's link L+1).
//
// One operation commits twice: the acceptable states while it runs are the
// model before it, the model before it plus link L (A committed), and the
// model after it. check() accepts the model or the model plus the next link
// (the first of the operation's two commits); invariants() holds in every
// state: words 0/1 agree, each of the last links present (up to `ring`)
// follows from the one before it (a link without its cause is the bug), its
// block matches it, and the cells past the last link are empty. A writes
// link L and the count L+1 as the model says (not one more than the pool
// holds), so an operation run again on a pool that holds A's link (a
// continuation, the next child after a kill) rewrites the same bytes.
//
// end_of_run demands evidence: B's body ran before A's commit had returned
// (A's on_commit callback) at least once in the run. Before early release a
// lock was held until the commit returned, and that never happened.
//
// Determinism: the final model depends only on the seed. The interleaving
// of A and B (who syncs, whether B's commit shares A's sync) changes the
// barriers of a run from one run to the next: `--at` may not reproduce the
// same image.
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash::builtin {
namespace {

class early_release_model final : public region_model {
 public:
  static constexpr std::uint64_t ring = 32;
  static constexpr std::uint64_t block = 1024;
  static constexpr std::uint64_t cells_at = counter_bytes;
  static constexpr std::uint64_t blocks_at = cells_at + ring * 8;
  static constexpr std::uint64_t size = blocks_at + ring * block;
  static constexpr std::uint64_t lock_at = 64 * 1024;  // past the model's bytes
  static_assert(lock_at >= size && lock_at + 8 <= scratch_capacity);

  explicit early_release_model(std::uint64_t seed)
      : region_model(size),
        origin_(mix(seed ^ 0x6a09e667f3bcc909ull) | 1),
        early_reads_(std::make_shared<early_reads>()) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<early_release_model>(*this);
  }

  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t) override {
    const std::uint64_t n = links(bytes_.data());
    add_link(bytes_.data(), n);
    add_link(bytes_.data(), n + 1);
  }
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool& p) const override {
    if (early_reads_->of(p) == 0) {
      return "no transaction ran before the one whose lock it waited for was durable "
             "(the locks were not released early)";
    }
    return {};
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {  // splitmix64's finaliser
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Link j, made from link j-1: never zero.
  static std::uint64_t link_value(std::uint64_t prev, std::uint64_t j) {
    return mix(prev + (j + 1) * 0x9e3779b97f4a7c15ull) | 1;
  }
  static std::uint64_t word(const std::byte* r, std::uint64_t at) {
    std::uint64_t v;
    std::memcpy(&v, r + at, 8);
    return v;
  }
  static std::uint64_t links(const std::byte* r) { return word(r, 0); }
  static std::uint64_t cell_at(std::uint64_t j) { return cells_at + (j % ring) * 8; }
  static std::uint64_t block_at(std::uint64_t j) { return blocks_at + (j % ring) * block; }
  static void fill_block(std::byte* to, std::uint64_t value) {
    for (std::uint64_t k = 0; k < block / 8; ++k) {
      const std::uint64_t w = mix(value + k);
      std::memcpy(to + 8 * k, &w, 8);
    }
  }
  // The value link j must have, given the region's link j-1.
  std::uint64_t expected(const std::byte* r, std::uint64_t j) const {
    return link_value(j == 0 ? origin_ : word(r, cell_at(j - 1)), j);
  }
  // Writes link j (after link j-1 in `r`) and L = j + 1, in the model or, in
  // a transaction, in the pool.
  void add_link(std::byte* r, std::uint64_t j) const {
    const std::uint64_t v = expected(r, j);
    const std::uint64_t count[2] = {j + 1, ~(j + 1)};
    std::memcpy(r + cell_at(j), &v, 8);
    fill_block(r + block_at(j), v);
    std::memcpy(r, count, sizeof count);
  }
  void add_link_in_tx(std::byte* r, std::uint64_t j) const {
    tx_snapshot(r + cell_at(j), 8);
    tx_snapshot(r + block_at(j), block);
    tx_snapshot(r, counter_bytes);
    add_link(r, j);
  }

  // Operations whose B read A's link before A's commit had returned: the
  // evidence of early release, per pool (the run's own pool, not the
  // recovered ones its clones go on with), shared by the clones of a run.
  class early_reads {
   public:
    void count(const pool& p) {
      std::lock_guard lk(mu_);
      ++by_pool_[&p];
    }
    std::uint64_t of(const pool& p) const {
      std::lock_guard lk(mu_);
      auto it = by_pool_.find(&p);
      return it == by_pool_.end() ? 0 : it->second;
    }

   private:
    mutable std::mutex mu_;
    std::map<const pool*, std::uint64_t> by_pool_;  // the run's handle lives all run
  };

  std::uint64_t origin_;
  std::shared_ptr<early_reads> early_reads_;
};

void early_release_model::perform(pool& p, std::uint64_t op) const {
  const std::uint64_t n = links(bytes_.data());
  std::byte* r = scratch_for_write(p);
  pmutex& lock = *reinterpret_cast<pmutex*>(r + lock_at);
  std::atomic<bool> a_wrote{false}, a_ended{false}, a_durable{false};
  std::exception_ptr a_error, b_error;
  std::thread a([&] {
    try {
      transaction tx(p, lock);
      tx.on_commit([&] { a_durable.store(true); });
      add_link_in_tx(r, n);
      a_wrote.store(true);  // B may go for the lock: A holds it until its LSN
      tx.commit();
      // Every sixth operation A checkpoints while B commits.
      if (op % 6 == 5) p.checkpoint();
    } catch (...) {
      a_error = std::current_exception();
    }
    a_ended.store(true);
  });
  while (!a_wrote.load() && !a_ended.load()) std::this_thread::yield();
  if (a_wrote.load()) {
    try {
      p.transaction(
          [&] {
            // Holding the lock A released: A's link must be there.
            if (links(r) != n + 1 || word(r, cell_at(n)) != expected(r, n)) {
              throw std::logic_error("operation " + std::to_string(op) +
                                     ": the second transaction does not see the first one's link "
                                     "although it holds the lock the first one released");
            }
            if (!a_durable.load()) early_reads_->count(p);
            add_link_in_tx(r, n + 1);
          },
          lock);
    } catch (...) {
      b_error = std::current_exception();
    }
  }
  a.join();
  if (a_error) std::rethrow_exception(a_error);
  if (b_error) std::rethrow_exception(b_error);
}

std::string early_release_model::check(const pool& p) const {
  const std::byte* r = scratch_region(p);
  const std::string as_model = compare_bytes(r, bytes_, "the scratch region");
  if (as_model.empty()) return {};
  // The first of the operation's two commits (A's link) on top of the model.
  std::vector<std::byte> plus_one = bytes_;
  add_link(plus_one.data(), links(bytes_.data()));
  const std::string as_plus_one = compare_bytes(r, plus_one, "the scratch region");
  if (as_plus_one.empty()) return {};
  return as_model + "; with one more link: " + as_plus_one;
}

std::string early_release_model::invariants(const pool& p) const {
  if (std::string c = region_model::invariants(p); !c.empty()) return c;
  const std::byte* r = scratch_region(p);
  const std::uint64_t n = links(r);
  if (n > (std::uint64_t{1} << 40)) return "implausible link count " + std::to_string(n);
  std::vector<std::byte> b(block);
  for (std::uint64_t j = n > ring ? n - ring : 0; j < n; ++j) {
    const std::uint64_t v = word(r, cell_at(j));
    // The oldest link in the ring lost its predecessor to the ring.
    if ((n <= ring || j > n - ring) && v != expected(r, j)) {
      const std::string cause = j == 0 ? "the chain's origin" : "link " + std::to_string(j - 1);
      return "link " + std::to_string(j) + " of " + std::to_string(n) +
             (v == 0 ? " is missing" : " does not follow from " + cause) +
             " (a later link without its cause)";
    }
    fill_block(b.data(), v);
    if (std::memcmp(r + block_at(j), b.data(), block) != 0) {
      return "the block of link " + std::to_string(j) + " does not match it";
    }
  }
  for (std::uint64_t j = n; j < ring; ++j) {  // a young chain: the rest of the ring is empty
    if (word(r, cell_at(j)) != 0) {
      return "cell " + std::to_string(j) + " holds a link past the chain's " + std::to_string(n);
    }
  }
  return {};
}

}  // namespace

workload_info early_release() {
  workload_info w;
  w.name = "early-release";
  w.description =
      "two threads per operation: a transaction under a pmutex, then one that waits for the "
      "lock and reads what the first wrote before it is durable";
  w.make = [](std::uint64_t seed) { return std::make_unique<early_release_model>(seed); };
  w.quick_ops = 24;  // 48 links: the ring of 32 wraps
  w.long_ops = 120;
  return w;
}

}  // namespace ferrite::crash::builtin
