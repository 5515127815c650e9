#!/usr/bin/env bash
# rados_bench.sh [BUILD_DIR] — a chunkfs repository in a Ceph RADOS pool
# (docs/RADOS.md, issue 11) against a local-directory repository and against
# `rados bench`, all measured in the same run on a throwaway single-node
# cluster that the script boots itself (tools/ceph-test-cluster, ~20 s) and
# stops again on any exit. Every figure is printed next to its baseline and
# as a ratio (the machine is shared and noisy: absolute figures mean little).
#
#   bench/rados_bench.sh                     # uses ./build
#   bench/rados_bench.sh build-radosbench    # any build dir with fs/chunkfs and tools/chunkctl
#                                            #   configured with -DCHUNKFS_RADOS=ON
#   TMPDIR=/somewhere ...                    # where everything goes (cluster, repositories,
#                                            #   mountpoints: one file system, one disk)
#   RADOS_BENCH_SECS=5 ...                   # seconds of each `rados bench` write run
#   PACKS_CHUNKS=6000 ...                    # chunks of the many-packs repository (step 3)
#
# Needs root (or a user allowed to mount FUSE), /dev/fuse, fusermount3,
# python3, the ceph daemons tools/ceph-test-cluster needs (ceph-mon ceph-osd
# ceph-mgr ceph-common uuid-runtime) and `rados`. Cold reads write
# /proc/sys/vm/drop_caches (root). Not run by ctest; asserts no time; checks
# the chunk counts. About 2-3 minutes on 2 cores. Every step touching a mount
# runs under `timeout`; the trap unmounts every mount it started (waiting for
# each chunkfs to exit, then -uz and signals), stops the cluster and removes
# the work directory. Progress goes to stderr, the summary (a markdown
# table) to stdout.
#
# What is measured, and against what (same run, same disk):
#   1 ingest  `cp -r SRC MNT/incoming/X && sync -f MNT && sync MNT/chunks/D`,
#             timed together (the cp and the syncs are also printed apart),
#             for 8 x 16 MiB and 400 x 64 KiB random files into fresh
#             repositories, then 400 more x 64 KiB (every shard has its
#             pack by then; nothing compresses, nothing deduplicates). `sync -f` on a FUSE
#             mount does not reach chunkfs (the kernel sends no syncfs to it),
#             so the last `sync FILE` (an fsync of one stored chunk) is what
#             makes the mount run Repository::Sync: on RADOS it returns once
#             the cluster acknowledged every append, locally once the packs
#             are fdatasync'ed; both sides get the same command.
#             Baselines: the same into a mount of a local-directory
#             repository; `rados bench SECS write -b SIZE -t 16` with SIZE =
#             the chunk size (16M and 64K). The chunk size, not the 64 MiB
#             pack, because every chunk is one RADOS append (aio, up to
#             64 MiB in flight a pack) into its shard's pack object: the op
#             size is the chunk, the pack only names where appends land.
#   2 read    `cat` of every stored chunk by digest (MNT/chunks/<sha256 of the
#             source>) after a remount and drop_caches, RADOS vs local, vs
#             `rados bench SECS seq -t 16` of the objects step 1 wrote (and
#             `rados bench 3 rand -t 1` of the 64K ones: one op's latency,
#             step 3's baseline for the mount's serial round trips).
#             drop_caches empties the host's page cache (the local packs, and
#             whatever of the OSD's block file it held) but not the OSD's
#             in-process caches (BlueStore's, RocksDB's).
#   3 mount   a repository with many packs: `chunkctl init --pack-size 4K`,
#             then `chunkctl put` of PACKS_CHUNKS x 1000-byte random chunks
#             (about 4 a pack: over 1,000 sealed packs, several in each of
#             the 256 shards), into RADOS and into a local directory (the
#             put is timed too). Then the time from starting `chunkfs REPO
#             MNT -f` until `MNT/chunks` answers (median of 3 each, local and
#             RADOS alternating), the same once after drop_caches, and
#             `chunkctl stats REPO` / `chunkctl get REPO DIGEST` (each opens
#             the repository read-only; median of 3), and the unmount of a
#             mount that stored nothing (until its process exited).
#             The OSD's op counters (`ceph --admin-daemon ... perf dump`) are
#             read around the put, a mount, an unmount and a `stats`, and
#             printed per step: they say how many round trips each took.
#   4 reader  a writer mount and an `-o ro` mount of the same repository on
#             two mountpoints; a 100 kB random file copied into the writer's
#             /incoming, then MNT2/chunks/<digest> polled every 20 ms on the
#             reader (a lookup, `[[ -e ]]`) until it exists; the delay is
#             counted from cp's return (the chunk is stored in the writer).
#             Three series: the first chunk right after the reader mounted;
#             10 chunks in different (random) shards, 0.2 s apart; 10 chunks
#             of one shard (digests made to start with the same byte)
#             back to back. Baseline: the same with a local repository
#             (writer mount and `-o ro` mount of one directory).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
bench_paths "${1:-}"
CLUSTER_TOOL=$ROOT/tools/ceph-test-cluster
SECS=${RADOS_BENCH_SECS:-5}
PACKS_CHUNKS=${PACKS_CHUNKS:-6000}
POOL=chunkfs-test
for b in "$CHUNKFS" "$CHUNKCTL"; do
  [[ -x $b ]] || { echo "rados_bench: $b not built (cmake -DCHUNKFS_RADOS=ON; cmake --build $BUILD --target chunkfs chunkctl)" >&2; exit 2; }
