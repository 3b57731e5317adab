// switchboard's browser client: IRC over the server's WebSocket (/ws), as
// any IRCv3 WebSocket client would speak it, so the page is one more IRC
// client in the same rooms as irssi and nc users. No framework, no build.
"use strict";

// Capabilities the page uses when the server offers them.
const WANTED_CAPS = [
  "server-time", "message-tags", "echo-message", "sasl", "batch",
  "draft/chathistory", "multi-prefix", "away-notify", "account-tag",
];
const HISTORY_PAGE = 50;
const MAX_LINES = 2000; // per conversation, oldest dropped first
const SAY_BYTES = 400; // longer input goes as several messages
const RETRY_MAX_SECS = 30;

const $ = (id) => document.getElementById(id);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---- IRC syntax -------------------------------------------------------

const TAG_ESCAPES = { ":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n" };

function unescapeTag(value) {
  return value.replace(/\\(.)?/g, (_, c) => (c === undefined ? "" : (TAG_ESCAPES[c] ?? c)));
}

/** Splits one IRC line into tags, source, command and parameters. */
function parseLine(line) {
  const msg = { tags: {}, source: "", nick: "", command: "", params: [] };
  let rest = line;
  if (rest.startsWith("@")) {
    const end = rest.indexOf(" ");
    for (const tag of rest.slice(1, end).split(";")) {
      const eq = tag.indexOf("=");
      if (eq < 0) msg.tags[tag] = "";
      else msg.tags[tag.slice(0, eq)] = unescapeTag(tag.slice(eq + 1));
    }
    rest = rest.slice(end + 1).trimStart();
  }
  if (rest.startsWith(":")) {
    const end = rest.indexOf(" ");
    msg.source = rest.slice(1, end);
    msg.nick = msg.source.split("!")[0];
    rest = rest.slice(end + 1).trimStart();
  }
  while (rest.length > 0) {
    if (rest.startsWith(":")) {
      msg.params.push(rest.slice(1));
      break;
    }
    const end = rest.indexOf(" ");
    if (end < 0) {
      msg.params.push(rest);
      break;
    }
    msg.params.push(rest.slice(0, end));
    rest = rest.slice(end + 1).trimStart();
  }
  msg.command = (msg.params.shift() || "").toUpperCase();
  return msg;
}

