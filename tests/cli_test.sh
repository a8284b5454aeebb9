#!/usr/bin/env bash
# End-to-end tests of the `ferrite` CLI: exit statuses and messages.
# Usage: cli_test.sh PATH/TO/ferrite PATH/TO/typed_pool_fixture PATH/TO/container_pool_fixture
#                    PATH/TO/value_pool_fixture PATH/TO/fragmented_pool_fixture
set -u
ferrite=$1
fixture=$2
containers=$3
values=$4
fragmented=$5
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

# contains FILE TEXT DESCRIPTION (TEXT is a fixed string)
contains() {
  if grep -q -F -- "$2" "$dir/$1"; then
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
contains out "format version  2" "info shows version"
contains out "clean shutdown  yes" "info shows clean shutdown"
contains out "heap" "info shows regions"
expect 0 "info --json" -- "$ferrite" info "$dir/p.pool" --json
contains out '"format_version": 2' "json version"
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
contains out "has a foreign entry" "check names the problem"
contains out "offset $((heap_offset + 4096))" "check names the offset"
expect 2 "check garbage" -- "$ferrite" check "$dir/garbage"
expect 1 "check corrupted header" -- "$ferrite" check "$dir/bad.pool"
expect 0 "grow" -- "$ferrite" grow "$dir/p.pool" --size 16M
contains out "to 16777216 bytes" "grow reports the new size"
expect 0 "check grown pool" -- "$ferrite" check "$dir/p.pool"
expect 2 "grow smaller" -- "$ferrite" grow "$dir/p.pool" --size 8M
contains err "invalid_argument" "grow smaller is invalid_argument"
expect 2 "grow missing size" -- "$ferrite" grow "$dir/p.pool"

# dump: the containers as their own code writes them (container_pool_fixture)
expect 0 "container fixture" -- "$containers" "$dir/c.pool"
expect 0 "dump real containers" -- "$ferrite" dump "$dir/c.pool" --max-elements 1000
contains out "root: test.Shelf" "dump names the root type"
contains out "numbers: ferrite.vector<i64> size 10: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" "dump decodes a vector"
contains out 'words: ferrite.vector<ferrite.string> size 5: ["w0", "w1", "w2", "w3", "w4"]' "dump decodes strings in a vector"
contains out "by_name: ferrite.hash_map<ferrite.string,i64> size 200" "dump decodes a grown hash_map"
contains out '"k199": 199' "dump finds a key of a split bucket"
contains out 'ordered: ferrite.map<i64,ferrite.string> size 300' "dump decodes a multi-level map"
contains out "marks: ferrite.set<i32> size 3: [-3, 0, 5]" "dump decodes a set in order"
contains out "0 problems" "dump of real containers finds no problem"
cp "$dir/out" "$dir/c.txt"
expect 0 "map in key order" -- python3 -c '
import re, sys
keys = [int(m.group(1)) for m in re.finditer(r"^    (\d+): \"v\1\"$", open(sys.argv[1]).read(), re.M)]
assert keys == list(range(300)), keys[:10]
' "$dir/c.txt"
expect 0 "dump real containers --json" -- "$ferrite" dump "$dir/c.pool" --json --max-elements 1000
cp "$dir/out" "$dir/c.json"
expect 0 "json counts the elements" -- python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = d["root"]["fields"]
assert len(f["by_name"]["entries"]) == 200, len(f["by_name"]["entries"])
assert len(f["ordered"]["entries"]) == 300
assert len(f["numbers"]["elements"]) == 10
' "$dir/c.json"

# gc: the container fixture has nothing to free; the typed one one orphan
expect 0 "gc real containers" -- "$ferrite" gc "$dir/c.pool"
contains out "0 freed" "gc frees nothing reachable"
contains out "ferrite.string: 505 live" "gc counts by type"
expect 0 "gc fixture --json" -- "$fixture" "$dir/g.pool"
expect 0 "gc --json" -- "$ferrite" gc "$dir/g.pool" --json
cp "$dir/out" "$dir/g.json"
expect 0 "gc json counts" -- python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"]["freed"] == 1, d["total"]
assert d["by_type"]["test.Node"]["freed"] == 1
' "$dir/g.json"
expect 0 "gc again frees nothing" -- "$ferrite" gc "$dir/g.pool"
contains out "0 freed" "a second gc frees nothing"
expect 0 "check after gc" -- "$ferrite" check "$dir/g.pool"
# check walks the graph as gc and dump do (engine/check.h): an orphan is
# counted, not a problem; a chunk table zeroed but for its own entry (the
# allocator's walk alone sees an empty heap) is found through the root
expect 0 "typed fixture for check" -- "$fixture" "$dir/k.pool"
expect 0 "check counts an orphan, not a problem" -- "$ferrite" check "$dir/k.pool"
contains out "1 unreachable" "check counts the orphan"
expect 0 "info of the check fixture" -- "$ferrite" info "$dir/k.pool" --json
k_heap=$(python3 -c 'import json,sys; print([r for r in json.load(sys.stdin)["regions"] if r["name"]=="heap"][0]["offset"])' <"$dir/out")
cp "$dir/k.pool" "$dir/k0.pool"
dd if=/dev/zero of="$dir/k0.pool" bs=1 seek=$((k_heap + 8)) count=4088 conv=notrunc status=none
expect 1 "check a heap whose table lost every block" -- "$ferrite" check "$dir/k0.pool"
contains out "the root is not an allocated object" "check reaches the root through the table"
contains out "[graph]" "check names the kind of problem"
expect 1 "check --json of that heap" -- "$ferrite" check "$dir/k0.pool" --json
contains out '"kind": "graph"' "check json has the kind"
expect 1 "dump agrees" -- "$ferrite" dump "$dir/k0.pool"
expect 1 "gc agrees" -- "$ferrite" gc "$dir/k0.pool"
expect 2 "gc missing pool" -- "$ferrite" gc "$dir/missing.pool"
expect 2 "gc without path" -- "$ferrite" gc
"$ferrite" create "$dir/empty.pool" >/dev/null
expect 0 "gc without a root" -- "$ferrite" gc "$dir/empty.pool"
contains out "no root" "gc says the pool has no root"
# dump: a value pool (value_pool_fixture: every kind of cell, a shared list, a cycle)
expect 0 "value fixture" -- "$values" "$dir/v.pool"
expect 0 "dump values" -- "$ferrite" dump "$dir/v.pool"
cp "$dir/out" "$dir/v.txt"
contains v.txt "root: ferrite.value @" "value root"
contains v.txt ": dict @" "root dict block"
for line in "'none': None" "'yes': True" "'int': -7" "'float': 2.5" "'short': 'hi'" \
    "'long': 'a str too long for a cell'" "'raw': b'\x00\x01ab'" "'blob': b'0123456789abcdefXYZ'" \
    "'tuple': (1, 'x', 2.5)" "'one': (1,)" "'empty': ()" "'set': {3}" "'no_set': set()" \
    "'point': <geo.Point encoded, 3 bytes>" "(1, 2): 'tuple key'" "'self': {...@"; do
  contains v.txt "$line" "value repr $line"
done
contains v.txt "frozenset({" "frozenset repr"
contains v.txt "<test.Player {" "object repr"
contains v.txt "'name': 'Ada'" "object attribute"
contains v.txt "'number': 42" "nested dict"
contains v.txt "'guesses': [25]" "nested list"
contains v.txt "[1, 2]" "shared list printed once"
contains v.txt "[...@" "shared list referenced"
contains v.txt "0 problems" "value pool decodes cleanly"
expect 0 "dump values --json" -- "$ferrite" dump "$dir/v.pool" --json
cp "$dir/out" "$dir/v.json"
expect 0 "value json holds kinds and values" -- python3 - "$dir/v.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
root = d["root"]["value"]
assert root["kind"] == "dict" and root["size"] == 21, root.get("size")
items = {}
for e in root["entries"]:
    k = e["key"]
    items[k["value"] if k["kind"] == "str" else json.dumps(k)] = e["value"]
assert items["none"] == {"kind": "none", "value": None}
assert items["yes"] == {"kind": "bool", "value": True}
assert items["int"] == {"kind": "int", "value": -7}
assert items["float"] == {"kind": "float", "value": 2.5}
assert items["short"] == {"kind": "str", "value": "hi"}
assert items["long"]["value"] == "a str too long for a cell" and items["long"]["offset"] > 0
assert items["raw"]["hex"] == "00016162"
assert items["tuple"]["kind"] == "tuple" and [i["value"] for i in items["tuple"]["items"]] == [1, "x", 2.5]
assert items["empty"] == {"kind": "tuple", "size": 0, "items": []}
assert sorted(i["value"] for i in items["frozen"]["items"]) == ["a", "b"]
assert items["set"]["kind"] == "set" and items["set"]["items"] == [{"kind": "int", "value": 3}]
assert items["point"] == {"kind": "encoded", "codec": "geo.Point", "hex": "332c34"}
p = items["player"]
assert p["kind"] == "object" and p["class"] == "test.Player"
assert p["attributes"]["name"] == {"kind": "str", "value": "Ada"}
nested = {e["key"]["value"]: e["value"] for e in items["nested"]["entries"]}
assert nested["number"]["value"] == 42 and nested["guesses"]["items"][0]["value"] == 25
a, b = items["shared_a"], items["shared_b"]
first, second = (a, b) if "items" in a else (b, a)
assert [i["value"] for i in first["items"]] == [1, 2] and second == {"kind": "list", "ref": first["offset"]}
assert items["self"] == {"kind": "dict", "ref": root["offset"]}
key = [e for e in root["entries"] if e["key"]["kind"] == "tuple"][0]
assert [i["value"] for i in key["key"]["items"]] == [1, 2] and key["value"]["value"] == "tuple key"
assert d["problems"] == 0
assert any(t["name"] == "ferrite.value" and t.get("container") == "value" for t in d["types"])
PY
expect 0 "dump values --max-elements 1" -- "$ferrite" dump "$dir/v.pool" --max-elements 1
contains out "... 20 more" "value dict elements counted"

# dump of damaged value cells: exit 1, a <...> note in place, the rest decoded
"$ferrite" info "$dir/v.pool" --json >"$dir/v_info.json"
# corrupt_cell POOL HOW: damages the cells of the 'tuple' value (1, 'x', 2.5)
corrupt_cell() {
  cp "$dir/v.pool" "$1"
  python3 - "$1" "$dir/v.json" "$dir/v_info.json" "$2" <<'PY'
import json, struct, sys
pool, dump, info, how = sys.argv[1:5]
d = json.load(open(dump)); tag = json.load(open(info))["pool_tag"]
root = d["root"]["value"]
buf = [e["value"] for e in root["entries"] if e["key"].get("value") == "tuple"][0]["offset"]
cells = buf + 8  # after the payload's reference count
with open(pool, "r+b") as fp:
    if how == "kind":        # cell 0: an unknown kind
        fp.seek(cells); fp.write(bytes([99]))
    elif how == "length":    # cell 1: a str of 1000 bytes in the tuple's 56-byte buffer
        fp.seek(cells + 16)
        fp.write(bytes([4, 0]) + (1000).to_bytes(6, "little") + struct.pack("<Q", tag << 48 | buf))
    elif how == "inline":    # cell 1: an inline length past the cell
        fp.seek(cells + 17); fp.write(bytes([40]))
    elif how == "payload":   # the root dict's payload pointer into an object's middle
        fp.seek(d["root"]["offset"] + 8)
        fp.write(struct.pack("<Q", tag << 48 | (root["offset"] + 8)))
PY
}
corrupt_cell "$dir/v1.pool" kind
expect 1 "dump value cell of unknown kind" -- "$ferrite" dump "$dir/v1.pool"
contains out "'tuple': (<value cell of unknown kind 99>, 'x', 2.5)" "unknown kind in place"
contains out "'int': -7" "decoding goes on after a bad cell"
contains out "decoded, 1 problem" "one value problem counted"
expect 1 "dump --json with a bad cell" -- "$ferrite" dump "$dir/v1.pool" --json
contains out '"problem": "value cell of unknown kind 99"' "bad cell in json"
corrupt_cell "$dir/v2.pool" length
expect 1 "dump str longer than its buffer" -- "$ferrite" dump "$dir/v2.pool"
contains out "str of length 1000 does not fit its buffer" "str length checked against its buffer"
corrupt_cell "$dir/v3.pool" inline
expect 1 "dump bad inline length" -- "$ferrite" dump "$dir/v3.pool"
contains out "str cell with inline length 39" "inline length checked"
corrupt_cell "$dir/v4.pool" payload
expect 1 "dump bad dict payload" -- "$ferrite" dump "$dir/v4.pool"
contains out "bad dict payload @" "payload pointer checked"
# randomly damaged value pools: always exit 0, 1 or 2
if python3 - "$ferrite" "$dir/v.pool" "$dir/vz.pool" "$dir/v.json" <<'PY'
import json, random, shutil, subprocess, sys
ferrite, pool, damaged, dump = sys.argv[1:5]
d = json.load(open(dump))
anchors = [d["root"]["offset"], d["root"]["value"]["offset"]]
anchors += [e["value"]["offset"] for e in d["root"]["value"]["entries"] if e["value"].get("offset")]
rng = random.Random(2)
bad = 0
for _ in range(25):
    shutil.copy(pool, damaged)
    with open(damaged, "r+b") as fp:
        for _ in range(rng.randint(1, 6)):
            fp.seek(rng.choice(anchors) + rng.randrange(-32, 256))
            fp.write(bytes(rng.randrange(256) for _ in range(rng.choice([1, 8]))))
    for args in ([], ["--json", "--all"]):
        r = subprocess.run([ferrite, "dump", damaged] + args, capture_output=True, timeout=30)
        if r.returncode not in (0, 1, 2):
            print("dump exited", r.returncode, args)
            bad += 1
sys.exit(1 if bad else 0)
PY
then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: dump of randomly damaged value pools"
fi

# dump: the typed pool from typed_pool_fixture (see its header for the contents)
expect 0 "fixture" -- "$fixture" "$dir/t.pool"
expect 0 "dump" -- "$ferrite" dump "$dir/t.pool"
contains out "root: test.Game @" "dump names the root type"
contains out 'name: "ada"' "char array as text"
contains out "maximum: 100" "i64 field"
contains out "ratio: 0.5" "f32 field"
contains out "small: -3" "i8 field"
contains out "big: 18446744073709551615" "u64 field"
contains out "last: [{x: 1, y: 2}, {x: 3, y: 4}]" "array of structs"
contains out "stats_: {ratio: 0.25, won: true, level: 7, grade: 'A'}" "nested struct"
contains out 'title: "hello \"world\"\n"' "ferrite::string, escaped"
contains out "moves: -> test.Node @" "pointer"
contains out "value: 3" "end of the pointer chain"
contains out "(see above)" "the cycle is printed once"
contains out "scores: ferrite.vector<i64> size 3: [10, 20, 30]" "vector"
contains out '"alpha": 1' "hash_map entry"
contains out '"gamma": 3' "hash_map entry"
contains out "ranks: ferrite.map<i64,i64> size 5: {1: 100, 2: 200, 3: 300, 4: 400, 5: 500}" "map over two leaves"
contains out "tags: ferrite.set<i32> size 3: [7, 8, 9]" "set"
contains out "guard: <lock>" "a pmutex field, not its bytes"
contains out "readers: <shared lock>" "a pshared_mutex field, not its bytes"
contains out "0 problems" "no problems"
expect 0 "dump --max-elements" -- "$ferrite" dump "$dir/t.pool" --max-elements 2
contains out "[10, 20, ... 1 more]" "vector capped"
contains out "{1: 100, 2: 200, ... 3 more}" "map capped"
expect 0 "dump --depth" -- "$ferrite" dump "$dir/t.pool" --depth 2
contains out "(not followed: depth limit)" "depth limit"
expect 2 "dump --depth 0" -- "$ferrite" dump "$dir/t.pool" --depth 0
expect 0 "dump --all" -- "$ferrite" dump "$dir/t.pool" --all
contains out "objects not reached from the root" "all lists unreached objects"
contains out "test.Node (16 bytes)" "the unreachable node"
expect 0 "dump --json" -- "$ferrite" dump "$dir/t.pool" --json
cp "$dir/out" "$dir/t.json"
expect 0 "dump json parses and holds the graph" -- python3 - "$dir/t.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
r = d["root"]
assert r["type"] == "test.Game" and r["offset"] > 0, r
f = r["fields"]
assert f["name"] == "ada" and f["maximum"] == 100 and f["title"] == 'hello "world"\n', f
assert f["last"][1]["fields"] == {"x": 3, "y": 4}, f["last"]
n1 = f["moves"]
n3 = n1["fields"]["next"]["fields"]["next"]
assert n3["type"] == "test.Node" and n3["fields"]["value"] == 3, n3
assert n3["fields"]["next"] == {"ref": n1["offset"]}, n3
assert f["scores"]["elements"] == [10, 20, 30], f["scores"]
assert {e["key"]: e["value"] for e in f["index"]["entries"]} == {"alpha": 1, "beta": 2, "gamma": 3}
assert [e["key"] for e in f["ranks"]["entries"]] == [1, 2, 3, 4, 5]
assert f["tags"]["elements"] == [7, 8, 9]
assert f["guard"] == {"lock": "exclusive"} and f["readers"] == {"lock": "shared"}, f["guard"]
types = {t["name"]: t for t in d["types"]}
assert types["ferrite.pmutex"]["kind"] == "lock" and types["ferrite.pmutex"]["lock"] == "exclusive"
assert types["ferrite.pshared_mutex"]["lock"] == "shared"
# The held locks' words are not zero in the file: dump hid real bytes.
game = types["test.Game"]
with open(os.path.join(os.path.dirname(sys.argv[1]), "t.pool"), "rb") as fp:
    for name in ("guard", "readers"):
        fp.seek(r["offset"] + [x for x in game["fields"] if x["name"] == name][0]["offset"])
        assert int.from_bytes(fp.read(8), "little") != 0, name
assert [x["name"] for x in types["test.Node"]["fields"]] == ["value", "next"], types["test.Node"]
assert types["ferrite.hash_map<ferrite.string,i64>"]["key"] == "ferrite.string"
assert d["problems"] == 0
PY
expect 0 "dump a pool without a root" -- "$ferrite" dump "$dir/p.pool"
contains out "no root object" "dump says there is no root"
expect 2 "dump garbage" -- "$ferrite" dump "$dir/garbage"
contains err "not_a_pool" "dump garbage is not_a_pool"

# dump of damaged pointers: exit 1, a <...> note in place, the rest still decoded
"$ferrite" info "$dir/t.pool" --json >"$dir/t_info.json"
# corrupt_field POOL FIELD HOW: overwrites the root's pointer field FIELD
corrupt_field() {
  cp "$dir/t.pool" "$1"
  python3 - "$1" "$dir/t.json" "$dir/t_info.json" "$2" "$3" <<'PY'
import json, struct, sys
pool, dump, info, field, how = sys.argv[1:6]
d = json.load(open(dump)); i = json.load(open(info))
game = [t for t in d["types"] if t["name"] == "test.Game"][0]
at = d["root"]["offset"] + [f for f in game["fields"] if f["name"] == field][0]["offset"]
tag = i["pool_tag"]
heap = [r for r in i["regions"] if r["name"] == "heap"][0]["offset"]
with open(pool, "r+b") as fp:
    fp.seek(at)
    old, = struct.unpack("<Q", fp.read(8))
    new = {"metadata": tag << 48 | (heap + 8), "beyond": tag << 48 | (1 << 47),
           "interior": old + 8, "foreign": ((tag % 65535) + 1) << 48 | (old & ((1 << 48) - 1)),
           "huge": 1 << 40}[how]
    fp.seek(at)
    fp.write(struct.pack("<Q", new))
PY
}
corrupt_field "$dir/c1.pool" moves metadata
expect 1 "dump pointer into heap metadata" -- "$ferrite" dump "$dir/c1.pool"
contains out "moves: <bad pointer @" "bad pointer note"
contains out "inside heap metadata" "bad pointer reason"
contains out "tags: ferrite.set<i32> size 3: [7, 8, 9]" "decoding goes on after a bad pointer"
contains out "decoded, 1 problem" "one problem counted"
expect 1 "dump --json with a bad pointer" -- "$ferrite" dump "$dir/c1.pool" --json
contains out '"problem": "bad pointer @' "bad pointer in json"
corrupt_field "$dir/c2.pool" moves beyond
expect 1 "dump pointer beyond the heap" -- "$ferrite" dump "$dir/c2.pool"
contains out "outside the heap" "beyond reason"
corrupt_field "$dir/c3.pool" moves interior
expect 1 "dump pointer into an object" -- "$ferrite" dump "$dir/c3.pool"
contains out "not the start of an object" "interior reason"
corrupt_field "$dir/c4.pool" moves foreign
expect 1 "dump pointer into another pool" -- "$ferrite" dump "$dir/c4.pool"
contains out "moves: -> another pool (tag" "foreign pointer"
corrupt_field "$dir/c5.pool" scores huge
expect 1 "dump vector larger than its storage" -- "$ferrite" dump "$dir/c5.pool"
contains out "does not fit its storage" "vector size capped by its storage"
corrupt_field "$dir/c6.pool" index huge
expect 1 "dump hash_map size beyond its nodes" -- "$ferrite" dump "$dir/c6.pool"
contains out "hash_map size says 1099511627776 entries, its buckets hold 3" "hash_map size checked"

# dump of randomly damaged typed pools: always exit 0, 1 or 2 (never a crash or a hang)
if python3 - "$ferrite" "$dir/t.pool" "$dir/fz.pool" <<'PY'
import os, random, shutil, subprocess, sys
ferrite, pool, damaged = sys.argv[1:4]
out = subprocess.run([ferrite, "dump", pool, "--json"], capture_output=True, text=True).stdout
import json
d = json.loads(out)
anchors = [d["root"]["offset"], d["root"]["fields"]["moves"]["offset"]]
rng = random.Random(1)
bad = 0
for _ in range(40):
    shutil.copy(pool, damaged)
    with open(damaged, "r+b") as fp:
        for _ in range(rng.randint(1, 6)):
            fp.seek(rng.choice(anchors) + rng.randrange(-64, 512))
            fp.write(bytes(rng.randrange(256) for _ in range(rng.choice([1, 8]))))
    for args in ([], ["--json", "--all"]):
        r = subprocess.run([ferrite, "dump", damaged] + args, capture_output=True, timeout=30)
        if r.returncode not in (0, 1, 2):
            print("dump exited", r.returncode, args)
            bad += 1
sys.exit(1 if bad else 0)
PY
then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: dump of randomly damaged pools"
fi

# dump of a long list: the depth limit keeps the output (and the recursion) bounded
expect 0 "fixture chain" -- "$fixture" "$dir/chain.pool" --chain 300
expect 0 "dump chain" -- "$ferrite" dump "$dir/chain.pool"
contains out "(not followed: depth limit)" "chain cut at the default depth"
expect 0 "dump chain --depth 1000" -- "$ferrite" dump "$dir/chain.pool" --depth 1000
contains out "301 objects decoded, 0 problems" "whole chain decoded"

# copy: DST holds SRC's reachable graph. `ferrite dump` of both is the same
# but for the objects' offsets (@N); DST passes `ferrite check`.
# same_dump SRC DST DESCRIPTION
same_dump() {
  "$ferrite" dump --max-elements 100000 "$1" | sed -E 's/@[0-9]+/@N/g' >"$dir/dump_src"
  "$ferrite" dump --max-elements 100000 "$2" | sed -E 's/@[0-9]+/@N/g' >"$dir/dump_dst"
  if [ -s "$dir/dump_src" ] && cmp -s "$dir/dump_src" "$dir/dump_dst"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $3: the dumps differ"
    diff "$dir/dump_src" "$dir/dump_dst" | head -20 | sed 's/^/  /'
  fi
}
for name in t c v; do
  cp "$dir/$name.pool" "$dir/${name}_src.pool"
  expect 0 "copy $name.pool" -- "$ferrite" copy "$dir/$name.pool" "$dir/${name}_copy.pool"
  contains out "copied " "copy $name.pool reports"
  expect 0 "check copy of $name.pool" -- "$ferrite" check "$dir/${name}_copy.pool"
  same_dump "$dir/$name.pool" "$dir/${name}_copy.pool" "copy of $name.pool"
  if cmp -s "$dir/$name.pool" "$dir/${name}_src.pool"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: copy changed its source $name.pool"
  fi
  [ -e "$dir/${name}_copy.pool.copying" ] && { failed=$((failed + 1)); echo "FAIL: temporary left"; }
done
# the typed fixture's orphan (see `gc` above) is not copied
expect 0 "copy --json" -- "$ferrite" copy "$dir/t.pool" "$dir/t_json.pool" --json
contains out '"objects": 18' "only the reachable objects copied"
expect 0 "dump --all of the copy" -- "$ferrite" dump --all "$dir/t_json.pool"
contains out "objects not reached from the root (or hidden by --max-elements/--depth): 0" \
  "no garbage in the copy"
# a fragmented pool shrinks, with the same dump
expect 0 "fragmented fixture" -- "$fragmented" "$dir/frag.pool" --objects 20000 --keep-every 10
expect 0 "copy fragmented" -- "$ferrite" copy "$dir/frag.pool" "$dir/frag_copy.pool" --json
cp "$dir/out" "$dir/frag.json"
same_dump "$dir/frag.pool" "$dir/frag_copy.pool" "copy of a fragmented pool"
python3 - "$dir/out" <<'PY' && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: fragmented copy is not smaller"; cat "$dir/out"; }
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if j["destination_file_size"] * 4 <= j["source_file_size"]
         and j["destination_heap_used"] <= j["source_heap_used"] else 1)
