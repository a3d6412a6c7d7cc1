//! Parsing and normalising Docker image references (`nginx`, `ghcr.io/o/app:1@sha256:…`) the way
//! Docker's `distribution/reference` package does.
//!
//! Grammar:
//!
//! ```text
//! reference := name [":" tag] ["@" digest]
//! name      := [domain "/"] path ; domain := host [":" port]
//! path      := component ("/" component)* ; component := [a-z0-9]+ (sep [a-z0-9]+)* ; sep := [_.] | "__" | "-"+
//! tag       := [\w][\w.-]{0,127}
//! digest    := algorithm ":" hex{32,}
//! ```
//!
//! Normalisation: without a domain the reference is on `docker.io`, and a one-component path there
//! gets `library/`. The first element is a domain only if it contains `.` or `:`, is `localhost`, or
//! has an uppercase letter. `index.docker.io` becomes `docker.io`. `:latest` is added only when there
//! is neither a tag nor a digest; `name:tag@digest` keeps both. A domain is written in lower case (host
//! names are case-insensitive, and credentials are matched by domain).
//!
//! Stricter than Docker on purpose: a first element that would be a domain only because it has an
//! uppercase letter (`UPPER/case`, no `.`, `:` or `localhost`) is refused as an uppercase repository name
//! — it is nearly always a Docker Hub name typed in the wrong case, not a registry host; a port must be
//! 1–65535; a reference is at most [`REFERENCE_MAX_LEN`] bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registry assumed when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of Docker Hub's registry, normalised to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Maximum length of the path (`library/nginx`), as in distribution/reference.
pub const PATH_MAX_LEN: usize = 255;
/// Maximum length of a tag.
pub const TAG_MAX_LEN: usize = 128;
/// Maximum length of a whole reference, in bytes: a host name (253), a port, a path (255), a tag (128) and a
/// digest fit with room to spare.
pub const REFERENCE_MAX_LEN: usize = 1_024;