const isRoom = (name) => /^[#&]/.test(name);
const fold = (name) => name.toLowerCase();
// IRC formatting codes (bold, colours, ...) are shown as plain text.
const stripFormatting = (text) =>
  text.replace(/\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g, "");

/** Cuts text into pieces of at most `max` UTF-8 bytes, at a space if there is one. */
function splitBytes(text, max) {
  const pieces = [];
  while (encoder.encode(text).length > max) {
    let cut = text.length;
    while (encoder.encode(text.slice(0, cut)).length > max) cut = Math.floor(cut * 0.9);
    const space = text.lastIndexOf(" ", cut);
    if (space > cut / 2) cut = space;
    pieces.push(text.slice(0, cut));
    text = text.slice(cut).trimStart();
  }
  if (text.length > 0) pieces.push(text);
  return pieces;
}

// ---- state ------------------------------------------------------------

const state = {
  ws: null,
  nick: "",
  account: "",
  password: "",
  firstRoom: "",
  caps: new Set(),
  offered: new Map(),
  registered: false,
  retrySecs: 1,
  everConnected: false,
  wantClose: false,
  conversations: new Map(), // folded name -> conversation
  current: "",
  batches: new Map(), // batch id -> { type, target, lines }
  names: new Map(), // folded room -> nicks collected from 353
  roomList: [],
};

function conversation(name) {
  const key = fold(name);
  let conv = state.conversations.get(key);
  if (!conv) {
    conv = {
      name, room: isRoom(name), lines: [], msgids: new Set(), members: new Map(),
      topic: "", unread: 0, joined: false, historyDone: false, loadingHistory: false,
      lastTime: "",
    };
    state.conversations.set(key, conv);
    renderTargets();
  }
  return conv;
}

// ---- the connection ---------------------------------------------------

function send(line) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(ws.protocol === "binary.ircv3.net" ? encoder.encode(line) : line);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`, ["text.ircv3.net", "binary.ircv3.net"]);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  state.registered = false;
  state.caps = new Set();
  state.offered = new Map();
  document.body.dataset.state = "connecting";
  ws.onopen = () => {
    send("CAP LS 302");
    send(`NICK ${state.nick}`);
    send(`USER ${state.nick.replace(/[^A-Za-z0-9]/g, "") || "web"} 0 * :switchboard web client`);
  };
  ws.onmessage = (event) => {
    const text = typeof event.data === "string" ? event.data : decoder.decode(event.data);
    for (const line of text.split(/\r?\n/)) {
      if (line.length > 0) handle(parseLine(line));
    }
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = null;
    for (const conv of state.conversations.values()) conv.joined = false;
    if (state.wantClose || !state.everConnected) {
      if (!state.everConnected && !$("login-error").textContent) {
        $("login-error").textContent = "Could not reach the server.";
      }
      showLogin();
      return;
    }
    document.body.dataset.state = "disconnected";
    const secs = state.retrySecs;
    state.retrySecs = Math.min(secs * 2, RETRY_MAX_SECS);
    banner(`Disconnected. Reconnecting in ${secs} s… Messages sent meanwhile are not lost: they show up when you are back.`);
    setTimeout(connect, secs * 1000);
  };
}

function registered(msg) {
  state.registered = true;
  state.everConnected = true;
  state.retrySecs = 1;
  state.nick = msg.params[0];
  document.body.dataset.state = "connected";
  $("me-nick").textContent = state.nick;
  $("login").hidden = true;
  $("chat").hidden = false;
  const rejoin = [...state.conversations.values()].filter((c) => c.room).map((c) => c.name);
  if (rejoin.length > 0) {
    banner("Reconnected.", 4000);
    for (const room of rejoin) send(`JOIN ${room}`);
    for (const conv of state.conversations.values()) {
      if (!conv.room) fetchMissed(conv);
    }
  } else if (state.firstRoom) {
    send(`JOIN ${state.firstRoom}`);
  }
}

// ---- what the server says ---------------------------------------------

function handle(msg) {
  if (msg.tags.batch && state.batches.has(msg.tags.batch)) {
    state.batches.get(msg.tags.batch).lines.push(msg);
    return;
  }
  const handler = HANDLERS[msg.command];
  if (handler) handler(msg);
  else if (/^[45]\d\d$/.test(msg.command)) status(msg.params.slice(1).join(" "), "notice");
}

const HANDLERS = {
  PING: (msg) => send(`PONG :${msg.params[0] ?? ""}`),
  CAP: (msg) => {
    const sub = (msg.params[1] || "").toUpperCase();
    if (sub === "LS") {
      const more = msg.params[2] === "*";
      for (const item of msg.params[more ? 3 : 2].split(" ")) {
        const [name, value] = item.split("=");
        if (name) state.offered.set(name, value ?? "");
      }
      if (more) return;
      const want = WANTED_CAPS.filter((cap) => state.offered.has(cap)
        && (cap !== "sasl" || state.password));
      if (want.length > 0) send(`CAP REQ :${want.join(" ")}`);
      else send("CAP END");
    } else if (sub === "ACK") {
      for (const cap of msg.params[2].split(" ")) if (cap) state.caps.add(cap);
      if (state.caps.has("sasl") && state.password) send("AUTHENTICATE PLAIN");
      else send("CAP END");
    } else if (sub === "NAK") {
      send("CAP END");
    }
  },
  AUTHENTICATE: (msg) => {
    if (msg.params[0] !== "+") return;
    const bytes = encoder.encode(`${state.nick}\0${state.nick}\0${state.password}`);
    send(`AUTHENTICATE ${btoa(String.fromCharCode(...bytes))}`);
  },
  "900": (msg) => {
    state.account = msg.params[2];
    $("me-account").textContent = `(${state.account})`;
  },
  "903": () => send("CAP END"),
  "904": () => loginFailed("Wrong nickname or password."),
  "905": () => loginFailed("That password is too long."),
  "001": registered,
  "433": (msg) => {
    if (!state.registered) loginFailed(`The nickname ${msg.params[1]} is taken.`);
    else status(`The nickname ${msg.params[1]} is taken.`, "notice");
  },
  "432": (msg) => {
    if (!state.registered) loginFailed(`${msg.params[1]} is not a valid nickname.`);
    else status(`${msg.params[1]} is not a valid nickname.`, "notice");
  },
  ERROR: (msg) => {
    if (!state.registered) $("login-error").textContent = msg.params[0];
    else status(msg.params[0], "notice");
  },
  NICK: (msg) => {
    const to = msg.params[0];
    if (fold(msg.nick) === fold(state.nick)) {
      state.nick = to;
      $("me-nick").textContent = to;
    }
    for (const conv of state.conversations.values()) {
      if (conv.members.has(msg.nick)) {
        const prefix = conv.members.get(msg.nick);
        conv.members.delete(msg.nick);
        conv.members.set(to, prefix);
        addLine(conv, { kind: "event", text: `${msg.nick} is now ${to}`, time: msg.tags.time });
      }
    }
    renderMembers();
  },
  JOIN: (msg) => {
    const conv = conversation(msg.params[0]);
    if (fold(msg.nick) === fold(state.nick)) {
      conv.joined = true;
      conv.members.clear();
      if (state.caps.has("draft/chathistory")) {
        if (conv.lines.length === 0) send(`CHATHISTORY LATEST ${conv.name} * ${HISTORY_PAGE}`);
        else fetchMissed(conv);
      }
      if (!state.current || fold(state.firstRoom) === fold(conv.name)) select(conv.name);
    } else {
      conv.members.set(msg.nick, "");
      addLine(conv, { kind: "event", text: `${msg.nick} joined`, time: msg.tags.time });
    }
    renderMembers();
  },
  PART: (msg) => left(msg.params[0], msg.nick, `${msg.nick} left${msg.params[1] ? ` (${msg.params[1]})` : ""}`, msg),
  KICK: (msg) => left(msg.params[0], msg.params[1],
    `${msg.params[1]} was kicked by ${msg.nick}${msg.params[2] ? ` (${msg.params[2]})` : ""}`, msg),
  QUIT: (msg) => {
    for (const conv of state.conversations.values()) {
      if (conv.members.delete(msg.nick)) {
        addLine(conv, { kind: "event", text: `${msg.nick} quit${msg.params[0] ? ` (${msg.params[0]})` : ""}`, time: msg.tags.time });
      }
    }
    renderMembers();
  },
  TOPIC: (msg) => {
    const conv = conversation(msg.params[0]);
    conv.topic = msg.params[1] || "";
    addLine(conv, { kind: "event", text: `${msg.nick} set the topic: ${conv.topic}`, time: msg.tags.time });
    renderHeader();
  },
  "332": (msg) => {
    conversation(msg.params[1]).topic = msg.params[2];
    renderHeader();
  },
  "353": (msg) => {
    const room = fold(msg.params[2]);
    const names = state.names.get(room) || [];
    names.push(...msg.params[3].split(" ").filter(Boolean));
    state.names.set(room, names);
  },
  "366": (msg) => {
    const room = fold(msg.params[1]);
    const conv = conversation(msg.params[1]);
    conv.members.clear();
    for (const entry of state.names.get(room) || []) {
      const nick = entry.replace(/^[~&@%+]+/, "").split("!")[0];
      conv.members.set(nick, entry.slice(0, entry.length - entry.replace(/^[~&@%+]+/, "").length));
    }
    state.names.delete(room);
    renderMembers();
  },
  MODE: (msg) => {
    if (isRoom(msg.params[0])) {
      const conv = conversation(msg.params[0]);
      addLine(conv, { kind: "event", text: `${msg.nick} set mode ${msg.params.slice(1).join(" ")}`, time: msg.tags.time });
      send(`NAMES ${conv.name}`);
    }
  },
  "322": (msg) => state.roomList.push({ name: msg.params[1], users: msg.params[2], topic: msg.params[3] || "" }),
  "323": renderRoomList,
  PRIVMSG: (msg) => message(msg, false),
  NOTICE: (msg) => message(msg, false),
  BATCH: (msg) => {
    const id = msg.params[0].slice(1);
    if (msg.params[0].startsWith("+")) {
      state.batches.set(id, { type: msg.params[1], target: msg.params[2], lines: [] });
      return;
    }
    const batch = state.batches.get(id);
    state.batches.delete(id);
    if (batch) endBatch(batch);
  },
  FAIL: (msg) => status(msg.params[msg.params.length - 1], "notice"),
};

function loginFailed(text) {
  $("login-error").textContent = text;
  state.wantClose = true;
  if (state.ws) state.ws.close();
}

function left(room, nick, text, msg) {
  const conv = conversation(room);
  if (fold(nick) === fold(state.nick)) {
    conv.joined = false;
    conv.members.clear();
    addLine(conv, { kind: "event", text: text.replace(nick, "you"), time: msg.tags.time });
  } else {
    conv.members.delete(nick);
    addLine(conv, { kind: "event", text, time: msg.tags.time });
  }
  renderMembers();
}

/** A PRIVMSG or NOTICE, live or out of a history batch. */
function message(msg, history) {
  const target = msg.params[0];
  let text = msg.params[1] ?? "";
  const fromMe = fold(msg.nick) === fold(state.nick);
  if (!msg.nick || msg.nick.includes(".") || target === "*") {
    status(text, "notice");
    return;
  }
  const name = isRoom(target) ? target : (fromMe ? target : msg.nick);
  let kind = msg.command === "NOTICE" ? "notice" : "msg";
  if (text.startsWith("\x01")) {
    const body = text.replace(/^\x01|\x01$/g, "");
    if (!body.startsWith("ACTION ")) return; // other CTCP requests are not shown
    text = body.slice(7);
    kind = "action";
  }
  const conv = conversation(name);
  addLine(conv, { kind, nick: msg.nick, text, time: msg.tags.time, msgid: msg.tags.msgid, history });
}

function endBatch(batch) {
  if (batch.type !== "chathistory" && batch.type !== "draft/chathistory") {
    for (const line of batch.lines) handle(line);
    return;
  }
  const conv = conversation(batch.target);
  conv.loadingHistory = false;
  const wasEmpty = conv.lines.length === 0;
  const before = conv.lines.length;
  for (const line of batch.lines) {
    if (line.command === "PRIVMSG" || line.command === "NOTICE") message(line, true);
  }
  const added = conv.lines.length - before;
  if (conv.fetchingMissed) {
    conv.fetchingMissed = false;
    if (added > 0) {
      addLine(conv, { kind: "divider", text: `${added} message${added === 1 ? "" : "s"} while you were disconnected`, time: new Date().toISOString() });
    }
  } else if (added === 0 && !wasEmpty) {
    conv.historyDone = true;
  }
}

function fetchMissed(conv) {
  if (!state.caps.has("draft/chathistory") || !conv.lastTime) return;
  conv.fetchingMissed = true;
  send(`CHATHISTORY AFTER ${conv.name} timestamp=${conv.lastTime} 100`);
}

function fetchOlder(conv) {
  if (!state.caps.has("draft/chathistory") || conv.loadingHistory || conv.historyDone) return;
  const oldest = conv.lines.find((line) => line.msgid);
  if (!oldest) return;
  conv.loadingHistory = true;
  send(`CHATHISTORY BEFORE ${conv.name} msgid=${oldest.msgid} ${HISTORY_PAGE}`);
}

// ---- conversations ----------------------------------------------------

/** Adds a line in time order (history may arrive after newer live lines). */
function addLine(conv, line) {
  if (line.msgid) {
    if (conv.msgids.has(line.msgid)) return;
    conv.msgids.add(line.msgid);
  }
  line.time = line.time || new Date().toISOString();
  let at = conv.lines.length;
  while (at > 0 && conv.lines[at - 1].time > line.time) at -= 1;
  conv.lines.splice(at, 0, line);
  if (line.kind !== "divider" && line.time > conv.lastTime) conv.lastTime = line.time;
  if (conv.lines.length > MAX_LINES) conv.lines.shift();
  if (fold(conv.name) === state.current) {
    renderLog(at === conv.lines.length - 1 ? line : null);
  } else if (!line.history && line.kind !== "event" && line.kind !== "divider") {
    conv.unread += 1;
    renderTargets();
  }
}

/** A line from the server about no conversation in particular. */
function status(text, kind) {
  const conv = state.conversations.get(state.current);
  if (conv) addLine(conv, { kind, text, time: new Date().toISOString() });
  else $("login-error").textContent = text;
}

function select(name) {
  const conv = conversation(name);
  state.current = fold(name);
  conv.unread = 0;
  if (!conv.room && conv.lines.length === 0 && state.caps.has("draft/chathistory")) {
    send(`CHATHISTORY LATEST ${conv.name} * ${HISTORY_PAGE}`);
  }
  renderTargets();
  renderHeader();
  renderMembers();
  renderLog(null);
  $("say").focus();
}

// ---- what the user types ----------------------------------------------

const COMMANDS = {
  join: (arg) => (arg ? send(`JOIN ${arg}`) : usage("/join #room")),
  part: (arg) => {
    const conv = state.conversations.get(state.current);
    if (conv && conv.room) send(`PART ${conv.name}${arg ? ` :${arg}` : ""}`);
  },
  msg: (arg) => {
    const [nick, ...words] = arg.split(" ");
    if (!nick || words.length === 0) return usage("/msg nick text");
    say(nick, words.join(" "));
  },
  query: (arg) => (arg ? select(arg) : usage("/query nick")),
  me: (arg) => say(currentName(), arg, true),
  nick: (arg) => (arg ? send(`NICK ${arg}`) : usage("/nick newname")),
  topic: (arg) => send(`TOPIC ${currentName()}${arg ? ` :${arg}` : ""}`),
  quote: (arg) => send(arg),
  help: () => status("/join #room, /part, /msg nick text, /query nick, /me action, /nick name, /topic text, /quote RAW IRC LINE", "notice"),
};

function usage(text) {
  status(`Usage: ${text}`, "notice");
}

function currentName() {
  const conv = state.conversations.get(state.current);
  return conv ? conv.name : "";
}

function say(target, text, action = false) {
  if (!target) return status("Join a room first: /join #room", "notice");
  for (const piece of splitBytes(text, SAY_BYTES)) {
    const body = action ? `\x01ACTION ${piece}\x01` : piece;
    send(`PRIVMSG ${target} :${body}`);
    if (!state.caps.has("echo-message")) {
      addLine(conversation(target), { kind: action ? "action" : "msg", nick: state.nick, text: piece });
    }
  }
}

function input(text) {
  if (text.startsWith("/") && !text.startsWith("//")) {
    const space = text.indexOf(" ");
    const name = (space < 0 ? text.slice(1) : text.slice(1, space)).toLowerCase();
    const arg = space < 0 ? "" : text.slice(space + 1).trim();
    const command = COMMANDS[name];
    if (command) command(arg);
    else status(`Unknown command /${name}. /help lists them; /quote sends a raw IRC line.`, "notice");
  } else {
    say(currentName(), text.startsWith("//") ? text.slice(1) : text);
  }
}

// ---- drawing ----------------------------------------------------------

function nickColour(nick) {
  let hash = 0;
  for (const c of nick.toLowerCase()) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360}, 55%, 45%)`;
}

