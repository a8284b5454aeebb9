#include "bench/report.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "bench/keys.h"
#include "bench/transfer.h"

namespace ferrite::bench {
namespace {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A figure with enough digits to read at a glance.
std::string figure(std::optional<double> v) {
  if (!v) return "-";
  const double a = std::fabs(*v);
  if (a >= 1000) return format("%.0f", *v);
  if (a >= 100) return format("%.1f", *v);
  if (a >= 1) return format("%.2f", *v);
  return format("%.3f", *v);
}

// Counters per op or per transaction: three decimals, so that a checkpoint
// amortized over a thousand commits still shows.
std::string counter_figure(std::optional<double> v) {
  return v ? format("%.3f", *v) : std::string("-");
}

std::string bytes_text(std::uint64_t b) {
  if (b % (1ull << 20) == 0) return std::to_string(b >> 20) + " MiB";
  return std::to_string(b) + " bytes";
}

std::string pad(const std::string& s, std::size_t width, bool left = false) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return left ? s + fill : fill + s;
}

// A row of a workload's table: its thread count, object count (open) or
// structure (map_insert, map_get).
struct row {
  int threads = 1;
  std::uint64_t objects = 0;
  structure shape = structure::none;
};

row row_of(const cell_spec& s) {
  return {s.threads, s.objects, s.shape};
}

std::string row_label(const row& r) {
  if (r.objects) return std::to_string(r.objects) + " obj";
  if (r.shape != structure::none) return std::string(to_string(r.shape));
  return std::to_string(r.threads);
}

const cell_result* find(const std::vector<cell_result>& results, std::string_view engine,
                        workload w, media_mode m, const row& at) {
  for (const cell_result& r : results) {
    if (r.spec.engine == engine && r.spec.work == w && r.spec.mode == m &&
        r.spec.threads == at.threads && r.spec.objects == at.objects && r.spec.shape == at.shape) {
      return &r;
    }
  }
  return nullptr;
}

// The width of an engine's column: room for "<engine> ns/op".
std::size_t engine_width(const std::string& engine) {
  return std::max<std::size_t>(18, engine.size() + 8);
}

// The os syncs of a cell per op, or nullopt when it failed.
std::optional<double> os_syncs_per_op(const cell_result* r) {
  if (r == nullptr || !r->ok()) return std::nullopt;
  return r->per_op(r->timed.os.total());
}

// "748.8 ±3%": the median and half the spread between the fastest and
// slowest run, relative to the median.
std::string ns_with_spread(const cell_result* r) {
  if (r == nullptr || !r->ok()) return "-";
  std::string text = figure(r->ns_per_op);
  const auto& v = r->ns_per_op_runs;
  if (v.size() < 2 || r->ns_per_op <= 0) return text;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return text + " ±" + format("%.0f", (*hi - *lo) / 2 / r->ns_per_op * 100) + "%";
}

std::optional<double> ns(const cell_result* r) {
  if (r == nullptr || !r->ok()) return std::nullopt;
  return r->ns_per_op;
}

std::optional<double> ratio(const std::vector<cell_result>& results, workload w, media_mode m,
                            const row& at, std::string_view peer = "pmdk") {
  auto f = ns(find(results, "ferrite", w, m, at));
  auto p = ns(find(results, peer, w, m, at));
  if (!f || !p || *p <= 0) return std::nullopt;
  return *f / *p;
}

double target(workload w, media_mode m) {
  return m == media_mode::cacheline ? info(w).target_cacheline : info(w).target_page;
}

// The target a row is judged against: issue 6's on ferrite/pmdk, or one on
// ferrite/std (chase; map_insert hash on cacheline media). 0: none.
struct judged_target {
  double bound = 0;
  bool vs_std = false;
};

judged_target target_of(workload w, media_mode m, const row& at) {
  if (w == workload::chase) return {chase_target_vs_std, true};
  if (w == workload::map_insert && at.shape == structure::hash && m == media_mode::cacheline) {
    return {hash_insert_target_vs_std, true};
  }
  return {target(w, m), false};
}

std::optional<double> per_commit(const cell_result& r, const std::optional<std::uint64_t>& c) {
  if (!c || !r.timed.commits || *r.timed.commits == 0) return std::nullopt;
  return static_cast<double>(*c) / static_cast<double>(*r.timed.commits);
}

nlohmann::ordered_json number_or_null(std::optional<double> v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

std::string csv_field(std::optional<double> v) {
  return v ? format("%.6g", *v) : std::string();
}

// The figures of a cell besides ns/op, medians over its runs, on one line:
// churn's headline first (live/heap at the first out_of_space against issue
// 14's bound, the refill), then every figure by name.
std::string figures_line(const cell_result& r) {
  const std::string variant = variant_name(r.spec);
  std::string line = "  " + pad(r.spec.engine, 8, true) +
                     pad(std::string(to_string(r.spec.mode)), 10, true) +
                     (r.spec.objects ? std::to_string(r.spec.objects) + " obj " : "") +
                     (variant.empty() ? "" : pad(variant, 10, true));
  if (r.spec.work == workload::churn) {
    const auto live = r.figure("live_per_heap");
    const auto refill = r.figure("refill_per_heap");
    if (live) {
      line += "live/heap at the first out_of_space " + format("%.3f", *live) +
              " (issue 14: >= " + format("%.2f", churn_live_target) +
              (*live >= churn_live_target ? ", met)" : ", missed)");
    }
    if (refill) line += ", refill/heap " + format("%.3f", *refill);
    if (live || refill) line += "\n" + std::string(20, ' ');
  }
  bool first = true;
  for (const auto& [name, values] : r.figures) {
    line += (first ? "" : ", ") + name + " " + figure(r.figure(name));
    first = false;
  }
  return line;
}

// The figures lines of workload `w`'s cells, under one heading (none when
// no cell has figures).
void print_figures(std::ostream& out, workload w, const std::vector<cell_result>& results) {
  bool figures = false;
  for (const cell_result& r : results) {
    if (r.spec.work != w || !r.ok() || r.figures.empty()) continue;
    if (!figures) out << "  figures (medians over the runs):\n";
    figures = true;
    out << figures_line(r) << "\n";
  }
}

std::string mib_text(std::optional<double> bytes) {
  return bytes ? format("%.1f MiB", *bytes / (1 << 20)) : std::string("-");
}

// footprint's cell of `engine` on `m`, with the memory budget or unbounded.
const cell_result* find_footprint(const std::vector<cell_result>& results, std::string_view engine,
                                  media_mode m, bool unbounded) {
  for (const cell_result& r : results) {
    if (r.spec.engine == engine && r.spec.work == workload::footprint && r.spec.mode == m &&
        r.spec.unbounded == unbounded) {
      return &r;
    }
  }
  return nullptr;
}

// footprint's table (it has no peers, and two rows per mode: the pool with
// the memory budget and the pool unbounded), then the ratio of their ns/op.
void print_footprint(std::ostream& out, const run_description& d,
                     const std::vector<cell_result>& results) {
  const std::uint64_t budget = d.footprint_budget;
  out << "  budget " << mib_text(static_cast<double>(budget)) << ": pools of "
      << mib_text(static_cast<double>(footprint_pool_bytes(budget))) << ", region "
      << mib_text(static_cast<double>(footprint_region_pages(budget) * footprint_page_bytes))
      << " (" << footprint_region_pages(budget) << " pages), " << footprint_ops(budget)
      << " ops per run; peak anon: RssAnon above the baseline (before the pool opened)\n";
  for (const std::string& e : d.engines) {
    if (!engine_measures(e, workload::footprint, media_mode::cacheline, structure::none)) {
      out << "  " << e << ": n/a (footprint is ferrite-only: no memory budget to measure)\n";
    }
  }
  out << "  " << pad("mode", 10, true) << pad("memory", 10, true) << pad("ferrite ns/op", 16)
      << pad("peak anon", 14) << pad("peak/budget", 13) << pad("target", 10) << pad("end anon", 14)
      << pad("baseline", 14) << pad("fences/op", 11) << pad("syncs/op", 10)
      << pad("checkpoints", 13) << pad("os syncs/op", 13) << "\n";
  for (media_mode m : d.modes) {
    for (bool unbounded : {false, true}) {
      const cell_result* r = find_footprint(results, "ferrite", m, unbounded);
      const bool ok = r != nullptr && r->ok();
      const auto fig = [&](const char* name) { return ok ? r->figure(name) : std::nullopt; };
      const auto peak = fig("peak_per_budget");
      std::string tgt = "-";
      if (!unbounded) {
        tgt = format("%.2f", footprint_rss_target) +
              (peak ? (*peak <= footprint_rss_target ? " ok" : " !") : "");
      }
      out << "  " << pad(std::string(to_string(m)), 10, true)
          << pad(unbounded ? "unbounded" : "budget", 10, true) << pad(ns_with_spread(r), 16)
          << pad(mib_text(fig("peak_anon_bytes")), 14)
          << pad(peak ? format("%.3f", *peak) : "-", 13) << pad(tgt, 10)
          << pad(mib_text(fig("end_anon_bytes")), 14)
          << pad(mib_text(fig("baseline_anon_bytes")), 14)
          << pad(ok ? counter_figure(r->per_op(r->timed.fences)) : "-", 11)
          << pad(ok ? counter_figure(r->per_op(r->timed.syncs)) : "-", 10)
          << pad(ok && r->timed.checkpoints ? std::to_string(*r->timed.checkpoints) : "-", 13)
          << pad(counter_figure(os_syncs_per_op(r)), 13) << "\n";
    }
    const auto b = ns(find_footprint(results, "ferrite", m, false));
    const auto u = ns(find_footprint(results, "ferrite", m, true));
    out << "  " << pad(std::string(to_string(m)), 10, true) << "ns/op budget/unbounded ";
    if (b && u && *u > 0) {
      const double rt = *b / *u;
      out << format("%.3f", rt)
          << " (target <= " << format("%.2f", footprint_ns_target_vs_unbounded)
          << (rt <= footprint_ns_target_vs_unbounded ? ": ok)" : ": !)") << "\n";
    } else {
      out << "-\n";
    }
  }
}

}  // namespace

std::string file_system_name(const std::filesystem::path& dir) {
  struct statfs s {};
  if (statfs(dir.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x01021994:
      return "tmpfs";
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794c7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0x6969:
      return "nfs";
    default:
      return "unknown";
  }
}

void print_setup(std::ostream& out, const run_description& d) {
  out << "ferrite-bench"
      << (d.smoke ? " --smoke (tiny op counts: checks that every cell runs; "
                    "its figures mean nothing)"
                  : "")
      << "\n";
  out << "  engines    ";
  for (std::size_t i = 0; i < d.engines.size(); ++i) {
    const std::string& e = d.engines[i];
    out << (i ? ", " : "") << e
        << (e == "pmdk"              ? " (libpmemobj)"
            : e == "lmdb"            ? " (LMDB, default durability)"
            : e == "lmdb-nometasync" ? " (LMDB, MDB_NOMETASYNC: not fully durable)"
            : e == "sqlite"          ? " (SQLite, WAL, synchronous=FULL)"
            : e == "std"             ? " (volatile C++, no durability)"
            : e == "ferrite-inline"  ? " (checkpoints on the committing threads)"
            : e == "floor" ? " (one durable redo record per op, no engine: the media's floor)"
                           : "");
  }
  out << "\n";
  // --ops matters only to the workloads that are not containers (those
  // count --keys, printed on their own line below) nor footprint (sized by
  // --budget, on its own line too).
  bool by_ops = false;
  for (workload w : d.workloads) {
    by_ops = by_ops || (!info(w).container && w != workload::footprint);
  }
  for (media_mode m : d.modes) {
    if (m == media_mode::cacheline) {
      out << "  cacheline  pools in " << d.cacheline_dir.string() << " ("
          << file_system_name(d.cacheline_dir)
          << "); ferrite: PMEM2_FORCE_GRANULARITY=cacheline (flush + fence); "
             "libpmemobj: PMEM_IS_PMEM_FORCE=1";
      if (by_ops) out << "; " << d.ops_cacheline << " ops per run";
    } else {
      out << "  page       pools in " << d.page_dir.string() << " (" << file_system_name(d.page_dir)
          << "); ferrite: page mode (msync/fdatasync); libpmemobj: PMEM_IS_PMEM_FORCE=0 "
             "(msync); LMDB, SQLite: their own files (page media only)";
      if (by_ops) {
        out << "; " << d.ops_page << " ops per run (std: " << d.ops_cacheline
            << ", it does no I/O)";
      }
    }
    out << "\n";
  }
  out << "  runs       " << d.runs
      << " per cell (engine x workload x mode x threads), interleaved between engines; each "
         "in a new process on a new pool of "
      << bytes_text(d.pool_bytes) << " (removed afterwards), after an untimed warm-up of "
      << d.warmup_percent << "% of the ops (chase: at least one lap of its list)\n";
  out << "  ns/op      median over the runs of (wall time of the run / ops of all threads); "
         "ferrite's time includes a checkpoint at the end of each run\n";
  out << "  threads    ";
  for (std::size_t i = 0; i < d.threads.size(); ++i) out << (i ? ", " : "") << d.threads[i];
  out << "; the ops of a run are divided among them, each updates its own cache lines\n";
  out << "  counters   ferrite's media counters over all timed runs / ops (its checkpoints "
         "included); libpmemobj and std count nothing\n";
  out << "  os syncs   every engine's fsync, fdatasync, msync, sync_file_range, syncfs, sync "
         "calls and O_SYNC/O_DSYNC writes, counted in the cell process (bench/sync_count.h), "
         "over all timed runs / ops\n";
  bool containers = false;
  for (workload w : d.workloads) containers = containers || info(w).container;
  if (containers) {
    out << "  containers vector_push, map_insert, map_get: 1 thread (single-writer containers); N "
           "= "
        << d.keys_cacheline << " keys per run on cacheline media, " << d.keys_page
        << " on page media (every engine, std too); keys: the splitmix64 finalizer of 1..N, "
           "inserted in a shuffled order (mt19937_64 seed 42), looked up in another (seed 43); "
           "vector_push and map_insert: each run starts from an empty container in a new "
           "process (no warm-up), on a pool of "
        << bytes_text(d.pool_bytes)
        << " + 160 bytes per key; map_get: the N keys inserted untimed ("
        << fill_keys_per_transaction
        << " per transaction in ferrite), then N lookups per run; map structures: "
           "hash = ferrite::hash_map / std::unordered_map, ordered = ferrite::map (B+-tree) / "
           "std::map; libpmemobj has no comparable structure (n/a), its vector_push array is "
           "hand-written with its C API; LMDB and SQLite: ordered only (their B-trees), one "
           "transaction per insert or lookup\n";
  }
  if (std::find(d.workloads.begin(), d.workloads.end(), workload::churn) != d.workloads.end()) {
    out << "  churn      ferrite and pmdk, 1 thread, one run per process on a new pool of "
        << bytes_text(d.churn_pool_bytes)
        << "; sizes log-uniform in [16, 65536] bytes (mt19937_64 seed 42), each allocation "
           "and each free durable on its own; fill to half the heap, then 1 op in 3 frees a "
           "random live object, the others allocate, until the first out_of_space; then "
           "everything is freed and 32 KiB objects refill the heap. ns/op: per allocation of "
           "the churn phase; counters: per allocation or free of that phase; live/heap: the "
           "requested bytes live at the first out_of_space / the heap (ferrite: "
           "heap_statistics().heap_bytes; libpmemobj does not say: live/pool only)\n";
  }
  bool transfers = false;
  for (workload w : d.workloads) transfers = transfers || is_transfer(w);
  if (transfers) {
    out << "  transfer   " << transfer_accounts << " accounts of " << transfer_initial_balance
        << " each (set up untimed), the threads sharing them and one log; thread t picks two "
           "distinct accounts and an amount in 1.."
        << transfer_max_amount
        << " (mt19937_64 seed 1000 + t), looks both up in the map, then one transaction "
           "debits, credits (amount 0 if it would overdraw) and appends a log entry, holding "
           "both accounts' locks and the log's: transfer passes them to "
           "pool.transaction(fn, locks...), which releases them once the commit is ordered; "
           "transfer_held holds them (std::scoped_lock) until the commit returns; std: "
           "std::mutex, the same either way; not on libpmemobj (no hash map). transfers/s = "
           "1e9 / ns/op; issue 15 asks for >= "
        << transfer_target_per_second << " on page media with 4 threads\n";
  }
  if (std::find(d.workloads.begin(), d.workloads.end(), workload::footprint) != d.workloads.end()) {
    out << "  footprint  ferrite only, 1 thread; memory budget " << bytes_text(d.footprint_budget)
        << " (--budget); each run twice, each in a new process on a new pool of "
        << bytes_text(footprint_pool_bytes(d.footprint_budget))
        << ": pool_options::memory_budget = the budget, and pool_options::unbounded; a region "
           "of 6x the budget allocated untimed, then the pool closed and opened again; "
        << footprint_ops(d.footprint_budget)
        << " ops (4x the budget / 4 KiB), each a transaction snapshotting and rewriting 256 "
           "bytes at the start of a uniformly random page of the region (mt19937_64 seed 19), "
           "then a checkpoint, timed; peak anon: the largest RssAnon (/proc/self/status, "
           "sampled every 5 ms and once at the end) minus the process's just before the "
           "measured open; targets: peak anon <= 1.1x the budget, ns/op <= 1.5x unbounded's\n";
  }
  if (!d.machine.empty()) out << "  machine    " << d.machine << "\n";
  out << "  check      after the runs each pool is reopened and every field must hold its "
         "op count (containers: every element and key is read back; transfer: the balances "
         "sum to their start, the log has an entry per op and replays to every balance; "
         "footprint: every page of the region holds its last update)\n";
}

void print_tables(std::ostream& out, const run_description& d,
                  const std::vector<cell_result>& results) {
  // How each engine ran, as verified when its pool was opened.
  std::map<std::string, std::string> media;
  for (const cell_result& r : results) {
    if (!r.ok()) continue;
    media.emplace(r.spec.engine + " " + std::string(to_string(r.spec.mode)), r.media);
  }
  out << "\nmedia, as checked at open:\n";
  std::size_t key_width = 18;
  for (const auto& [key, how] : media) key_width = std::max(key_width, key.size() + 2);
  for (const auto& [key, how] : media) out << "  " << pad(key, key_width, true) << how << "\n";

  for (workload w : d.workloads) {
    out << "\n" << info(w).name << ": " << info(w).measures << "\n";
    if (w == workload::footprint) {
      print_footprint(out, d, results);
      print_figures(out, w, results);
      continue;
    }
    // Rows: chase, open and the containers run on one thread; open has one
    // row per object count, map_insert and map_get one per structure.
    std::vector<row> rows;
    if (w == workload::open) {
      for (std::uint64_t n : d.objects) rows.push_back({1, n, structure::none});
    } else if (info(w).per_structure) {
      for (structure shape : d.structures) rows.push_back({1, 0, shape});
    } else if (!info(w).threaded) {
      rows.push_back({});
    } else {
      for (int t : d.threads) rows.push_back({t, 0, structure::none});
    }
    const bool per_structure = info(w).per_structure;
    const std::size_t label_width = per_structure ? 9 : 4;
    std::string head =
        "  " + pad("mode", 10, true) + pad(per_structure ? "structure" : "thr", label_width);
    for (const std::string& e : d.engines) head += pad(e + " ns/op", engine_width(e));
    head += pad("ferrite/pmdk", 14) + pad("ferrite/std", 13) + pad("target", 10) +
            pad("fences/op", 11) + pad("syncs/op", 10) + pad("lines/op", 10);
    out << head << "\n";
    for (media_mode m : d.modes) {
      if (w == workload::chase && m == media_mode::page) continue;  // cacheline only
      for (const row& at : rows) {
        std::string line =
            "  " + pad(std::string(to_string(m)), 10, true) + pad(row_label(at), label_width);
        for (const std::string& e : d.engines) {
          // n/a: a cell the engine cannot measure (engine_measures), not a failure.
          line +=
              pad(!engine_measures(e, w, m, at.shape) ? "n/a"
                                                      : ns_with_spread(find(results, e, w, m, at)),
                  engine_width(e));
        }
        auto rt = ratio(results, w, m, at);
        auto rs = ratio(results, w, m, at, "std");
        line += pad(rt ? format("%.3f", *rt) : "-", 14);
        line += pad(rs ? format("%.2f", *rs) : "-", 13);
        const judged_target tg = target_of(w, m, at);
        const auto& judged = tg.vs_std ? rs : rt;
        std::string tgt = "-";
        if (tg.bound > 0) {
          // (a std::string first: GCC 12 -O3 warns, wrongly, -Wrestrict on
          // const char* + std::string)
          tgt = std::string(tg.vs_std ? "s" : "") + format("%.2f", tg.bound) +
                (judged ? (*judged <= tg.bound ? " ok" : " !") : "");
        }
        line += pad(tgt, 10);
        const cell_result* f = find(results, "ferrite", w, m, at);
        const bool fok = f != nullptr && f->ok();
        line += pad(fok ? counter_figure(f->per_op(f->timed.fences)) : "-", 11);
        line += pad(fok ? counter_figure(f->per_op(f->timed.syncs)) : "-", 10);
        line += pad(fok ? counter_figure(f->per_op(f->timed.flushed_lines)) : "-", 10);
        out << line << "\n";
      }
    }
    // Every engine's syncs, counted alike from outside (bench/sync_count.h).
    std::string os_head = "  " + pad("os syncs/op", 10 + label_width, true);
    for (const std::string& e : d.engines) os_head += pad(e, engine_width(e));
    out << os_head << "\n";
    for (media_mode m : d.modes) {
      if (w == workload::chase && m == media_mode::page) continue;
      for (const row& at : rows) {
        std::string line =
            "  " + pad(std::string(to_string(m)), 10, true) + pad(row_label(at), label_width);
        for (const std::string& e : d.engines) {
          line += pad(!engine_measures(e, w, m, at.shape)
                          ? "n/a"
                          : counter_figure(os_syncs_per_op(find(results, e, w, m, at))),
                      engine_width(e));
        }
        out << line << "\n";
      }
    }
    print_figures(out, w, results);
  }
  out << "\n(ns/op: median of the runs, ± half the spread between the fastest and slowest "
         "run.\n target: issue 6's bound on ferrite/pmdk; \"s\" marks a bound on ferrite/std "
         "(chase: issue 6; map_insert hash on cacheline: the containers issue); \"ok\" met, "
         "\"!\" missed.\n n/a: not measurable on that engine: libpmemobj has no comparable "
         "structure (no hash map or ordered map in its C library); LMDB and SQLite run on page "
         "media only, tx_set8 and the ordered maps (their B-trees). fences, syncs and lines per "
         "op are ferrite's own counters.\n os syncs/op: fsync, fdatasync, msync, "
         "sync_file_range, syncfs and sync calls, and writes on O_SYNC/O_DSYNC descriptors, "
         "counted in each cell process for every engine alike, over the timed runs / ops.)\n";

  // Issue 3 asks for these per committed transaction.
  bool any = false;
  for (const cell_result& r : results) any = any || (r.spec.engine == "ferrite" && r.ok());
  if (any) {
    out << "\nferrite, per committed transaction (timed runs, checkpoints included):\n";
    out << "  " << pad("workload", 20, true) << pad("mode", 10, true) << pad("thr", 4)
        << pad("commits", 10) << pad("fences/tx", 11) << pad("syncs/tx", 10)
        << pad("commit syncs/tx", 17) << pad("checkpoints", 13) << pad("os syncs/tx", 13) << "\n";
    for (const cell_result& r : results) {
      if (r.spec.engine != "ferrite" || !r.ok()) continue;
      std::string name(info(r.spec.work).name);
      if (r.spec.shape != structure::none) name += " " + std::string(to_string(r.spec.shape));
      if (!variant_name(r.spec).empty()) name += " " + variant_name(r.spec);
      out << "  " << pad(name, 20, true) << pad(std::string(to_string(r.spec.mode)), 10, true)
          << pad(std::to_string(r.spec.threads), 4)
          << pad(r.timed.commits ? std::to_string(*r.timed.commits) : "-", 10)
          << pad(counter_figure(per_commit(r, r.timed.fences)), 11)
          << pad(counter_figure(per_commit(r, r.timed.syncs)), 10)
          << pad(counter_figure(per_commit(r, r.timed.commit_syncs)), 17)
          << pad(r.timed.checkpoints ? std::to_string(*r.timed.checkpoints) : "-", 13)
          << pad(counter_figure(per_commit(r, r.timed.os.total())), 13) << "\n";
    }
    out << "  (commit syncs: made by group-commit leaders on page media; the rest are "
           "checkpoint syncs)\n";
  }

  bool failures = false;
  for (const cell_result& r : results) failures = failures || !r.ok();
  if (failures) {
    out << "\nFAILED cells (no figures shown for them):\n";
    for (const cell_result& r : results) {
      if (r.ok()) continue;
      out << "  " << r.spec.engine << " " << info(r.spec.work).name << " "
          << (r.spec.shape != structure::none ? std::string(to_string(r.spec.shape)) + " " : "")
          << (variant_name(r.spec).empty() ? "" : variant_name(r.spec) + " ")
          << to_string(r.spec.mode) << " " << r.spec.threads << " thread(s): " << r.error << "\n";
    }
  }
}

nlohmann::ordered_json results_json(const std::vector<cell_result>& results) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const cell_result& r : results) {
    nlohmann::ordered_json j;
    j["engine"] = r.spec.engine;
    j["workload"] = std::string(info(r.spec.work).name);
    j["mode"] = std::string(to_string(r.spec.mode));
    j["threads"] = r.spec.threads;
    j["ops"] = r.spec.ops;
    if (r.spec.work == workload::open) j["objects"] = r.spec.objects;
    if (r.spec.shape != structure::none) j["structure"] = std::string(to_string(r.spec.shape));
    if (r.spec.work == workload::footprint) {
      j["budget_bytes"] = r.spec.budget;
      j["memory_budget"] = r.spec.unbounded ? nlohmann::ordered_json("unbounded")
                                            : nlohmann::ordered_json(r.spec.budget);
    }
    const bool ok = r.ok();
    j["ns_per_op"] = ok ? nlohmann::ordered_json(r.ns_per_op) : nlohmann::ordered_json(nullptr);
    j["fences_per_op"] = number_or_null(ok ? r.per_op(r.timed.fences) : std::nullopt);
    j["syncs_per_op"] = number_or_null(ok ? r.per_op(r.timed.syncs) : std::nullopt);
    j["flushed_lines_per_op"] = number_or_null(ok ? r.per_op(r.timed.flushed_lines) : std::nullopt);
    j["commit_syncs_per_op"] = number_or_null(ok ? r.per_op(r.timed.commit_syncs) : std::nullopt);
    j["checkpoints_per_op"] = number_or_null(ok ? r.per_op(r.timed.checkpoints) : std::nullopt);
    j["os_syncs_per_op"] = number_or_null(ok ? r.per_op(r.timed.os.total()) : std::nullopt);
    j["os_syncs"] = ok ? to_json(r.timed.os) : nlohmann::json(nullptr);
    j["runs"] = r.spec.runs;
    j["ns_per_op_runs"] = r.ns_per_op_runs;
    j["warmup_ops"] = r.spec.warmup_ops;
    j["pool_bytes"] = r.spec.pool_bytes;
    j["media"] = r.media;
    if (!r.figures.empty()) {
      nlohmann::ordered_json figures = nlohmann::ordered_json::object();
      for (const auto& [name, values] : r.figures) {
        figures[name] = number_or_null(ok ? r.figure(name) : std::nullopt);
      }
      j["figures"] = std::move(figures);
      j["figures_runs"] = r.figures;
    }
    if (r.measured_ops) j["counted_ops"] = r.measured_ops;
    j["error"] = ok ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.error);
    list.push_back(std::move(j));
  }
  return list;
}

