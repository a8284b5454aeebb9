#include "tests/test_util.h"

#include <cstring>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "ferrite/base/format/log_format.h"
#include "ferrite/base/format/pool_format.h"

namespace ferrite::test {

std::vector<log_record> log_of(const std::byte* image) {
  detail::pool_header h;
  std::memcpy(&h, image, sizeof h);
  detail::superblock sb[2];
  for (int i : {0, 1}) std::memcpy(&sb[i], image + h.superblock_offset[i], sizeof sb[i]);
  const detail::superblock& cur = sb[0].sequence > sb[1].sequence ? sb[0] : sb[1];
  std::vector<log_record> out;
  std::uint64_t pos = cur.log_head, lsn = cur.checkpoint_lsn + 1;
  while (out.size() < h.log_size / 64) {
    detail::record_header rh;
    std::memcpy(&rh, image + h.log_offset + pos, sizeof rh);
    if (rh.magic != detail::record_magic || rh.lsn != lsn || rh.epoch != cur.log_epoch) break;
    const bool wrap = rh.flags & detail::record_flag_wrap;
    out.push_back({pos, wrap});
    pos = wrap ? 0 : (pos + rh.length) % h.log_size;
    ++lsn;
  }
  return out;
}

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/ferrite-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ferrite::test
