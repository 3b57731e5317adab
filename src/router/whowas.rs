//! Who had a nickname lately, for `WHOWAS`: bounded in all and per nickname.

use std::collections::{HashMap, VecDeque};

use crate::protocol::{Name, WhowasEntry};

/// Entries kept in all; the oldest goes first.
pub const WHOWAS_MAX: usize = 1000;
/// Entries kept per nickname; the oldest goes first.
pub const WHOWAS_PER_NICK: usize = 5;

/// Recent holders of nicknames, oldest first in each list.
#[derive(Debug, Default)]
pub struct History {
    /// By folded nickname.
    by_nick: HashMap<Name, VecDeque<WhowasEntry>>,
    /// Folded nicknames in the order their entries were added, one per
    /// entry, to find the oldest entry of all.
    order: VecDeque<Name>,
}

impl History {
    /// Remembers that someone stopped using the nickname `key` (folded).
    pub fn record(&mut self, key: Name, entry: WhowasEntry) {
        let entries = self.by_nick.entry(key.clone()).or_default();
        if entries.len() == WHOWAS_PER_NICK {
            entries.pop_front();
            // Its place in `order` is the first one with this key.
            let index = self.order.iter().position(|k| *k == key);
            self.order.remove(index.expect("every entry is in order"));
        }
        entries.push_back(entry);
        self.order.push_back(key);
        if self.order.len() > WHOWAS_MAX {
            let oldest = self.order.pop_front().expect("not empty");
            if let Some(entries) = self.by_nick.get_mut(&oldest) {
                entries.pop_front();
                if entries.is_empty() {
                    self.by_nick.remove(&oldest);
                }
            }
        }
    }

    /// The most recent holders of `key` (folded) first, at most `count`.
    pub fn lookup(&self, key: &str, count: Option<usize>) -> Vec<WhowasEntry> {
        let Some(entries) = self.by_nick.get(key) else {
            return Vec::new();
        };
        entries
            .iter()
            .rev()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// How many entries are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::Mask;

    fn entry(nick: &str, user: &str) -> WhowasEntry {
        WhowasEntry {
            mask: Arc::new(Mask {
                nick: nick.into(),
                user: user.into(),
                host: "127.0.0.1".into(),
                account: None,
            }),
            realname: "Real".into(),
            server: "test.server".into(),
            left: "now".into(),
        }
    }

    fn users(entries: &[WhowasEntry]) -> Vec<&str> {
        entries.iter().map(|entry| &*entry.mask.user).collect()
    }

    #[test]
    fn most_recent_first_and_count_limits() {
        let mut history = History::default();
        history.record("bob".into(), entry("bob", "one"));
        history.record("bob".into(), entry("Bob", "two"));
        assert_eq!(users(&history.lookup("bob", None)), ["two", "one"]);
        assert_eq!(users(&history.lookup("bob", Some(1))), ["two"]);
        assert!(history.lookup("carol", None).is_empty());
    }

    #[test]
    fn a_nickname_keeps_its_last_few() {
        let mut history = History::default();
        for n in 0..WHOWAS_PER_NICK + 2 {
            history.record("bob".into(), entry("bob", &n.to_string()));
        }
        let kept = history.lookup("bob", None);
        assert_eq!(kept.len(), WHOWAS_PER_NICK);
        assert_eq!(*kept[0].mask.user, *(WHOWAS_PER_NICK + 1).to_string());
        assert_eq!(history.len(), WHOWAS_PER_NICK);
    }

    #[test]
    fn the_oldest_entry_of_all_goes_first() {
        let mut history = History::default();
        for n in 0..WHOWAS_MAX + 1 {
            let nick = format!("n{n}");
            history.record(nick.as_str().into(), entry(&nick, "u"));
        }
        assert_eq!(history.len(), WHOWAS_MAX);
        assert!(history.lookup("n0", None).is_empty());
        assert_eq!(history.lookup("n1", None).len(), 1);
    }
}