/// A parsed, normalised image reference: `domain/path[:tag][@digest]`.
///
/// Serialises as its normalised string (`"docker.io/library/nginx:latest"`) and deserialises through
/// [`ImageRef::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// Nothing (or only whitespace) was given.
    #[error("image reference is empty")]
    Empty,
    /// Longer than [`REFERENCE_MAX_LEN`] bytes (the message does not repeat it).
    #[error("image reference is {0} bytes long; the maximum is {REFERENCE_MAX_LEN}")]
    TooLong(usize),
    /// Whitespace somewhere inside the reference.
    #[error("image reference \"{0}\" contains whitespace; remove the spaces")]
    Whitespace(String),
    /// A bare 64-character hex string: an image ID, not a name.
    #[error(
        "\"{0}\" looks like an image ID, not a reference; give a repository name such as nginx:1.25 \
         (an image ID cannot be pulled from a registry)"
    )]
    LooksLikeImageId(String),
    /// The registry host (and port) is malformed.
    #[error("invalid registry host \"{domain}\": {reason}")]
    InvalidDomain {
        /// The domain as written.
        domain: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The repository path has uppercase letters.
    #[error("invalid image reference: repository name \"{0}\" must be lowercase")]
    Uppercase(String),
    /// The repository path is malformed.
    #[error("invalid repository name \"{path}\": {reason}")]
    InvalidPath {
        /// The path as written.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The repository path (after normalisation) is longer than [`PATH_MAX_LEN`].
    #[error("repository name is {0} characters long; the maximum is 255")]
    PathTooLong(usize),
    /// The tag is malformed.
    #[error("invalid tag \"{tag}\": {reason}")]
    InvalidTag {
        /// The tag as written.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The digest is malformed.
    #[error("invalid digest \"{digest}\": {reason}")]
    InvalidDigest {
        /// The digest as written.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ImageRef {
    /// Parses and normalises a reference; see the module documentation for the rules.
    pub fn parse(input: &str) -> Result<ImageRef, ImageRefError> {
        if input.trim().is_empty() {
            return Err(ImageRefError::Empty);
        }
        if input.len() > REFERENCE_MAX_LEN {
            return Err(ImageRefError::TooLong(input.len()));
        }
        if input.chars().any(char::is_whitespace) {
            return Err(ImageRefError::Whitespace(input.to_owned()));
        }
        if input.len() == 64
            && input
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(ImageRefError::LooksLikeImageId(input.to_owned()));
        }

        let (domain, remainder) = split_domain(input);
        if remainder.len() != input.len() {
            // A first element that is a domain only because of its upper case (`UPPER/case`): a repository
            // name in the wrong case rather than a registry host.
            let looks_like_host = domain.contains(['.', ':']) || domain == "localhost";
            if !looks_like_host {
                let name = input.split(['@', ':']).next().unwrap_or(input);
                return Err(ImageRefError::Uppercase(name.to_owned()));
            }
        }
        validate_domain(domain)?;
        let domain = domain.to_ascii_lowercase();
        let domain = if domain == LEGACY_DEFAULT_DOMAIN {
            DEFAULT_DOMAIN
        } else {
            domain.as_str()
        };

        let (name_and_tag, digest) = match remainder.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (remainder, None),
        };
        // The domain is split off already, so the first ':' left starts the tag.
        let (path, tag) = match name_and_tag.split_once(':') {
            Some((path, tag)) => (path, Some(tag)),
            None => (name_and_tag, None),
        };

        if path.chars().any(char::is_uppercase) {
            return Err(ImageRefError::Uppercase(path.to_owned()));
        }
        validate_path(path)?;
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path.to_owned()
        };
        if path.len() > PATH_MAX_LEN {
            return Err(ImageRefError::PathTooLong(path.len()));
        }

        if let Some(tag) = tag {
            validate_tag(tag)?;
        }
        if let Some(digest) = digest {
            validate_digest(digest)?;
        }
        let tag = match (tag, digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag.map(str::to_owned),
        };

        Ok(ImageRef {
            domain: domain.to_owned(),
            path,
            tag,
            digest: digest.map(str::to_owned),
        })
    }

    /// The registry host, with its port if any: `docker.io`, `localhost:5000`, `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry: `library/nginx`, `owner/app`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any. `None` only when the reference has a digest and no tag.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `domain/path`, without tag or digest: `docker.io/library/nginx`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Whether the image lives on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DEFAULT_DOMAIN
    }

    /// The repository the way people write it: `nginx`, `user/app`, `ghcr.io/o/app`.
    pub fn familiar_name(&self) -> String {
        if self.is_docker_hub() {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.repository()
        }
    }

    /// The short form: `nginx:latest`, `user/app:1`, `ghcr.io/o/app@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_name();
        self.push_tag_and_digest(&mut out);
        out
    }

    fn push_tag_and_digest(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
    }
}

impl fmt::Display for ImageRef {
    /// The full normalised form: `docker.io/library/nginx:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.repository();
        self.push_tag_and_digest(&mut out);
        f.write_str(&out)
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

impl TryFrom<String> for ImageRef {
    type Error = ImageRefError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        ImageRef::parse(&value)
    }
}

impl From<ImageRef> for String {
    fn from(value: ImageRef) -> Self {
        value.to_string()
    }
}

/// Splits off the domain the way distribution's `splitDockerDomain` does.
fn split_domain(input: &str) -> (&str, &str) {
    match input.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(char::is_uppercase) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, input),
    }
}

fn domain_error(domain: &str, reason: impl Into<String>) -> ImageRefError {
    ImageRefError::InvalidDomain {
        domain: domain.to_owned(),
        reason: reason.into(),
    }
}

