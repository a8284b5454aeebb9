// Built-in workload on the typed layer's core: typed-objects.
//
// The pool's root is a FERRITE_TYPE struct holding a title (ferrite::string)
// and the head of a singly linked list of items made with pool.make<item>,
// each with a key and a ferrite::string text, linked through pptr. An
// operation inserts items (make, assign the text, link), erases them
// (unlink, pool.destroy, which frees the text's buffer), assigns, appends,
// clears and resets texts and the title, changes keys: one string
// operation on its own (atomic), or one to four steps in a transaction
// (sometimes a nested one), or in a transaction that throws (aborted: the
// pool and the model are left as they were). The first transaction
// creates the root inside it; when it aborts there is no root.
//
// Model: std::string title, std::vector of {key, std::string}, and the
// count of committed transactions (kept in the root with its complement).
// A type's first use in a pool commits its type-table record before the
// operation's transaction: schema, invisible to check(), which reads data.
//
// Invariants, in every state: the root's count equals the list's length;
// every list node is a live crash.TypedItem, every string holds its
// invariants, no object is reached twice, and the heap holds exactly the
// objects reached (root, items, string buffers): no leak.
//
// Built on typed::skeleton (typed_skeleton.h): modes, commit counter, root
// and no-leak checks are the skeleton's; compare() also checks what the
// API reads on the handle that owns the pool's pointers.
#include <string>
#include <vector>

#include "ferrite/types/string.h"
#include "tools/crash/workloads/builtin.h"
#include "tools/crash/workloads/typed_skeleton.h"

namespace ferrite::crash::typed_objects_workload {

struct item {
  std::int64_t key;
  ferrite::string text;
  pptr<item> next;
};
FERRITE_TYPE(item, "crash.TypedItem", key, text, next)

struct root {
  std::uint64_t commits;  // typed::commit_counter
  std::uint64_t complement;
  std::uint64_t count;  // items in the list
  ferrite::string title;
  pptr<item> head;
};
FERRITE_TYPE(root, "crash.TypedRoot", commits, complement, count, title, head)

namespace {

enum class step_kind {
  insert,
  erase,
  assign,
  append,
  clear,
  reset,
  rekey,
  title_assign,
  title_append,
  title_reset
};
using typed::tx_mode;

struct step {
  step_kind kind;
  std::size_t pos = 0;  // item index
  std::int64_t key = 0;
  std::string text;
};

struct model_item {
  std::int64_t key;
  std::string text;
};

struct state {
  std::string title;
  std::vector<model_item> items;
  std::uint64_t erased = 0;  // items erased so far, for end_of_run

  void apply(const step& s) {
    const auto at = items.begin() + static_cast<std::ptrdiff_t>(s.pos);
    switch (s.kind) {
      case step_kind::insert:
        items.insert(at, {s.key, s.text});
        break;
      case step_kind::erase:
        items.erase(at);
        erased += 1;
        break;
      case step_kind::assign:
        at->text = s.text;
        break;
      case step_kind::append:
        at->text += s.text;
        break;
      case step_kind::clear:
      case step_kind::reset:
        at->text.clear();
        break;
      case step_kind::rekey:
        at->key = s.key;
        break;
      case step_kind::title_assign:
        title = s.text;
        break;
      case step_kind::title_append:
        title += s.text;
        break;
      case step_kind::title_reset:
        title.clear();
        break;
    }
  }
};

constexpr std::size_t max_items = 12;

// Texts are short (0-14 letters) or long (230-238), and appends stop at
// max_appended_text bytes: string buffers then use three size classes
// (capacities 15, 30 and 230-238), items and the root two more, and the
// allocator keeps a chunk for every size class it ever used (a 2 MiB pool
// has 5 free chunks), however many operations the process kills run.
constexpr std::size_t max_appended_text = 30;

// 0-14 letters, or (one time in six) 230-238.
std::string random_text(std::mt19937_64& rng) {
  if (rng() % 6 != 0) return typed::letters(rng, rng() % 15);
  return typed::letters(rng, 230 + rng() % 9);
}

class typed_model final : public typed::skeleton<typed_model, root, state, step> {
 public:
  using skeleton::skeleton;

  std::string end_of_run(const pool&) const override {
    if (state_.erased == 0) return "no item was erased (destroy never ran)";
    return {};
  }

