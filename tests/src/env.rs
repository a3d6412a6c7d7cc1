//! `TestEnv`: the whole real environment of one test run — three Docker engines, two registries, the
//! pushed test image and chromedriver — started once per process and torn down in order.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::future::try_join_all;

use crate::browser::{self, ChromeDriverHandle};
use crate::engine::{self, EngineHandle, EngineSpec, Transport};
use crate::image;
use crate::process::{ManagedProcess, require_binary};
use crate::registry::{self, AUTH_PASSWORD, AUTH_USERNAME, RegistryHandle};
use crate::rundir::{self, RunDir};
use crate::tls::TlsMaterial;

/// The real environment the end-to-end tests run against.
pub struct TestEnv {
    /// `/tmp/berth-test/<pid>`.
    pub run_dir: PathBuf,
    /// h1 (unix socket), h2 (unix socket + TCP), h3 (TCP with TLS).
    pub hosts: [EngineHandle; 3],
    /// The registry without authentication.
    pub registry: RegistryHandle,
    /// The registry with htpasswd authentication (`username`/`password` set).
    pub auth_registry: RegistryHandle,
    /// References pushed to `registry`, e.g. `127.0.0.1:PORT/tools/busybox:1.35`.
    pub images: Vec<String>,
    /// References pushed to `auth_registry`.
    pub auth_images: Vec<String>,
    /// `http://127.0.0.1:PORT` of chromedriver.
    pub chromedriver_url: String,
    /// How long [`TestEnv::start`] took.
    pub startup: Duration,
    chromedriver: ChromeDriverHandle,
    teardown: Teardown,
    apps: AtomicUsize,
}

/// The binaries the environment needs.
struct Tools {
    dockerd: PathBuf,
    docker: PathBuf,
    registry: PathBuf,
    chromedriver: PathBuf,
    chromium: PathBuf,
    busybox: PathBuf,
    ip: PathBuf,
}

impl Tools {
    fn find() -> Result<Tools> {
        if !nix::unistd::geteuid().is_root() {
            bail!(
                "the end-to-end environment must run as root (it starts dockerd, creates bridges and mounts): \
                 run the tests as root, e.g. `sudo -E cargo xtask test`"
            );
        }
        // Prefer the CLI from Debian's docker.io: it matches the engine's version.
        let docker = require_binary("/usr/bin/docker", "")
            .or_else(|_| require_binary("docker", "apt-get install -y docker.io"))?;
        let busybox = require_binary("/bin/busybox", "apt-get install -y busybox-static")?;
        if has_interpreter(&busybox)? {
            bail!(
                "{} is dynamically linked and cannot run in a FROM scratch image: apt-get install -y busybox-static",
                busybox.display()
            );
        }
        Ok(Tools {
            dockerd: require_binary("dockerd", "apt-get install -y docker.io")?,
            docker,
            registry: require_binary("docker-registry", "apt-get install -y docker-registry")?,
            chromedriver: require_binary("chromedriver", "apt-get install -y chromium-driver")?,
            chromium: require_binary("/usr/bin/chromium", "apt-get install -y chromium")?,
            busybox,
            ip: require_binary("ip", "apt-get install -y iproute2")?,
        })
    }
}

