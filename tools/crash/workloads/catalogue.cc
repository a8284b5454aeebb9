// The catalogue of built-in workloads, and the region model they share.
//
//   counters      small transactions of 1 to 3 words (the change log's own
//                 crash test, tests/txlog_test.cc)
//   tx-sizes      transactions of 1 byte to 40 KB in 1-3 ranges, explicit
//                 checkpoints
//   nested-abort  nested, aborted, poisoned and thrown-out-of transactions
//   early-release two threads per operation on a chain of links: a
//                 transaction under a pmutex, then one that waits for the
//                 lock and reads the first one's link before it is durable
//                 (workloads/early_release.cc)
//   log-wrap      4-24 KB transactions in the smallest log (256 KiB):
//                 wrap-around, wrap markers, checkpoints when the log is
//                 half full
//   log-full      100-200 KB transactions in a 448 KiB log: commits that
//                 wait for log space, and ones too large for it
//   pool-sizes    writes at the start, middle and end of the heap of 4 and
//                 16 MiB pools (default log size)
//   alloc-free    atomic and transactional allocations and frees, aborted
//                 ones, extents; no leak, no double allocation
//   grow          a pool grown every fourth operation, extents in the new
//                 space
//   typed-objects a FERRITE_TYPE root, pool.make objects linked by pptr,
//                 ferrite::string, pool.destroy, aborted transactions
//   vector        ferrite::vector<i64> and vector<string>, a 264 KB extent
//   map-set       ferrite::map and ferrite::set (B+-trees): splits, node
//                 removal, string keys
//   hash-map      ferrite::hash_map<i64,i64> and <string,string>: bucket
//                 splits, new segments, erase by key and iterator
//   gc            pool.gc() over linked nodes, unlinked nodes and garbage
//                 cycles; collections of more than one sweep transaction
//   heap-churn    16 B to 3 MiB objects allocated and freed at random,
//                 everything freed at once, then one object of half the
//                 heap (workloads/heap_churn.cc)
//
//   checkpointer  commits of 1 B to 24 KB while the background
//                 checkpointer thread checkpoints the smallest log
//   budget        a 64 KiB memory budget: counters over 60 pages
//                 read-modify-written while pages are given back (with
//                 the checkpointer thread; budget-inline: without)
//   grow-tx       pool::grow while a second thread runs transactions
//                 (workloads/background.cc)
//
//   values        the dynamic value model: a dict root, every kind of
//                 value, shared lists, cycles (workloads/values.cc)
//   refcount      the same without cycles, plus list clears and moves: every
//                 state has exact reference counts and no leaked object
//
// Pending: the object model as it arrives (docs/crash.md).
#include <algorithm>

#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash {

std::vector<workload_info> builtin_workloads() {
  return {builtin::counters(),      builtin::tx_sizes(),      builtin::nested_abort(),
          builtin::early_release(),  // workloads/early_release.cc
          builtin::log_wrap(),
          builtin::values(),    // workloads/values.cc
          builtin::refcount(),  // workloads/values.cc
          builtin::log_full(),      builtin::pool_sizes(),    builtin::alloc_free(),
          builtin::grow(),          builtin::typed_objects(), builtin::vector(),
          builtin::map_set(),       builtin::hash_map(),      builtin::gc(),
          builtin::heap_churn(),    builtin::copy(),
          builtin::checkpointer(),   // workloads/background.cc
          builtin::budget(),         // workloads/background.cc
          builtin::budget_inline(),  // workloads/background.cc
          builtin::grow_tx()};       // workloads/background.cc
}

namespace builtin {

std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return out;
}

std::string compare_bytes(const std::byte* actual, const std::vector<std::byte>& expected,
                          const std::string& what) {
  if (std::memcmp(actual, expected.data(), expected.size()) == 0) return {};
  std::size_t i = 0;
  while (actual[i] == expected[i]) ++i;
  std::size_t end = i;
  while (end < expected.size() && actual[end] != expected[end]) ++end;
  return what + " differs from byte " + std::to_string(i) + " to " + std::to_string(end) +
         " (pool " + std::to_string(static_cast<unsigned>(actual[i])) + ", model " +
         std::to_string(static_cast<unsigned>(expected[i])) + ")";
}

std::string region_model::check(const pool& p) const {
  return compare_bytes(scratch_region(p), bytes_, "the scratch region");
}

std::string region_model::invariants(const pool& p) const {
  std::uint64_t w[2];
  std::memcpy(w, scratch_region(p), sizeof w);
  if (w[1] != ~w[0] && (w[0] != 0 || w[1] != 0)) {  // both zero: a new pool
    return "operation counter " + std::to_string(w[0]) + " and its complement disagree";
  }
  return {};
}

std::uint64_t region_model::counter() const {
  std::uint64_t c;
  std::memcpy(&c, bytes_.data(), 8);
  return c;
}

void region_model::apply_writes(const std::vector<region_write>& writes) {
  for (const region_write& w : writes) {
    std::memcpy(bytes_.data() + w.offset, w.data.data(), w.data.size());
  }
  const std::uint64_t c[2] = {counter() + 1, ~(counter() + 1)};
  std::memcpy(bytes_.data(), c, sizeof c);
}

void region_model::perform_writes(pool& p, const std::vector<region_write>& writes) {
  std::byte* r = scratch_for_write(p);
  p.transaction([&] {
    for (const region_write& w : writes) {
      tx_snapshot(r + w.offset, w.data.size());
      std::memcpy(r + w.offset, w.data.data(), w.data.size());
    }
    std::uint64_t c[2];
    std::memcpy(c, r, sizeof c);
    tx_snapshot(r, sizeof c);
    c[0] += 1;
    c[1] = ~c[0];
    std::memcpy(r, c, sizeof c);
  });
}

}  // namespace builtin
}  // namespace ferrite::crash
