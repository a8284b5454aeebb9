#include "tools/crash/runner/subsets.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

namespace ferrite::crash {
namespace {

using units_t = std::vector<std::uint64_t>;

// Up to `want` distinct values in [lo, hi]: both ends, then evenly spaced,
// then seeded random ones.
std::vector<std::size_t> sample(std::size_t lo, std::size_t hi, std::size_t want,
                                std::mt19937_64& rng) {
  std::set<std::size_t> out;
  if (want == 0 || lo > hi) return {};
  const std::size_t span = hi - lo + 1;
  if (span <= want) {
    for (std::size_t v = lo; v <= hi; ++v) out.insert(v);
    return {out.begin(), out.end()};
  }
  out.insert(lo);
  out.insert(hi);
  const std::size_t even = want / 2;
  for (std::size_t i = 1; i < even; ++i) out.insert(lo + span * i / even);
  while (out.size() < want) out.insert(lo + rng() % span);
  return {out.begin(), out.end()};
}

crash_subset random_subset(std::size_t j, const units_t& units, std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ (0x5bd1e995ull * (j + 1)));
  // Half, sparse (1/8) and dense (7/8) subsets in turn.
  const unsigned keep_in_8 = j % 3 == 0 ? 4 : j % 3 == 1 ? 1 : 7;
  crash_subset s{"random:" + std::to_string(j), {}};
  for (std::uint64_t u : units) {
    if (rng() % 8 < keep_in_8) s.units.push_back(u);
  }
  return s;
}

}  // namespace

std::vector<std::uint64_t> in_flight_units(const sim_device& dev) {
  std::vector<std::uint64_t> out;
  const std::size_t u = dev.unit_size();
  const std::size_t size = dev.size();
  for (std::uint64_t unit : dev.dirty_units()) {
    const std::size_t off = unit * u;
    if (off >= size) continue;
    const std::size_t n = std::min(u, size - off);
    if (std::memcmp(dev.visible().data() + off, dev.durable().data() + off, n) != 0) {
      out.push_back(unit);
    }
  }
  return out;
}

std::vector<crash_subset> crash_subsets(const units_t& units, const subset_budget& budget,
                                        std::uint64_t seed) {
  std::vector<crash_subset> out;
  const std::size_t n = units.size();
  if (n <= budget.enumerate_up_to && n < 24) {
    // Nothing and everything first (the images explored further), then the rest.
    const std::uint64_t all = (std::uint64_t{1} << n) - 1;
    std::vector<std::uint64_t> masks = {0};
    if (all != 0) masks.push_back(all);
    for (std::uint64_t mask = 1; mask < all; ++mask) masks.push_back(mask);
    for (std::uint64_t mask : masks) {
      char name[32];
      std::snprintf(name, sizeof name, "mask:0x%llx", static_cast<unsigned long long>(mask));
      crash_subset s{name, {}};
      for (std::size_t i = 0; i < n; ++i) {
        if (mask >> i & 1) s.units.push_back(units[i]);
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  std::mt19937_64 rng(seed);
  out.push_back({"none", {}});
  out.push_back({"all", units});
  for (std::size_t k : sample(1, n - 1, budget.prefixes, rng)) {
    out.push_back({"prefix:" + std::to_string(k), units_t(units.begin(), units.begin() + k)});
  }
  for (std::size_t k : sample(1, n - 1, budget.suffixes, rng)) {
    out.push_back({"suffix:" + std::to_string(k), units_t(units.end() - k, units.end())});
  }
  for (std::size_t i : sample(0, n - 1, budget.all_but_one, rng)) {
    crash_subset s{"all-but:" + std::to_string(i), units};
    s.units.erase(s.units.begin() + i);
    out.push_back(std::move(s));
  }
  for (std::size_t j = 0; j < budget.random; ++j) out.push_back(random_subset(j, units, seed));
  return out;
}

std::optional<crash_subset> subset_named(const std::string& name, const units_t& units,
                                         std::uint64_t seed) {
  const std::size_t n = units.size();
  if (name == "none") return crash_subset{name, {}};
  if (name == "all") return crash_subset{name, units};
  const auto colon = name.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string kind = name.substr(0, colon);
  std::uint64_t v = 0;
  try {
    std::size_t used = 0;
    v = std::stoull(name.substr(colon + 1), &used, 0);
    if (used != name.size() - colon - 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  crash_subset s{name, {}};
  if (kind == "mask") {
    if (n < 64 && (v >> n) != 0) return std::nullopt;
    for (std::size_t i = 0; i < n && i < 64; ++i) {
      if (v >> i & 1) s.units.push_back(units[i]);
    }
  } else if (kind == "prefix" && v <= n) {
    s.units.assign(units.begin(), units.begin() + static_cast<std::ptrdiff_t>(v));
  } else if (kind == "suffix" && v <= n) {
    s.units.assign(units.end() - static_cast<std::ptrdiff_t>(v), units.end());
  } else if (kind == "all-but" && v < n) {
    s.units = units;
    s.units.erase(s.units.begin() + static_cast<std::ptrdiff_t>(v));
  } else if (kind == "random") {
    return random_subset(v, units, seed);
  } else {
    return std::nullopt;
  }
  return s;
}

}  // namespace ferrite::crash
