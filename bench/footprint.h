// The footprint workload: private memory of the working view under a
// memory budget (issue 19).
//
// A pool's working view is a MAP_PRIVATE mapping of its file: every page a
// transaction writes becomes a private (anonymous) copy. With
// pool_options::memory_budget the background checkpointer gives back pages
// whose changes are checkpointed, so that the process's anonymous memory
// stays near the budget however much of the pool is written; with
// pool_options::unbounded every written page stays private until close.
//
// One run, on a fresh pool of 8x the budget, one thread, a fixed seed:
//   (a) setup, untimed and unmeasured (bench_engine::open): one object of 6x
//       the budget, 4 KiB-aligned, allocated in one transaction; checkpoint;
//       the pool is closed, so that the measured part starts from a working
//       view with no private page (allocating zero-fills the region through
//       the working view);
//   (b) baseline: the process's anonymous RSS, with the sampler thread
//       running and the check's table allocated, just before the pool opens
//       again (footprint_open);
//   (c) ops = 4x the budget / 4 KiB: each a transaction that snapshots the
//       first 256 bytes of a uniformly random page of the region
//       (mt19937_64, footprint_seed) and rewrites them; then a checkpoint
//       (bench_engine::finish_run), inside the timing as in every ferrite
//       run. ns/op: that wall time / ops. The engine's counters over (c) are
//       divided by ops;
//   (d) the peak: the anonymous RSS sampled every footprint_sample_period
//       from (b) to the end of (c), plus one sample at the end, minus the
//       baseline;
//   (e) check: the pool is closed and reopened; every page holds the stamp
//       (op number + 1) of the last op that wrote it, 0 for the others.
// The anonymous RSS is RssAnon of /proc/self/status: what the kernel counts
// as the process's private memory (private copies of file pages included,
// the page cache and tmpfs pages of the file itself not).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/engine.h"

namespace ferrite::bench {

inline constexpr std::uint64_t footprint_seed = 19;  // issue 19
inline constexpr std::chrono::milliseconds footprint_sample_period{5};

struct footprint_outcome {
  double ns_per_op = 0;
  counters timed;  // the engine's counters over (c)
  // Figures by name: peak_anon_bytes, peak_per_budget, ... (docs/bench.md).
  std::vector<std::pair<std::string, double>> figures;
};

// The process's anonymous resident memory in bytes (RssAnon of
// /proc/self/status), or nullopt when the kernel does not say. Allocates
// nothing.
std::optional<std::uint64_t> anon_rss_bytes() noexcept;

// Runs (b) to (e) on `e`, open()ed for footprint with `budget`; `ops` ops.
// Throws when the engine fails or (e) finds a page that lost its update.
footprint_outcome run_footprint(bench_engine& e, std::uint64_t budget, std::uint64_t ops);

}  // namespace ferrite::bench
