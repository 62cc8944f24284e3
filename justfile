# Everyday recipes. Each is a plain shell command; nothing requires `just`.

# Run the demo flow end to end (fails at its assert on purpose; see README)
demo:
    cargo run --quiet -- run orders-demo || true
    cargo run --quiet -- show last

# Run the tests
test:
    cargo test

# What CI runs on a clean clone
ci:
    ./.ci/run

# Benchmarks (run by hand, not in CI)
bench:
    ./bench/run.sh
