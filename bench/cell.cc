#include "bench/cell.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>

#include "bench/churn.h"
#include "bench/footprint.h"

namespace ferrite::bench {
namespace {

// Runs `per_thread` ops of `w` on every thread at once; returns the wall
// time in ns from the start signal to the last thread's end (and, when
// `timed`, the engine's finish_run()).
double run_threads(bench_engine& e, workload w, int threads, std::uint64_t per_thread, bool timed) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      try {
        e.run(w, t, per_thread);
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& th : workers) th.join();
  for (const std::exception_ptr& err : errors) {
    if (err) std::rethrow_exception(err);
  }
  if (timed) e.finish_run();
  auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count();
}

// The fields a workload updates must each hold the number of ops that ran
// on their thread, after a close and reopen.
void check_survivors(bench_engine& e, const cell_spec& spec, std::uint64_t per_thread_total) {
  e.reopen();
  if (info(spec.work).container) {
    // map_get's container holds the N keys it was filled with.
    e.check_container(spec.work, spec.work == workload::map_get ? spec.ops : per_thread_total);
    return;
  }
  if (is_transfer(spec.work)) {
    // The account store: every thread's transfers are in its one log.
    e.check_container(spec.work, per_thread_total * static_cast<std::uint64_t>(spec.threads));
    return;
  }
  const int lines = info(spec.work).lines_per_op;
  for (int t = 0; t < spec.threads; ++t) {
    for (int k = 0; k < lines; ++k) {
      std::uint64_t v = e.read_word(t, static_cast<std::size_t>(k) * words_per_line);
      if (v != per_thread_total) {
        throw std::runtime_error("after reopening, field " + std::to_string(k) + " of thread " +
                                 std::to_string(t) + " holds " + std::to_string(v) + ", expected " +
                                 std::to_string(per_thread_total) + ": updates were lost");
      }
    }
  }
}

nlohmann::json optional_json(const std::optional<std::uint64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::optional<std::uint64_t> optional_from(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::uint64_t>();
}

os_sync_counts os_from_json(const nlohmann::json& j) {
  os_sync_counts c;
  c.fsync = j.at("fsync").get<std::uint64_t>();
  c.fdatasync = j.at("fdatasync").get<std::uint64_t>();
  c.msync = j.at("msync").get<std::uint64_t>();
  c.sync_file_range = j.at("sync_file_range").get<std::uint64_t>();
  c.syncfs = j.at("syncfs").get<std::uint64_t>();
  c.sync = j.at("sync").get<std::uint64_t>();
  c.dsync_writes = j.at("dsync_writes").get<std::uint64_t>();
  return c;
}

std::optional<std::uint64_t> plus(const std::optional<std::uint64_t>& a,
                                  const std::optional<std::uint64_t>& b) {
  if (!a || !b) return std::nullopt;
  return *a + *b;
}

}  // namespace

nlohmann::json to_json(const os_sync_counts& c) {
  return {{"fsync", c.fsync},
          {"fdatasync", c.fdatasync},
          {"msync", c.msync},
          {"sync_file_range", c.sync_file_range},
          {"syncfs", c.syncfs},
          {"sync", c.sync},
          {"dsync_writes", c.dsync_writes}};
}

void merge_runs(cell_result& total, const cell_result& more) {
  if (total.ns_per_op_runs.empty()) {
    total.media = more.media;
    total.timed = more.timed;
  } else {
    counters& t = total.timed;
    t.fences = plus(t.fences, more.timed.fences);
    t.syncs = plus(t.syncs, more.timed.syncs);
    t.flushed_lines = plus(t.flushed_lines, more.timed.flushed_lines);
    t.commits = plus(t.commits, more.timed.commits);
    t.commit_syncs = plus(t.commit_syncs, more.timed.commit_syncs);
    t.checkpoints = plus(t.checkpoints, more.timed.checkpoints);
    t.os = t.os + more.timed.os;
  }
  total.process_os = total.process_os + more.process_os;
  total.measured_ops += more.measured_ops;
  for (const auto& [name, values] : more.figures) {
    auto& all = total.figures[name];
    all.insert(all.end(), values.begin(), values.end());
  }
  total.ns_per_op_runs.insert(total.ns_per_op_runs.end(), more.ns_per_op_runs.begin(),
                              more.ns_per_op_runs.end());
  total.spec.runs = static_cast<int>(total.ns_per_op_runs.size());
  total.ns_per_op = median(total.ns_per_op_runs);
}

std::optional<double> cell_result::per_op(const std::optional<std::uint64_t>& counter) const {
  if (!counter || timed_ops() == 0) return std::nullopt;
  return static_cast<double>(*counter) / static_cast<double>(timed_ops());
}

std::optional<double> cell_result::figure(const std::string& name) const {
  auto it = figures.find(name);
  if (it == figures.end() || it->second.empty()) return std::nullopt;
  return median(it->second);
}

std::string variant_name(const cell_spec& s) {
  if (s.work != workload::footprint) return "";
  return s.unbounded ? "unbounded" : "budget";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

cell_result run_cell(const cell_spec& spec) {
  if (spec.threads < 1 || spec.runs < 1 || spec.ops < static_cast<std::uint64_t>(spec.threads)) {
    throw std::invalid_argument("a cell needs threads >= 1, runs >= 1 and ops >= threads");
  }
  const workload_info& wi = info(spec.work);
  if (wi.container && spec.threads != 1) {
    throw std::invalid_argument(std::string(wi.name) + " runs on one thread (one writer)");
  }
  if (wi.from_empty && (spec.runs != 1 || spec.warmup_ops != 0)) {
    throw std::invalid_argument(std::string(wi.name) +
                                " starts from an empty container: one run per process, no "
                                "warm-up");
  }
  if (wi.per_structure == (spec.shape == structure::none)) {
    throw std::invalid_argument(std::string(wi.name) + (wi.per_structure
                                                            ? " needs a structure (hash or ordered)"
                                                            : " has no structure dimension"));
  }
  cell_result r;
  r.spec = spec;
  const auto threads = static_cast<std::uint64_t>(spec.threads);
  const std::uint64_t per_thread = spec.ops / threads;
  const std::uint64_t warmup_per_thread = spec.warmup_ops / threads;

  std::unique_ptr<bench_engine> e = make_engine(spec.engine);
  engine_setup setup;
  setup.mode = spec.mode;
  setup.pool_path = spec.pool_path;
  setup.pool_bytes = spec.pool_bytes;
  setup.threads = spec.threads;
  setup.work = spec.work;
  setup.objects = spec.objects;
  setup.shape = spec.shape;
  if (wi.container) setup.keys = spec.ops;
  setup.budget = spec.budget;
  setup.unbounded = spec.unbounded;
  if (spec.work == workload::footprint && spec.budget == 0) {
    throw std::invalid_argument("footprint needs a memory budget (--budget)");
  }
  try {
    r.media = e->open(setup);
    if (spec.work == workload::churn) {
      churn_outcome c = run_churn(*e, spec.pool_bytes);
      r.ns_per_op_runs.push_back(c.alloc_ns_per_op);
      r.ns_per_op = c.alloc_ns_per_op;
      r.timed = c.churn_counters;
      r.measured_ops = c.churn_ops;
      for (const auto& [name, value] : c.figures) r.figures[name].push_back(value);
      e->reopen();
      e->check_churn(c.objects, c.bytes);
      e->close_and_remove();
      return r;
    }
    if (spec.work == workload::footprint) {
      footprint_outcome f = run_footprint(*e, spec.budget, spec.ops);
      r.ns_per_op_runs.push_back(f.ns_per_op);
      r.ns_per_op = f.ns_per_op;
      r.timed = f.timed;
      for (const auto& [name, value] : f.figures) r.figures[name].push_back(value);
      e->close_and_remove();
      return r;
    }
    if (spec.work == workload::open) {
      for (std::uint64_t i = 0; i < warmup_per_thread; ++i) {
        e->close_for_open();
        run_threads(*e, spec.work, 1, 1, false);
      }
    } else if (warmup_per_thread) {
      run_threads(*e, spec.work, spec.threads, warmup_per_thread, false);
    }
    e->take_figures();  // the warm-up's are not figures
    const counters before = sample_counters(*e);
    for (int run = 0; run < spec.runs; ++run) {
      double ns = 0;
      if (spec.work == workload::open) {
        for (std::uint64_t i = 0; i < per_thread * threads; ++i) {
          e->close_for_open();
          ns += run_threads(*e, spec.work, 1, 1, false);
        }
        for (const auto& [name, value] : e->take_figures()) r.figures[name].push_back(value);
      } else {
        ns = run_threads(*e, spec.work, spec.threads, per_thread, true);
      }
      r.ns_per_op_runs.push_back(ns / static_cast<double>(per_thread * threads));
    }
    r.timed = difference(sample_counters(*e), before);
    r.ns_per_op = median(r.ns_per_op_runs);
    check_survivors(*e, spec,
                    warmup_per_thread + per_thread * static_cast<std::uint64_t>(spec.runs));
  } catch (...) {
    e->close_and_remove();
    throw;
  }
  e->close_and_remove();
  return r;
}

nlohmann::json to_json(const cell_result& r) {
  const cell_spec& s = r.spec;
  nlohmann::json j;
  j["engine"] = s.engine;
  j["workload"] = std::string(info(s.work).name);
  j["mode"] = std::string(to_string(s.mode));
  j["threads"] = s.threads;
  j["ops"] = s.ops;
  j["warmup_ops"] = s.warmup_ops;
  j["runs"] = s.runs;
  j["pool_bytes"] = s.pool_bytes;
  j["pool_path"] = s.pool_path.string();
  j["objects"] = s.objects;
  j["structure"] = std::string(to_string(s.shape));
  j["budget"] = s.budget;
  j["unbounded"] = s.unbounded;
  j["media"] = r.media;
  j["ns_per_op"] = r.ns_per_op;
  j["ns_per_op_runs"] = r.ns_per_op_runs;
  j["fences"] = optional_json(r.timed.fences);
  j["syncs"] = optional_json(r.timed.syncs);
  j["flushed_lines"] = optional_json(r.timed.flushed_lines);
  j["commits"] = optional_json(r.timed.commits);
  j["commit_syncs"] = optional_json(r.timed.commit_syncs);
  j["checkpoints"] = optional_json(r.timed.checkpoints);
  j["os_syncs"] = to_json(r.timed.os);
  j["process_os_syncs"] = to_json(r.process_os);
  j["measured_ops"] = r.measured_ops;
  j["figures"] = r.figures;
  j["error"] = r.error;
  return j;
}

cell_result cell_result_from_json(const nlohmann::json& j) {
  cell_result r;
  cell_spec& s = r.spec;
  s.engine = j.at("engine").get<std::string>();
  const workload_info* w = find_workload(j.at("workload").get<std::string>());
  if (w == nullptr) throw std::runtime_error("unknown workload in a cell result");
  s.work = w->id;
  auto mode = parse_media_mode(j.at("mode").get<std::string>());
  if (!mode) throw std::runtime_error("unknown mode in a cell result");
  s.mode = *mode;
  s.threads = j.at("threads").get<int>();
  s.ops = j.at("ops").get<std::uint64_t>();
  s.warmup_ops = j.at("warmup_ops").get<std::uint64_t>();
  s.runs = j.at("runs").get<int>();
  s.pool_bytes = j.at("pool_bytes").get<std::uint64_t>();
  s.pool_path = j.at("pool_path").get<std::string>();
  s.objects = j.value("objects", std::uint64_t{0});
  auto shape = parse_structure(j.value("structure", std::string("none")));
  if (!shape) throw std::runtime_error("unknown structure in a cell result");
  s.shape = *shape;
  s.budget = j.value("budget", std::uint64_t{0});
  s.unbounded = j.value("unbounded", false);
  r.media = j.at("media").get<std::string>();
  r.ns_per_op = j.at("ns_per_op").get<double>();
  r.ns_per_op_runs = j.at("ns_per_op_runs").get<std::vector<double>>();
  r.timed.fences = optional_from(j.at("fences"));
  r.timed.syncs = optional_from(j.at("syncs"));
  r.timed.flushed_lines = optional_from(j.at("flushed_lines"));
  r.timed.commits = optional_from(j.at("commits"));
  r.timed.commit_syncs = optional_from(j.at("commit_syncs"));
  r.timed.checkpoints = optional_from(j.at("checkpoints"));
  r.timed.os = os_from_json(j.at("os_syncs"));
  r.process_os = os_from_json(j.at("process_os_syncs"));
  r.measured_ops = j.value("measured_ops", std::uint64_t{0});
  if (j.contains("figures")) {
    r.figures = j.at("figures").get<std::map<std::string, std::vector<double>>>();
  }
  r.error = j.at("error").get<std::string>();
  return r;
}

}  // namespace ferrite::bench
