#!/usr/bin/env bash
# Install what the tests need (Debian packages, PostgreSQL, the Python dev extras) and run the
# whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

fresh_postgres=0
dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "ok installed" || fresh_postgres=1
# prometheus: promtool; postgresql: the second store backend; snmpd: a real net-snmp agent;
# prometheus-alertmanager, prometheus-blackbox-exporter: the alerting configs and delivery tests;
# wixl, msitools, wine, osslsigncode: the Windows MSI is built, inspected, signed and installed.
apt_install prometheus postgresql postgresql-client iproute2 dmidecode smartmontools snmpd \
    prometheus-alertmanager prometheus-blackbox-exporter wixl msitools wine wine64 osslsigncode

cluster_version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "$fresh_postgres" = 1 ]; then
    # A server this script just installed: let the tests connect as postgres over loopback.
    hba="/etc/postgresql/$cluster_version/main/pg_hba.conf"
    $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start
elif [ "$fresh_postgres" = 1 ]; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main reload
fi

venv dev
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -q -ra "$@"
