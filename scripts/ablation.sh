#!/usr/bin/env bash
# Reproduce the ablation table and the held-out-shape test of models/HISTORY.md:
#   5 variants (fusion modest / sa / egsa x edges rgb / depth / progressive) at one equal budget
#   (96x128 input, 8 epochs x 64 steps x batch 8, progressive switch at epoch 4, from ImageNet),
#   a second seed of egsa_progressive and modest, and egsa_progressive trained without flasks
#   and bowls, evaluated on the test, generalisation and flask/bowl-only splits.
# Uses the frames of scripts/train_default.sh (same DATA) and renders what is missing.
# On 2 CPU cores: 7-10 min per run, ~75 min in all (plus rendering if DATA is empty).
# Resumable: run it again after an interruption; finished runs and evaluations are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements-train.txt | tail -n 1)
"$PY" -m pip install --disable-pip-version-check -q --no-deps . 2> >(grep -v "is ignored" >&2)

DATA=${DATA:-data/synthetic}
OUT=${OUT:-runs/ablation}
synth() { "$PY" -m egsa_ros.data.synth.cli --out "$DATA" --width 256 --height 192 --spp "${SPP:-32}" "$@"; }

synth --split train --frames 1104 --seed 1
synth --split test --frames 100 --seed 1000
synth --split general --frames 48 --seed 4000 --ior 1.65,1.8 --glass-count 5,7
synth --split heldout_shapes --frames 48 --seed 5000 --glass-shapes flask,bowl

"$PY" -m egsa_ros.train.ablation --root "$DATA" --out "$OUT" --input-size 96,128 \
  --epochs 8 --steps-per-epoch 64 --switch-epoch 4 --seeds 0 1 --repeat-variants egsa_progressive modest \
  --heldout-shapes flask,bowl --eval-splits test general heldout_shapes --set data.num_workers=1 num_threads=2
