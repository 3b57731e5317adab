//! IRCv3 `labeled-response`: the label a client puts on a command, and the
//! answer it gets back under that label.

use super::{history, message};
use crate::protocol::Caps;
use message::Message;

/// Longest label kept (IRCv3 `labeled-response` says at most 64 bytes).
const LABEL_MAX: usize = 64;

/// The message's `label` tag, if it has a usable one.
pub(super) fn label<'a>(message: &Message<'a>) -> Option<&'a str> {
    message
        .tags?
        .split(';')
        .find_map(|tag| tag.strip_prefix("label="))
        .filter(|label| !label.is_empty() && label.len() <= LABEL_MAX)
}

/// Appends `lines`, everything one labeled request made, labeled: one line
/// gets the tag, several a `labeled-response` batch (for a client with
/// `batch`), none an `ACK`.
pub fn write_labeled(label: &str, lines: &[u8], server: &str, caps: Caps, out: &mut Vec<u8>) {
    let count = lines.iter().filter(|&&byte| byte == b'\n').count();
    let tag = format!("label={label}");
    match count {
        0 => {
            out.extend_from_slice(format!("@{tag} ").as_bytes());
            message::write(out, Some(server), "ACK", &[]);
        }
        1 => add_tag(&tag, lines, out),
        _ if !caps.contains(Caps::BATCH) => out.extend_from_slice(lines),
        _ => {
            let batch = history::batch_id();
            out.extend_from_slice(format!("@{tag} ").as_bytes());
            message::write(
                out,
                Some(server),
                "BATCH",
                &[&format!("+{batch}"), "labeled-response"],
            );
            let inner = format!("batch={batch}");
            for line in lines.split_inclusive(|&byte| byte == b'\n') {
                // A line of a batch inside this one keeps its own.
                let tags = line.split(|&byte| byte == b' ').next().unwrap_or_default();
                let batched = tags.starts_with(b"@")
                    && tags[1..]
                        .split(|&byte| byte == b';')
                        .any(|tag| tag.starts_with(b"batch="));
                if batched {
                    out.extend_from_slice(line);
                } else {
                    add_tag(&inner, line, out);
                }
            }
            message::write(out, Some(server), "BATCH", &[&format!("-{batch}")]);
        }
    }
}

/// Appends `line` with `tag` first among its tags.
fn add_tag(tag: &str, line: &[u8], out: &mut Vec<u8>) {
    out.push(b'@');
    out.extend_from_slice(tag.as_bytes());
    match line.strip_prefix(b"@") {
        Some(tagged) => {
            out.push(b';');
            out.extend_from_slice(tagged);
        }
        None => {
            out.push(b' ');
            out.extend_from_slice(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labeled(lines: &str, caps: Caps) -> String {
        let mut out = Vec::new();
        write_labeled("L1", lines.as_bytes(), "srv", caps, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nothing_is_an_ack_and_one_line_is_labeled() {
        assert_eq!(labeled("", Caps::BATCH), "@label=L1 :srv ACK\r\n");
        assert_eq!(
            labeled(":srv PONG srv x\r\n", Caps::BATCH),
            "@label=L1 :srv PONG srv x\r\n"
        );
        assert_eq!(
            labeled("@msgid=m :a PRIVMSG b hi\r\n", Caps::BATCH),
            "@label=L1;msgid=m :a PRIVMSG b hi\r\n"
        );
    }

    #[test]
    fn several_lines_are_a_batch_around_any_batch_inside() {
        let inner =
            ":srv BATCH +h1 chathistory #r\r\n@batch=h1 :a PRIVMSG #r x\r\n:srv BATCH -h1\r\n";
        let text = labeled(inner, Caps::BATCH);
        let lines: Vec<&str> = text.lines().collect();
        let id = lines[0]
            .strip_prefix("@label=L1 :srv BATCH +")
            .and_then(|rest| rest.strip_suffix(" labeled-response"))
            .expect(&text);
        assert_eq!(
            lines[1],
            format!("@batch={id} :srv BATCH +h1 chathistory #r")
        );
        assert_eq!(lines[2], "@batch=h1 :a PRIVMSG #r x");
        assert_eq!(lines[3], format!("@batch={id} :srv BATCH -h1"));
        assert_eq!(lines[4], format!(":srv BATCH -{id}"));
        // Without batch, the lines as they are.
        assert_eq!(labeled(inner, Caps::default()), inner);
    }

    #[test]
    fn a_label_is_taken_from_the_tags_when_short_enough() {
        let parsed = |line| Message::parse(line).map(|message| label(&message).map(str::to_owned));
        assert_eq!(
            parsed("@label=abc;+x=y PING a").unwrap(),
            Some("abc".into())
        );
        assert_eq!(parsed("@+x=y PING a").unwrap(), None);
        let long = format!("@label={} PING a", "x".repeat(65));
        assert_eq!(parsed(&long).unwrap(), None);
    }
}
