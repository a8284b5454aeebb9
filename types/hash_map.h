// ferrite::hash_map<K, V> — an unordered map in a pool.
//
//   struct registry {
//     ferrite::hash_map<ferrite::string, std::int64_t> scores;
//     ferrite::hash_map<std::int64_t, ferrite::vector<std::int64_t>> moves;
//   };
//   FERRITE_TYPE(registry, "game.Registry", scores, moves)
//
//   auto r = pool.root<registry>();
//   r->scores.insert_or_assign("ada", 10);      // atomic on its own
//   if (auto it = r->scores.find("ada"); it != r->scores.end()) use(it->second);
//   pool.transaction([&] {                        // or several in one transaction
//     r->scores.erase("bob");
//     r->moves[7].push_back(3);                   // the vector is built in place
//   });
//   for (auto [name, score] : r->scores) ...      // order unspecified
//
// Like std::unordered_map, with these differences:
// - Keys (key_traits<K>, element.h): integers, enums, pptr, structs without
//   padding, or ferrite::string. String keys go in as std::string_view and
//   are looked up by std::string_view (no ferrite::string needed). Hashes
//   are stable (XXH3), never std::hash: buckets are persistent.
// - Values V that own storage (ferrite::string, containers, structs holding
//   them) are built in place: strings from a std::string_view
//   (insert(k, "text")), containers default-constructed by try_emplace(k)
//   or m[k]. Copying one in (insert(k, v) with v such a value) throws
//   invalid_argument.
// - Iterators yield a hash_map_entry {const K& first; V& second;} by value
//   (write `for (auto [k, v] : m)` or `auto&&`); it->first works too.
//   V& points into the pool: change a plain V through it only inside a
//   transaction after tx_snapshot (or use insert_or_assign; operator[]
//   snapshots for you inside a transaction); containers in V snapshot for
//   themselves.
// - References stay valid until their element is erased (nodes never move
//   in memory). Iterators are invalidated by inserts (which may split a
//   bucket, as a rehash does in std), not by erasing other elements.
//
// Mutating calls must be made on the map in the pool (not on a copy in
// volatile memory: they throw invalid_argument); each is atomic on its own
// and joins the transaction the thread runs on that pool. Copy assignment is
// deleted (two maps would share nodes); the copy constructor gives a
// read-only view.
//
// Layout and growth (container_format.h, hash_map_rep): linear hashing with
// load factor 1. An insert adds one node and, when size would exceed the
// number of buckets, splits one bucket (bucket_count() grows by one): bounded
// work and log space per insert, whatever the size. Erase never shrinks the
// table; clear() frees everything. The insert that first needs 8K (16K)
// buckets allocates a 64 KiB (128 KiB) bucket segment, logged with it, so
// that transaction needs a log over 256 KiB (the default for pools over
// 4 MiB); larger segments are not logged.
//
// clear() and destroying the owner: inside a transaction they free every
// node in that transaction, whose log (about 24 bytes per node, more with
// string keys or values) must fit in half the pool's log. clear() called
// outside a transaction frees the nodes in transactions of at most
// hash_clear_piece nodes: a crash in the middle leaves a map holding a
// subset of its elements (call clear() again).
//
// Thread-safety: like std::unordered_map (concurrent reads, or one writer).
// Lookups take no lock and allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "ferrite/base/format/container_format.h"
#include "ferrite/types/element.h"
#include "ferrite/types/hash_map_core.h"

namespace ferrite {

// What a hash_map iterator yields: references to one element's key and
// value, in the pool.
template <class K, class V>
struct hash_map_entry {
  const K& first;
  V& second;
};

template <class K, class V>
class hash_map {
  using key_input = typename element_traits<K>::input;
  using value_input = typename element_traits<V>::input;

 public:
  using ferrite_container_handle = void;  // engine/pptr.h: no pptr<void> to a container
  using key_type = K;
  using mapped_type = V;
  using lookup_type = typename key_traits<K>::lookup;  // what find/erase/at take
  using size_type = std::size_t;

  template <bool Const>
  class basic_iterator;
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;

  hash_map() noexcept = default;
  hash_map(const hash_map&) noexcept = default;  // a read-only view of the same nodes
  hash_map& operator=(const hash_map&) = delete;

