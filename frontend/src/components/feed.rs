//! A server-sorted, server-filtered list loaded page by page (keyset cursors) and kept current by live deltas:
//! the data behind the virtualized tables ([`super::virtual_table`]).
//!
//! The loaded rows are always a prefix of the server's order: the first page at a (re)start, then the next page
//! whenever the view needs rows past the end. A delta keeps that true: a changed row is replaced in place (moved
//! when its sort position changed, dropped when it moved past the loaded end), a removed row is dropped, an added
//! row is inserted at its sort position when that lies within the loaded rows (or anywhere once everything is
//! loaded); `total` follows (+1, −1). Deltas arriving while a page is on its way wait for it, then apply; as the
//! answer may or may not include them, the count is then asked again. Each row has its own signal, so a change
//! repaints one row and never the list.

use std::{cmp::Ordering, collections::HashSet, rc::Rc, time::Duration};

use futures::future::LocalBoxFuture;
use leptos::{prelude::*, task::spawn_local};

use crate::api::{ApiError, Page};

/// Rows of the first page: one quick request at navigation.
pub const FIRST_PAGE: usize = 100;
/// Rows per page while scrolling.
pub const PAGE: usize = 200;
/// The largest page asked for (catching up after a jump towards the end).
pub const MAX_PAGE: usize = 500;
/// Pages are fetched while fewer than this many rows are loaded past what the view shows.
const AHEAD: usize = 60;
/// The count is asked again this long after the last change that may have moved it.
const RECOUNT_AFTER: Duration = Duration::from_millis(400);

/// A row with a stable identity.
pub trait Keyed {
    fn key(&self) -> &str;

    /// Keeps what a newer copy of a row (from a live delta, which carries fewer fields than a page) did not
    /// bring from the `older` copy it replaces.
    fn carry_over(&mut self, _older: &Self) {}
}

/// Fetches one page: after this cursor, this many rows.
pub type Fetch<T> =
    Rc<dyn Fn(Option<String>, usize) -> LocalBoxFuture<'static, Result<Page<T>, ApiError>>>;
/// The server's order of two rows.
pub type Compare<T> = Rc<dyn Fn(&T, &T) -> Ordering>;
/// How many rows match, all told.
pub type Count = Rc<dyn Fn() -> LocalBoxFuture<'static, Result<i64, ApiError>>>;

/// What the list shows: how to fetch it, in which order, and how to count it.
pub struct Query<T> {
    pub fetch: Fetch<T>,
    pub compare: Compare<T>,
    pub count: Count,
}

impl<T> Clone for Query<T> {
    fn clone(&self) -> Self {
        Self {
            fetch: self.fetch.clone(),
            compare: self.compare.clone(),
            count: self.count.clone(),
        }
    }
}

/// One loaded row: its key and its own signal.
pub struct Slot<T> {
    pub key: String,
    pub item: ArcRwSignal<T>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            item: self.item.clone(),
        }
    }
}

/// The loaded rows and where the server's list continues.
pub struct Rows<T> {
    pub slots: Vec<Slot<T>>,
    /// Rows matching the filter on the server (never fewer than are loaded).
    pub total: usize,
    pub has_next: bool,
    end_cursor: Option<String>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            total: 0,
            has_next: false,
            end_cursor: None,
        }
    }
}

impl<T> Rows<T> {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.slots.iter().position(|slot| slot.key == key)
    }

    /// Everything loaded: the total is what is here; otherwise at least that.
    fn settle_total(&mut self) {
        if self.has_next {
            self.total = self.total.max(self.slots.len());
        } else {
            self.total = self.slots.len();
        }
    }
}

/// Where the list stands.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedPhase {
    /// The first page is on its way and nothing is shown yet.
    Loading,
    Failed(ApiError),
    Ready,
}

