// ferrite gc PATH [--json]: frees every object not reachable from the root
// (pool::gc, docs/gc.md) and prints what it kept and freed, by type.
// Exit status: 0 collected (or nothing to collect), 1 the object graph is
// damaged (nothing freed), 2 the pool cannot be opened for writing.
#include <iostream>
#include <nlohmann/json.hpp>

#include "ferrite/engine/pool.h"
#include "tools/ferrite/commands.h"

namespace ferrite::cli {
namespace {

nlohmann::ordered_json counts_json(const gc_stats::counts& c) {
  return {{"live", c.live},
          {"live_bytes", c.live_bytes},
          {"freed", c.freed},
          {"freed_bytes", c.freed_bytes}};
}

void print(const std::string& path, bool has_root, const gc_stats& s, bool json) {
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = path;
    j["has_root"] = has_root;
    j["total"] = counts_json(s.total);
    j["transactions"] = s.transactions;
    j["by_type"] = nlohmann::ordered_json::object();
    for (const auto& [name, c] : s.by_type) j["by_type"][name] = counts_json(c);
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (!has_root) {
    std::cout << path << ": the pool has no root, so nothing is reachable; nothing was freed\n";
    return;
  }
  std::cout << path << ": " << s.total.live << " objects live (" << s.total.live_bytes
            << " bytes), " << s.total.freed << " freed (" << s.total.freed_bytes << " bytes) in "
            << s.transactions << " transactions\n";
  for (const auto& [name, c] : s.by_type) {
    std::cout << "  " << name << ": " << c.live << " live, " << c.freed << " freed\n";
  }
}

int run_gc(const std::string& path, bool json) {
  ferrite::pool_options o;
  o.mode = ferrite::open_mode::open_existing;
  o.gc_after_crash = false;  // collected below, reported in full
  ferrite::pool p = ferrite::pool::open(path, o);
  const bool has_root = p.has_root();
  gc_stats s;
  try {
    s = p.gc();
  } catch (const ferrite::error& e) {
    if (e.code() != error_code::corrupted) throw;
    std::cerr << "ferrite: " << e.what() << " [" << ferrite::to_string(e.code()) << "]\n";
    return exit_problems;
  }
  p.close();
  print(path, has_root, s, json);
  return exit_ok;
}

}  // namespace

void add_gc(CLI::App& app, command_fn& run) {
  struct args {
    std::string path;
    bool json = false;
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand(
      "gc", "Free every object not reachable from the root (opens the pool for writing)");
  sub->add_option("path", a->path, "Pool file")->required();
  sub->add_flag("--json", a->json, "Print JSON");
  sub->callback([a, &run] { run = [a] { return run_gc(a->path, a->json); }; });
}

}  // namespace ferrite::cli
