//! Status badges (`.badge.up`, `.badge.down`, `.badge.warn`, `.badge.neutral`).

use leptos::prelude::*;

/// The colour of a badge, by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Running, reachable, healthy.
    Up,
    /// Failed, unreachable.
    Down,
    /// Needs attention: pulling, maintenance, degraded.
    Warn,
    /// Informational.
    Neutral,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Self::Up => "badge up",
            Self::Down => "badge down",
            Self::Warn => "badge warn",
            Self::Neutral => "badge neutral",
        }
    }
}

/// A small pill with a status dot and a label.
#[component]
pub fn Badge(tone: Tone, children: Children) -> impl IntoView {
    view! { <span class=tone.class()>{children()}</span> }
}
