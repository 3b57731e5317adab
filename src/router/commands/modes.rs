//! Room modes and user modes.

use std::sync::Arc;
use std::time::Instant;

use super::unix_now;
use crate::client::ClientId;
use crate::limits::{MODES_MAX, valid_mask};
use crate::protocol::{Ban, Error, Event, Mask, ModeChange, Name, Reply};
use crate::router::Router;
use crate::router::state::{self, BANS_PER_ROOM};

impl Router {
    pub(super) fn room_mode(
        &mut self,
        id: ClientId,
        name: &str,
        changes: Vec<ModeChange>,
        now: Instant,
    ) -> Result<(), Error> {
        let key = state::fold(name);
        let room = self
            .rooms
            .get(&key)
            .ok_or_else(|| Error::NoSuchRoom(name.to_owned()))?;
        if changes.is_empty() {
            let reply = Reply::RoomModes {
                room: room.name.clone(),
                modes: room.mode_string(room.members.contains_key(&id)),
                created: room.created,
            };
            self.reply(id, reply, now);
            return Ok(());
        }
        if changes
            .iter()
            .all(|change| change.mode == 'b' && change.arg.is_none())
        {
            let reply = Reply::BanList {
                room: room.name.clone(),
                bans: room.bans.clone(),
            };
            self.reply(id, reply, now);
            return Ok(());
        }
        // Server operators may change any room's modes.
        if !room.is_operator(id) && !self.is_server_operator(id) {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        let by = Arc::clone(self.clients.mask(id).expect("registered"));
        let mut applied = Vec::new();
        // `MODES`: changes that take an argument past the first few are
        // ignored, and each unknown letter is reported once, so one line
        // makes a bounded amount of work and of replies.
        let mut with_args = 0;
        let mut unknown = Vec::new();
        for change in changes {
            if takes_arg(&change) {
                with_args += 1;
                if with_args > MODES_MAX {
                    continue;
                }
            }
            match self.apply_room_mode(&key, &by, change) {
                Ok(Some(change)) => applied.push(change),
                Ok(None) => {}
                Err(Error::UnknownMode(mode)) if unknown.contains(&mode) => {}
                Err(error) => {
                    if let Error::UnknownMode(mode) = error {
                        unknown.push(mode);
                    }
                    self.reply(id, Reply::Error(error), now);
                }
            }
        }
        if !applied.is_empty() {
            let event = Event::ModeChanged {
                target: self.rooms[&key].name.clone(),
                by,
                changes: applied,
            };
            self.broadcast(&key, event, None, now);
        }
        Ok(())
    }

    /// Applies one mode change; `Some` is the change as it took effect,
    /// `None` when it changed nothing.
    pub(super) fn apply_room_mode(
        &mut self,
        key: &Name,
        by: &Mask,
        change: ModeChange,
    ) -> Result<Option<ModeChange>, Error> {
        let ModeChange { add, mode, arg } = change;
        // Whom `+o`/`+v` names, looked up by nickname: a room's member list
        // is never walked for it.
        let target = match (mode, arg.as_deref()) {
            ('o' | 'v', Some(nick)) => self.registered_id(nick),
            _ => None,
        };
        let room = self.rooms.get_mut(key).expect("caller checked");
        let flag = |on: &mut bool| {
            let changed = *on != add;
            *on = add;
            changed
        };
        let changed = match mode {
            'i' => flag(&mut room.modes.invite_only),
            'm' => flag(&mut room.modes.moderated),
            'n' => flag(&mut room.modes.no_external),
            's' => flag(&mut room.modes.secret),
            't' => flag(&mut room.modes.topic_locked),
            'k' if add => match &arg {
                Some(key) if state::valid_key(key) => {
                    room.modes.key = Some(key.clone());
                    true
                }
                // An empty key is no key; anything else invalid is refused.
                Some(key) if !key.is_empty() => {
                    return Err(Error::InvalidKey(room.name.to_string()));
                }
                _ => false,
            },
            'k' => room.modes.key.take().is_some(),
            'l' if add => match arg.as_deref().map(str::parse::<usize>) {
                Some(Ok(limit)) if limit > 0 => {
                    room.modes.limit = Some(limit);
                    true
                }
                _ => false,
            },
            'l' => room.modes.limit.take().is_some(),
            'o' | 'v' => {
                let Some(nick) = &arg else { return Ok(None) };
                let Some(member) = target.filter(|member| room.members.contains_key(member)) else {
                    return Err(if target.is_some() {
                        Error::UserNotInRoom {
                            nick: nick.clone(),
                            room: room.name.to_string(),
                        }
                    } else {
                        Error::NoSuchUser(nick.clone())
                    });
                };
                let nick = self.clients.map[&member].me();
                let membership = room.members.get_mut(&member).expect("checked above");
                let on = if mode == 'o' {
                    &mut membership.operator
                } else {
                    &mut membership.voice
                };
                let changed = *on != add;
                *on = add;
                return Ok(changed.then(|| ModeChange {
                    add,
                    mode,
                    arg: Some(nick.to_string()),
                }));
            }
            'b' => {
                let Some(mask) = arg.as_deref().map(normalize_ban) else {
                    return Ok(None);
                };
                if add && !valid_mask(&mask) {
                    return Err(Error::InvalidBanMask(room.name.to_string()));
                }
                let existing = room
                    .bans
                    .iter()
                    .position(|ban| ban.mask.eq_ignore_ascii_case(&mask));
                match (add, existing) {
                    (true, None) if room.bans.len() >= BANS_PER_ROOM => {
                        return Err(Error::BanListFull(room.name.to_string()));
                    }
                    (true, None) => room.bans.push(Ban {
                        mask: mask.as_str().into(),
                        set_by: by.nick.clone(),
                        set_at: unix_now(),
                    }),
                    // Show the ban as it was listed, whatever case it was
                    // lifted in, so clients can drop it from their lists.
                    (false, Some(index)) => {
                        let lifted = room.bans.remove(index);
                        return Ok(Some(ModeChange {
                            add,
                            mode,
                            arg: Some(lifted.mask.to_string()),
                        }));
                    }
                    _ => return Ok(None),
                }
                return Ok(Some(ModeChange {
                    add,
                    mode,
                    arg: Some(mask),
                }));
            }
            _ => return Err(Error::UnknownMode(mode)),
        };
        // Keys are shown to members as set; `-k` and `-l` take no argument.
        let arg = if add { arg } else { None };
        Ok(changed.then_some(ModeChange { add, mode, arg }))
    }

    /// Shows or changes one's own user modes: `+i` invisible and `+w`
    /// wallops may be set and unset, `+o` only unset (`OPER` sets it).
    pub(super) fn user_mode(
        &mut self,
        id: ClientId,
        nick: &str,
        changes: Vec<ModeChange>,
        now: Instant,
    ) -> Result<(), Error> {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if state::fold(nick) != state::fold(&client.me()) {
            return Err(Error::UsersDontMatch);
        }
        if changes.is_empty() {
            let modes = client.user_modes().into();
            self.reply(id, Reply::UserModes(modes), now);
            return Ok(());
        }
        let mut applied = Vec::new();
        let mut unknown = None;
        for change in changes {
            let on = match change.mode {
                'i' => &mut client.invisible,
                'w' => &mut client.wallops,
                'o' if !change.add && client.operator.is_some() => {
                    client.operator = None;
                    self.operators -= 1;
                    applied.push(change);
                    continue;
                }
                'o' => continue,
                mode => {
                    unknown = Some(mode);
                    continue;
                }
            };
            if *on != change.add {
                *on = change.add;
                if change.mode == 'i' {
                    self.invisible = if change.add {
                        self.invisible + 1
                    } else {
                        self.invisible - 1
                    };
                }
                applied.push(ModeChange {
                    arg: None,
                    ..change
                });
            }
        }
        if !applied.is_empty() {
            let by = Arc::clone(client.mask.as_ref().expect("registered"));
            let event = Event::ModeChanged {
                target: by.nick.clone(),
                by,
                changes: applied,
            };
            self.send(id, event, now);
        }
        match unknown {
            Some(mode) => Err(Error::UnknownUserMode(mode)),
            None => Ok(()),
        }
    }
}

/// Whether a mode change takes an argument, and so counts against `MODES`.
fn takes_arg(change: &ModeChange) -> bool {
    matches!(change.mode, 'b' | 'k' | 'o' | 'v') || (change.mode == 'l' && change.add)
}

/// A ban on a bare nickname bans `nick!*@*`; a mask without a nick part
/// gets `*!` in front.
fn normalize_ban(mask: &str) -> String {
    match (mask.contains('!'), mask.contains('@')) {
        (false, false) => format!("{mask}!*@*"),
        (false, true) => format!("*!{mask}"),
        _ => mask.to_owned(),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn bans_are_normalized_to_full_masks() {
        assert_eq!(normalize_ban("bob"), "bob!*@*");
        assert_eq!(normalize_ban("*@10.0.0.1"), "*!*@10.0.0.1");
        assert_eq!(normalize_ban("b*!*@*"), "b*!*@*");
    }
}
