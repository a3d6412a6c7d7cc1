//! Types and parsers shared by the Berth server and the browser app.
//!
//! Everything here builds for native targets and for `wasm32-unknown-unknown`: no file system, no
//! threads, no async runtime. Parsers take `&str` and return typed values or errors whose messages a
//! person can act on.

pub mod alerts;
pub mod bytes;
#[macro_use]
pub mod container;
#[cfg(feature = "db")]
pub mod db;
pub mod endpoint;
pub mod env;
pub mod error_code;
pub mod health;
pub mod image_ref;
pub mod names;
pub mod port;
pub mod registry;
pub mod role;
pub mod status;

pub use alerts::{
    AlertChannelKind, AlertCondition, AlertState, HttpUrl, LabelSelector, SmtpSecurity,
    format_secs, parse_email_list, parse_http_url, validate_email, validate_repeat_secs,
    validate_restart_loop, validate_threshold_percent,
};
pub use bytes::{ByteSizeError, format_bytes, parse_bytes};
pub use container::{
    ContainerFieldError, DesiredState, DiskKind, Health, InstanceStatus, RestartPolicy,
    RolloutState, UnknownValue, UpdatePolicy, UpdateWindow, normalize_host_path, parse_cpus,
    suggest_container_name, summary_status, summary_with_health, validate_container_name,
    validate_container_path, validate_cpu_shares, validate_cpus, validate_host_path,
    validate_max_parallel, validate_min_healthy_secs, validate_replicas,
};
pub use endpoint::{EndpointError, HostEndpoint};
pub use env::{ENV_NAME_MAX, EnvNameError, validate_env_name};
pub use error_code::{ErrorCode, UnknownErrorCode};
pub use health::{
    HEALTH_RETRIES_MAX, HEALTH_SECS_MAX, HealthCheck, HealthCheckError, validate_health_check,
    validate_health_retries, validate_health_secs, validate_health_test,
    validate_replace_unhealthy_after,
};
pub use image_ref::{ImageRef, ImageRefError};
pub use names::{
    HOST_NAME_MAX, NameError, NameKind, REGISTRY_NAME_MAX, REGISTRY_URL_MAX, TOKEN_NAME_MAX,
    USER_NAME_MAX, validate_name, validate_registry_url_text,
};
pub use port::{PortError, PortSpec, Protocol};
pub use registry::{RegistryKind, RegistryStatus};
pub use role::{Role, UnknownRole};
pub use status::{HostStatus, UnknownHostStatus};
