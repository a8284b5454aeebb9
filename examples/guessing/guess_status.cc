// guess_status: shows the game start_guessing started (docs/tutorial.md,
// part 3): who plays, the guesses so far and the answer to the last one.
// Changes nothing.
#include <iostream>

#include "guesser.h"

using namespace guessing;

static const game_files files{"guessing_game2.pool", "start_guessing"};

int main() {
  try {
    ferrite::pool pool = reopen_game(files);
    guesser game = pool.root().as<guesser>();
    std::cout << game.name() << " is guessing my number between 1 and " << game.maximum() << ".\n";
    ferrite::list guesses = game.guesses();
    if (guesses.empty()) {
      std::cout << "No guesses yet: make one with 'guess N'.\n";
      return 0;
    }
    std::cout << "Guesses so far (" << guesses.size() << " of " << max_guesses << "):";
    const char* separator = " ";
    for (ferrite::value g : guesses) {
      std::cout << separator << g.as_int();
      separator = ", ";
    }
    std::cout << "\nMy answer to the last one: " << game.message(game.current_outcome()) << "\n";
    if (game.lost()) std::cout << game.message("lost") << "\n";
  } catch (const game_error& e) {
    std::cout << e.what() << "\n";
    return 1;
  } catch (const ferrite::error& e) {
    std::cout << "guess_status: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
