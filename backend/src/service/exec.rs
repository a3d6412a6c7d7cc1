//! Running one command in a container for scripts (`execInContainer`, `execInDockerContainer`): the caller's role
//! and the argv checked first, the output capped, the wait bounded.

pub use crate::docker::ExecOutcome;
use crate::docker::{DockerError, Engine};
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::containers::ContainerService;
use crate::service::hosts::HostService;
use crate::service::inventory::InventoryService;
use std::time::Duration;

/// Most arguments in one command.
pub const MAX_ARGS: usize = 256;
/// Most bytes of all arguments together.
pub const MAX_ARGV_BYTES: usize = 64 * 1024;
/// Output kept when the caller names no cap, and the largest cap a caller may ask for.
pub const DEFAULT_OUTPUT_BYTES: usize = 64 * 1024;
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// How long Berth waits for the command when the caller names no time, and the longest a caller may ask for.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
pub const MAX_TIMEOUT_SECS: u64 = 600;

/// A command to run, as the caller gave it.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// The program and its arguments, run as they are (no shell unless the caller asks for `sh -c`).
    pub argv: Vec<String>,
    pub max_output_bytes: Option<i64>,
    pub timeout_secs: Option<i64>,
}

/// A checked [`ExecRequest`].
#[derive(Debug, PartialEq)]
struct Checked {
    argv: Vec<String>,
    cap: usize,
    limit: Duration,
}

/// `argv` checked as a command to run: a program first, at most [`MAX_ARGS`] arguments of [`MAX_ARGV_BYTES`] in
/// all, no NUL (`BAD_USER_INPUT` on `argv` or `argv.<n>`).
pub fn check_argv(argv: Vec<String>) -> Result<Vec<String>, ServiceError> {
    if argv.is_empty() || argv[0].trim().is_empty() {
        return Err(ServiceError::bad_input(
            "argv",
            "give the program to run first, e.g. [\"ls\", \"-l\", \"/\"] (or [\"sh\", \"-c\", \"…\"] for a shell line)",
        ));
    }
    if argv.len() > MAX_ARGS {
        return Err(ServiceError::bad_input(
            "argv",
            format!("{} arguments; at most {MAX_ARGS} may be given", argv.len()),
        ));
    }
    if let Some(n) = argv.iter().position(|a| a.contains('\0')) {
        return Err(ServiceError::bad_input(
            format!("argv.{n}"),
            "an argument cannot contain a NUL character",
        ));
    }
    let total: usize = argv.iter().map(String::len).sum();
    if total > MAX_ARGV_BYTES {
        return Err(ServiceError::bad_input(
            "argv",
            format!(
                "the arguments take {total} bytes; at most {} KiB together",
                MAX_ARGV_BYTES / 1024
            ),
        ));
    }
    Ok(argv)
}

fn check(request: ExecRequest) -> Result<Checked, ServiceError> {
    let argv = check_argv(request.argv)?;
    let cap = match request.max_output_bytes {
        None => DEFAULT_OUTPUT_BYTES,
        Some(n) if n >= 0 && n as u64 <= MAX_OUTPUT_BYTES as u64 => n as usize,
        Some(n) => {
            return Err(ServiceError::bad_input(
                "maxOutputBytes",
                format!(
                    "{n} is out of range; keep 0 to {} bytes (1 MiB) of output",
                    MAX_OUTPUT_BYTES
                ),
            ));
        }
    };
    let limit = match request.timeout_secs {
        None => DEFAULT_TIMEOUT_SECS,
        Some(n) if n >= 1 && n as u64 <= MAX_TIMEOUT_SECS => n as u64,
        Some(n) => {
            return Err(ServiceError::bad_input(
                "timeoutSecs",
                format!("{n} is out of range; wait 1 to {MAX_TIMEOUT_SECS} seconds"),
            ));
        }
    };
    Ok(Checked {
        argv,
        cap,
        limit: Duration::from_secs(limit),
    })
}

/// Runs commands in Berth's instances and in any container of the inventory. OPERATOR and up; each call is in
/// the audit log like every mutation (its argv clipped there like every argument).
#[derive(Clone)]
pub struct ExecService {
    containers: ContainerService,
    inventory: InventoryService,
    hosts: HostService,
}

impl ExecService {
    pub fn new(
        containers: ContainerService,
        inventory: InventoryService,
        hosts: HostService,
    ) -> Self {
        Self {
            containers,
            inventory,
            hosts,
        }
    }

    /// Runs `request` in the Docker container of one of Berth's instances.
    pub async fn in_instance(
        &self,
        actor: &User,
        instance_id: &str,
        request: ExecRequest,
    ) -> Result<ExecOutcome, ServiceError> {
        authz::require(actor, Action::ExecInContainers)?;
        let checked = check(request)?;
        let place = self
            .locate(&ExecTarget::Instance(instance_id.to_owned()))
            .await?;
        run(&place, checked).await
    }

