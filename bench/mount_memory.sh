#!/usr/bin/env bash
# mount_memory.sh [BUILD_DIR] — resident memory of a chunkfs mount under many
# concurrent writers (issue 7 item 5; docs/MOUNT.md "Memory" states the bound).
#
#   bench/mount_memory.sh                  # uses ./build, default mount options
#   bench/mount_memory.sh build-mem        # any build dir with fs/chunkfs and tools/chunkctl
#   OPTS=write_buffer=0,cache_size=1M ...  # extra -o options for the mount
#   WRITERS=32 FILES=2 SIZE=16M BS=1M ...  # the load (these are the defaults)
#   SETTLE=10 ...                          # seconds sampled after the writers finish
#   CHUNKFS_BIN=/other/chunkfs ...         # measure another chunkfs binary (before/after)
#   TMPDIR=/somewhere ...                  # where the repository and sources go
#
# The load: WRITERS processes at once, each storing FILES files of SIZE random
# bytes (all different) with `dd bs=BS conv=fsync` into MNT/incoming. The
# sources are made before the mount starts, so only the copies are measured.
# The mount process's VmRSS is sampled from /proc every 50 ms; VmHWM (the
# kernel's own peak) is read at the end of the load. Prints the figures; asserts
# nothing. Needs root (or a user allowed to mount FUSE), /dev/fuse and
# fusermount3. About 1 minute on 2 cores; the trap unmounts and removes
# everything on any exit.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
[[ $BUILD = /* ]] || BUILD=$PWD/$BUILD
CHUNKFS=${CHUNKFS_BIN:-$BUILD/fs/chunkfs}
CHUNKCTL=$BUILD/tools/chunkctl
WRITERS=${WRITERS:-32}
FILES=${FILES:-2}
SIZE=${SIZE:-16M}
BS=${BS:-1M}
SETTLE=${SETTLE:-10}
OPTS=${OPTS:-}
for b in "$CHUNKFS" "$CHUNKCTL"; do
  [[ -x $b ]] || { echo "mount_memory: $b not built (cmake --build $BUILD --target chunkfs chunkctl)" >&2; exit 2; }
done
[[ -e /dev/fuse ]] || { echo "mount_memory: no /dev/fuse" >&2; exit 2; }
command -v fusermount3 >/dev/null || { echo "mount_memory: no fusermount3" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-mount-memory.XXXXXX")
MNT=$W/mnt
FS_PID=
SAMPLER=

is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo 2>/dev/null; }

cleanup() {
  local rc=$?
  [[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null
  if is_mounted "$MNT"; then fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null; fi
  if [[ -n $FS_PID ]] && kill -0 "$FS_PID" 2>/dev/null; then
    kill -TERM "$FS_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$FS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FS_PID" 2>/dev/null
  fi
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT INT TERM

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$FS_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# Sources: distinct random files, made before the mount exists.
mkdir -p "$W/src" "$MNT"
for w in $(seq "$WRITERS"); do
  for f in $(seq "$FILES"); do head -c "$SIZE" /dev/urandom >"$W/src/w$w-$f"; done
done

"$CHUNKCTL" init "$W/repo" >/dev/null
"$CHUNKFS" "$W/repo" "$MNT" -f ${OPTS:+-o "$OPTS"} 2>"$W/chunkfs.log" &
FS_PID=$!
for _ in $(seq 150); do is_mounted "$MNT" && break; sleep 0.1; done
is_mounted "$MNT" || { echo "mount_memory: the mount did not come up:" >&2; cat "$W/chunkfs.log" >&2; exit 1; }
start_kib=$(kib VmRSS)

# RSS every 50 ms, "seconds kib" per line.
( t0=$(date +%s.%N)
  while kill -0 "$FS_PID" 2>/dev/null; do
    echo "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') $(kib VmRSS)"
    sleep 0.05
  done ) >"$W/rss.log" 2>/dev/null &
SAMPLER=$!

t0=$(date +%s.%N)
pids=()
for w in $(seq "$WRITERS"); do
  ( for f in $(seq "$FILES"); do
      dd if="$W/src/w$w-$f" of="$MNT/incoming/w$w-$f" bs="$BS" conv=fsync status=none
    done ) &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(date +%s.%N)
hwm_kib=$(kib VmHWM)
end_kib=$(kib VmRSS)
sleep "$SETTLE"
settled_kib=$(kib VmRSS)
stats=$(cat "$MNT/.stats")
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=

field() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" <<<"$stats" | head -1; }
stored=$(field chunks)
echo "chunkfs mount memory: $WRITERS writers x $FILES files x $SIZE (dd bs=$BS conv=fsync), -o ${OPTS:-<defaults>}"
echo "  binary                  $CHUNKFS"
echo "  writers' time           $(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f s", a - b }'), failed writers: $failed, chunks stored: $stored"
echo "  RSS at mount            $(mib "$start_kib") MiB"
echo "  peak RSS (VmHWM)        $(mib "$hwm_kib") MiB"
echo "  RSS when writers done   $(mib "$end_kib") MiB"
echo "  RSS ${SETTLE} s later          $(mib "$settled_kib") MiB"
if grep -q '"commit_gate"' <<<"$stats"; then
  echo "  commit gate             slots $(field slots), peak $(field peak), waits $(field waits)"
fi
echo "  RSS over time (s MiB):  $(awk 'NR % 20 == 1 { printf "%s:%.0f ", $1, $2 / 1024 }' "$W/rss.log")"
fusermount3 -u "$MNT"
wait "$FS_PID" || { echo "mount_memory: chunkfs exited with status $?" >&2; exit 1; }
FS_PID=
[[ $failed -eq 0 ]] || exit 1
