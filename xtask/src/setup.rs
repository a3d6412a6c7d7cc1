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
    // The SMTP server the email alert test sends to.
    ("/usr/bin/aiosmtpd", "python3-aiosmtpd"),
    // `promtool check metrics` checks Berth's /metrics output.
    ("/usr/bin/promtool", "prometheus"),
];

const TRUNK_VERSION: &str = "0.22.1";

/// npm packages the web app serves as they are (the terminal emulator): (name, version, `dist.integrity` from the
/// registry, files taken from the tarball's `package/` folder). Fetched from registry.npmjs.org by `curl`, checked
/// against the integrity (SHA-512) and extracted into `frontend/vendor/<name>/` (git-ignored), which
/// `frontend/index.html` hands to Trunk. To upgrade: change the version and paste the new `dist.integrity`
/// (`curl -s https://registry.npmjs.org/@xterm/xterm/<version> | jq -r .dist.integrity`).
const WEB_PACKAGES: &[(&str, &str, &str, &[&str])] = &[
    (
        "@xterm/xterm",
        "6.0.0",
        "sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg==",
        &["lib/xterm.js", "css/xterm.css", "LICENSE"],
    ),
    (
        "@xterm/addon-fit",
        "0.11.0",
        "sha512-jYcgT6xtVYhnhgxh3QgYDnnNMYTcf8ElbxxFzX0IZo+vabQqSPAjC3c1wJrKB5E19VwQei89QCiZZP86DCPF7g==",
        &["lib/addon-fit.js", "LICENSE"],
    ),
];

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

/// `cargo install` of a tool: without LTO and in parallel codegen units whatever the tool's own release profile
/// says (Trunk's asks for fat LTO in one unit: minutes of one core for a tool whose speed does not matter here).
fn cargo_install(args: &[&str]) -> Result<()> {
    sh(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
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
    web_packages(root)
}

/// Fetches the [`WEB_PACKAGES`] missing from `frontend/vendor/` (a `.version` file there says which version is
/// present), each tarball checked against its integrity before anything is extracted.
pub fn web_packages(root: &Path) -> Result<()> {
    use base64::Engine as _;
    use sha2::Digest as _;
    for (name, version, integrity, files) in WEB_PACKAGES {
        let short = name.rsplit('/').next().unwrap_or(name);
        let dir = root.join("frontend/vendor").join(short);
        let stamp = dir.join(".version");
        if std::fs::read_to_string(&stamp).is_ok_and(|v| v.trim() == *version)
            && files.iter().all(|f| dir.join(file_name(f)).is_file())
        {
            continue;
        }
        if Command::new("curl").arg("--version").output().is_err() {
            apt_install(&["curl"])?;
        }
        let url = format!("https://registry.npmjs.org/{name}/-/{short}-{version}.tgz");
        eprintln!("xtask: fetching {url}");
        let tarball = Command::new("curl")
            .args(["-fsSL", "--retry", "3", "--max-time", "120", &url])
            .output()
            .with_context(|| format!("running curl for {url}"))?;
        if !tarball.status.success() {
            bail!(
                "downloading {url} failed: {}",
                String::from_utf8_lossy(&tarball.stderr).trim()
            );
        }
        let digest = sha2::Sha512::digest(&tarball.stdout);
        let got = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        if got != *integrity {
            bail!(
                "{url} is not the package pinned in xtask (integrity {got}, expected {integrity})"
            );
        }
        let unpack = root.join("target/web-packages").join(short);
        let _ = std::fs::remove_dir_all(&unpack);
        std::fs::create_dir_all(&unpack)?;
        let archive = unpack.join("package.tgz");
        std::fs::write(&archive, &tarball.stdout)?;
        sh(Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpack))?;
        std::fs::create_dir_all(&dir)?;
        for file in *files {
            let from = unpack.join("package").join(file);
            let text =
                std::fs::read(&from).with_context(|| format!("{name} {version} has no {file}"))?;
            // The source maps are not shipped: drop the comment that points at one.
            let text = String::from_utf8_lossy(&text)
                .lines()
                .filter(|l| !l.starts_with("//# sourceMappingURL="))
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(dir.join(file_name(file)), text + "\n")?;
        }
        std::fs::write(&stamp, version)?;
    }
    Ok(())
}

/// The last component of a path inside a package.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
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