done
for c in rados python3 fusermount3; do
  command -v "$c" >/dev/null || { echo "rados_bench: $c is missing" >&2; exit 2; }
done
[[ -e /dev/fuse ]] || { echo "rados_bench: no /dev/fuse" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-rados-bench.XXXXXX")
CL=$W/cluster          # the cluster's directory (ceph-test-cluster)
SRC=$W/src             # the data
LOG=$W/chunkfs.log     # every chunkfs's output
CONF=
CLUSTER_UP=0
declare -A MPID=()     # mountpoint -> pid of the chunkfs this script started there

say() { echo "[$(sub "$T0" "$(now)") s] $*" >&2; }

cleanup() {
  local rc=$? m
  set +e
  for m in "${!MPID[@]}"; do stop_mount "$m" "${MPID[$m]}"; done
  if (( rc != 0 )) && [[ -s $LOG ]]; then echo "--- chunkfs log:" >&2; tail -20 "$LOG" >&2; fi
  if (( CLUSTER_UP )) || [[ -d $CL/run ]]; then "$CLUSTER_TOOL" down "$CL" >/dev/null 2>&1; fi
  for m in "${!MPID[@]}"; do is_mounted "$m" && { echo "rados_bench: $m still mounted; leaving $W" >&2; exit $rc; }; done
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- helpers
# These must run in the main shell (not in $(...)): they start or wait for a child.
mount_at() {  # mount_at REPO MNT [OPTIONS]
  mkdir -p "$2"
  "$CHUNKFS" "$1" "$2" -f ${3:+-o "$3"} >>"$LOG" 2>&1 &
  MPID[$2]=$!
  wait_mounted "$2" "${MPID[$2]}" "chunkfs $1"
}
umount_at() { unmount_wait "$1" "${MPID[$1]}" "chunkfs on $1"; unset "MPID[$1]"; }
# timed_mount REPO MNT [OPTIONS] -> MT: seconds from starting chunkfs -f until MNT/chunks answers
timed_mount() {
  local a i=0
  mkdir -p "$2"
  a=$EPOCHREALTIME
  "$CHUNKFS" "$1" "$2" -f ${3:+-o "$3"} >>"$LOG" 2>&1 &
  MPID[$2]=$!
  until [[ -d $2/chunks ]]; do
    kill -0 "${MPID[$2]}" 2>/dev/null || die "chunkfs $1 exited before mounting $2"
    (( ++i < 12000 )) || die "chunkfs $1 did not mount $2 within 60 s"
    sleep 0.005
  done
  MT=$(sub "$a" "$EPOCHREALTIME")
}
rados_opt() { echo "ceph_conf=$CONF${1:+,$1}"; }
CTL() { T "$CHUNKCTL" --ceph-conf "$CONF" "$@"; }
stat_of() { sed -n "s/.*\"$2\": \\([0-9]*\\).*/\\1/p" "$1/.stats" | head -1; }   # stat_of MNT NAME
med() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { if (NR == 0) print "- -"; else print a, b }'; }
ms() { [[ $1 = - ]] && { echo -; return; }; awk -v s="$1" 'BEGIN { printf (s < 0.01 ? "%.2f" : "%.1f"), s * 1000 }'; }   # seconds -> ms
# rados bench's "Bandwidth (MB/sec)" is MiB/s: print MB/s (10^6), as everything else here
bench_mbs() { awk '/^Bandwidth \(MB\/sec\)/ { printf "%.1f", $3 * 1.048576; f = 1 } END { if (!f) print "-" }' "$1"; }
bench_field() { awk -v k="$2" 'index($0, k) == 1 { sub(/.*: */, ""); print; f = 1 } END { if (!f) print "-" }' "$1"; }

# osd_ops -> "op op_r op_w" of the cluster's one OSD ("- - -" if its admin socket does not answer)
osd_ops() {
  ceph --admin-daemon "$CL/run/osd.0.asok" perf dump 2>/dev/null |
    python3 -c 'import json, sys; d = json.load(sys.stdin)["osd"]; print(d["op"], d["op_r"], d["op_w"])' 2>/dev/null ||
    echo "- - -"
}
ops_diff() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); if (x[1] == "-" || y[1] == "-") print "- ops"; else printf "%d ops (%d reads, %d writes)", y[1] - x[1], y[2] - x[2], y[3] - x[3] }'; }
ops_n() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); if (x[1] == "-" || y[1] == "-") print "-"; else print y[1] - x[1] }'; }
NOTES=()
TCK=$(getconf CLK_TCK)
cpu_s() { awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }   # user+system CPU seconds of PID
osd_pid() { cat "$CL/run/osd.0.pid" 2>/dev/null || echo 0; }
cpu_diff() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

