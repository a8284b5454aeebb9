"""PersistentObject subclasses: attributes persist, _v_ attributes are
volatile, __init__ runs at creation only, _v__init__ at creation and every
load, _p_mm.new / _p_mm.transaction, attribute errors, and the class found
again by module and qualified name in a new process."""
import gc as python_gc
import importlib
import json
import sys
import textwrap
import uuid

import pytest

from ferrite import pmemobj
from ferrite.pmemobj import PersistentDict, PersistentList

MODULE_TEXT = textwrap.dedent('''
    """Written by test_object.py: persistent classes in a module of their own."""
    from ferrite.pmemobj import PersistentObject, PersistentList

    EVENTS = []      # what ran in this process, in order


    class Account(PersistentObject):
        bank = "ferrite"

        def _v__init__(self):
            EVENTS.append("v_init")
            self._v_ready = True

        def __init__(self, owner, balance=0):
            EVENTS.append("init")
            self.saw_v_ready = getattr(self, "_v_ready", False)
            self.owner = owner
            self.balance = balance
            self.history = self._p_mm.new(PersistentList)

        def deposit(self, amount):
            with self._p_mm.transaction():
                self.balance += amount
                self.history.append(amount)
                if self.balance < 0:
                    raise ValueError("overdrawn")
            return self.balance


    class Outer:
        class Inner(PersistentObject):
            def __init__(self, tag):
                self.tag = tag
    ''')


@pytest.fixture
def objmod(tmp_path, monkeypatch):
    """The module above, written to tmp_path under a unique name, imported."""
    name = "pobjects_" + uuid.uuid4().hex[:12]
    (tmp_path / (name + ".py")).write_text(MODULE_TEXT)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def run_in_new_process(run_python, tmp_path, objmod, pool_path, body):
    """Run body (code using `mod`, the module, and `pool_path`) in a new
    process; return what it printed as JSON."""
    code = "import json, sys\nimport %s as mod\npool_path = sys.argv[1]\n" % (
        objmod.__name__) + textwrap.dedent(body)
    result = run_python(code, args=[pool_path], paths=[tmp_path])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- creation and loading -------------------------------------------------------

def test_v_init_runs_at_creation_before_init(pool, objmod):
    a = pool.new(objmod.Account, "ann")
    assert objmod.EVENTS == ["v_init", "init"]
    assert a.saw_v_ready is True
    assert a._v_ready is True


def test_init_receives_positional_and_keyword_arguments(pool, objmod):
    a = pool.new(objmod.Account, "bob", balance=5)
    assert (a.owner, a.balance) == ("bob", 5)


