#!/usr/bin/env bash
# The backbone benchmark on a GPU, in order of what the goals need, each step's output saved to a file:
#   1. eager, every pair and pass, at seg (8x512x512), det (2x800x1216) and cls (32x224x224), bf16 and fp32;
#   2. torch.compile (inductor) forward, ours vs mmdet's Swin and ScaleNet-2x vs untied, seg and det, bf16;
#   3. where the forward time goes (torch profiler, kernel time), seg, bf16;
#   4. compiled train step, ScaleNet-2x vs untied, seg, bf16;
#   5. compiled forward at fp32.
#
#   bash tools/analysis/device_benchmark.sh [OUT_DIR]     (default work_dirs/speed_gpu)
#
# BUDGET_S: seconds after which no further comparison starts (a leased machine; default: no limit).
# QUICK=1: the same steps on the CPU at 1x3x64x64 with the aot_eager backend, to check the script itself.
# A machine with only torch: pure-Python wheels in .whl/ (mmengine, mmcv-lite, mmdet, addict, termcolor,
# yapf, platformdirs) are installed to /tmp/site first; mmdet's Swin then runs from its own files without
# mmcv's compiled ops (scalenet_mm.analysis.benchmark_models.import_mmdet_swin).
set -euo pipefail
OUT_DIR=${1:-work_dirs/speed_gpu}
mkdir -p "$OUT_DIR"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
START=$(date +%s)
left() { echo $(( ${BUDGET_S:-1000000} - ($(date +%s) - START) )); }

if [ "${QUICK:-0}" = 1 ]; then
  COMMON=(--device cpu --quick --threads 1 --compile-backend aot_eager)
  SEG=(1x64x64) DET=(1x64x96) ALL=(1x64x64) REPEATS=(--repeats 1) PROFILE=(--device cpu --threads 1 --size 64 64)
else
  COMMON=(--device cuda)
  SEG=(seg) DET=(det) ALL=(seg det cls) REPEATS=(--repeats 20) PROFILE=(--device cuda --size 512 512 --batch 8)
fi
bench() {
  local name=$1
  shift
  python3 tools/analysis/benchmark_backbone.py "${COMMON[@]}" --budget "$(left)" "$@" 2>&1 \
    | grep -v -e 'Fail to import ``MultiScaleDeformableAttention``' -e "warnings.warn('Fail to import" \
    | tee "$OUT_DIR/$name.txt"
}

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi'
  python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
                                        torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA")'
  python3 -m pip list 2>/dev/null | grep -i -E '^(mmengine|mmcv|mmdet|triton) ' || true
  [ -d /tmp/site ] && ls /tmp/site | grep dist-info || true
} 2>&1 | tee "$OUT_DIR/machine.txt"

bench 1_eager --modes eager --inputs "${ALL[@]}" --dtypes bf16 fp32 "${REPEATS[@]}"
bench 2_compile_forward_bf16 --modes eager compile --passes forward --inputs "${SEG[@]}" "${DET[@]}" --dtypes bf16
python3 tools/analysis/profile_backbone.py "${PROFILE[@]}" --dtype bf16 --models ours reference scalenet untied 2>&1 \
  | grep -v -e 'MultiScaleDeformableAttention' | tee "$OUT_DIR/3_profile_bf16.txt"
bench 4_compile_train_bf16 --modes eager compile --passes train --pairs untied --inputs "${SEG[@]}" --dtypes bf16
bench 5_compile_forward_fp32 --modes eager compile --passes forward --inputs "${SEG[@]}" "${DET[@]}" --dtypes fp32
