#!/usr/bin/env bash
# Workload W side by side, in one session: flowrun with its full trail, jq doing only
# the transforms (no trail), and the I/O floor (copy + hash the same files), run
# alternately (flowrun, jq, floor, flowrun, ...) so that all three see the same machine.
# Prints medians, ratios to jq and to the I/O floor, peak RSS, and counts that do not
# depend on machine load (page faults, context switches). Run by hand: `bench/run.sh`
# (or `just bench`). `flowrun-whole` is the same run with FLOWRUN_NO_STREAM=1.
#
#   N=100000 RUNS=5 bench/run.sh        # the defaults
#   BIG=3000000 bench/run.sh            # also flowrun alone on 3M orders (~1 GB input)
set -euo pipefail

N=${N:-100000}
RUNS=${RUNS:-5}
BIG=${BIG:-0}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$root/bench-out}
work="$out/w-$N"
# S3=1: W on the S3 store beside the local one instead (bench/s3.sh).
if [ "${S3:-0}" != 0 ]; then exec "$here/s3.sh"; fi

need() {
  command -v "$1" >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  else
    echo "bench: needs $1 (Debian package $2)" >&2
    exit 2
  fi
}
need jq jq
need b3sum b3sum

echo "== building flowrun (release)"
(cd "$root" && cargo build --release --quiet)
flowrun="$root/target/release/flowrun"

project() { # project N: bench-out/w-N with the flow and (generated once) its input
  local dir="$out/w-$1"
  mkdir -p "$dir/flows" "$dir/data"
  cp "$here/w.toml" "$dir/flows/w.toml"
  if [ ! -s "$dir/data/orders.json" ]; then
    echo "== generating $1 orders (once; kept in $dir/data)" >&2
    python3 "$here/gen_orders.py" "$1" "$dir/data/orders.json.part" --clean --seed 1
    mv "$dir/data/orders.json.part" "$dir/data/orders.json"
  fi
}
project "$N"
input_mb=$(du -m "$work/data/orders.json" | cut -f1)

# One run to get the trail whose files the I/O floor copies and hashes.
rm -rf "$work/runs" "$work/out"
"$flowrun" --root "$work" run w -q >/dev/null
rm -rf "$work/trail"
cp -r "$(ls -d "$work"/runs/w/2*/steps | tail -n 1)" "$work/trail"
trail_mb=$(du -sm "$work/trail" | cut -f1)
trail_files=$(find "$work/trail" -type f | wc -l)
if [ "$BIG" != 0 ]; then project "$BIG"; fi
echo "== timing ($RUNS runs each, alternated; input ${input_mb} MB, trail ${trail_mb} MB in ${trail_files} files)"

python3 - "$flowrun" "$work" "$here" "$RUNS" "$N" "$BIG" "$out" <<'PY'
import os, shutil, statistics, subprocess, sys, time
flowrun, work, here, runs, n, big, out = sys.argv[1:8]
runs, big = int(runs), int(big)

def measure(cmd, prepare=None, env=None):
    """Wall time and the child's own rusage (peak RSS, faults, switches)."""
    if prepare:
        prepare()
    start = time.perf_counter()
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"bench: `{cmd}` failed")
    return {"s": wall, "rss": ru.ru_maxrss / 1024, "minflt": ru.ru_minflt,
            "vcsw": ru.ru_nvcsw, "ivcsw": ru.ru_nivcsw, "user": ru.ru_utime, "sys": ru.ru_stime}

def clean(d):
    def f():
        for sub in ("runs", "out", "floor"):
            shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
    return f

cmds = {
    "flowrun": (f"'{flowrun}' --root '{work}' run w -q", clean(work)),
    # The same run with the input held whole in memory (no streaming, no budget).
    "flowrun-whole": (f"FLOWRUN_NO_STREAM=1 '{flowrun}' --root '{work}' run w -q", clean(work)),
    "jq": (f"jq -c --argjson n 1000 -f '{here}/w.jq' '{work}/data/orders.json'", None),
    "io-floor": (f"cp -r '{work}/trail' '{work}/floor' && find '{work}/floor' -type f -exec b3sum {{}} + > /dev/null", clean(work)),
}
res = {k: [] for k in cmds}
for name, (cmd, prep) in cmds.items():  # one warm-up each
    measure(cmd, prep)
for _ in range(runs):
    for name, (cmd, prep) in cmds.items():
        res[name].append(measure(cmd, prep))
med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in res.items()}
jq, floor = med["jq"]["s"], med["io-floor"]["s"]
print()
print(f"Workload W, {n} orders (medians of {runs} runs, alternated)")
print("| | median s | ÷ jq | ÷ I/O floor | peak RSS MiB | ÷ jq RSS | user s | sys s | minor faults | ctx switches vol/invol |")
print("|---|---|---|---|---|---|---|---|---|---|")
for k, m in med.items():
    rss = f"{m['rss']:.0f}" if k != "io-floor" else "–"
    rss_ratio = f"{m['rss'] / med['jq']['rss']:.2f}" if k != "io-floor" else "–"
    print(f"| {k} | {m['s']:.3f} | {m['s'] / jq:.3f} | {m['s'] / floor:.2f} | {rss} | {rss_ratio} "
          f"| {m['user']:.2f} | {m['sys']:.2f} | {m['minflt']:.0f} | {m['vcsw']:.0f}/{m['ivcsw']:.0f} |")
f = med["flowrun"]
print()
print(f"flowrun ÷ jq time: {f['s'] / jq:.3f} (target ≤ 0.25, stretch 0.15)")
print(f"flowrun ÷ I/O floor time: {f['s'] / floor:.2f} (target ≤ 3)")
print(f"flowrun ÷ jq peak RSS: {f['rss'] / med['jq']['rss']:.2f} (target ≤ 0.5)")
print(f"flowrun ÷ flowrun-whole time: {f['s'] / med['flowrun-whole']['s']:.2f}")

if big:
    bigdir = os.path.join(out, f"w-{big}")
    b = measure(f"'{flowrun}' --root '{bigdir}' run w -q", clean(bigdir))
    clean(bigdir)()
    print()
    print(f"Workload W, {big} orders, flowrun alone (one run): {b['s']:.1f} s, "
          f"peak RSS {b['rss']:.0f} MiB (target ≤ 512), "
          f"{b['s'] / f['s']:.1f}× the {n}-order time (target ≤ {big / int(n) * 31 / 30:.0f}×; linear = {big / int(n):.0f}×)")
PY
