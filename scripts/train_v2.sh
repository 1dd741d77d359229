#!/usr/bin/env bash
# Fine-tune the bundled model on the v2 (diverse) renders, with camera degradations and glass-free
# real-photo negatives: the generalisation work (rule: models/rules/2026-12-02_v2_finetune.md).
# Needs the splits of scripts/render_v2.sh. Resumable: RESUME=1 continues the last run.
# CANONICAL_FOCAL (fx / width) makes the depth camera-aware (rule 2026-12-03_v2b_camera_aware.md);
# INIT_FROM (default models/default_small), EXTRA_TRAIN (comma-separated ROOT/SPLIT folders trained
# on too), NEGATIVES (photo crops, default 64), EPOCHS and SEED as the rules name them; ZOOM=1 zooms
# crops in up to 2x and shows 30 % of the other frames as a wider-angle view; CANONICAL_VIEW=lo,hi
# keeps the canonical-view pass (models/rules/2026-12-03_test_time_camera_scale.md); PHOTO_SET;
# OVERRIDES="optim.train_only=[seg_refiner] optim.lr_decoder=1e-3" adds egsa-train overrides.
#   DATA=data/egsa_v2 OUT=runs/v2 CANDIDATE=v2b CANONICAL_FOCAL=0.785 scripts/train_v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/egsa_v2}
OUT=${OUT:-runs/v2}
RUN="$OUT/${CANDIDATE:-v2a}"
PY=$(scripts/setup_venv.sh requirements-train.txt | tail -n 1)
ARGS=(--config default_small data.root="$DATA" data.train_split=train data.val_split=val data.num_workers=1
      data.degradations=true data.photo_negatives="${NEGATIVES:-64}" 'model.overrides={"seg_refine": true}'
      loss.seg_weight=0.5 'loss.class_weights=[1, 1, 2]' optim.lr_schedule=cosine optim.lr_encoder=5e-5
      optim.lr_decoder=1.5e-4 optim.warmup_steps=100 optim.epochs="${EPOCHS:-8}" seed="${SEED:-0}" out_dir="$RUN")
if [ -n "${CANONICAL_FOCAL:-}" ]; then
  ARGS+=(inference.canonical_focal="$CANONICAL_FOCAL")
fi
if [ -n "${CANONICAL_VIEW:-}" ]; then  # lo,hi fx / width of the training lenses (the canonical-view pass)
  ARGS+=(inference.canonical_view_focal="[$CANONICAL_VIEW]")
fi
if [ -n "${PHOTO_SET:-}" ]; then  # which packaged photos the negatives come from (default: the latest)
  ARGS+=(data.photo_set="$PHOTO_SET")
fi
if [ "${ZOOM:-0}" = 1 ]; then  # a wider camera range (rule 2026-12-03_v2h_camera_range.md)
  ARGS+=(data.crop_min_scale=0.5 data.p_zoom_out=0.3 data.zoom_out_min_scale=0.6)
fi
if [ -n "${OVERRIDES:-}" ]; then  # more egsa-train key=value overrides, space-separated
  read -r -a MORE <<< "$OVERRIDES"
  ARGS+=("${MORE[@]}")
fi
if [ -n "${EXTRA_TRAIN:-}" ]; then
  ARGS+=(data.extra_train="[${EXTRA_TRAIN}]")
fi
if [ "${RESUME:-0}" = 1 ] && [ ! -f "$RUN/last/checkpoint.json" ]; then
  echo "RESUME=1: no finished epoch in $RUN to continue, starting the run over" >&2
  RESUME=0
fi
if [ "${RESUME:-0}" = 1 ]; then
  nice -n 10 "$PY" -m egsa_ros.train.cli "${ARGS[@]}" --resume
else
  nice -n 10 "$PY" -m egsa_ros.train.cli "${ARGS[@]}" init_from="${INIT_FROM:-models/default_small}"
fi
for split in val ood; do
  "$PY" -m egsa_ros.train.evaluate "$RUN/last" --root "$DATA" --split "$split" --json "$RUN/eval_$split.json"
done
"$PY" -m egsa_ros.eval.photo_negatives --model "$RUN/last" --json "$RUN/photo_negatives.json"
