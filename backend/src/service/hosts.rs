//! Docker hosts: validation and storage of host settings, status transitions recorded by the host monitors,
//! the per-host image cache, and pulling/removing images.

use crate::bus::{Bus, Event, PullPhase};
use crate::db::hosts::{self as q, HostImageRow, HostRow};
use crate::docker::{Capabilities, DockerError, Engine, LocalImage, PullCredentials, TlsPems};
use crate::secrets::SecretBox;
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use berth_shared::{HostEndpoint, HostStatus, ImageRef, NameKind, validate_name};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

/// What a user submits to add or edit a host.
#[derive(Clone, Debug, Default)]
pub struct HostSettings {
    pub name: String,
    pub endpoint: String,
    pub docker_support: bool,
    /// `None` on update = keep; `Some("")` = clear.
    pub tls_ca_pem: Option<String>,
    pub tls_cert_pem: Option<String>,
    pub tls_key_pem: Option<String>,
}

/// A host as the rest of Berth sees it (no secrets).
#[derive(Clone, Debug)]
pub struct Host {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub docker_support: bool,
    pub maintenance: bool,
    pub tls: bool,
    pub status: HostStatus,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub capabilities: Option<Capabilities>,
    pub checked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct HostImage {
    pub reference: String,
    pub image_id: String,
    pub digest: Option<String>,
    pub size_bytes: i64,
    pub pulled_at: Option<DateTime<Utc>>,
}

/// Requests from the service to the host monitors (`engine::monitor`).
#[derive(Debug)]
pub enum MonitorCommand {
    /// (Re)start the monitor of this host with its current settings; reply once the first check is done.
    Start(String, Option<oneshot::Sender<()>>),
    /// Stop monitoring this host (removed).
    Stop(String),
    /// Re-check capabilities and the image cache now; reply when done.
    Refresh(String, oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct HostService {
    db: DatabaseConnection,
    secrets: SecretBox,
    bus: Bus,
    monitors: mpsc::UnboundedSender<MonitorCommand>,
    /// One lock per host serialising "list the engine's images, then store them" (monitor events, refreshes,
    /// pulls and removals run concurrently), so two writers never interleave their replace-all transactions
    /// and an older list never overwrites a newer one.
    image_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The monitors' live connections, reused by operations on a host instead of connecting each time.
    live: Arc<Mutex<HashMap<String, Engine>>>,
    /// Pull credentials of the configured registries ([`Self::with_registry_credentials`]).
    registry_credentials: Option<crate::service::registries::RegistryCredentials>,
}

/// Proof that its holder is the only writer of one host's image cache ([`HostService::lock_image_cache`]).
pub struct ImageCacheGuard {
    host_id: String,
    _guard: OwnedMutexGuard<()>,
}

/// How long add/update/refresh wait for the monitor's first check before answering with what is known.
const CHECK_WAIT: Duration = Duration::from_secs(12);
/// Pull progress is published at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

fn to_host(row: HostRow) -> Host {
    Host {
        status: row.status,
        capabilities: row
            .capabilities
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()),
        tls: row.tls_key_sealed.is_some(),
        id: row.id,
        name: row.name,
        endpoint: row.endpoint,
        docker_support: row.docker_support,
        maintenance: row.maintenance,
        last_seen_at: row.last_seen_at,
        last_error: row.last_error,
        checked_at: row.checked_at,
    }
}

fn to_image(row: HostImageRow) -> HostImage {
    HostImage {
        reference: row.reference,
        image_id: row.image_id,
        digest: row.digest,
        size_bytes: row.size_bytes,
        pulled_at: row.pulled_at,
    }
}

/// A cache entry's reference in Berth's normalised form (`nginx:1` → `docker.io/library/nginx:1`).
fn normalise(reference: &str) -> String {
    ImageRef::parse(reference)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| reference.to_owned())
}

pub(crate) fn engine_error(host: &str, e: DockerError) -> ServiceError {
    match e {
        DockerError::NotFound(m) => ServiceError::NotFound(m),
        DockerError::Conflict(m) => ServiceError::Conflict(m),
        other => ServiceError::Unavailable(format!("host {host}: {other}")),
    }
}

fn clean_pem(field: &str, pem: Option<String>) -> Result<Option<String>, ServiceError> {
    match pem.map(|p| p.trim().to_owned()) {
        None => Ok(None),
        Some(p) if p.is_empty() => Ok(Some(String::new())),
        Some(p) if p.contains("-----BEGIN ") && p.contains("-----END ") => Ok(Some(p)),
        Some(_) => Err(ServiceError::bad_input(
            field,
            "expected PEM text starting with -----BEGIN …-----",
        )),
    }
}

impl HostService {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        bus: Bus,
        monitors: mpsc::UnboundedSender<MonitorCommand>,
    ) -> Self {
        Self {
            db,
            secrets,
            bus,
            monitors,
            image_locks: Arc::default(),
            live: Arc::default(),
            registry_credentials: None,
        }
    }

