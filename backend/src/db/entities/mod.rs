//! sea-orm entities, one file per table. They never leave `db/`: services get plain domain types.

pub mod alert;
pub mod alert_attempt;
pub mod alert_channel;
pub mod alert_delivery;
pub mod alert_rule;
pub mod api_token;
pub mod audit_entry;
pub mod container;
pub mod container_instance;
pub mod container_revision;
pub mod container_stat;
pub mod disk;
pub mod docker_container;
pub mod host;
pub mod host_image;
pub mod registry;
pub mod registry_tag;
pub mod session;
pub mod setting;
pub mod silence;
pub mod user;
