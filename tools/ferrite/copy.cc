// ferrite copy SRC DST [--size SIZE] [--salvage] [--json]: a new pool DST holding only
// what SRC's root reaches, packed densely (ferrite::copy_pool,
// engine/copy.h; docs/gc.md "Copying a pool").
// Exit status: 0 copied, 1 SRC is damaged (nothing written), 2 anything
// else kept the copy from being made (DST exists, too small a size, an
// untyped object reachable, SRC cannot be opened); DST is then absent.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ferrite/base/error.h"
#include "ferrite/engine/copy.h"
#include "tools/ferrite/commands.h"

namespace ferrite::cli {
namespace {

// A progress bar on stderr when it is a terminal, redrawn at most ten
// times a second; the line is cleared at the end.
class progress_bar {
 public:
  progress_bar() : on_(::isatty(STDERR_FILENO) == 1) {}
  ~progress_bar() {
    if (on_ && drawn_) std::fprintf(stderr, "\r\033[K");
  }

  void operator()(std::uint64_t done, std::uint64_t total) {
    if (!on_ || total == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    constexpr int width = 40;
    const int filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\rcopying [%.*s%*s] %llu / %llu objects", filled,
                 "########################################", width - filled, "",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
    std::fflush(stderr);
  }

 private:
  bool on_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

int run_copy(const std::string& src, const std::string& dst, std::uint64_t size, bool salvage,
             bool json) {
  progress_bar bar;
  ferrite::copy_options o;
  o.size = size;
  o.salvage = salvage;
  o.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar(done, total); };
  const auto start = std::chrono::steady_clock::now();
  ferrite::copy_stats s;
  try {
    s = ferrite::copy_pool(src, dst, o);
  } catch (const ferrite::error& e) {
    if (e.code() != error_code::corrupted) throw;
    std::cerr << "ferrite: " << e.what() << " [" << ferrite::to_string(e.code()) << "]\n";
    return exit_problems;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (json) {
    nlohmann::ordered_json j;
    j["source"] = src;
    j["destination"] = dst;
    j["objects"] = s.objects;
    j["bytes"] = s.bytes;
    j["pointers"] = s.pointers;
    j["source_file_size"] = s.src_file_size;
    j["destination_file_size"] = s.dst_file_size;
    j["source_heap_used"] = s.src_heap_used;
    j["destination_heap_used"] = s.dst_heap_used;
    j["seconds"] = seconds;
    if (salvage) j["left_out"] = s.damage;
    std::cout << j.dump(2) << "\n";
    return exit_ok;
  }
  std::cout << "copied " << s.objects << " objects (" << s.bytes << " bytes, " << s.pointers
            << " pointers rewritten) from " << src << " to " << dst << ": heap in use "
            << s.src_heap_used << " -> " << s.dst_heap_used << " bytes, file " << s.src_file_size
            << " -> " << s.dst_file_size << " bytes\n";
  if (!s.damage.empty()) std::cout << "salvaged; left out: " << s.damage << "\n";
  return exit_ok;
}

}  // namespace

void add_copy(CLI::App& app, command_fn& run) {
  struct args {
    std::string src, dst, size;
    bool json = false, salvage = false;
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand(
      "copy", "Write a new pool holding only what SRC's root reaches, packed densely");
  sub->add_option("src", a->src, "Pool to copy (opened read-only)")->required();
  sub->add_option("dst", a->dst, "New pool file (must not exist)")->required();
  sub->add_option("-s,--size", a->size,
                  "Size of DST, e.g. 64M (default: the live data plus a quarter, plus the log)");
  sub->add_flag("--salvage", a->salvage,
                "SRC's change log is damaged: copy the state before the damaged record");
  sub->add_flag("--json", a->json, "Print JSON");
  sub->callback([a, &run] {
    const std::uint64_t size = a->size.empty() ? 0 : parse_size(a->size);
    run = [a, size] { return run_copy(a->src, a->dst, size, a->salvage, a->json); };
  });
}

}  // namespace ferrite::cli
