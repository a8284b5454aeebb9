// The account store of the transfer workloads (issue 15), the same in every
// engine that runs them (ferrite: bench/ferrite_containers.h; std:
// bench/std_engine.cc; libpmemobj has no hash map: not run).
//
//   transfer_picker pick(t);              // thread t's deterministic stream
//   transfer_pick op = pick.next();       // two distinct accounts, an amount
//   ... take the locks of op.from, op.to and the log; then, in one transaction:
//   amount = balance(op.from) >= op.amount ? op.amount : 0;
//   balance(op.from) -= amount; balance(op.to) += amount;
//   log.push_back({op.from, op.to, amount});
//
// The store: transfer_accounts accounts numbered 0..transfer_accounts-1
// (the number is the map key), each starting with transfer_initial_balance,
// each with its own lock, and one shared log of transfers with its own lock.
// A transfer that would overdraw its source is committed with amount 0, so
// every op commits exactly one log entry and no balance goes negative.
//
// The check after the run (check_transfers): the sum of the balances is
// transfer_accounts * transfer_initial_balance; the log holds one entry per
// op; replaying it in log order from the initial balances never overdraws
// an account and ends at every account's balance. Since a transfer holds
// the locks of both accounts and of the log while it changes them, the log
// order is an order in which the transfers can be applied one after the
// other: a lost update, a torn transaction or a log entry out of order
// fails the replay.
//
// Thread-safety: a transfer_picker belongs to one thread; check_transfers
// is a pure function.
#pragma once

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferrite::bench {

inline constexpr std::uint64_t transfer_accounts = 1000;
inline constexpr std::int64_t transfer_initial_balance = 1000;
inline constexpr std::int64_t transfer_max_amount = 100;  // amounts are 1..100

// One entry of the transfer log (ferrite stores it as a FERRITE_TYPE).
struct transfer_entry {
  std::uint64_t from;
  std::uint64_t to;
  std::int64_t amount;  // 0: the transfer would have overdrawn `from`
};

struct transfer_pick {
  std::uint64_t from;
  std::uint64_t to;  // != from
  std::int64_t amount;
};

// Thread t's transfers: mt19937_64 seeded with 1000 + t, so a run is the
// same sequence in every engine (which transfers overdraw depends on how
// the threads interleave).
class transfer_picker {
 public:
  explicit transfer_picker(int thread) : random_(1000 + static_cast<std::uint64_t>(thread)) {}

  transfer_pick next() {
    transfer_pick p{};
    p.from = account_(random_);
    do {
      p.to = account_(random_);
    } while (p.to == p.from);
    p.amount = amount_(random_);
    return p;
  }

 private:
  std::mt19937_64 random_;
  std::uniform_int_distribution<std::uint64_t> account_{0, transfer_accounts - 1};
  std::uniform_int_distribution<std::int64_t> amount_{1, transfer_max_amount};
};

// Throws std::runtime_error, saying what is wrong, unless `log` (in log
// order) and `balances` (account i's balance at index i) are what `ops`
// transfers leave (see the banner). `who` names the engine in the message.
inline void check_transfers(const std::string& who, const std::vector<transfer_entry>& log,
                            const std::vector<std::int64_t>& balances, std::uint64_t ops) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(who + " transfer: " + what);
  };
  if (balances.size() != transfer_accounts) {
    fail("the store holds " + std::to_string(balances.size()) + " accounts, expected " +
         std::to_string(transfer_accounts));
  }
  std::int64_t sum = 0;
  for (std::int64_t b : balances) sum += b;
  const std::int64_t total =
      static_cast<std::int64_t>(transfer_accounts) * transfer_initial_balance;
  if (sum != total) {
    fail("the balances sum to " + std::to_string(sum) + ", expected " + std::to_string(total) +
         ": money was created or lost");
  }
  if (log.size() != ops) {
    fail("the log holds " + std::to_string(log.size()) + " entries, expected one per op (" +
         std::to_string(ops) + ")");
  }
  std::vector<std::int64_t> replay(transfer_accounts, transfer_initial_balance);
  for (std::size_t i = 0; i < log.size(); ++i) {
    const transfer_entry& e = log[i];
    if (e.from >= transfer_accounts || e.to >= transfer_accounts || e.from == e.to ||
        e.amount < 0 || e.amount > transfer_max_amount) {
      fail("log entry " + std::to_string(i) + " is malformed (from " + std::to_string(e.from) +
           ", to " + std::to_string(e.to) + ", amount " + std::to_string(e.amount) + ")");
    }
    replay[e.from] -= e.amount;
    replay[e.to] += e.amount;
    if (replay[e.from] < 0) {
      fail("replaying the log overdraws account " + std::to_string(e.from) + " at entry " +
           std::to_string(i) + ": the log order is not the order the transfers ran in");
    }
  }
  for (std::uint64_t a = 0; a < transfer_accounts; ++a) {
    if (replay[a] != balances[a]) {
      fail("account " + std::to_string(a) + " holds " + std::to_string(balances[a]) +
           ", replaying the log gives " + std::to_string(replay[a]));
    }
  }
}

}  // namespace ferrite::bench
