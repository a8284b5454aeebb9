// The state behind a ferrite::pool handle (internal).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "ferrite/alloc/heap.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/base/media/media.h"
#include "ferrite/engine/detail/pool_file.h"
#include "ferrite/engine/detail/tx_gate.h"
#include "ferrite/engine/detail/type_table.h"
#include "ferrite/engine/detail/write_watch.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pool.h"
#include "ferrite/txlog/change_log.h"
#include "ferrite/txlog/superblock.h"

namespace ferrite::detail {

struct pool_impl {
  std::filesystem::path path;
  bool read_only = false;
  locked_file file;                    // file pools
  std::shared_ptr<sim_device> device;  // simulated pools
  std::unique_ptr<media> store;        // the media (declared after file)
  pool_header header{};
  std::unique_ptr<superblock_store> superblocks;
  pool_state state;  // current superblock contents
  std::unique_ptr<change_log> log;
  std::unique_ptr<detail::heap> heap;  // (declared after log: destroyed first)
  std::unique_ptr<type_table> types;
  std::mutex root_mu;    // creating or replacing the root: taken after the transaction gate
  bool checked = false;  // checked transactions
  // Checked mode's write tracking: from the end of a writable open to the
  // start of close.
  std::unique_ptr<write_watch> watch;
  std::uint64_t generation = 0;  // unique per open in this process
  bool was_clean_shutdown = false;
  // The transaction gate: every outermost transaction holds it shared from
  // begin to end (commit or abort); garbage collection holds it exclusive
  // (engine/detail/gc.h).
  detail::tx_gate tx_gate;
  std::optional<gc_stats> gc_at_open;  // the collection open() made
  // Pinned value payloads (object_ops.h pin_cell), by pool offset.
  struct pin {
    std::uint64_t count = 0;
    pinned_cell cell{};
  };
  std::mutex pins_mu;
  std::unordered_map<std::uint64_t, pin> pins;

  ~pool_impl();
  // Marks the pool cleanly shut down and releases it. Idempotent.
  void close();
  bool opened = false;  // open() completed; close() has work to do
  bool holds_device_lock = false;
};

// Validates the first bytes of a pool (`len` of them available, the file
// being `file_size` bytes long) and returns the header. Throws not_a_pool,
// truncated, bad_version or corrupted with a message naming `path`.
pool_header validate_header(const std::byte* data, std::size_t len, std::uint64_t file_size,
                            const std::string& path, bool writable);

}  // namespace ferrite::detail
