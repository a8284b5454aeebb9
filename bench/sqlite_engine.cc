// The SQLite engine (libsqlite3; Debian libsqlite3-dev), built only when
// libsqlite3 is found: the embedded database a user would pick for small
// durable transactions on an ordinary disk.
//
// The database file is the pool path (with "<pool>-wal" and "<pool>-shm"
// beside it), holding one table
//     CREATE TABLE kv(k INTEGER PRIMARY KEY, v INTEGER NOT NULL)
// a rowid table: SQLite's B-tree keyed by a 64-bit integer (a u64 key is
// stored as the int64 of the same bits). Page media only: SQLite has no
// cache-line persistence path.
//
// Settings, what a user who wants durable commits sets, nothing more:
//   - journal_mode=WAL (set once, kept in the file), synchronous=FULL on
//     every connection: a commit appends its pages to the WAL and syncs it;
//   - wal_autocheckpoint left at SQLite's default (1000 pages): the commit
//     that takes the WAL past it checkpoints (copies the pages into the
//     database, syncing both). What a run leaves in the WAL is checkpointed
//     by finish_run, inside the timing, as ferrite's engine checkpoints its
//     log;
//   - one connection per thread (SQLITE_OPEN_NOMUTEX: each connection is
//     used by one thread at a time), prepared statements reused;
//   - writes in BEGIN IMMEDIATE ... COMMIT, with sqlite3_busy_timeout: a
//     writer that finds another one committing waits in SQLite's busy
//     handler (it sleeps and retries: 1, 2, 5, 10... ms) rather than fail.
//     One writer at a time is SQLite's model, as LMDB's.
//
//   tx_set8     thread t's field i is row t * words_per_region + i, created
//               (value 0) at open; one op: BEGIN IMMEDIATE; UPDATE kv SET
//               v = v + 1 WHERE k = ?; COMMIT.
//   map_insert  one op: BEGIN IMMEDIATE; INSERT INTO kv VALUES (?, ?); COMMIT
//               (the `ordered` row).
//   map_get     the N keys inserted at open (untimed,
//               fill_keys_per_transaction per transaction); one op: SELECT v
//               FROM kv WHERE k = ?, in autocommit (a read transaction of
//               its own).
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/engine.h"
#include "bench/keys.h"

