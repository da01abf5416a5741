#!/usr/bin/env bash
# The full study trained on a CPU, one model at a time, in the background (until the Snakemake workflow
# of the full-study issue replaces it). Takes the first line of $QUEUE (default runs/queue.txt;
# "model seed [extra train options]"), trains it into runs/study/<model>-s<seed> with one thread,
# copies the kept files (config.json, metrics.json, model.pt, predictions) to reports/study/runs/,
# and moves on; the queue file is re-read each time, so it can be edited while this runs. A killed
# run resumes from its last.pt when the same line comes up again, also on another machine when
# workflow/park_runs.sh parked it in reports/study/in-progress/ (committed) before this one was lost. Edit this file only by replacing it (write a copy, then mv): a running
# queue reads it as it goes.
cd "$(dirname "$0")/.."
Q=${QUEUE:-runs/queue.txt}
LOG=${QUEUE_LOG:-runs/queue.log}
while true; do
  line=$(grep -v '^\s*#' "$Q" | grep -v '^\s*$' | head -1)
  [ -z "$line" ] && break
  set -- $line
  model=$1; seed=$2; shift 2
  name=$model-s$seed
  mkdir -p runs/study
  parked=reports/study/in-progress/$name
  if [ ! -f runs/study/$name/last.pt ] && [ -f $parked/last.pt ]; then
    # a run parked by workflow/park_runs.sh on another machine: resume it (bit-identical to unbroken)
    mkdir -p runs/study/$name && cp $parked/* runs/study/$name/
    echo "$(date -u +%FT%TZ) restored $name from $parked" >> "$LOG"
  fi
  echo "$(date -u +%FT%TZ) start $name" >> "$LOG"
  .venv/bin/python -m pslmodels.train --model "$model" --seed "$seed" --preset paper --threads 1 --quiet \
      --run-dir runs/study/$name "$@" > runs/study/$name.log 2>&1
  rc=$?
  echo "$(date -u +%FT%TZ) end $name rc=$rc" >> "$LOG"
  if [ $rc = 0 ]; then
    mkdir -p reports/study/runs/$name
    for f in config.json metrics.json model.pt test_predictions.parquet sethard_predictions.parquet; do
      [ -f runs/study/$name/$f ] && cp runs/study/$name/$f reports/study/runs/$name/$f
    done
    rm -rf "$parked"
  fi
  # drop the line just done (or failed) from the queue
  python3 - "$Q" "$line" <<'PY'
import sys
path, done = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
for i, l in enumerate(lines):
    if l.strip() == done.strip():
        del lines[i]
        break
open(path, "w").write("\n".join(lines) + "\n")
PY
done
echo "$(date -u +%FT%TZ) queue empty" >> "$LOG"