def test_init_does_not_run_at_reopen(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    p = reopen(pool)
    del objmod.EVENTS[:]
    assert p.root.owner == "ann"
    assert "init" not in objmod.EVENTS


def test_v_init_runs_at_every_load(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    p = reopen(pool)
    del objmod.EVENTS[:]
    assert p.root._v_ready is True
    assert objmod.EVENTS == ["v_init"]
    p = reopen(p)
    p.root.owner
    assert objmod.EVENTS == ["v_init", "v_init"]


def test_class_found_again_in_a_new_process(tmp_path, pool_path, objmod, run_python):
    created = run_in_new_process(run_python, tmp_path, objmod, pool_path, """
        from ferrite import pmemobj
        with pmemobj.create(pool_path) as p:
            p.root = account = p.new(mod.Account, "ann", 10)
            account.child = p.new(mod.Outer.Inner, "tagged")
        print(json.dumps(mod.EVENTS))
        """)
    assert created == ["v_init", "init"]
    loaded = run_in_new_process(run_python, tmp_path, objmod, pool_path, """
        from ferrite import pmemobj
        with pmemobj.open(pool_path) as p:
            root, child = p.root, p.root.child
            print(json.dumps({
                "root_class": [type(root).__module__, type(root).__qualname__],
                "is_account": type(root) is mod.Account,
                "child_class": [type(child).__module__, type(child).__qualname__],
                "is_inner": type(child) is mod.Outer.Inner,
                "owner": root.owner, "balance": root.balance, "tag": child.tag,
                "events": mod.EVENTS,
            }))
        """)
    assert loaded == {
        "root_class": [objmod.__name__, "Account"], "is_account": True,
        "child_class": [objmod.__name__, "Outer.Inner"], "is_inner": True,
        "owner": "ann", "balance": 10, "tag": "tagged",
        "events": ["v_init"],            # _v__init__ at load, no __init__
    }


def test_methods_work_in_a_new_process(tmp_path, pool_path, objmod, run_python):
    with pmemobj.create(pool_path) as p:
        p.root = p.new(objmod.Account, "ann", 1)
    out = run_in_new_process(run_python, tmp_path, objmod, pool_path, """
        from ferrite import pmemobj
        with pmemobj.open(pool_path) as p:
            print(json.dumps([p.root.deposit(2), list(p.root.history)]))
        """)
    assert out == [3, [2]]
    with pmemobj.open(pool_path) as p:
        assert p.root.balance == 3


# --- attributes -----------------------------------------------------------------

def test_attributes_persist(pool, reopen, objmod):
    a = pool.root = pool.new(objmod.Account, "ann", 7)
    a.flag = True
    a.nothing = None
    a.ratio = 0.25
    a.data = b"\x00\x01"
    a.pair = (1, "two")
    a.big = 2 ** 80
    p = reopen(pool)
    r = p.root
    assert (r.owner, r.balance, r.flag, r.nothing, r.ratio, r.data, r.pair, r.big) == \
        ("ann", 7, True, None, 0.25, b"\x00\x01", (1, "two"), 2 ** 80)


def test_attribute_update_persists(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann", 7)
    pool.root.balance += 5
    pool.root.owner = "anna"
    p = reopen(pool)
    assert (p.root.balance, p.root.owner) == (12, "anna")


def test_container_attribute_persists(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    pool.root.history.append(1)
    pool.root.tags = pool.new(PersistentDict, {"a": 1})
    p = reopen(pool)
    assert isinstance(p.root.history, PersistentList)
    assert p.root.history == [1]
    assert p.root.tags == {"a": 1}


def test_absent_attribute_raises_attribute_error(pool, objmod):
    a = pool.new(objmod.Account, "ann")
    with pytest.raises(AttributeError):
        a.missing
    assert not hasattr(a, "missing")
    assert getattr(a, "missing", "dflt") == "dflt"


def test_absent_attribute_raises_attribute_error_after_reopen(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    p = reopen(pool)
    with pytest.raises(AttributeError):
        p.root.missing


def test_del_attribute(pool, reopen, objmod):
    a = pool.root = pool.new(objmod.Account, "ann")
    a.extra = 1
    del a.extra
    with pytest.raises(AttributeError):
        a.extra
    p = reopen(pool)
    assert not hasattr(p.root, "extra")
    assert p.root.owner == "ann"


def test_del_persisted_attribute_after_reopen(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    pool.root.extra = 1
    p = reopen(pool)
    del p.root.extra
    p = reopen(p)
    assert not hasattr(p.root, "extra")


def test_del_absent_attribute_raises_attribute_error(pool, objmod):
    a = pool.new(objmod.Account, "ann")
    with pytest.raises(AttributeError):
        del a.missing


def test_class_attribute_is_visible(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    assert pool.root.bank == "ferrite"
    assert reopen(pool).root.bank == "ferrite"


def test_instance_attribute_shadows_class_attribute(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    pool.root.bank = "mine"
    p = reopen(pool)
    assert p.root.bank == "mine"
    assert objmod.Account.bank == "ferrite"


def test_object_attribute_identity(pool, reopen, objmod):
    a = pool.root = pool.new(objmod.Account, "ann")
    a.child = pool.new(objmod.Outer.Inner, "c")
    a.same_child = a.child
    a.me = a
    assert a.child is a.child
    p = reopen(pool)
    r = p.root
    assert r.child is r.same_child
    assert r.me is r
    r.child.tag = "changed"
    assert r.same_child.tag == "changed"


def test_object_in_containers(pool, reopen, objmod):
    a = pool.new(objmod.Account, "ann")
    pool.root = pool.new(PersistentDict, {"list": pool.new(PersistentList, [a]), "a": a})
    p = reopen(pool)
    assert p.root["list"][0] is p.root["a"]
    assert p.root["a"].owner == "ann"


def test_unsupported_attribute_value_raises_type_error(pool, objmod):
    a = pool.new(objmod.Account, "ann")
    with pytest.raises(TypeError):
        a.owner = ["plain", "list"]
    assert a.owner == "ann"


# --- volatile attributes --------------------------------------------------------

def test_v_attribute_is_readable_in_the_same_session(pool, objmod):
    a = pool.new(objmod.Account, "ann")
    a._v_note = "volatile"
    assert a._v_note == "volatile"


def test_v_attribute_is_gone_after_reopen(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    pool.root._v_note = "volatile"
    p = reopen(pool)
    with pytest.raises(AttributeError):
        p.root._v_note


def test_v_attribute_may_hold_an_unpersistable_value(pool, objmod):
    a = pool.new(objmod.Account, "ann")
    a._v_cache = [1, {"x": 1j}]          # never stored, so no TypeError
    assert a._v_cache == [1, {"x": 1j}]


def test_v_attribute_is_not_pool_data(pool, objmod):
    a = pool.root = pool.new(objmod.Account, "ann")
    a._v_big = "v" * (4 * pmemobj.MIN_POOL_SIZE)   # larger than the pool
    assert len(a._v_big) == 4 * pmemobj.MIN_POOL_SIZE


def test_v_attribute_kept_while_the_pool_is_open(pool, objmod):
    # nvm.pmemobj kept every object it loaded for the pool's session, so a
    # volatile attribute set through pool.root is still there on the next read.
    pool.root = pool.new(objmod.Account, "ann")
    pool.root._v_note = "volatile"
    python_gc.collect()
    assert pool.root._v_note == "volatile"


def test_v_init_does_not_run_again_while_the_pool_is_open(pool, objmod):
    pool.root = pool.new(objmod.Account, "ann")
    python_gc.collect()
    pool.root.owner
    pool.root.owner
    assert objmod.EVENTS == ["v_init", "init"]


def test_v_attribute_is_not_rolled_back(pool, objmod):
    # It is not in the pool, so an abort has nothing to restore.
    a = pool.root = pool.new(objmod.Account, "ann")
    with pytest.raises(ZeroDivisionError):
        with pool.transaction():
            a._v_note = "set in the aborted transaction"
            a.owner = "bob"
            1 / 0
    assert a.owner == "ann"
    assert a._v_note == "set in the aborted transaction"


# --- _p_mm ------------------------------------------------------------------------

def test_p_mm_new_makes_a_container_of_the_same_pool(pool, reopen, objmod):
    a = pool.root = pool.new(objmod.Account, "ann")
    a.extra = a._p_mm.new(PersistentDict, {"k": "v"})
    assert isinstance(a.history, PersistentList)
    p = reopen(pool)
    assert p.root.extra == {"k": "v"}


def test_p_mm_transaction_commits(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann", 10)
    assert pool.root.deposit(5) == 15
    p = reopen(pool)
    assert p.root.balance == 15 and p.root.history == [5]


def test_p_mm_transaction_rolls_back(pool, reopen, objmod):
    pool.root = pool.new(objmod.Account, "ann", 10)
    with pytest.raises(ValueError):
        pool.root.deposit(-20)
    assert pool.root.balance == 10 and pool.root.history == []
    p = reopen(pool)
    assert p.root.balance == 10 and p.root.history == []


def test_object_of_a_helper_module_class(pool, reopen):
    from persistent_classes import Point, Thing
    pool.root = pool.new(PersistentList, [pool.new(Point, 3, y=-4), pool.new(Thing)])
    pool.root[1].x = "thing"
    p = reopen(pool)
    assert type(p.root[0]) is Point and p.root[0].norm1() == 7
    assert p.root[1].double(4) == 8 and p.root[1].x == "thing"


def test_reassigning_an_attribute_to_itself_keeps_it(pool, reopen, objmod):
    a = pool.root = pool.new(objmod.Account, "ann")
    a.history = a.history
    a.pair = (1, 2)
    a.pair = a.pair
    del a
    python_gc.collect()
    p = reopen(pool)
    assert p.root.history == [] and p.root.pair == (1, 2)


def test_class_defined_in_a_function_cannot_be_stored(pool):
    def make_class():
        class Local(pmemobj.PersistentObject):
            pass
        return Local
    with pytest.raises(TypeError):
        pool.new(make_class())


def test_object_of_a_class_that_cannot_be_imported_loads_as_persistent_object(
        tmp_path, pool_path, objmod, run_python):
    with pmemobj.create(pool_path) as p:
        p.root = a = p.new(objmod.Account, "ann", 3)
        a.extra = "x"
    # A new process without tmp_path on its path: the module is not found.
    result = run_python(textwrap.dedent("""
        import sys
        from ferrite import pmemobj
        with pmemobj.open(sys.argv[1]) as p:
            r = p.root
            print(type(r) is pmemobj.PersistentObject, r.owner, r.balance, r.extra)
            r.balance = 4
        """), args=[pool_path], cwd=tmp_path / "..")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True ann 3 x\n"
    with pmemobj.open(pool_path) as p:
        assert type(p.root) is objmod.Account and p.root.balance == 4
