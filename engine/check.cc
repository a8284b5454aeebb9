// check_pool (see check.h): the pool's regions, then the allocator's walk
// (alloc/heap_check.h), the collector's mark walk in check mode
// (engine/detail/gc_mark.h), and the two cross-checked.
#include "ferrite/engine/check.h"

#include <cstring>

#include "ferrite/alloc/heap_check.h"
#include "ferrite/base/format/value_format.h"
#include "ferrite/engine/detail/gc_mark.h"
#include "ferrite/engine/detail/pool_impl.h"

namespace ferrite {
namespace {

// One bit per 16 heap bytes, as the mark bitmap (gc_mark.h): object data
// offsets the allocator lists.
class object_bitmap {
 public:
  object_bitmap(std::uint64_t heap_begin, std::uint64_t heap_size)
      : begin_(heap_begin), bits_((heap_size / 16 + 63) / 64) {}
  // REQUIRES: data lies inside the heap.
  void set(std::uint64_t data) {
    const std::uint64_t i = (data - begin_) / 16;
    bits_[i / 64] |= 1ull << (i % 64);
  }
  bool test(std::uint64_t data) const {
    const std::uint64_t i = (data - begin_) / 16;
    return bits_[i / 64] >> (i % 64) & 1;
  }

 private:
  std::uint64_t begin_;
  std::vector<std::uint64_t> bits_;
};

class checker {
 public:
  explicit checker(const detail::pool_impl& p) : p_(p) {}

  void problem(std::uint64_t offset, std::string what, problem_area area) {
    ++r_.problems_found;
    if (r_.problems.size() < check_problem_limit) {
      r_.problems.push_back({{offset, std::move(what)}, area});
    }
  }

  void regions(const pool& pool) {
    for (int slot = 0; slot < 2; ++slot) {
      detail::superblock_slot_report s = p_.superblocks->inspect(slot);
      // A slot never written (a pool created and never opened) is not a problem.
      const bool never_written = s.problem == "bad magic" && p_.state.sequence < 2;
      // Nor is the non-current slot after a crash: a superblock store torn
      // by the crash (the current slot, the valid one, is what the pool
      // opened with). The next writable open rewrites it; every store,
      // the clean close's included, alternates slots, so after a clean
      // close both are valid and a bad one is damage.
      const bool torn_by_crash = !p_.was_clean_shutdown;
      if (!s.valid && !never_written && !torn_by_crash) {
        problem(p_.header.superblock_offset[slot],
                "superblock slot " + std::to_string(slot) + ": " + s.problem,
                problem_area::superblock);
      }
    }
    const pool_stats st = pool.stats();
    r_.recovered_records = st.recovered_records;
    r_.was_clean_shutdown = p_.was_clean_shutdown;
    if (p_.was_clean_shutdown && st.recovered_records > 0) {
      problem(p_.header.log_offset,
              "clean shutdown recorded but " + std::to_string(st.recovered_records) +
                  " log records follow the checkpoint",
              problem_area::log);
    }
  }

  // The graph from the root (nothing without one), by the collector's mark
  // walk in check mode.
  void graph(detail::gc_marker& m) {
    const std::pair<std::uint64_t, std::uint64_t> live = p_.log->live_root();
    const std::uint64_t root = live.first;
    r_.has_root = root != 0;
    const auto root_type = static_cast<std::uint32_t>(live.second);
    if (root != 0 && root_type != 0 && p_.types->find(root_type) == nullptr) {
      problem(root, "the root's type id " + std::to_string(root_type) + " is not in the type table",
              problem_area::type);
    }
    std::vector<detail::mark_damage> damage;
    m.collect_damage(damage, check_problem_limit);
    m.mark_root();
    for (auto& d : damage) problem(d.at, std::move(d.what), problem_area::graph);
    r_.problems_found += m.damage_found() - damage.size();
  }

