#!/usr/bin/env bash
# Workload W with the run store on S3 beside the local store, in one session: the same
# `flowrun run w -q` from an empty working copy, once with the local runs/ folder and
# once with `--store s3://BUCKET/PREFIX` (a fresh prefix per run), alternated (local, s3,
# local, ...) after one warm-up each. Prints both medians, their ratio, peak RSS,
# user+sys time and minor faults of flowrun, the S3 server's own CPU time (when this
# script started it) and the machine's load average.
#
#   N=100000 RUNS=3 bench/s3.sh          # the defaults; or S3=1 bench/run.sh
#   S3_ENDPOINT=http://127.0.0.1:9000 bench/s3.sh   # an S3 server already running
#   S3_PORT=5055 bench/s3.sh             # where to start moto's server otherwise
#
# Without S3_ENDPOINT it starts moto's server (/opt/moto, as .ci/run installs it) on
# 127.0.0.1:S3_PORT and stops it at the end. Objects are deleted after each S3 run
# (moto keeps them in memory), with the moto environment's boto3.
set -euo pipefail

N=${N:-100000}
RUNS=${RUNS:-3}
S3_PORT=${S3_PORT:-5055}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$root/bench-out}
work="$out/w-$N"
python=/opt/moto/bin/python

if [ ! -x "$python" ] || ! "$python" -c 'import boto3' 2>/dev/null; then
  echo "bench: needs moto's environment in /opt/moto (see README, Running on more than one machine)" >&2
  exit 2
fi

mkdir -p "$out"
moto_pid=
if [ -z "${S3_ENDPOINT:-}" ]; then
  S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
  /opt/moto/bin/moto_server -H 127.0.0.1 -p "$S3_PORT" >"$out/moto-$S3_PORT.log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
fi
for _ in $(seq 100); do
  curl -s -o /dev/null "$S3_ENDPOINT/" && break
  sleep 0.1
done

echo "== building flowrun (release)"
(cd "$root" && cargo build --release --quiet)
flowrun="$root/target/release/flowrun"

mkdir -p "$work/flows" "$work/data"
cp "$here/w.toml" "$work/flows/w.toml"
if [ ! -s "$work/data/orders.json" ]; then
  echo "== generating $N orders (once; kept in $work/data)" >&2
  python3 "$here/gen_orders.py" "$N" "$work/data/orders.json.part" --clean --seed 1
  mv "$work/data/orders.json.part" "$work/data/orders.json"
fi
echo "== timing ($RUNS runs each, alternated; input $(du -m "$work/data/orders.json" | cut -f1) MB; S3 at $S3_ENDPOINT)"

AWS_ENDPOINT_URL="$S3_ENDPOINT" AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} \
AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} AWS_REGION=${AWS_REGION:-us-east-1} \
AWS_ALLOW_HTTP=true \
"$python" - "$flowrun" "$work" "$RUNS" "$N" "$S3_ENDPOINT" "$moto_pid" <<'PY'
import os, shutil, statistics, subprocess, sys, time
import boto3
flowrun, work, runs, n, endpoint, moto_pid = sys.argv[1:7]
runs = int(runs)
s3 = boto3.client("s3", endpoint_url=endpoint)
bucket = f"wbench-{os.getpid()}"
s3.create_bucket(Bucket=bucket)
tick = os.sysconf("SC_CLK_TCK")

def server_cpu():
    """The S3 server's user+sys seconds so far (when this script started it)."""
    if not moto_pid:
        return 0.0
    with open(f"/proc/{moto_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def clean():
    for sub in ("runs", "out"):
        shutil.rmtree(os.path.join(work, sub), ignore_errors=True)

def objects(prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys

def measure(store):
    clean()
    cmd = [flowrun, "--root", work] + (["--store", f"s3://{bucket}/{store}"] if store else []) + ["run", "w", "-q"]
    cpu0 = server_cpu()
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"bench: `{' '.join(cmd)}` failed")
    r = {"s": wall, "rss": ru.ru_maxrss / 1024, "user": ru.ru_utime, "sys": ru.ru_stime,
         "minflt": ru.ru_minflt, "server": server_cpu() - cpu0, "objects": 0}
    if store:
        keys = objects(store + "/")
        r["objects"] = len(keys)
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
    return r

res = {"local": [], "s3": []}
load0 = os.getloadavg()
measure(None)
measure("warm-up")
for i in range(runs):
    res["local"].append(measure(None))
    res["s3"].append(measure(f"r{i}"))
load1 = os.getloadavg()
clean()
s3.delete_bucket(Bucket=bucket)
med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in res.items()}
print()
print(f"Workload W, {n} orders, local store vs S3 ({endpoint}); medians of {runs} runs, alternated")
print("| store | median s | runs s | peak RSS MiB | user s | sys s | minor faults | objects | S3 server CPU s |")
print("|---|---|---|---|---|---|---|---|---|")
for k, m in med.items():
    each = " / ".join(f"{r['s']:.2f}" for r in res[k])
    server = f"{m['server']:.2f}" if k == "s3" and moto_pid else "–"
    objs = f"{m['objects']:.0f}" if k == "s3" else "–"
    print(f"| {k} | {m['s']:.3f} | {each} | {m['rss']:.0f} | {m['user']:.2f} | {m['sys']:.2f} "
          f"| {m['minflt']:.0f} | {objs} | {server} |")
print()
print(f"S3 ÷ local time: {med['s3']['s'] / med['local']['s']:.2f}; "
      f"S3 ÷ local peak RSS: {med['s3']['rss'] / med['local']['rss']:.2f}")
print("load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(*load0, *load1))
PY
