//! The registry client, the only code that speaks the registry protocols: the Registry HTTP API v2 / OCI
//! distribution (ping, Bearer and Basic authentication, catalog and tag-list paging by `Link`, manifests and
//! config blobs) and Docker Hub's namespace API. Every request has a timeout, requests to one registry are
//! bounded by a semaphore, and 429/5xx answers are retried with backoff honouring `Retry-After`.

mod auth;
mod hub;
pub mod notifications;

use auth::{Challenge, TokenCache};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{ACCEPT, HeaderMap, LINK, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

/// URLs as the registry client parses them (re-exported so callers validate URLs the same way).
pub use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Digest as _;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};

/// The four manifest media types a registry may answer with.
pub const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

/// Retries of one request answered 429 or 5xx.
const MAX_RETRIES: u32 = 3;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// A response body larger than this is refused.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Entries one listing (a catalog, a repository's tags) may hold before Berth stops following its `Link`s.
const MAX_LISTED: usize = 100_000;
/// Pages in a row that bring no new entry (and link to yet another page) before a listing is stopped.
const NOTHING_NEW_PAGES: usize = 3;
/// Pages a listing may take beyond [`SPARSE_FACTOR`] times what its entries need at the page size asked for
/// (room for registries that answer with shorter pages than asked).
const SPARE_PAGES: usize = 20;
/// How many times the pages its entries need a listing may take (see [`SPARE_PAGES`]).
const SPARSE_FACTOR: usize = 4;

/// What kind of registry a client talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any Registry v2 / OCI distribution registry.
    V2,
    /// A namespace on Docker Hub, listed through the Hub API at `url`.
    DockerHub,
}

/// How to reach one registry.
#[derive(Clone)]
pub struct Settings {
    /// `https://registry.example.com`, `http://127.0.0.1:5000`, or the Hub API base for Docker Hub.
    pub url: String,
    pub kind: Kind,
    /// Docker Hub: the user or organisation listed.
    pub namespace: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Accept certificates that do not verify.
    pub insecure: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Entries asked for per page of a listing.
    pub page_size: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// How long one paged listing (a catalog, a repository's tags) may take.
    pub listing_budget: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("kind", &self.kind)
            .field("namespace", &self.namespace)
            .field("username", &self.username)
            .field("has_password", &self.password.is_some())
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// Why a registry operation failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("authentication failed for user {0}")]
    AuthFailed(String),
    #[error("the registry requires credentials: set a username and password")]
    AuthRequired,
    #[error("access denied to {0}: the account may not list it")]
    Denied(String),
    #[error("connection refused by {0}")]
    ConnectionRefused(String),
    #[error("{0} did not answer within {1} s")]
    Timeout(String, u64),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("registry answered {status} on {path}")]
    Status { status: u16, path: String },
    #[error("invalid JSON from {path}: {detail}")]
    InvalidJson { path: String, detail: String },
    #[error("refusing to follow a next-page link to another host or scheme ({0})")]
    ForeignLink(String),
    #[error("the listing of {path} stopped after {pages} pages: {reason}")]
    EndlessPagination {
        path: String,
        pages: usize,
        reason: StopReason,
    },
    #[error("the response from {0} is larger than 32 MiB")]
    TooLarge(String),
    #[error("{0} is not a Docker registry (no /v2/ API)")]
    NotARegistry(String),
    #[error("invalid registry settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl RegistryError {
    /// The registry could not be reached at all (refused, timed out, no route): asking it again at once is
    /// pointless.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            RegistryError::ConnectionRefused(_)
                | RegistryError::Timeout(..)
                | RegistryError::Unreachable { .. }
        )
    }
}

/// Why Berth stopped following a listing's next-page links.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StopReason {
    #[error(
        "the registry kept sending Link headers, and the next one pointed back to a page already read"
    )]
    RepeatedPage,
    #[error("the registry kept sending Link headers to pages with nothing new ({0} in a row)")]
    NothingNew(usize),
    #[error(
        "the registry kept sending Link headers, but its {entries} entries need no more than {needed} pages of \
         {page_size}"
    )]
    Sparse {
        entries: usize,
        needed: usize,
        page_size: usize,
    },
    #[error("the registry kept sending Link headers past {0} entries, more than Berth lists")]
    TooManyEntries(usize),
    #[error(
        "the registry kept sending Link headers for {0} s, the time one listing may take \
         (BERTH_REGISTRY_LISTING_SECS)"
    )]
    OutOfTime(u64),
}

