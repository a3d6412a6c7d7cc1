//! Types and parsers shared by the Berth server and the browser app.
//!
//! Everything here builds for native targets and for `wasm32-unknown-unknown`: no file system, no
//! threads, no async runtime. Parsers take `&str` and return typed values or errors whose messages a
//! person can act on.

pub mod bytes;
pub mod container;
pub mod endpoint;
pub mod env;
pub mod error_code;
pub mod image_ref;
pub mod port;
pub mod role;
pub mod status;

pub use bytes::{ByteSizeError, format_bytes, parse_bytes};
pub use container::{
    ContainerFieldError, DesiredState, DiskKind, InstanceStatus, RestartPolicy, UnknownValue,
    parse_cpus, suggest_container_name, summary_status, validate_container_name,
    validate_container_path, validate_cpu_shares, validate_cpus, validate_host_path,
    validate_replicas,
};
pub use endpoint::{EndpointError, HostEndpoint};
pub use env::{EnvNameError, validate_env_name};
pub use error_code::{ErrorCode, UnknownErrorCode};
pub use image_ref::{ImageRef, ImageRefError};
pub use port::{PortError, PortSpec, Protocol};
pub use role::{Role, UnknownRole};
pub use status::{HostStatus, UnknownHostStatus};