/// `host [":" port]`, host being a DNS name or a bracketed IPv6 address.
fn validate_domain(domain: &str) -> Result<(), ImageRefError> {
    let (host, port) = if let Some(inner) = domain.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err(domain_error(domain, "IPv6 address has no closing \"]\""));
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(domain_error(
                domain,
                "an IPv6 address in brackets may contain only hex digits and \":\"",
            ));
        }
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => {
                return Err(domain_error(
                    domain,
                    "only \":port\" may follow an IPv6 address in brackets",
                ));
            }
        };
        (None, port)
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };

    if let Some(host) = host {
        if host.is_empty() {
            return Err(domain_error(domain, "host name is empty"));
        }
        for label in host.split('.') {
            if label.is_empty() {
                return Err(domain_error(
                    domain,
                    "host name has an empty part (leading, trailing or doubled \".\")",
                ));
            }
            if let Some(bad) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
            {
                return Err(domain_error(
                    domain,
                    format!(
                        "character '{bad}' is not allowed in a host name; use letters, digits, \"-\" and \".\""
                    ),
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(domain_error(
                    domain,
                    format!("host name part \"{label}\" must not start or end with \"-\""),
                ));
            }
        }
    }

    if let Some(port) = port {
        if port.is_empty() {
            return Err(domain_error(domain, "port is empty after \":\""));
        }
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(domain_error(
                domain,
                format!("port \"{port}\" must be a number"),
            ));
        }
        if !port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p)) {
            return Err(domain_error(
                domain,
                format!("port {port} is out of range: use 1-65535"),
            ));
        }
    }
    Ok(())
}

fn path_error(path: &str, reason: impl Into<String>) -> ImageRefError {
    ImageRefError::InvalidPath {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// `component ("/" component)*`; the path is already known to have no uppercase letters.
fn validate_path(path: &str) -> Result<(), ImageRefError> {
    if path.is_empty() {
        return Err(path_error(path, "the repository name is missing"));
    }
    if path.starts_with('/') {
        return Err(path_error(path, "must not start with \"/\""));
    }
    if path.ends_with('/') {
        return Err(path_error(path, "must not end with \"/\""));
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(path_error(path, "contains an empty component (\"//\")"));
        }
        validate_component(path, component)?;
    }
    Ok(())
}

/// `[a-z0-9]+ (sep [a-z0-9]+)*` with `sep := [_.] | "__" | "-"+`.
fn validate_component(path: &str, component: &str) -> Result<(), ImageRefError> {
    let is_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let is_sep = |c: char| matches!(c, '.' | '_' | '-');
    if let Some(bad) = component.chars().find(|c| !is_alnum(*c) && !is_sep(*c)) {
        return Err(path_error(
            path,
            format!(
                "character '{bad}' is not allowed; use lowercase letters, digits, \".\", \"_\", \"-\" and \"/\""
            ),
        ));
    }
    if component.starts_with(is_sep) {
        return Err(path_error(
            path,
            format!("\"{component}\" must start with a lowercase letter or digit"),
        ));
    }
    if component.ends_with(is_sep) {
        return Err(path_error(
            path,
            format!("\"{component}\" must end with a lowercase letter or digit"),
        ));
    }
    // Every maximal run of separator characters must be one allowed separator.
    for run in component.split(is_alnum).filter(|run| !run.is_empty()) {
        let valid = run == "." || run == "_" || run == "__" || run.chars().all(|c| c == '-');
        if !valid {
            return Err(path_error(
                path,
                format!(
                    "\"{run}\" is not a valid separator; use \".\", \"_\", \"__\" or one or more \"-\" between letters or digits"
                ),
            ));
        }
    }
    Ok(())
}

fn tag_error(tag: &str, reason: impl Into<String>) -> ImageRefError {
    ImageRefError::InvalidTag {
        tag: tag.to_owned(),
        reason: reason.into(),
    }
}

/// `[\w][\w.-]{0,127}`.
fn validate_tag(tag: &str) -> Result<(), ImageRefError> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let Some(first) = tag.chars().next() else {
        return Err(tag_error(
            tag,
            "the tag is empty; remove the \":\" or write a tag after it",
        ));
    };
    if !is_word(first) {
        return Err(tag_error(tag, "must start with a letter, digit or \"_\""));
    }
    if let Some(bad) = tag.chars().find(|c| !is_word(*c) && *c != '.' && *c != '-') {
        return Err(tag_error(
            tag,
            format!(
                "character '{bad}' is not allowed; use letters, digits, \"_\", \".\" and \"-\""
            ),
        ));
    }
    if tag.len() > TAG_MAX_LEN {
        return Err(tag_error(
            tag,
            format!("it is {} characters long; the maximum is 128", tag.len()),
        ));
    }
    Ok(())
}

