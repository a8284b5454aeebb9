"""Helpers for comparing a persistent container with its Python counterpart:
the same operation is applied to both, and both must return equal results or
raise the same exception type."""


def outcome(operation, target):
    try:
        return ("returned", operation(target))
    except Exception as e:          # the type is what is compared
        return ("raised", type(e))


def assert_same_outcome(operation, persistent, plain):
    got = outcome(operation, persistent)
    want = outcome(operation, plain)
    assert got[0] == want[0], "persistent %s %r, Python %s %r" % (got + want)
    if got[0] == "raised":
        assert got[1] is want[1], "persistent raised %s, Python %s" % (
            got[1].__name__, want[1].__name__)
    else:
        assert got[1] == want[1]


def binding_bug(reason):
    """A test that fails because of a known bug in the binding (not the test)."""
    import pytest
    return pytest.mark.xfail(strict=True, reason="binding bug: " + reason)


def known_difference(reason):
    """Python's behaviour that the binding documents it does not have
    (docs/python.md, "What differs"): the test shows Python's, and fails."""
    import pytest
    return pytest.mark.xfail(strict=True, reason="documented difference: " + reason)


def operation_params(operations, bugs=None):
    """The sorted names of operations, those in bugs (name -> reason)
    marked as known binding bugs."""
    import pytest
    bugs = bugs or {}
    return [pytest.param(name, marks=known_difference(bugs[name])) if name in bugs else name
            for name in sorted(operations)]
