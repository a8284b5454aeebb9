// Reference counts of value payloads (docs/gc.md, "Reference counts").
//
// Invariants, at every commit (and so in every durable image):
//  1. The count at offset 0 of an out-of-line payload equals the number of
//     cells in the pool's allocated objects holding its pointer. The
//     transaction that changes a cell changes the count in the same record
//     (retain/drop snapshot it like any other byte), so abort restores both
//     and a crash sees both or neither.
//  2. A payload whose count is zero at commit is freed by that commit
//     (release_unreferenced), and the references its own cells hold are
//     dropped by it too. Candidates are kept in a list, not followed by
//     recursion, so a long chain of nested values costs no C stack.
//  3. A count is never decremented below zero and a payload is freed at most
//     once per commit: a count found at zero when a reference is dropped is
//     damage (left for the collector, which recomputes counts) rather than a
//     reason to free.
// Cycles keep counts above zero; pool::gc() frees them and recomputes the
// counts of what it keeps (engine/detail/gc.cc).
#include <cstring>
#include <type_traits>
#include <unordered_set>

#include "ferrite/engine/object_ops.h"
#include "ferrite/types/detail/value_internal.h"

namespace ferrite::detail {
namespace {

std::uint64_t* count_of(pool_impl& p, const value_cell_rep& r) {
  return static_cast<std::uint64_t*>(payload_of(&p, r)) + value_refs_offset / 8;
}

// The work one transaction's release does at most (references dropped and
// payloads freed, each a count update or a free in the record): a value
// tree larger than this is freed over several transactions.
constexpr std::uint64_t release_budget = 4096;

// Releases the payload of `r` (count zero): drops the references its cells
// hold (those reaching zero become candidates) and frees it. A container
// with more items than `budget` drops only its last `budget` items (the
// container shrinks) and returns false: it stays a candidate. Adds the
// work done to `spent`.
bool release_payload(pool_impl& p, const value_cell_rep& r, std::uint64_t budget,
                     std::uint64_t& spent) {
  void* target = payload_of(&p, r);
  std::uint64_t items = 0;
  switch (static_cast<value_kind>(r.kind)) {
    case value_kind::tuple:
    case value_kind::frozenset: {
      // Immutable: its cells are dropped all at once (a tuple is built in
      // one transaction, so it fits one).
      items = value_length(r);
      const auto* cells = reinterpret_cast<const value_cell*>(static_cast<std::byte*>(target) +
                                                              value_payload_header);
      for (std::uint64_t i = 0; i < items; ++i) drop(p, cells[i].rep());
      break;
    }
    case value_kind::list: {
      auto& v = static_cast<list_rep*>(target)->items;
      for (const value_cell& c : v) items += has_payload(c.rep()) ? 1 : 0;
      if (items > budget) {  // drop the last `budget` references
        std::uint64_t from = v.size(), named = 0;
        while (from > 0 && named < budget) named += has_payload(v[--from].rep()) ? 1 : 0;
        v.erase(from, v.size());
        spent += budget;
        return false;
      }
      release_storage(p, descriptor_of<vector<value_cell>>(), &v);
      break;
    }
    case value_kind::dict:
    case value_kind::object:
    case value_kind::set: {
      const bool is_set = static_cast<value_kind>(r.kind) == value_kind::set;
      void* map = is_set ? static_cast<void*>(&static_cast<set_rep*>(target)->items)
                  : static_cast<value_kind>(r.kind) == value_kind::dict
                      ? static_cast<void*>(&static_cast<dict_rep*>(target)->items)
                      : static_cast<void*>(&static_cast<object_rep*>(target)->attributes);
      auto shrink = [&](auto& m) {
        for (auto it = m.begin(); it != m.end(); ++it) {
          items += has_payload(it.key().rep()) ? 1 : 0;
          if constexpr (std::is_same_v<std::remove_reference_t<decltype(m)>, value_map>) {
            items += has_payload(it.value().rep()) ? 1 : 0;
          }
        }
        if (items <= budget) return true;
        auto it = m.begin();
        for (std::uint64_t i = 0; i < budget / 2 && it != m.end(); ++i) it = m.erase(it);
        return false;
      };
      const bool whole =
          is_set ? shrink(*static_cast<member_map*>(map)) : shrink(*static_cast<value_map*>(map));
      if (!whole) {
        spent += budget;
        return false;
      }
      if (is_set) {
        release_storage(p, descriptor_of<member_map>(), map);
      } else {
        release_storage(p, descriptor_of<value_map>(), map);
      }
      break;
    }
    default:  // str, bytes, encoded: text only
      break;
  }
  tx_free(p, target);
  spent += 1 + items;
  return true;
}

// The commit's release step (tx_release_at_commit): frees every candidate
// still at zero, and those their frees add, until the budget is spent;
// what is left stays in `candidates` for a follow-up transaction.
void release_unreferenced(pool_impl& p, std::vector<unreferenced_payload>& candidates) {
  std::unordered_set<std::uint64_t> freed;
  std::uint64_t spent = 0;
  while (!candidates.empty() && spent < release_budget) {
    value_cell_rep r;
    std::memcpy(&r, candidates.back().cell, sizeof r);
    // Retained again, seen, or pinned by a volatile holder (value_pin:
    // freed when its last pin goes, release_if_unreferenced).
    if (*count_of(p, r) != 0 || freed.count(r.payload) || is_pinned(p, r.payload)) {
      candidates.pop_back();
      continue;
    }
    // Its own cells may add candidates behind it: take it off first.
    candidates.pop_back();
    if (release_payload(p, r, release_budget - spent, spent)) {
      freed.insert(r.payload);
    } else {
      unreferenced_payload again;
      std::memcpy(again.cell, &r, sizeof r);
      candidates.insert(candidates.begin(), again);  // the rest in a later transaction
    }
  }
}

}  // namespace

void retain(pool_impl& p, const value_cell_rep& r) {
  if (!has_payload(r)) return;
  std::uint64_t* refs = count_of(p, r);
  tx_snapshot(refs, sizeof *refs);
  ++*refs;
}

void drop(pool_impl& p, const value_cell_rep& r) {
  if (!has_payload(r)) return;
  std::uint64_t* refs = count_of(p, r);
  if (*refs == 0) return;  // invariant 3
  tx_snapshot(refs, sizeof *refs);
  if (--*refs == 0) tx_release_at_commit(p, &r, &release_unreferenced);
}

void store_cell(pool_impl& p, value_cell* dest, const value_cell_rep& r) {
  value_cell_rep old;
  std::memcpy(&old, dest, sizeof old);
  tx_snapshot(dest, sizeof(value_cell));
  std::memcpy(static_cast<void*>(dest), &r, sizeof r);
  retain(p, r);
  drop(p, old);
}

void retain_cell(pool_impl& p, const value_cell& c) {
  check_pointer(p, has_payload(c.rep()) ? c.rep().payload : 0,
                "a value stored into this pool (values of another pool cannot be shared)");
  retain(p, c.rep());
}

void drop_cell(pool_impl& p, const value_cell& c) {
  drop(p, c.rep());
}

}  // namespace ferrite::detail

namespace ferrite {

using detail::has_payload;

value pin_payload(const value& v) {
  const value_cell& c = v.cell();
  if (v.pool() && has_payload(c.rep())) {
    detail::pin_cell(*v.pool(), &c.rep(), detail::cell_target(v.pool(), c));
  }
  return detail::detached(v.pool(), c);
}

bool unpin_payload(const value& v) {
  const value_cell& c = v.cell();
  if (!v.pool() || !has_payload(c.rep())) return false;
  detail::pool_impl& p = *v.pool();
  return detail::unpin_cell(p, detail::cell_target(&p, c)) && *detail::count_of(p, c.rep()) == 0;
}

void release_if_unreferenced(const value& v) {
  const value_cell& c = v.cell();
  if (!v.pool() || !has_payload(c.rep())) return;
  detail::pool_impl& p = *v.pool();
  detail::atomically(p, [&] {
    if (*detail::count_of(p, c.rep()) != 0 || detail::is_pinned(p, c.rep().payload)) return;
    detail::tx_release_at_commit(p, &c.rep(), &detail::release_unreferenced);
  });
}

}  // namespace ferrite