namespace ferrite::bench {
namespace {

// How long a writer waits for the others before its statement fails with
// SQLITE_BUSY (which fails the cell).
constexpr int busy_timeout_ms = 120 * 1000;

std::int64_t as_row_key(std::uint64_t k) {
  return static_cast<std::int64_t>(k);
}

// One connection and its prepared statements, used by one thread at a time.
class connection {
 public:
  explicit connection(const std::filesystem::path& file) {
    const int rc =
        sqlite3_open_v2(file.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw std::runtime_error("sqlite: opening " + file.string() + ": " + why);
    }
    check(sqlite3_busy_timeout(db_, busy_timeout_ms), "sqlite3_busy_timeout");
    execute("PRAGMA journal_mode=WAL");
    execute("PRAGMA synchronous=FULL");
    execute("CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
    increment_ = prepare("UPDATE kv SET v = v + 1 WHERE k = ?1");
    insert_ = prepare("INSERT INTO kv(k, v) VALUES (?1, ?2)");
    select_ = prepare("SELECT v FROM kv WHERE k = ?1");
    count_ = prepare("SELECT count(*) FROM kv");
  }

  ~connection() {
    for (sqlite3_stmt* s : {begin_, commit_, rollback_, increment_, insert_, select_, count_}) {
      sqlite3_finalize(s);
    }
    sqlite3_close(db_);
  }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // A statement's single text or integer result, as text ("wal", "2").
  std::string pragma(const char* sql) {
    sqlite3_stmt* s = prepare(sql);
    std::string value;
    if (sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(s, 0);
      if (text != nullptr) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(s);
    return value;
  }

  // One write transaction around `body` (BEGIN IMMEDIATE ... COMMIT);
  // rolled back if `body` throws.
  template <class Body>
  void write_transaction(Body&& body) {
    step_done(begin_, "BEGIN IMMEDIATE");
    try {
      body();
      step_done(commit_, "COMMIT");
    } catch (...) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_step(rollback_);
      sqlite3_reset(rollback_);
      throw;
    }
  }

  // In a write transaction: v += 1 for row k, which must exist.
  void increment(std::uint64_t k) {
    check(sqlite3_bind_int64(increment_, 1, as_row_key(k)), "bind");
    step_done(increment_, "UPDATE");
    if (sqlite3_changes(db_) != 1) throw std::runtime_error("sqlite: a thread's row is missing");
  }

  void insert(std::uint64_t k, std::uint64_t v) {
    check(sqlite3_bind_int64(insert_, 1, as_row_key(k)), "bind");
    check(sqlite3_bind_int64(insert_, 2, static_cast<std::int64_t>(v)), "bind");
    step_done(insert_, "INSERT");
  }

  // Row k's value, or nullopt when there is no row k.
  std::optional<std::uint64_t> select(std::uint64_t k) {
    check(sqlite3_bind_int64(select_, 1, as_row_key(k)), "bind");
    const int rc = sqlite3_step(select_);
    std::optional<std::uint64_t> v;
    if (rc == SQLITE_ROW) v = static_cast<std::uint64_t>(sqlite3_column_int64(select_, 0));
    sqlite3_reset(select_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail("SELECT", rc);
    return v;
  }

  std::uint64_t rows() {
    const int rc = sqlite3_step(count_);
    std::uint64_t n = 0;
    if (rc == SQLITE_ROW) n = static_cast<std::uint64_t>(sqlite3_column_int64(count_, 0));
    sqlite3_reset(count_);
    if (rc != SQLITE_ROW) fail("SELECT count(*)", rc);
    return n;
  }

  // Copies every page of the WAL into the database and syncs it (what an
  // automatic checkpoint does, for all of the WAL).
  void checkpoint() {
    int wal_frames = 0, copied = 0;
    check(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_FULL, &wal_frames, &copied),
          "checkpoint");
    if (copied != wal_frames) {
      throw std::runtime_error("sqlite: the checkpoint copied " + std::to_string(copied) + " of " +
                               std::to_string(wal_frames) + " WAL frames");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what, int rc) const {
    throw std::runtime_error("sqlite: " + what + ": " + sqlite3_errstr(rc) + " (" +
                             sqlite3_errmsg(db_) + ")");
  }

  void check(int rc, const char* what) const {
    if (rc != SQLITE_OK) fail(what, rc);
  }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) fail(std::string("preparing ") + sql, rc);
    return s;
  }

  void execute(const char* sql) {
    sqlite3_stmt* s = prepare(sql);
    int rc = sqlite3_step(s);
    while (rc == SQLITE_ROW) rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) fail(sql, rc);
  }

  // Runs a statement that returns no row, then resets it for its next use.
  void step_done(sqlite3_stmt* s, const char* what) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) fail(what, rc);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* increment_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
};

