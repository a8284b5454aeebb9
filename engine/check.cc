#include "engine/check.h"

#include "alloc/heap_check.h"
#include "engine/pool_impl.h"

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
  const detail::pool_impl& impl = p.impl();
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
    r.problems.push_back({impl.header.log_offset,
                          "clean shutdown recorded but " + std::to_string(st.recovered_records) +
                              " log records follow the checkpoint"});
  }
  detail::heap_report h =
      detail::walk_heap(impl.store->working(), impl.store->size(), impl.header, impl.state.heap_size);
  r.objects = h.objects;
  for (auto& pr : h.problems) r.problems.push_back({pr.offset, std::move(pr.what)});
  return r;
}

}  // namespace ferrite
