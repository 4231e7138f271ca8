#!/usr/bin/env bash
# One lent-GPU session, the standing order in one script (carry .whl: dks and autograd wheels):
#   BUDGET=<seconds> bash benchmarks/gpu_session.sh
# 1. the default test suite under the machine's JAX (CPU backend, as CI runs it);
# 2. benchmarks/gpu_bench.sh's parts, each under min(150 s, what is left), merged into the
#    committed H200 results file;
# 3. a probe of the full study's cost: one --full depth-200 training program (5 seeds,
#    1000 steps), timed with its compile and again cached.
# At most 8 files come back from $OUT: summary.txt, pytest.log, bench.log, bench/*.
set -u
export PYTHONUNBUFFERED=1
T0=$SECONDS
BUDGET=${BUDGET:-560}
left() { echo $((BUDGET - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
  .whl/*.whl || exit 1
export PYTHONPATH=.:/tmp/site
S=$OUT/summary.txt
python3 -c "import jax, jaxlib, os; print(jax.__version__, jaxlib.__version__, jax.devices(), os.cpu_count())" \
  >>"$S" 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$S" 2>&1

# 1. default tests, CPU backend, 14 workers
JAX_PLATFORMS=cpu timeout -s INT 170 python3 -m pytest -n 14 -q -rfE -p no:cacheprovider \
  >"$OUT/pytest.log" 2>&1
echo "pytest: exit $? after $((SECONDS - T0)) s" >>"$S"

# 2. benchmark parts (gpu_bench.sh's), the short ones first
mkdir -p "$OUT/bench"
cp benchmarks/results/gpu-NVIDIA_H200.json benchmarks/results/.jaxact-run "$OUT/bench/"
run_part() {
  local lim
  lim=$(left); lim=$((lim - $2)); ((lim > 150)) && lim=150
  if ((lim < 30)); then echo "$1: skipped (${lim} s left)" >>"$S"; return; fi
  echo "=== $1 (limit $lim s)" >>"$OUT/bench.log"
  timeout "$lim" python3 -m jaxact bench --parts "$1" --out "$OUT/bench" >>"$OUT/bench.log" 2>&1
  echo "$1: exit $? after $((SECONDS - T0)) s" >>"$S"
}
run_part attenuation 300
run_part diagnose 250

# 3. the full study's cost, one program
timeout 100 python3 - >>"$S" 2>&1 <<'PY'
import time
import jax
from jaxact import study, trainability as tr
from jaxact.datasets import Dataset, digits, split, standardize
from jaxact.shaping import normalize_inputs
from jaxact.sweeps import train_runs
s = study.StudyConfig.for_mode("full").grid
train, test = (Dataset(normalize_inputs(d.x), d.y, d.task, d.name)
               for d in standardize(*split(digits(), 0.2, seed=0)))
for depth in (200, 50):
    runs = [tr.recipe_run("tat_leaky_relu", depth, s.width, optimizer="momentum",
                          learning_rate=s.lr_momentum, seed=k) for k in range(s.seeds)]
    for label in ("first (compile included)", "again (cached)"):
        t = time.perf_counter()
        recs = train_runs(runs, train, test=test, steps=s.steps, batch_size=s.batch_size)
        dt = time.perf_counter() - t
        acc = [round(r["test_accuracy"], 3) for r in recs]
        print(f"probe depth {depth} x{len(runs)} seeds, {s.steps} steps, {label}: {dt:.1f} s, acc {acc}")
PY
echo "probe: exit $? after $((SECONDS - T0)) s" >>"$S"

for p in mlp sweep activations frameworks; do run_part "$p" 5; done
echo "end after $((SECONDS - T0)) s" >>"$S"
