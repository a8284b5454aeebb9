#include "bench/catalogue.h"

#include <stdexcept>

namespace ferrite::bench {

std::string_view to_string(structure s) noexcept {
  switch (s) {
    case structure::hash:
      return "hash";
    case structure::ordered:
      return "ordered";
    default:
      return "none";
  }
}

std::optional<structure> parse_structure(std::string_view name) noexcept {
  if (name == "hash") return structure::hash;
  if (name == "ordered") return structure::ordered;
  if (name == "none") return structure::none;
  return std::nullopt;
}

const workload_info* find_workload(std::string_view name) {
  for (const workload_info& w : catalogue) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

const workload_info& info(workload w) {
  for (const workload_info& i : catalogue) {
    if (i.id == w) return i;
  }
  throw std::logic_error("workload missing from the catalogue");
}

std::string available_workloads() {
  std::string names;
  for (const workload_info& w : catalogue) {
    if (!w.arrives_with.empty()) continue;
    if (!names.empty()) names += ", ";
    names += w.name;
  }
  return names;
}

}  // namespace ferrite::bench
