//! The per-run folder `/tmp/berth-test/<pid>`, its locks, and the clean-up of runs that were killed.
//!
//! Liveness is decided by `flock`, not by pids: a run holds an exclusive lock on
//! `/tmp/berth-test/<pid>.lock` for its whole life, so a lock that can be taken belongs to a run that
//! is gone (pids get reused; kernel locks die with their process). Network slots work the same way:
//! `/tmp/berth-test/slot-<k>.lock` gives a run its own bridge names and subnets, so two test runs on
//! one machine never share a bridge.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::mount::{MntFlags, umount2};
use nix::sys::signal::Signal;

use crate::process::{is_alive, signal};

/// Where every run's folder lives.
pub const BASE: &str = "/tmp/berth-test";

/// How many runs may share one machine (each needs its own bridges and subnets).
const SLOTS: u8 = 8;

/// The current run's folder, lock and network slot.
pub struct RunDir {
    /// `/tmp/berth-test/<pid>`.
    pub path: PathBuf,
    /// The network slot (0 for the first run on the machine).
    pub slot: u8,
    _run_lock: Flock<File>,
    _slot_lock: Flock<File>,
}

impl RunDir {
    /// Cleans up after killed runs, then creates and locks this run's folder and takes a network slot.
    pub fn create() -> Result<RunDir> {
        let base = Path::new(BASE);
        fs::create_dir_all(base).with_context(|| format!("creating {BASE}"))?;
        let pid = std::process::id();
        let run_lock = lock_file(&base.join(format!("{pid}.lock")))?;
        let path = base.join(pid.to_string());
        clean_stale_runs(&path)?;
        kill_orphan_proxies();
        if path.exists() {
            // Our own pid's folder can only be a leftover of an earlier process with the same pid.
            clean_run_dir(&path)?;
        }
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        let (slot, slot_lock) = take_slot(base)?;
        Ok(RunDir {
            path,
            slot,
            _run_lock: run_lock,
            _slot_lock: slot_lock,
        })
    }
}

/// Opens (creating) and exclusively locks `path`, making sure the locked file is still the one at
/// `path` (a cleaner may have removed it between our open and our lock).
fn lock_file(path: &Path) -> Result<Flock<File>> {
    for _ in 0..20 {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| errno)
            .with_context(|| format!("locking {}", path.display()))?;
        let held = lock
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?;
        if let Ok(now) = fs::metadata(path)
            && now.ino() == held.ino()
            && now.dev() == held.dev()
        {
            return Ok(lock);
        }
    }
    bail!(
        "could not lock {} (it keeps being replaced)",
        path.display()
    )
}

/// Takes the first free network slot.
fn take_slot(base: &Path) -> Result<(u8, Flock<File>)> {
    for slot in 0..SLOTS {
        let path = base.join(format!("slot-{slot}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok((slot, lock)),
            Err((_, Errno::EWOULDBLOCK)) => continue,
            Err((_, errno)) => {
                return Err(errno).with_context(|| format!("locking {}", path.display()));
            }
        }
    }
    bail!("all {SLOTS} network slots under {BASE} are taken by running test runs")
}

/// Removes the folders of earlier runs whose process is gone (their lock can be taken).
fn clean_stale_runs(own: &Path) -> Result<()> {
    // Errors removing one leftover folder are reported, not fatal.
    let base = Path::new(BASE);
    let entries = fs::read_dir(base).with_context(|| format!("listing {BASE}"))?;
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir == own || !dir.is_dir() {
            continue;
        }
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let lock_path = base.join(format!("{name}.lock"));
        let file = match File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!(
                    "cannot open {}: {e}; leaving {} alone",
                    lock_path.display(),
                    dir.display()
                );
                continue;
            }
        };
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            // A live run holds it.
            Err((_, Errno::EWOULDBLOCK)) => continue,
            Err((_, errno)) => {
                tracing::warn!(
                    "cannot lock {}: {errno}; leaving {} alone",
                    lock_path.display(),
                    dir.display()
                );
                continue;
            }
        };
        eprintln!(
            "berth-test: cleaning up the leftovers of a killed run in {}",
            dir.display()
        );
        match clean_run_dir(&dir) {
            Ok(()) => {
                let _ = fs::remove_file(&lock_path);
            }
            // This run uses its own folder; a leftover that cannot go yet is tried again next time.
            Err(e) => eprintln!("berth-test: could not remove {}: {e:#}", dir.display()),
        }
        drop(lock);
    }
    Ok(())
}

