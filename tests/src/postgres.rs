//! A throwaway PostgreSQL server for the tests that need one, from Debian's `postgresql` package.
//!
//! [`PostgresServer::start`] makes a cluster with `initdb` in `<run dir>/postgres-PORT` (trust
//! authentication, superuser `postgres`) and runs `postgres` on a free loopback port as a
//! [`ManagedProcess`], as the `postgres` OS user (PostgreSQL refuses to run as root). Nothing starts
//! unless a test asks for it, and that test stops it ([`PostgresServer::finish`]). A server left behind
//! by a killed run is killed by the next run like every other component: through its pid file
//! `<run dir>/postgres-PORT.pid`, its command line (`-D <run dir>/…`) and, for its child processes,
//! their working directory (the data folder); then its shared memory segment is removed
//! ([`remove_leftover_shared_memory`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, User, chown};
use tokio::process::Command;

use crate::env::TestEnv;
use crate::process::{ManagedProcess, Probe, free_port, log_tail, poll, run, run_ok, signal};

/// Where Debian installs each PostgreSQL version's programs (`<version>/bin`).
pub const INSTALL_ROOT: &str = "/usr/lib/postgresql";
/// What to run when they are missing.
const INSTALL_HINT: &str = "apt-get install -y postgresql";
/// How long `initdb` may take (it is slow on a busy two-core machine).
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the server may take to accept connections after start.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a `psql` or `pg_isready` call may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// A running throwaway PostgreSQL server.
pub struct PostgresServer {
    /// The loopback port it listens on.
    pub port: u16,
    /// `<run dir>/postgres-PORT`: the data folder `data`, the socket folder `socket` and the log.
    pub dir: PathBuf,
    /// The server's log.
    pub log: PathBuf,
    /// `/usr/lib/postgresql/<version>/bin`.
    pub bin_dir: PathBuf,
    pidfile: PathBuf,
    process: Option<ManagedProcess>,
}

/// The OS user the server runs as: `postgres` when the tests run as root, else the current user.
#[derive(Clone, Copy)]
struct RunAs {
    uid: Uid,
    gid: Gid,
}

impl RunAs {
    fn find() -> Result<Option<RunAs>> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        let user = User::from_name("postgres")
            .context("looking up the postgres OS user")?
            .ok_or_else(|| {
                anyhow!("there is no `postgres` OS user (the package creates it): {INSTALL_HINT}")
            })?;
        Ok(Some(RunAs {
            uid: user.uid,
            gid: user.gid,
        }))
    }
}

/// `/usr/lib/postgresql/<version>/bin` of the newest installed version that has the server programs.
pub fn find_bin_dir() -> Result<PathBuf> {
    let root = Path::new(INSTALL_ROOT);
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name();
                    let version = name
                        .to_str()?
                        .split('.')
                        .map(|part| part.parse::<u32>().ok())
                        .collect::<Option<Vec<u32>>>()?;
                    let bin = entry.path().join("bin");
                    ["initdb", "postgres", "pg_isready", "psql"]
                        .iter()
                        .all(|program| bin.join(program).is_file())
                        .then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "the PostgreSQL server programs (initdb, postgres, pg_isready, psql) are not installed in \
             {INSTALL_ROOT}/<version>/bin: {INSTALL_HINT}"
        ),
    }
}

impl PostgresServer {
    /// Starts a fresh cluster inside the test environment's run dir.
    pub async fn start(env: &TestEnv) -> Result<PostgresServer> {
        PostgresServer::start_in(&env.run_dir).await
    }

    /// Starts a fresh cluster in `<run_dir>/postgres-PORT` and waits until it accepts connections.
    pub async fn start_in(run_dir: &Path) -> Result<PostgresServer> {
        let bin_dir = find_bin_dir()?;
        let run_as = RunAs::find()?;
        let port = free_port()?;
        let dir = run_dir.join(format!("postgres-{port}"));
        let data = dir.join("data");
        let socket = dir.join("socket");
        for folder in [&dir, &socket] {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("creating {}", folder.display()))?;
            if let Some(user) = run_as {
                chown(folder, Some(user.uid), Some(user.gid)).with_context(|| {
                    format!("handing {} to the postgres user", folder.display())
                })?;
            }
        }
        let log = dir.join("postgres.log");
        let pidfile = dir.with_extension("pid");

