//! Docker engines as test hosts: one `dockerd` per host with its own data root, exec root, pid file,
//! containerd, bridge and log, reachable over a unix socket, plain TCP or TCP with TLS.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::process::{
    ManagedProcess, Probe, free_port, is_alive, log_tail, poll, run, run_ok, signal,
};
use crate::tls::{TlsFiles, TlsMaterial};

/// How long an engine may take to answer `/_ping` after start.
pub const ENGINE_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a docker CLI call (pull, push, build, run) may take.
pub const DOCKER_CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// How a host's engine is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Unix socket only.
    Unix,
    /// Unix socket and plain TCP on loopback.
    UnixAndTcp,
    /// TCP with mutual TLS only.
    TcpTls,
}

/// The client side of the TLS engine: PEM texts (what Berth's `HostInput` takes) and their files.
#[derive(Clone, Debug)]
pub struct ClientTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub files: TlsFiles,
}

/// One running Docker engine.
#[derive(Debug)]
pub struct EngineHandle {
    /// `h1`, `h2`, `h3`.
    pub name: String,
    /// The endpoint to register in Berth: `unix:///…/docker.sock` for h1, `tcp://127.0.0.1:PORT` for
    /// h2 and h3.
    pub endpoint: String,
    /// `unix:///…/docker.sock` when the engine listens on a socket.
    pub unix_endpoint: Option<String>,
    /// `tcp://127.0.0.1:PORT` when the engine listens on TCP.
    pub tcp_endpoint: Option<String>,
    /// The client certificate material when the engine requires TLS.
    pub tls: Option<ClientTls>,
    /// The engine's own bridge, e.g. `berth-h1`.
    pub bridge: String,
    /// The bridge's subnet, e.g. `172.30.1.0/24`.
    pub subnet: String,
    /// `/tmp/berth-test/<pid>/hN`.
    pub dir: PathBuf,
    /// dockerd's log file.
    pub log: PathBuf,
    docker_bin: PathBuf,
    docker_config: PathBuf,
    /// dockerd's program and arguments, to start it again on the same folders, ports and certificates.
    dockerd_bin: PathBuf,
    dockerd_args: Vec<OsString>,
}

impl EngineHandle {
    /// A `docker` CLI command aimed at this engine (TLS flags included), with the run's own
    /// `DOCKER_CONFIG` so the user's configuration is never read or written.
    pub fn docker_command(&self) -> Command {
        self.docker_command_with_config(&self.docker_config)
    }

    /// Like [`Self::docker_command`] with another `DOCKER_CONFIG` folder (e.g. a fresh one to prove that
    /// a pull needs `docker login`).
    pub fn docker_command_with_config(&self, config_dir: &Path) -> Command {
        self.docker_command_at(&self.endpoint, config_dir)
    }

    /// A `docker` CLI command aimed at one of this engine's endpoints (e.g. h2's unix socket rather than
    /// its TCP port); the TLS flags are added when the engine requires TLS.
    pub fn docker_command_at(&self, endpoint: &str, config_dir: &Path) -> Command {
        let mut cmd = Command::new(&self.docker_bin);
        cmd.env("DOCKER_CONFIG", config_dir)
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .arg("-H")
            .arg(endpoint);
        if let Some(tls) = &self.tls {
            cmd.arg("--tlsverify")
                .arg("--tlscacert")
                .arg(&tls.files.ca)
                .arg("--tlscert")
                .arg(&tls.files.client_cert)
                .arg("--tlskey")
                .arg(&tls.files.client_key);
        }
        cmd
    }

    /// Runs `docker ARGS…` against this engine and returns the whole output, whatever the exit status.
    pub async fn docker(&self, args: &[&str]) -> Result<Output> {
        run(self.docker_command().args(args), DOCKER_CLI_TIMEOUT).await
    }

    /// Runs `docker ARGS…` against this engine and returns stdout, failing with stderr on a non-zero
    /// exit status.
    pub async fn docker_ok(&self, args: &[&str]) -> Result<String> {
        run_ok(self.docker_command().args(args), DOCKER_CLI_TIMEOUT)
            .await
            .with_context(|| format!("docker on {}", self.name))
    }

    /// A plain `docker` CLI command with neither endpoint nor TLS flags (to prove what fails without them).
    pub fn docker_command_bare(&self) -> Command {
        let mut cmd = Command::new(&self.docker_bin);
        cmd.env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        cmd
    }

    /// The `DOCKER_CONFIG` folder the run uses for this engine's CLI calls.
    pub fn docker_config_dir(&self) -> &Path {
        &self.docker_config
    }
}

/// Everything needed to start one engine.
pub struct EngineSpec<'a> {
    pub name: String,
    pub dir: PathBuf,
    pub transport: Transport,
    pub bridge: String,
    /// The third octet of `172.30.X.1/24`.
    pub subnet_octet: u8,
    pub docker_bin: &'a Path,
    pub dockerd_bin: &'a Path,
    pub ip_bin: &'a Path,
    pub docker_config: &'a Path,
    pub tls: Option<&'a TlsMaterial>,
}