ROWS=()
# row WHAT UNIT RADOS BASELINE-NAME BASELINE   (ratio = RADOS / baseline)
row() {
  local r
  r=$(fmt_ratio "$3" "$5")
  ROWS+=("$1"$'\x1f'"$2"$'\x1f'"$3"$'\x1f'"$4"$'\x1f'"$5"$'\x1f'"$r")
  printf '  %-58s %-7s RADOS %10s   %s %10s   ratio %s\n' "$1" "$2" "$3" "$4" "$5" "$r" >&2
}

# ---------------------------------------------------------------- setup
T0=$(now)
LOAD0=$(load)
say "rados_bench: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r), load average $LOAD0"
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
say "  source $ROOT at $REV; chunkfs $CHUNKFS, chunkctl $CHUNKCTL, work dir $W ($(df -P "$W" | awk 'NR == 2 { print $1 }'))"
(( CAN_DROP )) || say "  NOTE: drop_caches not permitted: the \"cold\" reads come from the page cache"

say "booting a single-node cluster in $CL (tools/ceph-test-cluster up)"
CLUSTER_UP=1
CONF=$(timeout 300 "$CLUSTER_TOOL" up "$CL" 2>"$W/cluster-up.log") || { tail -20 "$W/cluster-up.log" >&2; die "the cluster did not come up"; }
[[ -f $CONF ]] || die "ceph-test-cluster printed no ceph.conf (got '$CONF')"
export CEPH_CONF=$CONF
say "  cluster up: $CONF ($(ceph --version | cut -d' ' -f1-3)); 1 mon, 1 mgr, 1 BlueStore OSD on a sparse file in $CL, pool $POOL (size 1)"

mkdir -p "$SRC"/{large,small,packs,reader}
gen_files "$SRC/large" L random 8 $(( 16 << 20 ))
gen_files "$SRC/small" s random 400 65536
gen_files "$SRC/small2" t random 400 65536
head -c $(( PACKS_CHUNKS * 1000 )) /dev/urandom | split -b 1000 -a 5 -d - "$SRC/packs/p"
# step 4's files: 1 + 10 random ones, 10 whose digests start with the byte 5a (one shard), 100 kB each
python3 - "$SRC/reader" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
def put(name, data): open(os.path.join(d, name), "wb").write(data)
for i in range(11): put("any%02d" % i, os.urandom(100000))
for i in range(10):
    while True:
        data = os.urandom(100000)
        if hashlib.sha256(data).digest()[0] == 0x5a: break
    put("one%02d" % i, data)
PY
(cd "$SRC" && find large -type f | sort | xargs sha256sum) > "$W/large.sums"
(cd "$SRC" && find small -type f | sort | xargs sha256sum) > "$W/small.sums"
(cd "$SRC" && find small2 -type f | sort | xargs sha256sum) > "$W/small2.sums"
NL=$(wc -l < "$W/large.sums"); NS=$(wc -l < "$W/small.sums"); NS2=$(wc -l < "$W/small2.sums"); NP=$(find "$SRC/packs" -type f | wc -l)
(( NL == 8 && NS == 400 && NS2 == 400 && NP == PACKS_CHUNKS )) || die "data generation gave $NL/$NS/$NS2/$NP files"
LARGE_BYTES=$(( NL * (16 << 20) )); SMALL_BYTES=$(( NS * 65536 ))
say "  data: $NL x 16 MiB + $NS x 64 KiB random, $NP x 1000 B, 21 x 100 kB"

