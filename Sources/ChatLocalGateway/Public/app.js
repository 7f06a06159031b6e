// The chat page: vanilla JavaScript, no build step. Everything a person types or
// another member sends is put on the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "chatroom.session";
const PENDING_KEY = "chatroom.pending";
const REACTIONS_KEY = "chatroom.reactions"; // "{message id} {emoji}" for reactions made in this tab
const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢"];
const TYPING_EVERY = 2000;  // ms between our typing frames (the server keeps one per 2 s too)
const TYPING_SHOWN = 5000;  // ms a member stays "typing" after their last typing frame
const READ_DELAY = 1000;    // ms of quiet before the page sends markRead
const BASE_TITLE = document.title;

const state = {
  config: { httpBase: location.origin, wsURL: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws` },
  session: null,          // {token, email, username, room, expiresAt}
  socket: null,
  opened: false,          // has the current socket opened?
  everConnected: false,
  attempt: 0,
  reconnectTimer: null,
  expiryTimer: null,
  seen: new Set(),        // message ids on the page
  newestId: null,
  oldestId: null,
  requests: [],           // what each awaited "messages" answer is for, in order
  members: new Map(),     // email -> username
  typers: new Map(),      // email -> {username, timer}: members typing now
  typingSentAt: 0,
  lastRead: null,         // our read marker in this room, as the server last said
  unread: { count: 0, capped: false },
  dividerAfter: null,     // the "new messages" line goes before the first other member's message newer than this id
  dividerPending: false,  // the next "unread" answer places the line
  readTimer: null,
};

// ---------------------------------------------------------------- start

async function start() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) {
      const config = await response.json();
      if (config.httpBase) state.config.httpBase = config.httpBase.replace(/\/$/, "");
      if (config.wsURL) state.config.wsURL = config.wsURL.replace(/\/$/, "");
    }
  } catch { /* defaults: this page's own origin */ }
  $("login-form").addEventListener("submit", onLogin);
  $("register-form").addEventListener("submit", onRegister);
  $("send-form").addEventListener("submit", (event) => { event.preventDefault(); sendFromInput(); });
  $("message-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendFromInput(); }
  });
  $("message-input").addEventListener("input", sendTyping);
  $("logout").addEventListener("click", () => logout());
  $("load-older").addEventListener("click", loadOlder);
  $("unread-count").addEventListener("click", () => $("messages").querySelector("li.unread-divider")?.scrollIntoView({ block: "center" }));
  window.addEventListener("focus", scheduleMarkRead);
  document.addEventListener("visibilitychange", scheduleMarkRead);
  const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  if (saved && saved.expiresAt * 1000 > Date.now()) enterChat(saved); else showAuth();
}

// ---------------------------------------------------------------- auth

const friendly = {
  email_taken: "That email is already registered. Log in instead.",
  invalid_credentials: "Wrong email or password.",
  message_too_long: "That message is too long.",
  rate_limited: "You are sending too fast. Wait a moment.",
  unavailable: "The server is busy. Try again in a moment.",
  unknown_action: "The server did not understand that.",
  forbidden: "You can only change your own messages.",
  not_found: "That message is no longer there: it was deleted or has expired.",
};

// A busy or throttled server (429, 503) says when to try again (Retry-After): the
// page waits that long, up to a minute, and tries again, at most three times.
async function post(path, body, attempt = 0) {
  const response = await fetch(`${state.config.httpBase}${path}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let json = {};
  try { json = await response.json(); } catch { /* no body */ }
  const retryAfter = Number(response.headers.get("Retry-After"));
  if ((response.status === 429 || response.status === 503) && retryAfter > 0 && retryAfter <= 60 && attempt < 3) {
    showNotice(`The server is busy: trying again in ${retryAfter} s.`);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    return post(path, body, attempt + 1);
  }
  return { status: response.status, json };
}

function errorText(json, fallback) {
  const error = json && json.error;
  if (!error) return fallback;
  return friendly[error.code] || error.message || fallback;
}

async function onRegister(event) {
  event.preventDefault();
  const form = event.target;
  $("register-error").textContent = "";
  try {
    const { status, json } = await post("/auth/v1/register", {
      email: form.email.value, username: form.username.value, password: form.password.value,
    });
    if (status === 201) {
      $("login-email").value = json.email;
      $("login-password").value = form.password.value;
      form.reset();
      showNotice("Registered. Choose a room and log in.");
    } else {
      $("register-error").textContent = errorText(json, `Registration failed (${status}).`);
    }
  } catch {
    $("register-error").textContent = "The server cannot be reached.";
  }
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  $("login-error").textContent = "";
  try {
    const { status, json } = await post("/auth/v1/login", {
      email: form.email.value, password: form.password.value, room_id: form.room.value || "lobby",
    });
    if (status === 200) {
      form.password.value = "";
      enterChat({ token: json.token, email: json.email, username: json.username, room: json.room_id, expiresAt: json.expires_at });
    } else {
      $("login-error").textContent = errorText(json, `Login failed (${status}).`);
    }
  } catch {
    $("login-error").textContent = "The server cannot be reached.";
  }
}

function showNotice(text) {
  $("auth-notice").textContent = text;
  $("auth-notice").hidden = !text;
}

function showAuth(notice = "") {
  $("chat").hidden = true;
  $("auth").hidden = false;
  showNotice(notice);
}

function logout(notice = "") {
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  sessionStorage.removeItem(REACTIONS_KEY);
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.expiryTimer);
  clearTimeout(state.readTimer);
  clearTypers();
  setUnread(0, false);
  state.session = null;
  if (state.socket) { const socket = state.socket; state.socket = null; socket.close(1000); }
  showAuth(notice);
}

