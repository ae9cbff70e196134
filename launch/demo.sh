#!/usr/bin/env bash
# The main job on embedded defaults: sets up .venv (if needed), writes a preview contact sheet of
# `full` randomization with parameter histograms and one of structured randomization (objects on
# surfaces, distractors near and in front of the target, camera mounts on a spherical cap), runs a
# randomized rollout with a summary, and scores the scripted controller of every task in the nominal
# scene and under `physics`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" train,dev
cd "$ROOT"
mkdir -p runs/demo
dr-sim preview full -n 16 --env dr_sim/PandaReach-v0 --image-size 96 --out runs/demo/preview_full.png
dr-sim preview launch/configs/sdr_localize.yaml -n 9 --env dr_sim/Localize-v0 --image-size 96 --out runs/demo/preview_structured.png
python -m dr_sim.rollout --env dr_sim/PandaReach-v0 --randomization full --episodes 5 --steps 50
echo "[dr-sim] scripted controllers on every task, nominal and under the physics preset:"
python -m dr_sim.policies.controllers.evaluate -n 20
echo "[dr-sim] preview sheets: runs/demo/preview_full.png (histograms: runs/demo/preview_full_params.png), runs/demo/preview_structured.png"
