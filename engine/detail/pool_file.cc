#include "ferrite/engine/detail/pool_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
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

namespace {

// An unnamed file in `dir` (O_TMPFILE): a process killed before link()
// leaves nothing behind. -1 when the file system cannot make one.
int open_unnamed(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) return -1;
  return -2 - errno;  // a real failure (permissions, ...): reported by the caller
}

// Gives the unnamed file `fd` the name `path`; fails with EEXIST when the
// path exists. Through /proc (no privilege needed); AT_EMPTY_PATH when
// /proc is not mounted.
int link_unnamed(int fd, const std::filesystem::path& path) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
  if (errno != ENOENT) return -1;
  return ::linkat(fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH);
}

}  // namespace

void create_pool_file(const std::filesystem::path& path, std::uint64_t size, unsigned file_mode,
                      const std::function<void(int fd)>& format) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    fail_errno(EEXIST, "cannot create pool", path.string());
  }
  // The new pool is formatted in an unnamed file (O_TMPFILE) where the file
  // system can make one, else in PATH.ferrite-new-XXXXXX, which a killed
  // creation leaves behind (docs/format.md, "Creating and locking the file").
  int fd = open_unnamed(path.parent_path());
  if (fd < -1) fail_errno(-(fd + 2), "cannot create pool", path.string());
  const bool unnamed = fd >= 0;
  std::string tmp = path.string() + ".ferrite-new-XXXXXX";
  if (!unnamed) {
    fd = mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) fail_errno(errno, "cannot create pool", path.string());
  }
  auto cleanup = [&] {
    ::close(fd);
    if (!unnamed) ::unlink(tmp.c_str());
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
    if ((unnamed ? link_unnamed(fd, path) : ::link(tmp.c_str(), path.c_str())) != 0) {
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

void reserve_pool_space(int fd, std::uint64_t size, bool writable, const std::string& name) {
  // Blocks of the file that are not allocated (holes: a sparse copy, a
  // file extended by truncate) get allocated when first written through a
  // mapping, and on tmpfs when first read through one. With no space left,
  // that access is SIGBUS, not an error. A writer allocates every hole now;
  // a reader on tmpfs needs room for them.
  if (writable) {
    const int rc = posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc == 0) return;
    if (rc == EOPNOTSUPP || rc == EINVAL) return;  // no fallocate: nothing to learn here
    if (rc == ENOSPC) {
      fail(error_code::no_space,
           "pool '" + name +
               "' has unallocated blocks (a sparse copy?) and the file system has no room "
               "for them; free space, or copy the pool with `cp --sparse=never`, then open it "
               "again (nothing was changed)");
    }
    fail_errno(rc, "cannot reserve the space of pool", name);
  }
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0 || fs.f_type != TMPFS_MAGIC) return;
  std::uint64_t holes = 0;
  for (off_t at = 0; static_cast<std::uint64_t>(at) < size;) {
    const off_t hole = lseek(fd, at, SEEK_HOLE);
    if (hole < 0 || static_cast<std::uint64_t>(hole) >= size) break;
    off_t data = lseek(fd, hole, SEEK_DATA);
    if (data < 0) data = static_cast<off_t>(size);  // ENXIO: a hole up to the end
    holes += static_cast<std::uint64_t>(data - hole);
    at = data;
  }
  struct statvfs v;
  if (holes == 0 || fstatvfs(fd, &v) != 0) return;
  const std::uint64_t room = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
  if (room < holes) {
    fail(error_code::no_space,
         "pool '" + name + "' is a sparse file on tmpfs with " + std::to_string(holes) +
             " bytes of holes, and reading a hole through a mapping needs memory the file "
             "system does not have (" +
             std::to_string(room) +
             " bytes free); free space on it, or copy the pool with `cp --sparse=never`");
  }
}

}  // namespace ferrite::detail
