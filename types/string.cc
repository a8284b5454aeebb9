#include "ferrite/types/string.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "ferrite/base/error.h"

namespace ferrite {

using namespace detail;

namespace {

// Moves the text to a new buffer of `capacity` bytes (plus the NUL), keeping
// the first `keep` bytes. REQUIRES: a transaction runs on p; rep is
// snapshotted.
void regrow(pool_impl& p, string_rep& rep, std::uint64_t capacity, std::uint64_t keep) {
  const std::uint32_t id = type_id_of(p, describe<string>::get());
  auto* buf = static_cast<char*>(tx_allocate(p, capacity + 1, id, 8));
  if (keep) std::memcpy(buf, resolve(p, rep.data), keep);
  if (rep.data) tx_free(p, resolve(p, rep.data));
  rep.data = pointer_bits(p, buf);
  rep.capacity = capacity;
}

std::uint64_t grown_capacity(std::uint64_t have, std::uint64_t need) {
  return std::max<std::uint64_t>({need, have * 2, 15});
}

}  // namespace

const char* string::data() const {
  if (rep_.data == 0) return "";
  return pptr<const char>::from_raw(rep_.data).get();
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
    if (rep_.capacity == 0) return;  // empty text, no buffer
    char* buf = static_cast<char*>(resolve(p, rep_.data));
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
    char* buf = static_cast<char*>(resolve(p, rep_.data));
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
    char* buf = static_cast<char*>(resolve(p, rep_.data));
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
    static_cast<char*>(resolve(p, rep_.data))[rep_.size] = '\0';
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
  if (rep->data != 0) tx_free(p, resolve(p, rep->data));
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
