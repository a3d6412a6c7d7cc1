//! End-to-end tests of Berth against real Docker engines, registries and a headless browser.
//!
//! A small runner (`harness = false`): the real environment is expensive (three engines, two
//! registries, chromedriver), so it starts once per process, every test runs in turn against it with
//! a timeout, and the environment is torn down at the end — also on Ctrl-C.
//!
//! Usage: `cargo test -p berth-tests --test e2e -- [FILTER] [--exact] [--skip NAME] [--list]`.

mod admin_browser;
mod adoption;
mod alerts;
mod alerts_browser;
mod auth;
mod backup;
mod browser;
mod cluster;
mod containers;
mod containers_browser;
mod containers_paging;
mod convergence;
mod exec;
mod hardening;
mod harness;
mod health;
mod health_checks;
mod health_checks_browser;
mod hosts;
mod inventory;
mod inventory_browser;
mod logs;
mod logs_browser;
mod metrics;
mod postgres;
mod registries;
mod replication;
mod replication_browser;
mod roles;
mod rollouts;
mod rollouts_browser;
mod stats;
mod stats_browser;
mod terminal;
mod terminal_browser;
mod updates;

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_tests::TestEnv;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// How long one test may run.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

type TestFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;
type TestFn = for<'a> fn(&'a TestEnv) -> TestFuture<'a>;

/// `module::name` pairs, turned into named test functions.
macro_rules! tests {
    ($($module:ident :: $name:ident),* $(,)?) => {
        vec![$(
            (concat!(stringify!($module), "::", stringify!($name)), {
                fn run(env: &TestEnv) -> TestFuture<'_> {
                    Box::pin($module::$name(env))
                }
                run as TestFn
            })
        ),*]
    };
}

