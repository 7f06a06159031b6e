"""The page's chat-room features of PROTOCOL.md §2c in a real browser: typing,
editing and deleting your own messages, reactions, and unread counts. Two
headless Chromium windows side by side (one phone-sized) against `chatroom serve`."""
import pathlib
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_web_client import browser, messages, register_and_login, say, texts, wait  # noqa: E402
from test_web_client import server  # noqa: E402, F401  (the fixture that starts `chatroom serve`)

# An id of the right shape that no message has.
UNKNOWN_ID = "0000000000001-0000000000000000"


def two_in_the_lobby(server):
    alice, bob = browser(), browser(390, 844)
    register_and_login(alice, server.url, "alice@example.com", "alice", "lobby")
    register_and_login(bob, server.url, "bob@example.com", "bob", "lobby")
    wait(alice, lambda d: "bob" in texts(d, "#members li"))
    return alice, bob


def item(driver, text):
    """The message on the page whose text is `text`."""
    for element in driver.find_elements(By.CSS_SELECTOR, "#messages li[data-id]"):
        if element.find_element(By.CSS_SELECTOR, ".text").text == text:
            return element
    raise AssertionError(f"no message {text!r} on the page: {messages(driver)}")


def typing(driver):
    return driver.find_element(By.ID, "typing").text


def reactions(driver, text):
    """The reaction buttons under the message `text`: [label, highlighted, aria-pressed], sorted."""
    found = driver.execute_script("""
        const item = [...document.querySelectorAll('#messages li[data-id]')]
            .find((li) => li.querySelector('.text').textContent === arguments[0]);
        if (!item) return null;
        return [...item.querySelectorAll('.reactions button.reaction')]
            .map((b) => [b.textContent, b.classList.contains('mine'), b.getAttribute('aria-pressed')]);
    """, text)
    return sorted(found) if found is not None else None


def pick(driver, text, emoji):
    item(driver, text).find_element(By.CSS_SELECTOR, "button.add-reaction").click()
    driver.find_element(By.CSS_SELECTOR, f'#messages .picker button.pick[aria-label="React with {emoji}"]').click()


def chat_error(driver):
    return driver.find_element(By.ID, "chat-error").text


def test_typing_is_shown_to_the_others_not_to_the_typist_and_fades(server):
    alice, bob = two_in_the_lobby(server)
    try:
        box = alice.find_element(By.ID, "message-input")
        box.send_keys("hel")
        wait(bob, lambda d: typing(d) == "alice is typing…")
        assert typing(alice) == ""

        # About 5 s after the last typing frame, without a message, it is gone.
        wait(bob, lambda d: typing(d) == "")

        # Typing again shows it again; her message clears it at once.
        box.send_keys("lo there")
        wait(bob, lambda d: typing(d) == "alice is typing…")
        box.send_keys(Keys.ENTER)
        wait(bob, lambda d: "hello there" in messages(d))
        assert typing(bob) == ""
        assert typing(alice) == ""
    finally:
        for driver in (alice, bob):
            driver.quit()


def test_alice_edits_her_message_and_bob_sees_it_edited_also_after_a_reload(server):
    alice, bob = two_in_the_lobby(server)
    try:
        say(alice, "original text")
        say(bob, "bob's own")
        wait(bob, lambda d: messages(d) == ["original text", "bob's own"])
        wait(alice, lambda d: messages(d) == ["original text", "bob's own"])

        # Edit and delete are offered on your own messages only.
        assert item(bob, "original text").find_elements(By.CSS_SELECTOR, "button.edit, button.delete") == []
        assert len(item(bob, "bob's own").find_elements(By.CSS_SELECTOR, "button.edit, button.delete")) == 2
        assert item(alice, "bob's own").find_elements(By.CSS_SELECTOR, "button.edit, button.delete") == []
        edit = item(alice, "original text").find_element(By.CSS_SELECTOR, "button.edit")
        assert edit.get_attribute("aria-label") == "Edit message"

        # Escape cancels: nothing changes, nothing is sent.
        edit.click()
        box = wait(alice, lambda d: d.find_element(By.CSS_SELECTOR, "#messages .editor textarea"))
        assert box.get_attribute("value") == "original text"
        box.send_keys(" never sent")
        box.send_keys(Keys.ESCAPE)
        wait(alice, lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .editor") == [])
        assert "original text" in messages(alice)

        # Enter saves.
        item(alice, "original text").find_element(By.CSS_SELECTOR, "button.edit").click()
        box = wait(alice, lambda d: d.find_element(By.CSS_SELECTOR, "#messages .editor textarea"))
        box.clear()
        box.send_keys("changed text")
        box.send_keys(Keys.ENTER)
        for driver in (alice, bob):
            wait(driver, lambda d: messages(d) == ["changed text", "bob's own"])
            wait(driver, lambda d: item(d, "changed text").find_elements(By.CSS_SELECTOR, ".edited"))
            assert item(driver, "changed text").find_element(By.CSS_SELECTOR, ".edited").text == "edited"
            assert item(driver, "bob's own").find_elements(By.CSS_SELECTOR, ".edited") == []

        # History carries the edit.
        bob.refresh()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))
        wait(bob, lambda d: messages(d) == ["changed text", "bob's own"])
        assert item(bob, "changed text").find_element(By.CSS_SELECTOR, ".edited").text == "edited"
        assert item(bob, "bob's own").find_elements(By.CSS_SELECTOR, ".edited") == []
    finally:
        for driver in (alice, bob):
            driver.quit()


