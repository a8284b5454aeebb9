// The container walks of the crash checks on the shared layout decoder
// (base/detail/container_layout.h): it checks bounds and the layouts'
// invariants; image_view (through crash_image::find) checks each storage
// object's stored type and that nothing is reached twice. Damage of either
// kind is a broken_image.
#include "tools/crash/readers/container_walk.h"

#include <string>

#include "ferrite/base/detail/container_layout.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/detail/pool_impl.h"

namespace ferrite::crash {
namespace {

[[noreturn]] void broken(const std::string& what) {
  throw broken_image(what);
}

// The decoder's view of the pool an image_view reads: every storage object
// must be an object of `type_name`, reached once (image_view::object).
class crash_image : public detail::layout_image {
 public:
  crash_image(image_view& v, std::string_view type_name)
      : layout_image(v.target().base(), v.target().heap_offset(),
                     v.target().heap_offset() + v.target().heap_size(),
                     detail::impl_of(v.target()).header.pool_tag),
        v_(v),
        type_name_(type_name) {}

  const std::byte* ptr(std::uint64_t offset) const { return base() + offset; }
  std::uint64_t offset(const void* p) const {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base());
  }

 protected:
  bool find(std::uint64_t offset, std::uint64_t need, detail::layout_part part,
            detail::layout_object& out, std::string&) override {
    const std::byte* o = v_.object(std::uint64_t{tag()} << 48 | offset, type_name_, need,
                                   std::string(type_name_) + ": " + detail::part_name(part));
    out = {offset, v_.target().object_size(o), v_.target().object_type(o)};
    return true;
  }

 private:
  image_view& v_;
  std::string_view type_name_;
};

detail::element_shape shape(element_shape s) {
  return {s.size, s.align};
}

}  // namespace

std::vector<stored_entry> walk_hash_map(image_view& v, const void* handle, element_shape key,
                                        element_shape value, std::string_view type_name) {
  crash_image img(v, type_name);
  std::vector<stored_entry> out;
  try {
    detail::walk_hash_map(
        img, img.offset(handle), shape(key), shape(value), [&](const detail::hash_map_node& n) {
          out.push_back({img.ptr(n.key), n.value ? img.ptr(n.value) : nullptr, n.hash});
          return true;
        });
  } catch (const detail::layout_damage& d) {
    broken(std::string(type_name) + ": " + d.what());
  }
  return out;
}

std::vector<stored_entry> walk_btree(image_view& v, const void* handle, element_shape key,
                                     element_shape value, std::string_view type_name,
                                     const key_compare& compare,
                                     std::vector<const std::byte*>* separators) {
  crash_image img(v, type_name);
  detail::btree_rep rep;
  std::memcpy(&rep, handle, sizeof rep);
  std::vector<stored_entry> out;
  try {
    detail::walk_btree(
        img, img.offset(handle), shape(key), shape(value),
        [&](const detail::btree_node_view& n) {
          // Only an empty tree's root leaf may be empty.
          if (n.depth == 0 && n.count == 0 && (n.level != 0 || rep.size != 0)) {
            broken(std::string(type_name) + ": the root holds no key");
          }
          for (std::uint64_t i = 0; i < n.count; ++i) {
            const std::byte* k = img.ptr(n.keys + i * key.size);
            if (n.level == 0) {
              out.push_back({k, value.size ? img.ptr(n.values + i * value.size) : nullptr, 0});
            } else if (separators) {
              separators->push_back(k);
            }
          }
          return true;
        },
        [&](std::uint64_t a, std::uint64_t b) { return compare(img.ptr(a), img.ptr(b)); });
  } catch (const detail::layout_damage& d) {
    broken(std::string(type_name) + ": " + d.what());
  }
  return out;
}

}  // namespace ferrite::crash
