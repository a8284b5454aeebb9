// Helpers shared by the test files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ferrite/base/error.h"

namespace ferrite::test {

// True in a build with AddressSanitizer or ThreadSanitizer: they keep
// shadow memory for what the program touches, so memory figures (RSS)
// are not the engine's.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

// A fresh directory under TMPDIR (or /tmp), removed on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `fn` and returns the code of the ferrite::error it throws; fails the
// test if it throws nothing or something else.
template <class Fn>
error_code error_of(Fn&& fn);

void write_file(const std::filesystem::path& p, const std::string& bytes);
std::string read_file(const std::filesystem::path& p);

// A record recovery would find, and whether it is a wrap marker.
struct log_record {
  std::uint64_t pos;  // offset in the log region
  bool wrap;
};

// The records recovery would find in the pool image `image` from its
// current superblock slot (the higher sequence; both must be valid):
// headers with the expected LSN and epoch, following wrap markers. Read
// from the bytes, not through validate_record.
std::vector<log_record> log_of(const std::byte* image);

}  // namespace ferrite::test

#include <catch2/catch.hpp>

namespace ferrite::test {
template <class Fn>
error_code error_of(Fn&& fn) {
  try {
    fn();
  } catch (const error& e) {
    INFO("message: " << e.what());
    CHECK(std::string(e.what()).size() > 10);
    return e.code();
  }
  FAIL("expected a ferrite::error");
  return error_code::invalid_argument;
}
}  // namespace ferrite::test
