#!/usr/bin/env bash
# The study's GPU work in one prepared run (DEVELOPERS.md "GPU"): a lent GPU machine for a few minutes
# trains the unfinished seeds as parallel processes and computes the attributions that are slow on
# the CPU (occlusion, then Integrated Gradients with its completeness check) for every kept seed-0
# model on all test proteins; it stops itself before the lease's limit, parks the trainings, and
# leaves small files under $OUT that the development machine unpacks:
#   train-a.tgz, train-b.tgz  the runs' resume state (runs/study/<run>/: last.pt, best.pt, model.pt,
#                             config.json, and every finished run's metrics and predictions)
#   attr-*.tar                one scores pack per model and method, two tars for occlusion (pslindex.attributions.pack_scores)
# Run from the repository root with the data carried in .device/data (PSL_DATA_DIR) and captum as a
# wheel in .whl (the GPU image lacks it):
#   BUDGET=500 bash workflow/device_study.sh
set -u
START=$(date +%s)
BUDGET=${BUDGET:-500}                   # seconds until everything must be packed
TRAIN_STOP=${TRAIN_STOP:-$((BUDGET - 40))}
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT" runs/study /tmp/attr
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}                  # cpu: a rehearsal on the development machine
TRAIN_ARGS=${TRAIN_ARGS:-}              # rehearsal: e.g. "--max-train 40 --max-eval 40 --epochs 2"
ATTR_ARGS=${ATTR_ARGS:-}                # rehearsal: e.g. "--limit 3"
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD} PSL_DATA_DIR=${PSL_DATA_DIR:-$PWD/.device/data} PYTHONUNBUFFERED=1
elapsed() { echo $(( $(date +%s) - START )); }
$PY -c "import torch, captum; print('torch', torch.__version__, 'captum', captum.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null

# 1. trainings, one process each, stopped at TRAIN_STOP (each epoch's last.pt is written atomically)
TRAIN=${TRAIN:-"bilstm-att:1 bilstm-att:2 cnn35-att:1 cnn35-att:2 cnn3-5-7-11-att:1 cnn3-5-7-11-att:2"}
for job in $TRAIN; do
  model=${job%%:*}; seed=${job##*:}; name=$model-s$seed
  timeout -s TERM $((TRAIN_STOP - $(elapsed))) $PY -m pslmodels.train --model "$model" --seed "$seed" \
    --preset paper --device "$DEVICE" --threads 1 --quiet --run-dir "runs/study/$name" $TRAIN_ARGS > "runs/study/$name.log" 2>&1 &
done

# 2. attributions of the kept seed-0 models: occlusion for all first, then IG
ATTR=${ATTR:-"bilstm bilstm-att bilstm-uniform cnn35 cnn35-att cnn3-5-7-11 cnn3-5-7-11-att mlp-preset"}
attribute() {  # method, deadline (seconds since START), extra options
  local method=$1 deadline=$2; shift 2
  local pids=()
  if [ $((deadline - $(elapsed))) -lt 10 ]; then echo "$method skipped: no time left"; return; fi
  for model in $ATTR; do
    timeout -s TERM $((deadline + 20 - $(elapsed))) $PY -m pslmodels.attribute "reports/study/runs/$model-s0" \
      --max-seconds $((deadline - $(elapsed))) --methods "$method" --device "$DEVICE" --threads 1 --quiet $ATTR_ARGS --out "/tmp/attr/$model-$method.parquet" \
      --pack "/tmp/attr/$model-s0-$method.npz" "$@" > "/tmp/attr/$model-$method.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  echo "$method done at $(elapsed) s"; tail -n 2 /tmp/attr/*-"$method".log
}
attribute occlusion $((BUDGET * 3 / 5)) --occlusion-tokens 2000000
attribute ig $((BUDGET - 45)) --batch-size 32 --ig-steps 64 --ig-retry-steps 128 --ig-batch 1024

# 3. wait for the trainings (stopped at TRAIN_STOP), then pack
wait
echo "trainings stopped at $(elapsed) s"
for log in runs/study/*.log; do echo "$log: $(grep -c 'epoch' "$log") lines; $(tail -n 1 "$log")"; done
$PY - <<'PY'
import glob, torch
for p in sorted(glob.glob("runs/study/*/last.pt")):
    c = torch.load(p, map_location="cpu", weights_only=True)
    h = c["history"]
    print(p, "epoch", c["epoch"], "best", c["best_epoch"], "val f1 %.3f" % c["best_score"],
          "s/epoch %.1f" % (h[-1]["seconds"] / len(h)) if h else "")
PY
names=(runs/study/*/)
half=$(( (${#names[@]} + 1) / 2 ))
tar czf "$OUT/train-a.tgz" --exclude=.lock "${names[@]:0:$half}" runs/study/*.log
tar czf "$OUT/train-b.tgz" --exclude=.lock "${names[@]:$half}"
occ=(/tmp/attr/*-occlusion.npz)
half=$(( (${#occ[@]} + 1) / 2 ))
tar cf "$OUT/attr-occlusion-a.tar" -C /tmp/attr $(for f in "${occ[@]:0:$half}"; do basename "$f"; done) \
  $(cd /tmp/attr && ls ./*-occlusion.log)
tar cf "$OUT/attr-occlusion-b.tar" -C /tmp/attr $(for f in "${occ[@]:$half}"; do basename "$f"; done)
(cd /tmp/attr && tar cf "$OUT/attr-ig.tar" ./*-ig.npz ./*-ig.log)
ls -la "$OUT"
echo "packed at $(elapsed) s"
