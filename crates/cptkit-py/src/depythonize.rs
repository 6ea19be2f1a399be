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

use cptkit_core::{Error as CoreError, ErrorKind};
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
    serde_path_to_error::deserialize(Depythonizer { input: value }).map_err(|e| {
        let field = e.path().to_string();
        let err = CoreError::new(ErrorKind::InvalidInput, e.into_inner().0);
        if field == "." { err } else { err.at(field) }
    })
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

impl<'de> de::Deserializer<'de> for Depythonizer<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let obj = self.input;
        if let Ok(text) = obj.cast::<PyString>() {
            return visitor.visit_str(text.to_str()?);
        }
        if let Ok(dict) = obj.cast::<PyDict>() {
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
            return match int.extract::<i64>() {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => match int.extract::<u64>() {
                    Ok(u) => visitor.visit_u64(u),
                    Err(_) => Err(DeError(format!("integer {int} is out of range"))),
                },
            };
        }
        if let Ok(list) = obj.cast::<PyList>() {
            return visitor.visit_seq(SeqAccess { items: list.iter().collect::<Vec<_>>().into_iter() });
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            return visitor.visit_seq(SeqAccess { items: tuple.iter().collect::<Vec<_>>().into_iter() });
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
        if let Ok(text) = self.input.cast::<PyString>() {
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
        match self.input.cast::<PyString>() {
            Ok(text) => visitor.visit_enum(text.to_str()?.into_deserializer()),
            Err(_) => Err(de::Error::invalid_type(unexpected(self.input), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct seq
        tuple tuple_struct map struct identifier ignored_any
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
        let key = key
            .cast::<PyString>()
            .map_err(|_| DeError(format!("keys must be strings, got {}", type_name(&key))))?
            .to_str()?;
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

struct SeqAccess<'py> {
    items: std::vec::IntoIter<Bound<'py, PyAny>>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
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
