//! [`Text`]: a C-string field's value (without its NUL). Addresses, ids,
//! service types and time fields are short, so they are kept inline: no
//! allocation, and no reference count on the received frame to take and
//! release for every field of every PDU. A value longer than
//! [`Text::INLINE`] octets (possible only in a non-conforming PDU: the
//! decoder keeps over-long C-strings so they round-trip) stays a view of
//! the frame.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// A C-string field's octets (without the NUL), inline when short.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; Text::INLINE] },
    Shared(Bytes),
}

impl Text {
    /// The longest value kept inline: addresses (C(21)), system ids
    /// (C(16)), time fields (C(17)) and most carrier message ids fit, in
    /// one word more than the `Bytes` a field would otherwise be.
    pub const INLINE: usize = 31;

    /// The empty value.
    pub const fn new() -> Text {
        Text(Repr::Inline {
            len: 0,
            buf: [0; Text::INLINE],
        })
    }

    /// A copy of `s`.
    pub fn copy_from_slice(s: &[u8]) -> Text {
        if s.len() <= Text::INLINE {
            let mut buf = [0; Text::INLINE];
            buf[..s.len()].copy_from_slice(s);
            Text(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Text(Repr::Shared(Bytes::copy_from_slice(s)))
        }
    }

    /// `s`, from a `'static` slice.
    pub fn from_static(s: &'static [u8]) -> Text {
        Text::copy_from_slice(s)
    }

    /// The value as [`Bytes`] (a copy when inline).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(self),
            Repr::Shared(b) => b.clone(),
        }
    }

    /// Decoder side: the first `len` octets of `from`, a sub-slice of
    /// `frame`; inline when short, else a view of the frame. When `from`
    /// holds a whole inline buffer's worth (the usual case: other fields
    /// follow), that many octets are copied at once, a fixed-size copy the
    /// compiler turns into two vector moves; octets past `len` are never
    /// read.
    pub(crate) fn from_frame(frame: &Bytes, from: &[u8], len: usize) -> Text {
        let s = &from[..len];
        if len > Text::INLINE {
            return Text(Repr::Shared(frame.slice_ref(s)));
        }
        match from.get(..Text::INLINE) {
            Some(window) => {
                let mut buf = [0; Text::INLINE];
                buf.copy_from_slice(window);
                Text(Repr::Inline {
                    len: len as u8,
                    buf,
                })
            }
            None => Text::copy_from_slice(s),
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::new()
    }
}

impl Deref for Text {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Shared(b) => b,
        }
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Borrow<[u8]> for Text {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

impl PartialEq<[u8]> for Text {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<&[u8]> for Text {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Text {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Text {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

impl PartialEq<Bytes> for Text {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        **self == *other.as_bytes()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        **self == *other.as_bytes()
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As Bytes prints: b"..." with escapes.
        write!(f, "b\"")?;
        for &b in self.iter() {
            for c in std::ascii::escape_default(b) {
                write!(f, "{}", c as char)?;
            }
        }
        write!(f, "\"")
    }
}

impl From<Bytes> for Text {
    fn from(b: Bytes) -> Text {
        if b.len() <= Text::INLINE {
            Text::copy_from_slice(&b)
        } else {
            Text(Repr::Shared(b))
        }
    }
}

impl From<&Bytes> for Text {
    fn from(b: &Bytes) -> Text {
        Text::from(b.clone())
    }
}

impl From<&[u8]> for Text {
    fn from(s: &[u8]) -> Text {
        Text::copy_from_slice(s)
    }
}

impl<const N: usize> From<&[u8; N]> for Text {
    fn from(s: &[u8; N]) -> Text {
        Text::copy_from_slice(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::copy_from_slice(s.as_bytes())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::from(Bytes::from(s))
    }
}

impl From<Vec<u8>> for Text {
    fn from(v: Vec<u8>) -> Text {
        Text::from(Bytes::from(v))
    }
}

impl From<Text> for Bytes {
    fn from(t: Text) -> Bytes {
        match t.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(&t),
            Repr::Shared(b) => b,
        }
    }
}

impl From<&Text> for Bytes {
    fn from(t: &Text) -> Bytes {
        t.to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_inline_and_long_ones_shared() {
        let frame = Bytes::from(vec![b'x'; 200]);
        let short = Text::from_frame(&frame, &frame[..Text::INLINE], Text::INLINE);
        assert!(matches!(short.0, Repr::Inline { .. }));
        assert_eq!(&*short, &frame[..Text::INLINE]);
        // A short value with more of the frame after it, and at its end.
        let frame = Bytes::from(b"abc\0defghijklmnopqrstuvwxyz0123456789".to_vec());
        let mid = Text::from_frame(&frame, &frame, 3);
        assert_eq!((&*mid, mid.len()), (&b"abc"[..], 3));
        assert_eq!(mid, Text::from("abc"));
        let end = Text::from_frame(&frame, &frame[frame.len() - 2..], 2);
        assert_eq!(&*end, b"89");
        let frame = Bytes::from(vec![b'x'; 200]);
        let long = Text::from_frame(&frame, &frame, Text::INLINE + 1);
        assert!(matches!(long.0, Repr::Shared(_)));
        assert_eq!(long.len(), Text::INLINE + 1);
        assert_eq!(long, Text::copy_from_slice(&frame[..Text::INLINE + 1]));
        assert_eq!(Text::new().len(), 0);
        assert_eq!(Text::from("abc"), b"abc");
        assert_eq!(
            format!("{:?}", Text::from(&b"a\"\x01"[..])),
            "b\"a\\\"\\x01\""
        );
        assert_eq!(Bytes::from(Text::from("abc")), Bytes::from_static(b"abc"));
    }

    #[test]
    fn a_text_is_one_word_larger_than_bytes() {
        let word = std::mem::size_of::<usize>();
        assert!(std::mem::size_of::<Text>() <= std::mem::size_of::<Bytes>() + word);
        assert!(std::mem::size_of::<Option<Text>>() <= std::mem::size_of::<Bytes>() + word);
    }
}
