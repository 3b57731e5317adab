//! `/api/v1` over HTTP: requests to [`Call`]s with their [`Credential`],
//! and the router's [`Answer`]s to JSON responses. The endpoints are
//! documented, with a curl example each, in docs/api.md.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http::{Request, Response, Status, percent_decode};
use super::jwt;
use crate::protocol::Name;
use crate::protocol::api::{Answer, Call, Credential, Failure, FailureKind};

/// Where the API lives.
pub const PREFIX: &str = "/api/v1/";

/// The most history one page returns, and what it returns when not asked.
pub const HISTORY_PAGE_MAX: usize = 500;
const HISTORY_PAGE_DEFAULT: usize = 100;

/// A JSON error response.
fn error(status: Status, kind: &str, message: impl Into<String>) -> Response {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        error: &'a str,
        message: String,
    }
    Response::json(
        status,
        &Body {
            error: kind,
            message: message.into(),
        },
    )
}

fn not_found() -> Response {
    error(
        Status::NOT_FOUND,
        "not_found",
        "no such endpoint (see docs/api.md)",
    )
}

/// Reads a request's JSON body as `T`.
fn body<T: DeserializeOwned>(request: &Request) -> Result<T, Response> {
    serde_json::from_slice(&request.body).map_err(|fault| {
        error(
            Status::BAD_REQUEST,
            "invalid",
            format!("bad JSON body: {fault}"),
        )
    })
}

/// A room named in a path: `%23rust` or plain `rust`, both meaning `#rust`.
fn room(segment: &str) -> Result<Name, Response> {
    let name = percent_decode(segment)
        .ok_or_else(|| error(Status::BAD_REQUEST, "invalid", "bad escape in the path"))?;
    Ok(if name.starts_with('#') {
        name.into()
    } else {
        format!("#{name}").into()
    })
}

/// A nickname named in a path.
fn nick(segment: &str) -> Result<Name, Response> {
    percent_decode(segment)
        .map(Name::from)
        .ok_or_else(|| error(Status::BAD_REQUEST, "invalid", "bad escape in the path"))
}

/// Who a request says it is: `Authorization: Bearer ...`, a JWT checked
/// here against `jwt_secret` when one is configured and the token looks
/// like one, otherwise one of the server's tokens for the router to check.
pub fn credential(
    request: &Request,
    jwt_secret: Option<&[u8]>,
    now: i64,
) -> Result<Credential, Response> {
    let Some(value) = request.header("authorization") else {
        return Ok(Credential::None);
    };
    let Some(token) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return Err(error(
            Status::UNAUTHORIZED,
            "unauthorized",
            "use Authorization: Bearer TOKEN",
        )
        .with_header("WWW-Authenticate", "Bearer"));
    };
    match jwt_secret {
        Some(secret) if jwt::looks_like_jwt(token) => jwt::verify(token, secret, now)
            .map(|account| Credential::Jwt(account.into()))
            .map_err(|jwt::Refused(why)| {
                error(
                    Status::UNAUTHORIZED,
                    "unauthorized",
                    format!("JWT refused: {why}"),
                )
                .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
            }),
        _ => Ok(Credential::Token(token.to_owned())),
    }
}

