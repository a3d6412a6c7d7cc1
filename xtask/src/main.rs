//! Developer commands: `cargo xtask run` (set up and serve), `cargo xtask test` (set up and run every test),
//! `cargo xtask lint` (fmt, clippy, wasm32 checks), `cargo xtask ci` (lint, then test) and
//! `cargo xtask bench hosts` (a benchmark against the real test environment; figures into BENCHMARKS.md).
//!
//! Set-up is idempotent: each step checks first and installs only what is missing, so a fresh Debian machine
//! (as root) gets everything and a prepared one loses no time.

mod setup;

mod wasm_size;
mod wasm_split;

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run     install what is missing, build the web app and the server (release), make sure a Docker engine
          answers, then serve Berth on http://127.0.0.1:8080 (extra arguments go to `berth serve`)
  test    install what the tests need, build the web app, run every test (unit, integration, browser)
  lint    cargo fmt --check, clippy -D warnings (native and wasm32), wasm32 build of shared and frontend
  ci      lint, then test
  bench hosts
          run the host benchmark (release build, real engines, as root): kill/hang → NON_RESPONSIVE,
          docker pull → image cache, hosts query latency with hanging hosts; prints the table and
          writes it into BENCHMARKS.md
  bench registry
          run the registry benchmark (release build; needs docker-registry and skopeo): full and
          unchanged refresh of 200 repositories × 20 tags against `skopeo list-tags` per repository;
          writes the table into BENCHMARKS.md
  bench inventory
          run the inventory benchmark (release build, real engines, chromium, as root): 10,000 definitions
          and 20,000 Docker containers; list latency and rate against dockerd, event → subscriber, the
          Containers tab in the browser, server memory; writes the tables into BENCHMARKS.md
  bench logs
          run the logs benchmark (release build, real engine h1, as root): search over a 5,000-line
          window and download of 100,000 lines against `docker logs -t`; writes the table into
          BENCHMARKS.md
  bench stats
          run the stats benchmark (release build, real engine h1, as root): 100 running containers sampled
          by Berth against `docker stats --no-stream` at the same rate (CPU of Berth and of the engine), the
          live stats delay from the engine's reading to the client; writes the table into BENCHMARKS.md
  bench terminal
          run the terminal benchmark (release build, real engine h1, as root): keystroke → echo round trips
          through Berth's terminal WebSocket on loopback; writes the table into BENCHMARKS.md
  bench alerts
          run the alerts benchmark (release build, real engines, an HTTP receiver, as root): Docker die →
          webhook request, and a burst of 1,000 kills delivered without loss; writes the tables into
          BENCHMARKS.md
  bench updates
          run the image update benchmark (release build, real engines, docker-registry, as root): a push
          under a running definition's tag → the new digest at a subscriber through the registry's push
          hook; writes the table into BENCHMARKS.md
  bench rollouts
          run the rolling update benchmark (release build, real engines, as root): 10 replicas rolled to
          a new image one and three at a time, against stopping and starting them all; writes the table
          into BENCHMARKS.md
  bench web
          build the web app, then run the web app benchmark (chromium, as root): module and script sizes
          and the time from navigation to an interactive login form; writes the table into BENCHMARKS.md
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    match cmd.as_str() {
        "run" => serve(&root, &rest),
        "test" => test(&root, &rest),
        "lint" => lint(),
        "ci" => {
            lint()?;
            test(&root, &rest)
        }
        "bench" => bench(&root, &rest),
        "" | "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent()
        .map(Path::to_path_buf)
        .context("xtask must live in a workspace folder")
}

/// Runs a command, echoing it, and fails with its status.
pub(crate) fn sh(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: $ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", describe(cmd));
    }
    Ok(())
}

pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds the web app into `dist/` with Trunk (offline; tools pinned in Trunk.toml).
fn build_spa(release: bool) -> Result<()> {
    let mut cmd = Command::new(setup::cargo_bin("trunk"));
    cmd.args(["--skip-version-check", "build"]);
    if release {
        cmd.arg("--release");
    }
    // The module must be linked with `.cargo/config.toml`'s wasm32 flags (type-erased views, and the relocations
    // the split needs); a RUSTFLAGS in the environment would replace them, and flags meant for this machine do
    // not fit the browser's target anyway.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        if std::env::var_os(var).is_some() {
            eprintln!(
                "xtask: {var} is not passed to the web app's build (.cargo/config.toml sets its flags)"
            );
            cmd.env_remove(var);
        }
    }
    // Trunk runs cargo with --offline: make sure every crate is in the local registry first.
    sh(cargo().args(["fetch", "--locked"]))?;
    sh(&mut cmd)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let linked = target.join("wasm32-unknown-unknown/wasm-release/berth-frontend.wasm");
    wasm_split::split(Path::new("dist"), &linked)?;
    wasm_size::strip_names(Path::new("dist"))?;
    precompress(Path::new("dist"))
}

/// Writes `NAME.br` (brotli, best) and `NAME.gz` (gzip, best) beside the built web app's module, script and
/// styles, which the server then sends as they are instead of compressing the 6 MB module on every page load
/// at a fast level. Files whose `.br` is newer than they are kept (`index.html` is small and left to the
/// server).
fn precompress(dist: &Path) -> Result<()> {
    use std::io::Write as _;
    let started = std::time::Instant::now();
    let (mut raw, mut brotli_total, mut written) = (0, 0, 0);
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("wasm" | "js" | "css")
        ) {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let br_path = dist.join(format!("{name}.br"));
        let gz_path = dist.join(format!("{name}.gz"));
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&br_path) >= modified(&path) && modified(&gz_path) >= modified(&path) {
            continue;
        }
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 24,
            ..Default::default()
        };
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut data.as_slice(), &mut br, &params)
            .with_context(|| format!("compressing {}", path.display()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&data)?;
        let gz = gz.finish()?;
        std::fs::write(&gz_path, gz).with_context(|| format!("writing {}", gz_path.display()))?;
        std::fs::write(&br_path, &br).with_context(|| format!("writing {}", br_path.display()))?;
        raw += data.len();
        brotli_total += br.len();
        written += 1;
    }
    if written > 0 {
        eprintln!(
            "xtask: precompressed {written} files of the web app: {} KiB → {} KiB (brotli) in {:.1?}",
            raw / 1024,
            brotli_total / 1024,
            started.elapsed()
        );
    }
    Ok(())
}

fn serve(root: &Path, extra: &[String]) -> Result<()> {
    setup::frontend_tools(root)?;
    build_spa(true)?;
    sh(cargo().args(["build", "--release", "--locked", "-p", "berth"]))?;
    let docker_host = setup::docker_engine(root)?;
    let data_dir = std::env::var("BERTH_DATA_DIR").unwrap_or_else(|_| "data".into());
    println!();
    println!(
        "Berth: http://{}",
        std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into())
    );
    match std::env::var("BERTH_ADMIN_PASSWORD") {
        Ok(_) => println!("Log in as `admin` with the password in BERTH_ADMIN_PASSWORD."),
        Err(_) => println!(
            "Log in as `admin`: on the first start the server prints a generated password below \
             (set BERTH_ADMIN_PASSWORD before the first start to choose it)."
        ),
    }
    println!();
    let mut cmd = Command::new(root.join("target/release/berth"));
    cmd.arg("serve")
        .args(extra)
        .env("BERTH_DATA_DIR", &data_dir)
        .env_remove("CARGO");
    if std::env::var_os("BERTH_STATIC_DIR").is_none() {
        cmd.env("BERTH_STATIC_DIR", root.join("dist"));
    }
    if let Some(host) = docker_host {
        cmd.env("DOCKER_HOST", host);
    }
    sh(&mut cmd)
}