  // The allocator's walk: its problems, every listed object's type id, the
  // listed objects not reached; then every reached object must be listed.
  void heap(const detail::gc_marker& m) {
    object_bitmap listed(p_.header.heap_offset, p_.state.heap_size);
    std::uint64_t untyped_reported = 0;
    auto visit = [&](std::uint64_t data, const detail::object_header& h) {
      listed.set(data);  // walk_heap hands out only objects inside their slots
      if (m.marked(data)) {
        ++r_.reachable;
      } else {
        ++r_.unreachable;
        r_.unreachable_bytes += detail::object_size_of(h);
      }
      if (h.type_id == 0 || p_.types->find(h.type_id) != nullptr) return;
      if (++untyped_reported <= 16) {
        problem(
            data,
            "object of unknown type id " + std::to_string(h.type_id) + " (not in the type table)",
            problem_area::type);
      }
    };
    detail::heap_report h = detail::walk_heap(p_.store->working(), p_.store->size(),
                                              detail::heap_layout_of(p_.header, p_.state), visit);
    if (untyped_reported > 16) {
      problem(0, std::to_string(untyped_reported - 16) + " more objects of unknown type ids",
              problem_area::type);
    }
    r_.objects = h.objects;
    for (auto& pr : h.problems) problem(pr.offset, std::move(pr.what), problem_area::heap);
    // Reached but not listed: the mark walk found the object's header
    // through its chunk's table entry, which the allocator's walk did not
    // accept (a zeroed or overlapping table, a run header that disagrees).
    std::uint64_t unlisted = 0;
    m.for_each_marked([&](std::uint64_t data) {
      if (listed.test(data)) return;
      if (++unlisted <= 16) {
        problem(data, "a reachable object that the allocator's walk does not list",
                problem_area::heap);
      }
    });
    if (unlisted > 16) {
      problem(0,
              std::to_string(unlisted - 16) + " more reachable objects the allocator does not list",
              problem_area::heap);
    }
  }

  void counts(const detail::gc_marker& m) {
    const std::byte* base = p_.store->working();
    for (const auto& [data, cells] : m.value_references()) {
      std::uint64_t stored;  // the payload was located with at least 8 bytes
      std::memcpy(&stored, base + data + detail::value_refs_offset, sizeof stored);
      if (stored < cells) {
        problem(data + detail::value_refs_offset,
                "a value payload's reference count is " + std::to_string(stored) + " but " +
                    std::to_string(cells) + " reachable cells name it",
                problem_area::refcount);
      } else if (stored > cells) {
        ++r_.counts_too_high;
      }
    }
  }

  check_report take() { return std::move(r_); }

 private:
  const detail::pool_impl& p_;
  check_report r_;
};

}  // namespace

const char* to_string(problem_area a) noexcept {
  switch (a) {
    case problem_area::open:
      return "open";
    case problem_area::superblock:
      return "superblock";
    case problem_area::log:
      return "log";
    case problem_area::heap:
      return "heap";
    case problem_area::type:
      return "type";
    case problem_area::graph:
      return "graph";
    case problem_area::refcount:
      return "refcount";
  }
  return "unknown";
}

check_report check_pool(const std::filesystem::path& path, pool_options options) {
  check_report r;
  options.mode = open_mode::read_only;
  pool p;
  try {
    p = pool::open(path, options);
  } catch (const error& e) {
    switch (e.code()) {
      case error_code::corrupted:
      case error_code::truncated:
      case error_code::bad_version:
        r.problems.push_back({{0, e.what()}, problem_area::open});
        r.problems_found = 1;
        break;
      default:
        throw;
    }
  }
  if (p.is_open()) return check_pool(p);
  if (options.salvage) return r;
  // A log damaged in the middle: the damaged record is the problem (at its
  // offset), and the state before it is checked as well, as a salvaging
  // open shows it.
  options.salvage = true;
  try {
    p = pool::open(path, options);
  } catch (const error&) {
    return r;  // damaged elsewhere too: the first problem is the one to report
  }
  const pool_info info = p.info();
  if (info.damage.empty()) return r;
  check_report prefix = check_pool(p);
  prefix.problems.insert(prefix.problems.begin(),
                         {{info.damage_offset, info.damage}, problem_area::log});
  prefix.problems_found += 1;
  return prefix;
}

check_report check_pool(const pool& p) {
  const detail::pool_impl& impl = detail::impl_of(p);
  checker c(impl);
  c.regions(p);
  detail::gc_marker m(impl);
  c.graph(m);
  c.heap(m);
  c.counts(m);
  return c.take();
}

}  // namespace ferrite
