//! Questions about users: `WHO` and `WHOIS`.

use std::sync::Arc;
use std::time::Instant;

use crate::client::ClientId;
use crate::limits::{WHO_MAX, valid_mask};
use crate::protocol::irc::message::mask_matches;
use crate::protocol::{Caps, Error, Name, Reply, WhoRow, Whois, Whox};
use crate::router::Router;
use crate::router::state::{self, Client};

impl Router {
    pub(super) fn who(&mut self, id: ClientId, mask: &str, whox: Option<Whox>, now: Instant) {
        let all_prefixes = self.clients.caps(id).contains(Caps::MULTI_PREFIX);
        let row = |client: &Client, room: Name, prefixes: &'static str| WhoRow {
            room,
            mask: Arc::clone(client.mask.as_ref().expect("registered")),
            realname: client.realname.clone(),
            away: client.away.is_some(),
            operator: client.operator.is_some(),
            account: client.account.clone(),
            prefixes,
        };
        let mut rows = Vec::new();
        if mask.starts_with('#') {
            if let Some(room) = self.rooms.get(&*state::folded(mask))
                && self.visible(room, id)
            {
                for (member, membership) in &room.members {
                    let client = &self.clients.map[member];
                    rows.push(row(
                        client,
                        room.name.clone(),
                        membership.prefixes(all_prefixes),
                    ));
                }
            }
        } else {
            // An exact nickname finds anyone, invisible or not.
            let exact = self.registered_id(mask);
            rows.extend(exact.map(|found| row(&self.clients.map[&found], "*".into(), "")));
            if valid_mask(mask) {
                // A mask finds the invisible only for those who share a
                // room with them (and server operators); the peers are
                // listed when the first invisible user comes up.
                let sees_all = self.is_server_operator(id);
                let mut shared: Option<Vec<ClientId>> = None;
                let mut subject = String::new();
                for (&other, client) in &self.clients.map {
                    if rows.len() >= WHO_MAX {
                        break;
                    }
                    let Some(who) = client.mask.as_ref().filter(|_| client.registered) else {
                        continue;
                    };
                    if Some(other) == exact {
                        continue;
                    }
                    let seen = !client.invisible
                        || sees_all
                        || other == id
                        || shared
                            .get_or_insert_with(|| self.peers(id))
                            .binary_search(&other)
                            .is_ok();
                    // `nick!user@host`, in a buffer made once (no formatting).
                    subject.clear();
                    for part in [&*who.nick, "!", &who.user, "@", &who.host] {
                        subject.push_str(part);
                    }
                    if seen && mask_matches(mask, &subject) {
                        rows.push(row(client, "*".into(), ""));
                    }
                }
            }
        }
        rows.sort_by_cached_key(|row| state::fold(&row.mask.nick));
        let reply = Reply::Who {
            mask: mask.into(),
            rows,
            whox,
        };
        self.reply(id, reply, now);
    }

    pub(super) fn whois(&mut self, id: ClientId, nick: &str, now: Instant) {
        let Some(target) = self.registered_id(nick) else {
            self.reply(id, Reply::Error(Error::NoSuchUser(nick.to_owned())), now);
            self.reply(id, Reply::WhoisEnd(nick.into()), now);
            return;
        };
        let all_prefixes = self.clients.caps(id).contains(Caps::MULTI_PREFIX);
        let client = &self.clients.map[&target];
        let rooms = client
            .rooms
            .iter()
            .filter_map(|key| self.rooms.get(key))
            .filter(|room| self.visible(room, id))
            .map(|room| {
                format!(
                    "{}{}",
                    room.members[&target].prefixes(all_prefixes),
                    room.name
                )
            })
            .collect();
        let whois = Whois {
            mask: Arc::clone(client.mask.as_ref().expect("registered")),
            realname: client.realname.clone(),
            rooms,
            away: client.away.clone(),
            operator: client.operator.is_some(),
            account: client.account.clone(),
            secure: client.link.tls,
            certfp: client
                .link
                .certfp
                .clone()
                .filter(|_| id == target || self.clients.map[&id].operator.is_some()),
            idle_secs: now.duration_since(client.last_spoke).as_secs(),
            signon: client.signon,
            server: self.info.name.clone(),
        };
        self.reply(id, Reply::Whois(Box::new(whois)), now);
    }
}
