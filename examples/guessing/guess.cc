// guess N: one guess in the game start_guessing started (docs/tutorial.md,
// part 3). guesser::check_guess makes all of the guess's changes in one
// transaction; the game file goes away when the game is over.
#include <iostream>
#include <string>

#include "guesser.h"

using namespace guessing;

static const game_files files{"guessing_game2.pool", "start_guessing"};

int main(int argc, char** argv) {
  try {
    std::int64_t guess = guess_argument(argc, argv);
    ferrite::pool pool = reopen_game(files);
    guesser game = pool.root().as<guesser>();
    if (game.done()) {  // finished, but the last guess stopped before removing the file
      std::cout << "That game is over. Start a new one with 'start_guessing'.\n";
      end_game(pool, files);
      return 1;
    }
    std::string outcome = game.check_guess(guess);
    std::cout << game.message(outcome) << "\n";
    if (game.lost()) std::cout << game.message("lost") << "\n";
    if (game.done()) end_game(pool, files);
  } catch (const game_error& e) {
    std::cout << e.what() << "\n";
    return 1;
  } catch (const ferrite::error& e) {
    std::cout << "guess: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
