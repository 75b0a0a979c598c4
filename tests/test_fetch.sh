#!/bin/sh
# test_fetch: models/fetch copies from the shared dir when the sha256 matches,
# and fails loudly, leaving nothing behind, when a download's sha256 is wrong
# (the "download" is a file:// URL to a corrupted copy: no network here).
set -u
src=${MNET_SOURCE:?}
shared=${MNET_SHARED:?}/models
fetch=$src/models/fetch
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

for f in mobilenet_v2_1.0_224_quant.tflite imagenet_labels.txt; do
    [ -f "$shared/$f" ] || { echo "FAIL: missing $shared/$f"; exit 1; }
done

"$fetch" --dest "$t/a" --shared "$shared" --offline > "$t/out1" 2>&1
check "copy path exits 0" "[ $? = 0 ]"
check "copy path says copied" "grep -q 'copied from' '$t/out1'"
check "model copied intact" "cmp -s '$t/a/mobilenet_v2_1.0_224_quant.tflite' '$shared/mobilenet_v2_1.0_224_quant.tflite'"
check "labels copied intact" "cmp -s '$t/a/imagenet_labels.txt' '$shared/imagenet_labels.txt'"

"$fetch" --dest "$t/a" --shared "$t/nowhere" --offline > "$t/out2" 2>&1
check "second run finds them in place" "[ $? = 0 ] && [ \$(grep -c 'already there' '$t/out2') = 2 ]"

# a corrupted mirror: shared copy has the wrong bytes too, so it is "downloaded"
mkdir -p "$t/mirror"
cp "$shared/imagenet_labels.txt" "$shared/mobilenet_v2_1.0_224_quant.tflite" "$t/mirror/"
printf 'tampered\n' >> "$t/mirror/imagenet_labels.txt"
mkdir -p "$t/b"
MNET_FETCH_BASE="file://$t/mirror" "$fetch" --dest "$t/b" --shared "$t/mirror" > "$t/out3" 2>&1
rc=$?
if command -v curl >/dev/null 2>&1; then
    check "mismatch exits 1" "[ $rc = 1 ]"
    check "mismatch is loud" "grep -q 'SHA256 MISMATCH for imagenet_labels.txt' '$t/out3'"
    check "mismatched file not left behind" "[ ! -e '$t/b/imagenet_labels.txt' ] && ! ls '$t/b' | grep -q part"
else
    echo "FAIL: curl not installed"; fail=1
fi
# --offline with no good copy anywhere fails too
"$fetch" --dest "$t/c" --shared "$t/mirror" --offline > "$t/out4" 2>&1
check "offline without a good copy exits 1" "[ $? = 1 ]"
cat "$t/out3"
exit $fail
