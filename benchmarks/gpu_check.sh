#!/usr/bin/env bash
# The GPU checks of docs/speed.md in one go, on a machine with a CUDA GPU:
#   bash benchmarks/gpu_check.sh            # ~10 minutes on one recent GPU
# 1. benchmarks/speed.py --device cuda: reference vs default (auto = bf16 where supported)
#    vs pinned fp32 vs the frozen-encoder cache, bert-base-sized and MiniLM, plus compile;
# 2. benchmarks/train_precisions.py: short `mmib train` runs of the demo in fp32, bf16,
#    fp16 (GradScaler) and bf16 + torch.compile.
# Both print one table each and write JSON + Markdown under benchmarks/results/ (the GPU
# name is in every file). No test needs a GPU; this script is the GPU check.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("benchmarks/gpu_check.sh: torch sees no CUDA device (torch %s); install a CUDA build of torch" % torch.__version__)
print("GPU:", torch.cuda.get_device_name(), "| bf16:", torch.cuda.is_bf16_supported(), "| torch", torch.__version__)
PYEOF
"$PY" benchmarks/speed.py --device cuda --encoders bert-base-config minilm \
    --paths reference default default-fp32 cached cached-fp32 default-compile --steps 8 --warmup 3 --tag gpu
"$PY" benchmarks/train_precisions.py --device cuda --variants fp32 bf16 fp16 bf16+compile --epochs 2
