//! The Docker Engine adapter: the only module that imports bollard. It connects to an engine (unix socket, TCP,
//! TCP with TLS), reads capabilities, streams events, lists, pulls and removes images, with a timeout on every
//! call so that a host that never answers cannot hold anything else up.

mod adopt;
mod containers;
mod exec;
mod inventory;
pub mod passthrough;
mod stats;
mod terminal;

pub use adopt::{
    ContainerConfig, FoundMount, FoundMountKind, FoundPort, Healthcheck, ImageDefaults,
    OtherSetting,
};
pub use containers::{ContainerSpec, ContainerState, LogEntry, LogWindow, RunState};
pub use exec::ExecOutcome;
pub use inventory::{ListedContainer, PublishedPort, status_words};
pub use stats::{CpuCounters, StatsReading, cpu_percent};
pub use terminal::{Terminal, TerminalControl, TerminalInput, TerminalOutput};

use berth_shared::HostEndpoint;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, EventsOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use hyper_util::client::legacy::connect::HttpConnector;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// Timeout of one API call (the bollard client timeout is the same, in seconds).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot connect to the Docker engine: {0}")]
    Unreachable(String),
    #[error("TLS problem: {0}")]
    Tls(String),
    #[error("the Docker engine did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the Docker engine answered {status}: {message}")]
    Api { status: u16, message: String },
    /// The leadership this engine was fenced with has ended (another server acts now).
    #[error("{0}")]
    Fenced(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn classify(e: bollard::errors::Error) -> DockerError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            404 => DockerError::NotFound(message),
            409 => DockerError::Conflict(message),
            _ => DockerError::Api {
                status: status_code,
                message,
            },
        },
        E::RequestTimeoutError => DockerError::Timeout(CALL_TIMEOUT),
        other => {
            let text = error_chain(&other);
            let lower = text.to_lowercase();
            if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
            {
                DockerError::Tls(text)
            } else {
                DockerError::Unreachable(text)
            }
        }
    }
}

/// The error with its causes, which carry the useful part (e.g. "UnknownIssuer").
/// Layers of the HTTP client that say nothing a person can act on.
const NOISE: [&str; 2] = ["Error in the hyper legacy client", "client error (Connect)"];

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let part = err.to_string();
        if !parts.iter().any(|p| p.contains(&part)) {
            parts.push(part);
        }
        current = err.source();
    }
    let useful: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !NOISE.iter().any(|n| p.trim() == *n))
        .collect();
    if useful.is_empty() {
        parts.join(": ")
    } else {
        useful.join(": ")
    }
}

/// Like [`timed`] with a longer limit, for calls whose client was given the same timeout.
async fn timed_for<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, DockerError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(classify),
        Err(_) => Err(DockerError::Timeout(limit)),
    }
}

async fn timed<T>(
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, DockerError> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => r.map_err(classify),
        Err(_) => Err(DockerError::Timeout(CALL_TIMEOUT)),
    }
}

/// TLS material of a host, PEM text.
#[derive(Clone, Debug, Default)]
pub struct TlsPems {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// What the engine reports about itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    pub docker_version: String,
    pub api_version: String,
    pub operating_system: String,
    pub kernel_version: String,
    pub architecture: String,
    pub cpus: i64,
    pub memory_bytes: i64,
    pub storage_driver: String,
}

/// One image in an engine's local cache, per reference (repo:tag); untagged images use their id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalImage {
    pub reference: String,
    pub image_id: String,
    pub digest: Option<String>,
    pub size_bytes: i64,
    pub created_at: Option<DateTime<Utc>>,
}

/// An engine event Berth cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineEvent {
    /// `container` or `image`.
    pub kind: String,
    pub action: String,
    pub id: String,
    pub attributes: HashMap<String, String>,
    /// Nanoseconds since the epoch.
    pub time_nanos: i64,
}

/// Progress of a pull.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullProgress {
    pub status: String,
    /// Sum of bytes downloaded over all layers seen so far, and their announced total.
    pub current_bytes: i64,
    pub total_bytes: i64,
}

/// Credentials for a pull (username and password for the registry that serves the image).
#[derive(Clone)]
pub struct PullCredentials {
    pub username: String,
    pub password: String,
    pub server: String,
}

/// A connection to one engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    /// Set on the engines the leader's work uses: its actions are refused once the leadership has ended.
    fence: Option<crate::cluster::Fence>,
}