  size_type size() const noexcept { return rep_.size; }
  bool empty() const noexcept { return rep_.size == 0; }
  // Buckets in use (grows by one per split).
  size_type bucket_count() const noexcept { return detail::hash_map_bucket_count(rep_); }

  iterator begin() { return first<false>(); }
  iterator end() { return {}; }
  const_iterator begin() const { return first<true>(); }
  const_iterator end() const { return {}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }

  iterator find(const lookup_type& k) { return at_node<false>(find_node(k)); }
  const_iterator find(const lookup_type& k) const { return at_node<true>(find_node(k)); }
  bool contains(const lookup_type& k) const { return find_node(k) != nullptr; }
  size_type count(const lookup_type& k) const { return contains(k) ? 1 : 0; }
  // Throws not_found when k is absent (as the value model's dict).
  V& at(const lookup_type& k) { return value_at(existing(k)); }
  const V& at(const lookup_type& k) const { return value_at(existing(k)); }

  // The value of k, default-constructed in place first when k is absent.
  // Inside a transaction the value is snapshotted for you (so `m[k] += 1`
  // is part of it); outside one, snapshot it or use insert_or_assign.
  V& operator[](key_input k) {
    V& v = try_emplace(k).first->second;
    if (detail::in_transaction_on(detail::pool_holding(this))) tx_snapshot(&v);
    return v;
  }
  // Adds k with a default-constructed value unless k is present; `second`
  // says whether it was added.
  std::pair<iterator, bool> try_emplace(key_input k) {
    return emplace_with(k, [](detail::pool_impl&, V* v) { ::new (static_cast<void*>(v)) V{}; });
  }
  // Adds (k, v) unless k is present (then changes nothing).
  std::pair<iterator, bool> insert(key_input k, value_input v) {
    refuse_value_copy();
    return emplace_with(
        k, [&](detail::pool_impl& p, V* dest) { element_traits<V>::construct(p, dest, v); });
  }
  // Adds (k, v), or replaces the value of k (releasing the old one).
  std::pair<iterator, bool> insert_or_assign(key_input k, value_input v);

  // Removes k (releasing its key's and value's storage); returns 0 or 1.
  size_type erase(const lookup_type& k);
  // Removes the element at `pos` (REQUIRES: an element of this map); returns
  // the iterator after it.
  iterator erase(const_iterator pos);
  // Removes every element and frees all storage (see the banner for the
  // size of one transaction).
  void clear();

 private:
  struct node {
    std::uint64_t next;
    std::uint64_t hash;
    K key;
    V value;
  };
  static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>,
                "hash_map keys and values must be persistent types");
  static_assert(std::is_standard_layout_v<node>,
                "hash_map keys and values must be standard-layout");

  static void release_node(detail::pool_impl& p, void* n) {
    node* x = static_cast<node*>(n);
    element_traits<K>::release(p, &x->key);
    element_traits<V>::release(p, &x->value);
  }
  friend struct detail::describe<hash_map>;
  // The descriptor's release: frees everything the map at `obj` owns.
  static void free_storage(detail::pool_impl& p, void* obj) {
    detail::hash_map_release_all(p, *static_cast<detail::hash_map_rep*>(obj), layout());
  }
  static const detail::hash_map_layout& layout() {
    static const detail::hash_map_layout l = [] {
      detail::hash_map_layout r{};
      r.node_size = sizeof(node);
      r.node_align = alignof(node) < 8 ? 8 : alignof(node);
      r.map_type = &detail::descriptor_of<hash_map>;
      const bool owns = detail::owns_storage(detail::descriptor_of<K>()) ||
                        detail::owns_storage(detail::descriptor_of<V>());
      r.release_node = owns ? &release_node : nullptr;
      return r;
    }();
    return l;
  }
  // Keys that own storage must be built by their element_traits (strings).
  static void refuse_key_copy() {
    if constexpr (std::is_same_v<key_input, const K&>) {
      static const bool owns = detail::owns_storage(detail::descriptor_of<K>());
      if (owns) detail::hash_map_refuse_copy(detail::descriptor_of<hash_map>(), "the key type");
    }
  }
  static void refuse_value_copy() {
    if constexpr (std::is_same_v<value_input, const V&>) {
      static const bool owns = detail::owns_storage(detail::descriptor_of<V>());
      if (owns) detail::hash_map_refuse_copy(detail::descriptor_of<hash_map>(), "the value type");
    }
  }

