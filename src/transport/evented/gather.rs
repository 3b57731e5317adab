//! When an event loop with output waiting polls once more, without
//! waiting, before it writes: input that came meanwhile then goes out in
//! the same writes. The bench's bare relay takes the same rule.

/// At most this many looks for more input before writing.
const LOOKS: u32 = 4;

/// A turn whose messages went to at least this many recipients each, on
/// average, is worth a look past the first.
const ROOMLIKE: usize = 4;

/// The looks taken since the loop last wrote.
#[derive(Debug, Default)]
pub struct Gathering {
    looks: u32,
    /// The turn's messages before the last look.
    before: usize,
}

impl Gathering {
    /// Whether the next poll is such a look, which must not wait.
    pub fn looking(&self) -> bool {
        self.looks > 0
    }

    /// Whether to look once more before writing, after a poll that `found`
    /// events, with `output` waiting and the turn so far having made
    /// `deliveries` of `messages` messages. One look always; more while the
    /// last found messages and they go to rooms: each write saved is one
    /// per member. Private messages gain little and would only wait. False
    /// means write now; the next poll may wait again.
    pub fn again(&mut self, found: bool, output: bool, messages: usize, deliveries: usize) -> bool {
        let roomlike = messages > self.before && deliveries >= ROOMLIKE * messages;
        if self.looks < LOOKS && found && output && (self.looks == 0 || roomlike) {
            self.before = messages;
            self.looks += 1;
            return true;
        }
        *self = Gathering::default();
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_messages_get_one_look_before_writing() {
        let mut gathering = Gathering::default();
        assert!(gathering.again(true, true, 3, 3));
        assert!(gathering.looking());
        assert!(!gathering.again(true, true, 6, 6));
        assert!(!gathering.looking());
    }

    #[test]
    fn room_messages_get_looks_while_more_come_up_to_the_limit() {
        let mut gathering = Gathering::default();
        let looks = (1..10)
            .take_while(|&n| gathering.again(true, true, n, 100 * n))
            .count();
        assert_eq!(looks, LOOKS as usize);
        // A look that finds no new message ends the gathering.
        let mut gathering = Gathering::default();
        assert!(gathering.again(true, true, 2, 200));
        assert!(!gathering.again(true, true, 2, 200));
    }

    #[test]
    fn nothing_found_or_nothing_to_write_means_no_look() {
        let mut gathering = Gathering::default();
        assert!(!gathering.again(false, true, 1, 100));
        assert!(!gathering.again(true, false, 0, 0));
    }
}
