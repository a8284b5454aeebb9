// Checking one crash image (steps 1-5 of power_failure.h), and the helpers
// the other modes share: matching a pool against acceptable model states.
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

class image_checker {
 public:
  image_checker(const run_target& target, const exploration& ex,
                const std::optional<crash_path>& only_path, tally& t);

  // Checks `image`, reached by `path`; with `explore_recovery`, also the
  // images of crashes inside its recovery.
  void check(std::vector<std::byte> image, const acceptable_states& acc, const crash_path& path,
             bool explore_recovery) const;

  // Seed of the subsets sampled at the crash point `path` leads to.
  std::uint64_t subset_seed(const std::string& path) const;

 private:
  void fail(const crash_path& path, const std::string& what) const;
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