def test_alice_deletes_her_message_and_bob_sees_the_placeholder(server):
    alice, bob = two_in_the_lobby(server)
    try:
        say(alice, "to be deleted")
        say(alice, "stays")
        wait(bob, lambda d: messages(d) == ["to be deleted", "stays"])
        wait(alice, lambda d: messages(d) == ["to be deleted", "stays"])

        # A lone press only asks, and lapses after a few seconds: nothing is deleted.
        delete = item(alice, "to be deleted").find_element(By.CSS_SELECTOR, "button.delete")
        delete.click()
        wait(alice, lambda d: "Really delete" in delete.text)
        wait(alice, lambda d: delete.text == "Delete")
        assert messages(bob) == ["to be deleted", "stays"]
        assert messages(alice) == ["to be deleted", "stays"]

        # A second press while it asks deletes.
        delete.click()
        wait(alice, lambda d: "Really delete" in delete.text)
        delete.click()
        for driver in (alice, bob):
            wait(driver, lambda d: messages(d) == ["message deleted", "stays"])
            gone = driver.find_element(By.CSS_SELECTOR, "#messages li.deleted[data-id]")
            assert gone.find_elements(By.CSS_SELECTOR, "button, .reactions") == []
            assert len(driver.find_elements(By.CSS_SELECTOR, "#messages li.deleted")) == 1

        # History keeps the tombstone in place.
        bob.refresh()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))
        wait(bob, lambda d: messages(d) == ["message deleted", "stays"])
        gone = bob.find_element(By.CSS_SELECTOR, "#messages li.deleted[data-id]")
        assert gone.find_elements(By.CSS_SELECTOR, "button, .reactions") == []
    finally:
        for driver in (alice, bob):
            driver.quit()


def test_refusals_are_said_plainly(server):
    """A stale page (its message ids rewritten here) meets the server's refusals."""
    alice, bob = two_in_the_lobby(server)
    try:
        say(bob, "bob's words")
        say(alice, "alice's words")
        wait(alice, lambda d: messages(d) == ["bob's words", "alice's words"])
        bobs_id = item(alice, "bob's words").get_attribute("data-id")
        mine = item(alice, "alice's words")

        # Editing someone else's message: forbidden.
        alice.execute_script("arguments[0].dataset.id = arguments[1]", mine, bobs_id)
        mine.find_element(By.CSS_SELECTOR, "button.edit").click()
        box = wait(alice, lambda d: d.find_element(By.CSS_SELECTOR, "#messages .editor textarea"))
        box.clear()
        box.send_keys("hijacked")
        box.send_keys(Keys.ENTER)
        wait(alice, lambda d: "only change your own messages" in chat_error(d))

        # Reacting to a message that is not there: not_found.
        alice.execute_script("arguments[0].dataset.id = arguments[1]", mine, UNKNOWN_ID)
        mine.find_element(By.CSS_SELECTOR, "button.add-reaction").click()
        alice.find_element(By.CSS_SELECTOR, '#messages .picker button.pick[aria-label="React with 👍"]').click()
        wait(alice, lambda d: "no longer there" in chat_error(d))

        time.sleep(1)
        assert messages(bob) == ["bob's words", "alice's words"]
        assert reactions(bob, "alice's words") == []
    finally:
        for driver in (alice, bob):
            driver.quit()


