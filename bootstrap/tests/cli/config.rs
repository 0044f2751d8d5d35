//! Configuration from the environment, secrets never shown, and production mode's requirements.

use super::*;

#[test]
fn config_takes_lists_from_the_environment_and_never_shows_a_secret() {
    let out = with_env(
        &["config"],
        &[
            ("SIGNAL__INGEST__API_KEYS", "key-one-secret, key-two-secret,"),
            ("SIGNAL__SUBSCRIPTIONS__TOKENS", "token-secret-1"),
            ("SIGNAL__DATABASE__URL", "postgres://app:hunter2-secret@db:5432/x"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(v["ingest"]["api_keys"], serde_json::json!(["***", "***"]));
    assert_eq!(v["subscriptions"]["tokens"], serde_json::json!(["***"]));
    assert_eq!(v["database"]["url"], "postgres://app:***@db:5432/x");
    assert!(
        !printed.contains("secret") && !text(&out.stderr).contains("secret"),
        "{printed}"
    );

    // A mistyped setting is named; the value of a secret-bearing variable is not repeated.
    let out = with_env(
        &["config"],
        &[
            ("SIGNAL__SERVER__PORT", "not-a-port"),
            ("SIGNAL__REDIS__URL", "redis://:pw-secret@h/0"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("port"), "{err}");
    assert!(!err.contains("pw-secret"), "{err}");
}

#[test]
fn production_mode_refuses_to_start_without_postgresql_and_redis() {
    let out = with_env(&["serve", "--port", "0"], &[("SIGNAL__MODE", "production")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("database.url"), "{}", text(&out.stderr));
    let out = with_env(
        &["serve", "--port", "0"],
        &[
            ("SIGNAL__MODE", "production"),
            ("SIGNAL__DATABASE__URL", "postgres://postgres@127.0.0.1:1/x"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("redis.url"), "{}", text(&out.stderr));
}

/// Ingest's plausibility limits must be positive numbers; `serve` names each that is not and
/// does not start.
#[test]
fn ingest_limits_must_be_positive() {
    for (var, value, named) in [
        (
            "SIGNAL__INGEST__MAX_PRICE",
            "0",
            "ingest.max_price must be a positive number",
        ),
        (
            "SIGNAL__INGEST__MAX_PRICE",
            "-5",
            "ingest.max_price must be a positive number",
        ),
        (
            "SIGNAL__INGEST__MAX_QUANTITY",
            "0",
            "ingest.max_quantity must be a positive number",
        ),
    ] {
        let out = with_env(
            &["serve", "--port", "0", "--database-url", "sqlite::memory:"],
            &[(var, value)],
        );
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        assert!(
            text(&out.stderr).contains(named),
            "{var}={value}: {}",
            text(&out.stderr)
        );
    }
}