/** Text with web addresses made links; never parsed as HTML. */
function textNode(text) {
  const span = document.createElement("span");
  const clean = stripFormatting(text);
  let last = 0;
  for (const match of clean.matchAll(/https?:\/\/[^\s<>"]+/g)) {
    span.append(clean.slice(last, match.index));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    span.append(link);
    last = match.index + match[0].length;
  }
  span.append(clean.slice(last));
  return span;
}

function lineElement(line) {
  const div = document.createElement("div");
  div.className = `msg ${line.kind}${line.history ? " history" : ""}`;
  if (line.kind === "divider") {
    div.className = "divider";
    div.textContent = line.text;
    return div;
  }
  const time = document.createElement("span");
  time.className = "time";
  const date = new Date(line.time);
  time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  time.title = date.toLocaleString();
  div.append(time);
  if (line.nick) {
    const nick = document.createElement("span");
    nick.className = "nick";
    nick.style.color = nickColour(line.nick);
    nick.textContent = line.kind === "action" ? `* ${line.nick}` : `<${line.nick}>`;
    div.append(nick);
  }
  div.append(textNode(line.text));
  return div;
}

/** Appends `line`, or redraws the whole log when `line` is null. */
function renderLog(line) {
  const log = $("log");
  const conv = state.conversations.get(state.current);
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  if (line) {
    log.append(lineElement(line));
  } else {
    const oldHeight = log.scrollHeight;
    const oldTop = log.scrollTop;
    log.replaceChildren(...(conv ? conv.lines.map(lineElement) : []));
    if (!atBottom) log.scrollTop = oldTop + (log.scrollHeight - oldHeight);
  }
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function renderTargets() {
  const unread = [...state.conversations.values()].reduce((sum, conv) => sum + conv.unread, 0);
  document.title = unread > 0 ? `(${unread}) switchboard` : "switchboard";
  for (const [listId, room] of [["rooms", true], ["privates", false]]) {
    const items = [...state.conversations.values()].filter((conv) => conv.room === room).map((conv) => {
      const li = document.createElement("li");
      li.textContent = conv.name;
      li.dataset.name = conv.name;
      if (fold(conv.name) === state.current) li.className = "active";
      if (conv.unread > 0) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = conv.unread;
        li.append(badge);
      }
      li.onclick = () => select(conv.name);
      return li;
    });
    $(listId).replaceChildren(...items);
  }
}

function renderHeader() {
  const conv = state.conversations.get(state.current);
  $("target-name").textContent = conv ? conv.name : "";
  $("target-topic").textContent = conv ? stripFormatting(conv.topic) : "";
}

function renderMembers() {
  const conv = state.conversations.get(state.current);
  const members = conv ? [...conv.members.entries()] : [];
  members.sort(([a, pa], [b, pb]) => (pb.length - pa.length) || a.localeCompare(b));
  $("member-count").textContent = conv && conv.room ? `(${members.length})` : "";
  $("members").replaceChildren(...members.map(([nick, prefix]) => {
    const li = document.createElement("li");
    li.textContent = prefix.slice(0, 1) + nick;
    li.style.color = nickColour(nick);
    li.style.cursor = "pointer";
    li.onclick = () => select(nick);
    return li;
  }));
}

function renderRoomList() {
  const list = $("room-list");
  list.hidden = false;
  const rooms = state.roomList.splice(0);
  list.replaceChildren(...(rooms.length === 0 ? [Object.assign(document.createElement("li"), { textContent: "no rooms yet" })]
    : rooms.map((room) => {
      const li = document.createElement("li");
      li.textContent = `${room.name} (${room.users})`;
      li.title = stripFormatting(room.topic);
      li.onclick = () => send(`JOIN ${room.name}`);
      return li;
    })));
}

let bannerTimer = null;
function banner(text, hideAfterMs) {
  const el = $("banner");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(bannerTimer);
  if (hideAfterMs) bannerTimer = setTimeout(() => { el.hidden = true; }, hideAfterMs);
}

function showLogin() {
  document.body.dataset.state = "login";
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-go").disabled = false;
}

// ---- wiring -----------------------------------------------------------

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.nick = $("login-nick").value.trim();
  state.password = $("login-password").value;
  state.firstRoom = $("login-room").value.trim();
  if (state.firstRoom && !isRoom(state.firstRoom)) state.firstRoom = `#${state.firstRoom}`;
  state.wantClose = false;
  state.everConnected = false;
  state.conversations.clear();
  state.current = "";
  $("login-error").textContent = "";
  $("login-go").disabled = true;
  connect();
});

$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("say").value;
  $("say").value = "";
  if (text.trim()) input(text);
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("join-name").value.trim();
  $("join-name").value = "";
  if (!name) return;
  if (isRoom(name)) send(`JOIN ${name}`);
  else select(name);
});

$("list-rooms").addEventListener("click", () => {
  state.roomList = [];
  send("LIST");
});

$("log").addEventListener("scroll", () => {
  const conv = state.conversations.get(state.current);
  if (conv && $("log").scrollTop < 30) fetchOlder(conv);
});

showLogin();
