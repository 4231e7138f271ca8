#!/usr/bin/env bash
# The GPU check of the jax.nn drop-in (issue 13), run on a lent accelerator:
#   PYTHONPATH=. OUT=<dir> bash benchmarks/gpu_check.sh
# 1. `jaxact bench --parts jax_nn` (every shared function against jax.nn, and a training step);
# 2. the catalogue's accuracy / autodiff tests, the ported jax.nn tests, diagnose (scan
#    internals change across JAX versions) and the public test helpers, on the GPU.
# Each step has its own time limit so that a slow one leaves the others their turn.
set -u
export PYTHONPATH=${PYTHONPATH:-.}
mkdir -p "$OUT"
python -c "import jax, jaxlib; print(jax.__version__, jaxlib.__version__, jax.devices())" \
  2>&1 | tee "$OUT/devices.txt"
timeout 130 python -m jaxact bench --parts jax_nn --out "$OUT/bench" 2>&1 | tail -45 \
  | tee "$OUT/bench.log"
PYTEST=(python -m pytest -o addopts="" -p no:cacheprovider -q -rf)
timeout -s INT 120 "${PYTEST[@]}" --junitxml="$OUT/gpu-tests-1.xml" tests/test_register.py \
  tests/test_diagnose.py tests/test_jax_nn_port.py tests/test_softmax.py tests/test_testing.py \
  2>&1 | tail -30 | tee "$OUT/pytest-1.log"
timeout -s INT 130 "${PYTEST[@]}" --junitxml="$OUT/gpu-tests-2.xml" tests/test_activations.py \
  -k "mpmath or fine_grid or exhaustive" 2>&1 | tail -30 | tee "$OUT/pytest-2.log"
