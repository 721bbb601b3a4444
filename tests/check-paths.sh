#!/usr/bin/env bash
# Every path of this tree named in the README, the other Markdown files,
# the man pages, the Makefile, and the comments and strings of the
# sources and scripts exists (make lint): a file that moved leaves no
# stale name behind. A path is a word starting with one of the top-level
# folders (src/ sync/ device/ include/ tests/ conf/ contrib/) or docs/;
# globs and trailing slashes are allowed. Paths of other projects (QEMU's
# docs/interop/..., the kernel's include/uapi/...) are listed below.
set -euo pipefail

# Other projects' paths, as a regular expression.
external='^(docs/(interop|system|devel|PROTOCOL\.md|CODING_STYLE\.md|architecture\.md)|include/(uapi|linux|asm|net|hw|qemu|standard-headers)/|src/(timesync|shared|basic|libsystemd)|contrib/(vhost-user-|libvhost-user)|tests/(unit|qtest)/(test-|libqos)|sync/atomic)'
status=0
n=0
files=$(git ls-files 'README.md' '*.md' '*.[1358]' Makefile '*.c' '*.h' '*.sh' '*.in' '*.conf' | grep -v '^tests/fuzz/corpus/')
while IFS=: read -r file line path; do
	n=$((n + 1))
	path=${path%%[.,:;)\`\'\"]}
	path=${path%%[.,:;)\`\'\"]}
	[[ $path =~ $external ]] && continue
	# a glob, or a placeholder (tests/fuzz/corpus/NAME, source_X.c): its
	# folder
	if [[ $path == *[*?]* || ${path##*/} =~ (^|[_-])[A-Z]+([_.-]|$) ]]; then
		[[ -d ${path%/*} ]] && continue
	elif [[ -e $path ]]; then
		continue
	fi
	echo "$file:$line: names $path, which does not exist" >&2
	status=1
done < <(grep -noE '(^|[^A-Za-z0-9_./~$-])(src|sync|device|include|tests|conf|contrib|docs)/[A-Za-z0-9_.*+@/-]*[A-Za-z0-9_*/]' $files |
	sed -E 's/^([^:]*:[0-9]+:)[^a-z]?/\1/')
if ((status == 0)); then
	echo "paths: $n tree paths named in docs, the Makefile and the sources; all exist"
fi
exit "$status"
