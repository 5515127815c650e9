#!/usr/bin/env bash
# readahead_bench.sh [BUILD_DIR] — what the mount's read-ahead is worth for
# large chunks: cat-like sequential reads (128 KiB read() calls) of a 16 MiB
# random and a 16 MiB text chunk through one mount, with the kernel's
# read-ahead at its FUSE default (128K) and at chunkfs's default (1M),
# alternated in the same mount, ROUNDS times. The chunks stay in chunkfs's
# decoded-chunk cache and their pages are dropped from the kernel's cache
# before each read (posix_fadvise DONTNEED), so this measures the FUSE
# transfer, whose request size the read-ahead sets. Prints the median of the
# per-round time ratios (128K / 1M: above 1 means 1M is faster).
# Needs root (read_ahead_kb), /dev/fuse, python3. Asserts nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROUNDS=${ROUNDS:-10}
W=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-ra-bench.XXXXXX")
cleanup() { fusermount3 -u "$W/mnt" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
mkdir "$W/mnt"
"$BUILD/tools/chunkctl" init "$W/repo" >/dev/null
"$BUILD/fs/chunkfs" "$W/repo" "$W/mnt" -o readahead=0
head -c 16M /dev/urandom > "$W/random"
python3 -c 'import sys; sys.stdout.write("".join("line %d of text that compresses %d\n" % (i, i % 97) for i in range(600000))[:16<<20])' > "$W/text"
cp "$W/random" "$W/text" "$W/mnt/incoming/"
DEV=$(mountpoint -d "$W/mnt")
FILES=()
for f in random text; do FILES+=("$W/mnt/chunks/$(sha256sum "$W/$f" | cut -c1-64)"); done
python3 - "$DEV" "$ROUNDS" "${FILES[@]}" <<'PY'
import os, statistics, sys, time
dev, rounds, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def run(kb):
    with open(f"/sys/class/bdi/{dev}/read_ahead_kb", "w") as f: f.write(str(kb))
    t = time.perf_counter()
    for _ in range(10):
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            while os.read(fd, 131072): pass
            os.close(fd)
    return time.perf_counter() - t
ratios = []
for _ in range(rounds):
    a, b = run(128), run(1024)
    ratios.append(a / b)
    print(f"128K {a*1000:7.0f} ms   1M {b*1000:7.0f} ms   ratio {a/b:.2f}")
print(f"median ratio (128K time / 1M time) over {rounds} rounds: {statistics.median(ratios):.2f}")
PY
