//! Alerts page (`/alerts`) in four sections chosen by subtabs and kept in the address (`?tab=channels`,
//! `rules`, `silences`; the alerts themselves without it):
//!
//! - **Alerts** (`table#alerts-table`, `tr.alert-row[data-id][data-state]`): newest first, 50 at a time with
//!   "Load more", filtered by state in the address (`?state=open|acknowledged|resolved`, all without it), live from
//!   `alertChanges` (new alerts appear in place, state changes update their row). Operators acknowledge open
//!   alerts; a row opens its details with every notification and attempt.
//! - **Channels** (`table#channels-table`): where notifications go, the add/edit dialog whose fields follow the
//!   kind (checked as you type with the shared parsers; secrets are write-only), "Send test" with its result in
//!   the row, delete.
//! - **Rules** (`table#rules-table`): what raises alerts, with the add/edit dialog (condition, host, label
//!   selector, channels, repeat interval).
//! - **Silences** (`table#silences-table`): what mutes them, active or ended, with the new-silence dialog.
//!
//! Viewers read everything; operators acknowledge; admins manage channels, rules and silences. The top bar's
//! count of open alerts is kept by [`watch_open_alert_count`].

mod channel_dialog;
mod channels;
mod count;
mod list;
mod rule_dialog;
mod rules;
mod silences;
mod words;

pub use count::{OpenAlertCount, watch_open_alert_count};

use berth_shared::AlertChannelKind;
use leptos::prelude::*;
use leptos_router::{
    NavigateOptions, hooks::use_location, hooks::use_navigate, hooks::use_query_map,
};

use crate::api::alerts::{AlertChannel, AlertRule, Silence, alert_channels, alert_rules, silences};
use crate::api::{self, Host, Role};
use crate::components::icons::{Icon, IconKind};
use crate::components::loading::{Latest, ListState};
use crate::components::page_header::PageHeader;
use crate::components::permission::needs_title;

use channels::ChannelsSection;
use list::{AlertsSection, StateFilter};
use rules::RulesSection;
use silences::SilencesSection;

/// Alerts per page.
const PAGE_SIZE: i64 = 50;
/// Columns of the alerts table (placeholder and detail rows).
const ALERT_COLUMNS: &str = "7";
/// Characters of an alert's message shown in the table (all of it in the details).
const MESSAGE_PREVIEW: usize = 120;
/// Characters of an error shown in a row (all of it on hover).
const ERROR_PREVIEW: usize = 80;
/// The longest channel or rule name the server takes.
const NAME_MAX: usize = 100;
/// The longest signing key the server takes.
const SECRET_MAX: usize = 1024;
/// The longest silence comment the server takes.
const COMMENT_MAX: usize = 1000;

/// The query keys of the page's address.
const TAB: &str = "tab";
const STATE: &str = "state";

/// The page's sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Alerts,
    Channels,
    Rules,
    Silences,
}

impl Section {
    const ALL: [Section; 4] = [
        Section::Alerts,
        Section::Channels,
        Section::Rules,
        Section::Silences,
    ];

    fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("channels") => Self::Channels,
            Some("rules") => Self::Rules,
            Some("silences") => Self::Silences,
            _ => Self::Alerts,
        }
    }

    fn query(self) -> &'static str {
        match self {
            Self::Alerts => "alerts",
            Self::Channels => "channels",
            Self::Rules => "rules",
            Self::Silences => "silences",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Alerts => "Alerts",
            Self::Channels => "Channels",
            Self::Rules => "Rules",
            Self::Silences => "Silences",
        }
    }

    fn icon(self) -> IconKind {
        match self {
            Self::Alerts => IconKind::Bell,
            Self::Channels => IconKind::Send,
            Self::Rules => IconKind::Events,
            Self::Silences => IconKind::BellOff,
        }
    }
}

/// What every section reads: channels, rules, silences and hosts, loaded once for the page.
#[derive(Clone, Copy)]
struct Shared {
    channels: RwSignal<ListState<AlertChannel>>,
    rules: RwSignal<ListState<AlertRule>>,
    silences: RwSignal<ListState<Silence>>,
    hosts: RwSignal<Vec<Host>>,
    latest_channels: Latest,
    latest_rules: Latest,
    latest_silences: Latest,
}

impl Shared {
    fn load() -> Self {
        let shared = Self {
            channels: RwSignal::new(ListState::Loading),
            rules: RwSignal::new(ListState::Loading),
            silences: RwSignal::new(ListState::Loading),
            hosts: RwSignal::new(Vec::new()),
            latest_channels: Latest::new(),
            latest_rules: Latest::new(),
            latest_silences: Latest::new(),
        };
        shared.reload_channels();
        shared.reload_rules();
        shared.reload_silences();
        Latest::new().run(api::hosts(), move |result| {
            if let Ok(list) = result {
                shared.hosts.set(list);
            }
        });
        shared
    }

