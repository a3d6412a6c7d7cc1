//! Several servers on one PostgreSQL (`cargo xtask bench cluster`, i.e. `cargo bench -p berth-tests --bench
//! cluster`): three `berth` processes (release build) on a PostgreSQL server the harness starts, with the real
//! test engines.
//!
//! - Failover: the leader is SIGKILLed and a scale by one replica is sent at once through a surviving server
//!   (it waits in the command table for the next leader); time from the SIGKILL to the first engine action of
//!   the new leader (the engine's `create` event of the new replica, read with `docker events`; engines and
//!   benchmark share this machine's clock). Ten rounds, the killed server started again as a follower after
//!   each. Goal: within 10 s.
//! - Subscription latency through a follower: 100 subscribers to one container's `containerStatus`, 50 on the
//!   leader and 50 on a follower; the container restarted 20 times. For every status message, each follower
//!   subscriber's receive time minus the earliest leader subscriber's receive time of the same message. Goal:
//!   at most 50 ms later.
//! - `GET /metrics` with 10,000 definitions (one created through the API, 9,999 copied in SQL): 50 scrapes.
//!
//! Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process_with_env,
};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, median, percentile};
use berth_tests::cluster::{leads, the_leader};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll, signal};
use berth_tests::ws::GraphqlWs;
use berth_tests::{PostgresServer, TestEnv};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

const COMMAND: &str = "cargo xtask bench cluster";
const ROUNDS: usize = 10;
const SUBSCRIBERS: usize = 100;
const RESTARTS: usize = 20;
const DEFINITIONS: usize = 10_000;
const SCRAPES: usize = 50;
const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const METRICS_TOKEN: &str = "bench-cluster";
const FAILOVER_GOAL: Duration = Duration::from_secs(10);
const FOLLOWER_GOAL_MS: f64 = 50.0;

fn main() -> ExitCode {
    berth_tests::bench::run_main("cluster", measure_in_env("cluster", measure))
}

async fn measure(env: &TestEnv) -> Result<String> {
    let postgres = PostgresServer::start(env).await?;
    let mut servers: Vec<BerthProcess> = Vec::new();
    let outcome = measure_with(env, &postgres, &mut servers).await;
    for p in &mut servers {
        let _ = p.process.kill().await;
    }
    postgres.finish(outcome).await
}

