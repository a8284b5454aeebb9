// ferrite check PATH [--json]: the whole structural check of engine/check.h
// (regions, allocator, the reachable graph, the two against each other).
//
// Exit status: 0 no problem (unreachable objects and reference counts too
// high are counts, not problems), 1 problems (each printed with its pool
// offset), 2 the file is not a pool or cannot be opened.
//
// Text: one line per problem, "offset N: [kind] what", then a summary.
// JSON: {path, ok, objects, reachable, unreachable, unreachable_bytes,
// counts_too_high, clean_shutdown, log_records_to_replay, problems_found,
// problems: [{offset, kind, problem}]}; kind is one of open, superblock,
// log, heap, type, graph, refcount (check.h, problem_area).
#include <iostream>
#include <nlohmann/json.hpp>

#include "ferrite/engine/check.h"
#include "tools/ferrite/commands.h"

namespace ferrite::cli {
namespace {

int run_check(const std::string& path, bool json) {
  const ferrite::check_report r = ferrite::check_pool(path);
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = path;
    j["ok"] = r.problems.empty();
    j["has_root"] = r.has_root;
    j["objects"] = r.objects;
    j["reachable"] = r.reachable;
    j["unreachable"] = r.unreachable;
    j["unreachable_bytes"] = r.unreachable_bytes;
    j["counts_too_high"] = r.counts_too_high;
    j["clean_shutdown"] = r.was_clean_shutdown;
    j["log_records_to_replay"] = r.recovered_records;
    j["problems_found"] = r.problems_found;
    j["problems"] = nlohmann::ordered_json::array();
    for (const auto& p : r.problems)
      j["problems"].push_back(
          {{"offset", p.offset}, {"kind", ferrite::to_string(p.area)}, {"problem", p.what}});
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& p : r.problems) {
      std::cout << "offset " << p.offset << ": [" << ferrite::to_string(p.area) << "] " << p.what
                << "\n";
    }
    if (r.problems_found > r.problems.size()) {
      std::cout << "... and " << r.problems_found - r.problems.size() << " more problems\n";
    }
    std::cout << path << ": " << (r.problems.empty() ? "ok" : "PROBLEMS FOUND") << " ("
              << r.problems_found << " problems, " << r.objects << " objects, " << r.reachable
              << " reachable, " << r.unreachable << " unreachable"
              << (r.was_clean_shutdown ? "" : ", not cleanly shut down") << ")\n";
    if (r.unreachable && r.problems.empty()) {
      std::cout << "  " << r.unreachable << " unreachable objects (" << r.unreachable_bytes
                << " bytes) are not damage: "
                << (r.has_root ? "`ferrite gc` frees them" : "the pool has no root") << "\n";
    }
    if (r.counts_too_high) {
      std::cout << "  " << r.counts_too_high
                << " value reference counts are higher than their cells (leaks, not damage): "
                   "`ferrite gc` repairs them\n";
    }
  }
  return r.problems.empty() ? exit_ok : exit_problems;
}

}  // namespace

void add_check(CLI::App& app, command_fn& run) {
  struct args {
    std::string path;
    bool json = false;
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand(
      "check", "Verify header, superblocks, log and every heap structure (read-only)");
  sub->add_option("path", a->path, "Pool file")->required();
  sub->add_flag("--json", a->json, "Print JSON");
  sub->callback([a, &run] { run = [a] { return run_check(a->path, a->json); }; });
}

}  // namespace ferrite::cli
