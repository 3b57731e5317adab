//! Who is asking: whether a browser page's `Origin` may use the WebSocket
//! and the API, and which address a request really came from behind a
//! reverse proxy.

use std::net::IpAddr;
use std::str::FromStr;

use super::http::Request;

/// Whether a request's `Origin` is allowed. No `Origin` (curl, irctest,
/// native clients) is allowed: the check is there to stop other sites'
/// pages from using a visitor's browser. With `allowed` empty the origin
/// must be the server's own, as the browser reached it (the `Host`
/// header, any scheme); otherwise it must be one of `allowed` exactly,
/// as `--web-origin` gives them (`https://chat.example.org`, `*` for any).
pub fn origin_allowed(request: &Request, allowed: &[String]) -> bool {
    let Some(origin) = request.header("origin") else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if !allowed.is_empty() {
        return allowed
            .iter()
            .any(|allowed| allowed == "*" || allowed.trim_end_matches('/') == origin);
    }
    let Some(host) = request.header("host") else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// An address or a network (`10.0.0.0/8`, `::1`), as `--trusted-proxy`
/// gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are the same.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or ADDRESS/BITS"))?;
        let addr = addr.to_canonical();
        let most = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            most
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|&bits| bits <= most)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {most} bits"))?
        };
        Ok(Network { addr, prefix })
    }
}

/// The address a request came from: `peer`, or, when `peer` is one of
/// `proxies`, the last address in `X-Forwarded-For` that is not a proxy
/// (each proxy appends the address it heard from, so earlier entries are
/// whatever the client claimed). An unreadable header is ignored.
pub fn client_ip(request: &Request, peer: IpAddr, proxies: &[Network]) -> IpAddr {
    let trusted = |ip: IpAddr| proxies.iter().any(|network| network.contains(ip));
    if !trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    forwarded
        .into_iter()
        .rev()
        .find(|&ip| !trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request::get("/ws", headers)
    }

    #[test]
    fn by_default_only_the_servers_own_origin_may_use_it() {
        let host = ("Host", "127.0.0.1:8080");
        assert!(origin_allowed(&request(&[host]), &[]));
        let own = request(&[host, ("Origin", "http://127.0.0.1:8080")]);
        assert!(origin_allowed(&own, &[]));
        let other = request(&[host, ("Origin", "https://evil.example")]);
        assert!(!origin_allowed(&other, &[]));
        let allowed = ["https://chat.example.org".to_owned()];
        let listed = request(&[host, ("Origin", "https://chat.example.org")]);
        assert!(origin_allowed(&listed, &allowed));
        assert!(
            !origin_allowed(&own, &allowed),
            "the list replaces the default"
        );
        assert!(origin_allowed(&other, &["*".to_owned()]));
    }

    #[test]
    fn networks_contain_what_their_prefix_covers() {
        let net: Network = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        let one: Network = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let odd: Network = "192.168.0.0/23".parse().unwrap();
        assert!(odd.contains("192.168.1.9".parse().unwrap()));
        assert!(!odd.contains("192.168.2.9".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "::/129", "host", "1.2.3.4/x"] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies: Vec<Network> =
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        let forwarded = request(&[("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(
            client_ip(&forwarded, proxy, &proxies),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(&forwarded, stranger, &proxies), stranger);
        let garbage = request(&[("X-Forwarded-For", "not an address")]);
        assert_eq!(client_ip(&garbage, proxy, &proxies), proxy);
        assert_eq!(client_ip(&request(&[]), proxy, &proxies), proxy);
    }
}