class sqlite_engine final : public bench_engine {
 public:
  ~sqlite_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    if (setup.mode != media_mode::page) {
      throw std::invalid_argument(
          "sqlite runs on page media only (no cache-line persistence path)");
    }
    const bool container = info(setup.work).container;
    if (container && setup.shape != structure::ordered) {
      throw std::invalid_argument("sqlite's table is a B-tree: the ordered structure only");
    }
    if (setup.work != workload::tx_set8 && setup.work != workload::map_insert &&
        setup.work != workload::map_get) {
      throw std::invalid_argument("sqlite runs tx_set8, map_insert and map_get only");
    }
    setup_ = setup;
    open_connections();
    connection& c = *connections_.front();
    if (setup.work == workload::tx_set8) {
      c.write_transaction([&] {
        for (int t = 0; t < setup.threads; ++t) c.insert(key_of(t, 0), 0);
      });
    }
    if (container) keys_ = insert_order(setup.keys);
    if (setup.work == workload::map_get) {
      for (std::uint64_t done = 0; done < keys_.size();) {
        const std::uint64_t end =
            std::min<std::uint64_t>(done + fill_keys_per_transaction, keys_.size());
        c.write_transaction([&] {
          for (; done < end; ++done) c.insert(keys_[done], value_of(keys_[done]));
        });
      }
      lookups_ = lookup_order(setup.keys);
    }
    // What the setup committed goes into the database now, untimed.
    c.checkpoint();
    const std::string journal = c.pragma("PRAGMA journal_mode");
    const std::string sync = c.pragma("PRAGMA synchronous");
    const std::string autocheckpoint = c.pragma("PRAGMA wal_autocheckpoint");
    if (journal != "wal" || sync != "2") {
      throw std::runtime_error("sqlite: journal_mode " + journal + ", synchronous " + sync +
                               "; wal and 2 (FULL) were asked for");
    }
    return std::string("SQLite ") + sqlite3_libversion() +
           ", journal_mode=WAL, synchronous=FULL (one WAL sync per commit), "
           "wal_autocheckpoint=" +
           autocheckpoint +
           " pages (default), one connection per thread, BEGIN IMMEDIATE + busy "
           "timeout";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    connection& c = *connections_.at(static_cast<std::size_t>(t));
    switch (w) {
      case workload::tx_set8: {
        const std::uint64_t k = key_of(t, 0);
        for (std::uint64_t i = 0; i < ops; ++i) c.write_transaction([&] { c.increment(k); });
        return;
      }
      case workload::map_insert:
        if (cursor_ + ops > keys_.size()) throw std::logic_error("sqlite: more inserts than keys");
        for (std::uint64_t i = 0; i < ops; ++i) {
          const std::uint64_t k = keys_[cursor_++];
          c.write_transaction([&] { c.insert(k, value_of(k)); });
        }
        return;
      case workload::map_get: {
        std::uint64_t sum = 0;
        for (std::uint64_t i = 0; i < ops; ++i) {
          const auto v = c.select(lookups_[cursor_]);
          if (!v) throw std::runtime_error("sqlite: a present key was not found");
          sum += *v;
          if (++cursor_ == lookups_.size()) cursor_ = 0;
        }
        sink_ += sum;
        return;
      }
      default:
        throw std::logic_error("sqlite: workload not measurable on this engine");
    }
  }

  // What the run left in the WAL goes into the database, inside the timing.
  void finish_run() override { connections_.front()->checkpoint(); }

  counters read_counters() const override { return {}; }

  void reopen() override {
    connections_.clear();
    open_connections();
  }

  std::uint64_t read_word(int t, std::size_t i) const override {
    return connections_.front()->select(key_of(t, i)).value_or(0);
  }

  // The table holds exactly the first `count` keys of the insert order,
  // each with value_of(key).
  void check_container(workload, std::uint64_t count) override {
    connection& c = *connections_.front();
    const std::uint64_t rows = c.rows();
    if (rows != count) {
      throw std::runtime_error("after reopening, the SQLite table holds " + std::to_string(rows) +
                               " rows, expected " + std::to_string(count));
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t k = keys_.at(i);
      const auto v = c.select(k);
      if (!v) throw std::runtime_error("after reopening, SQLite lost a key");
      if (*v != value_of(k))
        throw std::runtime_error("after reopening, SQLite holds a wrong value");
    }
  }

  void close_and_remove() noexcept override {
    if (connections_.empty()) return;
    connections_.clear();
    std::error_code ec;
    for (const auto& f : engine_files("sqlite", setup_.pool_path)) std::filesystem::remove(f, ec);
  }

 private:
  static std::uint64_t key_of(int t, std::size_t i) {
    return static_cast<std::uint64_t>(t) * words_per_region + i;
  }

  // The first connection creates the database and its table; the others
  // find them.
  void open_connections() {
    for (int t = 0; t < setup_.threads; ++t) {
      connections_.push_back(std::make_unique<connection>(setup_.pool_path));
    }
  }

  engine_setup setup_;
  // One per thread; read_word, check_container and checkpoints use the first.
  std::vector<std::unique_ptr<connection>> connections_;
  std::vector<std::uint64_t> keys_;     // insert order
  std::vector<std::uint64_t> lookups_;  // map_get: lookup order
  std::uint64_t cursor_ = 0;            // next key of keys_ (insert) or lookups_ (get)
  std::uint64_t sink_ = 0;
};

}  // namespace

std::unique_ptr<bench_engine> make_sqlite_engine() {
  return std::make_unique<sqlite_engine>();
}

}  // namespace ferrite::bench
