#include "tools/crash/readers/structural_check.h"

#include "ferrite/engine/check.h"
#include "ferrite/engine/detail/pool_impl.h"

namespace ferrite::crash {

std::vector<std::string> structural_check(pool& p) {
  std::vector<std::string> problems;
  const detail::pool_impl& impl = detail::impl_of(p);
  // The current slot: the valid one with the higher sequence.
  const detail::superblock_slot_report a = impl.superblocks->inspect(0);
  const detail::superblock_slot_report b = impl.superblocks->inspect(1);
  const detail::superblock_slot_report* cur =
      a.valid && (!b.valid || a.state.sequence > b.state.sequence) ? &a
      : b.valid                                                    ? &b
                                                                   : nullptr;
  if (cur == nullptr) {
    problems.push_back("no valid superblock slot after open (slot 0: " + a.problem +
                       "; slot 1: " + b.problem + ")");
    return problems;
  }
  const std::uint64_t other_slot = impl.header.superblock_offset[cur == &a ? 1 : 0];

  for (const pool_problem& pr : check_pool(p).problems) {
    // Read-only, nothing was rewritten since the crash: the slot that is
    // not current may be torn (a crash while it was written), and that is
    // harmless. A writable recovery has rewritten it.
    if (impl.read_only && pr.offset == other_slot) continue;
    problems.push_back("at offset " + std::to_string(pr.offset) + ": " + pr.what);
  }
  if (impl.read_only) return problems;

  const detail::pool_state& s = impl.state;
  if (cur->state.sequence != s.sequence || cur->state.checkpoint_lsn != s.checkpoint_lsn ||
      cur->state.log_epoch != s.log_epoch || cur->state.log_head != s.log_head) {
    problems.push_back("the current superblock (sequence " + std::to_string(cur->state.sequence) +
                       ") is not the state the pool runs on (sequence " +
                       std::to_string(s.sequence) + ")");
  }
  if (const std::uint64_t used = p.stats().log_used; used != 0) {
    problems.push_back("the log holds " + std::to_string(used) + " bytes right after recovery");
  }
  return problems;
}

}  // namespace ferrite::crash