/// A delta to apply.
#[derive(Clone, Debug)]
pub enum Delta<T> {
    /// A row now matches the filter.
    Added(T),
    /// A matching row changed.
    Changed(T),
    /// A row no longer matches (its key).
    Removed(String),
    /// A row changed and the caller tells whether it matches (feeds that are not relative to the filter); the
    /// count is asked again when membership changed.
    Upsert { item: T, matches: bool },
}

/// The list's state, as a copyable handle.
pub struct Feed<T: Send + Sync + 'static> {
    pub rows: RwSignal<Rows<T>>,
    pub phase: RwSignal<FeedPhase>,
    /// A page is on its way.
    pub loading: RwSignal<bool>,
    /// Restarted (new filter or order) with the old rows still on screen.
    pub refreshing: RwSignal<bool>,
    /// Bumped when the list restarted from its first page (the view scrolls back to the top).
    pub restarted: RwSignal<u64>,
    generation: StoredValue<u64>,
    query: StoredValue<Option<Query<T>>, LocalStorage>,
    /// Deltas waiting for the page on its way (`None`: none on its way).
    queued: StoredValue<Option<Vec<Delta<T>>>, LocalStorage>,
    /// Keys removed here before their REMOVED delta arrived (not counted twice).
    gone: StoredValue<HashSet<String>, LocalStorage>,
    /// How many rows the view wants loaded.
    wanted: StoredValue<usize>,
    recount_due: StoredValue<bool>,
    /// A restart's first page is on its way.
    restarting: StoredValue<bool>,
    /// The live feed connected while the first page was on its way: load again once it is here.
    resync_due: StoredValue<bool>,
}

impl<T: Send + Sync + 'static> Clone for Feed<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Feed<T> {}

impl<T> Default for Feed<T>
where
    T: Keyed + Clone + PartialEq + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Feed<T>