/// The call an API request makes (its path under [`PREFIX`]).
pub fn call(request: &Request) -> Result<Call, Response> {
    let path = request.path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let method = request.method.as_str();
    let allow = |methods: &str| {
        Err(error(
            Status::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("use {methods}"),
        )
        .with_header("Allow", methods.to_owned()))
    };
    match (segments.as_slice(), method) {
        (["tokens"], "POST") => {
            #[derive(Deserialize)]
            struct Login {
                name: String,
                password: String,
            }
            let login: Login = body(request)?;
            Ok(Call::IssueToken {
                account: login.name.into(),
                password: login.password,
            })
        }
        (["tokens"], _) => allow("POST"),
        (["tokens", "current"], "DELETE") => Ok(Call::RevokeToken),
        (["tokens", "current"], _) => allow("DELETE"),
        (["rooms"], "GET") => Ok(Call::Rooms),
        (["rooms"], "POST") => {
            #[derive(Deserialize)]
            struct NewRoom {
                name: String,
                topic: Option<String>,
            }
            let new: NewRoom = body(request)?;
            Ok(Call::CreateRoom {
                name: room(&new.name)?,
                topic: new.topic,
            })
        }
        (["rooms"], _) => allow("GET, POST"),
        (["rooms", name], "DELETE") => Ok(Call::DeleteRoom { room: room(name)? }),
        (["rooms", _], _) => allow("DELETE"),
        (["rooms", name, "topic"], "PUT") => {
            #[derive(Deserialize)]
            struct NewTopic {
                topic: String,
            }
            Ok(Call::SetTopic {
                room: room(name)?,
                topic: body::<NewTopic>(request)?.topic,
            })
        }
        (["rooms", _, "topic"], _) => allow("PUT"),
        (["rooms", name, "members"], "GET") => Ok(Call::Members { room: room(name)? }),
        (["rooms", _, "members"], _) => allow("GET"),
        (["rooms", name, "members", who], "DELETE") => Ok(Call::Kick {
            room: room(name)?,
            nick: nick(who)?,
            reason: request.query_param("reason"),
        }),
        (["rooms", _, "members", _], _) => allow("DELETE"),
        (["rooms", name, "invites"], "POST") => {
            #[derive(Deserialize)]
            struct Invite {
                nick: String,
            }
            Ok(Call::Invite {
                room: room(name)?,
                nick: body::<Invite>(request)?.nick.into(),
            })
        }
        (["rooms", _, "invites"], _) => allow("POST"),
        (["rooms", name, "messages"], "GET") => {
            let limit = match request.query_param("limit") {
                None => HISTORY_PAGE_DEFAULT,
                Some(limit) => limit
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=HISTORY_PAGE_MAX).contains(limit))
                    .ok_or_else(|| {
                        error(
                            Status::BAD_REQUEST,
                            "invalid",
                            format!("limit is 1 to {HISTORY_PAGE_MAX}"),
                        )
                    })?,
            };
            Ok(Call::History {
                room: room(name)?,
                before: request.query_param("before"),
                limit,
            })
        }
        (["rooms", _, "messages"], _) => allow("GET"),
        (["messages"], "POST") => {
            #[derive(Deserialize)]
            struct Post {
                target: String,
                text: String,
            }
            let post: Post = body(request)?;
            Ok(Call::Post {
                target: post.target.into(),
                text: post.text,
            })
        }
        (["messages"], _) => allow("POST"),
        (["users"], "GET") => Ok(Call::Online),
        (["users"], _) => allow("GET"),
        (["users", who], "GET") => Ok(Call::Whois { nick: nick(who)? }),
        (["users", _], _) => allow("GET"),
        _ => Err(not_found()),
    }
}

/// The HTTP response for the router's answer.
pub fn respond(answer: Answer) -> Response {
    match answer {
        Answer::Done => Response::empty(Status::NO_CONTENT),
        Answer::Token(token) => Response::json(Status::CREATED, &token),
        Answer::Rooms(rooms) => Response::json(Status::OK, &rooms),
        Answer::Room(room) => Response::json(Status::CREATED, &room),
        Answer::Members(members) => Response::json(Status::OK, &members),
        Answer::User(user) => Response::json(Status::OK, &user),
        Answer::Users(users) => Response::json(Status::OK, &users),
        Answer::Messages(messages) => Response::json(Status::OK, &messages),
        Answer::Posted { id } => Response::json(Status::CREATED, &serde_json::json!({ "id": id })),
        Answer::Metrics(_) => error(Status::INTERNAL_ERROR, "internal", "unexpected answer"),
        Answer::Failed(failure) => failure_response(&failure),
    }
}

