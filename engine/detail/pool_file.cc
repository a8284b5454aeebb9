#include "ferrite/engine/detail/pool_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "ferrite/base/error.h"

namespace ferrite::detail {

locked_file& locked_file::operator=(locked_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

locked_file::~locked_file() {
  if (fd_ >= 0) ::close(fd_);  // also releases the flock
}

std::uint64_t locked_file::size() const {
  struct stat st;
  if (fstat(fd_, &st) != 0) fail_errno(errno, "stat", "pool file");
  return static_cast<std::uint64_t>(st.st_size);
}

locked_file locked_file::open(const std::filesystem::path& path, bool writable) {
  int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) fail_errno(errno, "cannot open pool", path.string());
  locked_file f(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) fail_errno(errno, "cannot stat pool", path.string());
  if (!S_ISREG(st.st_mode)) {
    fail(error_code::not_a_pool,
         "'" + path.string() + "' is not a regular file, so it is not a ferrite pool");
  }
  if (flock(fd, (writable ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      fail(error_code::pool_locked,
           "pool '" + path.string() + "' is " +
               (writable ? "already open in another process or handle"
                         : "open for writing in another process or handle") +
               "; close it there first" +
               (writable ? " (read-only opens may share the pool)" : ""));
    }
    fail_errno(errno, "cannot lock pool", path.string());
  }
  return f;
}

void create_pool_file(const std::filesystem::path& path, std::uint64_t size, unsigned file_mode,
                      const std::function<void(int fd)>& format) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    fail_errno(EEXIST, "cannot create pool", path.string());
  }
  std::string tmp = path.string() + ".ferrite-new-XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) fail_errno(errno, "cannot create pool", path.string());
  auto cleanup = [&] {
    ::close(fd);
    ::unlink(tmp.c_str());
  };
  try {
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, static_cast<mode_t>(file_mode) & ~mask) != 0) {
      fail_errno(errno, "cannot set permissions of new pool", path.string());
    }
    int rc = posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc != 0)
      fail_errno(rc, "cannot allocate " + std::to_string(size) + " bytes for pool", path.string());
    format(fd);
    if (fsync(fd) != 0) fail_errno(errno, "cannot sync new pool", path.string());
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      fail_errno(errno, "cannot create pool", path.string());
    }
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  // Make the new directory entry durable.
  std::filesystem::path dir = path.parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace ferrite::detail
