//! How one connection's frames go on the wire, chosen at connect:
//! `?encoding=json|msgpack&batch_ms=N&compress=zstd`.
//!
//! - `encoding`: JSON text frames (default) or MessagePack binary frames (same maps, fewer bytes).
//! - `batch_ms` (0 to [`MAX_BATCH_MS`]; default from the configuration, 0 unless set): the
//!   batching and conflation window. With it, the writer collects frames for that long after the
//!   first one, keeps only the newest update of each topic (acks, errors and snapshots are all
//!   kept), and sends them as one message: a JSON array of the frames, or a MessagePack array.
//! - `compress=zstd`: each message is zstd-compressed and sent as a binary frame (tungstenite
//!   0.27 cannot negotiate permessage-deflate). Pays off with batching: a batch repeats field
//!   names and topics that zstd folds.
//!
//! Bytes per update of each choice: `cargo test -p adapters --test it websocket::delivery::bytes_per_update
//! -- --nocapture` (figures in docs/benchmarks.md).

use std::time::Duration;

use tokio_tungstenite::tungstenite::Bytes;

use super::protocol::{Encoded, Encoding};

/// The longest batching window a client may ask for, in milliseconds.
pub const MAX_BATCH_MS: u64 = 1000;

/// zstd level of compressed messages: fast, and most of the gain on these small repetitive
/// payloads.
const ZSTD_LEVEL: i32 = 3;

/// A connection's delivery options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Frame encoding.
    pub encoding: Encoding,
    /// Batching and conflation window; zero sends each frame at once.
    pub batch: Duration,
    /// zstd-compress each message.
    pub zstd: bool,
}

/// A query parameter's value.
fn param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Delivery {
    /// Reads `encoding`, `batch_ms` and `compress` from the connect URL's query;
    /// `default_batch` when `batch_ms` is absent.
    ///
    /// # Errors
    /// The parameter that is wrong and why.
    pub fn from_query(query: Option<&str>, default_batch: Duration) -> Result<Self, (&'static str, String)> {
        let encoding = match param(query, "encoding") {
            None | Some("json") => Encoding::Json,
            Some("msgpack") => Encoding::MessagePack,
            Some(other) => return Err(("encoding", format!("'{other}' is not one of json, msgpack"))),
        };
        let batch = match param(query, "batch_ms") {
            None => default_batch,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms <= MAX_BATCH_MS => Duration::from_millis(ms),
                _ => {
                    return Err((
                        "batch_ms",
                        format!("'{v}' is not a whole number of milliseconds from 0 to {MAX_BATCH_MS}"),
                    ));
                }
            },
        };
        let zstd = match param(query, "compress") {
            None | Some("none") => false,
            Some("zstd") => true,
            Some(other) => return Err(("compress", format!("'{other}' is not one of none, zstd"))),
        };
        Ok(Self { encoding, batch, zstd })
    }

    /// True when frames are collected over a window and conflated.
    #[must_use]
    pub fn batching(&self) -> bool {
        !self.batch.is_zero()
    }

    /// The messages that carry `frames`: one per frame, or one array of them when batching;
    /// compressed when asked.
    #[must_use]
    pub fn messages(&self, frames: Vec<Encoded>) -> Vec<Encoded> {
        let messages = if self.batching() && !frames.is_empty() {
            vec![self.array(&frames)]
        } else {
            frames
        };
        if self.zstd {
            messages.iter().map(compress).collect()
        } else {
            messages
        }
    }

    /// One message holding `frames` as an array, in the connection's encoding.
    fn array(&self, frames: &[Encoded]) -> Encoded {
        let payload: usize = frames.iter().map(Encoded::len).sum();
        match self.encoding {
            Encoding::Json => {
                let mut out = String::with_capacity(payload + frames.len() + 2);
                out.push('[');
                for (i, f) in frames.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    match f {
                        Encoded::Text(t) => out.push_str(t.as_str()),
                        Encoded::Binary(b) => out.push_str(&String::from_utf8_lossy(b)),
                    }
                }
                out.push(']');
                Encoded::Text(out.into())
            }
            Encoding::MessagePack => {
                let mut out = Vec::with_capacity(payload + 5 + frames.len() * 5);
                msgpack_header(&mut out, frames.len(), [0x90, 0xdc, 0xdd]);
                for f in frames {
                    match f {
                        Encoded::Binary(b) => out.extend_from_slice(b),
                        // A frame that could not be encoded as MessagePack fell back to JSON
                        // text: carried as a MessagePack string.
                        Encoded::Text(t) => {
                            msgpack_str_header(&mut out, t.len());
                            out.extend_from_slice(t.as_str().as_bytes());
                        }
                    }
                }
                Encoded::Binary(out.into())
            }
        }
    }
}

