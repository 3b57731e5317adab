//! Many clients at once.

use switchboard::Transport;

use crate::util::{Client, heavy, line_addr, server};

fn five_hundred_simultaneous_clients_share_a_room(transport: Transport) {
    let _heavy = heavy();
    const CLIENTS: usize = 500;
    let server = server(transport);
    let addr = line_addr(&server);
    // All connect before any registers, so all 500 are open at once.
    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| Client::connect(addr)).collect();
    assert_eq!(server.connections(), CLIENTS);
    for (n, client) in clients.iter_mut().enumerate() {
        client.send(&format!("/nick user{n}"));
        client.send("/join #crowd");
    }
    for (n, client) in clients.iter_mut().enumerate() {
        client.expect(&format!("- hello user{n}!"));
        client.expect("- members of #crowd");
    }
    clients[0].send("/who #crowd");
    let members = clients[0].expect("- members of #crowd (500):");
    assert_eq!(members.split(' ').count(), 5 + CLIENTS);

    clients[CLIENTS - 1].send("hello, everyone");
    for client in &mut clients[..CLIENTS - 1] {
        client.expect("[#crowd] <user499> hello, everyone");
    }
}

fn two_thousand_simultaneous_connections(transport: Transport) {
    let _heavy = heavy();
    const CLIENTS: usize = 2000;
    let server = server(transport);
    let addr = line_addr(&server);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| Client::connect_quietly(addr))
        .collect();
    for (n, client) in clients.iter_mut().enumerate() {
        client.send(&format!("/nick u{n}"));
    }
    for (n, client) in clients.iter_mut().enumerate() {
        client.expect(&format!("- hello u{n}!"));
    }
    assert_eq!(server.connections(), CLIENTS);
    // Everyone messages their neighbour at once; everyone hears from theirs.
    for (n, client) in clients.iter_mut().enumerate() {
        client.send(&format!("/msg u{} hi from u{n}", (n + 1) % CLIENTS));
    }
    for (n, client) in clients.iter_mut().enumerate() {
        let from = (n + CLIENTS - 1) % CLIENTS;
        client.expect_next(&format!("[pm] <u{from}> hi from u{from}"));
    }
}

crate::both_transports!(
    two_thousand_simultaneous_connections,
    five_hundred_simultaneous_clients_share_a_room,
);
