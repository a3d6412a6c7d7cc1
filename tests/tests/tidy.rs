//! Tidy checks: the invariants of ARCHITECTURE.md that a text scan can enforce.
#![allow(clippy::expect_used)] // a test file: failing loudly is the point

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = root();
    let mut files = Vec::new();
    for dir in [
        "backend/src",
        "shared/src",
        "frontend/src",
        "migrations/src",
        "tests/src",
        "tests/e2e",
        "tests/tests",
        "xtask/src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable source");
            let rel = p
                .strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, text)
        })
        .collect()
}

/// Code lines only: comments are allowed to name anything.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
}

#[test]
fn every_module_starts_with_a_doc_line() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| {
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "modules without a leading `//!` line: {offenders:?}"
    );
}

fn assert_only_under(what: &str, needles: &[&str], allowed: &[&str]) {
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if path == "tests/tests/tidy.rs" || allowed.iter().any(|a| path.starts_with(a)) {
            continue;
        }
        for (line, code) in code_lines(&text) {
            if needles.iter().any(|n| code.contains(n)) {
                offenders.push(format!("{path}:{line}: {}", code.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "{what}:\n{}", offenders.join("\n"));
}

#[test]
fn only_the_docker_module_imports_bollard() {
    assert_only_under(
        "bollard is used outside backend/src/docker/",
        &["bollard"],
        &["backend/src/docker/"],
    );
}

#[test]
fn only_the_registry_module_speaks_http_to_registries() {
    assert_only_under(
        "reqwest is used in the server outside backend/src/registry/ (and the Docker passthrough)",
        &["reqwest"],
        &[
            "backend/src/registry/",
            "backend/src/docker/passthrough.rs",
            // Alert receivers (webhook, Slack, ntfy).
            "backend/src/notify/",
            "tests/",
            "frontend/",
            "xtask/",
            "shared/",
            "migrations/",
        ],
    );
}

#[test]
fn only_services_reach_the_database() {
    assert_only_under(
        "the database layer is used outside services (and the start-up wiring)",
        &["crate::db", "berth::db", "sea_orm::"],
        &[
            "backend/src/db/",
            "backend/src/service/",
            "backend/src/app.rs",
            // The schema itself: a migration may need the backend (SQLite's FTS5, PostgreSQL's pg_trgm).
            "migrations/",
            // How the shared enums are stored as columns (value conversions only, no query), for `db/`'s entities.
            "shared/src/db.rs",
        ],
    );
}

#[test]
fn resolvers_never_touch_entities() {
    assert_only_under(
        "database entities are used outside backend/src/db/",
        &["entities::"],
        &["backend/src/db/"],
    );
}

#[test]
fn only_the_reconciler_writes_instance_status() {
    // `InstanceWriter` is created once by the container service and handed to the reconciler at start-up;
    // nothing else may hold one, so nothing else can change an instance's status.
    assert_only_under(
        "InstanceWriter is used outside the container service, its wiring and the reconciler",
        &[
            "InstanceWriter",
            "instance_writer",
            "save_instance",
            "delete_instance",
        ],
        &[
            "backend/src/service/containers.rs",
            "backend/src/service/mod.rs",
            "backend/src/db/containers.rs",
            "backend/src/app.rs",
            "backend/src/engine/reconciler/",
        ],
    );
}

#[test]
fn only_the_config_reads_the_environment() {
    // Every setting is a flag with its variable in `config::Settings`; the parts get typed settings. Allowed: the
    // PATH handed to a child process, and switches of the unit tests (`BERTH_TEST_…`, `BERTH_UPDATE_SDL`).
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if !path.starts_with("backend/src/") || path == "backend/src/config.rs" {
            continue;
        }
        for (line, code) in code_lines(&text) {
            let reads = code.contains("env::var(") || code.contains("env::var_os(");
            let allowed = ["\"PATH\"", "\"BERTH_TEST_", "\"BERTH_UPDATE_SDL\""];
            if reads && !allowed.iter().any(|a| code.contains(a)) {
                offenders.push(format!("{path}:{line}: {}", code.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the environment is read outside config.rs:\n{}",
        offenders.join("\n")
    );
}
