#!/usr/bin/env bash
# Disaster-recovery drill on the docker-compose stack, database by database: stop the service's
# processes (nothing writes), dump the database (pg_dump custom format, as the dev overlay's
# CronJobs do), DROP it, create it empty, pg_restore the dump, and check that every row is back
# (the data-only dump of the restored database is byte-identical to the one before the drop);
# then start the processes again. The same steps restore a real backup: docs/operations.md.
# Usage: deploy/backup-drill.sh [service...]      (default: members experiments notifications)
#   COMPOSE      the stack's docker-compose command (default: docker-compose -f docker-compose.yml)
#   BACKUP_DIR   keep the dumps there (default: a temporary directory, removed at the end)
# Exit status: 0 when every database came back whole, 1 otherwise.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
read -r -a compose <<<"${COMPOSE:-docker-compose -f $root/docker-compose.yml}"
services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=(members experiments notifications)
keep=${BACKUP_DIR:-}
dir=${keep:-$(mktemp -d)}
[[ -n $keep ]] || trap 'rm -rf "$dir"' EXIT

# Run a PostgreSQL client in the database's container, as its owner, over TCP with the
# container's own password (the compose file's POSTGRES_* settings).
pg() {
  local db=$1; shift
  "${compose[@]}" exec -T "$db" sh -c 'PGHOST=127.0.0.1 PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD" exec "$@"' pg "$@"
}
rows() {
  pg "$1" sh -c 'psql -d "$POSTGRES_DB" -Atc "SELECT coalesce(sum((xpath(\$\$/row/c/text()\$\$, query_to_xml(format(\$\$SELECT count(*) AS c FROM public.%I\$\$, tablename), false, true, \$\$\$\$)))[1]::text::bigint), 0) FROM pg_tables WHERE schemaname = \$\$public\$\$"'
}
fingerprint() {
  # Without comments and the \restrict lines (a random key per dump since 15.14).
  pg "$1" sh -c 'pg_dump -d "$POSTGRES_DB" --data-only --no-owner --no-privileges' \
    | grep -Ev '^(--|\\(un)?restrict )' | sha256sum | cut -d' ' -f1
}

status=0
running=$("${compose[@]}" ps --services --filter status=running)
for service in "${services[@]}"; do
  db=$service-db
  processes=()
  for p in "$service" "$service-worker" "$service-relay"; do
    grep -qx "$p" <<<"$running" && processes+=("$p")
  done
  [[ ${#processes[@]} -eq 0 ]] || "${compose[@]}" stop "${processes[@]}" >/dev/null 2>&1
  before_rows=$(rows "$db"); before=$(fingerprint "$db")
  dump="$dir/$service-$(date -u +%Y%m%dT%H%M%SZ).dump"
  pg "$db" sh -c 'pg_dump -d "$POSTGRES_DB" --format=custom' >"$dump"
  echo "$service: dumped $before_rows rows ($(wc -c <"$dump") bytes) to $dump"
  pg "$db" sh -c 'dropdb --force "$POSTGRES_DB" && createdb "$POSTGRES_DB"'
  echo "$service: dropped and created empty ($(rows "$db") rows)"
  pg "$db" sh -c 'pg_restore -d "$POSTGRES_DB" --exit-on-error --single-transaction' <"$dump"
  after_rows=$(rows "$db"); after=$(fingerprint "$db")
  if [[ $after == "$before" && $after_rows == "$before_rows" ]]; then
    echo "$service: restored, $after_rows rows, data identical"
  else
    echo "$service: FAILED: $after_rows rows after, $before_rows before (data $after vs $before)"
    status=1
  fi
  [[ ${#processes[@]} -eq 0 ]] || "${compose[@]}" start "${processes[@]}" >/dev/null 2>&1
done
exit $status
