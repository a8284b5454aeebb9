// A crash campaign: what ferrite-crash runs, and what it found.
//
// A campaign is a list of runs; each run is one workload, seed, medium and
// pool size driven in one of three ways (docs/crash.md):
//   power failures  power_failure.h: a simulated device, a crash image at
//                   every barrier of the workload and inside recovery;
//   process kills   process_kill.h: a child process on a real file,
//                   SIGKILLed at random moments;
//   faults          faults.h: failing syncs, ENOSPC, a failing mmap, a
//                   transaction too large for the log.
// Every image or state checked counts as one state; every check that does
// not hold is a failure with a one-line reproduction.
//
// Thread-safety: tally is shared by the checker threads; the rest is used
// by the thread that runs the campaign.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ferrite/txlog/mutation.h"
#include "tools/crash/runner/subsets.h"
#include "tools/crash/workload.h"

namespace ferrite::crash {

enum class campaign_mode { quick, long_run };

// How hard the power-failure runs look.
struct exploration {
  subset_budget top;       // at the workload's own barriers
  subset_budget nested;    // at barriers inside recovery
  int recovery_depth = 2;  // crashes inside recovery, inside recovery of that
  // Images per crash point whose recovery is crashed in turn (the first
  // ones: none, all, ...); 0 = every image.
  std::size_t nested_per_point = 2;
  bool continue_after = true;  // continue the workload on recovered images
  // Process crashes (kill -9) per run: barriers where the next process
  // recovers the page cache while the media hold only the durable image,
  // and a power failure strikes inside that recovery
  // (image_checker::check_process_crash). Drawn by the seed: this many
  // phases (an operation, or the close) of the run's ops + 1, one barrier
  // in each.
  std::size_t process_crashes = 0;
  subset_budget after_process_crash;  // at barriers inside that recovery
};

// The exploration of a run: --quick samples fewer subsets on pools over
// 4 MiB (every image there costs several copies of the pool).
exploration exploration_for(campaign_mode mode, std::uint64_t pool_size);

// What to reproduce: the crash point and subset path of a failure
// ("57:prefix:12/1:all", see power_failure.h), as given to --at.
struct crash_path {
  struct step {
    std::string point;   // barrier number, "op<N>" or "end"
    std::string subset;  // a subset name (subsets.h)
  };
  std::vector<step> steps;
  static std::optional<crash_path> parse(const std::string& text);
  std::string str() const;
};

struct failure {
  std::string kind;  // power-failure, process-kill, fault
  std::string workload;
  std::uint64_t seed = 0;
  std::string media;  // cache_line, page, file
  std::uint64_t pool_size = 0;
  std::string at;     // crash point and subset, kill, or fault
  std::string what;   // the check that did not hold
  std::string repro;  // one command line that reproduces it
};

// One run of the campaign, and how to name it in a reproduction.
struct run_target {
  const workload_info* info = nullptr;
  std::uint64_t seed = 1;
  granularity media = granularity::cache_line;
  std::uint64_t pool_size = 2ull << 20;
  std::uint64_t ops = 0;
  campaign_mode mode = campaign_mode::quick;
  detail::mutation mutation = detail::mutation::none;

  std::string label() const;  // "tx-sizes/cache_line/2MiB"
  // ferrite-crash command line that repeats this run (--only, --at added).
  std::string repro(const std::string& only, const std::string& at) const;
  // The pool options of the run's pools: the workload's log size, memory
  // budget and (`background`) its background checkpointer. The checks of
  // recovered images and the fault cases pass background = false: their
  // pools checkpoint (and give pages back) on the committing thread, so
  // that they read their device's durable image while nothing else writes.
  pool_options options(std::shared_ptr<sim_device> dev, open_mode mode,
                       bool background = true) const;
};

class tally {
 public:
  // Keeps the first `keep` failures, at most `per_kind` of each kind (same
  // mode, workload, medium, and message up to its first colon, numbers
  // aside), so that one bug hit a thousand times does not hide another.
  explicit tally(std::size_t keep = 60, std::size_t per_kind = 3)
      : keep_(keep), per_kind_(per_kind) {}
  void count_state(std::uint64_t n = 1) {
    states_.fetch_add(n, std::memory_order_relaxed);
    for (std::uint64_t i = 0; mirror && i < n; ++i) mirror(event::state);
  }
  void count_crash_point() {
    crash_points_.fetch_add(1, std::memory_order_relaxed);
    if (mirror) mirror(event::crash_point);
  }
  void count_barrier() {
    barriers_.fetch_add(1, std::memory_order_relaxed);
    if (mirror) mirror(event::barrier);
  }
  void add_failure(failure f);  // counts it, and keeps it (see above)
  void count_failures(std::uint64_t n) { failures_.fetch_add(n, std::memory_order_relaxed); }
  void keep_failure(failure f);  // keeps it without counting it

  // Named totals of the modes (process kills, fault cases...).
  void add_count(const std::string& name, std::uint64_t n);
  std::uint64_t count(const std::string& name) const;
  std::map<std::string, std::uint64_t> counts() const;

  // Called on every count (isolate.cc: a child reports to its parent).
  enum class event { state, crash_point, barrier, failure };
  std::function<void(event)> mirror;

  std::uint64_t states() const { return states_.load(std::memory_order_relaxed); }
  std::uint64_t crash_points() const { return crash_points_.load(std::memory_order_relaxed); }
  std::uint64_t barriers() const { return barriers_.load(std::memory_order_relaxed); }
  std::uint64_t failure_count() const { return failures_.load(std::memory_order_relaxed); }
  std::vector<failure> kept_failures() const;

