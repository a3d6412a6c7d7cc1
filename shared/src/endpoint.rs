//! Docker host endpoints (`unix:///path`, `tcp://host:port`), parsed the same way by the server and the web app.

use std::fmt;

/// Longest endpoint accepted, in bytes (a host name is at most 253 characters; a socket path at most
/// [`UNIX_PATH_MAX`] bytes).
pub const ENDPOINT_MAX: usize = 512;
/// Longest unix socket path, in bytes: `sun_path` holds 108 bytes including the terminating NUL.
pub const UNIX_PATH_MAX: usize = 107;

/// Where a Docker engine listens. TLS is a property of the host (certificates given), not of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEndpoint {
    /// An absolute path to the engine's unix socket.
    Unix(String),
    /// A TCP address; `host` is a name, an IPv4 address, or an IPv6 address without brackets.
    Tcp { host: String, port: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint is empty; use unix:///var/run/docker.sock or tcp://host:2375")]
    Empty,
    #[error("endpoint must start with unix:// or tcp:// (got \"{0}\")")]
    Scheme(String),
    #[error("unix socket path must be absolute, e.g. unix:///var/run/docker.sock")]
    RelativePath,
    #[error("endpoint has no host; use tcp://host:port")]
    NoHost,
    #[error("endpoint has no port; add it, e.g. tcp://{0}:2375 (2376 with TLS)")]
    NoPort(String),
    #[error("port {0} is out of range: use 1-65535")]
    PortRange(String),
    #[error("\"{0}\" is not a valid host name or IP address")]
    BadHost(String),
    #[error("a tcp endpoint is only host and port, without a path (got \"{0}\")")]
    Path(String),
    #[error("the endpoint is {0} bytes long; the maximum is {ENDPOINT_MAX}")]
    TooLong(usize),
    #[error("the endpoint must not contain control characters such as NUL or line breaks")]
    Control,
    #[error("unix socket path is {0} bytes long; a socket path has at most {UNIX_PATH_MAX} bytes")]
    SocketPathTooLong(usize),
    #[error(
        "a tcp endpoint carries no user name or password (Docker's TCP API authenticates with TLS client certificates); remove the part before \"@\""
    )]
    UserInfo,
}

impl HostEndpoint {
    pub fn parse(input: &str) -> Result<HostEndpoint, EndpointError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(EndpointError::Empty);
        }
        if input.len() > ENDPOINT_MAX {
            return Err(EndpointError::TooLong(input.len()));
        }
        if input.chars().any(char::is_control) {
            return Err(EndpointError::Control);
        }
        if let Some(path) = input.strip_prefix("unix://") {
            if !path.starts_with('/') || path.len() < 2 {
                return Err(EndpointError::RelativePath);
            }
            if path.len() > UNIX_PATH_MAX {
                return Err(EndpointError::SocketPathTooLong(path.len()));
            }
            return Ok(HostEndpoint::Unix(path.to_owned()));
        }
        let Some(rest) = input.strip_prefix("tcp://") else {
            let scheme = input.split("://").next().unwrap_or(input);
            return Err(EndpointError::Scheme(if input.contains("://") {
                format!("{scheme}://")
            } else {
                input.to_owned()
            }));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(EndpointError::Path(rest.to_owned()));
        }
        if rest.is_empty() {
            return Err(EndpointError::NoHost);
        }
        if rest.contains('@') {
            return Err(EndpointError::UserInfo);
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| EndpointError::BadHost(rest.to_owned()))?;
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(EndpointError::BadHost(addr.to_owned()));
            }
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| EndpointError::NoPort(format!("[{addr}]")))?;
            (addr.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p),
                None => return Err(EndpointError::NoPort(rest.to_owned())),
            }
        };
        if host.is_empty() {
            return Err(EndpointError::NoHost);
        }
        // A host with ":" is an IPv6 address written without brackets (`tcp://::1:2375`); anything else
        // must be a host name or an IPv4 address.
        let valid = if host.contains(':') {
            host.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            valid_hostname(&host)
        };
        if !valid {
            return Err(EndpointError::BadHost(host));
        }
        if port.is_empty() {
            return Err(EndpointError::NoPort(host));
        }
        let port = match port.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => p as u16,
            _ => return Err(EndpointError::PortRange(port.to_owned())),
        };
        Ok(HostEndpoint::Tcp { host, port })
    }
}

