//! Registry benchmark (`cargo xtask bench registry`, i.e. `cargo bench -p berth-tests --bench registry`):
//! a local `docker-registry` seeded with 200 repositories × 20 tags (manifests sharing one layer and one
//! config, pushed through the HTTP API) and an in-process Berth (release build):
//!
//! - a full refresh (names and digests, from `addRegistry` to status OK) against `skopeo list-tags` run for
//!   every repository in turn (names only) on the same registry: the ratio, goal ≥ 5×;
//! - a refresh when nothing changed (every tag HEADed, nothing else fetched);
//! - the registry's physical limit: the same requests a Berth refresh makes, sent by a bare HTTP client
//!   (keep-alive, no parsing, no ordering) at several concurrencies — the floor no client can go below on
//!   this machine, so the ratio can be judged;
//! - the requests each side made (counted in the registry's access log), the CPU time of Berth's process and
//!   of the registry per refresh, and the process's peak memory (VmHWM; the benchmark and Berth share it).
//!
//! Berth, skopeo and the floor are measured in alternation, run after run, so load from other work on the
//! machine spreads over all of them. Prints the table and writes it into BENCHMARKS.md. Not run by
//! `cargo test` (`test = false`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::bench::{cores, fmt_duration, median, write_section};
use berth_tests::process::require_binary;
use berth_tests::ws::GraphqlWs;
use berth_tests::{TestApp, spawn_app_with_data_dir};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

const COMMAND: &str = "cargo xtask bench registry";
const REPOSITORIES: usize = 200;
const TAGS: usize = 20;
const RUNS: usize = 5;
/// Concurrencies the bare client tries to find the registry's best throughput.
const SWEEP: [usize; 6] = [1, 2, 4, 8, 16, 32];
/// The four manifest media types, as Berth asks for them.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";
const REFRESH_EVENTS: &str = "subscription { registryRefresh { registry { id } phase message } }";

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot build the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench registry: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A private folder for this run, removed at the end.
fn work_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("berth-bench-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The registry under test: where it answers, its process (for CPU time) and its log (for request counts).
struct Target {
    url: String,
    host_port: String,
    pid: u32,
    log: PathBuf,
}

async fn run() -> Result<()> {
    let registry_bin = require_binary("docker-registry", "apt-get install -y docker-registry")?;
    let skopeo = require_binary("skopeo", "apt-get install -y skopeo")?;
    let dir = work_dir()?;
    let (registry, mut process) =
        berth_tests::registry::spawn("bench", &dir.join("registry"), &registry_bin, None)?;
    let result = async {
        berth_tests::registry::wait_ready(&registry, &mut process).await?;
        let seeding = Instant::now();
        berth_tests::seed::seed(&registry.url, "bench", REPOSITORIES, TAGS, 16).await?;
        eprintln!(
            "bench registry: seeded {REPOSITORIES} × {TAGS} in {:.1?}",
            seeding.elapsed()
        );
        let target = Target {
            url: registry.url.clone(),
            host_port: registry.host_port.clone(),
            pid: process.pid(),
            log: registry.log.clone(),
        };
        measure(&target, &skopeo, &dir).await
    }
    .await;
    let stopped = process.stop(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
    let (rows, notes) = result?;
    stopped?;
    let table = table(&rows);
    println!("\n{table}\n{notes}");
    write_benchmarks_md(&table, &notes)
}

/// One measured quantity.
struct Row {
    name: String,
    samples: Vec<Duration>,
}

impl Row {
    fn new(name: impl Into<String>) -> Row {
        Row {
            name: name.into(),
            samples: Vec::new(),
        }
    }

    fn median(&self) -> Duration {
        median(&self.samples)
    }

    fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }
}

// ---- what the registry saw and spent ---------------------------------------------------------------

/// Requests in the registry's access log, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Requests {
    ping: usize,
    catalog: usize,
    tag_lists: usize,
    manifest_gets: usize,
    manifest_heads: usize,
    blobs: usize,
    other: usize,
}