void write_csv(const std::filesystem::path& file, const std::vector<cell_result>& results) {
  std::ofstream out(file);
  if (!out) throw std::runtime_error("cannot write the CSV file " + file.string());
  out << "engine,workload,structure,mode,threads,ops,runs,ns_per_op,fences_per_op,syncs_per_op,"
         "flushed_lines_per_op,os_syncs_per_op,error,memory_budget\n";
  for (const cell_result& r : results) {
    const bool ok = r.ok();
    std::string error = r.error;
    for (char& c : error) {
      if (c == '"') c = '\'';
    }
    out << r.spec.engine << "," << info(r.spec.work).name << ","
        << (r.spec.shape != structure::none ? to_string(r.spec.shape) : "") << ","
        << to_string(r.spec.mode) << "," << r.spec.threads << "," << r.spec.ops << ","
        << r.spec.runs << "," << (ok ? format("%.6g", r.ns_per_op) : "") << ","
        << csv_field(ok ? r.per_op(r.timed.fences) : std::nullopt) << ","
        << csv_field(ok ? r.per_op(r.timed.syncs) : std::nullopt) << ","
        << csv_field(ok ? r.per_op(r.timed.flushed_lines) : std::nullopt) << ","
        << csv_field(ok ? r.per_op(r.timed.os.total()) : std::nullopt) << ",\"" << error << "\","
        << (r.spec.work != workload::footprint ? ""
            : r.spec.unbounded                 ? "unbounded"
                                               : std::to_string(r.spec.budget))
        << "\n";
  }
  if (!out.flush()) throw std::runtime_error("writing the CSV file " + file.string() + " failed");
}