RREPO=rados:$POOL/bench-1          # steps 1, 2, 4
LREPO=$W/local-repo
RMNT=$W/mnt-rados; LMNT=$W/mnt-local
T "$CHUNKCTL" init "$LREPO" >/dev/null
CTL init "$RREPO" >/dev/null
mount_at "$LREPO" "$LMNT"
mount_at "$RREPO" "$RMNT" "$(rados_opt)"

# ---------------------------------------------------------------- 1. ingest
say "1. ingest: cp -r SRC MNT/incoming/X && sync -f MNT && sync MNT/chunks/D (load $(load))"
declare -A ING=() ICP=() ISY=() IOPS=() ICPU=()
# ingest WHAT SIDE: one timed step; sets ING (total s), ICP (the cp), ISY (the syncs), IOPS (OSD ops)
ingest() {
  local what=$1 side=$2 m=$LMNT d a b c o0 o1 s0 s1
  [[ $side = rados ]] && m=$RMNT
  d=$(head -1 "$W/$what.sums" | cut -c1-64)
  sync
  s0=$(stat_of "$m" syncs); o0=$(osd_ops)
  local op=$(osd_pid) fp=${MPID[$m]} oc0 fc0 oc1 fc1
  oc0=$(cpu_s "$op"); fc0=$(cpu_s "$fp")
  a=$EPOCHREALTIME
  T cp -r "$SRC/$what" "$m/incoming/$what"
  b=$EPOCHREALTIME
  T sync -f "$m"
  T sync "$m/chunks/$d"
  c=$EPOCHREALTIME
  oc1=$(cpu_s "$op"); fc1=$(cpu_s "$fp")
  o1=$(osd_ops); s1=$(stat_of "$m" syncs)
  (( s1 > s0 )) || die "sync $m/chunks/$d did not make the $side mount sync (syncs $s0 -> $s1)"
  ING[$what-$side]=$(sub "$a" "$c"); ICP[$what-$side]=$(sub "$a" "$b"); ISY[$what-$side]=$(sub "$b" "$c")
  IOPS[$what-$side]=$(ops_diff "$o0" "$o1")
  ICPU[$what-$side]="chunkfs $(cpu_diff "$fc0" "$fc1") s, OSD $(cpu_diff "$oc0" "$oc1") s"
  say "  $what -> $side: ${ING[$what-$side]} s (cp ${ICP[$what-$side]} s, syncs ${ISY[$what-$side]} s; OSD: ${IOPS[$what-$side]}; CPU: ${ICPU[$what-$side]})"
}
for what in large small small2; do
  ingest "$what" local
  ingest "$what" rados
done
for m in "$LMNT" "$RMNT"; do
  got=$(stat_of "$m" chunks)
  (( got == NL + NS + NS2 )) || die "$m holds $got chunks, expected $(( NL + NS + NS2 ))"
done

say "   rados bench $SECS write -t 16 -b 16M / -b 64K --no-cleanup (load $(load))"
oc0=$(cpu_s "$(osd_pid)"); a=$EPOCHREALTIME
T rados bench -p "$POOL" "$SECS" write -b 16M -t 16 --no-cleanup --run-name rb-16m > "$W/rb-write-16m.txt" 2>&1
RB_CPU="OSD $(cpu_diff "$oc0" "$(cpu_s "$(osd_pid)")") CPU s in $(sub "$a" "$EPOCHREALTIME") s"
T rados bench -p "$POOL" "$SECS" write -b 64K -t 16 --no-cleanup --run-name rb-64k > "$W/rb-write-64k.txt" 2>&1
RBW16=$(bench_mbs "$W/rb-write-16m.txt"); RBW64=$(bench_mbs "$W/rb-write-64k.txt")
say "   rados bench write: 16M $RBW16 MB/s ($(bench_field "$W/rb-write-16m.txt" 'Total writes made') objects, average latency $(bench_field "$W/rb-write-16m.txt" 'Average Latency(s)') s)," \
  "64K $RBW64 MB/s ($(bench_field "$W/rb-write-64k.txt" 'Total writes made') objects, average latency $(bench_field "$W/rb-write-64k.txt" 'Average Latency(s)') s); 16M run: $RB_CPU"
