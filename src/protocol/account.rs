//! Accounts as clients ask for them and are told about them, whatever the
//! wire: IRC users speak to the `NickServ` pseudo-user (or use SASL), line
//! users type `/register`, `/login` and friends; both end up here.

use std::fmt;

use super::Name;
use crate::accounts::limits::{CERTS_PER_ACCOUNT, PASSWORD_MAX, PASSWORD_MIN};

/// The pseudo-user IRC users register and log in through.
pub const NICKSERV: &str = "NickServ";

/// Something asked of one's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountCommand {
    /// Register one's current nickname as an account.
    Register {
        password: String,
        email: Option<String>,
    },
    /// Log in, to the account named after one's nickname when `None`.
    Identify {
        account: Option<String>,
        password: String,
    },
    Logout,
    /// Delete the account one is logged in to.
    Drop,
    /// What is known of an account (one's own when `None`).
    Info(Option<String>),
    /// Take one's account's nickname back from whoever holds it.
    Regain(String),
    /// Issue an HTTP API token for the account one is logged in to.
    Token,
    /// The client certificates that log in to one's account (SASL EXTERNAL).
    Cert(CertCommand),
    Help,
    /// A NickServ command that does not exist, or lacks its arguments.
    Invalid(AccountError),
}

/// `NickServ CERT ...`, line `/cert ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertCommand {
    /// Add a fingerprint (the connection's own certificate's when `None`).
    Add(Option<String>),
    Del(String),
    List,
}

impl CertCommand {
    /// Parses `ADD [fingerprint]`, `DEL fingerprint` or `LIST` (any case).
    pub fn parse(args: &[&str]) -> Result<CertCommand, AccountError> {
        let subcommand = args.first().map(|word| word.to_ascii_uppercase());
        match (subcommand.as_deref(), &args[1.min(args.len())..]) {
            (Some("ADD"), []) => Ok(CertCommand::Add(None)),
            (Some("ADD"), [fingerprint]) => Ok(CertCommand::Add(Some((*fingerprint).to_owned()))),
            (Some("DEL" | "DELETE"), [fingerprint]) => {
                Ok(CertCommand::Del((*fingerprint).to_owned()))
            }
            (Some("LIST"), []) => Ok(CertCommand::List),
            _ => Err(AccountError::Usage(CERT_USAGE)),
        }
    }
}

const CERT_USAGE: &str = "CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST";

/// A certificate fingerprint as users give it: 64 hex digits, colons
/// between bytes allowed; lowercase without colons, as WHOIS shows it.
pub fn fingerprint(text: &str) -> Option<Box<str>> {
    let hex: String = text
        .chars()
        .filter(|&c| c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.bytes().all(|byte| byte.is_ascii_hexdigit())).then(|| hex.into())
}

/// Parses what an IRC user tells NickServ (`REGISTER pw`, `IDENTIFY a pw`...).
pub fn nickserv_command(text: &str) -> AccountCommand {
    let mut words = text.split_whitespace();
    let command = words.next().unwrap_or_default().to_ascii_uppercase();
    let args: Vec<&str> = words.collect();
    let usage = |usage: &'static str| AccountCommand::Invalid(AccountError::Usage(usage));
    match (command.as_str(), args.as_slice()) {
        ("REGISTER", [password]) => AccountCommand::Register {
            password: (*password).to_owned(),
            email: None,
        },
        ("REGISTER", [password, email]) => AccountCommand::Register {
            password: (*password).to_owned(),
            email: Some((*email).to_owned()),
        },
        ("REGISTER", _) => usage("REGISTER <password> [email]"),
        ("IDENTIFY" | "LOGIN", [password]) => AccountCommand::Identify {
            account: None,
            password: (*password).to_owned(),
        },
        ("IDENTIFY" | "LOGIN", [account, password]) => AccountCommand::Identify {
            account: Some((*account).to_owned()),
            password: (*password).to_owned(),
        },
        ("IDENTIFY" | "LOGIN", _) => usage("IDENTIFY [account] <password>"),
        ("LOGOUT", []) => AccountCommand::Logout,
        ("DROP", _) => AccountCommand::Drop,
        ("INFO", []) => AccountCommand::Info(None),
        ("INFO", [account]) => AccountCommand::Info(Some((*account).to_owned())),
        ("REGAIN" | "GHOST" | "RECOVER", [nick]) => AccountCommand::Regain((*nick).to_owned()),
        ("REGAIN" | "GHOST" | "RECOVER", _) => usage("REGAIN <nick>"),
        ("TOKEN", []) => AccountCommand::Token,
        ("CERT", args) => {
            CertCommand::parse(args).map_or_else(AccountCommand::Invalid, AccountCommand::Cert)
        }
        ("HELP" | "", _) => AccountCommand::Help,
        (other, _) => AccountCommand::Invalid(AccountError::UnknownCommand(other.to_owned())),
    }
}

