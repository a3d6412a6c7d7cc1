//! The schema: every domain's Query and Mutation parts merged into one, with limits.

use super::adoption::{AdoptionMutation, AdoptionQuery};
use super::alerts::{AlertMutation, AlertQuery, AlertSubscription};
use super::audit::{AuditLog, AuditQuery, AuditSubscription};
use super::auth::{AuthMutation, AuthQuery};
use super::containers::{ContainerMutation, ContainerQuery, ContainerSubscription};
use super::disks::{DiskMutation, DiskQuery};
use super::exec::ExecMutation;
use super::hosts::{HostMutation, HostQuery, HostSubscription};
use super::inventory::{InventoryMutation, InventoryQuery, InventorySubscription};
use super::logs::LogQuery;
use super::passthrough::PassthroughMutation;
use super::registries::{RegistryMutation, RegistryQuery, RegistrySubscription};
use super::stats::{StatsQuery, StatsSubscription};
use crate::service::Services;
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

#[derive(MergedObject, Default)]
pub struct Query(
    AuthQuery,
    HostQuery,
    RegistryQuery,
    ContainerQuery,
    InventoryQuery,
    LogQuery,
    AdoptionQuery,
    DiskQuery,
    AuditQuery,
    StatsQuery,
    AlertQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AuthMutation,
    HostMutation,
    RegistryMutation,
    ContainerMutation,
    InventoryMutation,
    AdoptionMutation,
    DiskMutation,
    ExecMutation,
    PassthroughMutation,
    AlertMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    HostSubscription,
    RegistrySubscription,
    ContainerSubscription,
    InventorySubscription,
    StatsSubscription,
    AuditSubscription,
    AlertSubscription,
);

pub type BerthSchema = Schema<Query, Mutation, Subscription>;

/// The types and validation limits, without extensions.
fn base_builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(32)
    .limit_complexity(5_000)
    .limit_recursive_depth(32)
}

/// The schema without runtime data (enough for the SDL).
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    base_builder()
        .extension(super::limits::DocumentLimits)
        .extension(AuditLog)
}

/// The schema served by the HTTP layer.
pub fn build_schema(services: Services) -> BerthSchema {
    schema_builder().data(services).finish()
}

/// The same schema without extensions, for query-only requests that already passed
/// [`super::limits::check_document`]. Once any extension is installed, async-graphql resolves every field
/// through the extensions' hooks (a look-up of the field's type and a boxed call per extension and field): half
/// the time of a 50-row page of definitions. Queries need neither the audit (mutations only) nor the document
/// check (done by the caller).
pub fn build_query_schema(services: Services) -> BerthSchema {
    base_builder().data(services).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed SDL (`backend/schema.graphql`) must equal the served one; run
    /// `BERTH_UPDATE_SDL=1 cargo test -p berth sdl` after changing the schema.
    #[test]
    fn committed_sdl_is_current() {
        let sdl = schema_builder().finish().sdl();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
        if std::env::var_os("BERTH_UPDATE_SDL").is_some() {
            std::fs::write(&path, &sdl).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == sdl,
            "backend/schema.graphql is stale: run `BERTH_UPDATE_SDL=1 cargo test -p berth sdl` and commit it"
        );
    }
}
