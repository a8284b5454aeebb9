"""Shared fixtures for the tests of ferrite's Python binding (ferrite.pmemobj,
the API of Python's old nvm.pmemobj on ferrite's engine).

Run from the repository root, with Debian's interpreter and the build tree:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/python
Tests marked `slow` run only with --runslow.

Fixtures:
- pool_path: a path for a pool file in a fresh temporary directory (no file yet);
- pool: a new pool at pool_path (closed at teardown);
- reopen: reopen(pool) closes pool and opens the same file again (flag 'w');
- run_python: runs Python code or a script in a new process, with the build
  tree (and any extra directories) on PYTHONPATH.
"""
import os
import subprocess
import sys

import pytest

from ferrite import pmemobj

HERE = os.path.dirname(os.path.abspath(__file__))
# The directory the `ferrite` package was imported from (the build tree),
# so that child processes import the same binding as the tests.
BUILD_PYTHON = os.path.dirname(os.path.dirname(os.path.abspath(pmemobj.__file__)))
TUTORIAL_DIR = os.path.join(HERE, "tutorial")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that takes more than ~10 s"
                            " (run with --runslow)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def pool_path(tmp_path):
    return str(tmp_path / "test.pmem")


@pytest.fixture
def pool(pool_path):
    p = pmemobj.create(pool_path)
    yield p
    p.close()


@pytest.fixture
def reopen(pool_path):
    """reopen(old) -> a new pool on pool_path, after closing old."""
    opened = []

    def _reopen(old):
        old.close()
        new = pmemobj.open(pool_path)
        opened.append(new)
        return new

    yield _reopen
    for p in opened:
        p.close()


def child_env(*extra_paths, **extra_vars):
    env = dict(os.environ)
    paths = [BUILD_PYTHON] + [str(p) for p in extra_paths]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"     # no .pyc beside the tutorial's files
    env.update({k: str(v) for k, v in extra_vars.items()})
    return env


@pytest.fixture
def run_python(tmp_path):
    """run_python(code=None, script=None, args=(), stdin='', cwd=tmp_path,
    paths=(), env=None, timeout=60) -> CompletedProcess (text, captured)."""

    def _run(code=None, script=None, args=(), stdin="", cwd=None, paths=(),
             env=None, timeout=60):
        assert (code is None) != (script is None)
        cmd = [sys.executable]
        cmd += ["-c", code] if code is not None else [str(script)]
        cmd += [str(a) for a in args]
        return subprocess.run(
            cmd, input=stdin, capture_output=True, text=True,
            cwd=str(cwd or tmp_path), timeout=timeout,
            env=env or child_env(HERE, *paths))

    return _run
