#!/usr/bin/env bash
# Prepares a fresh Debian machine: the system packages ringtrain and its tests use, then the
# npm workspace. Safe to run again; it installs only what is missing.
#   dataset-fashion-mnist  the real data set, in /usr/share/datasets/fashion-mnist
#   prometheus             promtool and a server for the metrics tests
#   chromium               the browser the dashboard tests drive
#   libdnnl-dev            oneDNN, for the native CPU backend
#   docker-compose         validates deploy/docker-compose.yml (no engine is needed)
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_packages=(dataset-fashion-mnist prometheus chromium libdnnl-dev docker-compose)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
