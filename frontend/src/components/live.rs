//! The "Live" indicator of pages fed by a subscription: connecting, live, or reconnecting (with the reason).

use std::time::Duration;

use leptos::prelude::*;

use crate::api::Live;

/// Where a page's live feed stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveState {
    Connecting,
    Live,
    Reconnecting { reason: String, retry_in: Duration },
}

impl LiveState {
    /// Follows a feed's connection events (data and errors leave it as it is).
    pub fn follow<T>(state: RwSignal<LiveState>, event: &Live<T>) {
        match event {
            Live::Connected { .. } => state.set(LiveState::Live),
            Live::Disconnected { reason, retry_in } => state.set(LiveState::Reconnecting {
                reason: reason.clone(),
                retry_in: *retry_in,
            }),
            Live::Event(_) | Live::Error(_) => {}
        }
    }
}

/// A small pill: green dot "Live", grey "Connecting…", amber "Reconnecting…" (the reason on hover).
#[component]
pub fn LiveIndicator(state: RwSignal<LiveState>) -> impl IntoView {
    let class = move || match state.get() {
        LiveState::Live => "live-indicator on",
        LiveState::Connecting => "live-indicator connecting",
        LiveState::Reconnecting { .. } => "live-indicator off",
    };
    let title = move || match state.get() {
        LiveState::Live => "Updates arrive as they happen.".to_owned(),
        LiveState::Connecting => "Opening the live connection…".to_owned(),
        LiveState::Reconnecting { reason, retry_in } => format!(
            "{reason} Next attempt in {} s; the list is refreshed when it is back.",
            retry_in.as_secs().max(1)
        ),
    };
    let text = move || match state.get() {
        LiveState::Live => "Live",
        LiveState::Connecting => "Connecting…",
        LiveState::Reconnecting { .. } => "Reconnecting…",
    };
    view! {
        <span class=class title=title role="status">
            {text}
        </span>
    }
}
