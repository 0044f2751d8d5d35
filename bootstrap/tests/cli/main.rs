//! The `signal-service` commands run as a user runs them: the real binary, its stdin, stdout and exit code.

mod calc;
mod commands;
mod config;
mod eod_chain;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub(crate) fn calc(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .arg("calc")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn golden(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../domain/tests/fixtures")
            .join(name),
    )
    .unwrap()
}

pub(crate) fn shared(rel: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference")
        .join(rel);
    if let Ok(s) = std::fs::read_to_string(&p) {
        return Some(s);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} is missing",
        p.display()
    );
    eprintln!("SKIPPED: {} is absent", p.display());
    None
}

/// A scratch folder for one test and the URL of a SQLite database inside it.
pub(crate) fn scratch(tag: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("signal-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/signal.db?mode=rwc", dir.display());
    (dir, url)
}

/// Runs a `SELECT count(*) AS n …` against `url`.
pub(crate) fn count(url: &str, sql: &str) -> i64 {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(url).await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    })
}

/// Runs `statements` against `url`, in order.
pub(crate) fn execute(url: &str, statements: &[&str]) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(url).await.unwrap();
        for sql in statements {
            db.execute_raw(Statement::from_string(db.get_database_backend(), *sql))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    });
}

pub(crate) fn column(csv_text: &str, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    r.records().map(|rec| rec.unwrap()[i].to_owned()).collect()
}

pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .args(args)
        .output()
        .unwrap()
}

/// `signal-service` with `env` set, run to the end.
pub(crate) fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}
