//! Alerts: channels (where notifications go, their secrets sealed), rules (a condition and a scope), the alerts
//! they open (at most one open per rule and subject, by a partial unique index), silences, and the delivery
//! outbox with every attempt, so a notification is never lost between detection and delivery.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(t: &mut TableCreateStatement) {
    t.col(
        ColumnDef::new(Alias::new("id"))
            .string()
            .not_null()
            .primary_key(),
    );
}

fn seq(t: &mut TableCreateStatement) {
    t.col(
        ColumnDef::new(Alias::new("seq"))
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key(),
    );
}

fn col(t: &mut TableCreateStatement, name: &str, kind: &str, null: bool) {
    let mut c = ColumnDef::new(Alias::new(name));
    match kind {
        "string" => c.string(),
        "text" => c.text(),
        "int" => c.integer(),
        "bigint" => c.big_integer(),
        "bool" => c.boolean(),
        _ => c.timestamp_with_time_zone(),
    };
    if null {
        c.null();
    } else {
        c.not_null();
    }
    t.col(c);
}

fn index(name: &str, table: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut ix = Index::create();
    ix.name(name).table(Alias::new(table));
    for c in cols {
        ix.col(Alias::new(*c));
    }
    ix.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut t = Table::create();
        t.table(Alias::new("alert_channels")).if_not_exists();
        id(&mut t);
        t.col(
            ColumnDef::new(Alias::new("name"))
                .string()
                .not_null()
                .unique_key(),
        );
        col(&mut t, "kind", "string", false);
        col(&mut t, "url_sealed", "text", true);
        col(&mut t, "url_shown", "text", true);
        col(&mut t, "secret_sealed", "text", true);
        col(&mut t, "smtp_host", "string", true);
        col(&mut t, "smtp_port", "int", true);
        col(&mut t, "smtp_security", "string", true);
        col(&mut t, "smtp_username", "string", true);
        col(&mut t, "smtp_password_sealed", "text", true);
        col(&mut t, "email_from", "string", true);
        col(&mut t, "email_to", "text", true);
        col(&mut t, "enabled", "bool", false);
        col(&mut t, "created_at", "time", false);
        manager.create_table(t.to_owned()).await?;

        let mut t = Table::create();
        t.table(Alias::new("alert_rules")).if_not_exists();
        id(&mut t);
        t.col(
            ColumnDef::new(Alias::new("name"))
                .string()
                .not_null()
                .unique_key(),
        );
        col(&mut t, "condition", "string", false);
        col(&mut t, "host_id", "string", true);
        col(&mut t, "container_id", "string", true);
        col(&mut t, "label_selector", "text", true);
        col(&mut t, "channel_ids", "text", false);
        col(&mut t, "repeat_secs", "int", false);
        col(&mut t, "restart_count", "int", true);
        col(&mut t, "restart_window_secs", "int", true);
        col(&mut t, "enabled", "bool", false);
        col(&mut t, "created_at", "time", false);
        manager.create_table(t.to_owned()).await?;

        let mut t = Table::create();
        t.table(Alias::new("alerts")).if_not_exists();
        seq(&mut t);
        t.col(
            ColumnDef::new(Alias::new("id"))
                .string()
                .not_null()
                .unique_key(),
        );
        col(&mut t, "rule_id", "string", false);
        col(&mut t, "rule_name", "string", false);
        col(&mut t, "condition", "string", false);
        col(&mut t, "subject_key", "string", false);
        col(&mut t, "subject", "text", false);
        col(&mut t, "host_id", "string", true);
        col(&mut t, "container_id", "string", true);
        col(&mut t, "message", "text", false);
        col(&mut t, "state", "string", false);
        col(&mut t, "silenced", "bool", false);
        col(&mut t, "opened_at", "time", false);
        col(&mut t, "acknowledged_at", "time", true);
        col(&mut t, "acknowledged_by", "string", true);
        col(&mut t, "resolved_at", "time", true);
        col(&mut t, "resolve_message", "text", true);
        col(&mut t, "next_repeat_at", "time", true);
        manager.create_table(t.to_owned()).await?;
        manager
            .create_index(index("ix_alerts_state", "alerts", &["state", "seq"]))
            .await?;
        manager
            .create_index(index(
                "ix_alerts_repeat",
                "alerts",
                &["state", "next_repeat_at"],
            ))
            .await?;
        // At most one alert open (or acknowledged) per rule and subject: the database keeps the promise even if two
        // detections race.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS ux_alerts_open ON alerts (rule_id, subject_key) \
                 WHERE state <> 'RESOLVED'",
            )
            .await?;

        let mut t = Table::create();
        t.table(Alias::new("alert_deliveries")).if_not_exists();
        seq(&mut t);
        t.col(
            ColumnDef::new(Alias::new("id"))
                .string()
                .not_null()
                .unique_key(),
        );
        col(&mut t, "alert_id", "string", true);
        col(&mut t, "channel_id", "string", false);
        col(&mut t, "event", "string", false);
        col(&mut t, "payload", "text", false);
        col(&mut t, "state", "string", false);
        col(&mut t, "attempts", "int", false);
        col(&mut t, "next_attempt_at", "time", false);
        col(&mut t, "created_at", "time", false);
        col(&mut t, "delivered_at", "time", true);
        col(&mut t, "last_status", "int", true);
        col(&mut t, "last_error", "text", true);
        manager.create_table(t.to_owned()).await?;
        manager
            .create_index(index(
                "ix_alert_deliveries_due",
                "alert_deliveries",
                &["state", "channel_id", "next_attempt_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_alert_deliveries_alert",
                "alert_deliveries",
                &["alert_id", "seq"],
            ))
            .await?;

        let mut t = Table::create();
        t.table(Alias::new("alert_attempts")).if_not_exists();
        seq(&mut t);
        col(&mut t, "delivery_id", "string", false);
        col(&mut t, "at", "time", false);
        col(&mut t, "status_code", "int", true);
        col(&mut t, "error", "text", true);
        col(&mut t, "duration_ms", "bigint", false);
        manager.create_table(t.to_owned()).await?;
        manager
            .create_index(index(
                "ix_alert_attempts_delivery",
                "alert_attempts",
                &["delivery_id", "seq"],
            ))
            .await?;

        let mut t = Table::create();
        t.table(Alias::new("silences")).if_not_exists();
        id(&mut t);
        col(&mut t, "rule_id", "string", true);
        col(&mut t, "condition", "string", true);
        col(&mut t, "host_id", "string", true);
        col(&mut t, "container_id", "string", true);
        col(&mut t, "label_selector", "text", true);
        col(&mut t, "comment", "text", false);
        col(&mut t, "ends_at", "time", false);
        col(&mut t, "created_by", "string", false);
        col(&mut t, "created_at", "time", false);
        manager.create_table(t.to_owned()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "silences",
            "alert_attempts",
            "alert_deliveries",
            "alerts",
            "alert_rules",
            "alert_channels",
        ] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
