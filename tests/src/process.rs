//! Child processes, free ports, polling with deadlines and small shell-outs used by the harness.
//!
//! Every long-running component (dockerd, registries, chromedriver) is a [`ManagedProcess`]: its
//! output goes to a log file in the run dir, it runs in its own process group (so a Ctrl-C in the
//! terminal reaches only the test runner, which then tears everything down in order), and it is
//! stopped with SIGTERM, a deadline, then SIGKILL.

use std::ffi::OsStr;
use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// A loopback TCP port that was free a moment ago (bind `127.0.0.1:0`, read the port, release it).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the bound address")?
        .port())
}

/// Finds `name` on `PATH` (or checks an absolute path), failing with the command that installs it.
pub fn require_binary(name: &str, install_hint: &str) -> Result<PathBuf> {
    let candidate = Path::new(name);
    if candidate.is_absolute() {
        if candidate.is_file() {
            return Ok(candidate.to_path_buf());
        }
        bail!("{name} not found: {install_hint}");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let full = dir.join(name);
        if full.is_file() {
            return Ok(full);
        }
    }
    // Root's usual sbin folders are not always on PATH.
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let full = Path::new(dir).join(name);
        if full.is_file() {
            return Ok(full);
        }
    }
    bail!("{name} not found: {install_hint}")
}

/// One step of a [`poll`] loop.
pub enum Probe<T> {
    /// The condition holds; stop polling.
    Ready(T),
    /// Not yet; the text says why (it ends up in the timeout error).
    NotYet(String),
}

/// Runs `attempt` every `interval` until it returns [`Probe::Ready`], fails (an `Err` aborts at once),
/// or `timeout` passes (then the error names `what` and the last reason it was not ready).
pub async fn poll<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>>>,
{
    let started = Instant::now();
    let deadline = started + timeout;
    loop {
        let last = match attempt().await? {
            Probe::Ready(value) => return Ok(value),
            Probe::NotYet(reason) => reason,
        };
        if Instant::now() >= deadline {
            bail!("{what}: not ready after {:.1?}: {last}", started.elapsed());
        }
        tokio::time::sleep(interval).await;
    }
}

/// The last `lines` lines of a log file (empty when it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    // Read at most the last 64 KiB: enough for the tail of any log.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A long-running child process owned by the test environment.
pub struct ManagedProcess {
    name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl ManagedProcess {
    /// Spawns `cmd` with stdout and stderr appended to `log`, in its own process group.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<ManagedProcess> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("creating the log file {}", log.display()))?;
        let err = out.try_clone().context("duplicating the log file handle")?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {}", describe(cmd)))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("{name} exited before its pid could be read"))?;
        Ok(ManagedProcess {
            name: name.to_string(),
            child,
            pid,
            log: log.to_path_buf(),
        })
    }

    /// The component's name, e.g. `dockerd h1`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where its output goes.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Fails (with the log's tail) if the process has already exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(anyhow!(
                "{} exited early ({status}); last lines of {}:\n{}",
                self.name,
                self.log.display(),
                log_tail(&self.log, 30)
            )),
            Err(e) => Err(anyhow!("checking whether {} still runs: {e}", self.name)),
        }
    }

    /// Whether the process is still running (it is reaped when it has exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL at once and reap (a crash, not a shutdown). A process that already exited is fine.
    pub async fn kill(&mut self) -> Result<()> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        self.child
            .kill()
            .await
            .with_context(|| format!("killing {} (pid {})", self.name, self.pid))
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL and reap.
    pub async fn stop(&mut self, grace: Duration) -> Result<()> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        signal(self.pid, Signal::SIGTERM);
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(anyhow!("waiting for {} to exit: {e}", self.name)),
            Err(_) => {
                tracing::warn!(
                    "{} did not stop within {grace:?} after SIGTERM; sending SIGKILL",
                    self.name
                );
                self.child
                    .kill()
                    .await
                    .with_context(|| format!("killing {} (pid {})", self.name, self.pid))
            }
        }
    }
}

/// Sends `sig` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, sig: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    let _ = kill(Pid::from_raw(raw), sig);
}

/// Whether a process with this id exists (zombies count as gone).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 (after the parenthesised command name) is the state; Z = zombie, X = dead.
        Ok(stat) => match stat.rsplit_once(')') {
            Some((_, rest)) => !matches!(rest.trim_start().chars().next(), Some('Z') | Some('X')),
            None => true,
        },
        Err(_) => false,
    }
}

/// A printable form of a command line, for error messages.
pub fn describe(cmd: &Command) -> String {
    let std = cmd.as_std();
    let mut parts = vec![std.get_program().to_string_lossy().into_owned()];
    parts.extend(
        std.get_args()
            .map(|a: &OsStr| a.to_string_lossy().into_owned()),
    );
    parts.join(" ")
}

/// Runs a command to completion (stdin closed unless the caller set it) within `timeout`.
pub async fn run(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let what = describe(cmd);
    cmd.kill_on_drop(true);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting `{what}`"))?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(result) => result.with_context(|| format!("running `{what}`")),
        Err(_) => bail!("`{what}` did not finish within {timeout:?}"),
    }
}

/// Runs a command and returns its stdout, failing with its stderr when the exit status is not 0.
pub async fn run_ok(cmd: &mut Command, timeout: Duration) -> Result<String> {
    let what = describe(cmd);
    let output = run(cmd, timeout).await?;
    if !output.status.success() {
        bail!(
            "`{what}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
