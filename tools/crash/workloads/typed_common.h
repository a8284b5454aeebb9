// Helpers of the typed workloads (their skeleton, typed_skeleton.h, and
// values and gc, which do not fit it): how an operation is wrapped (atomic,
// transaction, nested, aborted), random texts, and the root's commit counter.
//
// Every typed workload's root but values' (its 'tx' and 'tx~' keys) begins
// with two words: the number of transactions the workload committed and its
// complement, bumped at the end of every transaction it runs (not by an
// operation atomic on its own).
// The invariant `complement == ~commits` holds in every state.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include "ferrite/base/error.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "tools/crash/workload.h"

namespace ferrite::crash::typed {

// How an operation's steps run: one call atomic on its own (one step, no
// counter bump), a transaction, a transaction inside a transaction, or a
// transaction that throws after its steps (nothing changes).
enum class tx_mode { atomic, transaction, nested, aborted };

// transaction 1/2, nested 1/8, aborted 1/8, atomic 1/4 (only when
// `atomic_ok`, else a transaction).
inline tx_mode pick_mode(std::mt19937_64& rng, bool atomic_ok) {
  const std::uint64_t r = rng() % 8;
  if (r < 4) return tx_mode::transaction;
  if (r < 5) return tx_mode::nested;
  if (r < 6) return tx_mode::aborted;
  return atomic_ok ? tx_mode::atomic : tx_mode::transaction;
}

struct planned_abort {};  // thrown out of a transaction on purpose

// The root's first two words.
struct commit_counter {
  std::uint64_t commits;
  std::uint64_t complement;
};

// Bumps the commit counter at the start of `r` (a root whose first two
// words are a commit_counter), inside the running transaction.
template <class Root>
void bump_commits(Root& r) {
  commit_counter* c = reinterpret_cast<commit_counter*>(&r.commits);
  tx_snapshot(c, sizeof *c);
  c->commits += 1;
  c->complement = ~c->commits;
}

// Runs `steps()` as `how` says. In a transaction, `at_commit()` runs after
// the steps, inside it (bump_commits, say); an atomic step has no commit
// of the workload's own.
template <class Steps, class AtCommit>
void run_as(pool& p, tx_mode how, Steps&& steps, AtCommit&& at_commit) {
  if (how == tx_mode::atomic) {
    steps();
    return;
  }
  auto body = [&] {
    steps();
    at_commit();
  };
  switch (how) {
    case tx_mode::transaction:
      p.transaction(body);
      return;
    case tx_mode::nested:
      p.transaction([&] { p.transaction(body); });
      return;
    case tx_mode::aborted:
      try {
        p.transaction([&] {
          body();
          throw planned_abort{};
        });
      } catch (const planned_abort&) {
      }
      return;
    case tx_mode::atomic:
      return;
  }
}

// The entry of typed workload W (made from the seed): typed, and no
// continuation on recovered images (workload_info::typed). The caller sets
// the pool sizes and operation counts.
template <class W>
workload_info info(std::string name, std::string description) {
  workload_info w;
  w.name = std::move(name);
  w.description = std::move(description);
  w.make = [](std::uint64_t seed) { return std::make_unique<W>(seed); };
  w.typed = true;
  w.continue_ops = 0;
  return w;
}

// "" when the counter and its complement agree.
inline std::string counter_invariant(const commit_counter& c) {
  if (c.complement == ~c.commits) return "";
  return "the transaction count " + std::to_string(c.commits) + " and its complement disagree";
}

inline std::string letters(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, 'a');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

// A short text: 0-14 letters (a string buffer of capacity 15), one time in
// four 16-30 (capacity 16-30): two size classes.
inline std::string short_text(std::mt19937_64& rng) {
  if (rng() % 4 != 0) return letters(rng, rng() % 15);
  return letters(rng, 16 + rng() % 15);
}

// Expects `fn` to throw ferrite::error `code` (an absent key: not_found; a
// position outside a vector: out_of_range); throws std::logic_error when it
// does not.
template <class Fn>
void expect_misuse(error_code code, const char* what, Fn&& fn) {
  try {
    fn();
  } catch (const ferrite::error& e) {
    if (e.code() == code) return;
    throw;
  }
  throw std::logic_error(std::string(what) + " did not throw " + std::string(to_string(code)));
}

}  // namespace ferrite::crash::typed
