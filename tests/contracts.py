"""The public contracts the tests hold the product to, written down once (docs/report.md)."""

# The report's top-level keys (`--report FILE`, RUN_DIR/report.json).
REPORT_KEYS = {
    "session_steps",
    "segments",
    "events",
    "checkpoints",
    "final",
    "throughput",
    "strategy",
}