void write_chart(const std::filesystem::path& file, const std::vector<cell_result>& results) {
  // One bar per (workload, mode, threads) measured with both engines.
  std::ostringstream data;
  int bars = 0;
  for (const cell_result& r : results) {
    if (r.spec.engine != "ferrite") continue;
    auto rt = ratio(results, r.spec.work, r.spec.mode, row_of(r.spec));
    if (!rt) continue;
    const double tg = target(r.spec.work, r.spec.mode);
    data << "\"" << info(r.spec.work).name << " " << to_string(r.spec.mode) << " " << r.spec.threads
         << "t\" " << format("%.4f", *rt) << " " << (tg > 0 ? format("%.2f", tg) : "-") << "\n";
    ++bars;
  }
  if (bars == 0) {
    throw std::runtime_error(
        "--chart: no cell was measured with both ferrite and pmdk, so "
        "there is no ratio to draw");
  }
  bool found = false;
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string dir;
    while (!found && std::getline(dirs, dir, ':')) {
      found =
          access((std::filesystem::path(dir.empty() ? "." : dir) / "gnuplot").c_str(), X_OK) == 0;
    }
  }
  if (!found) {
    throw std::runtime_error(
        "--chart needs gnuplot, which is not on PATH (Debian: apt-get "
        "install gnuplot-nox); the results above are complete without it");
  }
  std::string out_name = file.string();
  std::string quoted;
  for (char c : out_name) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  const bool svg = file.extension() == ".svg";
  std::ostringstream script;
  script << (svg ? "set terminal svg size 1100,560 dynamic\n"
                 : "set terminal pngcairo size 1100,560\n")
         << "set output '" << quoted << "'\n"
         << "set title 'ferrite-bench: time per op, ferrite / libpmemobj, same run "
            "(below 1: ferrite is faster)'\n"
         << "set ylabel 'ferrite ns/op / libpmemobj ns/op'\nset title noenhanced\n"
         << "set style fill solid 0.5 border -1\nset boxwidth 0.6\nset yrange [0:*]\n"
         << "set grid ytics\nset key outside top center horizontal\nset datafile missing '-'\n"
         << "set xtics rotate by -30 left noenhanced\nset bmargin 8\nset rmargin 10\n"
         << "set offsets 0.5, 0.5, 0.1, 0\n"
         << "$ratios << EOD\n"
         << data.str() << "EOD\n"
         << "plot $ratios using 0:2:xtic(1) with boxes lc rgb '#4477aa' title 'measured', \\\n"
         << "     $ratios using 0:2:(sprintf('%.2f', $2)) with labels offset 0,0.8 notitle, \\\n"
         << "     $ratios using 0:3 with points pt 7 ps 1.3 lc rgb '#cc3311' "
            "title 'target (issue 6)', \\\n"
         << "     1 with lines dt 2 lc rgb 'black' title 'parity'\n";
  FILE* g = popen("gnuplot", "w");
  if (g == nullptr) throw std::runtime_error("--chart: cannot start gnuplot");
  const std::string text = script.str();
  std::fwrite(text.data(), 1, text.size(), g);
  const int status = pclose(g);
  if (status != 0) {
    throw std::runtime_error("--chart: gnuplot failed (exit status " + std::to_string(status) +
                             ", see its messages above); no chart written");
  }
}

}  // namespace ferrite::bench
