#!/usr/bin/env bash
# Graphviz's `dot` from Debian's packages: the event map's layout engine (catalog/_graphviz.py).
# Idempotent: does nothing when `dot` is on the PATH. Called by `make test` and `make demo`.
set -euo pipefail
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "ensure_graphviz: dot is missing; installing Debian's graphviz package" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz >&2
command -v dot >/dev/null 2>&1 || { echo "ensure_graphviz: dot still missing after install" >&2; exit 1; }
