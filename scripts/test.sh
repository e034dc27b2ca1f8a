#!/usr/bin/env bash
# Run the whole suite on SQLite and on PostgreSQL.
# In CI (CI=true) the PostgreSQL run is mandatory and fails if PostgreSQL is unreachable;
# elsewhere it runs when ORDERTRAIL_TEST_POSTGRES_URL is set and says so when it is skipped.
# With both, the two runs go side by side (each test uses its own database or schema and free
# ports): the SQLite run is mostly Python, the PostgreSQL run mostly waits for the server, so
# on two cores together they take little longer than the longer one alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

echo "=== ruff ==="
"$PY" -m ruff check src tests bench

url="${ORDERTRAIL_TEST_POSTGRES_URL:-}"
if [ -z "$url" ] && [ "${CI:-}" = "true" ]; then
  url="postgresql+psycopg://root@127.0.0.1:5432/test"
fi
if [ -z "$url" ]; then
  echo "=== test suite on SQLite ==="
  ORDERTRAIL_TEST_DB=sqlite "$PY" -m pytest "$@"
  echo "=== test suite on PostgreSQL: SKIPPED (set ORDERTRAIL_TEST_POSTGRES_URL, e.g."
  echo "    postgresql+psycopg://root@127.0.0.1:5432/test, to run it) ==="
  exit 0
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
echo "=== test suites on SQLite and on PostgreSQL ($url), side by side ==="
ORDERTRAIL_TEST_DB=sqlite "$PY" -m pytest -p no:cacheprovider "$@" >"$logs/sqlite" 2>&1 &
sqlite_pid=$!
ORDERTRAIL_TEST_DB=postgres ORDERTRAIL_TEST_POSTGRES_URL="$url" \
  "$PY" -m pytest -p no:cacheprovider "$@" >"$logs/postgres" 2>&1 &
postgres_pid=$!
status=0
wait "$sqlite_pid" || status=1
echo "=== test suite on SQLite ==="
cat "$logs/sqlite"
wait "$postgres_pid" || status=1
echo "=== test suite on PostgreSQL ($url) ==="
cat "$logs/postgres"
exit "$status"
