#include "bench/catalogue.h"

#include <stdexcept>

namespace ferrite::bench {

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
