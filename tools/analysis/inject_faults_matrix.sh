#!/usr/bin/env bash
# The fault-injection figures of docs/robustness.md: every fault point on the demo configs, one and two
# processes, our train tool and mmdet's/mmseg's own, random kills, and mmengine's CheckpointHook as the control.
#   bash tools/analysis/inject_faults_matrix.sh OUT_DIR        (about 25 minutes on 2 CPU cores)
# Writes OUT_DIR/<row>.txt (the tool's table) and OUT_DIR/results.jsonl (every scenario); the runs' work dirs
# go to OUT_DIR/runs. Exits non-zero if a crash-safe row lost or failed anything (the control row may).
set -uo pipefail
OUT=${1:?usage: inject_faults_matrix.sh OUT_DIR}
cd "$(dirname "$0")/../.."
mkdir -p "$OUT"
PYTHON=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CLS=configs/demo/scalenet-swin-mini-d2x_cifar10-mini.py
DET=configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py
SEG=configs/demo/upernet_scalenet-swin-mini-d2x_ade20k-mini.py
# 3 epochs of 2 iterations, validation and a checkpoint after each, the newest kept; resume is exact here
CLS_OPTIONS=(train_dataloader.dataset.indices=64 val_dataloader.dataset.indices=32 train_cfg.max_epochs=3
             train_cfg.val_interval=1 default_hooks.checkpoint.interval=1 default_hooks.checkpoint.max_keep_ckpts=1
             randomness.seed=0 randomness.deterministic=True model.backbone.trainable=adapters_norms)
# 6 iterations, a checkpoint every 2 (the newest kept), validation at the end
ITER_OPTIONS=(train_cfg.max_iters=6 train_cfg.val_interval=6 default_hooks.checkpoint.interval=2
              default_hooks.checkpoint.max_keep_ckpts=1 'param_scheduler=[]' randomness.seed=0)
failed=0

row() {  # row NAME CONFIG [inject_faults.py arguments...] -- OPTIONS...
  local name=$1 config=$2; shift 2
  local args=() options=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done; shift
  options=("$@")
  echo "== $name"
  "$PYTHON" tools/analysis/inject_faults.py "$config" --work-dir "$OUT/runs/$name" "${args[@]}" \
      --out "$OUT/results.jsonl" --cfg-options "${options[@]}" > "$OUT/$name.stdout" 2> "$OUT/$name.stderr"
  local status=$?
  sed -n '/^| scenario/,$p' "$OUT/$name.stdout" | tee "$OUT/$name.txt"
  if [ $status -ne 0 ] && [ "${name#control}" = "$name" ]; then failed=1; fi
}

row cls-1proc $CLS --faults checkpoint_write:1 checkpoint_write:2 checkpoint_write:3 between_iterations:1 \
    between_iterations:2 between_iterations:3 between_iterations:4 between_iterations:5 validation:1 validation:2 \
    validation:3 disk_full:1 disk_full:2 disk_full:3 --random-kills 10 --kill-min 5 --kill-max 14 -- "${CLS_OPTIONS[@]}"
row cls-2proc $CLS --nproc 2 --port 29517 --faults checkpoint_write:2 between_iterations:3 validation:2 \
    disk_full:2 --random-kills 4 --kill-min 6 --kill-max 18 -- "${CLS_OPTIONS[@]}"
row det-mmdet-tool $DET --train-tool mmdet --faults checkpoint_write:1 checkpoint_write:2 between_iterations:3 \
    validation:1 disk_full:2 --random-kills 3 --kill-min 6 --kill-max 16 -- "${ITER_OPTIONS[@]}"
row seg-mmseg-tool $SEG --train-tool mmseg --faults checkpoint_write:1 checkpoint_write:2 between_iterations:3 \
    validation:1 disk_full:2 --random-kills 3 --kill-min 6 --kill-max 16 -- "${ITER_OPTIONS[@]}" 'custom_hooks=[]'
row control-mmengine-hook $CLS --checkpoint-hook mmengine --faults checkpoint_write:2 checkpoint_write:3 \
    disk_full:2 --random-kills 4 --kill-min 5 --kill-max 14 -- "${CLS_OPTIONS[@]}"
exit $failed