NOTES+=("rados bench write -b 16M: $RB_CPU")

ing_rate() { rate "$(MB "$2")" "${ING[$1]}"; }   # ing_rate WHAT-SIDE BYTES -> MB/s
row "ingest $NL x 16 MiB, fresh repository (cp -r + sync)" MB/s "$(ing_rate large-rados $LARGE_BYTES)" "local repository" "$(ing_rate large-local $LARGE_BYTES)"
row "ingest $NL x 16 MiB, fresh repository (cp -r + sync)" MB/s "$(ing_rate large-rados $LARGE_BYTES)" "rados bench write -b 16M -t 16" "$RBW16"
row "ingest $NS x 64 KiB, fresh shards (cp -r + sync)" MB/s "$(ing_rate small-rados $SMALL_BYTES)" "local repository" "$(ing_rate small-local $SMALL_BYTES)"
row "ingest $NS x 64 KiB, fresh shards (cp -r + sync)" MB/s "$(ing_rate small-rados $SMALL_BYTES)" "rados bench write -b 64K -t 16" "$RBW64"
row "ingest $NS2 x 64 KiB more (cp -r + sync)" MB/s "$(ing_rate small2-rados $SMALL_BYTES)" "local repository" "$(ing_rate small2-local $SMALL_BYTES)"
row "ingest $NS2 x 64 KiB more (cp -r + sync)" MB/s "$(ing_rate small2-rados $SMALL_BYTES)" "rados bench write -b 64K -t 16" "$RBW64"
row "  the same: cp -r alone" s "${ICP[small2-rados]}" "local repository" "${ICP[small2-local]}"
row "  the same: the syncs alone" s "${ISY[small2-rados]}" "local repository" "${ISY[small2-local]}"
NOTES+=("ingest on RADOS, OSD ops (cp -r + syncs): $NL x 16 MiB ${IOPS[large-rados]}; $NS x 64 KiB ${IOPS[small-rados]}; $NS2 x 64 KiB more ${IOPS[small2-rados]}")
NOTES+=("ingest CPU seconds (wall s): large RADOS ${ICPU[large-rados]} (${ING[large-rados]}), local ${ICPU[large-local]} (${ING[large-local]}); small2 RADOS ${ICPU[small2-rados]} (${ING[small2-rados]}), local ${ICPU[small2-local]} (${ING[small2-local]})")
NOTES+=("ingest cp -r / syncs apart (s): RADOS large ${ICP[large-rados]} / ${ISY[large-rados]}, small ${ICP[small-rados]} / ${ISY[small-rados]}, small2 ${ICP[small2-rados]} / ${ISY[small2-rados]}; local large ${ICP[large-local]} / ${ISY[large-local]}, small ${ICP[small-local]} / ${ISY[small-local]}, small2 ${ICP[small2-local]} / ${ISY[small2-local]}")

# ---------------------------------------------------------------- 2. read
say "2. read: cat of every chunk by digest after a remount and drop_caches (load $(load))"
umount_at "$LMNT"; umount_at "$RMNT"
mount_at "$LREPO" "$LMNT"
mount_at "$RREPO" "$RMNT" "$(rados_opt)"
catlist() { T xargs -a "$1" cat; }
declare -A RD=()
for what in large small; do
  for side in local rados; do
    m=$LMNT; [[ $side = rados ]] && m=$RMNT
    awk -v d="$m/chunks/" '{ print d $1 }' "$W/$what.sums" > "$W/$what.$side"
    drop_caches
    o0=$(osd_ops)
    RD[$what-$side]=$(timed catlist "$W/$what.$side")
    say "  $what <- $side: ${RD[$what-$side]} s (OSD: $(ops_diff "$o0" "$(osd_ops)"))"
  done
