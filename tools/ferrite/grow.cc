// ferrite grow PATH --size SIZE
#include <iostream>

#include "ferrite/engine/pool.h"
#include "tools/ferrite/commands.h"

namespace ferrite::cli {

void add_grow(CLI::App& app, command_fn& run) {
  struct args {
    std::string path;
    std::string size;
  };
  auto a = std::make_shared<args>();
  CLI::App* sub = app.add_subcommand("grow", "Grow a pool file to a larger size");
  sub->add_option("path", a->path, "Pool file")->required();
  sub->add_option("-s,--size", a->size, "New total size, e.g. 1G")->required();
  sub->callback([a, &run] {
    std::uint64_t size = parse_size(a->size);
    run = [a, size] {
      ferrite::pool_options o;
      o.mode = ferrite::open_mode::open_existing;
      o.max_size = size;  // the address range to reserve: at least the new size
      ferrite::pool p = ferrite::pool::open(a->path, o);
      const std::uint64_t before = p.info().file_size;
      p.grow(size);
      const std::uint64_t after = p.info().file_size;
      p.close();
      std::cout << "grew " << a->path << " from " << before << " to " << after << " bytes\n";
      return exit_ok;
    };
  });
}

}  // namespace ferrite::cli