fn digest_error(digest: &str, reason: impl Into<String>) -> ImageRefError {
    ImageRefError::InvalidDigest {
        digest: digest.to_owned(),
        reason: reason.into(),
    }
}

/// `algorithm ":" hex{32,}`, algorithm being `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`.
///
/// For the registered algorithms (`sha256`, `sha384`, `sha512`) the hex part must also have the
/// algorithm's exact length and be lowercase, as Docker's digest parser requires.
fn validate_digest(digest: &str) -> Result<(), ImageRefError> {
    if digest.is_empty() {
        return Err(digest_error(
            digest,
            "the digest is empty; remove the \"@\" or write a digest such as sha256:… after it",
        ));
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(digest_error(
            digest,
            "expected algorithm:hex, e.g. sha256:<64 hex digits>",
        ));
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['-', '_', '+', '.']).all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric())
        });
    if !algorithm_ok {
        return Err(digest_error(
            digest,
            format!("\"{algorithm}\" is not a valid digest algorithm name"),
        ));
    }
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(digest_error(
            digest,
            format!("character '{bad}' is not a hex digit"),
        ));
    }
    if hex.len() < 32 {
        return Err(digest_error(
            digest,
            format!(
                "the hex part has {} digits; at least 32 are needed",
                hex.len()
            ),
        ));
    }
    let expected = match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    if let Some(expected) = expected {
        if hex.len() != expected {
            return Err(digest_error(
                digest,
                format!(
                    "a {algorithm} digest has {expected} hex digits, this one has {}",
                    hex.len()
                ),
            ));
        }
        if hex.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(digest_error(
                digest,
                format!("{algorithm} digests are written in lowercase hex"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn norm(input: &str) -> String {
        match ImageRef::parse(input) {
            Ok(r) => r.to_string(),
            Err(e) => panic!("{input:?} should parse, got: {e}"),
        }
    }

    fn err(input: &str) -> String {
        match ImageRef::parse(input) {
            Ok(r) => panic!("{input:?} should be rejected, parsed as {r}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn normalisation_table() {
        let sha = format!("sha256:{HEX64}");
        let cases: Vec<(String, String)> = vec![
            ("nginx".into(), "docker.io/library/nginx:latest".into()),
            ("nginx:1.25".into(), "docker.io/library/nginx:1.25".into()),
            (
                "nginx:latest".into(),
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "library/nginx".into(),
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "docker.io/nginx".into(),
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "docker.io/library/nginx".into(),
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "index.docker.io/nginx".into(),
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "index.docker.io/user/app:1".into(),
                "docker.io/user/app:1".into(),
            ),
            ("user/app".into(), "docker.io/user/app:latest".into()),
            ("user/app:1".into(), "docker.io/user/app:1".into()),
            ("a/b/c".into(), "docker.io/a/b/c:latest".into()),
            ("localhost/foo".into(), "localhost/foo:latest".into()),
            ("localhost:5000/x".into(), "localhost:5000/x:latest".into()),
            // Without a "/" the first element is not a domain, whatever it looks like.
            (
                "localhost".into(),
                "docker.io/library/localhost:latest".into(),
            ),
            (
                "localhost:5000".into(),
                "docker.io/library/localhost:5000".into(),
            ),
            (
                "127.0.0.1:5000/tools/busybox:1.35".into(),
                "127.0.0.1:5000/tools/busybox:1.35".into(),
            ),
            (
                "ghcr.io/owner/repo".into(),
                "ghcr.io/owner/repo:latest".into(),
            ),
            (
                "quay.io/a/b/c:v1.2-rc.3".into(),
                "quay.io/a/b/c:v1.2-rc.3".into(),
            ),
            (
                "my-registry.example.com:443/team/app".into(),
                "my-registry.example.com:443/team/app:latest".into(),
            ),
            ("[::1]:5000/foo".into(), "[::1]:5000/foo:latest".into()),
            (
                "[2001:db8::1]/foo/bar".into(),
                "[2001:db8::1]/foo/bar:latest".into(),
            ),
            // A domain is written in lower case.
            (
                "Registry.Example.COM:5000/team/app".into(),
                "registry.example.com:5000/team/app:latest".into(),
            ),
            ("LOCALHOST:5000/x".into(), "localhost:5000/x:latest".into()),
            (
                "Index.Docker.IO/nginx".into(),
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "localhost:65535/x".into(),
                "localhost:65535/x:latest".into(),
            ),
            (
                format!("nginx@{sha}"),
                format!("docker.io/library/nginx@{sha}"),
            ),
            (
                format!("nginx:1.25@{sha}"),
                format!("docker.io/library/nginx:1.25@{sha}"),
            ),
            (
                format!("ghcr.io/o/app@{sha}"),
                format!("ghcr.io/o/app@{sha}"),
            ),
            ("a.b/c".into(), "a.b/c:latest".into()),
            ("foo_bar".into(), "docker.io/library/foo_bar:latest".into()),
            (
                "foo__bar".into(),
                "docker.io/library/foo__bar:latest".into(),
            ),
            ("foo.bar".into(), "docker.io/library/foo.bar:latest".into()),
            ("foo-bar".into(), "docker.io/library/foo-bar:latest".into()),
            (
                "foo--bar".into(),
                "docker.io/library/foo--bar:latest".into(),
            ),
            ("0/1".into(), "docker.io/0/1:latest".into()),
            ("nginx:_x".into(), "docker.io/library/nginx:_x".into()),
            (
                "nginx:UPPER.case-ok".into(),
                "docker.io/library/nginx:UPPER.case-ok".into(),
            ),
            // 63 hex digits is a name, not an ID.
            (
                HEX64[..63].into(),
                format!("docker.io/library/{}:latest", &HEX64[..63]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(norm(&input), expected, "normalising {input:?}");
            // The normalised form is a fixed point.
            assert_eq!(norm(&expected), expected, "re-normalising {expected:?}");
        }
    }

    #[test]
    fn accessors() {
        let r = ImageRef::parse("127.0.0.1:5000/tools/busybox:1.35").unwrap();
        assert_eq!(r.domain(), "127.0.0.1:5000");
        assert_eq!(r.path(), "tools/busybox");
        assert_eq!(r.tag(), Some("1.35"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.repository(), "127.0.0.1:5000/tools/busybox");
        assert!(!r.is_docker_hub());

        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.path(), "library/nginx");
        assert_eq!(r.tag(), Some("latest"));
        assert_eq!(r.repository(), "docker.io/library/nginx");
        assert!(r.is_docker_hub());

        let sha = format!("sha256:{HEX64}");
        let r = ImageRef::parse(&format!("ghcr.io/o/app@{sha}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(sha.as_str()));

        let r = ImageRef::parse(&format!("app:2@{sha}")).unwrap();
        assert_eq!(r.tag(), Some("2"));
        assert_eq!(r.digest(), Some(sha.as_str()));
    }

    #[test]
    fn familiar_forms() {
        let familiar = |s: &str| ImageRef::parse(s).unwrap().familiar();
        assert_eq!(familiar("nginx"), "nginx:latest");
        assert_eq!(familiar("docker.io/library/nginx:1.25"), "nginx:1.25");
        assert_eq!(familiar("index.docker.io/user/app:1"), "user/app:1");
        assert_eq!(familiar("library/a/b"), "library/a/b:latest");
        assert_eq!(familiar("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(familiar("ghcr.io/o/app:v1"), "ghcr.io/o/app:v1");
        let sha = format!("sha256:{HEX64}");
        assert_eq!(familiar(&format!("nginx@{sha}")), format!("nginx@{sha}"));
        assert_eq!(
            ImageRef::parse("user/app").unwrap().familiar_name(),
            "user/app"
        );
    }

    #[test]
    fn from_str_and_serde() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StrDeserializer};
        let r: ImageRef = "nginx:1".parse().unwrap();
        assert_eq!(String::from(r.clone()), "docker.io/library/nginx:1");
        let de: StrDeserializer<'_, DeError> = "nginx:1".into_deserializer();
        assert_eq!(ImageRef::deserialize(de), Ok(r));
        let de: StrDeserializer<'_, DeError> = "NGINX".into_deserializer();
        let e = ImageRef::deserialize(de).unwrap_err();
        assert!(e.to_string().contains("must be lowercase"));
    }

    #[test]
    fn rejects_empty_and_whitespace() {
        assert_eq!(err(""), "image reference is empty");
        assert_eq!(err("   "), "image reference is empty");
        assert!(err(" nginx").contains("contains whitespace"));
        assert!(err("nginx ").contains("contains whitespace"));
        assert!(err("nginx :1").contains("contains whitespace"));
        assert!(err("ngi\tnx").contains("contains whitespace"));
    }

    #[test]
    fn rejects_image_ids() {
        let e = err(HEX64);
        assert!(e.contains("looks like an image ID, not a reference"), "{e}");
    }

    #[test]
    fn rejects_uppercase_paths() {
        assert_eq!(
            err("NGINX"),
            "invalid image reference: repository name \"NGINX\" must be lowercase"
        );
        assert!(err("foo/Bar").contains("repository name \"foo/Bar\" must be lowercase"));
        assert!(err("ghcr.io/Owner/app").contains("must be lowercase"));
        // Upper case makes the first element a domain in Docker's rules; without ".", ":" or "localhost" it
        // is a repository name in the wrong case.
        assert_eq!(
            err("UPPER/case"),
            "invalid image reference: repository name \"UPPER/case\" must be lowercase"
        );
        assert!(err("Foo/Bar").contains("\"Foo/Bar\" must be lowercase"));
        assert!(err("Foo/bar:1.0").contains("\"Foo/bar\" must be lowercase"));
    }

    #[test]
    fn rejects_bad_separators_and_components() {
        assert!(err("a//b").contains("empty component"));
        assert!(err("/nginx").contains("must not start with \"/\""));
        assert!(err("nginx/").contains("must not end with \"/\""));
        assert!(err("docker.io/").contains("the repository name is missing"));
        assert!(err(":tag").contains("the repository name is missing"));
        assert!(err("-nginx").contains("must start with a lowercase letter or digit"));
        assert!(err("nginx-").contains("must end with a lowercase letter or digit"));
        assert!(err("a/.b").contains("must start with a lowercase letter or digit"));
        assert!(err("a/b_").contains("must end with a lowercase letter or digit"));
        assert!(err("a..b").contains("\"..\" is not a valid separator"));
        assert!(err("a___b").contains("\"___\" is not a valid separator"));
        assert!(err("a_-b").contains("\"_-\" is not a valid separator"));
        assert!(err("a.-b").contains("\".-\" is not a valid separator"));
        assert!(err("a-.b").contains("is not a valid separator"));
        assert!(err("a+b").contains("character '+' is not allowed"));
        assert!(err("ngïnx").contains("character 'ï' is not allowed"));
    }

    #[test]
    fn rejects_bad_domains() {
        assert!(err(":5000/foo").contains("host name is empty"));
        assert!(err("localhost:/foo").contains("port is empty"));
        assert!(err("localhost:50a/foo").contains("port \"50a\" must be a number"));
        assert!(err("a..b/c").contains("empty part"));
        assert!(err(".example.com/c").contains("empty part"));
        assert!(err("-bad.com/c").contains("must not start or end with \"-\""));
        assert!(err("bad_host.com/c").contains("character '_' is not allowed in a host name"));
        assert!(err("[::1/foo").contains("no closing \"]\""));
        assert!(err("[]:5000/foo").contains("IPv6 address in brackets"));
        assert!(err("[::g]/foo").contains("IPv6 address in brackets"));
        assert!(err("[::1]x/foo").contains("only \":port\" may follow"));
        assert!(err("127.0.0.1:99999/x").contains("port 99999 is out of range: use 1-65535"));
        assert!(err("localhost:0/x").contains("port 0 is out of range"));
        assert!(err("[::1]:65536/x").contains("port 65536 is out of range"));
        assert!(err("localhost:99999999999999999999/x").contains("out of range"));
        let e = err("a:1:2/foo");
        assert!(e.starts_with("invalid registry host \"a:1:2\""), "{e}");
    }

    #[test]
    fn tags() {
        assert!(err("nginx:").contains("the tag is empty"));
        assert!(
            err("nginx:.x")
                .contains("invalid tag \".x\": must start with a letter, digit or \"_\"")
        );
        assert!(err("nginx:-x").contains("must start with a letter, digit or \"_\""));
        assert!(err("nginx:a:b").contains("invalid tag \"a:b\": character ':' is not allowed"));
        // With a "/" after it, "nginx:a" is read as a registry host with port "a".
        assert!(err("nginx:a/b").contains("port \"a\" must be a number"));
        let longest = "t".repeat(128);
        assert_eq!(
            norm(&format!("nginx:{longest}")),
            format!("docker.io/library/nginx:{longest}")
        );
        let e = err(&format!("nginx:{}", "t".repeat(129)));
        assert!(e.contains("129 characters long; the maximum is 128"), "{e}");
    }

    #[test]
    fn digests() {
        assert!(err("nginx@").contains("the digest is empty"));
        assert!(err(&format!("nginx@{HEX64}")).contains("expected algorithm:hex"));
        assert!(err(&format!("nginx@1sha:{HEX64}")).contains("not a valid digest algorithm name"));
        assert!(err(&format!("nginx@:{HEX64}")).contains("not a valid digest algorithm name"));
        assert!(err("nginx@sha256:abc").contains("has 3 digits; at least 32 are needed"));
        assert!(
            err(&format!("nginx@sha256:{}", "z".repeat(64))).contains("'z' is not a hex digit")
        );
        let e = err(&format!("nginx@sha256:{}", &HEX64[..40]));
        assert!(
            e.contains("a sha256 digest has 64 hex digits, this one has 40"),
            "{e}"
        );
        let e = err(&format!("nginx@sha256:{}", HEX64.to_uppercase()));
        assert!(e.contains("lowercase hex"), "{e}");
        assert!(err(&format!("nginx@sha256:{HEX64}@x")).contains("invalid digest"));
        // Other algorithms follow the grammar only.
        let other = format!("docker.io/library/nginx@multihash+base58:{}", &HEX64[..32]);
        assert_eq!(norm(&other), other);
        let sha512 = format!("sha512:{HEX64}{HEX64}");
        assert_eq!(
            norm(&format!("nginx@{sha512}")),
            format!("docker.io/library/nginx@{sha512}")
        );
    }

    #[test]
    fn reference_length_limit() {
        let e = err(&format!("ghcr.io/{}", "a/".repeat(50_000)));
        assert_eq!(
            e,
            "image reference is 100008 bytes long; the maximum is 1024"
        );
    }

    #[test]
    fn path_length_limit() {
        // "library/" (8) + 247 = 255: allowed; one more is too long.
        let ok = "a".repeat(247);
        assert_eq!(norm(&ok), format!("docker.io/library/{ok}:latest"));
        let e = err(&"a".repeat(248));
        assert_eq!(
            e,
            "repository name is 256 characters long; the maximum is 255"
        );
        let ok = format!("ghcr.io/{}", "b".repeat(255));
        assert_eq!(norm(&ok), format!("{ok}:latest"));
        assert!(err(&format!("ghcr.io/{}", "b".repeat(256))).contains("256 characters long"));
    }
}
