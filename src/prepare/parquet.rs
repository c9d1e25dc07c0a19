//! `ledger.parquet` and `yield.parquet` beside their CSV: a full dump's
//! ledger has millions of rows, which a columnar file reads (and
//! `prepare merge` aggregates) without parsing text.
//!
//! The columns come from the row type's `Serialize` impl, the same one the
//! CSV writer uses, so a field added to [`super::output::LedgerRow`] appears
//! in both files with the same name and place: no column list to keep in
//! step. Each field maps to a typed column (`u64` → UInt64, `String` →
//! String, …); the schema is read off `T::default()`, so an empty table
//! still has its columns.
//!
//! Rows are buffered per column and flushed as a row group every
//! [`GROUP_ROWS`] rows, so writing a dump's ledger holds one row group, not
//! the ledger.

use std::fs::File;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::{
    BatchedWriter, Column, DataFrame, ParquetCompression, ParquetReader, ParquetWriter, SerReader,
};
use serde::ser::{Impossible, SerializeStruct};
use serde::{Serialize, Serializer};

use super::output::{persist_synced, temp_file_beside};

/// Rows per row group.
pub const GROUP_ROWS: usize = 65_536;

/// One column being filled, typed by the field's Rust type.
#[derive(Debug)]
enum Builder {
    Str(Vec<String>),
    U64(Vec<u64>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
}

impl Builder {
    fn empty_like(cell: &Cell) -> Self {
        match cell {
            Cell::Str(_) => Builder::Str(Vec::new()),
            Cell::U64(_) => Builder::U64(Vec::new()),
            Cell::U32(_) => Builder::U32(Vec::new()),
            Cell::I64(_) => Builder::I64(Vec::new()),
            Cell::F64(_) => Builder::F64(Vec::new()),
            Cell::Bool(_) => Builder::Bool(Vec::new()),
        }
    }

    /// `false` when the cell's type is not the column's.
    fn push(&mut self, cell: Cell) -> bool {
        match (self, cell) {
            (Builder::Str(v), Cell::Str(x)) => v.push(x),
            (Builder::U64(v), Cell::U64(x)) => v.push(x),
            (Builder::U32(v), Cell::U32(x)) => v.push(x),
            (Builder::I64(v), Cell::I64(x)) => v.push(x),
            (Builder::F64(v), Cell::F64(x)) => v.push(x),
            (Builder::Bool(v), Cell::Bool(x)) => v.push(x),
            _ => return false,
        }
        true
    }

    fn take_column(&mut self, name: &str) -> Column {
        let name = name.into();
        match self {
            Builder::Str(v) => Column::new(name, std::mem::take(v)),
            Builder::U64(v) => Column::new(name, std::mem::take(v)),
            Builder::U32(v) => Column::new(name, std::mem::take(v)),
            Builder::I64(v) => Column::new(name, std::mem::take(v)),
            Builder::F64(v) => Column::new(name, std::mem::take(v)),
            Builder::Bool(v) => Column::new(name, std::mem::take(v)),
        }
    }
}

/// Column names and builders, in the row type's field order.
struct Columns {
    names: Vec<&'static str>,
    builders: Vec<Builder>,
    rows: usize,
}

impl Columns {
    /// The columns of `T`, read off `T::default()`.
    fn of<T: Serialize + Default>() -> Result<Self> {
        let mut columns = Columns { names: Vec::new(), builders: Vec::new(), rows: 0 };
        T::default().serialize(RowSink { columns: &mut columns, probe: true, field: 0 })?;
        Ok(columns)
    }

    fn push<T: Serialize>(&mut self, row: &T) -> Result<()> {
        row.serialize(RowSink { columns: self, probe: false, field: 0 })?;
        self.rows += 1;
        Ok(())
    }

