//! The built-in web page in a real browser: headless Chromium, driven over
//! the DevTools protocol, logs in, joins a room and chats with an IRC client.
//! The screenshots it takes are kept in `target/browser-test/`.
//!
//! Without Chromium the test says so and passes, unless
//! `SWITCHBOARD_REQUIRE_BROWSER` is set (CI sets it, and installs Chromium).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tungstenite::WebSocket;

use switchboard::Transport;

use super::{web_addr, web_server};
use crate::util::{Client, irc_addr, line_addr};

/// How long one step may take: the page's own timeouts are shorter.
const STEP: Duration = Duration::from_secs(15);

/// A headless Chromium with one page, driven over its DevTools WebSocket.
pub struct Browser {
    child: Child,
    devtools: WebSocket<TcpStream>,
    next_id: u64,
    /// JavaScript exceptions and console or network errors, as they came.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium, or returns None (after saying why) where it is not
    /// installed and not required.
    pub fn start() -> Option<Browser> {
        let Some(program) = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|program| Command::new(program).arg("--version").output().is_ok())
        else {
            assert!(
                std::env::var_os("SWITCHBOARD_REQUIRE_BROWSER").is_none(),
                "SWITCHBOARD_REQUIRE_BROWSER is set but no Chromium is installed"
            );
            eprintln!("browser test skipped: no chromium installed");
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(program)
            .args([
                "--headless",
                // Root (as on CI) cannot use the sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--window-size=1200,800",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that all of Chromium's processes go
            // with it (the `chromium` wrapper script does not always exec).
            .process_group(0)
            .spawn()
            .expect("start chromium");
        let endpoint = devtools_endpoint(&mut child);
        let page = page_socket_url(endpoint);
        let stream = TcpStream::connect(endpoint).unwrap();
        stream.set_read_timeout(Some(STEP)).unwrap();
        let (devtools, _) = tungstenite::client(page.as_str(), stream).expect("DevTools handshake");
        let mut browser = Browser {
            child,
            devtools,
            next_id: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.call(domain, json!({}));
        }
        Some(browser)
    }

    /// Opens `url` and waits for its load event.
    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_event("Page.loadEventFired");
    }

    /// Runs `script` in the page and returns its value (promises awaited).
    pub fn eval(&mut self, script: &str) -> Value {
        let reply = self.call(
            "Runtime.evaluate",
            json!({ "expression": script, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(exception) = reply.get("exceptionDetails") {
            panic!("{script}\nthrew: {exception}");
        }
        reply["result"]["value"].clone()
    }

    /// Waits, inside the page, until the expression `condition` is true.
    pub fn wait_for(&mut self, condition: &str) {
        let limit = STEP.as_millis() - 1000;
        self.eval(&format!(
            "new Promise((done, fail) => {{
                const start = Date.now();
                (function check() {{
                    let value = false;
                    try {{ value = ({condition}); }} catch (_) {{}}
                    if (value) done(true);
                    else if (Date.now() - start > {limit}) fail(new Error('timed out waiting for: ' + {quoted}));
                    else setTimeout(check, 20);
                }})();
            }})",
            quoted = json!(condition),
        ));
    }

    /// Saves a PNG of the page under `target/browser-test/NAME.png`.
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-test");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.devtools.send(request.to_string().into()).unwrap();
        loop {
            let message = self.read();
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    panic!("{method}: {error}");
                }
                return message["result"].clone();
            }
        }
    }

    fn wait_event(&mut self, method: &str) {
        while self.read()["method"] != method {}
    }

    /// The next DevTools message; errors the page reports are kept aside.
    fn read(&mut self) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            assert!(Instant::now() < deadline, "no answer from Chromium");
            let frame = self.devtools.read().expect("DevTools message");
            if !frame.is_text() {
                continue;
            }
            let message: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
            let params = &message["params"];
            match message["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    self.errors.push(params["exceptionDetails"].to_string());
                }
                Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                    self.errors.push(params["args"].to_string());
                }
                Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                    self.errors.push(params["entry"].to_string());
                }
                _ => {}
            }
            return message;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Chromium prints `DevTools listening on ws://127.0.0.1:PORT/...` once ready.
