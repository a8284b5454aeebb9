// What the guessing-game commands share (docs/tutorial.md): the rules, the
// name prompt, the guess argument, and reopening the game's pool file with
// a clear message for each way it can be missing or unusable.
//
//   const game_files files{"guessing_game2.pool", "start_guessing"};
//   try {
//     ferrite::pool pool = reopen_game(files);   // the game in progress
//     ...
//     if (over) end_game(pool, files);            // the file goes away
//   } catch (const game_error& e) {
//     std::cout << e.what() << "\n";               // "No game in progress..."
//     return 1;
//   }
//
// Both versions of the game (a dict and a list; a guesser object) keep one
// game in one pool file in the current directory. The file exists from the
// moment start_guessing creates it; the game is complete once its setup
// transaction committed (the root is no longer None). A file whose root is
// still None is an interrupted start.
//
// Thread-safety: single-threaded command-line programs.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <ferrite/ferrite.h>

namespace guessing {

// The rules: a number from 1 to max_number; the game is lost when the
// max_guesses-th guess is not the number.
inline constexpr std::int64_t max_number = 50;
inline constexpr std::size_t max_guesses = 7;

// A message for the player; the command prints it and exits with status 1.
struct game_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Which pool file holds the game and which command starts one (named in
// the messages).
struct game_files {
  const char* pool_path;
  const char* start_command;
};

// The number to guess, from 1 to max.
inline std::int64_t pick_number(std::int64_t max) {
  std::random_device seed;
  std::mt19937_64 gen(seed());
  return std::uniform_int_distribution<std::int64_t>(1, max)(gen);
}

// Asks the player's name on stdin; nothing at end of input or for a blank line.
inline std::optional<std::string> ask_name(std::string_view prompt) {
  std::cout << prompt << std::flush;
  std::string name;
  if (!std::getline(std::cin, name)) {
    std::cout << "\n";
    return std::nullopt;
  }
  if (name.find_first_not_of(" \t\r") == std::string::npos) return std::nullopt;
  return name;
}

// The guess on the command line (`guess 25`): exactly one whole number.
inline std::int64_t guess_argument(int argc, char** argv) {
  std::int64_t guess = 0;
  if (argc == 2) {
    std::string_view text = argv[1];
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), guess);
    if (ec == std::errc() && end == text.data() + text.size()) return guess;
  }
  throw game_error("Give me one whole number as your guess, for example: guess 25");
}

// Opens the game in progress. Throws game_error when there is none, when
// the file cannot be opened, and for an interrupted start (the file exists
// but its setup never committed: the file is removed so that the player
// can start again).
inline ferrite::pool reopen_game(const game_files& files) {
  ferrite::pool_options existing;
  existing.mode = ferrite::open_mode::open_existing;
  std::optional<ferrite::pool> pool;
  try {
    pool.emplace(ferrite::pool::open(files.pool_path, existing));
  } catch (const ferrite::error& e) {
    if (e.code() == ferrite::error_code::file_missing) {
      throw game_error(std::string("No game in progress. Start one with '") + files.start_command +
                       "'.");
    }
    throw game_error(std::string("Cannot open the game file ") + files.pool_path + ": " + e.what());
  }
  if (pool->root().is_none()) {
    pool->close();
    std::remove(files.pool_path);
    throw game_error(std::string("The last '") + files.start_command +
                     "' was interrupted before the game was set up, so there is no game "
                     "to play. Run '" +
                     files.start_command + "' again.");
  }
  return std::move(*pool);
}

// Closes the pool and removes its file: the game is over. What the player
// was told goes out first, so that a crash in between never hides it.
inline void end_game(ferrite::pool& pool, const game_files& files) {
  std::cout.flush();
  pool.close();
  std::remove(files.pool_path);
}

}  // namespace guessing
