// Process crashes: a child process runs the workload on a real pool file
// (in a temporary directory) and is SIGKILLed at a random moment; the
// parent opens the file, checks it, and forks the next child, which
// recovers the pool and carries on from the state found. Some kills land
// while the child is still recovering.
//
// The child reports its progress through a shared memory page: `started`
// (operations begun) and `committed` (operations that returned). After the
// kill, the acceptable states are the model after `committed` operations,
// and after `started` when an operation was in flight.
//
// The parent checks a read-only open (recovery in memory only, so that the
// next child recovers the file for real), and every fourth kill a writable
// open too. Every other child runs with PMEM2_FORCE_GRANULARITY=cacheline
// (fences instead of msync).
#pragma once

#include <cstdint>

#include "tools/crash/runner/campaign.h"

namespace ferrite::crash {

struct kill_counts {
  std::uint64_t kills = 0;
  std::uint64_t operations = 0;       // committed by the children, all told
  std::uint64_t before_first_op = 0;  // kills before the child's first operation
};

// Runs `kills` kill-and-check rounds of `w` seeded with `seed`, on a pool of
// its first size.
kill_counts run_process_kills(const workload_info& w, std::uint64_t seed, std::uint64_t kills,
                              tally& t);

}  // namespace ferrite::crash
