#include "tools/crash/runner/image_check.h"

#include <cstring>

#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "tools/crash/readers/structural_check.h"
#include "tools/crash/runner/isolate.h"

namespace ferrite::crash {
namespace {

std::uint64_t fnv1a(const std::string& s, std::uint64_t h) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : "; ") + s;
  return out;
}

// The first heap offset where the two pools' working views differ, or -1.
std::int64_t first_heap_difference(const pool& a, const pool& b) {
  if (a.heap_size() != b.heap_size()) return static_cast<std::int64_t>(a.heap_offset());
  const std::byte* x = a.base() + a.heap_offset();
  const std::byte* y = b.base() + b.heap_offset();
  const std::uint64_t n = a.heap_size();
  if (std::memcmp(x, y, n) == 0) return -1;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return static_cast<std::int64_t>(a.heap_offset() + i);
  }
  return -1;
}

}  // namespace

std::string heap_summary(const pool& p) {
  heap_stats h;
  try {
    h = p.heap_statistics();
  } catch (const std::exception& e) {
    return "(heap: " + std::string(e.what()) + ")";
  }
  std::string s = "(heap: " + std::to_string(h.objects) + " objects, " +
                  std::to_string(h.free_bytes) + " bytes free, largest " +
                  std::to_string(h.largest_free) + "; runs by slot size:";
  for (const auto& c : h.classes) {
    s += " " + std::to_string(c.slot_size) + "x" + std::to_string(c.runs) + "/" +
         std::to_string(c.objects);
  }
  return s + ")";
}

// The durable image as it was at recovery's latest barrier, kept cheaply:
// when only superblock units were in flight there (the superblock store
// that ends recovery), just the two slots; otherwise the whole image.
class recovery_snapshot {
 public:
  static constexpr std::uint64_t begin = detail::superblock_offsets[0];
  static constexpr std::uint64_t end = detail::superblock_offsets[1] + detail::block_size;

  void take(const sim_device& d) {
    const std::uint64_t u = d.unit_size();
    whole_ = false;
    for (std::uint64_t unit : d.dirty_units()) whole_ |= unit * u < begin || (unit + 1) * u > end;
    const std::byte* durable = d.durable().data();
    if (whole_) {
      bytes_ = d.durable();
    } else {
      bytes_.assign(durable + begin, durable + end);
    }
    taken_ = true;
  }
  // Keeps `image` as it is (a process crash: the page cache at the barrier).
  void keep(std::vector<std::byte> image) {
    bytes_ = std::move(image);
    whole_ = true;
    taken_ = true;
  }
  bool taken() const { return taken_; }
  // The image, given the device after recovery (durable changes only at
  // barriers, so it differs from the snapshot only by the last one).
  std::vector<std::byte> image(const sim_device& after) const {
    if (whole_) return bytes_;
    std::vector<std::byte> out = after.durable();
    std::memcpy(out.data() + begin, bytes_.data(), bytes_.size());
    return out;
  }

 private:
  bool taken_ = false, whole_ = false;
  std::vector<std::byte> bytes_;
};

std::string describe(const std::exception& e) {
  if (const auto* fe = dynamic_cast<const ferrite::error*>(&e)) {
    return std::string(e.what()) + " [" + std::string(to_string(fe->code())) + "]";
  }
  return e.what();
}

std::optional<model_state> match_state(const pool& p, const acceptable_states& acc,
                                       std::string& why) {
  why.clear();
  if (acc.states.empty()) return std::nullopt;
  if (std::string broken = acc.states.front().model->invariants(p); !broken.empty()) {
    why = "invariant broken: " + broken;
    return std::nullopt;
  }
  for (const model_state& s : acc.states) {
    std::string diff = s.model->check(p);
    if (diff.empty()) return s;
    why += (why.empty() ? "" : "; ") + std::string("as the state after ") + std::to_string(s.ops) +
           " ops: " + diff;
  }
  return std::nullopt;
}

image_checker::image_checker(const run_target& target, const exploration& ex,
                             const std::optional<crash_path>& only_path, tally& t)
    : target_(target), ex_(ex), only_path_(only_path), tally_(t) {}

std::uint64_t image_checker::subset_seed(const std::string& path) const {
  return fnv1a(path, 0xcbf29ce484222325ull ^ (target_.seed * 0x9e3779b97f4a7c15ull));
}

void image_checker::fail(const crash_path& path, const std::string& what) const {
  failure f;
  f.kind = "power-failure";
  f.workload = target_.info->name;
  f.seed = target_.seed;
  f.media = std::string(to_string(target_.media));
  f.pool_size = target_.pool_size;
  f.at = path.str();
  f.what = what;
  f.repro = target_.repro("sim", f.at);
  tally_.add_failure(std::move(f));
}