    /// Runs `request` in a container of the inventory (Berth's or not).
    pub async fn in_docker_container(
        &self,
        actor: &User,
        id: &str,
        request: ExecRequest,
    ) -> Result<ExecOutcome, ServiceError> {
        authz::require(actor, Action::ExecInContainers)?;
        let checked = check(request)?;
        let place = self
            .locate(&ExecTarget::DockerContainer(id.to_owned()))
            .await?;
        run(&place, checked).await
    }

    /// The engine and Docker id of `target` (no role check: callers check first).
    pub(crate) async fn locate(&self, target: &ExecTarget) -> Result<Place, ServiceError> {
        match target {
            ExecTarget::Instance(instance_id) => {
                let instance = self
                    .containers
                    .instance(instance_id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::NotFound(format!("no instance with id {instance_id}"))
                    })?;
                let (Some(host_id), Some(docker_id)) = (instance.host_id, instance.docker_id)
                else {
                    return Err(ServiceError::Conflict(
                        "this instance has no Docker container yet; run the container first".into(),
                    ));
                };
                let (host, engine) = self.hosts.engine(&host_id).await?;
                Ok(Place {
                    host: host.name,
                    docker_id,
                    engine,
                })
            }
            ExecTarget::DockerContainer(id) => {
                let (c, engine) = self.inventory.reach(id).await?;
                Ok(Place {
                    host: c.host_name,
                    docker_id: c.docker_id,
                    engine,
                })
            }
        }
    }
}

/// The container a command runs in: one of Berth's instances, or any container of the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecTarget {
    Instance(String),
    DockerContainer(String),
}

impl std::fmt::Display for ExecTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecTarget::Instance(id) => write!(f, "instance {id}"),
            ExecTarget::DockerContainer(id) => write!(f, "docker container {id}"),
        }
    }
}

/// Where a target runs: its host's name and engine, and its Docker id.
pub(crate) struct Place {
    pub host: String,
    pub docker_id: String,
    pub engine: Engine,
}

/// The engine's refusal of an exec in words for the caller: a container gone, one not running (CONFLICT), or the
/// host's own trouble.
pub(crate) fn exec_error(host: &str, e: DockerError) -> ServiceError {
    match e {
        DockerError::NotFound(_) => {
            ServiceError::NotFound(format!("the container no longer exists on host {host}"))
        }
        // The engine's words: "container … is not running", "… is paused".
        DockerError::Conflict(m) => {
            ServiceError::Conflict(format!("{m}; start the container first"))
        }
        other => crate::service::hosts::engine_error(host, other),
    }
}

async fn run(place: &Place, checked: Checked) -> Result<ExecOutcome, ServiceError> {
    place
        .engine
        .exec(&place.docker_id, &checked.argv, checked.cap, checked.limit)
        .await
        .map_err(|e| exec_error(&place.host, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ServiceError) -> String {
        match e {
            ServiceError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn argv_is_checked() {
        let ok = check(ExecRequest {
            argv: vec!["echo".into(), "hi".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.cap, DEFAULT_OUTPUT_BYTES);
        assert_eq!(ok.limit, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
        assert_eq!(field(check(ExecRequest::default()).unwrap_err()), "argv");
        let nul = ExecRequest {
            argv: vec!["echo".into(), "a\0b".into()],
            ..Default::default()
        };
        assert_eq!(field(check(nul).unwrap_err()), "argv.1");
        let many = ExecRequest {
            argv: vec!["x".into(); MAX_ARGS + 1],
            ..Default::default()
        };
        assert_eq!(field(check(many).unwrap_err()), "argv");
        let huge = ExecRequest {
            argv: vec!["echo".into(), "x".repeat(MAX_ARGV_BYTES)],
            ..Default::default()
        };
        assert_eq!(field(check(huge).unwrap_err()), "argv");
    }

    #[test]
    fn caps_and_waits_are_bounded() {
        let with = |max_output_bytes, timeout_secs| ExecRequest {
            argv: vec!["true".into()],
            max_output_bytes,
            timeout_secs,
        };
        assert_eq!(check(with(Some(0), Some(1))).unwrap().cap, 0);
        assert_eq!(
            field(check(with(Some(-1), None)).unwrap_err()),
            "maxOutputBytes"
        );
        assert_eq!(
            field(check(with(Some(MAX_OUTPUT_BYTES as i64 + 1), None)).unwrap_err()),
            "maxOutputBytes"
        );
        assert_eq!(
            field(check(with(None, Some(0))).unwrap_err()),
            "timeoutSecs"
        );
        assert_eq!(
            field(check(with(None, Some(601))).unwrap_err()),
            "timeoutSecs"
        );
    }
}