        let mut initdb = server_command(&bin_dir.join("initdb"), &dir, run_as);
        initdb.arg("--pgdata").arg(&data).args([
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run_ok(&mut initdb, INITDB_TIMEOUT)
            .await
            .context("creating the PostgreSQL cluster")?;

        let mut server = PostgresServer {
            port,
            dir,
            log,
            bin_dir,
            pidfile,
            process: None,
        };
        server.spawn()?;
        if let Err(e) = server.wait_ready().await {
            if let Err(stop) = server.stop_process().await {
                tracing::warn!("stopping PostgreSQL after a failed start: {stop:#}");
            }
            return Err(e);
        }
        Ok(server)
    }

    /// Runs `postgres` on the cluster and port (the process is kept in `self.process`).
    fn spawn(&mut self) -> Result<()> {
        let run_as = RunAs::find()?;
        let mut cmd = server_command(&self.bin_dir.join("postgres"), &self.dir, run_as);
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.join("socket"))
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "shared_buffers=32MB",
                // Dynamic shared memory as files in the data folder, not in /dev/shm: a killed server
                // leaves nothing behind outside the run dir.
                "-c",
                "dynamic_shared_memory_type=mmap",
            ]);
        let process =
            ManagedProcess::spawn(&format!("postgres :{}", self.port), &mut cmd, &self.log)?;
        // A pid file lets a later run find and kill it if this run is killed.
        let _ = std::fs::write(&self.pidfile, process.pid().to_string());
        self.process = Some(process);
        Ok(())
    }

    /// Stops the server (fast shutdown: clients are disconnected), keeping its data, to simulate an
    /// outage; [`PostgresServer::start_again`] ends it.
    pub async fn stop_for_now(&mut self) -> Result<()> {
        self.stop_process().await
    }

    /// Starts the stopped server again on the same port and data and waits until it accepts connections.
    pub async fn start_again(&mut self) -> Result<()> {
        if self.process.is_none() {
            self.spawn()?;
        }
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let pg_isready = self.bin_dir.join("pg_isready");
        let port = self.port.to_string();
        let Some(process) = self.process.as_mut() else {
            bail!("PostgreSQL was not started");
        };
        poll(
            &format!("PostgreSQL on 127.0.0.1:{port}"),
            READY_TIMEOUT,
            Duration::from_millis(100),
            || {
                let checked = process.check_running();
                let mut cmd = client_command(&pg_isready);
                cmd.args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .args(["-t", "5"]);
                async move {
                    checked?;
                    let output = run(&mut cmd, CLIENT_TIMEOUT).await?;
                    if output.status.success() {
                        Ok(Probe::Ready(()))
                    } else {
                        Ok(Probe::NotYet(format!(
                            "pg_isready ({}): {}",
                            output.status,
                            String::from_utf8_lossy(&output.stdout).trim()
                        )))
                    }
                }
            },
        )
        .await
        .map_err(|e| {
            // An early exit's error has the log's tail already; a timeout's gets it here.
            if process.check_running().is_ok() {
                e.context(format!(
                    "last lines of {}:\n{}",
                    self.log.display(),
                    log_tail(&self.log, 20)
                ))
            } else {
                e
            }
        })
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database (name: ASCII letters, digits and `_`) and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            bail!("database name {name:?}: use lowercase ASCII letters, digits and `_`");
        }
        self.query("postgres", &format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating the database {name}"))?;
        Ok(self.url(name))
    }

    /// Runs one SQL statement in `database` with `psql` and returns its rows, unaligned and without headers.
    pub async fn query(&self, database: &str, sql: &str) -> Result<String> {
        let port = self.port.to_string();
        let mut psql = client_command(&self.bin_dir.join("psql"));
        psql.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .arg("-c")
            .arg(sql);
        let out = run_ok(&mut psql, CLIENT_TIMEOUT)
            .await
            .with_context(|| format!("running {sql:?} in {database}"))?;
        Ok(out)
    }

    /// Fast shutdown (SIGINT: clients are disconnected), SIGKILL if it takes longer than 20 s.
    pub async fn stop(mut self) -> Result<()> {
        self.stop_process().await
    }

    /// Stops the server and passes on a test's outcome (the test's error wins over a stop error).
    pub async fn finish<T>(self, outcome: Result<T>) -> Result<T> {
        let stopped = self.stop().await;
        let value = outcome?;
        stopped?;
        Ok(value)
    }

    async fn stop_process(&mut self) -> Result<()> {
        let Some(mut process) = self.process.take() else {
            return Ok(());
        };
        // SIGINT is PostgreSQL's fast shutdown; the SIGTERM `stop` sends after it changes nothing.
        signal(process.pid(), Signal::SIGINT);
        let stopped = process.stop(STOP_GRACE).await;
        let _ = std::fs::remove_file(&self.pidfile);
        stopped.with_context(|| format!("stopping PostgreSQL on port {}", self.port))
    }
}

/// Removes the System V shared memory segments of PostgreSQL servers of `run_dir` that were killed (a
/// fast shutdown removes its segment; SIGKILL leaves it behind). Each server's `data/postmaster.pid`
/// names its segment; only one that the server created (key, id and creator pid match) and that no
/// process uses any more is removed, with `ipcrm`.
pub fn remove_leftover_shared_memory(run_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return;
    };
    // Rows: key shmid perms size cpid lpid nattch …, numbers in decimal.
    let table = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    for entry in entries.flatten() {
        let is_server = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with("postgres-"));
        if !is_server {
            continue;
        }
        let Ok(pidfile) = std::fs::read_to_string(entry.path().join("data/postmaster.pid")) else {
            continue;
        };
        // Line 1: the postmaster's pid; line 7: the segment's key and id.
        let lines: Vec<&str> = pidfile.lines().collect();
        let (Some(pid), Some(segment)) = (lines.first(), lines.get(6)) else {
            continue;
        };
        let (pid, segment) = (pid.trim(), segment.split_whitespace().collect::<Vec<_>>());
        let [key, id] = segment.as_slice() else {
            continue;
        };
        let orphan = table.lines().skip(1).any(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            fields.len() > 6
                && fields[0] == *key
                && fields[1] == *id
                && fields[4] == pid
                && fields[6] == "0"
        });
        if orphan {
            let _ = std::process::Command::new("ipcrm")
                .args(["-m", id])
                .stdin(std::process::Stdio::null())
                .output();
        }
    }
}

/// A server-side program (`initdb`, `postgres`) run as `run_as`, in `dir`, without PG* variables.
fn server_command(program: &Path, dir: &Path, run_as: Option<RunAs>) -> Command {
    let mut cmd = client_command(program);
    // initdb looks up its own folder relative to the working directory: make it one it can read.
    cmd.current_dir(dir);
    if let Some(user) = run_as {
        // The standard library also drops root's supplementary groups.
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    cmd
}

/// `program` with the caller's `PG*` variables removed (they would override the explicit arguments).
fn client_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("PG")) {
            cmd.env_remove(&name);
        }
    }
    cmd.env("LC_ALL", OsStr::new("C"));
    cmd
}
