#!/usr/bin/env bash
# Installs the real programs the tests run: git, promtool/prometheus, alertmanager, and
# Node.js with npm (Grafana's dashboard types, npm @grafana/schema) and Chromium (the KPI
# page's browser test, driven headless through the DevTools protocol) (Debian).
set -euo pipefail
missing=()
command -v git >/dev/null || missing+=(git)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
