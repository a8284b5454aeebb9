// A growable byte buffer that appends without zero-filling: the commit
// path's scratch (a record being built, a transaction's old bytes).
// std::vector<std::byte> zero-fills on resize and its range insert cost
// ~60 instructions a call on the tx_set8 bench cell.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

namespace ferrite::detail {

class byte_buffer {
 public:
  std::size_t size() const noexcept { return size_; }
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  // Keeps the capacity.
  void clear() noexcept { size_ = 0; }
  // `n` more bytes at the end, uninitialized; returns where they start.
  std::byte* extend(std::size_t n) {
    if (n > capacity_ - size_) [[unlikely]]
      grow(size_ + n);
    std::byte* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void append(const void* src, std::size_t n) {
    if (n != 0) std::memcpy(extend(n), src, n);
  }
  // Size `n`; bytes past the old size are uninitialized.
  void resize_uninitialized(std::size_t n) {
    if (n > capacity_) [[unlikely]]
      grow(n);
    size_ = n;
  }

 private:
  [[gnu::noinline]] void grow(std::size_t at_least) {
    const std::size_t cap = std::max({at_least, 2 * capacity_, std::size_t{4096}});
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(cap);
    if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = cap;
  }
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace ferrite::detail
