#!/bin/sh
# Compiles bpf/*.bpf.c into bpf/*.bpf.o, and examples/*/*.bpf.c beside their sources, with clang when
# it is installed; without clang the checked-in objects (BPF objects are portable) serve as they are.
set -eu
cd "$(dirname "$0")"
if ! command -v clang > /dev/null; then
  echo "build:bpf: clang not found; keeping the prebuilt bpf/*.bpf.o" >&2
  exit 0
fi
for src in *.bpf.c ../examples/*/*.bpf.c; do
  clang -target bpf -O2 -g -Wall -Werror -fdebug-prefix-map="$(pwd)=." \
    -I "/usr/include/$(uname -m)-linux-gnu" -c "$src" -o "${src%.c}.o"
done
