//! Small conversions every message family shares: dates, decimals, cents, repeated fields.

use cptkit_core::{Error, Result};
use rust_decimal::Decimal;
use time::Date;

pub(crate) fn date_string(date: Option<Date>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

pub(crate) fn parse_date(field: &str, text: &str) -> Result<Option<Date>> {
    if text.is_empty() {
        return Ok(None);
    }
    cptkit_core::parse_date(text)
        .map(Some)
        .map_err(|_| cptkit_core::unreadable_field(field, format!("expected a date as YYYY-MM-DD, got {text:?}")))
}

pub(crate) fn parse_decimal(field: impl Into<cptkit_core::FieldPath>, text: &str) -> Result<Decimal> {
    text.parse().map_err(|_| Error::invalid(field, format!("expected a decimal number, got {text:?}")))
}

pub(crate) fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

pub(crate) fn required<T>(field: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| Error::invalid(field, "is required"))
}

/// Converts each item, naming `field[i]` in an error, into a `Vec` or the claim's inline lists.
pub(crate) fn each<P, C, B: FromIterator<C>>(
    field: &str,
    items: Vec<P>,
    convert: impl Fn(P) -> Result<C>,
) -> Result<B> {
    items.into_iter().enumerate().map(|(i, item)| convert(item).map_err(|e| e.at(format!("[{i}]")).at(field))).collect()
}

/// Parses each string; an error names its position (`localities[1]`) instead of the item's own field.
pub(crate) fn parse_each<T: std::str::FromStr<Err = Error>, B: FromIterator<T>>(
    field: &str,
    items: Vec<String>,
) -> Result<B> {
    each(field, items, |s| s.parse::<T>().map_err(|e| Error::new(e.kind(), e.message().to_owned())))
}

/// Maps a core enum to its proto twin of the same name; with `parse = name("field")`, also generates
/// `fn name(raw: i32)` for the way back, where the proto's UNSPECIFIED or an unknown number is an error
/// naming `field`. Both matches are exhaustive, so a variant added on either side stops the build.
macro_rules! enum_map {
    ($name:ident { $($c:ident => $p:ident),+ $(,)? }) => {
        impl From<cptkit_core::$name> for pb::$name {
            fn from(value: cptkit_core::$name) -> Self {
                match value {
                    $(cptkit_core::$name::$c => pb::$name::$p,)+
                }
            }
        }
    };
    ($name:ident { $($c:ident => $p:ident),+ $(,)? }, parse = $parse:ident($field:literal)) => {
        enum_map!($name { $($c => $p),+ });

        pub(crate) fn $parse(raw: i32) -> Result<cptkit_core::$name> {
            match pb::$name::try_from(raw) {
                $(Ok(pb::$name::$p) => Ok(cptkit_core::$name::$c),)+
                Ok(pb::$name::Unspecified) | Err(_) => {
                    Err(Error::invalid($field, format!("unset or unknown value {raw}")))
                }
            }
        }
    };
}
pub(crate) use enum_map;
