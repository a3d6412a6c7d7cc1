//! Registries: validation and storage of registry settings (password sealed, never returned), refreshes of
//! their repositories and tags (on demand, at add/update and periodically; one at a time per registry;
//! incremental; progress on the bus), the stored list for browsing, and pull credentials by domain.

use crate::bus::{Bus, Event, RefreshPhase};
use crate::db::registries::{self as q, RegistryRow, RegistryTagRow};
use crate::registry::Url;
use crate::registry::{self, RegistryClient, RegistryError};
use crate::secrets::SecretBox;
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use berth_shared::{NameKind, validate_name, validate_registry_url_text};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use sea_orm::DatabaseConnection;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use berth_shared::{RegistryKind, RegistryStatus};

/// What a user submits to add or edit a registry.
#[derive(Clone, Debug, Default)]
pub struct RegistrySettings {
    pub name: String,
    pub url: String,
    pub kind: RegistryKind,
    pub namespace: Option<String>,
    pub username: Option<String>,
    /// `None` on update = keep; `Some("")` = clear.
    pub password: Option<String>,
    pub insecure: bool,
    pub refresh_interval_seconds: i32,
}

/// A registry as the rest of Berth sees it (no password).
#[derive(Clone, Debug)]
pub struct Registry {
    pub id: String,
    pub name: String,
    pub url: String,
    pub kind: RegistryKind,
    pub namespace: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    pub insecure: bool,
    pub refresh_interval_seconds: i32,
    pub status: RegistryStatus,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Whether a push-hook secret is set.
    pub has_hook: bool,
}

#[derive(Clone, Debug)]
pub struct ImageTag {
    pub name: String,
    /// Full pullable reference, e.g. `127.0.0.1:5000/tools/busybox:1.35`.
    pub reference: String,
    pub digest: Option<String>,
    pub size_bytes: Option<i64>,
    pub architectures: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct Repository {
    pub name: String,
    pub tags: Vec<ImageTag>,
}

/// One page of a registry's repositories.
#[derive(Clone, Debug)]
pub struct RepositoryPage {
    /// Offset of the first repository of the page in the (filtered) list.
    pub offset: usize,
    pub repositories: Vec<Repository>,
    pub total: usize,
    pub has_next: bool,
}

/// How refreshes run (env `BERTH_REGISTRY_CONCURRENCY`, `BERTH_REGISTRY_PAGE_SIZE`,
/// `BERTH_REGISTRY_REQUEST_TIMEOUT_SECS`, `BERTH_REGISTRY_LISTING_SECS`, `BERTH_REGISTRY_REFRESH_DEADLINE_SECS`).
#[derive(Clone, Copy, Debug)]
pub struct RefreshSettings {
    pub concurrency: usize,
    pub page_size: usize,
    pub request_timeout: Duration,
    /// How long one paged listing (the catalog, one repository's tags) may take.
    pub listing_budget: Duration,
    pub deadline: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            page_size: 100,
            request_timeout: Duration::from_secs(10),
            listing_budget: Duration::from_secs(120),
            deadline: Duration::from_secs(600),
        }
    }
}

impl From<&crate::config::Settings> for RefreshSettings {
    fn from(s: &crate::config::Settings) -> Self {
        Self {
            concurrency: s.registry_concurrency,
            page_size: s.registry_page_size,
            request_timeout: s.registry_request_timeout,
            listing_budget: s.registry_listing_budget,
            deadline: s.registry_refresh_deadline,
        }
    }
}

/// Pull credentials of the configured registries, by domain. Shared with the host service (which pulls) without
/// it depending on the whole registry service.
#[derive(Clone)]
pub struct RegistryCredentials {
    db: DatabaseConnection,
    secrets: SecretBox,
}

/// `host[:port]` of a registry as it appears in image references (`docker.io` for Docker Hub).
fn domain_of(kind: RegistryKind, url: &str) -> Option<String> {
    if kind == RegistryKind::DockerHub {
        return Some("docker.io".to_owned());
    }
    let url = Url::parse(url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

impl RegistryCredentials {
    pub fn new(db: DatabaseConnection, secrets: SecretBox) -> Self {
        Self { db, secrets }
    }

    /// `(username, password)` of the first registry (by name) whose domain is `domain` and that has a
    /// username, e.g. `127.0.0.1:5000` or `docker.io`.
    pub async fn for_domain(&self, domain: &str) -> Result<Option<(String, String)>, ServiceError> {
        let domain = domain.to_ascii_lowercase();
        for row in q::all(&self.db).await? {
            let kind = row.kind;
            if domain_of(kind, &row.url).as_deref() != Some(domain.as_str()) {
                continue;
            }
            let Some(username) = row.username.filter(|u| !u.is_empty()) else {
                continue;
            };
            let password = match &row.password_sealed {
                Some(sealed) => self
                    .secrets
                    .open(sealed)
                    .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!(e)))?,
                None => String::new(),
            };
            return Ok(Some((username, password)));
        }
        Ok(None)
    }
}

