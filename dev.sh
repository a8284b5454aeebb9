#!/usr/bin/env bash
# ferrite developer entry point.
#
#   ./dev.sh demo        install what is missing, build, run the demonstration
#   ./dev.sh test        install what is missing, build, run the whole test suite
#   ./dev.sh test-asan [ARGS]  the unit and crash suites under AddressSanitizer +
#                        UBSan (build-asan/); ARGS go to `meson test` instead
#   ./dev.sh test-tsan [ARGS]  the concurrent suite under ThreadSanitizer (build-tsan/,
#                        clang); ARGS go to `meson test` instead
#                        (both build only what the tests they run need; a finding fails)
#   ./dev.sh fuzz [SEC]  libFuzzer on mutated pool images, SEC seconds for each of the two
#                        harnesses (byte patches; structure-aware, re-sealed) (build-fuzz/, clang)
#   ./dev.sh install-check  meson install into a scratch prefix; build the examples out of
#                        tree with `pkg-config --cflags --libs ferrite` and run them
#   ./dev.sh format      apply .clang-format to every C++ file git tracks
#   ./dev.sh format-check  fail (listing them) when a tracked C++ file is not formatted
#   ./dev.sh deps        only install the Debian packages ferrite needs
#   ./dev.sh build       only configure and build (build/)
#
# FERRITE_WERROR=1 turns compiler warnings into errors (CI sets it).
set -euo pipefail
cd "$(dirname "$0")"
# ccache (meson uses it when installed) leaves the build directory out of
# its hash: build-install's compile commands are build/'s exactly and are
# served from the cache (CI's install-check built everything again). Debug
# info may then name the other build directory; the sources are the same.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

packages=(g++ clang meson ninja-build pkg-config libpmem2-dev catch2 libxxhash-dev
          libcli11-dev nlohmann-json3-dev libpmemobj-dev gnuplot-nox libclang-rt-14-dev
          python3 ccache clang-format pybind11-dev python3-dev python3-pytest
          liblmdb-dev libsqlite3-dev)

deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# setup DIR [meson options...]: set up DIR if needed (or apply the options).
setup() {
  local dir=$1
  shift
  local werror=()
  [ "${FERRITE_WERROR:-0}" = 1 ] && werror=(--werror)
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "${werror[@]}" "$@" >/dev/null
  else
    meson configure "$dir" "${werror[@]}" "$@" >/dev/null 2>&1 || true
  fi
}

# configure DIR [meson options...]: setup, then build ${TARGET}
# (everything when unset).
configure() {
  setup "$@"
  ninja -C "$1" ${TARGET:-}
}

# run_tests DIR: meson test, then the plain summary line CI reads.
run_tests() {
  local dir=$1
  shift
  local rc=0
  meson test -C "$dir" --print-errorlogs "$@" || rc=$?
  python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r == "SKIP": skipped += 1
    else: bad += 1
print(f"{ok} passed, {bad} failed, {skipped} skipped")
PY
  return $rc
}

# The tutorial's hello (docs/tutorial.md) run twice in a scratch directory,
# then the Python tutorial's hello (examples/python/hello.py) twice:
# the first run asks a name (answered here on stdin), the second, a new
# process, remembers it. Then `ferrite info` on the pool it keeps.
demo() {
  local dir bin src=$PWD
  dir=$(mktemp -d)
  bin=$PWD/build
  (
    cd "$dir"
    echo "== first run, in $dir: hello asks a name (we answer Ada) and keeps it in hello_world.pool"
    echo Ada | "$bin/examples/hello"
    echo
    echo "== second run, a new process: hello remembers"
    "$bin/examples/hello"
    echo "== ferrite dump hello_world.pool: the pool decoded without the program"
    "$bin/tools/ferrite" dump hello_world.pool
    echo
    echo "== the same in Python (nvm.pmemobj's tutorial hello, unchanged): asks, then remembers"
    echo David | PYTHONPATH=$bin/python /usr/bin/python3 "$src/examples/python/hello.py"
    echo
    PYTHONPATH=$bin/python /usr/bin/python3 "$src/examples/python/hello.py"
  )
  rm -rf "$dir"
}

