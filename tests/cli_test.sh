#!/usr/bin/env bash
# End-to-end tests of the `ferrite` CLI: exit statuses and messages.
# Usage: cli_test.sh PATH/TO/ferrite
set -u
ferrite=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
passed=0
failed=0

# expect STATUS DESCRIPTION -- COMMAND...
expect() {
  local want=$1 desc=$2
  shift 3
  "$@" >"$dir/out" 2>"$dir/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $desc: exit $got, wanted $want"
    sed 's/^/  out: /' "$dir/out"
    sed 's/^/  err: /' "$dir/err"
  fi
}

# contains FILE TEXT DESCRIPTION
contains() {
  if grep -q -- "$2" "$dir/$1"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $3: '$2' not in $1"
    sed 's/^/  /' "$dir/$1"
  fi
}

expect 0 "help" -- "$ferrite" --help
contains out "create" "help lists create"
expect 2 "no subcommand" -- "$ferrite"
expect 2 "unknown subcommand" -- "$ferrite" frobnicate
expect 0 "create" -- "$ferrite" create "$dir/p.pool" --size 8M
contains out "created" "create reports"
expect 0 "info" -- "$ferrite" info "$dir/p.pool"
contains out "format version  1" "info shows version"
contains out "clean shutdown  yes" "info shows clean shutdown"
contains out "heap" "info shows regions"
expect 0 "info --json" -- "$ferrite" info "$dir/p.pool" --json
contains out '"format_version": 1' "json version"
contains out '"granularity": "page"' "json granularity"
if command -v python3 >/dev/null; then
  cp "$dir/out" "$dir/info.json"
  expect 0 "json parses" -- python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$dir/info.json"
fi
expect 2 "create existing" -- "$ferrite" create "$dir/p.pool"
contains err "file_exists" "create existing says file_exists"
expect 2 "create too small" -- "$ferrite" create "$dir/s.pool" --size 1M
contains err "minimum" "too small names the minimum"
expect 2 "bad size" -- "$ferrite" create "$dir/s.pool" --size 12Q
expect 2 "info missing" -- "$ferrite" info "$dir/missing.pool"
contains err "file_missing" "missing file"
: >"$dir/empty"
expect 2 "info empty" -- "$ferrite" info "$dir/empty"
contains err "not_a_pool" "empty file"
head -c 100000 /dev/urandom >"$dir/garbage"
expect 2 "info garbage" -- "$ferrite" info "$dir/garbage"
contains err "not_a_pool" "garbage file"
head -c 200 "$dir/p.pool" >"$dir/trunc.pool"
expect 2 "info truncated header" -- "$ferrite" info "$dir/trunc.pool"
contains err "truncated" "truncated header"
head -c 1000000 "$dir/p.pool" >"$dir/trunc2.pool"
expect 2 "info truncated heap" -- "$ferrite" info "$dir/trunc2.pool"
contains err "truncated" "truncated heap"
cp "$dir/p.pool" "$dir/bad.pool"
printf 'XXXX' | dd of="$dir/bad.pool" bs=1 seek=120 conv=notrunc status=none
expect 2 "info corrupted header" -- "$ferrite" info "$dir/bad.pool"
contains err "corrupted" "corrupted header"
cp "$dir/p.pool" "$dir/sb.pool"
printf 'XXXX' | dd of="$dir/sb.pool" bs=1 seek=$((4096 + 30)) conv=notrunc status=none
expect 1 "info one bad superblock slot" -- "$ferrite" info "$dir/sb.pool"
contains out "problem: superblock slot 0" "bad slot reported"

# check and grow
expect 0 "check good pool" -- "$ferrite" check "$dir/p.pool"
contains out "ok" "check says ok"
expect 0 "check --json" -- "$ferrite" check "$dir/p.pool" --json
contains out '"ok": true' "check json ok"
heap_offset=$(python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1]))["regions"] if r["name"]=="heap"][0]["offset"])' "$dir/info.json")
cp "$dir/p.pool" "$dir/heap.pool"
printf '\xff\xff\xff\xff' | dd of="$dir/heap.pool" bs=1 seek=$((heap_offset + 8)) conv=notrunc status=none
expect 1 "check damaged chunk table" -- "$ferrite" check "$dir/heap.pool"
contains out "continuation chunk without a head" "check names the problem"
contains out "offset $((heap_offset + 262144))" "check names the offset"
expect 2 "check garbage" -- "$ferrite" check "$dir/garbage"
expect 1 "check corrupted header" -- "$ferrite" check "$dir/bad.pool"
expect 0 "grow" -- "$ferrite" grow "$dir/p.pool" --size 16M
contains out "to 16777216 bytes" "grow reports the new size"
expect 0 "check grown pool" -- "$ferrite" check "$dir/p.pool"
expect 2 "grow smaller" -- "$ferrite" grow "$dir/p.pool" --size 8M
contains err "invalid_argument" "grow smaller is invalid_argument"
expect 2 "grow missing size" -- "$ferrite" grow "$dir/p.pool"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