/// Kills every process that belongs to `dir`, unmounts everything under it and deletes it.
pub fn clean_run_dir(dir: &Path) -> Result<()> {
    kill_processes_under(dir);
    // A killed PostgreSQL leaves its System V shared memory segment behind.
    crate::postgres::remove_leftover_shared_memory(dir);
    unmount_under(dir)?;
    // dockerd waits for a stale containerd.pid; never leave one behind.
    remove_containerd_pidfiles(dir);
    fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(())
}

/// Kills the processes of a run dir: first those named in its pid files (dockerd, containerd,
/// registries, chromedriver), then anything whose command line, root or working directory lies under it
/// (containerd shims, chromium, container processes). Waits up to 10 s for them to go.
pub fn kill_processes_under(dir: &Path) {
    let mut victims = Vec::new();
    for pidfile in pid_files(dir) {
        if let Ok(text) = fs::read_to_string(&pidfile)
            && let Ok(pid) = text.trim().parse::<u32>()
            && belongs_to(pid, dir)
        {
            victims.push(pid);
        }
    }
    victims.extend(processes_under(dir));
    victims.extend(container_processes(dir));
    victims.sort_unstable();
    victims.dedup();
    let own = std::process::id();
    victims.retain(|&pid| pid != own);
    for &pid in &victims {
        signal(pid, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while victims.iter().any(|&pid| is_alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pid files a run dir may hold: `*.pid` in it, `hN/pid`, and containerd's under each exec root.
fn pid_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.push(path.join("pid"));
            files.push(path.join("exec/containerd/containerd.pid"));
        } else if path.extension().is_some_and(|e| e == "pid") {
            files.push(path);
        }
    }
    files
}

fn remove_containerd_pidfiles(dir: &Path) {
    for file in pid_files(dir) {
        if file.ends_with("containerd/containerd.pid") {
            let _ = fs::remove_file(file);
        }
    }
}

/// Whether `pid`'s command line, root or working directory mentions `dir`.
fn belongs_to(pid: u32, dir: &Path) -> bool {
    // With the trailing slash, `/tmp/berth-test/12` does not match `/tmp/berth-test/123/…`.
    let needle = format!("{}/", dir.display());
    if let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline"))
        && String::from_utf8_lossy(&cmdline).contains(&needle)
    {
        return true;
    }
    for link in ["root", "cwd"] {
        if let Ok(target) = fs::read_link(format!("/proc/{pid}/{link}"))
            && target.starts_with(dir)
        {
            return true;
        }
    }
    false
}

/// Every live process that belongs to `dir`.
fn processes_under(dir: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| belongs_to(pid, dir))
        .collect()
}

/// Processes of the containers of the engines under `dir` (found by container id in their cgroup:
/// their root and command line say nothing about the run dir).
fn container_processes(dir: &Path) -> Vec<u32> {
    let mut ids = Vec::new();
    if let Ok(engines) = fs::read_dir(dir) {
        for engine in engines.flatten() {
            if let Ok(containers) = fs::read_dir(engine.path().join("data/containers")) {
                ids.extend(
                    containers
                        .flatten()
                        .filter_map(|c| c.file_name().to_str().map(str::to_owned))
                        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())),
                );
            }
        }
    }
    if ids.is_empty() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|cgroup| ids.iter().any(|id| cgroup.contains(id.as_str())))
        })
        .collect()
}

/// Kills `docker-proxy` processes left behind by a killed engine: orphans (their dockerd is gone)
/// that forward to a container on one of the test subnets (172.30.0.0/16).
pub fn kill_orphan_proxies() {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
    {
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_proxy = args.first().is_some_and(|a| a.ends_with("docker-proxy"));
        let test_subnet = args
            .windows(2)
            .any(|w| w[0] == "-container-ip" && w[1].starts_with("172.30."));
        if !is_proxy || !test_subnet {
            continue;
        }
        let parent_is_dockerd = parent_pid(pid)
            .and_then(|ppid| fs::read_to_string(format!("/proc/{ppid}/comm")).ok())
            .is_some_and(|comm| comm.trim() == "dockerd");
        if !parent_is_dockerd {
            signal(pid, Signal::SIGKILL);
        }
    }
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // After the command name: state, then the parent pid.
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Lazily unmounts every mount point under `dir`, deepest first.
pub fn unmount_under(dir: &Path) -> Result<()> {
    let mounts = fs::read_to_string("/proc/mounts").context("reading /proc/mounts")?;
    let mut points: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    points.dedup();
    for point in points {
        match umount2(&point, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => tracing::warn!("umount -l {}: {e}", point.display()),
        }
    }
    Ok(())
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Some(code) = raw
                .get(i + 1..i + 4)
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::unescape_mount_path;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape_mount_path("/plain/path"), "/plain/path");
        assert_eq!(unescape_mount_path("/trailing\\04"), "/trailing\\04");
    }
}