impl Requests {
    fn total(&self) -> usize {
        self.ping
            + self.catalog
            + self.tag_lists
            + self.manifest_gets
            + self.manifest_heads
            + self.blobs
            + self.other
    }

    /// Counts the access-log lines (`… "GET /v2/… HTTP/1.1" 200 …`) of `text`.
    fn parse(text: &str) -> Requests {
        let mut counts = Requests::default();
        for line in text.lines().filter(|l| !l.starts_with("time=")) {
            let Some(request) = line.split('"').nth(1) else {
                continue;
            };
            let mut parts = request.split(' ');
            let (Some(method), Some(path), Some(proto)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !proto.starts_with("HTTP/") {
                continue;
            }
            let path = path.split('?').next().unwrap_or_default();
            let slot = if path == "/v2/" {
                &mut counts.ping
            } else if path == "/v2/_catalog" {
                &mut counts.catalog
            } else if path.ends_with("/tags/list") {
                &mut counts.tag_lists
            } else if path.contains("/manifests/") && method == "HEAD" {
                &mut counts.manifest_heads
            } else if path.contains("/manifests/") {
                &mut counts.manifest_gets
            } else if path.contains("/blobs/") {
                &mut counts.blobs
            } else {
                &mut counts.other
            };
            *slot += 1;
        }
        counts
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.ping, "`/v2/`"),
            (self.catalog, "catalog pages"),
            (self.tag_lists, "tag lists"),
            (self.manifest_gets, "manifest GETs"),
            (self.manifest_heads, "manifest HEADs"),
            (self.blobs, "blob GETs"),
            (self.other, "other"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        format!("{} ({})", self.total(), parts.join(", "))
    }
}

/// Where the registry's log ends now.
fn log_mark(log: &Path) -> u64 {
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// The requests the registry logged since `mark`. Waits a moment first: the access log line is written just
/// after the response.
async fn requests_since(log: &Path, mark: u64) -> Result<Requests> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut file =
        std::fs::File::open(log).with_context(|| format!("opening {}", log.display()))?;
    file.seek(SeekFrom::Start(mark))
        .with_context(|| format!("seeking in {}", log.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", log.display()))?;
    Ok(Requests::parse(&String::from_utf8_lossy(&bytes)))
}

/// CPU time (user + system) of process `pid` (`"self"` for this one), and of its waited-for children, from
/// `/proc/PID/stat` (USER_HZ is 100 on Linux).
fn cpu_time(pid: &str) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15,
    // cutime 16, cstime 17.
    let fields: Vec<u64> = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = |i: usize| fields.get(i).copied().unwrap_or(0);
    let own = Duration::from_millis((ticks(10) + ticks(11)) * 10);
    let children = Duration::from_millis((ticks(12) + ticks(13)) * 10);
    Some((own, children))
}

/// CPU time spent by this process (Berth and the benchmark), by its finished children (skopeo) and by the
/// registry.
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    this: Duration,
    children: Duration,
    registry: Duration,
}

impl Cpu {
    fn now(registry_pid: u32) -> Cpu {
        let (this, children) = cpu_time("self").unwrap_or_default();
        let registry = cpu_time(&registry_pid.to_string()).map_or(Duration::ZERO, |(own, _)| own);
        Cpu {
            this,
            children,
            registry,
        }
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            this: self.this.saturating_sub(start.this),
            children: self.children.saturating_sub(start.children),
            registry: self.registry.saturating_sub(start.registry),
        }
    }
}

/// What one phase of a run cost: its requests (from the access log) and CPU.
#[derive(Default)]
struct Cost {
    requests: Vec<Requests>,
    cpu: Vec<Cpu>,
}

impl Cost {
    fn push(&mut self, requests: Requests, cpu: Cpu) {
        self.requests.push(requests);
        self.cpu.push(cpu);
    }

    /// The request counts, or each run's when they differ.
    fn requests(&self) -> String {
        match self.requests.first() {
            Some(first) if self.requests.iter().all(|r| r == first) => first.describe(),
            _ => self
                .requests
                .iter()
                .map(Requests::describe)
                .collect::<Vec<_>>()
                .join(" / "),
        }
    }