fn test(root: &Path, extra: &[String]) -> Result<()> {
    setup::test_packages()?;
    setup::frontend_tools(root)?;
    build_spa(true)?;
    let started = std::time::Instant::now();
    // The end-to-end tests start the server binary itself to kill it outright.
    sh(cargo().args(["build", "--locked", "-p", "berth", "--bin", "berth"]))?;
    // The web app's own unit tests run natively (its GraphQL documents checked against the schema, its
    // parsers); it is not a default member because it only makes sense for wasm32.
    let (front_passed, front_failed, front_ok) =
        run_counting(cargo().args(["test", "--locked", "-p", "berth-frontend", "--bins"]))?;
    let mut cmd = cargo();
    // Default members: everything but the frontend (above).
    cmd.args(["test", "--locked"]).args(extra);
    let (passed, failed, ok) = run_counting(&mut cmd)?;
    let (passed, failed, ok) = (passed + front_passed, failed + front_failed, ok && front_ok);
    println!("tests: {passed} passed, {failed} failed");
    if !ok || failed > 0 {
        bail!("tests failed after {:.0?}", started.elapsed());
    }
    eprintln!("xtask: all tests passed in {:.0?}", started.elapsed());
    Ok(())
}

/// The benchmarks of the tests crate (`tests/benches/*.rs`, `harness = false`), in a release build.
const BENCHMARKS: &[&str] = &[
    "hosts",
    "registry",
    "run",
    "converge",
    "inventory",
    "logs",
    "stats",
    "terminal",
    "alerts",
    "updates",
    "rollouts",
    "cluster",
    "web",
];

fn bench(root: &Path, rest: &[String]) -> Result<()> {
    let Some((which, extra)) = rest.split_first() else {
        bail!(
            "name a benchmark: cargo xtask bench <{}>",
            BENCHMARKS.join("|")
        );
    };
    if !BENCHMARKS.contains(&which.as_str()) {
        bail!(
            "unknown benchmark `{which}` (known: {})",
            BENCHMARKS.join(", ")
        );
    }
    setup::test_packages()?;
    // The Berth under test serves the web app; any build of it will do, but the web benchmark measures the
    // current one.
    if which == "web" || !root.join("dist/index.html").is_file() {
        setup::frontend_tools(root)?;
        build_spa(true)?;
    }
    let mut cmd = cargo();
    // The convergence benchmark SIGKILLs and restarts a real `berth` process, the inventory benchmark measures
    // one: a release build of it.
    if matches!(
        which.as_str(),
        "converge" | "inventory" | "stats" | "alerts" | "updates" | "rollouts" | "cluster"
    ) {
        sh(cargo().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "berth",
            "--bin",
            "berth",
        ]))?;
        cmd.env("BERTH_BIN", root.join("target/release/berth"));
    }
    // The host-loss measurement waits out the grace period five times; a shorter one keeps the run short.
    if which == "run" && std::env::var_os("BERTH_HOST_GRACE_SECS").is_none() {
        cmd.env("BERTH_HOST_GRACE_SECS", "10");
    }
    sh(cmd
        .args([
            "bench",
            "--locked",
            "-p",
            "berth-tests",
            "--bench",
            which.as_str(),
            "--",
        ])
        .args(extra))
}

/// Runs `cargo test`, passing its output through, and adds up the runners' `test result:` lines.
fn run_counting(cmd: &mut Command) -> Result<(u64, u64, bool)> {
    use std::io::{BufRead as _, BufReader};
    eprintln!("xtask: $ {}", describe(cmd));
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                for part in rest.split(';') {
                    let words: Vec<&str> = part.split_whitespace().collect();
                    match words.as_slice() {
                        [.., n, "passed"] => passed += n.parse::<u64>().unwrap_or(0),
                        [n, "failed"] => failed += n.parse::<u64>().unwrap_or(0),
                        _ => {}
                    }
                }
            }
        }
    }
    let status = child.wait()?;
    Ok((passed, failed, status.success()))
}

fn lint() -> Result<()> {
    setup::wasm_target()?;
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    sh(cargo().args([
        "clippy",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    sh(cargo().args([
        "clippy",
        "-p",
        "berth-frontend",
        "-p",
        "berth-shared",
        "--target",
        "wasm32-unknown-unknown",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}