done
# every byte right (untimed): the RADOS copies against the sources
while read -r d f; do cmp -s "$SRC/$f" "$RMNT/chunks/$d" || die "$RMNT/chunks/$d differs from $f"; done < <(cat "$W/large.sums" "$W/small.sums")
say "   rados bench seq -t 16 of the objects written above (load $(load))"
T rados bench -p "$POOL" 30 seq -t 16 --run-name rb-16m > "$W/rb-seq-16m.txt" 2>&1
T rados bench -p "$POOL" 30 seq -t 16 --run-name rb-64k > "$W/rb-seq-64k.txt" 2>&1
T rados bench -p "$POOL" 3 rand -t 1 --run-name rb-64k > "$W/rb-rand1-64k.txt" 2>&1
RBR16=$(bench_mbs "$W/rb-seq-16m.txt"); RBR64=$(bench_mbs "$W/rb-seq-64k.txt")
RBLAT=$(ms "$(bench_field "$W/rb-rand1-64k.txt" 'Average Latency(s)')")
say "   rados bench rand -t 1 (64K): one read at a time, average latency $RBLAT ms"
say "   rados bench seq: 16M $RBR16 MB/s ($(bench_field "$W/rb-seq-16m.txt" 'Total reads made') objects), 64K $RBR64 MB/s ($(bench_field "$W/rb-seq-64k.txt" 'Total reads made') objects)"
RL_R=$(rate "$(MB $LARGE_BYTES)" "${RD[large-rados]}"); RL_L=$(rate "$(MB $LARGE_BYTES)" "${RD[large-local]}")
RS_R=$(rate "$(MB $SMALL_BYTES)" "${RD[small-rados]}"); RS_L=$(rate "$(MB $SMALL_BYTES)" "${RD[small-local]}")
row "cat $NL x 16 MiB chunks, remounted, drop_caches" MB/s "$RL_R" "local repository" "$RL_L"
row "cat $NL x 16 MiB chunks, remounted, drop_caches" MB/s "$RL_R" "rados bench seq -t 16 (16M)" "$RBR16"
row "cat $NS x 64 KiB chunks, remounted, drop_caches" MB/s "$RS_R" "local repository" "$RS_L"
row "cat $NS x 64 KiB chunks, remounted, drop_caches" MB/s "$RS_R" "rados bench seq -t 16 (64K)" "$RBR64"

# ---------------------------------------------------------------- 3. many packs
say "3. many packs: chunkctl init --pack-size 4K, chunkctl put of $NP x 1000 B (load $(load))"
PRREPO=rados:$POOL/bench-2
PLREPO=$W/packs-repo
T "$CHUNKCTL" init "$PLREPO" --pack-size 4K >/dev/null
CTL init "$PRREPO" --pack-size 4K >/dev/null
sync
TP_L=$(cd "$SRC/packs" && timed T "$CHUNKCTL" put "$PLREPO" $(ls))
o0=$(osd_ops)
TP_R=$(cd "$SRC/packs" && timed CTL put "$PRREPO" $(ls))
PUT_OPS=$(ops_diff "$o0" "$(osd_ops)")
say "  put: local $TP_L s, RADOS $TP_R s (OSD: $PUT_OPS)"
row "chunkctl put $NP x 1000 B, pack size 4K" chunks/s "$(rate "$NP" "$TP_R")" "local repository" "$(rate "$NP" "$TP_L")"
json_field() { sed -n "s/.*\"$1\": \\([0-9]*\\).*/\\1/p" | head -1; }
CTL stats "$PRREPO" --json > "$W/packs-stats.json"
PS_SEALED=$(json_field packs_sealed < "$W/packs-stats.json"); PS_OPEN=$(json_field packs_open < "$W/packs-stats.json")
PS_CHUNKS=$(json_field chunks < "$W/packs-stats.json")
LS_SEALED=$(T "$CHUNKCTL" stats "$PLREPO" --json | json_field packs_sealed)
(( PS_CHUNKS == NP )) || die "the many-packs repository holds $PS_CHUNKS chunks, expected $NP"
MIDX=$(rados -p "$POOL" -N bench-2 listomapkeys shards/00/ 2>/dev/null | grep -c merged.midx || true)
say "  RADOS: $PS_SEALED sealed + $PS_OPEN open packs ($PS_CHUNKS chunks; local: $LS_SEALED sealed);" \
  "shard 00's catalog $( (( MIDX )) && echo "lists a merged index" || echo "lists no merged index")"
PMR=$W/mnt-packs-rados; PML=$W/mnt-packs-local
MTR=(); MTL=(); UTR=(); UTL=()
for i in 1 2 3; do
  timed_mount "$PLREPO" "$PML"; MTL+=("$MT")
  a=$EPOCHREALTIME; umount_at "$PML"; UTL+=("$(sub "$a" "$EPOCHREALTIME")")
  o0=$(osd_ops)
  timed_mount "$PRREPO" "$PMR" "$(rados_opt)"; MTR+=("$MT")
  o1=$(osd_ops)
  a=$EPOCHREALTIME; umount_at "$PMR"; UTR+=("$(sub "$a" "$EPOCHREALTIME")")
  o2=$(osd_ops)
  if (( i == 1 )); then
    MOUNT_OPS=$(ops_diff "$o0" "$o1"); MOUNT_N=$(ops_n "$o0" "$o1"); UMOUNT_OPS=$(ops_diff "$o1" "$o2")
  fi
