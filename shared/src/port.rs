//! Published-port mappings (`8080:80`, `127.0.0.1::80/udp`, `[::1]:8080:80`) as typed, validated values.
//!
//! Accepted form: `[[host_ip:][host_port]:]container_port[/protocol]`, protocol `tcp` (default) or
//! `udp`, case-insensitive. An IPv6 host IP may be written in brackets (`[::1]:8080:80`) or bare
//! (`::1:8080:80`, read the way Docker reads it: the last two `:`-separated parts are the ports).
//! Port ranges (`8000-8010:8000-8010`) are refused: one mapping per port.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Transport protocol of a port. Serialised as `"TCP"` / `"UDP"` (the GraphQL enum); [`Protocol::as_str`]
/// and `Display` give Docker's lowercase spelling (`"tcp"`, as in `"80/tcp"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    /// TCP, the default.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// Docker's spelling: `"tcp"` or `"udp"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    /// Parses `tcp` / `udp`, ignoring ASCII case.
    pub fn parse(s: &str) -> Result<Protocol, PortError> {
        if s.eq_ignore_ascii_case("tcp") {
            Ok(Protocol::Tcp)
        } else if s.eq_ignore_ascii_case("udp") {
            Ok(Protocol::Udp)
        } else {
            Err(PortError::InvalidProtocol(s.to_owned()))
        }
    }
}

impl FromStr for Protocol {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::parse(s)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port mapping or port number is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Nothing was given.
    #[error("port mapping is empty; write e.g. 8080:80")]
    Empty,
    /// A range such as `8000-8010`.
    #[error("port ranges are not supported; add one mapping per port")]
    Range,
    /// A number outside 1–65535 (the number as written).
    #[error("port {0} is out of range; use a number from 1 to 65535")]
    OutOfRange(String),
    /// Not a number at all.
    #[error("invalid port \"{0}\": not a number")]
    NotANumber(String),
    /// The container port (the last part) is missing.
    #[error("port mapping \"{0}\" has no container port; write e.g. 8080:80")]
    MissingContainerPort(String),
    /// A protocol other than tcp or udp.
    #[error("unsupported protocol \"{0}\"; use tcp or udp")]
    InvalidProtocol(String),
    /// The host IP is not an IPv4 or IPv6 address.
    #[error("invalid host IP \"{0}\": expected an IPv4 or IPv6 address such as 127.0.0.1 or ::1")]
    InvalidHostIp(String),
    /// The mapping does not have the `[ip:][host_port:]container_port` shape.
    #[error("invalid port mapping \"{input}\": {reason}")]
    Malformed {
        /// The mapping as written.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// One published port: `host_ip:host_port → container_port/protocol`.
///
/// Serialises as its canonical string ([`fmt::Display`]) and deserialises through [`PortSpec::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortSpec {
    host_ip: Option<String>,
    host_port: Option<u16>,
    container_port: u16,
    protocol: Protocol,
}

impl PortSpec {
    /// Builds a mapping from structured input (e.g. a GraphQL input object), validating every part.
    /// `host_ip` may be bare or bracketed IPv6; an empty `host_ip` means none.
    pub fn new(
        host_ip: Option<&str>,
        host_port: Option<u32>,
        container_port: u32,
        protocol: Protocol,
    ) -> Result<PortSpec, PortError> {
        let host_ip = match host_ip {
            Some(ip) if !ip.is_empty() => {
                let bare = ip
                    .strip_prefix('[')
                    .and_then(|rest| rest.strip_suffix(']'))
                    .unwrap_or(ip);
                Some(parse_ip(bare, ip)?)
            }
            _ => None,
        };
        Ok(PortSpec {
            host_ip,
            host_port: host_port.map(PortSpec::validate_port).transpose()?,
            container_port: PortSpec::validate_port(container_port)?,
            protocol,
        })
    }

