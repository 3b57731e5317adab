//! TLS listeners: rustls clients beside plain ones, handshakes that fail or
//! stall, certificates reloaded while serving, client certificates.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConnection, StreamOwned};
use switchboard::transport::tls::{client_trusting_anyone, fingerprint, self_signed};
use switchboard::{Listen, Scheme, Server, Transport};
use tempfile::TempDir;

use crate::util::{Binary, Client, PATIENCE, numeric, server_with};

crate::both_transports!(
    a_tls_client_and_plain_clients_chat,
    a_stalled_handshake_delays_nobody_and_is_closed,
    plain_irc_to_a_tls_port_is_closed,
    a_client_certificate_shows_in_whois_to_its_owner_only,
    sighup_reloads_the_certificate_without_dropping_anyone,
    sts_sends_plain_clients_to_the_tls_port,
    sasl_external_logs_in_with_a_registered_certificate_after_a_restart,
    shutdown_does_not_wait_for_a_stalled_handshake,
    a_tls_listener_without_a_certificate_is_refused_at_start,
);

/// A self-signed certificate and its key, as PEM files in `dir` named
/// after `name`.
pub fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = self_signed(vec!["localhost".into()]).expect("a certificate");
    let paths = (
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&paths.0, cert).unwrap();
    std::fs::write(&paths.1, key).unwrap();
    paths
}

/// A server with plain and TLS listeners for both protocols.
fn tls_server(
    transport: Transport,
    dir: &Path,
    tweak: impl FnOnce(&mut switchboard::Config),
) -> Server {
    let (cert, key) = certificate(dir, "server");
    server_with(transport, |config| {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        config.listen.extend([
            Listen::new(Scheme::Ircs, any),
            Listen::new(Scheme::Lines, any),
        ]);
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
        tweak(config);
    })
}

fn addr(server: &Server, scheme: Scheme) -> SocketAddr {
    server.addr(scheme).expect("a listener")
}

/// A client certificate: its chain and key, and its fingerprint.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pub fingerprint: String,
}

impl Identity {
    pub fn new() -> Identity {
        let (cert, key) = self_signed(vec!["client".into()]).unwrap();
        let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
        Identity {
            fingerprint: fingerprint(&chain[0]),
            chain,
            key: PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        }
    }
}

/// One TLS session read and written through two handles; the test reads
/// and writes from one thread, so the lock is never contended.
#[derive(Clone)]
struct Shared(Arc<Mutex<StreamOwned<ClientConnection, TcpStream>>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().read(buf)
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap().flush()
    }
}

/// A TLS client, with a client certificate if given, its handshake done;
/// and the fingerprint of the certificate the server showed.
pub fn tls_client(addr: SocketAddr, identity: Option<&Identity>) -> (Client, String) {
    let stream = tls_stream(addr, identity);
    let socket = stream.sock.try_clone().unwrap();
    let served = fingerprint(&stream.conn.peer_certificates().expect("a certificate")[0]);
    let shared = Shared(Arc::new(Mutex::new(stream)));
    let client = Client::carried(socket, Box::new(shared.clone()), Box::new(shared));
    (client, served)
}

/// A TLS connection to `addr`, with a client certificate if given, its
/// handshake done.
pub fn tls_stream(
    addr: SocketAddr,
    identity: Option<&Identity>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let identity = identity.map(|identity| (identity.chain.clone(), identity.key.clone_key()));
    let config = client_trusting_anyone(identity).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let connection = ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(addr).expect("connect");
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut stream = StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("the TLS handshake");
    }
    stream
}

