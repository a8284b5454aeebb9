#include "bench/ferrite_containers.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

#include "bench/keys.h"
#include "ferrite/engine/p.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/type_info.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/map.h"
#include "ferrite/types/vector.h"

namespace ferrite::bench {

// The typed roots (a pool runs one workload, so holds one of them).
// FERRITE_TYPE goes in the namespace of its type (argument-dependent lookup).
struct vector_root {
  ferrite::vector<std::uint64_t> elements;
};
FERRITE_TYPE(vector_root, "ferrite_bench.VectorRoot", elements)

struct hash_root {
  ferrite::hash_map<std::uint64_t, std::uint64_t> entries;
};
FERRITE_TYPE(hash_root, "ferrite_bench.HashRoot", entries)

struct tree_root {
  ferrite::map<std::uint64_t, std::uint64_t> entries;
};
FERRITE_TYPE(tree_root, "ferrite_bench.TreeRoot", entries)

// The account store (transfer, transfer_held). The lock is the last field
// so that make<bank_account>(balance, number) leaves it zero: free.
struct bank_account {
  ferrite::p<std::int64_t> balance;
  std::uint64_t number;  // its key in the map
  ferrite::pmutex lock;
};
FERRITE_TYPE(bank_account, "ferrite_bench.Account", balance, number, lock)

FERRITE_TYPE(transfer_entry, "ferrite_bench.Transfer", from, to, amount)

struct transfer_log {
  ferrite::pmutex lock;
  ferrite::vector<transfer_entry> entries;
};
FERRITE_TYPE(transfer_log, "ferrite_bench.TransferLog", lock, entries)

struct bank_root {
  ferrite::hash_map<std::uint64_t, ferrite::pptr<bank_account>> accounts;
  ferrite::pptr<transfer_log> log;
};
FERRITE_TYPE(bank_root, "ferrite_bench.Bank", accounts, log)

void ferrite_containers::open(pool& p, const engine_setup& setup) {
  work_ = setup.work;
  shape_ = setup.shape;
  keys_ = insert_order(setup.keys);
  cursor_ = 0;
  if (work_ == workload::vector_push) {
    p.root<vector_root>();
    return;
  }
  if (shape_ == structure::hash) {
    auto& m = p.root<hash_root>()->entries;
    if (work_ == workload::map_get) fill(p, m);
  } else {
    auto& m = p.root<tree_root>()->entries;
    if (work_ == workload::map_get) fill(p, m);
  }
  if (work_ == workload::map_get) lookups_ = lookup_order(setup.keys);
}

void ferrite_containers::run(pool& p, std::uint64_t ops) {
  if (work_ == workload::vector_push) {
    ferrite::vector<std::uint64_t>& v = p.root<vector_root>()->elements;
    for (std::uint64_t i = 0; i < ops; ++i) v.push_back(v.size());
    return;
  }
  if (work_ == workload::map_insert && cursor_ + ops > keys_.size()) {
    throw std::logic_error("ferrite: more inserts than keys");
  }
  if (shape_ == structure::hash) {
    auto& m = p.root<hash_root>()->entries;
    return work_ == workload::map_insert ? insert(m, ops) : lookup(m, ops);
  }
  auto& m = p.root<tree_root>()->entries;
  if (work_ == workload::map_insert) return insert(m, ops);
  lookup(m, ops);
}

void ferrite_containers::check(pool& p, std::uint64_t count) const {
  if (work_ == workload::vector_push) {
    const ferrite::vector<std::uint64_t>& v = p.root<vector_root>()->elements;
    if (v.size() != count) {
      throw std::runtime_error("the ferrite::vector holds " + std::to_string(v.size()) +
                               " elements after reopening, expected " + std::to_string(count));
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      if (v[i] != i) throw std::runtime_error("the ferrite::vector lost a pushed element");
    }
    return;
  }
  if (shape_ == structure::hash) return check_map(p.root<hash_root>()->entries, count);
  check_map(p.root<tree_root>()->entries, count);
}

template <class Map>
void ferrite_containers::fill(pool& p, Map& m) {
  for (std::uint64_t done = 0; done < keys_.size();) {
    const std::uint64_t n = std::min(fill_keys_per_transaction, keys_.size() - done);
    p.transaction([&] {
      for (std::uint64_t i = done; i < done + n; ++i) m.insert(keys_[i], value_of(keys_[i]));
    });
    done += n;
  }
}

template <class Map>
void ferrite_containers::insert(Map& m, std::uint64_t ops) {
  for (std::uint64_t i = 0; i < ops; ++i) {
    const std::uint64_t k = keys_[cursor_++];
    m.insert(k, value_of(k));
  }
}

template <class Map>
void ferrite_containers::lookup(const Map& m, std::uint64_t ops) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < ops; ++i) {
    const auto it = m.find(lookups_[cursor_]);
    if (it == m.end()) throw std::runtime_error("ferrite: a present key was not found");
    sum += it->second;
    if (++cursor_ == lookups_.size()) cursor_ = 0;
  }
  sink_ += sum;
}

