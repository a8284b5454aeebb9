// ferrite-bench: ferrite side by side with libpmemobj (PMDK), LMDB, SQLite
// and plain C++.
//
// The catalogue (one op of each workload; bench/catalogue.h holds the same
// list as data):
//
//   tx_set8              a transaction that snapshots one 8-byte field,
//                        updates it and commits.
//                          ferrite: pool.transaction + tx_snapshot on a heap word;
//                          pmdk:    pmemobj_tx_begin, pmemobj_tx_add_range_direct,
//                                   pmemobj_tx_commit/_end on a root-object field;
//                          std:     the plain store, no durability.
//   tx_set_lines         the same with 8 fields, each in its own cache line,
//                        in one transaction.
//   tx_alloc64           a transaction that allocates a 64-byte object and
//                        stores its reference into one of the thread's 64
//                        slots (op i: slot i % 64; the objects stay allocated).
//                          ferrite: pool.allocate + tx_snapshot of the slot;
//                          pmdk:    pmemobj_tx_zalloc + add_range_direct of the slot;
//                          std:     new std::byte[64]() into the slot.
//   tx_alloc_free64      the same into one slot, then a SECOND transaction
//                        that frees the object and clears the slot (two
//                        commits per op, in every engine; std: new + delete).
//   atomic_alloc_free64  atomic allocation published into the thread's slot,
//                        then atomic free clearing it. ferrite: allocate_into
//                        + deallocate_from; pmdk: pmemobj_zalloc + pmemobj_free
//                        (both zero-fill); std: new + delete.
//   chase                visit one node of a 100k-node circular list, linked
//                        in shuffled allocation order (fixed seed): ferrite
//                        pptr<node>, pmdk PMEMoid + pmemobj_direct, std raw
//                        pointers. Built untimed at open; 1 thread only.
//                        Target: ferrite/std <= 1.3.
//   open                 open a pool holding --objects 64-byte objects (built
//                        untimed, 4096 allocations per transaction) and make
//                        the first 64-byte atomic allocation; each open timed
//                        alone. ferrite and pmdk, 1 thread only.
//   vector_push          push_back of one u64 (element i holds i), one
//                        transaction per push, N pushes onto an empty vector.
//                          ferrite: ferrite::vector<u64>::push_back (atomic);
//                          pmdk:    a hand-written persistent array (no such
//                                   structure in libpmemobj): add_range of
//                                   the size and the new slot, doubling with
//                                   pmemobj_tx_zalloc + copy + pmemobj_tx_free;
//                          std:     std::vector<u64>::push_back.
//   map_insert           insert of one u64 key -> u64 value, one transaction
//                        per insert, N distinct keys (shuffled) into an empty
//                        map; one row per structure:
//                          hash:    ferrite::hash_map vs std::unordered_map;
//                          ordered: ferrite::map (B+-tree) vs std::map.
//                        libpmemobj has no comparable structure: not run.
//                        Target (hash, cacheline): ferrite/std <= 4.
//   map_get              lookup of one present key: the map is filled with
//                        the N keys untimed, then looked up in another
//                        shuffled order. Same structures as map_insert.
//                        The container workloads run on 1 thread (the
//                        containers are single-writer); N is --keys
//                        (--page-keys on page media, for every engine).
//   churn                allocation of a log-uniform random size in [16 B,
//                        64 KiB], each its own transaction, among random
//                        frees (1 op in 3), after filling half the heap, until
//                        the first out_of_space; then everything is freed and
//                        the heap refilled with 32 KiB objects. Figures: live
//                        bytes / heap bytes at the first out_of_space, the
//                        refill / heap, ns per allocation (bench/churn.h).
//                          ferrite: pool.allocate in a transaction, deallocate;
//                          pmdk:    pmemobj_alloc / pmemobj_free;
//                          std:     not run (no heap to fill).
//                        1 thread, one run per process; the pool is
//                        --pool-mib when given, else 256 MiB.
//   transfer             a transfer between two of 1000 accounts (issue 15's
//                        account store, bench/transfer.h): both looked up in
//                        a map, then one transaction debits, credits and
//                        appends to a shared log, holding the locks of both
//                        accounts and of the log. Any thread count; the
//                        threads share the store.
//                          ferrite: ferrite::hash_map<u64, pptr<account>>,
//                                   a pmutex per account and one for the log
//                                   (a ferrite::vector), pool.transaction(fn,
//                                   from->lock, to->lock, log->lock): the
//                                   locks go once the commit is ordered;
//                          std:     std::unordered_map, std::mutex,
//                                   std::vector, std::scoped_lock;
//                          pmdk:    not run (no hash map in libpmemobj).
//   transfer_held        the same, the locks held until the commit returns:
//                        std::scoped_lock around pool.transaction(fn) (how
//                        docs/durability.md had users do it before).
//   footprint            a transaction that snapshots and rewrites the first
//                        256 bytes of a uniformly random 4 KiB page (fixed
//                        seed) of a region 6x --budget, allocated untimed on
//                        a pool 8x --budget; 4x --budget / 4 KiB ops. Each
//                        run twice, each on a fresh pool in its own process:
//                        pool_options::memory_budget = --budget, and
//                        pool_options::unbounded. Figures: the peak anonymous
//                        RSS (RssAnon, sampled every 5 ms, above the
//                        process's before the pool opened) / budget, and
//                        ns/op budget / unbounded (bench/footprint.h).
//                        Targets: <= 1.1 and <= 1.5. ferrite only, 1 thread.
//
// The key-value stores (engines lmdb, lmdb-nometasync and sqlite; page media
// only) run tx_set8 (a row per thread), map_insert and map_get (ordered:
// their B-trees); bench/lmdb_engine.cc and bench/sqlite_engine.cc say how.
//
// Media modes:
//   cacheline  pools on /dev/shm; ferrite with PMEM2_FORCE_GRANULARITY=cacheline
//              (flush + fence), libpmemobj with PMEM_IS_PMEM_FORCE=1.
//   page       pools in --dir (an ordinary disk file system); ferrite's page
//              mode (msync), libpmemobj with PMEM_IS_PMEM_FORCE=0 (msync).
//
// A cell is engine x workload x mode x threads. Each run of a cell is a
// process of its own on a fresh pool (bench/driver.h says why), and the runs
// are interleaved between engines; how a run is measured is in bench/cell.h.
// docs/bench.md tells how to run the full benchmark.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/cell.h"
#include "bench/driver.h"
#include "bench/report.h"

