"""The Lambda package refuses a binary for the wrong CPU: scripts/lambda-check
reads the ELF header, `make lambda-zip` and `sam build` run it before anything
is zipped. Driven with the debug bootstrap the test run has built (x86_64 here;
the template's default is arm64)."""
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / ".build" / "debug" / "bootstrap"
HOST = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
OTHER = "arm64" if HOST == "x86_64" else "x86_64"


def run(*command, **environment):
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, SAM_CLI_TELEMETRY="0", **environment))


@pytest.fixture(autouse=True)
def built():
    if not BOOTSTRAP.exists():
        pytest.fail(f"{BOOTSTRAP} is missing: run swift build first (scripts/test does)")


def zip_of(binary, directory):
    path = pathlib.Path(directory) / "bootstrap.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, pathlib.Path(binary).read_bytes())
    return path


def test_a_zip_for_another_cpu_than_the_templates_is_refused():
    assert run("scripts/lambda-check", "--print-architecture").stdout.strip() == "arm64"
    with tempfile.TemporaryDirectory() as directory:
        package = zip_of(BOOTSTRAP, directory)
        checked = run("scripts/lambda-check", str(package), "--architecture", OTHER)
        assert checked.returncode == 1
        assert f"built for {HOST}, but the functions run on {OTHER}" in checked.stderr
        assert run("scripts/lambda-check", str(package), "--architecture", HOST).returncode == 0
        # Not a program at all.
        text = pathlib.Path(directory) / "bootstrap"
        text.write_text("#!/bin/sh\necho hi\n")
        assert "not an ELF file" in run("scripts/lambda-check", str(text), "--architecture", HOST).stderr


def test_make_lambda_zip_refuses_instead_of_zipping_the_wrong_cpu():
    refused = run("make", "lambda-zip", f"BOOTSTRAP={BOOTSTRAP}", f"LAMBDA_ARCH={OTHER}")
    assert refused.returncode != 0
    assert f"the functions run on {OTHER}" in refused.stderr
    assert not (REPO / ".build" / "lambda" / "bootstrap.zip").exists()
    assert not (REPO / ".build" / "lambda" / "bootstrap").exists()

    made = run("make", "lambda-zip", f"BOOTSTRAP={BOOTSTRAP}", f"LAMBDA_ARCH={HOST}")
    assert made.returncode == 0, made.stderr
    assert run("scripts/lambda-check", ".build/lambda/bootstrap.zip", "--architecture", HOST).returncode == 0


def test_make_lambda_zip_without_a_toolchain_for_the_cpu_says_so():
    missing = run("make", "lambda-zip", "LAMBDA_SDK=no-such-sdk")
    assert missing.returncode != 0
    assert "No Swift SDK 'no-such-sdk' here" in missing.stderr


def test_sam_build_from_the_root_builds_every_function_and_refuses_the_wrong_cpu():
    if not shutil.which("sam"):
        pytest.fail("sam is not installed (scripts/test installs aws-sam-cli into .venv)")
    with tempfile.TemporaryDirectory() as directory:
        built = run("sam", "build", "--build-dir", directory, "--parameter-overrides", f"Architecture={HOST}",
                    BOOTSTRAP=str(BOOTSTRAP), LAMBDA_ARCH=HOST)
        assert built.returncode == 0, built.stdout + built.stderr
        functions = sorted(p.name for p in pathlib.Path(directory).iterdir() if p.is_dir())
        assert len(functions) == 16
        for name in functions:
            assert run("scripts/lambda-check", f"{directory}/{name}/bootstrap", "--architecture", HOST).returncode == 0
    with tempfile.TemporaryDirectory() as directory:
        refused = run("sam", "build", "--build-dir", directory, BOOTSTRAP=str(BOOTSTRAP), LAMBDA_ARCH=OTHER)
        assert refused.returncode != 0
        assert f"the functions run on {OTHER}" in refused.stdout + refused.stderr
