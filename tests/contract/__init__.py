"""Contract suites: one per port, written once and run against every adapter."""
