#include "tools/crash/runner/campaign.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <thread>

#include "ferrite/base/media/detail/sim_device.h"
#include "tools/crash/runner/faults.h"
#include "tools/crash/runner/isolate.h"
#include "tools/crash/runner/power_failure.h"
#include "tools/crash/runner/process_kill.h"
#include "tools/crash/runner/report.h"

namespace ferrite::crash {

exploration exploration_for(campaign_mode mode, std::uint64_t pool_size) {
  exploration ex;
  ex.recovery_depth = 2;
  if (mode == campaign_mode::long_run) {
    ex.top = {
        .enumerate_up_to = 10, .prefixes = 16, .suffixes = 16, .all_but_one = 8, .random = 12};
    ex.nested = {.enumerate_up_to = 3, .prefixes = 2, .suffixes = 2, .all_but_one = 1, .random = 2};
    ex.nested_per_point = 3;
    ex.process_crashes = 8;
    ex.after_process_crash = {
        .enumerate_up_to = 8, .prefixes = 6, .suffixes = 6, .all_but_one = 3, .random = 6};
  } else if (pool_size <= (4ull << 20)) {
    ex.top = {.enumerate_up_to = 8, .prefixes = 5, .suffixes = 5, .all_but_one = 3, .random = 3};
    ex.nested = {.enumerate_up_to = 0, .prefixes = 1, .suffixes = 0, .all_but_one = 0, .random = 0};
    ex.nested_per_point = 1;
    ex.process_crashes = 2;
    ex.after_process_crash = {
        .enumerate_up_to = 4, .prefixes = 2, .suffixes = 2, .all_but_one = 1, .random = 2};
  } else {
    ex.top = {.enumerate_up_to = 4, .prefixes = 2, .suffixes = 2, .all_but_one = 1, .random = 1};
    ex.nested = {.enumerate_up_to = 0, .prefixes = 0, .suffixes = 0, .all_but_one = 0, .random = 0};
    ex.nested_per_point = 1;
    ex.process_crashes = 1;
    ex.after_process_crash = {
        .enumerate_up_to = 2, .prefixes = 1, .suffixes = 1, .all_but_one = 0, .random = 1};
  }
  return ex;
}

std::optional<crash_path> crash_path::parse(const std::string& text) {
  crash_path p;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, '/')) {
    const auto colon = item.find(':');
    if (colon == std::string::npos) {  // a point alone: its durable image
      if (item.empty()) return std::nullopt;
      p.steps.push_back({item, "none"});
      continue;
    }
    if (colon == 0 || colon + 1 == item.size()) return std::nullopt;
    p.steps.push_back({item.substr(0, colon), item.substr(colon + 1)});
  }
  if (p.steps.empty()) return std::nullopt;
  return p;
}

std::string crash_path::str() const {
  std::string out;
  for (const step& s : steps) out += (out.empty() ? "" : "/") + s.point + ":" + s.subset;
  return out;
}

namespace {

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes);
}

}  // namespace

std::string run_target::label() const {
  return info->name + "/" + std::string(to_string(media)) + "/" + size_text(pool_size);
}

std::string run_target::repro(const std::string& only, const std::string& at) const {
  std::string cmd = "ferrite-crash --workload " + info->name + " --seed " + std::to_string(seed) +
                    " --media " + std::string(to_string(media)) + " --pool-size " +
                    std::to_string(pool_size) + " --ops " + std::to_string(ops);
  if (mutation != detail::mutation::none) cmd += " --mutation " + mutation_name(mutation);
  if (!only.empty()) cmd += " --only " + only;
  if (!at.empty()) cmd += " --at '" + at + "'";
  return cmd;
}

pool_options run_target::options(std::shared_ptr<sim_device> dev, open_mode m,
                                 bool background) const {
  pool_options o;
  o.mode = m;
  o.device = std::move(dev);
  o.size = pool_size;
  o.log_size = info->log_size;
  // Checkpoints on the committing thread: the barriers of a run come in
  // the same order every time, so a seed and a crash point repeat a run.
  // The workloads that test the background checkpointer turn it on.
  o.background_checkpoint = background && info->background_checkpoint;
  if (info->memory_budget) o.memory_budget = info->memory_budget;
  return o;
}

void tally::add_failure(failure f) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  if (mirror) mirror(event::failure);
  keep_failure(std::move(f));
}

