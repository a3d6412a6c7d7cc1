//! Desired state is a promise: a replica removed or stopped behind Berth's back is put back, and Berth
//! SIGKILLed at many points inside multi-replica run / scale / stop / delete sequences (at recorded steps and at
//! pseudo-random moments) converges after a restart: every container runs exactly its desired replicas in
//! Docker (counted by labels on the engines), no replica index twice, no leftover labelled container, and the
//! statuses in Berth match.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process};
use berth_tests::containers::{
    container_action, create_container, get_container, subscribe_status,
};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use serde_json::{Value, json};

use crate::containers::{berth_with_hosts, docker_containers_of};
use crate::replication::wait_running;

/// The bound: after a restart, everything matches within 30 s.
const CONVERGE: Duration = Duration::from_secs(30);
/// A replica removed or stopped behind Berth's back is back well within one sync period (30 s by default).
const PUT_BACK: Duration = Duration::from_secs(15);

/// A command that runs until stopped and stops at once on SIGTERM (within its one-second sleep).
fn looping() -> Value {
    json!([
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done"
    ])
}

fn busybox(env: &TestEnv) -> String {
    env.registry.reference("tools/busybox:1.35")
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The instance of `replica`, if any.
fn replica_of(c: &Value, replica: i64) -> Option<Value> {
    c["instances"]
        .as_array()?
        .iter()
        .find(|i| i["replica"] == replica)
        .cloned()
}

/// `docker rm -f` of a running replica is replaced, and `docker stop` of one whose definition is RUNNING
/// (restart policy ALWAYS, so Docker leaves a manually stopped container alone) is started again; both well
/// within one sync period, driven by the engine's events.
pub async fn outside_rm_and_stop_are_corrected(env: &TestEnv) -> Result<()> {
    let (app, _token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let c = create_container(
            &app,
            json!({ "name": "kept", "image": busybox(env), "command": looping(), "replicas": 2,
                    "hostId": h1, "restartPolicy": "ALWAYS" }),
        )
        .await?;
        let id = s(&c["id"]);
        container_action(&app, "runContainer", &id, None).await?;
        let running = wait_running(&app, &id, 2, CONVERGE).await?;

        // docker rm -f of replica 1.
        let victim = replica_of(&running, 1).context("replica 1")?;
        let old = s(&victim["dockerId"]);
        let removed_at = Instant::now();
        env.host("h1")?.docker_ok(&["rm", "-f", &old]).await?;
        let replaced = poll(
            "replica 1 replaced after docker rm -f",
            PUT_BACK,
            Duration::from_millis(50),
            || async {
                let c = get_container(&app, &id).await?;
                let i = replica_of(&c, 1).unwrap_or_default();
                let docker = docker_containers_of(env, &id, true).await?;
                let ones: Vec<_> = docker.iter().filter(|(_, r, _)| r == "1").collect();
                if i["status"] == "RUNNING"
                    && i["dockerId"] != old.as_str()
                    && ones.len() == 1
                    && ones[0].2
                {
                    Ok(Probe::Ready(i))
                } else {
                    Ok(Probe::NotYet(format!("{i} / docker {docker:?}")))
                }
            },
        )
        .await?;
        println!(
            "  docker rm -f → replacement RUNNING in {} ms",
            removed_at.elapsed().as_millis()
        );
        ensure!(
            replaced["id"] == victim["id"],
            "the same replica record: {replaced} vs {victim}"
        );

        // docker stop of replica 0: Docker does not restart a container stopped by hand; Berth does.
        let stopped = replica_of(&get_container(&app, &id).await?, 0).context("replica 0")?;
        let stopped_at = Instant::now();
        env.host("h1")?
            .docker_ok(&["stop", "-t", "5", &s(&stopped["dockerId"])])
            .await?;
        poll(
            "replica 0 started again after docker stop",
            PUT_BACK,
            Duration::from_millis(50),
            || async {
                let c = get_container(&app, &id).await?;
                let i = replica_of(&c, 0).unwrap_or_default();
                let docker = docker_containers_of(env, &id, true).await?;
                let zeros: Vec<_> = docker.iter().filter(|(_, r, _)| r == "0").collect();
                if i["status"] == "RUNNING" && zeros.len() == 1 && zeros[0].2 {
                    Ok(Probe::Ready(()))
                } else {
                    Ok(Probe::NotYet(format!("{i} / docker {docker:?}")))
                }
            },
        )
        .await?;
        println!(
            "  docker stop → RUNNING again in {} ms",
            stopped_at.elapsed().as_millis()
        );
        let docker = docker_containers_of(env, &id, true).await?;
        ensure!(
            docker.len() == 2 && docker.iter().all(|(_, _, running)| *running),
            "exactly one running Docker container per replica: {docker:?}"
        );
        container_action(&app, "killContainer", &id, None).await?;
        let body = app
            .graphql(
                "mutation D($id: ID!) { deleteContainer(id: $id) }",
                json!({ "id": id }),
            )
            .await?;
        data(&body)?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// When to kill Berth during a step.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// When the container's subscription shows an instance reaching this status for the first time.
    Status(&'static str),
    /// This long after the mutation was acknowledged (0 = at once).
    AfterAck(Duration),
    /// This long after the mutation was sent, acknowledged or not.
    AfterSend(Duration),
}

/// What a step does to one of the test's containers.
#[derive(Clone, Copy, Debug)]
enum Op {
    Run,
    Stop,
    Scale(i32),
    Delete,
}

/// A small deterministic generator for the "random moment" steps (printed, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

async fn login(p: &BerthProcess) -> Result<()> {
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(())
}

/// Sends `op` for container `id` and SIGKILLs Berth at `kill`; returns whether the mutation was acknowledged
/// before the kill.
async fn op_then_kill(
    p: &mut BerthProcess,
    token: &str,
    id: &str,
    op: Op,
    kill: KillAt,
) -> Result<bool> {
    let mut ws = subscribe_status(&p.app, token, Some(id)).await?;
    let (mutation, variables) = match op {
        Op::Run => (
            "mutation M($id: ID!) { runContainer(id: $id) { id } }",
            json!({ "id": id }),
        ),
        Op::Stop => (
            "mutation M($id: ID!) { stopContainer(id: $id) { id } }",
            json!({ "id": id }),
        ),
        Op::Delete => (
            "mutation M($id: ID!) { deleteContainer(id: $id) }",
            json!({ "id": id }),
        ),
        Op::Scale(n) => (
            "mutation M($id: ID!, $n: Int!) { scaleContainer(id: $id, replicas: $n) { id } }",
            json!({ "id": id, "n": n }),
        ),
    };
    let sent = tokio::time::Instant::now();
    let request = p.app.graphql(mutation, variables);
    tokio::pin!(request);
    let mut acked: Option<tokio::time::Instant> = None;
    let deadline = sent + CONVERGE;
    loop {
        let kill_by = match kill {
            KillAt::AfterAck(d) => acked.map(|a| a + d),
            KillAt::AfterSend(d) => Some(sent + d),
            KillAt::Status(_) => None,
        };
        if kill_by.is_some_and(|k| k <= tokio::time::Instant::now()) {
            break;
        }
        let wake = kill_by.unwrap_or(deadline).min(deadline);
        tokio::select! {
            answer = &mut request, if acked.is_none() => {
                let body = answer?;
                if let Some(errors) = body.get("errors") {
                    bail!("{op:?} of {id} refused: {errors}");
                }
                acked = Some(tokio::time::Instant::now());
            }
            event = ws.next_event_before(wake) => {
                if let (Ok(e), KillAt::Status(status)) = (event, kill) {
                    let s = &e.data["containerStatus"];
                    if !s["instance"].is_null() && s["status"] == status {
                        break;
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{op:?} of {id}: the kill point {kill:?} never came");
        }
    }
    berth_tests::process::signal(p.process.pid(), nix::sys::signal::Signal::SIGKILL);
    p.process.kill().await?;
    Ok(acked.is_some())
}

/// Polls until Docker and Berth agree with every definition; returns how long it took.
async fn assert_converged(
    app: &berth_tests::app::TestApp,
    env: &TestEnv,
    ids: &[String],
    deleted: &[String],
) -> Result<Duration> {
    let started = Instant::now();
    poll(
        "Docker and Berth match every definition",
        CONVERGE,
        Duration::from_millis(200),
        || async {
            let mut problems = Vec::new();
            for id in deleted {
                let docker = docker_containers_of(env, id, true).await?;
                if !docker.is_empty() {
                    problems.push(format!(
                        "deleted {id} still has Docker containers {docker:?}"
                    ));
                }
            }
            for id in ids {
                let c = get_container(app, id).await?;
                let n = c["replicas"].as_i64().unwrap_or(-1);
                let running_wanted = c["desiredState"] == "RUNNING";
                let docker = docker_containers_of(env, id, true).await?;
                let mut replicas: Vec<String> = docker.iter().map(|(_, r, _)| r.clone()).collect();
                replicas.sort();
                let total = replicas.len();
                replicas.dedup();
                let running = docker.iter().filter(|(_, _, r)| *r).count();
                let instances = c["instances"].as_array().cloned().unwrap_or_default();
                let name = s(&c["name"]);
                if replicas.len() != total {
                    problems.push(format!(
                        "{name}: a replica index twice in Docker {docker:?}"
                    ));
                }
                if docker
                    .iter()
                    .any(|(_, r, _)| r.parse::<i64>().map_or(true, |r| r >= n))
                {
                    problems.push(format!(
                        "{name}: a Docker container above the count {n}: {docker:?}"
                    ));
                }
                if running_wanted {
                    let ok = running as i64 == n
                        && total as i64 == n
                        && instances.len() as i64 == n
                        && instances.iter().all(|i| i["status"] == "RUNNING");
                    if !ok {
                        problems.push(format!(
                            "{name}: RUNNING × {n} wanted; Docker {docker:?}; Berth {}",
                            summary(&instances)
                        ));
                    }
                } else {
                    let ok = running == 0
                        && instances.len() as i64 <= n
                        && instances.iter().all(|i| i["status"] == "STOPPED");
                    if !ok {
                        problems.push(format!(
                            "{name}: STOPPED wanted; Docker {docker:?}; Berth {}",
                            summary(&instances)
                        ));
                    }
                }
            }
            if problems.is_empty() {
                Ok(Probe::Ready(()))
            } else {
                Ok(Probe::NotYet(problems.join("; ")))
            }
        },
    )
    .await?;
    Ok(started.elapsed())
}

fn summary(instances: &[Value]) -> String {
    instances
        .iter()
        .map(|i| format!("{}:{}", i["replica"], i["status"].as_str().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Berth SIGKILLed at recorded steps and at pseudo-random moments of run / scale / stop / delete on three
/// multi-replica containers, restarted each time: within 30 s everything matches.
pub async fn sigkill_inside_sequences_converges(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut p = spawn_berth_process(&data_dir).await?;
    let setup = async {
        login(&p).await?;
        for engine in &env.hosts {
            let host = add_host(&p.app, engine_input(&engine.name, engine)).await?;
            ensure!(host["status"] == "UP", "{host}");
        }
        let token = p.app.admin_token("convergence").await?;
        let mut ids = Vec::new();
        for (name, policy) in [("alpha", "NO"), ("beta", "ALWAYS"), ("gamma", "ON_FAILURE")] {
            let c = create_container(
                &p.app,
                json!({ "name": name, "image": busybox(env), "command": looping(), "replicas": 3,
                        "restartPolicy": policy }),
            )
            .await?;
            ids.push(s(&c["id"]));
        }
        Ok((token, ids))
    }
    .await;
    let (token, ids) = match setup {
        Ok(v) => v,
        Err(e) => {
            p.process.kill().await?;
            return Err(e);
        }
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    println!("  random moments from seed {seed}");
    let mut rng = Lcg(seed);
    let ms = Duration::from_millis;
    let (a, b, c) = (0usize, 1usize, 2usize);
    // Recorded steps first (each kill point once), then pseudo-random moments.
    let mut steps: Vec<(usize, Op, KillAt)> = vec![
        (a, Op::Run, KillAt::Status("PENDING")),
        (b, Op::Run, KillAt::Status("CREATING")),
        (c, Op::Run, KillAt::Status("RUNNING")),
        (a, Op::Stop, KillAt::Status("STOPPED")),
        (b, Op::Scale(1), KillAt::AfterAck(ms(0))),
        (c, Op::Scale(5), KillAt::Status("PENDING")),
        (a, Op::Run, KillAt::AfterAck(ms(0))),
        (c, Op::Scale(2), KillAt::AfterSend(ms(300))),
        (b, Op::Stop, KillAt::AfterAck(ms(0))),
        (a, Op::Scale(4), KillAt::Status("RUNNING")),
    ];
    for _ in 0..6 {
        let which = rng.next(3) as usize;
        let op = match rng.next(4) {
            0 => Op::Run,
            1 => Op::Stop,
            _ => Op::Scale(1 + rng.next(4) as i32),
        };
        steps.push((which, op, KillAt::AfterSend(ms(rng.next(900)))));
    }
    // Last: delete a stopped container, killed at a random moment (acknowledged or not, it must end clean).
    steps.push((b, Op::Stop, KillAt::AfterAck(ms(2_000))));
    steps.push((b, Op::Delete, KillAt::AfterSend(ms(rng.next(200)))));

    let mut deleted: Vec<String> = Vec::new();
    let mut times = Vec::new();
    let outcome = async {
        for (n, (which, op, kill)) in steps.iter().copied().enumerate() {
            let id = ids[which].clone();
            let acked = op_then_kill(&mut p, &token, &id, op, kill).await;
            let acked = match acked {
                Ok(a) => a,
                Err(e) => bail!("step {n} ({op:?} on {which}, kill {kill:?}): {e:#}"),
            };
            p = spawn_berth_process(&data_dir).await?;
            login(&p).await?;
            if matches!(op, Op::Delete) {
                let body = p
                    .app
                    .graphql("query Q($id: ID!) { container(id: $id) { id } }", json!({ "id": id }))
                    .await?;
                if data(&body)?["container"].is_null() {
                    deleted.push(id.clone());
                } else {
                    ensure!(!acked, "an acknowledged delete was lost: {body}");
                }
            }
            let live: Vec<String> = ids.iter().filter(|i| !deleted.contains(i)).cloned().collect();
            let took = assert_converged(&p.app, env, &live, &deleted)
                .await
                .with_context(|| format!("after step {n}: {op:?} on {which}, killed at {kill:?} (acknowledged: {acked})"))?;
            println!("  step {n:>2} {op:?} killed at {kill:?} (acknowledged {acked}): converged in {} ms", took.as_millis());
            times.push(took);
        }
        // Clean up what is left.
        for id in ids.iter().filter(|i| !deleted.contains(i)) {
            container_action(&p.app, "killContainer", id, None).await?;
            let body = p
                .app
                .graphql("mutation D($id: ID!) { deleteContainer(id: $id) }", json!({ "id": id }))
                .await?;
            data(&body)?;
        }
        Ok(())
    }
    .await;
    p.process.kill().await?;
    if outcome.is_ok() {
        times.sort();
        println!(
            "  {} restarts: convergence median {} ms, max {} ms",
            times.len(),
            times[times.len() / 2].as_millis(),
            times.last().map_or(0, |t| t.as_millis())
        );
    }
    outcome
}
