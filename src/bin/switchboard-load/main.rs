//! switchboard-load: many clients at once against switchboard, or any IRC
//! server, on this machine, to measure it.
//!
//! Scenarios: `idle` (connections and memory), `fanout` (rooms full of
//! listeners, some talking) and `pingpong` (pairs exchanging private
//! messages). Each prints a table for people and one JSON line per run.
//! Only loopback targets are accepted: this is a measuring tool, not a
//! flood against someone else's server.

mod engine;
mod fanout;
mod idle;
mod measure;
mod pingpong;
mod websocket;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;

use argh::FromArgs;
use socket2::{Domain, Socket, Type};

/// Load generator for switchboard (and any IRC server on loopback).
#[derive(FromArgs)]
struct Args {
    #[argh(subcommand)]
    scenario: Scenario,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Scenario {
    Idle(idle::Idle),
    Fanout(fanout::Fanout),
    Pingpong(pingpong::Pingpong),
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    // Every client is a descriptor.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let result = match args.scenario {
        Scenario::Idle(idle) => idle::run(&idle),
        Scenario::Fanout(args) => fanout::run(&args),
        Scenario::Pingpong(args) => pingpong::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchboard-load: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Refuses targets that are not on this machine.
fn require_loopback(target: SocketAddr) -> io::Result<()> {
    if target.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{target} is not a loopback address: only servers on this machine may be loaded"
        )))
    }
}

/// A connection from `source` (a loopback address) to `target`, without
/// Nagle's delay.
fn connect_from(source: Ipv4Addr, target: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(target), Type::STREAM, None)?;
    if target.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST) {
        socket.bind(&SocketAddr::new(IpAddr::V4(source), 0).into())?;
    }
    socket.connect(&target.into())?;
    socket.set_tcp_nodelay(true)?;
    Ok(socket.into())
}