/// Creates the bridge (tolerating one left by an earlier run), then spawns dockerd. The caller
/// registers the process for teardown at once and then waits with [`wait_ready`].
pub async fn spawn(spec: EngineSpec<'_>) -> Result<(EngineHandle, ManagedProcess)> {
    let dir = &spec.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let subnet = format!("172.30.{}.0/24", spec.subnet_octet);
    let gateway = format!("172.30.{}.1/24", spec.subnet_octet);
    ensure_bridge(spec.ip_bin, &spec.bridge, &gateway).await?;

    // An empty daemon.json, so a machine-wide /etc/docker/daemon.json cannot change the engine.
    let config_file = dir.join("daemon.json");
    std::fs::write(&config_file, "{}\n")
        .with_context(|| format!("writing {}", config_file.display()))?;
    let log = dir.join("dockerd.log");

    let mut cmd = Command::new(spec.dockerd_bin);
    cmd.arg("--config-file")
        .arg(&config_file)
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("pid"))
        .arg("--bridge")
        .arg(&spec.bridge)
        .arg("--iptables=false")
        .arg("--ip-masq=false")
        // Should a machine-wide containerd be running, keep the engines apart inside it.
        .arg("--containerd-namespace")
        .arg(format!("berth-test-{}", spec.name))
        .arg("--containerd-plugins-namespace")
        .arg(format!("berth-test-{}-plugins", spec.name))
        .arg("--shutdown-timeout")
        .arg("3")
        .arg("--label")
        .arg(format!("berth-test={}", spec.name));
    // dockerd reads DOCKER_* variables too; give it a clean slate.
    cmd.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");

    let socket = dir.join("docker.sock");
    let unix_endpoint = format!("unix://{}", socket.display());
    if unix_endpoint.len() > 100 {
        bail!(
            "socket path {} is too long for a unix socket (limit 108 bytes)",
            socket.display()
        );
    }
    let (unix_endpoint, tcp_endpoint, tls) = match spec.transport {
        Transport::Unix => {
            cmd.arg("-H").arg(&unix_endpoint);
            (Some(unix_endpoint), None, None)
        }
        Transport::UnixAndTcp => {
            let tcp = format!("tcp://127.0.0.1:{}", free_port()?);
            cmd.arg("-H").arg(&unix_endpoint).arg("-H").arg(&tcp);
            (Some(unix_endpoint), Some(tcp), None)
        }
        Transport::TcpTls => {
            let Some(material) = spec.tls else {
                bail!("engine {} needs TLS material", spec.name);
            };
            let files = material.write(&dir.join("tls"))?;
            let tcp = format!("tcp://127.0.0.1:{}", free_port()?);
            cmd.arg("-H")
                .arg(&tcp)
                .arg("--tlsverify")
                .arg("--tlscacert")
                .arg(&files.ca)
                .arg("--tlscert")
                .arg(&files.server_cert)
                .arg("--tlskey")
                .arg(&files.server_key);
            let client = ClientTls {
                ca_pem: material.ca_pem.clone(),
                cert_pem: material.client_cert_pem.clone(),
                key_pem: material.client_key_pem.clone(),
                files,
            };
            (None, Some(tcp), Some(client))
        }
    };
    let endpoint = match spec.transport {
        Transport::Unix => unix_endpoint.clone(),
        Transport::UnixAndTcp | Transport::TcpTls => tcp_endpoint.clone(),
    }
    .context("engine without endpoint")?;

    let dockerd_args: Vec<OsString> = cmd.as_std().get_args().map(OsString::from).collect();
    let process = ManagedProcess::spawn(&format!("dockerd {}", spec.name), &mut cmd, &log)?;
    let handle = EngineHandle {
        name: spec.name,
        endpoint,
        unix_endpoint,
        tcp_endpoint,
        tls,
        bridge: spec.bridge,
        subnet,
        dir: dir.clone(),
        log,
        docker_bin: spec.docker_bin.to_path_buf(),
        docker_config: spec.docker_config.to_path_buf(),
        dockerd_bin: spec.dockerd_bin.to_path_buf(),
        dockerd_args,
    };
    Ok((handle, process))
}

