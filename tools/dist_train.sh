#!/usr/bin/env bash
# tools/dist_train.sh CONFIG GPUS [train.py args]: one node, GPUS processes through torchrun.
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as for mmdet/mmseg.
CONFIG=$1
GPUS=$2
case "$GPUS" in
    '' | *[!0-9]* | 0)
        echo "usage: $0 CONFIG GPUS [train.py args]: GPUS must be a positive number of processes, got '$GPUS'" >&2
        exit 2 ;;
esac
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
"${PYTHON:-python}" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
