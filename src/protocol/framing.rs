//! Bytes in, complete lines out, with a cap on line length.
//!
//! The framer holds at most one incomplete line of at most `max` bytes plus
//! whatever the last read added, so a peer that never sends a newline cannot
//! make it grow. A line over the cap is reported once as [`Frame::TooLong`]
//! and the rest of it is discarded up to the next newline.

/// One item cut from the byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line without its `\n` or `\r\n`.
    Line(&'a [u8]),
    /// A line longer than the cap; its bytes are gone.
    TooLong,
}

/// Splits a byte stream into lines terminated by `\n` or `\r\n`.
#[derive(Debug)]
pub struct LineFramer {
    /// Bytes received but not yet handed out as lines.
    buf: Vec<u8>,
    /// Where the next line starts in `buf`; everything before it is consumed
    /// and dropped by the next `push`, so each byte is moved at most once.
    start: usize,
    /// How far `buf` has been searched for a newline, so a long partial line
    /// is not searched again on every read.
    scanned: usize,
    /// The longest line accepted, terminator excluded.
    max: usize,
    /// Skipping the tail of an overlong line that was already reported.
    discarding: bool,
}

impl LineFramer {
    /// A framer accepting lines of at most `max` bytes, terminator excluded.
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max,
            discarding: false,
        }
    }

    /// Appends bytes received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        loop {
            let Some(offset) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                return self.incomplete();
            };
            let begin = self.start;
            let end = self.scanned + offset;
            self.start = end + 1;
            self.scanned = self.start;
            if self.discarding {
                // The tail of a line already reported as too long.
                self.discarding = false;
                continue;
            }
            let line = &self.buf[begin..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > self.max {
                return Some(Frame::TooLong);
            }
            return Some(Frame::Line(line));
        }
    }

    /// No newline in what is buffered: keep it, unless it is already too long
    /// to ever become a valid line (one more byte is allowed for a `\r`).
    fn incomplete(&mut self) -> Option<Frame<'_>> {
        self.scanned = self.buf.len();
        if self.buf.len() - self.start <= self.max + 1 {
            return None;
        }
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        if self.discarding {
            return None;
        }
        self.discarding = true;
        Some(Frame::TooLong)
    }

    /// Forgets the incomplete line held so far (telnet's Ctrl-C gives up on it).
    pub fn discard_partial(&mut self) {
        self.buf.truncate(self.start);
        self.scanned = self.start;
        self.discarding = false;
    }

    /// Bytes held for an incomplete line.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut LineFramer) -> Vec<Result<String, ()>> {
        let mut out = Vec::new();
        while let Some(frame) = framer.next_frame() {
            out.push(match frame {
                Frame::Line(line) => Ok(String::from_utf8(line.to_vec()).unwrap()),
                Frame::TooLong => Err(()),
            });
        }
        out
    }

    #[test]
    fn splits_on_lf_and_crlf() {
        let mut framer = LineFramer::new(100);
        framer.push(b"one\ntwo\r\nthree");
        assert_eq!(frames(&mut framer), [Ok("one".into()), Ok("two".into())]);
        framer.push(b"\n\n");
        assert_eq!(frames(&mut framer), [Ok("three".into()), Ok("".into())]);
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn reassembles_lines_split_across_reads() {
        let mut framer = LineFramer::new(100);
        for byte in b"hello world\r\n" {
            assert_eq!(frames(&mut framer), []);
            framer.push(&[*byte]);
        }
        assert_eq!(frames(&mut framer), [Ok("hello world".into())]);
    }

    #[test]
    fn accepts_a_line_of_exactly_max_bytes() {
        let mut framer = LineFramer::new(5);
        framer.push(b"12345\r\n123456\n");
        assert_eq!(frames(&mut framer), [Ok("12345".into()), Err(())]);
    }

    #[test]
    fn overlong_line_is_reported_once_and_discarded() {
        let mut framer = LineFramer::new(8);
        framer.push(b"0123456789");
        assert_eq!(frames(&mut framer), [Err(())]);
        for _ in 0..1000 {
            framer.push(b"xxxxxxxxxxxxxxxxxxxxxxxx");
            assert_eq!(frames(&mut framer), []);
            assert!(framer.buffered() <= 9 + 24);
        }
        framer.push(b"tail\nnext\n");
        assert_eq!(frames(&mut framer), [Ok("next".into())]);
    }

    #[test]
    fn memory_stays_bounded_without_newlines() {
        let mut framer = LineFramer::new(4096);
        let chunk = [b'a'; 8192];
        for _ in 0..100 {
            framer.push(&chunk);
            while framer.next_frame().is_some() {}
            assert!(framer.buffered() <= 4097 + chunk.len());
        }
    }
}