    fn take_frame(&mut self) -> Result<DataFrame> {
        let height = std::mem::take(&mut self.rows);
        let columns =
            self.names.iter().zip(&mut self.builders).map(|(name, b)| b.take_column(name)).collect();
        Ok(DataFrame::new(height, columns)?)
    }
}

/// A table written row by row to `path` as Parquet (zstd), renamed into
/// place on [`ParquetTable::commit`] like every other output.
pub struct ParquetTable<T> {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    writer: BatchedWriter<File>,
    columns: Columns,
    row: PhantomData<fn(&T)>,
}

impl<T: Serialize + Default> ParquetTable<T> {
    pub fn create(path: &Path) -> Result<Self> {
        let mut columns = Columns::of::<T>()?;
        let schema = columns.take_frame()?.schema().clone();
        let tmp = temp_file_beside(path)?;
        let writer = ParquetWriter::new(tmp.reopen()?)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&schema)
            .with_context(|| format!("cannot start {}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), tmp, writer, columns, row: PhantomData })
    }

    pub fn push(&mut self, row: &T) -> Result<()> {
        self.columns.push(row).with_context(|| format!("cannot write a row of {}", self.path.display()))?;
        if self.columns.rows >= GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let frame = self.columns.take_frame()?;
        self.writer.write_batch(&frame).with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes the last row group and the footer, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        if self.columns.rows > 0 {
            self.flush()?;
        }
        self.writer.finish().with_context(|| format!("cannot finish {}", self.path.display()))?;
        drop(self.writer);
        persist_synced(self.tmp, &self.path)
    }
}

/// Writes `rows` to `path` in one go (small tables such as the yield table).
pub fn write_parquet_rows<T: Serialize + Default>(path: &Path, rows: &[T]) -> Result<()> {
    let mut table = ParquetTable::create(path)?;
    for row in rows {
        table.push(row)?;
    }
    table.commit()
}

/// Reads a whole Parquet file (tests, small tables), naming the file on failure.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ParquetReader::new(file)
        .finish()
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))
}

/// One field's value.
#[derive(Debug)]
enum Cell {
    Str(String),
    U64(u64),
    U32(u32),
    I64(i64),
    F64(f64),
    Bool(bool),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RowError(String);

impl serde::ser::Error for RowError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        RowError(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, RowError> {
    Err(RowError(format!(
        "a Parquet table row must be a struct of strings, numbers and booleans, not {what}"
    )))
}

/// Serializes one row (a struct) into the columns; `probe` creates them.
struct RowSink<'a> {
    columns: &'a mut Columns,
    probe: bool,
    field: usize,
}

impl SerializeStruct for RowSink<'_> {
    type Ok = ();
    type Error = RowError;

    fn serialize_field<V: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), RowError> {
        let cell = value.serialize(CellSink).map_err(|e| RowError(format!("field {key}: {e}")))?;
        if self.probe {
            self.columns.names.push(key);
            self.columns.builders.push(Builder::empty_like(&cell));
        } else {
            let builder = self
                .columns
                .builders
                .get_mut(self.field)
                .ok_or_else(|| RowError(format!("field {key} is not a column")))?;
            if !builder.push(cell) {
                return Err(RowError(format!("field {key} changed type between rows")));
            }
        }
        self.field += 1;
        Ok(())
    }

    fn end(self) -> Result<(), RowError> {
        if !self.probe && self.field != self.columns.builders.len() {
            return Err(RowError("a row has fewer fields than the table has columns".into()));
        }
        Ok(())
    }
}

/// Rejects every serde shape but the ones listed before it.
macro_rules! reject {
    ($($method:ident($($arg:ty),*) -> $ok:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, RowError> {
            unsupported(stringify!($method))
        })*
    };
}

impl<'a> Serializer for RowSink<'a> {
    type Ok = ();
    type Error = RowError;
    type SerializeSeq = Impossible<(), RowError>;
    type SerializeTuple = Impossible<(), RowError>;
    type SerializeTupleStruct = Impossible<(), RowError>;
    type SerializeTupleVariant = Impossible<(), RowError>;
    type SerializeMap = Impossible<(), RowError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), RowError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, RowError> {
        Ok(self)
    }

    fn serialize_some<V: ?Sized + Serialize>(self, _: &V) -> Result<(), RowError> {
        unsupported("an option")
    }

    fn serialize_newtype_struct<V: ?Sized + Serialize>(self, _: &'static str, _: &V) -> Result<(), RowError> {
        unsupported("a newtype")
    }

    fn serialize_newtype_variant<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<(), RowError> {
        unsupported("an enum")
    }

    reject! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// Serializes one field's value into a [`Cell`].
struct CellSink;

