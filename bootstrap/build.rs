//! Records the git commit the binary is built from (`SIGNAL_GIT_HASH`, for the startup log line
//! and `--version`): `git rev-parse --short=12 HEAD`, with `-dirty` when the tree has changes;
//! `SIGNAL_GIT_HASH` in the build's environment wins (an image built without `.git`); `unknown`
//! when neither is there.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SIGNAL_GIT_HASH");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/index");
    let hash = std::env::var("SIGNAL_GIT_HASH")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            let hash = String::from_utf8(out.stdout).ok()?.trim().to_owned();
            if !out.status.success() || hash.is_empty() {
                return None;
            }
            // Without optional locks `git status` does not refresh (rewrite) the index, which
            // would make the `rerun-if-changed` above rebuild this crate on the next build of a
            // fresh clone.
            let dirty = Command::new("git")
                .env("GIT_OPTIONAL_LOCKS", "0")
                .args(["status", "--porcelain", "--untracked-files=no"])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty());
            Some(if dirty { format!("{hash}-dirty") } else { hash })
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SIGNAL_GIT_HASH={hash}");
}
