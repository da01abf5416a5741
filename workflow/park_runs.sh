#!/usr/bin/env bash
# Park the study's unfinished trainings beside the repository before a machine goes away: for each
# runs/study/<run>/ with a last.pt and no metrics.json, copy its resume state (last.pt, best.pt,
# model.pt, config.json; about 3 MB for the paper preset) to reports/study/in-progress/<run>/, which is
# committed (the only checkpoints the repository holds), so any machine resumes where the last one
# stopped. workflow/train_queue.sh restores a parked run
# and resumes it from its last epoch (a resumed training equals an unbroken one: tests/test_train.py),
# and removes the parked copy once the run has finished and been kept.
cd "$(dirname "$0")/.."
for run in runs/study/*/; do
  name=$(basename "$run")
  [ -f "$run/last.pt" ] && [ ! -f "$run/metrics.json" ] || continue
  dest=reports/study/in-progress/$name
  tmp=$(mktemp -d "reports/study/.park-$name-XXXX") && chmod 755 "$tmp"
  cp "$run"/last.pt "$run"/config.json "$tmp"/
  for f in best.pt model.pt; do [ -f "$run/$f" ] && cp "$run/$f" "$tmp/"; done
  rm -rf "$dest" && mkdir -p "$(dirname "$dest")" && mv "$tmp" "$dest"
  epoch=$(.venv/bin/python -c "import sys, torch; print(torch.load(sys.argv[1], map_location='cpu', weights_only=True)['epoch'])" "$dest/last.pt" 2>/dev/null || echo '?')
  echo "$dest (after epoch $epoch)"
done