done
# the listing, apart (not timed): every chunk is there
mount_at "$PRREPO" "$PMR" "$(rados_opt ro)"
got=$(ls "$PMR/chunks" | wc -l); (( got == NP )) || die "ls $PMR/chunks gave $got names, expected $NP"
umount_at "$PMR"
say "  mount: local ${MTL[*]} s, RADOS ${MTR[*]} s (OSD, first RADOS mount: $MOUNT_OPS)"
say "  unmount (nothing stored): local ${UTL[*]} s, RADOS ${UTR[*]} s (OSD, first RADOS unmount: $UMOUNT_OPS)"
MTR_MED=$(printf '%s\n' "${MTR[@]}" | med)
row "mount, $PS_SEALED sealed + $PS_OPEN open packs (median of 3)" s "$MTR_MED" "local repository" "$(printf '%s\n' "${MTL[@]}" | med)"
MS_OP=$(awk -v t="$MTR_MED" -v n="$MOUNT_N" 'BEGIN { if (n == "-" || n == 0) print "-"; else printf "%.2f", t * 1000 / n }')
row "  mount time / OSD ops of a mount ($MOUNT_N ops)" ms "$MS_OP" "rados bench rand -t 1 (64K): latency" "$RBLAT"
row "unmount of that mount, nothing stored (median of 3)" s "$(printf '%s\n' "${UTR[@]}" | med)" "local repository" "$(printf '%s\n' "${UTL[@]}" | med)"
NOTES+=("many packs on RADOS, OSD ops: chunkctl put $PUT_OPS; one mount $MOUNT_OPS ($(awk -v n="$MOUNT_N" -v p="$(( PS_SEALED + PS_OPEN ))" 'BEGIN { if (n == "-") print "-"; else printf "%.1f", n / p }') a pack; $MS_OP ms of mount time an op); its unmount $UMOUNT_OPS")
drop_caches; timed_mount "$PLREPO" "$PML"; MCL=$MT; umount_at "$PML"
drop_caches; timed_mount "$PRREPO" "$PMR" "$(rados_opt)"; MCR=$MT; umount_at "$PMR"
say "  mount after drop_caches: local $MCL s, RADOS $MCR s"
row "mount, $PS_SEALED sealed packs, after drop_caches" s "$MCR" "local repository" "$MCL"
DG=$(cd "$SRC/packs" && sha256sum p00000 | cut -c1-64)
SR=(); SL=(); GR=(); GL=()
o0=$(osd_ops); CTL stats "$PRREPO" >/dev/null; STATS_OPS=$(ops_diff "$o0" "$(osd_ops)")
NOTES+=("many packs on RADOS, OSD ops of one chunkctl stats: $STATS_OPS")
for i in 1 2 3; do
  SL+=("$(timed T "$CHUNKCTL" stats "$PLREPO")"); SR+=("$(timed CTL stats "$PRREPO")")
  GL+=("$(timed T "$CHUNKCTL" get "$PLREPO" "$DG" -o "$W/got-local")"); GR+=("$(timed CTL get "$PRREPO" "$DG" -o "$W/got-rados")")
done
cmp -s "$W/got-rados" "$SRC/packs/p00000" && cmp -s "$W/got-local" "$SRC/packs/p00000" || die "chunkctl get returned other bytes"
say "  chunkctl stats: local ${SL[*]} s, RADOS ${SR[*]} s; chunkctl get: local ${GL[*]} s, RADOS ${GR[*]} s"
row "chunkctl stats (many packs; median of 3)" s "$(printf '%s\n' "${SR[@]}" | med)" "local repository" "$(printf '%s\n' "${SL[@]}" | med)"
row "chunkctl get of one chunk (many packs; median of 3)" s "$(printf '%s\n' "${GR[@]}" | med)" "local repository" "$(printf '%s\n' "${GL[@]}" | med)"

