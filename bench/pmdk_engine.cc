// The libpmemobj engine (PMDK), built only when libpmemobj is found.
//
// Thread regions live in the root object. Transactions use the plain C API
// without setjmp: pmemobj_tx_begin(jmp_buf = NULL), pmemobj_tx_add_range_direct,
// pmemobj_tx_commit, pmemobj_tx_end. Whether libpmemobj flushes cache lines
// or calls msync is libpmem's pmem_is_pmem() answer, which
// PMEM_IS_PMEM_FORCE decides (set by the driver before this process starts);
// open() checks that answer against the mode.
#include <libpmem.h>
#include <libpmemobj.h>

#include <stdexcept>

#include "bench/engine.h"

namespace ferrite::bench {
namespace {

constexpr const char* layout = "ferrite-bench";

[[noreturn]] void fail_pmdk(const std::string& what) {
  throw std::runtime_error("libpmemobj: " + what + ": " + pmemobj_errormsg());
}

class pmdk_engine final : public bench_engine {
 public:
  ~pmdk_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    setup_ = setup;
    pop_ = pmemobj_create(setup.pool_path.c_str(), layout, setup.pool_bytes, 0666);
    if (pop_ == nullptr) fail_pmdk("creating " + setup.pool_path.string());
    find_root();
    const int is_pmem = pmem_is_pmem(root_, root_bytes());
    const int want = setup.mode == media_mode::cacheline ? 1 : 0;
    if (is_pmem != want) {
      throw std::runtime_error("libpmem says pmem_is_pmem = " + std::to_string(is_pmem) + " for " +
                               setup.pool_path.string() + ", the " +
                               std::string(to_string(setup.mode)) + " mode needs " +
                               std::to_string(want) + " (is PMEM_IS_PMEM_FORCE set?)");
    }
    return std::string("libpmemobj ") +
           (is_pmem ? "pmem_is_pmem=1 (flush cache lines + fence)" : "pmem_is_pmem=0 (msync)") +
           ", fields in the root object, pmemobj_tx_add_range_direct";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    std::uint64_t* r = region(t);
    switch (w) {
      case workload::tx_set8:
        return set_fields<1>(r, ops);
      case workload::tx_set_lines:
        return set_fields<8>(r, ops);
      default:
        throw std::logic_error("pmdk: workload not implemented");
    }
  }

  void finish_run() override {}
  counters read_counters() const override { return {}; }

  void reopen() override {
    pmemobj_close(pop_);
    pop_ = pmemobj_open(setup_.pool_path.c_str(), layout);
    if (pop_ == nullptr) fail_pmdk("reopening " + setup_.pool_path.string());
    find_root();
  }

  std::uint64_t read_word(int t, std::size_t i) const override { return region(t)[i]; }

  void close_and_remove() noexcept override {
    if (pop_ == nullptr) return;
    pmemobj_close(pop_);
    pop_ = nullptr;
    std::error_code ec;
    std::filesystem::remove(setup_.pool_path, ec);
  }

 private:
  std::size_t root_bytes() const {
    return static_cast<std::size_t>(setup_.threads) * region_bytes + 64;
  }

  void find_root() {
    PMEMoid root = pmemobj_root(pop_, root_bytes());
    if (OID_IS_NULL(root)) fail_pmdk("allocating the root object");
    auto* p = static_cast<std::byte*>(pmemobj_direct(root));
    auto misalign = reinterpret_cast<std::uintptr_t>(p) % 64;
    root_ = p + (misalign ? 64 - misalign : 0);
  }

  std::uint64_t* region(int t) const {
    return reinterpret_cast<std::uint64_t*>(root_ + static_cast<std::size_t>(t) * region_bytes);
  }

  template <int Lines>
  void set_fields(std::uint64_t* r, std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
      int rc = 0;
      for (int k = 0; k < Lines && rc == 0; ++k) {
        std::uint64_t* field = r + k * words_per_line;
        rc = pmemobj_tx_add_range_direct(field, sizeof *field);
        if (rc == 0) *field += 1;
      }
      // A failed add_range has aborted the transaction already.
      if (rc == 0) pmemobj_tx_commit();
      if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("transaction");
    }
  }

  engine_setup setup_;
  PMEMobjpool* pop_ = nullptr;
  std::byte* root_ = nullptr;
};

}  // namespace

std::unique_ptr<bench_engine> make_pmdk_engine() {
  return std::make_unique<pmdk_engine>();
}

}  // namespace ferrite::bench
