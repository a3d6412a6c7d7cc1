//! With the `db` feature (the server only): the status and kind enums as database columns. Each is stored as its wire
//! name in a text column and read back strictly: an unknown word is a read error naming the column's type and
//! the word, never a silent fallback.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable};

use crate::{Health, HostStatus, InstanceStatus, RegistryKind, RegistryStatus};

macro_rules! text_column {
    ($($name:ident),+ $(,)?) => {$(
        impl From<$name> for Value {
            fn from(value: $name) -> Value {
                Value::String(Some(value.as_str().to_owned()))
            }
        }

        impl Nullable for $name {
            fn null() -> Value {
                Value::String(None)
            }
        }

        impl ValueType for $name {
            fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
                match value {
                    Value::String(Some(word)) => word.parse().map_err(|_| ValueTypeErr),
                    _ => Err(ValueTypeErr),
                }
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> ArrayType {
                ArrayType::String
            }

            fn column_type() -> ColumnType {
                ColumnType::Text
            }
        }

        impl TryGetable for $name {
            fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
                let word = String::try_get_by(res, index)?;
                word.parse().map_err(|_| {
                    TryGetError::DbErr(DbErr::Type(format!(
                        concat!("stored ", stringify!($name), " \"{}\" is not one Berth knows"),
                        word
                    )))
                })
            }
        }
    )+};
}

text_column!(
    InstanceStatus,
    HostStatus,
    Health,
    RegistryKind,
    RegistryStatus
);
