// Fault injection on the simulated device (sim_device's knobs). Each case
// expects a clear ferrite::error, and nothing committed lost: afterwards
// the pool recovers to the committed state (or, for the operation that
// failed, possibly the state after it).
//
//   sync-eio       the Nth barrier of a short run fails with EIO, for every
//                  N: the operation (or the next one, or close) reports
//                  io_error/read_only; every later transaction fails; the
//                  working view holds the committed state; the durable
//                  image, and the image with every write in flight, recover
//                  to it.
//   recovery-eio   a barrier of recovery fails: open reports io_error; the
//                  next open recovers the committed state.
//   create-enospc  the device is smaller than the pool: create reports
//                  no_space and leaves no pool; with room, create succeeds.
//   grow-enospc    pool::grow beyond the device: no_space, the pool is left
//                  as it was and goes on; a crash recovers the committed
//                  state.
//   map-fail       mapping the working view fails after recovery: open
//                  reports io_error; the next open recovers.
//   tx-too-large   a transaction larger than half the log: commit reports
//                  out_of_space, the working view is rolled back, the pool
//                  goes on, and a crash recovers the committed state.
#pragma once

#include <cstdint>

#include "tools/crash/runner/campaign.h"

namespace ferrite::crash {

// Runs every case for `target` (its workload, medium, pool size, and
// `target.ops` operations). Returns the number of cases run.
std::uint64_t run_faults(const run_target& target, tally& t);

}  // namespace ferrite::crash
