// The LMDB engine (liblmdb; Debian liblmdb-dev), built only when liblmdb is
// found: the key-value store a user would pick for small durable
// transactions on an ordinary disk.
//
// One environment per cell: its data file is the pool path (MDB_NOSUBDIR;
// the lock file is "<pool>-lock"), the map size is the pool size, and one
// unnamed database maps u64 keys (MDB_INTEGERKEY: ordered as integers) to
// u64 values. Page media only: LMDB has no cache-line persistence path.
//
//   tx_set8     thread t's field i is key t * words_per_region + i, created
//               (value 0) at open. One op is one write transaction:
//               mdb_get, +1, mdb_put, mdb_txn_commit.
//   map_insert  one write transaction per key: mdb_put(MDB_NOOVERWRITE) of
//               key -> value_of(key) (bench/keys.h). LMDB's B+-tree: the
//               `ordered` row.
//   map_get     the N keys put at open (untimed, fill_keys_per_transaction
//               per transaction); one op renews the thread's read
//               transaction, mdb_get, resets it: a lookup of the latest
//               committed state, as ferrite's find.
//
// Durability (the two engines):
//   lmdb             LMDB's default: a commit writes the dirty pages,
//                    fdatasync's the data file, then writes the meta page
//                    (the commit point) through a second descriptor opened
//                    with O_DSYNC: two waits for the device per commit.
//   lmdb-nometasync  MDB_NOMETASYNC: the meta page is written with no
//                    sync; the next commit's fdatasync makes it durable. One
//                    wait per commit, but a system crash can undo the last
//                    committed transaction (LMDB's documentation: ACI, not
//                    D). A process crash loses nothing (the page cache has it).
//
// Threads: LMDB runs one write transaction at a time; other writers block
// in mdb_txn_begin on the environment's mutex until it commits. That is the
// model measured here. MDB_NOTLS: read transactions are not tied to a
// thread's slot, so each thread keeps its own read handle for map_get.
#include <lmdb.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/engine.h"
#include "bench/keys.h"

namespace ferrite::bench {
namespace {

[[noreturn]] void fail_lmdb(const std::string& what, int rc) {
  throw std::runtime_error("lmdb: " + what + ": " + mdb_strerror(rc));
}

void check(int rc, const char* what) {
  if (rc != 0) fail_lmdb(what, rc);
}

// The bytes of `word`, as LMDB takes keys and values (MDB_INTEGERKEY: a
// native u64).
MDB_val as_val(std::uint64_t& word) {
  return MDB_val{sizeof word, &word};
}

// The u64 in `v`, which must be one.
std::uint64_t word_of(const MDB_val& v) {
  if (v.mv_size != sizeof(std::uint64_t)) {
    throw std::runtime_error("lmdb: a value of " + std::to_string(v.mv_size) +
                             " bytes, expected 8");
  }
  std::uint64_t w = 0;
  std::memcpy(&w, v.mv_data, sizeof w);
  return w;
}

// A write transaction, aborted unless committed. mdb_txn_commit frees the
// handle whether it succeeds or not.
class write_txn {
 public:
  explicit write_txn(MDB_env* env) {
    check(mdb_txn_begin(env, nullptr, 0, &txn_), "mdb_txn_begin");
  }
  ~write_txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  write_txn(const write_txn&) = delete;
  write_txn& operator=(const write_txn&) = delete;

  MDB_txn* get() const { return txn_; }

  void commit() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    check(mdb_txn_commit(t), "mdb_txn_commit");
  }

