// start_guessing: starts a guessing game kept in a guesser object
// (docs/tutorial.md, part 3). Asks the player's name, picks a number from
// 1 to 50 and keeps the game in guessing_game2.pool in the current
// directory; play it with guess, look at it with guess_status.
#include <iostream>

#include "guesser.h"

using namespace guessing;

static const game_files files{"guessing_game2.pool", "start_guessing"};

int main() {
  try {
    ferrite::pool_options fresh;
    fresh.mode = ferrite::open_mode::create_exclusive;  // never reuse an old game
    ferrite::pool pool = ferrite::pool::open(files.pool_path, fresh);

    // Until the root is stored below, the file holds no game: stopping
    // now is an interrupted start (guess and guess_status say so).
    std::optional<std::string> name = ask_name("Hello! What's your name? ");
    if (!name) {
      end_game(pool, files);
      std::cout << "No name, no game.\n";
      return 1;
    }
    ferrite::value root = pool.root();
    root = guesser::new_game(*name, max_number);  // the whole object, atomically
    guesser game = root.as<guesser>();
    std::cout << game.message("start") << "\n"
              << "You have " << max_guesses << " guesses: type 'guess N' to make one.\n";
  } catch (const ferrite::error& e) {
    if (e.code() == ferrite::error_code::file_exists) {
      std::cout << "A game is already in progress (" << files.pool_path
                << "). See it with 'guess_status'.\n";
    } else {
      std::cout << "start_guessing: " << e.what() << "\n";
    }
    return 1;
  }
  return 0;
}