where
    T: Keyed + Clone + PartialEq + Send + Sync + 'static,
{
    pub fn new() -> Self {
        Self {
            rows: RwSignal::new(Rows::default()),
            phase: RwSignal::new(FeedPhase::Loading),
            loading: RwSignal::new(false),
            refreshing: RwSignal::new(false),
            restarted: RwSignal::new(0),
            generation: StoredValue::new(0),
            query: StoredValue::new_local(None),
            queued: StoredValue::new_local(None),
            gone: StoredValue::new_local(HashSet::new()),
            wanted: StoredValue::new(0),
            recount_due: StoredValue::new(false),
            restarting: StoredValue::new(false),
            resync_due: StoredValue::new(false),
        }
    }

    /// A new generation: answers to older requests are dropped from now on.
    fn next_generation(&self) -> Option<u64> {
        let generation = self.generation.try_get_value()?.wrapping_add(1);
        self.generation.set_value(generation);
        Some(generation)
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.try_get_value() == Some(generation)
    }

    /// Starts over from the first page with a new filter or order (a feed's first load too).
    pub fn restart(&self, query: Query<T>) {
        let Some(generation) = self.next_generation() else {
            return;
        };
        self.query.set_value(Some(query.clone()));
        self.queued.set_value(Some(Vec::new()));
        self.gone.update_value(HashSet::clear);
        self.wanted.set_value(0);
        self.restarting.set_value(true);
        self.resync_due.set_value(false);
        if self.phase.get_untracked() == FeedPhase::Ready {
            self.refreshing.set(true);
        } else {
            self.phase.set(FeedPhase::Loading);
        }
        self.loading.set(true);
        let this = *self;
        spawn_local(async move {
            let result = (query.fetch)(None, FIRST_PAGE).await;
            if !this.current(generation) {
                return;
            }
            this.loading.set(false);
            this.refreshing.set(false);
            this.restarting.set_value(false);
            match result {
                Ok(page) => {
                    this.rows.update(|rows| {
                        let old = std::mem::take(&mut rows.slots);
                        rows.slots = reuse(old, page.items);
                        rows.total = usize::try_from(page.total_count).unwrap_or(0);
                        rows.has_next = page.has_next_page && page.end_cursor.is_some();
                        rows.end_cursor = page.end_cursor;
                        rows.settle_total();
                    });
                    this.phase.set(FeedPhase::Ready);
                    this.restarted.update(|n| *n += 1);
                    this.replay();
                    if this.resync_due.get_value() {
                        this.resync_due.set_value(false);
                        this.reload();
                    } else {
                        this.more();
                    }
                }
                Err(error) => {
                    this.queued.set_value(None);
                    this.rows.set(Rows::default());
                    this.phase.set(FeedPhase::Failed(error));
                }
            }
        });
    }

    /// The live feed (re)connected: deltas from before may be missing, so the loaded rows are loaded again (once
    /// the first page is here if it is on its way; a first page asked for after the connection needs nothing).
    pub fn resync(&self) {
        if self.restarting.try_get_value() == Some(true) {
            self.resync_due.set_value(true);
        } else if self.phase.try_get_untracked() == Some(FeedPhase::Ready) {
            self.reload();
        }
    }

    /// Loads again as many rows as are loaded (after a live outage: deltas were missed), keeping the rows that
    /// did not change and the scroll position.
    pub fn reload(&self) {
        let Some(query) = self.query.get_value() else {
            return;
        };
        if self.phase.get_untracked() != FeedPhase::Ready {
            self.restart(query);
            return;
        }
        let Some(generation) = self.next_generation() else {
            return;
        };
        let target = self.rows.with_untracked(Rows::len).max(FIRST_PAGE);
        self.queued.set_value(Some(Vec::new()));
        self.loading.set(true);
        let this = *self;
        spawn_local(async move {
            let mut items = Vec::new();
            let mut after = None;
            let outcome = loop {
                let first = target.saturating_sub(items.len()).clamp(1, MAX_PAGE);
                match (query.fetch)(after.clone(), first).await {
                    Ok(page) => {
                        items.extend(page.items);
                        let more = page.has_next_page && page.end_cursor.is_some();
                        if !more || items.len() >= target {
                            break Ok((page.total_count, more, page.end_cursor));
                        }
                        after = page.end_cursor;
                    }
                    Err(error) => break Err(error),
                }
                if !this.current(generation) {
                    return;
                }
            };
            if !this.current(generation) {
                return;
            }
            this.loading.set(false);
            if let Ok((total, more, cursor)) = outcome {
                this.rows.update(|rows| {
                    let old = std::mem::take(&mut rows.slots);
                    rows.slots = reuse(old, items);
                    rows.total = usize::try_from(total).unwrap_or(0);
                    rows.has_next = more;
                    rows.end_cursor = cursor;
                    rows.settle_total();
                });
                this.gone.update_value(HashSet::clear);
            }
            // A failed reload keeps what is shown; the live indicator tells about the outage.
            this.replay();
            this.more();
        });
    }

    /// The view shows rows up to `end` (exclusive): load further pages until they are there.
    pub fn want(&self, end: usize) {
        if self.wanted.try_get_value().is_some_and(|w| w != end) {
            self.wanted.set_value(end);
            self.more();
        }
    }

    /// Fetches the next page if the view needs it and none is on its way.
    fn more(&self) {
        if self.loading.get_untracked() || self.phase.get_untracked() != FeedPhase::Ready {
            return;
        }
        let (len, has_next, cursor) = self
            .rows
            .with_untracked(|rows| (rows.len(), rows.has_next, rows.end_cursor.clone()));
        let wanted = self.wanted.get_value();
        if !has_next || len >= wanted + AHEAD {
            return;
        }
        let Some(query) = self.query.get_value() else {
            return;
        };
        let Some(generation) = self.generation.try_get_value() else {
            return;
        };
        let first = (wanted + AHEAD - len).clamp(PAGE, MAX_PAGE);
        self.queued.set_value(Some(Vec::new()));
        self.loading.set(true);
        let this = *self;
        spawn_local(async move {
            let result = (query.fetch)(cursor, first).await;
            if !this.current(generation) {
                return;
            }
            this.loading.set(false);
            match result {
                Ok(page) => {
                    this.rows.update(|rows| {
                        let known: HashSet<String> =
                            rows.slots.iter().map(|slot| slot.key.clone()).collect();
                        rows.slots.extend(
                            page.items
                                .into_iter()
                                .filter(|item| !known.contains(item.key()))
                                .map(slot),
                        );
                        rows.total = usize::try_from(page.total_count).unwrap_or(0);
                        rows.has_next = page.has_next_page && page.end_cursor.is_some();
                        rows.end_cursor = page.end_cursor;
                        rows.settle_total();
                    });
                    this.replay();
                    this.more();
                }
                Err(_) => {
                    // Scrolling on asks again; a live outage reloads.
                    this.replay();
                }
            }
        });
    }

    /// Applies the deltas that waited for a page; the count is asked again when one could have moved it.
    fn replay(&self) {
        let Some(Some(queued)) = self.queued.try_update_value(Option::take) else {
            return;
        };
        if queued.is_empty() {
            return;
        }
        let mut recount = false;
        for delta in queued {
            recount |= matches!(
                delta,
                Delta::Added(_) | Delta::Removed(_) | Delta::Upsert { .. }
            );
            self.apply_now(delta, false);
        }
        if recount {
            self.recount();
        }
    }

    /// Applies a delta now, or after the page on its way (dropped while nothing is shown).
    pub fn apply(&self, delta: Delta<T>) {
        match self.queued.try_with_value(Option::is_some) {
            Some(true) => self.queued.update_value(|queued| {
                if let Some(queued) = queued {
                    queued.push(delta);
                }
            }),
            Some(false) if self.phase.get_untracked() == FeedPhase::Ready => {
                self.apply_now(delta, true);
            }
            _ => {}
        }
    }

    /// A row as an action answered it: replaced if loaded, else placed like a changed row.
    pub fn put(&self, item: T) {
        self.apply(Delta::Changed(item));
    }

    /// Drops a row removed here (its REMOVED delta, if one comes, is then not counted again).
    pub fn forget(&self, key: &str) {
        let removed = self.rows.try_update(|rows| match rows.position(key) {
            Some(index) => {
                rows.slots.remove(index);
                rows.total = rows.total.saturating_sub(1);
                rows.settle_total();
                true
            }
            None => false,
        });
        if removed == Some(true) {
            self.gone.update_value(|gone| {
                gone.insert(key.to_owned());
            });
        }
    }

    /// Applies one delta; `counted` moves the total (live deltas) rather than asking the count again.
    fn apply_now(&self, delta: Delta<T>, counted: bool) {
        let Some(query) = self.query.get_value() else {
            return;
        };
        let compare = query.compare.clone();
        let mut recount = false;
        match delta {
            Delta::Added(item) => {
                let key = item.key().to_owned();
                self.gone.update_value(|gone| {
                    gone.remove(&key);
                });
                self.rows.update(|rows| {
                    let known = rows.position(&key).is_some();
                    place(rows, item, &*compare);
                    if counted && !known {
                        rows.total += 1;
                    }
                    rows.settle_total();
                });
            }
            Delta::Changed(item) => {
                self.rows.update(|rows| {
                    place(rows, item, &*compare);
                    rows.settle_total();
                });
            }
            Delta::Removed(key) => {
                let was_gone = self.gone.try_update_value(|gone| gone.remove(&key));
                self.rows.update(|rows| {
                    let loaded = match rows.position(&key) {
                        Some(index) => {
                            rows.slots.remove(index);
                            true
                        }
                        None => false,
                    };
                    if counted && (loaded || was_gone != Some(true)) {
                        rows.total = rows.total.saturating_sub(1);
                    }
                    rows.settle_total();
                });
            }
            Delta::Upsert { item, matches } => {
                let key = item.key().to_owned();
                self.rows.update(|rows| {
                    let loaded = rows.position(&key);
                    match (loaded, matches) {
                        (Some(_), true) => place(rows, item, &*compare),
                        (Some(index), false) => {
                            rows.slots.remove(index);
                            recount = rows.has_next;
                        }
                        (None, true) => {
                            place(rows, item, &*compare);
                            recount = rows.has_next;
                        }
                        (None, false) => {}
                    }
                    rows.settle_total();
                });
            }
        }
        if recount {
            self.recount();
        }
    }

    /// Asks the server how many rows match, a moment after the last change that may have moved it.
    fn recount(&self) {
        if self.recount_due.try_get_value() != Some(false) {
            return;
        }
        self.recount_due.set_value(true);
        let this = *self;
        set_timeout(
            move || {
                if this.recount_due.try_get_value().is_none() {
                    return;
                }
                this.recount_due.set_value(false);
                let Some(query) = this.query.get_value() else {
                    return;
                };
                let Some(generation) = this.generation.try_get_value() else {
                    return;
                };
                spawn_local(async move {
                    let result = (query.count)().await;
                    if this.current(generation)
                        && let Ok(count) = result
                    {
                        this.rows.update(|rows| {
                            rows.total = usize::try_from(count).unwrap_or(0);
                            rows.settle_total();
                        });
                    }
                });
            },
            RECOUNT_AFTER,
        );
    }
}

