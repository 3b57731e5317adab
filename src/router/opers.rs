//! Server operators (`--oper NAME:HASH`): their names and password hashes.
//! Passwords are checked on the hashing pool, like account passwords.

use std::sync::Arc;

use crate::config::Oper;
use crate::protocol::Name;

/// The configured operators.
#[derive(Debug, Default)]
pub struct Opers(Vec<(Name, Arc<str>)>);

impl Opers {
    pub fn new(opers: &[Oper]) -> Opers {
        Opers(
            opers
                .iter()
                .map(|oper| (oper.name.as_str().into(), oper.hash.as_str().into()))
                .collect(),
        )
    }

    /// Whether an operator is called `name` (any case): such an account is
    /// an operator account to the HTTP API.
    pub fn is_named(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(oper, _)| oper.eq_ignore_ascii_case(name))
    }

    /// The operator called `name` (`None` if there is none such) and the
    /// hash to check the password against. An unknown name is checked
    /// against another operator's hash and always fails, so a wrong name
    /// takes as long as a wrong password. `None` when there are no
    /// operators at all.
    pub fn lookup(&self, name: &str) -> Option<(Option<Name>, Arc<str>)> {
        let (_, any_hash) = self.0.first()?;
        Some(match self.0.iter().find(|(oper, _)| &**oper == name) {
            Some((name, hash)) => (Some(Name::clone(name)), Arc::clone(hash)),
            None => (None, Arc::clone(any_hash)),
        })
    }
}
