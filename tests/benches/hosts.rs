//! Host benchmark (`cargo xtask bench hosts`, i.e. `cargo bench -p berth-tests --bench hosts`), against
//! the real test environment (three engines, a registry) and an in-process Berth (release build):
//!
//! - (a) SIGKILL of h2's dockerd → the NON_RESPONSIVE `hostStatus` event (and, for the timeout path,
//!   SIGSTOP of h1's dockerd → NON_RESPONSIVE);
//! - (b) `docker pull` by the CLI on h2 → the image listed by `host { images }` (polled every 20 ms),
//!   timed from the engine's own `pull` event;
//! - (c) `hosts` query latency with 10 hosts of which 3 hang (TCP listeners that never answer), while
//!   the three are being added and afterwards.
//!
//! Ten runs each; prints median and max against the goals and writes them into BENCHMARKS.md. Needs
//! root, like the end-to-end tests. Not run by `cargo test` (`test = false`).

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::data;
use berth_tests::hosts::{
    SilentListener, add_host, engine_input, image_references, push_unique_image, wait_for_image,
};
use berth_tests::ws::GraphqlWs;
use berth_tests::{TestApp, TestEnv, spawn_app};
use serde_json::{Value, json};

const RUNS: usize = 10;
const COMMAND: &str = "cargo xtask bench hosts";
const HOST_STATUS: &str = "subscription S($id: ID) { hostStatus(hostId: $id) { host { id } status previousStatus message } }";
const SET_MAINTENANCE: &str = "mutation M($id: ID!, $on: Boolean!) { setHostMaintenance(id: $id, maintenance: $on) { status } }";
/// What the Hosts tab asks for.
const HOSTS_QUERY: &str = "{ hosts { id name endpoint status lastError lastSeenAt imageCount \
     capabilities { dockerVersion cpus memoryBytes } } }";

/// One measured quantity.
struct Row {
    name: String,
    samples: Vec<Duration>,
    goal: Option<(Duration, &'static str)>,
}

impl Row {
    fn sorted(&self) -> Vec<Duration> {
        let mut s = self.samples.clone();
        s.sort();
        s
    }
    fn median(&self) -> Duration {
        let s = self.sorted();
        match s.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2,
        }
    }
    fn max(&self) -> Duration {
        self.sorted().last().copied().unwrap_or_default()
    }
}

fn fmt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn ratio(d: Duration, goal: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() / goal.as_secs_f64())
}

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
            eprintln!("bench hosts: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let env = TestEnv::start_until(interrupted).await?;
    let measured = tokio::select! {
        result = measure(&env) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Err(e) = env.revive_engines().await {
        eprintln!("bench hosts: restarting the engines: {e:#}");
    }
    let stopped = env.stop().await;
    let rows = measured?;
    stopped?;
    let table = table(&rows);
    println!("\n{table}");
    write_benchmarks_md(&table)?;
    Ok(())
}

async fn measure(env: &TestEnv) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let app = spawn_app(env).await?;
    let result = async {
        let token = app.admin_token("bench").await?;
        rows.extend(kill_to_non_responsive(env, &app, &token).await?);
        rows.push(freeze_to_non_responsive(env, &app, &token).await?);
        rows.extend(cli_pull_to_cache(env, &app).await?);
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.finish(result).await?;
    // A fresh Berth for the query latency: exactly 10 hosts.
    let app = spawn_app(env).await?;
    let result = async {
        app.admin_token("bench").await?;
        hosts_query_latency(env, &app).await
    }
    .await;
    rows.extend(app.finish(result).await?);
    Ok(rows)
}

/// Adds an engine and checks that it is UP.
async fn add_up(app: &TestApp, name: &str, input: Value) -> Result<String> {
    let host = add_host(app, input).await?;
    ensure!(host["status"] == "UP", "{name} is not UP: {host}");
    Ok(host["id"].as_str().unwrap_or_default().to_string())
}

/// Subscribes to `hostStatus(hostId)` and toggles maintenance until the subscription reports (proves it
/// is registered on the server). Leaves the host UP.
async fn live_status(app: &TestApp, token: &str, id: &str) -> Result<GraphqlWs> {
    let mut ws = GraphqlWs::connect(app, token).await?;
    let sub = ws.subscribe(HOST_STATUS, json!({ "id": id })).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for on in [true, false] {
            let body = app
                .graphql(SET_MAINTENANCE, json!({ "id": id, "on": on }))
                .await?;
            data(&body)?;
        }
        match ws
            .wait_for("a hostStatus event", Duration::from_secs(1), |e| {
                e.id == sub
            })
            .await
        {
            Ok(_) => return Ok(ws),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => {}
        }
    }
}

