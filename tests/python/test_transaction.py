"""Transactions: commit, abort on exception, by hand, nesting (flattened into
the outermost), errors, and single operations outside any transaction."""
import errno
import textwrap

import pytest

from ferrite import pmemobj
from ferrite.pmemobj import (PersistentDict, PersistentList, PersistentSet,
                             TransactionAborted)
from persistent_classes import Thing


class Boom(Exception):
    pass


def abort(t):
    """t.abort(); the API does not say whether abort() itself raises
    (nvm.pmemobj raised ECANCELED there), so accept either."""
    try:
        t.abort()
    except OSError:
        pass


@pytest.fixture
def tree(pool):
    """root = {'l': [1, 2], 'd': {'a': 1}, 's': {1}, 'o': Thing(x=1)}"""
    with pool.transaction():
        root = pool.root = pool.new(PersistentDict)
        root["l"] = pool.new(PersistentList, [1, 2])
        root["d"] = pool.new(PersistentDict, {"a": 1})
        root["s"] = pool.new(PersistentSet, [1])
        root["o"] = pool.new(Thing)
        root["o"].x = 1
    return pool


def assert_tree_unchanged(pool):
    root = pool.root
    assert sorted(root.keys()) == ["d", "l", "o", "s"]
    assert root["l"] == [1, 2]
    assert root["d"] == {"a": 1}
    assert root["s"] == {1}
    assert root["o"].x == 1
    assert not hasattr(root["o"], "y")


def test_context_manager_commits(pool, reopen):
    with pool.transaction():
        pool.root = pool.new(PersistentList)
        pool.root.append(1)
        pool.root.append("two")
    assert pool.root == [1, "two"]
    assert reopen(pool).root == [1, "two"]


def test_exception_aborts_every_change(tree, reopen):
    root = tree.root
    l, d, s, o = root["l"], root["d"], root["s"], root["o"]
    with pytest.raises(Boom):
        with tree.transaction():
            l.append(3)
            l[0] = 99
            del l[1]
            d["b"] = 2
            del d["a"]
            s.add(2)
            s.discard(1)
            o.x = 2
            o.y = 3
            root["new"] = tree.new(PersistentList, [5])
            del root["s"]
            raise Boom()
    assert_tree_unchanged(tree)
    # The Python objects held across the abort see the rolled-back state.
    assert l == [1, 2] and d == {"a": 1} and s == {1} and o.x == 1
    assert_tree_unchanged(reopen(tree))


def test_exception_is_reraised_unchanged(pool):
    boom = Boom("the message")
    with pytest.raises(Boom) as info:
        with pool.transaction():
            pool.root = 1
            raise boom
    assert info.value is boom


def test_exception_aborts_root_assignment(pool, reopen):
    pool.root = "before"
    with pytest.raises(Boom):
        with pool.transaction():
            pool.root = pool.new(PersistentList, [1])
            raise Boom()
    assert pool.root == "before"
    assert reopen(pool).root == "before"


def test_base_exception_aborts_too(pool):
    pool.root = 1
    with pytest.raises(KeyboardInterrupt):
        with pool.transaction():
            pool.root = 2
            raise KeyboardInterrupt()
    assert pool.root == 1


def test_transaction_after_an_abort_commits(pool, reopen):
    with pytest.raises(Boom):
        with pool.transaction():
            pool.root = 1
            raise Boom()
    with pool.transaction():
        pool.root = 2
    assert reopen(pool).root == 2


def test_by_hand_commit(pool, reopen):
    t = pool.transaction()
    t.begin()
    pool.root = pool.new(PersistentList, [1])
    pool.root.append(2)
    t.commit()
    assert pool.root == [1, 2]
    assert reopen(pool).root == [1, 2]


def test_by_hand_abort_rolls_back(tree, reopen):
    t = tree.transaction()
    t.begin()
    tree.root["l"].append(3)
    tree.root["o"].x = 5
    tree.root["d"].clear()
    abort(t)
    assert_tree_unchanged(tree)
    assert_tree_unchanged(reopen(tree))


def test_by_hand_transaction_can_be_reused(pool):
    t = pool.transaction()
    t.begin()
    pool.root = 1
    t.commit()
    t.begin()
    pool.root = 2
    t.commit()
    assert pool.root == 2


def test_commit_outside_a_transaction_raises_runtime_error(pool):
    with pytest.raises(RuntimeError):
        pool.transaction().commit()


def test_abort_outside_a_transaction_raises_runtime_error(pool):
    with pytest.raises(RuntimeError):
        pool.transaction().abort()


def test_second_commit_raises_runtime_error(pool):
    t = pool.transaction()
    t.begin()
    pool.root = 1
    t.commit()
    with pytest.raises(RuntimeError):
        t.commit()
    assert pool.root == 1


def test_nested_inner_commit_is_undone_by_outer_abort(pool, reopen):
    outer, inner = pool.transaction(), pool.transaction()
    outer.begin()
    pool.root = pool.new(PersistentList, [1])
    inner.begin()
    pool.root.append(2)
    inner.commit()
    abort(outer)
    assert pool.root is None
    assert reopen(pool).root is None


def test_nested_inner_context_commit_is_undone_by_outer_exception(pool, reopen):
    pool.root = 0
    with pytest.raises(Boom):
        with pool.transaction():
            with pool.transaction():
                pool.root = 1
            assert pool.root == 1
            raise Boom()
    assert pool.root == 0
    assert reopen(pool).root == 0


