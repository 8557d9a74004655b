#!/usr/bin/env bash
# PostgreSQL from Debian's packages: the tests' second store backend (tests/store), started by the
# test session with initdb/pg_ctl in a temporary folder (scripts/postgres.py), like the Kafka broker.
# Idempotent: does nothing when initdb is found. Called by `make test`.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "ensure_postgres: initdb is missing; installing Debian's postgresql package" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || {
    echo "ensure_postgres: initdb still missing after install" >&2; exit 1; }