fn valid_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl fmt::Display for HostEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostEndpoint::Unix(path) => write!(f, "unix://{path}"),
            HostEndpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            HostEndpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_unix_and_tcp() {
        assert_eq!(
            HostEndpoint::parse("unix:///var/run/docker.sock").unwrap(),
            HostEndpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            HostEndpoint::parse(" tcp://127.0.0.1:2375 ").unwrap(),
            HostEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 2375
            }
        );
        assert_eq!(
            HostEndpoint::parse("tcp://docker-1.example.com:2376/")
                .unwrap()
                .to_string(),
            "tcp://docker-1.example.com:2376"
        );
        assert_eq!(
            HostEndpoint::parse("tcp://[::1]:2375").unwrap().to_string(),
            "tcp://[::1]:2375"
        );
        assert_eq!(
            HostEndpoint::parse("tcp://::1:2375").unwrap().to_string(),
            "tcp://[::1]:2375"
        );
    }

    #[test]
    fn refuses_bad_endpoints_with_reasons() {
        let err = |s: &str| HostEndpoint::parse(s).unwrap_err();
        assert_eq!(err(""), EndpointError::Empty);
        assert_eq!(err("   "), EndpointError::Empty);
        assert_eq!(err("ftp://x"), EndpointError::Scheme("ftp://".into()));
        assert_eq!(
            err("localhost:2375"),
            EndpointError::Scheme("localhost:2375".into())
        );
        assert_eq!(
            err("unix://var/run/docker.sock"),
            EndpointError::RelativePath
        );
        assert_eq!(err("tcp://"), EndpointError::NoHost);
        assert_eq!(err("tcp://:2375"), EndpointError::NoHost);
        assert_eq!(err("tcp://host"), EndpointError::NoPort("host".into()));
        assert_eq!(err("tcp://host:0"), EndpointError::PortRange("0".into()));
        assert_eq!(
            err("tcp://host:70000"),
            EndpointError::PortRange("70000".into())
        );
        assert_eq!(
            err("tcp://host:abc"),
            EndpointError::PortRange("abc".into())
        );
        assert_eq!(
            err("tcp://bad_host!:2375"),
            EndpointError::BadHost("bad_host!".into())
        );
        assert_eq!(
            err("tcp://host:2375/v1"),
            EndpointError::Path("host:2375/v1".into())
        );
        assert!(err("tcp://host:70000").to_string().contains("1-65535"));
        assert_eq!(err("tcp://user:pw@127.0.0.1:1"), EndpointError::UserInfo);
        assert_eq!(err("tcp://user@127.0.0.1:1"), EndpointError::UserInfo);
        assert_eq!(err("tcp://a:b:2375"), EndpointError::BadHost("a:b".into()));
        assert_eq!(err("unix:///run/do\0cker.sock"), EndpointError::Control);
        assert_eq!(err("unix:///run/docker\n.sock"), EndpointError::Control);
        assert_eq!(err("tcp://host\n:2375"), EndpointError::Control);
        let longest = format!("unix:///{}", "s".repeat(UNIX_PATH_MAX - 1));
        assert!(HostEndpoint::parse(&longest).is_ok());
        let too_long = format!("unix:///{}", "s".repeat(UNIX_PATH_MAX));
        assert_eq!(err(&too_long), EndpointError::SocketPathTooLong(108));
        let huge = format!("tcp://{}:2375", "h".repeat(100_000));
        assert_eq!(err(&huge), EndpointError::TooLong(100_011));
        assert!(err(&huge).to_string().len() < 100);
        assert!(err("ftp://x").to_string().contains("unix:// or tcp://"));
    }
}
