# Provision what the test suite needs beyond Python packages.  Sourced by
# scripts/test.  Later features add services here (databases, SoftHSM2,
# Chromium); each step must work on a fresh Debian machine as root.
true
