// The process-wide registry of compiled type descriptors.
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "ferrite/base/error.h"
#include "ferrite/engine/type_info.h"

namespace ferrite::detail {

namespace {

struct registry {
  std::mutex mu;
  std::vector<const type_descriptor*> all;
  std::unordered_map<std::string, const type_descriptor*> by_name;
};

registry& the_registry() {
  static registry r;
  return r;
}

void add(registry& r, const type_descriptor& d) {
  std::atomic_ref<std::uint32_t> index(d.index);
  if (index.load() != 0) return;  // already registered (indexes start at 1)
  auto [it, inserted] = r.by_name.emplace(d.name, &d);
  if (!inserted && it->second != &d) {
    // The same name from two definitions (e.g. two shared objects): keep
    // the first; pools compare their layout against it.
    index.store(std::atomic_ref<std::uint32_t>(it->second->index).load());
    return;
  }
  r.all.push_back(&d);
  index.store(static_cast<std::uint32_t>(r.all.size()), std::memory_order_release);
  for (const field_descriptor& f : d.fields) add(r, f.type());
  if (d.key) add(r, d.key());
  if (d.value) add(r, d.value());
}

}  // namespace

bool register_type(const type_descriptor& d) {
  registry& r = the_registry();
  std::lock_guard lk(r.mu);
  add(r, d);
  return true;
}

std::vector<const type_descriptor*> registered_types() {
  registry& r = the_registry();
  std::lock_guard lk(r.mu);
  return r.all;
}

void release_storage(pool_impl& pool, const type_descriptor& d, void* obj) {
  switch (d.kind) {
    case type_kind::container:
      if (d.release) d.release(pool, obj);
      return;
    case type_kind::structure:
      for (const field_descriptor& f : d.fields) {
        const type_descriptor& t = f.type();
        if (t.kind != type_kind::container && t.kind != type_kind::structure) continue;
        auto* at = static_cast<std::byte*>(obj) + f.offset;
        for (std::uint32_t i = 0; i < f.count; ++i) release_storage(pool, t, at + i * t.size);
      }
      return;
    default:
      return;
  }
}

}  // namespace ferrite::detail
