#include "ferrite/txlog/record.h"

#include <algorithm>
#include <cstring>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/txlog/mutation.h"

namespace ferrite::detail {

void record_builder::add_entry(entry_kind kind, std::uint64_t offset, const void* data,
                               std::uint32_t len) {
  const entry_header e{static_cast<std::uint16_t>(kind), 0, len, offset};
  const std::size_t padded = align_up(len, 8);
  std::byte* at = buf_.extend(sizeof e + padded);
  std::memcpy(at, &e, sizeof e);
  std::memcpy(at + sizeof e, data, len);
  if (padded != len) std::memset(at + sizeof e + len, 0, padded - len);
  ++entries_;
}

void record_builder::add_range(std::uint64_t offset, const void* data, std::uint64_t len) {
  const auto* p = static_cast<const std::byte*>(data);
  while (len > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(len, max_entry_data));
    add_entry(entry_kind::range, offset, p, n);
    offset += n;
    p += n;
    len -= n;
  }
}

void record_builder::add_bits(entry_kind kind, std::uint64_t offset, std::uint64_t mask) {
  add_entry(kind, offset, &mask, sizeof mask);
}

void record_builder::add_root(std::uint64_t offset, std::uint64_t type) {
  add_entry(entry_kind::set_root, offset, &type, sizeof type);
}

const std::byte* record_builder::finish(std::uint64_t lsn, std::uint64_t epoch,
                                        std::uint64_t durable_lsn, std::uint64_t seed) {
  const std::size_t end = buf_.size();
  if (const std::size_t pad = length() - end; pad != 0) std::memset(buf_.extend(pad), 0, pad);
  record_header h{};
  h.magic = record_magic;
  h.flags = 0;
  h.length = buf_.size();
  h.lsn = lsn;
  h.epoch = epoch;
  h.entry_count = entries_;
  h.durable_lsn = durable_lsn;
  std::memcpy(buf_.data(), &h, sizeof h);
  // Self-test mutation marker_before_data: the header validates on its own.
  const bool marker = active_mutation() == mutation::marker_before_data;
  h.checksum = checksum64(buf_.data() + 8, (marker ? sizeof h : buf_.size()) - 8, seed);
  std::memcpy(buf_.data(), &h.checksum, 8);
  return buf_.data();
}

void encode_wrap_marker(std::byte* out, std::uint64_t lsn, std::uint64_t epoch,
                        std::uint64_t durable_lsn, std::uint64_t seed) {
  record_header h{};
  h.magic = record_magic;
  h.flags = record_flag_wrap;
  h.length = sizeof h;
  h.lsn = lsn;
  h.epoch = epoch;
  h.durable_lsn = durable_lsn;
  std::memcpy(out, &h, sizeof h);
  h.checksum = checksum64(out + 8, sizeof h - 8, seed);
  std::memcpy(out, &h.checksum, 8);
}

std::uint64_t validate_record(const std::byte* rec, std::uint64_t room, std::uint64_t lsn,
                              std::uint64_t epoch, std::uint64_t seed) noexcept {
  if (room < sizeof(record_header)) return 0;
  record_header h;
  std::memcpy(&h, rec, sizeof h);
  if (h.magic != record_magic || h.lsn != lsn || h.epoch != epoch) return 0;
  if (h.length < sizeof h || h.length % record_align != 0 || h.length > room) return 0;
  if (h.flags & ~record_flag_wrap) return 0;
  if ((h.flags & record_flag_wrap) && (h.length != sizeof h || h.entry_count != 0)) return 0;
  switch (active_mutation()) {  // self-test mutations (txlog/mutation.h)
    case mutation::skip_checksum:
      break;
    case mutation::marker_before_data:
      if (checksum64(rec + 8, sizeof h - 8, seed) != h.checksum) return 0;
      break;
    default:
      if (checksum64(rec + 8, h.length - 8, seed) != h.checksum) return 0;
  }
  return h.length;
}

