# bench/report.sh — the report and charts of bench/run-all (sourced by it).
# Reads the figures recorded with fig (val KEY), OUTDIR/store.tsv and the
# globals of run-all; writes OUTDIR/results.md and, with gnuplot, the charts.

# verdict GOT OP LIMIT -> "met" / "missed (GOT, needs OP LIMIT)"; "-" if GOT is unknown
verdict() {
  awk -v g="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (g == "-" || g == "" || l == "-" || l == "") { print "-"; exit }
    ok = (op == ">=") ? (g + 0 >= l + 0) : (g + 0 <= l + 0)
    if (ok) print "met"; else printf "**missed** (%s, needs %s %s)\n", g, (op == ">=" ? "≥" : "≤"), l }'
}
# combined KEY_A KEY_B SIDE -> rate of both sets one after the other (sum of bytes / sum of times)
combined() {
  awk -v a="$(val "$1.$3")" -v b="$(val "$2.$3")" -v ba="$(val "bytes.${1#in_}")" -v bb="$(val "bytes.${2#in_}")" \
    'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", (ba + bb) / 1e6 / (ba / 1e6 / a + bb / 1e6 / b) }'
}
# files_rate KEY SIDE -> files/s from the MB/s of a set of 64 KiB files
files_rate() { awk -v r="$(val "$1.$2")" 'BEGIN { if (r == "-") print "-"; else printf "%.0f", r * 1e6 / 65536 }'; }

# mount_row LABEL UNIT NATIVE PT CHUNKFS TARGET-TEXT: one row of the mount table
mount_row() {
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$(fmt_ratio "$5" "$3")" \
    "$(fmt_ratio "$5" "$4")" "$6"
}
mount_key_row() {  # mount_key_row LABEL KEY TARGET-C/P
  local cp
  cp=$(fmt_ratio "$(val "$2.chunkfs")" "$(val "$2.pt")")
  mount_row "$1" MB/s "$(val "$2.native")" "$(val "$2.pt")" "$(val "$2.chunkfs")" \
    "${3:+c/p ≥ $3: $(verdict "$cp" ">=" "$3")}"
}

mount_table() {
  local n16=$N16 n64=$N64 c16 p16 x16 cp1 cp4 t
  echo "**Through the mount** (MB/s unless said; \`c/n\` = chunkfs / native, \`c/p\` = chunkfs / passthrough_ll;"
  echo "rates, so 1.00 = as fast; ingest = \`cp -r\` then \`sync -f\`, both timed)"
  echo
  echo '| test | unit | native | passthrough | chunkfs | c/n | c/p | target |'
  echo '|---|---|---:|---:|---:|---:|---:|---|'
  mount_key_row "cp -r $n16 × 16 MiB random" in_r16 0.8
  mount_key_row "cp -r $n16 × 16 MiB text" in_t16 ""
  c16=$(combined in_r16 in_t16 chunkfs); p16=$(combined in_r16 in_t16 pt); x16=$(combined in_r16 in_t16 native)
  mount_row "cp -r $(( 2 * n16 )) × 16 MiB, half random, half text (the two rows together)" MB/s "$x16" "$p16" "$c16" ""
  mount_key_row "cp -r $n64 × 64 MiB random" in_r64 0.8
  mount_key_row "cp -r $n64 × 64 MiB text" in_t64 ""
  cp1=$(fmt_ratio "$(val in_small.chunkfs)" "$(val in_small.pt)")
  mount_row "cp -r $NSMALL × 64 KiB (half random, half text), one writer" files/s "$(files_rate in_small native)" \
    "$(files_rate in_small pt)" "$(files_rate in_small chunkfs)" "c/p ≥ 0.55 (before issue 9): $(verdict "$cp1" ">=" 0.55)"
  cp4=$(fmt_ratio "$(val in_par.chunkfs)" "$(val in_par.pt)")
  mount_row "4 writers × $NPAR × 64 KiB at once" files/s "$(files_rate in_par native)" "$(files_rate in_par pt)" \
    "$(files_rate in_par chunkfs)" "c/p ≥ 0.66 (before issue 9): $(verdict "$cp4" ">=" 0.66)"
  mount_key_row "mix: cp -r $MIX_SMALL × 64 KiB + $MIX_LARGE × 8 MiB random, fresh repository" in_mix ""
  mount_key_row "cat $(( 2 * n16 )) × 16 MiB chunks, cold" cat_cold 1.0
  mount_key_row "cat $(( 2 * n16 )) × 16 MiB chunks, packs cached" cat_cached 1.0
  t=$(val ttfb_ms.chunkfs)
  printf '| first byte of a 16 MiB chunk, packs cached (median of %d) | ms | %s | %s | %s | %s | %s | < 2 ms: %s |\n' \
    $(( 2 * n16 )) "$(val ttfb_ms.native)" "$(val ttfb_ms.pt)" "$t" "$(fmt_ratio "$(val ttfb_ms.native)" "$t")" \
    "$(fmt_ratio "$(val ttfb_ms.pt)" "$t")" "$(verdict "$t" "<=" 2)"
  echo
  echo "(first byte: times, so its ratios are native or passthrough time / chunkfs time: 1.00 = as fast)"
}

codec_table() {
  local key ratio n
  echo "**Text ingest against the codec alone** ($(val codec.name) level 1, the mount's default, in 1 MiB blocks,"
  echo "\`codec_bench --throughput\` on the same files; target: chunkfs ≥ 0.8 × the codec on two threads)"
  echo
  echo '| files | codec, 1 thread | codec, 2 threads | chunkfs `cp -r` | chunkfs / codec on 2 threads | target |'
  echo '|---|---:|---:|---:|---:|---|'
  for key in t16 t64; do
    n=$N16; [[ $key = t64 ]] && n="$N64 × 64 MiB" || n="$N16 × 16 MiB"
    ratio=$(fmt_ratio "$(val "in_$key.chunkfs")" "$(val "codec_$key.2")")
    printf '| %s text | %s | %s | %s | %s | ≥ 0.8: %s |\n' "$n" "$(val "codec_$key.1")" "$(val "codec_$key.2")" \
      "$(val "in_$key.chunkfs")" "$ratio" "$(verdict "$ratio" ">=" 0.8)"
  done
}

peer_row() {  # peer_row LABEL CHUNKFS RESTIC GIT TARGET
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$(fmt_ratio "$2" "$3")" "$(fmt_ratio "$2" "$4")" "$5"
}
peers_table() {
  local c r
  echo "**Against peers** (the same files, MB/s, ratios chunkfs / peer; stores written fresh, sources and packs in"
  echo "the page cache; restore = every chunk copied into a folder, then \`sync -f\`; read = to /dev/null)"
  echo
  have_restic || echo "restic not installed: its column is empty (apt-get install restic)."
  have_restic || echo
  echo '| operation | chunkfs | restic | git | c/restic | c/git | target |'
  echo '|---|---:|---:|---:|---:|---:|---|'
  c=$(val in_mix.chunkfs); r=$(val backup_mix.restic)
  peer_row "store the mix (\`cp -r\` / \`restic backup\` / \`git hash-object -w --stdin-paths\`)" "$c" "$r" \
    "$(val backup_mix.git)" "c/restic ≥ 1.5: $(verdict "$(fmt_ratio "$c" "$r")" ">=" 1.5)"
  peer_row "restore the mix (copy each chunk out / \`restic restore\`)" "$(val restore_mix.chunkfs)" \
    "$(val restore_mix.restic)" - ""
  peer_row "read the mix (\`cat\` / \`git cat-file --batch\`)" "$(val read_mix.chunkfs)" - "$(val read_mix.git)" ""
  peer_row "store the $(( 2 * N16 )) × 16 MiB files" "$(combined in_r16 in_t16 chunkfs)" "$(val backup_l16.restic)" \
    "$(val backup_l16.git)" ""
  peer_row "restore the 16 MiB files" "$(val restore_l16.chunkfs)" "$(val restore_l16.restic)" - ""
  peer_row "read the 16 MiB files" "$(val read_l16.chunkfs)" - "$(val read_l16.git)" ""
}

store_table() {
  local dep=$(val dep_read_us)
  echo "**Store** (\`store_bench --bigrepo --new-only --reuse\`: 64-byte chunks, ~1000 a pack, merged index;"
  echo "lookups of 100 k present and 200 k absent digests; open = \`Repository::Open\`, cold after drop_caches;"
  echo "resident = VmRSS added by an open / chunks; dependent read = one random read in 56 bytes a chunk)"
  echo
  echo '| chunks | sealed packs | present µs | absent µs | open warm s | open cold s | resident B/chunk | dependent read µs |'
  echo '|---:|---:|---:|---:|---:|---:|---:|---:|'
  awk -F'\t' 'NR > 1 { printf "| %s | %s | %.3f | %.3f | %.3f | %.3f | %.1f | %.3f |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' \
    "$OUT/store.tsv"
  echo
  echo "Reference: one dependent random read in 560 MB (10 M × 56 bytes) costs **$dep µs** in this run."
  awk -F'\t' -v dep="$dep" '
    NR > 1 { p[$1] = $3; a[$1] = $4; w[$1] = $5; c[$1] = $6; r[$1] = $7; big = $1 }
    function v(ok) { return ok ? "met" : "**missed**" }
    END {
      if (!(10000 in p) || big == 10000) exit
      pt = p[10000] + 2 * dep; at = a[10000] + dep
      printf "\nTargets at %d chunks: present %.3f µs ≤ %.3f (10 k + two reads): %s; absent %.3f µs ≤ %.3f (10 k + one read): %s; ", big, p[big], pt, v(p[big] <= pt), a[big], at, v(a[big] <= at)
      printf "open %.3f s warm, %.3f s cold < 1 s: %s, %s; resident %.1f B/chunk ≤ 16: %s.\n", w[big], c[big], v(w[big] < 1), v(c[big] >= 0 && c[big] < 1), r[big], v(r[big] <= 16)
    }' "$OUT/store.tsv"
}

write_report() {
  local commit when contention=
  commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
  git -C "$ROOT" diff --quiet HEAD -- store fs tools 2>/dev/null || commit="$commit + uncommitted changes in store/ fs/ tools/"
  when=$(date -u '+%Y-%m-%d %H:%M UTC')
  if awk -v a="$(val load.start)" -v b="$(val load.end)" -v n="$(nproc)" 'BEGIN { exit !(a > n / 2 || b > n / 2) }'; then
    contention="**Measured under contention** (load average $(val load.start) at the start, $(val load.end) at the end, on $(nproc) cores: other work ran beside it); the ratios are within one run, but rerun on a quiet machine before quoting them."
  fi
  {
    echo "### Run of $when"
    echo
    echo "\`bench/run-all$( (( QUICK )) && echo ' --quick')\` at commit $commit; $(nproc) cores, kernel $(uname -r)," \
      "libfuse $(pkg-config --modversion fuse3 2>/dev/null || echo ?), load average $(val load.start) → $(val load.end)."
    (( QUICK )) && echo "Quick mode: smaller data sets, a check of the command rather than figures to quote."
    [[ -n $contention ]] && { echo; echo "$contention"; }
    echo
    mount_table; echo
    codec_table; echo
    peers_table; echo
    store_table; echo
    if command -v gnuplot >/dev/null; then
      echo "![throughput through the mount, beside passthrough, native and the peers](bench-throughput.png)"
      echo "![store: lookup cost, memory and open time against chunk count](bench-store.png)"
    fi
  } >"$OUT/results.md"
  cat "$OUT/results.md"
}

# ---------------------------------------------------------------- charts
throughput_data() {  # label native passthrough chunkfs restic git (MB/s, "-" = none)
  local k
  printf '"%s" %s %s %s %s %s\n' \
    "cp 16M random" "$(val in_r16.native)" "$(val in_r16.pt)" "$(val in_r16.chunkfs)" - - \
    "cp 16M text" "$(val in_t16.native)" "$(val in_t16.pt)" "$(val in_t16.chunkfs)" - - \
    "cp 16M both" "$(combined in_r16 in_t16 native)" "$(combined in_r16 in_t16 pt)" "$(combined in_r16 in_t16 chunkfs)" \
    "$(val backup_l16.restic)" "$(val backup_l16.git)" \
    "cp 64M random" "$(val in_r64.native)" "$(val in_r64.pt)" "$(val in_r64.chunkfs)" - - \
    "cp 64M text" "$(val in_t64.native)" "$(val in_t64.pt)" "$(val in_t64.chunkfs)" - - \
    "cp 64K x1" "$(val in_small.native)" "$(val in_small.pt)" "$(val in_small.chunkfs)" - - \
    "cp 64K x4" "$(val in_par.native)" "$(val in_par.pt)" "$(val in_par.chunkfs)" - - \
    "cp mix" "$(val in_mix.native)" "$(val in_mix.pt)" "$(val in_mix.chunkfs)" "$(val backup_mix.restic)" "$(val backup_mix.git)" \
    "cat 16M cold" "$(val cat_cold.native)" "$(val cat_cold.pt)" "$(val cat_cold.chunkfs)" - - \
    "cat 16M cached" "$(val cat_cached.native)" "$(val cat_cached.pt)" "$(val cat_cached.chunkfs)" - - \
    "restore mix" - - "$(val restore_mix.chunkfs)" "$(val restore_mix.restic)" - \
    "read mix" - - "$(val read_mix.chunkfs)" - "$(val read_mix.git)" \
    "restore 16M" - - "$(val restore_l16.chunkfs)" "$(val restore_l16.restic)" - \
    "read 16M" - - "$(val read_l16.chunkfs)" - "$(val read_l16.git)"
}

# store_targets: gnuplot plot elements for the lookup targets (10 k + two /
# one dependent reads of the 560 MB reference), or "NaN notitle"
store_targets() {
  awk -F'\t' -v dep="$(val dep_read_us)" '$1 == 10000 { p = $3; a = $4 }
    END { if (p == "" || dep == "-") print "NaN notitle"
          else printf "%.4f dt 3 lw 2 lc 1 title \"present target\", %.4f dt 4 lw 2 lc 2 title \"absent target\"\n", p + 2 * dep, a + dep }' \
    "$OUT/store.tsv"
}

charts() {
  if ! command -v gnuplot >/dev/null; then
    note "gnuplot not installed: no charts (apt-get install gnuplot-nox)"
    return 0
  fi
  mkdir -p "$CHARTS"
  throughput_data >"$OUT/throughput.dat"
  local title="bench/run-all$( (( QUICK )) && echo ' --quick'), $(date -u '+%Y-%m-%d'), $(nproc) cores, load $(val load.start)-$(val load.end)"
  gnuplot <<GP
set terminal pngcairo size 1400,560 font "sans,10"
set output "$CHARTS/bench-throughput.png"
set title "chunkfs beside passthrough_ll, native ext4 and the peers: MB/s, log scale ($title)" noenhanced
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1:*]
set ylabel "MB/s (higher is faster)"
set xtics rotate by -30 scale 0
set grid ytics
set key top right
plot "$OUT/throughput.dat" using 2:xtic(1) title "native" lc rgb "#999999", \
     "" using 3 title "passthrough_ll" noenhanced lc rgb "#4477aa", \
     "" using 4 title "chunkfs" lc rgb "#ee6677", \
     "" using 5 title "restic" lc rgb "#228833", \
     "" using 6 title "git" lc rgb "#ccbb44"
GP
  gnuplot <<GP
set terminal pngcairo size 1400,460 font "sans,10"
set output "$CHARTS/bench-store.png"
set datafile separator "\t"
set logscale x
set format x "10^{%L}"
set xlabel "chunks in the repository"
set grid
set key top left
set offsets graph 0, graph 0, graph 0.1, 0
set multiplot layout 1,3 title "store_bench --bigrepo, merged index ($title)" noenhanced
set ylabel "µs per lookup"
set logscale y
plot "$OUT/store.tsv" every ::1 using 1:3 with linespoints lw 2 lc 1 title "present", \
     "" every ::1 using 1:4 with linespoints lw 2 lc 2 title "absent", \
     "" every ::1 using 1:8 with linespoints dt 2 title "one dependent random read", \
     $(store_targets)
unset logscale y
set ylabel "resident bytes per chunk after open"
set yrange [0:*]
plot "$OUT/store.tsv" every ::1 using 1:7 with linespoints lw 2 title "resident B/chunk", 16 dt 2 title "target 16"
set ylabel "seconds to open"
plot "$OUT/store.tsv" every ::1 using 1:5 with linespoints lw 2 title "warm", \
     "" every ::1 using 1:(\$6 >= 0 ? \$6 : 1/0) with linespoints lw 2 title "cold", 1 dt 2 title "target 1 s"
unset multiplot
GP
  ls -l "$CHARTS"/bench-*.png
}