fn devtools_endpoint(child: &mut Child) -> SocketAddr {
    let stderr = child.stderr.take().unwrap();
    let (found, endpoint) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("ws://").nth(1).filter(|_| !sent) {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                sent = found.send(addr).is_ok();
            }
        }
    });
    let addr = endpoint
        .recv_timeout(STEP)
        .expect("Chromium says where DevTools listens");
    addr.parse().expect("a DevTools address")
}

/// The WebSocket address of the browser's first page, from `/json/list`.
fn page_socket_url(endpoint: SocketAddr) -> String {
    let mut http = TcpStream::connect(endpoint).unwrap();
    http.set_read_timeout(Some(STEP)).unwrap();
    write!(
        http,
        "GET /json/list HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // Chromium keeps the connection open: read what Content-Length says.
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    let body = loop {
        let read = http.read(&mut chunk).expect("a /json/list response");
        assert!(read > 0, "Chromium closed /json/list early");
        response.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&response);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .expect("a Content-Length");
        if body.len() >= length {
            break body.to_owned();
        }
    };
    let targets: Vec<Value> = serde_json::from_str(&body).expect("a JSON target list");
    targets
        .iter()
        .find(|target| target["type"] == "page")
        .and_then(|target| target["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_owned()
}

crate::both_transports!(the_page_logs_in_joins_and_chats_with_irc_and_nc);

/// The page logs in to the account `webuser` (which a line user registers
/// first), joins `#web`, shows what was said there before, and chats there
/// with an IRC client and a line user.
fn the_page_logs_in_joins_and_chats_with_irc_and_nc(transport: Transport) {
    let Some(mut browser) = Browser::start() else {
        return;
    };
    let server = web_server(transport, |_| {});
    let (irc, line) = (irc_addr(&server), line_addr(&server));
    let page = format!("http://{}/", web_addr(&server));
    let mut owner = Client::register(line, "webuser");
    owner.send("/register sesame");
    owner.expect("- Account webuser registered; you are logged in");
    owner.send("/quit");
    owner.read_to_end();
    let mut irc_user = Client::irc(irc, "ircuser");
    irc_user.send("JOIN #web");
    irc_user.expect_numeric("366");
    let mut line_user = Client::in_room(line, "lineuser", "#web");
    irc_user.send("PRIVMSG #web :said before the page came");
    line_user.expect_with("the earlier message", |line| {
        line.ends_with("said before the page came")
    });

    browser.open(&page);
    browser.eval(
        "document.getElementById('login-nick').value = 'webuser';
         document.getElementById('login-password').value = 'sesame';
         document.getElementById('login-room').value = '#web';
         document.getElementById('login-go').click();",
    );
    browser.wait_for("document.body.dataset.state === 'connected'");
    browser.wait_for("document.getElementById('me-account').textContent === '(webuser)'");
    browser.wait_for("document.querySelector('#rooms li.active')?.dataset.name === '#web'");
    irc_user.expect_with("the page's join", |line| {
        line.starts_with(":webuser!") && line.ends_with(" JOIN #web")
    });
    // The room's history, fetched by the page with CHATHISTORY.
    browser.wait_for(
        "[...document.querySelectorAll('#log .msg.history')].some(m => m.textContent.includes('<ircuser>said before the page came'))",
    );
    browser.wait_for(
        "['ircuser', 'lineuser'].every(nick => [...document.querySelectorAll('#members li')].some(li => li.textContent.endsWith(nick)))",
    );

    browser.eval(
        "document.getElementById('say').value = 'hello from the browser';
         document.querySelector('#say-form button').click();",
    );
    irc_user.expect_with("the page's message", |line| {
        line.starts_with(":webuser!") && line.ends_with(" PRIVMSG #web :hello from the browser")
    });
    line_user.expect_with("the page's message", |line| {
        line.contains("webuser") && line.ends_with("hello from the browser")
    });
    irc_user.send("PRIVMSG #web :hello from irc");
    line_user.send("hello from nc");
    for (nick, text) in [("ircuser", "hello from irc"), ("lineuser", "hello from nc")] {
        browser.wait_for(&format!(
            "[...document.querySelectorAll('#log .msg')].some(m => m.textContent.includes('<{nick}>{text}'))"
        ));
    }
    browser.screenshot(&format!("chat-{transport}"));
    assert!(
        browser.errors.is_empty(),
        "the page reported errors: {:?}",
        browser.errors
    );
}
