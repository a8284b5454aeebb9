// The structural check of a whole pool: what `ferrite check` runs, what
// `ferrite copy` runs on its source, and what the crash runner and the
// fuzzer run after every recovery.
//
//   ferrite::check_report r = ferrite::check_pool("game.pool");
//   for (const auto& p : r.problems)
//     std::cout << p.offset << " [" << ferrite::to_string(p.area) << "] " << p.what << "\n";
//   std::cout << r.unreachable << " objects `ferrite gc` would free\n";
//
// It opens the pool read-only (recovering committed work in memory only)
// and looks at everything a program, `ferrite dump` and `ferrite gc` read:
//  1. header, both superblock slots and the change log (a pool that does
//     not open as corrupted, truncated or of a bad version is one problem);
//  2. the allocator (alloc/heap_check.h): every chunk table entry, run,
//     bitmap and object header in bounds, no two blocks overlapping, every
//     object's type id in the type table;
//  3. the object graph, by the garbage collector's own mark walk in check
//     mode (engine/detail/gc_mark.h): from the root through every pointer
//     field of the type table, the storage of every container (string,
//     vector, hash_map segments/buckets/nodes, map/set B+-tree nodes and
//     leaf chain, through the one container decoder of
//     base/detail/container_layout.h) and every value cell. Each pointer
//     must name an allocated object of this pool (not a free chunk or free
//     slot, not the heap's metadata), each read stay inside it, each
//     container agree with its storage; plus the format checks the
//     collector does not need (gc_mark.h, "check mode"): pointers aligned
//     for their type, typed objects holding a whole value, value cells
//     (bool 0/1, buffer types, NUL, codec names, payload struct types).
//     The walk goes on after damage, so one broken container does not hide
//     the rest (each problem names the pool offset of the bad field);
//  4. the two against each other: every object the graph reaches is one
//     the allocator lists (an object reached but not listed is a problem:
//     e.g. a zeroed chunk table under a live graph); the objects listed but
//     not reached are counted (below);
//  5. reference counts of values (docs/gc.md): a payload whose stored count
//     is below the reachable cells naming it is a problem (a drop could
//     free it while named); a count above is counted, not a problem.
//
// Severity. A problem is damage: a program, `dump` or `gc` would fail or
// misread the pool; `ferrite check` exits 1. Two findings are legitimate
// in a sound pool and are counts, not problems (exit 0):
//  - `unreachable`: allocated objects the graph does not reach, i.e. what
//    `ferrite gc` (or the collection at open) would free. A pool holds them
//    after a crash opened with gc_after_crash off, after a typed struct was
//    freed by a raw tx_free, and while a large drop's follow-up transactions
//    were pending. With no root, every object is unreachable (`gc` frees
//    nothing in a pool without a root: no reachability is defined). When
//    the graph is damaged, whatever lies beyond the damage is counted here.
//  - `counts_too_high`: value payloads whose count exceeds the reachable
//    cells naming them (leaks `gc` repairs; docs/gc.md).
//
// Agreement: on a damaged pool for which `ferrite dump` or `ferrite gc`
// reports damage, check reports at least one problem (tests/check_test.cc
// runs the damage corpus of tests/damage/ to hold it to that).
// Not covered: a tuple that contains itself (dump reports the cycle; the
// mark walk visits each tuple buffer once and does not see it), stored
// hashes against their keys, text encodings.
//
// Cost: linear in the heap size plus the reachable graph: two bitmaps of
// one bit per 16 heap bytes (heap/64 bytes in all), the mark walk's work
// stack, and one map entry per reachable value payload (reference counts).
// No allocation per plain object.
//
// Thread-safety: check_pool(path) opens its own read-only pool. On an open
// pool, REQUIRES that no transaction runs on it while it is checked; value
// payloads pinned by handles of this process are not counted as reached.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ferrite/engine/pool.h"

namespace ferrite {

// Which part of the pool a problem is in (`ferrite check --json`: "kind").
enum class problem_area : std::uint8_t {
  open,        // the pool does not open: header, type table, log records
  superblock,  // one of the two superblock slots
  log,         // the change log against the shutdown state
  heap,        // the allocator: chunk table, runs, bitmaps, object headers
  type,        // an object's (or the root's) type id not in the type table
  graph,       // the reachable graph: a pointer, container storage, a value cell
  refcount,    // a value payload's reference count below its reachable cells
};
const char* to_string(problem_area a) noexcept;

struct check_problem : pool_problem {
  problem_area area = problem_area::heap;
};

struct check_report {
  std::vector<check_problem> problems;  // empty: the pool is sound
  std::uint64_t problems_found = 0;     // listed or not (check_problem_limit)
  std::uint64_t objects = 0;            // allocated objects the allocator lists
  std::uint64_t reachable = 0;          // of those, reached from the root
  std::uint64_t unreachable = 0;        // the others: what `ferrite gc` would free
  std::uint64_t unreachable_bytes = 0;  // their requested sizes
  std::uint64_t counts_too_high = 0;    // value payloads counted above their cells
  std::uint64_t recovered_records = 0;  // committed work not yet checkpointed
  bool was_clean_shutdown = false;
  bool has_root = false;
};

// At most this many problems are listed (problems_found counts them all).
inline constexpr std::size_t check_problem_limit = 1000;

// Checks the pool at `path` (or options.device). Problems that keep the
// pool from opening at all (corrupted, truncated, bad_version) are reported
// as problems; errors that say it is not a pool or cannot be reached
// (not_a_pool, file_missing, pool_locked, permission_denied) are thrown.
check_report check_pool(const std::filesystem::path& path, pool_options options = {});

// The same checks on a pool that is already open.
check_report check_pool(const pool& p);

}  // namespace ferrite
