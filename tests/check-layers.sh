#!/usr/bin/env bash
# The layers, checked for real (make lint):
#
#   tests/check-layers.sh BUILD_DIR 'FOLDER:-IDIR ...' ...
#
# This script holds its own table of which layer may use which (USES
# below), so widening a folder's include path in the Makefile does not
# widen what the folder may use. It checks, on every .c and .h of every
# folder under include/, sync/, device/ and src/:
#
#  1. every folder with sources has a row in the table;
#  2. the Makefile's include path for each folder (the arguments) names
#     only the folder itself and layers its row allows;
#  3. a quoted #include names a header alone (no subpath: "dir/x.h" or
#     "../x.h" would reach past the include path), found in the folder
#     itself or in a layer its row allows;
#  4. no project header is included with <>, which would hide it from 3;
#  5. every header guard ends with the file's name (FOO_BAR_H for
#     foo_bar.h);
#  6. symbols (nm on BUILD_DIR/obj): every undefined symbol of a layer's
#     objects is defined in the same layer, in a layer its row allows
#     (USES, or LINKS for an interface in include/ implemented in a
#     layer), or nowhere in the tree (a system library). A hand-written
#     prototype that skips a header is caught here;
#  7. only sync/discipline.c publishes into the daemon's clock model
#     (clock_model_writer.h): no other object of sync/, device/ or src/
#     references clock_model_publish.
set -euo pipefail

# Which layer may use which, lowest first. A folder may always use itself.
declare -A USES=(
	[include]=""
	[sync/model]="include"
	[sync/sources]="include sync/model"
	[sync]="include sync/model sync/sources"
	[device]="include"
	[src]="include sync/model sync/sources sync device"
	[src/tools/ctl]="include"
	[src/tools/frontend]="include"
	[src/tools/probe]="include sync/model sync/sources sync device src/tools/frontend src/tools/ctl"
	[src/libvrtc]="include"
	[src/tools/now]="include"
	# the guest agent: libvrtc's page reader and PHC code
	[src/tools/agent]="include src/libvrtc"
)
# Symbols only: the layer that implements an interface of include/.
declare -A LINKS=(
	[device]="sync/model"        # include/clock_model.h (the read side)
	[src/tools/now]="src/libvrtc" # include/vrtc.h
	[src/tools/agent]="src/libvrtc" # include/vrtc.h
)
ORDER="include sync/model sync/sources sync device src src/tools/ctl src/tools/frontend src/tools/probe src/libvrtc src/tools/now src/tools/agent"

