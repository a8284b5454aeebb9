#!/usr/bin/python3
"""Benchmark of ferrite.pmemobj, ferrite's Python binding with the API of
Python's nvm.pmemobj, against volatile Python objects and against pickling
the whole state to a file and fsyncing it after every transaction.

Run it with Debian's interpreter and the build tree on the path:

    PYTHONPATH=build/python /usr/bin/python3 bench/python/pmemobj_bench.py [--json FILE]

Operations (each timed for N operations, one timed run per cell, after an untimed warm-up of N/20 ops on the same object):

  append    PersistentList.append(i)              / list.append(i)
  dict_set  PersistentDict[k] = i, k = i % KEYS    / dict[k] = i
            (int keys cycling over --keys distinct keys, 4096 by default)
  attr_set  obj.value = i on a PersistentObject subclass instance
                                                   / the same on a plain class

Shapes: 'op/tx' (each call atomic on its own: one transaction per
operation) and '100/tx' (100 operations inside one `with pool.transaction():`).

Media: 'cache-line' (a pool file on /dev/shm, PMEM2_FORCE_GRANULARITY=cacheline,
checked through pool.stats()['granularity']) and 'page' (a pool file on a
disk-backed file system; /var/tmp by default; refused when it is a tmpfs).

Baselines, measured in the same run:
  volatile      the same operations on plain Python objects (no durability);
  pickle+fsync  after each transaction (each operation, or each group of 100),
                pickle.dump of the whole list/dict/object state into a file in
                the same media directory (opened 'wb': truncated and rewritten),
                then os.fsync of it.

The nvm.pmemobj figures (the original library, one operation per
transaction) are QUOTED constants measured earlier on this machine, not
measured by this script.
"""

import argparse
import gc
import json
import os
import pickle
import platform
import subprocess
import sys
import time

ENV_GRAN = 'PMEM2_FORCE_GRANULARITY'
CHILD_FLAG = '--_child-media'

OPS = ('append', 'dict_set', 'attr_set')
SHAPES = ('op/tx', '100/tx')
MEDIA = ('cache-line', 'page')

# The original nvm.pmemobj, one operation per transaction, measured on this
# machine before this benchmark existed: quoted, not measured here.
QUOTED_NVM = {
    ('cache-line', 'append'): 17000, ('cache-line', 'dict_set'): 20000,
    ('cache-line', 'attr_set'): 36000,
    ('page', 'append'): 392, ('page', 'dict_set'): 728, ('page', 'attr_set'): 1059,
}
TARGET_CACHE_SPEEDUP = 10.0   # ferrite >= 10x nvm.pmemobj on cache-line media
TARGET_PAGE_SYNCS = 1.0       # one sync per transaction on the disk

# Default N per cell, sized on the 2-core development VM (2026-12) for about
# 1-3 s a cell when the disk answers an fsync in ~0.3 ms; --scale multiplies
# all of them. Keys: (medium, shape) or (medium, shape, op).
DEFAULT_N = {
    ('cache-line', 'op/tx'): 1000000,
    ('cache-line', '100/tx'): 2000000,
    ('page', 'op/tx'): 3000,
    ('page', '100/tx'): 300000,
}
# pickle+fsync: the pickle grows with the list (quadratic in N for append);
# the dict stops growing at --keys keys; the object never grows.
DEFAULT_N_PICKLE = {
    ('cache-line', 'op/tx', 'append'): 20000,
    ('cache-line', 'op/tx', 'dict_set'): 20000,
    ('cache-line', 'op/tx', 'attr_set'): 60000,
    ('cache-line', '100/tx', 'append'): 200000,
    ('cache-line', '100/tx', 'dict_set'): 2000000,
    ('cache-line', '100/tx', 'attr_set'): 4000000,
    ('page', 'op/tx'): 3000,
    ('page', '100/tx', 'append'): 150000,
    ('page', '100/tx', 'dict_set'): 300000,
    ('page', '100/tx', 'attr_set'): 500000,
}
DEFAULT_N_VOLATILE = {'append': 10000000, 'dict_set': 30000000, 'attr_set': 100000000}


def default_n(table, medium, shape, op):
    return table.get((medium, shape, op), table.get((medium, shape)))


class Obj(object):
    """Plain class: the volatile baseline of attr_set."""


