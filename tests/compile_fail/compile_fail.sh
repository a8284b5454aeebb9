#!/usr/bin/env bash
# compile_fail.sh SOURCE_ROOT EXPECT FILE CXX...: compiles FILE (syntax
# only) against the tree's headers. EXPECT "ok": it must compile. Else it
# must fail with a diagnostic containing EXPECT (so a file broken for
# another reason does not pass).
set -u
root=$1 expect=$2 file=$3
shift 3
out=$("$@" -std=c++20 -fsyntax-only -I"$root" -I"$root/include" "$file" 2>&1)
rc=$?
if [ "$expect" = ok ]; then
  [ $rc -eq 0 ] && exit 0
  echo "$file should compile:"; echo "$out"; exit 1
fi
if [ $rc -eq 0 ]; then echo "$file compiled; it must not"; exit 1; fi
if ! grep -qF -- "$expect" <<<"$out"; then
  echo "$file failed, but without \"$expect\":"; echo "$out"; exit 1
fi
echo "$file: refused as expected"