fn all_tests() -> Vec<(&'static str, TestFn)> {
    tests![
        harness::engines_answer,
        harness::registries_answer,
        harness::image_runs_on_every_engine,
        harness::auth_registry_needs_login,
        health::healthz_reports_database_ok,
        health::web_app_precompressed_and_cached,
        health::full_disk_answers_unavailable_and_recovers,
        registries::slow_endless_link_chains_stop_early,
        auth::me_requires_authentication,
        auth::wrong_password_is_refused,
        auth::login_sets_session_cookie,
        auth::api_token_lifecycle,
        auth::wrong_bearer_is_refused,
        auth::logout_ends_session,
        auth::empty_token_name_is_bad_user_input,
        auth::non_json_post_is_refused,
        auth::get_allows_queries_but_not_mutations,
        auth::session_survives_restart,
        auth::ws_init_without_auth_is_closed_4403,
        auth::ws_init_with_bearer_is_acknowledged,
        auth::ws_foreign_origin_is_refused,
        auth::ws_without_init_is_closed_4408,
        auth::fragment_fan_out_is_refused_at_once,
        auth::batched_logins_count_every_attempt,
        auth::huge_user_name_is_bad_user_input,
        hardening::absurd_names_are_bad_user_input,
        hardening::host_path_disks_refuse_system_paths,
        hardening::bad_image_references_are_refused,
        hardening::bad_host_endpoints_are_refused,
        hardening::huge_env_names_and_registry_urls_are_refused,
        hardening::malformed_body_and_url_name_the_field,
        hardening::audit_log_refusal_names_its_action,
        hardening::subscriptions_per_connection_are_capped,
        hardening::websocket_messages_over_64_kib_are_refused,
        hardening::memory_stays_flat_through_a_hostile_battery,
        hosts::engines_are_added_up_with_their_capabilities,
        hosts::bad_input_is_refused_and_nothing_saved,
        hosts::wrong_ca_is_saved_non_responsive,
        hosts::silent_host_does_not_delay_others,
        hosts::pull_image_reports_progress_and_fills_cache,
        hosts::pull_streams_real_bytes,
        hosts::cache_follows_the_docker_cli,
        hosts::remove_image_and_failed_pull,
        hosts::maintenance_refresh_and_remove,
        // Freeze h1 and kill h2: last of the host tests (the runner resumes and restarts them should
        // these fail).
        hosts::frozen_engine_is_seen_and_recovers,
        hosts::killed_engine_is_seen_and_recovers,
        registries::open_registry_is_listed,
        registries::auth_registry_right_and_wrong_password,
        registries::misbehaving_registries_fail_clearly,
        registries::docker_hub_namespace_is_listed,
        registries::periodic_refresh_is_seen,
        registries::seeded_registry_with_index_and_deletion,
        registries::token_registry_refreshes_incrementally,
        registries::host_pull_uses_registry_credentials,
        registries::host_pull_with_base64_trap_password,
        registries::stopped_registry_keeps_list_and_recovers,
        registries::registries_on_postgres,
        containers::httpd_runs_on_any_host_and_serves,
        containers::pinned_maintenance_and_cached_image,
        containers::pull_with_credentials_before_run,
        containers::exits_kills_clashes_and_logs,
        containers::validation_versions_and_delete,
        containers::adopts_containers_after_sigkill,
        containers::stop_cancels_a_pull_in_progress,
        containers_paging::pages_are_exact_under_churn,
        health_checks::bad_checks_are_refused,
        health_checks::unhealthy_is_seen_live,
        health_checks::unhealthy_replicas_are_replaced,
        health_checks::unhealthy_replicas_are_replaced_on_postgres,
        health_checks_browser::health_check_form_and_badges,
        exec::commands_run_in_containers,
        stats::live_and_sampled_stats,
        stats_browser::charts_draw_samples,
        terminal::shell_in_a_container,
        terminal_browser::terminal_from_the_container_page,
        logs::follow_search_and_download,
        convergence::outside_rm_and_stop_are_corrected,
        convergence::sigkill_inside_sequences_converges,
        replication::replicas_spread_and_are_replaced,
        replication::scale_down_up_and_in_parallel,
        replication::disks_keep_data_and_follow_the_rules,
        // Kills h2's engine (and starts it again).
        replication::lost_host_replicas_move_and_surplus_goes,
        adoption::hand_made_container_is_adopted_and_replaced,
        adoption::unsupported_settings_need_confirmation,
        inventory::paging_is_exact_while_rows_come_and_go,
        // Kills h2's engine (and starts it again).
        inventory::hand_made_containers_are_seen_acted_on_and_go,
        inventory::a_burst_of_exits_is_recorded,
        alerts::webhook_gets_exits_and_survives_outages,
        alerts::silences_maintenance_and_acknowledging,
        alerts_browser::channel_rule_test_and_live_alert,
        alerts::email_reaches_a_real_smtp_server,
        alerts::out_of_memory_is_an_alert,
        alerts::restart_loop_is_an_alert,
        alerts::unplaceable_replica_is_an_alert,
        alerts::host_load_and_reminders,
        updates::push_hook_marks_updates,
        updates::unlisted_registry_is_checked,
        rollouts::roll_out_roll_back_and_pin,
        rollouts::rollout_survives_sigkill,
        rollouts::deploy_hook_rolls_out,
        rollouts::auto_policy_rolls_out_new_images,
        rollouts::rollback_to_a_gone_image_is_refused,
        metrics::prometheus_metrics_pass_promtool,
        backup::backup_restore_and_one_server_per_file,
        cluster::three_servers_share_the_work_and_fail_over,
        roles::every_mutation_checks_the_role,
        roles::users_last_admin_and_audit,
        roles::hardening_and_no_secrets_anywhere,
        roles::passthrough_rest_and_cli,
        browser::login_tabs_tokens_logout,
        browser::hosts_add_and_pull,
        browser::storage_registries,
        containers_browser::containers_run_logs_stop,
        rollouts_browser::redeploy_and_roll_back_from_the_page,
        logs_browser::search_stderr_and_download,
        inventory_browser::all_view_lists_filters_scrolls_and_adopts,
        replication_browser::scale_in_table_and_mount_a_disk,
        admin_browser::viewer_sees_no_actions,
        admin_browser::events_live_and_users_page,
        postgres::auth_sessions_and_hosts,
        postgres::stats_on_postgres,
        health::postgres_outage_fails_fast_and_recovers,
    ]
}

