// Structure-aware libFuzzer harness: damage that keeps checksums valid.
//
// pool_fuzz.cc flips bytes; most of its images die at a checksum (the
// superblock's, a log record's, the type table's) and never reach recovery's
// entry checks or the heap walk. Here each mutation edits one structure and
// then re-seals it: the log record, superblock slot or type table gets the
// checksum of its new bytes, so the damage goes on to recovery, the checker
// and the program. The input is
//
//   input    := template:u8 mutation*
//   mutation := kind:u8 select:u8 where:u16 value:u64      (12 bytes)
//
// over one of three small pools, built once on the simulated device and
// left with committed records not yet checkpointed (as after a crash):
//   0 typed      a FERRITE_TYPE root with a vector, hash_map, map, string
//                and a pptr chain
//   1 values     a dict root with every kind of value, a shared list, a cycle
//   2 tutorial   the guessing game of docs/tutorial.md: an object with a
//                name, bounds, a number and a list of guesses
// Kinds (kind % 6):
//   0 heap      `select % 8 + 1` bytes of `value` at a heap offset (where
//               the template's objects are)
//   1 record    the same inside a log record (after its checksum), re-sealed
//   2 entry     an entry header field of a log record (kind, length or
//               offset) set to `value`, re-sealed
//   3 slot      an 8-byte field of a superblock slot, re-sealed
//   4 types     bytes of the type table's header or entries, re-sealed
//   5 raw       bytes anywhere in the first 20 KiB, not re-sealed
// The target: ferrite check, then a writable open (recovery), a walk of
// the root through the public API and a transaction, then close. Any
// ferrite::error is fine; a crash, a hang or a sanitizer report is a
// finding. Seeds: tests/fuzz/structured_seeds/. Build and run:
// ./dev.sh fuzz SECONDS (both harnesses).
#include <cstdint>
#include <cstring>
#include <vector>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/format/log_format.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/format/type_table_format.h"
#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/check.h"
#include "ferrite/ferrite.h"
#include "ferrite/txlog/superblock.h"

namespace fuzz {

struct link {
  std::int64_t value;
  ferrite::pptr<link> next;
};
FERRITE_TYPE(link, "fuzz.Link", value, next)

struct shelf {
  ferrite::vector<std::int64_t> numbers;
  ferrite::hash_map<ferrite::string, ferrite::string> names;
  ferrite::map<std::int64_t, ferrite::string> ordered;
  ferrite::string title;
  ferrite::pptr<link> chain;
};
FERRITE_TYPE(shelf, "fuzz.Shelf", numbers, names, ordered, title, chain)

class guesser : public ferrite::object {
 public:
  using object::object;
};
FERRITE_CLASS(guesser, "guess.Guesser")

}  // namespace fuzz

namespace {

using namespace ferrite;

constexpr int templates = 3;

std::shared_ptr<sim_device> new_device() {
  return std::make_shared<sim_device>(granularity::cache_line);
}

pool open_on(const std::shared_ptr<sim_device>& dev) {
  pool_options o;
  o.device = dev;
  o.size = pool::min_size;
  return pool::open("template", o);
}

// Each template: a checkpointed part, then transactions left in the log.
std::vector<std::byte> make_typed() {
  auto dev = new_device();
  pool p = open_on(dev);
  pptr<fuzz::shelf> s = p.root<fuzz::shelf>();
  p.transaction([&] {
    for (std::int64_t i = 0; i < 40; ++i) s->numbers.push_back(i * 3);
    for (int i = 0; i < 12; ++i)
      s->names["key " + std::to_string(i)] =
          "a value long enough to need storage " + std::to_string(i);
    for (std::int64_t i = 0; i < 30; ++i) s->ordered.insert(i, "v" + std::to_string(i));
    s->title = "a title longer than the inline buffer";
  });
  p.checkpoint();
  for (std::int64_t i = 0; i < 4; ++i) {
    p.transaction([&] {
      pptr<fuzz::link> l = p.make<fuzz::link>(fuzz::link{i, s->chain});
      tx_snapshot(&s->chain);
      s->chain = l;
      s->numbers.push_back(100 + i);
      s->names["late " + std::to_string(i)] = "x";
    });
  }
  return dev->durable();
}

std::vector<std::byte> make_values() {
  auto dev = new_device();
  pool p = open_on(dev);
  value root = p.root();
  p.transaction([&] {
    root = dict_of();
    root["int"] = -7;
    root["float"] = 2.5;
    root["long"] = "a str too long for a cell";
    root["blob"] = bytes_of("0123456789abcdefXYZ");
    root["tuple"] = tuple_of(1, "x", 2.5);
    root["set"] = set_of(3, 4);
    root["nested"] = dict_of({{"number", 42}, {"guesses", list_of(25)}});
  });
  p.checkpoint();
  p.transaction([&] {
    root["shared_a"] = list_of(1, 2, "three");
    root["shared_b"] = root["shared_a"];
    root["self"] = root;
  });
  p.transaction([&] { root["nested"]["guesses"].as_list().append(30); });
  return dev->durable();
}

std::vector<std::byte> make_tutorial() {
  auto dev = new_device();
  pool p = open_on(dev);
  value root = p.root();
  p.transaction([&] {
    root = new_object<fuzz::guesser>(
        {{"name", "Ada"}, {"maximum", 50}, {"number", 17}, {"guesses", list_of()}});
  });
  p.checkpoint();
  for (int g : {25, 12, 18}) {
    p.transaction([&] { root.as_object()["guesses"].as_list().append(g); });
  }
  return dev->durable();
}

const std::vector<std::byte>& template_image(int t) {
  static const std::vector<std::byte> images[templates] = {make_typed(), make_values(),
                                                           make_tutorial()};
  return images[t];
}

// The structures of an image that mutations address.
struct image {
  std::vector<std::byte> bytes;
  detail::pool_header header{};
  std::uint64_t seed = 0;

