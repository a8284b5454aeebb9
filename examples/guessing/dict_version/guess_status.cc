// guess_status_dict: shows the game start_guessing_dict started
// (docs/tutorial.md, part 2): who plays, the guesses so far and the answer
// to the last one. Changes nothing.
#include <iostream>
#include <string>

#include "../game_files.h"

using namespace guessing;

static const game_files files{"guessing_game.pool", "start_guessing_dict"};

int main() {
  try {
    ferrite::pool pool = reopen_game(files);
    ferrite::value game = pool.root();
    std::int64_t number = game["number"].as_int();
    ferrite::list guesses = game["guesses"].as_list();
    std::cout << game["name"].as_str() << " is guessing my number between 1 and " << max_number
              << ".\n";
    if (guesses.empty()) {
      std::cout << "No guesses yet: make one with 'guess_dict N'.\n";
      return 0;
    }
    std::cout << "Guesses so far (" << guesses.size() << " of " << max_guesses << "):";
    const char* separator = " ";
    for (ferrite::value g : guesses) {
      std::cout << separator << g.as_int();
      separator = ", ";
    }
    std::int64_t last = guesses[-1].as_int();
    std::cout << "\nThe last one, " << last << ", was "
              << (last < number   ? "too low"
                  : last > number ? "too high"
                                  : "right")
              << ".\n";
  } catch (const game_error& e) {
    std::cout << e.what() << "\n";
    return 1;
  } catch (const ferrite::error& e) {
    std::cout << "guess_status_dict: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
