"""pool.gc(): what it returns, that unreachable objects (orphans, cycles) are
freed and reachable ones never are."""
import gc as python_gc
import textwrap

import pytest

from ferrite import pmemobj
from ferrite.pmemobj import PersistentDict, PersistentList, PersistentSet
from persistent_classes import Thing


def counts(pool):
    """type_counts after a collection (gc is run twice: the counts of the
    first call may be taken before it frees anything)."""
    pool.gc()
    return pool.gc()[0]


def test_gc_returns_two_dicts(pool):
    result = pool.gc()
    assert isinstance(result, tuple) and len(result) == 2
    type_counts, gc_counts = result
    assert isinstance(type_counts, dict) and isinstance(gc_counts, dict)
    assert isinstance(gc_counts["collections-gced"], int)
    assert isinstance(gc_counts["live"], int)


def test_gc_debug_flag_is_accepted(pool):
    type_counts, gc_counts = pool.gc(debug=True)
    assert "collections-gced" in gc_counts


def test_type_counts_count_containers_and_objects(pool):
    pool.root = pool.new(PersistentList, [pool.new(PersistentList),
                                          pool.new(PersistentDict),
                                          pool.new(PersistentDict),
                                          pool.new(PersistentSet),
                                          pool.new(Thing), pool.new(Thing)])
    c = counts(pool)
    assert c["PersistentList"] == 2
    assert c["PersistentDict"] == 2
    assert c["PersistentSet"] == 1
    assert c["Thing"] == 2


def test_live_count_grows_with_reachable_objects(pool):
    pool.root = pool.new(PersistentList)
    before = pool.gc()[1]["live"]
    for i in range(5):
        pool.root.append(pool.new(PersistentList, [i]))
    assert pool.gc()[1]["live"] >= before + 5


def test_new_pool_collects_nothing(pool):
    assert pool.gc()[1]["collections-gced"] == 0


def test_orphan_from_new_is_collected_by_reopen(pool, reopen):
    pool.root = pool.new(PersistentDict)
    pool.new(PersistentList, [1, 2, 3])          # never stored
    python_gc.collect()
    pool.gc()
    p = reopen(pool)
    c = counts(p)
    assert c.get("PersistentList", 0) == 0
    assert c["PersistentDict"] == 1


def test_orphan_object_from_new_is_collected_by_reopen(pool, reopen):
    pool.new(Thing)
    python_gc.collect()
    p = reopen(pool)
    assert counts(p).get("Thing", 0) == 0


def test_value_freed_when_its_last_reference_goes(pool):
    pool.root = pool.new(PersistentList, [pool.new(PersistentDict)])
    python_gc.collect()
    pool.root = None
    type_counts, gc_counts = pool.gc()
    assert gc_counts["collections-gced"] == 0     # reference counts freed them
    assert type_counts.get("PersistentList", 0) == 0
    assert type_counts.get("PersistentDict", 0) == 0


def make_cycles(pool):
    """root: [self-cycle list, d1]; d1 and d2 name each other."""
    pool.root = pool.new(PersistentList)
    loop = pool.new(PersistentList, ["loop"])
    loop.append(loop)
    d1 = pool.new(PersistentDict)
    d2 = pool.new(PersistentDict)
    d1["other"] = d2
    d2["other"] = d1
    pool.root.append(loop)
    pool.root.append(d1)


def test_reachable_cycles_are_not_collected(pool):
    make_cycles(pool)
    python_gc.collect()
    type_counts, gc_counts = pool.gc()
    assert gc_counts["collections-gced"] == 0
    c = counts(pool)
    assert c["PersistentList"] == 2 and c["PersistentDict"] == 2


def test_unreachable_cycles_are_collected(pool):
    make_cycles(pool)
    pool.root.clear()
    python_gc.collect()
    gc_counts = pool.gc()[1]
    assert gc_counts["collections-gced"] >= 3
    c = counts(pool)
    assert c["PersistentList"] == 1                 # only the root
    assert c.get("PersistentDict", 0) == 0


