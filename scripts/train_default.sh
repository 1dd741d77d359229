#!/usr/bin/env bash
# Reproduce the bundled default model (models/MODEL_CARD.md), render + train, two stages:
#   1. 480 train frames (seed 1), 10 epochs from the ImageNet encoder;
#   2. the same train split extended to 1104 frames (frames 0-1103 of seed 1), 12 more epochs
#      starting from stage 1's last weights (init_from).
# Then it evaluates the last weights on the held-out test split (seed 1000) and on the
# generalisation split (seed 4000: IOR 1.65-1.8 and 5-7 glass objects per frame, outside the
# training distribution). Override with environment variables, e.g. STAGE2_EPOCHS=30.
# On 2 CPU cores: ~1 h of rendering, ~35 min (stage 1) + ~65 min (stage 2) of training.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements.txt | tail -n 1)
"$PY" -m pip install --disable-pip-version-check -q --no-deps . 2> >(grep -v "is ignored" >&2)

DATA=${DATA:-data/synthetic}
OUT=${OUT:-runs/default_small}
STAGE1_FRAMES=${STAGE1_FRAMES:-480}
STAGE1_EPOCHS=${STAGE1_EPOCHS:-10}
STAGE2_FRAMES=${STAGE2_FRAMES:-1104}
STAGE2_EPOCHS=${STAGE2_EPOCHS:-12}
TEST_FRAMES=${TEST_FRAMES:-100}
SPP=${SPP:-32}
synth() { "$PY" -m egsa_ros.data.synth.cli --out "$DATA" --width 256 --height 192 --spp "$SPP" "$@"; }

# Train, test and generalisation frames come from different seeds (1, 1000, 4000): no scene is shared.
synth --split train --frames "$STAGE1_FRAMES" --seed 1
synth --split test --frames "$TEST_FRAMES" --seed 1000
synth --split general --frames 48 --seed 4000 --ior 1.65,1.8 --glass-count 5,7
"$PY" -m egsa_ros.train.cli --config default_small data.root="$DATA" data.val_split=test \
  data.num_workers=1 optim.epochs="$STAGE1_EPOCHS" out_dir="$OUT/stage1"
synth --split train --frames "$STAGE2_FRAMES" --seed 1   # resumes: renders only the new frames
"$PY" -m egsa_ros.train.cli --config default_small data.root="$DATA" data.val_split=test \
  data.num_workers=1 optim.epochs="$STAGE2_EPOCHS" init_from="$OUT/stage1/last" out_dir="$OUT/stage2"
for split in test general; do
  "$PY" -m egsa_ros.train.evaluate "$OUT/stage2/last" --root "$DATA" --split "$split"
done
echo "last checkpoint: $OUT/stage2/last (copy model.safetensors and checkpoint.json to models/default_small to bundle it)"
