//! A small typed table that renders to CSV (for tools) and Markdown (for GitHub).

use std::path::Path;

use anyhow::Result;

use crate::io::write_atomic;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    /// Not measured (a run that did not produce this value).
    Missing,
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Missing => String::new(),
        }
    }

    fn markdown(&self) -> String {
        match self {
            Cell::Text(t) => t.replace('|', "\\|"),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format_float(*f),
            Cell::Missing => "–".into(),
        }
    }
}

/// A number as the Markdown tables show it: whole numbers without decimals, two decimals
/// from 10, four below.
pub fn format_float(f: f64) -> String {
    if f.abs() >= 1000.0 || (f.fract() == 0.0 && f.abs() < 1e15) {
        format!("{f:.0}")
    } else if f.abs() >= 10.0 {
        format!("{f:.2}")
    } else {
        format!("{f:.4}")
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Cell::Missing, Cell::Float)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Self {
        Table { columns: columns.iter().map(|c| c.to_string()).collect(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width");
        self.rows.push(row);
    }

    pub fn to_csv(&self) -> Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&self.columns)?;
        for row in &self.rows {
            writer.write_record(row.iter().map(Cell::csv))?;
        }
        Ok(String::from_utf8(writer.into_inner()?)?)
    }

    pub fn to_markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.columns.join(" | "));
        out.push_str(&format!("|{}\n", "---|".repeat(self.columns.len())));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Cell::markdown).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// Writes `dir/name.csv` and `dir/name.md`.
    pub fn save(&self, dir: &Path, name: &str) -> Result<()> {
        write_atomic(&dir.join(format!("{name}.csv")), self.to_csv()?.as_bytes())?;
        write_atomic(&dir.join(format!("{name}.md")), self.to_markdown().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_csv_and_markdown() {
        let mut t = Table::new(&["run", "tokens", "loss"]);
        t.push(vec!["Y01".into(), Cell::Int(12), Cell::Float(1.23456)]);
        t.push(vec!["a|b".into(), Cell::Missing, Cell::Float(12345.6)]);
        t.push(vec!["count".into(), Cell::Float(40.0), Cell::Float(0.5)]);
        assert_eq!(t.to_csv().unwrap(), "run,tokens,loss\nY01,12,1.23456\na|b,,12345.6\ncount,40,0.5\n");
        let md = t.to_markdown();
        assert!(md.starts_with("| run | tokens | loss |\n|---|---|---|\n"));
        assert!(md.contains("| Y01 | 12 | 1.2346 |"));
        assert!(md.contains("| a\\|b | – | 12346 |"));
        assert!(md.contains("| count | 40 | 0.5000 |"), "whole numbers print as integers");
    }
}