  explicit image(std::vector<std::byte> b) : bytes(std::move(b)) {
    std::memcpy(&header, bytes.data(), sizeof header);
    seed = detail::pool_seed(header);
  }

  std::uint64_t current_slot_offset() const {
    detail::superblock a, b;
    std::memcpy(&a, bytes.data() + header.superblock_offset[0], sizeof a);
    std::memcpy(&b, bytes.data() + header.superblock_offset[1], sizeof b);
    return header.superblock_offset[a.sequence > b.sequence ? 0 : 1];
  }

  // File offsets of the records after the checkpoint (recovery's walk).
  std::vector<std::uint64_t> records() const {
    detail::superblock sb;
    std::memcpy(&sb, bytes.data() + current_slot_offset(), sizeof sb);
    std::vector<std::uint64_t> out;
    std::uint64_t pos = sb.log_head, lsn = sb.checkpoint_lsn + 1;
    while (out.size() < 64 && pos + 64 <= header.log_size) {
      detail::record_header rh;
      std::memcpy(&rh, bytes.data() + header.log_offset + pos, sizeof rh);
      if (rh.magic != detail::record_magic || rh.lsn != lsn || rh.epoch != sb.log_epoch) break;
      if (rh.length < 64 || rh.length > header.log_size - pos) break;
      if (!(rh.flags & detail::record_flag_wrap)) out.push_back(header.log_offset + pos);
      pos = rh.flags & detail::record_flag_wrap ? 0 : (pos + rh.length) % header.log_size;
      ++lsn;
    }
    return out;
  }

  void put(std::uint64_t at, std::uint64_t value, std::size_t n) {
    if (at >= bytes.size()) return;
    std::memcpy(bytes.data() + at, &value, std::min<std::size_t>(n, bytes.size() - at));
  }

  void seal_record(std::uint64_t at) {
    detail::record_header rh;
    std::memcpy(&rh, bytes.data() + at, sizeof rh);
    const std::uint64_t room = header.log_offset + header.log_size - at;
    if (rh.length < 64 || rh.length > room) return;  // a length no checksum can cover
    rh.checksum = detail::checksum64(bytes.data() + at + 8, rh.length - 8, seed);
    std::memcpy(bytes.data() + at, &rh.checksum, 8);
  }

  void seal_slot(std::uint64_t at) {
    detail::superblock sb;
    std::memcpy(&sb, bytes.data() + at, sizeof sb);
    sb.checksum =
        detail::checksum64(reinterpret_cast<const std::byte*>(&sb) + 8, sizeof sb - 8, seed);
    std::memcpy(bytes.data() + at, &sb.checksum, 8);
  }