// ---------------------------------------------------------------- chat

function enterChat(session) {
  state.session = session;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  state.seen.clear(); state.newestId = null; state.oldestId = null; state.everConnected = false;
  state.members.clear();
  clearTypers();
  state.lastRead = null; state.dividerAfter = null; state.dividerPending = false;
  setUnread(0, false);
  $("messages").replaceChildren();
  $("members").replaceChildren();
  $("room-name").textContent = `# ${session.room}`;
  $("me").textContent = `${session.username} (${session.email})`;
  $("auth").hidden = true;
  $("chat").hidden = false;
  $("message-input").focus();
  clearTimeout(state.expiryTimer);
  state.expiryTimer = setTimeout(() => logout("Your session has expired. Please log in again."),
    Math.max(0, session.expiresAt * 1000 - Date.now()));
  for (const item of pending()) renderPending(item);
  connect();
}

function connect() {
  if (!state.session) return;
  if (state.session.expiresAt * 1000 <= Date.now()) { logout("Your session has expired. Please log in again."); return; }
  setConnectionState(state.everConnected ? "reconnecting…" : "connecting…");
  const socket = new WebSocket(`${state.config.wsURL}?token=${encodeURIComponent(state.session.token)}`);
  state.socket = socket;
  state.opened = false;
  socket.onopen = () => {
    if (state.socket !== socket) return;
    state.opened = true;
    state.attempt = 0;
    setConnectionState("connected");
    if (state.newestId) {
      // What changed while we were away: newer messages, and edits, deletions
      // and reactions on the latest ones already shown.
      request({ action: "getMessages", limit: 50 }, "refresh");
      catchUp();
    } else {
      request({ action: "getMessages", limit: 50 }, "initial");
    }
    socket.send(JSON.stringify({ action: "listMembers" }));
    resendPending();
    state.everConnected = true;
  };
  socket.onmessage = (event) => { if (state.socket === socket) onFrame(event.data); };
  socket.onclose = () => {
    if (state.socket !== socket) return;
    state.socket = null;
    state.requests = [];
    clearTypers();
    if (!state.session) return;
    if (state.session.expiresAt * 1000 <= Date.now()) { logout("Your session has expired. Please log in again."); return; }
    // Full jitter: a random wait up to an exponentially growing ceiling.
    const ceiling = Math.min(30000, 500 * 2 ** state.attempt);
    state.attempt += 1;
    const delay = Math.random() * ceiling;
    setConnectionState(`offline — retrying in ${Math.ceil(delay / 1000)} s`);
    state.reconnectTimer = setTimeout(connect, delay);
  };
}

function setConnectionState(text) { $("connection-state").textContent = text; }

function request(frame, purpose) {
  if (!state.socket || !state.opened) return;
  state.requests.push(purpose);
  state.socket.send(JSON.stringify(frame));
}

function catchUp() {
  request({ action: "getMessages", limit: 100, after: state.newestId }, "catch-up");
}

function loadOlder() {
  if (state.oldestId) request({ action: "getMessages", limit: 50, before: state.oldestId }, "older");
}