/// The page and entry bounds of one listing, checked after each page that links to another one.
#[derive(Debug)]
struct PageBounds {
    page_size: usize,
    pages: usize,
    idle: usize,
}

impl PageBounds {
    fn new(page_size: usize) -> Self {
        Self {
            page_size: page_size.max(1),
            pages: 0,
            idle: 0,
        }
    }

    /// After a page that brought `fresh` new entries (`entries` in all) and links to a next one: whether to
    /// follow it.
    fn next_page(&mut self, fresh: usize, entries: usize) -> Result<(), StopReason> {
        self.pages += 1;
        self.idle = if fresh == 0 { self.idle + 1 } else { 0 };
        if self.idle >= NOTHING_NEW_PAGES {
            return Err(StopReason::NothingNew(self.idle));
        }
        if entries >= MAX_LISTED {
            return Err(StopReason::TooManyEntries(MAX_LISTED));
        }
        let needed = entries.div_ceil(self.page_size);
        if self.pages >= SPARE_PAGES + SPARSE_FACTOR * needed {
            return Err(StopReason::Sparse {
                entries,
                needed,
                page_size: self.page_size,
            });
        }
        Ok(())
    }
}

/// What a registry says about one tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagDetails {
    pub digest: Option<String>,
    /// Compressed size: config + layers (of the image, or the sum over an index's platforms when known).
    pub size_bytes: Option<i64>,
    pub architectures: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// One tag found by [`RegistryClient::scan_repository`]: `None` = the digest is the known one, details not
/// fetched again.
pub type ScannedTag = (String, Option<TagDetails>);

/// A client for one registry; cheap to clone.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The registry's URL, its path ending with `/`.
    base: Url,
    settings: Settings,
    permits: Semaphore,
    /// The authentication the registry asked for, found by the first ping.
    challenge: Mutex<Option<Challenge>>,
    tokens: TokenCache,
    /// What config blobs say, by digest (content-addressed, so never stale): tags sharing a config are read
    /// once.
    configs: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<ConfigFacts>>>>,
}

/// Creation time and platform of an image config.
type ConfigFacts = (Option<DateTime<Utc>>, Option<String>);

/// Config blobs remembered per client before the memory is cleared.
const MAX_CONFIGS: usize = 100_000;

/// A response's body and headers.
struct Fetched {
    headers: HeaderMap,
    body: Vec<u8>,
}

fn path_of(url: &Url) -> String {
    url.path().to_owned()
}

/// Whether `name` is a repository name Berth will put in a URL (distribution's grammar, loosely).
fn valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
                })
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        })
}

/// Whether `tag` is a valid tag (`[\w][\w.-]{0,127}`); registries list junk such as digests.
fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !tag.starts_with(['.', '-'])
}

fn parse_json<T: DeserializeOwned>(body: &[u8], url: &Url) -> Result<T, RegistryError> {
    serde_json::from_slice(body).map_err(|e| RegistryError::InvalidJson {
        path: path_of(url),
        detail: e.to_string(),
    })
}

/// The `rel="next"` target of a `Link` header, resolved against the page's URL.
fn next_link(headers: &HeaderMap, current: &Url) -> Result<Option<Url>, RegistryError> {
    for value in headers.get_all(LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let Some((target, params)) = part.split_once(';') else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if !is_next {
                continue;
            }
            let target = target.trim().trim_start_matches('<').trim_end_matches('>');
            let url = current
                .join(target)
                .map_err(|e| RegistryError::InvalidJson {
                    path: path_of(current),
                    detail: format!("bad next-page link {target:?}: {e}"),
                })?;
            return Ok(Some(url));
        }
    }
    Ok(None)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// How long to wait before retry `attempt` (1-based): `Retry-After` seconds when given, else 0.5 s doubling.
