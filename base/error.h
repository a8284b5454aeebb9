// ferrite errors.
//
// Every failure the public API reports is an exception derived from
// ferrite::error. Each carries an error_code that programs can switch on and
// a message, written for the person running the program, that says what was
// wrong and what to do about it. Nothing in ferrite reports failure as a bool.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ferrite {

enum class error_code {
  file_missing,  // the pool file does not exist (open without create)
  file_exists,   // create_exclusive on a path that already exists
  not_a_pool,    // the file is not a ferrite pool (bad magic, too small)
  bad_version,   // a ferrite pool of a format version this build cannot read
  corrupted,     // checksums or structural checks failed
  truncated,     // the file is shorter than its header says
  too_small,     // requested pool size below the documented minimum
  pool_locked,   // another process (or handle) holds the pool for writing
  permission_denied,
  no_space,          // the file system is full (ENOSPC)
  out_of_space,      // the pool's heap or log is full
  io_error,          // a read, write or sync failed; see message
  read_only,         // a write was attempted on a read-only or failed pool
  tx_aborted,        // the transaction was aborted (or is poisoned)
  tx_invalid,        // a transactional call made outside a transaction, etc.
  missing_snapshot,  // checked mode: a transaction changed bytes it never snapshotted
  layout_mismatch,   // a stored type layout differs from the compiled one
  invalid_argument,
  closed,        // the pool handle was closed
  wrong_type,    // a value is not of the kind asked for (Python's TypeError)
  not_found,     // no such key, member or attribute (Python's KeyError)
  out_of_range,  // an index outside a list or tuple (Python's IndexError)
};

// A short, stable, lower-case name for a code ("pool_locked").
std::string_view to_string(error_code code) noexcept;

class error : public std::runtime_error {
 public:
  error(error_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  error_code code() const noexcept { return code_; }

 private:
  error_code code_;
};

// Throws error(code, message). Kept out of line so that hot paths stay small.
[[noreturn]] void fail(error_code code, const std::string& message);

// Throws the error that best describes errno value `err` for `what` on `path`
// (permission_denied, no_space, file_missing, io_error...).
[[noreturn]] void fail_errno(int err, const std::string& what, const std::string& path);

}  // namespace ferrite
