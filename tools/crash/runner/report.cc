#include "tools/crash/runner/report.h"

#include <cstdio>
#include <iomanip>
#include <nlohmann/json.hpp>

namespace ferrite::crash {
namespace {

std::string clock_text(double seconds) {
  const auto s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

double per_minute(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) * 60.0 / seconds : 0.0;
}

}  // namespace

progress_line::progress_line(const tally& t, bool enabled, std::uint64_t planned_runs,
                             double minutes)
    : tally_(t),
      planned_(planned_runs),
      minutes_(minutes),
      start_(std::chrono::steady_clock::now()) {
  if (!enabled) return;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stop_cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stop_; })) {
      draw();
    }
  });
}

progress_line::~progress_line() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void progress_line::draw() {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double fraction = 0;
  if (planned_ > 0) fraction = static_cast<double>(done_.load()) / static_cast<double>(planned_);
  if (minutes_ > 0) fraction = elapsed / (minutes_ * 60);
  fraction = std::min(1.0, fraction);
  constexpr int width = 24;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::string what = tally_.activity();
  if (what.size() > 40) what.resize(40);
  std::fprintf(stderr, "\r\033[K[%s] %3d%%  %-40s states %llu  failures %llu  %s", bar.c_str(),
               static_cast<int>(fraction * 100), what.c_str(),
               static_cast<unsigned long long>(tally_.states()),
               static_cast<unsigned long long>(tally_.failure_count()),
               clock_text(elapsed).c_str());
  std::fflush(stderr);
}

void print_text(std::ostream& out, const campaign_result& r, const campaign_options& o) {
  out << "ferrite-crash: " << (o.mode == campaign_mode::quick ? "quick" : "long")
      << " campaign, seed " << o.seed;
  if (o.mutation != detail::mutation::none) out << ", mutation " << mutation_name(o.mutation);
  out << "\n";
  if (!r.runs.empty() && o.mode == campaign_mode::quick) {
    out << "  power failures (simulated device; process: process-crash points / the images "
           "checked under them):\n";
    out << "    " << std::left << std::setw(34) << "run" << std::right << std::setw(10)
        << "barriers" << std::setw(14) << "crash points" << std::setw(10) << "states"
        << std::setw(12) << "process" << std::setw(10) << "failures" << std::setw(9) << "seconds"
        << "\n";
    for (const run_summary& s : r.runs) {
      out << "    " << std::left << std::setw(34) << s.label << std::right << std::setw(10)
          << s.barriers << std::setw(14) << s.crash_points << std::setw(10) << s.states
          << std::setw(12)
          << (std::to_string(s.process_crash_points) + "/" + std::to_string(s.process_crash_images))
          << std::setw(10) << s.failures << std::setw(9) << std::fixed << std::setprecision(1)
          << s.seconds << "\n";
    }
  }
  if (o.mode == campaign_mode::long_run) {
    out << "  rotation: " << r.cycles << " cycle(s) begun, " << r.runs.size()
        << " power-failure turns of about " << std::fixed << std::setprecision(1) << r.slice_seconds
        << " s; by workload, medium (file: process kills) and kind of turn "
        << "(barriers: explored by power-failure turns; process: images under process "
           "crashes):\n";
    out << "    " << std::left << std::setw(16) << "workload" << std::setw(12) << "medium"
        << std::setw(15) << "kind" << std::right << std::setw(7) << "turns" << std::setw(10)
        << "barriers" << std::setw(10) << "states" << std::setw(10) << "process" << std::setw(10)
        << "failures" << std::setw(9) << "seconds"
        << "\n";
    for (const coverage_entry& c : r.coverage) {
      out << "    " << std::left << std::setw(16) << c.workload << std::setw(12) << c.media
          << std::setw(15) << c.kind << std::right << std::setw(7) << c.turns << std::setw(10)
          << c.barriers << std::setw(10) << c.states << std::setw(10) << c.process_crash_images
          << std::setw(10) << c.failures << std::setw(9) << std::fixed << std::setprecision(1)
          << c.seconds << "\n";
    }
  }
  if (r.process_kills > 0) {
    out << "  process kills: " << r.process_kills << " (" << r.early_kills
        << " before the child's first operation; the children committed " << r.process_operations
        << " operations)\n";
  }
  if (r.copies_complete + r.copies_absent > 0) {
    out << "  killed copies: " << r.copies_complete << " left DST complete, " << r.copies_absent
        << " left no DST (" << r.copies_temporary_left << " left DST.copying)\n";
  }
  if (r.fault_cases > 0) out << "  fault cases: " << r.fault_cases << "\n";
  if (r.process_crash_points > 0) {
    out << "  process crashes then power failures: " << r.process_crash_points
        << " process-crash points, " << r.process_crash_images << " images checked\n";
  }
  out << "states explored: " << r.states;
  if (r.barriers > 0)
    out << "   crash points: " << r.crash_points << " of " << r.barriers << " barriers";
  out << "   failures: " << r.failures << "   time: " << std::fixed << std::setprecision(1)
      << r.seconds << " s (" << std::setprecision(0) << per_minute(r.states, r.seconds)
      << " states/min)\n";
  for (const failure& f : r.failures_list) {
    out << "FAIL " << f.kind << " " << f.workload << " seed " << f.seed << " " << f.media << " at "
        << f.at << ": " << f.what << "\n     reproduce: " << f.repro << "\n";
  }
  if (r.failures > r.failures_list.size()) {
    out << "(" << r.failures - r.failures_list.size()
        << " more failures not shown: at most 3 of a kind, 60 in all)\n";
  }
}

