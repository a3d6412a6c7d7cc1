//! Installs what is missing: Debian packages (as root), the wasm32 target, Trunk and the wasm-bindgen CLI at the
//! version `Cargo.lock` pins, and a Docker engine for `cargo xtask run`.

use crate::sh;
use anyhow::{Context as _, Result, bail};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian packages the test environment needs: (a file the package installs, package). A `*` stands
/// for one path component, e.g. PostgreSQL's version folder.
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("/usr/sbin/dockerd", "docker.io"),
    ("/usr/bin/docker-registry", "docker-registry"),
    ("/bin/busybox", "busybox-static"),
    ("/usr/bin/chromium", "chromium"),
    ("/usr/bin/chromedriver", "chromium-driver"),
    // The host tests read Berth's SQLite file to check what removeHost left behind.
    ("/usr/bin/sqlite3", "sqlite3"),
    // The server (the client package alone also fills /usr/lib/postgresql/<version>/bin).
    ("/usr/lib/postgresql/*/bin/initdb", "postgresql"),
];

const TRUNK_VERSION: &str = "0.22.1";

/// `~/.cargo/bin/NAME` when it exists (a fresh install may not be on PATH yet), else `NAME`.
pub fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match home.map(|h| h.join("bin").join(name)) {
        Some(p) if p.is_file() => p,
        _ => PathBuf::from(name),
    }
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

fn has_apt() -> bool {
    Path::new("/usr/bin/apt-get").is_file()
}

/// Installs Debian packages, or says exactly what to run when this is not Debian as root.
fn apt_install(packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    if !(is_root() && has_apt()) {
        bail!(
            "missing packages: {0}. Install them with `sudo apt-get install -y {0}` (Debian) and try again",
            packages.join(" ")
        );
    }
    sh(Command::new("apt-get").args(["update", "-q"]))?;
    sh(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Whether `pattern` names an existing path; a `*` component matches any name in its folder.
fn installed(pattern: &str) -> bool {
    match pattern.split_once("/*/") {
        None => Path::new(pattern).exists(),
        Some((dir, rest)) => std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|entry| installed(&format!("{}/{rest}", entry.path().display())))
        }),
    }
}

/// Installs the Debian packages of the test environment that are missing.
pub fn test_packages() -> Result<()> {
    let missing: Vec<&str> = TEST_PACKAGES
        .iter()
        .filter(|(file, _)| !installed(file))
        .map(|(_, pkg)| *pkg)
        .collect();
    apt_install(&missing)
}

pub fn wasm_target() -> Result<()> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    sh(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// The version of a package as `Cargo.lock` records it.
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(v.trim_matches('"').to_owned());
        }
    }
    bail!("{package} is not in Cargo.lock")
}

fn cargo_install(args: &[&str]) -> Result<()> {
    sh(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .arg("install")
            .args(args),
    )
}

/// The wasm32 target, Trunk, and wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock.
pub fn frontend_tools(root: &Path) -> Result<()> {
    wasm_target()?;
    let trunk = output(Command::new(cargo_bin("trunk")).arg("--version")).unwrap_or_default();
    if !trunk.contains(TRUNK_VERSION) {
        // Trunk 0.22 declares a newer rust-version than it needs (TOOLCHAIN.md).
        cargo_install(&[
            "--locked",
            "trunk",
            "--version",
            TRUNK_VERSION,
            "--ignore-rust-version",
        ])?;
    }
    let wanted = locked_version(root, "wasm-bindgen")?;
    let have = output(Command::new(cargo_bin("wasm-bindgen")).arg("--version")).unwrap_or_default();
    if !have.split_whitespace().any(|w| w == wanted) {
        // `--locked` fails here: its lockfile wants a crate version the registry lacks (TOOLCHAIN.md).
        cargo_install(&["wasm-bindgen-cli", "--version", &wanted, "--force"])?;
    }
    Ok(())
}

/// Whether a Docker engine answers `GET /_ping` on this unix socket.
fn pings(socket: &Path) -> bool {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.") && head.contains(" 200 ")
}

/// Makes sure a Docker engine answers. Returns the `DOCKER_HOST` Berth should use when it is not the default.
pub fn docker_engine(root: &Path) -> Result<Option<String>> {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        return Ok(Some(host));
    }
    if pings(Path::new("/var/run/docker.sock")) {
        return Ok(None);
    }
    let dir = root.join("data/docker");
    let socket = dir.join("docker.sock");
    if pings(&socket) {
        return Ok(Some(format!("unix://{}", socket.display())));
    }
    if !Path::new("/usr/sbin/dockerd").exists() {
        if !(is_root() && has_apt()) {
            bail!(
                "no Docker engine answers on /var/run/docker.sock. Install and start one \
                 (Debian: `sudo apt-get install -y docker.io && sudo service docker start`) or set DOCKER_HOST"
            );
        }
        apt_install(&["docker.io"])?;
    }
    if !is_root() {
        bail!(
            "no Docker engine answers on /var/run/docker.sock; start one (`sudo service docker start`) or set DOCKER_HOST"
        );
    }
    std::fs::create_dir_all(&dir)?;
    // A killed earlier daemon can leave containerd's pid file behind, which makes the new one wait (TOOLCHAIN.md).
    let _ = std::fs::remove_file(dir.join("exec/containerd/containerd.pid"));
    let log = std::fs::File::create(dir.join("dockerd.log"))?;
    eprintln!("xtask: starting a Docker engine under {}", dir.display());
    Command::new("/usr/sbin/dockerd")
        .arg("--data-root")
        .arg(dir.join("root"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .arg("-H")
        .arg(format!("unix://{}", socket.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting dockerd")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if pings(&socket) {
            return Ok(Some(format!("unix://{}", socket.display())));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "the Docker engine did not answer within 60 s; see {}",
        dir.join("dockerd.log").display()
    )
}
