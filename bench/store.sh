#!/usr/bin/env bash
# Store-size scaling: `runs --limit 20`, `show RUN` and `replay --dry-run` with 100 and
# with 10,000 stored runs, side by side. Target: 10,000 runs cost at most 1.5x 100 runs.
#   bench/store.sh            (RUNS=20 hyperfine runs per command; SMALL=100 BIG=10000)
set -euo pipefail

RUNS=${RUNS:-20}
SMALL=${SMALL:-100}
BIG=${BIG:-10000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$root/bench-out}

command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (Debian package hyperfine)" >&2; exit 2; }
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
  python3 - "$dir/runs/orders-demo" "$count" <<'EOF'
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
EOF
}

for count in "$SMALL" "$BIG"; do
  dir="$out/store-$count"
  if [ ! -d "$dir/runs/orders-demo" ] || [ "$(ls "$dir/runs/orders-demo" | grep -c '^2')" != "$count" ]; then
    echo "== building a store with $count runs"
    make_store "$dir" "$count"
  fi
done

small="$out/store-$SMALL"
big="$out/store-$BIG"
# The newest run (the real one) in each store: show it and replay from it.
newest() { ls "$1/runs/orders-demo" | grep '^2' | sort | tail -n 1; }
s_id=$(newest "$small"); b_id=$(newest "$big")
s_pay="$small/runs/orders-demo/$s_id/steps/04-paid/000003.json"
b_pay="$big/runs/orders-demo/$b_id/steps/04-paid/000003.json"

hyperfine -N --style basic --runs "$RUNS" --warmup 3 --export-json "$out/store-times.json" \
  -n "runs $SMALL" "$flowrun --root $small runs --limit 20" \
  -n "runs $BIG" "$flowrun --root $big runs --limit 20" \
  -n "show $SMALL" "$flowrun --root $small show $s_id" \
  -n "show $BIG" "$flowrun --root $big show $b_id" \
  -n "replay $SMALL" "$flowrun --root $small replay $s_pay --auto-skip --dry-run" \
  -n "replay $BIG" "$flowrun --root $big replay $b_pay --auto-skip --dry-run" >/dev/null

python3 - "$out/store-times.json" "$SMALL" "$BIG" <<'EOF'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
small, big = sys.argv[2], sys.argv[3]
print(f"| command | {small} runs (ms) | {big} runs (ms) | ratio |")
print("|---|---|---|---|")
for cmd in ("runs --limit 20", "show RUN", "replay --dry-run"):
    key = cmd.split()[0]
    a, b = r[f"{key} {small}"] * 1000, r[f"{key} {big}"] * 1000
    print(f"| `{cmd}` | {a:.1f} | {b:.1f} | {b / a:.2f} (target ≤ 1.5) |")
EOF
