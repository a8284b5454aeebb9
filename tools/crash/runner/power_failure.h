// Simulated power failures: a workload run on a sim_device, a crash image
// at every barrier, each image recovered and checked.
//
// Crash points of a run, as named in a crash path:
//   N      the device's barrier number N (a fence or a sync), counted from
//          the device's creation; the images are taken just before the
//          barrier takes effect (durable image + a subset of the units in
//          flight, subsets.h). Barriers while the pool is created accept
//          an image that is not a pool yet.
//   opK    just after operation K returned: the durable image alone, which
//          must show operation K (a commit returns only once durable).
//   end    after the pool was closed.
// Inside the recovery of an image, barriers are numbered from 0 on the
// device that holds that image. A path chains them: "57:prefix:12/1:all" is
// the image at barrier 57 with the first 12 units in flight, then, while
// recovering it, the image at its barrier 1 with all units in flight.
//
// Each image is checked in this order; the first check that does not hold
// is the failure:
//   1. recovery: pool::open succeeds (crashes inside it are explored, up to
//      exploration::recovery_depth levels);
//   2. structural_check(pool&);
//   3. the state is one of the acceptable ones (the model after the last
//      committed operation, or after the one in flight), and the workload's
//      invariants hold;
//   4. idempotence: the image as it was when recovery had applied every
//      record but not yet stored its superblock, recovered again, gives the
//      same heap bytes (invariant 4);
//   5. the workload goes on for continue_ops operations on the recovered
//      pool: checked in memory; then the durable image of that moment (a
//      crash: the new epoch's records replay, the old ones must not) is
//      recovered and checked; then the pool must close cleanly.
#pragma once

#include <optional>

#include "tools/crash/runner/campaign.h"
#include "tools/crash/runner/job_queue.h"

namespace ferrite::crash {

// Runs `target` once on a simulated device and checks its crash images on
// `checkers`. With `only_path`, takes just the images on that path.
void run_power_failures(const run_target& target, const exploration& ex,
                        const std::optional<crash_path>& only_path, tally& t, job_queue& checkers);

}  // namespace ferrite::crash
