//! Invitations: who may pass a room's `+i` and bans, until they join.
//!
//! An invitation is kept on both sides, the room's list and the client's,
//! so whichever goes first (the client disconnecting, the room emptying)
//! takes it from the other without a search. Both lists are bounded; a new
//! invitation past the bound pushes out the oldest.

use crate::client::ClientId;
use crate::limits::{INVITES_PER_CLIENT, INVITES_PER_ROOM};
use crate::protocol::Name;

use super::Router;

impl Router {
    /// Records that `id` is invited to the room `key` (which exists).
    pub(super) fn add_invite(&mut self, key: &Name, id: ClientId) {
        let room = self.rooms.get_mut(key).expect("caller checked");
        if room.invited.contains(&id) {
            return;
        }
        if room.invited.len() >= INVITES_PER_ROOM {
            let oldest = room.invited.remove(0);
            if let Some(client) = self.clients.map.get_mut(&oldest) {
                client.invites.retain(|invited| invited != key);
            }
        }
        room.invited.push(id);
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if client.invites.len() >= INVITES_PER_CLIENT {
            let oldest = client.invites.remove(0);
            if let Some(room) = self.rooms.get_mut(&oldest) {
                room.invited.retain(|&invited| invited != id);
            }
        }
        client.invites.push(key.clone());
    }

    /// Uses up the invitation of `id` to `key`, as joining does.
    pub(super) fn take_invite(&mut self, key: &Name, id: ClientId) {
        if let Some(room) = self.rooms.get_mut(key) {
            room.invited.retain(|&invited| invited != id);
        }
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.invites.retain(|invited| invited != key);
        }
    }

    /// Withdraws the invitations of a client that is gone (`invites`, the
    /// rooms it was invited to).
    pub(super) fn forget_invites(&mut self, id: ClientId, invites: &[Name]) {
        for key in invites {
            if let Some(room) = self.rooms.get_mut(key) {
                room.invited.retain(|&invited| invited != id);
            }
        }
    }

    /// Ends a room nobody is in any more, and the invitations to it.
    pub(super) fn forget_room(&mut self, key: &Name) {
        let Some(room) = self.rooms.remove(key) else {
            return;
        };
        self.recent.dormant(key);
        for id in room.invited {
            if let Some(client) = self.clients.map.get_mut(&id) {
                client.invites.retain(|invited| invited != key);
            }
        }
    }
}
