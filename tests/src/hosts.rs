//! Helpers for Berth's Docker hosts: `HostInput`s for the harness engines, the GraphQL calls the tests
//! and the benchmark share, a TCP listener that never answers, and a test image with unique content.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::app::{TestApp, data};
use crate::engine::{DOCKER_CLI_TIMEOUT, EngineHandle};
use crate::process::{Probe, poll, run_ok};
use crate::registry::RegistryHandle;

/// The `Host` fields the tests read.
pub const HOST_FIELDS: &str = "id name endpoint dockerSupport maintenance tls status lastSeenAt \
     lastError imageCount capabilities { dockerVersion apiVersion operatingSystem kernelVersion \
     architecture cpus memoryBytes storageDriver checkedAt }";

/// `HostInput` for a harness engine under `name` (its main endpoint; TLS PEMs for h3).
pub fn engine_input(name: &str, engine: &EngineHandle) -> Value {
    let mut input = json!({ "name": name, "endpoint": engine.endpoint });
    if let Some(tls) = &engine.tls {
        input["tlsCaPem"] = json!(tls.ca_pem);
        input["tlsCertPem"] = json!(tls.cert_pem);
        input["tlsKeyPem"] = json!(tls.key_pem);
    }
    input
}

/// `addHost(input)`; returns the whole response body (data or errors).
pub async fn add_host_raw(app: &TestApp, input: Value) -> Result<Value> {
    app.graphql(
        &format!(
            "mutation Add($input: HostInput!) {{ addHost(input: $input) {{ {HOST_FIELDS} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}

/// `addHost(input)`; returns the host or fails with the GraphQL errors.
pub async fn add_host(app: &TestApp, input: Value) -> Result<Value> {
    let body = add_host_raw(app, input.clone()).await?;
    Ok(data(&body).with_context(|| format!("addHost({input})"))?["addHost"].clone())
}

/// `host(id)` with [`HOST_FIELDS`]; fails when the host does not exist.
pub async fn get_host(app: &TestApp, id: &str) -> Result<Value> {
    let body = app
        .graphql(
            &format!("query Host($id: ID!) {{ host(id: $id) {{ {HOST_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await?;
    let host = data(&body)?["host"].clone();
    if host.is_null() {
        bail!("host {id} does not exist");
    }
    Ok(host)
}

/// `hosts { id name status }`.
pub async fn list_hosts(app: &TestApp) -> Result<Vec<Value>> {
    let body = app
        .graphql("{ hosts { id name status lastError } }", json!({}))
        .await?;
    Ok(data(&body)?["hosts"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// The references in `host(id) { images }`.
pub async fn image_references(app: &TestApp, id: &str) -> Result<Vec<String>> {
    let body = app
        .graphql(
            "query Images($id: ID!) { host(id: $id) { images { reference } } }",
            json!({ "id": id }),
        )
        .await?;
    let images = data(&body)?["host"]["images"]
        .as_array()
        .ok_or_else(|| anyhow!("host {id} has no image list: {body}"))?
        .iter()
        .filter_map(|i| i["reference"].as_str().map(str::to_owned))
        .collect();
    Ok(images)
}

/// Polls `host(id)` every 100 ms until its status is `status`; returns the host.
pub async fn wait_for_status(
    app: &TestApp,
    id: &str,
    status: &str,
    timeout: Duration,
) -> Result<Value> {
    poll(
        &format!("host {id} to be {status}"),
        timeout,
        Duration::from_millis(100),
        || async {
            let host = get_host(app, id).await?;
            if host["status"] == status {
                Ok(Probe::Ready(host))
            } else {
                Ok(Probe::NotYet(format!(
                    "status {} (lastError {})",
                    host["status"], host["lastError"]
                )))
            }
        },
    )
    .await
}

/// Polls `host(id) { images }` every `every` until `reference` is listed (`present`) or gone.
pub async fn wait_for_image(
    app: &TestApp,
    id: &str,
    reference: &str,
    present: bool,
    timeout: Duration,
    every: Duration,
) -> Result<()> {
    let what = if present {
        format!("{reference} to appear in the image cache of host {id}")
    } else {
        format!("{reference} to leave the image cache of host {id}")
    };
    poll(&what, timeout, every, || async {
        let images = image_references(app, id).await?;
        if images.iter().any(|r| r == reference) == present {
            Ok(Probe::Ready(()))
        } else {
            Ok(Probe::NotYet(format!("cache: {images:?}")))
        }
    })
    .await
}

/// A TCP listener on loopback that accepts every connection and then never reads, writes or closes:
/// a host that "accepts TCP and never answers". Stops (closing the connections) when dropped.
pub struct SilentListener {
    /// `tcp://127.0.0.1:PORT`.
    pub endpoint: String,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SilentListener {
    pub async fn start() -> Result<SilentListener> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a silent listener")?;
        let endpoint = format!("tcp://{}", listener.local_addr()?);
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Ok(SilentListener {
            endpoint,
            accepted,
            task,
        })
    }

    /// How many connections it has accepted (and kept silent).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds on `builder` an image holding `size` bytes of incompressible content unique to this call,
/// pushes it to `registry` as `repo_and_tag` and removes it from `builder` again, so that pulling it
/// anywhere downloads real bytes. Returns the pushed reference.
pub async fn push_unique_image(
    builder: &EngineHandle,
    registry: &RegistryHandle,
    context_dir: &std::path::Path,
    repo_and_tag: &str,
    size: usize,
) -> Result<String> {
    std::fs::create_dir_all(context_dir)
        .with_context(|| format!("creating {}", context_dir.display()))?;
    // xorshift64* seeded from the clock and the folder: incompressible, different every call.
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut seed = (clock ^ (context_dir.as_os_str().len() as u64).rotate_left(17)) | 1;
    let mut blob = Vec::with_capacity(size + 8);
    while blob.len() < size {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        blob.extend_from_slice(&seed.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    blob.truncate(size);
    std::fs::write(context_dir.join("blob"), &blob).context("writing the blob")?;
    std::fs::write(
        context_dir.join("Dockerfile"),
        "FROM scratch\nCOPY blob /blob\nLABEL berth-test=unique\n",
    )
    .context("writing the Dockerfile")?;
    let reference = registry.reference(repo_and_tag);
    let context_arg = context_dir.to_string_lossy().into_owned();
    builder
        .docker_ok(&["build", "--quiet", "--tag", &reference, &context_arg])
        .await
        .with_context(|| format!("building {reference}"))?;
    run_ok(
        builder.docker_command().args(["push", &reference]),
        DOCKER_CLI_TIMEOUT,
    )
    .await
    .with_context(|| format!("pushing {reference}"))?;
    builder
        .docker_ok(&["rmi", &reference])
        .await
        .with_context(|| format!("removing {reference} from {}", builder.name))?;
    Ok(reference)
}
