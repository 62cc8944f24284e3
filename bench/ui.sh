#!/usr/bin/env bash
# The viewer with 10 vs 10,000 stored runs: time to open `/` (the run logs) and a run's
# page, medians of N requests (curl), against a release build.
#   bench/ui.sh            (N=20 requests per page; SMALL=10 BIG=10000)
# The stores are built under bench-out/ (not committed) by cloning one failed demo run.
set -euo pipefail

N=${N:-20}
SMALL=${SMALL:-10}
BIG=${BIG:-10000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$root/bench-out}

command -v curl >/dev/null || { echo "bench: needs curl" >&2; exit 2; }
(cd "$root" && cargo build --release --quiet)
flowrun="$root/target/release/flowrun"

# A project with one failed run of the orders flow, cloned to COUNT runs with distinct ids.
make_store() {
  local dir=$1 count=$2
  rm -rf "$dir"
  mkdir -p "$dir/flows" "$dir/data"
  cp "$root/flows/orders-demo.toml" "$dir/flows/"
  cp "$root/data/orders-demo.json" "$dir/data/"
  "$flowrun" --root "$dir" run orders-demo -q >/dev/null 2>&1 || true
  python3 - "$dir/runs/orders-demo" "$count" <<'PY'
import json, os, shutil, sys
from datetime import datetime, timedelta, timezone
flow_dir, count = sys.argv[1], int(sys.argv[2])
src = sorted(d for d in os.listdir(flow_dir) if d[:1].isdigit())[0]
start = datetime(2026, 1, 1, tzinfo=timezone.utc)
for i in range(count - 1):
    t = start + timedelta(seconds=37 * i)
    rid = t.strftime("%Y%m%dT%H%M%S.") + f"{t.microsecond // 1000:03d}Z-{i % 65536:04x}"
    dst = os.path.join(flow_dir, rid)
    shutil.copytree(os.path.join(flow_dir, src), dst)
    m = json.load(open(os.path.join(dst, "manifest.json")))
    m["run_id"] = rid
    m["started_at"] = t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with open(os.path.join(dst, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
PY
}

# Median seconds of N GETs of URL.
median() {
  local url=$1
  for _ in $(seq "$N"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url"
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

for count in "$SMALL" "$BIG"; do
  dir="$out/ui-store-$count"
  if [ ! -d "$dir/runs/orders-demo" ] || [ "$(ls "$dir/runs/orders-demo" | grep -c '^2')" != "$count" ]; then
    echo "== building a store with $count runs"
    make_store "$dir" "$count"
  fi
  "$flowrun" --root "$dir" ui --listen 127.0.0.1:0 > "$out/ui-$count.out" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$out/ui-$count.out" 2>/dev/null && break; sleep 0.05; done
  base=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$out/ui-$count.out")
  id=$(ls "$dir/runs/orders-demo" | grep '^2' | sort | tail -n 1)
  curl -s -o /dev/null "$base"   # the first listing writes the run index
  printf '%6s runs:  /  %ss   /?status=failure&page=100  %ss   /runs/<id>  %ss   /runs/<id>/steps/paid/3  %ss\n' \
    "$count" "$(median "$base")" "$(median "$base?status=failure&page=100")" \
    "$(median "$base"runs/"$id")" "$(median "$base"runs/"$id"/steps/paid/3)"
  kill "$pid"
done
