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
// A process crash (kill -9) at barrier N is the point N with the subset
// "process" ("57:process"): the next process recovers the page cache (or
// the CPU caches) of that moment, while the media hold only the durable
// image (image_checker::check_process_crash); a power failure inside that
// recovery is a step below it ("57:process/2:suffix:1"; "after" is the
// moment recovery returned). A run takes exploration::process_crashes such
// points, in operations (or the close) chosen by the seed, each at one
// barrier of its operation chosen by the seed.
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

#include <chrono>
#include <cstdint>
#include <optional>

#include "tools/crash/runner/campaign.h"
#include "tools/crash/runner/job_queue.h"

namespace ferrite::crash {

// The barriers of a run that a turn of --long explores. The run goes
// through the barriers before `first_barrier` without crash images (a
// fast-forward: the device, its barrier numbers and the states are those
// of a complete run, so crash paths stay valid; with several threads the
// moments behind the numbers may differ, see docs/crash.md); once `until`
// has passed, the next barrier and those after it are not explored, and
// the run stops before its next operation, leaving the rest to a later
// turn (end_of_run, the close and the `opK` image of an operation cut
// short are not checked then).
struct run_window {
  std::uint64_t first_barrier = 0;
  std::optional<std::chrono::steady_clock::time_point> until;
};

// How far a run went.
struct run_reach {
  std::uint64_t ops = 0;           // operations done
  std::uint64_t next_barrier = 0;  // the first barrier a later turn explores
  bool complete = false;           // every operation and the close, explored to the end
};

// Runs `target` once on a simulated device and checks its crash images on
// `checkers`. With `only_path`, takes just the images on that path.
run_reach run_power_failures(const run_target& target, const exploration& ex,
                             const std::optional<crash_path>& only_path, tally& t,
                             job_queue& checkers, const run_window& window = {});

}  // namespace ferrite::crash
