#!/usr/bin/env bash
# The backbone benchmark on a GPU machine that has only torch: carried mmengine wheels (.whl/), then
# Swin-T at 224 (classification), 512x512 (segmentation) and 800x1333 (detection) input sizes.
set -euo pipefail
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 tools/analysis/benchmark_backbone.py --device cuda --size 224 224 --batch 32 --repeats 20 --warmup 5
python3 tools/analysis/benchmark_backbone.py --device cuda --size 512 512 --batch 8 --repeats 20 --warmup 5
python3 tools/analysis/benchmark_backbone.py --device cuda --size 800 1333 --batch 2 --repeats 20 --warmup 5