#[derive(Clone)]
pub struct RegistryService {
    db: DatabaseConnection,
    secrets: SecretBox,
    bus: Bus,
    settings: RefreshSettings,
    /// Registries with a refresh running (never two at once for one registry), each with whether another
    /// refresh was asked for meanwhile (it runs when the current one ends, with the settings then stored).
    running: Running,
    /// One client per registry with the settings it was made for.
    clients: Arc<Mutex<HashMap<String, (ClientFingerprint, RegistryClient)>>>,
    /// Tags of registries Berth does not list, read by manifest HEAD in the background.
    unlisted: Arc<Mutex<Unlisted>>,
}

/// What the background checks of images on registries Berth does not list know: each image's digest as last
/// read, and one anonymous client per registry domain.
#[derive(Default)]
struct Unlisted {
    digests: HashMap<String, String>,
    clients: HashMap<String, RegistryClient>,
}

/// The pause between two manifest HEADs of the background check (Docker Hub counts requests per address).
const UNLISTED_PAUSE: Duration = Duration::from_millis(200);

/// Where an unlisted registry answers: Docker Hub's registry for `docker.io`; plain HTTP for a loopback
/// address (as the Docker engine allows by default); HTTPS otherwise.
fn unlisted_url(domain: &str) -> String {
    if domain == "docker.io" {
        return "https://registry-1.docker.io".to_owned();
    }
    let host = domain
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(domain, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        format!("http://{domain}")
    } else {
        format!("https://{domain}")
    }
}

/// The stored settings a registry client depends on.
type ClientFingerprint = (
    String,
    RegistryKind,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);

type Running = Arc<Mutex<HashMap<String, bool>>>;

/// Removes its registry from the running set when the refresh task ends, however it ends.
struct RunningGuard {
    id: String,
    running: Running,
    /// Left the running set already ([`Self::again`]).
    left: bool,
}