 private:
  MDB_txn* txn_ = nullptr;
};

class lmdb_engine final : public bench_engine {
 public:
  explicit lmdb_engine(bool meta_sync) : meta_sync_(meta_sync) {}
  ~lmdb_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    if (setup.mode != media_mode::page) {
      throw std::invalid_argument("lmdb runs on page media only (no cache-line persistence path)");
    }
    const bool container = info(setup.work).container;
    if (container && setup.shape != structure::ordered) {
      throw std::invalid_argument("lmdb's map is a B+-tree: the ordered structure only");
    }
    setup_ = setup;
    open_environment();
    if (container) keys_ = insert_order(setup.keys);
    if (setup.work == workload::tx_set8) {
      write_txn txn(env_);
      for (int t = 0; t < setup.threads; ++t) {
        std::uint64_t key = key_of(t, 0);
        std::uint64_t zero = 0;
        MDB_val k = as_val(key);
        MDB_val v = as_val(zero);
        check(mdb_put(txn.get(), dbi_, &k, &v, MDB_NOOVERWRITE), "mdb_put (a thread's field)");
      }
      txn.commit();
    } else if (setup.work == workload::map_get) {
      fill();
      lookups_ = lookup_order(setup.keys);
    } else if (setup.work != workload::map_insert) {
      throw std::invalid_argument("lmdb runs tx_set8, map_insert and map_get only");
    }
    int major = 0, minor = 0, patch = 0;
    mdb_version(&major, &minor, &patch);
    unsigned flags = 0;
    check(mdb_env_get_flags(env_, &flags), "mdb_env_get_flags");
    const unsigned weaker = MDB_NOSYNC | MDB_MAPASYNC | MDB_WRITEMAP;
    if ((flags & weaker) != 0 || ((flags & MDB_NOMETASYNC) != 0) == meta_sync_) {
      throw std::runtime_error("lmdb: the environment's flags are not the ones asked for");
    }
    return "LMDB " + std::to_string(major) + "." + std::to_string(minor) + "." +
           std::to_string(patch) +
           (meta_sync_ ? ", default durability: fdatasync of the data, then the meta page "
                         "written O_DSYNC (two device waits per commit)"
                       : ", MDB_NOMETASYNC: one fdatasync per commit, the meta page synced "
                         "by the next commit (a system crash can undo the last commit)") +
           "; MDB_NOTLS, map size " + std::to_string(setup.pool_bytes >> 20) + " MiB";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    switch (w) {
      case workload::tx_set8:
        for (std::uint64_t i = 0; i < ops; ++i) increment(key_of(t, 0));
        return;
      case workload::map_insert:
        if (cursor_ + ops > keys_.size()) throw std::logic_error("lmdb: more inserts than keys");
        for (std::uint64_t i = 0; i < ops; ++i) insert(keys_[cursor_++]);
        return;
      case workload::map_get:
        return lookup(t, ops);
      default:
        throw std::logic_error("lmdb: workload not measurable on this engine");
    }
  }

  void finish_run() override {}  // a commit leaves no deferred work
  counters read_counters() const override { return {}; }

  void reopen() override {
    close_environment();
    open_environment();
  }

  std::uint64_t read_word(int t, std::size_t i) const override {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin (read)");
    std::uint64_t key = key_of(t, i);
    MDB_val k = as_val(key);
    MDB_val v{};
    const int rc = mdb_get(txn, dbi_, &k, &v);
    std::uint64_t word = 0;
    if (rc == 0) {
      word = word_of(v);
    } else if (rc != MDB_NOTFOUND) {
      mdb_txn_abort(txn);
      fail_lmdb("mdb_get", rc);
    }
    mdb_txn_abort(txn);
    return word;
  }

