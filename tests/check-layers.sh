#!/usr/bin/env bash
# The include direction, checked on every .c and .h of every layer (make
# lint). Each argument is "FOLDER:-IDIR -IDIR ...", the include path the
# Makefile compiles FOLDER with: a quoted #include must name a file in
# FOLDER itself or in one of those directories, and never climb with "..".
# The compiler enforces the same for .c files; this also covers headers no
# .c of their own folder includes, and says which layer was crossed.
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 FOLDER:'-IDIR ...' ... (make lint passes the Makefile's table)" >&2
	exit 2
fi
status=0
for arg in "$@"; do
	folder=${arg%%:*}
	read -r -a flags <<<"${arg#*:}"
	dirs=()
	for f in "${flags[@]}"; do
		dirs+=("${f#-I}")
	done
	shopt -s nullglob
	for file in "$folder"/*.c "$folder"/*.h; do
		while IFS=: read -r line inc; do
			name=${inc#*\"}
			name=${name%%\"*}
			if [[ $name == *..* ]]; then
				echo "$file:$line: #include \"$name\" climbs out of its folder; name the header, the Makefile's include path finds it" >&2
				status=1
				continue
			fi
			[[ -e $folder/$name ]] && continue
			found=
			for d in "${dirs[@]}"; do
				if [[ -e $d/$name ]]; then
					found=$d
					break
				fi
			done
			[[ -n $found ]] && continue
			where=$(cd . && find include sync device src -path "*/$name" 2>/dev/null | head -n 1)
			echo "$file:$line: #include \"$name\"${where:+ ($where)} is not in $folder or a layer below it (${dirs[*]})" >&2
			status=1
		done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
	done
done
if ((status == 0)); then
	echo "layers: $# folders, every quoted include points down or sideways within its folder"
fi
exit "$status"
