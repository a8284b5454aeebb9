// ferrite::string — text in a pool.
//
//   struct player { ferrite::string name; std::int64_t score; };
//   FERRITE_TYPE(player, "game.Player", name, score)
//
//   auto p = pool.make<player>();
//   p->name = "Ada";                    // atomic on its own, or joins the transaction
//   std::string_view v = p->name;       // read in place, no copy
//
// A 24-byte handle (base/format/container_format.h) embedded in its owner, owning
// a NUL-terminated buffer in the same pool. Mutating calls must be made on
// the handle in the pool (not on a copy in volatile memory: they throw
// invalid_argument); each is atomic on its own and joins the transaction the
// thread runs on that pool. Copy assignment is deleted: `a = b` would make
// two strings share one buffer; write `a = b.view()`.
//
// Thread-safety: like std::string (concurrent reads, or one writer).
#pragma once

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>

#include "ferrite/base/format/container_format.h"
#include "ferrite/types/element.h"

namespace ferrite {

class string {
 public:
  using ferrite_container_handle = void;  // engine/pptr.h: no pptr<void> to a container
  string() noexcept = default;
  string(const string&) noexcept = default;  // a read-only view of the same text
  string& operator=(const string&) = delete;

  std::size_t size() const noexcept { return rep_.size; }
  std::size_t length() const noexcept { return rep_.size; }
  std::size_t capacity() const noexcept { return rep_.capacity; }
  bool empty() const noexcept { return rep_.size == 0; }
  const char* data() const;
  const char* c_str() const { return data(); }
  std::string_view view() const { return {data(), size()}; }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(view()); }
  const char* begin() const { return data(); }
  const char* end() const { return data() + size(); }
  char operator[](std::size_t i) const { return data()[i]; }
  // Throws invalid_argument when i >= size().
  char at(std::size_t i) const;

  string& operator=(std::string_view text) {
    assign(text);
    return *this;
  }
  string& operator+=(std::string_view text) {
    append(text);
    return *this;
  }
  void assign(std::string_view text);
  void append(std::string_view text);
  void push_back(char c) { append(std::string_view(&c, 1)); }
  void clear();
  // Keeps room for n bytes (never shrinks).
  void reserve(std::size_t n);
  // Frees the buffer (the string becomes empty, capacity 0).
  void reset();

  friend bool operator==(const string& a, std::string_view b) { return a.view() == b; }
  friend auto operator<=>(const string& a, std::string_view b) { return a.view() <=> b; }
  friend bool operator==(const string& a, const string& b) { return a.view() == b.view(); }
  friend auto operator<=>(const string& a, const string& b) { return a.view() <=> b.view(); }

 private:
  std::string_view stable_text(std::string_view text, std::string& copy) const;
  detail::string_rep rep_{};
};

static_assert(std::is_trivially_copyable_v<string>);
static_assert(std::is_standard_layout_v<string>);
static_assert(sizeof(string) == 24);

namespace detail {
template <>
struct describe<string> {
  static const type_descriptor& get();
};
// Frees the buffer of the string at `s` (in the running transaction). The
// handle is left as it was, now dangling: its owner is being freed or
// overwritten (a container's release contract); string::reset() is the
// call that keeps an empty string.
void release_string(pool_impl& p, void* s);
}  // namespace detail

template <>
struct element_traits<string> {
  using input = std::string_view;
  // `dest` is new or snapshotted memory whose bytes may be a released
  // handle: start from an empty string.
  static void construct(detail::pool_impl&, string* dest, std::string_view v) {
    std::memset(static_cast<void*>(dest), 0, sizeof(string));
    dest->assign(v);
  }
  static void release(detail::pool_impl& p, string* v) { detail::release_string(p, v); }
};

template <>
struct key_traits<string> {
  using lookup = std::string_view;
  static std::uint64_t hash(std::string_view k) noexcept {
    return detail::stable_hash(k.data(), k.size());
  }
  static bool equal(const string& stored, std::string_view probe) { return stored.view() == probe; }
  static int compare(const string& stored, std::string_view probe) {
    const int c = stored.view().compare(probe);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  static std::string_view stored_as_lookup(const string& k) { return k.view(); }
};

}  // namespace ferrite
