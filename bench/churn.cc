#include "bench/churn.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>

namespace ferrite::bench {
namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
}

// A size in [churn_min_size, churn_max_size] whose logarithm is uniform:
// as many objects of 16-32 bytes as of 32-64 KiB. Computed from the raw
// generator output, so the sequence is the same in every engine.
std::uint64_t log_uniform_size(std::mt19937_64& rng) {
  const double u = static_cast<double>(rng() >> 11) / static_cast<double>((1ull << 53) - 1);
  const double span = std::log(static_cast<double>(churn_max_size / churn_min_size));
  const auto size = static_cast<std::uint64_t>(
      std::llround(static_cast<double>(churn_min_size) * std::exp(u * span)));
  return std::clamp(size, churn_min_size, churn_max_size);
}

struct live_object {
  std::uint64_t handle;
  std::uint64_t size;
};

// The objects allocated and not freed, and the sum of their requested sizes.
struct live_set {
  std::vector<live_object> objects;
  std::uint64_t bytes = 0;

  void add(std::uint64_t handle, std::uint64_t size) {
    objects.push_back({handle, size});
    bytes += size;
  }
  // Removes object i (swapped with the last: the order is the generator's
  // business, not the heap's).
  live_object take(std::size_t i) {
    live_object o = objects[i];
    objects[i] = objects.back();
    objects.pop_back();
    bytes -= o.size;
    return o;
  }
};

struct timed_total {
  std::uint64_t count = 0;
  double ns = 0;
  double mean() const { return count ? ns / static_cast<double>(count) : 0; }
};

}  // namespace

churn_outcome run_churn(bench_engine& e, std::uint64_t pool_bytes) {
  const std::optional<std::uint64_t> heap = e.churn_heap_bytes();
  const std::uint64_t heap_bytes = heap.value_or(pool_bytes);
  std::mt19937_64 rng(churn_seed);
  live_set live;
  churn_outcome out;
  bool refused = false;
  std::uint64_t refused_size = 0;

  // One allocation, timed into `t`; false when the engine refused it.
  auto allocate = [&](std::uint64_t size, timed_total& t) {
    const auto start = clock_type::now();
    std::optional<std::uint64_t> h = e.churn_allocate(size);
    const double ns = ns_since(start);
    if (!h) return false;
    t.ns += ns;
    t.count += 1;
    live.add(*h, size);
    return true;
  };

  // (a) fill to half the heap.
  timed_total fill;
  counters before = sample_counters(e);
  while (!refused && live.bytes < heap_bytes / 2) {
    const std::uint64_t size = log_uniform_size(rng);
    if (!allocate(size, fill)) {
      refused = true;
      refused_size = size;
    }
  }
  const bool failed_in_fill = refused;

  // (b) churn until the first refusal.
  timed_total churn_alloc, churn_free;
  if (!refused) {
    before = sample_counters(e);
    while (!refused) {
      if (!live.objects.empty() && rng() % 3 == 0) {
        const live_object o = live.take(rng() % live.objects.size());
        const auto start = clock_type::now();
        e.churn_free(o.handle);
        churn_free.ns += ns_since(start);
        churn_free.count += 1;
      } else {
        const std::uint64_t size = log_uniform_size(rng);
        if (!allocate(size, churn_alloc)) {
          refused = true;
          refused_size = size;
        }
      }
    }
  }
  out.churn_counters = difference(sample_counters(e), before);
  out.alloc_ns_per_op = failed_in_fill ? fill.mean() : churn_alloc.mean();
  out.churn_ops = failed_in_fill ? fill.count : churn_alloc.count + churn_free.count;
  const std::uint64_t live_at_failure = live.bytes;
  const std::uint64_t objects_at_failure = live.objects.size();

  // (c) free everything, refill with 32 KiB objects.
  for (const live_object& o : live.objects) e.churn_free(o.handle);
  live = live_set{};
  timed_total refill;
  while (allocate(churn_refill_size, refill)) {
  }
  out.objects = live.objects.size();
  out.bytes = live.bytes;

  auto share = [](std::uint64_t part, std::uint64_t whole) {
    return static_cast<double>(part) / static_cast<double>(whole);
  };
  auto& f = out.figures;
  if (heap) f.emplace_back("live_per_heap", share(live_at_failure, *heap));
  f.emplace_back("live_per_pool", share(live_at_failure, pool_bytes));
  if (heap) f.emplace_back("refill_per_heap", share(live.bytes, *heap));
  f.emplace_back("refill_per_pool", share(live.bytes, pool_bytes));
  if (heap) f.emplace_back("heap_bytes", static_cast<double>(*heap));
  f.emplace_back("live_bytes_at_failure", static_cast<double>(live_at_failure));
  f.emplace_back("objects_at_failure", static_cast<double>(objects_at_failure));
  f.emplace_back("refused_size", static_cast<double>(refused_size));
  f.emplace_back("failed_in_fill", failed_in_fill ? 1 : 0);
  f.emplace_back("fill_allocs", static_cast<double>(fill.count));
  f.emplace_back("fill_alloc_ns", fill.mean());
  f.emplace_back("churn_allocs", static_cast<double>(churn_alloc.count));
  f.emplace_back("churn_frees", static_cast<double>(churn_free.count));
  f.emplace_back("churn_free_ns", churn_free.mean());
  f.emplace_back("refill_objects", static_cast<double>(refill.count));
  return out;
}

}  // namespace ferrite::bench