  // The database holds exactly the first `count` keys of the insert order,
  // each with value_of(key).
  void check_container(workload, std::uint64_t count) override {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin (read)");
    try {
      MDB_stat st{};
      check(mdb_stat(txn, dbi_, &st), "mdb_stat");
      if (st.ms_entries != count) {
        throw std::runtime_error("after reopening, the LMDB database holds " +
                                 std::to_string(st.ms_entries) + " keys, expected " +
                                 std::to_string(count));
      }
      for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t key = keys_.at(i);
        MDB_val k = as_val(key);
        MDB_val v{};
        const int rc = mdb_get(txn, dbi_, &k, &v);
        if (rc == MDB_NOTFOUND) throw std::runtime_error("after reopening, LMDB lost a key");
        check(rc, "mdb_get");
        if (word_of(v) != value_of(key)) {
          throw std::runtime_error("after reopening, LMDB holds a wrong value");
        }
      }
    } catch (...) {
      mdb_txn_abort(txn);
      throw;
    }
    mdb_txn_abort(txn);
  }

  void close_and_remove() noexcept override {
    if (env_ == nullptr) return;
    close_environment();
    std::error_code ec;
    for (const auto& f : engine_files("lmdb", setup_.pool_path)) std::filesystem::remove(f, ec);
  }

 private:
  static std::uint64_t key_of(int t, std::size_t i) {
    return static_cast<std::uint64_t>(t) * words_per_region + i;
  }

  void open_environment() {
    check(mdb_env_create(&env_), "mdb_env_create");
    check(mdb_env_set_mapsize(env_, setup_.pool_bytes), "mdb_env_set_mapsize");
    const unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | (meta_sync_ ? 0u : MDB_NOMETASYNC);
    const int rc = mdb_env_open(env_, setup_.pool_path.c_str(), flags, 0644);
    if (rc != 0) {
      mdb_env_close(env_);
      env_ = nullptr;
      fail_lmdb("mdb_env_open " + setup_.pool_path.string(), rc);
    }
    write_txn txn(env_);
    check(mdb_dbi_open(txn.get(), nullptr, MDB_INTEGERKEY, &dbi_), "mdb_dbi_open");
    txn.commit();
    readers_.assign(static_cast<std::size_t>(setup_.threads), nullptr);
  }

  void close_environment() noexcept {
    for (MDB_txn*& r : readers_) {
      if (r != nullptr) mdb_txn_abort(r);
      r = nullptr;
    }
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
  }

  // map_get's keys, inserted untimed.
  void fill() {
    for (std::uint64_t done = 0; done < keys_.size();) {
      write_txn txn(env_);
      const std::uint64_t end =
          std::min<std::uint64_t>(done + fill_keys_per_transaction, keys_.size());
      for (; done < end; ++done) put_new(txn.get(), keys_[done]);
      txn.commit();
    }
  }

  void put_new(MDB_txn* txn, std::uint64_t key) {
    std::uint64_t value = value_of(key);
    MDB_val k = as_val(key);
    MDB_val v = as_val(value);
    check(mdb_put(txn, dbi_, &k, &v, MDB_NOOVERWRITE), "mdb_put");
  }

  void insert(std::uint64_t key) {
    write_txn txn(env_);
    put_new(txn.get(), key);
    txn.commit();
  }

  void increment(std::uint64_t key) {
    write_txn txn(env_);
    MDB_val k = as_val(key);
    MDB_val v{};
    check(mdb_get(txn.get(), dbi_, &k, &v), "mdb_get (a thread's field)");
    std::uint64_t word = word_of(v) + 1;
    MDB_val updated = as_val(word);
    check(mdb_put(txn.get(), dbi_, &k, &updated, 0), "mdb_put (a thread's field)");
    txn.commit();
  }

  // ops lookups in lookup order from where the last call stopped (wrapping
  // around), each in a read transaction of its own; each must find its key.
  void lookup(int t, std::uint64_t ops) {
    MDB_txn*& reader = readers_.at(static_cast<std::size_t>(t));
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      if (reader == nullptr) {
        check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &reader), "mdb_txn_begin (read)");
      } else {
        check(mdb_txn_renew(reader), "mdb_txn_renew");
      }
      std::uint64_t key = lookups_[cursor_];
      MDB_val k = as_val(key);
      MDB_val v{};
      const int rc = mdb_get(reader, dbi_, &k, &v);
      if (rc == 0) sum += word_of(v);
      mdb_txn_reset(reader);
      if (rc == MDB_NOTFOUND) throw std::runtime_error("lmdb: a present key was not found");
      check(rc, "mdb_get");
      if (++cursor_ == lookups_.size()) cursor_ = 0;
    }
    sink_ += sum;
  }

  bool meta_sync_;
  engine_setup setup_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::vector<MDB_txn*> readers_;       // map_get: each thread's read handle
  std::vector<std::uint64_t> keys_;     // insert order
  std::vector<std::uint64_t> lookups_;  // map_get: lookup order
  std::uint64_t cursor_ = 0;            // next key of keys_ (insert) or lookups_ (get)
  std::uint64_t sink_ = 0;
};

}  // namespace

std::unique_ptr<bench_engine> make_lmdb_engine(bool meta_sync) {
  return std::make_unique<lmdb_engine>(meta_sync);
}

}  // namespace ferrite::bench