void image_checker::check(std::vector<std::byte> image, const acceptable_states& acc,
                          const crash_path& path, bool explore_recovery) const {
  if (tally_.stopping()) return;
  tally_.count_state();
  if (path.steps.front().subset == process_crash_subset) {
    tally_.add_count("process_crash_images", 1);
  }
  doing_scope doing(path.str());
  const std::size_t level = path.steps.size();
  const bool filtered = only_path_.has_value();
  const bool nested =
      filtered ? only_path_->steps.size() > level
               : explore_recovery && level <= static_cast<std::size_t>(ex_.recovery_depth);
  auto dev = sim_device::from_image(std::move(image), target_.media);

  // The durable image at recovery's latest barrier: at its last one (the
  // superblock store) every record is applied and durable, the superblock
  // not yet stored. Recovering it again is the idempotence check.
  recovery_snapshot before_superblock;
  bool path_point_reached = false;
  dev->on_barrier = [&](const sim_device& d) {
    before_superblock.take(d);
    if (!nested || tally_.stopping()) return;
    try {
      path_point_reached |=
          check_power_failures(d, std::to_string(d.barriers()), ex_.nested, acc, path);
    } catch (const std::exception& e) {
      fail(path, "exploring crashes inside recovery: " + describe(e));
    }
  };

  pool p;
  try {
    p = pool::open("crash-image", target_.options(dev, open_mode::open_existing, false));
  } catch (const std::exception& e) {
    dev->on_barrier = nullptr;
    const auto* fe = dynamic_cast<const ferrite::error*>(&e);
    // A pool being created on the simulated device is not one yet (a pool
    // file is created under a temporary name and linked when complete).
    const bool not_yet_a_pool =
        fe && (fe->code() == error_code::not_a_pool || fe->code() == error_code::bad_version ||
               fe->code() == error_code::corrupted || fe->code() == error_code::truncated);
    if (acc.may_be_no_pool && not_yet_a_pool) return;  // crashed while being created
    fail(path, "recovery failed: " + describe(e));
    return;
  }
  dev->on_barrier = nullptr;
  if (filtered && nested && !path_point_reached) {
    fail(path, "recovery never reached barrier " + only_path_->steps[level].point);
  }
  try {
    check_recovered(p, dev, before_superblock, acc, path);
  } catch (const std::exception& e) {
    fail(path, "checking the recovered pool: " + describe(e));
  }
}

bool image_checker::check_power_failures(const sim_device& d, const std::string& point,
                                         const subset_budget& budget, const acceptable_states& acc,
                                         const crash_path& path) const {
  const std::size_t level = path.steps.size();
  const std::uint64_t seed = subset_seed(path.str() + "/" + point);
  const std::vector<std::uint64_t> units = in_flight_units(d);
  std::vector<crash_subset> subsets;
  if (only_path_) {
    const crash_path::step& want = only_path_->steps[level];
    if (want.point != point) return false;
    auto s = subset_named(want.subset, units, seed);
    if (!s) {
      fail(path, "subset " + want.subset + " does not fit the " + std::to_string(units.size()) +
                     " units in flight at " + point);
      return true;
    }
    subsets.push_back(std::move(*s));
  } else {
    subsets = crash_subsets(units, budget, seed);
  }
  std::size_t explored = 0;
  for (const crash_subset& s : subsets) {
    crash_path next = path;
    next.steps.push_back({point, s.name});
    const bool deeper = ex_.nested_per_point == 0 || explored++ < ex_.nested_per_point;
    check(d.crash_image(s.units), acc, next, deeper);
  }
  return true;
}

