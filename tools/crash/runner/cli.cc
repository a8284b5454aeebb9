// The ferrite-crash command line (docs/crash.md):
//
//   ferrite-crash [--quick | --long [--minutes M]] [--workload NAME...] [--seed N] [--json]
//   ferrite-crash --self-test [--json]
//   ferrite-crash --list
//
// Reproducing a failure (each failure prints its command line):
//   --media G --pool-size BYTES --ops N --only sim|process|faults --at PATH
//   --mutation NAME
// and --process-crashes N (process-crash points per simulated run).
//
// Exit status: 0 no failure, 1 failures (or a mutation not detected),
// 2 bad arguments.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "tools/crash/runner/campaign.h"
#include "tools/crash/runner/report.h"
#include "tools/crash/workload.h"

namespace ferrite::crash {
namespace {

constexpr int exit_clean = 0;
constexpr int exit_failures = 1;
constexpr int exit_usage = 2;

int usage_error(const std::string& message) {
  std::cerr << "ferrite-crash: " << message << "\n";
  return exit_usage;
}

}  // namespace

int run_cli(int argc, char** argv, const std::vector<workload_info>& workloads) {
  // Crash images are pool-sized buffers, allocated and freed thousands of
  // times a minute: keep them in malloc's heap rather than in fresh
  // mappings that the kernel must fault in and zero every time (the time
  // goes to the kernel otherwise: 30x slower for 16 MiB pools). One arena:
  // per-thread arenas are capped at 64 MiB and give their memory back.
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"ferrite-crash: crash-injection runs of ferrite workloads (docs/crash.md)"};
  bool quick = false, long_run = false, self_test = false, json = false, list = false;
  std::vector<std::string> names;
  std::uint64_t seed = 1;
  double minutes = 240;
  std::string media, only, at, mutation;
  std::uint64_t pool_size = 0, ops = 0;
  std::optional<std::size_t> process_crashes;
  unsigned jobs = 0;
  auto* q = app.add_flag("--quick", quick,
                         "A bounded campaign for CI: every barrier of every workload (default)");
  auto* l = app.add_flag("--long", long_run,
                         "Round after round with new seeds and wider sampling, until --minutes");
  q->excludes(l);
  app.add_flag("--self-test", self_test, "Check that the runner detects each engine mutation")
      ->excludes(q)
      ->excludes(l);
  app.add_flag("--list", list, "List the workloads");
  app.add_option("--workload", names, "Workloads to run (default: all)")->expected(1, -1);
  app.add_option("--seed", seed, "Seed of the first round (default 1)");
  app.add_flag("--json", json, "Print the result as JSON");
  app.add_option("--minutes", minutes, "--long: stop after this many minutes (default 240)")
      ->check(CLI::PositiveNumber);
  app.add_option("--jobs", jobs, "Checker threads (default: one per core)");
  app.add_option("--process-crashes", process_crashes,
                 "Process-crash points per simulated run (default: 2 in --quick, 1 on pools "
                 "over 4 MiB, 8 in --long; 0: none)");
  auto* repro = app.add_option_group("reproduction", "Narrow a run down to one failure");
  repro->add_option("--media", media, "cache_line, page or byte");
  repro->add_option("--pool-size", pool_size, "Pool size in bytes");
  repro->add_option("--ops", ops, "Operations per simulated run");
  repro->add_option("--only", only, "sim, process or faults")
      ->check(CLI::IsMember({"sim", "process", "faults"}));
  repro->add_option("--at", at, "Crash path: POINT:SUBSET[/POINT:SUBSET...]");
  repro->add_option("--mutation", mutation, "Run with an engine mutation (txlog/mutation.h)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? exit_clean : exit_usage;
  }

  if (list) {
    for (const workload_info& w : workloads) {
      std::cout << std::left << std::setw(14) << w.name << " " << w.description
                << (w.pending.empty() ? "" : " [pending: " + w.pending + "]") << "\n";
    }
    return exit_clean;
  }
  campaign_options o;
  o.mode = long_run ? campaign_mode::long_run : campaign_mode::quick;
  o.seed = seed;
  o.minutes = minutes;
  o.jobs = jobs;
  o.only = only;
  o.progress = isatty(STDERR_FILENO) != 0;
  if (!media.empty()) {
    for (granularity g : {granularity::byte, granularity::cache_line, granularity::page}) {
      if (media == to_string(g)) o.media = g;
    }
    if (!o.media) return usage_error("unknown --media '" + media + "' (cache_line, page or byte)");
  }
  if (pool_size) o.pool_size = pool_size;
  if (ops) o.ops = ops;
  o.process_crashes = process_crashes;
  if (!at.empty()) {
    o.at = crash_path::parse(at);
    if (!o.at) return usage_error("bad --at '" + at + "': expected POINT:SUBSET[/POINT:SUBSET...]");
    if (o.only.empty()) o.only = "sim";
  }
  if (!mutation.empty()) {
    auto m = mutation_named(mutation);
    if (!m) return usage_error("unknown --mutation '" + mutation + "'");
    o.mutation = *m;
  }

  if (self_test) {
    self_test_result r = run_self_test(workloads, o);
    if (json) {
      print_json(std::cout, r);
    } else {
      print_text(std::cout, r);
    }
    bool all = r.baseline_failures == 0;
    for (const mutation_verdict& m : r.mutations) all = all && m.detected;
    return all ? exit_clean : exit_failures;
  }

  std::vector<const workload_info*> chosen;
  for (const std::string& n : names) {
    auto it = std::find_if(workloads.begin(), workloads.end(),
                           [&](const workload_info& w) { return w.name == n; });
    if (it == workloads.end()) {
      std::string known;
      for (const workload_info& w : workloads) known += " " + w.name;
      return usage_error("unknown workload '" + n + "'; known:" + known);
    }
    chosen.push_back(&*it);
  }
  if (names.empty()) {
    for (const workload_info& w : workloads) {
      if (w.pending.empty()) {
        chosen.push_back(&w);
      } else {
        std::cerr << "ferrite-crash: skipping pending workload " << w.name << " (" << w.pending
                  << "); --workload " << w.name << " runs it\n";
      }
    }
  }
  campaign_result r = run_campaign(chosen, o);
  if (json) {
    print_json(std::cout, r);
  } else {
    print_text(std::cout, r, o);
  }
  return r.failures == 0 ? exit_clean : exit_failures;
}

}  // namespace ferrite::crash
