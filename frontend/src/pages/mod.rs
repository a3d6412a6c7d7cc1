//! One module per page (route) of the app.

pub mod container_detail;
pub mod containers;
pub mod host_detail;
pub mod hosts;
pub mod login;
pub mod not_found;
pub mod registry_detail;
pub mod storage;
pub mod tokens;