/// Reads until the server closes the connection; true if it did (rather
/// than the read timing out).
fn closed_by_server(mut stream: &TcpStream) -> bool {
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn a_tls_client_and_plain_clients_chat(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let server = tls_server(transport, dir.path(), |_| {});
    let (alice, _) = tls_client(addr(&server, Scheme::Ircs), None);
    let mut alice = alice.irc_register("alice");
    let mut bob = Client::irc(addr(&server, Scheme::Irc), "bob");
    let (carol, _) = tls_client(addr(&server, Scheme::Lines), None);
    let mut carol = carol;
    carol.expect("- welcome to switchboard!");
    let mut carol = carol.named("carol");
    alice.send("JOIN #tls");
    alice.expect_numeric("366");
    bob.send("JOIN #tls");
    bob.expect_numeric("366");
    carol.join("#tls");
    alice.send("PRIVMSG #tls :over TLS");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #tls :over TLS");
    carol.expect("[#tls] <alice> over TLS");
    bob.send("PRIVMSG #tls :in the clear");
    alice.expect(":bob!~bob@127.0.0.1 PRIVMSG #tls :in the clear");
    carol.send("and from nc over TLS");
    alice.expect(":carol!~carol@127.0.0.1 PRIVMSG #tls :and from nc over TLS");
    bob.send("WHOIS alice");
    bob.expect_numeric("671");
    bob.send("WHOIS bob");
    let end = bob.expect_with("the end of WHOIS", |line| {
        numeric(line) == Some("671") || numeric(line) == Some("318")
    });
    assert_eq!(numeric(&end), Some("318"), "bob is not on TLS");
}

fn a_stalled_handshake_delays_nobody_and_is_closed(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let server = tls_server(transport, dir.path(), |config| {
        config.register_timeout = std::time::Duration::from_secs(1);
    });
    let tls = addr(&server, Scheme::Ircs);
    let silent = TcpStream::connect(tls).unwrap();
    let mut halfway = TcpStream::connect(tls).unwrap();
    // A TLS record header announcing a handshake that never comes.
    halfway
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let mut bob = Client::irc(addr(&server, Scheme::Irc), "bob");
    let (alice, _) = tls_client(tls, None);
    let mut alice = alice.irc_register("alice");
    alice.send("JOIN #r");
    alice.expect_numeric("366");
    bob.send("JOIN #r");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #r");
    alice.send("PRIVMSG #r :hello");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #r :hello");
    for stalled in [&silent, &halfway] {
        stalled.set_read_timeout(Some(PATIENCE)).unwrap();
        assert!(closed_by_server(stalled), "a stalled handshake is closed");
    }
    // Nobody heard of them: the next thing bob reads is his own answer.
    bob.send("PING :after");
    bob.expect_next(":test.server PONG test.server :after");
    alice.send("PING :after");
    alice.expect_next(":test.server PONG test.server :after");
}

fn plain_irc_to_a_tls_port_is_closed(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let server = tls_server(transport, dir.path(), |_| {});
    let mut bob = Client::irc(addr(&server, Scheme::Irc), "bob");
    let mut plain = TcpStream::connect(addr(&server, Scheme::Ircs)).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    plain
        .write_all(b"NICK eve\r\nUSER eve 0 * :Eve\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let ended = plain.read_to_end(&mut answer);
    assert!(
        ended.is_ok() || ended.unwrap_err().kind() == std::io::ErrorKind::ConnectionReset,
        "closed, not left waiting"
    );
    // At most a TLS alert record, never an IRC line.
    assert!(answer.len() <= 7 && !answer.contains(&b' '), "{answer:?}");
    bob.send("WHOIS eve");
    bob.expect_numeric("401");
    let (alice, _) = tls_client(addr(&server, Scheme::Ircs), None);
    alice.irc_register("alice");
}

fn a_client_certificate_shows_in_whois_to_its_owner_only(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let server = tls_server(transport, dir.path(), |_| {});
    let identity = Identity::new();
    let (alice, _) = tls_client(addr(&server, Scheme::Ircs), Some(&identity));
    let mut alice = alice.irc_register("alice");
    alice.send("WHOIS alice");
    let certfp = alice.expect_numeric("276");
    assert_eq!(
        certfp,
        format!(
            ":test.server 276 alice alice :has client certificate fingerprint {}",
            identity.fingerprint
        )
    );
    let mut bob = Client::irc(addr(&server, Scheme::Irc), "bob");
    bob.send("WHOIS alice");
    let line = bob.expect_with("276 or the end", |line| {
        numeric(line) == Some("276") || numeric(line) == Some("318")
    });
    assert_eq!(numeric(&line), Some("318"), "only alice sees it: {line}");
}

fn sighup_reloads_the_certificate_without_dropping_anyone(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let served = |path: &Path| {
        let der = CertificateDer::from_pem_file(path).unwrap();
        fingerprint(&der)
    };
    let first = served(&cert);
    let (cert_arg, key_arg) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let binary = Binary::start(
        transport,
        &[
            "--listen",
            "ircs://127.0.0.1:0",
            "--tls-cert",
            cert_arg,
            "--tls-key",
            key_arg,
        ],
    );
    let tls: SocketAddr = binary
        .log_line("the TLS address", |line| {
            line.split_once("serving ircs://")
                .map(|(_, addr)| addr.trim().parse().unwrap())
        })
        .expect("a TLS listener");
    let (alice, seen) = tls_client(tls, None);
    assert_eq!(seen, first);
    let mut alice = alice.irc_register("alice");
    let hangup = |binary: &Binary| {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &binary.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    // Renewed: the same files, a new certificate.
    let (renewed, renewed_key) = certificate(dir.path(), "renewed");
    std::fs::rename(&renewed, &cert).unwrap();
    std::fs::rename(&renewed_key, &key).unwrap();
    let second = served(&cert);
    hangup(&binary);
    binary
        .log_line("the reload", |line| {
            line.contains("TLS certificate reloaded").then_some(())
        })
        .expect("reloaded");
    let (bob, seen) = tls_client(tls, None);
    assert_eq!(seen, second, "a new handshake gets the new certificate");
    let mut bob = bob.irc_register("bob");
    alice.send("PRIVMSG bob :still here");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG bob :still here");
    // A broken file is refused; the certificate served stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    hangup(&binary);
    binary
        .log_line("the refusal", |line| {
            line.contains("cannot reload").then_some(())
        })
        .expect("refused");
    let (_, seen) = tls_client(tls, None);
    assert_eq!(seen, second);
    bob.send("PRIVMSG alice :and you");
    alice.expect(":bob!~bob@127.0.0.1 PRIVMSG alice :and you");
}

/// The capabilities a client is offered for `CAP LS version`.
fn offered(client: &mut Client, version: &str) -> String {
    client.send(&format!("CAP LS {version}"));
    client.expect_with("CAP LS", |line| line.contains(" CAP * LS :"))
}

fn sts_sends_plain_clients_to_the_tls_port(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let server = tls_server(transport, dir.path(), |_| {});
    let port = addr(&server, Scheme::Ircs).port();
    let mut plain = Client::connect_quietly(addr(&server, Scheme::Irc));
    let caps = offered(&mut plain, "302");
    assert!(caps.ends_with(&format!(" sts=port={port}")), "{caps}");
    assert!(!offered(&mut plain, "").contains("sts"), "only with values");
    let (mut secure, _) = tls_client(addr(&server, Scheme::Ircs), None);
    let caps = offered(&mut secure, "302");
    assert!(caps.ends_with(" sts=duration=2592000"), "{caps}");
    secure.send("CAP REQ :sts");
    secure.expect(":test.server CAP * NAK :sts");
    // Off, or without a TLS listener, there is no policy to state.
    let quiet = tls_server(transport, dir.path(), |config| config.sts_duration = None);
    let mut plain = Client::connect_quietly(addr(&quiet, Scheme::Irc));
    assert!(!offered(&mut plain, "302").contains("sts"));
    let plain_only = crate::util::server(transport);
    let mut plain = Client::connect_quietly(crate::util::irc_addr(&plain_only));
    assert!(!offered(&mut plain, "302").contains("sts"));
}

fn sasl_external_logs_in_with_a_registered_certificate_after_a_restart(transport: Transport) {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("accounts.db").to_str().unwrap().to_owned();
    let identity = Identity::new();
    {
        let server = tls_server(transport, dir.path(), |config| config.db = db.clone());
        let (ann, _) = tls_client(addr(&server, Scheme::Ircs), Some(&identity));
        let mut ann = ann.irc_register("ann");
        ann.send("PRIVMSG NickServ :REGISTER sesame");
        ann.expect_numeric("900");
        ann.send("PRIVMSG NickServ :CERT ADD");
        ann.expect(&format!(
            ":NickServ!NickServ@test.server NOTICE ann :Certificate {} added",
            identity.fingerprint
        ));
        // A line user over TLS manages the same list.
        let (line, _) = tls_client(addr(&server, Scheme::Lines), None);
        let mut line = line;
        line.expect("- welcome to switchboard!");
        let mut line = line.named("lee");
        line.send("/login ann sesame");
        line.expect("- You are now logged in as ann");
        line.send("/cert list");
        line.expect("- Account ann has 1 certificate(s)");
        line.expect_next(&format!("- Certificate {}", identity.fingerprint));
    }
    let server = tls_server(transport, dir.path(), |config| config.db = db.clone());
    let (ann, _) = tls_client(addr(&server, Scheme::Ircs), Some(&identity));
    let mut ann = ann;
    ann.send("CAP REQ :sasl");
    ann.send("NICK ann");
    ann.send("USER ann 0 * :Ann");
    ann.send("AUTHENTICATE EXTERNAL");
    ann.expect("AUTHENTICATE +");
    ann.send("AUTHENTICATE +");
    ann.expect_numeric("900");
    ann.expect_numeric("903");
    ann.send("CAP END");
    ann.expect_numeric("001");
    // Without the certificate, EXTERNAL fails and nothing else changes.
    let (other, _) = tls_client(addr(&server, Scheme::Ircs), None);
    let mut other = other;
    other.send("CAP REQ :sasl");
    other.send("AUTHENTICATE EXTERNAL");
    other.expect("AUTHENTICATE +");
    other.send("AUTHENTICATE +");
    other.expect_numeric("904");
}

fn shutdown_does_not_wait_for_a_stalled_handshake(transport: Transport) {
    let dir = TempDir::new().unwrap();
    // Long enough that waiting it out would fail the test.
    let server = tls_server(transport, dir.path(), |config| {
        config.shutdown_timeout = 2 * PATIENCE;
        config.register_timeout = 2 * PATIENCE;
    });
    let stalled = TcpStream::connect(addr(&server, Scheme::Ircs)).unwrap();
    let (alice, _) = tls_client(addr(&server, Scheme::Ircs), None);
    let mut alice = alice.irc_register("alice");
    let (stopped_tx, stopped) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        server.stop();
        let _ = stopped_tx.send(());
    });
    alice.expect("ERROR :Closing Link");
    assert!(
        stopped.recv_timeout(PATIENCE).is_ok(),
        "the server stopped without waiting for the handshake"
    );
    stalled.set_read_timeout(Some(PATIENCE)).unwrap();
    assert!(closed_by_server(&stalled));
}

fn a_tls_listener_without_a_certificate_is_refused_at_start(transport: Transport) {
    let args = ["--listen", "ircs://127.0.0.1:0"];
    crate::hardening::refused_at_start(transport, &args, "needs --tls-cert and --tls-key");
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let args = [
        "--listen",
        "ircs://127.0.0.1:0",
        "--tls-cert",
        missing,
        "--tls-key",
        missing,
    ];
    crate::hardening::refused_at_start(transport, &args, "--tls-cert");
}

#[test]
fn gen_cert_writes_a_pair_that_serves_and_never_overwrites() {
    let dir = TempDir::new().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let gen_cert = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("gen-cert")
            .args([
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    assert!(gen_cert().status.success());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the key is its owner's alone");
    let written = std::fs::read(&cert).unwrap();
    let again = gen_cert();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not overwritten"));
    assert_eq!(std::fs::read(&cert).unwrap(), written);
    let server = server_with(Transport::Evented, |config| {
        config.listen = vec![Listen::new(Scheme::Ircs, ([127, 0, 0, 1], 0))];
        config.tls_cert = Some(cert.clone());
        config.tls_key = Some(key.clone());
    });
    let (client, served) = tls_client(addr(&server, Scheme::Ircs), None);
    assert_eq!(
        served,
        fingerprint(&CertificateDer::from_pem_file(&cert).unwrap())
    );
    client.irc_register("alice");
}