# The install as a user meets it (README, "Install"): meson install into a
# scratch prefix; every installed header compiles on its own and the
# examples build out of tree with exactly `pkg-config --cflags --libs
# ferrite`; hello runs twice and the installed CLI (its rpath, no
# LD_LIBRARY_PATH) reads the pool it kept.
install_check() {
  local prefix src=$PWD
  prefix=$(mktemp -d)
  configure build-install --prefix="$prefix" -Dtests=false
  meson install -C build-install --quiet
  local pcdir libdir
  pcdir=$(dirname "$(find "$prefix" -name ferrite.pc)")
  export PKG_CONFIG_PATH=$pcdir
  libdir=$(pkg-config --variable=libdir ferrite)
  local cxx=${CXX:-g++} n=0 h
  for h in $(cd "$prefix/include" && find ferrite -name '*.h' | sort); do
    echo "#include <$h>" | $cxx -x c++ -fsyntax-only $(pkg-config --cflags ferrite) - ||
      { echo "install-check: <$h> does not compile on its own"; return 1; }
    n=$((n + 1))
  done
  echo "install-check: $n installed headers compile on their own"
  local out=$prefix/examples
  mkdir -p "$out"
  local ex
  for ex in examples/hello.cc examples/demo.cc examples/visits.cc examples/bank.cc examples/guessing/*.cc \
      examples/guessing/dict_version/*.cc; do
    local name
    name=$(basename "${ex%.cc}")
    [[ $ex == */dict_version/* ]] && name=${name}_dict
    $cxx "$src/$ex" -o "$out/$name" $(pkg-config --cflags --libs ferrite)
  done
  echo "install-check: the examples built out of tree: $(ls "$out" | tr '\n' ' ')"
  (
    mkdir "$prefix/run" && cd "$prefix/run"
    echo Ada | LD_LIBRARY_PATH=$libdir "$out/hello" >/dev/null
    LD_LIBRARY_PATH=$libdir "$out/hello" | grep -q "Hello, Ada!" ||
      { echo "install-check: hello did not remember"; exit 1; }
    "$prefix/bin/ferrite" dump hello_world.pool | grep -q "'Ada'" ||
      { echo "install-check: the installed ferrite CLI did not read the pool"; exit 1; }
  )
  echo "install-check: hello remembered; the installed CLI ran from $prefix/bin"
  (
    cd "$prefix/run"  # four threads, transactions that take locks; exit 1 if money was lost
    LD_LIBRARY_PATH=$libdir "$out/bank" >/dev/null && LD_LIBRARY_PATH=$libdir "$out/bank" |
      grep -q "^transfers [0-9]*, total 800," ||
      { echo "install-check: bank lost money or failed"; exit 1; }
  )
  echo "install-check: bank kept its total over two runs of four threads"
  # The Python packages: the tutorial's hello (examples/python/hello.py,
  # `from nvm.pmemobj import ...`) from the installed files alone. A scratch
  # prefix is not on Debian's sys.path: PYTHONPATH names it (a /usr/local
  # install needs none, python/meson.build).
  local site
  site=$(dirname "$(dirname "$(find "$prefix" -path '*/nvm/pmemobj.py' | head -1)")")
  [ -f "$site/ferrite/pmemobj.py" ] || { echo "install-check: the Python packages were not installed"; return 1; }
  (
    cd "$prefix/run"
    echo David | PYTHONPATH=$site /usr/bin/python3 "$src/examples/python/hello.py" >/dev/null
    PYTHONPATH=$site /usr/bin/python3 "$src/examples/python/hello.py" | grep -q "^Hello, David$" ||
      { echo "install-check: the Python hello did not remember"; exit 1; }
    "$prefix/bin/ferrite" dump hello_world.pmem | grep -q "'David'" ||
      { echo "install-check: the CLI did not read the Python pool"; exit 1; }
  )
  echo "install-check: the Python hello ran from $site and remembered"
  rm -rf "$prefix"
}

# The C++ files git tracks (include/ferrite is a link to the root: skipped).
cxx_files() { git ls-files -- '*.h' '*.cc' ':!:include/*'; }

format_check() {
  local bad
  bad=$(cxx_files | while read -r f; do clang-format "$f" | cmp -s - "$f" || echo "$f"; done)
  if [ -n "$bad" ]; then
    echo "format-check: not formatted with .clang-format (run ./dev.sh format):"
    echo "$bad"
    return 1
  fi
  echo "format-check: $(cxx_files | wc -l) files formatted"
}

case "${1:-}" in
  deps) deps ;;
  build) deps; configure build ;;
  demo) deps; configure build; demo ;;
  test) deps; configure build; run_tests build ;;
  # Sanitizer runs: `meson test` builds only what the selected tests need
  # (not the benchmark); the first report of any sanitizer fails its test.
  test-asan)
    deps
    shift
    [ $# -gt 0 ] || set -- --suite unit --suite crash
    # -g1: line tables only (reports keep file:line); full debug info
    # doubles the compile time of a sanitized build.
    setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-g1
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      run_tests build-asan "$@" ;;
  test-tsan)
    deps
    shift
    [ $# -gt 0 ] || set -- --suite concurrent
    CXX=clang++ setup build-tsan -Db_sanitize=thread -Db_lundef=false
    TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1 \
      run_tests build-tsan "$@" ;;
  fuzz)
    deps
    CXX=clang++ TARGET="tests/pool_fuzz tests/structured_fuzz" configure build-fuzz \
      -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true -Dtests=true
    mkdir -p build-fuzz/corpus build-fuzz/structured_corpus
    ASAN_OPTIONS=detect_leaks=0 build-fuzz/tests/pool_fuzz -max_total_time="${2:-60}" \
      -max_len=4096 -print_final_stats=1 build-fuzz/corpus
    ASAN_OPTIONS=detect_leaks=0 build-fuzz/tests/structured_fuzz -max_total_time="${2:-60}" \
      -max_len=1024 -print_final_stats=1 build-fuzz/structured_corpus tests/fuzz/structured_seeds ;;
  install-check) deps; install_check ;;
  format) deps; cxx_files | xargs clang-format -i ;;
  format-check) deps; format_check ;;
  bench-smoke) deps; configure build; build/bench/ferrite-bench --smoke ;;  # every bench cell, tiny op counts
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
