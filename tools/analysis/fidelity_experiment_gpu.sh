#!/usr/bin/env bash
# The second- and third-round fidelity experiments on one GPU, within a time budget (default 540 s of runs):
#   tools/analysis/fidelity_experiment_gpu.sh DATA WORK_DIR [fidelity_experiment.py options ...]
# DATA: the cifar10_20k folder (train/<class>/, test/<class>/), or a .tar of it (a GPU machine receives the
# repository only: pack it with `tar -C ../shared/data -cf shared/cifar10_20k.tar cifar10_20k`, about 40 MB of
# JPEGs); it is unpacked to /tmp. Runs, in order and each resumable like the CPU runner:
#   1. the mini Swin (configs/fidelity/swin-mini_cifar10-20k.py): every arm, the width sweep 4/16/32 (width 8
#      is the scalenet arm), seeds $SEEDS (default 0);
#      and the paper's other claims (--claims: LoRA at matched parameters, the interleave map; 3x and 4x depth
#      at adapter widths 8 and 32);
#   2. experiment 1 on the DeiT-Tiny-wide ViT with the converging schedule (30 source epochs, warm-up and a
#      cosine stepped every iteration: configs/fidelity/vit-mini-converging_cifar10-20k.py), arms at E/3;
#   3. when to grow at equal compute (tools/analysis/when_to_grow.py on the mini Swin; its options in
#      $WHEN_TO_GROW_ARGS, e.g. "--source-epochs 30").
# The GPU settings: batch 256, 8 loader workers. Tables and plots land in WORK_DIR/{swin,vit,when_to_grow}/.
# BUDGET_S: seconds after which no further run is started (the runs in WORK_DIR stay; rerun to continue).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 DATA WORK_DIR [fidelity_experiment.py options ...]" >&2
  exit 2
fi
DATA=$1
WORK_DIR=$(realpath -m "$2")
PY=${PYTHON:-python}
cd "$(dirname "$0")/../.."
if [[ "$DATA" == *.tar ]]; then
  mkdir -p /tmp/fidelity_data && tar -C /tmp/fidelity_data -xf "$DATA"
  DATA=$(find /tmp/fidelity_data -mindepth 1 -maxdepth 1 -type d | head -1)
fi
DATA=$(realpath "$DATA")
START=$(date +%s)
BUDGET_S=${BUDGET_S:-540}
LOADERS=${LOADERS:-"train_dataloader.batch_size=256 train_dataloader.num_workers=8 \
train_dataloader.persistent_workers=True val_dataloader.num_workers=8 val_dataloader.persistent_workers=True"}
run() {  # run RUNNER TIME_FLAG CONFIG SUBDIR [options]: a runner with what is left of the budget
  local left=$((BUDGET_S - ($(date +%s) - START)))
  if [ "$left" -le 0 ]; then
    echo "budget of ${BUDGET_S} s spent: $4 not started"
    return
  fi
  "$PY" "tools/analysis/$1" "$3" --data "$DATA" --val-split "${VAL_SPLIT:-test}" --work-dir "$WORK_DIR/$4" \
      --seeds ${SEEDS:-0} "$2" "$left" "${@:5}" --cfg-options $LOADERS ${CFG_OPTIONS:-}
}
run fidelity_experiment.py --budget configs/fidelity/swin-mini_cifar10-20k.py swin --sweep-dims 4 16 32 \
    --claims --deep-scales 3 4 --deep-dims 8 32 "${@:3}"
run fidelity_experiment.py --budget configs/fidelity/vit-mini-converging_cifar10-20k.py vit \
    --fractions 0.3333333333333333 --variants source scalenet scalenet_all shared_noadapter stack "${@:3}"
run when_to_grow.py --time-limit configs/fidelity/swin-mini_cifar10-20k.py when_to_grow ${WHEN_TO_GROW_ARGS:-}
