#!/usr/bin/env bash
# Run the whole suite on SQLite, then on PostgreSQL.
# In CI (CI=true) the PostgreSQL run is mandatory and fails if PostgreSQL is unreachable;
# elsewhere it runs when ORDERTRAIL_TEST_POSTGRES_URL is set and says so when it is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

echo "=== ruff ==="
"$PY" -m ruff check src tests bench

echo "=== test suite on SQLite ==="
ORDERTRAIL_TEST_DB=sqlite "$PY" -m pytest "$@"

url="${ORDERTRAIL_TEST_POSTGRES_URL:-}"
if [ -z "$url" ] && [ "${CI:-}" = "true" ]; then
  url="postgresql+psycopg://root@127.0.0.1:5432/test"
fi
if [ -z "$url" ]; then
  echo "=== test suite on PostgreSQL: SKIPPED (set ORDERTRAIL_TEST_POSTGRES_URL, e.g."
  echo "    postgresql+psycopg://root@127.0.0.1:5432/test, to run it) ==="
  exit 0
fi
echo "=== test suite on PostgreSQL ($url) ==="
ORDERTRAIL_TEST_DB=postgres ORDERTRAIL_TEST_POSTGRES_URL="$url" "$PY" -m pytest "$@"
