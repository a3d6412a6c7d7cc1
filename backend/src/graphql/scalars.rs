//! Custom scalars of the contract: `Bytes` (a whole number of bytes as a JSON number).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// A whole number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub i64);

#[Scalar(name = "Bytes")]
impl ScalarType for Bytes {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n.as_i64().filter(|v| *v >= 0).map(Bytes).ok_or_else(|| {
                InputValueError::custom("Bytes must be a whole, non-negative number")
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}
