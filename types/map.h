// ferrite::map<K,V> — an ordered map in a pool (a B+-tree).
//
//   struct scores { ferrite::map<ferrite::string, std::int64_t> by_name; };
//   FERRITE_TYPE(scores, "game.Scores", by_name)
//
//   auto s = pool.root<scores>();
//   s->by_name.insert("ada", 10);            // atomic on its own, or joins the transaction
//   s->by_name.insert_or_assign("ada", 12);
//   if (auto it = s->by_name.find("ada"); it != s->by_name.end()) use(it->second);
//   for (auto [name, score] : s->by_name) ...  // in key order
//
// A 32-byte handle (detail::btree_rep, base/format/container_format.h) embedded in
// its owner; zero bytes are an empty map. Keys order by key_traits<K>::compare
// (integers, enums, pptr...; ferrite::string keys by text, looked up with
// std::string_view). Values are elements (types/element.h): a value that
// owns storage (a ferrite::string, a container) is built from its input
// (string_view) or value-initialised in place (`m[k].push_back(x)`), and its
// storage is released when the entry is erased. Copying one in (insert(k, v)
// with v a container, or a struct holding one) throws invalid_argument.
//
// Iteration is forward, in key order. `*it` is a `reference`:
// { const K& first; V& second; } referring into the pool (structured
// bindings work); `it.key()` and `it.value()` are the same references.
// Inserting or erasing invalidates every iterator and reference.
//
// Every mutating call is atomic on its own and joins the transaction the
// thread runs on the map's pool; mutators must be called on the map in the
// pool (on a copy in volatile memory they throw invalid_argument). Writing
// a scalar through a returned V& is the caller's change: inside a
// transaction, operator[] snapshots the value for you (so `m[k] = 3` is
// transactional there); elsewhere, snapshot first or use insert_or_assign.
// Copy assignment is deleted (two maps would share nodes); the copy
// constructor makes a read-only view.
//
// Cost: find/insert/erase touch O(log n) nodes of about 512 bytes; erase
// never merges leaves (see types/btree.h). clear() and destroying the owner
// free every node in one transaction.
//
// Thread-safety: like std::map (concurrent reads, or one writer).
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

#include "ferrite/base/error.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/types/btree.h"
#include "ferrite/types/element.h"

namespace ferrite {

template <class K, class V>
class map {
 public:
  using ferrite_container_handle = void;  // engine/pptr.h: no pptr<void> to a container
  using key_type = K;
  using mapped_type = V;
  using lookup = typename key_traits<K>::lookup;
  using value_input = typename element_traits<V>::input;
  using size_type = std::size_t;

  template <class Value>
  struct basic_reference {
    const K& first;
    Value& second;
  };
  using reference = basic_reference<V>;
  using const_reference = basic_reference<const V>;

  template <class Value>
  class basic_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = basic_reference<Value>;
    using reference = basic_reference<Value>;
    using difference_type = std::ptrdiff_t;
    struct pointer {
      basic_reference<Value> ref;
      const basic_reference<Value>* operator->() const { return &ref; }
    };

    basic_iterator() = default;
    // An iterator converts to a const_iterator.
    template <class Other>
    requires(std::is_const_v<Value> && !std::is_const_v<Other>)
        basic_iterator(const basic_iterator<Other>& o)
        : c_(o.cursor()) {}  // NOLINT

    const K& key() const {
      return *reinterpret_cast<const K*>(c_.leaf + keys_offset + c_.index * sizeof(K));
    }
    Value& value() const {
      return *reinterpret_cast<Value*>(c_.leaf + c_.values_offset + c_.index * sizeof(V));
    }
    reference operator*() const { return {key(), value()}; }
    pointer operator->() const { return {{key(), value()}}; }
    basic_iterator& operator++() {
      detail::btree_advance(c_);
      return *this;
    }
    basic_iterator operator++(int) {
      basic_iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const basic_iterator& a, const basic_iterator& b) {
      return a.c_ == b.c_;
    }
    const detail::btree_cursor& cursor() const { return c_; }

   private:
    friend class map;
    explicit basic_iterator(detail::btree_cursor c) : c_(c) {}
    detail::btree_cursor c_;
  };
  using iterator = basic_iterator<V>;
  using const_iterator = basic_iterator<const V>;

  map() noexcept = default;
  map(const map&) noexcept = default;  // a read-only view of the same tree
  map& operator=(const map&) = delete;

  size_type size() const noexcept { return rep_.size; }
  bool empty() const noexcept { return rep_.size == 0; }