    /// Checks that `port` is within 1–65535.
    pub fn validate_port(port: u32) -> Result<u16, PortError> {
        match u16::try_from(port) {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(PortError::OutOfRange(port.to_string())),
        }
    }

    /// Parses `80`, `8080:80`, `127.0.0.1:8080:80/udp`, `127.0.0.1::80`, `[::1]:8080:80`, …
    pub fn parse(input: &str) -> Result<PortSpec, PortError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PortError::Empty);
        }
        let (mapping, protocol) = match trimmed.rsplit_once('/') {
            Some((mapping, protocol)) => (mapping, Protocol::parse(protocol)?),
            None => (trimmed, Protocol::Tcp),
        };

        let (ip, host_port, container_port) = if let Some(rest) = mapping.strip_prefix('[') {
            let malformed = |reason: &str| PortError::Malformed {
                input: trimmed.to_owned(),
                reason: reason.to_owned(),
            };
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| malformed("the IPv6 address has no closing \"]\""))?;
            let ports = after
                .strip_prefix(':')
                .ok_or_else(|| malformed("expected \":\" after the IPv6 address in brackets"))?;
            let (host_port, container_port) = ports.split_once(':').ok_or_else(|| {
                malformed("expected [ip]:host_port:container_port or [ip]::container_port")
            })?;
            (ip, host_port, container_port)
        } else {
            // Docker's rule: the last part is the container port, the one before it the host
            // port, and anything before that (rejoined with ':') the host IP.
            let mut parts = mapping.rsplitn(3, ':');
            let container_port = parts.next().unwrap_or_default();
            let host_port = parts.next().unwrap_or_default();
            let ip = parts.next().unwrap_or_default();
            (ip, host_port, container_port)
        };

        if is_range(host_port) || is_range(container_port) {
            return Err(PortError::Range);
        }
        if container_port.is_empty() {
            return Err(PortError::MissingContainerPort(trimmed.to_owned()));
        }
        let container_port = parse_port(container_port)?;
        let host_port = if host_port.is_empty() {
            None
        } else {
            Some(parse_port(host_port)?)
        };
        let host_ip = if ip.is_empty() {
            None
        } else {
            Some(parse_ip(ip, ip)?)
        };
        Ok(PortSpec {
            host_ip,
            host_port,
            container_port,
            protocol,
        })
    }

    /// The host address to bind, normalised (`127.0.0.1`, `::1`, no brackets); `None` means all.
    pub fn host_ip(&self) -> Option<&str> {
        self.host_ip.as_deref()
    }

    /// The host port; `None` lets Docker pick one.
    pub fn host_port(&self) -> Option<u16> {
        self.host_port
    }

    /// The port inside the container.
    pub fn container_port(&self) -> u16 {
        self.container_port
    }

    /// TCP or UDP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Docker's key for exposed ports and port bindings: `"80/tcp"`.
    pub fn docker_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }
}

impl fmt::Display for PortSpec {
    /// Canonical form, always with the protocol: `80/tcp`, `8080:80/tcp`, `127.0.0.1::80/udp`,
    /// `[::1]:8080:80/tcp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = &self.host_ip {
            if ip.contains(':') {
                write!(f, "[{ip}]:")?;
            } else {
                write!(f, "{ip}:")?;
            }
            if let Some(host_port) = self.host_port {
                write!(f, "{host_port}")?;
            }
            f.write_str(":")?;
        } else if let Some(host_port) = self.host_port {
            write!(f, "{host_port}:")?;
        }
        write!(f, "{}/{}", self.container_port, self.protocol)
    }
}

impl FromStr for PortSpec {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortSpec::parse(s)
    }
}

impl TryFrom<String> for PortSpec {
    type Error = PortError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        PortSpec::parse(&value)
    }
}

impl From<PortSpec> for String {
    fn from(value: PortSpec) -> Self {
        value.to_string()
    }
}