function onFrame(text) {
  let frame;
  try { frame = JSON.parse(text); } catch { return; }
  switch (frame.type) {
    case "message": onLiveMessage(frame); break;
    case "messages": onHistory(frame); break;
    case "typing": onTyping(frame); break;
    case "message_edited": onEdited(frame); break;
    case "message_deleted": onDeleted(frame); break;
    case "reaction": onReaction(frame); break;
    case "read": onRead(frame); break;
    case "unread": onUnread(frame); break;
    case "members":
      state.members = new Map(frame.members.map((member) => [member.email, member.username]));
      renderMembers();
      break;
    case "presence": onPresence(frame); break;
    case "error":
      $("chat-error").textContent = friendly[frame.code] || frame.message;
      // Nothing was stored: try the waiting messages again once the bucket refills.
      if (frame.code === "rate_limited") setTimeout(() => { if (state.socket && state.opened) resendPending(); }, 1500);
      break;
  }
}

function onHistory(frame) {
  const purpose = state.requests.shift() || "initial";
  if (purpose === "older") {
    for (const message of [...frame.messages].reverse()) renderMessage(message, "prepend", true);
    $("load-older").hidden = !frame.has_more;
  } else {
    for (const message of frame.messages) renderMessage(message, "append", true);
    if (purpose === "initial") $("load-older").hidden = !frame.has_more;
    if (purpose === "catch-up" && frame.has_more) catchUp();
  }
  placeDivider();
  // History is in: now the unread count, and where the "new messages" line goes.
  if (purpose === "initial" || (purpose === "catch-up" && !frame.has_more)) askUnread();
  scheduleMarkRead();
}

function onLiveMessage(frame) {
  const before = state.newestId;
  const fresh = !state.seen.has(frame.id);
  renderMessage(frame, "append", false);
  if (!fresh) return;
  if (frame.from !== state.session?.email) {
    stopTyping(frame.from);
    if (!attentive()) {
      // Arrived while nobody looks: counted, and the line marks where it starts.
      if (state.unread.count === 0) state.dividerAfter = before ?? "";
      if (!state.unread.capped) setUnread(state.unread.count + 1, false);
      placeDivider();
    }
  }
  scheduleMarkRead();
}

function onPresence(frame) {
  if (frame.event === "joined") state.members.set(frame.email, frame.username);
  else { state.members.delete(frame.email); stopTyping(frame.email); }
  renderMembers();
  const item = document.createElement("li");
  item.className = "presence";
  item.textContent = `${frame.username} ${frame.event === "joined" ? "joined" : "left"} · ${new Date(frame.timestamp).toLocaleTimeString()}`;
  $("messages").append(item);
  scrollDown();
}

function renderMembers() {
  const list = $("members");
  list.replaceChildren(...[...state.members].map(([email, username]) => {
    const item = document.createElement("li");
    item.textContent = email === state.session?.email ? `${username} (you)` : username;
    item.title = email;
    return item;
  }));
}

// History frames carry a message's current state (edited, deleted, reactions):
// they also update a message already on the page. Live frames only add.
function renderMessage(message, where, fromHistory) {
  if (state.seen.has(message.id)) {
    const shown = fromHistory && findMessage(message.id);
    if (shown) applyState(shown, message);
    return;
  }
  state.seen.add(message.id);
  if (!state.newestId || message.id > state.newestId) state.newestId = message.id;
  if (!state.oldestId || message.id < state.oldestId) state.oldestId = message.id;
  if (message.client_msg_id && message.from === state.session?.email) settlePending(message.client_msg_id);
  const mine = message.from === state.session?.email;
  const item = messageItem(message.username, message.message ?? "", new Date(message.timestamp), mine);
  item.dataset.id = message.id;
  item.append(messageTools(item, mine));
  if (fromHistory) applyState(item, message);
  const list = $("messages");
  if (where === "prepend") {
    list.prepend(item);
  } else {
    // Keep id order even when a catch-up page arrives after live frames.
    const later = [...list.querySelectorAll("li[data-id]")].find((other) => other.dataset.id > message.id);
    if (later) list.insertBefore(item, later); else list.append(item);
    scrollDown();
  }
}

