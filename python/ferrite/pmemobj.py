"""Persistent Python objects in a ferrite pool: nvm.pmemobj's API.

    from ferrite.pmemobj import PersistentObjectPool, PersistentList

    with PersistentObjectPool('hello.pool', flag='c') as pool:
        if pool.root is None:
            pool.root = pool.new(PersistentList)
        pool.root.append(len(pool.root))      # atomic on its own
        with pool.transaction():              # all or nothing
            pool.root.append('a')
            pool.root.append('b')

The containers (PersistentList, PersistentDict, PersistentSet,
PersistentFrozenSet, PersistentTuple) and PersistentObject subclasses keep
their contents in the pool; None, bool, int, float, str and bytes are
stored by value and read back as plain Python values. Every change is
durable when the call (or the outermost transaction) returns, and a crash
at any moment leaves each transaction all or nothing.

What differs from nvm.pmemobj, and why: docs/python.md.
"""

import collections.abc as _abc
import importlib as _importlib
import itertools as _itertools
import operator as _operator
import reprlib as _reprlib
import logging as _logging
import os as _os
import weakref as _weakref

from . import _ferrite

__all__ = [
    'MIN_POOL_SIZE', 'PersistentObjectPool', 'create', 'open', 'Transaction',
    'Persistent', 'PersistentList', 'PersistentDict', 'PersistentSet',
    'PersistentFrozenSet', 'PersistentTuple', 'PersistentObject',
    'FerriteError', 'TransactionAborted',
]

_log = _logging.getLogger('ferrite.pmemobj')

# 8 MiB, as libpmemobj's minimum was under nvm.pmemobj (the engine takes
# 2 MiB pools; Python's values are larger and its transactions bigger). A
# new pool's change log is an eighth of it (at least 512 KiB): what one
# transaction may log is half the log.
MIN_POOL_SIZE = 8 * 1024 * 1024
_MIN_LOG_SIZE = 512 * 1024
_MAX_LOG_SIZE = 64 * 1024 * 1024
# An OSError: a damaged or foreign file, a locked pool, a failed sync... Its
# `code` attribute names the ferrite error ('corrupted', 'pool_locked').
FerriteError = _ferrite.FerriteError
# Raised by a commit when the transaction was aborted (an inner abort).
TransactionAborted = _ferrite.TransactionAborted

_builtin_open = open


class Transaction(object):
    """A transaction on a pool: a context manager, or by hand.

        with pool.transaction():      # commits at the end, aborts on an exception
            ...
        t = pool.transaction()
        t.begin(); ...; t.commit()    # or t.abort()

    Transactions nest flat: an inner one joins the outermost, and an inner
    abort aborts all of it (the outer commit then raises
    TransactionAborted). Changes are durable when the outermost commits.
    """

    __slots__ = ('_pool',)

    def __init__(self, pool):
        self._pool = pool

    def begin(self):
        self._pool._p.begin()

    def commit(self):
        self._pool._p.commit()

    def abort(self):
        self._pool._p.abort()

    def __enter__(self):
        self._pool._p.begin()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._pool._p.commit()
        else:
            _log.debug('aborting a transaction: %r', exc)
            self._pool._p.abort()
        return False


class _Atomic(object):
    """For the library's own multi-step operations: a transaction of their
    own when none runs on this thread (so they are atomic alone), else
    nothing: they join the running one, and an error they raise (a
    KeyError from popitem, say) does not abort it, as a failed call on a
    Python container changes nothing around it."""

    __slots__ = ('_p', '_began')

    def __init__(self, pool):
        self._p = pool._p
        self._began = False

    def __enter__(self):
        if self._p.depth == 0:
            self._p.begin()
            self._began = True
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._began:
            if exc_type is None:
                self._p.commit()
            else:
                self._p.abort()
        return False


