// The structural check of a whole pool: what `ferrite check` runs, and what
// the crash runner and the fuzzer run after every recovery.
//
// It opens the pool read-only (recovering committed work in memory only),
// then verifies the header, both superblock slots, the change log and the
// heap (every chunk table entry, run, bitmap and object header: in bounds,
// no overlaps, counts agree). A pool file is untrusted input: any image,
// however damaged, gives problems or an error, never a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ferrite/engine/pool.h"

namespace ferrite {

struct check_report {
  std::vector<pool_problem> problems;  // empty: the pool is sound
  std::uint64_t objects = 0;
  std::uint64_t recovered_records = 0;  // committed work not yet checkpointed
  bool was_clean_shutdown = false;
};

// Checks the pool at `path` (or options.device). Problems that keep the
// pool from opening at all (corrupted, truncated, bad_version) are reported
// as problems; errors that say it is not a pool or cannot be reached
// (not_a_pool, file_missing, pool_locked, permission_denied) are thrown.
check_report check_pool(const std::filesystem::path& path, pool_options options = {});

// The same checks on a pool that is already open.
check_report check_pool(const pool& p);

}  // namespace ferrite
