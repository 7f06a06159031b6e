// The chat page: vanilla JavaScript, no build step. Everything a person types or
// another member sends is put on the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "chatroom.session";
const PENDING_KEY = "chatroom.pending";

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
  $("logout").addEventListener("click", () => logout());
  $("load-older").addEventListener("click", loadOlder);
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
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.expiryTimer);
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
    case "message": renderMessage(frame, "append"); break;
    case "messages": onHistory(frame); break;
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
    for (const message of [...frame.messages].reverse()) renderMessage(message, "prepend");
    $("load-older").hidden = !frame.has_more;
  } else {
    for (const message of frame.messages) renderMessage(message, "append");
    if (purpose === "initial") $("load-older").hidden = !frame.has_more;
    if (purpose === "catch-up" && frame.has_more) catchUp();
  }
}

function onPresence(frame) {
  if (frame.event === "joined") state.members.set(frame.email, frame.username);
  else state.members.delete(frame.email);
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

function renderMessage(message, where) {
  if (state.seen.has(message.id)) return;
  state.seen.add(message.id);
  if (!state.newestId || message.id > state.newestId) state.newestId = message.id;
  if (!state.oldestId || message.id < state.oldestId) state.oldestId = message.id;
  if (message.client_msg_id && message.from === state.session?.email) settlePending(message.client_msg_id);
  const item = messageItem(message.username, message.message, new Date(message.timestamp), message.from === state.session?.email);
  item.dataset.id = message.id;
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

start();
