#!/usr/bin/env python3
"""The library's layers point one way (docs/design.md, "Layers").

    base/    errors, checksums, on-media formats, media: nothing of ours
    txlog/   the change log                          -> base
    alloc/   the slab heap                           -> base, txlog
    engine/  pools, transactions, pointers, gc       -> base, txlog, alloc
    types/   containers, dynamic values              -> base, engine (public headers)
    ferrite.h                                        -> public headers

Public headers are those of base/, engine/ and types/ outside detail/
folders, plus ferrite.h; they are installed, so they may include only each
other. alloc/, txlog/ and every detail/ folder are internal and not
installed. Every include of a library header is written "ferrite/<path>"
(the same text in the tree and once installed); examples include only
<ferrite/...> public headers, as a user's program would.

Usage: layers_test.py SOURCE_ROOT [BUILD_DIR]. With BUILD_DIR, also checks
with `meson introspect --installed` that exactly the public headers are
installed. Prints every violation; exit status 1 when there is one.
"""
import json
import os
import re
import subprocess
import sys

LAYERS = ['base', 'txlog', 'alloc', 'engine', 'types']
MAY_INCLUDE = {
    'base': {'base'},
    'txlog': {'base', 'txlog'},
    'alloc': {'base', 'txlog', 'alloc'},
    'engine': {'base', 'txlog', 'alloc', 'engine'},
    'types': {'base', 'engine', 'types'},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def layer_of(path):
    top = path.split('/', 1)[0]
    return top if top in LAYERS else None


def is_library(path):
    return layer_of(path) is not None or path == 'ferrite.h'


def is_public(path):
    if path == 'ferrite.h':
        return True
    if not path.endswith('.h') or '/detail/' in '/' + path:
        return False
    return layer_of(path) in ('base', 'engine', 'types')


def tracked_sources(root):
    out = subprocess.run(['git', '-C', root, 'ls-files'], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout:
        files = out.stdout.split()
    else:  # not a git checkout (a release tarball): walk the tree
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith(('.', 'build'))]
            files += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(f for f in files if f.endswith(('.h', '.cc')) and not f.startswith('include/'))


def check_includes(root, files):
    problems = []
    for f in files:
        text = open(os.path.join(root, f), encoding='utf-8').read()
        for m in INCLUDE.finditer(text):
            quote, name = m.groups()
            line = text.count('\n', 0, m.start()) + 1
            where = f'{f}:{line}: #include {quote}{name}{">" if quote == "<" else quote}'
            if name.startswith('ferrite/'):
                target = name[len('ferrite/'):]
                if not os.path.isfile(os.path.join(root, target)) or not is_library(target):
                    problems.append(f'{where}: not a library header')
                    continue
            elif quote == '"':
                # A library header reached some other way (relative or
                # root-relative) would not resolve once installed.
                d = os.path.dirname(f)
                for cand in (os.path.normpath(os.path.join(d, name)), os.path.normpath(name)):
                    if is_library(cand) and os.path.isfile(os.path.join(root, cand)):
                        problems.append(f'{where}: write it "ferrite/{cand}"')
                        break
                continue
            else:
                continue  # a system header
            if f.startswith('examples/'):
                if quote != '<' or not is_public(target):
                    problems.append(f'{where}: examples include public headers as <ferrite/...>')
                continue
            if not is_library(f):
                continue  # tools, tests and bench may use internals
            if is_public(f) and not is_public(target):
                problems.append(f'{where}: a public (installed) header includes an internal one')
            if f == 'ferrite.h':
                continue
            src, dst = layer_of(f), layer_of(target)
            if dst is None:
                problems.append(f'{where}: the umbrella header is for programs, not the library')
            elif dst not in MAY_INCLUDE[src]:
                problems.append(f'{where}: {src}/ may not include {dst}/ (layers point one way)')
            elif src == 'types' and dst == 'engine' and not is_public(target):
                problems.append(f'{where}: types/ uses the engine through its public headers')
    return problems


def check_installed(root, build, files):
    out = subprocess.run(['meson', 'introspect', build, '--installed'],
                         capture_output=True, text=True, check=True)
    installed = {os.path.relpath(src, root) for src in json.loads(out.stdout)}
    problems = []
    for f in files:
        if not f.endswith('.h') or not is_library(f):
            continue
        if is_public(f) and f not in installed:
            problems.append(f'{f}: a public header that is not installed')
        if not is_public(f) and f in installed:
            problems.append(f'{f}: an internal header that is installed')
    return problems


def main():
    root = os.path.abspath(sys.argv[1])
    files = tracked_sources(root)
    problems = check_includes(root, files)
    if len(sys.argv) > 2:
        problems += check_installed(root, os.path.abspath(sys.argv[2]), files)
    for p in problems:
        print(p)
    library = sum(1 for f in files if is_library(f))
    print(f'{len(files)} files ({library} in the library) checked: {len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
