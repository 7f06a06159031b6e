# Shortcuts. The README's two commands are `swift run chatroom serve` and `scripts/test`.
SWIFT_SDK ?=
SDK_FLAG := $(if $(SWIFT_SDK),--swift-sdk $(SWIFT_SDK),--static-swift-stdlib)
LAMBDA_BUILD := .build/lambda

.PHONY: run test lambda-zip bench

run:
	swift run chatroom serve

test:
	scripts/test

# The standard benchmark set (BENCHMARKS.md); never part of the tests.
bench:
	scripts/bench

# The one Lambda binary, zipped as deploy/template.yaml expects it.
# On this machine: a static-stdlib build for the host. For AWS (arm64,
# provided.al2023) build with the static Linux SDK: make lambda-zip SWIFT_SDK=aarch64-swift-linux-musl
lambda-zip:
	swift build -c release --product bootstrap $(SDK_FLAG) --scratch-path .build-release
	mkdir -p $(LAMBDA_BUILD)
	cp "$$(swift build -c release --product bootstrap $(SDK_FLAG) --scratch-path .build-release --show-bin-path)/bootstrap" $(LAMBDA_BUILD)/bootstrap
	strip $(LAMBDA_BUILD)/bootstrap || true
	cd $(LAMBDA_BUILD) && rm -f bootstrap.zip && python3 -c 'import zipfile; z = zipfile.ZipFile("bootstrap.zip", "w", zipfile.ZIP_DEFLATED); i = zipfile.ZipInfo("bootstrap"); i.external_attr = 0o755 << 16; i.compress_type = zipfile.ZIP_DEFLATED; z.writestr(i, open("bootstrap", "rb").read()); z.close()'
	ls -l $(LAMBDA_BUILD)/bootstrap $(LAMBDA_BUILD)/bootstrap.zip
