#!/usr/bin/env bash
# Render the v2 (diverse) splits for the generalisation work. Every split a decision or a report
# reads comes first (val, the FOV splits, ood and its one-factor diagnostics, test, the fresh
# draws, their 256-spp and 640x480 renders, the v1 test), then the training splits (train, the
# table and light pools, their 256-spp twins when asked, the v1 train frames the v2 candidates
# replay; V1_DATA: train seed 1, test seed 1000; V1=0 skips the v1 frames). A lost render folder
# is ready for evaluation long before training data is back. Resumable (rerun: finished frames are
# skipped). Runs at low priority with one job (JOBS=2 for both cores) so the machine stays usable.
#   DATA=/data/egsa_v2 TRAIN_FRAMES=4000 scripts/render_v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/egsa_v2}
PY=$(scripts/setup_venv.sh requirements-train.txt | tail -n 1)
if [ -f /usr/lib/x86_64-linux-gnu/libLLVM.so.19.1 ]; then
  export DRJIT_LIBLLVM_PATH=/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1
fi
S=(nice -n 19 "$PY" -m egsa_ros.data.synth.cli --out "$DATA" --width 256 --height 192 --spp 32
   --generator v2 --jobs "${JOBS:-1}" --no-progress)
"${S[@]}" --split val --frames 64 --seed 7100 --split-family train
# Decision-only cameras outside the training range (other seeds than the report splits below).
"${S[@]}" --split fov_narrow_val --frames 32 --seed 7200 --split-family train --hfov-range 25,38
"${S[@]}" --split fov_wide_val --frames 32 --seed 7300 --split-family train --hfov-range 95,110
"${S[@]}" --split ood --frames 64 --seed 7200 --split-family ood
# Diagnostics (never trained on): ood's seed and cameras with ONE held-out factor each
# (ood_base: none, the training draws).
"${S[@]}" --split ood_base --frames 64 --seed 7200 --split-family train
for f in ood_glass ood_tables ood_room ood_corner ood_warm ood_spots; do
  "${S[@]}" --split "$f" --frames 64 --seed 7200 --split-family "$f"
done
"${S[@]}" --split test --frames 64 --seed 7300 --split-family train
# Fresh draws for decisions whose first splits have been seen (rule
# models/rules/2026-12-05_geometry_sensor_solid_instances_fresh.md): val / ood / test at new seeds.
"${S[@]}" --split val_b --frames 64 --seed 7610 --split-family train
"${S[@]}" --split ood_b --frames 64 --seed 7710 --split-family ood
"${S[@]}" --split test_b --frames 64 --seed 7810 --split-family train
# Clean renders (rules since V2ac): the val and ood scenes at 256 samples per pixel, without the
# path tracer's noise that 32 samples leave on glass and dim regions (~5 s/frame with 2 jobs).
C=(nice -n 19 "$PY" -m egsa_ros.data.synth.cli --out "$DATA" --width 256 --height 192 --spp 256
   --generator v2 --jobs "${JOBS:-1}" --no-progress)
"${C[@]}" --split val_spp256 --frames 64 --seed 7100 --split-family train
"${C[@]}" --split ood_spp256 --frames 64 --seed 7200 --split-family ood
# Diagnostics, clean: the spot-lit family and its base (HISTORY, V2ad).
"${C[@]}" --split ood_base_spp256 --frames 64 --seed 7200 --split-family train
"${C[@]}" --split ood_spots_spp256 --frames 64 --seed 7200 --split-family ood_spots
# The test scenes, clean (reported only: the glass geometry on clean renders).
"${C[@]}" --split test_spp256 --frames 64 --seed 7300 --split-family train
# The same val/ood/test scenes at a robot camera's size (seeds equal: the same scenes).
S640=(nice -n 19 "$PY" -m egsa_ros.data.synth.cli --out "$DATA" --width 640 --height 480 --spp 32
      --generator v2 --jobs "${JOBS:-1}" --no-progress)
"${S640[@]}" --split val_640x480 --frames 64 --seed 7100 --split-family train
"${S640[@]}" --split ood_640x480 --frames 64 --seed 7200 --split-family ood
"${S640[@]}" --split test_640x480 --frames 64 --seed 7300 --split-family train
# Cameras outside the training range (40-90 deg), the val scenes otherwise: the depth-scale test.
"${S[@]}" --split fov_narrow --frames 64 --seed 7100 --split-family train --hfov-range 25,38
"${S[@]}" --split fov_wide --frames 64 --seed 7100 --split-family train --hfov-range 95,110
V=(nice -n 19 "$PY" -m egsa_ros.data.synth.cli --out "${V1_DATA:-data/synthetic}" --width 256 --height 192 --spp 32
   --jobs "${JOBS:-1}" --no-progress)
if [ "${V1:-1}" = 1 ]; then
  "${V[@]}" --split test --frames 100 --seed 1000
fi
# Training splits from here on.
# TRAIN_FRAMES=3000 TABLE_FRAMES=1000: the data of candidate V2aa (models/HISTORY.md).
"${S[@]}" --split train --frames "${TRAIN_FRAMES:-2000}" --seed 7000 --split-family train
# Training frames whose table is drawn from other materials and photo set 2 (rule 2026-12-04_v2n).
"${S[@]}" --split train_tables --frames "${TABLE_FRAMES:-350}" --seed 7400 --split-family train_tables
# Training frames lit by 2-3 hard lights (rule 2026-12-04_v2p).
"${S[@]}" --split train_lights --frames "${LIGHT_FRAMES:-350}" --seed 7500 --split-family train_lights
# CLEAN_TRAIN_FRAMES=N: the first N train scenes again at 256 samples (same seed: each scene noisy or clean).
if [ "${CLEAN_TRAIN_FRAMES:-0}" -gt 0 ]; then
  "${C[@]}" --split train_spp256 --frames "$CLEAN_TRAIN_FRAMES" --seed 7000 --split-family train
fi
# CLEAN_TABLE_FRAMES=N, CLEAN_LIGHT_FRAMES=N: the same for the train_tables and train_lights scenes.
if [ "${CLEAN_TABLE_FRAMES:-0}" -gt 0 ]; then
  "${C[@]}" --split train_tables_spp256 --frames "$CLEAN_TABLE_FRAMES" --seed 7400 --split-family train_tables
fi
if [ "${CLEAN_LIGHT_FRAMES:-0}" -gt 0 ]; then
  "${C[@]}" --split train_lights_spp256 --frames "$CLEAN_LIGHT_FRAMES" --seed 7500 --split-family train_lights
fi
if [ "${V1:-1}" = 1 ]; then
  "${V[@]}" --split train --frames "${V1_TRAIN_FRAMES:-2208}" --seed 1
  # CLEAN_V1_FRAMES=N: the first N v1 train scenes again at 256 samples (~3.4 s/frame with one job).
  if [ "${CLEAN_V1_FRAMES:-0}" -gt 0 ]; then
    VC=(nice -n 19 "$PY" -m egsa_ros.data.synth.cli --out "${V1_DATA:-data/synthetic}" --width 256 --height 192
        --spp 256 --jobs "${JOBS:-1}" --no-progress)
    "${VC[@]}" --split train_spp256 --frames "$CLEAN_V1_FRAMES" --seed 1
  fi
fi
