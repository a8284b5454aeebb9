// Built-in workloads on the allocator: alloc-free, grow.
//
// Both keep a table of slots (pool offsets of objects) at the start of the
// scratch region; the model knows, per slot, the size of the object it
// holds and the operation that made it, whose number seeds the object's
// bytes. Offsets are the allocator's business: the model never predicts
// them, only that each full slot points to a live object of the right size
// and contents.
//
// Invariant 6 as a workload invariant: every allocated object is in exactly
// one slot (the heap holds as many objects as there are full slots, and no
// two slots share one): no leak, no double allocation, whatever the crash.
#include <array>
#include <set>

#include "ferrite/engine/transaction.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash::builtin {

namespace {

// The bytes of an object made by operation `tag`: a cheap word pattern.
std::uint64_t pattern_word(std::uint64_t tag, std::uint64_t i) {
  std::uint64_t z = tag * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull + 1;
  z ^= z >> 31;
  return z * 0x94d049bb133111ebull;
}

}  // namespace

void fill_pattern(void* obj, std::uint64_t size, std::uint64_t tag) {
  auto* b = static_cast<std::byte*>(obj);
  for (std::uint64_t i = 0; i < size; i += 8) {
    const std::uint64_t w = pattern_word(tag, i / 8);
    std::memcpy(b + i, &w, std::min<std::uint64_t>(8, size - i));
  }
}

bool matches_pattern(const void* obj, std::uint64_t size, std::uint64_t tag) {
  const auto* b = static_cast<const std::byte*>(obj);
  for (std::uint64_t i = 0; i < size; i += 8) {
    const std::uint64_t w = pattern_word(tag, i / 8);
    if (std::memcmp(b + i, &w, std::min<std::uint64_t>(8, size - i)) != 0) return false;
  }
  return true;
}

namespace {

constexpr std::size_t slot_count = 48;
constexpr std::uint64_t max_grows = 24;    // grow: the pool stops at 26 MiB
constexpr std::uint64_t header_words = 2;  // grow: grows so far, heap size seen then

class alloc_model final : public workload {
 public:
  // `grow`: the pool starts at 2 MiB (5 free chunks) and grows by 1 MiB
  // every fourth operation (up to max_grows times: process kills run
  // thousands of operations); the others allocate and free 600 KB extents
  // that only fit in the grown heap.
  alloc_model(std::uint64_t seed, bool grow) : seed_(seed), grow_(grow) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<alloc_model>(*this); }

  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override;
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    if (grow_ && grows_ == 0) return "the pool never grew";
    if (extents_made_ == 0) return "no extent was allocated";
    return {};
  }

 private:
  struct slot {
    std::uint64_t size = 0;  // 0: empty
    std::uint64_t tag = 0;   // the operation that made the object
  };
  struct action {
    bool allocate;
    std::size_t slot;
    std::uint64_t size;
  };
  enum class mode { atomic_alloc, atomic_free, transaction, aborted, grow };
  struct plan {
    mode how;
    std::vector<action> actions;
  };

  static std::uint64_t* table(const pool& p) {
    return reinterpret_cast<std::uint64_t*>(scratch_region(p)) + header_words;
  }
  static std::uint64_t* table_for_write(pool& p) {
    return reinterpret_cast<std::uint64_t*>(scratch_for_write(p)) + header_words;
  }
  std::size_t live_extents() const {
    std::size_t n = 0;
    for (const slot& s : slots_) n += s.size > 256 * 1024;
    return n;
  }
  plan plan_of(std::uint64_t op) const;

  std::uint64_t seed_;
  bool grow_;
  std::array<slot, slot_count> slots_{};
  std::uint64_t grows_ = 0;
  std::uint64_t extents_made_ = 0;
};

alloc_model::plan alloc_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  std::vector<std::size_t> empty, full;
  for (std::size_t k = 0; k < slot_count; ++k) (slots_[k].size ? full : empty).push_back(k);
  auto pick = [&](std::vector<std::size_t>& from) {
    const std::size_t i = rng() % from.size();
    const std::size_t k = from[i];
    from.erase(from.begin() + static_cast<std::ptrdiff_t>(i));
    return k;
  };
  plan pl;
  if (grow_) {
    // 5 chunks at first, 4 more per growth; a 600 KB extent takes 3.
    const std::uint64_t chunks = 5 + 4 * grows_;
    if (op % 4 == 0 && grows_ < max_grows) {
      pl.how = mode::grow;
    } else if (!empty.empty() && 3 * (live_extents() + 1) <= chunks - 1 && rng() % 4 != 0) {
      pl.how = mode::transaction;
      pl.actions.push_back({true, pick(empty), 600 * 1000 + rng() % 4096});
    } else if (!full.empty()) {
      pl.how = mode::transaction;
      pl.actions.push_back({false, pick(full), 0});
    } else if (grows_ < max_grows) {
      pl.how = mode::grow;
    } else {
      pl.how = mode::aborted;  // nothing to free, no room: an aborted no-op
    }
    return pl;
  }
  // Five sizes (five size classes, so five runs: the allocator keeps a
  // run's chunk once the run is empty) and extents, at most two live, so
  // that a 4 MiB heap (13 free chunks) never runs out.
  auto size = [&](bool extent_ok) -> std::uint64_t {
    static constexpr std::uint64_t sizes[] = {24, 56, 200, 1000, 3000};
    const std::uint64_t r = rng() % 6;
    if (r < 5 || !extent_ok) return sizes[rng() % 5];
    return 256 * 1024 + 1 + rng() % (64 * 1024);
  };
  bool extent_ok = live_extents() < 2;
  auto add_alloc = [&] {
    const std::uint64_t s = size(extent_ok);
    if (s > 256 * 1024) extent_ok = false;
    pl.actions.push_back({true, pick(empty), s});
  };
  switch (op % 6) {
    case 0:
    case 1:
      pl.how =
          (op % 6 == 0 && !empty.empty()) || full.empty() ? mode::atomic_alloc : mode::atomic_free;
      if (pl.how == mode::atomic_alloc)
        add_alloc();
      else
        pl.actions.push_back({false, pick(full), 0});
      break;
    default: {
      pl.how = op % 6 == 4 ? mode::aborted : mode::transaction;
      const std::size_t n = 1 + rng() % 3;
      for (std::size_t i = 0; i < n; ++i) {
        if (!empty.empty() && (full.empty() || rng() % 2)) {
          add_alloc();
        } else if (!full.empty()) {
          pl.actions.push_back({false, pick(full), 0});
        }
      }
    }
  }
  return pl;
}

