// ferrite check PATH [--json]
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
    j["objects"] = r.objects;
    j["clean_shutdown"] = r.was_clean_shutdown;
    j["log_records_to_replay"] = r.recovered_records;
    j["problems"] = nlohmann::ordered_json::array();
    for (const auto& p : r.problems)
      j["problems"].push_back({{"offset", p.offset}, {"problem", p.what}});
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& p : r.problems) std::cout << "offset " << p.offset << ": " << p.what << "\n";
    std::cout << path << ": " << (r.problems.empty() ? "ok" : "PROBLEMS FOUND") << " ("
              << r.problems.size() << " problems, " << r.objects << " objects"
              << (r.was_clean_shutdown ? "" : ", not cleanly shut down") << ")\n";
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
