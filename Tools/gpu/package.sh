#!/usr/bin/env bash
# Builds a hamrun that runs on a GPU machine without a Swift toolchain, and gathers what it needs
# into one folder (and a .tar.xz of it):
#   hamrun            release build, Swift runtime and Foundation linked in (--static-swift-stdlib), stripped
#   lib/              the shared libraries hamrun links that are not part of a base system
#                     (OpenBLAS, gfortran, quadmath, zlib: glibc, libstdc++ and libgcc_s are expected)
#   lib/vulkan/       the Vulkan loader (used only where the machine has none) and the Khronos
#                     validation layer (for `hamrun check --validation`)
#   run-checks.sh     what to run there; README.md
# Usage: Tools/gpu/package.sh [OUTPUT_DIR]   (default: out/gpu)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-out/gpu}
bundle="$out/hamrun-gpu"

swift build -c release --static-swift-stdlib --product hamrun
binary=.build/release/hamrun

rm -rf "$bundle"
mkdir -p "$bundle/lib/vulkan/layers"
cp "$binary" "$bundle/hamrun"
strip "$bundle/hamrun" 2>/dev/null || true

# Every library ldd resolves, except the ones any Linux with glibc has.
system='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.'
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
  if [[ "$name" =~ $system ]]; then continue; fi
  cp -L "$path" "$bundle/lib/$name"
done

# hamrun opens the loader at run time (it is not in ldd's list).
loader=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
if [ -n "$loader" ]; then
  cp -L "$loader" "$bundle/lib/vulkan/libvulkan.so.1"
else
  echo "package.sh: no libvulkan.so.1 here (apt-get install libvulkan1); the bundle will rely on the GPU machine's loader" >&2
fi
manifest=/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json
if [ -f "$manifest" ]; then
  layer=$(ldconfig -p | awk '/libVkLayer_khronos_validation\.so / { print $NF; exit }')
  layer=${layer:-/usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so}
  cp -L "$layer" "$bundle/lib/vulkan/layers/libVkLayer_khronos_validation.so"
  strip "$bundle/lib/vulkan/layers/libVkLayer_khronos_validation.so" 2>/dev/null || true
  # A path with a slash is resolved next to the manifest.
  sed 's#"library_path": *"[^"]*"#"library_path": "./libVkLayer_khronos_validation.so"#' "$manifest" \
    > "$bundle/lib/vulkan/layers/VkLayer_khronos_validation.json"
else
  echo "package.sh: no validation layer here (apt-get install vulkan-validationlayers); check --validation will run without it" >&2
fi

cp Tools/gpu/run-checks.sh Tools/gpu/README.md "$bundle/"
# The reference fixture: run-checks.sh converts its checkpoint and reproduces every case on the GPU.
mkdir -p "$bundle/reference/base"
cp Tests/Fixtures/tiny-hamburger-ref/hamburger.ckpt Tests/Fixtures/tiny-hamburger-ref/expected.json "$bundle/reference/"
cp Tests/Fixtures/tiny-hamburger-ref/base/* "$bundle/reference/base/"
tar -C "$out" -cJf "$out/hamrun-gpu.tar.xz" hamrun-gpu
echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1)), archive: $out/hamrun-gpu.tar.xz ($(du -h "$out/hamrun-gpu.tar.xz" | cut -f1))"
