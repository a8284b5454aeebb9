// The churn workload: how well a heap reuses what is freed (issue 14).
//
// One run, on a fresh pool, single-threaded, with a fixed seed (the same
// sizes and choices in every run and every engine):
//   (a) fill: allocate log-uniform random sizes in [16, 65536] bytes, each
//       allocation durable on its own (one transaction), until the live
//       bytes reach half the heap;
//   (b) churn: repeat { with probability 1/3 free a random live object
//       (durable on its own), else allocate a new random size } until the
//       first allocation the engine refuses (out_of_space). The figure is
//       live bytes / heap bytes at that moment (live bytes: the sum of the
//       requested sizes of the objects allocated and not freed); the time
//       per allocation of this phase is the cell's ns/op, and the engine's
//       counters over this phase are divided by its allocations and frees;
//   (c) refill: free every live object, then allocate 32 KiB objects until
//       the first refusal: refilled bytes / heap bytes.
// If (a) already meets a refusal, that is the first out_of_space: (b) does
// not run, the ns/op is (a)'s, and figure failed_in_fill is 1.
//
// The heap bytes are the engine's (ferrite: heap_statistics().heap_bytes,
// the pool minus its header and log); an engine that does not say
// (libpmemobj) is measured against its pool file size, reported for both.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/engine.h"

namespace ferrite::bench {

struct churn_outcome {
  double alloc_ns_per_op = 0;   // (b)'s allocations, or (a)'s when (b) did not run
  counters churn_counters;      // the engine's counters over (b) (over (a) if (b) did not run)
  std::uint64_t churn_ops = 0;  // allocations and frees of (b) (of (a) if (b) did not run)
  // Figures by name: live_per_heap, refill_per_heap, ... (docs/bench.md).
  std::vector<std::pair<std::string, double>> figures;
  // What the pool holds when the run ends (after the refill).
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
};

inline constexpr std::uint64_t churn_seed = 42;
inline constexpr std::uint64_t churn_min_size = 16;
inline constexpr std::uint64_t churn_max_size = 65536;
inline constexpr std::uint64_t churn_refill_size = 32 * 1024;

// Runs (a), (b) and (c) on `e`, opened on a fresh pool of `pool_bytes`.
// Throws when the engine fails otherwise than by refusing an allocation.
churn_outcome run_churn(bench_engine& e, std::uint64_t pool_bytes);

}  // namespace ferrite::bench
