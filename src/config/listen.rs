//! Listeners named by URL: `irc://127.0.0.1:6667`, `ircs://0.0.0.0:6697`,
//! `line://127.0.0.1:7878`, `lines://...`, `http://127.0.0.1:8080`,
//! `https://...`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::protocol::Protocol;

/// What a listener serves, and how: the scheme of its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// IRC over plain TCP.
    Irc,
    /// IRC over TLS.
    Ircs,
    /// The line protocol over plain TCP.
    Line,
    /// The line protocol over TLS.
    Lines,
    /// HTTP: the browser client, the API, `/metrics`, and IRC over
    /// WebSocket at `/ws`.
    Http,
    /// The same over TLS.
    Https,
}

/// Every scheme with its name, its protocol and whether it is TLS: the one
/// table a new scheme is added to. HTTP's protocol is the one spoken over
/// its WebSocket.
const SCHEMES: [(Scheme, &str, Protocol, bool); 6] = [
    (Scheme::Irc, "irc", Protocol::Irc, false),
    (Scheme::Ircs, "ircs", Protocol::Irc, true),
    (Scheme::Line, "line", Protocol::Line, false),
    (Scheme::Lines, "lines", Protocol::Line, true),
    (Scheme::Http, "http", Protocol::Irc, false),
    (Scheme::Https, "https", Protocol::Irc, true),
];

impl Scheme {
    fn entry(self) -> &'static (Scheme, &'static str, Protocol, bool) {
        SCHEMES
            .iter()
            .find(|entry| entry.0 == self)
            .expect("every scheme is in the table")
    }

    /// The scheme's name in a URL.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// The protocol spoken once the connection is set up.
    pub fn protocol(self) -> Protocol {
        self.entry().2
    }

    /// Whether connections start with a TLS handshake.
    pub fn tls(self) -> bool {
        self.entry().3
    }

    /// Whether connections speak HTTP until one upgrades to WebSocket.
    pub fn web(self) -> bool {
        matches!(self, Scheme::Http | Scheme::Https)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A listener: what it serves, where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    pub scheme: Scheme,
    /// Port 0 picks a free port.
    pub addr: SocketAddr,
}

impl Listen {
    /// `scheme://addr`.
    pub fn new(scheme: Scheme, addr: impl Into<SocketAddr>) -> Listen {
        Listen {
            scheme,
            addr: addr.into(),
        }
    }
}

impl FromStr for Listen {
    type Err = String;

    /// Parses `SCHEME://ADDRESS:PORT` (an IPv6 address in brackets).
    fn from_str(text: &str) -> Result<Listen, String> {
        let names = || {
            SCHEMES
                .iter()
                .map(|entry| format!("{}://", entry.1))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (name, addr) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} is not a URL like irc://127.0.0.1:6667"))?;
        let &(scheme, ..) = SCHEMES
            .iter()
            .find(|entry| entry.1 == name)
            .ok_or_else(|| format!("{text:?}: unknown scheme {name:?}, expected {}", names()))?;
        let addr = addr.trim_end_matches('/').parse().map_err(|_| {
            format!(
                "{text:?}: {addr:?} is not an address and port like 127.0.0.1:6667 or [::1]:6667"
            )
        })?;
        Ok(Listen { scheme, addr })
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_scheme_and_address() {
        for (url, scheme, protocol, tls) in [
            ("irc://127.0.0.1:6667", Scheme::Irc, Protocol::Irc, false),
            ("ircs://0.0.0.0:6697", Scheme::Ircs, Protocol::Irc, true),
            (
                "line://127.0.0.1:7878/",
                Scheme::Line,
                Protocol::Line,
                false,
            ),
            ("lines://[::1]:7879", Scheme::Lines, Protocol::Line, true),
            ("http://127.0.0.1:8080", Scheme::Http, Protocol::Irc, false),
            ("https://[::]:8443", Scheme::Https, Protocol::Irc, true),
        ] {
            let listen: Listen = url.parse().unwrap();
            assert_eq!(listen.scheme, scheme, "{url}");
            assert_eq!(listen.scheme.protocol(), protocol, "{url}");
            assert_eq!(listen.scheme.tls(), tls, "{url}");
            assert_eq!(listen.to_string(), url.trim_end_matches('/'));
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let error = "127.0.0.1:6667".parse::<Listen>().unwrap_err();
        assert!(error.contains("not a URL"), "{error}");
        let error = "gopher://127.0.0.1:70".parse::<Listen>().unwrap_err();
        assert!(error.contains("unknown scheme \"gopher\""), "{error}");
        assert!(error.contains("ircs://"), "lists the schemes: {error}");
        let error = "irc://localhost".parse::<Listen>().unwrap_err();
        assert!(error.contains("not an address and port"), "{error}");
    }
}