impl Engine {
    /// Connects and negotiates the API version. Over TCP (plain or TLS) requests share kept-alive connections
    /// (see [`pooled`]); the TLS client certificate, key and CA are read from memory, never written to disk.
    pub async fn connect(
        endpoint: &HostEndpoint,
        tls: Option<&TlsPems>,
    ) -> Result<Engine, DockerError> {
        let secs = CALL_TIMEOUT.as_secs();
        let docker = match (endpoint, tls) {
            (HostEndpoint::Unix(path), _) => {
                Docker::connect_with_socket(path, secs, bollard::API_DEFAULT_VERSION)
                    .map_err(classify)?
            }
            (HostEndpoint::Tcp { .. }, None) => {
                let mut http = HttpConnector::new();
                http.set_nodelay(true);
                let addr = format!(
                    "http://{}",
                    endpoint.to_string().trim_start_matches("tcp://")
                );
                pooled(http, addr, secs).map_err(classify)?
            }
            (HostEndpoint::Tcp { .. }, Some(pems)) => {
                let addr = format!(
                    "https://{}",
                    endpoint.to_string().trim_start_matches("tcp://")
                );
                pooled(tls_connector(pems)?, addr, secs).map_err(classify)?
            }
        };
        let docker = match tokio::time::timeout(CALL_TIMEOUT, docker.negotiate_version()).await {
            Ok(r) => r.map_err(classify)?,
            Err(_) => return Err(DockerError::Timeout(CALL_TIMEOUT)),
        };
        let docker = docker.with_request_modifier(url_safe_registry_auth);
        Ok(Engine {
            docker,
            fence: None,
        })
    }

    /// This engine for the leader's work of one term: every action (create, start, stop, restart, kill, remove,
    /// pull) first checks that the term still holds its lease, and is refused with [`DockerError::Fenced`]
    /// otherwise. Reads are never refused.
    pub fn fenced(&self, fence: &crate::cluster::Fence) -> Engine {
        Engine {
            docker: self.docker.clone(),
            fence: Some(fence.clone()),
        }
    }

    /// Ok unless this engine is fenced and its term has ended.
    fn may_act(&self) -> Result<(), DockerError> {
        match &self.fence {
            Some(f) => f.check().map_err(DockerError::Fenced),
            None => Ok(()),
        }
    }

    pub async fn ping(&self) -> Result<(), DockerError> {
        timed(self.docker.ping()).await.map(|_| ())
    }

    pub async fn capabilities(&self) -> Result<Capabilities, DockerError> {
        let info = timed(self.docker.info()).await?;
        let version = timed(self.docker.version()).await?;
        Ok(Capabilities {
            docker_version: info.server_version.or(version.version).unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            operating_system: info.operating_system.unwrap_or_default(),
            kernel_version: info.kernel_version.unwrap_or_default(),
            architecture: info.architecture.unwrap_or_default(),
            cpus: info.ncpu.unwrap_or_default(),
            memory_bytes: info.mem_total.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
        })
    }

    /// Every tagged image (one entry per tag), and untagged ones under their id.
    pub async fn images(&self) -> Result<Vec<LocalImage>, DockerError> {
        let list = timed(
            self.docker
                .list_images(Some(ListImagesOptionsBuilder::new().all(false).build())),
        )
        .await?;
        let mut out = Vec::new();
        for image in list {
            // `repo@sha256:…` per repository the image came from or went to.
            let digests: Vec<(&str, &str)> = image
                .repo_digests
                .iter()
                .filter_map(|d| d.split_once('@'))
                .collect();
            // The digest of the tag's own repository (an image pulled as `a/x:1` and tagged `b/y:2` has a
            // digest only for `a/x`; `b/y` has none until it is pushed or pulled).
            let digest_of = |reference: &str| -> Option<String> {
                let repository = match reference.rsplit_once(':') {
                    Some((repo, tag)) if !tag.contains('/') => repo,
                    _ => reference,
                };
                digests
                    .iter()
                    .find(|(repo, _)| *repo == repository)
                    .map(|(_, d)| (*d).to_owned())
            };
            let created_at = DateTime::from_timestamp(image.created, 0);
            let tags: Vec<String> = image
                .repo_tags
                .iter()
                .filter(|t| t.as_str() != "<none>:<none>")
                .cloned()
                .collect();
            if tags.is_empty() {
                out.push(LocalImage {
                    reference: image.id.clone(),
                    image_id: image.id.clone(),
                    digest: digests.first().map(|(_, d)| (*d).to_owned()),
                    size_bytes: image.size,
                    created_at,
                });
                continue;
            }
            for reference in tags {
                out.push(LocalImage {
                    digest: digest_of(&reference),
                    reference,
                    image_id: image.id.clone(),
                    size_bytes: image.size,
                    created_at,
                });
            }
        }
        Ok(out)
    }