    fn median_cpu(&self, part: impl Fn(&Cpu) -> Duration) -> Duration {
        median(&self.cpu.iter().map(part).collect::<Vec<_>>())
    }
}

// ---- the bare client: the registry's physical limit ------------------------------------------------

/// Which requests the bare client sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    /// A full refresh: a manifest GET per tag and the shared config blob.
    Full,
    /// A refresh when nothing changed: a manifest HEAD per tag.
    Unchanged,
    /// Names only, what skopeo fetches: no manifest requests.
    Names,
}

/// Every request of a refresh, in no particular order: `/v2/`, the catalog in one page, the tag lists, and
/// what `set` adds.
fn refresh_requests(base: &str, set: Set, config: &str) -> Vec<(reqwest::Method, String)> {
    let get = reqwest::Method::GET;
    let mut out = vec![
        (get.clone(), format!("{base}/v2/")),
        (get.clone(), format!("{base}/v2/_catalog?n=1000")),
    ];
    for r in 0..REPOSITORIES {
        out.push((
            get.clone(),
            format!("{base}/v2/bench/r{r:03}/tags/list?n=100"),
        ));
        let method = match set {
            Set::Full => get.clone(),
            Set::Unchanged => reqwest::Method::HEAD,
            Set::Names => continue,
        };
        for t in 0..TAGS {
            out.push((
                method.clone(),
                format!("{base}/v2/bench/r{r:03}/manifests/t{t:02}"),
            ));
        }
    }
    if set == Set::Full {
        out.push((get, format!("{base}/v2/bench/r000/blobs/{config}")));
    }
    out
}