def test_second_gc_collects_nothing(pool):
    make_cycles(pool)
    pool.root.clear()
    python_gc.collect()
    assert pool.gc()[1]["collections-gced"] > 0
    assert pool.gc()[1]["collections-gced"] == 0


def test_unreachable_cycle_of_objects_is_collected(pool):
    pool.root = pool.new(PersistentList)
    a, b = pool.new(Thing), pool.new(Thing)
    a.peer, b.peer = b, a
    pool.root.append(a)
    del a, b
    pool.root.clear()
    python_gc.collect()
    assert pool.gc()[1]["collections-gced"] >= 2
    assert counts(pool).get("Thing", 0) == 0


def test_reachable_objects_intact_after_gc_and_reopen(pool, reopen):
    make_cycles(pool)
    pool.root.append(pool.new(PersistentSet, ["s"]))
    pool.root.append(pool.new(Thing))
    pool.root[3].attr = pool.new(PersistentList, [1, (2, 3)])
    # Garbage next to it.
    for i in range(20):
        junk = pool.new(PersistentList, [i])
        junk.append(junk)
    del junk
    python_gc.collect()
    for _ in range(3):
        pool.gc()

    def check(p):
        loop, d1, s, t = p.root
        assert loop[0] == "loop" and loop[1] is loop
        assert d1["other"]["other"] is d1
        assert s == {"s"}
        assert t.attr == [1, (2, 3)]

    check(pool)
    p = reopen(pool)
    check(p)
    p.gc()
    check(p)


def test_unreachable_cycle_left_by_a_crash_is_collected_at_open(pool, pool_path,
                                                                 run_python):
    pool.root = pool.new(PersistentList)
    pool.close()
    result = run_python(textwrap.dedent("""
        import os, sys
        from ferrite import pmemobj
        p = pmemobj.open(sys.argv[1])
        a = p.new(pmemobj.PersistentDict)
        b = p.new(pmemobj.PersistentDict)
        a["b"], b["a"] = b, a
        p.root.append(a)
        p.root.clear()                # a and b are now an unreachable cycle
        os._exit(0)                   # no gc, no close
        """), args=[pool_path])
    assert result.returncode == 0, result.stderr
    with pmemobj.open(pool_path) as p:
        assert counts(p).get("PersistentDict", 0) == 0


def test_objects_made_in_an_aborted_transaction_are_not_left(pool):
    pool.root = pool.new(PersistentList)
    with pytest.raises(KeyError):
        with pool.transaction():
            pool.root.append(pool.new(PersistentDict, {"a": 1}))
            pool.new(PersistentSet)
            raise KeyError()
    python_gc.collect()
    c = counts(pool)
    assert c.get("PersistentDict", 0) == 0 and c.get("PersistentSet", 0) == 0


def test_gc_inside_a_transaction_raises(pool):
    pool.root = 1
    with pytest.raises(Exception) as info:
        with pool.transaction():
            pool.root = 2
            pool.gc()
    assert isinstance(info.value, (RuntimeError, OSError))
    assert pool.root == 1         # the transaction was aborted by the error


def test_gc_inside_a_by_hand_transaction_raises(pool):
    t = pool.transaction()
    t.begin()
    try:
        with pytest.raises((RuntimeError, OSError)):
            pool.gc()
    finally:
        try:
            t.abort()
        except (RuntimeError, OSError):
            pass                # the error may already have ended it


def test_gc_while_python_holds_a_popped_tuple(pool):
    pool.root = pool.new(PersistentList, [(1, 2), "kept"])
    held = pool.root.pop(0)            # no persistent reference left
    python_gc.collect()
    pool.gc()
    assert held == (1, 2)
    assert pool.root == ["kept"]


def test_gc_while_python_holds_a_removed_dict_value(pool):
    pool.root = pool.new(PersistentDict, {"t": (1, "a"), "l": pool.new(PersistentList, [1])})
    t, l = pool.root.pop("t"), pool.root.pop("l")
    python_gc.collect()
    pool.gc()
    assert t == (1, "a") and l == [1]
    l.append(2)                    # still a live list of the pool
    pool.root["back"] = l
    assert pool.root["back"] == [1, 2]
