# Everyday recipes. Each is a plain shell command; nothing requires `just`.

# Run both demo flows end to end (orders-demo fails at its assert, orders-demo-routed
# ends partial, both on purpose; see README)
demo:
    cargo run --quiet -- run orders-demo || true
    cargo run --quiet -- show --flow orders-demo last
    cargo run --quiet -- run orders-demo-routed || true
    cargo run --quiet -- show --flow orders-demo-routed last

# Run the tests
test:
    cargo test

# What CI runs on a clean clone
ci:
    ./.ci/run

# Benchmarks (run by hand, not in CI): workload W side by side with jq and the I/O floor
bench:
    ./bench/run.sh

# Benchmark: runs/show/replay --dry-run with 100 vs 10,000 stored runs
bench-store:
    ./bench/store.sh

# Viewer: time to open `/` and a run page with 10 vs 10,000 stored runs
bench-ui:
    ./bench/ui.sh

# Viewer: the screenshots in README.md (docs/ui-*.png), from the demo's failed run
ui-screenshots:
    ./scripts/ui-screenshots.sh

# Crash campaign (issue 6): ≥ 100 SIGKILLs at seeded random moments, each followed by
# checks and a resume; then resumes killed too. FLOWRUN_CRASH_SEED=N repeats a campaign.
crash:
    FLOWRUN_CRASH_KILLS=100 FLOWRUN_CRASH_PAYLOADS=300 cargo test --release --test integration crash_campaign:: -- --nocapture --test-threads=1

# Crash campaign against the S3 store (issue 18): 50 SIGKILLs, the bucket checked after
# each; needs a moto server (README, "Running on more than one machine") at
# FLOWRUN_TEST_S3_ENDPOINT (default http://127.0.0.1:5055). FLOWRUN_CRASH_SEED=N repeats it.
crash-s3:
    FLOWRUN_TEST_S3_ENDPOINT=${FLOWRUN_TEST_S3_ENDPOINT:-http://127.0.0.1:5055} FLOWRUN_S3_CRASH_KILLS=50 cargo test --test integration s3_crash:: -- --nocapture

# Disk faults (issue 6): full and read-only run store on a tmpfs (needs root; skips otherwise)
disk-faults:
    cargo test --release --test integration disk_faults:: -- --nocapture --test-threads=1

# Property tests (issue 6) at 10 000 cases each; plain `cargo test` runs 256
props:
    PROPTEST_CASES=10000 cargo test --release --test integration props:: -- --nocapture

# Bad-input corpus (issue 6) plus 5 000 byte-level mutants of valid flows (`cargo test`: 100)
corpus-big:
    FLOWRUN_CORPUS_MUTANTS=5000 cargo test --release --test integration corpus:: -- --nocapture

# Regenerate the flow and payload fixtures of the bad-input corpus (tests/corpus/)
corpus-gen:
    python3 scripts/gen_corpus.py

# HTTP faults (issue 6), printing the time and peak memory of each
http-faults:
    cargo test --test integration http_faults:: -- --nocapture --test-threads=1
