// Subcommands of the `ferrite` inspection CLI. Each registers itself on the
// CLI11 app and sets `run` to the function that carries it out; that
// function returns the process exit status:
//   0 success, 1 the pool has problems, 2 it cannot be opened or the
//   arguments are wrong.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

namespace ferrite::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_problems = 1;
inline constexpr int exit_unusable = 2;

using command_fn = std::function<int()>;

void add_create(CLI::App& app, command_fn& run);
void add_info(CLI::App& app, command_fn& run);
void add_check(CLI::App& app, command_fn& run);
void add_grow(CLI::App& app, command_fn& run);
void add_dump(CLI::App& app, command_fn& run);
void add_gc(CLI::App& app, command_fn& run);
void add_copy(CLI::App& app, command_fn& run);

// Parses "64M", "1GiB", "4096", "2 MiB" into bytes; throws CLI::ValidationError.
std::uint64_t parse_size(const std::string& text);

}  // namespace ferrite::cli
