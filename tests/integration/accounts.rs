//! Accounts over real sockets (issue 13): registering, logging in after a
//! restart on the same database, SASL PLAIN and SCRAM-SHA-256, nickname
//! ownership, and one account used from both protocols.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use switchboard::{Config, Transport};

use crate::util::{Client, irc_addr, line_addr, numeric, server_with};

/// A server keeping its accounts in `dir`.
fn server_in(
    transport: Transport,
    dir: &tempfile::TempDir,
    tweak: impl FnOnce(&mut Config),
) -> switchboard::Server {
    let db = dir.path().join("accounts.db");
    server_with(transport, |config| {
        config.db = db.to_str().expect("a UTF-8 path").to_owned();
        tweak(config);
    })
}

/// Connects to IRC, asks for `sasl` and waits for the ACK, leaving
/// registration open (NICK and USER sent, no CAP END).
fn irc_with_sasl(server: &switchboard::Server, nick: &str) -> Client {
    let mut client = Client::connect_quietly(irc_addr(server));
    client.send("CAP LS 302");
    let ls = client.expect_numeric("CAP");
    assert!(ls.contains("sasl=EXTERNAL,PLAIN,SCRAM-SHA-256"), "{ls}");
    client.send("CAP REQ :sasl account-tag");
    client.expect_numeric("CAP");
    client.send(&format!("NICK {nick}"));
    client.send(&format!("USER {nick} 0 * :{nick}"));
    client
}

fn sasl_plain(client: &mut Client, account: &str, password: &str) {
    client.send("AUTHENTICATE PLAIN");
    client.expect_next("AUTHENTICATE +");
    let payload = STANDARD.encode(format!("\0{account}\0{password}"));
    client.send(&format!("AUTHENTICATE {payload}"));
}

fn register_line_account(server: &switchboard::Server, nick: &str) {
    let mut ann = Client::register(line_addr(server), nick);
    ann.send("/register sesame");
    ann.expect(&format!("- Account {nick} registered; you are logged in"));
    ann.send("/quit");
    ann.read_to_end();
}

fn accounts_survive_a_restart(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = server_in(transport, &dir, |_| {});
        let mut ann = Client::register(line_addr(&server), "ann");
        ann.send("/register sesame");
        ann.expect("- Account ann registered; you are logged in");
        ann.send("/logout");
        ann.expect("- You are now logged out");
        ann.send("/login ann sesame");
        ann.expect("- You are now logged in as ann");
        server.stop();
    }
    let server = server_in(transport, &dir, |_| {});
    let mut ann = irc_with_sasl(&server, "ann");
    sasl_plain(&mut ann, "ann", "sesame");
    let logged_in = ann.expect_numeric("900");
    assert!(
        logged_in.ends_with(" ann :You are now logged in as ann"),
        "{logged_in}"
    );
    ann.expect_next(":test.server 903 * :SASL authentication successful");
    ann.send("CAP END");
    ann.expect_numeric("001");
    ann.send("WHOIS ann");
    let account = ann.expect_numeric("330");
    assert_eq!(account, ":test.server 330 ann ann ann :is logged in as");
}

fn a_wrong_password_is_refused_and_the_connection_stays_usable(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(transport, &dir, |_| {});
    register_line_account(&server, "ann");
    let mut eve = irc_with_sasl(&server, "eve");
    sasl_plain(&mut eve, "ann", "guess");
    eve.expect_next(":test.server 904 * :SASL authentication failed");
    eve.send("AUTHENTICATE *");
    eve.expect_next(":test.server 906 * :SASL authentication aborted");
    eve.send("CAP END");
    eve.expect_numeric("001");
    eve.send("PRIVMSG NickServ :IDENTIFY ann guess");
    eve.expect_with("NickServ's refusal", |line| {
        line == ":NickServ!NickServ@test.server NOTICE eve :Invalid account credentials"
    });
    let mut liz = Client::register(line_addr(&server), "liz");
    liz.send("/login ann guess");
    liz.expect("! error: Invalid account credentials");
}

/// The client's final SCRAM-SHA-256 message for `password`.
fn scram_final(password: &str, server_first: &str, client_first_bare: &str) -> String {
    let hmac = |key: &[u8], data: &[u8]| -> [u8; 32] {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().into()
    };
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|part| part.strip_prefix(name))
            .expect("a SCRAM field")
            .to_owned()
    };
    let salt = STANDARD.decode(field("s=")).unwrap();
    let mut salted = [0u8; 32];
    let iterations = field("i=").parse().unwrap();
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let without_proof = format!("c=biws,r={}", field("r="));
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(a, b)| a ^ b)
        .collect();
    format!("{without_proof},p={}", STANDARD.encode(proof))
}