fn slot<T: Keyed + Send + Sync + 'static>(item: T) -> Slot<T> {
    Slot {
        key: item.key().to_owned(),
        item: ArcRwSignal::new(item),
    }
}

/// The slots of `items`, reusing the signal of a row already loaded (set only when it changed), so rows that
/// did not change are not drawn again.
fn reuse<T>(old: Vec<Slot<T>>, items: Vec<T>) -> Vec<Slot<T>>
where
    T: Keyed + PartialEq + Send + Sync + 'static,
{
    if old.is_empty() {
        return items.into_iter().map(slot).collect();
    }
    let mut by_key: std::collections::HashMap<String, ArcRwSignal<T>> =
        old.into_iter().map(|slot| (slot.key, slot.item)).collect();
    items
        .into_iter()
        .map(|item| match by_key.remove(item.key()) {
            Some(signal) => {
                let key = item.key().to_owned();
                if signal.with_untracked(|current| *current != item) {
                    signal.set(item);
                }
                Slot { key, item: signal }
            }
            None => slot(item),
        })
        .collect()
}

/// Puts a (new or changed) row where the order says: replaced in place when it stays between its neighbours,
/// else moved; left out (or dropped) when its place is past the loaded rows while more are on the server.
fn place<T>(rows: &mut Rows<T>, item: T, compare: &dyn Fn(&T, &T) -> Ordering)
where
    T: Keyed + PartialEq + Send + Sync + 'static,
{
    let key = item.key().to_owned();
    let mut item = item;
    if let Some(index) = rows.position(&key) {
        rows.slots[index]
            .item
            .with_untracked(|older| item.carry_over(older));
        let before = index
            .checked_sub(1)
            .and_then(|i| rows.slots.get(i))
            .is_none_or(|prev| {
                prev.item.with_untracked(|p| compare(p, &item)) != Ordering::Greater
            });
        let after = rows.slots.get(index + 1).is_none_or(|next| {
            next.item.with_untracked(|n| compare(&item, n)) != Ordering::Greater
        });
        if before && after {
            let signal = &rows.slots[index].item;
            if signal.with_untracked(|current| *current != item) {
                signal.set(item);
            }
            return;
        }
        let moved = rows.slots.remove(index);
        let at = rows.slots.partition_point(|s| {
            s.item.with_untracked(|other| compare(other, &item)) == Ordering::Less
        });
        if at < rows.slots.len() || !rows.has_next {
            moved.item.set(item);
            rows.slots.insert(at, moved);
        }
        return;
    }
    let at = rows.slots.partition_point(|s| {
        s.item.with_untracked(|other| compare(other, &item)) == Ordering::Less
    });
    if at < rows.slots.len() || !rows.has_next {
        rows.slots.insert(at, slot(item));
    }
}
