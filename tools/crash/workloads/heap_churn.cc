// Built-in workload heap-churn: the heap reusing what is freed (issue 14).
//
// Objects of mixed sizes, from 16 bytes (small size classes, runs shared by
// many objects) to 2.5 MiB (extents of up to 11 chunks), are allocated and
// freed at random, atomically and in transactions (some aborted), in an
// 8 MiB pool (a heap of 29 free chunks). Every twelfth operation frees every live object in one
// transaction, so that whole runs become empty and neighbouring extents are
// freed together (an allocator may give the runs' chunks back and coalesce
// the free chunks); the operation after it must then allocate one object of
// half the heap, and the one after that frees it again. The cycle:
//
//   op % 12:  0-8 random   9 free everything   10 half the heap   11 free it
//
// As in alloc-free, a table of slots at the start of the scratch region
// holds the objects' offsets; the model knows each slot's size and the
// operation whose number seeds its bytes, never an offset.
//
// What must hold in every recovered pool (check, invariants; before them the
// runner's structural check runs check_pool, whose heap walk is what
// pool.check() reports):
// - every slot the model fills points to a live object of its size and
//   bytes, every other slot is empty;
// - the heap holds exactly the slots' objects, and their requested bytes
//   (heap_statistics): nothing freed by a committed operation is still
//   allocated, nothing committed is lost, nothing is allocated twice.
// And when the operation runs (perform):
// - a random allocation never meets out_of_space: the live objects stay
//   within a budget (at most 3 live extents and 12 chunks of them, and 40
//   slots of small objects in six size classes), well below the heap's 29
//   chunks;
// - after everything was freed, the object of half the heap fits.
// A refusal in either case throws: the runner reports it as a failure.
#include <array>
#include <cmath>
#include <iterator>
#include <set>

#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash::builtin {
namespace {

constexpr std::size_t slot_count = 40;
constexpr std::uint64_t cycle = 12;
constexpr std::uint64_t drain_phase = 9;      // frees every live object
constexpr std::uint64_t must_fit_phase = 10;  // one object of half the heap
constexpr std::uint64_t release_phase = 11;   // frees it
constexpr std::size_t must_fit_slot = 0;
// The model's size of the must-fit object: half of p.heap_size(), known to
// the pool only (the heap's share of the pool is the engine's business).
constexpr std::uint64_t half_the_heap = UINT64_MAX;

constexpr std::uint64_t chunk_bytes = 256 * 1024;       // the heap's chunk (docs/format.md)
constexpr std::uint64_t max_extent_bytes = 5ull << 19;  // 2.5 MiB
constexpr std::uint64_t extent_chunk_budget = 12;
constexpr std::size_t max_live_extents = 3;

// Sizes of small objects: six size classes, from 16 bytes to slots of
// 32 KiB (runs of one or two chunks).
constexpr std::uint64_t small_sizes[] = {16, 40, 200, 1000, 4000, 30000};

bool is_extent(std::uint64_t size) {
  return size > chunk_bytes && size != half_the_heap;
}

// Chunks an extent of `size` bytes may take, its header included (an upper
// bound whatever the header's size).
std::uint64_t chunks_of(std::uint64_t size) {
  return size / chunk_bytes + 1;
}

class heap_churn_model final : public workload {
 public:
  explicit heap_churn_model(std::uint64_t seed) : seed_(seed) {}
  std::unique_ptr<workload> clone() const override {
    return std::make_unique<heap_churn_model>(*this);
  }

  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override;
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    if (drains_ == 0) return "nothing was freed all at once";
    if (must_fits_ == 0) return "no object of half the heap was allocated";
    if (extents_made_ == 0) return "no extent was allocated";
    return {};
  }

 private:
  struct slot {
    std::uint64_t size = 0;  // 0: empty; half_the_heap: the must-fit object
    std::uint64_t tag = 0;   // the operation that made the object
  };
  struct action {
    bool allocate;
    std::size_t slot;
    std::uint64_t size;
  };
  enum class mode { atomic_alloc, atomic_free, transaction, aborted, must_fit };
  struct plan {
    mode how = mode::transaction;
    std::vector<action> actions;  // empty: the operation does nothing
  };

  static std::uint64_t* table(const pool& p) {
    return reinterpret_cast<std::uint64_t*>(scratch_region(p));
  }
  static std::uint64_t* table_for_write(pool& p) {
    return reinterpret_cast<std::uint64_t*>(scratch_for_write(p));
  }
  static std::uint64_t bytes_of(const pool& p, std::uint64_t size) {
    return size == half_the_heap ? p.heap_size() / 2 : size;
  }
  plan plan_of(std::uint64_t op) const;
  plan random_plan(std::mt19937_64& rng, std::uint64_t op) const;

  std::uint64_t seed_;
  std::array<slot, slot_count> slots_{};
  std::uint64_t drains_ = 0;
  std::uint64_t must_fits_ = 0;
  std::uint64_t extents_made_ = 0;
};

