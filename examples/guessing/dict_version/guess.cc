// guess_dict N: one guess in the game start_guessing_dict started
// (docs/tutorial.md, part 2). The game is the pool's root, a dict:
//   {'guesses': [25, 40], 'name': 'Ada', 'number': 36}
// The only change a guess makes is one list append, atomic on its own.
#include <iostream>
#include <string>

#include "../game_files.h"

using namespace guessing;

static const game_files files{"guessing_game.pool", "start_guessing_dict"};

int main(int argc, char** argv) {
  try {
    std::int64_t guess = guess_argument(argc, argv);
    ferrite::pool pool = reopen_game(files);
    ferrite::value game = pool.root();
    std::string name = game["name"].str();
    std::int64_t number = game["number"].as_int();
    ferrite::list guesses = game["guesses"].as_list();
    if (guesses.contains(number) || guesses.size() >= max_guesses) {
      // Finished, but the last guess stopped before removing the file.
      std::cout << "That game is over. Start a new one with '" << files.start_command << "'.\n";
      end_game(pool, files);
      return 1;
    }

    bool seen = guesses.contains(guess);
    guesses.append(guess);  // atomic: after a crash it is there or not, never half
    bool won = guess == number;
    if (won) {
      std::cout << "Right! You found my number in " << guesses.size() << " guesses, " << name
                << ".\n";
    } else if (seen) {
      std::cout << "You already guessed " << guess << ".\n";
    } else {
      std::cout << guess << " is too " << (guess < number ? "low" : "high") << ".\n";
    }
    if (!won && guesses.size() >= max_guesses) {
      std::cout << "That was your last guess, " << name << ". My number was " << number << ".\n";
    }
    if (won || guesses.size() >= max_guesses) end_game(pool, files);
  } catch (const game_error& e) {
    std::cout << e.what() << "\n";
    return 1;
  } catch (const ferrite::error& e) {
    std::cout << "guess_dict: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
