//! The dialog's fields as the server names them, and their checks as you type (the parsers the server uses, in
//! the words a person can act on), with the texts that turn stored values back into what the fields take.

use berth_shared::{
    ImageRef, PortSpec, UpdateWindow, parse_bytes, parse_cpus, validate_container_name,
    validate_replicas,
};

use crate::api::{self, containers::PortMapping};
use crate::components::{args::split_args, format::sentence};

/// The input fields the server may name in `extensions.field` (rows are `env.N.…`, `ports.N.…` and
/// `mounts.N.…`).
pub(super) const NAME: &str = "name";
pub(super) const IMAGE: &str = "image";
pub(super) const COMMAND: &str = "command";
pub(super) const ENTRYPOINT: &str = "entrypoint";
pub(super) const CPUS: &str = "resources.cpus";
pub(super) const MEMORY: &str = "resources.memory";
pub(super) const RESTART: &str = "restartPolicy";
pub(super) const HOST: &str = "hostId";
pub(super) const REPLICAS: &str = "replicas";
pub(super) const UPDATES: &str = "updatePolicy";
pub(super) const WINDOW: &str = "updateWindow";
pub(super) const FIELDS: [&str; 11] = [
    NAME, IMAGE, COMMAND, ENTRYPOINT, CPUS, MEMORY, RESTART, HOST, REPLICAS, UPDATES, WINDOW,
];
/// Docker refuses memory limits under 6 MiB; the server says so too.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// How a command is written (the start of its field's hint).
pub(super) const ARGS_HINT: &str =
    "Split on spaces; quote an argument that has spaces: sh -c 'echo hi'.";

/// A container name as the server takes it (trimmed).
pub(super) fn check_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    validate_container_name(name)
        .map(|()| name.to_owned())
        .map_err(|error| sentence(&error.to_string()))
}

/// An image reference as the server takes it.
pub(super) fn check_image(text: &str) -> Result<ImageRef, String> {
    ImageRef::parse(text.trim()).map_err(|error| sentence(&error.to_string()))
}

/// A command or entrypoint: `None` when empty (the image's own is used).
pub(super) fn check_args(text: &str) -> Result<Option<Vec<String>>, String> {
    let args = split_args(text)?;
    Ok((!args.is_empty()).then_some(args))
}

/// A CPU limit: `None` when empty (no limit).
pub(super) fn check_cpus(text: &str) -> Result<Option<f64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_cpus(text)
        .map(Some)
        .map_err(|error| sentence(&error.to_string()))
}

/// A memory limit in bytes: `None` when empty (no limit); at least what Docker takes.
pub(super) fn check_memory(text: &str) -> Result<Option<u64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match parse_bytes(text) {
        Ok(bytes) if bytes < MIN_MEMORY => {
            Err("Docker needs at least 6 MiB (6m) of memory.".to_owned())
        }
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) => Err(sentence(&error.to_string())),
    }
}

/// The daily window of automatic rollouts: empty (any time) or `HH:MM-HH:MM` in UTC, normalised.
pub(super) fn check_window(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    UpdateWindow::parse(text)
        .map(|w| Some(w.to_string()))
        .map_err(|error| sentence(&error))
}

/// The number of replicas: a whole number from 1 to 100.
pub(super) fn check_replicas(text: &str) -> Result<i64, String> {
    let number = text
        .trim()
        .parse::<i64>()
        .map_err(|_| "A whole number from 1 to 100.".to_owned())?;
    validate_replicas(number).map_err(|error| sentence(&error.to_string()))
}

