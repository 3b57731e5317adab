//! The IRC message syntax: `[@tags] [:source] COMMAND [params] [:trailing]`.
//!
//! Parsing borrows from the line and allocates only the parameter list;
//! serialising appends to a caller's buffer. Nothing here knows what a
//! command means.

use std::borrow::Cow;
use std::fmt;

/// Most parameters a message has; the last one takes the rest of the line.
pub const MAX_PARAMS: usize = 15;

/// The longest message a server sends, tags excluded, `\r\n` included.
pub const MAX_MESSAGE: usize = 512;

/// One parsed message, borrowing from its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The raw tag section, without its `@`, still escaped.
    pub tags: Option<&'a str>,
    /// Who sent it, without its `:`.
    pub source: Option<&'a str>,
    /// The command or numeric, as sent (callers compare case-insensitively).
    pub command: &'a str,
    pub params: Vec<&'a str>,
}

/// Why a line is not a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but spaces.
    Empty,
    /// Tags or a source, but no command after them.
    NoCommand,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Empty => "empty message",
            ParseError::NoCommand => "message has no command",
        })
    }
}

impl std::error::Error for ParseError {}

impl<'a> Message<'a> {
    /// Parses a line without its CR LF. Runs of spaces separate words, and
    /// spaces before and after the message are ignored, as real servers
    /// accept. A parameter starting with `:` is the trailing one and keeps
    /// its spaces; so does the fifteenth ([`MAX_PARAMS`]), which takes the
    /// rest of the line, `:` or not, rather than failing the message.
    pub fn parse(line: &'a str) -> Result<Message<'a>, ParseError> {
        let mut rest = line.trim_start_matches(' ');
        if rest.is_empty() {
            return Err(ParseError::Empty);
        }
        let tags = match rest.strip_prefix('@') {
            Some(tagged) => {
                let (tags, after) = split_word(tagged);
                rest = after;
                Some(tags)
            }
            None => None,
        };
        let source = match rest.strip_prefix(':') {
            Some(sourced) => {
                let (source, after) = split_word(sourced);
                rest = after;
                Some(source)
            }
            None => None,
        };
        let (command, mut rest) = split_word(rest);
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing);
                break;
            }
            if params.len() == MAX_PARAMS - 1 {
                params.push(rest.trim_end_matches(' '));
                break;
            }
            let (param, after) = split_word(rest);
            params.push(param);
            rest = after;
        }
        Ok(Message {
            tags,
            source,
            command,
            params,
        })
    }

    /// Every tag as (key, unescaped value); a tag without a value has "".
    /// Repeated keys come out as often as they were sent, in order.
    ///
    /// The iterator borrows the line, not the message, so it may outlive it.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + use<'a> {
        self.tags
            .unwrap_or_default()
            .split(';')
            .filter(|tag| !tag.is_empty())
            .map(|tag| match tag.split_once('=') {
                Some((key, value)) => (key, unescape_tag_value(value)),
                None => (tag, Cow::Borrowed("")),
            })
    }

    /// The value of the tag `key` (the last one if it is repeated).
    pub fn tag(&self, key: &str) -> Option<Cow<'a, str>> {
        self.tags()
            .filter(|(name, _)| *name == key)
            .last()
            .map(|(_, value)| value)
    }

    /// The parameter at `index`.
    pub fn param(&self, index: usize) -> Option<&'a str> {
        self.params.get(index).copied()
    }
}

/// `Some` unless empty.
fn present(part: &str) -> Option<&str> {
    (!part.is_empty()).then_some(part)
}

/// Splits at the first space; the rest loses its leading spaces.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (text, ""),
    }
}

/// Undoes IRCv3 tag escaping: `\:` `\s` `\\` `\r` `\n`; a backslash before
/// anything else is dropped, and so is a lone one at the end.
fn unescape_tag_value(value: &str) -> Cow<'_, str> {
    if !value.contains('\\') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Appends a tag value escaped for the wire.
