#!/usr/bin/env bash
# hamrun's Vulkan checks and benchmark on a machine with a GPU and no Swift toolchain, from the
# folder Tools/gpu/package.sh made (run it from inside that folder, or give the folder).
#
#   1. libraries: what `ldd hamrun` cannot resolve (carried ones in lib/ are on the path)
#   2. hamrun devices --latency        devices, limits, submit/read/dispatch latency
#   3. hamrun check --backend vulkan   every op against the CPU backend, full shapes
#   4. hamrun check ... --quick --validation   small shapes with the Khronos validation layer
#   4b. hamrun convert + check --reference     every case of the authors' reference fixture
#                                      reproduced on the GPU (tokens, steps, logits, stop probabilities)
#   5. hamrun bench                    a model with Llama-3.2-1B's shapes and random weights:
#                                      tokens/s and achieved weight bandwidth, base mode,
#                                      HAMburger with forced 1- and 4-token steps, and
#                                      run-ahead against waiting for each stop decision
# Environment:
#   HAMRUN        the binary (default: ./hamrun next to this script, else a repository's release build)
#   DEVICE        Vulkan device index (default: hamrun's choice)
#   BENCH_MODEL   a model directory to benchmark (e.g. made by Tools/bench/make_bench_model.py);
#                 default: hamrun random-model --shape $BENCH_SHAPE (llama-3.2-1b)
#   BENCH_TOKENS  tokens to generate per run (128); BENCH_RUNS timed runs (3)
#   OUT           where logs go (default: ./results)
# Exits non-zero when a library is missing, no Vulkan device works, or any check fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:-$here}
hamrun=${HAMRUN:-$bundle/hamrun}
[ -x "$hamrun" ] || hamrun="$bundle/../../.build/release/hamrun"
lib="$bundle/lib"
out=${OUT:-$bundle/results}
mkdir -p "$out"
log="$out/run-checks.log"
: > "$log"
say() { echo "$*" | tee -a "$log"; }
step() { say ""; say "== $*"; }
run() { say "\$ hamrun $*"; "$hamrun" "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; }
failures=0

step "libraries"
[ -x "$hamrun" ] || { say "no hamrun binary at $hamrun (run Tools/gpu/package.sh, or set HAMRUN)"; exit 1; }
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing=$(ldd "$hamrun" | grep "not found" || true)
if [ -n "$missing" ]; then
  say "missing libraries (install them, or run package.sh on a machine that has them):"
  say "$missing"
  exit 1
fi
ldd "$hamrun" | tee -a "$log"
# The machine's own loader knows its drivers' layout best; the carried one is the fallback.
if ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
  say "Vulkan loader: the system's"
elif [ -f "$lib/vulkan/libvulkan.so.1" ]; then
  export HAMRUN_VULKAN_LOADER="$lib/vulkan/libvulkan.so.1"
  say "Vulkan loader: carried ($HAMRUN_VULKAN_LOADER)"
else
  say "no Vulkan loader on this machine and none carried (apt-get install libvulkan1)"
  exit 1
fi
[ -f "$lib/vulkan/layers/VkLayer_khronos_validation.json" ] && export VK_LAYER_PATH="$lib/vulkan/layers"
device=()
[ -n "${DEVICE:-}" ] && device=(--device "$DEVICE")

step "devices"
if ! run devices --latency "${device[@]}"; then
  # Containers often have the NVIDIA driver but not its ICD manifest where the loader looks.
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
      say "retrying with VK_DRIVER_FILES=$icd"
      run devices --latency "${device[@]}" && break
    fi
    unset VK_DRIVER_FILES VK_ICD_FILENAMES
  done
  "$hamrun" devices >/dev/null 2>&1 || { say "no usable Vulkan device"; exit 1; }
fi

step "op checks, full shapes"
run check --backend vulkan "${device[@]}" --failures-only || failures=$((failures + 1))
step "op checks, quick shapes, validation layer"
run check --backend vulkan "${device[@]}" --quick --validation --failures-only || failures=$((failures + 1))

step "reference generations"
if [ -f "$bundle/reference/hamburger.ckpt" ]; then
  reference_model="${TMPDIR:-/tmp}/hamrun-reference-model"
  rm -rf "$reference_model"
  run convert --checkpoint "$bundle/reference/hamburger.ckpt" --base "$bundle/reference/base" --out "$reference_model" || failures=$((failures + 1))
  run check --reference "$bundle/reference/expected.json" --model "$reference_model" --backend vulkan "${device[@]}" --failures-only || failures=$((failures + 1))
else
  say "no reference/ folder next to the script; skipped"
fi

step "benchmark"
model=${BENCH_MODEL:-}
if [ -z "$model" ]; then
  shape=${BENCH_SHAPE:-llama-3.2-1b}
  model="${TMPDIR:-/tmp}/hamrun-bench-$shape"
  if [ ! -f "$model/model.safetensors" ]; then
    run random-model --shape "$shape" --out "$model" || { say "could not write the benchmark model"; exit 1; }
  fi
fi
tokens=${BENCH_TOKENS:-128}
runs=${BENCH_RUNS:-3}
bench() { run bench --model "$model" --backend vulkan "${device[@]}" --prompt-tokens 128 --gen-tokens "$tokens" --runs "$runs" "$@" || failures=$((failures + 1)); }
say "-- base model, one token per forward"
bench --mode base
say "-- HAMburger, every macro step forced to 1 token (one base forward + micro step 0 per token)"
bench --force-steps 1
say "-- HAMburger, every macro step forced to 4 tokens (one base forward + 4 micro steps)"
bench --force-steps 4
say "-- HAMburger, stop head decides, waiting for each stop decision"
bench --run-ahead false
say "-- HAMburger, stop head decides, all micro steps enqueued, extra ones discarded"
bench --run-ahead true

step "summary"
if [ "$failures" -gt 0 ]; then
  say "$failures step(s) failed; see $log"
  exit 1
fi
say "all checks passed; log: $log"