/// A refusal as a response: the status its kind calls for.
fn failure_response(failure: &Failure) -> Response {
    let (status, kind) = match failure.kind {
        FailureKind::Invalid => (Status::BAD_REQUEST, "invalid"),
        FailureKind::Unauthorized => (Status::UNAUTHORIZED, "unauthorized"),
        FailureKind::Forbidden => (Status::FORBIDDEN, "forbidden"),
        FailureKind::NotFound => (Status::NOT_FOUND, "not_found"),
        FailureKind::Conflict => (Status::CONFLICT, "conflict"),
        FailureKind::Busy => (Status::SERVICE_UNAVAILABLE, "busy"),
        FailureKind::Throttled { .. } => (Status::TOO_MANY_REQUESTS, "throttled"),
    };
    let response = error(status, kind, failure.message.clone());
    match failure.kind {
        FailureKind::Unauthorized => response.with_header("WWW-Authenticate", "Bearer"),
        FailureKind::Busy => response.with_header("Retry-After", "1"),
        FailureKind::Throttled { retry_secs } => {
            response.with_header("Retry-After", retry_secs.to_string())
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            minor: 1,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn each_endpoint_becomes_its_call() {
        let cases = [
            (
                "POST",
                "/api/v1/tokens",
                r#"{"name":"a","password":"p"}"#,
                Call::IssueToken {
                    account: "a".into(),
                    password: "p".into(),
                },
            ),
            ("DELETE", "/api/v1/tokens/current", "", Call::RevokeToken),
            ("GET", "/api/v1/rooms", "", Call::Rooms),
            (
                "POST",
                "/api/v1/rooms",
                r##"{"name":"#r"}"##,
                Call::CreateRoom {
                    name: "#r".into(),
                    topic: None,
                },
            ),
            (
                "DELETE",
                "/api/v1/rooms/%23r",
                "",
                Call::DeleteRoom { room: "#r".into() },
            ),
            (
                "PUT",
                "/api/v1/rooms/r/topic",
                r#"{"topic":"t"}"#,
                Call::SetTopic {
                    room: "#r".into(),
                    topic: "t".into(),
                },
            ),
            (
                "GET",
                "/api/v1/rooms/r/members",
                "",
                Call::Members { room: "#r".into() },
            ),
            (
                "DELETE",
                "/api/v1/rooms/r/members/bob?reason=spam",
                "",
                Call::Kick {
                    room: "#r".into(),
                    nick: "bob".into(),
                    reason: Some("spam".into()),
                },
            ),
            (
                "POST",
                "/api/v1/rooms/r/invites",
                r#"{"nick":"bob"}"#,
                Call::Invite {
                    room: "#r".into(),
                    nick: "bob".into(),
                },
            ),
            (
                "GET",
                "/api/v1/rooms/r/messages?limit=5&before=x",
                "",
                Call::History {
                    room: "#r".into(),
                    before: Some("x".into()),
                    limit: 5,
                },
            ),
            (
                "POST",
                "/api/v1/messages",
                r##"{"target":"#r","text":"hi"}"##,
                Call::Post {
                    target: "#r".into(),
                    text: "hi".into(),
                },
            ),
            ("GET", "/api/v1/users", "", Call::Online),
            (
                "GET",
                "/api/v1/users/bob",
                "",
                Call::Whois { nick: "bob".into() },
            ),
        ];
        for (method, path, body, expected) in cases {
            assert_eq!(
                call(&request(method, path, &[], body)),
                Ok(expected),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn bad_calls_get_400_404_or_405() {
        let status =
            |method, path, body| call(&request(method, path, &[], body)).unwrap_err().status;
        assert_eq!(status("GET", "/api/v1/nothing", ""), Status::NOT_FOUND);
        assert_eq!(
            status("PATCH", "/api/v1/rooms", ""),
            Status::METHOD_NOT_ALLOWED
        );
        assert_eq!(status("POST", "/api/v1/rooms", "{"), Status::BAD_REQUEST);
        assert_eq!(
            status("POST", "/api/v1/messages", r#"{"text":"x"}"#),
            Status::BAD_REQUEST
        );
        assert_eq!(
            status("GET", "/api/v1/rooms/r/messages?limit=0", ""),
            Status::BAD_REQUEST
        );
        let allow = call(&request("GET", "/api/v1/tokens", &[], "")).unwrap_err();
        assert!(allow.headers.contains(&("Allow", "POST".into())));
    }

    #[test]
    fn credentials_are_bearer_tokens_or_checked_jwts() {
        let secret = b"s".as_slice();
        let bearer = |value: &str| request("GET", "/", &[("Authorization", value)], "");
        assert_eq!(
            credential(&request("GET", "/", &[], ""), None, 0),
            Ok(Credential::None)
        );
        assert_eq!(
            credential(&bearer("Bearer sb_x"), Some(secret), 0),
            Ok(Credential::Token("sb_x".into()))
        );
        let jwt = jwt::sign(r#"{"sub":"ann","exp":100}"#, secret);
        let header = format!("bearer {jwt}");
        assert_eq!(
            credential(&bearer(&header), Some(secret), 0),
            Ok(Credential::Jwt("ann".into()))
        );
        assert_eq!(
            credential(&bearer(&header), Some(secret), 1000)
                .unwrap_err()
                .status,
            Status::UNAUTHORIZED
        );
        // Without a secret a JWT is just an unknown token, for the router to refuse.
        assert_eq!(
            credential(&bearer(&header), None, 0),
            Ok(Credential::Token(jwt))
        );
        assert_eq!(
            credential(&bearer("Basic abc"), None, 0)
                .unwrap_err()
                .status,
            Status::UNAUTHORIZED
        );
    }

    #[test]
    fn answers_and_refusals_get_their_status() {
        assert_eq!(respond(Answer::Done).status, Status::NO_CONTENT);
        assert_eq!(
            respond(Answer::Posted { id: "1".into() }).body,
            br#"{"id":"1"}"#
        );
        let kinds = [
            (FailureKind::Invalid, 400),
            (FailureKind::Unauthorized, 401),
            (FailureKind::Forbidden, 403),
            (FailureKind::NotFound, 404),
            (FailureKind::Conflict, 409),
            (FailureKind::Busy, 503),
            (FailureKind::Throttled { retry_secs: 2 }, 429),
        ];
        for (kind, code) in kinds {
            let response = respond(Answer::Failed(Failure::new(kind, "why")));
            assert_eq!(response.status, Status(code));
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(body["message"], "why");
        }
    }
}
