# tether — one entry point for setup, code generation, build, tests and benchmarks.
SHELL := /bin/bash
NODE_BIN := $(CURDIR)/node_modules/.bin
# The project's Node (scripts/setup.sh installs it from the npm registry) comes first.
export PATH := $(CURDIR)/.tools/node/bin:$(NODE_BIN):$(PATH)

.PHONY: setup deps proto proto-check tool-schemas build typecheck lint test demo bench image

# System packages (apt-get when root) and npm packages; idempotent.
setup:
	./scripts/setup.sh

deps:
	./scripts/setup.sh --npm-only

proto: deps
	buf lint
	rm -rf gen
	buf generate

# The strict JSON schemas the default tools offer the model, generated from their zod schemas
# (services/agent-server/tools/tool-parameters.gen.ts; tool-parameters.test.ts fails on drift).
tool-schemas: deps
	node scripts/gen-tool-schemas.mjs

# Fails when gen/ differs from what `make proto` would write.
proto-check: deps
	./scripts/proto-check.sh

build: deps
	node scripts/build.mjs

typecheck: deps
	tsc -p tsconfig.json --noEmit

# typescript-eslint with type information (floating promises, unused code); eslint.config.mjs.
lint: deps
	eslint .

test: setup
	./scripts/test.sh $(ARGS)

demo: setup build
	./scripts/demo.sh

bench: setup build
	node dist/bench/run.js $(ARGS)

image: setup build
	./scripts/build-image.sh
