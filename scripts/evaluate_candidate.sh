#!/usr/bin/env bash
# Everything a v2 candidate's rule decides on and reports, in one go, for a calibrated checkpoint
# (models/rules/: the rules since V2ah). Needs the splits of scripts/render_v2.sh (no rendering
# here) and the v1 test split. Writes under OUT (default runs/eval/NAME):
#   - candidate_check.{txt,json}: the bundling rule, candidate and bundled model in one run
#     (RULE=--clean-decides by default; RULE=--clean-renders for the rules before V2ah);
#   - diag_SPLIT.log: egsa-eval --offline on the diagnostic splits (glass IoU per split);
#   - camera_robustness.md: test_640x480 as rendered and under camera effects;
#   - geometry_SPLIT.md: the own-mask glass geometry (pose plane) on v2 test, val, ood and the clean splits.
# ~15-25 min on 2 CPU cores; do not run a render or a training at the same time if timings matter.
#   scripts/evaluate_candidate.sh runs/v2/v2ah/calibrated
set -euo pipefail
cd "$(dirname "$0")/.."
CAND=${1:?usage: scripts/evaluate_candidate.sh CALIBRATED_CHECKPOINT_DIR}
[ -f "$CAND/checkpoint.json" ] || { echo "error: $CAND has no checkpoint.json (a calibrated egsa-train checkpoint)" >&2; exit 2; }
PY=$(scripts/setup_venv.sh requirements-train.txt | tail -n 1)
DATA=${DATA:-data/egsa_v2}
NAME=$(basename "$(dirname "$CAND")")
OUT=${OUT:-runs/eval/$NAME}
RULE=${RULE:---clean-decides}
mkdir -p "$OUT"
"$PY" -m egsa_ros.eval.candidate_check "$CAND" --v2 "$DATA" --train-frames 64 --independent "$RULE" \
  --no-progress --json "$OUT/candidate_check.json" | tee "$OUT/candidate_check.txt"
for split in ood_base ood_spots ood_warm ood_base_spp256 ood_spots_spp256 test_spp256; do
  for model in "$CAND" models/default_small; do
    tag=$([ "$model" = "$CAND" ] && echo candidate || echo bundled)
    "$PY" -m egsa_ros.eval.cli "$DATA/$split" --offline --model "$model" --backend onnxruntime --panels 0 \
      --out "$OUT/diag_${split}_$tag" --no-progress > "$OUT/diag_${split}_$tag.log" 2>&1
    echo "$split $tag: $(grep -o 'transparent IoU [0-9.]*' "$OUT/diag_${split}_$tag.log")"
  done
done | tee "$OUT/diagnostics.txt"
"$PY" -m egsa_ros.eval.camera_robustness "$DATA/test_640x480" --model "$CAND" --no-progress \
  --json "$OUT/camera_robustness.json" > "$OUT/camera_robustness.md"
for split in test val ood val_spp256 ood_spp256; do
  "$PY" -m egsa_ros.eval.geometry_limits "$DATA/$split" --model "$CAND" --no-progress \
    --json "$OUT/geometry_$split.json" > "$OUT/geometry_$split.md"
  echo "$split: $(sed -n 5p "$OUT/geometry_$split.md")"
done | tee "$OUT/geometry.txt"
echo "written under $OUT"