fn backoff(headers: &HeaderMap, attempt: u32) -> Duration {
    let given = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    given
        .unwrap_or_else(|| Duration::from_millis(500 * (1 << (attempt - 1))))
        .min(MAX_RETRY_AFTER)
}

fn is_connection_refused(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = err.source();
    }
    false
}

impl RegistryClient {
    pub fn new(settings: Settings) -> Result<RegistryClient, RegistryError> {
        let mut base = Url::parse(settings.url.trim())
            .map_err(|e| RegistryError::Settings(format!("bad URL {}: {e}", settings.url)))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(5)))
            .danger_accept_invalid_certs(settings.insecure)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                RegistryError::Unexpected(anyhow::anyhow!("building the HTTP client: {e}"))
            })?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                base,
                permits: Semaphore::new(settings.concurrency.max(1)),
                settings,
                challenge: Mutex::new(None),
                tokens: TokenCache::default(),
                configs: std::sync::Mutex::default(),
            }),
        })
    }

    fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.inner.base.join(path).map_err(|e| {
            RegistryError::Unexpected(anyhow::anyhow!("building a URL for {path}: {e}"))
        })
    }

    fn username(&self) -> Option<&str> {
        self.inner
            .settings
            .username
            .as_deref()
            .filter(|u| !u.is_empty())
    }

    fn basic(&self) -> Option<(&str, &str)> {
        self.username().map(|u| {
            (
                u,
                self.inner.settings.password.as_deref().unwrap_or_default(),
            )
        })
    }

    fn transport_error(&self, url: &Url, e: reqwest::Error) -> RegistryError {
        let origin = url.origin().ascii_serialization();
        if e.is_timeout() {
            RegistryError::Timeout(
                format!("{origin}{}", url.path()),
                self.inner.settings.request_timeout.as_secs(),
            )
        } else if is_connection_refused(&e) {
            RegistryError::ConnectionRefused(origin)
        } else {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = format!("{reason}: {s}");
                source = s.source();
            }
            RegistryError::Unreachable {
                url: origin,
                reason,
            }
        }
    }

    /// The error for an unsuccessful answer.
    fn status_error(&self, status: StatusCode, url: &Url) -> RegistryError {
        match status {
            StatusCode::UNAUTHORIZED => match self.username() {
                Some(u) => RegistryError::AuthFailed(u.to_owned()),
                None => RegistryError::AuthRequired,
            },
            StatusCode::FORBIDDEN => RegistryError::Denied(path_of(url)),
            other => RegistryError::Status {
                status: other.as_u16(),
                path: path_of(url),
            },
        }
    }

    /// Sends one request with authentication, retrying 429/5xx; holds a permit of the registry's
    /// concurrency bound until the body is read.
    async fn fetch(
        &self,
        method: Method,
        url: &Url,
        scope: Option<&str>,
        accept: Option<&str>,
    ) -> Result<(StatusCode, Fetched), RegistryError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| RegistryError::Unexpected(anyhow::anyhow!("semaphore closed: {e}")))?;
        let mut attempt = 0;
        let mut renewed_token = false;
        loop {
            let mut request = self.inner.http.request(method.clone(), url.clone());
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            let challenge = self.inner.challenge.lock().await.clone();
            let mut bearer = false;
            match challenge {
                Some(Challenge::Basic) => {
                    if let Some((u, p)) = self.basic() {
                        request = request.basic_auth(u, Some(p));
                    }
                }
                Some(Challenge::Bearer { realm, service }) => {
                    let scope = scope.unwrap_or_default();
                    let token = self.token(&realm, service.as_deref(), scope).await?;
                    request = request.bearer_auth(token);
                    bearer = true;
                }
                Some(Challenge::Token(token)) => request = request.bearer_auth(token),
                None => {}
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.transport_error(url, e))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && bearer && !renewed_token {
                // The token may have expired early: fetch a fresh one once.
                renewed_token = true;
                self.inner.tokens.forget(scope.unwrap_or_default()).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && bearer && self.username().is_some() {
                // The token server accepted the credentials but granted less than this call needs.
                return Err(RegistryError::Denied(path_of(url)));
            }
            if (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
                && attempt < MAX_RETRIES
            {
                attempt += 1;
                let wait = backoff(response.headers(), attempt);
                tracing::debug!(url = %url, %status, ?wait, "registry asked to retry");
                drop(response);
                tokio::time::sleep(wait).await;
                continue;
            }
            let headers = response.headers().clone();
            let body = if method == Method::HEAD {
                Vec::new()
            } else {
                self.read_body(response, url).await?
            };
            return Ok((status, Fetched { headers, body }));
        }
    }

    async fn read_body(&self, mut response: Response, url: &Url) -> Result<Vec<u8>, RegistryError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, e))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(RegistryError::TooLarge(path_of(url)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// A successful answer or the matching error.
    async fn fetch_ok(
        &self,
        method: Method,
        url: &Url,
        scope: Option<&str>,
        accept: Option<&str>,
    ) -> Result<Fetched, RegistryError> {
        let (status, fetched) = self.fetch(method, url, scope, accept).await?;
        if status.is_success() {
            Ok(fetched)
        } else {
            Err(self.status_error(status, url))
        }
    }

    /// `GET /v2/`: finds how the registry authenticates and checks the credentials.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        if self.inner.settings.kind == Kind::DockerHub {
            return hub::login(self).await.map(|_| ());
        }
        let url = self.url("v2/")?;
        *self.inner.challenge.lock().await = None;
        let (status, fetched) = self.fetch(Method::GET, &url, None, None).await?;
        match status {
            s if s.is_success() => return Ok(()),
            StatusCode::UNAUTHORIZED => {}
            StatusCode::NOT_FOUND => {
                return Err(RegistryError::NotARegistry(
                    self.inner.base.origin().ascii_serialization(),
                ));
            }
            other => return Err(self.status_error(other, &url)),
        }
        let header = fetched
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let challenge = Challenge::parse(header, &url)?;
        if matches!(challenge, Challenge::Basic) && self.username().is_none() {
            return Err(RegistryError::AuthRequired);
        }
        *self.inner.challenge.lock().await = Some(challenge);
        // Check the credentials now, so a wrong password says so rather than failing a later call.
        let (status, _) = self.fetch(Method::GET, &url, Some(""), None).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.status_error(status, &url))
        }
    }

    async fn token(
        &self,
        realm: &Url,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        if let Some(token) = self.inner.tokens.get(scope).await {
            return Ok(token);
        }
        let mut url = realm.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                query.append_pair("scope", s);
            }
        }
        let mut request = self.inner.http.get(url.clone());
        if let Some((u, p)) = self.basic() {
            request = request.basic_auth(u, Some(p));
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_error(status, &url));
        }
        let body = self.read_body(response, &url).await?;
        let (token, ttl) = auth::parse_token(&body, &url)?;
        self.inner.tokens.put(scope, token.clone(), ttl).await;
        Ok(token)
    }

    /// Follows a paged listing: `extract` returns a page's items and, for APIs that say so in the body (the
    /// Hub), the next page; otherwise the `Link` header is followed. Items are told apart by `key` (the first
    /// one of a key is kept). A registry that keeps linking to more pages is stopped, saying why: a link back to
    /// a page already read, pages with nothing new, far more pages than its entries need at `page_size`, more
    /// than [`MAX_LISTED`] entries, or longer than the listing's time budget.
    async fn paged<T, I>(
        &self,
        first: Url,
        scope: Option<&str>,
        page_size: usize,
        key: fn(&I) -> &str,
        extract: impl Fn(T) -> (Vec<I>, Option<String>),
    ) -> Result<Vec<I>, RegistryError>
    where
        T: DeserializeOwned,
    {
        let started = tokio::time::Instant::now();
        let budget = self.inner.settings.listing_budget;
        let path = path_of(&first);
        let stopped = |pages: usize, reason: StopReason| RegistryError::EndlessPagination {
            path: path.clone(),
            pages,
            reason,
        };
        let mut bounds = PageBounds::new(page_size);
        let mut read = HashSet::from([first.to_string()]);
        let mut keys = HashSet::new();
        let mut items = Vec::new();
        let mut url = first;
        loop {
            let fetched = tokio::time::timeout_at(
                started + budget,
                self.fetch_ok(Method::GET, &url, scope, None),
            )
            .await
            .map_err(|_| stopped(read.len() - 1, StopReason::OutOfTime(budget.as_secs())))??;
            let (page, body_next) = extract(parse_json::<T>(&fetched.body, &url)?);
            let before = items.len();
            for item in page {
                if keys.insert(key(&item).to_owned()) {
                    items.push(item);
                }
            }
            let next = match body_next.filter(|n| !n.is_empty()) {
                Some(n) => Some(url.join(&n).map_err(|e| RegistryError::InvalidJson {
                    path: path_of(&url),
                    detail: format!("bad next-page link {n:?}: {e}"),
                })?),
                None => next_link(&fetched.headers, &url)?,
            };
            let Some(next) = next else {
                return Ok(items);
            };
            if !same_origin(&next, &self.inner.base) {
                return Err(RegistryError::ForeignLink(
                    next.origin().ascii_serialization(),
                ));
            }
            if !read.insert(next.to_string()) {
                return Err(stopped(read.len(), StopReason::RepeatedPage));
            }
            bounds
                .next_page(items.len() - before, items.len())
                .map_err(|reason| stopped(read.len() - 1, reason))?;
            url = next;
        }
    }

    /// Every repository of the registry (V2: the catalog; Docker Hub: the namespace's repositories), sorted.
    pub async fn list_repositories(&self) -> Result<Vec<String>, RegistryError> {
        self.ping().await?;
        let mut names = match self.inner.settings.kind {
            Kind::DockerHub => hub::repositories(self).await?,
            Kind::V2 => {
                #[derive(Deserialize)]
                struct Catalog {
                    repositories: Option<Vec<Option<String>>>,
                }
                let page_size = self.inner.settings.page_size;
                let url = self.url(&format!("v2/_catalog?n={page_size}"))?;
                self.paged(
                    url,
                    Some("registry:catalog:*"),
                    page_size,
                    String::as_str,
                    |c: Catalog| {
                        (
                            c.repositories
                                .unwrap_or_default()
                                .into_iter()
                                .flatten()
                                .collect(),
                            None,
                        )
                    },
                )
                .await?
            }
        };
        names.retain(|n| valid_repository(n));
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The tags of one repository with what the registry says about them; a tag whose digest equals the one in
    /// `known` is not fetched again (`None`).
    pub async fn scan_repository(
        &self,
        repository: &str,
        known: &HashMap<String, String>,
    ) -> Result<Vec<ScannedTag>, RegistryError> {
        if self.inner.settings.kind == Kind::DockerHub {
            return hub::tags(self, repository).await;
        }
        let tags = self.list_tags(repository).await?;
        let scanned: Vec<Option<ScannedTag>> = futures::stream::iter(tags)
            .map(|tag| async move {
                // A known tag is HEADed (free on rate-limited registries) to see whether it changed; a new
                // one is read at once.
                if let Some(known_digest) = known.get(&tag) {
                    let Some(digest) = self.head_digest(repository, &tag).await? else {
                        // Gone since the listing.
                        return Ok::<_, RegistryError>(None);
                    };
                    if *known_digest == digest {
                        return Ok(Some((tag, None)));
                    }
                }
                let details = self.describe(repository, &tag).await?;
                Ok(details.map(|d| (tag, Some(d))))
            })
            .buffer_unordered(self.inner.settings.concurrency.max(1))
            .try_collect()
            .await?;
        let mut scanned: Vec<ScannedTag> = scanned.into_iter().flatten().collect();
        scanned.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(scanned)
    }

    /// The tags of one repository (V2), sorted, junk left out.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct TagList {
            tags: Option<Vec<Option<String>>>,
        }
        let url = self.url(&format!(
            "v2/{repository}/tags/list?n={}",
            self.inner.settings.page_size
        ))?;
        let scope = format!("repository:{repository}:pull");
        let result = self
            .paged(
                url,
                Some(&scope),
                self.inner.settings.page_size,
                String::as_str,
                |t: TagList| {
                    (
                        t.tags.unwrap_or_default().into_iter().flatten().collect(),
                        None,
                    )
                },
            )
            .await;
        let mut tags: Vec<String> = match result {
            Ok(tags) => tags,
            // A repository the catalog lists but that has no tags (any more).
            Err(RegistryError::Status { status: 404, .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        tags.retain(|t| valid_tag(t));
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    /// The digest of a tag from a manifest HEAD; `None` when the tag is gone.
    pub async fn head_digest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, RegistryError> {
        let url = self.url(&format!("v2/{repository}/manifests/{tag}"))?;
        let scope = format!("repository:{repository}:pull");
        let (status, fetched) = self
            .fetch(Method::HEAD, &url, Some(&scope), Some(MANIFEST_TYPES))
            .await?;
        match status {
            s if s.is_success() => Ok(Some(
                fetched
                    .headers
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    // No digest header: the GET computes it.
                    .unwrap_or_default(),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(self.status_error(other, &url)),
        }
    }

    /// Digest, size, architectures and creation time of a tag (manifest, then config blob); `None` when the
    /// tag is gone.
    pub async fn describe(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<TagDetails>, RegistryError> {
        let url = self.url(&format!("v2/{repository}/manifests/{tag}"))?;
        let scope = format!("repository:{repository}:pull");
        let (status, fetched) = self
            .fetch(Method::GET, &url, Some(&scope), Some(MANIFEST_TYPES))
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.status_error(status, &url));
        }
        let digest = fetched
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "sha256:{}",
                    hex::encode(sha2::Sha256::digest(&fetched.body))
                )
            });
        let manifest: Manifest = parse_json(&fetched.body, &url)?;
        let mut details = TagDetails {
            digest: Some(digest),
            ..TagDetails::default()
        };
        if let Some(entries) = manifest.manifests {
            let mut size = 0i64;
            for entry in &entries {
                let attestation = entry
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("vnd.docker.reference.type"))
                    .is_some_and(|t| t == "attestation-manifest");
                let Some(platform) = entry.platform.as_ref().filter(|_| !attestation) else {
                    continue;
                };
                if platform.architecture == "unknown" {
                    continue;
                }
                size += entry.size.unwrap_or(0);
                let arch = platform.name();
                if !details.architectures.contains(&arch) {
                    details.architectures.push(arch);
                }
            }
            details.size_bytes = Some(size);
            return Ok(Some(details));
        }
        if let Some(config) = manifest.config {
            let layers: i64 = manifest
                .layers
                .unwrap_or_default()
                .iter()
                .map(|l| l.size.unwrap_or(0))
                .sum();
            details.size_bytes = Some(config.size.unwrap_or(0) + layers);
            if let Some(config_digest) = config.digest {
                let (created, arch) = self.config_facts(repository, &config_digest).await?;
                details.created_at = created;
                details.architectures.extend(arch);
            }
        }
        Ok(Some(details))
    }
}

