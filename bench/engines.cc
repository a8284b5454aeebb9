// The engine registry. This is the only file that looks at
// FERRITE_BENCH_PMDK, FERRITE_BENCH_LMDB and FERRITE_BENCH_SQLITE (set by
// bench/meson.build, for every file of the benchmark alike, when
// libpmemobj, liblmdb or libsqlite3 was found).
#include <stdexcept>

#include "bench/engine.h"

namespace ferrite::bench {

std::string_view to_string(media_mode m) noexcept {
  return m == media_mode::cacheline ? "cacheline" : "page";
}

std::optional<media_mode> parse_media_mode(std::string_view name) noexcept {
  if (name == "cacheline") return media_mode::cacheline;
  if (name == "page") return media_mode::page;
  return std::nullopt;
}

namespace {

std::optional<std::uint64_t> minus(const std::optional<std::uint64_t>& a,
                                   const std::optional<std::uint64_t>& b) {
  if (!a || !b) return std::nullopt;
  return *a - *b;
}

}  // namespace

counters difference(const counters& later, const counters& earlier) {
  counters d;
  d.fences = minus(later.fences, earlier.fences);
  d.syncs = minus(later.syncs, earlier.syncs);
  d.flushed_lines = minus(later.flushed_lines, earlier.flushed_lines);
  d.commits = minus(later.commits, earlier.commits);
  d.commit_syncs = minus(later.commit_syncs, earlier.commit_syncs);
  d.checkpoints = minus(later.checkpoints, earlier.checkpoints);
  d.os = later.os - earlier.os;
  return d;
}

counters sample_counters(const bench_engine& e) {
  counters c = e.read_counters();
  c.os = os_syncs();
  return c;
}

std::optional<std::uint64_t> bench_engine::churn_allocate(std::size_t) {
  throw std::logic_error("this engine does not run churn");
}
void bench_engine::churn_free(std::uint64_t) {
  throw std::logic_error("this engine does not run churn");
}
std::optional<std::uint64_t> bench_engine::churn_heap_bytes() const {
  return std::nullopt;
}
void bench_engine::check_churn(std::uint64_t, std::uint64_t) {
  throw std::logic_error("this engine does not run churn");
}

void bench_engine::footprint_open() {
  throw std::logic_error("this engine does not run footprint");
}
std::uint64_t bench_engine::footprint_pages() const {
  throw std::logic_error("this engine does not run footprint");
}
void bench_engine::footprint_update(std::uint64_t, std::uint64_t) {
  throw std::logic_error("this engine does not run footprint");
}
std::uint64_t bench_engine::footprint_word(std::uint64_t, std::size_t) const {
  throw std::logic_error("this engine does not run footprint");
}

std::vector<std::string_view> compiled_engines() {
  std::vector<std::string_view> names{"ferrite"};
#ifdef FERRITE_BENCH_PMDK
  names.push_back("pmdk");
#endif
#ifdef FERRITE_BENCH_LMDB
  names.push_back("lmdb");
  names.push_back("lmdb-nometasync");
#endif
#ifdef FERRITE_BENCH_SQLITE
  names.push_back("sqlite");
#endif
  names.push_back("std");
  names.push_back("floor");
  return names;
}

namespace {

bool is_key_value_store(std::string_view name) {
  return name == "lmdb" || name == "lmdb-nometasync" || name == "sqlite";
}

}  // namespace

bool known_engine(std::string_view name) {
  // ferrite-checked (ferrite with checked transactions) and ferrite-inline
  // (checkpoints on the committing threads) run only when named: they
  // measure a mode of the engine, not the engine.
  return name == "ferrite" || name == "ferrite-checked" || name == "ferrite-inline" ||
         name == "pmdk" || name == "std" || name == "floor" || is_key_value_store(name);
}

bool engine_measures(std::string_view engine, workload w, media_mode m, structure shape) {
  // footprint: only ferrite has a memory budget (ferrite-checked ignores it).
  if (info(w).ferrite_only) return engine == "ferrite";
  if (engine == "pmdk") return !info(w).per_structure && !is_transfer(w);  // no hash map, no map
  if (engine == "std") return w != workload::open && w != workload::churn;
  // floor: the media's price of one durable record (bench/floor_engine.cc).
  if (engine == "floor") return w == workload::tx_set8 || w == workload::tx_set_lines;
  if (is_key_value_store(engine)) {
    if (m != media_mode::page) return false;
    return w == workload::tx_set8 ||
           ((w == workload::map_insert || w == workload::map_get) && shape == structure::ordered);
  }
  return true;
}

std::vector<std::filesystem::path> engine_files(std::string_view engine,
                                                const std::filesystem::path& pool) {
  std::vector<std::filesystem::path> files{pool};
  if (engine == "lmdb" || engine == "lmdb-nometasync") {
    files.emplace_back(pool.string() + "-lock");
  } else if (engine == "sqlite") {
    files.emplace_back(pool.string() + "-wal");
    files.emplace_back(pool.string() + "-shm");
    files.emplace_back(pool.string() + "-journal");
  }
  return files;
}

std::unique_ptr<bench_engine> make_engine(std::string_view name) {
  if (name == "ferrite") return make_ferrite_engine();
  if (name == "ferrite-checked") return make_ferrite_engine(true);
  if (name == "ferrite-inline") return make_ferrite_engine(false, true);
  if (name == "std") return make_std_engine();
  if (name == "floor") return make_floor_engine();
#ifdef FERRITE_BENCH_PMDK
  if (name == "pmdk") return make_pmdk_engine();
#endif
#ifdef FERRITE_BENCH_LMDB
  if (name == "lmdb") return make_lmdb_engine(true);
  if (name == "lmdb-nometasync") return make_lmdb_engine(false);
#endif
#ifdef FERRITE_BENCH_SQLITE
  if (name == "sqlite") return make_sqlite_engine();
#endif
  throw std::invalid_argument("engine '" + std::string(name) + "' is not compiled in");
}

std::vector<std::pair<std::string, std::string>> engine_environment(std::string_view name,
                                                                    media_mode mode) {
  const bool cl = mode == media_mode::cacheline;
  if (name == "ferrite" || name == "ferrite-checked" || name == "ferrite-inline" ||
      name == "floor") {
    return {{"PMEM2_FORCE_GRANULARITY", cl ? "cacheline" : "page"}};
  }
  // libpmem reads PMEM_IS_PMEM_FORCE once per process: 1 makes it flush
  // cache lines and fence, 0 makes it msync.
  if (name == "pmdk") return {{"PMEM_IS_PMEM_FORCE", cl ? "1" : "0"}};
  return {};
}

}  // namespace ferrite::bench
