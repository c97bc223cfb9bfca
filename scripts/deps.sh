#!/usr/bin/env bash
# Installs what Vigil's build, tests and demo need on a fresh machine:
# Go modules, Mailpit (the SMTP server the email tests deliver to),
# Azurite (the Azure Storage emulator: blob containers and the queue that
# carries Event Grid events) and moto in server mode (the AWS emulator).
# The system python3 is used when it already has moto; otherwise a .venv
# is made.
set -euo pipefail
cd "$(dirname "$0")/.."

go mod download

MAILPIT_VERSION=v1.33.1
if ! [ -x .tools/bin/mailpit ] && ! command -v mailpit >/dev/null; then
  echo "deps: installing mailpit $MAILPIT_VERSION into .tools/bin" >&2
  GOBIN="$PWD/.tools/bin" go install "github.com/axllent/mailpit@$MAILPIT_VERSION"
fi

AZURITE_VERSION=3.37.0
if ! [ -x .tools/node_modules/.bin/azurite ] && ! command -v azurite >/dev/null; then
  if ! command -v npm >/dev/null && command -v apt-get >/dev/null; then
    echo "deps: installing nodejs and npm" >&2
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "deps: installing azurite $AZURITE_VERSION into .tools/node_modules" >&2
  npm install --prefix .tools --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null
fi

have_moto() { "$1" -c 'import moto.server, flask_cors' >/dev/null 2>&1; }
if [ -n "${VIGIL_PYTHON:-}" ] && have_moto "$VIGIL_PYTHON"; then exit 0; fi
if [ -x .venv/bin/python ] && have_moto .venv/bin/python; then exit 0; fi
if command -v python3 >/dev/null && have_moto python3; then exit 0; fi

echo "deps: installing moto[server] into .venv" >&2
if ! python3 -m venv .venv 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q 'moto[server]==5.2.1'
have_moto .venv/bin/python
