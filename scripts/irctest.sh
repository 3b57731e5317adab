#!/bin/sh
# Runs irctest (https://github.com/progval/irctest) against a release build
# of switchboard: a fresh server per test (scripts/irctest/), claiming
# exactly the capabilities switchboard offers, with the selection irctest's
# Makefile uses for servers other than its own reference ones; tests that
# need services run too, since NickServ and SASL are built in.
#
#   scripts/irctest.sh /path/to/irctest [pytest arguments...]
#
# Fetches nothing: check irctest out and install its requirements yourself
# (pip install -r requirements.txt). SWITCHBOARD_ARGS adds server flags,
# e.g. SWITCHBOARD_ARGS="--transport evented". CI does not run this.
set -eu

irctest=$(cd "${1:?usage: scripts/irctest.sh IRCTEST_CHECKOUT [pytest arguments...]}" && pwd)
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
(cd "$repo" && cargo build --release --quiet)

SWITCHBOARD_BIN="$repo/target/release/switchboard"
# irctest's operator tests give operator "operuser" the password "operpassword".
SWITCHBOARD_OPER=$("$SWITCHBOARD_BIN" hash-password operpassword)
export SWITCHBOARD_BIN SWITCHBOARD_OPER

cd "$irctest"
PYTHONPATH="$repo/scripts/irctest${PYTHONPATH:+:$PYTHONPATH}" \
    python3 -m pytest --controller switchboard_controller \
    -m "not implementation-specific and not deprecated and not strict" \
    -p no:cacheprovider -q -rf "$@"
