#!/usr/bin/env bash
# The whole benchmark on a lent GPU (issue 16), one run, results labelled with the device:
#   PYTHONPATH=. OUT=<dir> bash benchmarks/gpu_bench.sh
# Writes $OUT/bench/gpu-<device>.json (and .md, figures): commit it as
# benchmarks/results/gpu-<device>.json. Parts run one by one under their own time limit, so a
# slow part leaves the others their turn; each merges into the same file (--parts keeps the
# parts already there). The frameworks part runs jaxact, equinox and flax (and PyTorch where
# a CUDA torch is installed; otherwise it says so in the file).
set -u
export PYTHONPATH=${PYTHONPATH:-.}
mkdir -p "$OUT/bench"
python -c "import jax, jaxlib; print(jax.__version__, jaxlib.__version__, jax.devices())" \
  2>&1 | tee "$OUT/devices.txt"
# Seconds each part took on the H200 (2026-12-04): activations 35, jax_nn 73, mlp 107,
# attenuation 7, diagnose 44, sweep 109; frameworks did not finish in 170 s (torch.compile and
# widths up to 1024), so it runs last with a longer limit.
for part in activations jax_nn mlp attenuation diagnose sweep frameworks; do
  limit=150
  [ "$part" = frameworks ] && limit=420
  timeout "$limit" python -m jaxact bench --parts "$part" --out "$OUT/bench" > "$OUT/$part.log" 2>&1
  echo "$part: exit $?" | tee -a "$OUT/parts.txt"
done
