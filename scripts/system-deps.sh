#!/usr/bin/env bash
# Debian packages the app (`run`) or the tests (`test`) need; installed with apt-get when missing and allowed.
set -euo pipefail
purpose=${1:-run}
needed=()
command -v ffmpeg >/dev/null || needed+=(ffmpeg)
if [ "$purpose" = test ]; then
  command -v espeak-ng >/dev/null || needed+=(espeak-ng)
  command -v sox >/dev/null || needed+=(sox)
  command -v chromium >/dev/null || needed+=(chromium)
  command -v chromedriver >/dev/null || needed+=(chromium-driver)
fi
[ ${#needed[@]} -eq 0 ] && exit 0
echo "Installing system packages: ${needed[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
elif command -v apt-get >/dev/null && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
else
  echo "Missing system packages: ${needed[*]}." >&2
  echo "Install them with your package manager (Debian/Ubuntu: sudo apt-get install ${needed[*]}) and run make again." >&2
  exit 1
fi
