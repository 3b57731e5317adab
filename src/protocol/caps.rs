//! The IRCv3 capabilities the server offers and a client enables.

/// The IRCv3 capabilities a client enabled, as bits. Line clients have none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Caps(u32);

impl Caps {
    pub const CAP_NOTIFY: Caps = Caps(1);
    pub const MULTI_PREFIX: Caps = Caps(1 << 1);
    pub const SERVER_TIME: Caps = Caps(1 << 2);
    pub const MESSAGE_TAGS: Caps = Caps(1 << 3);
    pub const AWAY_NOTIFY: Caps = Caps(1 << 4);
    pub const USERHOST_IN_NAMES: Caps = Caps(1 << 5);
    pub const ECHO_MESSAGE: Caps = Caps(1 << 6);
    pub const INVITE_NOTIFY: Caps = Caps(1 << 7);
    pub const SETNAME: Caps = Caps(1 << 8);
    pub const SASL: Caps = Caps(1 << 9);
    pub const ACCOUNT_NOTIFY: Caps = Caps(1 << 10);
    pub const ACCOUNT_TAG: Caps = Caps(1 << 11);
    pub const EXTENDED_JOIN: Caps = Caps(1 << 12);
    pub const BATCH: Caps = Caps(1 << 13);
    /// `draft/chathistory`: the client fetches history itself, so joins
    /// replay nothing to it.
    pub const CHATHISTORY: Caps = Caps(1 << 14);
    pub const EVENT_PLAYBACK: Caps = Caps(1 << 15);
    pub const LABELED_RESPONSE: Caps = Caps(1 << 16);

    /// Every capability the server offers, by name, in the order `CAP LS` lists them.
    pub const OFFERED: [(&'static str, Caps); 17] = [
        ("cap-notify", Caps::CAP_NOTIFY),
        ("multi-prefix", Caps::MULTI_PREFIX),
        ("server-time", Caps::SERVER_TIME),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("away-notify", Caps::AWAY_NOTIFY),
        ("userhost-in-names", Caps::USERHOST_IN_NAMES),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("invite-notify", Caps::INVITE_NOTIFY),
        ("setname", Caps::SETNAME),
        ("sasl", Caps::SASL),
        ("account-notify", Caps::ACCOUNT_NOTIFY),
        ("account-tag", Caps::ACCOUNT_TAG),
        ("extended-join", Caps::EXTENDED_JOIN),
        ("batch", Caps::BATCH),
        ("draft/chathistory", Caps::CHATHISTORY),
        ("draft/event-playback", Caps::EVENT_PLAYBACK),
        ("labeled-response", Caps::LABELED_RESPONSE),
    ];

    /// The capability called `name`, if offered.
    pub fn named(name: &str) -> Option<Caps> {
        Caps::OFFERED
            .iter()
            .find(|(offered, _)| offered.eq_ignore_ascii_case(name))
            .map(|&(_, cap)| cap)
    }

    pub fn contains(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn with(self, other: Caps) -> Caps {
        Caps(self.0 | other.0)
    }

    pub fn without(self, other: Caps) -> Caps {
        Caps(self.0 & !other.0)
    }

    /// Space-separated names, for `CAP LIST`.
    pub fn names(self) -> String {
        let names: Vec<&str> = Caps::OFFERED
            .iter()
            .filter(|&&(_, cap)| self.contains(cap))
            .map(|&(name, _)| name)
            .collect();
        names.join(" ")
    }
}