impl Serializer for CellSink {
    type Ok = Cell;
    type Error = RowError;
    type SerializeSeq = Impossible<Cell, RowError>;
    type SerializeTuple = Impossible<Cell, RowError>;
    type SerializeTupleStruct = Impossible<Cell, RowError>;
    type SerializeTupleVariant = Impossible<Cell, RowError>;
    type SerializeMap = Impossible<Cell, RowError>;
    type SerializeStruct = Impossible<Cell, RowError>;
    type SerializeStructVariant = Impossible<Cell, RowError>;

    fn serialize_bool(self, v: bool) -> Result<Cell, RowError> {
        Ok(Cell::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Cell, RowError> {
        Ok(Cell::I64(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Cell, RowError> {
        Ok(Cell::I64(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Cell, RowError> {
        Ok(Cell::I64(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Cell, RowError> {
        Ok(Cell::I64(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Cell, RowError> {
        Ok(Cell::U32(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Cell, RowError> {
        Ok(Cell::U32(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Cell, RowError> {
        Ok(Cell::U32(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Cell, RowError> {
        Ok(Cell::U64(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Cell, RowError> {
        Ok(Cell::F64(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Cell, RowError> {
        Ok(Cell::F64(v))
    }
    fn serialize_char(self, v: char) -> Result<Cell, RowError> {
        Ok(Cell::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Cell, RowError> {
        Ok(Cell::Str(v.to_string()))
    }
    /// A unit enum variant is written as its (serde-renamed) name, as in the CSV.
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Cell, RowError> {
        Ok(Cell::Str(variant.to_string()))
    }
    fn serialize_some<V: ?Sized + Serialize>(self, _: &V) -> Result<Cell, RowError> {
        unsupported("an option")
    }
    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        v: &V,
    ) -> Result<Cell, RowError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<Cell, RowError> {
        unsupported("an enum with data")
    }

    reject! {
        serialize_bytes(&[u8]) -> Cell;
        serialize_none() -> Cell;
        serialize_unit() -> Cell;
        serialize_unit_struct(&'static str) -> Cell;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::DataType;

    #[derive(Debug, Default, Serialize)]
    struct Row {
        name: String,
        count: u64,
        small: u32,
        delta: i64,
        share: f64,
        flag: bool,
    }

    #[derive(Debug, Default, Serialize)]
    struct Nested {
        inner: Option<u64>,
    }

    fn row(k: u64) -> Row {
        Row {
            name: format!("r{k}"),
            count: k,
            small: k as u32 * 2,
            delta: -(k as i64),
            share: k as f64 / 4.0,
            flag: k.is_multiple_of(2),
        }
    }

    #[test]
    fn columns_follow_the_fields_with_their_types_across_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let n = GROUP_ROWS as u64 + 3;
        let mut table = ParquetTable::<Row>::create(&path).unwrap();
        for k in 0..n {
            table.push(&row(k)).unwrap();
        }
        table.commit().unwrap();
        let df = read_parquet(&path).unwrap();
        let schema: Vec<(String, DataType)> =
            df.schema().iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        let want = [
            ("name", DataType::String),
            ("count", DataType::UInt64),
            ("small", DataType::UInt32),
            ("delta", DataType::Int64),
            ("share", DataType::Float64),
            ("flag", DataType::Boolean),
        ];
        assert_eq!(schema, want.map(|(n, t)| (n.to_string(), t)).to_vec());
        assert_eq!(df.height() as u64, n);
        let last = n - 1;
        assert_eq!(
            df.column("name").unwrap().str().unwrap().get(last as usize),
            Some(format!("r{last}").as_str())
        );
        assert_eq!(df.column("delta").unwrap().i64().unwrap().get(last as usize), Some(-(last as i64)));
        assert_eq!(df.column("count").unwrap().u64().unwrap().iter().flatten().sum::<u64>(), n * (n - 1) / 2);
    }

    #[test]
    fn an_empty_table_keeps_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.parquet");
        write_parquet_rows::<Row>(&path, &[]).unwrap();
        let df = read_parquet(&path).unwrap();
        assert_eq!(df.height(), 0);
        assert_eq!(df.width(), 6);
    }

    #[test]
    fn rows_that_are_not_flat_structs_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = ParquetTable::<Nested>::create(&dir.path().join("n.parquet")).err().unwrap();
        let err = format!("{err:#}");
        assert!(err.contains("field inner: a Parquet table row must be a struct of strings"), "{err}");
        assert!(!dir.path().join("n.parquet").exists());
    }
}
