#!/usr/bin/env bash
# ab_bench.sh OLD_CHUNKFS NEW_CHUNKFS [ROUNDS] — two chunkfs binaries side by
# side on the large-chunk paths, with libfuse's passthrough_ll as the baseline,
# alternating in every round so that the machine's state (docs/BENCHMARKS.md
# "Noise", "A property of this machine") weighs on both alike:
#   ingest  cp of 5 x 16 MiB random and 5 x 16 MiB text files into /incoming,
#           then sync -f (a fresh repository each time)
#   ingest64  cp -r of 2 x 64 MiB random files with -o max_chunk=64M
#   cat     cat of 6 x 16 MiB random and 6 x 16 MiB text chunks, fresh mount,
#           packs in the page cache
#   first byte  open() then read(1) of each of the 12 chunks, fresh mount,
#           median milliseconds
# Prints seconds (lower is better) per binary and for passthrough. Needs root,
# /dev/fuse, python3, cc and libfuse3-dev (for passthrough). Asserts nothing.
# Example: bench/ab_bench.sh /tmp/chunkfs-before build/fs/chunkfs
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
(( $# >= 2 )) || { echo "usage: ${0##*/} OLD_CHUNKFS NEW_CHUNKFS [ROUNDS]" >&2; exit 2; }
BINS=("$(realpath "$1")" "$(realpath "$2")")
ROUNDS=${3:-3}
source "$ROOT/bench/lib.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-ab.XXXXXX")
LOG=$W/chunkfs.log; MNT=$W/mnt; PLAIN=$W/plain; PMNT=$W/pmnt; REPO=; CHUNKFS=
trap 'stop_mounts; rm -rf "$W"' EXIT
build_passthrough
gen_files "$W/src" a random 5 16777216; gen_files "$W/src" b text 5 16777216
gen_files "$W/src64" c random 2 67108864
gen_files "$W/read" d random 6 16777216; gen_files "$W/read" e text 6 16777216
(cd "$W/read" && sha256sum -- * | cut -c1-64) > "$W/digests"
mkdir -p "$PLAIN"; mount_pt
name() { [[ $1 = "${BINS[0]}" ]] && echo old || echo new; }

# Each binary stores the read set into a repository of its own, once.
for b in "${BINS[@]}"; do
  CHUNKFS=$b; REPO=$W/read-$(name "$b"); mount_fs; cp "$W"/read/* "$MNT/incoming/"; umount_fs
done

first_bytes() {  # first_bytes MNT -> median ms of open + read(1) over the digests
  python3 - "$1" "$W/digests" <<'PY'
import os, statistics, sys, time
mnt, lst = sys.argv[1], sys.argv[2]
t = []
for d in open(lst).read().split():
    a = time.perf_counter(); fd = os.open(f"{mnt}/chunks/{d}", os.O_RDONLY)
    b = os.read(fd, 1); t.append(time.perf_counter() - a); os.close(fd)
    assert len(b) == 1
print("%.3f" % (statistics.median(t) * 1000))
PY
}

for round in $(seq "$ROUNDS"); do
  echo "round $round (load $(load))"
  for b in "${BINS[@]}"; do
    n=$(name "$b"); CHUNKFS=$b
    REPO=$W/repo; rm -rf "$REPO"; mount_fs
    r=$(timed bash -c "cp $W/src/r* $MNT/incoming/ && sync -f $MNT/incoming")
    t=$(timed bash -c "cp $W/src/t* $MNT/incoming/ && sync -f $MNT/incoming")
    umount_fs
    rm -rf "$REPO"; mount_fs max_chunk=64M
    r64=$(timed bash -c "cp -r $W/src64 $MNT/incoming/ && sync -f $MNT/incoming")
    umount_fs
    REPO=$W/read-$n; mount_fs
    cr=$(timed bash -c "for d in $(head -6 "$W/digests" | tr '\n' ' '); do cat $MNT/chunks/\$d; done")
    ct=$(timed bash -c "for d in $(tail -6 "$W/digests" | tr '\n' ' '); do cat $MNT/chunks/\$d; done")
    umount_fs; mount_fs
    fb=$(first_bytes "$MNT")
    umount_fs
    printf '  %-11s ingest random %s s, text %s s, 64 MiB random %s s; cat random %s s, text %s s; first byte %s ms\n' \
      "$n" "$r" "$t" "$r64" "$cr" "$ct" "$fb"
  done
  rm -rf "${PLAIN:?}"/*
  r=$(timed bash -c "cp $W/src/r* $PMNT/ && sync -f $PMNT")
  t=$(timed bash -c "cp $W/src/t* $PMNT/ && sync -f $PMNT")
  rm -rf "${PLAIN:?}"/*
  r64=$(timed bash -c "cp -r $W/src64 $PMNT/ && sync -f $PMNT")
  cp "$W"/read/* "$PLAIN/"; remount_pt
  cr=$(timed bash -c "cat $PMNT/rd*"); ct=$(timed bash -c "cat $PMNT/te*")
  printf '  %-11s ingest random %s s, text %s s, 64 MiB random %s s; cat random %s s, text %s s\n' \
    passthrough "$r" "$t" "$r64" "$cr" "$ct"
done
