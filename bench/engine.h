// bench_engine: one implementation of the workloads (ferrite, libpmemobj,
// plain C++), behind a small interface so that every engine runs the same
// cell the same way.
//
// Memory layout shared by every engine: each thread owns one region of
// `region_bytes` (16 cache lines), 64-byte aligned, at
// `region(t) = first_region + t * region_bytes`. A workload that updates n
// fields updates the first 8-byte word of lines 0..n-1 of its thread's
// region, so threads never share a cache line.
//
// The container workloads (vector_push, map_insert, map_get) run on one
// thread on a container the engine keeps (ferrite: in its typed root;
// libpmemobj: a hand-written persistent array in thread 0's region; std:
// the std container), with the keys of bench/keys.h.
//
// The key-value stores (lmdb, lmdb-nometasync, sqlite) have no memory
// layout to share: thread t's field i is the row keyed t * words_per_region
// + i, and their maps are their B-trees (the `ordered` rows). They run only
// what maps onto them (engine_measures).
//
// Thread-safety: run() may be called from several threads at once, each with
// its own thread index; everything else is called by one thread while no
// run() is in progress.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/catalogue.h"
#include "bench/sync_count.h"

namespace ferrite::bench {

enum class media_mode { cacheline, page };

std::string_view to_string(media_mode m) noexcept;
std::optional<media_mode> parse_media_mode(std::string_view name) noexcept;

inline constexpr std::size_t region_bytes = 1024;
inline constexpr std::size_t words_per_line = 64 / sizeof(std::uint64_t);
inline constexpr std::size_t words_per_region = region_bytes / sizeof(std::uint64_t);

// Counters an engine keeps, cumulative since open. nullopt: the engine has
// no such counter (libpmemobj and plain C++ count nothing).
struct counters {
  std::optional<std::uint64_t> fences;         // store fences
  std::optional<std::uint64_t> syncs;          // msync/fdatasync calls
  std::optional<std::uint64_t> flushed_lines;  // cache lines flushed
  std::optional<std::uint64_t> commits;        // transactions that wrote a log record
  std::optional<std::uint64_t> commit_syncs;   // syncs made by group-commit leaders
  std::optional<std::uint64_t> checkpoints;
  // The process's syncs, counted from outside every engine alike
  // (bench/sync_count.h): filled by sample_counters, never by an engine.
  os_sync_counts os;
};

// later - earlier, field by field (nullopt stays nullopt).
counters difference(const counters& later, const counters& earlier);

struct engine_setup {
  media_mode mode = media_mode::cacheline;
  std::filesystem::path pool_path;  // does not exist yet
  std::uint64_t pool_bytes = 64ull << 20;
  int threads = 1;
  workload work = workload::tx_set8;  // open() prepares what it needs, untimed
  std::uint64_t objects = 0;          // open: objects the pool holds
  // Container workloads: the container (map_insert, map_get) and N, the
  // keys a run inserts or looks up (map_get: inserted by open(), untimed).
  structure shape = structure::none;
  std::uint64_t keys = 0;
  // footprint: the memory budget the workload is sized by (bytes), and
  // whether this pool runs without one (ferrite: pool_options::unbounded)
  // rather than with it. 0 and false for every other workload (ferrite:
  // the default budget).
  std::uint64_t budget = 0;
  bool unbounded = false;
};

class bench_engine {
 public:
  virtual ~bench_engine() = default;

  // Creates a fresh pool at setup.pool_path and checks that it runs on the
  // media `setup.mode` asks for (throws otherwise). Returns how it runs, in
  // words, for the report ("libpmem2 granularity cache_line, log 4 MiB").
  virtual std::string open(const engine_setup& setup) = 0;

  // Runs `ops` operations of `w` on thread `t`'s region.
  // REQUIRES: open; w is measurable now; 0 <= t < setup.threads.
  virtual void run(workload w, int t, std::uint64_t ops) = 0;

  // Ends a timed run: work an engine deferred during the run and would do
  // later anyway is done now, inside the timing (ferrite checkpoints its
  // log). Called by one thread after every run() of the run returned.
  virtual void finish_run() = 0;

  virtual counters read_counters() const = 0;

  // The open workload: closes the pool (untimed), so that the next
  // run(workload::open, 0, 1) times one open + first allocation.
  virtual void close_for_open() {}

  // Closes the pool and opens it again, so that read_word() shows what
  // survived. No-op for a volatile engine.
  virtual void reopen() = 0;

  // Word `i` of thread `t`'s region.
  virtual std::uint64_t read_word(int t, std::size_t i) const = 0;