impl RunningGuard {
    /// Whether another refresh was asked for while this one ran (clears the request); when not, the registry
    /// leaves the running set at once, so a later request starts a new task.
    fn again(&mut self) -> bool {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match running.get_mut(&self.id) {
            Some(again) if *again => {
                *again = false;
                true
            }
            _ => {
                running.remove(&self.id);
                self.left = true;
                false
            }
        }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if self.left {
            return;
        }
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// What a refresh found, as changes to the stored list.
#[derive(Default)]
struct Scanned {
    /// Repositories listed.
    total: usize,
    /// Tags listed.
    tags: usize,
    /// New tags and tags whose details changed.
    upserts: Vec<RegistryTagRow>,
    /// (repository, tag) pairs stored but no longer listed.
    removed: Vec<(String, String)>,
}

fn to_registry(row: RegistryRow) -> Registry {
    Registry {
        kind: row.kind,
        status: row.status,
        has_password: row.password_sealed.is_some(),
        has_hook: row.hook_secret_hash.is_some(),
        id: row.id,
        name: row.name,
        url: row.url,
        namespace: row.namespace,
        username: row.username,
        insecure: row.insecure,
        refresh_interval_seconds: row.refresh_interval_seconds,
        last_refreshed_at: row.last_refreshed_at,
        last_error: row.last_error,
        created_at: row.created_at,
    }
}

/// Why a push hook was refused.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// No such registry, no hook secret set, or another secret.
    #[error("the hook secret is not right for this registry")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// SHA-256 (hex) of a hook secret, as stored.
fn hook_hash(secret: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// One repository's listing against its stored tags: the (repository, tag) pairs gone and the rows new or changed.
fn diff_repository(
    registry_id: &str,
    repository: &str,
    tags: Vec<registry::ScannedTag>,
    known_tags: &HashMap<String, RegistryTagRow>,
) -> (Vec<(String, String)>, Vec<RegistryTagRow>) {
    let listed: HashSet<&str> = tags.iter().map(|(tag, _)| tag.as_str()).collect();
    let removed = known_tags
        .keys()
        .filter(|tag| !listed.contains(tag.as_str()))
        .map(|tag| (repository.to_owned(), tag.clone()))
        .collect();
    let mut upserts = Vec::new();
    for (tag, details) in tags {
        // `None`: the digest is the stored one, and so is the row.
        let Some(d) = details else { continue };
        let new = RegistryTagRow {
            registry_id: registry_id.to_owned(),
            repository: repository.to_owned(),
            tag: tag.clone(),
            digest: d.digest,
            size_bytes: d.size_bytes,
            architectures: serde_json::to_string(&d.architectures).unwrap_or_else(|_| "[]".into()),
            created_at: d.created_at,
        };
        if known_tags.get(&tag) != Some(&new) {
            upserts.push(new);
        }
    }
    (removed, upserts)
}

/// The prefix of a registry's pullable references: `127.0.0.1:5000/`, `docker.io/NAMESPACE/`.
fn reference_prefix(row: &RegistryRow) -> String {
    let kind = row.kind;
    let domain = domain_of(kind, &row.url).unwrap_or_default();
    match (kind, &row.namespace) {
        (RegistryKind::DockerHub, Some(ns)) => format!("{domain}/{ns}/"),
        _ => format!("{domain}/"),
    }
}

fn to_tag(prefix: &str, row: RegistryTagRow) -> ImageTag {
    ImageTag {
        reference: format!("{prefix}{}:{}", row.repository, row.tag),
        architectures: serde_json::from_str(&row.architectures).unwrap_or_default(),
        name: row.tag,
        digest: row.digest,
        size_bytes: row.size_bytes,
        created_at: row.created_at,
    }
}

fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl RegistryService {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        bus: Bus,
        settings: RefreshSettings,
    ) -> Self {
        Self {
            db,
            secrets,
            bus,
            settings,
            running: Arc::default(),
            clients: Arc::default(),
            unlisted: Arc::default(),
        }
    }

    /// The credentials lookup the host service uses for pulls.
    pub fn credentials(&self) -> RegistryCredentials {
        RegistryCredentials::new(self.db.clone(), self.secrets.clone())
    }

    pub async fn list(&self) -> Result<Vec<Registry>, ServiceError> {
        Ok(q::all(&self.db)
            .await?
            .into_iter()
            .map(to_registry)
            .collect())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Registry>, ServiceError> {
        Ok(q::by_id(&self.db, id).await?.map(to_registry))
    }

    async fn require(&self, id: &str) -> Result<RegistryRow, ServiceError> {
        q::by_id(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no registry with id {id}")))
    }

    /// Validates settings into a row (password sealed). `existing` supplies kept values on update.
    fn validated_row(
        &self,
        settings: RegistrySettings,
        existing: Option<&RegistryRow>,
    ) -> Result<RegistryRow, ServiceError> {
        let name = settings.name.trim().to_owned();
        validate_name(NameKind::Registry, &name)
            .map_err(|e| ServiceError::bad_input("name", e.to_string()))?;
        validate_registry_url_text(&settings.url)
            .map_err(|e| ServiceError::bad_input("url", e.to_string()))?;
        let raw_url = settings.url.trim();
        let url = Url::parse(raw_url).map_err(|e| {
            ServiceError::bad_input(
                "url",
                format!("{raw_url:?} is not a URL ({e}); e.g. https://registry.example.com"),
            )
        })?;
        match url.scheme() {
            "https" => {}
            "http" if settings.insecure => {}
            "http" => {
                return Err(ServiceError::bad_input(
                    "insecure",
                    "plain http is allowed only for a registry marked insecure",
                ));
            }
            other => {
                return Err(ServiceError::bad_input(
                    "url",
                    format!("the URL must start with https:// or http://, not {other}://"),
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ServiceError::bad_input("url", "the URL has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ServiceError::bad_input(
                "url",
                "put credentials in the username and password fields, not in the URL",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ServiceError::bad_input(
                "url",
                "the URL must not have a query or fragment",
            ));
        }
        let url = url.as_str().trim_end_matches('/').to_owned();
        let namespace = trimmed(settings.namespace);
        if settings.kind == RegistryKind::DockerHub {
            match &namespace {
                None => {
                    return Err(ServiceError::bad_input(
                        "namespace",
                        "a Docker Hub registry needs the namespace (user or organisation) to list",
                    ));
                }
                Some(ns)
                    if !ns.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                    }) =>
                {
                    return Err(ServiceError::bad_input(
                        "namespace",
                        "a namespace has lowercase letters, digits, '-', '_' and '.' only",
                    ));
                }
                _ => {}
            }
        }
        if settings.refresh_interval_seconds < 0 {
            return Err(ServiceError::bad_input(
                "refreshIntervalSeconds",
                "the refresh interval must be 0 (on demand only) or more seconds",
            ));
        }
        let username = trimmed(settings.username);
        let password_sealed = match settings.password {
            None => existing.and_then(|e| e.password_sealed.clone()),
            Some(p) if p.is_empty() => None,
            Some(p) => Some(
                self.secrets
                    .seal(&p)
                    .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!(e)))?,
            ),
        };
        Ok(RegistryRow {
            id: existing
                .map(|e| e.id.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            name,
            url,
            kind: settings.kind,
            namespace,
            username,
            password_sealed,
            insecure: settings.insecure,
            refresh_interval_seconds: settings.refresh_interval_seconds,
            status: existing.map_or(RegistryStatus::NeverRefreshed, |e| e.status),
            last_refreshed_at: existing.and_then(|e| e.last_refreshed_at),
            last_error: existing.and_then(|e| e.last_error.clone()),
            created_at: existing.map(|e| e.created_at).unwrap_or_else(Utc::now),
            hook_secret_hash: existing.and_then(|e| e.hook_secret_hash.clone()),
        })
    }

    async fn ensure_unique_name(
        &self,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), ServiceError> {
        match q::by_name(&self.db, name).await? {
            Some(other) if Some(other.id.as_str()) != except => Err(ServiceError::Conflict(
                format!("a registry named {name} exists already"),
            )),
            _ => Ok(()),
        }
    }

    /// Saves a new registry and starts its first refresh.
    pub async fn add(
        &self,
        actor: &User,
        settings: RegistrySettings,
    ) -> Result<Registry, ServiceError> {
        authz::require(actor, Action::ManageRegistries)?;
        let row = self.validated_row(settings, None)?;
        self.ensure_unique_name(&row.name, None).await?;
        let row = q::insert(&self.db, row).await?;
        self.start_refresh(&row.id).await?;
        self.require(&row.id).await.map(to_registry)
    }

    /// Saves new settings and starts a refresh.
    pub async fn update(
        &self,
        actor: &User,
        id: &str,
        settings: RegistrySettings,
    ) -> Result<Registry, ServiceError> {
        authz::require(actor, Action::ManageRegistries)?;
        let existing = self.require(id).await?;
        let row = self.validated_row(settings, Some(&existing))?;
        self.ensure_unique_name(&row.name, Some(id)).await?;
        q::update_settings(&self.db, row).await?;
        self.start_refresh(id).await?;
        self.require(id).await.map(to_registry)
    }

    pub async fn remove(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageRegistries)?;
        self.require(id).await?;
        q::delete(&self.db, id).await?;
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
        Ok(())
    }

    /// Starts a refresh (unless one is running) and answers at once, REFRESHING.
    pub async fn refresh(&self, actor: &User, id: &str) -> Result<Registry, ServiceError> {
        authz::require(actor, Action::RefreshRegistries)?;
        self.require(id).await?;
        self.start_refresh(id).await?;
        self.require(id).await.map(to_registry)
    }

    /// Sets a new push-hook secret (any earlier one stops working) and returns it: the only time it is shown.
    pub async fn create_hook_secret(&self, actor: &User, id: &str) -> Result<String, ServiceError> {
        authz::require(actor, Action::ManageRegistries)?;
        self.require(id).await?;
        let secret = crate::service::auth::new_secret();
        q::set_hook_secret_hash(&self.db, id, Some(hook_hash(&secret))).await?;
        Ok(secret)
    }

    /// Removes the push-hook secret: pushes are seen at the next refresh only.
    pub async fn remove_hook_secret(
        &self,
        actor: &User,
        id: &str,
    ) -> Result<Registry, ServiceError> {
        authz::require(actor, Action::ManageRegistries)?;
        self.require(id).await?;
        q::set_hook_secret_hash(&self.db, id, None).await?;
        self.require(id).await.map(to_registry)
    }

    /// A notification from the registry itself (`POST /hooks/registry/{id}`, the envelope Docker's registry
    /// sends to `notifications.endpoints`): checked against the registry's hook secret, then every repository a
    /// manifest was pushed to or deleted from is re-read in the background (just those repositories). Answers
    /// how many repositories will be re-read.
    pub async fn push_hook(&self, id: &str, bearer: &str, body: &[u8]) -> Result<usize, HookError> {
        let row = q::by_id(&self.db, id)
            .await
            .map_err(|e| HookError::Unexpected(e.into()))?
            .ok_or(HookError::Unauthorized)?;
        let Some(hash) = &row.hook_secret_hash else {
            return Err(HookError::Unauthorized);
        };
        // Hashes are compared, not secrets: how much of a guess's hash matches says nothing about the secret.
        if *hash != hook_hash(bearer) {
            return Err(HookError::Unauthorized);
        }
        let repositories =
            registry::notifications::pushed_repositories(body).map_err(HookError::BadRequest)?;
        let n = repositories.len();
        for repository in repositories {
            let service = self.clone();
            let row = row.clone();
            tokio::spawn(async move {
                if let Err(e) = service.refresh_repository(&row, &repository).await {
                    tracing::warn!(registry = %row.name, %repository, error = %e, "re-reading a pushed repository failed");
                }
            });
        }
        Ok(n)
    }

    /// Re-reads one repository of a registry and stores what changed (announced as `Event::RegistryTags`).
    async fn refresh_repository(
        &self,
        row: &RegistryRow,
        repository: &str,
    ) -> Result<(), ServiceError> {
        let client = self
            .client_for(row)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        let known_tags: HashMap<String, RegistryTagRow> =
            q::tags_of(&self.db, &row.id, &[repository.to_owned()])
                .await?
                .into_iter()
                .map(|r| (r.tag.clone(), r))
                .collect();
        let digests: HashMap<String, String> = known_tags
            .iter()
            .filter_map(|(tag, r)| r.digest.clone().map(|d| (tag.clone(), d)))
            .collect();
        let tags = client
            .scan_repository(repository, &digests)
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        let (removed, upserts) = diff_repository(&row.id, repository, tags, &known_tags);
        if removed.is_empty() && upserts.is_empty() {
            return Ok(());
        }
        q::update_tags(&self.db, &row.id, &removed, upserts).await?;
        tracing::info!(registry = %row.name, %repository, "repository re-read after a push");
        self.bus.publish(Event::RegistryTags {
            registry_id: row.id.clone(),
            repositories: vec![repository.to_owned()],
        });
        Ok(())
    }

    /// The registry index's current digest of each image reference's tag, for references on a configured
    /// registry (references pinned by digest never move and have none).
    pub async fn latest_digests(
        &self,
        images: &[String],
    ) -> Result<HashMap<String, String>, ServiceError> {
        let mut wanted: Vec<(String, String, String, String)> = Vec::new();
        for image in images {
            let Ok(r) = berth_shared::ImageRef::parse(image) else {
                continue;
            };
            if r.digest().is_some() {
                continue;
            }
            let tag = r.tag().unwrap_or("latest").to_owned();
            wanted.push((
                image.clone(),
                r.domain().to_ascii_lowercase(),
                r.path().to_owned(),
                tag,
            ));
        }
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let registries = q::all(&self.db).await?;
        let mut by_domain: HashMap<String, Vec<String>> = HashMap::new();
        for row in &registries {
            if let Some(d) = domain_of(row.kind, &row.url) {
                by_domain.entry(d).or_default().push(row.id.clone());
            }
        }
        // Images of registries Berth does not list: what the background check last read (never a request
        // to a registry from here).
        let mut out = HashMap::new();
        {
            let unlisted = self
                .unlisted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (image, domain, _, _) in &wanted {
                if !by_domain.contains_key(domain)
                    && let Some(d) = unlisted.digests.get(image)
                {
                    out.insert(image.clone(), d.clone());
                }
            }
        }
        wanted.retain(|(_, domain, _, _)| by_domain.contains_key(domain));
        let mut ids: Vec<String> = wanted
            .iter()
            .flat_map(|(_, d, _, _)| by_domain.get(d).into_iter().flatten().cloned())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut repositories: Vec<String> = wanted.iter().map(|w| w.2.clone()).collect();
        repositories.sort_unstable();
        repositories.dedup();
        let mut tags: Vec<String> = wanted.iter().map(|w| w.3.clone()).collect();
        tags.sort_unstable();
        tags.dedup();
        let rows = q::tags_among(&self.db, &ids, &repositories, &tags).await?;
        for (image, domain, path, tag) in wanted {
            let registries = by_domain.get(&domain).cloned().unwrap_or_default();
            if let Some(digest) = rows
                .iter()
                .find(|r| {
                    r.repository == path && r.tag == tag && registries.contains(&r.registry_id)
                })
                .and_then(|r| r.digest.clone())
            {
                out.insert(image, digest);
            }
        }
        Ok(out)
    }

    /// Reads, by manifest HEAD, the current digest of every image in `images` whose registry Berth does not
    /// list (anonymously, one request at a time with a pause between them); returns the images whose digest
    /// changed since the last check (not those seen for the first time). A registry that fails keeps what was
    /// known.
    pub async fn check_unlisted(&self, images: &[String]) -> Result<Vec<String>, ServiceError> {
        let registries = q::all(&self.db).await?;
        let listed: std::collections::HashSet<String> = registries
            .iter()
            .filter_map(|row| domain_of(row.kind, &row.url))
            .collect();
        let mut changed = Vec::new();
        let mut first = true;
        // Registries that did not answer this round: their other images wait for the next one.
        let mut down = std::collections::HashSet::new();
        for image in images {
            // A container created from an image id names no registry.
            if image.starts_with("sha256:") {
                continue;
            }
            let Ok(r) = berth_shared::ImageRef::parse(image) else {
                continue;
            };
            let domain = r.domain().to_ascii_lowercase();
            if r.digest().is_some() || listed.contains(&domain) || down.contains(&domain) {
                continue;
            }
            if !first {
                tokio::time::sleep(UNLISTED_PAUSE).await;
            }
            first = false;
            let client = {
                let mut unlisted = self
                    .unlisted
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match unlisted.clients.get(&domain) {
                    Some(c) => c.clone(),
                    None => {
                        let client = RegistryClient::new(registry::Settings {
                            url: unlisted_url(&domain),
                            kind: registry::Kind::V2,
                            namespace: None,
                            username: None,
                            password: None,
                            insecure: false,
                            concurrency: 1,
                            page_size: self.settings.page_size,
                            request_timeout: self.settings.request_timeout,
                            listing_budget: self.settings.listing_budget,
                        })
                        .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
                        unlisted.clients.insert(domain.clone(), client.clone());
                        client
                    }
                }
            };
            let tag = r.tag().unwrap_or("latest");
            match client.head_digest(r.path(), tag).await {
                Ok(Some(digest)) if digest.starts_with("sha256:") => {
                    let mut unlisted = self
                        .unlisted
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let before = unlisted.digests.insert(image.clone(), digest.clone());
                    if before.is_some_and(|b| b != digest) {
                        changed.push(image.clone());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%image, error = %e, "checking an image of an unlisted registry failed");
                    if e.is_unreachable() {
                        down.insert(domain);
                    }
                }
            }
        }
        Ok(changed)
    }

    /// How definitions may write a repository of a registry, for finding them: `127.0.0.1:5000/tools/busybox`;
    /// on Docker Hub also `library/nginx` and `nginx`, or `user/app` (with or without `docker.io/`).
    pub async fn repository_names(
        &self,
        registry_id: &str,
        repository: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let Some(row) = q::by_id(&self.db, registry_id).await? else {
            return Ok(Vec::new());
        };
        let Some(domain) = domain_of(row.kind, &row.url) else {
            return Ok(Vec::new());
        };
        let mut names = vec![format!("{domain}/{repository}")];
        if domain == "docker.io" {
            names.push(repository.to_owned());
            if let Some(name) = repository.strip_prefix("library/") {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// Whether a refresh of this registry is running.
    pub fn is_refreshing(&self, id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(id)
    }

    /// Marks the registry REFRESHING and runs its refresh in the background; `false` when one was running.
    pub async fn start_refresh(&self, id: &str) -> Result<bool, ServiceError> {
        {
            let mut running = self
                .running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(again) = running.get_mut(id) {
                *again = true;
                return Ok(false);
            }
            running.insert(id.to_owned(), false);
        }
        let mut guard = RunningGuard {
            id: id.to_owned(),
            running: self.running.clone(),
            left: false,
        };
        let row = match q::by_id(&self.db, id).await {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        q::set_status(
            &self.db,
            id,
            RegistryStatus::Refreshing,
            row.last_error.clone(),
            None,
        )
        .await?;
        self.publish(id, RefreshPhase::Started, 0, None, None);
        let service = self.clone();
        tokio::spawn(async move {
            let mut row = row;
            loop {
                service.run_refresh(row).await;
                if !guard.again() {
                    break;
                }
                row = match q::by_id(&service.db, &guard.id).await {
                    Ok(Some(row)) => row,
                    _ => break,
                };
                if let Err(e) = q::set_status(
                    &service.db,
                    &row.id,
                    RegistryStatus::Refreshing,
                    row.last_error.clone(),
                    None,
                )
                .await
                {
                    tracing::warn!(registry = %row.name, error = %e, "marking a registry REFRESHING failed");
                }
                service.publish(&row.id, RefreshPhase::Started, 0, None, None);
            }
            drop(guard);
        });
        Ok(true)
    }

    fn publish(
        &self,
        id: &str,
        phase: RefreshPhase,
        done: i64,
        total: Option<i64>,
        message: Option<String>,
    ) {
        self.bus.publish(Event::RegistryRefresh {
            registry_id: id.to_owned(),
            phase,
            repositories_done: done,
            repositories_total: total,
            at: Utc::now(),
            message,
        });
    }

    /// The registry's client, kept between refreshes (its tokens are cached until they expire) while the
    /// connection settings stay the same.
    fn client_for(&self, row: &RegistryRow) -> Result<RegistryClient, RegistryError> {
        let fingerprint = (
            row.url.clone(),
            row.kind,
            row.namespace.clone(),
            row.username.clone(),
            row.password_sealed.clone(),
            row.insecure,
        );
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((kept, client)) = clients.get(&row.id)
            && *kept == fingerprint
        {
            return Ok(client.clone());
        }
        let client = self.new_client(row)?;
        clients.insert(row.id.clone(), (fingerprint, client.clone()));
        Ok(client)
    }

    fn new_client(&self, row: &RegistryRow) -> Result<RegistryClient, RegistryError> {
        let password = match &row.password_sealed {
            Some(sealed) => Some(
                self.secrets
                    .open(sealed)
                    .map_err(|e| RegistryError::Settings(e.to_string()))?,
            ),
            None => None,
        };
        RegistryClient::new(registry::Settings {
            url: row.url.clone(),
            kind: match row.kind {
                RegistryKind::V2 => registry::Kind::V2,
                RegistryKind::DockerHub => registry::Kind::DockerHub,
            },
            namespace: row.namespace.clone(),
            username: row.username.clone(),
            password,
            insecure: row.insecure,
            concurrency: self.settings.concurrency,
            page_size: self.settings.page_size,
            request_timeout: self.settings.request_timeout,
            listing_budget: self.settings.listing_budget,
        })
    }

    /// One refresh: list, compare with the stored list, store the new one (or keep the old one on failure).
    async fn run_refresh(&self, row: RegistryRow) {
        let id = row.id.clone();
        let started = Instant::now();
        let outcome = match tokio::time::timeout(self.settings.deadline, self.scan(&row)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the refresh did not finish within {} s",
                self.settings.deadline.as_secs()
            )),
        };
        let metrics = &crate::metrics::METRICS;
        metrics.registry_refreshes.observe(started.elapsed());
        if outcome.is_err() {
            metrics
                .registry_refresh_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // A registry removed meanwhile: nothing to record.
        match q::by_id(&self.db, &id).await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(registry = %row.name, error = %e, "reading the registry after its refresh");
                return;
            }
        }
        let now = Utc::now();
        let recorded = match outcome {
            Ok(Scanned {
                total,
                tags,
                upserts,
                removed,
            }) => {
                let (written, deleted) = (upserts.len(), removed.len());
                let mut changed: Vec<String> = upserts
                    .iter()
                    .map(|u| u.repository.clone())
                    .chain(removed.iter().map(|(r, _)| r.clone()))
                    .collect();
                changed.sort_unstable();
                changed.dedup();
                let stored = q::update_tags(&self.db, &id, &removed, upserts).await;
                if stored.is_ok() && !changed.is_empty() {
                    self.bus.publish(Event::RegistryTags {
                        registry_id: id.clone(),
                        repositories: changed,
                    });
                }
                match stored {
                    Ok(()) => {
                        tracing::info!(registry = %row.name, repositories = total, tags, written, deleted, took = ?started.elapsed(), "registry refreshed");
                        let set =
                            q::set_status(&self.db, &id, RegistryStatus::Ok, None, Some(now)).await;
                        self.publish(
                            &id,
                            RefreshPhase::Finished,
                            i64::try_from(total).unwrap_or(i64::MAX),
                            Some(i64::try_from(total).unwrap_or(i64::MAX)),
                            None,
                        );
                        set
                    }
                    Err(e) => Err(e),
                }
            }
            Err(message) => {
                tracing::warn!(registry = %row.name, error = %message, "registry refresh failed");
                let set = q::set_status(
                    &self.db,
                    &id,
                    RegistryStatus::Error,
                    Some(message.clone()),
                    Some(now),
                )
                .await;
                self.publish(&id, RefreshPhase::Failed, 0, None, Some(message));
                set
            }
        };
        if let Err(e) = recorded {
            tracing::error!(registry = %row.name, error = %e, "recording a registry refresh failed");
            let _ = q::set_status(
                &self.db,
                &id,
                RegistryStatus::Error,
                Some(format!("storing the refresh failed: {e}")),
                Some(now),
            )
            .await;
            self.publish(
                &id,
                RefreshPhase::Failed,
                0,
                None,
                Some("storing the refresh failed".into()),
            );
        }
    }

    /// Lists the registry; returns what changed against the stored list, or a message.
    async fn scan(&self, row: &RegistryRow) -> Result<Scanned, String> {
        let client = self.client_for(row).map_err(|e| e.to_string())?;
        let known_rows = q::tags(&self.db, &row.id)
            .await
            .map_err(|e| format!("reading the stored list: {e}"))?;
        let mut known: HashMap<String, HashMap<String, RegistryTagRow>> = HashMap::new();
        for r in known_rows {
            known
                .entry(r.repository.clone())
                .or_default()
                .insert(r.tag.clone(), r);
        }
        let repositories = client
            .list_repositories()
            .await
            .map_err(|e| e.to_string())?;
        let total = repositories.len();
        let total_i = i64::try_from(total).unwrap_or(i64::MAX);
        self.publish(&row.id, RefreshPhase::Progress, 0, Some(total_i), None);
        let done = AtomicI64::new(0);
        let last_progress = Mutex::new(Instant::now());
        let empty = HashMap::new();
        let scanned: Vec<(String, Vec<registry::ScannedTag>)> = futures::stream::iter(repositories)
            .map(|repository| {
                let client = client.clone();
                let known_tags = known.get(&repository).unwrap_or(&empty);
                let done = &done;
                let last_progress = &last_progress;
                async move {
                    let digests: HashMap<String, String> = known_tags
                        .iter()
                        .filter_map(|(tag, r)| r.digest.clone().map(|d| (tag.clone(), d)))
                        .collect();
                    let tags = match client.scan_repository(&repository, &digests).await {
                        Ok(tags) => tags,
                        // A repository the account may not read is left out, not a failed refresh.
                        Err(RegistryError::Denied(path)) => {
                            tracing::warn!(registry = %row.name, %repository, %path, "access denied; repository skipped");
                            Vec::new()
                        }
                        Err(e) => return Err(e),
                    };
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    let due = {
                        let mut last = last_progress
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        if last.elapsed() >= Duration::from_millis(100) || n == total_i {
                            *last = Instant::now();
                            true
                        } else {
                            false
                        }
                    };
                    if due {
                        self.publish(&row.id, RefreshPhase::Progress, n, Some(total_i), None);
                    }
                    Ok::<_, RegistryError>((repository, tags))
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        let mut changes = Scanned {
            total,
            ..Scanned::default()
        };
        for (repository, tags) in scanned {
            let known_tags = known.remove(&repository).unwrap_or_default();
            changes.tags += tags.len();
            let (removed, upserts) = diff_repository(&row.id, &repository, tags, &known_tags);
            changes.removed.extend(removed);
            changes.upserts.extend(upserts);
        }
        // Repositories no longer in the catalog.
        for (repository, tags) in known {
            changes
                .removed
                .extend(tags.into_keys().map(|tag| (repository.clone(), tag)));
        }
        Ok(changes)
    }

    // ---- browsing ------------------------------------------------------------------------------

    pub async fn repository_count(&self, id: &str) -> Result<usize, ServiceError> {
        Ok(usize::try_from(q::repository_count(&self.db, id).await?).unwrap_or(usize::MAX))
    }

    pub async fn tag_count(&self, id: &str) -> Result<usize, ServiceError> {
        Ok(usize::try_from(q::tag_count(&self.db, id).await?).unwrap_or(usize::MAX))
    }

    /// Repositories whose name contains `filter`, `first` of them after `offset`.
    pub async fn repositories(
        &self,
        id: &str,
        filter: Option<&str>,
        offset: usize,
        first: usize,
    ) -> Result<RepositoryPage, ServiceError> {
        let row = self.require(id).await?;
        let filter = filter
            .map(|f| f.trim().to_ascii_lowercase())
            .filter(|f| !f.is_empty());
        let names = q::repository_names(&self.db, id, filter.as_deref()).await?;
        let total = names.len();
        let page: Vec<String> = names.into_iter().skip(offset).take(first).collect();
        let has_next = offset.saturating_add(page.len()) < total;
        let prefix = reference_prefix(&row);
        let mut by_repo: HashMap<String, Vec<ImageTag>> = HashMap::new();
        for t in q::tags_of(&self.db, id, &page).await? {
            by_repo
                .entry(t.repository.clone())
                .or_default()
                .push(to_tag(&prefix, t));
        }
        let repositories = page
            .into_iter()
            .map(|name| Repository {
                tags: by_repo.remove(&name).unwrap_or_default(),
                name,
            })
            .collect();
        Ok(RepositoryPage {
            offset,
            repositories,
            total,
            has_next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_image_references() {
        assert_eq!(
            domain_of(RegistryKind::V2, "http://127.0.0.1:5000").as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            domain_of(RegistryKind::V2, "https://Registry.Example.com/").as_deref(),
            Some("registry.example.com")
        );
        assert_eq!(
            domain_of(RegistryKind::DockerHub, "https://hub.docker.com").as_deref(),
            Some("docker.io")
        );
    }
}
