//! A registry's live status as a badge (`span.badge.registry-status`, raw enum in `data-status`), and the
//! progress bar of a running refresh (`div.progress.registry-progress`).

use leptos::prelude::*;

use crate::api::{RefreshPhase, RegistryRefreshEvent, RegistryStatus};

/// The badge colour class of a status: up (OK), down (error), warn (refreshing), neutral (never refreshed).
pub fn tone_class(status: RegistryStatus) -> &'static str {
    match status {
        RegistryStatus::Ok => "up",
        RegistryStatus::Error => "down",
        RegistryStatus::Refreshing => "warn",
        RegistryStatus::NeverRefreshed => "neutral",
    }
}

/// What a status means, for the badge's tooltip.
pub fn explain(status: RegistryStatus) -> &'static str {
    match status {
        RegistryStatus::Ok => "The last refresh listed the registry.",
        RegistryStatus::Error => "The last refresh failed; the listing is from the last good one.",
        RegistryStatus::Refreshing => "Berth is listing the registry's repositories and tags.",
        RegistryStatus::NeverRefreshed => "Not listed yet.",
    }
}

/// The status badge; its text is the status label.
#[component]
pub fn RegistryStatusBadge(#[prop(into)] status: Signal<RegistryStatus>) -> impl IntoView {
    view! {
        <span
            class=move || format!("badge registry-status {}", tone_class(status.get()))
            data-status=move || status.get().as_str()
            title=move || explain(status.get())
        >
            {move || status.get().label()}
        </span>
    }
}

/// How far a running refresh got: repositories done, out of `total` once known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RefreshProgress {
    pub done: u64,
    pub total: Option<u64>,
}

impl RefreshProgress {
    /// The progress a `STARTED`/`PROGRESS` event reports; `None` for the end of a refresh.
    pub fn from_event(event: &RegistryRefreshEvent) -> Option<Self> {
        match event.phase {
            RefreshPhase::Started | RefreshPhase::Progress => Some(Self {
                done: u64::try_from(event.repositories_done).unwrap_or(0),
                total: event
                    .repositories_total
                    .and_then(|total| u64::try_from(total).ok()),
            }),
            RefreshPhase::Finished | RefreshPhase::Failed => None,
        }
    }

    /// Width of the bar, in percent; `None` while the total is unknown (the bar then slides).
    pub fn percent(self) -> Option<f64> {
        match self.total {
            Some(0) => Some(100.0),
            Some(total) => Some((self.done as f64 / total as f64 * 100.0).clamp(0.0, 100.0)),
            None => None,
        }
    }

    /// "12 / 40 repositories", or "Starting…" before the total is known.
    pub fn text(self) -> String {
        match self.total {
            Some(total) => format!("{} / {total} repositories", self.done.min(total)),
            None if self.done > 0 => format!("{} repositories", self.done),
            None => "Starting…".to_owned(),
        }
    }
}

/// `div.progress.registry-progress` and its text, for a refresh that runs.
#[component]
pub fn RefreshProgressBar(#[prop(into)] progress: Signal<RefreshProgress>) -> impl IntoView {
    let percent = move || progress.get().percent();
    view! {
        <div class="registry-progress-wrap">
            <div
                class=move || {
                    if percent().is_some() {
                        "progress registry-progress"
                    } else {
                        "progress registry-progress indeterminate"
                    }
                }
                role="progressbar"
                aria-label="Refresh progress"
                aria-valuemin="0"
                aria-valuemax=move || progress.get().total.map(|total| total.to_string())
                aria-valuenow=move || progress.get().total.map(|_| progress.get().done.to_string())
                data-done=move || progress.get().done.to_string()
                data-total=move || progress.get().total.map(|total| total.to_string())
            >
                <div
                    class="progress-bar"
                    style:width=move || percent().map_or_else(String::new, |p| format!("{p:.1}%"))
                ></div>
            </div>
            <span class="registry-progress-text">{move || progress.get().text()}</span>
        </div>
    }
}
