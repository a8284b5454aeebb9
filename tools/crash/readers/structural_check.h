// structural_check: is a recovered pool well-formed, whatever it holds?
//
// Run by ferrite-crash on every pool it recovers, before the workload's own
// invariants and model. It is the one hook for structural checking: it runs
// the engine behind `ferrite check` (check_pool, engine/check.h: header,
// superblock slots, log, and the whole heap: chunk tables, runs, bitmaps,
// object headers), plus what only holds right after a writable recovery:
// the current superblock is the state the pool runs on, and the log is
// empty.
#pragma once

#include <string>
#include <vector>

#include "ferrite/engine/pool.h"

namespace ferrite::crash {

// The problems found in `p` (empty: none). Reads only.
std::vector<std::string> structural_check(pool& p);

}  // namespace ferrite::crash
