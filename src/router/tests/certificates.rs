//! Client certificates on accounts (`CERT ADD/DEL/LIST`) and SASL
//! EXTERNAL, with connections whose link carries a certificate.

use super::*;
use crate::client::Link;
use crate::protocol::{AccountCommand, AccountError, AccountNotice, CertCommand, SaslReply};

fn cert(command: CertCommand) -> Request {
    Request::Account(AccountCommand::Cert(command))
}

fn notice(me: &str, notice: AccountNotice) -> Event {
    reply(me, Reply::Account(notice))
}

fn sasl(me: &str, step: SaslReply) -> Event {
    reply(me, Reply::Sasl(step))
}

fn with_certificate(fingerprint: &str) -> Link {
    Link {
        tls: true,
        certfp: Some(fingerprint.into()),
        ..Link::default()
    }
}

impl Harness {
    /// An IRC connection that tries SASL EXTERNAL as `nick` before
    /// registering; the events up to the end of the exchange.
    fn external(&mut self, nick: &str, link: Link) -> (ClientId, Vec<Event>) {
        self.link = link;
        let id = self.connect_speaking(Protocol::Irc, ROOMY);
        self.send(id, Request::Cap(CapCommand::Req("sasl".into())));
        self.send(id, Request::Nick(nick.into()));
        self.send(id, user(nick));
        self.send(id, Request::Authenticate("EXTERNAL".into()));
        self.send(id, Request::Authenticate("+".into()));
        let mut events = self.events(id);
        events.truncate(4);
        (id, events)
    }
}

#[test]
fn a_certificate_on_an_account_logs_in_with_sasl_external() {
    let mut h = Harness::new();
    let fingerprint = "ab".repeat(32);
    h.link = with_certificate(&fingerprint);
    let ann = h.irc("ann", "");
    h.send(
        ann,
        Request::Account(AccountCommand::Register {
            password: "sesame".into(),
            email: None,
        }),
    );
    h.settle();
    h.clear();
    h.send(ann, cert(CertCommand::Add(None)));
    h.settle();
    let added = AccountNotice::CertAdded(fingerprint.as_str().into());
    assert_eq!(h.events(ann), [notice("ann", added)]);
    h.send(ann, cert(CertCommand::List));
    let count = AccountNotice::Certs {
        account: name("ann"),
        count: 1,
    };
    let listed = AccountNotice::Cert(fingerprint.as_str().into());
    assert_eq!(h.events(ann), [notice("ann", count), notice("ann", listed)]);
    h.send(
        ann,
        cert(CertCommand::Add(Some(fingerprint.to_uppercase()))),
    );
    let taken = AccountNotice::Failed(AccountError::CertTaken);
    assert_eq!(h.events(ann), [notice("ann", taken)]);
    h.send(ann, Request::Quit(None));

    let (_, events) = h.external("ann", with_certificate(&fingerprint));
    let mask = Arc::new(Mask {
        account: Some(name("ann")),
        ..Mask::clone(&mask("ann"))
    });
    assert_eq!(
        events,
        [
            cap("*", "ACK", "sasl"),
            sasl("*", SaslReply::Continue(Vec::new())),
            reply(
                "*",
                Reply::LoggedIn {
                    mask,
                    account: name("ann")
                }
            ),
            sasl("*", SaslReply::Success),
        ]
    );
}

#[test]
fn sasl_external_fails_without_a_registered_certificate() {
    let mut h = Harness::new();
    let refused = [
        cap("*", "ACK", "sasl"),
        sasl("*", SaslReply::Continue(Vec::new())),
        sasl("*", SaslReply::Failed),
    ];
    let (_, events) = h.external("ann", Link::default());
    assert_eq!(events, refused, "no certificate at all");
    let (_, events) = h.external("bob", with_certificate(&"cd".repeat(32)));
    assert_eq!(events, refused, "a certificate on no account");
}

#[test]
fn certificates_need_an_account_and_a_fingerprint() {
    let mut h = Harness::new();
    let ann = h.irc("ann", "");
    let failed = |error| notice("ann", AccountNotice::Failed(error));
    h.send(ann, cert(CertCommand::List));
    assert_eq!(h.events(ann), [failed(AccountError::NotLoggedIn)]);
    h.send(
        ann,
        Request::Account(AccountCommand::Register {
            password: "sesame".into(),
            email: None,
        }),
    );
    h.settle();
    h.clear();
    h.send(ann, cert(CertCommand::Add(None)));
    assert_eq!(h.events(ann), [failed(AccountError::NoCertificate)]);
    h.send(ann, cert(CertCommand::Add(Some("xyz".into()))));
    assert_eq!(
        h.events(ann),
        [failed(AccountError::BadFingerprint("xyz".into()))]
    );
    let fingerprint = "ef".repeat(32);
    h.send(ann, cert(CertCommand::Del(fingerprint.clone())));
    assert_eq!(
        h.events(ann),
        [failed(AccountError::NoSuchCert(
            fingerprint.as_str().into()
        ))]
    );
    h.send(ann, cert(CertCommand::Add(Some(fingerprint.clone()))));
    h.settle();
    h.send(ann, cert(CertCommand::Del(fingerprint.clone())));
    h.settle();
    assert_eq!(
        h.events(ann),
        [
            notice("ann", AccountNotice::CertAdded(fingerprint.as_str().into())),
            notice(
                "ann",
                AccountNotice::CertRemoved(fingerprint.as_str().into())
            ),
        ]
    );
}