# ---------------------------------------------------------------- 4. reader delay
say "4. reader delay: cp into the writer's /incoming, poll the -o ro mount every 20 ms (load $(load))"
# delay WRITER READER FILE -> seconds from cp's return until READER/chunks/<digest> exists ("-": 30 s passed)
delay() {
  local d a i=0
  d=$(sha256sum "$3" | cut -c1-64)
  cp "$3" "$1/incoming/"
  a=$EPOCHREALTIME
  until [[ -e $2/chunks/$d ]]; do
    (( ++i < 1500 )) || { echo -; return; }
    sleep 0.02
  done
  sub "$a" "$EPOCHREALTIME"
  cmp -s "$3" "$2/chunks/$d" || die "the reader $2 served other bytes for $d"
}
declare -A DFIRST=() DANY=() DONE=()
for side in local rados; do
  if [[ $side = local ]]; then wm=$LMNT; rm_=$W/mnt-local-ro; repo=$LREPO; opt=ro
  else wm=$RMNT; rm_=$W/mnt-rados-ro; repo=$RREPO; opt=$(rados_opt ro); fi
  mount_at "$repo" "$rm_" "$opt"
  DFIRST[$side]=$(delay "$wm" "$rm_" "$SRC/reader/any00")
  any=(); one=()
  for i in $(seq 1 10); do any+=("$(delay "$wm" "$rm_" "$SRC/reader/any$(printf %02d "$i")")"); sleep 0.2; done
  for i in $(seq 0 9); do one+=("$(delay "$wm" "$rm_" "$SRC/reader/one$(printf %02d "$i")")"); done
  umount_at "$rm_"
  DANY[$side]=$(printf '%s\n' "${any[@]}" | grep -v '^-$' | med)" $(printf '%s\n' "${any[@]}" | grep -v '^-$' | minmax)"
  DONE[$side]=$(printf '%s\n' "${one[@]}" | grep -v '^-$' | med)" $(printf '%s\n' "${one[@]}" | grep -v '^-$' | minmax)"
  miss=$(printf '%s\n' "${any[@]}" "${one[@]}" | grep -c '^-$' || true)
  say "  $side: first after mount ${DFIRST[$side]} s; different shards: ${any[*]}; one shard: ${one[*]}${miss:+ ($miss not seen within 30 s)}"
done
mmm() { set -- $1; echo "$(ms "$1") ($(ms "$2")-$(ms "$3"))"; }   # "median (min-max)" in ms
row "reader delay, first chunk after the reader mounted" ms "$(ms "${DFIRST[rados]}")" "local repository" "$(ms "${DFIRST[local]}")"
row "reader delay, 10 chunks, different shards: median" ms "$(ms "${DANY[rados]%% *}")" "local repository" "$(ms "${DANY[local]%% *}")"
row "reader delay, 10 chunks, one shard, back to back: median" ms "$(ms "${DONE[rados]%% *}")" "local repository" "$(ms "${DONE[local]%% *}")"
say "  median (min-max) ms: different shards RADOS $(mmm "${DANY[rados]}"), local $(mmm "${DANY[local]}");" \
  "one shard RADOS $(mmm "${DONE[rados]}"), local $(mmm "${DONE[local]}")"
umount_at "$LMNT"; umount_at "$RMNT"

# ---------------------------------------------------------------- summary
LOAD1=$(load)
echo
echo "rados_bench summary ($(date -u '+%Y-%m-%d %H:%M UTC'), source at $REV, nproc $(nproc), kernel $(uname -r), load average $LOAD0 at the start, $LOAD1 at the end; $(sub "$T0" "$(now)") s)"
echo "ratio = RADOS / baseline: for MB/s, files/s and chunks/s 1.00 = as fast, lower = slower; for s and ms higher = slower"
echo
echo "| what | unit | chunkfs on RADOS | baseline | baseline figure | ratio |"
echo "|---|---|---:|---|---:|---:|"
for r in "${ROWS[@]}"; do
  IFS=$'\x1f' read -r what unit rv bn bv rt <<<"$r"
  echo "| $what | $unit | $rv | $bn | $bv | $rt |"
done
echo
echo "reader delay, median (min-max) ms: different shards RADOS $(mmm "${DANY[rados]}"), local $(mmm "${DANY[local]}");" \
  "one shard RADOS $(mmm "${DONE[rados]}"), local $(mmm "${DONE[local]}")"
echo "many-packs repository: $NP chunks, $PS_SEALED sealed + $PS_OPEN open packs on RADOS ($LS_SEALED sealed locally)"
for n in "${NOTES[@]}"; do echo "$n"; done
say "rados_bench: done in $(sub "$T0" "$(now)") s, load average $LOAD1"