    /// Pulls use the credentials of the registry whose domain matches the image reference's.
    pub fn with_registry_credentials(
        mut self,
        credentials: crate::service::registries::RegistryCredentials,
    ) -> Self {
        self.registry_credentials = Some(credentials);
        self
    }

    /// Waits until nobody else writes host `id`'s image cache. List the engine's images while holding the
    /// guard, then store them with [`Self::record_images`].
    pub async fn lock_image_cache(&self, id: &str) -> ImageCacheGuard {
        let lock = {
            let mut locks = self
                .image_locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(id.to_owned()).or_default().clone()
        };
        ImageCacheGuard {
            host_id: id.to_owned(),
            _guard: lock.lock_owned().await,
        }
    }

    pub async fn list(&self) -> Result<Vec<Host>, ServiceError> {
        Ok(q::all(&self.db).await?.into_iter().map(to_host).collect())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Host>, ServiceError> {
        Ok(q::by_id(&self.db, id).await?.map(to_host))
    }

    /// The hosts among `ids`, by id, read at once (a page of containers names the same few hosts many times).
    pub async fn get_many(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Host>, ServiceError> {
        Ok(q::by_ids(&self.db, ids)
            .await?
            .into_iter()
            .map(|row| (row.id.clone(), to_host(row)))
            .collect())
    }

    async fn require(&self, id: &str) -> Result<HostRow, ServiceError> {
        q::by_id(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no host with id {id}")))
    }

    pub async fn images(&self, host_id: &str) -> Result<Vec<HostImage>, ServiceError> {
        Ok(q::images(&self.db, host_id)
            .await?
            .into_iter()
            .map(to_image)
            .collect())
    }

    /// Validates settings into a row (TLS key sealed). `existing` supplies kept values on update.
    fn validated_row(
        &self,
        settings: HostSettings,
        existing: Option<&HostRow>,
    ) -> Result<HostRow, ServiceError> {
        let name = settings.name.trim().to_owned();
        validate_name(NameKind::Host, &name)
            .map_err(|e| ServiceError::bad_input("name", e.to_string()))?;
        let endpoint = HostEndpoint::parse(&settings.endpoint)
            .map_err(|e| ServiceError::bad_input("endpoint", e.to_string()))?;
        let keep = |given: Option<String>, old: Option<String>| match given {
            None => old,
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p),
        };
        let ca = keep(
            clean_pem("tlsCaPem", settings.tls_ca_pem)?,
            existing.and_then(|e| e.tls_ca_pem.clone()),
        );
        let cert = keep(
            clean_pem("tlsCertPem", settings.tls_cert_pem)?,
            existing.and_then(|e| e.tls_cert_pem.clone()),
        );
        let key = match clean_pem("tlsKeyPem", settings.tls_key_pem)? {
            None => existing.and_then(|e| e.tls_key_sealed.clone()),
            Some(k) if k.is_empty() => None,
            Some(k) => Some(
                self.secrets
                    .seal(&k)
                    .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!(e)))?,
            ),
        };
        let given = [ca.is_some(), cert.is_some(), key.is_some()];
        if given.iter().any(|g| *g) {
            if matches!(endpoint, HostEndpoint::Unix(_)) {
                return Err(ServiceError::bad_input(
                    "tlsCaPem",
                    "TLS applies to tcp:// endpoints only",
                ));
            }
            for (present, field, what) in [
                (given[0], "tlsCaPem", "CA certificate"),
                (given[1], "tlsCertPem", "client certificate"),
                (given[2], "tlsKeyPem", "client key"),
            ] {
                if !present {
                    return Err(ServiceError::bad_input(
                        field,
                        format!(
                            "TLS needs the CA certificate, client certificate and client key: the {what} is missing"
                        ),
                    ));
                }
            }
        }
        let now = Utc::now();
        Ok(HostRow {
            id: existing
                .map(|e| e.id.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            name,
            endpoint: endpoint.to_string(),
            docker_support: settings.docker_support,
            maintenance: existing.is_some_and(|e| e.maintenance),
            tls_ca_pem: ca,
            tls_cert_pem: cert,
            tls_key_sealed: key,
            status: existing.map_or(HostStatus::Unknown, |e| e.status),
            last_seen_at: existing.and_then(|e| e.last_seen_at),
            last_error: existing.and_then(|e| e.last_error.clone()),
            capabilities: existing.and_then(|e| e.capabilities.clone()),
            checked_at: existing.and_then(|e| e.checked_at),
            created_at: existing.map(|e| e.created_at).unwrap_or(now),
        })
    }

    async fn ensure_unique_name(
        &self,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), ServiceError> {
        match q::by_name(&self.db, name).await? {
            Some(other) if Some(other.id.as_str()) != except => Err(ServiceError::Conflict(
                format!("a host named {name} exists already"),
            )),
            _ => Ok(()),
        }
    }

    /// Starts (or restarts) the host's monitor and waits, bounded, for its first check.
    async fn start_monitor(&self, id: &str) {
        let (tx, rx) = oneshot::channel();
        if self
            .monitors
            .send(MonitorCommand::Start(id.to_owned(), Some(tx)))
            .is_ok()
        {
            let _ = tokio::time::timeout(CHECK_WAIT, rx).await;
        }
    }

    /// Saves a new host (even if its engine does not answer: it is then NON_RESPONSIVE with the reason).
    pub async fn add(&self, actor: &User, settings: HostSettings) -> Result<Host, ServiceError> {
        authz::require(actor, Action::ManageHosts)?;
        let row = self.validated_row(settings, None)?;
        self.ensure_unique_name(&row.name, None).await?;
        let row = q::insert(&self.db, row).await?;
        self.start_monitor(&row.id).await;
        self.require(&row.id).await.map(to_host)
    }

    pub async fn update(
        &self,
        actor: &User,
        id: &str,
        settings: HostSettings,
    ) -> Result<Host, ServiceError> {
        authz::require(actor, Action::ManageHosts)?;
        let existing = self.require(id).await?;
        let row = self.validated_row(settings, Some(&existing))?;
        self.ensure_unique_name(&row.name, Some(id)).await?;
        let name = row.name.clone();
        q::update_settings(&self.db, row).await?;
        if name != existing.name {
            crate::service::inventory::rename_host(&self.db, id, &name).await?;
        }
        self.start_monitor(id).await;
        self.require(id).await.map(to_host)
    }

    pub async fn remove(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageHosts)?;
        self.require(id).await?;
        let _ = self.monitors.send(MonitorCommand::Stop(id.to_owned()));
        self.set_live_engine(id, None);
        // Let a cache write in flight finish first; later ones find the host gone.
        let cache = self.lock_image_cache(id).await;
        q::delete(&self.db, id).await?;
        crate::service::inventory::forget_host(&self.db, &self.bus, id).await?;
        drop(cache);
        self.image_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
        Ok(())
    }

