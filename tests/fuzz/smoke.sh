#!/bin/sh
# A libFuzzer smoke run for `meson test --suite fuzz`:
#   smoke.sh TARGET RUNS [libFuzzer options...] -- SEED...
# A fixed random seed and RUNS inputs mutated from the SEED files, so that every
# target keeps building and running under ASan+UBSan in CI and a fixed bug stays
# fixed.  Nothing is written but a crash artifact (next to the target).  A missing
# seed fails the test.  Long runs are by hand (-max_total_time, a corpus dir).
set -eu
target=$1 runs=$2
shift 2
opts=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    opts="$opts $1"
    shift
done
[ $# -gt 0 ] && shift
seeds=
for s in "$@"; do
    [ -r "$s" ] || { echo "missing seed: $s" >&2; exit 1; }
    seeds="${seeds:+$seeds,}$s"
done
# shellcheck disable=SC2086 # opts are separate words
exec "$target" -seed=1 -runs="$runs" -artifact_prefix="$target-" $opts ${seeds:+-seed_inputs=$seeds}
