//! Docker Hub's namespace API (Hub has no `_catalog`): log in, list a namespace's repositories, then each
//! repository's tags with digest, size and architectures. The API base is the registry's `url`
//! (`https://hub.docker.com`).

use super::auth::Challenge;
use super::{Kind, Platform, RegistryClient, RegistryError, ScannedTag, TagDetails, parse_json};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

/// The Hub API's largest page.
const HUB_PAGE: usize = 100;

#[derive(Deserialize)]
struct Page<T> {
    next: Option<String>,
    results: Option<Vec<T>>,
}

#[derive(Deserialize)]
struct Repo {
    name: String,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    digest: Option<String>,
    full_size: Option<i64>,
    last_updated: Option<String>,
    tag_last_pushed: Option<String>,
    images: Option<Vec<Image>>,
}

#[derive(Deserialize)]
struct Image {
    architecture: Option<String>,
    variant: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize)]
struct Login {
    token: Option<String>,
}

fn namespace(client: &RegistryClient) -> Result<&str, RegistryError> {
    client
        .inner
        .settings
        .namespace
        .as_deref()
        .filter(|n| super::valid_repository(n) && !n.contains('/'))
        .ok_or_else(|| {
            RegistryError::Settings(
                "a Docker Hub registry needs a namespace (user or organisation)".into(),
            )
        })
}

/// Logs in when credentials are set (`POST /v2/users/login`), keeping the token for the listing calls.
pub(super) async fn login(client: &RegistryClient) -> Result<(), RegistryError> {
    debug_assert_eq!(client.inner.settings.kind, Kind::DockerHub);
    namespace(client)?;
    let Some((username, password)) = client.basic() else {
        *client.inner.challenge.lock().await = None;
        return Ok(());
    };
    let url = client.url("v2/users/login")?;
    let response = client
        .inner
        .http
        .post(url.clone())
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .map_err(|e| client.transport_error(&url, e))?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(RegistryError::AuthFailed(username.to_owned()));
    }
    if !status.is_success() {
        return Err(client.status_error(status, &url));
    }
    let body = client.read_body(response, &url).await?;
    let token = parse_json::<Login>(&body, &url)?
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RegistryError::InvalidJson {
            path: url.path().to_owned(),
            detail: "no token in the login answer".into(),
        })?;
    *client.inner.challenge.lock().await = Some(Challenge::Token(token));
    Ok(())
}

pub(super) async fn repositories(client: &RegistryClient) -> Result<Vec<String>, RegistryError> {
    let ns = namespace(client)?;
    let size = client.inner.settings.page_size.clamp(1, HUB_PAGE);
    let url = client.url(&format!(
        "v2/namespaces/{ns}/repositories?page=1&page_size={size}"
    ))?;
    client
        .paged(url, None, size, String::as_str, |p: Page<Repo>| {
            (
                p.results
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.name)
                    .collect(),
                p.next,
            )
        })
        .await
}

fn parse_time(t: Option<&str>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub(super) async fn tags(
    client: &RegistryClient,
    repository: &str,
) -> Result<Vec<ScannedTag>, RegistryError> {
    let ns = namespace(client)?;
    let size = client.inner.settings.page_size.clamp(1, HUB_PAGE);
    let url = client.url(&format!(
        "v2/namespaces/{ns}/repositories/{repository}/tags?page=1&page_size={size}"
    ))?;
    let tags = client
        .paged(
            url,
            None,
            size,
            |t: &Tag| t.name.as_str(),
            |p: Page<Tag>| (p.results.unwrap_or_default(), p.next),
        )
        .await?;
    let mut out: Vec<ScannedTag> = tags
        .into_iter()
        .filter(|t| super::valid_tag(&t.name))
        .map(|t| {
            let images = t.images.unwrap_or_default();
            let mut architectures = Vec::new();
            for image in &images {
                let Some(arch) = image
                    .architecture
                    .clone()
                    .filter(|a| !a.is_empty() && a != "unknown")
                else {
                    continue;
                };
                let name = Platform {
                    architecture: arch,
                    variant: image.variant.clone(),
                }
                .name();
                if !architectures.contains(&name) {
                    architectures.push(name);
                }
            }
            let digest = t.digest.or_else(|| match images.as_slice() {
                [only] => only.digest.clone(),
                _ => None,
            });
            let details = TagDetails {
                digest,
                size_bytes: t.full_size,
                architectures,
                created_at: parse_time(t.tag_last_pushed.as_deref())
                    .or_else(|| parse_time(t.last_updated.as_deref())),
            };
            (t.name, Some(details))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}
