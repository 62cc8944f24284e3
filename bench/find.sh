#!/usr/bin/env bash
# `flowrun find` with SMALL (1,000) and BIG (10,000) stored runs, side by side. Each run
# tracks 100 orders (order id and email per element), so the index holds 200 values
# per run: 200,000 at 1,000 runs, 2,000,000 at 10,000. Prints, per size: the rebuild of
# a missing index (one `find`), a `find` on the fresh index (hyperfine: CPU user + system
# and wall median), a real `flowrun run` adding its 100 orders to the index as a segment
# (CPU and wall), and one whose segment makes the count pass the bound, so that it
# compacts the segments into the base (FLOWRUN_TRACK_SEGMENTS=0).
#   bench/find.sh     (RUNS=20 hyperfine runs; SMALL=1000 BIG=10000; QUICK=1: SMALL only;
#                      FLOWRUN=path: measure that binary instead of building this tree)
set -euo pipefail

RUNS=${RUNS:-20}
SMALL=${SMALL:-1000}
BIG=${BIG:-10000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$root/bench-out}

command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (Debian package hyperfine)" >&2; exit 2; }
if [ -n "${FLOWRUN:-}" ]; then
  flowrun=$FLOWRUN
else
  (cd "$root" && cargo build --release --quiet)
  flowrun="$root/target/release/flowrun"
fi

# A project with one run of a tracking flow, cloned to COUNT runs with distinct ids and
# distinct order ids (ORD-<run>-<k>), so every value is carried by one run.
make_store() {
  local dir=$1 count=$2
  rm -rf "$dir"
  mkdir -p "$dir/flows" "$dir/in"
  cat >"$dir/flows/orders.toml" <<'EOF'
[[steps]]
id = "orders"
kind = "map"
jq = '.orders'
track = { order = '.id', email = '.email' }
EOF
  python3 - "$dir/in/orders.json" <<'EOF'
import json, sys
orders = [{"id": f"ORD-0-{k}", "email": f"c{k}@0.example.com", "total": k} for k in range(100)]
json.dump({"orders": orders}, open(sys.argv[1], "w"))
EOF
  "$flowrun" --root "$dir" run orders -q --input "$dir/in/orders.json" >/dev/null
  python3 - "$dir/runs/orders" "$count" <<'EOF'
import json, os, shutil, sys
from datetime import datetime, timedelta, timezone
flow_dir, count = sys.argv[1], int(sys.argv[2])
src = sorted(d for d in os.listdir(flow_dir) if d[:1].isdigit())[0]
start = datetime(2026, 1, 1, tzinfo=timezone.utc)
for i in range(1, count):
    t = start + timedelta(seconds=37 * i)
    rid = t.strftime("%Y%m%dT%H%M%S.") + f"{t.microsecond // 1000:03d}Z-{i % 65536:04x}"
    dst = os.path.join(flow_dir, rid)
    shutil.copytree(os.path.join(flow_dir, src), dst)
    m = json.load(open(os.path.join(dst, "manifest.json")))
    m["run_id"] = rid
    m["started_at"] = t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for name in ("input/000001.json", "steps/01-orders/000001.json"):
        p = os.path.join(dst, name)
        with open(p) as f:
            text = f.read().replace("ORD-0-", f"ORD-{i}-").replace("@0.example", f"@{i}.example")
        with open(p, "w") as f:
            f.write(text)
    with open(os.path.join(dst, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
EOF
  rm -rf "$dir/runs/orders/.track" "$dir/runs/orders/.runs"
}

sizes=("$SMALL")
[ -n "${QUICK:-}" ] || sizes+=("$BIG")
declare -A rebuild find once run compact
# CPU (user + system) and wall time of one command, in ms: "U + S ms, W ms".
timed() {
  /usr/bin/time -f '%U %S %e %O' -o "$dir/time.txt" "$@" >/dev/null
  awk '{ printf "%.0f + %.0f ms CPU, %.0f ms wall, %.1f MB written", $1 * 1000, $2 * 1000, $3 * 1000, $4 * 512 / 1e6 }' "$dir/time.txt"
}
# hyperfine's CPU (user + system, means) and wall median of a command, in ms.
hyper() {
  local name=$1; shift
  hyperfine -N --warmup "${WARMUP:-3}" --runs "$RUNS" --export-json "$dir/$name.json" "$@" >/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print('%.1f + %.1f ms CPU, %.1f ms wall (median)' % (r['user']*1000, r['system']*1000, r['median']*1000))" "$dir/$name.json"
}
for n in "${sizes[@]}"; do
  dir="$out/find-$n"
  echo "== $n runs: building the store" >&2
  make_store "$dir" "$n"
  mid=$((n / 2))
  rebuild[$n]=$(timed "$flowrun" --root "$dir" find "order=ORD-$mid-7" -q)
  find[$n]=$(hyper find "$flowrun --root $dir find order=ORD-$mid-7")
  once[$n]=$(timed "$flowrun" --root "$dir" run orders -q --input "$dir/in/orders.json")
  run[$n]=$(hyper run "$flowrun --root $dir run orders -q --input $dir/in/orders.json")
  compact[$n]=$(hyper compact "env FLOWRUN_TRACK_SEGMENTS=0 $flowrun --root $dir run orders -q --input $dir/in/orders.json")
done

for n in "${sizes[@]}"; do
  echo "$n stored runs:"
  echo "  find:               ${find[$n]}"
  echo "  rebuild (once):     ${rebuild[$n]}"
  echo "  run + index, once:  ${once[$n]}"
  echo "  run + index:        ${run[$n]}"
  echo "  run + compaction:   ${compact[$n]} (FLOWRUN_TRACK_SEGMENTS=0)"
done
