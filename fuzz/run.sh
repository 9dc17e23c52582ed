#!/usr/bin/env bash
# Runs every ssfpack fuzz target (or the ones named) for a fixed time each, one after the other.
#
#   fuzz/run.sh                    # every target, 60 s each
#   fuzz/run.sh 600                # every target, 10 min each
#   fuzz/run.sh 300 reader origin_url
#
# Environment:
#   FUZZ_JOBS=N     parallel libFuzzer processes per target (default 1; the machine has 2 shared cores)
#   FUZZ_ARGS=...   extra libFuzzer flags, e.g. FUZZ_ARGS="-max_len=65536"
#   FUZZ_SANITIZER  cargo-fuzz sanitizer (default address: it powers -malloc_limit_mb)
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz passes.
# The committed seeds in fuzz/corpus/<target> (and fuzz/regressions/<target>, if any) are read, never
# written: new inputs go to the ignored fuzz/target/corpus-work/<target>, crashes to
# fuzz/artifacts/<target>/. Logs: fuzz/target/logs/<target>.log. Exits 1 if any target failed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

seconds="${1:-60}"
shift || true
all_targets=(reader client_manifest server_manifest codec_config origin_url)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
jobs="${FUZZ_JOBS:-1}"
sanitizer="${FUZZ_SANITIZER:-address}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1

mkdir -p target/logs
echo "== building fuzz targets (sanitizer: $sanitizer, debug assertions on)"
build=(cargo fuzz build -s "$sanitizer")
[ "${#targets[@]}" -eq 1 ] && build+=("${targets[0]}")
if ! "${build[@]}" >target/build.log 2>&1; then
    tail -n 30 target/build.log >&2
    echo "build failed (full log: fuzz/target/build.log)" >&2
    exit 2
fi

bin_dir="target/$(rustc -vV | sed -n 's/^host: //p')/release"
status=0
summary=()
for t in "${targets[@]}"; do
    work="target/corpus-work/$t"
    mkdir -p "$work" "artifacts/$t"
    seeds=("corpus/$t")
    [ -d "regressions/$t" ] && seeds+=("regressions/$t")
    dict=()
    [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
    log="target/logs/$t.log"
    echo "== $t: ${seconds}s x $jobs job(s) -> $log"
    # -malloc_limit_mb: any single allocation over 512 MiB is a finding (hostile sizes must be
    # refused before allocating); -timeout: one input taking over 10 s is a hang.
    # The binaries built above run directly: `cargo fuzz run` would rebuild ssfpack whenever someone
    # touches src/ mid-run.
    # shellcheck disable=SC2086
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}" "$bin_dir/$t" "$work" "${seeds[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${dict[@]}" \
        $( [ "$jobs" -gt 1 ] && echo "-fork=$jobs" ) ${FUZZ_ARGS:-} >"$log" 2>&1
    rc=$?
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')"
    if [ "$execs" = 0 ]; then
        # -fork mode prints no final stats; take the last status line instead.
        execs="$(grep -o '#[0-9]*' "$log" | tail -n 1 | tr -d '#')"
    fi
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')"
    corpus="$(find "$work" -type f | wc -l)"
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (rc $rc, see $log and artifacts/$t/)"
        status=1
        grep -m 5 -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
    fi
    summary+=("$(printf '%-16s %6ss  execs %-10s cov %-6s corpus %-6s %s' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "$corpus" "$result")")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