  // Inline, so that the key comparison is too.
  detail::hash_node_header* find_node(const lookup_type& k) const {
    return find_node(k, key_traits<K>::hash(k));
  }
  detail::hash_node_header* find_node(const lookup_type& k, std::uint64_t h) const {
    // pptr<node>: each node is checked whole (it lies in the heap, aligned).
    for (node* n = pptr<node>::from_raw(detail::hash_map_chain(rep_, h)).get(); n != nullptr;
         n = pptr<node>::from_raw(n->next).get()) {
      if (n->hash == h && key_traits<K>::equal(n->key, k)) {
        return reinterpret_cast<detail::hash_node_header*>(n);
      }
    }
    return nullptr;
  }
  node* existing(const lookup_type& k) const {
    detail::hash_node_header* n = find_node(k);
    if (!n) detail::hash_map_missing_key();
    return reinterpret_cast<node*>(n);
  }
  static V& value_at(node* n) { return n->value; }
  template <bool Const>
  basic_iterator<Const> at_node(detail::hash_node_header* n) const {
    if (!n) return {};
    return {&rep_, reinterpret_cast<node*>(n), detail::hash_map_bucket_of(rep_, n->hash)};
  }
  template <bool Const>
  basic_iterator<Const> first() const {
    std::uint64_t bucket = 0;
    detail::hash_node_header* n = detail::hash_map_first_from(rep_, bucket, layout());
    if (!n) return {};
    return {&rep_, reinterpret_cast<node*>(n), bucket};
  }

  // Finds k or adds it, building the new value with build(pool, V*).
  template <class Build>
  std::pair<iterator, bool> emplace_with(key_input k, Build&& build);

  detail::hash_map_rep rep_{};
};

template <class K, class V>
template <bool Const>
class hash_map<K, V>::basic_iterator {
  using mapped = std::conditional_t<Const, const V, V>;

 public:
  using iterator_concept = std::forward_iterator_tag;
  using iterator_category = std::input_iterator_tag;  // yields a proxy, not a reference
  using value_type = hash_map_entry<K, mapped>;
  using reference = hash_map_entry<K, mapped>;
  using difference_type = std::ptrdiff_t;
  struct pointer {
    reference entry;
    const reference* operator->() const { return &entry; }
  };

  basic_iterator() noexcept = default;
  // iterator -> const_iterator
  template <bool C = Const, class = std::enable_if_t<C>>
  basic_iterator(
      const basic_iterator<false>& other) noexcept  // NOLINT(google-explicit-constructor)
      : rep_(other.rep_), node_(other.node_), bucket_(other.bucket_) {}

  reference operator*() const { return {node_->key, node_->value}; }
  pointer operator->() const { return {**this}; }
  const K& key() const { return node_->key; }
  mapped& value() const { return node_->value; }

  basic_iterator& operator++() {
    node_ = reinterpret_cast<node*>(detail::hash_map_advance(
        *rep_, reinterpret_cast<const detail::hash_node_header*>(node_), bucket_, layout()));
    return *this;
  }
  basic_iterator operator++(int) {
    basic_iterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const basic_iterator& a, const basic_iterator& b) noexcept {
    return a.node_ == b.node_;
  }

 private:
  friend class hash_map;
  friend class basic_iterator<!Const>;
  basic_iterator(const detail::hash_map_rep* rep, node* n, std::uint64_t bucket) noexcept
      : rep_(rep), node_(n), bucket_(bucket) {}

  const detail::hash_map_rep* rep_ = nullptr;
  node* node_ = nullptr;  // null: end
  std::uint64_t bucket_ = 0;
};

