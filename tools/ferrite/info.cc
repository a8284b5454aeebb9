// ferrite info PATH [--json]
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ferrite/engine/check.h"
#include "ferrite/engine/pool.h"
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

int run_info(const std::string& path, bool json) {
  ferrite::pool_options o;
  o.mode = ferrite::open_mode::read_only;
  ferrite::pool p = ferrite::pool::open(path, o);
  ferrite::pool_info i = p.info();
  std::vector<std::string> problems;
  for (const auto& pr : ferrite::check_pool(p).problems) {
    problems.push_back(pr.what + " (at offset " + std::to_string(pr.offset) + ")");
  }
  const ferrite::heap_stats h = p.heap_statistics();
  const ferrite::pool_stats st = p.stats();
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
    j["log_records_to_replay"] = st.recovered_records;
    j["log_bytes_to_replay"] = st.recovered_bytes;
    nlohmann::ordered_json heap;
    heap["heap_bytes"] = h.heap_bytes;
    heap["objects"] = h.objects;
    heap["object_bytes"] = h.object_bytes;
    heap["extents"] = h.extents;
    heap["extent_bytes"] = h.extent_bytes;
    heap["free_bytes"] = h.free_bytes;
    heap["largest_free"] = h.largest_free;
    heap["fragmentation"] = h.fragmentation;
    heap["size_classes"] = nlohmann::ordered_json::array();
    for (const auto& c : h.classes) {
      heap["size_classes"].push_back({{"slot_size", c.slot_size},
                                      {"runs", c.runs},
                                      {"objects", c.objects},
                                      {"bytes", c.bytes},
                                      {"free_slots", c.free_slots}});
    }
    j["heap"] = heap;
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
              << "clean shutdown  "
              << (i.was_clean_shutdown ? "yes" : "no (recovered at next open)") << "\n"
              << "opens           " << i.open_count << "\n"
              << "checkpoint LSN  " << i.checkpoint_lsn << " (epoch " << i.log_epoch << ")\n"
              << "root            " << (i.root_offset ? std::to_string(i.root_offset) : "none")
              << "\n"
              << "regions:\n";
    for (const auto& r : i.regions) {
      std::cout << "  " << std::left << std::setw(12) << r.name << " offset " << std::right
                << std::setw(12) << r.offset << "  size " << std::setw(12) << r.size << "\n";
    }
    if (!i.was_clean_shutdown) {
      std::cout << "log             " << st.recovered_records << " committed records ("
                << st.recovered_bytes << " bytes) to replay at the next writable open\n";
    }
    std::cout << "heap:\n"
              << "  objects       " << h.objects << " (" << h.object_bytes << " bytes; "
              << h.extents << " large)\n"
              << "  free          " << h.free_bytes << " of " << h.heap_bytes << " bytes\n"
              << "  largest free  " << h.largest_free << " bytes\n"
              << "  fragmentation " << std::fixed << std::setprecision(3) << h.fragmentation
              << "\n";
    if (!h.classes.empty()) {
      std::cout << "  size class      runs     objects       bytes  free slots\n";
      for (const auto& c : h.classes) {
        std::cout << "  " << std::setw(10) << c.slot_size << std::setw(10) << c.runs
                  << std::setw(12) << c.objects << std::setw(12) << c.bytes << std::setw(12)
                  << c.free_slots << "\n";
      }
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