void tally::add_count(const std::string& name, std::uint64_t n) {
  std::lock_guard lk(mu_);
  counts_[name] += n;
}

std::uint64_t tally::count(const std::string& name) const {
  std::lock_guard lk(mu_);
  auto it = counts_.find(name);
  return it == counts_.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t> tally::counts() const {
  std::lock_guard lk(mu_);
  return counts_;
}

void tally::keep_failure(failure f) {
  std::lock_guard lk(mu_);
  std::string kind = f.kind + "/" + f.workload + "/" + f.media + "/";
  for (char c : f.what.substr(0, f.what.find(':'))) {
    kind += std::isdigit(static_cast<unsigned char>(c)) ? '#' : c;
  }
  if (kept_.size() < keep_ && kinds_[kind]++ < per_kind_) kept_.push_back(std::move(f));
}

std::vector<failure> tally::kept_failures() const {
  std::lock_guard lk(mu_);
  return kept_;
}

bool tally::stopping() const {
  if (stop_on_failure && failure_count() > 0) return true;
  return deadline_ && std::chrono::steady_clock::now() >= *deadline_;
}

void tally::set_activity(const std::string& what) {
  std::lock_guard lk(mu_);
  activity_ = what;
}

std::string tally::activity() const {
  std::lock_guard lk(mu_);
  return activity_;
}

std::string mutation_name(detail::mutation m) {
  switch (m) {
    case detail::mutation::none:
      return "none";
    case detail::mutation::drop_commit_fence:
      return "drop_commit_fence";
    case detail::mutation::marker_before_data:
      return "marker_before_data";
    case detail::mutation::skip_checksum:
      return "skip_checksum";
    case detail::mutation::early_checkpoint_lsn:
      return "early_checkpoint_lsn";
    case detail::mutation::release_before_lsn:
      return "release_before_lsn";
    case detail::mutation::apply_before_log_durable:
      return "apply_before_log_durable";
    case detail::mutation::give_back_changed:
      return "give_back_changed";
  }
  return "unknown";
}

std::optional<detail::mutation> mutation_named(const std::string& name) {
  using detail::mutation;
  for (mutation m :
       {mutation::none, mutation::drop_commit_fence, mutation::marker_before_data,
        mutation::skip_checksum, mutation::early_checkpoint_lsn, mutation::release_before_lsn,
        mutation::apply_before_log_durable, mutation::give_back_changed}) {
    if (mutation_name(m) == name) return m;
  }
  return std::nullopt;
}

namespace {

run_target make_target(const workload_info& w, std::uint64_t seed, granularity g,
                       std::uint64_t pool_size, std::uint64_t ops, const campaign_options& o) {
  run_target t;
  t.info = &w;
  t.seed = seed;
  t.media = g;
  t.pool_size = pool_size;
  t.ops = std::max(o.ops.value_or(ops), w.min_ops);
  t.mode = o.mode;
  t.mutation = o.mutation;
  return t;
}

// The simulated runs of one workload in one round: each pool size on each
// medium (as narrowed by --pool-size and --media).
std::vector<run_target> targets_of(const workload_info& w, std::uint64_t seed,
                                   const campaign_options& o) {
  const std::uint64_t ops = o.mode == campaign_mode::quick ? w.quick_ops : w.long_ops;
  std::vector<std::uint64_t> sizes = w.pool_sizes;
  if (o.pool_size) sizes = {*o.pool_size};  // also a size the workload does not list
  std::vector<run_target> out;
  for (std::uint64_t size : sizes) {
    for (granularity g : w.media) {
      if (!o.media || *o.media == g) out.push_back(make_target(w, seed, g, size, ops, o));
    }
  }
  return out;
}

// Restores the engine's mutation switch when the campaign ends.
struct mutation_scope {
  explicit mutation_scope(detail::mutation m) { detail::set_mutation(m); }
  ~mutation_scope() { detail::set_mutation(detail::mutation::none); }
  mutation_scope(const mutation_scope&) = delete;
  mutation_scope& operator=(const mutation_scope&) = delete;
};

}  // namespace

campaign_result run_campaign(const std::vector<const workload_info*>& workloads,
                             const campaign_options& o) {
  const auto start = std::chrono::steady_clock::now();
  const bool quick = o.mode == campaign_mode::quick;
  tally t;
  t.stop_on_failure = o.stop_on_failure;
  if (!quick) {
    t.set_deadline(start + std::chrono::milliseconds(static_cast<std::int64_t>(o.minutes * 60000)));
  }
  const bool sim = o.only.empty() || o.only == "sim";
  const bool kills = (o.only.empty() && !o.at) || o.only == "process";
  const bool faults = (o.only.empty() && !o.at) || o.only == "faults";
  mutation_scope scope(o.mutation);

  campaign_result r;
  const unsigned jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  // Runs planned, for the progress line (--quick), and simulated targets,
  // for the time slice (--long).
  std::uint64_t planned = 0, sim_targets = 0;
  for (const workload_info* w : workloads) {
    if (w->kill_run) {
      planned += kills ? 1 : 0;
      continue;
    }
    if (sim) sim_targets += targets_of(*w, o.seed, o).size();
    planned += (kills ? 1 : 0) + (faults ? w->media.size() : 0);
  }
  planned += sim_targets;
  progress_line progress(t, o.progress, quick ? planned : 0, quick ? 0 : o.minutes);
  // A run whose child process died: the failure names what it was doing.
  auto died = [](const run_target& target, const std::string& kind, const std::string& only) {
    return [target, kind, only](const std::vector<std::string>& doing, const std::string& signal) {
      failure f;
      f.kind = kind;
      f.workload = target.info->name;
      f.seed = target.seed;
      f.media = std::string(to_string(target.media));
      f.pool_size = target.pool_size;
      std::string image;  // the first crash image being checked, for the reproduction
      for (const std::string& d : doing) {
        f.at += (f.at.empty() ? "" : " | ") + d;
        if (image.empty() && d.rfind("run:", 0) != 0) image = d;
      }
      f.what = "the engine crashed (" + signal +
               ") while the runner was at: " + (f.at.empty() ? "?" : f.at);
      f.repro = target.repro(only, only == "sim" ? image : "");
      return f;
    };
  };

  // What each workload and medium got (coverage_entry), in first-run order.
  auto covered = [&](const std::string& workload, const std::string& media,
                     const std::string& kind) -> coverage_entry& {
    for (coverage_entry& c : r.coverage) {
      if (c.workload == workload && c.media == media && c.kind == kind) return c;
    }
    r.coverage.push_back({workload, media, kind});
    return r.coverage.back();
  };
  // Runs `turn` (a child process) and adds what it counted to the
  // coverage of `workload` on `media` in turns of `kind`.
  struct turn_counts {
    std::uint64_t states, crash_points, barriers, failures, kill_points, kill_images;
    std::uint64_t ops_reached, next_barrier, complete;  // a simulated run's (run_reach)
    double seconds;
  };
  auto counted = [&](const std::string& workload, const std::string& media, const std::string& kind,
                     const std::function<void()>& turn) {
    const turn_counts before{t.states(),
                             t.crash_points(),
                             t.barriers(),
                             t.failure_count(),
                             t.count("process_crash_points"),
                             t.count("process_crash_images"),
                             t.count("ops_reached"),
                             t.count("next_barrier"),
                             t.count("complete"),
                             0};
    const auto t0 = std::chrono::steady_clock::now();
    turn();
    const turn_counts d{
        t.states() - before.states,
        t.crash_points() - before.crash_points,
        t.barriers() - before.barriers,
        t.failure_count() - before.failures,
        t.count("process_crash_points") - before.kill_points,
        t.count("process_crash_images") - before.kill_images,
        t.count("ops_reached") - before.ops_reached,
        t.count("next_barrier") - before.next_barrier,
        t.count("complete") - before.complete,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    coverage_entry& c = covered(workload, media, kind);
    c.turns += 1;
    c.barriers += d.barriers;
    c.states += d.states;
    c.process_crash_images += d.kill_images;
    c.failures += d.failures;
    c.seconds += d.seconds;
    progress.advance();
    return d;
  };

  // A turn of power failures on `target` over `window`; its counts, with
  // the operations its run reached (0 when its child died).
  auto sim_turn = [&](const run_target& target, const run_window& window) {
    t.set_activity(target.label() + " power failures");
    exploration ex = exploration_for(o.mode, target.pool_size);
    if (o.process_crashes) ex.process_crashes = *o.process_crashes;
    const turn_counts d =
        counted(target.info->name, std::string(to_string(target.media)), "power-failure", [&] {
          run_isolated(
              t,
              [&](tally& mine) {
                job_queue checkers(jobs, 2 * jobs);
                const run_reach reach =
                    run_power_failures(target, ex, o.at, mine, checkers, window);
                mine.add_count("ops_reached", reach.ops);
                mine.add_count("next_barrier", reach.next_barrier);
                mine.add_count("complete", reach.complete ? 1 : 0);
              },
              died(target, "power-failure", "sim"));
        });
    r.runs.push_back({target.label(), d.states, d.crash_points, d.barriers, d.failures,
                      d.kill_points, d.kill_images, target.seed, window.first_barrier,
                      d.ops_reached, target.ops, d.seconds});
    return d;
  };
  auto kill_turn = [&](const workload_info& w, std::uint64_t seed, std::uint64_t n) {
    t.set_activity(w.name + " process kills");
    const run_target target = make_target(w, seed, granularity::page, w.pool_sizes.front(), 0, o);
    counted(w.name, "file", "process-kill", [&] {
      run_isolated(
          t,
          [&](tally& mine) {
            const kill_counts k =
                w.kill_run ? w.kill_run(seed, n, mine) : run_process_kills(w, seed, n, mine);
            mine.add_count("process_kills", k.kills);
            mine.add_count("process_operations", k.operations);
            mine.add_count("early_kills", k.before_first_op);
          },
          died(target, "process-kill", "process"));
    });
  };
  auto fault_turn = [&](const workload_info& w, granularity g, std::uint64_t seed) {
    t.set_activity(w.name + "/" + std::string(to_string(g)) + " faults");
    // Short runs: every barrier of them is failed in turn.
    const run_target target = make_target(w, seed, g, o.pool_size.value_or(w.pool_sizes.front()),
                                          std::min<std::uint64_t>(w.quick_ops, 8), o);
    counted(w.name, std::string(to_string(g)), "fault", [&] {
      run_isolated(
          t, [&](tally& mine) { mine.add_count("fault_cases", run_faults(target, mine)); },
          died(target, "fault", "faults"));
    });
  };

  if (quick) {
    for (const workload_info* w : workloads) {
      if (sim && !w->kill_run) {
        for (const run_target& target : targets_of(*w, o.seed, o)) {
          if (t.stopping()) break;
          sim_turn(target, {});
        }
      }
      if (kills && !t.stopping()) kill_turn(*w, o.seed, 12);
      if (faults && !w->kill_run) {
        for (granularity g : w->media) {
          if (t.stopping() || (o.media && *o.media != g)) continue;
          fault_turn(*w, g, o.seed);
        }
      }
    }
  } else {
    // The rotation (see run_campaign in campaign.h). Each simulated target
    // keeps its seed and where its run stands between turns.
    struct target_turns {
      run_target target;
      std::uint64_t next_barrier = 0;
    };
    std::vector<std::vector<target_turns>> rotation;  // per workload
    for (const workload_info* w : workloads) {
      rotation.emplace_back();
      if (!sim || w->kill_run) continue;
      for (const run_target& target : targets_of(*w, o.seed, o)) {
        rotation.back().push_back({target, 0});
      }
    }
    const double budget =
        o.minutes * 60 / static_cast<double>(3 * std::max<std::uint64_t>(1, sim_targets));
    r.slice_seconds = std::clamp(budget, 1.0, 60.0);
    const auto slice = std::chrono::milliseconds(static_cast<std::int64_t>(r.slice_seconds * 1000));
    for (std::uint64_t cycle = 0; !t.stopping(); ++cycle) {
      r.cycles = cycle + 1;
      const std::uint64_t seed = o.seed + cycle;  // of the cycle's kills and faults
      for (std::size_t i = 0; i < workloads.size() && !t.stopping(); ++i) {
        const workload_info& w = *workloads[i];
        for (target_turns& tt : rotation[i]) {
          if (t.stopping()) break;
          const turn_counts d =
              sim_turn(tt.target, {tt.next_barrier, std::chrono::steady_clock::now() + slice});
          // A complete run, or one that failed or made no progress (its
          // child died: it would fail again), makes way for the next seed.
          if (d.complete > 0 || d.next_barrier <= tt.next_barrier || d.failures > 0) {
            tt.target.seed += 1;
            tt.next_barrier = 0;
          } else {
            tt.next_barrier = d.next_barrier;
          }
        }
        if (kills && !t.stopping()) kill_turn(w, seed, 12);
        if (faults && !w.kill_run && !t.stopping()) {
          std::vector<granularity> media;  // as narrowed by --media
          for (granularity g : w.media) {
            if (!o.media || *o.media == g) media.push_back(g);
          }
          if (!media.empty()) fault_turn(w, media[cycle % media.size()], seed);
        }
      }
    }
  }
  r.process_kills = t.count("process_kills");
  r.process_operations = t.count("process_operations");
  r.early_kills = t.count("early_kills");
  r.fault_cases = t.count("fault_cases");
  r.process_crash_points = t.count("process_crash_points");
  r.process_crash_images = t.count("process_crash_images");
  r.copies_complete = t.count("copy_complete");
  r.copies_absent = t.count("copy_absent");
  r.copies_temporary_left = t.count("copy_temporary_left");
  r.states = t.states();
  r.crash_points = t.crash_points();
  r.barriers = t.barriers();
  r.failures = t.failure_count();
  r.failures_list = t.kept_failures();
  std::sort(r.failures_list.begin(), r.failures_list.end(),
            [](const failure& a, const failure& b) { return a.repro < b.repro; });
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

self_test_result run_self_test(const std::vector<workload_info>& workloads,
                               const campaign_options& options) {
  const auto start = std::chrono::steady_clock::now();
  using detail::mutation;
  // Each mutation and the workload whose runs must catch it. tx-sizes
  // reaches every kind of barrier of one thread: commits of several sizes on
  // both media, checkpoints (log half full, and close). early-release has a
  // second transaction read what a first one wrote before it is durable.
  // apply_before_log_durable shows only under a process crash at a commit's
  // barrier (image_checker::check_process_crash): quick mode takes two per run.
  // give_back_changed needs the checkpointer thread: budget gives pages back
  // on it while the workload's thread commits (budget-inline, which gives
  // back right after a checkpoint of every record, cannot see it).
  struct mutation_case {
    mutation m;
    const char* workload;
  };
  static constexpr mutation_case cases[] = {
      {mutation::drop_commit_fence, "tx-sizes"},
      {mutation::marker_before_data, "tx-sizes"},
      {mutation::skip_checksum, "tx-sizes"},
      {mutation::early_checkpoint_lsn, "tx-sizes"},
      {mutation::release_before_lsn, "early-release"},
      {mutation::apply_before_log_durable, "tx-sizes"},
      {mutation::give_back_changed, "budget"},
  };
  // The workload named, or (a program's own list without it) the first one.
  auto workload_for = [&](const char* name) -> const workload_info* {
    for (const workload_info& w : workloads) {
      if (w.name == name) return &w;
    }
    return workloads.empty() ? nullptr : &workloads.front();
  };
  campaign_options o = options;
  o.mode = campaign_mode::quick;
  o.only = "sim";
  o.workloads.clear();

  self_test_result r;
  std::vector<const workload_info*> baseline;
  for (const mutation_case& c : cases) {
    const workload_info* w = workload_for(c.workload);
    if (w && std::find(baseline.begin(), baseline.end(), w) == baseline.end()) {
      baseline.push_back(w);
    }
  }
  o.mutation = mutation::none;
  o.stop_on_failure = false;
  campaign_result base = run_campaign(baseline, o);
  r.baseline_failures = base.failures;
  if (!base.failures_list.empty()) r.baseline_first_failure = base.failures_list.front().repro;

  for (const mutation_case& c : cases) {
    const workload_info* w = workload_for(c.workload);
    o.mutation = c.m;
    o.stop_on_failure = true;
    campaign_result run;
    if (w) run = run_campaign({w}, o);
    mutation_verdict v;
    v.name = mutation_name(c.m);
    v.workload = w ? w->name : "";
    v.detected = run.failures > 0;
    v.states = run.states;
    if (!run.failures_list.empty()) {
      v.first_failure =
          run.failures_list.front().what + "  (" + run.failures_list.front().repro + ")";
    }
    r.mutations.push_back(v);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace ferrite::crash
