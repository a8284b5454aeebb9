// Crash subsets: which of the writes in flight at a crash point reach the
// media in a simulated power failure.
//
// At a barrier, the device holds `units` in flight (8-byte words or 512-byte
// sectors, in the order they were first written; only those whose in-flight
// bytes differ from the durable ones matter, see in_flight_units). A crash
// image is the durable image plus one subset of them:
//
//   n <= budget.enumerate_up_to   every subset: "mask:0x..." (bit i = units[i]),
//                                 the empty and the full one first
//   otherwise                     "none", "all", and, each sampled down to its
//                                 budget: "prefix:K" (the first K units: writes
//                                 persisted in program order), "suffix:K" (the
//                                 last K: reverse order), "all-but:I" (every
//                                 unit but units[I]), "random:J" (seeded; dense,
//                                 half and sparse subsets in turn)
//
// A subset's name is its reproduction: subset_named() rebuilds it from the
// name, the units and the seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferrite/base/media/detail/sim_device.h"

namespace ferrite::crash {

struct subset_budget {
  std::size_t enumerate_up_to = 10;  // enumerate all 2^n subsets up to n units
  std::size_t prefixes = 6;
  std::size_t suffixes = 6;
  std::size_t all_but_one = 4;
  std::size_t random = 4;
};

struct crash_subset {
  std::string name;
  std::vector<std::uint64_t> units;
};

// The dirty units of `dev` whose visible bytes differ from the durable ones,
// in first-written order. (A unit rewritten with its durable bytes cannot
// change any crash image.)
std::vector<std::uint64_t> in_flight_units(const sim_device& dev);

// The subsets to try at one crash point. `seed` drives the sampling and the
// random subsets.
std::vector<crash_subset> crash_subsets(const std::vector<std::uint64_t>& units,
                                        const subset_budget& budget, std::uint64_t seed);

// The subset called `name` (as crash_subsets names them), or nothing when
// the name does not fit `units`.
std::optional<crash_subset> subset_named(const std::string& name,
                                         const std::vector<std::uint64_t>& units,
                                         std::uint64_t seed);

}  // namespace ferrite::crash