/// Sends `requests` with `concurrency` in flight (bodies read, nothing parsed); the time they took.
async fn blast(
    client: &reqwest::Client,
    requests: &[(reqwest::Method, String)],
    concurrency: usize,
) -> Result<Duration> {
    let started = Instant::now();
    futures::stream::iter(requests)
        .map(|(method, url)| async move {
            let response = client
                .request(method.clone(), url)
                .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
                .send()
                .await
                .with_context(|| format!("{method} {url}"))?;
            ensure!(
                response.status().is_success(),
                "{method} {url}: {}",
                response.status()
            );
            response.bytes().await.context("reading a body")?;
            Ok(())
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(started.elapsed())
}

/// The digest of the seeded config blob (read from one manifest).
async fn config_digest(client: &reqwest::Client, base: &str) -> Result<String> {
    let manifest: Value = client
        .get(format!("{base}/v2/bench/r000/manifests/t00"))
        .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
        .send()
        .await?
        .json()
        .await?;
    manifest["config"]["digest"]
        .as_str()
        .map(str::to_owned)
        .context("the seeded manifest has no config digest")
}

/// The bare client's throughput at each concurrency of [`SWEEP`] (full-refresh request set), and at 8 and 32
/// for the HEAD set; returns the best concurrency of each and the lines describing the sweep.
async fn sweep(
    client: &reqwest::Client,
    full: &[(reqwest::Method, String)],
    unchanged: &[(reqwest::Method, String)],
    registry_pid: u32,
) -> Result<(usize, usize, String)> {
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let mut best = (0usize, 0f64);
    let mut parts = Vec::new();
    let mut cpu_per_request = Vec::new();
    for c in SWEEP {
        let before = Cpu::now(registry_pid);
        let took = blast(client, full, c).await?;
        let cpu = Cpu::now(registry_pid).since(before);
        cpu_per_request.push(cpu.registry / u32::try_from(full.len()).unwrap_or(u32::MAX));
        let r = rate(full.len(), took);
        if r > best.1 {
            best = (c, r);
        }
        parts.push(format!("{c}: {r:.0}/s"));
    }
    let mut best_head = (0usize, 0f64);
    let mut head_parts = Vec::new();
    for c in [8, 32] {
        let took = blast(client, unchanged, c).await?;
        let r = rate(unchanged.len(), took);
        if r > best_head.1 {
            best_head = (c, r);
        }
        head_parts.push(format!("{c}: {r:.0}/s"));
    }
    let line = format!(
        "- Registry physical limit (bare `reqwest` client, keep-alive, bodies read and not parsed, no ordering \
         between requests), requests per second by concurrency — full-refresh set (GETs): {}; unchanged set \
         (HEADs): {}. The registry spends {} of CPU per request (median over the sweep): on {} cores it cannot \
         serve more than ~{:.0} requests/s, whoever asks.",
        parts.join(", "),
        head_parts.join(", "),
        fmt_duration(median(&cpu_per_request)),
        cores(),
        cores() as f64 / median(&cpu_per_request).as_secs_f64().max(1e-9),
    );
    Ok((best.0, best_head.0, line))
}

// ---- Berth --------------------------------------------------------------------------------------------

async fn graphql(app: &TestApp, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql(query, variables).await?;
    Ok(data(&body)?.clone())
}

/// Waits for the refresh of `id` to finish (`registryRefresh` FINISHED; FAILED fails), then checks the
/// stored counts.
async fn wait_finished(app: &TestApp, events: &mut GraphqlWs, id: &str) -> Result<()> {
    let event = events
        .wait_for("the refresh to end", Duration::from_secs(600), |e| {
            let event = &e.data["registryRefresh"];
            event["registry"]["id"] == id
                && matches!(event["phase"].as_str(), Some("FINISHED" | "FAILED"))
        })
        .await?;
    let event = &event.data["registryRefresh"];
    ensure!(event["phase"] == "FINISHED", "refresh failed: {event}");
    let registry = graphql(
        app,
        "query R($id: ID!) { registry(id: $id) { status repositoryCount tagCount } }",
        json!({ "id": id }),
    )
    .await?["registry"]
        .clone();
    ensure!(
        registry["status"] == "OK"
            && registry["repositoryCount"] == REPOSITORIES
            && registry["tagCount"] == REPOSITORIES * TAGS,
        "after the refresh: {registry}"
    );
    Ok(())
}

/// One timed phase: its duration, requests and CPU.
async fn phase(
    target: &Target,
    work: impl Future<Output = Result<()>>,
) -> Result<(Duration, Requests, Cpu)> {
    let mark = log_mark(&target.log);
    let before = Cpu::now(target.pid);
    let started = Instant::now();
    work.await?;
    let took = started.elapsed();
    let cpu = Cpu::now(target.pid).since(before);
    Ok((took, requests_since(&target.log, mark).await?, cpu))
}

async fn skopeo_pass(skopeo: &Path, host_port: &str) -> Result<()> {
    for i in 0..REPOSITORIES {
        let output = tokio::process::Command::new(skopeo)
            .args([
                "list-tags",
                "--tls-verify=false",
                &format!("docker://{host_port}/bench/r{i:03}"),
            ])
            .output()
            .await
            .context("running skopeo")?;
        ensure!(
            output.status.success(),
            "skopeo list-tags bench/r{i:03}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

async fn measure(target: &Target, skopeo: &Path, dir: &Path) -> Result<(Vec<Row>, String)> {
    let bare = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the bare client")?;
    let config = config_digest(&bare, &target.url).await?;
    let full_set = refresh_requests(&target.url, Set::Full, &config);
    let unchanged_set = refresh_requests(&target.url, Set::Unchanged, &config);
    let names_set = refresh_requests(&target.url, Set::Names, &config);
    // Found by the sweep after Berth's first refreshes.
    let (mut best_get, mut best_head, mut limit_line) = (0, 0, String::new());

    let mut full = Row::new(format!(
        "Berth full refresh, {REPOSITORIES} repositories × {TAGS} tags (names + digests)"
    ));
    let mut unchanged = Row::new("Berth refresh when nothing changed (HEAD per tag)");
    let mut skopeo_row = Row::new(format!(
        "`skopeo list-tags` for each of the {REPOSITORIES} repositories in turn (names only)"
    ));
    // Named after the sweep (which picks their concurrency).
    let (mut floor_full, mut floor_unchanged, mut floor_names) =
        (Row::new(""), Row::new(""), Row::new(""));
    let (mut full_cost, mut unchanged_cost, mut skopeo_cost) =
        (Cost::default(), Cost::default(), Cost::default());
    let (mut bare_full_cost, mut bare_unchanged_cost) = (Cost::default(), Cost::default());
    let mut berth_peak = None;

    let app = spawn_app_with_data_dir(&dir.join("berth")).await?;
    let result = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let token = app.admin_token("bench").await?;
        let mut events = GraphqlWs::connect(&app, &token).await?;
        events.subscribe(REFRESH_EVENTS, json!({})).await?;
        for run in 0..RUNS {
            let mut id = String::new();
            let (took, requests, cpu) = phase(target, async {
                let added = graphql(
                    &app,
                    "mutation A($input: RegistryInput!) { addRegistry(input: $input) { id } }",
                    json!({ "input": { "name": format!("bench{run}"), "url": target.url,
                                       "insecure": true, "refreshIntervalSeconds": 0 } }),
                )
                .await?;
                id = added["addRegistry"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                wait_finished(&app, &mut events, &id).await
            })
            .await?;
            full.samples.push(took);
            full_cost.push(requests, cpu);

            let (took, requests, cpu) = phase(target, async {
                graphql(
                    &app,
                    "mutation R($id: ID!) { refreshRegistry(id: $id) { status } }",
                    json!({ "id": id }),
                )
                .await?;
                wait_finished(&app, &mut events, &id).await
            })
            .await?;
            unchanged.samples.push(took);
            unchanged_cost.push(requests, cpu);
            if run == 0 {
                // Before the bare client first runs: the process has seeded the registry and run Berth.
                berth_peak = peak_memory_kib();
                let (get, head, line) =
                    sweep(&bare, &full_set, &unchanged_set, target.pid).await?;
                eprintln!("bench registry: {line}");
                (best_get, best_head, limit_line) = (get, head, line);
            }
            graphql(
                &app,
                "mutation D($id: ID!) { removeRegistry(id: $id) }",
                json!({ "id": id }),
            )
            .await?;

            let (took, requests, cpu) =
                phase(target, skopeo_pass(skopeo, &target.host_port)).await?;
            skopeo_row.samples.push(took);
            skopeo_cost.push(requests, cpu);

            let (took, requests, cpu) = phase(target, async {
                blast(&bare, &full_set, best_get).await.map(|_| ())
            })
            .await?;
            floor_full.samples.push(took);
            bare_full_cost.push(requests, cpu);
            let (took, requests, cpu) = phase(target, async {
                blast(&bare, &unchanged_set, best_head).await.map(|_| ())
            })
            .await?;
            floor_unchanged.samples.push(took);
            bare_unchanged_cost.push(requests, cpu);
            let (took, _, _) = phase(target, async {
                blast(&bare, &names_set, best_get).await.map(|_| ())
            })
            .await?;
            floor_names.samples.push(took);
            eprintln!(
                "bench registry: run {}/{RUNS}: full {}, unchanged {}, skopeo {}, floors {} / {} / {}",
                run + 1,
                fmt_duration(full.samples[run]),
                fmt_duration(unchanged.samples[run]),
                fmt_duration(skopeo_row.samples[run]),
                fmt_duration(floor_full.samples[run]),
                fmt_duration(floor_unchanged.samples[run]),
                fmt_duration(floor_names.samples[run]),
            );
        }
        events.close().await;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.finish(result).await?;
    floor_full.name = format!(
        "Registry floor for the full refresh: its {} requests from a bare client ({best_get} in flight)",
        full_set.len()
    );
    floor_unchanged.name = format!(
        "Registry floor for the unchanged refresh: its {} requests from a bare client ({best_head} in flight)",
        unchanged_set.len()
    );
    floor_names.name = format!(
        "Registry floor for names only (what skopeo fetches): {} requests from a bare client ({best_get} in flight)",
        names_set.len()
    );

    let peak = peak_memory_kib();
    let ratio = |a: &Row, b: &Row| a.median().as_secs_f64() / b.median().as_secs_f64().max(1e-9);
    // What the in-process Berth used (the environment's `BERTH_REGISTRY_*` or the defaults).
    let settings = berth::service::registries::RefreshSettings::from(
        &berth::config::Settings::from_pairs(&[]).map_err(anyhow::Error::msg)?,
    );
    let (concurrency, page_size) = (settings.concurrency, settings.page_size);
    let notes = format!(
        "- Ratio skopeo / Berth full refresh (medians): **{:.1}×** (goal ≥ 5×). The best any client could reach \
         here, skopeo / registry floor: {:.1}×; with names only on both sides (skopeo / names-only floor): {:.0}×. \
         Berth full refresh / floor: {:.2}; unchanged refresh / its floor: {:.2}.\n\
         - Requests per run (the registry's access log): Berth full refresh {}; Berth unchanged refresh {}; \
         skopeo {}.\n\
         {limit_line}\n\
         - CPU per run (medians): full refresh — Berth's process {}, registry {}; unchanged refresh — Berth {}, \
         registry {}; the bare client's process for the same requests {} and {}; skopeo's 200 processes {}, \
         registry {}.\n\
         - Peak memory (VmHWM) of the benchmark process after seeding and Berth's first full and unchanged \
         refresh, before the bare client first runs: {}; over the whole run, bare client included: {}.\n\
         - Berth: {concurrency} requests in flight per registry (`BERTH_REGISTRY_CONCURRENCY`), page size {page_size}; a new tag costs one \
         manifest GET (digest from `Docker-Content-Digest`), a config blob is read once per digest, an \
         unchanged tag costs one HEAD, and only changed rows are written. Refresh end seen on the \
         `registryRefresh` subscription. Runs alternate Berth, skopeo and the floor.",
        ratio(&skopeo_row, &full),
        ratio(&skopeo_row, &floor_full),
        ratio(&skopeo_row, &floor_names),
        ratio(&full, &floor_full),
        ratio(&unchanged, &floor_unchanged),
        full_cost.requests(),
        unchanged_cost.requests(),
        skopeo_cost.requests(),
        fmt_duration(full_cost.median_cpu(|c| c.this)),
        fmt_duration(full_cost.median_cpu(|c| c.registry)),
        fmt_duration(unchanged_cost.median_cpu(|c| c.this)),
        fmt_duration(unchanged_cost.median_cpu(|c| c.registry)),
        fmt_duration(bare_full_cost.median_cpu(|c| c.this)),
        fmt_duration(bare_unchanged_cost.median_cpu(|c| c.this)),
        fmt_duration(skopeo_cost.median_cpu(|c| c.children)),
        fmt_duration(skopeo_cost.median_cpu(|c| c.registry)),
        mib(berth_peak),
        mib(peak),
    );
    Ok((
        vec![
            full,
            unchanged,
            skopeo_row,
            floor_full,
            floor_unchanged,
            floor_names,
        ],
        notes,
    ))
}

/// VmHWM of this process in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unknown".into(),
        |k| format!("{:.0} MiB", k as f64 / 1024.0),
    )
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| measurement | runs | median | max |\n|---|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.name,
            row.samples.len(),
            fmt_duration(row.median()),
            fmt_duration(row.max()),
        ));
    }
    out
}

/// Replaces the registry section of BENCHMARKS.md.
fn write_benchmarks_md(table: &str, notes: &str) -> Result<()> {
    let date = time::OffsetDateTime::now_utc().date();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    let body = format!(
        "## Registry\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench registry`: release build, a local \
`docker-registry` seeded with {REPOSITORIES} repositories × {TAGS} tags through its HTTP API, an in-process \
Berth, Debian's `skopeo`). Measured {date} on a {}-core machine shared with other builds (load average {load} \
at the end). {RUNS} runs per row.\n\n\
{table}\n\
{notes}\n",
        cores()
    );
    write_section("registry", &body)
}
