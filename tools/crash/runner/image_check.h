// Checking one crash image (steps 1-5 of power_failure.h), or the pool
// file a process crash leaves (check_process_crash), and the helpers the
// other modes share: matching a pool against acceptable model states.
//
// Thread-safety: an image_checker is used by several checker threads at
// once; it holds no mutable state of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/crash/runner/campaign.h"

namespace ferrite::crash {

// The model after `ops` operations.
struct model_state {
  std::shared_ptr<const workload> model;
  std::uint64_t ops = 0;
};

// The states a crash image may show.
struct acceptable_states {
  std::vector<model_state> states;
  bool may_be_no_pool = false;  // a crash while the pool is being created
};

// The state among `acc` that `p` holds, or nothing; `why` then says how
// each one differs. Also checks the workload's invariants (on a match).
std::optional<model_state> match_state(const pool& p, const acceptable_states& acc,
                                       std::string& why);

// "what: message [code]" for an exception.
std::string describe(const std::exception& e);

// What the heap of `p` holds, in one parenthesised line (for failures).
std::string heap_summary(const pool& p);

class recovery_snapshot;

// The subset name of a process crash in a crash path ("57:process").
inline constexpr const char* process_crash_subset = "process";

class image_checker {
 public:
  image_checker(const run_target& target, const exploration& ex,
                const std::optional<crash_path>& only_path, tally& t);

  // Checks `image`, reached by `path`; with `explore_recovery`, also the
  // images of crashes inside its recovery.
  void check(std::vector<std::byte> image, const acceptable_states& acc, const crash_path& path,
             bool explore_recovery) const;

  // Checks the pool file a process crash (kill -9) leaves at a barrier of
  // the workload: the next process reads `visible` (what the dead one
  // stored: the page cache, or the CPU caches on cache-line media), the
  // media hold `durable`, and `in_flight` (in first-written order) are the
  // units between them (sim_device::after_process_crash). `path` is
  // "N:process". Checks, the first that fails being the failure:
  //   - its recovery, as check() checks an image's (steps 1-5; the
  //     idempotence image is the page cache at recovery's latest barrier
  //     before it stored a superblock: every record applied, none
  //     checkpointed);
  //   - a power failure at every barrier inside that recovery: the durable
  //     image plus subsets of the units then in flight (the dead process's
  //     that recovery did not make durable, and recovery's own), sampled
  //     with exploration::after_process_crash, each checked by check();
  //   - a power failure just after recovery returned (point "after", when
  //     units are still in flight): only the state recovery returned is
  //     acceptable then.
  void check_process_crash(std::vector<std::byte> visible, std::vector<std::byte> durable,
                           std::vector<std::uint64_t> in_flight, const acceptable_states& acc,
                           const crash_path& path) const;

  // Seed of the subsets sampled at the crash point `path` leads to.
  std::uint64_t subset_seed(const std::string& path) const;

 private:
  void fail(const crash_path& path, const std::string& what) const;
  // Checks, by check(), the images of a power failure at the crash point
  // `point` of the device `d` (durable plus subsets of the units in flight,
  // from `budget`), each reached by `path`/point:subset. With --at, only
  // the one the path names; false when the path names another point.
  bool check_power_failures(const sim_device& d, const std::string& point,
                            const subset_budget& budget, const acceptable_states& acc,
                            const crash_path& path) const;
  void check_recovered(pool& p, std::shared_ptr<sim_device> dev,
                       const recovery_snapshot& before_superblock, const acceptable_states& acc,
                       const crash_path& path) const;
  void continue_workload(pool& p, sim_device& dev, const model_state& from,
                         const crash_path& path) const;

  const run_target& target_;
  const exploration& ex_;
  const std::optional<crash_path>& only_path_;
  tally& tally_;
};

}  // namespace ferrite::crash
