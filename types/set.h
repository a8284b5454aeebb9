// ferrite::set<K> — an ordered set in a pool (a B+-tree without values).
//
//   struct tags { ferrite::set<ferrite::string> names; };
//   FERRITE_TYPE(tags, "blog.Tags", names)
//
//   auto t = pool.root<tags>();
//   t->names.insert("persistence");          // atomic on its own, or joins the transaction
//   if (t->names.contains("pmem")) ...
//   for (const ferrite::string& n : t->names) ...   // in order
//
// The same tree as ferrite::map (types/map.h, types/btree.h) with leaves
// holding keys only: a 32-byte handle (detail::btree_rep) embedded in its
// owner, zero bytes an empty set. Keys order by key_traits<K>::compare;
// ferrite::string keys are looked up with std::string_view. `*it` is a
// const K& into the pool; iteration is forward, in order; inserting or
// erasing invalidates iterators.
//
// Every mutating call is atomic on its own and joins the transaction the
// thread runs on the set's pool; mutators must be called on the set in the
// pool (on a copy in volatile memory they throw invalid_argument). Copy
// assignment is deleted; the copy constructor makes a read-only view.
//
// Thread-safety: like std::set (concurrent reads, or one writer).
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

#include "ferrite/base/format/container_format.h"
#include "ferrite/types/btree.h"
#include "ferrite/types/element.h"

namespace ferrite {

template <class K>
class set {
 public:
  using ferrite_container_handle = void;  // engine/pptr.h: no pptr<void> to a container
  using key_type = K;
  using value_type = K;
  using lookup = typename key_traits<K>::lookup;
  using size_type = std::size_t;

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = K;
    using reference = const K&;
    using pointer = const K*;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    const K& operator*() const {
      return *reinterpret_cast<const K*>(c_.leaf + keys_offset + c_.index * sizeof(K));
    }
    const K* operator->() const { return &**this; }
    iterator& operator++() {
      detail::btree_advance(c_);
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.c_ == b.c_; }

   private:
    friend class set;
    explicit iterator(detail::btree_cursor c) : c_(c) {}
    detail::btree_cursor c_;
  };
  using const_iterator = iterator;

  set() noexcept = default;
  set(const set&) noexcept = default;  // a read-only view of the same tree
  set& operator=(const set&) = delete;

  size_type size() const noexcept { return rep_.size; }
  bool empty() const noexcept { return rep_.size == 0; }

  iterator begin() const { return iterator(detail::btree_begin(rep_, traits())); }
  iterator end() const { return iterator(); }
  iterator cbegin() const { return begin(); }
  iterator cend() const { return end(); }

  iterator find(const lookup& k) const { return iterator(detail::btree_find(rep_, traits(), &k)); }
  bool contains(const lookup& k) const { return find(k) != end(); }
  size_type count(const lookup& k) const { return contains(k) ? 1 : 0; }
  iterator lower_bound(const lookup& k) const {
    return iterator(detail::btree_lower_bound(rep_, traits(), &k));
  }
  iterator upper_bound(const lookup& k) const {
    return iterator(detail::btree_upper_bound(rep_, traits(), &k));
  }

  // Inserts k unless present; the bool says whether it did.
  std::pair<iterator, bool> insert(const lookup& k) {
    const detail::btree_insert_result r = detail::btree_insert(rep_, traits(), &k, nullptr, false);
    return {iterator(r.at), r.inserted};
  }
  // Removes k (releasing its storage); returns how many were removed.
  size_type erase(const lookup& k) { return detail::btree_erase(rep_, traits(), &k); }
  void clear() { detail::btree_clear(rep_, traits()); }

  // "" when the tree keeps its invariants, else the first problem found.
  std::string check_invariants() const { return detail::btree_check(rep_, traits()); }

  static const detail::btree_traits& traits() {
    static const detail::btree_traits t = [] {
      detail::btree_traits r;
      detail::btree_key_ops<K>::fill(r);
      r.container = &detail::descriptor_of<set>;
      return r;
    }();
    return t;
  }

 private:
  static constexpr std::uint32_t keys_offset = detail::btree_keys_offset(alignof(K));

  detail::btree_rep rep_{};
};

namespace detail {
template <class K>
struct describe<set<K>> {
  static const type_descriptor& get() {
    static_assert(std::is_trivially_copyable_v<set<K>>);
    static_assert(std::is_standard_layout_v<set<K>>);
    static_assert(sizeof(set<K>) == sizeof(btree_rep));
    static const type_descriptor d = [] {
      type_descriptor r;
      r.name = "ferrite.set<" + descriptor_of<K>().name + ">";
      r.kind = type_kind::container;
      r.subkind = static_cast<std::uint8_t>(container_kind::set);
      r.size = sizeof(set<K>);
      r.align = alignof(set<K>);
      r.key = &descriptor_of<K>;
      r.release = [](pool_impl& p, void* obj) {
        btree_release(p, *static_cast<btree_rep*>(obj), set<K>::traits());
      };
      return r;
    }();
    return d;
  }
};
}  // namespace detail

}  // namespace ferrite