  // The type table's checksum (docs/format.md, "Type table"): the header
  // with its checksum zeroed, then the used type and field entries.
  void seal_types() {
    const std::uint64_t at = header.type_table_offset;
    detail::type_table_header h;
    std::memcpy(&h, bytes.data() + at, sizeof h);
    if (h.type_count > detail::max_types || h.field_count > detail::max_fields) return;
    detail::type_table_header copy = h;
    copy.checksum = 0;
    std::uint64_t c = detail::checksum64(&copy, sizeof copy, seed);
    c = detail::checksum64(bytes.data() + at + detail::type_entries_offset,
                           std::size_t{h.type_count} * sizeof(detail::type_entry), c);
    c = detail::checksum64(bytes.data() + at + detail::field_entries_offset,
                           std::size_t{h.field_count} * sizeof(detail::field_entry), c);
    h.checksum = c;
    std::memcpy(bytes.data() + at, &h, sizeof h);
  }
};

void mutate(image& img, std::uint8_t kind, std::uint8_t select, std::uint16_t where,
            std::uint64_t value) {
  const std::size_t n = select % 8 + 1;
  switch (kind % 6) {
    case 0: {  // the template's objects sit in the heap's first 256 KiB
      img.put(img.header.heap_offset + where * 4ull, value, n);
      break;
    }
    case 1: {
      const auto recs = img.records();
      if (recs.empty()) return;
      const std::uint64_t at = recs[select % recs.size()];
      detail::record_header rh;
      std::memcpy(&rh, img.bytes.data() + at, sizeof rh);
      const std::uint64_t len = std::max<std::uint64_t>(rh.length, 64);
      img.put(at + 8 + where % (len - 8), value, n);
      img.seal_record(at);
      break;
    }
    case 2: {
      const auto recs = img.records();
      if (recs.empty()) return;
      const std::uint64_t at = recs[select % recs.size()];
      detail::record_header rh;
      std::memcpy(&rh, img.bytes.data() + at, sizeof rh);
      // Walk to entry `where % entry_count` (stopping at a bad one).
      std::uint64_t e = at + sizeof rh;
      const std::uint64_t end = at + std::min<std::uint64_t>(rh.length, img.header.log_size);
      for (std::uint64_t i = 0; rh.entry_count && i < where % rh.entry_count; ++i) {
        if (e + sizeof(detail::entry_header) > end) return;
        detail::entry_header eh;
        std::memcpy(&eh, img.bytes.data() + e, sizeof eh);
        e += sizeof eh + detail::align_up(eh.length, 8);
      }
      if (e + sizeof(detail::entry_header) > end) return;
      static constexpr std::size_t fields[3][2] = {{0, 2}, {4, 4}, {8, 8}};  // kind, length, offset
      const auto& f = fields[(select / 8) % 3];
      img.put(e + f[0], value, f[1]);
      img.seal_record(at);
      break;
    }
    case 3: {
      const std::uint64_t at =
          select & 0x80 ? img.current_slot_offset() : img.header.superblock_offset[select & 1];
      img.put(at + 8 + (where % 15) * 8, value, 8);
      img.seal_slot(at);
      break;
    }
    case 4: {
      img.put(img.header.type_table_offset + where % 8192, value, n);
      img.seal_types();
      break;
    }
    default:
      img.put(where % 20480, value, n);
  }
}

// Everything a program would read of the template's root.
void walk_root(pool& p, int t) {
  if (t == 0) {
    pptr<fuzz::shelf> s = p.root<fuzz::shelf>();
    std::int64_t sum = 0;
    for (std::int64_t v : s->numbers) sum += v;
    for (const auto& [k, v] : s->names) sum += static_cast<std::int64_t>(k.size() + v.size());
    for (const auto& [k, v] : s->ordered) sum += k + static_cast<std::int64_t>(v.size());
    sum += static_cast<std::int64_t>(std::string(s->title.c_str()).size());
    int hops = 0;
    for (pptr<fuzz::link> l = s->chain; l && hops < 1000; l = l->next, ++hops) sum += l->value;
    p.transaction([&] { s->numbers.push_back(sum); });
  } else {
    value root = p.root();
    const std::string text = root.repr();
    if (t == 2) {
      p.transaction([&] {
        root.as_object()["guesses"].as_list().append(static_cast<std::int64_t>(text.size()));
      });
    } else {
      p.transaction([&] { root["fuzzed"] = static_cast<std::int64_t>(text.size()); });
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int t = data[0] % templates;
  image img(template_image(t));
  for (std::size_t at = 1; at + 12 <= size; at += 12) {
    std::uint16_t where;
    std::uint64_t value;
    std::memcpy(&where, data + at + 2, 2);
    std::memcpy(&value, data + at + 4, 8);
    mutate(img, data[at], data[at + 1], where, value);
  }
  pool_options o;
  o.device = sim_device::from_image(img.bytes, granularity::cache_line);
  try {
    check_pool("fuzz", o);
  } catch (const error&) {
  }
  try {
    o.mode = open_mode::open_existing;
    pool p = pool::open("fuzz", o);
    walk_root(p, t);
    p.close();
  } catch (const error&) {
  }
  return 0;
}