/// A MessagePack array header (`fix`, 16-bit and 32-bit forms).
fn msgpack_header(out: &mut Vec<u8>, n: usize, [fix, m16, m32]: [u8; 3]) {
    if let Ok(small) = u8::try_from(n)
        && small < 16
    {
        out.push(fix | small);
    } else if let Ok(n16) = u16::try_from(n) {
        out.push(m16);
        out.extend_from_slice(&n16.to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// A MessagePack string header.
fn msgpack_str_header(out: &mut Vec<u8>, n: usize) {
    if let Ok(small) = u8::try_from(n)
        && small < 32
    {
        out.push(0xa0 | small);
    } else if let Ok(n8) = u8::try_from(n) {
        out.extend_from_slice(&[0xd9, n8]);
    } else if let Ok(n16) = u16::try_from(n) {
        out.push(0xda);
        out.extend_from_slice(&n16.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// `message` zstd-compressed, as a binary frame.
fn compress(message: &Encoded) -> Encoded {
    let bytes: &[u8] = match message {
        Encoded::Text(t) => t.as_str().as_bytes(),
        Encoded::Binary(b) => b,
    };
    match zstd::bulk::compress(bytes, ZSTD_LEVEL) {
        Ok(z) => Encoded::Binary(Bytes::from(z)),
        // Compressing a buffer in memory fails only on allocation: send it as it is.
        Err(_) => message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_chooses_encoding_window_and_compression_and_names_a_bad_parameter() {
        let d = Delivery::from_query(Some("encoding=msgpack&batch_ms=50&compress=zstd"), Duration::ZERO).unwrap();
        assert_eq!(
            d,
            Delivery {
                encoding: Encoding::MessagePack,
                batch: Duration::from_millis(50),
                zstd: true
            }
        );
        assert_eq!(
            Delivery::from_query(None, Duration::from_millis(20)).unwrap().batch,
            Duration::from_millis(20)
        );
        for (q, field) in [
            ("encoding=xml", "encoding"),
            ("batch_ms=1001", "batch_ms"),
            ("batch_ms=-1", "batch_ms"),
            ("compress=gzip", "compress"),
        ] {
            assert_eq!(
                Delivery::from_query(Some(q), Duration::ZERO).unwrap_err().0,
                field,
                "{q}"
            );
        }
    }

    #[test]
    fn a_batch_is_one_array_in_the_connection_encoding() {
        let json = Delivery {
            batch: Duration::from_millis(10),
            ..Delivery::default()
        };
        let frames = vec![Encoded::Text(r#"{"a":1}"#.into()), Encoded::Text(r#"{"b":2}"#.into())];
        assert_eq!(
            json.messages(frames),
            vec![Encoded::Text(r#"[{"a":1},{"b":2}]"#.into())]
        );

        let mp = Delivery {
            encoding: Encoding::MessagePack,
            ..json
        };
        let one = |v: u8| Encoded::Binary(rmp_serde::to_vec(&v).unwrap().into());
        let [Encoded::Binary(b)] = &mp.messages(vec![one(1), one(2), one(3)])[..] else {
            panic!("one binary message")
        };
        let back: Vec<u8> = rmp_serde::from_slice(b).unwrap();
        assert_eq!(back, vec![1, 2, 3]);

        let zstd = Delivery { zstd: true, ..json };
        let frames = vec![Encoded::Text(r#"{"topic":"greeks:X","seq":1}"#.repeat(20).into())];
        let [Encoded::Binary(z)] = &zstd.messages(frames)[..] else {
            panic!("one binary message")
        };
        let plain = zstd::bulk::decompress(z, 1 << 20).unwrap();
        assert!(plain.starts_with(br#"[{"topic""#) && z.len() * 4 < plain.len());
    }
}