fn is_status(e: &berth_tests::ws::WsEvent, status: &str, previous: &str) -> bool {
    e.data["hostStatus"]["status"] == status && e.data["hostStatus"]["previousStatus"] == previous
}

/// (a) SIGKILL → NON_RESPONSIVE, and dockerd answering again → UP.
async fn kill_to_non_responsive(env: &TestEnv, app: &TestApp, token: &str) -> Result<Vec<Row>> {
    let id = add_up(app, "h2", engine_input("h2", env.host("h2")?)).await?;
    let mut ws = live_status(app, token, &id).await?;
    let mut down = Vec::new();
    let mut back_up = Vec::new();
    for run in 1..=RUNS {
        let killed = Instant::now();
        env.kill_engine("h2").await?;
        let event = ws
            .wait_for("NON_RESPONSIVE", Duration::from_secs(30), |e| {
                is_status(e, "NON_RESPONSIVE", "UP")
            })
            .await?;
        let took = event.received.into_std().duration_since(killed);
        down.push(took);
        env.start_engine("h2").await?;
        let ready = Instant::now();
        let event = ws
            .wait_for("UP", Duration::from_secs(60), |e| {
                is_status(e, "UP", "NON_RESPONSIVE")
            })
            .await?;
        let up = event.received.into_std().saturating_duration_since(ready);
        back_up.push(up);
        eprintln!(
            "bench (a) run {run}: SIGKILL → NON_RESPONSIVE {}; engine ready → UP {}",
            fmt(took),
            fmt(up)
        );
    }
    ws.close().await;
    remove_all_hosts(app).await?;
    Ok(vec![
        Row {
            name: "(a) SIGKILL of dockerd (h2, tcp) → NON_RESPONSIVE event".into(),
            samples: down,
            goal: Some((Duration::from_secs(10), "≤ 10 s")),
        },
        Row {
            name: "(a) dockerd answering again → UP event (reconnect back-off)".into(),
            samples: back_up,
            goal: None,
        },
    ])
}

