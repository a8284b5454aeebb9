// The pool file as an operating-system object: creating it atomically,
// opening it, and the writer/reader lock.
//
// A new pool is formatted in a temporary file beside `path`, made durable,
// and then linked to `path` (link fails if the path exists, so creation is
// exclusive and atomic): a pool file either is complete or does not exist.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace ferrite::detail {

// An open, locked pool file descriptor. Closing releases the lock.
class locked_file {
 public:
  locked_file() = default;
  locked_file(locked_file&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  locked_file& operator=(locked_file&& other) noexcept;
  ~locked_file();

  int fd() const noexcept { return fd_; }
  std::uint64_t size() const;  // current file size (fstat)

  // Opens `path` and takes the lock: exclusive for writers, shared for
  // read-only. Throws file_missing, permission_denied, pool_locked, ...
  static locked_file open(const std::filesystem::path& path, bool writable);

 private:
  explicit locked_file(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Creates a pool file of `size` bytes at `path` whose contents are written
// by `format(fd)` (which must make them durable). Throws file_exists when the
// path exists, no_space when the file system is full; on any failure no file
// is left behind.
void create_pool_file(const std::filesystem::path& path, std::uint64_t size, unsigned file_mode,
                      const std::function<void(int fd)>& format);

// Before a pool file of `size` bytes is mapped: a writer allocates every
// block of it (a sparse file on a full file system is no_space now, not
// SIGBUS at the first write to a hole); a reader of a sparse file on tmpfs,
// where even reading a hole through a mapping allocates, needs that much
// free space (no_space otherwise).
void reserve_pool_space(int fd, std::uint64_t size, bool writable, const std::string& name);

}  // namespace ferrite::detail
