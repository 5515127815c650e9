#!/usr/bin/env bash
# mount_bench.sh [BUILD_DIR] — throughput of a real chunkfs mount. Every figure
# is put next to baselines measured on the same disk in the same run (the
# machine is shared and noisy: absolute MB/s mean little, ratios travel).
#
#   bench/mount_bench.sh                 # uses ./build
#   bench/mount_bench.sh build-bench     # any build dir with fs/chunkfs,
#                                        # tools/chunkctl, bench/store_bench
#   CHUNKFS_BENCH_NO_STORE=1 ...         # skip store_bench (mount part only)
#   CHUNKFS_BENCH_NO_PASSTHROUGH=1 ...   # skip the FUSE passthrough baseline
#   CHUNKFS_BIN=/other/chunkfs ...       # measure another chunkfs binary (A/B)
#   TMPDIR=/somewhere ...                # where everything goes (one file system)
#
# Needs root (or a user allowed to mount FUSE), /dev/fuse and fusermount3.
# Cold reads need /proc/sys/vm/drop_caches to be writable (root); without it
# the "cold" rows say so. Not run by ctest; nothing here asserts a time.
# About 2-3 minutes on 2 cores; every step touching a mount is bounded by
# `timeout`, and the trap unmounts and removes everything on any exit.
#
# Baselines (docs/BENCHMARKS.md says why):
#   native       the same operation on a plain directory of the same ext4
#   passthrough  libfuse 3.14's example passthrough_ll (compiled here from
#                /usr/share/doc/libfuse3-dev/examples if present, default
#                options) over a plain directory: what FUSE alone costs, under
#                the same load as chunkfs
#
# What is measured:
#   ingest   cp -r into the mount vs into a plain dir, each followed by
#            `sync -f` (timed: both get their data to the disk); 1,000 x 64 KiB
#            files (half random, half text), 20 x 16 MiB, 4 parallel cp -r of
#            250 x 64 KiB each
#   read     cat of the stored chunks (by digest, from MNT/chunks) vs cat of
#            the same source files: cold (remount + drop_caches), remounted
#            with the packs in the page cache, and again in the same mount;
#            dd bs=4k vs bs=1M of one 16 MiB text chunk, remounted before each
#   listing  ls MNT/chunks | wc -l (about 22,000 chunks) vs ls | wc -l of a
#            plain directory holding empty files of the same names
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
bench_paths "${1:-}"   # CHUNKFS_BIN=... compares another build of the mount
STORE_BENCH=$BUILD/bench/store_bench
for b in "$CHUNKFS" "$CHUNKCTL"; do
  [[ -x $b ]] || { echo "mount_bench: $b not built (cmake --build $BUILD --target chunkfs chunkctl store_bench)" >&2; exit 2; }