pub fn escape_tag_value(value: &str, out: &mut Vec<u8>) {
    for c in value.chars() {
        match c {
            ';' => out.extend_from_slice(b"\\:"),
            ' ' => out.extend_from_slice(b"\\s"),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\n' => out.extend_from_slice(b"\\n"),
            c => {
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
}

/// Appends `@key=value;key2 ` (nothing for no tags).
pub fn write_tags(out: &mut Vec<u8>, tags: &[(&str, Option<&str>)]) {
    for (index, (key, value)) in tags.iter().enumerate() {
        out.push(if index == 0 { b'@' } else { b';' });
        out.extend_from_slice(key.as_bytes());
        if let Some(value) = value {
            out.push(b'=');
            escape_tag_value(value, out);
        }
    }
    if !tags.is_empty() {
        out.push(b' ');
    }
}

/// Appends `[:source ]COMMAND params\r\n`. The last parameter is written
/// as trailing (with `:`) when it must be: it is empty, has a space, or
/// starts with `:`.
pub fn write(out: &mut Vec<u8>, source: Option<&str>, command: &str, params: &[&str]) {
    write_message(out, source, command, params, false);
}

/// Like [`write()`], but the last parameter is always trailing, as servers
/// write text (a message, a reason) so clients never mistake its first word
/// for all of it.
///
/// Both cut the last parameter short, at a character boundary, where the
/// message would be longer than [`MAX_MESSAGE`]: clients may refuse longer
/// lines, and text that needs more room is split by whoever makes it.
///
/// Both are the last line of defence for the wire syntax, whatever reached
/// them: NUL, CR and LF are left out everywhere; the source, the command and
/// every parameter but the last are cut at their first space (`*` if that
/// leaves nothing or a leading `:`), and cut short if even they would not fit.
pub fn write_text(out: &mut Vec<u8>, source: Option<&str>, command: &str, params: &[&str]) {
    write_message(out, source, command, params, true);
}

fn write_message(
    out: &mut Vec<u8>,
    source: Option<&str>,
    command: &str,
    params: &[&str],
    text: bool,
) {
    let start = out.len();
    // Room left for a word: what is written so far, the ` :` of a last
    // parameter, the `\r\n`, and a space and a byte for each of the
    // `later` words must still fit.
    let room =
        |out: &Vec<u8>, later: usize| MAX_MESSAGE.saturating_sub(out.len() - start + 4 + 2 * later);
    let middles = params.len().saturating_sub(1);
    if let Some(source) = source {
        out.push(b':');
        push_word(out, source, room(out, middles + 1));
        out.push(b' ');
    }
    push_word(out, command, room(out, middles));
    if let Some((last, middle)) = params.split_last() {
        for (index, param) in middle.iter().enumerate() {
            out.push(b' ');
            push_word(out, param, room(out, middles - index - 1));
        }
        out.push(b' ');
        let last = without_breaks(last);
        if text || last.is_empty() || last.contains(' ') || last.starts_with(':') {
            out.push(b':');
        }
        let room = MAX_MESSAGE.saturating_sub(out.len() - start + 2);
        out.extend_from_slice(crate::protocol::truncate(&last, room).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    debug_assert!(
        out.len() - start <= MAX_MESSAGE,
        "{} bytes: {:?}",
        out.len() - start,
        String::from_utf8_lossy(&out[start..])
    );
}

/// Appends `word` as one word of a message: up to its first space, without
/// NUL, CR or LF, at most `room` bytes; `*` when that leaves nothing or
/// starts with `:`, which would read as the last parameter.
fn push_word(out: &mut Vec<u8>, word: &str, room: usize) {
    let word = without_breaks(word);
    let word = word.split(' ').next().unwrap_or_default();
    let word = if word.is_empty() || word.starts_with(':') {
        "*"
    } else {
        word
    };
    out.extend_from_slice(crate::protocol::truncate(word, room.max(1)).as_bytes());
}

/// `text` without NUL, CR and LF: the characters that would end a line or
/// cut it short on a client's screen.
fn without_breaks(text: &str) -> Cow<'_, str> {
    if memchr::memchr3(b'\0', b'\r', b'\n', text.as_bytes()).is_some() {
        Cow::Owned(text.replace(['\0', '\r', '\n'], ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether `subject` matches the IRC glob `mask`: `*` is any run, `?` one
/// character, ASCII case ignored. The classic greedy match with one
/// backtrack point, on bytes, allocating nothing: at worst the mask's
/// length times the subject's (callers bound masks, see
/// [`crate::limits::valid_mask`]), and for most subjects a byte or two.
pub fn mask_matches(mask: &str, subject: &str) -> bool {
    let (mask, subject) = (mask.as_bytes(), subject.as_bytes());
    let (mut m, mut s) = (0, 0);
    // Where the last `*` was, and where the subject stood when it was seen.
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        match mask.get(m) {
            Some(b'*') => {
                star = Some((m, s));
                m += 1;
            }
            Some(b'?') => {
                m += 1;
                s = char_end(subject, s);
            }
            Some(c) if c.eq_ignore_ascii_case(&subject[s]) => {
                m += 1;
                s += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character.
                Some((star_m, star_s)) => {
                    let next = char_end(subject, star_s);
                    m = star_m + 1;
                    s = next;
                    star = Some((star_m, next));
                }
                None => return false,
            },
        }
    }
    mask[m..].iter().all(|&c| c == b'*')
}

/// Where the character starting at byte `at` of UTF-8 `text` ends.
fn char_end(text: &[u8], at: usize) -> usize {
    let mut end = at + 1;
    // Continuation bytes are 0b10xx_xxxx.
    while end < text.len() && text[end] & 0xc0 == 0x80 {
        end += 1;
    }
    end
}

/// The parts of `nick!user@host`; any may be missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserHost<'a> {
    pub nick: Option<&'a str>,
    pub user: Option<&'a str>,
    pub host: Option<&'a str>,
}

/// Splits a source into nick, user and host.
pub fn split_userhost(source: &str) -> UserHost<'_> {
    let (rest, host) = match source.split_once('@') {
        Some((rest, host)) => (rest, Some(host)),
        None => (source, None),
    };
    let (nick, user) = match rest.split_once('!') {
        Some((nick, user)) => (nick, Some(user)),
        None => (rest, None),
    };
    UserHost {
        nick: present(nick),
        user: user.and_then(present),
        host: host.and_then(present),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part() {
        let message = Message::parse("@a=b\\sc;d :nick!u@h PRIVMSG #chan :hello there").unwrap();
        assert_eq!(message.tags, Some("a=b\\sc;d"));
        assert_eq!(message.tag("a").as_deref(), Some("b c"));
        assert_eq!(message.tag("d").as_deref(), Some(""));
        assert_eq!(message.tag("e"), None);
        assert_eq!(message.source, Some("nick!u@h"));
        assert_eq!(message.command, "PRIVMSG");
        assert_eq!(message.params, ["#chan", "hello there"]);
    }

    #[test]
    fn tolerates_extra_spaces_and_refuses_empty_lines() {
        let message = Message::parse("  JOIN   #a   key  ").unwrap();
        assert_eq!(message.command, "JOIN");
        assert_eq!(message.params, ["#a", "key"]);
        assert_eq!(Message::parse("   "), Err(ParseError::Empty));
        assert_eq!(Message::parse("@a=b "), Err(ParseError::NoCommand));
        assert_eq!(Message::parse(":source"), Err(ParseError::NoCommand));
    }

    #[test]
    fn the_fifteenth_parameter_takes_the_rest() {
        let line = format!(
            "CMD {}",
            (1..=20)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let message = Message::parse(&line).unwrap();
        assert_eq!(message.params.len(), MAX_PARAMS);
        assert_eq!(message.params[14], "15 16 17 18 19 20");
    }

    #[test]
    fn tag_values_round_trip() {
        let value = "semi;space \\back\r\nslash";
        let mut out = Vec::new();
        write_tags(&mut out, &[("k", Some(value)), ("flag", None)]);
        let line = format!("{}CMD", String::from_utf8(out).unwrap());
        assert_eq!(
            Message::parse(&line).unwrap().tag("k").as_deref(),
            Some(value)
        );
        assert_eq!(unescape_tag_value("a\\b\\"), "ab");
    }

    #[test]
    fn writes_trailing_only_when_needed() {
        let mut out = Vec::new();
        write(&mut out, Some("src"), "CMD", &["a", "b"]);
        write(&mut out, None, "CMD", &["a", ":b"]);
        write(&mut out, None, "CMD", &["a", ""]);
        write(&mut out, None, "CMD", &[]);
        assert_eq!(out, b":src CMD a b\r\nCMD a ::b\r\nCMD a :\r\nCMD\r\n");
    }

    #[test]
    fn masks_match_like_globs() {
        assert!(mask_matches("*", ""));
        assert!(mask_matches("a*b?d", "AxxBcD"));
        assert!(!mask_matches("a*b?d", "axxbd"));
        // Pathological masks stay fast.
        let subject = "a".repeat(10_000);
        assert!(!mask_matches("*a*a*a*a*a*a*a*b", &subject));
    }

    #[test]
    fn empty_lines_and_lines_without_a_command_are_errors() {
        assert_eq!(Message::parse(""), Err(ParseError::Empty));
        for line in ["@a=b", "@a=b   ", ":nick!u@h", ":nick!u@h  ", "@a :src "] {
            assert_eq!(Message::parse(line), Err(ParseError::NoCommand), "{line:?}");
        }
        assert_eq!(ParseError::Empty.to_string(), "empty message");
        assert_eq!(ParseError::NoCommand.to_string(), "message has no command");
    }

    #[test]
    fn tags_and_source_are_optional_and_the_command_is_kept_as_sent() {
        let message = Message::parse("@k=v ping").unwrap();
        assert_eq!(
            (message.tags, message.source, message.command),
            (Some("k=v"), None, "ping")
        );
        assert!(message.params.is_empty());
        let message = Message::parse(":irc.example 001 alice :Welcome").unwrap();
        assert_eq!(message.tags, None);
        assert_eq!(message.source, Some("irc.example"));
        assert_eq!(message.command, "001");
        assert_eq!(message.param(1), Some("Welcome"));
        assert_eq!(message.param(2), None);
    }

    #[test]
    fn the_trailing_parameter_keeps_colons_and_spaces() {
        let message = Message::parse("PRIVMSG #a ::-) see: here  ").unwrap();
        assert_eq!(message.params, ["#a", ":-) see: here  "]);
        let message = Message::parse("TOPIC #a :").unwrap();
        assert_eq!(message.params, ["#a", ""]);
        // Only a leading colon makes a parameter trailing.
        let message = Message::parse("MODE #a b:c :d e").unwrap();
        assert_eq!(message.params, ["#a", "b:c", "d e"]);
    }

    #[test]
    fn a_trailing_fifteenth_parameter_loses_only_its_colon() {
        let middle: Vec<String> = (1..=14).map(|n| n.to_string()).collect();
        let line = format!("CMD {} :a b ", middle.join(" "));
        let message = Message::parse(&line).unwrap();
        assert_eq!(message.params.len(), MAX_PARAMS);
        assert_eq!(message.params[14], "a b ");
        // Fewer than fifteen: nothing is merged.
        let message = Message::parse("CMD 1 2 3").unwrap();
        assert_eq!(message.params, ["1", "2", "3"]);
    }

    #[test]
    fn tag_values_unescape_as_ircv3_says() {
        let cases = [
            ("plain", "plain"),
            (r"a\:b", "a;b"),
            (r"a\sb", "a b"),
            (r"a\\b", r"a\b"),
            (r"a\rb\nc", "a\rb\nc"),
            // An unknown escape drops the backslash.
            (r"\a\b\c", "abc"),
            (r"\\\s", r"\ "),
            // A lone backslash at the end is dropped.
            ("end\\", "end"),
            ("\\", ""),
            ("é\\sü", "é ü"),
        ];
        for (escaped, value) in cases {
            assert_eq!(unescape_tag_value(escaped), value, "{escaped:?}");
        }
        assert!(matches!(unescape_tag_value("no-escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_last_repeated_tag_wins() {
        let message = Message::parse("@a=1;b;a=2;;a=3\\s CMD").unwrap();
        assert_eq!(message.tag("a").as_deref(), Some("3 "));
        assert_eq!(message.tag("b").as_deref(), Some(""));
        let keys: Vec<&str> = message.tags().map(|(key, _)| key).collect();
        assert_eq!(keys, ["a", "b", "a", "a"]);
        // An empty value and no value read the same.
        let message = Message::parse("@a=;b CMD").unwrap();
        assert_eq!(message.tag("a").as_deref(), Some(""));
        assert_eq!(message.tag("b").as_deref(), Some(""));
    }

    #[test]
    fn writes_tags_escaped_and_nothing_for_none() {
        let mut out = Vec::new();
        write_tags(&mut out, &[]);
        assert!(out.is_empty());
        write_tags(&mut out, &[("time", Some("a;b c\\")), ("+draft/x", None)]);
        assert_eq!(out, br"@time=a\:b\sc\\;+draft/x ");
        let mut out = Vec::new();
        escape_tag_value("\r\n", &mut out);
        assert_eq!(out, br"\r\n");
    }

    #[test]
    fn writes_text_always_trailing() {
        let mut out = Vec::new();
        write_text(&mut out, Some("srv"), "NOTICE", &["alice", "hi"]);
        assert_eq!(out, b":srv NOTICE alice :hi\r\n");
    }

    #[test]
    fn masks_match_one_character_per_question_mark() {
        assert!(mask_matches("", ""));
        assert!(!mask_matches("", "a"));
        assert!(!mask_matches("?", ""));
        assert!(mask_matches("?", "é"));
        assert!(mask_matches("*!*@*", "Nick!~u@h"));
        assert!(mask_matches("NICK!*", "nick!u@h"));
        // Only ASCII letters fold.
        assert!(!mask_matches("É", "é"));
        assert!(mask_matches("**a**", "bab"));
        assert!(!mask_matches("a*", "ba"));
    }

    #[test]
    fn pathological_masks_are_matched_correctly() {
        // A recursive matcher would take ages here (the suite would time
        // out), and one without memory of its last star would be wrong.
        let subject = "a".repeat(20_000);
        assert!(!mask_matches("*a*a*a*a*b", &subject));
        assert!(!mask_matches(&"*a".repeat(100), &"a".repeat(99)));
        assert!(mask_matches(&"*?".repeat(1000), &subject));
        assert!(!mask_matches(&format!("{}b", "?*".repeat(1000)), &subject));
    }

    #[test]
    fn splits_user_and_host_with_parts_missing() {
        fn split(source: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
            let UserHost { nick, user, host } = split_userhost(source);
            (nick, user, host)
        }
        assert_eq!(split("n!u@h"), (Some("n"), Some("u"), Some("h")));
        assert_eq!(split("irc.example"), (Some("irc.example"), None, None));
        assert_eq!(split("n@h"), (Some("n"), None, Some("h")));
        assert_eq!(split("n!u"), (Some("n"), Some("u"), None));
        assert_eq!(split("!@"), (None, None, None));
        assert_eq!(split(""), (None, None, None));
    }
}