function messageItem(username, text, time, mine) {
  const item = document.createElement("li");
  if (mine) item.classList.add("mine");
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${mine ? `${username} (you)` : username} · ${time.toLocaleTimeString()}`;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(meta, body);
  return item;
}

function findMessage(id) {
  return $("messages").querySelector(`li[data-id="${CSS.escape(id)}"]`);
}

function applyState(item, message) {
  if (message.deleted) { markDeleted(item); return; }
  item.querySelector(".text").textContent = message.message ?? "";
  if (message.edited_at) markEdited(item, message.edited_at);
  const counts = message.reactions || {};
  for (const control of item.querySelectorAll("button.reaction")) {
    if (!(control.dataset.emoji in counts)) control.remove();
  }
  for (const [emoji, count] of Object.entries(counts)) setReaction(item, emoji, count);
}

function button(text, className, label) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  if (label) element.setAttribute("aria-label", label);
  return element;
}

// The row under a message: its reactions, "add reaction", and for your own
// messages edit and delete.
function messageTools(item, mine) {
  const tools = document.createElement("div");
  tools.className = "tools";
  const reactions = document.createElement("span");
  reactions.className = "reactions";
  const add = button("☺+", "add-reaction", "Add reaction");
  add.setAttribute("aria-expanded", "false");
  add.addEventListener("click", () => togglePicker(item, add));
  tools.append(reactions, add);
  if (mine) {
    const actions = document.createElement("span");
    actions.className = "actions";
    const edit = button("Edit", "edit", "Edit message");
    edit.addEventListener("click", () => openEditor(item));
    const remove = button("Delete", "delete", "Delete message");
    remove.addEventListener("click", () => confirmDelete(item, remove));
    actions.append(edit, remove);
    tools.append(actions);
  }
  return tools;
}

function scrollDown() {
  const pane = document.querySelector(".messages-pane");
  pane.scrollTop = pane.scrollHeight;
}

// ---------------------------------------------------------------- sending, with safe retries

function pending() { return JSON.parse(sessionStorage.getItem(PENDING_KEY) || "[]"); }
function savePending(items) { sessionStorage.setItem(PENDING_KEY, JSON.stringify(items)); }

function sendFromInput() {
  const input = $("message-input");
  const text = input.value;
  if (!text.trim()) return;
  if ([...text].length > 4096) { $("chat-error").textContent = friendly.message_too_long; return; }
  $("chat-error").textContent = "";
  const item = { id: crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`, text };
  savePending([...pending(), item]);
  renderPending(item);
  input.value = "";
  if (state.socket && state.opened) state.socket.send(JSON.stringify({ action: "sendMessage", message: text, client_msg_id: item.id }));
}

function renderPending(item) {
  const element = messageItem(state.session.username, item.text, new Date(), true);
  element.classList.add("pending");
  element.dataset.pending = item.id;
  $("messages").append(element);
  scrollDown();
}

// Unacknowledged messages go again with the same client_msg_id: the server
// stores each once, so nothing is lost and nothing doubles.
function resendPending() {
  for (const item of pending()) {
    state.socket.send(JSON.stringify({ action: "sendMessage", message: item.text, client_msg_id: item.id }));
  }
}

function settlePending(id) {
  savePending(pending().filter((item) => item.id !== id));
  document.querySelector(`li[data-pending="${CSS.escape(id)}"]`)?.remove();
}

// Frames that act on a message: sent only while connected, else said plainly.
function sendAction(frame) {
  if (!state.socket || !state.opened) {
    $("chat-error").textContent = "Not connected: try again once the page is connected.";
    return false;
  }
  $("chat-error").textContent = "";
  state.socket.send(JSON.stringify(frame));
  return true;
}

// ---------------------------------------------------------------- typing

function sendTyping() {
  if (!$("message-input").value.trim() || !state.socket || !state.opened) return;
  const now = Date.now();
  if (now - state.typingSentAt < TYPING_EVERY) return;
  state.typingSentAt = now;
  state.socket.send(JSON.stringify({ action: "typing" }));
}

function onTyping(frame) {
  if (frame.email === state.session?.email) return;
  clearTimeout(state.typers.get(frame.email)?.timer);
  const timer = setTimeout(() => stopTyping(frame.email), TYPING_SHOWN);
  state.typers.set(frame.email, { username: frame.username, timer });
  renderTyping();
}

function stopTyping(email) {
  const typer = state.typers.get(email);
  if (!typer) return;
  clearTimeout(typer.timer);
  state.typers.delete(email);
  renderTyping();
}

function clearTypers() {
  for (const typer of state.typers.values()) clearTimeout(typer.timer);
  state.typers.clear();
  renderTyping();
}

