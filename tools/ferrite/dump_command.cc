// ferrite dump PATH [--json] [--max-elements N] [--depth N] [--max-string N] [--all]
//
// Exit status: 0 the object graph decoded without problems (also for a pool
// without a root object), 1 some pointer or container storage is damaged
// (each shows as a <...> note in place, or a "problem" value in JSON), 2 the
// pool cannot be opened or the arguments are wrong.
#include <iostream>

#include "tools/ferrite/commands.h"
#include "tools/ferrite/dump.h"

namespace ferrite::cli {
namespace {

int run_dump(const std::string& path, const dump_options& options, bool json) {
  ferrite::pool_options o;
  o.mode = ferrite::open_mode::read_only;
  const ferrite::pool p = ferrite::pool::open(path, o);
  const dump_result r = decode_pool(p, options);
  if (json) {
    std::cout << to_json(r).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << "\n";
  } else {
    print_text(r, std::cout);
  }
  return r.problems == 0 ? exit_ok : exit_problems;
}

}  // namespace

void add_dump(CLI::App& app, command_fn& run) {
  struct args {
    std::string path;
    bool json = false;
    dump_options options;
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand(
      "dump",
      "Decode the objects reachable from the root through the pool's type table (read-only)");
  sub->add_option("path", a->path, "Pool file")->required();
  sub->add_flag("--json", a->json, "Print one JSON document: {root, types, ...}");
  sub->add_option("--max-elements", a->options.max_elements,
                  "Elements shown per container or array; the rest are counted")
      ->capture_default_str();
  sub->add_option("--depth", a->options.max_depth, "Nesting levels shown (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  sub->add_option("--max-string", a->options.max_text, "Bytes of a string shown")
      ->capture_default_str();
  sub->add_flag("--all", a->options.all,
                "Also list heap objects not reached from the root (offset, type, size)");
  sub->callback([a, &run] { run = [a] { return run_dump(a->path, a->options, a->json); }; });
}

}  // namespace ferrite::cli
