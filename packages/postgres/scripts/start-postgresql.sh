#!/usr/bin/env bash
# Starts the local PostgreSQL cluster the @herald/postgres tests use (CI's SERVICES list runs this
# when port 5432 does not answer). Picks whichever major version is installed, the newest if several.
set -euo pipefail
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ -z "$version" ]; then
  echo "no PostgreSQL cluster under /etc/postgresql; install the postgresql package" >&2
  exit 1
fi
exec pg_ctlcluster --skip-systemctl-redirect "$version" main start