void image_checker::check_process_crash(std::vector<std::byte> visible,
                                        std::vector<std::byte> durable,
                                        std::vector<std::uint64_t> in_flight,
                                        const acceptable_states& acc,
                                        const crash_path& path) const {
  if (tally_.stopping()) return;
  tally_.count_state();
  tally_.add_count("process_crash_images", 1);
  doing_scope doing(path.str());
  // With --at, the power failure the path names below this process crash.
  const bool filtered = only_path_.has_value();
  const bool explore = !filtered || only_path_->steps.size() > path.steps.size();
  const std::string first_point = filtered && explore ? only_path_->steps[1].point : "";
  bool path_point_reached = false;

  // The superblock slots recovery starts from: the page cache's.
  constexpr std::uint64_t sb_begin = recovery_snapshot::begin, sb_end = recovery_snapshot::end;
  const std::vector<std::byte> superblock_before(
      visible.begin() + static_cast<std::ptrdiff_t>(sb_begin),
      visible.begin() + static_cast<std::ptrdiff_t>(sb_end));
  auto dev = sim_device::after_process_crash(std::move(visible), std::move(durable), in_flight,
                                             target_.media);

  // Idempotence: the page cache at recovery's latest barrier before it
  // stored a superblock (every record applied, none checkpointed), as a
  // second process crash would leave it; recovered again, the same heap.
  recovery_snapshot before_superblock;
  dev->on_barrier = [&](const sim_device& d) {
    if (std::equal(superblock_before.begin(), superblock_before.end(),
                   d.visible().begin() + static_cast<std::ptrdiff_t>(sb_begin))) {
      before_superblock.keep(d.visible());
    }
    if (!explore || tally_.stopping()) return;
    try {
      path_point_reached |=
          check_power_failures(d, std::to_string(d.barriers()), ex_.after_process_crash, acc, path);
    } catch (const std::exception& e) {
      fail(path, "exploring power failures inside recovery after a process crash: " + describe(e));
    }
  };

  pool p;
  try {
    p = pool::open("process-crash-image", target_.options(dev, open_mode::open_existing, false));
  } catch (const std::exception& e) {
    dev->on_barrier = nullptr;
    fail(path, "recovery after the process crash failed: " + describe(e));
    return;
  }
  dev->on_barrier = nullptr;
  try {
    // A power failure once recovery returned: the state it returned, and
    // no other, must survive (the program has seen it).
    if (explore && !tally_.stopping() &&
        (!in_flight_units(*dev).empty() || first_point == "after")) {
      std::string why;
      if (const std::optional<model_state> now = match_state(p, acc, why)) {
        path_point_reached |= check_power_failures(*dev, "after", ex_.after_process_crash,
                                                   acceptable_states{{*now}, false}, path);
      }
    }
    if (filtered && explore && !path_point_reached) {
      fail(path, "recovery after the process crash never reached point " + first_point);
    }
    check_recovered(p, dev, before_superblock, acc, path);
  } catch (const std::exception& e) {
    fail(path, "checking the pool recovered after the process crash: " + describe(e));
  }
}

void image_checker::check_recovered(pool& p, std::shared_ptr<sim_device> dev,
                                    const recovery_snapshot& before_superblock,
                                    const acceptable_states& acc, const crash_path& path) const {
  if (auto problems = structural_check(p); !problems.empty()) {
    fail(path, "structural check: " + join(problems));
    return;
  }
  std::string why;
  const std::optional<model_state> matched = match_state(p, acc, why);
  if (!matched) {
    fail(path, "recovered state: " + why);
    return;
  }

  // Idempotence (invariant 4): replaying the records again over a heap
  // where they are already applied gives the same bytes.
  if (before_superblock.taken()) {
    auto again = sim_device::from_image(before_superblock.image(*dev), target_.media);
    pool q;
    try {
      q = pool::open("crash-image-again", target_.options(again, open_mode::open_existing, false));
    } catch (const std::exception& e) {
      fail(path, "second recovery failed: " + describe(e));
      return;
    }
    if (const std::int64_t at = first_heap_difference(p, q); at >= 0) {
      fail(path, "recovery is not idempotent: recovering again gives other heap bytes at offset " +
                     std::to_string(at));
      return;
    }
    if (p.info().root_offset != q.info().root_offset) {
      fail(path, "recovery is not idempotent: recovering again gives another root");
      return;
    }
  }

  const std::size_t level = path.steps.size();
  const bool leaf = only_path_ ? level == only_path_->steps.size() : level == 1;
  if (ex_.continue_after && leaf) continue_workload(p, *dev, *matched, path);
}

void image_checker::continue_workload(pool& p, sim_device& dev, const model_state& from,
                                      const crash_path& path) const {
  std::unique_ptr<workload> m = from.model->clone();
  const std::uint64_t n = target_.info->continue_ops;
  for (std::uint64_t op = from.ops; op < from.ops + n; ++op) {
    try {
      m->perform(p, op);
    } catch (const std::exception& e) {
      fail(path, "continuing on the recovered pool: operation " + std::to_string(op) +
                     " failed: " + describe(e) + " " + heap_summary(p));
      return;
    }
    m->apply(op);
  }
  const std::string after =
      "after continuing " + std::to_string(n) + " operations on the recovered pool";
  if (std::string d = m->check(p); !d.empty()) {
    fail(path, after + ", in memory: " + d);
    return;
  }
  // A crash now: the records of the new epoch replay, those of the
  // epoch before the first recovery do not.
  try {
    auto img = sim_device::from_image(dev.durable(), target_.media);
    pool q =
        pool::open("crash-image-continued", target_.options(img, open_mode::open_existing, false));
    std::string d = m->check(q);
    if (d.empty()) d = m->invariants(q);
    if (!d.empty()) {
      fail(path, after + ", then a crash: " + d);
      return;
    }
  } catch (const std::exception& e) {
    fail(path, after + ", then a crash: recovery failed: " + describe(e));
    return;
  }
  try {
    p.close();  // a checkpoint over a recovered log
  } catch (const std::exception& e) {
    fail(path, after + ": close failed: " + describe(e));
  }
}

}  // namespace ferrite::crash