def test_reactions_count_toggle_and_highlight_your_own(server):
    alice, bob = two_in_the_lobby(server)
    try:
        say(alice, "react to me")
        wait(bob, lambda d: "react to me" in messages(d))
        wait(alice, lambda d: "react to me" in messages(d))

        pick(bob, "react to me", "👍")
        wait(alice, lambda d: reactions(d, "react to me") == [["👍 1", False, "false"]])
        wait(bob, lambda d: reactions(d, "react to me") == [["👍 1", True, "true"]])

        # Alice presses the same reaction: two, hers highlighted.
        item(alice, "react to me").find_element(By.CSS_SELECTOR, "button.reaction").click()
        wait(alice, lambda d: reactions(d, "react to me") == [["👍 2", True, "true"]])
        wait(bob, lambda d: reactions(d, "react to me") == [["👍 2", True, "true"]])

        # And again: hers is taken back.
        item(alice, "react to me").find_element(By.CSS_SELECTOR, "button.reaction").click()
        wait(alice, lambda d: reactions(d, "react to me") == [["👍 1", False, "false"]])
        wait(bob, lambda d: reactions(d, "react to me") == [["👍 1", True, "true"]])

        # Any emoji, typed into the picker.
        item(alice, "react to me").find_element(By.CSS_SELECTOR, "button.add-reaction").click()
        field = alice.find_element(By.CSS_SELECTOR, "#messages .picker input.emoji-input")
        field.send_keys("☕")
        field.send_keys(Keys.ENTER)
        wait(bob, lambda d: reactions(d, "react to me") == [["☕ 1", False, "false"], ["👍 1", True, "true"]])
        wait(alice, lambda d: reactions(d, "react to me") == [["☕ 1", True, "true"], ["👍 1", False, "false"]])
        assert alice.find_elements(By.CSS_SELECTOR, "#messages .picker") == []

        # More than one emoji is refused by the page itself; Escape closes the picker.
        item(alice, "react to me").find_element(By.CSS_SELECTOR, "button.add-reaction").click()
        field = alice.find_element(By.CSS_SELECTOR, "#messages .picker input.emoji-input")
        field.send_keys("ab")
        field.send_keys(Keys.ENTER)
        wait(alice, lambda d: "one emoji" in chat_error(d))
        field.send_keys(Keys.ESCAPE)
        wait(alice, lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .picker") == [])

        # History carries the counts; this tab remembers which are Bob's.
        bob.refresh()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))
        wait(bob, lambda d: reactions(d, "react to me") == [["☕ 1", False, "false"], ["👍 1", True, "true"]])
        time.sleep(1)
        assert reactions(alice, "react to me") == [["☕ 1", True, "true"], ["👍 1", False, "false"]]
    finally:
        for driver in (alice, bob):
            driver.quit()


# Bob's window reports no focus until the test gives it (document.hasFocus is
# replaced before the page's script runs), so nothing is read behind his back.
UNFOCUSED = "window.testFocused = false; Document.prototype.hasFocus = function () { return window.testFocused; };"


def log_in(driver, email):
    wait(driver, EC.visibility_of_element_located((By.ID, "login-email")))
    field = driver.find_element(By.ID, "login-email")
    field.clear()
    field.send_keys(email)
    driver.find_element(By.ID, "login-password").send_keys("correct horse battery")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "connection-state"), "connected"))


def unread(driver):
    badge = driver.find_element(By.ID, "unread-count")
    return badge.text if badge.is_displayed() else ""


def after_divider(driver):
    """The text of the message right after the "new messages" line (None without one)."""
    return driver.execute_script("""
        const divider = document.querySelector('#messages li.unread-divider');
        if (!divider) return null;
        if (divider.textContent !== 'new messages') return 'wrong divider text: ' + divider.textContent;
        return divider.nextElementSibling.querySelector('.text').textContent;
    """)


def test_unread_count_and_divider_after_being_away(server):
    alice, bob = browser(), browser(390, 844)
    bob.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": UNFOCUSED})
    try:
        register_and_login(bob, server.url, "bob@example.com", "bob", "lobby")
        assert unread(bob) == ""
        bob.find_element(By.ID, "logout").click()

        register_and_login(alice, server.url, "alice@example.com", "alice", "lobby")
        for text in ("one", "two", "three"):
            say(alice, text)
        wait(alice, lambda d: messages(d) == ["one", "two", "three"])

        log_in(bob, "bob@example.com")
        wait(bob, lambda d: unread(d) == "3 unread")
        wait(bob, lambda d: messages(d) == ["one", "two", "three"])
        assert after_divider(bob) == "one"
        # Not read while the window has no focus.
        time.sleep(2)
        assert unread(bob) == "3 unread"
        # Her own messages are never unread to her.
        assert unread(alice) == ""

        # Focus: the page marks what it shows as read; the line stays where it was.
        bob.execute_script("window.testFocused = true; window.dispatchEvent(new Event('focus'));")
        wait(bob, lambda d: unread(d) == "")
        assert after_divider(bob) == "one"

        # The marker is the server's: away again, two more, the line before the first new one.
        bob.execute_script("window.testFocused = false;")
        bob.find_element(By.ID, "logout").click()
        say(alice, "four")
        say(alice, "five")
        wait(alice, lambda d: messages(d)[-2:] == ["four", "five"])
        log_in(bob, "bob@example.com")
        wait(bob, lambda d: unread(d) == "2 unread")
        wait(bob, lambda d: messages(d) == ["one", "two", "three", "four", "five"])
        assert after_divider(bob) == "four"

        # A message arriving while he looks elsewhere counts too.
        say(alice, "six")
        wait(bob, lambda d: unread(d) == "3 unread")
        bob.execute_script("window.testFocused = true; window.dispatchEvent(new Event('focus'));")
        wait(bob, lambda d: unread(d) == "")
    finally:
        for driver in (alice, bob):
            driver.quit()
