#!/bin/sh
# Testbed training and eval speed on one CUDA GPU (issue 20): bench/train_throughput.py in
# about 3 minutes, its table printed and saved as $OUT/train_throughput.txt.
#
# Run from the repository root on a bare H200 machine whose python3 has torch and
# transformers, with the redraft dependencies it lacks carried as wheels in .whl/ (the
# bench imports redraft.agent, which imports langgraph and pydantic; chess is not reached).
# Wheels needed (py3.12, manylinux x86-64; the lead's /work/main/.whl holds these):
#   pydantic pydantic_core annotated_types typing_inspection typing_extensions
#   langgraph langgraph_checkpoint langgraph_prebuilt langgraph_sdk
#   langchain_core langchain_protocol langsmith jsonpatch jsonpointer orjson ormsgpack
#   requests_toolbelt uuid_utils zstandard websockets httpx2 httpcore2 sniffio distro
#   tenacity
# (numpy, rich, pyyaml, xxhash, psutil, httpx, anyio, requests, tokenizers, safetensors
# are in the GPU image already.)
#
#   run(command="sh bench/gpu_testbed.sh", carry=[".whl"], timeout_s=300)
set -e
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
# The folders install as redraft.agent/tools/evals: a shim gives the same import names.
mkdir -p /tmp/rd/redraft
for p in agent tools evals; do ln -sfn "$PWD/$p" "/tmp/rd/redraft/$p"; done
export PYTHONPATH="/tmp/rd${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
timeout 200 python3 bench/train_throughput.py --device cuda --sizes medium --quick \
    2>&1 | tee "$OUT/train_throughput.txt"
