#!/usr/bin/env bash
# The fidelity experiment scaled up for one GPU, then the backbone throughput at detection and segmentation
# input sizes:
#   tools/analysis/fidelity_experiment_gpu.sh DATA WORK_DIR [fidelity_experiment.py options ...]
# DATA: an ImageNet-format folder (train/<class>/, val/<class>/), e.g. a 100-class ImageNet subset. The source
# is configs/fidelity/swin-small-d2222_imagenet.py (Swin-T width, depths 2-2-2-2, 224 px, 30 epochs); the arms,
# seeds and fractions are those of tools/analysis/fidelity_experiment.py, with adapters of dim 16.
# BENCHMARK=0 skips the throughput part (CPU smoke runs).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 DATA WORK_DIR [fidelity_experiment.py options ...]" >&2
  exit 2
fi
DATA=$(realpath "$1")
WORK_DIR=$(realpath -m "$2")
PY=${PYTHON:-python}
cd "$(dirname "$0")/../.."
NUM_CLASSES=$(find "$DATA/train" -mindepth 1 -maxdepth 1 -type d | wc -l)
"$PY" tools/analysis/fidelity_experiment.py configs/fidelity/swin-small-d2222_imagenet.py --data "$DATA" \
    --val-split val --work-dir "$WORK_DIR" --adapter-dim 16 --scalenet-drop-path 0.3 "${@:3}" \
    --cfg-options model.num_classes="$NUM_CLASSES" ${CFG_OPTIONS:-}
if [ "${BENCHMARK:-1}" != 0 ]; then
  "$PY" tools/analysis/benchmark_backbone.py --device cuda --size 512 512 --batch 8 --repeats 20 --warmup 5
  "$PY" tools/analysis/benchmark_backbone.py --device cuda --size 800 1333 --batch 2 --repeats 20 --warmup 5
fi
