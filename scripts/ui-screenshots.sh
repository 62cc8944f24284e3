#!/usr/bin/env bash
# Screenshots of the viewer's pages for README.md (docs/ui-*.png), made from the demo's
# failed run with headless Chromium. The demo project is copied to a temporary folder
# with max_payload_bytes = 8000, so that its `load` payload is stored trimmed; a second
# run with the bad email fixed gives the diff something to show.
#   scripts/ui-screenshots.sh        (needs chromium; FLOWRUN=path/to/flowrun to pick a build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flowrun=${FLOWRUN:-$root/target/debug/flowrun}
[ -x "$flowrun" ] || (cd "$root" && cargo build --quiet)
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/flows" "$tmp/data" "$root/docs"
sed 's/^max_payload_bytes = .*/max_payload_bytes = 8000/' "$root/flows/orders-demo.toml" > "$tmp/flows/orders-demo.toml"
cp "$root/data/orders-demo.json" "$tmp/data/"
"$flowrun" --root "$tmp" run orders-demo -q >/dev/null 2>&1 || true
failed=$(ls "$tmp/runs/orders-demo" | grep '^2' | sort | tail -n 1)
sleep 0.01
sed -i 's/(at)/@/' "$tmp/data/orders-demo.json"
"$flowrun" --root "$tmp" run orders-demo -q >/dev/null 2>&1
fixed=$(ls "$tmp/runs/orders-demo" | grep '^2' | sort | tail -n 1)
# Started in the project, so that paths in hints read as the CLI prints them there.
(cd "$tmp" && exec "$flowrun" ui --listen 127.0.0.1:0 > "$tmp/ui.out" 2>/dev/null) &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/ui.out" 2>/dev/null && break; sleep 0.05; done
base=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$tmp/ui.out")
shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$tmp/profile" \
    --screenshot="$root/docs/$1" --window-size=1200,${3:-800} "$2" >/dev/null 2>&1
  echo "docs/$1  <-  $2"
}
shot ui-runs.png "${base}" 300
shot ui-run.png "${base}runs/$failed" 1060
shot ui-step.png "${base}runs/$failed/steps/paid" 480
shot ui-payload.png "${base}runs/$failed/steps/paid/3"
shot ui-trimmed.png "${base}runs/$failed/steps/load/1" 600
shot ui-diff.png "${base}diff?a=$failed&b=$fixed" 360
shot ui-json-diff.png "${base}diff?a=$failed&b=$fixed&step=paid&n=3" 360
