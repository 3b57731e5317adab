//! What must hold between requests, whatever clients sent: checked by the
//! router tests and the fuzz target that plays random request sequences.

use crate::limits::{INVITES_PER_CLIENT, INVITES_PER_ROOM};

use super::Router;
use super::state::{fold, folded};

impl Router {
    /// Checks that the state agrees with itself: every member is a connected
    /// client that lists the room, the nickname map and the clients agree,
    /// no room is empty (but those kept by an owner), and every invitation is to an existing room, of a
    /// connected client, recorded on both sides and within bounds. Walks
    /// everything: for tests and fuzzing, not for serving.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (key, room) in &self.rooms {
            if room.is_disposable() {
                return Err(format!("{key} is empty and unowned"));
            }
            if fold(&room.name) != *key {
                return Err(format!("{} is filed under {key}", room.name));
            }
            for member in room.members.keys() {
                let client = self
                    .clients
                    .map
                    .get(member)
                    .ok_or_else(|| format!("{member} in {key} is not connected"))?;
                if !client.rooms.contains(key) {
                    return Err(format!("{member} in {key} does not list it"));
                }
            }
            if room.invited.len() > INVITES_PER_ROOM {
                return Err(format!("{key} has {} invitations", room.invited.len()));
            }
            for invited in &room.invited {
                let client = self
                    .clients
                    .map
                    .get(invited)
                    .ok_or_else(|| format!("{invited}, gone, is still invited to {key}"))?;
                if !client.invites.contains(key) {
                    return Err(format!("{invited} does not know its invitation to {key}"));
                }
            }
        }
        let mut registered = 0;
        for (id, client) in &self.clients.map {
            registered += usize::from(client.registered);
            for key in &client.rooms {
                let room = self
                    .rooms
                    .get(key)
                    .ok_or_else(|| format!("{id} lists {key}, which does not exist"))?;
                if !room.members.contains_key(id) {
                    return Err(format!("{id} lists {key} but is not a member"));
                }
            }
            if client.invites.len() > INVITES_PER_CLIENT {
                return Err(format!("{id} has {} invitations", client.invites.len()));
            }
            for key in &client.invites {
                let invited = self
                    .rooms
                    .get(key)
                    .is_some_and(|room| room.invited.contains(id));
                if !invited {
                    return Err(format!("{id} keeps a stale invitation to {key}"));
                }
            }
            if let Some(nick) = &client.nick
                && self.nicks.get(&*folded(nick)) != Some(id)
            {
                return Err(format!("{id}'s nickname {nick} is not in the map"));
            }
        }
        for (nick, id) in &self.nicks {
            let holder = self
                .clients
                .map
                .get(id)
                .and_then(|client| client.nick.as_ref());
            if holder.map(|held| fold(held)).as_ref() != Some(nick) {
                return Err(format!("{nick} maps to {id}, which does not hold it"));
            }
        }
        if registered != self.registered {
            return Err(format!(
                "{registered} clients registered, {} counted",
                self.registered
            ));
        }
        Ok(())
    }
}