def test_nested_inner_commit_is_not_durable_after_a_crash(pool, pool_path, run_python):
    pool.root = "before"
    pool.close()
    result = run_python(textwrap.dedent("""
        import os, sys
        from ferrite import pmemobj
        p = pmemobj.open(sys.argv[1])
        outer, inner = p.transaction(), p.transaction()
        outer.begin()
        inner.begin()
        p.root = "inner"
        inner.commit()
        print(p.root, flush=True)
        os._exit(0)          # no outer commit, no close
        """), args=[pool_path])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "inner\n"
    with pmemobj.open(pool_path) as p:
        assert p.root == "before"


def test_nested_inner_abort_aborts_all_and_outer_commit_raises(pool, reopen):
    pool.root = "before"
    outer, inner = pool.transaction(), pool.transaction()
    outer.begin()
    pool.root = "outer"
    inner.begin()
    pool.root = "inner"
    abort(inner)
    with pytest.raises(TransactionAborted) as info:
        outer.commit()
    assert isinstance(info.value, OSError)
    assert info.value.errno == errno.ECANCELED
    assert pool.root == "before"
    assert reopen(pool).root == "before"


def test_nested_inner_context_exception_aborts_all(pool, reopen):
    pool.root = pool.new(PersistentList, [0])
    with pytest.raises(TransactionAborted):
        with pool.transaction():
            pool.root.append(1)
            try:
                with pool.transaction():
                    pool.root.append(2)
                    raise Boom()
            except Boom:
                pass
            pool.root.append(3)       # caught, but the transaction is lost
    assert pool.root == [0]
    assert reopen(pool).root == [0]


def test_pool_usable_after_transaction_aborted(pool, reopen):
    outer, inner = pool.transaction(), pool.transaction()
    outer.begin()
    inner.begin()
    pool.root = 1
    abort(inner)
    with pytest.raises(TransactionAborted):
        outer.commit()
    with pool.transaction():
        pool.root = 2
    assert reopen(pool).root == 2


def test_three_levels_commit_only_with_the_outermost(pool, reopen):
    with pool.transaction():
        pool.root = pool.new(PersistentList)
        with pool.transaction():
            pool.root.append(1)
            with pool.transaction():
                pool.root.append(2)
        pool.root.append(3)
    assert reopen(pool).root == [1, 2, 3]


def test_single_operations_outside_a_transaction_persist(pool, reopen):
    pool.root = pool.new(PersistentDict)
    pool.root["l"] = pool.new(PersistentList)
    pool.root["l"].append(1)
    pool.root["l"].extend([2, 3])
    pool.root["l"].insert(0, 0)
    pool.root["s"] = pool.new(PersistentSet)
    pool.root["s"].add("x")
    pool.root["o"] = pool.new(Thing)
    pool.root["o"].a = "attr"
    p = reopen(pool)
    assert p.root["l"] == [0, 1, 2, 3]
    assert p.root["s"] == {"x"}
    assert p.root["o"].a == "attr"


def test_single_operation_is_durable_without_close(pool, pool_path, run_python):
    pool.root = pool.new(PersistentList, [1])
    pool.close()
    result = run_python(textwrap.dedent("""
        import os, sys
        from ferrite import pmemobj
        p = pmemobj.open(sys.argv[1])
        p.root.append(2)
        p.root.append("three")
        os._exit(0)          # no close
        """), args=[pool_path])
    assert result.returncode == 0, result.stderr
    with pmemobj.open(pool_path) as p:
        assert p.root == [1, 2, "three"]


def test_uncommitted_transaction_is_rolled_back_after_a_crash(pool, pool_path,
                                                              run_python):
    pool.root = pool.new(PersistentList, [1])
    pool.close()
    result = run_python(textwrap.dedent("""
        import os, sys
        from ferrite import pmemobj
        p = pmemobj.open(sys.argv[1])
        t = p.transaction()
        t.begin()
        p.root.append(2)
        p.root[0] = "changed"
        os._exit(0)          # neither commit nor close
        """), args=[pool_path])
    assert result.returncode == 0, result.stderr
    with pmemobj.open(pool_path) as p:
        assert p.root == [1]


def test_p_mm_transaction_is_the_pools(pool):
    pool.root = pool.new(Thing)
    with pytest.raises(Boom):
        with pool.root._p_mm.transaction():
            pool.root.v = 1
            raise Boom()
    assert not hasattr(pool.root, "v")


def test_large_transaction_on_a_dict_commits(pool, reopen):
    pool.root = pool.new(PersistentDict)
    with pool.transaction():
        for i in range(2000):
            pool.root[i] = i
    p = reopen(pool)
    assert len(p.root) == 2000 and p.root[1999] == 1999


def test_large_transaction_on_a_list_commits(pool, reopen):
    pool.root = pool.new(PersistentList)
    with pool.transaction():
        for i in range(2000):
            pool.root.append("item %d" % i)
    p = reopen(pool)
    assert len(p.root) == 2000 and p.root[1999] == "item 1999"


def test_object_made_in_an_aborted_transaction_no_longer_exists(pool):
    with pytest.raises(Boom):
        with pool.transaction():
            made = pool.new(PersistentList, [1])
            raise Boom()
    with pytest.raises(ValueError):
        made.append(2)
    with pytest.raises(ValueError):
        len(made)