/// "64m" for 64 MiB: the largest unit that divides the limit, as the memory field takes it.
pub(super) fn memory_text(bytes: i64) -> String {
    let bytes = api::bytes_u64(bytes);
    for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// A stored mapping as the port field shows it (`8080:80`, `127.0.0.1:53:53/udp`).
pub(super) fn port_text(port: &PortMapping) -> String {
    let spec = PortSpec::new(
        port.host_ip.as_deref(),
        port.host_port.and_then(|p| u32::try_from(p).ok()),
        u32::try_from(port.container_port).unwrap_or(0),
        port.protocol,
    );
    match spec {
        Ok(spec) => {
            let text = spec.to_string();
            text.strip_suffix("/tcp").map(str::to_owned).unwrap_or(text)
        }
        Err(_) => port.container_port.to_string(),
    }
}

/// What a port row means, for its hint.
pub(super) fn describe_port(spec: &PortSpec) -> String {
    let inside = format!(
        "container port {}/{}",
        spec.container_port(),
        spec.protocol()
    );
    let on = spec
        .host_ip()
        .map(|ip| format!(" on {ip}"))
        .unwrap_or_default();
    match spec.host_port() {
        Some(port) => format!("Host port {port}{on} → {inside}."),
        None => format!("Docker picks a host port{on} → {inside}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shared::Protocol;

    fn mapping(
        ip: Option<&str>,
        host: Option<i64>,
        inside: i64,
        protocol: Protocol,
    ) -> PortMapping {
        PortMapping {
            container_port: inside,
            host_port: host,
            host_ip: ip.map(str::to_owned),
            protocol,
        }
    }

    #[test]
    fn empty_optional_fields_mean_none_and_bad_ones_say_why() {
        assert_eq!(check_args("  "), Ok(None));
        assert_eq!(
            check_args("sh -c 'echo hi'"),
            Ok(Some(vec!["sh".into(), "-c".into(), "echo hi".into()]))
        );
        assert!(check_args("sh -c 'unclosed").is_err());
        assert_eq!(check_cpus(""), Ok(None));
        assert_eq!(check_cpus("0.5"), Ok(Some(0.5)));
        assert!(check_cpus("lots").is_err());
        assert_eq!(check_memory(""), Ok(None));
        assert_eq!(check_memory("512m"), Ok(Some(512 * 1024 * 1024)));
        assert_eq!(
            check_memory("1m"),
            Err("Docker needs at least 6 MiB (6m) of memory.".to_owned())
        );
        assert_eq!(check_window(" "), Ok(None));
        assert_eq!(
            check_window("02:00-05:00"),
            Ok(Some("02:00-05:00".to_owned()))
        );
        assert!(check_window("25:00-26:00").is_err());
    }

    #[test]
    fn names_images_and_replicas_are_checked_like_the_server_checks_them() {
        assert_eq!(check_name("  web-1 "), Ok("web-1".to_owned()));
        let error = check_name("no spaces").expect_err("a space in a name");
        assert!(error.ends_with('.'), "not a sentence: {error}");
        assert!(check_image("registry.example.com/team/app:1.0").is_ok());
        assert!(check_image("UPPER/case").is_err());
        assert_eq!(check_replicas(" 3 "), Ok(3));
        assert!(check_replicas("0").is_err());
        assert_eq!(
            check_replicas("two"),
            Err("A whole number from 1 to 100.".to_owned())
        );
    }

    #[test]
    fn a_stored_limit_reads_back_in_its_largest_whole_unit() {
        assert_eq!(memory_text(64 * 1024 * 1024), "64m");
        assert_eq!(memory_text(3 << 30), "3g");
        assert_eq!(memory_text(1536 * 1024 * 1024), "1536m");
        assert_eq!(memory_text(1000), "1000");
        for bytes in [64_i64 << 20, 3 << 30, 1536 << 20, 10_000_000] {
            let text = memory_text(bytes);
            assert_eq!(check_memory(&text), Ok(Some(bytes as u64)), "{text}");
        }
    }

    #[test]
    fn a_stored_port_reads_back_as_typed() {
        assert_eq!(
            port_text(&mapping(None, Some(8080), 80, Protocol::Tcp)),
            "8080:80"
        );
        assert_eq!(
            port_text(&mapping(Some("127.0.0.1"), Some(5353), 53, Protocol::Udp)),
            "127.0.0.1:5353:53/udp"
        );
        assert_eq!(port_text(&mapping(None, None, 80, Protocol::Tcp)), "80");
        for text in ["8080:80", "127.0.0.1:5353:53/udp", "80"] {
            let spec = PortSpec::parse(text).expect("valid mapping");
            assert!(!describe_port(&spec).is_empty());
        }
        assert_eq!(
            describe_port(&PortSpec::parse("8080:80").expect("valid mapping")),
            "Host port 8080 → container port 80/tcp."
        );
    }
}