async fn gql(p: &BerthProcess, token: &str, query: &str, variables: Value) -> Result<Value> {
    let body = p
        .app
        .graphql_with_token(token, query, variables.clone())
        .await?;
    Ok(data(&body)
        .with_context(|| format!("{query} with {variables}"))?
        .clone())
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The earliest `create` event of container `id` on any engine since `since`, as a wall-clock time.
async fn first_create(env: &TestEnv, id: &str, since: SystemTime) -> Result<Option<SystemTime>> {
    let filter = format!("label=berth.container={id}");
    let since_arg = format!("{:.3}", unix(since));
    let until_arg = format!("{:.3}", unix(SystemTime::now()));
    let mut first: Option<u128> = None;
    for engine in &env.hosts {
        let listed = engine
            .docker_ok(&[
                "events",
                "--since",
                &since_arg,
                "--until",
                &until_arg,
                "--filter",
                "type=container",
                "--filter",
                "event=create",
                "--filter",
                &filter,
                "--format",
                "{{.TimeNano}}",
            ])
            .await?;
        for nanos in listed.lines().filter_map(|l| l.trim().parse::<u128>().ok()) {
            first = Some(first.map_or(nanos, |f| f.min(nanos)));
        }
    }
    Ok(first.map(|n| {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
    }))
}

async fn wait_running(p: &BerthProcess, token: &str, id: &str, n: usize) -> Result<()> {
    poll(
        &format!("{n} replicas running"),
        Duration::from_secs(90),
        Duration::from_millis(100),
        || async {
            let c = gql(
                p,
                token,
                "query Q($id: ID!) { container(id: $id) { instances { status } } }",
                json!({ "id": id }),
            )
            .await?;
            let list = c["container"]["instances"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let running = list.iter().filter(|i| i["status"] == "RUNNING").count();
            Ok(if running == n && list.len() == n {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("{running} of {} running", list.len()))
            })
        },
    )
    .await
}

async fn measure_with(
    env: &TestEnv,
    postgres: &PostgresServer,
    servers: &mut Vec<BerthProcess>,
) -> Result<String> {
    let url = postgres.create_database("berth_bench_cluster").await?;
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("BERTH_SECRET_KEY", KEY),
        ("BERTH_METRICS_TOKEN", METRICS_TOKEN),
    ];
    let dirs = [env.new_app_dir()?, env.new_app_dir()?, env.new_app_dir()?];
    for dir in &dirs {
        servers.push(spawn_berth_process_with_env(dir, &vars).await?);
    }
    let leader = the_leader(servers, &[0, 1, 2], Duration::from_secs(15)).await?;
    servers[leader]
        .app
        .login_as(ADMIN_USERNAME, ADMIN_PASSWORD)
        .await?;
    let token = servers[leader].app.admin_token("bench-cluster").await?;
    for engine in &env.hosts {
        let host = add_host(&servers[leader].app, engine_input(&engine.name, engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
    }
    let image = env.registry.reference("tools/busybox:1.35");
    let command = json!([
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done"
    ]);
    let c = gql(
        &servers[leader],
        &token,
        "mutation C($i: ContainerInput!) { createContainer(input: $i) { id } }",
        json!({ "i": { "name": "bench-failover", "image": image, "command": command, "replicas": 1 } }),
    )
    .await?;
    let id = c["createContainer"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    gql(
        &servers[leader],
        &token,
        "mutation R($id: ID!) { runContainer(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await?;
    wait_running(&servers[leader], &token, &id, 1).await?;

    // Failover rounds.
    let mut failovers = Vec::new();
    let mut elections = Vec::new();
    let mut replicas = 1usize;
    for round in 0..ROUNDS {
        let leader = the_leader(servers, &[0, 1, 2], Duration::from_secs(20)).await?;
        let via = (leader + 1) % servers.len();
        let killed_at = SystemTime::now();
        let started = Instant::now();
        signal(servers[leader].process.pid(), Signal::SIGKILL);
        replicas += 1;
        let ask = {
            let app_url = servers[via].app.url("/graphql");
            let client = servers[via].app.client.clone();
            let token = token.clone();
            let id = id.clone();
            let n = replicas;
            tokio::spawn(async move {
                client
                    .post(app_url)
                    .bearer_auth(token)
                    .json(&json!({
                        "query": "mutation S($id: ID!, $n: Int!) { scaleContainer(id: $id, replicas: $n) { id } }",
                        "variables": { "id": id, "n": n }
                    }))
                    .timeout(Duration::from_secs(120))
                    .send()
                    .await?
                    .text()
                    .await
            })
        };
        let survivors: Vec<usize> = (0..servers.len()).filter(|i| *i != leader).collect();
        let mut elected = None;
        let acted = loop {
            if elected.is_none() {
                for &s in &survivors {
                    if leads(&servers[s]).await == Some(true) {
                        elected = Some(started.elapsed());
                    }
                }
            }
            if let Some(at) = first_create(env, &id, killed_at).await? {
                break at.duration_since(killed_at).unwrap_or_default();
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("round {round}: no engine action within 60 s of the SIGKILL");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let answer = ask.await.context("the scale request")??;
        ensure!(
            !answer.contains("\"errors\""),
            "round {round}: scale answered {answer}"
        );
        wait_running(&servers[via], &token, &id, replicas).await?;
        println!(
            "  round {round}: new leader after {}, first engine action after {}",
            elected.map_or("?".into(), fmt_duration),
            fmt_duration(acted)
        );
        failovers.push(acted);
        elections.extend(elected);
        let _ = servers[leader].process.kill().await;
        servers[leader] = spawn_berth_process_with_env(&dirs[leader], &vars).await?;
    }

    // Subscription latency, leader vs follower.
    let leader = the_leader(servers, &[0, 1, 2], Duration::from_secs(20)).await?;
    let follower = (leader + 1) % servers.len();
    gql(
        &servers[leader],
        &token,
        "mutation S($id: ID!, $n: Int!) { scaleContainer(id: $id, replicas: $n) { id } }",
        json!({ "id": id, "n": 1 }),
    )
    .await?;
    wait_running(&servers[leader], &token, &id, 1).await?;
    let query =
        "subscription S($id: ID) { containerStatus(containerId: $id) { status instance { id } } }";
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for n in 0..SUBSCRIBERS {
        let on_leader = n % 2 == 0;
        let server = if on_leader { leader } else { follower };
        let mut ws = GraphqlWs::connect(&servers[server].app, &token).await?;
        ws.subscribe(query, json!({ "id": id })).await?;
        let mut stop = stop_rx.clone();
        tasks.push((
            on_leader,
            tokio::spawn(async move {
                let mut got: Vec<(String, SystemTime)> = Vec::new();
                loop {
                    tokio::select! {
                        read = ws.next_raw() => {
                            let Ok((text, at)) = read else { break };
                            let v: Value = serde_json::from_str(&text).unwrap_or_default();
                            if v["type"] == "next" {
                                let s = &v["payload"]["data"]["containerStatus"];
                                got.push((format!("{} {}", s["instance"]["id"], s["status"]), at));
                            }
                        }
                        _ = stop.changed() => break,
                    }
                }
                ws.close().await;
                got
            }),
        ));
    }
    // Every subscription is registered on its server before the first change.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..RESTARTS {
        gql(
            &servers[leader],
            &token,
            "mutation R($id: ID!) { restartContainer(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await?;
        wait_running(&servers[leader], &token, &id, 1).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_tx.send(true);
    let mut leader_streams = Vec::new();
    let mut follower_streams = Vec::new();
    for (on_leader, task) in tasks {
        let got = task.await.context("a subscriber")?;
        if on_leader {
            leader_streams.push(got);
        } else {
            follower_streams.push(got);
        }
    }
    let messages = leader_streams.iter().map(Vec::len).max().unwrap_or(0);
    ensure!(
        messages > 0,
        "no status message reached the leader's subscribers"
    );
    let mut deltas_ms = Vec::new();
    let mut mismatched = 0usize;
    for k in 0..messages {
        let Some((what, _)) = leader_streams.iter().find_map(|s| s.get(k)) else {
            continue;
        };
        let earliest = leader_streams
            .iter()
            .filter_map(|s| s.get(k))
            .filter(|(w, _)| w == what)
            .map(|(_, at)| *at)
            .min();
        let Some(earliest) = earliest else { continue };
        for s in &follower_streams {
            match s.get(k) {
                Some((w, at)) if w == what => {
                    let d = match at.duration_since(earliest) {
                        Ok(d) => d.as_secs_f64() * 1000.0,
                        Err(e) => -(e.duration().as_secs_f64() * 1000.0),
                    };
                    deltas_ms.push(d);
                }
                _ => mismatched += 1,
            }
        }
    }
    deltas_ms.sort_by(f64::total_cmp);
    println!(
        "  {} status messages, {} follower deliveries compared, {mismatched} missing or out of step",
        messages,
        deltas_ms.len()
    );

    // /metrics with 10,000 definitions.
    let seed = gql(
        &servers[leader],
        &token,
        "mutation C($i: ContainerInput!) { createContainer(input: $i) { id } }",
        json!({ "i": { "name": "bulk-0", "image": image, "replicas": 1 } }),
    )
    .await?;
    let seed_id = seed["createContainer"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let copies = DEFINITIONS - 2;
    let sql = format!(
        "DO $$ DECLARE cols text; sel text; BEGIN \
           SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position), \
                  string_agg(CASE column_name WHEN 'id' THEN 'gen_random_uuid()::text' \
                                              WHEN 'name' THEN '''bulk-'' || g' \
                                              ELSE quote_ident(column_name) END, ',' ORDER BY ordinal_position) \
             INTO cols, sel FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'containers'; \
           EXECUTE format('INSERT INTO containers (%s) SELECT %s FROM containers, generate_series(1, {copies}) g \
                           WHERE id = %L', cols, sel, '{seed_id}'); \
         END $$;"
    );
    postgres.query("berth_bench_cluster", &sql).await?;
    let counted = postgres
        .query("berth_bench_cluster", "SELECT count(*) FROM containers")
        .await?;
    let definitions: usize = counted.trim().parse().unwrap_or(0);
    ensure!(
        definitions >= DEFINITIONS,
        "{definitions} definitions after seeding"
    );
    let mut scrapes = Vec::new();
    for _ in 0..SCRAPES {
        let started = Instant::now();
        let r = servers[leader]
            .app
            .client
            .get(servers[leader].app.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await?;
        ensure!(r.status().is_success(), "/metrics answered {}", r.status());
        let text = r.text().await?;
        scrapes.push(started.elapsed());
        ensure!(
            text.contains("berth_leader 1"),
            "the leader's /metrics: {text}"
        );
    }
    Ok(report(
        &failovers,
        &elections,
        &deltas_ms,
        mismatched,
        &scrapes,
        definitions,
    ))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(
    failovers: &[Duration],
    elections: &[Duration],
    deltas_ms: &[f64],
    mismatched: usize,
    scrapes: &[Duration],
    definitions: usize,
) -> String {
    let worst = failovers.iter().max().copied().unwrap_or_default();
    let (p50, p99, max) = (
        pct(deltas_ms, 50.0),
        pct(deltas_ms, 99.0),
        deltas_ms.last().copied().unwrap_or(0.0),
    );
    let mut out = String::new();
    out.push_str("## Several servers on one PostgreSQL\n\n");
    out.push_str(&format!(
        "`{COMMAND}` on {} cores: three release `berth` processes on one PostgreSQL (Debian's, started by the \
         harness) with the three test engines.\n\n",
        cores()
    ));
    out.push_str("| Measure | Result | Goal | Ratio to goal |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| Failover: leader SIGKILL → first engine action of the new leader ({} rounds) | median {}, max {} | ≤ {} | {:.2} (max) |\n",
        failovers.len(),
        fmt_duration(median(failovers)),
        fmt_duration(worst),
        fmt_duration(FAILOVER_GOAL),
        worst.as_secs_f64() / FAILOVER_GOAL.as_secs_f64()
    ));
    out.push_str(&format!(
        "| Leader SIGKILL → a survivor says it leads (`/healthz`) | median {}, max {} | | |\n",
        fmt_duration(median(elections)),
        fmt_duration(elections.iter().max().copied().unwrap_or_default())
    ));
    out.push_str(&format!(
        "| Status message on a follower's subscription after the leader's ({SUBSCRIBERS} subscribers, half on each; {RESTARTS} restarts; {} deliveries, {mismatched} missing or out of step) | p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms | ≤ {FOLLOWER_GOAL_MS:.0} ms later | {:.2} (p99) |\n",
        deltas_ms.len(),
        p99 / FOLLOWER_GOAL_MS
    ));
    out.push_str(&format!(
        "| `GET /metrics` with {definitions} definitions ({} scrapes) | p50 {}, p99 {} | | |\n",
        scrapes.len(),
        fmt_duration(median(scrapes)),
        fmt_duration(percentile(scrapes, 99.0))
    ));
    out.push_str(
        "\nThe failover time is the lease (5 s, `BERTH_LEASE_SECS`) running out after the leader's last renewal, a \
         follower's next attempt (every quarter of the lease), the new term's work starting and the forwarded \
         command reaching its reconciler. A follower's subscriber gets a status change one NOTIFY round trip \
         after the leader's own subscribers.\n",
    );
    out
}
