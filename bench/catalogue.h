// The workloads of ferrite-bench: one table, read by the command line, the
// cell runner and the report. main.cc opens with the same catalogue in prose.
//
// A workload whose `arrives_with` is not empty needs an engine feature that
// has not landed yet (the allocator, persistent pointers); --workload rejects
// it with that message rather than measuring a stand-in.
#pragma once

#include <string>
#include <string_view>

namespace ferrite::bench {

enum class workload {
  tx_set8,
  tx_set_lines,
  tx_alloc64,
  tx_alloc_free64,
  atomic_alloc_free64,
  chase,
  open,
};

struct workload_info {
  workload id;
  std::string_view name;
  std::string_view measures;      // one op, in words
  std::string_view arrives_with;  // empty: measurable now
  int lines_per_op;               // fields (each on its own cache line) an op updates
  // Issue 6's target for time per op, ferrite/libpmemobj (0: none).
  double target_cacheline;
  double target_page;
};

inline constexpr workload_info catalogue[] = {
    {workload::tx_set8, "tx_set8",
     "a transaction that snapshots one 8-byte field, updates it and commits", "", 1, 0.33, 0.3},
    {workload::tx_set_lines, "tx_set_lines",
     "a transaction that snapshots and updates 8 fields, each in its own cache line", "", 8, 0, 0},
    {workload::tx_alloc64, "tx_alloc64", "allocate a 64-byte object in a transaction",
     "the allocator issue (#4)", 0, 0.25, 0.25},
    {workload::tx_alloc_free64, "tx_alloc_free64",
     "allocate a 64-byte object in one transaction, free it in another", "the allocator issue (#4)",
     0, 0.25, 0.25},
    {workload::atomic_alloc_free64, "atomic_alloc_free64",
     "atomic (non-transactional) allocation and free of a 64-byte object",
     "the allocator issue (#4)", 0, 0.25, 0.25},
    {workload::chase, "chase", "walk a 100k-node linked list through persistent pointers",
     "the persistent pointer issue (#7)", 0, 0, 0},
    {workload::open, "open", "open a pool holding 1M objects", "the allocator issue (#4)", 0, 0, 0},
};

// The entry named `name`, or null.
const workload_info* find_workload(std::string_view name);
const workload_info& info(workload w);

// "tx_set8, tx_set_lines": the workloads measurable now.
std::string available_workloads();

}  // namespace ferrite::bench
