//! `idle`: N registered idle connections; how long they take and the
//! server's resident memory per connection.
//!
//! Near the descriptor limit the connections are spread over several
//! processes (each may hold only so many sockets) and over 127.0.0.x source
//! addresses (each gives its own range of ephemeral ports).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::{connect_from, require_loopback};

/// Open N registered idle connections and report connect time and the
/// server's memory per connection.
#[derive(FromArgs)]
#[argh(subcommand, name = "idle")]
pub struct Idle {
    /// the server's address, on loopback (default 127.0.0.1:6667)
    #[argh(option, default = "SocketAddr::from(([127, 0, 0, 1], 6667))")]
    target: SocketAddr,

    /// speak the line protocol instead of IRC
    #[argh(switch)]
    line: bool,

    /// how many connections in all (default 1000)
    #[argh(option, default = "1000")]
    connections: usize,

    /// how many processes share them (default 1)
    #[argh(option, default = "1")]
    processes: usize,

    /// registrations in flight per process: past this, a process waits for
    /// its oldest one's welcome before it connects again (default 1024)
    #[argh(option, default = "1024")]
    window: usize,

    /// the server's pid, to read its resident memory
    #[argh(option)]
    pid: Option<u32>,

    /// seconds to hold the connections once all are registered (default 1)
    #[argh(option, default = "1")]
    hold: u64,

    /// print one JSON line only (used between processes)
    #[argh(switch)]
    json: bool,

    /// the first nickname number of this process (used between processes)
    #[argh(option, default = "0")]
    first: usize,
}

/// What one `idle` process achieved.
#[derive(Debug, Default)]
struct IdleResult {
    connected: usize,
    seconds: f64,
}

/// Runs the scenario.
pub fn run(idle: &Idle) -> io::Result<()> {
    require_loopback(idle.target)?;
    if idle.processes > 1 {
        return run_idle_processes(idle);
    }
    let before = idle.pid.map(resident_kib).transpose()?;
    let (clients, result) = open_idle(idle)?;
    let rss = match (idle.pid, before) {
        (Some(pid), Some(before)) => Some((before, resident_kib(pid)?)),
        _ => None,
    };
    if idle.json {
        println!(
            "{{\"connected\":{},\"seconds\":{:.3}}}",
            result.connected, result.seconds
        );
    } else {
        report_idle(idle.connections, &result, rss);
    }
    std::thread::sleep(Duration::from_secs(idle.hold));
    drop(clients);
    Ok(())
}

/// Runs `processes` copies of this program, each with its share, waits until
/// all have registered, then reads the server's memory.
fn run_idle_processes(idle: &Idle) -> io::Result<()> {
    let before = idle.pid.map(resident_kib).transpose()?;
    let share = idle.connections.div_ceil(idle.processes);
    let start = Instant::now();
    let mut children = Vec::new();
    for process in 0..idle.processes {
        let count = share.min(idle.connections - process * share);
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(["idle", "--json", "--target", &idle.target.to_string()])
            .args(["--connections", &count.to_string()])
            .args(["--window", &idle.window.to_string()])
            .args(["--first", &(idle.first + process * share).to_string()])
            // Held until every process reports, so memory is read with all open.
            .args(["--hold", &(idle.hold + 30).to_string()])
            .stdout(Stdio::piped());
        if idle.line {
            command.arg("--line");
        }
        children.push(command.spawn()?);
    }
    let mut total = IdleResult::default();
    for child in &mut children {
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped")).read_line(&mut line)?;
        total.connected += json_field(&line, "connected").unwrap_or(0.0) as usize;
    }
    total.seconds = start.elapsed().as_secs_f64();
    let rss = match (idle.pid, before) {
        (Some(pid), Some(before)) => Some((before, resident_kib(pid)?)),
        _ => None,
    };
    report_idle(idle.connections, &total, rss);
    std::thread::sleep(Duration::from_secs(idle.hold));
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

/// Connects and registers this process's share, `--window` registrations
/// at a time, so the server works on many at once. Unbounded, the
/// connections outran the server's accept queue (at most 4,096 on Linux):
/// the kernel dropped a SYN now and then, and each drop held its process
/// up for the second a SYN takes to be sent again, which the time then
/// measured instead of the server.
fn open_idle(idle: &Idle) -> io::Result<(Vec<TcpStream>, IdleResult)> {
    let start = Instant::now();
    let welcome = if idle.line { "- hello " } else { " 001 " };
    let mut clients = Vec::with_capacity(idle.connections);
    let mut connected = 0;
    for index in 0..idle.connections {
        if let Some(oldest) = index.checked_sub(idle.window.max(1)) {
            connected += usize::from(welcomed(&clients[oldest], welcome)?);
        }
        let nick = format!("idle{}", idle.first + index);
        // A different source address every 10,000 connections keeps each
        // within its own ephemeral port range.
        let source = Ipv4Addr::new(127, 0, 0, 2 + ((idle.first + index) / 10_000) as u8);
        let mut stream = connect_from(source, idle.target)?;
        let registration = if idle.line {
            format!("/nick {nick}\n")
        } else {
            format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n")
        };
        stream.write_all(registration.as_bytes())?;
        clients.push(stream);
        if (index + 1) % 1000 == 0 && !idle.json {
            eprint!("\rconnected {} of {}", index + 1, idle.connections);
        }
    }
    let awaited = idle.connections.saturating_sub(idle.window.max(1));
    for stream in &clients[awaited..] {
        connected += usize::from(welcomed(stream, welcome)?);
    }
    if !idle.json {
        eprintln!();
    }
    Ok((
        clients,
        IdleResult {
            connected,
            seconds: start.elapsed().as_secs_f64(),
        },
    ))
}

/// Reads `stream` until the `welcome` line (true) or its end (false).
fn welcomed(stream: &TcpStream, welcome: &str) -> io::Result<bool> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        if line.contains(welcome) {
            return Ok(true);
        }
        line.clear();
    }
    Ok(false)
}

fn report_idle(wanted: usize, result: &IdleResult, rss: Option<(u64, u64)>) {
    println!(
        "idle: {} of {wanted} connections registered in {:.2} s",
        result.connected, result.seconds
    );
    if let Some((before, after)) = rss {
        let per = (after.saturating_sub(before) as f64 * 1024.0) / result.connected.max(1) as f64;
        println!(
            "server resident memory: {before} KiB before, {after} KiB after, {:.0} bytes ({:.1} KiB) per connection",
            per,
            per / 1024.0
        );
        println!(
            "{{\"scenario\":\"idle\",\"connections\":{},\"seconds\":{:.3},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"bytes_per_connection\":{per:.0}}}",
            result.connected, result.seconds
        );
    } else {
        println!(
            "{{\"scenario\":\"idle\",\"connections\":{},\"seconds\":{:.3}}}",
            result.connected, result.seconds
        );
    }
}

/// A process's resident memory in KiB, from /proc.
fn resident_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS in /proc status"))
}

/// A number field of a flat JSON line.
fn json_field(line: &str, key: &str) -> Option<f64> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}
