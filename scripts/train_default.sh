#!/usr/bin/env bash
# Reproduce the bundled default model: render the synthetic train/test sets, then train
# default_small on them. Settings default to those of the bundled model (models/MODEL_CARD.md);
# override with environment variables, e.g. TRAIN_FRAMES=3000 EPOCHS=40 scripts/train_default.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements.txt | tail -n 1)
"$PY" -m pip install --disable-pip-version-check -q --no-deps . 2> >(grep -v "is ignored" >&2)

DATA=${DATA:-data/synthetic}
OUT=${OUT:-runs/default_small}
TRAIN_FRAMES=${TRAIN_FRAMES:-480}
TEST_FRAMES=${TEST_FRAMES:-100}
EPOCHS=${EPOCHS:-10}
SPP=${SPP:-32}

# Train and test frames come from different seeds (1 and 1000): no scene is shared.
"$PY" -m egsa_ros.data.synth.cli --out "$DATA" --split train --frames "$TRAIN_FRAMES" --seed 1 \
  --width 256 --height 192 --spp "$SPP"
"$PY" -m egsa_ros.data.synth.cli --out "$DATA" --split test --frames "$TEST_FRAMES" --seed 1000 \
  --width 256 --height 192 --spp "$SPP"
"$PY" -m egsa_ros.train.cli --config default_small data.root="$DATA" data.val_split=test \
  data.num_workers=1 optim.epochs="$EPOCHS" out_dir="$OUT" "$@"
echo "best checkpoint: $OUT/best (copy it to models/default_small to bundle it)"