    fn reload_channels(self) {
        self.latest_channels.run(alert_channels(), move |result| {
            self.channels.update(|state| state.settle(result))
        });
    }

    fn reload_rules(self) {
        self.latest_rules.run(alert_rules(), move |result| {
            self.rules.update(|state| state.settle(result))
        });
    }

    fn reload_silences(self) {
        self.latest_silences.run(silences(), move |result| {
            self.silences.update(|state| state.settle(result))
        });
    }

    fn channel_name(self, id: &str) -> Option<String> {
        self.channels.with(|state| {
            state
                .items()
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
        })
    }

    fn channel_kind(self, id: &str) -> Option<AlertChannelKind> {
        self.channels
            .with(|state| state.items().iter().find(|c| c.id == id).map(|c| c.kind))
    }

    fn host_name(self, id: &str) -> Option<String> {
        self.hosts
            .with(|hosts| hosts.iter().find(|h| h.id == id).map(|h| h.name.clone()))
    }

    fn rule_name(self, id: &str) -> Option<String> {
        self.rules.with(|state| {
            state
                .items()
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.name.clone())
        })
    }
}

/// The Alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let pathname = use_location().pathname;
    let section = Memo::new(move |_| query.with(|q| Section::from_query(q.get_str(TAB))));
    let filter = Memo::new(move |_| query.with(|q| StateFilter::from_query(q.get_str(STATE))));
    let set_filter = Callback::new(move |next: StateFilter| {
        let mut map = query.get_untracked();
        match next.query() {
            Some(value) => map.replace(STATE, value.to_owned()),
            None => {
                map.remove(STATE);
            }
        }
        navigate(
            &format!("{}{}", pathname.get_untracked(), map.to_query_string()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..NavigateOptions::default()
            },
        );
    });
    let shared = Shared::load();
    let open_count = use_context::<OpenAlertCount>().map(|c| c.0);

    let count_of = move |section: Section| -> Option<String> {
        match section {
            Section::Alerts => open_count
                .and_then(|c| c.get())
                .filter(|n| *n > 0)
                .map(|n| n.to_string()),
            Section::Channels => shared.channels.with(|s| match s {
                ListState::Loaded(list) => Some(list.len().to_string()),
                _ => None,
            }),
            Section::Rules => shared.rules.with(|s| match s {
                ListState::Loaded(list) => Some(list.len().to_string()),
                _ => None,
            }),
            Section::Silences => shared.silences.with(|s| match s {
                ListState::Loaded(list) => {
                    Some(list.iter().filter(|s| s.active).count().to_string())
                }
                _ => None,
            }),
        }
    };

    view! {
        <PageHeader
            title="Alerts"
            description="What broke and who was told; where notifications go, what raises them and what mutes them."
        />
        <nav class="subtabs alerts-subtabs" role="tablist" aria-label="Alert sections">
            {Section::ALL
                .into_iter()
                .map(|this| {
                    let active = move || section.get() == this;
                    let href = match this {
                        Section::Alerts => "/alerts".to_owned(),
                        other => format!("/alerts?{TAB}={}", other.query()),
                    };
                    view! {
                        <a
                            id=format!("alerts-subtab-{}", this.query())
                            class="subtab"
                            class:active=active
                            role="tab"
                            aria-selected=move || active().to_string()
                            aria-current=move || active().then_some("page")
                            href=href
                        >
                            <Icon kind=this.icon() />
                            <span>{this.label()}</span>
                            {move || count_of(this).map(|n| {
                                let class = if this == Section::Alerts { "subtab-count alerting" } else { "subtab-count" };
                                view! { <span class=class>{n}</span> }
                            })}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        {move || match section.get() {
            Section::Alerts => view! { <AlertsSection shared=shared filter=filter set_filter=set_filter /> }.into_any(),
            Section::Channels => view! { <ChannelsSection shared=shared /> }.into_any(),
            Section::Rules => view! { <RulesSection shared=shared /> }.into_any(),
            Section::Silences => view! { <SilencesSection shared=shared /> }.into_any(),
        }}
    }
}

/// The button that opens a section's new-item dialog (admins only; others see why it is disabled).
#[component]
fn AddButton(
    id: &'static str,
    label: &'static str,
    /// The empty state's call to action rather than the section head's button.
    #[prop(optional)]
    primary: bool,
    on_click: Callback<()>,
) -> impl IntoView {
    let refused = needs_title(Role::Admin);
    view! {
        <button
            id=id
            type="button"
            class=if primary { "btn btn-primary" } else { "btn btn-secondary" }
            disabled=refused.is_some()
            title=refused
            on:click=move |_| on_click.run(())
        >
            <Icon kind=IconKind::Plus />
            <span>{label}</span>
        </button>
    }
}
