// Checksums of on-media structures: XXH3-64 (from Debian's libxxhash).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

std::uint64_t checksum64(const void* data, std::size_t len, std::uint64_t seed) noexcept;

}  // namespace ferrite::detail
