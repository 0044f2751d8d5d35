//! The live option-chain page at `/`, served by the service itself: one HTML document, a
//! stylesheet, an ES module and uPlot (MIT, vendored from the npm registry by
//! `scripts/vendor-uplot.sh`, its licence at `/page/vendor/uPlot.LICENSE`), all embedded in
//! the binary. The page reads the REST API and follows the WebSocket; it makes no request
//! anywhere else (its Content-Security-Policy says so to the browser too).
//!
//! Caching: the HTML is revalidated on every load (`no-cache` with an `ETag`); it names each
//! asset with `?v=<hash of its bytes>`, and an asset asked for with its current hash is
//! cacheable for a year (`immutable`), so a new release is picked up at the next load.
//! Everything of 1 400 bytes or more is compressed as the API's answers are.

use std::sync::LazyLock;

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Path;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler};

use super::compression::Compression;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 6] = [
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("page/app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("page/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("page/favicon.svg"),
    },
    Asset {
        name: "vendor/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("page/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "vendor/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("page/vendor/uPlot.min.css"),
    },
    Asset {
        name: "vendor/uPlot.LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("page/vendor/uPlot.LICENSE"),
    },
];

/// What the browser may load: only this origin (the WebSocket included), no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// A short content hash: the asset's version in URLs and its `ETag`.
fn version(bytes: &[u8]) -> String {
    // FNV-1a over the bytes: stable across builds and platforms (std's hasher is not promised
    // to be), and a collision only costs a stale cache.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The HTML with each `{{v:name}}` replaced by that asset's version, and its own ETag.
static INDEX: LazyLock<(String, String)> = LazyLock::new(|| {
    let mut html = include_str!("page/index.html").to_owned();
    for a in &ASSETS {
        html = html.replace(&format!("{{{{v:{}}}}}", a.name), &version(a.body));
    }
    let etag = format!("\"{}\"", version(html.as_bytes()));
    (html, etag)
});

fn with_headers(mut resp: Response, content_type: &str, etag: &str, cache: &str) -> Response {
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::ETAG, etag),
        (header::CACHE_CONTROL, cache),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    resp
}

/// `304` when the client holds `etag`, else `body`.
fn answer(req: &Request, body: &'static [u8], content_type: &str, etag: &str, cache: &str) -> Response {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::builder().body(body)
    };
    with_headers(resp, content_type, etag, cache)
}

#[handler]
fn index(req: &Request) -> Response {
    let (html, etag) = &*INDEX;
    answer(req, html.as_bytes(), "text/html; charset=utf-8", etag, "no-cache")
}

#[handler]
fn asset(req: &Request, Path(name): Path<String>) -> poem::Result<Response> {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return Err(poem::error::NotFoundError.into());
    };
    let v = version(a.body);
    let versioned = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == format!("v={v}")));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok(answer(req, a.body, a.content_type, &format!("\"{v}\""), cache))
}

#[handler]
fn favicon(req: &Request) -> Response {
    let a = &ASSETS[2];
    answer(
        req,
        a.body,
        a.content_type,
        &format!("\"{}\"", version(a.body)),
        "public, max-age=86400",
    )
}

/// `/`: the page.
pub fn index_endpoint() -> impl Endpoint {
    poem::get(index).with(Compression)
}

/// `/favicon.ico`.
pub fn favicon_endpoint() -> impl Endpoint {
    poem::get(favicon).with(Compression)
}

/// `/page/{name}`: the page's assets (nest under `/page`).
pub fn assets() -> impl Endpoint {
    Route::new().at("/*name", poem::get(asset)).with(Compression)
}

#[cfg(test)]
mod tests {
    use poem::http::StatusCode;
    use poem::test::TestClient;

    use super::*;

    fn app() -> TestClient<impl Endpoint> {
        TestClient::new(
            Route::new()
                .at("/", index_endpoint())
                .at("/favicon.ico", favicon_endpoint())
                .nest("/page", assets()),
        )
    }

    #[tokio::test]
    async fn the_page_names_each_asset_by_its_content_hash_and_is_revalidated() {
        let cli = app();
        let r = cli.get("/").send().await;
        r.assert_status_is_ok();
        r.assert_content_type("text/html; charset=utf-8");
        r.assert_header("cache-control", "no-cache");
        r.assert_header("content-security-policy", CSP);
        r.assert_header("x-content-type-options", "nosniff");
        r.assert_header("referrer-policy", "no-referrer");
        let etag = r.0.headers().get("etag").unwrap().to_str().unwrap().to_owned();
        let html = r.0.into_body().into_string().await.unwrap();
        assert!(!html.contains("{{v:"), "every placeholder replaced");
        for a in &ASSETS[..5] {
            assert!(
                html.contains(&format!("/page/{}?v={}", a.name, version(a.body))),
                "{} is linked with its hash",
                a.name
            );
        }
        // The same ETag back: 304 without a body.
        let r = cli
            .get("/")
            .header("if-none-match", format!("\"x\", {etag}"))
            .send()
            .await;
        r.assert_status(StatusCode::NOT_MODIFIED);
        let r = cli.get("/").header("if-none-match", "\"other\"").send().await;
        r.assert_status_is_ok();
    }

    #[tokio::test]
    async fn an_asset_asked_for_by_its_hash_is_immutable_otherwise_revalidated() {
        let cli = app();
        for a in &ASSETS {
            let v = version(a.body);
            let r = cli.get(format!("/page/{}?v={v}", a.name)).send().await;
            r.assert_status_is_ok();
            r.assert_content_type(a.content_type);
            r.assert_header("cache-control", "public, max-age=31536000, immutable");
            r.assert_header("etag", format!("\"{v}\""));
            let r = cli.get(format!("/page/{}?v=0", a.name)).send().await;
            r.assert_header("cache-control", "no-cache");
            let r = cli
                .get(format!("/page/{}", a.name))
                .header("if-none-match", format!("\"{v}\""))
                .send()
                .await;
            r.assert_status(StatusCode::NOT_MODIFIED);
        }
        // Compressed when large and asked for (uPlot is tens of kilobytes).
        let r = cli
            .get("/page/vendor/uPlot.iife.min.js")
            .header("accept-encoding", "gzip")
            .send()
            .await;
        r.assert_header("content-encoding", "gzip");
        cli.get("/page/nope.js")
            .send()
            .await
            .assert_status(StatusCode::NOT_FOUND);
        let r = cli.get("/favicon.ico").send().await;
        r.assert_status_is_ok();
        r.assert_content_type("image/svg+xml");
        r.assert_header("cache-control", "public, max-age=86400");
    }

    #[test]
    fn the_version_is_fnv1a_of_the_bytes() {
        // FNV-1a 64 reference values (the empty input is the offset basis).
        assert_eq!(version(b""), "cbf29ce484222325");
        assert_eq!(version(b"a"), "af63dc4c8601ec8c");
        assert_ne!(version(b"ab"), version(b"ba"));
    }
}
