//! What clients ask for and what they are told, independent of the wire.
//!
//! A codec turns a line of bytes into a [`Request`] and an [`Event`] into
//! bytes. The router only ever sees these protocol-neutral types, which is what
//! lets an IRC user and a line-protocol user share a room.
//!
//! Codecs are sans-io: they never touch a socket, so they are tested on plain
//! byte slices.

pub mod account;
pub mod api;
mod caps;
mod error;
mod event;
pub mod framing;
pub mod history;
pub mod irc;
pub mod line;
mod outgoing;
mod request;
pub mod telnet;

pub use account::{AccountCommand, AccountError, AccountNotice, CertCommand, SaslReply};
pub use caps::Caps;
pub use error::Error;
pub use event::{
    Ban, Destination, Event, Lusers, Member, Reply, RoomSummary, ServerInfo, Topic, Welcome,
    WhoRow, Whois, WhowasEntry,
};
pub use history::{HistoryQuery, HistoryTarget, Past, PastKind, Ref, Selector};
#[cfg(test)]
pub(crate) use outgoing::said;
pub use outgoing::{Codec, Outgoing};
pub use request::{
    CapCommand, MessageKind, ModeChange, Request, Target, Whox, mode_letters, render_modes,
};

use std::fmt;
use std::sync::Arc;

/// A nickname, room name or other text shared cheaply between events.
pub type Name = Arc<str>;

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether `line` has a character no line may carry: NUL, or a carriage
/// return other than the one ending it (which framing removes). Relayed,
/// a CR ends the line early on clients that split at it, and what follows
/// reads as a line of its own: a forged message.
pub fn has_forbidden(line: &[u8]) -> bool {
    memchr::memchr2(b'\0', b'\r', line).is_some()
}

/// `text` without control characters, except IRC's formatting codes (bold,
/// colour, italics, underline, reverse, reset...), tab and, with `ctcp`,
/// CTCP's `\x01`. Nothing else is relayed, so nobody can send a terminal
/// escape (ESC, BEL) to other people's screens.
pub fn strip_controls(text: &str, ctcp: bool) -> std::borrow::Cow<'_, str> {
    let kept = |c: char| {
        !c.is_control()
            || matches!(
                c,
                '\t' | '\u{2}'
                    | '\u{3}'
                    | '\u{4}'
                    | '\u{f}'
                    | '\u{11}'
                    | '\u{16}'
                    | '\u{1d}'
                    | '\u{1e}'
                    | '\u{1f}'
            )
            || (ctcp && c == '\u{1}')
    };
    // Control characters are bytes below 0x20, 0x7F, or C1 (U+0080 to
    // U+009F, which UTF-8 starts with 0xC2): text without those bytes, as
    // nearly all is, needs no decoding.
    let plain = |b: u8| b >= 0x20 && b != 0x7f && b != 0xc2;
    if text.bytes().all(plain) || text.chars().all(kept) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|&c| kept(c)).collect())
    }
}

/// The wire protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The human line protocol for `nc` and `telnet`, see docs/line-protocol.md.
    Line,
    /// IRC as modern clients speak it, with IRCv3 capabilities.
    Irc,
}

impl Protocol {
    /// Turns one framed line (without its terminator) into a request.
    ///
    /// A line that cannot be understood becomes [`Request::Invalid`], so the
    /// error reaches the client through the router, in order with the replies
    /// to the lines before it. `None` means there is nothing to do (IRC
    /// ignores empty lines).
    pub fn decode(self, line: &[u8]) -> Option<Request> {
        match self {
            Protocol::Line => Some(line::decode(line).unwrap_or_else(Request::Invalid)),
            Protocol::Irc => {
                irc::decode(line).map(|decoded| decoded.unwrap_or_else(Request::Invalid))
            }
        }
    }

    /// The longest line a client may send, terminator excluded.
    pub fn max_line(self, configured: usize) -> usize {
        match self {
            Protocol::Line => configured,
            Protocol::Irc => irc::MAX_LINE,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Line => "line",
            Protocol::Irc => "IRC",
        })
    }
}

/// Who a user is, as IRC shows it: `nick!user@host`, and the account it
/// is logged in to (for IRC's `account-tag`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    pub nick: Name,
    pub user: Name,
    pub host: Name,
    pub account: Option<Name>,
}

impl Mask {
    /// `nick!user@host`, built without the formatting machinery: IRC puts
    /// it in front of every event it encodes.
    pub fn source(&self) -> String {
        let mut source = String::with_capacity(self.parts().iter().map(|part| part.len()).sum());
        for part in self.parts() {
            source.push_str(part);
        }
        source
    }

    /// The pieces of `nick!user@host`, in order.
    fn parts(&self) -> [&str; 5] {
        [&self.nick, "!", &self.user, "@", &self.host]
    }
}

impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts().iter().try_for_each(|part| f.write_str(part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }

    #[test]
    fn only_formatting_codes_survive_among_control_characters() {
        assert_eq!(
            strip_controls(
                "\x1b[31mred\x07 \x02bold\x02 \x0304c\x03\t\x1fu\x0f\u{9b}",
                false
            ),
            "[31mred \x02bold\x02 \x0304c\x03\t\x1fu\x0f"
        );
        assert_eq!(strip_controls("\x01VERSION\x01", false), "VERSION");
        assert_eq!(strip_controls("\x01VERSION\x01", true), "\x01VERSION\x01");
        assert!(matches!(
            strip_controls("plain text", false),
            std::borrow::Cow::Borrowed(_)
        ));
        // C1 controls among plain bytes, and 0xC2-led letters that are not.
        assert_eq!(strip_controls("a\u{85}b\u{9f}", false), "ab");
        assert!(matches!(
            strip_controls("¡olé! ¿sí?", false),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