  // Container workloads, after reopen(): throws unless the container holds
  // exactly what `count` ops put there (vector_push: elements 0..count-1;
  // map_insert, map_get: the first `count` keys of insert_order, each with
  // value_of(key); transfer, transfer_held: the account store after `count`
  // transfers, by check_transfers of bench/transfer.h). Every element is read.
  virtual void check_container(workload w, std::uint64_t count) = 0;

  // Closes the pool and removes its file. Harmless when not open.
  virtual void close_and_remove() noexcept = 0;

  // --- churn (bench/churn.h drives the engine's allocator through these) ---
  // The engines that do not run churn keep the defaults, which throw.

  // Allocates one object of `size` bytes, durable on its own (ferrite: a
  // transaction; libpmemobj: pmemobj_alloc). Returns a handle for
  // churn_free, or nullopt when the engine reports that its heap has no room
  // (any other error throws); the pool is then as before the call.
  virtual std::optional<std::uint64_t> churn_allocate(std::size_t size);
  // Frees the object of a handle churn_allocate returned, durable on its own.
  virtual void churn_free(std::uint64_t handle);
  // Bytes of the heap objects are allocated from, when the engine says
  // (ferrite: heap_statistics().heap_bytes); nullopt otherwise.
  virtual std::optional<std::uint64_t> churn_heap_bytes() const;
  // After reopen(): throws unless the pool holds exactly `objects` objects
  // (and, where the engine can tell, `bytes` requested bytes in all), and its
  // own consistency check finds nothing.
  virtual void check_churn(std::uint64_t objects, std::uint64_t bytes);

  // --- footprint (bench/footprint.h drives the engine through these) ---
  // The engines that do not run footprint keep the defaults, which throw.
  // For footprint, open() creates the pool, allocates the region (untimed)
  // and closes the pool again, so that the working view starts with no
  // private page: footprint_open() opens it for the measured part.

  // Opens the pool open() prepared. REQUIRES: open() of footprint.
  virtual void footprint_open();
  // The pages (4 KiB each) of the region open() allocated.
  virtual std::uint64_t footprint_pages() const;
  // One op: a transaction that snapshots the first footprint_update_bytes
  // of page `page` and sets each of their 8-byte words to `stamp`; durable
  // when it returns.
  virtual void footprint_update(std::uint64_t page, std::uint64_t stamp);
  // Word `word` of page `page` (after reopen(): what survived).
  virtual std::uint64_t footprint_word(std::uint64_t page, std::size_t word) const;

  // Figures measured by the engine itself since the last call (open: the
  // open and the first allocation apart), name -> value; then forgotten.
  virtual std::vector<std::pair<std::string, double>> take_figures() { return {}; }
};

// e.read_counters(), with the process's os syncs so far.
counters sample_counters(const bench_engine& e);

// Engines compiled into this binary, in report order.
std::vector<std::string_view> compiled_engines();

// False for the cells an engine cannot measure, which the driver skips and
// the report shows as n/a: libpmemobj has no map; std has no pool to open
// and no heap to fill; LMDB and SQLite have no cache-line persistence path
// (page media only) and run tx_set8 and the ordered maps only; footprint
// (a ferrite_only workload) runs on ferrite alone.
bool engine_measures(std::string_view engine, workload w, media_mode m, structure shape);

// The files an engine keeps for the pool `pool`: the pool itself and its
// companions (LMDB's lock file, SQLite's WAL and shared-memory index), all
// removed by the driver when a cell process cannot remove them itself.
std::vector<std::filesystem::path> engine_files(std::string_view engine,
                                                const std::filesystem::path& pool);

// True for names ferrite-bench knows, compiled in or not.
bool known_engine(std::string_view name);

std::unique_ptr<bench_engine> make_engine(std::string_view name);

// Environment variables the engine must see before its libraries load, so
// that the pool runs on `mode`: {name, value}; an empty value unsets it.
std::vector<std::pair<std::string, std::string>> engine_environment(std::string_view name,
                                                                    media_mode mode);

// The engine factories (one file each).
// checked: pool_options::checked_transactions (engine "ferrite-checked");
// inline_checkpoints: pool_options::background_checkpoint = false (engine
// "ferrite-inline": committing threads checkpoint, no checkpointer thread).
std::unique_ptr<bench_engine> make_ferrite_engine(bool checked = false,
                                                  bool inline_checkpoints = false);
std::unique_ptr<bench_engine> make_std_engine();
std::unique_ptr<bench_engine> make_floor_engine();
std::unique_ptr<bench_engine> make_pmdk_engine();  // only when built with libpmemobj
// meta_sync false: MDB_NOMETASYNC (engine "lmdb-nometasync").
std::unique_ptr<bench_engine> make_lmdb_engine(bool meta_sync);  // only with liblmdb
std::unique_ptr<bench_engine> make_sqlite_engine();              // only with libsqlite3

}  // namespace ferrite::bench
