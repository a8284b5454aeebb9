#include "tools/crash/readers/image_view.h"

#include <cstring>

#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/pool_registry.h"

namespace ferrite::crash {

image_view::image_view(const pool& p) : p_(p), tag_(detail::impl_of(p).header.pool_tag) {}

bool image_view::owns_pointers() const {
  return detail::owns_tag(tag_, detail::impl_of(p_).generation);
}

const std::byte* image_view::object(std::uint64_t bits, std::string_view type_name,
                                    std::size_t size, const std::string& what, bool count) {
  if (bits == 0) return nullptr;
  const std::uint64_t off = bits & ((1ull << 48) - 1);
  auto bad = [&](const std::string& why) {
    throw broken_image(what + " (pool offset " + std::to_string(off) + ") " + why);
  };
  if ((bits >> 48) != tag_) {
    bad("carries tag " + std::to_string(bits >> 48) + ", not the pool's " + std::to_string(tag_));
  }
  if (off < p_.heap_offset() || off >= p_.heap_offset() + p_.heap_size())
    bad("is outside the heap");
  const std::byte* obj = p_.base() + off;
  std::size_t have = 0;
  std::uint32_t type = 0;
  try {
    have = p_.object_size(obj);
    type = p_.object_type(obj);
  } catch (const ferrite::error& e) {
    bad(std::string("is no object: ") + e.what());
  }
  if (have < size) {
    bad("is an object of " + std::to_string(have) + " bytes, " + std::to_string(size) + " needed");
  }
  if (!type_name.empty()) {
    const std::string stored = p_.type_name(type);
    if (stored != type_name) bad("is a '" + stored + "', not a '" + std::string(type_name) + "'");
  }
  if (count && !seen_.insert(off).second) bad("is reached twice (two owners, or a cycle)");
  return obj;
}

const std::byte* image_view::root_object(const std::string& type_name, std::size_t size) {
  if (!p_.has_root()) return nullptr;
  const std::uint64_t off = p_.info().root_offset;
  return object(std::uint64_t{tag_} << 48 | off, type_name, size, "the root");
}

std::string image_view::text(const ferrite::string& s, bool count) {
  detail::string_rep rep;
  std::memcpy(&rep, &s, sizeof rep);
  if ((rep.data == 0) != (rep.capacity == 0)) {
    throw broken_image("a string with capacity " + std::to_string(rep.capacity) +
                       (rep.data ? " has a buffer" : " has no buffer"));
  }
  if (rep.size > rep.capacity) {
    throw broken_image("a string of " + std::to_string(rep.size) + " bytes in a capacity of " +
                       std::to_string(rep.capacity));
  }
  if (rep.data == 0) return {};
  const auto* buf = reinterpret_cast<const char*>(
      object(rep.data, "ferrite.string", rep.capacity + 1, "a string's buffer", count));
  if (buf[rep.size] != '\0') throw broken_image("a string's text is not NUL-terminated");
  return std::string(buf, rep.size);
}

const std::byte* image_view::vector_buffer(const void* handle, std::size_t element_size,
                                           std::string_view type_name, std::uint64_t& size) {
  detail::vector_rep rep;
  std::memcpy(&rep, handle, sizeof rep);
  const std::string what = "a " + std::string(type_name);
  if ((rep.data == 0) != (rep.capacity == 0)) {
    throw broken_image(what + " with capacity " + std::to_string(rep.capacity) +
                       (rep.data ? " has a buffer" : " has no buffer"));
  }
  if (rep.size > rep.capacity) {
    throw broken_image(what + " of " + std::to_string(rep.size) + " elements in a capacity of " +
                       std::to_string(rep.capacity));
  }
  if (rep.capacity > (std::uint64_t{1} << 40) / element_size) {
    throw broken_image(what + " with an impossible capacity " + std::to_string(rep.capacity));
  }
  size = rep.size;
  return object(rep.data, type_name, rep.capacity * element_size, what + "'s buffer");
}

}  // namespace ferrite::crash
