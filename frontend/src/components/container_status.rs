//! A container's or an instance's status as a badge (`span.badge`, the wire name in `data-status`), and an
//! instance's health as one (`span.badge.health-badge`, the wire name in `data-health`).

use berth_shared::Health;
use leptos::prelude::*;

use crate::api::InstanceStatus;

/// The badge colour class: running is up, work under way is warn, failure is down, the rest neutral.
pub fn tone_class(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::Running => "up",
        InstanceStatus::Pending
        | InstanceStatus::Pulling
        | InstanceStatus::Creating
        | InstanceStatus::Stopping => "warn",
        InstanceStatus::Failed | InstanceStatus::Exited | InstanceStatus::Unhealthy => "down",
        InstanceStatus::Stopped | InstanceStatus::Unknown => "neutral",
    }
}

/// What a status means, for the badge's tooltip.
pub fn explain(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::Pending => "Waiting to be placed on a host.",
        InstanceStatus::Pulling => "The host is pulling the image.",
        InstanceStatus::Creating => "The Docker container is being created and started.",
        InstanceStatus::Running => "Running.",
        InstanceStatus::Stopping => "Stopping.",
        InstanceStatus::Stopped => "Stopped on request.",
        InstanceStatus::Exited => "The process ended by itself.",
        InstanceStatus::Failed => "Could not be started, or stopped with an error.",
        InstanceStatus::Unknown => "Berth cannot tell: the host does not answer.",
        InstanceStatus::Unhealthy => "Its replicas run, but a health check says unhealthy.",
    }
}

/// The health badge's colour class.
pub fn health_tone(health: Health) -> &'static str {
    match health {
        Health::Healthy => "up",
        Health::Starting => "warn",
        Health::Unhealthy => "down",
        Health::None => "neutral",
    }
}

/// An instance's health as a badge; its tooltip is the last probe's output when there is one. With `replica`
/// it is compact (for lists): the replica's number, the health in the colour and the tooltip.
#[component]
pub fn HealthBadge(
    health: Health,
    output: Option<String>,
    #[prop(optional)] replica: Option<i64>,
) -> impl IntoView {
    let what = match replica {
        Some(replica) => format!("Replica {replica}: {}", health.label().to_lowercase()),
        None => format!("Health check: {}", health.label().to_lowercase()),
    };
    let title = match output.filter(|o| !o.trim().is_empty()) {
        Some(o) => format!("{what}. Last check: {}", o.trim()),
        None => what,
    };
    let text = replica.map_or_else(|| health.label().to_owned(), |r| r.to_string());
    view! {
        <span
            class=format!("badge health-badge {}", health_tone(health))
            class:compact=replica.is_some()
            data-health=health.as_str()
            title=title
        >
            {text}
        </span>
    }
}

/// The status badge; its text is the label, `class` names what it is the status of (`container-status`,
/// `instance-status`).
#[component]
pub fn ContainerStatusBadge(
    #[prop(into)] status: Signal<InstanceStatus>,
    class: &'static str,
) -> impl IntoView {
    view! {
        <span
            class=move || format!("badge {class} {}", tone_class(status.get()))
            data-status=move || status.get().as_str()
            title=move || explain(status.get())
        >
            {move || status.get().label()}
        </span>
    }
}
