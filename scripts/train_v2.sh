#!/usr/bin/env bash
# Fine-tune the bundled model on the v2 (diverse) renders, with camera degradations and glass-free
# real-photo negatives: the generalisation work (rule: models/rules/2026-12-02_v2_finetune.md).
# Needs the splits of scripts/render_v2.sh. Resumable: RESUME=1 continues the last run.
#   DATA=data/egsa_v2 OUT=runs/v2 scripts/train_v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/egsa_v2}
OUT=${OUT:-runs/v2}
PY=$(scripts/setup_venv.sh requirements-train.txt | tail -n 1)
ARGS=(--config default_small data.root="$DATA" data.train_split=train data.val_split=val data.num_workers=1
      data.degradations=true data.photo_negatives=64 'model.overrides={"seg_refine": true}'
      loss.seg_weight=0.5 'loss.class_weights=[1, 1, 2]' optim.lr_schedule=cosine optim.lr_encoder=5e-5
      optim.lr_decoder=1.5e-4 optim.warmup_steps=100 optim.epochs="${EPOCHS:-8}" seed=0 out_dir="$OUT/v2a")
if [ "${RESUME:-0}" = 1 ]; then
  nice -n 10 "$PY" -m egsa_ros.train.cli "${ARGS[@]}" --resume
else
  nice -n 10 "$PY" -m egsa_ros.train.cli "${ARGS[@]}" init_from=models/default_small
fi
for split in val ood; do
  "$PY" -m egsa_ros.train.evaluate "$OUT/v2a/last" --root "$DATA" --split "$split" --json "$OUT/v2a/eval_$split.json"
done
"$PY" -m egsa_ros.eval.photo_negatives --model "$OUT/v2a/last" --json "$OUT/v2a/photo_negatives.json"