template <class Map>
void ferrite_containers::check_map(const Map& m, std::uint64_t count) const {
  if (m.size() != count) {
    throw std::runtime_error("the ferrite map holds " + std::to_string(m.size()) +
                             " keys after reopening, expected " + std::to_string(count));
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto it = m.find(keys_[i]);
    if (it == m.end() || it->second != value_of(keys_[i])) {
      throw std::runtime_error("the ferrite map lost a key or its value after reopening");
    }
  }
}

void ferrite_accounts::open(pool& p, int threads) {
  p.transaction([&] {
    root_ = p.root<bank_root>();
    for (std::uint64_t a = 0; a < transfer_accounts; ++a) {
      root_->accounts.insert(a, p.make<bank_account>(transfer_initial_balance, a));
    }
    tx_snapshot(&root_->log);
    root_->log = p.make<transfer_log>();
  });
  pickers_.clear();
  for (int t = 0; t < threads; ++t) pickers_.emplace_back(t);
}

void ferrite_accounts::run(pool& p, int t, std::uint64_t ops, bool held_locks) {
  const auto& accounts = root_->accounts;
  transfer_log& log = *root_->log;
  transfer_picker& pick = pickers_.at(static_cast<std::size_t>(t));
  for (std::uint64_t i = 0; i < ops; ++i) {
    const transfer_pick op = pick.next();
    const auto f = accounts.find(op.from);
    const auto g = accounts.find(op.to);
    if (f == accounts.end() || g == accounts.end()) {
      throw std::runtime_error("ferrite transfer: an account is missing from the map");
    }
    bank_account& from = *f->second;
    bank_account& to = *g->second;
    auto transfer = [&] {
      const std::int64_t amount = from.balance >= op.amount ? op.amount : 0;
      from.balance -= amount;
      to.balance += amount;
      log.entries.push_back(transfer_entry{op.from, op.to, amount});
    };
    if (held_locks) {
      std::scoped_lock held(from.lock, to.lock, log.lock);
      p.transaction(transfer);
    } else {
      p.transaction(transfer, from.lock, to.lock, log.lock);
    }
  }
}

void ferrite_accounts::check(pool& p, std::uint64_t ops) const {
  const pptr<bank_root> root = p.root<bank_root>();
  const auto& accounts = root->accounts;
  if (accounts.size() != transfer_accounts) {
    throw std::runtime_error("ferrite transfer: the map holds " + std::to_string(accounts.size()) +
                             " accounts after reopening, expected " +
                             std::to_string(transfer_accounts));
  }
  std::vector<std::int64_t> balances;
  for (std::uint64_t a = 0; a < transfer_accounts; ++a) {
    const auto it = accounts.find(a);
    if (it == accounts.end() || it->second->number != a) {
      throw std::runtime_error("ferrite transfer: account " + std::to_string(a) +
                               " is missing or under another key after reopening");
    }
    balances.push_back(it->second->balance);
  }
  const ferrite::vector<transfer_entry>& entries = root->log->entries;
  const std::vector<transfer_entry> log(entries.begin(), entries.end());
  check_transfers("ferrite", log, balances, ops);
  const std::vector<pool_problem> problems = p.check();
  if (!problems.empty()) {
    throw std::runtime_error("ferrite transfer: after reopening, pool.check() reports " +
                             std::to_string(problems.size()) + " problems, the first at " +
                             std::to_string(problems.front().offset) + ": " +
                             problems.front().what);
  }
}

}  // namespace ferrite::bench
