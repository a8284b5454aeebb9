// guesser: the guessing game as a registered class (docs/tutorial.md,
// part 3), nvm.pmemobj's PersistentObject pattern. A guesser is a
// ferrite::object of class "guess.Guesser" whose attributes live in the
// pool:
//   name, maximum, number     the player and the secret (set at start)
//   guesses                   a list of every guess, in order
//   current_guess,            the last guess and its outcome ("low",
//   current_outcome           "high", "right", "seen"; "" before any)
//   done, lost                the game is over / was lost
//
//   root = guesser::new_game("Ada", 50);          // one atomic store
//   guesser game = root.as<guesser>();
//   std::string outcome = game.check_guess(25);   // all changes or none
//   std::cout << game.message(outcome) << "\n";
//
// Invariant (what check_guess's transaction keeps): guesses holds exactly
// the guesses that were checked; current_guess is the last of them; done
// is set exactly when the last one was right or guesses is full.
//
// Thread-safety: one process plays at a time (the pool is locked).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include <ferrite/ferrite.h>
#include "game_files.h"

namespace guessing {

// TEST HOOK, for tests/tutorial_test.py only: when the environment sets
// FERRITE_TUTORIAL_PAUSE_IN_GUESS=SECONDS, check_guess says so on stderr
// and sleeps inside its transaction (every change made, none committed), so
// that the test can kill the process at exactly that point. Unset (as for
// any player), it does nothing.
inline void pause_inside_transaction_for_test() {
  const char* seconds = std::getenv("FERRITE_TUTORIAL_PAUSE_IN_GUESS");
  if (seconds == nullptr) return;
  std::cerr << "paused inside the transaction (test hook)" << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(std::atoi(seconds)));
}

class guesser : public ferrite::object {
 public:
  using object::object;

  // A new game for `name`: a number from 1 to maximum, no guesses yet.
  static ferrite::input new_game(const std::string& name, std::int64_t maximum) {
    return ferrite::new_object<guesser>({{"name", name},
                                         {"maximum", maximum},
                                         {"number", pick_number(maximum)},
                                         {"guesses", ferrite::list_of()},
                                         {"current_guess", ferrite::none},
                                         {"current_outcome", ""},
                                         {"done", false},
                                         {"lost", false}});
  }

  std::string name() const { return (*this)["name"].str(); }
  std::int64_t maximum() const { return (*this)["maximum"].as_int(); }
  std::int64_t number() const { return (*this)["number"].as_int(); }
  ferrite::list guesses() const { return (*this)["guesses"].as_list(); }
  bool done() const { return (*this)["done"].as_bool(); }
  bool lost() const { return (*this)["lost"].as_bool(); }
  std::string current_outcome() const { return (*this)["current_outcome"].str(); }

  // Records one guess and returns its outcome. Throws game_error, changing
  // nothing, for a guess outside 1..maximum. REQUIRES: !done().
  std::string check_guess(std::int64_t guess) {
    if (guess < 1 || guess > maximum()) {
      throw game_error("Come on, " + name() + ": my number is between 1 and " +
                       std::to_string(maximum()) + ".");
    }
    transaction([&] {  // a crash leaves all of this done, or none of it
      ferrite::list all = guesses();
      std::string outcome = guess == number()     ? "right"
                            : all.contains(guess) ? "seen"
                            : guess < number()    ? "low"
                                                  : "high";
      (*this)["current_guess"] = guess;
      (*this)["current_outcome"] = outcome;
      all.append(guess);
      if (outcome == "right") {
        (*this)["done"] = true;
      } else if (all.size() >= max_guesses) {
        (*this)["lost"] = true;
        (*this)["done"] = true;
      }
      pause_inside_transaction_for_test();
    });
    return current_outcome();
  }

  // What to tell the player: "start", an outcome of check_guess, or "lost".
  std::string message(const std::string& what) const {
    if (what == "start") {
      return name() + ", I'm thinking of a number between 1 and " + std::to_string(maximum()) + ".";
    }
    std::string guess = std::to_string((*this)["current_guess"].as_int());
    if (what == "right") {
      return "Right! You found my number in " + std::to_string(guesses().size()) + " guesses, " +
             name() + ".";
    }
    if (what == "seen") return "You already guessed " + guess + ".";
    if (what == "low") return guess + " is too low.";
    if (what == "high") return guess + " is too high.";
    return "That was your last guess, " + name() + ". My number was " + std::to_string(number()) +
           ".";
  }
};
FERRITE_CLASS(guesser, "guess.Guesser")  // the stable name stored with each guesser

}  // namespace guessing