/// (a, timeout path) SIGSTOP → NON_RESPONSIVE: nothing closes; only the pings' timeouts find it.
async fn freeze_to_non_responsive(env: &TestEnv, app: &TestApp, token: &str) -> Result<Row> {
    let id = add_up(app, "h1", engine_input("h1", env.host("h1")?)).await?;
    let mut ws = live_status(app, token, &id).await?;
    let mut samples = Vec::new();
    let outcome = async {
        for run in 1..=RUNS {
            let frozen = Instant::now();
            env.freeze_engine("h1").await?;
            let event = ws
                .wait_for("NON_RESPONSIVE", Duration::from_secs(30), |e| {
                    is_status(e, "NON_RESPONSIVE", "UP")
                })
                .await?;
            let took = event.received.into_std().duration_since(frozen);
            samples.push(took);
            env.thaw_engine("h1").await?;
            ws.wait_for("UP", Duration::from_secs(60), |e| {
                is_status(e, "UP", "NON_RESPONSIVE")
            })
            .await?;
            eprintln!(
                "bench (a) run {run}: SIGSTOP → NON_RESPONSIVE {}",
                fmt(took)
            );
            // Start the next freeze at another point of the ping period.
            tokio::time::sleep(Duration::from_millis(300 * run as u64 % 3000)).await;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    env.thaw_engine("h1").await?;
    outcome?;
    ws.close().await;
    remove_all_hosts(app).await?;
    Ok(Row {
        name: "(a) SIGSTOP of dockerd (h1, unix; ping timeouts) → NON_RESPONSIVE event".into(),
        samples,
        goal: Some((Duration::from_secs(10), "≤ 10 s")),
    })
}

/// (b) `docker pull` by the CLI → listed by `host { images }`.
async fn cli_pull_to_cache(env: &TestEnv, app: &TestApp) -> Result<Vec<Row>> {
    let engine = env.host("h2")?;
    let id = add_up(app, "h2", engine_input("h2", engine)).await?;
    let context = env.scratch_dir("bench-image")?;
    let reference = push_unique_image(
        env.host("h1")?,
        &env.registry,
        &context,
        "bench/blob:1",
        4 * 1024 * 1024,
    )
    .await?;
    let mut from_event = Vec::new();
    let mut from_cli_start = Vec::new();
    for run in 1..=RUNS {
        // Start without the image (and its layer), in the engine and in Berth's cache.
        let _ = engine.docker(&["rmi", &reference]).await?;
        wait_for_image(
            app,
            &id,
            &reference,
            false,
            Duration::from_secs(10),
            Duration::from_millis(20),
        )
        .await?;
        let since = unix_now();
        let started = Instant::now();
        let watch = async {
            loop {
                if image_references(app, &id).await?.contains(&reference) {
                    return Ok::<_, anyhow::Error>((Instant::now(), SystemTime::now()));
                }
                if started.elapsed() > Duration::from_secs(60) {
                    bail!("{reference} not in Berth's cache 60 s after docker pull");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let pull_args = ["pull", "--quiet", reference.as_str()];
        let pull = engine.docker_ok(&pull_args);
        let (seen, pulled) = tokio::join!(watch, pull);
        let (seen_at, seen_wall) = seen?;
        pulled?;
        // The engine's own time of the pull: its `pull` event.
        let until = unix_now() + 1.0;
        let events = engine
            .docker_ok(&[
                "events",
                "--since",
                &format!("{since:.3}"),
                "--until",
                &format!("{until:.3}"),
                "--filter",
                "type=image",
                "--filter",
                "event=pull",
                "--format",
                "{{.TimeNano}}",
            ])
            .await?;
        let event_nanos: u128 = events
            .lines()
            .filter_map(|l| l.trim().parse::<u128>().ok())
            .next_back()
            .with_context(|| format!("no pull event from the engine: {events:?}"))?;
        let seen_nanos = seen_wall
            .duration_since(UNIX_EPOCH)
            .context("clock before 1970")?
            .as_nanos();
        let latency = Duration::from_nanos(u64::try_from(seen_nanos.saturating_sub(event_nanos))?);
        from_event.push(latency);
        let total = seen_at.duration_since(started);
        from_cli_start.push(total);
        eprintln!(
            "bench (b) run {run}: pull event → in cache {}; CLI start → in cache {}",
            fmt(latency),
            fmt(total)
        );
    }
    remove_all_hosts(app).await?;
    Ok(vec![
        Row {
            name: "(b) engine `pull` event → image in `host { images }` (20 ms polling)".into(),
            samples: from_event,
            goal: Some((Duration::from_secs(5), "≤ 5 s (test bound)")),
        },
        Row {
            name: "(b) `docker pull` (4 MiB, local registry) started → image in `host { images }`"
                .into(),
            samples: from_cli_start,
            goal: None,
        },
    ])
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// (c) `hosts` with 10 hosts, 3 of them TCP listeners that never answer.
async fn hosts_query_latency(env: &TestEnv, app: &TestApp) -> Result<Vec<Row>> {
    let [h1, h2, h3] = &env.hosts;
    let h2_unix = h2.unix_endpoint.clone().context("h2 has no unix socket")?;
    let inputs = [
        engine_input("h1", h1),
        engine_input("h2", h2),
        engine_input("h3", h3),
        engine_input("h1-again", h1),
        json!({ "name": "h2-unix", "endpoint": h2_unix }),
        engine_input("h2-again", h2),
        engine_input("h3-again", h3),
    ];
    for input in inputs {
        let name = input["name"].as_str().unwrap_or_default().to_string();
        add_up(app, &name, input).await?;
    }
    let silent = [
        SilentListener::start().await?,
        SilentListener::start().await?,
        SilentListener::start().await?,
    ];
    let query = || async {
        let asked = Instant::now();
        let body = app.graphql(HOSTS_QUERY, json!({})).await?;
        let took = asked.elapsed();
        let hosts = data(&body)?["hosts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok::<_, anyhow::Error>((took, hosts.len()))
    };
    // While the three are being added (each addHost waits for its engine's time-out).
    let adding = futures::future::try_join_all(silent.iter().enumerate().map(|(i, s)| {
        add_host(
            app,
            json!({ "name": format!("silent-{}", i + 1), "endpoint": s.endpoint }),
        )
    }));
    let measuring = async {
        let mut samples = Vec::new();
        tokio::time::sleep(Duration::from_millis(200)).await;
        for _ in 0..RUNS {
            let (took, _) = query().await?;
            samples.push(took);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok::<_, anyhow::Error>(samples)
    };
    let add_started = Instant::now();
    let (added, during) = tokio::join!(async { (adding.await, Instant::now()) }, async {
        (measuring.await, Instant::now())
    });
    let (added, added_at) = (added.0?, added.1);
    let (during, measured_at) = (during.0?, during.1);
    let add_took = added_at.duration_since(add_started);
    for host in &added {
        ensure!(
            host["status"] == "NON_RESPONSIVE",
            "a silent host is {}",
            host["status"]
        );
    }
    ensure!(
        measured_at < added_at,
        "the silent hosts were added ({}) before the queries ended ({})",
        fmt(add_took),
        fmt(measured_at.duration_since(add_started))
    );
    // Afterwards, while their monitors keep retrying them.
    let mut after = Vec::new();
    for _ in 0..RUNS {
        let (took, count) = query().await?;
        ensure!(count == 10, "hosts lists {count} hosts");
        after.push(took);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "bench (c): the three silent addHost calls took {}",
        fmt(add_took)
    );
    drop(silent);
    Ok(vec![
        Row {
            name: "(c) `hosts` query, 10 hosts, while the 3 silent ones are being added".into(),
            samples: during,
            goal: Some((Duration::from_secs(1), "< 1 s")),
        },
        Row {
            name: "(c) `hosts` query, 10 hosts of which 3 hang (steady state)".into(),
            samples: after,
            goal: Some((Duration::from_secs(1), "< 1 s")),
        },
    ])
}

async fn remove_all_hosts(app: &TestApp) -> Result<()> {
    let body = app.graphql("{ hosts { id } }", json!({})).await?;
    for host in data(&body)?["hosts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let body = app
            .graphql(
                "mutation D($id: ID!) { removeHost(id: $id) }",
                json!({ "id": host["id"] }),
            )
            .await?;
        data(&body)?;
    }
    Ok(())
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measurement | runs | median | max | goal | median / goal | max / goal |\n\
         |---|---:|---:|---:|---|---:|---:|\n",
    );
    for row in rows {
        let (goal, median_ratio, max_ratio) = match row.goal {
            Some((goal, text)) => (
                text.to_string(),
                ratio(row.median(), goal),
                ratio(row.max(), goal),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {goal} | {median_ratio} | {max_ratio} |\n",
            row.name,
            row.samples.len(),
            fmt(row.median()),
            fmt(row.max()),
        ));
    }
    out
}

const BEGIN: &str = "<!-- bench:hosts:begin -->";
const END: &str = "<!-- bench:hosts:end -->";

/// Replaces the hosts section of BENCHMARKS.md (creating the file if needed).
fn write_benchmarks_md(table: &str) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let ping = std::env::var("BERTH_HOST_PING_SECS").unwrap_or_else(|_| "3 (default)".into());
    let date = time::OffsetDateTime::now_utc().date();
    let section = format!(
        "{BEGIN}\n\
## Hosts\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench hosts`: release build, as root, \
against the real test environment — three dockerd engines, a local registry — and an in-process Berth). \
Measured {date} on a {cores}-core machine shared with other builds; `BERTH_HOST_PING_SECS` = {ping}; \
Berth's engine call timeout is 5 s. {RUNS} runs per row.\n\n\
{table}\n\
- (a) The kill is seen at once: the kernel closes dockerd's sockets and the monitor's `/events` stream \
ends. A hung engine (SIGSTOP: connections still accepted, nothing answers) is found by the ping: at most \
one ping period plus the 5 s call timeout. The ten freezes start at points spread over the ping period \
(each 0.3 s later than the one before), hence figures from about 5 to 8 s.\n\
- (b) Timed from the `pull` event's own timestamp (`docker events`) to the first `host {{ images }}` \
answer listing the image (polled every 20 ms); the monitor re-lists the engine's images on every image \
event.\n\
- (c) The query the Hosts tab sends (`hosts {{ id name endpoint status lastError lastSeenAt imageCount \
capabilities {{ … }} }}`) answers from Berth's database and never waits for an engine.\n\
{END}\n"
    );
    let body = section
        .trim_end()
        .trim_start_matches(BEGIN)
        .trim_end_matches(END)
        .trim();
    berth_tests::bench::write_section("hosts", body)
}