/// What a user is told about their account. IRC users hear it from
/// NickServ; line users read it as a reply (`-`) or, for failures, an
/// error (`!`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountNotice {
    Registered(Name),
    LoggedIn(Name),
    LoggedOut,
    Dropped(Name),
    Info {
        account: Name,
        /// Unix time of registration.
        registered_at: i64,
        /// Logged-in connections.
        online: usize,
    },
    /// The nickname belongs to an account the user is not logged in to.
    NickOwned {
        nick: Name,
        grace_secs: u64,
    },
    /// The grace period passed: the user now has a guest nickname.
    Renamed(Name),
    CertAdded(Box<str>),
    CertRemoved(Box<str>),
    /// `CERT LIST`: how many follow, one `Cert` each.
    Certs {
        account: Name,
        count: usize,
    },
    Cert(Box<str>),
    /// The nickname was taken back from whoever held it.
    Regained(Name),
    /// An HTTP API token, shown this once.
    Token {
        token: String,
        /// Unix seconds.
        expires_at: i64,
    },
    Help,
    Failed(AccountError),
}

/// Why an account command failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountError {
    WrongPassword,
    NoSuchAccount(String),
    Exists(String),
    NotLoggedIn,
    AlreadyLoggedIn(Name),
    /// Too many failed logins lately, for the account or from the address.
    Throttled {
        retry_secs: u64,
    },
    /// The hashing or storage queue is full.
    Busy,
    /// The change could not be saved.
    NotSaved,
    BadPassword,
    BadEmail,
    TooManyRegistrations,
    /// Nobody holds the nickname, or it is not one's account's.
    CannotRegain(String),
    /// `CERT ADD` without a fingerprint, on a connection without one.
    NoCertificate,
    BadFingerprint(String),
    /// The certificate already logs in to an account (whichever).
    CertTaken,
    NoSuchCert(Box<str>),
    TooManyCerts,
    UnknownCommand(String),
    Usage(&'static str),
}

impl fmt::Display for AccountNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountNotice::Registered(account) => {
                write!(f, "Account {account} registered; you are logged in")
            }
            AccountNotice::LoggedIn(account) => write!(f, "You are now logged in as {account}"),
            AccountNotice::LoggedOut => write!(f, "You are now logged out"),
            AccountNotice::Dropped(account) => write!(f, "Account {account} dropped"),
            AccountNotice::Info {
                account,
                registered_at,
                online,
            } => {
                let since = jiff::Timestamp::from_second(*registered_at)
                    .map(|time| time.strftime("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|_| "?".into());
                write!(
                    f,
                    "Account {account}: registered {since}, {online} connection(s) logged in"
                )
            }
            AccountNotice::NickOwned { nick, grace_secs } => write!(
                f,
                "{nick} is a registered nickname: log in within {grace_secs} s \
                 (IRC: /msg NickServ IDENTIFY password; nc: /login {nick} password) \
                 or you will be renamed"
            ),
            AccountNotice::Renamed(guest) => {
                write!(
                    f,
                    "You did not log in in time; your nickname is now {guest}"
                )
            }
            AccountNotice::Regained(nick) => write!(f, "You took {nick} back"),
            AccountNotice::Token { token, expires_at } => {
                let until = jiff::Timestamp::from_second(*expires_at)
                    .map(|time| time.strftime("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|_| "?".into());
                write!(
                    f,
                    "Your API token (keep it secret, it is shown once; valid until {until}): {token}"
                )
            }
            AccountNotice::CertAdded(fingerprint) => write!(
                f,
                "Certificate {fingerprint} added: it logs you in with SASL EXTERNAL"
            ),
            AccountNotice::CertRemoved(fingerprint) => {
                write!(f, "Certificate {fingerprint} removed")
            }
            AccountNotice::Certs { account, count } => {
                write!(f, "Account {account} has {count} certificate(s)")
            }
            AccountNotice::Cert(fingerprint) => write!(f, "Certificate {fingerprint}"),
            AccountNotice::Help => write!(
                f,
                "NickServ commands: REGISTER <password> [email], IDENTIFY [account] <password>, \
                 LOGOUT, DROP, INFO [account], REGAIN <nick>, TOKEN, \
                 CERT ADD [fingerprint] | DEL <fingerprint> | LIST"
            ),
            AccountNotice::Failed(error) => error.fmt(f),
        }
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::WrongPassword => write!(f, "Invalid account credentials"),
            AccountError::NoSuchAccount(account) => write!(f, "No such account: {account}"),
            AccountError::Exists(account) => write!(f, "Account {account} is already registered"),
            AccountError::NotLoggedIn => write!(f, "You are not logged in"),
            AccountError::AlreadyLoggedIn(account) => {
                write!(f, "You are already logged in as {account}")
            }
            AccountError::Throttled { retry_secs } => {
                write!(f, "Too many failed logins: try again in {retry_secs} s")
            }
            AccountError::Busy => write!(f, "Server busy, try again in a moment"),
            AccountError::NotSaved => write!(f, "The change could not be saved; try again later"),
            AccountError::BadPassword => write!(
                f,
                "Passwords must be {PASSWORD_MIN} to {PASSWORD_MAX} bytes without spaces"
            ),
            AccountError::BadEmail => write!(f, "That is not an e-mail address"),
            AccountError::TooManyRegistrations => write!(
                f,
                "Too many accounts registered from your address lately; try again later"
            ),
            AccountError::CannotRegain(nick) => {
                write!(f, "{nick} is not held by anyone else, or is not yours")
            }
            AccountError::NoCertificate => write!(
                f,
                "You are not connected with a client certificate: give its fingerprint"
            ),
            AccountError::BadFingerprint(text) => {
                write!(f, "{text} is not a SHA-256 fingerprint (64 hex digits)")
            }
            AccountError::CertTaken => {
                write!(f, "That certificate already logs in to an account")
            }
            AccountError::NoSuchCert(fingerprint) => {
                write!(f, "Certificate {fingerprint} is not on your account")
            }
            AccountError::TooManyCerts => write!(
                f,
                "Your account has {CERTS_PER_ACCOUNT} certificates already: remove one first"
            ),
            AccountError::UnknownCommand(command) => {
                write!(f, "Unknown command {command} (try HELP)")
            }
            AccountError::Usage(usage) => write!(f, "Usage: {usage}"),
        }
    }
}

