//! Just enough of the protobuf wire format to walk a message's fields without
//! decoding them: the schema check names the offending field from it, the
//! envelope is found and appended with it, and raw field options are read with it.

pub const VARINT: u8 = 0;
pub const I64: u8 = 1;
pub const LEN: u8 = 2;
pub const I32: u8 = 5;

/// The largest field number protobuf allows (2^29 - 1).
pub const MAX_FIELD: u32 = (1 << 29) - 1;

/// Why bytes are not protobuf wire format. Says nothing about the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    Truncated,
    BadVarint,
    BadFieldNumber,
    /// Wire types 3 and 4 (groups) and the unused 6 and 7.
    UnsupportedWireType(u8),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("the bytes end in the middle of a field"),
            WireError::BadVarint => f.write_str("malformed varint"),
            WireError::BadFieldNumber => f.write_str("field number out of range"),
            WireError::UnsupportedWireType(t) => write!(f, "unsupported wire type {t}"),
        }
    }
}

/// One field occurrence as it sits on the wire.
#[derive(Debug, Clone, Copy)]
pub struct RawField<'a> {
    pub number: u32,
    pub wire_type: u8,
    /// The varint's value for VARINT; 0 otherwise.
    pub varint: u64,
    /// The contents of a LEN field, the 4 or 8 bytes of a fixed field; empty for VARINT.
    pub payload: &'a [u8],
    /// The whole occurrence, key included, exactly as on the wire.
    pub span: &'a [u8],
}

pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let byte = *buf.get(*pos).ok_or(WireError::Truncated)?;
        *pos += 1;
        // The tenth byte may only carry the 64th bit.
        if i == 9 && byte > 1 {
            return Err(WireError::BadVarint);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::BadVarint)
}

pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-delimited field.
pub fn put_len_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | u64::from(LEN));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The fields of a message in wire order; stops at the first malformed one.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, pos: 0, failed: false, number: None }
}

pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
    /// The number of the field last started, so a malformed value can be named.
    number: Option<u32>,
}

impl<'a> Fields<'a> {
    /// The number of the field being read when the walk stopped at a malformed value
    /// (`None` when its key itself was malformed).
    pub fn field_number(&self) -> Option<u32> {
        self.number
    }

    fn next_field(&mut self) -> Result<RawField<'a>, WireError> {
        let start = self.pos;
        self.number = None;
        let key = read_varint(self.buf, &mut self.pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| WireError::BadFieldNumber)?;
        if number == 0 || number > MAX_FIELD {
            return Err(WireError::BadFieldNumber);
        }
        self.number = Some(number);
        let wire_type = (key & 7) as u8;
        let mut varint = 0;
        let payload = match wire_type {
            VARINT => {
                varint = read_varint(self.buf, &mut self.pos)?;
                &[][..]
            }
            I64 => self.take(8)?,
            I32 => self.take(4)?,
            LEN => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                self.take(len)?
            }
            other => return Err(WireError::UnsupportedWireType(other)),
        };
        Ok(RawField { number, wire_type, varint, payload, span: &self.buf[start..self.pos] })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        let end =
            self.pos.checked_add(len).filter(|end| *end <= self.buf.len()).ok_or(WireError::Truncated)?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<RawField<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let field = self.next_field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_overlong_ones_are_refused() {
        for value in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Ok(value));
            assert_eq!(pos, out.len());
        }
        let mut pos = 0;
        assert_eq!(read_varint(&[0xff; 11], &mut pos), Err(WireError::BadVarint));
        let mut pos = 0;
        assert_eq!(read_varint(&[0x80], &mut pos), Err(WireError::Truncated));
    }

    #[test]
    fn fields_are_walked_in_order_with_their_spans() {
        let mut buf = vec![0x08, 0x96, 0x01]; // field 1 varint 150
        put_len_field(&mut buf, 2, b"abc");
        let all: Vec<_> = fields(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!((all[0].number, all[0].varint), (1, 150));
        assert_eq!((all[1].number, all[1].payload), (2, &b"abc"[..]));
        assert_eq!(all[0].span.len() + all[1].span.len(), buf.len());
        let cut = &buf[..buf.len() - 1];
        assert_eq!(fields(cut).last().unwrap().unwrap_err(), WireError::Truncated);
    }
}