namespace ferrite::bench {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed_cells = 1;
constexpr int exit_usage = 2;

struct options {
  std::vector<std::string> engines;
  std::vector<std::string> workloads;
  std::vector<std::string> modes{"cacheline", "page"};
  std::vector<int> threads{1, 2};
  std::uint64_t ops = 200000;
  std::uint64_t page_ops = 0;  // 0: ops / 10
  int runs = 5;
  std::uint64_t warmup_percent = 10;
  std::uint64_t pool_mib = 64;
  bool pool_mib_given = false;  // churn: --pool-mib, else churn_default_pool_bytes
  std::string dir;
  bool json = false;
  std::string csv;
  std::string chart;
  bool smoke = false;
  bool list = false;
  // The cell process (hidden): engine:workload:mode:threads.
  std::string cell;
  std::string pool;
  std::uint64_t pool_bytes = 0;
  std::uint64_t warmup_ops = 0;
  std::vector<std::uint64_t> objects{1000000};
  std::uint64_t open_ops = 5;
  std::uint64_t keys = 1000000;
  std::uint64_t page_keys = 1000;
  std::vector<std::string> structures{"hash", "ordered"};
  std::uint64_t budget = footprint_default_budget;  // footprint: --budget
  bool unbounded = false;  // the cell process (hidden): footprint without a budget
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

workload parse_workload(const std::string& name) {
  const workload_info* w = find_workload(name);
  if (w == nullptr) {
    throw usage_error("unknown workload '" + name + "'; the catalogue: --list");
  }
  if (!w->arrives_with.empty()) {
    throw usage_error("workload '" + name + "' (" + std::string(w->measures) +
                      ") cannot be measured yet: it arrives with " + std::string(w->arrives_with) +
                      ". Available now: " + available_workloads());
  }
  return w->id;
}

media_mode parse_mode(const std::string& name) {
  auto m = parse_media_mode(name);
  if (!m) throw usage_error("unknown media mode '" + name + "' (cacheline or page)");
  return *m;
}

void check_engine(const std::string& name) {
  if (!known_engine(name)) {
    throw usage_error("unknown engine '" + name +
                      "' (ferrite, ferrite-checked, ferrite-inline, pmdk, lmdb, lmdb-nometasync, "
                      "sqlite, std or floor)");
  }
  if (name == "ferrite-checked" || name == "ferrite-inline") return;  // never in the default list
  for (std::string_view e : compiled_engines()) {
    if (e == name) return;
  }
  const bool lmdb = name.rfind("lmdb", 0) == 0;
  const std::string package = name == "pmdk" ? "libpmemobj-dev"
                              : lmdb         ? "liblmdb-dev"
                                             : "libsqlite3-dev";
  const std::string option = name == "pmdk" ? "pmdk_bench" : lmdb ? "lmdb_bench" : "sqlite_bench";
  throw usage_error("engine '" + name + "' is not compiled into this ferrite-bench: install " +
                    package + " and reconfigure (meson option " + option +
                    "=enabled makes it required)");
}

// The 1-minute load average, from /proc/loadavg (negative if unknown).
double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return in ? load : -1;
}

std::string machine_description() {
  std::string cpu;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  char load[32];
  std::snprintf(load, sizeof load, "%.2f", load_average());
  return (cpu.empty() ? std::string("unknown CPU") : cpu) + ", " +
         std::to_string(std::thread::hardware_concurrency()) + " CPUs, " + u.sysname + " " +
         u.release + ", load average " + load + " at the start";
}

std::string ns_text(double ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", ns);
  return buf;
}

std::filesystem::path default_page_dir() {
  if (access("/var/tmp", W_OK) == 0) return "/var/tmp";
  return std::filesystem::current_path();
}

// Measures one workload x mode x threads with every engine. The runs are
// interleaved (run 1 of each engine, then run 2 of each...), each in a new
// process on a new pool, so that a drift of the machine (other load, the
// disk's state) weighs on every engine alike.
void run_group(const std::filesystem::path& self, const run_description& d, workload w,
               media_mode m, int t, std::uint64_t objects, structure shape,
               std::vector<cell_result>& results) {
  const auto threads = static_cast<std::uint64_t>(t);
  const workload_info& wi = info(w);
  std::vector<cell_result> cells;
  for (const std::string& e : d.engines) {
    // std: nothing to open, no heap to fill; libpmemobj: no map; LMDB and
    // SQLite: page media, tx_set8 and the ordered map only.
    if (!engine_measures(e, w, m, shape)) continue;
    // std does no I/O: a page-mode op count would time little but the
    // threads' start.
    std::uint64_t ops = m == media_mode::cacheline || e == "std" ? d.ops_cacheline : d.ops_page;
    if (w == workload::open) ops = d.open_ops;
    // A container's cost per op depends on its size: every engine gets the
    // same N on a given media.
    if (wi.container) ops = m == media_mode::cacheline ? d.keys_cacheline : d.keys_page;
    if (w == workload::churn) ops = 1;  // a run ends at the first out_of_space, not at a count
    if (w == workload::footprint) ops = footprint_ops(d.footprint_budget);  // on every media
    cell_result c;
    c.spec.engine = e;
    c.spec.work = w;
    c.spec.mode = m;
    c.spec.threads = t;
    c.spec.ops = std::max<std::uint64_t>(ops / threads, 1) * threads;
    c.spec.warmup_ops = c.spec.ops * d.warmup_percent / 100;
    if (w == workload::open) c.spec.warmup_ops = 1;
    // chase: at least one lap of the circle untimed, so that no run pays
    // for the caches the setup (building and checkpointing the list) left
    // cold; else the first run's first lap dominates it.
    if (w == workload::chase) c.spec.warmup_ops = std::max(c.spec.warmup_ops, chase_nodes);
    if (wi.from_empty) c.spec.warmup_ops = 0;  // each run starts from an empty container
    c.spec.runs = 0;
    c.spec.pool_bytes = w == workload::churn ? d.churn_pool_bytes : d.pool_bytes;
    c.spec.objects = objects;
    c.spec.shape = shape;
    // open: room for the objects (~80 bytes each with their headers, in
    // either engine) on top of the usual pool.
    if (w == workload::chase) c.spec.pool_bytes += 32ull << 20;  // the 100k nodes
    if (w == workload::open) c.spec.pool_bytes += (objects * 160 + (1 << 20) - 1) >> 20 << 20;
    // The containers: 160 bytes per key is room for a hash map node or a
    // B+-tree entry with the allocator's headers, or a vector's array while
    // it doubles, with a wide margin.
    if (wi.container) c.spec.pool_bytes += (c.spec.ops * 160 + (1 << 20) - 1) >> 20 << 20;
    // transfer: the log keeps a 24-byte entry per op (warm-up included), in
    // a vector that doubles (old and new buffer both live while it does).
    if (is_transfer(w)) {
      c.spec.pool_bytes += ((c.spec.ops + c.spec.warmup_ops) * 80 + (1 << 20) - 1) >> 20 << 20;
    }
    if (w == workload::footprint) {
      c.spec.budget = d.footprint_budget;
      c.spec.pool_bytes = footprint_pool_bytes(d.footprint_budget);
    }
    c.spec.pool_path = (m == media_mode::cacheline ? d.cacheline_dir : d.page_dir) /
                       ("ferrite-bench-" + std::to_string(getpid()) + "-" + e + ".pool");
    cells.push_back(std::move(c));
  }
  // transfer_held joins transfer's group: its runs interleave with
  // transfer's as the engines' do, so that the two ways of locking are
  // compared in the same minutes of a disk whose sync time drifts.
  if (w == workload::transfer && std::find(d.workloads.begin(), d.workloads.end(),
                                           workload::transfer_held) != d.workloads.end()) {
    const std::size_t n = cells.size();
    for (std::size_t i = 0; i < n; ++i) {
      cell_result held = cells[i];
      held.spec.work = workload::transfer_held;
      held.spec.pool_path.replace_extension(".held.pool");
      cells.push_back(std::move(held));
    }
  }
  // footprint: each engine's cell twice, with the memory budget and
  // unbounded, their runs interleaved like the engines'.
  if (w == workload::footprint) {
    const std::size_t n = cells.size();
    for (std::size_t i = 0; i < n; ++i) {
      cell_result unbounded = cells[i];
      unbounded.spec.unbounded = true;
      unbounded.spec.pool_path.replace_extension(".unbounded.pool");
      cells.push_back(std::move(unbounded));
    }
  }
  for (int run = 1; run <= d.runs; ++run) {
    std::cerr << info(w).name << (w == workload::open ? " " + std::to_string(objects) : "")
              << (shape != structure::none ? " " + std::string(to_string(shape)) : "") << " "
              << to_string(m) << " " << t << " thread" << (t > 1 ? "s" : "") << ", run " << run
              << "/" << d.runs << ":";
    for (cell_result& c : cells) {
      if (!c.ok()) continue;
      cell_spec one = c.spec;
      one.runs = 1;
      cell_result r = run_cell_process(self, one);
      const std::string variant = variant_name(c.spec);
      const std::string name = c.spec.engine +
                               (c.spec.work != w ? " " + std::string(info(c.spec.work).name) : "") +
                               (variant.empty() ? "" : " " + variant);
      if (r.ok()) {
        merge_runs(c, r);
        std::cerr << " " << name << " " << ns_text(r.ns_per_op);
      } else {
        c.error = r.error;
        std::cerr << " " << name << " FAILED";
      }
    }
    std::cerr << " ns/op" << std::endl;
  }
  for (cell_result& c : cells) results.push_back(std::move(c));
}

// The cell process: run one cell, print its result.
int cell_main(const options& o) {
  auto parts = split(o.cell, ':');
  if (parts.size() != 4) throw usage_error("--cell wants engine:workload:mode:threads");
  cell_spec s;
  s.engine = parts[0];
  s.work = parse_workload(parts[1]);
  s.mode = parse_mode(parts[2]);
  s.threads = std::stoi(parts[3]);
  s.ops = o.ops;
  s.warmup_ops = o.warmup_ops;
  s.runs = o.runs;
  s.pool_bytes = o.pool_bytes;
  s.pool_path = o.pool;
  s.objects = o.objects.empty() ? 0 : o.objects.front();
  auto shape = parse_structure(o.structures.empty() ? "none" : o.structures.front());
  if (!shape) throw usage_error("--structure: hash, ordered or none");
  s.shape = *shape;
  s.budget = o.budget;
  s.unbounded = o.unbounded;
  if (s.work == workload::footprint) {
    // Sized by the budget alone, as the driver sizes it.
    if (s.budget < footprint_min_budget) throw usage_error("--budget: at least 256K");
    s.ops = footprint_ops(s.budget);
    s.pool_bytes = footprint_pool_bytes(s.budget);
  } else {
    s.budget = 0;
  }
  return cell_process_main(s);
}

int driver_main(options o) {
  run_description d;
  if (o.smoke) {
    o.ops = 200;
    o.page_ops = 2;  // a page-mode libpmemobj transaction costs several msyncs
    o.runs = 1;
    o.pool_mib = 8;
    o.objects = {1000};
    o.open_ops = 2;
    o.keys = 3000;         // enough for hash map splits and B+-tree node splits
    o.page_keys = 20;      // an insert or push costs an msync or more
    o.budget = 512 << 10;  // footprint: 512 ops on a 4 MiB pool
  }
  if (o.engines.empty()) {
    for (std::string_view e : compiled_engines()) o.engines.emplace_back(e);
  }
  for (const std::string& e : o.engines) check_engine(e);
  d.engines = o.engines;
  if (o.workloads.empty()) o.workloads = split(available_workloads(), ',');
  for (std::string w : o.workloads) {
    w.erase(0, w.find_first_not_of(' '));
    d.workloads.push_back(parse_workload(w));
  }
  for (const std::string& m : o.modes) d.modes.push_back(parse_mode(m));
  d.threads = o.threads;
  for (int t : d.threads) {
    if (t < 1 || t > 64) throw usage_error("--threads: each count must be in 1..64");
  }
  if (o.runs < 1) throw usage_error("--runs must be at least 1");
  if (o.warmup_percent > 1000) throw usage_error("--warmup: at most 1000 (%)");
  if (o.pool_mib < 8) throw usage_error("--pool-mib: at least 8 (libpmemobj's minimum)");
  d.ops_cacheline = o.ops;
  d.ops_page = o.page_ops ? o.page_ops : std::max<std::uint64_t>(o.ops / 10, 1);
  d.warmup_percent = o.warmup_percent;
  d.runs = o.runs;
  d.pool_bytes = o.pool_mib << 20;
  d.churn_pool_bytes = o.pool_mib_given || o.smoke ? d.pool_bytes : churn_default_pool_bytes;
  d.cacheline_dir = "/dev/shm";
  d.page_dir = o.dir.empty() ? default_page_dir() : std::filesystem::path(o.dir);
  d.smoke = o.smoke;
  d.objects = o.objects;
  d.open_ops = std::max<std::uint64_t>(o.open_ops, 1);
  if (o.keys < 1 || o.page_keys < 1) throw usage_error("--keys and --page-keys: at least 1");
  d.keys_cacheline = o.keys;
  d.keys_page = o.page_keys;
  if (o.budget < footprint_min_budget) {
    throw usage_error("--budget: at least 256K (the pool, 8x the budget, needs 2 MiB)");
  }
  if (footprint_pool_bytes(o.budget) / footprint_pool_per_budget != o.budget) {
    throw usage_error("--budget: too large");
  }
  d.footprint_budget = o.budget;
  for (const std::string& name : o.structures) {
    auto shape = parse_structure(name);
    if (!shape || *shape == structure::none) {
      throw usage_error("unknown structure '" + name + "' (hash or ordered)");
    }
    d.structures.push_back(*shape);
  }
  d.machine = machine_description();
  for (media_mode m : d.modes) {
    const auto& dir = m == media_mode::cacheline ? d.cacheline_dir : d.page_dir;
    if (!std::filesystem::is_directory(dir) || access(dir.c_str(), W_OK) != 0) {
      throw usage_error("the " + std::string(to_string(m)) + " mode puts its pools in " +
                        dir.string() + ", which is not a writable directory" +
                        (m == media_mode::page ? " (choose one with --dir)" : ""));
    }
  }
  if (std::find(d.modes.begin(), d.modes.end(), media_mode::page) != d.modes.end() &&
      file_system_name(d.page_dir) == "tmpfs") {
    std::cerr << "ferrite-bench: warning: " << d.page_dir.string()
              << " is a tmpfs, where msync costs nothing: page-mode figures will not show "
                 "what a disk costs (use --dir on a disk file system)\n";
  }
  if (load_average() > 0.5 * std::thread::hardware_concurrency()) {
    std::cerr << "ferrite-bench: warning: the machine is busy (load average " << load_average()
              << " on " << std::thread::hardware_concurrency()
              << " CPUs): the figures will be noisy\n";
  }
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");

  std::ostream& text = std::cout;
  if (!o.json) {
    print_setup(text, d);
    text.flush();
  }
  std::vector<cell_result> results;
  for (workload w : d.workloads) {
    // Measured in transfer's group (run_group), when both are asked for.
    if (w == workload::transfer_held && std::find(d.workloads.begin(), d.workloads.end(),
                                                  workload::transfer) != d.workloads.end()) {
      continue;
    }
    for (media_mode m : d.modes) {
      // chase only reads: its media does not matter, and building the list
      // on page media would cost libpmemobj one msync per snapshot.
      if (w == workload::chase && m == media_mode::page) continue;
      if (!info(w).threaded) {
        // chase and open: one thread (the first count asked, if 1)
        if (std::find(d.threads.begin(), d.threads.end(), 1) == d.threads.end()) continue;
        if (w == workload::open) {
          for (std::uint64_t n : d.objects)
            run_group(self, d, w, m, 1, n, structure::none, results);
        } else if (info(w).per_structure) {
          for (structure shape : d.structures) run_group(self, d, w, m, 1, 0, shape, results);
        } else {
          run_group(self, d, w, m, 1, 0, structure::none, results);
        }
        continue;
      }
      for (int t : d.threads) {
        run_group(self, d, w, m, t, 0, structure::none, results);
      }
    }
  }

  if (o.json) {
    std::cout << results_json(results).dump(2) << "\n";
  } else {
    print_tables(text, d, results);
    text << "\nload average at the end: " << load_average() << "\n";
  }
  if (!o.csv.empty()) write_csv(o.csv, results);
  if (!o.chart.empty()) {
    write_chart(o.chart, results);
    std::cerr << "ferrite-bench: chart written to " << o.chart << "\n";
  }
  for (const cell_result& r : results) {
    if (!r.ok()) return exit_failed_cells;
  }
  return exit_ok;
}

void print_catalogue() {
  for (const workload_info& w : catalogue) {
    std::cout << w.name << ": " << w.measures;
    if (!w.arrives_with.empty()) std::cout << " [arrives with " << w.arrives_with << "]";
    std::cout << "\n";
  }
}

}  // namespace
}  // namespace ferrite::bench

