//! The dialog's feedback: which field shows which error (the server's word first, then the checks as you type;
//! "required" only after a touch or a save), what an edit clears, and whether the form may be saved.

use std::collections::{BTreeMap, HashSet};

use berth_shared::UpdatePolicy;
use leptos::prelude::*;

use super::checks::{
    COMMAND, CPUS, ENTRYPOINT, FIELDS, HOST, IMAGE, MEMORY, NAME, REPLICAS, WINDOW, check_args,
    check_cpus, check_image, check_memory, check_name, check_replicas, check_window,
};
use super::values::{Values, env_problems, port_problems};
use crate::api::Disk;
use crate::components::{
    container_health::HEALTH_FIELDS,
    container_mounts::{host_conflict, mount_problems, replicas_conflict},
};

/// Problems of a list's rows, by row key.
type RowProblems = Memo<BTreeMap<u64, String>>;

/// The form's values with everything that decides what it shows about them.
#[derive(Clone, Copy)]
pub(super) struct Form {
    pub(super) values: Values,
    /// The disks mounts may use (to check a mount against the host and the replicas).
    pub(super) disks: RwSignal<Vec<Disk>>,
    /// Fields the user edited ("required" waits for a touch or a save).
    touched: RwSignal<HashSet<&'static str>>,
    /// A save was tried.
    pub(super) submitted: RwSignal<bool>,
    /// The server's errors by slot (a field, or a row as `ports:KEY`).
    pub(super) server_errors: RwSignal<BTreeMap<String, String>>,
    /// An error about no field in particular, at the top.
    pub(super) form_error: RwSignal<Option<String>>,
    pub(super) env_errors: RowProblems,
    pub(super) port_errors: RowProblems,
    pub(super) mount_errors: RowProblems,
}

impl Form {
    pub(super) fn new(values: Values, disks: RwSignal<Vec<Disk>>) -> Self {
        Self {
            values,
            disks,
            touched: RwSignal::new(HashSet::new()),
            submitted: RwSignal::new(false),
            server_errors: RwSignal::new(BTreeMap::new()),
            form_error: RwSignal::new(None),
            env_errors: Memo::new(move |_| values.env.with(|rows| env_problems(rows))),
            port_errors: Memo::new(move |_| values.ports.with(|rows| port_problems(rows))),
            mount_errors: Memo::new(move |_| values.mounts.with(|rows| mount_problems(rows))),
        }
    }

    /// What the checks as you type say about `field` (empty or not).
    fn client_error(self, field: &'static str) -> Option<String> {
        let values = self.values;
        let disks = self.disks;
        match field {
            NAME => check_name(&values.name.get()).err(),
            IMAGE => check_image(&values.image.get()).err(),
            COMMAND => check_args(&values.command.get()).err(),
            ENTRYPOINT => check_args(&values.entrypoint.get()).err(),
            CPUS => check_cpus(&values.cpus.get()).err(),
            MEMORY => check_memory(&values.memory.get()).err(),
            WINDOW if values.updates.get() == UpdatePolicy::Auto => {
                check_window(&values.window.get()).err()
            }
            REPLICAS => match check_replicas(&values.replicas.get()) {
                Ok(replicas) => values
                    .mounts
                    .with(|rows| disks.with(|list| replicas_conflict(rows, list, replicas))),
                Err(error) => Some(error),
            },
            HOST => {
                let host_id = values.host_id.get();
                values
                    .mounts
                    .with(|rows| disks.with(|list| host_conflict(rows, list, &host_id)))
            }
            _ if HEALTH_FIELDS.contains(&field) => values.health.error(field),
            _ => None,
        }
    }

    /// The error `field` shows: the server's word first, then ours (at once for a filled field, after a touch or
    /// a save for an empty one).
    pub(super) fn field_error(self, field: &'static str) -> Option<String> {
        if let Some(message) = self.server_errors.with(|errors| errors.get(field).cloned()) {
            return Some(message);
        }
        let empty = match field {
            NAME => self.values.name.with(|v| v.trim().is_empty()),
            IMAGE => self.values.image.with(|v| v.trim().is_empty()),
            _ => false,
        };
        let shown = self.submitted.get() || self.touched.with(|t| t.contains(field));
        self.client_error(field).filter(|_| !empty || shown)
    }

    /// A row's error slot (`ports:KEY`) and what it shows: the server's word first, then ours.
    pub(super) fn row_slot(
        self,
        list: &str,
        key: u64,
        client: RowProblems,
    ) -> (String, Signal<Option<String>>) {
        let slot = format!("{list}:{key}");
        let server_errors = self.server_errors;
        let error = Signal::derive({
            let slot = slot.clone();
            move || {
                server_errors
                    .with(|errors| errors.get(&slot).cloned())
                    .or_else(|| client.with(|problems| problems.get(&key).cloned()))
            }
        });
        (slot, error)
    }

    /// Something the checks reject (the save button waits).
    pub(super) fn invalid(self) -> bool {
        FIELDS
            .iter()
            .any(|field| self.client_error(field).is_some())
            || HEALTH_FIELDS
                .iter()
                .any(|field| self.client_error(field).is_some())
            || self.env_errors.with(|e| !e.is_empty())
            || self.port_errors.with(|e| !e.is_empty())
            || self.mount_errors.with(|e| !e.is_empty())
    }

    /// An edit in `slot`: the server's word about it, and the form's error, are no longer news.
    pub(super) fn edited(self, slot: String) {
        self.server_errors.update(|errors| {
            errors.remove(&slot);
        });
        self.form_error.set(None);
    }

    /// An edit of `field`, which now counts as touched.
    pub(super) fn edited_field(self, field: &'static str) {
        self.touched.update(|t| {
            t.insert(field);
        });
        self.edited(field.to_owned());
    }

    /// An edit of a mount, which can settle what the server said about the replicas or the host too.
    pub(super) fn edited_mount(self, slot: String) {
        self.server_errors.update(|errors| {
            errors.remove(REPLICAS);
            errors.remove(HOST);
        });
        self.edited(slot);
    }
}
