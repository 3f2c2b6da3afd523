//! RESP2, the Redis wire protocol: a command encoder and an incremental reply parser.
//!
//! Replies arrive in arbitrary TCP chunks, so parsing is two steps: `frame_len` checks,
//! without allocating, whether the buffer holds one complete reply (and how long it is);
//! only then is that prefix `decode`d. Bulk strings are copied out rather than sliced
//! from the read buffer: a value kept in the read cache must not pin a whole buffer.
//! Only what the native reads use is implemented (no RESP3).

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// Nesting deeper than this is refused: our replies are two levels deep, and a bound
/// keeps a broken or hostile server from overflowing the parser's stack.
const MAX_DEPTH: usize = 16;
/// Redis's own default `proto-max-bulk-len` (512 MiB).
const MAX_BULK: i64 = 512 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK`
    Simple(Bytes),
    /// `-ERR ...`: the full error text, kind prefix included.
    Error(String),
    Int(i64),
    Bulk(Bytes),
    Array(Vec<Value>),
    /// A null bulk string or array (`$-1`, `*-1`); Lua's `false` becomes this.
    Nil,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid RESP reply: {0}")]
pub struct ProtocolError(pub &'static str);

/// One command: an array of bulk strings. The argument count is fixed up front
/// because the array header comes first.
pub struct Command {
    buf: BytesMut,
    left: usize,
}

impl Command {
    pub fn new(args: usize) -> Self {
        let mut buf = BytesMut::with_capacity(64 + args * 32);
        header(&mut buf, b'*', args);
        Self { buf, left: args }
    }

    pub fn arg(self, arg: &[u8]) -> Self {
        self.arg_parts(&[arg])
    }

    /// One argument made of several parts (a key prefix and a key, without joining them first).
    pub fn arg_parts(mut self, parts: &[&[u8]]) -> Self {
        debug_assert!(self.left > 0, "more arguments than announced");
        self.left = self.left.saturating_sub(1);
        header(&mut self.buf, b'$', parts.iter().map(|p| p.len()).sum());
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    pub fn finish(self) -> Bytes {
        debug_assert_eq!(self.left, 0, "fewer arguments than announced");
        self.buf.freeze()
    }
}

fn header(buf: &mut BytesMut, tag: u8, n: usize) {
    buf.put_u8(tag);
    let _ = write!(buf, "{n}"); // writing to a BytesMut cannot fail
    buf.extend_from_slice(b"\r\n");
}

/// Length of the complete reply at the start of `buf`; `None` while it is incomplete.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    scan(buf, 0, 0)
}

fn scan(buf: &[u8], pos: usize, depth: usize) -> Result<Option<usize>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("nested too deeply"));
    }
    let Some((tag, line, next)) = line(buf, pos) else { return Ok(None) };
    match tag {
        b'+' | b'-' => Ok(Some(next)),
        b':' => int(line).map(|_| Some(next)),
        b'$' => match int(line)? {
            -1 => Ok(Some(next)),
            n if (0..=MAX_BULK).contains(&n) => {
                let end = next + n as usize + 2;
                if buf.len() < end {
                    return Ok(None);
                }
                if &buf[end - 2..end] != b"\r\n" {
                    return Err(ProtocolError("bulk string not terminated by CRLF"));
                }
                Ok(Some(end))
            }
            _ => Err(ProtocolError("bad bulk string length")),
        },
        b'*' => match int(line)? {
            -1 => Ok(Some(next)),
            n if n >= 0 => {
                let mut at = next;
                for _ in 0..n {
                    match scan(buf, at, depth + 1)? {
                        Some(end) => at = end,
                        None => return Ok(None),
                    }
                }
                Ok(Some(at))
            }
            _ => Err(ProtocolError("bad array length")),
        },
        _ => Err(ProtocolError("unknown type byte")),
    }
}

/// The type byte, the rest of the line and where the next line starts.
fn line(buf: &[u8], pos: usize) -> Option<(u8, &[u8], usize)> {
    let tag = *buf.get(pos)?;
    let rest = &buf[pos + 1..];
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((tag, &rest[..cr], pos + 1 + cr + 2))
}

fn int(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()).ok_or(ProtocolError("bad integer"))
}

/// The reply in `frame`, which `frame_len` measured as exactly one complete reply.
pub fn decode(frame: &[u8]) -> Value {
    decode_at(frame, 0).0
}

fn decode_at(frame: &[u8], pos: usize) -> (Value, usize) {
    let Some((tag, text, next)) = line(frame, pos) else { return (Value::Nil, frame.len()) };
    match tag {
        b'+' => (Value::Simple(Bytes::copy_from_slice(text)), next),
        b'-' => (Value::Error(String::from_utf8_lossy(text).into_owned()), next),
        b':' => (Value::Int(int(text).unwrap_or(0)), next),
        b'$' => match int(text).unwrap_or(-1) {
            n if n < 0 => (Value::Nil, next),
            n => {
                let end = next + n as usize;
                (Value::Bulk(Bytes::copy_from_slice(&frame[next..end])), end + 2)
            }
        },
        b'*' => match int(text).unwrap_or(-1) {
            n if n < 0 => (Value::Nil, next),
            n => {
                let mut items = Vec::with_capacity(n as usize);
                let mut at = next;
                for _ in 0..n {
                    let (item, end) = decode_at(frame, at);
                    items.push(item);
                    at = end;
                }
                (Value::Array(items), at)
            }
        },
        _ => (Value::Nil, frame.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `wire` as it would arrive cut at every possible point: each prefix is
    /// incomplete, the whole is exactly one frame.
    fn parse_fed_bytewise(wire: &[u8]) -> Value {
        for cut in 0..wire.len() {
            assert_eq!(frame_len(&wire[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        assert_eq!(frame_len(wire), Ok(Some(wire.len())));
        decode(wire)
    }

    #[test]
    fn encodes_commands_as_arrays_of_bulk_strings() {
        let cmd = Command::new(3).arg(b"EVALSHA").arg(b"ab").arg_parts(&[b"p:", b"kv:", b"k"]).finish();
        assert_eq!(&cmd[..], b"*3\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$6\r\np:kv:k\r\n");
        assert_eq!(&Command::new(1).arg(b"").finish()[..], b"*1\r\n$0\r\n\r\n");
    }

    #[test]
    fn parses_every_type_fed_in_pieces() {
        assert_eq!(parse_fed_bytewise(b"+OK\r\n"), Value::Simple(Bytes::from_static(b"OK")));
        assert_eq!(parse_fed_bytewise(b"-NOSCRIPT x\r\n"), Value::Error("NOSCRIPT x".into()));
        assert_eq!(parse_fed_bytewise(b":-42\r\n"), Value::Int(-42));
        assert_eq!(parse_fed_bytewise(b"$-1\r\n"), Value::Nil);
        assert_eq!(parse_fed_bytewise(b"*-1\r\n"), Value::Nil);
        // A bulk string may hold CRLF itself: its length decides, not the delimiter.
        assert_eq!(parse_fed_bytewise(b"$4\r\na\r\nb\r\n"), Value::Bulk(Bytes::from_static(b"a\r\nb")));
        let rows = b"*2\r\n*3\r\n$1\r\nv\r\n$2\r\n17\r\n$-1\r\n*3\r\n$-1\r\n$-1\r\n$-1\r\n";
        assert_eq!(
            parse_fed_bytewise(rows),
            Value::Array(vec![
                Value::Array(vec![
                    Value::Bulk(Bytes::from_static(b"v")),
                    Value::Bulk(Bytes::from_static(b"17")),
                    Value::Nil
                ]),
                Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
            ])
        );
        assert_eq!(parse_fed_bytewise(b"*0\r\n"), Value::Array(vec![]));
    }

    #[test]
    fn measures_only_the_first_of_several_replies() {
        let wire = b"+OK\r\n:1\r\n$3\r\nab";
        assert_eq!(frame_len(wire), Ok(Some(5)));
        assert_eq!(frame_len(&wire[5..]), Ok(Some(4)));
        assert_eq!(frame_len(&wire[9..]), Ok(None));
    }

    #[test]
    fn refuses_malformed_replies() {
        assert!(frame_len(b"?what\r\n").is_err());
        assert!(frame_len(b":12x\r\n").is_err());
        assert!(frame_len(b"$-2\r\n").is_err());
        assert!(frame_len(b"$2\r\nabcd\r\n").is_err());
        assert!(frame_len(b"*-5\r\n").is_err());
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(frame_len(deep.as_bytes()).is_err());
    }
}
