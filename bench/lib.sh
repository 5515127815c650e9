# bench/lib.sh — helpers shared by bench/mount_bench.sh and bench/run-all
# (sourced, not run). Mounting, timing and test data; nothing here asserts a
# time.
#
# The mount helpers use these globals of the sourcing script:
#   CHUNKFS  the chunkfs binary        REPO  its repository   MNT  its mountpoint
#   LOG      chunkfs's output          W     the work directory
#   PLAIN    the passthrough's backing directory, PMNT its mountpoint
#   PT_BIN   the compiled passthrough_ll ("" = none), FS_PID / PT_PID the
#            processes they started (set here)

# bench_paths [BUILD_DIR]: sets BUILD (absolute; default $ROOT/build), CHUNKFS
# (CHUNKFS_BIN if set: another build of the mount) and CHUNKCTL.
# REQUIRES: ROOT, the checkout.
bench_paths() {
  BUILD=${1:-$ROOT/build}
  [[ $BUILD = /* ]] || BUILD=$PWD/$BUILD
  CHUNKFS=${CHUNKFS_BIN:-$BUILD/fs/chunkfs}
  CHUNKCTL=$BUILD/tools/chunkctl
}

STEP_TIMEOUT=${STEP_TIMEOUT:-120}   # seconds, any one step touching a mount
FS_PID=
PT_PID=
PT_BIN=${PT_BIN:-}

die() { echo "${0##*/}: $*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
T() { timeout "$STEP_TIMEOUT" "$@"; }
TF() { timeout "$STEP_TIMEOUT" bash -c "$1 \"\$@\"" _ "${@:2}"; }   # TF FUNCTION ARGS (exported functions)
load() { cut -d' ' -f1-3 /proc/loadavg; }
MB() { awk -v b="$1" 'BEGIN { printf "%.3f", b / 1e6 }'; }
# rate QUANTITY SECONDS -> QUANTITY per second ("-" stays "-")
rate() { [[ $2 = - ]] && { echo -; return; }; awk -v q="$1" -v s="$2" 'BEGIN { printf "%.1f", q / s }'; }
# fmt_ratio A B -> A / B with two decimals, "-" if either is missing
fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
best() { sort -g | head -1; }

# timed CMD... -> seconds (output of CMD discarded)
timed() {
  local a b
  a=$(now)
  "$@" >/dev/null
  b=$(now)
  sub "$a" "$b"
}

is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo 2>/dev/null; }

stop_mount() {  # stop_mount MNT PID  (best effort, for the trap)
  if is_mounted "$1"; then fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null; fi
  if [[ -n $2 ]] && kill -0 "$2" 2>/dev/null; then
    kill -TERM "$2" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$2" 2>/dev/null
  fi
  is_mounted "$1" && fusermount3 -uz "$1" 2>/dev/null
  return 0
}

wait_mounted() {  # wait_mounted MNT PID NAME
  for _ in $(seq 200); do
    if is_mounted "$1" && stat -f "$1" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || die "$3 exited before mounting $1"
    sleep 0.05
  done
  die "$3 did not mount $1 within 10 s"
}

unmount_wait() {  # unmount_wait MNT PID NAME  (requires exit status 0)
  local ok= rc=0
  for _ in $(seq 50); do
    if fusermount3 -u "$1" 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [[ -n $ok ]] || die "fusermount3 -u $1 kept failing"
  wait "$2" || rc=$?
  (( rc == 0 )) || die "$3 exited with status $rc after unmount"
}

# These must run in the main shell (not in $(...)): they wait for their child.
mount_fs() {  # mount_fs [EXTRA,-o,OPTIONS]  (creates REPO if missing)
  mkdir -p "$MNT"
  "$CHUNKFS" "$REPO" "$MNT" -f -o "create${1:+,$1}" >>"$LOG" 2>&1 &
  FS_PID=$!
  wait_mounted "$MNT" "$FS_PID" chunkfs
}
umount_fs() { unmount_wait "$MNT" "$FS_PID" chunkfs; FS_PID=; }
remount_fs() { umount_fs; mount_fs "$@"; }
mount_pt() {
  [[ -n $PT_BIN ]] || return 0
  mkdir -p "$PMNT"
  "$PT_BIN" -f -o source="$PLAIN" "$PMNT" >>"$W/passthrough.log" 2>&1 &
  PT_PID=$!
  wait_mounted "$PMNT" "$PT_PID" passthrough_ll
}
umount_pt() { [[ -n $PT_BIN ]] || return 0; unmount_wait "$PMNT" "$PT_PID" passthrough_ll; PT_PID=; }
remount_pt() { umount_pt; mount_pt; }
stop_mounts() { stop_mount "$MNT" "$FS_PID"; stop_mount "$PMNT" "$PT_PID"; }   # for traps

stats_field() {  # stats_field NAME -> first numeric field NAME in MNT/.stats
  sed -n "s/.*\"$1\": \\([0-9]*\\).*/\\1/p" "$MNT/.stats" | head -1
}

# build_passthrough: compiles libfuse's example passthrough_ll into $W and sets
# PT_BIN (empty if the example, cc or libfuse3-dev is missing); says which.
PT_EXAMPLES=/usr/share/doc/libfuse3-dev/examples
build_passthrough() {
  PT_BIN=
  if [[ -f $PT_EXAMPLES/passthrough_ll.c ]] &&
     ${CC:-cc} -O2 -w -o "$W/passthrough_ll" "$PT_EXAMPLES/passthrough_ll.c" $(pkg-config --cflags --libs fuse3) \
       -lpthread 2>"$W/cc.log"; then
    PT_BIN=$W/passthrough_ll
    echo "  passthrough baseline: $PT_EXAMPLES/passthrough_ll.c (libfuse $(pkg-config --modversion fuse3)), default options"
  else
    echo "  passthrough baseline: not available (needs $PT_EXAMPLES/passthrough_ll.c, cc, libfuse3-dev); column shows -"
  fi
}

CAN_DROP=0
if { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then CAN_DROP=1; fi
drop_caches() {
  sync
  if (( CAN_DROP )); then echo 3 > /proc/sys/vm/drop_caches; fi
}

# Test data. Text is numbered lines: every file is unique (no dedup), yet
# compressible.
text() { seq -f "%010.0f $1 backup chunk store pack index seal the of a" 1 "$2" || true; }  # head -c closes the pipe early
# gen_files DIR PREFIX KIND COUNT SIZE: COUNT files of SIZE bytes, random or text
gen_files() {
  local dir=$1 p=$2 kind=$3 n=$4 size=$5
  mkdir -p "$dir"
  (( n > 0 )) || return 0
  if [[ $kind = random ]]; then
    head -c $(( n * size )) /dev/urandom | split -b "$size" -a 4 -d - "$dir/r$p"
  else
    text "$p" $(( n * size / 40 + 1 )) | head -c $(( n * size )) | split -b "$size" -a 4 -d - "$dir/t$p"
  fi
}
gen_tree() {  # gen_tree DIR PREFIX NFILES: half random, half text, 64 KiB each
  gen_files "$1" "$2" random $(( $3 / 2 )) 65536
  gen_files "$1" "$2" text $(( $3 / 2 )) 65536
}