template <class K, class V>
template <class Build>
std::pair<typename hash_map<K, V>::iterator, bool> hash_map<K, V>::emplace_with(key_input k,
                                                                                Build&& build) {
  refuse_key_copy();
  detail::pool_impl& p = detail::pool_holding(this);
  const lookup_type probe = k;
  const std::uint64_t h = key_traits<K>::hash(probe);
  const detail::hash_map_layout& l = layout();
  detail::hash_map_prefetch_split(rep_);
  return detail::atomically(p, [&]() -> std::pair<iterator, bool> {
    if (detail::hash_node_header* found = find_node(probe, h)) {
      return {at_node<false>(found), false};
    }
    node* n = reinterpret_cast<node*>(detail::hash_map_new_node(p, l));
    bool key_built = false;
    try {
      element_traits<K>::construct(p, &n->key, k);
      key_built = true;
      build(p, &n->value);
    } catch (...) {
      // Leave the map as it was, even when the caller's transaction goes on.
      try {
        if (key_built) element_traits<K>::release(p, &n->key);
        detail::hash_map_drop_node(p, reinterpret_cast<detail::hash_node_header*>(n));
      } catch (...) {  // the transaction is poisoned: its abort undoes the node
      }
      throw;
    }
    auto* header = reinterpret_cast<detail::hash_node_header*>(n);
    detail::hash_map_link(p, rep_, header, h, l);
    return {at_node<false>(header), true};
  });
}

template <class K, class V>
std::pair<typename hash_map<K, V>::iterator, bool> hash_map<K, V>::insert_or_assign(key_input k,
                                                                                    value_input v) {
  refuse_value_copy();
  detail::pool_impl& p = detail::pool_holding(this);
  const lookup_type probe = k;
  return detail::atomically(p, [&]() -> std::pair<iterator, bool> {
    detail::hash_node_header* found = find_node(probe);
    if (!found) {
      return emplace_with(
          k, [&](detail::pool_impl& q, V* dest) { element_traits<V>::construct(q, dest, v); });
    }
    V* dest = &reinterpret_cast<node*>(found)->value;
    if constexpr (std::is_same_v<value_input, const V&>) {
      // A copied value: check it (pointers stay in the pool) before
      // changing anything, so a refused value leaves the map unchanged.
      alignas(V) unsigned char checked[sizeof(V)];
      element_traits<V>::construct(p, reinterpret_cast<V*>(checked), v);
      tx_snapshot(dest, sizeof(V));
      std::memcpy(static_cast<void*>(dest), checked, sizeof(V));
    } else {
      element_traits<V>::release(p, dest);
      tx_snapshot(dest, sizeof(V));
      element_traits<V>::construct(p, dest, v);
    }
    return {at_node<false>(found), false};
  });
}

template <class K, class V>
typename hash_map<K, V>::size_type hash_map<K, V>::erase(const lookup_type& k) {
  if (rep_.size == 0) return 0;
  detail::pool_impl& p = detail::pool_holding(this);
  const std::uint64_t h = key_traits<K>::hash(k);
  const detail::hash_map_layout& l = layout();
  return detail::atomically(p, [&]() -> size_type {
    detail::hash_node_header* n = find_node(k, h);
    if (!n) return 0;
    detail::hash_map_erase_node(p, rep_, n, l);
    return 1;
  });
}

template <class K, class V>
typename hash_map<K, V>::iterator hash_map<K, V>::erase(const_iterator pos) {
  detail::pool_impl& p = detail::pool_holding(this);
  auto* n = reinterpret_cast<detail::hash_node_header*>(pos.node_);
  const_iterator next = pos;
  ++next;
  detail::atomically(p, [&] { detail::hash_map_erase_node(p, rep_, n, layout()); });
  return {next.rep_, next.node_, next.bucket_};
}

template <class K, class V>
void hash_map<K, V>::clear() {
  if (rep_.segments == 0) return;
  detail::hash_map_clear(detail::pool_holding(this), rep_, layout());
}

namespace detail {
template <class K, class V>
struct describe<hash_map<K, V>> {
  static_assert(std::is_trivially_copyable_v<hash_map<K, V>>);
  static_assert(std::is_standard_layout_v<hash_map<K, V>>);
  static_assert(sizeof(hash_map<K, V>) == sizeof(hash_map_rep));

  static const type_descriptor& get() {
    static const type_descriptor d = [] {
      type_descriptor r;
      r.name = "ferrite.hash_map<" + descriptor_of<K>().name + "," + descriptor_of<V>().name + ">";
      r.kind = type_kind::container;
      r.subkind = static_cast<std::uint8_t>(container_kind::hash_map);
      r.size = sizeof(hash_map<K, V>);
      r.align = alignof(hash_map<K, V>);
      r.key = &descriptor_of<K>;
      r.value = &descriptor_of<V>;
      r.release = &hash_map<K, V>::free_storage;
      return r;
    }();
    return d;
  }
};
}  // namespace detail

}  // namespace ferrite
