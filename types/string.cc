#include "ferrite/types/string.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "ferrite/base/error.h"

namespace ferrite {

using namespace detail;

namespace {

// Longest text a string can hold (its buffer, capacity + 1 bytes, must fit
// in a pool).
constexpr std::uint64_t max_capacity = (std::uint64_t{1} << 47) - 1;

// The buffer of `rep` (null when it has none), after checking the handle
// read from the pool (DESIGN invariant 7): size <= capacity, a buffer iff
// capacity > 0, and the capacity + 1 bytes of the buffer within the pool's
// heap. Throws corrupted otherwise, so the size() bytes of text and their
// NUL are always inside the heap.
char* checked_buffer(const string_rep& rep) {
  if (rep.size > rep.capacity || (rep.data == 0) != (rep.capacity == 0) ||
      rep.capacity > max_capacity) {
    fail(error_code::corrupted,
         "a ferrite string in this pool is damaged (size " + std::to_string(rep.size) +
             ", capacity " + std::to_string(rep.capacity) + (rep.data == 0 ? ", no buffer" : "") +
             "; a string holds at most capacity bytes, in a buffer of capacity + 1); run "
             "`ferrite check` on the pool file");
  }
  return resolve_array<char>(rep.data, rep.capacity + 1);
}

// Moves the text to a new buffer of `capacity` bytes (plus the NUL), keeping
// the first `keep` bytes. REQUIRES: a transaction runs on p; rep is
// snapshotted.
void regrow(pool_impl& p, string_rep& rep, std::uint64_t capacity, std::uint64_t keep) {
  const std::uint32_t id = type_id_of(p, describe<string>::get());
  char* old = checked_buffer(rep);
  auto* buf = static_cast<char*>(tx_allocate(p, capacity + 1, id, 8));
  if (keep) std::memcpy(buf, old, keep);
  if (old) tx_free(p, old);
  rep.data = pointer_bits(p, buf);
  rep.capacity = capacity;
}

std::uint64_t grown_capacity(std::uint64_t have, std::uint64_t need) {
  return std::max<std::uint64_t>({need, have * 2, 15});
}

}  // namespace

const char* string::data() const {
  const char* buf = checked_buffer(rep_);
  return buf ? buf : "";
}

char string::at(std::size_t i) const {
  if (i >= size()) {
    fail(error_code::invalid_argument, "string::at(" + std::to_string(i) + ") on a string of " +
                                           std::to_string(size()) + " bytes");
  }
  return data()[i];
}

// The text to write: `text` itself, or a copy of it when it lies in the
// string's own buffer (which a regrow frees or the write overlaps).
std::string_view string::stable_text(std::string_view text, std::string& copy) const {
  if (rep_.data == 0 || text.empty()) return text;
  const char* b = data();
  if (text.data() + text.size() <= b || text.data() >= b + rep_.capacity + 1) return text;
  copy.assign(text);
  return copy;
}

void string::assign(std::string_view text) {
  pool_impl& p = pool_holding(this);
  std::string scratch;
  const std::string_view copy = stable_text(text, scratch);
  atomically(p, [&] {
    tx_snapshot(&rep_);
    if (copy.size() > rep_.capacity) regrow(p, rep_, grown_capacity(0, copy.size()), 0);
    char* buf = checked_buffer(rep_);
    if (buf == nullptr) return;  // empty text, no buffer
    tx_snapshot(buf, copy.size() + 1);
    std::memcpy(buf, copy.data(), copy.size());
    buf[copy.size()] = '\0';
    rep_.size = copy.size();
  });
}

void string::append(std::string_view text) {
  if (text.empty()) return;
  pool_impl& p = pool_holding(this);
  std::string scratch;
  const std::string_view copy = stable_text(text, scratch);
  atomically(p, [&] {
    tx_snapshot(&rep_);
    const std::uint64_t need = rep_.size + copy.size();
    if (need > rep_.capacity) regrow(p, rep_, grown_capacity(rep_.capacity, need), rep_.size);
    char* buf = checked_buffer(rep_);
    tx_snapshot(buf + rep_.size, copy.size() + 1);
    std::memcpy(buf + rep_.size, copy.data(), copy.size());
    buf[need] = '\0';
    rep_.size = need;
  });
}

void string::clear() {
  if (rep_.size == 0) return;
  pool_impl& p = pool_holding(this);
  atomically(p, [&] {
    tx_snapshot(&rep_);
    char* buf = checked_buffer(rep_);
    tx_snapshot(buf, 1);
    buf[0] = '\0';
    rep_.size = 0;
  });
}

void string::reserve(std::size_t n) {
  if (n <= rep_.capacity) return;
  pool_impl& p = pool_holding(this);
  atomically(p, [&] {
    tx_snapshot(&rep_);
    regrow(p, rep_, n, rep_.size);
    checked_buffer(rep_)[rep_.size] = '\0';
  });
}

void string::reset() {
  if (rep_.capacity == 0) return;
  pool_impl& p = pool_holding(this);
  atomically(p, [&] {
    release_string(p, this);
    tx_snapshot(&rep_);
    rep_ = {};
  });
}

namespace detail {

void release_string(pool_impl& p, void* s) {
  auto* rep = static_cast<string_rep*>(s);
  if (char* buf = checked_buffer(*rep)) tx_free(p, buf);
}

const type_descriptor& describe<string>::get() {
  static const type_descriptor d = [] {
    type_descriptor r;
    r.name = "ferrite.string";
    r.kind = type_kind::container;
    r.subkind = static_cast<std::uint8_t>(container_kind::string);
    r.size = sizeof(string);
    r.align = alignof(string);
    r.release = &release_string;
    return r;
  }();
  return d;
}

}  // namespace detail
}  // namespace ferrite