heap_churn_model::plan heap_churn_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  plan pl;
  bool empty = true;
  for (const slot& s : slots_) empty = empty && s.size == 0;
  switch (op % cycle) {
    case drain_phase:
      for (std::size_t k = 0; k < slot_count; ++k) {
        if (slots_[k].size) pl.actions.push_back({false, k, 0});
      }
      return pl;
    case must_fit_phase:
      if (!empty) break;  // a recovered state from before the drain: a random op
      pl.how = mode::must_fit;
      pl.actions.push_back({true, must_fit_slot, half_the_heap});
      return pl;
    case release_phase:
      if (slots_[must_fit_slot].size != half_the_heap) break;
      pl.how = mode::atomic_free;
      pl.actions.push_back({false, must_fit_slot, 0});
      return pl;
    default:
      break;
  }
  return random_plan(rng, op);
}

heap_churn_model::plan heap_churn_model::random_plan(std::mt19937_64& rng, std::uint64_t) const {
  std::vector<std::size_t> empty, full;
  std::uint64_t extent_chunks = 0;
  std::size_t extents = 0;
  for (std::size_t k = 0; k < slot_count; ++k) {
    const slot& s = slots_[k];
    (s.size ? full : empty).push_back(k);
    if (is_extent(s.size) || s.size == half_the_heap) {
      extent_chunks += s.size == half_the_heap ? extent_chunk_budget : chunks_of(s.size);
      extents += 1;
    }
  }
  auto pick = [&](std::vector<std::size_t>& from) {
    const std::size_t i = rng() % from.size();
    const std::size_t k = from[i];
    from.erase(from.begin() + static_cast<std::ptrdiff_t>(i));
    return k;
  };
  // A size: small (two in three) or an extent, log-uniform between one
  // chunk and max_extent_bytes, when the budget has room for it (frees in
  // the same operation take effect at commit: they do not make room).
  auto size = [&]() -> std::uint64_t {
    if (rng() % 3 != 0) return small_sizes[rng() % std::size(small_sizes)];
    const double u = static_cast<double>(rng() >> 11) / static_cast<double>(1ull << 53);
    const auto s = static_cast<std::uint64_t>(
        static_cast<double>(chunk_bytes + 1) *
        std::pow(static_cast<double>(max_extent_bytes) / static_cast<double>(chunk_bytes + 1), u));
    if (extents >= max_live_extents || extent_chunks + chunks_of(s) > extent_chunk_budget) {
      return small_sizes[rng() % std::size(small_sizes)];
    }
    extents += 1;
    extent_chunks += chunks_of(s);
    return s;
  };
  plan pl;
  const std::uint64_t r = rng() % 6;
  if (r == 0 && !empty.empty()) {
    pl.how = mode::atomic_alloc;
    pl.actions.push_back({true, pick(empty), size()});
    return pl;
  }
  if (r == 1 && !full.empty()) {
    pl.how = mode::atomic_free;
    pl.actions.push_back({false, pick(full), 0});
    return pl;
  }
  pl.how = r == 2 ? mode::aborted : mode::transaction;
  const std::size_t n = 1 + rng() % 4;
  for (std::size_t i = 0; i < n; ++i) {
    // Allocations outnumber frees while the table is less than half full.
    const std::uint64_t odds = empty.size() > full.size() ? 3 : 1;  // in 4
    const bool allocate = !empty.empty() && (full.empty() || rng() % 4 < odds);
    if (allocate) {
      pl.actions.push_back({true, pick(empty), size()});
    } else if (!full.empty()) {
      pl.actions.push_back({false, pick(full), 0});
    }
  }
  return pl;
}

void heap_churn_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  if (pl.actions.empty()) return;
  auto refused = [&](std::uint64_t bytes, const std::string& when) {
    const heap_stats h = p.heap_statistics();
    return std::logic_error("the heap refused an object of " + std::to_string(bytes) + " bytes " +
                            when + " (heap " + std::to_string(h.heap_bytes) + " bytes, " +
                            std::to_string(h.objects) + " objects of " +
                            std::to_string(h.object_bytes) + " bytes live, largest_free " +
                            std::to_string(h.largest_free) + ")");
  };
  switch (pl.how) {
    case mode::must_fit:
    case mode::atomic_alloc: {
      const action& a = pl.actions.front();
      const std::uint64_t bytes = bytes_of(p, a.size);
      try {
        p.allocate_into(&table_for_write(p)[a.slot], bytes,
                        [&](void* o) { fill_pattern(o, bytes, op); });
      } catch (const ferrite::error& e) {
        if (e.code() != error_code::out_of_space) throw;
        throw refused(bytes, pl.how == mode::must_fit ? "after everything was freed (half the heap)"
                                                      : "within the workload's budget");
      }
      return;
    }
    case mode::atomic_free:
      p.deallocate_from(&table_for_write(p)[pl.actions.front().slot]);
      return;
    case mode::transaction:
    case mode::aborted:
      break;
  }
  auto body = [&] {
    std::uint64_t* t = table_for_write(p);
    for (const action& a : pl.actions) {
      tx_snapshot(&t[a.slot], 8);
      if (a.allocate) {
        void* o = nullptr;
        try {
          o = p.allocate(a.size);  // new memory: no snapshot needed
        } catch (const ferrite::error& e) {
          if (e.code() != error_code::out_of_space) throw;
          throw refused(a.size, "within the workload's budget");
        }
        fill_pattern(o, a.size, op);
        t[a.slot] = p.offset_of(o);
      } else {
        p.deallocate(p.at(t[a.slot]));
        t[a.slot] = 0;
      }
    }
  };
  if (pl.how == mode::transaction) {
    p.transaction(body);
    return;
  }
  try {
    p.transaction([&] {
      body();
      throw std::runtime_error("aborted on purpose");
    });
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()) != "aborted on purpose") throw;
  }
}

