#include "ferrite/base/detail/checksum.h"

#include <xxhash.h>

namespace ferrite::detail {

std::uint64_t checksum64(const void* data, std::size_t len, std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(data, len, seed);
}

}  // namespace ferrite::detail
