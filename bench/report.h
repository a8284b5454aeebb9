// The report: text tables, JSON, CSV and a gnuplot chart of the results.
//
// Every figure printed comes from a cell_result; a cell that failed or an
// engine that was not run shows as "-" (text) or null (JSON, CSV), never as
// a guess.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cell.h"

namespace ferrite::bench {

// What was asked for, and how it was set up: printed before the tables.
struct run_description {
  std::vector<std::string> engines;
  std::vector<workload> workloads;
  std::vector<media_mode> modes;
  std::vector<int> threads;
  std::uint64_t ops_cacheline = 0;
  std::uint64_t ops_page = 0;
  std::uint64_t warmup_percent = 0;
  int runs = 0;
  std::uint64_t pool_bytes = 0;
  std::uint64_t churn_pool_bytes = 0;  // churn's pools
  std::filesystem::path cacheline_dir;
  std::filesystem::path page_dir;
  std::vector<std::uint64_t> objects;  // open: object counts
  std::uint64_t open_ops = 0;          // open: opens per run
  std::uint64_t keys_cacheline = 0;    // container workloads: N on cacheline media
  std::uint64_t keys_page = 0;         // and on page media
  std::vector<structure> structures;   // map_insert, map_get: hash, ordered
  std::uint64_t footprint_budget = 0;  // footprint: --budget, bytes
  bool smoke = false;
  std::string machine;  // CPU, count, kernel
};

// The lines that say what was measured and how (also shown before a run).
void print_setup(std::ostream& out, const run_description& d);

// Per workload: each engine's ns/op, ferrite/pmdk, ferrite's counters per
// op; then ferrite's durability counters per committed transaction; then
// the failures, if any.
void print_tables(std::ostream& out, const run_description& d,
                  const std::vector<cell_result>& results);

// A list of objects: engine, workload, mode, threads, ops, ns_per_op,
// fences_per_op, syncs_per_op, flushed_lines_per_op (null where the engine
// has no such counter), then details (runs, every run's ns/op, media...).
nlohmann::ordered_json results_json(const std::vector<cell_result>& results);

// The same fields as CSV, one line per cell. Throws when the file cannot be written.
void write_csv(const std::filesystem::path& file, const std::vector<cell_result>& results);

// A bar chart of ferrite/pmdk per cell, by gnuplot (PNG, or SVG when `file`
// ends in .svg). Throws with a clear message when gnuplot is missing or fails
// or when no cell has both figures.
void write_chart(const std::filesystem::path& file, const std::vector<cell_result>& results);

// "tmpfs", "ext4", ... for the file system holding `dir` ("unknown" if not known).
std::string file_system_name(const std::filesystem::path& dir);

}  // namespace ferrite::bench