void heap_churn_model::apply(std::uint64_t op) {
  const plan pl = plan_of(op);
  if (pl.how == mode::aborted) return;
  if (op % cycle == drain_phase && !pl.actions.empty()) drains_ += 1;
  if (pl.how == mode::must_fit) must_fits_ += 1;
  for (const action& a : pl.actions) {
    slots_[a.slot] = a.allocate ? slot{a.size, op} : slot{};
    extents_made_ += a.allocate && is_extent(a.size);
  }
}

std::string heap_churn_model::check(const pool& p) const {
  const std::uint64_t* t = table(p);
  for (std::size_t k = 0; k < slot_count; ++k) {
    const slot& s = slots_[k];
    const std::string where = "slot " + std::to_string(k) + ": ";
    if ((t[k] != 0) != (s.size != 0)) {
      return where + (t[k] ? "holds an object the model freed or never made"
                           : "empty, the model holds an object of " +
                                 std::to_string(bytes_of(p, s.size)) + " bytes");
    }
    if (s.size == 0) continue;
    if (t[k] < p.heap_offset() || t[k] >= p.heap_offset() + p.heap_size()) {
      return where + "offset " + std::to_string(t[k]) + " outside the heap";
    }
    const void* o = p.at(t[k]);
    const std::uint64_t want = bytes_of(p, s.size);
    std::size_t size = 0;
    try {
      size = p.object_size(o);
    } catch (const ferrite::error& e) {
      return where + e.what();
    }
    if (size != want) {
      return where + "object of " + std::to_string(size) + " bytes, the model's is " +
             std::to_string(want);
    }
    if (!matches_pattern(o, want, s.tag)) return where + "the object's bytes differ";
  }
  return {};
}

std::string heap_churn_model::invariants(const pool& p) const {
  const std::uint64_t* t = table(p);
  std::set<std::uint64_t> offsets;
  std::uint64_t bytes = 0;
  for (std::size_t k = 0; k < slot_count; ++k) {
    if (t[k] == 0) continue;
    if (!offsets.insert(t[k]).second) {
      return "two slots hold the object at " + std::to_string(t[k]) + " (a double allocation)";
    }
    if (t[k] < p.heap_offset() || t[k] >= p.heap_offset() + p.heap_size()) {
      return "slot " + std::to_string(k) + " points outside the heap";
    }
    try {
      bytes += p.object_size(p.at(t[k]));
    } catch (const ferrite::error& e) {
      return "slot " + std::to_string(k) + ": " + e.what();
    }
  }
  heap_stats h = p.heap_statistics();
  if (scratch_objects(p)) {  // the slot table's own object
    h.objects -= 1;
    h.object_bytes -= scratch_capacity;
  }
  if (h.objects != offsets.size() || h.object_bytes != bytes) {
    return "the heap holds " + std::to_string(h.objects) + " objects of " +
           std::to_string(h.object_bytes) + " bytes, the slots " + std::to_string(offsets.size()) +
           " of " + std::to_string(bytes) +
           (h.objects > offsets.size() ? " (freed objects still allocated, or a leak)" : "");
  }
  return {};
}

}  // namespace

workload_info heap_churn() {
  workload_info w;
  w.name = "heap-churn";
  w.description =
      "objects of 16 B to 2.5 MiB allocated and freed at random, everything freed at once every "
      "12 ops, then one object of half the heap: no leak, no double allocation, freed space "
      "reusable";
  w.make = [](std::uint64_t seed) { return std::make_unique<heap_churn_model>(seed); };
  w.pool_sizes = {8ull << 20};
  w.quick_ops = 12;  // one cycle: the drain (op 9) and half the heap (op 10)
  w.long_ops = 48;
  return w;
}

}  // namespace ferrite::crash::builtin