impl RegistryClient {
    /// Creation time and platform from a config blob (remembered by digest); nothing when the blob is missing.
    async fn config_facts(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<ConfigFacts, RegistryError> {
        // One read per digest even when many tags ask at once.
        let cell = {
            let mut configs = self
                .inner
                .configs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if configs.len() >= MAX_CONFIGS {
                configs.clear();
            }
            configs.entry(digest.to_owned()).or_default().clone()
        };
        cell.get_or_try_init(|| self.read_config(repository, digest))
            .await
            .cloned()
    }

    async fn read_config(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<ConfigFacts, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let blob = self.url(&format!("v2/{repository}/blobs/{digest}"))?;
        let (status, fetched) = self.fetch(Method::GET, &blob, Some(&scope), None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok((None, None));
        }
        if !status.is_success() {
            return Err(self.status_error(status, &blob));
        }
        let image: ImageConfig = parse_json(&fetched.body, &blob)?;
        let created = image
            .created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc));
        let arch = image
            .architecture
            .filter(|a| !a.is_empty())
            .map(|architecture| {
                Platform {
                    architecture,
                    variant: image.variant,
                }
                .name()
            });
        Ok((created, arch))
    }
}

#[derive(Deserialize)]
struct Manifest {
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: Option<String>,
    size: Option<i64>,
    platform: Option<Platform>,
    annotations: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    variant: Option<String>,
}