  typed::plan<step> plan_of(std::uint64_t op) const;
  static void perform_step(pool& p, root& r, const step& s, tx_mode);
  std::string compare(image_view& v, const root& r) const;
  std::string walk(image_view& v, const root& r) const;
};

typed::plan<step> typed_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  typed::plan<step> pl;
  // Every fourth operation erases first (a committed destroy in every run);
  // atomic calls need the root made.
  const bool erase_first = op % 4 == 3 && !state_.items.empty();
  const std::size_t n = pl.pick(rng, has_root_, erase_first);
  // Planned on a copy of the model, so that later steps see earlier ones.
  state st = state_;
  for (std::size_t i = 0; i < n; ++i) {
    step s;
    const std::uint64_t k = rng() % 16;
    if (pl.how == tx_mode::atomic) {  // one string operation, atomic on its own
      s.kind = st.items.empty() || k < 4
                   ? (k % 2 ? step_kind::title_assign : step_kind::title_append)
               : k < 10 ? step_kind::assign
               : k < 14 ? step_kind::append
                        : (k % 2 ? step_kind::clear : step_kind::reset);
    } else if (erase_first && i == 0) {
      s.kind = step_kind::erase;
    } else if (st.items.empty() || (st.items.size() < max_items && k < 6)) {
      s.kind = step_kind::insert;
    } else if (k < 9) {
      s.kind = step_kind::erase;
    } else {
      static constexpr step_kind others[] = {
          step_kind::assign, step_kind::append, step_kind::clear,        step_kind::rekey,
          step_kind::reset,  step_kind::assign, step_kind::title_assign, step_kind::title_reset};
      s.kind = others[k - 9 < 7 ? k - 9 : 7];
    }
    if (s.kind == step_kind::insert) {
      s.pos = rng() % (st.items.size() + 1);
    } else if (!st.items.empty()) {
      s.pos = rng() % st.items.size();
    }
    s.key = static_cast<std::int64_t>(rng() % 1000) - 500;
    if (s.kind == step_kind::append || s.kind == step_kind::title_append) {
      s.text = typed::letters(rng, 1 + rng() % 8);
      const std::string& to = s.kind == step_kind::append ? st.items[s.pos].text : st.title;
      if (to.size() + s.text.size() > max_appended_text) {  // assign instead
        s.kind = s.kind == step_kind::append ? step_kind::assign : step_kind::title_assign;
      }
    }
    if (s.kind == step_kind::assign || s.kind == step_kind::title_assign ||
        s.kind == step_kind::insert) {
      s.text = random_text(rng);
    }
    st.apply(s);
    pl.steps.push_back(std::move(s));
  }
  return pl;
}

void typed_model::perform_step(pool& p, root& r, const step& s, tx_mode) {
  // The link that points at item s.pos (r.head or the previous next).
  pptr<item>* link = &r.head;
  for (std::size_t i = 0; i < s.pos && *link; ++i) link = &(*link)->next;
  switch (s.kind) {
    case step_kind::insert: {
      pptr<item> n = p.make<item>(s.key, ferrite::string(), *link);
      n->text = s.text;  // a new object: the transaction covers it
      tx_snapshot(link);
      *link = n;
      tx_snapshot(&r.count);
      r.count += 1;
      return;
    }
    case step_kind::erase: {
      const pptr<item> gone = *link;
      tx_snapshot(link);
      *link = gone->next;
      tx_snapshot(&r.count);
      r.count -= 1;
      p.destroy(gone);  // frees the text's buffer too
      return;
    }
    case step_kind::assign:
      (*link)->text = s.text;
      return;
    case step_kind::append:
      (*link)->text += s.text;
      return;
    case step_kind::clear:
      (*link)->text.clear();
      return;
    case step_kind::reset:
      (*link)->text.reset();
      return;
    case step_kind::rekey:
      tx_snapshot(&(*link)->key);
      (*link)->key = s.key;
      return;
    case step_kind::title_assign:
      r.title = s.text;
      return;
    case step_kind::title_append:
      r.title += s.text;
      return;
    case step_kind::title_reset:
      r.title.reset();
      return;
  }
}

std::string typed_model::compare(image_view& v, const root& r) const {
  const std::vector<model_item>& items = state_.items;
  if (r.count != items.size()) {
    return "the root counts " + std::to_string(r.count) + " items, the model " +
           std::to_string(items.size());
  }
  const bool api = v.owns_pointers();  // the API reads this pool too
  if (const std::string t = v.text(r.title); t != state_.title) {
    return "the title has " + std::to_string(t.size()) + " bytes " + typed::shown(t) +
           ", the model's " + std::to_string(state_.title.size()) + " " +
           typed::shown(state_.title);
  }
  if (api && r.title.view() != state_.title) {
    return "string::view() of the title differs from its bytes";
  }
  pptr<item> next = r.head;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const item* it = v.get(next);
    const std::string where = "item " + std::to_string(i) + ": ";
    if (!it) return where + "missing (the list ends early)";
    if (it->key != items[i].key) {
      return where + "key " + std::to_string(it->key) + ", the model's " +
             std::to_string(items[i].key);
    }
    if (const std::string t = v.text(it->text); t != items[i].text) {
      return where + "text of " + std::to_string(t.size()) + " bytes, the model's " +
             std::to_string(items[i].text.size());
    }
    if (api && (next.get() != it || it->text.view() != items[i].text)) {
      return where + "the API reads other bytes than the pool holds";
    }
    next = it->next;
  }
  if (next) return "the list goes on past the model's " + std::to_string(items.size()) + " items";
  return "";
}

std::string typed_model::walk(image_view& v, const root& r) const {
  v.text(r.title);
  std::uint64_t length = 0;
  for (pptr<item> n = r.head; n; ++length) {
    const item* it = v.get(n);  // throws on a second visit: no cycle
    v.text(it->text);
    n = it->next;
  }
  if (length != r.count) {
    return "the list holds " + std::to_string(length) + " items, the root counts " +
           std::to_string(r.count);
  }
  return "";
}

}  // namespace
}  // namespace ferrite::crash::typed_objects_workload

namespace ferrite::crash::builtin {

workload_info typed_objects() {
  workload_info w = typed::info<typed_objects_workload::typed_model>(
      "typed-objects",
      "a FERRITE_TYPE root, a list of pool.make objects linked by pptr, ferrite::string "
      "assign/append/reset, pool.destroy, aborted and nested transactions");
  w.pool_sizes = {2ull << 20};  // see max_appended_text
  w.quick_ops = 12;
  w.long_ops = 60;
  return w;
}

}  // namespace ferrite::crash::builtin
