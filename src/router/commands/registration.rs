//! Registration and one's own settings: capabilities, nickname, user name,
//! password, away, real name and quitting.

use std::sync::Arc;
use std::time::Instant;

use super::unix_now;
use crate::client::ClientId;
use crate::protocol::account::NICKSERV;
use crate::protocol::truncate;
use crate::protocol::{
    CapCommand, Caps, Error, Event, Lusers, Mask, Name, Outgoing, Protocol, Reply, Welcome,
};
use crate::router::Router;
use crate::router::state::{self, REALNAME_MAX, TOPIC_MAX, USER_MAX};

/// The `sasl` capability as `CAP LS 302` lists it.
const SASL_WITH_MECHANISMS: &str = "sasl=EXTERNAL,PLAIN,SCRAM-SHA-256";

/// The real name of line users, who have no way to give one: what IRC
/// users see in `WHOIS` and `WHO`.
const LINE_REALNAME: &str = "switchboard line user (nc or telnet)";

impl Router {
    pub(super) fn pass(&mut self, id: ClientId, password: String) -> Result<(), Error> {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if client.registered {
            return Err(Error::AlreadyRegistered);
        }
        client.password = Some(password);
        Ok(())
    }

    pub(super) fn cap(&mut self, id: ClientId, command: CapCommand, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let (subcommand, caps) = match command {
            CapCommand::Ls(version) => {
                client.negotiating |= !client.registered;
                if version >= 302 {
                    // Clients speaking 302 get cap-notify without asking.
                    let caps = client.caps().with(Caps::CAP_NOTIFY);
                    client.outbox.set_caps(caps);
                }
                // 302 clients learn the SASL mechanisms from the value.
                let mut offered: Vec<&str> = Caps::OFFERED
                    .iter()
                    .map(|&(name, cap)| match cap {
                        Caps::SASL if version >= 302 => SASL_WITH_MECHANISMS,
                        _ => name,
                    })
                    .collect();
                // STS is a value or nothing; it cannot be requested.
                if let Some(sts) = self.sts.as_ref().filter(|_| version >= 302) {
                    offered.push(if client.link.tls {
                        &sts.secure
                    } else {
                        &sts.plain
                    });
                }
                ("LS", offered.join(" "))
            }
            CapCommand::List => ("LIST", client.caps().names()),
            CapCommand::Req(wanted) => {
                client.negotiating |= !client.registered;
                match requested_caps(client.caps(), &wanted) {
                    Some(caps) => {
                        client.outbox.set_caps(caps);
                        ("ACK", wanted)
                    }
                    None => ("NAK", wanted),
                }
            }
            CapCommand::End => {
                client.negotiating = false;
                self.try_register(id, now);
                return;
            }
        };
        self.reply(id, Reply::Cap { subcommand, caps }, now);
    }

    pub(super) fn nick(&mut self, id: ClientId, nick: String, now: Instant) -> Result<(), Error> {
        if nick.is_empty() {
            return Err(Error::NoNickGiven);
        }
        if !state::valid_nick(&nick) {
            return Err(Error::BadNick(nick));
        }
        let key = state::fold(&nick);
        // Nobody may pass for the server's own pseudo-user.
        if key.eq_ignore_ascii_case(NICKSERV) {
            return Err(Error::NickInUse(nick));
        }
        let client = &self.clients.map[&id];
        let old = client.nick.clone();
        match self.nicks.get(&key) {
            Some(&owner) if owner != id => return Err(Error::NickInUse(nick)),
            // Only a change of case; anything else is no change at all.
            Some(_) if old.as_deref() == Some(nick.as_str()) => {
                return match client.protocol {
                    Protocol::Line => Err(Error::AlreadyNamed),
                    Protocol::Irc => Ok(()),
                };
            }
            _ => {}
        }
        let nick: Name = nick.into();
        if let Some(old) = &old {
            self.nicks.remove(&state::fold(old));
        }
        self.nicks.insert(key, id);
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.nick = Some(nick.clone());
        let Some(mask) = client.mask.clone() else {
            self.try_register(id, now);
            return Ok(());
        };
        client.mask = Some(Arc::new(Mask {
            nick: nick.clone(),
            ..Mask::clone(&mask)
        }));
        let realname = client.realname.clone();
        self.remember(&mask, &realname);
        let changed = Outgoing::new(Event::NickChanged {
            who: mask,
            new: nick,
        });
        self.clients.send(id, &changed, now);
        for peer in self.peers(id) {
            self.clients.send(peer, &changed, now);
        }
        self.check_nick_owner(id, now);
        Ok(())
    }

    pub(super) fn user(
        &mut self,
        id: ClientId,
        user: &str,
        realname: &str,
        now: Instant,
    ) -> Result<(), Error> {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if client.registered || client.user.is_some() {
            return Err(Error::AlreadyRegistered);
        }
        // No ident lookup: the `~` says the user name is the client's own claim.
        let user: String = user
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .take(USER_MAX)
            .collect();
        client.user = Some(format!("~{}", if user.is_empty() { "user" } else { &user }).into());
        client.realname = truncate(realname, REALNAME_MAX).into();
        self.try_register(id, now);
        Ok(())
    }