    /// Container and image events from `since` (seconds.nanos, inclusive) on, never ending by itself.
    pub fn events(
        &self,
        since: Option<i64>,
    ) -> impl Stream<Item = Result<EngineEvent, DockerError>> + use<> {
        let mut filters: HashMap<&str, Vec<&str>> = HashMap::new();
        filters.insert("type", vec!["container", "image"]);
        let mut options = EventsOptionsBuilder::new().filters(&filters);
        let since_text;
        if let Some(nanos) = since {
            since_text = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
            options = options.since(&since_text);
        }
        self.docker.events(Some(options.build())).map(|item| {
            let msg = item.map_err(classify)?;
            let actor = msg.actor.unwrap_or_default();
            Ok(EngineEvent {
                kind: msg.typ.map(|t| t.to_string()).unwrap_or_default(),
                action: msg.action.unwrap_or_default(),
                id: actor.id.unwrap_or_default(),
                attributes: actor.attributes.unwrap_or_default(),
                time_nanos: msg
                    .time_nano
                    .or(msg.time.map(|s| s * 1_000_000_000))
                    .unwrap_or_default(),
            })
        })
    }

    /// Pulls an image, yielding progress. The stream ends after the last message; an error item ends it.
    pub fn pull(
        &self,
        reference: &str,
        credentials: Option<PullCredentials>,
    ) -> impl Stream<Item = Result<PullProgress, DockerError>> + use<> {
        let options = CreateImageOptionsBuilder::new()
            .from_image(reference)
            .build();
        let creds = credentials.map(|c| DockerCredentials {
            username: Some(c.username),
            password: Some(c.password),
            serveraddress: Some(c.server),
            ..Default::default()
        });
        let mut layers: HashMap<String, (i64, i64)> = HashMap::new();
        let refused = self.may_act().err();
        let pulling = if refused.is_some() {
            None
        } else {
            Some(self.docker.create_image(Some(options), None, creds))
        };
        futures::stream::iter(refused.map(Err))
            .chain(
                futures::stream::iter(pulling)
                    .flatten()
                    .map(|r| r.map_err(classify)),
            )
            .map(move |item| {
                let info = match item {
                    Ok(info) => info,
                    Err(e) => return Err(e),
                };
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    return Err(DockerError::Api {
                        status: 500,
                        message: err,
                    });
                }
                if let (Some(id), Some(detail)) = (info.id.as_ref(), info.progress_detail.as_ref())
                {
                    let entry = layers.entry(id.clone()).or_default();
                    if let Some(total) = detail.total.filter(|t| *t > 0) {
                        entry.1 = total;
                    }
                    if let Some(current) = detail.current {
                        entry.0 = current.max(entry.0);
                    }
                    if info.status.as_deref() == Some("Pull complete")
                        || info.status.as_deref() == Some("Download complete")
                    {
                        entry.0 = entry.1;
                    }
                }
                Ok(PullProgress {
                    status: info.status.unwrap_or_default(),
                    current_bytes: layers.values().map(|l| l.0).sum(),
                    total_bytes: layers.values().map(|l| l.1).sum(),
                })
            })
    }

    /// The registry digest (`sha256:…`) the engine recorded for the local image `reference` in its own repository
    /// (the image's `RepoDigests`); `None` when it has none (built here, never pushed or pulled).
    pub async fn image_digest(&self, reference: &str) -> Result<Option<String>, DockerError> {
        let image = timed(self.docker.inspect_image(reference)).await?;
        Ok(repo_digest(
            reference,
            image.repo_digests.as_deref().unwrap_or_default(),
        ))
    }

    pub async fn remove_image(&self, reference: &str) -> Result<(), DockerError> {
        self.may_act()?;
        timed(self.docker.remove_image(
            reference,
            Some(RemoveImageOptionsBuilder::new().build()),
            None,
        ))
        .await
        .map(|_| ())
    }
}