    pub async fn refresh(&self, actor: &User, id: &str) -> Result<Host, ServiceError> {
        authz::require(actor, Action::RefreshHosts)?;
        self.require(id).await?;
        let (tx, rx) = oneshot::channel();
        if self
            .monitors
            .send(MonitorCommand::Refresh(id.to_owned(), tx))
            .is_ok()
        {
            let _ = tokio::time::timeout(CHECK_WAIT, rx).await;
        }
        self.require(id).await.map(to_host)
    }

    pub async fn set_maintenance(
        &self,
        actor: &User,
        id: &str,
        on: bool,
    ) -> Result<Host, ServiceError> {
        authz::require(actor, Action::ManageHosts)?;
        let row = self.require(id).await?;
        q::set_maintenance(&self.db, id, on).await?;
        let current: HostStatus = row.status;
        let next = match (current, on) {
            (HostStatus::Up, true) => Some(HostStatus::Maintenance),
            (HostStatus::Maintenance, false) => Some(HostStatus::Up),
            _ => None,
        };
        if let Some(next) = next {
            let message = if on {
                "maintenance on"
            } else {
                "maintenance off"
            };
            self.record_status(id, next, None, Some(message)).await?;
        }
        self.require(id).await.map(to_host)
    }

    // ---- used by the host monitors -------------------------------------------------------------

