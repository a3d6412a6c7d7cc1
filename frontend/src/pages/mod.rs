//! One module per page (route) of the app, and the sections a page is split into (`storage_disks`).

pub mod account;
pub mod alerts;
pub mod container_detail;
pub mod containers;
pub mod events;
pub mod host_detail;
pub mod hosts;
pub mod login;
pub mod not_found;
pub mod registry_detail;
pub mod storage;
pub mod storage_disks;
pub mod tokens;
pub mod users;