std::int64_t find_later_record(const std::byte* log, std::uint64_t log_size, std::uint64_t lsn,
                               std::uint64_t epoch, std::uint64_t seed) noexcept {
  std::int64_t found = -1;
  std::uint64_t found_lsn = 0;
  for (std::uint64_t pos = 0; pos + sizeof(record_header) <= log_size; pos += record_align) {
    record_header h;
    std::memcpy(&h, log + pos, sizeof h);
    if (h.magic != record_magic || h.epoch != epoch || h.lsn <= lsn || h.durable_lsn < lsn ||
        h.lsn <= found_lsn)
      continue;
    if (validate_record(log + pos, log_size - pos, h.lsn, epoch, seed) != 0) {
      found = static_cast<std::int64_t>(pos);
      found_lsn = h.lsn;
    }
  }
  return found;
}

bool pool_bounds::contains(std::uint64_t offset, std::uint64_t len) const noexcept {
  auto inside = [&](std::uint64_t b, std::uint64_t e) {
    return offset >= b && offset <= e && len <= e - offset;
  };
  return inside(type_table_begin, type_table_end) || inside(heap_begin, heap_end);
}

namespace {

// Walks the entries of a record; `fn(header, data)` returns false to stop.
template <class Fn>
std::string walk_entries(const std::byte* rec, Fn&& fn) {
  record_header h;
  std::memcpy(&h, rec, sizeof h);
  std::uint64_t at = sizeof h;
  for (std::uint64_t i = 0; i < h.entry_count; ++i) {
    if (h.length - at < sizeof(entry_header))
      return "entry " + std::to_string(i) + " overruns the record";
    entry_header e;
    std::memcpy(&e, rec + at, sizeof e);
    at += sizeof e;
    if (align_up(e.length, 8) > h.length - at)
      return "entry " + std::to_string(i) + " data overruns the record";
    std::string problem = fn(e, rec + at);
    if (!problem.empty()) return "entry " + std::to_string(i) + ": " + problem;
    at += align_up(e.length, 8);
  }
  return {};
}

}  // namespace

std::string check_entries(const std::byte* rec, std::uint64_t len, const pool_bounds& bounds) {
  (void)len;
  return walk_entries(rec, [&](const entry_header& e, const std::byte*) -> std::string {
    switch (static_cast<entry_kind>(e.kind)) {
      case entry_kind::range:
        if (!bounds.contains(e.offset, e.length)) return "range outside the pool's heap";
        return {};
      case entry_kind::set_bits:
      case entry_kind::clear_bits:
        if (e.length != 8 || e.offset % 8 != 0 || !bounds.contains(e.offset, 8)) {
          return "bit operation on an invalid word";
        }
        return {};
      case entry_kind::set_root:
        if (e.length != 8 ||
            (e.offset != 0 && (e.offset < bounds.heap_begin || e.offset >= bounds.heap_end))) {
          return "root outside the heap";
        }
        return {};
    }
    return "unknown entry kind " + std::to_string(e.kind);
  });
}

std::uint64_t apply_record(const std::byte* rec, const apply_target& t) {
  std::uint64_t applied = 0;
  walk_entries(rec, [&](const entry_header& e, const std::byte* data) -> std::string {
    std::uint64_t word = 0;
    if (e.length == 8) std::memcpy(&word, data, 8);
    switch (static_cast<entry_kind>(e.kind)) {
      case entry_kind::range:
        t.write(e.offset, data, e.length);
        break;
      case entry_kind::set_bits: {
        std::uint64_t v = t.read_word(e.offset) | word;
        t.write(e.offset, &v, 8);
        break;
      }
      case entry_kind::clear_bits: {
        std::uint64_t v = t.read_word(e.offset) & ~word;
        t.write(e.offset, &v, 8);
        break;
      }
      case entry_kind::set_root:
        t.set_root(e.offset, word);
        break;
    }
    applied += e.length;
    return {};
  });
  return applied;
}

}  // namespace ferrite::detail
