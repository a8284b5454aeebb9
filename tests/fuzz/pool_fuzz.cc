// libFuzzer harness: mutated pool images fed to open + check.
//
// The input is a list of patches applied to a small valid pool image (one
// with objects, runs, an extent and committed records still in the log):
//   patch := offset:u32 length:u8 bytes[length]
// so that the fuzzer explores damage to real structures instead of random
// files. Every image must give a ferrite::error or a report, never a crash
// or a sanitizer finding. Build: ./dev.sh fuzz SECONDS (clang, ASan).
#include <cstdint>
#include <cstring>
#include <vector>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"

namespace {

std::vector<std::byte> make_template() {
  using namespace ferrite;
  auto dev = std::make_shared<sim_device>(granularity::cache_line);
  pool_options o;
  o.device = dev;
  o.size = pool::min_size;
  pool p = pool::open("template", o);
  p.transaction([&] {
    auto* table = static_cast<std::uint64_t*>(p.allocate(64));
    for (int i = 0; i < 3; ++i) table[i] = p.offset_of(p.allocate(24 + 38 * i, 3));
    table[6] = p.offset_of(p.allocate(300 * 1024, 4));
  });
  p.checkpoint();
  for (int i = 0; i < 5; ++i) {
    p.transaction([&] { static_cast<std::uint8_t*>(p.allocate(24))[0] = 1; });
  }
  return dev->durable();  // as after a crash: five records to replay
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::byte> base = make_template();
  std::vector<std::byte> img = base;
  std::size_t at = 0;
  while (at + 5 <= size) {
    std::uint32_t off;
    std::memcpy(&off, data + at, 4);
    const std::size_t len = data[at + 4];
    at += 5;
    const std::size_t n = std::min(len, size - at);
    // Bias towards the metadata at the start and the heap's chunk table.
    const std::size_t pos = off % 2 ? off % 20480 : off % img.size();
    for (std::size_t k = 0; k < n && pos + k < img.size(); ++k)
      img[pos + k] = std::byte{data[at + k]};
    at += n;
  }
  if (size % 13 == 0 && size > 0) img.resize(img.size() * (data[0] % 100) / 100);
  auto dev = ferrite::sim_device::from_image(img, ferrite::granularity::cache_line);
  ferrite::pool_options o;
  o.device = dev;
  try {
    ferrite::check_pool("fuzz", o);
  } catch (const ferrite::error&) {
  }
  try {
    o.mode = ferrite::open_mode::open_existing;
    ferrite::pool p = ferrite::pool::open("fuzz", o);
    p.transaction([&] { p.allocate(40); });
  } catch (const ferrite::error&) {
  }
  return 0;
}
