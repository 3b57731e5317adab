//! The peers switchboard is compared with: ngircd and InspIRCd, each a child
//! process on a free loopback port with its limits lifted as far as its
//! configuration allows (BENCHMARKS.md, "The peers' configurations"), so
//! each is measured as a relay and not as a flood guard.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a peer may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Brand {
    Ngircd,
    Inspircd,
}

impl Brand {
    /// The program's name, as installed.
    pub fn program(self) -> &'static str {
        match self {
            Brand::Ngircd => "ngircd",
            Brand::Inspircd => "inspircd",
        }
    }

    /// Where the peer is installed: on `PATH`, or where Debian puts it.
    pub fn find(self) -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join(self.program()));
        on_path
            .chain([Path::new("/usr/sbin").join(self.program())])
            .find(|binary| binary.is_file())
    }

    /// The configuration for a server on `port` keeping its files in `dir`,
    /// and the arguments that start it in the foreground with it.
    fn configure(self, port: u16, dir: &Path) -> io::Result<Vec<String>> {
        // Both switch to our user (or refuse root unless told), which keeps
        // their files in `dir` writable.
        let me = fs::metadata("/proc/self")?;
        let config_path = dir.join(format!("{}.conf", self.program()));
        let dir = dir.display();
        let (config, args) = match self {
            Brand::Ngircd => (
                format!(
                    "[Global]\n\
                     \tName = ngircd.bench\n\
                     \tListen = 127.0.0.1\n\
                     \tPorts = {port}\n\
                     \tMotdPhrase = bench\n\
                     \tPidFile = {dir}/ngircd.pid\n\
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
                    uid = me.uid(),
                    gid = me.gid(),
                ),
                vec!["-n".into(), "-f".into()],
            ),
            Brand::Inspircd => (
                format!(
                    "<server name=\"inspircd.bench\" description=\"bench\" network=\"bench\">\n\
                     <admin name=\"bench\" nick=\"bench\" email=\"bench@localhost\">\n\
                     <bind address=\"127.0.0.1\" port=\"{port}\" type=\"clients\">\n\
                     <connect name=\"bench\" allow=\"*\" maxchans=\"1000\" timeout=\"60\"\n\
                     \tpingfreq=\"10m\" hardsendq=\"1G\" softsendq=\"1G\" recvq=\"1G\"\n\
                     \tthreshold=\"2147483647\" commandrate=\"2147483647\" fakelag=\"no\"\n\
                     \tlocalmax=\"1000000\" globalmax=\"1000000\" maxconnwarn=\"no\"\n\
                     \tresolvehostnames=\"no\" useident=\"no\" limit=\"1000000\">\n\
                     <channels users=\"1000\" opers=\"1000\">\n\
                     <performance netbuffersize=\"65536\" somaxconn=\"4096\" softlimit=\"1000000\"\n\
                     \tclonesonconnect=\"no\" quietbursts=\"yes\">\n\
                     <path configdir=\"{dir}\" datadir=\"{dir}\" logdir=\"{dir}\">\n\
                     <pid file=\"{dir}/inspircd.pid\">\n\
                     <dns server=\"127.0.0.1\" timeout=\"1\">\n\
                     <log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\" target=\"{dir}/inspircd.log\">\n"
                ),
                // Refuses root unless told; its files are in `dir` either way.
                if me.uid() == 0 {
                    vec!["--nofork".into(), "--runasroot".into(), "--config".into()]
                } else {
                    vec!["--nofork".into(), "--config".into()]
                },
            ),
        };
        fs::write(&config_path, config)?;
        let mut args = args;
        args.push(config_path.display().to_string());
        Ok(args)
    }
}

/// A running peer, with its own temporary directory.
pub struct Peer {
    brand: Brand,
    child: Child,
    /// Holds the configuration, the PID file and the peer's log.
    dir: PathBuf,
    addr: SocketAddr,
}

impl Peer {
    /// Writes a configuration, starts the peer in the foreground and waits
    /// until its port accepts connections.
    pub fn start(brand: Brand) -> io::Result<Peer> {
        let binary = brand.find().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no {}", brand.program()))
        })?;
        // A port the kernel just handed out and took back: nothing else here
        // binds loopback ports by number, so the peer gets it.
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = std::env::temp_dir().join(format!(
            "switchboard-bench-{}-{}-{port}",
            brand.program(),
            std::process::id()
        ));
        fs::create_dir_all(&dir)?;
        let args = brand.configure(port, &dir)?;
        let log = fs::File::create(dir.join("output.log"))?;
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut peer = Peer {
            brand,
            child,
            dir,
            addr,
        };
        match peer.await_port() {
            Ok(()) => Ok(peer),
            Err(error) => {
                let log = fs::read_to_string(peer.dir.join("output.log")).unwrap_or_default();
                let _ = peer.stop();
                Err(io::Error::other(format!("{error}; its output:\n{log}")))
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

    /// Kills the peer, waits for it, and removes its directory.
    pub fn stop(mut self) -> io::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        fs::remove_dir_all(&self.dir)
    }

    /// Connects until the port answers, the peer exits, or time runs out.
    fn await_port(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let program = self.brand.program();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("{program} exited: {status}")));
            }
            let error = match TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)) {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "{program} not listening on {} after {READY_TIMEOUT:?}: {error}",
                    self.addr
                )));
            }
            // Between attempts only: the connect above is what says it is up.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
