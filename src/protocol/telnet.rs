//! Telnet commands in a line-protocol byte stream.
//!
//! `telnet` sends commands as `IAC` (255) sequences among the text: option
//! negotiation, and for Ctrl-C `IAC IP IAC DO TIMING-MARK`, after which it
//! throws away everything the server sends until the server answers the
//! timing mark. The filter takes the commands out of the stream, whatever
//! reads they are split across, and says where the two that matter were.

/// Interpret As Command: starts every telnet command.
const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
/// Subnegotiation Begin, which runs to `IAC SE`.
const SB: u8 = 250;
const SE: u8 = 240;
/// Interrupt Process: Ctrl-C.
const IP: u8 = 244;
/// The timing-mark option.
const TIMING_MARK: u8 = 6;
/// The longest subnegotiation skipped; past it the bytes are text again, so
/// a stray `IAC SB` cannot swallow all later input.
const MAX_SUB: u8 = 64;

/// The answer to `IAC DO TIMING-MARK`: "I won't", which tells telnet that
/// everything before it was handled all the same.
pub const WONT_TIMING_MARK: [u8; 3] = [IAC, WONT, TIMING_MARK];

/// What the filter found in the bytes it was given, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes of text.
    Text(&'a [u8]),
    /// Ctrl-C: the user gave up on the line typed so far.
    Interrupt,
    /// The client waits for an answer to a timing mark.
    TimingMark,
}

/// Where the filter is within a command that may continue in the next read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Text,
    /// After `IAC`.
    Command,
    /// After `IAC WILL|WONT|DO|DONT`; the byte is which.
    Option(u8),
    /// Inside a subnegotiation, this many bytes in.
    Sub(u8),
    /// After `IAC` inside a subnegotiation.
    SubCommand(u8),
}

/// Takes telnet commands out of a byte stream.
#[derive(Debug, Default)]
pub struct TelnetFilter {
    state: State,
}

impl TelnetFilter {
    /// Splits `bytes` into text and the commands that matter, remembering
    /// an unfinished command for the next call. `on` is called for each
    /// piece in order.
    pub fn filter<'a>(&mut self, bytes: &'a [u8], mut on: impl FnMut(Piece<'a>)) {
        // Where the run of text being gathered starts.
        let mut run = None;
        for (index, &byte) in bytes.iter().enumerate() {
            self.state = match (self.state, byte) {
                (State::Text, IAC) => {
                    if let Some(start) = run.take() {
                        on(Piece::Text(&bytes[start..index]));
                    }
                    State::Command
                }
                (State::Text, _) => {
                    run.get_or_insert(index);
                    State::Text
                }
                // An escaped 255 is text (and not UTF-8, so refused later).
                (State::Command, IAC) => {
                    on(Piece::Text(&bytes[index..=index]));
                    State::Text
                }
                (State::Command, WILL..=DONT) => State::Option(byte),
                (State::Command, SB) => State::Sub(0),
                (State::Command, IP) => {
                    on(Piece::Interrupt);
                    State::Text
                }
                (State::Command, _) => State::Text,
                (State::Option(DO), TIMING_MARK) => {
                    on(Piece::TimingMark);
                    State::Text
                }
                (State::Option(_), _) => State::Text,
                (State::Sub(length) | State::SubCommand(length), _) if length >= MAX_SUB => {
                    run.get_or_insert(index);
                    State::Text
                }
                (State::Sub(length), IAC) => State::SubCommand(length + 1),
                (State::Sub(length), _) => State::Sub(length + 1),
                (State::SubCommand(_), SE) => State::Text,
                (State::SubCommand(length), _) => State::Sub(length + 1),
            };
        }
        if let Some(start) = run {
            on(Piece::Text(&bytes[start..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text and commands in `chunks`, fed one after the other.
    fn pieces(chunks: &[&[u8]]) -> (Vec<u8>, Vec<&'static str>) {
        let mut filter = TelnetFilter::default();
        let mut text = Vec::new();
        let mut commands = Vec::new();
        for chunk in chunks {
            filter.filter(chunk, |piece| match piece {
                Piece::Text(bytes) => text.extend_from_slice(bytes),
                Piece::Interrupt => commands.push("interrupt"),
                Piece::TimingMark => commands.push("timing mark"),
            });
        }
        (text, commands)
    }

    #[test]
    fn text_passes_through() {
        assert_eq!(
            pieces(&[b"hello\n", b"there"]),
            (b"hello\nthere".to_vec(), vec![])
        );
    }

    #[test]
    fn ctrl_c_is_an_interrupt_and_a_timing_mark() {
        let (text, commands) = pieces(&[b"abc\xff\xf4\xff\xfd\x06def\n"]);
        assert_eq!(text, b"abcdef\n");
        assert_eq!(commands, ["interrupt", "timing mark"]);
    }

    #[test]
    fn commands_split_across_reads_are_still_found() {
        let (text, commands) = pieces(&[b"a\xff", b"\xf4\xff\xfd", b"\x06b"]);
        assert_eq!(text, b"ab");
        assert_eq!(commands, ["interrupt", "timing mark"]);
    }

    #[test]
    fn negotiation_and_subnegotiation_are_dropped() {
        let (text, commands) =
            pieces(&[b"\xff\xfb\x01x\xff\xfa\x18\x01\xff", b"\xf0y\xff\xfe\x06"]);
        assert_eq!(text, b"xy");
        assert!(commands.is_empty(), "DONT TIMING-MARK needs no answer");
    }

    #[test]
    fn an_endless_subnegotiation_gives_up() {
        let mut stream = b"\xff\xfa".to_vec();
        stream.extend_from_slice(&[b'x'; MAX_SUB as usize]);
        stream.extend_from_slice(b"/help\n");
        assert_eq!(pieces(&[&stream]).0, b"/help\n");
    }

    #[test]
    fn an_escaped_255_is_text() {
        assert_eq!(pieces(&[b"a\xff\xffb"]).0, b"a\xffb");
    }
}
