#!/usr/bin/env bash
# GPU check: on a Linux machine with an NVIDIA GPU and this project cloned, run
#     bash bench/gpu_check.sh
# It installs tensorflow[and-cuda] into the project's .venv, confirms TensorFlow sees the GPU, runs
# the fast tests, and times training at 28x28 (Fashion-MNIST's networks) and 64x64 (the folder
# config's) in float32, mixed_float16 and with jit_compile, one `gpu ...` line each. About 5 minutes
# on one modern GPU after the download. Everything it writes stays in the checkout: the venv and
# bench/.gpu-check/ (random images, sessions, caches), which it removes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=bench/.gpu-check
PY=.venv/bin/python
TF_VERSION=$(sed -n 's/^tensorflow==//p' requirements.txt)

make .venv/.installed-requirements
.venv/bin/pip install --quiet "tensorflow[and-cuda]==${TF_VERSION}"
$PY -c "import tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); \
print('gpu devices', [g.name for g in gpus]); assert gpus, 'TensorFlow sees no GPU: check the driver (nvidia-smi)'"
make test-fast

rm -rf "$WORK" && mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
# Random images: the content does not change a step's time, and nothing is downloaded.
$PY - "$WORK/images" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
folder = Path(sys.argv[1]); folder.mkdir()
rng = np.random.default_rng(0)
for i in range(6400):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
EOF

# Epoch 1 traces and compiles; epoch 2's images/s is the steady state.
n=0
for size in 28 64; do
  config=configs/fashion_mnist.yaml; channels=1
  [ "$size" = 64 ] && config=configs/image_folder_64.yaml && channels=3
  for mode in float32 mixed_float16 jit_compile; do
    n=$((n + 1))
    precision=$mode; jit=false
    [ "$mode" = jit_compile ] && precision=float32 && jit=true
    $PY DCGAN_train.py "$n" 2 --config "$config" --data "$WORK/images" --checkpoint-root "$WORK/ck" \
      --set dataset=folder --set image_size="$size" --set channels="$channels" --set precision="$precision" \
      --set jit_compile="$jit" --set cache_dir="$WORK/cache" --set augment=none > "$WORK/train_$n.log"
    $PY - "$WORK/ck/training_$n/events.jsonl" "$size" "$mode" <<'EOF'
import json, sys
epochs = [e for e in map(json.loads, open(sys.argv[1])) if e.get("event") == "epoch"]
print(f"gpu size={sys.argv[2]} mode={sys.argv[3]} images_per_sec={epochs[-1]['images_per_sec']:.0f} "
      f"first_epoch_s={epochs[0]['seconds']:.1f}")
EOF
  done
done
