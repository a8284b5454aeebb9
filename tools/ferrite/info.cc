// ferrite info PATH [--json]
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/pool.h"
#include "engine/pool_impl.h"
#include "tools/ferrite/commands.h"

namespace ferrite::cli {
namespace {

std::string iso_time(std::uint64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1000000000ull);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Problems found while the pool still opened: reported, exit status 1.
std::vector<std::string> find_problems(const ferrite::pool& p) {
  std::vector<std::string> problems;
  auto& impl = p.impl();
  for (int slot = 0; slot < 2; ++slot) {
    auto r = impl.superblocks->inspect(slot);
    // A slot never written yet (only in a pool opened once) is not a problem.
    bool never_written = r.problem == "bad magic" && impl.state.sequence < 2;
    if (!r.valid && !never_written) {
      problems.push_back("superblock slot " + std::to_string(slot) + ": " + r.problem);
    }
  }
  return problems;
}

int run_info(const std::string& path, bool json) {
  ferrite::pool_options o;
  o.mode = ferrite::open_mode::read_only;
  ferrite::pool p = ferrite::pool::open(path, o);
  ferrite::pool_info i = p.info();
  std::vector<std::string> problems = find_problems(p);
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = i.path;
    j["format_version"] = i.format_version;
    j["uuid"] = ferrite::format_uuid(i.uuid);
    j["pool_tag"] = i.pool_tag;
    j["created"] = iso_time(i.creation_time_ns);
    j["file_size"] = i.file_size;
    j["granularity"] = std::string(ferrite::to_string(i.store_granularity));
    j["features"] = {{"compat", i.compat_features},
                     {"incompat", i.incompat_features},
                     {"ro_compat", i.ro_compat_features}};
    j["regions"] = nlohmann::ordered_json::array();
    for (const auto& r : i.regions) {
      j["regions"].push_back({{"name", r.name}, {"offset", r.offset}, {"size", r.size}});
    }
    j["chunk_size"] = i.chunk_size;
    j["clean_shutdown"] = i.was_clean_shutdown;
    j["superblock_sequence"] = i.superblock_sequence;
    j["checkpoint_lsn"] = i.checkpoint_lsn;
    j["log_epoch"] = i.log_epoch;
    j["open_count"] = i.open_count;
    j["root_offset"] = i.root_offset;
    j["problems"] = problems;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "pool            " << i.path << "\n"
              << "format version  " << i.format_version << "\n"
              << "uuid            " << ferrite::format_uuid(i.uuid) << "\n"
              << "pool tag        " << i.pool_tag << "\n"
              << "created         " << iso_time(i.creation_time_ns) << "\n"
              << "file size       " << i.file_size << " bytes\n"
              << "granularity     " << ferrite::to_string(i.store_granularity) << "\n"
              << "clean shutdown  " << (i.was_clean_shutdown ? "yes" : "no (recovered at next open)")
              << "\n"
              << "opens           " << i.open_count << "\n"
              << "checkpoint LSN  " << i.checkpoint_lsn << " (epoch " << i.log_epoch << ")\n"
              << "root            " << (i.root_offset ? std::to_string(i.root_offset) : "none")
              << "\n"
              << "regions:\n";
    for (const auto& r : i.regions) {
      std::cout << "  " << std::left << std::setw(12) << r.name << " offset " << std::right
                << std::setw(12) << r.offset << "  size " << std::setw(12) << r.size << "\n";
    }
    for (const auto& pr : problems) std::cout << "problem: " << pr << "\n";
  }
  return problems.empty() ? exit_ok : exit_problems;
}

}  // namespace

void add_info(CLI::App& app, command_fn& run) {
  struct args {
    std::string path;
    bool json = false;
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand("info", "Show a pool's header, regions and state (read-only)");
  sub->add_option("path", a->path, "Pool file")->required();
  sub->add_flag("--json", a->json, "Print JSON");
  sub->callback([a, &run] { run = [a] { return run_info(a->path, a->json); }; });
}

}  // namespace ferrite::cli
