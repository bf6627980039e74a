//! Custom deserializers for config values.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A `command_status` code: a TOML integer (`0x400` is TOML hex syntax) or,
/// from an environment override, a string in decimal or `0x` hex.
pub fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    d.deserialize_any(StatusCodeVisitor)
}

struct StatusCodeVisitor;

impl Visitor<'_> for StatusCodeVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command_status code from 0 to 0xFFFFFFFF")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
        let t = v.trim();
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => t.parse::<u32>(),
        };
        parsed.map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}
