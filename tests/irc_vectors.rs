//! The public IRC parser test vectors (tests/data/irc-parser-tests, CC0)
//! run against the IRC message codec: splitting, joining, mask matching and
//! user@host splitting. Every vector of those files runs; none is skipped.
//! validate-hostname.json is carried with the others but has no counterpart
//! here: the server never takes a host name from a client (hosts are peer
//! addresses), so it never validates one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use switchboard::protocol::irc::message::{self, Message};

/// The `tests` array of one vector file.
fn vectors(file: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/data/irc-parser-tests/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    let tests = json["tests"].as_array().expect("a tests array").clone();
    assert!(!tests.is_empty(), "{file} has vectors");
    tests
}

fn string(value: &Value) -> &str {
    value.as_str().expect("a string")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().map(string).collect())
        .unwrap_or_default()
}

/// Tags as a map, a missing value being "".
fn tag_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|tags| {
            tags.iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn msg_split() {
    for vector in vectors("msg-split.json") {
        let input = string(&vector["input"]);
        let atoms = &vector["atoms"];
        let parsed = Message::parse(input).unwrap_or_else(|error| panic!("{input:?}: {error}"));
        // Later duplicates win, as the vectors expect.
        let tags: BTreeMap<String, String> = parsed
            .tags()
            .map(|(key, value)| (key.to_owned(), value.into_owned()))
            .collect();
        assert_eq!(tags, tag_map(&atoms["tags"]), "tags of {input:?}");
        assert_eq!(
            parsed.source,
            atoms["source"].as_str(),
            "source of {input:?}"
        );
        assert_eq!(parsed.command, string(&atoms["verb"]), "verb of {input:?}");
        assert_eq!(
            parsed.params,
            strings(&atoms["params"]),
            "params of {input:?}"
        );
    }
}

#[test]
fn msg_join() {
    for vector in vectors("msg-join.json") {
        let atoms = &vector["atoms"];
        let tags = tag_map(&atoms["tags"]);
        let tag_list: Vec<(&str, Option<&str>)> = tags
            .iter()
            .map(|(key, value)| (key.as_str(), Some(value.as_str()).filter(|v| !v.is_empty())))
            .collect();
        let mut out = Vec::new();
        message::write_tags(&mut out, &tag_list);
        let params = strings(&atoms["params"]);
        message::write(
            &mut out,
            atoms["source"].as_str(),
            string(&atoms["verb"]),
            &params,
        );
        let line = String::from_utf8(out).expect("UTF-8");
        let line = line.strip_suffix("\r\n").expect("CR LF at the end");
        // Tags may come in any order: compare the tag section as a set.
        let normalize = |line: &str| -> (BTreeSet<String>, String) {
            match line
                .strip_prefix('@')
                .and_then(|tagged| tagged.split_once(' '))
            {
                Some((tags, rest)) => (
                    tags.split(';').map(str::to_owned).collect(),
                    rest.to_owned(),
                ),
                None => (BTreeSet::new(), line.to_owned()),
            }
        };
        let ours = normalize(line);
        let matches = strings(&vector["matches"]);
        assert!(
            matches.iter().any(|accepted| normalize(accepted) == ours),
            "{}: wrote {line:?}, accepted {matches:?}",
            string(&vector["desc"])
        );
    }
}

#[test]
fn mask_match() {
    for vector in vectors("mask-match.json") {
        let mask = string(&vector["mask"]);
        for subject in strings(&vector["matches"]) {
            assert!(
                message::mask_matches(mask, subject),
                "{mask} should match {subject}"
            );
        }
        for subject in strings(&vector["fails"]) {
            assert!(
                !message::mask_matches(mask, subject),
                "{mask} should not match {subject}"
            );
        }
    }
}

#[test]
fn userhost_split() {
    for vector in vectors("userhost-split.json") {
        let source = string(&vector["source"]);
        let atoms = &vector["atoms"];
        let split = message::split_userhost(source);
        assert_eq!(split.nick, atoms["nick"].as_str(), "nick of {source}");
        assert_eq!(split.user, atoms["user"].as_str(), "user of {source}");
        assert_eq!(split.host, atoms["host"].as_str(), "host of {source}");
    }
}