PY
expect 0 "copy with --size larger" -- "$ferrite" copy "$dir/frag.pool" "$dir/frag_big.pool" --size 64M
same_dump "$dir/frag.pool" "$dir/frag_big.pool" "copy into a larger pool"
expect 0 "info of the larger copy" -- "$ferrite" info "$dir/frag_big.pool" --json
contains out '"file_size": 67108864' "--size gives DST's size"
# the progress bar: on a terminal only (script(1) gives the copy a pty)
expect 0 "copy without a terminal" -- "$ferrite" copy "$dir/frag.pool" "$dir/frag_quiet.pool"
if grep -q "copying \[" "$dir/err"; then
  failed=$((failed + 1)); echo "FAIL: a progress bar without a terminal"
else
  passed=$((passed + 1))
fi
if command -v script >/dev/null; then
  expect 0 "copy on a terminal" -- script -qec "'$ferrite' copy '$dir/frag.pool' '$dir/frag_tty.pool'" /dev/null
  contains out "copying [####" "a progress bar on a terminal"
  contains out "/ $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["objects"])' "$dir/frag.json") objects" "the bar counts the objects"
fi
# gc of the value pool (it holds a short encoded value, inline in its cell)
cp "$dir/v.pool" "$dir/v_gc.pool"
expect 0 "gc of the value pool" -- "$ferrite" gc "$dir/v_gc.pool"
contains out "0 freed" "the value pool has no garbage"
# refusals: DST is never left behind
expect 2 "copy onto an existing file" -- "$ferrite" copy "$dir/t.pool" "$dir/c.pool"
contains err "already exists" "copy names the existing DST"
touch "$dir/busy.pool.copying"
expect 2 "copy with a leftover temporary" -- "$ferrite" copy "$dir/t.pool" "$dir/busy.pool"
contains err "did not finish" "copy names the leftover"
expect 0 "a fixture with 3 MB live" -- "$fragmented" "$dir/dense.pool" --objects 20000 --keep-every 2
expect 2 "copy into too small a size" -- "$ferrite" copy "$dir/dense.pool" "$dir/tiny.pool" --size 2M
contains err "out_of_space" "too small is out_of_space"
[ ! -e "$dir/tiny.pool" ] && [ ! -e "$dir/tiny.pool.copying" ] && passed=$((passed + 1)) ||
  { failed=$((failed + 1)); echo "FAIL: too small a copy left a file"; }
expect 1 "copy of a damaged pool" -- "$ferrite" copy "$dir/heap.pool" "$dir/heap_copy.pool"
contains err "is damaged" "copy refuses a damaged pool"
contains err "has a foreign entry" "with the check's message"
expect 1 "copy of a pool with a damaged cell" -- "$ferrite" copy "$dir/v1.pool" "$dir/v1_copy.pool"
contains err "corrupted" "a damaged graph is corrupted"
[ ! -e "$dir/heap_copy.pool" ] && [ ! -e "$dir/v1_copy.pool" ] && passed=$((passed + 1)) ||
  { failed=$((failed + 1)); echo "FAIL: a refused copy left DST"; }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
