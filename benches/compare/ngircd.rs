//! ngircd, the reference: a child process on a free loopback port, with its
//! limits lifted as far as its configuration allows (BENCHMARKS.md,
//! "Against ngircd"), so it is measured as a relay and not as a flood guard.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long ngircd may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where ngircd is installed: on `PATH`, or where Debian puts it.
pub fn find() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("ngircd"));
    on_path
        .chain([PathBuf::from("/usr/sbin/ngircd")])
        .find(|binary| binary.is_file())
}

/// A running ngircd, with its own temporary directory.
pub struct Ngircd {
    child: Child,
    /// Holds the configuration, the PID file and ngircd's log.
    dir: PathBuf,
    addr: SocketAddr,
}

impl Ngircd {
    /// Writes a configuration, starts `ngircd -n -f CONF` and waits until its
    /// port accepts connections.
    pub fn start() -> io::Result<Ngircd> {
        let binary = find().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no ngircd"))?;
        // A port the kernel just handed out and took back: nothing else here
        // binds loopback ports by number, so ngircd gets it.
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = std::env::temp_dir().join(format!(
            "switchboard-bench-ngircd-{}-{port}",
            std::process::id()
        ));
        fs::create_dir_all(&dir)?;
        // ngircd switches to ServerUID/GID; ours keeps the PID file writable.
        let me = fs::metadata("/proc/self")?;
        let config = format!(
            "[Global]\n\
             \tName = ngircd.bench\n\
             \tListen = 127.0.0.1\n\
             \tPorts = {port}\n\
             \tMotdPhrase = bench\n\
             \tPidFile = {pid_file}\n\
             \tServerUID = {uid}\n\
             \tServerGID = {gid}\n\
             [Limits]\n\
             \tMaxConnections = 0\n\
             \tMaxConnectionsIP = 0\n\
             \tMaxJoins = 0\n\
             \tMaxPenaltyTime = 0\n\
             \tPingTimeout = 600\n\
             \tPongTimeout = 600\n\
             [Options]\n\
             \tDNS = no\n\
             \tIdent = no\n\
             \tPAM = no\n\
             \tRequireAuthPing = no\n",
            pid_file = dir.join("ngircd.pid").display(),
            uid = me.uid(),
            gid = me.gid(),
        );
        let config_path = dir.join("ngircd.conf");
        fs::write(&config_path, config)?;
        let log = fs::File::create(dir.join("ngircd.log"))?;
        let child = Command::new(binary)
            .arg("-n")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut ngircd = Ngircd { child, dir, addr };
        match ngircd.await_port() {
            Ok(()) => Ok(ngircd),
            Err(error) => {
                let log = fs::read_to_string(ngircd.dir.join("ngircd.log")).unwrap_or_default();
                let _ = ngircd.stop();
                Err(io::Error::other(format!("{error}; its log:\n{log}")))
            }
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process, for its CPU time in /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills ngircd, waits for it, and removes its directory.
    pub fn stop(mut self) -> io::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        fs::remove_dir_all(&self.dir)
    }

    /// Connects until the port answers, ngircd exits, or time runs out.
    fn await_port(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("ngircd exited: {status}")));
            }
            let error = match TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)) {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "ngircd not listening on {} after {READY_TIMEOUT:?}: {error}",
                    self.addr
                )));
            }
            // Between attempts only: the connect above is what says it is up.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
