#!/usr/bin/env bash
# Build the Debian package from this work tree and check it with lintian.
#   contrib/build-deb.sh OUTDIR
# The tree's files (git's tracked and untracked-but-not-ignored ones, so
# uncommitted edits count) are copied to OUTDIR/src/vhost-user-rtc-VERSION
# with contrib/debian as its debian/, built there with
# `dpkg-buildpackage -us -uc -b`; the .deb, .changes and the build and
# lintian logs end up in OUTDIR. lintian must report no error and no
# warning that contrib/debian/*.lintian-overrides does not justify.
set -euo pipefail

out=$(mkdir -p "$1" && cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

version=$(dpkg-parsechangelog -l contrib/debian/changelog -S Version)
mk_version=$(sed -n 's/^VERSION := //p' Makefile)
if [ "$version" != "$mk_version" ]; then
	echo "contrib/debian/changelog is at $version, the Makefile at $mk_version" >&2
	exit 1
fi

src=$out/src/vhost-user-rtc-$version
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
git ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done |
	tar --null -T - -cf - | tar -xf - -C "$src"
rm -rf "$src/debian"
cp -r contrib/debian "$src/debian"

echo ">> dpkg-buildpackage -us -uc -b (log: $out/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
rm -rf "$out/src"
ls -l "$out"/*.deb

changes=$(ls "$out"/*.changes)
echo ">> lintian (log: $out/lintian.log)"
rc=0
lintian --fail-on error,warning --display-info --show-overrides \
	"$changes" >"$out/lintian.log" 2>&1 || rc=$?
cat "$out/lintian.log"
if [ $rc -ne 0 ]; then
	echo "lintian: errors or warnings (exit $rc)" >&2
	exit 1
fi
echo ">> lintian: no error, no unjustified warning"
