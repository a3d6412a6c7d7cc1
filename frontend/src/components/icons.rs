//! Inline SVG icons (24×24, stroked with `currentColor`), so the app needs no icon font or image requests.

use leptos::prelude::*;

/// The icons the app uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IconKind {
    /// Berth's mark.
    Logo,
    Containers,
    Storage,
    Disk,
    Hosts,
    Key,
    ChevronDown,
    Copy,
    Check,
    LogOut,
    AlertCircle,
    Close,
    Compass,
    Plus,
    Minus,
    Edit,
    Refresh,
    Wrench,
    Trash,
    Search,
    Download,
    ArrowLeft,
    Lock,
    Play,
    Stop,
    Terminal,
    Users,
    Events,
    /// Three dots: a row's menu.
    More,
    /// Alerts.
    Bell,
    /// Silences: a muted bell.
    BellOff,
    /// Notification channels: a paper plane.
    Send,
}

/// One icon. Decorative: hidden from screen readers, so pair it with text.
#[component]
pub fn Icon(kind: IconKind) -> impl IntoView {
    let shapes = match kind {
        IconKind::Logo => view! {
            <circle cx="12" cy="5" r="2.5" />
            <line x1="12" y1="7.5" x2="12" y2="21" />
            <line x1="8" y1="11" x2="16" y2="11" />
            <path d="M4 13a8 8 0 0 0 16 0" />
        }
        .into_any(),
        IconKind::Containers => view! {
            <path d="M21 16V8a2 2 0 0 0-1-1.73l-7-4a2 2 0 0 0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 1.73l7 4a2 2 0 0 0 2 0l7-4A2 2 0 0 0 21 16z" />
            <polyline points="3.3 7 12 12 20.7 7" />
            <line x1="12" y1="22" x2="12" y2="12" />
        }
        .into_any(),
        IconKind::Storage => view! {
            <ellipse cx="12" cy="5" rx="9" ry="3" />
            <path d="M21 12c0 1.66-4 3-9 3s-9-1.34-9-3" />
            <path d="M3 5v14c0 1.66 4 3 9 3s9-1.34 9-3V5" />
        }
        .into_any(),
        IconKind::Disk => view! {
            <line x1="22" y1="12" x2="2" y2="12" />
            <path d="M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z" />
            <line x1="6" y1="16" x2="6.01" y2="16" />
            <line x1="10" y1="16" x2="10.01" y2="16" />
        }
        .into_any(),
        IconKind::Hosts => view! {
            <rect x="2" y="3" width="20" height="7" rx="2" />
            <rect x="2" y="14" width="20" height="7" rx="2" />
            <line x1="6" y1="6.5" x2="6.01" y2="6.5" />
            <line x1="6" y1="17.5" x2="6.01" y2="17.5" />
        }
        .into_any(),
        IconKind::Key => view! {
            <circle cx="7.5" cy="15.5" r="4.5" />
            <path d="M10.7 12.3 21 2" />
            <path d="m16 7 3 3" />
            <path d="m18.5 4.5 2 2" />
        }
        .into_any(),
        IconKind::ChevronDown => view! { <polyline points="6 9 12 15 18 9" /> }.into_any(),
        IconKind::Copy => view! {
            <rect x="9" y="9" width="13" height="13" rx="2" />
            <path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1" />
        }
        .into_any(),
        IconKind::Check => view! { <polyline points="20 6 9 17 4 12" /> }.into_any(),
        IconKind::LogOut => view! {
            <path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" />
            <polyline points="16 17 21 12 16 7" />
            <line x1="21" y1="12" x2="9" y2="12" />
        }
        .into_any(),
        IconKind::AlertCircle => view! {
            <circle cx="12" cy="12" r="10" />
            <line x1="12" y1="8" x2="12" y2="12" />
            <line x1="12" y1="16" x2="12.01" y2="16" />
        }
        .into_any(),
        IconKind::Close => view! {
            <line x1="18" y1="6" x2="6" y2="18" />
            <line x1="6" y1="6" x2="18" y2="18" />
        }
        .into_any(),
        IconKind::Compass => view! {
            <circle cx="12" cy="12" r="10" />
            <polygon points="16.24 7.76 14.12 14.12 7.76 16.24 9.88 9.88 16.24 7.76" />
        }
        .into_any(),
        IconKind::Plus => view! {
            <line x1="12" y1="5" x2="12" y2="19" />
            <line x1="5" y1="12" x2="19" y2="12" />
        }
        .into_any(),
        IconKind::Minus => view! { <line x1="5" y1="12" x2="19" y2="12" /> }.into_any(),
        IconKind::Edit => view! {
            <path d="M12 20h9" />
            <path d="M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z" />
        }
        .into_any(),
        IconKind::Refresh => view! {
            <polyline points="23 4 23 10 17 10" />
            <polyline points="1 20 1 14 7 14" />
            <path d="M3.51 9a9 9 0 0 1 14.85-3.36L23 10M1 14l4.64 4.36A9 9 0 0 0 20.49 15" />
        }
        .into_any(),
        IconKind::Wrench => view! {
            <path d="M14.7 6.3a1 1 0 0 0 0 1.4l1.6 1.6a1 1 0 0 0 1.4 0l3.77-3.77a6 6 0 0 1-7.94 7.94l-6.91 6.91a2.12 2.12 0 0 1-3-3l6.91-6.91a6 6 0 0 1 7.94-7.94l-3.76 3.76z" />
        }
        .into_any(),
        IconKind::Trash => view! {
            <polyline points="3 6 5 6 21 6" />
            <path d="M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6" />
            <path d="M10 11v6M14 11v6" />
            <path d="M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2" />
        }
        .into_any(),
        IconKind::Search => view! {
            <circle cx="11" cy="11" r="7" />
            <line x1="21" y1="21" x2="16.65" y2="16.65" />
        }
        .into_any(),
        IconKind::Download => view! {
            <path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4" />
            <polyline points="7 10 12 15 17 10" />
            <line x1="12" y1="15" x2="12" y2="3" />
        }
        .into_any(),
        IconKind::ArrowLeft => view! {
            <line x1="19" y1="12" x2="5" y2="12" />
            <polyline points="12 19 5 12 12 5" />
        }
        .into_any(),
        IconKind::Users => view! {
            <path d="M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2" />
            <circle cx="9" cy="7" r="4" />
            <path d="M22 21v-2a4 4 0 0 0-3-3.87" />
            <path d="M16 3.13a4 4 0 0 1 0 7.75" />
        }
        .into_any(),
        IconKind::Events => view! {
            <polyline points="22 12 18 12 15 21 9 3 6 12 2 12" />
        }
        .into_any(),
        IconKind::Lock => view! {
            <rect x="3" y="11" width="18" height="11" rx="2" />
            <path d="M7 11V7a5 5 0 0 1 10 0v4" />
        }
        .into_any(),
        IconKind::Play => view! { <polygon points="6 4 20 12 6 20 6 4" /> }.into_any(),
        IconKind::Stop => view! { <rect x="5" y="5" width="14" height="14" rx="2" /> }.into_any(),
        IconKind::More => view! {
            <circle cx="5" cy="12" r="1" />
            <circle cx="12" cy="12" r="1" />
            <circle cx="19" cy="12" r="1" />
        }
        .into_any(),
        IconKind::Bell => view! {
            <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
            <path d="M13.73 21a2 2 0 0 1-3.46 0" />
        }
        .into_any(),
        IconKind::BellOff => view! {
            <path d="M13.73 21a2 2 0 0 1-3.46 0" />
            <path d="M18.63 13A17.89 17.89 0 0 1 18 8" />
            <path d="M6.26 6.26A5.86 5.86 0 0 0 6 8c0 7-3 9-3 9h14" />
            <path d="M18 8a6 6 0 0 0-9.33-5" />
            <line x1="1" y1="1" x2="23" y2="23" />
        }
        .into_any(),
        IconKind::Send => view! {
            <line x1="22" y1="2" x2="11" y2="13" />
            <polygon points="22 2 15 22 11 13 2 9 22 2" />
        }
        .into_any(),
        IconKind::Terminal => view! {
            <polyline points="4 17 10 11 4 5" />
            <line x1="12" y1="19" x2="20" y2="19" />
        }
        .into_any(),
    };
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            stroke-width="2"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
            focusable="false"
        >
            {shapes}
        </svg>
    }
}