    /// Connection settings of a host, with the TLS key opened. `None` when the host is gone.
    pub async fn connection(
        &self,
        id: &str,
    ) -> Result<Option<(HostRow, Option<TlsPems>)>, ServiceError> {
        let Some(row) = q::by_id(&self.db, id).await? else {
            return Ok(None);
        };
        let tls = match (&row.tls_ca_pem, &row.tls_cert_pem, &row.tls_key_sealed) {
            (Some(ca), Some(cert), Some(key)) => Some(TlsPems {
                ca: ca.clone(),
                cert: cert.clone(),
                key: self
                    .secrets
                    .open(key)
                    .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!(e)))?,
            }),
            _ => None,
        };
        Ok(Some((row, tls)))
    }

    /// Records (or, with `None`, forgets) the monitor's live connection to a host.
    pub fn set_live_engine(&self, id: &str, engine: Option<Engine>) {
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match engine {
            Some(e) => {
                live.insert(id.to_owned(), e);
            }
            None => {
                live.remove(id);
            }
        }
    }

    /// A connection to a host's engine: the monitor's live one, or a new one.
    pub async fn engine(&self, id: &str) -> Result<(HostRow, Engine), ServiceError> {
        let cached = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(engine) = cached {
            let row = self.require(id).await?;
            if row.docker_support {
                return Ok((row, engine));
            }
        }
        let (row, tls) = self
            .connection(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no host with id {id}")))?;
        if !row.docker_support {
            return Err(ServiceError::Unavailable(format!(
                "host {} has Docker support switched off",
                row.name
            )));
        }
        let endpoint = HostEndpoint::parse(&row.endpoint).map_err(|e| {
            ServiceError::Unexpected(anyhow::anyhow!("stored endpoint is invalid: {e}"))
        })?;
        let engine = Engine::connect(&endpoint, tls.as_ref())
            .await
            .map_err(|e| engine_error(&row.name, e))?;
        Ok((row, engine))
    }

    /// Records an observed status; publishes `hostStatus` when it changed.
    pub async fn record_status(
        &self,
        id: &str,
        status: HostStatus,
        error: Option<String>,
        message: Option<&str>,
    ) -> Result<(), ServiceError> {
        let Some(row) = q::by_id(&self.db, id).await? else {
            return Ok(());
        };
        let seen = matches!(status, HostStatus::Up | HostStatus::Maintenance).then(Utc::now);
        q::set_status(&self.db, id, status, error.clone(), seen).await?;
        if row.status != status {
            tracing::info!(host = %row.name, from = %row.status, to = %status, error = ?error, "host status");
            self.bus.publish(Event::HostStatus {
                host_id: id.to_owned(),
                status,
                previous: Some(row.status),
                at: Utc::now(),
                message: error.or(message.map(str::to_owned)),
            });
        }
        Ok(())
    }

    pub async fn record_capabilities(
        &self,
        id: &str,
        caps: &Capabilities,
    ) -> Result<(), ServiceError> {
        let json = serde_json::to_string(caps).map_err(|e| ServiceError::Unexpected(e.into()))?;
        q::set_capabilities(&self.db, id, json, Utc::now()).await?;
        Ok(())
    }

    /// Makes the stored cache of the guarded host equal to what the engine reports (a removed host's cache
    /// is left alone).
    pub async fn record_images(
        &self,
        cache: &ImageCacheGuard,
        images: Vec<LocalImage>,
    ) -> Result<(), ServiceError> {
        let id = cache.host_id.as_str();
        if q::by_id(&self.db, id).await?.is_none() {
            return Ok(());
        }
        let mut rows: Vec<HostImageRow> = images
            .into_iter()
            .map(|i| HostImageRow {
                host_id: id.to_owned(),
                reference: normalise(&i.reference),
                image_id: i.image_id,
                digest: i.digest,
                size_bytes: i.size_bytes,
                pulled_at: None,
            })
            .collect();
        rows.sort_by(|a, b| a.reference.cmp(&b.reference));
        rows.dedup_by(|a, b| a.reference == b.reference);
        q::replace_images(&self.db, id, rows).await?;
        self.bus.publish(Event::HostImages {
            host_id: id.to_owned(),
            at: Utc::now(),
        });
        Ok(())
    }

    // ---- images ----------------------------------------------------------------------------------

    /// Credentials for pulling `reference`: those of the configured registry whose host matches the
    /// reference's domain.
    async fn credentials_for(
        &self,
        reference: &ImageRef,
    ) -> Result<Option<PullCredentials>, ServiceError> {
        let Some(lookup) = &self.registry_credentials else {
            return Ok(None);
        };
        let domain = reference.domain();
        Ok(lookup
            .for_domain(domain)
            .await?
            .map(|(username, password)| PullCredentials {
                username,
                password,
                server: domain.to_owned(),
            }))
    }

    /// Pulls an image onto a host, publishing progress on `imagePull`, and returns its cache entry.
    pub async fn pull_image(
        &self,
        actor: &User,
        host_id: &str,
        reference: &str,
    ) -> Result<HostImage, ServiceError> {
        self.pull_image_until(actor, host_id, reference, std::future::pending())
            .await?
            .ok_or_else(|| ServiceError::Unexpected(anyhow::anyhow!("the pull was cancelled")))
    }

    /// Like [`Self::pull_image`], giving up when `cancel` completes first: `Ok(None)`, the engine's pull is
    /// abandoned (the engine stops a pull nobody waits for) and a FAILED pull event says it was cancelled.
    pub async fn pull_image_until(
        &self,
        actor: &User,
        host_id: &str,
        reference: &str,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<Option<HostImage>, ServiceError> {
        authz::require(actor, Action::PullImages)?;
        let image = ImageRef::parse(reference)
            .map_err(|e| ServiceError::bad_input("reference", e.to_string()))?;
        let full = image.to_string();
        let (row, engine) = self.engine(host_id).await?;
        let credentials = self.credentials_for(&image).await?;
        let publish =
            |phase: PullPhase, cur: Option<i64>, total: Option<i64>, message: Option<String>| {
                self.bus.publish(Event::ImagePull {
                    host_id: host_id.to_owned(),
                    reference: full.clone(),
                    phase,
                    current_bytes: cur,
                    total_bytes: total,
                    at: Utc::now(),
                    message,
                });
            };
        publish(PullPhase::Started, Some(0), None, None);
        let mut stream = Box::pin(engine.pull(&full, credentials));
        let mut last = Instant::now() - PROGRESS_EVERY;
        let mut latest = (0i64, 0i64);
        let mut cancel = std::pin::pin!(cancel);
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = &mut cancel => {
                    publish(
                        PullPhase::Failed,
                        Some(latest.0),
                        None,
                        Some("cancelled: the container was stopped".to_owned()),
                    );
                    return Ok(None);
                }
            };
            let Some(item) = item else { break };
            match item {
                Ok(p) => {
                    latest = (p.current_bytes, p.total_bytes);
                    if last.elapsed() >= PROGRESS_EVERY {
                        last = Instant::now();
                        publish(
                            PullPhase::Progress,
                            Some(p.current_bytes),
                            (p.total_bytes > 0).then_some(p.total_bytes),
                            Some(p.status),
                        );
                    }
                }
                Err(e) => {
                    // A reference the registry does not know (the engine answers 404, or reports it in the
                    // stream) is the user's input, not a missing Berth object.
                    let err = match e {
                        DockerError::NotFound(m) => ServiceError::bad_input("reference", m),
                        DockerError::Api { message, .. }
                            if message.contains("not found")
                                || message.contains("manifest unknown") =>
                        {
                            ServiceError::bad_input("reference", message)
                        }
                        other => engine_error(&row.name, other),
                    };
                    publish(
                        PullPhase::Failed,
                        Some(latest.0),
                        None,
                        Some(err.to_string()),
                    );
                    return Err(err);
                }
            }
        }
        let cache = self.lock_image_cache(host_id).await;
        let images = engine
            .images()
            .await
            .map_err(|e| engine_error(&row.name, e))?;
        self.record_images(&cache, images).await?;
        q::mark_pulled(&self.db, host_id, &full, Utc::now()).await?;
        drop(cache);
        let total = latest.1.max(latest.0);
        publish(PullPhase::Finished, Some(total), Some(total), None);
        let images = self.images(host_id).await?;
        if let Some(found) = images.iter().find(|i| i.reference == full) {
            return Ok(Some(found.clone()));
        }
        // Pulled by digest (a replica pinned to its revision): the engine lists it under a tag of the same
        // image, or under none at all.
        if let Some(digest) = image.digest() {
            let tagged = images
                .into_iter()
                .find(|i| i.digest.as_deref() == Some(digest));
            return Ok(Some(tagged.unwrap_or_else(|| HostImage {
                reference: full.clone(),
                image_id: String::new(),
                digest: Some(digest.to_owned()),
                size_bytes: 0,
                pulled_at: Some(Utc::now()),
            })));
        }
        Err(ServiceError::Unexpected(anyhow::anyhow!(
            "{full} was pulled but the engine does not list it"
        )))
    }

    /// Removes an image from a host's cache.
    pub async fn remove_image(
        &self,
        actor: &User,
        host_id: &str,
        reference: &str,
    ) -> Result<(), ServiceError> {
        authz::require(actor, Action::RemoveImages)?;
        let full = normalise(reference.trim());
        let (row, engine) = self.engine(host_id).await?;
        let cached = self.images(host_id).await?;
        let Some(entry) = cached.iter().find(|i| i.reference == full) else {
            return Err(ServiceError::NotFound(format!(
                "{full} is not in the image cache of {}",
                row.name
            )));
        };
        // Docker names Hub images by their short form; others by the full reference.
        let docker_name = ImageRef::parse(&entry.reference)
            .map(|r| {
                if r.is_docker_hub() {
                    r.familiar()
                } else {
                    r.to_string()
                }
            })
            .unwrap_or_else(|_| entry.reference.clone());
        match engine.remove_image(&docker_name).await {
            Ok(()) => {}
            Err(DockerError::Conflict(message)) => {
                // Docker names its own container ids; say which Berth containers hold the image.
                let users = self.containers_using(host_id, &full).await?;
                return Err(ServiceError::Conflict(if users.is_empty() {
                    message
                } else {
                    format!(
                        "{full} is used on {} by container {} (a stopped container keeps its Docker container \
                         for its logs): delete {} first",
                        row.name,
                        users.join(", "),
                        if users.len() == 1 { "it" } else { "them" }
                    )
                }));
            }
            Err(e) => return Err(engine_error(&row.name, e)),
        }
        let cache = self.lock_image_cache(host_id).await;
        let images = engine
            .images()
            .await
            .map_err(|e| engine_error(&row.name, e))?;
        self.record_images(&cache, images).await
    }

    /// The names (quoted) of the Berth containers of image `reference` with a Docker container on `host_id`.
    async fn containers_using(
        &self,
        host_id: &str,
        reference: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let on_host: std::collections::HashSet<String> =
            crate::db::containers::all_instances(&self.db)
                .await?
                .into_iter()
                .filter(|i| i.host_id.as_deref() == Some(host_id) && i.docker_id.is_some())
                .map(|i| i.container_id)
                .collect();
        Ok(crate::db::containers::all(&self.db)
            .await?
            .into_iter()
            .filter(|c| on_host.contains(&c.id) && normalise(&c.image) == reference)
            .map(|c| format!("“{}”", c.name))
            .collect())
    }
}
