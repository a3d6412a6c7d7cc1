//! Loading a page's data: only the newest of overlapping requests may write ([`Latest`]), a spinner card while
//! it loads, and an error with Retry when it failed.

use std::future::Future;

use leptos::{prelude::*, task::spawn_local};

use super::alert::{Alert, AlertTone};
use crate::api::ApiError;

/// Hands a load's result on only if no newer load started meanwhile (live events can start several in a row,
/// and an older answer must not overwrite a newer one).
#[derive(Clone, Copy)]
pub struct Latest(StoredValue<u64>);

impl Default for Latest {
    fn default() -> Self {
        Self::new()
    }
}

impl Latest {
    pub fn new() -> Self {
        Self(StoredValue::new(0))
    }

    /// Runs `fetch`; `apply` gets its output unless another `run` started since, or the page is gone.
    pub fn run<T: 'static>(
        self,
        fetch: impl Future<Output = T> + 'static,
        apply: impl FnOnce(T) + 'static,
    ) {
        let Some(this) = self.0.try_get_value().map(|n| n.wrapping_add(1)) else {
            return;
        };
        self.0.set_value(this);
        spawn_local(async move {
            let result = fetch.await;
            if self.0.try_get_value() == Some(this) {
                apply(result);
            }
        });
    }
}

/// A card with a spinner and what is loading ("Loading containers…").
#[component]
pub fn LoadingCard(#[prop(into)] text: String) -> impl IntoView {
    view! {
        <div class="card">
            <div class="loading-block" aria-busy="true">
                <span class="spinner" aria-hidden="true"></span>
                <span class="muted">{text}</span>
            </div>
        </div>
    }
}

/// "The containers could not be loaded: …" with a Retry button.
#[component]
pub fn LoadFailed(
    /// What failed to load, as the sentence's subject ("The containers").
    #[prop(into)]
    what: String,
    error: ApiError,
    on_retry: Callback<()>,
) -> impl IntoView {
    view! {
        <Alert tone=AlertTone::Error>
            {what} " could not be loaded: " {error.message} " "
            <button type="button" class="btn btn-secondary btn-sm" on:click=move |_| on_retry.run(())>
                "Retry"
            </button>
        </Alert>
    }
}

/// A page's list as loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum ListState<T> {
    Loading,
    Loaded(Vec<T>),
    Failed(ApiError),
}

/// What a list page shows under its header; changes only when the list appears, empties or fails.
#[derive(Clone, Debug, PartialEq)]
pub enum ListPhase {
    Loading,
    Failed(ApiError),
    Empty,
    List,
}

impl<T: Clone> ListState<T> {
    pub fn phase(&self) -> ListPhase {
        match self {
            Self::Loading => ListPhase::Loading,
            Self::Failed(error) => ListPhase::Failed(error.clone()),
            Self::Loaded(list) if list.is_empty() => ListPhase::Empty,
            Self::Loaded(_) => ListPhase::List,
        }
    }

    /// The items (none while loading or after a failure).
    pub fn items(&self) -> &[T] {
        match self {
            Self::Loaded(list) => list,
            _ => &[],
        }
    }

    /// Takes a load's result: a failed re-fetch keeps the list on screen (the live indicator tells about
    /// outages).
    pub fn settle(&mut self, result: Result<Vec<T>, ApiError>) {
        match result {
            Ok(list) => *self = Self::Loaded(list),
            Err(error) => {
                if !matches!(self, Self::Loaded(_)) {
                    *self = Self::Failed(error);
                }
            }
        }
    }

    /// Replaces the item that `same` says is `item`, or appends it.
    pub fn put(&mut self, item: T, same: impl Fn(&T, &T) -> bool) {
        match self {
            Self::Loaded(list) => match list.iter_mut().find(|old| same(old, &item)) {
                Some(slot) => *slot = item,
                None => list.push(item),
            },
            _ => *self = Self::Loaded(vec![item]),
        }
    }
}

/// One item of a detail page as loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemState<T> {
    Loading,
    Found(T),
    Missing,
    Failed(ApiError),
}

/// What a detail page shows; changes only when the item appears, disappears or fails to load.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemPhase {
    Loading,
    Found,
    Missing,
    Failed(ApiError),
}

impl<T: Clone> ItemState<T> {
    pub fn phase(&self) -> ItemPhase {
        match self {
            Self::Loading => ItemPhase::Loading,
            Self::Found(_) => ItemPhase::Found,
            Self::Missing => ItemPhase::Missing,
            Self::Failed(error) => ItemPhase::Failed(error.clone()),
        }
    }

    pub fn found(&self) -> Option<&T> {
        match self {
            Self::Found(item) => Some(item),
            _ => None,
        }
    }

    /// Takes a load's result: a failed re-fetch keeps what is shown.
    pub fn settle(&mut self, result: Result<Option<T>, ApiError>) {
        match result {
            Ok(Some(item)) => *self = Self::Found(item),
            Ok(None) => *self = Self::Missing,
            Err(error) => {
                if !matches!(self, Self::Found(_)) {
                    *self = Self::Failed(error);
                }
            }
        }
    }
}
