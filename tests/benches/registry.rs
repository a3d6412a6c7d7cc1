//! Registry benchmark (`cargo xtask bench registry`, i.e. `cargo bench -p berth-tests --bench registry`):
//! a local `docker-registry` seeded with 200 repositories × 20 tags (manifests sharing one layer and one
//! config, pushed through the HTTP API) and an in-process Berth (release build):
//!
//! - a full refresh (names and digests, from `addRegistry` to status OK) against `skopeo list-tags` run for
//!   every repository in turn (names only) on the same registry: the ratio, goal ≥ 5×;
//! - a refresh when nothing changed (every tag HEADed, nothing else fetched);
//! - the process's peak memory (VmHWM; the benchmark and Berth share the process).
//!
//! Prints the table and writes it into BENCHMARKS.md. Not run by `cargo test` (`test = false`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::process::require_binary;
use berth_tests::{TestApp, spawn_app_with_data_dir};
use serde_json::{Value, json};

const COMMAND: &str = "cargo xtask bench registry";
const REPOSITORIES: usize = 200;
const TAGS: usize = 20;
const RUNS: usize = 3;
const BEGIN: &str = "<!-- bench:registry:begin -->";
const END: &str = "<!-- bench:registry:end -->";

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
        measure(&registry.url, &registry.host_port, &skopeo, &dir).await
    }
    .await;
    let stopped = process.stop(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
    let (rows, notes) = result?;
    stopped?;
    let table = table(&rows);
    println!("\n{table}\n{notes}");
    write_benchmarks_md(&table, &notes)?;
    Ok(())
}

/// One measured quantity: samples and an optional note for the ratio column.
struct Row {
    name: String,
    samples: Vec<Duration>,
}

impl Row {
    fn median(&self) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        s.get(s.len() / 2).copied().unwrap_or_default()
    }

    fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }
}

async fn graphql(app: &TestApp, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql(query, variables).await?;
    Ok(data(&body)?.clone())
}

/// Polls (every 10 ms, status only) until the registry is OK; fails on ERROR. Returns the counts too.
async fn wait_ok(app: &TestApp, id: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let registry = graphql(
            app,
            "query R($id: ID!) { registry(id: $id) { status lastError } }",
            json!({ "id": id }),
        )
        .await?["registry"]
            .clone();
        match registry["status"].as_str() {
            Some("OK") => {
                return Ok(graphql(
                    app,
                    "query R($id: ID!) { registry(id: $id) { status repositoryCount tagCount } }",
                    json!({ "id": id }),
                )
                .await?["registry"]
                    .clone());
            }
            Some("ERROR") => bail!("refresh failed: {registry}"),
            _ if Instant::now() > deadline => bail!("refresh did not end: {registry}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn measure(
    url: &str,
    host_port: &str,
    skopeo: &Path,
    dir: &Path,
) -> Result<(Vec<Row>, String)> {
    let app = spawn_app_with_data_dir(&dir.join("berth")).await?;
    let result = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let mut full = Vec::new();
        let mut unchanged = Vec::new();
        for run in 0..RUNS {
            let added = Instant::now();
            let registry = graphql(
                &app,
                "mutation A($input: RegistryInput!) { addRegistry(input: $input) { id } }",
                json!({ "input": { "name": format!("bench{run}"), "url": url, "insecure": true,
                                   "refreshIntervalSeconds": 0 } }),
            )
            .await?;
            let id = registry["addRegistry"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let done = wait_ok(&app, &id).await?;
            full.push(added.elapsed());
            ensure!(
                done["repositoryCount"] == REPOSITORIES && done["tagCount"] == REPOSITORIES * TAGS,
                "counts after the full refresh: {done}"
            );
            let again = Instant::now();
            graphql(
                &app,
                "mutation R($id: ID!) { refreshRegistry(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await?;
            wait_ok(&app, &id).await?;
            unchanged.push(again.elapsed());
            graphql(
                &app,
                "mutation D($id: ID!) { removeRegistry(id: $id) }",
                json!({ "id": id }),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>((full, unchanged))
    }
    .await;
    let (full, unchanged) = app.finish(result).await?;

    let mut skopeo_runs = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
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
        skopeo_runs.push(started.elapsed());
    }
    let peak = peak_memory_kib();
    let rows = vec![
        Row {
            name: format!(
                "Berth full refresh, {REPOSITORIES} repositories × {TAGS} tags (names + digests)"
            ),
            samples: full,
        },
        Row {
            name: "Berth refresh when nothing changed (HEAD per tag)".into(),
            samples: unchanged,
        },
        Row {
            name: format!(
                "`skopeo list-tags` for each of the {REPOSITORIES} repositories in turn (names only)"
            ),
            samples: skopeo_runs,
        },
    ];
    let ratio = rows[2].median().as_secs_f64() / rows[0].median().as_secs_f64().max(1e-9);
    let notes = format!(
        "- Ratio skopeo / Berth full refresh (medians): **{ratio:.1}×** (goal ≥ 5×).\n\
         - Peak memory (VmHWM) of the benchmark process, Berth included: {}.\n\
         - Berth: concurrency 8 requests per registry, page size 100; a new tag costs one manifest GET (its \
         digest from `Docker-Content-Digest`), config blobs are read once per digest; an unchanged tag costs one \
         HEAD.",
        peak.map_or_else(
            || "unknown".into(),
            |k| format!("{:.0} MiB", k as f64 / 1024.0)
        )
    );
    Ok((rows, notes))
}

/// VmHWM of this process in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn fmt(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| measurement | runs | median | max |\n|---|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.name,
            row.samples.len(),
            fmt(row.median()),
            fmt(row.max()),
        ));
    }
    out
}

/// Replaces the registry section of BENCHMARKS.md (creating the file if needed).
fn write_benchmarks_md(table: &str, notes: &str) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = time::OffsetDateTime::now_utc().date();
    let section = format!(
        "{BEGIN}\n\
## Registry\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench registry`: release build, a local \
`docker-registry` seeded with {REPOSITORIES} repositories × {TAGS} tags through its HTTP API, an in-process \
Berth, Debian's `skopeo`). Measured {date} on a {cores}-core machine shared with other builds. {RUNS} runs \
per row.\n\n\
{table}\n\
{notes}\n\
{END}\n"
    );
    let body = section
        .trim_end()
        .trim_start_matches(BEGIN)
        .trim_end_matches(END)
        .trim();
    berth_tests::bench::write_section("registry", body)
}
