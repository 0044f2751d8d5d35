//! Response compression by the client's `Accept-Encoding`: zstd, br, gzip or deflate.
//!
//! poem's own `Compression` middleware does the compressing (streamed bodies are compressed as
//! they stream); the negotiation is ours because poem 3.1 misspells `zstd` and never picks it.
//! The highest `q` wins; ties go to zstd, then br, gzip, deflate; `q=0` refuses a coding;
//! `*` means zstd; `identity` alone (or nothing acceptable) sends the body as it is. Every coding
//! runs at its fastest level. Bodies of a known length under [`MIN_COMPRESSED_BYTES`] go out as
//! they are: a realtime answer (~1.2 KiB) fits one packet either way, and setting up an encoder
//! cost more than the rest of the request. Every answer says `Vary: Accept-Encoding`.

use bytes::Bytes;
use poem::http::{HeaderMap, HeaderValue, header};
use poem::web::{Compress, CompressionAlgo};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Bodies shorter than this many bytes are not compressed: they fit one TCP segment on a
/// 1 500-byte MTU link (1 448 bytes of payload with timestamps) with the headers, compressed or not.
pub const MIN_COMPRESSED_BYTES: u64 = 1400;

/// The body's length when it is known before sending (a buffered body, not a stream).
fn known_length(resp: &mut Response) -> Option<u64> {
    let body: http_body_util::combinators::BoxBody<Bytes, std::io::Error> = resp.take_body().into();
    let len = http_body::Body::size_hint(&body).exact();
    resp.set_body(Body::from(body));
    len
}

/// The middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct Compression;

impl<E: Endpoint> Middleware<E> for Compression {
    type Output = CompressionEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CompressionEndpoint(ep)
    }
}

/// An endpoint wrapped by [`Compression`].
pub struct CompressionEndpoint<E>(E);

/// The coding to answer with, if any.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<CompressionAlgo> {
    let mut best: Option<(u16, u8, CompressionAlgo)> = None;
    for item in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
    {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let q = (q.clamp(0.0, 1.0) * 1000.0) as u16;
        let (rank, algo) = match coding.as_str() {
            "zstd" | "*" => (4, CompressionAlgo::ZSTD),
            "br" => (3, CompressionAlgo::BR),
            "gzip" => (2, CompressionAlgo::GZIP),
            "deflate" => (1, CompressionAlgo::DEFLATE),
            _ => continue,
        };
        if q > 0 && best.is_none_or(|(bq, br, _)| (q, rank) > (bq, br)) {
            best = Some((q, rank, algo));
        }
    }
    best.map(|(_, _, a)| a)
}

impl<E: Endpoint> Endpoint for CompressionEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let algo = negotiate(req.headers());
        let mut resp = self.0.call(req).await?.into_response();
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
        let already = resp.headers().contains_key(header::CONTENT_ENCODING);
        let small = algo.is_some() && known_length(&mut resp).is_some_and(|n| n < MIN_COMPRESSED_BYTES);
        Ok(match algo {
            Some(a) if !already && !small && resp.status().as_u16() != 204 && resp.status().as_u16() != 304 => {
                // The fastest level of each coding: answers are small JSON, and brotli's default
                // (quality 11) cost more CPU than the rest of a realtime answer.
                Compress::new(resp, a)
                    .with_quality(poem::web::CompressionLevel::Fastest)
                    .into_response()
            }
            _ => resp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str) -> Option<&'static str> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, accept.parse().unwrap());
        negotiate(&h).map(|a| match a {
            CompressionAlgo::ZSTD => "zstd",
            CompressionAlgo::BR => "br",
            CompressionAlgo::GZIP => "gzip",
            CompressionAlgo::DEFLATE => "deflate",
        })
    }

    #[test]
    fn the_best_acceptable_coding_wins() {
        assert_eq!(pick("zstd"), Some("zstd"));
        assert_eq!(pick("gzip, deflate, br, zstd"), Some("zstd"));
        assert_eq!(pick("gzip;q=1.0, br;q=0.3"), Some("gzip"));
        assert_eq!(pick("br, zstd;q=0"), Some("br"));
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("*"), Some("zstd"));
        assert_eq!(pick("compress, gzip;q=0.5"), Some("gzip"));
    }
}