    /// Completes registration once everything it needs is there.
    pub(super) fn try_register(&mut self, id: ClientId, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let Some(nick) = client.nick.clone() else {
            return;
        };
        let ready = match client.protocol {
            Protocol::Line => true,
            Protocol::Irc => client.user.is_some() && !client.negotiating,
        };
        if client.registered || !ready || client.waiting {
            return;
        }
        if self.pass_login(id, now) {
            // Registration completes once the password is checked.
            return;
        }
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if self.password.is_some() && client.password != self.password {
            log::info!("{id} from {} gave a wrong password", client.peer);
            self.reply(id, Reply::Error(Error::PasswordMismatch), now);
            let reason: Name = "Bad password".into();
            self.remove(id, None, reason, now);
            return;
        }
        if client.protocol == Protocol::Line {
            client.realname = LINE_REALNAME.into();
        }
        let user = client
            .user
            .clone()
            .unwrap_or_else(|| format!("~{nick}").into());
        let mask = Arc::new(Mask {
            nick,
            user,
            host: client.peer.ip().to_string().into(),
            account: client.account.clone(),
        });
        client.registered = true;
        client.signon = unix_now();
        client.last_spoke = now;
        client.mask = Some(Arc::clone(&mask));
        self.registered += 1;
        self.max_registered = self.max_registered.max(self.registered);
        log::debug!("{id} registered as {mask}");
        let welcome = Welcome {
            mask,
            info: Arc::clone(&self.info),
            lusers: self.lusers(),
        };
        self.reply(id, Reply::Welcome(Box::new(welcome)), now);
        self.check_nick_owner(id, now);
        self.take_offline(id);
    }

    pub(super) fn lusers(&self) -> Lusers {
        Lusers {
            users: self.registered,
            invisible: self.invisible,
            operators: self.operators,
            unregistered: self.clients.map.len() - self.registered,
            rooms: self.rooms.len(),
            max_users: self.max_registered,
        }
    }

    pub(super) fn quit(&mut self, id: ClientId, reason: Option<String>, now: Instant) {
        let protocol = self.clients.map[&id].protocol;
        // Each in the words its users know.
        let farewell = match (protocol, &reason) {
            (Protocol::Line, Some(reason)) => format!("you quit ({reason})"),
            (Protocol::Line, None) => "you quit".to_owned(),
            (Protocol::Irc, Some(reason)) => format!("Quit: {reason}"),
            (Protocol::Irc, None) => "Client Quit".to_owned(),
        };
        self.remove(id, reason.map(Name::from), farewell.into(), now);
    }

    pub(super) fn away(&mut self, id: ClientId, message: Option<String>, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let message: Option<Name> = message.map(|message| truncate(&message, TOPIC_MAX).into());
        client.away = message.clone();
        let who = Arc::clone(client.mask.as_ref().expect("registered"));
        self.reply(id, Reply::Away(message.is_some()), now);
        let event = Outgoing::new(Event::Away { who, message });
        for peer in self.peers(id) {
            if self.clients.caps(peer).contains(Caps::AWAY_NOTIFY) {
                self.clients.send(peer, &event, now);
            }
        }
    }

    pub(super) fn set_name(&mut self, id: ClientId, realname: &str, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let realname: Name = truncate(realname, REALNAME_MAX).into();
        client.realname = realname.clone();
        let who = Arc::clone(client.mask.as_ref().expect("registered"));
        let event = Outgoing::new(Event::RealnameChanged { who, realname });
        for peer in self.peers(id).into_iter().chain([id]) {
            if self.clients.caps(peer).contains(Caps::SETNAME) {
                self.clients.send(peer, &event, now);
            }
        }
    }
}

/// The capabilities after a `CAP REQ`, or `None` if any asked for is
/// unknown (the request is then refused as a whole).
fn requested_caps(mut caps: Caps, wanted: &str) -> Option<Caps> {
    for name in wanted.split_whitespace() {
        let (remove, name) = match name.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, name),
        };
        let cap = Caps::named(name)?;
        caps = if remove {
            caps.without(cap)
        } else {
            caps.with(cap)
        };
    }
    Some(caps)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn caps_are_all_or_nothing() {
        let none = Caps::default();
        let both = requested_caps(none, "server-time multi-prefix").unwrap();
        assert!(both.contains(Caps::SERVER_TIME) && both.contains(Caps::MULTI_PREFIX));
        assert_eq!(requested_caps(none, "server-time draft/multiline"), None);
        let one = requested_caps(both, "-server-time").unwrap();
        assert!(!one.contains(Caps::SERVER_TIME) && one.contains(Caps::MULTI_PREFIX));
    }
}