void alloc_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  switch (pl.how) {
    case mode::grow: {
      p.grow(p.info().file_size + (1 << 20));
      auto* h = reinterpret_cast<std::uint64_t*>(scratch_for_write(p));
      p.transaction([&] {
        tx_snapshot(h, 16);
        h[0] = grows_ + 1;
        h[1] = p.heap_size();
      });
      return;
    }
    case mode::atomic_alloc: {
      const action& a = pl.actions.front();
      p.allocate_into(&table_for_write(p)[a.slot], a.size,
                      [&](void* o) { fill_pattern(o, a.size, op); });
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
        void* o = p.allocate(a.size);  // covered by the transaction: no snapshot needed
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

void alloc_model::apply(std::uint64_t op) {
  const plan pl = plan_of(op);
  if (pl.how == mode::grow) ++grows_;
  if (pl.how == mode::aborted) return;
  for (const action& a : pl.actions) {
    slots_[a.slot] = a.allocate ? slot{a.size, op} : slot{};
    extents_made_ += a.allocate && a.size > 256 * 1024;
  }
}

std::string alloc_model::check(const pool& p) const {
  const std::uint64_t* t = table(p);
  for (std::size_t k = 0; k < slot_count; ++k) {
    const slot& s = slots_[k];
    const std::string where = "slot " + std::to_string(k) + ": ";
    if ((t[k] != 0) != (s.size != 0)) {
      return where +
             (t[k] ? "holds an object the model freed or never made"
                   : "empty, the model holds an object of " + std::to_string(s.size) + " bytes");
    }
    if (s.size == 0) continue;
    if (t[k] < p.heap_offset() || t[k] >= p.heap_offset() + p.heap_size()) {
      return where + "offset " + std::to_string(t[k]) + " outside the heap";
    }
    const void* o = p.at(t[k]);
    std::size_t size = 0;
    try {
      size = p.object_size(o);
    } catch (const ferrite::error& e) {
      return where + e.what();
    }
    if (size != s.size) {
      return where + "object of " + std::to_string(size) + " bytes, the model's is " +
             std::to_string(s.size);
    }
    if (!matches_pattern(o, s.size, s.tag)) return where + "the object's bytes differ";
  }
  if (grow_) {
    const auto* h = reinterpret_cast<const std::uint64_t*>(scratch_region(p));
    if (h[0] != grows_) {
      return "recorded " + std::to_string(h[0]) + " growths, the model " + std::to_string(grows_);
    }
  }
  return {};
}

std::string alloc_model::invariants(const pool& p) const {
  const std::uint64_t* t = table(p);
  std::set<std::uint64_t> offsets;
  for (std::size_t k = 0; k < slot_count; ++k) {
    if (t[k] && !offsets.insert(t[k]).second) {
      return "two slots hold the object at " + std::to_string(t[k]) + " (a double allocation)";
    }
  }
  const std::uint64_t objects = p.heap_statistics().objects - scratch_objects(p);
  if (objects != offsets.size()) {
    return "the heap holds " + std::to_string(objects) + " objects, the slots " +
           std::to_string(offsets.size()) + (objects > offsets.size() ? " (a leak)" : "");
  }
  if (grow_) {
    const auto* h = reinterpret_cast<const std::uint64_t*>(scratch_region(p));
    if (h[1] > p.heap_size()) {
      return "the heap is " + std::to_string(p.heap_size()) + " bytes, smaller than the " +
             std::to_string(h[1]) + " recorded after growing";
    }
  }
  return {};
}

}  // namespace

workload_info alloc_free() {
  workload_info w;
  w.name = "alloc-free";
  w.description =
      "atomic and transactional allocation and free, aborted ones, extents: no leak, no double "
      "allocation";
  w.make = [](std::uint64_t seed) { return std::make_unique<alloc_model>(seed, false); };
  w.pool_sizes = {4ull << 20};
  w.quick_ops = 24;
  w.long_ops = 100;
  return w;
}

workload_info grow() {
  workload_info w;
  w.name = "grow";
  w.description = "a 2 MiB pool grown by 1 MiB every fourth operation, 600 KB extents in it";
  w.make = [](std::uint64_t seed) { return std::make_unique<alloc_model>(seed, true); };
  w.pool_sizes = {2ull << 20};
  w.quick_ops = 9;
  w.long_ops = 30;
  return w;
}

}  // namespace ferrite::crash::builtin
