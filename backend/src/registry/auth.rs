//! Registry authentication: the `WWW-Authenticate` challenge (Basic or Bearer), token responses, and the
//! per-scope token cache.

use super::RegistryError;
use reqwest::Url;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How a registry asked to be authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Challenge {
    /// Send Basic credentials on every request.
    Basic,
    /// Get a token from `realm` for each scope.
    Bearer { realm: Url, service: Option<String> },
    /// A token obtained by logging in (Docker Hub's API).
    Token(String),
}

/// `key="value"` pairs of a challenge (commas inside quotes kept).
fn params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_owned());
        rest = remainder.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

impl Challenge {
    /// Parses a `WWW-Authenticate` header of a `GET /v2/` answered 401.
    pub(super) fn parse(header: &str, url: &Url) -> Result<Challenge, RegistryError> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Ok(Challenge::Basic),
            "bearer" => {
                let p = params(rest);
                let realm = p.get("realm").ok_or_else(|| RegistryError::InvalidJson {
                    path: url.path().to_owned(),
                    detail: "a Bearer challenge without realm".into(),
                })?;
                let realm = url.join(realm).map_err(|e| RegistryError::InvalidJson {
                    path: url.path().to_owned(),
                    detail: format!("bad token realm {realm:?}: {e}"),
                })?;
                if !matches!(realm.scheme(), "http" | "https") {
                    return Err(RegistryError::Settings(format!(
                        "the registry's token server {realm} is not http(s)"
                    )));
                }
                Ok(Challenge::Bearer {
                    realm,
                    service: p.get("service").cloned(),
                })
            }
            _ => Err(RegistryError::Status {
                status: 401,
                path: format!(
                    "{} (unsupported authentication scheme {scheme:?})",
                    url.path()
                ),
            }),
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// The token of a token-server answer and how long it lives (default 60 s).
pub(super) fn parse_token(body: &[u8], url: &Url) -> Result<(String, Duration), RegistryError> {
    let t: TokenResponse = super::parse_json(body, url)?;
    let token = t
        .token
        .or(t.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RegistryError::InvalidJson {
            path: url.path().to_owned(),
            detail: "no token in the answer".into(),
        })?;
    Ok((
        token,
        Duration::from_secs(t.expires_in.unwrap_or(60).max(1)),
    ))
}

/// Tokens by scope, each kept until shortly before it expires.
#[derive(Default)]
pub(super) struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenCache {
    pub(super) async fn get(&self, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().await;
        tokens
            .get(scope)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    pub(super) async fn put(&self, scope: &str, token: String, ttl: Duration) {
        // Renew a little early so a token does not expire in flight.
        let margin = (ttl / 10).min(Duration::from_secs(10));
        let until = Instant::now() + ttl.saturating_sub(margin);
        self.tokens
            .lock()
            .await
            .insert(scope.to_owned(), (token, until));
    }

    pub(super) async fn forget(&self, scope: &str) {
        self.tokens.lock().await.remove(scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let url = Url::parse("https://registry-1.docker.io/v2/").unwrap();
        assert_eq!(
            Challenge::parse("Basic realm=\"berth-test\"", &url).unwrap(),
            Challenge::Basic
        );
        let c = Challenge::parse(
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"a,b\"",
            &url,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: Url::parse("https://auth.docker.io/token").unwrap(),
                service: Some("registry.docker.io".into()),
            }
        );
    }

    #[test]
    fn tokens_parse_with_either_field() {
        let url = Url::parse("https://auth/token").unwrap();
        let (t, ttl) = parse_token(br#"{"access_token":"x","expires_in":300}"#, &url).unwrap();
        assert_eq!((t.as_str(), ttl), ("x", Duration::from_secs(300)));
        let (t, ttl) = parse_token(br#"{"token":"y"}"#, &url).unwrap();
        assert_eq!((t.as_str(), ttl), ("y", Duration::from_secs(60)));
        assert!(parse_token(b"{}", &url).is_err());
        assert!(parse_token(b"garbage", &url).is_err());
    }
}
