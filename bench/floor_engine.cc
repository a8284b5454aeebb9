// The durability floor: not an engine, the media's own price of one commit.
// Each op of tx_set8 (or tx_set_lines) adds 1 to its fields in a libpmem2
// mapping of the pool file, then makes one redo record of those fields
// durable: the record is copied to the thread's log area with libpmem2's
// memcpy (no drain; non-temporal stores on cache-line media, as ferrite's
// log) and drained, which is one fence on cache-line media, or one msync of
// its page on page media.
// The record is as long as ferrite's for the same op (a 64-byte header and
// a 24-byte entry per field, rounded up to 64 bytes: 128 bytes for tx_set8,
// 256 for tx_set_lines).
// The fields themselves are written in place and never flushed (the record
// carries them), and nothing is ever read back or checkpointed: any engine
// that makes a transaction durable before returning pays at least this, so
// ns/op of an engine minus this row is what its own work costs on this
// machine. Threads share nothing (each has its own log area): on page media
// it is the floor of one thread, not of group commit.
#include <fcntl.h>
#include <libpmem2.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bench/engine.h"

namespace ferrite::bench {
namespace {

constexpr std::size_t log_area_bytes = 1 << 20;  // per thread

std::string pmem2_message(const char* what) {
  return std::string(what) + ": " + pmem2_errormsg();
}

class floor_engine final : public bench_engine {
 public:
  ~floor_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    if (setup.work != workload::tx_set8 && setup.work != workload::tx_set_lines) {
      throw std::invalid_argument("floor runs tx_set8 and tx_set_lines only");
    }
    path_ = setup.pool_path;
    threads_ = setup.threads;
    const std::size_t bytes =
        static_cast<std::size_t>(setup.threads) * (region_bytes + log_area_bytes);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd_ < 0) throw std::runtime_error("floor: cannot create " + path_.string());
    if (posix_fallocate(fd_, 0, static_cast<off_t>(bytes)) != 0) {
      throw std::runtime_error("floor: cannot allocate " + path_.string());
    }
    map(bytes);
    const bool page = pmem2_map_get_store_granularity(map_) == PMEM2_GRANULARITY_PAGE;
    page_ = page;
    if (page != (setup.mode == media_mode::page)) {
      throw std::runtime_error(
          "floor: libpmem2 chose the wrong granularity (is "
          "PMEM2_FORCE_GRANULARITY set?)");
    }
    return std::string("libpmem2 granularity ") + (page ? "page" : "cache_line") +
           ", one redo record per op: pmem2 memcpy (no drain) + drain";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    const int lines = w == workload::tx_set_lines ? 8 : 1;
    auto* fields =
        reinterpret_cast<std::uint64_t*>(base_ + static_cast<std::size_t>(t) * region_bytes);
    std::byte* log = base_ + static_cast<std::size_t>(threads_) * region_bytes +
                     static_cast<std::size_t>(t) * log_area_bytes;
    // ferrite's record: a 64-byte header, then per field a 16-byte entry
    // header and its 8 bytes; padded to 64.
    const std::size_t length = (64 + 24 * static_cast<std::size_t>(lines) + 63) / 64 * 64;
    std::array<std::byte, 256> record{};
    std::size_t at = 0;
    // As ferrite writes its log (file_media::write): non-temporal stores on
    // cache-line media.
    const unsigned flags =
        page_ ? PMEM2_F_MEM_NODRAIN : PMEM2_F_MEM_NODRAIN | PMEM2_F_MEM_NONTEMPORAL;
    for (std::uint64_t i = 0; i < ops; ++i) {
      for (int k = 0; k < lines; ++k) {
        std::uint64_t& f = fields[static_cast<std::size_t>(k) * words_per_line];
        f += 1;
        std::memcpy(record.data() + 64 + 24 * static_cast<std::size_t>(k) + 16, &f, 8);
      }
      std::memcpy(record.data(), &i, sizeof i);  // the LSN
      memcpy_(log + at, record.data(), length, flags);
      drain_();
      at = at + 2 * length > log_area_bytes ? 0 : at + length;
    }
  }

  void finish_run() override {}
  counters read_counters() const override { return {}; }

  void reopen() override {
    const std::size_t bytes = size_;
    pmem2_map_delete(&map_);
    map(bytes);
  }

  std::uint64_t read_word(int t, std::size_t i) const override {
    std::uint64_t v;
    std::memcpy(&v, base_ + static_cast<std::size_t>(t) * region_bytes + i * 8, 8);
    return v;
  }

  void check_container(workload, std::uint64_t) override {
    throw std::logic_error("floor has no containers");
  }

  void close_and_remove() noexcept override {
    if (map_ != nullptr) pmem2_map_delete(&map_);
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(path_.c_str());
    }
  }

 private:
  void map(std::size_t bytes) {
    pmem2_config* cfg = nullptr;
    pmem2_source* src = nullptr;
    if (pmem2_config_new(&cfg) != 0) throw std::runtime_error(pmem2_message("pmem2_config_new"));
    pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
    int rc = pmem2_source_from_fd(&src, fd_);
    if (rc == 0) rc = pmem2_map_new(&map_, cfg, src);
    pmem2_source_delete(&src);
    pmem2_config_delete(&cfg);
    if (rc != 0) throw std::runtime_error(pmem2_message("floor: pmem2_map_new"));
    base_ = static_cast<std::byte*>(pmem2_map_get_address(map_));
    size_ = bytes;
    memcpy_ = pmem2_get_memcpy_fn(map_);
    drain_ = pmem2_get_drain_fn(map_);
  }

  std::filesystem::path path_;
  int fd_ = -1;
  int threads_ = 1;
  bool page_ = false;
  pmem2_map* map_ = nullptr;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  pmem2_memcpy_fn memcpy_ = nullptr;
  pmem2_drain_fn drain_ = nullptr;
};

}  // namespace

std::unique_ptr<bench_engine> make_floor_engine() {
  return std::make_unique<floor_engine>();
}

}  // namespace ferrite::bench
