#!/usr/bin/env bash
# npm ci in DIR, with node_modules cached between runs (clean clones in CI
# included): the cache is keyed by the lockfile, Node's version and the
# machine, because npm ci compiles better-sqlite3 for this Node (1-2 minutes).
# TASKBOLT_NPM_CACHE moves the cache; set it to "off" to always run npm ci.
set -euo pipefail
dir=$1
cache=${TASKBOLT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskbolt/node_modules}
if ! command -v node >/dev/null; then
  echo "node is not installed: Node 20 is needed for $dir (CI installs Debian's)" >&2
  exit 1
fi
key=$( (cat "$dir/package-lock.json"; node --version; uname -sm) | sha256sum | cut -c1-16)
tarball="$cache/$(basename "$dir")-$key.tar"
if [ "$cache" != off ] && [ -f "$tarball" ]; then
  rm -rf "$dir/node_modules"
  tar -xf "$tarball" -C "$dir"
  echo "$dir/node_modules restored from $tarball"
else
  (cd "$dir" && npm ci --no-audit --no-fund)
  if [ "$cache" != off ]; then
    mkdir -p "$cache"
    rm -f "$cache/$(basename "$dir")"-*.tar # older lockfiles
    tar -cf "$tarball.tmp" -C "$dir" node_modules && mv "$tarball.tmp" "$tarball"
  fi
fi
touch "$dir/node_modules/.package-lock.json" # newer than the lockfile: make sees it done
