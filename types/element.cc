#include "ferrite/types/element.h"

#include "ferrite/base/detail/checksum.h"

namespace ferrite::detail {

std::uint64_t stable_hash(const void* data, std::size_t len) noexcept {
  return checksum64(data, len, 0x66657272697465ull);
}

bool owns_storage(const type_descriptor& d) {
  // Every container owns storage; a value cell owns a reference to its
  // payload (released like storage, copied by retaining it).
  if (d.kind == type_kind::container) return true;
  if (d.kind != type_kind::structure) return false;
  for (const field_descriptor& f : d.fields) {
    if (owns_storage(f.type())) return true;
  }
  return false;
}

}  // namespace ferrite::detail