  // True once the campaign should wind down: its deadline passed, or
  // (self-test) the first failure was found.
  bool stopping() const;
  void set_deadline(std::chrono::steady_clock::time_point t) { deadline_ = t; }
  void copy_deadline(const tally& other) { deadline_ = other.deadline_; }
  bool stop_on_failure = false;

  // The run being worked on, for the progress line.
  void set_activity(const std::string& what);
  std::string activity() const;

 private:
  std::size_t keep_, per_kind_;
  std::map<std::string, std::size_t> kinds_;  // failures kept per kind
  std::map<std::string, std::uint64_t> counts_;
  std::atomic<std::uint64_t> states_{0}, crash_points_{0}, barriers_{0}, failures_{0};
  mutable std::mutex mu_;
  std::vector<failure> kept_;
  std::string activity_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

struct campaign_options {
  campaign_mode mode = campaign_mode::quick;
  std::vector<std::string> workloads;  // empty: all
  std::uint64_t seed = 1;
  double minutes = 240;  // --long: time bound
  // Reproduction filters (--media, --pool-size, --only, --at, --mutation).
  std::optional<granularity> media;
  std::optional<std::uint64_t> pool_size;
  std::string only;  // "", "sim", "process", "faults"
  std::optional<crash_path> at;
  detail::mutation mutation = detail::mutation::none;
  std::optional<std::uint64_t> ops;  // operations per simulated run (--ops)
  // Process crashes per simulated run (--process-crashes); default: the
  // mode's (exploration_for).
  std::optional<std::size_t> process_crashes;
  bool stop_on_failure = false;  // wind down at the first failure
  unsigned jobs = 0;             // checker threads; 0: one per core
  bool progress = false;         // progress line on stderr
};

struct run_summary {
  std::string label;
  std::uint64_t states = 0, crash_points = 0, barriers = 0, failures = 0;
  std::uint64_t process_crash_points = 0, process_crash_images = 0;
  std::uint64_t seed = 0;
  // The barriers from which it explored (--long: where the target's
  // previous turn stopped), the operations it reached, of `ops`.
  std::uint64_t first_barrier = 0, ops_done = 0, ops = 0;
  double seconds = 0;
};

// What one workload got on one medium ("file" for process kills) in one
// kind of turn (power-failure, process-kill, fault): the turns of --long's
// rotation (or the runs of --quick), the barriers its simulated runs
// explored, and the states checked.
struct coverage_entry {
  std::string workload, media, kind;
  std::uint64_t turns = 0, barriers = 0, states = 0, process_crash_images = 0, failures = 0;
  double seconds = 0;
};

struct campaign_result {
  std::uint64_t states = 0;
  std::uint64_t crash_points = 0;  // barriers where images were taken
  std::uint64_t barriers = 0;      // barriers the workloads went through
  std::uint64_t process_kills = 0;
  std::uint64_t process_operations = 0;  // committed by the killed children
  std::uint64_t early_kills = 0;         // before a child's first operation
  std::uint64_t fault_cases = 0;
  std::uint64_t process_crash_points = 0;  // process crashes whose recovery was checked
  std::uint64_t process_crash_images = 0;  // states checked under them (included in states)
  // Killed copies (workloads/copy.cc) that left DST complete / no DST, and
  // those that left DST.copying behind.
  std::uint64_t copies_complete = 0, copies_absent = 0, copies_temporary_left = 0;
  std::uint64_t failures = 0;
  std::vector<failure> failures_list;  // the first ones
  std::vector<run_summary> runs;
  std::vector<coverage_entry> coverage;  // by workload, then medium
  double slice_seconds = 0;              // --long: the time slice of a turn
  std::uint64_t cycles = 0;              // --long: rotations begun
  double seconds = 0;
};

// Runs the campaign over `workloads` (already filtered by name).
//
// --quick runs each workload once: its simulated runs (every pool size on
// every medium), its process kills, its fault cases.
// --long rotates: a cycle gives every workload, in turn, one turn per
// pool size and medium of power failures, one of process kills (12) and
// one of faults (on one of its media, the next one each cycle). A
// power-failure turn lasts about one time slice (the minutes over three
// times the number of simulated targets, between 1 s and 60 s): it
// explores barriers from where the target's last turn stopped
// (run_window) and, once its run is complete, the next turn of that
// target starts a run with the next seed. Any run of a few minutes thus
// reaches every workload and medium.
campaign_result run_campaign(const std::vector<const workload_info*>& workloads,
                             const campaign_options& options);

struct mutation_verdict {
  std::string name;
  std::string workload;  // the workload run against it
  bool detected = false;
  std::uint64_t states = 0;
  std::string first_failure;  // its reproduction
};

struct self_test_result {
  std::uint64_t baseline_failures = 0;  // the unmutated engine: must be 0
  std::string baseline_first_failure;
  std::vector<mutation_verdict> mutations;
  double seconds = 0;
};

// Runs a small campaign on the unmutated engine, then once per mutation
// (txlog/mutation.h), each until its first failure, each on the workload
// made to catch it (tx-sizes; early-release for release_before_lsn; budget
// for give_back_changed): the baseline runs every workload the mutations
// use.
self_test_result run_self_test(const std::vector<workload_info>& workloads,
                               const campaign_options& options);

std::string mutation_name(detail::mutation m);
std::optional<detail::mutation> mutation_named(const std::string& name);

}  // namespace ferrite::crash
