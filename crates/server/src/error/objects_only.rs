//! A deserializer adapter that reads every struct of a request body only from a JSON object.
//!
//! Serde's derived `Deserialize` for a struct also accepts a sequence of its fields in
//! declaration order, so `["apt", "curl", "1.0"]` would read as a package. The API documents
//! objects only, and a positional form breaks silently when a field is added or reordered. The
//! adapter wraps every nested deserializer, visitor and access in turn, so one wrapper at the top
//! covers every struct at any depth, with no code in the structs themselves.
//!
//! NOTE: serde buffers the input of `#[serde(flatten)]` fields and of internally tagged and
//! untagged enums, and reads the buffer with its own deserializer, which this adapter does not
//! see. A struct inside such a buffer still accepts an array. No request body uses them today.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

/// Start of the "expected" text of the error for an array in place of a struct. The error
/// module's `describe_expected` reads the field names back from it.
pub(super) const OBJECT_WITH_FIELDS: &str = "an object with the fields ";

/// A deserializer whose structs, at any depth, accept a JSON object but not an array.
pub(super) struct ObjectsOnly<D>(pub(super) D);

/// Forwards `deserialize_*` methods that take only a visitor.
macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(AdaptedVisitor::new(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_unit_struct(name, AdaptedVisitor::new(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_newtype_struct(name, AdaptedVisitor::new(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, AdaptedVisitor::new(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, AdaptedVisitor::new(visitor))
    }

    /// Reads a struct from a map only. This is the one place where the adapter changes what
    /// the input may be, because its visitor rejects a sequence.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = AdaptedVisitor {
            inner: visitor,
            struct_fields: Some(fields),
        };
        self.0.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, AdaptedVisitor::new(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A seed that hands its value an [`ObjectsOnly`] deserializer.
struct AdaptedSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for AdaptedSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(deserializer))
    }
}

/// A visitor that adapts the nested deserializers and accesses it is given. With
/// `struct_fields` set it visits a struct and rejects a sequence.
struct AdaptedVisitor<V> {
    inner: V,
    struct_fields: Option<&'static [&'static str]>,
}

impl<V> AdaptedVisitor<V> {
    fn new(inner: V) -> Self {
        Self {
            inner,
            struct_fields: None,
        }
    }
}

/// Expectation of a struct that met an array, printed as "an object with the fields `a`, `b`".
struct ObjectWithFields(&'static [&'static str]);

impl Expected for ObjectWithFields {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(OBJECT_WITH_FIELDS)?;
        for (index, field) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str(", ")?;
            }
            write!(formatter, "`{field}`")?;
        }
        Ok(())
    }
}

/// Forwards `visit_*` methods that take one plain value.
macro_rules! forward_visit {
    ($($method:ident($type:ty))*) => {$(
        fn $method<E: de::Error>(self, value: $type) -> Result<V::Value, E> {
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for AdaptedVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool)
        visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(ObjectsOnly(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(ObjectsOnly(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if let Some(fields) = self.struct_fields {
            return Err(de::Error::invalid_type(
                Unexpected::Seq,
                &ObjectWithFields(fields),
            ));
        }
        self.inner.visit_seq(AdaptedSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(AdaptedMap(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(AdaptedEnum(data))
    }
}

struct AdaptedSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for AdaptedSeq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(AdaptedSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct AdaptedMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for AdaptedMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(AdaptedSeed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(AdaptedSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct AdaptedEnum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for AdaptedEnum<A> {
    type Error = A::Error;
    type Variant = AdaptedVariant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(AdaptedSeed(seed))?;
        Ok((value, AdaptedVariant(variant)))
    }
}

struct AdaptedVariant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for AdaptedVariant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(AdaptedSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, AdaptedVisitor::new(visitor))
    }

    /// Reads a struct variant, which rejects a sequence as a struct does.
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = AdaptedVisitor {
            inner: visitor,
            struct_fields: Some(fields),
        };
        self.0.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Package {
        manager: String,
        name: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        packages: Vec<Package>,
        first: Option<Package>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Choice {
        Pair { left: u8, right: u8 },
    }

    fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        T::deserialize(ObjectsOnly(&mut deserializer))
    }

    #[test]
    fn objects_still_parse() {
        let body: Body = parse(
            r#"{"packages": [{"manager": "apt", "name": "curl"}], "first": {"manager": "dnf", "name": "vim"}}"#,
        )
        .unwrap();
        assert_eq!(body.packages.len(), 1);
        assert_eq!(body.first.unwrap().name, "vim");
    }

    #[test]
    fn array_for_nested_struct_rejected() {
        let error = parse::<Body>(r#"{"packages": [["apt", "curl"]], "first": null}"#).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(
                "invalid type: sequence, expected an object with the fields `manager`, `name`"
            ),
            "{message}"
        );
    }

    #[test]
    fn array_inside_option_rejected() {
        let error = parse::<Body>(r#"{"packages": [], "first": ["apt", "curl"]}"#).unwrap_err();
        assert!(error.to_string().contains("sequence"), "{error}");
    }

    #[test]
    fn array_for_struct_variant_rejected() {
        assert_eq!(
            parse::<Choice>(r#"{"Pair": {"left": 1, "right": 2}}"#).unwrap(),
            Choice::Pair { left: 1, right: 2 }
        );
        let error = parse::<Choice>(r#"{"Pair": [1, 2]}"#).unwrap_err();
        assert!(error.to_string().contains("`left`, `right`"), "{error}");
    }
}