function renderTyping() {
  const names = [...state.typers.values()].map((typer) => typer.username);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length > 1) text = `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  $("typing").textContent = text;
}

// ---------------------------------------------------------------- edit and delete

function openEditor(item) {
  const open = item.querySelector(".editor textarea");
  if (open) { open.focus(); return; }
  const text = item.querySelector(".text");
  const form = document.createElement("form");
  form.className = "editor";
  const box = document.createElement("textarea");
  box.className = "edit-input";
  box.rows = 2;
  box.value = text.textContent;
  box.setAttribute("aria-label", "Edit your message (Enter saves, Escape cancels)");
  const save = button("Save", "save-edit");
  save.type = "submit";
  const cancel = button("Cancel", "cancel-edit");
  form.append(box, save, cancel);
  text.hidden = true;
  text.after(form);
  const close = () => {
    form.remove();
    text.hidden = false;
    item.querySelector("button.edit")?.focus();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (saveEdit(item, box.value)) close();
  });
  cancel.addEventListener("click", close);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

// True when the editor can close: the edit went out, or there was nothing to send.
function saveEdit(item, text) {
  if (text === item.querySelector(".text").textContent) return true;
  if (!text.trim()) { $("chat-error").textContent = "A message cannot be empty: delete it instead."; return false; }
  if ([...text].length > 4096) { $("chat-error").textContent = friendly.message_too_long; return false; }
  return sendAction({ action: "editMessage", id: item.dataset.id, message: text });
}

// The first press asks, the second (within 5 s) deletes: no dialog to dismiss.
function confirmDelete(item, control) {
  if (control.classList.contains("confirm")) {
    sendAction({ action: "deleteMessage", id: item.dataset.id });
    return;
  }
  control.classList.add("confirm");
  control.textContent = "Really delete?";
  control.setAttribute("aria-label", "Press again to delete the message");
  setTimeout(() => {
    control.classList.remove("confirm");
    control.textContent = "Delete";
    control.setAttribute("aria-label", "Delete message");
  }, 5000);
}

function onEdited(frame) {
  const item = findMessage(frame.id);
  if (!item || item.classList.contains("deleted")) return;
  item.querySelector(".text").textContent = frame.message;
  markEdited(item, frame.edited_at);
}

function markEdited(item, editedAt) {
  let mark = item.querySelector(".edited");
  if (!mark) {
    mark = document.createElement("span");
    mark.className = "edited";
    mark.textContent = "edited";
    item.querySelector(".meta").append(mark);
  }
  if (editedAt) mark.title = `edited ${new Date(editedAt).toLocaleString()}`;
}

function onDeleted(frame) {
  const item = findMessage(frame.id);
  if (!item || item.classList.contains("deleted")) return;
  const wasUnread = !item.classList.contains("mine") && (state.lastRead === null || frame.id > state.lastRead);
  markDeleted(item);
  if (wasUnread && state.unread.count > 0 && !state.unread.capped) setUnread(state.unread.count - 1, false);
  placeDivider();
}

function markDeleted(item) {
  item.classList.add("deleted");
  for (const part of item.querySelectorAll(".tools, .picker, .editor, .edited")) part.remove();
  const text = item.querySelector(".text");
  text.hidden = false;
  text.textContent = "message deleted";
}

// ---------------------------------------------------------------- reactions

// The server says only counts in history; which ones are yours is known for
// reactions made or seen confirmed in this tab.
function myReactions() { return new Set(JSON.parse(sessionStorage.getItem(REACTIONS_KEY) || "[]")); }
function reactionKey(id, emoji) { return `${id} ${emoji}`; }
function setMine(id, emoji, mine) {
  const set = myReactions();
  if (mine) set.add(reactionKey(id, emoji)); else set.delete(reactionKey(id, emoji));
  sessionStorage.setItem(REACTIONS_KEY, JSON.stringify([...set]));
}

function setReaction(item, emoji, count) {
  const row = item.querySelector(".reactions");
  if (!row) return;
  let control = [...row.querySelectorAll("button.reaction")].find((other) => other.dataset.emoji === emoji);
  if (count <= 0) { control?.remove(); return; }
  if (!control) {
    control = button("", "reaction");
    control.dataset.emoji = emoji;
    control.addEventListener("click", () => {
      const mine = myReactions().has(reactionKey(item.dataset.id, emoji));
      sendAction({ action: mine ? "unreact" : "react", id: item.dataset.id, emoji });
    });
    row.append(control);
  }
  const mine = myReactions().has(reactionKey(item.dataset.id, emoji));
  control.textContent = `${emoji} ${count}`;
  control.classList.toggle("mine", mine);
  control.setAttribute("aria-pressed", String(mine));
  control.title = mine ? "Your reaction: press to take it back" : "Press to react with this too";
}

function onReaction(frame) {
  if (frame.email === state.session?.email) setMine(frame.id, frame.emoji, frame.added && frame.count > 0);
  if (frame.count <= 0) setMine(frame.id, frame.emoji, false);
  const item = findMessage(frame.id);
  if (item && !item.classList.contains("deleted")) setReaction(item, frame.emoji, frame.count);
}

function closePickers() {
  for (const picker of document.querySelectorAll(".picker")) picker.remove();
  for (const opener of document.querySelectorAll("button.add-reaction")) opener.setAttribute("aria-expanded", "false");
}

function togglePicker(item, opener) {
  const wasOpen = item.querySelector(".picker");
  closePickers();
  if (wasOpen) return;
  const picker = document.createElement("div");
  picker.className = "picker";
  picker.setAttribute("role", "group");
  picker.setAttribute("aria-label", "Pick a reaction");
  const done = () => { closePickers(); opener.focus(); };
  const react = (emoji) => { if (sendAction({ action: "react", id: item.dataset.id, emoji })) done(); };
  for (const emoji of COMMON_EMOJI) {
    const pick = button(emoji, "pick", `React with ${emoji}`);
    pick.addEventListener("click", () => react(emoji));
    picker.append(pick);
  }
  const form = document.createElement("form");
  form.className = "emoji-form";
  const input = document.createElement("input");
  input.className = "emoji-input";
  input.maxLength = 16;
  input.autocomplete = "off";
  input.placeholder = "any emoji";
  input.setAttribute("aria-label", "Any emoji");
  const add = button("Add", "emoji-add", "Add this reaction");
  add.type = "submit";
  form.append(input, add);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const emoji = oneEmoji(input.value);
    if (emoji) react(emoji); else $("chat-error").textContent = "A reaction is one emoji.";
  });
  picker.append(form);
  picker.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); done(); } });
  item.querySelector(".tools").after(picker);
  opener.setAttribute("aria-expanded", "true");
  picker.querySelector("button").focus();
}

// One grapheme (a skin-tone or ZWJ sequence is one) of at most 32 UTF-8 bytes.
function oneEmoji(text) {
  const value = text.trim();
  if (!value || new TextEncoder().encode(value).length > 32) return null;
  if (typeof Intl.Segmenter === "function" && [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(value)].length !== 1) return null;
  return value;
}

// ---------------------------------------------------------------- unread and read

function attentive() { return document.visibilityState === "visible" && document.hasFocus(); }

function askUnread() {
  if (!state.socket || !state.opened) return;
  state.dividerPending = true;
  state.socket.send(JSON.stringify({ action: "getUnread" }));
}

function onUnread(frame) {
  if (frame.last_read) state.lastRead = frame.last_read;
  setUnread(frame.count, Boolean(frame.capped));
  if (state.dividerPending) {
    state.dividerPending = false;
    state.dividerAfter = frame.count > 0 ? (frame.last_read ?? "") : null;
    placeDivider();
  }
}

function onRead(frame) {
  state.lastRead = frame.last_read;
  // Everything shown is read; if more is newer than the marker, ask again.
  if (!state.newestId || frame.last_read >= state.newestId) setUnread(0, false);
  else if (state.socket && state.opened) state.socket.send(JSON.stringify({ action: "getUnread" }));
}

function setUnread(count, capped) {
  state.unread = { count, capped };
  const badge = $("unread-count");
  badge.hidden = count <= 0;
  badge.textContent = capped ? `${count}+ unread` : `${count} unread`;
  document.title = count > 0 ? `(${capped ? `${count}+` : count}) ${BASE_TITLE}` : BASE_TITLE;
}

function placeDivider() {
  const list = $("messages");
  list.querySelector("li.unread-divider")?.remove();
  if (state.dividerAfter === null) return;
  const first = [...list.querySelectorAll("li[data-id]:not(.mine):not(.deleted)")]
    .find((item) => item.dataset.id > state.dividerAfter);
  if (!first) return;
  const divider = document.createElement("li");
  divider.className = "unread-divider";
  divider.textContent = "new messages";
  first.before(divider);
}

// Read means shown while the window has focus and is visible, after a quiet second.
function scheduleMarkRead() {
  clearTimeout(state.readTimer);
  state.readTimer = setTimeout(markRead, READ_DELAY);
}

function markRead() {
  const id = state.newestId;
  if (!id || !state.socket || !state.opened || !attentive()) return;
  if (state.lastRead && id <= state.lastRead && state.unread.count === 0) return;
  state.socket.send(JSON.stringify({ action: "markRead", id }));
}

start();
