// start_guessing_dict: starts a guessing game kept in a dict and a list
// (docs/tutorial.md, part 2). Asks the player's name, picks a number from
// 1 to 50 and keeps the game in guessing_game.pool in the current
// directory; play it with guess_dict, look at it with guess_status_dict.
#include <iostream>

#include "../game_files.h"

using namespace guessing;

static const game_files files{"guessing_game.pool", "start_guessing_dict"};

int main() {
  try {
    ferrite::pool_options fresh;
    fresh.mode = ferrite::open_mode::create_exclusive;  // never reuse an old game
    ferrite::pool pool = ferrite::pool::open(files.pool_path, fresh);

    // From here until the transaction below commits, the file exists but
    // holds no game: stopping now is an interrupted start (guess_dict says so).
    std::optional<std::string> name = ask_name("Hello! What's your name? ");
    if (!name) {
      end_game(pool, files);
      std::cout << "No name, no game.\n";
      return 1;
    }
    ferrite::value root = pool.root();
    pool.transaction([&] {  // the whole setup, or nothing
      root = ferrite::dict_of();
      root["name"] = *name;
      root["number"] = pick_number(max_number);
      root["guesses"] = ferrite::list_of();
    });
    std::cout << *name << ", I'm thinking of a number between 1 and " << max_number << ".\n"
              << "You have " << max_guesses << " guesses: type 'guess_dict N' to make one.\n";
  } catch (const ferrite::error& e) {
    if (e.code() == ferrite::error_code::file_exists) {
      std::cout << "A game is already in progress (" << files.pool_path
                << "). See it with 'guess_status_dict'.\n";
    } else {
      std::cout << "start_guessing_dict: " << e.what() << "\n";
    }
    return 1;
  }
  return 0;
}
