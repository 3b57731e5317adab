//! Every limit on what one client may send, or make the server hold or do,
//! in one place: the IRC codec advertises them (`RPL_ISUPPORT`), both codecs
//! and the router enforce them, and README.md quotes them.

/// Longest nickname, in bytes (`NICKLEN`).
pub const NICK_MAX: usize = 24;
/// Longest room name, in bytes, `#` included (`CHANNELLEN`).
pub const ROOM_MAX: usize = 50;
/// Longest topic, in bytes (`TOPICLEN`).
pub const TOPIC_MAX: usize = 390;
/// Longest away message, in bytes (`AWAYLEN`); longer ones are cut.
pub const AWAY_MAX: usize = 390;
/// Longest kick reason, in bytes (`KICKLEN`); longer ones are cut.
pub const KICK_MAX: usize = 390;
/// Most rooms one client can be in at once (`CHANLIMIT`).
pub const ROOMS_PER_CLIENT: usize = 50;
/// Most bans one room keeps (`MAXLIST`).
pub const BANS_PER_ROOM: usize = 100;
/// Longest user name (IRC `USER`), in bytes (`USERLEN`).
pub const USER_MAX: usize = 10;
/// Longest host name shown for a user, in bytes (`HOSTLEN`): an IP address.
pub const HOST_MAX: usize = 64;
/// Longest real name, in bytes.
pub const REALNAME_MAX: usize = 100;
/// Longest room key, in bytes (`KEYLEN`, RFC 2812's limit).
pub const KEY_MAX: usize = 23;
/// Most requests held for a client while its `OPER` password is checked;
/// one that sends more meanwhile is flooding.
pub const HELD_MAX: usize = 100;
/// Most rows a `WHO` for a mask returns, so one query cannot list everyone.
pub const WHO_MAX: usize = 200;
/// Most distinct targets of one message (`TARGMAX` for `PRIVMSG`, `NOTICE`
/// and `TAGMSG`). Each costs the sender a flood-control token.
pub const TARGETS_MAX: usize = 4;
/// Most mode changes that take an argument in one `MODE` (`MODES`); the
/// rest are ignored, as other servers do.
pub const MODES_MAX: usize = 4;
/// Longest mask (`WHO`, bans): as long as the longest `nick!~user@host`.
/// A longer one could match nobody, and would cost every comparison.
pub const MASK_MAX: usize = NICK_MAX + 2 + USER_MAX + 1 + 1 + HOST_MAX;
/// Most wildcards (`*`, `?`) in a mask: matching costs up to the mask's
/// length times the subject's for each user compared, so this keeps a
/// `WHO` over every user cheap.
pub const MASK_WILDCARDS_MAX: usize = 16;
/// Longest WHOX query token (`WHO mask %fields,token`): up to three digits.
pub const WHOX_TOKEN_MAX: usize = 3;
/// Most pending invitations a room keeps; the oldest goes first.
pub const INVITES_PER_ROOM: usize = 100;
/// Most rooms a client is invited to at once; the oldest invitation goes first.
pub const INVITES_PER_CLIENT: usize = 50;
/// Longest server or network name (`--server-name`, `--network`): a host name.
pub const SERVER_NAME_MAX: usize = 63;
/// Most memory, in bytes, the requests a client has waiting for flood
/// control may take before it is cut off ("excess flood"); each counts as
/// [`WAITING_OVERHEAD`] plus its line's length.
pub const WAITING_BYTES: usize = 64 * 1024;
/// What a waiting request costs besides its text: its place in the queue
/// (a `Request` is about 80 bytes) and the allocator's share of its strings.
/// Without it an empty line would count for nothing.
pub const WAITING_OVERHEAD: usize = 128;
/// Why a client that sends faster than flood control allows is cut off.
pub const EXCESS_FLOOD: &str = "excess flood";

/// Longest message posted through the HTTP API, in bytes: what a line
/// user may say at once by default (`--max-line`); IRC users get it in
/// several lines.
pub const API_TEXT_MAX: usize = 4096;
/// Most entries an API list (rooms, members, users online) holds: the
/// first by name, so one answer stays well under a megabyte.
pub const API_LIST_MAX: usize = 1000;
/// Longest HTTP request line and headers together, in bytes.
pub const HTTP_HEAD_MAX: usize = 8 * 1024;
/// Most HTTP header lines in one request (browsers send about 20).
pub const HTTP_HEADERS_MAX: usize = 64;
/// Longest HTTP request body, in bytes: an API call's JSON.
pub const HTTP_BODY_MAX: usize = 64 * 1024;
/// Longest WebSocket message, in bytes: one IRC line with its tags
/// (8,191 bytes of tags and 512 of message) and its line end.
pub const WS_MESSAGE_MAX: usize = 8191 + 512 + 2;

/// Most private messages waiting for one offline account; past it the
/// sender is told the box is full.
pub const OFFLINE_PER_RECIPIENT: usize = 100;
/// Most of them from one sender (by account, or nickname), so that one
/// sender cannot fill somebody's box alone.
pub const OFFLINE_PER_SENDER: usize = 20;
/// Most messages one history read returns (`CHATHISTORY=` in
/// `RPL_ISUPPORT`, and `/history N`).
pub const HISTORY_LIMIT: usize = 100;
/// Most recent conversations `CHATHISTORY TARGETS` lists.
pub const HISTORY_TARGETS_MAX: usize = 100;

/// Whether `mask` is within [`MASK_MAX`] bytes and [`MASK_WILDCARDS_MAX`]
/// wildcards, and free of spaces and control characters.
pub fn valid_mask(mask: &str) -> bool {
    !mask.is_empty()
        && mask.len() <= MASK_MAX
        && mask.bytes().filter(|&b| b == b'*' || b == b'?').count() <= MASK_WILDCARDS_MAX
        && !mask.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_bounded_in_length_and_wildcards() {
        assert!(valid_mask("*!*@127.0.0.1"));
        assert!(valid_mask(&"a".repeat(MASK_MAX)));
        assert!(!valid_mask(&"a".repeat(MASK_MAX + 1)));
        assert!(valid_mask(&"*a".repeat(MASK_WILDCARDS_MAX)));
        assert!(!valid_mask(&"*a".repeat(MASK_WILDCARDS_MAX + 1)));
        for bad in ["", "has space", "nul\0", "cr\r"] {
            assert!(!valid_mask(bad), "{bad:?}");
        }
    }
}