# The environment variable PMEM2_FORCE_GRANULARITY only has to be set before a
# pool is opened (checked at run time by a probe pool; see medium_cells), so
# ferrite can be imported here.
try:
    import ferrite  # noqa: E402
except ImportError:  # not on PYTHONPATH: the build tree next to this checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    '..', '..', 'build', 'python'))
    import ferrite  # noqa: E402
import ferrite.pmemobj as pmemobj  # noqa: E402


class PObj(pmemobj.PersistentObject):
    """A PersistentObject subclass (module level, so that a pool would find
    it again by module and name): attr_set sets .value on it."""


# --- the machine --------------------------------------------------------------

def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def fs_type(path):
    """The file system type of path, from /proc/mounts (longest mount prefix)
    and stat -f."""
    path = os.path.realpath(path)
    best, fstype, dev = '', '?', '?'
    with open('/proc/mounts') as f:
        for line in f:
            parts = line.split()
            mnt = parts[1].replace('\\040', ' ')
            if (path == mnt or path.startswith(mnt.rstrip('/') + '/')) and len(mnt) >= len(best):
                best, fstype, dev = mnt, parts[2], parts[0]
    try:
        statf = subprocess.run(['stat', '-f', '-c', '%T', path], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        statf = '?'
    return {'path': path, 'mount': best, 'fstype': fstype, 'device': dev, 'stat_f': statf}


# --- the operations -----------------------------------------------------------
#
# Each runner gets the target and N, runs the timed loop and returns the
# seconds. `txn` is None (one op per transaction / volatile) or a factory of
# context managers (pool.transaction); `after_group` is called after each
# transaction (the pickle+fsync baseline), or None.

def loop_append(target, n, group, txn, after_group, start=0):
    app = target.append
    t0 = time.perf_counter()
    if group == 1:
        if after_group is None:
            for i in range(start, start + n):
                app(i)
        else:
            for i in range(start, start + n):
                app(i)
                after_group()
    else:
        for g in range(start, start + n, group):
            if txn is not None:
                with txn():
                    for i in range(g, g + group):
                        app(i)
            else:
                for i in range(g, g + group):
                    app(i)
            if after_group is not None:
                after_group()
    return time.perf_counter() - t0


def loop_dict_set(target, n, group, txn, after_group, keys, start=0):
    t0 = time.perf_counter()
    if group == 1:
        if after_group is None:
            for i in range(start, start + n):
                target[i % keys] = i
        else:
            for i in range(start, start + n):
                target[i % keys] = i
                after_group()
    else:
        for g in range(start, start + n, group):
            if txn is not None:
                with txn():
                    for i in range(g, g + group):
                        target[i % keys] = i
            else:
                for i in range(g, g + group):
                    target[i % keys] = i
            if after_group is not None:
                after_group()
    return time.perf_counter() - t0


def loop_attr_set(target, n, group, txn, after_group, start=0):
    t0 = time.perf_counter()
    if group == 1:
        if after_group is None:
            for i in range(start, start + n):
                target.value = i
        else:
            for i in range(start, start + n):
                target.value = i
                after_group()
    else:
        for g in range(start, start + n, group):
            if txn is not None:
                with txn():
                    for i in range(g, g + group):
                        target.value = i
            else:
                for i in range(g, g + group):
                    target.value = i
            if after_group is not None:
                after_group()
    return time.perf_counter() - t0


def run_loop(op, target, n, group, txn, after_group, keys, start=0):
    if op == 'append':
        return loop_append(target, n, group, txn, after_group, start)
    if op == 'dict_set':
        return loop_dict_set(target, n, group, txn, after_group, keys, start)
    return loop_attr_set(target, n, group, txn, after_group, start)


def round_n(n, group):
    return max(group, (n // group) * group)


# --- cells --------------------------------------------------------------------

def cell_ferrite(args, medium, directory, op, shape):
    group = 1 if shape == 'op/tx' else args.group
    n = round_n(int(default_n(DEFAULT_N, medium, shape, op) * args.scale), group)
    warm = round_n(max(group, n // 20), group)
    path = os.path.join(directory, 'ferrite-pybench-{}.pool'.format(os.getpid()))
    if os.path.exists(path):
        os.remove(path)
    pool = pmemobj.PersistentObjectPool(path, flag='x', pool_size=args.pool_mib << 20)
    try:
        gran = pool.stats()['granularity']
        if op == 'append':
            target = pool.new(pmemobj.PersistentList)
        elif op == 'dict_set':
            target = pool.new(pmemobj.PersistentDict)
        else:
            target = pool.new(PObj)
        pool.root = target
        txn = None if group == 1 else pool.transaction
        run_loop(op, target, warm, group, txn, None, args.keys, start=0)   # warm-up, untimed
        gc.collect()
        s0 = pool.stats()
        secs = run_loop(op, target, n, group, txn, None, args.keys, start=warm)
        s1 = pool.stats()
        # a check that the last value is there
        if op == 'append':
            ok = len(target) == warm + n and target[-1] == warm + n - 1
        elif op == 'dict_set':
            ok = target[(warm + n - 1) % args.keys] == warm + n - 1
        else:
            ok = target.value == warm + n - 1
    finally:
        pool.close()
        os.remove(path)
    txs = n // group
    delta = {k: s1[k] - s0[k] for k in ('commits', 'fences', 'syncs', 'flushed_lines',
                                        'log_bytes', 'checkpoints')}
    return {
        'engine': 'ferrite', 'medium': medium, 'op': op, 'shape': shape, 'n': n,
        'transactions': txs, 'seconds': secs, 'ops_per_s': n / secs, 'us_per_op': secs / n * 1e6,
        'granularity': gran, 'counters': delta,
        'syncs_per_tx': delta['syncs'] / txs, 'fences_per_tx': delta['fences'] / txs,
        'commits_per_tx': delta['commits'] / txs, 'log_bytes_per_tx': delta['log_bytes'] / txs,
        'verified': bool(ok),
    }


def cell_pickle(args, medium, directory, op, shape):
    group = 1 if shape == 'op/tx' else args.group
    n = round_n(int(default_n(DEFAULT_N_PICKLE, medium, shape, op) * args.scale), group)
    path = os.path.join(directory, 'ferrite-pybench-{}.pickle'.format(os.getpid()))
    if op == 'append':
        target = []
    elif op == 'dict_set':
        target = {}
    else:
        target = Obj()
    # Same starting state as the ferrite cell after its warm-up would be
    # too costly to pickle for append; a small untimed warm-up instead.
    warm = round_n(max(group, n // 20), group)
    run_loop(op, target, warm, group, None, None, args.keys, start=0)
    dump = pickle.dump
    proto = pickle.HIGHEST_PROTOCOL
    fsync = os.fsync

    def save():
        with open(path, 'wb') as f:
            dump(target, f, proto)
            f.flush()
            fsync(f.fileno())

    save()
    gc.collect()
    secs = run_loop(op, target, n, group, None, save, args.keys, start=warm)
    size = os.path.getsize(path)
    os.remove(path)
    txs = n // group
    return {
        'engine': 'pickle+fsync', 'medium': medium, 'op': op, 'shape': shape, 'n': n,
        'transactions': txs, 'seconds': secs, 'ops_per_s': n / secs, 'us_per_op': secs / n * 1e6,
        'final_pickle_bytes': size, 'syncs_per_tx': 1.0,
    }


def cell_volatile(args, op):
    n = max(1, int(DEFAULT_N_VOLATILE[op] * args.scale))
    if op == 'append':
        target = []
    elif op == 'dict_set':
        target = {}
    else:
        target = Obj()
    gc.collect()
    secs = run_loop(op, target, n, 1, None, None, args.keys)
    return {'engine': 'volatile', 'op': op, 'n': n, 'seconds': secs,
            'ops_per_s': n / secs, 'us_per_op': secs / n * 1e6}


# --- the media ----------------------------------------------------------------

def run_medium(args, medium, directory):
    """Every cell of one medium in this process; the environment must be
    right already (see ensure_env). Returns (cells, granularity)."""
    cells = []
    for op in OPS:
        for shape in SHAPES:
            if not args.no_ferrite:
                c = cell_ferrite(args, medium, directory, op, shape)
                cells.append(c)
                if not args.quiet:
                    print('  {:10s} {:8s} {:7s} ferrite      {:>12,.0f} ops/s'.format(
                        medium, op, shape, c['ops_per_s']), file=sys.stderr, flush=True)
            if not args.no_pickle:
                c = cell_pickle(args, medium, directory, op, shape)
                cells.append(c)
                if not args.quiet:
                    print('  {:10s} {:8s} {:7s} pickle+fsync {:>12,.0f} ops/s'.format(
                        medium, op, shape, c['ops_per_s']), file=sys.stderr, flush=True)
    return cells


def probe_granularity(directory):
    """The granularity libpmem2 gives a new pool in directory with the
    current environment."""
    path = os.path.join(directory, 'ferrite-pybench-probe-{}.pool'.format(os.getpid()))
    if os.path.exists(path):
        os.remove(path)
    pool = pmemobj.PersistentObjectPool(path, flag='x')
    try:
        return pool.stats()['granularity']
    finally:
        pool.close()
        os.remove(path)


WANT_GRAN = {'cache-line': 'cache_line', 'page': 'page'}


def set_env_for(medium):
    if medium == 'cache-line':
        os.environ[ENV_GRAN] = 'cacheline'
    else:
        os.environ.pop(ENV_GRAN, None)


def medium_cells(args, medium, directory):
    """Runs a medium in this process when setting os.environ before the
    open is enough (checked by a probe pool); otherwise re-executes this
    script for that medium with the variable in its environment."""
    set_env_for(medium)
    got = probe_granularity(directory)
    if got == WANT_GRAN[medium]:
        return run_medium(args, medium, directory), 'in-process (os.environ set before open)'
    env = dict(os.environ)
    if medium == 'cache-line':
        env[ENV_GRAN] = 'cacheline'
    else:
        env.pop(ENV_GRAN, None)
    cmd = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:] + [CHILD_FLAG, medium]
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out), 'child process ({} probe gave {!r})'.format(medium, got)


# --- the report ---------------------------------------------------------------

def ratio(a, b):
    if not a or not b:
        return '-'
    r = a / b
    if r >= 1:
        return '{:.3g}'.format(r) if r < 100 else '{:,.0f}'.format(r)
    return '1/{:.3g}'.format(1 / r) if 1 / r < 100 else '1/{:,.0f}'.format(1 / r)


def fmt_rate(x):
    return '{:,.0f}'.format(x)


def fmt_us(x):
    return '{:.3g}'.format(x) if x < 1000 else '{:,.0f}'.format(x)


def build_rows(result):
    vol = {c['op']: c for c in result['volatile']}
    by = {(c['engine'], c['medium'], c['op'], c['shape']): c for c in result['cells']}
    rows = []
    for medium in MEDIA:
        for op in OPS:
            for shape in SHAPES:
                f = by.get(('ferrite', medium, op, shape))
                p = by.get(('pickle+fsync', medium, op, shape))
                v = vol.get(op)
                q = QUOTED_NVM.get((medium, op)) if shape == 'op/tx' else None
                row = {'medium': medium, 'op': op, 'shape': shape,
                       'ferrite': f, 'pickle': p, 'volatile': v, 'quoted_nvm': q}
                if f:
                    row['ratio_volatile'] = f['ops_per_s'] / v['ops_per_s'] if v else None
                    row['ratio_pickle'] = f['ops_per_s'] / p['ops_per_s'] if p else None
                    row['ratio_quoted_nvm'] = f['ops_per_s'] / q if q else None
                rows.append(row)
    return rows


def print_table(result, out=sys.stdout):
    m = result['machine']
    w = out.write
    w('ferrite.pmemobj benchmark\n')
    w('python {} ({}); ferrite from {}\n'.format(m['python'], m['executable'], m['ferrite_path']))
    w('machine: {} CPUs (nproc), {}; load average (1/5/15 min) start {}, end {}\n'.format(
        m['nproc'], m['kernel'], m['load_start'], m['load_end']))
    for medium in MEDIA:
        d = result['media'].get(medium)
        if d:
            w('{:10s} media: {} ({}, {}, mounted on {}); pools run {}; pool granularity {}\n'.format(
                medium, d['dir'], d['fs']['fstype'], d['fs']['device'], d['fs']['mount'],
                d['how'], d['granularity']))
    w('dict_set keys: int, i % {}; attr_set: one attribute (.value) set to i; '
      'pool {} MiB; timed run per cell: 1, after an untimed warm-up of N/20 ops\n'.format(
          result['args']['keys'], result['args']['pool_mib']))
    w('\n')
    hdr = ('| media | op | shape | N ferrite | ferrite ops/s | µs/op | syncs/tx | fences/tx | commits/tx '
           '| volatile ops/s | ferrite/volatile | N pickle | pickle+fsync ops/s '
           '| ferrite/pickle+fsync | nvm.pmemobj ops/s (QUOTED, not measured) '
           '| ferrite/nvm.pmemobj (quoted) |\n')
    w(hdr)
    w('|' + '---|' * 16 + '\n')
    for r in build_rows(result):
        f, p, v, q = r['ferrite'], r['pickle'], r['volatile'], r['quoted_nvm']
        cols = [r['medium'], r['op'], r['shape']]
        if f:
            cols += ['{:,}'.format(f['n']), fmt_rate(f['ops_per_s']), fmt_us(f['us_per_op']),
                     '{:.3g}'.format(f['syncs_per_tx']), '{:.3g}'.format(f['fences_per_tx']),
                     '{:.3g}'.format(f['commits_per_tx'])]
        else:
            cols += ['-'] * 6
        cols += [fmt_rate(v['ops_per_s']) if v else '-',
                 ratio(f and f['ops_per_s'], v and v['ops_per_s'])]
        cols += ['{:,}'.format(p['n']) if p else '-', fmt_rate(p['ops_per_s']) if p else '-',
                 ratio(f and f['ops_per_s'], p and p['ops_per_s'])]
        cols += [fmt_rate(q) if q else '-', ratio(f and f['ops_per_s'], q) if q else '-']
        w('| ' + ' | '.join(cols) + ' |\n')
    w('\n')
    w('Ratios are of throughputs (ops/s): ferrite ÷ the other; "1/50" means 50 times slower.\n')
    w('syncs/tx, fences/tx, commits/tx: pool.stats() deltas over the timed ops ÷ transactions '
      '(N for op/tx, N/100 for 100/tx); checkpoints included as they occur '
      '(checkpoints in the timed ops: {}).\n'.format(', '.join(
          '{} {} {}: {}'.format(c['medium'], c['op'], c['shape'], c['counters']['checkpoints'])
          for c in result['cells'] if c['engine'] == 'ferrite' and c['counters']['checkpoints'])
          or 'none'))
    w('volatile N: {}; pickle+fsync: pickle.dump(state, protocol {}) into a file opened "wb" '
      'in the media directory, flush, os.fsync, after each transaction\n'.format(
          ', '.join('{} {:,}'.format(v['op'], v['n']) for v in result['volatile']),
          pickle.HIGHEST_PROTOCOL))
    w('nvm.pmemobj figures: QUOTED from an earlier measurement of the original library on this '
      'machine (one operation per transaction), not measured by this script.\n')
    # targets
    notes = []
    for r in build_rows(result):
        f = r['ferrite']
        if not f or r['shape'] != 'op/tx':
            continue
        if r['medium'] == 'cache-line' and r['quoted_nvm']:
            ok = r['ratio_quoted_nvm'] >= TARGET_CACHE_SPEEDUP
            notes.append('target cache-line {} >= {:.0f}x nvm.pmemobj: {:.1f}x {}'.format(
                r['op'], TARGET_CACHE_SPEEDUP, r['ratio_quoted_nvm'], 'met' if ok else 'MISSED'))
        if r['medium'] == 'page':
            cnt, txs = f['counters'], f['transactions']
            if f['syncs_per_tx'] <= TARGET_PAGE_SYNCS + 1e-9:
                ok = 'met'
            elif cnt['syncs'] - (cnt['commits'] - txs) <= txs * TARGET_PAGE_SYNCS:
                ok = 'MISSED by the heap\'s own records only (one sync per user commit)'
            else:
                ok = 'MISSED'
            notes.append('target page {} one sync per transaction: {:.3f} {} (= 1 for the '
                         'transaction + {:.3f} for the engine\'s own records, {} commits beyond '
                         'one per transaction, + {:.3f} other syncs: {} checkpoints)'.format(
                             r['op'], f['syncs_per_tx'], ok,
                             (cnt['commits'] - txs) / txs, cnt['commits'] - txs,
                             (cnt['syncs'] - cnt['commits']) / txs, cnt['checkpoints']))
    for c in result['cells']:
        if c['engine'] == 'ferrite' and not c['verified']:
            notes.append('VERIFY FAILED: {} {} {}'.format(c['medium'], c['op'], c['shape']))
    for n in notes:
        w(n + '\n')


# --- main ---------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--shm-dir', default='/dev/shm',
                    help='directory of the cache-line media pools (default /dev/shm)')
    ap.add_argument('--disk-dir', default='/var/tmp',
                    help='directory of the page media pools, on a disk file system (/var/tmp)')
    ap.add_argument('--media', default=','.join(MEDIA),
                    help='media to run: cache-line,page (both)')
    ap.add_argument('--scale', type=float, default=1.0,
                    help='multiply every default N by this (1.0; 0.01 for a smoke test)')
    ap.add_argument('--keys', type=int, default=4096, help='dict_set: distinct int keys (4096)')
    ap.add_argument('--group', type=int, default=100, help='ops per transaction in the grouped shape (100; its rows keep the label 100/tx)')
    ap.add_argument('--pool-mib', type=int, default=256, help='pool size in MiB (256)')
    ap.add_argument('--json', metavar='FILE', help="also write the results as JSON ('-': stdout)")
    ap.add_argument('--no-pickle', action='store_true', help='skip the pickle+fsync baseline')
    ap.add_argument('--no-ferrite', action='store_true', help='skip ferrite (baselines only)')
    ap.add_argument('--allow-tmpfs', action='store_true',
                    help='accept a tmpfs --disk-dir (msync costs nothing there: not page media)')
    ap.add_argument('--quiet', action='store_true', help='no progress lines on stderr')
    ap.add_argument(CHILD_FLAG, dest='child_media', help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    dirs = {'cache-line': args.shm_dir, 'page': args.disk_dir}
    if args.child_media:   # re-executed for one medium: cells as JSON on stdout
        cells = run_medium(args, args.child_media, dirs[args.child_media])
        json.dump(cells, sys.stdout)
        return 0
    media = [m for m in args.media.split(',') if m]
    for m in media:
        if m not in MEDIA:
            sys.exit('unknown medium {!r} (cache-line, page)'.format(m))
    fs = {m: fs_type(dirs[m]) for m in media}
    if 'page' in fs and fs['page']['fstype'] in ('tmpfs', 'ramfs') and not args.allow_tmpfs:
        sys.exit('--disk-dir {} is on {}: not disk-backed (use --allow-tmpfs to insist)'.format(
            args.disk_dir, fs['page']['fstype']))
    result = {'args': vars(args), 'machine': {}, 'media': {}, 'cells': [], 'volatile': []}
    result['machine'] = {
        'nproc': os.cpu_count(), 'load_start': loadavg(),
        'python': platform.python_version(), 'executable': sys.executable,
        'kernel': platform.platform(), 'ferrite_path': os.path.dirname(ferrite.__file__),
        'started': time.strftime('%Y-%m-%d %H:%M:%S'),
    }
    try:
        result['machine']['nproc'] = int(subprocess.run(['nproc'], capture_output=True,
                                                        text=True).stdout)
    except (OSError, ValueError):
        pass
    t0 = time.time()
    for op in OPS:
        result['volatile'].append(cell_volatile(args, op))
    for m in media:
        cells, how = medium_cells(args, m, dirs[m])
        grans = sorted({c['granularity'] for c in cells if c['engine'] == 'ferrite'})
        result['cells'] += cells
        result['media'][m] = {'dir': os.path.realpath(dirs[m]), 'fs': fs[m], 'how': how,
                              'granularity': ','.join(grans) or '-'}
        for c in cells:
            if c['engine'] == 'ferrite' and c['granularity'] != WANT_GRAN[m]:
                sys.exit('{} cell ran with granularity {!r}, not {!r}'.format(
                    m, c['granularity'], WANT_GRAN[m]))
    result['machine']['load_end'] = loadavg()
    result['machine']['wall_seconds'] = time.time() - t0
    result['rows'] = build_rows(result)
    print_table(result)
    if args.json:
        if args.json == '-':
            json.dump(result, sys.stdout, indent=1, default=str)
            sys.stdout.write('\n')
        else:
            with open(args.json, 'w') as f:
                json.dump(result, f, indent=1, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
