// bank: accounts that threads move money between, each transfer one
// transaction that holds the two accounts' locks and the ledger's
// (docs/durability.md, "Two threads"). Every run adds 4 x 250 transfers;
// the total never changes. The bank is bank.pool in the current directory.
#include <cstdint>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include <ferrite/ferrite.h>

struct account {
  ferrite::pmutex lock;
  ferrite::p<std::int64_t> balance;
};
FERRITE_TYPE(account, "bank.Account", lock, balance)

struct bank {
  ferrite::pmutex lock;                              // guards transfers
  ferrite::p<std::int64_t> transfers;                // every transfer ever made
  ferrite::vector<ferrite::pptr<account>> accounts;  // made on the first run
};
FERRITE_TYPE(bank, "bank.Bank", lock, transfers, accounts)

int main() {
  try {
    ferrite::pool pool = ferrite::pool::open("bank.pool");
    ferrite::pptr<bank> b = pool.root<bank>();
    if (b->accounts.empty()) {
      pool.transaction([&] {
        for (int i = 0; i < 8; ++i) {
          ferrite::pptr<account> a = pool.make<account>();
          a->balance = 100;
          b->accounts.push_back(a);
        }
      });
    }
    std::vector<std::thread> tellers;
    for (int t = 0; t < 4; ++t) {
      tellers.emplace_back([&, t] {
        std::mt19937 rng(t);
        for (int i = 0; i < 250; ++i) {
          ferrite::pptr<account> from = b->accounts[rng() % 8], to = b->accounts[rng() % 8];
          if (from == to) continue;
          pool.transaction(
              [&] {
                std::int64_t amount = std::min<std::int64_t>(from->balance, 1 + rng() % 20);
                from->balance -= amount;
                to->balance += amount;
                b->transfers += 1;
              },
              from->lock, to->lock, b->lock);
        }
      });
    }
    for (auto& t : tellers) t.join();
    std::int64_t total = 0;
    for (std::size_t i = 0; i < b->accounts.size(); ++i) total += b->accounts[i]->balance;
    const ferrite::pool_stats s = pool.stats();
    std::cout << "transfers " << b->transfers << ", total " << total << ", syncs per commit "
              << static_cast<double>(s.group_syncs) / static_cast<double>(s.commits) << "\n";
    return total == 800 ? 0 : 1;
  } catch (const ferrite::error& e) {
    std::cerr << "bank: " << e.what() << "\n";
    return 1;
  }
}
