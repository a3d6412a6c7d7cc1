//! The admin passthrough: raw Docker API requests and `docker` CLI runs against a host, ADMIN only (and, like
//! every mutation, in the audit log with their arguments).

use crate::docker::passthrough::{self, CliOutput, RestAnswer};
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::hosts::HostService;
use berth_shared::{HostEndpoint, HostStatus};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "HEAD"];

#[derive(Clone)]
pub struct PassthroughService {
    hosts: HostService,
}

impl PassthroughService {
    pub fn new(hosts: HostService) -> Self {
        Self { hosts }
    }

    /// The host's endpoint and TLS material, once it is known to have Docker support and answer.
    async fn target(
        &self,
        host_id: &str,
    ) -> Result<(HostEndpoint, Option<crate::docker::TlsPems>), ServiceError> {
        let (row, tls) = self
            .hosts
            .connection(host_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no host with id {host_id}")))?;
        if !row.docker_support {
            return Err(ServiceError::Unavailable(format!(
                "host {} has Docker support switched off",
                row.name
            )));
        }
        let status: HostStatus = row.status;
        if !matches!(status, HostStatus::Up | HostStatus::Maintenance) {
            return Err(ServiceError::Unavailable(format!(
                "host {} is not up ({}){}",
                row.name,
                status.label().to_lowercase(),
                row.last_error.map(|e| format!(": {e}")).unwrap_or_default()
            )));
        }
        let endpoint = HostEndpoint::parse(&row.endpoint).map_err(|e| {
            ServiceError::Unexpected(anyhow::anyhow!("stored endpoint is invalid: {e}"))
        })?;
        Ok((endpoint, tls))
    }

    pub async fn rest(
        &self,
        actor: &User,
        host_id: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<RestAnswer, ServiceError> {
        authz::require(actor, Action::Passthrough)?;
        let method = method.trim().to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(ServiceError::bad_input(
                "method",
                format!("method must be one of {}", METHODS.join(", ")),
            ));
        }
        if !path.starts_with('/') || path.contains("://") || path.contains(char::is_whitespace) {
            return Err(ServiceError::bad_input(
                "path",
                "path must start with / and name an API path, e.g. /version or /v1.41/containers/json",
            ));
        }
        let (endpoint, tls) = self.target(host_id).await?;
        passthrough::rest(&endpoint, tls.as_ref(), &method, path, body.as_ref())
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    pub async fn cli(
        &self,
        actor: &User,
        host_id: &str,
        args: &[String],
    ) -> Result<CliOutput, ServiceError> {
        authz::require(actor, Action::Passthrough)?;
        if args.is_empty() {
            return Err(ServiceError::bad_input(
                "args",
                "give the docker arguments, e.g. [\"ps\", \"-a\"]",
            ));
        }
        if args.iter().any(|a| a.contains('\0')) {
            return Err(ServiceError::bad_input(
                "args",
                "arguments must not contain NUL characters",
            ));
        }
        let (endpoint, tls) = self.target(host_id).await?;
        passthrough::cli(&endpoint, tls.as_ref(), args)
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }
}
