#!/bin/sh
# Builds Tools/bench/kernel_bench.c with the package's kernel sources and flags (Package.swift,
# CHamKernels) and runs it, after the memory bandwidth probe with the same thread count:
#
#   Tools/bench/kernels.sh [threads=2] [megabytes=512] [rounds=5] [level=best] [types=all] [rows=1,2,5,8] [in=2048]
#
# Compare two builds of the kernels by running this in two worktrees alternately, or with
# KERNELS=/path/to/a/copy/of/Sources/CHamKernels for the other one.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-clang}
kernels=${KERNELS:-$root/Sources/CHamKernels}
$cc -O3 -fno-math-errno -ffp-contract=off -pthread -I"$kernels/include" -I"$kernels" \
    -o "$work/kernel_bench" "$root/Tools/bench/kernel_bench.c" "$kernels"/*.c -lm
gcc -O3 -march=native -pthread -o "$work/membw" "$root/Tools/bench/membw.c"
echo "memory bandwidth: $("$work/membw" "${1:-2}" 1024 5)"
"$work/kernel_bench" "$@"
