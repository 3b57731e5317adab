//! Byte-exact tests for what accounts add to IRC: SASL steps, 900, NickServ
//! notices, extended-join, ACCOUNT, account-tag, and their commands.

use std::sync::Arc;

use super::decode;
use super::tests::{lines, mask, reply};
use crate::protocol::{
    AccountCommand, AccountNotice, Caps, Destination, Event, Mask, MessageKind, Reply, Request,
    SaslReply,
};

fn message(text: &str) -> Event {
    Event::Message {
        from: mask("ned"),
        to: Destination::Room("#r".into()),
        text: text.into(),
        kind: MessageKind::Say,
        tags: None,
        id: "42".into(),
        long: false,
    }
}

#[test]
fn account_replies_and_events_encode_byte_exact() {
    let logged = Arc::new(Mask {
        account: Some("acc".into()),
        ..Mask::clone(&mask("ann"))
    });
    let cases: [(Event, Caps, &[&str]); 9] = [
        (
            reply(Reply::Sasl(SaslReply::Continue(Vec::new()))),
            Caps::default(),
            &["AUTHENTICATE +"],
        ),
        (
            reply(Reply::Sasl(SaslReply::Continue(b"r=abc".to_vec()))),
            Caps::default(),
            &["AUTHENTICATE cj1hYmM="],
        ),
        (
            reply(Reply::Sasl(SaslReply::Mechanisms)),
            Caps::default(),
            &[":srv 908 me EXTERNAL,PLAIN,SCRAM-SHA-256 :are available SASL mechanisms"],
        ),
        (
            reply(Reply::Sasl(SaslReply::Failed)),
            Caps::default(),
            &[":srv 904 me :SASL authentication failed"],
        ),
        (
            reply(Reply::LoggedIn {
                mask: Arc::clone(&logged),
                account: "acc".into(),
            }),
            Caps::default(),
            &[":srv 900 me ann!~ann@127.0.0.1 acc :You are now logged in as acc"],
        ),
        (
            reply(Reply::Account(AccountNotice::LoggedOut)),
            Caps::default(),
            &[":NickServ!NickServ@srv NOTICE me :You are now logged out"],
        ),
        (
            Event::Joined {
                room: "#r".into(),
                who: Arc::clone(&logged),
                extended: Some("Ann A".into()),
            },
            Caps::ACCOUNT_TAG,
            &["@account=acc :ann!~ann@127.0.0.1 JOIN #r acc :Ann A"],
        ),
        (
            Event::AccountChanged {
                who: mask("ann"),
                account: None,
            },
            Caps::default(),
            &[":ann!~ann@127.0.0.1 ACCOUNT *"],
        ),
        (
            message("hi"),
            Caps::ACCOUNT_TAG,
            &[":ned!~ned@127.0.0.1 PRIVMSG #r :hi"],
        ),
    ];
    for (event, caps, expected) in cases {
        assert_eq!(lines(event, caps), expected);
    }
}

#[test]
fn nickserv_and_authenticate_are_decoded() {
    let decoded = |line: &str| decode(line.as_bytes()).unwrap().unwrap();
    assert_eq!(
        decoded("PRIVMSG nickserv :IDENTIFY ann pw"),
        Request::Account(AccountCommand::Identify {
            account: Some("ann".into()),
            password: "pw".into()
        })
    );
    assert_eq!(
        decoded("NS REGISTER pw"),
        Request::Account(AccountCommand::Register {
            password: "pw".into(),
            email: None
        })
    );
    assert_eq!(decoded("AUTHENTICATE +"), Request::Authenticate("+".into()));
}