/// What the command line asked for.
struct Selection {
    filter: Option<String>,
    exact: bool,
    skip: Vec<String>,
    list: bool,
    ignored_only: bool,
}

impl Selection {
    fn parse() -> Selection {
        let mut selection = Selection {
            filter: None,
            exact: false,
            skip: Vec::new(),
            list: false,
            ignored_only: false,
        };
        // libtest flags that take a value in the next argument.
        const WITH_VALUE: &[&str] = &[
            "--test-threads",
            "--color",
            "--format",
            "--logfile",
            "--shuffle-seed",
            "-Z",
            "--report-time",
        ];
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--exact" => selection.exact = true,
                "--list" => selection.list = true,
                "--ignored" => selection.ignored_only = true,
                "--skip" => selection.skip.extend(args.next()),
                flag if WITH_VALUE.contains(&flag) => {
                    args.next();
                }
                flag if flag.starts_with('-') => {}
                name => {
                    if selection.filter.is_none() {
                        selection.filter = Some(name.to_string());
                    }
                }
            }
        }
        selection
    }

    fn matches(&self, name: &str) -> bool {
        if self.ignored_only || self.skip.iter().any(|s| name.contains(s.as_str())) {
            return false;
        }
        match &self.filter {
            None => true,
            Some(f) if self.exact => name == f,
            Some(f) => name.contains(f.as_str()),
        }
    }
}

enum Outcome {
    Passed,
    Failed(String),
    Interrupted,
}

fn main() -> ExitCode {
    let selection = Selection::parse();
    let all = all_tests();
    if selection.list {
        for (name, _) in &all {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    berth_tests::app::use_e2e_settings();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // tower-sessions warns about every unknown session id, which the logout tests replay on
                // purpose.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,tower_sessions_core::session=error")
                }),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot build the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let total = all.len();
    let selected: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| selection.matches(name))
        .collect();
    runtime.block_on(run(selected, total))
}

