//! Test support shared by the crates' test suites; the end-to-end fault suite is `tests/faults/`.
//!
//! [`FreshDatabase`] gives each test its own database: a SQLite file in a temporary directory, or
//! a new database on the local PostgreSQL (127.0.0.1:5432, trust auth), dropped when the guard is.

use std::sync::atomic::{AtomicU32, Ordering};

pub mod fake_http;

use sea_orm::{ConnectionTrait, Database};

/// Admin URL of the local PostgreSQL; `SIGNAL_TEST_PG_ADMIN_URL` overrides it.
fn admin_url() -> String {
    std::env::var("SIGNAL_TEST_PG_ADMIN_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct FreshDatabase {
    /// Connection URL for the code under test.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres(String),
}

impl FreshDatabase {
    /// A new SQLite file.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(unique("signal_sqlite"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("signal.db").display());
        Self {
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A new database on the local PostgreSQL.
    ///
    /// # Panics
    /// When PostgreSQL is not reachable: the suites that ask for it need it.
    pub async fn postgres() -> Self {
        let name = unique("signal_test");
        let admin = Database::connect(admin_url())
            .await
            .expect("local PostgreSQL at 127.0.0.1:5432 (start it as .ci/run does)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        admin.close().await.ok();
        let base = admin_url();
        let url = format!("{}/{name}", base.rsplit_once('/').map_or(base.as_str(), |(b, _)| b));
        Self {
            url,
            cleanup: Cleanup::Postgres(name),
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Cleanup::Postgres(name) => {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                // Drop runs outside any runtime we may use: a short-lived one on its own thread.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        let admin = Database::connect(admin_url()).await.ok()?;
                        admin.execute_unprepared(&sql).await.ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
            }
        }
    }
}

/// Collects every line `from` gives (a child's stderr), on a thread of its own, so the pipe never
/// fills and blocks the child; the text so far is in the returned buffer.
pub fn capture_lines(from: impl std::io::Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
            let mut l = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            l.push_str(&line);
            l.push('\n');
        }
    });
    log
}

/// Stops a child the way an orchestrator does: SIGTERM, then SIGKILL if it is still running
/// after `grace`. A process that exits on its own writes what it writes at exit (a coverage
/// profile among them), which SIGKILL would lose. Reaps the child either way.
pub fn terminate(child: &mut std::process::Child, grace: std::time::Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