fn sasl_scram_sha_256_logs_in(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(transport, &dir, |_| {});
    register_line_account(&server, "ann");
    let mut ann = irc_with_sasl(&server, "ann");
    ann.send("AUTHENTICATE SCRAM-SHA-256");
    ann.expect_next("AUTHENTICATE +");
    let bare = "n=ann,r=fyko+d2lbbFgONRv9qkxdawL";
    ann.send(&format!(
        "AUTHENTICATE {}",
        STANDARD.encode(format!("n,,{bare}"))
    ));
    let challenge = ann.expect_numeric("AUTHENTICATE");
    let server_first = String::from_utf8(
        STANDARD
            .decode(&challenge["AUTHENTICATE ".len()..])
            .unwrap(),
    )
    .unwrap();
    let client_final = scram_final("sesame", &server_first, bare);
    ann.send(&format!("AUTHENTICATE {}", STANDARD.encode(client_final)));
    let verifier = ann.expect_numeric("AUTHENTICATE");
    let verifier = STANDARD.decode(&verifier["AUTHENTICATE ".len()..]).unwrap();
    assert!(verifier.starts_with(b"v="), "{verifier:?}");
    ann.send("AUTHENTICATE +");
    ann.expect_numeric("900");
    ann.expect_next(":test.server 903 * :SASL authentication successful");
}

fn a_nick_taken_from_its_account_is_renamed_after_the_grace(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(transport, &dir, |config| {
        config.nick_grace = Duration::from_secs(1);
    });
    register_line_account(&server, "ann");
    let mut eve = Client::irc(irc_addr(&server), "ann");
    eve.expect_with("the warning", |line| {
        line.starts_with(":NickServ!NickServ@test.server NOTICE ann :ann is a registered nickname")
    });
    let renamed = eve.expect_numeric("NICK");
    assert_eq!(renamed, ":ann!~ann@127.0.0.1 NICK Guest1");
    // A line user the same.
    let mut liz = Client::register(line_addr(&server), "liz");
    liz.send("/nick ann");
    liz.expect("* liz is now known as ann");
    liz.expect("- ann is a registered nickname");
    liz.expect("* ann is now known as Guest2");
    // The owner, under another nickname, takes it back.
    let mut ann = Client::register(line_addr(&server), "ann_");
    eve.send("NICK ann");
    eve.expect_numeric("NICK");
    ann.send("/login ann sesame");
    ann.expect("- You are now logged in as ann");
    ann.send("/regain ann");
    ann.expect("* ann_ is now known as ann");
    ann.expect("- You took ann back");
    assert!(eve.expect_numeric("NICK").ends_with(" NICK Guest3"));
}

fn a_line_user_and_an_irc_user_share_an_account(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(transport, &dir, |_| {});
    let mut ann = Client::in_room(line_addr(&server), "ann", "#r");
    ann.send("/register sesame");
    ann.expect("- Account ann registered; you are logged in");
    let mut phone = irc_with_sasl(&server, "ann_phone");
    sasl_plain(&mut phone, "ann", "sesame");
    phone.expect_numeric("903");
    phone.send("CAP END");
    phone.expect_numeric("001");
    phone.send("PRIVMSG NickServ :INFO");
    phone.expect_with("INFO", |line| {
        numeric(line) == Some("NOTICE") && line.contains("2 connection(s) logged in")
    });
    // account-tag: the phone sees whose account speaks.
    phone.send("JOIN #r");
    phone.expect_numeric("366");
    ann.send("hello from nc");
    phone.expect_next("@account=ann :ann!~ann@127.0.0.1 PRIVMSG #r :hello from nc");
    ann.send("/whois ann_phone");
    ann.expect("- ann_phone is logged in as ann");
}

crate::both_transports!(
    accounts_survive_a_restart,
    a_wrong_password_is_refused_and_the_connection_stays_usable,
    sasl_scram_sha_256_logs_in,
    a_nick_taken_from_its_account_is_renamed_after_the_grace,
    a_line_user_and_an_irc_user_share_an_account,
);
