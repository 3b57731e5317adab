//! Server operators: `OPER`, `KILL` and `WALLOPS`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::ClientId;
use crate::hashing::{Job, Task};
use crate::protocol::{Error, Event, ModeChange, Name, Outgoing, Protocol, Reply};
use crate::router::{Router, Then};

/// The wait after the first failed `OPER`; it doubles with each failure in
/// a row, up to [`MAX_OPER_BACKOFF`].
const OPER_BACKOFF: Duration = Duration::from_secs(1);
const MAX_OPER_BACKOFF: Duration = Duration::from_secs(60);

impl Router {
    /// Starts checking an operator password; the answer comes with the
    /// verdict, and the client's later requests wait for it.
    pub(super) fn oper(
        &mut self,
        id: ClientId,
        name: &str,
        password: String,
        now: Instant,
    ) -> Result<(), Error> {
        let client = &self.clients.map[&id];
        if let Some(retry) = client.oper_retry_at.filter(|&retry| retry > now) {
            let retry_secs = retry.duration_since(now).as_secs_f64().ceil() as u64;
            return Err(Error::OperRefused { retry_secs });
        }
        let (operator, hash) = self
            .opers
            .lookup(name)
            .ok_or(Error::OperRefused { retry_secs: 0 })?;
        let job = Job {
            client: id,
            password,
            task: Task::Verify {
                hash,
                then: Then::Oper(operator),
            },
        };
        self.hash(job)
            .map_err(|_| Error::OperRefused { retry_secs: 1 })
    }

    /// Answers an `OPER` whose password was checked: `operator` is the
    /// operator the client becomes, `None` if the name or password was wrong.
    pub(in crate::router) fn oper_checked(
        &mut self,
        id: ClientId,
        operator: Option<Name>,
        now: Instant,
    ) {
        let Some(client) = self.clients.map.get_mut(&id) else {
            return;
        };
        match operator {
            Some(name) => {
                log::info!("{id} ({}) is now operator {name}", client.me());
                client.oper_failures = 0;
                client.oper_retry_at = None;
                let newly = client.operator.replace(name).is_none();
                self.operators += usize::from(newly);
                self.reply(id, Reply::YoureOper, now);
                if newly {
                    self.own_mode_changed(id, 'o', true, now);
                }
            }
            None => {
                log::info!("{id} from {} failed to become an operator", client.peer);
                client.oper_failures += 1;
                let backoff = OPER_BACKOFF * 2u32.pow(client.oper_failures.min(6) - 1);
                client.oper_retry_at = Some(now + backoff.min(MAX_OPER_BACKOFF));
                self.reply(id, Reply::Error(Error::OperFailed), now);
            }
        }
    }

    /// Tells a client one of its own user modes changed.
    pub(super) fn own_mode_changed(&mut self, id: ClientId, mode: char, add: bool, now: Instant) {
        let by = Arc::clone(self.clients.mask(id).expect("registered"));
        let event = Event::ModeChanged {
            target: by.nick.clone(),
            by,
            changes: vec![ModeChange {
                add,
                mode,
                arg: None,
            }],
        };
        self.send(id, event, now);
    }

    /// Whether `id` is a server operator.
    pub(super) fn is_server_operator(&self, id: ClientId) -> bool {
        self.clients
            .map
            .get(&id)
            .is_some_and(|client| client.operator.is_some())
    }

    pub(super) fn kill(
        &mut self,
        id: ClientId,
        nick: &str,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let killer = self.clients.map[&id].me();
        if !self.is_server_operator(id) {
            return Err(Error::NoPrivileges);
        }
        let target = self
            .registered_id(nick)
            .ok_or_else(|| Error::NoSuchUser(nick.to_owned()))?;
        let reason = reason.unwrap_or_else(|| "no reason given".to_owned());
        log::info!("{id} ({killer}) killed {nick}: {reason}");
        let public: Name = format!("Killed ({killer} ({reason}))").into();
        let farewell: Name = match self.clients.map[&target].protocol {
            Protocol::Line => format!("killed by {killer} ({reason})").into(),
            Protocol::Irc => public.clone(),
        };
        self.remove(target, Some(public), farewell, now);
        Ok(())
    }

    pub(super) fn wallops(
        &mut self,
        id: ClientId,
        text: String,
        now: Instant,
    ) -> Result<(), Error> {
        if !self.is_server_operator(id) {
            return Err(Error::NoPrivileges);
        }
        let event = Outgoing::new(Event::Wallops {
            from: Arc::clone(self.clients.mask(id).expect("registered")),
            text: text.into(),
        });
        let readers: Vec<ClientId> = self
            .clients
            .map
            .iter()
            .filter(|(_, client)| client.wallops && client.registered)
            .map(|(&reader, _)| reader)
            .collect();
        for reader in readers {
            self.clients.send(reader, &event, now);
        }
        Ok(())
    }
}
