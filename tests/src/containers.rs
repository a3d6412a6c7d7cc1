//! Container helpers for the end-to-end tests: the fields they read, create/run/stop calls, and waiting for a
//! status on the `containerStatus` subscription or by polling.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::app::{TestApp, data};
use crate::process::{Probe, poll};
use crate::ws::GraphqlWs;

/// The `Container` fields the tests read.
pub const CONTAINER_FIELDS: &str = "id name image command entrypoint env { name value } \
     ports { containerPort hostPort hostIp protocol } resources { cpus memoryBytes cpuShares } \
     restartPolicy replicas desiredState status version changedSinceStart host { id name } \
     instances { id replica dockerId status exitCode error startedAt finishedAt definitionVersion attempts nextAttemptAt host { id name } } \
     mounts { containerPath readOnly disk { id name kind } }";

/// The subscription the tests listen on.
pub const STATUS_SUBSCRIPTION: &str = "subscription S($id: ID) { containerStatus(containerId: $id) { \
     status previousStatus message container { id name status } \
     instance { id status exitCode error dockerId host { id name } } } }";

/// `createContainer(input)`; the whole response body.
pub async fn create_container_raw(app: &TestApp, input: Value) -> Result<Value> {
    app.graphql(
        &format!(
            "mutation C($input: ContainerInput!) {{ createContainer(input: $input) {{ {CONTAINER_FIELDS} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}

/// `createContainer(input)`, failing on errors.
pub async fn create_container(app: &TestApp, input: Value) -> Result<Value> {
    let body = create_container_raw(app, input.clone()).await?;
    Ok(
        data(&body).with_context(|| format!("createContainer({input})"))?["createContainer"]
            .clone(),
    )
}

/// Calls a container mutation taking `id` (and optionally `hostId`); the whole response body.
pub async fn container_action_raw(
    app: &TestApp,
    mutation: &str,
    id: &str,
    host_id: Option<&str>,
) -> Result<Value> {
    let (params, args) = if mutation == "runContainer" {
        ("$id: ID!, $hostId: ID", "id: $id, hostId: $hostId")
    } else {
        ("$id: ID!", "id: $id")
    };
    app.graphql(
        &format!("mutation A({params}) {{ {mutation}({args}) {{ {CONTAINER_FIELDS} }} }}"),
        json!({ "id": id, "hostId": host_id }),
    )
    .await
}

/// Calls a container mutation, failing on errors; returns the container.
pub async fn container_action(
    app: &TestApp,
    mutation: &str,
    id: &str,
    host_id: Option<&str>,
) -> Result<Value> {
    let body = container_action_raw(app, mutation, id, host_id).await?;
    Ok(data(&body).with_context(|| format!("{mutation}({id})"))?[mutation].clone())
}

pub async fn get_container(app: &TestApp, id: &str) -> Result<Value> {
    let body = app
        .graphql(
            &format!("query Q($id: ID!) {{ container(id: $id) {{ {CONTAINER_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await?;
    let c = data(&body)?["container"].clone();
    if c.is_null() {
        bail!("container {id} does not exist");
    }
    Ok(c)
}

/// Opens a subscription to one container's status (all containers with `None`).
pub async fn subscribe_status(app: &TestApp, token: &str, id: Option<&str>) -> Result<GraphqlWs> {
    let mut ws = GraphqlWs::connect(app, token).await?;
    ws.subscribe(STATUS_SUBSCRIPTION, json!({ "id": id }))
        .await?;
    Ok(ws)
}

/// Waits on the subscription for an instance event with `status`; returns the event's `containerStatus`.
pub async fn wait_instance_status(
    ws: &mut GraphqlWs,
    status: &str,
    timeout: Duration,
) -> Result<Value> {
    let event = ws
        .wait_for(&format!("an instance turning {status}"), timeout, |e| {
            let s = &e.data["containerStatus"];
            !s["instance"].is_null() && s["status"] == status
        })
        .await?;
    Ok(event.data["containerStatus"].clone())
}

/// Polls `container(id)` until its summary status is `status`.
pub async fn wait_container_status(
    app: &TestApp,
    id: &str,
    status: &str,
    timeout: Duration,
) -> Result<Value> {
    poll(
        &format!("container {id} turning {status}"),
        timeout,
        Duration::from_millis(100),
        || async {
            let c = get_container(app, id).await?;
            if c["status"] == status {
                Ok(Probe::Ready(c))
            } else {
                Ok(Probe::NotYet(format!(
                    "status {} ({})",
                    c["status"], c["instances"]
                )))
            }
        },
    )
    .await
}

/// The first instance of a container.
pub fn first_instance(container: &Value) -> Result<&Value> {
    container["instances"]
        .get(0)
        .with_context(|| format!("container has no instance: {container}"))
}

/// Samples, every 100 ms until `stop`, how many Docker containers matching `filter` (a `docker ps --filter`
/// value, e.g. `label=berth.container=ID`) run on all `engines` together; returns the lowest and highest counts
/// and how many samples were taken.
pub async fn sample_running(
    engines: &[crate::engine::EngineHandle],
    filter: &str,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(usize, usize, usize)> {
    let args = ["ps", "-q", "--filter", filter, "--filter", "status=running"];
    let (mut low, mut high, mut samples) = (usize::MAX, 0, 0);
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        let next = tokio::time::Instant::now() + Duration::from_millis(100);
        let counts = futures::future::join_all(engines.iter().map(|e| e.docker_ok(&args))).await;
        let mut running = 0;
        for c in counts {
            running += c?.lines().filter(|l| !l.trim().is_empty()).count();
        }
        low = low.min(running);
        high = high.max(running);
        samples += 1;
        tokio::time::sleep_until(next).await;
    }
    Ok((low, high, samples))
}

/// Removes (forced) every Docker container Berth made for the definition named `name` (`NAME-REPLICA-…`) from
/// `engines`: tests that leave replicas running would otherwise crowd the shared engines' listings for the tests
/// after them.
pub async fn remove_replicas_named(engines: &[crate::engine::EngineHandle], name: &str) {
    let filter = format!("name=^/{name}-[0-9]+-");
    for e in engines {
        if let Ok(ids) = e.docker_ok(&["ps", "-aq", "--filter", &filter]).await {
            for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let _ = e.docker(&["rm", "-f", id]).await;
            }
        }
    }
}