/// Formats an error with its chain of causes, one per line.
fn describe_error(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Resolves once Ctrl-C was pressed.
async fn interrupted(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|&pressed| pressed).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run(selected: Vec<(&'static str, TestFn)>, total: usize) -> ExitCode {
    let started = Instant::now();
    let filtered_out = total - selected.len();
    println!("\nrunning {} tests", selected.len());
    if selected.is_empty() {
        summary(0, 0, filtered_out, started, &[]);
        return ExitCode::SUCCESS;
    }

    // First Ctrl-C: stop the running test and tear down; second one: leave at once (the next run
    // cleans up).
    let (tx, rx) = watch::channel(false);
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot listen for SIGINT/SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = interrupt.recv() => {}
                Some(()) = terminate.recv() => {}
                else => return,
            }
            if *tx.borrow() {
                eprintln!(
                    "\nberth-test: interrupted again, exiting without teardown (the next run cleans up)"
                );
                std::process::exit(130);
            }
            eprintln!(
                "\nberth-test: interrupted, tearing the test environment down (interrupt again to exit at once)"
            );
            let _ = tx.send(true);
        }
    });

    let env = match TestEnv::start_until(interrupted(rx.clone())).await {
        Ok(env) => Arc::new(env),
        Err(e) => {
            eprintln!(
                "\nberth-test: the test environment failed to start:\n{}",
                describe_error(&e)
            );
            let failures: Vec<(String, String)> = selected
                .iter()
                .map(|(name, _)| {
                    (
                        name.to_string(),
                        "the test environment failed to start (see above)".into(),
                    )
                })
                .collect();
            for (name, _) in &selected {
                println!("test {name} ... FAILED");
            }
            summary(0, failures.len(), filtered_out, started, &failures);
            return if *rx.borrow() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    eprintln!(
        "berth-test: environment ready in {:.1}s",
        env.startup.as_secs_f64()
    );

    let mut passed = 0;
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut timings = Vec::new();
    let mut was_interrupted = false;
    for (name, test) in &selected {
        if *rx.borrow() {
            was_interrupted = true;
            break;
        }
        print!("test {name} ... ");
        let _ = std::io::stdout().flush();
        let test_started = Instant::now();
        let shared = env.clone();
        let test = *test;
        let mut handle = tokio::spawn(async move { test(&shared).await });
        let outcome = tokio::select! {
            result = tokio::time::timeout(TEST_TIMEOUT, &mut handle) => match result {
                Ok(Ok(Ok(()))) => Outcome::Passed,
                Ok(Ok(Err(e))) => Outcome::Failed(describe_error(&e)),
                Ok(Err(join)) if join.is_panic() => Outcome::Failed(format!("panicked: {}", panic_message(join.into_panic()))),
                Ok(Err(join)) => Outcome::Failed(format!("the test task failed: {join}")),
                Err(_) => Outcome::Failed(format!("timed out after {}s", TEST_TIMEOUT.as_secs())),
            },
            () = interrupted(rx.clone()) => Outcome::Interrupted,
        };
        if !handle.is_finished() {
            handle.abort();
            let _ = (&mut handle).await;
        }
        timings.push((name.to_string(), test_started.elapsed()));
        // A test that kills an engine restarts it itself; should it fail or time out first, the next
        // tests still get all three engines.
        if !matches!(outcome, Outcome::Interrupted) {
            match env.revive_engines().await {
                Ok(started) if !started.is_empty() => {
                    eprintln!("berth-test: restarted engine(s) {started:?} left stopped by {name}")
                }
                Ok(_) => {}
                Err(e) => eprintln!(
                    "berth-test: could not restart the engines after {name}: {}",
                    describe_error(&e)
                ),
            }
        }
        match outcome {
            Outcome::Passed => {
                println!("ok");
                passed += 1;
            }
            Outcome::Failed(details) => {
                println!("FAILED");
                failures.push((name.to_string(), details));
            }
            Outcome::Interrupted => {
                println!("FAILED");
                failures.push((name.to_string(), "interrupted (SIGINT/SIGTERM)".into()));
                was_interrupted = true;
                break;
            }
        }
    }

    // Tests hold the environment only inside their (finished or aborted) tasks.
    let teardown_started = Instant::now();
    let mut env = env;
    let env = loop {
        match Arc::try_unwrap(env) {
            Ok(env) => break Some(env),
            Err(shared) if teardown_started.elapsed() < Duration::from_secs(5) => {
                env = shared;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => break None,
        }
    };
    match env {
        Some(env) => {
            if !failures.is_empty() {
                let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-logs");
                match env.save_logs(&logs) {
                    Ok(()) => eprintln!("berth-test: component logs saved in {}", logs.display()),
                    Err(e) => eprintln!("berth-test: could not save the component logs: {e:#}"),
                }
            }
            if let Err(e) = env.stop().await {
                eprintln!("berth-test: teardown: {}", describe_error(&e));
            }
        }
        None => {
            eprintln!("berth-test: the environment is still in use; the next run will clean it up")
        }
    }
    eprintln!(
        "berth-test: teardown took {:.1}s",
        teardown_started.elapsed().as_secs_f64()
    );

    if !timings.is_empty() {
        eprintln!("berth-test: timings:");
        for (name, took) in &timings {
            eprintln!("  {:>6.2}s  {name}", took.as_secs_f64());
        }
    }
    summary(passed, failures.len(), filtered_out, started, &failures);
    if was_interrupted {
        return ExitCode::from(130);
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn summary(
    passed: usize,
    failed: usize,
    filtered_out: usize,
    started: Instant,
    failures: &[(String, String)],
) {
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, details) in failures {
            println!("---- {name} ----\n{details}\n");
        }
        println!("failures:");
        for (name, _) in failures {
            println!("    {name}");
        }
    }
    let status = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
}
