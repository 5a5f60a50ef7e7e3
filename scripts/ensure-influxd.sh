#!/usr/bin/env bash
# Makes sure /usr/bin/influxd (Debian's `influxdb` package, 1.6.7) exists for the integration tests.
# The tests start their own influxd on free ports (test/support/influxd.ts), so the package's
# system service must not be left running or enabled on port 8086.
# Silent and exit 0 when already installed; installs as root; otherwise prints the command, exit 1.
set -euo pipefail

readonly INFLUXD=/usr/bin/influxd
readonly POLICY=/usr/sbin/policy-rc.d

if [[ -x "$INFLUXD" ]]; then
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  # This script, as root, also keeps the package's service off port 8086 (a bare apt-get would not).
  echo "$INFLUXD is missing. Install it as root with:" >&2
  echo "  sudo bash $0" >&2
  exit 1
fi

# policy-rc.d answering 101 tells invoke-rc.d (the package's postinst) not to start the service.
# Docker-style images ship one already; elsewhere install a temporary one and remove it after.
temporary_policy=false
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\n# temporary, from scripts/ensure-influxd.sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  temporary_policy=true
fi
remove_temporary_policy() {
  if [[ "$temporary_policy" == true ]]; then rm -f "$POLICY"; fi
}
trap remove_temporary_policy EXIT

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends influxdb

# The postinst enables the unit even when policy-rc.d stops it from starting: disable it (works
# without a running systemd too), and stop anything that still got started, so nothing listens
# on 8086 now or at boot.
if command -v systemctl >/dev/null; then systemctl disable influxdb.service >/dev/null 2>&1 || true; fi
if command -v update-rc.d >/dev/null; then update-rc.d influxdb disable >/dev/null 2>&1 || true; fi
if [[ -d /run/systemd/system ]]; then
  systemctl stop influxdb.service >/dev/null 2>&1 || true
elif [[ -x /etc/init.d/influxdb ]]; then
  /etc/init.d/influxdb stop >/dev/null 2>&1 || true
fi

if [[ ! -x "$INFLUXD" ]]; then
  echo "apt-get installed influxdb but $INFLUXD is still missing" >&2
  exit 1
fi
