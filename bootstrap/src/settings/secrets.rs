//! Secrets never reach a log or an error message: URL passwords masked, and the values of
//! secret-bearing `SIGNAL__…` variables cut out of the config library's messages.

/// `message` with the value of every `SIGNAL__…` variable that may hold a secret (keys, tokens,
/// URLs with passwords) replaced by `***`: the config library quotes offending values.
pub(super) fn without_secrets(message: &str) -> String {
    let mut out = message.to_owned();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        let secret = upper.starts_with("SIGNAL__")
            && ["KEY", "TOKEN", "URL", "PASSWORD", "SECRET"]
                .iter()
                .any(|w| upper.contains(w));
        if secret {
            for part in std::iter::once(value.as_str()).chain(value.split(',')) {
                if part.len() >= 3 {
                    out = out.replace(part, "***");
                }
            }
        }
    }
    out
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}