  iterator begin() { return iterator(detail::btree_begin(rep_, traits())); }
  iterator end() { return iterator(); }
  const_iterator begin() const { return const_iterator(detail::btree_begin(rep_, traits())); }
  const_iterator end() const { return const_iterator(); }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }

  iterator find(const lookup& k) { return iterator(detail::btree_find(rep_, traits(), &k)); }
  const_iterator find(const lookup& k) const {
    return const_iterator(detail::btree_find(rep_, traits(), &k));
  }
  bool contains(const lookup& k) const { return find(k) != end(); }
  size_type count(const lookup& k) const { return contains(k) ? 1 : 0; }
  iterator lower_bound(const lookup& k) {
    return iterator(detail::btree_lower_bound(rep_, traits(), &k));
  }
  const_iterator lower_bound(const lookup& k) const {
    return const_iterator(detail::btree_lower_bound(rep_, traits(), &k));
  }
  iterator upper_bound(const lookup& k) {
    return iterator(detail::btree_upper_bound(rep_, traits(), &k));
  }
  const_iterator upper_bound(const lookup& k) const {
    return const_iterator(detail::btree_upper_bound(rep_, traits(), &k));
  }

  // Throws not_found when the key is absent (as the value model's dict).
  V& at(const lookup& k) { return at_cursor(detail::btree_find(rep_, traits(), &k)).value(); }
  const V& at(const lookup& k) const {
    return const_iterator(at_cursor(detail::btree_find(rep_, traits(), &k))).value();
  }

  // The value of `k`, value-initialised in place when the key is new.
  V& operator[](const lookup& k) {
    V& v = try_emplace(k).first.value();
    if (detail::in_transaction_on(detail::pool_holding(this))) tx_snapshot(&v);
    return v;
  }

  // Inserts (k, v) unless k is present; the bool says whether it did.
  // Throws invalid_argument when V owns storage and is copied in (a
  // container, a struct holding one): build it in place with try_emplace
  // or operator[].
  std::pair<iterator, bool> insert(const lookup& k, value_input v) {
    refuse_value_copy();
    return result(detail::btree_insert(rep_, traits(), &k, &v, false));
  }
  // Inserts (k, v), or replaces the value of a present k (the old value's
  // storage is released). Refuses copies as insert does.
  std::pair<iterator, bool> insert_or_assign(const lookup& k, value_input v) {
    refuse_value_copy();
    return result(detail::btree_insert(rep_, traits(), &k, &v, true));
  }
  // Inserts k with a value-initialised value unless k is present.
  std::pair<iterator, bool> try_emplace(const lookup& k) {
    return result(detail::btree_insert(rep_, traits(), &k, nullptr, false));
  }

  // Removes k (releasing its key and value); returns how many were removed.
  size_type erase(const lookup& k) { return detail::btree_erase(rep_, traits(), &k); }
  void clear() { detail::btree_clear(rep_, traits()); }

  // "" when the tree keeps its invariants, else the first problem found.
  std::string check_invariants() const { return detail::btree_check(rep_, traits()); }

  static const detail::btree_traits& traits() {
    static const detail::btree_traits t = [] {
      detail::btree_traits r;
      detail::btree_key_ops<K>::fill(r);
      detail::btree_value_ops<V>::fill(r);
      r.container = &detail::descriptor_of<map>;
      return r;
    }();
    return t;
  }

 private:
  static constexpr std::uint32_t keys_offset = detail::btree_keys_offset(alignof(K));

  // A value that owns storage copied in would give it two owners (its
  // buffer freed twice); strings go in as std::string_view instead.
  static void refuse_value_copy() {
    if constexpr (std::is_same_v<value_input, const V&>) {
      static const bool owns = detail::owns_storage(detail::descriptor_of<V>());
      if (owns) {
        fail(error_code::invalid_argument,
             detail::descriptor_of<map>().name +
                 ": the value type owns storage and cannot be copied into the map (two owners "
                 "would share it); use try_emplace(key) or map[key] to build it in place, then "
                 "fill it");
      }
    }
  }
  static std::pair<iterator, bool> result(const detail::btree_insert_result& r) {
    return {iterator(r.at), r.inserted};
  }
  static iterator at_cursor(const detail::btree_cursor& c) {
    if (c.leaf == nullptr) {
      fail(error_code::not_found,
           "map::at: the key is not in the map; use find() or "
           "contains() to test for a key first");
    }
    return iterator(c);
  }

  detail::btree_rep rep_{};
};

namespace detail {
template <class K, class V>
struct describe<map<K, V>> {
  static const type_descriptor& get() {
    static_assert(std::is_trivially_copyable_v<map<K, V>>);
    static_assert(std::is_standard_layout_v<map<K, V>>);
    static_assert(sizeof(map<K, V>) == sizeof(btree_rep));
    static const type_descriptor d = [] {
      type_descriptor r;
      r.name = "ferrite.map<" + descriptor_of<K>().name + "," + descriptor_of<V>().name + ">";
      r.kind = type_kind::container;
      r.subkind = static_cast<std::uint8_t>(container_kind::map);
      r.size = sizeof(map<K, V>);
      r.align = alignof(map<K, V>);
      r.key = &descriptor_of<K>;
      r.value = &descriptor_of<V>;
      r.release = [](pool_impl& p, void* obj) {
        btree_release(p, *static_cast<btree_rep*>(obj), map<K, V>::traits());
      };
      return r;
    }();
    return d;
  }
};
}  // namespace detail

}  // namespace ferrite
