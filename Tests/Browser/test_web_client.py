"""The web client in a real browser: headless Chromium driven by Selenium,
against `chatroom serve` started here (the debug build, or CHATROOM_BIN)."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

REPO = pathlib.Path(__file__).resolve().parents[2]
# How long any one wait may last before the test is called hung. Not a speed
# requirement: no step has a deadline of its own, so a slow or busy machine passes.
HANG_GUARD = 300
# Cheap password hashing for the server these tests start (PasswordHasher's
# test-only variable); full strength is covered by PasswordStrengthTests.
TEST_PASSWORD_ITERATIONS = "1000"
BINARY = os.environ.get("CHATROOM_BIN", str(REPO / ".build" / "debug" / "chatroom"))
# The README's picture (docs/screenshot-chat.png) is a copy of this one.
SCREENSHOT = REPO / ".build" / "browser" / "screenshot-chat.png"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self):
        self.port = free_port()
        self.data = tempfile.mkdtemp(prefix="chatroom-browser-")
        self.process = None

    def start(self):
        environment = dict(os.environ, CHATROOM_TEST_PASSWORD_ITERATIONS=TEST_PASSWORD_ITERATIONS)
        environment.pop("CHAT_JWT_SECRET", None)
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), "--data-dir", self.data, "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        started = time.monotonic()
        # However long it takes, unless the process dies first.
        while self.process.poll() is None and time.monotonic() - started < HANG_GUARD:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"chatroom serve did not start (exit status {self.process.poll()})")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=HANG_GUARD)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
def server():
    running = Server()
    running.start()
    yield running
    running.stop()
    shutil.rmtree(running.data, ignore_errors=True)


def browser(width=1200, height=900):
    options = webdriver.ChromeOptions()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument(f"--window-size={width},{height}")
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(candidate):
            options.binary_location = candidate
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def wait(driver, condition):
    return WebDriverWait(driver, HANG_GUARD).until(condition)


def texts(driver, selector):
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, selector)]


def register_and_login(driver, url, email, username, room):
    driver.get(url)
    wait(driver, EC.visibility_of_element_located((By.ID, "register-email")))
    driver.find_element(By.ID, "register-email").send_keys(email)
    driver.find_element(By.ID, "register-username").send_keys(username)
    driver.find_element(By.ID, "register-password").send_keys("correct horse battery")
    driver.find_element(By.CSS_SELECTOR, "#register-form button").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "auth-notice"), "Registered"))
    room_field = driver.find_element(By.ID, "login-room")
    room_field.clear()
    room_field.send_keys(room)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))


def say(driver, text):
    box = driver.find_element(By.ID, "message-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def messages(driver):
    return texts(driver, "#messages li[data-id] .text")


def test_two_members_chat_and_a_third_room_sees_nothing(server):
    alice, bob, carol = browser(), browser(390, 844), browser()
    try:
        register_and_login(alice, server.url, "alice@example.com", "alice", "lobby")
        register_and_login(bob, server.url, "bob@example.com", "bob", "lobby")
        wait(alice, lambda d: any("bob joined" in t for t in texts(d, "#messages li.presence")))
        wait(alice, lambda d: "bob" in texts(d, "#members li"))
        assert "alice (you)" in texts(alice, "#members li")

        # Enter sends; Shift+Enter makes a new line.
        box = alice.find_element(By.ID, "message-input")
        box.send_keys("hi bob")
        box.send_keys(Keys.SHIFT, Keys.ENTER)
        box.send_keys("second line")
        box.send_keys(Keys.ENTER)
        wait(bob, lambda d: "hi bob\nsecond line" in messages(d))
        wait(alice, lambda d: alice.find_elements(By.CSS_SELECTOR, "#messages li.mine[data-id]"))
        assert "alice (you)" in alice.find_element(By.CSS_SELECTOR, "#messages li.mine .meta").text

        # Text is text: markup in a message is shown, never run.
        xss = "<img src=x onerror=alert(1)>"
        say(bob, xss)
        wait(alice, lambda d: xss in messages(d))
        assert alice.find_elements(By.CSS_SELECTOR, "#messages img") == []
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        alice.save_screenshot(str(SCREENSHOT))

        # A reload keeps the session (sessionStorage) and shows the history.
        bob.refresh()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))
        wait(bob, lambda d: messages(d) == ["hi bob\nsecond line", xss])
        assert "token=" not in bob.current_url

        # Another room sees none of it.
        register_and_login(carol, server.url, "carol@example.com", "carol", "elsewhere")
        time.sleep(1)
        assert messages(carol) == []
        assert texts(carol, "#members li") == ["carol (you)"]

        # Errors from the contract are shown plainly.
        say(alice, "x" * 4097)
        wait(alice, EC.text_to_be_present_in_element((By.ID, "chat-error"), "too long"))

        # Bob leaves: Alice sees it.
        bob.find_element(By.ID, "logout").click()
        wait(alice, lambda d: any("bob left" in t for t in texts(d, "#messages li.presence")))
        wait(alice, lambda d: "bob" not in texts(d, "#members li"))
    finally:
        for driver in (alice, bob, carol):
            driver.quit()


def test_the_page_reconnects_after_a_server_restart_and_loses_nothing(server):
    alice, bob = browser(), browser()
    try:
        register_and_login(alice, server.url, "alice@example.com", "alice", "lobby")
        register_and_login(bob, server.url, "bob@example.com", "bob", "lobby")
        say(alice, "before the restart")
        wait(bob, lambda d: "before the restart" in messages(d))

        server.stop()
        wait(alice, lambda d: "offline" in d.find_element(By.ID, "connection-state").text or
             "reconnecting" in d.find_element(By.ID, "connection-state").text)
        # Typed while the server is down: kept, and sent once it is back.
        say(alice, "typed while offline")
        server.start()

        wait(alice, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))
        wait(bob, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))
        wait(bob, lambda d: "typed while offline" in messages(d))
        say(bob, "after the restart")
        wait(alice, lambda d: "after the restart" in messages(d))
        time.sleep(1)
        for driver in (alice, bob):
            seen = messages(driver)
            assert seen.count("typed while offline") == 1
            assert seen.count("before the restart") == 1
        assert alice.find_elements(By.CSS_SELECTOR, "#messages li.pending") == []
    finally:
        for driver in (alice, bob):
            driver.quit()


def test_a_wrong_password_is_said_plainly(server):
    driver = browser()
    try:
        register_and_login(driver, server.url, "dora@example.com", "dora", "lobby")
        driver.find_element(By.ID, "logout").click()
        wait(driver, EC.visibility_of_element_located((By.ID, "login-email")))
        driver.find_element(By.ID, "login-email").clear()
        driver.find_element(By.ID, "login-email").send_keys("dora@example.com")
        driver.find_element(By.ID, "login-password").send_keys("wrong password")
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait(driver, EC.text_to_be_present_in_element((By.ID, "login-error"), "Wrong email or password"))
        driver.find_element(By.ID, "register-email").send_keys("dora@example.com")
        driver.find_element(By.ID, "register-username").send_keys("dora again")
        driver.find_element(By.ID, "register-password").send_keys("whatever123")
        driver.find_element(By.CSS_SELECTOR, "#register-form button").click()
        wait(driver, EC.text_to_be_present_in_element((By.ID, "register-error"), "already registered"))
    finally:
        driver.quit()
