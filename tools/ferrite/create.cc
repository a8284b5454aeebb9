// ferrite create PATH [--size SIZE]
#include <iostream>

#include "ferrite/engine/pool.h"
#include "tools/ferrite/commands.h"

namespace ferrite::cli {

void add_create(CLI::App& app, command_fn& run) {
  struct args {
    std::string path;
    std::string size = "64M";
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand("create", "Create a new, empty pool (fails if PATH exists)");
  sub->add_option("path", a->path, "Pool file to create")->required();
  sub->add_option("-s,--size", a->size, "Pool size, e.g. 64M or 1G (minimum 2M)")
      ->capture_default_str();
  sub->callback([a, &run] {
    std::uint64_t size = parse_size(a->size);
    run = [a, size] {
      ferrite::pool p = ferrite::pool::create(a->path, size);
      ferrite::pool_info info = p.info();
      p.close();
      std::cout << "created " << a->path << ": " << info.file_size << " bytes, uuid "
                << ferrite::format_uuid(info.uuid) << "\n";
      return exit_ok;
    };
  });
}

}  // namespace ferrite::cli
