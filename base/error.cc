#include "ferrite/base/error.h"

#include <cerrno>
#include <cstring>

namespace ferrite {

std::string_view to_string(error_code code) noexcept {
  switch (code) {
    case error_code::file_missing:
      return "file_missing";
    case error_code::file_exists:
      return "file_exists";
    case error_code::not_a_pool:
      return "not_a_pool";
    case error_code::bad_version:
      return "bad_version";
    case error_code::corrupted:
      return "corrupted";
    case error_code::truncated:
      return "truncated";
    case error_code::too_small:
      return "too_small";
    case error_code::pool_locked:
      return "pool_locked";
    case error_code::permission_denied:
      return "permission_denied";
    case error_code::no_space:
      return "no_space";
    case error_code::out_of_space:
      return "out_of_space";
    case error_code::io_error:
      return "io_error";
    case error_code::read_only:
      return "read_only";
    case error_code::tx_aborted:
      return "tx_aborted";
    case error_code::tx_invalid:
      return "tx_invalid";
    case error_code::missing_snapshot:
      return "missing_snapshot";
    case error_code::layout_mismatch:
      return "layout_mismatch";
    case error_code::invalid_argument:
      return "invalid_argument";
    case error_code::closed:
      return "closed";
    case error_code::wrong_type:
      return "wrong_type";
    case error_code::not_found:
      return "not_found";
    case error_code::out_of_range:
      return "out_of_range";
  }
  return "unknown";
}

void fail(error_code code, const std::string& message) {
  throw error(code, message);
}

void fail_errno(int err, const std::string& what, const std::string& path) {
  std::string detail = what + " '" + path + "': " + std::strerror(err);
  switch (err) {
    case ENOENT:
      fail(error_code::file_missing,
           detail + " (create it first, e.g. `ferrite create " + path + "`)");
    case EEXIST:
      fail(error_code::file_exists, detail + " (choose another path or open the existing pool)");
    case EACCES:
    case EPERM:
    case EROFS:
      fail(error_code::permission_denied,
           detail + " (check the file's permissions, or open read-only)");
    case ENOSPC:
    case EDQUOT:
      fail(error_code::no_space,
           detail + " (free space on the file system or choose a smaller size)");
    default:
      fail(error_code::io_error, detail);
  }
}

}  // namespace ferrite
