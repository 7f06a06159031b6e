# Shortcuts. The README's two commands are `swift run chatroom serve` and `scripts/test`.
.PHONY: run test bench lambda-bootstrap lambda-zip

run:
	swift run chatroom serve

test:
	scripts/test

# The standard benchmark set (BENCHMARKS.md); never part of the tests.
bench:
	scripts/bench

# ---------------------------------------------------------------- Lambda
# The one bootstrap binary behind all sixteen functions, for the CPU the template's
# `Architecture` names (arm64 unless overridden: make lambda-zip LAMBDA_ARCH=x86_64).
# Built fully static with the Swift static Linux SDK (musl), so it runs on
# provided.al2023 whatever glibc the build machine has; README, "On AWS", installs it.
# BOOTSTRAP=path packages a binary built elsewhere (a container, CI) instead.
# Either way scripts/lambda-check reads the ELF header first: a binary for the
# wrong CPU is refused, never zipped.
LAMBDA_ARCH ?= $(shell scripts/lambda-check --print-architecture)
LAMBDA_SDK ?= $(if $(filter arm64,$(LAMBDA_ARCH)),aarch64,x86_64)-swift-linux-musl
BOOTSTRAP ?=
LAMBDA_BUILD := .build/lambda
LAMBDA_SWIFT_BUILD = swift build -c release --product bootstrap --swift-sdk $(LAMBDA_SDK) --scratch-path .build-lambda -Xlinker -s

lambda-bootstrap:
	@mkdir -p $(LAMBDA_BUILD)
	@rm -f $(LAMBDA_BUILD)/bootstrap $(LAMBDA_BUILD)/bootstrap.zip $(LAMBDA_BUILD)/bootstrap.unchecked
ifeq ($(BOOTSTRAP),)
	@$(LAMBDA_SWIFT_BUILD) --show-bin-path >/dev/null 2>&1 || { \
	  echo "No Swift SDK '$(LAMBDA_SDK)' here, so no $(LAMBDA_ARCH) bootstrap can be built." >&2; \
	  echo "Install the static Linux SDK (README, \"On AWS\"), or build in a container and run" >&2; \
	  echo "  make lambda-zip BOOTSTRAP=path/to/bootstrap" >&2; exit 1; }
	$(LAMBDA_SWIFT_BUILD)
	cp "$$($(LAMBDA_SWIFT_BUILD) --show-bin-path)/bootstrap" $(LAMBDA_BUILD)/bootstrap.unchecked
else
	cp "$(BOOTSTRAP)" $(LAMBDA_BUILD)/bootstrap.unchecked
endif
	chmod 755 $(LAMBDA_BUILD)/bootstrap.unchecked
	scripts/lambda-check $(LAMBDA_BUILD)/bootstrap.unchecked --architecture $(LAMBDA_ARCH)
	mv $(LAMBDA_BUILD)/bootstrap.unchecked $(LAMBDA_BUILD)/bootstrap

# The zip for a hand-made deployment (sam build does not need it).
lambda-zip: lambda-bootstrap
	cd $(LAMBDA_BUILD) && rm -f bootstrap.zip && python3 -c 'import zipfile; z = zipfile.ZipFile("bootstrap.zip", "w", zipfile.ZIP_DEFLATED); i = zipfile.ZipInfo("bootstrap"); i.external_attr = 0o755 << 16; i.compress_type = zipfile.ZIP_DEFLATED; z.writestr(i, open("bootstrap", "rb").read()); z.close()'
	scripts/lambda-check $(LAMBDA_BUILD)/bootstrap.zip --architecture $(LAMBDA_ARCH)
	ls -l $(LAMBDA_BUILD)/bootstrap $(LAMBDA_BUILD)/bootstrap.zip

# `sam build` (BuildMethod: makefile, one target per function): the same checked
# binary, copied where SAM packages each function from.
build-%Function: lambda-bootstrap
	cp $(LAMBDA_BUILD)/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
