// A cell: one engine running one workload on one media mode with a given
// number of threads, measured over several runs.
//
// How a cell is measured (run_cell):
//   1. the engine creates a fresh pool (pool_bytes) at pool_path;
//   2. warm-up: every thread runs warmup_ops / threads ops, untimed;
//   3. `runs` timed runs: the threads start together, each runs
//      ops / threads ops, then the engine finishes the work it deferred
//      (bench_engine::finish_run: ferrite checkpoints its log); that wall
//      time divided by the ops of all threads is the run's ns/op (the
//      inverse of throughput);
//   4. the engine's counters, and the process's os syncs (every engine's
//      sync requests counted alike, bench/sync_count.h), are read before the
//      first and after the last timed run; their difference divided by
//      runs * ops gives the per-op counters, so occasional work
//      (checkpoints) is amortized;
//   5. the pool is closed and reopened and every updated field must hold
//      the number of ops that updated it (else the cell fails);
//   6. the pool file is removed.
// The open workload differs in step 3: each op is timed alone (the engine
// closes its pool untimed before it, bench_engine::close_for_open), and a
// run's ns/op is the mean of its ops; finish_run is not called.
// The container workloads differ in steps 2, 3 and 5: ops is N, the keys
// of the container; vector_push and map_insert start from an empty
// container, so a cell process runs one timed run and no warm-up (the
// driver runs each run in a process of its own anyway); map_get's container
// is filled with the N keys at open (untimed) and every run looks all of
// them up. Step 5 reads the whole container back
// (bench_engine::check_container).
// transfer and transfer_held (bench/transfer.h) differ in step 5: the
// threads share one account store, and check_container gets every
// transfer the cell committed (warm-up included), checks the balances and
// replays the log.
// churn (bench/churn.h) replaces steps 2 to 5: one run per process on a
// fresh pool, the procedure of bench/churn.h; ns/op is its churn phase's
// time per allocation, the counters are divided by that phase's
// allocations and frees; after the reopen the heap must hold exactly the
// objects of the refill (bench_engine::check_churn).
// footprint (bench/footprint.h) replaces steps 2 to 5 as well: one run per
// process on a fresh pool, opened once for the untimed setup and again for
// the measured part; ns/op is its ops' time (the checkpoint at the end
// included), the counters are divided by its ops, its figures are the peak
// anonymous RSS above the process's before the pool opened, and after the
// reopen every page must hold its last update. The driver runs each cell
// twice, with the memory budget and unbounded (cell_spec::unbounded).
// Figures other than ns/op (churn's fractions; open's open and first
// allocation times apart) are kept per run, and reported as medians.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/catalogue.h"
#include "bench/engine.h"

namespace ferrite::bench {

struct cell_spec {
  std::string engine;
  workload work = workload::tx_set8;
  media_mode mode = media_mode::cacheline;
  int threads = 1;
  std::uint64_t ops = 0;         // per run, all threads together
  std::uint64_t warmup_ops = 0;  // all threads together
  int runs = 1;
  std::uint64_t pool_bytes = 64ull << 20;
  std::filesystem::path pool_path;
  std::uint64_t objects = 0;          // open: objects in the pool (0 for other workloads)
  structure shape = structure::none;  // map_insert, map_get: hash or ordered
  // footprint: the memory budget (bytes) the workload is sized by, and
  // whether this cell's pool runs unbounded instead of with that budget.
  std::uint64_t budget = 0;
  bool unbounded = false;
};

// "budget" or "unbounded" for a footprint cell, "" for any other.
std::string variant_name(const cell_spec& s);

struct cell_result {
  cell_spec spec;
  std::string media;  // how the engine ran, from bench_engine::open
  std::vector<double> ns_per_op_runs;
  double ns_per_op = 0;  // median of ns_per_op_runs
  counters timed;        // counter deltas over all timed runs (os syncs included)
  // The os syncs of the cell processes from start to exit (open, setup,
  // runs, reopen, close): what strace sees, to check the count against.
  os_sync_counts process_os;
  // Ops the counters are divided by when the runs decide them (churn: the
  // allocations and frees of every run's churn phase); 0: from spec.
  std::uint64_t measured_ops = 0;
  // Other figures, by name: one value per run (see cell_figure).
  std::map<std::string, std::vector<double>> figures;
  std::string error;  // non-empty: the cell failed, no figures

  bool ok() const { return error.empty(); }
  // Ops of all timed runs together.
  std::uint64_t timed_ops() const {
    if (measured_ops) return measured_ops;
    return spec.ops / static_cast<std::uint64_t>(spec.threads) *
           static_cast<std::uint64_t>(spec.threads) * static_cast<std::uint64_t>(spec.runs);
  }
  // The median over the runs of figure `name`, or nullopt.
  std::optional<double> figure(const std::string& name) const;
  // counter / timed_ops(), or nullopt.
  std::optional<double> per_op(const std::optional<std::uint64_t>& counter) const;
};

// Runs the cell in this process. Throws on failure.
cell_result run_cell(const cell_spec& spec);

// Adds the runs of `more` (the same cell, measured again) to `total`; the
// median is recomputed.
void merge_runs(cell_result& total, const cell_result& more);

double median(std::vector<double> values);

// The result as exchanged between the driver and a cell process.
nlohmann::json to_json(const cell_result& r);
// The counts by kind (JSON keys as the field names).
nlohmann::json to_json(const os_sync_counts& c);
cell_result cell_result_from_json(const nlohmann::json& j);

}  // namespace ferrite::bench