/// What the IRC codec says in `AUTHENTICATE` exchanges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslReply {
    /// The next server message of the mechanism (`AUTHENTICATE +` when empty).
    Continue(Vec<u8>),
    /// 903.
    Success,
    /// 904.
    Failed,
    /// 905: a payload too long.
    TooLong,
    /// 906: the client gave up.
    Aborted,
    /// 907: already logged in.
    Already,
    /// 908, before a 904: the mechanism asked for is not offered.
    Mechanisms,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nickserv_commands() {
        assert_eq!(
            nickserv_command("register s3cret a@b.c"),
            AccountCommand::Register {
                password: "s3cret".into(),
                email: Some("a@b.c".into())
            }
        );
        assert_eq!(
            nickserv_command("IDENTIFY s3cret"),
            AccountCommand::Identify {
                account: None,
                password: "s3cret".into()
            }
        );
        assert_eq!(
            nickserv_command("identify ann s3cret"),
            AccountCommand::Identify {
                account: Some("ann".into()),
                password: "s3cret".into()
            }
        );
        assert_eq!(nickserv_command("LOGOUT"), AccountCommand::Logout);
        assert_eq!(nickserv_command("token"), AccountCommand::Token);
        assert_eq!(
            nickserv_command("cert add"),
            AccountCommand::Cert(CertCommand::Add(None))
        );
        assert_eq!(
            nickserv_command("CERT DEL ab:cd"),
            AccountCommand::Cert(CertCommand::Del("ab:cd".into()))
        );
        assert_eq!(
            nickserv_command("CERT LIST"),
            AccountCommand::Cert(CertCommand::List)
        );
        assert_eq!(
            nickserv_command("CERT frob"),
            AccountCommand::Invalid(AccountError::Usage(CERT_USAGE))
        );
        assert_eq!(nickserv_command(""), AccountCommand::Help);
        assert_eq!(
            nickserv_command("REGISTER"),
            AccountCommand::Invalid(AccountError::Usage("REGISTER <password> [email]"))
        );
        assert_eq!(
            nickserv_command("FROB x"),
            AccountCommand::Invalid(AccountError::UnknownCommand("FROB".into()))
        );
    }

    #[test]
    fn fingerprints_are_64_hex_digits_with_or_without_colons() {
        let hex = "AB".repeat(32);
        let lower: Box<str> = "ab".repeat(32).into();
        assert_eq!(fingerprint(&hex), Some(lower.clone()));
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(fingerprint(&colons), Some(lower));
        assert_eq!(fingerprint("abc"), None);
        assert_eq!(fingerprint(&"zz".repeat(32)), None);
    }
}
