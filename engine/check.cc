#include "ferrite/engine/check.h"

#include "ferrite/alloc/heap_check.h"
#include "ferrite/engine/detail/pool_impl.h"

namespace ferrite {

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
        r.problems.push_back({0, e.what()});
        return r;
      default:
        throw;
    }
  }
  return check_pool(p);
}

check_report check_pool(const pool& p) {
  check_report r;
  const detail::pool_impl& impl = detail::impl_of(p);
  for (int slot = 0; slot < 2; ++slot) {
    detail::superblock_slot_report s = impl.superblocks->inspect(slot);
    // A slot never written (a pool created and never opened) is not a problem.
    const bool never_written = s.problem == "bad magic" && impl.state.sequence < 2;
    if (!s.valid && !never_written) {
      r.problems.push_back({impl.header.superblock_offset[slot],
                            "superblock slot " + std::to_string(slot) + ": " + s.problem});
    }
  }
  const pool_stats st = p.stats();
  r.recovered_records = st.recovered_records;
  r.was_clean_shutdown = impl.was_clean_shutdown;
  if (impl.was_clean_shutdown && st.recovered_records > 0) {
    r.problems.push_back({impl.header.log_offset, "clean shutdown recorded but " +
                                                      std::to_string(st.recovered_records) +
                                                      " log records follow the checkpoint"});
  }
  // Every object's type id must name a type of the table (or be 0, untyped).
  std::uint64_t untyped_reported = 0;
  auto visit = [&](std::uint64_t data, const detail::object_header& h) {
    if (h.type_id == 0 || impl.types->find(h.type_id) != nullptr) return;
    if (++untyped_reported <= 16) {
      r.problems.push_back({data, "object of unknown type id " + std::to_string(h.type_id) +
                                      " (not in the type table)"});
    }
  };
  detail::heap_report h = detail::walk_heap(impl.store->working(), impl.store->size(),
                                            detail::heap_layout_of(impl.header, impl.state), visit);
  if (untyped_reported > 16) {
    r.problems.push_back(
        {0, std::to_string(untyped_reported - 16) + " more objects of unknown type ids"});
  }
  const std::uint64_t root = impl.log->root_offset();
  if (root != 0 && impl.types->find(static_cast<std::uint32_t>(impl.log->root_type())) == nullptr &&
      impl.log->root_type() != 0) {
    r.problems.push_back({root, "the root's type id " + std::to_string(impl.log->root_type()) +
                                    " is not in the type table"});
  }
  r.objects = h.objects;
  for (auto& pr : h.problems) r.problems.push_back({pr.offset, std::move(pr.what)});
  return r;
}

}  // namespace ferrite
