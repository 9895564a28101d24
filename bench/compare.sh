#!/usr/bin/env bash
# Side-by-side benchmark of strom against nats-server: see BENCHMARKS.md and compare.py --help.
# The conns scenario holds 1000 connections: raise the open-file limit for the servers and the
# load tool alike (compare.py raises it too, for when it is run directly).
set -euo pipefail
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 "$(dirname "$0")/compare.py" "$@"