/// Kills an engine the way a crash would: SIGKILL to dockerd (reaped through `process`) and to the
/// containerd it started, then removes containerd's pid file, which would otherwise make the next
/// dockerd on these folders wait for a dead containerd until it times out.
pub async fn kill(engine: &EngineHandle, process: &mut ManagedProcess) -> Result<()> {
    let containerd_pidfile = engine.containerd_pidfile();
    let containerd = std::fs::read_to_string(&containerd_pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|&pid| engine.owns_process(pid));
    process
        .kill()
        .await
        .with_context(|| format!("killing dockerd {}", engine.name))?;
    // dockerd's containerd can outlive it (nothing may reap it): kill it too and wait until it is gone
    // (a zombie counts as gone).
    if let Some(pid) = containerd {
        signal(pid, nix::sys::signal::Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(pid) {
            if Instant::now() >= deadline {
                bail!(
                    "containerd of {} (pid {pid}) still runs 10 s after SIGKILL",
                    engine.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    match std::fs::remove_file(&containerd_pidfile) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", containerd_pidfile.display())),
    }
}

/// Starts an engine's dockerd again with the command line it first ran with (same data root, exec
/// root, sockets, port and certificates). The caller waits with [`wait_ready`].
pub fn respawn(engine: &EngineHandle) -> Result<ManagedProcess> {
    // Whatever stopped it, a stale containerd pid file must not make the new dockerd wait.
    let pidfile = engine.containerd_pidfile();
    if let Ok(text) = std::fs::read_to_string(&pidfile)
        && !text
            .trim()
            .parse::<u32>()
            .is_ok_and(|pid| is_alive(pid) && engine.owns_process(pid))
    {
        let _ = std::fs::remove_file(&pidfile);
    }
    let mut cmd = Command::new(&engine.dockerd_bin);
    cmd.args(&engine.dockerd_args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");
    ManagedProcess::spawn(&format!("dockerd {}", engine.name), &mut cmd, &engine.log)
}

impl EngineHandle {
    /// `<exec-root>/containerd/containerd.pid`.
    fn containerd_pidfile(&self) -> PathBuf {
        self.dir
            .join("exec")
            .join("containerd")
            .join("containerd.pid")
    }

    /// Whether `pid`'s command line mentions this engine's folder (so a recycled pid is never killed).
    fn owns_process(&self, pid: u32) -> bool {
        let needle = format!("{}/", self.dir.display());
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
    }
}

/// Polls the engine until it answers `/_ping` (raw HTTP over the socket; the docker CLI with TLS
/// flags for the TLS engine), failing early with dockerd's log when the process exits.
pub async fn wait_ready(engine: &EngineHandle, process: &mut ManagedProcess) -> Result<()> {
    let what = format!("engine {} ({})", engine.name, engine.endpoint);
    let result = poll(
        &what,
        ENGINE_READY_TIMEOUT,
        Duration::from_millis(200),
        || {
            let exited = process.check_running();
            async move {
                exited?;
                match engine.unix_endpoint.as_deref() {
                    Some(unix) => ping_unix(unix.trim_start_matches("unix://")).await,
                    None => ping_cli(engine).await,
                }
            }
        },
    )
    .await;
    result.map_err(|e| {
        e.context(format!(
            "dockerd {} did not become ready; last lines of {}:\n{}",
            engine.name,
            engine.log.display(),
            log_tail(&engine.log, 30)
        ))
    })
}

async fn ping_unix(socket: &str) -> Result<Probe<()>> {
    let mut stream = match tokio::net::UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(e) => return Ok(Probe::NotYet(format!("connect {socket}: {e}"))),
    };
    let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    if let Err(e) = stream.write_all(request).await {
        return Ok(Probe::NotYet(format!("write to {socket}: {e}")));
    }
    let mut response = Vec::new();
    if let Err(e) = stream.read_to_end(&mut response).await {
        return Ok(Probe::NotYet(format!("read from {socket}: {e}")));
    }
    let text = String::from_utf8_lossy(&response);
    if text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200") {
        Ok(Probe::Ready(()))
    } else {
        Ok(Probe::NotYet(format!(
            "/_ping answered {:?}",
            text.lines().next().unwrap_or("")
        )))
    }
}

async fn ping_cli(engine: &EngineHandle) -> Result<Probe<()>> {
    let output = run(
        engine
            .docker_command()
            .args(["version", "--format", "{{.Server.Version}}"]),
        Duration::from_secs(10),
    )
    .await?;
    if output.status.success() {
        Ok(Probe::Ready(()))
    } else {
        Ok(Probe::NotYet(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}

async fn ensure_bridge(ip: &Path, bridge: &str, address: &str) -> Result<()> {
    let tolerate = |output: &Output| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        output.status.success()
            || stderr.contains("File exists")
            || stderr.contains("already assigned")
    };
    let timeout = Duration::from_secs(10);
    let add = run(
        Command::new(ip).args(["link", "add", bridge, "type", "bridge"]),
        timeout,
    )
    .await?;
    if !tolerate(&add) {
        bail!(
            "ip link add {bridge} type bridge: {}",
            String::from_utf8_lossy(&add.stderr)
        );
    }
    let addr = run(
        Command::new(ip).args(["addr", "add", address, "dev", bridge]),
        timeout,
    )
    .await?;
    if !tolerate(&addr) {
        bail!(
            "ip addr add {address} dev {bridge}: {}",
            String::from_utf8_lossy(&addr.stderr)
        );
    }
    run_ok(
        Command::new(ip).args(["link", "set", bridge, "up"]),
        timeout,
    )
    .await
    .with_context(|| format!("bringing {bridge} up"))?;
    Ok(())
}

/// Deletes a bridge (a missing one is fine).
pub async fn remove_bridge(ip: &Path, bridge: &str) -> Result<()> {
    let output = run(
        Command::new(ip).args(["link", "del", bridge]),
        Duration::from_secs(10),
    )
    .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() || stderr.contains("Cannot find device") {
        Ok(())
    } else {
        bail!("ip link del {bridge}: {stderr}")
    }
}
