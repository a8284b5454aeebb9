// The driver's side of a run: each run of a cell is a process of its own.
//
// Why a process per run: libpmem reads PMEM_IS_PMEM_FORCE once per
// process, and libpmem2 reads PMEM2_FORCE_GRANULARITY when it maps; each
// run gets exactly the environment its engine and mode need before any
// library loads, and one engine's state (mappings, caches, threads) cannot
// affect the next run's figures.
#pragma once

#include <filesystem>

#include "bench/cell.h"

namespace ferrite::bench {

// Runs `spec` in a child process of `self` (this program, started with
// --cell). Never throws for a failing cell: the result then carries the
// error. The pool file is removed even when the child crashes.
cell_result run_cell_process(const std::filesystem::path& self, const cell_spec& spec);

// The child's side: runs the cell (the driver asks for one run), prints
// its result as one JSON line on stdout. Returns the exit status.
int cell_process_main(const cell_spec& spec);

}  // namespace ferrite::bench
