//! Reads a core type straight from Python objects (a claim dict, a rule set dict) with serde, no JSON
//! text in between, and with the field path of any error (`lines[0].procedure_code`).
//!
//! The accepted objects are exactly the JSON data model (`dict` with `str` keys, `list`/`tuple`, `str`,
//! `int`, `float`, `bool`, `None`), so a dict reads as its `json.dumps` text would, plus two
//! conveniences that JSON writes as strings: `datetime.date`/`datetime.datetime` (ISO text) and
//! `decimal.Decimal` (its text). A `float` stays a number, which the claim form refuses wherever it
//! wants a decimal string. Measured on a one-line claim (`bench/python/bench_price.py` has the setup):
//! `json.JSONEncoder.encode` alone costs more than reading the dict here.

use std::fmt;

use cptkit_core::Error as CoreError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Reads `T` from `value`; an error is an InvalidInput naming the field, as `Claim::from_json` does.
///
/// Path tracking costs an allocation per key, so a first pass reads without it; only a value that
/// fails is read again, tracked, for the field path (reading is deterministic: it fails the same way).
pub(crate) fn from_py<T: de::DeserializeOwned>(value: &Bound<'_, PyAny>) -> Result<T, CoreError> {
    if let Ok(read) = T::deserialize(Depythonizer { input: value }) {
        return Ok(read);
    }
    serde_path_to_error::deserialize(Depythonizer { input: value })
        .map_err(|e| cptkit_core::unreadable_field(&e.path().to_string(), e.into_inner()))
}

/// A deserialization error: a plain message (the path is added by `serde_path_to_error`).
#[derive(Debug)]
pub(crate) struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

