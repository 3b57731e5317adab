//! What each path serves: the browser client's files at `/`, the
//! WebSocket at `/ws`, `/metrics`, and the API under `/api/v1/`.

use std::net::IpAddr;

use super::http::{HttpError, Limits, Request, Response, Status};
use super::origin::{self, Network};
use super::{api, ws};
use crate::protocol::api::{Call, Credential};

/// The browser client, embedded at build time from src/web/client/ (see
/// build.rs): URL path, content type, bytes.
static ASSETS: &[(&str, &str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// What the web side is configured with.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Origins whose pages may use the WebSocket and the API
    /// (`--web-origin`); empty for the server's own only.
    pub origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`).
    pub trusted_proxies: Vec<Network>,
    /// The key JWTs are signed with (`--jwt-secret`), if they are taken.
    pub jwt_secret: Option<Vec<u8>>,
    /// Sizes and timeouts of requests.
    pub limits: Limits,
}

/// What to do with one request.
#[derive(Debug)]
pub enum Route {
    /// Answer at once.
    Respond(Response),
    /// Answer `101` and carry IRC over WebSocket from now on.
    Upgrade(ws::Upgrade),
    /// Ask the router, then answer with [`api::respond`]; `/metrics` asks
    /// for [`Call::Metrics`] and answers with `metrics::render`.
    Ask { call: Call, credential: Credential },
}

/// Decides what `request` gets; `client` is the address it came from
/// (behind a trusted proxy, the one forwarded) and `now` Unix seconds.
pub fn route(request: &Request, settings: &Settings, now: i64) -> Route {
    let path = request.path.as_str();
    // `/ws`, or the root for clients that upgrade there (irctest, some
    // bouncers' web clients).
    let websocket = path == "/ws" || (path == "/" && request.has_token("upgrade", "websocket"));
    if (websocket || path.starts_with(api::PREFIX))
        && !origin::origin_allowed(request, &settings.origins)
    {
        return Route::Respond(
            HttpError::new(
                Status::FORBIDDEN,
                "this page's origin may not use this server (see --web-origin)",
            )
            .response(),
        );
    }
    if websocket {
        return match ws::upgrade(request) {
            Ok(upgrade) => Route::Upgrade(upgrade),
            Err(error) => Route::Respond(error.response()),
        };
    }
    if let Some(rest) = path.strip_prefix(api::PREFIX.trim_end_matches('/')) {
        if !rest.is_empty() && !rest.starts_with('/') {
            return Route::Respond(not_found());
        }
        if request.method == "OPTIONS" {
            // A browser's CORS preflight; the origin was checked above.
            return Route::Respond(
                Response::empty(Status::NO_CONTENT)
                    .with_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
                    .with_header(
                        "Access-Control-Allow-Headers",
                        "Authorization, Content-Type",
                    )
                    .with_header("Access-Control-Max-Age", "600"),
            );
        }
        let asked = api::credential(request, settings.jwt_secret.as_deref(), now)
            .and_then(|credential| Ok((api::call(request)?, credential)));
        return match asked {
            Ok((call, credential)) => Route::Ask { call, credential },
            Err(response) => Route::Respond(response),
        };
    }
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return Route::Respond(
            HttpError::new(Status::METHOD_NOT_ALLOWED, "use GET")
                .with_header("Allow", "GET, HEAD")
                .response(),
        );
    }
    if path == "/metrics" {
        return Route::Ask {
            call: Call::Metrics,
            credential: Credential::None,
        };
    }
    let wanted = if path == "/" { "/index.html" } else { path };
    match ASSETS.iter().find(|(asset, _, _)| *asset == wanted) {
        Some((_, content_type, bytes)) => Route::Respond(
            Response::new(Status::OK, content_type, bytes.to_vec())
                .with_header("Cache-Control", "no-cache")
                .with_header("X-Content-Type-Options", "nosniff"),
        ),
        None => Route::Respond(not_found()),
    }
}

/// The origin to name in `Access-Control-Allow-Origin`: an API request's
/// `Origin` when it is allowed, so pages of another origin given by
/// `--web-origin` may read the answers.
pub fn cors_origin(request: &Request, settings: &Settings) -> Option<String> {
    let origin = request.header("origin")?;
    (request.path.starts_with(api::PREFIX) && origin::origin_allowed(request, &settings.origins))
        .then(|| origin.to_owned())
}

/// The address a request came from, believing `X-Forwarded-For` only
/// from a trusted proxy.
pub fn client_ip(request: &Request, peer: IpAddr, settings: &Settings) -> IpAddr {
    origin::client_ip(request, peer, &settings.trusted_proxies)
}

fn not_found() -> Response {
    Response::text(Status::NOT_FOUND, "not found\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respond(route: Route) -> Response {
        match route {
            Route::Respond(response) => response,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_client_is_served_at_the_root_and_unknown_paths_are_404() {
        let settings = Settings::default();
        let page = respond(route(&Request::get("/", &[]), &settings, 0));
        assert_eq!(page.status, Status::OK);
        assert!(
            page.headers
                .contains(&("Content-Type", "text/html; charset=utf-8".into()))
        );
        assert!(String::from_utf8_lossy(&page.body).contains("<html"));
        let same = respond(route(&Request::get("/index.html", &[]), &settings, 0));
        assert_eq!(same.body, page.body);
        assert_eq!(
            respond(route(&Request::get("/nope", &[]), &settings, 0)).status,
            Status::NOT_FOUND
        );
        assert_eq!(
            respond(route(&Request::get("/api/v1x", &[]), &settings, 0)).status,
            Status::NOT_FOUND
        );
        let mut post = Request::get("/", &[]);
        post.method = "POST".into();
        assert_eq!(
            respond(route(&post, &settings, 0)).status,
            Status::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn metrics_api_and_websocket_are_routed_and_foreign_origins_refused() {
        let settings = Settings::default();
        assert!(matches!(
            route(&Request::get("/metrics", &[]), &settings, 0),
            Route::Ask {
                call: Call::Metrics,
                ..
            }
        ));
        assert!(matches!(
            route(&Request::get("/api/v1/rooms", &[]), &settings, 0),
            Route::Ask {
                call: Call::Rooms,
                credential: Credential::None
            }
        ));
        let upgrade = [
            ("Host", "h:1"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        for path in ["/ws", "/"] {
            assert!(matches!(
                route(&Request::get(path, &upgrade), &settings, 0),
                Route::Upgrade(_)
            ));
        }
        let mut foreign = upgrade.to_vec();
        foreign.push(("Origin", "https://elsewhere.example"));
        assert_eq!(
            respond(route(&Request::get("/ws", &foreign), &settings, 0)).status,
            Status::FORBIDDEN
        );
        assert_eq!(
            respond(route(&Request::get("/ws", &[]), &settings, 0)).status,
            Status::UPGRADE_REQUIRED
        );
    }
}
