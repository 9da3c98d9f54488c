#!/usr/bin/env bash
# npm-test.sh DIST: pack the npm packages a release made (the taskbolt
# package and this platform's binary package), install the tarballs into a
# fresh project with no network (npm --offline, through a proxy that cannot
# be reached), and run the launcher and the fixture from a Vitest test
# (npm/test/fixture.test.mjs). Vitest itself comes from a local npm cache,
# filled once from the registry (~/.cache/taskbolt/npm-offline).
set -euo pipefail
dist=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
vitest=vitest@3.2.7
cache=${NPM_OFFLINE_CACHE:-$HOME/.cache/taskbolt/npm-offline}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$(uname -m)" in x86_64) cpu=x64 ;; aarch64) cpu=arm64 ;; *) cpu=$(uname -m) ;; esac
platform=linux-$cpu

mkdir -p "$work/packs" "$cache"
for p in taskbolt "$platform"; do
  (cd "$dist/npm/$p" && npm pack --silent --pack-destination "$work/packs" >/dev/null)
done
ls "$work/packs"

# Vitest into the cache (the one step that may use the network; once per machine).
if ! (mkdir -p "$work/probe" && cd "$work/probe" && npm init -y >/dev/null &&
      npm install --offline --cache "$cache" --no-audit --no-fund --silent "$vitest" >/dev/null 2>&1); then
  echo "== filling the npm cache with $vitest"
  (mkdir -p "$work/warm" && cd "$work/warm" && npm init -y >/dev/null && npm install --cache "$cache" --no-audit --no-fund --silent "$vitest")
fi

# The user's project, offline.
mkdir -p "$work/app" && cd "$work/app"
printf '{"name":"app","private":true,"type":"module"}\n' > package.json
npm install --offline --proxy http://127.0.0.1:9/ --https-proxy http://127.0.0.1:9/ --cache "$cache" --no-audit --no-fund \
  "$vitest" "$work"/packs/*.tgz
test -x "node_modules/@taskbolt/$platform/bin/taskbolt" || { echo "npm-test: the $platform binary was not installed"; exit 1; }
cp "$here/npm/test/fixture.test.mjs" .
npx --no-install vitest run --reporter=verbose