/// Whether an ELF64 executable names a program interpreter (i.e. is dynamically linked).
fn has_interpreter(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let field = |at: usize, len: usize| -> Option<u64> {
        let slice = bytes.get(at..at + len)?;
        Some(
            slice
                .iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        )
    };
    if bytes.get(0..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        bail!(
            "{} is not a little-endian 64-bit ELF executable",
            path.display()
        );
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (field(32, 8), field(54, 2), field(56, 2))
    else {
        bail!("{} has a truncated ELF header", path.display());
    };
    for i in 0..phnum {
        let Ok(at) = usize::try_from(phoff + i * phentsize) else {
            break;
        };
        // PT_INTERP = 3
        if field(at, 4) == Some(3) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What must be stopped and removed, filled in as components start (so a failed or interrupted start
/// cleans up exactly what it started).
struct Teardown {
    run: Option<RunDir>,
    run_path: PathBuf,
    ip: PathBuf,
    chromedriver: Option<ManagedProcess>,
    registries: Vec<ManagedProcess>,
    /// The dockerd processes, in the order of `TestEnv::hosts`; behind a lock because tests may kill
    /// and restart an engine ([`TestEnv::kill_engine`], [`TestEnv::start_engine`]).
    engines: tokio::sync::Mutex<Vec<ManagedProcess>>,
    bridges: Vec<String>,
}

impl Teardown {
    async fn stop(&mut self) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(mut driver) = self.chromedriver.take()
            && let Err(e) = driver.stop(Duration::from_secs(5)).await
        {
            problems.push(format!("{e:#}"));
        }
        for mut registry in self.registries.drain(..) {
            if let Err(e) = registry.stop(Duration::from_secs(5)).await {
                problems.push(format!("{e:#}"));
            }
        }
        // dockerd stops its containers (3 s shutdown timeout) and its containerd.
        let engines: Vec<_> = self.engines.get_mut().drain(..).collect();
        let results = futures::future::join_all(
            engines
                .into_iter()
                .map(|mut engine| async move { engine.stop(Duration::from_secs(30)).await }),
        )
        .await;
        problems.extend(
            results
                .into_iter()
                .filter_map(Result::err)
                .map(|e| format!("{e:#}")),
        );
        let run_path = self.run_path.clone();
        if run_path.exists() {
            // Whatever is left (containerd, shims, chromium, container processes) goes, then the mounts
            // and the folder.
            let cleaned =
                tokio::task::spawn_blocking(move || rundir::clean_run_dir(&run_path)).await;
            match cleaned {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(format!("{e:#}")),
                Err(e) => problems.push(format!("cleaning the run dir: {e}")),
            }
        }
        rundir::kill_orphan_proxies();
        for bridge in self.bridges.drain(..) {
            if let Err(e) = engine::remove_bridge(&self.ip, &bridge).await {
                problems.push(format!("{e:#}"));
            }
        }
        if let Some(run) = self.run.take() {
            let lock = Path::new(rundir::BASE).join(format!("{}.lock", std::process::id()));
            let _ = std::fs::remove_file(lock);
            drop(run);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("teardown problems:\n{}", problems.join("\n"))
        }
    }
}

/// The parts of a started environment, before it is assembled.
struct Parts {
    hosts: [EngineHandle; 3],
    registry: RegistryHandle,
    auth_registry: RegistryHandle,
    images: Vec<String>,
    auth_images: Vec<String>,
    chromedriver: ChromeDriverHandle,
}

fn stage(name: &str, since: Instant) {
    eprintln!("berth-test: {name} ({:.1}s)", since.elapsed().as_secs_f64());
}

impl TestEnv {
    /// Starts everything; on failure stops what was started and returns the error.
    pub async fn start() -> Result<TestEnv> {
        TestEnv::start_until(std::future::pending::<()>()).await
    }

    /// Like [`TestEnv::start`], but gives up (tearing down what was started) when `cancel` completes,
    /// e.g. on Ctrl-C.
    pub async fn start_until(cancel: impl Future<Output = ()>) -> Result<TestEnv> {
        let started = Instant::now();
        let tools = Tools::find()?;
        let run = tokio::task::spawn_blocking(RunDir::create)
            .await
            .context("creating the run dir")??;
        eprintln!(
            "berth-test: run dir {} (network slot {})",
            run.path.display(),
            run.slot
        );
        let mut teardown = Teardown {
            run_path: run.path.clone(),
            ip: tools.ip.clone(),
            run: Some(run),
            chromedriver: None,
            registries: Vec::new(),
            engines: tokio::sync::Mutex::new(Vec::new()),
            bridges: Vec::new(),
        };
        let result = tokio::select! {
            result = start_parts(&tools, &mut teardown, started) => result,
            () = cancel => Err(anyhow!("interrupted while starting the test environment")),
        };
        match result {
            Ok(parts) => Ok(TestEnv {
                run_dir: teardown.run_path.clone(),
                chromedriver_url: parts.chromedriver.url.clone(),
                hosts: parts.hosts,
                registry: parts.registry,
                auth_registry: parts.auth_registry,
                images: parts.images,
                auth_images: parts.auth_images,
                startup: started.elapsed(),
                chromedriver: parts.chromedriver,
                teardown,
                apps: AtomicUsize::new(0),
            }),
            Err(e) => {
                if let Err(stop) = teardown.stop().await {
                    eprintln!("berth-test: {stop:#}");
                }
                Err(e)
            }
        }
    }

    /// Stops chromedriver, the registries and the engines, removes the bridges and deletes the run dir.
    pub async fn stop(mut self) -> Result<()> {
        self.teardown.stop().await
    }

    /// The host called `name` (`h1`, `h2`, `h3`).
    pub fn host(&self, name: &str) -> Result<&EngineHandle> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| anyhow!("no host {name}"))
    }

    /// Kills host `name`'s engine like a crash (SIGKILL to dockerd and its containerd). Restart it
    /// with [`TestEnv::start_engine`]; the runner also restarts any engine a test left stopped.
    pub async fn kill_engine(&self, name: &str) -> Result<()> {
        let (index, host) = self.host_index(name)?;
        let mut engines = self.teardown.engines.lock().await;
        let process = engines
            .get_mut(index)
            .ok_or_else(|| anyhow!("no process for engine {name}"))?;
        engine::kill(host, process).await
    }

    /// Starts host `name`'s engine again on the same folders, endpoints and certificates if it is not
    /// running, and waits until it answers. Returns whether it had to be started.
    pub async fn start_engine(&self, name: &str) -> Result<bool> {
        let (index, host) = self.host_index(name)?;
        let mut engines = self.teardown.engines.lock().await;
        let process = engines
            .get_mut(index)
            .ok_or_else(|| anyhow!("no process for engine {name}"))?;
        if process.is_running() {
            return Ok(false);
        }
        *process = engine::respawn(host)?;
        engine::wait_ready(host, process).await?;
        Ok(true)
    }

    /// Freezes host `name`'s dockerd (SIGSTOP): its sockets stay open and the kernel still accepts
    /// connections, but nothing answers — a hung engine. [`TestEnv::thaw_engine`] resumes it; the
    /// runner thaws every engine after each test.
    pub async fn freeze_engine(&self, name: &str) -> Result<()> {
        self.signal_engine(name, nix::sys::signal::Signal::SIGSTOP)
            .await
    }

    /// Resumes a frozen dockerd (SIGCONT; harmless on a running one).
    pub async fn thaw_engine(&self, name: &str) -> Result<()> {
        self.signal_engine(name, nix::sys::signal::Signal::SIGCONT)
            .await
    }

    async fn signal_engine(&self, name: &str, signal: nix::sys::signal::Signal) -> Result<()> {
        let (index, _) = self.host_index(name)?;
        let mut engines = self.teardown.engines.lock().await;
        let process = engines
            .get_mut(index)
            .ok_or_else(|| anyhow!("no process for engine {name}"))?;
        if !process.is_running() {
            bail!("engine {name} is not running");
        }
        crate::process::signal(process.pid(), signal);
        Ok(())
    }

    /// Whether host `name`'s dockerd is running.
    pub async fn engine_running(&self, name: &str) -> Result<bool> {
        let (index, _) = self.host_index(name)?;
        let mut engines = self.teardown.engines.lock().await;
        Ok(engines.get_mut(index).is_some_and(|p| p.is_running()))
    }

    /// Resumes every frozen engine and starts every engine that is not running (after a test that
    /// froze or killed one failed or timed out); returns the names of those it started.
    pub async fn revive_engines(&self) -> Result<Vec<String>> {
        let mut started = Vec::new();
        for host in &self.hosts {
            if self.engine_running(&host.name).await? {
                self.thaw_engine(&host.name).await?;
            }
            if self.start_engine(&host.name).await? {
                started.push(host.name.clone());
            }
        }
        Ok(started)
    }

    fn host_index(&self, name: &str) -> Result<(usize, &EngineHandle)> {
        self.hosts
            .iter()
            .enumerate()
            .find(|(_, h)| h.name == name)
            .ok_or_else(|| anyhow!("no host {name}"))
    }

    /// Opens a new headless Chromium session (fresh profile, 1280×800).
    pub async fn browser(&self) -> Result<fantoccini::Client> {
        self.chromedriver.new_client().await
    }

    /// A fresh, empty data folder for one Berth server.
    pub fn new_app_dir(&self) -> Result<PathBuf> {
        let n = self.apps.fetch_add(1, Ordering::SeqCst);
        let dir = self.run_dir.join("apps").join(format!("app{n}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// A fresh folder inside the run dir (e.g. a `DOCKER_CONFIG` for one test).
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let n = self.apps.fetch_add(1, Ordering::SeqCst);
        let dir = self.run_dir.join("scratch").join(format!("{name}-{n}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// Copies the components' log files (dockerd, registries, chromedriver) into `dest`.
    pub fn save_logs(&self, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
        let mut logs: Vec<(String, PathBuf)> = self
            .hosts
            .iter()
            .map(|h| (format!("dockerd-{}.log", h.name), h.log.clone()))
            .collect();
        logs.push(("registry-open.log".into(), self.registry.log.clone()));
        logs.push(("registry-auth.log".into(), self.auth_registry.log.clone()));
        logs.push((
            "chromedriver.log".into(),
            self.run_dir.join("chromedriver/chromedriver.log"),
        ));
        logs.push((
            "chromedriver-verbose.log".into(),
            self.run_dir.join("chromedriver/chromedriver-verbose.log"),
        ));
        for (name, path) in logs {
            if path.exists() {
                std::fs::copy(&path, dest.join(&name))
                    .with_context(|| format!("copying {}", path.display()))?;
            }
        }
        Ok(())
    }
}

async fn start_parts(tools: &Tools, teardown: &mut Teardown, started: Instant) -> Result<Parts> {
    let run_path = teardown.run_path.clone();
    let slot = teardown.run.as_ref().map(|r| r.slot).unwrap_or(0);
    let docker_config = run_path.join("docker-config");
    std::fs::create_dir_all(&docker_config)
        .with_context(|| format!("creating {}", docker_config.display()))?;
    let tls = TlsMaterial::generate().context("generating TLS certificates")?;

    // Spawn everything first (each process is registered for teardown at once), then wait for all of it
    // in parallel.
    let transports = [Transport::Unix, Transport::UnixAndTcp, Transport::TcpTls];
    let mut hosts = Vec::new();
    for (i, transport) in transports.into_iter().enumerate() {
        let n = u8::try_from(i + 1).context("host number")?;
        let name = format!("h{n}");
        let bridge = if slot == 0 {
            format!("berth-{name}")
        } else {
            format!("berth{slot}-{name}")
        };
        teardown.bridges.push(bridge.clone());
        let (handle, process) = engine::spawn(EngineSpec {
            dir: run_path.join(&name),
            name,
            transport,
            bridge,
            subnet_octet: slot * 10 + n,
            docker_bin: &tools.docker,
            dockerd_bin: &tools.dockerd,
            ip_bin: &tools.ip,
            docker_config: &docker_config,
            tls: Some(&tls),
        })
        .await?;
        teardown.engines.get_mut().push(process);
        hosts.push(handle);
    }
    let (registry, process) = registry::spawn(
        "open",
        &run_path.join("registry-open"),
        &tools.registry,
        None,
    )?;
    teardown.registries.push(process);
    let (auth_registry, process) = registry::spawn(
        "auth",
        &run_path.join("registry-auth"),
        &tools.registry,
        Some((AUTH_USERNAME, AUTH_PASSWORD)),
    )?;
    teardown.registries.push(process);
    let (chromedriver, process) = browser::spawn(
        &run_path.join("chromedriver"),
        &tools.chromedriver,
        &tools.chromium,
    )?;
    teardown.chromedriver = Some(process);

    let Teardown {
        engines,
        registries,
        chromedriver: driver_process,
        ..
    } = teardown;
    let engines_ready = try_join_all(
        hosts
            .iter()
            .zip(engines.get_mut().iter_mut())
            .map(|(h, p)| engine::wait_ready(h, p)),
    );
    let registries_ready = async {
        let [open, auth] = registries.as_mut_slice() else {
            bail!("expected two registry processes");
        };
        futures::try_join!(
            registry::wait_ready(&registry, open),
            registry::wait_ready(&auth_registry, auth)
        )
    };
    let driver_ready = async {
        match driver_process.as_mut() {
            Some(process) => browser::wait_ready(&chromedriver, process).await,
            None => bail!("chromedriver was not started"),
        }
    };
    futures::try_join!(engines_ready, registries_ready, driver_ready)?;
    stage("engines, registries and chromedriver ready", started);

    let hosts: [EngineHandle; 3] = hosts
        .try_into()
        .map_err(|_| anyhow!("expected three engines"))?;
    let builder = &hosts[0];
    image::build(builder, &tools.busybox, &run_path).await?;
    let images = image::push_all(builder, &registry, image::OPEN_REPOSITORIES).await?;
    image::login(builder, &auth_registry, None)
        .await
        .context("docker login to the auth registry")?;
    let auth_images = image::push_all(builder, &auth_registry, image::AUTH_REPOSITORIES).await?;
    stage("test image built and pushed", started);

    Ok(Parts {
        hosts,
        registry,
        auth_registry,
        images,
        auth_images,
        chromedriver,
    })
}

#[cfg(test)]
mod tests {
    use super::has_interpreter;
    use std::path::Path;

    #[test]
    fn a_dynamic_executable_has_an_interpreter() {
        assert!(has_interpreter(Path::new("/bin/sh")).unwrap());
    }

    #[test]
    fn debian_static_busybox_has_none() {
        let busybox = Path::new("/bin/busybox");
        if busybox.exists() {
            assert!(!has_interpreter(busybox).unwrap());
        }
    }
}