/// The digest among `repo_digests` (`repository@sha256:…`, as the engine writes them: `nginx@…` for Docker Hub's
/// official images) that belongs to `reference`'s repository; the only one when the names cannot be matched.
fn repo_digest(reference: &str, repo_digests: &[String]) -> Option<String> {
    let familiar = |name: &str| {
        berth_shared::ImageRef::parse(name)
            .map(|r| r.familiar_name())
            .unwrap_or_else(|_| name.to_owned())
    };
    let wanted = familiar(reference);
    let pairs: Vec<(&str, &str)> = repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .collect();
    pairs
        .iter()
        .find(|(repo, _)| familiar(repo) == wanted)
        .or_else(|| (pairs.len() == 1).then(|| &pairs[0]))
        .map(|(_, digest)| (*digest).to_owned())
}

/// bollard encodes `X-Registry-Auth` with standard base64, but the daemon decodes it as URL-safe base64 and, when
/// that fails, pulls anonymously without saying so (REFERENCE.md). Credentials whose JSON encodes to `+` or `/`
/// would silently go out anonymous: re-encode the header URL-safe before every request.
fn url_safe_registry_auth(mut req: bollard::BollardRequest) -> bollard::BollardRequest {
    const HEADER: &str = "x-registry-auth";
    let fixed = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.contains('+') || v.contains('/'))
        .map(|v| v.replace('+', "-").replace('/', "_"))
        .and_then(|v| axum::http::HeaderValue::from_str(&v).ok());
    if let Some(value) = fixed {
        req.headers_mut().insert(HEADER, value);
    }
    req
}

/// How long an idle kept-alive connection to an engine stays open.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);

/// bollard's own TCP and TLS clients open a new connection for every request (`pool_max_idle_per_host(0)`): over
/// TLS each call then pays a full handshake with the client certificate, about 50 ms on a busy 2-core machine,
/// which was the slowest part of an event's way to a subscriber (a `start` is followed by an inspect). This
/// client keeps idle connections for reuse and sends without Nagle's delay.
fn pooled<C>(connector: C, addr: String, secs: u64) -> Result<Docker, bollard::errors::Error>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let client = std::sync::Arc::new(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(IDLE_CONNECTION)
            .build(connector),
    );
    Docker::connect_with_custom_transport(
        move |request: bollard::BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(request)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some(addr),
        secs,
        bollard::API_DEFAULT_VERSION,
    )
}

/// An HTTPS connector presenting the host's client certificate and trusting only its CA, both from memory.
fn tls_connector(
    pems: &TlsPems,
) -> Result<hyper_rustls::HttpsConnector<HttpConnector>, DockerError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| DockerError::Tls(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pems.ca.as_bytes()) {
        let ca = ca.map_err(|e| bad("the CA certificate is not PEM", &e))?;
        roots
            .add(ca)
            .map_err(|e| bad("the CA certificate cannot be used", &e))?;
    }
    if roots.is_empty() {
        return Err(DockerError::Tls(
            "the CA certificate PEM holds no certificate".into(),
        ));
    }
    let chain = CertificateDer::pem_slice_iter(pems.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("the client certificate is not PEM", &e))?;
    let key = PrivateKeyDer::from_pem_slice(pems.key.as_bytes())
        .map_err(|e| bad("the client key is not PEM", &e))?;
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad("the client certificate and key do not go together", &e))?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    Ok(hyper_rustls::HttpsConnector::from((http, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_the_references_own_repository() {
        let digests = vec![
            "nginx@sha256:aaa".to_owned(),
            "127.0.0.1:5000/web/nginx@sha256:bbb".to_owned(),
        ];
        assert_eq!(
            repo_digest("nginx:1.27", &digests).as_deref(),
            Some("sha256:aaa")
        );
        assert_eq!(
            repo_digest("docker.io/library/nginx:1.27", &digests).as_deref(),
            Some("sha256:aaa")
        );
        assert_eq!(
            repo_digest("127.0.0.1:5000/web/nginx:1.27", &digests).as_deref(),
            Some("sha256:bbb")
        );
        // Tagged under another name only: the one digest it has.
        assert_eq!(
            repo_digest("mine:dev", &digests[1..]).as_deref(),
            Some("sha256:bbb")
        );
        assert_eq!(repo_digest("mine:dev", &[]), None);
        assert_eq!(repo_digest("other:1", &digests), None);
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn error_chain_keeps_the_useful_causes() {
        let e = Layer(
            "Error in the hyper legacy client",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer(
                    "invalid peer certificate: UnknownIssuer",
                    None,
                ))),
            ))),
        );
        assert_eq!(error_chain(&e), "invalid peer certificate: UnknownIssuer");
        let plain = Layer("connection refused", None);
        assert_eq!(error_chain(&plain), "connection refused");
    }
}
