"""The web page against the AWS stack: the SAM template deployed into ministack
(scripts/ministack-deploy.sh, the debug `bootstrap` as every function), the page
served from another origin with a config.json naming the stack's endpoints, as
a page on S3 or a CDN would be. Register and login are cross-origin JSON POSTs:
they work only because the HTTP API answers the CORS preflight.

ministack's deviation: it stores the template's CorsConfiguration without applying
it, so the deploy script sets the same configuration again through the API; that
the template asks for it on AWS is checked in Tests/Deploy/test_template.py."""
import functools
import http.server
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_web_client import (  # noqa: E402
    HANG_GUARD, REPO, TEST_PASSWORD_ITERATIONS, browser, free_port, messages, register_and_login, say, texts, wait)

BOOTSTRAP = REPO / ".build" / "debug" / "bootstrap"


class Stack:
    """ministack on a free port with the chat deployed into it."""

    def __init__(self, page_origin):
        self.port = random.randint(20000, 40000)
        self.folder = tempfile.mkdtemp(prefix="chatroom-ministack-")
        environment = dict(os.environ, BIND_HOST="127.0.0.1", GATEWAY_PORT=str(self.port),
                           AWS_ENDPOINT_URL=f"http://127.0.0.1:{self.port}", TMPDIR=self.folder,
                           IOT_MTLS_ENABLED="0", SFTP_ENABLED="0", AWS_ACCESS_KEY_ID="test",
                           AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1", LOG_LEVEL="WARNING")
        environment.pop("AWS_SESSION_TOKEN", None)
        self.emulator = subprocess.Popen(
            [sys.executable, str(REPO / "Tests" / "Support" / "until_stdin_closes.py"), "ministack"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        started = time.monotonic()
        while not self.healthy():
            if self.emulator.poll() is not None or time.monotonic() - started > HANG_GUARD:
                raise RuntimeError("ministack did not start")
            time.sleep(0.2)
        deployed = subprocess.run(
            ["bash", str(REPO / "scripts" / "ministack-deploy.sh")], capture_output=True, text=True,
            env=dict(os.environ, PORT=str(self.port), BOOTSTRAP=str(BOOTSTRAP), ALLOWED_ORIGINS=page_origin,
                     TEST_PASSWORD_ITERATIONS=TEST_PASSWORD_ITERATIONS))
        if deployed.returncode != 0:
            self.stop()
            raise RuntimeError(f"deploy failed: {deployed.stderr}")
        self.outputs = json.loads(deployed.stdout.strip().splitlines()[-1])

    def healthy(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_ministack/health", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    @property
    def http_base(self):
        return f"http://127.0.0.1:{self.port}/_aws/execute-api/{self.outputs['HttpApiId']}"

    @property
    def websocket_url(self):
        return f"ws://127.0.0.1:{self.port}/_aws/execute-api/{self.outputs['WebSocketApiId']}/{self.outputs['StageName']}"

    def stop(self):
        self.emulator.stdin.close()
        self.emulator.wait(timeout=HANG_GUARD)
        shutil.rmtree(self.folder, ignore_errors=True)


class Page:
    """The page's files served by a plain static server, with its config.json."""

    def __init__(self, port, config):
        self.folder = tempfile.mkdtemp(prefix="chatroom-page-")
        shutil.copytree(REPO / "Sources" / "ChatLocalGateway" / "Public", self.folder, dirs_exist_ok=True)
        (pathlib.Path(self.folder) / "config.json").write_text(json.dumps(config))
        handler = functools.partial(Quiet, directory=self.folder)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        shutil.rmtree(self.folder, ignore_errors=True)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def deployment():
    if not BOOTSTRAP.exists():
        pytest.fail(f"{BOOTSTRAP} is missing: run swift build first (scripts/test does)")
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    stack = Stack(origin)
    page = Page(page_port, {"httpBase": stack.http_base, "wsURL": stack.websocket_url})
    yield stack, page, origin
    page.stop()
    stack.stop()


def preflight(url, origin):
    request = urllib.request.Request(url, method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    try:
        with urllib.request.urlopen(request, timeout=HANG_GUARD) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers)


def test_the_http_api_answers_the_pages_preflight_and_no_other_origins(deployment):
    stack, _, origin = deployment
    status, headers = preflight(f"{stack.http_base}/auth/v1/login", origin)
    assert status == 204
    assert headers.get("Access-Control-Allow-Origin") == origin
    assert "POST" in headers.get("Access-Control-Allow-Methods", "")
    assert "content-type" in headers.get("Access-Control-Allow-Headers", "").lower()
    status, headers = preflight(f"{stack.http_base}/auth/v1/login", "https://elsewhere.example")
    assert "Access-Control-Allow-Origin" not in headers


def test_the_page_from_another_origin_registers_logs_in_and_chats(deployment):
    _, page, origin = deployment
    url = f"{origin}/"
    alice, bob = browser(), browser()
    try:
        register_and_login(alice, url, "alice@example.com", "alice", "lobby")
        register_and_login(bob, url, "bob@example.com", "bob", "lobby")
        wait(alice, lambda d: "bob" in texts(d, "#members li"))
        say(alice, "hello from a page on another origin")
        wait(bob, lambda d: "hello from a page on another origin" in messages(d))
        say(bob, "and back through API Gateway")
        wait(alice, lambda d: "and back through API Gateway" in messages(d))
    finally:
        for driver in (alice, bob):
            driver.quit()
