// ferrite: inspect and manage ferrite pool files.
#include <iostream>

#include "ferrite/base/error.h"
#include "tools/ferrite/commands.h"

int main(int argc, char** argv) {
  using namespace ferrite::cli;
  CLI::App app{"ferrite: inspect and manage ferrite pool files"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ferrite ") + FERRITE_VERSION);
  command_fn run;
  add_create(app, run);
  add_info(app, run);
  add_check(app, run);
  add_grow(app, run);
  add_dump(app, run);
  add_gc(app, run);
  add_copy(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_unusable;
  }
  try {
    return run();
  } catch (const ferrite::error& e) {
    std::cerr << "ferrite: " << e.what() << " [" << ferrite::to_string(e.code()) << "]\n";
    return exit_unusable;
  } catch (const std::exception& e) {
    std::cerr << "ferrite: " << e.what() << "\n";
    return exit_unusable;
  }
}
