//! The scale control of a container (`div.container-scale`): "running/desired" (`span.scale-count`, e.g. 2/3)
//! between a − and a + button (`button.scale-down`, `button.scale-up`). A click moves the desired count at once;
//! the `scaleContainer` calls go one at a time and the last count asked for wins, so quick clicks never race.

use berth_shared::DesiredState;
use leptos::{prelude::*, task::spawn_local};

use super::{
    icons::{Icon, IconKind},
    permission::needs_title,
    toast::use_toasts,
};
use crate::api::{Container, Role, containers::scale_container};

/// The replica counts the server accepts.
const MIN: i64 = 1;
const MAX: i64 = 100;

/// "2 of 3 replicas running", for the tooltip.
fn describe(running: i64, desired: i64, stopped: bool) -> String {
    let noun = if desired == 1 { "replica" } else { "replicas" };
    if stopped {
        format!("{desired} {noun} when it runs; stopped now")
    } else {
        format!("{running} of {desired} {noun} running")
    }
}

/// − running/desired +. `on_changed` gets the container as each call answers.
#[component]
pub fn ScaleControl(
    #[prop(into)] container: Signal<Container>,
    on_changed: Callback<Container>,
) -> impl IntoView {
    let toasts = use_toasts();
    let refused = needs_title(Role::Operator);
    let allowed = refused.is_none();
    // What the user asked for while calls are on their way; `None` = the container's own count.
    let wanted = RwSignal::new(None::<i64>);
    let sending = StoredValue::new(false);
    let desired = Memo::new(move |_| {
        wanted
            .get()
            .unwrap_or_else(|| container.with(|c| c.replicas))
    });
    let running = Memo::new(move |_| container.with(Container::running_count));
    let stopped = move || container.with(|c| c.desired_state == DesiredState::Stopped);
    let name = move || container.with(|c| c.name.clone());

    let step = move |delta: i64| {
        let base = wanted
            .get_untracked()
            .unwrap_or_else(|| container.with_untracked(|c| c.replicas));
        let next = (base + delta).clamp(MIN, MAX);
        if next == base {
            return;
        }
        wanted.set(Some(next));
        if sending.get_value() {
            // The call on its way sends the newest count when it is done.
            return;
        }
        sending.set_value(true);
        let (id, name) = container.with_untracked(|c| (c.id.clone(), c.name.clone()));
        spawn_local(async move {
            let mut sent = None;
            while let Some(target) = wanted.try_get_untracked().flatten() {
                if sent == Some(target) {
                    break;
                }
                match scale_container(&id, target).await {
                    Ok(container) => {
                        sent = Some(target);
                        on_changed.run(container);
                    }
                    Err(error) => {
                        toasts.error(format!(
                            "Could not scale “{name}” to {target}: {}",
                            error.message
                        ));
                        break;
                    }
                }
            }
            wanted.try_set(None);
            sending.try_set_value(false);
        });
    };

    view! {
        <div
            class="container-scale"
            role="group"
            aria-label=move || format!("Replicas of {}", name())
            title=move || describe(running.get(), desired.get(), stopped())
        >
            <button
                type="button"
                class="icon-button scale-down"
                aria-label=move || format!("One replica less of {}", name())
                title=refused
                disabled=move || { !allowed || desired.get() <= MIN }
                on:click=move |_| step(-1)
            >
                <Icon kind=IconKind::Minus />
            </button>
            <span
                class="scale-count"
                class:short=move || { !stopped() && running.get() < desired.get() }
                class:pending=move || wanted.get().is_some()
                data-running=running
                data-desired=desired
                aria-live="polite"
            >
                {move || format!("{}/{}", running.get(), desired.get())}
            </span>
            <button
                type="button"
                class="icon-button scale-up"
                aria-label=move || format!("One replica more of {}", name())
                title=refused
                disabled=move || { !allowed || desired.get() >= MAX }
                on:click=move |_| step(1)
            >
                <Icon kind=IconKind::Plus />
            </button>
        </div>
    }
}