impl Platform {
    /// `amd64`, `arm64`, `arm/v7` (a variant is shown except the usual arm64/v8).
    fn name(&self) -> String {
        match self.variant.as_deref() {
            None | Some("") => self.architecture.clone(),
            Some("v8") if self.architecture == "arm64" => self.architecture.clone(),
            Some(v) => format!("{}/{v}", self.architecture),
        }
    }
}

#[derive(Deserialize)]
struct ImageConfig {
    created: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn next_links_resolve_relative_and_absolute() {
        let current = Url::parse("http://r:5000/v2/_catalog?n=2").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static("</v2/_catalog?last=b&n=2>; rel=\"next\""),
        );
        let next = next_link(&headers, &current).unwrap().unwrap();
        assert_eq!(next.as_str(), "http://r:5000/v2/_catalog?last=b&n=2");
        assert!(same_origin(&next, &current));
        headers.insert(
            LINK,
            HeaderValue::from_static("<https://evil:5000/v2/_catalog?last=b>; rel=\"next\""),
        );
        let next = next_link(&headers, &current).unwrap().unwrap();
        assert!(!same_origin(&next, &current));
        assert!(next_link(&HeaderMap::new(), &current).unwrap().is_none());
    }

    #[test]
    fn junk_names_and_tags_are_recognised() {
        assert!(valid_repository("tools/busybox"));
        assert!(!valid_repository("../etc"));
        assert!(!valid_repository("Upper/case"));
        assert!(valid_tag("1.35"));
        assert!(!valid_tag("sha256:abc"));
        assert!(!valid_tag(".hidden"));
    }

    #[test]
    fn listings_stop_when_links_lead_nowhere_new() {
        // A real registry: full pages of new entries until the last one.
        let mut bounds = PageBounds::new(7);
        for page in 1..1_000 {
            assert_eq!(bounds.next_page(7, 7 * page), Ok(()), "page {page}");
        }
        // Shorter pages than asked are fine up to a point; one entry a page is not.
        let mut bounds = PageBounds::new(7);
        let stop = (1..).find_map(|page| bounds.next_page(1, page).err().map(|e| (page, e)));
        assert_eq!(
            stop,
            Some((
                48,
                StopReason::Sparse {
                    entries: 48,
                    needed: 7,
                    page_size: 7
                }
            ))
        );
        // Pages with nothing new: three in a row.
        let mut bounds = PageBounds::new(7);
        assert_eq!(bounds.next_page(7, 7), Ok(()));
        assert_eq!(bounds.next_page(0, 7), Ok(()));
        assert_eq!(bounds.next_page(0, 7), Ok(()));
        assert_eq!(bounds.next_page(0, 7), Err(StopReason::NothingNew(3)));
        // Too many entries, however full the pages.
        let mut bounds = PageBounds::new(1_000);
        assert_eq!(
            bounds.next_page(1_000, MAX_LISTED),
            Err(StopReason::TooManyEntries(MAX_LISTED))
        );
        assert!(
            RegistryError::EndlessPagination {
                path: "/v2/_catalog".into(),
                pages: 4,
                reason: StopReason::NothingNew(3)
            }
            .to_string()
            .starts_with(
                "the listing of /v2/_catalog stopped after 4 pages: the registry kept sending Link headers"
            )
        );
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let mut headers = HeaderMap::new();
        assert_eq!(backoff(&headers, 1), Duration::from_millis(500));
        assert_eq!(backoff(&headers, 3), Duration::from_secs(2));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(backoff(&headers, 1), Duration::from_secs(2));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(backoff(&headers, 1), MAX_RETRY_AFTER);
    }
}
