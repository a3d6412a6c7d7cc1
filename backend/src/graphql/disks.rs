//! Disks (Storage tab): Docker volumes and host paths containers mount.

use super::containers::Container;
use super::error::ApiResult;
use super::hosts::Host;
use super::scalars::Bytes;
use super::{require_user, services};
use crate::service::disks::{self as svc, DiskSettings};
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::DiskKind")]
pub enum DiskKind {
    Volume,
    HostPath,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Disk {
    pub id: ID,
    pub name: String,
    pub kind: DiskKind,
    /// HOST_PATH: the directory on the host.
    pub path: Option<String>,
    pub size_bytes: Option<Bytes>,
    #[graphql(skip)]
    host_id: Option<String>,
}

impl From<svc::Disk> for Disk {
    fn from(d: svc::Disk) -> Self {
        Disk {
            id: ID(d.id),
            name: d.name,
            kind: d.kind.into(),
            path: d.path,
            size_bytes: d.size_bytes.map(Bytes),
            host_id: d.host_id,
        }
    }
}

#[ComplexObject]
impl Disk {
    /// Where it lives; null for a path present on every host.
    async fn host(&self, ctx: &Context<'_>) -> ApiResult<Option<Host>> {
        let Some(id) = &self.host_id else {
            return Ok(None);
        };
        Ok(services(ctx)?.hosts.get(id).await?.map(Into::into))
    }

    /// The containers whose definitions mount it.
    async fn attached_to(&self, ctx: &Context<'_>) -> ApiResult<Vec<Container>> {
        let s = services(ctx)?;
        let mut out = Vec::new();
        for id in s.disks.attached_to(&self.id).await? {
            if let Some(c) = s.containers.get(&id).await? {
                out.push(c.into());
            }
        }
        Ok(out)
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct DiskInput {
    pub name: String,
    pub kind: DiskKind,
    /// VOLUME: required. HOST_PATH: the host with the directory, or null when every host has it.
    pub host_id: Option<ID>,
    /// HOST_PATH: an absolute directory on the host.
    pub path: Option<String>,
    pub size_bytes: Option<Bytes>,
}

#[derive(Default)]
pub struct DiskQuery;

#[Object]
impl DiskQuery {
    async fn disks(&self, ctx: &Context<'_>) -> ApiResult<Vec<Disk>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .disks
            .list()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct DiskMutation;

#[Object]
impl DiskMutation {
    async fn create_disk(&self, ctx: &Context<'_>, input: DiskInput) -> ApiResult<Disk> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .disks
            .create(
                actor,
                DiskSettings {
                    name: input.name,
                    kind: input.kind.into(),
                    host_id: input.host_id.map(|h| h.0),
                    path: input.path,
                    size_bytes: input.size_bytes.map(|b| b.0),
                },
            )
            .await?
            .into())
    }

    /// Deletes a disk no container mounts (CONFLICT otherwise); a VOLUME's Docker volume goes with it.
    async fn delete_disk(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.disks.delete(actor, &id).await?;
        Ok(true)
    }
}