done
[[ -e /dev/fuse ]] || { echo "mount_bench: no /dev/fuse" >&2; exit 2; }
command -v fusermount3 >/dev/null || { echo "mount_bench: no fusermount3" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-mount-bench.XXXXXX")
REPO=$W/repo       # chunkfs repository
MNT=$W/mnt         # chunkfs mountpoint
PLAIN=$W/plain     # plain directory: sources, and the passthrough's backing dir
SRC=$PLAIN/src     # the data (read natively as $SRC, through passthrough as $PMNT/src)
NAT=$W/native      # native ingest target
PMNT=$W/pmnt       # passthrough mountpoint (backed by $PLAIN)
LOG=$W/chunkfs.log

cleanup() {
  local rc=$?
  set +e
  stop_mounts
  if (( rc != 0 )) && [[ -s $LOG ]]; then echo "--- chunkfs log:" >&2; tail -20 "$LOG" >&2; fi
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- results
ROWS=()
# row NAME UNIT NATIVE PASSTHROUGH CHUNKFS  (rates: higher = faster; "-" = not measured)
row() {
  local rc rp rcp
  rc=$(fmt_ratio "$5" "$3"); rp=$(fmt_ratio "$4" "$3"); rcp=$(fmt_ratio "$5" "$4")
  ROWS+=("$1"$'\x1f'"$2"$'\x1f'"$3"$'\x1f'"$4"$'\x1f'"$5"$'\x1f'"$rc"$'\x1f'"$rp"$'\x1f'"$rcp")
  printf '  %-40s %-7s native %9s  passthrough %9s  chunkfs %9s   chunkfs/native %s  passthrough/native %s  chunkfs/passthrough %s\n' \
    "$1" "$2" "$3" "$4" "$5" "$rc" "$rp" "$rcp"
}
forks() { awk '$1 == "processes" { print $2 }' /proc/stat; }   # processes + threads created, system-wide

# ---------------------------------------------------------------- setup
echo "mount_bench: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r), load average $(load)"
echo "  chunkfs $CHUNKFS (default options), work dir $W"
T0=$(now)
mkdir -p "$SRC"/{small,large,ls} "$NAT"

[[ -z ${CHUNKFS_BENCH_NO_PASSTHROUGH:-} ]] && build_passthrough
(( CAN_DROP )) || echo "  NOTE: drop_caches not permitted: \"cold\" rows read from the page cache"

gen_tree "$SRC/small" s 1000
for i in 0 1 2 3; do gen_tree "$SRC/par/$i" "p$i" 250; done
gen_files "$SRC/large" L random 10 $(( 16 << 20 ))
gen_files "$SRC/large" L text 10 $(( 16 << 20 ))
SMALL_FILES=$(find "$SRC/small" -type f | wc -l)
LARGE_FILES=$(find "$SRC/large" -type f | wc -l)
PAR_FILES=$(find "$SRC/par" -type f | wc -l)
(( SMALL_FILES == 1000 && LARGE_FILES == 20 && PAR_FILES == 1000 )) || die "data generation gave $SMALL_FILES/$LARGE_FILES/$PAR_FILES files"
SMALL_BYTES=$(( SMALL_FILES * 65536 ))
LARGE_BYTES=$(( LARGE_FILES * (16 << 20) ))
PAR_BYTES=$(( PAR_FILES * 65536 ))
# digest <-> source path, untimed
(cd "$SRC" && find small par -type f | sort | xargs sha256sum) > "$W/small.sums"
(cd "$SRC" && find large -type f | sort | xargs sha256sum) > "$W/large.sums"
echo "  data: $SMALL_FILES + $PAR_FILES files of 64 KiB and $LARGE_FILES of 16 MiB, made in $(sub "$T0" "$(now)") s"

mount_fs
mount_pt

# ---------------------------------------------------------------- ingest
echo "ingest: cp -r SRC DEST && sync -f DEST (source in page cache; load $(load))"
# one_cp SRC DEST SYNCPATH
one_cp() { cp -r "$1" "$2" && sync -f "$3"; }
par_cp() {  # par_cp DESTROOT SYNCPATH: 4 cp -r at once
  local pids=() rc=0 i
  mkdir -p "$1"
  for i in 0 1 2 3; do cp -r "$SRC/par/$i" "$1/$i" & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  sync -f "$2"
  return $rc
}
# ingest3 NAME FILES BYTES FUNC ARGS-FOR-SRC-OR-NOTHING
#   runs FUNC for native, passthrough, chunkfs: FUNC [SRC] DEST SYNCPATH
ingest3() {
  local name=$1 files=$2 bytes=$3 fn=$4 src=${5:-} dest=${6:-} tn tp=- tc f0 fn_ fp=- fc
  sync
  f0=$(forks); tn=$(timed TF "$fn" ${src:+"$src"} "$NAT/$dest" "$NAT"); fn_=$(( $(forks) - f0 ))
  if [[ -n $PT_BIN ]]; then
    sync
    f0=$(forks); tp=$(timed TF "$fn" ${src:+"$src"} "$PMNT/in-$dest" "$PLAIN"); fp=$(( $(forks) - f0 ))
  fi
  sync
  f0=$(forks); tc=$(timed TF "$fn" ${src:+"$src"} "$MNT/incoming/$dest" "$REPO"); fc=$(( $(forks) - f0 ))
  echo "  ($name: threads+processes created system-wide during the step: native $fn_, passthrough $fp, chunkfs $fc)"
  row "$name" MB/s "$(rate "$(MB "$bytes")" "$tn")" "$(rate "$(MB "$bytes")" "$tp")" "$(rate "$(MB "$bytes")" "$tc")"
  row "$name" files/s "$(rate "$files" "$tn")" "$(rate "$files" "$tp")" "$(rate "$files" "$tc")"
}
export -f one_cp par_cp
export SRC
ingest3 "cp -r 1000 x 64 KiB" "$SMALL_FILES" "$SMALL_BYTES" one_cp "$SRC/small" small
ingest3 "cp -r 20 x 16 MiB" "$LARGE_FILES" "$LARGE_BYTES" one_cp "$SRC/large" large
ingest3 "4 x cp -r 250 x 64 KiB at once" "$PAR_FILES" "$PAR_BYTES" par_cp "" par

EXPECT=$(( SMALL_FILES + LARGE_FILES + PAR_FILES ))
GOT=$(stats_field chunks)
echo "  chunkfs stored $GOT chunks (expected $EXPECT); spills $(stats_field spills);" \
  "raw $(MB "$(stats_field bytes_raw)") MB, stored $(MB "$(stats_field bytes_stored)") MB"
(( GOT == EXPECT )) || die "chunk count $GOT != $EXPECT"
rm -rf "$PLAIN"/in-*   # passthrough copies: not needed any more

# ---------------------------------------------------------------- read
echo "read: cat of the 2,000 small / 20 large chunks by digest vs cat of the same source files"
awk -v d="$SRC/" '{ print d $2 }' "$W/small.sums" > "$W/small.native"
awk -v d="$SRC/" '{ print d $2 }' "$W/large.sums" > "$W/large.native"
awk -v d="$PMNT/src/" '{ print d $2 }' "$W/small.sums" > "$W/small.pt"
awk -v d="$PMNT/src/" '{ print d $2 }' "$W/large.sums" > "$W/large.pt"
awk -v d="$MNT/chunks/" '{ print d $1 }' "$W/small.sums" > "$W/small.fuse"
awk -v d="$MNT/chunks/" '{ print d $1 }' "$W/large.sums" > "$W/large.fuse"
catlist() { T xargs -a "$1" cat; }
# read3 LABEL: times the lists, native, passthrough, chunkfs (in the caches' current state)
NS= NL= PS=- PL=- CS= CL=
read_native() { NS=$(timed catlist "$W/small.native"); NL=$(timed catlist "$W/large.native"); }
read_pt() { [[ -z $PT_BIN ]] && return 0; PS=$(timed catlist "$W/small.pt"); PL=$(timed catlist "$W/large.pt"); }
read_fs() { CS=$(timed catlist "$W/small.fuse"); CL=$(timed catlist "$W/large.fuse"); }
read_rows() {
  local sb=$(( SMALL_BYTES + PAR_BYTES ))
  row "cat 2000 x 64 KiB, $1" MB/s "$(rate "$(MB $sb)" "$NS")" "$(rate "$(MB $sb)" "$PS")" "$(rate "$(MB $sb)" "$CS")"
  row "cat 20 x 16 MiB, $1" MB/s "$(rate "$(MB "$LARGE_BYTES")" "$NL")" "$(rate "$(MB "$LARGE_BYTES")" "$PL")" "$(rate "$(MB "$LARGE_BYTES")" "$CL")"
}
# 1. cold: each side remounted (its page cache empty) and drop_caches before it
drop_caches; read_native
remount_pt; drop_caches; read_pt
remount_fs; drop_caches; read_fs
read_rows "cold"
# 2. remounted, the underlying files (packs) in the page cache: FUSE + verify + inflate
read_native                      # warms the source files again
remount_pt; remount_fs
read_native; read_pt; read_fs
read_rows "remounted, disk cached"
loads1=$(stats_field chunk_loads)
# 3. again in the same mounts (chunkfs: keep_cache keeps its page cache)
read_native; read_pt; read_fs
read_rows "again, same mount"
echo "  chunkfs chunk_loads: $loads1 after the first pass of this mount, $(stats_field chunk_loads) after the second (equal = served from the kernel's page cache)"

echo "dd of one 16 MiB text chunk (remounted before each chunkfs run; best of 3)"
D=$(awk '$2 ~ /large\/t/ { print $1; exit }' "$W/large.sums")
DREL=$(awk '$2 ~ /large\/t/ { print $2; exit }' "$W/large.sums")
cat "$SRC/$DREL" >/dev/null
DD_MB=$(MB $(( 16 << 20 )))
for bs in 4k 1M; do
  tn=(); tp=(); tc=()
  for _ in 1 2 3; do
    tn+=("$(timed dd if="$SRC/$DREL" of=/dev/null bs=$bs status=none)")
    [[ -n $PT_BIN ]] && tp+=("$(timed T dd if="$PMNT/src/$DREL" of=/dev/null bs=$bs status=none)")
    remount_fs
    tc+=("$(timed T dd if="$MNT/chunks/$D" of=/dev/null bs=$bs status=none)")
  done
  n=$(printf '%s\n' "${tn[@]}" | best); c=$(printf '%s\n' "${tc[@]}" | best); p=-
  [[ -n $PT_BIN ]] && p=$(printf '%s\n' "${tp[@]}" | best)
  row "dd bs=$bs of a 16 MiB chunk" MB/s "$(rate "$DD_MB" "$n")" "$(rate "$DD_MB" "$p")" "$(rate "$DD_MB" "$c")"
  eval "DDN_$bs=\$n DDC_$bs=\$c DDL_$bs=\$(stats_field chunk_loads)"
done
echo "  time bs=4k / bs=1M: chunkfs $(fmt_ratio "$DDC_4k" "$DDC_1M"), native $(fmt_ratio "$DDN_4k" "$DDN_1M");" \
  "chunk_loads in the mount of the last bs=4k run: $DDL_4k (1 = the chunk was decompressed once for the whole open)"

# ---------------------------------------------------------------- listing
umount_fs
seq -f "tiny chunk %.0f" 1 20000 | split -l 1 -a 5 -d - "$SRC/ls/t"
(cd "$SRC/ls" && find . -type f | T xargs "$CHUNKCTL" put "$REPO" > /dev/null)
"$CHUNKCTL" ls "$REPO" > "$W/names"
NAMES=$(wc -l < "$W/names")
rm -rf "$SRC/ls"
mkdir -p "$PLAIN/ls"
(cd "$PLAIN/ls" && xargs -a "$W/names" touch)
mount_fs
echo "listing: ls DIR | wc -l, $NAMES names (chunkfs: /chunks; native and passthrough: empty files of the same names)"
lsdir() { T ls "$1" | wc -l; }
remount_pt; drop_caches
tn=$(timed lsdir "$PLAIN/ls"); tp=-
[[ -n $PT_BIN ]] && tp=$(timed lsdir "$PMNT/ls")
tc=$(timed lsdir "$MNT/chunks")
COUNT=$(lsdir "$MNT/chunks")
(( COUNT == NAMES )) || die "ls $MNT/chunks gave $COUNT names, chunkctl ls $NAMES"
row "ls | wc -l, first after mount/drop" files/s "$(rate "$NAMES" "$tn")" "$(rate "$NAMES" "$tp")" "$(rate "$NAMES" "$tc")"
ln=(); lp=(); lc=()
for _ in 1 2 3 4 5; do
  ln+=("$(timed lsdir "$PLAIN/ls")")
  [[ -n $PT_BIN ]] && lp+=("$(timed lsdir "$PMNT/ls")")
  lc+=("$(timed lsdir "$MNT/chunks")")
done
tn=$(printf '%s\n' "${ln[@]}" | best); tc=$(printf '%s\n' "${lc[@]}" | best); tp=-
[[ -n $PT_BIN ]] && tp=$(printf '%s\n' "${lp[@]}" | best)
row "ls | wc -l, warm, best of 5" files/s "$(rate "$NAMES" "$tn")" "$(rate "$NAMES" "$tp")" "$(rate "$NAMES" "$tc")"
umount_fs
umount_pt

# ---------------------------------------------------------------- summary
echo
echo "mount_bench summary ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r), load average now $(load))"
echo "rates: higher = faster; c/n = chunkfs / native, p/n = passthrough / native, c/p = chunkfs / passthrough"
printf '%-42s %-7s %10s %10s %10s %6s %6s %6s\n' test unit native passthru chunkfs c/n p/n c/p
for r in "${ROWS[@]}"; do
  IFS=$'\x1f' read -r name unit nv pv cv rc rp rcp <<<"$r"
  printf '%-42s %-7s %10s %10s %10s %6s %6s %6s\n' "$name" "$unit" "$nv" "$pv" "$cv" "$rc" "$rp" "$rcp"
done
echo "mount part: $(sub "$T0" "$(now)") s"

# ---------------------------------------------------------------- store_bench
if [[ -z ${CHUNKFS_BENCH_NO_STORE:-} ]]; then
  if [[ -x $STORE_BENCH ]]; then
    echo
    echo "== store_bench $W/store"
    T "$STORE_BENCH" "$W/store"
    echo
    echo "== store_bench $W/scale --scale"
    T "$STORE_BENCH" "$W/scale" --scale
  else
    echo "(store_bench not built: cmake --build $BUILD --target store_bench)"
  fi
fi
echo "mount_bench: done in $(sub "$T0" "$(now)") s, load average $(load)"