impl From<PyErr> for DeError {
    fn from(err: PyErr) -> Self {
        DeError(err.to_string())
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

struct Depythonizer<'a, 'py> {
    input: &'a Bound<'py, PyAny>,
}

impl Depythonizer<'_, '_> {
    /// `datetime.date`/`datetime.datetime` as ISO text, `decimal.Decimal` as its text; None otherwise.
    fn as_json_string(&self) -> Result<Option<String>, DeError> {
        let py = self.input.py();
        if self.input.is_instance(DATE.import(py, "datetime", "date")?)? {
            Ok(Some(self.input.call_method0("isoformat")?.extract()?))
        } else if self.input.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
            Ok(Some(self.input.str()?.to_cow()?.into_owned()))
        } else {
            Ok(None)
        }
    }
}

/// Every integer width reads as `deserialize_i64` does; the visitor checks the range, as with JSON.
macro_rules! forward_to_i64 {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_i64(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Depythonizer<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let obj = self.input;
        if let Some(text) = as_str(obj) {
            return visitor.visit_str(text.to_str()?);
        }
        if let Some(dict) = as_dict(obj) {
            return visitor.visit_map(MapAccess { items: dict.iter(), value: None });
        }
        if obj.is_none() {
            return visitor.visit_unit();
        }
        // bool before int: True is an int in Python, not in JSON.
        if let Ok(flag) = obj.cast::<PyBool>() {
            return visitor.visit_bool(flag.is_true());
        }
        if let Ok(int) = obj.cast::<PyInt>() {
            return visit_int(int, visitor);
        }
        if let Some(value) = as_seq(obj) {
            return visit_seq(value, visitor);
        }
        if let Ok(float) = obj.cast::<PyFloat>() {
            return visitor.visit_f64(float.value());
        }
        match self.as_json_string()? {
            Some(text) => visitor.visit_string(text),
            None => Err(DeError(format!("unsupported value of type {}: expected JSON-like data", type_name(obj)))),
        }
    }

    /// Only text is a string, as in serde_json: a visitor that would also take a number (rust_decimal's)
    /// must not see a float where the form wants a decimal string.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(text) = as_str(self.input) {
            return visitor.visit_str(text.to_str()?);
        }
        match self.as_json_string()? {
            Some(text) => visitor.visit_string(text),
            None => Err(de::Error::invalid_type(unexpected(self.input), &visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    // The hints below go straight to the type the form wants when the value is of it, and otherwise to
    // `deserialize_any`, so what is accepted and every error stay exactly `deserialize_any`'s (a Python
    // value is of at most one of these types: checking the wanted one first changes no answer).

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match as_dict(self.input) {
            Some(dict) => visitor.visit_map(MapAccess { items: dict.iter(), value: None }),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match as_seq(self.input) {
            Some(value) => visit_seq(value, visitor),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.input.cast_exact::<PyBool>() {
            Ok(flag) => visitor.visit_bool(flag.is_true()),
            Err(_) => self.deserialize_any(visitor),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Exactly `int`: a bool (an int subclass) or another subclass goes the long way, as before.
        match self.input.cast_exact::<PyInt>() {
            Ok(int) => visit_int(int, visitor),
            Err(_) => self.deserialize_any(visitor),
        }
    }

    forward_to_i64! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.input.is_none() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    /// Unit variants are strings (`"medicare_ffs"`), as in JSON.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match as_str(self.input) {
            Some(text) => visitor.visit_enum(text.to_str()?.into_deserializer()),
            None => Err(de::Error::invalid_type(unexpected(self.input), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char bytes byte_buf unit unit_struct identifier ignored_any
    }
}

// Exact-type checks first: a pointer comparison, where the subclass check reads the type's flags; a
// subclass still passes the second check, as before.

fn as_str<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyString>> {
    obj.cast_exact::<PyString>().or_else(|_| obj.cast::<PyString>()).ok()
}

fn as_dict<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyDict>> {
    obj.cast_exact::<PyDict>().or_else(|_| obj.cast::<PyDict>()).ok()
}

/// A list or tuple: JSON's array.
enum Seq<'a, 'py> {
    List(&'a Bound<'py, PyList>),
    Tuple(&'a Bound<'py, PyTuple>),
}

fn as_seq<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> Option<Seq<'a, 'py>> {
    if let Ok(list) = obj.cast_exact::<PyList>().or_else(|_| obj.cast::<PyList>()) {
        Some(Seq::List(list))
    } else {
        obj.cast::<PyTuple>().ok().map(Seq::Tuple)
    }
}

/// The items straight from the list or tuple, one at a time (no `Vec` of them per list). Items left
/// unread (a struct given as a longer list) are refused, as JSON's reader refuses them: nothing is
/// dropped unread.
fn visit_seq<'de, V: Visitor<'de>>(value: Seq<'_, '_>, visitor: V) -> Result<V::Value, DeError> {
    fn all_read<'de, 'py, V: Visitor<'de>>(
        items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut access = SeqAccess { items };
        let value = visitor.visit_seq(&mut access)?;
        match access.items.len() {
            0 => Ok(value),
            left => Err(DeError(format!("{left} more item(s) in the list than there are fields to read"))),
        }
    }
    match value {
        Seq::List(list) => all_read(list.iter(), visitor),
        Seq::Tuple(tuple) => all_read(tuple.iter(), visitor),
    }
}

fn visit_int<'de, V: Visitor<'de>>(int: &Bound<'_, PyInt>, visitor: V) -> Result<V::Value, DeError> {
    match int.extract::<i64>() {
        Ok(i) => visitor.visit_i64(i),
        Err(_) => match int.extract::<u64>() {
            Ok(u) => visitor.visit_u64(u),
            Err(_) => Err(DeError(format!("integer {int} is out of range"))),
        },
    }
}

/// What a value was, for an "invalid type" message (serde_json's words).
fn unexpected<'a>(value: &Bound<'_, PyAny>) -> de::Unexpected<'a> {
    if value.is_none() {
        de::Unexpected::Unit
    } else if let Ok(flag) = value.cast::<PyBool>() {
        de::Unexpected::Bool(flag.is_true())
    } else if let Ok(int) = value.cast::<PyInt>() {
        match int.extract::<i64>() {
            Ok(i) => de::Unexpected::Signed(i),
            Err(_) => de::Unexpected::Other("integer"),
        }
    } else if let Ok(float) = value.cast::<PyFloat>() {
        de::Unexpected::Float(float.value())
    } else if value.cast::<PyDict>().is_ok() {
        de::Unexpected::Map
    } else if value.cast::<PyList>().is_ok() || value.cast::<PyTuple>().is_ok() {
        de::Unexpected::Seq
    } else {
        de::Unexpected::Other("a non-string value")
    }
}

struct MapAccess<'py> {
    items: pyo3::types::iter::BoundDictIterator<'py>,
    value: Option<Bound<'py, PyAny>>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.items.next() else { return Ok(None) };
        self.value = Some(value);
        let key =
            as_str(&key).ok_or_else(|| DeError(format!("keys must be strings, got {}", type_name(&key))))?.to_str()?;
        seed.deserialize(de::value::StrDeserializer::<DeError>::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(value) => seed.deserialize(Depythonizer { input: &value }),
            None => Err(DeError("a value was asked for before its key".to_owned())),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct SeqAccess<I> {
    items: I,
}

impl<'de, 'py, I: ExactSizeIterator<Item = Bound<'py, PyAny>>> de::SeqAccess<'de> for SeqAccess<I> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        match self.items.next() {
            Some(item) => seed.deserialize(Depythonizer { input: &item }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: de::DeserializeOwned>(code: &std::ffi::CStr) -> Result<T, CoreError> {
        Python::attach(|py| {
            let value = py.eval(code, None, None).map_err(|e| CoreError::internal(e.to_string()))?;
            from_py(&value)
        })
    }

    #[test]
    fn reads_json_like_data() {
        Python::initialize();
        let value: serde_json::Value = read(c"{'a': [1, 2.5, True, None, 'x'], 'b': (3,)}").unwrap_or_default();
        assert_eq!(value, serde_json::json!({"a": [1, 2.5, true, null, "x"], "b": [3]}));
    }

    #[test]
    fn errors_name_the_field() {
        Python::initialize();
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Line {
            quantity: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            lines: Vec<Line>,
        }
        let err = read::<Outer>(c"{'lines': [{'quantity': '1'}, {'quantity': 1.5}]}").err();
        let err = err.as_ref().map(|e| (e.field().unwrap_or_default(), e.message()));
        assert_eq!(err, Some(("lines[1].quantity", "invalid type: floating point `1.5`, expected a string")));
        let ok = read::<Outer>(c"{'lines': [{'quantity': __import__('decimal').Decimal('90')}]}");
        assert_eq!(ok.map(|o| o.lines[0].quantity.clone()).ok().as_deref(), Some("90"));
    }

    #[test]
    fn a_decimal_string_is_never_a_float() {
        Python::initialize();
        #[derive(Debug, serde::Deserialize)]
        struct Money {
            #[serde(with = "rust_decimal::serde::str")]
            amount: rust_decimal::Decimal,
        }
        let err = read::<Money>(c"{'amount': 60.5}").err();
        assert_eq!(err.as_ref().and_then(|e| e.field()), Some("amount"));
        let ok = read::<Money>(c"{'amount': '60.50'}").map(|m| m.amount.to_string());
        assert_eq!(ok.ok().as_deref(), Some("60.50"));
    }
}