if [ $# -lt 1 ] || [ ! -d "$1/obj" ]; then
	echo "usage: $0 BUILD_DIR FOLDER:'-IDIR ...' ... (make lint passes them)" >&2
	exit 2
fi
build=$1
shift
status=0
err() {
	echo "$*" >&2
	status=1
}
allowed() { # allowed FOLDER LAYER: may FOLDER use LAYER's headers?
	[[ $1 == "$2" ]] && return 0
	[[ " ${USES[$1]} " == *" $2 "* ]]
}

# 1. every folder with sources has a row
while read -r d; do
	[[ -v USES[$d] ]] || err "$d: has sources but no row in tests/check-layers.sh's table; say which layers it may use"
done < <(git ls-files 'include/*.[ch]' 'sync/*.[ch]' 'device/*.[ch]' 'src/*.[ch]' | xargs -n1 dirname | sort -u)

# 2. the Makefile's include paths are no wider than the table
for arg in "$@"; do
	folder=${arg%%:*}
	read -r -a flags <<<"${arg#*:}"
	[[ -v USES[$folder] ]] || err "Makefile: layer $folder has no row in tests/check-layers.sh"
	for f in "${flags[@]}"; do
		d=${f#-I}
		allowed "$folder" "$d" || err "Makefile: $folder is compiled with -I$d, a layer it may not use (its row: ${USES[$folder]:-none})"
	done
done

# 3, 4, 5. includes and guards
for folder in $ORDER; do
	shopt -s nullglob
	for file in "$folder"/*.c "$folder"/*.h; do
		while IFS=: read -r line text; do
			if [[ $text =~ \#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]]; then
				name=${BASH_REMATCH[1]}
				if [[ $name == */* ]]; then
					err "$file:$line: #include \"$name\" names a subpath; include \"${name##*/}\" and let the layer table allow its folder"
					continue
				fi
				[[ -e $folder/$name ]] && continue
				ok=
				where=
				for l in $ORDER; do
					if [[ -e $l/$name ]]; then
						where+=" $l"
						allowed "$folder" "$l" && ok=1
					fi
				done
				[[ -n $ok ]] && continue
				if [[ -n $where ]]; then
					err "$file:$line: #include \"$name\" is in${where}, a layer $folder may not use (it may use: ${USES[$folder]:-nothing})"
				else
					err "$file:$line: #include \"$name\" is no project header; system headers take <>"
				fi
			elif [[ $text =~ \#[[:space:]]*include[[:space:]]*\<([^\>]*)\> ]]; then
				name=${BASH_REMATCH[1]}
				for l in $ORDER src src/tools .; do
					if [[ -e $l/$name ]]; then
						err "$file:$line: #include <$name> is the project's $l/$name: write #include \"${name##*/}\""
						break
					fi
				done
			fi
		done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file")
		if [[ $file == *.h ]]; then
			base=$(basename "$file" .h)
			want=${base^^}_H
			guard=$(grep -m1 '^#ifndef' "$file" | awk '{print $2}')
			[[ $guard == *"$want" ]] || err "$file: header guard ${guard:-missing} does not end with $want"
		fi
	done
done

# 6. symbols
defs=$(mktemp)
uses=$(mktemp)
trap 'rm -f "$defs" "$uses"' EXIT
for l in $ORDER; do
	for o in "$build/obj/$l"/*.o; do
		obj=${o#"$build"/obj/}
		nm -g --defined-only "$o" | awk -v L="$l" -v O="$obj" \
			'NF == 3 { print "D", $3, L, O }'
		nm -u "$o" | awk -v L="$l" -v O="$obj" '{ print "U", $2, L, O }'
	done
	# what the layer may link against, for awk below
	echo "A $l $l ${USES[$l]} ${LINKS[$l]:-}" >>"$uses"
done >"$defs"
nsym=$(grep -c '^U' "$defs" || true)
out=$(awk 'FNR == NR { for (i = 3; i <= NF; i++) ok[$2 " " $i] = 1; next }
	$1 == "D" { home[$2] = home[$2] " " $3; file[$2 " " $3] = $4; next }
	{ u[++n] = $0 }
	END {
		for (k = 1; k <= n; k++) {
			split(u[k], f, " ")
			sym = f[2]; l = f[3]; obj = f[4]
			if (!(sym in home)) continue	# a system library
			m = split(home[sym], h, " "); good = 0
			for (i = 1; i <= m; i++) if (ok[l " " h[i]]) good = 1
			if (good) continue
			sub(/\.o$/, ".c", obj)
			from = file[sym " " h[1]]; sub(/\.o$/, ".c", from)
			printf "%s: uses %s, defined in %s (layer %s), a layer %s may not use\n", obj, sym, from, h[1], l
		}
	}' "$uses" "$defs")
if [[ -n $out ]]; then
	err "$out"
fi

# 7. one publisher
for l in sync sync/model sync/sources device src; do
	for o in "$build/obj/$l"/*.o; do
		[[ $o == */sync/discipline.o ]] && continue
		if nm -u "$o" | grep -qw clock_model_publish; then
			err "${o#"$build"/obj/}: calls clock_model_publish(); in the daemon only sync/discipline.c publishes (clock_model_writer.h)"
		fi
	done
done

if ((status == 0)); then
	echo "layers: $(wc -w <<<"$ORDER") folders by their own table; includes plain and downward, guards named, $nsym undefined symbols resolved downward"
fi
exit "$status"
