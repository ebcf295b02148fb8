# make demo: set up and train a short Fashion-MNIST session (under 10 minutes on a 2-core CPU).
# make test: set up and run the test suite; make test-fast: its fast tier (under a minute).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements
FASHION_MNIST := train-images-idx3-ubyte.gz

.PHONY: demo test test-fast bench fashion-mnist xvfb clean-venv

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $(STAMP)

# Fashion-MNIST from Debian's package when it is nowhere the loader looks (needs root and apt-get).
fashion-mnist:
	@if [ -f data/fashion_mnist/$(FASHION_MNIST) ] || [ -f $$HOME/.keras/datasets/fashion-mnist/$(FASHION_MNIST) ] \
	    || [ -f /usr/share/datasets/fashion-mnist/$(FASHION_MNIST) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's dataset-fashion-mnist ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else \
	    echo "Fashion-MNIST not found: put $(FASHION_MNIST) into data/fashion_mnist/ (or run as root on Debian:" \
	         "apt-get install dataset-fashion-mnist); the training script will otherwise try Keras' download."; \
	fi

# The desktop app's GUI test draws on a virtual X display.
xvfb:
	@command -v Xvfb >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    echo "Installing Debian's xvfb ..." && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb >/dev/null; } || \
	    { echo "Xvfb is missing: install it (Debian: apt-get install xvfb)."; exit 1; }

# The 15 slowest tests are listed at the end, to see where the time goes.
# Two workers, each test file on one: most tests wait on a script's TensorFlow import (single-threaded,
# ~5 s), which the other worker's test overlaps; a file's session fixtures are built once.
test: $(STAMP) fashion-mnist xvfb
	$(PY) -m pytest -n 2 --dist loadfile --durations=15

# Under a minute: everything but whole training runs and subprocess faults.
test-fast: $(STAMP) fashion-mnist
	$(PY) -m pytest -m "not slow" -q

# 1.2 epochs of images (1124 steps of 64) as 4 short epochs of 18000 images: progress.gif gets 4 frames.
# 2 min on 2 cores in bfloat16 at ~750 img/s (precision: auto on a CPU that has it), 7-14 min in float32.
demo: $(STAMP) fashion-mnist
	@last=$$(ls -d checkpoints/training_* 2>/dev/null | sed 's/.*training_//' | sort -n | tail -1); \
	session=$$(( $${last:-0} + 1 )); \
	echo "Training demo session $$session into checkpoints/training_$$session/ ..."; \
	$(PY) DCGAN_train.py $$session 4 --set max_images=18000 && \
	echo "Sample grids: checkpoints/training_$$session/images/  animation: checkpoints/training_$$session/progress.gif"

# Benchmarks (minutes, not part of the tests): one summary line each; figures in bench/README.md.
bench: $(STAMP) fashion-mnist
	$(PY) bench/bench.py all

clean-venv:
	rm -rf $(VENV)