void print_json(std::ostream& out, const campaign_result& r) {
  nlohmann::ordered_json j;
  j["states"] = r.states;
  j["failures"] = r.failures;
  j["failures_list"] = nlohmann::ordered_json::array();
  for (const failure& f : r.failures_list) {
    j["failures_list"].push_back({{"kind", f.kind},
                                  {"workload", f.workload},
                                  {"seed", f.seed},
                                  {"media", f.media},
                                  {"pool_size", f.pool_size},
                                  {"at", f.at},
                                  {"what", f.what},
                                  {"repro", f.repro}});
  }
  j["crash_points"] = r.crash_points;
  j["barriers"] = r.barriers;
  j["process_kills"] = r.process_kills;
  j["process_operations"] = r.process_operations;
  j["early_kills"] = r.early_kills;
  j["fault_cases"] = r.fault_cases;
  j["process_crash_points"] = r.process_crash_points;
  j["process_crash_images"] = r.process_crash_images;
  j["copies_complete"] = r.copies_complete;
  j["copies_absent"] = r.copies_absent;
  j["copies_temporary_left"] = r.copies_temporary_left;
  j["seconds"] = r.seconds;
  j["states_per_minute"] = per_minute(r.states, r.seconds);
  j["runs"] = nlohmann::ordered_json::array();
  for (const run_summary& s : r.runs) {
    j["runs"].push_back({{"run", s.label},
                         {"seed", s.seed},
                         {"first_barrier", s.first_barrier},
                         {"ops_done", s.ops_done},
                         {"ops", s.ops},
                         {"barriers", s.barriers},
                         {"crash_points", s.crash_points},
                         {"states", s.states},
                         {"process_crash_points", s.process_crash_points},
                         {"process_crash_images", s.process_crash_images},
                         {"failures", s.failures},
                         {"seconds", s.seconds}});
  }
  j["coverage"] = nlohmann::ordered_json::array();
  for (const coverage_entry& c : r.coverage) {
    j["coverage"].push_back({{"workload", c.workload},
                             {"media", c.media},
                             {"turns", c.turns},
                             {"kind", c.kind},
                             {"barriers", c.barriers},
                             {"states", c.states},
                             {"process_crash_images", c.process_crash_images},
                             {"failures", c.failures},
                             {"seconds", c.seconds}});
  }
  if (r.cycles > 0) {
    j["cycles"] = r.cycles;
    j["slice_seconds"] = r.slice_seconds;
  }
  out << j.dump(2) << "\n";
}

void print_text(std::ostream& out, const self_test_result& r) {
  out << "ferrite-crash self-test: the unmutated engine, then each mutation (txlog/mutation.h)\n";
  out << "  " << std::left << std::setw(26) << "none (baseline)"
      << (r.baseline_failures == 0 ? "clean" : "FAILURES: " + std::to_string(r.baseline_failures))
      << "\n";
  if (!r.baseline_first_failure.empty()) out << "    " << r.baseline_first_failure << "\n";
  for (const mutation_verdict& m : r.mutations) {
    out << "  " << std::left << std::setw(26) << m.name
        << (m.detected ? "detected" : "NOT DETECTED") << "  (" << m.workload << ", " << m.states
        << " states)\n";
    if (!m.first_failure.empty()) out << "    " << m.first_failure << "\n";
  }
  out << "time: " << std::fixed << std::setprecision(1) << r.seconds << " s\n";
}

void print_json(std::ostream& out, const self_test_result& r) {
  nlohmann::ordered_json j;
  j["mutations"] = nlohmann::ordered_json::array();
  for (const mutation_verdict& m : r.mutations) {
    j["mutations"].push_back({{"name", m.name},
                              {"workload", m.workload},
                              {"detected", m.detected},
                              {"states", m.states},
                              {"first_failure", m.first_failure}});
  }
  j["baseline_failures"] = r.baseline_failures;
  j["seconds"] = r.seconds;
  out << j.dump(2) << "\n";
}

}  // namespace ferrite::crash