class PersistentObjectPool(object):
    """A pool file holding persistent Python objects, reached from `root`.

    flag: 'w' opens an existing pool (OSError when it is missing), 'x'
    creates one (OSError when the file exists), 'c' creates it when missing,
    'r' opens read-only (any change raises FerriteError). pool_size and mode
    apply when the pool is created; ValueError below MIN_POOL_SIZE.
    """

    def __init__(self, filename, flag='w', pool_size=MIN_POOL_SIZE, mode=0o666, debug=False):
        self._p = None
        self.filename = filename
        self.debug = debug
        if flag not in ('w', 'x', 'c', 'r'):
            raise ValueError("Invalid flag value {!r} (one of 'w', 'x', 'c', 'r')".format(flag))
        creating = flag == 'x' or (flag == 'c' and not _os.path.exists(filename))
        if creating and pool_size < MIN_POOL_SIZE:
            raise ValueError('pool_size {} is smaller than MIN_POOL_SIZE ({})'.format(
                pool_size, MIN_POOL_SIZE))
        self._cache = _weakref.WeakValueDictionary()
        self._objects = {}  # PersistentObject instances: kept while the pool is open
        self._pickled = set()
        log_size = min(max(pool_size // 8, _MIN_LOG_SIZE), _MAX_LOG_SIZE) if creating else 0
        self._p = _ferrite.Pool(_os.fspath(filename), flag, pool_size, mode, log_size)
        self._p.set_factory(self._resurrect, self._pickled)
        if debug:
            found = self._p.gc_at_open()
            if found is not None:
                _log.info('%s: collected after an unclean shutdown: %s', filename, found)

    # --- the pool ---------------------------------------------------------

    @property
    def closed(self):
        return self._p is None or self._p.closed

    @property
    def read_only(self):
        return self._p.read_only

    @property
    def root(self):
        """The root object: None in a new pool. Only what can be reached
        from it survives (the rest is collected)."""
        return self._p.get_root()

    @root.setter
    def root(self, value):
        self._p.set_root(value)

    def new(self, typ, *args, **kw):
        """A new persistent instance of typ (a Persistent* container or a
        PersistentObject subclass), made from args and kw as typ(*args, **kw)
        would be. All or nothing."""
        make = getattr(typ, '_p_make', None)
        if make is None:
            raise TypeError("Don't know how to persist {!r}: pool.new takes a Persistent "
                            "container class or a PersistentObject subclass".format(typ))
        if isinstance(typ, type) and issubclass(typ, PersistentObject):
            with _Atomic(self):  # __init__ sets its attributes all or nothing
                return make(self, *args, **kw)
        return make(self, *args, **kw)  # atomic, or filled in batches (_filled)

    def transaction(self):
        """A Transaction (context manager, or begin/commit/abort by hand)."""
        return Transaction(self)

    def persist_via_pickle(self, *types):
        """Store instances of these (immutable, picklable) types by pickling.
        They read back as equal copies."""
        self._pickled.update(types)

    def gc(self, debug=None):
        """Free every object the root does not reach (cycles included).

        Returns (type_counts, gc_counts): live objects by type name, and
        what the collection did ('collections-gced': objects freed).
        Objects only Python still holds are kept. Raises inside a
        transaction."""
        debug = self.debug if debug is None else debug
        # The session's PersistentObjects are held weakly from here on:
        # those only the session kept are unpinned, so unreachable ones are
        # collected (their _v_ attributes go with them).
        self._cache.update(self._objects)
        self._objects.clear()
        stats = self._p.gc()
        type_counts = {}
        freed_by_type = {}
        for stored, (live, freed) in stats['by_type'].items():
            name = _python_type_name(stored)
            if name is None:
                continue
            if live:
                type_counts[name] = type_counts.get(name, 0) + live
            if freed:
                freed_by_type[name] = freed_by_type.get(name, 0) + freed
        gc_counts = {
            'live': stats['live'],
            'collections-gced': stats['freed'],
            'freed-bytes': stats['freed_bytes'],
            'counts-repaired': stats['counts_repaired'],
        }
        if debug:
            _log.info('gc of %s: live %s, freed %s', self.filename, type_counts, freed_by_type)
        return type_counts, gc_counts

    def stats(self):
        """The engine's counters since open: commits, fences, syncs,
        flushed_lines, log_bytes, checkpoints, and the media granularity
        ('byte', 'cache_line' or 'page'). ferrite's own API, not
        nvm.pmemobj's."""
        return self._p.stats()

    def close(self):
        """Close the pool (a second close does nothing). A transaction still
        running is aborted."""
        if self._p is not None and not self._p.closed:
            self._p.close()
            self._cache.clear()
            self._objects.clear()

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return '<PersistentObjectPool {!r}{}>'.format(
            self.filename, ' closed' if self.closed else '')

    # --- wrapping handles ---------------------------------------------------

    def _resurrect(self, h):
        """The Python object for handle h: the same object while it lives."""
        obj = self._cache.get(h.payload)
        if obj is not None and obj._p_h.alive:
            return obj
        obj = self._objects.get(h.payload)
        if obj is not None and obj._p_h.alive:
            return obj
        kind = h.kind
        cls = _container_classes.get(kind)
        if cls is None:
            cls = _find_class(kind)
        obj = cls.__new__(cls)
        object.__setattr__(obj, '_p_h', h)
        object.__setattr__(obj, '_p_mm', self)
        if issubclass(cls, PersistentObject):
            # Kept for the session, as nvm.pmemobj kept them: its _v_
            # attributes last while the pool is open (it is pinned until
            # close; docs/python.md).
            self._objects[h.payload] = obj
            obj._v__init__()
        else:
            self._cache[h.payload] = obj
        return obj


def create(filename, pool_size=MIN_POOL_SIZE, mode=0o666, debug=False):
    """A new pool (OSError when the file exists): flag 'x'."""
    return PersistentObjectPool(filename, flag='x', pool_size=pool_size, mode=mode, debug=debug)


def open(filename, debug=False):  # noqa: A001 (nvm.pmemobj's name)
    """An existing pool, read-write (OSError when it is missing): flag 'w'."""
    return PersistentObjectPool(filename, flag='w', debug=debug)


# --- persistent types ---------------------------------------------------------


_FILL_BATCH = 512


def _filled(pool, h, items, store):
    """The new container of handle h, filled with items. Outside a
    transaction it is filled in transactions of _FILL_BATCH items, so a
    large one is not limited by what one transaction may log; that is safe
    because nothing reaches it until it is stored (a crash leaves an
    unreachable object, collected at open). Inside a transaction, in it."""
    obj = pool._resurrect(h)
    if pool._p.depth == 0:
        it = iter(items)
        while True:
            batch = list(_itertools.islice(it, _FILL_BATCH))
            if not batch:
                break
            with _Atomic(pool):
                store(h, batch)
    else:
        store(h, list(items))
    return obj


class Persistent(object):
    """Base of the objects whose state lives in a pool: `_p_mm` is their
    pool (with new() and transaction()), `_p_h` the native handle."""

    __slots__ = ('_p_h', '_p_mm', '__weakref__')


def _compared(op):
    def compare(self, other):
        o = self._p_cmp_items(other)
        return NotImplemented if o is None else op(self._p_items(), o)
    return compare


class _ComparedAsPlain(object):
    """==, !=, <, <=, >, >= of a persistent list or tuple, as Python's list
    or tuple compares: with its plain counterpart (`_p_counterpart`) or another
    persistent one of the same kind, NotImplemented with anything else."""

    __slots__ = ()

    def _p_items(self):
        return self._p_counterpart(self._p_h.items())

    def _p_cmp_items(self, other):
        if isinstance(other, _ComparedAsPlain) and other._p_counterpart is self._p_counterpart:
            return other._p_items()
        if isinstance(other, self._p_counterpart):
            return other
        return None

    __eq__ = _compared(_operator.eq)
    __ne__ = _compared(_operator.ne)
    __lt__ = _compared(_operator.lt)
    __le__ = _compared(_operator.le)
    __gt__ = _compared(_operator.gt)
    __ge__ = _compared(_operator.ge)


class PersistentList(_ComparedAsPlain, Persistent, _abc.MutableSequence):
    """A list in the pool: list's methods; slices read as plain lists."""

    __slots__ = ()
    __hash__ = None
    _p_counterpart = list

    @classmethod
    def _p_make(cls, pool, iterable=()):
        return _filled(pool, pool._p.new_list(()), iterable, lambda h, batch: h.extend(batch))

    def __len__(self):
        return self._p_h.len()

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._p_h.items()[i]
        return self._p_h.get_item(i)

    def __setitem__(self, i, value):
        if isinstance(i, slice):
            items = self._p_h.items()
            items[i] = value
            self._p_replace(items)
        else:
            self._p_h.set_item(i, value)

    def __delitem__(self, i):
        if isinstance(i, slice):
            items = self._p_h.items()
            del items[i]
            self._p_replace(items)
        else:
            self._p_h.pop(i)

    def __iter__(self):
        return iter(self._p_h.items())

    def __reversed__(self):
        return reversed(self._p_h.items())

    def __contains__(self, value):
        return self._p_h.contains(value)

    def insert(self, i, value):
        self._p_h.insert(i, value)

    def append(self, value):
        self._p_h.append(value)

    def extend(self, values):
        if values is self:
            values = self._p_h.items()
        self._p_h.extend(values)

    def pop(self, i=-1):
        if not self._p_h.len():
            raise IndexError('pop from empty list')
        return self._p_h.pop(i)

    def remove(self, value):
        self._p_h.pop(self.index(value))

    def index(self, value, start=0, stop=None):
        if start == 0 and stop is None:
            try:
                return self._p_h.index(value)
            except KeyError:
                raise ValueError('{!r} is not in list'.format(value)) from None
        return self._p_h.items().index(value, start, *(() if stop is None else (stop,)))

    def count(self, value):
        return self._p_h.count(value)

    def clear(self):
        self._p_h.clear()

    def reverse(self):
        self._p_replace(self._p_h.items()[::-1])

    def sort(self, *, key=None, reverse=False):
        items = self._p_h.items()
        items.sort(key=key, reverse=reverse)
        self._p_replace(items)

    def copy(self):
        return self._p_h.items()

    def _p_replace(self, items):
        with _Atomic(self._p_mm):
            self._p_h.clear()
            self._p_h.extend(items)

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __imul__(self, n):
        self._p_replace(self._p_h.items() * n)
        return self

    def __add__(self, other):
        if not isinstance(other, (list, PersistentList)):
            return NotImplemented
        return self._p_h.items() + list(other)

    def __radd__(self, other):
        if not isinstance(other, list):
            return NotImplemented
        return other + self._p_h.items()

    def __mul__(self, n):
        return self._p_h.items() * n

    __rmul__ = __mul__


    @_reprlib.recursive_repr('PersistentList([...])')
    def __repr__(self):
        return 'PersistentList({!r})'.format(self._p_h.items())


class PersistentDict(Persistent, _abc.MutableMapping):
    """A dict in the pool: dict's methods. Iteration order is not insertion
    order (docs/python.md)."""

    __slots__ = ()
    __hash__ = None

    @classmethod
    def _p_make(cls, pool, *args, **kw):
        items = dict(*args, **kw).items() if args or kw else ()

        def store(h, batch):
            for k, v in batch:
                h.set_key(k, v)
        return _filled(pool, pool._p.new_dict(), items, store)

    def __len__(self):
        return self._p_h.len()

    def __getitem__(self, key):
        return self._p_h.get_key(key)

    def __setitem__(self, key, value):
        self._p_h.set_key(key, value)

    def __delitem__(self, key):
        self._p_h.del_key(key)

    def __iter__(self):
        return iter(self._p_h.items())

    def __contains__(self, key):
        return self._p_h.contains(key)

    def get(self, key, default=None):
        return self._p_h.get_key_or(key, default)

    _missing = object()

    def pop(self, key, default=_missing):
        try:
            return self._p_h.pop_key(key)
        except KeyError:
            if default is PersistentDict._missing:
                raise
            return default

    def popitem(self):
        with _Atomic(self._p_mm):
            keys = self._p_h.items()
            if not keys:
                raise KeyError('popitem(): dictionary is empty')
            key = keys[-1]
            return key, self._p_h.pop_key(key)

    def setdefault(self, key, default=None):
        with _Atomic(self._p_mm):
            return super().setdefault(key, default)

    def update(self, *args, **kw):
        with _Atomic(self._p_mm):
            super().update(*args, **kw)

    def clear(self):
        self._p_h.clear()

    def copy(self):
        return dict(self._p_h.dict_items())

    def __eq__(self, other):
        if isinstance(other, PersistentDict):
            return dict(self._p_h.dict_items()) == dict(other._p_h.dict_items())
        if isinstance(other, dict):
            return dict(self._p_h.dict_items()) == other
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __or__(self, other):
        if not isinstance(other, (dict, PersistentDict)):
            return NotImplemented
        d = self.copy()
        d.update(other)
        return d

    @_reprlib.recursive_repr('PersistentDict({...})')
    def __repr__(self):
        return 'PersistentDict({!r})'.format(dict(self._p_h.dict_items()))


class _SetMethods(object):
    """The named set methods of set/frozenset, on top of collections.abc.Set."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return set(it)

    # The operators take sets only, as set's do (`s | [1]` is a TypeError);
    # the named methods below take any iterable.
    def __or__(self, other):
        return _abc.Set.__or__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __ror__(self, other):
        return _abc.Set.__ror__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __and__(self, other):
        return _abc.Set.__and__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __rand__(self, other):
        return _abc.Set.__rand__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __sub__(self, other):
        return _abc.Set.__sub__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __rsub__(self, other):
        return _abc.Set.__rsub__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __xor__(self, other):
        return _abc.Set.__xor__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def __rxor__(self, other):
        return _abc.Set.__rxor__(self, other) if isinstance(other, _abc.Set) else NotImplemented

    def union(self, *others):
        out = set(self)
        for o in others:
            out |= set(o)
        return self._p_plain(out)

    def intersection(self, *others):
        out = set(self)
        for o in others:
            out &= set(o)
        return self._p_plain(out)

    def difference(self, *others):
        out = set(self)
        for o in others:
            out -= set(o)
        return self._p_plain(out)

    def symmetric_difference(self, other):
        return self._p_plain(set(self) ^ set(other))

    def issubset(self, other):
        return set(self) <= set(other)

    def issuperset(self, other):
        return set(self) >= set(other)

    def copy(self):
        return self._p_plain(set(self))

    def __iter__(self):
        return iter(self._p_h.items())

    def __len__(self):
        return self._p_h.len()

    def __contains__(self, value):
        try:
            return self._p_h.contains(value)
        except TypeError:
            if isinstance(value, (set, PersistentSet)):  # as frozenset(value) in s
                return self._p_h.contains(frozenset(value))
            raise


class PersistentSet(_SetMethods, Persistent, _abc.MutableSet):
    """A set in the pool: set's methods; operators give plain sets."""

    __slots__ = ()
    __hash__ = None

    @classmethod
    def _p_make(cls, pool, iterable=()):
        def store(h, batch):
            for v in batch:
                h.add(v)
        return _filled(pool, pool._p.new_set(()), iterable, store)

    @staticmethod
    def _p_plain(s):
        return s

    def add(self, value):
        self._p_h.add(value)

    def discard(self, value):
        self._p_h.discard(value)

    def remove(self, value):
        if not self._p_h.discard(value):
            raise KeyError(value)

    def pop(self):
        with _Atomic(self._p_mm):
            items = self._p_h.items()
            if not items:
                raise KeyError('pop from an empty set')
            self._p_h.discard(items[0])
            return items[0]

    def clear(self):
        self._p_h.clear()

    def update(self, *others):
        with _Atomic(self._p_mm):
            for o in others:
                for v in o:
                    self._p_h.add(v)

    def intersection_update(self, *others):
        self._p_set(self.intersection(*others))

    def difference_update(self, *others):
        self._p_set(self.difference(*others))

    def symmetric_difference_update(self, other):
        self._p_set(self.symmetric_difference(other))

    def _p_set(self, values):
        with _Atomic(self._p_mm):
            for v in self._p_h.items():
                if v not in values:
                    self._p_h.discard(v)
            for v in values:
                self._p_h.add(v)

    @_reprlib.recursive_repr('PersistentSet({...})')
    def __repr__(self):
        return 'PersistentSet({!r})'.format(set(self._p_h.items()))


class PersistentFrozenSet(_SetMethods, Persistent, _abc.Set):
    """An immutable set in the pool (what a frozenset is stored as)."""

    __slots__ = ()

    @classmethod
    def _p_make(cls, pool, iterable=()):
        return pool._resurrect(pool._p.new_frozenset(iterable))

    @classmethod
    def _from_iterable(cls, it):
        return frozenset(it)

    @staticmethod
    def _p_plain(s):
        return frozenset(s)

    def __hash__(self):
        return hash(frozenset(self._p_h.items()))

    def __repr__(self):
        return 'PersistentFrozenSet({!r})'.format(frozenset(self._p_h.items()))


class PersistentTuple(_ComparedAsPlain, Persistent, _abc.Sequence):
    """An immutable tuple in the pool (what a tuple is stored as)."""

    __slots__ = ()
    _p_counterpart = tuple

    @classmethod
    def _p_make(cls, pool, iterable=()):
        return pool._resurrect(pool._p.new_tuple(iterable))

    def __len__(self):
        return self._p_h.len()

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self._p_h.items()[i])
        return self._p_h.get_item(i)

    def __iter__(self):
        return iter(self._p_h.items())

    def __contains__(self, value):
        return self._p_h.contains(value)

    def index(self, value, start=0, stop=None):
        return tuple(self).index(value, start, *(() if stop is None else (stop,)))

    def count(self, value):
        return self._p_h.count(value)

    def __hash__(self):
        return hash(tuple(self._p_h.items()))


    def __add__(self, other):
        o = self._p_cmp_items(other)
        return NotImplemented if o is None else tuple(self._p_h.items()) + o

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return other + tuple(self._p_h.items())

    def __mul__(self, n):
        return tuple(self._p_h.items()) * n

    __rmul__ = __mul__

    def __repr__(self):
        return 'PersistentTuple({!r})'.format(tuple(self._p_h.items()))


_object_getattribute = object.__getattribute__
_handle_of = Persistent.__dict__['_p_h'].__get__  # the _p_h slot, read directly
_absent = object()


class PersistentObject(Persistent):
    """Base class of user classes whose instances live in the pool.

    Attributes are stored in the pool, except names starting with `_v_`
    (volatile: this Python object only) and `_p_` (reserved). `__init__`
    runs when the object is made (pool.new / self._p_mm.new); `_v__init__`
    runs then (first) and every time the object is loaded again. A class
    is found again by its module and qualified name.
    """

    __slots__ = ('__dict__',)

    @classmethod
    def _p_make(cls, pool, *args, **kw):
        obj = pool._resurrect(pool._p.new_object(_class_name(cls)))
        obj.__init__(*args, **kw)
        return obj

    def _v__init__(self):
        pass

    def __getattribute__(self, name):
        # A stored attribute comes first, as an instance's __dict__ does
        # before its class's attributes; names starting with '_' are never
        # stored (_v_, _p_, dunders, private names go the usual way).
        if name[:1] != '_':
            found = _handle_of(self).get_attr_or(name, _absent)
            if found is not _absent:
                return found
        return _object_getattribute(self, name)

    def __getattr__(self, name):
        raise AttributeError("'{}' object has no attribute '{}'".format(type(self).__name__, name))

    # The handle is read through the slot's descriptor: self._p_h would go
    # through __getattribute__ above, a Python call per set.
    def __setattr__(self, name, value):
        if name[:1] == '_' and name.startswith(('_v_', '_p_')):
            object.__setattr__(self, name, value)
        else:
            _handle_of(self).set_attr(name, value)

    def __delattr__(self, name):
        if name[:1] == '_' and name.startswith(('_v_', '_p_')):
            object.__delattr__(self, name)
        else:
            _handle_of(self).del_attr(name)

    def __repr__(self):
        return '<{} {} at 0x{:x}>'.format(
            type(self).__qualname__, 'persistent object', self._p_h.payload)


_container_classes = {
    'list': PersistentList,
    'dict': PersistentDict,
    'set': PersistentSet,
    'frozenset': PersistentFrozenSet,
    'tuple': PersistentTuple,
}

# Stored type names (gc statistics) as the Python names.
_stored_names = {
    'ferrite.list': 'PersistentList',
    'ferrite.dict': 'PersistentDict',
    'ferrite.set': 'PersistentSet',
}


def _python_type_name(stored):
    """The Python name of a stored type, or None for the storage of a
    container (its items), which Python does not see as an object."""
    if stored in _stored_names:
        return _stored_names[stored]
    if stored == 'ferrite.string':
        return 'str'  # str, bytes, big ints and pickles kept out of line
    if stored.startswith('ferrite.') or stored == 'untyped':
        return None
    return stored.rsplit('.', 1)[-1]


_class_names = {}
_classes = {}


def _class_name(cls):
    """The name a class is stored under: 'module.QualName'."""
    try:
        return _class_names[cls]
    except KeyError:
        pass
    if cls is PersistentObject:
        name = 'python.PersistentObject'
    else:
        qual = cls.__qualname__
        if '<locals>' in qual:
            raise TypeError("Can't persist {!r} instances: a class defined in a function "
                            "cannot be found again when the pool is reopened".format(cls))
        name = '{}.{}'.format(cls.__module__, qual)
    _class_names[cls] = name
    _classes[name] = cls
    return name


def _find_class(name):
    """The class stored as `name`, imported by its module; PersistentObject
    itself when it cannot be found (the object's data stays readable)."""
    try:
        return _classes[name]
    except KeyError:
        pass
    parts = name.split('.')
    found = None
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target = _importlib.import_module('.'.join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                target = getattr(target, attr)
        except AttributeError:
            continue
        if isinstance(target, type) and issubclass(target, PersistentObject):
            found = target
        break
    if found is None:
        _log.warning('class %s of a persistent object not found: loaded as PersistentObject', name)
        return PersistentObject
    _classes[name] = found
    _class_names.setdefault(found, name)
    return found
