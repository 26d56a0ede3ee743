# fota-edge: two commands matter. `make dev` runs the service locally; `make test` runs every test.
# Pinned tools are installed into $(TOOLS) (a versioned cache outside the repo) and node_modules/
# (gitignored), each step skipped when the right version is already there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8787
STATE_DIR ?= .wrangler/state
UDP_LISTEN ?= 127.0.0.1:2234
UDP_CACHE ?= .wrangler/fota-udp-cache
TOOLS ?= $(HOME)/.cache/fota-edge/tools

WORKER_BUILD_VERSION := 0.8.7
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
WORKER_BUILD := $(TOOLS)/worker-build-$(WORKER_BUILD_VERSION)/bin/worker-build
WASM_BINDGEN := $(TOOLS)/wasm-bindgen-$(WASM_BINDGEN_VERSION)/bin/wasm-bindgen
WRANGLER := $(CURDIR)/node_modules/.bin/wrangler

# Quiet, offline wrangler (see ../shared/docs/toolchain.md).
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_LOG_PATH := $(CURDIR)/.wrangler/logs

.PHONY: help tools build dev test check migrate bench udp deploy clean

help:
	@echo "make dev     build, migrate, seed a demo project, run wrangler dev on 127.0.0.1:$(PORT)"
	@echo "make test    run every test (shared, tui, and integration tests against wrangler dev)"
	@echo "make check   rustfmt --check and clippy -D warnings (native crates, and the Worker on wasm32)"
	@echo "make bench   every performance figure beside its goal (checks, burst, images, size, 1M fleet, UDP, cost)"
	@echo "make udp     run the UDP upgrade bridge (fota-udp) on $(UDP_LISTEN) against the edge of make dev"
	@echo "make deploy  build and deploy to Cloudflare (see README)"

$(WORKER_BUILD):
	cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked --root $(TOOLS)/worker-build-$(WORKER_BUILD_VERSION)

# --locked fails against the registry mirror (a pinned dependency is missing); see toolchain.md.
$(WASM_BINDGEN):
	cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS)/wasm-bindgen-$(WASM_BINDGEN_VERSION)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

tools: $(WORKER_BUILD) $(WASM_BINDGEN) node_modules/.installed
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# The Worker is rebuilt only when its sources change, so a second `make dev` starts in seconds.
EDGE_SOURCES := $(shell find edge/src shared/src -name "*.rs") edge/openapi.json edge/Cargo.toml shared/Cargo.toml Cargo.toml Cargo.lock scripts/wasm-opt.sh
SHIM := edge/build/worker/shim.mjs

$(SHIM): $(EDGE_SOURCES) | tools
	cd edge && WASM_BINDGEN_BIN=$(WASM_BINDGEN) WASM_OPT_BIN=$(CURDIR)/scripts/wasm-opt.sh \
	  ESBUILD_BIN=$(CURDIR)/node_modules/.bin/esbuild $(WORKER_BUILD) --release
	mkdir -p edge/build/assets && cp edge/openapi.json edge/build/assets/openapi.json
	touch $@

build: tools $(SHIM)

migrate: node_modules/.installed
	CI=true $(WRANGLER) d1 migrations apply DB --local --persist-to $(STATE_DIR)

dev: build
	PORT=$(PORT) STATE_DIR=$(STATE_DIR) WRANGLER=$(WRANGLER) scripts/dev.sh

test: build
	cargo test --workspace --exclude fota-edge --no-fail-fast

# The tree checks itself (CI runs this before the tests): formatting, and clippy with warnings as
# errors on every native crate and target, and on the Worker for the target it is built for.
check:
	cargo fmt --all --check
	cargo clippy --workspace --exclude fota-edge --all-targets -- -D warnings
	cargo clippy -p fota-edge --target wasm32-unknown-unknown -- -D warnings

# Every figure of the scale work in one run, each beside its goal: checks, steady-state D1 calls
# and the release burst (run.sh), images (images.sh), wasm size (size.sh), the 1M-device fleet
# queries (fleet.sh), the UDP bridge (udp.sh) and the cost per check with the monthly bill at
# 10M devices (cost.sh, about half an hour; it regenerates docs/scale.md).
bench: build
	WRANGLER=$(WRANGLER) bench/run.sh
	WRANGLER=$(WRANGLER) bench/images.sh
	bench/size.sh
	WRANGLER=$(WRANGLER) bench/fleet.sh
	bench/udp.sh
	WRANGLER=$(WRANGLER) bench/cost.sh

# The UDP bridge for the Luat guide's chunked protocol, against `make dev` (start that first).
udp:
	cargo run -p fota-gateway --bin fota-udp -- --edge http://127.0.0.1:$(PORT) --listen $(UDP_LISTEN) \
	  --map gateway/map.example.toml --cache-dir $(UDP_CACHE)

deploy: build
	CI=true $(WRANGLER) d1 migrations apply DB --remote
	$(WRANGLER) deploy

clean:
	rm -rf edge/build target