int main(int argc, char** argv) {
  using namespace ferrite::bench;
  options o;
  CLI::App app{
      "ferrite-bench: ferrite side by side with libpmemobj and plain C++ "
      "(docs/bench.md)"};
  app.add_option("--engine", o.engines,
                 "Engines, comma-separated: ferrite,pmdk,lmdb,lmdb-nometasync,sqlite,std,floor "
                 "(one durable redo record per op: the media's floor, tx_set8 and tx_set_lines), "
                 "and, only when named, ferrite-checked (checked transactions) and "
                 "ferrite-inline (checkpoints on the committing threads, no checkpointer "
                 "thread) (default: all compiled in)")
      ->delimiter(',');
  app.add_option("--workload", o.workloads,
                 "Workloads, comma-separated: " + available_workloads() +
                     " (default: all of them; --list says what each measures)")
      ->delimiter(',');
  app.add_option("--mode", o.modes, "Media modes, comma-separated: cacheline,page")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Thread counts, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--ops", o.ops, "Ops per run on cacheline media, all threads together")
      ->capture_default_str();
  app.add_option("--page-ops", o.page_ops, "Ops per run on page media (default: --ops / 10)");
  app.add_option("--objects", o.objects,
                 "open: object counts of the pools, comma-separated (default 1000000)")
      ->delimiter(',');
  app.add_option("--open-ops", o.open_ops, "open: opens per run (5)")->capture_default_str();
  app.add_option("--keys", o.keys,
                 "vector_push, map_insert, map_get: N, the keys (or pushes) per run on cacheline "
                 "media")
      ->capture_default_str();
  app.add_option("--page-keys", o.page_keys, "The same on page media")->capture_default_str();
  app.add_option("--structure", o.structures,
                 "map_insert, map_get: structures, comma-separated: hash,ordered")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--budget", o.budget,
                 "footprint: the memory budget in bytes (suffixes K, M, G: powers of 1024); the "
                 "pool is 8x, the ops write 4x its worth of 4 KiB pages (64M)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--runs", o.runs, "Timed runs per cell; the median is reported")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_percent, "Untimed warm-up, in % of the ops of a run")
      ->capture_default_str();
  app.add_option("--pool-mib", o.pool_mib, "Size of each pool in MiB")->capture_default_str();
  app.add_option("--dir", o.dir,
                 "Directory for page-mode pools, on a disk file system (default: /var/tmp, or "
                 "the current directory)");
  app.add_flag("--json", o.json, "Print the results as JSON instead of tables");
  app.add_option("--csv", o.csv, "Also write the results to this CSV file");
  app.add_option("--chart", o.chart,
                 "Also draw ferrite/pmdk ratios with gnuplot (PNG, or SVG for *.svg)");
  app.add_flag("--smoke", o.smoke,
               "Run every cell with tiny op counts (seconds): a check, not a measurement");
  app.add_flag("--list", o.list, "Print the workload catalogue and exit");
  const std::string internal;  // an empty group hides these from --help
  app.add_option("--cell", o.cell, "(internal) run one cell")->group(internal);
  app.add_option("--pool", o.pool, "(internal) pool path of the cell")->group(internal);
  app.add_option("--pool-bytes", o.pool_bytes, "(internal)")->group(internal);
  app.add_option("--warmup-ops", o.warmup_ops, "(internal)")->group(internal);
  app.add_flag("--unbounded", o.unbounded, "(internal) footprint: pool_options::unbounded")
      ->group(internal);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  try {
    if (o.list) {
      print_catalogue();
      return exit_ok;
    }
    o.pool_mib_given = app.count("--pool-mib") > 0;
    if (!o.cell.empty()) return cell_main(o);
    return driver_main(o);
  } catch (const usage_error& e) {
    std::cerr << "ferrite-bench: " << e.what() << "\n";
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "ferrite-bench: " << e.what() << "\n";
    return exit_failed_cells;
  }
}
