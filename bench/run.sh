#!/usr/bin/env bash
# Workload W side by side, in one session: flowrun with its full trail, jq doing only
# the transforms (no trail), and the I/O floor (copy + hash the same files).
# Prints medians, ratios and peak RSS. Run by hand: `bench/run.sh` (or `just bench`).
#
#   N=100000 RUNS=5 bench/run.sh        # the defaults
#   N=1000000 RUNS=3 bench/run.sh       # the 1M-order scaling check
set -euo pipefail

N=${N:-100000}
RUNS=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$root/bench-out}
work="$out/w-$N"

need() {
  command -v "$1" >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  else
    echo "bench: needs $1 (Debian package $2)" >&2
    exit 2
  fi
}
need hyperfine hyperfine
need jq jq
need b3sum b3sum
need /usr/bin/time time

echo "== building flowrun (release)"
(cd "$root" && cargo build --release --quiet)
flowrun="$root/target/release/flowrun"

mkdir -p "$work/flows" "$work/data"
cp "$here/w.toml" "$work/flows/w.toml"
if [ ! -s "$work/data/orders.json" ]; then
  echo "== generating $N orders"
  python3 "$here/gen_orders.py" "$N" "$work/data/orders.json" --clean --seed 1
fi
input_mb=$(du -m "$work/data/orders.json" | cut -f1)

# One run to get the trail whose files the I/O floor copies and hashes.
rm -rf "$work/runs" "$work/out"
"$flowrun" --root "$work" run w -q >/dev/null
rm -rf "$work/trail"
cp -r "$(ls -d "$work"/runs/w/2*/steps | tail -n 1)" "$work/trail"
trail="$work/trail"
trail_mb=$(du -sm "$trail" | cut -f1)
trail_files=$(find "$trail" -type f | wc -l)

echo "== timing ($RUNS runs each, input ${input_mb} MB, trail ${trail_mb} MB in ${trail_files} files)"
hyperfine --style basic --runs "$RUNS" --warmup 1 --export-json "$work/times.json" \
  --command-name flowrun --prepare "rm -rf '$work/runs' '$work/out'" \
  "'$flowrun' --root '$work' run w -q" \
  --command-name jq --prepare "true" \
  "jq -c --argjson n 1000 -f '$here/w.jq' '$work/data/orders.json' > /dev/null" \
  --command-name io-floor --prepare "rm -rf '$work/floor'" \
  "cp -r '$trail' '$work/floor' && find '$work/floor' -type f -exec b3sum {} + > /dev/null"

peak() { # peak RSS in MiB of a command, median of 3
  for _ in 1 2 3; do
    eval "$2" >/dev/null 2>&1 || true
    /usr/bin/time -f '%M' bash -c "$1" 2>&1 >/dev/null | tail -n 1
  done | sort -n | sed -n 2p | awk '{printf "%.0f", $1/1024}'
}
rss_flowrun=$(peak "'$flowrun' --root '$work' run w -q" "rm -rf '$work/runs' '$work/out'")
rss_jq=$(peak "jq -c --argjson n 1000 -f '$here/w.jq' '$work/data/orders.json'" "true")

# Memory of the largest payload (the whole parsed input): RSS growth over the load step.
rm -rf "$work/runs" "$work/out"
load_kb=$(FLOWRUN_DEBUG_RSS=1 "$flowrun" --root "$work" run w -q 2>&1 >/dev/null | awk '/after step load/ {print $8}')

python3 - "$work/times.json" "$rss_flowrun" "$rss_jq" "$load_kb" "$N" <<'EOF'
import json, sys
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss_f, rss_jq, load_kb, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4] or 0), sys.argv[5]
med = {k: v["median"] for k, v in times.items()}
print()
print(f"Workload W, {n} orders (medians of {len(times['flowrun']['times'])} runs)")
print(f"| {'':10} | {'median s':>9} | {'÷ jq':>6} | {'÷ io-floor':>10} | {'peak RSS MiB':>12} |")
print(f"|{'-'*12}|{'-'*11}|{'-'*8}|{'-'*12}|{'-'*14}|")
for name, rss in (("flowrun", rss_f), ("jq", rss_jq), ("io-floor", None)):
    m = med[name]
    print(f"| {name:10} | {m:9.3f} | {m/med['jq']:6.3f} | {m/med['io-floor']:10.2f} | {rss if rss is not None else '-':>12} |")
print()
print(f"flowrun ÷ jq time: {med['flowrun']/med['jq']:.3f} (target ≤ 0.25)")
print(f"flowrun ÷ jq peak RSS: {rss_f/rss_jq:.2f} (target ≤ 1.00)")
if load_kb:
    print(f"peak RSS ÷ RSS after the load step (largest payload in memory): {rss_f*1024/load_kb:.2f} (target ≤ 2.0)")
EOF