/// `8000-8010`: digits, a dash, digits.
fn is_range(s: &str) -> bool {
    s.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

fn parse_port(s: &str) -> Result<u16, PortError> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(PortError::NotANumber(s.to_owned()));
    }
    match s.parse::<u32>() {
        Ok(port) => PortSpec::validate_port(port).map_err(|_| PortError::OutOfRange(s.to_owned())),
        Err(_) => Err(PortError::OutOfRange(s.to_owned())),
    }
}

/// Parses `bare` as an IP address; errors name `as_written`.
fn parse_ip(bare: &str, as_written: &str) -> Result<String, PortError> {
    bare.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| PortError::InvalidHostIp(as_written.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(input: &str) -> PortSpec {
        match PortSpec::parse(input) {
            Ok(spec) => spec,
            Err(e) => panic!("{input:?} should parse, got: {e}"),
        }
    }

    fn err(input: &str) -> String {
        match PortSpec::parse(input) {
            Ok(spec) => panic!("{input:?} should be rejected, parsed as {spec}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_forms() {
        let s = spec("80");
        assert_eq!(
            (s.host_ip(), s.host_port(), s.container_port(), s.protocol()),
            (None, None, 80, Protocol::Tcp)
        );
        let s = spec("8080:80");
        assert_eq!(
            (s.host_ip(), s.host_port(), s.container_port()),
            (None, Some(8080), 80)
        );
        let s = spec("127.0.0.1:8080:80/udp");
        assert_eq!(
            (s.host_ip(), s.host_port(), s.container_port(), s.protocol()),
            (Some("127.0.0.1"), Some(8080), 80, Protocol::Udp)
        );
        let s = spec("127.0.0.1::80");
        assert_eq!(
            (s.host_ip(), s.host_port(), s.container_port()),
            (Some("127.0.0.1"), None, 80)
        );
        let s = spec("[::1]:8080:80");
        assert_eq!(
            (s.host_ip(), s.host_port(), s.container_port()),
            (Some("::1"), Some(8080), 80)
        );
        let s = spec("[::1]::53/UDP");
        assert_eq!(
            (s.host_ip(), s.host_port(), s.protocol()),
            (Some("::1"), None, Protocol::Udp)
        );
        let s = spec("::1:8080:80");
        assert_eq!((s.host_ip(), s.host_port()), (Some("::1"), Some(8080)));
        assert_eq!(spec("80/TCP").protocol(), Protocol::Tcp);
        assert_eq!(spec("80/Udp").protocol(), Protocol::Udp);
        assert_eq!(spec(" 1:65535 ").container_port(), 65535);
        assert_eq!(spec(":80").host_port(), None);
    }

    #[test]
    fn canonical_display_round_trips() {
        for (input, canonical) in [
            ("80", "80/tcp"),
            ("8080:80", "8080:80/tcp"),
            ("127.0.0.1:8080:80/udp", "127.0.0.1:8080:80/udp"),
            ("127.0.0.1::80", "127.0.0.1::80/tcp"),
            ("[::1]:8080:80", "[::1]:8080:80/tcp"),
            ("[0:0::1]::80/UDP", "[::1]::80/udp"),
            ("::1:8080:80", "[::1]:8080:80/tcp"),
            ("0.0.0.0:443:443/tcp", "0.0.0.0:443:443/tcp"),
        ] {
            assert_eq!(spec(input).to_string(), canonical, "{input}");
            assert_eq!(spec(canonical).to_string(), canonical, "{canonical}");
        }
        assert_eq!(spec("8080:80/udp").docker_key(), "80/udp");
    }

    #[test]
    fn rejects_ranges() {
        for input in [
            "8000-8010:8000-8010",
            "8000-8010:80",
            "80-81",
            "1.2.3.4:8000-8010:80/udp",
        ] {
            assert_eq!(
                err(input),
                "port ranges are not supported; add one mapping per port",
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_out_of_range_and_junk() {
        assert_eq!(
            err("0"),
            "port 0 is out of range; use a number from 1 to 65535"
        );
        assert!(err("70000").contains("port 70000 is out of range"));
        assert!(err("70000:80").contains("port 70000 is out of range"));
        assert!(err("8080:0").contains("port 0 is out of range"));
        assert!(
            err("99999999999999999999999").contains("port 99999999999999999999999 is out of range")
        );
        assert_eq!(err("http"), "invalid port \"http\": not a number");
        assert!(err("-1").contains("invalid port \"-1\""));
        assert!(err("8080:").contains("has no container port"));
        assert_eq!(err(""), "port mapping is empty; write e.g. 8080:80");
        assert_eq!(err("  "), "port mapping is empty; write e.g. 8080:80");
        assert!(err("80/sctp").contains("unsupported protocol \"sctp\"; use tcp or udp"));
        assert!(err("80/").contains("unsupported protocol \"\""));
        assert!(err("80 /tcp").contains("invalid port \"80 \""));
    }

    #[test]
    fn rejects_bad_ips() {
        assert!(err("localhost:8080:80").contains("invalid host IP \"localhost\""));
        assert!(err("256.0.0.1:8080:80").contains("invalid host IP \"256.0.0.1\""));
        assert!(err("[::g]:8080:80").contains("invalid host IP \"::g\""));
        assert!(err("[::1:8080:80").contains("no closing \"]\""));
        assert!(err("[::1]8080:80").contains("expected \":\" after the IPv6 address"));
        assert!(err("[::1]:80").contains("expected [ip]:host_port:container_port"));
    }

    #[test]
    fn validate_port_helper() {
        assert_eq!(PortSpec::validate_port(1), Ok(1));
        assert_eq!(PortSpec::validate_port(65535), Ok(65535));
        assert_eq!(
            PortSpec::validate_port(0),
            Err(PortError::OutOfRange("0".into()))
        );
        let e = PortSpec::validate_port(70000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "port 70000 is out of range; use a number from 1 to 65535"
        );
    }

    #[test]
    fn structured_constructor() {
        let s = PortSpec::new(Some("[::1]"), Some(8080), 80, Protocol::Udp).unwrap();
        assert_eq!(s.to_string(), "[::1]:8080:80/udp");
        let s = PortSpec::new(Some(""), None, 80, Protocol::Tcp).unwrap();
        assert_eq!(s.to_string(), "80/tcp");
        assert!(
            PortSpec::new(Some("nope"), None, 80, Protocol::Tcp)
                .unwrap_err()
                .to_string()
                .contains("invalid host IP \"nope\"")
        );
        assert_eq!(
            PortSpec::new(None, Some(0), 80, Protocol::Tcp),
            Err(PortError::OutOfRange("0".into()))
        );
        assert_eq!(
            PortSpec::new(None, None, 65536, Protocol::Tcp),
            Err(PortError::OutOfRange("65536".into()))
        );
    }

    #[test]
    fn protocol_names_and_serde() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StrDeserializer};
        assert_eq!(Protocol::Tcp.as_str(), "tcp");
        assert_eq!(Protocol::Udp.to_string(), "udp");
        assert_eq!("UDP".parse::<Protocol>(), Ok(Protocol::Udp));
        let de: StrDeserializer<'_, DeError> = "TCP".into_deserializer();
        assert_eq!(Protocol::deserialize(de), Ok(Protocol::Tcp));
        let de: StrDeserializer<'_, DeError> = "UDP".into_deserializer();
        assert_eq!(Protocol::deserialize(de), Ok(Protocol::Udp));
        let de: StrDeserializer<'_, DeError> = "127.0.0.1::80".into_deserializer();
        assert_eq!(
            PortSpec::deserialize(de).map(|s| s.to_string()),
            Ok("127.0.0.1::80/tcp".to_owned())
        );
        assert_eq!(String::from(spec("80")), "80/tcp");
    }
}
