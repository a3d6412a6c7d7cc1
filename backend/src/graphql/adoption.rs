//! Adoption in the API: the preview of what adopting a Docker container Berth did not create would make of it,
//! and the mutation that makes it a definition pinned to its host.

use super::containers::Container;
use super::error::ApiResult;
use super::{require_user, services};
use crate::service::adoption as svc;
use async_graphql::{Context, ID, Json, Object, SimpleObject};

/// What adopting a Docker container would do.
#[derive(SimpleObject, Clone, Debug)]
pub struct DockerContainerAdoption {
    /// The definition adoption would create, in the shape of ContainerInput (hostId pinned). Each mount also has
    /// `disk` ({id, name, kind, hostId, path, create}): the HOST_PATH disk it reuses, or the one adoption creates
    /// (`create: true`, `id` and `diskId` null until then).
    pub input: Json<serde_json::Value>,
    /// Settings a definition cannot express, one sentence each: adopting drops them (confirmUnsupported).
    pub unsupported: Vec<String>,
    /// The compose project it belongs to (label com.docker.compose.project).
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// What happens to the running container, one paragraph for the dialog.
    pub effect: String,
}

impl From<svc::Adoption> for DockerContainerAdoption {
    fn from(a: svc::Adoption) -> Self {
        DockerContainerAdoption {
            input: Json(a.input),
            unsupported: a.unsupported,
            compose_project: a.compose_project,
            compose_service: a.compose_service,
            effect: a.effect,
        }
    }
}

#[derive(Default)]
pub struct AdoptionQuery;

#[Object]
impl AdoptionQuery {
    /// What `adoptDockerContainer` would create from the inventory's container `id` (inspected on its host now):
    /// NOT_FOUND when it is gone, CONFLICT for Berth's own or one adopted already, UNAVAILABLE when its host does
    /// not answer.
    async fn docker_container_adoption(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DockerContainerAdoption> {
        require_user(ctx)?;
        Ok(services(ctx)?.adoption.preview(&id).await?.into())
    }
}

#[derive(Default)]
pub struct AdoptionMutation;

#[Object]
impl AdoptionMutation {
    /// Makes a Docker container Berth did not create a definition (STOPPED, pinned to its host, named `name` or
    /// like the container), with HOST_PATH disks for the host directories it mounts. The container keeps running
    /// until the definition is first run, which replaces it. Settings the definition cannot keep (the preview's
    /// `unsupported`, compose membership included) need `confirmUnsupported`, else CONFLICT listing them.
    async fn adopt_docker_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        #[graphql(default = false)] confirm_unsupported: bool,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .adoption
            .adopt(actor, &id, name, confirm_unsupported)
            .await?
            .into())
    }
}
